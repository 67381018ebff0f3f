"""Cell parsing for every table karstsink reads.

Turns the text of a measurement cell into ``(value, status)``: a number, a
missing value (``""``, ``n.d.``, ``-``, ``NA``...), a below-detection value
(``<0.05``, ``ND<0.05``, Chinese-style ``0.05L``) carrying its limit, an
above-range value (``>10``) carrying its limit, or text that is not a number.
Whether a comma is a decimal mark is decided per column, never per cell (and so
is the day/month order of dates, in :mod:`karstsink.io.dates`).  Every table
reader of karstsink (samples, flux samples, discharge) parses its cells here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

from .headers import nfkc

OK, MISSING, BELOW, ABOVE, NOT_NUMERIC = 0, 1, 2, 3, 4

_MISSING_TOKENS = {
    "", "nd", "n.d.", "n.d", "n/d", "-", "--", "---", "—", "——", "–", "na", "n/a", "n.a.",
    "nan", "null", "none", "/", "未测", "未检测", "无", "空", "#n/a", "#value!",
    "#div/0!", "#ref!", "#num!", "#name?", "#null!", "n/m", "nm", "not measured",
}
_NUM = r"[+-]?(?:\d[\d.,']*|[.,]\d+)(?:e[+-]?\d+)?"
_BELOW_RE = re.compile(
    rf"^(?:nd|n\.d\.?|bdl|bql|lod|loq|dl|mdl|rl)?\(?(?:<=|<|≤|≦)(?P<num>{_NUM})\)?"
    r"(?:\(?(?:nd|n\.d\.?|bdl|lod|dl)\)?)?$"
)
_BELOW_L_RE = re.compile(rf"^(?P<num>{_NUM})l$")  # Chinese reports: '0.05L' = below 0.05
_BELOW_NOLIMIT = {"<", "≤", "<dl", "<lod", "<loq", "<mdl", "<rl", "bdl", "bql", "<ql", "<d.l.",
                  "belowdetection", "belowdetectionlimit", "<dl.", "lod", "<d.l",
                  "未检出"}  # "not detected" (Chinese reports), the limit not written
_ABOVE_RE = re.compile(rf"^(?:>=|>|≥|≧)(?P<num>{_NUM})$")
_THOUSANDS_COMMA = re.compile(r"^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^[+-]?[1-9]\d{0,2}(?:\.\d{3})+(?:,\d+)?$")
_DECIMAL_COMMA_CELL = re.compile(r"^[+-]?\d+,\d+$")


def clean_cell(text: str) -> str:
    """NFKC-normalise, lower-case and remove all whitespace (incl. NBSP) from a cell."""
    return "".join(nfkc(text).lower().split())


def to_float(text: str, decimal_comma: bool) -> float | None:
    """Read a cleaned number, honouring decimal commas and thousands separators."""
    t = text.replace("'", "")
    if "," in t:
        if decimal_comma:
            if _THOUSANDS_DOT.match(t):
                t = t.replace(".", "")
            t = t.replace(",", ".")
        elif "." in t:
            if t.rfind(",") > t.rfind("."):  # 1.234,5
                t = t.replace(".", "").replace(",", ".")
            else:  # 1,234.5
                t = t.replace(",", "")
        elif _THOUSANDS_COMMA.match(t):
            t = t.replace(",", "")
        else:
            t = t.replace(",", ".")
    elif decimal_comma and _THOUSANDS_DOT.match(t) and t.count(".") > 1:
        t = t.replace(".", "")
    try:
        value = float(t)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def parse_cell(text: str, decimal_comma: bool) -> tuple[float, int]:
    """Parse one measurement cell into ``(value, status)`` (value = limit for < and >)."""
    t = clean_cell(text)
    if t in _MISSING_TOKENS:
        return np.nan, MISSING
    value = to_float(t, decimal_comma)
    if value is not None:
        return value, OK
    m = _BELOW_RE.match(t) or _BELOW_L_RE.match(t)
    if m:
        limit = to_float(m["num"], decimal_comma)
        if limit is not None:
            return limit, BELOW
    if t in _BELOW_NOLIMIT:
        return np.nan, BELOW
    m = _ABOVE_RE.match(t)
    if m:
        limit = to_float(m["num"], decimal_comma)
        if limit is not None:
            return limit, ABOVE
    return np.nan, NOT_NUMERIC


def parse_column(cells: Sequence[str], decimal_comma: bool | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Parse a column of cells; ``decimal_comma=None`` decides it from the column itself.

    Plain numbers are read in one pass; any other column once per distinct cell.

    Returns
    -------
    values : numpy.ndarray of float
        Numbers (the limit for ``<x`` and ``>x`` cells; NaN where missing or text).
    status : numpy.ndarray of int8
        :data:`OK`, :data:`MISSING`, :data:`BELOW`, :data:`ABOVE` or :data:`NOT_NUMERIC`.
    """
    n = len(cells)
    plain = plain_numbers(cells)
    if plain is not None:  # float() reads no comma: the decimal mark cannot matter
        return plain, np.zeros(n, dtype=np.int8)
    if decimal_comma is None:
        decimal_comma = column_uses_decimal_comma(cells)
    hit = {c: _parse_one(c, decimal_comma) for c in dict.fromkeys(cells)}  # once per text
    pairs = np.array(list(map(hit.__getitem__, cells)), dtype=float).reshape(n, 2)
    return pairs[:, 0].copy(), pairs[:, 1].astype(np.int8)


def plain_numbers(cells: Sequence[str]) -> np.ndarray | None:
    """The cells as floats if :func:`float` reads each to a finite number, else None.

    A cell with ``_`` (a digit separator to :func:`float`) is not plain; nor is a comma.
    """
    if "_" in "".join(cells):
        return None
    try:
        values = np.fromiter(map(float, cells), dtype=float, count=len(cells))
    except (ValueError, TypeError):
        return None
    return values if np.isfinite(values).all() else None


def _parse_one(cell: str, decimal_comma: bool) -> tuple[float, int]:
    """:func:`parse_cell`, plain numbers (also full-width ``７.４``) read by float()."""
    if "_" not in cell:
        try:
            number = float(cell)
        except ValueError:
            pass
        else:
            if math.isfinite(number):
                return number, OK
    return parse_cell(cell, decimal_comma)


_DMS_RE = re.compile(
    r"^(?P<h1>[nsew])?(?P<d>\d+(?:\.\d+)?)(?:°|d|:|º)"
    r"(?:(?P<m>\d+(?:\.\d+)?)(?:'|′|m|:)?)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)(?:\"|″|′′|''|s)?)?(?P<h2>[nsew])?$"
)


def parse_coordinate(text: str) -> float | None:
    """Read decimal degrees from ``26°15'30"N``, ``105°42.5'E``, ``N26:15:30`` [°]."""
    t = clean_cell(text)
    m = _DMS_RE.match(t)
    if not m or (m["h1"] and m["h2"]):
        return None
    minutes, seconds = float(m["m"] or 0), float(m["s"] or 0)
    if minutes >= 60 or seconds >= 60:
        return None
    value = float(m["d"]) + minutes / 60.0 + seconds / 3600.0
    return -value if (m["h1"] or m["h2"]) in ("s", "w") else value


# ---------------------------------------------------------------------------
# in-memory cells as text; decimal commas decided per column
# ---------------------------------------------------------------------------


def text_cells(values) -> list[str]:
    """Cells of an in-memory column as text (``""`` for missing), as a file would hold them.

    Integral floats keep their ``.0`` (``repr``), timestamps become
    ``2021-05-18 00:00:00``; everything else is ``str(value)``.
    """
    items = values.tolist() if hasattr(values, "tolist") else list(values)
    if set(map(type, items)) <= {str}:  # text columns (every file reader's): as they are
        return items
    if isinstance(getattr(values, "dtype", None), np.dtype) and values.dtype.kind == "f":
        out = list(map(repr, items))  # numpy floats: repr (str of a float is its repr)
        for i in np.flatnonzero(np.isnan(np.asarray(values, dtype=float))):
            out[i] = ""
        return out
    import pandas as pd  # lazily: the map process never loads pandas
    out = []
    for v in items:
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append("")
        elif isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            out.append(repr(v))
        else:
            out.append(str(v))
    return out


_DOT_DECIMAL_CELL = re.compile(r"^[+-]?\d*\.\d+$")


def decimal_mark_examples(cells: Sequence[str]) -> tuple[list[str], list[str]]:
    """Distinct cells, in column order, that write a decimal comma and a decimal point.

    ``7,4`` and ``0,051`` show a decimal comma, ``7.4`` a decimal point;
    ``1,234`` (a thousands separator or three decimals) shows neither.
    """
    comma: list[str] = []
    dot: list[str] = []
    seen: set[str] = set()
    for c in cells:
        if c in seen:
            continue
        seen.add(c)
        t = clean_cell(c).lstrip("<>≤≥=")
        if _DECIMAL_COMMA_CELL.match(t):
            if _THOUSANDS_COMMA.match(t) and not t.startswith(("0", "-0", "+0")):
                continue  # '1,234' could be either; it does not decide
            comma.append(c)
        elif _DOT_DECIMAL_CELL.match(t):
            dot.append(c)
    return comma, dot


def column_decimal_marks(cells: Sequence[str], default: bool = False
                         ) -> tuple[bool, list[str], list[str]]:
    """``(column_uses_decimal_comma(...), *decimal_mark_examples(...))`` from one scan."""
    joined = "".join(cells)
    comma, dot = decimal_mark_examples(cells) if "," in joined or "\uff0c" in joined else ([], [])
    return (bool(comma) and len(comma) >= len(dot)) if comma or dot else default, comma, dot


def column_uses_decimal_comma(cells: Sequence[str], default: bool = False) -> bool:
    """True if a column writes decimals with a comma (``7,4``, ``0,05``; not ``1,234``).

    Decided once for the whole column: at least one and at least as many cells with a
    decimal comma as with a decimal point (:func:`decimal_mark_examples` gives them).  A
    column without a deciding cell (only integers, or only ``1,051``-style cells, which a
    thousands separator writes alike) takes ``default``: the file's own decimal mark.
    """
    return column_decimal_marks(cells, default)[0]


#: Values that data loggers and databases write for "no value" (-99, -999, -9999, -99999).
SENTINEL_VALUES = (-99.0, -999.0, -9999.0, -99999.0)


def sentinel_mask(values: np.ndarray, status: np.ndarray,
                  sentinels: Sequence[float] = SENTINEL_VALUES) -> np.ndarray:
    """True where a number cell holds a no-value sentinel (``-999``, ``-9999.0``...).

    Parameters
    ----------
    values, status : numpy.ndarray
        As returned by :func:`parse_column`, in the column's own unit.
    sentinels : sequence of float
        The sentinel numbers (default :data:`SENTINEL_VALUES`).
    """
    return (np.asarray(status) == OK) & np.isin(np.asarray(values, dtype=float),
                                                np.asarray(sentinels, dtype=float))
