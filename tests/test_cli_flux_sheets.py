"""``karstsink flux/trend --samples-sheet/--discharge-sheet``: the worksheet of each XLSX input.

The workbooks are made here with openpyxl: a notes sheet first (what labs put there), then
two data sheets with different values, so the sheet read shows in the flux. With the direct
method and constant values the flux is known by hand: F = C Q x 86.4 [kg d⁻¹ per mg L⁻¹ x
m³ s⁻¹] (1 mg/L = 1 g/m³; 86 400 s/d; 1000 g/kg).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from karstsink.cli import main

openpyxl = pytest.importorskip("openpyxl")

DAYS = pd.date_range("2019-10-01", "2020-09-30", freq="D")


def _workbook(path, sheets):
    """``sheets``: {title: list of rows} in order (the first row of a data sheet its header)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


@pytest.fixture
def books(tmp_path):
    days = DAYS.strftime("%Y-%m-%d").tolist()
    q = _workbook(tmp_path / "q.xlsx", {
        "notes": [["gauge 17, read by hand"]],
        "Q_old": [["date", "Q (m3/s)"], *([d, 1.0] for d in days)],
        "Q": [["date", "Q (m3/s)"], *([d, 2.0] for d in days)]})
    s = _workbook(tmp_path / "s.xlsx", {
        "readme": [["lab report"]],
        "data": [["date", "HCO3- (mg/L)"], *([d, 250.0] for d in days[::30])],
        "other": [["date", "HCO3- (mg/L)"], *([d, 100.0] for d in days[::30])]})
    return q, s


def _flux(tmp_path, q, s, *args):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["flux", "--discharge", str(q), "--samples", str(s),
                                  "--area", "100", "--method", "direct", "-o", str(out),
                                  "--no-plots", "--overwrite", *args])
    return r, out


@pytest.mark.parametrize(("args", "kg_day"), [
    # the 'Q' sheet by name (Q = 2) and the samples' first sheet with a sample header
    # ('data', 250 mg/L): 250 x 2 x 86.4 = 43 200 kg/d
    (["--discharge-sheet", "Q"], 43_200.0),
    # sheet number 1 (0-based: notes, Q_old, Q) is 'Q_old' (Q = 1): 250 x 1 x 86.4 = 21 600
    (["--discharge-sheet", "1"], 21_600.0),
    # the samples sheet 'other' (100 mg/L) with Q = 2: 100 x 2 x 86.4 = 17 280 kg/d
    (["--discharge-sheet", "Q", "--samples-sheet", "other"], 17_280.0),
    # samples sheet number 1 is 'data' (0: readme): 43 200 kg/d again
    (["--discharge-sheet", "2", "--samples-sheet", "1"], 43_200.0),
])
def test_the_sheet_options_choose_the_worksheets(tmp_path, books, args, kg_day):
    r, out = _flux(tmp_path, *books, *args)
    assert r.exit_code == 0, r.output
    total = pd.read_csv(out / "total.csv")
    assert total["flux_kg_day"].iloc[0] == pytest.approx(kg_day, rel=1e-12)
    model = (out / "model.json").read_text(encoding="utf-8")
    assert f'"discharge_sheet": "{args[1]}"' in model


def test_without_the_option_the_notes_sheet_is_refused_naming_the_option(tmp_path, books):
    r, out = _flux(tmp_path, *books)
    assert r.exit_code == 1 and not out.exists()
    line = r.output.strip().splitlines()[-1]
    assert "q.xlsx" in line and "in sheet 'notes'" in line and "--discharge-sheet" in line


def test_an_unknown_sheet_lists_the_sheets(tmp_path, books):
    r, out = _flux(tmp_path, *books, "--discharge-sheet", "5")
    assert r.exit_code == 1 and not out.exists()
    assert "no sheet named '5' and no sheet number 5" in r.output
    assert "['notes', 'Q_old', 'Q']" in r.output


@pytest.mark.parametrize("command", ["flux", "trend"])
@pytest.mark.parametrize("option", ["--samples-sheet", "--discharge-sheet"])
def test_a_sheet_option_for_a_csv_is_a_usage_error(tmp_path, command, option):
    q, s = tmp_path / "q.csv", tmp_path / "s.csv"  # never read: refused first
    q.write_text("date,Q (m3/s)\n2020-01-01,1\n", encoding="utf-8")
    s.write_text("date,HCO3- (mg/L)\n2020-01-01,200\n", encoding="utf-8")
    extra = (["--area", "1"] if command == "flux"
             else ["--constituent", "hco3", "--pairs", "2019", "2020"])
    r = CliRunner().invoke(main, [command, "--discharge", str(q), "--samples", str(s),
                                  option, "1", "-o", str(tmp_path / "out"), *extra])
    assert r.exit_code == 2 and not (tmp_path / "out").exists()
    assert f"{option} chooses a worksheet of an XLSX workbook" in r.output
    assert "Traceback" not in r.output


def test_trend_reads_the_chosen_sheets(tmp_path):
    # the same SYNTHETIC record as CSV files and as sheets behind a notes sheet: the same
    # trend table (6 water years; HCO3 every 7 days, c = 200 (Q/2)^-0.1 x 1.1 from 2018 on)
    rng = np.random.default_rng(7)
    days = pd.date_range("2014-10-01", "2020-09-30", freq="D")
    q = 2.0 * np.exp(0.6 * np.sin(2 * np.pi * days.day_of_year.to_numpy() / 365.25)
                     + rng.normal(0, 0.1, days.size))
    idx = np.arange(2, days.size, 7)
    conc = (200.0 * (q[idx] / 2.0) ** -0.1 * np.where(days[idx].year >= 2018, 1.1, 1.0)
            * np.exp(rng.normal(0, 0.02, idx.size)))
    d_rows = [[d, float(v)] for d, v in zip(days.strftime("%Y-%m-%d"), q, strict=True)]
    s_rows = [[d, float(v)] for d, v in zip(days[idx].strftime("%Y-%m-%d"), conc,
                                            strict=True)]
    pd.DataFrame(d_rows, columns=["date", "Q (m3/s)"]).to_csv(tmp_path / "q.csv", index=False)
    pd.DataFrame(s_rows, columns=["date", "HCO3- (mg/L)"]).to_csv(tmp_path / "s.csv",
                                                                   index=False)
    _workbook(tmp_path / "q.xlsx", {"notes": [["x"]], "flow": [["date", "Q (m3/s)"], *d_rows]})
    _workbook(tmp_path / "s.xlsx", {"notes": [["x"]], "wrong": [["date", "HCO3- (mg/L)"],
                                                                 [d_rows[0][0], 1.0]],
                                    "chem": [["date", "HCO3- (mg/L)"], *s_rows]})
    common = ["--constituent", "hco3", "--pairs", "2016", "2019", "--kalman-iter", "0",
              "--no-plots"]
    runs = {}
    for name, files in (("csv", ["--discharge", str(tmp_path / "q.csv"), "--samples",
                                 str(tmp_path / "s.csv")]),
                        ("xlsx", ["--discharge", str(tmp_path / "q.xlsx"), "--discharge-sheet",
                                  "flow", "--samples", str(tmp_path / "s.xlsx"),
                                  "--samples-sheet", "chem"])):
        r = CliRunner().invoke(main, ["trend", *files, *common, "-o", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
        runs[name] = pd.read_csv(tmp_path / name / "pairs.csv")
    pd.testing.assert_frame_equal(runs["csv"], runs["xlsx"])


def test_a_run_reads_the_catchments_sheets_in_speciation_and_flux(tmp_path):
    # the demo's Longtan files as sheets behind a notes sheet; the run with samples_sheet /
    # discharge_sheet gives the same speciation and sink as the run on the CSV files
    from karstsink.workflows.run import run_pipeline

    demo = __import__("pathlib").Path(__file__).parents[1] / "data" / "demo" / "catchments"
    samples, discharge = (pd.read_csv(demo / f"longtan_{k}.csv", dtype=str, comment="#",
                                      keep_default_na=False) for k in ("samples", "discharge"))
    for name, table in (("s", samples), ("q", discharge)):
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        rows = [list(table.columns), *table.to_numpy().tolist()]
        # before the data: notes, and an older table with a sample header (half the HCO3),
        # which speciation would take by default (the first sheet with a sample header)
        older = ({"older": [rows[0], *([*r[:-3], str(float(r[-3]) / 2), *r[-2:]]
                                       for r in rows[1:])]} if name == "s" else {})
        _workbook(tmp_path / f"{name}.xlsx", {"notes": [["lab sheet, see readme"]], **older,
                                             "data": rows})
    base = ('[[catchments]]\nname = "longtan"\narea_km2 = 75.0\nmethod = "loadest"\n'
            'year_start = 10\nso4 = "so4"\nno3 = "no3"\n')
    sinks = {}
    for kind, files in (("csv", 'discharge = "q.csv"\nsamples = "s.csv"\n'),
                        ("xlsx", 'discharge = "q.xlsx"\nsamples = "s.xlsx"\n'
                                 'samples_sheet = "data"\ndischarge_sheet = 1\n')):
        cfg = tmp_path / f"{kind}.toml"
        cfg.write_text(base + files, encoding="utf-8")
        out = tmp_path / f"out_{kind}"
        run_pipeline(cfg, out, jobs=1)
        sinks[kind] = (pd.read_csv(out / "catchment_sinks.csv"),
                       pd.read_csv(out / "speciation" / "s.csv"))
    pd.testing.assert_frame_equal(sinks["csv"][0], sinks["xlsx"][0])
    pd.testing.assert_frame_equal(sinks["csv"][1], sinks["xlsx"][1])


def test_two_catchments_naming_two_sheets_of_one_workbook_are_refused(tmp_path, books):
    from karstsink.config import load_run_config
    from karstsink.exceptions import ConfigError

    _, s = books
    block = ('[[catchments]]\nname = "{n}"\narea_km2 = 1\ndischarge = "q.xlsx"\n'
             'samples = "s.xlsx"\nsamples_sheet = "{sh}"\n')
    cfg = tmp_path / "run.toml"
    cfg.write_text(block.format(n="a", sh="data") + block.format(n="b", sh="other"),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match=r"catchments\[1\]\.samples_sheet: another catchment "
                                          r"reads .*s\.xlsx with samples_sheet 'data'"):
        load_run_config(cfg)
    # a catchment without a sheet would read the default sheet, speciation the named one
    cfg.write_text(block.format(n="a", sh="data") + block.format(n="b", sh="x").replace(
        'samples_sheet = "x"\n', ""), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"catchments\[1\]\.samples_sheet: .*'data'"):
        load_run_config(cfg)
    cfg.write_text(block.format(n="a", sh="data") + block.format(n="b", sh="data"),
                   encoding="utf-8")  # the same sheet twice is one table
    assert load_run_config(cfg)["speciation"]["sheets"] == {str(s): "data"}


def test_a_run_refuses_a_sheet_for_a_csv_naming_the_catchment(tmp_path):
    # the run's rule is the command line's: a sheet of a file that is no workbook is refused
    from karstsink.exceptions import DataError
    from karstsink.workflows.run import run_pipeline

    (tmp_path / "q.csv").write_text("date,Q (m3/s)\n2020-01-01,1\n", encoding="utf-8")
    (tmp_path / "s.csv").write_text("date,HCO3- (mg/L)\n2020-01-01,200\n", encoding="utf-8")
    cfg = tmp_path / "run.toml"
    cfg.write_text('[[catchments]]\nname = "a"\narea_km2 = 1\ndischarge = "q.csv"\n'
                   'samples = "s.csv"\ndischarge_sheet = "Sheet1"\n'
                   '[speciation]\nsamples = []\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"catchments\[0\].*q\.csv: sheet 'Sheet1' chooses a "
                                        r"worksheet of an XLSX workbook"):
        run_pipeline(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()
