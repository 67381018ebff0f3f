"""The map benchmark's yardstick: the I/O floor writes exactly the map's output values.

``benchmarks/bench_map.py`` times the map against a floor that reads every input
once and writes the three outputs.  The ratio means something only if the floor
writes the same values as the map (their compressibility sets the cost of
writing) with the same compression (DEFLATE level 1, floating-point predictor,
512-px tiles), so this checks both on a small grid with partial edge blocks.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_map.py"


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_map", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bench_map = _load_bench()


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bench_map")
    bench_map.make_inputs(folder, 600, 530)  # 2 x 2 blocks of 512, the last ones partial
    bench_map.dump_values(folder)
    return folder


@pytest.fixture(scope="module")
def reference(work, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_map_ref")
    run_map(load_config(work / "map.toml"), out, jobs=1, quicklook=False)
    return out


@pytest.fixture(scope="module")
def gdal_floor(work, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench_map_floor")
    bench_map.floor_pass(work, out, jobs=2)
    return out


def _band(path):
    with rasterio.open(path) as ds:
        return ds.read(1), ds.transform, ds.crs


@pytest.mark.parametrize("own_encoder", [False, True])
def test_floor_writes_the_maps_values(work, reference, gdal_floor, own_encoder, tmp_path):
    out = gdal_floor
    if own_encoder:
        out = tmp_path / "floor"
        bench_map.floor_pass(work, out, jobs=2, own_encoder=True)
    with rasterio.open(work / "lc.tif") as ds:
        lc_transform, lc_crs = ds.transform, ds.crs
    for i, stem in enumerate(bench_map.STEMS):
        got, tr, crs = _band(out / f"o{i}.tif")
        want, _, _ = _band(reference / f"{stem}.tif")
        assert got.shape == (530, 600)
        assert tr == lc_transform and crs == lc_crs
        # bit for bit (signed zeros and NaN payloads included)
        np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
        # not a trivially empty map: most pixels finite and non-zero
        assert np.count_nonzero(np.isfinite(want) & (want != 0)) > 0.2 * want.size


def test_gdal_floor_compresses_like_the_map(gdal_floor, tmp_path):
    """DEFLATE level 1, predictor 3, 512-px tiles: tile by tile the same bytes as a
    raster written with those options given explicitly (GDAL's default level is 6)."""
    out = gdal_floor
    with rasterio.open(out / "o0.tif") as ds:
        assert ds.compression.name.lower() == "deflate"
        assert ds.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert ds.block_shapes == [(512, 512)]
        vals, prof = ds.read(1), ds.profile
    explicit = tmp_path / "explicit.tif"
    prof.update(zlevel=1, predictor=3, blockxsize=512, blockysize=512, tiled=True,
                compress="deflate")
    with rasterio.open(explicit, "w", **prof) as ds:
        ds.write(vals, 1)
    level6 = tmp_path / "level6.tif"
    prof.update(zlevel=6)
    with rasterio.open(level6, "w", **prof) as ds:
        ds.write(vals, 1)
    sizes = {}
    for name, path in (("floor", out / "o0.tif"), ("level1", explicit), ("level6", level6)):
        with rasterio.open(path) as ds:
            sizes[name] = [int(ds.get_tag_item(f"BLOCK_SIZE_{r}_{c}", "TIFF", bidx=1))
                           for r in range(2) for c in range(2)]
    assert sizes["floor"] == sizes["level1"]
    assert sizes["level1"] != sizes["level6"]  # the check can tell the levels apart


def test_stand_in_floor_and_values_read_run(work, tmp_path):
    bench_map.floor_pass(work, tmp_path / "standin", jobs=2, stand_in=True)
    with rasterio.open(tmp_path / "standin" / "o0.tif") as ds:
        assert ds.shape == (530, 600)
    assert bench_map.values_read_pass(work, jobs=2) > 0


def test_value_files_must_match_the_grid(work, tmp_path):
    # a value file one block short: refused with a message naming the file
    bad = tmp_path / "bad"
    (bad / "values").mkdir(parents=True)
    for stem in bench_map.STEMS:
        data = (work / "values" / f"{stem}.f32").read_bytes()
        (bad / "values" / f"{stem}.f32").write_bytes(data[:-4])
    windows, _ = bench_map._lc_windows(work)
    with pytest.raises(RuntimeError, match=r"karst_sink\.f32 does not match"):
        bench_map._Values(bad, windows)


def test_block_offsets_by_hand():
    # blocks of 512 x 512, 512 x 88, 18 x 512, 18 x 88 float32 (a 530 x 600 grid):
    # offsets 0, 512*512*4 = 1048576, + 512*88*4 = 180224 -> 1228800, + 18*512*4 = 36864
    # -> 1265664
    ws = [Window(0, 0, 512, 512), Window(512, 0, 88, 512), Window(0, 512, 512, 18),
          Window(512, 512, 88, 18)]
    assert bench_map._block_offsets(ws) == [0, 1048576, 1228800, 1265664]
