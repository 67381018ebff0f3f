"""Units of the sample columns: conversion to the canonical units and which unit applies.

Private part of the sample reader (:mod:`karstsink.io.samples`): :func:`_convert`
turns a column given in a unit into the canonical one (mmol L⁻¹, mg C L⁻¹, °C,
µS cm⁻¹); :func:`_resolve_units` decides each column's unit (a unit written in the
header or units row wins over ``units=``, a contradiction is an error);
:func:`_raw_column` reads a column the alias table does not know (flux samples).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import ConfigError, UnitError
from ..units import (
    ELEMENT_QUALIFIERS,
    KELVIN_OFFSET,
    MOLAR_MASS,
    from_mmol_per_l,
    parse_concentration_unit,
    to_mmol_per_l,
)
from . import cells
from .headers import (
    CANONICAL_UNITS,
    KEYS,
    UNIT_REQUIRED_KINDS,
    ec_factor,
    match_user_name,
    parse_unit,
    split_header,
)

# mass units of a qualified solute ("as P", "as Si", "as H2SiO3"): karstsink.units.MOLAR_MASS
_ELEMENT_MASS = {"p": MOLAR_MASS["P"], "si": MOLAR_MASS["Si"], "h2sio3": MOLAR_MASS["h2sio3"]}


def _convert(values: np.ndarray, key: str, unit: str) -> np.ndarray:
    """Convert ``values`` of ``key`` given in ``unit`` to the canonical unit [see module]."""
    kind = KEYS[key][1]
    arr = np.asarray(values, dtype=float)
    if kind == "temp":
        if unit == "°F":
            return (arr - 32.0) * 5.0 / 9.0
        if unit == "K":
            return arr - KELVIN_OFFSET
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
    if basis == "mass" and qual in _ELEMENT_MASS:
        if species != ("po4" if qual == "p" else "sio2"):
            raise UnitError(f"'as {qual}' does not apply to {key!r}.")
        return arr * scale / _ELEMENT_MASS[qual]
    return np.asarray(to_mmol_per_l(arr, species, unit), dtype=float)


def dilute_note(unit: str) -> str | None:
    """What reading ``unit`` per litre assumes, for units of mass fraction or per kg water.

    ``ppm`` (mg/kg), ``ppb`` (µg/kg) and ``mmol/kg`` are read as mg/L, µg/L and mmol/L:
    dilute water weighs ~1 kg/L (0.998 kg/L at 20 °C), so the error is below 1 % for
    fresh water but not for brines.
    """
    base = unit.split(" as ")[0].strip().lower()
    if base in ("ppm", "ppb"):
        per_l = "mg/L" if base == "ppm" else "µg/L"
    elif base.endswith(("/kg", "/kgw")):
        per_l = base.split("/")[0].replace("u", "µ") + "/L"
    else:
        return None
    return (f"{unit} read as {per_l} (1 kg of dilute water ~ 1 L; not valid for brines, "
            "whose density is well above 1 kg/L)")


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


_VALUE_UNIT_RE = re.compile(r"^\s*([+-]?[\d.,]+)\s*(\S.*?)\s*$")


def _accept_cells_with_unit(texts, values, status, key, unit, decimal_comma) -> None:
    """Read cells such as ``16.5 °C`` or ``80 mg/L`` when the unit reads like the column's.

    The whole unit counts, its basis too: ``240 mg/L as CaCO3`` under ``HCO3 (mg/L)``
    (mg/L of HCO3⁻) or ``5 mg/L as N`` under ``NO3 (mg/L)`` stays ``not_numeric``
    (flagged) instead of being read in the column's basis; a cell without a basis takes the
    column's: ``200 mg/L`` under ``Alk (mg/L as CaCO3)``, ``1.4 mg/L`` under ``NO3-N (mg/L)``
    are read.
    """
    kind = KEYS[key][1]
    for i in np.flatnonzero(status == cells.NOT_NUMERIC):
        m = _VALUE_UNIT_RE.match(cells.nfkc(texts[i]))
        if not m:
            continue
        cell_unit = parse_unit(m[2], kind)
        if cell_unit is None:
            continue
        if kind == "conc" and " as " in unit and " as " not in cell_unit:
            # '1.4 mg/L' under 'NO3-N (mg/L)': the cell repeats the unit, the header its basis
            cell_unit = f"{cell_unit} as {unit.split(' as ', 1)[1]}"
        try:
            if not _units_agree(key, cell_unit, unit):
                continue
        except UnitError:  # a basis that cannot describe the column ('as N' for HCO3)
            continue
        value = cells.to_float(m[1], bool(decimal_comma))
        if value is not None:
            values[i], status[i] = value, cells.OK


#: Element qualifiers and the species they can describe (one N per NO3/NO2/NH4, one S per
#: SO4, one C per HCO3/CO3); 'mg/L as N' of HCO3 would be read 4.4 x too high otherwise.


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
        species = "hco3" if key == "alk" else key
        if qual in ELEMENT_QUALIFIERS and species not in ELEMENT_QUALIFIERS[qual]:
            raise UnitError(f"'{unit}' does not apply to {key!r} ('as {qual.upper()}' is for "
                            f"{', '.join(ELEMENT_QUALIFIERS[qual])}).")
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
                    assert unitless is not None  # else raised just above
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
        note = dilute_note(unit)
        if note:
            notes.append(f"{name!r}: {note}")
        if key == "alk" and applied != _with_qualifier(unit, qualifier):
            notes.append(f"{name!r}: alkalinity in a mass unit read as {applied} "
                         "(APHA 2320 convention); say 'as HCO3' in the header if it is not")
        elif key == "alk" and applied.split(" as ")[0].lower() == "mmol/l" and not qualifier:
            notes.append(f"{name!r}: alkalinity in mmol/L read as meq/L (mmol/L of HCO3-, "
                         "charge 1); say 'as CaCO3' in the header if it is mmol/L of CaCO3")
        try:
            _check_applies(key, applied)
        except UnitError as err:
            raise UnitError(f"{source}: column {name!r}: {err}") from err
        out[key] = applied
    return out



# ---------------------------------------------------------------------------
# a column the alias table does not know (flux samples: 'value', 'phosphorus')
# ---------------------------------------------------------------------------


def _species_of(key: str) -> str:
    return "hco3" if key == "alk" else key


def _given_unit(units: Any, key: str | None, name: str) -> str | None:
    if isinstance(units, Mapping):
        for k in (key, name, name.lower()):
            if k is not None and k in units:
                return str(units[k])
        return None
    return None if units is None else str(units)


def _header_unit(header: str) -> str | None:
    """The concentration unit written in a header the alias table does not know."""
    for _name, unit_text, _form in split_header(header):
        if unit_text:
            unit = parse_unit(unit_text, "conc")
            if unit is not None:
                return unit
    return None


def _raw_column(table, col, species, units, source):
    """Values [mg/L] of a column the alias table does not know, by the reader's rules."""
    texts = cells.text_cells(table[col])
    dc = (table.attrs.get("reader") or {}).get("decimal_comma")
    values, status = cells.parse_column(texts, True if dc else None)
    written = _header_unit(str(col))
    given = _given_unit(units, species, str(col))
    if given is not None:
        parsed = parse_unit(given, "conc")
        if parsed is None:
            raise UnitError(f"{source}: {given!r} is not a concentration unit karstsink reads "
                            "(use mg/L, mmol/L, meq/L or µmol/L, optionally 'as CaCO3', "
                            "'as N', 'as S').")
        given = parsed
    unit = written or given
    if unit is None:
        raise UnitError(
            f"{source}: the unit of column {str(col)!r} is not given; write it in the header "
            f"(e.g. '{col} (mg/L)') or pass units= / --units (mg/L, mmol/L, meq/L, "
            "'mg/L as CaCO3').")
    known = species is not None and KEYS.get(species, ("", ""))[1] in ("conc", "orgc")
    if known:
        try:
            reading = _reading(species, unit, None)
            _check_applies(species, reading)
            if given is not None and written is not None and not _units_agree(
                    species, reading, _reading(species, given, None)):
                raise UnitError(f"column {str(col)!r} states {written!r} in its header but "
                                f"units= (--units) says {given!r}; a unit written in the "
                                "file wins: leave --units out or correct the header.")
        except UnitError as err:
            raise UnitError(f"{source}: {err}") from err
        one = float(_convert(np.array([1.0]), species, reading)[0])
        factor = one if KEYS[species][1] == "orgc" else float(
            from_mmol_per_l(one, _species_of(species), "mg/L"))
        unit = reading
    else:  # no molar mass: a mass concentration is kept on its own basis ('as P')
        scale, basis, _q = parse_concentration_unit(unit)
        if given is not None and written is not None and parse_concentration_unit(
                given) != (scale, basis, _q):
            raise UnitError(f"{source}: column {str(col)!r} states {written!r} in its header "
                            f"but units= (--units) says {given!r}; a unit written in the "
                            "file wins: leave --units out or correct the header.")
        if basis != "mass":
            raise UnitError(f"{source}: karstsink has no molar mass for column {str(col)!r}; "
                            "give it in a mass unit (mg/L, µg/L).")
        factor = scale
    if abs(factor - 1.0) < 1e-12:
        factor = 1.0  # mg/L stays exactly what was written
    conc = values * factor
    return conc, status, unit
