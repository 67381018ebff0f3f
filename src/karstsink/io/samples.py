"""Read the field-sample tables researchers really have and validate them before PHREEQC.

:func:`read_samples` reads a wide CSV/TSV/XLSX (messy headers, units in the
headers or in a row under them, detection-limit strings, decimal commas, UTF-8
or GBK) or a long Water-Quality-Portal-style table; :func:`standardize` does the
same on a table already in memory.  Both return the input table, every row and
column in order and the user's columns untouched, with the canonical columns
appended:

``sample_id, site, date, lat, lon`` (when found), ``temp_c`` [°C], ``ph`` [-],
``ec_us_cm`` [µS cm⁻¹] (when found), ``ca_mmol_l, mg_mmol_l, na_mmol_l,
k_mmol_l, cl_mmol_l, so4_mmol_l, no3_mmol_l, hco3_mmol_l`` [mmol L⁻¹] (always;
alkalinity is expressed as HCO3⁻, so mmol/L = meq/L), further ions when found,
``doc_mg_c_l``/``toc_mg_c_l`` [mg C L⁻¹] and ``qa_flags``.

Bad rows are never dropped: each gets ``;``-separated codes in ``qa_flags``
(see :data:`FLAG_DESCRIPTIONS`) and impossible values become NaN in the
canonical columns; :func:`computable` says which rows PHREEQC may run.

This module reads the file (header row, units row, preamble unit, decimal
commas); the canonical table is built in :mod:`karstsink.io._sample_table`, the
units are resolved in :mod:`karstsink.io._sample_units` and long tables are
pivoted in :mod:`karstsink.io.samples_long`.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import qa as _qa
from ..exceptions import DataError, DataQualityWarning, UnitError
from . import cells
from ._sample_table import (
    ION_COLUMNS,
    _standardize,
    parse_date_column,
    reporting_limit_scale,
    stand_in_fraction,
)
from .headers import ACCEPTED_UNITS, KEYS, any_unit, match_header, parse_unit
from .text import read_rows

__all__ = [
    "FATAL_FLAGS",
    "FLAG_DESCRIPTIONS",
    "ION_COLUMNS",
    "computable",
    "parse_date_column",
    "read_samples",
    "reporting_limit_scale",
    "stand_in_fraction",
    "standardize",
]

#: Every code that can appear in ``qa_flags`` (``<key>`` is a short column key such as
#: ``ca``, ``alk``, ``temp``), with its severity and meaning.  Derived from the rule book
#: :data:`karstsink.qa.RULES` (codes of the later stages included); kept for compatibility.
FLAG_DESCRIPTIONS: dict[str, str] = {
    r.label: f"{'warning' if r.severity == 'warn' else r.severity}: {r.description}"
    for r in _qa.RULES.values()
}

#: Flag codes (before any ``:<key>``) that stop a row from being speciated
#: (:data:`karstsink.qa.FATAL`).
FATAL_FLAGS: frozenset[str] = _qa.FATAL


def _unique_names(header: list[str]) -> list[str]:
    """Column names for ``header``: an empty cell becomes ``unnamed_<position>``, a name
    written again ``<name>.1``, ``.2`` ... (the first suffix no header cell already holds:
    ``pH, pH, pH.1`` gives ``pH, pH.2, pH.1``)."""
    taken = {h for h in header if h.strip()}
    used: set[str] = set()
    out = []
    for i, h in enumerate(header):
        name = h if h.strip() else f"unnamed_{i + 1}"
        base, k = name, 0
        while name in used or (name != h and name in taken):
            k += 1
            name = f"{base}.{k}"
        used.add(name)
        out.append(name)
    return out


def _header_hits(rows: list[list[str]]) -> int:
    return max((sum(_known(c) for c in row) for row in rows[:15]), default=0)


def _known(cell: str) -> bool:
    try:
        return match_header(cell) is not None
    except UnitError:
        return True


def _find_header(rows: list[list[str]]) -> int:
    """Index of the header row: the first of the top rows that names the most quantities."""
    best, best_hits = 0, 0
    for i, row in enumerate(rows[:15]):
        hits = 0
        for cell in row:
            try:
                hits += match_header(cell) is not None
            except UnitError:
                hits += 1
        if hits > best_hits:
            best, best_hits = i, hits
    if best_hits >= 2:
        return best
    # a small table ('date,remark,value'): the first row that is not a '#' comment
    return next((i for i, row in enumerate(rows[:15])
                 if not (row and row[0].lstrip().startswith("#"))), 0)



# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------


def read_samples(
    path: str | Path,
    *,
    units: str | Mapping[str, str] | None = None,
    sheet: str | int | None = None,
    encoding: str | None = None,
    below_detection: str | float = "half",
    column_map: Mapping[str, str] | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read a field-sample table (CSV/TSV/XLSX, wide or WQP-long) into the canonical table.

    Parameters
    ----------
    path : str or Path
        A ``.csv``/``.tsv``/``.txt`` (delimiter sniffed: ``,`` ``;`` tab ``|``) or
        ``.xlsx`` file.  A title/preamble above the header and a units row just
        under it (``mg/L, mg/L, °C``) are recognised.
    units : str or dict, optional
        Units of the concentration columns.  A unit written in a header (or the
        units row) always wins: one string (``"mg/L"``) fills every
        concentration column whose header states no unit, and a dict
        (``{"alk": "mg/L as CaCO3", "no3": "mg/L as N"}``) states single columns
        (it also replaces a unit given only in a line above the header).  An
        explicit unit that reads a column's numbers differently from the unit in
        its header (``units="mg/L"`` on ``HCO3- (mmol/L)``; ``{"no3": "mg/L as
        N"}`` on ``NO3 (mg/L)``) is a :class:`~karstsink.exceptions.UnitError`
        naming the column and both units; units that read the numbers alike
        (``mg/L`` on ``Alk (mg/L as CaCO3)``) are fine.  Keys are the short keys
        used in the flags (``ca``, ``alk``, ``hco3``, ``temp``...) or canonical
        column names.
    sheet : str or int, optional
        XLSX worksheet name or 0-based index (default: the first sheet).
    encoding : str, optional
        Text encoding; detected when None (UTF-8 with/without BOM, UTF-16 with
        BOM, GB18030/GBK), never guessed into mojibake.
    below_detection : {"half", "zero", "limit", "nan"} or float, default "half"
        Value used for a ``<x`` cell: x/2, 0, x, NaN or ``fraction * x``.
    column_map : dict, optional
        ``{header: key}`` for headers the alias table does not know (``{"Calc.
        (mg/L)": "ca"}``); map a header to ``None`` to leave it unused.
    date_format : str, optional
        :func:`~datetime.datetime.strptime` format of the date column (e.g.
        ``"%d/%m/%Y"``).  Needed when the column's day/month order cannot be
        decided from its cells (every ``03/05/2021``-style date has both fields
        <= 12); such a column is refused without it.

    Returns
    -------
    pandas.DataFrame
        The input columns as text, in order, followed by the canonical columns
        (see the module docstring); ``attrs`` holds ``source``, ``source_units``
        (``{key: unit}``), ``column_map`` (``{header: key}``) and ``reader``.

    Raises
    ------
    DataError
        Unreadable file, encoding or sheet, or a row with more cells than the header.
        A date column whose day/month order is ambiguous and no ``date_format``.
    UnitError
        A concentration column has no unit in its header and none in ``units``,
        or ``units`` contradicts the unit in a header.

    Warns
    -----
    DataQualityWarning
        Once per call, counting the flagged rows.
    """
    table = _read(Path(path), units=units, sheet=sheet, encoding=encoding,
                  below_detection=below_detection, column_map=column_map,
                  date_format=date_format)
    _warn_summary(table)
    return table


def standardize(
    df: pd.DataFrame,
    *,
    units: str | Mapping[str, str] | None = None,
    below_detection: str | float = "half",
    column_map: Mapping[str, str] | None = None,
    source: str = "table",
    date_format: str | None = None,
) -> pd.DataFrame:
    """Standardize a field-sample table already in memory (see :func:`read_samples`).

    Parameters
    ----------
    df : pandas.DataFrame
        Wide table (any dtypes) or a WQP-style long table.  It is not modified.
    units, below_detection, column_map, date_format
        As in :func:`read_samples`.
    source : str, default "table"
        Name used in error messages and ``attrs["source"]``.

    Returns
    -------
    pandas.DataFrame
        A new table: the columns of ``df`` unchanged and in order, then the
        canonical columns.  A column already named exactly like a canonical one
        (e.g. ``ca_mmol_l`` or ``ph``) is read in that unit and replaced in place
        by its numeric version rather than duplicated.
    """
    table = _standardize(df, units=units, below_detection=below_detection,
                         column_map=column_map, source=source, date_format=date_format)
    _warn_summary(table)
    return table


def computable(table: pd.DataFrame) -> pd.Series:
    """True for the rows PHREEQC may speciate: no fatal code in ``qa_flags``.

    A code is fatal when the rule book says so (:func:`karstsink.qa.is_fatal`);
    codes it does not know (a user's own) never stop a row.

    Parameters
    ----------
    table : pandas.DataFrame
        A table from :func:`read_samples` or :func:`standardize`.

    Returns
    -------
    pandas.Series of bool
        On ``table.index``.
    """
    if "qa_flags" not in table.columns:
        raise DataError("table has no 'qa_flags' column; pass it through "
                        "karstsink.samples.standardize first.")

    def ok(flags: Any) -> bool:
        if not isinstance(flags, str) or not flags:
            return True
        return not any(_qa.is_fatal(code) for code in _qa.split(flags))

    return pd.Series([ok(f) for f in table["qa_flags"].tolist()], index=table.index,
                     dtype=bool, name="computable")


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------


def _read(path: Path, *, units, sheet, encoding, below_detection, column_map,
          date_format=None, units_required=True) -> pd.DataFrame:
    rows, info = read_rows(path, sheet=sheet, encoding=encoding)
    if info["format"] == "xlsx" and sheet is None and _header_hits(rows) < 2:
        # the first sheet is often notes ('说明'); take the first sheet with a sample header
        index = 1
        while True:
            try:
                other, other_info = read_rows(path, sheet=index, encoding=encoding)
            except DataError:
                break
            if _header_hits(other) >= 2:
                rows, info = other, other_info
                break
            index += 1
    lines = info.pop("lines")
    formula_at = info.pop("formula_cells", [])
    if not any(any(c.strip() for c in r) for r in rows):
        raise DataError(f"{path}: the file holds no table.")
    h = _find_header(rows)
    header = list(rows[h])
    group_units = _group_units(rows, h, info.get("merged_cells", ()), header, str(path))
    body = rows[h + 1:]
    body_lines = lines[h + 1:]
    # trailing empty header cells (XLSX padding, trailing delimiters) with no data under them
    width = len(header)
    while width > 1 and not header[width - 1].strip() and not any(
            len(r) >= width and r[width - 1].strip() for r in body):
        width -= 1
    header = header[:width]
    if set(map(len, body)) <= {width}:  # every row as wide as the header (the usual case)
        fixed = body
    else:
        fixed = []
        for r, line in zip(body, body_lines, strict=True):
            if len(r) > width:
                if any(c.strip() for c in r[width:]):
                    raise DataError(
                        f"{path}, line {line}: {len(r)} cells but the header has {width} "
                        f"columns; a text cell probably contains the delimiter "
                        f"{info.get('delimiter')!r}: put quotes around it."
                    )
                r = r[:width]
            fixed.append(r + [""] * (width - len(r)))
    while fixed and not any(c.strip() for c in fixed[-1]):
        fixed.pop()  # trailing empty rows are not samples
    names = _unique_names(header)
    # a header written twice ('Ca (mg/L)' and 'Ca (mg/L).1'): both are read and compared
    renamed = {n: h for n, h in zip(names, header, strict=True) if n != h and h.strip()}
    columns = list(zip(*fixed, strict=True)) if fixed else [()] * width
    texts = {n: list(columns[j]) for j, n in enumerate(names)}  # the cells, by column
    frame = pd.DataFrame({n: pd.Series(texts[n], dtype="str") for n in names})
    del columns
    info.update(header_row=lines[h], preamble=[" ".join(r).strip() for r in rows[:h]])
    units_line = body_lines[0] if body_lines else None
    data_lines = body_lines[:len(fixed)]
    del rows, body, fixed, lines, body_lines  # the text now lives in `frame` only
    # a units row right under the header (lab exports): 'mg/L, mg/L, °C'
    header_units: dict[str, str] = {}
    skipped = h + 1  # rows of the file above the first data row
    if len(frame):
        first = frame.iloc[0].tolist()
        unitish = numeric = 0
        unread: list[tuple[str, str, str]] = []  # a known column's cell that is not its unit
        for name, cell in zip(names, first, strict=True):
            c = str(cell).strip()
            if not c:
                continue
            if cells.parse_cell(c, False)[1] in (cells.OK, cells.BELOW, cells.ABOVE):
                numeric += 1
                continue
            try:
                hit = match_header(name)
            except UnitError:
                hit = None
            kind = KEYS[hit.key][1] if hit is not None else None
            if kind in ("temp", "ec", "conc", "orgc") and parse_unit(c, kind) is not None:
                unitish += 1
                header_units[name] = c
            elif kind in ("temp", "ec", "conc", "orgc"):
                unread.append((name, c, kind))
            elif kind is None and any_unit(c):
                unitish += 1  # e.g. 'mg/L' under a column karstsink does not use
        if unitish >= 1 and numeric == 0:
            if unread:  # a unit written in the file is never dropped for a default
                name, c, kind = unread[0]
                raise UnitError(
                    f"{path}, line {units_line}: the units row gives {c!r} for column "
                    f"{name!r}, which is not a unit karstsink reads for it "
                    f"({ACCEPTED_UNITS[kind]}); correct the "
                    "cell, or leave it empty to use --units or the default.")
            frame = frame.iloc[1:].reset_index(drop=True)
            texts = {n: t[1:] for n, t in texts.items()}
            info["units_row"] = units_line
            data_lines = data_lines[1:]
            skipped += 1
        else:
            header_units = {}
    for name, unit in group_units.items():  # a units row under the header says more
        header_units.setdefault(name, unit)
    if group_units:
        info["units_from_merged_labels"] = group_units
    # XLSX formula cells without a stored value, by column and data row
    formula_cells: dict[str, list[int]] = {}
    for i, j in formula_at:
        row = i - skipped
        if 0 <= row < len(frame) and j < width:
            formula_cells.setdefault(names[j], []).append(row)
    if formula_cells:
        info["formula_cells"] = sum(map(len, formula_cells.values()))
    # file line of each data row, as runs [first row, its line] (one run without blank lines)
    info["line_runs"] = [[i, ln] for i, ln in enumerate(data_lines[:len(frame)])
                         if i == 0 or ln != data_lines[i - 1] + 1]
    # a ';' or tab file whose numbers use decimal commas: the file's mark, taken by columns
    # whose own cells do not decide it ('1,051' alone is a thousands comma or 3 decimals);
    # each column with a '7,4' or '7.4' decides for itself (io.cells.column_uses_decimal_comma)
    decimal_comma = None
    if info.get("delimiter") not in (None, ","):
        comma, dot = cells.decimal_mark_examples(
            [c for col in frame.columns for c in frame[col].tolist()[:200]])
        decimal_comma = True if len(comma) > len(dot) else None
    info["decimal_comma"] = bool(decimal_comma)
    file_unit = _preamble_unit(info["preamble"])
    if file_unit:
        info["preamble_unit"] = file_unit
    return _standardize(frame, units=units, below_detection=below_detection,
                        column_map=column_map, source=str(path), header_units=header_units,
                        decimal_comma=decimal_comma, reader=info, file_unit=file_unit,
                        date_format=date_format, units_required=units_required,
                        renamed=renamed, formula_cells=formula_cells, texts=texts)


def _group_units(rows: list[list[str]], h: int, merged: Any, header: list[str],
                 source: str) -> dict[str, str]:
    """Units of concentration columns whose header states none, from a group label merged
    over them above the header (XLSX): ``阳离子 (mmol/L)`` over ``Ca``, ``Mg``, ``Na``.

    The label's bracketed text counts only if it is a concentration unit; of labels one
    above the other, the one nearest the header does.  ``{header cell: unit}``.

    Raises
    ------
    UnitError
        A header cell under such a label states another unit of its own.
    """
    from .headers import split_header

    over: dict[int, tuple[str, str]] = {}  # column -> (label, unit) of the nearest label
    for r0, c0, _r1, c1 in sorted((m for m in merged if m[2] < h and m[3] > m[1]
                                   and m[1] < len(rows[m[0]])), key=lambda m: m[2]):
        label = rows[r0][c0]
        unit = next((u for _n, u, form in split_header(label) if form == "bracket" and u), None)
        if unit is not None and parse_unit(unit, "conc") is not None:
            over.update({j: (label, unit) for j in range(c0, c1 + 1)})
    out: dict[str, str] = {}
    for j, (label, unit) in over.items():
        cell = header[j] if j < len(header) else ""
        try:
            hit = match_header(cell)
        except UnitError:
            continue
        if hit is None or KEYS[hit.key][1] != "conc":
            continue
        if hit.unit is None:
            out[cell] = unit
        elif parse_unit(hit.unit, "conc") != parse_unit(unit, "conc"):
            raise UnitError(f"{source}: column {cell!r} states its own unit, but the merged "
                            f"label {label!r} above it says {unit!r}; make them agree.")
    return out


_PREAMBLE_UNIT_RE = re.compile(r"(?:单位|\bunits?\b)\s*[:：=]?\s*([^\s,;，；（(]+)", re.IGNORECASE)


def _preamble_unit(preamble: list[str]) -> str | None:
    """A concentration unit stated above the header ('单位：mg/L（pH除外）', 'Units: mg/L')."""
    for line in preamble:
        m = _PREAMBLE_UNIT_RE.search(cells.nfkc(line))
        if m:
            unit = parse_unit(m[1], "conc")
            if unit is not None:
                return unit
    return None




def _warn_summary(table: pd.DataFrame) -> None:
    flags = table["qa_flags"].tolist()
    flagged = [f for f in flags if isinstance(f, str) and f]
    if not flagged:
        return
    fatal = int((~computable(table)).sum())
    counts = Counter(code.split(":")[0] for f in flagged for code in _qa.split(f))
    detail = ", ".join(f"{code} x{k}" for code, k in counts.most_common())
    missing = table.attrs.get("missing_columns") or []
    extra = (f" No column recognised for {', '.join(missing)}; pass column_map={{header: "
             f"key}} if the file has one." if missing else "")
    warnings.warn(
        f"{table.attrs.get('source', 'table')}: {len(flagged)} of {len(table)} rows flagged "
        f"({detail}), {fatal} of them not computable; see the qa_flags column.{extra}",
        DataQualityWarning,
        stacklevel=3,
    )
