"""Cell parsing for every table karstsink reads.

Turns the text of a measurement cell into ``(value, status)``: a number, a
missing value (``""``, ``n.d.``, ``-``, ``NA``...), a below-detection value
(``<0.05``, ``ND<0.05``, Chinese-style ``0.05L``) carrying its limit, an
above-range value (``>10``) carrying its limit, or text that is not a number.
Whether a comma is a decimal mark is decided per column, never per cell, and
so is the day/month order of dates (:func:`parse_dates`).  Every table reader of
karstsink (samples, flux samples, discharge) parses its cells here.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Sequence

import numpy as np

from ..exceptions import ConfigError
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


# ---------------------------------------------------------------------------
# dates
# ---------------------------------------------------------------------------


class AmbiguousDateError(ValueError):
    """A date column whose day/month order no cell settles, or that is written both ways.

    Attributes
    ----------
    reason : str
        What is ambiguous, without the advice.
    examples : tuple of str
        Up to three cells as written.
    """

    def __init__(self, reason: str, examples: Sequence[str] = ()):
        self.reason = reason
        self.examples = tuple(examples)
        super().__init__(f"{reason}; give date_format, a strftime format such as '%d/%m/%Y' "
                         "(day first) or '%m/%d/%Y' (month first)")


_TIME = r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
_TZ = r"(?:\s?(z|utc|gmt|[+-]\d{2}(?::?\d{2})?))?"
_YMD = re.compile(rf"^(\d{{4}})[-/.](\d{{1,2}})[-/.](\d{{1,2}})(?: {_TIME}{_TZ})?$")
_DMY = re.compile(rf"^(\d{{1,2}})[-/.](\d{{1,2}})[-/.](\d{{4}})(?: {_TIME}{_TZ})?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_TIME_ONLY = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$")


#: Plain ISO dates and times, the bulk of logger files: read without normalising.
_PLAIN_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?$")


def _date_text(cell: str) -> str:
    if _PLAIN_ISO.match(cell):
        return cell.replace("T", " ")
    t = " ".join(nfkc(cell).strip().split()).lower()
    t = t.replace("年", "-").replace("月", "-").replace("日", " ").replace("号", " ")
    t = re.sub(r"\s+", " ", t).strip()
    return re.sub(r"(\d)t(\d)", r"\1 \2", t)


def _offset_minutes(tz: str | None) -> int | None:
    """UTC offset [min] of ``z``, ``utc``, ``+08:00``, ``+0800``, ``-05``; None if none."""
    if not tz:
        return None
    if tz in ("z", "utc", "gmt"):
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    return sign * (int(digits[:2]) * 60 + int(digits[2:4] or 0))


def _format_offset(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_dates(cells: Sequence[str], times: Sequence[str] | None = None, *,
                date_format: str | None = None
                ) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Parse a date column (optionally with a separate time column), deciding its form once.

    Accepts ISO ``2021-05-03``, ``2021/5/3``, ``2021.05.03`` with an optional time
    (``2021-05-03T10:30:00``) and UTC offset (``+08:00``, ``Z``), ``2021年5月3日``,
    ``20210503``, month names (``3-May-2021``, ``May 3, 2021``), Excel serial days,
    and day- or month-first ``13/05/2021`` / ``05/13/2021``.

    Day-first or month-first is decided once for the whole column, never cell by
    cell: a first field of 13-31 anywhere means day/month, a second field of 13-31
    means month/day.  A column where no cell decides it (every ``dd/dd/yyyy`` cell
    has both fields <= 12), or that has cells of both kinds, is refused with
    :class:`AmbiguousDateError` unless ``date_format`` is given.

    Parameters
    ----------
    cells : sequence of str
        The date cells as text.
    times : sequence of str, optional
        A separate time column (``10:30``), joined to the dates.
    date_format : str, optional
        A :func:`datetime.datetime.strptime` format (``"%d/%m/%Y"``) used for every
        cell (a time ``HH:MM[:SS]`` after the date is also read).  Cells in ISO form
        ``YYYY-MM-DD`` (how XLSX date cells arrive) are still read as ISO.

    Returns
    -------
    dates : numpy.ndarray of datetime64[ns]
        Naive timestamps.  Cells with a UTC offset keep their clock time when the
        column has one offset; with different offsets they are converted to UTC.
    bad : numpy.ndarray of bool
        True where a non-empty cell could not be read (empty cells are NaT, not bad).
    note : str or None
        What was done with UTC offsets, when there were any.

    Raises
    ------
    AmbiguousDateError
        Day/month order undecidable or inconsistent and no ``date_format``.
    karstsink.exceptions.ConfigError
        ``date_format`` contains no ``%`` directive.

    Examples
    --------
    >>> dates, bad, note = parse_dates(["13/06/2021", "03/06/2021"])
    >>> [str(d)[:10] for d in dates]
    ['2021-06-13', '2021-06-03']
    """
    import pandas as pd  # lazily: the map process never loads pandas
    n = len(cells)
    if date_format is not None:
        return _parse_with_format(cells, times, date_format)
    memo: dict[str, str] = {}
    texts = [memo[c] if c in memo else memo.setdefault(c, _date_text(c)) for c in cells]
    shown = list(cells)
    if times is not None:
        joined = []
        for d, t in zip(texts, times, strict=True):
            tt = _date_text(t)
            joined.append(f"{d} {tt}".strip() if d and tt else d)
        texts = joined
        shown = [f"{c} {t}".strip() if c and t else c for c, t in zip(cells, times, strict=True)]
    as_written: dict[str, str] = {}
    for t, c in zip(texts, shown, strict=True):
        as_written.setdefault(t, c)
    unique = list(as_written)

    # day-first or month-first, decided once for the column
    day_first, month_first, undecided = [], [], []
    for t in unique:
        m = _DMY.match(t)
        if not m:
            continue
        a, b = int(m[1]), int(m[2])
        if 12 < a <= 31 and 1 <= b <= 12:
            day_first.append(as_written[t])
        elif 12 < b <= 31 and 1 <= a <= 12:
            month_first.append(as_written[t])
        elif 1 <= a <= 12 and 1 <= b <= 12:
            undecided.append(as_written[t])
    if day_first and month_first:
        raise AmbiguousDateError(
            f"dates are written both day first ({day_first[0]!r}) and month first "
            f"({month_first[0]!r})", [day_first[0], month_first[0]])
    if undecided and not (day_first or month_first):
        shown3 = undecided[:3]
        raise AmbiguousDateError(
            "day/month order cannot be told from dates such as "
            f"{', '.join(repr(x) for x in shown3)} (no day above 12 settles it)", shown3)
    dayfirst = bool(day_first)

    iso_of = {t: _iso(t, dayfirst) for t in unique}
    stamps = list({v[0]: None for v in iso_of.values() if v})
    parsed = pd.to_datetime(pd.Series(stamps, dtype=object), format="ISO8601",
                            errors="coerce").to_numpy(dtype="datetime64[ns]")
    stamp_value = dict(zip(stamps, parsed, strict=True))
    nat = np.datetime64("NaT", "ns")
    value_of: dict[str, np.datetime64] = {}
    offset_of: dict[str, int] = {}
    for t, v in iso_of.items():
        if not isinstance(v, tuple):  # None (empty) or "" (unreadable)
            value_of[t] = nat
        else:
            value_of[t] = stamp_value[v[0]]
            if v[1] is not None and not np.isnat(value_of[t]):
                offset_of[t] = v[1]
    note = _apply_offsets(value_of, offset_of)
    values = np.array([value_of[t] for t in texts], dtype="datetime64[ns]")
    bad = np.array([iso_of[t] is not None and np.isnat(value_of[t]) for t in texts],
                   dtype=bool)
    if n == 0:
        values = np.array([], dtype="datetime64[ns]")
        bad = np.zeros(0, dtype=bool)
    return values, bad, note


def _apply_offsets(value_of: dict, offset_of: dict) -> str | None:
    """Drop UTC offsets (converting to UTC when they differ); return the note saying so."""
    offsets = sorted(set(offset_of.values()))
    if not offsets:
        return None
    listed = ", ".join(_format_offset(o) for o in offsets)
    if len(offsets) == 1:
        return (f"dates carry the UTC offset {listed}; read as local clock time, "
                "the offset dropped")
    for key, minutes in offset_of.items():
        value_of[key] = value_of[key] - np.timedelta64(minutes, "m")
    naive = len(offset_of) < sum(1 for v in value_of.values() if not np.isnat(v))
    return (f"dates carry different UTC offsets ({listed}); converted to UTC and the offset "
            "dropped" + ("; dates without an offset were left as written" if naive else ""))


def _iso(t: str, dayfirst: bool) -> tuple[str, int | None] | str | None:
    """``(ISO text, UTC offset [min] or None)`` for one normalised date cell.

    None if the cell is empty, ``""`` if it is unreadable.
    """
    import pandas as pd  # lazily: the map process never loads pandas
    if not t or t in _MISSING_TOKENS:
        return None
    if _PLAIN_ISO.match(t):
        return t, None
    m = _YMD.match(t)
    if m:
        return (f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}" + (f" {m[4]}" if m[4] else ""),
                _offset_minutes(m[5]))
    m = _DMY.match(t)
    if m:
        day, month = (m[1], m[2]) if dayfirst else (m[2], m[1])
        return (f"{m[3]}-{int(month):02d}-{int(day):02d}" + (f" {m[4]}" if m[4] else ""),
                _offset_minutes(m[5]))
    m = _COMPACT.match(t)
    if m:
        return f"{m[1]}-{m[2]}-{m[3]}", None
    if re.search(r"[a-z]{3}", t):  # '3-May-2021', 'May 3, 2021', '03 may 21'
        plain = re.sub(r"[-/.,\s]+", " ", t).strip()
        for fmt in ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d %b %y", "%b %d %y"):
            try:
                return _dt.datetime.strptime(plain, fmt).date().isoformat(), None
            except ValueError:
                continue
    if _SERIAL.match(t) and 10000 < float(t) < 80000:  # Excel day serial, 1927-2119
        stamp = pd.Timestamp("1899-12-30") + pd.to_timedelta(float(t), unit="D")
        return stamp.round("s").isoformat(sep=" "), None
    return ""  # unreadable


def _parse_with_format(cells: Sequence[str], times: Sequence[str] | None, date_format: str
                       ) -> tuple[np.ndarray, np.ndarray, str | None]:
    """:func:`parse_dates` with a user-given strptime format for every cell."""
    import pandas as pd  # lazily: the map process never loads pandas
    if not isinstance(date_format, str) or "%" not in date_format:
        raise ConfigError(
            f"date_format {date_format!r} is not a strftime format; write it like "
            "'%d/%m/%Y' (day/month/year) or '%m/%d/%Y' (month/day/year).")
    formats = (date_format, f"{date_format} %H:%M", f"{date_format} %H:%M:%S")
    nat = np.datetime64("NaT", "ns")
    time_cells = times if times is not None else [""] * len(cells)
    value_of: dict = {}
    offset_of: dict = {}
    empty: set = set()
    for key in dict.fromkeys(zip(cells, time_cells, strict=True)):
        cell, time = key
        text = " ".join(nfkc(cell).split())
        if not text or text.lower() in _MISSING_TOKENS:
            empty.add(key)
            value_of[key] = nat
            continue
        stamp = None
        for fmt in formats:
            try:
                stamp = _dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
        if stamp is None:  # ISO year-first cells (XLSX dates) are never ambiguous
            norm = _date_text(text)
            iso = _iso(norm, False) if _YMD.match(norm) else ""
            if isinstance(iso, tuple):
                stamp = pd.Timestamp(iso[0]).to_pydatetime()
                if iso[1] is not None:
                    stamp = stamp.replace(tzinfo=_dt.timezone(_dt.timedelta(minutes=iso[1])))
        t = " ".join(nfkc(time).split()) if time else ""
        if stamp is not None and t:
            m = _TIME_ONLY.match(t)
            stamp = (stamp.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3] or 0))
                     if m and int(m[1]) < 24 and int(m[2]) < 60 and int(m[3] or 0) < 60
                     else None)
        if stamp is None:
            value_of[key] = nat
            continue
        delta = stamp.utcoffset()
        if delta is not None:
            offset_of[key] = int(delta.total_seconds() // 60)
            stamp = stamp.replace(tzinfo=None)
        value_of[key] = np.datetime64(stamp, "ns")
    note = _apply_offsets(value_of, offset_of)
    keys = list(zip(cells, time_cells, strict=True))
    values = np.array([value_of[k] for k in keys], dtype="datetime64[ns]").reshape(len(keys))
    bad = np.array([k not in empty and np.isnat(value_of[k]) for k in keys], dtype=bool)
    return values, bad, note
