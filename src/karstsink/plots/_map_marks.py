"""Cartographic marks of the map quick look: graticule ticks, north arrow, hatching, notes.

Drawn with Pillow on the quick look of :func:`karstsink.plots.maps.quicklook`.
Geographic coordinates come from GDAL's coordinate transformation
(:func:`rasterio.warp.transform`), so any projected CRS works.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["graticule_ticks", "hatch", "north_angle", "source_note"]


def _nice_degrees(span: float, n: int = 4) -> float:
    """A round graticule step [degrees] giving about ``n`` lines over ``span`` degrees."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 45, 90):
        if span / step <= n:
            return float(step)
    return 90.0


def _deg_label(value: float, pos: str, neg: str) -> str:
    """``26.25°N``, ``105°E``, ``0°`` (decimal degrees, as many digits as the value has)."""
    hemi = pos if value > 0 else (neg if value < 0 else "")
    return f"{abs(round(value, 6)):g}°{hemi}"


def graticule_ticks(crs: Any, bounds: tuple[float, float, float, float]
                    ) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """Where meridians cross the bottom edge and parallels the right edge of the map.

    Parameters
    ----------
    crs : rasterio.crs.CRS
        The map's CRS (projected or geographic).
    bounds : tuple of float
        ``(left, bottom, right, top)`` in map units.

    Returns
    -------
    tuple of lists
        ``[(x, "106°E"), ...]`` along the bottom edge and ``[(y, "26°N"), ...]`` along
        the right edge, in map units; empty lists without a CRS.
    """
    from rasterio.warp import transform

    if crs is None:
        return [], []
    left, bottom, right, top = bounds
    n = 64
    xs = np.linspace(left, right, n)
    ys = np.linspace(bottom, top, n)
    # lon along the bottom edge, lat along the right edge (monotonic for maps of a region)
    lon_b, _ = transform(crs, "EPSG:4326", xs.tolist(), [bottom] * n)
    _, lat_r = transform(crs, "EPSG:4326", [right] * n, ys.tolist())
    lon_b, lat_r = np.asarray(lon_b), np.asarray(lat_r)
    out: list[list[tuple[float, str]]] = []
    for vals, coord, pos, neg in ((lon_b, xs, "E", "W"), (lat_r, ys, "N", "S")):
        lo, hi = float(np.nanmin(vals)), float(np.nanmax(vals))
        step = _nice_degrees(hi - lo)
        marks = []
        order = np.argsort(vals)
        for k in range(math.ceil(lo / step), math.floor(hi / step) + 1):
            v = k * step
            marks.append((float(np.interp(v, vals[order], coord[order])),
                          _deg_label(v, pos, neg)))
        out.append(marks)
    return out[0], out[1]


def north_angle(crs: Any, bounds: tuple[float, float, float, float]) -> float:
    """Angle of true north from the map's up direction at the map centre [degrees, clockwise].

    0 for a geographic CRS; for UTM the meridian convergence (a degree or two).
    """
    from rasterio.warp import transform

    if crs is None or crs.is_geographic:
        return 0.0
    left, bottom, right, top = bounds
    cx, cy = (left + right) / 2, (bottom + top) / 2
    (lon,), (lat,) = transform(crs, "EPSG:4326", [cx], [cy])
    xs, ys = transform("EPSG:4326", crs, [lon, lon], [lat, min(lat + 0.1, 89.9)])
    return math.degrees(math.atan2(xs[1] - xs[0], ys[1] - ys[0]))


def hatch(rgb: np.ndarray, mask: np.ndarray, *, fill: tuple[int, int, int] | None,
          line: tuple[int, int, int] = (120, 120, 120), spacing: int = 6) -> None:
    """Diagonal hatching of ``mask`` pixels of ``rgb`` (in place); ``fill`` paints first."""
    if not mask.any():
        return
    if fill is not None:
        rgb[mask] = fill
    rows, cols = np.indices(mask.shape)
    rgb[mask & ((rows + cols) % spacing == 0)] = line


def source_note(tags: dict[str, str], source: str | None) -> str:
    """The data-source line of a quick look: the given ``source``, or the raster's own tags.

    From a karstsink raster: the model, karstsink and PHREEQC versions, database and the
    input rasters named in its ``karstsink_parameters`` tag.
    """
    if source:
        return f"Source: {source}"
    parts = []
    if "karstsink_version" in tags:
        parts.append(f"karstsink {tags['karstsink_version']} (maximum-potential-dissolution "
                     "model)")
    if "phreeqc_version" in tags:
        parts.append(f"PHREEQC {tags['phreeqc_version']} ({tags.get('phreeqc_database', '')})")
    try:
        inputs = json.loads(tags.get("karstsink_parameters", "{}")).get("inputs") or {}
    except ValueError:
        inputs = {}
    if inputs:
        parts.append("inputs: " + ", ".join(str(v).replace("\\", "/").rsplit("/", 1)[-1]
                                             for v in inputs.values()))
    return ("Source: " + "; ".join(parts)) if parts else ""
