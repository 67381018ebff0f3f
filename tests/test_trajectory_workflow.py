"""Restoration trajectories from map runs (karstsink.workflows._trajectory) and the demo
report section."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mapping_helpers import (
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    uniform_inputs,
    write,
    write_config,
    zones_two_halves,
)

from karstsink.mapping import load_config, run_map
from karstsink.trajectory import schedule_from_dict, trajectory

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _two_class_map(tmp_path):
    """West half (columns 0-149) cropland (CLCD 1), east half forest (CLCD 2); carbonate
    in rows 50-199; uniform climate; zones West / East split on the class boundary."""
    paths = uniform_inputs(tmp_path / "in", landcover=1)
    lc = np.full(LC_SHAPE, 1, np.uint8)
    lc[:, 150:] = 2
    write(paths["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    zones = zones_two_halves(tmp_path / "in", split_x=500000.0 + 150 * 30.0)
    extra = (f'[tables]\nlandcover = "clcd"\n[zones]\npath = "{zones.name}"\n'
             'field = "county"\n')
    return load_config(write_config(tmp_path / "in", paths, extra))


def test_potentials_from_two_runs_equal_hand_calculation(tmp_path):
    from karstsink.workflows._trajectory import trajectory_potentials

    cfg = _two_class_map(tmp_path)
    sched = schedule_from_dict({"trajectory": {"name": "t", "transitions": [{
        "name": "crop2forest", "from": "Cropland", "to": "forest", "start": 2025,
        "end": 2028, "maturity_years": 4, "maturity_source": "test"}]}})
    base = run_map(cfg, tmp_path / "base", jobs=1, co2=False, quicklook=False)
    baseline, pots = trajectory_potentials(cfg, sched, tmp_path / "work",
                                           baseline_dir=tmp_path / "base", jobs=1)
    assert not (tmp_path / "work").exists()  # scratch runs removed
    zonal = base.zonal.set_index("county")
    p = pots.set_index("zone")
    # areas: 30 m pixels, 0.0009 km2 each; West = 150 x 200 px = 27 km2 of which rows
    # 50-199 (150 x 150 px = 20.25 km2) carbonate
    assert zonal.loc["West", "area_km2"] == pytest.approx(27.0, rel=1e-6)
    assert zonal.loc["West", "karst_area_km2"] == pytest.approx(20.25, rel=1e-6)
    # biological: no NEP raster, so the CLCD table: cropland 0, forest 70 t C km-2 yr-1;
    # West's 27 km2 of cropland to forest gain 70 x 27 = 1890 t C/yr; East has no cropland
    assert p.loc["West", "biological_potential_t_c_yr"] == pytest.approx(1890.0, rel=1e-5)
    assert p.loc["East", "biological_potential_t_c_yr"] == pytest.approx(0.0, abs=1e-6)
    # karst: in this uniform climate a forest karst pixel sinks what East's forest karst
    # pixels sink, so West gains (East's karst sink per carbonate km2 - West's) x 20.25 km2
    east = zonal.loc["East", "karst_sink_t_c_yr"] / zonal.loc["East", "karst_area_km2"]
    west = zonal.loc["West", "karst_sink_t_c_yr"] / zonal.loc["West", "karst_area_km2"]
    assert east > west > 0
    assert p.loc["West", "karst_potential_t_c_yr"] == pytest.approx((east - west) * 20.25,
                                                                     rel=1e-5)
    assert p.loc["East", "karst_potential_t_c_yr"] == pytest.approx(0.0, abs=1e-6)
    # the CLCD forest range 50-90 t C km-2 yr-1 (no biological_rel_sd given): a third run
    # gives the eligible area, West 27 km2, so the potential's range is
    # 1890 + (50 - 70) x 27 = 1350 .. 1890 + (90 - 70) x 27 = 2430 t C/yr
    assert p.loc["West", "eligible_area_km2"] == pytest.approx(27.0, rel=1e-5)
    assert p.loc["West", "biological_potential_lo_t_c_yr"] == pytest.approx(1350.0, rel=1e-5)
    assert p.loc["West", "biological_potential_hi_t_c_yr"] == pytest.approx(2430.0, rel=1e-5)
    assert p.loc["East", "eligible_area_km2"] == pytest.approx(0.0, abs=1e-6)
    tot = next(z for z in p.index if z.startswith("TOTAL"))
    assert p.loc[tot, "biological_potential_t_c_yr"] == pytest.approx(1890.0, rel=1e-5)
    # the trajectory in 2027 (c = .75, F = .1875, see tests/test_trajectory.py):
    # West = baseline + .75 x karst potential + .1875 x 1890
    res = trajectory(sched, baseline, pots).table
    row = res[(res["zone"] == "West") & (res["year"] == 2027)].iloc[0]
    b = baseline.set_index("zone").loc["West"]
    assert row["total_sink_t_c_yr"] == pytest.approx(
        b["karst_sink_t_c_yr"] + b["biological_sink_t_c_yr"]
        + 0.75 * (east - west) * 20.25 + 0.1875 * 1890.0, rel=1e-5)


def test_demo_trajectory_section(tmp_path):
    """The demo's map and schedule give a report section with the 2060 path, its 95 %
    band against the three emission scenarios and the figure."""
    from karstsink.config import load_run_config
    from karstsink.report import write_report
    from karstsink.workflows import demo_data_dir
    from karstsink.workflows._trajectory import run_trajectory
    from karstsink.workflows._trajectory_section import trajectory_section

    cfg = load_run_config(demo_data_dir() / "demo.toml")
    run = run_trajectory(cfg["map"], demo_data_dir() / "trajectory.toml", tmp_path / "scenario",
                         jobs=2)
    bal = run.balance
    assert set(bal["scenario"]) == {"baseline", "high-speed", "low-carbon"}
    assert bal["year"].max() == 2060 and bal["year"].min() == 2020
    assert (bal["total_share_lo95_pct"] <= bal["total_share_pct"]).all()
    assert (bal["total_share_hi95_pct"] >= bal["total_share_pct"]).all()
    path = run.result.table[run.result.table["zone"] == run.zone].set_index("year")
    gain = path["restoration_gain_t_c_yr"]
    assert gain[2060] > gain[2030] > 0
    for name in ("trajectory.csv", "trajectory_balance.csv", "trajectory.png",
                 "trajectory_share_reached.csv", "trajectory_potentials.csv"):
        assert (tmp_path / "scenario" / name).is_file()
    section = trajectory_section(run)
    # a t CO2 run leads with the same gain x 44.009/12.011 (3 significant digits each)
    scale = {"t": 1.0, "kt": 1e3, "Mt": 1e6}

    def lead(text: str, mass: str) -> float:
        found = re.search(r"restoration adds ([\d.,]+) (t|kt|Mt) " + mass + "/yr", text)
        assert found is not None, text
        return float(found.group(1).replace(",", "")) * scale[found.group(2)]

    in_co2 = trajectory_section(run, co2=True).text
    assert lead(in_co2, "CO2") == pytest.approx(lead(section.text, "C") * 44.009 / 12.011,
                                                rel=0.01)
    html = write_report(tmp_path / "report.html", title="t", sections=[section]).read_text(
        encoding="utf-8")
    assert "Restoration trajectory against emission scenarios" in html
    assert "data:image/png;base64" in html
    assert "95 % band" in html and "low-carbon" in html and "2060" in html
    assert pd.read_csv(tmp_path / "scenario" / "trajectory_share_reached.csv").shape[0] == 3
    # the target year is also given without the restoration, from the balance table itself:
    # first-year sinks over each year's emissions, first year at or above the target share
    first = bal[bal["year"] == 2020].set_index("scenario")["total_sink_t_co2_yr"]
    for name, g in bal.groupby("scenario"):
        hit = g[100 * first[name] / g["emissions_t_co2_yr"] >= 30.0]["year"]
        assert (f"{name} {int(hit.min())}" if len(hit) else f"{name} not by 2060") in \
            section.text.split("without the restoration")[1]


def test_trajectory_needs_zones(tmp_path):
    from karstsink.exceptions import ConfigError
    from karstsink.workflows._trajectory import trajectory_potentials

    paths = uniform_inputs(tmp_path / "in", landcover=1)
    cfg = load_config(write_config(tmp_path / "in", paths, '[tables]\nlandcover = "clcd"\n'))
    sched = schedule_from_dict({"trajectory": {"transitions": [{
        "from": "cropland", "to": "forest", "start": 2025, "end": 2030,
        "maturity_years": 10, "maturity_source": "test"}]}})
    with pytest.raises(ConfigError, match=r"needs zones \(\[map.zones\] path and field\)"):
        trajectory_potentials(cfg, sched, tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_demo_config_names_the_schedule():
    """After the integration hooks (config.py ``[scenario] trajectory``, demo.toml), the demo
    run configuration carries the demo schedule."""
    from karstsink.config import load_run_config
    from karstsink.workflows import demo_data_dir

    cfg = load_run_config(demo_data_dir() / "demo.toml")
    if "trajectory" not in cfg["scenario"]:
        pytest.skip("hook not integrated yet: [scenario] trajectory in config.py / demo.toml")
    assert cfg["scenario"]["trajectory"] == (demo_data_dir() / "trajectory.toml").resolve()


def test_map_uncertainty_sd_widens_the_trajectory_band(tmp_path):
    """A baseline map run with [uncertainty] hands its zone sds to the trajectory: before
    any conversion the band is the baseline's own, +-1.96 sd (normal quantiles)."""
    from karstsink.workflows._trajectory import trajectory_potentials

    cfg = _two_class_map(tmp_path)
    text = (tmp_path / "in" / "map.toml").read_text(encoding="utf-8")
    (tmp_path / "in" / "map.toml").write_text(
        text + "[uncertainty]\ndraws = 40\nseed = 3\nrunoff_rel_sd = 0.1\n", encoding="utf-8")
    cfg = load_config(tmp_path / "in" / "map.toml")
    run_map(cfg, tmp_path / "base", jobs=1, co2=False, quicklook=False)
    unc = pd.read_csv(tmp_path / "base" / "uncertainty.csv").set_index("county")
    sched = schedule_from_dict({"trajectory": {"name": "t", "draws": 4000, "transitions": [{
        "name": "crop2forest", "from": "Cropland", "to": "forest", "start": 2025,
        "end": 2028, "maturity_years": 4, "maturity_source": "test"}]}})
    baseline, pots = trajectory_potentials(cfg, sched, tmp_path / "work",
                                           baseline_dir=tmp_path / "base", jobs=1)
    b = baseline.set_index("zone")
    sd = unc.loc["West", "karst_sink_sd_t_c_yr"]
    assert sd > 0  # runoff varies the karst sink
    assert b.loc["West", "karst_sink_sd_t_c_yr"] == pytest.approx(sd, rel=1e-9)
    row = trajectory(sched, baseline, pots).table.set_index(["zone", "year"]).loc[
        ("West", 2020)]
    width = row["karst_sink_hi95_t_c_yr"] - row["karst_sink_lo95_t_c_yr"]
    # 4000 normal draws: the 2.5-97.5 % range is 2 x 1.96 sd to within a few per cent
    assert width == pytest.approx(2 * 1.959964 * sd, rel=0.08)
