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
from typing import TYPE_CHECKING

import numpy as np

from ..exceptions import ConfigError
from ._coverage import coverage_counts
from .grid import AlignedSource, Grid, pixel_area_km2
from .model import (
    ModelParams,
    compute_block,
    karst_sources,
    lasting_bio,
    pressure_ratio,
    remap_classes,
    scenario_bio,
    soil_pco2_brook,
)

if TYPE_CHECKING:
    from ._draws import DrawSet
    from ._vector import VectorSource
    from .zones import ZoneSet

    #: an opened input: a raster, or polygons rasterised as covered fractions
    Source = AlignedSource | VectorSource

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
    zones: ZoneSet | None
    names: tuple[str, ...]  # outputs written
    tags: dict[str, str]
    block_size: int
    tile_size: int = 8192  # engine tiles of the processes / Dask engines [px]
    converts: dict | None = None  # input -> (a, b): model value = a x stored + b
    reads: dict | None = None  # input -> (bands, CRS to assume or None) (._sources)
    # series runs (:mod:`.series`): the model runs once per variant on the block's
    # inputs; ``inputs`` is then keyed by source key (``name`` or ``name@year``)
    variants: tuple = ()  # of Variant; () = a single run
    changes: tuple = ()  # of (label, label a, label b, outputs): b - a maps
    name_tags: dict | None = None  # output-name prefix -> extra COG tags (the year)
    draws: DrawSet | None = None  # the Monte Carlo draws ([uncertainty]) or None


@dataclass(frozen=True)
class Variant:
    """One model evaluation per block of a series run.

    ``label`` prefixes its outputs (``"2000"`` -> ``2000/karst``); ``keys`` maps each
    model input name to the source key it reads (``"runoff"`` -> ``"runoff@2000"``);
    ``write``: its maps are written (False: zone sums only, attribution variants).
    """

    label: str
    keys: dict
    write: bool = True


class _State:
    """Per-process open sources for a spec (``sources``: already opened ones to reuse)."""

    def __init__(self, spec: _Spec, sources: dict | None = None):
        self.spec = spec
        self.sources = sources if sources is not None else open_keyed(spec)
        for s in self.sources.values():
            s.use_numba = spec.params.use_numba


def _open_sources(inputs: dict, grid: Grid, converts: dict | None = None,
                  reads: dict | None = None) -> dict[str, Source]:
    # a vector input (polygons rasterised as covered fractions) has a ._vector read path
    from ._vector import VectorSource, is_vector_path

    converts, reads = converts or {}, reads or {}
    return {k: VectorSource(v, grid, k) if is_vector_path(v) else
            AlignedSource(v, grid, k, "classes" if k == "landcover" else "continuous",
                          converts.get(k, (1.0, 0.0)), *reads.get(k, ((1,), None)))
            for k, v in inputs.items()}


def open_keyed(spec: _Spec) -> dict[str, Source]:
    """The sources of a spec; series keys ``name@year`` open as input ``name``."""
    if not spec.variants:
        return _open_sources(spec.inputs, spec.grid, spec.converts, spec.reads)
    conv, rd = spec.converts or {}, spec.reads or {}
    out = {}
    for key, path in spec.inputs.items():
        name = key.split("@")[0]
        one = {name: conv[key]} if key in conv else None
        two = {name: rd[key]} if key in rd else None
        out[key] = _open_sources({name: path}, spec.grid, one, two)[name]
    return out


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
    dx: np.ndarray | float  # per row on a geographic grid (metres per degree of longitude)
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


def model_inputs(raw: dict[str, np.ndarray], p: ModelParams) -> dict[str, np.ndarray]:
    """The model's inputs (:func:`~.model.compute_block`) from one block of the raw
    inputs: runoff from P - ET, soil pCO2 from AET (Brook et al. 1983), the pressure
    ratio from the DEM, the biological sink from NEP or NPP x the NEP/NPP ratio, x the
    class's ``nep_factor`` (:func:`~.model.lasting_bio`)."""
    codes, valid = raw["landcover"]
    src = karst_sources(raw, p.pco2_volume_fraction)
    inp: dict[str, np.ndarray] = {"landcover": codes, "landcover_valid": valid,
                                  "carbonate": raw["carbonate"],
                                  "temperature": raw["temperature"]}
    if src["runoff"] == ("runoff",):
        inp["runoff"] = raw["runoff"]
    else:
        inp["runoff"] = np.maximum(raw["precipitation"] - raw["evapotranspiration"],
                                   np.float32(0))
    (pco2_from,) = src["pco2_ppmv"]
    if pco2_from == "soil_pco2":
        inp["pco2_ppmv"] = raw["soil_pco2"]
    elif pco2_from not in raw:  # the configuration refuses this; a direct caller gets one line
        raise ConfigError("[inputs] soil pCO2 from AET (Brook et al. 1983) needs aet "
                          "or evapotranspiration (mm/yr); add one, or soil_pco2.")
    else:
        inp["pco2_ppmv"] = soil_pco2_brook(raw[pco2_from].astype(np.float64)
                                           ).astype(np.float32)
    if "dolomite_fraction" in src:
        inp["dolomite_fraction"] = raw["dolomite_fraction"]
    if "pressure_ratio" in src:
        inp["pressure_ratio"] = pressure_ratio(raw["dem"]).astype(np.float32)
    # net ecosystem production (or net primary production x the NEP/NPP ratio), x the
    # class's share of it that lasts (nep_factor: cropland 0, harvested within the year)
    if "nep" in raw:
        inp["bio"] = lasting_bio(raw["nep"], codes, valid, p.nep_factor)
    elif "npp" in raw:
        inp["bio"] = lasting_bio(raw["npp"] * np.float32(p.npp_to_nep), codes, valid,
                                 p.nep_factor)
    return inp


def _zone_layers(spec: _Spec, window) -> list:
    zs = spec.zones
    # one layer of non-overlapping zones at a time (nested zones: several layers)
    return [zs.block_zones(window, spec.grid.transform, k) for k in range(zs.n_layers)] \
        if zs is not None else [None]


def _sums(spec: _Spec, layers: list, area_row: np.ndarray, carbonate: np.ndarray,
          vals: list, total: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """Zone sums and whole-grid sums of one block's ``vals`` (t C km-2 yr-1 x km2)."""
    p = spec.params
    zs = spec.zones
    uf = 1.0 / p.unit_factor  # zone and grid sums always in t C
    sums: np.ndarray | None = None
    if p.use_numba:
        from ._kernel import zone_sums

        for zones in layers:  # zones is None exactly when zs is ([None])
            zsum, gsum = zone_sums(zones, zs.n if zs is not None else 0, area_row,
                                   carbonate, vals, uf)
            if zones is not None:
                sums = zsum if sums is None else sums + zsum
    else:
        from .zones import grid_sums, sum_quantities

        qs = sum_quantities(area_row, carbonate, vals, total, uf)
        gsum = grid_sums(qs)
        if zs is not None:
            for zones in layers:
                zsum = zs.accumulate(zones, qs)
                sums = zsum if sums is None else sums + zsum
    return sums, gsum


def _sums_variants(spec: _Spec, layers: list, area_row: np.ndarray,
                   models: list) -> list[tuple[np.ndarray | None, np.ndarray]]:
    """:func:`_sums` of each ``(carbonate, vals, total)`` of a series block's variants;
    with numba, the variants on the same carbonate array are summed in one pass over
    the zone runs (same sums as one by one)."""
    if not spec.params.use_numba or len(models) < 2 or any(
            m[0] is not models[0][0] or len(m[1]) != len(models[0][1]) for m in models):
        return [_sums(spec, layers, area_row, *m) for m in models]
    from ._kernel import zone_sums

    zs = spec.zones
    uf = 1.0 / spec.params.unit_factor
    flat = [v for m in models for v in m[1]]
    sums: np.ndarray | None = None
    for zones in layers:  # zones is None exactly when zs is ([None])
        zsum, gsum = zone_sums(zones, zs.n if zs is not None else 0, area_row,
                               models[0][0], flat, uf, groups=len(models))
        if zones is not None:
            sums = zsum if sums is None else sums + zsum
    return [(None if sums is None else sums[g], gsum[g]) for g in range(len(models))]


def _common_coverage(models: list) -> list[tuple]:
    """``(carbonate, summed fields, total)`` of each variant of a series block, the fields
    NaN wherever any variant's total is nodata: every year (and attribution variant) is
    summed over the same pixels, so a change compares like with like and never counts a
    pixel that is nodata in one year only as a change of sink."""
    totals = [m[0]["total"] for m in models]
    common = np.zeros(totals[0].shape, bool)
    for t in totals:
        common |= np.isnan(t)
    if not any((common & ~np.isnan(t)).any() for t in totals):  # one coverage already
        return [(m[2]["carbonate"], m[1], m[0]["total"]) for m in models]
    out = []
    for m in models:
        vals = [np.where(common, np.float32(np.nan), v) for v in m[1]]
        out.append((m[2]["carbonate"], vals, vals[2]))
    return out


def _model_variant(state: _State, window, raw: dict, keys: dict | None
                   ) -> tuple[dict, list, dict, dict]:
    """The model and its scenario on one block (``keys``: model input -> source key of
    a series variant; None: the inputs themselves): outputs, the fields summed by
    zone, the model inputs and the counters."""
    p = state.spec.params
    rv = raw if keys is None else {n: raw[k] for n, k in keys.items()}
    inp = model_inputs(rv, p)
    codes, valid = inp["landcover"], inp["landcover_valid"]
    out, counters = compute_block(inp, p)
    counters.update(coverage_counts(rv, out["total"], p.pco2_volume_fraction))
    if p.transitions:
        slope = _halo_slope(state, window) if "dem" in state.sources else None
        new_codes = remap_classes(codes, valid, slope, p.transitions)
        scen_inp = inp
        if "bio" in inp:  # a changed pixel takes its new class's table sink
            scen_inp = {**inp, "bio": scenario_bio(inp["bio"], codes, new_codes, p.bio_sink)}
        scen, scen_counters = compute_block(scen_inp, p, codes=new_codes)
        counters["scenario_negative_carbonic_hco3"] = scen_counters["negative_carbonic_hco3"]
        out["scenario_total"] = scen["total"]
        out["scenario_difference"] = scen["total"] - out["total"]
    vals = [out["karst"], out["bio"], out["total"]]
    if p.transitions:
        vals += [out["scenario_total"], out["scenario_difference"]]
    return out, vals, inp, counters


def _reused_model(state: _State, raw: dict, v: Variant, years: list) -> tuple | None:
    """A zone-sums-only variant (an attribution's mixed years) from a year's model.

    Where every input the variant takes from another source than year ``Y`` has the
    same value in both (the land cover did not change between the two years, say),
    the variant's inputs are year ``Y``'s at that pixel, and the model, pixel by pixel,
    gives the same values: those pixels are copied from the year with the most of them,
    and the model runs only on the others (gathered into one row).  None when no year
    agrees on at least half of the block, or with a scenario (its slope rule reads a
    pixel's neighbours).  ``years``: ``(Variant, _model_variant result)`` of the
    block's years.
    """
    p = state.spec.params
    if p.transitions or v.write or not years:
        return None
    best = None
    for y, m in years:
        same = np.ones(m[0]["total"].shape, bool)
        for n, key in v.keys.items():
            other = y.keys[n]
            if key == other:
                continue
            a, b = raw[key], raw[other]
            if isinstance(a, tuple):  # land cover: (codes, valid)
                same &= (a[0] == b[0]) & (a[1] == b[1])
            else:  # NaN differs from NaN: such a pixel is computed, not copied
                same &= a == b
        changed = same.size - int(np.count_nonzero(same))
        if best is None or changed < best[0]:
            best = (changed, m, same)
    assert best is not None  # years is not empty
    changed, (out_y, _, _, _), same = best
    if 2 * changed > same.size:
        return None
    out = dict(out_y)
    if changed:
        idx = np.flatnonzero(~same)
        rv: dict = {n: ((raw[k][0].reshape(-1)[idx][None], raw[k][1].reshape(-1)[idx][None])
                  if isinstance(raw[k], tuple) else np.ravel(raw[k])[idx][None])
                    for n, k in v.keys.items()}
        sub, _ = compute_block(model_inputs(rv, p), p)
        for k, a in out_y.items():
            out[k] = a.copy()
            out[k].reshape(-1)[idx] = sub[k].reshape(-1)
    lc = raw[v.keys["landcover"]]
    inp = {"carbonate": raw[v.keys["carbonate"]], "landcover_valid": lc[1]}
    return out, [out["karst"], out["bio"], out["total"]], inp, {}


def _variant_counters(state: _State, window, inp: dict, layers: list, area_row: np.ndarray,
                      keys: dict | None, counters: dict, gsum: np.ndarray,
                      draws: bool) -> None:
    """A variant's grid totals, its Monte Carlo draws (with ``draws`` and
    ``[uncertainty]``: the subsample sums of :mod:`._draws`, and with ``sd_raster`` the
    block's piece of the sd raster as a one-item list ``draw_sd``, merged by the
    executor into the list of every block's piece) and its float land cover."""
    spec = state.spec
    # whole-grid totals: area, carbonate area [km2]; karst, biological, total [t C yr-1]
    # and the nodata area [km2]
    counters["grid_totals"] = gsum[[0, 1, 3, 4, 5, 2]]
    if spec.draws is not None and draws:
        from ._draws import block_draws

        counters["draws"], piece = block_draws(state, inp, spec.params, layers, area_row,
                                               window)
        if piece is not None:
            counters["draw_sd"] = [piece]
    lc_key = "landcover" if keys is None else keys["landcover"]
    if state.sources[lc_key].dtype.startswith("float"):
        counters["landcover_float_px"] = int(np.count_nonzero(inp["landcover_valid"]))


def _process_window(state: _State, window) -> tuple[dict, np.ndarray | None, dict]:
    """Read, model, zone-sum and encode one block.

    Returns ``({output: (encoded tiles, overview pieces)}, zone sums, counters)``
    with tiles as ``(tile row, tile column, bytes)`` relative to the block.  In a
    series run (``spec.variants``) every input is read once and the model runs per
    variant: the zone sums are stacked ``(variants, quantities, zones)``, the counters
    of each variant are under ``counters["variants"][label]``, and the outputs are
    named ``<label>/<output>`` (and ``change/<pair>/<output>`` for the change maps).
    """
    spec = state.spec
    raw = read_group(state.sources, window)
    area_row = pixel_area_km2(spec.grid, int(window.row_off), int(window.height))[:, 0]
    layers = _zone_layers(spec, window)
    if not spec.variants:
        out, vals, inp, counters = _model_variant(state, window, raw, None)
        sums, gsum = _sums(spec, layers, area_row, inp["carbonate"], vals, out["total"])
        _variant_counters(state, window, inp, layers, area_row, None, counters, gsum, True)
    else:
        out, counters = {}, {"variants": {}}
        per: list[np.ndarray] = []  # each variant's zone sums (none without zones)
        by_label = {}
        models: list[tuple] = []
        years: list[tuple] = []
        for v in spec.variants:  # the years first, then the attribution's mixed years
            m = _reused_model(state, raw, v, years)
            if m is None:
                m = _model_variant(state, window, raw, v.keys)
            if v.write:
                years.append((v, m))
            models.append(m)
        del years
        common = _common_coverage(models)
        summed = _sums_variants(spec, layers, area_row, common)
        for v, m, cm, (s, g) in zip(spec.variants, models, common, summed, strict=True):
            o, _, inp, c = m
            own = g  # the year's own grid totals (its run.json, as a single run of it gives)
            if cm[1] is not m[1]:  # where its coverage is not the common one of the sums
                from .zones import grid_sums, sum_quantities

                own = grid_sums(sum_quantities(area_row, inp["carbonate"], m[1], o["total"],
                                               1.0 / spec.params.unit_factor))
            c["grid_totals_own"] = own[[0, 1, 3, 4, 5, 2]]
            _variant_counters(state, window, inp, layers, area_row, v.keys, c, g, v.write)
            if s is not None:
                per.append(s)
            counters["variants"][v.label] = c
            if v.write:
                by_label[v.label] = o
                out.update({f"{v.label}/{k}": a for k, a in o.items()})
        del models
        for label, a, b, names in spec.changes:  # change maps: year b minus year a
            for k in names:
                out[f"change/{label}/{k}"] = by_label[b][k] - by_label[a][k]
        sums = np.stack(per) if spec.zones is not None else None
    counters["stats"], arrays = _encode(spec, out)
    return arrays, sums, counters


def _encode(spec: _Spec, out: dict) -> tuple[dict, dict]:
    """Band statistics and ``(encoded tiles, overview pieces)`` of every output."""
    from ._cog import encode_tile

    levels = overview_levels(spec.grid, spec.block_size)
    arrays = {}
    half = _halver(spec.params)
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
    return stats, arrays


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


def read_group(sources: dict[str, Source], window) -> dict[str, np.ndarray]:
    """Read several inputs for one window; continuous fields sampled from the same source
    grid share one bilinear pass (same values as reading them one by one)."""
    out: dict[str, np.ndarray] = {}
    groups: dict[tuple, list[tuple[str, AlignedSource]]] = {}
    for name, src in sources.items():
        if (isinstance(src, AlignedSource) and src.mode == "sample"
                and src.kind == "continuous" and src._cache is not None and src.use_numba):
            groups.setdefault((src._grid_key, src.src_shape), []).append((name, src))
        else:
            out[name] = src.read(window)
    from ._sampling import bilinear_lattice

    h, w = int(window.height), int(window.width)
    r0, c0 = int(window.row_off), int(window.col_off)
    for members in groups.values():
        names = [n for n, _ in members]
        first = members[0][1]
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
        srcs = [src._slice_cache(fr0, fc0, fr1, fc1) for _, src in members]
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

