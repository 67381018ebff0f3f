"""The machinery of the data-quality rule book (private: use :mod:`karstsink.qa`).

:class:`Rule`, the registry :data:`RULES` and the functions that look codes up, join and
split ``qa_flags`` cells and render the documentation's table.  The rules themselves are
registered in :mod:`karstsink.qa`, which re-exports everything here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "COMPARISONS",
    "RULES",
    "SEVERITIES",
    "STAGES",
    "Rule",
    "add_flag",
    "is_fatal",
    "join",
    "markdown_table",
    "register",
    "rule",
    "split",
    "threshold",
]

#: Severities, most severe first.
SEVERITIES: tuple[str, ...] = ("fatal", "warn", "info")

#: Stages that write flags.
STAGES: tuple[str, ...] = ("samples", "speciation", "carbon", "discharge", "flux", "map")

#: How a threshold is compared with the value it judges (the rule fires when true).
COMPARISONS: tuple[str, ...] = (">", ">=", "<", "<=", "outside")

_CODE_RE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")

Threshold = float | tuple[float, float] | None


@dataclass(frozen=True)
class Rule:
    """One registered data-quality check.

    Parameters
    ----------
    code : str
        What lands in ``qa_flags`` (snake_case, without the ``:<key>`` suffix).
    severity : {"fatal", "warn", "info"}
        ``fatal``: the flagged value or row is not used; ``warn``: computed and
        flagged; ``info``: noted for the record, results not affected.
    description : str
        One sentence a user reads in the docs and the report.  In :func:`register`
        it may say ``{threshold}`` (or ``{low}`` and ``{high}`` for a range), filled
        from ``threshold`` so that the text cannot drift from the number.
    threshold : float or (float, float) or None
        The number the check compares with (a ``(low, high)`` pair for a range),
        in ``unit``; None for a check without a number.
    unit : str
        Unit (or meaning) of ``threshold``, e.g. ``"%"``, ``"mol/kgw"``, ``"°C"``.
    comparison : {">", ">=", "<", "<=", "outside"} or None
        When the rule fires: value ``>`` threshold, ..., or ``outside`` the range.
    stages : tuple of str
        Stages that write the code (see :data:`STAGES`).
    keyed : bool
        Whether the code takes a ``:<key>`` suffix naming a column.
    """

    code: str
    severity: str
    description: str
    threshold: Threshold = None
    unit: str = ""
    comparison: str | None = None
    stages: tuple[str, ...] = ()
    keyed: bool = False

    def __post_init__(self) -> None:
        if not _CODE_RE.match(self.code):
            raise ValueError(f"flag code {self.code!r} must be snake_case ('ph_out_of_range').")
        if self.severity not in SEVERITIES:
            raise ValueError(f"flag {self.code!r}: severity {self.severity!r} is not one of "
                             f"{', '.join(SEVERITIES)}.")
        bad = [s for s in self.stages if s not in STAGES]
        if not self.stages or bad:
            raise ValueError(f"flag {self.code!r}: stages {list(self.stages)!r} must be a "
                             f"non-empty subset of {', '.join(STAGES)}.")
        if not self.description.strip():
            raise ValueError(f"flag {self.code!r} needs a description.")
        if self.threshold is None:
            if self.comparison is not None:
                raise ValueError(f"flag {self.code!r}: a comparison needs a threshold.")
            return
        if self.comparison not in COMPARISONS:
            raise ValueError(f"flag {self.code!r}: threshold {self.threshold!r} needs a "
                             f"comparison, one of {', '.join(COMPARISONS)}.")
        if (self.comparison == "outside") != isinstance(self.threshold, tuple):
            raise ValueError(f"flag {self.code!r}: 'outside' takes a (low, high) threshold "
                             "and the other comparisons a single number.")

    @property
    def label(self) -> str:
        """The code as written in ``qa_flags``: ``not_numeric:<key>`` for a keyed code."""
        return f"{self.code}:<key>" if self.keyed else self.code


#: Every registered rule by code, in the order codes are written in ``qa_flags``.
RULES: dict[str, Rule] = {}


def register(
    code: str,
    severity: str,
    description: str,
    *,
    stages: Iterable[str],
    threshold: Threshold = None,
    unit: str = "",
    comparison: str | None = None,
    keyed: bool = False,
) -> Rule:
    """Register a data-quality rule; its position fixes the code's place in ``qa_flags``.

    Parameters
    ----------
    code, severity, description, threshold, unit, comparison, keyed
        See :class:`Rule`.
    stages : iterable of str
        Stages that write the code.

    Returns
    -------
    Rule
        The registered rule.

    Raises
    ------
    ValueError
        The code is already registered, or a field is invalid.
    """
    if code in RULES:
        raise ValueError(f"flag {code!r} is already registered; one code, one rule.")
    if isinstance(threshold, (list, tuple)):
        threshold = (float(threshold[0]), float(threshold[1]))
        description = description.format(low=f"{threshold[0]:g}", high=f"{threshold[1]:g}")
    elif threshold is not None:
        threshold = float(threshold)
        description = description.format(threshold=f"{threshold:g}")
    new = Rule(code, severity, description, threshold, unit, comparison, tuple(stages),
               bool(keyed))
    RULES[code] = new
    return new


def _base(code: str) -> str:
    return code.split(":", 1)[0]


def rule(code: str) -> Rule:
    """Look up the rule of ``code`` (a ``:<key>`` suffix is accepted for a keyed code).

    Parameters
    ----------
    code : str
        A flag code such as ``"charge_imbalance"`` or ``"not_numeric:ca"``.

    Returns
    -------
    Rule

    Raises
    ------
    KeyError
        The code is not registered (the message suggests close codes), or it
        carries a key but the rule takes none.
    """
    base = _base(code)
    found = RULES.get(base)
    if found is None:
        close = difflib.get_close_matches(base, list(RULES), n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(f"{code!r} is not a registered data-quality flag.{hint} The codes are "
                       "listed in karstsink.qa.RULES (docs: Data-quality flags); register "
                       "a new check with karstsink.qa.register().")
    if base != code and not found.keyed:
        raise KeyError(f"{code!r}: the flag {base!r} takes no ':<key>' suffix.")
    return found


def is_fatal(code: str) -> bool:
    """True when ``code`` (with or without ``:<key>``) is a fatal flag.

    A code that is not registered (a user's own code kept in ``qa_flags``)
    never stops a computation.

    Parameters
    ----------
    code : str

    Returns
    -------
    bool
    """
    found = RULES.get(_base(code))
    return found is not None and found.severity == "fatal"


def threshold(code: str) -> float | tuple[float, float]:
    """The threshold of a rule, in the rule's ``unit``.

    Parameters
    ----------
    code : str
        A registered code.

    Returns
    -------
    float or (float, float)
        A number, or ``(low, high)`` for a range.

    Raises
    ------
    KeyError
        Unknown code.
    ValueError
        The rule has no threshold.
    """
    value = rule(code).threshold
    if value is None:
        raise ValueError(f"the flag {code!r} has no threshold.")
    return value


def split(text: object) -> list[str]:
    """The codes of one ``qa_flags`` cell (empty list for an empty or missing cell).

    Parameters
    ----------
    text : str or None
        A ``;``-separated cell; None, NaN and ``pandas.NA`` mean no flags.

    Returns
    -------
    list of str
    """
    if isinstance(text, str):
        return [c for c in text.split(";") if c]
    if text is None:
        return []
    try:
        missing = bool(text != text)  # NaN
    except TypeError:  # pandas.NA refuses bool()
        missing = True
    if missing:
        return []
    raise TypeError(f"a qa_flags cell must be text, got {type(text).__name__} {text!r}.")


def join(codes: Iterable[str]) -> str:
    """Join flag codes into one ``qa_flags`` cell, in registry order, each once.

    Parameters
    ----------
    codes : iterable of str
        Codes (``"ph_unusual"``, ``"not_numeric:ca"``) or cells already joined
        with ``;``.  Codes of the same rule keep their given order (e.g. the
        column order of their keys); unregistered codes go last, in the given
        order.

    Returns
    -------
    str
        ``;``-separated, ``""`` for no codes.
    """
    rank = _rank()
    unique = list(dict.fromkeys(c for text in codes for c in split(text)))
    if len(unique) < 2:
        return unique[0] if unique else ""
    return ";".join(sorted(unique, key=lambda c: rank.get(_base(c), len(rank))))


_RANK: dict[str, int] = {}


def _rank() -> dict[str, int]:
    """Registry order of the codes (rebuilt when the registry changed since)."""
    if len(_RANK) != len(RULES) or (RULES and _RANK.get(next(reversed(RULES))) != len(RULES) - 1):
        _RANK.clear()
        _RANK.update({c: i for i, c in enumerate(RULES)})
    return _RANK


def add_flag(flags, mask, code: str) -> None:
    """Add ``code`` to the ``qa_flags`` cells ``flags`` (an object array of str) where ``mask``.

    Each cell keeps the registry order of :func:`join` and holds a code once.
    """
    import numpy as np

    for i in np.flatnonzero(mask):
        current = flags[i] if isinstance(flags[i], str) else ""
        flags[i] = join((current, code))


def _format_threshold(r: Rule) -> str:
    if r.threshold is None:
        return "—"
    unit = f" {r.unit}" if r.unit else ""
    if isinstance(r.threshold, tuple):
        low, high = r.threshold
        return f"outside {low:g} to {high:g}{unit}"
    return f"{r.comparison} {r.threshold:g}{unit}"


def markdown_table() -> str:
    """The flag table of the documentation, generated from :data:`RULES`.

    Returns
    -------
    str
        A Markdown table (one row per rule, in registry order), ending in a newline.
    """
    lines = ["| code | severity | fires when | stages | meaning |",
             "|---|---|---|---|---|"]
    for r in RULES.values():
        # '|' would end the cell and '<x' could open an HTML tag
        cells = [_format_threshold(r), ", ".join(r.stages), r.description]
        cells = [c.replace("|", "\\|").replace("<", "&lt;") for c in cells]
        lines.append("| " + " | ".join([f"`{r.label}`", r.severity, *cells]) + " |")
    return "\n".join(lines) + "\n"
