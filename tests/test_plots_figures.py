"""Figures a journal would take (issue 17): ax=, returned Figures, nothing clipped, marks.

Flux figures are drawn from a hand-made estimate (concentrations 200-290 mg/L, whose
log-axis tick labels used to push the y label off the figure); the map quick look from
small UTM rasters. Expected numbers are worked out in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from mapping_helpers import UTM, write
from PIL import Image

from karstsink.flux import FluxEstimate
from karstsink.plots._map_marks import graticule_ticks, north_angle
from karstsink.plots.chemistry import plot_si_pco2
from karstsink.plots.flux import plot_cq, plot_flux_series, plot_residuals, save_flux_plots
from karstsink.plots.maps import NONCARB_RGB, _colormap, quicklook


@pytest.fixture(scope="module")
def estimate() -> FluxEstimate:
    days = pd.date_range("2016-01-01", periods=400, freq="D")
    q = np.exp(np.sin(np.arange(400) / 30.0) * 2)  # 0.14 to 7.4 m3/s
    conc = 240.0 * q ** -0.07  # 208 to 275 mg/L: less than a decade
    flux = conc * q * 86.4
    daily = pd.DataFrame({"discharge_m3s": q, "conc_mg_L": conc, "flux_kg_day": flux,
                          "flux_lo95_kg_day": 0.9 * flux, "flux_hi95_kg_day": 1.1 * flux},
                         index=days)
    pick = np.arange(5, 400, 20)
    samples = pd.DataFrame({"date": days[pick], "discharge_m3s": q[pick],
                            "conc_mg_L": conc[pick] * 1.02, "residual": 0.02})
    return FluxEstimate(method="loadest", daily=daily, samples=samples,
                        model={"constituent": "hco3", "b_chemostatic": -0.07,
                               "residual_units": "ln(load), observed - fitted"})


def _inside(fig, artist) -> bool:
    """Whether ``artist`` lies inside the figure canvas (nothing clipped when saved)."""
    fig.canvas.draw()
    box = artist.get_window_extent(fig.canvas.get_renderer())
    w, h = fig.canvas.get_width_height()
    return box.x0 >= 0 and box.y0 >= 0 and box.x1 <= w and box.y1 <= h


def test_flux_figures_name_the_catchment_and_keep_their_labels(estimate):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for func in (plot_cq, plot_flux_series, plot_residuals):
        fig = func(estimate, name="longtan")
        FigureCanvasAgg(fig)
        ax = fig.axes[0]
        assert ax.get_title(loc="left" if func is plot_residuals else "center").startswith(
            "longtan: ")
        assert _inside(fig, ax.yaxis.label), func.__name__
        assert _inside(fig, ax.xaxis.label), func.__name__
    # the C-Q y ticks are plain numbers (240), not 2.4x10^2
    fig = plot_cq(estimate)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert labels and all("10^" not in t and "times" not in t for t in labels)
    assert any(t.isdigit() and 200 <= int(t) <= 290 for t in labels)


def test_flux_interval_is_visible_and_states_its_half_width(estimate):
    fig = plot_flux_series(estimate)
    ax = fig.axes[0]
    # lo = 0.9 x flux and hi = 1.1 x flux: half-width (hi - lo) / 2 / flux = 10.0 %
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("median half-width ±10.0 %" in t for t in texts)
    assert len(ax.lines) == 3  # the two interval edges and the flux itself


def test_plotting_functions_draw_into_given_axes_and_return_its_figure(estimate):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 8))
    axes = fig.subplots(2, 2)
    assert plot_cq(estimate, ax=axes[0, 0]) is fig
    assert plot_flux_series(estimate, ax=axes[0, 1]) is fig
    assert plot_residuals(estimate, ax=axes[1]) is fig
    assert axes[0, 0].get_xscale() == "log" and len(axes[1, 0].collections) >= 1
    with pytest.raises(ValueError, match="2 axes"):
        plot_residuals(estimate, ax=[axes[0, 0]])
    table = pd.DataFrame({"log_pco2": [-2.5, -2.0], "si_calcite": [0.1, -0.1]})
    fig2 = Figure()
    ax = fig2.subplots()
    assert plot_si_pco2({"spring": table}, ax=ax) is fig2
    assert "spring (n = 2)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_save_flux_plots_writes_three_pngs(estimate, tmp_path):
    paths = save_flux_plots(estimate, tmp_path, name="longtan")
    assert [p.name for p in paths] == ["cq.png", "flux.png", "residuals.png"]
    for p in paths:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size[0] > 500


def test_graticule_and_north_on_utm_48n():
    # UTM zone 48N has its central meridian at 105°E on x = 500 000 m (false easting), so
    # a map from x = 300 to 700 km at y = 2700-3100 km (~24.4-28.0°N) spans ~103-107°E:
    # 1° steps, and the 105°E tick sits at x = 500 000 m.
    lon, lat = graticule_ticks(rasterio.crs.CRS.from_string(UTM),
                               (300_000, 2_700_000, 700_000, 3_100_000))
    assert "105°E" in [t for _, t in lon]
    assert dict((t, x) for x, t in lon)["105°E"] == pytest.approx(500_000, abs=200)
    assert [t for _, t in lat] == ["25°N", "26°N", "27°N", "28°N"]
    # on the central meridian grid north is true north; 3° east of it at 26°N the meridian
    # convergence is about dlon x sin(lat) = 3 x 0.438 = 1.315° (true north to the west)
    crs = rasterio.crs.CRS.from_string(UTM)
    assert north_angle(crs, (400_000, 2_800_000, 600_000, 3_000_000)) == pytest.approx(
        0, abs=1e-6)
    x = 500_000 + 3 * 111_320 * np.cos(np.radians(26)) * 0.9996  # ~108°E at 26°N
    centre = north_angle(crs, (x - 1000, 2_876_000, x + 1000, 2_878_000))
    assert centre == pytest.approx(-1.315, abs=0.02)


def test_quicklook_says_when_capped_marks_non_carbonate_and_synthetic(tmp_path):
    # 0..100 across 300 px with a non-carbonate (0) block: the 99th percentile of the
    # non-zero values is below the maximum, so the colour bar is capped and has an arrow
    data = np.tile(np.linspace(0.5, 100, 300, dtype=np.float32), (200, 1))
    data[100:150, 20:80] = 0.0
    transform = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 2900000.0)
    tif = write(tmp_path / "k.tif", data, transform, UTM, nodata=float("nan"))
    with rasterio.open(tif, "r+") as ds:
        ds.update_tags(SYNTHETIC="demo")
    png = quicklook(tif, tmp_path / "q.png", title="t", max_pixels=300, non_carbonate=True)
    img = np.asarray(Image.open(png).convert("RGB"))
    pad, top = 16, 34
    block = img[top + 110:top + 140, pad + 30:pad + 70].reshape(-1, 3)
    colours = {tuple(c) for c in block}
    assert tuple(NONCARB_RGB) in colours  # grey fill (and hatch lines), not the lowest colour
    assert tuple(_colormap()[0]) not in colours
    # red SYNTHETIC label in the title bar (179, 38, 30)
    assert (img[6:26, :, :] == (179, 38, 30)).all(axis=2).any()
    # the arrow above the colour bar: top colour in the 12 px above the bar
    bar_x = pad + 300 + 58 + 9
    assert tuple(img[top - 6, bar_x]) == tuple(_colormap()[-1])
