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
    # no unit defaults: the headers decide (a header with no unit is the reader's error)
    assert (c["constituent"], c["units"], c["method"], c["q_unit"], c["year_start"]) == (
        "hco3", None, "loadest", None, 10)
    assert (c["max_gap_days"], c["allow_gaps"], c["method_options"], c["boundary"]) == (
        7, False, {}, None)
    # [carbon] defaults (docs/config.md, karstsink.carbon): all non-evaporite SO4 and all NO3
    # taken as acid (Li et al. 2008; Song et al. 2017), no evaporite SO4, no TOC as sink
    assert {k: cfg["carbon"][k] for k in ("acid_so4_share", "evaporite_so4_share",
                                          "acid_no3_share", "bcp_share", "so4_mmol_l",
                                          "no3_mmol_l")} == {
        "acid_so4_share": 1.0, "evaporite_so4_share": 0.0, "acid_no3_share": 1.0,
        "bcp_share": 0.0, "so4_mmol_l": None, "no3_mmol_l": None}
    assert (c["acid_so4_share"], c["evaporite_so4_share"], c["acid_no3_share"],
            c["bcp_share"], c["carbon_overrides"]) == (1.0, 0.0, 1.0, 0.0, {})
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


@pytest.mark.parametrize("written, taken", [(" Low-Carbon ", "low-carbon"), ("ALL", "all")])
def test_scenario_names_in_any_case(tmp_path, written, taken):
    # one rule (io.emissions.shipped_name) tells a shipped scenario from a file, in the
    # configuration as in karstsink.scenario.emissions, which agrees on the rows
    from karstsink.scenario import emissions

    cfg = load_run_config(_write(tmp_path, CATCHMENT + f"""
[scenario]
emissions = "{written}"
sinks_from = "given"
karst_t_c_yr = 1.0e6
"""))
    assert cfg["scenario"]["emissions"] == taken
    names = {"low-carbon": ["low-carbon"], "all": ["baseline", "high-speed", "low-carbon"]}
    assert sorted(set(emissions(written)["scenario"])) == names[taken]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[project]\nnmae = 'x'\n", r"project\.nmae: unknown key"),
        ("[projct]\n", r"projct: unknown key"),
        ("[catchments]\nname='a'\n", r"\[\[catchments\]\] \(double brackets\)"),
        ("[[catchments]]\nname='a'\narea_km2=1\ndischarge='q.csv'\n",
         r"catchments\[0\]\.samples: is required"),
        (CATCHMENT.replace("area_km2 = 10", "area_km2 = -1"),
         r"catchments\[0\]\.area_km2: must be a positive"),
        (CATCHMENT.replace("area_km2 = 10", "area_km2 = '10'"),
         r"catchments\[0\]\.area_km2: must be a number"),
        (CATCHMENT.replace("q.csv", "nope.csv"),
         r"catchments\[0\]\.discharge: file 'nope.csv' not found"),
        (CATCHMENT + "method = 'magic'\n",
         r"catchments\[0\]\.method: 'magic' is not one of direct"),
        (CATCHMENT + "year_start = 13\n", r"catchments\[0\]\.year_start: must be a month number"),
        (CATCHMENT + "model = 3\nmethod = 'rating'\n",
         r"catchments\[0\]\.model: is the LOADEST model number"),
        (CATCHMENT + "model = 12\n", r"catchments\[0\]\.model: must be a LOADEST model 1-9"),
        (CATCHMENT + "bootstrap = 10\n", r"catchments\[0\]\.bootstrap: is a WRTDS option"),
        (CATCHMENT + "method = 'wrtds'\nwindow_q = 0\n",
         r"catchments\[0\]\.window_q: must be a positive, finite half-window"),
        (CATCHMENT + "method = 'wrtds'\nmin_obs = 5\n", r"catchments\[0\]\.min_obs: must be 6"),
        (CATCHMENT + "method = 'wrtds'\nseed = 1.5\n",
         r"catchments\[0\]\.seed: must be a whole number"),
        # numpy takes no negative seed: refused before any stage runs, not at the flux stage
        (CATCHMENT + "method = 'wrtds'\nseed = -1\n",
         r"catchments\[0\]\.seed: must be a whole number 0 or more .*not -1"),
        (CATCHMENT + "proxy = 'EC'\n", r"catchments\[0\]\.proxy: is for method = \"direct\""),
        (CATCHMENT + "method = 'rating'\nextra = ['EC']\n",
         r"catchments\[0\]\.extra: regressors are for method = \"loadest\""),
        (CATCHMENT + "max_gap_days = -1\n", r"catchments\[0\]\.max_gap_days: must be 0"),
        (CATCHMENT + "allow_gaps = 'yes'\n", r"catchments\[0\]\.allow_gaps: must be true"),
        (CATCHMENT + "bcp_share = 1.2\n",
         r"catchments\[0\]\.bcp_share: must be a number in 0-1 \(a share\)"),
        (CATCHMENT + "silicate_fraction = -0.1\n",
         r"catchments\[0\]\.silicate_fraction: must be a number in 0-1 \(a share\)"),
        (CATCHMENT + "boundary = 'nope.gpkg'\n",
         r"catchments\[0\]\.boundary: file 'nope.gpkg' not found"),
        (CATCHMENT + "boundary_layer = 'a'\n", r"catchments\[0\]\.boundary_layer: needs boundary"),
        (CATCHMENT + "units = 3\n", r"catchments\[0\]\.units: must be a string"),
        ("[carbon]\nacid_so4_share = 1.5\n",
         r"carbon\.acid_so4_share: must be a number in 0-1 \(a share\); got 1.5"),
        ("[carbon]\nso4_mmol_l = -1\n",
         r"carbon\.so4_mmol_l: must be a number >= 0 \(a concentration in mmol/L\); got -1"),
        ("[carbon]\nacid_share = 1\n", r"carbon\.acid_share: unknown key"),
        ("[carbon]\nbcp_share = '0.7'\n", r"carbon\.bcp_share: must be a number"),
        ("[map.inputs]\nlandcover='lc.tif'\ncarbonate='lc.tif'\ntemperature='lc.tif'\n"
         "runoff='lc.tif'\nsoil_pco2='lc.tif'\n[map.model]\nacid_so4_share = 0.5\n",
         r"map\.model\.acid_so4_share: set it in \[carbon\]"),
        (CATCHMENT + CATCHMENT, r"catchment 'a' is given twice"),
        ("[project]\nco2 = 'yes'\n", r"project\.co2: must be true or false"),
        ("[scenario]\nsinks_from = 'given'\n", r"scenario\.karst_t_c_yr: is required"),
        ("[scenario]\nemissions = 'medium.csv'\nsinks_from='given'\nkarst_t_c_yr=1\n",
         r"scenario\.emissions: file 'medium.csv' not found"),
        ("[scenario]\nsinks_from = 'map'\n", r"no \[map\] section"),
        # TOML's inf and nan are floats, never a sink
        ("[scenario]\nsinks_from = 'given'\nkarst_t_c_yr = inf\n",
         r"scenario\.karst_t_c_yr: must be a number >= 0 \(t C per year taken up\)"),
        ("[scenario]\nsinks_from = 'given'\nkarst_t_c_yr = 1\nbiological_t_c_yr = nan\n",
         r"scenario\.biological_t_c_yr: must be a number >= 0 \(t C per year"),
        # an emissions file whose header does not say C or CO2 fails before any stage runs
        ("[scenario]\nemissions = 'q.csv'\nsinks_from='given'\nkarst_t_c_yr=1\n",
         r"scenario\.emissions: Emissions file .*q\.csv.* has no 'year' column"),
        ("[speciation]\ndatabase = 'nosuch.dat'\n",
         r"speciation\.database: 'nosuch\.dat' is neither a file .* bundled databases"),
        (CATCHMENT + "method = 'wrtds'\nwindow_y = inf\n",
         r"catchments\[0\]\.window_y: must be a positive, finite half-window"),
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


def test_messages_name_toml_keys_never_cli_flags(tmp_path):
    for text in (CATCHMENT + "proxy = 'EC'\n", CATCHMENT + "method = 'rating'\nextra = 'EC'\n",
                 CATCHMENT + "bootstrap = 5\n"):
        with pytest.raises(ConfigError) as info:
            load_run_config(_write(tmp_path, text))
        assert "--" not in str(info.value)


def test_carbon_table_is_the_one_basis(tmp_path):
    map_inputs = ("[map.inputs]\nlandcover='lc.tif'\ncarbonate='lc.tif'\ntemperature='lc.tif'\n"
                  "runoff='lc.tif'\nsoil_pco2='lc.tif'\n")
    text = ("[carbon]\nacid_so4_share = 0.5\nevaporite_so4_share = 0.2\n"
            "acid_no3_share = 0.4\nbcp_share = 0.6\nso4_mmol_l = 0.3\nno3_mmol_l = 0.1\n"
            + CATCHMENT + CATCHMENT.replace('"a"', '"b"')
            + 'so4 = "so4"\nacid_so4_share = 0.8\n'  # its own share needs its SO4 column
            + map_inputs)
    cfg = load_run_config(_write(tmp_path, text))
    a, b = cfg["catchments"]
    assert (a["acid_so4_share"], a["evaporite_so4_share"], a["acid_no3_share"],
            a["bcp_share"], a["carbon_overrides"]) == (0.5, 0.2, 0.4, 0.6, {})
    # a catchment's own share wins and is recorded as an override
    assert b["acid_so4_share"] == 0.8 and b["carbon_overrides"] == {"acid_so4_share": 0.8}
    m = cfg["map"]
    assert (m.acid_so4_share, m.evaporite_so4_share, m.acid_no3_share, m.so4_mmol_l,
            m.no3_mmol_l) == (0.5, 0.2, 0.4, 0.3, 0.1)
    # without so4_mmol_l / no3_mmol_l the map gets the shares but no acid correction
    cfg = load_run_config(_write(tmp_path, CATCHMENT + map_inputs))
    assert (cfg["map"].so4_mmol_l, cfg["map"].no3_mmol_l) == (None, None)
    assert cfg["map"].acid_so4_share == 1.0


def test_every_flux_option_is_read(tmp_path):
    text = CATCHMENT + (
        "method = 'wrtds'\nbootstrap = 0\njobs = 2\nwindow_y = 5\nwindow_q = 1.5\n"
        "window_s = 0.25\nmin_obs = 40\nmin_uncen = 20\nseed = 3\nblock_days = 60\n"
        "edge_adjust = false\nq_unit = 'L/s'\nq_column = 'Q'\ndate_column = 'Date'\n"
        "date_format = '%d/%m/%Y'\nmax_gap_days = 2\nallow_gaps = true\nunits = 'mmol/L'\n"
        "so4 = 'so4'\nno3 = 'no3'\ntoc = 'toc'\nsilicate_fraction = 0.2\n")
    c = load_run_config(_write(tmp_path, text))["catchments"][0]
    assert c["method_options"] == {"bootstrap": 0, "jobs": 2, "window_y": 5.0,
                                   "window_q": 1.5, "window_s": 0.25, "min_obs": 40,
                                   "min_uncen": 20, "seed": 3, "block_days": 60,
                                   "edge_adjust": False}
    assert (c["q_unit"], c["q_column"], c["date_column"], c["date_format"],
            c["max_gap_days"], c["allow_gaps"], c["units"], c["silicate_fraction"]) == (
        "L/s", "Q", "Date", "%d/%m/%Y", 2, True, "mmol/L", 0.2)
    c = load_run_config(_write(tmp_path, CATCHMENT + "model = 99\nextra = 'EC'\n")
                        )["catchments"][0]
    assert (c["method_options"], c["extra"]) == ({"model": 99}, ["EC"])


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="run configuration file not found"):
        load_run_config(tmp_path / "none.toml")


def test_a_byte_order_mark_is_read_past(tmp_path):
    # Windows Notepad saves UTF-8 with a byte-order mark: the same configuration is read
    # as without it (it was "not valid TOML ... line 1, column 1"); a mark in GBK is not
    # one, so such a file is still refused as not UTF-8
    text = "[carbon]\nbcp_share = 0.7\n[speciation]\nsamples = []\n"
    plain = load_run_config(_write(tmp_path, text))["carbon"]["bcp_share"]
    path = tmp_path / "run.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert load_run_config(path)["carbon"]["bcp_share"] == plain == 0.7
    path.write_bytes("# 喀斯特\n".encode("gbk") + text.encode("utf-8"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_run_config(path)
