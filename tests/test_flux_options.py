"""``karstsink flux``: sink shares without their flux, the basis of the companion files, and
each warning once.

- A share that acts on a companion flux (``--acid-so4-share``, ``--evaporite-so4-share``,
  ``--acid-no3-share``, ``--bcp-share``) given without the column of that flux (``--so4``,
  ``--no3``, ``--toc``) cannot apply: a usage error naming both options, never ignored.
- ``annual_no3.csv`` (and ``annual_so4.csv``, ``annual_toc.csv``) keep the columns of
  ``annual.csv``; ``model.json`` states what their numbers are the mass of.
- The constituent and its companions are fitted on one discharge record: a warning the
  fits share is shown once (it was shown once per fit), and kept in ``model.json``.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from karstsink import qa
from karstsink.cli import main
from karstsink.exceptions import DataQualityWarning
from karstsink.workflows.catchment import FluxOptionError, check_method_options, run_flux

DAYS = pd.date_range("2019-10-01", "2021-09-30", freq="D")


def _run(args):
    return CliRunner().invoke(main, ["flux", *map(str, args)], catch_exceptions=False)


def _constant_files(tmp_path, samples: dict):
    """Q = 1 m3/s every day; one sample every 30 days with the constant ``samples``."""
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0}).to_csv(qp, index=False)
    sd = DAYS[::30]
    pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), **{k: [v] * len(sd)
                                                       for k, v in samples.items()}}).to_csv(
        sp, index=False)
    return qp, sp


# --------------------------------------------------------------------------------------
# 1. a sink share without the flux it acts on
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("share", "source"), [
    ("--acid-so4-share", "--so4"), ("--evaporite-so4-share", "--so4"),
    ("--acid-no3-share", "--no3"), ("--bcp-share", "--toc"),
])
@pytest.mark.parametrize("value", ["0.5", "1", "0"])  # the default, typed, is refused too
def test_a_share_without_its_column_is_a_usage_error(tmp_path, share, source, value):
    qp, sp = _constant_files(tmp_path, {"hco3": 250.0, "so4": 30.0, "no3": 10.0,
                                        "toc": 2.0})
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", share, value, "-o", out, "--no-plots"])
    assert r.exit_code == 2, r.output
    errors = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, r.output
    assert share in errors[0] and "only: name the " in errors[0], errors[0]
    assert f"with {source} (e.g. {source} {source[2:]})" in errors[0], errors[0]
    assert "Traceback" not in r.output and not out.exists()


def test_the_shares_are_refused_together_and_accepted_with_their_column(tmp_path):
    qp, sp = _constant_files(tmp_path, {"hco3": 250.0, "so4": 30.0, "no3": 10.0})
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--acid-so4-share", "0.5", "--evaporite-so4-share", "0.2",
              "-o", tmp_path / "x", "--no-plots"])
    assert r.exit_code == 2, r.output
    assert ("--acid-so4-share and --evaporite-so4-share apply to the SO4 flux of --so4 only: "
            "name the SO4 column of the samples with --so4 (e.g. --so4 so4), or leave them "
            "out.") in " ".join(r.output.split())
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--so4", "so4", "--acid-so4-share", "0.5", "-o", out,
              "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(out / "sink.csv")
    # SO4_acid = 0.5 x 30 mg/L / 96.06 g/mol = 0.156152 mmol/L; HCO3 250 / 61.017 = 4.097219;
    # carbonic HCO3 = 4.097219 - 2 x 0.156152 = 3.784914 mmol/L; at 1 m3/s over 100 km2:
    # 0.5 x 3.784914 mol/m3 x 31 557 600 m3/yr x 12.011 g/mol / 1e6 / 100 = 7.17314 t C km-2
    # yr-1 (with the default share 1 it would be 6.5815: the 0.5 was applied, not dropped)
    assert sink["sink_t_c_km2_yr"].iloc[-1] == pytest.approx(7.17314, abs=1e-5)
    assert "acid_so4_share = 0.5" in sink["assumptions"].iloc[-1]


def test_one_evaporite_share_is_stated_as_one_value_not_per_row(tmp_path):
    # the share was turned into a flux (share x SO4) and back (/ SO4): float noise made
    # 0.1 read "0.1-0.1 (per row)" in sink.csv and model.json
    qp, sp = _constant_files(tmp_path, {"hco3": 250.0, "so4": 30.0})
    smp = pd.read_csv(sp)
    smp["so4"] = np.resize([21.7, 33.1, 29.3, 37.9, 24.4], len(smp))
    smp.to_csv(sp, index=False)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--so4", "so4", "--evaporite-so4-share", "0.1",
              "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(out / "sink.csv")
    for text in sink["assumptions"]:
        assert "evaporite_so4_share = 0.1 (given; default 0)" in text, text
        assert "per row" not in text, text


def test_the_direct_method_takes_a_censored_acid_ion_at_its_reporting_limit(tmp_path):
    # SO4 '<30' mg/L in every sample, HCO3 250 mg/L, Q 1 m3/s, 100 km2.  At the limit:
    # 0.5 x (250/61.017 - 2 x 30/96.06) mmol/L x 31 557 600 m3/yr x 12.011 g/mol / 1e6 / 100
    # = 0.5 x 3.472609 x 3.790382 = 6.58126 t C km-2 yr-1 (half the limit gave 7.17314).
    qp, sp = _constant_files(tmp_path, {"hco3": 250.0, "so4": "<30"})
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--so4", "so4", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(out / "sink.csv")
    assert sink["sink_t_c_km2_yr"].iloc[-1] == pytest.approx(6.58126, abs=1e-5)
    assert "enters the acid correction at the limit DL itself" in sink["assumptions"].iloc[-1]
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert model["companions"]["so4"]["censored_values"] == "the reporting limit"
    # the constituent itself (HCO3) keeps half the limit, the direct method's default
    assert model["model"]["censored_values"] == "half the reporting limit"


def test_the_rule_function_owns_it():
    for given in ({"--bcp-share": 0.3}, {"--bcp-share": 0.3, "--toc": None}):
        with pytest.raises(FluxOptionError, match=r"^--bcp-share applies to the TOC flux"):
            check_method_options("loadest", given)
    check_method_options("loadest", {"--bcp-share": 0.3, "--toc": "toc"})
    check_method_options("loadest", {"--acid-no3-share": None, "--bcp-share": None})


# --------------------------------------------------------------------------------------
# 2. the basis of the companion files
# --------------------------------------------------------------------------------------
def test_companion_files_state_their_basis_and_hold_the_species_itself(tmp_path):
    qp, sp = _constant_files(tmp_path, {"Alk (mg/L as CaCO3)": 200.0, "SO4-S (mg/L)": 10.0,
                                        "NO3-N (mg/L)": 2.259, "TOC (mg/L)": 2.0})
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "--so4", "so4", "--no3", "no3", "--toc", "toc", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    basis = {k: v["basis"] for k, v in model["companions"].items()}
    assert basis["no3"].startswith("mass of NO3 itself (not NO3-N): conc_mg_L in mg NO3/L, "
                                   "fluxes in kg NO3"), basis
    assert "mg/L as N" in basis["no3"]
    assert basis["so4"].startswith("mass of SO4 itself (not SO4-S)"), basis
    assert basis["toc"].startswith("organic carbon as C: conc_mg_L in mg C/L, fluxes in kg C")
    assert model["model"]["basis"].startswith("mass of HCO3 itself (not HCO3-C or as CaCO3)")
    # the numbers are of that basis, at Q = 1 m3/s (1 g/m3 = 1 mg/L; x 86.4 = kg/d):
    # NO3: 2.259 mg N/L x 62.004 / 14.007 = 9.99979 mg NO3/L -> 863.98 kg NO3/d
    # SO4: 10 mg S/L x 96.06 / 32.06 = 29.9626 mg SO4/L -> 2588.77 kg SO4/d
    # TOC: 2 mg C/L -> 172.8 kg C/d
    main_columns = list(pd.read_csv(out / "annual.csv").columns)
    for key, kg_day in (("no3", 863.98), ("so4", 2588.77), ("toc", 172.8)):
        annual = pd.read_csv(out / f"annual_{key}.csv")
        # the columns of annual.csv, in its order (a script reading by position is right)
        assert list(annual.columns) == main_columns
        np.testing.assert_allclose(annual["flux_kg_day"], kg_day, rtol=2e-6)


# --------------------------------------------------------------------------------------
# 3. each warning once
# --------------------------------------------------------------------------------------
def _extrapolating_files(tmp_path, *, bad_no3=0):
    """Seasonal discharge with a flood on day 200, which no sample catches: LOADEST warns
    of extrapolated loads in the HCO3, SO4 and NO3 fits alike."""
    t = np.arange(len(DAYS))
    q = 1.0 + 0.5 * np.sin(2 * np.pi * t / 365.25)
    q[200] = 4.0
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "Q (m3/s)": q}).to_csv(qp, index=False)
    idx = np.arange(3, len(DAYS), 11)
    assert 200 not in idx
    i = np.arange(len(idx))
    no3 = [f"{v:.3f}" for v in 10.0 + 0.5 * np.sin(i)]
    for k in range(bad_no3):
        no3[2 * k + 1] = "abc"
    pd.DataFrame({"date": DAYS[idx].strftime("%Y-%m-%d"),
                  "hco3": 250.0 * q[idx] ** -0.1 + np.cos(i),
                  "so4": 30.0 * q[idx] ** -0.2 + 0.3 * np.sin(2 * i),
                  "no3": no3}).to_csv(sp, index=False)
    n_extrapolated = int((q > q[idx].max()).sum())  # days above the largest sampled Q
    return qp, sp, n_extrapolated


@pytest.mark.parametrize(("method", "label", "extra"), [
    ("rating", "rating curve", []),
    ("wrtds", "WRTDS", ["--bootstrap", 0, "--min-obs", 40, "--min-uncen", 40])])
def test_every_model_warns_of_days_beyond_the_largest_sampled_discharge(tmp_path, method,
                                                                         label, extra):
    # the flood of day 200 (4 m3/s) and the days above the largest sampled discharge are
    # outside the data the curve was fitted to; before, only LOADEST said so
    qp, sp, n_ex = _extrapolating_files(tmp_path)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", method, *extra, "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    shown = [ln for ln in r.output.splitlines() if "above the largest sampled discharge" in ln]
    assert len(shown) == 1 and shown[0].startswith(f"warning: {label}: {n_ex} day(s) have")
    assert shown[0].endswith("m3/s): loads there are extrapolated.")
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert model["model"]["warnings"] == [shown[0].removeprefix(f"warning: {label}: ")]
    # the share of the flux those days carry, summed from daily.csv by hand
    daily = pd.read_csv(out / "daily.csv")
    q_max = pd.read_csv(out / "samples.csv").query("used")["discharge_m3s"].max()
    above = daily["discharge_m3s"] > q_max
    share = 100 * daily.loc[above, "flux_kg_day"].sum() / daily["flux_kg_day"].sum()
    beyond = model["model"]["extrapolation"]
    assert beyond["n_days_above_sampled_q"] == n_ex == int(above.sum())
    assert beyond["max_sampled_q_m3s"] == pytest.approx(q_max, rel=1e-12)
    assert beyond["flux_share_pct"] == pytest.approx(share, rel=1e-9)


def test_a_warning_of_every_fit_is_shown_once_naming_the_companions(tmp_path):
    qp, sp, n_ex = _extrapolating_files(tmp_path)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--so4", "so4", "--no3", "no3", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    shown = [ln for ln in r.output.splitlines() if ln.startswith("warning:")]
    loadest = [ln for ln in shown if "above the largest sampled discharge" in ln]
    assert len(loadest) == 1, shown  # was 3: one per fit (hco3, so4, no3)
    assert loadest[0].startswith(f"warning: LOADEST: {n_ex} day(s) have discharge above")
    assert loadest[0].endswith("extrapolated (also for the so4 and no3 fluxes).")
    assert len(shown) == len(set(shown)), shown
    model = json.loads((out / "model.json").read_text(encoding="utf-8"))
    assert model["warnings"] == [loadest[0].removeprefix("warning: ")]
    for fit in (model["model"], model["companions"]["so4"], model["companions"]["no3"]):
        assert len(fit["warnings"]) == 1 and "extrapolated" in fit["warnings"][0]


def test_a_companions_own_warning_is_shown_once_and_names_it(tmp_path):
    qp, sp, _ = _extrapolating_files(tmp_path, bad_no3=2)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
              "--method", "direct", "--so4", "so4", "--no3", "no3", "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    shown = [ln for ln in r.output.splitlines() if ln.startswith("warning:")]
    own = [ln for ln in shown if "no usable no3 value" in ln]
    assert own == [f"warning: {sp}: 2 sample(s) have no usable no3 value (flagged in "
                   "qa_flags) and are not used for calibration (no3 flux)."], shown


def test_run_flux_warns_once_per_text(tmp_path):
    qp, sp, n_ex = _extrapolating_files(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = run_flux(qp, sp, area_km2=100.0, units="mg/L", so4="so4", no3="no3")
    texts = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    assert len(texts) == len(set(texts)) == 1, texts
    assert texts[0].startswith(f"LOADEST: {n_ex} day(s)")
    assert run.warning_texts == texts
    with pytest.warns(DataQualityWarning) as rec:
        run_flux(qp, sp, area_km2=100.0, units="mg/L", no3="no3")
    texts = [str(w.message) for w in rec]
    assert any(t.endswith("also for the no3 flux).") for t in texts), texts
    # the file's SO4 column, not given: the sink is said to lack that correction
    assert any(t.startswith("The samples have 'so4' but the sink does not use it") and
               "Pass --so4 'so4'" in t for t in texts), texts


def test_repeated_units_are_a_usage_error_and_the_same_unit_twice_is_it(tmp_path):
    qp, sp = _constant_files(tmp_path, {"hco3": 250.0})
    out = tmp_path / "out"
    common = ["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "-o", out, "--no-plots"]
    r = _run([*common, "--units", "mg/L", "--units", "mmol/L"])
    assert r.exit_code == 2, r.output
    assert "'mg/L', 'mmol/L'" in r.output and "header" in r.output
    assert not out.exists()
    r = _run([*common, "--units", "mg/L", "--units", "mg/L"])
    assert r.exit_code == 0, r.output
    # Q 1 m3/s x 250 mg/L = 250 g/s = 250 x 86400 / 1000 kg/d = 21,600 kg/d every day
    annual = pd.read_csv(out / "annual.csv")
    assert annual["flux_kg_day"].to_numpy() == pytest.approx(21600.0, rel=1e-9)


def test_a_sink_warning_is_kept_in_model_json_once(tmp_path):
    # the demo's Longtan record with discharge x 1000 (L/s written under m3/s): every sink
    # row (years and total) is flagged implausible_runoff, and the one warning is kept in
    # model.json's warnings, once, not as a companion flux's
    from conftest import ROOT

    demo = ROOT / "data" / "demo" / "catchments"
    q = pd.read_csv(demo / "longtan_discharge.csv", comment="#")
    q.iloc[:, 1] = q.iloc[:, 1] * 1000.0
    q.to_csv(tmp_path / "q.csv", index=False)
    r = _run(["--discharge", tmp_path / "q.csv", "--samples", demo / "longtan_samples.csv",
              "--area", 75, "--so4", "so4", "-o", tmp_path / "out", "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(tmp_path / "out" / "sink.csv", keep_default_na=False)
    assert (sink["qa_flags"] == "implausible_runoff").all()
    model = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    said = [w for w in model["warnings"] if "implausible_runoff" in w]
    assert len(said) == 1 and "also for the" not in said[0], model["warnings"]

def test_mg_per_l_headed_mmol_per_l_is_flagged_implausible_hco3(tmp_path):
    # the demo's Longtan samples with the HCO3 header saying mmol/L over mg/L values
    # (225.9 mg/L read as 225.9 mmol/L, 61 x too much): every sink row is flagged
    # implausible_hco3 (flow-weighted mean > 37 mmol/L) and the warning is in model.json;
    # the same file headed mg/L flags none
    from conftest import ROOT

    demo = ROOT / "data" / "demo" / "catchments"
    text = (demo / "longtan_samples.csv").read_text(encoding="utf-8")
    assert "HCO3- (mg/L)" in text
    (tmp_path / "s.csv").write_text(text.replace("HCO3- (mg/L)", "HCO3- (mmol/L)"),
                                    encoding="utf-8")
    for name, samples in (("wrong", tmp_path / "s.csv"),
                          ("right", demo / "longtan_samples.csv")):
        r = _run(["--discharge", demo / "longtan_discharge.csv", "--samples", samples,
                  "--area", 75, "-o", tmp_path / name, "--no-plots"])
        assert r.exit_code == 0, r.output
    sink = pd.read_csv(tmp_path / "wrong" / "sink.csv", keep_default_na=False)
    assert (sink["qa_flags"] == "implausible_hco3").all(), sink["qa_flags"]
    model = json.loads((tmp_path / "wrong" / "model.json").read_text(encoding="utf-8"))
    assert any("implausible_hco3" in w for w in model["warnings"]), model["warnings"]
    right = pd.read_csv(tmp_path / "right" / "sink.csv", keep_default_na=False)
    assert not right["qa_flags"].str.contains("implausible").any()


def test_years_after_the_last_sample_are_flagged_beyond_samples(tmp_path):
    # the demo's Longtan samples cut at 2018-10-01 (the end of water year 2018) against the
    # whole discharge record (WY2016-2021): WY2019-2021 hold no sample used and lie after the
    # last one, so their sink rows are flagged beyond_samples, annual.csv counts 0 samples
    # and all their days beyond the samples, and model.json keeps the warning. A later row
    # with an empty HCO3 cell (not used by the fit) changes none of it.
    from conftest import ROOT

    demo = ROOT / "data" / "demo" / "catchments"
    lines = (demo / "longtan_samples.csv").read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(",")[2] < "2018-10-01"]
    header = lines[0].split(",")
    late = lines[1].split(",")
    late[2], late[header.index("HCO3- (mg/L)")] = "2021-09-10", ""
    kept.append(",".join(late))
    (tmp_path / "s.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    r = _run(["--discharge", demo / "longtan_discharge.csv", "--samples", tmp_path / "s.csv",
              "--area", 75, "-o", tmp_path / "out", "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(tmp_path / "out" / "sink.csv", keep_default_na=False, dtype=str)
    flagged = sink.loc[sink["qa_flags"].str.contains("beyond_samples"), "period"].tolist()
    assert flagged == ["2019", "2020", "2021"]
    annual = pd.read_csv(tmp_path / "out" / "annual.csv")
    late = annual[annual["year"] >= 2019]
    assert (late["n_samples"] == 0).all()
    assert (late["n_days_beyond_samples"] == late["n_days"]).all()
    assert (annual.loc[annual["year"] < 2019, "n_samples"] > 0).all()
    model = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    assert any("2019, 2020, 2021 have every day with a flux" in w for w in model["warnings"])
    samples = pd.read_csv(tmp_path / "out" / "samples.csv")
    assert annual["n_samples"].sum() == samples["used"].sum() == len(kept) - 2


def test_years_inside_the_record_without_a_sample_are_flagged(tmp_path):
    # the demo's Longtan samples without those of water years 2018 and 2019 (2017-10-01 to
    # 2019-09-30): those two years lie between samples but have none of their own, so
    # their sink rows are flagged no_sample_in_year (not beyond_samples) with a warning;
    # the years with samples are not flagged
    from conftest import ROOT

    demo = ROOT / "data" / "demo" / "catchments"
    lines = (demo / "longtan_samples.csv").read_text(encoding="utf-8").splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:]
                         if not "2017-10-01" <= ln.split(",")[2] <= "2019-09-30"]
    (tmp_path / "s.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    r = _run(["--discharge", demo / "longtan_discharge.csv", "--samples", tmp_path / "s.csv",
              "--area", 75, "--method", "direct", "-o", tmp_path / "out", "--no-plots"])
    assert r.exit_code == 0, r.output
    sink = pd.read_csv(tmp_path / "out" / "sink.csv", keep_default_na=False, dtype=str)
    flags = dict(zip(sink["period"], sink["qa_flags"], strict=True))
    assert [p for p, f in flags.items() if "no_sample_in_year" in f] == ["2018", "2019"]
    assert not any("beyond_samples" in f for f in flags.values())
    annual = pd.read_csv(tmp_path / "out" / "annual.csv").set_index("year")
    assert annual.loc[[2018, 2019], "n_samples"].tolist() == [0, 0]
    model = json.loads((tmp_path / "out" / "model.json").read_text(encoding="utf-8"))
    assert any("2018, 2019 have no calibration sample of their own" in w
               for w in model["warnings"])
    assert qa.rule("no_sample_in_year").severity == "warn"


def test_a_year_whose_samples_are_below_the_carbonate_buffer_has_its_sink_flagged(tmp_path):
    # the demo's Longtan samples with pH 6.0 (< 6.4) in water year 2017 (2016-10-01 to
    # 2017-09-30): the 2017 sink row and the total are flagged, the other years are not
    from conftest import ROOT

    demo = ROOT / "data" / "demo" / "catchments"
    lines = (demo / "longtan_samples.csv").read_text(encoding="utf-8").splitlines()
    out_lines = [lines[0]]
    for ln in lines[1:]:
        cells = ln.split(",")
        if "2016-10-01" <= cells[2] <= "2017-09-30":
            cells[4] = "6.0"
        out_lines.append(",".join(cells))
    (tmp_path / "s.csv").write_text("\n".join(out_lines) + "\n", encoding="utf-8")
    r = _run(["--discharge", demo / "longtan_discharge.csv", "--samples", tmp_path / "s.csv",
              "--area", 75, "--so4", "SO42- (mg/L)", "-o", tmp_path / "out", "--no-plots"])
    assert r.exit_code == 0, r.output
    assert "have a pH below 6.4" in r.output
    sink = pd.read_csv(tmp_path / "out" / "sink.csv", keep_default_na=False, dtype=str)
    flagged = sink.loc[sink["qa_flags"].str.contains("ph_below_carbonate_buffer"), "period"]
    assert flagged.tolist() == ["2017", "total"]
