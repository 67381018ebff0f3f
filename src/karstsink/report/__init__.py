"""One self-contained HTML report: summary, sections with text, tables and figures, provenance.

The file needs nothing else to be read: figures are embedded as base64 PNG
``data:`` URIs, the style sheet is inline, there is no JavaScript, and a
Content-Security-Policy forbids the browser from loading anything from
elsewhere. It can be mailed, archived next to the CSV/GeoTIFF outputs, or
opened offline.

Examples
--------
>>> import pandas as pd
>>> from karstsink.report import Section, render_report
>>> html = render_report(
...     title="Demo",
...     sections=[Section("Totals", "The **karst** sink.",
...                       tables=[pd.DataFrame({"karst_sink_t_c_yr": [1.5e6]})])],
...     assumptions={"carbonic-acid share": "0.5"},
...     provenance={"database": "phreeqc.dat"},
... )
>>> html.startswith("<!DOCTYPE html>")
True
"""

from __future__ import annotations

import base64
import datetime as _dt
import html as _html
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import DataError, DataQualityWarning
from ..io.atomic import atomic_path
from ._tables import (
    PRINT_COLUMNS,
    column_label,
    format_mass,
    format_value,
    table_html,
    unit_label,
)

__all__ = [
    "PRINT_COLUMNS", "Figure", "Section", "Table", "column_label", "format_mass",
    "format_value", "markdown_lite", "render_report", "unit_label", "write_report",
]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Table:
    """A table for a report section.

    Attributes
    ----------
    data : pandas.DataFrame
        The table. Column names should carry their units (``flux_kg_day``,
        ``karst_sink_t_c_yr``), as in every file karstsink writes.
    caption : str
        Caption shown above the table (markdown-lite).
    max_rows : int
        Longer tables show the first ``max_rows`` rows and say how many were
        left out (the full table belongs in a CSV beside the report).
    index : bool
        Show the DataFrame index as the first column.
    """

    data: pd.DataFrame
    caption: str = ""
    max_rows: int = 60
    index: bool = False


@dataclass
class Figure:
    """A PNG figure for a report section (embedded, so the report stands alone).

    Attributes
    ----------
    path : str or path-like
        PNG file to embed.
    caption : str
        Caption (markdown-lite); say what is shown and in which units.
    alt : str
        Text alternative for screen readers; defaults to the caption.
    """

    path: str | os.PathLike
    caption: str = ""
    alt: str = ""


@dataclass
class Section:
    """One section of a report.

    Attributes
    ----------
    title : str
        Section heading.
    text : str
        Body in "markdown-lite" (see :func:`markdown_lite`).
    tables : list of Table or pandas.DataFrame
        Tables shown after the text.
    figures : list of Figure or path
        PNG figures shown after the tables.
    """

    title: str
    text: str = ""
    tables: list[Table | pd.DataFrame] = field(default_factory=list)
    figures: list[Figure | str | os.PathLike] = field(default_factory=list)


# ---------------------------------------------------------------------------
# text
# ---------------------------------------------------------------------------

_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])"), r"<em>\1</em>"),
]


_BULLET = re.compile(r"^\s*[-*]\s+")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+")


def _inline(text: str) -> str:
    out = _html.escape(text, quote=False)
    # protect code spans from the emphasis rules
    codes: list[str] = []

    def keep(m: re.Match) -> str:
        codes.append(f"<code>{m.group(1)}</code>")
        return f"\x00{len(codes) - 1}\x00"

    out = _INLINE[0][0].sub(keep, out)
    for pattern, repl in _INLINE[1:]:
        out = pattern.sub(repl, out)
    return re.sub(r"\x00(\d+)\x00", lambda m: codes[int(m.group(1))], out)


def markdown_lite(text: str) -> str:
    """Convert a small, safe subset of Markdown to HTML.

    Supported: paragraphs (blank-line separated), ``### heading`` lines,
    bullet lists (``- item`` or ``* item``), numbered lists (``1. item``),
    ``**bold**``, ``*italic*`` and ```code```. Everything else is escaped and
    shown as typed; links are not made (the report makes no external
    references).

    Parameters
    ----------
    text : str
        Markdown-lite source.

    Returns
    -------
    str
        An HTML fragment.
    """
    blocks: list[str] = []
    for block in re.split(r"\n\s*\n", text.strip()):
        lines = [ln.rstrip() for ln in block.splitlines() if ln.strip()]
        if not lines:
            continue
        if all(_BULLET.match(ln) for ln in lines):
            items = "".join(f"<li>{_inline(_BULLET.sub('', ln))}</li>" for ln in lines)
            blocks.append(f"<ul>{items}</ul>")
        elif all(_NUMBERED.match(ln) for ln in lines):
            items = "".join(f"<li>{_inline(_NUMBERED.sub('', ln))}</li>" for ln in lines)
            blocks.append(f"<ol>{items}</ol>")
        elif len(lines) == 1 and lines[0].startswith("#"):
            blocks.append(f"<h4>{_inline(lines[0].lstrip('#').strip())}</h4>")
        else:
            blocks.append(f"<p>{' '.join(_inline(ln.strip()) for ln in lines)}</p>")
    return "\n".join(blocks)


# ---------------------------------------------------------------------------
# values and tables
# ---------------------------------------------------------------------------

def _table_html(item: Table | pd.DataFrame) -> str:
    table = item if isinstance(item, Table) else Table(item)
    if not isinstance(table.data, pd.DataFrame):
        raise DataError(f"A report table must be a pandas DataFrame, not {type(table.data)}.")
    df = table.data.reset_index() if table.index else table.data
    return table_html(df, table.max_rows, _inline(table.caption) if table.caption else "")


def _figure_html(item: Figure | str | os.PathLike) -> str:
    fig = item if isinstance(item, Figure) else Figure(item)
    path = Path(fig.path)
    try:
        data = path.read_bytes()
    except OSError as err:
        warnings.warn(f"Report figure {str(path)!r} could not be read ({err.strerror}); "
                      "it is left out.", DataQualityWarning, stacklevel=3)
        return f'<p class="note">Figure {_html.escape(path.name)} is missing.</p>'
    if not data.startswith(_PNG_MAGIC):
        warnings.warn(f"Report figure {str(path)!r} is not a PNG file; it is left out.",
                      DataQualityWarning, stacklevel=3)
        return f'<p class="note">Figure {_html.escape(path.name)} is not a PNG file.</p>'
    uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    alt = _html.escape(fig.alt or re.sub(r"[*`]", "", fig.caption) or path.stem, quote=True)
    caption = f"<figcaption>{_inline(fig.caption)}</figcaption>" if fig.caption else ""
    return f'<figure><img src="{uri}" alt="{alt}">{caption}</figure>'


def _kv_table(mapping: Mapping[str, Any], css: str) -> str:
    rows = "".join(
        f'<tr><th scope="row">{_html.escape(str(k))}</th><td>{format_value(v)}</td></tr>'
        for k, v in mapping.items()
    )
    return f'<table class="{css}"><tbody>{rows}</tbody></table>'


# ---------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------

def _css() -> str:
    """The report's style sheet (``karstsink/report/report.css``, screen and print)."""
    from importlib.resources import files

    return files("karstsink.report").joinpath("report.css").read_text(encoding="utf-8")


# The page may load nothing from anywhere: images only from data: URIs, styles inline.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_report(
    *,
    title: str,
    sections: Sequence[Section],
    assumptions: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
    synthetic: bool = False,
    generated: str | None = None,
    emission_source: str | None = None,
) -> str:
    """Build the report and return it as an HTML string (see :func:`write_report`)."""
    from .. import __version__

    if not isinstance(title, str) or not title.strip():
        raise DataError("A report needs a non-empty title.")
    for i, sec in enumerate(sections):
        if not isinstance(sec, Section):
            raise DataError(
                f"Report section {i + 1} is a {type(sec).__name__}; use karstsink.report.Section."
            )
    when = generated or _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    esc_title = _html.escape(title)
    banner = ('<div class="banner" role="alert">SYNTHETIC demo data: every number in this '
              "report comes from invented inputs and says nothing about a real place."
              "</div>") if synthetic else ""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f'<meta name="generator" content="karstsink {_html.escape(__version__)}">',
        f"<title>{esc_title}{' (SYNTHETIC demo data)' if synthetic else ''}</title>",
        f"<style>{_css()}</style>",
        "</head>",
        "<body>",
        banner,
        "<main>",
        f"<h1>{esc_title}</h1>",
        f'<p class="meta">Generated {_html.escape(when)} by karstsink '
        f"{_html.escape(__version__)}.</p>",
    ]
    if summary:
        parts.append('<section class="summary" aria-label="Summary"><h2>Summary</h2>'
                     f"{_kv_table(summary, 'kvsum')}</section>")
    toc = [(f"sec-{i + 1}", s.title) for i, s in enumerate(sections)]
    if assumptions:
        toc.append(("assumptions", "Assumptions"))
    if provenance:
        toc.append(("provenance", "Provenance"))
    if len(toc) > 1:
        items = "".join(f'<li><a href="#{a}">{_html.escape(t)}</a></li>' for a, t in toc)
        parts.append(f'<nav aria-label="Contents"><ol>{items}</ol></nav>')
    for i, sec in enumerate(sections):
        parts.append(f'<section id="sec-{i + 1}"><h2>{_html.escape(sec.title)}</h2>')
        if sec.text:
            parts.append(markdown_lite(sec.text))
        parts.extend(_table_html(t) for t in sec.tables)
        parts.extend(_figure_html(f) for f in sec.figures)
        parts.append("</section>")
    if assumptions:
        parts.append('<section id="assumptions"><h2>Assumptions</h2>'
                     f"{_kv_table(assumptions, 'kv')}</section>")
    if provenance:
        parts.append('<section id="provenance"><h2>Provenance</h2>'
                     '<p class="note">What produced these numbers: software versions, the '
                     "PHREEQC database and its SHA-256 checksum, and the inputs.</p>"
                     f"{_kv_table(provenance, 'kv')}"
                     f"{_cite_html(emission_source)}</section>")
    parts.append(f"<footer>{esc_title}: karstsink {_html.escape(__version__)}. Carbon masses "
                 "are given as t C or t CO<sub>2</sub> (1 t C = 3.664 t CO<sub>2</sub>)."
                 "</footer>")
    parts += ["</main>", "</body>", "</html>", ""]
    return "\n".join(p for p in parts if p)


#: What to cite when these numbers are published (the same list as the README's "Citing").
_CITE_HTML = (
    "<h3>What to cite</h3><ul>"
    "<li>karstsink, with the version in the footer: see its CITATION.cff (a software "
    "citation).</li>"
    "<li>PHREEQC (every speciation, saturation index and the map's equilibrium tables): "
    "Parkhurst D.L., Appelo C.A.J. (2013), U.S. Geological Survey Techniques and Methods "
    "6-A43, doi:10.3133/tm6A43; and the PHREEQC database named above, with its "
    "checksum.</li>"
    "<li>LOADEST (catchments with method loadest): Runkel R.L., Crawford C.G., Cohn T.A. "
    "(2004), U.S. Geological Survey Techniques and Methods 4-A5, doi:10.3133/tm4A5.</li>"
    "<li>EGRET / WRTDS (method wrtds and the trends): Hirsch R.M., De Cicco L.A. (2015), "
    "U.S. Geological Survey Techniques and Methods 4-A10, doi:10.3133/tm4A10; Hirsch R.M., "
    "Moyer D.L., Archfield S.A. (2010), JAWRA 46(5):857-880, "
    "doi:10.1111/j.1752-1688.2010.00482.x.</li>"
    "{emissions}<li>Every other method's source is in the documentation's references "
    "page.</li></ul>")


def _cite_html(emission_source: str | None) -> str:
    """What to cite, with the emission series the run balanced (none: not listed)."""
    item = ("" if not emission_source else
            f"<li>The emission series: {_html.escape(emission_source)}.</li>")
    return _CITE_HTML.replace("{emissions}", item)


def write_report(
    path: str | os.PathLike,
    *,
    title: str,
    sections: Sequence[Section],
    assumptions: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
    synthetic: bool = False,
    generated: str | None = None,
    emission_source: str | None = None,
) -> Path:
    """Write one self-contained HTML report, atomically.

    Parameters
    ----------
    path : str or path-like
        Output file (``report.html``). Written through a temporary file and
        renamed, so a failure leaves no partial report.
    title : str
        Report title.
    sections : sequence of Section
        The body, in order.
    assumptions : mapping, optional
        Assumptions of the run (name -> value), e.g. the carbonic-acid share
        0.5, the land-cover table used, the karst-area definition.
    provenance : mapping, optional
        What produced the numbers: karstsink and PHREEQC versions, database
        name and SHA-256, input files, command line.
    summary : mapping, optional
        Headline numbers for the summary box (label -> value; put units in
        the label, e.g. ``"karst sink [t CO2/yr]"``).
    synthetic : bool, default False
        Show the "SYNTHETIC demo data" banner and mark the title.
    generated : str, optional
        Time stamp to print (default: now, UTC). Fix it for reproducible files.
    emission_source : str, optional
        Where the balanced emission series comes from (the balance table's
        ``attrs["source"]``: :data:`karstsink.scenario.SOURCE` for the shipped
        scenarios), listed under "What to cite"; None: no series is cited.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    DataError
        If the title is empty or a section or table has the wrong type.

    Warns
    -----
    DataQualityWarning
        If a figure file is missing or not a PNG (a note replaces it).
    """
    text = render_report(title=title, sections=sections, assumptions=assumptions,
                         provenance=provenance, summary=summary, synthetic=synthetic,
                         generated=generated, emission_source=emission_source)
    dest = Path(path)
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return dest
