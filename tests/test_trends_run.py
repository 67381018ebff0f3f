"""Trends inside ``karstsink run`` (issue 14): the catchment ``trend`` table, run_trend, report.

The record is SYNTHETIC, made here so that the answer is known by hand: 12 water years
(2001-2012) of stationary daily discharge (the same seasonal cycle and AR(1) noise every
year) and HCO3 samples every 10 days from c = 200 (q / 5)^-0.1 mg/L with a step of x1.2
from water year 2007 on (ln noise sd 0.02).  With WRTDS half-window window_y = 2 years,
the surfaces of 2002 and 2011 see samples from one side of the step only, so

- flow-normalised concentration of a year (the surface averaged over every discharge of
  the record, binned by day of year) = the mean over all days of c(q): x11 = mean(200
  (q/5)^-0.1), x22 = 1.2 x11; flux likewise with c q 86.4 [kg/d];
- total_change = 0.2 x11 (+20 %), all of it CQTC (the land); QTC = 0 exactly with
  window_side 0 (stationary flow normalisation) and ~0 with window_side 2 (discharge is
  stationary);
- sink row = flux row x 0.5 x 12.011 / 61.0168 / 1000 / area [t C km-2 yr-1 per kg
  HCO3 yr-1] (half the carbon of carbonic HCO3 comes from the atmosphere; no acids).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import karstsink
from karstsink.config import load_run_config
from karstsink.exceptions import ConfigError, DataError
from karstsink.workflows import run_flux, run_pipeline
from karstsink.workflows.trend import run_trend

# Days of more discharge than any sample warn (tests/test_flux_options.py and the app7
# fixture of tests/test_flux_wrtds.py check it); here it is not what a test is about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")


AREA = 100.0
STEP = 1.2
FIRST_AFTER = pd.Timestamp("2006-10-01")  # water year 2007


def _record(seed: int = 3):
    rng = np.random.default_rng(seed)
    days = pd.date_range("2000-10-01", "2012-09-30", freq="D")
    doy = days.day_of_year.to_numpy()
    e = np.zeros(days.size)
    for i in range(1, days.size):
        e[i] = 0.9 * e[i - 1] + rng.normal(0, 0.3 * np.sqrt(1 - 0.81))
    q = 5.0 * np.exp(0.7 * np.sin(2 * np.pi * (doy - 30) / 365.25) + e)
    c_true = 200.0 * (q / 5.0) ** -0.1
    step = np.where(days >= FIRST_AFTER, STEP, 1.0)
    idx = np.arange(3, days.size, 10)
    conc = c_true[idx] * step[idx] * np.exp(rng.normal(0, 0.02, idx.size))
    return days, q, c_true, idx, conc


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    days, q, c_true, idx, conc = _record()
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": q}).to_csv(
        d / "q.csv", index=False)
    pd.DataFrame({"date": days[idx].strftime("%Y-%m-%d"), "HCO3- (mg/L)": conc}).to_csv(
        d / "s.csv", index=False)
    # the hand values: mean over every day of the record of c(q) and c(q) q 86.4
    fn_conc = float(c_true.mean())
    fn_flux = float((c_true * q * 86.4).mean())
    return d, fn_conc, fn_flux


@pytest.fixture(scope="module")
def fit(files):
    d, _, _ = files
    return run_flux(d / "q.csv", d / "s.csv", area_km2=AREA, method="wrtds",
                    method_options={"window_y": 2.0, "bootstrap": 0}, kalman_iter=0)


def _sink_k(area):
    return 0.5 * 12.011 / 61.0168 / 1000.0 / area


def test_step_in_concentration_is_all_cqtc(files, fit):
    _, fn_conc, fn_flux = files
    tr = run_trend(fit.estimate, pairs=[2002, 2011], kalman_iter=0, area_km2=AREA, hco3=True)
    t = tr.table
    assert t.loc["conc", "x11"] == pytest.approx(fn_conc, rel=0.015)
    assert t.loc["conc", "x22"] == pytest.approx(STEP * fn_conc, rel=0.015)
    assert t.loc["flux", "x11"] == pytest.approx(fn_flux * 365.25, rel=0.015)
    for q in ("conc", "flux"):
        assert t.loc[q, "total_change_pct"] == pytest.approx(100 * (STEP - 1), abs=2.0)
        assert t.loc[q, "qtc"] == 0.0  # stationary flow normalisation
        assert t.loc[q, "cqtc"] == pytest.approx(t.loc[q, "total_change"], rel=1e-12)
    k = _sink_k(AREA)
    for col in ("x11", "x22", "total_change", "cqtc"):
        assert t.loc["sink", col] == pytest.approx(t.loc["flux", col] * k, rel=1e-4)
    assert t.loc["sink", "units"] == "t C/km2/yr, no acid correction"


def test_generalized_flow_normalisation_by_hand(fit):
    """window_side 2: each year is normalised with the discharges of its 5-year window.

    By hand, from the generating model: x11 = mean of c(q) q 86.4 over the days of year 1's
    window, x22 = 1.2 x (the same over year 2's window), x10/x20 the same over the whole
    record.  A random 5-year stretch of discharge differs from the record's mean, so QTC is
    what the windows' discharges make of it, not 0.
    """
    days, q, c_true, _, _ = _record()
    tr = run_trend(fit.estimate, pairs=[2002, 2011], window_side=2, kalman_iter=0)
    w = tr.info["flow_windows"]
    assert (w[0]["norm_start"], w[0]["norm_end"]) == ("2000-10-01", "2005-09-30")  # shifted
    assert (w[1]["norm_start"], w[1]["norm_end"]) == ("2007-10-01", "2012-09-30")
    for quantity, daily in (("conc", c_true), ("flux", c_true * q * 86.4 * 365.25)):
        s = pd.Series(daily, index=days)
        m1 = s[w[0]["norm_start"]:w[0]["norm_end"]].mean()
        m2 = s[w[1]["norm_start"]:w[1]["norm_end"]].mean()
        hand = {"x11": m1, "x22": STEP * m2, "x10": s.mean(), "x20": STEP * s.mean()}
        t = tr.table.loc[quantity]
        for col, v in hand.items():
            assert t[col] == pytest.approx(v, rel=0.015), (quantity, col)
        qtc = (hand["x22"] - hand["x11"]) - (hand["x20"] - hand["x10"])
        assert t["qtc"] == pytest.approx(qtc, abs=0.015 * hand["x11"]), quantity
        assert t["total_change"] == pytest.approx(t["cqtc"] + t["qtc"], rel=1e-12)


def test_series_is_table_change_by_hand(fit):
    tr = run_trend(fit.estimate, groups=["2002-2004", "2009-2011"], series=[2002, 2006, 2011],
                   kalman_iter=0, area_km2=AREA, hco3=True)
    ann = tr.annual.set_index("year")
    s = tr.series.set_index(["quantity", "year1", "year2"])
    # every year with every later one: 3 pairs per quantity (conc, flux, sink)
    assert len(s) == 9
    a, b = ann.loc[2002, "fn_flux_kg_day"] * 365.25, ann.loc[2011, "fn_flux_kg_day"] * 365.25
    row = s.loc[("flux", 2002, 2011)]
    assert row["change"] == pytest.approx(b - a, rel=1e-12)
    assert row["slope_per_yr"] == pytest.approx((b - a) / 9, rel=1e-12)
    assert row["change_pct"] == pytest.approx(100 * (b - a) / a, rel=1e-12)
    assert row["slope_pct_per_yr"] == pytest.approx(100 * (b - a) / a / 9, rel=1e-12)
    assert row["change_pct"] == pytest.approx(20.0, abs=2.0)  # the step
    assert s.loc[("sink", 2002, 2011), "change"] == pytest.approx(
        (b - a) * _sink_k(AREA), rel=1e-4)
    assert s.loc[("sink", 2002, 2011), "change_pct"] == pytest.approx(row["change_pct"])


def test_run_trend_errors(fit):
    with pytest.raises(DataError, match="exactly one"):
        run_trend(fit.estimate, kalman_iter=0)
    with pytest.raises(DataError, match="series: years"):
        run_trend(fit.estimate, pairs=[2002, 2011], series=[2002, 2030], kalman_iter=0)


# ------------------------------------------------------------------ run configuration

def _config(tmp_path, files, trend: str, method: str = "wrtds") -> str:
    d, _, _ = files
    extra = "window_y = 2.0\nbootstrap = 0\n" if method == "wrtds" else ""
    path = tmp_path / "run.toml"
    path.write_text(
        '[speciation]\nsamples = []\n'
        f'[[catchments]]\nname = "syn"\narea_km2 = {AREA}\nmethod = "{method}"\n'
        f'discharge = "{(d / "q.csv").as_posix()}"\nsamples = "{(d / "s.csv").as_posix()}"\n'
        f'{extra}trend = {trend}\n', encoding="utf-8")
    return path


@pytest.mark.parametrize("trend, method, match", [
    ("{ pairs = [2001, 2008] }", "loadest", r"catchments\[0\]\.trend: trends need method"),
    ("{ pairs = [2008, 2001] }", "wrtds", r"catchments\[0\]\.trend\.pairs: must be two years"),
    ("{ pairs = [2001] }", "wrtds", r"catchments\[0\]\.trend\.pairs"),
    ('{ pairs = [2001, 2008], groups = ["1990-1995", "1996-2000"] }', "wrtds",
     r"catchments\[0\]\.trend: give exactly one"),
    ("{ window_side = 7 }", "wrtds", r"catchments\[0\]\.trend: give exactly one"),
    ('{ groups = ["1990-95", "1996-2000"] }', "wrtds", r"catchments\[0\]\.trend\.groups"),
    ('{ groups = ["1996-2000", "1990-1995"] }', "wrtds",
     r"catchments\[0\]\.trend\.groups: needs first"),
    ("{ pairs = [2001, 2008], bootstrap = 1 }", "wrtds",
     r"catchments\[0\]\.trend\.bootstrap: must be 0"),
    ("{ pairs = [2001, 2008], series = [2005, 2001] }", "wrtds",
     r"catchments\[0\]\.trend\.series"),
    ("{ pairs = [2001, 2008], window_side = -1 }", "wrtds",
     r"catchments\[0\]\.trend\.window_side"),
    ("{ pairs = [2001, 2008], windowside = 7 }", "wrtds",
     r"catchments\[0\]\.trend\.windowside: unknown key"),
    ('{ pairs = [2001, 2008], seed = "x" }', "wrtds", r"catchments\[0\]\.trend\.seed: must be"),
    ("{ pairs = [2001, 2008], seed = -1 }", "wrtds",
     r"catchments\[0\]\.trend\.seed: must be a whole number 0 or more"),
    ("7", "wrtds", r"catchments\[0\]\.trend: must be a table"),
    # a trend needs every day: missing days kept by allow_gaps are refused before any stage
    ("{ pairs = [2001, 2008] }\nallow_gaps = true", "wrtds",
     r"catchments\[0\]\.trend: needs a discharge record without missing days"),
])
def test_trend_table_errors_name_the_key(tmp_path, files, trend, method, match):
    with pytest.raises(ConfigError, match=match):
        load_run_config(_config(tmp_path, files, trend, method))


def test_trend_table_defaults(tmp_path, files):
    cfg = load_run_config(_config(tmp_path, files, '{ groups = ["2001-2004", "2009-2012"] }'))
    t = cfg["catchments"][0]["trend"]
    assert t["groups"] == [[2001, 2004], [2009, 2012]] and t["pairs"] is None
    assert (t["window_side"], t["bootstrap"], t["block_days"], t["kalman_iter"]) == (
        0.0, 0, 200, 200)


def test_year_outside_the_record_names_the_toml_key(tmp_path, files):
    cfg = _config(tmp_path, files, "{ pairs = [2002, 2030], kalman_iter = 0 }")
    with pytest.raises(DataError, match=r"catchments\[0\]\.trend\.pairs: year2 2030"):
        run_pipeline(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_run_writes_the_trend_and_the_report_shows_it(tmp_path, files, fit):
    cfg = _config(tmp_path, files, "{ pairs = [2002, 2011], bootstrap = 6, seed = 1, "
                                   "series = [2002, 2006, 2011], kalman_iter = 0 }")
    out = tmp_path / "out"
    run_pipeline(cfg, out, jobs=1)
    folder = out / "flux" / "syn"
    for name in ("pairs.csv", "pairs_bootstrap.csv", "series.csv", "fn_band.csv",
                 "trend_annual.csv", "trend.json", "annual.csv", "plots/trend_bars.png",
                 "plots/fn_flux.png", "plots/cq.png"):
        assert (folder / name).is_file(), name
    pairs = pd.read_csv(folder / "pairs.csv", index_col="quantity")
    assert list(pairs.index) == ["conc", "flux", "sink"]
    assert {"x10", "x11", "x20", "x22", "total_change", "cqtc", "qtc", "lo90", "hi90",
            "p_value", "likelihood"} <= set(pairs.columns)
    # one implementation: the run's table is run_trend's on the same fit and settings
    again = run_trend(fit.estimate, pairs=[2002, 2011], kalman_iter=0, bootstrap=6, seed=1,
                      jobs=1, band=False)
    np.testing.assert_allclose(pairs.loc["flux", ["x11", "x22", "lo90", "hi90"]].to_numpy(float),
                               again.table.loc["flux", ["x11", "x22", "lo90", "hi90"]]
                               .to_numpy(float), rtol=1e-9)
    band = pd.read_csv(folder / "fn_band.csv")
    ann = pd.read_csv(folder / "trend_annual.csv")
    assert {"fn_flux_lo90_kg_day", "fn_flux_hi90_kg_day"} <= set(ann.columns)
    assert len(band) == len(ann)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Catchment syn: trend 2002 to 2011" in html
    assert "CQTC" in html and "QTC" in html and "tableChange" in html
    doc = json.loads((out / "run.json").read_text(encoding="utf-8"))
    trend = doc["catchments"][0]["flux_settings"]["trend"]
    assert trend["egret"] == "runPairs" and trend["bootstrap"]["n_boot"] == 6
    # the sink row is the HCO3 flux scaled, before acid corrections: the file says so
    basis = json.loads((folder / "trend.json").read_text("utf-8"))["sink_basis"]
    assert "without acid corrections" in basis and "sink.csv" in basis
    info = json.loads((folder / "trend.json").read_text("utf-8"))
    assert info["karstsink_version"] == karstsink.__version__
    assert any("no sulfuric-acid correction" in t for t in info["carbon_accounting"])


def test_trend_json_records_how_the_flux_runs_kalman_table_was_drawn(tmp_path, files):
    # the run's trend reuses the flux stage's WRTDS-Kalman table: trend.json says how it
    # was drawn (EGRET's default rho 0.90, the catchment's kalman_iter, and the seed the
    # flux stage drew and recorded in run.json), so the record alone reproduces it
    cfg = _config(tmp_path, files, "{ pairs = [2002, 2011], kalman_iter = 5 }")
    out = tmp_path / "out"
    run_pipeline(cfg, out, jobs=1)
    kalman = json.loads((out / "flux" / "syn" / "trend.json").read_text("utf-8"))["kalman"]
    run = json.loads((out / "run.json").read_text("utf-8"))
    flux = next(c for c in run["catchments"] if c["name"] == "syn")["flux_settings"]
    seed = flux["method_options"]["seed"]
    assert isinstance(seed, int)
    assert {k: kalman.get(k) for k in ("rho", "niter", "seed")} == {"rho": 0.9, "niter": 5,
                                                               "seed": seed}
