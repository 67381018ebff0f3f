"""``[inputs]`` values of a map configuration: a path, or an inline table.

An input is either a path string or an inline table with at least ``path``::

    runoff = "runoff.tif"
    runoff = { path = "runoff_m.tif", units = "m/yr" }        # converted to mm/yr
    temperature = { path = "t2m.tif", units = "K" }            # converted to degC
    soil_pco2 = { path = "pco2.tif", scale = 0.1 }             # packed: value = raw x 0.1
    runoff = { path = "runoff.tif", force = true }             # skip the plausibility check

``scale`` and ``offset`` unpack the stored numbers (after the file's own scale and
offset metadata) into the declared ``units``; ``units`` then converts them to the
model's unit (:data:`CANONICAL`).  ``force = true`` accepts values the plausibility
check (:mod:`._checks`) would refuse.  Each key is parsed by its own function in
:data:`_KEYS`, so further keys (``variable``, ``band``, ``aggregate``) add one entry.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError

__all__ = ["CANONICAL", "InputSpec", "parse_input", "unit_transform"]

#: the model's unit of each input
CANONICAL = {
    "landcover": "class code", "carbonate": "fraction", "dolomite_fraction": "fraction",
    "runoff": "mm/yr", "precipitation": "mm/yr", "evapotranspiration": "mm/yr",
    "aet": "mm/yr", "temperature": "degC", "soil_pco2": "ppmv",
    "npp": "g C m-2 yr-1", "nep": "g C m-2 yr-1", "dem": "m",
}
_WATER = {"mm/yr": (1.0, 0.0), "mm/a": (1.0, 0.0), "mmyr-1": (1.0, 0.0),
          "mma-1": (1.0, 0.0), "cm/yr": (10.0, 0.0), "cmyr-1": (10.0, 0.0),
          "m/yr": (1000.0, 0.0), "m/a": (1000.0, 0.0), "myr-1": (1000.0, 0.0),
          "ma-1": (1000.0, 0.0)}
_FRACTION = {"fraction": (1.0, 0.0), "1": (1.0, 0.0), "0-1": (1.0, 0.0),
             "percent": (0.01, 0.0), "%": (0.01, 0.0)}
_CARBON = {"gcm-2yr-1": (1.0, 0.0), "gc/m2/yr": (1.0, 0.0), "tckm-2yr-1": (1.0, 0.0),
           "kgcm-2yr-1": (1000.0, 0.0), "kgc/m2/yr": (1000.0, 0.0)}
#: declared unit (spaces removed, lower case) -> (factor, offset) to the model's unit
_UNITS: dict[str, dict[str, tuple[float, float]]] = {
    "carbonate": _FRACTION, "dolomite_fraction": _FRACTION,
    "runoff": _WATER, "precipitation": _WATER, "evapotranspiration": _WATER, "aet": _WATER,
    # 1 vol % = 10,000 ppmv; 1 atm partial pressure = 1e6 ppmv (at 1 atm total pressure)
    "soil_pco2": {"ppmv": (1.0, 0.0), "ppm": (1.0, 0.0), "atm": (1e6, 0.0),
                  "percent": (1e4, 0.0), "%": (1e4, 0.0)},
    "temperature": {"degc": (1.0, 0.0), "°c": (1.0, 0.0), "c": (1.0, 0.0),
                    "celsius": (1.0, 0.0), "k": (1.0, -273.15), "kelvin": (1.0, -273.15)},
    "npp": _CARBON, "nep": _CARBON,
    "dem": {"m": (1.0, 0.0), "ft": (0.3048, 0.0), "km": (1000.0, 0.0)},
}


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
    """

    name: str
    path: Path
    force: bool = False
    units: str | None = None
    scale: float = 1.0
    offset: float = 0.0

    @property
    def transform(self) -> tuple[float, float]:
        """``(factor, offset)`` from the stored number to the model's unit."""
        return unit_transform(self)

    def describe(self) -> str:
        """How the stored numbers are read, for messages and ``run.json``."""
        parts = [f"units {self.units}"] if self.units else []
        if (self.scale, self.offset) != (1.0, 0.0):
            parts.append(f"value = stored x {self.scale:g} + {self.offset:g}")
        if self.force:
            parts.append("force = true")
        return "; ".join(parts)


def _key(unit: str) -> str:
    return re.sub(r"\s+", "", unit.strip().lower()).replace("^", "").replace("**", "")


def unit_transform(spec: InputSpec) -> tuple[float, float]:
    """``(a, b)`` with model value = a x stored + b (scale/offset, then the unit)."""
    a, b = spec.scale, spec.offset
    if spec.units is None:
        return a, b
    f, o = _UNITS[spec.name][_key(spec.units)]
    return a * f, b * f + o


def _bool(where, name, value):
    if name == "landcover":
        raise ConfigError(f"{where}[inputs] landcover.force: class codes have no range to "
                          f"force (non-integer codes must be fixed in the file); remove it.")
    if not isinstance(value, bool):
        raise ConfigError(f"{where}[inputs] {name}.force must be true or false; got {value!r}.")
    return value


def _units(where, name, value):
    table = _UNITS.get(name)
    if table is None:
        raise ConfigError(f"{where}[inputs] {name}.units: {name} holds class codes, which "
                          f"have no unit; remove units.")
    if not isinstance(value, str) or _key(value) not in table:
        allowed = ", ".join(sorted({u for u in table if not u.startswith("°")}))
        raise ConfigError(f"{where}[inputs] {name}.units = {value!r} is not a unit of "
                          f"{name} known here; use one of: {allowed} (model unit "
                          f"{CANONICAL[name]}).")
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
         "offset": _number("offset")}


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
        return InputSpec(name=name, path=resolve(name, value["path"]), **opts)
    return InputSpec(name=name, path=resolve(name, value))
