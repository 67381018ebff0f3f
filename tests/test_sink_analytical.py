"""The analytical uncertainty of the sample concentrations in the catchment sink interval.

Expected numbers are hand calculations written out below (GUM, JCGM 100:2008, eq. 10
for uncorrelated inputs; z = 1.959964, the normal 97.5 % quantile).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import DataError
from karstsink.sink import analytical_flux_rsd, carbon_sink, widen_interval
from karstsink.workflows.catchment import run_flux

Z = 1.959963984540054


def test_rsd_of_the_discharge_weighted_mean_by_hand():
    # Q = 1, 3; C = 200, 100 mg/L; u = 10, 5 mg/L
    # C_fw = (1*200 + 3*100) / 4 = 125; u(C_fw) = sqrt((1*10)^2 + (3*5)^2) / 4
    #      = sqrt(325) / 4 = 4.5069391; rsd = 4.5069391 / 125 = 0.036055513
    assert analytical_flux_rsd([200, 100], [10, 5], [1, 3]) == pytest.approx(0.036055513,
                                                                                rel=1e-8)
    # a sample with a missing sd is left out: only the first counts, 10 / 200
    assert analytical_flux_rsd([200, 100], [10, np.nan], [1, 3]) == pytest.approx(0.05)
    assert np.isnan(analytical_flux_rsd([200], [np.nan], [1]))
    with pytest.raises(DataError, match="negative"):
        analytical_flux_rsd([200], [-1], [1])


@settings(derandomize=True, max_examples=50, deadline=None)
@given(n=st.integers(1, 30), rel=st.floats(0.001, 0.2))
def test_equal_samples_average_down_as_one_over_root_n(n, rel):
    # n equal samples, equal Q: u(C_fw) = sqrt(n) u / n, so rsd = rel / sqrt(n)
    rsd = analytical_flux_rsd(np.full(n, 100.0), np.full(n, 100.0 * rel), np.ones(n))
    assert rsd == pytest.approx(rel / np.sqrt(n), rel=1e-9)


def test_widen_interval_by_hand():
    # value 100, interval 90-120, rsd 0.05: (z x 0.05 x 100)^2 = 9.799820^2 = 96.03647
    # lo = 100 - sqrt(10^2 + 96.03647) = 100 - 14.001303 = 85.998697
    # hi = 100 + sqrt(20^2 + 96.03647) = 100 + 22.271876 = 122.271876
    lo, hi = widen_interval(100.0, 90.0, 120.0, 0.05)
    assert float(lo) == pytest.approx(85.998697, abs=1e-6)
    assert float(hi) == pytest.approx(122.271876, abs=1e-6)
    lo, hi = widen_interval(100.0, np.nan, 120.0, 0.05)
    assert np.isnan(lo)
    # a lower bound already at 0 stays at 0 (a flux is not negative) unless floor=None:
    # 10 - sqrt(10^2 + (z x 0.5 x 10)^2) = 10 - 13.9777 < 0
    assert float(widen_interval(10.0, 0.0, 20.0, 0.5)[0]) == 0.0
    assert float(widen_interval(10.0, 0.0, 20.0, 0.5, floor=None)[0]) == pytest.approx(
        10 - np.hypot(10, Z * 5))


def test_carbon_sink_widens_its_interval_and_says_so():
    # 250 mg/L at 1 m3/s over 100 km2: 7.765 t C km-2 yr-1 (the docstring example); a
    # zero-width flux interval widened by rsd 0.02 gives 7.765 x (1 -+ z x 0.02)
    flux = 250.0 * 3.15576e7 / 1000.0
    out = carbon_sink(flux, 100.0, hco3_lo95_kg_yr=flux, hco3_hi95_kg_yr=flux,
                      hco3_analytical_rsd=0.02)
    s = float(out["sink_t_c_km2_yr"].iloc[0])
    assert s == pytest.approx(7.765, abs=5e-4)
    assert float(out["sink_lo95_t_c_km2_yr"].iloc[0]) == pytest.approx(s * (1 - Z * 0.02))
    assert float(out["sink_hi95_t_c_km2_yr"].iloc[0]) == pytest.approx(s * (1 + Z * 0.02))
    assert "analytical uncertainty" in out["assumptions"].iloc[0]
    with pytest.raises(DataError, match="hco3_analytical_rsd"):
        carbon_sink(flux, 100.0, hco3_analytical_rsd=-0.1)


def _files(tmp_path, sd_column: str | None):
    days = pd.date_range("2018-10-01", "2021-09-30", freq="D")
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0}).to_csv(qp, index=False)
    sd = days[::30]  # 37 samples
    smp = pd.DataFrame({"date": sd.strftime("%Y-%m-%d"), "hco3_mmol_l": 4.0})
    if sd_column:
        smp[sd_column] = 0.1
    smp.to_csv(sp, index=False)
    return qp, sp


@pytest.mark.parametrize("column", ["hco3_mmol_l_sd", "hco3_carbonic_mmol_l_sd",
                                    "dic_mmol_kgw_sd"])
def test_catchment_interval_takes_the_sample_sds(tmp_path, column):
    # Q = 1 m3/s, HCO3 = 4.0 mmol/L in every one of 37 samples, sd 0.1 mmol/L each:
    # sink = 0.5 x 4.0e-3 mol/L x 1000 L/m3 x 31 557 600 m3/yr x 12.011 g/mol / 1e6
    #      = 758.0767 t C/yr = 7.580767 t C km-2 yr-1 over 100 km2;
    # rsd = (sqrt(37) x 0.1 / 37) / 4.0 = 0.025 / sqrt(37) = 0.0041099746 for the record;
    # a water year takes its own samples' (never less): one sample every 30 days from
    # 2018-10-01 puts 13 in WY 2019 (days 0..360), 12 in WY 2020 (390..720) and 12 in
    # WY 2021 (750..1080), so 0.025/sqrt(13), 0.025/sqrt(12), 0.025/sqrt(12);
    # half-widths h -> sqrt(h^2 + (z x rsd x sink)^2), h from the run without sds
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = run_flux(*_files(tmp_path, None), area_km2=100.0, method="direct").sink
        run = run_flux(*_files(tmp_path, column), area_km2=100.0, method="direct")
    sink = run.sink
    s = sink["sink_t_c_km2_yr"].to_numpy()
    np.testing.assert_allclose(s, 7.580767, rtol=1e-6)
    rsd = 0.025 / np.sqrt(37)
    assert run.settings["analytical_uncertainty"]["rsd"] == pytest.approx(rsd, rel=1e-9)
    assert run.settings["analytical_uncertainty"]["n_samples"] == 37
    assert sink["period"].tolist() == ["2019", "2020", "2021", "total"]
    per_row = 0.025 / np.sqrt([13, 12, 12, 37])
    h_lo = s - base["sink_lo95_t_c_km2_yr"].to_numpy()
    h_hi = base["sink_hi95_t_c_km2_yr"].to_numpy() - s
    add = (Z * per_row * s) ** 2
    np.testing.assert_allclose(sink["sink_lo95_t_c_km2_yr"], s - np.sqrt(h_lo ** 2 + add),
                               rtol=1e-9)
    np.testing.assert_allclose(sink["sink_hi95_t_c_km2_yr"], s + np.sqrt(h_hi ** 2 + add),
                               rtol=1e-9)
    assert (sink["sink_hi95_t_c_km2_yr"] - sink["sink_lo95_t_c_km2_yr"]
            >= 2 * Z * per_row * s * (1 - 1e-9)).all()
    text = sink["assumptions"].iloc[0]
    assert f"column {column} of 37 sample(s)" in text
    assert "combined in quadrature" in text
    assert "interval only" in base["assumptions"].iloc[0]
