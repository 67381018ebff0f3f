"""True pixel areas of a grid (projected or geographic CRS)."""

from __future__ import annotations

import math

import numpy as np

from ..exceptions import RasterError

__all__ = ["pixel_area_km2"]


def pixel_area_km2(grid, row_off: int, height: int) -> np.ndarray:
    r"""True area of the pixels of ``height`` rows starting at ``row_off``.

    Projected CRS: :math:`|a e - b d|` (the transform's determinant) in the
    CRS unit squared, converted to km².  Geographic CRS: the area of each
    row's cells on the CRS ellipsoid, from the closed form of the area between
    the equator and latitude :math:`\varphi`,

    .. math::

        S(\varphi) = \frac{b^2}{2}\left[\frac{\sin\varphi}{1-e^2\sin^2\varphi}
        + \frac{1}{2e}\ln\frac{1+e\sin\varphi}{1-e\sin\varphi}\right]

    per radian of longitude, so a cell spans :math:`|\Delta\lambda|\,|S(\varphi_2)-S(\varphi_1)|`.

    Parameters
    ----------
    grid : karstsink.mapping.grid.Grid
        The grid.
    row_off, height : int
        First row and number of rows [px].

    Returns
    -------
    numpy.ndarray
        ``(height, 1)`` float64 array [km²] (broadcasts over a block).
    """
    t = grid.transform
    crs = grid.crs
    if not crs.is_geographic:
        unit = crs.linear_units_factor[1] if crs.is_projected else 1.0
        area = abs(t.a * t.e - t.b * t.d) * unit * unit / 1e6
        return np.full((height, 1), area)
    if t.b != 0 or t.d != 0:
        raise RasterError("A rotated geographic grid is not supported; use a projected grid.")
    from pyproj import CRS

    ell = CRS.from_user_input(crs.to_wkt()).ellipsoid
    if ell is None:
        raise RasterError(f"The geographic grid CRS {crs.to_string()!r} has no ellipsoid: "
                          f"pixel areas cannot be measured; use a CRS with a datum.")
    a = ell.semi_major_metre
    inv_f = ell.inverse_flattening
    f = 1.0 / inv_f if inv_f else 0.0
    e2 = f * (2.0 - f)
    b2 = a * a * (1.0 - e2)
    rows = np.arange(row_off, row_off + height + 1, dtype=float)
    lat = np.radians(np.clip(t.f + t.e * rows, -90.0, 90.0))
    s = np.sin(lat)
    if e2 > 0:
        e = math.sqrt(e2)
        band = b2 / 2.0 * (s / (1.0 - e2 * s * s)
                           + np.log((1.0 + e * s) / (1.0 - e * s)) / (2 * e))
    else:
        band = a * a * s
    dlon = math.radians(abs(t.a))
    return (np.abs(np.diff(band)) * dlon / 1e6).reshape(height, 1)


def has_valid_pixel(area_km2, nodata_area_km2):
    """Whether a zone (or the grid) has a valid pixel: some area, not all of it nodata
    (within 1e-9 relative, the rounding of summed pixel areas); elementwise for arrays.
    The one rule behind a zone's NaN sinks, its warning and an all-nodata map's error."""
    area = np.asarray(area_km2, dtype=float)
    return (area > 0) & (np.asarray(nodata_area_km2, dtype=float) < area * (1.0 - 1e-9))
