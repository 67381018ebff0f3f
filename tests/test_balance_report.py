"""The balance in the report, the summary and run.json: its source, its years, its headline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from karstsink.config import load_run_config
from karstsink.exceptions import ConfigError, DataQualityWarning
from karstsink.report import render_report
from karstsink.scenario import balance
from karstsink.workflows.sections import headline, scenario_section, scenario_share

# 1 t C = 44.009 / 12.011 t CO2 (IUPAC molar masses of CO2 and C) = 3.66406...
C_TO_CO2 = 44.009 / 12.011


def _toml(tmp_path: Path, scenario: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text('[speciation]\nsamples = []\n[scenario]\nsinks_from = "given"\n'
                    f"karst_t_c_yr = 1e6\n{scenario}", encoding="utf-8")
    return path


def _strict_json(text: str) -> dict:
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize(("scenario", "match"), [
    # the shipped table spans 2020-2060: 2015 and 2070 would be NaN (never extrapolated)
    ("start_year = 2015\n", r"scenario\.start_year: 2015 is outside 2020-2060, the years of "
                            r"emissions 'all'"),
    ("end_year = 2070\n", r"scenario\.end_year: 2070 is outside 2020-2060"),
    ('emissions = "e.csv"\nend_year = 2040\n', r"scenario\.end_year: 2040 is outside 2020-2030"),
])
def test_years_outside_the_emissions_are_refused(tmp_path, scenario, match):
    (tmp_path / "e.csv").write_text("year,emissions_mt_co2\n2020,1\n2030,2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as err:
        load_run_config(_toml(tmp_path, scenario))
    assert "\n" not in str(err.value)


def test_default_years_stay_within_a_user_series(tmp_path):
    (tmp_path / "e.csv").write_text("year,emissions_mt_co2\n2025,1\n2050,2\n", encoding="utf-8")
    cfg = load_run_config(_toml(tmp_path, 'emissions = "e.csv"\n'))["scenario"]
    assert (cfg["start_year"], cfg["end_year"]) == (2025, 2050)  # 2020-2060 within 2025-2050
    cfg = load_run_config(_toml(tmp_path, ""))["scenario"]
    assert (cfg["start_year"], cfg["end_year"]) == (2020, 2060)


@pytest.mark.parametrize(("years", "shown"), [
    ((2061, 2070), [2061, 2070]),  # none of the report's years, 10 years: first and last
    ((2061, 2063), [2061, 2062, 2063]),  # a short span: every year
    ((2019, 2031), [2020, 2025, 2030]),  # the report's years within the span
])
def test_the_balance_table_is_never_empty(tmp_path, years, shown):
    f = tmp_path / "e.csv"
    f.write_text(f"year,emissions_mt_co2\n{years[0]},10\n{years[1]},20\n", encoding="utf-8")
    sec = scenario_section(balance({"karst": 1e6}, f), {"karst": 1e6}, tmp_path, {})
    assert sec.tables[0].data["year"].tolist() == shown
    # the file gives only the first and last year; the others are interpolated, and say so
    assert sec.tables[0].data["is_anchor"].tolist() == [y in years for y in shown]
    assert "from the map's raster total, held at that value in every year" in sec.text
    assert "upper bound" in sec.text


def test_a_user_series_is_credited_to_its_own_source(tmp_path):
    f = tmp_path / "my.csv"
    f.write_text("year,emissions (Mt CO2),source\n2030,100,Provincial plan 2024\n"
                 "2040,50,Provincial plan 2024\n", encoding="utf-8")
    table = balance({"karst": 1e6}, f)
    assert table.attrs["source"] == "user file my.csv (Provincial plan 2024)"
    text = scenario_section(table, {"karst": 1e6}, tmp_path, {}).text
    assert "Provincial plan 2024" in text and "14377" not in text
    # the shipped scenarios' order-holding sentence is theirs only
    assert "high-speed" not in text and "published anchor years" not in text
    assert "never overshoots" in text
    prov = {"karstsink version": "x"}  # "What to cite" closes the provenance
    html = render_report(title="t", sections=[], provenance=prov,
                         emission_source=table.attrs["source"])
    assert "<li>The emission series: user file my.csv (Provincial plan 2024).</li>" in html
    assert "14377" not in html
    html = render_report(title="t", sections=[], provenance=prov)
    assert "What to cite" in html and "emission series" not in html  # none balanced


def test_a_run_on_a_user_series_cites_it_and_names_the_headline_share(tmp_path):
    from click.testing import CliRunner

    from karstsink.cli import main

    (tmp_path / "my.csv").write_text("# plan\nyear,emissions (Mt CO2),source\n"
                                     "2030,100,Provincial plan 2024\n2040,50,Provincial plan "
                                     "2024\n", encoding="utf-8")
    cfg = _toml(tmp_path, 'emissions = "my.csv"\nstart_year = 2030\nend_year = 2040\n')
    res = CliRunner().invoke(main, ["run", str(cfg), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    # 1e6 t C = 3.66406e6 t CO2 over 100e6 t CO2 in 2030 = 3.664 %
    assert "offset 3.7 % of my 2030 emissions" in res.output
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "14377" not in html and html.count("Provincial plan 2024") >= 3
    assert "karst sinks, as given / my scenario&#x27;s 2030 emissions [%]</th><td>3.7<" in html
    # a given sink is not the map's MPD potential, and the report does not call it that
    text = html.split("<h2>Sinks against emission scenarios")[1]
    assert "from [scenario] karst_t_c_yr, as given" in text  # biological_t_c_yr not set
    assert "not computed by this run" in text and "MPD" not in text.split("Emissions:")[0]
    run = _strict_json((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["summary"]["share_of_emissions_first_year_pct"] == pytest.approx(
        100 * 1e6 * C_TO_CO2 / 100e6)
    assert run["summary"]["share_of_emissions_scenario"] == "my"
    assert run["summary"]["share_of_emissions_basis"] == "given"
    assert "balance: the given sinks offset 3.7 %" in res.output
    assert "Provincial plan 2024" in run["assumptions"]["emission scenarios"]


def test_the_headline_share_names_its_scenario_and_year(tmp_path):
    # shipped baseline 2020: 220 Mt CO2; sinks 1e6 t C (3.66406 Mt CO2) + 40 Mt CO2
    # = 43.66406 Mt CO2 -> 100 x 43.66406 / 220 = 19.847 %
    sinks = {"karst": 1e6 * C_TO_CO2, "biological": 40e6}
    summary, text = scenario_share(balance(sinks, "all", years=(2020, 2021)), 2020, sinks)
    assert summary["share_of_emissions_first_year_pct"] == pytest.approx(19.847, abs=1e-3)
    assert text == "sinks 43.7 Mt CO2/yr offset 19.8 % of baseline 2020 emissions"
    label = "karst + biological sinks, raster total / baseline scenario's 2020 emissions [%]"
    assert headline(summary, None, co2=False) == {label: "19.8"}
    # emissions of 0 leave the share undefined: None (null in run.json), never "nan"
    f = tmp_path / "zero.csv"
    f.write_text("year,emissions_t_co2\n2020,0\n2021,5\n", encoding="utf-8")
    with pytest.warns(DataQualityWarning, match="emissions of 0"):
        table = balance({"karst": 1.0}, f)
    summary, text = scenario_share(table, 2020, {"karst": 1.0})
    assert summary["share_of_emissions_first_year_pct"] is None
    assert "nan" not in text.lower() and "nan" not in json.dumps(summary).lower()
    assert "not defined" in next(iter(headline(summary, None, co2=False).values()))


@pytest.mark.parametrize("zones", [True, False])
def test_zones_short_of_the_map_balance_only_the_zones_and_say_so(tmp_path, zones):
    """A zone layer over the west third of the map: the balance takes the zones' TOTAL row
    (the conservative basis) and every place that shows its share says so; without zones
    it takes the raster total, as the summary's map totals do."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from click.testing import CliRunner
    from mapping_helpers import LC_SHAPE, UTM, uniform_inputs

    from karstsink.cli import main
    from karstsink.units import C_TO_CO2

    inputs = uniform_inputs(tmp_path / "rasters")
    left, top = 500000.0, 2900000.0  # the land-cover grid: 300 x 200 pixels of 30 m
    gpd.GeoDataFrame({"county": ["West"]}, crs=UTM, geometry=[shapely.box(
        left, top - 30 * LC_SHAPE[0], left + 3000.0, top)]).to_file(tmp_path / "z.gpkg")
    cfg = tmp_path / "run.toml"
    cfg.write_text("[speciation]\nsamples = []\n[map.inputs]\n"
                   + "".join(f'{k} = "rasters/{Path(v).name}"\n' for k, v in inputs.items())
                   + "[map.grid]\nblock_size = 128\n"
                   + ('[map.zones]\npath = "z.gpkg"\nfield = "county"\n' if zones else ""),
                   encoding="utf-8")
    res = CliRunner().invoke(main, ["run", str(cfg), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    run = _strict_json((out / "run.json").read_text(encoding="utf-8"))
    s = run["summary"]
    if zones:
        total = pd.read_csv(out / "map" / "zonal_totals.csv").iloc[-1]
        assert str(total["county"]).startswith("TOTAL")
        balanced = total["karst_sink_t_c_yr"] + total["biological_sink_t_c_yr"]
    else:
        balanced = s["karst_sink_t_c_yr"] + s["biological_sink_t_c_yr"]
    # the shipped baseline's 2020 emissions: 220 Mt CO2 (doi:10.3390/su142114377)
    assert s["share_of_emissions_first_year_pct"] == pytest.approx(
        100 * balanced * C_TO_CO2 / 220e6, rel=1e-6)
    assert s["share_of_emissions_basis"] == ("zones" if zones else "raster")
    raster = s["karst_sink_t_c_yr"] + s["biological_sink_t_c_yr"]
    html = (out / "report.html").read_text(encoding="utf-8")
    said = "its shares of emissions are for the zones only"
    if zones:
        # 100 of the 300 columns: a third of the uniform map's sinks
        assert balanced / raster == pytest.approx(1 / 3, rel=0.01)
        karst = 100 * total["karst_sink_t_c_yr"] / s["karst_sink_t_c_yr"]
        assert f"{karst:.1f} % of the map's raster total karst sink" in res.output
        assert said in res.output and said in run["assumptions"]["sinks balanced"]
        assert "balance: the zones' sinks offset" in res.output
        assert "sinks, zones&#x27; total / baseline scenario" in html
    else:
        assert said not in res.output and said not in json.dumps(run)
        assert "balance: the map's sinks offset" in res.output
        assert "sinks, raster total / baseline scenario" in html
