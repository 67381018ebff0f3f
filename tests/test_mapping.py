"""The map engine end to end on small synthetic rasters (hand calculations, PHREEQC runs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import rasterio
from mapping_helpers import (
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    cog_layout_errors,
    read,
    uniform_inputs,
    write,
    write_config,
    zones_two_halves,
)
from numpy.testing import assert_allclose

from karstsink.chemistry.database import resolve_database
from karstsink.chemistry.equilibrium import equilibrium_concentration
from karstsink.exceptions import DataQualityWarning, OutOfRangeWarning
from karstsink.mapping.config import load_config
from karstsink.mapping.executor import halve
from karstsink.mapping.model import pressure_ratio, remap_classes, soil_pco2_brook
from karstsink.mapping.run import run_map

# issue 4 / science.md 3.3: 15 degC, pCO2 1e-2 atm, R = 500 mm/yr, open system, 2024
# phreeqc.dat: Ca_eq 1.932 mmol/kgw -> 12.011 x 0.5 m/yr x 1.932 mmol/L = 11.60 t C km-2 yr-1
HAND_SINK = 12.011 * 0.5 * 1.932
# WorldCover tree cover (class 10): biological sink 70 t C km-2 yr-1 in the shipped table
FOREST_BIO = 70.0


@pytest.fixture(scope="module")
def uniform_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uniform")
    inputs = uniform_inputs(folder)
    zones = zones_two_halves(folder)
    cfg = write_config(folder, inputs, extra=f'[zones]\npath = "{zones.name}"\n'
                       'field = "county"\n[model]\noutputs = ["dissolution", "denudation"]\n')
    result = run_map(load_config(cfg), folder / "out", jobs=2)
    return folder, result


def test_two_crs_uniform_inputs_match_hand_calculation(uniform_run):
    folder, _ = uniform_run
    karst = read(folder / "out" / "karst_sink.tif")
    assert karst.shape == LC_SHAPE
    # every karst pixel within 1 % of the hand calculation; non-karst pixels exactly 0
    assert_allclose(karst[50:], HAND_SINK, rtol=0.01)
    assert np.all(karst[:50] == 0.0)
    assert not np.isnan(karst).any()
    total = read(folder / "out" / "total_sink.tif")
    assert_allclose(total[50:], HAND_SINK + FOREST_BIO, rtol=0.01)
    assert_allclose(read(folder / "out" / "biological_sink.tif"), FOREST_BIO, rtol=1e-6)


def test_dissolution_and_denudation_hand_calculation(uniform_run):
    folder, _ = uniform_run
    # R x Ca_eq x M(CaCO3) = 0.5 m/yr x 1.932 mmol/L x 100.087 g/mol = 96.68 t km-2 yr-1
    # (CaCO3 = 40.078 + 12.011 + 3 x 15.999, IUPAC 2021); denudation 96.68 / 2.7 t m-3
    # = 35.81 mm/ka (1 t km-2 yr-1 / 1 t m-3 = 1 m3 km-2 yr-1 = 1 mm ka-1)
    diss = read(folder / "out" / "dissolution.tif")
    den = read(folder / "out" / "denudation.tif")
    assert_allclose(diss[50:], 0.5 * 1.932 * 100.087, rtol=0.01)
    assert_allclose(den[50:], 0.5 * 1.932 * 100.087 / 2.7, rtol=0.01)
    assert np.all(diss[:50] == 0) and np.all(den[:50] == 0)


def test_zone_totals_equal_pixel_sums_and_polygon_areas(uniform_run):
    folder, result = uniform_run
    table = pd.read_csv(folder / "out" / "zonal_totals.csv")
    # zones keyed by feature id (fid: 1, 2 in a GeoPackage), then the source attributes
    assert list(table.columns[:8]) == ["zone_id", "county", "area_km2", "karst_area_km2",
                                       "nodata_area_km2", "karst_sink_t_c_yr",
                                       "biological_sink_t_c_yr", "total_sink_t_c_yr"]
    assert table["zone_id"].tolist()[:2] == [1, 2] and np.isnan(table["zone_id"].iloc[2])
    karst = read(folder / "out" / "karst_sink.tif")
    pixel_km2 = 0.03 * 0.03
    total_row = table[table["county"].str.startswith("TOTAL")].iloc[0]
    # the two zones tile the whole grid: zone totals = pixel sums (within 0.5 %)
    assert total_row["karst_sink_t_c_yr"] == pytest.approx(np.nansum(karst) * pixel_km2,
                                                           rel=0.005)
    west = table[table["county"] == "West"].iloc[0]
    # border at x = 504515 m cuts a column of pixels in half: West = 150.5 columns x 200 rows
    # of 30 m pixels = 4.515 km x 6 km = 27.09 km2 (area-weighted at the border)
    assert west["area_km2"] == pytest.approx(4.515 * 6.0, rel=0.005)
    # karst area: rows 50-199 are carbonate -> 4.515 km x 4.5 km
    assert west["karst_area_km2"] == pytest.approx(4.515 * 4.5, rel=0.005)
    assert west["karst_sink_t_c_yr"] == pytest.approx(4.515 * 4.5 * HAND_SINK, rel=0.01)
    assert result.totals["karst_sink_t_c_yr"] == pytest.approx(
        total_row["karst_sink_t_c_yr"], rel=1e-6)


def test_zone_geopackage_and_result_table_match_the_csv(uniform_run):
    import geopandas as gpd

    folder, result = uniform_run
    table = pd.read_csv(folder / "out" / "zonal_totals.csv")
    pd.testing.assert_frame_equal(result.zonal, table, check_exact=False, rtol=1e-15)
    gdf = gpd.read_file(folder / "out" / "zonal_totals.gpkg", layer="zonal_totals")
    assert gdf.crs.to_epsg() == 32648  # the grid CRS
    assert gdf["county"].tolist() == ["West", "East"]
    zones = table[~table["county"].str.startswith("TOTAL")].reset_index(drop=True)
    assert gdf["zone_id"].tolist() == [1, 2]
    for col in zones.columns[2:]:
        assert_allclose(gdf[col], zones[col], rtol=1e-15)
    # the polygons as given: West 4.515 km x 6 km, East (9 - 4.515) km x 6 km
    # (zones_two_halves on the 300 x 200 px grid of 30 m pixels)
    assert_allclose(gdf.geometry.area / 1e6, [4.515 * 6.0, 4.485 * 6.0], rtol=1e-12)
    # the layer carries the map's provenance and assumptions, as the GeoTIFFs' tags do
    import pyogrio
    import rasterio

    meta = pyogrio.read_info(folder / "out" / "zonal_totals.gpkg")["layer_metadata"]
    with rasterio.open(folder / "out" / "total_sink.tif") as src:
        tags = src.tags()
    for key in ("karstsink_version", "phreeqc_database_sha256", "karstsink_assumptions",
                "karstsink_parameters"):
        assert meta[key] == tags[key], key


def test_outputs_are_valid_cogs_with_units_and_provenance(uniform_run):
    folder, _ = uniform_run
    sha = resolve_database("phreeqc.dat").sha256
    for name in ("karst_sink", "biological_sink", "total_sink"):
        with rasterio.open(folder / "out" / f"{name}.tif") as ds:
            assert ds.driver == "GTiff"
            assert ds.dtypes[0] == "float32"
            assert ds.profile["tiled"]
            assert ds.overviews(1), "COG needs overviews"
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert cog_layout_errors(folder / "out" / f"{name}.tif") == []
            assert ds.tags(1)["units"] == "t C km-2 yr-1"
            assert ds.descriptions[0]
            assert math.isnan(ds.nodata)
            tags = ds.tags()
            assert tags["phreeqc_database_sha256"] == sha
            params = json.loads(tags["karstsink_parameters"])
            assert params["system"] == "open"
            # georeferencing of the land-cover grid preserved
            assert ds.crs.to_epsg() == 32648
            assert ds.transform == LC_TRANSFORM
            full = ds.read(1)
            n_ovr = len(ds.overviews(1))
        # every overview level is the 2 x 2 nodata-aware mean of the level below
        level = full
        for k in range(n_ovr):
            level = halve(level)
            with rasterio.open(folder / "out" / f"{name}.tif", overview_level=k) as ov:
                assert_allclose(ov.read(1), level, rtol=1e-6, equal_nan=True)
    assert (folder / "out" / "quicklook.png").stat().st_size > 10_000
    assert (folder / "out" / "zonal_totals.gpkg").is_file()
    run = json.loads((folder / "out" / "run.json").read_text())
    assert run["database"]["sha256"] == sha


def test_nodata_propagates_from_every_input(tmp_path):
    inputs = uniform_inputs(tmp_path)
    lc = np.full(LC_SHAPE, 10, np.uint8)
    lc[120:130, 200:210] = 0  # land-cover nodata
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    temp = np.full(GEO_SHAPE, 15.0, np.float32)
    temp[:, :] = 15.0
    # nodata in the temperature cell holding the grid's upper-left corner region
    temp[5, 5] = -9999.0
    write(inputs["temperature"], temp, GEO_TRANSFORM, GEO, nodata=-9999.0)
    cfg = write_config(tmp_path, inputs)
    # the temperature hole leaves carbonate pixels without a sink: warned, not silent
    with pytest.warns(DataQualityWarning, match=r"Input 'temperature' .* has no value on"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    bio = read(tmp_path / "out" / "biological_sink.tif")
    assert np.isnan(karst[120:130, 200:210]).all()
    assert np.isnan(bio[120:130, 200:210]).all()
    # target pixels whose nearest temperature cell is nodata are nodata, others are not
    from karstsink.mapping.grid import AlignedSource, Grid

    t_on_grid = AlignedSource(inputs["temperature"], Grid.from_raster(inputs["landcover"]),
                              "temperature").read(rasterio.windows.Window(0, 0, 300, 200))
    hole = np.isnan(t_on_grid)
    assert hole.any()
    assert np.isnan(karst[hole]).all()
    valid = ~hole
    valid[120:130, 200:210] = False
    assert not np.isnan(karst[valid]).any()
    # run.json counts the hole's carbonate pixels (rows 50-199) with a valid land cover
    rock = np.zeros(LC_SHAPE, bool)
    rock[50:] = True
    rock[120:130, 200:210] = False
    gap = json.loads((tmp_path / "out" / "run.json").read_text())["flags"][
        "missing_input_values"]["temperature"]
    assert gap["pixels"] == int(np.count_nonzero(hole & rock))
    assert gap["of_pixels"] == 150 * 300 - 100 and gap["domain"] == "carbonate"


def test_co2_output_is_3p664_times_carbon(tmp_path):
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs, extra="[model]\nco2 = true\n")
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    with rasterio.open(tmp_path / "out" / "karst_sink.tif") as ds:
        assert ds.tags(1)["units"] == "t CO2 km-2 yr-1"
        karst = ds.read(1)
    # 1 t C = 44.009 / 12.011 t CO2 = 3.664 (science.md 0)
    assert_allclose(karst[50:], HAND_SINK * 44.009 / 12.011, rtol=0.01)


def test_brook_aet_and_dem_pressure_against_direct_phreeqc(tmp_path):
    inputs = uniform_inputs(tmp_path)
    del inputs["soil_pco2"]
    inputs["aet"] = write(tmp_path / "aet.tif", np.full(GEO_SHAPE, 800.0, np.float32),
                          GEO_TRANSFORM, GEO)
    inputs["dem"] = write(tmp_path / "dem.tif", np.full(LC_SHAPE, 1000.0, np.float32),
                          LC_TRANSFORM, UTM)
    cfg = write_config(tmp_path, inputs)
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    # Brook et al. 1983: exp(-1.376) = 0.252587 -> log10 pCO2 = -3.47 + 2.09 x 0.747413 = -1.90791
    logp = -3.47 + 2.09 * (1 - math.exp(-0.00172 * 800))
    assert logp == pytest.approx(-1.90791, abs=1e-5)
    # ICAO standard atmosphere at 1000 m: 898.76 hPa / 1013.25 hPa = 0.88701
    ratio = 898.76 / 1013.25
    ca = float(equilibrium_concentration(15.0, logp + math.log10(ratio)))
    assert_allclose(karst[50:], 12.011 * 0.5 * ca, rtol=1e-3)


def test_brook_and_pressure_functions():
    assert soil_pco2_brook(np.array([0.0]))[0] == pytest.approx(10 ** -3.47 * 1e6)
    assert float(pressure_ratio(np.array(1000.0))) == pytest.approx(898.76 / 1013.25, abs=2e-5)


def test_scenario_remap_widens_narrow_codes():
    # uint8 land cover (as read from a uint8 file) can move to a code above 255
    codes = np.array([[10, 40], [40, 0]], np.uint8)
    valid = codes != 0
    out = remap_classes(codes, valid, np.array([[0.0, 30.0], [10.0, 0.0]]),
                        [{"from": 40, "to": 300, "min_slope_deg": 25.0}])
    assert np.array_equal(out, [[10, 300], [40, 0]])
    assert codes[0, 1] == 40  # input untouched


def test_dolomite_share_uses_dolomite_equilibrium(tmp_path):
    inputs = uniform_inputs(tmp_path)
    dol = np.zeros(LC_SHAPE, np.float32)
    dol[:, 150:] = 1.0
    inputs["dolomite_fraction"] = write(tmp_path / "dol.tif", dol, LC_TRANSFORM, UTM)
    cfg = write_config(tmp_path, inputs)
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    camg = float(equilibrium_concentration(15.0, -2.0, mineral="dolomite"))
    assert_allclose(karst[50:, 150:], 12.011 * 0.5 * camg, rtol=1e-3)
    assert_allclose(karst[50:, :150], HAND_SINK, rtol=1e-3)


def test_land_cover_acts_on_soil_pco2_not_on_sink(tmp_path):
    # cropland (WorldCover 40): soil pCO2 factor 0.62 (Lan et al. 2017) -> Ca_eq at
    # log10(0.01 x 0.62); the sink is NOT 0.62 x the forest sink
    inputs = uniform_inputs(tmp_path, landcover=40)
    cfg = write_config(tmp_path, inputs)
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    ca = float(equilibrium_concentration(15.0, math.log10(0.01 * 0.62)))
    assert_allclose(karst[50:], 12.011 * 0.5 * ca, rtol=1e-3)
    assert karst[60, 60] > 0.62 * HAND_SINK * 1.1


def test_unknown_classes_warn_with_pixel_counts(tmp_path):
    inputs = uniform_inputs(tmp_path)
    lc = np.full(LC_SHAPE, 10, np.uint8)
    lc[:3, :4] = 77
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    cfg = write_config(tmp_path, inputs, extra='[tables]\nlandcover = "worldcover"\n')
    with pytest.warns(DataQualityWarning, match=r"77: 12 px"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    assert np.isnan(read(tmp_path / "out" / "total_sink.tif")[:3, :4]).all()


def test_out_of_table_temperature_warns_and_clamps(tmp_path):
    inputs = uniform_inputs(tmp_path, temp=45.0)
    cfg = write_config(tmp_path, inputs)
    with pytest.warns(OutOfRangeWarning, match="temperatures outside"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)


def test_restoration_scenario_on_steep_cropland(tmp_path):
    inputs = uniform_inputs(tmp_path, landcover=40)
    # a DEM rising eastwards at 30 degrees in the east half, flat in the west half
    cols = np.arange(LC_SHAPE[1]) * 30.0
    z = np.where(cols >= 150 * 30, (cols - 150 * 30) * math.tan(math.radians(30)), 0.0)
    dem = np.tile(z, (LC_SHAPE[0], 1)).astype(np.float32)
    inputs["dem"] = write(tmp_path / "dem.tif", dem, LC_TRANSFORM, UTM)
    extra = ('[scenario]\nname = "grain for green"\n'
             'transitions = [{from = 40, to = 10, min_slope_deg = 25}]\n')
    cfg = write_config(tmp_path, inputs, extra=extra)
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    diff = read(tmp_path / "out" / "scenario_difference.tif")
    base = read(tmp_path / "out" / "total_sink.tif")
    scen = read(tmp_path / "out" / "scenario_total_sink.tif")
    assert_allclose(scen - base, diff, atol=1e-4)
    pr = pressure_ratio(dem.astype(float))
    # steep (30 deg > 25) cropland pixels become forest: biological 0 -> 70 and soil pCO2
    # factor 0.62 -> 1.0 at each pixel's elevation (ICAO pressure correction)
    r, c = 100, 250
    ca_crop = float(equilibrium_concentration(15.0, math.log10(0.01 * 0.62 * pr[r, c])))
    ca_forest = float(equilibrium_concentration(15.0, math.log10(0.01 * pr[r, c])))
    expected = 70.0 + 12.011 * 0.5 * (ca_forest - ca_crop)
    assert diff[r, c] == pytest.approx(expected, rel=1e-3)
    # flat west half unchanged
    assert np.all(diff[:, 5:140] == 0.0)


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_tiled_engines_identical_to_threads(tmp_path, engine):
    inputs = uniform_inputs(tmp_path)
    temp = np.linspace(5, 25, GEO_SHAPE[0] * GEO_SHAPE[1]).reshape(GEO_SHAPE)
    write(inputs["temperature"], temp.astype(np.float32), GEO_TRANSFORM, GEO, nodata=-9999.0)
    zones = zones_two_halves(tmp_path)
    cfg = write_config(tmp_path, inputs, extra=f'[zones]\npath = "{zones.name}"\n'
                       'field = "county"\n[dask]\ntile_size = 256\n')
    conf = load_config(cfg)
    run_map(conf, tmp_path / "threads", jobs=2, quicklook=False)
    if engine == "dask":
        res = run_map(conf, tmp_path / "other", dask="local", quicklook=False)
    else:
        res = run_map(conf, tmp_path / "other", engine="processes", jobs=2, quicklook=False)
    assert res.counters["worker_peak_mb"] > 0
    run_doc = json.loads((tmp_path / "other" / "run.json").read_text())
    assert run_doc["engine"]["largest_worker_peak_memory_mb"] > 0
    assert "worker_peak_mb" not in run_doc["flags"]
    for name in ("karst_sink", "biological_sink", "total_sink"):
        a = read(tmp_path / "threads" / f"{name}.tif")
        b = read(tmp_path / "other" / f"{name}.tif")
        assert np.array_equal(a, b, equal_nan=True)
        with rasterio.open(tmp_path / "other" / f"{name}.tif") as ds:
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
            assert ds.transform == LC_TRANSFORM
            n_ovr = len(ds.overviews(1))
        assert n_ovr > 0
        level = a
        for k in range(n_ovr):  # both engines: each level the 2 x 2 mean of the one below
            level = halve(level)
            with rasterio.open(tmp_path / "threads" / f"{name}.tif", overview_level=k) as x, \
                    rasterio.open(tmp_path / "other" / f"{name}.tif", overview_level=k) as y:
                # float32 means of 4 values: a few ulp apart between float32 and
                # float64 accumulation (numpy halve vs the numba kernel)
                assert_allclose(x.read(1), level, rtol=1e-6, equal_nan=True)
                assert_allclose(y.read(1), level, rtol=1e-6, equal_nan=True)
                assert np.array_equal(x.read(1), y.read(1), equal_nan=True)
    za = pd.read_csv(tmp_path / "threads" / "zonal_totals.csv")
    zb = pd.read_csv(tmp_path / "other" / "zonal_totals.csv")
    pd.testing.assert_frame_equal(za, zb, rtol=1e-12)


def test_numba_kernel_matches_numpy(tmp_path):
    pytest.importorskip("numba")
    inputs = uniform_inputs(tmp_path)
    rng = np.random.default_rng(3)
    # the land-cover grid covers geo cells rows 4-6, cols 5-9: put out-of-table values there
    temp = rng.uniform(0, 40, GEO_SHAPE).astype(np.float32)
    temp[4, 5], temp[5, 7], temp[6, 9] = -1.5, 41.0, -9999.0
    pco2 = rng.uniform(100, 60000, GEO_SHAPE).astype(np.float32)
    # 0.5 and 5 ppmv: below the table's 10^-5 atm, clamped (a 0 is refused when read)
    pco2[4, 6], pco2[5, 8], pco2[6, 6] = 0.5, 5.0, 2e6
    write(inputs["temperature"], temp, GEO_TRANSFORM, GEO, nodata=-9999.0)
    write(inputs["soil_pco2"], pco2, GEO_TRANSFORM, GEO, nodata=-9999.0)
    lc = rng.choice(np.array([10, 20, 30, 40, 50, 60, 80], np.uint8), LC_SHAPE)
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    outs = {}
    zones = zones_two_halves(tmp_path, split_x=504507.0)
    for flag in ("false", "true"):
        cfg = write_config(tmp_path, inputs, extra=f'[model]\nnumba = {flag}\n'
                           'outputs = ["dissolution", "denudation"]\n'
                           f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
        with pytest.warns(OutOfRangeWarning), pytest.warns(
                DataQualityWarning, match="Input 'temperature' .* has no value on"):
            run_map(load_config(cfg), tmp_path / flag, quicklook=False)
        outs[flag] = {n: read(tmp_path / flag / f"{n}.tif")
                      for n in ("karst_sink", "total_sink", "dissolution", "denudation")}
    for n in outs["false"]:
        assert_allclose(outs["true"][n], outs["false"][n], rtol=1e-5, atol=1e-5)
    gaps = [json.loads((tmp_path / f / "run.json").read_text())["flags"][
        "missing_input_values"] for f in ("false", "true")]
    assert gaps[0] == gaps[1]  # the temperature cell at -9999: same count either way
    za = pd.read_csv(tmp_path / "false" / "zonal_totals.csv")
    zb = pd.read_csv(tmp_path / "true" / "zonal_totals.csv")
    pd.testing.assert_frame_equal(za, zb, rtol=1e-6)


def test_example_config_runs(tmp_path):
    import importlib.util

    from conftest import ROOT

    spec = importlib.util.spec_from_file_location("make_map_inputs",
                                                  ROOT / "examples" / "make_map_inputs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    cfg = mod.main(tmp_path / "example")
    res = run_map(load_config(cfg), tmp_path / "example" / "out", jobs=2)
    for name in ("karst_sink", "biological_sink", "total_sink", "dissolution", "denudation",
                 "scenario_total_sink", "scenario_difference"):
        assert (tmp_path / "example" / "out" / f"{name}.tif").is_file()
    table = pd.read_csv(tmp_path / "example" / "out" / "zonal_totals.csv")
    assert len(table) == 5  # four counties + the total row
    assert res.totals["karst_sink_t_c_yr"] > 0
    assert table["scenario_difference_t_c_yr"].iloc[-1] > 0


def test_processes_engine_splits_a_small_grid_for_every_job(tmp_path):
    """The default 8192-px engine tile would give a 300 x 200 grid one tile (one core)."""
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs)  # block 128, no [dask] tile_size
    res = run_map(load_config(cfg), tmp_path / "p", engine="processes", jobs=2,
                  quicklook=False)
    assert res.counters["engine_tiles"] >= 2
    engine = json.loads((tmp_path / "p" / "run.json").read_text())["engine"]
    assert engine["tiles"] >= 2 and engine["tile_size"] == 256
    run_map(load_config(cfg), tmp_path / "t", quicklook=False)
    for name in ("karst_sink", "total_sink"):
        assert np.array_equal(read(tmp_path / "p" / f"{name}.tif"),
                              read(tmp_path / "t" / f"{name}.tif"), equal_nan=True)


@pytest.mark.parametrize("numba", ["false", "true"])
def test_nodata_climate_off_the_rock_and_zone_sums_that_add_up(tmp_path, numba):
    if numba == "true":
        pytest.importorskip("numba")
    inputs = uniform_inputs(tmp_path)
    # runoff on the land-cover grid itself (pixel-exact), nodata in rows 0-19 (non-karst:
    # carbonate 0 in rows 0-49) and rows 100-109 (carbonate rock)
    runoff = np.full(LC_SHAPE, 500.0, np.float32)
    runoff[:20] = -9999.0
    runoff[100:110] = -9999.0
    write(inputs["runoff"], runoff, LC_TRANSFORM, UTM, nodata=-9999.0)
    zones = zones_two_halves(tmp_path)
    cfg = write_config(tmp_path, inputs, extra=f'[model]\nnumba = {numba}\n'
                       'outputs = ["dissolution", "denudation"]\n'
                       f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
    # rows 100-109 of the rock lack runoff: 10 x 300 of its 150 x 300 px = 6.67 %, warned
    # (rows 0-19 are off the rock: their karst sink is 0 anyway, not counted)
    with pytest.warns(DataQualityWarning, match=r"Input 'runoff' .* no value on 6\.67 % of "
                      r"the mapped carbonate pixels \(3000 of 45000 px\)"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    total = read(tmp_path / "out" / "total_sink.tif")
    # off the rock the karst sink is 0 whatever the runoff: the total is the forest's 70
    assert np.all(karst[:50] == 0.0)
    assert_allclose(total[:20], FOREST_BIO, rtol=1e-6)
    for name in ("dissolution", "denudation"):
        assert np.all(read(tmp_path / "out" / f"{name}.tif")[:20] == 0.0)
    # on the rock, no runoff: no karst sink, so no total
    assert np.isnan(karst[100:110]).all() and np.isnan(total[100:110]).all()
    table = pd.read_csv(tmp_path / "out" / "zonal_totals.csv")
    for _, row in table.iterrows():  # every zone and the TOTAL row add up
        assert row["karst_sink_t_c_yr"] + row["biological_sink_t_c_yr"] == pytest.approx(
            row["total_sink_t_c_yr"], rel=1e-6)
    grid = table[table["county"].str.startswith("TOTAL")].iloc[0]
    # grid: 200 x 300 pixels of 30 m = 6 km x 9 km = 54 km2, rock in rows 50-199 = 40.5 km2;
    # nodata: 10 rows x 300 columns = 0.3 km x 9 km = 2.7 km2. The sums are over the other
    # 51.3 km2: biological 70 t C km-2 yr-1 on all of it, karst 11.60 on the 37.8 km2 of
    # rock with runoff
    assert grid["nodata_area_km2"] == pytest.approx(2.7, rel=0.005)
    assert grid["biological_sink_t_c_yr"] == pytest.approx(51.3 * FOREST_BIO, rel=0.005)
    assert grid["karst_sink_t_c_yr"] == pytest.approx(37.8 * HAND_SINK, rel=0.01)


@pytest.mark.parametrize(("value", "unit"), [(1013.25, "Pa"), (0.01, "atm"), (10_000.0, "ppmv")])
def test_dem_scales_a_volume_fraction_not_a_partial_pressure(tmp_path, value, unit):
    # 1,013.25 Pa = 0.01 atm is the partial pressure itself: at 1,800 m it stays 10^-2 atm,
    # so the sink is the sea-level 11.60 t C km-2 yr-1 (HAND_SINK). 10,000 ppmv is a volume
    # fraction: at 1,800 m it is 10^-2 x P(z)/P0 atm, P(z)/P0 = (1 - 2.25577e-5 x 1800)
    # ^5.25588 = 0.8045 (ICAO), and Ca_eq ~ pCO2^(1/3) (cube-root law) gives a sink about
    # 0.8045^(1/3) = 0.930 x lower
    inputs = uniform_inputs(tmp_path)
    write(inputs["soil_pco2"], np.full(GEO_SHAPE, value, np.float32), GEO_TRANSFORM, GEO,
          nodata=-9999.0)
    inputs["dem"] = write(tmp_path / "dem.tif", np.full(LC_SHAPE, 1800.0, np.float32),
                          LC_TRANSFORM, UTM)
    lines = ["[inputs]"] + [f'{k} = "{v.name}"' for k, v in inputs.items() if k != "soil_pco2"]
    lines.append(f'soil_pco2 = {{ path = "{inputs["soil_pco2"].name}", units = "{unit}" }}')
    cfg = tmp_path / "map.toml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")[50:]
    expected = HAND_SINK * (0.8045 ** (1 / 3) if unit == "ppmv" else 1.0)
    assert_allclose(karst, expected, rtol=0.01)
