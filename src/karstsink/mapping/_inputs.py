"""``[inputs]`` values of a map configuration: a path, or an inline table.

An input is either a path string or an inline table with at least ``path``::

    runoff = "runoff.tif"
    runoff = { path = "runoff_m.tif", units = "m/yr" }        # converted to mm/yr
    temperature = { path = "t2m.tif", units = "K" }            # converted to degC
    soil_pco2 = { path = "pco2.tif", scale = 0.1 }             # packed: value = raw x 0.1
    runoff = { path = "runoff.tif", force = true }             # skip the plausibility check
    runoff = { path = "q.nc", variable = "q", aggregate = "sum" }  # 12 months -> a year
    landcover = "tiles/ESA_WorldCover_10m_2021_v200_*_Map.tif"   # tiles: a VRT mosaic
    landcover = ["tiles/a.tif", "tiles/b.tif"]                  # a list of tiles too
    runoff = "https://example.org/runoff.tif"                     # -> /vsicurl/https://...
    carbonate = { path = "lith.gpkg", field = "rock", values = ["limestone", "dolomite"],
                  dolomite_values = ["dolomite"] }                  # polygons (._vector)
    carbonate = { path = "glim.gpkg", field = "xx", table = "glim" }  # a shipped table
    npp = { path = "MOD17A3.hdf", variable = "Npp_500m", convention = "modis" }

``scale`` and ``offset`` unpack the stored numbers (after the file's own scale and
offset metadata) into the declared ``units``; ``units`` then converts them to the
model's unit (:data:`CANONICAL`).  ``force = true`` accepts values the plausibility
check (:mod:`._checks`) would refuse.  ``variable`` picks a NetCDF/HDF variable,
``band`` one band, ``aggregate`` reduces all bands (:mod:`._sources` reconciles these
with what the file says: its unit, band count and packing).  ``convention = "modis"``
reads the file's ``scale_factor``/``add_offset`` with the MODIS meaning ``value =
scale_factor x (stored - add_offset)`` (CF's is ``stored x scale_factor + add_offset``;
HDF-EOS files are recognised without the key).  Each key is parsed by its own function
in :data:`_KEYS`; units are in :mod:`._input_units`.

A path may be a glob pattern or a list of tiles (mosaicked as a VRT string by
:mod:`._mosaic`), a URL or a GDAL virtual path (``/vsicurl/``, ``/vsis3/``,
``/vsizip/``: used as it is, not resolved against the configuration's folder).  A
vector file (``field`` given) is read as the covered fraction of each pixel by
:mod:`._vector` (``carbonate``, and the ``dolomite_fraction`` its ``dolomite_values``
imply: :func:`implied_inputs`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ..io.rasters import display_path, is_virtual, virtual_path
from ..io.tomlfile import toml_number
from ._input_units import (
    FLUX_INPUTS,
    amount_factor,
    has_units,
    known_unit,
    lookup,
    shown_units,
)

__all__ = ["AGGREGATES", "CANONICAL", "CONVENTIONS", "InputSpec", "implied_inputs",
           "input_doc", "input_record", "inputs_doc", "parse_input", "unit_transform"]

#: the model's unit of each input
CANONICAL = {
    "landcover": "class code", "carbonate": "fraction", "dolomite_fraction": "fraction",
    "runoff": "mm/yr", "precipitation": "mm/yr", "evapotranspiration": "mm/yr",
    "aet": "mm/yr", "temperature": "degC", "soil_pco2": "ppmv",
    "npp": "g C m-2 yr-1", "nep": "g C m-2 yr-1", "dem": "m",
}
AGGREGATES = ("sum", "mean")
CONVENTIONS = ("cf", "modis")
#: file name endings read as vector layers (OGR), not rasters
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite",
                   ".gdb", ".tab", ".mif", ".shp.zip")
#: inputs that may be polygons (the covered fraction of each pixel)
VECTOR_INPUTS = ("carbonate", "dolomite_fraction")


@dataclass(frozen=True)
class InputSpec:
    """One ``[inputs]`` entry.

    Attributes
    ----------
    name : str
        The input (``runoff``, ``temperature`` ...).
    path : pathlib.Path or str
        The raster (absolute), a GDAL virtual path (str), a mosaic's VRT XML (str) or,
        with ``field``, a vector file.
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
    convention : {"cf", "modis"} or None
        The meaning of the file's ``scale_factor``/``add_offset`` (None: from the file's
        metadata, CF unless HDF-EOS).
    source : str or None
        The entry as written, for messages and ``run.json`` (a pattern, tile list, URL).
    layer, field : str or None
        A vector input's layer and attribute field.
    values : tuple of str or None
        The field values counted as carbonate (share 1).
    table : str or None
        ``"glim"``, ``"wokam"`` or a CSV path (``value, carbonate_share[, dolomite_share]``)
        giving each value's carbonate share (:mod:`._vector`).
    dolomite_values : tuple of str or None
        The field values whose carbonate is dolomite.
    tiles : tuple of pathlib.Path
        A mosaic's local tiles (so that the output-folder guard of
        :func:`karstsink.io.atomic.input_paths` sees them).
    valid_range : (float, float) or None
        Stored numbers outside it are nodata (MODIS fill classes 32761-32767: ``[-32767,
        32700]``; CF ``valid_range``, in stored units).
    """

    name: str
    path: Path | str
    force: bool = False
    units: str | None = None
    scale: float = 1.0
    offset: float = 0.0
    variable: str | None = None
    band: int | None = None
    aggregate: str | None = None
    convention: str | None = None
    source: str | None = None
    layer: str | None = None
    field: str | None = None
    values: tuple[str, ...] | None = None
    table: str | None = None
    dolomite_values: tuple[str, ...] | None = None
    valid_range: tuple[float, float] | None = None
    tiles: tuple[Path, ...] = ()

    @property
    def is_vector(self) -> bool:
        """Whether the input is read from polygons (``field`` given)."""
        return self.field is not None

    @property
    def label(self) -> str:
        """The input's file(s) for a message (the entry as written for mosaics, URLs)."""
        return self.source if self.source is not None else display_path(self.path)

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
        if self.convention:
            parts.append(f"convention {self.convention}")
        if self.valid_range:
            parts.append(f"valid stored values {self.valid_range[0]:g} to "
                         f"{self.valid_range[1]:g} (others nodata)")
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
    u = known_unit(spec.name, spec.units)
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
    return int(toml_number(value, f"{where}[inputs] {name}.band", lo=1, integer=True,
                           what="the band number: 1 is the first band or time step"))


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
        number = toml_number(value, f"{where}[inputs] {name}.{key}")
        if key == "scale" and number == 0:
            raise ConfigError(f"{where}[inputs] {name}.scale must be a number other than 0 "
                              f"(it multiplies every pixel); got {value!r}.")
        return number
    return parse


def _convention(where, name, value):
    if value not in CONVENTIONS:
        raise ConfigError(f"{where}[inputs] {name}.convention must be \"cf\" (value = stored "
                          f"x scale_factor + add_offset) or \"modis\" (value = scale_factor "
                          f"x (stored - add_offset)); got {value!r}.")
    return value


def _text(key):
    def parse(where, name, value):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}[inputs] {name}.{key} must be a non-empty string; "
                              f"got {value!r}.")
        return value.strip()
    return parse


def _strings(key):
    def parse(where, name, value):
        ok = isinstance(value, list) and value and all(
            isinstance(v, (str, int)) and not isinstance(v, bool) for v in value)
        if not ok:
            raise ConfigError(f"{where}[inputs] {name}.{key} must be a non-empty list of "
                              f"field values (strings or whole numbers), e.g. {key} = "
                              f"[\"limestone\", \"dolomite\"]; got {value!r}.")
        return tuple(str(v).strip() for v in value)
    return parse


def _valid_range(where, name, value):
    ok = (isinstance(value, list) and len(value) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        for v in value) and value[0] < value[1])
    if not ok:
        raise ConfigError(f"{where}[inputs] {name}.valid_range must be [lowest, highest] "
                          f"valid stored numbers (e.g. [-32767, 32700] for MODIS); got "
                          f"{value!r}.")
    if name == "landcover":
        raise ConfigError(f"{where}[inputs] landcover.valid_range: set the land cover's "
                          f"nodata value in the file instead.")
    return (float(value[0]), float(value[1]))


#: inline-table key -> parser(where, input name, value) -> value for InputSpec
_KEYS = {"force": _bool, "units": _units, "scale": _number("scale"),
         "offset": _number("offset"), "variable": _variable, "band": _band,
         "aggregate": _aggregate, "convention": _convention, "layer": _text("layer"),
         "field": _text("field"), "values": _strings("values"), "table": _text("table"),
         "dolomite_values": _strings("dolomite_values"), "valid_range": _valid_range}
_VECTOR_KEYS = ("layer", "field", "values", "table", "dolomite_values")
_RASTER_KEYS = ("units", "scale", "offset", "variable", "band", "aggregate", "convention",
                "valid_range")


def _is_vector_file(path) -> bool:
    p = str(path).lower()
    return not p.lstrip().startswith("<") and p.endswith(VECTOR_SUFFIXES)


def _check_vector(where: str, name: str, path, opts: dict) -> None:
    """A vector entry has a field and values or a table; a raster entry has neither."""
    vec = [k for k in _VECTOR_KEYS if k in opts]
    if not vec and not _is_vector_file(path):
        return
    if name not in VECTOR_INPUTS:
        raise ConfigError(f"{where}[inputs] {name}: {path} is read as polygons ("
                          f"{', '.join(vec) or 'a vector file'}), which only carbonate "
                          f"(and dolomite_fraction) can be; give a raster.")
    if "field" not in opts:
        raise ConfigError(f"{where}[inputs] {name}: polygons need the attribute field that "
                          f"holds the rock type: {name} = {{ path = \"{Path(str(path)).name}"
                          f"\", field = \"...\", values = [...] }} (or table = \"glim\").")
    if ("values" in opts) == ("table" in opts):
        raise ConfigError(f"{where}[inputs] {name}: give values = [...] (the carbonate "
                          f"field values) or table = \"glim\" / \"wokam\" / \"file.csv\", "
                          f"exactly one of them.")
    if "values" in opts and "dolomite_values" in opts:
        extra = [v for v in opts["dolomite_values"] if v.casefold() not in
                 {w.casefold() for w in opts["values"]}]
        if extra:
            raise ConfigError(f"{where}[inputs] {name}.dolomite_values: {extra[0]!r} is not "
                              f"among values (dolomite is a carbonate; list it in values).")
    if name == "dolomite_fraction" and "dolomite_values" not in opts and "table" not in opts:
        raise ConfigError(f"{where}[inputs] dolomite_fraction from polygons needs "
                          f"dolomite_values = [...] (the share of the carbonate cover that "
                          f"is dolomite is computed from them).")
    raster = [k for k in _RASTER_KEYS if k in opts]
    if raster:
        raise ConfigError(f"{where}[inputs] {name}.{raster[0]}: polygons are read as a "
                          f"covered fraction, which has no {raster[0]}; remove it.")


def _path_value(where: str, name: str, value: Any, resolve
                ) -> tuple[Path | str, str | None, tuple[Path, ...]]:
    """``(path GDAL or OGR opens, the entry as written or None, local tiles)`` of a path
    value: a file, a URL or GDAL virtual path, a glob or a list of tiles (a VRT XML
    mosaic)."""
    from ._mosaic import expand_glob, has_glob, mosaic_vrt

    if isinstance(value, list):
        if not value or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}[inputs] {name}: a list of tiles must hold file path "
                              f"strings; got {value!r}.")
        parts = [_path_value(where, name, v, resolve) for v in value]
        tiles = [str(p[0]) for p in parts]
        local = tuple(t for p in parts for t in p[2])
        label = f"{len(value)} tiles: {', '.join(value[:3])}{', ...' if len(value) > 3 else ''}"
        return (mosaic_vrt(tiles, label) if len(tiles) > 1 else parts[0][0]), label, local
    if isinstance(value, str):
        virt = virtual_path(value.strip())
        if virt is not None:
            return virt, value, ()
        if has_glob(value):
            found = expand_glob(where, name, value, resolve)
            path = mosaic_vrt([str(t) for t in found], value) if len(found) > 1 else found[0]
            return path, value, tuple(found)
    path = resolve(name, value)
    return path, None, (path,)


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
        path, source, tiles = _path_value(where, name, value["path"], resolve)
        _check_vector(where, name, path, opts)
        if "variable" in opts and isinstance(path, str) and path.startswith("<"):
            raise ConfigError(f"{where}[inputs] {name}.variable: a mosaic of tiles has no "
                              f"variables; give one file per input with variable.")
        if "table" in opts and opts["table"].lower() not in ("glim", "wokam"):
            opts["table"] = str(resolve(name, opts["table"]))
        return InputSpec(name=name, path=path, source=source, tiles=_tiles(path, tiles),
                         **opts)
    path, source, tiles = _path_value(where, name, value, resolve)
    _check_vector(where, name, path, {})
    return InputSpec(name=name, path=path, source=source, tiles=_tiles(path, tiles))


def _tiles(path, tiles: tuple[Path, ...]) -> tuple[Path, ...]:
    """A mosaic's local tiles (a single file is already ``path``)."""
    return tiles if isinstance(path, str) else ()


def implied_inputs(where: str, specs: dict[str, InputSpec]) -> dict[str, InputSpec]:
    """Inputs an entry implies: a polygon ``carbonate`` with ``dolomite_values`` (or a
    table with dolomite shares) gives ``dolomite_fraction``, the share of its carbonate
    cover that is dolomite, from the same polygons.

    Raises
    ------
    ConfigError
        ``dolomite_values`` together with a ``dolomite_fraction`` input.
    """
    carb = specs.get("carbonate")
    if carb is None or not carb.is_vector or carb.dolomite_values is None:
        return {}
    if "dolomite_fraction" in specs:
        raise ConfigError(f"{where}[inputs] carbonate.dolomite_values and a dolomite_fraction "
                          f"input both give the dolomite share; remove one of them.")
    from dataclasses import replace

    return {"dolomite_fraction": replace(carb, name="dolomite_fraction", force=False)}


def input_record(spec: InputSpec, config: Path | None) -> str:
    """An input's file(s) for ``run.json``: a local path relative to the configuration's
    folder; a URL, virtual path or pattern as written; a tile list as its entries."""
    from ._paths import relative_path

    if spec.source is not None:
        return spec.source
    if is_virtual(spec.path):
        return display_path(spec.path)
    return relative_path(spec.path, config)


def input_doc(cfg, name: str) -> str:
    """Input ``name`` of ``cfg`` (a :class:`~karstsink.mapping.config.MapConfig`) as the
    outputs record it: a mosaic, URL or virtual path as written, a local file relative
    to the configuration's folder (:func:`input_record`; an input without an
    :class:`InputSpec`, in a config built by hand: its path relative to the config)."""
    from ._paths import relative_path

    spec = cfg.input_specs.get(name)
    if spec is not None:
        return input_record(spec, cfg.source)
    return relative_path(cfg.inputs[name], cfg.source)


def inputs_doc(cfg) -> dict[str, str]:
    """Every input of ``cfg`` as :func:`input_doc` records it (``run.json`` ``inputs``)."""
    return {k: input_doc(cfg, k) for k in cfg.inputs}
