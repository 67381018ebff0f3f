"""Issue 11: flux samples go through the one sample reader (header units, NO3-N, dates).

Hand calculations use the IUPAC 2021 conventional atomic weights (H 1.008, C 12.011,
N 14.007, O 15.999, S 32.06, Ca 40.078): M(HCO3-) = 61.017, M(SO4 2-) = 96.06 (96.056),
M(NO3-) = 62.004, M(CaCO3) = 100.087 g/mol, and the Julian year 3.15576e7 s.

The worked example (carbonate-weathering sink with sulfuric and nitric acid corrections,
Zeng, Liu & Kaufmann 2019, doi:10.1038/s41467-019-13772-4, with the acid correction
HCO3_carbonic = HCO3 - 2 SO4 - NO3): Q = 1 m3/s over 100 km2, HCO3 250, SO4 30, NO3 10 mg/L:

    HCO3 = 250 / 61.017                 = 4.09722 mmol/L
    SO4  = 30 / 96.06                   = 0.312305 mmol/L
    NO3  = 10 / 62.004                  = 0.161280 mmol/L
    HCO3_carbonic = 4.09722 - 2 x 0.312305 - 0.161280 = 3.31133 mmol/L
    runoff R = 1 m3/s x 3.15576e7 s / 1e8 m2   = 0.315576 m/yr
    sink = 0.5 x 12.011 g/mol x 0.315576 m/yr x 3.31133 mol/m3 = 6.2756 g C m-2 yr-1
         = 6.276 t C km-2 yr-1
    (no correction: 0.5 x 12.011 x 0.315576 x 4.09722 = 7.7650 t C km-2 yr-1)

The same nitrate as N: 10 mg/L NO3 x 14.007 / 62.004 = 2.259048 mg/L NO3-N.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import REFERENCE_DIR
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.cli import main
from karstsink.exceptions import DataError, DataQualityWarning, UnitError
from karstsink.flux import METHODS
from karstsink.io.flux_samples import flux_samples_from_table, read_flux_samples, read_flux_table

NO3_AS_N = 10.0 * 14.007 / 62.004  # 2.259048 mg/L NO3-N = 10 mg/L NO3-
SHARES = ["--acid-so4-share", 1, "--acid-no3-share", 1, "--evaporite-so4-share", 0]


def _discharge(tmp_path, start="2018-10-01", end="2021-09-30"):
    days = pd.date_range(start, end, freq="D")
    qp = tmp_path / "q.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0}).to_csv(qp, index=False)
    return qp, days


def _run(args):
    return CliRunner().invoke(main, ["flux", *map(str, args)], catch_exceptions=False)


def _total_sink(out):
    sink = pd.read_csv(out / "sink.csv")
    return sink, float(sink.loc[sink["period"] == "total", "sink_t_c_km2_yr"].iloc[0])


NITRATE_FORMS = [
    # header row and cells of one sample, --units; all mean 10 mg/L of NO3-
    ({"hco3": 250.0, "so4": 30.0, "no3": 10.0}, ["--units", "mg/L"]),
    ({"HCO3- (mg/L)": 250.0, "SO42- (mg/L)": 30.0, "NO3- (mg/L)": 10.0}, []),
    ({"HCO3- (mg/L)": 250.0, "SO42- (mg/L)": 30.0, "NO3-N (mg/L)": NO3_AS_N}, []),
    ({"HCO3- (mg/L)": 250.0, "SO42- (mg/L)": 30.0, "NO3 (mg/L as N)": NO3_AS_N}, []),
    ({"hco3": 250.0, "so4": 30.0, "NO3-N": NO3_AS_N}, ["--units", "mg/L"]),
    # SO4-S: 30 mg/L SO4 x 32.06 / 96.06 = 10.0125 mg/L as S; HCO3 in mmol/L 4.09722
    ({"HCO3- (mmol/L)": 250.0 / 61.017, "SO4-S (mg/L)": 30.0 * 32.06 / 96.06,
      "NO3-N (mg/L)": NO3_AS_N}, []),
]


@pytest.mark.parametrize(("columns", "options"), NITRATE_FORMS)
def test_worked_example_gives_6_276_whatever_the_nitrate_and_unit_spelling(
        tmp_path, columns, options):
    qp, days = _discharge(tmp_path)
    sd = days[::30]
    sp = tmp_path / "s.csv"
    pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), **{k: [v] * len(sd)
                                                       for k, v in columns.items()}}).to_csv(
        sp, index=False)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "--so4", "so4", "--no3", "no3", *SHARES, *options, "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    sink, total = _total_sink(out)
    assert round(total, 3) == 6.276
    assert (sink["sink_t_c_km2_yr"].round(3) == 6.276).all()  # every water year too
    # the NO3 flux is of NO3- itself: 1 m3/s x 10 g/m3 x 86.4 = 864 kg/d
    no3 = pd.read_csv(out / "annual_no3.csv")
    np.testing.assert_allclose(no3["flux_kg_day"], 864.0, rtol=1e-9)


def test_mmol_header_gives_the_mg_sink_and_a_contradicting_units_is_refused(tmp_path):
    qp, days = _discharge(tmp_path)
    sd = days[::30]
    sp = tmp_path / "s.csv"
    # 4.0972 mmol/L HCO3-: 0.5 x 12.011 x 0.315576 x 4.0972 = 7.7650 t C km-2 yr-1
    pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), "HCO3- (mmol/L)": 4.0972}).to_csv(
        sp, index=False)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    assert round(_total_sink(out)[1], 3) == 7.765
    bad = tmp_path / "bad"
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "--units", "mg/L", "-o", bad, "--no-plots"])
    assert r.exit_code == 1
    lines = [ln for ln in r.output.splitlines() if "HCO3- (mmol/L)" in ln]
    assert len(lines) == 1 and "'mmol/L'" in lines[0] and "'mg/L'" in lines[0], r.output
    assert "Traceback" not in r.output and not bad.exists()


def test_day_first_dates_are_read_and_an_ambiguous_column_needs_date_format(tmp_path):
    qp, _days = _discharge(tmp_path, "2019-01-01", "2020-12-31")
    # day first: '13/10/2019' can only be 13 October, so '03/11/2019' is 3 November
    dates = ["13/10/2019", "03/11/2019", "05/12/2019", "20/01/2020"]
    sp = tmp_path / "s.csv"
    pd.DataFrame({"date": dates, "HCO3- (mg/L)": 250.0}).to_csv(sp, index=False)
    out = tmp_path / "out"
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "-o", out, "--no-plots"])
    assert r.exit_code == 0, r.output
    smp = pd.read_csv(out / "samples.csv")
    assert smp["date"].tolist() == ["2019-10-13", "2019-11-03", "2019-12-05", "2020-01-20"]

    # every day <= 12: 03/11/2019 is 3 November or 11 March; refused without --date-format
    pd.DataFrame({"date": ["03/11/2019", "05/12/2019", "10/01/2020"],
                  "HCO3- (mg/L)": 250.0}).to_csv(sp, index=False)
    bad = tmp_path / "bad"
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "-o", bad, "--no-plots"])
    assert r.exit_code == 1 and not bad.exists()
    line = [ln for ln in r.output.splitlines() if "--date-format" in ln]
    assert len(line) == 1 and "s.csv" in line[0] and "'date'" in line[0], r.output
    assert "'03/11/2019'" in line[0]
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "--date-format", "%d/%m/%Y", "-o", out / "b", "--no-plots"])
    assert r.exit_code == 0, r.output
    smp = pd.read_csv(out / "b" / "samples.csv")
    assert smp["date"].tolist() == ["2019-11-03", "2019-12-05", "2020-01-10"]
    r = _run(["--discharge", qp, "--samples", sp, "--area", 100, "--method", "direct",
              "--date-format", "%m/%d/%Y", "-o", out / "c", "--no-plots"])
    assert r.exit_code == 0, r.output
    smp = pd.read_csv(out / "c" / "samples.csv")  # month first: 11 March, 12 May, 1 October
    assert smp["date"].tolist() == ["2019-03-11", "2019-05-12", "2020-10-01"]


def test_run_flux_reads_the_samples_file_once(tmp_path, monkeypatch):
    import karstsink.io.samples as samples
    from karstsink.workflows import run_flux

    qp, days = _discharge(tmp_path)
    sp = tmp_path / "s.csv"
    sd = days[::30]
    pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), "HCO3- (mg/L)": 250.0, "SO4 (mg/L)": 30.0,
                  "NO3-N (mg/L)": NO3_AS_N, "TOC (mg/L)": 2.0}).to_csv(sp, index=False)
    calls = []
    real = samples._read

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(samples, "_read", counting)
    run = run_flux(qp, sp, area_km2=100, method="direct", so4="so4", no3="no3", toc="toc",
                   acid_so4_share=1.0, acid_no3_share=1.0, evaporite_so4_share=0.0,
                   bcp_share=0.0)
    assert len(calls) == 1
    assert set(run.companions) == {"so4", "no3", "toc"}
    # TOC flux in kg C: 1 m3/s x 2 g C/m3 x 86.4 = 172.8 kg C/d
    np.testing.assert_allclose(run.companion_tables["toc"]["annual"]["flux_kg_day"], 172.8,
                               rtol=1e-9)


def test_flux_help_lists_the_one_method_list_and_the_unit_rule():
    r = CliRunner().invoke(main, ["flux", "--help"], terminal_width=200)
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    for m in METHODS:
        assert m in text
    assert "--date-format" in text
    assert "whose header states no unit" in text and "contradicts --units is an error" in text
    r = CliRunner().invoke(main, ["speciate", "--help"], terminal_width=200)
    assert "--date-format" in r.output


# ---------------------------------------------------------------------------
# read_flux_samples through the canonical table
# ---------------------------------------------------------------------------


def _one(header, cell, constituent, **kwargs):
    df = pd.DataFrame({"date": ["2020-01-01"], header: [cell]}, dtype="str")
    return read_flux_samples(df, constituent, **kwargs)["conc_mg_L"].iloc[0]


@pytest.mark.parametrize(("header", "cell", "constituent", "units", "expected"), [
    ("NO3-N (mg/L)", repr(NO3_AS_N), "no3", None, 10.0),  # x 62.004 / 14.007
    ("硝酸盐氮(mg/L)", "14.007", "no3", None, 62.004),  # 1 mmol/L NO3-
    ("SO4-S (mg/L)", "32.06", "so4", None, 96.06),  # one S per SO4
    ("SO4 (mmol/L)", "1.0", "so4", None, 96.06),
    ("SO4 (meq/L)", "2.0", "so4", None, 96.06),  # 2 meq / charge 2 = 1 mmol
    # 100.087 mg/L as CaCO3 = 2 meq/L = 2 mmol/L HCO3- = 122.034 mg/L
    ("Alk (mg/L as CaCO3)", "100.087", "alkalinity", None, 122.034),
    ("Alk (mg/L as CaCO3)", "100.087", "hco3", None, 122.034),
    ("总碱度(mmol/L)", "2.0", "alk", None, 122.034),
    ("Ca2+ (meq/L)", "2.0", "ca", None, 40.078),
    ("NO3-N", "14.007", "no3", "mg/L", 62.004),  # units fills; the name says 'as N'
    ("TOC (mmol/L)", "1.0", "toc", None, 12.011),  # mg C/L
    ("DOC", "2.5", "doc", "mg/L", 2.5),
])
def test_every_header_form_of_the_sample_reader_works_for_fluxes(header, cell, constituent,
                                                                   units, expected):
    assert _one(header, cell, constituent, units=units) == pytest.approx(expected, rel=1e-9)


def test_units_do_not_override_a_header():
    with pytest.raises(UnitError, match=r"'HCO3- \(mmol/L\)'.*'mmol/L'.*'mg/L'"):
        _one("HCO3- (mmol/L)", "4.0", "hco3", units="mg/L")
    # 'mg/L as N' cannot describe HCO3: refused rather than read 61.017/14.007 = 4.4 x high
    with pytest.raises(UnitError, match="does not apply"):
        _one("hco3", "250", "hco3", units="mg/L as N")
    # agreeing spellings are fine: alkalinity in mg/L is as CaCO3 anyway
    assert _one("Alk (mg/L as CaCO3)", "100.087", "alk", units="mg/L") == pytest.approx(
        122.034, rel=1e-9)


def test_unknown_constituent_column_uses_the_same_cell_parser_and_unit_parser():
    df = pd.DataFrame({"date": ["2020-01-01", "2020-01-02", "2020-01-03"],
                       "phosphorus (µg/L)": ["<5", "12,5", "n.d."]})
    with pytest.warns(Warning, match="1 sample"):
        s = read_flux_samples(df, "phosphorus (µg/L)")
    # '<5' censored at 5 µg/L = 0.005 mg/L; '12,5' decimal comma = 0.0125 mg/L
    np.testing.assert_allclose(s["conc_mg_L"].iloc[:2], [0.005, 0.0125], rtol=1e-12)
    assert s["censored"].tolist() == [True, False, False]
    assert s["qa_flags"].tolist()[2] == "missing_value:phosphorus (µg/l)"
    with pytest.raises(UnitError, match="no molar mass"):
        read_flux_samples(pd.DataFrame({"date": ["2020-01-01"], "phosphorus (mmol/L)": ["1"]}),
                          "phosphorus (mmol/L)")


def test_egret_reference_file_with_comment_lines():
    """The '# source' lines of the reference file are skipped; the file's own comment says
    108 samples, 44 censored (LOADEST application 7 nitrate)."""
    path = REFERENCE_DIR / "egret" / "app7_sample_nitrate.csv"
    with pytest.warns(DataQualityWarning, match="'value'.*taken as no3"):
        s = read_flux_samples(path, "no3", units="mg/L")
    assert len(s) == 108 and int(s["censored"].sum()) == 44
    assert s.attrs["value_column"] == "value"


def test_companion_columns_are_checked_and_never_take_the_value_column(tmp_path):
    table = read_flux_table(pd.DataFrame({"date": ["2020-01-01"], "Ca (mg/L)": ["80"],
                                          "value": ["1"]}), units="mg/L")
    with pytest.raises(DataError, match="holds ca, not so4"):
        flux_samples_from_table(table, "Ca (mg/L)", species="so4")
    # a companion's missing column is named as the sink's SO4, not as "the constituent"
    with pytest.raises(Exception, match="no column 'so4' for the SO4 flux of the sink"):
        flux_samples_from_table(table, "so4", species="so4")
    with pytest.raises(Exception, match="no column 'XYZ' for the SO4 flux of the sink"):
        flux_samples_from_table(table, "XYZ", species="so4")
    with pytest.raises(Exception, match="no column 'XYZ' for the constituent"):
        flux_samples_from_table(table.drop(columns="value"), "XYZ")


def test_unreadable_date_names_file_line_and_cell(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("# lab export\nDate,HCO3 (mg/L)\n2020-01-01,250\n\n2020-01-0x,251\n",
                 encoding="utf-8")
    # line 5 of the file (a comment line, the header, a sample and a blank line above it)
    with pytest.raises(DataError, match=r"s\.csv: line 5 \(data row 2\), column 'Date'.*"
                                        r"'2020-01-0x'"):
        read_flux_samples(p, "hco3")


# ---------------------------------------------------------------------------
# any spelling of a unit reads the same amount
# ---------------------------------------------------------------------------

# species: molar mass [g/mol] and charge (IUPAC 2021 weights, see the module docstring)
SPECIES = {"ca": ("Ca2+", 40.078, 2), "so4": ("SO4", 96.06, 2), "no3": ("NO3-", 62.004, 1),
           "hco3": ("HCO3-", 61.017, 1)}
# unit spelling -> number written for 1 mmol/L of a species of molar mass M and charge z
SPELLINGS = {
    "mg/L": lambda m, z: m, "mg L-1": lambda m, z: m, "mg·L⁻¹": lambda m, z: m,
    "mgL": lambda m, z: m, "ppm": lambda m, z: m, "mg/l": lambda m, z: m,
    "µg/L": lambda m, z: 1000 * m, "ug/L": lambda m, z: 1000 * m, "ppb": lambda m, z: 1000 * m,
    "mmol/L": lambda m, z: 1.0, "mmol L-1": lambda m, z: 1.0, "µmol/L": lambda m, z: 1000.0,
    "umol/L": lambda m, z: 1000.0, "meq/L": lambda m, z: float(z),
    "µeq/L": lambda m, z: 1000.0 * z,
}


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(sorted(SPECIES)), spelling=st.sampled_from(sorted(SPELLINGS)),
       mmol=st.floats(0.001, 50.0), in_header=st.booleans())
def test_any_accepted_unit_spelling_round_trips_to_the_same_mmol(key, spelling, mmol,
                                                                  in_header):
    name, molar_mass, charge = SPECIES[key]
    cell = repr(mmol * SPELLINGS[spelling](molar_mass, charge))
    header = f"{name} ({spelling})" if in_header else name
    df = pd.DataFrame({"date": ["2020-01-01"], header: [cell]})
    s = read_flux_samples(df, key, units=None if in_header else spelling)
    assert s["conc_mg_L"].iloc[0] / molar_mass == pytest.approx(mmol, rel=1e-9)


def test_conc_mg_l_is_the_value_as_written():
    # 218.1 mg/L HCO3 goes to mmol/L through the one samples reader and back: the flux
    # samples table holds 218.1 itself, not 218.10000000000002
    assert _one("HCO3 (mg/L)", "218.1", "hco3") == 218.1
    assert _one("Ca (mg/L)", "57.3", "ca") == 57.3


def test_a_plain_frame_with_text_dates_goes_through_the_one_date_parser():
    # a DataFrame built in Python (not read by read_samples) with day-first text dates:
    # pandas's own guess read 03/04/2020 as 4 March and dropped 13/04/2020 and 2020-05-01
    # as bad dates; the one parser decides the order from the column (13 > 12: day first)
    from karstsink.io.flux_samples import flux_samples_from_table

    df = pd.DataFrame({"date": ["03/04/2020", "13/04/2020", "2020-05-01"],
                       "hco3": [200.0, 210.0, 220.0]})
    out = flux_samples_from_table(df, "hco3", units="mg/L")
    assert out["date"].dt.strftime("%Y-%m-%d").tolist() == ["2020-04-03", "2020-04-13",
                                                            "2020-05-01"]
    bad = pd.DataFrame({"date": ["2020-04-03", "not a date"], "hco3": [200.0, 210.0]})
    with pytest.raises(DataError, match=r"column 'date': cannot read the date 'not a date'"):
        flux_samples_from_table(bad, "hco3", units="mg/L")
