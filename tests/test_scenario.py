"""Scenario balance: shipped anchors, interpolation, shares, C/CO2, user CSVs, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from karstsink.scenario import (
    INTERPOLATION,
    SCENARIOS,
    SOURCE,
    balance,
    emission_anchors,
    emissions,
    read_emissions_csv,
    sinks_from_zonal_totals,
)

# 1 t C = 44.009 / 12.011 t CO2 (IUPAC molar masses of CO2 and C) = 3.66406...
C_TO_CO2 = 44.009 / 12.011


def _value(table, year, scenario=None, col="emissions_t_co2_yr"):
    sel = table["year"] == year
    if scenario is not None:
        sel &= table["scenario"] == scenario
    return float(table.loc[sel, col].iloc[0])


def test_shipped_anchors_match_the_published_table():
    a = emission_anchors()
    assert set(a["scenario"]) == set(SCENARIOS)
    # every row names the review by journal, article number and DOI
    assert a["source"].str.contains("doi:10.3390/su142114377", regex=False).all()
    assert "Sustainability 2022, 14(21), 14377" in SOURCE
    assert "doi:10.3390/su142114377" in SOURCE
    got = {(r.scenario, r.year): r.emissions_mt_co2 for r in a.itertuples()}
    # scenario table of Sustainability 2022, 14(21), 14377 (Mt CO2/yr, energy sector)
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
    # PCHIP (Fritsch & Carlson 1980; end and interior slopes of Fritsch & Butland 1984 as in
    # scipy): on [y0, y1] with h = y1 - y0, t = (y - y0) / h,
    #   E = h00(t) E0 + h h10(t) d0 + h01(t) E1 + h h11(t) d1,
    #   h00 = 2t^3 - 3t^2 + 1, h10 = t^3 - 2t^2 + t, h01 = -2t^3 + 3t^2, h11 = t^3 - t^2.
    # Slopes d (Mt/yr): 0 at a peak; at an end, ((2 h0 + h1) s0 - h0 s1) / (h0 + h1) with s the
    # secant slopes; inside, the weighted harmonic mean (w1 + w2) / d = w1 / s_left + w2 / s_right
    # with w1 = 2 h_right + h_left and w2 = h_right + 2 h_left.
    e = emissions("all")
    assert len(e) == 3 * 41  # 2020..2060 inclusive, three scenarios
    # baseline 2025: s0 = 62/10 = 6.2, s1 = -127/20 = -6.35, d0 = (40 x 6.2 + 10 x 6.35) / 30
    # = 10.38333, d1 = 0 (peak 2030); t = 0.5: 0.5 x 220 + 0.125 x 10 x 10.38333 + 0.5 x 282
    # = 263.97917 Mt
    assert _value(e, 2025, "baseline") == pytest.approx(263.97917e6, rel=1e-7)
    # baseline 2021: t = 0.1: 0.972 x 220 + 0.081 x 10 x 10.38333 + 0.028 x 282 = 230.14650 Mt
    assert _value(e, 2021, "baseline") == pytest.approx(230.14650e6, rel=1e-7)
    # high-speed 2030: s0 = 84/15 = 5.6, s1 = -83/25 = -3.32, d0 = (55 x 5.6 + 15 x 3.32) / 40
    # = 8.945, d1 = 0 (peak 2035); t = 2/3: (7 x 220 + 2 x 15 x 8.945 + 20 x 304) / 27
    # = 292.16111 Mt (above the baseline's 282)
    assert _value(e, 2030, "high-speed") == pytest.approx(292.16111e6, rel=1e-7)
    # low-carbon 2040: d(2030) = 0; d(2050): s_left = -197/20 = -9.85, s_right = -29/10 = -2.9,
    # w1 = 2 x 10 + 20 = 40, w2 = 10 + 2 x 20 = 50, d = 90 / (40 / -9.85 + 50 / -2.9) = -4.22490;
    # t = 0.5 on [2030, 2050]: 0.5 x 282 + 0.5 x 85 - 0.125 x 20 x (-4.22490) = 194.06226 Mt
    assert _value(e, 2040, "low-carbon") == pytest.approx(194.06226e6, rel=1e-7)
    # anchors are reproduced exactly and flagged
    for (scenario, year, mt) in [("baseline", 2030, 282), ("baseline", 2050, 155),
                                 ("baseline", 2060, 131), ("high-speed", 2035, 304),
                                 ("high-speed", 2060, 221), ("low-carbon", 2050, 85),
                                 ("low-carbon", 2060, 56), ("low-carbon", 2020, 220)]:
        assert _value(e, year, scenario) == mt * 1e6
        assert bool(_value(e, year, scenario, "is_anchor"))
    assert not bool(_value(e, 2025, "baseline", "is_anchor"))
    # a year next to a "~" anchor is approximate; 2020 itself is not
    assert bool(_value(e, 2025, "baseline", "approximate"))
    assert not bool(_value(e, 2020, "baseline", "approximate"))
    assert e.attrs["interpolation"] == INTERPOLATION
    assert "PCHIP" in INTERPOLATION and e.attrs["source"] == SOURCE


def test_scenarios_keep_the_published_order_every_year():
    # The review: all three start at 220 Mt in 2020; baseline and low-carbon peak at ~282 Mt in
    # 2030; high-speed grows fastest to its ~304 Mt peak in 2035; in 2050 and 2060 baseline
    # (155, 131) > low-carbon (85, 56) and high-speed (2060: 221) is highest.
    e = emissions("all").pivot(index="year", columns="scenario", values="emissions_t_co2_yr")
    assert list(e.index) == list(range(2020, 2061))
    assert (e["high-speed"] >= e["baseline"]).all()
    assert (e["baseline"] >= e["low-carbon"]).all()
    # linear interpolation broke this: 2025 high-speed 220 + 84 x 5/15 = 248 < baseline 251 Mt
    assert e.loc[2025, "high-speed"] >= e.loc[2025, "baseline"] > 250e6
    # the separate high-speed cubic would be (20 x 220 + 4 x 15 x 8.945 + 7 x 304) / 27
    # = 261.656 Mt in 2025, below the baseline's 263.979: it is held at the baseline
    assert e.loc[2025, "high-speed"] == e.loc[2025, "baseline"]
    # the peaks stay in their published years
    assert e["baseline"].idxmax() == 2030
    assert e["low-carbon"].idxmax() == 2030
    assert e["high-speed"].idxmax() == 2035


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_pchip_monotone_between_anchors_no_overshoot(scenario):
    a = emission_anchors()
    a = a[a.scenario == scenario].sort_values("year")
    e = emissions(scenario)
    series = e.set_index("year")["emissions_t_co2_yr"]
    years = a["year"].tolist()
    values = a["emissions_t_co2_yr"].tolist()
    for (y0, e0), (y1, e1) in zip(zip(years[:-1], values[:-1], strict=True),
                                  zip(years[1:], values[1:], strict=True), strict=True):
        seg = series.loc[y0:y1].to_numpy()
        step = np.diff(seg)
        # one direction only between two anchors, and never outside them
        assert (step >= 0).all() if e1 >= e0 else (step <= 0).all(), (scenario, y0, y1)
        assert seg.min() >= min(e0, e1) and seg.max() <= max(e0, e1)


def test_single_scenario_equals_its_block_of_all():
    every = emissions("all")
    for name in SCENARIOS:
        one = emissions(name)
        np.testing.assert_array_equal(
            one["emissions_t_co2_yr"].to_numpy(),
            every.loc[every.scenario == name, "emissions_t_co2_yr"].to_numpy())


def test_no_extrapolation_outside_anchor_span():
    e = emissions("baseline", years=(2018, 2021))
    assert np.isnan(e["emissions_t_co2_yr"].iloc[:2]).all()
    # 2021 by hand in test_interpolation_hand_checked: 230.14650 Mt
    assert _value(e, 2021, col="emissions_t_co2_yr") == pytest.approx(230.14650e6, rel=1e-7)


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
    assert t.attrs["interpolation"] == INTERPOLATION and t.attrs["source"] == SOURCE
    # 2025, baseline: 40 / 263.97917 = 15.15271 %
    assert _value(t, 2025, col="biological_share_pct") == pytest.approx(15.15271, abs=1e-5)


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
    # PCHIP never leaves the range of the scenario's anchors
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
        ("emissions (Mt carbon)", "1", 1e6 * C_TO_CO2),
        # "carbon dioxide" is CO2, not carbon (it was read as C: 3.664 x too much)
        ("Carbon dioxide emissions (Mt)", "220", 220e6),
        ("carbon-dioxide emissions (Mt)", "220", 220e6),
        ("emissions (Mt carbon dioxide)", "2", 2e6),
        ("二氧化碳排放量 (万吨)", "3", 3e4),
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
        # "carbon emissions" is often loose wording for CO2: the unit must say which
        ("year,carbon emissions (Mt)\n2020,1\n", UnitError, "CO2 or C must be stated"),
        ("year,emissions_t_co2\n2020,lots\n", DataError, "data row 1.*'lots' is not a number"),
        ("year,emissions_t_co2\n2020,1\n2020,2\n", DataError, "year 2020 appears twice"),
        ("yr,emissions_t_co2\n2020,1\n", MissingColumnError, "no 'year' column"),
        ("year,a_t_co2,b_t_co2\n2020,1,2\n", MissingColumnError, "exactly one emissions"),
        ("year,emissions_t_co2\n20x0,1\n", DataError, "'20x0' is not a whole number"),
        ("year,emissions_t_co2\n", DataError, "no data rows"),
        ("", DataError, "no data rows"),
        # no-data codes are refused, never read as -999 t CO2
        ("year,emissions_t_co2\n2020,1\n2021,-999\n", DataError,
         "data row 2 \\(line 3\\), column 'emissions_t_co2': '-999' looks like a no-data"),
        ("year,emissions_t_co2\n2020,-9999.0\n", DataError, "'-9999.0' looks like a no-data"),
        ("year,emissions_t_co2\n2020,-99.99\n", DataError, "no-data code"),
        # the same codes in another spelling: tested on the parsed number, not the text
        ("year,emissions_t_co2\n2020,\u2212999\n", DataError, "'\u2212999' looks like a no-data"),
        ('year,emissions_t_co2\n2020,"-9,999"\n', DataError, "'-9,999' looks like a no-data"),
        ("year;emissions_t_co2\n2020;-999,0\n", DataError, "'-999,0' looks like a no-data"),
        ("year,emissions_t_co2\n2020,-9.999e3\n", DataError, "'-9.999e3' looks like a no-data"),
        ("year,emissions_t_co2\n2020,-99.9999\n", DataError, "'-99.9999' looks like a no-data"),
        ("year,emissions_t_co2\n2020,<5\n", DataError, "'<5' is a censored value"),
    ],
)
def test_bad_user_csv(tmp_path, text, error, match):
    f = tmp_path / "bad.csv"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(error, match=match):
        read_emissions_csv(f)


def test_user_csv_cells_read_by_the_package_cell_parser(tmp_path):
    # comments, a decimal-comma column with ';' as delimiter, and a thousands-separated column
    f = tmp_path / "comma.csv"
    f.write_text("# plan, 2024\nyear;emissions (Mt CO2)\n2020;1,5\n2030;2,25\n", encoding="utf-8")
    assert read_emissions_csv(f)["emissions_t_co2_yr"].tolist() == [1.5e6, 2.25e6]
    g = tmp_path / "thousands.csv"
    g.write_text('year,emissions_kt_co2\n2020,"1,234"\n2030,"1,000"\n', encoding="utf-8")
    assert read_emissions_csv(g)["emissions_t_co2_yr"].tolist() == [1.234e6, 1.0e6]
    # a genuine negative emission (net removal) that is not a no-data code is kept
    h = tmp_path / "net.csv"
    h.write_text("year,emissions_mt_co2\n2059,-1.5\n2060,-3\n", encoding="utf-8")
    assert read_emissions_csv(h)["emissions_t_co2_yr"].tolist() == [-1.5e6, -3e6]
    # -999.5 and -9998 are not no-data codes (only nines, with up to three after the point)
    k = tmp_path / "near.csv"
    k.write_text("year,emissions_t_co2\n2059,-999.5\n2060,-9998\n", encoding="utf-8")
    assert read_emissions_csv(k)["emissions_t_co2_yr"].tolist() == [-999.5, -9998.0]


def test_an_emission_of_zero_is_kept_with_a_warning(tmp_path):
    f = tmp_path / "zero.csv"
    f.write_text("year,emissions_mt_co2\n2020,0\n2030,5\n", encoding="utf-8")
    with pytest.warns(DataQualityWarning, match=r"emissions of 0 in year\(s\) \[2020\].*"
                                                r"leave the cell blank"):
        table = read_emissions_csv(f)
    assert table["emissions_t_co2_yr"].tolist() == [0.0, 5e6]


def test_missing_tokens_are_blank_and_interpolated(tmp_path):
    f = tmp_path / "na.csv"
    f.write_text("year,emissions_mt_co2\n2020,10\n2021,NA\n2022,n.d.\n2023,16\n",
                 encoding="utf-8")
    with pytest.warns(DataQualityWarning, match=r"2 blank value\(s\) \(years \[2021, 2022\]\)"):
        e = emissions(f)
    # two anchors (2020: 10, 2023: 16): PCHIP through two points is the straight line
    assert _value(e, 2021) == pytest.approx(12e6)
    assert _value(e, 2022) == pytest.approx(14e6)


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
    # no TOTAL row: the zones are summed (100 + 50; NaN skipped), with a warning that
    # overlapping zones would be counted once per zone
    with pytest.warns(DataQualityWarning, match="no 'TOTAL' row"):
        sinks = sinks_from_zonal_totals(zones)
    assert sinks["karst"] == pytest.approx(150 * C_TO_CO2)
    assert sinks["biological"] == pytest.approx(1010 * C_TO_CO2)
    with pytest.raises(MissingColumnError, match="karst_sink_t_c_yr"):
        sinks_from_zonal_totals(zones.drop(columns="karst_sink_t_c_yr"))
    with warnings.catch_warnings():  # one zone is its own total
        warnings.simplefilter("error")
        assert sinks_from_zonal_totals(zones.head(1))["karst"] == pytest.approx(
            100 * C_TO_CO2)
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
