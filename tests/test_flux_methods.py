"""Direct and rating estimators, the dispatcher and period aggregation.

Numbers are hand calculations (in comments) or truths of seeded synthetic data; invariants
(linearity in discharge, mass conservation) are Hypothesis properties.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink import qa
from karstsink.exceptions import DataQualityWarning
from karstsink.flux import estimate
from karstsink.flux.aggregate import aggregate
from karstsink.flux.direct import estimate_direct
from karstsink.flux.rating import fit_rating

# Days of more discharge than any sample warn (tests/test_flux_options.py and the app7
# fixture of tests/test_flux_wrtds.py check it); here it is not what a test is about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")



def _daily(q, start="2020-01-01"):
    idx = pd.date_range(start, periods=len(q), freq="D", name="date")
    return pd.DataFrame({"discharge_m3s": np.asarray(q, float), "n_obs": 1, "qa_flags": ""},
                        index=idx)


def _samples(dates, conc, censored=None):
    return pd.DataFrame({"date": pd.to_datetime(dates), "conc_mg_L": np.asarray(conc, float),
                         "censored": False if censored is None else censored, "qa_flags": ""})


def test_direct_interpolation_hand_calculation():
    daily = _daily([2.0] * 21)
    smp = _samples(["2020-01-06", "2020-01-16"], [100.0, 200.0])
    est = estimate_direct(daily, smp)
    d = est.daily
    # 2020-01-11 lies half way: C = 150 mg/L; F = 2 m3/s x 150 g/m3 x 86.4 = 25 920 kg/d
    assert d.loc["2020-01-11", "conc_mg_L"] == pytest.approx(150.0)
    assert d.loc["2020-01-11", "flux_kg_day"] == pytest.approx(25920.0)
    # held flat before the first / after the last sample, and flagged
    assert d.loc["2020-01-01", "conc_mg_L"] == 100.0 and d.loc["2020-01-21", "conc_mg_L"] == 200.0
    assert (d["qa_flags"] == "held_flat").sum() == 5 + 5
    # random-walk variance from the one difference: (200-100)^2 / 10 d = 1000 (mg/L)^2/d;
    # Brownian bridge at mid-gap: 1000 x 5 x 5 / 10 = 2500 -> SE(C) = 50 mg/L
    assert d.loc["2020-01-11", "flux_se_kg_day"] == pytest.approx(2 * 50 * 86.4)
    assert d.loc["2020-01-06", "flux_se_kg_day"] == 0.0


def test_periods_count_their_samples_and_the_days_beyond_them():
    # daily record 2020-01-01..2022-12-31 (calendar years with --year-start 1); samples on
    # 2020-03-01, 2020-09-01 and 2021-02-01. Counted by hand: 2020 has 2 samples and 60 days
    # before the first (Jan 31 + Feb 29); 2021 has 1 sample and the 333 days after Feb 1
    # (365 - 32); 2022 has none and all its 365 days lie after the last sample, so it is
    # named in the warning.
    daily = _daily([1.0] * 1096)
    smp = _samples(["2020-03-01", "2020-09-01", "2021-02-01"], [100.0, 200.0, 150.0])
    est = estimate_direct(daily, smp)
    with pytest.warns(DataQualityWarning, match=r"Year\(s\) 2022 have every day with a flux "
                      r"before the first or after the last calibration sample used"):
        annual = aggregate(est, year_start_month=1)["annual"]
    assert annual["n_samples"].tolist() == [2, 1, 0]
    assert annual["n_days_beyond_samples"].tolist() == [60, 333, 365]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every year sampled: no warning
        aggregate(estimate_direct(_daily([1.0] * 731), smp), year_start_month=1)


def test_direct_censored_samples_enter_at_half_the_limit():
    with pytest.warns(DataQualityWarning, match="one day only"):  # no interval, said so
        est = estimate_direct(_daily([1.0] * 3), _samples(["2020-01-02"], [0.4], [True]))
    assert est.daily["conc_mg_L"].iloc[1] == pytest.approx(0.2)
    assert "half_reporting_limit_used" in est.samples["qa_flags"].iloc[0]


def test_direct_censored_acid_ions_can_enter_at_the_limit_itself():
    with pytest.warns(DataQualityWarning, match="one day only"):
        est = estimate_direct(_daily([1.0] * 3), _samples(["2020-01-02"], [0.4], [True]),
                              censored_at="limit")
    assert est.daily["conc_mg_L"].iloc[1] == pytest.approx(0.4)
    assert "reporting_limit_used" in est.samples["qa_flags"].iloc[0]
    assert est.model["censored_values"] == "the reporting limit"
    with pytest.raises(ValueError, match="censored_at"):
        estimate_direct(_daily([1.0] * 3), _samples(["2020-01-02"], [0.4]), censored_at="0.5")


def test_a_zero_concentration_is_left_out_of_the_direct_method_and_flagged():
    # samples 100, 0, 200 mg/L on days 1, 11, 21: the 0 (typed for a missing value) pulled
    # the interpolation to 0 on day 11; left out, day 11 lies half way between 100 and 200
    daily = _daily([2.0] * 21)
    smp = _samples(["2020-01-01", "2020-01-11", "2020-01-21"], [100.0, 0.0, 200.0])
    with pytest.warns(DataQualityWarning, match="1 have a concentration of 0"):
        est = estimate_direct(daily, smp)
    assert est.daily.loc["2020-01-11", "conc_mg_L"] == pytest.approx(150.0)
    assert est.samples["qa_flags"].tolist()[1] == "zero_concentration"
    assert est.samples["used"].tolist() == [True, False, True]
    assert qa.rule("zero_concentration").severity == "fatal"


def test_direct_proxy_regression_recovers_a_linear_relation():
    rng = np.random.default_rng(1)
    n = 60
    ec = 300 + 100 * rng.random(n)
    daily = _daily(1 + rng.random(n))
    daily["ec_us_cm"] = ec
    days = daily.index[::3]
    conc = 0.5 * daily.loc[days, "ec_us_cm"].to_numpy() + 10.0  # exact: C = 10 + 0.5 EC
    est = estimate_direct(daily, _samples(days, conc), proxy="ec_us_cm")
    assert est.model["coefficients"]["c0"] == pytest.approx(10.0, abs=1e-8)
    assert est.model["coefficients"]["c1"] == pytest.approx(0.5, abs=1e-10)
    np.testing.assert_allclose(est.daily["conc_mg_L"], 10 + 0.5 * ec, rtol=1e-10)
    tables = aggregate(est)
    assert tables["total"]["flux_kg_day"].iloc[0] == pytest.approx(
        est.daily["flux_kg_day"].mean())


@settings(max_examples=20, deadline=None)
@given(q=st.lists(st.floats(0.0, 1e3, allow_subnormal=False), min_size=5, max_size=60),
       k=st.floats(0.01, 100.0),
       conc=st.lists(st.floats(0.1, 500.0), min_size=2, max_size=5))
def test_direct_flux_is_linear_in_discharge(q, k, conc):
    q = np.asarray(q)
    if q.max() == 0:
        q[0] = 1.0
    n = len(q)
    days = pd.date_range("2020-01-01", periods=n)[np.linspace(0, n - 1, len(conc)).astype(int)]
    smp = _samples(days.unique(), conc[: len(days.unique())])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        base = estimate_direct(_daily(q), smp).daily["flux_kg_day"].to_numpy()
        scaled = estimate_direct(_daily(k * q), smp).daily["flux_kg_day"].to_numpy()
    np.testing.assert_allclose(scaled, k * base, rtol=1e-10, atol=1e-9)


def test_rating_exact_power_law():
    q = np.geomspace(0.1, 100, 40)
    c = 50.0 * q**-0.1  # chemostatic-ish karst HCO3: b = -0.1
    fit = fit_rating(q, c)
    assert fit["a"] == pytest.approx(50.0, rel=1e-10)
    assert fit["b"] == pytest.approx(-0.1, abs=1e-12)
    assert fit["r_squared"] == pytest.approx(1.0)
    assert fit["cf"] == pytest.approx(1.0)


def test_rating_bias_corrections_by_hand():
    q = np.array([1.0, 2.0, 4.0, 8.0])
    c = np.array([10.0, 12.0, 9.0, 11.0])
    fit = fit_rating(q, c, bias_correction="exp_s2")
    X = np.column_stack([np.ones(4), np.log(q)])
    beta, *_ = np.linalg.lstsq(X, np.log(c), rcond=None)
    r = np.log(c) - X @ beta
    s2 = r @ r / (4 - 2)  # unbiased residual variance
    assert fit["b"] == pytest.approx(beta[1])
    assert fit["cf"] == pytest.approx(np.exp(s2 / 2))
    assert fit_rating(q, c, bias_correction="smearing")["cf"] == pytest.approx(np.mean(np.exp(r)))


def test_rating_recovers_truth_from_noisy_censored_data():
    rng = np.random.default_rng(42)
    n = 800
    q = np.exp(rng.normal(0, 1.2, n))
    lnc = np.log(2.0) + 0.3 * np.log(q) + rng.normal(0, 0.4, n)
    dl = 1.5
    cens = np.exp(lnc) < dl
    c = np.where(cens, dl, np.exp(lnc))
    fit = fit_rating(q, c, cens)
    assert cens.sum() > 100
    assert fit["b"] == pytest.approx(0.3, abs=4 * fit["b_se"])
    assert fit["residual_se_ln"] == pytest.approx(0.4, rel=0.1)


def test_rating_refuses_duan_smearing_with_censored_values():
    """Duan's factor from the uncensored residuals of a Tobit fit is biased high: refused.

    Four censored of ten values (one is enough); the default exp(s2/2) and "none" still fit.
    """
    from karstsink.exceptions import DataError

    q = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    c = np.array([1.0, 1.0, 1.0, 1.0, 1.6, 1.4, 1.9, 1.7, 2.2, 2.0])
    cens = np.array([True] * 4 + [False] * 6)
    with pytest.raises(DataError, match=r"Duan smearing needs uncensored data \(4 of 10 "
                                        r"samples are censored.*bias_correction='exp_s2'"):
        fit_rating(q, c, cens, bias_correction="smearing")
    for ok in ("exp_s2", "none"):
        assert np.isfinite(fit_rating(q, c, cens, bias_correction=ok)["cf"])
    daily = _daily(np.linspace(1.0, 10.0, 30))
    smp = _samples(daily.index[::3], c, cens)
    with pytest.raises(DataError, match="Duan smearing needs uncensored data"):
        estimate(daily, smp, method="rating", bias_correction="smearing")
    est = estimate(daily, smp, method="rating")
    assert est.model["bias_correction"] == "exp_s2" and est.model["n_censored"] == 4


def test_rating_estimate_and_dispatcher():
    rng = np.random.default_rng(3)
    q = np.exp(rng.normal(0, 1, 400))
    daily = _daily(q)
    days = daily.index[::10]
    c = 200 * daily.loc[days, "discharge_m3s"].to_numpy() ** -0.05 * np.exp(
        rng.normal(0, 0.05, len(days)))
    est = estimate(daily, _samples(days, c), "hco3", method="rating")
    assert est.method == "rating" and est.model["constituent"] == "hco3"
    assert est.model["chemostatic"] is True
    assert abs(est.model["b"] + 0.05) < 0.05
    tot = aggregate(est)["total"].iloc[0]
    assert tot["flux_lo95_kg_day"] < tot["flux_kg_day"] < tot["flux_hi95_kg_day"]
    with pytest.raises(ValueError, match="method must be"):
        estimate(daily, _samples(days, c), method="magic")


@settings(max_examples=25, deadline=None)
@given(n=st.integers(40, 900), start=st.dates(pd.Timestamp("1990-01-01").date(),
                                             pd.Timestamp("2030-01-01").date()),
       seed=st.integers(0, 10_000), ystart=st.sampled_from([1, 10]))
def test_aggregation_conserves_mass(n, start, seed, ystart):
    rng = np.random.default_rng(seed)
    daily = _daily(np.exp(rng.normal(0, 1, n)), start=str(start))
    days = daily.index[:: max(n // 8, 1)]
    smp = _samples(days, rng.uniform(50, 300, len(days)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        est = estimate_direct(daily, smp)
        t = aggregate(est, year_start_month=ystart)  # a year may hold no sample: warned
    total = est.daily["flux_kg_day"].sum()
    for key in ("monthly", "annual", "calendar", "total"):
        assert t[key]["flux_kg"].sum() == pytest.approx(total, rel=1e-9)
        assert t[key]["n_days"].sum() == n
        assert t[key]["n_samples"].sum() == len(days)  # each sample in one period
        assert (t[key]["n_days_beyond_samples"] <= t[key]["n_days"]).all()
    # months nest in years: regroup monthly mass by the year of each month
    m = t["monthly"]
    first = pd.to_datetime(m["month"] + "-01")
    year = np.where(first.dt.month >= ystart, first.dt.year + (ystart > 1), first.dt.year) \
        if ystart > 1 else first.dt.year
    by_year = m.groupby(np.asarray(year))["flux_kg"].sum()
    np.testing.assert_allclose(by_year.to_numpy(), t["annual"]["flux_kg"].to_numpy(), rtol=1e-9)


def test_partial_years_and_missing_days_are_flagged():
    q = np.ones(500)
    q[100:110] = np.nan  # a kept gap (allow_gaps)
    daily = _daily(q, start="2019-11-15")
    est = estimate_direct(daily, _samples(["2019-12-01", "2020-06-01"], [100, 120]))
    # the record runs to 2021-03-28: water year 2021 holds no sample and lies after the last
    with pytest.warns(DataQualityWarning, match=r"Year\(s\) 2021 have every day with a flux"):
        annual = aggregate(est)["annual"].set_index("year")
    assert not annual.loc[2020, "complete"]  # starts 2019-11-15, after 1 October
    assert annual.loc[2020, "n_missing_days"] == 10
    assert est.daily["flux_kg_day"].isna().sum() == 10
    assert np.isfinite(annual.loc[2020, "flux_kg_day"])


@pytest.mark.parametrize(("method", "options"), [("loadest", {}), ("loadest", {"model": 1}),
                                                  ("rating", {})])
def test_regressions_on_constant_discharge_give_a_clear_error(method, options):
    from karstsink.exceptions import DataError

    daily = _daily(np.ones(100))
    smp = _samples(daily.index[::10], np.linspace(100, 200, 10))
    with pytest.raises(DataError, match=r"does not vary|not identifiable"):
        estimate(daily, smp, method=method, **options)


def test_loadest_zero_flow_and_missing_days():
    rng = np.random.default_rng(5)
    q = np.exp(rng.normal(0, 1, 730))
    q[100:130] = 0.0  # an intermittent spring runs dry for a month
    q[400:420] = np.nan  # and the logger failed for 20 days (read with allow_gaps)
    daily = _daily(q, start="2019-10-01")
    days = daily.index[::7]
    days = days[daily.loc[days, "discharge_m3s"].to_numpy() > 0]
    c = 150 * daily.loc[days, "discharge_m3s"].to_numpy() ** -0.1 * np.exp(
        rng.normal(0, 0.1, len(days)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # extrapolation above sampled Q
        est = estimate(daily, _samples(days, c), method="loadest", model=1)
    d = est.daily
    assert (d.loc[q == 0, "flux_kg_day"] == 0).all()
    assert (d.loc[q == 0, "flux_se_kg_day"] == 0).all()
    assert d["flux_kg_day"].isna().sum() == 20
    t = aggregate(est)
    for key in ("monthly", "annual", "total"):
        assert t[key]["flux_kg"].sum() == pytest.approx(d["flux_kg_day"].sum(), rel=1e-10)
        assert t[key]["n_missing_days"].sum() == 20
    assert not t["total"]["complete"].iloc[0]


def test_direct_with_samples_on_one_day_says_why_it_has_no_interval():
    # one sampling day: no change between days to fit the random walk to, so the
    # intervals are NaN; this used to happen with nothing said
    import warnings as _w

    from karstsink.exceptions import DataQualityWarning
    from karstsink.flux import estimate

    days = pd.date_range("2018-01-01", "2018-12-31", freq="D")
    q = pd.DataFrame({"discharge_m3s": 1.0}, index=days)
    s = pd.DataFrame({"date": [days[100]], "conc_mg_L": [200.0], "censored": [False]})
    with _w.catch_warnings(record=True) as caught:
        _w.simplefilter("always")
        est = estimate(q, s, method="direct")
    assert any(issubclass(w.category, DataQualityWarning) and "one day only" in str(w.message)
               for w in caught)
    assert est.daily["flux_se_kg_day"].drop(days[100]).isna().all()
    # 200 mg/L x 1 m3/s = 200 g/m3 x 86400 m3/d = 17,280 kg/d, held flat
    assert est.daily["flux_kg_day"].iloc[0] == pytest.approx(17280.0)
