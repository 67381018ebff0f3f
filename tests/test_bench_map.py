"""The map benchmark's yardstick: the I/O floor writes exactly the map's output values.

``benchmarks/bench_map.py`` times the map against a floor that reads every input
once and writes the three outputs.  The ratio means something only if the floor
writes the same values as the map (their compressibility sets the cost of
writing), so this checks, on a small grid with edge blocks, that both floors'
files hold the values of an independent ``run_map`` of the same inputs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import rasterio

from karstsink.mapping.config import load_config
from karstsink.mapping.engine import run_map

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_map.py"


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bench_map", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    work = tmp_path_factory.mktemp("bench_map")
    mod.make_inputs(work, 600, 530)  # 2 x 2 blocks of 512, the last ones partial
    mod.dump_values(work)
    return mod, work


def _band(path):
    with rasterio.open(path) as ds:
        return ds.read(1), ds.transform, ds.crs


@pytest.mark.parametrize("own_encoder", [False, True])
def test_floor_writes_the_maps_values(bench, own_encoder, tmp_path):
    mod, work = bench
    out = tmp_path / "floor"
    mod.floor_pass(work, out, jobs=2, own_encoder=own_encoder)
    ref = tmp_path / "map"
    run_map(load_config(work / "map.toml"), ref, jobs=1, quicklook=False)
    with rasterio.open(work / "lc.tif") as ds:
        lc_transform, lc_crs = ds.transform, ds.crs
    for i, stem in enumerate(mod.STEMS):
        got, tr, crs = _band(out / f"o{i}.tif")
        want, _, _ = _band(ref / f"{stem}.tif")
        assert got.shape == (530, 600)
        assert tr == lc_transform and crs == lc_crs
        # bit for bit, NaN (nodata) in the same places
        np.testing.assert_array_equal(got, want)
        assert np.count_nonzero(want) > 0.2 * want.size  # not a trivially empty map


def test_stand_in_floor_and_values_read_run(bench, tmp_path):
    mod, work = bench
    mod.floor_pass(work, tmp_path / "standin", jobs=2, stand_in=True)
    with rasterio.open(tmp_path / "standin" / "o0.tif") as ds:
        assert ds.shape == (530, 600)
    mod.values_read_pass(work, jobs=2)


def test_block_offsets_by_hand():
    # blocks of 512 x 512, 512 x 88, 18 x 512, 18 x 88 float32 (a 530 x 600 grid):
    # offsets 0, 512*512*4 = 1048576, + 512*88*4 = 180224 -> 1228800, + 18*512*4 = 36864
    # -> 1265664
    from rasterio.windows import Window

    spec = importlib.util.spec_from_file_location("bench_map_o", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ws = [Window(0, 0, 512, 512), Window(512, 0, 88, 512), Window(0, 512, 512, 18),
          Window(512, 512, 88, 18)]
    assert mod._block_offsets(ws) == [0, 1048576, 1228800, 1265664]
