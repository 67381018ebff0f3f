import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from karstsink import units
from karstsink.exceptions import UnitError


def test_hco3_mg_to_mmol_hand_calculation():
    # 250 mg/L / 61.017 g/mol (1.008 + 12.011 + 3 x 15.999) = 4.0972 mmol/L
    assert units.to_mmol_per_l(250.0, "hco3", "mg/L") == pytest.approx(4.0972, abs=5e-5)


def test_alkalinity_as_caco3():
    # 100.087 mg/L as CaCO3 = 1 mmol CaCO3/L = 2 meq/L = 2 mmol/L HCO3-
    assert units.to_mmol_per_l(100.087, "hco3", "mg/L as CaCO3") == pytest.approx(2.0)
    # 50 mg/L as CaCO3 -> 50 / 50.0435 = 0.99913 mmol/L HCO3-
    assert units.to_mmol_per_l(50.0, "hco3", "mg/L as CaCO3") == pytest.approx(0.99913, abs=1e-5)


def test_molar_as_caco3_and_qualifiers_that_do_not_fit():
    # 1 mmol/L as CaCO3 = 2 meq/L: 2 mmol/L HCO3-, 1 mmol/L of Ca2+ hardness or CO3 2-
    assert units.to_mmol_per_l(1.0, "hco3", "mmol/L as CaCO3") == pytest.approx(2.0)
    assert units.to_mmol_per_l(1.0, "ca", "mmol/L as CaCO3") == pytest.approx(1.0)
    assert units.from_mmol_per_l(2.0, "hco3", "mmol/L as CaCO3") == pytest.approx(1.0)
    for species, unit in (("so4", "mmol/L as CaCO3"), ("so4", "mg/L as CaCO3"),
                          ("ca", "mg/L as S"), ("cl", "mmol/L as N")):
        with pytest.raises(UnitError, match=r"does not apply|only applies"):
            units.to_mmol_per_l(1.0, species, unit)


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
    # 29 t CO2 km-2 a-1 x 12.011 / 44.009 = 7.915 t C km-2 a-1 (Banzhai catchment, Guizhou)
    assert units.co2_to_c(29.0) == pytest.approx(7.915, abs=5e-4)


@given(st.floats(0, 1e6), st.sampled_from(["ca", "mg", "na", "k", "cl", "so4", "no3", "hco3"]),
       st.sampled_from(["mg/L", "mmol/L", "meq/L", "µmol/L"]))
def test_concentration_round_trip(value, species, unit):
    back = units.from_mmol_per_l(units.to_mmol_per_l(value, species, unit), species, unit)
    np.testing.assert_allclose(back, value, rtol=1e-12, atol=1e-12)


@given(st.floats(0, 1e9))
def test_c_co2_round_trip(value):
    np.testing.assert_allclose(units.co2_to_c(units.c_to_co2(value)), value, rtol=1e-12)


# ---------------------------------------------------------------------------
# constants defined once (issue 11): every module imports them from karstsink.units
# ---------------------------------------------------------------------------

import io  # noqa: E402
import re  # noqa: E402
import tokenize  # noqa: E402
from pathlib import Path  # noqa: E402

_SRC = Path(__file__).resolve().parents[1] / "src" / "karstsink"


def test_c_to_co2_is_the_molar_mass_ratio():
    # IUPAC 2021 conventional atomic weights: M(C) = 12.011, M(CO2) = 12.011 + 2 x 15.999
    # = 44.009 g/mol; 44.009 / 12.011 = 3.664058 (the "3.664" of the literature, rounded)
    assert units.C_TO_CO2 == 44.009 / 12.011
    assert units.MOLAR_MASS["CO2"] == pytest.approx(12.011 + 2 * 15.999, abs=1e-12)
    assert round(units.C_TO_CO2, 3) == 3.664


def test_caco3_and_load_factor():
    # M(CaCO3) = 40.078 + 12.0107 + 3 x 15.9994 = 100.0869 g/mol (the atomic weights with
    # their full digits) -> 100.087; karstsink uses 100.087 everywhere, never 100.09
    assert units.MOLAR_MASS["caco3"] == 100.087
    # 1 m3/s x 1 mg/L = 1 m3/s x 1 g/m3 = 1 g/s; x 86 400 s/d / 1000 g/kg = 86.4 kg/d
    assert units.KG_DAY_PER_M3S_MG_L == pytest.approx(1.0 * 1.0 * 86400 / 1000, rel=1e-15)


def _code_numbers(path: Path):
    """(line, text) of every number literal in a module's code (not comments or strings)."""
    text = path.read_text(encoding="utf-8")
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.NUMBER:
            yield tok.start[0], tok.string.lower().replace("_", "")


def test_no_module_keeps_its_own_copy_of_a_constant():
    offenders = []
    for path in sorted(_SRC.rglob("*.py")):
        rel = path.relative_to(_SRC).as_posix()
        for line, number in _code_numbers(path):
            mantissa = re.split(r"e", number)[0]
            if re.fullmatch(r"3\.6640*", mantissa):  # C -> CO2: use units.C_TO_CO2
                offenders.append(f"{rel}:{line}: {number} (use units.C_TO_CO2)")
            if re.fullmatch(r"100\.090*", mantissa):  # M(CaCO3): use MOLAR_MASS['caco3']
                offenders.append(f"{rel}:{line}: {number} (use units.MOLAR_MASS['caco3'])")
            if re.fullmatch(r"86\.40*", mantissa):  # kg/d per m3/s x mg/L
                offenders.append(f"{rel}:{line}: {number} (use units.KG_DAY_PER_M3S_MG_L)")
        source = path.read_text(encoding="utf-8")
        for name in ("C_TO_CO2", "KG_DAY_PER_M3S_MG_L", "KG_DAY_PER_MG_L_M3S"):
            if rel != "units.py" and re.search(rf"^\s*{name}\s*=", source, re.MULTILINE):
                offenders.append(f"{rel}: defines {name} (import it from karstsink.units)")
    assert not offenders, "\n".join(offenders)


def test_flux_method_list_is_defined_once():
    from karstsink.flux import METHODS

    assert set(METHODS) == {"direct", "rating", "loadest", "wrtds"}
    name = r"""['"](?:direct|rating|loadest|wrtds)['"]"""
    literal = re.compile(rf"[\(\[{{]\s*(?:{name}\s*,\s*){{3}}{name}\s*,?\s*[\)\]}}]")
    offenders = [path.relative_to(_SRC).as_posix() for path in sorted(_SRC.rglob("*.py"))
                 if path.relative_to(_SRC).as_posix() != "flux/__init__.py"
                 and literal.search(path.read_text(encoding="utf-8"))]
    assert not offenders, f"spell the flux methods as karstsink.flux.METHODS in {offenders}"


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=-6, max_value=3),
       st.sampled_from(["hco3", "ca", "mg", "so4", "no3", "cl"]))
def test_mg_l_round_trip_returns_the_value_as_written(digits, exponent, species):
    # a value written with at most 10 significant digits (digits x 10^exponent) comes back
    # from mmol/L as the same double its text is read as: no float noise such as
    # 218.10000000000002 in an output column
    text = f"{digits}e{exponent}"
    value = float(text)
    back = units.from_mmol_per_l(units.to_mmol_per_l(value, species, "mg/L"), species, "mg/L")
    assert float(back) == value


def test_round_significant_hand_values():
    # 2/3 to 4 significant digits is 0.6667; 123456 to 2 is 120000; -0.000987654 to 3 is
    # -0.000988; NaN, inf and 0 are left as they are
    out = units.round_significant([2 / 3, 123456.0, -0.000987654, np.nan, np.inf, 0.0], 4)
    assert out[:3].tolist() == [0.6667, 123500.0, -0.0009877]
    assert np.isnan(out[3]) and out[4] == np.inf and out[5] == 0.0
    assert units.round_significant(123456.0, 2) == 120000.0
    with pytest.raises(ValueError, match="1-15"):
        units.round_significant(1.0, 16)


@pytest.mark.parametrize("unit", ["mmol/L as xyz", "mmol/L as Ca", "µmol/L as Mg"])
def test_an_unknown_qualifier_on_a_mol_basis_is_refused(unit):
    # the mass form ('mg/L as xyz') was refused, the mol form taken as plain mmol/L
    with pytest.raises(UnitError, match="Unknown 'as"):
        units.to_mmol_per_l([100.0], "hco3", unit)
    # a qualifier that fits still reads: 1 mmol/L NO3-N is 1 mmol/L of NO3- (one N each)
    assert float(units.to_mmol_per_l(1.0, "no3", "mmol/L as N")) == 1.0


def test_a_unit_that_is_not_text_is_a_unit_error():
    with pytest.raises(UnitError, match="must be text"):
        units.to_mmol_per_l(1.0, "hco3", None)
