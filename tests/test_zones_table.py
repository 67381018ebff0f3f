"""The zone table (issue 13 item 6): per-km2 densities, t CO2 columns, every source attribute
kept with its field type in zonal_totals.gpkg (dates, booleans, integers with NULLs)."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_helpers import UTM, uniform_inputs, write_config
from numpy.testing import assert_allclose
from pyogrio.raw import write as ogr_write

from karstsink import variables
from karstsink.exceptions import DataQualityWarning
from karstsink.mapping._zone_io import read_zones, write_zone_tables
from karstsink.mapping._zone_table import add_densities
from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

# by hand: 1 t C = 44.009 / 12.011 t CO2 (IUPAC 2021 atomic weights: C 12.011, O 15.999)
CO2_PER_C = 44.009 / 12.011
# tests/test_mapping.py: 15 degC, pCO2 1e-2 atm, R = 500 mm/yr, open system, 2024
# phreeqc.dat: Ca_eq 1.932 mmol/kgw -> 12.011 x 0.5 m/yr x 1.932 mmol/L = 11.60 t C km-2 yr-1
HAND_SINK = 12.011 * 0.5 * 1.932
FOREST_BIO = 70.0  # WorldCover tree cover (class 10) in the shipped table [t C km-2 yr-1]
DENS = ["karst_sink_per_zone_t_c_km2_yr", "biological_sink_per_zone_t_c_km2_yr",
        "total_sink_per_zone_t_c_km2_yr", "karst_sink_per_carbonate_t_c_km2_yr"]
DENS_CO2 = [c.replace("_t_c_km2_yr", "_t_co2_km2_yr") for c in DENS]


# --- the table from known sums (write_zone_tables) -------------------------------------
def _sums(zones: list[tuple[float, float, float, float, float]]) -> np.ndarray:
    """Zone sums as the engine hands them: rows area, karst area, nodata area [km2], karst,
    biological, total [t C yr-1]; column 0 (outside every zone) empty."""
    return np.column_stack([np.zeros(6)] + [[a, k, n, ks, bs, ks + bs]
                                            for a, k, n, ks, bs in zones])


def _boxes(n: int) -> list:
    return [shapely.box(1000.0 * i, 0.0, 1000.0 * (i + 1), 1000.0) for i in range(n)]


def test_densities_by_hand(tmp_path):
    table = {"zone_id": [1, 2, 3, 4], "name": ["karst", "no rock", "off grid", "nodata"]}
    # zone 1: 2 km2, 0.5 km2 of it carbonate, karst sink 10 and biological 3 t C yr-1
    # zone 2: 4 km2 without carbonate, biological 8 t C yr-1
    # zone 3: off the grid (area 0); zone 4: 1 km2, all nodata
    sums = _sums([(2.0, 0.5, 0.0, 10.0, 3.0), (4.0, 0.0, 0.0, 0.0, 8.0),
                  (0.0, 0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 0.0, 0.0)])
    cols = write_zone_tables(tmp_path, "name", table, np.array(_boxes(4)), UTM, sums, co2=True)
    t = pd.DataFrame(cols)
    nan = math.nan
    # karst per zone km2: 10 / 2 = 5; 0 / 4 = 0; TOTAL 10 / (2 + 4 + 0 + 1) km2
    expect = {
        "karst_sink_per_zone_t_c_km2_yr": [5.0, 0.0, nan, nan, 10.0 / 7.0],
        "biological_sink_per_zone_t_c_km2_yr": [1.5, 2.0, nan, nan, 11.0 / 7.0],
        "total_sink_per_zone_t_c_km2_yr": [6.5, 2.0, nan, nan, 21.0 / 7.0],
        # karst per carbonate km2: 10 / 0.5 = 20; no carbonate: NaN (not inf); TOTAL
        # 10 / (0.5 + 0 + 0 + 1) km2 (the nodata zone's rock counts, its sink is NaN)
        "karst_sink_per_carbonate_t_c_km2_yr": [20.0, nan, nan, nan, 10.0 / 1.5],
    }
    for col, values in expect.items():
        assert_allclose(t[col], values, rtol=1e-12, err_msg=col)
        assert_allclose(t[col.replace("_t_c_km2_yr", "_t_co2_km2_yr")],
                        np.array(values) * CO2_PER_C, rtol=1e-4, err_msg=col)
    assert not np.isinf(t[DENS + DENS_CO2].to_numpy(float)).any()
    assert_allclose(t["total_sink_t_co2_yr"], np.array([13.0, 8.0, nan, nan, 21.0]) * CO2_PER_C,
                    rtol=1e-4)
    # the CSV and the GeoPackage carry the same numbers (the GeoPackage without TOTAL)
    csv = pd.read_csv(tmp_path / "zonal_totals.csv")
    gpkg = gpd.read_file(tmp_path / "zonal_totals.gpkg")
    for col in DENS + DENS_CO2:
        assert_allclose(csv[col], t[col], rtol=1e-15, err_msg=col)
        assert_allclose(gpkg[col], t[col][:4], rtol=1e-15, err_msg=col)
    # t C then t CO2 totals, then the t C densities, then their t CO2 twins
    assert list(csv.columns[-len(DENS) * 2:]) == DENS + DENS_CO2


def test_without_co2_there_are_no_co2_columns(tmp_path):
    sums = _sums([(2.0, 0.5, 0.0, 10.0, 3.0)])
    cols = write_zone_tables(tmp_path, "name", {"zone_id": [1], "name": ["a"]},
                             np.array(_boxes(1)), UTM, sums, co2=False)
    assert not [c for c in cols if "co2" in c]
    assert cols["karst_sink_per_carbonate_t_c_km2_yr"] == [20.0, 20.0]


@settings(derandomize=True, max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)),
                          st.one_of(st.just(0.0), st.floats(1e-6, 1.0)),
                          st.floats(-1e9, 1e9)), min_size=1, max_size=8))
def test_densities_are_finite_or_nan_and_give_back_the_sums(rows):
    frame = pd.DataFrame({"area_km2": [a for a, _, _ in rows],
                          "karst_area_km2": [a * f for a, f, _ in rows],
                          "karst_sink_t_c_yr": [s for _, _, s in rows],
                          "biological_sink_t_c_yr": [s for _, _, s in rows],
                          "total_sink_t_c_yr": [2 * s for _, _, s in rows]})
    add_densities(frame, co2=True)
    for col, (total, area) in (("total_sink_per_zone_t_c_km2_yr", ("total_sink_t_c_yr",
                                                                   "area_km2")),
                               ("karst_sink_per_carbonate_t_c_km2_yr",
                                ("karst_sink_t_c_yr", "karst_area_km2"))):
        d = frame[col].to_numpy()
        a = frame[area].to_numpy()
        assert not np.isinf(d).any()
        s = frame[total].to_numpy()
        assert np.isnan(d[a == 0]).all()
        assert not np.isnan(d[a > 0]).any()
        assert_allclose(d[a > 0] * a[a > 0], s[a > 0], rtol=1e-9, atol=1e-6)


# --- a map run against the hand calculation ---------------------------------------------
def test_map_zone_densities_match_the_hand_calculation(tmp_path):
    # uniform_inputs: 300 x 200 px of 30 m (9 km x 6 km) from (500000, 2900000), carbonate
    # in rows 50-199 (y < 2898500), forest everywhere
    left, top = 500000.0, 2900000.0
    split, rock = 504515.0, 2898500.0  # mid-pixel column; the carbonate's north edge
    gdf = gpd.GeoDataFrame({"name": ["West", "East karst", "East strip", "Far away"]},
                           geometry=[shapely.box(left, top - 6000, split, top),
                                     shapely.box(split, top - 6000, left + 9000, rock),
                                     shapely.box(split, rock, left + 9000, top),
                                     shapely.box(0, 0, 1000, 1000)], crs=UTM)
    gdf.to_file(tmp_path / "zones.gpkg")
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "zones.gpkg"\nfield = "name"\n')
    with pytest.warns(DataQualityWarning, match="off the map grid"):
        res = run_map(load_config(cfg), tmp_path / "out", jobs=2, co2=True, quicklook=False)
    t = res.zonal.set_index("name")
    nan = math.nan
    # West: 4.515 km x 6 km of which 4.5 km north-south carbonate: karst sink per zone km2
    # = 11.60 x 4.5 / 6 = 8.70, per carbonate km2 = 11.60; biological 70 everywhere
    # East karst: all carbonate; East strip: none (its carbonate density is NaN)
    # TOTAL: 9 km x 6 km, 9 x 4.5 km2 carbonate -> the West figures
    expect = {
        "karst_sink_per_zone_t_c_km2_yr": [0.75 * HAND_SINK, HAND_SINK, 0.0, nan,
                                           0.75 * HAND_SINK],
        "karst_sink_per_carbonate_t_c_km2_yr": [HAND_SINK, HAND_SINK, nan, nan, HAND_SINK],
        "biological_sink_per_zone_t_c_km2_yr": [FOREST_BIO] * 3 + [nan, FOREST_BIO],
        "total_sink_per_zone_t_c_km2_yr": [FOREST_BIO + 0.75 * HAND_SINK,
                                           FOREST_BIO + HAND_SINK, FOREST_BIO, nan,
                                           FOREST_BIO + 0.75 * HAND_SINK],
    }
    rows = ["West", "East karst", "East strip", "Far away", "TOTAL (all zones)"]
    for col, values in expect.items():
        got = t.loc[rows, col].to_numpy(float)
        assert_allclose(got, values, rtol=0.01, atol=1e-9, err_msg=col)
        assert_allclose(t.loc[rows, col.replace("_t_c_km2_yr", "_t_co2_km2_yr")],
                        np.array(values) * CO2_PER_C, rtol=0.01, atol=1e-9, err_msg=col)
    gpkg = gpd.read_file(tmp_path / "out" / "zonal_totals.gpkg")
    assert gpkg["name"].tolist() == rows[:4]
    for col in DENS + DENS_CO2:
        assert_allclose(gpkg[col], t.loc[rows[:4], col], rtol=1e-15, err_msg=col)


def test_every_zone_table_column_is_registered(tmp_path):
    sums = np.vstack([_sums([(2.0, 0.5, 0.0, 10.0, 3.0)]), [[0.0, 20.0], [0.0, 7.0]]])
    cols = write_zone_tables(tmp_path, "name", {"zone_id": [1], "name": ["a"]},
                             np.array(_boxes(1)), UTM, sums, co2=True)
    # scenario columns too: 20 and 7 t C yr-1 over 2 km2
    assert cols["scenario_total_sink_per_zone_t_c_km2_yr"] == [10.0, 10.0]
    assert cols["scenario_difference_per_zone_t_c_km2_yr"] == [3.5, 3.5]
    unknown = [c for c in cols if c not in ("zone_id", "name") and not _registered(c)]
    assert not unknown, f"not in data/variables.csv: {unknown}"
    for c in cols:
        if c.endswith("_t_co2_km2_yr"):
            assert variables.unit(c) == "t CO2 km-2 yr-1"


def _registered(name: str) -> bool:
    try:
        variables.variable(name)
    except KeyError:
        return False
    return True


# --- every source attribute kept, with its type -----------------------------------------
def _odd_zones(path) -> None:
    """Three zones whose attributes have the field types a user's file may have, with NULLs:
    String, Date, DateTime, Boolean, Integer64, Real (and a reserved column name)."""
    left, top = 500000.0, 2900000.0
    geoms = [shapely.box(left, top - 6000, left + 4500, top),
             shapely.MultiPolygon([shapely.box(left + 4500, top - 6000, left + 9000, top)]),
             shapely.box(0, 0, 10, 10)]  # off the grid
    fields = {
        "name": np.array(["西区", None, "off"], dtype=object),
        "surveyed": np.array(["2020-01-02", "NaT", "2021-05-06"], dtype="datetime64[D]"),
        "stamp": np.array(["2020-01-02T03:04:05", "NaT", "2020-02-02T00:00:00"],
                          dtype="datetime64[ms]"),
        "is_karst": np.array([True, False, False]),
        "population": np.array([120000, 0, 7], dtype=np.int64),
        "ratio": np.array([0.5, np.nan, 1.5]),
        "karst_sink_per_zone_t_c_km2_yr": np.array([1.0, 2.0, 3.0]),  # reserved: renamed
    }
    mask = {"is_karst": np.array([False, False, True]),
            "population": np.array([False, True, False])}
    ogr_write(str(path), shapely.to_wkb(geoms), field_data=list(fields.values()),
              fields=list(fields), field_mask=[mask.get(k) for k in fields], layer="zones",
              driver="GPKG", geometry_type="MultiPolygon", promote_to_multi=True, crs=UTM)


def _types(path, layer=None) -> dict:
    info = pyogrio.read_info(path, layer=layer)
    return dict(zip(info["fields"], zip(info["ogr_types"], info["ogr_subtypes"], strict=True),
                    strict=True))


@pytest.mark.parametrize("helper", ["1", "0"])
def test_source_attributes_keep_their_values_and_types(tmp_path, monkeypatch, helper):
    monkeypatch.setenv("KARSTSINK_ZONE_HELPER", helper)  # the helper and this process
    _odd_zones(tmp_path / "zones.gpkg")
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "zones.gpkg"\n'
                                                'field = "name"\n')
    with pytest.warns(DataQualityWarning, match="off the map grid"):
        res = run_map(load_config(cfg), tmp_path / "out", jobs=2, quicklook=False)
    out = tmp_path / "out" / "zonal_totals.gpkg"
    src, got = _types(tmp_path / "zones.gpkg"), _types(out)
    renamed = {"karst_sink_per_zone_t_c_km2_yr": "source_karst_sink_per_zone_t_c_km2_yr"}
    for field, kind in src.items():
        assert got[renamed.get(field, field)] == kind, field
    assert got["zone_id"] == ("OFTInteger64", "OFSTNone")
    # the values, NULLs as NULL, straight from the file (no geopandas on the way back)
    with sqlite3.connect(out) as con:
        rows = con.execute('SELECT zone_id, name, surveyed, stamp, is_karst, population, '
                           'ratio, "source_karst_sink_per_zone_t_c_km2_yr" '
                           'FROM zonal_totals ORDER BY zone_id').fetchall()
    assert rows == [(1, "西区", "2020-01-02", "2020-01-02T03:04:05", 1, 120000, 0.5, 1.0),
                    (2, None, None, None, 0, None, None, 2.0),
                    (3, "off", "2021-05-06", "2020-02-02T00:00:00", None, 7, 1.5, 3.0)]
    # the CSV and the result table: a boolean stays True/False, an integer an integer
    z = res.zonal_columns
    assert z["surveyed"] == [dt.date(2020, 1, 2), None, dt.date(2021, 5, 6), None]
    assert z["is_karst"] == [True, False, None, None]
    assert z["population"] == [120000, None, 7, None]
    csv = (tmp_path / "out" / "zonal_totals.csv").read_text(encoding="utf-8").splitlines()
    assert csv[1].startswith("1,西区,2020-01-02,2020-01-02 03:04:05,True,120000,0.5,1.0,")
    assert csv[2].startswith("2,,,,False,,,2.0,")
    # the polygons come back in the grid CRS, a single polygon promoted to a multipolygon
    gpkg = gpd.read_file(out)
    assert gpkg.crs.to_epsg() == 32648
    assert_allclose(gpkg.geometry.area, [4500.0 * 6000.0, 4500.0 * 6000.0, 100.0])


def test_read_zones_types_without_a_map(tmp_path):
    _odd_zones(tmp_path / "zones.gpkg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, labels, table = read_zones(tmp_path / "zones.gpkg", "name", UTM)
    assert labels == ["西区", "", "off"]
    assert table["zone_id"] == [1, 2, 3]
    assert table["is_karst"] == [True, False, None]
    assert table["population"] == [120000, None, 7]
    assert table["surveyed"] == [dt.date(2020, 1, 2), None, dt.date(2021, 5, 6)]
    assert table["stamp"][0] == pd.Timestamp("2020-01-02 03:04:05")
    assert table["stamp"][1] is None
    assert table["ratio"][1] is None
    assert table["source_karst_sink_per_zone_t_c_km2_yr"] == [1.0, 2.0, 3.0]


def test_zone_aware_date_times_keep_their_offset(tmp_path):
    from karstsink.mapping._zone_table import write_gpkg

    t = pd.Series(pd.to_datetime(["2020-01-02 03:04:05+08:00", None], utc=True)
                  ).dt.tz_convert("Asia/Shanghai")
    frame = pd.DataFrame({"zone_id": pd.array([1, 2], dtype="Int64"), "t": t})
    write_gpkg(tmp_path / "z.gpkg", frame, _boxes(2), UTM, "zonal_totals")
    with sqlite3.connect(tmp_path / "z.gpkg") as con:
        rows = con.execute("SELECT zone_id, t FROM zonal_totals").fetchall()
    assert rows == [(1, "2020-01-02T03:04:05+08:00"), (2, None)]


def test_gbk_names_of_a_shapefile_without_its_cpg_are_refused(tmp_path):
    # a shapefile written in GBK whose .cpg went missing: GDAL reads its names as
    # ISO-8859-1, so 花溪区 would come out as '»¨ÏªÇø' in every zone table; refused with
    # one line saying which file tells the encoding. With the .cpg the names are read.
    import geopandas as gpd
    import shapely

    from karstsink.exceptions import DataError
    from karstsink.mapping._zone_io import read_zones

    g = gpd.GeoDataFrame({"county": ["花溪区", "南明区"]},
                         geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
                         crs="EPSG:32648")
    path = tmp_path / "zones.shp"
    g.to_file(path, encoding="gb18030")
    assert read_zones(path, "county", g.crs.to_wkt())[1] == ["花溪区", "南明区"]
    (tmp_path / "zones.cpg").unlink()
    with pytest.raises(DataError, match=r"GBK read as Latin-1 .*'花溪区'.*zones\.cpg") as err:
        read_zones(path, "county", g.crs.to_wkt())
    assert "\n" not in str(err.value)
    # names that are Latin-1 text (no GBK reading of them is GB2312 text) are kept
    latin = gpd.GeoDataFrame({"county": ["Ñuñoa", "Gävle"]}, geometry=g.geometry, crs=g.crs)
    latin.to_file(tmp_path / "latin.shp", encoding="ISO-8859-1")
    (tmp_path / "latin.cpg").unlink(missing_ok=True)  # read as ISO-8859-1 all the same
    assert read_zones(tmp_path / "latin.shp", "county", g.crs.to_wkt())[1] == ["Ñuñoa",
                                                                                 "Gävle"]


def test_a_zones_or_outline_file_of_several_layers_names_the_key(tmp_path):
    # a GeoPackage with two layers and no layer named: which one is meant cannot be
    # guessed (pyogrio read the first and printed its own warning): refused, naming the
    # layers and the key that chooses; with the layer named it is read
    import geopandas as gpd
    import shapely

    from karstsink.exceptions import ConfigError, DataError
    from karstsink.mapping._zone_io import read_zones
    from karstsink.mapping.zones import read_outline

    g = gpd.GeoDataFrame({"county": ["A"]}, geometry=[shapely.box(0, 0, 1000, 1000)],
                         crs="EPSG:32648")
    path = tmp_path / "two.gpkg"
    g.to_file(path, layer="counties")
    g.to_file(path, layer="outline")
    wkt = g.crs.to_wkt()
    with pytest.raises(ConfigError, match=r"2 layers \(counties, outline\).*\[zones\] layer"):
        read_zones(path, "county", wkt)
    # the run's pre-check of the zones file (metadata only) says the same before any stage
    from karstsink.mapping._zone_io import check_zones_file

    with pytest.raises(ConfigError, match=r"2 layers \(counties, outline\).*\[zones\] layer"):
        check_zones_file(path, "county")
    check_zones_file(path, "county", layer="outline")
    with pytest.raises(DataError, match=r"2 layers \(counties, outline\).*boundary_layer"):
        read_outline(path, g.crs)
    assert read_zones(path, "county", wkt, layer="outline")[1] == ["A"]
    assert read_outline(path, g.crs, "outline")[1] == pytest.approx(1.0)  # 1 km x 1 km


def test_an_invalid_catchment_outline_is_refused_not_measured_as_0_km2(tmp_path):
    # a bow-tie outline (self-intersecting) measured 0 km2 while the map mean was still
    # taken over it; it is refused with GEOS's reason
    import shapely

    from karstsink.exceptions import DataError
    from karstsink.mapping.zones import read_outline

    bow = shapely.Polygon([(0, 0), (10000, 10000), (10000, 0), (0, 10000)])
    g = gpd.GeoDataFrame({"id": [1]}, geometry=[bow], crs="EPSG:32648")
    path = tmp_path / "bow.gpkg"
    g.to_file(path)
    with pytest.raises(DataError, match=r"1 of 1 polygons are invalid geometries \(first: "
                                        r"Self-intersection"):
        read_outline(path, g.crs)
