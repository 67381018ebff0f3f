"""Reading flux samples: censoring, units, the geochemistry reader's table, pairing with Q."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from karstsink.exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from karstsink.io.flux_samples import pair_with_discharge, read_flux_samples


def _write(tmp_path, text, name="s.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_censored_values_at_their_limit(tmp_path):
    p = _write(tmp_path, "date,hco3\n2020-01-03,250\n2020-01-01,<0.05\n2020-01-02, < 1.5\n")
    s = read_flux_samples(p, "hco3", units="mg/L")
    assert list(s["date"].dt.strftime("%Y-%m-%d")) == ["2020-01-01", "2020-01-02", "2020-01-03"]
    np.testing.assert_allclose(s["conc_mg_L"], [0.05, 1.5, 250.0])
    assert list(s["censored"]) == [True, True, False]
    assert "hco3" in s.columns  # original columns kept


def test_usgs_remark_column(tmp_path):
    p = _write(tmp_path, "date,remark,value\n1999-10-14,<,0.1\n1999-12-15,,0.2\n")
    # nothing in the file says 'value' holds nitrate: it is taken as asked, with a warning
    taken = r"no no3 column; the column 'value'.*taken as no3"
    with pytest.warns(DataQualityWarning, match=taken):
        s = read_flux_samples(p, "no3", units="mg/L")
    assert list(s["censored"]) == [True, False]
    assert s.attrs["value_taken_as"] == "no3"  # for the sink's assumptions
    with warnings.catch_warnings():  # naming the column says what it is: no warning
        warnings.simplefilter("error")
        s = read_flux_samples(p, "value", units="mg/L")
    assert list(s["censored"]) == [True, False]


def test_unit_conversions(tmp_path):
    p = _write(tmp_path, "date,HCO3- (mg/L as CaCO3)\n2020-01-01,100\n")
    s = read_flux_samples(p, "hco3")
    # 100 mg/L as CaCO3 = 2 x 100/100.087 meq/L = 1.99826 mmol/L HCO3 x 61.017 = 121.928 mg/L
    assert s["conc_mg_L"].iloc[0] == pytest.approx(121.928, abs=5e-4)
    p = _write(tmp_path, "date,hco3\n2020-01-01,4\n", "b.csv")
    s = read_flux_samples(p, "hco3", units="mmol/L")
    assert s["conc_mg_L"].iloc[0] == pytest.approx(4 * 61.017)  # M(HCO3) 61.017 g/mol


def test_bad_cells_flagged_not_dropped(tmp_path):
    p = _write(tmp_path, "date,hco3\n2020-01-01,250\n2020-01-02,n.d.\n2020-01-03,abc\n"
                         "2020-01-04,-3\n")
    with pytest.warns(DataQualityWarning, match="3 sample"):
        s = read_flux_samples(p, "hco3", units="mg/L")
    assert len(s) == 4
    assert s["qa_flags"].tolist() == ["", "missing_value:hco3", "not_numeric:hco3",
                                      "negative_value:hco3"]
    assert s["conc_mg_L"].isna().sum() == 3


def test_structural_errors(tmp_path):
    with pytest.raises(UnitError, match="--units"):
        read_flux_samples(_write(tmp_path, "date,hco3\n2020-01-01,1\n"), "hco3")
    with pytest.raises(MissingColumnError, match="so4"):
        read_flux_samples(_write(tmp_path, "date,hco3\n2020-01-01,1\n", "b.csv"), "so4",
                          units="mg/L")
    with pytest.raises(MissingColumnError, match="date"):
        read_flux_samples(_write(tmp_path, "when,hco3\n2020-01-01,1\n", "c.csv"), "hco3",
                          units="mg/L")
    with pytest.raises(DataError, match=r"line 3.*'31/02/2020x'"):
        read_flux_samples(_write(tmp_path, "date,hco3\n2020-01-01,1\n31/02/2020x,2\n", "d.csv"),
                          "hco3", units="mg/L")


def test_table_from_the_geochemistry_reader():
    """Canonical columns in mmol/L; '<DL' values stored at half the limit and flagged."""
    df = pd.DataFrame({"date": pd.to_datetime(["2020-01-01", "2020-01-02"]),
                       "hco3_mmol_l": [4.0, 0.5], "qa_flags": ["", "below_detection:hco3"]})
    df.attrs["below_detection"] = "half"
    s = read_flux_samples(df, "hco3")
    np.testing.assert_allclose(s["conc_mg_L"], [4.0 * 61.017, 1.0 * 61.017])
    assert list(s["censored"]) == [False, True]


def test_pairing_flags_samples_outside_the_record():
    daily = pd.DataFrame({"discharge_m3s": [1.0, 2.0, 3.0]},
                         index=pd.date_range("2020-01-01", periods=3, name="date"))
    s = pd.DataFrame({"date": pd.to_datetime(["2019-12-01", "2020-01-02", "2020-02-01"]),
                      "conc_mg_L": [1.0, 2.0, 3.0], "censored": False, "qa_flags": ""})
    with pytest.warns(DataQualityWarning, match="2 sample"):
        p = pair_with_discharge(s, daily)
    assert p["in_record"].tolist() == [False, True, False]
    assert p["qa_flags"].tolist()[0] == "outside_discharge_record"
    assert p["discharge_m3s"].iloc[1] == 2.0
    with pytest.raises(DataError, match="none of the 1 samples"):
        pair_with_discharge(s.iloc[[0]], daily)


def test_real_world_headers_and_alkalinity_alias(tmp_path):
    p = _write(tmp_path, "Date,HCO3- (mg/L),SO42- (mg/L),Ca2+ (mg/L)\n2020-01-01,250,24,80\n")
    assert read_flux_samples(p, "so4")["conc_mg_L"].iloc[0] == 24.0  # no unit round-off
    assert read_flux_samples(p, "ca").attrs["value_column"] == "Ca2+ (mg/L)"
    assert read_flux_samples(p, "hco3")["conc_mg_L"].iloc[0] == 250.0
    p = _write(tmp_path, "date,Alk (mg/L as CaCO3)\n2020-01-01,100\n", "alk.csv")
    # alkalinity as CaCO3 read as HCO3-: 100 x 2 / 100.087 x 61.017 = 121.928 mg/L
    assert read_flux_samples(p, "hco3")["conc_mg_L"].iloc[0] == pytest.approx(121.928, abs=5e-4)


def test_an_alkalinity_for_hco3_above_ph_8_3_is_flagged_in_the_flux_samples(tmp_path):
    # the flux reads HCO3, filled from the alkalinity where HCO3 is empty; on 2020-01-02
    # (pH 8.6, no CO3) part of that alkalinity is carbonate, so its HCO3 flux is overstated
    p = _write(tmp_path, "date,pH,HCO3 (mg/L),Alk (mg/L as CaCO3)\n"
                         "2020-01-01,8.6,250,\n2020-01-02,8.6,,200\n2020-01-03,7.9,,200\n")
    with pytest.warns(DataQualityWarning, match="1 give total alkalinity for HCO3 at pH above"):
        s = read_flux_samples(p, "hco3")
    assert s["qa_flags"].tolist() == ["", "carbonate_in_alkalinity", ""]
    # 200 mg/L as CaCO3 = 200 x 2 / 100.087 x 61.017 = 243.856 mg/L as HCO3, used as it is
    np.testing.assert_allclose(s["conc_mg_L"], [250.0, 243.856, 243.856], atol=5e-4)


def test_naming_the_alkalinity_beside_an_hco3_column_is_refused_not_given_the_hco3(tmp_path):
    # HCO3 250 mg/L and alkalinity 100 mg/L as CaCO3 (121.928 mg/L as HCO3): naming the
    # alkalinity gave the HCO3 column's 250, since HCO3 fills the canonical column first
    p = _write(tmp_path, "date,HCO3 (mg/L),Alk (mg/L as CaCO3)\n2020-01-01,250,100\n")
    for name in ("Alk (mg/L as CaCO3)", "alk"):
        with pytest.raises(DataError, match="is the alkalinity, but HCO3") as info:
            read_flux_samples(p, name)
        assert "'HCO3 (mg/L)'" in str(info.value)
    assert read_flux_samples(p, "hco3")["conc_mg_L"].iloc[0] == 250.0
    # an HCO3 column with no value anywhere fills nothing: the alkalinity is read, as
    # HCO3 (100 x 2 / 100.087 x 61.017 = 121.928 mg/L)
    for blank in ("", "-", "n.d.", "NA"):  # placeholders are no value either
        p = _write(tmp_path, f"date,HCO3 (mg/L),Alk (mg/L as CaCO3)\n2020-01-01,{blank},100\n",
                   "e.csv")
        assert read_flux_samples(p, "alk")["conc_mg_L"].iloc[0] == pytest.approx(121.928,
                                                                                abs=5e-4)


def test_a_speciated_table_gives_the_flux_its_laboratory_values_at_their_limits(tmp_path):
    # speciate's output keeps the laboratory's columns ('<30' SO4, '<0.05' F in mg/L)
    # beside so4_mmol_l and f_mmol_l, which hold half the limit (the default stand-in);
    # the flux reads censored values at their limit: 30 and 0.05 mg/L, not 15 and 0.025
    from karstsink import speciate
    from karstsink.io.samples import read_samples

    p = _write(tmp_path, "date,pH,T,Ca (mg/L),HCO3 (mg/L),SO4 (mg/L),NO3 (mg/L),F (mg/L)\n"
                         "2020-01-01,7.5,16,80,250,<30,10,<0.05\n"
                         "2020-02-01,7.6,16,82,255,25,10,0.08\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        out = speciate(read_samples(p), jobs=1)
    assert out["so4_mmol_l"].iloc[0] == pytest.approx(15 / 96.06, rel=1e-4)  # the stand-in
    sp = tmp_path / "speciated.csv"
    out.to_csv(sp, index=False)
    for name, expected in (("so4", [30.0, 25.0]), ("f", [0.05, 0.08])):
        s = read_flux_samples(sp, name)
        np.testing.assert_allclose(s["conc_mg_L"], expected, rtol=1e-12)
        assert s["censored"].tolist() == [True, False]


def test_hco3_samples_below_the_carbonate_buffer_are_flagged_for_the_sink(tmp_path):
    # pH 6.0 < 6.4: below the carbonate buffer sulfuric acid releases CO2 rather than
    # following 2 CaCO3 + H2SO4 -> 2 HCO3-, so the sink's acid correction does not hold;
    # the HCO3 samples say so (speciation flags the same rows), an SO4 flux does not care
    p = _write(tmp_path, "date,pH,HCO3 (mg/L),SO4 (mg/L)\n2020-01-01,6.0,50,20\n"
                         "2020-01-02,7.4,250,20\n")
    with pytest.warns(DataQualityWarning, match=r"1 have a pH below 6\.4"):
        s = read_flux_samples(p, "hco3")
    assert s["qa_flags"].tolist() == ["ph_below_carbonate_buffer", ""]
    assert s["conc_mg_L"].tolist() == [50.0, 250.0]  # used as they are
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_flux_samples(p, "so4")["qa_flags"].tolist() == ["", ""]


def test_a_sentinel_concentration_keeps_the_readers_flag_in_the_flux_samples(tmp_path):
    # -999 is a no-value sentinel (sentinel_value, as speciation flags it), not an empty cell
    p = _write(tmp_path, "date,HCO3 (mg/L)\n2020-01-01,-999\n2020-01-02,250\n2020-01-03,\n")
    with pytest.warns(DataQualityWarning, match="2 sample"):
        s = read_flux_samples(p, "hco3")
    assert s["qa_flags"].tolist() == ["sentinel_value:hco3", "", "missing_value:hco3"]
    assert np.isnan(s["conc_mg_L"].iloc[0]) and s["conc_mg_L"].iloc[1] == 250.0
