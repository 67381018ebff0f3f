"""karstsink.carbon, the one carbon accounting: worked examples by hand, flags, properties.

Hand calculations (molar masses of karstsink.units: HCO3 61.017, SO4 96.06, NO3 62.004,
C 12.011, CO2 44.009 g/mol; Julian year 3.15576e7 s):

Example 1 (Q = 1 m3/s, HCO3 250 mg/L, A = 100 km2; published: 7.765 t C km-2 yr-1 =
28.45 t CO2 km-2 yr-1):
    HCO3 = 250 / 61.017 = 4.097219 mmol/L;  R = 1 m3/s x 3.15576e7 s / 1e8 m2 = 0.315576 m/yr
    sink = 0.5 x 4.097219 mol/m3 x 12.011 g/mol x 0.315576 m/yr = 7.76501 g C m-2 yr-1
         = 7.765 t C km-2 yr-1;  x 44.009/12.011 = 28.451 t CO2 km-2 yr-1
Example 2 (+ SO4 30, NO3 10 mg/L, all acid; published: 3.311 mmol/L, 6.276 t C km-2 yr-1):
    SO4 = 30 / 96.06 = 0.312305, NO3 = 10 / 62.004 = 0.161280 mmol/L
    carbonic = 4.097219 - 2 x 0.312305 - 0.161280 = 3.311329 mmol/L
    sink = 0.5 x 3.311329 x 12.011 x 0.315576 = 6.27560 t C km-2 yr-1
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import karstsink
from karstsink import carbon
from karstsink.exceptions import DataError, DataQualityWarning
from karstsink.sink import carbon_sink
from karstsink.units import SECONDS_PER_YEAR

M_HCO3, M_SO4, M_NO3, M_C = 61.017, 96.06, 62.004, 12.011
R_M_YR = SECONDS_PER_YEAR / 1e8  # 1 m3/s over 100 km2 = 0.315576 m/yr
# fluxes of a constant 1 m3/s [kg/yr] = mg/L (= g/m3) x 3.15576e7 m3/yr / 1000
HCO3_KG_YR = 250.0 * SECONDS_PER_YEAR / 1000.0
SO4_KG_YR = 30.0 * SECONDS_PER_YEAR / 1000.0
NO3_KG_YR = 10.0 * SECONDS_PER_YEAR / 1000.0
HCO3, SO4, NO3 = 250 / M_HCO3, 30 / M_SO4, 10 / M_NO3  # mmol/L


def t_c_km2_yr(mmol_c_per_l):
    """mmol/L (= mol/m3) of C taken up x 12.011 g/mol x R [m/yr] = g/m2/yr = t/km2/yr."""
    return mmol_c_per_l * M_C * R_M_YR


# --------------------------------------------------------------------------------------
# published worked examples, through carbon_sink and through the carbon functions
# --------------------------------------------------------------------------------------


def test_example_1_through_carbon_sink():
    out = carbon_sink(HCO3_KG_YR, 100.0).iloc[0]
    assert round(out["sink_t_c_km2_yr"], 3) == 7.765       # published
    assert round(out["sink_t_co2_km2_yr"], 2) == 28.45     # published
    assert out["sink_t_c_km2_yr"] == pytest.approx(7.76501, abs=5e-6)  # by hand, above
    assert out["qa_flags"] == ""


def test_example_2_through_carbon_sink():
    out = carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=SO4_KG_YR,
                      no3_flux_kg_yr=NO3_KG_YR).iloc[0]
    assert round(out["sink_t_c_km2_yr"], 3) == 6.276       # published
    assert out["sink_t_c_km2_yr"] == pytest.approx(6.27560, abs=5e-6)
    # carbonic flux / (1 m3/s x 1 yr) = 3.311329 mmol/L
    assert out["hco3_carbonic_flux_mol_yr"] / SECONDS_PER_YEAR == pytest.approx(3.311329,
                                                                                abs=5e-7)
    # acid SO4 = 0.312305 mmol/L x 3.15576e7 m3/yr, acid NO3 = 0.161280 x 3.15576e7
    assert out["so4_acid_flux_mol_yr"] == pytest.approx(0.312305 * SECONDS_PER_YEAR, rel=2e-6)
    assert out["no3_acid_flux_mol_yr"] == pytest.approx(0.161280 * SECONDS_PER_YEAR, rel=4e-6)


def test_examples_through_the_carbon_functions():
    assert float(carbon.acid_hco3(SO4, NO3)) == pytest.approx(2 * 0.312305 + 0.161280,
                                                             abs=1e-6)
    x1 = carbon.carbonic_hco3(HCO3)  # no SO4/NO3: no correction
    assert float(x1) == pytest.approx(4.097219, abs=5e-7)
    carb1, sil1 = carbon.carbonate_weathering_c(x1)
    assert round(t_c_km2_yr(float(carb1)), 3) == 7.765 and float(sil1) == 0.0
    x2 = carbon.carbonic_hco3(HCO3, SO4, NO3)
    assert round(float(x2), 3) == 3.311
    carb2, _ = carbon.carbonate_weathering_c(x2)
    assert round(t_c_km2_yr(float(carb2)), 3) == 6.276
    # 1 t C = 44.009/12.011 = 3.664 t CO2
    assert round(t_c_km2_yr(float(carb1)) * carbon.C_TO_CO2, 2) == 28.45


# --------------------------------------------------------------------------------------
# evaporite share, silicate split, biological carbon pump
# --------------------------------------------------------------------------------------


def test_evaporite_share_takes_sulfate_out_of_the_correction():
    # all SO4 from gypsum: carbonic = 4.097219 - 0.161280 = 3.935939 mmol/L
    #   -> 0.5 x 3.935939 x 12.011 x 0.315576 = 7.45936 t C km-2 yr-1
    # half from gypsum: 4.097219 - 0.312305 - 0.161280 = 3.623634 -> 6.86748
    assert float(carbon.carbonic_hco3(HCO3, SO4, NO3, evaporite_so4_share=1.0)) == \
        pytest.approx(3.935939, abs=5e-7)
    kw = {"so4_flux_kg_yr": SO4_KG_YR, "no3_flux_kg_yr": NO3_KG_YR}
    full = carbon_sink(HCO3_KG_YR, 100.0, evaporite_so4_share=1.0, **kw).iloc[0]
    half = carbon_sink(HCO3_KG_YR, 100.0, evaporite_so4_share=0.5, **kw).iloc[0]
    half_kg = carbon_sink(HCO3_KG_YR, 100.0, evaporite_so4_kg_yr=0.5 * SO4_KG_YR, **kw).iloc[0]
    assert full["sink_t_c_km2_yr"] == pytest.approx(7.45936, abs=5e-6)
    assert half["sink_t_c_km2_yr"] == pytest.approx(6.86748, abs=5e-6)
    assert half_kg["sink_t_c_km2_yr"] == pytest.approx(half["sink_t_c_km2_yr"], rel=1e-12)
    # acid share 0.5 of the non-evaporite SO4 is the same cut as an evaporite share 0.5
    acid_half = carbon_sink(HCO3_KG_YR, 100.0, acid_so4_share=0.5, **kw).iloc[0]
    assert acid_half["sink_t_c_km2_yr"] == pytest.approx(half["sink_t_c_km2_yr"], rel=1e-12)
    assert "evaporite_so4_share = 0.5" in half["assumptions"]
    with pytest.raises(DataError, match="not both"):
        carbon_sink(HCO3_KG_YR, 100.0, evaporite_so4_share=0.5,
                    evaporite_so4_kg_yr=0.5 * SO4_KG_YR, **kw)


def test_silicate_split():
    # f = 0.2 of example 1: carbonate 0.5 x 0.8 = 0.4, silicate 1.0 x 0.2 of 4.097219 mmol/L
    #   -> 0.4 x 4.097219 x 12.011 x 0.315576 = 6.21201; 0.2 x ... = 3.10601; total 9.31802
    carb, sil = carbon.carbonate_weathering_c(HCO3, silicate_fraction=0.2)
    assert t_c_km2_yr(float(carb)) == pytest.approx(6.21201, abs=5e-6)
    assert t_c_km2_yr(float(sil)) == pytest.approx(3.10601, abs=5e-6)
    out = carbon_sink(HCO3_KG_YR, 100.0, silicate_hco3_fraction=0.2).iloc[0]
    assert out["carbonate_sink_t_c_km2_yr"] == pytest.approx(6.21201, abs=5e-6)
    assert out["silicate_sink_t_c_km2_yr"] == pytest.approx(3.10601, abs=5e-6)
    assert out["sink_t_c_km2_yr"] == pytest.approx(9.31802, abs=5e-6)
    with pytest.raises(DataError, match="silicate_hco3_fraction"):
        carbon_sink(HCO3_KG_YR, 100.0, silicate_hco3_fraction=1.2)


def test_bcp_default_is_zero_and_an_explicit_share_counts():
    # TOC 2 mg C/L at 1 m3/s: 2 g/m3 x 3.15576e7 m3/yr = 63.1152 t C/yr
    toc_kg_c_yr = 2.0 * SECONDS_PER_YEAR / 1000.0
    assert carbon.DEFAULT_BCP_SHARE == 0.0
    default = carbon_sink(HCO3_KG_YR, 100.0, bcp_flux_kg_c_yr=toc_kg_c_yr).iloc[0]
    assert default["bcp_sink_t_c_yr"] == 0.0
    assert default["sink_t_c_km2_yr"] == pytest.approx(7.76501, abs=5e-6)
    assert "bcp_share = 0 (the default value)" in default["assumptions"]
    assert "Lijiang River" in default["assumptions"]
    # Li River mean AOC/TOC 0.73: 0.73 x 63.1152 = 46.0741 t C/yr = 0.460741 t C km-2 yr-1
    li = carbon_sink(HCO3_KG_YR, 100.0, bcp_flux_kg_c_yr=toc_kg_c_yr, bcp_share=0.73).iloc[0]
    assert li["bcp_sink_t_c_yr"] == pytest.approx(46.0741, abs=5e-4)
    assert li["bcp_sink_t_c_km2_yr"] == pytest.approx(0.460741, abs=5e-6)
    assert li["sink_t_c_km2_yr"] == pytest.approx(7.76501 + 0.460741, abs=1e-5)
    assert "bcp_share = 0.73 (given; default 0)" in li["assumptions"]
    # without a TOC flux the term is not computed: NaN (never a 0 for missing), the total
    # the carbonate sink alone (7.76501, as with bcp_share 0)
    none = carbon_sink(HCO3_KG_YR, 100.0).iloc[0]
    assert np.isnan(none["bcp_sink_t_c_yr"]) and np.isnan(none["bcp_sink_t_c_km2_yr"])
    assert none["sink_t_c_km2_yr"] == pytest.approx(7.76501, abs=5e-6)
    assert float(carbon.bcp_c(2.0, bcp_share=0.73)) == pytest.approx(1.46)
    assert float(carbon.bcp_c(2.0)) == 0.0


def test_assumptions_state_defaults_and_sources():
    text = " ".join(carbon.assumptions(acid_so4_share=1.0, evaporite_so4_share=0.0,
                                       acid_no3_share=1.0, bcp_share=0.0, toc_given=True))
    for needle in ("acid_so4_share = 1 (the default value)", "doi:10.1016/j.epsl.2008.02.039",
                   "acid_no3_share = 1 (the default value)", "doi:10.5194/esurf-5-605-2017",
                   "doi:10.1038/s41467-019-13772-4", "1 t C = 3.664 t CO2",
                   "negative_carbonic_hco3", "ph_below_carbonate_buffer"):
        assert needle in text, needle
    none = " ".join(carbon.assumptions(so4_given=False, no3_given=False, bcp_share=None))
    assert "no sulfuric-acid correction" in none and "no nitric-acid correction" in none
    assert "biological" not in none


def test_nitric_acid_correction_counts_one_hco3_per_no3_and_says_ammonium_gives_two():
    # CaCO3 + HNO3 -> Ca2+ + HCO3- + NO3-: one HCO3- per acid NO3-, so 0.5 mmol/L NO3
    # takes 0.5 mmol/L off 4 mmol/L HCO3 (by hand: 4 - 1 x 0.5 = 3.5).  A nitrified
    # ammonium salt (NH4+ + 2 O2 -> NO3- + 2 H+ + H2O) would take 2 x 0.5; the correction
    # does not, and every output's assumptions must say so.
    assert float(carbon.carbonic_hco3(4.0, None, 0.5)) == pytest.approx(3.5, abs=1e-12)
    text = " ".join(carbon.assumptions(bcp_share=None))
    assert "one HCO3- per NO3" in text
    assert "ammonium salts give two HCO3- per NO3" in text
    assert "overstated by up to 0.5 mol C per mol NO3" in text
    assert "ammonium" not in " ".join(carbon.assumptions(bcp_share=None, no3_given=False))


def test_shares_outside_0_1_are_refused_with_their_name():
    for name in ("acid_so4_share", "evaporite_so4_share", "acid_no3_share"):
        with pytest.raises(DataError, match=name):
            carbon.carbonic_hco3(4.0, 0.5, 0.1, **{name: 1.5})
    with pytest.raises(DataError, match="bcp_share"):
        carbon.bcp_c(1.0, bcp_share=-0.1)
    with pytest.raises(TypeError, match="acid_share"):
        carbon.carbonic_hco3(4.0, 0.5, 0.1, acid_share=0.5)


def test_nan_in_nan_out_and_none_means_not_measured():
    out = carbon.carbonic_hco3([4.0, np.nan, 4.0], [0.5, 0.5, np.nan], None)
    # 4 - 2 x 0.5 = 3; NaN HCO3 -> NaN; NaN SO4 -> NaN (never taken as 0)
    assert out[0] == pytest.approx(3.0) and np.isnan(out[1]) and np.isnan(out[2])
    assert list(carbon.carbon_flags([np.nan, 1.0], [np.nan, 7.0])) == ["", ""]


# --------------------------------------------------------------------------------------
# waters the correction does not fit: flagged, never a silent number
# --------------------------------------------------------------------------------------


def test_gypsum_water_is_flagged_and_gets_no_sink():
    # Ca 15, SO4 15, HCO3 2.5 mmol/L (gypsum-dominated), all SO4 taken as acid (the default):
    # carbonic = 2.5 - 2 x 15 = -27.5 mmol/L
    assert float(carbon.carbonic_hco3(2.5, 15.0)) == pytest.approx(-27.5)
    assert list(carbon.carbon_flags(carbon.carbonic_hco3([2.5, 4.0], [15.0, 0.5]))) == \
        ["negative_carbonic_hco3", ""]
    # the same water at Q = 1 m3/s: HCO3 2.5 mol/m3 and SO4 15 mol/m3 x 3.15576e7 m3/yr
    hco3_mol = 2.5 * SECONDS_PER_YEAR
    so4_kg = 15.0 * M_SO4 * SECONDS_PER_YEAR / 1000.0
    with pytest.warns(DataQualityWarning, match="negative_carbonic_hco3"):
        out = carbon_sink(hco3_flux_mol_yr=[hco3_mol, hco3_mol], area_km2=100.0,
                          so4_flux_kg_yr=[so4_kg, 0.0])
    bad, good = out.iloc[0], out.iloc[1]
    assert bad["qa_flags"] == "negative_carbonic_hco3" and good["qa_flags"] == ""
    assert bad["hco3_carbonic_flux_mol_yr"] / SECONDS_PER_YEAR == pytest.approx(-27.5)
    for col in ("sink_t_c_yr", "sink_t_c_km2_yr", "sink_t_co2_km2_yr", "carbonate_sink_t_c_yr",
                "carbonate_sink_t_c_km2_yr", "sink_lo95_t_c_km2_yr", "sink_hi95_t_co2_km2_yr"):
        assert np.isnan(bad[col]), col
    # the other row: 0.5 x 2.5 x 12.011 x 0.315576 = 4.73798 t C km-2 yr-1
    assert good["sink_t_c_km2_yr"] == pytest.approx(4.73798, abs=5e-6)
    # the gypsum water with its SO4 declared evaporite: no correction, a normal sink
    ok = carbon_sink(hco3_flux_mol_yr=hco3_mol, area_km2=100.0, so4_flux_kg_yr=so4_kg,
                     evaporite_so4_share=1.0).iloc[0]
    assert ok["qa_flags"] == "" and ok["sink_t_c_km2_yr"] == pytest.approx(4.73798, abs=5e-6)


def test_ph_below_the_carbonate_buffer_is_flagged():
    assert carbon.CARBONATE_BUFFER_PH_MIN == 6.4
    flags = carbon.carbon_flags([1.0, 1.0, 1.0, -1.0], [5.5, 6.39, 6.4, 5.5])
    assert list(flags) == ["ph_below_carbonate_buffer", "ph_below_carbonate_buffer", "",
                           "negative_carbonic_hco3;ph_below_carbonate_buffer"]


def _canonical(rows):
    base = {"sample_id": "", "temp_c": 15.0, "ph": 7.4, "ca_mmol_l": 2.0, "mg_mmol_l": 0.25,
            "na_mmol_l": 0.13, "k_mmol_l": 0.026, "cl_mmol_l": 0.14, "so4_mmol_l": 0.25,
            "no3_mmol_l": 0.16, "hco3_mmol_l": 4.1, "qa_flags": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


def test_speciate_flags_a_gypsum_water_and_a_ph_5_5_mine_water():
    table = _canonical([
        {"sample_id": "spring"},  # carbonic 4.1 - 0.5 - 0.16 = 3.44 mmol/L, pH 7.4: no flag
        # gypsum water: carbonic 2.5 - 2 x 15 - 0 = -27.5 mmol/L
        {"sample_id": "gypsum", "ca_mmol_l": 15.0, "mg_mmol_l": 0.0, "so4_mmol_l": 15.0,
         "hco3_mmol_l": 2.5, "no3_mmol_l": 0.0, "ph": 7.2},
        # mine water, pH 5.5: carbonic 0.5 - 2 x 4.5 - 0.1 = -8.6 mmol/L
        {"sample_id": "mine", "ph": 5.5, "temp_c": 18.0, "ca_mmol_l": 4.0, "mg_mmol_l": 1.0,
         "na_mmol_l": 0.2, "k_mmol_l": 0.05, "cl_mmol_l": 0.2, "so4_mmol_l": 4.5,
         "no3_mmol_l": 0.1, "hco3_mmol_l": 0.5},
        # acidic soft water, pH 6.0, little SO4: carbonic 1.0 - 0.1 - 0 = 0.9, low pH only
        {"sample_id": "soft", "ph": 6.0, "ca_mmol_l": 0.55, "mg_mmol_l": 0.0,
         "so4_mmol_l": 0.05, "no3_mmol_l": 0.0, "hco3_mmol_l": 1.0, "na_mmol_l": 0.1,
         "k_mmol_l": 0.0, "cl_mmol_l": 0.1},
    ])
    with pytest.warns(DataQualityWarning, match="negative_carbonic_hco3"):
        out = karstsink.speciate(table, jobs=1)
    out = out.set_index("sample_id")
    assert out.loc["spring", "qa_flags"] == ""
    assert out.loc["gypsum", "qa_flags"] == "negative_carbonic_hco3"
    assert out.loc["mine", "qa_flags"] == "negative_carbonic_hco3;ph_below_carbonate_buffer"
    assert out.loc["soft", "qa_flags"] == "ph_below_carbonate_buffer"
    assert_allclose(out["hco3_carbonic_mmol_l"], [3.44, -27.5, -8.6, 0.9], atol=1e-12)
    # PHREEQC did compute them (flags describe the carbon accounting, not the speciation)
    assert out["si_calcite"].notna().all()
    meta = out.attrs["karstsink"]["speciation"]
    assert meta["flag_counts"]["negative_carbonic_hco3"] == 2
    assert meta["flag_counts"]["ph_below_carbonate_buffer"] == 2
    assert "6.4" in meta["flag_notes"]["ph_below_carbonate_buffer"]
    assert meta["thresholds"]["ph_below_carbonate_buffer"] == 6.4


# --------------------------------------------------------------------------------------
# properties
# --------------------------------------------------------------------------------------

conc = st.floats(0.0, 50.0, allow_nan=False)
share = st.floats(0.0, 1.0)


@settings(max_examples=80, deadline=None)
@given(hco3=conc, s1=conc, s2=conc, n1=conc, n2=conc, a=share, e=share, b=share)
def test_carbonic_hco3_is_linear_and_decreasing_in_so4_and_no3(hco3, s1, s2, n1, n2, a, e, b):
    shares = {"acid_so4_share": a, "evaporite_so4_share": e, "acid_no3_share": b}

    def f(s, n):
        return float(carbon.carbonic_hco3(hco3, s, n, **shares))

    # slopes -2 a (1 - e) per SO4 and -b per NO3, whatever the level
    assert f(s1 + s2, n1) - f(s1, n1) == pytest.approx(-2 * a * (1 - e) * s2, abs=1e-9)
    assert f(s1, n1 + n2) - f(s1, n1) == pytest.approx(-b * n2, abs=1e-9)
    lo, hi = sorted((s1, s2))
    assert f(hi, n1) <= f(lo, n1) + 1e-12
    lo, hi = sorted((n1, n2))
    assert f(s1, hi) <= f(s1, lo) + 1e-12
    assert f(s1, n1) <= hco3 + 1e-12


@settings(max_examples=60, deadline=None)
@given(hco3=st.floats(-10.0, 50.0, allow_nan=False), so4=conc, no3=conc, e=share)
def test_zero_shares_leave_hco3_unchanged(hco3, so4, no3, e):
    out = carbon.carbonic_hco3(hco3, so4, no3, acid_so4_share=0.0, evaporite_so4_share=e,
                               acid_no3_share=0.0)
    assert float(out) == hco3
    assert float(carbon.carbonic_hco3(hco3, so4, no3, acid_no3_share=0.0,
                                      evaporite_so4_share=1.0)) == hco3


def test_cli_speciate_takes_the_three_shares_and_writes_them_to_the_meta(tmp_path):
    import json

    from click.testing import CliRunner

    from karstsink.cli import main

    # the gypsum water above: with --evaporite-so4-share 1 and --acid-no3-share 0
    # carbonic = 2.5 - 2 x 1 x (1 - 1) x 15 - 0 x 0.1 = 2.5 mmol/L, no flag;
    # with the defaults 2.5 - 30 - 0.1 = -27.6, flagged
    src = tmp_path / "gypsum.csv"
    _canonical([{"sample_id": "gypsum", "ca_mmol_l": 15.0, "mg_mmol_l": 0.0,
                 "so4_mmol_l": 15.0, "hco3_mmol_l": 2.5, "no3_mmol_l": 0.1,
                 "ph": 7.2}]).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    res = CliRunner().invoke(main, ["speciate", str(src), "-o", str(out), "--jobs", "1",
                                    "--evaporite-so4-share", "1", "--acid-no3-share", "0"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out, keep_default_na=False, dtype={"qa_flags": str})
    assert table.loc[0, "hco3_carbonic_mmol_l"] == pytest.approx(2.5, abs=1e-12)
    assert table.loc[0, "qa_flags"] == ""
    meta = json.loads((tmp_path / "out.meta.json").read_text(encoding="utf-8"))
    assumed = meta["speciation"]["assumptions"]
    assert (assumed["acid_so4_share"], assumed["evaporite_so4_share"],
            assumed["acid_no3_share"]) == (1.0, 1.0, 0.0)
    assert any("evaporite_so4_share = 1 (given; default 0)" in a
               for a in assumed["carbon_accounting"])
    res = CliRunner().invoke(main, ["speciate", str(src), "-o", str(out), "--jobs", "1",
                                    "--overwrite"])
    assert res.exit_code == 0, res.output
    assert "negative_carbonic_hco3 1" in res.output  # the summary line counts the flag
    table = pd.read_csv(out, keep_default_na=False, dtype={"qa_flags": str})
    assert table.loc[0, "hco3_carbonic_mmol_l"] == pytest.approx(-27.6, abs=1e-12)
    assert table.loc[0, "qa_flags"] == "negative_carbonic_hco3"
