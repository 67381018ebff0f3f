"""An ``[inputs]`` entry reconciled with its file: GDAL path, bands, unit, conversion.

:func:`resolve_input` opens the file's metadata once (:func:`karstsink.io.rasters.raster_info`)
and decides how the map reads it:

* **path**: the file, or its NetCDF/HDF variable (``variable``);
* **bands**: ``band = N``, all bands with ``aggregate``, band 1 of a one-band file; a
  file with several bands and neither key is refused (which step is meant?);
* **unit**: the declared ``units``, else the file's own (the CF ``units`` attribute, GDAL's
  band unit).  A declared unit that contradicts the file's is refused; a file that gives
  a bare amount per time step (TerraClimate's ``"mm"`` per month) needs the step
  declared (``units = "mm/month"``); a file unit not known here must be declared;
* **conversion** ``(a, b)``: model value = a x v + b, v the band mean after the file's
  own packing (CF ``scale_factor``/``add_offset``, applied by
  :class:`~karstsink.mapping.grid.AlignedSource`).  ``aggregate = "sum"`` is the mean
  times the band count, as an amount per year: it needs the bands to cover one year
  (12 monthly or 365/366 daily steps), so that 12 monthly amounts in mm/month add up to
  mm/yr; ``aggregate = "mean"`` of a flux is its mean rate (mean mm/month x 12 = mm/yr).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..exceptions import ConfigError, RasterError, UnitError
from ..io.rasters import gdal_path, raster_info
from ._input_units import amount_factor, has_units, lookup, shown_units, unit_key
from ._inputs import CANONICAL, InputSpec

__all__ = ["SourceRead", "resolve_input"]

#: time steps per year -> band counts that make one year when summed
_YEAR_COUNTS = {12.0: (12,), 365.25: (365, 366)}


@dataclass(frozen=True)
class SourceRead:
    """How the map reads one input (picklable: sent to engine workers).

    Attributes
    ----------
    path : str
        The path GDAL opens.
    bands : tuple of int
        1-based bands read (several: reduced per pixel).
    convert : (float, float)
        Model value = a x v + b (v: band mean of the unpacked stored values).
    crs : str or None
        CRS assumed when the file has none (a CF lat/lon file: EPSG:4326).
    units : str or None
        The unit the values are read in (declared, or the file's).
    note : str
        How the input is read, for ``run.json`` ('' when plainly).
    """

    path: str
    bands: tuple[int, ...]
    convert: tuple[float, float]
    crs: str | None
    units: str | None
    note: str


def _where(spec: InputSpec) -> str:
    return f"Input {spec.name!r} ({spec.path}{':' + spec.variable if spec.variable else ''})"


def _bands(spec: InputSpec, count: int) -> tuple[int, ...]:
    if spec.band is not None:
        if spec.band > count:
            raise ConfigError(f"[inputs] {spec.name}.band = {spec.band}: {spec.path} has "
                              f"{count} band(s); choose 1-{count}.")
        return (spec.band,)
    if spec.aggregate:
        return tuple(range(1, count + 1))
    if count > 1:
        raise ConfigError(f"{_where(spec)} has {count} bands (time steps); choose one with "
                          f"band = N, or reduce them: aggregate = \"mean\" (a climatology) or "
                          f"\"sum\" (one year's monthly amounts).")
    return (1,)


def _unit(spec: InputSpec, file_unit: str) -> str | None:
    """The unit to read ``spec`` in: declared or the file's (refusing contradictions)."""
    name, declared = spec.name, spec.units
    if not has_units(name) or not file_unit:
        return declared
    fu = lookup(name, file_unit)
    bare = amount_factor(name, file_unit)
    if declared is None:
        if fu is not None:
            return file_unit
        if bare is not None:
            raise UnitError(f"{_where(spec)}: the file gives units {file_unit!r}, an amount "
                            f"per time step without the step; declare it: units = "
                            f"\"{file_unit}/month\" (or /day, /yr).")
        raise UnitError(f"{_where(spec)}: the file gives units {file_unit!r}, not a unit of "
                        f"{name} known here; declare what the values are: units = one of "
                        f"{shown_units(name)} (model unit {CANONICAL[name]}).")
    du = lookup(name, declared)
    same = (fu is not None and (fu.factor, fu.offset) == (du.factor, du.offset)) or (
        fu is None and bare is not None and du.amount == bare)
    if fu is None and bare is None:
        return declared  # a unit this table does not know: the declaration decides
    if not same and unit_key(file_unit) != unit_key(declared):
        raise UnitError(f"[inputs] {name}.units = {declared!r} contradicts the unit of "
                        f"{spec.path} ({file_unit!r}); remove units (the file's unit is "
                        f"then used) or correct the file's metadata.")
    return declared


def _convert(spec: InputSpec, unit: str | None, n: int) -> tuple[float, float]:
    a, b = spec.scale, spec.offset
    if unit is None:
        if spec.aggregate == "sum":
            raise ConfigError(f"[inputs] {spec.name}.aggregate = \"sum\" needs the unit of "
                              f"each band (e.g. units = \"mm/month\"): neither the config "
                              f"nor {spec.path} gives it.")
        return a, b
    u = lookup(spec.name, unit)
    if spec.aggregate != "sum":
        return a * u.factor, b * u.factor + u.offset
    counts = _YEAR_COUNTS.get(u.per_year, ())
    if n not in counts:
        step = {1.0: "year"}.get(u.per_year, f"1/{u.per_year:g} year")
        raise ConfigError(
            f"[inputs] {spec.name}.aggregate = \"sum\": {n} band(s) of {unit} (one step = "
            f"{step}) do not make one year; sum needs 12 monthly or 365/366 daily bands. "
            f"Use aggregate = \"mean\" for a mean rate (a multi-year stack), or band = N.")
    f = n * u.amount  # the year's amount: n x band mean
    return a * f, b * f


def resolve_input(spec: InputSpec) -> SourceRead:
    """How the map reads ``spec`` (see the module docstring).

    Raises
    ------
    ConfigError
        A band out of range, several bands without ``band``/``aggregate``, a sum that is
        not one year.
    UnitError
        A declared unit contradicting the file's; a file unit that needs declaring.
    RasterError
        An unreadable file, a missing variable.
    """
    path = gdal_path(spec.path, spec.variable)
    info = raster_info(path)
    bands = _bands(spec, info.count)
    idx = [b - 1 for b in bands]
    if len({(info.scales[i], info.offsets[i]) for i in idx}) > 1:
        raise RasterError(f"{_where(spec)}: its bands are packed with different scale "
                          f"factors or offsets; aggregate needs one packing (choose band "
                          f"= N).")
    units = {info.units[i] for i in idx}
    file_unit = units.pop() if len(units) == 1 else ""
    unit = _unit(spec, file_unit) if spec.name != "landcover" else None
    convert = _convert(spec, unit, len(bands))
    parts = [spec.describe()] if spec.describe() else []
    if unit and not spec.units:
        parts.append(f"units {unit} (from the file)")
    if len(bands) > 1:
        parts.append(f"{len(bands)} bands")
    if info.crs_wkt is None and info.implied_crs:
        parts.append(f"CRS {info.implied_crs} (CF latitude/longitude, no grid_mapping)")
    if (info.scales[idx[0]], info.offsets[idx[0]]) != (1.0, 0.0):
        parts.append(f"file packing x {info.scales[idx[0]]:g} + {info.offsets[idx[0]]:g}")
    return SourceRead(path=path, bands=bands, convert=convert,
                      crs=info.implied_crs if info.crs_wkt is None else None,
                      units=unit, note="; ".join(parts))
