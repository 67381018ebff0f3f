"""Emission headers: mass prefix case, carbon basis (CO2-C) and CO2-equivalent."""

import pytest

from karstsink.exceptions import UnitError
from karstsink.scenario import read_emissions_csv

# 1 t C = 44.009 / 12.011 t CO2 (IUPAC molar masses of CO2 and C) = 3.66406...
C_TO_CO2 = 44.009 / 12.011


@pytest.mark.parametrize(
    ("header", "value", "expected_t_co2"),
    [
        # CO2-C is the mass of carbon in CO2: 1 Mt CO2-C = 1e6 t C x 44.009/12.011
        # = 3.664e6 t CO2 (it was read as 1e6 t CO2, 3.664 x too little)
        ("emissions (Mt CO2-C)", "1", 1e6 * C_TO_CO2),
        ("emissions (Mt C-CO2)", "1", 1e6 * C_TO_CO2),
        ("CO2-C emissions [Mt]", "1", 1e6 * C_TO_CO2),
        ("emissions_mt_co2_c", "1", 1e6 * C_TO_CO2),
        # Tg = 10^12 g = 10^6 t = Mt
        ("emissions (Tg CO2)", "2", 2e6),
        ("emissions (Tg C/yr)", "1", 1e6 * C_TO_CO2),
        ("emissions_tg_co2", "2", 2e6),
        ("emissions (Mt CO2 yr-1)", "3", 3e6),
        # snake_case headers are lower-case by convention (the shipped emissions_mt_co2)
        ("emissions_mt_co2", "4", 4e6),
        ("emissions (tonnes CO2)", "5", 5.0),
    ],
)
def test_header_units(tmp_path, header, value, expected_t_co2):
    f = tmp_path / "e.csv"
    f.write_text(f"year,{header}\n2020,{value}\n", encoding="utf-8")
    assert read_emissions_csv(f)["emissions_t_co2_yr"].iloc[0] == pytest.approx(expected_t_co2)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        # "MT" is also written for metric tonnes (1e6 x apart): refused, never guessed
        ("emissions (MT CO2)", r"'MT' is ambiguous .*t, kt, Mt or Tg"),
        ("emissions (mt CO2)", r"'mt' is ambiguous"),
        ("emissions_MT_co2", r"'MT' is ambiguous"),
        ("emissions (KT CO2)", r"'KT' .*t, kt, Mt or Tg"),
        # "tons" may be US short tons (0.907 t): refused, never read as metric tonnes
        ("emissions (tons CO2)", r"'tons' is ambiguous .*short tons"),
        ("emissions (ton C)", r"'ton' is ambiguous"),
        # CO2e includes other gases; the balance compares CO2
        ("emissions (MT CO2e)", r"CO2-equivalent .*compares the sinks with CO2 only"),
        ("emissions (Mt CO2e)", r"CO2-equivalent"),
        ("emissions (Mt CO2-eq)", r"CO2-equivalent"),
        ("emissions (Mt CO2 equivalent)", r"CO2-equivalent"),
        ("emissions_mt_co2e", r"CO2-equivalent"),
    ],
)
def test_ambiguous_headers_refused(tmp_path, header, match):
    f = tmp_path / "e.csv"
    f.write_text(f"year,{header}\n2020,1\n", encoding="utf-8")
    with pytest.raises(UnitError, match=match) as err:
        read_emissions_csv(f)
    assert "\n" not in str(err.value) and "e.csv" in str(err.value)
