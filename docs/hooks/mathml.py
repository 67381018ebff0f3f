"""mkdocs hook: the equations become MathML when the site is built.

``pymdownx.arithmatex`` (generic mode) leaves each equation as TeX in
``<span class="arithmatex">\\(...\\)</span>`` or ``<div class="arithmatex">\\[...\\]</div>``;
this hook converts it with latex2mathml (the ``docs`` extra) into MathML, which browsers
draw natively (MathML Core: Chromium 109+, Firefox, Safari), so the pages need no script
and no network when read.  The TeX stays in the MathML as its annotation
(``application/x-tex``).  An equation latex2mathml cannot convert, or converts leaving a
TeX command as text, fails the build with the page and the equation.

Two rewrites before conversion, for what latex2mathml 3.x gets wrong:
``aligned`` becomes ``align*`` (the same alignment; latex2mathml writes ``aligned``'s
``&`` as text and its line breaks as ``mspace linebreak``, which MathML Core ignores), and
``\\mathrm{X}`` of one character becomes ``\\text{X}`` (latex2mathml leaves it italic).
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert
from mkdocs.exceptions import PluginError

_MATH = re.compile(r'<(span|div) class="arithmatex">(.*?)</\1>', re.S)
_DELIMITERS = {"span": ("\\(", "\\)"), "div": ("\\[", "\\]")}
_LEFT_AS_TEXT = re.compile(r">[^<]*\\[A-Za-z]+[^<]*<")


def tex_to_mathml(tex: str, display: str) -> str:
    """MathML (``display`` "inline" or "block") of one TeX equation, TeX kept as annotation."""
    src = tex.replace("\\begin{aligned}", "\\begin{align*}")
    src = src.replace("\\end{aligned}", "\\end{align*}")
    src = re.sub(r"\\mathrm\{(\w)\}", r"\\text{\1}", src)
    out = convert(src, display=display)
    left = _LEFT_AS_TEXT.findall(out)
    if left or "<merror" in out or ">&<" in out:
        raise ValueError(f"latex2mathml left TeX in its output: {left[:3]}")
    head, _, rest = out.partition(">")
    body = rest[: -len("</math>")]
    note = html.escape(tex, quote=False)
    return (f'{head}><semantics>{body}<annotation encoding="application/x-tex">{note}'
            f"</annotation></semantics></math>")


def on_page_content(html_text: str, page, **kwargs) -> str:
    def sub(m: re.Match) -> str:
        tag, body = m.group(1), html.unescape(m.group(2)).strip()
        lo, hi = _DELIMITERS[tag]
        if not (body.startswith(lo) and body.endswith(hi)):
            raise PluginError(f"{page.file.src_uri}: an equation without its {lo} {hi} "
                              f"delimiters: {body[:80]!r}")
        tex = body[len(lo):-len(hi)].strip()
        try:
            mathml = tex_to_mathml(tex, "block" if tag == "div" else "inline")
        except Exception as err:
            raise PluginError(f"{page.file.src_uri}: equation {tex[:80]!r} cannot be rendered "
                              f"as MathML ({type(err).__name__}: {err}); simplify its TeX "
                              f"to what latex2mathml supports.") from err
        return f'<{tag} class="arithmatex">{mathml}</{tag}>'

    return _MATH.sub(sub, html_text)
