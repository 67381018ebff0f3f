"""Trends of a WRTDS fit: flow normalisation, runPairs, runGroups, as USGS EGRET 3.0.12.

Built on a :class:`~karstsink.flux.wrtds.WRTDSEstimate` (its surfaces, daily
record and samples):

* :func:`trend_annual`: per period of analysis (water year by default) the
  mean daily concentration and flux, the stationary flow-normalised values
  (EGRET ``FNConc``/``FNFlux`` of ``tableResults``/``setupYears``), the
  generalized flow-normalised ones for ``window_side`` > 0 (``runSeries``) and
  the WRTDS-Kalman ones (``GenConc``/``GenFlux``) when given;
* :func:`run_pairs`: the change between two years and its split into the
  concentration-discharge trend component (CQTC) and the discharge trend
  component (QTC), as ``runPairs``;
* :func:`run_groups`: the same between the means of two groups of years, as
  ``runGroups``.

Confidence intervals by block bootstrap: :func:`karstsink.flux._trend_boot.bootstrap_trend`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import DataError
from ..units import DAYS_PER_YEAR
from ._common import decimal_time
from ._gfn import (
    annual_means,
    check_window_side,
    flow_windows,
    gfn_daily,
    start_end,
    surface_start_end,
)
from ._kalman import KALMAN_RHO
from ._wrtds_core import Samples, Settings, log_discharge
from ._wrtds_surface import (
    Grid,
    decimal_year,
    egret_day_of_year,
    estimate_surfaces,
    flow_normalize,
    interp_surface,
    sample_arrays,
)
from .aggregate import DEFAULT_YEAR_START_MONTH

__all__ = ["ANNUAL_TREND_COLUMNS", "TREND_COLUMNS", "TrendContext", "TrendResult",
           "annual_trend_columns", "parse_group", "run_groups", "run_pairs", "trend_annual",
           "trend_context"]

#: Columns of a trend table, EGRET's ``runPairs``/``runGroups`` names in lower case.
TREND_COLUMNS = ["x10", "x11", "x20", "x22", "total_change", "cqtc", "qtc",
                 "total_change_pct", "cqtc_pct", "qtc_pct"]


@dataclass
class TrendContext:
    """What the trend tools need from a WRTDS fit, as arrays."""

    dates: pd.DatetimeIndex
    q: np.ndarray  # [m³ s⁻¹]
    log_q: np.ndarray
    t: np.ndarray  # decimal year at noon [yr]
    day: np.ndarray  # EGRET day of year
    grid: Grid
    conc_surface: np.ndarray  # (n_log_q, n_year) [mg L⁻¹]
    samples: Samples
    sample_dates: pd.DatetimeIndex
    settings: Settings
    dec_low: float
    dec_high: float
    daily: pd.DataFrame = field(repr=False, default=None)
    sample_table: pd.DataFrame = field(repr=False, default=None)


def trend_context(estimate) -> TrendContext:
    """Collect the arrays of a :class:`~karstsink.flux.wrtds.WRTDSEstimate` for the trend tools.

    Raises
    ------
    DataError
        ``estimate`` is not a WRTDS fit with its surfaces.
    """
    if getattr(estimate, "surfaces", None) is None or getattr(estimate, "grid", None) is None:
        raise DataError("trends need a WRTDS estimate (method 'wrtds') with its surfaces; "
                        f"got method {getattr(estimate, 'method', None)!r}")
    d = estimate.daily
    q = d["discharge_m3s"].to_numpy(dtype=float)
    log_q, q_shift = log_discharge(q)  # as the fit: zero-flow days shifted as EGRET does
    s = estimate.samples.copy()
    conc = pd.to_numeric(s["conc_mg_L"], errors="coerce").to_numpy(dtype=float)
    qs = pd.to_numeric(s["discharge_m3s"], errors="coerce").to_numpy(dtype=float)
    use = np.isfinite(conc) & (conc > 0) & np.isfinite(qs) & (qs > 0)
    s = s.loc[use].assign(date=lambda x: pd.to_datetime(x["date"]))
    s = s.sort_values("date", kind="stable")
    smp = sample_arrays(s, q_shift)
    st = estimate.model["settings"]
    settings = Settings(st["window_y_yr"], st["window_q_ln"], st["window_s_yr"],
                        int(st["min_obs"]), int(st["min_uncen"]), bool(st["edge_adjust"]))
    return TrendContext(
        dates=pd.DatetimeIndex(d.index), q=q, log_q=log_q, t=decimal_year(d.index),
        day=egret_day_of_year(d.index), grid=estimate.grid,
        conc_surface=np.asarray(estimate.surfaces[2]), samples=smp,
        sample_dates=pd.DatetimeIndex(s["date"]), settings=settings,
        dec_low=float(st["dec_low"]), dec_high=float(st["dec_high"]), daily=d,
        sample_table=s.reset_index(drop=True))


@dataclass
class TrendResult:
    """A runPairs/runGroups result.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``conc`` [mg L⁻¹] and ``flux`` [kg yr⁻¹] (``units`` column), columns
        :data:`TREND_COLUMNS`: ``x11`` (year/group 1 with its own flow
        window), ``x22`` (year/group 2), ``x10``/``x20`` (their surfaces with the
        whole discharge record), ``total_change = x22 - x11``, ``cqtc = x20 - x10``,
        ``qtc = total_change - cqtc`` and the three as percent of ``x11``.
    kind : str
        ``pairs`` or ``groups``.
    info : dict
        Years, windows, minimum counts, EGRET function.
    """

    table: pd.DataFrame
    kind: str
    info: dict[str, Any]


def _table(c: dict[str, float], f: dict[str, float]) -> pd.DataFrame:
    rows = []
    for name, x, unit, k in (("conc", c, "mg/L", 1.0), ("flux", f, "kg/yr", DAYS_PER_YEAR)):
        x10, x11, x20, x22 = (k * x[n] for n in ("x10", "x11", "x20", "x22"))
        tot, cq = x22 - x11, x20 - x10
        rows.append({"quantity": name, "units": unit, "x10": x10, "x11": x11, "x20": x20,
                     "x22": x22, "total_change": tot, "cqtc": cq, "qtc": tot - cq,
                     "total_change_pct": 100 * tot / x11, "cqtc_pct": 100 * cq / x11,
                     "qtc_pct": 100 * (tot - cq) / x11})
    return pd.DataFrame(rows).set_index("quantity")


def _decimal_date_midnight(ts: pd.Timestamp) -> float:
    """EGRET ``decimalDate`` of a Date (midnight) [yr]."""
    return float(decimal_time([ts], hour=0.0)[0])


def slice_grid(grid: Grid, first: pd.Timestamp, last: pd.Timestamp) -> Grid:
    """The columns of ``grid`` EGRET's ``estSurfaces(surfaceStart, surfaceEnd)`` estimates.

    The grid years within the period, plus one on either side.
    """
    yr = grid.year
    inside = np.flatnonzero((yr >= _decimal_date_midnight(first))
                            & (yr <= _decimal_date_midnight(last)))
    if inside.size == 0:
        raise DataError(f"the period {first.date()}..{last.date()} is outside the WRTDS grid")
    i0, i1 = max(int(inside[0]) - 1, 0), min(int(inside[-1]) + 1, grid.n_year - 1)
    return replace(grid, bottom_year=grid.bottom_year + i0 * grid.step_year, n_year=i1 - i0 + 1)


def pair_min_counts(settings: Settings, n1: int, n2: int, fract_min: float = 0.75):
    """runPairs' minimum counts: ``ceil(min(minNumObs, fractMin n1, fractMin n2))`` and
    ``ceil(min(0.5 minNumObs, minNumUncen))``."""
    f = min(float(fract_min), 1.0)
    m = math.ceil(min(settings.min_obs, f * n1, f * n2))
    return m, math.ceil(min(0.5 * m, settings.min_uncen))


def fn_year_mean(ctx: TrendContext, conc_surface, grid: Grid, norm: np.ndarray,
                 target: np.ndarray, period: tuple[pd.Timestamp, pd.Timestamp],
                 ) -> tuple[float, float]:
    """Mean flow-normalised concentration [mg L⁻¹] and flux [kg d⁻¹] over the ``target`` days.

    Discharges of the ``norm`` days are binned by day of year (EGRET
    ``estDailyFromSurfaces`` on that window, then ``setupYears``): NaN when
    90 % of the calendar days of ``period`` (first and last day of the period
    of analysis, :func:`~karstsink.flux._gfn.start_end`) or fewer have a daily
    estimate on the surface, so a year cut off by either end of the discharge
    record is refused like one with a gap inside it.
    """
    fc, ff = flow_normalize(conc_surface, grid, ctx.t[norm], ctx.log_q[norm], ctx.day[norm],
                            at_t=ctx.t[target], at_day=ctx.day[target])
    own = interp_surface(conc_surface, grid, ctx.log_q[target], ctx.t[target])
    n_cal = (period[1] - period[0]).days + 1
    if np.isfinite(own).sum() / n_cal <= 0.9:
        return np.nan, np.nan
    return float(np.nanmean(fc)), float(np.nanmean(ff))


def _days(ctx: TrendContext, first, last) -> np.ndarray:
    return np.flatnonzero((ctx.dates >= first) & (ctx.dates <= last))


@dataclass
class PairPlan:
    """Everything a runPairs evaluation (and its bootstrap) needs besides the surfaces."""

    grids: tuple[Grid, Grid]
    norms: tuple[np.ndarray, np.ndarray]
    targets: tuple[np.ndarray, np.ndarray]
    all_days: np.ndarray
    settings: Settings
    periods: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]  # first and last day of each year


def pair_values(ctx: TrendContext, plan: PairPlan, surf1, surf2):
    """(conc, flux) dicts of x10, x11, x20, x22 (flux in kg d⁻¹) from the two year surfaces."""
    c, f = {}, {}
    for k, surf in ((1, surf1), (2, surf2)):
        g, tgt, per = plan.grids[k - 1], plan.targets[k - 1], plan.periods[k - 1]
        c[f"x{k}{k}"], f[f"x{k}{k}"] = fn_year_mean(ctx, surf, g, plan.norms[k - 1], tgt, per)
        c[f"x{k}0"], f[f"x{k}0"] = fn_year_mean(ctx, surf, g, plan.all_days, tgt, per)
    return c, f


def run_pairs(estimate_or_ctx, year1: int, year2: int, *, window_side: float = 0,
              pa_start: int = 10, pa_long: int = 12, fract_min: float = 0.75) -> TrendResult:
    """Change in flow-normalised concentration and flux between two years (EGRET ``runPairs``).

    Each year gets its own surface, re-estimated with all samples (windows
    and widening of the fit; the minimum counts lowered to ``fract_min`` of
    the samples when the record is short, as EGRET does) over that year.

    Parameters
    ----------
    estimate_or_ctx : WRTDSEstimate or TrendContext
    year1, year2 : int
        Periods of analysis (water years: the year they end in).
    window_side : float
        Generalized flow normalisation: half-width of the discharge window
        [yr] (EGRET ``windowSide``); 0 for stationary flow normalisation.
    pa_start, pa_long : int
        Period of analysis: first month and length [months].
    fract_min : float
        EGRET ``fractMin``.

    Returns
    -------
    TrendResult

    Raises
    ------
    DataError
        A year outside the samples, or too few samples.
    """
    window_side = check_window_side(window_side)
    ctx = _ctx(estimate_or_ctx)
    (a0, a1), (b0, b1) = start_end(year1, pa_start, pa_long), start_end(year2, pa_start, pa_long)
    s_first, s_last = ctx.sample_dates[0], ctx.sample_dates[-1]
    if b0 > s_last:
        raise DataError(f"--pairs: year2 {year2} starts after the last sample ({s_last.date()})")
    if a1 < s_first:
        raise DataError(f"--pairs: year1 {year1} ends before the first sample ({s_first.date()})")
    if int(year1) >= int(year2):
        raise DataError(f"--pairs: year1 ({year1}) must come before year2 ({year2})")
    n = ctx.samples.n
    m_obs, m_unc = pair_min_counts(ctx.settings, n, n, fract_min)
    n_unc = int((~ctx.samples.censored).sum())
    if m_obs > n or m_unc > n_unc:
        raise DataError(f"--pairs: {n} samples ({n_unc} uncensored) are too few for "
                        f"min_obs={m_obs}, min_uncen={m_unc}")
    q0, q1 = ctx.dates[0], ctx.dates[-1]
    wins = [flow_windows(window_side, p0, p1, q0, q1)[0] for p0, p1 in ((a0, a1), (b0, b1))]
    settings = replace(ctx.settings, min_obs=m_obs, min_uncen=m_unc)
    plan = PairPlan(
        grids=(slice_grid(ctx.grid, a0, a1), slice_grid(ctx.grid, b0, b1)),
        norms=(_days(ctx, wins[0].norm_start, wins[0].norm_end),
               _days(ctx, wins[1].norm_start, wins[1].norm_end)),
        targets=(_days(ctx, a0, a1), _days(ctx, b0, b1)),
        all_days=np.arange(ctx.dates.size), settings=settings, periods=((a0, a1), (b0, b1)))
    if any(t.size == 0 for t in plan.targets):
        raise DataError(f"--pairs: the discharge record does not cover {year1} and {year2}")
    surf = [estimate_surfaces(g, ctx.samples, settings, ctx.dec_low, ctx.dec_high)[0][2]
            for g in plan.grids]
    c, f = pair_values(ctx, plan, *surf)
    if not np.isfinite([c["x11"], c["x22"]]).all():
        raise DataError(f"--pairs: year {year1 if not np.isfinite(c['x11']) else year2} has "
                        "discharge on 90 % of its days or fewer; choose another year")
    info = {"egret": "runPairs", "year1": int(year1), "year2": int(year2),
            "window_side": window_side, "pa_start": pa_start, "pa_long": pa_long,
            "min_obs": m_obs, "min_uncen": m_unc,  # EGRET fractMin: also the bootstrap's
            "flow_windows": [{k: str(getattr(w, k).date()) for k in
                              ("norm_start", "norm_end", "flow_start", "flow_end")}
                             for w in wins],
            "_plan": plan}
    return TrendResult(_table(c, f), "pairs", info)


_GROUP = re.compile(r"^\s*(\d{4})\s*[-:]\s*(\d{4})\s*$")


def parse_group(text: str) -> tuple[int, int]:
    """First and last year of a group written ``"1980-1995"`` (or ``1980:1995``).

    Raises
    ------
    DataError
        ``text`` is not two four-digit years.
    """
    m = _GROUP.match(str(text))
    if not m:
        raise DataError(f"{text!r} is not a group of years like 1980-1995")
    return int(m.group(1)), int(m.group(2))


def _ctx(x) -> TrendContext:
    return x if isinstance(x, TrendContext) else trend_context(x)


@dataclass
class GroupPlan:
    """Windows and year selections of a runGroups evaluation."""

    windows: list
    stationary: list
    years1: tuple[int, int]
    years2: tuple[int, int]
    pa: tuple[int, int]
    grid: Grid  # the columns of runGroups' surface (surfaceStart..surfaceEnd)


def group_values(ctx: TrendContext, plan: GroupPlan, conc_surface, grid: Grid | None = None,
                 years_out: list[int] | None = None):
    """(conc, flux) dicts of x10, x11, x20, x22 (flux in kg d⁻¹) of the groups.

    ``years_out``, if given, receives the years that have a flow-normalised value.
    """
    grid = ctx.grid if grid is None else grid
    in_win = np.zeros(ctx.dates.size, bool)
    for w in plan.stationary:
        in_win |= (ctx.dates >= w.flow_start) & (ctx.dates <= w.flow_end)
    own = interp_surface(conc_surface, grid, ctx.log_q, ctx.t)
    good = np.isfinite(own) & in_win
    ann = {}
    for key, wins in (("flex", plan.windows), ("sta", plan.stationary)):
        fc, ff = gfn_daily(conc_surface, grid, ctx.dates, ctx.t, ctx.log_q, wins)
        ann[key] = annual_means(ctx.dates, {"c": fc, "f": ff}, good,
                                pa_start=plan.pa[0], pa_long=plan.pa[1]).set_index("year")
    if years_out is not None:
        flex = ann["flex"]
        years_out.extend(int(y) for y in flex.index[np.isfinite(flex["c"].to_numpy())])
    c, f = {}, {}
    for g, (y0, y1) in ((1, plan.years1), (2, plan.years2)):
        for key, x in (("flex", f"x{g}{g}"), ("sta", f"x{g}0")):
            a = ann[key]
            sel = a[(a.index >= y0) & (a.index <= y1)]
            if not np.isfinite(sel["c"].to_numpy()).any():  # no year of the group: refused
                c[x] = f[x] = float("nan")
                continue
            c[x], f[x] = float(np.nanmean(sel["c"])), float(np.nanmean(sel["f"]))
    return c, f


def run_groups(estimate_or_ctx, group1: tuple[int, int], group2: tuple[int, int], *,
               window_side: float = 0, pa_start: int = 10, pa_long: int = 12) -> TrendResult:
    """Change between the mean flow-normalised values of two groups of years (EGRET ``runGroups``).

    One surface over the periods spanning the samples (EGRET's
    ``surfaceStartEnd``), flow-normalised per year with the windows of
    ``window_side`` (``x11``, ``x22``) and with the whole record (``x10``, ``x20``).

    Parameters
    ----------
    estimate_or_ctx : WRTDSEstimate or TrendContext
        As :func:`run_pairs`.
    group1, group2 : (int, int)
        First and last year (inclusive labels, water years by default).  EGRET
        selects years by their mean decimal year ``first <= DecYear <= last``:
        for water years, our ``(a, b)`` is EGRET's ``group1firstYear = a,
        group1lastYear = b + 1``.
    window_side, pa_start, pa_long
        As :func:`run_pairs`.

    Returns
    -------
    TrendResult
    """
    window_side = check_window_side(window_side)
    ctx = _ctx(estimate_or_ctx)
    g1, g2 = (int(group1[0]), int(group1[1])), (int(group2[0]), int(group2[1]))
    if g1[0] > g1[1] or g2[0] > g2[1] or g1[1] >= g2[0]:
        raise DataError(f"--groups: need first <= last and group 1 before group 2, got "
                        f"{g1[0]}-{g1[1]} and {g2[0]}-{g2[1]}")
    s0, s1 = surface_start_end(ctx.sample_dates[0], ctx.sample_dates[-1], pa_start, pa_long)
    q0, q1 = ctx.dates[0], ctx.dates[-1]
    plan = GroupPlan(flow_windows(window_side, s0, s1, q0, q1), flow_windows(0, s0, s1, q0, q1),
                     g1, g2, (pa_start, pa_long), slice_grid(ctx.grid, s0, s1))
    have: list[int] = []
    c, f = group_values(ctx, plan, ctx.conc_surface, years_out=have)
    have_set = set(have)
    for g, (y0, y1) in ((1, g1), (2, g2)):
        outside = [y for y in range(y0, y1 + 1) if y not in have_set]
        if have and outside:  # a group reaching past the record would be mislabelled
            raise DataError(
                f"--groups: group {g} {y0}-{y1} reaches years with no flow-normalised value "
                f"({outside[0]}{'-' + str(outside[-1]) if len(outside) > 1 else ''}): the "
                f"record gives {min(have)}-{max(have)}; choose years within it")
    bad = [k for k in ("x11", "x22") if not np.isfinite(c[k])]
    if bad:
        raise DataError(f"--groups: no complete year with samples in group "
                        f"{bad[0][1]} ({(g1 if bad[0] == 'x11' else g2)}); choose other years")
    info = {"egret": "runGroups", "group1": list(g1), "group2": list(g2),
            "window_side": window_side, "pa_start": pa_start, "pa_long": pa_long,
            # runGroups (and its bootstrap) keep the fit's minimum counts, unlowered
            "min_obs": ctx.settings.min_obs, "min_uncen": ctx.settings.min_uncen,
            "surface_start": str(s0.date()), "surface_end": str(s1.date()), "_plan": plan}
    return TrendResult(_table(c, f), "groups", info)


def trend_annual(estimate_or_ctx, *, window_side: float = 0, kalman: pd.DataFrame | None = None,
                 pa_start: int = 10, pa_long: int = 12) -> pd.DataFrame:
    """Annual flow-normalised (and WRTDS-Kalman) values, as EGRET's ``setupYears``.

    Returns
    -------
    pandas.DataFrame
        ``year``, ``dec_year`` [yr], ``conc_mean_mg_L`` (mean of daily
        concentrations, EGRET ``Conc``) [mg L⁻¹], ``flux_mean_kg_day`` (EGRET
        ``Flux``), ``fn_conc_mg_L``, ``fn_flux_kg_day`` (stationary, EGRET
        ``FNConc``/``FNFlux``), with ``window_side`` > 0 also ``gfn_conc_mg_L``,
        ``gfn_flux_kg_day`` (``runSeries(windowSide)``), and with ``kalman``
        (from :func:`karstsink.flux._kalman.wrtds_kalman`) ``kalman_conc_mg_L``
        (EGRET ``GenConc``: mean of daily ``GenConc``), ``kalman_flux_kg_day``
        (``GenFlux``) [kg d⁻¹].  Years with estimates on 90 % of their days or
        fewer are NaN, as EGRET.
    """
    window_side = check_window_side(window_side)
    ctx = _ctx(estimate_or_ctx)
    d = ctx.daily
    vals = {"conc_mean_mg_L": d["conc_mg_L"].to_numpy(float),
            "flux_mean_kg_day": d["flux_kg_day"].to_numpy(float),
            "fn_conc_mg_L": d["fn_conc_mg_L"].to_numpy(float),
            "fn_flux_kg_day": d["fn_flux_kg_day"].to_numpy(float)}
    # EGRET tests ConcDay; a zero-flow day has an estimate (a load of 0, no concentration)
    good = np.isfinite(vals["conc_mean_mg_L"]) | (ctx.q == 0.0)
    if window_side > 0:
        s0, s1 = surface_start_end(ctx.sample_dates[0], ctx.sample_dates[-1], pa_start, pa_long)
        wins = flow_windows(window_side, s0, s1, ctx.dates[0], ctx.dates[-1])
        vals["gfn_conc_mg_L"], vals["gfn_flux_kg_day"] = gfn_daily(
            ctx.conc_surface, ctx.grid, ctx.dates, ctx.t, ctx.log_q, wins)
    if kalman is not None:
        k = kalman.reindex(ctx.dates)
        vals["kalman_conc_mg_L"] = k["kalman_conc_mg_L"].to_numpy(float)
        vals["kalman_flux_kg_day"] = k["kalman_flux_kg_day"].to_numpy(float)
    return annual_means(ctx.dates, vals, good, pa_start=pa_start, pa_long=pa_long)


#: Columns :func:`annual_trend_columns` adds to ``annual.csv`` (after the columns of
#: ``workflows.catchment.ANNUAL_COLUMNS``).
ANNUAL_TREND_COLUMNS = ["fn_conc_mg_L", "fn_flux_kg_day", "kalman_conc_mg_L",
                        "kalman_flux_kg_day"]


def annual_trend_columns(estimate, *, kalman_iter: int = 200, rho: float = KALMAN_RHO,
                         seed: int | None = None,
                         year_start_month: int = DEFAULT_YEAR_START_MONTH,
                         kalman: pd.DataFrame | None = None) -> pd.DataFrame:
    """``year`` and :data:`ANNUAL_TREND_COLUMNS` of a WRTDS fit, for the annual table.

    Stationary flow-normalised concentration [mg L⁻¹] and flux [kg d⁻¹] and the
    WRTDS-Kalman ones (``kalman_iter`` realisations; 0 leaves them NaN, or the
    daily ``kalman`` table of :func:`karstsink.flux._kalman.wrtds_kalman` when
    given), per year starting in ``year_start_month``; an empty table for other
    methods.
    """
    if getattr(estimate, "surfaces", None) is None:
        return pd.DataFrame(columns=["year", *ANNUAL_TREND_COLUMNS])
    from ._kalman import wrtds_kalman

    kal = kalman
    if kal is None and kalman_iter:
        kal = wrtds_kalman(estimate, rho=rho, niter=kalman_iter, seed=seed)
    ann = trend_annual(estimate, kalman=kal, pa_start=year_start_month)
    for c in ANNUAL_TREND_COLUMNS:
        if c not in ann:
            ann[c] = np.nan
    return ann[["year", *ANNUAL_TREND_COLUMNS]]
