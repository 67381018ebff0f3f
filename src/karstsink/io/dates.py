"""The one date parser of karstsink's table readers (samples, flux samples, discharge).

:func:`parse_dates` reads a date column (and a separate time column) whose form
(ISO, day- or month-first, Excel serial days...) is decided once for the whole
column, never cell by cell; an undecidable column raises :class:`AmbiguousDateError`.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence

import numpy as np

from ..exceptions import ConfigError
from .cells import _MISSING_TOKENS
from .headers import nfkc

__all__ = ["AmbiguousDateError", "is_clock_time", "parse_dates"]


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

#: Day 0 of Excel's serial day numbers: the 1900 date system (Windows Excel, LibreOffice;
#: day 0 is 1899-12-30, Excel counting the non-existent 1900-02-29) and the 1904 system
#: (older Mac Excel workbooks; 1462 days later), ECMA-376 Part 1, 18.17.4.1.
EXCEL_EPOCH_1900 = "1899-12-30"
EXCEL_EPOCH_1904 = "1904-01-01"


def is_clock_time(texts: Sequence[str]) -> bool:
    """True if every non-empty cell is a clock time ``HH:MM[:SS]`` (and one is)."""
    filled = [t.strip() for t in texts if t.strip()]
    return bool(filled) and all(_TIME_ONLY.match(t) for t in filled)


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
                date_format: str | None = None, excel_epoch: str = EXCEL_EPOCH_1900
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
    excel_epoch : str
        Day 0 of Excel serial days: :data:`EXCEL_EPOCH_1900`, or
        :data:`EXCEL_EPOCH_1904` for a workbook in the 1904 date system (the XLSX
        reader says which, ``info["excel_epoch"]``).

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

    iso_of = {t: _iso(t, dayfirst, excel_epoch) for t in unique}
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


def _iso(t: str, dayfirst: bool, excel_epoch: str = EXCEL_EPOCH_1900
         ) -> tuple[str, int | None] | str | None:
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
        stamp = pd.Timestamp(excel_epoch) + pd.to_timedelta(float(t), unit="D")
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
                try:  # 2021-13-45 has the shape of a date but is none
                    stamp = pd.Timestamp(iso[0]).to_pydatetime()
                except ValueError:
                    stamp = None
                if stamp is not None and iso[1] is not None:
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
