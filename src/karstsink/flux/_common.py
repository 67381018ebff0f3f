"""Helpers shared by the flux estimators (time axes, unit factors, calibration pairs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..exceptions import DataError, MissingColumnError

Z95 = 1.959963984540054


def decimal_time(when: ArrayLike, *, hour: float | np.ndarray | None = None) -> np.ndarray:
    """Decimal year as LOADEST computes it: ``year + (day_of_year - 1 + hour/24) / days_in_year``.

    Parameters
    ----------
    when : array_like of datetime
        Dates or date-times.
    hour : float or array, optional
        Clock hour to use instead of the timestamps' own (e.g. 12 for daily
        values, LOADEST's convention for daily estimation files).

    Returns
    -------
    numpy.ndarray
        Decimal years [yr].
    """
    t = pd.DatetimeIndex(pd.to_datetime(when))
    if hour is None:
        hrs = (t.hour + t.minute / 60.0 + t.second / 3600.0).to_numpy(dtype=float)
    else:
        hrs = np.broadcast_to(np.asarray(hour, dtype=float), (len(t),))
    ndays = np.where(t.is_leap_year, 366.0, 365.0)
    return t.year.to_numpy(dtype=float) + (t.day_of_year.to_numpy(dtype=float) - 1.0 +
                                           hrs / 24.0) / ndays


def loadest_center(x: np.ndarray) -> float:
    """Centre of a regressor as LOADEST defines it (Cohn et al. 1992).

    ``mean(x) + sum((x - mean)^3) / (2 sum((x - mean)^2))``: with it the linear and
    quadratic terms of a centred quadratic are uncorrelated over the calibration
    data.
    """
    x = np.asarray(x, dtype=float)
    m = x.mean()
    d = x - m
    den = np.sum(d**2)
    return float(m if den == 0 else m + np.sum(d**3) / (2.0 * den))


def check_daily(daily: pd.DataFrame) -> pd.DataFrame:
    """Validate the discharge table every estimator takes."""
    if not isinstance(daily, pd.DataFrame) or "discharge_m3s" not in daily.columns:
        raise MissingColumnError(
            "discharge must be a DataFrame with a 'discharge_m3s' column on a daily "
            "DatetimeIndex (use karstsink.hydrology.read_discharge)."
        )
    if not isinstance(daily.index, pd.DatetimeIndex):
        raise DataError("discharge must be indexed by a DatetimeIndex of days.")
    if daily.index.has_duplicates:
        raise DataError("discharge has duplicate days; read it with read_discharge.")
    q = daily["discharge_m3s"].to_numpy(dtype=float)
    if np.any(q[np.isfinite(q)] < 0):
        raise DataError("discharge has negative values; read it with read_discharge to flag them.")
    return daily


def calibration_pairs(daily: pd.DataFrame, samples: pd.DataFrame, *,
                      positive_q: bool = True) -> pd.DataFrame:
    """Samples with usable concentration on days with discharge, with ``discharge_m3s``.

    ``positive_q`` (regression methods, which take ln Q) also requires Q > 0.

    Adds the flags of :func:`~karstsink.flux.samples.pair_with_discharge` and
    a boolean ``used`` column (all rows are returned).
    """
    from ..io.flux_samples import pair_with_discharge

    for col in ("date", "conc_mg_L"):
        if col not in samples.columns:
            raise MissingColumnError(
                f"samples lack the column {col!r}; read them with "
                "karstsink.flux.samples.read_flux_samples."
            )
    s = samples.copy()
    if "censored" not in s.columns:
        s["censored"] = False
    s["date"] = pd.to_datetime(s["date"]).dt.normalize()
    paired = pair_with_discharge(s, daily)
    q = paired["discharge_m3s"].to_numpy(dtype=float)
    c = paired["conc_mg_L"].to_numpy(dtype=float)
    paired["used"] = paired["in_record"].to_numpy() & np.isfinite(c) & (c >= 0)
    if positive_q:
        paired["used"] &= (q > 0) & (c > 0)
    return paired


def empty_daily(daily: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=daily.index.copy())
    out.index.name = "date"
    out["discharge_m3s"] = daily["discharge_m3s"].to_numpy(dtype=float)
    return out
