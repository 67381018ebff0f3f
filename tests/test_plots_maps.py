"""The map quick look (Pillow): colours, nodata, legend ticks, scale bar length."""

from __future__ import annotations

import numpy as np
from mapping_helpers import LC_TRANSFORM, UTM, write
from PIL import Image

from karstsink.plots.maps import NODATA_RGB, _colormap, _nice_length, _ticks, quicklook


def test_colormap_runs_from_viridis_first_to_last_colour():
    cmap = _colormap()
    # viridis starts at #440154 and ends at #fde725 (matplotlib's published table)
    assert tuple(cmap[0]) == (0x44, 0x01, 0x54)
    assert tuple(cmap[-1]) == (0xFD, 0xE7, 0x25)
    assert cmap.shape == (256, 3)


def test_ticks_and_scale_bar_lengths_are_round():
    assert _ticks(0.0, 86.0) == [0.0, 20.0, 40.0, 60.0, 80.0]
    assert _ticks(-1.0, 1.0) == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert _nice_length(49.0) == 20 and _nice_length(60.0) == 50 and _nice_length(1.2) == 1


def test_quicklook_draws_values_nodata_and_legend(tmp_path):
    data = np.tile(np.linspace(0, 100, 300, dtype=np.float32), (200, 1))
    data[:50, :60] = np.nan
    tif = write(tmp_path / "t.tif", data, LC_TRANSFORM, UTM, nodata=float("nan"))
    png = quicklook(tif, tmp_path / "q.png", title="test", unit="t C km-2 yr-1",
                    max_pixels=300)
    img = np.asarray(Image.open(png).convert("RGB"))
    pad, top = 16, 34  # the layout's margins (plots/maps.py)
    # nodata corner is grey; far right of the ramp is the top colour (99th percentile)
    assert tuple(img[top + 20, pad + 20]) == NODATA_RGB
    assert tuple(img[top + 150, pad + 297]) == tuple(_colormap()[-1])
    assert tuple(img[top + 150, pad + 1]) == tuple(_colormap()[0])
    assert img.shape[1] > 300 + 2 * pad  # colour bar and labels to the right
