"""Reading discharge records: unit conversion, daily means, gaps and QA flags.

:func:`read_discharge` turns a discharge CSV/TSV/XLSX (daily or sub-daily) into
the daily table every flux estimator takes: a ``DatetimeIndex`` named ``date``
and the columns ``discharge_m3s`` [m³ s⁻¹], ``n_obs`` (raw values averaged
into the day) and ``qa_flags``.  Bad values are flagged and left out of the
daily mean, never dropped silently; short gaps are interpolated and flagged;
long gaps stop the run unless the caller allows them.

The file is read by the reader, header matcher, cell parser and date parser
that read field samples (:mod:`karstsink.io.text`, :mod:`karstsink.io.headers`,
:mod:`karstsink.io.cells`); this module knows only what a discharge record means.
Runoff depth is in :mod:`karstsink.hydrology`, which also re-exports this
module's public names.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from .. import qa
from ..exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from ..units import DISCHARGE_TO_M3S, normalize_discharge_unit
from . import cells, dates
from ._sample_table import parse_date_column
from .discharge_headers import discharge_unit_in_header, match_discharge_header
from .text import read_table

#: Longest gap inside a discharge record filled by linear interpolation [d] (flag
#: ``interpolated``, whose threshold in the rule book it is); a longer one is refused
#: unless ``allow_gaps``.
DEFAULT_MAX_GAP_DAYS = int(cast(float, qa.threshold("interpolated")))

__all__ = ["Gap", "find_gaps", "read_discharge"]


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


def _load(path_or_df: str | os.PathLike | pd.DataFrame, what: str, sheet: str | int | None = None
          ) -> tuple[pd.DataFrame, str, dict | None]:
    """The table, its source label and the reader's info (None for an in-memory table)."""
    if isinstance(path_or_df, pd.DataFrame):
        df = path_or_df.copy()
        source = str(df.attrs.get("source", f"{what} table"))
        info = None
    else:
        source = os.fspath(path_or_df)
        if not os.path.exists(source):
            raise FileNotFoundError(f"{what.capitalize()} file not found: {source}")
        df, info = read_table(Path(source), comment="#", sheet=sheet)
    df.columns = [str(c).strip() for c in df.columns]
    return df, source, info


def _pick_columns(df: pd.DataFrame, source: str, date_column, value_column, extra_columns):
    """``(date column, time column or None, discharge column)`` of a discharge table."""
    cols = [str(c) for c in df.columns]
    keys: dict[str, str | None] = {}
    for c in cols:
        try:
            hit = match_discharge_header(c)
        except UnitError:  # 'Q (gal/min)': a discharge column; its unit is checked later
            keys[c] = "discharge"
            continue
        keys[c] = hit.key if hit is not None else None
    if date_column is None:
        date_column = next((c for c in cols if keys[c] == "date"), None) or next(
            (c for c in cols if keys[c] == "time"), cols[0])
    elif date_column not in cols:
        raise MissingColumnError(
            f"{source}: no date column {date_column!r}; columns found: {', '.join(cols)}."
        )
    time_column = None
    date_text = df[date_column].tolist()
    if not any(":" in str(t) for t in date_text):  # dates without a time: a time column?
        # 'time', or a date-like name holding clock times ('日期' + '时间': 时间 is the
        # date in many Chinese tables, here the time of day)
        time_column = next((c for c in cols if c != date_column
                            and keys[c] in ("time", "date", "datetime")
                            and dates.is_clock_time(cells.text_cells(df[c]))), None)
    if value_column is None:
        taken = {date_column, time_column, *(extra_columns or ())}
        others = [c for c in cols if c not in taken]
        named = [c for c in others if keys[c] == "discharge"]

        def has_unit(c: str) -> bool:
            try:
                return discharge_unit_in_header(c) is not None
            except UnitError:
                return False

        with_unit = [c for c in others if has_unit(c)]
        if named:
            value_column = named[0]
        elif with_unit:
            value_column = with_unit[0]
        elif len(others) == 1:
            value_column = others[0]
        else:
            raise MissingColumnError(
                f"{source}: cannot tell which column holds discharge (columns: "
                f"{', '.join(cols)}); name it 'discharge (m3/s)' or pass "
                "value_column= / --q-column."
            )
    elif value_column not in cols:
        raise MissingColumnError(
            f"{source}: no discharge column {value_column!r}; columns found: {', '.join(cols)}."
        )
    return date_column, time_column, value_column


def _where(source: str, lines: list[int] | None, i: int) -> str:
    """``file: line N (data row k)`` for a file, ``table: data row k`` for a frame."""
    return (f"{source}: line {lines[i]} (data row {i + 1})" if lines is not None
            else f"{source}: data row {i + 1}")


def _decimal_comma(texts: list[str], source: str, column: str, info: dict | None,
                   notes: list[str]) -> bool:
    """Whether a numeric column writes decimal commas, decided once for the column.

    A cell such as ``1,5`` says decimal comma, ``1.5`` decimal point; ``1,051``
    says neither, and follows the file: a decimal comma in a ``;``-separated
    file, a thousands separator otherwise (noted).  Both kinds in one column
    are an error.
    """
    comma, dot = cells.decimal_mark_examples(texts)
    if comma and dot:
        raise DataError(
            f"{source}: column {column!r} writes decimals both with a comma ({comma[0]!r}) "
            f"and with a point ({dot[0]!r}); write every number of the column the same way."
        )
    if comma or dot:
        return bool(comma)
    semicolon = info is not None and info.get("delimiter") == ";"
    undecided = next((t for t in texts if "," in t and any(ch.isdigit() for ch in t)), None)
    if undecided is not None:
        notes.append(
            f"column {column!r}: numbers like {undecided!r} read with "
            + ("a decimal comma, as usual in a ';'-separated file"
               if semicolon else "',' as a thousands separator"))
    return semicolon


def _read_dates(date_text: list[str], time_text: list[str] | None, source: str, column: str,
                lines: list[int] | None, date_format: str | None, notes: list[str],
                excel_epoch: str | None = None) -> np.ndarray:
    """Timestamps of a date column (:func:`karstsink.io.samples.parse_date_column`).

    Raises
    ------
    DataError
        A cell that is no date or is empty (its line, column and text are named),
        or a column whose day/month order is ambiguous (pass ``date_format``).
    """
    stamps, bad, note = parse_date_column(date_text, time_text, date_format=date_format,
                                          source=source, column=column,
                                          excel_epoch=excel_epoch)
    if note:
        notes.append(f"column {column!r}: {note}")
    bad = bad | np.isnat(stamps)  # an empty date cell in a data row is no date either
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        n_bad = int(bad.sum())
        more = f" ({n_bad} unreadable dates in all)" if n_bad > 1 else ""
        how = f" with date_format={date_format!r}" if date_format is not None else ""
        fix = ("fix the cell or the format" if date_format is not None else
               "write dates as YYYY-MM-DD or 'YYYY-MM-DD HH:MM', or pass date_format= / "
               "--date-format")
        what = (f"cannot read the date {date_text[i]!r}{how}" if date_text[i].strip()
                else "the date is empty")
        raise DataError(f"{_where(source, lines, i)}, column {column!r}: {what}{more}; {fix}.")
    return stamps


def describe_unusable(masks: dict[str, np.ndarray], text: list[str]) -> str:
    """Why no cell of a column is usable: ``all 731 cells empty`` or a count per reason.

    ``masks`` maps a reason (``"empty"``, ``"not numeric"``...) to a boolean mask of
    the cells; every reason but ``"empty"`` shows its first cell of ``text``, e.g.
    ``12 not numeric (e.g. 'abc'), 19 negative (e.g. '-1') of 31 cells``.
    """
    n = len(text)
    parts = []
    for what, mask in masks.items():
        m = np.asarray(mask, dtype=bool)
        if m.any():
            i = int(np.flatnonzero(m)[0])
            eg = f"e.g. {text[i]!r}" if what != "empty" and text[i].strip() else ""
            parts.append((int(m.sum()), what, eg))
    if len(parts) == 1 and parts[0][0] == n:
        return f"all {n} cells {parts[0][1]}" + (f", {parts[0][2]}" if parts[0][2] else "")
    return ", ".join(f"{k} {what}" + (f" ({eg})" if eg else "") for k, what, eg in parts) \
        + f" of {n} cells"


def _warn_left_out(source: str, lines: list[int] | None, text: list[str], not_numeric,
                   sentinel, negative, dup) -> None:
    """One DataQualityWarning counting the raw values left out of the daily means."""
    counts = [(int(np.asarray(m).sum()), code) for m, code in (
        (not_numeric, "not_numeric"), (sentinel, "sentinel_value"), (negative, "negative_value"),
        (dup, "duplicate_timestamp"))]
    counts = [(k, code) for k, code in counts if k]
    if not counts:
        return
    rows = np.asarray(not_numeric) | np.asarray(sentinel) | np.asarray(negative) | \
        np.asarray(dup)
    first = int(np.flatnonzero(rows)[0])
    warnings.warn(  # a row can carry two of the flags: count rows
        f"{source}: {int(rows.sum())} discharge value(s) left out of the daily "
        f"means and flagged ({', '.join(f'{k} {c}' for k, c in counts)}; first "
        f"{_where(source, lines, first).removeprefix(source + ': ')}: {text[first]!r}).",
        DataQualityWarning, stacklevel=3)


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


def daily_mean(when: pd.Series, values: pd.Series, ok: np.ndarray) -> pd.Series:
    """Time-weighted daily means of readings ``values`` taken at ``when`` (naive timestamps).

    Each usable reading stands for the time from halfway to the day's previous reading to
    halfway to its next; the day's first and last readings, which have a neighbour on one
    side only, stand for as long as the gap to it, and a day's only reading is that day's
    value. So evenly spaced readings give their arithmetic mean whatever their clock times
    (hourly at :00 or :30, twice a day), while a logger that reads every 15 minutes in a
    flood and hourly otherwise does not give the flood four times its weight. Only rows
    where ``ok`` and the value is a number count.

    Returns
    -------
    pandas.Series
        Indexed by every day that has a row (midnight timestamps, sorted); NaN on a day
        without a usable reading.
    """
    t = when.to_numpy(dtype="datetime64[ns]")
    x = np.asarray(values, dtype=float)
    use = np.flatnonzero(np.asarray(ok, dtype=bool) & np.isfinite(x))
    use = use[np.argsort(t[use], kind="stable")]
    day = t[use].astype("datetime64[D]")
    hours = (t[use] - day).astype("timedelta64[ns]").astype(np.int64) / 3.6e12
    after = np.r_[day[1:] == day[:-1], False]  # a later reading the same day
    before = np.r_[False, after[:-1]]
    to_next = np.where(after, np.r_[hours[1:], 0.0] - hours, 0.0)
    from_prev = np.where(before, hours - np.r_[0.0, hours[:-1]], 0.0)
    weight = np.where(after & before, (to_next + from_prev) / 2,
                      np.where(after, to_next, np.where(before, from_prev, 1.0)))
    sums = pd.DataFrame({"day": day.astype("datetime64[ns]"), "wx": weight * x[use],
                         "w": weight}).groupby("day").sum()
    days = pd.DatetimeIndex(np.unique(t.astype("datetime64[D]")).astype("datetime64[ns]"))
    return (sums["wx"] / sums["w"]).reindex(days)


def read_discharge(
    path: str | os.PathLike | pd.DataFrame,
    *,
    q_unit: str | None = None,
    date_column: str | None = None,
    value_column: str | None = None,
    max_gap_days: int = DEFAULT_MAX_GAP_DAYS,
    allow_gaps: bool | None = False,
    extra_columns: list[str] | tuple[str, ...] | None = None,
    date_format: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a discharge record and return daily mean discharge with QA flags.

    Parameters
    ----------
    path : path-like or pandas.DataFrame
        CSV/TSV/XLSX file (or an already-read table) with a date or date-time
        column and a discharge column; lines starting with ``#`` are comments.
    q_unit : str, optional
        Discharge unit (``m3/s``, ``L/s``, ``ft3/s``/``cfs``, ``m3/d``, ``m3/h``) when the
        header does not say it (``Q (m3/s)``, ``Q_cfs``, ``discharge [L/s]``,
        ``流量(m³/s)``).  A header unit that contradicts ``q_unit`` is an error.
    date_column, value_column : str, optional
        Column names; by default the first column named like a date (``date``,
        ``datetime``, ``日期``...) and the first named like discharge (``Q``,
        ``discharge``, ``flow``, ``Qdaily``, ``流量``...), else the column whose
        header carries a discharge unit.  A separate clock-time column
        (``time``, ``10:30``) is joined to a date column without times.
    max_gap_days : int, default 7
        Gaps of at most this many days inside the record are filled by linear
        interpolation in time and flagged ``interpolated``.
    allow_gaps : bool or None, default False
        Keep longer gaps (and gaps at either end) as NaN days instead of
        raising; estimators then give NaN flux on those days and flag period
        totals as incomplete.  None: refuse them as False does, without
        offering ``--allow-gaps`` (a WRTDS trend needs every day).
    extra_columns : list of str, optional
        Other numeric columns to carry as (time-weighted) daily means under the same names
        (e.g. an EC logger column for the direct method's proxy, or specific
        conductance for LOADEST model 99); non-numeric cells and no-value sentinels
        (``-999``...) become NaN and are counted in ``attrs["flag_counts"]`` as
        ``not_numeric:<column>`` and ``sentinel_value:<column>``.
    date_format : str, optional
        A strftime format (``"%d/%m/%Y"``) for the dates; needed when the
        day/month order of ``dd/dd/yyyy`` dates cannot be told from the column
        (see :func:`karstsink.io.dates.parse_dates`).
    sheet : str or int, optional
        Worksheet of an XLSX workbook: the sheet of exactly that name, else a 0-based
        worksheet number (:func:`karstsink.io.text.read_xlsx_rows`) [default: the first].

    Returns
    -------
    pandas.DataFrame
        Indexed by a daily ``DatetimeIndex`` named ``date`` with columns
        ``discharge_m3s`` [m³ s⁻¹] (time-weighted daily mean of the valid raw values,
        :func:`daily_mean`),
        ``n_obs`` (number of valid raw values in the day) and ``qa_flags``
        (``;``-separated: ``interpolated``, ``missing``, ``duplicate_timestamp``,
        ``negative_value``, ``not_numeric``, ``missing_value``, ``sentinel_value``).
        ``attrs`` holds ``source``, ``q_unit``, ``date_column``, ``value_column``,
        ``gaps`` (list of :class:`Gap`), ``n_missing_days``, ``flag_counts``,
        ``n_raw_values`` and ``notes`` (how UTC offsets or undecided ``1,051``
        numbers were read).

    Raises
    ------
    DataError
        Unreadable or missing dates (the line, column and value are named),
        a date column whose day/month order is ambiguous (pass ``date_format``),
        a column writing decimals both as ``1,5`` and ``1.5``, no usable value at
        all (the cells are counted: empty, not numeric, negative), or gaps
        longer than ``max_gap_days`` (the date ranges are named) when
        ``allow_gaps`` is False.
    UnitError
        No unit in the header and no ``q_unit``, an unknown unit, or a header
        unit contradicting ``q_unit``.
    MissingColumnError
        The date or discharge column cannot be found.

    Warns
    -----
    DataQualityWarning
        Raw values left out of the daily means (negative, not numeric, no-value
        sentinels, repeated timestamps), counted by flag with the first one's line.

    Notes
    -----
    Files are read by the same reader, header matcher and cell parser as field
    samples (:mod:`karstsink.io.text`, :mod:`karstsink.io.headers`,
    :mod:`karstsink.io.cells`): whether ``,`` is a decimal mark is decided
    per column, never per cell, and so is the day/month order of dates; a
    no-value sentinel (:data:`karstsink.io.cells.SENTINEL_VALUES`: ``-99``,
    ``-999``, ``-9999``, ``-99999``) is flagged ``sentinel_value``, never a number.
    Sub-daily values are averaged over time within each calendar day (:func:`daily_mean`)
    (the timestamps' own clock: one UTC offset throughout is dropped; different
    offsets are converted to UTC first).  A negative or non-numeric value, or a
    repeated timestamp (every occurrence but the first with a usable value, or
    but the first when none has one), is flagged on its day and left out of
    the mean.
    """
    raw, source, info = _load(path, "discharge", sheet)
    lines = info["lines"] if info is not None else None
    if raw.shape[1] < 2:
        where = ""
        if info is not None and info.get("format") == "xlsx":  # perhaps a notes sheet
            where = f" in sheet {info['sheet']!r}" + (
                " (the first; choose the sheet with --discharge-sheet)" if sheet is None else "")
        raise DataError(f"{source}: needs a date column and a discharge column; found "
                        f"{list(raw.columns)}{where}.")
    if len(raw) == 0:
        raise DataError(f"{source}: the discharge file has no data rows.")
    dcol, tcol, vcol = _pick_columns(raw, source, date_column, value_column, extra_columns)

    try:
        header_unit = discharge_unit_in_header(vcol)
    except UnitError as err:
        raise UnitError(f"{source}: {err}, or pass --q-unit.") from err
    if q_unit is not None:
        unit = normalize_discharge_unit(q_unit)
        if header_unit is not None and header_unit != unit:
            raise UnitError(
                f"{source}: column {vcol!r} states {header_unit} in its header but q_unit= "
                f"(--q-unit) says {q_unit!r}; leave --q-unit out or correct the header."
            )
    elif header_unit is not None:
        unit = header_unit
    else:
        raise UnitError(
            f"{source}: the discharge column {vcol!r} gives no unit; pass --q-unit "
            "(q_unit=) m3/s, L/s, ft3/s, m3/d or m3/h, or write it in the header, e.g. 'Q (m3/s)'."
        )

    notes: list[str] = []
    when = pd.Series(_read_dates(cells.text_cells(raw[dcol]),
                                 cells.text_cells(raw[tcol]) if tcol is not None else None,
                                 source, dcol, lines, date_format, notes,
                                 (info or {}).get("excel_epoch")), index=raw.index)

    text = cells.text_cells(raw[vcol])
    values, status = cells.parse_column(
        text, _decimal_comma(text, source, vcol, info, notes))
    # -999, -9999... mean "no value": the samples reader's rule (cells.sentinel_mask)
    sentinel = pd.Series(cells.sentinel_mask(values, status), index=raw.index)
    values = pd.Series(np.where(sentinel, np.nan, values), index=raw.index)
    empty = pd.Series(status == cells.MISSING, index=raw.index)
    not_numeric = pd.Series((status != cells.OK) & (status != cells.MISSING), index=raw.index)
    negative = values < 0
    usable = values.notna() & ~negative & ~not_numeric  # (a sentinel is NaN)
    # of a repeated timestamp the first row with a usable value is kept (the first row when
    # none has one): rows with a usable value come first, each group in file order
    order = np.argsort(~usable.to_numpy(), kind="stable")
    dup = np.empty(len(when), dtype=bool)
    dup[order] = when.iloc[order].duplicated(keep="first").to_numpy()
    dup = pd.Series(dup, index=raw.index)
    valid = usable & ~dup

    zero = valid & (values == 0)  # no flow, or a 0 written for a missing reading
    flags = pd.Series("", index=raw.index, dtype=object)
    for mask, code in ((not_numeric, "not_numeric"), (empty, "missing_value"),
                       (sentinel, "sentinel_value"), (negative, "negative_value"),
                       (dup, "duplicate_timestamp"), (zero, "zero_flow")):
        flags[mask.to_numpy()] = flags[mask.to_numpy()] + ";" + code
    if zero.any():
        first = when[zero.to_numpy()].iloc[0]
        warnings.warn(
            f"{source}: {int(zero.sum())} reading(s) of zero discharge in column {vcol!r} "
            f"(first {first:%Y-%m-%d}), used as no flow (a flux of 0) and flagged zero_flow; "
            "if they stand for missing readings, leave those cells blank.",
            DataQualityWarning, stacklevel=2)

    day = when.dt.normalize()
    q = pd.Series(np.where(valid, values * DISCHARGE_TO_M3S[unit], np.nan), index=raw.index)
    frame = pd.DataFrame({"day": day, "q": q, "valid": valid, "flags": flags})
    grouped = frame.groupby("day", sort=True)
    daily_q = daily_mean(when, q, valid.to_numpy())
    n_obs = grouped["valid"].sum().astype(int)
    day_flags = grouped["flags"].agg(lambda s: qa.join(s))
    if daily_q.notna().sum() == 0:
        reasons = {"empty": empty, "not numeric": not_numeric,
                   "no-value sentinels": sentinel, "negative": negative}
        raise DataError(f"{source}: no usable discharge value in column {vcol!r} "
                        f"({describe_unusable(reasons, text)}); check the "
                        "column, or name the discharge column with --q-column (value_column=).")
    _warn_left_out(source, lines, text, not_numeric, sentinel, negative, dup)

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
        fix = ("Fill them or raise --max-gap-days (a trend needs every day)" if allow_gaps
               is None else "Fill them, raise --max-gap-days, or pass --allow-gaps "
               "(allow_gaps=True) to estimate with those days missing")
        raise DataError(
            f"{source}: discharge is missing on {sum(g.n_days for g in long_gaps)} day(s) that "
            f"cannot be interpolated (gaps longer than {max_gap_days} days or at the ends of the "
            f"record): {listed}{more}. {fix}.")
    counts = {}
    for col in extra_columns or ():
        if col not in raw.columns:
            raise MissingColumnError(
                f"{source}: no column {col!r}; columns found: {', '.join(raw.columns)}.")
        txt = cells.text_cells(raw[col])
        vals, st = cells.parse_column(txt, _decimal_comma(txt, source, col, info, notes))
        bad_cells = (st != cells.OK) & (st != cells.MISSING)
        no_value = cells.sentinel_mask(vals, st)
        vals = pd.Series(np.where(bad_cells | no_value, np.nan, vals), index=raw.index)
        for code, mask in (("not_numeric", bad_cells), ("sentinel_value", no_value)):
            if mask.any():
                counts[f"{code}:{col}"] = int(mask.sum())
        out[col] = daily_mean(when, vals, (~dup).to_numpy()).reindex(index).to_numpy()
    for f in out["qa_flags"]:
        for c in qa.split(f):
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
        "notes": notes,
    })
    return out
