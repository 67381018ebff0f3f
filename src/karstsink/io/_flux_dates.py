"""Sampling dates of a flux samples table (for :mod:`karstsink.io.flux_samples`).

:func:`_dates` takes the dates the one sample reader parsed (or parses a column the
caller names, with the same date parser), and an unreadable date raises one line
naming the file, line and cell; :func:`_repeated_dates` finds samples sharing a day.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import DataError, MissingColumnError
from . import cells
from ._sample_table import parse_date_column


def _line(table: pd.DataFrame, i: int) -> str:
    """``line L (data row i+1)`` for a file read by the sample reader, else ``data row``."""
    reader = table.attrs.get("reader") or {}
    runs = reader.get("line_runs") if reader.get("layout") != "long" else None
    if runs:
        start, line = max((r for r in runs if r[0] <= i), key=lambda r: r[0])
        return f"line {line + i - start} (data row {i + 1})"
    return f"data row {i + 1}"


def _dates(table: pd.DataFrame, date_column, date_format, source) -> tuple[np.ndarray, str]:
    """Sampling dates (datetime64[ns], NaT where empty); an unreadable date is an error."""
    colmap = table.attrs.get("column_map") or {}
    reader_date = next((h for h, k in colmap.items() if k == "date"), None)
    if date_column is not None and date_column not in table.columns:
        raise MissingColumnError(f"{source}: no date column {date_column!r}; columns found: "
                                 f"{', '.join(map(str, table.columns))}.")
    if date_column is not None and date_column != reader_date and date_column != "date":
        return _parsed(table, date_column, date_column, date_format, source), date_column
    if "date" not in table.columns or (colmap and reader_date is None):
        raise MissingColumnError(
            f"{source}: no date column (looked for 'date', 'Sampling date', 'Sample date', "
            f"'采样日期'...); columns found: {', '.join(map(str, table.columns))}. Pass "
            "date_column= / --date-column.")
    bad = table.attrs.get("bad_dates")
    if bad:
        _bad_date(source, table, bad["first_row"], bad["column"], bad["first_cell"],
                  bad["count"], date_format)
    column = str(reader_date or "date")
    if not pd.api.types.is_datetime64_any_dtype(table["date"]):
        # a table not from the one reader (text or date objects): the one date parser,
        # not pandas's guess (which reads 03/04/2020 as 4 March and drops 13/04/2020)
        return _parsed(table, "date", column, date_format, source), column
    when = pd.to_datetime(table["date"])
    if getattr(when.dt, "tz", None) is not None:
        when = when.dt.tz_localize(None)
    return when.to_numpy(dtype="datetime64[ns]"), column


def _parsed(table: pd.DataFrame, key, column: str, date_format, source) -> np.ndarray:
    """Column ``key`` of ``table`` (named ``column`` in messages) by the one date parser;
    an unreadable date is the one-line error of :func:`_bad_date`."""
    texts = cells.text_cells(table[key])
    when, bad, _ = parse_date_column(texts, date_format=date_format, source=source,
                                     column=column, excel_epoch=(table.attrs.get("reader") or {}
                                                                 ).get("excel_epoch"))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _bad_date(source, table, i, column, texts[i], int(bad.sum()), date_format)
    return when


def _bad_date(source, table, i, column, cell, count, date_format=None):
    """Raise the one-line error for an unreadable date: it blames the date (or the format)."""
    more = f" ({count} unreadable dates in all)" if count > 1 else ""
    if date_format is not None:
        raise DataError(
            f"{source}: {_line(table, i)}, column {column!r}: cannot read the date {cell!r} "
            f"with date_format={date_format!r} (--date-format){more}; fix the cell or the "
            "format.")
    raise DataError(
        f"{source}: {_line(table, i)}, column {column!r}: cannot read the date {cell!r}{more}; "
        "write dates as YYYY-MM-DD or pass date_format= / --date-format (e.g. '%d/%m/%Y').")


def _repeated_dates(when: np.ndarray, conc: np.ndarray, censored: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Rows sharing a day with another usable sample: ``(different value, exact copy)``.

    A copy (same date-time, value and censoring as an earlier row) is left out, as EGRET's
    ``removeDuplicates`` does (Hirsch & De Cicco 2015, USGS TM 4-A10,
    doi:10.3133/tm4A10); rows of one day with different values are all kept.
    """
    frame = pd.DataFrame({"when": when, "day": pd.Series(when).dt.normalize(), "conc": conc,
                          "cens": np.asarray(censored, dtype=bool)})
    ok = (frame["day"].notna() & np.isfinite(frame["conc"])).to_numpy()
    copy = ok & frame.duplicated(["when", "conc", "cens"], keep="first").to_numpy()
    kept = frame[ok & ~copy]
    shared = kept["day"].duplicated(keep=False)
    same_day = np.zeros(len(frame), dtype=bool)
    same_day[kept.index[shared.to_numpy()]] = True
    return same_day, copy
