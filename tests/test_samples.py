"""Tests for karstsink.samples: the field-sample reader and the checks before PHREEQC.

Every expected number is a hand calculation written out next to it, with the molar
masses of karstsink.units (IUPAC 2021 conventional atomic weights: Ca 40.078,
Mg 24.305, Na 22.990, K 39.098, Cl 35.45, S 32.06, N 14.007, C 12.011, O 15.999,
H 1.008, P 30.974, Si 28.085).  Expected flags come from how the example files were
written (data/examples/README.md lists each planted problem).
"""

from __future__ import annotations

import datetime as dt
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import EXAMPLES_DIR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karstsink import qa
from karstsink.exceptions import (
    ConfigError,
    DataError,
    DataQualityWarning,
    KarstSinkError,
    UnitError,
)
from karstsink.io.samples import (
    FATAL_FLAGS,
    FLAG_DESCRIPTIONS,
    ION_COLUMNS,
    computable,
    read_samples,
    standardize,
)

# A clean base row: 16 °C, pH 7.40, alkalinity given separately by each test.
BASE = {"Sample ID": "S1", "T (°C)": "16", "pH": "7.40", "HCO3- (mmol/L)": "4.0"}


def std(df: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """standardize() with any DataQualityWarning swallowed (tests that need it assert it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return standardize(df, **kwargs)


def read(path, **kwargs) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return read_samples(path, **kwargs)


def one(header: str, value: str, **kwargs) -> pd.DataFrame:
    """A one-row table: the clean base row plus one column."""
    row = dict(BASE)
    row[header] = value
    return std(pd.DataFrame({k: [v] for k, v in row.items()}, dtype="str"), **kwargs)


# ---------------------------------------------------------------------------
# header forms and the units they carry
# ---------------------------------------------------------------------------

HEADER_CASES = [
    # header, cell, units=, output column, expected [canonical unit], hand calculation
    ("Ca2+ (mg/L)", "80.156", None, "ca_mmol_l", 2.0),  # 80.156 / 40.078
    ("Ca", "80.156", "mg/L", "ca_mmol_l", 2.0),
    ("Ca_mgL", "80.156", None, "ca_mmol_l", 2.0),
    ("Ca (mmol/L)", "2.0", None, "ca_mmol_l", 2.0),
    ("Ca (meq/L)", "4.0", None, "ca_mmol_l", 2.0),  # 4 meq / charge 2
    ("Ca (µmol/L)", "2000", None, "ca_mmol_l", 2.0),
    ("Ca (umol/L)", "2000", None, "ca_mmol_l", 2.0),
    ("Ca2+ [mg L-1]", "80.156", None, "ca_mmol_l", 2.0),
    ("calcium mg/l", "80.156", None, "ca_mmol_l", 2.0),
    ("钙(mg/L)", "80.156", None, "ca_mmol_l", 2.0),
    ("Ca²⁺（mg/L）", "80.156", None, "ca_mmol_l", 2.0),  # superscripts, full-width brackets
    ("Mg²⁺ (mg/L)", "24.305", None, "mg_mmol_l", 1.0),  # 24.305 / 24.305
    ("Mg2+_mg_L", "24.305", None, "mg_mmol_l", 1.0),
    ("Na+ (mg/L)", "22.99", None, "na_mmol_l", 1.0),
    ("K+ (ppm)", "39.098", None, "k_mmol_l", 1.0),  # ppm read as mg/L
    ("Cl- (mg/L)", "35.45", None, "cl_mmol_l", 1.0),
    ("SO42- (mg/L)", "96.06", None, "so4_mmol_l", 1.0),  # 32.06 + 4 x 15.999 = 96.056
    ("SO4^2- (mg/L)", "96.06", None, "so4_mmol_l", 1.0),
    ("SO4 2- (mg/L)", "96.06", None, "so4_mmol_l", 1.0),
    ("SO4-S (mg/L)", "32.06", None, "so4_mmol_l", 1.0),  # one S per SO4
    ("NO3-N", "14.007", "mg/L", "no3_mmol_l", 1.0),  # 14.007 mg N / 14.007
    ("NO3-N (mg/L)", "14.007", None, "no3_mmol_l", 1.0),
    ("NO3 (mg/L as N)", "14.007", None, "no3_mmol_l", 1.0),
    ("NO3- (mg/L)", "62.004", None, "no3_mmol_l", 1.0),  # 14.007 + 3 x 15.999
    ("硝酸盐氮(mg/L)", "14.007", None, "no3_mmol_l", 1.0),
    ("HCO3- (mg/L)", "305.085", None, "hco3_mmol_l", 5.0),  # 305.085 / 61.017
    ("HCO3", "305.085", "mg/L", "hco3_mmol_l", 5.0),
    ("重碳酸根(mg/L)", "305.085", None, "hco3_mmol_l", 5.0),
    # 250.2175 mg/L as CaCO3 / 100.087 = 2.5 mmol CaCO3 = 5 meq = 5 mmol/L HCO3-
    ("Alk (mg/L as CaCO3)", "250.2175", None, "hco3_mmol_l", 5.0),
    ("Alkalinity (mg/l CaCO3)", "250.2175", None, "hco3_mmol_l", 5.0),
    ("Alkalinity", "5.0", "meq/L", "hco3_mmol_l", 5.0),
    ("总碱度(mmol/L)", "5.0", None, "hco3_mmol_l", 5.0),
    ("T (°C)", "16.5", None, "temp_c", 16.5),
    ("Temp", "16.5", None, "temp_c", 16.5),  # no unit: °C (noted in attrs)
    ("Water temperature", "16.5", None, "temp_c", 16.5),
    ("WT", "16.5", None, "temp_c", 16.5),
    ("水温(℃)", "16.5", None, "temp_c", 16.5),
    ("水温", "16.5", None, "temp_c", 16.5),
    ("Temp_C", "16.5", None, "temp_c", 16.5),
    ("Temperature (°F)", "61.7", None, "temp_c", 16.5),  # (61.7 - 32) x 5/9 = 16.5
    ("EC (μS/cm)", "450", None, "ec_us_cm", 450.0),
    ("EC (µS/cm)", "450", None, "ec_us_cm", 450.0),
    ("SpC", "450", None, "ec_us_cm", 450.0),
    ("Specific conductance (uS/cm @25C)", "450", None, "ec_us_cm", 450.0),
    ("电导率(mS/cm)", "0.45", None, "ec_us_cm", 450.0),  # 0.45 mS/cm x 1000
    ("Lat", "26.25", None, "lat", 26.25),
    ("Latitude", "26.25", None, "lat", 26.25),
    ("纬度", "26.25", None, "lat", 26.25),
    ("Lon", "105.7", None, "lon", 105.7),
    ("Long", "105.7", None, "lon", 105.7),
    ("Longitude", "105.7", None, "lon", 105.7),
    ("经度", "105.7", None, "lon", 105.7),
    ("PO4-P (mg/L)", "30.974", None, "po4_mmol_l", 1.0),  # one P per PO4
    ("Si (mg/L)", "28.085", None, "sio2_mmol_l", 1.0),  # one Si per SiO2
    ("SiO2 (mg/L)", "60.083", None, "sio2_mmol_l", 1.0),  # 28.085 + 2 x 15.999
    ("NH4-N (mg/L)", "14.007", None, "nh4_mmol_l", 1.0),
    ("CO32- (mg/L)", "60.009", None, "co3_mmol_l", 1.0),  # 12.011 + 3 x 15.999
    ("Sr (µg/L)", "87.62", None, "sr_mmol_l", 0.001),  # 87.62 µg = 0.08762 mg / 87.62
    ("F- (mg/L)", "18.998", None, "f_mmol_l", 1.0),
    ("DOC (mg/L)", "2.5", None, "doc_mg_c_l", 2.5),
    ("TOC (mmol/L)", "1.0", None, "toc_mg_c_l", 12.011),  # 1 mmol C x 12.011 mg/mmol
]


@pytest.mark.parametrize(("header", "cell", "units", "column", "expected"), HEADER_CASES)
def test_header_forms_map_to_canonical_columns(header, cell, units, column, expected):
    row = dict(BASE)
    if column in ("temp_c", "hco3_mmol_l"):  # replace the base column of that quantity
        row.pop("T (°C)" if column == "temp_c" else "HCO3- (mmol/L)")
    elif units == "mg/L":  # a units string must agree with every header stating a unit,
        row.pop("HCO3- (mmol/L)")  # so the base alkalinity is in mg/L: 244.068/61.017 = 4.0
        row["HCO3- (mg/L)"] = "244.068"
    row[header] = cell
    out = std(pd.DataFrame({k: [v] for k, v in row.items()}, dtype="str"), units=units)
    assert out[column].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert out.attrs["column_map"][header] is not None
    assert out["qa_flags"].iloc[0] == ""


@pytest.mark.parametrize(
    ("header", "value", "key"),
    [("Sample ID", "S-7", "sample_id"), ("Sample", "S-7", "sample_id"),
     ("样品编号", "S-7", "sample_id"), ("Site", "陈旗泉", "site"), ("采样点", "陈旗泉", "site"),
     ("Station name", "陈旗泉", "site")],
)
def test_id_and_site_headers(header, value, key):
    df = pd.DataFrame({header: [value], "pH": ["7.4"], "T": ["16"], "HCO3 (mg/L)": ["250"]})
    out = std(df)
    assert out[key].iloc[0] == value


@pytest.mark.parametrize("header", ["Date", "Sampling date", "采样日期", "Date (yyyy-mm-dd)"])
def test_date_headers(header):
    out = one(header, "2021-05-18")
    assert out["date"].iloc[0] == pd.Timestamp("2021-05-18")


@pytest.mark.parametrize(
    "header",
    ["Site comments", "NO3 method", "Ca/Mg ratio", "Air temperature", "Ca method",
     "pH meter", "Sample volume (mL)", "Lab comments", "CO2 (ppm)", "K2"],
)
def test_lookalike_headers_are_not_taken(header):
    out = one(header, "12.5")
    assert out[header].iloc[0] == "12.5"  # carried through as text
    assert header not in out.attrs["column_map"]
    assert header in out.attrs["unmatched_columns"]
    assert np.isnan(out["ca_mmol_l"].iloc[0])
    assert out["temp_c"].iloc[0] == 16.0  # the real temperature column still wins


def test_column_map_for_unknown_header_and_to_skip_one():
    df = pd.DataFrame({"Calc. conc (mg/L)": ["80.156"], "pH": ["7.4"], "T": ["16"],
                       "HCO3 (mg/L)": ["250"], "Temp": ["99"]})
    out = std(df, column_map={"Calc. conc (mg/L)": "ca", "Temp": None})
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80.156 / 40.078
    assert out["temp_c"].iloc[0] == 16.0
    with pytest.raises(ConfigError, match="not a canonical name"):
        std(df, column_map={"Calc. conc (mg/L)": "calcium carbonate"})
    with pytest.raises(ConfigError, match="not a column"):
        std(df, column_map={"Nope": "ca"})


# ---------------------------------------------------------------------------
# units: missing, from units=, from a units row
# ---------------------------------------------------------------------------


def test_concentration_without_unit_is_one_clear_error():
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "Ca": ["80"], "HCO3 (mg/L)": ["250"]})
    with pytest.raises(UnitError) as err:
        std(df, source="lab.csv")
    msg = str(err.value)
    assert "lab.csv" in msg and "'Ca'" in msg and "--units" in msg and "header" in msg
    assert isinstance(err.value, KarstSinkError) and isinstance(err.value, ValueError)


def test_units_dict_per_key_and_single_string():
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "Ca": ["80.156"], "Alkalinity": ["250.2175"],
                       "NO3": ["14.007"]})
    out = std(df, units={"ca": "mg/L", "alk": "mg/L as CaCO3", "no3": "mg/L as N"})
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80.156 / 40.078
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)  # 250.2175 / 50.0435
    assert out["no3_mmol_l"].iloc[0] == pytest.approx(1.0)  # 14.007 / 14.007
    assert out.attrs["source_units"]["alk"] == "mg/L as CaCO3"
    # one string for all ions; alkalinity in a mass unit is as CaCO3 by convention
    out = std(df.drop(columns="NO3"), units="mg/L")
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)
    assert out.attrs["source_units"]["alk"] == "mg/L as CaCO3"
    with pytest.raises(UnitError, match="not a unit"):
        std(df, units={"ca": "furlongs"})
    with pytest.raises(ConfigError, match="not a canonical name"):
        std(df, units={"calcium carbonate": "mg/L"})


def test_units_string_fills_headers_without_unit_and_a_header_unit_wins():
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "Ca (mg/L)": ["80.156"],
                       "HCO3": ["305.085"]})
    out = std(df, units="mg/L")
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80.156 / 40.078
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)  # 305.085 mg/L / 61.017
    out = std(df, units={"hco3": "mmol/L"})  # a dict states a column without a header unit
    assert out["hco3_mmol_l"].iloc[0] == 305.085
    out = std(df, units={"ca": "mg/L", "hco3": "mg/L"})  # agrees with the header: fine
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)


@pytest.mark.parametrize(("header", "units"), [
    ("Ca (mmol/L)", "mg/L"),  # a string against a header unit
    ("Ca (mmol/L)", {"ca": "meq/L"}),  # 2 meq/L of Ca is 1 mmol/L, not 2: it contradicts
    ("HCO3- (mmol/L)", "mg/L"),  # issue 11: 61 x too low if the option won
])
def test_explicit_unit_contradicting_a_header_is_an_error(header, units):
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], header: ["2.0"]})
    given = units if isinstance(units, str) else units["ca"]
    with pytest.raises(UnitError) as err:
        std(df, units=units, source="lab.csv")
    msg = str(err.value)
    assert "\n" not in msg and "lab.csv" in msg and repr(header) in msg
    assert repr(header.split("(")[1].rstrip(")")) in msg and repr(given) in msg


def test_units_that_read_a_column_alike_are_not_a_contradiction():
    # 'mg/L' on 'Alk (mg/L as CaCO3)': alkalinity in mass units is as CaCO3 anyway;
    # 250.2175 / 50.0435 = 5.0 mmol/L HCO3-
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "Alk (mg/L as CaCO3)": ["250.2175"],
                       "NO3-N (mg/L)": ["14.007"]})
    out = std(df, units="mg/L")
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)
    assert out["no3_mmol_l"].iloc[0] == pytest.approx(1.0)  # 14.007 mg N/L / 14.007
    # HCO3- has charge 1: mmol/L and meq/L are the same numbers
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "HCO3- (meq/L)": ["4.0"]})
    assert std(df, units="mmol/L")["hco3_mmol_l"].iloc[0] == 4.0


def test_a_dict_unit_contradicting_the_name_or_header_basis_is_an_error():
    # 'NO3 (mg/L)' is mg/L of NO3-; saying 'as N' would read it 62.004/14.007 = 4.43 x higher
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "HCO3 (mg/L)": ["250"], "NO3 (mg/L)": ["10"]})
    with pytest.raises(UnitError, match=r"'NO3 \(mg/L\)'.*'mg/L'.*'mg/L as N'"):
        std(df, units={"no3": "mg/L as N"})
    # without a unit in the header the dict states it: 14.007 mg/L as N = 1 mmol/L
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "HCO3 (mg/L)": ["250"], "NO3": ["14.007"]})
    assert std(df, units={"no3": "mg/L as N"})["no3_mmol_l"].iloc[0] == pytest.approx(1.0)


def test_an_element_qualifier_for_the_wrong_ion_is_an_error():
    # 'mg/L as N' given for every column would read HCO3 as N (61.017/14.007 = 4.4 x too high)
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "HCO3": ["250"], "NO3": ["2.259"]})
    with pytest.raises(UnitError, match=r"'HCO3'.*'mg/L as N'.*does not apply"):
        std(df, units="mg/L as N")


def test_header_name_and_unit_qualifiers_that_disagree_are_an_error():
    df = pd.DataFrame({"pH": ["7.4"], "T": ["16"], "NO3-N (mg/L as NO3)": ["1"],
                       "HCO3 (mg/L)": ["250"]})
    with pytest.raises(UnitError, match="NO3-N"):
        std(df)


def test_units_row_under_the_header(tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("Sample,T,pH,Ca,Mg,HCO3,EC\n,°C,,mg/L,mg/L,mg/L,µS/cm\n"
                    "A,16,7.4,80.156,24.305,305.085,450\nB,17,7.5,40.078,12.1525,244.068,380\n",
                    encoding="utf-8")
    out = read(path)
    assert len(out) == 2 and out.attrs["reader"]["units_row"] == 2
    # 80.156/40.078 = 2; 24.305/24.305 = 1; 305.085/61.017 = 5; 244.068/61.017 = 4
    assert out["ca_mmol_l"].tolist() == pytest.approx([2.0, 1.0])
    assert out["mg_mmol_l"].tolist() == pytest.approx([1.0, 0.5])
    assert out["hco3_mmol_l"].tolist() == pytest.approx([5.0, 4.0])
    assert out["qa_flags"].tolist() == ["", ""]


def test_canonical_named_columns_are_recognised_not_duplicated():
    df = pd.DataFrame({"temp_c": [16.0], "ph": [7.4], "ca_mmol_l": [2.0],
                       "hco3_mmol_l": [4.0], "Mg (mg/L)": ["24.305"]})
    out = std(df)
    assert list(out.columns).count("ca_mmol_l") == 1
    assert out["ca_mmol_l"].iloc[0] == 2.0 and out["mg_mmol_l"].iloc[0] == pytest.approx(1.0)
    assert list(out.columns[:5]) == list(df.columns)


def test_standardize_is_idempotent_on_the_example():
    first = read(EXAMPLES_DIR / "field_samples.csv")
    again = std(first)
    pd.testing.assert_frame_equal(first, again, check_dtype=False)


def test_both_hco3_and_alkalinity_use_hco3_then_alkalinity():
    df = pd.DataFrame({"pH": ["7.4", "7.4"], "T": ["16", "16"],
                       "HCO3 (mg/L)": ["305.085", ""],
                       "Alk (mg/L as CaCO3)": ["100.087", "100.087"]})
    out = std(df)
    # row 0: HCO3 305.085 / 61.017 = 5; row 1: 100.087 as CaCO3 = 2 meq = 2 mmol/L HCO3-
    assert out["hco3_mmol_l"].tolist() == pytest.approx([5.0, 2.0])
    assert "alkalinity" in out.attrs["alkalinity_source"]
    # row 0 gives both, 5 mmol/L HCO3 against 2 meq/L alkalinity at pH 7.4 (no carbonate
    # alkalinity below pH 8.3): |5 - 2| / 2 = 150 % > 10 %, so HCO3 is used and flagged
    assert out["qa_flags"].tolist() == ["alkalinity_disagrees", ""]


def test_an_alkalinity_above_ph_8_3_without_co3_is_flagged_as_holding_carbonate():
    # Above pH 8.3 (the phenolphthalein end point, Standard Methods 2320 B) part of the
    # alkalinity is CO3: PHREEQC 3.8.6 with phreeqc.dat (Ca 1.6 mmol/kgw, alkalinity
    # 3.2 meq/kgw, 25 °C) gives 2 (CO3-2 + CaCO3) / (HCO3- + CaHCO3+) = 8.9 % at pH 8.5.
    # 0: pH 8.5, alkalinity only: flagged, the value kept (4 meq/L as HCO3).
    # 1: pH 8.3 exactly: not above the end point, not flagged.
    # 2: pH 8.5 with CO3 0.1 mmol/L: HCO3 = 4.0 - 2 x 0.1 = 3.8, not flagged.
    # 3: pH 8.5, HCO3 given: the laboratory's own HCO3, not flagged.
    # 4: no pH: flagged missing_ph only.
    df = pd.DataFrame({"pH": ["8.5", "8.3", "8.5", "8.5", ""], "T": ["16"] * 5,
                       "HCO3 (mmol/L)": ["", "", "", "3.9", ""],
                       "Alkalinity (meq/L)": ["4.0"] * 5,
                       "CO3 (mmol/L)": ["", "", "0.1", "", ""]})
    out = std(df)
    assert out["hco3_mmol_l"].tolist() == pytest.approx([4.0, 4.0, 3.8, 3.9, 4.0])
    assert out["qa_flags"].tolist() == ["carbonate_in_alkalinity", "", "", "", "missing_ph"]
    rule = qa.rule("carbonate_in_alkalinity")
    assert rule.severity == "warn" and qa.threshold("carbonate_in_alkalinity") == 8.3
    assert "flux" in rule.stages
    # a '<DL' CO3 was measured: HCO3 = alkalinity - 2 x its stand-in, or with 'nan' the
    # alkalinity as it is; either way a CO3 is given and the row is not flagged for it
    cens = pd.DataFrame({"pH": ["8.5"], "T": ["16"], "Alkalinity (meq/L)": ["4.0"],
                         "CO3 (mmol/L)": ["<0.02"]})
    for policy in ("half", "nan"):
        assert std(cens, below_detection=policy)["qa_flags"].tolist() == ["below_detection:co3"]


def test_hco3_and_alkalinity_that_disagree_are_flagged_not_changed():
    # By hand, with M(HCO3) 61.017 and M(CaCO3)/2 = 50.0435 g/eq:
    # 0: 244.068 mg/L HCO3 = 4.000 mmol/L, 200.174 mg/L as CaCO3 = 4.000 meq/L: agree.
    # 1: 4.0 against 4.3: 7.0 % of 4.3, within 10 %: not flagged.
    # 2: an alkalinity as CaCO3 written as HCO3: 200.174 / 61.017 = 3.2806 mmol/L against
    #    4.000 meq/L, 18.0 %: flagged, and HCO3 stays 3.2806 (the value as written).
    # 3: pH 8.8, no CO3: HCO3 3.0 against 4.0 is not judged (CO3 may make up the rest).
    # 4: pH 8.8, CO3 0.5 mmol/L: 3.0 + 2 x 0.5 = 4.0 against 4.0: agree.
    # 5: pH 8.8, CO3 0.1 mmol/L: 3.0 + 0.2 = 3.2 against 4.0, 20 %: flagged.
    df = pd.DataFrame({
        "pH": ["7.4", "7.4", "7.4", "8.8", "8.8", "8.8"], "T": ["16"] * 6,
        "HCO3 (mmol/L)": ["4.0", "4.0", "3.28063", "3.0", "3.0", "3.0"],
        "Alkalinity (meq/L)": ["4.0", "4.3", "4.0", "4.0", "4.0", "4.0"],
        "CO3 (mmol/L)": ["", "", "", "", "0.5", "0.1"]})
    out = std(df)
    assert out["hco3_mmol_l"].tolist() == pytest.approx([4.0, 4.0, 3.28063, 3.0, 3.0, 3.0])
    assert out["qa_flags"].tolist() == ["", "", "alkalinity_disagrees", "",
                                        "", "alkalinity_disagrees"]
    assert qa.rule("alkalinity_disagrees").severity == "warn"
    assert qa.threshold("alkalinity_disagrees") == 10.0 == qa.ALKALINITY_DISAGREE_PCT
    # the mg/L form of row 2 gives the same judgement
    mg = std(pd.DataFrame({"pH": ["7.4", "7.4"], "T": ["16", "16"],
                           "HCO3 (mg/L)": ["244.068", "200.174"],
                           "Alk (mg/L as CaCO3)": ["200.174", "200.174"]}))
    assert mg["qa_flags"].tolist() == ["", "alkalinity_disagrees"]
    # a '<DL' is a stand-in (half the limit): HCO3 2 mg/L against alkalinity '<2' as CaCO3
    # agree within the limit and are not judged
    cens = std(pd.DataFrame({"pH": ["7.4"], "T": ["16"], "HCO3 (mg/L)": ["2"],
                             "Alk (mg/L as CaCO3)": ["<2"]}))
    assert cens["qa_flags"].tolist() == ["below_detection:alk"]


def test_censored_ph_and_temperature_are_not_invented():
    # '<7' is no pH: halving it as a concentration below a detection limit gave pH 3.5
    df = pd.DataFrame({"pH": ["<7", "7.2", ">9"], "T (°C)": ["10", "<5", "12"],
                       "HCO3 (mmol/L)": ["1", "1", "1"], "Ca (mmol/L)": ["<0.5", "0.5", "0.5"]})
    out = std(df)
    assert np.isnan(out["ph"].iloc[0]) and np.isnan(out["temp_c"].iloc[1])
    assert np.isnan(out["ph"].iloc[2])
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(0.25)  # a concentration: half the limit
    assert out["qa_flags"].tolist() == ["censored_value:ph;below_detection:ca",
                                        "censored_value:temp", "censored_value:ph"]


def test_total_alkalinity_with_carbonate_is_not_counted_twice():
    # Total alkalinity holds the carbonate: alk = HCO3 + 2 CO3 [meq/L]. By hand:
    # 205 mg/L as CaCO3 / 50.0435 = 4.09644 meq/L; CO3 6 mg/L / 60.009 = 0.099985 mmol/L;
    # HCO3 = 4.09644 - 2 x 0.099985 = 3.89647 mmol/L. Row 1 has HCO3 itself (122.034 /
    # 61.017 = 2), which alkalinity does not touch. Row 2: 2 x CO3 (2 x 0.99985 mmol/L)
    # exceeds the alkalinity (1.000 meq/L), an inconsistent analysis.
    df = pd.DataFrame({"pH": ["8.6", "8.6", "8.6"], "T": ["16", "16", "16"],
                       "HCO3 (mg/L)": ["", "122.034", ""],
                       "Total alkalinity (mg/L as CaCO3)": ["205", "205", "50.0435"],
                       "CO3 (mg/L)": ["6", "6", "60"]})
    out = std(df)
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(3.89647, rel=1e-5)
    assert out["hco3_mmol_l"].iloc[1] == pytest.approx(2.0, rel=1e-6)
    assert np.isnan(out["hco3_mmol_l"].iloc[2])
    # row 1 gives both: 2 + 2 x 0.099985 = 2.19997 against 4.09644 meq/L, 46 % apart
    assert out["qa_flags"].tolist() == ["", "alkalinity_disagrees",
                                        "carbonate_exceeds_alkalinity"]
    assert any("alkalinity - 2 x co3_mmol_l" in note for note in out.attrs["notes"])


# ---------------------------------------------------------------------------
# cell forms
# ---------------------------------------------------------------------------

CELL_CASES = [
    # K in mmol/L so the value is the number itself; (cell, value, flags)
    ("0.05", 0.05, ""),
    ("<0.05", 0.025, "below_detection:k"),  # half the limit by default
    ("< 0.05", 0.025, "below_detection:k"),
    ("ND<0.05", 0.025, "below_detection:k"),
    ("＜0.05", 0.025, "below_detection:k"),  # full-width '<'
    ("<0,05", 0.025, "below_detection:k"),
    ("0.05L", 0.025, "below_detection:k"),  # Chinese reports: '0.05L' = below 0.05
    ("n.d.", np.nan, ""),
    ("nd", np.nan, ""),
    ("ND", np.nan, ""),
    ("-", np.nan, ""),
    ("--", np.nan, ""),
    ("—", np.nan, ""),
    ("NA", np.nan, ""),
    ("N/A", np.nan, ""),
    ("nan", np.nan, ""),
    ("", np.nan, ""),
    ("   ", np.nan, ""),
    (">10", 10.0, "above_range:k"),
    ("7,4", 7.4, ""),  # decimal comma
    ("1,234", 1234.0, ""),  # thousands separator
    ("1,234.5", 1234.5, ""),
    (" 0.75 ", 0.75, ""),  # stray spaces
    ("0.75\u00a0", 0.75, ""),  # non-breaking space
    ("０.７５", 0.75, ""),  # full-width digits
    ("1.5e-1", 0.15, ""),
    ("lost", np.nan, "not_numeric:k"),
    ("0.7 mg", np.nan, "not_numeric:k"),
    ("-0.2", np.nan, "negative_value:k"),  # impossible: NaN, flagged
]


@pytest.mark.parametrize(("cell", "value", "flags"), CELL_CASES)
def test_cell_forms(cell, value, flags):
    out = one("K (mmol/L)", cell)
    got = out["k_mmol_l"].iloc[0]
    if np.isnan(value):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(value, rel=1e-12)
    assert out["qa_flags"].iloc[0] == flags
    assert out["K (mmol/L)"].iloc[0] == cell  # the original text is untouched


@pytest.mark.parametrize(
    ("policy", "expected"),
    [("half", 0.025), ("zero", 0.0), ("limit", 0.05), ("nan", np.nan), (0.3, 0.015)],
)
def test_below_detection_policy(policy, expected):
    out = one("K (mmol/L)", "<0.05", below_detection=policy)
    got = out["k_mmol_l"].iloc[0]
    assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected)
    assert out["qa_flags"].iloc[0] == "below_detection:k"
    assert out.attrs["below_detection"] == policy


@pytest.mark.parametrize("policy", ["quarter", 1.5, -0.1, True])
def test_bad_below_detection_policy(policy):
    with pytest.raises(ConfigError, match="below_detection"):
        one("K (mmol/L)", "<0.05", below_detection=policy)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("2021-05-18", "2021-05-18"), ("2021/5/18", "2021-05-18"), ("2021.05.18", "2021-05-18"),
     ("2021年5月18日", "2021-05-18"), ("20210518", "2021-05-18"),
     ("18/05/2021", "2021-05-18"), ("2021-05-18 10:30", "2021-05-18 10:30"),
     ("44334", "2021-05-18")],  # Excel serial: 1899-12-30 + 44334 days
)
def test_date_cells(cell, expected):
    assert one("Date", cell)["date"].iloc[0] == pd.Timestamp(expected)


def test_bad_date_is_flagged_missing_date_is_not():
    df = pd.DataFrame({"Date": ["2021-13-45", "", "yesterday"], "pH": ["7.4"] * 3,
                       "T": ["16"] * 3, "HCO3 (mg/L)": ["250"] * 3})
    out = std(df)
    assert out["date"].isna().all()
    assert out["qa_flags"].tolist() == ["bad_date", "", "bad_date"]
    assert computable(out).all()  # a bad date does not stop speciation


# ---------------------------------------------------------------------------
# validation before PHREEQC (issue 2, point 4)
# ---------------------------------------------------------------------------

BAD_INPUTS = [
    # column, cell, flags, computable
    ("pH", "", "missing_ph", False),
    ("pH", "15.2", "ph_out_of_range", False),
    ("pH", "-1", "ph_out_of_range", False),
    ("pH", "3.5", "ph_unusual", True),
    ("pH", "11.3", "ph_unusual", True),
    ("pH", "seven", "not_numeric:ph", False),
    ("T (°C)", "", "missing_temp", False),
    ("T (°C)", "101", "temp_out_of_range", False),
    ("T (°C)", "-3", "temp_out_of_range", False),
    ("T (°C)", "55", "temp_unusual", True),
    ("T (°C)", "-1", "temp_unusual", True),
    ("HCO3- (mmol/L)", "", "missing_alkalinity", False),
    ("HCO3- (mmol/L)", "n.d.", "missing_alkalinity", False),
    ("HCO3- (mmol/L)", "-4", "negative_value:hco3", False),
    ("HCO3- (mmol/L)", "four", "not_numeric:hco3", False),
]


@pytest.mark.parametrize(("column", "cell", "flags", "ok"), BAD_INPUTS)
def test_bad_inputs_flag_and_computable(column, cell, flags, ok):
    row = dict(BASE)
    row[column] = cell
    df = pd.DataFrame({k: [v] for k, v in row.items()}, dtype="str")
    with pytest.warns(DataQualityWarning, match="1 of 1 rows flagged"):
        out = standardize(df)
    assert out["qa_flags"].iloc[0] == flags
    assert bool(computable(out).iloc[0]) is ok
    if not ok and column != "HCO3- (mmol/L)":
        assert np.isnan(out["ph" if column == "pH" else "temp_c"].iloc[0])
    assert out[column].iloc[0] == cell


def test_clean_rows_get_no_flag_and_no_warning():
    df = pd.DataFrame({"pH": ["7.4", "8.1"], "T": ["16", "18"], "HCO3 (mg/L)": ["250", "180"],
                       "K (mg/L)": ["", "1.2"], "Na (mg/L)": ["n.d.", "3"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = standardize(df)
    assert out["qa_flags"].tolist() == ["", ""]
    assert computable(out).tolist() == [True, True]


def test_flags_keep_a_stable_order():
    row = dict(BASE, **{"pH": "3.9", "K (mmol/L)": "<0.1", "Ca (mmol/L)": "-1",
                        "Date": "never", "Mg (mmol/L)": "x"})
    out = one("Na (mmol/L)", ">5", **{})  # sanity: the helper still works
    df = pd.DataFrame({k: [v] for k, v in row.items()}, dtype="str")
    out = std(df)
    assert out["qa_flags"].iloc[0] == (
        "negative_value:ca;not_numeric:mg;ph_unusual;below_detection:k;bad_date")
    assert not computable(out).iloc[0]


def test_duplicate_sample_ids_are_flagged_on_every_copy():
    df = pd.DataFrame({"Sample ID": ["A", "B", "A", ""], "pH": ["7.4"] * 4, "T": ["16"] * 4,
                       "HCO3 (mg/L)": ["250"] * 4})
    out = std(df)
    assert out["qa_flags"].tolist() == ["duplicate_sample_id", "", "duplicate_sample_id", ""]


def test_flag_descriptions_cover_the_contract():
    for code in ["missing_ph", "missing_temp", "missing_alkalinity", "ph_out_of_range",
                 "temp_out_of_range", "negative_value:<key>", "not_numeric:<key>",
                 "ph_unusual", "temp_unusual", "below_detection:<key>", "above_range:<key>",
                 "bad_date", "duplicate_sample_id", "charge_imbalance", "high_ionic_strength",
                 "phreeqc_failed"]:
        assert code in FLAG_DESCRIPTIONS
    assert {"missing_ph", "negative_value", "not_numeric"} <= FATAL_FLAGS
    assert "ph_unusual" not in FATAL_FLAGS


def test_computable_needs_qa_flags():
    with pytest.raises(DataError, match="qa_flags"):
        computable(pd.DataFrame({"ph": [7.0]}))
    assert computable(pd.DataFrame({"qa_flags": ["", "charge_imbalance", "missing_ph"]})
                      ).tolist() == [True, True, False]


def test_missing_columns_are_named_in_the_warning():
    df = pd.DataFrame({"Sample": ["a"], "Ca (mg/L)": ["80"]})
    with pytest.warns(DataQualityWarning, match="No column recognised for ph, temp"):
        out = standardize(df)
    assert out["qa_flags"].iloc[0] == "missing_ph;missing_temp;missing_alkalinity"
    assert set(ION_COLUMNS) <= set(out.columns)


# ---------------------------------------------------------------------------
# files: the examples, encodings, delimiters, decimal commas, XLSX, long tables
# ---------------------------------------------------------------------------

EXPECTED_EXAMPLE_FLAGS = {  # row -> flags, as planted (data/examples/README.md)
    2: "below_detection:k", 4: "not_numeric:mg", 5: "ph_out_of_range",
    7: "negative_value:cl", 9: "missing_temp", 11: "missing_alkalinity",
    13: "below_detection:no3", 18: "bad_date", 21: "duplicate_sample_id",
    22: "duplicate_sample_id", 25: "above_range:so4", 30: "ph_unusual",
}


def test_example_file_keeps_every_row_and_flags_exactly_the_bad_ones():
    path = EXAMPLES_DIR / "field_samples.csv"
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    flagged = r"12 of 40 rows flagged \(.*\), 5 of them not computable"
    with pytest.warns(DataQualityWarning, match=flagged):
        out = read_samples(path)
    assert len(out) == 40
    assert list(out.columns[: raw.shape[1]]) == list(raw.columns)
    for col in raw.columns:  # the user's columns come back exactly as written
        assert out[col].tolist() == raw[col].tolist()
    expected = [EXPECTED_EXAMPLE_FLAGS.get(i, "") for i in range(40)]
    assert out["qa_flags"].tolist() == expected
    # a few hand-checked values
    assert out.loc[0, "ca_mmol_l"] == pytest.approx(80.7 / 40.078)
    assert out.loc[33, "ca_mmol_l"] == pytest.approx(52.5 / 40.078)  # full-width '５２.５'
    assert out.loc[35, "temp_c"] == 9.5  # '9,5' in a comma file
    assert out.loc[0, "no3_mmol_l"] == pytest.approx(2.62 / 14.007)  # NO3-N
    assert out.loc[2, "k_mmol_l"] == pytest.approx(0.025 / 39.098)  # '<0.05' -> half
    assert out.loc[3, "date"] == pd.Timestamp("2021-07-22")  # '2021/7/22'
    assert out.loc[1, "site"] == "后寨河 outlet"
    assert out["Comments"].iloc[0] == "baseflow, clear water"
    assert out.attrs["source_units"]["no3"] == "mg/L as N"


def test_gbk_example_reads_like_utf8(tmp_path):
    gbk = EXAMPLES_DIR / "field_samples_gbk.csv"
    out = read(gbk)
    assert out.attrs["reader"]["encoding"] == "gb18030"
    assert out["site"].tolist()[:3] == ["后寨河", "陈旗泉", "板寨"]
    assert out["备注"].iloc[0] == "丰水期，水清"
    assert out["ph"].iloc[4] == pytest.approx(8.12)  # full-width '８.１２'
    assert out["qa_flags"].tolist() == ["", "", "below_detection:k", "", "", "missing_temp"]
    utf8 = tmp_path / "bom.csv"
    utf8.write_bytes(gbk.read_bytes().decode("gbk").encode("utf-8-sig"))
    again = read(utf8)
    assert again.attrs["reader"]["encoding"] == "utf-8-sig"
    assert list(again.columns) == list(out.columns)  # the BOM is not part of the first header
    pd.testing.assert_frame_equal(out, again)


def test_encodings_are_detected_or_refused(tmp_path):
    text = "样品编号,水温(℃),pH,钙(mg/L),重碳酸根(mg/L)\nA,16,7.4,80.156,305.085\n"
    for enc in ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"):
        path = tmp_path / f"f_{enc}.csv"
        path.write_bytes(text.encode(enc))
        out = read(path)
        assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0), enc  # 80.156 / 40.078
        assert out["sample_id"].iloc[0] == "A"
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Sample,T (°C),pH,Ca (µg/L),HCO3 (mg/L)\nA,16,7.4,80156,305.085\n"
                      .encode("latin-1"))
    with pytest.raises(DataError, match="encoding"):
        read(latin)  # never silently read as GBK mojibake
    out = read(latin, encoding="latin-1")
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80156 µg/L = 80.156 mg/L
    with pytest.raises(DataError, match="ascii"):
        read(latin, encoding="ascii")


def test_semicolon_file_with_decimal_commas(tmp_path):
    path = tmp_path / "eu.csv"
    path.write_text("Probe;Datum;Temp (°C);pH;Ca (mg/L);HCO3 (mg/L);Bemerkung\n"
                    "P1;2021-05-18;16,5;7,40;80,156;305,085;klar, kalt\n"
                    "P2;2021-05-19;1.016,0;7,5;<0,5;1.220,34;\n", encoding="utf-8")
    out = read(path)
    assert out.attrs["reader"]["delimiter"] == ";" and out.attrs["reader"]["decimal_comma"]
    assert out["temp_c"].iloc[0] == 16.5 and out["ph"].iloc[0] == 7.4
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80,156 / 40.078
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)  # 305,085 / 61.017
    # '1.016,0' = 1016 °C: impossible; '1.220,34' = 1220.34 mg/L / 61.017 = 20.0 mmol/L
    assert out["qa_flags"].iloc[1] == "temp_out_of_range;below_detection:ca"
    assert out["hco3_mmol_l"].iloc[1] == pytest.approx(20.0)
    assert out["Bemerkung"].iloc[0] == "klar, kalt"


def test_tab_file_with_title_rows(tmp_path):
    path = tmp_path / "lab.txt"
    path.write_text("Guizhou karst survey 2021\nexported 2021-06-01\n\n"
                    "Sample ID\tT (°C)\tpH\tHCO3- (mg/L)\n"
                    "S1\t16\t7.4\t305.085\n", encoding="utf-8")
    out = read(path)
    assert out.attrs["reader"]["delimiter"] == "\t"
    assert out.attrs["reader"]["header_row"] == 4
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)
    assert out.attrs["reader"]["preamble"][0] == "Guizhou karst survey 2021"


def test_a_row_with_too_many_cells_names_its_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Sample,T,pH,HCO3 (mg/L),Comment\nA,16,7.4,250,ok\n"
                    "B,16,7.4,250,rain, then sun\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 3.*quotes"):
        read(path)


def test_trailing_delimiters_and_empty_rows(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_text("Sample,T,pH,HCO3 (mg/L),,\nA,16,7.4,250,,\n,,,,,\nB,17,7.6,260\n,,,,,\n",
                    encoding="utf-8")
    out = read(path)
    assert len(out) == 3  # the empty row in the middle is kept, the trailing one is not
    assert out["sample_id"].tolist()[0] == "A" and out["sample_id"].tolist()[2] == "B"
    assert out["qa_flags"].iloc[1] == "missing_ph;missing_temp;missing_alkalinity"


def test_xlsx_with_title_row_numbers_and_dates(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "survey"
    ws.append(["后寨河 2021 水样分析结果"])
    ws.append(["样品编号", "采样日期", "水温(℃)", "pH", "Ca2+ (mg/L)", "HCO3- (mg/L)", "备注"])
    ws.append(["HZ-1", dt.datetime(2021, 5, 18), 16.5, 7.4, 80.156, 305.085, "clear"])
    ws.append(["HZ-2", dt.datetime(2021, 5, 19, 10, 30), 17, 7.6, "<0.5", 244.068, None])
    wb.create_sheet("other").append(["nothing here"])
    path = tmp_path / "survey.xlsx"
    wb.save(path)
    out = read(path)
    assert out.attrs["reader"]["sheet"] == "survey" and out.attrs["reader"]["header_row"] == 2
    assert out["采样日期"].tolist() == ["2021-05-18", "2021-05-19 10:30:00"]
    assert out["水温(℃)"].tolist() == ["16.5", "17"]
    assert out["date"].tolist() == [pd.Timestamp("2021-05-18"), pd.Timestamp("2021-05-19 10:30")]
    assert out["ca_mmol_l"].tolist() == pytest.approx([2.0, 0.25 / 40.078])  # 80.156/40.078
    assert out["hco3_mmol_l"].tolist() == pytest.approx([5.0, 4.0])  # 244.068 / 61.017 = 4
    assert out["qa_flags"].tolist() == ["", "below_detection:ca"]
    with pytest.raises(DataError, match="no sheet named"):
        read(path, sheet="missing")
    assert len(read(path, sheet=0)) == 2
    # a notes sheet in front: the first sheet with a sample header is used
    wb = openpyxl.load_workbook(path)
    wb.move_sheet("other", offset=-1)
    wb.save(path)
    assert read(path).attrs["reader"]["sheet"] == "survey"
    # asked for: the notes sheet, where no column is a sample quantity (issue 12: an error,
    # not an empty table and exit 0)
    with pytest.raises(DataError, match=r"no column is recognised.*'nothing here'.*column_map"):
        read(path, sheet=0)


def test_unknown_columns_are_carried_through_untouched(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text('Sample,Bottle,T,pH,HCO3 (mg/L),Notes,DO (mg/L)\n'
                    'A,007, 16 ,7.40,250,"says ""hi"", twice",NA\n', encoding="utf-8")
    out = read(path)
    assert out["Bottle"].iloc[0] == "007"
    assert out["T"].iloc[0] == " 16 "
    assert out["pH"].iloc[0] == "7.40"
    assert out["Notes"].iloc[0] == 'says "hi", twice'
    assert out["DO (mg/L)"].iloc[0] == "NA"
    assert list(out.columns[:7]) == ["Sample", "Bottle", "T", "pH", "HCO3 (mg/L)", "Notes",
                                     "DO (mg/L)"]
    assert out.attrs["unmatched_columns"] == ["Bottle", "Notes", "DO (mg/L)"]


def test_wqp_long_table_is_pivoted():
    out = read(EXAMPLES_DIR / "wqp_long.csv")
    assert len(out) == 2
    assert out["site"].tolist() == ["DEMO-SPRING-1", "DEMO-RIVER-2"]
    assert out["date"].tolist() == [pd.Timestamp("2020-04-14 10:30"),
                                    pd.Timestamp("2020-04-15 09:05")]
    # spring: dissolved Ca preferred over total: 78.5 / 40.078 = 1.95868
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(78.5 / 40.078)
    # K 'Not Detected', limit 0.1 mg/L -> 0.05 mg/L / 39.098
    assert out["k_mmol_l"].iloc[0] == pytest.approx(0.05 / 39.098)
    assert out["qa_flags"].tolist() == ["below_detection:k", ""]
    # nitrate+nitrite 2.26 mg/L as N / 14.007; river nitrate 13.3 mg/L as NO3 / 62.004
    assert out["no3_mmol_l"].tolist() == pytest.approx([2.26 / 14.007, 13.3 / 62.004])
    # alkalinity 205 mg/L CaCO3 / 50.0435; bicarbonate 170 mg/L / 61.017
    assert out["hco3_mmol_l"].tolist() == pytest.approx([205 / 50.0435, 170 / 61.017])
    # 60.8 deg F -> (60.8 - 32) x 5/9 = 16.0 deg C; 18 deg C
    assert out["temp_c"].tolist() == pytest.approx([16.0, 18.0])
    # 452 uS/cm @25C; 0.398 mS/cm = 398 uS/cm
    assert out["ec_us_cm"].tolist() == pytest.approx([452.0, 398.0])
    assert out["ph"].tolist() == [7.4, 7.9]
    assert "Dissolved oxygen (DO)" in " ".join(out.attrs["notes"])
    assert out["OrganizationIdentifier"].tolist() == ["DEMO", "DEMO"]  # constant per sample
    # the original results as text, one column per characteristic (units in the name)
    assert out["Potassium (mg/l)"].tolist() == ["<0.1", "1.2"]
    assert out["Calcium (mg/l)"].tolist() == ["78.5", "61.0"]
    assert out["Temperature, water"].tolist() == ["60.8 deg F", "18.0 deg C"]
    assert out["Dissolved oxygen (DO) (mg/l)"].tolist() == ["8.1", ""]
    assert out.attrs["column_map"]["Alkalinity (mg/l CaCO3)"] == "alk"
    assert out.attrs["unmatched_columns"] == ["OrganizationIdentifier",
                                              "Dissolved oxygen (DO) (mg/l)"]


def test_wqp_long_in_memory_via_standardize():
    raw = pd.read_csv(EXAMPLES_DIR / "wqp_long.csv", dtype=str, keep_default_na=False)
    out = std(raw)
    assert len(out) == 2 and out.attrs["reader"]["layout"] == "long"


def test_wqp_long_results_reported_twice_are_compared():
    # as the wide reader's duplicate columns: sample A reports dissolved calcium as 40.078
    # and 80.156 mg/L (1 and 2 mmol/L: conflicting); sample B as 1 mmol/L and 40078 ug/L
    # (both 1 mmol/L: they agree, the first is used)
    head = ("ActivityStartDate,MonitoringLocationIdentifier,CharacteristicName,"
            "ResultSampleFractionText,ResultMeasureValue,ResultMeasure/MeasureUnitCode")
    rows = []
    for site, day, results in (("A", "2020-04-14", (("40.078", "mg/l"), ("80.156", "mg/l"))),
                               ("B", "2020-05-14", (("1", "mmol/l"), ("40078", "ug/l")))):
        rows += [f"{day},{site},Calcium,Dissolved,{v},{u}" for v, u in results]
        rows += [f"{day},{site},pH,,7.5,std units",
                 f"{day},{site},\"Temperature, water\",,10,deg C",
                 f"{day},{site},Alkalinity,Total,50.04,mg/l CaCO3"]
    raw = pd.read_csv(io.StringIO("\n".join([head, *rows]) + "\n"), dtype=str,
                      keep_default_na=False)
    out = std(raw)
    assert np.isnan(out["ca_mmol_l"].iloc[0])
    assert out["ca_mmol_l"].iloc[1] == pytest.approx(1.0)
    assert out["qa_flags"].tolist() == ["conflicting_values:ca", ""]


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="no table"):
        read(empty)
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(DataError, match=r"\.xlsx"):
        read(old)


def test_custom_index_is_kept():
    df = pd.DataFrame({"pH": ["7.4", "7.5"], "T": ["16", "17"], "HCO3 (mg/L)": ["250", "260"]},
                      index=["x", "y"])
    out = std(df)
    assert list(out.index) == ["x", "y"]
    assert out["ph"].tolist() == [7.4, 7.5]


# ---------------------------------------------------------------------------
# property: rows kept in order, originals unchanged, flags exactly on bad rows
# ---------------------------------------------------------------------------

GOOD = {
    "T (°C)": st.sampled_from(["5", "16.2", "22", "18,5", "12.0"]),
    "pH": st.sampled_from(["6.8", "7.40", "8.4", "7,2"]),
    "Ca2+ (mg/L)": st.sampled_from(["40", "80.7", "110", "１０２.５"]),
    "K (mg/L)": st.sampled_from(["", "n.d.", "1.2", "ND", "-"]),  # optional: blanks are fine
    "HCO3- (mg/L)": st.sampled_from(["150", "250.5", "330"]),
    "Notes": st.sampled_from(["", "clear, cold", "后寨河", "said \"ok\""]),
}
BAD = {  # column -> (cells, flag it must produce)
    "T (°C)": (["", "abc", "120", "-5"], {"": "missing_temp", "abc": "not_numeric:temp",
                                          "120": "temp_out_of_range",
                                          "-5": "temp_out_of_range"}),
    "pH": (["", "15", "x", "-0.5"], {"": "missing_ph", "15": "ph_out_of_range",
                                      "x": "not_numeric:ph", "-0.5": "ph_out_of_range"}),
    "Ca2+ (mg/L)": (["-3", "lots"], {"-3": "negative_value:ca", "lots": "not_numeric:ca"}),
    "K (mg/L)": (["<0.1", ">50", "?"], {"<0.1": "below_detection:k", ">50": "above_range:k",
                                        "?": "not_numeric:k"}),
    "HCO3- (mg/L)": (["", "-1"], {"": "missing_alkalinity", "-1": "negative_value:hco3"}),
}


@st.composite
def tables(draw):
    n = draw(st.integers(1, 12))
    rows, expected = [], []
    for i in range(n):
        row = {"Sample ID": f"S{i:02d}"}
        bad_col = draw(st.sampled_from([None, None, *BAD]))
        flag = ""
        for col, strategy in GOOD.items():
            row[col] = draw(strategy)
        if bad_col is not None:
            cell = draw(st.sampled_from(BAD[bad_col][0]))
            row[bad_col] = cell
            flag = BAD[bad_col][1][cell]
        rows.append(row)
        expected.append(flag)
    return pd.DataFrame(rows, dtype="str"), expected


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_property_rows_order_originals_and_flags(data):
    df, expected = data
    before = df.copy()
    out = std(df)
    assert len(out) == len(df)
    assert out["sample_id"].tolist() == df["Sample ID"].tolist()
    pd.testing.assert_frame_equal(df, before)  # the input is not modified
    pd.testing.assert_frame_equal(out[list(df.columns)], df)  # originals unchanged
    assert out["qa_flags"].tolist() == expected
    fatal = [bool(f) and f.split(":")[0] in FATAL_FLAGS for f in expected]
    assert (~computable(out)).tolist() == fatal
    # nothing impossible leaves the package
    assert not (out[ION_COLUMNS] < 0).any().any()
    assert out["ph"].dropna().between(0, 14).all()
    assert out["temp_c"].dropna().between(-2, 100).all()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=tables())
def test_property_through_a_file(tmp_path, data):
    df, expected = data
    path = tmp_path / "p.csv"
    df.to_csv(path, index=False, encoding="utf-8")
    out = read(path)
    assert out["qa_flags"].tolist() == expected
    assert out["Notes"].tolist() == df["Notes"].tolist()


@given(st.floats(0.001, 1000.0, allow_nan=False), st.sampled_from(["mg/L", "µmol/L", "meq/L"]))
def test_property_units_scale_linearly(x, unit):
    # doubling the cell doubles the mmol/L, whatever the unit
    a = one(f"Mg ({unit})", repr(x))["mg_mmol_l"].iloc[0]
    b = one(f"Mg ({unit})", repr(2 * x))["mg_mmol_l"].iloc[0]
    assert b == pytest.approx(2 * a, rel=1e-12)


@pytest.mark.parametrize(
    ("header", "column", "cell", "expected"),
    [("ρ(Ca2+)/(mg·L-1)", "ca_mmol_l", "80.156", 2.0),  # GB-style header; 80.156 / 40.078
     ("c(HCO3-)/(mmol·L⁻¹)", "hco3_mmol_l", "5.0", 5.0),
     ("水温/℃", "temp_c", "16.5", 16.5),
     ("EC/(μS·cm-1)", "ec_us_cm", "450", 450.0),
     ("EC (mS/m)", "ec_us_cm", "45", 450.0),  # 1 mS/m = 10 µS/cm
     ("NH3-N (mg/L)", "nh4_mmol_l", "14.007", 1.0),
     ("总碱度(以CaCO3计, mg/L)", "hco3_mmol_l", "250.2175", 5.0),  # 250.2175 / 50.0435
     ("总碱度（mg/L，以CaCO3计）", "hco3_mmol_l", "250.2175", 5.0),
     ("NO3-(以N计)(mg/L)", "no3_mmol_l", "14.007", 1.0),
     ("Alkalinity as CaCO3 (mg/L)", "hco3_mmol_l", "250.2175", 5.0),
     ("偏硅酸(mg/L)", "sio2_mmol_l", "78.098", 1.0),  # H2SiO3: 2 x 1.008 + 28.085 + 47.997
     ("Temperature (field)", "temp_c", "16.5", 16.5),  # a bracketed qualifier, no unit
     ("水温(现场)(℃)", "temp_c", "16.5", 16.5),
     ("Ca (dissolved) (mg/L)", "ca_mmol_l", "80.156", 2.0),
     ("Alkalinity (titrated) (mg/L as CaCO3)", "hco3_mmol_l", "250.2175", 5.0),
     ("TA (meq/L)", "hco3_mmol_l", "5.0", 5.0)],
)
def test_more_header_styles(header, column, cell, expected):
    row = {"pH": "7.4", "T (°C)": "16.5", "HCO3 (mmol/L)": "5.0"}
    if column in ("temp_c", "hco3_mmol_l"):
        row.pop("T (°C)" if column == "temp_c" else "HCO3 (mmol/L)")
    row[header] = cell
    out = std(pd.DataFrame({k: [v] for k, v in row.items()}, dtype="str"))
    assert out[column].iloc[0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "header",
    ["TDS (mg/L)", "Hardness (mg/L as CaCO3)", "Ca+Mg (meq/L)", "Na+K (mg/L)", "Mg/Ca",
     "DIC (mmol/L)", "Ca (%)", "Ca_flag", "HCO3_method", "Temperature (air)", "pH/Eh",
     "CO2 (mg/L)", "Sample depth (m)"],
)
def test_more_lookalikes_are_carried_through(header):
    out = one(header, "3")
    assert header in out.attrs["unmatched_columns"]
    assert out["qa_flags"].iloc[0] == ""


def test_two_columns_for_one_quantity_that_disagree_are_flagged_not_first_wins():
    # issue 12: 80.156 mg/L / 40.078 = 2.0 mmol/L against 9 mmol/L: a conflict, so the
    # row is flagged and its Ca is NaN (no column wins in silence); 2.0 mmol/L agrees
    df = pd.DataFrame({"pH": ["7.4", "7.4"], "T": ["16", "16"],
                       "HCO3 (mg/L)": ["305.085", "305.085"],
                       "Ca (mg/L)": ["80.156", "80.156"], "Ca (mmol/L)": ["9", "2.0"]})
    out = std(df)
    assert np.isnan(out["ca_mmol_l"].iloc[0])
    assert out["ca_mmol_l"].iloc[1] == pytest.approx(2.0)
    assert out["qa_flags"].tolist() == ["conflicting_values:ca", ""]
    assert any("Ca (mmol/L)" in note and "1 row(s) disagree" in note
               for note in out.attrs["notes"])


def test_a_unit_of_the_wrong_kind_is_an_error():
    df = pd.DataFrame({"pH": ["7.4"], "Temp (mg/L)": ["16"], "HCO3 (mg/L)": ["250"]})
    with pytest.raises(UnitError, match="Temp"):
        std(df)


def test_units_row_that_contradicts_the_header(tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("Sample,T,pH,Ca (mmol/L),HCO3\n,°C,,mg/L,mg/L\nA,16,7.4,80,250\n",
                    encoding="utf-8")
    with pytest.raises(UnitError, match="units row"):
        read(path)


def test_ambiguous_day_month_order_is_refused_unless_date_format(tmp_path):
    df = pd.DataFrame({"Date": ["03/05/2021", "04/06/2021"], "pH": ["7.4"] * 2,
                       "T": ["16"] * 2, "HCO3 (mg/L)": ["250"] * 2})
    with pytest.raises(DataError, match=r"lab\.csv: column 'Date'.*'03/05/2021'.*date_format"):
        std(df, source="lab.csv")
    out = std(df, date_format="%d/%m/%Y")  # 3 May and 4 June
    assert out["date"].tolist() == [pd.Timestamp("2021-05-03"), pd.Timestamp("2021-06-04")]
    assert out.attrs["date_format"] == "%d/%m/%Y"
    path = tmp_path / "lab.csv"
    df.to_csv(path, index=False)
    out = read(path, date_format="%m/%d/%Y")  # 5 March and 6 April
    assert out["date"].tolist() == [pd.Timestamp("2021-03-05"), pd.Timestamp("2021-04-06")]
    with pytest.raises(DataError, match="--date-format"):
        read(path)
    # a first field above 12 settles it: day/month
    df["Date"] = ["13/05/2021", "04/06/2021"]
    assert std(df)["date"].tolist() == [pd.Timestamp("2021-05-13"), pd.Timestamp("2021-06-04")]


def test_numeric_frames_are_read_too():
    df = pd.DataFrame({"pH": [7.4, np.nan], "T": [16.0, 17.0], "HCO3 (mg/L)": [305.085, 250.0],
                       "Date": pd.to_datetime(["2021-05-18", "2021-05-19"])})
    out = std(df)
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)  # 305.085 / 61.017
    assert out["qa_flags"].tolist() == ["", "missing_ph"]
    assert out["date"].iloc[1] == pd.Timestamp("2021-05-19")
    pd.testing.assert_series_equal(out["pH"], df["pH"])


@pytest.mark.parametrize(
    ("cell", "expected", "flags"),
    [("26.2614", 26.2614, ""),
     ("26°15'30\"N", 26.258333333, ""),  # 26 + 15/60 + 30/3600
     ("26°15′30″S", -26.258333333, ""),
     ("N26:15:30", 26.258333333, ""),
     ("", np.nan, ""),
     ("95.5", np.nan, "bad_coordinate:lat"),  # |lat| > 90
     ("north", np.nan, "bad_coordinate:lat")],
)
def test_latitude_cells(cell, expected, flags):
    out = one("Latitude", cell)
    got = out["lat"].iloc[0]
    assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected, abs=1e-9)
    assert out["qa_flags"].iloc[0] == flags
    assert computable(out).iloc[0]  # a coordinate problem never stops speciation


def test_wqx3_long_profile_is_pivoted_too():
    # the WQX 3.0 names of the same fields (Location_Identifier, Result_Characteristic...)
    raw = pd.DataFrame({
        "Location_Identifier": ["DEMO-1"] * 5,
        "Location_Latitude": ["26.25"] * 5,
        "Location_Longitude": ["105.7"] * 5,
        "Activity_StartDate": ["2020-04-14"] * 5,
        "Activity_StartTime": ["10:30:00"] * 5,
        "Result_Characteristic": ["Calcium", "pH", "Temperature, water", "Bicarbonate",
                                  "Potassium"],
        "Result_SampleFraction": ["Dissolved", "Total", "", "Dissolved", "Dissolved"],
        "Result_Measure": ["80.156", "7.4", "16", "305.085", ""],
        "Result_MeasureUnit": ["mg/L", "std units", "deg C", "mg/L", "mg/L"],
        "Result_ResultDetectionCondition": ["", "", "", "", "Not Detected"],
        "DetectionLimit_MeasureA": ["", "", "", "", "0.1"],
        "DetectionLimit_MeasureUnitA": ["", "", "", "", "mg/L"],
    })
    out = std(raw)
    assert len(out) == 1
    assert out["site"].iloc[0] == "DEMO-1"
    assert out["date"].iloc[0] == pd.Timestamp("2020-04-14 10:30")
    assert out["lat"].iloc[0] == 26.25 and out["lon"].iloc[0] == 105.7
    assert out["ca_mmol_l"].iloc[0] == pytest.approx(2.0)  # 80.156 / 40.078
    assert out["hco3_mmol_l"].iloc[0] == pytest.approx(5.0)  # 305.085 / 61.017
    assert out["k_mmol_l"].iloc[0] == pytest.approx(0.05 / 39.098)  # half of 0.1 mg/L
    assert out["qa_flags"].iloc[0] == "below_detection:k"


@pytest.mark.parametrize(
    ("header", "cell", "column", "expected", "flags"),
    [("T (°C)", "16.5 °C", "temp_c", 16.5, ""),
     ("T (°C)", "16.5℃", "temp_c", 16.5, ""),
     ("Ca (mg/L)", "80.156 mg/L", "ca_mmol_l", 2.0, ""),  # 80.156 / 40.078
     ("Ca (mg/L)", "2 mmol/L", "ca_mmol_l", np.nan, "not_numeric:ca"),  # not the column's unit
     # a cell's basis counts: as N is not mg/L of NO3 (5 mg/L as N = 0.357 mmol/L, read
     # as NO3 it would be 0.081), as S is not mg/L of SO4 (alkalinity: the test below)
     ("NO3 (mg/L)", "5 mg/L as N", "no3_mmol_l", np.nan, "not_numeric:no3"),
     ("SO4 (mg/L)", "20 mg/L as S", "so4_mmol_l", np.nan, "not_numeric:so4"),
     ("NO3-N (mg/L)", "1.4007 mg/L as N", "no3_mmol_l", 0.1, ""),  # 1.4007 / 14.007
     ("K (mg/L)", "#DIV/0!", "k_mmol_l", np.nan, ""),  # an Excel error is a missing value
     # 未检出 is "not detected": below a limit that was not written (flagged, no number);
     # 未测 is "not measured": missing, no flag
     ("K (mg/L)", "未检出", "k_mmol_l", np.nan, "below_detection:k"),
     ("K (mg/L)", "未测", "k_mmol_l", np.nan, ""),
     ("Date", "3-May-2021", "date", pd.Timestamp("2021-05-03"), ""),
     ("Date", "May 3, 2021", "date", pd.Timestamp("2021-05-03"), "")],
)
def test_cells_with_units_excel_errors_and_month_names(header, cell, column, expected, flags):
    out = one(header, cell)
    got = out[column].iloc[0]
    if isinstance(expected, float) and np.isnan(expected):
        assert np.isnan(got)
    elif isinstance(expected, float):
        assert got == pytest.approx(expected)
    else:
        assert got == expected
    assert out["qa_flags"].iloc[0] == flags


@pytest.mark.parametrize(("header", "cell", "expected", "flags"), [
    # 240 mg/L as CaCO3 = 4.80 mmol/L HCO3-; read as mg/L of HCO3- it would be 240 / 61.017
    # = 3.93: it is flagged instead of read in the column's basis
    ("HCO3 (mg/L)", "240 mg/L as CaCO3", np.nan, "not_numeric:hco3"),
    ("HCO3 (mg/L)", "244.07 mg/L", 4.0, ""),  # 244.07 / 61.017 (the column's own unit)
    ("Alk (mg/L as CaCO3)", "200 mg/L as HCO3", np.nan, "not_numeric:alk"),
    ("Alk (mg/L as CaCO3)", "100.09 mg/L", 2.0, ""),  # 2 x 100.09 / 100.09: mass as CaCO3
])
def test_an_alkalinity_cell_in_another_basis_is_flagged(header, cell, expected, flags):
    row = {"Sample ID": "S1", "T (°C)": "16", "pH": "7.40", header: cell}
    out = std(pd.DataFrame({k: [v] for k, v in row.items()}, dtype="str"))
    got = out["hco3_mmol_l"].iloc[0]
    assert (np.isnan(got) if np.isnan(expected) else got == pytest.approx(expected, rel=1e-4))
    assert flags in out["qa_flags"].iloc[0]


def test_a_cell_whose_number_depends_on_the_decimal_mark_is_flagged_not_guessed():
    # Ca written 80,5 / 60,2 (decimal comma, the column's mark) and once 1.051: that cell may
    # be 1.051 or 1051 mg/L, so it is flagged and left empty; the row keeps its place.
    # pH 7,5 / 7.5 / 7,4 mixes the marks too, but each of its cells reads one way only.
    rows = {"Sample ID": ["A", "B", "C"], "T (°C)": ["15"] * 3, "pH": ["7,5", "7.5", "7,4"],
            "Ca (mg/L)": ["80,5", "1.051", "60,2"], "HCO3- (mmol/L)": ["4,0", "4,1", "3,9"]}
    out = std(pd.DataFrame(rows, dtype="str"))
    assert list(out["sample_id"]) == ["A", "B", "C"]
    # 80.5 / 40.078 = 2.0086 and 60.2 / 40.078 = 1.5021 mmol/L
    assert out["ca_mmol_l"].iloc[[0, 2]].tolist() == pytest.approx([2.0086, 1.5021], rel=1e-4)
    assert np.isnan(out["ca_mmol_l"].iloc[1])
    assert "not_numeric:ca" in out["qa_flags"].iloc[1]
    assert out["hco3_mmol_l"].tolist() == pytest.approx([4.0, 4.1, 3.9])
    assert out["ph"].tolist() == pytest.approx([7.5, 7.5, 7.4])


@given(st.text(max_size=40))
def test_property_any_header_or_cell_text_is_handled(text):
    # arbitrary text never crashes the reader: a header is known, unknown or a UnitError
    from karstsink.io.cells import parse_cell
    from karstsink.io.headers import match_header

    try:
        match_header(text)
    except UnitError:
        pass
    value, status = parse_cell(text, decimal_comma=False)
    assert status in (0, 1, 2, 3, 4)
    assert np.isnan(value) or np.isfinite(value)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(0.001, 9999.0, allow_nan=False), min_size=1, max_size=8))
def test_property_decimal_comma_file_round_trip(tmp_path, values):
    # numbers written with decimal commas in a ';' file come back as the same numbers
    lines = ["Sample;T (°C);pH;HCO3 (mmol/L);Ca (mg/L)"]
    lines += [f"S{i};16,0;7,4;4,0;{repr(v).replace('.', ',')}" for i, v in enumerate(values)]
    path = tmp_path / "dc.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = read(path)
    # Ca mg/L -> mmol/L divides by 40.078, so multiply back
    assert (out["ca_mmol_l"] * 40.078).tolist() == pytest.approx(values, rel=1e-12)
    assert out["qa_flags"].tolist() == [""] * len(values)


def test_alias_table_has_no_conflicting_entries():
    import csv
    from importlib.resources import files

    from karstsink.io.headers import KEYS, OTHER_KEYS, compact_name

    text = files("karstsink.data").joinpath("aliases.csv").read_text(encoding="utf-8")
    seen: dict[str, tuple[str, str]] = {}
    for row in csv.DictReader(ln for ln in text.splitlines() if not ln.startswith("#")):
        assert row["key"] in KEYS or row["key"] in OTHER_KEYS, row  # OTHER: discharge files
        key = compact_name(row["alias"])
        entry = (row["key"], row["qualifier"])
        assert seen.setdefault(key, entry) == entry, row["alias"]


def test_unit_stated_above_the_header_gbk_lab_report(tmp_path):
    # a Chinese lab report: title, '单位：mg/L（pH除外）' (unit: mg/L except pH), then the header
    text = ("贵州某实验室 水质分析报告\n单位：mg/L（pH除外）\n"
            "样品编号,采样地点,K+,Na+,Ca2+,Mg2+,Cl-,SO42-,HCO3-,NO3-,pH,水温(℃)\n"
            "W1,陈旗泉,39.098,22.99,80.156,24.305,35.45,96.06,305.085,62.004,7.4,16\n")
    path = tmp_path / "report.csv"
    path.write_bytes(text.encode("gbk"))
    out = read(path)
    assert out.attrs["reader"]["preamble_unit"] == "mg/L"
    # each value is one molar mass in mg/L -> 1 mmol/L (HCO3: 305.085 / 61.017 = 5, Ca 2)
    for col, expected in [("k_mmol_l", 1.0), ("na_mmol_l", 1.0), ("ca_mmol_l", 2.0),
                          ("mg_mmol_l", 1.0), ("cl_mmol_l", 1.0), ("so4_mmol_l", 1.0),
                          ("hco3_mmol_l", 5.0), ("no3_mmol_l", 1.0)]:
        assert out[col].iloc[0] == pytest.approx(expected), col
    assert out["qa_flags"].iloc[0] == ""


def test_duplicate_column_names_in_memory_are_one_clear_error():
    df = pd.DataFrame([["7.4", "16", "1", "2"]], columns=["pH", "T", "Ca (mmol/L)",
                                                           "Ca (mmol/L)"])
    with pytest.raises(DataError, match="duplicate column"):
        std(df)


def test_a_specific_column_wins_over_a_generic_one():
    # 'ID' holds row numbers and 'Temperature' is the air; the specific columns are used
    df = pd.DataFrame({"ID": ["1", "2"], "Temperature (°C)": ["30", "31"],
                       "Sample ID": ["A", "B"], "Water temperature (°C)": ["16", "17"],
                       "pH": ["7.4", "7.5"], "HCO3 (mg/L)": ["250", "260"]})
    out = std(df)
    assert out["sample_id"].tolist() == ["A", "B"]
    assert out["temp_c"].tolist() == [16.0, 17.0]
    assert out.attrs["column_map"] == {"Sample ID": "sample_id",
                                       "Water temperature (°C)": "temp", "pH": "ph",
                                       "HCO3 (mg/L)": "hco3"}
