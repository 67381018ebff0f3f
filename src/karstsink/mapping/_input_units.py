"""Units of the map's inputs: every unit a declared or file unit may be, and its conversion.

A unit is looked up after :func:`unit_key` (lower case; spaces, ``^``, ``**`` and ``_``
removed), so ``"kg m-2 s-1"``, ``"kg m**-2 s**-1"`` and ``"kg/m^2/s"`` are one unit.
Fluxes (water, carbon) are an amount per time step: each amount (``mm``, ``kg m-2`` ...)
combines with each step (``yr``, ``month``, ``day``, ``h``, ``s``) as ``A/P`` or
``A P-1``.  :func:`lookup` gives a :class:`Unit`: ``model value = factor x value +
offset`` for a rate, and for a flux also the amount factor and the steps per year, which
``aggregate = "sum"`` needs (12 monthly amounts summed are a yearly amount).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import UnitError
from ..units import DAYS_PER_YEAR, KELVIN_OFFSET, SECONDS_PER_YEAR

__all__ = ["FLUX_INPUTS", "PRESSURE_UNITS", "Unit", "amount_factor", "is_pressure",
           "known_unit", "lookup", "shown_units", "unit_key"]

#: time step -> steps per year
_STEPS = {
    **dict.fromkeys(("yr", "year", "a", "annum", "y"), 1.0),
    **dict.fromkeys(("month", "mon", "mo"), 12.0),
    **dict.fromkeys(("day", "d"), DAYS_PER_YEAR),
    **dict.fromkeys(("h", "hr", "hour"), DAYS_PER_YEAR * 24.0),
    **dict.fromkeys(("s", "sec"), SECONDS_PER_YEAR),
}
#: water amounts -> mm (1 kg of water per m2 is a 1 mm layer: density 1,000 kg m-3)
_WATER_AMOUNT = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "kgm-2": 1.0, "kg/m2": 1.0}
#: carbon amounts -> g C m-2 (1 t C km-2 = 1e6 g / 1e6 m2 = 1 g C m-2)
_CARBON_AMOUNT = {"gcm-2": 1.0, "gc/m2": 1.0, "kgcm-2": 1000.0, "kgc/m2": 1000.0,
                  "tckm-2": 1.0, "tc/km2": 1.0}
_TEMPERATURE = {
    **dict.fromkeys(("degc", "°c", "c", "celsius", "degreecelsius", "degreescelsius",
                     "degreec", "degreesc"), (1.0, 0.0)),
    **dict.fromkeys(("k", "kelvin", "degk", "degreek", "degreesk"), (1.0, -KELVIN_OFFSET)),
}
# 1 atm partial pressure = 1e6 ppmv at 1 atm total pressure; 1 atm = 101,325 Pa;
# 1 vol % = 10,000 ppmv; 1 uatm = 1 ppmv (at 1 atm)
_PCO2 = {
    **dict.fromkeys(("ppmv", "ppm", "umol/mol", "µmol/mol", "umolmol-1", "µmolmol-1",
                     "uatm", "µatm"), (1.0, 0.0)),
    "atm": (1e6, 0.0), "pa": (1e6 / 101325.0, 0.0), "hpa": (1e8 / 101325.0, 0.0),
    "kpa": (1e9 / 101325.0, 0.0), "percent": (1e4, 0.0), "%": (1e4, 0.0),
}
#: soil pCO2 units that are a partial pressure (the rest are volume fractions, which a DEM
#: turns into partial pressures at the pixel's air pressure)
PRESSURE_UNITS = frozenset({"atm", "uatm", "µatm", "pa", "hpa", "kpa"})


def is_pressure(unit: str | None) -> bool:
    """Whether a soil pCO2 read in ``unit`` (None: ppmv, the model unit) is a partial
    pressure (a DEM must not scale it again) rather than a volume fraction."""
    return unit is not None and unit_key(unit) in PRESSURE_UNITS
_FRACTION = {**dict.fromkeys(("fraction", "1", "0-1", "dimensionless"), (1.0, 0.0)),
             "percent": (0.01, 0.0), "%": (0.01, 0.0)}
_DEM = {**dict.fromkeys(("m", "metre", "meter", "metres", "meters"), (1.0, 0.0)),
        **dict.fromkeys(("ft", "feet", "foot"), (0.3048, 0.0)), "km": (1000.0, 0.0)}
_WATER_INPUTS = ("runoff", "precipitation", "evapotranspiration", "aet")
#: inputs whose unit is an amount per time step (``aggregate = "sum"`` allowed)
FLUX_INPUTS = (*_WATER_INPUTS, "npp", "nep")
#: units named in messages (the tables accept many spellings of each)
_SHOWN = {
    "water": "mm/yr, mm/month, mm/day, cm/yr, m/yr, m/month, m/day, kg m-2 s-1",
    "carbon": "g C m-2 yr-1, g C m-2 month-1, g C m-2 day-1, kg C m-2 yr-1",
    "temperature": "degC, K", "soil_pco2": "ppmv, atm, Pa, hPa, kPa, percent",
    "fraction": "fraction, percent", "dem": "m, ft, km",
}


@dataclass(frozen=True)
class Unit:
    """A unit of one input.

    Attributes
    ----------
    factor, offset : float
        Model value = factor x value + offset (a flux: as a yearly rate).
    amount : float or None
        Flux units: the amount's factor to the model's amount (mm, g C m-2).
    per_year : float or None
        Flux units: time steps per year (12 for a monthly unit).
    """

    factor: float
    offset: float = 0.0
    amount: float | None = None
    per_year: float | None = None


def unit_key(unit: str) -> str:
    """A unit spelling reduced for look-up (``"kg m**-2 s**-1"`` -> ``"kgm-2s-1"``)."""
    key = unit.strip().lower()
    return re.sub(r"[\s_^]+", "", key.replace("**", ""))


def _fluxes(amounts: dict[str, float]) -> dict[str, Unit]:
    out: dict[str, Unit] = {}
    for a, fa in amounts.items():
        for p, n in _STEPS.items():
            u = Unit(fa * n, 0.0, fa, n)
            for key in (f"{a}/{p}", f"{a}{p}-1"):
                if out.setdefault(key, u) != u:  # pragma: no cover - table consistency
                    raise AssertionError(f"unit spelling {key!r} is ambiguous")
    return out


_WATER = _fluxes(_WATER_AMOUNT)
_CARBON = _fluxes(_CARBON_AMOUNT)


def _plain(table: dict[str, tuple[float, float]]) -> dict[str, Unit]:
    return {k: Unit(f, o) for k, (f, o) in table.items()}


_TABLES: dict[str, tuple[str, dict[str, Unit]]] = {
    **{n: ("water", _WATER) for n in _WATER_INPUTS},
    "npp": ("carbon", _CARBON), "nep": ("carbon", _CARBON),
    "temperature": ("temperature", _plain(_TEMPERATURE)),
    "soil_pco2": ("soil_pco2", _plain(_PCO2)),
    "carbonate": ("fraction", _plain(_FRACTION)),
    "dolomite_fraction": ("fraction", _plain(_FRACTION)),
    "dem": ("dem", _plain(_DEM)),
}


def has_units(name: str) -> bool:
    """Whether input ``name`` takes a unit (land cover holds class codes: no)."""
    return name in _TABLES


def lookup(name: str, unit: str) -> Unit | None:
    """The :class:`Unit` of ``unit`` for input ``name``, or None if unknown."""
    entry = _TABLES.get(name)
    return None if entry is None else entry[1].get(unit_key(unit))


def known_unit(name: str, unit: str) -> Unit:
    """The :class:`Unit` of ``unit`` for input ``name`` (:func:`lookup` for a unit that
    must be known: a declared unit, checked when the config is read).

    Raises
    ------
    UnitError
        If ``unit`` is not a unit of ``name`` in these tables.
    """
    u = lookup(name, unit)
    if u is None:
        hint = f"use one of: {shown_units(name)}" if has_units(name) else \
            f"{name} holds class codes, which have no unit"
        raise UnitError(f"[inputs] {name}.units = {unit!r} is not a unit of {name} known "
                        f"here; {hint}.")
    return u


def amount_factor(name: str, unit: str) -> float | None:
    """For a flux input, the factor of a bare amount (``"mm"``, ``"kg m-2"``: the
    amount per time step a NetCDF file gives without its step), else None."""
    key = unit_key(unit)
    if name in _WATER_INPUTS:
        return _WATER_AMOUNT.get(key)
    if name in ("npp", "nep"):
        return _CARBON_AMOUNT.get(key)
    return None


def shown_units(name: str) -> str:
    """The units of input ``name`` named in messages."""
    return _SHOWN[_TABLES[name][0]]
