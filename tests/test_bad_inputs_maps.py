"""Issue 12 classes 6 and 7 (maps, zones) and issue 13 item 2 (plausibility): every bad
input to `karstsink map` is refused with one line (or flagged), and nothing is written.

Each test builds its bad input from the small synthetic rasters of mapping_helpers
(a 300 x 200 px, 30 m land-cover grid in UTM 48N; climate fields in EPSG:4326).
"""

from __future__ import annotations

import json
import math
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_helpers import (
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    read,
    uniform_inputs,
    write,
    write_config,
)
from numpy.testing import assert_allclose

from karstsink.cli import main
from karstsink.exceptions import (
    ConfigError,
    DataError,
    DataQualityWarning,
    RasterError,
    UnitError,
)
from karstsink.mapping.config import load_config
from karstsink.mapping.landcover import load_landcover_table
from karstsink.mapping.run import run_map

# 15 degC, 10,000 ppmv, 500 mm/yr, forest (uniform_inputs): 12.011 x 0.5 m/yr x 1.932
# mmol/L Ca_eq (2024 phreeqc.dat, open system) = 11.60 t C km-2 yr-1 (test_mapping.py)
HAND_SINK = 12.011 * 0.5 * 1.932
LEFT, TOP = 500000.0, 2900000.0
RIGHT, BOTTOM = LEFT + 30 * LC_SHAPE[1], TOP - 30 * LC_SHAPE[0]


def _nothing_left(folder, out) -> None:
    """No output folder, and none of the run's temporary folders, left behind."""
    assert not out.exists()
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def _cli_error(folder, cfg, *needles):
    """Run `karstsink map`; exit 1, one error line containing every needle, nothing left."""
    out = folder / "out"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(out), "--jobs", "2"])
    assert res.exit_code == 1, res.output
    assert "Traceback" not in res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, res.output
    for needle in needles:
        assert needle in errors[0], errors[0]
    _nothing_left(folder, out)
    return errors[0]


def _inline(cfg, name, table) -> None:
    """Replace ``name = "file"`` in the [inputs] of ``cfg`` by an inline table."""
    lines = cfg.read_text(encoding="utf-8").splitlines()
    lines = [f"{name} = {table}" if ln.startswith(f"{name} = ") else ln for ln in lines]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- 6a. land-cover codes -----------------------------------------------------------
def test_float_landcover_with_fractions_is_refused_with_counts(tmp_path):
    inputs = uniform_inputs(tmp_path)
    lc = np.full(LC_SHAPE, 10.0, np.float32)
    lc[:, :150] = 10.5  # half the grid: not a class code
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    cfg = write_config(tmp_path, inputs, extra='[tables]\nlandcover = "worldcover"\n')
    _cli_error(tmp_path, cfg, "lc.tif", "non-integer class codes", "of", "float32")
    with pytest.raises(DataError, match=r"non-integer class codes \(\d+ of \d+ valid"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    _nothing_left(tmp_path, tmp_path / "out")


def test_non_integer_codes_the_sample_misses_are_refused_after_the_pass(tmp_path):
    # 3 pixels, between the sample windows: the pass counts them; nothing is written
    inputs = uniform_inputs(tmp_path)
    lc = np.full(LC_SHAPE, 10.0, np.float32)
    lc[0, 0] = lc[0, 299] = lc[199, 0] = 20.25
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    cfg = write_config(tmp_path, inputs, extra='[tables]\nlandcover = "worldcover"\n')
    with pytest.raises(DataError, match=r"non-integer class codes \(3 of 60000 valid pixels"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    _nothing_left(tmp_path, tmp_path / "out")


def test_integral_float_landcover_is_read_with_a_warning(tmp_path):
    inputs = uniform_inputs(tmp_path)
    write(inputs["landcover"], np.full(LC_SHAPE, 10.0, np.float64), LC_TRANSFORM, UTM,
          nodata=0)
    cfg = write_config(tmp_path, inputs)
    with pytest.warns(DataQualityWarning, match=r"floating-point .* all 60000 valid pixels"):
        res = run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    assert_allclose(read(tmp_path / "out" / "karst_sink.tif")[50:], HAND_SINK, rtol=0.01)
    assert res.counters["landcover_float_codes_rounded"] == 60000


@pytest.mark.parametrize(("dtype", "code"), [(np.int32, 2**31 - 1), (np.uint32, 2**32 - 2),
                                             (np.float32, 1e9), (np.int64, -(2**40))])
def test_huge_class_codes_are_unknown_classes_with_counts(tmp_path, dtype, code):
    inputs = uniform_inputs(tmp_path)
    lc = np.full(LC_SHAPE, 10, dtype)
    lc[:2, :5] = code  # 10 px
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    cfg = write_config(tmp_path, inputs, extra='[tables]\nlandcover = "worldcover"\n')
    with pytest.warns(DataQualityWarning, match=rf"{int(code)}: 10 px"):
        if np.dtype(dtype).kind == "f":
            with pytest.warns(DataQualityWarning, match="floating-point"):
                run_map(load_config(cfg), tmp_path / "out", quicklook=False)
        else:
            run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    total = read(tmp_path / "out" / "total_sink.tif")
    assert np.isnan(total[:2, :5]).all() and not np.isnan(total[2:]).any()


def test_table_with_a_huge_class_code_is_one_line(tmp_path):
    rows = ["class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source",
            "10,forest,1,1,70,x", "2147483647,odd,1,1,0,x"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"class 2147483647 in row 3 is above 65535"):
        load_landcover_table(tmp_path / "t.csv")


def test_a_short_table_row_is_refused_not_padded_with_defaults(tmp_path):
    # a cropland row cut after its biological sink: padding would give it the default
    # nep_factor 1, counting cropland NEP as a lasting sink, and lose its source
    rows = ["class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,nep_factor,"
            "source", "10,forest,1,1,70,0.3,x", "40,cropland,0.62,1.0,0"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"row 3 has 5 cells but the header names 7 columns "
                                        r"\(nep_factor, source missing\)"):
        load_landcover_table(tmp_path / "t.csv")


# --- 6b. all nodata ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["runoff", "landcover", "carbonate"])
def test_an_all_nodata_input_is_an_error_not_zero(tmp_path, name):
    inputs = uniform_inputs(tmp_path)
    if name == "landcover":
        write(inputs[name], np.zeros(LC_SHAPE, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    elif name == "carbonate":
        write(inputs[name], np.full(LC_SHAPE, -1.0, np.float32), LC_TRANSFORM, UTM, nodata=-1)
    else:
        write(inputs[name], np.full(GEO_SHAPE, -9999.0, np.float32), GEO_TRANSFORM, GEO,
              nodata=-9999.0)
    cfg = write_config(tmp_path, inputs, extra='[tables]\nlandcover = "worldcover"\n')
    _cli_error(tmp_path, cfg, f"Input {name!r}", inputs[name].name, "no valid value")


def test_valid_data_only_off_the_grid_is_an_error_naming_the_input(tmp_path):
    # runoff covers the grid's bounding box but is nodata on it (valid only far away)
    inputs = uniform_inputs(tmp_path)
    runoff = np.full(GEO_SHAPE, -9999.0, np.float32)
    runoff[:2, :2] = 500.0  # 104.90-104.94 E, 26.26-26.30 N: outside the grid
    write(inputs["runoff"], runoff, GEO_TRANSFORM, GEO, nodata=-9999.0)
    cfg = write_config(tmp_path, inputs)
    # the non-karst pixels (karst sink 0 whatever their runoff) still have a total, but the
    # karst sink is nodata on all the carbonate rock
    _cli_error(tmp_path, cfg, "karst sink is nodata on all", "not 0 t C/yr",
               "'runoff'", "runoff.tif")


# --- 6c / issue 13.2. plausibility --------------------------------------------------------
@pytest.mark.parametrize(("name", "value", "needles"), [
    ("runoff", 0.5, ("< 10 mm/yr", 'units = "m/yr"')),
    ("runoff", 52000.0, ("> 20,000 mm/yr", "scale")),
    ("temperature", 288.15, ("look like kelvin", 'units = "K"')),
    ("temperature", 60.0, ("-30 to 45 degC",)),
    ("soil_pco2", 0.01, ("look like atm", 'units = "atm"')),
    ("soil_pco2", 1.0 + 1e-3, ("look like percent", 'units = "percent"')),
    ("soil_pco2", 350.0, ("below the atmosphere's ~400 ppmv",)),
])
def test_unit_factor_mistakes_are_refused_saying_which_unit(tmp_path, name, value, needles):
    inputs = uniform_inputs(tmp_path)
    write(inputs[name], np.full(GEO_SHAPE, value, np.float32), GEO_TRANSFORM, GEO)  # no nodata
    cfg = write_config(tmp_path, inputs)
    _cli_error(tmp_path, cfg, f"Input {name!r}", inputs[name].name, *needles)
    with pytest.raises(UnitError):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)


@pytest.mark.parametrize(("name", "sentinel"), [
    ("temperature", -9999.0),  # the whole raster's value: the sample before the pass sees it
    ("runoff", -9999.0), ("soil_pco2", -9999.0), ("runoff", -32768.0),
    ("temperature", float(np.finfo(np.float32).min)),  # ArcGIS float grids' "no data"
    # the ad hoc -999: no runoff, pCO2 or temperature (a patch of it gave a sink of 0)
    ("runoff", -999.0), ("soil_pco2", -999.0), ("temperature", -999.0),
])
@pytest.mark.parametrize("where", ["everywhere", "one row"])
def test_an_undeclared_nodata_value_is_refused_not_used(tmp_path, name, sentinel, where):
    # The file declares NaN as its nodata but holds a sentinel: used as a value, -9999 mm/yr
    # runoff would be clamped to 0 (a sink of 0) and -9999 ppmv pCO2 would give 0 too.
    inputs = uniform_inputs(tmp_path)
    good = {"runoff": 500.0, "temperature": 15.0, "soil_pco2": 10_000.0}[name]
    vals = np.full(GEO_SHAPE, good, np.float32)
    if where == "everywhere":
        vals[:] = sentinel
    else:
        vals[6, :] = sentinel  # 26.18-26.16 N: a row of 2-km pixels across the 30-m grid
    write(inputs[name], vals, GEO_TRANSFORM, GEO, nodata=np.nan)
    cfg = write_config(tmp_path, inputs)
    _cli_error(tmp_path, cfg, f"Input {name!r}", inputs[name].name, f"holds {sentinel:g}",
               "nodata value the file does not declare", f"-a_nodata {sentinel:g}")
    with pytest.raises(RasterError, match="does not declare"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)


@pytest.mark.parametrize("name", ["runoff", "soil_pco2", "temperature"])
def test_plus_infinity_in_a_raster_is_refused_not_mapped(tmp_path, name):
    # +inf runoff used to give +inf pixels, an 'inf t C/yr' total and exit 0 (-inf was
    # refused); the plausibility checks see only finite values, so the block read refuses it
    inputs = uniform_inputs(tmp_path)
    good = {"runoff": 500.0, "temperature": 15.0, "soil_pco2": 10_000.0}[name]
    vals = np.full(GEO_SHAPE, good, np.float32)
    vals[6, :] = np.inf
    write(inputs[name], vals, GEO_TRANSFORM, GEO, nodata=np.nan)
    cfg = write_config(tmp_path, inputs)
    _cli_error(tmp_path, cfg, f"Input {name!r}", inputs[name].name, "holds +inf")
    with pytest.raises(RasterError, match=r"holds \+inf"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)


@pytest.mark.parametrize("value", [0.0, -5.0])
def test_a_soil_pco2_of_zero_is_refused_unless_it_is_the_declared_nodata(tmp_path, value):
    # 0 ppmv soil pCO2 used to give a karst sink of exactly 0 there, with nothing said;
    # soil air always holds more CO2 than the atmosphere (~400 ppmv)
    inputs = uniform_inputs(tmp_path)
    vals = np.full(GEO_SHAPE, 10_000.0, np.float32)
    vals[6, :] = value
    write(inputs["soil_pco2"], vals, GEO_TRANSFORM, GEO, nodata=np.nan)
    cfg = write_config(tmp_path, inputs)
    _cli_error(tmp_path, cfg, "Input 'soil_pco2'", inputs["soil_pco2"].name,
               f"holds {value:g}", "no soil air has", f"-a_nodata {value:g}")
    with pytest.raises(RasterError, match="no soil air has"):
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    # declared as the file's nodata, its pixels are nodata, not a sink of 0: as many zeros
    # (the non-carbonate pixels) as with no such row, and more nodata
    write(inputs["soil_pco2"], np.full(GEO_SHAPE, 10_000.0, np.float32), GEO_TRANSFORM, GEO,
          nodata=np.nan)
    run_map(load_config(cfg), tmp_path / "out1", quicklook=False)
    write(inputs["soil_pco2"], vals, GEO_TRANSFORM, GEO, nodata=value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        run_map(load_config(cfg), tmp_path / "out2", quicklook=False)
    full, holed = (read(tmp_path / d / "karst_sink.tif") for d in ("out1", "out2"))
    assert np.count_nonzero(holed == 0) == np.count_nonzero(full == 0)
    assert np.isnan(holed).sum() > np.isnan(full).sum()


def test_minus_999_in_a_dem_is_an_elevation_not_a_code(tmp_path):
    # -999 m is a depth of bathymetric DEMs (GEBCO): a DEM may hold it; with no pressure
    # correction asked for, the DEM does not change the sink, and the run goes through
    inputs = uniform_inputs(tmp_path)
    dem = np.full(GEO_SHAPE, 1000.0, np.float32)
    dem[0, 0] = -999.0
    inputs["dem"] = write(tmp_path / "dem.tif", dem, GEO_TRANSFORM, GEO, nodata=np.nan)
    cfg = write_config(tmp_path, inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    assert np.isfinite(karst[50:]).all()


def test_a_declared_minus_9999_is_nodata_not_an_error(tmp_path):
    inputs = uniform_inputs(tmp_path)
    runoff = np.full(GEO_SHAPE, 500.0, np.float32)
    runoff[6, :] = -9999.0
    write(inputs["runoff"], runoff, GEO_TRANSFORM, GEO, nodata=-9999.0)  # declared
    cfg = write_config(tmp_path, inputs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    assert np.isnan(karst[50:]).any()  # the declared nodata row: nodata, not 0
    assert_allclose(karst[50:][np.isfinite(karst[50:])], HAND_SINK, rtol=0.01)


def test_carbonate_in_percent_is_refused_and_declared_percent_maps_the_same(tmp_path):
    inputs = uniform_inputs(tmp_path)
    carb = np.full(LC_SHAPE, 100.0, np.float32)
    carb[:50] = 0.0
    write(inputs["carbonate"], carb, LC_TRANSFORM, UTM)
    cfg = write_config(tmp_path, inputs)
    _cli_error(tmp_path, cfg, "'carbonate'", "look like percent", 'units = "percent"')
    _inline(cfg, "carbonate", '{ path = "carb.tif", units = "percent" }')
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    assert_allclose(karst[50:], HAND_SINK, rtol=0.01)
    assert np.all(karst[:50] == 0.0)


def test_runoff_in_metres_declared_or_forced(tmp_path):
    inputs = uniform_inputs(tmp_path)
    write(inputs["runoff"], np.full(GEO_SHAPE, 0.5, np.float32), GEO_TRANSFORM, GEO,
          nodata=-9999.0)
    cfg = write_config(tmp_path, inputs)
    _inline(cfg, "runoff", '{ path = "runoff.tif", units = "m/yr" }')
    run_map(load_config(cfg), tmp_path / "m", quicklook=False)
    # 0.5 m/yr = 500 mm/yr: the hand value
    assert_allclose(read(tmp_path / "m" / "karst_sink.tif")[50:], HAND_SINK, rtol=0.01)
    _inline(cfg, "runoff", '{ path = "runoff.tif", force = true }')
    run_map(load_config(cfg), tmp_path / "forced", quicklook=False)
    # forced: read as 0.5 mm/yr, 1/1000 of the hand value
    assert_allclose(read(tmp_path / "forced" / "karst_sink.tif")[50:], HAND_SINK / 1000,
                    rtol=0.01)


def test_temperature_in_kelvin_declared_equals_degc(tmp_path):
    ref = uniform_inputs(tmp_path / "c")
    run_map(load_config(write_config(tmp_path / "c", ref)), tmp_path / "c" / "out",
            quicklook=False)
    inputs = uniform_inputs(tmp_path / "k", temp=15.0 + 273.15)
    cfg = write_config(tmp_path / "k", inputs)
    _inline(cfg, "temperature", '{ path = "temperature.tif", units = "K" }')
    run_map(load_config(cfg), tmp_path / "k" / "out", quicklook=False)
    assert_allclose(read(tmp_path / "k" / "out" / "karst_sink.tif"),
                    read(tmp_path / "c" / "out" / "karst_sink.tif"), rtol=1e-5)


def test_scaled_pco2_by_scale_key(tmp_path):
    inputs = uniform_inputs(tmp_path, pco2_ppmv=1000.0)  # stored in 10 ppmv steps
    cfg = write_config(tmp_path, inputs)
    _inline(cfg, "soil_pco2", '{ path = "soil_pco2.tif", scale = 10 }')
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    assert_allclose(read(tmp_path / "out" / "karst_sink.tif")[50:], HAND_SINK, rtol=0.01)


def test_evapotranspiration_above_precipitation_everywhere(tmp_path):
    inputs = uniform_inputs(tmp_path)
    del inputs["runoff"]
    inputs["precipitation"] = write(tmp_path / "p.tif", np.full(GEO_SHAPE, 1.2, np.float32),
                                    GEO_TRANSFORM, GEO)  # metres, by mistake
    inputs["evapotranspiration"] = write(tmp_path / "et.tif",
                                         np.full(GEO_SHAPE, 700.0, np.float32),
                                         GEO_TRANSFORM, GEO)
    cfg = write_config(tmp_path, inputs)
    _cli_error(tmp_path, cfg, "'precipitation'", 'units = "m/yr"')
    write(inputs["precipitation"], np.full(GEO_SHAPE, 650.0, np.float32), GEO_TRANSFORM, GEO)
    _cli_error(tmp_path, cfg, "at or above precipitation", "on every sampled pixel")
    write(inputs["precipitation"], np.full(GEO_SHAPE, 1.2, np.float32), GEO_TRANSFORM, GEO)
    _inline(cfg, "precipitation", '{ path = "p.tif", units = "m/yr" }')
    run_map(load_config(cfg), tmp_path / "out", quicklook=False)  # 1200 - 700 = 500 mm/yr
    assert_allclose(read(tmp_path / "out" / "karst_sink.tif")[50:], HAND_SINK, rtol=0.01)


@pytest.mark.parametrize(("name", "value", "needle"), [
    ("nep", 0.3, 'units = "kg C m-2 yr-1"'), ("nep", 30000.0, "packed"),
    ("dem", 29000.0, "feet"), ("dolomite_fraction", 60.0, "percent")])
def test_optional_inputs_are_checked_too(tmp_path, name, value, needle):
    inputs = uniform_inputs(tmp_path)
    inputs[name] = write(tmp_path / f"{name}.tif", np.full(LC_SHAPE, value, np.float32),
                         LC_TRANSFORM, UTM)
    _cli_error(tmp_path, write_config(tmp_path, inputs), f"Input {name!r}", needle)


@pytest.mark.parametrize(("table", "match"), [
    ('{ path = "runoff.tif", unit = "m/yr" }', r"runoff: unknown key 'unit' .*allowed: path"),
    ('{ force = true }', r"runoff = \{\.\.\.\} needs a path key"),
    ('{ path = "runoff.tif", units = "furlongs" }', r"runoff.units = 'furlongs' .*m/yr"),
    ('{ path = "runoff.tif", force = "yes" }', r"runoff.force must be true or false"),
    ('{ path = "runoff.tif", scale = 0 }', r"runoff.scale must be a number other than 0"),
    ('{ path = "nope.tif" }', r"\[inputs\] runoff: file .*nope.tif does not exist"),
])
def test_inline_input_tables_are_validated(tmp_path, table, match):
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs)
    _inline(cfg, "runoff", table)
    with pytest.raises(ConfigError, match=match):
        load_config(cfg)


@pytest.mark.parametrize("table", ['{ path = "lc.tif", units = "K" }',
                                   '{ path = "lc.tif", scale = 2 }',
                                   '{ path = "lc.tif", force = true }'])
def test_landcover_takes_no_units_scale_or_force(tmp_path, table):
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs)
    _inline(cfg, "landcover", table)
    with pytest.raises(ConfigError, match=r"landcover"):
        load_config(cfg)


# --- 6d. truncated files ----------------------------------------------------------------
@pytest.mark.parametrize(("name", "keep"), [("landcover", 0.5), ("carbonate", 0.5),
                                            ("runoff", 0.5), ("carbonate", 0.97)])
def test_truncated_geotiff_is_one_line_and_nothing_written(tmp_path, name, keep):
    # keep = 0.97: the cut lies past the sample windows; the pass itself hits it
    inputs = uniform_inputs(tmp_path)
    if name == "carbonate":  # more strips, so a 3 % cut loses some of them
        write(inputs[name], np.random.default_rng(1).random(LC_SHAPE, np.float32),
              LC_TRANSFORM, UTM)
    raw = inputs[name].read_bytes()
    inputs[name].write_bytes(raw[: int(len(raw) * keep)])
    cfg = write_config(tmp_path, inputs, extra='[tables]\nlandcover = "worldcover"\n')
    _cli_error(tmp_path, cfg, inputs[name].name, "truncated or corrupt")


def test_truncated_cog_zones_and_processes_engine(tmp_path):
    # a tiled, compressed file cut in half; the processes engine and a zone helper running
    import rasterio

    inputs = uniform_inputs(tmp_path)
    data = np.random.default_rng(2).random(LC_SHAPE, np.float32)
    with rasterio.open(inputs["carbonate"], "w", driver="GTiff", width=300, height=200,
                       count=1, dtype="float32", crs=UTM, transform=LC_TRANSFORM, tiled=True,
                       blockxsize=64, blockysize=64, compress="deflate") as ds:
        ds.write(data, 1)
    raw = inputs["carbonate"].read_bytes()
    inputs["carbonate"].write_bytes(raw[: len(raw) * 3 // 4])
    _zones(tmp_path, ["a", "b"], [shapely.box(LEFT, BOTTOM, LEFT + 4500, TOP),
                                  shapely.box(LEFT + 4500, BOTTOM, RIGHT, TOP)])
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "z.gpkg"\nfield = "name"\n'
                       '[model]\nengine = "processes"\n')
    _cli_error(tmp_path, cfg, "carb.tif", "truncated or corrupt")


# --- 7. zones -------------------------------------------------------------------------
def _zones(folder, names, geoms, **extra):
    gdf = gpd.GeoDataFrame({"name": names, **extra}, geometry=geoms, crs=UTM)
    gdf.to_file(folder / "z.gpkg")
    return folder / "z.gpkg"


def _zone_run(folder, names, geoms, **extra):
    inputs = uniform_inputs(folder)
    _zones(folder, names, geoms, **extra)
    cfg = write_config(folder, inputs, extra='[zones]\npath = "z.gpkg"\nfield = "name"\n')
    return run_map(load_config(cfg), folder / "out", jobs=2, quicklook=False)


def test_a_zone_field_named_like_an_output_column_is_refused_before_the_map(tmp_path):
    # a field 'area_km2' (the demo's counties have one) as the label crashed after the map
    # pass: zonal_totals.csv computes its own area_km2
    inputs = uniform_inputs(tmp_path)
    _zones(tmp_path, ["a"], [shapely.box(LEFT, BOTTOM, LEFT + 4500, TOP)], area_km2=[1.0])
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "z.gpkg"\nfield = "area_km2"\n')
    _cli_error(tmp_path, cfg, "[zones] field 'area_km2'", "zonal_totals.csv",
               "name another field")


def test_an_invalid_zone_polygon_is_one_line_naming_its_fid(tmp_path):
    # a bow-tie (self-intersecting) zone gave GEOS's TopologyException as an internal error
    inputs = uniform_inputs(tmp_path)
    bow = shapely.Polygon([(LEFT, BOTTOM), (LEFT + 4000, TOP), (LEFT + 4000, BOTTOM),
                           (LEFT, TOP)])
    assert not bow.is_valid
    _zones(tmp_path, ["ok", "bow"], [shapely.box(LEFT, BOTTOM, LEFT + 4500, TOP), bow])
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "z.gpkg"\nfield = "name"\n')
    _cli_error(tmp_path, cfg, "1 of 2 polygons are invalid geometries (first: fid 2,",
               "Self-intersection", "Fix geometries")


def test_nested_zones_duplicate_and_null_names_keep_every_feature(tmp_path):
    # a province over the whole grid (9 km x 6 km = 54 km2) and three counties in it, two
    # of them named alike, one with a NULL name; name_zh kept as a source attribute
    province = shapely.box(LEFT, BOTTOM, RIGHT, TOP)
    west = shapely.box(LEFT, BOTTOM, LEFT + 3000, TOP)  # 3 km x 6 km = 18 km2
    mid = shapely.box(LEFT + 3000, BOTTOM, LEFT + 6000, TOP)
    east = shapely.box(LEFT + 6000, BOTTOM, RIGHT, TOP)
    res = _zone_run(tmp_path, ["Guizhou", "Xiang", "Xiang", None], [province, west, mid, east],
                    name_zh=["贵州", "乡", "乡", "无名"])
    csv = pd.read_csv(tmp_path / "out" / "zonal_totals.csv")
    assert csv.columns[:3].tolist() == ["zone_id", "name", "name_zh"]
    assert csv["zone_id"].tolist()[:4] == [1, 2, 3, 4] and len(csv) == 5
    assert csv["name_zh"].tolist()[:4] == ["贵州", "乡", "乡", "无名"]
    assert csv["name"].isna().tolist() == [False, False, False, True, False]
    assert_allclose(csv["area_km2"][:4], [54.0, 18.0, 18.0, 18.0], rtol=1e-6)
    # TOTAL: the union of the zones (the province), each area once, not 108 km2
    assert_allclose(csv["area_km2"][4], 54.0, rtol=1e-6)
    assert_allclose(csv["karst_sink_t_c_yr"][4], csv["karst_sink_t_c_yr"][0], rtol=1e-9)
    # the province's karst sink = the three counties' (rows 50-199 carbonate: 4.5 km)
    assert_allclose(csv["karst_sink_t_c_yr"][0], 9 * 4.5 * HAND_SINK, rtol=0.01)
    assert_allclose(csv["karst_sink_t_c_yr"][0], csv["karst_sink_t_c_yr"][1:4].sum(),
                    rtol=1e-9)
    gpkg = gpd.read_file(tmp_path / "out" / "zonal_totals.gpkg")
    assert gpkg["zone_id"].tolist() == [1, 2, 3, 4]
    assert gpkg["name_zh"].tolist() == ["贵州", "乡", "乡", "无名"]
    assert res.zonal_columns["zone_id"][-1] is None


@pytest.mark.parametrize("extra", ['[model]\nnumba = false\n',
                                   '[model]\nengine = "processes"\n'])
def test_nested_zones_equal_in_numpy_and_processes_engines(tmp_path, extra):
    # the same nested layer (a province and two counties splitting it mid-pixel) summed
    # by the numpy fallback and by worker processes (zones pickled with their layers)
    geoms = [shapely.box(LEFT, BOTTOM, RIGHT, TOP), shapely.box(LEFT, BOTTOM, 504515, TOP),
             shapely.box(504515, BOTTOM, RIGHT, TOP)]
    inputs = uniform_inputs(tmp_path)
    _zones(tmp_path, ["P", "W", "E"], geoms)
    base = '[zones]\npath = "z.gpkg"\nfield = "name"\n'
    ref = run_map(load_config(write_config(tmp_path, inputs, extra=base)), tmp_path / "a",
                  jobs=2, quicklook=False).zonal_columns
    got = run_map(load_config(write_config(tmp_path, inputs, extra=base + extra)),
                  tmp_path / "b", jobs=2, quicklook=False).zonal_columns
    # West 150.5 px x 200 px of 30 m = 27.09 km2, East 26.91 km2, the province 54 km2
    assert_allclose(ref["area_km2"], [54.0, 27.09, 26.91, 54.0], rtol=1e-9)
    for col in ("area_km2", "karst_sink_t_c_yr", "total_sink_t_c_yr"):
        assert_allclose(got[col], ref[col], rtol=1e-5)


def test_a_zone_off_the_grid_is_warned_and_has_nan_sinks(tmp_path):
    with pytest.warns(DataQualityWarning, match=r"off the map grid.*zone_id 2 \(name 'Far'\)"):
        _zone_run(tmp_path, ["Here", "Far"],
                  [shapely.box(LEFT, BOTTOM, RIGHT, TOP),
                   shapely.box(LEFT + 1e5, BOTTOM, LEFT + 1.1e5, TOP)])
    csv = pd.read_csv(tmp_path / "out" / "zonal_totals.csv")
    assert csv["area_km2"][1] == 0.0 and math.isnan(csv["total_sink_t_c_yr"][1])
    assert_allclose(csv["total_sink_t_c_yr"][2], csv["total_sink_t_c_yr"][0], rtol=1e-12)


def test_non_polygon_features_are_named_when_left_out(tmp_path):
    with pytest.warns(DataQualityWarning, match=r"without a polygon .* fid 2"):
        res = _zone_run(tmp_path, ["a", "pt"], [shapely.box(LEFT, BOTTOM, RIGHT, TOP),
                                                shapely.Point(LEFT + 10, TOP - 10)])
    assert res.zonal_columns["name"] == ["a", "TOTAL (all zones)"]


def test_source_attribute_named_like_a_zone_column_is_renamed(tmp_path):
    res = _zone_run(tmp_path, ["a"], [shapely.box(LEFT, BOTTOM, RIGHT, TOP)],
                    area_km2=[123.0], zone_id=[7])
    assert res.zonal_columns["source_area_km2"][0] == 123.0
    assert res.zonal_columns["source_zone_id"][0] == 7
    assert res.zonal_columns["zone_id"][0] == 1


# --- hypothesis: any zone layer keeps every feature, each with its own full area ------------
_box = st.tuples(st.integers(0, 130), st.integers(0, 70), st.floats(0.0, 1.0),
                 st.floats(0.0, 1.0), st.floats(0.1, 0.9))


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(zones=st.lists(st.tuples(st.sampled_from(["A", "A", "B", None]), _box), min_size=1,
                      max_size=4))
def test_any_zone_layer_keeps_every_feature_with_its_area(tmp_path_factory, zones):
    # boxes at least 160 x 120 px (4.8 x 3.6 km) inside the 300 x 200 px grid, off the pixel
    # lattice, nested or overlapping at random; the sub-pixel border error (at most 1/8 px
    # per edge plus the corners: 2 x (160 + 120) / 8 + 1 = 71 px) is 0.37 % of the smallest
    # box (19,200 px), so a 0.5 % tolerance holds for every box
    folder = tmp_path_factory.mktemp("h")
    names = [n for n, _ in zones]
    geoms = []
    for _, (c0, r0, fw, fh, frac) in zones:
        w = 160 + fw * (300 - 160 - c0 - frac)
        h = 120 + fh * (200 - 120 - r0 - frac)
        x0, y0 = LEFT + 30 * (c0 + frac), BOTTOM + 30 * (r0 + frac)
        geoms.append(shapely.box(x0, y0, x0 + 30 * w, y0 + 30 * h))
    with warnings.catch_warnings():  # zones over part of the map: outside_zones
        warnings.simplefilter("ignore", DataQualityWarning)
        res = _zone_run(folder, names, geoms)
    z = res.zonal_columns
    assert z["zone_id"] == [*range(1, len(names) + 1), None]
    # the zones' union + the pixels in no zone = the grid (9 x 6 km, every pixel valid)
    doc = json.loads((folder / "out" / "run.json").read_text(encoding="utf-8"))
    outside = doc["flags"].get("outside_zones", {"area_km2": 0.0})["area_km2"]
    assert_allclose(z["area_km2"][-1] + outside, 54.0, rtol=1e-9)
    assert z["name"][:-1] == names and len(z["name"]) == len(names) + 1
    assert_allclose(z["area_km2"][:-1], [g.area / 1e6 for g in geoms], rtol=0.005)
    # the TOTAL row covers the union once (its border error can exceed one box's)
    assert_allclose(z["area_km2"][-1], shapely.union_all(geoms).area / 1e6, rtol=0.01)
