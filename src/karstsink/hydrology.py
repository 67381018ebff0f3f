"""Discharge records: reading, unit conversion, daily means, gaps and QA flags.

:func:`read_discharge` turns a discharge CSV (daily or sub-daily) into the
daily table every flux estimator takes: a ``DatetimeIndex`` named ``date``
and the columns ``discharge_m3s`` [m³ s⁻¹], ``n_obs`` (raw values averaged
into the day) and ``qa_flags``.  Bad values are flagged and left out of the
daily mean, never dropped silently; short gaps are interpolated and flagged;
long gaps stop the run unless the caller allows them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .exceptions import DataError, MissingColumnError, UnitError
from .units import DISCHARGE_TO_M3S, SECONDS_PER_DAY, SECONDS_PER_YEAR, normalize_discharge_unit

__all__ = ["Gap", "find_gaps", "read_discharge", "runoff_depth_mm"]

_DATE_NAMES = re.compile(r"^(date|datetime|date_?time|time|timestamp|day|日期|时间)\b", re.I)
_VALUE_NAMES = re.compile(r"^(q|discharge|flow|streamflow|qdaily|q_?daily|runoff|流量)", re.I)
# a unit written in a header: "Q (m3/s)", "Q [L/s]", "Q_cfs", "discharge, ft3/s"
_UNIT_IN_BRACKETS = re.compile(r"[\(\[\{]\s*([^\)\]\}]+?)\s*[\)\]\}]")


@dataclass(frozen=True)
class Gap:
    """A run of days without a usable discharge value."""

    start: pd.Timestamp
    end: pd.Timestamp
    n_days: int
    filled: bool

    def __str__(self) -> str:
        span = f"{self.start:%Y-%m-%d}" if self.n_days == 1 else (
            f"{self.start:%Y-%m-%d}..{self.end:%Y-%m-%d}")
        return f"{span} ({self.n_days} day{'s' if self.n_days > 1 else ''})"


def load_table(path_or_df: str | os.PathLike | pd.DataFrame, what: str
               ) -> tuple[pd.DataFrame, str]:
    """A copy of an in-memory table, or the text table read from a path, and its source label.

    Column names come back stripped of surrounding spaces.  ``what`` names the
    kind of table in messages (``"discharge"``, ``"samples"``).

    Raises
    ------
    FileNotFoundError
        If ``path_or_df`` is a path that does not exist.
    """
    if isinstance(path_or_df, pd.DataFrame):
        df = path_or_df.copy()
        source = str(df.attrs.get("source", f"{what} table"))
    else:
        source = os.fspath(path_or_df)
        if not os.path.exists(source):
            raise FileNotFoundError(f"{what.capitalize()} file not found: {source}")
        df = read_text_table(source)
    df.columns = [str(c).strip() for c in df.columns]
    return df, source


def read_text_table(source: str) -> pd.DataFrame:
    """Read a CSV as text cells: comma or semicolon separated, UTF-8 (BOM ok) or GB18030."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            with open(source, encoding=encoding) as fh:
                head = fh.readline()
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError(f"{source}: cannot decode the file (tried UTF-8 and GB18030).")
    sep = ";" if head.count(";") > head.count(",") else ("\t" if head.count("\t") >
                                                          head.count(",") else ",")
    try:
        df = pd.read_csv(source, dtype=str, keep_default_na=False, comment="#", sep=sep,
                         skipinitialspace=True, encoding=encoding)
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise DataError(f"{source}: cannot read it as CSV ({err}).") from err
    if sep == ";":  # decimal commas go with semicolons
        df = df.apply(lambda c: c.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True))
    return df


def _unit_from_header(name: str) -> str | None:
    """The discharge unit written in a column header, canonical, or None."""
    m = _UNIT_IN_BRACKETS.search(name)
    candidates = [m.group(1)] if m else []
    for sep in ("_", ",", " "):
        if sep in name:
            candidates.append(name.rsplit(sep, 1)[1])
    for cand in candidates:
        try:
            return normalize_discharge_unit(cand)
        except UnitError:
            continue
    return None


def _pick_columns(df: pd.DataFrame, source: str, date_column, value_column):
    cols = list(df.columns)
    if date_column is None:
        date_column = next((c for c in cols if _DATE_NAMES.match(str(c).strip())), cols[0])
    elif date_column not in cols:
        raise MissingColumnError(
            f"{source}: no date column {date_column!r}; columns found: "
            f"{', '.join(map(str, cols))}."
        )
    if value_column is None:
        others = [c for c in cols if c != date_column]
        named = [c for c in others if _VALUE_NAMES.match(str(c).strip())]
        if len(named) >= 1:
            value_column = named[0]
        elif len(others) == 1:
            value_column = others[0]
        else:
            raise MissingColumnError(
                f"{source}: cannot tell which column holds discharge (columns: "
                f"{', '.join(map(str, cols))}); name it 'discharge (m3/s)' or pass "
                "value_column= / --q-column."
            )
    elif value_column not in cols:
        raise MissingColumnError(
            f"{source}: no discharge column {value_column!r}; columns found: "
            f"{', '.join(map(str, cols))}."
        )
    return date_column, value_column


def _parse_dates(raw: pd.Series, source: str, column: str) -> pd.Series:
    text = raw.astype("string").str.strip()
    # Chinese lab dates: 2020年1月5日 -> 2020-1-5
    text = text.str.replace(r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?", r"\1-\2-\3",
                            regex=True)
    empty = text.isna() | (text == "")
    parsed = pd.to_datetime(text.where(~empty), errors="coerce", format="mixed")
    # compact YYYYMMDD (USGS/LOADEST files)
    compact = parsed.isna() & text.str.fullmatch(r"\d{8}").fillna(False)
    if compact.any():
        parsed[compact] = pd.to_datetime(text[compact], format="%Y%m%d", errors="coerce")
    bad = parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = raw.iloc[i]
        n_bad = int(bad.sum())
        more = f" ({n_bad} unparsable dates in all)" if n_bad > 1 else ""
        raise DataError(
            f"{source}: line {i + 2} (data row {i + 1}), column {column!r}: cannot read "
            f"the date {value!r}{more}; write dates as YYYY-MM-DD or 'YYYY-MM-DD HH:MM'."
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_localize(None)
    return parsed


def find_gaps(valid: pd.Series) -> list[tuple[int, int]]:
    """Index ranges ``(start, stop)`` (stop exclusive) of runs where ``valid`` is False."""
    v = np.asarray(valid, dtype=bool)
    runs = []
    i = 0
    n = len(v)
    while i < n:
        if not v[i]:
            j = i
            while j < n and not v[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def read_discharge(
    path: str | os.PathLike | pd.DataFrame,
    *,
    q_unit: str | None = None,
    date_column: str | None = None,
    value_column: str | None = None,
    max_gap_days: int = 7,
    allow_gaps: bool = False,
    extra_columns: list[str] | tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Read a discharge record and return daily mean discharge with QA flags.

    Parameters
    ----------
    path : path-like or pandas.DataFrame
        CSV file (or an already-read table) with a date or date-time column and
        a discharge column.
    q_unit : str, optional
        Discharge unit (``m3/s``, ``L/s``, ``ft3/s``/``cfs``, ``m3/d``) when the
        header does not say it (``Q (m3/s)``, ``Q_cfs``, ``discharge [L/s]``).
        A header unit that contradicts ``q_unit`` is an error.
    date_column, value_column : str, optional
        Column names; by default the first column named like a date and the
        first named like discharge (``Q``, ``discharge``, ``flow``, ``Qdaily``).
    max_gap_days : int, default 7
        Gaps of at most this many days inside the record are filled by linear
        interpolation in time and flagged ``interpolated``.
    allow_gaps : bool, default False
        Keep longer gaps (and gaps at either end) as NaN days instead of
        raising; estimators then give NaN flux on those days and flag period
        totals as incomplete.
    extra_columns : list of str, optional
        Other numeric columns to carry as daily means under the same names
        (e.g. an EC logger column for the direct method's proxy, or specific
        conductance for LOADEST model 99); non-numeric cells become NaN and are
        counted in ``attrs["flag_counts"]`` as ``not_numeric:<column>``.

    Returns
    -------
    pandas.DataFrame
        Indexed by a daily ``DatetimeIndex`` named ``date`` with columns
        ``discharge_m3s`` [m³ s⁻¹] (daily mean of the valid raw values),
        ``n_obs`` (number of valid raw values in the day) and ``qa_flags``
        (``;``-separated: ``interpolated``, ``missing``, ``duplicate_timestamp``,
        ``negative_value``, ``not_numeric``, ``missing_value``).
        ``attrs`` holds ``source``, ``q_unit``, ``gaps`` (list of :class:`Gap`),
        ``n_missing_days`` and ``flag_counts``.

    Raises
    ------
    DataError
        Unparsable dates (the row and value are named), no usable value at all,
        or gaps longer than ``max_gap_days`` (the date ranges are named) when
        ``allow_gaps`` is False.
    UnitError
        No unit in the header and no ``q_unit``, an unknown unit, or a header
        unit contradicting ``q_unit``.
    MissingColumnError
        The date or discharge column cannot be found.

    Notes
    -----
    Sub-daily values are averaged arithmetically within each calendar day
    (the timestamps' own clock; time zones are dropped).  A negative or
    non-numeric value, or a repeated timestamp (the later occurrences), is
    flagged on its day and left out of the mean.
    """
    raw, source = load_table(path, "discharge")
    if isinstance(path, pd.DataFrame) and len(raw):
        raw = raw.astype("string")
    if raw.shape[1] < 2:
        raise DataError(
            f"{source}: needs a date column and a discharge column; found {list(raw.columns)}."
        )
    if len(raw) == 0:
        raise DataError(f"{source}: the discharge file has no data rows.")
    dcol, vcol = _pick_columns(raw, source, date_column, value_column)

    header_unit = _unit_from_header(vcol)
    bracket = _UNIT_IN_BRACKETS.search(vcol)
    if header_unit is None and bracket is not None:
        raise UnitError(
            f"{source}: unknown discharge unit {bracket.group(1)!r} in column {vcol!r}; "
            "use m3/s, L/s, ft3/s (cfs) or m3/d, or pass --q-unit."
        )
    if q_unit is not None:
        unit = normalize_discharge_unit(q_unit)
        if header_unit is not None and header_unit != unit:
            raise UnitError(
                f"{source}: column {vcol!r} says {header_unit} but q_unit={q_unit!r}; "
                "drop one of them."
            )
    elif header_unit is not None:
        unit = header_unit
    else:
        raise UnitError(
            f"{source}: the discharge column {vcol!r} gives no unit; pass --q-unit "
            "(q_unit=) m3/s, L/s or ft3/s, or write it in the header, e.g. 'Q (m3/s)'."
        )

    when = _parse_dates(raw[dcol], source, dcol)
    text = raw[vcol].astype("string").str.strip()
    values = pd.to_numeric(text.str.replace(",", ".", regex=False)
                           if text.str.fullmatch(r"-?\d+,\d+").fillna(False).any() else text,
                           errors="coerce").astype(float)
    empty = text.isna() | (text == "") | text.str.lower().isin(["na", "nan", "null", "-"])
    not_numeric = values.isna() & ~empty
    negative = values < 0
    dup = when.duplicated(keep="first")
    valid = values.notna() & ~negative & ~dup

    flags = pd.Series("", index=raw.index, dtype=object)
    for mask, code in ((not_numeric, "not_numeric"), (empty, "missing_value"),
                       (negative, "negative_value"), (dup, "duplicate_timestamp")):
        flags[mask.to_numpy()] = flags[mask.to_numpy()] + ";" + code

    day = when.dt.normalize()
    q = pd.Series(np.where(valid, values * DISCHARGE_TO_M3S[unit], np.nan), index=raw.index)
    frame = pd.DataFrame({"day": day, "q": q, "valid": valid, "flags": flags})
    grouped = frame.groupby("day", sort=True)
    daily_q = grouped["q"].mean()
    n_obs = grouped["valid"].sum().astype(int)
    day_flags = grouped["flags"].agg(lambda s: ";".join(sorted({c for f in s for c in
                                                                 f.split(";") if c})))
    if daily_q.notna().sum() == 0:
        raise DataError(f"{source}: no usable discharge value in column {vcol!r}.")

    index = pd.date_range(daily_q.index.min(), daily_q.index.max(), freq="D", name="date")
    out = pd.DataFrame(index=index)
    out["discharge_m3s"] = daily_q.reindex(index).astype(float)
    out["n_obs"] = n_obs.reindex(index, fill_value=0).astype(int)
    out["qa_flags"] = day_flags.reindex(index, fill_value="").astype(object)

    gaps: list[Gap] = []
    missing = out["discharge_m3s"].isna().to_numpy()
    long_gaps = []
    n = len(out)
    interp = out["discharge_m3s"].interpolate(method="time", limit_area="inside")
    for start, stop in find_gaps(~missing):
        length = stop - start
        inside = start > 0 and stop < n
        fill = inside and length <= max_gap_days
        g = Gap(index[start], index[stop - 1], length, fill)
        gaps.append(g)
        code = "interpolated" if fill else "missing"
        for i in range(start, stop):
            f = out.iat[i, 2]
            out.iat[i, 2] = f"{f};{code}" if f else code
        if fill:
            out.iloc[start:stop, 0] = interp.iloc[start:stop].to_numpy()
        else:
            long_gaps.append(g)
    if long_gaps and not allow_gaps:
        listed = ", ".join(str(g) for g in long_gaps[:5])
        more = f" and {len(long_gaps) - 5} more" if len(long_gaps) > 5 else ""
        raise DataError(
            f"{source}: discharge is missing on {sum(g.n_days for g in long_gaps)} day(s) that "
            f"cannot be interpolated (gaps longer than {max_gap_days} days or at the ends of the "
            f"record): {listed}{more}. Fill them, raise --max-gap-days, or pass --allow-gaps "
            "(allow_gaps=True) to estimate with those days missing."
        )
    counts = {}
    for col in extra_columns or ():
        if col not in raw.columns:
            raise MissingColumnError(
                f"{source}: no column {col!r}; columns found: {', '.join(raw.columns)}.")
        txt = raw[col].astype("string").str.strip()
        vals = pd.to_numeric(txt, errors="coerce").astype(float)
        bad = vals.isna() & ~(txt.isna() | (txt == ""))
        if bad.any():
            counts[f"not_numeric:{col}"] = int(bad.sum())
        ok_rows = (~dup).to_numpy()
        out[col] = vals[ok_rows].groupby(day[ok_rows]).mean().reindex(index).to_numpy()
    for f in out["qa_flags"]:
        for c in filter(None, f.split(";")):
            counts[c] = counts.get(c, 0) + 1
    out.attrs.update({
        "source": source,
        "q_unit": unit,
        "date_column": dcol,
        "value_column": vcol,
        "gaps": gaps,
        "n_missing_days": int(out["discharge_m3s"].isna().sum()),
        "flag_counts": counts,
        "n_raw_values": len(raw),
    })
    return out


def runoff_depth_mm(q_m3s: ArrayLike, area_km2: float, *, per: str = "year"):
    """Runoff depth from discharge over a catchment area.

    Parameters
    ----------
    q_m3s : float or array_like
        Mean discharge [m³ s⁻¹] (NaN stays NaN).
    area_km2 : float
        Catchment area [km²], > 0.
    per : {"year", "day"}
        Return mm per Julian year (3.15576e7 s) or per day (86 400 s).

    Returns
    -------
    float or ndarray
        Runoff depth [mm yr⁻¹] or [mm d⁻¹].

    Examples
    --------
    1 m³ s⁻¹ over 100 km² is 315.6 mm yr⁻¹ (science.md section 0: R = 0.3156 m a⁻¹).

    >>> round(float(runoff_depth_mm(1.0, 100.0)), 1)
    315.6
    """
    if not (np.isfinite(area_km2) and area_km2 > 0):
        raise DataError(f"area_km2 must be a positive number of km², got {area_km2!r}.")
    seconds = {"year": SECONDS_PER_YEAR, "day": SECONDS_PER_DAY}.get(per)
    if seconds is None:
        raise ValueError(f"per must be 'year' or 'day', got {per!r}.")
    q = np.asarray(q_m3s, dtype=float) if not np.isscalar(q_m3s) else float(q_m3s)
    return q * seconds / (area_km2 * 1e6) * 1e3
