"""``[inputs]`` values of a map configuration: a path, or an inline table.

An input is either a path string or an inline table with at least ``path``::

    runoff = "runoff.tif"
    runoff = { path = "runoff_m.tif", units = "m/yr" }        # converted to mm/yr
    temperature = { path = "t2m.tif", units = "K" }            # converted to degC
    soil_pco2 = { path = "pco2.tif", scale = 0.1 }             # packed: value = raw x 0.1
    runoff = { path = "runoff.tif", force = true }             # skip the plausibility check
    runoff = { path = "q.nc", variable = "q", aggregate = "sum" }  # 12 months -> a year

``scale`` and ``offset`` unpack the stored numbers (after the file's own scale and
offset metadata) into the declared ``units``; ``units`` then converts them to the
model's unit (:data:`CANONICAL`).  ``force = true`` accepts values the plausibility
check (:mod:`._checks`) would refuse.  ``variable`` picks a NetCDF/HDF variable,
``band`` one band, ``aggregate`` reduces all bands (:mod:`._sources` reconciles these
with what the file says: its unit, band count and packing).  Each key is parsed by its
own function in :data:`_KEYS`; units are in :mod:`._input_units`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ._input_units import FLUX_INPUTS, amount_factor, has_units, lookup, shown_units

__all__ = ["AGGREGATES", "CANONICAL", "InputSpec", "parse_input", "unit_transform"]

#: the model's unit of each input
CANONICAL = {
    "landcover": "class code", "carbonate": "fraction", "dolomite_fraction": "fraction",
    "runoff": "mm/yr", "precipitation": "mm/yr", "evapotranspiration": "mm/yr",
    "aet": "mm/yr", "temperature": "degC", "soil_pco2": "ppmv",
    "npp": "g C m-2 yr-1", "nep": "g C m-2 yr-1", "dem": "m",
}
AGGREGATES = ("sum", "mean")


@dataclass(frozen=True)
class InputSpec:
    """One ``[inputs]`` entry.

    Attributes
    ----------
    name : str
        The input (``runoff``, ``temperature`` ...).
    path : pathlib.Path
        The raster (absolute).
    force : bool
        Accept values the plausibility check would refuse.
    units : str or None
        The declared unit (None: the model's unit, :data:`CANONICAL`).
    scale, offset : float
        Stored number -> value in ``units``: ``value = stored x scale + offset``.
    variable : str or None
        The variable of a NetCDF/HDF file.
    band : int or None
        The band (1-based; a NetCDF variable's time step) to read.
    aggregate : {"sum", "mean"} or None
        Reduce all bands: ``mean`` (a climatology of a multi-year stack; a flux's mean
        rate), ``sum`` (the amounts of a year's 12 monthly or 365/366 daily steps).
    """

    name: str
    path: Path
    force: bool = False
    units: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    variable: str | None = None
    band: int | None = None
    aggregate: str | None = None

    @property
    def transform(self) -> tuple[float, float]:
        """``(factor, offset)`` from the stored number to the model's unit."""
        return unit_transform(self)

    def describe(self) -> str:
        """How the stored numbers are read, for messages and ``run.json``."""
        parts = [f"variable {self.variable}"] if self.variable else []
        if self.band is not None:
            parts.append(f"band {self.band}")
        if self.aggregate:
            parts.append(f"aggregate {self.aggregate} over the bands")
        if self.units:
            parts.append(f"units {self.units}")
        if (self.scale, self.offset) != (1.0, 0.0):
            parts.append(f"value = stored x {self.scale:g} + {self.offset:g}")
        if self.force:
            parts.append("force = true")
        return "; ".join(parts)


def unit_transform(spec: InputSpec) -> tuple[float, float]:
    """``(a, b)`` with model value = a x stored + b (scale/offset, then the unit) for one
    band or a mean over bands (a flux unit as a yearly rate); see :mod:`._sources` for
    ``aggregate = "sum"`` and for the file's own unit."""
    a, b = spec.scale, spec.offset
    if spec.units is None:
        return a, b
    u = lookup(spec.name, spec.units)
    return a * u.factor, b * u.factor + u.offset


def _bool(where, name, value):
    if name == "landcover":
        raise ConfigError(f"{where}[inputs] landcover.force: class codes have no range to "
                          f"force (non-integer codes must be fixed in the file); remove it.")
    if not isinstance(value, bool):
        raise ConfigError(f"{where}[inputs] {name}.force must be true or false; got {value!r}.")
    return value


def _units(where, name, value):
    if not has_units(name):
        raise ConfigError(f"{where}[inputs] {name}.units: {name} holds class codes, which "
                          f"have no unit; remove units.")
    if not isinstance(value, str) or lookup(name, value) is None:
        hint = ""
        if isinstance(value, str) and amount_factor(name, value) is not None:
            hint = f" ({value} is an amount: give its time step, e.g. {value}/month)"
        raise ConfigError(f"{where}[inputs] {name}.units = {value!r} is not a unit of "
                          f"{name} known here{hint}; use one of: {shown_units(name)} (model "
                          f"unit {CANONICAL[name]}).")
    return value


def _variable(where, name, value):
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}[inputs] {name}.variable must be the name of a NetCDF/"
                          f"HDF variable (a string); got {value!r}.")
    return value.strip()


def _band(where, name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where}[inputs] {name}.band must be a band number from 1 (the "
                          f"first band or time step); got {value!r}.")
    return value


def _aggregate(where, name, value):
    if value not in AGGREGATES:
        raise ConfigError(f"{where}[inputs] {name}.aggregate must be \"sum\" or \"mean\" "
                          f"(over the bands); got {value!r}.")
    if name == "landcover":
        raise ConfigError(f"{where}[inputs] landcover.aggregate: class codes cannot be "
                          f"averaged or summed; choose one band = N.")
    if value == "sum" and name not in FLUX_INPUTS:
        raise ConfigError(f"{where}[inputs] {name}.aggregate = \"sum\": a sum of {name} "
                          f"values has no meaning (only fluxes per time step add up); use "
                          f"aggregate = \"mean\".")
    return value


def _number(key):
    def parse(where, name, value):
        if name == "landcover":
            raise ConfigError(f"{where}[inputs] landcover.{key}: class codes cannot be "
                              f"scaled; remove {key}.")
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(float(value)) or (key == "scale" and value == 0):
            raise ConfigError(f"{where}[inputs] {name}.{key} must be a finite number"
                              f"{' other than 0' if key == 'scale' else ''}; got {value!r}.")
        return float(value)
    return parse


#: inline-table key -> parser(where, input name, value) -> value for InputSpec
_KEYS = {"force": _bool, "units": _units, "scale": _number("scale"),
         "offset": _number("offset"), "variable": _variable, "band": _band,
         "aggregate": _aggregate}


def parse_input(where: str, name: str, value: Any, resolve) -> InputSpec:
    """An ``[inputs]`` value as an :class:`InputSpec`.

    ``resolve(key, value)`` turns the path string into an absolute, existing path
    (raising ConfigError).  Unknown keys of an inline table are one ConfigError line.
    """
    if isinstance(value, dict):
        unknown = [k for k in value if k != "path" and k not in _KEYS]
        if unknown:
            raise ConfigError(f"{where}[inputs] {name}: unknown key {unknown[0]!r} in the "
                              f"inline table; allowed: path, {', '.join(_KEYS)}.")
        if "path" not in value:
            raise ConfigError(f"{where}[inputs] {name} = {{...}} needs a path key "
                              f"({name} = {{ path = \"file.tif\", ... }}).")
        opts = {k: _KEYS[k](where, name, v) for k, v in value.items() if k != "path"}
        if "band" in opts and "aggregate" in opts:
            raise ConfigError(f"{where}[inputs] {name}: give band (one band) or aggregate "
                              f"(all bands), not both.")
        return InputSpec(name=name, path=resolve(name, value["path"]), **opts)
    return InputSpec(name=name, path=resolve(name, value))
