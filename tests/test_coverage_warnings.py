"""Totals that cover less than they seem to: a zone partly off the map grid
(``off_grid_area_km2`` and one warning) and an input raster without a value on part of
the carbonate rock (one warning per input, ``missing_input_values`` in run.json)."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from affine import Affine
from mapping_helpers import LC_SHAPE, LC_TRANSFORM, UTM, uniform_inputs, write, write_config
from numpy.testing import assert_allclose
from rasterio.crs import CRS

from karstsink.exceptions import DataQualityWarning
from karstsink.mapping._zone_io import write_zone_tables
from karstsink.mapping.config import load_config
from karstsink.mapping.grid import Grid
from karstsink.mapping.run import run_map

# uniform_inputs: land cover 300 x 200 px of 30 m from (500000, 2900000) in UTM 48N, i.e.
# x 500000-509000, y 2894000-2900000 (9 km x 6 km = 54 km2); carbonate in rows 50-199
# (150 x 300 = 45000 px), none in rows 0-49
LEFT, TOP = 500000.0, 2900000.0
RIGHT, BOTTOM = LEFT + 9000.0, TOP - 6000.0
ROCK_PX = 150 * 300
ZONES = '[zones]\npath = "zones.gpkg"\nfield = "county"\n'


def _zones(folder, boxes: dict) -> None:
    gpd.GeoDataFrame({"county": list(boxes)}, geometry=list(boxes.values()),
                     crs=UTM).to_file(folder / "zones.gpkg")


def _matching(caught, text: str) -> list[str]:
    return [str(w.message) for w in caught if text in str(w.message)]


# --- zones partly off the grid ---------------------------------------------------------
def test_zone_partly_off_the_grid_gets_its_off_grid_area_and_a_warning(tmp_path):
    # "In": x 500-503 km, the full 6 km height: 3 x 6 = 18 km2, all on the grid.
    # "Half": x 506-512 km: 6 x 6 = 36 km2, of which x 509-512 km (3 x 6 = 18 km2) lies
    # east of the grid's edge at 509 km: 18 km2 off the grid, 18 km2 on it (50 %).
    _zones(tmp_path, {"In": shapely.box(LEFT, BOTTOM, LEFT + 3000, TOP),
                      "Half": shapely.box(RIGHT - 3000, BOTTOM, RIGHT + 3000, TOP)})
    cfg = write_config(tmp_path, uniform_inputs(tmp_path), extra=ZONES)
    # x 503-506 km between them (3 x 6 = 18 km2 of the 54 km2 grid) lies in no zone
    with pytest.warns(DataQualityWarning, match=r"1 zone\(s\) lie partly outside the map "
                      r"grid.*zone_id 2 \(county 'Half'\) 18 of 36 km2 \(50 %\)"), \
            pytest.warns(DataQualityWarning, match=r"^18 km2 of the map's valid pixels "
                         r"\(33\.3 % of its valid area"):
        res = run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    csv = pd.read_csv(tmp_path / "out" / "zonal_totals.csv")
    assert csv.columns[-1] == "off_grid_area_km2"  # appended: the other columns keep place
    assert_allclose(csv["area_km2"], [18.0, 18.0, 36.0], rtol=1e-9)
    # off the grid: 0 and 18 km2; TOTAL (no overlap): their sum, 18 km2
    assert_allclose(csv["off_grid_area_km2"], [0.0, 18.0, 18.0], rtol=1e-9, atol=0)
    assert res.zonal_columns["off_grid_area_km2"] == csv["off_grid_area_km2"].tolist()
    gpkg = gpd.read_file(tmp_path / "out" / "zonal_totals.gpkg")
    assert_allclose(gpkg["off_grid_area_km2"], [0.0, 18.0], rtol=1e-9, atol=0)


def test_zones_inside_the_grid_give_zero_and_no_warning(tmp_path):
    # the two halves of the grid share its outer edges exactly: nothing is off the grid
    _zones(tmp_path, {"West": shapely.box(LEFT, BOTTOM, 504515.0, TOP),
                      "East": shapely.box(504515.0, BOTTOM, RIGHT, TOP)})
    cfg = write_config(tmp_path, uniform_inputs(tmp_path), extra=ZONES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    assert res.zonal_columns["off_grid_area_km2"] == [0.0, 0.0, 0.0]


def test_off_grid_area_of_nested_zones_counts_their_union_once(tmp_path):
    # grid: 2 x 1 px of 1 km from (0, 1000): x 0-2 km, y 0-1 km
    grid = Grid(CRS.from_user_input(UTM), Affine(1000.0, 0.0, 0.0, 0.0, -1000.0, 1000.0), 2, 1)
    # A: x 0-1 km (inside); B: x 1.5-3 km, 1.5 km2 of which x 2-3 km (1 km2) is off;
    # C: x 0-3 km holds A and B: 3 km2, 1 km2 off. Their union is C: TOTAL 1 km2 off
    # (the sum over the zones would count it twice: 2 km2)
    geoms = np.array([shapely.box(0, 0, 1000, 1000), shapely.box(1500, 0, 3000, 1000),
                      shapely.box(0, 0, 3000, 1000)], dtype=object)
    # zone sums as the engine hands them (area, karst area, nodata area [km2], karst,
    # biological, total [t C yr-1]) for column 0 (outside), A, B, C and their union
    sums = np.array([[0.0, 1.0, 0.5, 2.0, 2.0], [0.0] * 5, [0.0] * 5, [0.0] * 5,
                     [0.0, 70.0, 35.0, 140.0, 140.0], [0.0, 70.0, 35.0, 140.0, 140.0]])
    cols = write_zone_tables(tmp_path, "name", {"zone_id": [1, 2, 3], "name": ["A", "B", "C"]},
                             geoms, UTM, sums, co2=False, grid=grid)
    assert cols["off_grid_area_km2"] == pytest.approx([0.0, 1.0, 1.0, 1.0], rel=1e-12)


def test_off_grid_area_on_a_geographic_grid_completes_the_pixel_area():
    from pyproj import Geod

    from karstsink.mapping._area import pixel_area_km2
    from karstsink.mapping._outline import off_grid_area_km2

    # grid: 105.0-106.0 E, 26.0-26.5 N in 0.01 deg cells; the zone 105.5-106.5 E over the
    # same latitudes: half of it (105.5-106.0 E) on the grid, half off
    grid = Grid(CRS.from_epsg(4326), Affine(0.01, 0.0, 105.0, 0.0, -0.01, 26.5), 100, 50)
    zone = shapely.box(105.5, 26.0, 106.5, 26.5)
    off = off_grid_area_km2([zone], grid)[0]
    on = float(pixel_area_km2(grid, 0, 50).sum()) * 50  # the 50 columns east of 105.5 E
    # on + off is the zone's whole area on the WGS 84 ellipsoid (pyproj's geodesic area;
    # the two halves are mirror images in longitude: each about half of it)
    whole = abs(Geod(ellps="WGS84").geometry_area_perimeter(zone)[0]) / 1e6
    assert on + off == pytest.approx(whole, rel=1e-4)
    assert off == pytest.approx(whole / 2, rel=1e-4)


def test_zone_table_written_without_a_grid_has_no_off_grid_column(tmp_path):
    sums = np.array([[0.0, 2.0], [0.0, 0.5], [0.0, 0.0], [0.0, 10.0], [0.0, 3.0],
                     [0.0, 13.0]])
    cols = write_zone_tables(tmp_path, "name", {"zone_id": [1], "name": ["a"]},
                             np.array([shapely.box(0, 0, 1, 1)], dtype=object), UTM, sums,
                             co2=False)
    assert "off_grid_area_km2" not in cols


# --- inputs without a value on part of the rock ----------------------------------------
def _temperature_hole(folder, inputs: dict) -> dict:
    """Temperature on the land-cover grid itself (pixel-exact), nodata in columns 200-299."""
    t = np.full(LC_SHAPE, 15.0, np.float32)
    t[:, 200:] = -9999.0
    write(inputs["temperature"], t, LC_TRANSFORM, UTM, nodata=-9999.0)
    return inputs


@pytest.mark.parametrize(("numba", "engine"), [("false", "threads"), ("true", "threads"),
                                               ("false", "processes")])
def test_climate_raster_short_of_the_rock_is_warned_with_its_share(tmp_path, numba, engine):
    if numba == "true":
        pytest.importorskip("numba")
    inputs = _temperature_hole(tmp_path, uniform_inputs(tmp_path))
    cfg = write_config(tmp_path, inputs, extra=f"[model]\nnumba = {numba}\n")
    # by hand: the hole covers 100 of the 300 columns in each of the 150 rock rows:
    # 15000 of 45000 carbonate px = 33.3 %; the 50 x 100 px of it off the rock do not count
    # (their karst sink is 0 whatever the temperature)
    with pytest.warns(DataQualityWarning, match=r"Input 'temperature' \(.*temperature\.tif\) "
                      r"has no value on 33\.3 % of the mapped carbonate pixels \(15000 of "
                      r"45000 px\)") as caught:
        res = run_map(load_config(cfg), tmp_path / "out", quicklook=False, engine=engine,
                      jobs=2)
    assert len(_matching(caught, "has no value on")) == 1  # one input, one warning
    flags = json.loads((tmp_path / "out" / "run.json").read_text())["flags"]
    assert flags["missing_input_values"] == {"temperature": {
        "pixels": 15000, "of_pixels": ROCK_PX, "domain": "carbonate", "share": 1 / 3}}
    # the karst sink lost the same share: 100 of 300 columns of rock without a sink
    # (nodata: 100 x 150 px of 900 m2 = 13.5 km2)
    assert res.totals["nodata_area_km2"] == pytest.approx(13.5, rel=1e-9)


def test_carbonate_raster_short_of_the_land_cover_is_warned(tmp_path):
    inputs = uniform_inputs(tmp_path)
    carb = np.ones(LC_SHAPE, np.float32)
    carb[:50] = 0.0
    carb[:, :30] = np.nan  # no lithology for the 30 westernmost columns
    write(inputs["carbonate"], carb, LC_TRANSFORM, UTM, nodata=float("nan"))
    cfg = write_config(tmp_path, inputs)
    # by hand: 30 columns x 200 rows = 6000 of the 300 x 200 = 60000 land-cover px (10 %)
    with pytest.warns(DataQualityWarning, match=r"Input 'carbonate' .* no value on 10 % of "
                      r"the mapped land-cover pixels \(6000 of 60000 px\)"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)


def test_series_warns_each_year_short_of_the_rock_and_a_partial_zone_once(tmp_path):
    inputs = uniform_inputs(tmp_path)
    for y in (2000, 2010):
        q = np.full(LC_SHAPE, 500.0, np.float32)
        if y == 2010:
            q[100:110] = -9999.0  # 10 rock rows x 300 px = 3000 of 45000 px (6.67 %)
        write(tmp_path / f"runoff_{y}.tif", q, LC_TRANSFORM, UTM, nodata=-9999.0)
    inputs["runoff"] = tmp_path / "runoff_{year}.tif"
    _zones(tmp_path, {"Half": shapely.box(RIGHT - 3000, BOTTOM, RIGHT + 3000, TOP)})
    cfg = write_config(tmp_path, inputs, extra=ZONES + "[series]\nyears = [2000, 2010]\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    gaps = _matching(caught, "has no value on")
    assert len(gaps) == 1 and gaps[0].startswith("2010: Input 'runoff'")
    assert "(3000 of 45000 px)" in gaps[0]
    assert len(_matching(caught, "partly outside the map grid")) == 1  # one grid: once
    doc = {y: json.loads((tmp_path / "out" / str(y) / "run.json").read_text())["flags"]
           for y in (2000, 2010)}
    assert "missing_input_values" not in doc[2000]
    assert doc[2010]["missing_input_values"]["runoff"]["pixels"] == 3000
