"""Map quicklooks: a sink raster as a PNG with colour bar, scale bar, graticule and north arrow.

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

__all__ = ["NODATA_RGB", "NONCARB_RGB", "quicklook"]

# viridis (van der Walt & Smith, matplotlib 2.0 default, CC0) at 0, 1/8, ..., 1
_VIRIDIS = np.array([
    (0x44, 0x01, 0x54), (0x47, 0x2D, 0x7B), (0x3B, 0x52, 0x8B), (0x2C, 0x72, 0x8E),
    (0x21, 0x91, 0x8C), (0x28, 0xAE, 0x80), (0x5E, 0xC9, 0x62), (0xAD, 0xDC, 0x30),
    (0xFD, 0xE7, 0x25)], float)
NODATA_RGB = (225, 225, 225)
#: Pixels without carbonate rock on a karst-sink map (then hatched): distinct from nodata.
NONCARB_RGB = (190, 190, 190)


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


#: Rasters whose long side is shorter [px] are enlarged by a whole factor towards it.
_MIN_PIXELS = 320


def _enlarge(a: np.ndarray, k: int) -> np.ndarray:
    """Each pixel of ``a`` as a ``k`` x ``k`` block (no interpolation)."""
    return a if k == 1 else np.repeat(np.repeat(a, k, axis=0), k, axis=1)


def _wrap(text: str, font, width: float, draw) -> list[str]:
    """Greedy line wrap of ``text`` to ``width`` pixels."""
    lines, cur = [], ""
    for word in text.split():
        trial = f"{cur} {word}".strip()
        if cur and draw.textlength(trial, font=font) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    return lines + ([cur] if cur else [])


def quicklook(raster: str | Path, png: str | Path, *, zones=None, title: str = "",
              unit: str = "t C km-2 yr-1", max_pixels: int = 640,
              non_carbonate: str | Path | bool | None = None, synthetic: bool | None = None,
              source: str | None = None, percentile: float = 99.0) -> Path:
    """Draw ``raster`` (band 1) as a PNG map: colour bar, scale bar, graticule, north arrow.

    The raster is read at reduced resolution (its overviews when present), so
    the figure costs the same for a county and a continent.  Colours run from
    the 1st to the ``percentile``-th percentile of the valid values (from 0 when
    all are positive); values beyond are drawn in the end colours, and the colour
    bar then carries an arrow and says so ("capped at p99 = 170; max 217").
    Nodata is light grey.  Geographic ticks (degrees, via GDAL's transformation)
    run along the bottom and right edges, an arrow points to true north, and the
    last line names the source of the data.

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
    non_carbonate : path or True, optional
        Marks pixels without carbonate rock, with a legend entry "non-carbonate":
        ``True`` takes the raster's own zeros (a karst-sink raster, whose pixels
        without carbonate are 0) and draws them grey and hatched instead of as the
        lowest colour; a path takes the zeros of that raster (``karst_sink.tif``)
        and hatches them over the colours.
    synthetic : bool, optional
        Mark the map "SYNTHETIC DATA". Default: when the raster has a ``SYNTHETIC``
        metadata tag (as the demo's input rasters do).
    source : str, optional
        Data-source note at the bottom; default from the raster's karstsink tags
        (model, karstsink and PHREEQC versions, input rasters).
    percentile : float
        Upper end of the colour scale, percentile of the valid values [%].

    Returns
    -------
    pathlib.Path
        The PNG path.
    """
    import rasterio
    from PIL import Image, ImageDraw
    from rasterio.enums import Resampling

    from ..io.atomic import atomic_path
    from ._map_marks import graticule_ticks, hatch, north_angle, source_note

    with rasterio.open(raster) as ds:
        scale = max(ds.width, ds.height) / max_pixels
        h = max(1, round(ds.height / max(scale, 1)))
        w = max(1, round(ds.width / max(scale, 1)))
        data = ds.read(1, out_shape=(h, w), resampling=Resampling.average).astype(np.float64)
        # a small raster is enlarged (each pixel a k x k block) so the marks fit around it
        k = max(1, _MIN_PIXELS // max(h, w))
        if ds.nodata is not None and not math.isnan(ds.nodata):
            data[data == ds.nodata] = np.nan
        left, bottom, right, top = ds.bounds
        crs = ds.crs
        tags = ds.tags()
        stat_max = ds.tags(1).get("STATISTICS_MAXIMUM")
    data = _enlarge(data, k)
    if synthetic is None:
        synthetic = "SYNTHETIC" in tags
    valid = np.isfinite(data)
    hatched = np.zeros_like(valid)
    own_zeros = non_carbonate is True
    if own_zeros:
        hatched = valid & (data == 0)
    elif non_carbonate:
        with rasterio.open(non_carbonate) as ms:
            m = _enlarge(ms.read(1, out_shape=(h, w), resampling=Resampling.average), k)
        hatched = valid & (m == 0)
    h, w = data.shape
    vals = data[valid & ~hatched] if own_zeros else data[valid]
    vmax = float(np.percentile(vals, percentile)) if vals.size else 1.0
    vmin = min(0.0, float(np.percentile(vals, 1))) if vals.size else 0.0
    if not vmax > vmin:
        vmax = vmin + 1.0
    dmax = float(vals.max()) if vals.size else vmax
    if stat_max is not None:
        dmax = max(dmax, float(stat_max))
    dmin = float(vals.min()) if vals.size else vmin
    cmap = _colormap()
    idx = np.clip((np.nan_to_num(data, nan=vmin) - vmin) / (vmax - vmin) * 255, 0, 255)
    rgb = cmap[idx.astype(np.uint8)]
    rgb[~valid] = NODATA_RGB
    hatch(rgb, hatched, fill=NONCARB_RGB if own_zeros else None,
          line=(120, 120, 120) if own_zeros else (25, 25, 25), spacing=6 if own_zeros else 5)

    f_title, f_text, f_small = _font(16), _font(12), _font(11)
    pad, bar_w, top_h, gap, right_w = 16, 18, 34, 58, 150
    W = pad + w + gap + bar_w + right_w
    img = Image.new("RGB", (W, top_h + h + 400), "white")
    img.paste(Image.fromarray(rgb, "RGB"), (pad, top_h))
    draw = ImageDraw.Draw(img)
    draw.text((pad, 8), title or Path(raster).stem, fill="black", font=f_title)
    if synthetic:
        label = "SYNTHETIC DATA: not a real place"
        tw = draw.textlength(label, font=f_text)
        draw.rectangle((W - tw - 24, 6, W - 8, 26), fill=(179, 38, 30))
        draw.text((W - tw - 16, 9), label, fill="white", font=f_text)
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

    # graticule: degree ticks along the bottom and right edges
    lon_ticks, lat_ticks = graticule_ticks(crs, (left, bottom, right, top))
    last = -1e9
    for x, text in lon_ticks:
        px = float(to_px(x, bottom)[0])
        draw.line((px, top_h + h, px, top_h + h + 5), fill="black")
        tw = draw.textlength(text, font=f_small)
        x_text = min(max(px - tw / 2, 2), pad + w + gap - tw - 2)
        if x_text > last + 6:  # labels that would overlap are left out (the tick stays)
            draw.text((x_text, top_h + h + 6), text, fill="black", font=f_small)
            last = x_text + tw
    for y, text in lat_ticks:
        py = float(to_px(right, y)[1])
        draw.line((pad + w, py, pad + w + 5, py), fill="black")
        draw.text((pad + w + 7, py - 6), text, fill="black", font=f_small)

    # north arrow (true north at the map centre), top right inside the frame
    ang = math.radians(north_angle(crs, (left, bottom, right, top)))
    ax, ay, ln = pad + w - 26, top_h + 48, 28
    tip = (ax + ln / 2 * math.sin(ang), ay - ln / 2 * math.cos(ang))
    tail = (ax - ln / 2 * math.sin(ang), ay + ln / 2 * math.cos(ang))
    perp = (7 * math.cos(ang), 7 * math.sin(ang))
    draw.rectangle((ax - 16, ay - 36, ax + 16, ay + 18), fill="white")
    draw.polygon([tip, (tail[0] + perp[0], tail[1] + perp[1]), (ax, ay + 4),
                  (tail[0] - perp[0], tail[1] - perp[1])], fill="black")
    draw.text((tip[0] - 4, tip[1] - 15), "N", fill="black", font=f_text)

    # colour bar with ticks, units, and arrows where the scale is capped
    x0 = pad + w + gap
    grad = cmap[np.linspace(255, 0, h).astype(np.uint8)][:, None, :].repeat(bar_w, 1)
    img.paste(Image.fromarray(np.ascontiguousarray(grad), "RGB"), (x0, top_h))
    draw.rectangle((x0 - 1, top_h - 1, x0 + bar_w, top_h + h), outline="black")
    capped_hi, capped_lo = dmax > vmax * (1 + 1e-6), dmin < vmin - 1e-9 * abs(vmin)
    if capped_hi:
        draw.polygon([(x0 - 1, top_h - 2), (x0 + bar_w, top_h - 2),
                      (x0 + bar_w / 2, top_h - 14)], fill=tuple(cmap[-1]), outline="black")
    if capped_lo:
        draw.polygon([(x0 - 1, top_h + h + 1), (x0 + bar_w, top_h + h + 1),
                      (x0 + bar_w / 2, top_h + h + 13)], fill=tuple(cmap[0]), outline="black")
    for t in _ticks(vmin, vmax):
        y = top_h + (vmax - t) / (vmax - vmin) * (h - 1)
        draw.line((x0 + bar_w, y, x0 + bar_w + 4, y), fill="black")
        draw.text((x0 + bar_w + 7, y - 7), f"{t:g}", fill="black", font=f_text)
    ly = top_h + h + (16 if capped_lo else 6)
    draw.text((x0, ly), unit, fill="black", font=f_text)
    ly += 16
    for line, on in ((f"capped at p{percentile:g} = {vmax:.3g};", capped_hi),
                     (f"max {dmax:.3g}", capped_hi), (f"min {dmin:.3g}", capped_lo)):
        if on:
            draw.text((x0, ly), line, fill="black", font=f_small)
            ly += 14
    if hatched.any():
        sw = np.full((14, 22, 3), NODATA_RGB if not own_zeros else NONCARB_RGB, np.uint8)
        if not own_zeros:
            sw[:] = cmap[128]
        hatch(sw, np.ones(sw.shape[:2], bool), fill=None,
              line=(120, 120, 120) if own_zeros else (25, 25, 25), spacing=6 if own_zeros else 5)
        img.paste(Image.fromarray(sw, "RGB"), (x0, ly + 4))
        draw.rectangle((x0 - 1, ly + 3, x0 + 22, ly + 18), outline="black")
        draw.text((x0 + 28, ly + 4), "non-carbonate", fill="black", font=f_small)
        ly += 22
    sw = np.full((14, 22, 3), NODATA_RGB, np.uint8)
    if not valid.all():
        img.paste(Image.fromarray(sw, "RGB"), (x0, ly + 4))
        draw.rectangle((x0 - 1, ly + 3, x0 + 22, ly + 18), outline="black")
        draw.text((x0 + 28, ly + 4), "nodata", fill="black", font=f_small)
        ly += 22

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
    ty = top_h + h + (22 if lon_ticks else 6)
    for line in _wrap(f"{crs_name}; {extent}", f_small, pad + w + gap - 2 * pad, draw):
        draw.text((pad, ty), line, fill="black", font=f_small)
        ty += 14
    ty += 1
    for line in _wrap(source_note(tags, source), f_small, pad + w + gap - 2 * pad, draw):
        draw.text((pad, ty), line, fill=(60, 60, 60), font=f_small)
        ty += 14
    img = img.crop((0, 0, W, max(ty, ly) + 8))

    png = Path(png)
    with atomic_path(png) as tmp:
        img.save(tmp, format="PNG", compress_level=3)
    return png
