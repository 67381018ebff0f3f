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
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _samples_cells as cells
from . import qa as _qa  # not 'qa': _standardize has a local of that name
from ._samples_headers import (
    CANONICAL_NAMES,
    CANONICAL_UNITS,
    KEYS,
    UNIT_REQUIRED_KINDS,
    any_unit,
    ec_factor,
    is_generic,
    match_header,
    match_user_name,
    parse_unit,
)
from ._samples_io import read_rows
from ._samples_long import is_long, pivot_long
from .exceptions import ConfigError, DataError, DataQualityWarning, UnitError
from .units import MOLAR_MASS, parse_concentration_unit, to_mmol_per_l

__all__ = [
    "FATAL_FLAGS",
    "FLAG_DESCRIPTIONS",
    "ION_COLUMNS",
    "computable",
    "read_samples",
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

_FLAG_ORDER = list(_qa.RULES)
_KEY_ORDER = list(KEYS)

#: Ion columns always present in the canonical table [mmol L⁻¹].
ION_COLUMNS = ["ca_mmol_l", "mg_mmol_l", "na_mmol_l", "k_mmol_l", "cl_mmol_l",
               "so4_mmol_l", "no3_mmol_l", "hco3_mmol_l"]
_ALWAYS = {"temp_c", "ph", *ION_COLUMNS, "qa_flags"}
_OUTPUT_ORDER = ["sample_id", "site", "date", "lat", "lon", "temp_c", "ph", "ec_us_cm",
                 *ION_COLUMNS, "co3_mmol_l", "nh4_mmol_l", "no2_mmol_l", "f_mmol_l",
                 "po4_mmol_l", "sio2_mmol_l", "sr_mmol_l", "fe_mmol_l", "mn_mmol_l",
                 "ba_mmol_l", "doc_mg_c_l", "toc_mg_c_l", "qa_flags"]

_BELOW_POLICIES = {"half": 0.5, "zero": 0.0, "limit": 1.0, "nan": np.nan}
# IUPAC 2021 conventional atomic weights; H2SiO3 = 2 x 1.008 + 28.085 + 3 x 15.999 = 78.098
_ELEMENT_MASS = {"p": 30.974, "si": 28.085, "h2sio3": 78.098}


# ---------------------------------------------------------------------------
# unit conversion to the canonical units
# ---------------------------------------------------------------------------


def _convert(values: np.ndarray, key: str, unit: str) -> np.ndarray:
    """Convert ``values`` of ``key`` given in ``unit`` to the canonical unit [see module]."""
    kind = KEYS[key][1]
    arr = np.asarray(values, dtype=float)
    if kind == "temp":
        if unit == "°F":
            return (arr - 32.0) * 5.0 / 9.0
        if unit == "K":
            return arr - 273.15
        return arr
    if kind == "ec":
        return arr * ec_factor(unit)
    if kind not in ("conc", "orgc"):
        return arr
    scale, basis, qual = parse_concentration_unit(unit)
    if kind == "orgc":  # organic carbon [mg C/L]
        if basis == "eq" or (qual not in (None, "c")):
            raise UnitError(f"Organic carbon ({key}) must be in mg/L (as C) or mmol/L, "
                            f"not {unit!r}.")
        return arr * scale * (MOLAR_MASS["C"] if basis == "mol" else 1.0)
    species = "hco3" if key == "alk" else key
    if key == "alk" and basis == "mass" and qual is None:
        # Alkalinity in a mass unit is reported as CaCO3 (APHA Standard Methods 2320;
        # PHREEQC's default for 'Alkalinity' in mass units); HCO3 columns are as HCO3.
        unit, qual = f"{unit} as CaCO3", "caco3"
    if basis == "mol" and qual == "caco3":  # 1 mmol CaCO3 = 2 meq = 2 mmol HCO3-
        return arr * scale * 2.0 / (2 if species in ("co3", "ca", "mg") else 1)
    if basis == "mass" and qual in _ELEMENT_MASS:
        if species != ("po4" if qual == "p" else "sio2"):
            raise UnitError(f"'as {qual}' does not apply to {key!r}.")
        return arr * scale / _ELEMENT_MASS[qual]
    return np.asarray(to_mmol_per_l(arr, species, unit), dtype=float)


def _with_qualifier(unit: str, qualifier: str | None) -> str:
    if qualifier and " as " not in unit:
        return f"{unit} {qualifier}"
    return unit


def _parse_user_unit(text: str, key: str, where: str) -> str:
    kind = KEYS[key][1]
    unit = parse_unit(text, kind)
    if unit is None and kind in ("conc", "orgc"):
        try:  # accept anything karstsink.units reads
            parse_concentration_unit(text)
            unit = text
        except UnitError:
            unit = None
    if unit is None:
        raise UnitError(f"{where}: {text!r} is not a unit karstsink reads for {key!r} "
                        "(use mg/L, mmol/L, meq/L or µmol/L, optionally 'as CaCO3', "
                        "'as N', 'as S'; °C/°F for temperature; µS/cm for EC).")
    return unit


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _text(series: pd.Series) -> list[str]:
    """Cells of ``series`` as text ("" for missing), without changing the series."""
    out = []
    for v in series.tolist():
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            out.append("")
        elif isinstance(v, float) and v.is_integer() and abs(v) < 1e15:
            out.append(repr(v))
        else:
            out.append(str(v))
    return out


_VALUE_UNIT_RE = re.compile(r"^\s*([+-]?[\d.,]+)\s*(\S.*?)\s*$")


def _accept_cells_with_unit(texts, values, status, key, unit, decimal_comma) -> None:
    """Read cells such as ``16.5 °C`` or ``80 mg/L`` when the unit is the column's own."""
    kind = KEYS[key][1]
    base = unit.split(" as ")[0]
    for i in np.flatnonzero(status == cells.NOT_NUMERIC):
        m = _VALUE_UNIT_RE.match(cells.nfkc(texts[i]))
        if not m:
            continue
        cell_unit = parse_unit(m[2], kind)
        if cell_unit is None or cell_unit.split(" as ")[0] != base:
            continue
        value = cells.to_float(m[1], bool(decimal_comma))
        if value is not None:
            values[i], status[i] = value, cells.OK


def _parse_coordinates(texts: list[str], decimal_comma: bool | None = None):
    """Decimal degrees (also from degrees-minutes-seconds) and the cell status."""
    values, status = cells.parse_column(texts, decimal_comma)
    for i in np.flatnonzero(status == cells.NOT_NUMERIC):
        deg = cells.parse_coordinate(texts[i])
        if deg is not None:
            values[i], status[i] = deg, cells.OK
    return values, status


def _detection_factor(below_detection: Any) -> float:
    if isinstance(below_detection, str):
        if below_detection.lower() in _BELOW_POLICIES:
            return _BELOW_POLICIES[below_detection.lower()]
    elif isinstance(below_detection, (int, float)) and not isinstance(below_detection, bool):
        if 0.0 <= float(below_detection) <= 1.0:
            return float(below_detection)
    raise ConfigError(
        f"below_detection={below_detection!r} is not valid; use 'half', 'zero', 'limit', "
        "'nan' or a fraction of the limit between 0 and 1."
    )


def _unique_names(header: list[str]) -> list[str]:
    seen: Counter[str] = Counter()
    out = []
    for i, h in enumerate(header):
        name = h if h.strip() else f"unnamed_{i + 1}"
        if seen[name]:
            name = f"{name}.{seen[name]}"
        seen[h if h.strip() else name] += 1
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
    if not any(any(c.strip() for c in r) for r in rows):
        raise DataError(f"{path}: the file holds no table.")
    h = _find_header(rows)
    header = list(rows[h])
    body = rows[h + 1:]
    body_lines = lines[h + 1:]
    # trailing empty header cells (XLSX padding, trailing delimiters) with no data under them
    width = len(header)
    while width > 1 and not header[width - 1].strip() and not any(
            len(r) >= width and r[width - 1].strip() for r in body):
        width -= 1
    header = header[:width]
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
    frame = pd.DataFrame(
        {n: pd.Series([r[j] for r in fixed], dtype="str") for j, n in enumerate(names)}
    ) if fixed else pd.DataFrame({n: pd.Series([], dtype="str") for n in names})
    info.update(header_row=lines[h], preamble=[" ".join(r).strip() for r in rows[:h]])
    units_line = body_lines[0] if body_lines else None
    data_lines = body_lines[:len(fixed)]
    del rows, body, fixed, lines, body_lines  # the text now lives in `frame` only
    # a units row right under the header (lab exports): 'mg/L, mg/L, °C'
    header_units: dict[str, str] = {}
    if len(frame):
        first = frame.iloc[0].tolist()
        unitish = numeric = 0
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
            elif kind is None and any_unit(c):
                unitish += 1  # e.g. 'mg/L' under a column karstsink does not use
        if unitish >= 1 and numeric == 0:
            frame = frame.iloc[1:].reset_index(drop=True)
            info["units_row"] = units_line
            data_lines = data_lines[1:]
        else:
            header_units = {}
    # file line of each data row, as runs [first row, its line] (one run without blank lines)
    info["line_runs"] = [[i, ln] for i, ln in enumerate(data_lines[:len(frame)])
                         if i == 0 or ln != data_lines[i - 1] + 1]
    # a ';' or tab file whose numbers use decimal commas
    decimal_comma = None
    if info.get("delimiter") not in (None, ","):
        sample = [c for col in frame.columns for c in frame[col].tolist()[:200]]
        dc = sum(bool(cells._DECIMAL_COMMA_CELL.match(cells.clean_cell(c))) for c in sample)
        dot = sum(bool(pd.notna(c) and "." in c and c.replace(".", "").strip().isdigit())
                  for c in sample)
        decimal_comma = True if dc > dot else None
    info["decimal_comma"] = bool(decimal_comma)
    file_unit = _preamble_unit(info["preamble"])
    if file_unit:
        info["preamble_unit"] = file_unit
    return _standardize(frame, units=units, below_detection=below_detection,
                        column_map=column_map, source=str(path), header_units=header_units,
                        decimal_comma=decimal_comma, reader=info, file_unit=file_unit,
                        date_format=date_format, units_required=units_required)


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


# ---------------------------------------------------------------------------
# the canonical table
# ---------------------------------------------------------------------------


def _map_columns(df: pd.DataFrame, column_map, source: str, notes: list[str]):
    """Return ({column: (key, unit, qualifier)}, {key: column}, unmatched, in_place)."""
    user = dict(column_map or {})
    for header in user:
        if header not in df.columns:
            raise ConfigError(f"column_map names {header!r}, which is not a column of "
                              f"{source}; columns are {list(map(str, df.columns))}.")
    matches: dict[Any, tuple[str, str | None, str | None]] = {}
    for col in df.columns:
        name = str(col)
        if col in user:
            target = user[col]
            if target is None or str(target) == "":
                continue
            key = match_user_name(str(target))
            if key is None:
                raise ConfigError(
                    f"column_map: {target!r} (for {name!r}) is not a canonical name; use one "
                    f"of {', '.join(k for k in KEYS if k != 'time')}."
                )
            try:
                hit = match_header(name)
            except UnitError:
                hit = None
            unit = hit.unit if hit is not None and KEYS[hit.key][1] == KEYS[key][1] else None
            if unit is None:
                m = re.match(r"^.*[(\[](?P<u>[^()\[\]]*)[)\]]\s*$", name)
                if m:
                    unit = parse_unit(m["u"], KEYS[key][1])
            matches[col] = (key, unit, hit.qualifier if hit is not None and hit.key == key
                            else None)
            continue
        hit = match_header(name)
        if hit is not None:
            matches[col] = (hit.key, hit.unit, hit.qualifier)
    by_key: dict[str, Any] = {}
    # canonical-named columns claim their key first, then specific names, then generic
    # ones ('Sample ID' before 'ID', 'Water temperature' before 'Temperature'); else by order
    position = {c: i for i, c in enumerate(df.columns)}
    ordered = sorted(matches, key=lambda c: (str(c) not in CANONICAL_NAMES,
                                             c not in user and is_generic(str(c)),
                                             position[c]))
    for col in ordered:
        key = matches[col][0]
        if key in by_key:
            notes.append(f"column {str(col)!r} also looks like {key!r}; "
                         f"{str(by_key[key])!r} was used")
            continue
        by_key[key] = col
    used = {c: matches[c] for c in df.columns if c in by_key.values()}
    unmatched = [str(c) for c in df.columns if c not in used and str(c) != "qa_flags"]
    in_place = {c for c in used if str(c) in CANONICAL_NAMES}
    return used, by_key, unmatched, in_place


#: Element qualifiers and the species they can describe (one N per NO3/NO2/NH4, one S per
#: SO4, one C per HCO3/CO3); 'mg/L as N' of HCO3 would be read 4.4 x too high otherwise.
_ELEMENT_QUALIFIERS = {"n": ("no3", "no2", "nh4"), "s": ("so4",), "c": ("hco3", "alk", "co3")}


def _reading(key: str, unit: str, qualifier: str | None) -> str:
    """``unit`` as it is applied to a column of ``key``: the name's qualifier added (NO3-N ->
    'as N'), alkalinity in a mass unit as CaCO3 (APHA 2320)."""
    if KEYS[key][1] != "conc":
        return unit
    unit = _with_qualifier(unit, qualifier)
    if key == "alk" and " as " not in unit and parse_concentration_unit(unit)[1] == "mass":
        unit = f"{unit} as CaCO3"
    return unit


def _check_applies(key: str, unit: str) -> None:
    """Raise UnitError if ``unit`` cannot describe ``key`` (e.g. 'mg/L as N' for HCO3)."""
    if KEYS[key][1] == "conc":
        qual = parse_concentration_unit(unit)[2]
        if qual in _ELEMENT_QUALIFIERS and key not in _ELEMENT_QUALIFIERS[qual]:
            raise UnitError(f"'{unit}' does not apply to {key!r} ('as {qual.upper()}' is for "
                            f"{', '.join(_ELEMENT_QUALIFIERS[qual])}).")
    _convert(np.array([1.0]), key, unit)


def _units_agree(key: str, a: str, b: str) -> bool:
    """True if units ``a`` and ``b`` read the numbers of a ``key`` column alike.

    ``mg/L`` and ``mg/L as CaCO3`` agree for alkalinity (mass units are as CaCO3), ``mmol/L``
    and ``meq/L`` for HCO3⁻ (charge 1); ``mg/L`` and ``mmol/L`` never do.
    """
    probe = np.array([1.0, 10.0])  # two points: temperature units differ by an offset
    return bool(np.allclose(_convert(probe, key, a), _convert(probe, key, b), rtol=1e-9,
                            atol=0.0))


def _resolve_units(used, units, header_units, source: str, notes: list[str],
                   file_unit: str | None = None, unitless: dict[str, str] | None = None):
    """Return {key: unit} for every measured column, raising on a missing unit.

    Precedence: the unit written in the header or units row; else ``units={key: ...}``;
    else a unit stated above the header; else the single ``units`` string.  An explicit
    unit (string or dict) that reads a column with a written unit differently is a
    UnitError naming the column and both units.  With ``unitless`` (a dict) a
    concentration column without any unit is recorded there ({key: column}) and skipped
    instead of raising, with the message it would have raised ({key: message}).
    """
    per_key: dict[str, str] = {}
    single: str | None = None
    if isinstance(units, Mapping):
        for name, text in units.items():
            key = match_user_name(str(name))
            if key is None:
                raise ConfigError(f"units: {name!r} is not a canonical name; use e.g. "
                                  "'ca', 'alk', 'hco3', 'no3', 'temp', 'ec'.")
            per_key[key] = _parse_user_unit(str(text), key, "units")
    elif units is not None:
        single = str(units)
    out: dict[str, str] = {}
    for col, (key, header_unit, qualifier) in used.items():
        kind = KEYS[key][1]
        if kind not in ("temp", "ec", "conc", "orgc"):
            continue
        name = str(col)
        written, origin = header_unit, "header"
        row_text = header_units.get(col)
        if row_text is not None:
            row_unit = parse_unit(row_text, kind)
            if row_unit is None and kind not in ("ph",):
                raise UnitError(f"{source}: the units row gives {row_text!r} for column "
                                f"{name!r}, which is not a unit for {key!r}.")
            if written is not None and row_unit != written:
                raise UnitError(f"{source}: column {name!r} says {written!r} in its header "
                                f"but {row_text!r} in the units row; make them agree.")
            written, origin = row_unit, "units row"
        if (kind == "conc" and qualifier and header_unit and " as " in header_unit
                and header_unit.split(" as ")[1].lower() != qualifier[3:].lower()):
            raise UnitError(f"{source}: column {name!r}: the name means {qualifier!r} "
                            f"but the unit says {header_unit!r}; fix the header.")
        given = given_text = None
        if key in per_key:
            given, given_text = per_key[key], f"units={{{key!r}: {per_key[key]!r}}}"
        elif single is not None and kind in UNIT_REQUIRED_KINDS:
            given = _parse_user_unit(single, key, "units")
            given_text = f"units={single!r} (--units)"
        if given is not None:
            try:
                _check_applies(key, _reading(key, given, qualifier))
            except UnitError as err:
                # a dict names this column, so it must fit; a single string that cannot
                # describe the column ('mg/L as CaCO3' for SO4) does not fill it
                refused = f"{source}: column {name!r}: {given_text} cannot be used: {err}"
                if key in per_key or (written is None and unitless is None):
                    raise UnitError(refused) from err
                if written is None:
                    unitless[key] = refused
                    continue
                if written is not None:
                    notes.append(f"{name!r}: {given_text} does not apply to {key}; the "
                                 f"{origin}'s {written} was used")
                given = None
        if written is not None:
            unit = written
            if given is not None and not _units_agree(key, _reading(key, written, qualifier),
                                                     _reading(key, given, qualifier)):
                fix = (f"remove {key!r} from units=" if key in per_key else
                       "leave --units out (it only fills columns whose header states no unit)")
                raise UnitError(
                    f"{source}: column {name!r} states {written!r} in its {origin} but "
                    f"{given_text} says {given!r}; a unit written in the file wins: {fix}, "
                    "or correct the header.")
        elif key in per_key:
            unit = given  # a per-column statement also replaces a line above the header
        elif file_unit is not None and kind in UNIT_REQUIRED_KINDS:
            unit = file_unit
            if given is not None and not _units_agree(key, _reading(key, file_unit, qualifier),
                                                     _reading(key, given, qualifier)):
                raise UnitError(
                    f"{source}: column {name!r} is in {file_unit!r} by the line above the "
                    f"header but {given_text} says {given!r}; correct one of them or state "
                    f"the column: units={{{key!r}: ...}}.")
            notes.append(f"{name!r}: unit {file_unit} from the line above the header")
        else:
            unit = given
        if unit is None:
            if kind in UNIT_REQUIRED_KINDS:
                missing = (f"{source}: column {name!r} ({key}) has no unit. Add it to the "
                           f"header, e.g. '{col} (mg/L)', or state it: units='mg/L' or "
                           f"units={{'{key}': 'mg/L'}} (CLI: --units mg/L).")
                if unitless is not None:
                    unitless[key] = missing
                    continue
                raise UnitError(missing)
            unit = CANONICAL_UNITS[kind]
            notes.append(f"{name!r}: no unit given, {unit} assumed")
        applied = _reading(key, unit, qualifier)
        if key == "alk" and applied != _with_qualifier(unit, qualifier):
            notes.append(f"{name!r}: alkalinity in a mass unit read as {applied} "
                         "(APHA 2320 convention); say 'as HCO3' in the header if it is not")
        try:
            _check_applies(key, applied)
        except UnitError as err:
            raise UnitError(f"{source}: column {name!r}: {err}") from err
        out[key] = applied
    return out


def _standardize(df: pd.DataFrame, *, units, below_detection, column_map, source,
                 header_units=None, decimal_comma=None, reader=None,
                 file_unit=None, date_format=None, units_required=True) -> pd.DataFrame:
    # units_required=False (the flux reader): a concentration column with no unit anywhere
    # (or one --units cannot describe) is left out, its canonical column NaN, and
    # attrs["unitless_columns"] keeps {key: the UnitError message}; the caller raises it
    # for the columns it uses.
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}.")
    factor = _detection_factor(below_detection)
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    if dup:
        raise DataError(f"{source}: duplicate column name(s) {dup}; rename them so each "
                        "column has its own name.")
    notes: list[str] = []
    n = len(df)
    text = {c: _text(df[c]) for c in df.columns}
    measured: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    ids: dict[str, list[str]] = {}
    dates = bad_dates = bad_info = None
    out = df.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    in_place: set = set()
    colmap: dict[str, str] = {}
    unitless: dict[str, str] = {}

    if is_long(df.columns):
        result = pivot_long(df, text, _convert, source)
        out = result.wide
        n = len(out)
        notes.extend(result.notes)
        if result.unmapped:
            notes.append(f"characteristics not used: {result.unmapped}")
        source_units = dict(result.units)
        measured = result.measured
        used, by_key, _unmatched, _in_place = _map_columns(
            out[result.sample_columns], None, source, [])
        colmap = dict(result.column_map)
        wide_text = {c: _text(out[c]) for c in out.columns}
        for col, (key, _u, _q) in used.items():
            if KEYS[key][1] in ("id", "date", "time"):
                colmap[str(col)] = key
            if KEYS[key][1] == "id":
                ids[key] = [t.strip() for t in wide_text[col]]
            elif KEYS[key][1] == "coord" and key not in measured:
                colmap[str(col)] = key
                measured[key] = _parse_coordinates(wide_text[col])
        unmatched = [str(c) for c in out.columns if str(c) not in colmap]
        date_text = wide_text
        date_col, time_col = by_key.get("date"), by_key.get("time")
        if "site" in ids and "sample_id" not in ids:
            stamp = [f"{s}_{d}".strip("_") for s, d in zip(
                ids["site"], wide_text[date_col] if date_col is not None else [""] * n,
                strict=True)]
            if time_col is not None:
                stamp = [f"{s}_{t}".strip("_") for s, t in zip(stamp, wide_text[time_col],
                                                               strict=True)]
            ids["sample_id"] = stamp
        reader = {**(reader or {}), "layout": "long", "rows_in": len(df), "samples_out": n}
    else:
        used, by_key, unmatched, in_place = _map_columns(df, column_map, source, notes)
        colmap = {str(c): k for c, (k, _u, _q) in used.items()}
        source_units = _resolve_units(used, units, header_units or {}, source, notes,
                                      file_unit, unitless=None if units_required else unitless)
        for col, (key, _u, _q) in used.items():
            kind = KEYS[key][1]
            if key in unitless:
                continue
            if kind == "id":
                ids[key] = [" ".join(t.split()) for t in text[col]]
            elif kind in ("temp", "ph", "ec", "conc", "orgc", "coord"):
                if kind == "coord":
                    values, status = _parse_coordinates(text[col], decimal_comma)
                else:
                    values, status = cells.parse_column(text[col], decimal_comma)
                    if key in source_units:  # '16.5 °C', '80 mg/L' in a column of that unit
                        _accept_cells_with_unit(text[col], values, status, key,
                                                source_units[key], decimal_comma)
                if key in source_units:
                    values = _convert(values, key, source_units[key])
                measured[key] = (values, status)
        date_text = text
        date_col, time_col = by_key.get("date"), by_key.get("time")
        reader = {**(reader or {}), "layout": "wide"}
    if date_col is not None:  # the raw date (and time) text of either layout
        dates, bad_dates, note = parse_date_column(
            date_text[date_col], date_text[time_col] if time_col is not None else None,
            date_format=date_format, source=source, column=str(date_col))
        if note:
            notes.append(note)
        if bad_dates.any():  # the cell text, for readers that refuse unreadable dates
            first = int(np.flatnonzero(bad_dates)[0])
            bad_info = {"column": str(date_col), "count": int(bad_dates.sum()),
                        "first_row": first, "first_cell": date_text[date_col][first]}

    flags: list[list[tuple[int, int, str]]] = [[] for _ in range(n)]

    def flag(mask: np.ndarray, code: str, key: str | None = None) -> None:
        rank = _FLAG_ORDER.index(code)
        krank = _KEY_ORDER.index(key) if key else -1
        text_code = f"{code}:{key}" if key else code
        for i in np.flatnonzero(mask):
            flags[i].append((rank, krank, text_code))

    columns: dict[str, Any] = {}
    fatal_keys: dict[str, np.ndarray] = {}
    for key in KEYS:
        if key not in measured:
            continue
        values, status = measured[key]
        values = values.copy()
        kind = KEYS[key][1]
        below = status == cells.BELOW
        values[below] = values[below] * factor
        not_num = status == cells.NOT_NUMERIC
        if kind == "coord":
            limit = 90.0 if key == "lat" else 180.0
            bad = not_num | (np.abs(values) > limit)
            values[bad] = np.nan
            flag(bad, "bad_coordinate", key)
            columns[KEYS[key][0]] = values
            continue
        flag(not_num, "not_numeric", key)
        fatal = not_num.copy()
        if kind == "ph":
            out_range = (values < _qa.PH_RANGE[0]) | (values > _qa.PH_RANGE[1])
            flag(out_range, "ph_out_of_range")
            values[out_range] = np.nan
            fatal |= out_range
            usual = (values < _qa.PH_USUAL_RANGE[0]) | (values > _qa.PH_USUAL_RANGE[1])
            flag(usual & ~out_range, "ph_unusual")
        elif kind == "temp":
            out_range = (values < _qa.TEMP_RANGE_C[0]) | (values > _qa.TEMP_RANGE_C[1])
            flag(out_range, "temp_out_of_range")
            values[out_range] = np.nan
            fatal |= out_range
            usual = (values < _qa.TEMP_USUAL_RANGE_C[0]) | (values > _qa.TEMP_USUAL_RANGE_C[1])
            flag(usual & ~out_range, "temp_unusual")
        else:
            neg = values < 0
            flag(neg, "negative_value", key)
            values[neg] = np.nan
            fatal |= neg
        flag(below, "below_detection", key)
        flag(status == cells.ABOVE, "above_range", key)
        fatal_keys[key] = fatal
        measured[key] = (values, status)
        if key not in ("hco3", "alk"):
            columns[KEYS[key][0]] = values

    # alkalinity: HCO3 first, alkalinity where HCO3 is missing
    hco3 = np.full(n, np.nan)
    alk_fatal = np.zeros(n, dtype=bool)
    if "hco3" in measured:
        hco3 = measured["hco3"][0].copy()
        alk_fatal |= fatal_keys["hco3"]
    if "alk" in measured:
        alk = measured["alk"][0]
        fill = np.isnan(hco3) & ~alk_fatal
        hco3[fill] = alk[fill]
        alk_fatal |= fatal_keys["alk"] & np.isnan(hco3)
    alk_source = ("hco3 (alkalinity where HCO3 is missing)" if {"hco3", "alk"} <= set(measured)
                  else "hco3" if "hco3" in measured else "alk" if "alk" in measured else None)
    columns["hco3_mmol_l"] = hco3
    for key, code in (("ph", "missing_ph"), ("temp", "missing_temp")):
        col = KEYS[key][0]
        vals = columns.get(col, np.full(n, np.nan))
        fatal = fatal_keys.get(key, np.zeros(n, dtype=bool))
        flag(np.isnan(vals) & ~fatal, code)
    flag(np.isnan(hco3) & ~alk_fatal, "missing_alkalinity")
    if dates is not None:
        flag(bad_dates, "bad_date")
    if "sample_id" in ids:
        sid = pd.Series(ids["sample_id"])
        dup = sid.ne("") & sid.duplicated(keep=False)
        flag(dup.to_numpy(), "duplicate_sample_id")

    # previous flags (a table standardised before) are kept
    if "qa_flags" in df.columns and not is_long(df.columns):
        for i, old in enumerate(_text(df["qa_flags"])):
            for code in filter(None, old.split(";")):
                base = code.split(":")[0]
                rank = _FLAG_ORDER.index(base) if base in _FLAG_ORDER else len(_FLAG_ORDER)
                key = code.split(":")[1] if ":" in code else None
                flags[i].append((rank, _KEY_ORDER.index(key) if key in _KEY_ORDER else -1,
                                 code))
    qa = [_explain_missing(list(dict.fromkeys(c for _r, _k, c in sorted(row))))
          for row in flags]

    # assemble: user's columns untouched, canonical ones appended (or in place if so named)
    new: dict[str, Any] = {}
    for key in ("sample_id", "site"):
        if key in ids:
            new[key] = pd.Series([v if v else None for v in ids[key]], dtype="str")
    if dates is not None:
        new["date"] = pd.Series(dates, dtype="datetime64[ns]")
    for col in _OUTPUT_ORDER:
        if col in ("sample_id", "site", "date", "qa_flags"):
            continue
        if col in columns:
            new[col] = pd.Series(columns[col], dtype=float)
        elif col in _ALWAYS:
            new[col] = pd.Series(np.full(n, np.nan), dtype=float)
    new["qa_flags"] = pd.Series(qa, dtype="str")
    out = out.reset_index(drop=True) if not out.index.equals(pd.RangeIndex(n)) else out
    replaced = {str(c) for c in in_place}
    for col in [*replaced, *(["qa_flags"] if "qa_flags" in out.columns else [])]:
        if col in new:
            out[col] = new.pop(col).to_numpy() if col != "qa_flags" else new.pop(col).array
    clash = [c for c in new if c in out.columns]
    for col in clash:  # a user column that happens to carry a canonical name we could not read
        out[col] = new.pop(col).array
    appended = pd.DataFrame(new)
    appended.index = out.index
    result = pd.concat([out, appended], axis=1)
    if not df.index.equals(pd.RangeIndex(len(df))) and len(result) == len(df):
        result.index = df.index
    missing_cols = [k for k in ("ph", "temp") if k not in measured]
    if alk_source is None:
        missing_cols.append("hco3/alk")
    result.attrs = {
        "source": source,
        "source_units": dict(source_units),
        "column_map": colmap,
        "alkalinity_source": alk_source,
        "below_detection": below_detection,
        "unmatched_columns": unmatched,
        "missing_columns": missing_cols,
        "reader": reader,
        "notes": notes,
    }
    if date_format is not None:
        result.attrs["date_format"] = date_format
    if unitless:
        result.attrs["unitless_columns"] = dict(unitless)
    if bad_info is not None:
        result.attrs["bad_dates"] = bad_info
    return result


def parse_date_column(texts, times=None, *, date_format: str | None = None,
                      source: str = "table", column: str = "date"):
    """:func:`karstsink._samples_cells.parse_dates` with its ambiguity error as a DataError.

    Returns ``(dates, bad, note)`` as that function; an undecidable day/month order
    without ``date_format`` becomes one line naming ``source`` and ``column``.
    """
    try:
        return cells.parse_dates(texts, times, date_format=date_format)
    except cells.AmbiguousDateError as err:
        raise DataError(
            f"{source}: column {column!r}: {err.reason}; pass date_format= (CLI: "
            "--date-format), e.g. '%d/%m/%Y' (day first) or '%m/%d/%Y' (month first)."
        ) from err


_EXPLAINED_BY = {
    "missing_ph": {"ph_out_of_range", "not_numeric:ph"},
    "missing_temp": {"temp_out_of_range", "not_numeric:temp"},
    "missing_alkalinity": {"not_numeric:hco3", "not_numeric:alk", "negative_value:hco3",
                           "negative_value:alk"},
}


def _explain_missing(codes: list[str]) -> str:
    """Drop a missing_* code when a fatal flag (e.g. kept from an earlier pass) explains it."""
    present = set(codes)
    return ";".join(c for c in codes if not (_EXPLAINED_BY.get(c, set()) & present))


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
        f"{table.attrs.get('source', 'table')}: {len(flagged)} of {len(table)} rows flagged, "
        f"{fatal} of them not computable ({detail}); see the qa_flags column.{extra}",
        DataQualityWarning,
        stacklevel=3,
    )
