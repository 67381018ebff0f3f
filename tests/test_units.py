import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from karstsink import units
from karstsink.exceptions import UnitError


def test_hco3_mg_to_mmol_hand_calculation():
    # science.md 1.1: 250 mg/L / 61.017 g/mol = 4.0972 mmol/L
    assert units.to_mmol_per_l(250.0, "hco3", "mg/L") == pytest.approx(4.0972, abs=5e-5)


def test_alkalinity_as_caco3():
    # 100.087 mg/L as CaCO3 = 1 mmol CaCO3/L = 2 meq/L = 2 mmol/L HCO3-
    assert units.to_mmol_per_l(100.087, "hco3", "mg/L as CaCO3") == pytest.approx(2.0)
    # 50 mg/L as CaCO3 -> 50 / 50.0435 = 0.99913 mmol/L HCO3-
    assert units.to_mmol_per_l(50.0, "hco3", "mg/L as CaCO3") == pytest.approx(0.99913, abs=1e-5)


def test_nitrate_as_n_and_sulfate_as_s():
    # 2.26 mg/L NO3-N / 14.007 = 0.16135 mmol/L NO3-
    assert units.to_mmol_per_l(2.26, "no3", "mg/L as N") == pytest.approx(0.16135, abs=1e-5)
    # 10 mg/L NO3 as NO3 / 62.004 = 0.16128 mmol/L
    assert units.to_mmol_per_l(10.0, "no3", "mg/L") == pytest.approx(0.16128, abs=1e-5)
    # 8 mg/L SO4-S / 32.06 = 0.24953 mmol/L SO4 2-
    assert units.to_mmol_per_l(8.0, "so4", "mg/L as S") == pytest.approx(0.24953, abs=1e-5)


def test_meq_and_umol():
    assert units.to_mmol_per_l(4.0, "ca", "meq/L") == pytest.approx(2.0)  # Ca2+: 2 eq/mol
    assert units.to_mmol_per_l(4.0, "hco3", "meq/L") == pytest.approx(4.0)
    assert units.to_mmol_per_l(750.0, "mg", "µmol/L") == pytest.approx(0.75)
    assert units.to_mmol_per_l(750.0, "mg", "umol/L") == pytest.approx(0.75)


def test_unknown_unit_raises_with_fix():
    with pytest.raises(UnitError, match="mg/L, mmol/L"):
        units.to_mmol_per_l(1.0, "ca", "mgg/L")
    with pytest.raises(UnitError, match="ft3/s"):
        units.normalize_discharge_unit("gallons")


def test_discharge_units():
    assert units.discharge_to_m3s(1.0, "cfs") == pytest.approx(0.028316846592)
    assert units.discharge_to_m3s(1000.0, "L/s") == pytest.approx(1.0)


def test_c_co2_round_trip_published():
    # science.md 8.3: 29 t CO2 km-2 a-1 <-> 7.915 t C km-2 a-1
    assert units.co2_to_c(29.0) == pytest.approx(7.915, abs=5e-4)


@given(st.floats(0, 1e6), st.sampled_from(["ca", "mg", "na", "k", "cl", "so4", "no3", "hco3"]),
       st.sampled_from(["mg/L", "mmol/L", "meq/L", "µmol/L"]))
def test_concentration_round_trip(value, species, unit):
    back = units.from_mmol_per_l(units.to_mmol_per_l(value, species, unit), species, unit)
    np.testing.assert_allclose(back, value, rtol=1e-12, atol=1e-12)


@given(st.floats(0, 1e9))
def test_c_co2_round_trip(value):
    np.testing.assert_allclose(units.co2_to_c(units.c_to_co2(value)), value, rtol=1e-12)
