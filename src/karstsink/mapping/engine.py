"""The streaming map engine: block by block, threads, fused zone totals, COG output.

Design (measured, design.md "The map engine"): inputs are read per 512-px
block on the target grid (:mod:`karstsink.mapping.grid`), the model runs per
block in worker threads (GDAL, numba kernels and ISA-L release the GIL), and
the same workers compute the block's overview pieces and encode its output
tiles (floating-point predictor + DEFLATE, :mod:`karstsink.mapping._cog`).
One ordered writer appends the encoded tiles to scratch tile stores,
assembles overview strips and hands them back to the pool for encoding, and
accumulates the zone sums; at the end each output's tiles are laid out once
as a Cloud-Optimised GeoTIFF (IFDs first, smallest overview first, GDAL's
structural metadata), a kernel copy of already-compressed bytes.  GDAL's block
cache is capped at 64 MB, so peak memory does not grow with the raster size.

``engine="processes"`` and the Dask path split the grid into large tiles
(``tile_size`` px): each worker runs the same streaming pass over its tile,
encoding its full-resolution tiles and the overview levels whose tiles lie
inside it into its own tile stores; zone sums come back as small vectors, and
with them the worker's share of the first overview level that crosses engine
tiles (1/1024 of its pixels at 8192-px tiles).  The parent adopts the stores,
builds and encodes the remaining small levels, and lays out the COGs as above.
Values and overviews are identical to the threaded engine (tested).

Measured (benchmarks/bench_map.py, 2 shared cores, alternating rounds, the machine's
speed drifting by tens of per cent between minutes).  The I/O floor reads every input
once and writes the map's own output values with GDAL at DEFLATE level 1 with the
floating-point predictor.  Until 2026-11-29 it wrote a stand-in that compresses ~10 x
better than sink values, and at GDAL's default level 6 (a profile copied from an input
carries no level): earlier figures are against that floor.

* 340 Mpx (Guizhou scale): floor 13.6-15.4 s, ``run_map`` end to end 13.8-18.1 s
  (1.01-1.19 x in 4 rounds), peak 0.61 GB + 0.16 GB in the zone helper; before the
  streaming writer 54 s, 26 s of it in GDAL's COG conversion.
* 67 Mpx: floor 2.6-4.0 s, end to end 3.3-5.1 s (1.08-1.46 x in all 25 rounds of seven
  invocations).  About 1 s of each run is fixed start-up and finish that a 67 Mpx run
  cannot amortise: importing numba (~0.2-0.3 s) and loading its cached kernels
  (~0.15-0.25 s: numba builds its type registries on the first call), rasterio, the
  quick look (~0.12 s) and the COG layout (~0.13 s).  The pass is CPU-bound on both
  cores: 3.5 s with two threads against 6.0 s with one (per-thread CPU clocks: blocks
  5.8 s, +3-6 % per block over one thread; main thread 0.4 s; overview tiles 0.45 s; of
  7 thread-seconds), ~87 ns/px of CPU per block.

What helped (each measured on these machines): encoding tiles once in the
workers instead of uncompressed scratch + GDAL's COG driver (26 s -> 0.6 s of
layout at 340 Mpx); ISA-L DEFLATE (~700 MB/s per core vs zlib's ~110 MB/s at
the same ratio); the predictor as two vectorised loops (4.3 -> 0.4 ns/px);
bilinear resampling by runs of a source cell whose ends follow from the
lattice's linear coordinates (gathers are slow here: 37 -> 7 ns/px for three
fields); branch-free model loops the compiler vectorises; table look-ups
skipped where there is no carbonate; zone ids written through the look-up in
the scan-line pass; the quick look drawn with Pillow instead of matplotlib
(whose import alone cost ~1 CPU-s); numba loaded without the scipy.linalg import
of its BLAS probe (0.3-0.4 s, :mod:`karstsink._numba`); land-cover codes kept in
the file's integer type (the int64 copy cost ~1.6 ns/px); the zones read and the
zone tables written by a helper process (:mod:`._zone_io`) while this process loads
numba, so pandas and geopandas (~0.4 s) stay out of the critical path and out of
the map process (100 MB less).  Tried and not kept: 1024-px blocks (7 % faster at
67 Mpx, equal at 340 Mpx, +90 MB), 256-px blocks (40 % slower: ~4 ms of per-block
work), three threads on two cores, the three bilinear fields in one loop, zone sums
in one loop per run (both within 5 %), the class and table look-ups as gather loops
without branches (no faster), loading numba in a thread during set-up (both imports
are GIL-bound).  Threads against processes at 340 Mpx (9 engine
tiles): 16.7-18.1 s against 13.1-15.5 s in the same rounds (2026-11-29).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import ctypes
import glob
import json
import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from .._io import atomic_dir, peak_rss_mb
from ..exceptions import ConfigError, DataQualityWarning, OutOfRangeWarning, RasterError
from ._carbon_terms import acid_inputs, biological_doc, map_assumptions
from ._zone_io import ZoneIO
from .config import MapConfig
from .grid import AlignedSource, Grid, apply_affine, pixel_area_km2, read_group
from .model import (
    ModelParams,
    compute_block,
    pressure_ratio,
    remap_classes,
    scenario_bio,
    soil_pco2_brook,
)

# numba-compiled modules (_cog, _kernel, _sampling, zones) are imported where used, so
# that a map run can start its zone helper (mapping/_zone_io.py) before numba loads

__all__ = ["MapResult", "run_map"]

#: output name -> (file stem, description, C-unit, CO2-unit)
OUTPUT_META = {
    "karst": ("karst_sink", "Karst (inorganic, MPD) carbon sink", "t C km-2 yr-1",
              "t CO2 km-2 yr-1"),
    "bio": ("biological_sink", "Biological (ecosystem) carbon sink", "t C km-2 yr-1",
            "t CO2 km-2 yr-1"),
    "total": ("total_sink", "Total carbon sink (karst + biological)", "t C km-2 yr-1",
              "t CO2 km-2 yr-1"),
    "dissolution": ("dissolution", "Carbonate rock dissolved (CaCO3 + CaMg(CO3)2)",
                    "t km-2 yr-1", "t km-2 yr-1"),
    "denudation": ("denudation", "Denudation of the carbonate outcrop", "mm ka-1", "mm ka-1"),
    "scenario_total": ("scenario_total_sink", "Total carbon sink under the scenario",
                       "t C km-2 yr-1", "t CO2 km-2 yr-1"),
    "scenario_difference": ("scenario_difference", "Scenario minus baseline total sink",
                            "t C km-2 yr-1", "t CO2 km-2 yr-1"),
}

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
    _zonal: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def zonal(self):
        """pandas.DataFrame or None: the zone table as written to ``zonal_totals.csv``
        (built on first access: the map process itself need not import pandas)."""
        if self._zonal is None and self.zonal_columns is not None:
            import pandas as pd

            self._zonal = pd.DataFrame(self.zonal_columns)
        return self._zonal


def set_gdal_cache_max(megabytes: int = 64) -> None:
    """Cap GDAL's raster block cache (GDAL_CACHEMAX) for this process [MB]."""
    os.environ.setdefault("GDAL_CACHEMAX", str(megabytes))
    import rasterio

    libs = glob.glob(os.path.join(os.path.dirname(rasterio.__file__), os.pardir,
                                  "rasterio.libs", "libgdal*"))
    for lib in libs:
        with contextlib.suppress(OSError, AttributeError):
            gdal = ctypes.CDLL(lib)
            gdal.GDALSetCacheMax64.argtypes = [ctypes.c_int64]
            gdal.GDALSetCacheMax64(int(megabytes) * 1024 * 1024)
            return


# ----------------------------------------------------------------------------------------
# Run state shared by the engines (picklable: rebuilt in worker processes)
# ----------------------------------------------------------------------------------------
@dataclass
class _Spec:
    grid: Grid
    inputs: dict[str, str]
    params: ModelParams
    zones: object  # ZoneSet or None
    names: tuple[str, ...]  # outputs written
    tags: dict[str, str]
    block_size: int
    tile_size: int = 8192  # engine tiles of the processes / Dask engines [px]


class _State:
    """Per-process open sources for a spec (``sources``: already opened ones to reuse)."""

    def __init__(self, spec: _Spec, sources: dict | None = None):
        self.spec = spec
        self.sources = sources if sources is not None else _open_sources(spec.inputs,
                                                                         spec.grid)
        for s in self.sources.values():
            s.use_numba = spec.params.use_numba


def _open_sources(inputs: dict, grid: Grid) -> dict[str, AlignedSource]:
    return {k: AlignedSource(v, grid, k, "classes" if k == "landcover" else "continuous")
            for k, v in inputs.items()}


def _halo_slope(state: _State, window) -> np.ndarray:
    """Slope [degrees] of the DEM on the target grid for a window (1-px halo)."""
    from rasterio.windows import Window

    grid = state.spec.grid
    big = Window(window.col_off - 1, window.row_off - 1, window.width + 2, window.height + 2)
    z = state.sources["dem"].read(big).astype(np.float64)
    # replicate the edge where the halo falls outside the data (grid edges)
    for sl_to, sl_from in (((0, slice(None)), (1, slice(None))),
                           ((-1, slice(None)), (-2, slice(None))),
                           ((slice(None), 0), (slice(None), 1)),
                           ((slice(None), -1), (slice(None), -2))):
        bad = np.isnan(z[sl_to])
        z[sl_to] = np.where(bad, z[sl_from], z[sl_to])
    t = grid.transform
    if grid.crs.is_geographic:
        rows = np.arange(big.row_off, big.row_off + big.height) + 0.5
        lat = np.radians(t.f + t.e * rows)
        r_earth = 6371008.8  # m, mean radius (IUGG): slope needs only local metric
        dy = abs(t.e) * math.pi / 180 * r_earth
        dx = (abs(t.a) * math.pi / 180 * r_earth * np.cos(lat))[:, None]
    else:
        unit = grid.crs.linear_units_factor[1] if grid.crs.is_projected else 1.0
        dx, dy = abs(t.a) * unit, abs(t.e) * unit
    gy = (z[2:, 1:-1] - z[:-2, 1:-1]) / (2 * dy)
    gxx = (z[1:-1, 2:] - z[1:-1, :-2])
    dxx = dx[1:-1] if isinstance(dx, np.ndarray) else dx
    gx = gxx / (2 * dxx)
    return np.degrees(np.arctan(np.hypot(gx, gy)))


def _process_window(state: _State, window) -> tuple[dict, np.ndarray | None, dict]:
    """Read, model, zone-sum and encode one block.

    Returns ``({output: (encoded tiles, overview pieces)}, zone sums, counters)``
    with tiles as ``(tile row, tile column, bytes)`` relative to the block.
    """
    spec = state.spec
    src = state.sources
    p = spec.params
    raw = read_group(src, window)
    codes, valid = raw["landcover"]
    inp: dict[str, np.ndarray] = {"landcover": codes, "landcover_valid": valid,
                                  "carbonate": raw["carbonate"],
                                  "temperature": raw["temperature"]}
    if "runoff" in raw:
        inp["runoff"] = raw["runoff"]
        et = None
    else:
        et = raw["evapotranspiration"]
        inp["runoff"] = np.maximum(raw["precipitation"] - et, np.float32(0))
    if "soil_pco2" in raw:
        inp["pco2_ppmv"] = raw["soil_pco2"]
    else:
        aet = raw["aet"] if "aet" in raw else et
        inp["pco2_ppmv"] = soil_pco2_brook(aet.astype(np.float64)).astype(np.float32)
    if "dolomite_fraction" in raw:
        inp["dolomite_fraction"] = raw["dolomite_fraction"]
    if "dem" in raw:
        inp["pressure_ratio"] = pressure_ratio(raw["dem"]).astype(np.float32)
    if "nep" in raw:  # net ecosystem production: the net biological sink itself
        inp["bio"] = raw["nep"]
    elif "npp" in raw:  # net primary production x the configured NEP/NPP ratio
        inp["bio"] = raw["npp"] * np.float32(p.npp_to_nep)
    out, counters = compute_block(inp, p)
    if p.transitions:
        slope = _halo_slope(state, window) if "dem" in src else None
        new_codes = remap_classes(codes, valid, slope, p.transitions)
        scen_inp = inp
        if "bio" in inp:  # a changed pixel takes its new class's table sink
            scen_inp = {**inp, "bio": scenario_bio(inp["bio"], codes, new_codes, p.bio_sink)}
        scen, scen_counters = compute_block(scen_inp, p, codes=new_codes)
        counters["scenario_negative_carbonic_hco3"] = scen_counters["negative_carbonic_hco3"]
        out["scenario_total"] = scen["total"]
        out["scenario_difference"] = scen["total"] - out["total"]
    uf = 1.0 / p.unit_factor  # zone and grid sums always in t C
    area_row = pixel_area_km2(spec.grid, int(window.row_off), int(window.height))[:, 0]
    zones = (spec.zones.block_zones(window, spec.grid.transform)
             if spec.zones is not None else None)
    vals = [out["karst"], out["bio"], out["total"]]
    if p.transitions:
        vals += [out["scenario_total"], out["scenario_difference"]]
    sums = None
    if p.use_numba:
        from ._kernel import zone_sums

        zsum, gsum = zone_sums(zones, spec.zones.n if zones is not None else 0, area_row,
                               inp["carbonate"], vals, uf)
        if zones is not None:
            sums = zsum
    else:
        area = np.broadcast_to(area_row[:, None], out["total"].shape)
        carb = np.clip(np.nan_to_num(inp["carbonate"], nan=0.0), 0, 1)
        qs = [area, area * carb, area * np.isnan(out["total"])] + [v * area * uf for v in vals]
        gsum = np.array([float(np.nansum(q)) for q in qs])
        if zones is not None:
            sums = spec.zones.accumulate(zones, qs)
    # whole-grid totals: area, carbonate area [km2]; karst, biological, total [t C yr-1]
    counters["grid_totals"] = gsum[[0, 1, 3, 4, 5]]
    from ._cog import encode_tile

    levels = overview_levels(spec.grid, spec.block_size)
    arrays = {}
    half = _halver(p)
    tile = cog_tile(spec.block_size)
    for k in spec.names:
        pieces = []
        a = out[k]
        for _ in range(levels):
            a = half(a)
            pieces.append(a)
        # the block leaves this thread as encoded COG tiles (and its overview pieces)
        arrays[k] = ([(tr, tc, encode_tile(v, tile)) for tr, tc, v in _tiles(out[k], tile)],
                     pieces)
    return arrays, sums, counters


def _merge_counters(acc: dict, c: dict) -> None:
    for k, v in c.items():
        if k == "unknown_classes":
            d = acc.setdefault(k, {})
            for code, n in v.items():
                d[code] = d.get(code, 0) + n
        elif k == "grid_totals":
            acc[k] = acc.get(k, 0) + v
        elif k == "worker_peak_mb":  # engine tiles: the largest worker process
            acc[k] = max(acc.get(k, 0.0), v)
        else:
            acc[k] = acc.get(k, 0) + v


def _tiles(a: np.ndarray, tile: int):
    """``(tile row, tile column, view)`` of every tile of ``a`` (edge tiles smaller)."""
    for r in range(0, a.shape[0], tile):
        for c in range(0, a.shape[1], tile):
            yield r // tile, c // tile, a[r:r + tile, c:c + tile]


def cog_tile(block_size: int) -> int:
    """COG tile size [px] for a block size: 512, or the largest multiple of 16 that
    divides the block (blocks are cut into whole tiles)."""
    return max(t for t in range(16, min(512, block_size) + 1, 16) if block_size % t == 0)


def overview_levels(grid: Grid, block_size: int) -> int:
    """Number of 2x overview levels the COG gets (computed in the map pass).

    As GDAL's COG driver: halve until the overview fits one tile; levels are
    computed per block, so only while 2**level divides the block size (at most
    9 at 512 px).
    """
    tile = cog_tile(block_size)
    k = 0
    while (max(-(-grid.width // 2**k), -(-grid.height // 2**k)) > tile
           and block_size % 2 ** (k + 1) == 0):
        k += 1
    return k


def halve(a: np.ndarray) -> np.ndarray:
    """2 x 2 nodata-aware average (NaN ignored; all-NaN -> NaN); odd edges padded."""
    h, w = a.shape
    if h % 2 or w % 2:
        a = np.pad(a, ((0, h % 2), (0, w % 2)), constant_values=np.nan)
    v = a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2)
    valid = ~np.isnan(v)
    total = np.where(valid, v, np.float32(0)).sum(axis=(1, 3), dtype=np.float32)
    n = valid.sum(axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.float32(np.nan)).astype(np.float32)


def _halver(p: ModelParams) -> Callable[[np.ndarray], np.ndarray]:
    """The 2 x 2 averaging every overview level is built with (numba when enabled)."""
    if p.use_numba:
        from ._kernel import halve_nb

        return halve_nb
    return halve


class _OverviewStrips:
    """Collects one overview level's block pieces into full tile rows ("strips").

    Blocks arrive in row-major order and give pieces smaller than a tile at
    every level; a strip is handed to ``emit(tile_row, strip)`` when the next one
    starts (and by :meth:`flush`), so each overview tile is encoded once, whole.
    Memory: one strip of ``tile`` rows of the level's width [float32].
    """

    def __init__(self, level: int, tile: int, height: int, width: int,
                 emit: Callable[[int, np.ndarray], None]):
        self.f = 2**level
        self.tile = tile
        self.height, self.width = height, width
        self.emit = emit
        self.strip: np.ndarray | None = None
        self.strip_row = -1

    def add(self, piece: np.ndarray, window) -> None:
        r = int(window.row_off) // self.f
        c = int(window.col_off) // self.f
        tr = r // self.tile
        if tr != self.strip_row:
            self.flush()
            rows = min(self.tile, self.height - tr * self.tile)
            # no fill: the blocks' pieces cover every strip exactly (block offsets are
            # multiples of 2**level, edge pieces have the level's ceil size)
            self.strip = np.empty((rows, self.width), np.float32)
            self.strip_row = tr
        rr = r - tr * self.tile
        self.strip[rr: rr + piece.shape[0], c: c + piece.shape[1]] = piece

    def flush(self) -> None:
        if self.strip is not None:
            self.emit(self.strip_row, self.strip)
            self.strip = None


def _open_cogs(spec: _Spec, folder: Path, levels: int) -> dict:
    """One :class:`StreamingCOG` per output (the threaded engine on the full grid)."""
    from ._cog import StreamingCOG

    grid = spec.grid
    cogs = {}
    for name in spec.names:
        stem, desc, unit_c, unit_co2 = OUTPUT_META[name]
        unit = unit_co2 if spec.params.co2 else unit_c
        cogs[name] = StreamingCOG(
            grid.width, grid.height, levels, cog_tile(spec.block_size), folder / "tiles",
            crs=grid.crs, transform=grid.transform, tags={**spec.tags, "units": unit},
            band_tags={"units": unit, "quantity": name}, description=desc, name=stem)
    return cogs


def _stream(spec: _Spec, grid: Grid, folder: Path, jobs: int,
            progress: Callable[[int], None] | None = None, state: _State | None = None
            ) -> tuple[np.ndarray | None, dict, dict]:
    """Threaded streaming pass over ``grid`` (the full grid or an engine tile).

    Every output tile is encoded once, in the workers, into tile stores under
    ``folder``.  On the full grid the result is one :class:`StreamingCOG` per
    output, for :func:`_convert_all` to lay out; on an engine tile (a process or
    Dask worker) it is each output's detached stores with this tile's share of
    the first overview level that crosses engine tiles, for :func:`_run_tiled`.
    """
    from ._cog import encode_tile

    state = state if state is not None else _State(spec)
    windows = grid.windows(spec.block_size)
    tile_off = (0, 0)
    if grid is not spec.grid:  # a tile: shift windows into full-grid coordinates
        col0, row0 = apply_affine(~spec.grid.transform, grid.transform.c, grid.transform.f)
        tile_off = (round(row0), round(col0))
    from rasterio.windows import Window

    sums = None
    counters: dict = {}
    levels = overview_levels(spec.grid, spec.block_size)
    tile = cog_tile(spec.block_size)
    upper: dict[str, np.ndarray] = {}  # a tile's level local + 1, for the parent
    cogs = _open_cogs(spec, folder, levels)
    # an engine tile encodes the overview levels whose tiles lie inside it
    local = levels if grid is spec.grid else local_levels(spec, levels)
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        ovr_jobs: list = []  # encoded overview tiles on their way to the stores

        def strip_encoder(c_, k):
            r_off = tile_off[0] // (2**k * tile)
            c_off = tile_off[1] // (2**k * tile)

            def emit(tile_row, strip):
                for _, tc, v in _tiles(strip, tile):
                    ovr_jobs.append((c_, k, r_off + tile_row, c_off + tc,
                                     pool.submit(encode_tile, v, tile)))
            return emit

        def collector(name, k):
            h, w = -(-grid.height // 2**k), -(-grid.width // 2**k)
            upper[name] = np.full((h, w), np.nan, np.float32)

            def emit(tile_row, strip):
                upper[name][tile_row * tile: tile_row * tile + strip.shape[0]] = strip
            return _OverviewStrips(k, tile, h, w, emit)

        outs = {}
        for n, c_ in cogs.items():
            strips = []
            for k in range(1, levels + 1):
                if k <= local:
                    h, w = -(-grid.height // 2**k), -(-grid.width // 2**k)
                    strips.append(_OverviewStrips(k, tile, h, w, strip_encoder(c_, k)))
                else:  # crosses engine tiles: the parent builds it from this level
                    strips.append(collector(n, k) if k == local + 1 else None)
            outs[n] = (c_, strips)

        def drain(wait: bool) -> None:
            while ovr_jobs and (wait or ovr_jobs[0][-1].done()):
                c_, k, tr, tc, fut = ovr_jobs.pop(0)
                c_.put(k, tr, tc, fut.result())

        try:
            pending: list = []
            it = iter(windows)
            depth = max(2, 2 * jobs)

            def submit():
                w = next(it, None)
                if w is None:
                    return False
                full = Window(w.col_off + tile_off[1], w.row_off + tile_off[0], w.width,
                              w.height)
                pending.append((w, full, pool.submit(_process_window, state, full)))
                return True

            for _ in range(depth):
                if not submit():
                    break
            while pending:
                w, full, fut = pending.pop(0)
                arrays, s, c = fut.result()
                submit()
                r0, c0 = int(full.row_off) // tile, int(full.col_off) // tile
                for name, (encoded, pieces) in arrays.items():
                    dst, strips = outs[name]
                    for tr, tc, payload in encoded:
                        dst.put(0, r0 + tr, c0 + tc, payload)
                    for strip, piece in zip(strips, pieces, strict=True):
                        if strip is not None:
                            strip.add(piece, w)
                drain(False)
                if s is not None:
                    sums = s if sums is None else sums + s
                _merge_counters(counters, c)
                if progress:
                    progress(1)
            for _, strips in outs.values():
                for strip in strips:
                    if strip is not None:
                        strip.flush()  # the last strip of every level
            drain(True)
        except BaseException:
            for c_ in cogs.values():
                c_.abort()
            raise
        finally:
            for s_ in state.sources.values():
                s_.close()
    if grid is not spec.grid:  # an engine tile: hand the tiles back to the parent
        return sums, counters, {n: (*c_.detach(), upper.get(n)) for n, c_ in cogs.items()}
    return sums, counters, cogs


def local_levels(spec: _Spec, levels: int) -> int:
    """Overview levels whose tiles lie inside one engine tile (``[dask] tile_size``)."""
    tile = cog_tile(spec.block_size)
    k = 0
    while k < levels and spec.tile_size % (tile * 2 ** (k + 1)) == 0:
        k += 1
    return k


def _tile_task(spec: _Spec, tile, folder: str, jobs: int = 1):
    """Run the streaming pass on one tile (a worker process or Dask task)."""
    set_gdal_cache_max(64)
    sub = spec.grid.sub(tile)
    out = Path(folder) / f"tile_{int(tile.row_off)}_{int(tile.col_off)}"
    out.mkdir(parents=True, exist_ok=True)
    sums, counters, parts = _stream(spec, sub, out, jobs)
    counters["worker_peak_mb"] = peak_rss_mb() or 0.0
    return (int(tile.row_off), int(tile.col_off)), sums, counters, parts


# ----------------------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------------------
def _prepare(cfg: MapConfig, co2: bool) -> tuple[_Spec, dict]:
    """Validate the inputs and build the run's spec.

    The zones are read by a :class:`~._zone_io.ZoneIO` started as soon as the grid is
    known (``extra["zone_io"]``; ``spec.zones`` stays None until :func:`_attach_zones`).
    """
    grid = Grid.from_raster(cfg.grid_like or cfg.inputs["landcover"])
    if grid.width * grid.height == 0:
        raise RasterError("The target grid is empty.")
    zio = None
    if cfg.zones_path is not None:  # first: it works while numba loads here
        zio = ZoneIO(cfg.zones_path, cfg.zones_field, grid.crs.to_wkt(), cfg.zones_layer)
    try:
        return _prepare_rest(cfg, co2, grid, zio)
    except BaseException:
        if zio is not None:
            zio.close()
        raise


def _prepare_rest(cfg: MapConfig, co2: bool, grid: Grid, zio) -> tuple[_Spec, dict]:
    from ..chemistry.database import phreeqc_version, resolve_database
    from ..chemistry.equilibrium import equilibrium_table
    from .landcover import guess_table, load_landcover_table

    # open every input once here so that missing CRS / no overlap fail before any output
    # (the threaded engine then reads through these)
    sources = _open_sources({k: str(v) for k, v in cfg.inputs.items()}, grid)
    table_name = cfg.table
    if table_name is None:
        table_name = _guess_from_raster(cfg.inputs["landcover"], guess_table)
    lct = load_landcover_table(table_name)
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
    acid = acid_inputs(cfg, lct)
    params = ModelParams(
        pco2_factor=lct.lookup("soil_pco2_factor"), runoff_factor=lct.lookup("runoff_factor"),
        bio_sink=lct.lookup("biological_sink_tc_km2_yr"),
        calcite=calc.kernel_arrays(), dolomite=dol.kernel_arrays() if dol else None,
        so4=acid["so4"], no3=acid["no3"], shares=acid["shares"], npp_to_nep=cfg.npp_to_nep,
        co2=co2, outputs=cfg.outputs, rock_density=cfg.rock_density_t_m3,
        transitions=cfg.transitions, use_numba=use_numba)
    names = ["karst", "bio", "total", *cfg.outputs]
    if cfg.transitions:
        names += ["scenario_total", "scenario_difference"]
    db = resolve_database(cfg.database)
    params_doc = {
        "system": cfg.system, "landcover_table": str(lct.name), "co2_units": co2,
        "acid_correction": acid["doc"], "biological_input": biological_doc(cfg, str(lct.name)),
        "rock_density_t_m3": cfg.rock_density_t_m3,
        "inputs": {k: str(v) for k, v in cfg.inputs.items()},
        "soil_pco2": "raster" if "soil_pco2" in cfg.inputs else "Brook et al. 1983 from AET",
        "pressure_correction": "dem" in cfg.inputs,
        "scenario": {"name": cfg.scenario_name, "transitions": cfg.transitions}
        if cfg.transitions else None,
        "equilibrium_grid": {"temp_c": list(calc.temp_range),
                             "log_pco2": list(calc.log_pco2_range)},
    }
    assumptions = map_assumptions(cfg, acid, str(lct.name))
    tags = {
        "karstsink_version": __version__,
        "phreeqc_version": phreeqc_version(),
        "phreeqc_database": db.name,
        "phreeqc_database_sha256": db.sha256,
        "karstsink_parameters": json.dumps(params_doc, sort_keys=True),
        "karstsink_assumptions": json.dumps(assumptions, ensure_ascii=False),
        "non_karst_pixels": "0 (carbonate fraction 0); nodata only where an input is nodata "
                            "or the carbonic HCO3 is negative",
    }
    spec = _Spec(grid=grid, inputs={k: str(v) for k, v in cfg.inputs.items()}, params=params,
                 zones=None, names=tuple(names), tags=tags, block_size=cfg.block_size,
                 tile_size=cfg.tile_size)
    return spec, {"landcover_table": lct, "params_doc": params_doc, "database": db,
                  "assumptions": assumptions,
                  "zone_io": zio, "sources": sources}


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


def _guess_from_raster(path: Path, guess) -> str:
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(path) as ds:
        h = min(ds.height, 512)
        w = min(ds.width, 512)
        sample = ds.read(1, out_shape=(h, w), resampling=Resampling.nearest)
        if ds.nodata is not None:
            sample = sample[sample != ds.nodata]
    name = guess(sample)
    if name is None:
        raise ConfigError(
            f"Land-cover codes in {path} match neither ESA WorldCover nor CLCD; give "
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
    dask: str | None = None,
    co2: bool | None = None,
    engine: str | None = None,
    progress: Callable[[int, int], Callable[[int], None]] | None = None,
    quicklook: bool = True,
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
    dask : str, optional
        Dask scheduler address, or ``"local"`` for a LocalCluster; overrides
        ``[dask] address``.
    co2 : bool, optional
        Write rasters in t CO2 instead of t C (overrides ``[model] co2``).
    engine : {"threads", "processes"}, optional
        Local engine (overrides ``[model] engine``).
    progress : callable, optional
        ``progress(total_blocks, desc)`` returning an ``update(n)`` callable.
    quicklook : bool
        Also draw ``quicklook.png``.

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
        carbonic-acid HCO3 would be negative (written as nodata, with the count).
    OutOfRangeWarning
        Temperatures or soil pCO2 outside the equilibrium table (clamped).
    """
    set_gdal_cache_max(64)
    co2 = cfg.co2 if co2 is None else co2
    jobs = jobs or cfg.jobs or min(os.cpu_count() or 1, 8)
    engine = engine or cfg.engine
    dask = dask or cfg.dask_address
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
    from ._cog import DEFLATE_BACKEND

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
            if spec.zones is not None:  # written by the zone helper meanwhile
                # ``tmp`` is the run's atomic folder: files appear together or not at all
                zio.start_write(tmp, sums, co2)
            _convert_all(spec, sources, tmp, jobs)
            files = [f"{OUTPUT_META[n][0]}.tif" for n in spec.names]
            if spec.zones is not None:
                files += ["zonal_totals.csv", "zonal_totals.gpkg"]
            gt = counters.get("grid_totals", np.zeros(5))
            totals = {"grid_area_km2": gt[0], "karst_area_km2": gt[1],
                      "karst_sink_t_c_yr": gt[2], "biological_sink_t_c_yr": gt[3],
                      "total_sink_t_c_yr": gt[4]}
            _warn_counters(counters, extra["landcover_table"].name)
            if quicklook:
                from ..plots.maps import quicklook as draw

                unit = OUTPUT_META["total"][3 if co2 else 2]
                draw(tmp / "total_sink.tif", tmp / "quicklook.png", zones=spec.zones,
                     title="Total carbon sink (karst + biological)", unit=unit)
                files.append("quicklook.png")
            zonal = None
            if spec.zones is not None:
                zonal, helper_mb = zio.finish_write()
                if helper_mb is not None:
                    counters["zone_helper_peak_mb"] = helper_mb
            run_doc = {
                "karstsink_version": __version__, "parameters": extra["params_doc"],
                "assumptions": extra["assumptions"],
                "database": extra["database"].as_dict(),
                "phreeqc_version": spec.tags["phreeqc_version"],
                "grid": {"crs": grid.crs.to_string(), "transform": list(grid.transform)[:6],
                         "width": grid.width, "height": grid.height},
                "totals": totals,
                "flags": {k: v for k, v in counters.items()
                          if k not in ("grid_totals", "worker_peak_mb", "engine_tiles",
                                       "zone_helper_peak_mb")},
                "engine": {"name": "dask" if dask else engine, "jobs": jobs,
                           "tiles": counters.get("engine_tiles"),
                           "deflate": DEFLATE_BACKEND,
                           "tile_size": spec.tile_size if "engine_tiles" in counters else None,
                           "peak_memory_mb": peak_rss_mb() or 0.0,
                           "largest_worker_peak_memory_mb": counters.get("worker_peak_mb"),
                           "zone_helper_peak_memory_mb": counters.get("zone_helper_peak_mb")},
                "files": files,
            }
            (tmp / "run.json").write_text(json.dumps(run_doc, indent=2, default=_jsonable),
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


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _convert_all(spec: _Spec, sources: dict, out: Path, jobs: int) -> None:
    """Lay out every output's streamed tiles as a COG in ``out`` (copies, no encoding)."""
    names = list(spec.names)
    with cf.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(names)))) as pool:
        futs = [pool.submit(sources[n].close, out / f"{OUTPUT_META[n][0]}.tif") for n in names]
        for f in futs:
            f.result()


def _run_tiled(spec: _Spec, scratch: Path, jobs: int, dask_address: str | None = None,
               update=None):
    grid = spec.grid
    tiles = grid.windows(spec.tile_size)
    results = []
    if dask_address:
        from .dask_engine import run_tiles_dask

        results = run_tiles_dask(spec, tiles, str(scratch), dask_address)
        if update:
            update(len(grid.windows(spec.block_size)))
    else:
        import multiprocessing as mp

        ctx = mp.get_context("spawn" if os.name == "nt" else "forkserver")
        with cf.ProcessPoolExecutor(max_workers=max(1, jobs), mp_context=ctx) as pool:
            futs = [pool.submit(_tile_task, spec, t, str(scratch)) for t in tiles]
            for f, t in zip(futs, tiles, strict=True):
                results.append(f.result())
                if update:
                    update(len(spec.grid.sub(t).windows(spec.block_size)))
    levels = overview_levels(grid, spec.block_size)
    cogs = _open_cogs(spec, scratch, levels)
    try:
        return _assemble_tiles(spec, results, cogs, levels, jobs)
    except BaseException:
        for c_ in cogs.values():
            c_.abort()
        raise


def _assemble_tiles(spec: _Spec, results: list, cogs: dict, levels: int, jobs: int):
    """Adopt the engine tiles' stores; build the overview levels that cross tiles."""
    from ._cog import encode_tile

    sums = None
    counters: dict = {"engine_tiles": len(results)}
    local = local_levels(spec, levels)
    upper = {n: None for n in spec.names}
    for (r, c), s, cnt, parts in results:
        if s is not None:
            sums = s if sums is None else sums + s
        _merge_counters(counters, cnt)
        for n, (paths, entries, up) in parts.items():
            cogs[n].adopt(paths, entries)
            if up is not None:  # this tile's share of level local + 1
                if upper[n] is None:
                    upper[n] = np.full(cogs[n].level_shape(local + 1), np.nan, np.float32)
                f = 2 ** (local + 1)
                upper[n][r // f: r // f + up.shape[0], c // f: c // f + up.shape[1]] = up
    if local < levels:
        half = _halver(spec.params)
        tile = cog_tile(spec.block_size)
        with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for n, a in upper.items():
                for k in range(local + 1, levels + 1):
                    futs = {(tr, tc): pool.submit(encode_tile, v, tile)
                            for tr, tc, v in _tiles(a, tile)}
                    for (tr, tc), fut in futs.items():
                        cogs[n].put(k, tr, tc, fut.result())
                    a = half(a)
    return sums, counters, cogs


def _warn_counters(c: dict, table_name: str) -> None:
    unk = c.get("unknown_classes")
    if unk:
        detail = ", ".join(f"{k}: {v} px" for k, v in sorted(unk.items()))
        warnings.warn(f"Land-cover class codes not in table {table_name} (written as nodata): "
                      f"{detail}. Add them to a custom [tables] landcover CSV.",
                      DataQualityWarning, stacklevel=3)
    if c.get("bad_fraction"):
        warnings.warn(f"{c['bad_fraction']} pixel(s) have a carbonate or dolomite fraction "
                      f"outside 0-1 and were written as nodata.", DataQualityWarning,
                      stacklevel=3)
    if c.get("negative_runoff"):
        warnings.warn(f"{c['negative_runoff']} pixel(s) have negative runoff; treated as 0.",
                      DataQualityWarning, stacklevel=3)
    for key, what in (("negative_carbonic_hco3", "karst"),
                      ("scenario_negative_carbonic_hco3", "scenario karst")):
        if c.get(key):
            warnings.warn(
                f"{c[key]} {what} pixel(s) have a negative carbonic-acid HCO3 (the "
                f"sulfuric/nitric-acid HCO3 of [model] so4_mmol_l / no3_mmol_l exceeds the "
                f"karst water's 2 x Ca_eq): karst sink written as nodata ({key} in "
                f"run.json). Check the SO4/NO3 values and the shares (evaporite_so4_share "
                f"for gypsum waters, acid_so4_share, acid_no3_share).",
                DataQualityWarning, stacklevel=3)
    if c.get("temp_clamped"):
        warnings.warn(f"{c['temp_clamped']} pixel(s) have temperatures outside the "
                      f"equilibrium table (0-40 °C); clamped to its edge.", OutOfRangeWarning,
                      stacklevel=3)
    if c.get("pco2_clamped"):
        warnings.warn(f"{c['pco2_clamped']} pixel(s) have soil pCO2 outside the equilibrium "
                      f"table (10^-5 to 1 atm); clamped to its edge.", OutOfRangeWarning,
                      stacklevel=3)


def _execute(spec: _Spec, scratch: Path, cfg: MapConfig, jobs: int, engine: str,
             dask: str | None, update, state: _State | None = None):
    """Run the chosen engine; return zone sums, counters and the per-output sources."""
    if dask:  # engine tiles of spec.tile_size (the config's)
        return _run_tiled(spec, scratch, jobs, dask_address=dask, update=update)
    if engine == "processes":
        # at least one engine tile per process: halve the tile (keeping it a multiple
        # of the block size) while the grid has fewer tiles than jobs
        ts = cfg.tile_size
        while (len(spec.grid.windows(ts)) < jobs and ts % 2 == 0
               and (ts // 2) % spec.block_size == 0):
            ts //= 2
        spec.tile_size = ts
        return _run_tiled(spec, scratch, jobs, update=update)
    sums, counters, cogs = _stream(spec, spec.grid, scratch, jobs, update, state)
    return sums, counters, cogs
