"""Map quicklooks: a sink raster as a PNG with colour legend, scale bar and units."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["quicklook"]


def _nice_length(km: float) -> float:
    """A round scale-bar length near ``km`` [km] (1, 2 or 5 x 10^n)."""
    if km <= 0:
        return 1.0
    exp = math.floor(math.log10(km))
    for m in (5, 2, 1):
        if m * 10**exp <= km:
            return m * 10**exp
    return 10**exp


def quicklook(raster: str | Path, png: str | Path, *, zones=None, title: str = "",
              unit: str = "t C km-2 yr-1", max_pixels: int = 800, dpi: int = 110) -> Path:
    """Draw ``raster`` (band 1) as a PNG with a colour bar in ``unit`` and a scale bar.

    The raster is read at reduced resolution (its overviews when present), so
    the figure costs the same for a county and a continent.

    Parameters
    ----------
    raster : path
        Single-band raster (e.g. ``total_sink.tif``).
    png : path
        Output PNG (written atomically).
    zones : ZoneSet or geopandas.GeoDataFrame, optional
        Polygons drawn as outlines (in the raster's CRS).
    title : str
        Figure title.
    unit : str
        Colour-bar label, e.g. ``t C km-2 yr-1``.
    max_pixels : int
        Longest side of the image read [px].
    dpi : int
        Figure resolution [dots per inch].

    Returns
    -------
    pathlib.Path
        The PNG path.
    """
    import rasterio
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from rasterio.enums import Resampling

    from .._io import atomic_path

    with rasterio.open(raster) as ds:
        scale = max(ds.width, ds.height) / max_pixels
        h = max(1, round(ds.height / max(scale, 1)))
        w = max(1, round(ds.width / max(scale, 1)))
        data = ds.read(1, out_shape=(h, w), resampling=Resampling.average, masked=True)
        left, bottom, right, top = ds.bounds
        crs = ds.crs
    arr = np.ma.masked_invalid(data.astype(np.float32))
    # no pyplot: no global figure state, safe in threads, and a lighter import
    fig = Figure(figsize=(7.5, 6.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    vals = arr.compressed()
    vmax = float(np.percentile(vals, 99)) if vals.size else 1.0
    vmin = min(0.0, float(np.percentile(vals, 1))) if vals.size else 0.0
    im = ax.imshow(arr, extent=(left, right, bottom, top), cmap="viridis", vmin=vmin,
                   vmax=vmax if vmax > vmin else vmin + 1, interpolation="nearest")
    cbar = fig.colorbar(im, ax=ax, shrink=0.8)
    cbar.set_label(unit)
    if zones is not None:
        _outlines(ax, getattr(zones, "gdf", zones))
    # scale bar: about a fifth of the map width
    width_units = right - left
    if crs is not None and crs.is_geographic:
        lat = math.radians((top + bottom) / 2)
        km_per_unit = 111.32 * math.cos(lat)
    else:
        factor = crs.linear_units_factor[1] if crs is not None and crs.is_projected else 1.0
        km_per_unit = factor / 1000.0
    bar_km = _nice_length(width_units * km_per_unit / 5)
    bar_units = bar_km / km_per_unit
    x0 = left + 0.05 * width_units
    y0 = bottom + 0.05 * (top - bottom)
    ax.plot([x0, x0 + bar_units], [y0, y0], color="black", linewidth=3)
    ax.plot([x0, x0 + bar_units], [y0, y0], color="white", linewidth=1)
    ax.text(x0 + bar_units / 2, y0 + 0.02 * (top - bottom), f"{bar_km:g} km", ha="center",
            va="bottom", fontsize=9, color="black",
            bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none", "pad": 1})
    ax.set_title(title or Path(raster).stem)
    ax.set_xlabel(f"x ({crs.to_string() if crs else 'no CRS'})")
    ax.set_ylabel(f"y ({crs.to_string() if crs else 'no CRS'})")
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    # fixed margins (tight_layout would draw the figure once more); fast PNG deflate
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.1, top=0.93)
    png = Path(png)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", pil_kwargs={"compress_level": 1})
    return png


def _outlines(ax, gdf) -> None:
    """Polygon outlines as one white line collection (no geopandas/pyplot plotting)."""
    import shapely
    from matplotlib.collections import LineCollection

    lines = shapely.get_parts(shapely.boundary(np.asarray(gdf.geometry.values)))
    segs = [shapely.get_coordinates(g) for g in lines if g is not None and not g.is_empty]
    ax.add_collection(LineCollection(segs, colors="white", linewidths=0.5))


def prefetch() -> None:
    """Import the plotting modules (run in a background thread while maps compute)."""
    import matplotlib.backends.backend_agg  # noqa: F401
    import matplotlib.figure  # noqa: F401
