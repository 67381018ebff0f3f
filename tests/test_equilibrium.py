"""Equilibrium Ca (calcite) and Ca + Mg (dolomite) from PHREEQC: reference values and table."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from conftest import read_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from karstsink.chemistry.database import resolve_database
from karstsink.chemistry.equilibrium import (
    EquilibriumTable,
    equilibrium_concentration,
    equilibrium_table,
)

REF = read_reference("phreeqc_ca_eq_2024.csv")


@pytest.mark.parametrize("system", ["open", "closed"])
def test_direct_runs_match_reference_table(system):
    ref = REF[REF["system"] == system]
    got = equilibrium_concentration(ref["temp_c"], ref["log_pco2"], system=system)
    # printed to 3 decimals -> half a unit in the last digit
    assert_allclose(got, ref["ca_eq_mmol_kgw"], atol=0.0005, rtol=0)


@pytest.mark.parametrize("system", ["open", "closed"])
def test_table_matches_reference_table(system):
    ref = REF[REF["system"] == system]
    table = equilibrium_table(system=system)
    got = table(ref["temp_c"].to_numpy(), ref["log_pco2"].to_numpy())
    assert_allclose(got, ref["ca_eq_mmol_kgw"], atol=0.0005, rtol=0)


@pytest.mark.parametrize(("system", "mineral"), [("open", "calcite"), ("open", "dolomite"),
                                                  ("closed", "calcite")])
def test_table_within_0p1_percent_of_direct_phreeqc_off_grid(system, mineral):
    # issue 4: within 0.1 % of direct PHREEQC over 0-35 degC and log pCO2 -3.5 to -0.5;
    # points drawn off the 1 degC x 0.05 grid on purpose
    rng = np.random.default_rng(20240)
    temp = rng.uniform(0.0, 35.0, 150) + 0.37
    temp = np.clip(temp, 0, 35)
    logp = rng.uniform(-3.5, -0.5, 150) + 0.013
    direct = equilibrium_concentration(temp, logp, system=system, mineral=mineral)
    table = equilibrium_table(system=system, mineral=mineral)
    assert_allclose(table(temp, logp), direct, rtol=1e-3)


def test_open_system_mpd_hand_calculation():
    # issue 4: 15 degC, pCO2 1e-2 atm, R = 500 mm/yr, reference Ca_eq 1.932 mmol/kgw
    # (data/reference/phreeqc_ca_eq_2024.csv):
    # 12.011 g/mol x 0.5 m/yr x 1.932 mmol/L = 11.60 t C km-2 yr-1
    ca = float(equilibrium_concentration(15.0, -2.0))
    assert 12.011 * 0.5 * ca == pytest.approx(11.60, abs=0.005)


# The closed-form cube-root Ca_eq (open system, Plummer & Busenberg 1982 constants, extended
# Debye-Hueckel, no ion pairs) in mmol/L at (T degC, log pCO2), computed by hand from that
# formula; PHREEQC includes the CaHCO3+ and CaCO3 ion pairs, so it must lie above it, by 1-3 %.
CUBE_ROOT = [(5, -3.4, 0.723), (5, -1.5, 3.431), (15, -2.0, 1.902), (15, -1.5, 2.880),
             (25, -3.4, 0.517), (25, -1.5, 2.426)]


def test_phreeqc_slightly_above_cube_root_formula():
    t, lp, cube = (np.array(c, dtype=float) for c in zip(*CUBE_ROOT, strict=True))
    ratio = equilibrium_table()(t, lp) / cube
    assert np.all(ratio > 1.0)
    assert np.all(ratio < 1.03)


def test_doubling_pco2_raises_ca_eq_by_1p28_not_the_cube_root_1p26():
    # Reference table (2024 phreeqc.dat, 15 degC): log pCO2 -2.0 -> 1.932, -1.5 -> 2.924 mmol/kgw.
    # Local exponent n = log10(2.924 / 1.932) / 0.5 = 0.3600 (> 1/3: ion pairs grow with pCO2),
    # so doubling pCO2 (+0.30103 in log) gives 2**0.3600 = 1.2834; the cube root gives 1.2599.
    # Doubling from -2.0 is a little below the -2.0..-1.5 mean slope: expect 1.282 +- 0.002.
    ratio = float(equilibrium_concentration(15.0, -2.0 + np.log10(2.0))
                  / equilibrium_concentration(15.0, -2.0))
    assert ratio == pytest.approx(1.282, abs=0.002)
    assert ratio > 2.0 ** (1.0 / 3.0) + 0.015


def test_dolomite_exceeds_calcite_cations_and_is_consistent():
    # dolomite dissolves one Ca and one Mg per formula unit: Ca + Mg at equilibrium
    # is higher than Ca alone at calcite equilibrium under the same conditions
    dol = equilibrium_concentration(15.0, -2.0, mineral="dolomite")
    cal = equilibrium_concentration(15.0, -2.0)
    assert dol > cal


@settings(max_examples=40, deadline=None)
@given(t=st.floats(0, 39), lp=st.floats(-4.9, -0.1), dt=st.floats(0.1, 1.0),
       dl=st.floats(0.01, 0.1))
def test_table_monotonic_in_temperature_and_pco2(t, lp, dt, dl):
    table = equilibrium_table()
    base = table(t, lp)
    assert table(t + dt, lp) < base  # retrograde solubility
    assert table(t, lp + dl) > base


def test_table_clamps_and_propagates_nan():
    table = equilibrium_table()
    out = table(np.array([np.nan, 50.0, 15.0]), np.array([-2.0, -2.0, np.nan]))
    assert np.isnan(out[0]) and np.isnan(out[2])
    assert out[1] == pytest.approx(table(40.0, -2.0))


def test_disk_cache_roundtrip(tmp_path, monkeypatch):
    from karstsink.chemistry import equilibrium as eq

    monkeypatch.setattr(eq, "_MEMORY_CACHE", {})
    table = equilibrium_table(temp_range=(10, 20), temp_step=1, log_pco2_range=(-3, -1),
                              log_pco2_step=0.1, cache_dir=tmp_path)
    files = list(tmp_path.glob("ca_eq_open_calcite_*.npz"))
    assert len(files) == 1
    again = EquilibriumTable.from_npz(files[0])
    assert_allclose(again.values, table.values, rtol=0, atol=0)
    assert again.database["sha256"] == resolve_database("phreeqc.dat").sha256
    monkeypatch.setattr(eq, "_MEMORY_CACHE", {})
    reloaded = equilibrium_table(temp_range=(10, 20), temp_step=1, log_pco2_range=(-3, -1),
                                 log_pco2_step=0.1, cache_dir=tmp_path)
    assert_allclose(reloaded.values, table.values, rtol=0, atol=0)


def test_bad_options_raise():
    with pytest.raises(ValueError, match="system"):
        equilibrium_concentration(15, -2, system="half-open")
    with pytest.raises(ValueError, match="mineral"):
        equilibrium_concentration(15, -2, mineral="aragonite")
    with pytest.raises(ValueError, match="0-100"):
        equilibrium_concentration(120, -2)


def test_default_cache_folder_and_off_switch(monkeypatch, tmp_path):
    from karstsink.chemistry import equilibrium as eq

    monkeypatch.setenv("KARSTSINK_CACHE_DIR", str(tmp_path / "c"))
    assert eq.default_cache_dir() == tmp_path / "c"
    for off in ("", "off", "0", "None"):
        monkeypatch.setenv("KARSTSINK_CACHE_DIR", off)
        assert eq.default_cache_dir() is None
    monkeypatch.delenv("KARSTSINK_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # macOS: ~/Library/Caches
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))  # Windows
    if sys.platform.startswith("linux"):
        assert eq.default_cache_dir() == tmp_path / "xdg" / "karstsink"
    # a table built with the default folder lands there (small grid: fast)
    monkeypatch.setattr(eq, "_MEMORY_CACHE", {})
    folder = eq.default_cache_dir()
    eq.equilibrium_table(temp_range=(10.0, 12.0), temp_step=1.0, log_pco2_range=(-2.0, -1.8),
                         log_pco2_step=0.1)
    assert len(list(folder.glob("ca_eq_open_calcite_*.npz"))) == 1


def test_unwritable_cache_folder_costs_only_the_speed_up(monkeypatch, tmp_path):
    from karstsink.chemistry import equilibrium as eq

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(eq, "_MEMORY_CACHE", {})
    table = eq.equilibrium_table(temp_range=(10.0, 12.0), temp_step=1.0,
                                 log_pco2_range=(-2.0, -1.8), log_pco2_step=0.1,
                                 cache_dir=blocker / "sub")
    assert np.all(table.values > 0)


def test_a_water_holding_acid_dissolves_more_calcite_and_keeps_less_alkalinity():
    # PHREEQC 3.8.6-17100, 2024 phreeqc.dat, run by hand: SOLUTION temp 15, units mmol/kgw,
    # pH 7 charge, S(6) 0.19, N(5) 0.20; EQUILIBRIUM_PHASES CO2(g) -2.0 10, Calcite 0 10
    # -> Ca 2.154849 mmol/kgw, alkalinity 3.729683 meq/kgw (acid-free Ca 1.931651)
    ca = float(equilibrium_concentration(15.0, -2.0, acid_so4=0.19, acid_no3=0.20))
    assert ca == pytest.approx(2.154849, abs=2e-6)
    # charge balance: alkalinity = 2 Ca - 2 SO4 - NO3 = 4.309698 - 0.58 = 3.729698
    assert 2 * ca - 2 * 0.19 - 0.20 == pytest.approx(3.729683, abs=5e-5)
    assert 2 * ca - 0.58 < 2 * float(equilibrium_concentration(15.0, -2.0))


def test_acid_tables_are_cached_apart_and_negative_acid_is_refused(tmp_path):
    plain = equilibrium_table(temp_range=(10.0, 20.0), log_pco2_range=(-3.0, -1.0),
                              cache_dir=tmp_path)
    acid = equilibrium_table(temp_range=(10.0, 20.0), log_pco2_range=(-3.0, -1.0),
                             cache_dir=tmp_path, acid_so4=0.19, acid_no3=0.20)
    assert (acid.acid_so4, acid.acid_no3) == (0.19, 0.20)
    assert np.all(acid.values > plain.values)
    assert acid(15.0, -2.0) == pytest.approx(2.154849, rel=2e-4)
    with pytest.raises(ValueError, match="acid_so4 and acid_no3 must be finite and >= 0"):
        equilibrium_concentration(15.0, -2.0, acid_so4=-0.1)
