"""Issue 11 item 8: the readers live in karstsink.io; old import paths give the same objects."""

from __future__ import annotations

import importlib

import pytest

#: (old path, name, where the code lives now)
MOVED = [
    ("karstsink.samples", "read_samples", "karstsink.io.samples"),
    ("karstsink.samples", "standardize", "karstsink.io.samples"),
    ("karstsink.samples", "computable", "karstsink.io.samples"),
    ("karstsink.samples", "FLAG_DESCRIPTIONS", "karstsink.io.samples"),
    ("karstsink.samples", "FATAL_FLAGS", "karstsink.io.samples"),
    ("karstsink.samples", "ION_COLUMNS", "karstsink.io.samples"),
    ("karstsink.samples", "parse_date_column", "karstsink.io.samples"),
    ("karstsink.flux.samples", "read_flux_samples", "karstsink.io.flux_samples"),
    ("karstsink.flux.samples", "read_flux_table", "karstsink.io.flux_samples"),
    ("karstsink.flux.samples", "flux_samples_from_table", "karstsink.io.flux_samples"),
    ("karstsink.flux.samples", "pair_with_discharge", "karstsink.io.flux_samples"),
    ("karstsink.hydrology", "read_discharge", "karstsink.io.discharge"),
    ("karstsink.hydrology", "Gap", "karstsink.io.discharge"),
    ("karstsink.hydrology", "find_gaps", "karstsink.io.discharge"),
    ("karstsink.scenario", "read_emissions_csv", "karstsink.io.emissions"),
    ("karstsink", "read_samples", "karstsink.io.samples"),
    ("karstsink", "standardize", "karstsink.io.samples"),
]


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_old_import_paths_give_the_io_objects(old, name, new):
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name)


@pytest.mark.parametrize("gone", ["karstsink._samples_io", "karstsink._samples_cells",
                                  "karstsink._samples_headers", "karstsink._samples_long",
                                  "karstsink._io"])
def test_private_reader_modules_are_gone(gone):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(gone)


def test_runoff_depth_stays_in_hydrology():
    from karstsink.hydrology import runoff_depth_mm

    assert runoff_depth_mm.__module__ == "karstsink.hydrology"
    # 1 m3/s over 100 km2: 1 x 3.15576e7 s / 1e8 m2 = 0.315576 m = 315.576 mm per year
    assert runoff_depth_mm(1.0, 100.0) == pytest.approx(315.576, rel=1e-12)


def test_io_package_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, karstsink.io, karstsink.io.text, karstsink.io.cells, "
            "karstsink.io.headers, karstsink.io.atomic; print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"
