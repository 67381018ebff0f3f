"""The warnings of ``karstsink run``'s map and trajectory stages.

The map stage's warnings name the keys as the run configuration writes them
(``[map.grid] like``, ``[map.tables] landcover``), not as a ``karstsink map``
configuration would (``[grid] like``); the trajectory stage runs 3 maps per transition
here (A, B, C: karstsink.workflows._trajectory), and shows each of their warnings once,
indented under its own stage line, as the other stages do.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner
from mapping_helpers import LC_SHAPE, LC_TRANSFORM, UTM, uniform_inputs, write

from karstsink.cli import main
from karstsink.workflows._map_keys import map_text
from karstsink.workflows.run import run_pipeline

#: the zone East reaches 3 km beyond the grid: a DataQualityWarning naming [grid] like
PARTLY = "1 zone(s) lie partly outside the map grid"
#: 100 px of a code the CLCD table lacks: a DataQualityWarning naming [tables] landcover
UNKNOWN = "Land-cover class codes not in table clcd (written as nodata): 99: 100 px."


def _run_config(folder: Path) -> Path:
    """A map (West cropland, East forest, 100 px of class 99) with zones, and a
    restoration schedule (cropland to forest, with the CLCD forest range: runs A, B, C)."""
    paths = uniform_inputs(folder, landcover=1)
    lc = np.full(LC_SHAPE, 1, np.uint8)
    lc[:, 150:] = 2
    lc[100:110, 10:20] = 99
    write(paths["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    left, top = 500000.0, 2900000.0
    right, bottom = left + 30 * LC_SHAPE[1], top - 30 * LC_SHAPE[0]
    split = left + 150 * 30
    gpd.GeoDataFrame({"county": ["West", "East"]},
                     geometry=[shapely.box(left, bottom, split, top),
                               shapely.box(split, bottom, right + 3000, top)],
                     crs=UTM).to_file(folder / "zones.gpkg")
    (folder / "schedule.toml").write_text(
        '[trajectory]\nname = "t"\nfirst_year = 2020\nlast_year = 2030\n'
        '[[trajectory.transitions]]\nname = "crop2forest"\nfrom = ["cropland"]\n'
        'to = "forest"\nstart = 2022\nend = 2026\nmaturity_years = 4\n'
        'maturity_source = "test"\n', encoding="utf-8")
    cfg = folder / "run.toml"
    cfg.write_text(
        "[map.inputs]\n" + "".join(f'{k} = "{Path(v).name}"\n' for k, v in paths.items())
        + '[map.tables]\nlandcover = "clcd"\n[map.zones]\npath = "zones.gpkg"\n'
        'field = "county"\n[scenario]\ntrajectory = "schedule.toml"\n', encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def run_once(tmp_path_factory):
    """``karstsink run`` of :func:`_run_config`: (its result, its output folder)."""
    folder = tmp_path_factory.mktemp("run_warnings")
    result = CliRunner().invoke(main, ["run", str(_run_config(folder)), "-o",
                                       str(folder / "out"), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    return result, folder / "out"


@pytest.fixture(scope="module")
def stages(run_once) -> dict[str, list[str]]:
    """The warning lines of the run's stderr, by the stage line they follow."""
    result, _ = run_once
    out: dict[str, list[str]] = {}
    stage = ""
    for line in result.stderr.splitlines():
        if line.startswith("["):  # "[3/4] restoration trajectory ..."
            stage = line.split("] ", 1)[1].removesuffix(" ...")
            out[stage] = []
        elif "warning:" in line:
            assert line.startswith("      warning: "), line  # indented under its stage
            out.setdefault(stage, []).append(line.removeprefix("      warning: "))
    return out


def test_map_stage_warnings_name_the_run_keys(stages):
    shown = stages["sink maps"]
    partly = [w for w in shown if w.startswith(PARTLY)]
    unknown = [w for w in shown if w.startswith(UNKNOWN)]
    assert len(partly) == 1 and len(unknown) == 1, shown
    assert partly[0].endswith("(the land-cover raster, or [map.grid] like).")
    assert unknown[0].endswith("Add them to a custom [map.tables] landcover CSV.")
    assert not any(key in w for w in shown for key in ("[grid]", "[tables]")), shown


def test_trajectory_stage_warnings_are_shown_once_under_its_stage(stages):
    assert "" not in stages, stages  # no warning before a stage line (unindented)
    shown = stages["restoration trajectory"]
    # its baseline, A, B and C runs warn alike: once each, the run's keys and the map's
    # land-cover table (not the runs' scratch copy of it)
    assert sorted(shown) == sorted(stages["sink maps"]), shown
    assert len(shown) == len(set(shown)) == 2, shown
    assert not any(".trajectory_runs" in w or "[grid]" in w for w in shown), shown
    assert stages["scenario balance"] == [] and stages["report"] == []


def test_run_pipeline_hands_the_trajectory_warnings_to_echo(tmp_path):
    lines: list[str] = []
    run_pipeline(_run_config(tmp_path), tmp_path / "out", jobs=1, echo=lines.append)
    start = lines.index("[3/4] restoration trajectory ...")
    warned = [w for w in lines if "warning:" in w]
    assert [w for w in lines[start:] if "warning:" in w] == warned[2:]
    assert len(warned) == 4 and len(set(warned[2:])) == 2, lines


def test_map_text_relabels_only_the_map_sections():
    assert map_text("[grid] like; [zones] field; [inputs] runoff") == (
        "[map.grid] like; [map.zones] field; [map.inputs] runoff")
    for text in ("[map.zones] field", "s.toml: [trajectory.climate] stack temperature",
                 "catchments[0].units"):
        assert map_text(text) == text
    # the [model] keys a run sets in [carbon] (config refuses them in [map.model]) name it
    assert map_text("no SO4 or NO3 given ([model] so4_mmol_l, no3_mmol_l, ...)") == (
        "no SO4 or NO3 given ([carbon] so4_mmol_l, no3_mmol_l, ...)")
    assert map_text("[model] acid_so4_share = 0.5; [model] co2") == (
        "[carbon] acid_so4_share = 0.5; [map.model] co2")


def test_the_maps_own_assumptions_name_the_run_keys(run_once):
    # the map stage's map/run.json and its rasters' assumption tag say "[carbon]
    # so4_mmol_l", the key of the run configuration ([model] so4_mmol_l is refused there)
    import json

    import rasterio

    _, out = run_once
    said = json.loads((out / "map" / "run.json").read_text(encoding="utf-8"))["assumptions"]
    with rasterio.open(out / "map" / "karst_sink.tif") as src:
        tagged = json.loads(src.tags()["karstsink_assumptions"])
    for texts in (said, tagged):
        assert any("[carbon] so4_mmol_l" in t for t in texts), texts
        assert not any("[model] so4_mmol_l" in t or "[grid]" in t for t in texts), texts
