"""The streaming map engine: block by block, threads, fused zone totals, COG output.

Design (measured, design.md "The map engine"): inputs are read per 512-px
block on the target grid (:mod:`karstsink.mapping.grid`), the model runs per
block in worker threads (GDAL and numpy release the GIL), one ordered writer
streams float32 tiles into tiled GeoTIFFs (DEFLATE level 1, floating-point
predictor, GDAL compression threads) while zone sums are accumulated from the
same blocks, and GDAL's COG driver finally converts each GeoTIFF into a
Cloud-Optimised GeoTIFF with overviews.  GDAL's block cache is capped at
64 MB, so peak memory does not grow with the raster size.

``engine="processes"`` and the Dask path split the grid into large tiles
(``tile_size`` px): each worker runs the same streaming pass over its tile and
writes its own GeoTIFFs; zone sums come back as small vectors; a VRT over the
tiles becomes the COG.  Results are identical to the threaded engine because
the model is evaluated pixel by pixel with the same code.

Measured (benchmarks/bench_map.py, 2 shared cores, load 1-2): 67 Mpx in 15.3 s against an
I/O floor of 2.5 s; 340 Mpx in 60.8 s against 15.1 s (map pass 39.5 s + COG 21.2 s); peak
memory 0.69-0.76 GB at both sizes.  What helped: overview levels averaged per block in the
map pass and handed to the COG driver through a VRT (GDAL computing them: 27 s instead of
10 s per 67 Mpx output under load), overview strips written as whole tile rows (partial
tiles: +4 s per 17 Mpx), uncompressed scratch tiles (the COG step encodes once), fused numba
kernels (approximate log/exp, shared bilinear weights, run-length zone sums).  Threads
against processes (tiles): a tie at 67 Mpx (15.3 s vs 15.4 s), threads ahead at 340 Mpx on a
quiet machine (60.8 s vs 66.9 s), processes ahead under heavy load from other jobs (75 s vs
92-122 s).  Threads stay the default (less memory, nothing pickled).
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
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from .._io import atomic_dir
from ..exceptions import ConfigError, DataQualityWarning, OutOfRangeWarning, RasterError
from ._cog import StreamingCOG, encode_tile
from .config import MapConfig
from .grid import AlignedSource, Grid, apply_affine, pixel_area_km2, read_group
from .model import ModelParams, compute_block, pressure_ratio, remap_classes, soil_pco2_brook

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
# zone quantities, in this order, per zone
ZONE_QUANTITIES = ("area_km2", "karst_area_km2", "nodata_area_km2", "karst_sink_t_c_yr",
                   "biological_sink_t_c_yr", "total_sink_t_c_yr",
                   "scenario_total_sink_t_c_yr", "scenario_difference_t_c_yr")
GTIFF_OPTIONS = {"driver": "GTiff", "tiled": True, "blockxsize": 512, "blockysize": 512,
                 "compress": "deflate", "zlevel": 1, "predictor": 3, "bigtiff": "if_safer"}
# Scratch GeoTIFFs are written uncompressed: GDAL's COG driver re-encodes every tile anyway.
# Measured on 67 Mpx float32 (2 cores, quiet machine): streaming DEFLATE level 1 +
# PREDICTOR=3 costs 2.1 CPU-s per output and makes the COG step 0.3-0.8 CPU-s slower than
# from an uncompressed source (at the price of 4 bytes of scratch disk per pixel and output).
# KARSTSINK_SCRATCH_COMPRESS=deflate streams DEFLATE scratch files (less disk).
SCRATCH_COMPRESS = os.environ.get("KARSTSINK_SCRATCH_COMPRESS", "none").lower()


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
    zonal : pandas.DataFrame or None
        The zone table as written to ``zonal_totals.csv``.
    counters : dict
        Pixel counts of flagged conditions.
    """

    out_dir: Path
    files: list[str]
    totals: dict
    zonal: object = None
    counters: dict = field(default_factory=dict)


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


class _State:
    """Per-process open sources for a spec."""

    def __init__(self, spec: _Spec):
        self.spec = spec
        self.sources = {
            k: AlignedSource(v, spec.grid, k, "classes" if k == "landcover" else "continuous")
            for k, v in spec.inputs.items()
        }
        for s in self.sources.values():
            s.use_numba = spec.params.use_numba
        self.encode_tile = 0  # > 0: _process_window returns encoded COG tiles of this size


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
    """Read, model and zone-sum one block."""
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
    for k in ("npp", "nep"):
        if k in raw:
            inp["bio"] = raw[k]
    out, counters = compute_block(inp, p)
    if p.transitions:
        slope = _halo_slope(state, window) if "dem" in src else None
        new_codes = remap_classes(codes, valid, slope, p.transitions)
        scen, _ = compute_block(inp, p, codes=new_codes)
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
    levels = overview_levels(spec.grid, spec.block_size)
    arrays = {}
    if p.use_numba:
        from ._kernel import halve_nb as half
    else:
        half = halve
    tile = state.encode_tile
    for k in spec.names:
        pieces = []
        a = out[k]
        for _ in range(levels):
            a = half(a)
            pieces.append(a)
        if tile:  # streaming COG: the block leaves this thread as encoded tiles
            full = out[k]
            h, w = full.shape
            enc = [(r // tile, c // tile, encode_tile(full[r:r + tile, c:c + tile], tile))
                   for r in range(0, h, tile) for c in range(0, w, tile)]
            arrays[k] = (enc, pieces)
        else:
            arrays[k] = (out[k], pieces)
    return arrays, sums, counters


def _merge_counters(acc: dict, c: dict) -> None:
    for k, v in c.items():
        if k == "unknown_classes":
            d = acc.setdefault(k, {})
            for code, n in v.items():
                d[code] = d.get(code, 0) + n
        elif k == "grid_totals":
            acc[k] = acc.get(k, 0) + v
        else:
            acc[k] = acc.get(k, 0) + v


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


class _OverviewStrips:
    """Collects one overview level's block pieces into full tile rows ("strips").

    Blocks arrive in row-major order; a strip is handed to ``emit(tile_row, strip)``
    when the next one starts (and by :meth:`flush`), so tiles are written whole
    (GDAL's read-modify-write of partially written tiles cost 4 s of a 7 s pass).
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
            self.strip = np.full((rows, self.width), np.nan, np.float32)
            self.strip_row = tr
        rr = r - tr * self.tile
        self.strip[rr: rr + piece.shape[0], c: c + piece.shape[1]] = piece

    def flush(self) -> None:
        if self.strip is not None:
            self.emit(self.strip_row, self.strip)
            self.strip = None


def _gtiff_strip_writer(dst) -> Callable[[int, np.ndarray], None]:
    from rasterio.windows import Window

    def emit(tile_row: int, strip: np.ndarray) -> None:
        tile = dst.block_shapes[0][0]
        dst.write(strip, 1, window=Window(0, tile_row * tile, dst.width, strip.shape[0]))
    return emit


def _open_outputs(spec: _Spec, grid: Grid, folder: Path, levels: int) -> dict:
    import rasterio

    dsts = {}
    tile = cog_tile(spec.block_size)
    for name in spec.names:
        stem, desc, unit_c, unit_co2 = OUTPUT_META[name]
        unit = unit_co2 if spec.params.co2 else unit_c
        opts = {**GTIFF_OPTIONS, "blockxsize": tile, "blockysize": tile}
        if SCRATCH_COMPRESS == "none":
            for k in ("compress", "zlevel", "predictor"):
                opts.pop(k)
            opts["bigtiff"] = "yes" if grid.width * grid.height * 4 > 3.9e9 else "no"
        dst = rasterio.open(folder / f"{stem}.tif", "w", width=grid.width, height=grid.height,
                            count=1, dtype="float32", crs=grid.crs, transform=grid.transform,
                            nodata=float("nan"), num_threads=2, **opts)
        dst.set_band_description(1, desc)
        dst.update_tags(1, units=unit, quantity=name)
        dst.update_tags(**spec.tags, units=unit)
        ovrs = []
        for k in range(1, levels + 1):
            f = 2**k
            h, w = -(-grid.height // f), -(-grid.width // f)
            ods = rasterio.open(
                folder / f"{stem}.ovr{k}.tif", "w", driver="GTiff", tiled=True,
                blockxsize=tile, blockysize=tile, width=w, height=h, count=1,
                dtype="float32", crs=grid.crs,
                transform=grid.transform @ grid.transform.scale(f), nodata=float("nan"))
            ovrs.append((ods, _OverviewStrips(k, tile, h, w, _gtiff_strip_writer(ods))))
        dsts[name] = (dst, ovrs)
    return dsts


def _open_cogs(spec: _Spec, folder: Path, levels: int) -> dict:
    """One :class:`StreamingCOG` per output (the threaded engine on the full grid)."""
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
            progress: Callable[[int], None] | None = None, cog: bool = False
            ) -> tuple[np.ndarray | None, dict, dict | None]:
    """Threaded streaming pass over ``grid`` (the full grid or a tile).

    With ``cog`` (full grid only) the outputs become :class:`StreamingCOG` tile
    stores, returned for :func:`_convert_all` to lay out; otherwise GeoTIFFs
    (and overview GeoTIFFs) are written into ``folder``.
    """
    state = _State(spec)
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
    cogs = dsts = None
    with cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        ovr_jobs: list = []  # encoded overview tiles on their way to the stores
        if cog:
            state.encode_tile = tile
            cogs = _open_cogs(spec, folder, levels)

            def strip_encoder(c_, k):
                def emit(tile_row, strip):
                    for c0 in range(0, strip.shape[1], tile):
                        ovr_jobs.append((c_, k, tile_row, c0 // tile, pool.submit(
                            encode_tile, strip[:, c0:c0 + tile], tile)))
                return emit

            outs = {n: (c_, [_OverviewStrips(k, tile, *c_.level_shape(k), strip_encoder(c_, k))
                             for k in range(1, levels + 1)]) for n, c_ in cogs.items()}
        else:
            dsts = _open_outputs(spec, grid, folder, levels)
            outs = {n: (d, [o for _, o in ov]) for n, (d, ov) in dsts.items()}

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
                for name, (arr, pieces) in arrays.items():
                    dst, strips = outs[name]
                    if cog:
                        r0, c0 = int(full.row_off) // tile, int(full.col_off) // tile
                        for tr, tc, payload in arr:
                            dst.put(0, r0 + tr, c0 + tc, payload)
                    else:
                        dst.write(arr, 1, window=w)
                    for strip, piece in zip(strips, pieces, strict=True):
                        strip.add(piece, w)
                drain(False)
                if s is not None:
                    sums = s if sums is None else sums + s
                _merge_counters(counters, c)
                if progress:
                    progress(1)
            for _, strips in outs.values():
                for strip in strips:
                    strip.flush()  # the last strip of every level
            drain(True)
        except BaseException:
            for c_ in (cogs or {}).values():
                c_.abort()
            raise
        finally:
            for dst, ovrs in (dsts or {}).values():
                dst.close()
                for ods, _ in ovrs:
                    ods.close()
            for s_ in state.sources.values():
                s_.close()
    return sums, counters, cogs


def _tile_task(spec: _Spec, tile, folder: str, jobs: int = 1):
    """Run the streaming pass on one tile (a worker process or Dask task)."""
    set_gdal_cache_max(64)
    sub = spec.grid.sub(tile)
    out = Path(folder) / f"tile_{int(tile.row_off)}_{int(tile.col_off)}"
    out.mkdir(parents=True, exist_ok=True)
    sums, counters, _ = _stream(spec, sub, out, jobs)
    return str(out), (int(tile.row_off), int(tile.col_off), int(tile.height),
                      int(tile.width)), sums, counters


def _vrt_text(grid: Grid, parts: list[tuple[str, tuple]], filename: str, tags: dict,
              desc: str, unit: str, stem: str, factor: int = 1,
              overviews: list[str] | None = None) -> str:
    """A VRT mosaic of ``filename`` in each part folder, at 1/``factor`` resolution."""
    from xml.sax.saxutils import escape, quoteattr

    t = grid.transform @ grid.transform.scale(factor) if factor > 1 else grid.transform
    width, height = -(-grid.width // factor), -(-grid.height // factor)
    gt = ", ".join(repr(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e))
    srcs = []
    for folder, (r, c, h, w) in parts:
        r, c = r // factor, c // factor
        h, w = -(-h // factor), -(-w // factor)
        srcs.append(
            f"    <SimpleSource><SourceFilename relativeToVRT=\"0\">"
            f"{escape(str(Path(folder) / filename))}</SourceFilename>"
            f"<SourceBand>1</SourceBand><SrcRect xOff=\"0\" yOff=\"0\" xSize=\"{w}\" "
            f"ySize=\"{h}\"/><DstRect xOff=\"{c}\" yOff=\"{r}\" xSize=\"{w}\" "
            f"ySize=\"{h}\"/></SimpleSource>")
    for ov in overviews or []:
        srcs.append(f"    <Overview><SourceFilename relativeToVRT=\"0\">{escape(ov)}"
                    f"</SourceFilename><SourceBand>1</SourceBand></Overview>")
    md = "".join(f"<MDI key={quoteattr(k)}>{escape(str(v))}</MDI>" for k, v in tags.items())
    return (
        f"<VRTDataset rasterXSize=\"{width}\" rasterYSize=\"{height}\">\n"
        f"  <SRS>{escape(grid.crs.to_wkt())}</SRS>\n  <GeoTransform>{gt}</GeoTransform>\n"
        f"  <Metadata>{md}<MDI key=\"units\">{escape(unit)}</MDI></Metadata>\n"
        f"  <VRTRasterBand dataType=\"Float32\" band=\"1\">\n"
        f"    <NoDataValue>nan</NoDataValue><Description>{escape(desc)}</Description>\n"
        f"    <Metadata><MDI key=\"units\">{escape(unit)}</MDI>"
        f"<MDI key=\"quantity\">{escape(stem)}</MDI></Metadata>\n"
        + "\n".join(srcs) + "\n  </VRTRasterBand>\n</VRTDataset>\n")


def _output_vrts(spec: _Spec, scratch: Path, parts: list[tuple[str, tuple]]) -> dict:
    """One VRT per output over its tiles, with the precomputed overviews attached."""
    levels = overview_levels(spec.grid, spec.block_size)
    sources = {}
    for n in spec.names:
        stem, desc, unit_c, unit_co2 = OUTPUT_META[n]
        unit = unit_co2 if spec.params.co2 else unit_c
        ovs = []
        for k in range(1, levels + 1):
            ov = scratch / f"{stem}.ovr{k}.vrt"
            ov.write_text(_vrt_text(spec.grid, parts, f"{stem}.ovr{k}.tif", spec.tags, desc,
                                    unit, n, factor=2**k), encoding="utf-8")
            ovs.append(str(ov))
        vrt = scratch / f"{stem}.vrt"
        vrt.write_text(_vrt_text(spec.grid, parts, f"{stem}.tif", spec.tags, desc, unit, n,
                                 overviews=ovs), encoding="utf-8")
        sources[n] = vrt
    return sources


def to_cog(src: Path, dst: Path, threads: int = 2, blocksize: int = 512) -> None:
    """Convert a GeoTIFF or VRT into a COG (DEFLATE 1, predictor, tiles, overviews)."""
    from rasterio.shutil import copy as rio_copy

    rio_copy(str(src), str(dst), driver="COG", COMPRESS="DEFLATE", LEVEL=1, PREDICTOR="YES",
             BLOCKSIZE=blocksize, NUM_THREADS=str(threads), OVERVIEW_RESAMPLING="AVERAGE",
             OVERVIEWS="FORCE_USE_EXISTING", BIGTIFF="IF_SAFER")


# ----------------------------------------------------------------------------------------
# Set-up
# ----------------------------------------------------------------------------------------
def _prepare(cfg: MapConfig, co2: bool) -> tuple[_Spec, dict]:
    from ..chemistry.database import phreeqc_version, resolve_database
    from ..chemistry.equilibrium import equilibrium_table
    from .landcover import guess_table, load_landcover_table
    from .zones import load_zones

    grid = Grid.from_raster(cfg.grid_like or cfg.inputs["landcover"])
    if grid.width * grid.height == 0:
        raise RasterError("The target grid is empty.")
    # open every input once here so that missing CRS / no overlap fail before any output
    for k, v in cfg.inputs.items():
        AlignedSource(v, grid, k, "classes" if k == "landcover" else "continuous")
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
    params = ModelParams(
        pco2_factor=lct.lookup("soil_pco2_factor"), runoff_factor=lct.lookup("runoff_factor"),
        acid_share=lct.lookup("acid_so4_share"), bio_sink=lct.lookup("biological_sink_tc_km2_yr"),
        calcite=calc.kernel_arrays(), dolomite=dol.kernel_arrays() if dol else None,
        acid_correction=cfg.acid_correction, co2=co2, outputs=cfg.outputs,
        rock_density=cfg.rock_density_t_m3, transitions=cfg.transitions, use_numba=use_numba)
    zones = None
    if cfg.zones_path is not None:
        zones = load_zones(cfg.zones_path, cfg.zones_field, grid.crs, cfg.zones_layer)
    names = ["karst", "bio", "total", *cfg.outputs]
    if cfg.transitions:
        names += ["scenario_total", "scenario_difference"]
    db = resolve_database(cfg.database)
    params_doc = {
        "system": cfg.system, "landcover_table": str(lct.name), "co2_units": co2,
        "acid_correction": cfg.acid_correction, "rock_density_t_m3": cfg.rock_density_t_m3,
        "inputs": {k: str(v) for k, v in cfg.inputs.items()},
        "soil_pco2": "raster" if "soil_pco2" in cfg.inputs else "Brook et al. 1983 from AET",
        "pressure_correction": "dem" in cfg.inputs,
        "scenario": {"name": cfg.scenario_name, "transitions": cfg.transitions}
        if cfg.transitions else None,
        "equilibrium_grid": {"temp_c": list(calc.temp_range),
                             "log_pco2": list(calc.log_pco2_range)},
    }
    tags = {
        "karstsink_version": __version__,
        "phreeqc_version": phreeqc_version(),
        "phreeqc_database": db.name,
        "phreeqc_database_sha256": db.sha256,
        "karstsink_parameters": json.dumps(params_doc, sort_keys=True),
        "non_karst_pixels": "0 (carbonate fraction 0); nodata only where an input is nodata",
    }
    spec = _Spec(grid=grid, inputs={k: str(v) for k, v in cfg.inputs.items()}, params=params,
                 zones=zones, names=tuple(names), tags=tags, block_size=cfg.block_size)
    return spec, {"landcover_table": lct, "params_doc": params_doc, "database": db}


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
        dolomite fractions outside 0-1, negative runoff.
    OutOfRangeWarning
        Temperatures or soil pCO2 outside the equilibrium table (clamped).
    """
    set_gdal_cache_max(64)
    co2 = cfg.co2 if co2 is None else co2
    jobs = jobs or cfg.jobs or min(os.cpu_count() or 1, 8)
    engine = engine or cfg.engine
    dask = dask or cfg.dask_address
    spec, extra = _prepare(cfg, co2)
    grid = spec.grid
    if quicklook:  # matplotlib's import (~1 s) overlaps the map pass instead of following it
        from ..plots.maps import prefetch

        threading.Thread(target=prefetch, daemon=True, name="karstsink-prefetch").start()
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        scratch = Path(tempfile.mkdtemp(prefix=".karstsink-map-", dir=tmp.parent))
        try:
            nblocks = len(grid.windows(spec.block_size))
            update = progress(nblocks, "map blocks") if progress else None
            with warnings.catch_warnings():
                # rasterio's in-memory rasterize dataset announces its (not yet set)
                # geotransform when called from worker threads; the result is correct
                from rasterio.errors import NotGeoreferencedWarning

                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                sums, counters, sources = _execute(spec, scratch, cfg, jobs, engine, dask,
                                                   update)
            _convert_all(spec, sources, tmp, jobs)
            files = [f"{OUTPUT_META[n][0]}.tif" for n in spec.names]
            zonal = None
            if spec.zones is not None:
                zonal = _write_zonal(spec, sums, tmp, co2)
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
            run_doc = {
                "karstsink_version": __version__, "parameters": extra["params_doc"],
                "database": extra["database"].as_dict(),
                "phreeqc_version": spec.tags["phreeqc_version"],
                "grid": {"crs": grid.crs.to_string(), "transform": list(grid.transform)[:6],
                         "width": grid.width, "height": grid.height},
                "totals": totals,
                "flags": {k: v for k, v in counters.items() if k != "grid_totals"},
                "files": files,
            }
            (tmp / "run.json").write_text(json.dumps(run_doc, indent=2, default=_jsonable),
                                          encoding="utf-8")
            files.append("run.json")
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return MapResult(out_dir=out_dir, files=files, totals=totals, zonal=zonal,
                     counters=counters)


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def _convert_all(spec: _Spec, sources: dict, out: Path, jobs: int) -> None:
    """Write every output COG into ``out``: lay out streamed tiles, or convert a VRT."""
    names = list(spec.names)

    def finish(n):
        dst = out / f"{OUTPUT_META[n][0]}.tif"
        src = sources[n]
        if isinstance(src, StreamingCOG):
            src.close(dst)
        else:
            to_cog(src, dst, 1, cog_tile(spec.block_size))

    with cf.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(names)))) as pool:
        for f in [pool.submit(finish, n) for n in names]:
            f.result()


def _run_tiled(spec: _Spec, scratch: Path, tile_size: int, jobs: int,
               dask_address: str | None = None, update=None):
    grid = spec.grid
    tiles = grid.windows(tile_size)
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
    sums = None
    counters: dict = {}
    parts = []
    for folder, rect, s, c in results:
        parts.append((folder, rect))
        if s is not None:
            sums = s if sums is None else sums + s
        _merge_counters(counters, c)
    sources = _output_vrts(spec, scratch, parts)
    return sums, counters, sources


def _write_zonal(spec: _Spec, sums: np.ndarray, out: Path, co2: bool):
    import pandas as pd

    zones = spec.zones
    nq = sums.shape[0]
    cols = list(ZONE_QUANTITIES[:nq])
    df = pd.DataFrame(sums[:, 1:].T, columns=cols)
    df.insert(0, zones.field, zones.labels)
    df = df.groupby(zones.field, sort=False, as_index=False).sum()
    total = df[cols].sum().to_frame().T
    total.insert(0, zones.field, "TOTAL (all zones)")
    table = pd.concat([df, total], ignore_index=True)
    if co2:
        for c in cols:
            if c.endswith("_t_c_yr"):
                table[c.replace("_t_c_yr", "_t_co2_yr")] = table[c] * 3.664
    # ``out`` is the run's atomic temporary folder: files appear together or not at all
    table.to_csv(out / "zonal_totals.csv", index=False)
    gdf = zones.gdf[[zones.field, "geometry"]].dissolve(by=zones.field, as_index=False,
                                                        sort=False)
    gdf = gdf.merge(df, on=zones.field, how="left")
    gdf.to_file(out / "zonal_totals.gpkg", driver="GPKG", layer="zonal_totals")
    return table


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
    if c.get("temp_clamped"):
        warnings.warn(f"{c['temp_clamped']} pixel(s) have temperatures outside the "
                      f"equilibrium table (0-40 °C); clamped to its edge.", OutOfRangeWarning,
                      stacklevel=3)
    if c.get("pco2_clamped"):
        warnings.warn(f"{c['pco2_clamped']} pixel(s) have soil pCO2 outside the equilibrium "
                      f"table (10^-5 to 1 atm); clamped to its edge.", OutOfRangeWarning,
                      stacklevel=3)


def _execute(spec: _Spec, scratch: Path, cfg: MapConfig, jobs: int, engine: str,
             dask: str | None, update):
    """Run the chosen engine; return zone sums, counters and the per-output sources."""
    if dask:
        return _run_tiled(spec, scratch, cfg.tile_size, jobs, dask_address=dask, update=update)
    if engine == "processes":
        return _run_tiled(spec, scratch, cfg.tile_size, jobs, update=update)
    sums, counters, cogs = _stream(spec, spec.grid, scratch, jobs, update, cog=True)
    return sums, counters, cogs
