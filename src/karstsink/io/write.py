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
"""

from __future__ import annotations

import csv
import io
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


def write_csv(frame: pd.DataFrame, path: str | os.PathLike, *, encoding: str = "utf-8",
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
    encoding : str, default "utf-8"
        Text encoding (no byte-order mark).
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

    if isinstance(frame.columns, pd.MultiIndex) or frame.shape[1] < 2:
        frame.to_csv(path, index=False, encoding=encoding)
        return
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


__all__ = ["format_float_rows", "write_csv"]
