"""``karstsink flux`` end to end: outputs, the design.md contract, and every broken input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from karstsink.cli import main

ANNUAL_CONTRACT = ["year", "discharge_m3s", "conc_mg_L", "flux_kg_day", "flux_kg_yr",
                   "flux_lo95_kg_yr", "flux_hi95_kg_yr"]


def _files(tmp_path, *, q=None, samples=None, q_header="Q (m3/s)", days=None):
    days = days if days is not None else pd.date_range("2018-10-01", "2021-09-30", freq="D")
    qv = np.ones(len(days)) if q is None else q
    qp = tmp_path / "q.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), q_header: qv}).to_csv(qp, index=False)
    sp = tmp_path / "s.csv"
    if samples is None:
        sd = days[::30]
        samples = pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), "hco3": 250.0, "so4": 30.0,
                                "no3": 10.0})
    samples.to_csv(sp, index=False)
    return qp, sp


def _run(args):
    return CliRunner().invoke(main, ["flux", *map(str, args)], catch_exceptions=False)


def test_worked_example_end_to_end(tmp_path):
    """Q = 1 m3/s, HCO3 = 250 mg/L constant over 100 km2 -> 7.765 t C km-2 yr-1 (science.md
    1.1); with SO4 30 and NO3 10 mg/L acid-derived -> 6.276 (science.md 1.2)."""
    qp, sp = _files(tmp_path)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--constituent", "hco3", "--units", "mg/L",
              "--area", 100, "--method", "direct", "-o", out])
    assert r.exit_code == 0, r.output
    for name in ("daily.csv", "annual.csv", "monthly.csv", "sink.csv", "model.json",
                 "plots/cq.png", "plots/flux.png", "plots/residuals.png"):
        assert (out / name).exists(), name
    annual = pd.read_csv(out / "annual.csv")
    assert list(annual.columns[:7]) == ANNUAL_CONTRACT
    assert list(annual["year"]) == [2019, 2020, 2021]  # water years Oct-Sep, ending year
    # 1 m3/s x 250 g/m3 x 86.4 = 21 600 kg/d; x 365.25 d = 7 889 400 kg/yr
    np.testing.assert_allclose(annual["flux_kg_day"], 21600.0, rtol=1e-12)
    np.testing.assert_allclose(annual["flux_kg_yr"], 7_889_400.0, rtol=1e-12)
    sink = pd.read_csv(out / "sink.csv")
    assert sink["period"].tolist() == ["2019", "2020", "2021", "total"]
    assert (sink["sink_t_c_km2_yr"].round(3) == 7.765).all()
    assert (sink["sink_t_co2_km2_yr"].round(2) == 28.45).all()
    model = json.loads((out / "model.json").read_text())
    assert model["settings"]["area_km2"] == 100.0 and model["model"]["method"] == "direct"
    # the file has SO4 and NO3 that --so4/--no3 did not name: 7.765 is the uncorrected
    # sink (6.276 corrected, below), and the run says so
    said = ("The samples have 'so4' and 'no3' but the sink does not use them: without the "
            "acid correction it is an upper bound. Pass --so4 'so4' --no3 'no3'")
    assert said in " ".join(r.output.split())

    out2 = tmp_path / "out2"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--so4", "so4", "--no3", "no3", "-o", out2, "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(out2 / "sink.csv")
    assert (sink["sink_t_c_km2_yr"].round(3) == 6.276).all()
    assert "sulfuric-acid correction" in sink["assumptions"].iloc[0]
    assert "does not use" not in r.output


@pytest.mark.parametrize("method", ["loadest", "rating"])
def test_regression_methods_run_and_write_calendar_years(tmp_path, method):
    rng = np.random.default_rng(7)
    days = pd.date_range("2019-01-01", "2020-12-31", freq="D")
    q = np.exp(np.sin(np.arange(len(days)) / 30.0) + rng.normal(0, 0.2, len(days)))
    sd = days[::12]
    conc = 220 * q[::12] ** -0.08 * np.exp(rng.normal(0, 0.05, len(sd)))
    qp, sp = _files(tmp_path, q=q, days=days,
                    samples=pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), "hco3": conc}))
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 50,
              "--method", method, "--year-start", 1, "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    annual = pd.read_csv(out / "annual.csv")
    assert list(annual["year"]) == [2019, 2020] and annual["complete"].all()
    assert (annual["flux_lo95_kg_yr"] < annual["flux_kg_yr"]).all()
    assert (annual["flux_kg_yr"] < annual["flux_hi95_kg_yr"]).all()


def _assert_one_line_error(r, pattern, out):
    assert r.exit_code == 1
    msg = r.output.strip().splitlines()
    assert any(pattern in line for line in msg), r.output
    assert "Traceback" not in r.output
    assert not out.exists()


def test_unparsable_date_is_one_line_error_and_nothing_written(tmp_path):
    qp, sp = _files(tmp_path)
    text = qp.read_text().splitlines()
    text[5] = "2018-10-3x,1.0"
    qp.write_text("\n".join(text) + "\n")
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100, "-o", out])
    _assert_one_line_error(r, "line 6 (data row 5)", out)


def test_unknown_or_missing_unit(tmp_path):
    qp, sp = _files(tmp_path, q_header="Qdaily")
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100, "-o", out])
    _assert_one_line_error(r, "--q-unit", out)
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--q-unit", "gallons", "-o", out])
    _assert_one_line_error(r, "Unknown discharge unit", out)


def test_gap_needs_allow_gaps_then_days_are_missing(tmp_path):
    days = pd.date_range("2018-10-01", "2019-09-30", freq="D")
    keep = (days < "2019-03-01") | (days > "2019-03-20")
    qp, sp = _files(tmp_path, days=days[keep], q=np.ones(keep.sum()))
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "-o", out])
    _assert_one_line_error(r, "2019-03-01..2019-03-20 (20 days)", out)
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--allow-gaps", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    annual = pd.read_csv(out / "annual.csv")
    assert annual["n_missing_days"].iloc[0] == 20 and not annual["complete"].iloc[0]
    daily = pd.read_csv(out / "daily.csv")
    assert daily["flux_kg_day"].isna().sum() == 20
    assert (daily["discharge_qa_flags"] == "missing").sum() == 20
    # 365 days, 20 without discharge: the printed line and each sink row with missing days
    # say that the rate stands on the other 345 days
    assert "(20 day(s) without discharge left out;" in r.output
    sink = pd.read_csv(out / "sink.csv")
    assert sink["assumptions"].str.contains(
        "20 day\\(s\\) of the period have no flux: its rate is the mean daily flux of its "
        "345 day\\(s\\) with one x 365.25").all()
    # a gap short enough to fill is filled, and the run says which days
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--max-gap-days", 25, "-o", tmp_path / "filled",
              "--no-plots"])
    assert r.exit_code == 0, r.output
    assert ("discharge: 20 day(s) in 1 gap(s) of at most --max-gap-days interpolated (flag "
            "'interpolated'): 2019-03-01..2019-03-20 (20 days)") in r.output


def test_negative_discharge_flagged_and_samples_outside_record(tmp_path):
    days = pd.date_range("2018-10-01", "2019-09-30", freq="D")
    q = np.ones(len(days))
    q[10] = -3.0
    samples = pd.DataFrame({"date": ["2018-06-01", "2018-11-01", "2019-05-01", "2020-01-01"],
                            "hco3": [250.0, 250.0, 250.0, 250.0]})
    qp, sp = _files(tmp_path, days=days, q=q, samples=samples)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    assert "outside the discharge record" in r.output
    daily = pd.read_csv(out / "daily.csv").set_index("date")
    assert "negative_value" in daily.loc["2018-10-11", "discharge_qa_flags"]
    assert "interpolated" in daily.loc["2018-10-11", "discharge_qa_flags"]
    smp = pd.read_csv(out / "samples.csv", keep_default_na=False)
    assert len(smp) == 4  # nothing dropped
    assert (smp["qa_flags"] == "outside_discharge_record").sum() == 2


def test_no_sample_in_record_is_an_error(tmp_path):
    samples = pd.DataFrame({"date": ["2010-01-01"], "hco3": [250.0]})
    qp, sp = _files(tmp_path, samples=samples)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100, "-o", out])
    _assert_one_line_error(r, "none of the 1 samples", out)


def test_usage_errors_exit_2(tmp_path):
    qp, sp = _files(tmp_path)
    r = _run(["--discharge", qp, "--samples", sp, "--area", -1, "-o", tmp_path / "o"])
    assert r.exit_code == 2
    r = _run(["--discharge", qp, "--samples", sp, "--area", 1, "--method", "magic",
              "-o", tmp_path / "o"])
    assert r.exit_code == 2


def test_proxy_and_extra_regressor_columns_from_the_discharge_file(tmp_path):
    """EC logger column: direct-method proxy regression and LOADEST model 99 regressor."""
    rng = np.random.default_rng(11)
    days = pd.date_range("2019-10-01", "2020-09-30", freq="D")
    q = np.exp(rng.normal(0, 0.6, len(days)))
    ec = 450.0 * q**-0.1 * np.exp(rng.normal(0, 0.02, len(days)))
    qp = tmp_path / "q.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": q, "ec": ec}).to_csv(
        qp, index=False)
    sd = days[::9]
    hco3 = 0.55 * ec[::9] + 5.0  # exact linear EC -> HCO3 relation (mg/L)
    sp = tmp_path / "s.csv"
    pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), "hco3": hco3}).to_csv(sp, index=False)
    out = tmp_path / "direct"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 10,
              "--method", "direct", "--proxy", "ec", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    model = json.loads((out / "model.json").read_text())["model"]
    assert model["coefficients"]["c1"] == pytest.approx(0.55, rel=1e-9)
    assert model["coefficients"]["c0"] == pytest.approx(5.0, rel=1e-7)
    daily = pd.read_csv(out / "daily.csv")
    np.testing.assert_allclose(daily["conc_mg_L"], 0.55 * ec + 5.0, rtol=1e-9)

    out = tmp_path / "loadest"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 10,
              "--method", "loadest", "--extra", "ec", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    model = json.loads((out / "model.json").read_text())["model"]
    assert model["model"] == 99 and model["terms"] == ["intercept", "lnQ", "ec"]
    # an option of another method is a usage error (exit 2), never silently ignored
    for method, option, owner in (("rating", ["--proxy", "ec"], "direct"),
                                  ("direct", ["--extra", "ec"], "loadest"),
                                  ("wrtds", ["--model", "7"], "loadest")):
        r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 10,
                  "--method", method, *option, "-o", tmp_path / "x"])
        assert r.exit_code == 2, r.output
        assert f"{option[0]} applies to --method {owner} only" in r.output
        assert "Traceback" not in r.output and not (tmp_path / "x").exists()
    # models 1-9 have fixed terms (an --extra would be dropped); no LOADEST model 12
    for option in (["--model", "7", "--extra", "ec"], ["--model", "12"]):
        r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 10,
                  "--method", "loadest", *option, "-o", tmp_path / "x"])
        assert r.exit_code == 2, r.output
        assert "Traceback" not in r.output and not (tmp_path / "x").exists()
