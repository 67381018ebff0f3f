"""``karstsink speciate`` options that were taken wrongly or dropped in silence.

-o with a suffix other than .csv (CSV text was written into ``out.xlsx``) and ``-o ''``
(an internal error); ``--sheet 2022`` (taken as worksheet number 2022, not the sheet named
2022); a pH of exactly 0 (0 written for "not measured", passed to PHREEQC as pH 0);
``--phases 'CO2(g)'`` (no si_co2_g column); a repeated ``--units`` (the last one won).
Expected values come from the files written here and from a raw PHREEQC run
(:func:`test_speciation.raw_phreeqc`), never from the code under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose
from test_speciation import MESSY_CSV, canonical, raw_phreeqc

import karstsink
from karstsink.cli import main
from karstsink.exceptions import DataError, DataQualityWarning, SpeciationError
from karstsink.io.samples import read_samples, standardize
from karstsink.io.text import read_rows

HEADER = ["Sample ID", "T (°C)", "pH", "Ca (mg/L)", "HCO3- (mg/L)", "NO3 (mg/L)"]


def run(*args):
    return CliRunner().invoke(main, ["speciate", *map(str, args)])


def error_line(res) -> str:
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in res.output, res.output
    return lines[0]


@pytest.fixture()
def messy(tmp_path):
    path = tmp_path / "field.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------
# 1. -o: only .csv is written; an empty name is a usage error
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["out.xlsx", "out.xls", "out.tsv", "out"])
def test_output_not_ending_in_csv_is_a_usage_error(messy, tmp_path, name):
    res = run(messy, "-o", tmp_path / name, "--jobs", 1)
    assert res.exit_code == 2
    line = error_line(res)
    assert "--output" in line and "writes CSV only" in line and ".csv" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.csv"]  # nothing written


def test_empty_output_name_is_a_usage_error(messy, tmp_path):
    res = run(messy, "-o", "", "--jobs", 1)
    assert res.exit_code == 2
    line = error_line(res)
    assert "no file name given" in line and "internal error" not in line


def test_output_suffix_in_capitals_is_a_csv(messy, tmp_path):
    out = tmp_path / "OUT.CSV"
    res = run(messy, "-o", out, "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) == 10 and (tmp_path / "OUT.meta.json").is_file()


# --------------------------------------------------------------------------------------
# 2. --sheet: a sheet of that exact name wins over a worksheet number
# --------------------------------------------------------------------------------------
@pytest.fixture()
def years(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    wb.active.title = "notes"
    wb.active.append(["survey of 2021 and 2022"])
    for title, ids in (("2021", ["A-1", "A-2"]), ("2022", ["B-1", "B-2", "B-3"])):
        ws = wb.create_sheet(title)
        ws.append(HEADER)
        for sid in ids:
            ws.append([sid, 15, 7.6, 80.156, 244.068, 1.0])
    path = tmp_path / "years.xlsx"
    wb.save(path)
    return path


def test_sheet_name_of_digits_is_the_sheet_of_that_name(years):
    rows, info = read_rows(years, sheet="2022")
    assert info["sheet"] == "2022" and rows[1][0] == "B-1"
    # a text of digits that names no sheet is the 0-based worksheet number
    assert read_rows(years, sheet="1")[1]["sheet"] == "2021"
    assert read_rows(years, sheet=2)[1]["sheet"] == "2022"
    assert read_rows(years, sheet=np.int64(1))[1]["sheet"] == "2021"
    with pytest.raises(DataError, match=r"no sheet named '7' and no sheet number 7; sheets "
                                        r"are \['notes', '2021', '2022'\]"):
        read_rows(years, sheet="7")
    with pytest.raises(DataError, match=r"no sheet number 3; sheets are"):
        read_rows(years, sheet=3)
    with pytest.raises(DataError, match=r"no sheet named 'y2023'; sheets are"):
        read_rows(years, sheet="y2023")  # not digits: only a name, and no sheet has it
    with pytest.raises(DataError, match="a sheet name or a 0-based number"):
        read_rows(years, sheet=1.0)


def test_cli_sheet_2022_reads_the_sheet_named_2022(years, tmp_path):
    out = tmp_path / "r.csv"
    res = run(years, "-o", out, "--sheet", "2022", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert pd.read_csv(out)["Sample ID"].tolist() == ["B-1", "B-2", "B-3"]
    res = run(years, "-o", tmp_path / "s.csv", "--sheet", "1", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "s.csv")["Sample ID"].tolist() == ["A-1", "A-2"]
    res = run(years, "-o", tmp_path / "t.csv", "--sheet", "9", "--jobs", 1)
    assert res.exit_code == 1
    assert "sheets are ['notes', '2021', '2022']" in error_line(res)
    assert not (tmp_path / "t.csv").exists()
    # flux's name for the option works here too
    res = run(years, "-o", tmp_path / "u.csv", "--samples-sheet", "2022", "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "u.csv")["Sample ID"].tolist() == ["B-1", "B-2", "B-3"]


# --------------------------------------------------------------------------------------
# 3. pH exactly 0 is 0-for-missing: flagged, NaN, not speciated, row kept in place
# --------------------------------------------------------------------------------------
def _table(ph_cells, no3_cells=None):
    n = len(ph_cells)
    return pd.DataFrame({"Sample ID": [f"S{i}" for i in range(1, n + 1)], "T (°C)": ["0"] * n,
                         "pH": ph_cells, "Ca (mg/L)": ["80.156"] * n,
                         "HCO3- (mg/L)": ["244.068"] * n, "SO4 (mg/L)": ["1"] * n,
                         "NO3 (mg/L)": no3_cells or ["0"] * n})


def test_ph_zero_is_a_sentinel_not_a_value():
    with pytest.warns(DataQualityWarning, match="sentinel_value"):
        out = standardize(_table(["7.6", "0", "0.00", "0,0"]))
    assert out["Sample ID"].tolist() == ["S1", "S2", "S3", "S4"]  # every row, in order
    assert out["ph"].iloc[0] == 7.6 and out["ph"].iloc[1:].isna().all()
    assert out["qa_flags"].tolist() == ["", "sentinel_value:ph", "sentinel_value:ph",
                                        "sentinel_value:ph"]
    assert out["pH"].tolist() == ["7.6", "0", "0.00", "0,0"]  # the user's column untouched
    # 0 stays a value where it can be one: NO3 0 mg/L, water at 0 °C
    assert (out["no3_mmol_l"] == 0).all() and (out["temp_c"] == 0).all()


def test_ph_near_zero_is_not_a_sentinel():
    with pytest.warns(DataQualityWarning, match="ph_unusual"):
        out = standardize(_table(["0.5"]))
    assert out["ph"].tolist() == [0.5] and out["qa_flags"].tolist() == ["ph_unusual"]


def test_cli_ph_zero_row_is_flagged_and_not_sent_to_phreeqc(tmp_path):
    src = tmp_path / "field.csv"
    _table(["7.6", "0", "7.6"]).to_csv(src, index=False)
    out = tmp_path / "r.csv"
    res = run(src, "-o", out, "--jobs", 1)
    assert res.exit_code == 0, res.output
    assert "2 computed" in res.output and "sentinel_value:ph 1" in res.output
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert got["Sample ID"].tolist() == ["S1", "S2", "S3"]
    assert got["qa_flags"].fillna("").tolist() == ["", "sentinel_value:ph", ""]
    assert np.isnan(got.loc[1, "ph"]) and np.isnan(got.loc[1, "si_calcite"])
    assert got.loc[1, "phreeqc_message"] != got.loc[1, "phreeqc_message"]  # NaN: never run
    assert np.isfinite(got.loc[[0, 2], "si_calcite"]).all()


def test_hand_built_table_with_ph_zero_is_flagged_by_speciate():
    table = canonical([{}, {"ph": 0.0}])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        out = karstsink.speciate(table, jobs=1)
    assert out["qa_flags"].tolist() == ["", "sentinel_value:ph"]
    assert np.isnan(out.loc[1, "si_calcite"]) and np.isfinite(out.loc[0, "si_calcite"])


# --------------------------------------------------------------------------------------
# 4. --phases: a gas phase gives its si_<phase> column (CO2(g): si_co2_g = log pCO2)
# --------------------------------------------------------------------------------------
def test_co2_gas_phase_gives_si_co2_g_as_a_raw_phreeqc_run(messy):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        out = karstsink.speciate(read_samples(messy), phases=["CO2(g)", "Calcite"], jobs=1)
    raw = raw_phreeqc()
    got = out.set_index("sample_id").loc[raw.index]
    assert_allclose(got["si_co2_g"], raw["si_CO2(g)"], atol=0.01, rtol=0)
    assert list(out.columns).count("si_calcite") == 1  # Calcite is the standard column


def test_cli_phases_co2_g_and_unknown_phase(messy, tmp_path):
    out = tmp_path / "r.csv"
    res = run(messy, "-o", out, "--phases", "CO2(g)", "--jobs", 1)
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out)
    assert "si_co2_g" in got.columns
    assert_allclose(got["si_co2_g"], got["log_pco2"], rtol=0, atol=1e-12)  # same SI
    res = run(messy, "-o", tmp_path / "u.csv", "--phases", "CO2", "--jobs", 1)
    assert res.exit_code == 1 and "'CO2'" in error_line(res)
    assert "not found in phreeqc.dat" in error_line(res)


def test_two_phases_of_one_column_are_refused():
    from karstsink.chemistry._engine_output import check_phase_columns

    check_phase_columns(["CO2(g)", "Fluorite"])
    with pytest.raises(SpeciationError, match=r"'Fe\(OH\)3\(a\)' and 'Fe\(OH\)3_a'.*"
                                              r"'si_fe_oh_3_a'"):
        check_phase_columns(["Fe(OH)3(a)", "Fe(OH)3_a"])


# --------------------------------------------------------------------------------------
# 5. --units takes one unit: two different ones are a usage error
# --------------------------------------------------------------------------------------
def test_repeated_units_option_is_a_usage_error(tmp_path):
    src = tmp_path / "field.csv"
    src.write_text("Sample ID,T (°C),pH,Ca,HCO3\nS1,15,7.6,80.156,244.068\n", encoding="utf-8")
    res = run(src, "-o", tmp_path / "r.csv", "--units", "mg/L", "--units", "mmol/L")
    assert res.exit_code == 2
    line = error_line(res)
    assert "--units" in line and "'mg/L', 'mmol/L'" in line and "header" in line
    assert not (tmp_path / "r.csv").exists()
    # the same unit twice is that unit, also written another way (mg/l is mg/L)
    res = run(src, "-o", tmp_path / "r.csv", "--units", "mg/L", "--units", "mg/l", "--jobs", 1)
    assert res.exit_code == 0, res.output
    # 80.156 mg/L / 40.078 g/mol = 2.000 mmol/L
    assert pd.read_csv(tmp_path / "r.csv")["ca_mmol_l"].tolist() == pytest.approx([2.0])


def test_sheet_for_a_csv_is_a_usage_error(tmp_path):
    # --sheet chooses a worksheet of a workbook: given for a CSV it is refused, not ignored
    src = tmp_path / "field.csv"
    src.write_text("Sample ID,T (°C),pH,Ca,HCO3\nS1,15,7.6,80.156,244.068\n", encoding="utf-8")
    res = run(src, "-o", tmp_path / "r.csv", "--sheet", "data")
    assert res.exit_code == 2
    assert "--sheet chooses a worksheet of an XLSX workbook" in error_line(res)
    assert not (tmp_path / "r.csv").exists()
