"""Fast CSV writing: the bytes of ``DataFrame.to_csv(path, index=False)``, several times faster.

pandas formats every float with numpy (shortest round-trip repr, the same
text as Python's ``repr``) and passes each cell through the :mod:`csv`
module; most of its time goes to that bookkeeping.  :func:`write_csv` writes
the same bytes (same float text, so every number reads back as the same
float64; NaN and missing text as empty cells; quoting only where a cell holds
a comma, a double quote or a line break, as ``csv.QUOTE_MINIMAL`` does) by
formatting whole blocks of rows at once, and can hand the float formatting of
each block to worker processes.  Column types it has no fast path for
(datetimes, categoricals, nullable extension types) are formatted by pandas
itself, column by column, so their text is always pandas's.

Every CSV karstsink writes is UTF-8; for Excel (which opens a UTF-8 file
without a byte-order mark in the system's ANSI code page, e.g. GBK on Chinese
Windows, and shows its Chinese text garbled) :func:`excel_csv` switches them
to UTF-8 with a BOM (``utf-8-sig``) for as long as it is active
(``karstsink --excel``).  :func:`write_csv` and :func:`to_csv` follow it.

The JSON files beside the tables (``run.json``, ``model.json``, ``*.meta.json``) are all
made by :func:`json_text`: valid JSON for any reader, with no ``NaN``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a table is written, not by format_float_rows
    import pandas as pd

#: pandas writes ``100_000 // number of columns`` rows at a time (``CSVFormatter``); the
#: same blocks here keep the text of pandas-formatted columns (e.g. a datetime column that
#: is written without its time where a whole block is at midnight) identical.
_CHUNK_CELLS = 100_000

#: Encoding of every CSV written: plain UTF-8, or UTF-8 with a BOM while :func:`excel_csv`
#: is active (one setting for the whole process: worker threads write CSVs too).
_ENCODING = ["utf-8"]


def csv_encoding() -> str:
    """The encoding CSV outputs are written in now: ``"utf-8"``, or ``"utf-8-sig"`` for Excel."""
    return _ENCODING[0]


@contextlib.contextmanager
def excel_csv(enabled: bool = True) -> Iterator[None]:
    """Write every CSV as UTF-8 with a byte-order mark (``utf-8-sig``) inside this block.

    Excel detects UTF-8 only by the BOM (bytes ``EF BB BF``); without it a CSV
    opens in the ANSI code page (GBK on Chinese Windows) and Chinese text is
    garbled.  Every other reader used here (pandas, the csv module with
    ``utf-8-sig``, :func:`karstsink.read_samples`) reads the file either way.
    """
    previous = _ENCODING[0]
    _ENCODING[0] = "utf-8-sig" if enabled else "utf-8"
    try:
        yield
    finally:
        _ENCODING[0] = previous


def to_csv(frame: pd.DataFrame, path: str | os.PathLike, **kwargs: Any) -> None:
    """``frame.to_csv(path, **kwargs)`` in :func:`csv_encoding` (for tables with an index etc.).

    Use :func:`write_csv` (faster, same bytes) for ``index=False`` tables.
    """
    if "encoding" in kwargs:
        raise TypeError("to_csv: the encoding is set by excel_csv(), not per call")
    frame.to_csv(path, encoding=csv_encoding(), **kwargs)



def _quote_characters() -> str:
    """The characters that make ``csv.QUOTE_MINIMAL`` quote a cell, asked of the csv module.

    (Which line-break characters count depends on the Python version.)
    """
    found = ""
    for ch in ',"\r\n':
        buf = io.StringIO()
        csv.writer(buf, lineterminator=os.linesep).writerow([f"a{ch}b", "c"])
        if buf.getvalue().startswith('"'):
            found += ch
    return found


_NEEDS_QUOTES = re.compile("[" + re.escape(_quote_characters()) + "]").search


def _quote(text: str) -> str:
    """``text`` as ``csv.QUOTE_MINIMAL`` writes it with ``,`` and ``"``."""
    if _NEEDS_QUOTES(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def format_float_rows(arrays: list[np.ndarray]) -> list[list[str]]:
    """Each 2-D float array as one ``"v1,v2,..."`` string per row (repr; NaN -> empty).

    Top-level so that worker processes can run it for :func:`write_csv`.
    """
    out = []
    for arr in arrays:
        columns = []
        for col in arr.T:
            cells = list(map(repr, col.tolist()))
            for i in np.flatnonzero(np.isnan(col)).tolist():  # NaN -> empty; inf stays "inf"
                cells[i] = ""
            columns.append(cells)
        out.append(list(map(",".join, zip(*columns, strict=True))))
    return out


def _text_cells(values: np.ndarray) -> list[str] | None:
    """Cells of an object or string column, as the csv module writes them (None: no fast path)."""
    import pandas as pd

    cells = values.tolist()
    if all(type(v) is str for v in cells):  # the common case: text only, nothing missing
        return [_quote(v) for v in cells] if _NEEDS_QUOTES("".join(cells)) else cells
    missing = pd.isna(values)
    out = []
    for v, na in zip(values.tolist(), missing.tolist(), strict=True):
        if na:
            out.append("")
        elif isinstance(v, str):
            out.append(_quote(v))
        elif type(v) is float:  # the csv module writes repr() of a float, str() of an int
            out.append(repr(v))
        elif type(v) is int or type(v) is bool:
            out.append(str(v))
        else:  # numpy scalars, dates, decimals ...: pandas decides
            return None
    return out


def _pandas_cells(frame: pd.DataFrame, j: int, a: int, b: int) -> list[str]:
    """Cells of column ``j``, rows ``a:b``, formatted by pandas (then re-quoted as here)."""
    text = frame.iloc[a:b, [j]].to_csv(index=False, header=False, lineterminator="\n")
    return [_quote(row[0] if row else "") for row in csv.reader(io.StringIO(text))]


def _kinds(frame: pd.DataFrame) -> list[str]:
    import pandas as pd

    kinds = []
    for dtype in frame.dtypes.tolist():
        if isinstance(dtype, np.dtype) and dtype == np.float64:
            kinds.append("float")
        elif isinstance(dtype, np.dtype) and dtype.kind in "iub":
            kinds.append("int")
        elif (isinstance(dtype, np.dtype) and dtype.kind == "O") or isinstance(
                dtype, pd.StringDtype):
            kinds.append("text")
        else:
            kinds.append("pandas")
    return kinds


def _float_runs(kinds: list[str]) -> list[tuple[int, int]]:
    """Column ranges ``(j0, j1)`` of consecutive float64 columns."""
    runs, j = [], 0
    while j < len(kinds):
        if kinds[j] == "float":
            k = j
            while k < len(kinds) and kinds[k] == "float":
                k += 1
            runs.append((j, k))
            j = k
        else:
            j += 1
    return runs


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, encoding: str | None = None,
              parallel: Callable[[Callable[..., Any], Iterable[tuple[Any, ...]]],
                                 Iterable[Any]] | None = None,
              block_rows: int | None = None) -> None:
    """Write ``frame`` to ``path`` exactly as ``frame.to_csv(path, index=False)`` would.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its index is not written.
    path : str or path-like
        Destination file (overwritten).
    encoding : str, optional
        Text encoding; default :func:`csv_encoding` (UTF-8, with a byte-order
        mark inside :func:`excel_csv`).
    parallel : callable, optional
        ``parallel(fn, items)`` returning ``fn(*item)`` for every item in
        order, e.g. :meth:`karstsink.chemistry.engine.WorkerPool.imap`: the
        float formatting of each block then runs in those workers.
    block_rows : int, optional
        Rows formatted at a time (default: pandas's, 100,000 cells' worth).

    Notes
    -----
    Lines end with ``os.linesep``, as in pandas.  A table with a MultiIndex
    header or a single column is handed to pandas unchanged (the csv
    module quotes an empty cell that is alone on its line).
    """
    import pandas as pd

    if encoding is None:
        encoding = csv_encoding()
    if isinstance(frame.columns, pd.MultiIndex) or frame.shape[1] < 2:
        frame.to_csv(path, index=False, encoding=encoding)
        return
    # a view without attrs: pandas deep-copies attrs (e.g. speciate's provenance) on every
    # column or block taken below, and they are not written
    frame = frame.copy(deep=False)
    frame.attrs = {}
    kinds = _kinds(frame)
    runs = _float_runs(kinds)
    run_of = {j0: (j0, j1) for j0, j1 in runs}
    floats = [frame.iloc[:, j].to_numpy(dtype=float) for j in range(len(kinds))
              if kinds[j] == "float"]
    float_pos = {j: k for k, j in enumerate(j for j in range(len(kinds))
                                              if kinds[j] == "float")}
    n = len(frame)
    if block_rows is None:
        block_rows = max(1, _CHUNK_CELLS // len(kinds))
    blocks = [(a, min(a + block_rows, n)) for a in range(0, n, max(1, block_rows))]

    def float_items() -> Iterator[tuple[list[np.ndarray]]]:
        for a, b in blocks:
            yield ([np.column_stack([floats[float_pos[j]][a:b] for j in range(j0, j1)])
                    for j0, j1 in runs],)

    formatted = (parallel or _serial)(format_float_rows, float_items())
    header = ",".join(_quote(str(c)) for c in frame.columns)
    nl = os.linesep
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(header + nl)
        for (a, b), float_rows in zip(blocks, formatted, strict=True):
            segments: list[list[str]] = []
            j = 0
            run_index = 0
            while j < len(kinds):
                if j in run_of:
                    segments.append(float_rows[run_index])
                    run_index += 1
                    j = run_of[j][1]
                    continue
                segments.append(_cells(frame, j, a, b, kinds[j]))
                j += 1
            fh.write(nl.join(map(",".join, zip(*segments, strict=True))) + nl)


def _serial(fn: Callable[..., Any], items: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
    return (fn(*item) for item in items)


def _cells(frame: pd.DataFrame, j: int, a: int, b: int, kind: str) -> list[str]:
    col = frame.iloc[a:b, j]
    if kind == "int":
        return list(map(str, col.to_numpy().tolist()))
    if kind == "text":
        cells = _text_cells(col.to_numpy(dtype=object))
        if cells is not None:
            return cells
    return _pandas_cells(frame, j, a, b)


__all__ = ["csv_encoding", "excel_csv", "format_float_rows", "json_text", "to_csv",
           "write_columns", "write_csv"]


def write_columns(path: str | os.PathLike, cols: dict[str, Any]) -> None:
    """A table given as columns (name -> sequence), as CSV, without pandas (the map
    process never loads it): empty cells for None and NaN, floats as their shortest repr,
    lines ending in ``os.linesep`` (as :func:`write_csv` and pandas),
    UTF-8 (with a byte-order mark under :func:`excel_csv`)."""
    keys = list(cols)
    n = len(cols[keys[0]]) if keys else 0
    with open(path, "w", newline="", encoding=csv_encoding()) as fh:
        w = csv.writer(fh, lineterminator=os.linesep)  # as to_csv and write_csv
        w.writerow(keys)
        for i in range(n):
            w.writerow([_column_cell(cols[k][i]) for k in keys])


def _column_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if v != v else repr(v)  # NaN -> empty
    return str(v)


def json_text(doc: Any, *, tag: bool = False) -> str:
    """``doc`` as the text of a karstsink JSON file (``run.json``, ``model.json``, ``.meta.json``).

    Indented by 2, non-ASCII text as itself (write it as UTF-8), ending in a newline.
    numpy numbers and arrays become JSON numbers and lists; NaN and infinities, which
    JSON has not (``NaN`` breaks most readers), become ``null``; paths, dates and other
    objects their text.  ``tag=True``: on one line, keys sorted, no newline, for a
    GeoTIFF tag or NetCDF attribute (``karstsink_parameters``, ``karstsink_assumptions``).
    """
    value = _json_value(doc)
    if tag:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True)
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _json_value(o: Any) -> Any:
    if isinstance(o, dict):
        return {_json_key(k): _json_value(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_json_value(v) for v in o]
    if isinstance(o, np.ndarray):
        return _json_value(o.tolist())
    if isinstance(o, (np.datetime64, np.timedelta64)):
        # .item() of a nanosecond datetime64 is a bare integer: write the ISO text
        return None if np.isnat(o) else str(o)
    if isinstance(o, np.generic):
        return _json_value(o.item())
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if o is None or isinstance(o, (str, int)):
        return o
    return str(o)


def _json_key(k: Any) -> Any:
    if isinstance(k, (np.datetime64, np.timedelta64)):
        return None if np.isnat(k) else str(k)
    if isinstance(k, np.generic):
        k = k.item()
    if isinstance(k, float) and not math.isfinite(k):
        return None  # written "null", as a non-finite value is
    return k if k is None or isinstance(k, (str, int, float)) else str(k)
