"""Trends on the 32-year Choptank record (EGRET's ``Choptank_eList``) against EGRET 3.0.12.

Reference numbers: ``data/reference/egret/choptank/`` (the project's run of USGS EGRET 3.0.12
and EGRETci 2.0.5 on R 4.2.2, on the inputs in ``data/reference/choptank/``; the exact calls,
versions and timings are in that folder's README).  The issue asks for runPairs/runGroups
within 1 %, stationary FN annual fluxes within 0.5 % and WRTDS-Kalman annual fluxes within
1 % "where EGRET's own Monte Carlo spread allows"; the deterministic outputs are held to
1e-6 relative here (measured: 1e-10), far inside those limits.  WRTDS-Kalman and the
bootstrap use random draws that cannot be R's, so they are compared within the Monte Carlo
spread measured from EGRET's own runs with several seeds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import read_reference
from scipy import stats
from test_flux_wrtds import _choptank_inputs

from karstsink.flux._gfn import period_labels
from karstsink.flux._kalman import wrtds_kalman
from karstsink.flux._trend_boot import bootstrap_trend
from karstsink.flux.trends import run_groups, run_pairs, trend_annual, trend_context
from karstsink.flux.wrtds import estimate_wrtds

# Days of more discharge than any sample warn (tests/test_flux_options.py and the app7
# fixture of tests/test_flux_wrtds.py check it); here it is not what a test is about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")


R = "egret/choptank/"
COLS = {"TotalChange": "total_change", "CQTC": "cqtc", "QTC": "qtc", "x10": "x10",
        "x11": "x11", "x20": "x20", "x22": "x22"}
KALMAN_SEEDS = (376168, 1, 2, 3, 4)
WATER_YEARS = list(range(1980, 2012))
#: EGRETci runPairsBoot runs stored: (windowSide, startSeed)
EGRETCI_RUNS = [(0, 494817), (0, 1), (7, 494817)]


@pytest.fixture(scope="module")
def chop():
    """The fit (cross-validated, as EGRET's modelEstimation: WRTDS-Kalman needs the
    cross-validated estimate of the one censored sample) and its trend context (~2 s)."""
    daily, samples = _choptank_inputs()
    est = estimate_wrtds(daily, samples, bootstrap=0)
    return est, trend_context(est)


def _assert_trend_matches(res, ref, rtol=1e-6):
    for egret, ours in COLS.items():
        conc = res.table.loc["conc", ours]
        flux = res.table.loc["flux", ours] * 1e-6  # kg/yr -> EGRET's 10^6 kg/yr
        np.testing.assert_allclose([conc, flux], ref[egret].to_numpy(), rtol=rtol, atol=1e-12,
                                   err_msg=egret)


# ------------------------------------------------------------------ deterministic outputs


def test_stationary_fn_annual_matches_egret(chop):
    _est, ctx = chop
    ref = read_reference(R + "choptank_annual_setupYears_kgday.csv")
    ann = trend_annual(ctx)
    assert ann["year"].tolist() == WATER_YEARS
    for ours, theirs in (("fn_conc_mg_L", "FNConc"), ("fn_flux_kg_day", "FNFlux"),
                         ("conc_mean_mg_L", "Conc"), ("flux_mean_kg_day", "Flux")):
        np.testing.assert_allclose(ann[ours], ref[theirs], rtol=1e-6, err_msg=ours)
    np.testing.assert_allclose(ann["dec_year"], ref["DecYear"], rtol=1e-12)
    # EGRET's printed tableResults (kg/yr rounded to the unit): FN flux = mean kg/day x 365.25
    tab = read_reference(R + "choptank_tableResults_kgyr.csv")
    np.testing.assert_allclose(ann["fn_flux_kg_day"] * 365.25, tab["FN Flux [kg/yr]"], atol=0.5)


def test_cross_validated_flux_bias_matches_egret(chop):
    """EGRET's fluxBiasStat on the cross-validated (leave-one-out) fit of all 606 samples."""
    est, _ctx = chop
    ref = read_reference(R + "choptank_fluxBiasStat.csv").iloc[0]
    for k in ("bias1", "bias2", "bias3"):
        assert est.model["flux_bias"][k] == pytest.approx(ref[k], rel=1e-6), k


@pytest.mark.parametrize("ws", [0, 7])
def test_run_pairs_1985_2010_matches_egret(chop, ws):
    _est, ctx = chop
    ref = read_reference(R + f"choptank_runPairs_1985_2010_ws{ws}.csv", index_col=0)
    res = run_pairs(ctx, 1985, 2010, window_side=ws)
    assert (res.info["min_obs"], res.info["min_uncen"]) == (100, 50)  # EGRET printed these
    _assert_trend_matches(res, ref)
    if ws == 7:  # GFN: the discharge record's change shows up as QTC
        assert ref.loc["Flux", "QTC"] != 0


@pytest.mark.parametrize("ws", [0, 7])
def test_run_groups_matches_egret(chop, ws):
    """EGRET's ``runGroups(group1firstYear = 1980, group1lastYear = 1995, group2firstYear =
    1996, group2lastYear = 2011)`` keeps the years whose mean decimal year lies inside each
    range: water year 1995 has DecYear 1995.25 > 1995, so the groups are water years
    1980-1994 and 1996-2010, our ``(1980, 1994)``, ``(1996, 2010)``."""
    _est, ctx = chop
    ref = read_reference(R + f"choptank_runGroups_1980_1995_1996_2011_ws{ws}.csv", index_col=0)
    res = run_groups(ctx, (1980, 1994), (1996, 2010), window_side=ws)
    _assert_trend_matches(res, ref)


@pytest.mark.parametrize("ws", [0, 7])
def test_annual_gfn_matches_egret_run_series(chop, ws):
    _est, ctx = chop
    ref = read_reference(R + f"choptank_runSeries_ws{ws}_setupYears_kgday.csv")
    ann = trend_annual(ctx, window_side=ws)
    assert ann["year"].tolist() == WATER_YEARS
    pre = "gfn" if ws else "fn"
    np.testing.assert_allclose(ann[f"{pre}_conc_mg_L"], ref["FNConc"], rtol=1e-6)
    np.testing.assert_allclose(ann[f"{pre}_flux_kg_day"], ref["FNFlux"], rtol=1e-6)


# ------------------------------------------------------------------ WRTDS-Kalman


@pytest.fixture(scope="module")
def egret_kalman():
    """EGRET's annual GenFlux [kg/day] for the five seeds: (n_seed, 32)."""
    return np.array([read_reference(R + f"choptank_kalman_seed{s}_setupYears_kgday.csv")
                     ["GenFlux"].to_numpy(float) for s in KALMAN_SEEDS])


def test_kalman_annual_within_egret_monte_carlo_spread(chop, egret_kalman):
    """Annual WRTDS-Kalman flux (rho 0.90, niter 200) against EGRET's runs with five seeds.

    A 200-realisation annual flux has a Monte Carlo standard error ``se = sd / sqrt(200)``,
    ``sd`` the spread of one realisation's annual mean (from our realisations: 0.13-0.43 %
    of the flux).  EGRET's own seed-to-seed spread must be that error (pooled over the 32
    years, measured ratio 1.08: the two draw from the same distribution); our value must lie
    within 4 ``se sqrt(1 + 1/5)`` of EGRET's five-seed mean every year (measured max 1.7),
    and, as the issue asks, within 1 % of it every year (measured max 0.45 %; EGRET's five
    seeds themselves spread by up to 1.2 %), and over the record within 0.2 %.
    """
    est, ctx = chop
    kal, it = wrtds_kalman(est, rho=0.90, niter=200, seed=7, return_iterations=True)
    ours = trend_annual(ctx, kalman=kal)["kalman_flux_kg_day"].to_numpy(float)
    lab = period_labels(kal.index)
    se = np.array([it[:, lab == y].mean(axis=1).std(ddof=1) for y in WATER_YEARS]) / np.sqrt(200)
    mean, sd = egret_kalman.mean(axis=0), egret_kalman.std(axis=0, ddof=1)
    assert 0.7 < np.sqrt(np.mean((sd / se) ** 2)) < 1.4
    z = (ours - mean) / (se * np.sqrt(1 + 1 / len(KALMAN_SEEDS)))
    assert np.all(np.abs(z) < 4), np.round(z, 2)
    rel = ours / mean - 1
    assert np.all(np.abs(rel) < 0.01), np.round(100 * rel, 2)
    assert abs(ours.sum() / mean.sum() - 1) < 0.002
    # on a sampled day (uncensored) every realisation passes through the sample, as EGRET's
    daily = read_reference(R + "choptank_kalman_daily_seed376168.csv", parse_dates=["Date"])
    daily = daily.set_index("Date")
    s = est.samples[~est.samples["censored"]]
    days = pd.to_datetime(s["date"])
    np.testing.assert_allclose(kal.loc[days, "kalman_conc_mg_L"], s["conc_mg_L"], rtol=1e-9)
    np.testing.assert_allclose(daily.loc[days, "GenConc"], s["conc_mg_L"], rtol=1e-7)


# ------------------------------------------------------------------ bootstrap (EGRETci)


@pytest.mark.parametrize(("ws", "egret_seed"), EGRETCI_RUNS)
def test_pairs_bootstrap_covers_egretci(chop, ws, egret_seed):
    """100 replicates of runPairs(1985, 2010) against EGRETci's runPairsBoot(nBoot = 100).

    The 5 and 95 % quantiles of 100 replicates have a Monte Carlo standard error of about
    ``sqrt(0.05 x 0.95 / 100) / phi(1.645) = 0.21`` standard deviations of the replicates (a
    normal approximation); the difference of two independent runs 0.30 of them.  Ours and
    EGRETci's interval ends must agree within 3 such errors, their replicate spreads within
    35 % (the standard deviation of 100 draws is known to ~7 %), a two-sample
    Kolmogorov-Smirnov test must not separate EGRETci's replicates from 400 of ours
    (measured p = 0.25-0.78), and the p-value and the likelihood words must be EGRETci's.
    """
    _est, ctx = chop
    res = run_pairs(ctx, 1985, 2010, window_side=ws)
    b = bootstrap_trend(ctx, res, n_boot=100, seed=494817, jobs=2)
    tag = f"choptank_runPairsBoot_ws{ws}_seed{egret_seed}"
    eg = read_reference(R + tag + "_bootOut.csv").iloc[0]
    reps = read_reference(R + tag + "_replicates.csv")
    assert eg["nBootGood"] == 100 and eg["estF"] == pytest.approx(
        res.table.loc["flux", "total_change"] * 1e-6, rel=1e-9)
    ours = b.info["bootstrap"]["replicates"]
    for row, lo, hi, col, ocol, k in (("conc", "lowC", "upC", "xConc", "conc_mg_L", 1.0),
                                      ("flux", "lowF", "upF", "xFlux", "flux_kg_yr", 1e-6)):
        sd_e = reps[col].std(ddof=1)
        sd_k = ours[ocol].std(ddof=1) * k
        assert 0.65 < sd_k / sd_e < 1.35, (row, sd_k, sd_e)
        tol = 3 * 0.30 * sd_e
        t = b.table.loc[row]
        assert abs(t["lo90"] * k - eg[lo]) < tol, (row, t["lo90"] * k, eg[lo], tol)
        assert abs(t["hi90"] * k - eg[hi]) < tol, (row, t["hi90"] * k, eg[hi], tol)
    # the replicates themselves: one distribution (two-sample Kolmogorov-Smirnov, ours 400)
    many = bootstrap_trend(ctx, res, n_boot=400, seed=11, jobs=2).info["bootstrap"]["replicates"]
    for col, ocol, k in (("xConc", "conc_mg_L", 1.0), ("xFlux", "flux_kg_yr", 1e-6)):
        p = stats.ks_2samp(reps[col], many[ocol] * k).pvalue
        assert p > 0.01, (col, p)
    # EGRETci: every replicate up -> pVal = 2/(100+1), likeUp = 100.5/101 "highly likely"
    assert b.table.loc["conc", "p_value"] == pytest.approx(eg["pValC"], rel=1e-9)
    assert b.table.loc["flux", "p_value"] == pytest.approx(eg["pValF"], rel=1e-9)
    assert b.table.loc["conc", "likelihood_up"] == pytest.approx(eg["likeCUp"], rel=1e-9)
    assert b.table.loc["flux", "likelihood_up"] == pytest.approx(eg["likeFUp"], rel=1e-9)
    assert b.table.loc["flux", "likelihood"] == "highly likely upward"


def test_groups_bootstrap_matches_egretci_replicates(chop):
    """EGRETci runGroupsBoot (nBoot = 20 only: each replicate re-estimates the 32-year surface,
    39 s of R each) against 100 of ours on the same runGroups (windowSide 0).

    With 20 replicates only the distribution can be compared: a two-sample Kolmogorov-Smirnov
    test must not separate them (measured p = 0.55 conc, 0.61 flux), the means must agree
    within 3 standard errors of EGRETci's mean and the standard deviations within a factor 2
    (20 draws know theirs to ~16 %; measured ratio ours/EGRETci 1.3).
    """
    _est, ctx = chop
    res = run_groups(ctx, (1980, 1994), (1996, 2010), window_side=0)
    b = bootstrap_trend(ctx, res, n_boot=100, seed=494817, jobs=2)
    ours = b.info["bootstrap"]["replicates"]
    tag = "choptank_runGroupsBoot_ws0_seed494817_nBoot20"
    reps = read_reference(R + tag + "_replicates.csv")
    eg = read_reference(R + tag + "_bootOut.csv").iloc[0]
    assert eg["nBootGood"] == 20 and eg["estF"] == pytest.approx(
        res.table.loc["flux", "total_change"] * 1e-6, rel=1e-9)
    for col, ocol, k in (("xConc", "conc_mg_L", 1.0), ("xFlux", "flux_kg_yr", 1e-6)):
        e, o = reps[col].to_numpy(float), ours[ocol].to_numpy(float) * k
        assert stats.ks_2samp(e, o).pvalue > 0.01, col
        assert abs(o.mean() - e.mean()) < 3 * e.std(ddof=1) / np.sqrt(e.size), col
        assert 0.5 < o.std(ddof=1) / e.std(ddof=1) < 2.0, col
    # both: every replicate up, "highly likely upward" (EGRETci's pVal with 20: 2/21)
    assert eg["pValF"] == pytest.approx(2 / 21) and eg["likeFUp"] > 0.95
    assert b.table.loc["flux", "likelihood"] == "highly likely upward"
