"""Map quicklooks: a sink raster as a PNG with colour legend, scale bar and units.

Drawn with Pillow rather than matplotlib: the quick look closes every map run,
and matplotlib's import alone (about 1 CPU-s) was a fifth of a 67 Mpx run on a
2-core machine (benchmarks/bench_map.py).  The colour scale is viridis
(perceptually uniform, colour-blind safe), interpolated from its published
colours at nine equally spaced positions.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

__all__ = ["quicklook"]

# viridis (van der Walt & Smith, matplotlib 2.0 default, CC0) at 0, 1/8, ..., 1
_VIRIDIS = np.array([
    (0x44, 0x01, 0x54), (0x47, 0x2D, 0x7B), (0x3B, 0x52, 0x8B), (0x2C, 0x72, 0x8E),
    (0x21, 0x91, 0x8C), (0x28, 0xAE, 0x80), (0x5E, 0xC9, 0x62), (0xAD, 0xDC, 0x30),
    (0xFD, 0xE7, 0x25)], float)
NODATA_RGB = (225, 225, 225)


def _colormap(n: int = 256) -> np.ndarray:
    """``(n, 3)`` uint8 colours from the viridis anchors (linear in RGB between them)."""
    x = np.linspace(0, 1, n)
    pos = np.linspace(0, 1, len(_VIRIDIS))
    return np.stack([np.interp(x, pos, _VIRIDIS[:, i]) for i in range(3)], 1).round().astype(
        np.uint8)


def _nice_length(km: float) -> float:
    """A round scale-bar length near ``km`` [km] (1, 2 or 5 x 10^n)."""
    if km <= 0:
        return 1.0
    exp = math.floor(math.log10(km))
    for m in (5, 2, 1):
        if m * 10**exp <= km:
            return m * 10**exp
    return 10**exp


def _ticks(vmin: float, vmax: float, n: int = 5) -> list[float]:
    """Round tick values within [vmin, vmax] (about ``n`` of them)."""
    span = vmax - vmin
    if not span > 0:
        return [vmin]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(vmin / step) * step
    return [first + i * step for i in range(int((vmax - first) / step + 1e-9) + 1)]


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: bitmap font only
        return ImageFont.load_default()


def quicklook(raster: str | Path, png: str | Path, *, zones=None, title: str = "",
              unit: str = "t C km-2 yr-1", max_pixels: int = 640) -> Path:
    """Draw ``raster`` (band 1) as a PNG with a colour bar in ``unit`` and a scale bar.

    The raster is read at reduced resolution (its overviews when present), so
    the figure costs the same for a county and a continent.  Colours run from
    the 1st to the 99th percentile of the valid values (from 0 when all are
    positive); nodata is light grey.

    Parameters
    ----------
    raster : path
        Single-band raster (e.g. ``total_sink.tif``).
    png : path
        Output PNG (written atomically).
    zones : ZoneSet or geopandas.GeoDataFrame, optional
        Polygons drawn as white outlines (in the raster's CRS).
    title : str
        Title above the map.
    unit : str
        Colour-bar label, e.g. ``t C km-2 yr-1``.
    max_pixels : int
        Longest side of the map image [px].

    Returns
    -------
    pathlib.Path
        The PNG path.
    """
    import rasterio
    from PIL import Image, ImageDraw
    from rasterio.enums import Resampling

    from ..io.atomic import atomic_path

    with rasterio.open(raster) as ds:
        scale = max(ds.width, ds.height) / max_pixels
        h = max(1, round(ds.height / max(scale, 1)))
        w = max(1, round(ds.width / max(scale, 1)))
        data = ds.read(1, out_shape=(h, w), resampling=Resampling.average).astype(np.float64)
        if ds.nodata is not None and not math.isnan(ds.nodata):
            data[data == ds.nodata] = np.nan
        left, bottom, right, top = ds.bounds
        crs = ds.crs
    valid = np.isfinite(data)
    vals = data[valid]
    vmax = float(np.percentile(vals, 99)) if vals.size else 1.0
    vmin = min(0.0, float(np.percentile(vals, 1))) if vals.size else 0.0
    if not vmax > vmin:
        vmax = vmin + 1.0
    cmap = _colormap()
    idx = np.clip((np.nan_to_num(data, nan=vmin) - vmin) / (vmax - vmin) * 255, 0, 255)
    rgb = cmap[idx.astype(np.uint8)]
    rgb[~valid] = NODATA_RGB

    f_title, f_text = _font(16), _font(12)
    pad, bar_w, top_h, bottom_h, right_w = 16, 18, 34, 40, 120
    W = pad + w + pad + bar_w + right_w
    H = top_h + h + bottom_h
    img = Image.new("RGB", (W, H), "white")
    img.paste(Image.fromarray(rgb, "RGB"), (pad, top_h))
    draw = ImageDraw.Draw(img)
    draw.text((pad, 8), title or Path(raster).stem, fill="black", font=f_title)
    draw.rectangle((pad - 1, top_h - 1, pad + w, top_h + h), outline="black")

    def to_px(x, y):  # map coordinates -> image pixels
        return (pad + (np.asarray(x) - left) / (right - left) * w,
                top_h + (top - np.asarray(y)) / (top - bottom) * h)

    if zones is not None:
        import shapely

        geoms = getattr(zones, "geometries", None)  # a ZoneSet: no GeoDataFrame needed
        if geoms is None:
            geoms = np.asarray(zones.geometry.values)
        for line in shapely.get_parts(shapely.boundary(geoms)):
            if line is None or line.is_empty:
                continue
            xy = shapely.get_coordinates(line)
            px, py = to_px(xy[:, 0], xy[:, 1])
            draw.line(list(zip(px.tolist(), py.tolist(), strict=True)), fill="white", width=1)

    # colour bar with ticks and units
    x0 = pad + w + pad
    grad = cmap[np.linspace(255, 0, h).astype(np.uint8)][:, None, :].repeat(bar_w, 1)
    img.paste(Image.fromarray(np.ascontiguousarray(grad), "RGB"), (x0, top_h))
    draw.rectangle((x0 - 1, top_h - 1, x0 + bar_w, top_h + h), outline="black")
    for t in _ticks(vmin, vmax):
        y = top_h + (vmax - t) / (vmax - vmin) * (h - 1)
        draw.line((x0 + bar_w, y, x0 + bar_w + 4, y), fill="black")
        draw.text((x0 + bar_w + 7, y - 7), f"{t:g}", fill="black", font=f_text)
    draw.text((x0, top_h + h + 6), unit, fill="black", font=f_text)

    # scale bar: about a fifth of the map width
    if crs is not None and crs.is_geographic:
        km_per_unit = 111.32 * math.cos(math.radians((top + bottom) / 2))
    else:
        factor = crs.linear_units_factor[1] if crs is not None and crs.is_projected else 1.0
        km_per_unit = factor / 1000.0
    bar_km = _nice_length((right - left) * km_per_unit / 5)
    bar_px = bar_km / km_per_unit / (right - left) * w
    bx, by = pad + 10, top_h + h - 14
    draw.rectangle((bx - 4, by - 18, bx + bar_px + 4, by + 6), fill=(255, 255, 255))
    draw.line((bx, by, bx + bar_px, by), fill="black", width=3)
    draw.text((bx, by - 17), f"{bar_km:g} km", fill="black", font=f_text)
    crs_name = crs.to_string() if crs is not None else "no CRS"
    fmt = "{:.3f}" if crs is not None and crs.is_geographic else "{:.0f}"
    extent = (f"x {fmt.format(left)} to {fmt.format(right)}, "
              f"y {fmt.format(bottom)} to {fmt.format(top)}")
    draw.text((pad, top_h + h + 6), f"{crs_name}; {extent}", fill="black", font=f_text)

    png = Path(png)
    with atomic_path(png) as tmp:
        img.save(tmp, format="PNG", compress_level=3)
    return png
