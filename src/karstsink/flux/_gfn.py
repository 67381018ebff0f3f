"""Periods of analysis, flow-normalisation windows and annual means, as EGRET 3.0.12 sets them.

EGRET's ``startEnd``, ``surfaceStartEnd`` and ``makeDateInfo`` (the
flow-normalisation windows of generalized flow normalisation, GFN), the annual
means of ``setupYears`` and the daily flow-normalised series of ``flexFN``,
re-derived for numpy arrays.  A *period of analysis* is ``pa_long`` months
starting in month ``pa_start`` (EGRET's paStart/paLong; 10 and 12 give water
years), labelled by the calendar year it ends in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._checks import finite_number
from ..exceptions import DataError
from ._wrtds_surface import Grid, decimal_year, egret_day_of_year, flow_normalize

__all__ = ["FlowWindow", "annual_means", "flow_windows", "gfn_daily", "period_labels",
           "start_end", "surface_start_end"]


def _check_period(pa_start: int, pa_long: int) -> None:
    if not (1 <= int(pa_start) <= 12 and 1 <= int(pa_long) <= 12):
        raise DataError(f"period of analysis: pa_start must be 1-12 and pa_long 1-12 months, "
                        f"got {pa_start!r} and {pa_long!r}")


def start_end(year: int, pa_start: int = 10, pa_long: int = 12) -> tuple[pd.Timestamp, ...]:
    """First and last day of the period of analysis ending in ``year`` (EGRET ``startEnd``)."""
    _check_period(pa_start, pa_long)
    end_month = pa_start + pa_long - 1
    first = pd.Timestamp(int(year) - 1 if end_month > 12 else int(year), pa_start, 1)
    end_month = end_month - 12 if end_month > 12 else end_month
    last = pd.Timestamp(int(year), end_month, 1) + pd.offsets.MonthEnd(0)
    return first, last


def surface_start_end(first_sample, last_sample, pa_start: int = 10, pa_long: int = 12):
    """EGRET's ``surfaceStartEnd``: the periods of analysis spanning the samples.

    The start is that of the period before the first one starting on or after
    the first sample; the end, that of the last period starting on or before
    the last sample.
    """
    d1, d2 = pd.Timestamp(first_sample), pd.Timestamp(last_sample)
    years = range(d1.year - 2, d2.year + 3)
    y_start = next(y for y in years if d1 <= start_end(y, pa_start, pa_long)[0]) - 1
    y_end = next(y for y in reversed(years) if d2 >= start_end(y, pa_start, pa_long)[0])
    return start_end(y_start, pa_start, pa_long)[0], start_end(y_end, pa_start, pa_long)[1]


@dataclass(frozen=True)
class FlowWindow:
    """One segment of EGRET's ``dateInfo``: days ``flow_*`` normalised with the
    discharges of days ``norm_*`` (all inclusive)."""

    norm_start: pd.Timestamp
    norm_end: pd.Timestamp
    flow_start: pd.Timestamp
    flow_end: pd.Timestamp


def check_window_side(window_side) -> int:
    """``window_side`` as whole years, 0 or more (0: stationary), else one DataError."""
    side = finite_number("window_side", window_side,
                         hint="years of discharge on either side of each year, 0 for "
                              "stationary flow normalisation")
    if side < 0 or side != int(side):
        raise DataError(f"window_side must be a whole number of years, 0 or more (0: stationary "
                        f"flow normalisation; EGRET's windowSide 7 for generalised); got "
                        f"{window_side!r}.")
    return int(side)


def flow_windows(window_side: float, surface_start, surface_end, q_first, q_last
                 ) -> list[FlowWindow]:
    """Flow-normalisation windows (EGRET ``makeDateInfo``).

    ``window_side`` 0: one stationary window, the whole discharge record (a negative,
    fractional or non-finite ``window_side`` is refused).
    Otherwise one segment per year from ``surface_start``; each year is
    normalised with the discharges of ``window_side`` years on either side
    (``2 window_side + 1`` years), shifted to stay inside the record near its
    ends, as EGRET does.
    """
    side = check_window_side(window_side)
    s0, s1 = pd.Timestamp(surface_start), pd.Timestamp(surface_end)
    q0, q1 = pd.Timestamp(q_first), pd.Timestamp(q_last)
    if side == 0:
        return [FlowWindow(q0, q1, s0, s1)]
    ws = side
    full = 1 + 2 * ws
    n_seg = int(np.ceil(((s1 - s0).days + 1) / 365.0))
    out = []
    for k in range(n_seg):
        f0 = s0 + pd.DateOffset(years=k)
        f1 = min(s0 + pd.DateOffset(years=k + 1) - pd.Timedelta(days=1), s1)
        t0, t1 = f0 - pd.DateOffset(years=ws), f1 + pd.DateOffset(years=ws)
        n0, n1 = t0, t1
        if t0 < q0:
            n1 = q0 + pd.DateOffset(years=full) - pd.Timedelta(days=1)
        if t1 > q1:
            n0 = q1 - pd.DateOffset(years=full) + pd.Timedelta(days=1)
        n1, n0 = min(n1, q1), max(n0, q0)
        if f0 < f1:
            out.append(FlowWindow(n0, n1, f0, f1))
    return out


def period_labels(dates, pa_start: int = 10, pa_long: int = 12) -> np.ndarray:
    """Year label of the period of analysis of each day (-1 outside every period)."""
    _check_period(pa_start, pa_long)
    idx = pd.DatetimeIndex(dates)
    month, year = idx.month.to_numpy(), idx.year.to_numpy()
    offset = (month - pa_start) % 12
    spans = pa_start + pa_long - 1 > 12
    label = np.where(spans & (month >= pa_start), year + 1, year)
    return np.where(offset < pa_long, label, -1)


def annual_means(dates, values: dict[str, np.ndarray], good: np.ndarray, *,
                 pa_start: int = 10, pa_long: int = 12) -> pd.DataFrame:
    """Means over each period of analysis, as EGRET's ``setupYears``.

    Parameters
    ----------
    dates : array_like
        Consecutive days.
    values : dict of str to numpy.ndarray
        Daily series to average (NaN ignored).
    good : numpy.ndarray of bool
        Days with an estimate (EGRET tests ``ConcDay``): a period whose first
        and last months lie in the record is kept, and its means are given
        only when more than 90 % of its calendar days are good.

    Returns
    -------
    pandas.DataFrame
        ``year`` (label), ``dec_year`` (mean decimal year of its days, as EGRET's
        ``DecYear``), ``n_days`` and one column per ``values`` key.
    """
    idx = pd.DatetimeIndex(dates)
    lab = period_labels(idx, pa_start, pa_long)
    t = decimal_year(idx)
    first_m, last_m = idx[0].to_period("M"), idx[-1].to_period("M")
    rows = []
    for y in np.unique(lab[lab >= 0]):
        p0, p1 = start_end(int(y), pa_start, pa_long)
        if p0.to_period("M") < first_m or p1.to_period("M") > last_m:
            continue  # EGRET trims periods whose first or last month is outside the record
        sel = np.flatnonzero(lab == y)
        n_cal = (p1 - p0).days + 1
        ok = good[sel].sum() / n_cal > 0.9
        row = {"year": int(y), "dec_year": float(np.mean(t[sel])), "n_days": int(sel.size)}
        for name, v in values.items():
            vv = np.asarray(v, dtype=float)[sel]
            vv = vv[np.isfinite(vv)]
            row[name] = float(vv.mean()) if ok and vv.size else np.nan
        rows.append(row)
    cols = ["year", "dec_year", "n_days", *values]
    return pd.DataFrame(rows, columns=cols)


def gfn_daily(conc_surface: np.ndarray, grid: Grid, dates, t: np.ndarray, log_q: np.ndarray,
              windows: list[FlowWindow]) -> tuple[np.ndarray, np.ndarray]:
    """Daily flow-normalised concentration [mg L⁻¹] and flux [kg d⁻¹] (EGRET ``flexFN``).

    Each window's days are normalised with the discharges of its
    normalisation window (binned by day of year as ``bin_Qs``); days outside
    every window are NaN.
    """
    idx = pd.DatetimeIndex(dates)
    day = egret_day_of_year(idx)
    fn_c = np.full(idx.size, np.nan)
    fn_f = np.full(idx.size, np.nan)
    for w in windows:
        norm = np.flatnonzero((idx >= w.norm_start) & (idx <= w.norm_end))
        flow = np.flatnonzero((idx >= w.flow_start) & (idx <= w.flow_end))
        if norm.size == 0 or flow.size == 0:
            continue
        c, f = flow_normalize(conc_surface, grid, t[norm], log_q[norm], day[norm],
                              at_t=t[flow], at_day=day[flow])
        fn_c[flow], fn_f[flow] = c, f
    return fn_c, fn_f
