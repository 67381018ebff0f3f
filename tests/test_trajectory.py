"""Restoration trajectories (karstsink.trajectory) and yearly sinks in the balance.

Every expected number is a hand calculation written out beside its assertion.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from karstsink.exceptions import ConfigError, MissingColumnError
from karstsink.scenario import balance, share_reached
from karstsink.trajectory import (
    balance_sinks,
    converted_share,
    load_schedule,
    matured_share,
    maturity,
    schedule_from_dict,
    trajectory,
)
from karstsink.units import C_TO_CO2


def _schedule(**over) -> dict:
    t = {"name": "crop2forest", "from": "cropland", "to": "forest", "start": 2025,
         "end": 2028, "share": 1.0, "maturity": "linear", "maturity_years": 4,
         "maturity_source": "test"}
    t.update(over.pop("transition", {}))
    t = {k: v for k, v in t.items() if v is not None}  # None: drop the key
    body = {"name": "test", "first_year": 2024, "last_year": 2034, "draws": 200, "seed": 1,
            "transitions": [t]}
    body.update(over)
    return {"trajectory": body}


BASE = pd.DataFrame({"zone": ["A"], "karst_sink_t_c_yr": [10.0],
                     "biological_sink_t_c_yr": [50.0]})
POT = pd.DataFrame({"zone": ["A"], "transition": ["crop2forest"],
                    "karst_potential_t_c_yr": [100.0], "biological_potential_t_c_yr": [1000.0]})


def test_hand_calculated_linear_trajectory():
    # 2025-2028, share 1: four equal annual cohorts of 0.25 (converted in 2025, ..., 2028),
    # so c(t) = 0, .25, .5, .75, 1, 1 ... for t = 2024, 2025, ..., 2029.
    # Linear maturity T = 4 yr, m(a) = min(a/4, 1); a cohort has age 0 in its own year.
    # F(t) = sum_y 0.25 m(t - y):
    #   2025: m(0) = 0                                   -> 0
    #   2026: .25 (m(1) + m(0)) = .25 x .25              -> 0.0625
    #   2027: .25 (.5 + .25)                             -> 0.1875
    #   2028: .25 (.75 + .5 + .25)                       -> 0.375
    #   2029: .25 (1 + .75 + .5 + .25)                   -> 0.625
    #   2030: .25 (1 + 1 + .75 + .5)                     -> 0.8125
    #   2031: .25 (1 + 1 + 1 + .75)                      -> 0.9375
    #   2032-2034: 1
    # karst = 10 + 100 c(t); biological = 50 + 1000 F(t).
    sched = schedule_from_dict(_schedule())
    res = trajectory(sched, BASE, POT)
    tab = res.table.set_index("year")
    c = [0, .25, .5, .75, 1, 1, 1, 1, 1, 1, 1]
    f = [0, 0, .0625, .1875, .375, .625, .8125, .9375, 1, 1, 1]
    np.testing.assert_allclose(tab["karst_sink_t_c_yr"], [10 + 100 * x for x in c])
    np.testing.assert_allclose(tab["biological_sink_t_c_yr"], [50 + 1000 * x for x in f])
    np.testing.assert_allclose(tab["total_sink_t_c_yr"],
                               [60 + 100 * a + 1000 * b for a, b in zip(c, f, strict=True)])
    # 2027: gain = 100 x .75 + 1000 x .1875 = 75 + 187.5 = 262.5
    assert tab.loc[2027, "restoration_gain_t_c_yr"] == pytest.approx(262.5)
    np.testing.assert_allclose(converted_share(sched.transitions[0], np.arange(2024, 2030)),
                               c[:6])
    np.testing.assert_allclose(matured_share(sched.transitions[0], np.arange(2024, 2035)), f)
    # no uncertainty given: the band collapses onto the path
    np.testing.assert_allclose(tab["total_sink_lo95_t_c_yr"], tab["total_sink_t_c_yr"])
    np.testing.assert_allclose(tab["total_sink_hi95_t_c_yr"], tab["total_sink_t_c_yr"])


def test_per_year_shares_and_karst_matures():
    # shares = [[2025, 0.2], [2027, 0.6]]: c = 0 (2024), .2, .4, .6, .6 ...; cohorts .2 in
    # 2025, 2026, 2027. karst_matures: the karst gain follows F too. T = 2 (linear):
    # F(2026) = .2 m(1) = .1; F(2027) = .2 (m(2) + m(1)) = .2 (1 + .5) = .3;
    # F(2028) = .2 (1 + 1 + .5) = .5; F(2029) = .6.
    sched = schedule_from_dict(_schedule(transition={
        "start": None, "end": None, "share": None, "shares": [[2025, 0.2], [2027, 0.6]],
        "maturity_years": 2, "karst_matures": True}))
    res = trajectory(sched, BASE, POT).table.set_index("year")
    np.testing.assert_allclose(res.loc[2025:2029, "karst_sink_t_c_yr"],
                               [10, 10 + 10, 10 + 30, 10 + 50, 10 + 60])
    np.testing.assert_allclose(res.loc[2025:2029, "biological_sink_t_c_yr"],
                               [50, 150, 350, 550, 650])


def test_climate_factor_scales_each_sink():
    # karst_factor 1.0 in 2024 -> 1.1 in 2034, linear: 1.05 in 2029. karst(2029) = 1.05 x
    # (10 + 100 x 1) = 115.5; the biological sink is held: 50 + 1000 x .625 = 675; the gain
    # is 1.05 x 100 + 625 = 730.
    raw = _schedule(climate={"karst_factor": [[2024, 1.0], [2034, 1.1]], "source": "test"})
    tab = trajectory(schedule_from_dict(raw), BASE, POT).table.set_index("year")
    assert tab.loc[2029, "karst_sink_t_c_yr"] == pytest.approx(115.5)
    assert tab.loc[2029, "biological_sink_t_c_yr"] == pytest.approx(675.0)
    assert tab.loc[2029, "restoration_gain_t_c_yr"] == pytest.approx(730.0)
    # the message names the key the table has ('source'; it used to say 'climate_source',
    # which the table refuses as unknown)
    with pytest.raises(ConfigError, match=r'climate needs source = "\.\.\."'):
        schedule_from_dict(_schedule(climate={"karst_factor": [[2024, 1.0]]}))


def test_logistic_maturity_hand_values():
    # L(x) = 1 / (1 + exp(-10 (x - 0.5))), x = a / T; m = (L(x) - L(0)) / (L(1) - L(0)).
    # L(0) = 1/(1 + e^5) = 0.0066929, L(1) = 0.9933071, L(.25) = 1/(1 + e^2.5) = 0.0758582
    # m(T/4) = (0.0758582 - 0.0066929) / 0.9866142 = 0.0701037; m(T/2) = 0.5 (symmetry).
    m = maturity(np.array([-1.0, 0.0, 7.5, 15.0, 30.0, 45.0]), 30.0, "logistic")
    np.testing.assert_allclose(m, [0.0, 0.0, 0.0701037, 0.5, 1.0, 1.0], atol=1e-7)


def test_mc_band_contains_path_and_is_seeded():
    raw = _schedule(transition={"maturity_years_range": [3, 8], "achieved_share": [0.7, 1.0],
                                "achieved_share_source": "test",
                                "biological_rel_sd": 0.3, "biological_rel_sd_source": "t",
                                "karst_rel_sd": 0.2, "karst_rel_sd_source": "t"},
                    baseline_karst_rel_sd=0.1, baseline_biological_rel_sd=0.1,
                    baseline_rel_sd_source="test", draws=400)
    sched = schedule_from_dict(raw)
    a = trajectory(sched, BASE, POT).table
    b = trajectory(sched, BASE, POT).table
    pd.testing.assert_frame_equal(a, b)  # same seed, same band
    c = trajectory(sched, BASE, POT, seed=2).table
    assert not np.allclose(a["total_sink_hi95_t_c_yr"], c["total_sink_hi95_t_c_yr"])
    for name in ("karst_sink", "biological_sink", "total_sink", "restoration_gain"):
        assert (a[f"{name}_lo95_t_c_yr"] <= a[f"{name}_t_c_yr"] + 1e-9).all()
        assert (a[f"{name}_hi95_t_c_yr"] >= a[f"{name}_t_c_yr"] - 1e-9).all()
    assert (a["total_sink_hi95_t_c_yr"] > a["total_sink_lo95_t_c_yr"]).all()


def test_mc_uniform_achieved_share_quantiles():
    # only the achieved share is uncertain, uniform 0.5-1.0: the gain is a x (plan gain), so
    # its 2.5 % and 97.5 % quantiles are 0.5 + 0.5 x 0.025 = 0.5125 and 0.5 + 0.5 x 0.975 =
    # 0.9875 times the plan gain, and the central path (a = 0.75) is 0.75 x plan. In 2032
    # the plan gain is 100 + 1000 = 1100 (full conversion and maturity).
    raw = _schedule(transition={"achieved_share": [0.5, 1.0], "achieved_share_source": "t"},
                    draws=20000)
    tab = trajectory(schedule_from_dict(raw), BASE, POT).table.set_index("year")
    assert tab.loc[2032, "restoration_gain_t_c_yr"] == pytest.approx(825.0)
    assert tab.loc[2032, "restoration_gain_lo95_t_c_yr"] == pytest.approx(563.75, rel=4e-3)
    assert tab.loc[2032, "restoration_gain_hi95_t_c_yr"] == pytest.approx(1086.25, rel=4e-3)


def test_mc_biological_range_from_the_table():
    # no biological_rel_sd: the potential is drawn uniform in its range 500-1500 (the new
    # class's table range x eligible area). In 2032 (full conversion and maturity) the gain
    # is 100 (karst) + P, so its 2.5 % / 97.5 % quantiles are 100 + 500 + 0.025 x 1000 = 625
    # and 100 + 500 + 0.975 x 1000 = 1575; the central path keeps P = 1000: 1100.
    pot = POT.assign(biological_potential_lo_t_c_yr=500.0,
                     biological_potential_hi_t_c_yr=1500.0)
    tab = trajectory(schedule_from_dict(_schedule(draws=20000)), BASE, pot).table
    row = tab.set_index("year").loc[2032]
    assert row["restoration_gain_t_c_yr"] == pytest.approx(1100.0)
    assert row["restoration_gain_lo95_t_c_yr"] == pytest.approx(625.0, rel=5e-3)
    assert row["restoration_gain_hi95_t_c_yr"] == pytest.approx(1575.0, rel=5e-3)
    # an explicit relative sd wins over the range (0: fixed)
    fixed = trajectory(schedule_from_dict(_schedule(transition={"biological_rel_sd": 0.0})),
                       BASE, pot).table.set_index("year").loc[2032]
    assert fixed["restoration_gain_hi95_t_c_yr"] == pytest.approx(1100.0)


@settings(derandomize=True, max_examples=25, deadline=None)
@given(start=st.integers(2020, 2040), length=st.integers(0, 15),
       share=st.floats(0.05, 1.0), t_mat=st.floats(1.0, 40.0),
       curve=st.sampled_from(["linear", "logistic"]))
def test_matured_never_exceeds_converted(start, length, share, t_mat, curve):
    sched = schedule_from_dict(_schedule(transition={
        "start": start, "end": start + length, "share": share, "maturity": curve,
        "maturity_years": t_mat}, first_year=2020, last_year=2060))
    t = sched.transitions[0]
    years = np.arange(2020, 2061)
    c = converted_share(t, years)
    f = matured_share(t, years)
    assert (f <= c + 1e-12).all() and (np.diff(c) >= -1e-12).all()
    assert c[-1] == pytest.approx(share)
    # long after the last cohort every cohort is mature: F = c
    if start + length + math.ceil(t_mat) <= 2060:
        assert f[-1] == pytest.approx(share)


def test_schedule_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="maturity_source"):
        schedule_from_dict(_schedule(transition={"maturity_source": ""}))
    with pytest.raises(ConfigError, match="achieved_share_source"):
        schedule_from_dict(_schedule(transition={"achieved_share": [0.7, 1.0]}))
    with pytest.raises(ConfigError, match=r"\[\[trajectory.transitions\]\] 1: unknown key"):
        schedule_from_dict(_schedule(transition={"colour": "green"}))
    # TOML's true is no count and no seed (it used to pass as seed 1)
    for key, value in (("draws", 1), ("draws", True), ("draws", 10.0), ("seed", True),
                       ("seed", -1)):
        with pytest.raises(ConfigError, match=rf"\[trajectory\] {key} must be a whole number"):
            schedule_from_dict(_schedule(**{key: value}))
    raw = _schedule()
    raw["trajectory"]["transitions"].append(dict(raw["trajectory"]["transitions"][0],
                                                 name="again"))
    with pytest.raises(ConfigError, match="both convert class 'cropland'"):
        schedule_from_dict(raw)
    bad = tmp_path / "t.toml"
    bad.write_text("[trajectory\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_schedule(bad)
    sched = schedule_from_dict(_schedule())
    with pytest.raises(ConfigError, match="No potentials for transition 'crop2forest'"):
        trajectory(sched, BASE, POT.assign(transition="other"))


def test_balance_with_yearly_sink_hand_numbers():
    # baseline emissions: 220 Mt CO2 in 2020 and 282 Mt in 2030 (published anchors).
    # sink 22 Mt (band 11-44) in 2020 -> 10 % (5-20 %); 28.2 Mt (14.1-56.4) in 2030 -> 10 %.
    sink = pd.DataFrame({"year": [2020, 2030], "value": [22e6, 28.2e6],
                         "lo": [11e6, 14.1e6], "hi": [44e6, 56.4e6]})
    t = balance({"restoration": sink, "karst": 2.2e6}, "baseline", years=[2020, 2030])
    np.testing.assert_allclose(t["restoration_share_pct"], [10.0, 10.0])
    np.testing.assert_allclose(t["restoration_share_lo95_pct"], [5.0, 5.0])
    np.testing.assert_allclose(t["restoration_share_hi95_pct"], [20.0, 20.0])
    np.testing.assert_allclose(t["restoration_sink_lo95_t_c_yr"],
                               [11e6 / C_TO_CO2, 14.1e6 / C_TO_CO2])
    # one banded sink: the total's band is that band plus the flat karst 2.2 Mt:
    # 2020: 13.2-46.2 Mt -> 6-21 % of 220 Mt; central (22 + 2.2) / 220 = 11 %
    assert t["total_share_pct"].iloc[0] == pytest.approx(11.0)
    assert t["total_share_lo95_pct"].iloc[0] == pytest.approx(6.0)
    assert t["total_share_hi95_pct"].iloc[0] == pytest.approx(21.0)
    # an explicit total band wins
    band = pd.DataFrame({"year": [2020, 2030], "lo": [0.0, 0.0], "hi": [220e6, 282e6]})
    t2 = balance({"restoration": sink, "karst": 2.2e6}, "baseline", years=[2020, 2030],
                 total_band=band)
    np.testing.assert_allclose(t2["total_share_hi95_pct"], [100.0, 100.0])
    # the flat-value API is unchanged: no band columns
    flat = balance({"karst": 22e6}, "baseline", years=(2020, 2020))
    assert flat["karst_share_pct"].iloc[0] == pytest.approx(10.0)
    assert not any("lo95" in c for c in flat.columns)
    with pytest.raises(MissingColumnError, match="'year' and 'value'"):
        balance({"x": pd.DataFrame({"year": [2020], "v": [1.0]})}, "baseline")


def test_share_reached_year():
    # flat user emissions 100 Mt CO2 2020-2030; sink (year - 2020) Mt: share = year - 2020 %.
    # 5 % first reached in 2025; the band's low side (half the sink) in 2030 and its high
    # side (twice the sink: 2 (year - 2020) % >= 5 from 2023, 2022 gives 4 %) in 2023.
    # 50 % is never reached.
    emis = pd.DataFrame({"year": [2020, 2030], "emissions_t_co2_yr": [100e6, 100e6]})
    yrs = np.arange(2020, 2031)
    v = (yrs - 2020) * 1e6
    sink = pd.DataFrame({"year": yrs, "value": v, "lo": v / 2, "hi": 2 * v})
    t = balance({"restoration": sink}, emis)
    r = share_reached(t, 5.0).iloc[0]
    assert (r["first_year"], r["first_year_latest"], r["first_year_earliest"]) == \
        (2025, 2030, 2023)
    r50 = share_reached(t, 50.0).iloc[0]
    assert pd.isna(r50["first_year"]) and r50["last_year"] == 2030


def test_balance_sinks_from_trajectory():
    # t C -> t CO2 x 44.009/12.011; 2032 total 60 + 1100 = 1160 t C
    res = trajectory(schedule_from_dict(_schedule()), BASE, POT)
    sinks, band = balance_sinks(res, "A")
    k = sinks["karst"].set_index("year")
    assert k.loc[2032, "value"] == pytest.approx(110 * C_TO_CO2)
    assert band.set_index("year").loc[2032, "hi"] == pytest.approx(1160 * C_TO_CO2)
    with pytest.raises(ConfigError, match="Zone 'B'"):
        balance_sinks(res, "B")


@settings(derandomize=True, max_examples=20, deadline=None)
@given(k=st.floats(0.1, 10.0), pk=st.floats(-50.0, 500.0), pb=st.floats(0.0, 5000.0))
def test_gain_is_linear_in_the_potentials(k, pk, pb):
    # the model is linear in the potentials: scaling both by k scales the central gain by k
    sched = schedule_from_dict(_schedule())
    pot = POT.assign(karst_potential_t_c_yr=pk, biological_potential_t_c_yr=pb)
    one = trajectory(sched, BASE, pot).table["restoration_gain_t_c_yr"].to_numpy()
    scaled = trajectory(sched, BASE, pot.assign(karst_potential_t_c_yr=k * pk,
                                                biological_potential_t_c_yr=k * pb))
    np.testing.assert_allclose(scaled.table["restoration_gain_t_c_yr"], k * one,
                               rtol=1e-12, atol=1e-9)


def test_plot_trajectory_writes_png(tmp_path):
    from karstsink.plots.trajectory import plot_trajectory

    res = trajectory(schedule_from_dict(_schedule(last_year=2060, transition={
        "achieved_share": [0.7, 1.0], "achieved_share_source": "t"})), BASE, POT)
    sinks, band = balance_sinks(res, "A")
    table = balance(sinks, "all", years=(2024, 2060), total_band=band)
    reached = share_reached(table, 1e-4)
    out = tmp_path / "t.png"
    plot_trajectory(table, out, reached=reached, gain=res.table)
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["t.png"]  # no temp file left
    with pytest.raises(MissingColumnError, match="plot_trajectory"):
        plot_trajectory(table.drop(columns="total_share_pct"))


def test_conversions_before_the_baseline_year_are_refused():
    # first_year 2020 is the baseline map's year: a cohort converted in 2019 is already in
    # that map and would be added a second time
    with pytest.raises(ConfigError, match="before first_year 2020"):
        schedule_from_dict(_schedule(transition={"start": 2015, "end": 2030},
                                     first_year=2020, last_year=2060))
    schedule_from_dict(_schedule(transition={"start": 2020, "end": 2030},
                                 first_year=2020, last_year=2060))


def test_maturity_at_an_end_of_its_range_is_refused():
    # every draw would mature slower than the central path, which would lie outside its band
    with pytest.raises(ConfigError, match="must lie inside"):
        schedule_from_dict(_schedule(transition={"maturity_years": 20,
                                                 "maturity_years_range": [20, 40]}))
