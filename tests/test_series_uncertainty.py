"""Monte Carlo uncertainty of the map's zone totals ([uncertainty], mapping/_draws.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_helpers import (
    FEW_DRAWS,
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    uniform_inputs,
    write,
    write_config,
    zones_two_halves,
)
from numpy.testing import assert_allclose

from karstsink.exceptions import ConfigError, DataError, DataQualityWarning
from karstsink.mapping.config import load_config
from karstsink.mapping.landcover import load_landcover_table
from karstsink.mapping.run import run_map

HEAD = ("class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source,"
        "soil_pco2_factor_lo,soil_pco2_factor_hi,biological_sink_tc_km2_yr_lo,"
        "biological_sink_tc_km2_yr_hi\n")


def _table(folder, forest_bio="", crop_pco2=""):
    """Forest (10) and cropland (40); ranges as given ("lo,hi" or blank)."""
    fb = forest_bio or ","
    cp = crop_pco2 or ","
    text = HEAD + f"10,Forest,1.0,1.0,70,test,,,{fb}\n40,Cropland,0.62,1.0,0,test,{cp},,\n"
    path = folder / "lc_table.csv"
    path.write_text(text, encoding="utf-8")
    return path


def _run(folder, extra, table_kw=None, lc=None, zones=True):
    inputs = uniform_inputs(folder)
    if lc is not None:
        write(folder / "lc.tif", lc, LC_TRANSFORM, UTM, nodata=0)
    table = _table(folder, **(table_kw or {}))
    text = f'[tables]\nlandcover = "{table.name}"\n'
    if zones:
        zones_two_halves(folder)
        text += '[zones]\npath = "zones.gpkg"\nfield = "county"\n'
    cfg = write_config(folder, inputs, extra=text + extra)
    res = run_map(load_config(cfg), folder / "out", jobs=2, quicklook=False)
    unc = pd.read_csv(folder / "out" / "uncertainty.csv")
    sens = pd.read_csv(folder / "out" / "sensitivity.csv")
    return res, unc, sens


def test_runoff_error_scales_the_karst_sink_and_not_the_biological(tmp_path):
    res, unc, sens = _run(tmp_path, "[uncertainty]\ndraws = 400\nseed = 5\n"
                                    "runoff_rel_sd = 0.1\n")
    zonal = pd.read_csv(tmp_path / "out" / "zonal_totals.csv")
    # the central values are the zone table's (the total as karst + biological: float32
    # rounding of the per-pixel total apart)
    assert_allclose(unc["karst_sink_t_c_yr"], zonal["karst_sink_t_c_yr"], rtol=1e-12)
    assert_allclose(unc["total_sink_t_c_yr"], zonal["total_sink_t_c_yr"], rtol=1e-6)
    # the karst sink is linear in runoff (model.py), so with one systematic runoff factor
    # 1 + 0.1 z per draw its total is the central total x that factor: interval 1 -+
    # 1.96 x 0.1 = 0.804 .. 1.196 and sd 0.1 of the central value, in every zone alike
    # (tolerances for 400 draws: sd of a normal sd estimate ~ 0.1 / sqrt(800) = 3.5 %)
    k = unc["karst_sink_t_c_yr"]
    assert_allclose(unc["karst_sink_lo95_t_c_yr"] / k, 0.804, atol=0.03)
    assert_allclose(unc["karst_sink_hi95_t_c_yr"] / k, 1.196, atol=0.03)
    assert_allclose(unc["karst_sink_sd_t_c_yr"] / k, 0.1, rtol=0.12)
    ratio = unc["karst_sink_sd_t_c_yr"] / k
    assert np.ptp(ratio) < 1e-9  # systematic: the same factor everywhere
    # no class range: the biological sink is fixed
    assert_allclose(unc["biological_sink_lo95_t_c_yr"], unc["biological_sink_t_c_yr"])
    assert_allclose(unc["biological_sink_sd_t_c_yr"], 0.0, atol=1e-9)
    # the only varied parameter explains all of the variance
    assert sens["parameter"].unique().tolist() == ["runoff_factor"]
    assert_allclose(sens["variance_share_pct"], 100.0, rtol=1e-6)
    # 400 draws for 2 coefficients (runoff + intercept), R² 100 %: nothing to flag
    assert sens["qa_flags"].isna().all()
    assert "uncertainty.csv" in res.files and "sensitivity.csv" in res.files
    assert "Uncertainty: 400 Monte Carlo draws (seed 5)" in res.assumptions[-1]
    assert "temperature not varied" in res.assumptions[-1]


def test_class_range_of_the_biological_sink_gives_the_uniform_interval(tmp_path):
    # a forest sink uniform in 50..90 t C km-2 yr-1 (every pixel is forest): per km2 the
    # 2.5 and 97.5 percentiles are 50 + 0.025 x 40 = 51 and 89, the sd 40 / sqrt(12) =
    # 11.547 (tolerances for 400 draws)
    _, unc, sens = _run(tmp_path, "[uncertainty]\ndraws = 400\nseed = 2\n",
                        table_kw={"forest_bio": "50,90"})
    zonal = pd.read_csv(tmp_path / "out" / "zonal_totals.csv")
    area = zonal["area_km2"]
    assert_allclose(unc["biological_sink_t_c_yr"] / area, 70.0, rtol=1e-9)
    assert_allclose(unc["biological_sink_lo95_t_c_yr"] / area, 51.0, atol=1.5)
    assert_allclose(unc["biological_sink_hi95_t_c_yr"] / area, 89.0, atol=1.5)
    assert_allclose(unc["biological_sink_sd_t_c_yr"] / area, 40 / np.sqrt(12), rtol=0.08)
    assert_allclose(unc["karst_sink_sd_t_c_yr"], 0.0, atol=1e-9)
    assert sens["parameter"].unique().tolist() == ["biological_sink:10"]


def test_too_few_draws_for_the_regression_are_flagged(tmp_path):
    # two varied parameters (runoff, the forest sink) + the intercept = 3 coefficients:
    # 12 draws are fewer than 10 per coefficient (30), so every share is flagged, while the
    # response is still exactly linear in them (R² 100 %, no sensitivity_low_r2)
    with pytest.warns(DataQualityWarning, match="draws = 30 or more"):
        _, _, sens = _run(tmp_path, "[uncertainty]\ndraws = 12\nseed = 4\n"
                                    "runoff_rel_sd = 0.1\n", table_kw={"forest_bio": "50,90"})
    assert sorted(sens["parameter"].unique()) == ["biological_sink:10", "runoff_factor"]
    assert (sens["qa_flags"] == "sensitivity_few_draws").all()
    assert_allclose(sens["explained_variance_pct"], 100.0, atol=1e-6)


def test_variance_shares_of_an_orthogonal_design_by_hand():
    # x1, x2 = +-1 in a 2^2 factorial design: mean 0, variance 1, uncorrelated; y = 2 x1 + x2
    # has variance 2² + 1² = 5, so x1 explains 4/5 = 80 % and x2 1/5 = 20 % (R² 100 %); the
    # 4 draws are fewer than 10 per coefficient (3 coefficients)
    from types import SimpleNamespace

    from karstsink.mapping._draws import sensitivity

    x = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]])
    shares, r2, flags = sensitivity(2 * x[:, 0] + x[:, 1], SimpleNamespace(x=x))
    assert_allclose(shares, [80.0, 20.0], rtol=1e-12)
    assert_allclose(r2, 100.0, rtol=1e-12)
    assert flags == "sensitivity_few_draws"


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(5, 120), p=st.integers(1, 8),
       noise=st.floats(0.0, 2.0))
def test_variance_shares_never_exceed_100_percent(seed, k, p, noise):
    # whatever the chance correlations of a finite sample of draws (the squared standardised
    # coefficients alone can add up to more than 100 %), each share lies in 0..100 % and
    # together they are at most 100 %
    from types import SimpleNamespace

    from karstsink.mapping._draws import sensitivity

    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(k, p))
    y = x @ rng.normal(size=p) * 10 + noise * rng.normal(size=k)
    shares, _, _ = sensitivity(y, SimpleNamespace(x=x))
    ok = np.isfinite(shares)
    assert (shares[ok] >= 0).all()
    assert shares[ok].sum() <= 100.0 + 1e-9


def test_a_response_that_is_not_linear_is_flagged():
    # y = (x - 0.5)^2 over x uniform in 0..1 is symmetric about the mean of x: its linear
    # correlation with x is 0 in expectation, so R² is near 0 % (well below 70 %), while
    # 500 draws are plenty for 2 coefficients
    from types import SimpleNamespace

    from karstsink.mapping._draws import sensitivity

    x = np.random.default_rng(1).uniform(size=(500, 1))
    _, r2, flags = sensitivity((x[:, 0] - 0.5) ** 2, SimpleNamespace(x=x))
    assert r2 < 5.0
    assert flags == "sensitivity_low_r2"


def test_ratio_estimator_on_a_subsample_matches_every_pixel(tmp_path):
    # heterogeneous land cover (cropland pCO2 factor drawn in 0.5..0.75) and temperature
    rng = np.random.default_rng(3)
    lc = np.where(rng.random(LC_SHAPE) < 0.4, 40, 10).astype(np.uint8)
    lc[:, :100] = 40
    extra = "[uncertainty]\ndraws = 60\nseed = 9\ntemperature_sd_c = 1.0\nsubsample = {}\n"
    tables = {}
    for step in (1, 4):
        folder = tmp_path / f"s{step}"
        _, tables[step], _ = _run(folder, extra.format(step), lc=lc,
                                  table_kw={"crop_pco2": "0.5,0.75"})
    a, b = tables[1], tables[4]
    # subsample = 1 is the exact Monte Carlo (every pixel); every 4th row and column
    # (1/16 of the pixels) gives the same intervals within 1 % of the sink
    for c in ("karst_sink_lo95_t_c_yr", "karst_sink_hi95_t_c_yr", "total_sink_hi95_t_c_yr"):
        assert_allclose(b[c], a[c], rtol=0.01)
    assert_allclose(b["karst_sink_sd_t_c_yr"], a["karst_sink_sd_t_c_yr"], rtol=0.05)
    assert (a["karst_sink_sd_t_c_yr"] > 0).all()


@FEW_DRAWS
def test_uncertainty_without_zones_and_in_a_series(tmp_path):
    inputs = uniform_inputs(tmp_path)
    for y, q in ((2000, 500.0), (2020, 800.0)):
        write(tmp_path / f"runoff_{y}.tif", np.full(GEO_SHAPE, q, np.float32), GEO_TRANSFORM,
              GEO, nodata=-9999.0)
    cfg = write_config(tmp_path, {**inputs, "runoff": tmp_path / "runoff_{year}.tif"},
                       extra="[series]\nyears = [2000, 2020]\n[uncertainty]\ndraws = 50\n"
                             "runoff_rel_sd = 0.2\n")
    res = run_map(load_config(cfg), tmp_path / "out", jobs=2, quicklook=False)
    unc = pd.read_csv(tmp_path / "out" / "uncertainty.csv")
    assert unc["year"].tolist() == [2000, 2020]
    assert unc["zone"].tolist() == ["TOTAL (all zones)"] * 2
    for y in (2000, 2020):
        t = res.series["totals"][str(y)]["karst_sink_t_c_yr"]
        row = unc[unc["year"] == y].iloc[0]
        assert_allclose(row["karst_sink_t_c_yr"], t, rtol=1e-12)
        assert row["karst_sink_lo95_t_c_yr"] < t < row["karst_sink_hi95_t_c_yr"]
    # the same draws in both years: the same relative interval
    rel = unc["karst_sink_sd_t_c_yr"] / unc["karst_sink_t_c_yr"]
    assert_allclose(rel.iloc[0], rel.iloc[1], rtol=1e-6)


@pytest.mark.parametrize(("row", "needle"), [
    ("10,Forest,1.0,1.0,70,t,,,80,90\n", "outside its range"),
    ("10,Forest,1.0,1.0,70,t,,,50,\n", "only one of"),
])
def test_bad_ranges_in_a_land_cover_table(tmp_path, row, needle):
    path = tmp_path / "t.csv"
    path.write_text(HEAD + row, encoding="utf-8")
    with pytest.raises(DataError, match=needle):
        load_landcover_table(path)


def test_shipped_tables_hold_ranges_around_their_values():
    for name in ("worldcover", "clcd"):
        t = load_landcover_table(name)
        for col in ("soil_pco2_factor", "biological_sink_tc_km2_yr"):
            lo, hi = t.columns[f"{col}_lo"], t.columns[f"{col}_hi"]
            assert np.all(lo <= t.columns[col]) and np.all(t.columns[col] <= hi)
        assert all(s.strip() for s in t.columns["range_source"])


@pytest.mark.parametrize(("body", "needle"), [
    ("seed = 1\n", "needs draws"),
    ("draws = 1\n", "draws must be an integer >= 2"),
    ("draws = 10\nrunoff_rel_sd = -0.1\n", "runoff_rel_sd must be a number >= 0"),
    ("draws = 10\nsubsample = 0\n", "subsample must be an integer >= 1"),
    ("draws = 10\nsamples = 3\n", "unknown key 'samples'"),
])
def test_bad_uncertainty_sections(tmp_path, body, needle):
    cfg = write_config(tmp_path, uniform_inputs(tmp_path), extra="[uncertainty]\n" + body)
    with pytest.raises(ConfigError, match=needle):
        load_config(cfg)


@FEW_DRAWS
def test_processes_engine_gives_the_same_intervals(tmp_path):
    rng = np.random.default_rng(4)
    lc = np.where(rng.random(LC_SHAPE) < 0.5, 40, 10).astype(np.uint8)
    extra = "[uncertainty]\ndraws = 20\nseed = 1\ntemperature_sd_c = 1.0\n"
    _, a, _ = _run(tmp_path / "t", extra, lc=lc, table_kw={"crop_pco2": "0.5,0.75"})
    cfg = load_config(tmp_path / "t" / "map.toml")
    cfg.tile_size = 128
    run_map(cfg, tmp_path / "p", jobs=2, engine="processes", quicklook=False)
    b = pd.read_csv(tmp_path / "p" / "uncertainty.csv")
    num = a.select_dtypes("number").columns.drop("zone_id")
    assert_allclose(b[num], a[num], rtol=1e-9)
