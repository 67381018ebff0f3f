"""``run_map``: validate a map configuration, prepare its inputs, run the executor,
write the outputs and the run record.

Set-up (:func:`_prepare`) opens every input on the target grid (so a missing CRS or
no overlap fails before any output), loads the land-cover table and the equilibrium
tables, builds the model parameters, the acid-correction inputs and the assumption
sentences, and starts the zone helper (:mod:`._zone_io`); the threaded engine loads
its numba kernels on a tiny block while the helper reads the polygons.  The pass
itself is :mod:`karstsink.mapping.executor`; this module then lays out the COGs,
draws the quick look, warns about the flagged pixel counts and writes ``run.json``,
all in one atomic output folder (:class:`MapResult`).  A ``[series]`` run is prepared
and finished by :mod:`.series` (every year in the same pass); ``[uncertainty]`` adds the
Monte Carlo zone intervals of :mod:`._draws` (and with ``sd_raster`` its per-pixel sd
raster ``total_sink_sd.tif``).
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .._workers import default_jobs
from ..exceptions import ConfigError, RasterError
from ..io.atomic import atomic_dir, peak_rss_mb
from ..io.write import json_text
from ._block import _open_sources, _process_window, _Spec, _State
from ._carbon_terms import acid_inputs, acid_ratio_tables, biological_doc
from ._coverage import warn_coverage
from ._input_units import is_pressure
from ._outcome import (
    check_landcover_codes,
    check_not_all_nodata,
    grid_totals_dict,
    outside_zones,
    warn_counters,
    warn_zones,
)
from ._style import add_stats, database_doc
from ._zone_io import ZoneIO
from .config import MapConfig
from .executor import OUTPUT_META, _execute, output_meta, set_gdal_cache_max
from .grid import Grid
from .model import ModelParams

# numba-compiled modules (_cog, _kernel, _sampling, zones) are imported where used, so
# that a map run can start its zone helper (mapping/_zone_io.py) before numba loads

__all__ = ["MapResult", "run_map"]


@dataclass
class MapResult:
    """What a map run produced.

    Attributes
    ----------
    out_dir : pathlib.Path
        Output folder.
    files : list of str
        File names written.
    totals : dict
        Whole-grid totals (t C yr⁻¹ and km²).
    zonal_columns : dict or None
        The zone table as written to ``zonal_totals.csv``: column name -> values.
    counters : dict
        Pixel counts of flagged conditions; with the processes and Dask
        engines also ``worker_peak_mb``, the largest worker's peak memory [MB],
        and ``engine_tiles``, the number of engine tiles; with zones read by the
        helper process, its peak memory ``zone_helper_peak_mb`` [MB].
    series : dict or None
        A series run (``[series]``, docs/series.md): ``years``, ``pairs``, the
        ``varying``, ``climate`` and ``landcover`` inputs, ``totals`` (year label ->
        the grid totals), ``zonal`` (year label -> zone table), ``series_table`` and
        ``attribution`` (the CSVs as columns).  ``totals`` and ``zonal_columns`` of
        the result are then the last year's.
    assumptions : list of str
        The assumption sentences of the run (acid-correction parameters with their
        defaults and sources, the biological source, the double-counting statement,
        the scenario's rule), as written to the COG tag ``karstsink_assumptions`` and
        to ``run.json``.
    """

    out_dir: Path
    files: list[str]
    totals: dict
    zonal_columns: dict | None = None
    counters: dict = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    series: dict | None = None
    _zonal: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def zonal(self):
        """pandas.DataFrame or None: the zone table as written to ``zonal_totals.csv``
        (built on first access: the map process itself need not import pandas)."""
        if self._zonal is None and self.zonal_columns is not None:
            import pandas as pd

            self._zonal = pd.DataFrame(self.zonal_columns)
        return self._zonal


# ----------------------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------------------
def _prepare(cfg: MapConfig, co2: bool) -> tuple[_Spec, dict]:
    """Validate the inputs and build the run's spec.

    The zones are read by a :class:`~._zone_io.ZoneIO` started as soon as the grid is
    known (``extra["zone_io"]``; ``spec.zones`` stays None until :func:`_attach_zones`).
    """
    from ..io.rasters import gdal_path

    lc = cfg.input_specs.get("landcover")
    lc_path = gdal_path(cfg.inputs["landcover"], lc.variable if lc else None)
    grid = Grid.from_raster(cfg.grid_like or lc_path)
    if grid.width * grid.height == 0:
        raise RasterError("The target grid is empty.")
    zio = None
    if cfg.zones_path is not None:  # first: it works while numba loads here
        if cfg.zones_field is None:  # load_config sets both; a MapConfig built by hand
            raise ConfigError("[zones] needs both path and field.")
        zio = ZoneIO(cfg.zones_path, cfg.zones_field, grid.crs.to_wkt(), cfg.zones_layer)
    try:
        return _prepare_rest(cfg, co2, grid, zio)
    except BaseException:
        if zio is not None:
            zio.close()
        raise


def _prepare_rest(cfg: MapConfig, co2: bool, grid: Grid, zio) -> tuple[_Spec, dict]:
    from ..chemistry.database import phreeqc_version, resolve_database
    from ._checks import check_inputs
    from ._inputs import InputSpec, inputs_doc
    from ._sources import (
        bio_from_table,
        resolve_input,
        run_assumptions,
        table_doc,
    )

    # open every input once here so that missing CRS / no overlap fail before any output
    # (the threaded engine then reads through these); ._sources reconciles each input's
    # config entry with its file (variable, bands, units)
    specs = {k: cfg.input_specs.get(k) or InputSpec(k, Path(v)) for k, v in cfg.inputs.items()}
    resolved = {k: resolve_input(s) for k, s in specs.items()}
    converts = {k: r.convert for k, r in resolved.items() if r.convert != (1.0, 0.0)}
    reads = {k: (r.bands, r.crs) for k, r in resolved.items() if (r.bands, r.crs) != ((1,),
                                                                                     None)}
    gdal_inputs = {k: r.path for k, r in resolved.items()}
    sources = _open_sources(gdal_inputs, grid, converts, reads)
    # the plausibility checks read a sparse sample of every input (GDAL and numpy: mostly
    # without the GIL) while this thread loads the tables and numba; before any output
    pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="karstsink-checks")
    try:
        checks_job = pool.submit(check_inputs, sources, specs, grid)
        use_numba, lct, calc, dol = _load_model(cfg, gdal_inputs["landcover"])
        acid = acid_inputs(cfg, lct)
        try:
            acid_ratio = acid_ratio_tables(acid, calc, dol)  # PHREEQC while checks run
        except BaseException:
            checks_job.result()  # an input's problem is said first, as without acid
            raise
        checks = checks_job.result()
    finally:
        pool.shutdown(wait=True)
    for src in sources.values():
        src.use_numba = use_numba
    params = ModelParams(
        pco2_factor=lct.lookup("soil_pco2_factor"), runoff_factor=lct.lookup("runoff_factor"),
        bio_sink=lct.lookup("biological_sink_tc_km2_yr"),
        calcite=calc.kernel_arrays(), dolomite=dol.kernel_arrays() if dol else None,
        so4=acid["so4"], no3=acid["no3"], shares=acid["shares"],
        acid_ratio=acid_ratio, npp_to_nep=cfg.npp_to_nep,
        nep_factor=acid["nep_factor"],
        co2=co2, outputs=cfg.outputs, rock_density=cfg.rock_density_t_m3,
        transitions=cfg.transitions, use_numba=use_numba,
        pco2_volume_fraction="soil_pco2" not in resolved
        or not is_pressure(resolved["soil_pco2"].units))
    names = ["karst", "bio", "total", *cfg.outputs]
    if cfg.transitions:
        names += ["scenario_total", "scenario_difference"]
    db = resolve_database(cfg.database)
    table = table_doc(cfg, str(lct.name))
    params_doc = {
        "system": cfg.system, "landcover_table": table, "co2_units": co2,
        "acid_correction": acid["doc"], "biological_input": biological_doc(cfg, table),
        "rock_density_t_m3": cfg.rock_density_t_m3,
        "inputs": inputs_doc(cfg),
        "input_options": {k: r.note for k, r in resolved.items() if r.note},
        "soil_pco2": "raster" if "soil_pco2" in cfg.inputs else "Brook et al. 1983 from AET",
        "pressure_correction": "dem" in cfg.inputs and params.pco2_volume_fraction,
        "scenario": {"name": cfg.scenario_name, "transitions": cfg.transitions}
        if cfg.transitions else None,
        "equilibrium_grid": {"temp_c": list(calc.temp_range),
                             "log_pco2": list(calc.log_pco2_range)},
    }
    draws = None
    draws_sentence: str | None = None  # the draws' assumption sentence, made once here
    if cfg.uncertainty is not None:
        from ._draws import describe, dolomite_tables, make_draws

        draws = make_draws(cfg.uncertainty, lct, params, dolomite_tables(cfg, dol),
                           bio_from_table(cfg))
        params_doc["uncertainty"], draws_sentence = describe(cfg.uncertainty, draws,
                                                             bio_from_table(cfg))
    assumptions = run_assumptions(cfg, acid, table, draws_sentence)
    tags = {
        "karstsink_version": __version__,
        "phreeqc_version": phreeqc_version(),
        "phreeqc_database": db.name,
        "phreeqc_database_sha256": db.sha256,
        "karstsink_parameters": json_text(params_doc, tag=True),
        "karstsink_assumptions": json_text(assumptions, tag=True),
        "non_karst_pixels": "0 (carbonate fraction 0); nodata only where an input is nodata "
                            "or the carbonic HCO3 is negative",
    }
    spec = _Spec(grid=grid, inputs=gdal_inputs, params=params,
                 zones=None, names=tuple(names), tags=tags, block_size=cfg.block_size,
                 tile_size=cfg.tile_size, converts=converts, reads=reads, draws=draws)
    return spec, {"landcover_table": lct, "params_doc": params_doc, "database": db,
                  "assumptions": assumptions, "draws_sentence": draws_sentence,
                  "checks": checks,
                  "zone_io": zio, "sources": sources}


def _load_model(cfg: MapConfig, landcover: str):
    """numba or not, the land-cover table and the equilibrium tables of a run
    (``landcover``: the path GDAL opens for the land-cover input)."""
    from ..chemistry.equilibrium import equilibrium_table
    from .landcover import load_landcover_table

    lct = load_landcover_table(landcover_table_name(cfg, landcover))
    if cfg.transitions:
        lct.with_scenario(cfg.transitions)
    calc = equilibrium_table(system=cfg.system, mineral="calcite", database=cfg.database)
    dol = None
    if "dolomite_fraction" in cfg.inputs:
        dol = equilibrium_table(system=cfg.system, mineral="dolomite", database=cfg.database)
    use_numba = False
    if cfg.numba in ("auto", "on"):
        try:
            import numba  # noqa: F401

            use_numba = True
        except ImportError as err:
            if cfg.numba == "on":
                raise ConfigError("[model] numba = true but numba is not installed "
                                  "(pip install 'karstsink[fast]').") from err
    return use_numba, lct, calc, dol


def _attach_zones(spec: _Spec, zio, warm: _State | None) -> None:
    """Take the zones from ``zio``; with a ``warm`` state first load this process's
    numba kernels (a tiny block without zones) while the zone helper reads the polygons."""
    from rasterio.windows import Window

    from .zones import ZoneSet

    if warm is not None:
        _process_window(warm, Window(0, 0, min(16, spec.grid.width),
                                     min(16, spec.grid.height)))
    geoms, labels = zio.zones()
    spec.zones = ZoneSet.from_arrays(geoms, labels, zio.field, zio.crs_wkt)


def landcover_table_name(cfg: MapConfig, landcover: str | None = None) -> str:
    """The land-cover table a run of ``cfg`` uses: ``[tables] landcover``, else the scheme
    (``"worldcover"`` or ``"clcd"``) whose codes a sample of its land-cover raster holds
    (``landcover``: the path GDAL opens for it, when the caller resolved it already).

    Raises
    ------
    ConfigError
        The codes match neither scheme (name the table in ``[tables] landcover``).
    RasterError
        The raster cannot be read.
    """
    if cfg.table is not None:
        return str(cfg.table)
    import rasterio
    from rasterio.enums import Resampling

    from .grid import _first_line, _open
    from .landcover import guess_table

    if landcover is None:
        from ._inputs import InputSpec
        from ._sources import resolve_input

        spec = cfg.input_specs.get("landcover") or InputSpec("landcover",
                                                             Path(cfg.inputs["landcover"]))
        landcover = resolve_input(spec).path
    with _open(landcover) as ds:
        h = min(ds.height, 512)
        w = min(ds.width, 512)
        try:
            sample = ds.read(1, out_shape=(h, w), resampling=Resampling.nearest)
        except rasterio.errors.RasterioError as err:
            raise RasterError(f"Input 'landcover': cannot read raster {landcover} (the file "
                              f"is truncated or corrupt: {_first_line(err)}); replace it and "
                              f"run again.") from err
        if ds.nodata is not None:
            sample = sample[sample != ds.nodata]
    name = guess_table(sample)
    if name is None:
        raise ConfigError(
            f"Land-cover codes in {landcover} match neither ESA WorldCover nor CLCD; give "
            f"[tables] landcover = \"worldcover\", \"clcd\" or your own CSV.")
    return name


# ----------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------
def run_map(
    cfg: MapConfig,
    out_dir: str | os.PathLike,
    *,
    jobs: int | None = None,
    dask: Any = None,
    co2: bool | None = None,
    engine: str | None = None,
    progress: Callable[[int, str], Callable[[int], None]] | None = None,
    quicklook: bool = True,
    zones: Any = None,
    zone_field: str | None = None,
) -> MapResult:
    """Compute the karst, biological and total sink maps and zone totals.

    Parameters
    ----------
    cfg : MapConfig
        Validated configuration (:func:`karstsink.mapping.config.load_config`).
    out_dir : path
        Output folder; files appear there only when the whole run succeeds.
    jobs : int, optional
        Worker threads (default: the CPU count, at most 8).
    dask : str, dask.distributed.Client or LocalCluster, optional
        Dask scheduler address, ``"local"`` for a LocalCluster, or a running client or
        cluster (its scheduler is used); overrides ``[dask] address``.
    co2 : bool, optional
        Write rasters in t CO2 instead of t C (overrides ``[model] co2``).
    engine : {"threads", "processes"}, optional
        Local engine (overrides ``[model] engine``).
    progress : callable, optional
        ``progress(total_blocks, desc)`` returning an ``update(n)`` callable.
    quicklook : bool
        Also draw ``quicklook.png``.
    zones : path-like or geopandas.GeoDataFrame, optional
        Zone polygons overriding ``[zones]`` (a GeoDataFrame is written to a temporary
        GeoPackage for the run and removed after it); needs ``zone_field`` (default:
        ``[zones] field``).
    zone_field : str, optional
        The zone-name column of ``zones``.

    Returns
    -------
    MapResult

    Raises
    ------
    ConfigError, RasterError, DataError
        Bad configuration or inputs (nothing is written).

    Warns
    -----
    DataQualityWarning
        Land-cover codes not in the table (with pixel counts), carbonate or
        dolomite fractions outside 0-1, negative runoff, karst pixels whose
        carbonic-acid HCO3 would be negative (written as nodata, with the count), an
        input without a value on part of the carbonate rock (its share; ``run.json``
        ``flags.missing_input_values``), zones partly off the grid (``off_grid_area_km2``).
    OutOfRangeWarning
        Temperatures or soil pCO2 outside the equilibrium table (clamped).
    """
    if zones is not None:  # polygons (a file or a GeoDataFrame) overriding [zones]
        from ._run_args import zones_argument

        tmpz = tempfile.mkdtemp(prefix="karstsink-zones-")
        try:
            path, field_name, layer = zones_argument(zones, zone_field or cfg.zones_field,
                                                     tmpz)
            cfg = dataclasses.replace(cfg, zones_path=path, zones_field=field_name,
                                      zones_layer=layer)
            return run_map(cfg, out_dir, jobs=jobs, dask=dask, co2=co2, engine=engine,
                           progress=progress, quicklook=quicklook)
        finally:
            shutil.rmtree(tmpz, ignore_errors=True)
    from ._run_args import dask_address

    set_gdal_cache_max(64)
    co2 = cfg.co2 if co2 is None else co2
    jobs = jobs or cfg.jobs or min(default_jobs(), 8)
    engine = engine or cfg.engine
    dask = dask_address(dask) or cfg.dask_address
    if cfg.series is not None:
        from .series import prepare_series

        spec, extra = prepare_series(cfg, co2, _prepare)
    else:
        spec, extra = _prepare(cfg, co2)
    zio = extra["zone_io"]
    local = engine == "threads" and not dask
    state = _State(spec, extra["sources"]) if local else None
    try:
        if zio is not None:
            _attach_zones(spec, zio, warm=state)
        return _run(spec, extra, cfg, out_dir, co2, jobs, engine, dask, progress, quicklook,
                    state)
    finally:
        if zio is not None:
            zio.close()


def _run(spec: _Spec, extra: dict, cfg: MapConfig, out_dir, co2: bool, jobs: int,
         engine: str, dask: str | None, progress, quicklook: bool,
         state: _State | None) -> MapResult:
    zio = extra["zone_io"]
    grid = spec.grid
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        scratch = Path(tempfile.mkdtemp(prefix=".karstsink-map-", dir=tmp.parent))
        sources: dict = {}
        try:
            nblocks = len(grid.windows(spec.block_size))
            update = progress(nblocks, "map blocks") if progress else None
            with warnings.catch_warnings():
                # rasterio's in-memory rasterize dataset announces its (not yet set)
                # geotransform when called from worker threads; the result is correct
                from rasterio.errors import NotGeoreferencedWarning

                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                sums, counters, sources = _execute(spec, scratch, cfg, jobs, engine, dask,
                                                   update, state)

            def make_doc(params_doc, assumptions_, totals_, counters_, files_):
                return _run_doc(spec, extra, cfg, params_doc, assumptions_, totals_,
                                counters_, files_, engine, dask, jobs, counters)

            if spec.variants:
                from .series import finish_series

                files, totals, zonal, series, said = finish_series(
                    spec, extra, cfg, tmp, sums, counters, sources, co2, jobs, quicklook,
                    make_doc)
                return MapResult(out_dir=out_dir, files=files, totals=totals,
                                 zonal_columns=zonal, counters=counters,
                                 assumptions=said, series=series)
            if spec.zones is not None:  # written by the zone helper meanwhile
                # ``tmp`` is the run's atomic folder: files appear together or not at all
                zio.start_write(tmp, sums, co2, grid, spec.tags)
            styles = add_stats(spec, sources, counters.pop("stats", {}), co2)
            _convert_all(spec, sources, tmp, jobs)
            files = [f"{OUTPUT_META[n][0]}.tif" for n in spec.names]
            files += [style(tmp).name for style in styles]
            if spec.zones is not None:
                files += ["zonal_totals.csv", "zonal_totals.gpkg"]
            totals = grid_totals_dict(counters.get("grid_totals"))
            check_landcover_codes(counters, cfg.inputs["landcover"])
            warn_counters(counters, extra["landcover_table"].name)
            warn_coverage(counters, cfg.inputs)
            check_not_all_nodata(totals, counters, extra["checks"], cfg.inputs)
            if quicklook:
                from ..plots.maps import quicklook as draw

                unit = OUTPUT_META["total"][3 if co2 else 2]
                draw(tmp / "total_sink.tif", tmp / "quicklook.png", zones=spec.zones,
                     title="Total carbon sink (karst + biological)", unit=unit)
                files.append("quicklook.png")
            zonal = None
            if spec.zones is not None:
                zonal, helper_mb = zio.finish_write()
                warn_zones(zonal, spec.zones.field)
                outside_zones(zonal, counters)
                if helper_mb is not None:
                    counters["zone_helper_peak_mb"] = helper_mb
            if spec.draws is not None:
                from ._draws import write_draw_tables

                files += write_draw_tables(tmp, spec, counters.pop("draws"), sums,
                                           counters.get("grid_totals"), zonal)
                if spec.draws.sd_raster:  # [uncertainty] sd_raster: total_sink_sd.tif
                    from ._sd_raster import write_sd_raster

                    files += write_sd_raster(tmp, spec, counters.pop("draw_sd", []), co2)
            run_doc = make_doc(extra["params_doc"], extra["assumptions"], totals, counters,
                               files)
            (tmp / "run.json").write_text(json_text(run_doc),
                                          encoding="utf-8")
            files.append("run.json")
        finally:
            try:
                if zio is not None:  # after a failure: no helper writing into ``tmp``
                    zio.abort_write()
            finally:
                for src in sources.values():  # after a failure: close the tile stores
                    src.abort()
                shutil.rmtree(scratch, ignore_errors=True)
    return MapResult(out_dir=out_dir, files=files, totals=totals, zonal_columns=zonal,
                     counters=counters, assumptions=list(extra["assumptions"]))


def _run_doc(spec: _Spec, extra: dict, cfg: MapConfig, params_doc: dict,
             assumptions: list[str], totals: dict, flags: dict, files: list, engine: str,
             dask: str | None, jobs: int, counters: dict) -> dict:
    """The ``run.json`` document (``flags``: the counters of its year in a series)."""
    from ._cog import DEFLATE_BACKEND

    grid = spec.grid
    return {
        "karstsink_version": __version__, "parameters": params_doc,
        "assumptions": assumptions,
        "database": database_doc(extra["database"].as_dict(), cfg.source),
        "phreeqc_version": spec.tags["phreeqc_version"],
        "grid": {"crs": grid.crs.to_string(), "transform": list(grid.transform)[:6],
                 "width": grid.width, "height": grid.height},
        "totals": totals,
        "flags": {k: v for k, v in flags.items()
                  if k not in ("grid_totals", "worker_peak_mb", "engine_tiles",
                               "zone_helper_peak_mb", "stats")},
        "engine": {"name": "dask" if dask else engine, "jobs": jobs,
                   "tiles": counters.get("engine_tiles"),
                   "deflate": DEFLATE_BACKEND,
                   "tile_size": spec.tile_size if "engine_tiles" in counters else None,
                   "peak_memory_mb": peak_rss_mb() or 0.0,
                   "largest_worker_peak_memory_mb": counters.get("worker_peak_mb"),
                   "zone_helper_peak_memory_mb": counters.get("zone_helper_peak_mb")},
        "files": files,
    }



def _convert_all(spec: _Spec, sources: dict, out: Path, jobs: int) -> None:
    """Lay out every output's streamed tiles as a COG in ``out`` (copies, no encoding)."""
    names = list(spec.names)
    with cf.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(names)))) as pool:
        futs = [pool.submit(sources[n].close, out / f"{output_meta(n)[0]}.tif") for n in names]
        for f in futs:
            f.result()
