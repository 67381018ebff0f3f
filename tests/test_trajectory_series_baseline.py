"""A restoration trajectory on a map *series*: its baseline is the series' last year
(``map/<year>/``, as ``karstsink run`` hands it over), and the band takes that year's
Monte Carlo sds from the series' ``map/uncertainty.csv`` (one table, a ``year`` column)."""

from __future__ import annotations

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

from karstsink.mapping import load_config, run_map
from karstsink.trajectory import schedule_from_dict

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

#: uniform runoff per year [mm/yr]
RUNOFF = {2000: 500.0, 2020: 800.0}


def _series_map(folder):
    """West half cropland (CLCD 1), east half forest (2), carbonate in rows 50-199, the
    runoff of :data:`RUNOFF` by year, zones West / East, [uncertainty] on runoff."""
    paths = uniform_inputs(folder, landcover=1)
    lc = np.full(LC_SHAPE, 1, np.uint8)
    lc[:, 150:] = 2
    write(paths["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    for y, q in RUNOFF.items():
        write(folder / f"runoff_{y}.tif", np.full(GEO_SHAPE, q, np.float32), GEO_TRANSFORM,
              GEO, nodata=-9999.0)
    zones = zones_two_halves(folder, split_x=500000.0 + 150 * 30.0)
    extra = (f'[tables]\nlandcover = "clcd"\n[zones]\npath = "{zones.name}"\n'
             'field = "county"\n[series]\nyears = [2000, 2020]\n'
             "[uncertainty]\ndraws = 40\nseed = 3\nrunoff_rel_sd = 0.1\n")
    return load_config(write_config(folder, {**paths, "runoff": folder / "runoff_{year}.tif"},
                                    extra))


def test_series_baseline_takes_its_years_map_sd(tmp_path):
    from karstsink.workflows._trajectory import trajectory_potentials

    cfg = _series_map(tmp_path / "in")
    run_map(cfg, tmp_path / "map", jobs=1, co2=False, quicklook=False)
    assert not (tmp_path / "map" / "2020" / "uncertainty.csv").exists()  # the series' layout
    unc = pd.read_csv(tmp_path / "map" / "uncertainty.csv").set_index(["year", "county"])
    sched = schedule_from_dict({"trajectory": {"name": "t", "transitions": [{
        "name": "crop2forest", "from": "Cropland", "to": "forest", "start": 2025,
        "end": 2028, "maturity_years": 4, "maturity_source": "test"}]}})
    baseline, _ = trajectory_potentials(cfg, sched, tmp_path / "work",
                                        baseline_dir=tmp_path / "map" / "2020", jobs=1)
    b = baseline.set_index("zone")
    assert "karst_sink_sd_t_c_yr" in b
    for zone in ("West", "East"):
        sd = b.loc[zone, "karst_sink_sd_t_c_yr"]
        assert sd > 0  # runoff varies the karst sink
        # the 2020 row of the series' table, not the 2000 one: the karst sink is linear in
        # runoff and one runoff factor per draw is shared by every year, so the 2020 sd is
        # the 2000 sd x 800 / 500 = 1.6
        assert sd == pytest.approx(unc.loc[(2020, zone), "karst_sink_sd_t_c_yr"], rel=1e-9)
        assert sd / unc.loc[(2000, zone), "karst_sink_sd_t_c_yr"] == pytest.approx(
            RUNOFF[2020] / RUNOFF[2000], rel=1e-4)
        # and the central value the 2020 map's (its zone table, as before)
        assert b.loc[zone, "karst_sink_t_c_yr"] == pytest.approx(
            unc.loc[(2020, zone), "karst_sink_t_c_yr"], rel=1e-9)
