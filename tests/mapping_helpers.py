"""Small synthetic raster sets for the map tests (made at test time, never committed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

#: Map runs that use few Monte Carlo draws for speed, not for their sensitivity shares.
FEW_DRAWS = pytest.mark.filterwarnings(
    r"ignore:\[uncertainty\] draws = \d+ is too few for the sensitivity regression"
    ":karstsink.exceptions.DataQualityWarning")

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


def cog_layout_errors(path: Path) -> list[str]:
    """Check a GeoTIFF against the COG layout rules (independent of the writer's code).

    Rules as documented for GDAL's COG driver and its validator: the main IFD
    right after the header and GDAL's structural-metadata block; overview IFDs
    after it, by decreasing size; every IFD before any tile data; tile data of
    the smallest overview first and of the full resolution last; tiles of each
    level in row-major order; when declared, each tile preceded by its size as
    uint32 and followed by a repeat of its last 4 bytes.
    """
    import struct

    from karstsink.mapping._cog import read_ifds, tag_values

    errors = []
    raw = Path(path).read_bytes()
    big, ifds = read_ifds(path)
    head = 16 if big else 8
    md = {}
    if raw[head:head + 30] == b"GDAL_STRUCTURAL_METADATA_SIZE=":
        size = int(raw[head + 30:head + 36])
        text = raw[head + 43:head + 43 + size].decode("latin-1")
        md = dict(line.split("=", 1) for line in text.split("\n") if "=" in line)
        expected = head + 43 + size
        expected += expected % 2
    else:
        expected = head
    if ifds[0]["_offset"] != expected:
        errors.append(f"main IFD at {ifds[0]['_offset']}, expected {expected}")
    sizes = [(tag_values(i[256])[0], tag_values(i[257])[0]) for i in ifds]
    for k in range(1, len(ifds)):
        if ifds[k]["_offset"] < ifds[k - 1]["_offset"]:
            errors.append(f"IFD {k} before IFD {k - 1}")
        if sizes[k][0] > sizes[k - 1][0] or sizes[k][1] > sizes[k - 1][1]:
            errors.append(f"IFD {k} larger than IFD {k - 1}")
    first_data = []
    for k, ifd in enumerate(ifds):
        if 324 not in ifd:
            errors.append(f"IFD {k} is not tiled")
            continue
        offs = tag_values(ifd[324])
        cnts = tag_values(ifd[325])
        first_data.append(min(offs))
        if md.get("BLOCK_ORDER") == "ROW_MAJOR" and list(offs) != sorted(offs):
            errors.append(f"IFD {k}: tiles not in row-major order")
        for o, n in zip(offs, cnts, strict=True):
            if md.get("BLOCK_LEADER") == "SIZE_AS_UINT4" and \
                    struct.unpack_from("<I", raw, o - 4)[0] != n:
                errors.append(f"IFD {k}: bad leader at {o}")
                break
            if md.get("BLOCK_TRAILER") == "LAST_4_BYTES_REPEATED" and \
                    raw[o + n - 4:o + n] != raw[o + n:o + n + 4]:
                errors.append(f"IFD {k}: bad trailer at {o}")
                break
    if first_data and min(first_data) < max(i["_offset"] for i in ifds):
        errors.append("tile data before the last IFD")
    for k in range(len(first_data) - 1):
        if first_data[k] < first_data[k + 1]:
            errors.append(f"data of level {k} before data of level {k + 1}")
    return errors
