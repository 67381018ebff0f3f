"""Write a small synthetic raster set for ``examples/map_config.toml`` (labelled synthetic).

Usage::

    python examples/make_map_inputs.py OUT_DIR
    karstsink map OUT_DIR/map_config.toml -o OUT_DIR/out

Land cover, carbonate, dolomite and DEM on a 400 x 300 px, 30 m UTM 48N grid;
precipitation, actual ET and temperature as 0.01-degree fields in EPSG:4326;
four "county" polygons.  Values are plausible for Guizhou (SYNTHETIC, not measurements).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine

UTM, GEO = "EPSG:32648", "EPSG:4326"


def _write(path, data, transform, crs, nodata=None):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0],
                       count=1, dtype=data.dtype, crs=crs, transform=transform,
                       nodata=nodata) as ds:
        ds.write(data, 1)
        ds.update_tags(note="SYNTHETIC example data made by examples/make_map_inputs.py")


def main(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    h, w = 300, 400
    tr = Affine(30.0, 0.0, 480000.0, 0.0, -30.0, 2960000.0)
    coarse = rng.choice(np.array([10, 20, 30, 40, 50, 60, 80], np.uint8), size=(10, 14),
                        p=[0.4, 0.15, 0.1, 0.25, 0.04, 0.04, 0.02])
    lc = np.kron(coarse, np.ones((30, 30), np.uint8))[:h, :w]
    _write(out / "landcover.tif", lc, tr, UTM, nodata=0)
    carb = (np.kron(rng.random((6, 8)) < 0.6, np.ones((50, 50)))[:h, :w]).astype(np.uint8)
    _write(out / "carbonate.tif", carb, tr, UTM)
    _write(out / "dolomite.tif", np.kron(rng.random((3, 4)), np.ones((100, 100)))[:h, :w]
           .astype(np.float32), tr, UTM)
    x = np.arange(w) * 30.0
    y = np.arange(h)[:, None] * 30.0
    dem = (1100 + 0.35 * x + 250 * np.sin(y / 900.0) * np.cos(x / 700.0)).astype(np.float32)
    _write(out / "dem.tif", dem, tr, UTM)
    gtr = Affine(0.01, 0.0, 104.75, 0.0, -0.01, 26.78)
    lon = 104.75 + 0.01 * (np.arange(20) + 0.5)
    lat = 26.78 - 0.01 * (np.arange(16) + 0.5)[:, None]
    _write(out / "precip.tif", (1150 + 80 * np.sin(lon * 40) + 0 * lat).astype(np.float32),
           gtr, GEO, nodata=-9999.0)
    _write(out / "aet.tif", (650 + 40 * np.cos(lat * 50) + 0 * lon).astype(np.float32), gtr,
           GEO, nodata=-9999.0)
    _write(out / "temperature.tif", (14.5 + 1.5 * np.cos(lat * 30) - 0 * lon)
           .astype(np.float32), gtr, GEO, nodata=-9999.0)
    x0, y0, x1, y1 = 480000.0, 2960000.0 - 30 * h, 480000.0 + 30 * w, 2960000.0
    xm, ym = 486100.0, 2955530.0
    polys = [shapely.box(x0, ym, xm, y1), shapely.box(xm, ym, x1, y1),
             shapely.box(x0, y0, xm, ym), shapely.box(xm, y0, x1, ym)]
    gpd.GeoDataFrame({"county": ["Northwest", "Northeast", "Southwest", "Southeast"]},
                     geometry=polys, crs=UTM).to_file(out / "counties.gpkg")
    shutil.copy(Path(__file__).with_name("map_config.toml"), out / "map_config.toml")
    return out / "map_config.toml"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("map_example")
    cfg = main(target)
    print(f"wrote synthetic inputs; run: karstsink map {cfg} -o {target / 'out'}")
