"""The map pass's block order (bands of block rows, column by column) changes no output.

The pass runs its blocks in bands of ``BAND_BLOCKS`` block rows, each band column by
column, so that the overview tiles of the low levels complete within a band instead of
needing strips of the grid's full width.  With 16-px blocks on the 300 x 200 px test
grid a band is 64 px high (four bands) and the COGs have four overview levels: levels 1
and 2 complete inside a band, levels 3 and 4 across bands, and the grid's edges cut
tiles at every level.  The expected overviews are computed here with numpy from the
full-resolution band (2 x 2 means of the valid pixels, as GDAL's AVERAGE resampling
with nodata), independently of the package's own averaging.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import rasterio
from mapping_helpers import (
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    uniform_inputs,
    write,
    write_config,
    zones_two_halves,
)
from numpy.testing import assert_allclose

from karstsink.mapping import executor
from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

NAMES = ("karst_sink", "biological_sink", "total_sink")


def _mean2x2(a: np.ndarray) -> np.ndarray:
    """2 x 2 mean of the finite values (NaN where none), odd edges padded with NaN."""
    h, w = a.shape
    p = np.full((h + h % 2, w + w % 2), np.nan, np.float64)
    p[:h, :w] = a
    v = p.reshape(p.shape[0] // 2, 2, p.shape[1] // 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "Mean of empty slice": NaN
        return np.nanmean(v, axis=(1, 3))


def _inputs(folder):
    inputs = uniform_inputs(folder)
    # a temperature gradient and a nodata hole, so tiles differ and overviews see NaN
    temp = np.linspace(5, 25, GEO_SHAPE[0] * GEO_SHAPE[1]).reshape(GEO_SHAPE)
    write(inputs["temperature"], temp.astype(np.float32), GEO_TRANSFORM, GEO, nodata=-9999.0)
    with rasterio.open(inputs["landcover"]) as ds:
        lc, prof = ds.read(1), ds.profile
    rng = np.random.default_rng(5)
    lc[:] = rng.choice(np.array([10, 20, 30, 40], np.uint8), LC_SHAPE)
    lc[70:90, 130:170] = 0  # land-cover nodata, across a band boundary (row 64)
    with rasterio.open(inputs["landcover"], "w", **prof) as ds:
        ds.write(lc, 1)
    return inputs


def test_band_order_equals_row_major_and_overviews_are_2x2_means(tmp_path, monkeypatch):
    inputs = _inputs(tmp_path)
    zones = zones_two_halves(tmp_path)
    cfg = write_config(tmp_path, inputs, block_size=16,
                       extra=f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
    conf = load_config(cfg)
    run_map(conf, tmp_path / "bands", jobs=2, quicklook=False)
    monkeypatch.setattr(executor, "BAND_BLOCKS", 1)  # plain row-major order
    run_map(conf, tmp_path / "rows", jobs=2, quicklook=False)
    for name in NAMES:
        with rasterio.open(tmp_path / "bands" / f"{name}.tif") as ds:
            full = ds.read(1)
            assert ds.overviews(1) == [2, 4, 8, 16]
        level = full.astype(np.float64)
        for k in range(4):
            level = _mean2x2(level)
            with rasterio.open(tmp_path / "bands" / f"{name}.tif", overview_level=k) as a, \
                    rasterio.open(tmp_path / "rows" / f"{name}.tif", overview_level=k) as b:
                got = a.read(1)
                assert got.shape == level.shape
                # float32 means of float32 means: a few ulp from the float64 means
                assert_allclose(got, level, rtol=1e-5, equal_nan=True)
                assert np.array_equal(got, b.read(1), equal_nan=True)
        with rasterio.open(tmp_path / "rows" / f"{name}.tif") as ds:
            assert np.array_equal(full, ds.read(1), equal_nan=True)
    za = pd.read_csv(tmp_path / "bands" / "zonal_totals.csv")
    zb = pd.read_csv(tmp_path / "rows" / "zonal_totals.csv")
    # the same block sums added in another order: equal to rounding
    pd.testing.assert_frame_equal(za, zb, rtol=1e-12)


def test_stream_order_covers_every_block_once_in_bands():
    from rasterio.windows import Window

    # a 5 x 7 block grid of 10-px blocks, the last row and column cut short
    wins = [Window(c, r, min(10, 65 - c), min(10, 47 - r))
            for r in range(0, 47, 10) for c in range(0, 65, 10)]
    order = executor.stream_order(wins, 10, band_blocks=2)
    assert sorted(order, key=lambda w: (w.row_off, w.col_off)) == wins
    # bands of two block rows, each band column by column, top to bottom
    assert [(int(w.row_off), int(w.col_off)) for w in order[:4]] == \
        [(0, 0), (10, 0), (0, 10), (10, 10)]
    assert [(int(w.row_off), int(w.col_off)) for w in order[14:16]] == [(20, 0), (30, 0)]
    assert [(int(w.row_off), int(w.col_off)) for w in order[-2:]] == [(40, 50), (40, 60)]
    assert executor.stream_order(wins, 10, band_blocks=1) == wins
