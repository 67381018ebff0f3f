"""The run's one t C / t CO2 choice and the readable magnitude of its headline numbers.

- ``[project] co2`` and ``[map.model] co2`` choose the unit of a run: the key written wins,
  two written keys must agree, neither gives t C (reviewer's bug: ``[map.model] co2 = true``
  alone gave t C maps, ``[project] co2``'s default false always won).
- A t CO2 run states its catchment sinks and map totals in t CO2: the stage lines, the
  closing lines of ``karstsink run`` and the report's summary (they always said t C).
- Map totals are written in t, kt or Mt with 3 significant digits
  (:func:`karstsink.report.format_mass`): a small map read "0.00 Mt".
- The report sections use the public :func:`karstsink.report.unit_label`, no private helper.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from mapping_helpers import uniform_inputs, zones_two_halves

from karstsink.cli import main
from karstsink.config import load_run_config
from karstsink.exceptions import ConfigError
from karstsink.report import column_label, format_mass, unit_label

UNIT_C, UNIT_CO2 = "t C km-2 yr-1", "t CO2 km-2 yr-1"  # as the map stage tags its rasters


# --------------------------------------------------------------------------------------
# the magnitude helper, on hand-chosen values
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("tonnes", "expected"), [
    (512.3, "512 t"),
    (45_600.0, "45.6 kt"),
    (1_234_000.0, "1.23 Mt"),
    (12.34, "12.3 t"),
    (0.5, "0.500 t"),
    (999.0, "999 t"),
    (999.7, "1.00 kt"),        # rounded first: 1,000 t is 1.00 kt, not "1,000 t"
    (999_600.0, "1.00 Mt"),
    (100_000.0, "100 kt"),
    (1.5e9, "1,500 Mt"),       # no larger unit than Mt
    (0.0, "0 t"),
    (-512.3, "-512 t"),        # a net source keeps its sign
    (-0.0001, "-0.000100 t"),
])
def test_format_mass_picks_a_readable_magnitude(tonnes, expected):
    assert format_mass(tonnes) == expected


def test_format_mass_writes_what_and_per_and_no_number_for_nan():
    assert format_mass(512.3, "C", per="yr") == "512 t C/yr"
    assert format_mass(45_600, "CO2", per="yr") == "45.6 kt CO2/yr"
    assert format_mass(2.5e6, "CO2") == "2.50 Mt CO2"
    assert format_mass(math.nan, "C", per="yr") == "n/a"


def test_unit_label_is_public_and_is_the_column_headers_unit():
    assert unit_label("t C km-2 yr-1") == "t C km⁻² yr⁻¹"
    assert unit_label(UNIT_CO2) == "t CO2 km⁻² yr⁻¹"  # the formula keeps its 2
    assert unit_label("m3/s") == "m³/s"
    assert unit_label("1") == unit_label("") == ""
    assert column_label("karst_sink_t_c_km2_yr")[1] == unit_label("t C km-2 yr-1")


def test_no_workflow_imports_a_private_name_of_the_report():
    src = Path(__file__).resolve().parents[1] / "src" / "karstsink"
    for path in [*sorted((src / "workflows").glob("*.py")), src / "cli" / "_run.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and "report" in node.module:
                assert "_tables" not in node.module, (path.name, node.module)
                assert not any(a.name.startswith("_") for a in node.names), path.name


# --------------------------------------------------------------------------------------
# [project] co2 and [map.model] co2
# --------------------------------------------------------------------------------------
def _map_toml(folder: Path, project: str = "", model: str = "") -> Path:
    inputs = uniform_inputs(folder / "rasters")
    text = ((f"[project]\n{project}\n" if project else "")
            + "[speciation]\nsamples = []\n[map.inputs]\n"
            + "".join(f'{k} = "rasters/{Path(v).name}"\n' for k, v in inputs.items())
            + "[map.grid]\nblock_size = 128\n"
            + (f"[map.model]\n{model}\n" if model else ""))
    cfg = folder / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


@pytest.mark.parametrize(("project", "model", "co2", "key"), [
    ("", "", False, None),
    ("", "co2 = true", True, "map.model.co2"),      # the bug: this gave t C
    ("", "co2 = false", False, "map.model.co2"),
    ("co2 = true", "", True, "project.co2"),
    ("co2 = false", "", False, "project.co2"),
    ("co2 = true", "co2 = true", True, "project.co2"),
    ("co2 = false", "co2 = false", False, "project.co2"),
])
def test_the_co2_key_written_wins(tmp_path, project, model, co2, key):
    cfg = load_run_config(_map_toml(tmp_path, project, model))
    assert cfg["project"]["co2"] is co2
    assert cfg["project"]["co2_key"] == key
    assert cfg["map"].co2 is co2  # the map stage's own setting is the run's


@pytest.mark.parametrize(("project", "model"), [("true", "false"), ("false", "true")])
def test_conflicting_co2_keys_are_one_line_naming_both(tmp_path, project, model):
    path = _map_toml(tmp_path, f"co2 = {project}", f"co2 = {model}")
    with pytest.raises(ConfigError) as err:
        load_run_config(path)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"{path.resolve()}: project.co2: is {project} but map.model.co2 "
                           f"is {model};")
    assert "remove one of them or write the same value in both" in text


def test_conflicting_co2_keys_stop_karstsink_run_before_any_stage(tmp_path):
    path = _map_toml(tmp_path, "co2 = false", "co2 = true")
    res = CliRunner().invoke(main, ["run", str(path), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output  # a KarstSinkError (docs/cli.md's exit codes)
    errors = [line for line in res.stderr.splitlines() if "project.co2" in line]
    assert len(errors) == 1 and "map.model.co2" in errors[0], res.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------
# a whole run with only [map.model] co2 = true: rasters, stage lines, stdout, summary
# --------------------------------------------------------------------------------------
# Map (tests/test_report_units.py): a carbonate pixel sinks 12.011 x 0.5 m/yr x 1.932 mmol/L
# = 11.60 t C km-2 yr-1 over 150 x 300 pixels of 30 m = 40.5 km2 of carbonate: 470 t C/yr,
# x 44.009/12.011 = 1,722 t CO2/yr; biological 70 t C km-2 yr-1 (WorldCover tree cover)
# over the grid's 54 km2 = 3,780 t C/yr = 13,850 t CO2/yr.
# Catchment (tests/test_package.py): 7.765 t C km-2 yr-1 = 28.45 t CO2 km-2 yr-1
# (28.45 in the stage line, 3 digits on stdout and in the summary).
@pytest.fixture(scope="module")
def co2_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("map_model_co2")
    inputs = uniform_inputs(folder / "rasters")
    zones_two_halves(folder / "rasters")
    days = pd.date_range("2018-10-01", "2021-09-30", freq="D")
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0}).to_csv(
        folder / "q.csv", index=False)
    pd.DataFrame({"date": days[::30].strftime("%Y-%m-%d"), "hco3": 250.0}).to_csv(
        folder / "s.csv", index=False)
    text = ('[[catchments]]\nname = "a"\narea_km2 = 100\ndischarge = "q.csv"\n'
            'samples = "s.csv"\nunits = "mg/L"\nmethod = "direct"\n'
            "[speciation]\nsamples = []\n[map.inputs]\n"
            + "".join(f'{k} = "rasters/{Path(v).name}"\n' for k, v in inputs.items())
            + '[map.zones]\npath = "rasters/zones.gpkg"\nfield = "county"\n'
            + '[map.tables]\nlandcover = "worldcover"\n[map.grid]\nblock_size = 128\n'
            + "[map.model]\nco2 = true\n[report]\nhtml = true\n")
    cfg = folder / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    out = folder / "out"
    res = CliRunner().invoke(main, ["run", str(cfg), "-o", str(out), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    return out, res


def test_map_model_co2_alone_writes_t_co2_rasters(co2_run):
    import rasterio

    out, _ = co2_run
    for name in ("karst_sink.tif", "biological_sink.tif", "total_sink.tif"):
        with rasterio.open(out / "map" / name) as ds:
            assert ds.tags(1)["units"] == UNIT_CO2, name


def test_catchment_sinks_csv_carries_the_interval_in_both_units(co2_run):
    # "tables always carry both": the 95 % interval in t CO2 is the t C one x 44.009/12.011
    out, _ = co2_run
    row = pd.read_csv(out / "catchment_sinks.csv").iloc[0]
    assert row["sink_t_co2_km2_yr"] == pytest.approx(row["sink_t_c_km2_yr"] * 44.009 / 12.011,
                                                     rel=1e-4)
    for bound in ("lo95", "hi95"):
        assert row[f"sink_{bound}_t_co2_km2_yr"] == pytest.approx(
            row[f"sink_{bound}_t_c_km2_yr"] * 44.009 / 12.011, rel=1e-4)


def test_a_t_co2_run_prints_its_sinks_in_t_co2(co2_run):
    _, res = co2_run
    stdout = res.stdout.splitlines()
    assert "catchment sinks [t CO2 km-2 yr-1]: a 28.5" in stdout
    # (the area: 40.5 km2 summed over the pixels, printed without decimals)
    assert any(re.fullmatch(r"map: karst 1\.72 kt CO2/yr over 4[01] km2 of carbonate rock; "
                            r"biological 13\.9 kt CO2/yr", line) for line in stdout), stdout
    assert not any(re.search(r"\bt C\b|Mt", line) for line in stdout), stdout
    # the stage lines on stderr: the catchment and the map in t CO2 too
    assert "1 catchment(s): a 28.45 t CO2 km-2 yr-1" in res.stderr
    assert re.search(r"karst 1\.72 kt CO2/yr over 4[01] km2 of carbonate rock; biological "
                     r"13\.9 kt CO2/yr \(", res.stderr), res.stderr
    assert "t C km-2" not in res.stderr


def _summary(html: str) -> dict[str, str]:
    block = re.search(r'<section class="summary".*?</section>', html, flags=re.S)
    assert block is not None
    return dict(re.findall(r'<th scope="row">(.*?)</th><td>(.*?)</td>', block.group(0)))


def test_a_t_co2_run_headlines_its_sinks_in_t_co2_at_a_readable_magnitude(co2_run):
    import json

    out, _ = co2_run
    head = _summary((out / "report.html").read_text(encoding="utf-8"))
    assert head["karst sink, raster total"] == "1.72 kt CO2/yr (470 t C/yr)"
    assert head["biological sink, raster total"] == "13.9 kt CO2/yr (3.78 kt C/yr)"
    key = "a sink at the outlet, whole record [t CO2 km⁻² yr⁻¹]"
    assert head[key].startswith("28.5 (95 %: ") and head[key].endswith("; 7.77 t C)"), head
    assert not any("t C km" in k for k in head), head
    assert json.loads((out / "run.json").read_text(encoding="utf-8"))["summary"]["co2"] is True


def test_the_headline_follows_the_co2_choice():
    from karstsink.workflows.sections import headline

    table = pd.DataFrame({"catchment": ["a"], "sink_t_c_km2_yr": [7.7652],
                          "sink_lo95_t_c_km2_yr": [7.5], "sink_hi95_t_c_km2_yr": [8.0],
                          "sink_t_co2_km2_yr": [28.452]})
    summary = {"karst_sink_t_c_yr": 512.3, "biological_sink_t_c_yr": 45_600.0,
               "karst_area_km2": 44.0}
    c = headline(summary, table, co2=False)
    assert c["karst sink, raster total"] == "512 t C/yr (1.88 kt CO2/yr)"
    assert c["biological sink, raster total"] == "45.6 kt C/yr (167 kt CO2/yr)"
    assert c["a sink at the outlet, whole record [t C km⁻² yr⁻¹]"] == \
        "7.77 (95 %: 7.50-8.00; 28.5 t CO2)"
    co2 = headline(summary, table, co2=True)
    assert co2["karst sink, raster total"] == "1.88 kt CO2/yr (512 t C/yr)"
    assert co2["a sink at the outlet, whole record [t CO2 km⁻² yr⁻¹]"] == \
        "28.5 (95 %: 27.5-29.3; 7.77 t C)"


@pytest.mark.parametrize(("project", "model", "expected"), [
    ("", "", "t C, the default (neither [project] co2 nor [map.model] co2 is set)"),
    ("", "co2 = true", "t CO2, chosen by [map.model] co2 = true"),
    ("co2 = false", "", "t C, chosen by [project] co2 = false"),
])
def test_the_runs_assumptions_say_where_its_unit_came_from(tmp_path, project, model,
                                                          expected):
    from karstsink.workflows.sections import assumptions

    cfg = load_run_config(_map_toml(tmp_path, project, model))
    assert assumptions(cfg, None, None)["unit"].startswith(expected + ":")
