"""Issue 12, classes 1-3: bad inputs to the sample readers get a flag or one clear line.

Each test builds one kind of bad input (an unknown unit, a unit spelled another way, two
columns of one quantity, thousands separators, XLSX formulas without a stored value, chart
sheets, a very long line, -999-style sentinels) and asserts the message (naming file,
column and how to fix it) or the flags, and that no row is lost or reordered.

Expected numbers are hand calculations with the IUPAC 2021 conventional atomic weights
(Ca 40.078, Mg 24.305, C 12.011, O 15.999, H 1.008): M(HCO3-) = 1.008 + 12.011 + 3 x
15.999 = 61.017 g/mol.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karstsink import qa
from karstsink.exceptions import DataError, DataQualityWarning, UnitError
from karstsink.io import cells
from karstsink.io.headers import match_header, parse_conc_unit
from karstsink.io.samples import computable, read_samples, standardize
from karstsink.io.text import read_rows, read_table

#: A clean row: 16 °C, pH 7.4, 305.085 mg/L HCO3- = 305.085 / 61.017 = 5.0 mmol/L.
BASE = {"Sample ID": "S1", "T (°C)": "16", "pH": "7.4", "HCO3 (mg/L)": "305.085"}


def std(df: pd.DataFrame, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return standardize(df, **kwargs)


def read(path, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return read_samples(path, **kwargs)


def table(**columns) -> pd.DataFrame:
    """The clean row repeated to the length of the given columns, plus those columns."""
    n = len(next(iter(columns.values())))
    data = {k: [v] * n for k, v in BASE.items()}
    data["Sample ID"] = [f"S{i + 1}" for i in range(n)]
    data.update(columns)
    return pd.DataFrame(data, dtype="str")


def write(tmp_path, text: str, name: str = "samples.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------
# 1. units: an unknown unit is an error; every common spelling is understood
# ---------------------------------------------------------------------------

UNKNOWN_UNITS = [  # header, key in the message, accepted unit named in the message
    ("Ca2+ (furlongs)", "ca", "mmol/L (mM)"),
    ("Alk (furlongs as CaCO3)", "alk", "mg/L"),
    ("T (furlongs)", "temp", "°C, °F or K"),
    ("EC (furlongs)", "ec", "µS/cm"),
    ("DOC (furlongs)", "doc", "mg/L"),
    ("Ca (ICP)", "ca", "mmol/L"),  # a method in brackets: map it if it is no unit
]


@pytest.mark.parametrize(("header", "key", "accepted"), UNKNOWN_UNITS)
def test_a_recognised_quantity_with_an_unknown_unit_is_one_clear_error(tmp_path, header, key,
                                                                       accepted):
    path = write(tmp_path, f"pH,T (°C),HCO3 (mg/L),{header}\n7.4,16,305.085,80\n"
                 if key != "temp" else f"pH,HCO3 (mg/L),{header}\n7.4,305.085,16\n")
    with pytest.raises(UnitError) as err:
        read(path)
    message = str(err.value)
    unit = header[header.index("(") + 1:header.rindex(")")].replace(" as CaCO3", "")
    assert "\n" not in message
    assert str(path) in message and repr(header) in message and repr(unit) in message
    assert f"for {key!r}" in message and accepted in message and "column_map=" in message


def test_the_unknown_unit_message_offers_column_map_and_it_works():
    # 'Ca (ICP)': the brackets hold a method; mapped by hand with a unit, or left out
    df = table(**{"Ca (ICP)": ["80.156"]})
    out = std(df, column_map={"Ca (ICP)": "ca"}, units={"ca": "mg/L"})
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80.156 / 40.078
    out = std(df, column_map={"Ca (ICP)": None})
    assert np.isnan(out["ca_mmol_l"].iloc[0]) and out["Ca (ICP)"].tolist() == ["80.156"]


@pytest.mark.parametrize("header", ["Ca (%)", "Na (meq%)", "Temperature (air)", "T (ambient)"])
def test_shares_and_air_temperature_are_not_the_quantity_and_stay_unused(header):
    out = std(table(**{header: ["12"]}))
    assert header in out.attrs["unmatched_columns"]
    assert out["qa_flags"].iloc[0] == ""
    assert out["temp_c"].iloc[0] == 16.0  # the water temperature of BASE, not 12


SPELLINGS = [  # header, cell, expected Ca (or Mg, HCO3) [mmol/L], hand calculation
    ("Ca (mM)", "2", 2.0),  # 1 mM = 1 mmol/L
    ("Ca (µM)", "2000", 2.0),  # 2000 µmol/L / 1000
    ("Ca (uM)", "2000", 2.0),
    ("Ca (μM)", "2000", 2.0),  # Greek mu, not the micro sign
    ("Mg2+ (mM)", "1", 1.0),
    ("Ca (mg L^-1)", "80.156", 2.0),  # 80.156 mg/L / 40.078 g/mol
    ("Ca (mg L-1)", "80.156", 2.0),
    ("Ca (mg·L⁻¹)", "80.156", 2.0),
    ("Ca (mg/litre)", "80.156", 2.0),
    ("Ca (mg/liter)", "80.156", 2.0),
    ("Ca (mg per litre)", "80.156", 2.0),
    ("Ca (g/m3)", "80.156", 2.0),  # 1 g/m3 = 1000 mg / 1000 L = 1 mg/L
    ("Ca (g/m³)", "80.156", 2.0),
    ("HCO3 (g m-3)", "305.085", 5.0),  # 305.085 / 61.017
    ("Ca (mg/dL)", "8.0156", 2.0),  # 8.0156 mg/dL x 10 dL/L = 80.156 mg/L
    ("Ca (µg/mL)", "80.156", 2.0),  # 1 µg/mL = 1000 µg/L = 1 mg/L
    ("Ca (ug/ml)", "80.156", 2.0),
    ("Ca (ppm)", "80.156", 2.0),  # 1 ppm = 1 mg/kg ~ 1 mg/L (dilute)
    ("Ca (ppb)", "80156", 2.0),  # 80156 µg/L = 80.156 mg/L
    ("Ca (mg/m3)", "80156", 2.0),  # 80156 mg/m3 / 1000 L/m3 = 80.156 mg/L
    ("Ca (meq/L)", "4", 2.0),  # 4 meq / charge 2
    ("Ca (µeq/L)", "4000", 2.0),
    ("Ca (mmol/kg)", "2", 2.0),  # per kg water ~ per L (dilute)
    ("Ca (mmol kg-1)", "2", 2.0),
    ("Ca (mol/m3)", "2", 2.0),  # 1 mol/m3 = 1000 mmol / 1000 L
    ("Alk (ppm as CaCO3)", "250.2175", 5.0),  # 250.2175 / (100.087 / 2) = 5.0 meq/L HCO3-
    # the unit after the first '/', unbracketed (it used to leave the column unread, unsaid)
    ("Ca/mg/L", "80.156", 2.0),
    ("HCO3/mg/L", "305.085", 5.0),
    ("Ca/mmol/L", "2", 2.0),
]


@pytest.mark.parametrize(("header", "cell", "expected"), SPELLINGS)
def test_every_common_spelling_of_a_supported_unit_is_read(header, cell, expected):
    out = std(table(**{header: [cell]}).drop(columns=["HCO3 (mg/L)"])
              if header.startswith(("HCO3", "Alk")) else table(**{header: [cell]}))
    column = {"Ca": "ca_mmol_l", "Mg": "mg_mmol_l", "HC": "hco3_mmol_l",
              "Al": "hco3_mmol_l"}[header[:2]]
    assert out[column].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert header in out.attrs["column_map"]


@pytest.mark.parametrize(("header", "words"), [("Ca (ppm)", "ppm read as mg/L"),
                                               ("Ca (ppb)", "ppb read as µg/L"),
                                               ("Ca (mmol/kg)", "mmol/kg read as mmol/L")])
def test_per_kg_and_ppm_units_are_read_per_litre_with_a_note(header, words):
    out = std(table(**{header: ["2"]}))
    note = next(n for n in out.attrs["notes"] if header in n)
    assert words in note and "dilute" in note and "brines" in note


def test_an_ec_header_with_only_the_reference_temperature_takes_the_default_unit():
    out = std(table(**{"EC (25 °C)": ["450"]}))
    assert out["ec_us_cm"].iloc[0] == 450.0
    assert any("µS/cm assumed" in n for n in out.attrs["notes"])


def test_a_table_without_any_recognised_column_is_an_error_naming_columns(tmp_path):
    path = write(tmp_path, "foo,bar\n1,2\n3,4\n")
    with pytest.raises(DataError) as err:
        read(path)
    message = str(err.value)
    assert str(path) in message and "['foo', 'bar']" in message and "column_map=" in message
    with pytest.raises(DataError, match=r"table: no column is recognised.*'x'"):
        std(pd.DataFrame({"x": ["1"]}))
    with pytest.raises(DataError, match="no column is recognised"):  # every column mapped out
        std(pd.DataFrame({"pH": ["7"]}), column_map={"pH": None})


def test_cli_speciate_on_a_table_without_any_recognised_column_fails_with_one_line(tmp_path):
    from karstsink.cli import main

    path = write(tmp_path, "foo,bar\n1,2\n")
    out_path = tmp_path / "out.csv"
    result = CliRunner().invoke(main, ["speciate", str(path), "-o", str(out_path)])
    assert result.exit_code != 0
    assert "no column is recognised" in result.output
    assert "Traceback" not in result.output
    assert not out_path.exists()


# ---------------------------------------------------------------------------
# 2. two columns of one quantity: compared row by row, never "first one wins"
# ---------------------------------------------------------------------------


def test_the_same_ion_in_mg_l_and_mmol_l_agreeing_is_used_once_and_noted():
    # 80.156 mg/L / 40.078 = 2.000 mmol/L; 2.01 mmol/L is within 1 % of it
    out = std(table(**{"Ca (mg/L)": ["80.156", "80.156"], "Ca (mmol/L)": ["2.0", "2.01"]}))
    assert out["ca_mmol_l"].tolist() == pytest.approx([2.0, 2.0])  # the first column's value
    assert out["qa_flags"].tolist() == ["", ""]
    note = next(n for n in out.attrs["notes"] if "both give ca" in n)
    assert "2 row(s) agree" in note and "0 row(s) disagree" in note
    assert out.attrs["column_map"]["Ca (mmol/L)"] == "ca"


def test_agreement_within_the_reported_precision():
    # '2' mmol/L is reported to +-0.5 mmol/L; 84 mg/L / 40.078 = 2.0959 mmol/L differs by
    # 4.8 % (> 1 %) but by 0.096 mmol/L < 0.5 + 0.5/40.078: they agree
    out = std(table(**{"Ca (mg/L)": ["84"], "Ca (mmol/L)": ["2"]}))
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(84 / 40.078)
    assert out["qa_flags"].iloc[0] == ""
    # '2.00' mmol/L (+-0.005): 2.0959 - 2.00 = 0.096 > 0.005 + 0.0125 and > 1 %: conflict
    out = std(table(**{"Ca (mg/L)": ["84"], "Ca (mmol/L)": ["2.00"]}))
    assert out["qa_flags"].iloc[0] == "conflicting_values:ca"


def test_disagreeing_columns_flag_exactly_the_rows_where_they_disagree():
    out = std(table(**{"Ca (mg/L)": ["80.156", "80.156", "", "80.156"],
                       "Ca (mmol/L)": ["2.0", "9", "1.5", ""]}))
    # row 1 agrees (2.0), row 2 conflicts (2.0 vs 9), row 3 is filled (1.5), row 4 alone
    assert out["qa_flags"].tolist() == ["", "conflicting_values:ca", "", ""]
    values = out["ca_mmol_l"].tolist()
    assert values[0] == pytest.approx(2.0) and np.isnan(values[1])
    assert values[2] == pytest.approx(1.5) and values[3] == pytest.approx(2.0)
    assert computable(out).tolist() == [True, False, True, True]
    note = next(n for n in out.attrs["notes"] if "both give ca" in n)
    assert "1 empty cell(s) filled" in note and "1 row(s) disagree" in note


def test_conflicting_hco3_is_fatal_and_not_refilled_from_alkalinity():
    # HCO3 305.085 mg/L = 5.0 mmol/L against 3.0 mmol/L: NaN; alkalinity does not fill it
    df = table(**{"HCO3- (mmol/L)": ["3.0"], "Alk (mg/L as CaCO3)": ["250.2175"]})
    out = std(df)
    assert np.isnan(out["hco3_mmol_l"].iloc[0])
    assert out["qa_flags"].iloc[0] == "conflicting_values:hco3"  # no missing_alkalinity
    assert not computable(out).iloc[0]


def test_conflicting_ph_and_temperature_in_other_units():
    # pH 7.4 against 8.2: conflict; T 16 °C against 60.8 °F = (60.8 - 32) x 5/9 = 16.0 °C
    out = std(table(**{"pH (lab)": ["8.2"], "T (°F)": ["60.8"]}))
    assert out["qa_flags"].iloc[0] == "conflicting_values:ph"
    assert np.isnan(out["ph"].iloc[0]) and out["temp_c"].iloc[0] == pytest.approx(16.0)


def test_a_header_written_twice_in_a_file_follows_the_conflict_rule(tmp_path):
    path = write(tmp_path, "pH,T (°C),HCO3 (mg/L),Ca (mg/L),Ca (mg/L)\n"
                 "7.4,16,305.085,80.156,80.2\n7.4,16,305.085,80.156,120\n")
    out = read(path)
    assert list(out.columns[:5]) == ["pH", "T (°C)", "HCO3 (mg/L)", "Ca (mg/L)", "Ca (mg/L).1"]
    # 80.2 vs 80.156 differ by 0.05 % (agree); 120 vs 80.156 by 33 % (conflict)
    assert out["qa_flags"].tolist() == ["", "conflicting_values:ca"]
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)
    note = next(n for n in out.attrs["notes"] if "both give ca" in n)
    assert "the same header twice" in note and "'Ca (mg/L).1'" in note


def test_a_repeated_header_whose_suffixed_name_is_taken_keeps_every_column(tmp_path):
    # 'pH, pH, pH.1': the second 'pH' cannot become 'pH.1' (a header of its own) and
    # used to crash the reader; an empty header cell beside a literal 'unnamed_2' too
    path = write(tmp_path, "pH,pH,pH.1,,unnamed_2,T (°C),HCO3 (mg/L)\n"
                 "7.4,7.4,9,a,b,16,305.085\n")
    out = read(path)
    assert list(out.columns[:7]) == ["pH", "pH.2", "pH.1", "unnamed_4", "unnamed_2",
                                     "T (°C)", "HCO3 (mg/L)"]
    assert out.iloc[0, :7].tolist() == ["7.4", "7.4", "9", "a", "b", "16", "305.085"]
    assert out["ph"].iloc[0] == pytest.approx(7.4)


def test_a_concentration_of_exactly_zero_is_not_read_as_a_measurement(tmp_path):
    # a major ion's 0 typed for "not measured": NaN, flagged and not speciated, like a pH of
    # 0; a CO3 of 0 (phenolphthalein alkalinity 0), a NO3 of 0 (below the resolution) and
    # a '<0.05' are values
    path = write(tmp_path, "pH,T (°C),HCO3 (mg/L),Ca (mg/L),Mg (mg/L),NO3 (mg/L),CO3 (mg/L)\n"
                 "7.4,16,0.0,40.078,2,1,0\n7.4,16,305.085,0,2,1,0\n"
                 "7.4,16,305.085,40.078,0.00,0,0\n7.4,16,305.085,40.078,2,<0.05,0\n")
    out = read(path)
    assert out["qa_flags"].tolist() == ["zero_concentration:hco3", "zero_concentration:ca",
                                        "zero_concentration:mg", "below_detection:no3"]
    assert out["hco3_mmol_l"].isna().tolist() == [True, False, False, False]
    assert out["ca_mmol_l"].isna().tolist() == [False, True, False, False]
    assert out["mg_mmol_l"].isna().tolist() == [False, False, True, False]
    assert out["no3_mmol_l"].iloc[2] == 0.0 and (out["co3_mmol_l"] == 0).all()
    assert not computable(out)[:3].any() and computable(out)[3]
    # ½ x 0.05 mg/L / 62.004 g/mol = 4.032e-4 mmol/L
    assert out["no3_mmol_l"].iloc[3] == pytest.approx(0.025 / 62.004, rel=1e-4)
    # karstsink's own canonical columns are taken as written: 0 there is none (a model water)
    canon = std(pd.DataFrame({"ph": [7.4], "temp_c": [16.0], "hco3_mmol_l": [5.0],
                              "ca_mmol_l": [2.5], "mg_mmol_l": [0.0]}))
    assert canon["qa_flags"].iloc[0] == "" and canon["mg_mmol_l"].iloc[0] == 0.0


def test_a_header_written_twice_in_xlsx(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["pH", "T (°C)", "HCO3 (mg/L)", "Mg (mg/L)", "Mg (mg/L)"])
    ws.append([7.4, 16, 305.085, 24.305, 48.61])  # 1.0 vs 2.0 mmol/L of Mg
    path = tmp_path / "twice.xlsx"
    wb.save(path)
    out = read(path)
    assert out["qa_flags"].tolist() == ["conflicting_values:mg"]
    assert np.isnan(out["mg_mmol_l"].iloc[0])


def test_merged_header_cells_and_merged_data_cells_read_as_the_sheet_shows_them(tmp_path):
    # A two-row lab header: names merged down over two rows (A1:A2 ...), group labels merged
    # across (E1:F1 'Cations').  Before, the second row became a data row, 'Ca (mg/L)' a
    # cell: exit 0 with nothing computed.  By hand: Ca 80 mg/L / 40.078 = 1.996108 mmol/L.
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Sample ID", "Date", "T (°C)", "pH", "Cations", None, "Anions"])
    ws.append([None, None, None, None, "Ca (mg/L)", "Mg (mg/L)", "HCO3 (mg/L)"])
    ws.append(["A", "2021-05-03", 15, 7.5, 80, 10, 244])
    ws.append(["B", "2021-05-04", 16, 7.6, 70, 12, 230])
    for ref in ("A1:A2", "B1:B2", "C1:C2", "D1:D2", "E1:F1"):
        ws.merge_cells(ref)
    wb.save(tmp_path / "two_rows.xlsx")
    out = read(tmp_path / "two_rows.xlsx")
    assert out["sample_id"].tolist() == ["A", "B"] and out["qa_flags"].tolist() == ["", ""]
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(80 / 40.078, rel=1e-4)
    # A group label that states a unit gives it to the columns under it that state none;
    # of two labels one above the other (a title 'Longtan (mg/L)' over all, 'Major ions
    # (mmol/L)' over the ions) the nearest the header does; a site merged over two samples
    # names both; a column stating the label's unit itself agrees with it.
    def groups(cl_header, path):
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["Longtan spring water (mg/L)"] + [None] * 7)
        ws.append(["Sample ID", "Site", "T (°C)", "pH", "Major ions (mmol/L)", None, None, None])
        ws.append([None, None, None, None, "Ca", "Mg", "HCO3", cl_header])
        ws.append(["A", "龙潭", 15, 7.5, 2.0, 0.4, 4.0, 0.1])
        ws.append(["B", None, 16, 7.6, 1.8, 0.5, 3.9, 0.2])
        for ref in ("A1:H1", "A2:A3", "B2:B3", "C2:C3", "D2:D3", "E2:H2", "B4:B5"):
            ws.merge_cells(ref)
        wb.save(path)
        return path

    out = read(groups("Cl (mmol/L)", tmp_path / "groups.xlsx"))
    assert out["site"].tolist() == ["龙潭", "龙潭"]
    assert out["ca_mmol_l"].tolist() == [2.0, 1.8] and out["hco3_mmol_l"].tolist() == [4.0, 3.9]
    assert out["cl_mmol_l"].tolist() == [0.1, 0.2]
    assert out.attrs["source_units"]["ca"] == "mmol/L"
    assert out.attrs["reader"]["units_from_merged_labels"] == {
        "Ca": "mmol/L", "Mg": "mmol/L", "HCO3": "mmol/L"}
    # a column stating another unit than the label over it: the file contradicts itself
    with pytest.raises(UnitError, match=r"column 'Cl \(mg/L\)' states its own unit, but the "
                       r"merged label 'Major ions \(mmol/L\)'"):
        read(groups("Cl (mg/L)", tmp_path / "contradicts.xlsx"))
    # a number merged across two quantities' columns in a data row is the first one's only:
    # Ca 80 mg/L merged over Ca and Mg leaves Mg empty (NaN), not 80 mg/L of Mg
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Sample ID", "T (°C)", "pH", "HCO3 (mg/L)", "Ca (mg/L)", "Mg (mg/L)"])
    ws.append(["A", 15, 7.5, 244, 80, None])
    ws.merge_cells("E2:F2")
    wb.save(tmp_path / "across.xlsx")
    out = read(tmp_path / "across.xlsx")
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(80 / 40.078, rel=1e-4)
    assert np.isnan(out["mg_mmol_l"].iloc[0])


def test_identical_column_names_in_memory_stay_one_clear_error():
    df = pd.DataFrame([["7.4", "16", "1", "2"]], columns=["pH", "T", "Ca (mmol/L)",
                                                           "Ca (mmol/L)"])
    with pytest.raises(DataError, match=r"duplicate column name\(s\) \['Ca \(mmol/L\)'\]"):
        std(df)


def test_a_generic_column_still_gives_way_to_a_specific_one():
    # 'Temperature' (the air, 30 °C) is generic: the water temperature is used, no conflict
    out = std(table(**{"Temperature (°C)": ["30"], "Water temperature (°C)": ["16"]}))
    assert out["temp_c"].iloc[0] == 16.0 and out["qa_flags"].iloc[0] == ""


# ---------------------------------------------------------------------------
# 3. numbers: thousands separators, formulas, chart sheets, long lines, sentinels
# ---------------------------------------------------------------------------


def test_thousands_separators_in_a_file_without_decimal_commas(tmp_path):
    path = write(tmp_path, 'pH,T (°C),HCO3 (mg/L),EC (µS/cm),Cl (mg/L)\n'
                 '7.4,16,305.085,"1,051","1,063.5"\n7.5,17,305.085,980,"2,127"\n')
    out = read(path)
    assert out["ec_us_cm"].tolist() == [1051.0, 980.0]
    # Cl: 1063.5 mg/L / 35.45 = 30.0 mmol/L; 2127 / 35.45 = 60.0
    assert out["cl_mmol_l"].tolist() == pytest.approx([30.0, 60.0])
    assert out["EC (µS/cm)"].tolist() == ["1,051", "980"]  # the user's column unchanged


def test_thousands_separators_in_a_semicolon_file_are_not_decimal_commas(tmp_path):
    # every comma cell is '1,051'-like: the file shows no decimal comma, so 1051 (before
    # issue 12 the file was taken as decimal-comma and read 1.051)
    path = write(tmp_path, "pH;T (°C);HCO3 (mg/L);EC (µS/cm)\n7;16;305;1,051\n8;17;305;1,234\n")
    out = read(path)
    assert out["ec_us_cm"].tolist() == [1051.0, 1234.0]
    assert out.attrs["reader"]["decimal_comma"] is False


def test_decimal_commas_are_still_decimal_commas(tmp_path):
    # a ';' file writing '7,4' and '0,5': 7.4 and 0.5 mmol/L; its EC column '1,051' has no
    # deciding cell and takes the file's decimal comma (1.051 mS/cm = 1051 µS/cm)
    path = write(tmp_path, "pH;T (°C);HCO3 (mmol/L);EC (mS/cm)\n7,4;16,5;0,5;1,051\n")
    out = read(path)
    assert out["ph"].iloc[0] == 7.4 and out["temp_c"].iloc[0] == 16.5
    assert out["hco3_mmol_l"].iloc[0] == 0.5
    assert out["ec_us_cm"].iloc[0] == pytest.approx(1051.0)


def test_the_decimal_mark_is_decided_per_column_never_per_cell():
    # EC writes '980.5' (a decimal point), so its '1,051' is a thousands comma: 1051;
    # pH writes '7,4' (a decimal comma) in the same table: 7.4
    out = std(table(**{"EC (µS/cm)": ["1,051", "980.5"], "pH": ["7,4", "7,5"]}))
    assert out["ec_us_cm"].tolist() == [1051.0, 980.5]
    assert out["ph"].tolist() == [7.4, 7.5]


def test_xlsx_formula_without_a_stored_value_is_flagged(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()  # openpyxl writes formulas without computing them
    ws = wb.active
    ws.append(["Sample ID", "pH", "T (°C)", "HCO3 (mg/L)", "Ca (mg/L)", "Note"])
    ws.append(["A", 7.4, 16, 305.085, 80.156, "ok"])
    ws.append(["B", 7.4, 16, "=D2", 80.156, '=CONCAT("x", "y")'])
    ws.append(["C", 7.4, 16, 305.085, "=E2*2", "ok"])
    path = tmp_path / "formulas.xlsx"
    wb.save(path)
    _rows, info = read_rows(path)
    assert info["formula_cells"] == [(2, 3), (2, 5), (3, 4)]
    out = read(path)
    assert out["qa_flags"].tolist() == ["", "formula_without_value:hco3",
                                        "formula_without_value:ca"]
    assert np.isnan(out["hco3_mmol_l"].iloc[1]) and np.isnan(out["ca_mmol_l"].iloc[2])
    assert computable(out).tolist() == [True, False, False]
    assert any("'Note': 1" in n for n in out.attrs["notes"])
    assert out.attrs["reader"]["formula_cells"] == 3
    _table, info = read_table(path)  # the discharge reader's table: (data row, column)
    assert info["formula_cells"] == [(1, "HCO3 (mg/L)"), (1, "Note"), (2, "Ca (mg/L)")]


def _chart_workbook(path, with_data: bool):
    openpyxl = pytest.importorskip("openpyxl")
    from openpyxl.chart import BarChart, Reference

    wb = openpyxl.Workbook()
    ws = wb.active
    if with_data:
        ws.title = "data"
        ws.append(["pH", "T (°C)", "HCO3 (mg/L)"])
        ws.append([7.4, 16, 305.085])
        chart = BarChart()
        chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=2), titles_from_data=True)
    else:
        wb.remove(ws)
        chart = BarChart()
    wb.create_chartsheet("Chart1", 0).add_chart(chart)
    wb.save(path)
    return path


def test_chart_sheets_are_skipped_when_looking_for_the_table(tmp_path):
    path = _chart_workbook(tmp_path / "charts.xlsx", with_data=True)
    out = read(path)
    assert out.attrs["reader"]["sheet"] == "data"
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)  # 305.085 / 61.017
    assert read(path, sheet=0).attrs["reader"]["sheet"] == "data"
    with pytest.raises(DataError, match=r"charts.xlsx: sheet 'Chart1' is a chart sheet.*"
                                        r"\['data'\]"):
        read(path, sheet="Chart1")


def test_a_workbook_with_only_chart_sheets_is_one_clear_error(tmp_path):
    path = _chart_workbook(tmp_path / "only.xlsx", with_data=False)
    with pytest.raises(DataError, match=r"only.xlsx: the workbook holds only chart sheets "
                                        r"\(\['Chart1'\]\)"):
        read(path)


def test_a_line_over_the_csv_field_limit_is_read(tmp_path):
    import csv

    limit = csv.field_size_limit()
    note = "x" * 200_000  # > 131,072 characters in one field
    path = write(tmp_path, f'pH,T (°C),HCO3 (mg/L),Note\n7.4,16,305.085,"{note}"\n'
                 "7.5,17,305.085,short\n")
    out = read(path)
    assert len(out) == 2 and out["Note"].iloc[0] == note
    assert out["hco3_mmol_l"].tolist() == pytest.approx([5.0, 5.0])
    assert csv.field_size_limit() == limit  # the process-wide limit is put back


SENTINEL_CASES = [  # header, cell, flag; each a no-value marker, never a number
    ("Ca (mg/L)", "-999", "sentinel_value:ca"),
    ("Ca (mg/L)", "-9999.0", "sentinel_value:ca"),
    ("Mg (mmol/L)", "-99", "sentinel_value:mg"),
    ("EC (µS/cm)", "-99999", "sentinel_value:ec"),
    ("DOC (mg/L)", "-999", "sentinel_value:doc"),
    ("T (°C)", "-9999", "sentinel_value:temp"),  # not temp_out_of_range, not missing_temp
    ("pH", "-99", "sentinel_value:ph"),  # not ph_out_of_range, not missing_ph
    ("HCO3 (mg/L)", "-999", "sentinel_value:hco3"),  # not missing_alkalinity
    ("Longitude", "-9999", "sentinel_value:lon"),
]


@pytest.mark.parametrize(("header", "cell", "code"), SENTINEL_CASES)
def test_sentinels_are_flagged_and_never_read_as_numbers(header, cell, code):
    df = table(**{header: [cell, "7.5" if header == "pH" else "20"]})
    out = std(df)
    assert out["qa_flags"].tolist() == [code, ""]
    column = [c for c in out.attrs["column_map"] if out.attrs["column_map"][c] ==
              code.split(":")[1]]
    assert column == [header]
    assert qa.is_fatal(code)


def test_a_sentinel_longitude_is_nan_but_99_west_is_a_place():
    out = std(table(**{"Longitude": ["-9999", "-99"], "Latitude": ["30", "-999"]}))
    assert np.isnan(out["lon"].iloc[0]) and out["lon"].iloc[1] == -99.0
    assert out["qa_flags"].tolist() == ["sentinel_value:lon", "sentinel_value:lat"]


def test_sentinels_in_a_long_table():
    df = pd.DataFrame({
        "MonitoringLocationIdentifier": ["S1"] * 4 + ["S2"] * 4,
        "ActivityStartDate": ["2021-05-01"] * 4 + ["2021-05-02"] * 4,
        "CharacteristicName": ["pH", "Temperature, water", "Calcium", "Bicarbonate"] * 2,
        "ResultMeasureValue": ["7.4", "16", "-999", "305.085", "7.5", "17", "80.156",
                               "305.085"],
        "ResultMeasure/MeasureUnitCode": ["std units", "deg C", "mg/L", "mg/L"] * 2,
    })
    out = std(df)
    assert out["qa_flags"].tolist() == ["sentinel_value:ca", ""]
    assert np.isnan(out["ca_mmol_l"].iloc[0]) and out["ca_mmol_l"].iloc[1] == pytest.approx(2.0)


def test_sentinel_helper_marks_only_number_cells():
    values, status = cells.parse_column(["-999", "-999.5", "<-999", "abc", "-9999.00", "-99"])
    assert cells.sentinel_mask(values, status).tolist() == [True, False, False, False, True,
                                                            True]


# ---------------------------------------------------------------------------
# 4. properties
# ---------------------------------------------------------------------------

GOOD_OR_BAD = ["80.156", "", "<0.5", ">50", "abc", "-999", "-1", "1,051", "n.d.", "-9999.0",
               "0.05L", "-99", "12 mg/L", "#VALUE!"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(GOOD_OR_BAD), st.sampled_from(GOOD_OR_BAD),
                          st.sampled_from(["7.4", "", "15", "-99", "x"]),
                          st.sampled_from(["16", "-9999", "", "120", "16 °C"])),
                min_size=1, max_size=12),
       st.booleans())
def test_any_mix_of_good_and_bad_rows_keeps_every_row_in_order(rows, twice):
    data = {"Sample ID": [f"r{i}" for i in range(len(rows))],
            "Ca (mg/L)": [r[0] for r in rows], "HCO3 (mg/L)": [r[1] for r in rows],
            "pH": [r[2] for r in rows], "T (°C)": [r[3] for r in rows]}
    if twice:  # a second Ca column: compared, never a lost row
        data["Ca (mmol/L)"] = [r[1] for r in rows]
    df = pd.DataFrame(data, dtype="str")
    out = std(df)
    assert len(out) == len(df)
    assert out["sample_id"].tolist() == data["Sample ID"]
    for col in df.columns:
        assert out[col].tolist() == df[col].tolist()
    for i, (_ca, hco3, ph, temp) in enumerate(rows):
        flags = qa.split(out["qa_flags"].iloc[i])
        if ph == "-99":
            assert "sentinel_value:ph" in flags
        if temp == "-9999":
            assert "sentinel_value:temp" in flags
        if hco3 in ("-999", "-9999.0", "-99"):
            assert "sentinel_value:hco3" in flags
    assert all(qa.rule(code) for f in out["qa_flags"] for code in qa.split(f))


#: Spellings and the number of that unit in 1 mmol/L of Ca2+ (M = 40.078 g/mol).
ROUND_TRIP = {"mM": 1.0, "mmol/L": 1.0, "µM": 1000.0, "umol/L": 1000.0, "mg L^-1": 40.078,
              "mg L-1": 40.078, "mg·L⁻¹": 40.078, "mg/litre": 40.078, "mg/liter": 40.078,
              "g/m3": 40.078, "mg/dL": 4.0078, "µg/mL": 40.078, "ppm": 40.078,
              "ppb": 40078.0, "µg/L": 40078.0, "meq/L": 2.0, "mmol/kg": 1.0, "mol/m3": 1.0}


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(ROUND_TRIP)),
       st.floats(min_value=1e-3, max_value=50.0, allow_nan=False))
def test_any_accepted_unit_spelling_round_trips_to_the_same_mmol_per_l(spelling, mmol):
    written = mmol * ROUND_TRIP[spelling]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        out = standardize(pd.DataFrame({"pH": ["7.4"], "T (°C)": ["16"],
                                        "HCO3 (mmol/L)": ["5"],
                                        f"Ca ({spelling})": [repr(written)]}))
    assert math.isclose(out["ca_mmol_l"].iloc[0], mmol, rel_tol=1e-9)
    assert parse_conc_unit(spelling) is not None
    assert match_header(f"Ca2+ ({spelling})").key == "ca"
