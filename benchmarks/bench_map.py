"""Benchmark: the `karstsink map` engine against the I/O floor, measured in the same run.

Synthetic Guizhou-scale inputs (default 20,000 x 17,000 px at 30 m in UTM 48N;
``--size 8192`` for a 67 Mpx run) are made in a work folder (never committed):

* land cover (uint8, ESA WorldCover codes in ~1-3 km patches) and a carbonate
  0/1 mask (uint8, ~60 % karst), both full resolution, tiled DEFLATE GeoTIFFs;
* runoff, temperature and soil pCO2 as 0.01-degree (~1 km) fields in EPSG:4326,
  so every run aligns across CRSs on the fly;
* ~90 "county" polygons (Voronoi cells) for zone totals.

Timings, each in its own subprocess so peak memory (maxrss) is per run:

1. **floor** (the yardstick): one windowed pass reading every input once by
   512-px blocks (two reader threads, like the engine) and writing the three
   outputs (karst, biological, total sink; float32) with the same creation
   options (tiled 512, DEFLATE level 1, PREDICTOR=3, GDAL compression threads)
   from one writer.  The values it writes are **the map's own output values**:
   an untimed map run before the rounds leaves them in block-ordered raw files,
   which the floor reads from the page cache (one ``pread`` per block and
   output; the ``values read`` phase times that part alone, and the ratio to
   the floor without it is printed too).  So the floor
   writes exactly the bytes the map must write, with their real
   compressibility.  It imports numpy and rasterio only;
2. **map**: ``run_map`` end to end (model, zone totals, overviews, COG files,
   zone tables, quick look), reported with its COG layout step as well, and the
   zone helper process's peak memory beside the map process's;
3. **floor, karstsink encoder**: the floor with the outputs encoded by
   karstsink's own tile encoder (ISA-L DEFLATE) instead of GDAL's, written as
   COGs without overviews: a stricter yardstick, since part of the engine's
   speed is that encoder;
4. **floor, stand-in values**: the GDAL floor writing a cheap stand-in (class
   value x mask + a column ramp) instead of the map's values, as it did until
   2026-11-29 (then also at GDAL's default DEFLATE level 6, by mistake; now at
   level 1).  The stand-ins compress ~10 x better than real sink values (8 MB
   written instead of ~90 MB at 67 Mpx), so this floor under-counts the cost
   of writing the outputs; it is printed for comparison with earlier figures;
5. optionally other engines (``--engines threads,processes``);
6. with ``--netcdf``, the same map from CF NetCDF climate inputs as researchers download
   them (runoff as 12 monthly int16 bands of 0.1 mm/month, ``aggregate = "sum"``;
   temperature as 12 monthly bands in K, ``aggregate = "mean"``), timed beside the
   GeoTIFF map in the same rounds (target: at most 1.3 x the GeoTIFF map);
7. with ``--series``, instead of the floors: a three-year series run (land cover,
   runoff and temperature per year, carbonate constant; ``[series]``, docs/series.md)
   against the three single-year runs of the same inputs, alternating in each round,
   printing series / (sum of the three single runs) (target: at most 0.75);
8. with ``--uncertainty``, instead of the floors: the map with ``[uncertainty] draws =
   100`` (runoff 10 %, temperature 0.5 K, the tables' class ranges) against the same map
   without, alternating (target: at most 5 x).

Every phase starts with its output folder removed (outside the timing), so no
run pays for deleting an earlier run's files.

The machine is shared and its speed drifts by tens of per cent within minutes,
so floor and map runs alternate (``--repeat`` rounds, default 2) and the
ratios use the fastest run of each; every round's own ratio is printed too,
with the machine load (``uptime``).  Usage::

    python benchmarks/bench_map.py --size 8192 --workdir /tmp/kbench
    python benchmarks/bench_map.py                      # Guizhou scale
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

UTM = "EPSG:32648"
GEO = "EPSG:4326"
BLOCK = 512
CREATE = {"driver": "GTiff", "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
          "compress": "deflate", "zlevel": 1, "bigtiff": "if_safer"}


def _patches(rng, shape, cell, values, probs):
    """A patchy class field: random classes on a coarse lattice, nearest-upsampled."""
    h, w = shape
    ch, cw = -(-h // cell) + 1, -(-w // cell) + 1
    coarse = rng.choice(values, size=(ch, cw), p=probs).astype(np.uint8)
    return coarse


def make_inputs(folder: Path, width: int, height: int, seed: int = 7,
                lc_noise: float = 0.0) -> dict:
    """Write the synthetic inputs (block by block; memory stays small).

    ``lc_noise`` is the fraction of land-cover pixels given a random class (same
    class shares), like real 30 m land cover, which changes class every few pixels.
    """
    import geopandas as gpd
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x0, y0 = 350000.0, 3010000.0  # UTM 48N, northern Guizhou
    tr = Affine(30.0, 0.0, x0, 0.0, -30.0, y0)
    lc_codes = np.array([10, 20, 30, 40, 50, 60, 80], np.uint8)
    lc_probs = np.array([0.38, 0.17, 0.12, 0.25, 0.03, 0.03, 0.02])
    lc_cell, carb_cell = 50, 90  # 1.5 km and 2.7 km patches
    lc_coarse = _patches(rng, (height, width), lc_cell, lc_codes, lc_probs)
    carb_coarse = _patches(rng, (height, width), carb_cell, np.array([0, 1], np.uint8),
                           np.array([0.4, 0.6]))
    prof = dict(CREATE, width=width, height=height, count=1, crs=UTM, transform=tr)
    with rasterio.open(folder / "lc.tif", "w", dtype="uint8", nodata=0, **prof) as lc, \
            rasterio.open(folder / "carb.tif", "w", dtype="uint8", **prof) as cb:
        for r in range(0, height, BLOCK):
            h = min(BLOCK, height - r)
            rows = (np.arange(r, r + h) // lc_cell)[:, None]
            rows_c = (np.arange(r, r + h) // carb_cell)[:, None]
            cols = (np.arange(width) // lc_cell)[None, :]
            cols_c = (np.arange(width) // carb_cell)[None, :]
            win = Window(0, r, width, h)
            band = lc_coarse[rows, cols]
            if lc_noise > 0:
                hit = rng.random(band.shape) < lc_noise
                band[hit] = rng.choice(lc_codes, size=int(hit.sum()), p=lc_probs)
            lc.write(band, 1, window=win)
            cb.write(carb_coarse[rows_c, cols_c], 1, window=win)
    left, bottom, right, top = transform_bounds(UTM, GEO, x0, y0 - 30 * height,
                                                x0 + 30 * width, y0, densify_pts=51)
    res = 0.01
    gl, gt = np.floor(left * 100) / 100 - res, np.ceil(top * 100) / 100 + res
    gw = int(np.ceil((right - gl) / res)) + 2
    gh = int(np.ceil((gt - bottom) / res)) + 2
    gtr = Affine(res, 0.0, gl, 0.0, -res, gt)
    lon = gl + res * (np.arange(gw) + 0.5)
    lat = gt - res * (np.arange(gh) + 0.5)
    lon2, lat2 = np.meshgrid(lon, lat)
    fields = {
        "runoff": 500 + 300 * np.sin(lon2 * 3) * np.cos(lat2 * 2),  # mm/yr
        "temperature": 15 + 4 * np.cos(lat2 * 5) - 0.3 * (lon2 - lon.mean()),  # degC
        "soil_pco2": 8000 + 4000 * np.sin(lon2 * 7 + lat2 * 5),  # ppmv
    }
    gprof = {"driver": "GTiff", "width": gw, "height": gh, "count": 1, "crs": GEO,
             "transform": gtr, "dtype": "float32", "nodata": -9999.0}
    for name, arr in fields.items():
        with rasterio.open(folder / f"{name}.tif", "w", **gprof) as ds:
            ds.write(arr.astype(np.float32), 1)
    # ~90 Voronoi "counties" covering the grid
    pts = shapely.MultiPoint(np.c_[rng.uniform(x0, x0 + 30 * width, 90),
                                   rng.uniform(y0 - 30 * height, y0, 90)])
    box = shapely.box(x0, y0 - 30 * height, x0 + 30 * width, y0)
    cells = [shapely.intersection(c, box) for c in shapely.voronoi_polygons(pts).geoms]
    gpd.GeoDataFrame({"county": [f"C{i:03d}" for i in range(len(cells))]}, geometry=cells,
                     crs=UTM).to_file(folder / "counties.gpkg")
    (folder / "map.toml").write_text(
        '[inputs]\nlandcover = "lc.tif"\ncarbonate = "carb.tif"\nrunoff = "runoff.tif"\n'
        'temperature = "temperature.tif"\nsoil_pco2 = "soil_pco2.tif"\n'
        '[zones]\npath = "counties.gpkg"\nfield = "county"\n'
        '[tables]\nlandcover = "worldcover"\n', encoding="utf-8")
    return {"width": width, "height": height}


STEMS = ("karst_sink", "biological_sink", "total_sink")
#: monthly shares of the annual runoff and monthly temperature anomalies [K] (NetCDF inputs)
SHARES = np.array([2, 2, 4, 7, 11, 15, 17, 15, 11, 8, 5, 3], float) / 100.0
ANOMALY = np.array([-8, -6, -3, 0, 3, 6, 8, 7, 4, 0, -4, -7], float)


def make_netcdf_inputs(folder: Path) -> None:
    """CF NetCDF versions of the climate inputs and ``map_nc.toml`` using them.

    ``runoff_monthly.nc``: variable ``q``, 12 monthly int16 bands packed with
    ``scale_factor`` 0.1 (mm/month, ``_FillValue`` -32768), whose sum is the annual
    runoff; ``temperature_monthly.nc``: ``tas``, 12 monthly float32 bands in K whose mean
    is the annual temperature.  Written with scipy's NetCDF-3 writer.
    """
    import rasterio
    from scipy.io import netcdf_file

    with rasterio.open(folder / "runoff.tif") as ds:
        runoff, tr = ds.read(1).astype(float), ds.transform
    with rasterio.open(folder / "temperature.tif") as ds:
        temp = ds.read(1).astype(float)
    h, w = runoff.shape
    lat = tr.f + tr.e * (np.arange(h) + 0.5)
    lon = tr.c + tr.a * (np.arange(w) + 0.5)
    q = np.rint(SHARES[:, None, None] * runoff[None] / 0.1).astype(np.int16)
    tas = (temp[None] + ANOMALY[:, None, None] + 273.15).astype(np.float32)
    for name, var, data, attrs in (
            ("runoff_monthly.nc", "q", q, {"scale_factor": np.float32(0.1),
                                           "add_offset": np.float32(0.0),
                                           "_FillValue": np.int16(-32768),
                                           "units": "mm/month"}),
            ("temperature_monthly.nc", "tas", tas, {"units": "K",
                                                    "_FillValue": np.float32(-9999.0)})):
        with netcdf_file(folder / name, "w") as f:
            f.Conventions = "CF-1.8"
            f.createDimension("time", 12)
            f.createDimension("lat", h)
            f.createDimension("lon", w)
            t = f.createVariable("time", "f8", ("time",))
            t[:] = np.arange(12) * 30.4375 + 15.0
            t.units = "days since 2000-01-01"
            for dim, vals, unit in (("lat", lat, "degrees_north"), ("lon", lon, "degrees_east")):
                v = f.createVariable(dim, "f8", (dim,))
                v[:] = vals
                v.units = unit
            crs = f.createVariable("crs", "i4", ())
            crs.grid_mapping_name = "latitude_longitude"
            crs.semi_major_axis, crs.inverse_flattening = 6378137.0, 298.257223563
            v = f.createVariable(var, data.dtype.char, ("time", "lat", "lon"))
            for k, val in attrs.items():
                setattr(v, k, val)
            v.grid_mapping = "crs"
            v[:] = data
    text = (folder / "map.toml").read_text(encoding="utf-8")
    text = text.replace('runoff = "runoff.tif"', 'runoff = { path = "runoff_monthly.nc", '
                        'variable = "q", aggregate = "sum" }')
    text = text.replace('temperature = "temperature.tif"', 'temperature = { path = '
                        '"temperature_monthly.nc", aggregate = "mean" }')
    (folder / "map_nc.toml").write_text(text, encoding="utf-8")


SERIES_YEARS = (2000, 2010, 2020)


def make_series_inputs(folder: Path) -> None:
    """Yearly inputs of the ``--series`` mode and their configs.

    ``lc_<year>.tif``: ``lc.tif`` with cropland (40) turned to tree cover (10) in a
    growing share of its 1.5 km patches; ``runoff_<year>.tif`` x 0.9 / 1.0 / 1.1 and
    ``temperature_<year>.tif`` + 0 / 0.3 / 0.6 K; ``series.toml`` (``{year}`` paths) and
    ``single_<year>.toml`` (one year each); ``series.toml`` makes the change maps and the
    attribution of 2000 -> 2020 too (the default pair), ``series_years.toml`` only the
    years (``pairs = []``).
    """
    import rasterio

    with rasterio.open(folder / "lc.tif") as src:
        prof = src.profile
        windows = [w for _, w in src.block_windows(1)]
        outs = {y: rasterio.open(folder / f"lc_{y}.tif", "w", **prof) for y in SERIES_YEARS}
        try:
            for w in windows:
                band = src.read(1, window=w)
                rows = (np.arange(w.row_off, w.row_off + w.height) // 50)[:, None]
                cols = (np.arange(w.col_off, w.col_off + w.width) // 50)[None, :]
                patch = (rows * 7 + cols * 3) % 10
                for k, y in enumerate(SERIES_YEARS):
                    out = band.copy()
                    out[(band == 40) & (patch < 2 * k)] = 10
                    outs[y].write(out, 1, window=w)
        finally:
            for ds in outs.values():
                ds.close()
    for k, y in enumerate(SERIES_YEARS):
        for name, f in (("runoff", lambda a, k=k: a * (0.9 + 0.1 * k)),
                        ("temperature", lambda a, k=k: a + 0.3 * k)):
            with rasterio.open(folder / f"{name}.tif") as src:
                gp = src.profile
                data = src.read(1)
            with rasterio.open(folder / f"{name}_{y}.tif", "w", **gp) as dst:
                dst.write(np.where(data == gp["nodata"], data, f(data)).astype(np.float32), 1)
    text = (folder / "map.toml").read_text(encoding="utf-8")
    for key, stem in (("landcover", "lc"), ("runoff", "runoff"),
                      ("temperature", "temperature")):
        text = text.replace(f'{key} = "{stem}.tif"', f'{key} = "{stem}_{{year}}.tif"')
    for y in SERIES_YEARS:
        (folder / f"single_{y}.toml").write_text(text.replace("{year}", str(y)),
                                                 encoding="utf-8")
    (folder / "series.toml").write_text(
        text + f"[series]\nyears = {list(SERIES_YEARS)}\n", encoding="utf-8")
    (folder / "series_years.toml").write_text(
        text + f"[series]\nyears = {list(SERIES_YEARS)}\npairs = []\n", encoding="utf-8")


def series_rounds(args) -> None:
    """``--series``: alternate the series runs and the three single runs; print the ratios
    (``series``: years + change maps + attribution; ``series_years``: the years only)."""
    singles = [f"single_{y}" for y in SERIES_YEARS]
    kinds = ["series_years", "series"]
    runs: dict[str, list[dict]] = {k: [] for k in [*kinds, *singles]}
    for rnd in range(args.repeat):
        for phase in ["series_years", *singles, "series"]:
            runs[phase].append(_run_child(phase, args))
        one = sum(runs[p][-1]["wall_s"] for p in singles)
        one_cpu = sum(runs[p][-1]["cpu_s"] for p in singles)
        each = ", ".join(f"{runs[p][-1]['wall_s']:.2f}" for p in singles)
        print(f"round {rnd + 1}: three single runs {one:.2f} s ({each}; CPU {one_cpu:.1f} s)")
        for k in kinds:
            r = runs[k][-1]
            print(f"round {rnd + 1}: {k} ({len(SERIES_YEARS)} years) {r['wall_s']:.2f} s = "
                  f"{r['wall_s'] / one:.3f} x the single runs (CPU {r['cpu_s'] / one_cpu:.3f} "
                  f"x; target <= 0.75); peak {r['maxrss_mb']:.0f} MB")
    best_one = sum(min(r["wall_s"] for r in runs[p]) for p in singles)
    for k in kinds:
        best = min(r["wall_s"] for r in runs[k])
        print(f"{k}: best {best:.2f} s against the best single runs' sum {best_one:.2f} s = "
              f"{best / best_one:.3f} x; peak {max(r['maxrss_mb'] for r in runs[k]):.0f} MB")
    (Path(args.workdir) / "bench_series.json").write_text(json.dumps(runs, indent=2))


def uncertainty_rounds(args) -> None:
    """``--uncertainty``: the map with 100 Monte Carlo draws against the plain map."""
    folder = Path(args.workdir)
    (folder / "unc_100.toml").write_text(
        (folder / "map.toml").read_text(encoding="utf-8")
        + "[uncertainty]\ndraws = 100\nseed = 1\nrunoff_rel_sd = 0.1\n"
          "temperature_sd_c = 0.5\n", encoding="utf-8")
    runs: dict[str, list[dict]] = {"threads": [], "unc_100": []}
    for rnd in range(args.repeat):
        for phase in runs:
            runs[phase].append(_run_child(phase, args))
        a, b = runs["threads"][-1], runs["unc_100"][-1]
        print(f"round {rnd + 1}: map {a['wall_s']:.2f} s (CPU {a['cpu_s']:.1f} s), with 100 "
              f"draws {b['wall_s']:.2f} s (CPU {b['cpu_s']:.1f} s) = "
              f"{b['wall_s'] / a['wall_s']:.2f} x (CPU {b['cpu_s'] / a['cpu_s']:.2f} x; "
              f"target <= 5); peak {b['maxrss_mb']:.0f} MB")
    best = {k: min(r["wall_s"] for r in v) for k, v in runs.items()}
    print(f"uncertainty: best {best['unc_100']:.2f} s against the map's {best['threads']:.2f} s"
          f" = {best['unc_100'] / best['threads']:.2f} x")
    (folder / "bench_uncertainty.json").write_text(json.dumps(runs, indent=2))


def _block_offsets(windows, itemsize: int = 4) -> list[int]:
    """Byte offset of each block in a block-ordered raw file (blocks in ``windows`` order)."""
    offs, pos = [], 0
    for w in windows:
        offs.append(pos)
        pos += int(w.width) * int(w.height) * itemsize
    return offs


def _lc_windows(folder: Path):
    """The land-cover raster's 512-px block windows (the floors' and the value files' blocks)."""
    import rasterio

    with rasterio.open(folder / "lc.tif") as ds:
        return [w for _, w in ds.block_windows(1)], ds.profile


def dump_values(folder: Path) -> None:
    """Run the map once (untimed) and keep its outputs as block-ordered raw float32.

    The floors read these files block by block, so they write the map's own
    values.  Blocks follow ``lc.tif``'s windows; each file is written to a
    temporary name, flushed to disk and then renamed.
    """
    import rasterio

    import karstsink.mapping.run as eng
    from karstsink.mapping.config import load_config

    tmp = folder / "values_map"
    vals = folder / "values"
    shutil.rmtree(tmp, ignore_errors=True)
    windows, prof = _lc_windows(folder)
    try:
        eng.run_map(load_config(folder / "map.toml"), tmp, jobs=2)
        vals.mkdir(exist_ok=True)
        for stem in STEMS:
            part = vals / f".{stem}.f32.part"
            try:
                with rasterio.open(tmp / f"{stem}.tif") as ds, open(part, "wb") as f:
                    if ds.shape != (prof["height"], prof["width"]) or ds.dtypes[0] != "float32":
                        raise RuntimeError(f"{stem}.tif is {ds.shape} {ds.dtypes[0]}, not the "
                                           f"land-cover grid in float32")
                    for w in windows:
                        f.write(np.ascontiguousarray(ds.read(1, window=w)).tobytes())
                    f.flush()
                    os.fsync(f.fileno())  # no write-back of these files in the timed rounds
                os.replace(part, vals / f"{stem}.f32")
            finally:
                part.unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class _Values:
    """The map's output values of one block, read from the block-ordered raw files."""

    def __init__(self, folder: Path, windows) -> None:
        offsets = _block_offsets(windows)
        size = offsets[-1] + int(windows[-1].width) * int(windows[-1].height) * 4
        self.offsets = {(int(w.row_off), int(w.col_off)): o
                        for w, o in zip(windows, offsets, strict=True)}
        self.fds: list[int] = []
        try:
            for stem in STEMS:
                path = folder / "values" / f"{stem}.f32"
                self.fds.append(os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0)))
                if os.fstat(self.fds[-1]).st_size != size:
                    raise RuntimeError(f"{path} does not match lc.tif's grid ({size} bytes "
                                       f"expected): the warm phase writes it, run it again")
        except BaseException:
            self.close()
            raise

    def block(self, w) -> list[np.ndarray]:
        h, wd = int(w.height), int(w.width)
        off = self.offsets[(int(w.row_off), int(w.col_off))]
        # os.pread: positional, so threads can share the descriptors
        return [np.frombuffer(os.pread(fd, h * wd * 4, off), np.float32).reshape(h, wd)
                for fd in self.fds]

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []


def _block_loop(windows, jobs: int, work, write) -> None:
    """Blocks through a thread pool with bounded read-ahead, written in order."""
    import concurrent.futures as cf

    with cf.ThreadPoolExecutor(jobs) as pool:
        # bounded read-ahead, as in the engine (pool.map would queue every block)
        pending = [pool.submit(work, w) for w in windows[: 2 * jobs]]
        nxt = 2 * jobs
        while pending:
            w, data = pending.pop(0).result()
            if nxt < len(windows):
                pending.append(pool.submit(work, windows[nxt]))
                nxt += 1
            write(w, data)


def floor_pass(folder: Path, out: Path, jobs: int = 2, own_encoder: bool = False,
               stand_in: bool = False) -> None:
    """Read every input once by blocks (threads) and write three float32 outputs.

    The outputs hold the map's own values (see :func:`dump_values`), or with
    ``stand_in`` a cheap stand-in computed from the inputs.  Written with GDAL
    (tiled DEFLATE GeoTIFFs) or, with ``own_encoder``, with karstsink's tile
    encoder into COGs without overviews.
    """
    import threading

    import rasterio

    # the GDAL floor imports numpy and rasterio only (not karstsink, whose import with
    # numba costs ~0.3 s); GDAL_CACHEMAX=64 comes from the environment (_run_child)
    out.mkdir(parents=True, exist_ok=True)
    local = threading.local()
    names = ["lc.tif", "carb.tif"]
    for n in ("runoff.tif", "temperature.tif", "soil_pco2.tif"):
        with rasterio.open(folder / n) as ds:
            ds.read(1)  # small fields: read once, as the engine does
    windows, prof = _lc_windows(folder)
    ramp = np.linspace(0, 1, prof["width"], dtype=np.float32)

    def block(w):
        ds = getattr(local, "ds", None)
        if ds is None:
            ds = local.ds = [rasterio.open(folder / n) for n in names]
        lc = ds[0].read(1, window=w)
        cb = ds[1].read(1, window=w)
        if values is not None:
            return values.block(w)
        grad = ramp[int(w.col_off): int(w.col_off + w.width)][None, :]
        return [lc.astype(np.float32) * np.float32(0.37) * cb + grad + np.float32(i)
                for i in range(3)]

    values = None if stand_in else _Values(folder, windows)
    sinks: list = []
    try:
        if own_encoder:
            from karstsink.mapping._cog import StreamingCOG, encode_tile

            for i in range(3):
                sinks.append(StreamingCOG(prof["width"], prof["height"], 0, BLOCK,
                                          out / "scratch", crs=prof["crs"],
                                          transform=prof["transform"], name=f"o{i}"))

            def work(w):
                return w, [encode_tile(v, BLOCK) for v in block(w)]

            def write(w, tiles):
                for cog, t in zip(sinks, tiles, strict=True):
                    cog.put(0, int(w.row_off) // BLOCK, int(w.col_off) // BLOCK, t)
        else:
            # the creation options spelt out: a profile read from a file has no ZLEVEL,
            # and GDAL's default is 6 (the map's encoder uses level 1)
            opts = dict(CREATE, width=prof["width"], height=prof["height"], count=1,
                        crs=prof["crs"], transform=prof["transform"], dtype="float32",
                        nodata=float("nan"), predictor=3, num_threads=2)
            for i in range(3):
                sinks.append(rasterio.open(out / f"o{i}.tif", "w", **opts))

            def work(w):
                return w, block(w)

            def write(w, vals):
                for d, v in zip(sinks, vals, strict=True):
                    d.write(v, 1, window=w)

        _block_loop(windows, jobs, work, write)
    except BaseException:
        for sink in sinks:
            if own_encoder:
                sink.abort()
            else:
                sink.close()
        raise
    finally:
        if values is not None:
            values.close()
    for i, sink in enumerate(sinks):
        if own_encoder:
            sink.close(out / f"o{i}.tif")
        else:
            sink.close()


def values_read_pass(folder: Path, jobs: int = 2) -> float:
    """Only the floor's reading of the map's values; returns its time [s].

    The time starts after rasterio is imported and the windows are listed
    (the floor pays those anyway).
    """
    windows, _ = _lc_windows(folder)
    t0 = time.perf_counter()
    values = _Values(folder, windows)
    try:
        _block_loop(windows, jobs, lambda w: (w, values.block(w)), lambda w, v: None)
    finally:
        values.close()
    return time.perf_counter() - t0


def map_pass(folder: Path, out: Path, jobs: int, engine: str,
             config: str = "map.toml") -> dict:
    """``run_map`` end to end; also time the map pass without the COG step."""
    import karstsink.mapping.run as eng
    from karstsink.mapping.config import load_config

    timings = {}
    orig = eng._convert_all

    def timed_convert(*a, **k):
        t = time.perf_counter()
        orig(*a, **k)
        timings["cog_s"] = time.perf_counter() - t

    eng._convert_all = timed_convert
    cfg = load_config(folder / config)
    t0 = time.perf_counter()
    res = eng.run_map(cfg, out, jobs=jobs, engine=engine)
    timings["total_s"] = time.perf_counter() - t0
    for th in threading.enumerate():  # the zone helper's CPU counts too (RUSAGE_CHILDREN)
        if th.name == "karstsink-zone-helper-reaper":
            th.join(10)
    timings["karst_sink_t_c_yr"] = res.totals["karst_sink_t_c_yr"]
    timings["worker_peak_mb"] = res.counters.get("worker_peak_mb", 0.0)
    timings["zone_helper_mb"] = res.counters.get("zone_helper_peak_mb") or 0.0
    return timings


def _warm(folder: Path) -> None:
    """Untimed: one map run builds the cached equilibrium table and compiles the numba
    kernels, and leaves its output values for the floors (:func:`dump_values`)."""
    dump_values(folder)


#: output folder of each timed phase (map phases: ``map_out_<engine>``)
OUT_DIRS = {"floor": "floor_out", "floor_own": "floor_own_out",
            "floor_standin": "floor_standin_out"}


def _out_dir(phase: str) -> str | None:
    if phase in ("warm", "values_read"):
        return None
    return OUT_DIRS.get(phase, f"map_out_{phase}")


def _child(args) -> None:
    folder = Path(args.workdir)
    t0 = time.perf_counter()
    info: dict = {}
    if args.phase == "warm":
        _warm(folder)
    elif args.phase == "values_read":
        info["read_s"] = values_read_pass(folder, args.jobs)
    elif args.phase in OUT_DIRS:
        floor_pass(folder, folder / OUT_DIRS[args.phase], args.jobs,
                   own_encoder=args.phase == "floor_own",
                   stand_in=args.phase == "floor_standin")
    elif args.phase == "netcdf":
        info = map_pass(folder, folder / _out_dir(args.phase), args.jobs, "threads",
                        config="map_nc.toml")
    elif args.phase.startswith(("series", "single_", "unc_")):
        info = map_pass(folder, folder / _out_dir(args.phase), args.jobs, "threads",
                        config=f"{args.phase}.toml")
    else:
        info = map_pass(folder, folder / _out_dir(args.phase), args.jobs, args.phase)
    info["wall_s"] = time.perf_counter() - t0
    info["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # worker processes (engine "processes"): the largest one, as it reported itself
    # (they are children of a forkserver, not of this process)
    info["child_maxrss_mb"] = info.get("worker_peak_mb", 0.0)
    info["cpu_s"] = time.process_time() + (resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime
                                           + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime)
    print(json.dumps(info))


def _run_child(phase: str, args) -> dict:
    # no run pays for deleting an earlier run's output files (not timed)
    out_dir = _out_dir(phase)
    if out_dir:
        shutil.rmtree(Path(args.workdir) / out_dir, ignore_errors=True)
    cmd = [sys.executable, __file__, "--phase", phase, "--workdir", str(args.workdir),
           "--jobs", str(args.jobs)]
    env = dict(os.environ, GDAL_CACHEMAX="64")
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"benchmark phase {phase!r} failed (exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs="+", default=[20000, 17000],
                    help="WIDTH [HEIGHT] in px (one number = square). Default 20000 17000.")
    ap.add_argument("--workdir", default=None, help="Work folder (default: a temp folder).")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--engines", default="threads", help="Comma list: threads,processes")
    ap.add_argument("--repeat", type=int, default=2, help="Alternating rounds (default 2).")
    ap.add_argument("--keep", action="store_true", help="Keep the work folder.")
    ap.add_argument("--reuse", action="store_true", help="Reuse inputs already in workdir.")
    ap.add_argument("--lc-noise", type=float, default=0.0,
                    help="Fraction of land-cover pixels given a random class (default 0: "
                         "classes in ~1.5 km patches); used when the inputs are made.")
    ap.add_argument("--netcdf", action="store_true",
                    help="Also time the map from CF NetCDF monthly climate inputs.")
    ap.add_argument("--series", action="store_true",
                    help="Time a 3-year series run against its 3 single-year runs "
                         "(instead of the floors).")
    ap.add_argument("--uncertainty", action="store_true",
                    help="Time the map with [uncertainty] draws = 100 against the plain map "
                         "(instead of the floors).")
    ap.add_argument("--phase", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        _child(args)
        return
    width = args.size[0]
    height = args.size[1] if len(args.size) > 1 else args.size[0]
    given = args.workdir is not None
    work = Path(args.workdir) if given else Path(
        os.environ.get("TMPDIR", "/tmp")) / f"karstsink_bench_{width}x{height}"
    args.workdir = work
    reuse = args.reuse and (work / "map.toml").is_file()
    if reuse:  # the grid is the one the inputs were made with
        import rasterio

        with rasterio.open(work / "lc.tif") as ds:
            width, height = ds.width, ds.height
        print(f"reusing the inputs in {work} (--size and --lc-noise apply when inputs are made)")
    # inputs ~1 B/px; the map's values 12 B/px; output folders of the floors and the map
    # (~1.5 B/px each, up to 5 at once) and the map's scratch tile stores
    need_gb = width * height * (1 + 12 + 10) / 1e9
    free_gb = shutil.disk_usage(work.parent if work.parent.exists() else "/").free / 1e9
    print(f"grid {width} x {height} = {width * height / 1e6:.0f} Mpx; free disk "
          f"{free_gb:.0f} GB (need roughly {need_gb:.1f} GB)")
    if free_gb < need_gb * 1.5:
        sys.exit("not enough free disk for the benchmark inputs and outputs")
    if not reuse:
        t = time.perf_counter()
        make_inputs(work, width, height, lc_noise=args.lc_noise)
        print(f"inputs made in {time.perf_counter() - t:.1f} s in {work}")
    if args.netcdf and not (reuse and (work / "map_nc.toml").is_file()):
        make_netcdf_inputs(work)
    # warm the equilibrium table cache and numba compilation outside the timed runs
    env_cache = work / "cache"
    os.environ["KARSTSINK_CACHE_DIR"] = str(env_cache)
    _run_child("warm", args)
    if args.uncertainty:
        uncertainty_rounds(args)
        if not args.keep and not given:
            shutil.rmtree(work, ignore_errors=True)
        return
    if args.series:
        if not (reuse and (work / "series_years.toml").is_file()):
            make_series_inputs(work)
        series_rounds(args)
        if not args.keep and not given:
            shutil.rmtree(work, ignore_errors=True)
        return
    load = os.getloadavg()
    engines = args.engines.split(",") + (["netcdf"] if args.netcdf else [])
    floors = ["floor", "floor_own", "floor_standin", "values_read"]
    runs: dict[str, list[dict]] = {k: [] for k in [*floors, *engines]}
    for rnd in range(args.repeat):  # alternate: the machine's speed drifts
        for phase in ["floor", *engines, "floor_own", "floor_standin", "values_read"]:
            runs[phase].append(_run_child(phase, args))
        last = {k: v[-1]["wall_s"] for k, v in runs.items()}
        read = runs["values_read"][-1]["read_s"]
        maps = ", ".join(f"{last[e]:.1f} s" for e in engines)
        line = ", ".join(f"{e} {last[e] / last['floor']:.2f} x" for e in engines)
        line_nr = ", ".join(f"{last[e] / (last['floor'] - read):.2f} x" for e in engines)
        line_si = ", ".join(f"{last[e] / last['floor_standin']:.2f} x" for e in engines)
        print(f"round {rnd + 1}: floor {last['floor']:.1f} s (reading the map's values "
              f"{read:.2f} s of it), floor with karstsink encoder {last['floor_own']:.1f} s, "
              f"floor with stand-in values {last['floor_standin']:.1f} s; map {maps}; "
              f"map/floor: {line}; map/(floor - reading the values): {line_nr}; "
              f"map/stand-in floor: {line_si}")
        if args.netcdf and "threads" in engines:
            print(f"round {rnd + 1}: NetCDF inputs / GeoTIFF inputs (threads): "
                  f"{last['netcdf'] / last['threads']:.2f} x")
    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}

    def walls(phase, key="wall_s"):
        return " / ".join(f"{r[key]:.2f}" for r in runs[phase])

    floor = best["floor"]["wall_s"]
    own = best["floor_own"]["wall_s"]
    standin = best["floor_standin"]["wall_s"]
    read = min(r["read_s"] for r in runs["values_read"])
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; after: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}; cores {os.cpu_count()}")
    print(f"I/O floor (read all inputs once, write the map's 3 outputs with GDAL): {floor:.1f} s "
          f"(runs {walls('floor')} s), CPU {best['floor']['cpu_s']:.0f} s, peak "
          f"{best['floor']['maxrss_mb']:.0f} MB; of which reading the map's values from the "
          f"page cache {read:.2f} s (runs {walls('values_read', 'read_s')} s)")
    print(f"floor with karstsink's encoder: {own:.1f} s (runs {walls('floor_own')} s)")
    print(f"floor with stand-in values (as until 2026-11-29, now at level 1): "
          f"{standin:.1f} s (runs "
          f"{walls('floor_standin')} s)")
    for engine in engines:
        r = best[engine]
        print(f"map [{engine}]: end to end {r['wall_s']:.1f} s (runs "
              f"{walls(engine)} s) = "
              f"{r['wall_s'] / floor:.2f} x floor ({r['wall_s'] / (floor - read):.2f} x without "
              f"its reading of the values), {r['wall_s'] / own:.2f} x the floor with "
              f"karstsink's encoder, {r['wall_s'] / standin:.2f} x the stand-in floor; "
              f"COG layout/conversion step {r.get('cog_s', 0):.1f} s; "
              f"peak {r['maxrss_mb']:.0f} MB (largest worker process "
              f"{r['child_maxrss_mb']:.0f} MB, zone helper process "
              f"{r.get('zone_helper_mb', 0):.0f} MB); CPU {r['cpu_s']:.0f} s; "
              f"karst sink {r['karst_sink_t_c_yr']:.4g} t C/yr")
    if args.netcdf and "threads" in engines:
        ratios = [n["wall_s"] / t["wall_s"] for n, t in zip(runs["netcdf"], runs["threads"],
                                                              strict=True)]
        print(f"NetCDF inputs (12 monthly bands, int16 x 0.1 mm/month; K) vs the same map "
              f"from GeoTIFFs: best {best['netcdf']['wall_s']:.2f} s vs "
              f"{best['threads']['wall_s']:.2f} s = "
              f"{best['netcdf']['wall_s'] / best['threads']['wall_s']:.2f} x (per round "
              f"{', '.join(f'{r:.2f}' for r in ratios)} x; target <= 1.3 x); karst sink "
              f"{best['netcdf']['karst_sink_t_c_yr']:.5g} vs "
              f"{best['threads']['karst_sink_t_c_yr']:.5g} t C/yr")
    results = {"runs": runs, "best": best}
    (work / "bench_result.json").write_text(json.dumps(results, indent=2))
    if not args.keep:
        if given:  # the inputs stay for --reuse; the map's values (12 B/px) do not
            shutil.rmtree(work / "values", ignore_errors=True)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
