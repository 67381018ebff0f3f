"""``karstsink.speciate``: published reference rows, an independent raw PHREEQC run,
flags, order, metadata, sentinels.

Reference numbers: ``data/reference/phreeqc_speciation_2024.csv`` (science.md 2.2, the
2024 phreeqc.dat with PHREEQC 3.8.6, tolerances from the printed precision) and plain
PHREEQC runs of hand-written input in this file (same database and version).
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd
import phreeqc
import pytest
from conftest import read_reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import karstsink
from karstsink.chemistry.speciation import speciate
from karstsink.exceptions import DataError, DataQualityWarning, SpeciationError
from karstsink.units import to_mmol_per_l

RESULTS = ["si_calcite", "si_dolomite", "si_gypsum", "log_pco2", "dic_mmol_kgw",
           "hco3_mmol_kgw", "co3_mmol_kgw", "co2aq_mmol_kgw", "ionic_strength", "cbe_pct"]
DIAGNOSTICS = ["ca_mg_hco3_molar", "ca_mg_hco3_so4_eq", "hco3_carbonic_mmol_l"]


def canonical(rows: list[dict]) -> pd.DataFrame:
    """A canonical table built by hand (what karstsink.samples produces), mmol/L."""
    base = {"sample_id": "", "temp_c": 15.0, "ph": 7.4, "ca_mmol_l": 2.0, "mg_mmol_l": 0.25,
            "na_mmol_l": 0.13, "k_mmol_l": 0.026, "cl_mmol_l": 0.14, "so4_mmol_l": 0.25,
            "no3_mmol_l": 0.16, "hco3_mmol_l": 4.1, "qa_flags": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


def from_mg_l(row) -> dict:
    c = to_mmol_per_l
    out = {"sample_id": row.case, "temp_c": float(row.temp_c), "ph": float(row.ph),
           "ca_mmol_l": float(c(row.ca_mg_l, "ca", "mg/L")),
           "mg_mmol_l": float(c(row.mg_mg_l, "mg", "mg/L")),
           "na_mmol_l": float(c(row.na_mg_l, "na", "mg/L")),
           "k_mmol_l": float(c(row.k_mg_l, "k", "mg/L")),
           "cl_mmol_l": float(c(row.cl_mg_l, "cl", "mg/L")),
           "so4_mmol_l": float(c(row.so4_mg_l, "so4", "mg/L")),
           "no3_mmol_l": float(c(row.no3_n_mg_l, "no3", "mg/L as N")),
           "hco3_mmol_l": float(c(row.hco3_mg_l, "hco3", "mg/L"))}
    return out


# --------------------------------------------------------------------------------------
# published reference values (science.md 2.2)
# --------------------------------------------------------------------------------------


def test_science_md_reference_rows_2024_phreeqc_dat():
    ref = read_reference("phreeqc_speciation_2024.csv")
    table = canonical([from_mg_l(r) for r in ref.itertuples()])
    with pytest.warns(DataQualityWarning, match="1 row.s. acid_ion_missing"):
        out = speciate(table, jobs=1)  # row 2 has no NO3: no acid correction, flagged
    assert out.attrs["karstsink"]["speciation"]["database"]["name"] == "phreeqc.dat"
    # printed to 3 decimals -> half a unit of the last digit
    for col in ["si_calcite", "si_dolomite", "si_gypsum", "log_pco2", "dic_mmol_kgw",
                "hco3_mmol_kgw", "co2aq_mmol_kgw"]:
        assert_allclose(out[col], ref[col], atol=5e-4, rtol=0, err_msg=col)
    assert_allclose(out["ionic_strength"], ref["ionic_strength"], atol=5e-6, rtol=0)
    assert out["qa_flags"].tolist() == ["", "acid_ion_missing", ""]


def test_alkalinity_in_mmol_per_l_is_read_as_meq_per_l():
    # PHREEQC 3.8.6, phreeqc.dat: "Alkalinity 250 as HCO3" in mg/l against 250/61.017 in
    # mmol/l. Both must give the same total alkalinity (eq/kgw) and DIC. They differ only
    # in PHREEQC's bookkeeping of dissolved-solid mass (subtracted to get kg of water):
    # alkalinity given in mmol/l is weighed at 50.05 g/eq, "as HCO3" at 61.02 g/eq, a
    # difference of 4.1 meq/L x 11 g/eq = 45 mg per litre, i.e. at most 4.5e-5 relative.
    p = phreeqc.Phreeqc()
    p.LoadBuiltInDatabase("phreeqc.dat")
    so = ("SELECTED_OUTPUT 1\n -reset false\n -high_precision true\n -totals Alkalinity C(4)\n"
          "END\n")
    alk = 250 / 61.017
    p.RunString("SOLUTION 1\n units mg/l\n temp 16\n pH 7.4\n Ca 80\n"
                " Alkalinity 250 as HCO3\n"
                f"SOLUTION 2\n units mmol/l\n temp 16\n pH 7.4\n Ca {80 / 40.08!r}\n"
                f" Alkalinity {alk!r}\n" + so)
    out = p.GetSelectedOutput()
    alk_mg, alk_mmol = out["Alkalinity(mol/kgw)"]
    assert_allclose(alk_mmol, alk_mg, rtol=5e-5)
    assert_allclose(out["C(4)(mol/kgw)"][1], out["C(4)(mol/kgw)"][0], rtol=5e-5)
    # and it is meq/L, not mmol/L of CO3 (which would double it): ~4.097e-3 eq/kgw
    assert_allclose(alk_mmol, 4.097e-3, rtol=2e-3)


# --------------------------------------------------------------------------------------
# an independent raw PHREEQC run against speciate on a messy field CSV
# --------------------------------------------------------------------------------------

MESSY_CSV = (
    "Sample ID,采样点,Date,T (°C),pH,Ca2+ (mg/L),Mg2+ (mg/L),Na+ (mg/L),K+ (mg/L),"
    "Cl- (mg/L),SO42- (mg/L),NO3-N (mg/L),HCO3- (mg/L),Notes\n"
) + """\
GZ-01,普定 陈旗泉,2023-05-01,16.2,7.42,80.1,6.2,3.1,1.0,5.2,24.3,2.26,251,"spring, after rain"
GZ-02,板寨 地下河,2023-05-02,15.1,7.61,55.3,28.1,2.0,<0.05,3.1,10.2,0.5,300.5,
GZ-03,后寨,2023-05-03,18.0,7.90,60.2,12.3,8.0,2.0,8.1,40.4,3.0,170.2,"river; H2SO4, mining"
GZ-04,后寨,2023-05-04,,7.5,61,12,8,2,8,40,3,171,no temperature
GZ-05,后寨,2023-05-05,17.5,n.d.,61,12,8,2,8,40,3,171,pH meter broken
GZ-06,茂兰,2023-05-06,14.0,7.3,-5,4,2,1,3,10,1,200,negative Ca typo
GZ-07,茂兰,2023-05-07,14.0,7.3,70,abc,2,1,3,10,1,230,text in Mg
GZ-08,茂兰,2023-05-08,14.5,7.15,75,5,2,1,3,,,240,no SO4 or NO3
GZ-09,茂兰,2023-05-09,14.5,15.2,75,5,2,1,3,12,1,240,impossible pH
GZ-10,青木关,2023-05-10,12.0,7.05,110,10,4,1.5,6,30,4,240,"Ca high, CBE"
"""

# The same samples as a PHREEQC user would type them (mg/l, NO3 as N, SO4 as SO4,
# alkalinity as HCO3; the K of GZ-02 "<0.05" entered as half the detection limit).
RAW_INPUT = """\
SOLUTION 1 GZ-01
    units mg/l; temp 16.2; pH 7.42
    Ca 80.1; Mg 6.2; Na 3.1; K 1.0; Cl 5.2; S(6) 24.3; N(5) 2.26
    Alkalinity 251 as HCO3
SOLUTION 2 GZ-02
    units mg/l; temp 15.1; pH 7.61
    Ca 55.3; Mg 28.1; Na 2.0; K 0.025; Cl 3.1; S(6) 10.2; N(5) 0.5
    Alkalinity 300.5 as HCO3
SOLUTION 3 GZ-03
    units mg/l; temp 18.0; pH 7.90
    Ca 60.2; Mg 12.3; Na 8.0; K 2.0; Cl 8.1; S(6) 40.4; N(5) 3.0
    Alkalinity 170.2 as HCO3
SOLUTION 4 GZ-08
    units mg/l; temp 14.5; pH 7.15
    Ca 75; Mg 5; Na 2; K 1; Cl 3
    Alkalinity 240 as HCO3
SOLUTION 5 GZ-10
    units mg/l; temp 12.0; pH 7.05
    Ca 110; Mg 10; Na 4; K 1.5; Cl 6; S(6) 30; N(5) 4
    Alkalinity 240 as HCO3
SELECTED_OUTPUT 1
    -reset false
    -high_precision true
    -percent_error true
    -totals C(4)
    -saturation_indices Calcite Dolomite Gypsum CO2(g)
END
"""


@pytest.fixture(scope="module")
def messy_result(tmp_path_factory):
    path = tmp_path_factory.mktemp("messy") / "field.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    with pytest.warns(DataQualityWarning):
        table = karstsink.read_samples(path)
    with pytest.warns(DataQualityWarning, match="charge_imbalance"):
        out = speciate(table, jobs=1)
    return table, out


def raw_phreeqc() -> pd.DataFrame:
    p = phreeqc.Phreeqc()
    p.LoadBuiltInDatabase("phreeqc.dat")
    p.SetSelectedOutputStringOn(True)
    assert p.RunString(RAW_INPUT) == 0, p.GetErrorString()
    out = pd.DataFrame(p.GetSelectedOutput())
    out["sample_id"] = ["GZ-01", "GZ-02", "GZ-03", "GZ-08", "GZ-10"]
    return out.set_index("sample_id")


def test_speciate_matches_an_independent_raw_phreeqc_run(messy_result):
    _, out = messy_result
    raw = raw_phreeqc()
    got = out.set_index("sample_id").loc[raw.index]
    # acceptance criterion of issue 2: SI and log pCO2 to 0.01, DIC to 0.5 %
    assert_allclose(got["si_calcite"], raw["si_Calcite"], atol=0.01, rtol=0)
    assert_allclose(got["si_dolomite"], raw["si_Dolomite"], atol=0.01, rtol=0)
    assert_allclose(got["log_pco2"], raw["si_CO2(g)"], atol=0.01, rtol=0)
    assert_allclose(got["dic_mmol_kgw"], raw["C(4)(mol/kgw)"] * 1000, rtol=0.005)
    assert_allclose(got["cbe_pct"], raw["pct_err"], atol=0.05, rtol=0)
    gyp = raw["si_Gypsum"].where(raw["si_Gypsum"] > -999)  # GZ-08 has no SO4: NaN
    assert np.isnan(got.loc["GZ-08", "si_gypsum"]) and np.isnan(gyp["GZ-08"])
    assert_allclose(got["si_gypsum"].dropna(), gyp.dropna(), atol=0.01, rtol=0)


def test_messy_csv_keeps_every_row_in_order_and_flags_every_bad_row(messy_result):
    table, out = messy_result
    assert list(out["sample_id"]) == [f"GZ-{i:02d}" for i in range(1, 11)]
    assert list(out.columns[: table.shape[1]]) == list(table.columns)
    assert out["Notes"].iloc[0] == "spring, after rain"
    assert out["采样点"].iloc[1] == "板寨 地下河"
    flags = dict(zip(out["sample_id"], out["qa_flags"], strict=True))
    assert flags["GZ-01"] == "" and flags["GZ-03"] == ""
    assert flags["GZ-08"] == "acid_ion_missing"  # no SO4: no acid correction, said
    assert flags["GZ-02"] == "below_detection:k"
    assert "missing_temp" in flags["GZ-04"]
    assert "missing_ph" in flags["GZ-05"]
    assert "negative_value:ca" in flags["GZ-06"]
    assert "not_numeric:mg" in flags["GZ-07"]
    assert "ph_out_of_range" in flags["GZ-09"]
    assert flags["GZ-10"] == "charge_imbalance"
    computed = out["si_calcite"].notna()
    assert list(out.loc[computed, "sample_id"]) == ["GZ-01", "GZ-02", "GZ-03", "GZ-08",
                                                     "GZ-10"]
    assert out.loc[~computed, RESULTS].isna().all().all()
    assert abs(out.loc[9, "cbe_pct"]) > 10


def test_no_sentinel_ever_leaves(messy_result):
    _, out = messy_result
    numeric = out.select_dtypes("number")
    assert not (numeric <= -999).any().any()
    assert not np.isinf(numeric.to_numpy()).any()


def test_metadata_records_database_versions_and_assumptions(messy_result):
    _, out = messy_result
    meta = out.attrs["karstsink"]["speciation"]
    db = meta["database"]
    with open(db["path"], "rb") as fh:
        assert db["sha256"] == hashlib.sha256(fh.read()).hexdigest()
    assert meta["engine"] == "phreeqc"
    assert meta["engine_version"] == phreeqc.Phreeqc.GetVersionString()
    assert meta["karstsink_version"] == karstsink.__version__
    assert meta["n_rows"] == 10 and meta["n_computed"] == 5
    assert meta["flag_counts"]["charge_imbalance"] == 1
    assert meta["assumptions"]["acid_so4_share"] == 1.0
    assert meta["assumptions"]["evaporite_so4_share"] == 0.0
    assert meta["assumptions"]["acid_no3_share"] == 1.0
    assert "NO3_acid = 1 * NO3" in meta["assumptions"]["hco3_carbonic"]
    assert any("Li et al. 2008" in a for a in meta["assumptions"]["carbon_accounting"])
    assert meta["chunk_size"] >= 1 and meta["n_chunks"] == 1
    assert out.attrs["source_units"]["no3"] == "mg/L as N"  # the reader's attrs are kept


def test_weathering_diagnostics_in_the_output(messy_result):
    _, out = messy_result
    row = out.set_index("sample_id").loc["GZ-01"]
    # by hand: Ca 80.1/40.078 = 1.998603, Mg 6.2/24.305 = 0.255092,
    # HCO3 251/61.017 = 4.113608 -> (1.998603 + 0.255092)/4.113608 = 2.253695/4.113608
    # = 0.547863
    assert row["ca_mg_hco3_molar"] == pytest.approx(0.547863, abs=5e-7)
    # HCO3 - 2 SO4 - NO3 = 4.113608 - 2 x 24.3/96.06 - 2.26/14.007 = 4.113608 - 0.505934
    # - 0.161348 = 3.446326
    assert row["hco3_carbonic_mmol_l"] == pytest.approx(3.446326, abs=5e-7)
    assert np.isnan(out.set_index("sample_id").loc["GZ-08", "hco3_carbonic_mmol_l"])


# --------------------------------------------------------------------------------------
# flags added by speciation
# --------------------------------------------------------------------------------------


def test_acid_correction_worked_example_through_speciate():
    # science.md 1.2: HCO3 250, SO4 30, NO3 10 mg/L -> HCO3_carbonic 3.311 mmol/L
    table = canonical([{"hco3_mmol_l": float(to_mmol_per_l(250, "hco3", "mg/L")),
                        "so4_mmol_l": float(to_mmol_per_l(30, "so4", "mg/L")),
                        "no3_mmol_l": float(to_mmol_per_l(10, "no3", "mg/L"))}])
    out = speciate(table, jobs=1)
    assert out.loc[0, "hco3_carbonic_mmol_l"] == pytest.approx(3.311, abs=5e-4)
    half = speciate(table, jobs=1, acid_so4_share=0.5)
    # half the sulfate correction back: + 30/96.06 = + 0.312305
    assert half.loc[0, "hco3_carbonic_mmol_l"] - out.loc[0, "hco3_carbonic_mmol_l"] == \
        pytest.approx(0.312305, abs=5e-7)
    assert half.attrs["karstsink"]["speciation"]["assumptions"]["acid_so4_share"] == 0.5
    # evaporite share 0.5 and acid share 1 take back the same half of the sulfate term;
    # no nitric acid gives back the whole nitrate term: + 10/62.004 = + 0.161280
    evap = speciate(table, jobs=1, evaporite_so4_share=0.5)
    assert evap.loc[0, "hco3_carbonic_mmol_l"] == pytest.approx(
        half.loc[0, "hco3_carbonic_mmol_l"], abs=1e-12)
    no_nitric = speciate(table, jobs=1, acid_no3_share=0.0)
    assert no_nitric.loc[0, "hco3_carbonic_mmol_l"] - out.loc[0, "hco3_carbonic_mmol_l"] == \
        pytest.approx(0.161280, abs=5e-7)
    meta = evap.attrs["karstsink"]["speciation"]["assumptions"]
    assert meta["evaporite_so4_share"] == 0.5 and meta["acid_no3_share"] == 1.0
    with pytest.raises(ValueError, match="evaporite_so4_share"):
        speciate(table, jobs=1, evaporite_so4_share=1.5)


def test_a_censored_acid_ion_enters_the_correction_at_its_detection_limit():
    # HCO3 4.0, SO4 '<0.5', NO3 '<0.1' mmol/L: PHREEQC gets the stand-in (half: 0.25, 0.05),
    # the acid correction the limits: 4.0 - 2 x 0.5 - 0.1 = 2.9 mmol/L (not 4.0 - 2 x 0.25
    # - 0.05 = 3.45, which would overstate the sink)
    from karstsink.io.samples import standardize

    raw = pd.DataFrame({"T (°C)": ["15", "15"], "pH": ["7.4", "7.4"],
                        "Ca (mmol/L)": ["2.0", "2.0"], "HCO3 (mmol/L)": ["4.0", "4.0"],
                        "SO4 (mmol/L)": ["<0.5", "0.5"], "NO3 (mmol/L)": ["<0.1", "0.1"]})
    for policy in ("half", "limit"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            table = standardize(raw, below_detection=policy)
            out = speciate(table, jobs=1)
        assert out["hco3_carbonic_mmol_l"].tolist() == pytest.approx([2.9, 2.9], abs=1e-12)
        assert out.loc[0, "so4_mmol_l"] == (0.25 if policy == "half" else 0.5)
    text = out.attrs["karstsink"]["speciation"]["assumptions"]["hco3_carbonic"]
    assert "below its detection limit" in text and "limit DL itself" in text
    # with 'zero' the limit is gone: no carbonic HCO3 rather than one without a correction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        zero = speciate(standardize(raw, below_detection="zero"), jobs=1)
    assert np.isnan(zero.loc[0, "hco3_carbonic_mmol_l"])
    assert zero.loc[1, "hco3_carbonic_mmol_l"] == pytest.approx(2.9, abs=1e-12)
    # the draws take the same limits: their interval holds the central 2.9 (HCO3, SO4 and
    # NO3 drawn with the default 2 % and 3 %: the sd of 4 - 2 SO4 - NO3 is ~0.09)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        mc = speciate(standardize(raw), jobs=1, draws=200, seed=7)
    lo, hi = mc.loc[0, "hco3_carbonic_mmol_l_lo95"], mc.loc[0, "hco3_carbonic_mmol_l_hi95"]
    assert lo < 2.9 < hi and hi - lo < 0.6


def test_a_speciated_table_speciated_again_reads_the_laboratory_columns(tmp_path):
    # The output keeps the laboratory's columns ('<0.5' in SO4) beside so4_mmol_l, which
    # holds the stand-in (0.25 under 'half', 0.5 under 'limit') with nothing saying which.
    # Read back, the laboratory's columns are used again, so the '<0.5' row gets its limit:
    # 4 - 2 x 0.5 - 0.1 = 2.9 on both rows, as the first time, and the results are
    # replaced, not kept as *_input.  Without the laboratory's SO4 column the stand-in is
    # all there is: that row gets no carbonic HCO3 (NaN) rather than a guess such as
    # 4 - 2 x 2 x 0.5 = 2.0 (a 'limit' stand-in doubled again).
    from karstsink.io.samples import read_samples, standardize

    raw = pd.DataFrame({"T (°C)": ["15", "15"], "pH": ["7.4", "7.4"],
                        "Ca (mmol/L)": ["2.0", "2.0"], "HCO3 (mmol/L)": ["4.0", "4.0"],
                        "SO4 (mmol/L)": ["<0.5", "0.5"], "NO3 (mmol/L)": ["0.1", "0.1"]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        first = speciate(standardize(raw, below_detection="limit"), jobs=1)
        assert first["hco3_carbonic_mmol_l"].tolist() == pytest.approx([2.9, 2.9], abs=1e-12)
        path = tmp_path / "first.csv"
        first.to_csv(path, index=False)
        again = speciate(read_samples(path), jobs=1)
        first.drop(columns=["SO4 (mmol/L)"]).to_csv(path, index=False)
        bare = speciate(read_samples(path), jobs=1)
    assert again["hco3_carbonic_mmol_l"].tolist() == pytest.approx([2.9, 2.9], abs=1e-12)
    assert again["so4_mmol_l"].tolist() == pytest.approx([0.25, 0.5])  # the default, half
    assert not [c for c in again.columns if c.endswith("_input")]
    assert np.isnan(bare.loc[0, "hco3_carbonic_mmol_l"])
    assert bare.loc[1, "hco3_carbonic_mmol_l"] == pytest.approx(2.9, abs=1e-12)


def test_a_speciated_table_speciated_again_keeps_what_was_chosen_the_first_time(tmp_path):
    # Only a laboratory concentration column with '<DL' cells outranks its canonical column
    # in a table karstsink wrote.  A table's own canonical 'ph' beside 'pH (lab)' is used
    # both times (7.6, not 8.1), and a column left out with column_map stays out.
    from karstsink.io.samples import read_samples

    raw = pd.DataFrame({"pH (lab)": ["8.1"], "ph": ["7.6"], "T (°C)": ["15"],
                        "Ca (mmol/L)": ["2.0"], "HCO3 (mmol/L)": ["4.0"],
                        "Alk (meq/L)": ["0.4"]})
    src = tmp_path / "in.csv"
    raw.to_csv(src, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        first = speciate(read_samples(src, column_map={"HCO3 (mmol/L)": None}), jobs=1)
        path = tmp_path / "first.csv"
        first.to_csv(path, index=False)
        again = speciate(read_samples(path), jobs=1)
    assert first["ph"].tolist() == again["ph"].tolist() == [7.6]
    # the alkalinity 0.4 meq/L was the HCO3 (the HCO3 column left out), both times
    assert first["hco3_mmol_l"].tolist() == again["hco3_mmol_l"].tolist() == [0.4]
    assert first["si_calcite"].tolist() == again["si_calcite"].tolist()


def test_high_ionic_strength_is_flagged_and_points_to_pitzer():
    # 1000 mmol/L NaCl: I ~ 1 mol/kgw > 0.7
    table = canonical([{}, {"na_mmol_l": 1000.0, "cl_mmol_l": 1000.0}])
    with pytest.warns(DataQualityWarning, match="pitzer.dat"):
        out = speciate(table, jobs=1)
    assert out.loc[1, "ionic_strength"] > 0.7
    assert out.loc[1, "qa_flags"] == "high_ionic_strength"
    assert out.loc[0, "qa_flags"] == ""
    assert "pitzer.dat" in out.attrs["karstsink"]["speciation"]["flag_notes"][
        "high_ionic_strength"]
    # with the Pitzer model the same water is within the model's range: no flag
    with pytest.warns(DataQualityWarning, match="lacks"):  # pitzer.dat has no N(5)
        pz = speciate(table, database="pitzer.dat", jobs=1)
    assert pz.loc[1, "ionic_strength"] > 0.7 and pz.loc[1, "qa_flags"] == ""
    assert pz.attrs["karstsink"]["speciation"]["activity_model"] == "pitzer"
    # the output of the first run, re-run with pitzer.dat, loses its high_ionic_strength:
    # the flags of the speciation stage are the latest run's, the reader's stay
    first = out.copy()
    first["qa_flags"] = ["below_detection:k", "high_ionic_strength;below_detection:k"]
    with pytest.warns(DataQualityWarning, match="lacks"):
        again = speciate(first, database="pitzer.dat", jobs=1)
    assert again["qa_flags"].tolist() == ["below_detection:k", "below_detection:k"]


def test_the_acid_correction_flag_follows_the_latest_shares():
    # HCO3 2.0, SO4 1.2, NO3 0 mmol/L (charge balance within 2 %): with acid_so4_share 1
    # (no evaporite) the carbonic HCO3 is 2.0 - 2 x 1.2 = -0.4 < 0 (negative_carbonic_hco3);
    # with acid_so4_share 0 it is the HCO3, 2.0
    table = canonical([{"hco3_mmol_l": 2.0, "so4_mmol_l": 1.2, "no3_mmol_l": 0.0}])
    with pytest.warns(DataQualityWarning, match="negative_carbonic_hco3"):
        first = speciate(table, jobs=1, acid_so4_share=1.0, evaporite_so4_share=0.0)
    assert "negative_carbonic_hco3" in first.loc[0, "qa_flags"]
    again = speciate(first, jobs=1, acid_so4_share=0.0)
    assert again.loc[0, "hco3_carbonic_mmol_l"] == pytest.approx(2.0, abs=1e-12)
    assert "negative_carbonic_hco3" not in again.loc[0, "qa_flags"]


def test_phreeqc_failure_is_flagged_with_its_message_and_others_kept():
    good = canonical([{"sample_id": "a"}, {"sample_id": "c"}])
    table = canonical([{"sample_id": "a"},
                       {"sample_id": "b", "ph": 11.0, "hco3_mmol_l": 0.05, "ca_mmol_l": 0.1},
                       {"sample_id": "c"}])
    with pytest.warns(DataQualityWarning, match="phreeqc_failed"):
        out = speciate(table, jobs=1)
    assert "phreeqc_failed" in out.loc[1, "qa_flags"]
    assert "Alkalinity has not converged" in out.loc[1, "phreeqc_message"]
    assert out.loc[1, RESULTS].isna().all()
    clean = speciate(good, jobs=1)
    pd.testing.assert_frame_equal(out.loc[[0, 2], RESULTS].reset_index(drop=True),
                                  clean[RESULTS])
    assert out.attrs["karstsink"]["speciation"]["n_phreeqc_failed"] == 1


def test_hand_built_table_without_flags_is_validated_before_phreeqc():
    table = canonical([{"ca_mmol_l": -1.0}, {"ph": np.nan}, {"temp_c": 150.0}, {}])
    table = table.drop(columns="qa_flags")
    out = speciate(table, jobs=1)
    assert list(out["qa_flags"]) == ["negative_value:ca", "missing_ph", "temp_out_of_range",
                                     ""]
    assert out.loc[:2, RESULTS].isna().all().all()
    assert out.loc[3, RESULTS].notna().all()


def test_database_lacking_a_solute_says_so():
    table = canonical([{}])
    with pytest.warns(DataQualityWarning, match=r"pitzer.dat lacks no3_mmol_l"):
        out = speciate(table, database="pitzer.dat", jobs=1)
    meta = out.attrs["karstsink"]["speciation"]
    assert "no3_mmol_l" in meta["dropped_solutes_with_data"]
    assert np.isfinite(out.loc[0, "si_calcite"])


def test_extra_phases_columns():
    out = speciate(canonical([{}, {"f_mmol_l": 0.05}]), phases=["Fluorite", "Aragonite"],
                   jobs=1)
    assert np.isnan(out.loc[0, "si_fluorite"]) and np.isfinite(out.loc[1, "si_fluorite"])
    assert (out["si_aragonite"] < out["si_calcite"]).all()
    with pytest.raises(SpeciationError, match=r"not found in phreeqc\.dat"):
        speciate(canonical([{}]), phases=["Unobtainium"], jobs=1)


def test_raw_table_is_standardised_first():
    raw = pd.DataFrame({"Sample": ["x"], "T (°C)": [16.0], "pH": [7.4], "Ca": [80.0],
                        "Mg": [6.0], "HCO3": [250.0], "SO4": [24.0], "NO3": [5.0]})
    out = speciate(raw, units="mg/L", jobs=1)
    assert list(out.columns[:8]) == list(raw.columns)
    assert out.loc[0, "ca_mmol_l"] == pytest.approx(80 / 40.078)
    assert np.isfinite(out.loc[0, "si_calcite"])


def test_input_table_is_not_modified_and_empty_table_works():
    table = canonical([{}, {"ph": np.nan}])
    before = table.copy()
    speciate(table, jobs=1)
    pd.testing.assert_frame_equal(table, before)
    empty = speciate(canonical([{}]).iloc[:0], jobs=1)
    assert len(empty) == 0 and "si_calcite" in empty.columns


def test_table_without_any_known_column_is_one_clear_error():
    # a raw table goes through samples.standardize, which finds nothing: since issue 12
    # that is one line naming the columns and column_map, not NaN results and exit 0
    with pytest.raises(DataError, match=r"no column is recognised.*'foo'.*column_map"):
        speciate(pd.DataFrame({"foo": [1.0, 2.0]}), jobs=1)


def test_jobs_two_equals_jobs_one_exactly():
    rng = np.random.default_rng(11)
    rows = [{"sample_id": f"s{i}", "temp_c": rng.uniform(8, 25), "ph": rng.uniform(6.8, 8.3),
             "ca_mmol_l": rng.uniform(0.5, 3), "hco3_mmol_l": rng.uniform(1, 6)}
            for i in range(30)]
    rows[4].update(ph=11.0, hco3_mmol_l=0.05, ca_mmol_l=0.1)  # PHREEQC fails on it
    rows[9].update(ph=np.nan)  # never sent
    table = canonical(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        one = speciate(table, jobs=1, chunk_size=4)
        done: list[int] = []
        two = speciate(table, jobs=2, chunk_size=4, progress=done.append)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert two.attrs["karstsink"]["speciation"]["jobs"] == 2
    assert sum(done) == 29  # every sample sent to PHREEQC, in chunks


# --------------------------------------------------------------------------------------
# property: any mix of good and bad rows comes back complete, in order, each flagged right
# --------------------------------------------------------------------------------------

KINDS = {
    "good": ({}, ""),
    # carbonic HCO3 = 0.05 - 2 x 0.25 - 0.16 = -0.61 mmol/L < 0: flagged as well
    "fails_in_phreeqc": ({"ph": 11.0, "hco3_mmol_l": 0.05, "ca_mmol_l": 0.1},
                         "phreeqc_failed;negative_carbonic_hco3"),
    "missing_ph": ({"ph": np.nan}, "missing_ph"),
    "negative": ({"mg_mmol_l": -0.5}, "negative_value:mg"),
    # speciated without SO4; the acid correction needs it: NaN carbonic HCO3, and why
    "no_sulfate": ({"so4_mmol_l": np.nan}, "acid_ion_missing"),
}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=0, max_size=12),
       temps=st.lists(st.floats(5, 30), min_size=12, max_size=12),
       chunk=st.integers(1, 5))
def test_rows_kept_in_order_for_any_mix_of_good_and_bad(kinds, temps, chunk):
    rows = [{"sample_id": f"r{i}", "temp_c": temps[i], **KINDS[k][0]}
            for i, k in enumerate(kinds)]
    table = canonical(rows) if rows else canonical([{}]).iloc[:0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        out = speciate(table, jobs=1, chunk_size=chunk)
    assert list(out["sample_id"]) == [r["sample_id"] for r in rows]
    for i, k in enumerate(kinds):
        assert out.loc[i, "qa_flags"] == KINDS[k][1]
        ok = k in ("good", "no_sulfate")
        assert out.loc[i, ["si_calcite", "log_pco2", "dic_mmol_kgw"]].notna().all() == ok
        if ok:  # the same as speciating that row alone
            with warnings.catch_warnings():  # a row without SO4 is flagged alone too
                warnings.simplefilter("ignore", DataQualityWarning)
                alone = speciate(table.iloc[[i]].reset_index(drop=True), jobs=1)
            # Not bit-exact: within a run PHREEQC starts each solution's iteration from the
            # previous one, so a chunk-mate can move the 13th significant digit (found by
            # Hypothesis: cbe_pct -2.620629361159 vs -2.620629361158 when a 5 degC sample
            # precedes an 18.9 degC one). 1e-10 is far below any rows being mixed up (their
            # results differ at 1e-3 and more) and above PHREEQC's printed precision.
            pd.testing.assert_series_equal(out.loc[i, RESULTS], alone.loc[0, RESULTS],
                                           check_names=False, check_exact=False, rtol=1e-10,
                                           atol=0.0)
    assert not (out.select_dtypes("number") <= -999).any().any()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(sorted(KINDS)), min_size=3, max_size=10))
def test_rows_kept_in_order_with_a_worker_pool(kinds):
    rows = [{"sample_id": f"r{i}", **KINDS[k][0]} for i, k in enumerate(kinds)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        one = speciate(canonical(rows), jobs=1, chunk_size=2)
        two = speciate(canonical(rows), jobs=2, chunk_size=2)
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert list(two["qa_flags"]) == [KINDS[k][1] for k in kinds]


def test_example_field_file_flags_only_the_planted_rows():
    # data/examples/README.md lists the planted problems; speciation must not add a flag to a
    # clean row (e.g. a charge imbalance from inconsistent synthetic chemistry) nor drop one
    from conftest import EXAMPLES_DIR

    from karstsink import read_samples
    from karstsink.exceptions import DataQualityWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        table = read_samples(EXAMPLES_DIR / "field_samples.csv")
        out = speciate(table, jobs=1)
    assert len(out) == len(table) == 40
    assert out["qa_flags"].tolist() == table["qa_flags"].tolist()
    assert out["cbe_pct"].abs().max() < 10.0


def test_chunk_mates_move_results_only_at_phreeqc_precision():
    # the case Hypothesis found: a 5 degC sample before an 18.9 degC one in the same run
    rows = [{"sample_id": "a", "temp_c": 5.0, **KINDS["good"][0]},
            {"sample_id": "b", "temp_c": 18.94817461730928, **KINDS["good"][0]}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        together = speciate(canonical(rows), jobs=1)
        alone = speciate(canonical(rows[1:]), jobs=1)
    a = together.loc[1, RESULTS].to_numpy(dtype=float)
    b = alone.loc[0, RESULTS].to_numpy(dtype=float)
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=0.0)
