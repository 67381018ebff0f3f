"""Cell parsing for :mod:`karstsink.samples` (private).

Turns the text of a measurement cell into ``(value, status)``: a number, a
missing value (``""``, ``n.d.``, ``-``, ``NA``...), a below-detection value
(``<0.05``, ``ND<0.05``, Chinese-style ``0.05L``) carrying its limit, an
above-range value (``>10``) carrying its limit, or text that is not a number.
Dates are parsed per column with the format most of its cells follow.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ._samples_headers import nfkc

OK, MISSING, BELOW, ABOVE, NOT_NUMERIC = 0, 1, 2, 3, 4

_MISSING_TOKENS = {
    "", "nd", "n.d.", "n.d", "n/d", "-", "--", "---", "—", "——", "–", "na", "n/a", "n.a.",
    "nan", "null", "none", "/", "未检出", "未测", "未检测", "无", "空", "#n/a", "#value!",
    "#div/0!", "#ref!", "#num!", "#name?", "#null!", "n/m", "nm", "not measured",
}
_NUM = r"[+-]?(?:\d[\d.,']*|[.,]\d+)(?:e[+-]?\d+)?"
_BELOW_RE = re.compile(
    rf"^(?:nd|n\.d\.?|bdl|bql|lod|loq|dl|mdl|rl)?\(?(?:<=|<|≤|≦)(?P<num>{_NUM})\)?"
    r"(?:\(?(?:nd|n\.d\.?|bdl|lod|dl)\)?)?$"
)
_BELOW_L_RE = re.compile(rf"^(?P<num>{_NUM})l$")  # Chinese reports: '0.05L' = below 0.05
_BELOW_NOLIMIT = {"<", "≤", "<dl", "<lod", "<loq", "<mdl", "<rl", "bdl", "bql", "<ql", "<d.l.",
                  "belowdetection", "belowdetectionlimit", "<dl.", "lod", "<d.l"}
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


def column_uses_decimal_comma(cells: Sequence[str]) -> bool:
    """True if a column writes decimals with a comma (``7,4``, ``0,05``; not ``1,234``)."""
    if not any(("," in c or "\uff0c" in c) for c in cells):
        return False
    comma = dot = 0
    for c in set(cells):
        t = clean_cell(c).lstrip("<>≤≥=")
        if _DECIMAL_COMMA_CELL.match(t):
            if _THOUSANDS_COMMA.match(t) and not t.startswith(("0", "-0", "+0")):
                continue  # '1,234' could be either; it does not decide
            comma += 1
        elif re.match(r"^[+-]?\d*\.\d+$", t):
            dot += 1
    return comma > 0 and comma >= dot


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

    Returns
    -------
    values : numpy.ndarray of float
        Numbers (the limit for ``<x`` and ``>x`` cells; NaN where missing or text).
    status : numpy.ndarray of int8
        :data:`OK`, :data:`MISSING`, :data:`BELOW`, :data:`ABOVE` or :data:`NOT_NUMERIC`.
    """
    if decimal_comma is None:
        decimal_comma = column_uses_decimal_comma(cells)
    values = np.full(len(cells), np.nan)
    status = np.zeros(len(cells), dtype=np.int8)
    cache: dict[str, tuple[float, int]] = {}
    for i, cell in enumerate(cells):
        hit = cache.get(cell)
        if hit is None:
            hit = None
            if "_" not in cell:  # fast path: plain numbers (float() also reads '７.４')
                try:
                    number = float(cell)
                except ValueError:
                    pass
                else:
                    if np.isfinite(number):
                        hit = (number, OK)
            if hit is None:
                hit = parse_cell(cell, decimal_comma)
            cache[cell] = hit
        values[i], status[i] = hit
    return values, status


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
# dates
# ---------------------------------------------------------------------------

_YMD = re.compile(
    r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ t](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?$"
)
_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ t](\d{1,2}:\d{2}(?::\d{2})?))?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")


def _date_text(cell: str) -> str:
    t = " ".join(nfkc(cell).strip().split()).lower()
    t = t.replace("年", "-").replace("月", "-").replace("日", " ").replace("号", " ")
    t = re.sub(r"\s+", " ", t).strip()
    return re.sub(r"(\d)t(\d)", r"\1 \2", t)


def parse_dates(cells: Sequence[str], times: Sequence[str] | None = None
                ) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Parse a date column (optionally with a separate time column).

    Accepts ISO ``2021-05-03``, ``2021/5/3``, ``2021.05.03``, ``2021年5月3日``,
    ``20210503``, day- or month-first ``03/05/2021`` (decided per column: a
    first field above 12 means day-first; if nothing decides, month-first as in
    US exports and a note is returned), Excel serial days and an optional time.

    Returns
    -------
    dates : numpy.ndarray of datetime64[ns]
    bad : numpy.ndarray of bool
        True where a non-empty cell could not be read (empty cells are NaT, not bad).
    note : str or None
        Set when day/month order was ambiguous.
    """
    n = len(cells)
    memo: dict[str, str] = {}
    texts = [memo[c] if c in memo else memo.setdefault(c, _date_text(c)) for c in cells]
    if times is not None:
        texts = [
            f"{d} {_date_text(t)}".strip() if d and _date_text(t) else d
            for d, t in zip(texts, times, strict=True)
        ]
    # day-first or month-first, decided once for the column
    first_gt12 = second_gt12 = False
    unique = set(texts)
    for t in unique:
        m = _DMY.match(t)
        if m:
            first_gt12 |= int(m[1]) > 12
            second_gt12 |= int(m[2]) > 12
    dayfirst = first_gt12 and not second_gt12
    note = None
    if not first_gt12 and not second_gt12 and any(_DMY.match(t) for t in unique):
        note = "day/month order of dates like 03/05/2021 was ambiguous; read as month/day"
    iso_of = {t: _iso(t, dayfirst) for t in unique}
    iso = [iso_of[t] for t in texts]
    bad = np.zeros(n, dtype=bool)
    stamps = {s: None for s in set(iso) if s}
    parsed = pd.to_datetime(pd.Series(list(stamps), dtype=object), format="ISO8601",
                            errors="coerce")
    stamps = dict(zip(stamps, parsed.to_numpy(dtype="datetime64[ns]"), strict=True))
    nat = np.datetime64("NaT", "ns")
    values = np.array([stamps.get(s, nat) if s else nat for s in iso], dtype="datetime64[ns]")
    for i, s in enumerate(iso):
        if s is not None and (s == "" or np.isnat(values[i])):
            bad[i] = True
    return values, bad, note


def _iso(t: str, dayfirst: bool) -> str | None:
    """ISO text for one normalised date cell; None if empty, "" if unreadable."""
    if not t or t in _MISSING_TOKENS:
        return None
    m = _YMD.match(t)
    if m:
        return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}" + (f" {m[4]}" if m[4] else "")
    m = _DMY.match(t)
    if m:
        day, month = (m[1], m[2]) if dayfirst else (m[2], m[1])
        return f"{m[3]}-{int(month):02d}-{int(day):02d}" + (f" {m[4]}" if m[4] else "")
    m = _COMPACT.match(t)
    if m:
        return f"{m[1]}-{m[2]}-{m[3]}"
    if re.search(r"[a-z]{3}", t):  # '3-May-2021', 'May 3, 2021', '03 may 21'
        plain = re.sub(r"[-/.,\s]+", " ", t).strip()
        for fmt in ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d %b %y", "%b %d %y"):
            try:
                return _dt.datetime.strptime(plain, fmt).date().isoformat()
            except ValueError:
                continue
    if _SERIAL.match(t) and 10000 < float(t) < 80000:  # Excel day serial, 1927-2119
        stamp = pd.Timestamp("1899-12-30") + pd.to_timedelta(float(t), unit="D")
        return stamp.round("s").isoformat(sep=" ")
    return ""  # unreadable
