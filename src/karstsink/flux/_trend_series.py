"""Changes of the flow-normalised series between chosen years, as EGRET's ``tableChange``.

EGRET 3.0.12's ``tableChange``/``tableChangeSingle`` (after ``modelEstimation``, or
``runSeries`` for generalized flow normalisation) take the annual flow-normalised
concentration and flux (``setupYears``: ``FNConc``, ``FNFlux``) at a list of years
and report, for every pair of them (each year with every later one), the change,
its slope per year, and both in percent of the first year's value.  Re-derived
here for the tables of :func:`karstsink.flux.trends.trend_annual`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ..units import DAYS_PER_YEAR

__all__ = ["SERIES_COLUMNS", "default_series_years", "series"]

#: Columns of :func:`series` (one row per quantity and pair of years).
SERIES_COLUMNS = ["quantity", "units", "year1", "year2", "value1", "value2", "change",
                  "slope_per_yr", "change_pct", "slope_pct_per_yr"]
_KEEP = ("conc_mean_mg_L", "flux_mean_kg_day", "fn_conc_mg_L", "fn_flux_kg_day")


def _kept_years(annual: pd.DataFrame) -> np.ndarray:
    """Years EGRET keeps: those with at least one of Conc, Flux, FNConc, FNFlux."""
    cols = [c for c in _KEEP if c in annual]
    ok = np.isfinite(annual[cols].to_numpy(float)).any(axis=1)
    return annual["year"].to_numpy(int)[ok]


def default_series_years(annual: pd.DataFrame) -> list[int]:
    """EGRET's default ``yearPoints``: the last year and every 5th year before it.

    Parameters
    ----------
    annual : pandas.DataFrame
        :func:`karstsink.flux.trends.trend_annual` (``year`` column).
    """
    kept = _kept_years(annual)
    if kept.size == 0:
        raise DataError("series: no year with a flow-normalised value")
    return list(range(int(kept[-1]), int(kept[0]) - 1, -5))[::-1]


def series(estimate_or_ctx=None, years: Sequence[int] | None = None, *,
           annual: pd.DataFrame | None = None, window_side: float = 0,
           pa_start: int = 10, pa_long: int = 12) -> pd.DataFrame:
    """Change of flow-normalised concentration and flux between years (EGRET ``tableChange``).

    Parameters
    ----------
    estimate_or_ctx : WRTDSEstimate or TrendContext, optional
        The fit; not needed when ``annual`` is given.
    years : sequence of int, optional
        Years (period labels: water years by default), increasing, inside the
        record; default :func:`default_series_years` (EGRET's ``yearPoints = NA``).
        Every year is compared with every later one, as EGRET does.
    annual : pandas.DataFrame, optional
        :func:`karstsink.flux.trends.trend_annual` of the fit (computed when not given).
    window_side : float
        0: stationary flow normalisation (``fn_*`` columns); > 0: generalized
        (``gfn_*``, EGRET's ``runSeries(windowSide)``) [yr].
    pa_start, pa_long : int
        Period of analysis (as :func:`karstsink.flux.trends.trend_annual`).

    Returns
    -------
    pandas.DataFrame
        :data:`SERIES_COLUMNS`: ``quantity`` ``conc`` [mg L⁻¹] or ``flux``
        [kg yr⁻¹] (``units``), ``value1``/``value2`` the flow-normalised values
        of ``year1``/``year2``, ``change = value2 - value1``, ``slope_per_yr =
        change / (year2 - year1)`` [unit yr⁻¹], ``change_pct = 100 change /
        value1`` [%] and ``slope_pct_per_yr = change_pct / (year2 - year1)``
        [% yr⁻¹] (linear, not compound, as EGRET).  NaN where a year has no
        flow-normalised value (EGRET prints ``---``).

    Raises
    ------
    DataError
        Fewer than two years, years not increasing or outside the record.
    """
    if annual is None:
        if estimate_or_ctx is None:
            raise DataError("series: give a WRTDS estimate or its annual trend table")
        from .trends import trend_annual

        annual = trend_annual(estimate_or_ctx, window_side=window_side, pa_start=pa_start,
                              pa_long=pa_long)
    prefix = "gfn" if window_side and window_side > 0 else "fn"
    cols = {"conc": (f"{prefix}_conc_mg_L", "mg/L", 1.0),
            "flux": (f"{prefix}_flux_kg_day", "kg/yr", DAYS_PER_YEAR)}
    missing = [c for c, _u, _k in cols.values() if c not in annual]
    if missing:
        raise DataError(f"series: the annual table has no {', '.join(missing)} (window_side "
                        f"{window_side:g} needs trend_annual(..., window_side={window_side:g}))")
    kept = _kept_years(annual)
    if kept.size == 0:
        raise DataError("series: no year with a flow-normalised value")
    pts = default_series_years(annual) if years is None else [int(y) for y in years]
    first, last = int(kept[0]), int(kept[-1])
    if len(pts) < 2:
        raise DataError(f"series: give at least two years, got {pts}")
    if any(b <= a for a, b in pairwise(pts)):
        raise DataError(f"series: years must increase, got {pts}")
    if pts[0] < first or pts[-1] > last:
        raise DataError(f"series: years {pts} reach outside the record's years "
                        f"{first}-{last}; choose years inside it")
    by_year = annual.set_index("year")
    rows = []
    for q, (col, unit, k) in cols.items():
        v = by_year[col].astype(float) * k
        for i, y1 in enumerate(pts):
            for y2 in pts[i + 1:]:
                a = float(v.get(y1, np.nan))
                b = float(v.get(y2, np.nan))
                dx = y2 - y1
                d = b - a
                pct = 100.0 * d / a if np.isfinite(d) and a != 0 else np.nan
                rows.append({"quantity": q, "units": unit, "year1": y1, "year2": y2,
                             "value1": a, "value2": b, "change": d, "slope_per_yr": d / dx,
                             "change_pct": pct, "slope_pct_per_yr": pct / dx})
    return pd.DataFrame(rows, columns=SERIES_COLUMNS)
