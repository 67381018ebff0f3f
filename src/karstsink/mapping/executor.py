"""The streaming map engine: block by block, threads, fused zone totals, COG output.

This module is the executor: the threaded pass with its ordered writer, the engine
tiles of the processes and Dask engines and their assembly; the block function is
:mod:`._block`, the set-up and the outputs :func:`karstsink.mapping.run.run_map`.

Design (measured by the karstsink developers on 2 cores): inputs are read per 512-px
block on the target grid (:mod:`karstsink.mapping.grid`), the model runs per
block in worker threads (GDAL, numba kernels and ISA-L release the GIL), and
the same workers compute the block's overview pieces and encode its output
tiles (floating-point predictor + DEFLATE, :mod:`karstsink.mapping._cog`).
One ordered writer appends the encoded tiles to scratch tile stores,
assembles the overview tiles from the blocks' pieces and hands each whole tile
back to the pool for encoding, and accumulates the zone sums; at the end each
output's tiles are laid out once as a Cloud-Optimised GeoTIFF (IFDs first,
smallest overview first, GDAL's structural metadata), a kernel copy of
already-compressed bytes.  GDAL's block cache is capped at 64 MB, so peak memory
does not grow with the raster size.  The blocks run in bands of four block rows,
each band column by column (:func:`stream_order`): an overview tile of levels 1
and 2 is complete within a few block columns, so an output holds a column of
partial tiles at those levels and one row of partial tiles above them, ~10 MB at
20,000 px width instead of the ~40 MB of full-width strips that row-major order
needs (a three-year series writes 15 maps: 0.5 GB instead of 1.1 GB peak at
340 Mpx).  A source stored in strips wider than 4,096 px keeps the row-major order,
so GDAL decodes each of its strips once.

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
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..io.atomic import peak_rss_mb
from ._block import (
    _halver,
    _process_window,
    _Spec,
    _State,
    _tiles,
    cog_tile,
    halve,
    overview_levels,
)
from .grid import Grid, apply_affine

if TYPE_CHECKING:  # annotations only (config imports the input parsers)
    from .config import MapConfig

# numba-compiled modules (_cog, _kernel, _sampling, zones) are imported where used, so
# that a map run can start its zone helper (mapping/_zone_io.py) before numba loads

__all__ = ["OUTPUT_META", "cog_tile", "halve", "local_levels", "output_meta",
           "overview_levels", "set_gdal_cache_max"]

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


def output_meta(name: str) -> tuple[str, str, str, str]:
    """``(file path relative to the output folder without .tif, description, C-unit,
    CO2-unit)`` of an output; series outputs are ``<year>/<output>`` (the single run's
    file in the year's folder) and ``change/<a>_<b>/<output>`` (``<stem>_change``)."""
    head, _, base = name.rpartition("/")
    stem, desc, unit_c, unit_co2 = OUTPUT_META[base]
    if head.startswith("change/"):
        a, _, b = head[len("change/"):].partition("_")
        return f"{head}/{stem}_change", f"{desc}: {b} minus {a}", unit_c, unit_co2
    return (f"{head}/{stem}" if head else stem), desc, unit_c, unit_co2


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


def _merge_counters(acc: dict, c: dict) -> None:
    for k, v in c.items():
        if k in ("unknown_classes", "coverage_px", "missing_values"):  # {key: pixels}
            d = acc.setdefault(k, {})
            for code, n in v.items():
                d[code] = d.get(code, 0) + n
        elif k == "stats":  # band statistics per output
            from ._block import merge_stats

            merge_stats(acc.setdefault(k, {}), v)
        elif k == "variants":  # a series run: each variant's own counters
            for label, cv in v.items():
                _merge_counters(acc.setdefault(k, {}).setdefault(label, {}), cv)
        elif k in ("grid_totals", "grid_totals_own"):
            acc[k] = acc.get(k, 0) + v
        elif k == "draw_sd":  # the sd raster's pieces ([uncertainty] sd_raster): collected
            acc.setdefault(k, []).extend(v)
        elif k == "worker_peak_mb":  # engine tiles: the largest worker process
            acc[k] = max(acc.get(k, 0.0), v)
        else:
            acc[k] = acc.get(k, 0) + v


#: block rows per band of :func:`stream_order` (4 x 512 px: overview levels 1 and 2
#: complete inside a band; see the module notes)
BAND_BLOCKS = 4


def stream_order(windows: list, block_size: int, band_blocks: int = BAND_BLOCKS) -> list:
    """The order the map pass runs its blocks in: bands of ``band_blocks`` block rows,
    each band column by column (top to bottom within a column).

    An overview tile of level ``k`` covers ``2**k`` x ``2**k`` blocks: up to level
    ``log2(band_blocks)`` its pieces all arrive within a few block columns, so only
    a column of partial tiles is held instead of a strip of the grid's full width
    (:class:`_OverviewTiles`); higher levels hold one row of partial tiles (small).
    ``band_blocks=1`` is plain row-major order.
    """
    if band_blocks <= 1:
        return list(windows)
    band = block_size * band_blocks
    return sorted(windows, key=lambda w: (int(w.row_off) // band, int(w.col_off),
                                          int(w.row_off)))


class _OverviewTiles:
    """Collects one overview level's block pieces into whole tiles, in any block order.

    A tile is handed to ``emit(tile_row, tile_col, tile)`` as soon as its last pixel
    arrives, so each overview tile is encoded once, whole.  The blocks' pieces
    cover the level exactly once (block offsets are multiples of ``2**level``, edge
    pieces have the level's ceil size), so a tile is complete when the pixels
    received equal its size.  Memory: the tiles begun and not yet complete.
    """

    def __init__(self, level: int, tile: int, height: int, width: int,
                 emit: Callable[[int, int, np.ndarray], None]):
        self.f = 2**level
        self.tile = tile
        self.height, self.width = height, width
        self.emit = emit
        self.open: dict[tuple[int, int], list] = {}  # (row, col) -> [tile, pixels in]

    def add(self, piece: np.ndarray, window) -> None:
        t = self.tile
        r, c = int(window.row_off) // self.f, int(window.col_off) // self.f
        ph, pw = piece.shape
        for tr in range(r // t, (r + ph - 1) // t + 1):
            r0 = tr * t
            rows = min(t, self.height - r0)
            a0, a1 = max(r, r0), min(r + ph, r0 + rows)
            for tc in range(c // t, (c + pw - 1) // t + 1):
                c0 = tc * t
                cols = min(t, self.width - c0)
                b0, b1 = max(c, c0), min(c + pw, c0 + cols)
                entry = self.open.get((tr, tc))
                if entry is None:
                    # no fill: the pieces cover every tile exactly (see the class notes)
                    entry = self.open[(tr, tc)] = [np.empty((rows, cols), np.float32), 0]
                entry[0][a0 - r0:a1 - r0, b0 - c0:b1 - c0] = \
                    piece[a0 - r:a1 - r, b0 - c:b1 - c]
                entry[1] += (a1 - a0) * (b1 - b0)
                if entry[1] >= rows * cols:
                    del self.open[(tr, tc)]
                    self.emit(tr, tc, entry[0])

    def flush(self) -> None:
        """End of the pass: every tile must have been completed (and emitted)."""
        if self.open:
            raise RuntimeError(f"internal error: {len(self.open)} overview tile(s) of level "
                               f"{int(np.log2(self.f))} incomplete at the end of the pass")


def _open_cogs(spec: _Spec, folder: Path, levels: int) -> dict:
    """One :class:`StreamingCOG` per output (the threaded engine on the full grid)."""
    from ._cog import StreamingCOG

    grid = spec.grid
    cogs = {}
    extra = spec.name_tags or {}
    for name in spec.names:
        stem, desc, unit_c, unit_co2 = output_meta(name)
        unit = unit_co2 if spec.params.co2 else unit_c
        tags = {**spec.tags, **extra.get(name.rpartition("/")[0], {}), "units": unit}
        cogs[name] = StreamingCOG(
            grid.width, grid.height, levels, cog_tile(spec.block_size), folder / "tiles",
            crs=grid.crs, transform=grid.transform, tags=tags,
            band_tags={"units": unit, "quantity": name.rpartition("/")[2]}, description=desc,
            name=stem.replace("/", "_"))
    return cogs


def _stream(spec: _Spec, grid: Grid, folder: Path, jobs: int,
            progress: Callable[[int], None] | None = None, state: _State | None = None
            ) -> tuple[np.ndarray | None, dict, dict]:
    """Threaded streaming pass over ``grid`` (the full grid or an engine tile).

    Every output tile is encoded once, in the workers, into tile stores under
    ``folder``.  On the full grid the result is one :class:`StreamingCOG` per
    output, for :func:`.run._convert_all` to lay out; on an engine tile (a process or
    Dask worker) it is each output's detached stores with this tile's share of
    the first overview level that crosses engine tiles, for :func:`_run_tiled`.
    """
    from ._cog import encode_tile

    state = state if state is not None else _State(spec)
    # sources stored in wide strips are read row by row (a band would re-decode them)
    striped = any(getattr(s_, "wide_strips", False) and getattr(s_, "_cache", None) is None
                  for s_ in state.sources.values())
    windows = stream_order(grid.windows(spec.block_size), spec.block_size,
                           1 if striped else BAND_BLOCKS)
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

        def tile_encoder(c_, k):
            r_off = tile_off[0] // (2**k * tile)
            c_off = tile_off[1] // (2**k * tile)

            def emit(tile_row, tile_col, v):
                ovr_jobs.append((c_, k, r_off + tile_row, c_off + tile_col,
                                 pool.submit(encode_tile, v, tile)))
            return emit

        def collector(name, k):
            h, w = -(-grid.height // 2**k), -(-grid.width // 2**k)
            upper[name] = np.full((h, w), np.nan, np.float32)

            def emit(tile_row, tile_col, v):
                upper[name][tile_row * tile: tile_row * tile + v.shape[0],
                            tile_col * tile: tile_col * tile + v.shape[1]] = v
            return _OverviewTiles(k, tile, h, w, emit)

        outs = {}
        for n, c_ in cogs.items():
            strips: list[_OverviewTiles | None] = []  # None: a level built by the parent
            for k in range(1, levels + 1):
                if k <= local:
                    h, w = -(-grid.height // 2**k), -(-grid.width // 2**k)
                    strips.append(_OverviewTiles(k, tile, h, w, tile_encoder(c_, k)))
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
                        strip.flush()  # every tile of every level is complete
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


def _run_tiled(spec: _Spec, scratch: Path, jobs: int, dask_address: str | None = None,
               update=None):
    grid = spec.grid
    tiles = grid.windows(spec.tile_size)
    results = []
    if dask_address:
        from .dask_engine import run_tiles_dask

        results = run_tiles_dask(spec, tiles, str(scratch), dask_address, _tile_task)
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
    upper: dict[str, np.ndarray | None] = {n: None for n in spec.names}
    for (r, c), s, cnt, parts in results:
        if s is not None:
            sums = s if sums is None else sums + s
        _merge_counters(counters, cnt)
        for n, (paths, entries, up) in parts.items():
            cogs[n].adopt(paths, entries)
            if up is not None:  # this tile's share of level local + 1
                level = upper[n]
                if level is None:
                    level = upper[n] = np.full(cogs[n].level_shape(local + 1), np.nan,
                                               np.float32)
                f = 2 ** (local + 1)
                level[r // f: r // f + up.shape[0], c // f: c // f + up.shape[1]] = up
    if local < levels:
        half = _halver(spec.params)
        tile = cog_tile(spec.block_size)
        with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for n, level_a in upper.items():
                # with local < levels every engine tile hands in its share of level
                # local + 1 (the collector of _stream), so none is missing
                assert level_a is not None
                a = level_a
                for k in range(local + 1, levels + 1):
                    futs = {(tr, tc): pool.submit(encode_tile, v, tile)
                            for tr, tc, v in _tiles(a, tile)}
                    for (tr, tc), fut in futs.items():
                        cogs[n].put(k, tr, tc, fut.result())
                    a = half(a)
    return sums, counters, cogs


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
