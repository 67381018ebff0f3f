"""Restoration trajectories with the climate from a projection stack ([trajectory.climate]
stack): the stack's map series, the zone climate factors and their use on the paths.

Every expected number is a hand calculation written out beside its assertion, or a numpy
interpolation of the stated rule (never the code under test).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from mapping_helpers import (
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    uniform_inputs,
    write,
    write_config,
    zones_two_halves,
)

from karstsink.exceptions import ConfigError
from karstsink.mapping import load_config
from karstsink.trajectory import (
    load_schedule,
    schedule_from_dict,
    stack_climate_factors,
    trajectory,
)

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TRANSITION = {"name": "crop2forest", "from": "cropland", "to": "forest", "start": 2025,
              "end": 2035, "maturity_years": 10, "maturity_source": "test"}


def _raw(climate: dict | None = None, **over) -> dict:
    body = {"name": "t", "first_year": 2020, "last_year": 2060, "draws": 50, "seed": 1,
            "transitions": [dict(TRANSITION)]}
    if climate is not None:
        body["climate"] = climate
    body.update(over)
    return {"trajectory": body}


def _two_class_map(folder):
    """West half (columns 0-149) cropland (CLCD 1), east half forest (CLCD 2); carbonate in
    rows 50-199; uniform climate (runoff 500 mm/yr, 15 degC, 10,000 ppmv); zones West / East
    on the class boundary."""
    paths = uniform_inputs(folder, landcover=1)
    lc = np.full(LC_SHAPE, 1, np.uint8)
    lc[:, 150:] = 2
    write(paths["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    zones = zones_two_halves(folder, split_x=500000.0 + 150 * 30.0)
    extra = (f'[tables]\nlandcover = "clcd"\n[zones]\npath = "{zones.name}"\n'
             'field = "county"\n')
    return load_config(write_config(folder, paths, extra))


def _stack_files(folder, runoff: dict[int, float], temperature: dict[int, float]) -> None:
    """Uniform projected rasters on the climate grid of mapping_helpers."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, values in (("runoff", runoff), ("temperature", temperature)):
        for year, v in values.items():
            write(folder / f"{name}_{year}.tif", np.full(GEO_SHAPE, v, np.float32),
                  GEO_TRANSFORM, GEO, nodata=-9999.0)


SCHEDULE_TOML = """\
[trajectory]
name = "stack test"
first_year = 2020
last_year = 2060
draws = 50
seed = 1

[[trajectory.transitions]]
name = "crop2forest"
from = "cropland"
to = "forest"
start = 2025
end = 2035
maturity_years = 10
maturity_source = "test"
biological_rel_sd = 0.0          # fixed: spares the eligible-area run
karst_rel_sd = 0.2               # a band, to see it scaled too
karst_rel_sd_source = "test"

[trajectory.climate]
stack = { runoff = "proj/runoff_{year}.tif", temperature = "proj/temperature_{year}.tif" }
years = [2040, 2060]
source = "synthetic projection (test)"
"""


def _runoff_stack_run(tmp_path):
    """The schedule with its stack (runoff 500 x 1.2 = 600 mm/yr in 2040 and 2060,
    temperature unchanged, 15), run on the two-class map: (schedule, run)."""
    from karstsink.workflows._trajectory import run_trajectory

    cfg = _two_class_map(tmp_path / "in")
    _stack_files(tmp_path / "in" / "proj", {2040: 600.0, 2060: 600.0},
                 {2040: 15.0, 2060: 15.0})
    (tmp_path / "in" / "trajectory.toml").write_text(SCHEDULE_TOML, encoding="utf-8")
    sched = load_schedule(tmp_path / "in" / "trajectory.toml")
    return sched, run_trajectory(cfg, sched, tmp_path / "scenario", jobs=1, plot=False)


def test_stack_scales_the_karst_path_by_the_runoff_ratio(tmp_path):
    sched, run = _runoff_stack_run(tmp_path)
    folder = tmp_path / "scenario"
    assert not (folder / ".trajectory_climate_runs").exists()  # scratch series removed
    assert not (folder / ".trajectory_runs").exists()

    # Hand reasoning: in the MPD model the karst sink of a pixel is
    # M_C x R x carbonate x U(HCO3), R = runoff / 1000 x f_R(class), and U depends on
    # temperature and soil pCO2 only (docs/maps.md, docs/series.md), so with temperature
    # unchanged every pixel's karst sink, and every zone total, is x 600/500 = 1.2 in the
    # stack years: f_K = 1.2 in 2040 and (held) after. From the baseline year 2020 (f = 1)
    # linear: f_K(2030) = 1 + 0.2 x (2030 - 2020) / (2040 - 2020) = 1.1, f_K(2025) = 1.05.
    # The biological sink (land-cover table, no NEP raster) does not depend on runoff:
    # f_B = 1 throughout.
    years = np.arange(2020, 2061)
    f_hand = np.interp(years, [2020, 2040, 2060], [1.0, 1.2, 1.2])
    assert f_hand[10] == pytest.approx(1.1) and f_hand[5] == pytest.approx(1.05)
    csv = pd.read_csv(folder / "trajectory_climate.csv", keep_default_na=False)
    assert list(csv.columns) == ["zone", "year", "karst_climate_factor",
                                 "biological_climate_factor"]
    assert "trajectory_climate.csv" in run.files
    zones = ["West", "East", "TOTAL (all zones)"]
    assert sorted(set(csv["zone"])) == sorted(zones)
    for z in zones:
        sub = csv[csv["zone"] == z].set_index("year")
        np.testing.assert_array_equal(sub.index, years)
        np.testing.assert_allclose(sub["karst_climate_factor"], f_hand, rtol=1e-5)
        np.testing.assert_allclose(sub["biological_climate_factor"], 1.0, rtol=1e-9)

    # the same schedule with the climate held (no stack), on the same potentials: the
    # stack's karst path (central and band) is f_K x the held path, the biological the same
    held_sched = dataclasses.replace(sched, climate_stack={}, climate_stack_years=(),
                                     climate_source="")
    held = trajectory(held_sched, run.baseline, run.potentials).table
    got = run.result.table
    assert list(got["zone"]) == list(held["zone"]) and list(got["year"]) == list(held["year"])
    f_rows = np.tile(f_hand, len(set(got["zone"])))
    for col in ("karst_sink_t_c_yr", "karst_sink_lo95_t_c_yr", "karst_sink_hi95_t_c_yr"):
        np.testing.assert_allclose(got[col], f_rows * held[col], rtol=1e-5)
    for col in ("biological_sink_t_c_yr", "biological_sink_hi95_t_c_yr"):
        np.testing.assert_allclose(got[col], held[col], rtol=1e-9)
    # the restoration gain: f_K x the karst gain + the biological gain; West in 2060 is
    # fully converted and mature, so its gain is 1.2 x P_karst + P_bio
    pot = run.potentials.set_index("zone")
    west = got[(got["zone"] == "West") & (got["year"] == 2060)].iloc[0]
    assert pot.loc["West", "karst_potential_t_c_yr"] > 0
    assert west["restoration_gain_t_c_yr"] == pytest.approx(
        1.2 * pot.loc["West", "karst_potential_t_c_yr"]
        + pot.loc["West", "biological_potential_t_c_yr"], rel=1e-5)
    text = run.assumptions[0]
    assert "projection stack" in text and "synthetic projection (test)" in text
    assert "2040, 2060" in text and "potentials keep the baseline" in text


def test_stack_config_errors_are_one_line_naming_the_key(tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    for y in (2040, 2060):
        (proj / f"runoff_{y}.tif").write_bytes(b"")  # existence is all the schedule checks
    stack = {"runoff": "proj/runoff_{year}.tif"}
    src = tmp_path / "trajectory.toml"

    def err(climate: dict, **over) -> str:
        with pytest.raises(ConfigError) as info:
            schedule_from_dict(_raw(climate, **over), source=src)
        msg = str(info.value)
        assert "\n" not in msg and msg.startswith(f"{src}: [trajectory.climate]"), msg
        return msg

    good = {"stack": stack, "years": [2040, 2060], "source": "CMIP6 (test)"}
    sched = schedule_from_dict(_raw(good), source=src)
    assert sched.climate_stack_years == (2040, 2060)
    assert sched.climate_stack["runoff"].path == (proj / "runoff_{year}.tif").resolve()
    # an inline table is read like a map [inputs] entry (its units kept)
    for y in (2040, 2060):
        (proj / f"t2m_{y}.tif").write_bytes(b"")
    inline = schedule_from_dict(_raw({**good, "stack": {
        "temperature": {"path": "proj/t2m_{year}.tif", "units": "K"}}}), source=src)
    assert inline.climate_stack["temperature"].units == "K"

    assert "[trajectory.climate] stack and karst_factor" in err(
        {**good, "karst_factor": [[2020, 1.0], [2060, 1.1]]})
    assert "needs {year}" in err({**good, "stack": {"runoff": "proj/runoff_2040.tif"}})
    assert "stack needs source" in err({k: v for k, v in good.items() if k != "source"})
    assert "stack needs years" in err({k: v for k, v in good.items() if k != "years"})
    assert "after first_year 2020" in err({**good, "years": [2020, 2040]})
    assert "must increase" in err({**good, "years": [2060, 2040]})
    assert "1 projected file(s) missing: runoff 2050" in err({**good,
                                                              "years": [2040, 2050]})
    assert "stack landcover" in err({**good, "stack": {"landcover": "lc_{year}.tif"}})
    assert "not a map input" in err({**good, "stack": {"rain": "proj/runoff_{year}.tif"}})
    assert "years are the years of a projection stack" in err({"years": [2040]})
    # the factors of a stack are per zone: neither the scalar API nor a trajectory
    # without the factor table may silently hold the climate
    with pytest.raises(ConfigError, match="stack_climate_factors"):
        sched.climate_factor("karst")
    base = pd.DataFrame({"zone": ["A"], "karst_sink_t_c_yr": [1.0],
                         "biological_sink_t_c_yr": [1.0]})
    pot = pd.DataFrame({"zone": ["A"], "transition": ["crop2forest"],
                        "karst_potential_t_c_yr": [1.0], "biological_potential_t_c_yr": [1.0]})
    with pytest.raises(ConfigError, match=r"stack: its factors are per zone"):
        trajectory(sched, base, pot)


def test_stack_input_not_in_the_map_is_refused_before_any_run(tmp_path):
    from karstsink.workflows._trajectory import run_trajectory

    cfg = _two_class_map(tmp_path / "in")  # runoff, temperature, soil_pco2: no aet
    proj = tmp_path / "in" / "proj"
    proj.mkdir()
    for y in (2040, 2060):
        (proj / f"aet_{y}.tif").write_bytes(b"")
    sched = schedule_from_dict(_raw({"stack": {"aet": "proj/aet_{year}.tif"},
                                     "years": [2040, 2060], "source": "test"}),
                               source=tmp_path / "in" / "trajectory.toml")
    with pytest.raises(ConfigError, match=r"\[trajectory.climate\] stack aet: not an input "
                                          r"of the baseline map"):
        run_trajectory(cfg, sched, tmp_path / "scenario", jobs=1, plot=False)
    assert not (tmp_path / "scenario").exists()  # refused before any map run


def _stack_schedule(tmp_path, years=(2030, 2040), first=2020, last=2050):
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    for y in years:
        (proj / f"runoff_{y}.tif").write_bytes(b"")
    t = dict(TRANSITION, start=2021, end=2021, maturity_years=1)
    return schedule_from_dict(
        _raw({"stack": {"runoff": "proj/runoff_{year}.tif"}, "years": list(years),
              "source": "test"}, first_year=first, last_year=last, transitions=[t]),
        source=tmp_path / "trajectory.toml")


def test_zone_factors_hand_numbers_and_their_use(tmp_path):
    sched = _stack_schedule(tmp_path)
    baseline = pd.DataFrame({"zone": ["A", "B", "C"],
                             "karst_sink_t_c_yr": [100.0, 0.0, 200.0],
                             "biological_sink_t_c_yr": [50.0, 20.0, 0.0]})
    projected = pd.DataFrame({
        "zone": ["A", "B", "C", "A", "B", "C"], "year": [2030] * 3 + [2040] * 3,
        "karst_sink_t_c_yr": [110.0, 5.0, 180.0, 130.0, 5.0, 160.0],
        "biological_sink_t_c_yr": [55.0, 22.0, 3.0, 60.0, 24.0, 4.0]})
    f = stack_climate_factors(sched, baseline, projected).set_index(["zone", "year"])
    assert len(f) == 3 * 31  # every zone, every year 2020-2050
    k, b = f["karst_climate_factor"], f["biological_climate_factor"]
    # A: karst 110/100 = 1.1 (2030), 130/100 = 1.3 (2040); 1 in 2020; 2025 halfway 1.05;
    # 2035 halfway 1.2; held 1.3 after 2040. Biological 55/50 = 1.1, 60/50 = 1.2.
    assert [k["A", y] for y in (2020, 2025, 2030, 2035, 2040, 2050)] == pytest.approx(
        [1.0, 1.05, 1.1, 1.2, 1.3, 1.3])
    assert [b["A", y] for y in (2020, 2030, 2040, 2050)] == pytest.approx([1, 1.1, 1.2, 1.2])
    # B: no baseline karst sink (K_0 = 0): karst factor 1 whatever the projection;
    # biological 22/20 = 1.1, 24/20 = 1.2
    assert [k["B", y] for y in (2020, 2030, 2045)] == pytest.approx([1.0, 1.0, 1.0])
    assert b["B", 2040] == pytest.approx(1.2)
    # C: karst 180/200 = 0.9, 160/200 = 0.8; B_0 = 0: biological factor 1
    assert [k["C", y] for y in (2030, 2040)] == pytest.approx([0.9, 0.8])
    assert b["C", 2040] == pytest.approx(1.0)

    # the factors on the path: one transition converting all of its area in 2021, linear
    # maturity in 1 year (F = 0 in 2021, 1 from 2022); potentials A karst 10, bio 40;
    # B karst 10, bio 0; C 0, 0. Zone A in 2040: karst 1.3 x (100 + 10) = 143,
    # biological 1.2 x (50 + 40) = 108, gain 1.3 x 10 + 1.2 x 40 = 61.
    # Zone B in 2040: karst 1 x (0 + 10) = 10 (K_0 = 0: factor 1). Zone C in 2030:
    # karst 0.9 x 200 = 180.
    pot = pd.DataFrame({"zone": ["A", "B", "C"], "transition": "crop2forest",
                        "karst_potential_t_c_yr": [10.0, 10.0, 0.0],
                        "biological_potential_t_c_yr": [40.0, 0.0, 0.0]})
    tab = trajectory(sched, baseline, pot, climate=f.reset_index()).table.set_index(
        ["zone", "year"])
    assert tab.loc[("A", 2040), "karst_sink_t_c_yr"] == pytest.approx(143.0)
    assert tab.loc[("A", 2040), "biological_sink_t_c_yr"] == pytest.approx(108.0)
    assert tab.loc[("A", 2040), "restoration_gain_t_c_yr"] == pytest.approx(61.0)
    assert tab.loc[("A", 2020), "total_sink_t_c_yr"] == pytest.approx(150.0)
    assert tab.loc[("B", 2040), "karst_sink_t_c_yr"] == pytest.approx(10.0)
    assert tab.loc[("C", 2030), "karst_sink_t_c_yr"] == pytest.approx(180.0)

    # missing and unknown projections are refused (one line each)
    with pytest.raises(ConfigError, match="no zone total for C 2040"):
        stack_climate_factors(sched, baseline, projected.iloc[:5])
    nan = projected.assign(karst_sink_t_c_yr=[110.0, 5.0, 180.0, 130.0, 5.0, np.nan])
    with pytest.raises(ConfigError, match="zone 'C' has a baseline karst sink but no valid"):
        stack_climate_factors(sched, baseline, nan)
    with pytest.raises(ConfigError, match="no factor for C 2050"):
        trajectory(sched, baseline, pot, climate=f.reset_index().iloc[:-1])
    plain = dataclasses.replace(sched, climate_stack={}, climate_stack_years=(),
                                karst_climate=((2020, 1.0), (2050, 1.1)))
    with pytest.raises(ConfigError, match="both give the climate"):
        trajectory(plain, baseline, pot, climate=f.reset_index())


def test_partial_projection_coverage_is_warned(tmp_path):
    # a projected runoff with nodata west of 105.04 E (climate-grid columns 0-6: the grid
    # starts at 104.9 E in 0.02 deg cells) leaves most of the West zone (UTM 48N x from
    # 500,000 m = 105.00 E to 504,500 m) without data: 0.04 deg x 111.32 km x cos(26.2 deg)
    # = 4.0 km of its 4.5 km width; the non-karst rows 0-49 keep a sink (karst 0 whatever
    # the runoff), so 4.0 / 4.5 x 27 km2 x 150 / 200 rows = 18 km2 lose it. Its factor would
    # fall for coverage, not climate, and the stage warns naming West (and the TOTAL row that
    # holds it), not East (east of 105.045 E)
    from karstsink.mapping import run_map
    from karstsink.workflows._trajectory import climate_stack_factors

    cfg = _two_class_map(tmp_path / "in")
    proj = tmp_path / "in" / "proj"
    proj.mkdir()
    q = np.full(GEO_SHAPE, 500.0, np.float32)
    q[:, :7] = -9999.0
    write(proj / "runoff_2040.tif", q, GEO_TRANSFORM, GEO, nodata=-9999.0)
    sched = schedule_from_dict(_raw({"stack": {"runoff": "proj/runoff_{year}.tif"},
                                     "years": [2040], "source": "test"}),
                               source=tmp_path / "in" / "trajectory.toml")
    zonal = run_map(cfg, tmp_path / "base", jobs=1, co2=False, quicklook=False).zonal
    baseline = zonal.assign(zone=zonal["county"].astype(str))
    with pytest.warns(UserWarning, match=r"stack 2040: zone\(s\) West, TOTAL \(all zones\) "
                                         r"have more nodata area .*up to 1[78](\.\d)? km2"):
        factors, projected = climate_stack_factors(cfg, sched, baseline, tmp_path / "work",
                                                   jobs=1)
    assert not (tmp_path / "work").exists()
    f = factors[factors["year"] == 2040].set_index("zone")["karst_climate_factor"]
    assert f["West"] < 1.0 and f["East"] == pytest.approx(1.0, rel=1e-6)
    assert set(projected["year"]) == {2040}


def test_the_year_without_restoration_follows_the_projected_climate(tmp_path):
    from karstsink.units import C_TO_CO2
    from karstsink.workflows._trajectory_section import trajectory_section

    _, run = _runoff_stack_run(tmp_path)
    # without the restoration the sinks are the baseline's, the karst part x f_K (1 in 2020,
    # 1.2 from 2040 on, linear between: the hand factors of the test above), the biological
    # part as it is; the first year that offsets the target share of each scenario
    base = run.baseline.set_index("zone").loc[run.zone]
    years = np.arange(2020, 2061)
    f_k = np.interp(years, [2020, 2040, 2060], [1.0, 1.2, 1.2])
    without = (base["karst_sink_t_c_yr"] * f_k + base["biological_sink_t_c_yr"]) * C_TO_CO2
    held = (base["karst_sink_t_c_yr"] + base["biological_sink_t_c_yr"]) * C_TO_CO2
    # a target just above the best share the held sinks reach (so "held" never reaches it,
    # while the climate-scaled sinks, up to 1.2 x the karst part, do)
    low = run.balance[run.balance["scenario"] == "low-carbon"].set_index("year")
    share = 1.01 * float((100 * held / low["emissions_t_co2_yr"]).max())
    sched = dataclasses.replace(run.result.schedule, target_share_pct=share)
    run = dataclasses.replace(run, result=dataclasses.replace(run.result, schedule=sched))
    text = trajectory_section(run).text.split("without the restoration")[1]
    reached = 0
    for name, g in run.balance.groupby("scenario", sort=False):
        e = g.set_index("year")["emissions_t_co2_yr"].reindex(years).to_numpy()
        hit = years[100 * without / e >= share]
        assert (f"{name} {hit[0]}" if len(hit) else f"{name} not by 2060") in text
        reached += len(hit) > 0
    assert reached >= 1  # the climate path reaches a target the held sinks do not


def test_a_misspelt_trajectory_class_names_its_transition(tmp_path):
    # 'croplnd' is no class of the CLCD table: the one line names the transition (its
    # number in the schedule and its name) and the key, and lists the table's names
    from karstsink.workflows._trajectory import run_trajectory

    cfg = _two_class_map(tmp_path / "in")
    sched = schedule_from_dict(_raw(transitions=[dict(TRANSITION, **{"from": "croplnd"})]),
                               source=tmp_path / "in" / "trajectory.toml")
    with pytest.raises(ConfigError, match=r"Trajectory \[\[trajectory.transitions\]\] 1 "
                                          r"\('crop2forest'\) from: class 'croplnd' is not a "
                                          r"class name of the land-cover table clcd"):
        run_trajectory(cfg, sched, tmp_path / "scenario", jobs=1, plot=False)
