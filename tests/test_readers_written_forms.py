"""Forms real lab files use that the one reader used to misread or drop.

Each expected value is a hand conversion written beside it: molar masses NO3-N 14.007,
S 32.06, Ca 40.078 g/mol (IUPAC 2021 standard atomic weights, rounded as the
package's unit table); °F -> °C as (F - 32) x 5/9; 1 mS/cm = 1000 µS/cm.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

import karstsink
from karstsink.exceptions import UnitError
from karstsink.hydrology import read_discharge
from karstsink.io.headers import lookup_name


def _write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("row", ["(°F),,(mg/L),(mmol/L),(mS/cm)",
                                 "[°F],,[mg/L],[mmol/L],[mS/cm]",
                                 "°F,,mg/L,mmol/L,mS/cm"])
def test_a_units_row_in_brackets_is_read_for_every_kind(tmp_path, row):
    path = _write(tmp_path, "Sample,Date,Temp,pH,Ca,HCO3,EC\n"
                            f"Units,,{row}\nA1,2021-05-18,59,7.4,40.078,1,0.5\n")
    t = karstsink.read_samples(path)
    # (59 - 32) x 5/9 = 15.0 °C; 0.5 mS/cm = 500 µS/cm; 40.078 mg/L / 40.078 = 1 mmol/L
    assert t.loc[0, "temp_c"] == pytest.approx(15.0, abs=1e-12)
    assert t.loc[0, "ec_us_cm"] == pytest.approx(500.0, rel=1e-12)
    assert t.loc[0, "ca_mmol_l"] == pytest.approx(1.0, rel=1e-12)
    assert t.loc[0, "qa_flags"] == ""


def test_a_units_row_cell_that_is_no_unit_of_its_column_is_refused(tmp_path):
    # it was dropped in silence and the default °C taken for 59 (°F)
    path = _write(tmp_path, "Sample,Date,Temp,pH,Ca,HCO3\n"
                            "Units,,(°X),,(mg/L),(mmol/L)\nA1,2021-05-18,59,7.4,40.078,1\n")
    with pytest.raises(UnitError, match=r"s\.csv, line 2: the units row gives '\(°X\)' for "
                                        r"column 'Temp'"):
        karstsink.read_samples(path)


@pytest.mark.parametrize(("header", "expected"), [
    ("SO₄²⁻-S", ("so4", "as S")), ("SO42--S", ("so4", "as S")), ("NH4+-N", ("nh4", "as N")),
    ("SO4 2-", ("so4", None)), ("Ca2+", ("ca", None)), ("PO43-", ("po4", None)),
    ("Alkalinity, total", ("alk", None)), ("Temp 2", None), ("NO3", ("no3", None))])
def test_a_charge_before_the_basis_is_still_a_charge(header, expected):
    assert lookup_name(header) == expected


def test_sulfate_as_s_written_with_its_charge_is_sulfate_as_s(tmp_path):
    # SO4-S 32.06 mg/L = 1 mmol/L SO4; the header was left unread (and, named with --so4,
    # read as mg/L of SO4: 32.06 / 96.06 = 0.334 mmol/L, the sink 2.3 x too high)
    path = _write(tmp_path, "Sample,Date,Temp (C),pH,Ca (mg/L),HCO3 (mmol/L),"
                            "SO₄²⁻-S (mg/L),NO₃⁻-N (mg/L)\nS1,2021-05-01,15,7.4,40.078,1,"
                            "32.06,14.007\n")
    t = karstsink.read_samples(path)
    assert t.loc[0, "so4_mmol_l"] == pytest.approx(1.0, rel=1e-12)
    assert t.loc[0, "no3_mmol_l"] == pytest.approx(1.0, rel=1e-12)


def test_a_cell_repeating_the_unit_takes_the_headers_basis(tmp_path):
    path = _write(tmp_path, "Sample,Date,Temp (C),pH,Ca (mg/L),HCO3 (mmol/L),NO3-N (mg/L),"
                            "SO4-S (mg/L)\nS1,2021-05-01,15,7.4,40.078,1,1.4007 mg/L,"
                            "32.06 mg/L\n")
    t = karstsink.read_samples(path)
    # 1.4007 / 14.007 = 0.1 mmol/L NO3; 32.06 / 32.06 = 1 mmol/L SO4
    assert t.loc[0, "no3_mmol_l"] == pytest.approx(0.1, rel=1e-12)
    assert t.loc[0, "so4_mmol_l"] == pytest.approx(1.0, rel=1e-12)
    assert t.loc[0, "qa_flags"] == ""


def test_a_chinese_time_column_is_the_time_of_day_of_a_discharge_record(tmp_path):
    path = _write(tmp_path, "日期,时间,流量(m3/s)\n2021-01-01,00:00,1\n2021-01-01,12:00,3\n"
                            "2021-01-02,00:00,5\n2021-01-02,12:00,7\n", "q.csv")
    q = read_discharge(path)
    # daily means (1 + 3) / 2 and (5 + 7) / 2; the second reading was dropped as a duplicate
    assert q["discharge_m3s"].tolist() == [2.0, 6.0]
    assert q["n_obs"].tolist() == [2, 2]


def test_a_sampling_time_column_beside_the_sampling_date_is_joined(tmp_path):
    path = _write(tmp_path, "样品编号,采样时间,采样日期,水温(℃),pH,钙(mg/L),HCO3-(mmol/L)\n"
                            "A,10:30,2021-05-01,15,7.4,40,2\nB,14:05,2021-05-02,15,7.4,40,2\n")
    t = karstsink.read_samples(path)
    assert [str(d) for d in t["date"]] == ["2021-05-01 10:30:00", "2021-05-02 14:05:00"]


def test_a_sampling_time_holding_dates_is_still_the_date(tmp_path):
    path = _write(tmp_path, "样品编号,采样时间,水温(℃),pH,钙(mg/L),HCO3-(mmol/L)\n"
                            "A,2021-05-01,15,7.4,40,2\n")
    assert str(karstsink.read_samples(path).loc[0, "date"]) == "2021-05-01 00:00:00"


@pytest.mark.parametrize(("epoch", "expected"), [(None, "2017-05-17"),
                                                 (dt.datetime(1904, 1, 1), "2021-05-18")])
def test_serial_dates_count_from_the_workbooks_epoch(tmp_path, epoch, expected):
    openpyxl = pytest.importorskip("openpyxl")
    wb = openpyxl.Workbook()
    if epoch is not None:
        wb.epoch = epoch
    ws = wb.active
    ws.append(["Sample", "Date", "Temp (C)", "pH", "Ca (mg/L)", "HCO3 (mmol/L)"])
    # 42872 days after 1899-12-30 is 2017-05-17; after 1904-01-01, 2021-05-18
    # (the two systems are 1462 days apart: ECMA-376 Part 1, 18.17.4.1)
    ws.append(["A", 42872, 15, 7.4, 40.078, 1])
    wb.save(tmp_path / "s.xlsx")
    t = karstsink.read_samples(tmp_path / "s.xlsx")
    assert str(t.loc[0, "date"])[:10] == expected
    assert np.isfinite(t.loc[0, "ca_mmol_l"])


def test_a_remark_censors_the_value_on_its_right_only(tmp_path):
    from karstsink.exceptions import DataQualityWarning
    from karstsink.io.flux_samples import read_flux_samples

    path = _write(tmp_path, "date,remark,NO3-N (mg/L),Alk (meq/L)\n2021-01-10,<,0.1,4\n"
                            "2021-02-10,,0.3,4.2\n")
    no3 = read_flux_samples(path, "no3")
    assert no3["censored"].tolist() == [True, False]
    with pytest.warns(DataQualityWarning, match="is not the column before 'Alk"):
        hco3 = read_flux_samples(path, "hco3")
    # 4 meq/L alkalinity = 4 mmol/L HCO3 x 61.017 g/mol = 244.068 mg/L, measured, not '<'
    assert hco3["censored"].tolist() == [False, False]
    assert hco3["conc_mg_L"].iloc[0] == pytest.approx(244.068, rel=1e-12)
