"""Reading table files into rows of text: the one file reader of karstsink.

Every table the package reads (field samples, flux samples, discharge records)
comes through :func:`read_rows`.  Everything is read as text so that the user's
own columns come back exactly as written.  CSV encodings are detected (UTF-8
with or without BOM, UTF-16 with BOM, GB18030/GBK) without ever silently
producing mojibake; delimiters (``,`` ``;`` tab ``|``) are sniffed; XLSX is read
with openpyxl.  :func:`read_table` gives a table whose first row is its header
as a DataFrame of text cells.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import io
import operator
import re
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from ..exceptions import DataError

if TYPE_CHECKING:  # pandas is imported where a DataFrame is built
    import pandas as pd

_DELIMITERS = ("\t", ";", ",", "|")


def decode_bytes(raw: bytes, path: Path, encoding: str | None) -> tuple[str, str]:
    """Decode a CSV file's bytes; return ``(text, encoding used)``."""
    if encoding is not None:
        try:
            return raw.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as err:
            raise DataError(
                f"{path}: cannot be read as {encoding!r} ({err}); check the encoding "
                "or leave it unset to detect it."
            ) from err
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16"), "utf-16"
    try:
        return raw.decode("utf-8-sig"), ("utf-8-sig" if raw.startswith(b"\xef\xbb\xbf")
                                         else "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and mostly_gb2312(text):
        return text, "gb18030"
    raise DataError(
        f"{path}: the text encoding is neither UTF-8 nor GBK/GB18030; pass the encoding "
        "(e.g. encoding='latin-1' or 'cp1252') or save the file as UTF-8."
    )


def mostly_gb2312(text: str) -> bool:
    """Whether the non-ASCII characters of ``text`` are at least 80 % GB2312 characters.

    Chinese lab files and place names use GB2312 characters almost exclusively, while
    Latin-1/cp1252 bytes (``'°C'`` = ``b'\\xb0C'``) decoded as GBK give rare GBK-extension
    characters: the test that tells Chinese text from bytes decoded in the wrong encoding.
    """
    odd = common = 0
    for ch in text:
        if ord(ch) < 128:
            continue
        try:
            ch.encode("gb2312")
            common += 1
        except UnicodeEncodeError:
            odd += 1
    return odd <= 0.2 * (odd + common)


@contextlib.contextmanager
def _long_fields():
    """Let the csv module read fields of any length (its default limit is 131,072 chars)."""
    before = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(before)


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits most of the first lines into the same number of fields."""
    head = text[:65536].splitlines()  # the first 40 lines, without splitting the whole file
    if len(head) <= 40:
        head = text.splitlines()
    lines = [ln for ln in head[:40] if ln.strip()]
    best, best_score = ",", (-1, -1)
    for rank, delim in enumerate(_DELIMITERS):
        with _long_fields():
            counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        _mode, freq = Counter(multi).most_common(1)[0]
        score = (freq, -rank)
        if score > best_score:
            best, best_score = delim, score
    return best


def read_csv_rows(path: Path, encoding: str | None, comment: str | None = None
                  ) -> tuple[list[list[str]], dict]:
    """Read a delimited text file into rows of cells (blank and comment lines dropped)."""
    raw = path.read_bytes()
    text, used = decode_bytes(raw, path, encoding)
    if comment:  # whole comment lines become blank lines: line numbers stay right
        text = re.sub(rf"(?m)^[ \t]*{re.escape(comment)}[^\r\n]*", "", text)
    delim = sniff_delimiter(text)
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        start = 1
        with _long_fields():  # a long notes cell (or a line over 131,072 chars) is fine
            if '"' not in text:  # no quoted cell, so no cell spans lines: row k is line k
                records = list(reader)
                rows = [r for r in records if r]
                lines = [k for k, r in enumerate(records, start=1) if r]
            else:
                for row in reader:
                    if row:
                        rows.append(row)
                        lines.append(start)
                    start = reader.line_num + 1
    except csv.Error as err:
        raise DataError(
            f"{path}: not a readable delimited text file near line {reader.line_num} ({err})."
        ) from err
    return rows, {"encoding": used, "delimiter": delim, "format": "csv", "lines": lines}


def _xlsx_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, _dt.datetime):
        return value.date().isoformat() if value.time() == _dt.time(0) else value.isoformat(
            sep=" ")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path: Path) -> bool:
    """True if any worksheet of the workbook holds a formula (a ``<f>`` element)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as zf:
            return any(_FORMULA_TAG.search(zf.read(name)) for name in zf.namelist()
                       if name.startswith("xl/worksheets/") and name.endswith(".xml"))
    except (zipfile.BadZipFile, OSError, KeyError):
        return False


_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*\bref=\"([A-Z]+[0-9]+(?::[A-Z]+[0-9]+)?)\"")


def _sheet_part(zf, title: str) -> str | None:
    """The zip member holding worksheet ``title`` (workbook.xml and its relationships)."""
    import xml.etree.ElementTree as ET

    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    book = ET.fromstring(zf.read("xl/workbook.xml"))
    rid = next((el.get(f"{ns_rel}id") for el in book.iter(f"{ns_main}sheet")
                if el.get("name") == title), None)
    rels = ET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    target = next((el.get("Target") for el in rels if el.get("Id") == rid), None)
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else f"xl/{target}"


def _merged_ranges(path: Path, title: str) -> list[tuple[int, int, int, int]]:
    """0-based ``(first row, first column, last row, last column)`` of each merged range of
    worksheet ``title``, read from that sheet's XML (``<mergeCell ref="A1:B2"/>``) only."""
    import zipfile

    from openpyxl.utils.cell import range_boundaries

    try:
        with zipfile.ZipFile(path) as zf:
            part = _sheet_part(zf, title)
            refs = _MERGE_REF.findall(zf.read(part)) if part else []
    except (zipfile.BadZipFile, OSError, KeyError, SyntaxError):
        return []
    out = []
    for ref in refs:
        c0, r0, c1, r1 = range_boundaries(ref.decode("ascii"))
        out.append((r0 - 1, c0 - 1, r1 - 1, c1 - 1))
    return out


def _fill_merged(rows: list[list[str]], merged: list[tuple[int, int, int, int]]) -> None:
    """Give every cell of a merged range within one column the text of its first cell, as
    the sheet shows it (a site merged over three samples names each; a name merged down a
    two-row header names its column).  A range across columns is left to its first cell:
    a number merged over two quantities' columns is no value of the second."""
    for r0, c0, r1, c1 in merged:
        if c0 != c1 or r0 >= len(rows) or c0 >= len(rows[r0]):
            continue
        text = rows[r0][c0]
        for r in range(r0 + 1, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            row.extend([""] * (c0 + 1 - len(row)))
            row[c0] = text


def _formula_cells(path: Path, title: str, rows: list[list[str]]) -> list[tuple[int, int]]:
    """(row, column) of the cells that hold a formula but no stored (cached) value.

    openpyxl reads the value Excel stored with each formula; a workbook written
    by a program that does not compute formulas has none, and the cell would be
    read as empty.
    """
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        found = []
        for i, row in enumerate(wb[title].iter_rows(values_only=True)):
            for j, value in enumerate(row):
                formula = (isinstance(value, str) and value.startswith("=")) or (
                    value is not None and type(value).__name__ in ("ArrayFormula",
                                                                   "DataTableFormula"))
                if formula and i < len(rows) and j < len(rows[i]) and not rows[i][j]:
                    found.append((i, j))
        return found
    finally:
        wb.close()


#: file suffixes read as XLSX workbooks (anything else is delimited text)
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def _pick_sheet(path: Path, sheet: str | int | None, names: list[str],
                charts: list[str]) -> str:
    """The title of the worksheet ``sheet`` asks for (see :func:`read_xlsx_rows`)."""
    if sheet is None:
        return names[0]
    if isinstance(sheet, str):
        if sheet in names:  # a sheet named '2022' is that sheet, not worksheet number 2022
            return sheet
        if sheet in charts:
            raise DataError(f"{path}: sheet {sheet!r} is a chart sheet, not a table; the "
                            f"worksheets are {names}.")
        text = sheet.strip()
        if not (text.isascii() and text.isdigit()):
            raise DataError(f"{path}: no sheet named {sheet!r}; sheets are {names}.")
        number = int(text)
        missing = f"no sheet named {sheet!r} and no sheet number {number}"
    else:
        try:
            if isinstance(sheet, bool):
                raise TypeError
            number = operator.index(sheet)  # an int, also numpy's
        except TypeError:  # a float, a list...
            raise DataError(f"{path}: sheet must be a sheet name or a 0-based number, not "
                            f"{sheet!r}; sheets are {names}.") from None
        missing = f"no sheet number {number}"
    if not 0 <= number < len(names):
        raise DataError(f"{path}: {missing}; sheets are {names}, numbered from 0"
                        + (f" (chart sheets {charts} are not counted)." if charts else "."))
    return names[number]


def read_xlsx_rows(path: Path, sheet: str | int | None) -> tuple[list[list[str]], dict]:
    """Read one worksheet of an XLSX workbook into rows of text cells.

    ``sheet``: None for the first worksheet, a 0-based worksheet number, or a
    text.  A text is the sheet of exactly that name when there is one, so the
    sheet named ``"2022"`` wins; only when no sheet has that name is a text of
    digits (``"1"``, as a command line gives it) taken as a number.  Chart
    sheets are not tables: ``sheet=None`` takes the first worksheet and a sheet
    number counts worksheets only.  ``info["formula_cells"]`` lists the
    ``(row, column)`` of formula cells without a stored value (read as ``""``).
    Every cell of a range merged down one column holds the text of its first cell, as
    the sheet shows it (a site merged over three samples names each of them; a name
    merged down a two-row header names its column); a range across columns keeps its
    text in its first cell only.  ``info["merged_cells"]`` lists the ranges, 0-based
    ``(first row, first column, last row, last column)``.
    """
    import openpyxl  # deferred: only XLSX needs it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise DataError(f"{path}: not a readable .xlsx workbook ({err}).") from err
    try:
        names = [ws.title for ws in wb.worksheets]
        charts = [cs.title for cs in wb.chartsheets]
        if not names:
            raise DataError(f"{path}: the workbook holds only chart sheets ({charts}) and no "
                            "worksheet with a table; export the data sheet or save it as CSV.")
        ws = wb[_pick_sheet(path, sheet, names, charts)]
        # serial day numbers count from 1904-01-01 in a 1904-date-system workbook
        epoch = "1904-01-01" if getattr(wb, "epoch", None) == _dt.datetime(1904, 1, 1) else None
        rows = [[_xlsx_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        title = ws.title
        lines = list(range(1, len(rows) + 1))
    finally:
        wb.close()
    formulas = _formula_cells(path, title, rows) if _has_formulas(path) else []
    merged = _merged_ranges(path, title)
    _fill_merged(rows, merged)
    info = {"encoding": None, "delimiter": None, "format": "xlsx", "sheet": title,
            "lines": lines, "formula_cells": formulas, "merged_cells": merged}
    if epoch:
        info["excel_epoch"] = epoch
    return rows, info


def read_rows(path: Path, *, sheet=None, encoding: str | None = None,
              comment: str | None = None) -> tuple[list[list[str]], dict]:
    """Read a CSV/TSV/TXT or XLSX file into rows of text cells.

    Parameters
    ----------
    path : pathlib.Path
        The file; ``.xlsx``/``.xlsm`` are workbooks, anything else delimited text.
    sheet : str or int, optional
        Worksheet name or 0-based number (XLSX only: given for another file, a
        DataError; default the first).  A text
        names a sheet first; a text of digits that names no sheet is a number
        (see :func:`read_xlsx_rows`).
    encoding : str, optional
        Text encoding; detected when not given.
    comment : str, optional
        Lines (rows) whose first non-blank text starts with this are dropped.

    Returns
    -------
    rows : list of list of str
    info : dict
        ``encoding``, ``delimiter``, ``format`` (``csv``/``xlsx``), ``lines`` (the
        1-based file line or sheet row of each row) and, for XLSX, ``sheet`` and
        ``formula_cells`` (``(row, column)`` indices of formula cells without a stored
        value, read as ``""``).
    """
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if sheet is not None and suffix not in WORKBOOK_SUFFIXES:  # never ignored in silence
        raise DataError(f"{path}: sheet {sheet!r} chooses a worksheet of an XLSX workbook, and "
                        "this file is not one: leave the sheet out.")
    if suffix in WORKBOOK_SUFFIXES:
        rows, info = read_xlsx_rows(path, sheet)
        if comment:
            keep = [i for i, r in enumerate(rows)
                    if not (r and r[0].lstrip().startswith(comment))]
            rows = [rows[i] for i in keep]
            info["lines"] = [info["lines"][i] for i in keep]
            new_index = {old: new for new, old in enumerate(keep)}
            info["formula_cells"] = [(new_index[i], j) for i, j in info["formula_cells"]
                                     if i in new_index]
        return rows, info
    if suffix == ".xls":
        raise DataError(f"{path}: old .xls workbooks are not supported; save it as .xlsx or CSV.")
    return read_csv_rows(path, encoding, comment)


def read_table(path: Path, *, sheet=None, encoding: str | None = None, comment: str | None = "#"
               ) -> tuple[pd.DataFrame, dict]:
    """Read a table whose first row (after comment lines) is its header, as text cells.

    Blank rows are skipped; cells and column names are stripped of surrounding
    spaces; a short row is padded with empty cells; an empty header cell becomes
    ``column_<n>`` and a repeated name gets ``.1``, ``.2``... as pandas does.

    Returns
    -------
    table : pandas.DataFrame
        Text (``str``) columns, ``""`` for an empty cell.
    info : dict
        As :func:`read_rows`, with ``lines`` the file line of each data row,
        ``header_line`` the line of the header and, for XLSX, ``formula_cells`` as
        ``(data row, column name)``.

    Raises
    ------
    DataError
        No table at all, or a row with more cells than the header.
    """
    import pandas as pd  # lazily: the map process never loads pandas
    rows, info = read_rows(path, sheet=sheet, encoding=encoding, comment=comment)
    lines = info.pop("lines")
    keep = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not keep:
        raise DataError(f"{path}: the file holds no table.")
    header = [c.strip() for c in rows[keep[0]]]
    while header and not header[-1]:
        header.pop()  # trailing delimiters / XLSX padding
    names: list[str] = []
    for j, name in enumerate(header):
        name = name or f"column_{j + 1}"
        base, k = name, 0
        while name in names:
            k += 1
            name = f"{base}.{k}"
        names.append(name)
    width = len(names)
    if any(r0 == keep[0] and c0 == 0 and c1 >= max(width - 1, 1)  # one cell across the sheet
           for r0, c0, _r1, c1 in info.get("merged_cells", ())):
        raise DataError(f"{path}: line {lines[keep[0]]} is one merged cell, a title: a "
                        "table's first row must be its header; delete the title row(s) above it.")
    body: list[list[str]] = []
    body_lines: list[int] = []
    for i in keep[1:]:
        row = [c.strip() for c in rows[i]]
        if len(row) > width:
            if any(row[width:]):
                fix = (f"if line {lines[keep[0]]} is a title, delete the title row(s) above "
                       "the header (a table's first row must be its header), else fix the row"
                       if width == 1 else "fix the row" if info.get("format") == "xlsx"
                       else "quote cells that contain the delimiter or fix the row")
                raise DataError(
                    f"{path}: line {lines[i]} has {len(row)} cells but the header "
                    f"(line {lines[keep[0]]}) names {width} column{'s' * (width != 1)}; "
                    f"{fix}.")
            row = row[:width]
        body.append(row + [""] * (width - len(row)))
        body_lines.append(lines[i])
    table = pd.DataFrame(
        {n: pd.Series([r[j] for r in body], dtype="str") for j, n in enumerate(names)})
    info.update(lines=body_lines, header_line=lines[keep[0]])
    if info.get("formula_cells"):  # (data row, column name) of the table
        row_of = {i: k for k, i in enumerate(keep[1:])}
        info["formula_cells"] = [(row_of[i], names[j]) for i, j in info["formula_cells"]
                                 if i in row_of and j < width]
    return table, info
