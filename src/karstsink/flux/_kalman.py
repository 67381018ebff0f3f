"""WRTDS-Kalman: daily concentrations that follow the samples (EGRET 3.0.12 ``WRTDSKalman``).

Between samples the standardised WRTDS residual ``(ln c - yHat) / SE`` is an
AR(1) process with lag-one correlation ``rho`` (per day), conditioned on the
residuals of the sampled days; ``niter`` realisations are drawn and the mean
daily flux over them is the estimate (Zhang and Hirsch 2019).  As EGRET:

* on days with several samples one is picked at random in each realisation;
* censored samples are replaced by a draw of the residual from the fitted
  (cross-validated) normal distribution truncated at the detection limit;
* the stretch before the first and after the last sample gets independent
  standard normal residuals;
* the concentration is the mean flux divided by ``Q x 86.4``.

The draws are vectorised over realisations: an AR(1) path from the left
sample is corrected to hit the right one (the exact Gaussian conditioning,
equal in law to EGRET's Cholesky construction in ``genmissing``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtr, ndtri

from ..exceptions import DataError
from ..units import KG_DAY_PER_M3S_MG_L

__all__ = ["wrtds_kalman"]


#: Default lag-one (daily) autocorrelation of the concentration residuals, EGRET's
#: ``WRTDSKalman(rho = 0.90)`` (Zhang & Hirsch 2019, doi:10.1029/2019WR025338).
KALMAN_RHO = 0.90


def wrtds_kalman(estimate, *, rho: float = KALMAN_RHO, niter: int = 200, seed: int | None = None,
                 return_iterations: bool = False):
    """WRTDS-Kalman daily concentration and flux of a WRTDS fit.

    Parameters
    ----------
    estimate : WRTDSEstimate
        From :func:`karstsink.flux.wrtds.estimate_wrtds` (daily ``yhat``,
        ``se``; the samples' cross-validated ``yhat``/``se`` for censored ones).
    rho : float
        Lag-one (daily) autocorrelation of the standardised residuals, 0-1.
    niter : int
        Realisations averaged.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng` (same seed, same result).
    return_iterations : bool
        Also return the ``(niter, n_days)`` realisations of the daily flux [kg d⁻¹].

    Returns
    -------
    pandas.DataFrame
        Indexed by date: ``kalman_conc_mg_L`` [mg L⁻¹] (EGRET ``GenConc``),
        ``kalman_flux_kg_day`` [kg d⁻¹] (``GenFlux``); with
        ``return_iterations`` a tuple ``(table, realisations)``.

    Raises
    ------
    DataError
        ``rho`` outside 0-1, ``niter`` < 1, no usable sample, or every day sampled.
    """
    if not 0.0 <= float(rho) < 1.0:
        raise DataError(f"WRTDS-Kalman: rho must be in [0, 1), got {rho!r}")
    if int(niter) < 1:
        raise DataError(f"WRTDS-Kalman: niter must be >= 1, got {niter!r}")
    d = estimate.daily
    dates = pd.DatetimeIndex(d.index)
    q = d["discharge_m3s"].to_numpy(float)
    yhat, se = d["yhat"].to_numpy(float), d["se"].to_numpy(float)
    rng = np.random.default_rng(seed)
    n_iter, n_days = int(niter), dates.size

    s = estimate.samples
    conc = pd.to_numeric(s["conc_mg_L"], errors="coerce").to_numpy(float)
    pos = dates.get_indexer(pd.to_datetime(s["date"]).dt.normalize())
    use = np.isfinite(conc) & (conc > 0) & (pos >= 0)
    use &= np.isfinite(yhat[np.maximum(pos, 0)]) & (se[np.maximum(pos, 0)] > 0)
    if not use.any():
        raise DataError("WRTDS-Kalman: no sample falls on a day with a WRTDS estimate")
    pos, conc = pos[use], conc[use]
    cens = s["censored"].to_numpy(bool)[use]
    s_yhat = pd.to_numeric(s.get("yhat"), errors="coerce").to_numpy(float)[use] \
        if "yhat" in s else np.full(pos.size, np.nan)
    s_se = pd.to_numeric(s.get("se"), errors="coerce").to_numpy(float)[use] \
        if "se" in s else np.full(pos.size, np.nan)
    # without cross-validation, the surface at the sample's day stands in
    s_yhat = np.where(np.isfinite(s_yhat), s_yhat, yhat[pos])
    s_se = np.where(np.isfinite(s_se) & (s_se > 0), s_se, se[pos])

    # residuals of every sample in every realisation: censored ones drawn below the limit
    log_c = np.broadcast_to(np.log(conc), (n_iter, pos.size)).copy()
    if cens.any():
        b = (np.log(conc[cens]) - s_yhat[cens]) / s_se[cens]
        u = rng.random((n_iter, int(cens.sum()))) * ndtr(b)
        z = ndtri(np.clip(u, 1e-300, None))
        log_c[:, cens] = s_yhat[cens] + s_se[cens] * z
    std = (log_c - yhat[pos]) / se[pos]

    # one sample per sampled day (at random when a day has several)
    days, counts = np.unique(pos, return_counts=True)
    order = np.argsort(pos, kind="stable")
    pick = np.repeat(np.searchsorted(pos[order], days)[None, :], n_iter, axis=0)
    multi = counts > 1
    if multi.any():
        pick[:, multi] += (rng.random((n_iter, int(multi.sum()))) * counts[multi]).astype(int)
    known = std[:, order][np.arange(n_iter)[:, None], pick]  # (n_iter, n_known)
    if days.size == n_days:
        raise DataError("WRTDS-Kalman: every day has a sample; nothing to fill in")

    # padded series (0 before the first and after the last day), as EGRET
    n_pad = n_days + 2
    x = np.zeros((n_iter, n_pad))
    is_known = np.zeros(n_pad, bool)
    is_known[[0, n_pad - 1]] = True
    is_known[days + 1] = True
    x[:, days + 1] = known
    k_idx = np.flatnonzero(is_known)
    gap_l, gap_r = k_idx[:-1], k_idx[1:]
    gaps = np.flatnonzero(gap_r - gap_l > 1)
    e = rng.standard_normal((n_iter, n_pad))
    if gaps.size:
        fill = np.zeros(n_pad, bool)
        left = np.zeros(n_pad, dtype=np.int64)
        right = np.zeros(n_pad, dtype=np.int64)
        for g in gaps:
            fill[gap_l[g] + 1: gap_r[g]] = True
            left[gap_l[g] + 1: gap_r[g]] = gap_l[g]
            right[gap_l[g] + 1: gap_r[g]] = gap_r[g]
        iid = np.zeros(n_pad, bool)  # EGRET: first and last gap of iid normals
        for g in (gaps[0], gaps[-1]):
            iid[gap_l[g] + 1: gap_r[g]] = True
        j = np.flatnonzero(fill & ~iid)
        if j.size:
            r = float(rho)
            y = lfilter([np.sqrt(1.0 - r * r)], [1.0, -r], e, axis=1)
            a, b = left[j], right[j]
            k, m = (j - a).astype(float), (b - a).astype(float)
            xa, xb = x[:, a], x[:, b]
            path = r**k * xa + (y[:, j] - r**k * y[:, a])
            end = r**m * xa + (y[:, b] - r**m * y[:, a])
            w = (r ** (m - k) - r ** (m + k)) / (1.0 - r ** (2 * m))
            x[:, j] = path + (xb - end) * w
        jj = np.flatnonzero(iid)
        x[:, jj] = e[:, jj]
    resid = x[:, 1:-1]
    flux = np.exp(resid * se + yhat) * q * KG_DAY_PER_M3S_MG_L
    flux = np.where(q == 0.0, 0.0, flux)
    gen_flux = flux[0].copy()
    if n_iter > 1:  # the mean of the realisations; a day without discharge (all NaN) is NaN
        some = np.isfinite(flux).any(axis=0)
        gen_flux[some] = np.nanmean(flux[:, some], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        gen_conc = np.where(q > 0, gen_flux / (q * KG_DAY_PER_M3S_MG_L), np.nan)
    out = pd.DataFrame({"kalman_conc_mg_L": gen_conc, "kalman_flux_kg_day": gen_flux},
                       index=dates)
    return (out, flux) if return_iterations else out
