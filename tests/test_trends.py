"""Trends (flow normalisation, runPairs/runGroups, WRTDS-Kalman, bootstrap) against EGRET 3.0.12.

Reference numbers: ``data/reference/egret/`` (the project's EGRET 3.0.12 run on LOADEST app 7,
see its README) and ``data/reference/egret/trends/`` (runPairs 2001 -> 2008 with windowSide 0
and 7, WRTDS-Kalman rho 0.90, niter 200; see that README).  Our WRTDS surfaces match EGRET's to
~1e-8 (tests/test_flux_wrtds.py), so deterministic outputs are held to 1e-6 relative, well
inside the brief's 0.5 % (FN) and 1 % (pairs); WRTDS-Kalman is compared within its Monte
Carlo spread.  Here runGroups is also checked by consistency (one-year groups are runPairs
on a long record) and the bootstrap by hand-computed EGRETci statistics and
reproducibility; EGRET runGroups, GFN, WRTDS-Kalman and EGRETci outputs on the 32-year
Choptank record are compared in tests/test_trends_choptank.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import REFERENCE_DIR, read_reference
from test_flux_wrtds import _app7_inputs, _choptank_inputs

from karstsink.exceptions import DataError
from karstsink.flux._gfn import flow_windows, period_labels, start_end, surface_start_end
from karstsink.flux._kalman import wrtds_kalman
from karstsink.flux._trend_band import fn_band
from karstsink.flux._trend_boot import bootstrap_trend, likelihood_words, p_value
from karstsink.flux._trend_series import default_series_years, series
from karstsink.flux.trends import run_groups, run_pairs, trend_annual, trend_context
from karstsink.flux.wrtds import estimate_wrtds

# Days of more discharge than any sample warn (tests/test_flux_options.py and the app7
# fixture of tests/test_flux_wrtds.py check it); here it is not what a test is about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")


T = "egret/trends/"
COLS = {"TotalChange": "total_change", "CQTC": "cqtc", "QTC": "qtc", "x10": "x10",
        "x11": "x11", "x20": "x20", "x22": "x22"}


@pytest.fixture(scope="module")
def app7():
    daily, samples = _app7_inputs()
    return estimate_wrtds(daily, samples, bootstrap=0)


@pytest.fixture(scope="module")
def chop_ctx():
    daily, samples = _choptank_inputs()
    return trend_context(estimate_wrtds(daily, samples, bootstrap=0, cross_validate=False))


# ------------------------------------------------------------------ periods and windows


def test_start_end_and_labels():
    assert start_end(2001) == (pd.Timestamp("2000-10-01"), pd.Timestamp("2001-09-30"))
    assert start_end(2004, 12, 3) == (pd.Timestamp("2003-12-01"), pd.Timestamp("2004-02-29"))
    lab = period_labels(pd.to_datetime(["2000-09-30", "2000-10-01", "2001-06-01"]))
    assert lab.tolist() == [2000, 2001, 2001]
    # EGRET surfaceStartEnd: a first sample on 1 Oct starts the surface a year earlier
    assert surface_start_end("1979-10-24", "2011-09-09") == (
        pd.Timestamp("1979-10-01"), pd.Timestamp("2011-09-30"))
    assert surface_start_end("1979-10-01", "2011-09-09")[0] == pd.Timestamp("1978-10-01")


def test_flow_windows_as_make_date_info():
    # 7 years on either side of WY 1990 inside a 1980-2011 record: WY 1983..1997
    w = flow_windows(7, "1989-10-01", "1990-09-30", "1979-10-01", "2011-09-30")
    assert len(w) == 1
    assert (w[0].norm_start, w[0].norm_end) == (pd.Timestamp("1982-10-01"),
                                                pd.Timestamp("1997-09-30"))
    # near the start the 15-year window is shifted to begin with the record
    w = flow_windows(7, "1981-10-01", "1982-09-30", "1979-10-01", "2011-09-30")[0]
    assert (w.norm_start, w.norm_end) == (pd.Timestamp("1979-10-01"),
                                          pd.Timestamp("1994-09-30"))
    # a leap year (366 days) gives EGRET a second, empty segment that is dropped
    assert len(flow_windows(7, "1999-10-01", "2000-09-30", "1979-10-01", "2011-09-30")) == 1


# ------------------------------------------------------------------ EGRET app 7


def test_annual_flow_normalised_matches_egret(app7):
    ref = read_reference("egret/app7_egret_annual_setupYears_kgday.csv")
    ann = trend_annual(app7)
    assert ann["year"].tolist() == list(range(2000, 2010))
    for ours, theirs in (("fn_conc_mg_L", "FNConc"), ("fn_flux_kg_day", "FNFlux"),
                         ("conc_mean_mg_L", "Conc"), ("flux_mean_kg_day", "Flux")):
        np.testing.assert_allclose(ann[ours], ref[theirs], rtol=1e-6, err_msg=ours)
    np.testing.assert_allclose(ann["dec_year"], ref["DecYear"], rtol=1e-12)


@pytest.mark.parametrize("ws", [0, 7])
def test_run_pairs_matches_egret(app7, ws):
    ref = read_reference(T + f"app7_runPairs_2001_2008_ws{ws}.csv", index_col=0)
    res = run_pairs(app7, 2001, 2008, window_side=ws)
    assert (res.info["min_obs"], res.info["min_uncen"]) == (81, 41)  # EGRET printed these
    for egret, ours in COLS.items():
        conc = res.table.loc["conc", ours]
        flux = res.table.loc["flux", ours] * 1e-6  # kg/yr -> EGRET's 10^6 kg/yr
        np.testing.assert_allclose([conc, flux], ref[egret].to_numpy(), rtol=1e-6, atol=1e-12,
                                   err_msg=egret)


def test_kalman_within_monte_carlo_spread(app7):
    """Annual GenFlux of EGRET's 200 realisations against ours from 2000 realisations.

    EGRET's annual value is a mean of 200 realisations; its Monte Carlo standard error is
    sd/sqrt(200) with sd the spread of one realisation's annual mean (estimated from ours).
    The difference must be below 3 such errors (plus ours, sqrt(200/2000) of it) every year;
    on app 7 (sparse samples) that error is 2-10 % of the annual flux.
    """
    ref = read_reference(T + "app7_kalman_annual_setupYears_kgday.csv")
    kal, it = wrtds_kalman(app7, seed=11, niter=2000, return_iterations=True)
    ann = trend_annual(app7, kalman=kal)
    lab = period_labels(kal.index)
    for i, y in enumerate(range(2000, 2010)):
        per = it[:, lab == y].mean(axis=1)
        se = per.std(ddof=1) * np.sqrt(1 / 200 + 1 / 2000)
        diff = ann["kalman_flux_kg_day"].iloc[i] - ref["GenFlux"].iloc[i]
        assert abs(diff) < 3 * se, (y, diff, se)
    # over the record the two agree within 2 % (measured -1.1 % with these seeds)
    ratio = ann["kalman_flux_kg_day"].mean() / ref["GenFlux"].mean()
    assert abs(ratio - 1) < 0.02
    # GenConc is mean GenFlux / (Q 86.4): a flow-weighted conc, never negative
    assert (kal["kalman_conc_mg_L"] > 0).all()


def test_kalman_reproducible_and_honours_samples(app7):
    a = wrtds_kalman(app7, seed=3, niter=20)
    b = wrtds_kalman(app7, seed=3, niter=20)
    pd.testing.assert_frame_equal(a, b)
    # on an uncensored sampled day every realisation has the sample's concentration
    s = app7.samples
    row = s[~s["censored"]].iloc[5]
    day = pd.Timestamp(row["date"])
    assert a.loc[day, "kalman_conc_mg_L"] == pytest.approx(row["conc_mg_L"], rel=1e-9)
    with pytest.raises(DataError, match="rho"):
        wrtds_kalman(app7, rho=1.5)


# ------------------------------------------------------------------ Choptank (32 years)


@pytest.mark.parametrize("ws", [0, 7])
def test_groups_of_one_year_are_pairs(chop_ctx, ws):
    """runGroups of single years equals runPairs when minNumObs is not lowered (606 samples).

    runPairs re-estimates the two year surfaces, runGroups uses one surface over the record;
    with the same samples and minimum counts the regressions at each grid point are the same.
    """
    p = run_pairs(chop_ctx, 1985, 2010, window_side=ws)
    g = run_groups(chop_ctx, (1985, 1985), (2010, 2010), window_side=ws)
    cols = ["x10", "x11", "x20", "x22", "total_change", "cqtc", "qtc"]
    np.testing.assert_allclose(g.table[cols].to_numpy(float), p.table[cols].to_numpy(float),
                               rtol=1e-10)
    if ws == 0:  # stationary: no discharge trend component by construction
        assert p.table.loc["flux", "qtc"] == 0.0


def test_groups_are_means_of_annual_gfn(chop_ctx):
    g = run_groups(chop_ctx, (1985, 1990), (2005, 2010), window_side=7)
    ann = trend_annual(chop_ctx, window_side=7).set_index("year")
    # x11 is the mean of the annual GFN values of the group; x10 of the stationary ones
    assert g.table.loc["flux", "x11"] == pytest.approx(
        ann.loc[1985:1990, "gfn_flux_kg_day"].mean() * 365.25, rel=1e-12)
    assert g.table.loc["conc", "x20"] == pytest.approx(
        ann.loc[2005:2010, "fn_conc_mg_L"].mean(), rel=1e-12)
    t = g.table.loc["flux"]
    assert t["total_change"] == pytest.approx(t["cqtc"] + t["qtc"], rel=1e-12)


def test_pairs_errors(chop_ctx):
    with pytest.raises(DataError, match="year2"):
        run_pairs(chop_ctx, 1985, 2030)
    with pytest.raises(DataError, match="before"):
        run_pairs(chop_ctx, 2010, 1985)
    with pytest.raises(DataError, match="groups"):
        run_groups(chop_ctx, (1995, 2000), (1990, 1994))


@pytest.mark.parametrize(("g1", "g2", "where"), [
    ((1980, 1995), (1996, 2030), "group 2 1996-2030"),  # past the record's end (2011)
    ((1960, 1970), (1996, 2005), "group 1 1960-1970"),  # before its start
])
def test_groups_reaching_past_the_record_are_refused_not_relabelled(chop_ctx, g1, g2, where):
    # The Choptank record's water years run 1980-2011 (EGRET's Choptank_eList): a group
    # 1996-2030 would be the mean of 1996-2011, labelled 1996-2030.
    with pytest.raises(DataError, match=where) as err:
        run_groups(chop_ctx, g1, g2)
    assert "choose years within it" in str(err.value)


def _pairs_error(daily, samples, year1, year2):
    with pytest.raises(DataError) as err:
        run_pairs(estimate_wrtds(daily, samples, bootstrap=0, cross_validate=False), year1, year2)
    return str(err.value)


@pytest.mark.parametrize("cut, year", [("end", 2010), ("start", 1985)])
def test_pairs_refuse_a_year_cut_off_by_the_record_like_a_gap(cut, year):
    """A water year cut by the start or end of the discharge record is refused as a gap is.

    By hand: water year 2010 is 2009-10-01..2010-09-30, 365 days; a record ending 2010-03-31
    keeps Oct-Mar = 31+30+31+31+28+31 = 182 of them, 182/365 = 49.9 % <= 90 %.  Water year
    1985 (1984-10-01..1985-09-30, 365 days) with a record starting 1985-04-01 keeps
    Apr-Sep = 30+31+30+31+31+30 = 183 days, 50.1 %.  The same days as NaN inside the full
    record give the same fraction, and both must give the same message.
    """
    daily, samples = _choptank_inputs()
    y0, y1 = start_end(year)
    half = pd.Timestamp(year, 3, 31) if cut == "end" else pd.Timestamp(year, 4, 1)
    assert ((half - y0).days + 1 if cut == "end" else (y1 - half).days + 1) == (
        182 if cut == "end" else 183)
    cut_daily = daily.loc[:half] if cut == "end" else daily.loc[half:]
    with pytest.warns(UserWarning, match="outside_discharge_record"):
        cut_msg = _pairs_error(cut_daily, samples, 1985, 2010)
    gap = daily.copy()
    hole = (slice(half + pd.Timedelta(days=1), y1) if cut == "end"
            else slice(y0, half - pd.Timedelta(days=1)))
    gap.loc[hole, "discharge_m3s"] = np.nan
    with pytest.warns(UserWarning, match="no_discharge"):
        gap_msg = _pairs_error(gap, samples, 1985, 2010)
    assert cut_msg == gap_msg == (f"--pairs: year {year} has discharge on 90 % of its days or "
                                  "fewer; choose another year")


# ------------------------------------------------------------------ EGRETci statistics


def test_p_value_and_words_by_hand():
    # 3 negatives, 7 positives: kp = 10 - 7 + 1 = 4, kn = 3; s[kn]=-0.1, s[kp]=0.3 (1-based)
    # slope b1 = (3 - 4) / (-0.1 - 0.3) = 2.5; k0 = 4 - 2.5 * 0.3 = 3.25; p = 3.25 / 11
    s = np.array([-0.5, -0.2, -0.1, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert p_value(s) == pytest.approx(2 * 3.25 / 11)
    assert p_value(np.ones(99)) == pytest.approx(2 / 100)
    assert likelihood_words(0.96) == "highly likely upward"
    assert likelihood_words(0.92) == "very likely upward"
    assert likelihood_words(0.5) == "about as likely as not"
    assert likelihood_words(0.2) == "likely downward"
    assert likelihood_words(0.01) == "highly likely downward"


def test_bootstrap_pairs_reproducible_for_any_jobs(chop_ctx):
    res = run_pairs(chop_ctx, 1985, 2010)
    a = bootstrap_trend(chop_ctx, res, n_boot=8, seed=5, jobs=1)
    b = bootstrap_trend(chop_ctx, res, n_boot=8, seed=5, jobs=2)
    pd.testing.assert_frame_equal(a.table, b.table)
    x = a.info["bootstrap"]["replicates"]["flux_kg_yr"].to_numpy()
    lo, hi = np.quantile(x, [0.05, 0.95], method="weibull")
    assert a.table.loc["flux", "lo90"] == pytest.approx(lo)
    assert a.table.loc["flux", "hi90"] == pytest.approx(hi)
    assert a.table.loc["flux", "likelihood_up"] == pytest.approx(((x > 0).sum() + 0.5) / 9)
    t = a.table.loc["conc"]
    assert t["lo90"] < t["total_change"] < t["hi90"]


def test_bootstrap_without_a_seed_records_the_one_it_used(chop_ctx, app7):
    # no seed given: a fresh one is drawn and recorded (not null), and reproduces the draws
    res = run_pairs(chop_ctx, 1985, 2010)
    a = bootstrap_trend(chop_ctx, res, n_boot=3, jobs=1)
    seed = a.info["bootstrap"]["seed"]
    assert isinstance(seed, int)
    b = bootstrap_trend(chop_ctx, res, n_boot=3, seed=seed, jobs=1)
    pd.testing.assert_frame_equal(a.table, b.table)
    ctx = trend_context(app7)
    band = fn_band(ctx, n_boot=3, jobs=1)
    seed = band.attrs["bootstrap"]["seed"]
    assert isinstance(seed, int)
    pd.testing.assert_frame_equal(band, fn_band(ctx, n_boot=3, seed=seed, jobs=1))


def test_bootstrap_groups(chop_ctx):
    res = run_groups(chop_ctx, (1985, 1990), (2005, 2010), window_side=7)
    b = bootstrap_trend(chop_ctx, res, n_boot=4, seed=1, jobs=1)
    assert np.isfinite(b.table[["lo90", "hi90", "p_value"]].to_numpy(float)).all()


# ------------------------------------------------------------------ series (tableChange)


def test_series_is_table_change_by_hand(app7):
    """EGRET tableChange: every chosen year against every later one, from the annual FN values.

    By hand from trend_annual's FNConc (c) and FNFlux (f, x 365.25 for kg/yr): change
    c[y2] - c[y1], slope change / (y2 - y1), percent 100 change / c[y1], %/yr percent / (y2 - y1).
    """
    ann = trend_annual(app7).set_index("year")
    s = series(app7, [2001, 2005, 2009]).set_index(["quantity", "year1", "year2"])
    assert list(s.index) == [(q, a, b) for q in ("conc", "flux")
                             for a, b in ((2001, 2005), (2001, 2009), (2005, 2009))]
    c1, c2 = ann.loc[2001, "fn_conc_mg_L"], ann.loc[2009, "fn_conc_mg_L"]
    r = s.loc[("conc", 2001, 2009)]
    assert r["change"] == pytest.approx(c2 - c1, rel=1e-12)
    assert r["slope_per_yr"] == pytest.approx((c2 - c1) / 8, rel=1e-12)
    assert r["change_pct"] == pytest.approx(100 * (c2 - c1) / c1, rel=1e-12)
    assert r["slope_pct_per_yr"] == pytest.approx(100 * (c2 - c1) / c1 / 8, rel=1e-12)
    f1, f2 = ann.loc[2005, "fn_flux_kg_day"] * 365.25, ann.loc[2009, "fn_flux_kg_day"] * 365.25
    r = s.loc[("flux", 2005, 2009)]
    assert (r["value1"], r["value2"]) == (pytest.approx(f1), pytest.approx(f2))
    assert r["slope_per_yr"] == pytest.approx((f2 - f1) / 4, rel=1e-12)
    assert r["units"] == "kg/yr"


def test_series_default_years_and_errors(app7):
    ann = trend_annual(app7)  # water years 2000-2009
    assert default_series_years(ann) == [2004, 2009]  # EGRET: the last, then every 5 back
    assert set(series(annual=ann)["year1"]) == {2004}
    with pytest.raises(DataError, match="outside the record"):
        series(annual=ann, years=[1995, 2005])
    with pytest.raises(DataError, match="increase"):
        series(annual=ann, years=[2005, 2001])
    with pytest.raises(DataError, match="gfn_conc_mg_L"):
        series(annual=ann, years=[2001, 2005], window_side=7)
    gfn = series(app7, [2001, 2008], window_side=7)
    ann7 = trend_annual(app7, window_side=7).set_index("year")
    assert gfn.loc[0, "change"] == pytest.approx(
        ann7.loc[2008, "gfn_conc_mg_L"] - ann7.loc[2001, "gfn_conc_mg_L"], rel=1e-12)


# ------------------------------------------------------------------ annual band (EGRETci)


def test_fn_band_reproducible_and_around_the_estimate(app7):
    ctx = trend_context(app7)
    a = fn_band(ctx, n_boot=6, seed=2, jobs=1)
    b = fn_band(ctx, n_boot=6, seed=2, jobs=2)
    pd.testing.assert_frame_equal(a, b)
    ann = trend_annual(ctx)
    assert a["year"].tolist() == ann["year"].tolist()
    for q, unit in (("conc", "mg_L"), ("flux", "kg_day")):
        lo, hi = a[f"fn_{q}_lo90_{unit}"], a[f"fn_{q}_hi90_{unit}"]
        assert (lo < hi).all() and (lo > 0).all()
    g = fn_band(ctx, n_boot=3, seed=2, jobs=1, window_side=7)
    assert "gfn_flux_lo90_kg_day" in g.columns
    with pytest.raises(DataError, match="at least 2"):
        fn_band(ctx, n_boot=1)


def test_fn_band_is_egretci_reflection_by_hand(app7, monkeypatch):
    """EGRETci ciBands: band = exp(quantile_6(2 ln x - ln x*)) per year.

    With replicates x* = x m for m = 0.8, 0.9, 1.0, 1.1, 1.25 the reflected values are
    ln x - ln m; R's type-6 quantile of 5 values at p = 0.05 is the smallest ((n + 1) p =
    0.3 < 1) and at 0.95 the largest (5.7 > 5), so lo = x / 1.25 and hi = x / 0.8.
    """
    import karstsink.flux._trend_band as tb

    ctx = trend_context(app7)
    ann = trend_annual(ctx)
    est = ann[["fn_conc_mg_L", "fn_flux_kg_day"]].to_numpy(float)
    m = np.array([0.8, 0.9, 1.0, 1.1, 1.25])
    monkeypatch.setattr(tb, "_run", lambda payload, children: est[None] * m[:len(children),
                                                                            None, None])
    band = fn_band(ctx, n_boot=5, seed=0, jobs=1)
    np.testing.assert_allclose(band["fn_conc_lo90_mg_L"], est[:, 0] / 1.25, rtol=1e-12)
    np.testing.assert_allclose(band["fn_conc_hi90_mg_L"], est[:, 0] / 0.8, rtol=1e-12)
    np.testing.assert_allclose(band["fn_flux_lo90_kg_day"], est[:, 1] / 1.25, rtol=1e-12)
    np.testing.assert_allclose(band["fn_flux_hi90_kg_day"], est[:, 1] / 0.8, rtol=1e-12)


# ------------------------------------------------------------------ CLI


def test_cli_trend_pairs(tmp_path):
    from karstsink.cli import main

    out = tmp_path / "out"
    r = CliRunner().invoke(main, [
        "trend", "--discharge", str(REFERENCE_DIR / "egret/app7_daily_Q_cfs.csv"),
        "--samples", str(REFERENCE_DIR / "egret/app7_sample_nitrate.csv"),
        "--constituent", "value", "--units", "mg/L", "--q-unit", "cfs",
        "--pairs", "2001", "2008", "--kalman-iter", "20", "--seed", "1",
        "--series", "2001,2005,2009", "-o", str(out)])
    assert r.exit_code == 0, r.output
    pairs = pd.read_csv(out / "pairs.csv", index_col=0)
    ref = read_reference(T + "app7_runPairs_2001_2008_ws0.csv", index_col=0)
    assert pairs.loc["flux", "total_change"] * 1e-6 == pytest.approx(
        ref.loc["Flux", "TotalChange"], rel=1e-5)
    ann = pd.read_csv(out / "annual.csv")
    assert {"fn_flux_kg_day", "kalman_flux_kg_day"} <= set(ann.columns)
    assert (out / "plots" / "trend_bars.png").is_file()
    ser = pd.read_csv(out / "series.csv")
    assert len(ser) == 6 and set(ser["quantity"]) == {"conc", "flux"}


def test_cli_trend_one_line_errors(tmp_path):
    from karstsink.cli import main

    args = ["trend", "--discharge", str(REFERENCE_DIR / "egret/app7_daily_Q_cfs.csv"),
            "--samples", str(REFERENCE_DIR / "egret/app7_sample_nitrate.csv"),
            "--constituent", "value", "--units", "mg/L", "--q-unit", "cfs",
            "--kalman-iter", "0", "-o", str(tmp_path / "o")]
    r = CliRunner().invoke(main, [*args, "--pairs", "2001", "2030"])
    assert r.exit_code == 1 and "year2 2030" in r.output
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "exactly one of" in r.output


def test_cli_trend_short_record_follows_the_hint(tmp_path):
    # 60 of the app7 samples: fewer than WRTDS's min_obs 100, so the command stops with one
    # line naming --min-obs/--min-uncen values; given them, it runs and records them
    import json

    from karstsink.cli import main

    src = pd.read_csv(REFERENCE_DIR / "egret/app7_sample_nitrate.csv", comment="#")
    src.iloc[:60].to_csv(tmp_path / "s.csv", index=False)
    args = ["trend", "--discharge", str(REFERENCE_DIR / "egret/app7_daily_Q_cfs.csv"),
            "--samples", str(tmp_path / "s.csv"), "--constituent", "value", "--units", "mg/L",
            "--q-unit", "cfs", "--kalman-iter", "0", "--no-plots", "-o", str(tmp_path / "o")]
    first, last = pd.to_datetime(src["date"].iloc[[0, 59]])
    years = [str(first.year + 1), str(last.year)]
    r = CliRunner().invoke(main, [*args, "--pairs", *years])
    assert r.exit_code == 1 and "\n" not in r.output.strip()
    hint = r.output.split("e.g. ")[1].split(" (Python")[0].split()
    assert hint[0] == "--min-obs" and hint[2] == "--min-uncen"
    assert "a trend needs WRTDS" in r.output and not (tmp_path / "o").exists()
    r = CliRunner().invoke(main, [*args, "--pairs", *years, *hint])
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "o" / "trend.json").read_text(encoding="utf-8"))
    assert f'"min_obs": {hint[1]}' in json.dumps(info)


def test_cli_trend_says_a_value_column_was_taken_as_the_constituent(tmp_path):
    # the app7 samples file has only 'value' (its header does not say nitrate): asked for
    # no3, the command takes it with a warning and trend.json records it
    import json

    from karstsink.cli import main

    r = CliRunner().invoke(main, [
        "trend", "--discharge", str(REFERENCE_DIR / "egret/app7_daily_Q_cfs.csv"),
        "--samples", str(REFERENCE_DIR / "egret/app7_sample_nitrate.csv"),
        "--constituent", "no3", "--units", "mg/L", "--q-unit", "cfs", "--pairs", "2001",
        "2008", "--kalman-iter", "0", "--no-plots", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "o" / "trend.json").read_text(encoding="utf-8"))
    assert info["value_taken_as"] == "no3"


def test_likelihood_at_the_break_and_a_p_value_that_is_a_bound(tmp_path):
    # EGRETci cuts the likelihoods at (0.1, 0.33] and (0.33, 0.67]: an upward likelihood of
    # exactly 0.33 is "unlikely" upward and "about as likely as not" downward, said as one
    # phrase (it read "about as likely as not downward")
    assert likelihood_words(0.33) == likelihood_words(0.67) == "about as likely as not"
    assert likelihood_words(0.3) == "likely downward"  # 0.7 downward
    # every replicate of one sign: p = 2 / (n + 1) is EGRETci's "< stated value"; the
    # table says so and gives the replicate count (Choptank 1985 -> 2010, a strong rise)
    from karstsink.cli import main

    out = tmp_path / "o"
    r = CliRunner().invoke(main, [
        "trend", "--discharge", str(REFERENCE_DIR / "choptank/choptank_daily_Q.csv"),
        "--samples", str(REFERENCE_DIR / "choptank/choptank_sample_nitrate.csv"),
        "--constituent", "value", "--units", "mg/L", "--q-unit", "m3/s", "--pairs", "1985",
        "2010",
        "--bootstrap", "5", "--seed", "1", "--kalman-iter", "0", "--no-plots", "-o", str(out)])
    assert r.exit_code == 0, r.output
    pairs = pd.read_csv(out / "pairs.csv", index_col=0)
    conc = pairs.loc["conc"]
    assert int(conc["n_boot"]) == 5
    assert bool(conc["p_value_upper_bound"]) == (conc["lo90"] > 0 or conc["hi90"] < 0)
    if conc["p_value_upper_bound"]:
        assert conc["p_value"] == pytest.approx(2 / 6)


def test_series_years_without_samples_are_warned_about_and_recorded(tmp_path):
    # the first 60 app7 samples end in 2004 while the discharge runs to 2009: series years
    # 2005 and 2009 have no sample, so their values extrapolate the surface in time (EGRET
    # tableChange does so too); warned about, named in trend.json; 2001 has samples
    import json

    from karstsink.cli import main

    src = pd.read_csv(REFERENCE_DIR / "egret/app7_sample_nitrate.csv", comment="#")
    src.iloc[:60].to_csv(tmp_path / "s.csv", index=False)
    last = pd.to_datetime(src["date"].iloc[59])
    assert last.year == 2004 and last.month < 10  # water year 2004 is the last sampled
    r = CliRunner().invoke(main, [
        "trend", "--discharge", str(REFERENCE_DIR / "egret/app7_daily_Q_cfs.csv"),
        "--samples", str(tmp_path / "s.csv"), "--constituent", "value", "--units", "mg/L",
        "--q-unit", "cfs", "--pairs", "2001", "2004", "--series", "2001,2005,2009",
        "--min-obs", "50", "--min-uncen", "30", "--kalman-iter", "0", "--no-plots",
        "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert "year(s) 2005, 2009 have no sample" in r.output
    info = json.loads((tmp_path / "o" / "trend.json").read_text(encoding="utf-8"))
    assert info["series_years_without_samples"] == [2005, 2009]


def test_flux_wrtds_without_bootstrap_says_there_is_no_interval(tmp_path):
    # --bootstrap 0 gives no interval: the result line says so (it printed "95 % nan-nan")
    from karstsink.cli import main

    r = CliRunner().invoke(main, [
        "flux", "--discharge", str(REFERENCE_DIR / "egret/app7_daily_Q_cfs.csv"),
        "--samples", str(REFERENCE_DIR / "egret/app7_sample_nitrate.csv"),
        "--constituent", "value", "--units", "mg/L", "--q-unit", "cfs", "--method", "wrtds",
        "--bootstrap", "0", "--area", "100", "--no-plots", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    line = next(x for x in r.stdout.splitlines() if "mean flux" in x)
    assert "(no interval: --bootstrap 0)" in line and "nan" not in line


def test_groups_trend_json_records_its_minimum_counts(tmp_path):
    # runGroups (and runGroupsBoot) keep the fit's minNumObs/minNumUncen unlowered (EGRETci):
    # trend.json says so at the top level, as it does for runPairs' fractMin counts
    import json

    from karstsink.cli import main

    r = CliRunner().invoke(main, [
        "trend", "--discharge", str(REFERENCE_DIR / "choptank/choptank_daily_Q.csv"),
        "--samples", str(REFERENCE_DIR / "choptank/choptank_sample_nitrate.csv"),
        "--constituent", "value", "--units", "mg/L", "--q-unit", "m3/s", "--groups",
        "1980-1994", "1996-2010", "--min-obs", "90", "--min-uncen", "45", "--kalman-iter",
        "0", "--no-plots", "-o", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    info = json.loads((tmp_path / "o" / "trend.json").read_text(encoding="utf-8"))
    assert (info["egret"], info["min_obs"], info["min_uncen"]) == ("runGroups", 90, 45)
