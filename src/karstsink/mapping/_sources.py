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
  mm/yr; ``aggregate = "mean"`` of a flux is its mean rate (mean mm/month x 12 = mm/yr);
* **packing convention**: GDAL applies a file's packing with the CF meaning (value =
  stored x scale_factor + add_offset).  A MODIS/HDF-EOS file (``convention = "modis"``,
  or its HDF-EOS metadata) means value = scale_factor x (stored - add_offset): the
  difference is folded into the conversion (:func:`_packing`);
* a **polygon** input (``field`` given) is read by :mod:`._vector`; its read path is the
  :class:`~._vector.VectorRead` string.

:func:`run_assumptions` gives the assumption sentences of a run or of one year of a
series, :func:`table_doc` the land-cover table as the outputs record it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..exceptions import ConfigError, RasterError, UnitError
from ..io.rasters import display_path, gdal_path, raster_info
from ..units import DAYS_PER_YEAR
from ._input_units import amount_factor, has_units, known_unit, lookup, shown_units, unit_key
from ._inputs import CANONICAL, InputSpec
from ._paths import relative_path

__all__ = ["SourceRead", "bio_from_table", "resolve_input", "run_assumptions", "table_doc"]

#: time steps per year -> band counts that make one year when summed
_YEAR_COUNTS = {12.0: (12,), DAYS_PER_YEAR: (365, 366)}


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
    return f"Input {spec.name!r} ({spec.label}{':' + spec.variable if spec.variable else ''})"


def _bands(spec: InputSpec, count: int) -> tuple[int, ...]:
    if spec.band is not None:
        if spec.band > count:
            raise ConfigError(f"[inputs] {spec.name}.band = {spec.band}: {spec.label} has "
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
    du = known_unit(name, declared)  # a declared unit is checked when the config is read
    same = (fu is not None and (fu.factor, fu.offset) == (du.factor, du.offset)) or (
        fu is None and bare is not None and du.amount == bare)
    if fu is None and bare is None:
        return declared  # a unit this table does not know: the declaration decides
    if not same and unit_key(file_unit) != unit_key(declared):
        raise UnitError(f"[inputs] {name}.units = {declared!r} contradicts the unit of "
                        f"{spec.label} ({file_unit!r}); remove units (the file's unit is "
                        f"then used) or correct the file's metadata.")
    return declared


def _convert(spec: InputSpec, unit: str | None, n: int) -> tuple[float, float]:
    a, b = spec.scale, spec.offset
    if unit is None:
        if spec.aggregate == "sum":
            raise ConfigError(f"[inputs] {spec.name}.aggregate = \"sum\" needs the unit of "
                              f"each band (e.g. units = \"mm/month\"): neither the config "
                              f"nor {spec.label} gives it.")
        return a, b
    u = known_unit(spec.name, unit)  # _unit() gives a declared or a known file unit
    if spec.aggregate != "sum":
        return a * u.factor, b * u.factor + u.offset
    # sum is refused at config time unless the input is a flux (FLUX_INPUTS), and every
    # unit of a flux input has its amount and steps per year (_input_units._fluxes)
    assert u.per_year is not None and u.amount is not None
    counts = _YEAR_COUNTS.get(u.per_year, ())
    if n not in counts:
        step = {1.0: "year"}.get(u.per_year, f"1/{u.per_year:g} year")
        raise ConfigError(
            f"[inputs] {spec.name}.aggregate = \"sum\": {n} band(s) of {unit} (one step = "
            f"{step}) do not make one year; sum needs 12 monthly or 365/366 daily bands. "
            f"Use aggregate = \"mean\" for a mean rate (a multi-year stack), or band = N.")
    f = n * u.amount  # the year's amount: n x band mean
    return a * f, b * f


def _packing(spec: InputSpec, info, idx: int) -> tuple[tuple[float, float], str]:
    """``(k, m)``: the unpacked value = k x (what GDAL returns) + m, and a note.

    GDAL returns ``g = gs x stored + go`` (its band scale/offset: CF meaning, 1 and 0 when
    the file's packing is metadata only, as GDAL's HDF4 driver gives it).  The file's
    packing ``(s, o)`` is the band scale/offset or those metadata items; its meaning is
    CF (``s x stored + o``) or MODIS (``s x (stored - o)``, MOD17A3/MOD16A3 user guides).
    """
    gs, go = info.scales[idx], info.offsets[idx]
    s, o = gs, go
    if info.tag_packing is not None:
        s, o = info.tag_packing[idx]
    modis = spec.convention == "modis" or (spec.convention is None and info.modis)
    if gs == 0:
        raise RasterError(f"{_where(spec)}: the file's scale factor is 0.")
    stored = (1.0 / gs, -go / gs)  # stored = a x g + b
    value = (s, -s * o) if modis else (s, o)  # value = c x stored + d
    k = value[0] * stored[0]
    m = value[0] * stored[1] + value[1]
    note = ""
    if (s, o) != (1.0, 0.0):
        note = (f"file packing MODIS: {s:g} x (stored - {o:g})" if modis else
                f"file packing x {s:g} + {o:g}")
    return (k, m), note


def _vector(spec: InputSpec) -> SourceRead:
    from ._vector import vector_read

    vr = vector_read(spec)
    return SourceRead(path=vr.to_path(), bands=(1,), convert=(1.0, 0.0), crs=None,
                      units="fraction", note=vr.describe())


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
    if spec.is_vector:
        return _vector(spec)
    path = gdal_path(spec.path, spec.variable)
    info = raster_info(path)
    if spec.tiles and str(spec.path).lstrip().startswith("<VRTDataset"):
        # a mosaic's VRT carries no file metadata: the HDF-EOS (MODIS) marks, the packing
        # items and the valid range are read from its first tile (the tiles of one
        # product share them)
        import dataclasses

        first = raster_info(str(spec.tiles[0]))
        info = dataclasses.replace(info, modis=first.modis, valid_range=first.valid_range,
                                   tag_packing=first.tag_packing)
    valid = spec.valid_range or (info.valid_range if info.modis else None)
    if valid is not None:  # fill classes -> nodata: the file through a VRT with a LUT
        from ._mosaic import mosaic_vrt

        path = mosaic_vrt([path], spec.label, valid=valid)
    bands = _bands(spec, info.count)
    idx = [b - 1 for b in bands]
    if len({(info.scales[i], info.offsets[i]) for i in idx}) > 1:
        raise RasterError(f"{_where(spec)}: its bands are packed with different scale "
                          f"factors or offsets; aggregate needs one packing (choose band "
                          f"= N).")
    units = {info.units[i] for i in idx}
    file_unit = units.pop() if len(units) == 1 else ""
    unit = _unit(spec, file_unit) if spec.name != "landcover" else None
    a, b = _convert(spec, unit, len(bands))
    (k, m), packing = _packing(spec, info, idx[0])
    if info.tag_packing is not None and len({info.tag_packing[i] for i in idx}) > 1:
        raise RasterError(f"{_where(spec)}: its bands are packed with different scale "
                          f"factors or offsets; aggregate needs one packing (choose band "
                          f"= N).")
    convert = (a * k, a * m + b)
    parts = [spec.describe()] if spec.describe() else []
    if isinstance(spec.path, str) and spec.path.lstrip().startswith("<VRTDataset"):
        parts.append(display_path(spec.path).split(" (")[0])  # "mosaic of N tiles"
    if unit and not spec.units:
        parts.append(f"units {unit} (from the file)")
    if len(bands) > 1:
        parts.append(f"{len(bands)} bands")
    if valid is not None and not spec.valid_range:
        parts.append(f"valid range {valid[0]:g} to {valid[1]:g} (from the file)")
    if info.crs_wkt is None and info.implied_crs:
        parts.append(f"CRS {info.implied_crs} (CF latitude/longitude, no grid_mapping)")
    if packing:
        parts.append(packing)
    return SourceRead(path=path, bands=bands, convert=convert,
                      crs=info.implied_crs if info.crs_wkt is None else None,
                      units=unit, note="; ".join(parts))


def table_doc(cfg, table_name: str) -> str:
    """The land-cover table as the outputs record it: a shipped table by its name
    (``worldcover``), a user's CSV relative to the configuration's folder."""
    path = Path(table_name)
    if path.is_absolute() or path.is_file():
        return relative_path(path, cfg.source)
    return table_name


def bio_from_table(cfg) -> bool:
    """The biological sink is the land-cover table's (no nep/npp raster)."""
    return not ({"nep", "npp"} & set(cfg.inputs))


def run_assumptions(cfg, acid: dict, table_name: str, draws_sentence: str | None) -> list[str]:
    """The assumption sentences of a run, or of one year of a series (``cfg``: that
    year's configuration): the map's (:func:`._carbon_terms.map_assumptions`), then with
    ``[uncertainty]`` the draws' sentence ``draws_sentence`` (the second item of
    :func:`._draws.describe`, made once by the set-up)."""
    from ._carbon_terms import map_assumptions

    out = map_assumptions(cfg, acid, table_name)
    if draws_sentence is not None:
        out.append(draws_sentence)
    if cfg.in_run:  # the [map] of a run: its keys
        from .config import keys_in_run

        out = [keys_in_run(t) for t in out]
    return out
