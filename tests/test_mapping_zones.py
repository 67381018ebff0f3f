"""Zone files: reading, reprojection, errors, numeric zone names."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from mapping_helpers import GEO, UTM, uniform_inputs, write_config
from numpy.testing import assert_allclose

from karstsink.exceptions import ConfigError, DataError
from karstsink.mapping.config import load_config
from karstsink.mapping.engine import run_map
from karstsink.mapping.zones import load_zones

GRID_CRS = rasterio.crs.CRS.from_string(UTM)


def _two_zones_geo(path, field="name", values=("a", "b"), crs=GEO):
    gdf = gpd.GeoDataFrame({field: list(values)}, geometry=[
        shapely.box(104.90, 25.90, 105.00, 26.00),
        shapely.MultiPolygon([shapely.box(105.0, 25.9, 105.1, 26.0),
                              shapely.box(105.2, 25.9, 105.3, 26.0)])], crs=crs)
    gdf.to_file(path)
    return gdf


def test_zones_are_reprojected_to_the_grid_crs(tmp_path):
    _two_zones_geo(tmp_path / "z.gpkg")
    zs = load_zones(tmp_path / "z.gpkg", "name", GRID_CRS)
    assert zs.labels == ["a", "b"] and zs.n == 2
    assert zs.gdf.crs.to_epsg() == 32648
    # UTM zone 48N has its central meridian at 105 E, where the easting is the false
    # easting, 500 000 m: the first box's east edge (105.0 E) lands there
    xy = shapely.get_coordinates(zs.gdf.geometry.iloc[0])
    assert_allclose(xy[:, 0].max(), 500000.0, atol=1e-6)


def test_numeric_zone_field_becomes_text_labels(tmp_path):
    _two_zones_geo(tmp_path / "z.gpkg", field="code", values=(520102, 520103))
    zs = load_zones(tmp_path / "z.gpkg", "code", GRID_CRS)
    assert zs.labels == ["520102", "520103"]


def test_zone_file_errors(tmp_path):
    _two_zones_geo(tmp_path / "z.gpkg")
    with pytest.raises(ConfigError, match=r"field 'county' is not a column .*columns: name"):
        load_zones(tmp_path / "z.gpkg", "county", GRID_CRS)
    gpd.GeoDataFrame({"name": ["p"]}, geometry=[shapely.Point(105, 26)], crs=GEO).to_file(
        tmp_path / "points.gpkg")
    with pytest.raises(DataError, match="holds no polygons"):
        load_zones(tmp_path / "points.gpkg", "name", GRID_CRS)
    with pytest.warns(UserWarning, match="crs"):  # pyogrio warns about the missing CRS
        gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(
            tmp_path / "nocrs.gpkg")
    with pytest.raises(DataError, match="has no CRS"):
        load_zones(tmp_path / "nocrs.gpkg", "name", GRID_CRS)
    (tmp_path / "junk.gpkg").write_text("not a geopackage", encoding="utf-8")
    with pytest.raises(DataError, match="Cannot read zones file"):
        load_zones(tmp_path / "junk.gpkg", "name", GRID_CRS)


def test_numeric_zone_field_map_run(tmp_path):
    # county codes are often numbers: the zone table used to fail at the very end of the
    # run (a merge of numeric codes with their text labels); zones in another CRS than
    # the grid; the CSV, the GeoPackage and result.zonal agree
    inputs = uniform_inputs(tmp_path)
    left, top = 500000.0, 2900000.0
    gdf = gpd.GeoDataFrame({"code": [1, 2]}, geometry=[
        shapely.box(left, top - 6000, left + 4515, top),
        shapely.box(left + 4515, top - 6000, left + 9000, top)], crs=UTM).to_crs(GEO)
    gdf.to_file(tmp_path / "zones.gpkg")
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "zones.gpkg"\nfield = "code"\n')
    res = run_map(load_config(cfg), tmp_path / "out", jobs=2)
    assert res.zonal["code"].tolist() == ["1", "2", "TOTAL (all zones)"]
    # 4.515 km x 6 km and 4.485 km x 6 km (area-weighted at the border), total 54 km2
    assert_allclose(res.zonal["area_km2"], [27.09, 26.91, 54.0], rtol=0.005)
    csv = pd.read_csv(tmp_path / "out" / "zonal_totals.csv", dtype={"code": str})
    pd.testing.assert_frame_equal(res.zonal, csv, check_exact=False, rtol=1e-15)
    gpkg = gpd.read_file(tmp_path / "out" / "zonal_totals.gpkg")
    assert gpkg["code"].tolist() == ["1", "2"]
    assert_allclose(gpkg["area_km2"], res.zonal["area_km2"][:2], rtol=1e-15)
    assert np.isclose(gpkg.geometry.area.sum() / 1e6, 54.0, rtol=1e-3)  # back in UTM
