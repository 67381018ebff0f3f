"""Estimator arguments from Python: a bad one is one karstsink error naming it.

A NaN WRTDS half-window used to reach numpy's ``LinAlgError``, ``window_side=NaN``
a bare ``ValueError`` from ``int()``, and a count of 0, -5 or 1 bootstrap replicate
was taken as given (a 95 % interval of one replicate has width 0); a bootstrap block
of 1 day or less took no sample and never ended.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from karstsink.exceptions import DataError, DataQualityWarning, KarstSinkError
from karstsink.flux.aggregate import aggregate
from karstsink.flux.direct import estimate_direct
from karstsink.flux.loadest import estimate_loadest
from karstsink.flux.trends import run_pairs, trend_annual
from karstsink.flux.wrtds import estimate_wrtds


def _record():
    days = pd.date_range("2015-01-01", "2017-12-31", freq="D")
    q = pd.DataFrame({"discharge_m3s": np.exp(np.sin(np.arange(days.size) / 58.0))},
                     index=days)
    dates = days[::12]
    samples = pd.DataFrame({"date": dates, "conc_mg_L": 200.0 + 10 * np.cos(np.arange(
        dates.size)), "censored": False})
    return q, samples


@pytest.mark.parametrize(("option", "value"), [
    ("window_y", np.nan), ("window_q", np.inf), ("window_s", np.nan), ("window_s", 0.0),
    ("window_q", -2.0), ("window_y", "7"), ("min_obs", 0), ("min_obs", -5), ("min_obs", 5),
    ("min_uncen", 2.5), ("min_obs", True)])
def test_a_bad_wrtds_setting_is_refused_by_name(option, value):
    q, samples = _record()
    with pytest.raises(DataError, match=rf"^{option} must be a (finite|whole) number"):
        estimate_wrtds(q, samples, bootstrap=0, **{option: value})


@pytest.mark.parametrize("bootstrap", [-1, 1, 2.0, "10"])
def test_a_bootstrap_of_fewer_than_two_replicates_is_refused(bootstrap):
    q, samples = _record()
    with pytest.raises(DataError, match=r"^bootstrap must be a whole number of at least 2 "
                                        r"\(0 for none\), not .+ \(block-bootstrap replicates\)"):
        estimate_wrtds(q, samples, bootstrap=bootstrap)


@pytest.fixture(scope="module")
def fit():
    q, samples = _record()
    # 92 samples: min_obs 60 lets every point carry weight with a sample left out; the
    # peak discharge is not sampled (the extrapolation warning is not what is tested here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return estimate_wrtds(q, samples, bootstrap=0, min_obs=60, min_uncen=30)


@pytest.mark.parametrize("side", [np.nan, np.inf, -1, 2.5, "7"])
def test_a_bad_window_side_is_refused(fit, side):
    with pytest.raises(DataError, match=r"^window_side must be"):
        run_pairs(fit, 2015, 2017, window_side=side)
    with pytest.raises(DataError, match=r"^window_side must be"):
        trend_annual(fit, window_side=side)


def test_a_whole_float_window_side_is_a_number_of_years(fit):
    # 1.0 and 1 are the same window (TOML and the CLI give floats)
    a = trend_annual(fit, window_side=1.0)
    b = trend_annual(fit, window_side=1)
    pd.testing.assert_frame_equal(a, b)


def test_the_other_estimators_options_are_karstsink_errors(fit):
    q, samples = _record()
    with pytest.raises(KarstSinkError, match=r"year_start_month must be 1\.\.12"):
        aggregate(fit, year_start_month=0)
    with pytest.raises(KarstSinkError, match="model must be 0, 1-9 or 99"):
        estimate_loadest(q, samples, model=10)
    with pytest.raises(KarstSinkError, match="censored_at must be 'half' or 'limit'"):
        estimate_direct(q, samples, censored_at="zero")


def test_a_wrtds_surface_carried_far_beyond_its_samples_is_flagged_not_summed():
    # 10 samples from 1 March to 20 July 2012 (about 200 mg/L) in a 2010-2015 record, with
    # min_obs lowered to 8: over 5 months the trend and seasonal terms are confounded and
    # the surface carried over the six years reached 1e300 mg/L (numpy overflowed). More
    # than 1e6 mg/L (a litre's own mass of solute) is no estimate: NaN and flagged.
    days = pd.date_range("2010-01-01", "2015-12-31", freq="D")
    q = pd.DataFrame({"discharge_m3s": np.exp(np.sin(np.arange(days.size) / 58.0))},
                     index=days)
    dates = pd.date_range("2012-03-01", "2012-07-20", periods=10).normalize()
    rng = np.random.default_rng(1)
    samples = pd.DataFrame({"date": dates, "conc_mg_L": 200 * np.exp(rng.normal(0, .3, 10)),
                            "censored": False})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = estimate_wrtds(q, samples, bootstrap=0, min_obs=8, min_uncen=5)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert any("load_not_computable" in str(w.message) for w in caught)
    d = est.daily
    flagged = d["qa_flags"].str.contains("load_not_computable")
    assert flagged.sum() > 1000
    assert (d.loc[~flagged, "conc_mg_L"].dropna() <= 1e6).all()
    assert d.loc[flagged, "flux_kg_day"].isna().sum() + d.loc[flagged, "fn_flux_kg_day"].isna(
    ).sum() >= flagged.sum()


@pytest.mark.parametrize("block_days", [1, 0, -5, 2.5, True])
def test_a_block_shorter_than_two_days_is_refused_before_any_fit(block_days):
    q, samples = _record()
    with pytest.raises(DataError, match="block_days must be a whole number of at least 2"):
        estimate_wrtds(q, samples, bootstrap=5, block_days=block_days)


def test_the_trend_command_refuses_a_one_day_block(tmp_path):
    from click.testing import CliRunner

    from karstsink.cli import main

    r = CliRunner().invoke(main, ["trend", "--help"])
    assert "--block-days" in r.output
    for name in ("q.csv", "s.csv"):
        (tmp_path / name).write_text("date\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["trend", "--discharge", str(tmp_path / "q.csv"),
                                  "--samples", str(tmp_path / "s.csv"),
                                  "--area", "10", "-o", str(tmp_path / "o"),
                                  "--block-days", "1"])
    assert r.exit_code == 2 and "--block-days" in r.output


@pytest.mark.parametrize("area", ["100", np.nan, -1.0, 0, True])
def test_a_bad_catchment_area_is_one_error_naming_it(area):
    # "100" used to reach numpy's isfinite (TypeError) in run_flux and runoff_depth_mm
    from karstsink.hydrology import runoff_depth_mm
    from karstsink.sink import carbon_sink
    from karstsink.workflows.catchment import run_flux

    q, samples = _record()
    for call in (lambda: run_flux(q, samples, area_km2=area),
                 lambda: runoff_depth_mm(1.0, area),
                 lambda: carbon_sink(pd.DataFrame({"flux_t_hco3_yr": [1.0]}), area)):
        with pytest.raises(DataError, match=r"^area_km2 must be a finite number above 0"):
            call()


def test_wrtds_on_too_few_samples_is_refused_and_the_hint_runs():
    # 4 samples: each point's regression has 5 coefficients and a residual sd, so it
    # fitted them exactly (se ~1e-7) and gave 59.4 instead of ~69 t C km-2 yr-1 (direct)
    q, samples = _record()
    with pytest.raises(DataError, match=r"with 4 samples WRTDS cannot be fitted.*min_obs is "
                                        r"at least 6.*--method loadest or rating"):
        estimate_wrtds(q, samples.head(4), bootstrap=0)
    # every sample censored: the hint named --min-uncen 1, which failed the same way
    censored = samples.assign(censored=True)
    with pytest.raises(DataError, match=r"with 0 uncensored sample\(s\) WRTDS cannot fit"):
        estimate_wrtds(q, censored, bootstrap=0)
    # 8 samples: the values named (max(8 - 20, 8 // 2, 6) = 6; min(4, 7) = 4) run
    with pytest.raises(DataError, match=r"--min-obs 6 --min-uncen 4 ") as err:
        estimate_wrtds(q, samples.head(8), bootstrap=0)
    assert "min_obs=6, min_uncen=4" in str(err.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # 8 samples: extrapolated days
        est = estimate_wrtds(q, samples.head(8), bootstrap=0, min_obs=6, min_uncen=4)
    assert np.isfinite(est.daily["flux_kg_day"]).any()


def test_a_constant_proxy_is_one_error_not_a_singular_matrix():
    # EC = 400 on every day: X'X of the proxy regression is singular (numpy LinAlgError)
    q, samples = _record()
    q = q.assign(ec_us_cm=400.0)
    with pytest.raises(DataError, match=r"needs the proxy to vary.*it is 400 on all 92"):
        estimate_direct(q, samples, proxy="ec_us_cm")


def test_kalman_over_a_discharge_gap_gives_nan_days_without_a_numpy_warning():
    # a 61-day gap (allow_gaps): the Kalman mean over realisations of an all-NaN day
    # printed numpy's "Mean of empty slice"; under filterwarnings=error it would raise
    from karstsink.flux.trends import annual_trend_columns

    q, samples = _record()
    gap = (q.index >= "2016-01-01") & (q.index < "2016-03-02")
    q.loc[gap, "discharge_m3s"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # the gap's days, the peak
        est = estimate_wrtds(q, samples[~samples["date"].isin(q.index[gap])], min_obs=40,
                             min_uncen=20, bootstrap=0)
    ann = annual_trend_columns(est, kalman_iter=5, seed=1)
    assert np.isfinite(ann["kalman_flux_kg_day"]).any()
