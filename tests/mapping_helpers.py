"""Small synthetic raster sets for the map tests (made at test time, never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

UTM = "EPSG:32648"  # WGS 84 / UTM 48N (Guizhou)
GEO = "EPSG:4326"
# a 300 x 200 px, 30 m land-cover grid near Guiyang
LC_TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 2900000.0)
LC_SHAPE = (200, 300)
# climate grid in EPSG:4326 covering the land-cover grid with a margin (0.02 deg cells)
GEO_TRANSFORM = Affine(0.02, 0.0, 104.9, 0.0, -0.02, 26.3)
GEO_SHAPE = (20, 20)


def write(path: Path, data: np.ndarray, transform: Affine, crs: str | None,
          nodata=None) -> Path:
    """Write a single-band GeoTIFF."""
    profile = {"driver": "GTiff", "width": data.shape[1], "height": data.shape[0], "count": 1,
               "dtype": data.dtype, "transform": transform, "nodata": nodata}
    if crs is not None:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    return path


def uniform_inputs(folder: Path, *, temp=15.0, pco2_ppmv=10_000.0, runoff_mm=500.0,
                   landcover=10, karst_cols=None) -> dict[str, Path]:
    """Land cover + carbonate on the UTM grid, runoff/temperature/pCO2 uniform in EPSG:4326.

    The carbonate mask is 1 in the rows ``50:`` and 0 above (non-karst strip).
    """
    folder.mkdir(parents=True, exist_ok=True)
    lc = np.full(LC_SHAPE, landcover, np.uint8)
    carb = np.ones(LC_SHAPE, np.float32)
    carb[:50] = 0.0
    paths = {
        "landcover": write(folder / "lc.tif", lc, LC_TRANSFORM, UTM, nodata=0),
        "carbonate": write(folder / "carb.tif", carb, LC_TRANSFORM, UTM),
    }
    for name, val in (("runoff", runoff_mm), ("temperature", temp), ("soil_pco2", pco2_ppmv)):
        paths[name] = write(folder / f"{name}.tif", np.full(GEO_SHAPE, val, np.float32),
                            GEO_TRANSFORM, GEO, nodata=-9999.0)
    return paths


def write_config(folder: Path, inputs: dict[str, Path], extra: str = "",
                 block_size: int = 128) -> Path:
    """A map config with the given inputs (paths relative to the config)."""
    lines = ["[inputs]"]
    lines += [f'{k} = "{Path(v).name}"' for k, v in inputs.items()]
    lines += ["[grid]", f"block_size = {block_size}"]
    text = "\n".join(lines) + "\n" + extra
    cfg = folder / "map.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def zones_two_halves(folder: Path, split_x: float = 504515.0) -> Path:
    """Two polygons splitting the land-cover grid at ``split_x`` (mid-pixel by default)."""
    import geopandas as gpd
    import shapely

    left, top = 500000.0, 2900000.0
    right, bottom = left + 30 * LC_SHAPE[1], top - 30 * LC_SHAPE[0]
    gdf = gpd.GeoDataFrame(
        {"county": ["West", "East"]},
        geometry=[shapely.box(left, bottom, split_x, top), shapely.box(split_x, bottom, right,
                                                                       top)],
        crs=UTM,
    )
    path = folder / "zones.gpkg"
    gdf.to_file(path)
    return path


def read(path: Path) -> np.ndarray:
    """Band 1 as float64."""
    with rasterio.open(path) as ds:
        return ds.read(1).astype(float)
