"""The per-pixel sd raster of the map's Monte Carlo draws ([uncertainty] sd_raster,
mapping/_draws.py): total_sink_sd.tif."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from affine import Affine
from mapping_helpers import (
    FEW_DRAWS,
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
)
from numpy.testing import assert_allclose, assert_array_equal

from karstsink.exceptions import ConfigError
from karstsink.mapping._draws import make_draws, parse_uncertainty
from karstsink.mapping.config import load_config
from karstsink.mapping.landcover import load_landcover_table
from karstsink.mapping.run import run_map

#: forest only, no _lo/_hi ranges: with runoff_rel_sd alone only runoff is varied
TABLE = ("class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source\n"
         "10,Forest,1.0,1.0,70,test\n")
STEP = 7  # neither the 128-px block nor the 300 x 200 px grid is a multiple of it


def _inputs(folder, runoff_scale=1.0, runoff_name="runoff.tif"):
    """uniform_inputs with a land-cover nodata patch (rows 150:, columns 250:) and a
    runoff that varies from cell to cell (300-900 mm yr-1 on the 0.02 deg grid), so
    that every sd pixel is tied to its own full-resolution pixel."""
    inputs = uniform_inputs(folder)
    lc = np.full(LC_SHAPE, 10, np.uint8)
    lc[150:, 250:] = 0  # the land cover's nodata
    write(folder / "lc.tif", lc, LC_TRANSFORM, UTM, nodata=0)
    q = np.random.default_rng(11).uniform(300.0, 900.0, GEO_SHAPE).astype(np.float32)
    write(folder / runoff_name, q * np.float32(runoff_scale), GEO_TRANSFORM, GEO,
          nodata=-9999.0)
    (folder / "lc_table.csv").write_text(TABLE, encoding="utf-8")
    return inputs


def _config(folder, unc: str, series: str = "", inputs=None):
    inputs = inputs or _inputs(folder)
    extra = f'[tables]\nlandcover = "lc_table.csv"\n{series}[uncertainty]\n{unc}'
    return write_config(folder, inputs, extra=extra)


def _runoff_factors(cfg) -> np.ndarray:
    """The K drawn runoff factors of a configuration (the draws' inputs)."""
    lct = load_landcover_table(cfg.table)
    return make_draws(cfg.uncertainty, lct, None, None).runoff


def test_sd_raster_is_the_karst_sink_times_the_sd_of_the_runoff_factor(tmp_path):
    cfg_path = _config(tmp_path, f"draws = 100\nseed = 3\nsubsample = {STEP}\n"
                                 "runoff_rel_sd = 0.1\nsd_raster = true\n")
    cfg = load_config(cfg_path)
    res = run_map(cfg, tmp_path / "out", jobs=2, quicklook=False)
    out = tmp_path / "out"
    assert {"total_sink_sd.tif", "total_sink_sd.qml"} <= set(res.files)
    assert "total_sink_sd.tif" in json.loads((out / "run.json").read_text())["files"]
    assert "draw_sd" not in res.counters
    h, w = LC_SHAPE
    with rasterio.open(out / "total_sink_sd.tif") as ds:
        sd = ds.read(1).astype(float)
        # ceil(200 / 7) = 29 rows, ceil(300 / 7) = 43 columns
        assert sd.shape == (29, 43) == (-(-h // STEP), -(-w // STEP))
        # 7 x the grid's 30 m pixels, same origin (the top-left pixel's corner)
        assert ds.transform == Affine(210.0, 0.0, 500000.0, 0.0, -210.0, 2900000.0)
        assert ds.crs.to_epsg() == 32648
        assert ds.dtypes[0] == "float32" and np.isnan(ds.nodata)
        tags = ds.tags()
        assert tags["units"] == "t C km-2 yr-1" and ds.units[0] == "t C km-2 yr-1"
        assert (tags["karstsink_draws"], tags["karstsink_seed"],
                tags["karstsink_subsample_step_px"]) == ("100", "3", "7")
        assert "top-left pixel" in ds.descriptions[0]
        struct = ds.tags(ns="IMAGE_STRUCTURE")
        assert (struct["LAYOUT"], struct["COMPRESSION"], struct["PREDICTOR"]) == (
            "COG", "DEFLATE", "3")
    assert cog_layout_errors(out / "total_sink_sd.tif") == []
    # lattice pixel (I, J) is the grid's pixel (7 I, 7 J)
    karst = read(out / "karst_sink.tif")[::STEP, ::STEP]
    total = read(out / "total_sink.tif")[::STEP, ::STEP]
    assert karst.shape == sd.shape
    # nodata where the map is nodata (land-cover patch: rows >= 154, columns >= 252)
    assert_array_equal(np.isnan(sd), np.isnan(total))
    assert np.isnan(sd[22:, 36:]).all() and np.isfinite(sd[:22]).all()
    # the karst sink is linear in runoff (S = M_C R c U, model.py) and the biological
    # sink does not depend on it: with one runoff factor f_k per draw the total of draw
    # k is bio + f_k x karst, so per pixel sd(total) = karst x sd(f) (ddof = 1), with
    # sd(f) the sample sd of the drawn factors (0.1 z + 1: none truncated at 0)
    f = _runoff_factors(cfg)
    assert f.size == 100 and f.min() > 0
    expect = karst * np.std(f, ddof=1)
    ok = np.isfinite(expect)
    assert_allclose(sd[ok], expect[ok], rtol=1e-4, atol=1e-6)
    # no carbonate in rows 0..49 (lattice rows 0..7): no karst sink, the total is fixed
    assert_allclose(sd[:8], 0.0, atol=1e-6)
    assert (sd[8:22] > 0).all()
    # and sd(f) is 0.1 within 3 Monte Carlo errors of a sd (0.1 sqrt(2 / (K - 1)))
    ratio = sd[8:22] / karst[8:22]
    assert abs(np.median(ratio) - 0.1) < 3 * 0.1 * np.sqrt(2 / 99)


@FEW_DRAWS
def test_no_sd_raster_by_default(tmp_path):
    cfg = load_config(_config(tmp_path, "draws = 5\nrunoff_rel_sd = 0.1\n"))
    assert cfg.uncertainty.sd_raster is False
    res = run_map(cfg, tmp_path / "out", jobs=2, quicklook=False)
    assert not (tmp_path / "out" / "total_sink_sd.tif").exists()
    assert not any(f.startswith("total_sink_sd") for f in res.files)
    assert "draw_sd" not in res.counters


@FEW_DRAWS
def test_processes_engine_writes_the_same_sd_raster(tmp_path):
    # engine tiles of 128 px: every worker's pieces are merged by the parent
    unc = (f"draws = 12\nseed = 4\nsubsample = {STEP}\nrunoff_rel_sd = 0.2\n"
           "temperature_sd_c = 1.0\nsd_raster = true\n")
    cfg = load_config(_config(tmp_path, unc))
    run_map(cfg, tmp_path / "t", jobs=2, quicklook=False)
    cfg = load_config(tmp_path / "map.toml")
    cfg.tile_size = 128
    res = run_map(cfg, tmp_path / "p", jobs=2, engine="processes", quicklook=False)
    assert res.counters["engine_tiles"] == 6
    a, b = read(tmp_path / "t" / "total_sink_sd.tif"), read(tmp_path / "p" / "total_sink_sd.tif")
    assert_array_equal(a, b)
    assert np.isfinite(a).sum() > 0.8 * a.size


def test_series_writes_one_sd_raster_per_year_in_its_unit(tmp_path):
    inputs = _inputs(tmp_path, 1.0, "runoff_2000.tif")
    _inputs(tmp_path, 1.6, "runoff_2020.tif")  # 1.6 x the runoff of 2000 in every cell
    inputs["runoff"] = tmp_path / "runoff_{year}.tif"
    cfg = load_config(_config(tmp_path, f"draws = 40\nseed = 8\nsubsample = {STEP}\n"
                                        "runoff_rel_sd = 0.15\nsd_raster = true\n",
                              series="[series]\nyears = [2000, 2020]\n", inputs=inputs))
    res = run_map(cfg, tmp_path / "out", jobs=2, co2=True, quicklook=False)
    out = tmp_path / "out"
    sd = {}
    for y in ("2000", "2020"):
        assert f"{y}/total_sink_sd.tif" in res.files and f"{y}/total_sink_sd.qml" in res.files
        year_doc = json.loads((out / y / "run.json").read_text())
        assert "total_sink_sd.tif" in year_doc["files"]
        with rasterio.open(out / y / "total_sink_sd.tif") as ds:
            sd[y] = ds.read(1).astype(float)
            assert ds.tags()["units"] == "t CO2 km-2 yr-1"
            assert ds.tags()["karstsink_year"] == y
        karst = read(out / y / "karst_sink.tif")[::STEP, ::STEP]  # t CO2, as the sd
        expect = karst * np.std(_runoff_factors(cfg), ddof=1)
        ok = np.isfinite(expect)
        assert_allclose(sd[y][ok], expect[ok], rtol=1e-4, atol=1e-6)
    assert not (out / "total_sink_sd.tif").exists()
    # the same draws in both years and the karst sink linear in runoff: 1.6 x the sd
    live = np.isfinite(sd["2000"]) & (sd["2000"] > 0)
    assert live.sum() > 100
    assert_allclose(sd["2020"][live] / sd["2000"][live], 1.6, rtol=1e-4)


@pytest.mark.parametrize("value", ["1", '"yes"'])
def test_sd_raster_must_be_a_boolean(tmp_path, value):
    cfg = write_config(tmp_path, uniform_inputs(tmp_path),
                       extra=f"[uncertainty]\ndraws = 10\nsd_raster = {value}\n")
    with pytest.raises(ConfigError, match=r"map\.toml: \[uncertainty\] sd_raster must be "
                                          r"true or false") as err:
        load_config(cfg)
    assert "\n" not in str(err.value)


def test_parse_uncertainty_reads_sd_raster():
    assert parse_uncertainty("", {"draws": 3, "sd_raster": True}).sd_raster is True
    assert parse_uncertainty("", {"draws": 3}).sd_raster is False
