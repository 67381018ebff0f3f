"""``karstsink run`` checks the map section's files before its first stage, and its map
errors name the keys as the run configuration writes them (``[map.zones]``,
``[map.inputs]``), not as a ``karstsink map`` configuration would (``[zones]``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from mapping_helpers import (
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    uniform_inputs,
    write,
    zones_two_halves,
)

from karstsink.cli import main
from karstsink.exceptions import ConfigError, DataError, RasterError
from karstsink.mapping._precheck import check_map_files
from karstsink.mapping.config import load_config
from karstsink.workflows.run import demo_config_path, run_pipeline


def _run_config(folder: Path, inputs: dict, field: str = "county", extra: str = "") -> Path:
    """A run with one demo catchment (speciation and flux stages first) and a map."""
    shutil.copytree(demo_config_path().parent / "catchments", folder / "catchments")
    zones_two_halves(folder)
    text = ('[[catchments]]\nname = "longtan"\narea_km2 = 75\n'
            'discharge = "catchments/longtan_discharge.csv"\n'
            'samples = "catchments/longtan_samples.csv"\n[map.inputs]\n'
            + "".join(f'{k} = "{Path(v).name}"\n' for k, v in inputs.items())
            + f'[map.zones]\npath = "zones.gpkg"\nfield = "{field}"\n' + extra)
    cfg = folder / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _invoke(cfg: Path, out: Path):
    result = CliRunner().invoke(main, ["run", str(cfg), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and not out.exists()
    return result.output


def test_a_corrupt_map_raster_is_refused_before_speciation(tmp_path):
    inputs = uniform_inputs(tmp_path)
    inputs["temperature"].write_bytes(b"not a GeoTIFF")
    text = _invoke(_run_config(tmp_path, inputs), tmp_path / "out")
    assert "[1/" not in text  # no stage started: speciation and fluxes never ran
    assert "Error: [map.inputs] temperature: Cannot read raster" in text
    assert "temperature.tif" in text


def test_a_map_raster_without_crs_is_refused_before_speciation(tmp_path):
    inputs = uniform_inputs(tmp_path)
    write(inputs["temperature"], np.full(GEO_SHAPE, 15.0, np.float32), GEO_TRANSFORM, None)
    text = _invoke(_run_config(tmp_path, inputs), tmp_path / "out")
    assert "[1/" not in text
    assert "Error: [map.inputs] temperature: Raster" in text and "has no CRS" in text


def test_a_zones_field_that_is_not_in_the_file_names_map_zones(tmp_path):
    text = _invoke(_run_config(tmp_path, uniform_inputs(tmp_path), field="name"),
                   tmp_path / "out")
    assert "[1/" not in text
    assert "Error: [map.zones] field 'name' is not a column of" in text
    assert "columns: county" in text and "Error: [zones]" not in text


def test_a_corrupt_year_of_a_series_is_refused_before_speciation(tmp_path):
    inputs = uniform_inputs(tmp_path)
    for y in (2000, 2010):
        write(tmp_path / f"runoff_{y}.tif", np.full(LC_SHAPE, 500.0, np.float32),
              LC_TRANSFORM, UTM)
    (tmp_path / "runoff_2010.tif").write_bytes(b"truncated")
    inputs["runoff"] = tmp_path / "runoff_{year}.tif"
    cfg = _run_config(tmp_path, inputs, extra="[map.series]\nyears = [2000, 2010]\n")
    text = _invoke(cfg, tmp_path / "out")
    assert "[1/" not in text
    assert "Error: [map.inputs] runoff: Cannot read raster" in text
    assert "runoff_2010.tif" in text


def test_errors_of_the_map_stage_itself_name_the_run_keys(tmp_path):
    # runoff in m/yr (0.5) is seen only in the map pass's sample of the pixels: the
    # message's fix names [map.inputs], the table the run configuration has
    inputs = uniform_inputs(tmp_path)
    write(inputs["runoff"], np.full(GEO_SHAPE, 0.5, np.float32), GEO_TRANSFORM, "EPSG:4326",
          nodata=-9999.0)
    text = _invoke(_run_config(tmp_path, inputs), tmp_path / "out")
    assert "[3/" in text  # the map stage (after speciation and fluxes) found it
    assert "[map.inputs] runoff = { path" in text and "[inputs] runoff" not in text


def test_check_map_files_names_the_map_config_keys(tmp_path):
    # the same checks on a `karstsink map` configuration name its own sections
    inputs = uniform_inputs(tmp_path)
    zones_two_halves(tmp_path)
    lines = ["[inputs]"] + [f'{k} = "{Path(v).name}"' for k, v in inputs.items()]
    cfg = tmp_path / "map.toml"
    cfg.write_text("\n".join(lines) + '\n[zones]\npath = "zones.gpkg"\nfield = "county"\n',
                   encoding="utf-8")
    check_map_files(load_config(cfg))  # all fine: nothing raised
    (tmp_path / "zones.gpkg").unlink()
    (tmp_path / "zones.gpkg").write_bytes(b"")
    with pytest.raises(DataError, match=r"^\[zones\] path: Cannot read zones file"):
        check_map_files(load_config(cfg))
    inputs["carbonate"].write_bytes(b"x")
    with pytest.raises(RasterError, match=r"^\[inputs\] carbonate: Cannot read raster"):
        check_map_files(load_config(cfg))


def test_run_pipeline_raises_the_relabelled_error_type(tmp_path):
    cfg = _run_config(tmp_path, uniform_inputs(tmp_path), field="name")
    with pytest.raises(ConfigError, match=r"^\[map\.zones\] field 'name'"):
        run_pipeline(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


NAMED = '[map.tables]\nlandcover = "clcd"\n'
BAD_CLASS = "from: class 'croplnd' is not a class name of the land-cover table"


@pytest.mark.parametrize("tables, from_class, extra, message", [
    # with [map.tables] landcover named, the schedule's class names are checked with the
    # configuration: 'croplnd' stopped the run only at its trajectory stage, after the map
    (NAMED, "croplnd", "", BAD_CLASS + " clcd"),
    # without it the table is guessed from the land-cover raster; the names were then
    # checked only at the trajectory stage, after the speciation, the fluxes and the map
    ("", "croplnd", "", BAD_CLASS + " worldcover"),
    # a slope rule needs a DEM: also refused before the first stage
    (NAMED, "cropland", "min_slope_deg = 25\n", "uses min_slope_deg, which needs "
                                               "[map.inputs] dem"),
])
def test_a_schedule_the_map_cannot_take_is_refused_before_speciation(tmp_path, tables,
                                                                     from_class, extra,
                                                                     message):
    inputs = uniform_inputs(tmp_path)
    (tmp_path / "trajectory.toml").write_text(
        '[trajectory]\nname = "t"\n[[trajectory.transitions]]\nname = "c2f"\n'
        f'from = ["{from_class}"]\nto = "forest"\nstart = 2025\nend = 2035\n'
        'maturity_years = 10\nmaturity_source = "test"\n' + extra, encoding="utf-8")
    cfg = _run_config(tmp_path, inputs,
                      extra=tables + '[scenario]\ntrajectory = "trajectory.toml"\n')
    text = _invoke(cfg, tmp_path / "out")
    assert "[1/" not in text  # no stage started
    assert f"trajectory.toml: [[trajectory.transitions]] 1 ('c2f') {message}" in text


@pytest.mark.parametrize("second, message", [
    # 1 is cropland's CLCD code: the same class as transition 1's 'cropland', so the
    # steep cropland was counted twice (restoration +814 instead of +162 kt C/yr)
    ('from = [1]\nto = "forest"\n', "2 ('c2g') and 'c2f' both convert class 1 of clcd"),
    # grassland to grassland converts nothing: refused with the schedule's file and key
    # before the first stage (it stopped the run after the maps, naming neither)
    ('from = ["grassland"]\nto = "grassland"\n', "2 ('c2g') converts class 'grassland' to "
                                                 "itself"),
])
def test_two_transitions_of_one_class_and_a_self_transition_are_refused_first(
        tmp_path, second, message):
    inputs = uniform_inputs(tmp_path)
    (tmp_path / "trajectory.toml").write_text(
        '[trajectory]\nname = "t"\n[[trajectory.transitions]]\nname = "c2f"\n'
        'from = ["cropland"]\nto = "forest"\nstart = 2025\nend = 2035\n'
        'maturity_years = 10\nmaturity_source = "test"\n'
        '[[trajectory.transitions]]\nname = "c2g"\n' + second
        + 'start = 2025\nend = 2035\nmaturity_years = 10\nmaturity_source = "test"\n',
        encoding="utf-8")
    cfg = _run_config(tmp_path, inputs,
                      extra=NAMED + '[scenario]\ntrajectory = "trajectory.toml"\n')
    text = _invoke(cfg, tmp_path / "out")
    assert "[1/" not in text  # no stage started
    assert f"trajectory.toml: [[trajectory.transitions]] {message}" in text
