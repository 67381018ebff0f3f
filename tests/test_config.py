"""Run-configuration checker: defaults, relative paths, one clear error per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from karstsink.config import load_run_config
from karstsink.exceptions import ConfigError

CATCHMENT = """
[[catchments]]
name = "a"
area_km2 = 10
discharge = "q.csv"
samples = "s.csv"
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "q.csv").write_text("date,Q (m3/s)\n2020-01-01,1\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("Date,HCO3- (mg/L)\n2020-01-01,200\n", encoding="utf-8")
    (tmp_path / "lc.tif").write_bytes(b"")
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_relative_paths(tmp_path):
    cfg = load_run_config(_write(tmp_path, CATCHMENT))
    c = cfg["catchments"][0]
    assert c["discharge"] == tmp_path / "q.csv" and c["discharge"].is_absolute()
    assert (c["constituent"], c["units"], c["method"], c["q_unit"], c["year_start"]) == (
        "hco3", "mg/L", "loadest", "m3/s", 10)
    assert cfg["project"]["output"] == tmp_path / "karstsink_output"
    assert cfg["project"]["co2"] is False
    assert cfg["speciation"]["samples"] == [tmp_path / "s.csv"]
    assert cfg["speciation"]["database"] == "phreeqc.dat"
    assert cfg["map"] is None
    assert cfg["scenario"]["emissions"] == "all"
    assert cfg["report"]["html"] is True


def test_given_sinks_and_csv_scenario(tmp_path):
    (tmp_path / "e.csv").write_text("year,emissions_mt_co2\n2020,1\n", encoding="utf-8")
    cfg = load_run_config(_write(tmp_path, CATCHMENT + """
[scenario]
emissions = "e.csv"
sinks_from = "given"
karst_t_c_yr = 1.0e6
biological_t_c_yr = 2.0e7
"""))
    assert cfg["scenario"]["emissions"] == tmp_path / "e.csv"
    assert cfg["scenario"]["karst_t_c_yr"] == 1.0e6


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[project]\nnmae = 'x'\n", r"project\.nmae: unknown key"),
        ("[projct]\n", r"projct: unknown key"),
        ("[catchments]\nname='a'\n", r"\[\[catchments\]\] \(double brackets\)"),
        ("[[catchments]]\nname='a'\narea_km2=1\ndischarge='q.csv'\n",
         r"catchments\[0\]\.samples: is required"),
        (CATCHMENT.replace("area_km2 = 10", "area_km2 = -1"), r"area_km2: must be a positive"),
        (CATCHMENT.replace("area_km2 = 10", "area_km2 = '10'"), r"area_km2: must be a number"),
        (CATCHMENT.replace("q.csv", "nope.csv"), r"discharge: file 'nope.csv' not found"),
        (CATCHMENT + "method = 'magic'\n", r"method: 'magic' is not one of direct"),
        (CATCHMENT + "year_start = 13\n", r"year_start: must be a month number"),
        (CATCHMENT + CATCHMENT, r"catchment 'a' is given twice"),
        ("[project]\nco2 = 'yes'\n", r"project\.co2: must be true or false"),
        ("[scenario]\nsinks_from = 'given'\n", r"scenario\.karst_t_c_yr: is required"),
        ("[scenario]\nemissions = 'medium.csv'\nsinks_from='given'\nkarst_t_c_yr=1\n",
         r"scenario\.emissions: file 'medium.csv' not found"),
        ("[scenario]\nsinks_from = 'map'\n", r"no \[map\] section"),
        ("[scenario]\nstart_year = 2050\nend_year = 2040\nsinks_from='given'\nkarst_t_c_yr=1\n",
         r"end_year: 2040 is before"),
        ("[map.inputs]\nlandcover = 'lc.tif'\n", r"map: \[map\.inputs\] carbonate is required"),
        ("[map.inputs]\nlandcover='lc.tif'\ncarbonate='lc.tif'\ntemperature='lc.tif'\n"
         "soil_pco2='lc.tif'\n", r"map: \[map\.inputs\] needs runoff"),
        ("[map.inputs]\nlandcover='lc.tif'\ncarbonate='lc.tif'\ntemperature='lc.tif'\n"
         "runoff='lc.tif'\nsoil_pco2='lc.tif'\nrainfall='lc.tif'\n",
         r"map: unknown key 'rainfall' in \[map\.inputs\]"),
        ("[map.inputs]\nlandcover='nope.tif'\n", r"map: \[map\.inputs\] landcover: file .*nope"),
        ("[map.colours]\nx=1\n", r"map: unknown section \[map\.colours\]"),
        ("[speciation]\nengine = 'pyphreeqc'\n", r"speciation\.engine: 'pyphreeqc'"),
        ("[report]\nhtml = 1\n", r"report\.html: must be true or false"),
        ("project = [\n", r"not valid TOML"),
    ],
)
def test_errors_name_file_and_key(tmp_path, text, match):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=match) as info:
        load_run_config(path)
    assert str(path.resolve()) in str(info.value) or str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="run configuration file not found"):
        load_run_config(tmp_path / "none.toml")
