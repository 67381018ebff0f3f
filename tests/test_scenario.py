"""Scenario balance: shipped anchors, interpolation, shares, C/CO2, user CSVs, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from karstsink.scenario import (
    SCENARIOS,
    balance,
    emission_anchors,
    emissions,
    read_emissions_csv,
    sinks_from_zonal_totals,
)

# 1 t C = 44.009 / 12.011 t CO2 (science.md section 0) = 3.66406...
C_TO_CO2 = 44.009 / 12.011


def _value(table, year, scenario=None, col="emissions_t_co2_yr"):
    sel = table["year"] == year
    if scenario is not None:
        sel &= table["scenario"] == scenario
    return float(table.loc[sel, col].iloc[0])


def test_shipped_anchors_match_science_md_section_10():
    a = emission_anchors()
    assert set(a["scenario"]) == set(SCENARIOS)
    assert a["source"].str.len().gt(0).all()
    got = {(r.scenario, r.year): r.emissions_mt_co2 for r in a.itertuples()}
    # science.md section 10 table (Mt CO2/yr)
    assert got[("baseline", 2020)] == 220
    assert got[("baseline", 2030)] == 282
    assert got[("baseline", 2060)] == 131
    assert got[("high-speed", 2035)] == 304
    assert got[("high-speed", 2060)] == 221
    assert got[("low-carbon", 2060)] == 56
    # "~55 % of peak": 0.55 x 282 = 155.1 -> 155; "~30 % of peak": 0.30 x 282 = 84.6 -> 85
    assert got[("baseline", 2050)] == 155
    assert got[("low-carbon", 2050)] == 85
    # 2020 is stated without "~"; every other anchor is approximate
    assert not a.loc[a.year == 2020, "approximate"].any()
    assert a.loc[a.year != 2020, "approximate"].all()


def test_interpolation_hand_checked():
    e = emissions("all")
    assert len(e) == 3 * 41  # 2020..2060 inclusive, three scenarios
    # baseline 2025: midpoint of 220 (2020) and 282 (2030) = 251 Mt
    assert _value(e, 2025, "baseline") == pytest.approx(251e6, rel=1e-12)
    # high-speed 2050: 304 + (221 - 304) x 15/25 = 254.2 Mt
    assert _value(e, 2050, "high-speed") == pytest.approx(254.2e6, rel=1e-12)
    # low-carbon 2040: 282 + (85 - 282) x 10/20 = 183.5 Mt
    assert _value(e, 2040, "low-carbon") == pytest.approx(183.5e6, rel=1e-12)
    # anchors are reproduced exactly and flagged
    assert _value(e, 2060, "baseline") == 131e6
    assert bool(_value(e, 2060, "baseline", "is_anchor"))
    assert not bool(_value(e, 2025, "baseline", "is_anchor"))
    # a year next to a "~" anchor is approximate; 2020 itself is not
    assert bool(_value(e, 2025, "baseline", "approximate"))
    assert not bool(_value(e, 2020, "baseline", "approximate"))


def test_no_extrapolation_outside_anchor_span():
    e = emissions("baseline", years=(2018, 2021))
    assert np.isnan(e["emissions_t_co2_yr"].iloc[:2]).all()
    assert _value(e, 2021, col="emissions_t_co2_yr") == pytest.approx(226.2e6)  # 220 + 6.2


def test_balance_shares_and_c_conversion():
    # karst sink 3.664... Mt CO2 = exactly 1 Mt C; biological 40 Mt CO2
    karst = 1e6 * C_TO_CO2
    t = balance({"karst": karst, "biological": 40e6}, "baseline")
    row = t[t.year == 2020].iloc[0]
    assert row["karst_sink_t_c_yr"] == pytest.approx(1e6, rel=1e-12)
    assert row["biological_sink_t_c_yr"] == pytest.approx(40e6 / 3.66406, rel=1e-5)
    # shares: 3.66406 / 220 = 1.66548 %; 40 / 220 = 18.1818 %
    assert row["karst_share_pct"] == pytest.approx(1.66548, abs=1e-5)
    assert row["biological_share_pct"] == pytest.approx(18.18182, abs=1e-5)
    assert row["total_share_pct"] == pytest.approx(19.84730, abs=1e-5)
    # residual other measures must close: 220 - 3.66406 - 40 = 176.33594 Mt CO2
    assert row["residual_t_co2_yr"] == pytest.approx(176.33594e6, rel=1e-7)
    assert row["residual_t_c_yr"] == pytest.approx(176.33594e6 / 3.66406, rel=1e-5)
    assert row["emissions_t_c_yr"] == pytest.approx(220e6 / 3.66406, rel=1e-5)
    assert t.attrs["c_to_co2"] == pytest.approx(3.664, abs=5e-4)
    # 2025, baseline: 40 / 251 = 15.936 %
    assert _value(t, 2025, col="biological_share_pct") == pytest.approx(15.93625, abs=1e-5)


def test_balance_per_year_sink_and_all_scenarios():
    t = balance({"karst": {2020: 1e6, 2021: 2e6}}, "all", years=(2020, 2022))
    assert len(t) == 9
    base = t[t.scenario == "baseline"]
    assert base["karst_sink_t_co2_yr"].tolist()[:2] == [1e6, 2e6]
    assert np.isnan(base["karst_sink_t_co2_yr"].iloc[2])  # not given -> NaN, never 0
    assert np.isnan(base["total_share_pct"].iloc[2])


@settings(max_examples=40, deadline=None)
@given(
    karst=st.floats(0, 5e7, allow_nan=False),
    bio=st.floats(0, 5e8, allow_nan=False),
    scenario=st.sampled_from(SCENARIOS),
)
def test_balance_invariants(karst, bio, scenario):
    t = balance({"karst": karst, "biological": bio}, scenario)
    e = t["emissions_t_co2_yr"].to_numpy()
    np.testing.assert_allclose(t["residual_t_co2_yr"] + t["total_sink_t_co2_yr"], e, rtol=1e-12)
    np.testing.assert_allclose(t["karst_share_pct"] + t["biological_share_pct"],
                               t["total_share_pct"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t["total_sink_t_c_yr"] * C_TO_CO2, t["total_sink_t_co2_yr"],
                               rtol=1e-12, atol=1e-6)
    # linear interpolation never leaves the range of its neighbouring anchors
    a = emission_anchors()
    a = a[a.scenario == scenario]
    assert e.min() >= a.emissions_t_co2_yr.min() - 1e-6
    assert e.max() <= a.emissions_t_co2_yr.max() + 1e-6


def test_user_csv_in_mt_co2(tmp_path):
    f = tmp_path / "my.csv"
    f.write_text("# my provincial plan\nyear,emissions (Mt CO2)\n2020,100\n2030,50\n",
                 encoding="utf-8")
    e = read_emissions_csv(f)
    assert e["emissions_t_co2_yr"].tolist() == [100e6, 50e6]
    t = balance({"karst": 1e6}, f)
    assert _value(t, 2025) == pytest.approx(75e6)  # midpoint of 100 and 50 Mt
    assert _value(t, 2025, col="karst_share_pct") == pytest.approx(100 * 1 / 75)
    assert t["year"].tolist() == list(range(2020, 2031))


@pytest.mark.parametrize(
    ("header", "value", "expected_t_co2"),
    [
        ("emissions_t_co2", "1000", 1000.0),
        ("emissions_kt_co2", "2", 2000.0),
        ("emissions_mt_c", "1", 1e6 * C_TO_CO2),
        ("emissions (10^4 t CO2)", "3", 3e4),  # 万吨: 10^4 t
        ("排放量 (万吨 CO2)", "3", 3e4),
        ("CO2 emissions [Mt]", "2", 2e6),
        ("emissions (Gt C/yr)", "0.001", 1e6 * C_TO_CO2),
    ],
)
def test_user_csv_units(tmp_path, header, value, expected_t_co2):
    f = tmp_path / "e.csv"
    f.write_text(f"year,{header}\n2020,{value}\n", encoding="utf-8")
    assert read_emissions_csv(f)["emissions_t_co2_yr"].iloc[0] == pytest.approx(expected_t_co2)


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("year,emissions\n2020,1\n", UnitError, "unit of emissions column 'emissions'"),
        ("year,emissions (Mt)\n2020,1\n", UnitError, "CO2 or C must be stated"),
        ("year,emissions_t_co2\n2020,lots\n", DataError, "data row 1.*'lots' is not a number"),
        ("year,emissions_t_co2\n2020,1\n2020,2\n", DataError, "year 2020 appears twice"),
        ("yr,emissions_t_co2\n2020,1\n", MissingColumnError, "no 'year' column"),
        ("year,a_t_co2,b_t_co2\n2020,1,2\n", MissingColumnError, "exactly one emissions"),
        ("year,emissions_t_co2\n20x0,1\n", DataError, "'20x0' is not a whole number"),
        ("year,emissions_t_co2\n", DataError, "no data rows"),
    ],
)
def test_bad_user_csv(tmp_path, text, error, match):
    f = tmp_path / "bad.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(error, match=match):
        read_emissions_csv(f)


def test_blank_value_is_interpolated_with_warning(tmp_path):
    f = tmp_path / "gap.csv"
    f.write_text("year,emissions_mt_co2\n2020,10\n2021,\n2022,14\n", encoding="utf-8")
    with pytest.warns(DataQualityWarning, match="2021"):
        e = emissions(f)
    assert _value(e, 2021) == pytest.approx(12e6)


def test_balance_errors(tmp_path):
    with pytest.raises(DataError, match="Unknown emission scenario 'medium'"):
        balance({"karst": 1.0}, "medium")
    with pytest.raises(DataError, match="does not exist"):
        balance({"karst": 1.0}, tmp_path / "missing.csv")
    with pytest.raises(DataError, match="Sink name 'Karst Sink'"):
        balance({"Karst Sink": 1.0})
    with pytest.raises(DataError, match="is not a number"):
        balance({"karst": "a lot"})
    with pytest.raises(DataError, match="at least one sink"):
        balance({})


def test_sinks_from_zonal_totals():
    zones = pd.DataFrame({
        "name": ["A", "B", "C"],
        "karst_sink_t_c_yr": [100.0, 50.0, np.nan],
        "biological_sink_t_c_yr": [1000.0, 0.0, 10.0],
    })
    sinks = sinks_from_zonal_totals(zones)
    assert sinks["karst"] == pytest.approx(150 * C_TO_CO2)
    assert sinks["biological"] == pytest.approx(1010 * C_TO_CO2)
    with pytest.raises(MissingColumnError, match="karst_sink_t_c_yr"):
        sinks_from_zonal_totals(zones.drop(columns="karst_sink_t_c_yr"))
    # the map stage appends a "TOTAL (all zones)" row: it is the total, not one more zone
    with_total = pd.concat([zones, pd.DataFrame({
        "name": ["TOTAL (all zones)"], "karst_sink_t_c_yr": [151.0],
        "biological_sink_t_c_yr": [1010.0]})], ignore_index=True)
    sinks = sinks_from_zonal_totals(with_total)
    assert sinks["karst"] == pytest.approx(151 * C_TO_CO2)
    assert sinks["biological"] == pytest.approx(1010 * C_TO_CO2)
    with pytest.raises(DataError, match="2 'TOTAL' rows"):
        sinks_from_zonal_totals(pd.concat([with_total, with_total.tail(1)]))


def test_plot_balance_writes_png(tmp_path):
    from karstsink.plots.scenario import plot_balance

    out = tmp_path / "balance.png"
    fig = plot_balance(balance({"karst": 3.7e6, "biological": 4e7}, "all"), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["balance.png"]  # no temp file left
    assert fig.axes[0].get_ylabel().startswith("Mt CO")
    with pytest.raises(MissingColumnError):
        plot_balance(pd.DataFrame({"year": [2020]}))


def test_example_script_runs(tmp_path, capsys):
    import runpy
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "examples" / "scenario_balance.py"
    argv = sys.argv
    sys.argv = [str(script), "--out", str(tmp_path)]
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = argv
    assert (tmp_path / "balance.png").read_bytes()[:4] == b"\x89PNG"
    table = pd.read_csv(tmp_path / "balance.csv")
    assert len(table) == 3 * 41
    # 2060 low-carbon: (3.7 + 30.24) / 56 = 60.6 % offset
    row = table[(table.year == 2060) & (table.scenario == "low-carbon")].iloc[0]
    assert row["total_share_pct"] == pytest.approx(100 * 33.94 / 56, rel=1e-9)
    assert "60.6 %" in capsys.readouterr().out
