"""Monte Carlo uncertainty of ``speciate(draws=...)`` and ``karstsink speciate --draws``.

The reference for the spread is an independent linear propagation: a central finite
difference of SI calcite and log pCO2 in pH, computed here with the raw ``phreeqc``
package (IPhreeqc 3.8, the 2024 phreeqc.dat) on hand-written mg/l input of the limestone
spring of ``data/reference/phreeqc_speciation_2024.csv``, times the pH uncertainty:
sd(SI) ~ |dSI/dpH| x sd(pH) (first-order propagation, JCGM 100:2008 eq. 10).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import phreeqc
import pytest
from click.testing import CliRunner
from conftest import read_reference

from karstsink.chemistry import uncertainty
from karstsink.chemistry.speciation import speciate
from karstsink.cli import main
from karstsink.exceptions import ConfigError, DataError, DataQualityWarning
from karstsink.units import to_mmol_per_l

RESULTS = ["si_calcite", "si_dolomite", "si_gypsum", "log_pco2", "dic_mmol_kgw",
           "hco3_carbonic_mmol_l"]
STATS = [f"{r}{s}" for r in RESULTS for s in ("_sd", "_lo95", "_hi95")]


def spring_row() -> dict:
    ref = read_reference("phreeqc_speciation_2024.csv")
    r = ref[ref["case"] == "limestone spring"].iloc[0]
    c = to_mmol_per_l
    return {"sample_id": "limestone spring", "temp_c": float(r.temp_c), "ph": float(r.ph),
            "ca_mmol_l": float(c(r.ca_mg_l, "ca", "mg/L")),
            "mg_mmol_l": float(c(r.mg_mg_l, "mg", "mg/L")),
            "na_mmol_l": float(c(r.na_mg_l, "na", "mg/L")),
            "k_mmol_l": float(c(r.k_mg_l, "k", "mg/L")),
            "cl_mmol_l": float(c(r.cl_mg_l, "cl", "mg/L")),
            "so4_mmol_l": float(c(r.so4_mg_l, "so4", "mg/L")),
            "no3_mmol_l": float(c(r.no3_n_mg_l, "no3", "mg/L as N")),
            "hco3_mmol_l": float(c(r.hco3_mg_l, "hco3", "mg/L")), "qa_flags": ""}


def raw_si(ph: float) -> tuple[float, float]:
    """SI calcite and SI CO2(g) of the limestone spring at ``ph``, plain IPhreeqc."""
    p = phreeqc.Phreeqc()
    p.LoadBuiltInDatabase("phreeqc.dat")
    p.SetSelectedOutputStringOn(True)
    nerr = p.RunString(
        f"SOLUTION 1\n temp 16\n pH {ph!r}\n units mg/l\n Ca 80\n Mg 6\n Na 3\n K 1\n Cl 5\n"
        " S(6) 24 as SO4\n N(5) 2.26\n Alkalinity 250 as HCO3\n"
        "SELECTED_OUTPUT 1\n -reset false\n -high_precision true\n"
        " -saturation_indices Calcite CO2(g)\nEND\n")
    assert nerr == 0, p.GetErrorString()
    _header, values = p.GetSelectedOutputString().strip().splitlines()
    return tuple(float(v) for v in values.split())


def quiet_speciate(table, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return speciate(table, jobs=1, **kw)


def test_ph_alone_matches_linear_propagation_through_an_independent_phreeqc_run():
    h = 0.01  # central difference in pH (SI is close to linear in pH over +-0.1)
    up, down = raw_si(7.40 + h), raw_si(7.40 - h)
    dsi_dph = [(a - b) / (2 * h) for a, b in zip(up, down, strict=True)]
    expected = {"si_calcite": abs(dsi_dph[0]) * 0.05, "log_pco2": abs(dsi_dph[1]) * 0.05}
    # ~0.05 each: SI calcite and log pCO2 move by about one unit per pH unit at fixed
    # alkalinity (CO3-2 up, CO2(aq) down, one proton each)
    assert 0.03 < expected["si_calcite"] < 0.07 and 0.03 < expected["log_pco2"] < 0.07
    out = quiet_speciate(pd.DataFrame([spring_row()]), draws=400, uncertainty={"ph": 0.05},
                         seed=2024)
    for col, sd in expected.items():
        # 400 draws: the sd itself is known to 1/sqrt(2 x 399) = 3.5 %
        assert out.loc[0, f"{col}_sd"] == pytest.approx(sd, rel=0.15), col
        lo, hi = out.loc[0, f"{col}_lo95"], out.loc[0, f"{col}_hi95"]
        assert lo < out.loc[0, col] < hi
        # a normal: the 95 % interval is +-1.96 sd
        assert (hi - lo) / 2 == pytest.approx(1.96 * sd, rel=0.2), col
    # only pH varied: the acid-corrected HCO3 (from measured ions) does not move
    assert out.loc[0, "hco3_carbonic_mmol_l_sd"] < 1e-12
    meta = out.attrs["karstsink"]["speciation"]["uncertainty"]
    assert meta["standard_uncertainty"] == {"ph": "0.05"} and meta["draws"] == 400


def test_central_value_is_the_deterministic_run_and_columns_are_added():
    table = pd.DataFrame([spring_row(), {**spring_row(), "ph": 7.9}])
    plain = quiet_speciate(table)
    mc = quiet_speciate(table, draws=30, seed=5)
    cols = [c for c in plain.columns if c != "qa_flags"]
    pd.testing.assert_frame_equal(mc[cols], plain[cols])  # bit-identical central values
    assert list(mc.columns) == list(plain.columns) + STATS
    assert mc[STATS].notna().all().all() and (mc[[f"{r}_sd" for r in RESULTS]] > 0).all().all()
    meta = mc.attrs["karstsink"]["speciation"]["uncertainty"]
    assert meta["standard_uncertainty"]["ph"] == "0.05"  # the documented defaults
    assert meta["standard_uncertainty"]["ca_mmol_l"] == "3 % (relative)"
    assert meta["seed"] == 5 and meta["n_draws_failed"] == 0


def test_seeded_draws_are_reproducible():
    table = pd.DataFrame([spring_row()])
    a = quiet_speciate(table, draws=20, seed=7)
    b = quiet_speciate(table, draws=20, seed=7)
    c = quiet_speciate(table, draws=20, seed=8)
    pd.testing.assert_frame_equal(a[STATS], b[STATS])
    assert not np.allclose(a[STATS].to_numpy(), c[STATS].to_numpy())
    unseeded = quiet_speciate(table, draws=20)
    assert isinstance(unseeded.attrs["karstsink"]["speciation"]["uncertainty"]["seed"], int)


def test_per_row_sd_columns_take_precedence():
    base = spring_row()
    table = pd.DataFrame([{**base, "ph_sd": 0.0}, {**base, "ph_sd": 0.1}, {**base}])
    out = quiet_speciate(table, draws=40, uncertainty={"ph": 0.05}, seed=3)
    # row 0: pH exact -> every draw is the same water
    assert out.loc[0, "si_calcite_sd"] < 1e-9
    # row 1 (sd 0.1) spreads about twice as much as row 2 (the global 0.05)
    ratio = out.loc[1, "si_calcite_sd"] / out.loc[2, "si_calcite_sd"]
    assert 1.4 < ratio < 2.8
    meta = out.attrs["karstsink"]["speciation"]["uncertainty"]
    assert meta["per_row_sd_columns"] == ["ph_sd"]
    for bad in (-1, "abc", np.inf):  # refused, not silently replaced by the default
        with pytest.raises(DataError, match=r"'ph_sd', row 2: a standard uncertainty must"):
            quiet_speciate(pd.DataFrame([{**base, "ph_sd": 0.1}, {**base, "ph_sd": bad}]),
                           draws=5)
    # an empty cell takes the default, as a missing column does
    blank, none = (quiet_speciate(pd.DataFrame([row]), draws=40, uncertainty={"ph": 0.05},
                                  seed=3) for row in ({**base, "ph_sd": np.nan}, base))
    assert blank.loc[0, "si_calcite_sd"] == none.loc[0, "si_calcite_sd"]


def test_speciating_again_drops_the_earlier_intervals():
    # a table speciated with draws, then changed and speciated without: the old intervals
    # (which no longer bracket the new values) used to stay
    first = quiet_speciate(pd.DataFrame([spring_row()]), draws=20, seed=1)
    assert set(STATS) <= set(first.columns)
    changed = first.copy()
    changed.loc[0, "ph"] = 6.6
    again = quiet_speciate(changed)
    assert not set(STATS) & set(again.columns)
    assert again.loc[0, "si_calcite"] < first.loc[0, "si_calcite"]
    assert again.attrs["karstsink"]["speciation"].get("uncertainty") is None


def test_uncertainty_specs_and_their_errors():
    sds = uncertainty.parse_uncertainty({"ions": "3%", "ca_mmol_l": 0.01, "alk": "2 %"})
    assert sds["mg_mmol_l"] == uncertainty.Sd(0.03, True)
    assert sds["ca_mmol_l"] == uncertainty.Sd(0.01, False)  # a column overrides its group
    assert sds["co3_mmol_l"] == sds["hco3_mmol_l"] == uncertainty.Sd(0.02, True)
    assert "ph" not in sds  # a mapping names exactly the uncertain inputs
    assert uncertainty.parse_uncertainty(None)["ph"] == uncertainty.Sd(0.05, False)
    with pytest.raises(ConfigError, match="unknown input 'calcium'"):
        uncertainty.parse_uncertainty({"calcium": "3%"})
    with pytest.raises(ConfigError, match="absolute"):
        uncertainty.parse_uncertainty({"ph": "1%"})
    with pytest.raises(ConfigError, match="cannot read"):
        uncertainty.parse_uncertainty({"alk": "two percent"})
    with pytest.raises(ValueError, match="draws"):
        quiet_speciate(pd.DataFrame([spring_row()]), draws=1)
    with pytest.raises(ValueError, match="needs draws"):
        quiet_speciate(pd.DataFrame([spring_row()]), uncertainty={"ph": 0.05})


def test_draws_go_through_the_worker_pool_like_the_samples():
    table = pd.DataFrame([spring_row()] * 3)
    one = quiet_speciate(table, draws=400, seed=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        two = speciate(table, jobs=2, draws=400, seed=9)
    # 1200 draws in chunks of 600 (jobs=1) or 500 (jobs=2): same draws, results equal to
    # PHREEQC's printed precision
    np.testing.assert_allclose(two[STATS].to_numpy(), one[STATS].to_numpy(), rtol=1e-9,
                               atol=1e-12)


def test_command_line_draws(tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame([spring_row()]).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["speciate", str(src), "-o", str(out), "--jobs", "1",
                                    "--draws", "50", "--u", "ph=0.05", "--u", "alk=2%",
                                    "--seed", "4"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert set(STATS) <= set(got.columns) and got[STATS].notna().all().all()
    meta = json.loads((tmp_path / "out.meta.json").read_text(encoding="utf-8"))
    unc = meta["speciation"]["uncertainty"]
    assert unc["seed"] == 4 and unc["standard_uncertainty"]["hco3_mmol_l"] == "2 % (relative)"
    bad = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "b.csv"),
                                    "--u", "ph=0.05"])
    assert bad.exit_code == 2 and "--draws" in bad.output
    bad = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "c.csv"),
                                    "--draws", "10", "--u", "ph"])
    assert bad.exit_code == 2 and "KEY=SD" in bad.output
    # values the draws cannot take are usage errors (exit 2) naming --u, before any work
    for item, said in (("ph=5%", "not a percentage"), ("ph=-1", "'-1' must be a finite "
                                                                "number >= 0")):
        bad = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "d.csv"),
                                        "--draws", "10", "--u", item])
        assert bad.exit_code == 2 and "--u" in bad.output and said in bad.output, bad.output
    # a per-row ph_sd column is not reported as "not used": the draws use it
    pd.DataFrame([{**spring_row(), "ph_sd": 0.1, "Remarks": "x"}]).to_csv(src, index=False)
    for extra, said in (([], "used only with --draws"), (["--draws", "5"], "used by the draws")):
        res = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "e.csv"),
                                        "--jobs", "1", "--overwrite", *extra])
        assert res.exit_code == 0, res.output
        assert f"per-row standard uncertainties: 'ph_sd' ({said})" in res.output
        assert "not used: 'Remarks' (" in res.output


def test_summary_statistics_by_hand():
    # row 0: the 41 draws 0, 1, ..., 40; linear interpolation puts the 2.5th percentile at
    # rank 0.025 x 40 = 1 (value 1.0) and the 97.5th at rank 39 (value 39.0); the sample sd
    # (ddof 1) of 0..40 is sqrt(41 x 42 / 12) = sqrt(143.5).  Row 1: the same draws with
    # NaN (failed) draws mixed in, which are left out: the same three numbers.  Row 2: one
    # valid draw is too few, so all three are NaN.
    draws = np.full((3, 45), np.nan)
    draws[0, :41] = np.arange(41.0)
    draws[1, np.r_[0:20, 22:43]] = np.arange(41.0)[::-1]  # NaN at 20, 21, 43 and 44
    draws[2, 7] = 1.0
    sd, lo, hi = uncertainty.summarize(draws)
    np.testing.assert_allclose(sd[:2], np.sqrt(143.5), rtol=1e-12)
    np.testing.assert_allclose(lo[:2], 1.0, rtol=1e-12)
    np.testing.assert_allclose(hi[:2], 39.0, rtol=1e-12)
    assert np.isnan([sd[2], lo[2], hi[2]]).all()


@pytest.mark.parametrize("order", [("ph=0.1", "defaults"), ("defaults", "ph=0.1")])
def test_u_defaults_never_undoes_a_value_given(tmp_path, order):
    # '--u defaults' fills in the documented defaults (pH 0.05, alkalinity 2 %...) under the
    # values given, wherever it stands: pH stays 0.1 and alkalinity takes its default
    src = tmp_path / "in.csv"
    pd.DataFrame([spring_row()]).to_csv(src, index=False)
    args = [a for item in order for a in ("--u", item)]
    res = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "o.csv"),
                                    "--jobs", "1", "--draws", "5", "--seed", "1", *args])
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "o.meta.json").read_text(encoding="utf-8"))
    unc = meta["speciation"]["uncertainty"]["standard_uncertainty"]
    assert unc["ph"] == "0.1" and unc["hco3_mmol_l"] == "2 % (relative)", unc


@pytest.mark.parametrize("kw", [{"draws": "x"}, {"draws": 2.7}, {"draws": True},
                                {"draws": 5, "uncertainty": "ph=0.1"},
                                {"draws": 5, "uncertainty": [("ph", 0.1)]}])
def test_draws_and_uncertainty_of_the_wrong_type_are_a_config_error(kw):
    # they used to raise int()'s ValueError or an AttributeError, or truncate 2.7 to 2
    with pytest.raises(ConfigError, match=r"draws must be a whole number|must be a mapping"):
        quiet_speciate(pd.DataFrame([spring_row()]), **kw)


def test_every_statistic_leaves_out_the_draws_phreeqc_failed_on():
    # An engine stand-in (orchestration only): it "fails" draws 0-3 of the one sample.  The
    # acid-corrected HCO3 needs no PHREEQC, but its statistics are over the same draws as
    # the others: HCO3 - 2 SO4 with acid_so4_share 1, no evaporite, no nitric acid.
    from karstsink.chemistry._engine_input import INPUT_COLUMNS
    from karstsink.chemistry.engine import RunResult

    columns = tuple(uncertainty.UNCERTAIN_RESULTS[:-1])
    seen = {}

    def run(inputs):
        seen["inputs"] = inputs
        vals = np.tile(np.arange(len(inputs), dtype=float)[:, None], (1, len(columns)))
        vals[:4] = np.nan
        return RunResult(vals, columns, {i: "no convergence" for i in range(4)}, {}, {})

    values = np.full((1, len(INPUT_COLUMNS)), np.nan)
    for name, v in (("temp_c", 15.0), ("ph", 7.4), ("hco3_mmol_l", 4.0), ("so4_mmol_l", 0.5),
                    ("no3_mmol_l", 0.0)):
        values[0, INPUT_COLUMNS.index(name)] = v
    stats, failed, meta = uncertainty.propagate(
        values, np.array([0]), pd.DataFrame(index=[0]), draws=20, seed=3,
        uncertainty={"alk": "5%", "so4_mmol_l": "10%"}, run=run, columns=columns,
        shares={"acid_so4_share": 1.0, "evaporite_so4_share": 0.0, "acid_no3_share": 0.0})
    x = seen["inputs"]
    carbonic = (x[:, INPUT_COLUMNS.index("hco3_mmol_l")]
                - 2 * x[:, INPUT_COLUMNS.index("so4_mmol_l")])[4:]
    assert stats["hco3_carbonic_mmol_l_sd"][0] == pytest.approx(np.std(carbonic, ddof=1),
                                                                rel=1e-12)
    # the solved draws' results are 4, 5, ..., 19: sd of 16 consecutive numbers
    # = sqrt(16 x 17 / 12)
    assert stats["si_calcite_sd"][0] == pytest.approx(np.sqrt(16 * 17 / 12), rel=1e-12)
    assert failed.tolist() == [4] and meta["n_draws_failed"] == 4
