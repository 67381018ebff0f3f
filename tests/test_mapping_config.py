"""Map configuration validation and the shipped land-cover tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mapping_helpers import uniform_inputs, write_config

from karstsink.exceptions import ConfigError, DataError, MissingColumnError
from karstsink.mapping.config import load_config
from karstsink.mapping.landcover import guess_table, load_landcover_table

WORLDCOVER = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100]
CLCD = [1, 2, 3, 4, 5, 6, 7, 8, 9]


@pytest.mark.parametrize(("name", "codes"), [("worldcover", WORLDCOVER), ("clcd", CLCD)])
def test_shipped_tables_cover_every_class_with_sources(name, codes):
    t = load_landcover_table(name)
    assert sorted(t.classes.tolist()) == codes
    assert t.table["source"].str.len().min() > 20
    for col in ("soil_pco2_factor", "runoff_factor", "biological_sink_tc_km2_yr"):
        assert t.table[col].notna().all()
    # the old fractional cut of the karst sink is gone (issue 11: one acid correction)
    assert "acid_so4_share" not in t.columns
    assert not t.table["source"].str.contains("acid:").any()


def test_shipped_factors_follow_lan_2017():
    # Lan et al. 2017: soil CO2 grassland 7527, forest 7197, maize 4414 mg/m3
    t = load_landcover_table("worldcover").table.set_index("class")
    assert t.loc[30, "soil_pco2_factor"] == pytest.approx(7527 / 7197, abs=0.001)
    assert t.loc[40, "soil_pco2_factor"] == pytest.approx(4414 / 7197, abs=0.01)


def test_guess_table():
    assert guess_table(np.array([1, 2, 4])) == "clcd"
    assert guess_table(np.array([10, 40, 95])) == "worldcover"
    assert guess_table(np.array([10, 3])) is None


def test_custom_table_errors(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"class": [1], "name": ["x"], "soil_pco2_factor": [1.0]}).to_csv(p)
    with pytest.raises(MissingColumnError, match="runoff_factor"):
        load_landcover_table(p)
    pd.DataFrame({"class": [1, 1], "name": ["a", "b"], "soil_pco2_factor": [1, 1],
                  "runoff_factor": [1, 1], "biological_sink_tc_km2_yr": [0, 0],
                  "source": ["s", "s"]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="class 1 appears twice"):
        load_landcover_table(p)
    pd.DataFrame({"class": [1], "name": ["a"], "soil_pco2_factor": [-1],
                  "runoff_factor": [1], "biological_sink_tc_km2_yr": [0],
                  "source": ["s"]}).to_csv(p, index=False)
    with pytest.raises(DataError, match="soil_pco2_factor in row 2"):
        load_landcover_table(p)


def test_custom_table_comments_quotes_and_blank_lines(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text(
        "# my table\n"
        "class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source\n"
        "\n"
        '7,forest,1.0,1.0,70,"field plot #3, 2021"\n'
        "# a comment line between rows\n"
        "9, crop ,0.62,0.9,0,assumption\n", encoding="utf-8")
    t = load_landcover_table(p)
    assert t.classes.tolist() == [7, 9]
    assert t.columns["source"] == ["field plot #3, 2021", "assumption"]
    assert t.columns["name"] == ["forest", "crop"]
    assert np.array_equal(t.lookup("runoff_factor")[[7, 9]], [1.0, 0.9])
    assert np.isnan(t.lookup("soil_pco2_factor")[8])
    assert t.table["class"].tolist() == [7, 9]  # the DataFrame view
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())  # with a UTF-8 BOM (Excel's CSV)
    assert load_landcover_table(p).classes.tolist() == [7, 9]


@pytest.mark.parametrize(("text", "match"), [
    ("class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source,name\n"
     "1,a,1,1,0,s,b\n", "column 'name' appears twice"),
    ("class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source\n"
     "1,a,1,1,0,field plot, 2021\n", "row 2 has 7 cells"),
])
def test_custom_table_structure_errors(tmp_path, text, match):
    p = tmp_path / "t.csv"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=match):
        load_landcover_table(p)


def test_custom_table_errors_name_the_file_line_and_class(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("# provenance header\n"
                 "class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source\n"
                 "1,a,1,1,0,s\n"
                 "2,b,1,abc,0,s\n", encoding="utf-8")
    # row 4 of the file (the comment line counts), class 2, the column and the cell
    with pytest.raises(DataError, match=r"t\.csv: column runoff_factor in row 4 \(class 2\) "
                                        r"is 'abc'; expected a number >= 0"):
        load_landcover_table(p)


def test_custom_table_semicolons_and_decimal_commas(tmp_path):
    # the package's one text reader sniffs the delimiter; the one cell parser reads
    # decimal commas per column (a European spreadsheet export)
    p = tmp_path / "t.csv"
    p.write_text("class;name;soil_pco2_factor;runoff_factor;biological_sink_tc_km2_yr;source\n"
                 "7;forest;1,0;0,9;70;plot\n"
                 "9;crop;0,62;1,0;0;plot\n", encoding="utf-8")
    t = load_landcover_table(p)
    assert np.array_equal(t.lookup("soil_pco2_factor")[[7, 9]], [1.0, 0.62])
    assert np.array_equal(t.lookup("runoff_factor")[[7, 9]], [0.9, 1.0])


def test_custom_table_class_so4_no3_columns(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,"
                 "no3_mmol_l,source\n"
                 "10,forest,1.0,1.0,70,,plot\n"
                 "40,crop,0.62,1.0,0,0.5,plot\n", encoding="utf-8")
    t = load_landcover_table(p)
    lut = t.lookup("no3_mmol_l")
    assert np.isnan(lut[10]) and lut[40] == 0.5  # blank: the [model] value applies
    p.write_text(p.read_text(encoding="utf-8").replace("0.5,plot", "-1,plot"),
                 encoding="utf-8")
    with pytest.raises(DataError, match=r"column no3_mmol_l in row 3 \(class 40\)"):
        load_landcover_table(p)


def test_old_acid_so4_share_column_is_refused(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("class,name,soil_pco2_factor,runoff_factor,acid_so4_share,"
                 "biological_sink_tc_km2_yr,source\n1,a,1,1,0.14,0,s\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"column acid_so4_share is no longer read.*"
                                          r"\[model\] so4_mmol_l / no3_mmol_l"):
        load_landcover_table(p)


def test_config_paths_relative_to_file(tmp_path):
    inputs = uniform_inputs(tmp_path)
    cfg = load_config(write_config(tmp_path, inputs))
    assert cfg.inputs["temperature"] == (tmp_path / "temperature.tif").resolve()
    assert cfg.block_size == 128


@pytest.mark.parametrize(("extra", "match"), [
    ("[model]\nsytem = \"open\"\n", "unknown key 'sytem' in \\[model\\]"),
    ("[outputs]\nx = 1\n", "unknown section \\[outputs\\]"),
    ("[model]\nsystem = \"half\"\n", "system must be one of open, closed"),
    ("[model]\noutputs = [\"erosion\"]\n", "outputs must be a list"),
    ("[scenario]\ntransitions = [{from = 40, to = 10, min_slope_deg = 25}]\n",
     "needs \\[inputs\\] dem"),
    ("[zones]\npath = \"nothere.gpkg\"\nfield = \"name\"\n", "nothere.gpkg does not exist"),
    # a transition's classes are integer codes: 1.7 ran as 1, true as 1, "cropland" crashed
    ("[scenario]\ntransitions = [{from = 1.7, to = 2}]\n",
     "transition 1 from must be a land-cover class code \\(an integer, e.g. from = 1\\), got 1.7"),
    ("[scenario]\ntransitions = [{from = 40, to = true}]\n", "transition 1 to must be"),
    ("[scenario]\ntransitions = [{from = \"cropland\", to = 10}]\n",
     "from must be a land-cover class code"),
    ("[scenario]\ntransitions = [{from = 40, to = 10, min_slope_deg = \"5\"}]\n",
     "min_slope_deg must be a number in 0-90 \\(degrees\\); got '5'"),
])
def test_config_errors_name_section_and_key(tmp_path, extra, match):
    inputs = uniform_inputs(tmp_path)
    with pytest.raises(ConfigError, match=match):
        load_config(write_config(tmp_path, inputs, extra=extra))


def test_missing_required_inputs(tmp_path):
    inputs = uniform_inputs(tmp_path)
    del inputs["runoff"]
    with pytest.raises(ConfigError, match="needs runoff, or both precipitation"):
        load_config(write_config(tmp_path, inputs))
    inputs = uniform_inputs(tmp_path)
    del inputs["soil_pco2"]
    with pytest.raises(ConfigError, match="needs soil_pco2"):
        load_config(write_config(tmp_path, inputs))


def test_missing_input_file(tmp_path):
    inputs = uniform_inputs(tmp_path)
    (tmp_path / "temperature.tif").unlink()
    with pytest.raises(ConfigError, match=r"\[inputs\] temperature: file .* does not exist"):
        load_config(write_config(tmp_path, inputs))


def test_bad_toml(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("[inputs\nlandcover = 1", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(p)


@pytest.mark.parametrize(("column", "meant"), [
    ("no3_mmol_L", "no3_mmol_l"),            # the case: unread, cropland's nitrate lost
    ("Runoff_factor", "runoff_factor"),      # a required one: named, not just "missing"
    ("soil_pco2_factor_low", "soil_pco2_factor_lo"),
    ("biological_sink_tc_km2_yr_max", "biological_sink_tc_km2_yr_hi"),
])
def test_a_misspelt_table_column_is_refused_naming_the_one_read(tmp_path, column, meant):
    head = ["class", "name", "soil_pco2_factor", "runoff_factor", "biological_sink_tc_km2_yr",
            "source"]
    head = [column if c == meant else c for c in head]  # in place of the one it means,
    if column not in head:                              # or beside the required ones
        head.append(column)
    p = tmp_path / "t.csv"
    p.write_text(",".join(head) + "\n" + ",".join(
        {"class": "40", "name": "crop", "source": "plot"}.get(c, "0.5") for c in head) + "\n",
        encoding="utf-8")
    with pytest.raises(DataError, match=rf"column '{column}' is not one the table reads, and "
                                        rf"'{meant}' is"):
        load_landcover_table(p)


@pytest.mark.parametrize("note", ["comment", "so4_mmol_l_sd", "source_note"])
def test_a_note_column_is_carried_not_refused(tmp_path, note):
    # a name of its own, or a read column's name with a suffix of its own (its sd, a note)
    p = tmp_path / "t.csv"
    p.write_text("class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,source,"
                 f"{note}\n40,crop,0.62,1.0,0,plot,terraced\n", encoding="utf-8")
    t = load_landcover_table(p)
    assert t.columns[note] == ["terraced"] and t.lookup("soil_pco2_factor")[40] == 0.62


def test_transitions_from_the_python_api_may_hold_numpy_numbers(tmp_path):
    # codes and slopes taken from a numpy array or a DataFrame are numbers like any other
    import numpy as np

    from karstsink.mapping.config import config_from_dict

    inputs = uniform_inputs(tmp_path)
    inputs["dem"] = inputs["temperature"]  # any raster: min_slope_deg needs a dem input
    raw: dict = {"inputs": {k: v.name for k, v in inputs.items()}}
    raw["scenario"] = {"name": "x", "transitions": [
        {"from": np.int64(40), "to": np.uint8(10), "min_slope_deg": np.float32(25.0)}]}
    cfg = config_from_dict(raw, base=tmp_path)
    assert [int(cfg.transitions[0][k]) for k in ("from", "to")] == [40, 10]
    raw["scenario"]["transitions"][0]["from"] = np.float64(40.0)  # not an integer type
    with pytest.raises(ConfigError, match="from must be a land-cover class code"):
        config_from_dict(raw, base=tmp_path)
