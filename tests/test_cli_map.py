"""`karstsink map`: exit codes, one-line errors, nothing half-written."""

from __future__ import annotations

import re

import numpy as np
from affine import Affine
from click.testing import CliRunner
from mapping_helpers import read, uniform_inputs, write, write_config

from karstsink.cli import main


def test_map_command_writes_everything(tmp_path):
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(out), "--jobs", "2", "--co2"])
    assert res.exit_code == 0, res.output
    # --co2: the printed totals lead in t CO2, the total also in t C
    assert re.search(r"^karst [\d.,]+ (t|kt|Mt) CO2/yr over .*; total [\d.,]+ (t|kt|Mt) "
                     r"CO2/yr \([\d.,]+ (t|kt|Mt) C/yr\)$", res.output, flags=re.M), res.output
    for name in ("karst_sink.tif", "biological_sink.tif", "total_sink.tif", "quicklook.png",
                 "run.json"):
        assert (out / name).is_file()
    # --co2: 12.011 x 0.5 x 1.932 t C km-2 yr-1 x 3.664
    assert np.nanmax(read(out / "karst_sink.tif")) == np.float32(
        np.nanmax(read(out / "karst_sink.tif")))
    assert abs(np.nanmax(read(out / "karst_sink.tif")) / (12.011 * 0.5 * 1.932 * 3.664) - 1) \
        < 0.01


def test_missing_input_is_one_line_exit_1_nothing_written(tmp_path):
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs)
    (tmp_path / "runoff.tif").unlink()
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(out)])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "runoff" in lines[0] and "does not exist" in lines[0]
    assert "Traceback" not in res.output
    assert not out.exists()


def test_raster_without_crs_fails_cleanly(tmp_path):
    inputs = uniform_inputs(tmp_path)
    write(inputs["temperature"], np.full((20, 20), 15.0, np.float32),
          Affine(0.02, 0, 104.9, 0, -0.02, 26.3), None)
    cfg = write_config(tmp_path, inputs)
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(out)])
    assert res.exit_code == 1
    assert "has no CRS" in res.output
    assert not out.exists()
    assert not list(tmp_path.glob(".out.*"))  # no temporary folder left behind


def test_non_overlapping_raster_fails_cleanly(tmp_path):
    inputs = uniform_inputs(tmp_path)
    write(inputs["runoff"], np.full((20, 20), 500.0, np.float32),
          Affine(0.02, 0, 10.0, 0, -0.02, 50.0), "EPSG:4326")
    cfg = write_config(tmp_path, inputs)
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "does not overlap" in res.output


def test_unknown_config_key_fails_cleanly(tmp_path):
    inputs = uniform_inputs(tmp_path)
    cfg = write_config(tmp_path, inputs, extra="[model]\nsytem = \"open\"\n")
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(tmp_path / "out")])
    assert res.exit_code == 1
    assert "unknown key 'sytem'" in res.output


def test_usage_error_exit_2(tmp_path):
    res = CliRunner().invoke(main, ["map", "x.toml"])
    assert res.exit_code == 2
