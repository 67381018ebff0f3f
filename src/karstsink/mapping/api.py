"""``sink_map``: the map from Python, with xarray DataArrays or paths in and a Dataset out.

Every input may be a path, an ``[inputs]``-style dict (``{"path": ..., "units": "K"}``,
see :mod:`karstsink.mapping._inputs`) whose ``path`` may itself be a DataArray, or an
:class:`xarray.DataArray` with a rioxarray CRS and transform.  A DataArray is written to a
temporary tiled, compressed GeoTIFF (a dask-backed one chunk by chunk, never as a whole:
rioxarray's ``to_raster`` with a lock, on dask's local threaded scheduler), its
``attrs["units"]`` as the GDAL band unit, so that the map reads it exactly as it reads a
file: the unit from the data wins over the model's default and a contradicting declared
``units`` is refused.  A :class:`geopandas.GeoDataFrame` of zones is written to a temporary
GeoPackage (:func:`._run_args.zones_argument`).  The map itself is
:func:`karstsink.mapping.run.run_map`; the temporary folder is removed after the run,
whatever happens (errors, Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError, KarstSinkError, RasterError
from ..io.write import json_text
from ._run_args import dask_address, zones_argument

__all__ = ["SinkMapResult", "sink_map"]

#: the COG tags that describe the whole run (Dataset attrs; dropped from each variable)
_RUN_TAGS = ("karstsink_version", "phreeqc_version", "phreeqc_database",
             "phreeqc_database_sha256", "karstsink_parameters", "karstsink_assumptions",
             "non_karst_pixels")
#: GeoTIFF tile size of the temporary inputs [px] (the map reads 512-px blocks)
_TILE = 512
#: dask chunk of the lazily read outputs [px]: 4 x 4 COG tiles of 512 px (16 MB of float32)
_CHUNK = 2048


def _xarray():
    """``(xarray, rioxarray)``, or one ConfigError line naming the extra."""
    try:
        import rioxarray
        import xarray
    except ImportError as err:
        raise ConfigError(f"karstsink.mapping.sink_map needs xarray and rioxarray "
                          f"({err.name} is missing): pip install 'karstsink[xarray]'.") from err
    return xarray, rioxarray


@dataclass
class SinkMapResult:
    """What :func:`sink_map` returns (unpacks as ``dataset, zones``).

    Attributes
    ----------
    dataset : xarray.Dataset
        ``karst_sink``, ``biological_sink``, ``total_sink`` (and any optional or scenario
        output) [t C km⁻² yr⁻¹, or t CO2 km⁻² yr⁻¹ with ``co2=True``; each variable's
        ``units`` attr], on the target grid with its rioxarray CRS; attrs: the run's
        provenance (``karstsink_version``, ``phreeqc_version``, ``phreeqc_database(_sha256)``,
        ``karstsink_parameters`` and ``karstsink_assumptions`` as the JSON of the COG
        tags, ``karstsink_inputs``: JSON of each input's path or DataArray description).
        Read lazily from the COGs of ``out_dir`` (dask chunks of the COG tiles when dask
        is installed) when kept, in memory otherwise.
    zones : pandas.DataFrame or None
        The zone table as ``zonal_totals.csv`` (with its ``TOTAL (all zones)`` row).
    totals : dict
        Whole-grid totals (t C yr⁻¹, km²), as :attr:`MapResult.totals`.
    assumptions : list of str
        The run's assumption sentences.
    out_dir : pathlib.Path or None
        The output folder, None when it was temporary (removed).
    files : list of str
        The files the run wrote (removed with a temporary ``out_dir``).
    """

    dataset: Any
    zones: Any
    totals: dict
    assumptions: list[str]
    out_dir: Path | None
    files: list[str] = field(default_factory=list)

    def __iter__(self):
        return iter((self.dataset, self.zones))


def sink_map(
    landcover: Any = None,
    carbonate: Any = None,
    runoff: Any = None,
    temperature: Any = None,
    soil_pco2: Any = None,
    nep: Any = None,
    *,
    dolomite_fraction: Any = None,
    precipitation: Any = None,
    evapotranspiration: Any = None,
    aet: Any = None,
    npp: Any = None,
    dem: Any = None,
    table: str | os.PathLike | None = None,
    zones: Any = None,
    zone_field: str | None = None,
    zone_layer: str | None = None,
    out_dir: str | os.PathLike | None = None,
    overwrite: bool = False,
    client: Any = None,
    jobs: int | None = None,
    engine: str | None = None,
    co2: bool | None = None,
    block_size: int | None = None,
    tile_size: int | None = None,
    scenario: dict | None = None,
    quicklook: bool | None = None,
    scratch_dir: str | os.PathLike | None = None,
    **model_options: Any,
) -> SinkMapResult:
    """Karst, biological and total sink maps (and zone totals) from DataArrays or paths.

    The same run as ``karstsink map`` (:func:`karstsink.mapping.run.run_map`) with the
    configuration given as arguments.

    Parameters
    ----------
    landcover, carbonate, runoff, temperature, soil_pco2, nep, dolomite_fraction, \
precipitation, evapotranspiration, aet, npp, dem : path, dict or xarray.DataArray
        The ``[inputs]`` of the map (required: landcover, carbonate, temperature, runoff
        or precipitation + evapotranspiration, soil_pco2 or aet/evapotranspiration).
        Model units (mm yr⁻¹, °C, ppmv, 0-1, g C m⁻² yr⁻¹) unless the data say otherwise
        (a DataArray's ``attrs["units"]``, a file's band unit) or a dict declares
        ``units``.  A DataArray is 2-D (y, x) or 3-D with one more dimension (band or
        time, written as bands in its order: choose one with ``{"path": da, "band": N}``
        or reduce them with ``{"path": da, "aggregate": "sum"}``), with a CRS
        (``da.rio.write_crs``) and x/y coordinates; its nodata is rioxarray's
        (``da.rio.nodata`` / ``encoded_nodata``), its packing its encoding.
    table : str or path, optional
        ``[tables] landcover``: ``"worldcover"``, ``"clcd"`` or a CSV (default: guessed).
    zones : path or geopandas.GeoDataFrame, optional
        Zone polygons (any CRS), with ``zone_field`` (the name column); ``zone_layer``
        picks a layer of a file.
    out_dir : path, optional
        Keep the outputs (COGs, styles, zone tables, ``run.json``) there, written
        atomically; None: a temporary folder, loaded into memory and removed.
    overwrite : bool
        Replace an existing ``out_dir`` that karstsink wrote (as ``--overwrite``).
    client : dask.distributed.Client, LocalCluster or str, optional
        Run the tiles on this Dask cluster (its scheduler address; ``"local"``: a
        LocalCluster for the run).  The temporary inputs and the output folder must be
        on a file system the workers see (``scratch_dir``, ``out_dir``).
    jobs : int, optional
        Worker threads (default: CPU count, at most 8).
    engine : {"threads", "processes"}, optional
        Local engine (``[model] engine``, default threads).
    co2 : bool, optional
        Outputs in t CO2 instead of t C.
    block_size, tile_size : int, optional
        ``[grid] block_size`` (px, multiple of 16; default 512) and ``[dask] tile_size``.
    scenario : dict, optional
        ``[scenario]``: ``{"name": ..., "transitions": [{"from": 40, "to": 10}]}``.
    quicklook : bool, optional
        Draw ``quicklook.png`` (default: only with ``out_dir``).
    scratch_dir : path, optional
        Where the temporary folder is made (default: :func:`tempfile.gettempdir`).
    **model_options
        ``[model]`` keys: ``system``, ``database``, ``outputs``, ``so4_mmol_l``,
        ``no3_mmol_l``, the acid shares, ``npp_to_nep`` (+ ``npp_to_nep_source``),
        ``rock_density_t_m3``, ``numba`` (see docs/maps.md, configuration reference).

    Returns
    -------
    SinkMapResult
        ``dataset, zones = sink_map(...)`` unpacks it.

    Raises
    ------
    ConfigError, RasterError, UnitError, DataError, OutputError
        As ``karstsink map`` (a DataArray is named as ``the runoff DataArray``); also a
        DataArray without CRS or x/y coordinates, or of more than 3 dimensions, and a
        missing xarray/rioxarray (``pip install 'karstsink[xarray]'``).
    """
    from .config import INPUT_KEYS

    given = locals()
    values = {k: given[k] for k in INPUT_KEYS if given[k] is not None}
    xr, _ = _xarray()
    tmp = Path(tempfile.mkdtemp(prefix="karstsink-sink_map-", dir=scratch_dir))
    labels: dict[str, str] = {}  # temporary file -> how messages name it
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            raw_inputs: dict[str, Any] = {}
            described: dict[str, str] = {}
            for name, value in values.items():
                raw_inputs[name], described[name] = _input_entry(xr, name, value, tmp, labels)
            raw = _raw_config(raw_inputs, table, tmp, labels, zones, zone_field, zone_layer,
                              block_size, tile_size, scenario, model_options)
            keep = out_dir is not None
            out = Path(out_dir) if out_dir is not None else tmp / "out"
            try:
                result = _run(raw, out, overwrite, client, jobs, engine, co2,
                              keep if quicklook is None else quicklook)
            except KarstSinkError as err:
                raise _relabel(err, labels) from err
            ds = _load_dataset(xr, out, result.files, lazy=keep, inputs=described)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        # the run's warnings still reach the caller; one turned error must not hide this
        with contextlib.suppress(Exception):
            _rewarn(caught, labels)
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    _rewarn(caught, labels)
    for key, value in ds.attrs.items():  # the deleted temporary files, named as given
        if isinstance(value, str):
            ds.attrs[key] = _relabel_text(value, labels)
    return SinkMapResult(dataset=ds, zones=result.zonal, totals=dict(result.totals),
                         assumptions=[_relabel_text(a, labels) for a in result.assumptions],
                         out_dir=out if keep else None, files=list(result.files))


def _run(raw: dict, out: Path, overwrite: bool, client, jobs, engine, co2, quicklook: bool):
    from ..io.atomic import check_output_dir, input_paths
    from .config import config_from_dict
    from .run import run_map

    cfg = config_from_dict(raw)
    check_output_dir(out, overwrite=overwrite, inputs=input_paths(cfg))
    return run_map(cfg, out, jobs=jobs, dask=dask_address(client), co2=co2, engine=engine,
                   quicklook=quicklook)


def _raw_config(inputs: dict, table, tmp: Path, labels: dict, zones, zone_field, zone_layer,
                block_size, tile_size, scenario, model_options: dict) -> dict:
    """The configuration dict of :func:`~karstsink.mapping.config.config_from_dict`."""
    raw: dict[str, Any] = {"inputs": inputs}
    if table is not None:
        raw["tables"] = {"landcover": os.fspath(table)}
    zpath, zfield, zlayer = zones_argument(zones, zone_field, tmp, zone_layer)
    if zpath is not None:
        if zpath == tmp / "zones.gpkg":
            labels[str(zpath)] = "the zones GeoDataFrame"
        raw["zones"] = {"path": str(zpath), "field": zfield}
        if zlayer is not None:
            raw["zones"]["layer"] = zlayer
    if block_size is not None:
        raw["grid"] = {"block_size": block_size}
    if tile_size is not None:
        raw["dask"] = {"tile_size": tile_size}
    if scenario is not None:
        raw["scenario"] = scenario
    if model_options:
        raw["model"] = {k: os.fspath(v) if isinstance(v, os.PathLike) else v
                        for k, v in model_options.items()}
    return raw


# ----------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------
def _input_entry(xr, name: str, value: Any, tmp: Path, labels: dict) -> tuple[Any, str]:
    """The ``[inputs]`` value of one argument, and how it is described in the outputs."""
    if isinstance(value, xr.DataArray):
        path = _write_dataarray(name, value, tmp, labels)
        return str(path), _describe(value)
    if isinstance(value, dict):
        entry = dict(value)
        inner = entry.get("path")
        if isinstance(inner, xr.DataArray):
            entry["path"] = str(_write_dataarray(name, inner, tmp, labels))
            return entry, _describe(inner)
        if isinstance(inner, os.PathLike):
            entry["path"] = os.fspath(inner)
        return entry, str(entry.get("path"))
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value), os.fspath(value)
    raise ConfigError(f"sink_map {name}=: expected a path, an xarray.DataArray or a dict "
                      f"such as {{\"path\": ..., \"units\": ...}}; got {type(value).__name__}.")


def _describe(da) -> str:
    dims = ", ".join(f"{d}: {n}" for d, n in zip(da.dims, da.shape, strict=True))
    units = da.attrs.get("units")
    name = f" {da.name}" if da.name else ""
    return f"xarray.DataArray{name} ({dims}) {da.dtype}" + (
        f" in {units}" if units else "")


def _write_dataarray(name: str, da, tmp: Path, labels: dict) -> Path:
    """Write ``da`` to ``tmp/<name>.DataArray.tif`` (tiled, DEFLATE; dask chunk by chunk)."""
    import numpy as np
    from rioxarray.exceptions import RioXarrayError

    what = f"the {name} DataArray"
    if da.ndim not in (2, 3):
        raise ConfigError(f"sink_map {name}=: {what} has {da.ndim} dimension(s) "
                          f"{tuple(da.dims)}; give (y, x) or (band/time, y, x).")
    try:
        ydim, xdim = da.rio.y_dim, da.rio.x_dim
        crs = da.rio.crs
        da.rio.transform(recalc=True)
    except RioXarrayError as err:
        raise RasterError(f"sink_map {name}=: {what} has no x/y spatial coordinates "
                          f"({err}); give it x/y (or longitude/latitude) coordinates, or "
                          f"da.rio.set_spatial_dims(x_dim=..., y_dim=...).") from err
    if crs is None:
        raise RasterError(f"sink_map {name}=: {what} has no CRS; set it with "
                          f"da = da.rio.write_crs(\"EPSG:4326\") (the data's CRS).")
    if da.ndim == 3:
        (band,) = [d for d in da.dims if d not in (ydim, xdim)]
        da = da.transpose(band, ydim, xdim)
    else:
        da = da.transpose(ydim, xdim)
    # rows north to south and columns west to east, as a GeoTIFF is read (an ascending y,
    # the usual layout of a NetCDF, would be a south-up raster)
    for dim, ascending in ((ydim, False), (xdim, True)):
        c = da[dim].values
        if c.size > 1 and (c[0] < c[-1]) != ascending:
            da = da.isel({dim: slice(None, None, -1)})
    if da.dtype == bool:
        da = da.astype(np.uint8)
    elif da.dtype == np.float16:
        da = da.astype(np.float32)
    path = tmp / f"{name}.DataArray.tif"
    labels[str(path)] = what
    count = 1 if da.ndim == 2 else da.shape[0]
    units = da.attrs.get("units")
    tags = {"band_tags": [{"units": str(units)}] * count} if units else None
    tile = min(_TILE, 16 * -(-max(da.shape[-2:]) // 16))
    opts = {"tiled": True, "blockxsize": tile, "blockysize": tile, "compress": "DEFLATE",
            "zlevel": 1, "bigtiff": "IF_SAFER"}
    if _is_dask(da):
        import dask

        # whole TIFF tiles per chunk: each chunk's window is written once
        chunks = {d: max(tile, (da.chunksizes[d][0] // tile) * tile) for d in (ydim, xdim)}
        da = da.chunk(chunks)
        with dask.config.set(scheduler="threads"):  # a threading lock: local threads
            da.rio.to_raster(path, tags=tags, lock=threading.Lock(), **opts)
    else:
        da.rio.to_raster(path, tags=tags, windowed=True, **opts)
    if units:
        import rasterio

        with rasterio.open(path, "r+") as ds:  # GDAL's band unit (what QGIS shows)
            for b in range(1, count + 1):
                ds.set_band_unit(b, str(units))
    return path


def _is_dask(da) -> bool:
    return type(da.data).__module__.split(".")[0] == "dask"


# ----------------------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------------------
def _load_dataset(xr, out: Path, files: list[str], *, lazy: bool, inputs: dict):
    """The output COGs of ``out`` as one Dataset (lazy: chunked by COG tiles if dask)."""
    import importlib.util

    import rioxarray
    from xarray import DataArray

    chunks = None
    if lazy and importlib.util.find_spec("dask") is not None:  # whole COG tiles per chunk
        chunks = {"band": 1, "y": _CHUNK, "x": _CHUNK}
    arrays = {}
    run_attrs: dict[str, Any] = {}
    for f in files:
        if not f.endswith(".tif"):
            continue
        da = rioxarray.open_rasterio(out / f, chunks=chunks, masked=False)
        # a GeoTIFF has no subdatasets: one DataArray (a Dataset or a list of them only
        # for netCDF/HDF files)
        assert isinstance(da, DataArray)
        if not lazy:
            da = da.load()
            da.close()
        da = da.squeeze("band", drop=True)
        for key in _RUN_TAGS:
            if key in da.attrs:
                run_attrs[key] = da.attrs.pop(key)
        arrays[Path(f).stem] = da
    ds = xr.Dataset(arrays)
    ds.attrs.update(run_attrs)
    ds.attrs["karstsink_inputs"] = json_text(inputs, tag=True)
    if lazy:
        ds.attrs["source_folder"] = str(out)
    return ds


# ----------------------------------------------------------------------------------------
# Messages: a DataArray's temporary file is named as the DataArray
# ----------------------------------------------------------------------------------------
def _relabel_text(text: str, labels: dict) -> str:
    """``text`` with each temporary file named as the caller knows it: its path, then its
    file name alone (``npp.DataArray.tif`` -> ``the npp DataArray``)."""
    for path, label in labels.items():
        text = text.replace(path, label)
    for path, label in labels.items():
        text = text.replace(Path(path).name, label)
    return text


def _relabel(err: KarstSinkError, labels: dict) -> KarstSinkError:
    text = str(err.args[0]) if err.args else str(err)
    new = _relabel_text(text, labels)
    if new == text:
        return err
    try:
        return type(err)(new)
    except Exception:  # pragma: no cover - an error class with another signature
        return err


def _rewarn(caught: list, labels: dict) -> None:
    """Issue the run's warnings again (DataArrays named) under the caller's filters:
    karstsink's own as raised by ``sink_map``'s caller, the others from their module."""
    import sys

    from ..exceptions import DataQualityWarning, OutOfRangeWarning

    modules = {getattr(m, "__file__", None): n for n, m in list(sys.modules.items())}
    for w in caught:
        msg = _relabel_text(str(w.message), labels)
        if issubclass(w.category, (DataQualityWarning, OutOfRangeWarning)):
            warnings.warn(msg, w.category, stacklevel=3)
        else:
            warnings.warn_explicit(msg, w.category, w.filename, w.lineno,
                                   module=modules.get(w.filename))
