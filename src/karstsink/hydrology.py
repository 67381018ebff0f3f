"""Discharge records: runoff depth, and the discharge reader for compatibility.

A discharge file is read by :func:`karstsink.io.discharge.read_discharge` (the
code lives in :mod:`karstsink.io.discharge`, with :class:`Gap` and
:func:`find_gaps`); they are re-exported here so ``from karstsink.hydrology import
read_discharge`` keeps working.  This module itself holds what needs no file:
:func:`runoff_depth_mm`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ._checks import area_km2 as check_area
from .exceptions import DataError
from .io.discharge import Gap, find_gaps, read_discharge
from .units import SECONDS_PER_DAY, SECONDS_PER_YEAR

__all__ = ["Gap", "find_gaps", "read_discharge", "runoff_depth_mm"]


def runoff_depth_mm(q_m3s: ArrayLike, area_km2: float, *, per: str = "year"):
    """Runoff depth from discharge over a catchment area.

    Parameters
    ----------
    q_m3s : float or array_like
        Mean discharge [m³ s⁻¹] (NaN stays NaN).
    area_km2 : float
        Catchment area [km²], > 0.
    per : {"year", "day"}
        Return mm per Julian year (3.15576e7 s) or per day (86 400 s).

    Returns
    -------
    float or ndarray
        Runoff depth [mm yr⁻¹] or [mm d⁻¹].

    Examples
    --------
    1 m³ s⁻¹ over 100 km² is 315.6 mm yr⁻¹
    (R = 1 m³ s⁻¹ x 3.15576e7 s yr⁻¹ / 1e8 m² = 0.3156 m yr⁻¹).

    >>> round(float(runoff_depth_mm(1.0, 100.0)), 1)
    315.6
    """
    area_km2 = check_area(area_km2)
    seconds = {"year": SECONDS_PER_YEAR, "day": SECONDS_PER_DAY}.get(per)
    if seconds is None:
        raise DataError(f"per must be 'year' or 'day', got {per!r}.")
    q: Any = np.asarray(q_m3s, dtype=float)
    if np.isscalar(q_m3s):
        q = float(q)
    return q * seconds / (area_km2 * 1e6) * 1e3
