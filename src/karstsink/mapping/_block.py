"""One block of the map pass: the run's spec, per-process sources, the block function.

:func:`_process_window` reads one block of every input on the target grid, runs the
model (:mod:`karstsink.mapping.model`), sums it by zone and over the grid, averages
its overview pieces and encodes its output tiles; the executor
(:mod:`karstsink.mapping.executor`) runs it in worker threads and orders the results.
Also the COG tile geometry it shares with the executor (:func:`cog_tile`,
:func:`overview_levels`, :func:`halve`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .grid import AlignedSource, Grid, pixel_area_km2
from .model import (
    ModelParams,
    compute_block,
    pressure_ratio,
    remap_classes,
    scenario_bio,
    soil_pco2_brook,
)

# numba-compiled modules (_cog, _kernel) are imported where used, so that a map run
# can start its zone helper (mapping/_zone_io.py) before numba loads

__all__ = ["band_stats", "cog_tile", "halve", "merge_stats", "overview_levels"]


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
    converts: dict | None = None  # input -> (a, b): model value = a x stored + b
    reads: dict | None = None  # input -> (bands, CRS to assume or None) (._sources)


class _State:
    """Per-process open sources for a spec (``sources``: already opened ones to reuse)."""

    def __init__(self, spec: _Spec, sources: dict | None = None):
        self.spec = spec
        self.sources = sources if sources is not None else _open_sources(
            spec.inputs, spec.grid, spec.converts, spec.reads)
        for s in self.sources.values():
            s.use_numba = spec.params.use_numba


def _open_sources(inputs: dict, grid: Grid, converts: dict | None = None,
                  reads: dict | None = None) -> dict[str, AlignedSource]:
    converts, reads = converts or {}, reads or {}
    return {k: AlignedSource(v, grid, k, "classes" if k == "landcover" else "continuous",
                             converts.get(k, (1.0, 0.0)), *reads.get(k, ((1,), None)))
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
    zs = spec.zones
    # one layer of non-overlapping zones at a time (nested zones: several layers)
    layers = [zs.block_zones(window, spec.grid.transform, k) for k in range(zs.n_layers)] \
        if zs is not None else [None]
    vals = [out["karst"], out["bio"], out["total"]]
    if p.transitions:
        vals += [out["scenario_total"], out["scenario_difference"]]
    sums = None
    if p.use_numba:
        from ._kernel import zone_sums

        for zones in layers:
            zsum, gsum = zone_sums(zones, zs.n if zones is not None else 0, area_row,
                                   inp["carbonate"], vals, uf)
            if zones is not None:
                sums = zsum if sums is None else sums + zsum
    else:
        area = np.broadcast_to(area_row[:, None], out["total"].shape)
        carb = np.clip(np.nan_to_num(inp["carbonate"], nan=0.0), 0, 1)
        qs = [area, area * carb, area * np.isnan(out["total"])] + [v * area * uf for v in vals]
        gsum = np.array([float(np.nansum(q)) for q in qs])
        if zs is not None:
            sums = sum(zs.accumulate(zones, qs) for zones in layers)
    # whole-grid totals: area, carbonate area [km2]; karst, biological, total [t C yr-1]
    # and the nodata area [km2]
    counters["grid_totals"] = gsum[[0, 1, 3, 4, 5, 2]]
    if src["landcover"].dtype.startswith("float"):
        counters["landcover_float_px"] = int(np.count_nonzero(valid))
    from ._cog import encode_tile

    levels = overview_levels(spec.grid, spec.block_size)
    arrays = {}
    half = _halver(p)
    tile = cog_tile(spec.block_size)
    stats = {}
    for k in spec.names:
        pieces = []
        a = out[k]
        for _ in range(levels):
            a = half(a)
            pieces.append(a)
        # the block leaves this thread as encoded COG tiles (and its overview pieces)
        arrays[k] = ([(tr, tc, encode_tile(v, tile)) for tr, tc, v in _tiles(out[k], tile)],
                     pieces)
        # band statistics from overview level <= 3 (1/64 of the pixels: no cost)
        stats[k] = band_stats(pieces[min(levels, _STATS_LEVEL) - 1] if levels else out[k])
    counters["stats"] = stats
    return arrays, sums, counters


_STATS_LEVEL = 3  # the overview level the band statistics are taken from (at most)


def band_stats(a: np.ndarray) -> np.ndarray:
    """``[count, sum, sum of squares, min, max]`` of the finite values of ``a`` (float64);
    merged over blocks by :func:`merge_stats`."""
    v = a[np.isfinite(a)].astype(np.float64)
    if v.size == 0:
        return np.array([0.0, 0.0, 0.0, np.inf, -np.inf])
    return np.array([v.size, v.sum(), np.dot(v, v), v.min(), v.max()])


def merge_stats(acc: dict, stats: dict) -> None:
    """Merge blocks' :func:`band_stats` (output name -> array) into ``acc``."""
    for k, v in stats.items():
        a = acc.get(k)
        acc[k] = v.copy() if a is None else np.r_[a[:3] + v[:3], min(a[3], v[3]),
                                                  max(a[4], v[4])]


def read_group(sources: dict[str, AlignedSource], window) -> dict[str, np.ndarray]:
    """Read several inputs for one window; continuous fields sampled from the same source
    grid share one bilinear pass (same values as reading them one by one)."""
    out: dict[str, np.ndarray] = {}
    groups: dict[tuple, list[str]] = {}
    for name, src in sources.items():
        if (src.mode == "sample" and src.kind == "continuous" and src._cache is not None
                and src.use_numba):
            groups.setdefault((src._grid_key, src.src_shape), []).append(name)
        else:
            out[name] = src.read(window)
    from ._sampling import bilinear_lattice

    h, w = int(window.height), int(window.width)
    r0, c0 = int(window.row_off), int(window.col_off)
    for names in groups.values():
        first = sources[names[0]]
        lattice, (rmin, rmax, cmin, cmax) = first.source_lattice(r0, c0, h, w)
        sh, sw = first.src_shape
        if rmax < 0 or cmax < 0 or rmin >= sh or cmin >= sw:
            for n in names:
                out[n] = first._empty(h, w)
            continue
        fr0 = min(max(int(np.floor(rmin)) - 1, 0), sh - 1)
        fc0 = min(max(int(np.floor(cmin)) - 1, 0), sw - 1)
        fr1 = max(min(int(np.floor(rmax)) + 2, sh), fr0 + 1)
        fc1 = max(min(int(np.floor(cmax)) + 2, sw), fc0 + 1)
        srcs = [sources[n]._slice_cache(fr0, fc0, fr1, fc1) for n in names]
        for n, arr in zip(names, bilinear_lattice(srcs, lattice, fr0, fc0, sh, sw, h, w),
                          strict=True):
            out[n] = arr
    return out


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

