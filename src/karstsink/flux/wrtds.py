"""WRTDS: weighted regressions on time, discharge and season, as USGS EGRET 3.0.12 computes them.

``estimate_wrtds(daily, samples)`` fits EGRET's concentration surface, reads
daily concentration and flux off it, flow-normalises them, cross-validates the
model (leave one out) and, by default, runs a block bootstrap in parallel so
that :meth:`FluxEstimate.period_stats` gives 95 % intervals for any period.

The surface is computed for all grid points at once (see
:mod:`karstsink.flux._wrtds_core` and :mod:`karstsink.flux._wrtds_surface`); on
the 32-year, 606-sample Choptank record it takes a fraction of a second where
EGRET's per-point ``survreg`` loop takes about 100 s (``benchmarks/bench_flux.py``).
The bootstrap is in :mod:`karstsink.flux._wrtds_bootstrap`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .. import qa
from .._seed import resolve_seed
from .._workers import default_jobs as default_jobs  # kept importable from here
from ..exceptions import DataError, DataQualityWarning, MissingColumnError
from ..units import KG_DAY_PER_M3S_MG_L
from ._base import FluxEstimate
from ._common import check_daily, has_flag, unused_reasons, warn_extrapolated
from ._wrtds_bootstrap import _BootRun, check_block_days, check_replicates
from ._wrtds_core import (
    Settings,
    check_counts,
    fit_points,
    log_discharge,
    lower_min_obs_hint,
)
from ._wrtds_solve import single_thread_blas
from ._wrtds_surface import (
    Grid,
    decimal_high_low,
    decimal_year,
    egret_day_of_year,
    estimate_surfaces,
    flow_normalize,
    interp_surface,
    sample_arrays,
    surface_grid,
)

__all__ = ["DEFAULT_BLOCK_DAYS", "DEFAULT_BOOTSTRAP", "WRTDSEstimate", "estimate_wrtds"]

#: Bootstrap replicates by default.  A replicate costs ~40 ms of CPU on the
#: 32-year, 606-sample Choptank record; 50 (half EGRETci's ``nBoot`` of 100) keep
#: the whole ``karstsink flux --method wrtds`` run near 20x faster than EGRET's
#: ``modelEstimation`` on 2 cores (benchmarks/bench_flux.py).  Ask for more
#: (``bootstrap=200``) for steadier 95 % percentile intervals.
DEFAULT_BOOTSTRAP = 50
#: Block length of the bootstrap [d] (EGRETci's default ``blockLength``).
DEFAULT_BLOCK_DAYS = 200


@dataclass
class WRTDSEstimate(FluxEstimate):
    """A :class:`FluxEstimate` that also keeps the WRTDS surfaces.

    Attributes
    ----------
    surfaces : numpy.ndarray or None
        ``(3, n_log_q, n_year)``: ln concentration ``yHat`` [ln(mg L⁻¹)], its
        scale ``SE`` [ln units] and the bias-corrected concentration
        ``exp(yHat + SE²/2)`` [mg L⁻¹] on the grid of :attr:`grid`.
    grid : Grid or None
        The estimation grid (EGRET's ``surfaceIndex``).
    """

    surfaces: np.ndarray | None = None
    grid: Grid | None = None


def estimate_wrtds(
    daily: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    window_y: float = 7.0,
    window_q: float = 2.0,
    window_s: float = 0.5,
    min_obs: int = 100,
    min_uncen: int = 50,
    edge_adjust: bool = True,
    bootstrap: int = DEFAULT_BOOTSTRAP,
    block_days: int = DEFAULT_BLOCK_DAYS,
    jobs: int | None = None,
    seed: int | None = None,
    cross_validate: bool = True,
) -> WRTDSEstimate:
    r"""Estimate daily concentration and flux with WRTDS (EGRET 3.0.12 defaults).

    At each point of a grid in time and ln discharge a weighted regression
    (censored maximum likelihood where detection limits fall in the window)
    of ln concentration on time, ln discharge and season is fitted [1]_;
    daily values are read off the surfaces, as EGRET does [2]_.

    Parameters
    ----------
    daily : pandas.DataFrame
        Daily record on a ``DatetimeIndex`` (one row per day), with column
        ``discharge_m3s`` [m³ s⁻¹]; NaN days get NaN concentration and flux.
        Other columns (e.g. ``qa_flags``) are carried through.
    samples : pandas.DataFrame
        Columns ``date`` (day), ``conc_mg_L`` [mg L⁻¹] (the detection limit
        for a censored value) and ``censored`` (bool).
    window_y, window_q, window_s : float
        Half-windows in time [yr], ln discharge [ln units] and season [yr].
    min_obs, min_uncen : int
        Samples (and uncensored samples) that must carry weight at every
        point; windows widen by 10 % steps until they do.
    edge_adjust : bool
        Widen the time window near the ends of the record (EGRET ``edgeAdjust``).
    bootstrap : int
        Block-bootstrap replicates for intervals (0 for none).
    block_days : int
        Bootstrap block length [d].
    jobs : int, optional
        Worker processes for the bootstrap; default: all CPUs.
    seed : int, optional
        Seed of the bootstrap (same seed, same intervals, for any ``jobs``); default: a
        fresh one, recorded in ``model["interval"]["seed"]``.
    cross_validate : bool
        Run the leave-one-out cross-validation (``estCrossVal``) and the
        flux-bias statistic.

    Returns
    -------
    WRTDSEstimate
        ``daily`` with ``discharge_m3s`` [m³ s⁻¹], ``conc_mg_L`` [mg L⁻¹],
        ``flux_kg_day`` and ``flux_se_kg_day`` [kg d⁻¹], ``fn_conc_mg_L``
        [mg L⁻¹], ``fn_flux_kg_day`` [kg d⁻¹], ``yhat`` [ln(mg L⁻¹)], ``se``
        [ln units]; ``samples`` with every input row, ``discharge_m3s``,
        ``yhat``, ``se``, ``fitted_mg_L`` and ``residual`` (leave-one-out, ln
        units) and ``qa_flags``; ``model`` (settings, grid, flux bias, counts,
        run time); ``replicates`` ``(bootstrap, n_days)`` daily fluxes [kg d⁻¹].

    Raises
    ------
    MissingColumnError
        A required column is missing.
    DataError
        The daily index is not daily dates, or there are fewer usable samples
        than ``min_obs``/``min_uncen``.

    Warns
    -----
    DataQualityWarning
        Samples that cannot be used (no discharge that day, missing or
        non-positive value) are kept, flagged and left out of the fit.

    Notes
    -----
    At each grid point

    .. math::

        \ln c = \beta_0 + \beta_1 t + \beta_2 \ln Q + \beta_3 \sin 2\pi t
                + \beta_4 \cos 2\pi t + \varepsilon,\qquad
        \varepsilon \sim N(0, \sigma^2)

    with tricube weights in time, ln Q and season; the concentration is
    :math:`\exp(\hat y + \sigma^2/2)` and the flux
    :math:`c\,Q \times 86.4` kg d⁻¹.  The flow-normalised values average the
    surface, at each day's time, over every discharge seen on that day of the
    year.  Intervals: percentile intervals of block-bootstrap replicates
    (EGRETci's ``blockSample``), which carry the uncertainty of the fitted
    surface, not day-to-day scatter.

    References
    ----------
    .. [1] R. M. Hirsch, D. L. Moyer and S. A. Archfield, "Weighted regressions
       on time, discharge, and season (WRTDS), with an application to
       Chesapeake Bay river inputs," J. Am. Water Resour. Assoc., vol. 46,
       no. 5, pp. 857-880, 2010, :doi:`10.1111/j.1752-1688.2010.00482.x`.
    .. [2] R. M. Hirsch and L. A. De Cicco, "User guide to Exploration and
       Graphics for RivEr Trends (EGRET) and dataRetrieval: R packages for
       hydrologic data," USGS Techniques and Methods 4-A10, 2015,
       :doi:`10.3133/tm4A10`.
    """
    with single_thread_blas():
        return _estimate(
            daily,
            samples,
            window_y,
            window_q,
            window_s,
            min_obs,
            min_uncen,
            edge_adjust,
            bootstrap,
            block_days,
            jobs,
            seed,
            cross_validate,
        )


def _estimate(
    daily,
    samples,
    window_y,
    window_q,
    window_s,
    min_obs,
    min_uncen,
    edge_adjust,
    bootstrap,
    block_days,
    jobs,
    seed,
    cross_validate,
) -> WRTDSEstimate:
    t_start = time.perf_counter()
    bootstrap = check_replicates(bootstrap, allow_none=True)
    if bootstrap:
        check_block_days(block_days)
        seed = resolve_seed(seed)  # recorded in model['interval']
    settings = Settings(window_y, window_q, window_s, min_obs, min_uncen, edge_adjust)
    day_df, q = _check_daily(daily)
    dates = day_df.index
    log_q, q_shift = log_discharge(q)  # zero-flow days: EGRET's shift of every day
    t_day = decimal_year(dates)
    day_no = egret_day_of_year(dates)
    if not np.isfinite(log_q).any():
        raise DataError("WRTDS: the daily record has no positive discharge")

    table, use = _check_samples(samples, dates, q)
    _check_min_counts(table, use, settings, cross_validate)
    s_used = table.loc[use].sort_values("date", kind="stable")
    smp = sample_arrays(s_used, q_shift)
    s_dates = pd.DatetimeIndex(s_used["date"])
    q_sampled_max = float(s_used["discharge_m3s"].max())  # not exp(ln q): its last bit differs
    dec_low, dec_high = decimal_high_low(
        smp.t[0], int(s_dates.month[0]), smp.t[-1], int(s_dates.month[-1])
    )

    check_counts(smp.n, int((~smp.censored).sum()), settings.min_obs, settings.min_uncen)
    grid = surface_grid(t_day, log_q)
    # The bootstrap runs in worker processes while this one fits the model itself.
    t_boot0 = time.perf_counter()
    boot = None
    if bootstrap and bootstrap > 0:
        boot = _BootRun(
            grid,
            smp,
            s_dates,
            settings,
            dec_low,
            dec_high,
            t_day,
            log_q,
            q,
            int(bootstrap),
            int(block_days),
            jobs,
            seed,
        )
    try:
        t0 = time.perf_counter()
        # a surface carried far from its samples overflows (exp of 1e3): such days are
        # flagged below, numpy's warnings say nothing more
        with np.errstate(over="ignore", invalid="ignore"):
            surfaces, fit = estimate_surfaces(grid, smp, settings, dec_low, dec_high)
            t_surface = time.perf_counter() - t0

            yhat = interp_surface(surfaces[0], grid, log_q, t_day)
            se = interp_surface(surfaces[1], grid, log_q, t_day)
            conc = interp_surface(surfaces[2], grid, log_q, t_day)
            fn_conc, fn_flux = flow_normalize(surfaces[2], grid, t_day, log_q, day_no)
            lost, fn_lost = _absurd_days(q, conc, fn_conc, day_df.index)
            for values in (yhat, se, conc):
                values[lost] = np.nan
            fn_conc[fn_lost] = fn_flux[fn_lost] = np.nan
            flux = conc * q * KG_DAY_PER_M3S_MG_L
        flux = np.where(q == 0.0, 0.0, flux)  # no water, no load
        conc = np.where(q == 0.0, np.nan, conc)  # nor a concentration (the surface is at q_shift)

        # Leave-one-out cross-validation (estCrossVal): record ends from the daily data.
        t0 = time.perf_counter()
        cv = {}
        if cross_validate:
            cvfit = fit_points(
                smp.t, smp.log_q, smp, settings, float(t_day[0]), float(t_day[-1]),
                exclude_self=True,
            )
            cv_fitted = np.exp(cvfit.yhat + 0.5 * cvfit.se**2)
            conc_obs = np.exp(smp.y)
            conc_ave = np.where(smp.censored, 0.5 * conc_obs, conc_obs)  # EGRET's ConcAve
            qs = np.exp(smp.log_q)
            sum_low = float(np.sum(np.where(smp.censored, 0.0, conc_obs) * qs))
            sum_high = float(np.sum(conc_obs * qs))
            sum_est = float(np.sum(cv_fitted * qs))
            bias1 = (sum_est - sum_high) / sum_est
            bias2 = (sum_est - sum_low) / sum_est
            cv = {
                "yhat": cvfit.yhat,
                "se": cvfit.se,
                "fitted": cv_fitted,
                "residual": np.log(conc_ave) - cvfit.yhat,
                "bias": {"bias1": bias1, "bias2": bias2, "bias3": 0.5 * (bias1 + bias2)},
            }
        t_cv = time.perf_counter() - t0

        replicates = None
        n_jobs = 0
        if boot is not None:
            t0 = time.perf_counter()
            replicates = boot.collect()
            replicates[:, lost] = np.nan  # a day with no estimate has no interval either
            with np.errstate(invalid="ignore", divide="ignore"):  # nor one above the bound
                replicates[_above_bound(q, replicates / (q * KG_DAY_PER_M3S_MG_L))] = np.nan
            n_jobs = boot.n_jobs
            t_wait = time.perf_counter() - t0
        else:
            t_wait = 0.0
        t_boot = time.perf_counter() - t_boot0

        warn, beyond = warn_extrapolated("WRTDS", q, flux, q_sampled_max)
        out = day_df.copy()
        out["discharge_m3s"] = q
        out["conc_mg_L"] = conc
        out["flux_kg_day"] = flux
        if replicates is not None and replicates.shape[0] > 1:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN days (no discharge)
                out["flux_se_kg_day"] = np.nanstd(replicates, axis=0, ddof=1)
        else:
            out["flux_se_kg_day"] = np.nan
        out["fn_conc_mg_L"] = fn_conc
        out["fn_flux_kg_day"] = fn_flux
        out["yhat"] = yhat
        out["se"] = se
        flags = np.full(len(out), "", dtype=object)
        qa.add_flag(flags, lost | fn_lost, "load_not_computable")
        out["qa_flags"] = flags

        table = table.copy()
        for name in ("yhat", "se", "fitted_mg_L", "residual"):
            table[name] = np.nan
        if cv:
            pos = s_used.index
            table.loc[pos, "yhat"] = cv["yhat"]
            table.loc[pos, "se"] = cv["se"]
            table.loc[pos, "fitted_mg_L"] = cv["fitted"]
            table.loc[pos, "residual"] = cv["residual"]

        model: dict[str, Any] = {
            "method": "wrtds",
            "reference": "USGS EGRET 3.0.12 modelEstimation (Hirsch et al. 2010)",
            "settings": {
                "window_y_yr": settings.window_y,
                "window_q_ln": settings.window_q,
                "window_s_yr": settings.window_s,
                "min_obs": settings.min_obs,
                "min_uncen": settings.min_uncen,
                "edge_adjust": settings.edge_adjust,
                "dec_low": dec_low,
                "dec_high": dec_high,
                "zero_flow_shift_m3s": q_shift,  # EGRET: added to every day for ln Q
            },
            "grid": grid.as_dict(),
            "n_samples": len(table),
            "n_samples_used": int(smp.n),
            "n_censored": int(smp.censored.sum()),
            "n_samples_zero_discharge": int(has_flag(table, "zero_discharge").sum()),
            "n_grid_points": int(grid.n_log_q * grid.n_year),
            "n_grid_points_censored_mle": fit.n_censored_fits,
            "n_grid_points_not_converged": fit.n_not_converged,
            "max_widening_steps": int(fit.level.max()),
            "flux_bias": cv.get("bias"),
            "interval": {
                "method": "block bootstrap, percentile (EGRETci blockSample)",
                "n_replicates": 0 if replicates is None else int(replicates.shape[0]),
                "block_days": int(block_days),
                "seed": seed,
                "jobs": n_jobs,
                "level": 0.95,
            },
            "run_time_s": {
                "surface": t_surface,
                "cross_validation": t_cv,
                "bootstrap": t_boot,
                "bootstrap_wait": t_wait,
                "total": time.perf_counter() - t_start,
            },
            "units": {"flux": "kg/day", "conc": "mg/L", "discharge": "m3/s"},
            "warnings": warn,
            "extrapolation": beyond,
        }
        return WRTDSEstimate(
            method="wrtds",
            daily=out,
            samples=table,
            model=model,
            replicates=replicates,
            surfaces=surfaces,
            grid=grid,
        )
    finally:
        if boot is not None:
            boot.close()


# ---------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------


def _check_daily(daily: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    daily = check_daily(daily)
    if len(daily) < 2:
        raise DataError("WRTDS: the daily record has fewer than two days")
    q = pd.to_numeric(daily["discharge_m3s"], errors="coerce").to_numpy(dtype=float)
    out = daily.copy()
    out.index = out.index.rename("date")
    return out, q


def _check_samples(samples: pd.DataFrame, dates: pd.DatetimeIndex, q: np.ndarray):
    missing = [c for c in ("date", "conc_mg_L", "censored") if c not in samples.columns]
    if missing:
        raise MissingColumnError(
            f"WRTDS: the samples table lacks column(s) {missing}; "
            f"columns are {list(samples.columns)}"
        )
    table = samples.copy()
    table["date"] = pd.to_datetime(table["date"]).dt.normalize()
    conc = pd.to_numeric(table["conc_mg_L"], errors="coerce").to_numpy(dtype=float)
    cens = table["censored"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    table["censored"] = cens
    pos = dates.get_indexer(pd.DatetimeIndex(table["date"]))
    qs = np.where(pos >= 0, q[np.maximum(pos, 0)], np.nan)
    table["discharge_m3s"] = qs
    prev = (table["qa_flags"].fillna("").astype(str).tolist() if "qa_flags" in table.columns
            else [""] * len(table))  # the reader's flags of each row
    # a row without a date (the reader's bad_date) gets no flag of a date it lacks; a value
    # the reader already flagged (not_numeric:..., missing_value:...) no second flag
    dated = table["date"].notna().to_numpy()
    unexplained = dated & np.array([not p for p in prev], dtype=bool)
    flags: list[list[str]] = [[] for _ in range(len(table))]
    for i in np.flatnonzero(unexplained & ~np.isfinite(conc)):
        flags[i].append("missing_value")
    for i in np.flatnonzero(np.isfinite(conc) & (conc <= 0)):
        flags[i].append("nonpositive_value")
    for i in np.flatnonzero(dated & (pos < 0)):
        flags[i].append("outside_discharge_record")
    for i in np.flatnonzero((pos >= 0) & ~np.isfinite(qs)):
        flags[i].append("no_discharge")
    for i in np.flatnonzero((pos >= 0) & (qs == 0)):  # ln Q undefined; the flux there is 0
        flags[i].append("zero_discharge")
    copies = has_flag(table, "duplicate_sample")  # a copied row (flux_samples_from_table)
    table["qa_flags"] = [qa.join([before, *f]) for before, f in zip(prev, flags, strict=True)]
    use = np.array([not f for f in flags]) & ~copies & dated & np.isfinite(conc)
    table["used"] = use  # as the other estimators' samples: n_used, n_samples count it
    if (~use).any():
        listed = unused_reasons(table["qa_flags"].tolist(), use)
        warnings.warn(
            f"WRTDS: {int((~use).sum())} of {len(table)} sample(s) cannot be used "
            f"({listed}; see their qa_flags) and are left out of the fit",
            DataQualityWarning,
            stacklevel=3,
        )
    return table.reset_index(drop=True), use


#: Highest concentration a surface value can be [mg L⁻¹]: 10⁶ mg L⁻¹ is a litre's own mass
#: of solute, so a value above it is no estimate (a surface carried beyond its samples).
MAX_CONC_MG_L = 1.0e6


def _above_bound(q, conc) -> np.ndarray:
    """Days with discharge (``q > 0``) whose ``conc`` [mg L⁻¹] (of the last axis, the
    days) is not finite or above :data:`MAX_CONC_MG_L`."""
    with np.errstate(invalid="ignore"):
        return (q > 0) & ~(conc <= MAX_CONC_MG_L)


def _absurd_days(q, conc, fn_conc, dates) -> tuple[np.ndarray, np.ndarray]:
    """Days with discharge whose surface concentration (``lost``), or flow-normalised
    one (``fn_lost``: every day with a discharge record, 0 included), is not finite or
    above :data:`MAX_CONC_MG_L`; warned once."""
    lost = _above_bound(q, conc)
    fn_lost = np.isfinite(q) & _above_bound(1.0, fn_conc)
    either = lost | fn_lost
    if either.any():
        shown = ", ".join(f"{d:%Y-%m-%d}" for d in dates[either][:3])
        warnings.warn(
            f"WRTDS: {int(lost.sum())} day(s) with discharge get a concentration, and "
            f"{int(fn_lost.sum())} a flow-normalised one, that is not finite or above "
            f"{MAX_CONC_MG_L:g} mg/L from the fitted surface ({shown}"
            f"{' ...' if either.sum() > 3 else ''}): the surface is carried far beyond its "
            "samples (too few, or over too short a period). Those values are NaN (flagged "
            "load_not_computable) and count as missing; trim the discharge record to the "
            "sampled period or use --method rating.", DataQualityWarning, stacklevel=3)
    return lost, fn_lost


def _check_min_counts(table: pd.DataFrame, use: np.ndarray, settings: Settings,
                      cross_validate: bool) -> None:
    """One line naming the usable sample count and how to lower ``min_obs``/``min_uncen``."""
    n = int(use.sum())
    n_unc = int((use & ~table["censored"].to_numpy(bool)).sum())
    loo = int(bool(cross_validate))  # leave-one-out fits have one sample fewer
    if n > 0 and settings.min_obs <= n - loo and settings.min_uncen <= n_unc - loo:
        return
    why = unused_reasons(table["qa_flags"].tolist(), use)
    if n == 0:
        raise DataError(f"WRTDS: none of the {len(table)} samples is usable ({why}; see "
                        "samples qa_flags).")
    why = f" (the others: {why})" if why else ""
    raise DataError(
        f"WRTDS: {n} usable sample(s) ({n_unc} uncensored) of {len(table)}{why}, fewer than "
        f"min_obs={settings.min_obs} (min_uncen={settings.min_uncen}) that must carry weight "
        f"at every point; {lower_min_obs_hint(n, n_unc, settings.min_uncen)}"
    )
