"""Weathering diagnostics, checked against hand calculations written out below."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from karstsink.chemistry import weathering as w
from karstsink.units import to_mmol_per_l


def test_ca_mg_hco3_molar_pure_carbonic_acid_weathering():
    # CaCO3 + CO2 + H2O -> Ca + 2 HCO3: Ca 2 mmol/L with HCO3 4 -> 0.5;
    # dolomite: Ca 1 + Mg 1 with HCO3 4 -> 0.5; H2SO4 path 2 Ca per 2 HCO3 -> 1.0
    assert_allclose(w.ca_mg_hco3_molar([2.0, 1.0, 2.0], [0.0, 1.0, 0.0], [4.0, 4.0, 2.0]),
                    [0.5, 0.5, 1.0], rtol=1e-15)


def test_ca_mg_hco3_molar_limestone_spring_by_hand():
    # science.md 2.1 template: Ca 80, Mg 6, HCO3 250 mg/L
    # Ca 80/40.078 = 1.996108, Mg 6/24.305 = 0.246863, HCO3 250/61.017 = 4.097219 mmol/L
    # (1.996108 + 0.246863) / 4.097219 = 0.547437
    ca = to_mmol_per_l(80, "ca", "mg/L")
    mg = to_mmol_per_l(6, "mg", "mg/L")
    hco3 = to_mmol_per_l(250, "hco3", "mg/L")
    assert_allclose(w.ca_mg_hco3_molar(ca, mg, hco3), 0.547437, atol=5e-7)


def test_ca_mg_hco3_so4_equivalent_ratio_by_hand():
    # 2 (2 + 0.5) / (4 + 2 x 0.5) = 5 / 5 = 1.0 ; 2 (1.5 + 0.5) / (3 + 2 x 0.25) = 4/3.5
    assert_allclose(w.ca_mg_hco3_so4_eq([2.0, 1.5], [0.5, 0.5], [4.0, 3.0], [0.5, 0.25]),
                    [1.0, 4.0 / 3.5], rtol=1e-15)


def test_missing_or_negative_inputs_give_nan_never_a_number():
    assert np.isnan(w.ca_mg_hco3_molar(2.0, np.nan, 4.0))
    assert np.isnan(w.ca_mg_hco3_molar(2.0, 0.5, 0.0))
    assert np.isnan(w.ca_mg_hco3_molar(-2.0, 0.5, 4.0))
    assert np.isnan(w.ca_mg_hco3_so4_eq(2.0, 0.5, 4.0, -0.1))
    # one negative ion is enough, even when Ca + Mg (or HCO3 + 2 SO4) is still positive:
    # -0.5 + 1.0 = 0.5 would otherwise give 0.5 / 4.1 = 0.122 (reviewer's reproduction)
    assert np.isnan(w.ca_mg_hco3_molar(-0.5, 1.0, 4.1))
    assert np.isnan(w.ca_mg_hco3_molar(1.0, -0.5, 4.1))
    assert np.isnan(w.ca_mg_hco3_so4_eq(-0.5, 1.0, 4.1, 0.25))
    assert np.isnan(w.ca_mg_hco3_so4_eq(1.0, 0.5, -0.1, 0.25))


def test_partition_sources_by_hand_all_cl_from_rain():
    # Cl 0.2, Na 0.5, K 0.05, Ca 2.0, Mg 0.6, SO4 0.3, NO3 0.1 mmol/L, seawater ratios:
    # rain: Na 0.172, Ca 0.0038, Mg 0.0194, K 0.0036, SO4 0.0104; evaporite: 0
    # Na_sil = 0.5 - 0.172 = 0.328; K_sil = 0.0464; Ca_sil = 0.328 x 0.35 = 0.1148;
    # Mg_sil = 0.328 x 0.24 = 0.07872; Ca_carb = 2.0 - 0.0038 - 0.1148 = 1.8814;
    # Mg_carb = 0.6 - 0.0194 - 0.07872 = 0.50188; SO4_acid = 0.3 - 0.0104 = 0.2896
    # phi_sil = 0.328 + 0.0464 + 2 (0.1148 + 0.07872) = 0.76144
    # phi_carb = 1.8814 + 0.50188 - 2 x 0.2896 - 0.1 = 1.70408
    p = w.partition_sources(2.0, 0.6, 0.5, 0.05, 0.2, 0.3, no3=0.1)
    expected = {"na_rain": 0.172, "ca_rain": 0.0038, "mg_rain": 0.0194, "k_rain": 0.0036,
                "so4_rain": 0.0104, "na_evap": 0.0, "ca_evap": 0.0, "na_sil": 0.328,
                "k_sil": 0.0464, "ca_sil": 0.1148, "mg_sil": 0.07872, "ca_carb": 1.8814,
                "mg_carb": 0.50188, "so4_acid": 0.2896, "no3_acid": 0.1, "phi_sil": 0.76144,
                "phi_carb": 1.70408}
    for key, value in expected.items():
        assert_allclose(p[key], value, atol=1e-12, err_msg=key)


def test_rain_sulfate_above_the_samples_adds_no_co2_uptake():
    # Cl 1.0 all rain: SO4_rain = 0.052 x 1.0 > SO4 0.03, so SO4_acid = -0.022 (kept: the
    # rain end-member does not fit).  By hand: Na_sil = 1.0 - 0.86 = 0.14, Ca_sil = 0.049,
    # Mg_sil = 0.0336; Ca_carb = 2.0 - 0.019 - 0.049 = 1.932, Mg_carb = 0.3 - 0.097 -
    # 0.0336 = 0.1694; phi_carb = 1.932 + 0.1694 - 0 (no acid) = 2.1014, not
    # 2.1014 + 2 x 0.022 = 2.1454.
    p = w.partition_sources(2.0, 0.3, 1.0, 0.05, 1.0, 0.03)
    assert_allclose(p["so4_acid"], -0.022, atol=1e-12)
    assert_allclose(p["phi_carb"], 2.1014, atol=1e-12)
    assert_allclose(p["phi_carb"], p["ca_carb"] + p["mg_carb"], atol=1e-12)
    # nor gypsum: with evaporite_so4_share 0.5 no Ca_evap comes of the negative residual
    # (else Ca_carb 1.932 + 0.011 and phi_carb 0.011 higher)
    g = w.partition_sources(2.0, 0.3, 1.0, 0.05, 1.0, 0.03, evaporite_so4_share=0.5)
    assert_allclose(g["ca_evap"], 0.0, atol=1e-12)
    assert_allclose(g["phi_carb"], 2.1014, atol=1e-12)
    # the CO2 uptake falls as SO4 rises through the rain SO4 (0.052), never jumps up
    phi = [float(w.partition_sources(2.0, 0.3, 1.0, 0.05, 1.0, s4,
                                     evaporite_so4_share=0.5)["phi_carb"])
           for s4 in (0.03, 0.05, 0.052, 0.06, 0.1)]
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(phi))


def test_partition_sources_halite_and_gypsum_by_hand():
    # rain Cl only 0.05: Na_rain 0.043, Na_evap = 0.2 - 0.05 = 0.15, Na_sil = 0.5 - 0.043
    # - 0.15 = 0.307. Gypsum share 0.5 of non-rain SO4 (0.3 - 0.05 x 0.052 = 0.2974):
    # Ca_evap = 0.1487, SO4_acid = 0.1487; Ca_carb = 2 - 0.05 x 0.019 - 0.1487 - 0.307 x 0.35
    # = 2 - 0.00095 - 0.1487 - 0.10745 = 1.7429
    p = w.partition_sources(2.0, 0.6, 0.5, 0.05, 0.2, 0.3, cl_rain=0.05,
                            evaporite_so4_share=0.5)
    assert_allclose(p["na_evap"], 0.15, atol=1e-12)
    assert_allclose(p["na_sil"], 0.307, atol=1e-12)
    assert_allclose(p["ca_evap"], 0.1487, atol=1e-12)
    assert_allclose(p["so4_acid"], 0.1487, atol=1e-12)
    assert_allclose(p["ca_carb"], 1.7429, atol=1e-12)


def test_partition_sources_acid_shares_mean_what_they_mean_in_carbon():
    # acid_so4_share is the share of the NON-evaporite (non-rain) SO4, as in karstsink.carbon:
    # non-rain SO4 = 0.3 - 0.2 x 0.052 = 0.2896 (all Cl from rain); evaporite 0.5, acid 0.5:
    # SO4_acid = 0.5 x (1 - 0.5) x 0.2896 = 0.0724; NO3_acid = 0.5 x 0.1 = 0.05;
    # Ca_evap = 0.5 x 0.2896 = 0.1448; Ca_carb = 2.0 - 0.0038 - 0.1448 - 0.1148 = 1.7366;
    # Mg_carb = 0.50188 (as above); phi_carb = 1.7366 + 0.50188 - 2 x 0.0724 - 0.05 = 2.04368
    p = w.partition_sources(2.0, 0.6, 0.5, 0.05, 0.2, 0.3, no3=0.1, evaporite_so4_share=0.5,
                            acid_so4_share=0.5, acid_no3_share=0.5)
    assert_allclose(p["so4_acid"], 0.0724, atol=1e-12)
    assert_allclose(p["no3_acid"], 0.05, atol=1e-12)
    assert_allclose(p["ca_evap"], 0.1448, atol=1e-12)
    assert_allclose(p["phi_carb"], 2.04368, atol=1e-12)
    # the former keyword name still works and means the same
    old = w.partition_sources(2.0, 0.6, 0.5, 0.05, 0.2, 0.3, no3=0.1, gypsum_so4_share=0.5,
                              acid_so4_share=0.5, acid_no3_share=0.5)
    assert_allclose(old["phi_carb"], 2.04368, atol=1e-12)


def test_the_acid_correction_is_not_implemented_here():
    # one implementation: karstsink.carbon.carbonic_hco3 (issue 11)
    assert not hasattr(w, "hco3_carbonic")


def test_partition_sources_rejects_bad_shares():
    with pytest.raises(ValueError, match="evaporite_so4_share"):
        w.partition_sources(2, 0.6, 0.5, 0.05, 0.2, 0.3, evaporite_so4_share=2)
    with pytest.raises(ValueError, match="acid_no3_share"):
        w.partition_sources(2, 0.6, 0.5, 0.05, 0.2, 0.3, acid_no3_share=-0.1)
    with pytest.raises(ValueError, match="rain_ratios"):
        w.partition_sources(2, 0.6, 0.5, 0.05, 0.2, 0.3, rain_ratios={"na": 0.86})


conc = st.floats(0.0, 50.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(ca=conc, mg=conc, na=conc, k=conc, cl=conc, so4=conc)
def test_partition_conserves_every_cation(ca, mg, na, k, cl, so4):
    # rain + evaporite + silicate + carbonate adds back to the measured concentration
    p = w.partition_sources(ca, mg, na, k, cl, so4, cl_rain=0.3 * cl,
                            evaporite_so4_share=0.2)
    assert_allclose(p["ca_rain"] + p["ca_evap"] + p["ca_sil"] + p["ca_carb"], ca, atol=1e-9)
    assert_allclose(p["mg_rain"] + p["mg_sil"] + p["mg_carb"], mg, atol=1e-9)
    assert_allclose(p["na_rain"] + p["na_evap"] + p["na_sil"], na, atol=1e-9)
    assert_allclose(p["k_rain"] + p["k_sil"], k, atol=1e-9)
