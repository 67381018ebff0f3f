"""``samples.csv`` of ``karstsink flux`` links each row to its input row.

The estimators fit the samples by date, but the table written back is in the order of the
samples file (as ``karstsink speciate`` keeps its rows), a row with an empty date stays in
its place (flagged ``bad_date``), and the file's sample IDs come along as ``sample_id``, the
last column. The discharge record is SYNTHETIC: Q = 1 + i/100 m³/s on day i of the record
(0 on 2019-10-01), so each sample's discharge is known by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from karstsink.cli import main
from karstsink.exceptions import DataQualityWarning
from karstsink.io.flux_samples import flux_samples_from_table, read_flux_table
from karstsink.workflows.catchment import run_flux

# Days of more discharge than any sample warn (tests/test_flux_options.py and the app7
# fixture of tests/test_flux_wrtds.py check it); here it is not what a test is about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")


DAYS = pd.date_range("2019-10-01", "2020-09-30", freq="D")
#: the columns samples.csv had before (direct/rating/loadest), in their order
OLD_COLUMNS = ["date", "discharge_m3s", "conc_mg_L", "censored", "used", "in_record",
               "qa_flags", "fitted_mg_L", "residual"]
#: input order: not by date, and the 4th row has no date
ROWS = [("S-07", "2020-06-09", 231.0), ("S-02", "2019-11-10", 244.0),
        ("S-05", "2020-03-19", 238.0), ("S-04", "", 240.0),
        ("S-01", "2019-10-11", 250.0), ("S-06", "2020-04-28", 226.0),
        ("S-03", "2020-01-29", 247.0), ("S-08", "2020-08-18", 229.0)]


def _q(days=DAYS):
    return 1.0 + np.arange(len(days)) / 100.0


def _write(tmp_path, rows=ROWS, *, ids=True):
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "Q (m3/s)": _q()}).to_csv(qp, index=False)
    frame = pd.DataFrame(rows, columns=["Sample ID", "Date", "HCO3- (mg/L)"])
    (frame if ids else frame.drop(columns="Sample ID")).to_csv(sp, index=False)
    return qp, sp


def _flux(qp, sp, out, *args):
    r = CliRunner().invoke(main, ["flux", "--discharge", str(qp), "--samples", str(sp),
                                  "--area", "10", "-o", str(out), "--no-plots", *args],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return pd.read_csv(out / "samples.csv", keep_default_na=False)


@pytest.mark.parametrize("method", ["direct", "rating", "loadest"])
def test_samples_csv_keeps_the_input_order_and_the_sample_ids(tmp_path, method):
    qp, sp = _write(tmp_path)
    smp = _flux(qp, sp, tmp_path / "out", "--method", method)
    assert list(smp.columns) == [*OLD_COLUMNS, "sample_id"]  # the new column last
    assert smp["sample_id"].tolist() == [r[0] for r in ROWS]
    assert smp["date"].tolist() == [r[1] for r in ROWS]
    # the empty date stays 4th, flagged and not used; its value is not taken without a date
    assert smp.loc[3, "qa_flags"] == "bad_date" and not smp.loc[3, "used"]
    assert smp.loc[3, "conc_mg_L"] == "" and smp.loc[3, "discharge_m3s"] == ""
    assert smp["used"].tolist() == [True] * 3 + [False] + [True] * 4
    # row 1 (S-07, 2020-06-09): day 252 of the record (31+30+31+31+29+31+30+31 = 244 days
    # to 1 June, + 8) -> Q = 1 + 252/100 = 3.52 m3/s; row 5 (S-01, 2019-10-11): day 10,
    # Q = 1.10 m3/s; the values are the file's, 231 and 250 mg/L
    assert float(smp.loc[0, "discharge_m3s"]) == pytest.approx(3.52, abs=1e-12)
    assert float(smp.loc[4, "discharge_m3s"]) == pytest.approx(1.10, abs=1e-12)
    assert [float(smp.loc[i, "conc_mg_L"]) for i in (0, 4)] == pytest.approx([231.0, 250.0])


def test_the_fit_does_not_depend_on_the_row_order(tmp_path):
    # the same samples sorted by date (the blank date last) give the same daily fluxes, and
    # the same samples.csv rows, each at its own input position
    qp, sp = _write(tmp_path)
    by_date = sorted(ROWS, key=lambda r: (r[1] == "", r[1]))
    (tmp_path / "b").mkdir()
    qb, sb = _write(tmp_path / "b", by_date)
    shuffled = _flux(qp, sp, tmp_path / "o1", "--method", "loadest")
    ordered = _flux(qb, sb, tmp_path / "o2", "--method", "loadest")
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o1" / "daily.csv"),
                                  pd.read_csv(tmp_path / "o2" / "daily.csv"))
    assert ordered["sample_id"].tolist() == [r[0] for r in by_date]
    pd.testing.assert_frame_equal(
        shuffled, ordered.set_index("sample_id").loc[[r[0] for r in ROWS]].reset_index()
        [shuffled.columns])


def test_without_an_id_column_the_order_is_the_link(tmp_path):
    qp, sp = _write(tmp_path, ids=False)
    smp = _flux(qp, sp, tmp_path / "out", "--method", "direct")
    assert list(smp.columns) == OLD_COLUMNS  # no sample_id invented
    assert smp["date"].tolist() == [r[1] for r in ROWS]


def test_run_flux_gives_the_samples_in_input_order_for_wrtds(tmp_path):
    # WRTDS keeps the file's own columns in its samples table; the order and sample_id are
    # the same rule. 60 samples every 6 days from 2019-10-04, written newest first.
    rng = np.random.default_rng(1)
    dates = DAYS[3::6][:60]
    ids = [f"W{i:02d}" for i in range(60)]
    conc = 240.0 * np.exp(rng.normal(0, 0.05, 60))
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "Q (m3/s)": _q()}).to_csv(qp, index=False)
    pd.DataFrame({"Sample ID": ids, "Date": dates.strftime("%Y-%m-%d"),
                  "HCO3- (mg/L)": conc}).iloc[::-1].to_csv(sp, index=False)
    run = run_flux(qp, sp, area_km2=10.0, method="wrtds", kalman_iter=0,
                   method_options={"bootstrap": 0, "min_obs": 30, "min_uncen": 20})
    assert run.samples["sample_id"].tolist() == ids[::-1]
    assert run.samples.columns[-1] == "sample_id"
    assert (pd.to_datetime(run.samples["date"]).to_numpy() == dates[::-1].to_numpy()).all()
    assert "input_rows" not in run.samples.attrs
    # the estimate itself keeps the date order the fit used
    assert pd.to_datetime(run.estimate.samples["date"]).is_monotonic_increasing


def test_flux_samples_from_table_records_the_input_rows():
    table = read_flux_table(pd.DataFrame({"date": ["2020-03-01", "", "2019-12-01"],
                                          "hco3": ["250", "240", "230"]}), units="mg/L")
    with pytest.warns(DataQualityWarning, match="no usable hco3 value"):
        smp = flux_samples_from_table(table, "hco3")
    # sorted by date, the empty date last: input rows 2 (1 Dec), 0 (1 Mar), 1 (no date)
    assert smp.attrs["input_rows"] == [2, 0, 1]
    assert smp["conc_mg_L"].tolist()[:2] == pytest.approx([230.0, 250.0])
    assert smp.loc[2, "qa_flags"] == "bad_date"


def test_wrtds_samples_say_which_were_used(tmp_path):
    # 60 samples, one dated a year before the discharge record: 59 used (the other
    # estimators' rule), so model.json's n_used and a run's n_samples count 59, not 60
    rng = np.random.default_rng(2)
    dates = DAYS[3::6][:60].strftime("%Y-%m-%d").tolist()
    dates[10] = "2018-06-01"
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": DAYS.strftime("%Y-%m-%d"), "Q (m3/s)": _q()}).to_csv(qp, index=False)
    pd.DataFrame({"Date": dates, "HCO3- (mg/L)": 240.0 * np.exp(rng.normal(0, 0.05, 60))}
                 ).to_csv(sp, index=False)
    with pytest.warns(DataQualityWarning, match="1 of 60 sample"):
        run = run_flux(qp, sp, area_km2=10.0, method="wrtds", kalman_iter=0,
                       method_options={"bootstrap": 0, "min_obs": 30, "min_uncen": 20})
    assert run.samples["used"].tolist() == [i != 10 for i in range(60)]
    assert run.model_json()["samples"]["n_used"] == 59
