"""Bootstrap confidence for runPairs/runGroups, as EGRETci's ``runPairsBoot``/``runGroupsBoot``.

Each replicate is a block resample of the samples (EGRETci ``blockSample``,
:func:`karstsink.flux._wrtds_bootstrap.block_resample`); the surfaces of the
trend are re-estimated on it and the flow-normalised change recomputed.  As
EGRETci, the replicate of a change ``d`` is reflected about the estimate,
``x* = 2 d - d*``; its 5 and 95 % quantiles (type 6) give the 90 % interval,
the two-sided p-value is EGRETci's ``pVal`` and the likelihood of an upward
trend ``(n(x* > 0) + 0.5) / (n + 1)``, put in words with EGRETci's breaks
(Hirsch, Archfield and De Cicco 2015).

Replicates run in worker processes (``fork`` on Linux, ``spawn`` elsewhere),
in batches that share the regressions' matrix products; every replicate is
seeded from one :class:`numpy.random.SeedSequence`, so the result depends on
``seed`` only, not on the number of processes.  A resample that cannot be
fitted (too few samples in a window) is drawn again from a child of its seed
(EGRETci runs extra replicates instead).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from .._seed import resolve_seed
from ..exceptions import DataError
from ..units import DAYS_PER_YEAR
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
from ._wrtds_surface import decimal_high_low, estimate_surfaces
from .trends import TrendResult, group_values, pair_values

__all__ = ["bootstrap_trend", "likelihood_words", "p_value"]

_BREAKS = np.array([0, 0.05, 0.1, 0.33, 0.67, 0.9, 0.95, 1])
_WORDS = ["highly unlikely", "very unlikely", "unlikely", "about as likely as not",
          "likely", "very likely", "highly likely"]


def p_value(x: np.ndarray) -> float:
    """EGRETci's two-sided p-value of the bootstrap replicates ``x`` of a change.

    Zeros are dropped; with all replicates of one sign the value is
    ``2 / (m + 1)`` (to be read as "less than").  Otherwise the rank at which
    the sorted replicates cross zero, interpolated linearly between the
    largest negative and the smallest positive one, gives ``p``, and the
    result is ``2 min(p, 1 - p)``.
    """
    return p_value_and_bound(x)[0]


def p_value_and_bound(x: np.ndarray) -> tuple[float, bool]:
    """:func:`p_value`, and whether it is a bound (every nonzero replicate of one sign:
    ``2 / (m + 1)``, EGRETci's "p-value should be considered to be < stated value")."""
    s = np.sort(np.asarray(x, dtype=float)[np.isfinite(x)])
    s = s[np.abs(s) > 0]
    m = s.size
    n_pos = int((s > 0).sum())
    if m == 0:
        return np.nan, False
    if n_pos in (0, m):
        return 2.0 / (m + 1), True
    kp = m - n_pos + 1  # 1-based rank of the smallest positive
    kn = kp - 1
    b1 = (kn - kp) / (s[kn - 1] - s[kp - 1])
    p = (kp - b1 * s[kp - 1]) / (m + 1)
    return 2.0 * min(p, 1.0 - p), False


def likelihood_words(up: float) -> str:
    """EGRETci's words for the likelihood ``up`` of an upward trend.

    ``highly likely upward`` (> 0.95), ``very likely`` (> 0.9), ``likely``
    (> 0.67), ``about as likely as not`` (0.33-0.67), then the same downward.
    """
    if not np.isfinite(up):
        return ""
    if 0.33 <= up <= 0.67:  # EGRETci's cut(): one of up and down in (0.33, 0.67]
        return "about as likely as not"
    like = max(up, 1.0 - up)
    word = _WORDS[int(np.clip(np.searchsorted(_BREAKS, like, side="left") - 1, 0, 6))]
    return f"{word} {'upward' if up > 0.5 else 'downward'}"


def _values(ctx, res: TrendResult, surfaces, grids):
    if res.kind == "pairs":
        return pair_values(ctx, res.info["_plan"], surfaces[0], surfaces[1])
    return group_values(ctx, res.info["_plan"], surfaces[0], grids[0])


def _grids_settings(res: TrendResult, ctx):
    plan = res.info["_plan"]
    if res.kind == "pairs":
        return list(plan.grids), plan.settings
    # EGRETci runGroupsBoot re-estimates with runGroups' own minNumObs/minNumUncen, unchanged
    # (only runPairs/runSeries lower minNumUncen to ceil(min(0.5 minNumObs, minNumUncen)))
    return [plan.grid], ctx.settings


def _boot_batch(payload, children) -> np.ndarray:
    """(len(children), 2): replicate changes d* (conc [mg L⁻¹], flux [kg d⁻¹]) x11 -> x22."""
    ctx, res = payload["ctx"], payload["result"]
    smp, day_num = ctx.samples, payload["day_num"]
    grids, settings = _grids_settings(res, ctx)
    counts = np.zeros((len(children), smp.n))
    decs = []
    for r, child in enumerate(children):
        idx = block_resample(day_num, payload["block_days"], np.random.default_rng(child))
        counts[r] = np.bincount(idx, minlength=smp.n)
        i0, i1 = idx.min(), idx.max()
        decs.append(decimal_high_low(smp.t[i0], int(payload["months"][i0]),
                                     smp.t[i1], int(payload["months"][i1])))
    out = np.empty((len(children), 2))
    for dec in sorted(set(decs)):
        rows = [r for r, d in enumerate(decs) if d == dec]
        surf = [estimate_surfaces(g, smp, settings, dec[0], dec[1], counts=counts[rows])[0]
                for g in grids]
        for j, r in enumerate(rows):
            c, f = _values(ctx, res, [s[j, 2] for s in surf], grids)
            out[r] = (c["x22"] - c["x11"], f["x22"] - f["x11"])
    if not np.isfinite(out).all():
        raise DataError("bootstrap replicate without a flow-normalised value")
    return out


def _boot_run(payload, children) -> np.ndarray:
    with single_thread_blas():
        return redraw_failed(_boot_batch, payload, children)


def bootstrap_trend(ctx, result: TrendResult, *, n_boot: int = 100, block_days: int = 200,
                    seed: int | None = None, jobs: int | None = None) -> TrendResult:
    """Add EGRETci bootstrap confidence to a :func:`~karstsink.flux.trends.run_pairs` or
    :func:`~karstsink.flux.trends.run_groups` result.

    Parameters
    ----------
    ctx : TrendContext
        From :func:`karstsink.flux.trends.trend_context` (the one ``result`` was made with).
    result : TrendResult
    n_boot : int
        Replicates (EGRETci ``nBoot``).
    block_days : int
        Block length [d] (EGRETci ``blockLength``).
    seed : int, optional
        Seed: the same seed gives the same intervals for any ``jobs``; default: a fresh
        one, recorded in ``info["bootstrap"]["seed"]``.
    jobs : int, optional
        Worker processes (default: every CPU this process may use).

    Returns
    -------
    TrendResult
        A copy whose table has, for the ``total_change`` of each row,
        ``lo90``, ``hi90`` (90 % interval, EGRETci ``lowC``/``upC``,
        ``lowF``/``upF``), ``p_value`` (``pValC``/``pValF``), ``likelihood_up``
        (``likeCUp``/``likeFUp``) and ``likelihood`` (words); ``info["bootstrap"]``
        holds the settings and the replicates.
    """
    n_boot = check_replicates(n_boot)
    block_days = check_block_days(block_days)
    seed = resolve_seed(seed)  # recorded in info['bootstrap']
    children = np.random.SeedSequence(seed).spawn(int(n_boot))
    lean = replace(ctx, daily=None, sample_table=None)
    info = {k: v for k, v in result.info.items() if k != "bootstrap"}
    payload = {
        "ctx": lean, "result": TrendResult(result.table, result.kind, info),
        "day_num": (ctx.sample_dates.to_numpy().astype("datetime64[D]") - _EPOCH).astype(
            np.int64),
        "months": ctx.sample_dates.month.to_numpy(), "block_days": int(block_days)}
    d_star = run_replicates(_boot_run, payload, children, jobs)  # (n_boot, 2)
    table = result.table.copy()
    est = np.array([table.loc["conc", "x22"] - table.loc["conc", "x11"],
                    (table.loc["flux", "x22"] - table.loc["flux", "x11"]) / DAYS_PER_YEAR])
    x = 2.0 * est[None, :] - d_star  # EGRETci's reflected replicates
    for col in ("lo90", "hi90", "p_value", "likelihood_up"):
        table[col] = np.nan
    # every replicate of one sign: p_value is 2 / (n + 1), a bound (EGRETci: "p-value
    # should be considered to be < stated value"); n_boot says how many replicates there are
    table["p_value_upper_bound"] = False
    table["n_boot"] = int(n_boot)
    table["likelihood"] = ""
    for j, (row, k) in enumerate((("conc", 1.0), ("flux", DAYS_PER_YEAR))):
        xs = x[:, j] * k
        lo, hi = np.quantile(xs, [0.05, 0.95], method="weibull")  # R quantile type 6
        up = (float((xs > 0).sum()) + 0.5) / (xs.size + 1)
        p, bound = p_value_and_bound(xs)
        table.loc[row, ["lo90", "hi90", "p_value", "likelihood_up"]] = (lo, hi, p, up)
        table.loc[row, "p_value_upper_bound"] = bound
        table.loc[row, "likelihood"] = likelihood_words(up)
    info = dict(result.info)
    info["bootstrap"] = {"egret": "EGRETci runPairsBoot" if result.kind == "pairs"
                         else "EGRETci runGroupsBoot", "n_boot": int(n_boot),
                         "block_days": int(block_days), "seed": seed,
                         "jobs": replicate_jobs(jobs, int(n_boot)),
                         "replicates": pd.DataFrame({"conc_mg_L": x[:, 0],
                                                     "flux_kg_yr": x[:, 1] * DAYS_PER_YEAR})}
    return TrendResult(table, result.kind, info)
