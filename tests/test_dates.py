"""The one date parser (karstsink.io.dates.parse_dates) and the per-column number rule.

Expected dates are written out by hand from the cell text (day, month, year as the
format says); UTC conversions are done by hand in the comments.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import ConfigError
from karstsink.io.cells import column_uses_decimal_comma, decimal_mark_examples, parse_column
from karstsink.io.dates import AmbiguousDateError, parse_dates


def stamps(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


def as_list(values) -> list:
    return [pd.NaT if np.isnat(v) else pd.Timestamp(v) for v in values]


# ---------------------------------------------------------------------------
# day/month order: decided once per column
# ---------------------------------------------------------------------------


def test_a_day_above_12_makes_the_whole_column_day_first():
    # '13/06/2021' can only be 13 June, so '12/06/2021' is 12 June (not 6 December) and
    # '03/06/2021' is 3 June: the whole column is one June, not June and December
    dates, bad, note = parse_dates(["13/06/2021", "12/06/2021", "03/06/2021"])
    assert as_list(dates) == stamps("2021-06-13", "2021-06-12", "2021-06-03")
    assert not bad.any() and note is None


def test_a_second_field_above_12_makes_the_column_month_first():
    # '06/13/2021' can only be June 13, so '06/12/2021' is June 12
    dates, bad, _ = parse_dates(["06/13/2021", "06/12/2021", "07/01/2021"])
    assert as_list(dates) == stamps("2021-06-13", "2021-06-12", "2021-07-01")
    assert not bad.any()


def test_an_undecidable_column_is_refused_with_three_examples():
    cells = ["03/05/2021", "04/06/2021", "05/07/2021", "06/08/2021", "03/05/2021"]
    with pytest.raises(AmbiguousDateError) as err:
        parse_dates(cells)
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "'03/05/2021', '04/06/2021', '05/07/2021'" in msg and "'06/08/2021'" not in msg
    assert "date_format" in msg and "\n" not in msg
    assert err.value.examples == ("03/05/2021", "04/06/2021", "05/07/2021")


def test_iso_cells_do_not_settle_an_ambiguous_column():
    with pytest.raises(AmbiguousDateError, match="03/05/2021"):
        parse_dates(["2021-05-18", "03/05/2021"])


def test_a_column_written_both_ways_is_refused():
    # 13/05 is day first, 05/14 month first: no single order reads both
    with pytest.raises(AmbiguousDateError, match=r"both day first \('13/05/2021'\).*"
                                                 r"month first \('05/14/2021'\)"):
        parse_dates(["13/05/2021", "05/14/2021"])


@pytest.mark.parametrize(("fmt", "expected"), [
    ("%d/%m/%Y", ["2021-05-03", "2021-06-04"]),  # 3 May, 4 June
    ("%m/%d/%Y", ["2021-03-05", "2021-04-06"]),  # March 5, April 6
])
def test_date_format_reads_an_ambiguous_column(fmt, expected):
    dates, bad, _ = parse_dates(["03/05/2021", "04/06/2021"], date_format=fmt)
    assert as_list(dates) == stamps(*expected)
    assert not bad.any()


def test_date_format_is_used_for_every_cell():
    # '2021-07-01' is ISO (as XLSX date cells arrive) and still read; '13/13/2021' fits no
    # reading of %d/%m/%Y and is bad; an empty cell is missing, not bad
    dates, bad, _ = parse_dates(["03/05/2021 10:30", "2021-07-01", "13/13/2021", ""],
                                date_format="%d/%m/%Y")
    assert as_list(dates) == [pd.Timestamp("2021-05-03 10:30"), pd.Timestamp("2021-07-01"),
                              pd.NaT, pd.NaT]
    assert bad.tolist() == [False, False, True, False]
    # an ISO-shaped cell that is no date (month 13) is bad too, with any format
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        dates, bad, _ = parse_dates(["2021-13-45", "2021-02-30", "2021-07-01"],
                                    date_format=fmt)
        assert bad.tolist() == [True, True, False]
        assert as_list(dates)[2] == pd.Timestamp("2021-07-01")
    # with a separate time column
    dates, _, _ = parse_dates(["18/05/2021", "19/05/2021"], ["10:30", ""],
                              date_format="%d/%m/%Y")
    assert as_list(dates) == stamps("2021-05-18 10:30", "2021-05-19")


def test_a_date_format_that_is_not_strftime_is_a_config_error():
    with pytest.raises(ConfigError, match=r"'dd/mm/yyyy'.*%d/%m/%Y"):
        parse_dates(["03/05/2021"], date_format="dd/mm/yyyy")


# ---------------------------------------------------------------------------
# the other forms
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("cell", "expected"), [
    ("2021-05-18", "2021-05-18"),
    ("2021/5/18", "2021-05-18"),
    ("2021.05.18", "2021-05-18"),
    ("2021-05-18T10:30:15", "2021-05-18 10:30:15"),
    ("2021-05-18 10:30:15.250", "2021-05-18 10:30:15.250"),
    ("20210518", "2021-05-18"),  # USGS/LOADEST compact
    ("2021年5月18日", "2021-05-18"),
    ("2021年5月18日 10:30", "2021-05-18 10:30"),
    ("18-May-2021", "2021-05-18"),
    ("May 18, 2021", "2021-05-18"),
    ("44334", "2021-05-18"),  # Excel serial: 44197 is 2021-01-01, + 137 days = 18 May
    ("18/05/2021", "2021-05-18"),
])
def test_date_forms(cell, expected):
    dates, bad, note = parse_dates([cell])
    assert as_list(dates) == [pd.Timestamp(expected)]
    assert not bad.any() and note is None


def test_unreadable_and_empty_cells():
    dates, bad, _ = parse_dates(["2021-13-45", "", "yesterday", "n.d.", "2021-05-18"])
    assert as_list(dates)[:4] == [pd.NaT] * 4
    assert bad.tolist() == [True, False, True, False, False]


def test_a_separate_time_column_is_joined():
    dates, _, _ = parse_dates(["2020-04-14", "2020-04-14"], ["10:30:00", "16:05"])
    assert as_list(dates) == stamps("2020-04-14 10:30", "2020-04-14 16:05")


def test_mixed_utc_offsets_are_converted_to_utc_and_said_so():
    # 10:30+08:00 = 02:30 UTC; 10:30+02:00 = 08:30 UTC; 12:00Z = 12:00 UTC
    dates, bad, note = parse_dates(["2021-05-03T10:30:00+08:00", "2021-05-03T10:30:00+02:00",
                                    "2021-05-03T12:00Z"])
    assert as_list(dates) == stamps("2021-05-03 02:30", "2021-05-03 08:30", "2021-05-03 12:00")
    assert not bad.any()
    assert "UTC" in note and "+08:00" in note and "+02:00" in note
    assert dates.dtype == np.dtype("datetime64[ns]")  # naive: no time zone left


def test_one_utc_offset_keeps_the_clock_time():
    # a logger on Beijing time: its days are Beijing days, the offset is only dropped
    dates, _, note = parse_dates(["2021-05-03 23:30+08:00", "2021-05-04 00:30+0800"])
    assert as_list(dates) == stamps("2021-05-03 23:30", "2021-05-04 00:30")
    assert "+08:00" in note and "local clock" in note


@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.dates(dt.date(1950, 1, 1), dt.date(2100, 12, 31)), max_size=25),
       anchor=st.builds(dt.date, st.integers(1950, 2100), st.integers(1, 12),
                        st.integers(13, 28)),
       where=st.integers(0, 25), sep=st.sampled_from("/-."))
def test_property_day_first_dates_round_trip(days, anchor, where, sep):
    # any dates written day/month/year, with one day above 12 somewhere, come back exactly
    written = list(days)
    written.insert(min(where, len(written)), anchor)
    cells = [d.strftime(f"%d{sep}%m{sep}%Y") for d in written]
    dates, bad, note = parse_dates(cells)
    assert [pd.Timestamp(v).date() for v in dates] == written
    assert not bad.any() and note is None


# ---------------------------------------------------------------------------
# decimal commas vs thousands separators: decided per column
# ---------------------------------------------------------------------------


def test_thousands_separator_column():
    # '1,051' with nothing else deciding is one thousand and fifty-one, in every cell
    cells = ["1,051", "950", "2,300"]
    assert not column_uses_decimal_comma(cells)
    values, _ = parse_column(cells)
    assert values.tolist() == [1051.0, 950.0, 2300.0]


def test_decimal_comma_column_reads_every_cell_with_a_comma():
    # '1,5' can only be a decimal comma, so '1,051' in the same column is 1.051
    cells = ["1,5", "1,051", "0,25"]
    assert column_uses_decimal_comma(cells)
    values, _ = parse_column(cells)
    assert values.tolist() == [1.5, 1.051, 0.25]


def test_decimal_mark_examples_name_the_deciding_cells():
    comma, dot = decimal_mark_examples(["1,5", "1,051", "2.5", "7", "1,5"])
    assert comma == ["1,5"] and dot == ["2.5"]  # '1,051' decides nothing
