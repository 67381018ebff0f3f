"""Make the SYNTHETIC Guizhou-like demo dataset that ``karstsink demo`` runs on.

Everything here is invented, deterministically (fixed seed), from the ranges and
published numbers documented in ``data/demo/README.md`` (with the sections of
the project's science notes they come from). Nothing describes a real place.

Usage::

    python data/demo/make_demo.py            # rewrite the files in data/demo/
    python data/demo/make_demo.py --out DIR  # write them elsewhere (tests do this)

Outputs (all labelled SYNTHETIC: GeoTIFF tags and band descriptions, a GeoPackage
column, a ``Remarks`` column in the sample tables, ``#`` lines in the discharge
files):

- ``rasters/landcover_<year>.tif``  CLCD codes (1 crop, 2 forest, 3 shrub, 4 grass,
  5 water, 7 barren, 8 impervious; 0 = outside the province), uint8, one per year of
  :data:`YEARS` (2000, 2010, 2020: the series of ``demo.toml``)
- ``rasters/carbonate.tif``  carbonate-rock fraction of each pixel [0-1]
- ``rasters/runoff_<year>.tif``  runoff depth [mm yr-1]
- ``rasters/temperature_<year>.tif``  mean annual air temperature [degC]
- ``rasters/soil_pco2.tif``  growing-season soil CO2 [ppmv] (the same in every year)
- ``rasters/dem.tif``  elevation [m]
- ``rasters/nep_<year>.tif``  net ecosystem production, the biological sink [g C m-2 yr-1]

The 2020 rasters are the demo's base fields; 2000 and 2010 are made from them by
:func:`make_history` (restoration run backwards: forest on steep slopes was partly
cropland, karst shrub partly barren rock; runoff and temperature scaled by invented
yearly factors), from their own random stream, so the 2020 files and every other
output do not depend on them.
- ``counties.gpkg``  80 county polygons (``name``, ``name_zh``, ``area_km2``, ``note``)
- ``catchments/<name>_discharge.csv``  daily discharge, ``date, Q (m3/s)``
- ``catchments/<name>_samples.csv``  ~60 field samples in a messy lab-sheet style
- ``catchments/<name>_outline.gpkg``  the catchment's outline (layer ``outline``), on
  carbonate-rock pixels near the outlet, of the catchment's area (``--outlines-only``
  rewrites just these from the committed ``rasters/carbonate.tif``)
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20261128
HERE = Path(__file__).resolve().parent

# Target grid: EPSG:32648 (WGS 84 / UTM zone 48N), 1 km pixels, covering the bounding box of
# the real province (lon 103.6-109.6 E, lat 24.6-29.2 N projects to x 358-966 km,
# y 2721-3239 km in this CRS).
CRS = "EPSG:32648"
PIXEL = 1000.0
LEFT, TOP = 358_000.0, 3_239_000.0
WIDTH, HEIGHT = 608, 518
PROVINCE_AREA_KM2 = 176_000.0  # Guizhou's area in the provincial government's profile

# CLCD class codes (China Land Cover Dataset) and target shares of the province's land.
LANDCOVER = {1: "cropland", 2: "forest", 3: "shrub", 4: "grassland", 5: "water",
             7: "barren", 8: "impervious"}
LC_TARGET = {1: 0.27, 2: 0.42, 3: 0.12, 4: 0.14, 5: 0.01, 7: 0.015, 8: 0.015}

# Soil CO2 by class [ppmv] at 15 degC: forest ~ grassland ~ 1.6-1.7 x dryland crops
# (Lan et al. 2017, Carsologica Sinica 36(4), doi:10.11932/karst20170401); barren/rocky and
# sealed ground low.
SOIL_PCO2_BASE = {1: 4500.0, 2: 7500.0, 3: 6000.0, 4: 7300.0, 5: 2000.0, 7: 2500.0,
                  8: 2000.0}
# NEP (net ecosystem production = NPP - heterotrophic respiration, the biological sink) by
# class [g C m-2 yr-1]: plausible values, not a measurement (README: they put the province
# total between the two readings, t CO2 or t C, of the Guizhou forestry department's 2019
# "annual fixed carbon 30.24 Mt", unit not stated). Water has none (NaN).
NEP_BASE = {1: 20.0, 2: 120.0, 3: 80.0, 4: 40.0, 5: np.nan, 7: 5.0, 8: 5.0}

SYNTHETIC = "SYNTHETIC demo data (karstsink data/demo/make_demo.py): not a real place"

# The series of the demo (demo.toml [map.series]): 2020 is the base state made by
# make_fields; the earlier years are derived from it by make_history.
YEARS = (2000, 2010, 2020)
#: rasters written once per year (rasters/<name>_<year>.tif); the others are constant
YEARLY = ("landcover", "runoff", "temperature", "nep")
# Invented history (SYNTHETIC; the direction of Guizhou's restoration since 2000 -- Grain
# for Green on steep cropland, rocky-desertification control -- not its observed extent):
# share of the 2020 steep forest (slope >= STEEP_DEG, the schedule's demo slope rule) that
# was still cropland, and share of the 2020 karst shrub (carbonate >= 0.6) that was still
# barren rock, in each earlier year.
STEEP_DEG = 5.0
WAS_CROPLAND = {2000: 0.60, 2010: 0.30}
WAS_BARREN = {2000: 0.25, 2010: 0.12}
# Yearly climate (SYNTHETIC): runoff x factor (2010 drier, in the spirit of the 2009-2010
# south-west China drought) and a temperature offset [degC] (warming of ~0.2 degC per
# decade, of the order of the observed regional trend); plus a smooth +-3 % runoff pattern.
RUNOFF_FACTOR = {2000: 0.97, 2010: 0.92}
TEMPERATURE_OFFSET_C = {2000: -0.4, 2010: -0.2}

# The three invented catchments: (key, Chinese name, look-alike, outlet lon/lat, area km2,
# runoff mm/yr, HCO3 at median Q mg/L, C-Q exponent b, SO4 mg/L, NO3 mg/L, Mg molar share,
# quick-flow share, quick/slow recession constants in days, mean water temperature degC).
CATCHMENTS = [
    dict(key="longtan", zh="龙潭", like="Houzhai-like plateau-hilly basin (75 km2)",
         lon=105.72, lat=26.25, area_km2=75.0, runoff_mm=450.0, hco3=240.0, b=-0.07,
         so4=30.0, no3=18.0, mg_share=0.25, quick=0.40, k_quick=3.0, k_slow=55.0,
         temp=16.2, site="龙潭地下河出口", id_prefix="LT"),
    dict(key="qingquan", zh="清泉", like="Chenqi-like small spring catchment (1.25 km2)",
         lon=105.78, lat=26.27, area_km2=1.25, runoff_mm=350.0, hco3=180.0, b=-0.09,
         so4=18.0, no3=12.0, mg_share=0.15, quick=0.55, k_quick=1.5, k_slow=35.0,
         temp=15.8, site="清泉泉口", id_prefix="QQ"),
    dict(key="heishui", zh="黑水", like="Banzhai-like peak-cluster subterranean stream (30 km2)",
         lon=107.74, lat=25.41, area_km2=30.0, runoff_mm=520.0, hco3=165.0, b=-0.06,
         so4=9.0, no3=5.0, mg_share=0.10, quick=0.45, k_quick=2.0, k_slow=45.0,
         temp=18.3, site="黑水洞出口", id_prefix="HS"),
]
START, END = "2015-10-01", "2021-09-30"  # six water years (Oct-Sep)

M = {"ca": 40.078, "mg": 24.305, "na": 22.990, "k": 39.098, "cl": 35.45, "so4": 96.06,
     "no3": 62.004, "hco3": 61.017, "f": 18.998}  # g/mol, as karstsink.units


# ---------------------------------------------------------------------------
# fields
# ---------------------------------------------------------------------------

def smooth_noise(rng: np.random.Generator, sigma: float, shape=(HEIGHT, WIDTH)) -> np.ndarray:
    """Gaussian-filtered white noise, standardised to mean 0 and standard deviation 1."""
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal(shape), sigma=sigma, mode="reflect")
    return (field - field.mean()) / field.std()


def province_mask(rng: np.random.Generator):
    """An irregular province outline (shapely polygon) of ~176,000 km2 and its pixel mask."""
    from affine import Affine
    from rasterio.features import geometry_mask
    from shapely.geometry import Polygon

    cx, cy = LEFT + WIDTH * PIXEL / 2, TOP - HEIGHT * PIXEL / 2
    theta = np.linspace(0, 2 * np.pi, 361)[:-1]
    radius = np.ones_like(theta)
    for k in range(2, 9):
        radius += rng.uniform(0.02, 0.10) / math.sqrt(k - 1) * np.cos(k * theta
                                                                      + rng.uniform(0, 2 * np.pi))
    x, y = 1.0 * radius * np.cos(theta), 0.85 * radius * np.sin(theta)
    unit = Polygon(np.column_stack([x, y]))
    scale = math.sqrt(PROVINCE_AREA_KM2 * 1e6 / unit.area)
    poly = Polygon(np.column_stack([cx + scale * x, cy + scale * y]))
    transform = Affine(PIXEL, 0.0, LEFT, 0.0, -PIXEL, TOP)
    inside = geometry_mask([poly], out_shape=(HEIGHT, WIDTH), transform=transform, invert=True)
    return poly, inside, transform


def lonlat_to_pixel(lon: float, lat: float) -> tuple[int, int]:
    from pyproj import Transformer

    x, y = Transformer.from_crs("EPSG:4326", CRS, always_xy=True).transform(lon, lat)
    return int((TOP - y) // PIXEL), int((x - LEFT) // PIXEL)


def make_fields(rng: np.random.Generator, inside: np.ndarray) -> dict[str, np.ndarray]:
    """DEM, temperature, runoff, carbonate fraction, land cover, soil pCO2 and NEP."""
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    xn, yn = cols / (WIDTH - 1), rows / (HEIGHT - 1)  # 0 = west / north

    # DEM [m]: high western plateau (~2,700 m) falling to ~500 m in the east, rugged karst relief.
    dem = (2750.0 - 2150.0 * xn ** 0.75 + 180.0 * (0.5 - yn)
           + 260.0 * smooth_noise(rng, 10) + 110.0 * smooth_noise(rng, 2.5))
    dem = np.clip(dem, 500.0, 2800.0)

    # Temperature [degC]: lapse rate 4.2 degC/km plus a north-south gradient, 10-20 degC.
    temp = 20.6 - 0.0042 * (dem - 500.0) - 1.4 * (1.0 - yn) + 0.25 * smooth_noise(rng, 6)
    temp = np.clip(temp, 10.0, 20.0)

    # Runoff [mm/yr]: ~400 in the north-west rising to ~900 in the south-east.
    runoff = 420.0 + 470.0 * (0.55 * xn + 0.45 * yn) + 45.0 * smooth_noise(rng, 14)
    runoff = np.clip(runoff, 400.0, 900.0)

    # Carbonate fraction [0-1]: belts of carbonate and clastic rock, mean ~0.6 over the land.
    belts = smooth_noise(rng, 9) + 0.35 * smooth_noise(rng, 3)
    level = np.quantile(belts[inside], 0.38)
    carb = np.clip(0.5 + (belts - level) / 0.5, 0.0, 1.0)
    carb = np.round(carb, 2)

    # Land cover: each class scores a smooth noise field plus terrain/lithology preferences;
    # the highest score wins, and per-class offsets are tuned so the shares meet LC_TARGET.
    steep = np.clip((dem - 900.0) / 1500.0, 0, 1)
    scores = {
        1: smooth_noise(rng, 5) + 0.9 * (1 - steep) - 0.5 * carb,   # cropland: low, clastic
        2: smooth_noise(rng, 6) + 0.4 * xn,                          # forest: wetter east
        3: smooth_noise(rng, 4) + 0.8 * carb,                        # shrub: karst slopes
        4: smooth_noise(rng, 5) + 1.2 * steep,                       # grass: high west
    }
    offsets = {k: 0.0 for k in scores}
    land = inside
    for _ in range(40):
        stack = np.stack([scores[k] + offsets[k] for k in (1, 2, 3, 4)])
        lc = np.array([1, 2, 3, 4], dtype=np.uint8)[np.argmax(stack, axis=0)]
        for k in (1, 2, 3, 4):
            share = np.mean(lc[land] == k)
            want = LC_TARGET[k] / sum(LC_TARGET[j] for j in (1, 2, 3, 4))
            offsets[k] += 0.5 * (want - share) / max(want, 1e-3)
    # barren (rocky desertification): the most exposed karst shrub/grass pixels
    rocky = smooth_noise(rng, 2) + 1.5 * carb
    cand = land & np.isin(lc, (3, 4))
    lc[cand & (rocky >= np.quantile(rocky[cand], 1 - LC_TARGET[7] / np.mean(cand[land])))] = 7
    # water: reservoirs in the lowest, wettest valleys
    wet = -dem / 400.0 + smooth_noise(rng, 1.5)
    lc[land & (wet >= np.quantile(wet[land], 1 - LC_TARGET[5]))] = 5
    # impervious: a capital-sized city near 106.7 E 26.6 N and smaller towns
    r0, c0 = lonlat_to_pixel(106.7, 26.6)
    town_rows = rng.integers(40, HEIGHT - 40, 14)
    town_cols = rng.integers(40, WIDTH - 40, 14)
    towns = [(r0, c0, 9.0)] + [(int(r), int(c), float(rng.uniform(1.5, 3.5)))
                               for r, c in zip(town_rows, town_cols, strict=True)]
    urban = np.zeros_like(dem)
    for r, c, size in towns:
        urban = np.maximum(urban, np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * size ** 2)))
    urban += 0.15 * smooth_noise(rng, 1)
    lc[land & (urban >= np.quantile(urban[land], 1 - LC_TARGET[8]))] = 8
    lc[~inside] = 0

    # Soil pCO2 [ppmv]: class level x temperature response (x1.8 per 10 degC) x patch noise,
    # clipped to the 2,000-20,000 ppmv range reported for south-west China karst soils.
    base = np.vectorize(SOIL_PCO2_BASE.get, otypes=[float])(np.where(inside, lc, 2))
    pco2 = base * np.exp(0.0588 * (temp - 15.0)) * np.exp(0.18 * smooth_noise(rng, 3))
    pco2 = np.round(np.clip(pco2, 2000.0, 20000.0), -1)

    # NEP [g C m-2 yr-1]: class level x (1 + 3 %/degC), patch noise; none on water.
    nbase = np.vectorize(NEP_BASE.get, otypes=[float])(np.where(inside, lc, 2))
    nep_factor = (1 + 0.03 * (temp - 15.0)) * np.exp(0.12 * smooth_noise(rng, 4))
    nep = np.round(nbase * nep_factor, 1)

    out = {"landcover": lc, "carbonate": carb, "runoff": np.round(runoff, 0),
           "temperature": np.round(temp, 1), "soil_pco2": pco2, "dem": np.round(dem, 0),
           "nep": nep, "nep_factor": nep_factor}
    for name in out:
        if name not in ("landcover", "nep_factor"):
            out[name] = np.where(inside, out[name], np.nan).astype(np.float32)
    return out


def make_history(fields: dict[str, np.ndarray], inside: np.ndarray) -> dict:
    """The earlier years of the series: ``{year: {landcover, runoff, temperature, nep}}``.

    Restoration run backwards from the 2020 state: in year *y* the share
    ``WAS_CROPLAND[y]`` of the 2020 forest on slopes >= :data:`STEEP_DEG` was cropland
    and ``WAS_BARREN[y]`` of the 2020 shrub on carbonate >= 0.6 was barren, chosen by a
    smooth score so they come in patches (the 2010 set inside the 2000 set: conversion
    only goes forward).  NEP follows the year's class (the class level x the 2020 pixel's
    temperature and patch factor: no maturity lag), runoff and temperature the yearly
    factors.  Own random stream (``SEED + 100``).
    """
    rng = np.random.default_rng(SEED + 100)
    lc = fields["landcover"]
    dem = fields["dem"].astype(float)
    gy, gx = np.gradient(dem, PIXEL)  # NaN beside the outline: those pixels never qualify
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    steep_forest = inside & (lc == 2) & (np.nan_to_num(slope) >= STEEP_DEG)
    karst_shrub = inside & (lc == 3) & (np.nan_to_num(fields["carbonate"]) >= 0.6)
    score_crop, score_bare = smooth_noise(rng, 3), smooth_noise(rng, 3)
    anomaly = {y: smooth_noise(rng, 20) for y in RUNOFF_FACTOR}
    out = {}
    for y in sorted(WAS_CROPLAND):
        year_lc = lc.copy()
        for mask, score, share, code in ((steep_forest, score_crop, WAS_CROPLAND[y], 1),
                                         (karst_shrub, score_bare, WAS_BARREN[y], 7)):
            cut = np.quantile(score[mask], 1 - share)
            year_lc[mask & (score >= cut)] = code
        nbase = np.vectorize(NEP_BASE.get, otypes=[float])(np.where(inside, year_lc, 2))
        nep = np.round(nbase * fields["nep_factor"], 1)
        runoff = fields["runoff"] * RUNOFF_FACTOR[y] * (1 + 0.03 * anomaly[y])
        temp = fields["temperature"] + TEMPERATURE_OFFSET_C[y]
        out[y] = {"landcover": year_lc,
                  "runoff": np.where(inside, np.round(runoff, 0), np.nan).astype(np.float32),
                  "temperature": np.where(inside, np.round(temp, 1), np.nan).astype(np.float32),
                  "nep": np.where(inside, nep, np.nan).astype(np.float32)}
    return out


RASTER_META = {
    "landcover": ("land cover, CLCD class codes", "class",
                  "1 cropland, 2 forest, 3 shrub, 4 grassland, 5 water, 7 barren, 8 impervious"),
    "carbonate": ("carbonate-rock fraction of the pixel", "1", "0..1"),
    "runoff": ("runoff depth", "mm yr-1", "400..900, rising to the south-east"),
    "temperature": ("mean annual air temperature", "degC", "10..20, cooler to the north-west"),
    "soil_pco2": ("soil CO2 partial pressure", "ppmv", "2000..20000, by land cover"),
    "dem": ("elevation above sea level", "m", "500..2800, high in the west"),
    "nep": ("net ecosystem production (biological sink)", "g C m-2 yr-1",
            "by land cover; none on water"),
}


def write_rasters(fields: dict[str, np.ndarray], transform, out: Path,
                  year: int = YEARS[-1]) -> None:
    """Write ``fields`` as ``rasters/<name>.tif`` (a :data:`YEARLY` one as
    ``rasters/<name>_<year>.tif``)."""
    import rasterio

    (out / "rasters").mkdir(parents=True, exist_ok=True)
    for name, data in fields.items():
        desc, unit, note = RASTER_META[name]
        yearly = name in YEARLY
        is_class = name == "landcover"
        profile = dict(
            driver="GTiff", width=WIDTH, height=HEIGHT, count=1, crs=CRS, transform=transform,
            dtype="uint8" if is_class else "float32", nodata=0 if is_class else float("nan"),
            compress="deflate", zlevel=9, predictor=2 if is_class else 3, tiled=True,
            blockxsize=256, blockysize=256,
        )
        path = out / "rasters" / (f"{name}_{year}.tif" if yearly else f"{name}.tif")
        when = f", {year}" if yearly else ""
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
            dst.set_band_description(1, f"{desc}{when} [{unit}] (SYNTHETIC)")
            dst.update_tags(1, units=unit)
            dst.update_tags(SYNTHETIC=SYNTHETIC, description=f"{desc}{when} [{unit}]; {note}",
                            units=unit, generator="data/demo/make_demo.py", seed=str(SEED),
                            **({"year": str(year)} if yearly else {}))


# ---------------------------------------------------------------------------
# counties
# ---------------------------------------------------------------------------

def make_counties(rng: np.random.Generator, poly, out: Path, n: int = 80) -> None:
    import geopandas as gpd
    import shapely
    from shapely.geometry import MultiPoint, Point

    minx, miny, maxx, maxy = poly.bounds
    pts: list[tuple[float, float]] = []
    while len(pts) < n * 30:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if poly.contains(Point(x, y)):
            pts.append((x, y))
    cloud = np.array(pts)
    seeds = cloud[rng.choice(len(cloud), n, replace=False)]
    for _ in range(12):  # Lloyd relaxation: counties of similar size, as in reality
        d = ((cloud[:, None, :] - seeds[None, :, :]) ** 2).sum(-1)
        nearest = d.argmin(1)
        seeds = np.array([cloud[nearest == i].mean(0) if np.any(nearest == i) else seeds[i]
                          for i in range(n)])
    cells = shapely.voronoi_polygons(MultiPoint(seeds), extend_to=poly.buffer(50_000))
    geoms = [shapely.intersection(cell, poly) for cell in cells.geoms]
    geoms = [g for g in geoms if not g.is_empty]
    order = sorted(range(len(geoms)), key=lambda i: (-round(geoms[i].centroid.y / 40_000),
                                                     geoms[i].centroid.x))
    geoms = [shapely.set_precision(geoms[i], 1.0) for i in order]
    gdf = gpd.GeoDataFrame({
        "name": [f"County {i + 1:02d}" for i in range(len(geoms))],
        "name_zh": [f"示例县{i + 1:02d}" for i in range(len(geoms))],
        "area_km2": [round(g.area / 1e6, 1) for g in geoms],
        "note": "SYNTHETIC demo polygon",
    }, geometry=geoms, crs=CRS)
    path = out / "counties.gpkg"
    if path.exists():
        path.unlink()
    # fixed time stamp in gpkg_contents so re-running gives the same file content
    previous = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = "2026-01-01T00:00:00.000Z"
    try:
        gdf.to_file(path, layer="counties", driver="GPKG", engine="pyogrio")
    finally:
        if previous is None:
            del os.environ["OGR_CURRENT_DATE"]
        else:
            os.environ["OGR_CURRENT_DATE"] = previous


# ---------------------------------------------------------------------------
# discharge and samples
# ---------------------------------------------------------------------------

def make_discharge(rng: np.random.Generator, c: dict) -> pd.Series:
    """Daily discharge [m3/s]: monsoon rain through a quick and a slow linear reservoir."""
    days = pd.date_range(START, END, freq="D")
    doy = days.day_of_year.to_numpy()
    # wet season May-September (peak late June), dry winter
    season = np.exp(-(((doy - 178) / 48.0) ** 2))
    p_rain = 0.18 + 0.42 * season
    rain = np.where(rng.uniform(size=len(days)) < p_rain,
                    rng.gamma(0.75, 6.0 + 22.0 * season), 0.0)
    # a few monsoon storms (50-150 mm days)
    storm = rng.uniform(size=len(days)) < 0.012 * season
    rain = rain + storm * rng.uniform(50.0, 150.0, len(days))
    kq, ks = c["k_quick"], c["k_slow"]
    q_quick = np.zeros(len(days))
    q_slow = np.zeros(len(days))
    # start both stores at their long-term mean storage (no empty-aquifer spin-up)
    sq, ss = c["quick"] * rain.mean() * kq, (1 - c["quick"]) * rain.mean() * ks
    for i, r in enumerate(rain):  # linear reservoirs, outflow = storage / k
        sq += c["quick"] * r
        ss += (1 - c["quick"]) * r
        q_quick[i], q_slow[i] = sq / kq, ss / ks
        sq -= q_quick[i]
        ss -= q_slow[i]
    q = q_quick + q_slow
    mean_q = c["runoff_mm"] / 1000.0 * c["area_km2"] * 1e6 / 3.15576e7  # m3/s
    q = q / q.mean() * mean_q
    q = np.array([float(f"{v:.4g}") for v in q])
    return pd.Series(q, index=days, name="Q (m3/s)")


def _log_k2_kc(temp_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log10 K2 and log10 Kc(calcite) after Plummer & Busenberg (1982).

    doi:10.1016/0016-7037(82)90056-4
    """
    t = temp_c + 273.15
    lt = np.log10(t)
    log_k2 = -107.8871 - 0.03252849 * t + 5151.79 / t + 38.92561 * lt - 563713.9 / t ** 2
    log_kc = -171.9065 - 0.077993 * t + 2839.319 / t + 71.595 * lt
    return log_k2, log_kc


def _davies(z: int, ionic: np.ndarray) -> np.ndarray:
    s = np.sqrt(ionic)
    return -0.51 * z ** 2 * (s / (1 + s) - 0.3 * ionic)


def make_samples(rng: np.random.Generator, c: dict, q: pd.Series) -> pd.DataFrame:
    """About 60 samples: monthly visits (some missed) plus storm sampling, lab-sheet style."""
    months = pd.date_range(START, END, freq="MS")
    dates = [m + pd.Timedelta(days=int(rng.integers(4, 24))) for m in months]
    keep = rng.uniform(size=len(dates)) > 0.2
    dates = [d for d, k in zip(dates, keep, strict=True) if k]
    wet = q[q.index.month.isin([5, 6, 7, 8])]
    storm_days = wet.nlargest(40).index[rng.choice(40, 6, replace=False)]
    dates = sorted(set(dates) | set(storm_days))
    n = len(dates)
    qs = q.reindex(dates).to_numpy()
    qmed = float(np.median(q))
    doy = np.array([d.day_of_year for d in dates])
    season = np.sin(2 * np.pi * (doy - 110) / 365.25)

    # chemostatic HCO3: C = a (Q/Qmed)^b with 4 % scatter
    hco3 = c["hco3"] * (qs / qmed) ** c["b"] * np.exp(rng.normal(0, 0.04, n))
    so4 = c["so4"] * (qs / qmed) ** -0.15 * np.exp(rng.normal(0, 0.15, n))
    no3 = c["no3"] * (1 + 0.3 * season) * np.exp(rng.normal(0, 0.2, n))
    cl = 4.0 * np.exp(rng.normal(0, 0.25, n))
    na = cl / M["cl"] * 0.9 * M["na"] + rng.uniform(0.3, 1.2, n)  # rain-like Na/Cl + silicate
    k = rng.uniform(0.3, 1.6, n)
    f = rng.uniform(0.035, 0.25, n)  # fluoride: a few values below the 0.05 mg/L limit
    temp = c["temp"] + 2.2 * season + rng.normal(0, 0.3, n)

    # Ca + Mg close the charge balance to within ~1.5 % (meq/L)
    anions = (hco3 / M["hco3"] + 2 * so4 / M["so4"] + no3 / M["no3"] + cl / M["cl"]
              + f / M["f"])
    cations_needed = anions - na / M["na"] - k / M["k"]
    camg_meq = cations_needed * (1 + rng.normal(0, 0.015, n))
    mg_share = np.clip(c["mg_share"] + rng.normal(0, 0.02, n), 0.02, 0.6)
    ca = camg_meq / 2 * (1 - mg_share) * M["ca"]
    mg = camg_meq / 2 * mg_share * M["mg"]

    # pH from a target calcite saturation index (-0.3..+0.5), via P&B constants and Davies
    # activity coefficients: SI = log aCa + log K2 + log aHCO3 + pH - log Kc.
    ionic = 0.5 * (4 * ca / M["ca"] + 4 * mg / M["mg"] + na / M["na"] + k / M["k"]
                   + hco3 / M["hco3"] + 4 * so4 / M["so4"] + no3 / M["no3"] + cl / M["cl"]) / 1e3
    si_target = np.clip(rng.normal(0.15, 0.18, n), -0.3, 0.5)
    log_k2, log_kc = _log_k2_kc(temp)
    log_aca = np.log10(ca / M["ca"] / 1e3) + _davies(2, ionic)
    log_ahco3 = np.log10(hco3 / M["hco3"] / 1e3) + _davies(1, ionic)
    ph = np.clip(si_target - log_aca - log_k2 - log_ahco3 + log_kc, 6.9, 8.3)
    # EC [uS/cm] ~ 100 x sum of cations [meq/L] (common rule of thumb for dilute waters)
    ec = 100.0 * (camg_meq + na / M["na"] + k / M["k"]) * np.exp(rng.normal(0, 0.02, n))

    storm = np.isin(np.array(dates, dtype="datetime64[ns]"),
                    np.array(storm_days, dtype="datetime64[ns]"))
    table = pd.DataFrame({
        "Sample ID": [f"SYN-{c['id_prefix']}-{i + 1:03d}" for i in range(n)],
        "Site": c["site"],
        "Date": [d.strftime("%Y-%m-%d") for d in dates],
        "T (°C)": [f"{v:.1f}" for v in temp],
        "pH": [f"{v:.2f}" for v in ph],
        "EC (μS/cm)": [f"{v:.0f}" for v in ec],
        "Ca2+ (mg/L)": [f"{v:.1f}" for v in ca],
        "Mg2+ (mg/L)": [f"{v:.2f}" for v in mg],
        "Na+ (mg/L)": [f"{v:.2f}" for v in na],
        "K+ (mg/L)": [f"{v:.2f}" for v in k],
        "Cl- (mg/L)": [f"{v:.2f}" for v in cl],
        "SO42- (mg/L)": [f"{v:.1f}" for v in so4],
        "NO3- (mg/L)": [f"{v:.1f}" for v in no3],
        "HCO3- (mg/L)": [f"{v:.1f}" for v in hco3],
        "F- (mg/L)": [f"{v:.2f}" if v >= 0.05 else "<0.05" for v in f],
        "Remarks": ["SYNTHETIC; storm sample 暴雨采样" if s else "SYNTHETIC" for s in storm],
    })
    # the blanks and codes real lab sheets have (never in pH, temperature, HCO3 or date)
    for col, count in (("K+ (mg/L)", 2), ("Cl- (mg/L)", 1), ("EC (μS/cm)", 1)):
        for i in rng.choice(n, count, replace=False):
            table.loc[i, col] = ""
    return table


# ---------------------------------------------------------------------------
# catchment outlines
# ---------------------------------------------------------------------------

#: A pixel counts as karst for the outlines when its carbonate fraction is at least this.
OUTLINE_MIN_CARBONATE = 0.9


def outline_shape(c: dict, index: int):
    """An irregular lobe of exactly the catchment's area, centred on (0, 0) [m].

    An ellipse (axes 1.4 : 1) with random low harmonics in its radius, from its own
    random stream (``SEED + 1 + index``), so the other outputs do not change; scaled to
    ``area_km2`` and rounded to 1 m vertices.
    """
    import shapely
    from shapely.geometry import Polygon

    rng = np.random.default_rng(SEED + 1 + index)
    theta = np.linspace(0, 2 * np.pi, 121)[:-1]
    radius = np.ones_like(theta)
    for k in range(2, 6):
        radius += rng.uniform(0.03, 0.10) / k * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    turn = rng.uniform(0, np.pi)
    x, y = 1.4 * radius * np.cos(theta), radius * np.sin(theta)
    x, y = x * np.cos(turn) - y * np.sin(turn), x * np.sin(turn) + y * np.cos(turn)
    unit = Polygon(np.column_stack([x, y]))
    scale = math.sqrt(c["area_km2"] * 1e6 / unit.area)
    return shapely.set_precision(Polygon(np.column_stack([scale * x, scale * y])), 1.0)


def place_outline(shape, carbonate: np.ndarray, lon: float, lat: float):
    """Move ``shape`` to the pixel centre nearest the outlet where every pixel it touches
    is karst (carbonate fraction >= :data:`OUTLINE_MIN_CARBONATE`, inside the province)."""
    import shapely
    from affine import Affine
    from rasterio.features import geometry_mask

    half = math.ceil(max(abs(v) for v in shape.bounds) / PIXEL) + 1
    local = Affine(PIXEL, 0.0, -(half + 0.5) * PIXEL, 0.0, -PIXEL, (half + 0.5) * PIXEL)
    touched = geometry_mask([shape], out_shape=(2 * half + 1, 2 * half + 1), transform=local,
                            invert=True, all_touched=True)
    dr, dc = np.nonzero(touched)
    dr, dc = dr - half, dc - half
    karst = np.nan_to_num(carbonate, nan=0.0) >= OUTLINE_MIN_CARBONATE
    r0, c0 = lonlat_to_pixel(lon, lat)
    rows, cols = np.mgrid[half:HEIGHT - half, half:WIDTH - half]
    order = np.argsort(((rows - r0) ** 2 + (cols - c0) ** 2).ravel(), kind="stable")
    for r, col in zip(rows.ravel()[order], cols.ravel()[order], strict=True):
        if karst[r + dr, col + dc].all():
            x = LEFT + (col + 0.5) * PIXEL
            y = TOP - (r + 0.5) * PIXEL
            return shapely.transform(shape, lambda xy, x=x, y=y: xy + [x, y])  # noqa: RUF005 (numpy shift)
    raise RuntimeError(f"no karst site for an outline near {lon} E {lat} N")


def write_outlines(out: Path = HERE, carbonate: np.ndarray | None = None) -> dict:
    """Write ``catchments/<key>_outline.gpkg`` for the three catchments.

    ``carbonate`` is the carbonate-fraction grid; by default it is read from
    ``out/rasters/carbonate.tif`` (so the outlines can be made without regenerating the
    rasters).  Returns ``{key: outline area [km2]}``.
    """
    import geopandas as gpd

    if carbonate is None:
        import rasterio

        with rasterio.open(out / "rasters" / "carbonate.tif") as src:
            carbonate = src.read(1)
    (out / "catchments").mkdir(parents=True, exist_ok=True)
    areas = {}
    previous = os.environ.get("OGR_CURRENT_DATE")
    os.environ["OGR_CURRENT_DATE"] = "2026-01-01T00:00:00.000Z"
    try:
        for i, c in enumerate(CATCHMENTS):
            poly = place_outline(outline_shape(c, i), carbonate, c["lon"], c["lat"])
            gdf = gpd.GeoDataFrame({
                "name": [c["key"]], "name_zh": [c["zh"]],
                "area_km2": [round(poly.area / 1e6, 3)],
                "note": ["SYNTHETIC demo catchment outline"],
            }, geometry=[poly], crs=CRS)
            path = out / "catchments" / f"{c['key']}_outline.gpkg"
            if path.exists():
                path.unlink()
            gdf.to_file(path, layer="outline", driver="GPKG", engine="pyogrio")
            areas[c["key"]] = poly.area / 1e6
    finally:
        if previous is None:
            del os.environ["OGR_CURRENT_DATE"]
        else:
            os.environ["OGR_CURRENT_DATE"] = previous
    return areas


# ---------------------------------------------------------------------------

def main(out: Path = HERE) -> dict:
    """Write the whole dataset into ``out``; return a small summary (for the README/tests)."""
    rng = np.random.default_rng(SEED)
    out.mkdir(parents=True, exist_ok=True)
    poly, inside, transform = province_mask(rng)
    fields = make_fields(rng, inside)
    history = make_history(fields, inside)
    write_rasters({k: v for k, v in fields.items() if k != "nep_factor"}, transform, out)
    for year, yearly in history.items():
        write_rasters(yearly, transform, out, year)
    make_counties(rng, poly, out)

    (out / "catchments").mkdir(exist_ok=True)
    summary = {"province_km2": float(inside.sum()),
               "carbonate_mean": float(np.nanmean(fields["carbonate"]))}
    for year, yearly in {**history, YEARS[-1]: fields}.items():
        lc = yearly["landcover"]
        summary[f"landcover_km2_{year}"] = {LANDCOVER[k]: int((lc == k).sum())
                                             for k in LANDCOVER}
        summary[f"nep_t_c_yr_{year}"] = float(np.nansum(yearly["nep"]))
    for i, c in enumerate(CATCHMENTS):
        q = make_discharge(rng, c)
        header = (f"# {SYNTHETIC}\n# catchment: {c['key']} ({c['zh']}), {c['like']}; "
                  f"area {c['area_km2']} km2; daily mean discharge in m3/s\n")
        with open(out / "catchments" / f"{c['key']}_discharge.csv", "w", encoding="utf-8",
                  newline="\n") as fh:
            fh.write(header)
            fh.write("date,Q (m3/s)\n")
            for day, v in q.items():
                fh.write(f"{day:%Y-%m-%d},{v:.4g}\n")
        samples = make_samples(rng, c, q)
        if c["key"] == "longtan":
            samples.loc[int(rng.integers(5, len(samples) - 5)), "Na+ (mg/L)"] = "n.d."
        # one lab sheet saved by Excel as "UTF-8 with BOM", as Chinese labs often send them
        encoding = "utf-8-sig" if i == 1 else "utf-8"
        samples.to_csv(out / "catchments" / f"{c['key']}_samples.csv", index=False,
                       encoding=encoding, lineterminator="\n")
        summary[c["key"]] = {"n_samples": len(samples), "mean_q_m3s": float(q.mean())}
    for key, area in write_outlines(out, fields["carbonate"]).items():
        summary[key]["outline_km2"] = area
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: here)")
    parser.add_argument("--outlines-only", action="store_true",
                        help="write only catchments/*_outline.gpkg (from rasters/carbonate.tif)")
    args = parser.parse_args()
    print(write_outlines(args.out) if args.outlines_only else main(args.out))
