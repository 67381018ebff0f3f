"""Discharge reading: units, sub-daily means, flags, gaps, errors; runoff depth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from karstsink.hydrology import runoff_depth_mm
from karstsink.io.discharge import read_discharge


def _write(tmp_path, text, name="q.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _daily(n=10, start="2020-01-01"):
    return pd.date_range(start, periods=n, freq="D").strftime("%Y-%m-%d")


@pytest.mark.parametrize(
    ("header", "q_unit", "factor"),
    [
        ("Q (m3/s)", None, 1.0),
        ("discharge (L/s)", None, 1e-3),
        ("Q_cfs", None, 0.028316846592),  # 1 ft = 0.3048 m -> 0.3048^3 m3
        ("Qdaily", "cfs", 0.028316846592),
        ("discharge", "m3/s", 1.0),
        ("Q [m³/s]", None, 1.0),
        ("discharge_cfs", None, 0.028316846592),
        ("流量(m³/s)", None, 1.0),
        ("Q [L/s]", None, 1e-3),
        ("flow ft3/s", None, 0.028316846592),
        ("Q_obs_mean (L/s)", None, 1e-3),  # not a discharge name, but a discharge unit
        ("Q_Ls", None, 1e-3),
        ("discharge_m3d", None, 1 / 86400),  # 1 m3/d = 1/86 400 m3/s
        ("Q_m3_s", None, 1.0),
        ("Q_L_s", None, 1e-3),
        ("Flow_m3/s_daily", None, 1.0),
        ("Q_m3s_mean", None, 1.0),
        ("Q_2020_m3s", None, 1.0),  # a year is no scale
        ("流量(m³/h)", None, 1 / 3600),  # spring loggers in China: 1 m3/h = 1/3 600 m3/s
        ("Q", "m3/h", 1 / 3600),
    ],
)
def test_units_from_header_or_option(tmp_path, header, q_unit, factor):
    days = _daily(3)
    p = _write(tmp_path, f"date,{header}\n" + "".join(f"{d},{v}\n" for d, v in
                                                       zip(days, [10, 20, 30], strict=True)))
    q = read_discharge(p, q_unit=q_unit)
    np.testing.assert_allclose(q["discharge_m3s"], np.array([10, 20, 30]) * factor, rtol=1e-12)
    assert q.index.name == "date"
    assert list(q.columns) == ["discharge_m3s", "n_obs", "qa_flags"]


def test_no_unit_anywhere_is_an_error_that_names_the_option(tmp_path):
    p = _write(tmp_path, "date,Qdaily\n2020-01-01,1\n2020-01-02,2\n")
    with pytest.raises(UnitError, match="--q-unit"):
        read_discharge(p)


def test_unknown_and_contradicting_units(tmp_path):
    p = _write(tmp_path, "date,Q (gal/min)\n2020-01-01,1\n")
    with pytest.raises(UnitError, match="gal/min"):
        read_discharge(p)
    p = _write(tmp_path, "date,Q (m3/s)\n2020-01-01,1\n", "b.csv")
    with pytest.raises(UnitError, match="q_unit"):
        read_discharge(p, q_unit="L/s")
    with pytest.raises(UnitError, match="Unknown discharge unit"):
        read_discharge(_write(tmp_path, "date,Q\n2020-01-01,1\n", "c.csv"), q_unit="furlongs")


@pytest.mark.parametrize("header", ["Q_L/min", "Discharge m3 per hour", "Q_gpm",
                                    "Q_lpm",
                                    # a scale or an area around a plain unit: not that unit
                                    "流量_万m3/d", "Q_1000_m3_d", "Q_10^3 m3/d", "Q_L/s/km2",
                                    "specific_discharge_l_s_km2"])
def test_a_flow_unit_after_a_space_or_underscore_is_read_or_refused_never_ignored(
        tmp_path, header):
    # 'Q m3/h' with --q-unit L/s was read as L/s without a word (3862.8 m3/h taken as
    # 3.8628 m3/s, a sink 3.6 x too large): a unit in the file wins, or is refused
    p = _write(tmp_path, f"date,{header}\n2020-01-01,1\n2020-01-02,2\n")
    for q_unit in (None, "L/s"):
        with pytest.raises(UnitError, match="unknown discharge unit") as info:
            read_discharge(p, q_unit=q_unit)
        assert header in str(info.value)


@pytest.mark.parametrize("header", ["Q m3/h", "Q_m3_h_daily"])
def test_m3_per_hour_in_a_header_is_read_and_wins_over_q_unit(tmp_path, header):
    # 'Q m3/h' with --q-unit L/s was once read as L/s (3862.8 m3/h as 3.8628 m3/s); m3/h
    # is now a unit karstsink converts (1 m3/h = 1/3600 m3/s), and a --q-unit that
    # contradicts it is refused
    p = _write(tmp_path, f"date,{header}\n2020-01-01,3600\n2020-01-02,7200\n")
    assert read_discharge(p)["discharge_m3s"].tolist() == pytest.approx([1.0, 2.0])
    with pytest.raises(UnitError, match="q_unit"):
        read_discharge(p, q_unit="L/s")


def test_subdaily_values_are_averaged_with_counts(tmp_path):
    rows = ["2020-01-01 00:00,1", "2020-01-01 06:00,2", "2020-01-01 12:00,3",
            "2020-01-01 18:00,6", "2020-01-02 00:00,10"]
    q = read_discharge(_write(tmp_path, "datetime,Q (m3/s)\n" + "\n".join(rows) + "\n"))
    assert q.loc["2020-01-01", "discharge_m3s"] == pytest.approx(3.0)  # (1+2+3+6)/4
    assert q.loc["2020-01-01", "n_obs"] == 4
    assert q.loc["2020-01-02", "n_obs"] == 1


def test_an_event_logger_is_averaged_over_time_not_over_readings(tmp_path):
    # hourly readings of 2 m3/s at 00:00-11:00 and 14:00-23:00, and 15-minute readings of
    # 20 m3/s in a flood at 12:00-13:45 (30 readings; their mean would be
    # (22 x 2 + 8 x 20) / 30 = 6.8). A reading stands for half of each gap to its
    # neighbours (the day's first and last: the whole gap to their one neighbour):
    # 00:00-11:00 1 h each (12 h), 12:00 (1 + 0.25) / 2 = 0.625 h, 12:15-13:30 0.25 h each
    # (1.5 h), 13:45 0.25 h, 14:00 0.625 h, 15:00-23:00 1 h each (9 h): 24 h in all, the
    # value 2 for 21.625 h and 20 for 2.375 h: (21.625 x 2 + 2.375 x 20) / 24 = 3.78125
    stamps = ([f"2020-01-01 {h:02d}:00" for h in range(12)]
              + [f"2020-01-01 {12 + m // 60:02d}:{m % 60:02d}" for m in range(0, 120, 15)]
              + [f"2020-01-01 {h:02d}:00" for h in range(14, 24)])
    values = [2.0] * 12 + [20.0] * 8 + [2.0] * 10
    ec = [400.0] * 12 + [200.0] * 8 + [400.0] * 10  # the same weights for a proxy column
    text = "datetime,Q (m3/s),EC\n" + "".join(f"{t},{v},{e}\n" for t, v, e in
                                             zip(stamps, values, ec, strict=True))
    q = read_discharge(_write(tmp_path, text), extra_columns=["EC"])
    assert q["discharge_m3s"].tolist() == pytest.approx([3.78125], rel=1e-12)
    assert q["n_obs"].tolist() == [30]
    # EC: (21.625 x 400 + 2.375 x 200) / 24 = 9125 / 24
    assert q["EC"].tolist() == pytest.approx([9125 / 24], rel=1e-12)


def test_evenly_spaced_readings_give_their_mean_at_any_clock_time(tmp_path):
    # twice a day (08:00, 17:00), four times a day at 03, 09, 15, 21 h, hourly at :30
    rows = (["2020-01-01 08:00,1", "2020-01-01 17:00,3"]
            + [f"2020-01-02 {h:02d}:00,{v}" for h, v in ((3, 1), (9, 2), (15, 3), (21, 4))]
            + [f"2020-01-03 {h:02d}:30,{h + 1}" for h in range(24)])
    q = read_discharge(_write(tmp_path, "datetime,Q (m3/s)\n" + "\n".join(rows) + "\n"))
    assert q["discharge_m3s"].tolist() == pytest.approx([2.0, 2.5, 12.5], rel=1e-12)
    # one reading a day is that day's value to the last bit (0.9 L/s = 0.9 x 0.001 m3/s)
    one = read_discharge(_write(tmp_path, "date,Q (L/s)\n2020-01-01,0.9\n", "one.csv"))
    assert one["discharge_m3s"].tolist() == [0.9 * 0.001]


def test_unparsable_date_names_row_and_value(tmp_path):
    p = _write(tmp_path, "date,Q (m3/s)\n2020-01-01,1\n2020-13-45,2\n2020-01-03,3\n")
    with pytest.raises(DataError, match=r"line 3 \(data row 2\).*'2020-13-45'"):
        read_discharge(p)


def test_bad_values_are_flagged_and_left_out_of_the_mean(tmp_path):
    text = ("datetime,Q (m3/s)\n"
            "2020-01-01 00:00,2\n2020-01-01 12:00,-5\n"      # negative: flagged, excluded
            "2020-01-02 00:00,abc\n2020-01-02 12:00,4\n"     # text: flagged, excluded
            "2020-01-03 00:00,6\n2020-01-03 00:00,100\n"     # duplicate timestamp
            "2020-01-04 00:00,8\n")
    with pytest.warns(DataQualityWarning, match=r"3 discharge value\(s\) left out.*"
                      r"1 not_numeric, 1 negative_value, 1 duplicate_timestamp; first line 3"):
        q = read_discharge(_write(tmp_path, text))
    assert q.loc["2020-01-01", "discharge_m3s"] == 2.0
    assert "negative_value" in q.loc["2020-01-01", "qa_flags"]
    assert q.loc["2020-01-02", "discharge_m3s"] == 4.0
    assert "not_numeric" in q.loc["2020-01-02", "qa_flags"]
    assert q.loc["2020-01-03", "discharge_m3s"] == 6.0
    assert "duplicate_timestamp" in q.loc["2020-01-03", "qa_flags"]
    assert q.attrs["flag_counts"]["negative_value"] == 1
    assert q.attrs["n_raw_values"] == 7  # nothing dropped from the count of raw values


def test_a_repeated_timestamp_keeps_the_row_with_a_value(tmp_path):
    """An empty (or negative) first row of a repeated timestamp yields to the valid one.

    Expected by hand from the file: 1 Oct: '' then 5 -> 5; 2 Oct: 3 then 4 (two valid
    values) -> the first, 3, as before; 3 Oct: -1 then 7 -> 7.  The duplicate flag goes on
    the row left out: 3 duplicate_timestamp rows (line 2, line 5, line 6), 3 values left out.
    """
    text = ("date,Q (m3/s)\n2020-10-01,\n2020-10-01,5\n2020-10-02,3\n2020-10-02,4\n"
            "2020-10-03,-1\n2020-10-03,7\n")
    with pytest.warns(DataQualityWarning, match=r"3 discharge value\(s\) left out.*"
                      r"1 negative_value, 3 duplicate_timestamp; first line 2 \(data row 1\)"):
        q = read_discharge(_write(tmp_path, text))
    assert q["discharge_m3s"].tolist() == [5.0, 3.0, 7.0]
    assert q["n_obs"].tolist() == [1, 1, 1]
    # codes in the rule book's order (karstsink.qa.join), as every stage writes them
    assert q["qa_flags"].tolist() == ["missing_value;duplicate_timestamp", "duplicate_timestamp",
                                      "negative_value;duplicate_timestamp"]
    assert q.attrs["n_missing_days"] == 0


def test_short_gap_interpolated_and_flagged(tmp_path):
    text = "date,Q (m3/s)\n2020-01-01,1\n2020-01-02,2\n2020-01-06,6\n2020-01-07,7\n"
    q = read_discharge(_write(tmp_path, text), max_gap_days=7)
    # linear in time between 2 (Jan 2) and 6 (Jan 6): 3, 4, 5
    np.testing.assert_allclose(q.loc["2020-01-03":"2020-01-05", "discharge_m3s"], [3, 4, 5])
    assert (q.loc["2020-01-03":"2020-01-05", "qa_flags"] == "interpolated").all()
    assert q.attrs["gaps"][0].n_days == 3 and q.attrs["gaps"][0].filled


def test_long_gap_is_an_error_naming_the_range_unless_allowed(tmp_path):
    text = "date,Q (m3/s)\n2020-01-01,1\n2020-01-02,2\n2020-01-20,6\n"
    p = _write(tmp_path, text)
    with pytest.raises(DataError, match=r"2020-01-03\.\.2020-01-19 \(17 days\).*--allow-gaps"):
        read_discharge(p, max_gap_days=7)
    q = read_discharge(p, max_gap_days=7, allow_gaps=True)
    assert q["discharge_m3s"].isna().sum() == 17
    assert (q.loc["2020-01-03":"2020-01-19", "qa_flags"] == "missing").all()
    assert q.attrs["n_missing_days"] == 17


def test_structural_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_discharge(tmp_path / "nope.csv")
    with pytest.raises(MissingColumnError, match="which column"):
        read_discharge(_write(tmp_path, "date,a,b\n2020-01-01,1,2\n"), q_unit="m3/s")
    with pytest.raises(DataError, match="no usable"):
        read_discharge(_write(tmp_path, "date,Q (m3/s)\n2020-01-01,x\n", "e.csv"))


def test_compact_usgs_dates(tmp_path):
    q = read_discharge(_write(tmp_path, "date,Q_cfs\n19991001,10\n19991002,20\n"))
    assert list(q.index.strftime("%Y-%m-%d")) == ["1999-10-01", "1999-10-02"]


def test_runoff_depth_hand_calculation():
    # 1 m3/s x 3.15576e7 s/yr = 3.15576e7 m3/yr over 1e8 m2 = 0.315576 m/yr (science.md 0)
    assert runoff_depth_mm(1.0, 100.0) == pytest.approx(315.576, rel=1e-12)
    assert runoff_depth_mm(1.0, 100.0, per="day") == pytest.approx(0.864, rel=1e-12)
    np.testing.assert_allclose(runoff_depth_mm(np.array([1.0, np.nan]), 100.0),
                               [315.576, np.nan])
    with pytest.raises(DataError):
        runoff_depth_mm(1.0, 0.0)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.floats(0.01, 1e4), min_size=4, max_size=40),
       gaps=st.lists(st.integers(1, 38), max_size=10))
def test_short_gaps_filled_within_neighbours(values, gaps):
    n = len(values)
    keep = np.ones(n, bool)
    for g in gaps:
        if 0 < g < n - 1:
            keep[g] = False
    days = pd.date_range("2020-01-01", periods=n, freq="D")
    df = pd.DataFrame({"date": days.strftime("%Y-%m-%d")[keep],
                       "Q (m3/s)": np.asarray(values)[keep].astype(str)})
    q = read_discharge(df, max_gap_days=n)
    assert len(q) == n and q["discharge_m3s"].notna().all()
    lo, hi = min(np.asarray(values)[keep]), max(np.asarray(values)[keep])
    assert (q["discharge_m3s"] >= lo - 1e-9).all() and (q["discharge_m3s"] <= hi + 1e-9).all()
    assert (q["qa_flags"] == "interpolated").sum() == (~keep).sum()


def test_semicolon_decimal_comma_and_chinese_dates(tmp_path):
    p = tmp_path / "q.csv"
    p.write_text("日期;流量 (m3/s)\n2020年1月5日;1,5\n2020年1月6日;2,5\n", encoding="gb18030")
    q = read_discharge(p)
    assert list(q.index.strftime("%Y-%m-%d")) == ["2020-01-05", "2020-01-06"]
    np.testing.assert_allclose(q["discharge_m3s"], [1.5, 2.5])


# ---------------------------------------------------------------------------
# issue 11: the one reader, cell parser, header matcher and date parser
# ---------------------------------------------------------------------------


def test_day_first_dates_are_read_day_first_for_the_whole_column(tmp_path):
    # 13/06 can only be 13 June; 12/06 and 03/06 are then 12 and 3 June, not December/March
    p = _write(tmp_path, "date,Q (m3/s)\n13/06/2021,1\n12/06/2021,2\n03/06/2021,3\n")
    q = read_discharge(p, max_gap_days=10)
    assert q.index[0] == pd.Timestamp("2021-06-03") and q.index[-1] == pd.Timestamp("2021-06-13")
    assert q.loc["2021-06-12", "discharge_m3s"] == 2.0
    assert q.loc["2021-06-03", "discharge_m3s"] == 3.0


def test_ambiguous_dates_are_refused_naming_file_and_column_unless_date_format(tmp_path):
    p = _write(tmp_path, "Date,Q (m3/s)\n03/05/2021,1\n04/05/2021,2\n05/05/2021,3\n")
    with pytest.raises(DataError) as err:
        read_discharge(p)
    msg = str(err.value)
    assert str(p) in msg and "column 'Date'" in msg and "'03/05/2021'" in msg
    assert "date_format=" in msg and "--date-format" in msg and "gap" not in msg
    q = read_discharge(p, date_format="%d/%m/%Y")  # 3, 4, 5 May
    assert list(q.index.strftime("%Y-%m-%d")) == ["2021-05-03", "2021-05-04", "2021-05-05"]
    q = read_discharge(p, date_format="%m/%d/%Y", allow_gaps=True)  # March 5, April 5, May 5
    assert q.index[0] == pd.Timestamp("2021-03-05") and q.index[-1] == pd.Timestamp("2021-05-05")


def test_a_bad_date_names_line_and_column_not_gaps(tmp_path):
    # the comment line counts: the header is line 2, '2020-02-30' is on line 4
    p = _write(tmp_path, "# logger 7\ndate,Q (m3/s)\n2020-01-01,1\n2020-02-30,2\n"
                         "2020-03-20,3\n")
    with pytest.raises(DataError) as err:
        read_discharge(p)
    msg = str(err.value)
    assert "line 4 (data row 2), column 'date'" in msg and "'2020-02-30'" in msg
    assert "gap" not in msg and "missing on" not in msg
    p = _write(tmp_path, "date,Q (m3/s)\n2020-01-01,1\n,2\n", "empty.csv")
    with pytest.raises(DataError,
                       match=r"line 3 \(data row 2\), column 'date': the date is empty"):
        read_discharge(p)


def test_mixed_utc_offsets_are_read_in_utc_and_noted(tmp_path):
    # 2021-03-28 01:30+01:00 = 00:30 UTC and 2021-03-28 03:30+02:00 = 01:30 UTC (a DST
    # change): both on 28 March UTC; 2021-03-29 00:30+02:00 = 28 March 22:30 UTC
    p = _write(tmp_path, "datetime,Q (m3/s)\n2021-03-28T01:30+01:00,1\n"
                         "2021-03-28T03:30+02:00,2\n2021-03-29T00:30+02:00,6\n")
    q = read_discharge(p)
    assert list(q.index) == [pd.Timestamp("2021-03-28")]
    # time-weighted (UTC 00:30, 01:30, 22:30): the first stands for the 1 h gap to the
    # next, the middle one for half of each gap, (1 + 21) / 2 = 11 h, the last for the 21 h
    # gap to its previous: (1 x 1 + 2 x 11 + 6 x 21) / 33 = 149 / 33 = 4.51515
    assert q["discharge_m3s"].iloc[0] == pytest.approx(149 / 33, rel=1e-12)
    assert q["n_obs"].iloc[0] == 3
    assert any("UTC" in note for note in q.attrs["notes"])


def test_thousands_separator_in_litres_per_second(tmp_path):
    # a ','-separated file writes decimals with a point: '1,051' L/s is 1051 L/s = 1.051 m3/s
    p = _write(tmp_path, 'date,Q (L/s)\n2020-01-01,"1,051"\n2020-01-02,950\n'
                         '2020-01-03,"2,300"\n')
    q = read_discharge(p)
    np.testing.assert_allclose(q["discharge_m3s"], [1.051, 0.950, 2.300], rtol=1e-12)


def test_decimal_comma_in_a_semicolon_file(tmp_path):
    # ';' file: '1,051' m3/s with a decimal comma is 1.051 m3/s; '0,5' settles it anyway
    p = _write(tmp_path, "date;Q (m3/s);ec\n2020-01-01;1,051;312,5\n2020-01-02;0,5;300\n")
    q = read_discharge(p, extra_columns=["ec"])
    np.testing.assert_allclose(q["discharge_m3s"], [1.051, 0.5], rtol=1e-12)
    np.testing.assert_allclose(q["ec"], [312.5, 300.0], rtol=1e-12)
    # nothing in the column settles it: the ';' file's decimal comma, and a note says so
    p = _write(tmp_path, "date;Q (m3/s)\n2020-01-01;1,051\n2020-01-02;2,300\n", "b.csv")
    q = read_discharge(p)
    np.testing.assert_allclose(q["discharge_m3s"], [1.051, 2.3], rtol=1e-12)
    assert any("'1,051'" in note and "decimal comma" in note for note in q.attrs["notes"])


def test_a_column_with_both_decimal_marks_is_an_error(tmp_path):
    p = _write(tmp_path, "date;Q (m3/s)\n2020-01-01;1,5\n2020-01-02;2.5\n")
    with pytest.raises(DataError, match=r"column 'Q \(m3/s\)'.*'1,5'.*'2\.5'"):
        read_discharge(p)


def test_date_and_time_columns_are_joined(tmp_path):
    p = _write(tmp_path, "Date,Time,Q (m3/s)\n2020-01-01,00:00,1\n2020-01-01,12:00,3\n"
                         "2020-01-02,00:00,5\n")
    q = read_discharge(p)
    assert q.loc["2020-01-01", "discharge_m3s"] == pytest.approx(2.0)  # (1 + 3) / 2
    assert q.loc["2020-01-01", "n_obs"] == 2  # not a duplicate timestamp
    assert q.attrs["flag_counts"].get("duplicate_timestamp") is None


def test_xlsx_discharge_with_real_date_cells(tmp_path):
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["日期", "流量(m³/s)"])
    ws.append([dt.datetime(2020, 1, 5), 1.5])
    ws.append([dt.datetime(2020, 1, 6), 2.5])
    p = tmp_path / "q.xlsx"
    wb.save(p)
    q = read_discharge(p)
    assert list(q.index.strftime("%Y-%m-%d")) == ["2020-01-05", "2020-01-06"]
    np.testing.assert_allclose(q["discharge_m3s"], [1.5, 2.5])
    assert q.attrs["q_unit"] == "m3/s"


def test_zero_discharge_is_used_as_no_flow_and_flagged(tmp_path):
    # three zeros inside a flood (7.19 -> 0, 0, 0 -> 4.1 m3/s): kept as no flow, since a
    # spring may go dry, but each day is flagged zero_flow and one warning names the file,
    # the count and the first date; a blank cell is the way to say "missing"
    f = tmp_path / "q.csv"
    f.write_text("date,Q (m3/s)\n2016-07-26,7.19\n2016-07-27,0\n2016-07-28,0\n"
                 "2016-07-29,0.0\n2016-07-30,4.1\n", encoding="utf-8")
    with pytest.warns(DataQualityWarning, match=r"q\.csv: 3 reading\(s\) of zero discharge "
                      r".*first 2016-07-27.*leave those cells blank"):
        q = read_discharge(f)
    assert q["discharge_m3s"].tolist() == [7.19, 0.0, 0.0, 0.0, 4.1]
    assert q["qa_flags"].tolist() == ["", "zero_flow", "zero_flow", "zero_flow", ""]
