"""A no-value sentinel in a discharge record: the samples reader's rule, one rule book.

``-99``, ``-999``, ``-9999``, ``-99999`` (:data:`karstsink.io.cells.SENTINEL_VALUES`) are
flagged ``sentinel_value`` (registered in :mod:`karstsink.qa` for the discharge stage) and
never used as a number, in the discharge column as in the samples; a real negative value
stays ``negative_value``. They were flagged ``negative_value`` in the discharge column, and
used as numbers in an ``--extra``/``--proxy`` column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from karstsink import qa
from karstsink.cli import main
from karstsink.exceptions import DataError, DataQualityWarning
from karstsink.io import cells
from karstsink.io.discharge import read_discharge


def _write(tmp_path, text: str):
    p = tmp_path / "q.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_rule_is_the_registered_one():
    assert "discharge" in qa.rule("sentinel_value").stages
    assert qa.is_fatal("sentinel_value")
    assert cells.SENTINEL_VALUES == (-99.0, -999.0, -9999.0, -99999.0)


def test_sentinels_are_flagged_as_such_and_never_used(tmp_path):
    text = ("date,Q (m3/s)\n2020-01-01,1\n2020-01-02,-999\n2020-01-03,3\n2020-01-04,-9999.0\n"
            "2020-01-05,5\n2020-01-06,-99\n2020-01-07,7\n2020-01-08,-2.5\n2020-01-09,9\n")
    with pytest.warns(DataQualityWarning, match=r"4 discharge value\(s\) left out of the daily "
                      r"means and flagged \(3 sentinel_value, 1 negative_value; first line 3 "
                      r"\(data row 2\): '-999'\)"):
        q = read_discharge(_write(tmp_path, text))
    flags = q["qa_flags"].to_dict()
    for day in ("2020-01-02", "2020-01-04", "2020-01-06"):
        assert flags[pd.Timestamp(day)] == "sentinel_value;interpolated", flags
    assert flags[pd.Timestamp("2020-01-08")] == "negative_value;interpolated"
    # never a number: each gap day is the mean of its neighbours (1, 3 -> 2; 3, 5 -> 4; ...)
    assert q["discharge_m3s"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert q["n_obs"].tolist() == [1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert q.attrs["flag_counts"]["sentinel_value"] == 3
    assert q.attrs["flag_counts"]["negative_value"] == 1


def test_a_sentinel_beside_a_value_of_its_day_is_left_out_of_the_mean(tmp_path):
    text = "datetime,Q (m3/s)\n2020-01-01 00:00,2\n2020-01-01 12:00,-999\n2020-01-02 00:00,4\n"
    with pytest.warns(DataQualityWarning, match="1 sentinel_value"):
        q = read_discharge(_write(tmp_path, text))
    assert q.loc["2020-01-01", "discharge_m3s"] == 2.0  # not (2 - 999) / 2
    assert q.loc["2020-01-01", "n_obs"] == 1
    assert q.loc["2020-01-01", "qa_flags"] == "sentinel_value"


def test_a_column_of_sentinels_only_is_refused_saying_so(tmp_path):
    text = "date,Q (m3/s)\n" + "".join(f"2020-01-0{d},-9999\n" for d in range(1, 4))
    with pytest.raises(DataError, match=r"no usable discharge value in column 'Q \(m3/s\)' "
                                        r"\(all 3 cells no-value sentinels, e.g. '-9999'\)"):
        read_discharge(_write(tmp_path, text))


def test_a_sentinel_in_an_extra_column_is_nan_and_counted(tmp_path):
    text = ("datetime,Q (m3/s),EC\n2020-01-01 00:00,1,400\n2020-01-01 12:00,1,-999\n"
            "2020-01-02 00:00,1,-9999\n2020-01-03 00:00,1,420\n")
    q = read_discharge(_write(tmp_path, text), extra_columns=["EC"])
    # day 1: the mean of 400 alone (was (400 - 999) / 2 = -299.5); day 2: no value
    assert q.loc["2020-01-01", "EC"] == 400.0
    assert np.isnan(q.loc["2020-01-02", "EC"])
    assert q.loc["2020-01-03", "EC"] == 420.0
    assert q.attrs["flag_counts"]["sentinel_value:EC"] == 2


def test_the_flux_command_writes_the_sentinel_flag(tmp_path):
    days = pd.date_range("2019-10-01", "2020-09-30", freq="D")
    q = np.ones(len(days))
    q[10] = -999.0
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": q}).to_csv(qp, index=False)
    pd.DataFrame({"date": days[::30].strftime("%Y-%m-%d"), "hco3": 250.0}).to_csv(
        sp, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["flux", "--discharge", str(qp), "--samples", str(sp),
                                  "--units", "mg/L", "--area", "100", "--method", "direct",
                                  "-o", str(out), "--no-plots"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "(1 sentinel_value; first line 12 (data row 11): '-999.0')" in r.output
    daily = pd.read_csv(out / "daily.csv").set_index("date")
    assert daily.loc["2019-10-11", "discharge_qa_flags"] == "sentinel_value;interpolated"
    # interpolated between its neighbours (1 and 1 m3/s): 1 x 250 x 86.4 = 21 600 kg/d
    assert daily.loc["2019-10-11", "flux_kg_day"] == pytest.approx(21600.0, rel=1e-12)
