"""Every script in examples/ runs (issue 5: CI runs the examples the docs show)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def _run(args, cwd):
    proc = subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_examples_are_listed():
    names = {p.name for p in EXAMPLES}
    assert {"speciate_field_samples.py", "catchment_flux.py", "scenario_balance.py",
            "make_map_inputs.py"} <= names
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    for name in names:
        assert name in readme, f"{name} is not described in examples/README.md"


@pytest.mark.parametrize("script", [p for p in EXAMPLES if p.name != "make_map_inputs.py"],
                         ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    out = _run([script, "--out", tmp_path / "out"], cwd=tmp_path)
    assert out.strip()
    assert any((tmp_path / "out").iterdir())


def test_map_example_runs_end_to_end(tmp_path):
    # the documented two steps: make the synthetic inputs, then `karstsink map` on them
    _run([ROOT / "examples" / "make_map_inputs.py", tmp_path / "inputs"], cwd=tmp_path)
    _run(["-m", "karstsink", "map", tmp_path / "inputs" / "map_config.toml", "-o",
          tmp_path / "maps", "--jobs", "2"], cwd=tmp_path)
    for name in ("karst_sink.tif", "biological_sink.tif", "total_sink.tif",
                 "zonal_totals.csv"):
        assert (tmp_path / "maps" / name).is_file()
