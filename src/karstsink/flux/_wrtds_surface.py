"""WRTDS surfaces and the daily values read off them, as EGRET 3.0.12 computes them.

EGRET's dates (``populateDateColumns``, ``decimalDate``, ``decimalHighLow``),
its estimation grid (``surfaceIndex``), the three surfaces fitted on it
(``estSurfaces``, with the batched regressions of :mod:`._wrtds_core`), the
bilinear interpolation of daily values (``estDailyFromSurfaces``) and flow
normalisation (``bin_Qs``, ``getConcFluxFromSurface``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..units import KG_DAY_PER_M3S_MG_L
from ._wrtds_core import Samples, Settings, fit_points_counts

# ---------------------------------------------------------------------------
# Dates, as EGRET's populateDateColumns/decimalDate/decimalHighLow compute them
# ---------------------------------------------------------------------------


def decimal_year(dates) -> np.ndarray:
    """Decimal year of each day at noon [yr], as EGRET's ``decimalDate`` for dates.

    EGRET sets the time of date-only values to 12:00, so day ``d`` (0-based
    day of year) of a year with ``n`` days is ``year + (d + 0.5) / n``: LOADEST's
    decimal time at noon (:func:`karstsink.flux._common.decimal_time`).
    """
    from ._common import decimal_time

    return decimal_time(dates, hour=12.0)


def sample_arrays(table, q_shift: float) -> Samples:
    """The calibration samples of a WRTDS fit: a table with ``date``, ``discharge_m3s``
    [m³ s⁻¹], ``conc_mg_L`` [mg L⁻¹] and ``censored``, sorted by date; ``q_shift``: the
    record's zero-flow shift [m³ s⁻¹] (:func:`~karstsink.flux._wrtds_core.log_discharge`),
    added to the samples' discharge as to the days'."""
    return Samples(t=decimal_year(table["date"]),
                   log_q=np.log(table["discharge_m3s"].to_numpy(float) + q_shift),
                   y=np.log(table["conc_mg_L"].to_numpy(float)),
                   censored=table["censored"].to_numpy(bool))


def egret_day_of_year(dates) -> np.ndarray:
    """EGRET's ``Day``: day of year 1-366 with 29 February always day 60.

    In non-leap years days after 28 February are shifted by one, so 1 March
    is always day 61 (``populateDateColumns``).
    """
    import pandas as pd

    idx = pd.DatetimeIndex(dates)
    day = idx.day_of_year.to_numpy(dtype=np.int64)
    shift = (~np.asarray(idx.is_leap_year)) & (day > 59)
    return day + shift.astype(np.int64)


def decimal_high_low(first_t: float, first_month: int, last_t: float, last_month: int):
    """EGRET's ``decimalHighLow``: water-year bounds of the sample record [yr]."""
    low = np.trunc(first_t) - 0.25 + (1.0 if first_month >= 10 else 0.0)
    high = np.trunc(last_t) + 0.75 + (1.0 if last_month >= 10 else 0.0)
    return float(low), float(high)


# ---------------------------------------------------------------------------
# The estimation grid and interpolation on it
# ---------------------------------------------------------------------------


@dataclass
class Grid:
    """EGRET's surface grid (``surfaceIndex``): 14 ln Q levels x time every 1/16 yr."""

    bottom_log_q: float
    step_log_q: float
    n_log_q: int
    bottom_year: float
    step_year: float
    n_year: int

    @property
    def log_q(self) -> np.ndarray:
        return self.bottom_log_q + self.step_log_q * np.arange(self.n_log_q)

    @property
    def year(self) -> np.ndarray:
        return self.bottom_year + self.step_year * np.arange(self.n_year)

    def as_dict(self) -> dict:
        return {
            "bottom_log_q": self.bottom_log_q,
            "step_log_q": self.step_log_q,
            "n_log_q": self.n_log_q,
            "bottom_year": self.bottom_year,
            "step_year": self.step_year,
            "n_year": self.n_year,
            "log_q_units": "ln(m3/s)",
            "year_units": "decimal year",
        }


def surface_grid(daily_t: np.ndarray, daily_log_q: np.ndarray) -> Grid:
    """The grid of EGRET's ``surfaceIndex`` for a daily record.

    ln Q from min - 0.05 to max + 0.05 of the daily ln Q in 13 equal steps; time
    from the floor of the first to the ceiling of the last decimal year in
    steps of 1/16 yr.
    """
    lo = float(np.nanmin(daily_log_q)) - 0.05
    hi = float(np.nanmax(daily_log_q)) + 0.05
    y0 = float(np.floor(np.nanmin(daily_t)))
    y1 = float(np.ceil(np.nanmax(daily_t)))
    return Grid(lo, (hi - lo) / 13.0, 14, y0, 1.0 / 16.0, round((y1 - y0) * 16) + 1)


def _frac_index(x, x0, step, n):
    """Cell index and fraction for bilinear interpolation (``fields::interp.surface``)."""
    f = (np.asarray(x, dtype=float) - x0) / step
    outside = ~((f >= -1e-9) & (f <= n - 1 + 1e-9))  # also NaN
    f = np.clip(np.where(outside, 0.0, f), 0.0, n - 1)
    i0 = np.minimum(np.floor(f).astype(np.int64), n - 2)
    return i0, f - i0, outside


def interp_surface(surface: np.ndarray, grid: Grid, log_q, t) -> np.ndarray:
    """Bilinear interpolation of a (n_log_q, n_year) surface; NaN outside the grid."""
    return interp_surfaces(surface[None], grid, log_q, t)[0]


def interp_surfaces(surfaces: np.ndarray, grid: Grid, log_q, t) -> np.ndarray:
    """Bilinear interpolation of R surfaces (R, n_log_q, n_year) at the same points -> (R, n)."""
    qi, qf, qout = _frac_index(log_q, grid.bottom_log_q, grid.step_log_q, grid.n_log_q)
    ti, tf, tout = _frac_index(t, grid.bottom_year, grid.step_year, grid.n_year)
    s = surfaces
    out = (
        s[:, qi, ti] * ((1 - qf) * (1 - tf))
        + s[:, qi + 1, ti] * (qf * (1 - tf))
        + s[:, qi, ti + 1] * ((1 - qf) * tf)
        + s[:, qi + 1, ti + 1] * (qf * tf)
    )
    return np.where(qout | tout, np.nan, out)


def flow_normalize(
    conc_surface: np.ndarray, grid: Grid, t: np.ndarray, log_q: np.ndarray, day: np.ndarray,
    *, at_t: np.ndarray | None = None, at_day: np.ndarray | None = None,
):
    """Flow-normalised concentration [mg L⁻¹] and flux [kg d⁻¹] for every day.

    ``t``/``log_q``/``day`` are the days whose discharges are binned; with
    ``at_t``/``at_day`` the values are evaluated at those days instead (the
    flow-normalisation window of generalized flow normalisation).

    For each day, the mean over every discharge observed on the same day of
    the year in the whole record (EGRET's ``bin_Qs``: 28 and 29 February share
    one bin) of the concentration surface at that day's time
    (``getConcFluxFromSurface``).  Bilinear interpolation is linear in each
    axis, so the mean over discharges reduces to mean interpolation weights of
    the 14 ln Q levels per bin, applied to every grid column at once.
    """
    bin_of = np.where(day == 60, 59, day)
    ok = np.isfinite(log_q)
    qi, qf, _ = _frac_index(log_q[ok], grid.bottom_log_q, grid.step_log_q, grid.n_log_q)
    bins = bin_of[ok]
    qv = np.exp(log_q[ok]) * KG_DAY_PER_M3S_MG_L
    # Mean interpolation weight of each ln Q level over the discharges of each bin:
    # the bin mean of the surface at any time column is then a 14-term dot product.
    wgt = np.zeros((367, grid.n_log_q))
    wgt_q = np.zeros((367, grid.n_log_q))
    np.add.at(wgt, (bins, qi), 1 - qf)
    np.add.at(wgt, (bins, qi + 1), qf)
    np.add.at(wgt_q, (bins, qi), (1 - qf) * qv)
    np.add.at(wgt_q, (bins, qi + 1), qf * qv)
    n_bin = np.bincount(bins, minlength=367).astype(float)
    has = n_bin > 0
    wgt[has] /= n_bin[has, None]
    wgt_q[has] /= n_bin[has, None]
    mean_c = wgt @ conc_surface  # (367, n_year)
    mean_f = wgt_q @ conc_surface
    if at_t is not None:
        if at_day is None:
            raise ValueError("at_t needs at_day (the day of year of each time)")
        t, bin_of = np.asarray(at_t, dtype=float), np.where(at_day == 60, 59, at_day)
    ti, tf, tout = _frac_index(t, grid.bottom_year, grid.step_year, grid.n_year)
    valid = has[bin_of] & ~tout
    fn_c = mean_c[bin_of, ti] * (1 - tf) + mean_c[bin_of, ti + 1] * tf
    fn_f = mean_f[bin_of, ti] * (1 - tf) + mean_f[bin_of, ti + 1] * tf
    return np.where(valid, fn_c, np.nan), np.where(valid, fn_f, np.nan)


def estimate_surfaces(
    grid: Grid,
    samples: Samples,
    settings: Settings,
    dec_low: float,
    dec_high: float,
    counts: np.ndarray | None = None,
    **kwargs,
):
    """The three EGRET surfaces (yHat, SE, ConcHat), each (n_log_q, n_year).

    With ``counts`` (R, N) the surfaces of R resamples come back as
    (R, 3, n_log_q, n_year).
    """
    tt, qq = np.meshgrid(grid.year, grid.log_q)  # (nQ, nY)
    single = counts is None
    cnt = np.ones((1, samples.n)) if counts is None else counts
    fit = fit_points_counts(
        tt.ravel(), qq.ravel(), samples, cnt, settings, dec_low, dec_high, **kwargs
    )
    yhat = fit.yhat.reshape(-1, *tt.shape)
    se = fit.se.reshape(-1, *tt.shape)
    surf = np.stack([yhat, se, np.exp(yhat + 0.5 * se**2)], axis=1)
    return (surf[0] if single else surf), fit
