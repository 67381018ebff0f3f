"""Reading sample files into rows of text for :mod:`karstsink.samples` (private).

Everything is read as text so that the user's own columns come back exactly as
written.  CSV encodings are detected (UTF-8 with or without BOM, UTF-16 with
BOM, GB18030/GBK) without ever silently producing mojibake; delimiters
(``,`` ``;`` tab ``|``) are sniffed; XLSX is read with openpyxl.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections import Counter
from pathlib import Path

from .exceptions import DataError

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
    if text is not None:
        # Chinese lab files use GB2312 characters almost exclusively; Latin-1/cp1252 bytes
        # ('°C' = b'\xb0C') decode as rare GBK-extension characters instead.  Refuse then.
        odd = common = 0
        for ch in text:
            if ord(ch) < 128:
                continue
            try:
                ch.encode("gb2312")
                common += 1
            except UnicodeEncodeError:
                odd += 1
        if odd <= 0.2 * (odd + common):
            return text, "gb18030"
    raise DataError(
        f"{path}: the text encoding is neither UTF-8 nor GBK/GB18030; pass the encoding "
        "(e.g. encoding='latin-1' or 'cp1252') or save the file as UTF-8."
    )


def sniff_delimiter(text: str) -> str:
    """Pick the delimiter that splits most of the first lines into the same number of fields."""
    lines = [ln for ln in text.splitlines()[:40] if ln.strip()]
    best, best_score = ",", (-1, -1)
    for rank, delim in enumerate(_DELIMITERS):
        counts = [len(r) for r in csv.reader(lines, delimiter=delim)]
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        _mode, freq = Counter(multi).most_common(1)[0]
        score = (freq, -rank)
        if score > best_score:
            best, best_score = delim, score
    return best


def read_csv_rows(path: Path, encoding: str | None) -> tuple[list[list[str]], dict]:
    """Read a delimited text file into rows of cells (blank lines dropped)."""
    raw = path.read_bytes()
    text, used = decode_bytes(raw, path, encoding)
    delim = sniff_delimiter(text)
    rows: list[list[str]] = []
    lines: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        start = 1
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


def read_xlsx_rows(path: Path, sheet: str | int | None) -> tuple[list[list[str]], dict]:
    """Read one worksheet of an XLSX workbook into rows of text cells."""
    import openpyxl  # deferred: only XLSX needs it

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises zipfile/KeyError/InvalidFileException
        raise DataError(f"{path}: not a readable .xlsx workbook ({err}).") from err
    try:
        names = wb.sheetnames
        if sheet is None:
            ws = wb[names[0]]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise DataError(f"{path}: no sheet number {sheet}; sheets are {names}.")
            ws = wb[names[sheet]]
        elif sheet in names:
            ws = wb[sheet]
        else:
            raise DataError(f"{path}: no sheet named {sheet!r}; sheets are {names}.")
        rows = [[_xlsx_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
        title = ws.title
        lines = list(range(1, len(rows) + 1))
    finally:
        wb.close()
    return rows, {"encoding": None, "delimiter": None, "format": "xlsx", "sheet": title,
                  "lines": lines}


def read_rows(path: Path, *, sheet=None, encoding: str | None = None
              ) -> tuple[list[list[str]], dict]:
    """Read a CSV/TSV/TXT or XLSX file into rows of text cells."""
    if not path.exists():
        raise DataError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx_rows(path, sheet)
    if suffix == ".xls":
        raise DataError(f"{path}: old .xls workbooks are not supported; save it as .xlsx or CSV.")
    return read_csv_rows(path, encoding)
