"""The streaming COG writer: lossless round trips, COG layout, GDAL-identical georeferencing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_helpers import UTM, cog_layout_errors
from rasterio.shutil import copy as rio_copy

from karstsink.mapping import _cog
from karstsink.mapping._cog import StreamingCOG, encode_tile, read_ifds
from karstsink.mapping.executor import halve

TR = Affine(30.0, 0.0, 350000.0, 0.0, -30.0, 3010000.0)


def write_cog(path, data, levels, tile, crs=UTM, transform=TR, bigtiff=None, **kw):
    """Feed ``data`` and its 2x2-average overviews through StreamingCOG."""
    cog = StreamingCOG(data.shape[1], data.shape[0], levels, tile, path.parent / "scratch",
                       crs=crs, transform=transform, **kw)
    level = data
    pyramid = []
    for k in range(levels + 1):
        pyramid.append(level)
        nty, ntx = cog.tiles_shape(k)
        # any arrival order: the store index, not the order, places the tiles
        for r in reversed(range(nty)):
            for c in range(ntx):
                cog.put(k, r, c, encode_tile(level[r * tile:(r + 1) * tile,
                                                   c * tile:(c + 1) * tile], tile))
        level = halve(level)
    cog.close(path, bigtiff=bigtiff)
    return pyramid


@pytest.fixture
def field():
    rng = np.random.default_rng(11)
    a = (rng.gamma(2.0, 5.0, (300, 410))).astype(np.float32)
    a[20:60, 100:170] = np.nan
    a[0, 0] = 0.0
    a[5, 7] = -3.5e-12
    return a


@pytest.mark.parametrize("bigtiff", [False, True])
def test_round_trip_is_lossless_at_every_level(tmp_path, field, bigtiff):
    out = tmp_path / "a.tif"
    pyramid = write_cog(out, field, 3, 64, bigtiff=bigtiff)
    assert read_ifds(out)[0] is bigtiff
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2, 4, 8]
        assert np.array_equal(ds.read(1), field, equal_nan=True)
    for k in (1, 2, 3):
        with rasterio.open(out, overview_level=k - 1) as ds:
            assert np.array_equal(ds.read(1), pyramid[k], equal_nan=True)
    assert cog_layout_errors(out) == []


def test_georeferencing_and_metadata_match_gdal(tmp_path, field):
    tags = {"units": "t C km-2 yr-1", "phreeqc_database_sha256": "ab" * 32}
    band = {"units": "t C km-2 yr-1", "quantity": "karst"}
    out = tmp_path / "ours.tif"
    write_cog(out, field, 2, 128, tags=tags, band_tags=band, description="Karst sink")
    ref = tmp_path / "gdal.tif"
    with rasterio.open(ref, "w", driver="GTiff", width=field.shape[1], height=field.shape[0],
                       count=1, dtype="float32", crs=UTM, transform=TR,
                       nodata=float("nan")) as ds:
        ds.write(field, 1)
        ds.update_tags(**tags)
        ds.update_tags(1, **band)
        ds.set_band_description(1, "Karst sink")
    with rasterio.open(out) as a, rasterio.open(ref) as b:
        assert a.crs == b.crs and a.transform == b.transform
        assert a.tags() == b.tags() and a.tags(1) == b.tags(1)
        assert a.descriptions == b.descriptions
        assert math.isnan(a.nodata)
        assert a.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert a.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"
        assert a.profile["compress"] == "deflate" and a.block_shapes == [(128, 128)]


def test_geographic_crs(tmp_path, field):
    tr = Affine(0.01, 0.0, 104.0, 0.0, -0.01, 29.0)
    out = tmp_path / "geo.tif"
    write_cog(out, field, 1, 256, crs="EPSG:4326", transform=tr)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 4326 and ds.transform == tr


def test_layout_checker_accepts_gdal_cogs_and_rejects_plain_tiffs(tmp_path, field):
    """The checker used above can fail: GDAL's own COG passes, a GeoTIFF with
    overviews appended after the data does not."""
    src = tmp_path / "src.tif"
    with rasterio.open(src, "w", driver="GTiff", width=field.shape[1], height=field.shape[0],
                       count=1, dtype="float32", crs=UTM, transform=TR, tiled=True,
                       blockxsize=128, blockysize=128, compress="deflate") as ds:
        ds.write(field, 1)
    gdal_cog = tmp_path / "gdal_cog.tif"
    rio_copy(str(src), str(gdal_cog), driver="COG", BLOCKSIZE=128, COMPRESS="DEFLATE")
    assert cog_layout_errors(gdal_cog) == []
    with rasterio.open(src, "r+") as ds:
        ds.build_overviews([2, 4])
    assert cog_layout_errors(src)


@settings(max_examples=30, deadline=None)
@given(h=st.integers(1, 90), w=st.integers(1, 90), tile=st.sampled_from([16, 32]),
       seed=st.integers(0, 2**16))
def test_predictor_and_round_trip_property(tmp_path_factory, h, w, tile, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1e3, (h, w)).astype(np.float32)
    a[rng.random((h, w)) < 0.1] = np.nan
    assert np.array_equal(_cog._predict(a), _cog._predict_np(a))
    levels = 0
    while max(-(-h // 2**levels), -(-w // 2**levels)) > tile:
        levels += 1
    out = tmp_path_factory.mktemp("p") / "p.tif"
    write_cog(out, a, levels, tile)
    with rasterio.open(out) as ds:
        assert ds.shape == (h, w)
        assert np.array_equal(ds.read(1), a, equal_nan=True)
    assert cog_layout_errors(out) == []


def test_missing_tile_is_an_error_and_leaves_no_file(tmp_path, field):
    cog = StreamingCOG(field.shape[1], field.shape[0], 0, 256, tmp_path / "s", crs=UTM,
                       transform=TR)
    cog.put(0, 0, 0, encode_tile(field[:256, :256], 256))
    with pytest.raises(RuntimeError, match="misses tile"):
        cog.close(tmp_path / "x.tif")
    assert not (tmp_path / "x.tif").exists()
    assert not any((tmp_path / "s").iterdir())


def test_copy_without_kernel_copy(tmp_path, field, monkeypatch):
    """Systems without os.copy_file_range (Windows, macOS) copy by read and write."""
    monkeypatch.delattr(_cog.os, "copy_file_range", raising=False)
    out = tmp_path / "b.tif"
    write_cog(out, field, 2, 128)
    with rasterio.open(out) as ds:
        assert np.array_equal(ds.read(1), field, equal_nan=True)
    assert cog_layout_errors(out) == []


def test_zlib_fallback_writes_the_same_pixels(tmp_path, field, monkeypatch):
    """Without the isal package the tiles are deflated by zlib (same format)."""
    import zlib

    monkeypatch.setattr(_cog, "_deflate_mod", zlib)
    out = tmp_path / "z.tif"
    write_cog(out, field, 1, 128)
    with rasterio.open(out) as ds:
        assert np.array_equal(ds.read(1), field, equal_nan=True)
