"""Issue 12, classes 4 and 5 (and more): every bad flux input gets a flag or one clear line.

Each test builds one kind of bad discharge or samples file, runs ``karstsink flux`` (click's
CliRunner) or the Python function, and checks the exit code, the one-line message, the
flags written and that a failed run leaves no output and no temporary folder behind.
The distinct bad inputs are numbered ``# bad input N`` (31 in all).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.cli import main
from karstsink.exceptions import DataError, DataQualityWarning, UnitError
from karstsink.flux import estimate
from karstsink.flux.wrtds import estimate_wrtds
from karstsink.io.discharge import read_discharge
from karstsink.io.flux_samples import (
    flux_samples_from_table,
    pair_with_discharge,
    read_flux_samples,
    read_flux_table,
)

DAYS = pd.date_range("2019-01-01", "2020-12-31", freq="D")


def _q(days=DAYS):
    """A discharge that varies (LOADEST needs it): exp(sin(day / 20)), 0.37-2.72 m3/s."""
    return np.exp(np.sin(np.arange(len(days)) / 20.0))


def _conc(n):
    """HCO3 around 250 mg/L, deterministic."""
    return 250.0 * np.exp(0.1 * np.cos(np.arange(n)))


def _write(tmp_path, discharge, samples):
    """Write the two inputs (DataFrames or text) into tmp_path/in and return their paths."""
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    qp, sp = d / "q.csv", d / "s.csv"
    for path, data in ((qp, discharge), (sp, samples)):
        if isinstance(data, str):
            path.write_text(data, encoding="utf-8")
        else:
            data.to_csv(path, index=False)
    return qp, sp


def _q_frame(q=None, days=DAYS, fmt="%Y-%m-%d", header="Q (m3/s)"):
    return pd.DataFrame({"date": days.strftime(fmt), header: _q(days) if q is None else q})


def _s_frame(dates=None, values=None, fmt="%Y-%m-%d"):
    dates = DAYS[::10] if dates is None else pd.DatetimeIndex(dates)
    values = _conc(len(dates)) if values is None else values
    return pd.DataFrame({"date": dates.strftime(fmt), "hco3": values})


def _run(qp, sp, out, *extra):
    args = ["flux", "--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 10,
            "-o", out, "--no-plots", *extra]
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _nothing_left(tmp_path):
    """No output folder and no temporary folder next to it: only the inputs remain."""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["q.csv", "s.csv"]


def _refused(r, tmp_path, *patterns):
    """Exit 1, one 'Error:' line holding every pattern, no traceback, nothing written."""
    assert r.exit_code == 1, r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, r.output
    for p in patterns:
        assert p in errors[0], (p, errors[0])
    assert "Traceback" not in r.output
    _nothing_left(tmp_path)
    return errors[0]


def _ok(r):
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    return r.output


def _samples_csv(out):
    return pd.read_csv(out / "samples.csv", keep_default_na=False)


# --------------------------------------------------------------------------- dates (class 4)


def test_day_first_samples_are_read_per_column_so_12_june_is_june(tmp_path):
    # bad input 1: day-first samples (25/06 settles the column), discharge ISO
    dates = ["12/06/2019", "25/06/2019", "03/07/2019", "05/08/2019", "14/09/2019"]
    samples = pd.DataFrame({"date": dates, "hco3": _conc(5)})
    qp, sp = _write(tmp_path, _q_frame(), samples)
    out = tmp_path / "out"
    _ok(_run(qp, sp, out, "--method", "direct"))
    smp = _samples_csv(out)
    assert smp["date"].tolist() == ["2019-06-12", "2019-06-25", "2019-07-03", "2019-08-05",
                                    "2019-09-14"]
    # the 12 June sample carries 12 June's discharge: day 162 of the record (0-based),
    # exp(sin(162 / 20)) = exp(sin(8.1)) = exp(0.96989) = 2.6377 m3/s
    assert smp.loc[0, "discharge_m3s"] == pytest.approx(np.exp(np.sin(162 / 20)), rel=1e-12)


def test_day_first_discharge_is_read_per_column(tmp_path):
    # bad input 2: day-first discharge file, ISO samples
    qp, sp = _write(tmp_path, _q_frame(fmt="%d/%m/%Y"), _s_frame())
    out = tmp_path / "out"
    _ok(_run(qp, sp, out, "--method", "direct"))
    daily = pd.read_csv(out / "daily.csv")
    assert daily["date"].iloc[0] == "2019-01-01" and daily["date"].iloc[-1] == "2020-12-31"
    assert len(daily) == 731  # 365 + 366 (2020 is a leap year): no day lost or doubled
    q = daily.set_index("date")["discharge_m3s"]
    assert q["2019-06-12"] == pytest.approx(np.exp(np.sin(162 / 20)), rel=1e-12)


def test_ambiguous_sample_dates_are_refused_with_the_date_format_hint(tmp_path):
    # bad input 3: no day above 12 in the samples' date column
    dates = ["12/06/2019", "03/07/2019", "05/08/2019", "01/09/2019", "02/10/2019"]
    qp, sp = _write(tmp_path, _q_frame(), pd.DataFrame({"date": dates, "hco3": _conc(5)}))
    r = _run(qp, sp, tmp_path / "out")
    _refused(r, tmp_path, "s.csv", "column 'date'", "day/month order cannot be told",
             "'12/06/2019'", "--date-format", "'%d/%m/%Y'")
    # the fix of bad input 3: with --date-format the column is read day first
    out = tmp_path / "fixed"
    _ok(_run(qp, sp, out, "--method", "direct", "--date-format", "%d/%m/%Y"))
    assert _samples_csv(out)["date"].iloc[0] == "2019-06-12"


def test_ambiguous_discharge_dates_are_refused_naming_the_discharge_file(tmp_path):
    # bad input 4: only the 1st-12th of each month, written dd/mm/yyyy: both fields <= 12
    # in every cell, so no cell settles the order
    days = DAYS[DAYS.day <= 12]
    q = pd.DataFrame({"date": days.strftime("%d/%m/%Y"), "Q (m3/s)": _q(days)})
    qp, sp = _write(tmp_path, q, _s_frame(days[::5]))
    r = _run(qp, sp, tmp_path / "out", "--allow-gaps")
    _refused(r, tmp_path, "q.csv", "column 'date'", "day/month order cannot be told",
             "--date-format")


def test_dates_written_both_ways_in_one_column_are_refused(tmp_path):
    # bad input 6: '13/06/2019' (day first) and '06/14/2019' (month first) in one column
    dates = ["13/06/2019", "06/14/2019", "01/07/2019"]
    qp, sp = _write(tmp_path, _q_frame(), pd.DataFrame({"date": dates, "hco3": _conc(3)}))
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "s.csv",
             "written both day first ('13/06/2019') and month first ('06/14/2019')",
             "--date-format")


def test_mixed_utc_offsets_in_discharge_are_averaged_by_utc_day(tmp_path):
    # bad input 7: sub-daily discharge with +08:00 and -05:00 offsets
    text = ("datetime,Q (m3/s)\n"
            "2019-01-01T20:00:00+08:00,1\n"   # 12:00 UTC on 1 Jan
            "2019-01-01T22:00:00-05:00,3\n"   # 03:00 UTC on 2 Jan
            "2019-01-02T09:00:00+08:00,5\n"   # 01:00 UTC on 2 Jan
            "2019-01-03T12:00:00+00:00,7\n")  # 12:00 UTC on 3 Jan
    p = tmp_path / "q.csv"
    p.write_text(text, encoding="utf-8")
    q = read_discharge(p)
    # by UTC day: 1 Jan -> 1; 2 Jan: two readings (01:00 and 03:00 UTC), each standing
    # for the 2 h gap between them: (5 + 3) / 2 = 4; 3 Jan -> 7
    assert q["discharge_m3s"].tolist() == [1.0, 4.0, 7.0]
    assert q["n_obs"].tolist() == [1, 2, 1]
    assert any("different UTC offsets" in n for n in q.attrs["notes"])


def test_mixed_utc_offsets_in_samples_do_not_crash_and_are_dated_in_utc(tmp_path):
    # bad input 8: sample date-times with +08:00 and -05:00 offsets
    samples = pd.DataFrame({
        "date": ["2019-06-12T02:00:00+08:00",    # 2019-06-11 18:00 UTC
                 "2019-06-20T22:00:00-05:00",    # 2019-06-21 03:00 UTC
                 "2019-07-01T12:00:00+08:00"],   # 2019-07-01 04:00 UTC
        "hco3": [250.0, 260.0, 255.0]})
    qp, sp = _write(tmp_path, _q_frame(), samples)
    out = tmp_path / "out"
    _ok(_run(qp, sp, out, "--method", "direct"))
    assert _samples_csv(out)["date"].tolist() == ["2019-06-11", "2019-06-21", "2019-07-01"]


def test_an_unreadable_discharge_date_blames_the_date_not_gaps(tmp_path):
    # bad input 9: one unreadable date ('2019-02-3O', a letter O) in the discharge file
    q = _q_frame()
    q.loc[40, "date"] = "2019-02-3O"
    qp, sp = _write(tmp_path, q, _s_frame())
    line = _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "q.csv",
                    "line 42 (data row 41)", "column 'date'", "cannot read the date '2019-02-3O'",
                    "--date-format")
    assert "gap" not in line


def test_a_wrong_date_format_for_discharge_names_the_format_not_gaps(tmp_path):
    # bad input 10: --date-format '%m/%d/%Y' on a day-first discharge file: 13/01/2019 and
    # later fail (and 01/02/2019 would read as 2 January): refused at the first bad cell
    qp, sp = _write(tmp_path, _q_frame(fmt="%d/%m/%Y"), _s_frame(fmt="%d/%m/%Y"))
    line = _refused(_run(qp, sp, tmp_path / "out", "--date-format", "%m/%d/%Y"), tmp_path,
                    "q.csv", "line 14 (data row 13)", "cannot read the date '13/01/2019'",
                    "with date_format='%m/%d/%Y'", "fix the cell or the format")
    assert "gap" not in line


def test_a_wrong_date_format_for_samples_names_the_format(tmp_path):
    # bad input 11: ISO discharge (read as ISO whatever the format), dotted sample dates
    qp, sp = _write(tmp_path, _q_frame(), _s_frame(fmt="%d.%m.%Y"))
    line = _refused(_run(qp, sp, tmp_path / "out", "--date-format", "%d/%m/%Y"), tmp_path,
                    "s.csv", "cannot read the date '01.01.2019'", "date_format='%d/%m/%Y'",
                    "fix the cell or the format")
    assert "gap" not in line


def test_an_unreadable_sample_date_names_line_and_cell(tmp_path):
    # bad input 12: one sample dated 'spring 2019'
    s = _s_frame()
    s.loc[3, "date"] = "spring 2019"
    qp, sp = _write(tmp_path, _q_frame(), s)
    line = _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "s.csv", "line 5 (data row 4)",
                    "cannot read the date 'spring 2019'", "--date-format")
    assert "gap" not in line


# --------------------------------------------------------------------------- zero discharge


def _zero_days_q():
    """Discharge with a zero on every 20th day; samples every 10th day, so every 2nd sample
    falls on a dry day: 37 of the 74 samples (days 0, 20, ..., 720)."""
    q = _q()
    q[::20] = 0.0
    return q


@pytest.mark.parametrize("method", ["loadest", "rating"])
def test_samples_on_zero_discharge_days_are_flagged_counted_and_flux_is_zero(tmp_path, method):
    # bad inputs 13 (LOADEST) and 14 (rating): 37 samples on days with Q = 0
    qp, sp = _write(tmp_path, _q_frame(_zero_days_q()), _s_frame())
    out = tmp_path / "out"
    text = _ok(_run(qp, sp, out, "--method", method))
    assert "37 fall on days of zero discharge" in text and "'zero_discharge'" in text
    smp = _samples_csv(out)
    assert len(smp) == 74  # nothing dropped
    dry = smp["discharge_m3s"] == 0
    assert dry.sum() == 37
    assert (smp.loc[dry, "qa_flags"] == "zero_discharge").all()
    assert not smp.loc[dry, "used"].any() and smp.loc[~dry, "used"].all()
    model = json.loads((out / "model.json").read_text())
    assert model["model"]["n_samples_zero_discharge"] == 37
    assert model["samples"]["n_used"] == 37
    daily = pd.read_csv(out / "daily.csv")
    zero = daily["discharge_m3s"] == 0
    assert zero.sum() == 37  # days 0, 20, ..., 720
    # no water, no load: flux, its error and its interval are exactly 0
    for col in ("flux_kg_day", "flux_se_kg_day", "flux_lo95_kg_day", "flux_hi95_kg_day"):
        assert (daily.loc[zero, col] == 0).all(), col
    assert daily.loc[zero, "conc_mg_L"].isna().all()
    assert daily.loc[~zero, "flux_kg_day"].gt(0).all()


def test_wrtds_flags_samples_on_zero_discharge_days(tmp_path):
    # bad input 15: WRTDS with 37 samples on dry days (ln Q undefined)
    qp, sp = _write(tmp_path, _q_frame(_zero_days_q()), _s_frame())
    out = tmp_path / "out"
    text = _ok(_run(qp, sp, out, "--method", "wrtds", "--bootstrap", 0, "--min-obs", 20,
                    "--min-uncen", 10))
    assert "37 of 74 sample(s) cannot be used (37 zero_discharge" in text
    smp = _samples_csv(out)
    dry = smp["discharge_m3s"] == 0
    assert dry.sum() == 37 and (smp.loc[dry, "qa_flags"] == "zero_discharge").all()
    model = json.loads((out / "model.json").read_text())["model"]
    assert model["n_samples_zero_discharge"] == 37 and model["n_samples_used"] == 37
    assert model["settings"]["min_obs"] == 20 and model["settings"]["min_uncen"] == 10
    daily = pd.read_csv(out / "daily.csv")
    assert (daily.loc[daily["discharge_m3s"] == 0, "flux_kg_day"] == 0).all()


def test_the_direct_method_keeps_samples_on_zero_discharge_days(tmp_path):
    # bad input 16: the direct method needs no ln Q: dry-day samples stay in use
    qp, sp = _write(tmp_path, _q_frame(_zero_days_q()), _s_frame())
    out = tmp_path / "out"
    text = _ok(_run(qp, sp, out, "--method", "direct"))
    assert "zero_discharge" not in text
    smp = _samples_csv(out)
    assert smp["used"].all() and not smp["qa_flags"].str.contains("zero_discharge").any()
    daily = pd.read_csv(out / "daily.csv")
    assert (daily.loc[daily["discharge_m3s"] == 0, "flux_kg_day"] == 0).all()


def test_every_sample_on_a_dry_day_is_one_line_naming_the_flag(tmp_path):
    # bad input 17: every sample falls on a zero-discharge day (LOADEST; WRTDS crashed
    # with an IndexError before)
    q = _q()
    q[::10] = 0.0
    qp, sp = _write(tmp_path, _q_frame(q), _s_frame())
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "LOADEST needs at least 3 usable",
             "only 0 of 74", "74 zero_discharge")
    daily = pd.DataFrame({"discharge_m3s": q}, index=DAYS.rename("date"))
    smp = pd.DataFrame({"date": DAYS[::10], "conc_mg_L": _conc(74), "censored": False})
    with pytest.warns(DataQualityWarning), pytest.raises(
            DataError, match=r"WRTDS: none of the 74 samples is usable \(74 zero_discharge"):
        estimate_wrtds(daily, smp, min_obs=10, min_uncen=5, bootstrap=0)


def test_zero_concentration_is_flagged_not_silently_dropped():
    # bad input 20: a concentration of 0 cannot enter ln(load): flagged nonpositive_value
    daily = pd.DataFrame({"discharge_m3s": _q()}, index=DAYS.rename("date"))
    conc = _conc(74)
    conc[5] = 0.0
    smp = pd.DataFrame({"date": DAYS[::10], "conc_mg_L": conc, "censored": False})
    with pytest.warns(DataQualityWarning) as caught:
        est = estimate(daily, smp, method="loadest", model=1)
    assert any("of 74 sample(s), 1 have a concentration <= 0 (flagged 'nonpositive_value')"
               in str(w.message) for w in caught)
    s = est.samples
    assert s.loc[5, "qa_flags"] == "nonpositive_value" and not s.loc[5, "used"]
    assert s["used"].sum() == 73


def test_an_unusable_companion_flux_names_its_option_and_the_way_on(tmp_path):
    # every NO3 cell 0: the direct method leaves each out (zero_concentration), so the NO3
    # flux for the nitric-acid correction cannot be estimated; the one error line says that
    # it is --no3's flux and what leaving it out costs (the HCO3 flux itself is fine)
    smp = _s_frame()
    smp["no3"] = 0.0
    qp, sp = _write(tmp_path, _q_frame(), smp)
    r = _run(qp, sp, tmp_path / "out", "--method", "direct", "--no3", "no3")
    _refused(r, tmp_path, "The direct method needs at least 1 usable", "74 zero_concentration",
             "the NO3 flux of --no3 'no3'", "nitric-acid correction",
             "leave --no3 out and the sink goes without that correction")
    # every NO3 cell 'n.d.': no value at all; the line names --no3, not --constituent
    smp["no3"] = "n.d."
    qp, sp = _write(tmp_path, _q_frame(), smp)
    line = _refused(_run(qp, sp, tmp_path / "out", "--method", "direct", "--no3", "no3"),
                    tmp_path, "no usable no3 value in column 'no3'", "the NO3 flux of --no3")
    assert "--constituent" not in line


# --------------------------------------------------------------------------- WRTDS min_obs


def test_wrtds_below_min_obs_says_how_many_and_how_to_lower_it(tmp_path):
    # bad input 18: 74 usable samples, fewer than the default min_obs = 100
    qp, sp = _write(tmp_path, _q_frame(), _s_frame())
    line = _refused(_run(qp, sp, tmp_path / "out", "--method", "wrtds", "--bootstrap", 0),
                    tmp_path, "WRTDS: 74 usable sample(s) (74 uncensored) of 74",
                    "min_obs=100 (min_uncen=50)", "--min-obs 54 --min-uncen 50",
                    "Python: min_obs=54, min_uncen=50", "run TOML: min_obs = 54")
    assert "--method loadest or rating" in line
    # the suggestion (max(74 - 20, 74 // 2) = 54) runs
    out = tmp_path / "out"
    _ok(_run(qp, sp, out, "--method", "wrtds", "--bootstrap", 0, "--min-obs", 54,
             "--min-uncen", 50))
    assert json.loads((out / "model.json").read_text())["model"]["n_samples_used"] == 74


def test_wrtds_min_obs_equal_to_the_sample_count_is_refused_before_fitting():
    # bad input 30: min_obs = n leaves the leave-one-out fits one sample short (and the
    # surface could not reach it: 'windows could not be widened' before)
    daily = pd.DataFrame({"discharge_m3s": _q()}, index=DAYS.rename("date"))
    smp = pd.DataFrame({"date": DAYS[::10], "conc_mg_L": _conc(74), "censored": False})
    with pytest.raises(DataError, match=r"74 usable sample\(s\).*min_obs=74.*min_obs=54"):
        estimate_wrtds(daily, smp, min_obs=74, min_uncen=30, bootstrap=0)


def test_min_obs_is_a_wrtds_option_only(tmp_path):
    # bad input 19: --min-obs with --method loadest is a usage error (exit 2)
    qp, sp = _write(tmp_path, _q_frame(), _s_frame())
    r = _run(qp, sp, tmp_path / "out", "--min-obs", 50)
    assert r.exit_code == 2 and "--min-obs applies to --method wrtds only" in r.output
    _nothing_left(tmp_path)
    r = _run(qp, sp, tmp_path / "out", "--method", "wrtds", "--min-obs", 0)
    assert r.exit_code == 2
    _nothing_left(tmp_path)


# --------------------------------------------------------------------------- more inputs


def test_discharge_with_every_value_missing(tmp_path):
    # bad input 21: a discharge column of empty cells
    qp, sp = _write(tmp_path, _q_frame(np.full(len(DAYS), np.nan)), _s_frame())
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "q.csv",
             "no usable discharge value in column 'Q (m3/s)' (all 731 cells empty)",
             "--q-column")


def test_discharge_of_text_only(tmp_path):
    # bad input 27: a discharge column of text
    qp, sp = _write(tmp_path, _q_frame(["dry"] * len(DAYS)), _s_frame())
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path,
             "(all 731 cells not numeric, e.g. 'dry')")


def test_discharge_unit_in_the_header_contradicting_q_unit(tmp_path):
    # bad input 22: 'Q (m3/s)' with --q-unit L/s
    qp, sp = _write(tmp_path, _q_frame(), _s_frame())
    _refused(_run(qp, sp, tmp_path / "out", "--q-unit", "L/s"), tmp_path, "q.csv",
             "column 'Q (m3/s)' states m3/s in its header", "(--q-unit) says 'L/s'",
             "leave --q-unit out or correct the header")
    with pytest.raises(UnitError, match=r"states l/s in its header but q_unit= \(--q-unit\) "
                                        r"says 'cfs'"):
        read_discharge(_q_frame(header="discharge (L/s)"), q_unit="cfs")


def test_negative_discharge_is_flagged_with_a_warning_and_all_negative_refused(tmp_path):
    # bad input 23: two negative values (flagged, interpolated, warned); bad input 5:
    # every value negative (refused)
    q = _q()
    q[[100, 300]] = -2.5
    qp, sp = _write(tmp_path, _q_frame(q), _s_frame())
    out = tmp_path / "out"
    text = _ok(_run(qp, sp, out, "--method", "direct"))
    assert ("2 discharge value(s) left out of the daily means and flagged (2 negative_value; "
            "first line 102 (data row 101): '-2.5')") in text
    daily = pd.read_csv(out / "daily.csv").set_index("date")
    assert daily.loc["2019-04-11", "discharge_qa_flags"] == "negative_value;interpolated"
    # linear in time between its neighbours, days 99 and 101
    assert daily.loc["2019-04-11", "discharge_m3s"] == pytest.approx(
        0.5 * (np.exp(np.sin(99 / 20)) + np.exp(np.sin(101 / 20))), rel=1e-12)
    base = tmp_path / "all_negative"
    base.mkdir()
    qp, sp = _write(base, _q_frame(-np.ones(len(DAYS))), _s_frame())
    _refused(_run(qp, sp, base / "out"), base, "(all 731 cells negative, e.g. '-1.0')")


def test_samples_entirely_outside_the_discharge_record_give_both_ranges(tmp_path):
    # bad input 24: samples of 2015, discharge of 2019-2020
    qp, sp = _write(tmp_path, _q_frame(),
                    _s_frame(pd.date_range("2015-01-01", periods=20, freq="7D")))
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "s.csv",
             "none of the 20 samples (2015-01-01..2015-05-14)",
             "discharge record (2019-01-01..2020-12-31)")


def test_sample_rows_without_a_date_are_flagged_kept_and_left_out(tmp_path):
    # bad input 31: a blank row (',') and a value without a date (',260') among the samples:
    # it crashed formatting the NaT date range of the samples outside the record
    lines = _s_frame().to_csv(index=False).splitlines()
    qp, sp = _write(tmp_path, _q_frame(), "\n".join([*lines[:4], ",", ",260", *lines[4:]]))
    out = tmp_path / "out"
    text = _ok(_run(qp, sp, out))
    assert "2 sample(s) have no usable hco3 value" in text
    assert "outside the discharge record" not in text
    smp = _samples_csv(out)
    assert len(smp) == 76  # the 74 dated samples and the 2 rows without a date, kept
    dateless = smp["date"] == ""
    # codes in the rule book's order (karstsink.qa.join), as every stage writes them
    assert sorted(smp.loc[dateless, "qa_flags"]) == ["bad_date", "bad_date;missing_value:hco3"]
    assert not smp.loc[dateless, ["used", "in_record"]].to_numpy().any()
    assert smp.loc[~dateless, "used"].all()
    # the same fit as the file without those rows (a reference run on the clean file)
    clean = tmp_path / "clean"
    clean.mkdir()
    _ok(_run(qp, _write(clean, _q_frame(), _s_frame())[1], clean / "out"))
    pd.testing.assert_frame_equal(pd.read_csv(out / "total.csv"),
                                  pd.read_csv(clean / "out" / "total.csv"))
    # the public function: a dateless row is flagged bad_date, not outside_discharge_record
    fs = pd.DataFrame({"date": pd.to_datetime(["2019-01-05", None]), "conc_mg_L": [250.0, 260.0],
                       "censored": False, "qa_flags": ""})
    paired = pair_with_discharge(fs, read_discharge(qp))
    assert paired["qa_flags"].tolist() == ["", "bad_date"]
    assert paired["in_record"].tolist() == [True, False]
    with pytest.raises(DataError, match=r"none of the 1 samples \(none has a date\)"):
        pair_with_discharge(fs.iloc[1:], read_discharge(qp))


@pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")
def test_duplicate_sample_dates_copies_left_out_replicates_kept(tmp_path):
    # bad input 25: rows 0-2 copied (same date and value), rows 3-4 repeated with other values
    s = _s_frame()
    again = pd.concat([s.iloc[:3], s.iloc[3:5].assign(hco3=300.0)])
    s = pd.concat([s, again], ignore_index=True)
    qp, sp = _write(tmp_path, _q_frame(), s)
    out = tmp_path / "out"
    text = _ok(_run(qp, sp, out))
    assert ("of 79 sample(s), 3 repeat an earlier row's date and value (flagged "
            "'duplicate_sample' and left out) and 4 share their date") in text
    smp = _samples_csv(out)
    assert len(smp) == 79
    copies = smp["qa_flags"] == "duplicate_sample"
    same_day = smp["qa_flags"] == "duplicate_sample_date"
    assert copies.sum() == 3 and same_day.sum() == 4
    assert not smp.loc[copies, "used"].any() and smp.loc[same_day, "used"].all()
    assert smp["used"].sum() == 76  # 74 + the 2 different values
    # WRTDS leaves the copies out too
    with pytest.warns(DataQualityWarning, match="3 repeat an earlier row"):
        fs = read_flux_samples(sp, "hco3", units="mg/L")
    daily = pd.DataFrame({"discharge_m3s": _q()}, index=DAYS.rename("date"))
    with pytest.warns(DataQualityWarning, match=r"3 of 79 sample\(s\) cannot be used "
                                                r"\(3 duplicate_sample"):
        est = estimate_wrtds(daily, fs, min_obs=40, min_uncen=20, bootstrap=0,
                             cross_validate=False)
    assert est.model["n_samples_used"] == 76


def test_a_constituent_column_of_text_only(tmp_path):
    # bad input 26: the hco3 column exists but every cell is text
    qp, sp = _write(tmp_path, _q_frame(), _s_frame(values=["see lab sheet"] * 74))
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "s.csv",
             "no usable hco3 value in column 'hco3' (all 74 cells not numeric, e.g. "
             "'see lab sheet')", "--constituent")


def test_constant_discharge_with_loadest_is_one_line(tmp_path):
    # bad input 28: a constant discharge: no LOADEST model can separate ln Q from the
    # intercept
    qp, sp = _write(tmp_path, _q_frame(np.ones(len(DAYS))), _s_frame())
    _refused(_run(qp, sp, tmp_path / "out"), tmp_path, "discharge that does not vary")


@pytest.mark.filterwarnings(
    "ignore:.*above the largest sampled discharge:karstsink.exceptions.DataQualityWarning")
def test_rating_on_dry_days_gives_no_runtime_warning():
    # bad input 29: the rating curve's daily SE on Q = 0 was 0 * inf = NaN (RuntimeWarning)
    q = _zero_days_q()
    daily = pd.DataFrame({"discharge_m3s": q}, index=DAYS.rename("date"))
    smp = pd.DataFrame({"date": DAYS[5::10], "conc_mg_L": _conc(73), "censored": False})
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # the subject; the extrapolation
        est = estimate(daily, smp, method="rating")  # warning is checked elsewhere
    d = est.daily[q == 0]
    assert (d[["flux_kg_day", "flux_se_kg_day", "flux_lo95_kg_day",
               "flux_hi95_kg_day"]] == 0).all().all()


# --------------------------------------------------------------------------- property


_CELLS = st.one_of(
    st.floats(1.0, 500.0).map(lambda v: f"{v:.3f}"),      # a number: usable
    st.sampled_from(["", "n.d.", "abc", "-5", "<0.5"]),   # empty, text, negative, censored
)


@settings(max_examples=40, deadline=None)
@given(st.lists(_CELLS, min_size=1, max_size=25))
def test_any_mix_of_good_and_bad_rows_keeps_every_row_in_date_order(cells):
    good = [c for c in cells if c and c[0].isdigit()] + [c for c in cells if c == "<0.5"]
    dates = pd.date_range("2019-03-01", periods=len(cells), freq="D")
    table = pd.DataFrame({"date": dates.strftime("%Y-%m-%d")[::-1], "hco3 (mg/L)": cells})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        canonical = read_flux_table(table)
        if not good:
            with pytest.raises(DataError, match="no usable hco3 value"):
                flux_samples_from_table(canonical, "hco3")
            return
        out = flux_samples_from_table(canonical, "hco3")
    assert len(out) == len(cells)  # nothing lost
    assert out["date"].is_monotonic_increasing
    by_date = dict(zip(dates[::-1], cells, strict=True))
    for _, row in out.iterrows():
        cell = by_date[row["date"]]
        usable = bool(np.isfinite(row["conc_mg_L"]))
        assert usable == (cell in good), (cell, row.to_dict())
        if not usable:
            assert row["qa_flags"], cell  # every unusable row says why


@pytest.mark.parametrize("reading", ["1e-300", "1e20"])
def test_one_absurd_discharge_costs_loadest_that_day_only(tmp_path, reading):
    # The demo's Longtan record (its LOADEST model has ln Q squared) with one reading of
    # 1e-300 or 1e20 m3/s: the AMLE series overflowed, that day's flux was dropped with
    # nothing said and every day's interval came out blank
    from pathlib import Path

    demo = Path(__file__).resolve().parents[1] / "data" / "demo" / "catchments"
    lines = (demo / "longtan_discharge.csv").read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("date,")) + 1
    day = lines[first + 5].split(",")[0]
    lines[first + 5] = f"{day},{reading}"
    (tmp_path / "in").mkdir()
    qp = tmp_path / "in" / "q.csv"
    qp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["flux", "--discharge", qp, "--samples", demo / "longtan_samples.csv", "--area",
            75, "--method", "loadest", "-o", tmp_path / "out", "--no-plots"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]  # no numpy noise
    assert f"{day} ({float(reading):g} m3/s)" in r.output and "load_not_computable" in r.output
    daily = pd.read_csv(tmp_path / "out" / "daily.csv", keep_default_na=False)
    lost = (daily["estimate_flags"] == "load_not_computable").to_numpy()
    assert lost.tolist() == (daily["date"] == day).tolist() and lost.sum() == 1
    assert (daily.loc[lost, ["flux_kg_day", "flux_se_kg_day"]] == "").all().all()
    kept = daily.loc[~lost, ["flux_kg_day", "flux_se_kg_day", "flux_lo95_kg_day"]]
    assert (kept != "").all().all()


def test_a_discharge_index_with_absent_days_counts_them_missing():
    # 21 days of March 2019 absent from the index (not NaN: absent) used to give a
    # 10-day March flagged complete; they are now missing days, NaN flux
    from karstsink.flux import estimate
    from karstsink.flux.aggregate import aggregate

    q = pd.DataFrame({"discharge_m3s": 1.0}, index=pd.date_range("2018-01-01", "2020-12-31"))
    s = pd.DataFrame({"date": pd.date_range("2018-01-15", "2020-12-15", freq="15D"),
                      "conc_mg_L": 200.0, "censored": False})
    gapped = q.drop(pd.date_range("2019-03-05", "2019-03-25"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        est = estimate(gapped, s, method="direct")
        march = aggregate(est, year_start_month=1)["monthly"].query("month == '2019-03'")
    assert len(est.daily) == len(q)
    assert est.daily.loc["2019-03-05":"2019-03-25", "flux_kg_day"].isna().all()
    assert march[["n_days", "n_missing_days"]].iloc[0].tolist() == [10, 21]  # 31 - 21 = 10
    assert not march["complete"].iloc[0]


@pytest.mark.parametrize("method", ["direct", "rating", "loadest", "wrtds"])
def test_hourly_discharge_is_refused_by_every_estimator(method):
    from karstsink.flux import estimate

    q = pd.DataFrame({"discharge_m3s": 1.0},
                     index=pd.date_range("2018-01-01", "2018-03-01", freq="h"))
    s = pd.DataFrame({"date": pd.date_range("2018-01-05", "2018-02-25", freq="5D"),
                      "conc_mg_L": 200.0, "censored": False})
    with pytest.raises(DataError, match=r"times of day .* daily means"):
        estimate(q, s, method=method)


@pytest.mark.parametrize("method, option", [("loadest", {"extra_regressors": ["ec"]}),
                                            ("direct", {"proxy": "ec"})])
def test_a_day_without_its_regressor_is_flagged_not_silently_nan(method, option):
    # every 50th day's EC missing: 22 of 1096 days had a NaN flux with no flag or warning
    from karstsink.flux import estimate

    days = pd.date_range("2018-01-01", "2020-12-31")
    q = pd.DataFrame({"discharge_m3s": np.exp(np.random.default_rng(0).normal(0, .5, days.size))},
                     index=days)
    q["ec"] = np.where(np.arange(days.size) % 50 == 0, np.nan,
                       300 + 20 * np.log(q["discharge_m3s"]))
    s = pd.DataFrame({"date": pd.date_range("2018-01-15", "2020-12-15", freq="15D")})
    s["conc_mg_L"] = 200 * np.exp(np.random.default_rng(1).normal(0, .1, len(s)))
    s["censored"] = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = estimate(q, s, method=method, **option)
    assert any("22 day(s) with discharge have no" in str(w.message) for w in caught)
    flagged = est.daily["qa_flags"] == "no_value:ec"
    assert flagged.sum() == 22 and est.daily.loc[flagged, "flux_kg_day"].isna().all()
    assert est.daily.loc[~flagged, "flux_kg_day"].notna().all()


def test_samples_in_the_record_without_values_are_not_called_off_the_record():
    # every concentration NaN: the message blamed the dates ('none ... falls on a day of
    # the discharge record') when every sample was inside it
    from karstsink.flux import estimate

    q = pd.DataFrame({"discharge_m3s": 1.0}, index=pd.date_range("2018-01-01", "2020-12-31"))
    s = pd.DataFrame({"date": pd.date_range("2018-01-15", "2020-12-15", freq="15D"),
                      "conc_mg_L": np.nan, "censored": False})
    with pytest.raises(DataError, match="none of the 72 samples has a usable concentration"):
        estimate(q, s, method="direct")
