"""Bootstrap band of the annual flow-normalised series, as EGRETci's ``ciCalculations``.

Each replicate is a block resample of the samples (EGRETci ``blockSample``,
:func:`karstsink.flux._wrtds_bootstrap.block_resample`); the whole WRTDS surface
is re-estimated on it (EGRETci ``bootAnnual``: ``estSurfaces``, or ``runSeries``
with generalized flow normalisation) and the annual flow-normalised
concentration and flux recomputed.  As EGRETci's ``ciBands``, each replicate is
reflected about the estimate in logs, ``2 ln x - ln x*``, and the band is
``exp`` of its quantiles (R type 6) per year (Hirsch, Archfield & De Cicco 2015,
doi:10.1016/j.envsoft.2015.07.017).

Replicates are seeded from one :class:`numpy.random.SeedSequence` and run in
worker processes, as :func:`karstsink.flux._trend_boot.bootstrap_trend`; a
resample that cannot be fitted is drawn again from a child of its seed.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._seed import resolve_seed
from ..exceptions import DataError
from ._gfn import annual_means, flow_windows, gfn_daily, surface_start_end
from ._wrtds_bootstrap import (
    _EPOCH,
    block_resample,
    check_block_days,
    check_replicates,
    redraw_failed,
    replicate_jobs,
    run_replicates,
)
from ._wrtds_solve import single_thread_blas
from ._wrtds_surface import decimal_high_low, estimate_surfaces, interp_surface

__all__ = ["BAND_COLUMNS", "fn_band"]

#: Columns of :func:`fn_band` after ``year``.
BAND_COLUMNS = ["fn_conc_lo90_mg_L", "fn_conc_hi90_mg_L", "fn_flux_lo90_kg_day",
                "fn_flux_hi90_kg_day"]


def _annual(ctx, surface, windows, pa) -> pd.DataFrame:
    """Annual flow-normalised conc [mg L⁻¹] and flux [kg d⁻¹] of one concentration surface."""
    fc, ff = gfn_daily(surface, ctx.grid, ctx.dates, ctx.t, ctx.log_q, windows)
    good = np.isfinite(interp_surface(surface, ctx.grid, ctx.log_q, ctx.t))
    return annual_means(ctx.dates, {"c": fc, "f": ff}, good, pa_start=pa[0], pa_long=pa[1])


def _batch(payload, children) -> np.ndarray:
    """(len(children), n_year, 2): replicate annual FN conc and flux."""
    ctx = payload["ctx"]
    smp, day_num, months = ctx.samples, payload["day_num"], payload["months"]
    counts = np.zeros((len(children), smp.n))
    decs = []
    for r, child in enumerate(children):
        idx = block_resample(day_num, payload["block_days"], np.random.default_rng(child))
        counts[r] = np.bincount(idx, minlength=smp.n)
        i0, i1 = idx.min(), idx.max()
        decs.append(decimal_high_low(smp.t[i0], int(months[i0]), smp.t[i1], int(months[i1])))
    out = np.empty((len(children), payload["n_year"], 2))
    for dec in sorted(set(decs)):
        rows = [r for r, d in enumerate(decs) if d == dec]
        surf = estimate_surfaces(ctx.grid, smp, ctx.settings, dec[0], dec[1],
                                 counts=counts[rows])[0]
        for j, r in enumerate(rows):
            a = _annual(ctx, surf[j, 2], payload["windows"], payload["pa"])
            out[r, :, 0], out[r, :, 1] = a["c"].to_numpy(float), a["f"].to_numpy(float)
    if not np.isfinite(out[:, payload["finite"], :]).all():
        raise DataError("bootstrap replicate without a flow-normalised value")
    return out


def _run(payload, children) -> np.ndarray:
    with single_thread_blas():
        return redraw_failed(_batch, payload, children)


def fn_band(ctx, *, n_boot: int = 100, block_days: int = 200, seed: int | None = None,
            jobs: int | None = None, window_side: float = 0, pa_start: int = 10,
            pa_long: int = 12, probs: tuple[float, float] = (0.05, 0.95)) -> pd.DataFrame:
    """90 % bootstrap band of the annual flow-normalised concentration and flux (EGRETci).

    Parameters
    ----------
    ctx : TrendContext
        :func:`karstsink.flux.trends.trend_context` of the fit.
    n_boot : int
        Replicates (EGRETci ``nBoot``), at least 2.
    block_days : int
        Block length [d] (EGRETci ``blockLength``).
    seed : int, optional
        Same seed, same band, for any ``jobs``; default: a fresh one, recorded in
        ``attrs["bootstrap"]["seed"]``.
    jobs : int, optional
        Worker processes (default: every CPU this process may use).
    window_side : float
        0: stationary flow normalisation (the band of ``fn_*``); > 0: generalized
        (of ``gfn_*``) [yr].
    pa_start, pa_long : int
        Period of analysis (water years by default).
    probs : (float, float)
        Lower and upper probability (EGRETci ``ciLower``/``ciUpper``).

    Returns
    -------
    pandas.DataFrame
        ``year`` and :data:`BAND_COLUMNS` [mg L⁻¹, kg d⁻¹] (EGRETci ``FNConcLow``,
        ``FNConcHigh``, ``FNFluxLow``, ``FNFluxHigh``), named ``gfn_...`` with
        ``window_side`` > 0; NaN in years without a flow-normalised value.
        ``attrs["bootstrap"]``: the settings.
    """
    n_boot = check_replicates(n_boot)
    block_days = check_block_days(block_days)
    pa = (int(pa_start), int(pa_long))
    prefix = "gfn" if window_side and window_side > 0 else "fn"
    if prefix == "gfn":
        s0, s1 = surface_start_end(ctx.sample_dates[0], ctx.sample_dates[-1], *pa)
        windows = flow_windows(window_side, s0, s1, ctx.dates[0], ctx.dates[-1])
    else:
        windows = flow_windows(0, ctx.dates[0], ctx.dates[-1], ctx.dates[0], ctx.dates[-1])
    lean = replace(ctx, daily=None, sample_table=None)
    base = _annual(lean, ctx.conc_surface, windows, pa)
    est = base[["c", "f"]].to_numpy(float)
    payload = {"ctx": lean, "windows": windows, "pa": pa, "n_year": len(base),
               "finite": np.isfinite(est).all(axis=1), "block_days": int(block_days),
               "day_num": (ctx.sample_dates.to_numpy().astype("datetime64[D]")
                           - _EPOCH).astype(np.int64),
               "months": ctx.sample_dates.month.to_numpy()}
    seed = resolve_seed(seed)  # recorded with the band
    children = np.random.SeedSequence(seed).spawn(int(n_boot))
    reps = run_replicates(_run, payload, children, jobs)  # (n_boot, n_year, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = 2.0 * np.log(est)[None] - np.log(reps)  # EGRETci's reflection, in logs
    out = pd.DataFrame({"year": base["year"].to_numpy(int)})
    cols = [c if prefix == "fn" else "g" + c for c in BAND_COLUMNS]
    for j, (lo_col, hi_col) in enumerate((cols[:2], cols[2:])):
        lo = np.full(len(base), np.nan)
        hi = np.full(len(base), np.nan)
        for i in np.flatnonzero(np.isfinite(est[:, j])):
            xi = x[:, i, j][np.isfinite(x[:, i, j])]
            if xi.size:
                lo[i], hi[i] = np.exp(np.quantile(xi, probs, method="weibull"))  # R type 6
        out[lo_col], out[hi_col] = lo, hi
    out.attrs["bootstrap"] = {"egret": "EGRETci ciCalculations/ciBands", "n_boot": int(n_boot),
                              "block_days": int(block_days), "seed": seed,
                              "jobs": replicate_jobs(jobs, int(n_boot)),
                              "probs": list(probs), "window_side": window_side}
    return out
