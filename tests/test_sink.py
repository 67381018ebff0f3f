"""Carbon sink from solute fluxes: science.md worked examples, corrections, intervals."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataError, DataQualityWarning
from karstsink.sink import carbon_sink
from karstsink.units import SECONDS_PER_YEAR

# science.md 1.1: Q = 1 m3/s constant, HCO3 = 250 mg/L (= g/m3), A = 100 km2
#   flux = 250 g/m3 x 3.15576e7 m3/yr = 7.8894e9 g/yr = 7.8894e6 kg/yr
HCO3_KG_YR = 250.0 * SECONDS_PER_YEAR / 1000.0
SO4_KG_YR = 30.0 * SECONDS_PER_YEAR / 1000.0
NO3_KG_YR = 10.0 * SECONDS_PER_YEAR / 1000.0


def test_worked_example_1_1():
    out = carbon_sink(HCO3_KG_YR, 100.0).iloc[0]
    # printed: 7.765 t C km-2 a-1 = 28.45 t CO2 km-2 a-1 (science.md 1.1, section 8 test 1)
    assert round(out["sink_t_c_km2_yr"], 3) == 7.765
    assert round(out["sink_t_co2_km2_yr"], 2) == 28.45
    assert out["hco3_flux_mol_yr"] == pytest.approx(HCO3_KG_YR * 1e3 / 61.017)
    assert out["sink_t_c_yr"] == pytest.approx(776.5, abs=0.05)  # printed 776.5 t C/a
    assert "0.5 of carbonate-weathering HCO3" in out["assumptions"]
    assert out["qa_flags"] == ""


def test_worked_example_1_2_acid_correction():
    out = carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=SO4_KG_YR,
                      no3_flux_kg_yr=NO3_KG_YR).iloc[0]
    # printed: HCO3_carbonic = 3.311 mmol/L -> 6.276 t C km-2 a-1 (-19 %)
    carbonic_mmol_l = out["hco3_carbonic_flux_mol_yr"] / SECONDS_PER_YEAR  # mol/s per m3/s
    assert round(carbonic_mmol_l, 3) == 3.311
    assert round(out["sink_t_c_km2_yr"], 3) == 6.276
    assert round(out["acid_correction_pct"]) == 19
    assert "sulfuric-acid correction" in out["assumptions"]


def test_evaporite_and_shares_reduce_the_correction():
    full = carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=SO4_KG_YR).iloc[0]
    none = carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=SO4_KG_YR,
                       evaporite_so4_kg_yr=SO4_KG_YR).iloc[0]
    half = carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=SO4_KG_YR, acid_so4_share=0.5).iloc[0]
    base = carbon_sink(HCO3_KG_YR, 100.0).iloc[0]
    assert none["sink_t_c_km2_yr"] == pytest.approx(base["sink_t_c_km2_yr"])
    assert half["sink_t_c_km2_yr"] == pytest.approx(
        (base["sink_t_c_km2_yr"] + full["sink_t_c_km2_yr"]) / 2)


def test_silicate_and_bcp_reported_apart():
    out = carbon_sink(HCO3_KG_YR, 100.0, silicate_hco3_fraction=0.2,
                      bcp_flux_kg_c_yr=50_000.0, bcp_share=0.5).iloc[0]
    mol = HCO3_KG_YR * 1e3 / 61.017
    # carbonate: 0.5 x 0.8 x mol x 12.011 g; silicate: 1.0 x 0.2 x mol x 12.011 g
    assert out["carbonate_sink_t_c_yr"] == pytest.approx(0.4 * mol * 12.011 / 1e6)
    assert out["silicate_sink_t_c_yr"] == pytest.approx(0.2 * mol * 12.011 / 1e6)
    assert out["bcp_sink_t_c_yr"] == pytest.approx(25.0)  # 0.5 x 50 000 kg C = 25 t C
    assert out["sink_t_c_yr"] == pytest.approx(
        out["carbonate_sink_t_c_yr"] + out["silicate_sink_t_c_yr"] + 25.0)
    base = carbon_sink(HCO3_KG_YR, 100.0).iloc[0]
    assert np.isnan(base["silicate_sink_t_c_yr"])
    assert "no silicate partition" in base["assumptions"]


def test_interval_propagated_linearly():
    out = carbon_sink([HCO3_KG_YR, 2 * HCO3_KG_YR], 100.0,
                      hco3_lo95_kg_yr=[0.8 * HCO3_KG_YR, HCO3_KG_YR],
                      hco3_hi95_kg_yr=[1.25 * HCO3_KG_YR, 3 * HCO3_KG_YR], label=[2001, 2002])
    assert list(out.index) == [2001, 2002]
    np.testing.assert_allclose(out["sink_lo95_t_c_km2_yr"], [0.8 * 7.76509, 7.76509], rtol=1e-4)
    np.testing.assert_allclose(out["sink_hi95_t_co2_km2_yr"] / out["sink_t_co2_km2_yr"],
                               [1.25, 1.5], rtol=1e-12)


def test_a_lower_bound_below_the_acid_correction_gives_a_zero_sink_bound_not_a_negative():
    # Q = 1 m3/s, 100 km2; HCO3 250 mg/L (4.09719 mmol/L) with SO4 30 mg/L all acid:
    # acid HCO3 = 2 x 30/96.06 = 0.62461 mmol/L.  The HCO3 lower bound 0.1 x 250 mg/L =
    # 0.40972 mmol/L is below it, so the carbonic HCO3 bound is 0: no sink, not
    # 0.5 x (0.40972 - 0.62461) x 12.011 x 0.315576 = -0.407 t C km-2 yr-1.
    # The upper bound, 2 x 250 mg/L: 0.5 x (8.19438 - 0.62461) x 12.011 x 0.315576 =
    # 14.3463 t C km-2 yr-1 (1 mmol/L x 31.5576e6 m3/yr = 31.5576e6 mol/yr; x 12.011 g/mol,
    # / 1e6 g/t, / 100 km2: 3.79038 t C km-2 yr-1 per mmol/L of HCO3 carbon).
    out = carbon_sink(HCO3_KG_YR, 100.0, hco3_lo95_kg_yr=0.1 * HCO3_KG_YR,
                      hco3_hi95_kg_yr=2 * HCO3_KG_YR, so4_flux_kg_yr=SO4_KG_YR).iloc[0]
    assert out["sink_lo95_t_c_km2_yr"] == 0.0
    assert out["sink_lo95_t_co2_km2_yr"] == 0.0
    assert out["sink_hi95_t_c_km2_yr"] == pytest.approx(14.3463, rel=2e-5)
    assert out["sink_t_c_km2_yr"] == pytest.approx(6.58126, rel=2e-5)  # 0.5 x 3.47261 x 3.79038
    assert out["qa_flags"] == ""


def test_mol_input_and_errors():
    mol = HCO3_KG_YR * 1e3 / 61.017
    a = carbon_sink(hco3_flux_mol_yr=mol, area_km2=100.0)
    assert a["sink_t_c_km2_yr"].iloc[0] == pytest.approx(7.76509, rel=1e-5)
    with pytest.raises(DataError, match="area_km2"):
        carbon_sink(HCO3_KG_YR, 0.0)
    with pytest.raises(DataError, match="either"):
        carbon_sink(HCO3_KG_YR, 100.0, hco3_flux_mol_yr=1.0)
    with pytest.raises(DataError, match="acid_so4_share"):
        carbon_sink(HCO3_KG_YR, 100.0, acid_so4_share=1.5)
    with pytest.warns(DataQualityWarning, match="exceeds"):
        bad = carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=10 * HCO3_KG_YR).iloc[0]
    # a negative carbonic HCO3 gives NaN and a flag, never a negative sink
    assert bad["hco3_carbonic_flux_mol_yr"] < 0
    assert np.isnan(bad["sink_t_c_km2_yr"]) and bad["qa_flags"] == "negative_carbonic_hco3"
    with pytest.raises(DataError, match="evaporite_so4_kg_yr"):
        carbon_sink(HCO3_KG_YR, 100.0, so4_flux_kg_yr=SO4_KG_YR, evaporite_so4_kg_yr=-1.0)


@settings(max_examples=50, deadline=None)
@given(flux=st.floats(1.0, 1e12), k=st.floats(0.001, 1000.0), area=st.floats(0.01, 1e6))
def test_sink_is_linear_in_flux_and_inverse_in_area(flux, k, area):
    a = carbon_sink(flux, area).iloc[0]
    b = carbon_sink(k * flux, area).iloc[0]
    c = carbon_sink(flux, k * area).iloc[0]
    assert b["sink_t_c_km2_yr"] == pytest.approx(k * a["sink_t_c_km2_yr"], rel=1e-12)
    assert c["sink_t_c_km2_yr"] == pytest.approx(a["sink_t_c_km2_yr"] / k, rel=1e-12)
    assert a["sink_t_co2_km2_yr"] == pytest.approx(a["sink_t_c_km2_yr"] * 44.009 / 12.011,
                                                   rel=1e-12)


def test_a_runoff_depth_no_climate_gives_is_flagged():
    # 1 m3/s over 1 km2 is 1 x 3.15576e7 s / 1e6 m2 = 31.56 m = 31,558 mm/yr, above the
    # 12,000 mm/yr of the rule (the wettest place's mean precipitation is 11,872 mm/yr):
    # flagged and warned, the sink computed as given; 0.3 m3/s (9,467 mm/yr) is not flagged
    with pytest.warns(DataQualityWarning, match=r"area of 1 km² is a runoff depth above "
                      r"12,000 mm/yr"):
        out = carbon_sink([1e6, 1e6], 1.0, discharge_m3s=[1.0, 0.3])
    assert out["qa_flags"].tolist() == ["implausible_runoff", ""]
    assert np.isfinite(out["sink_t_c_km2_yr"]).all()
    plain = carbon_sink([1e6, 1e6], 1.0)
    np.testing.assert_array_equal(out["sink_t_c_km2_yr"], plain["sink_t_c_km2_yr"])


def test_a_mean_hco3_above_carbonate_solubility_is_flagged():
    # Q = 1 m3/s is 3.15576e7 m3/yr; a flux of 40 mol/m3 x 3.15576e7 m3/yr = 1.262e9 mol/yr is
    # a flow-weighted mean of 40 mmol/L, above the 37 mmol/L of the rule (dolomite under 1 atm
    # CO2 at 0 degC: alkalinity 36.5 meq/kgw; calcite 27.1; PHREEQC 3.8.6, phreeqc.dat,
    # EQUILIBRIUM_PHASES Dolomite 0, CO2(g) 0); 30 mmol/L (9.467e8 mol/yr) is not. 1 m3/s over
    # 1000 km2 is 31.6 mm/yr of runoff, so only the concentration rule can fire.
    flux = [40.0 * 3.15576e7, 30.0 * 3.15576e7]
    with pytest.warns(DataQualityWarning, match=r"mean concentration above 37 mmol/L"):
        out = carbon_sink(hco3_flux_mol_yr=flux, area_km2=1000.0, discharge_m3s=1.0)
    assert out["qa_flags"].tolist() == ["implausible_hco3", ""]
    plain = carbon_sink(hco3_flux_mol_yr=flux, area_km2=1000.0)
    np.testing.assert_array_equal(out["sink_t_c_km2_yr"], plain["sink_t_c_km2_yr"])


@pytest.mark.parametrize("kw", [{"so4_flux_kg_yr": -1e5}, {"no3_flux_kg_yr": [-1.0]},
                                {"bcp_flux_kg_c_yr": -1e6, "bcp_share": 0.5}])
def test_a_negative_companion_flux_is_refused_not_used(kw):
    # by hand: a negative SO4 flux of -1e5 kg/yr raised 7.765 to 7.890 t C km-2 yr-1, a
    # negative TOC flux cut it to 2.765; a flux is 0 or more
    flux = 250.0 * 3.15576e7 / 1000.0  # Q = 1 m3/s of 250 mg/L HCO3- [kg/yr]
    name = next(iter(kw))
    with pytest.raises(DataError, match=f"{name} must not be negative"):
        carbon_sink(flux, 100.0, **kw)


@pytest.mark.parametrize("kw", [{"hco3_flux_kg_yr": [-999.0, 1e6]},
                                {"hco3_flux_mol_yr": -5.0}])
def test_a_negative_hco3_flux_is_refused(kw):
    # a -999 no-data code used to give hco3_flux_mol_yr -16372 and the flag
    # negative_carbonic_hco3, which blames the acid shares
    name = next(iter(kw))
    with pytest.raises(DataError, match=f"{name} must not be negative"):
        carbon_sink(area_km2=10.0, **kw)


@pytest.mark.parametrize(("args", "kw", "words"), [
    ((1.0, "100"), {}, "area_km2 must be a finite number above 0"),
    ((1.0, [100.0]), {}, "area_km2 must be a finite number above 0"),
    ((1.0, True), {}, "area_km2 must be a finite number above 0"),
    (([1.0] * 3, 100.0), {"so4_flux_kg_yr": [1.0, 2.0]}, r"one per row of the HCO3 flux \(3\)"),
    (([1.0] * 2, 100.0), {"label": [1]}, r"one label per row of the HCO3 flux \(2\)"),
])
def test_wrong_shapes_and_types_are_one_clear_error(args, kw, words):
    with pytest.raises(DataError, match=words):
        carbon_sink(*args, **kw)


def test_the_acid_flux_intervals_widen_the_sink_interval():
    # Q = 1 m3/s over 100 km2: HCO3 250 mg/L (7,889,400 kg/yr, interval +-10 %) and SO4
    # 30 mg/L (946,728 kg/yr, interval +-20 %), all acid, no NO3. By hand, in mol/yr:
    # HCO3 7,889,400e3 / 61.017 = 129,298,064; SO4 946,728e3 / 96.06 = 9,855,590.
    # Lower sink bound: 0.9 HCO3 - 2 x 1.2 SO4; upper: 1.1 HCO3 - 2 x 0.8 SO4; a sink in
    # t C km-2 yr-1 is 0.5 x mol x 12.011 / 1e6 / 100.
    year = 3.15576e7  # s
    hco3, so4 = 250.0 * year / 1000.0, 30.0 * year / 1000.0  # kg/yr
    out = carbon_sink(hco3, 100.0, hco3_lo95_kg_yr=0.9 * hco3, hco3_hi95_kg_yr=1.1 * hco3,
                      so4_flux_kg_yr=so4, acid_bounds_kg_yr={"so4": (0.8 * so4, 1.2 * so4)})
    h, s = hco3 * 1e3 / 61.017, so4 * 1e3 / 96.06
    to_sink = 0.5 * 12.011 / 1e6 / 100.0
    assert out["sink_t_c_km2_yr"].iloc[0] == pytest.approx((h - 2 * s) * to_sink, rel=1e-9)
    assert out["sink_lo95_t_c_km2_yr"].iloc[0] == pytest.approx(
        (0.9 * h - 2 * 1.2 * s) * to_sink, rel=1e-9)
    assert out["sink_hi95_t_c_km2_yr"].iloc[0] == pytest.approx(
        (1.1 * h - 2 * 0.8 * s) * to_sink, rel=1e-9)
    assert "SO4 flux intervals of the acid correction" in out["assumptions"].iloc[0]
    # without the SO4 interval, the HCO3 interval alone (narrower)
    plain = carbon_sink(hco3, 100.0, hco3_lo95_kg_yr=0.9 * hco3, hco3_hi95_kg_yr=1.1 * hco3,
                        so4_flux_kg_yr=so4)
    assert plain["sink_lo95_t_c_km2_yr"].iloc[0] == pytest.approx(
        (0.9 * h - 2 * s) * to_sink, rel=1e-9)
    with pytest.raises(DataError, match="takes 'so4' and 'no3'"):
        carbon_sink(hco3, 100.0, so4_flux_kg_yr=so4, acid_bounds_kg_yr={"toc": (1, 2)})
