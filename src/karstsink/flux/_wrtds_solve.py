"""Batched solvers of WRTDS: Cholesky, weighted least squares, censored Newton MLE.

Every estimation point (and every bootstrap resample of it) is reduced by
:mod:`._wrtds_core` to weighted sums of ``[x, y][x, y]^T``; this module solves
all of them at once.  Points whose window holds only uncensored samples are
solved as one batch of 5x5 weighted normal equations (the maximum-likelihood
scale is ``sqrt(sum w r^2 / sum w)``, as ``survreg`` returns); points with
censored samples by a batched Newton method on Olsen's reparametrisation
(``gamma = beta/sigma``, ``tau = 1/sigma``) in which the left-censored Gaussian
log-likelihood is concave, so the method converges to the unique maximum that
``survreg`` also seeks.
"""

from __future__ import annotations

import contextlib
import ctypes

import numpy as np
from scipy.special import erfcx, log_ndtr

_SQRT_2_OVER_PI = np.sqrt(2.0 / np.pi)
_SQRT_HALF = np.sqrt(0.5)


@contextlib.contextmanager
def single_thread_blas():
    """Run the block with OpenBLAS on one thread (what ``threadpoolctl`` would do).

    The matrix products here are small (a few hundred rows); a multi-threaded
    BLAS spins more than it computes, and the bootstrap already runs one
    process per core.  Silently does nothing where the library cannot be found.
    """
    handles = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as fh:
            paths = {ln.split()[-1] for ln in fh if "openblas" in ln.lower() and "/" in ln}
    except OSError:
        paths = set()
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre in ("scipy_openblas", "openblas"):
            for suf in ("64_", ""):
                get = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                put = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                if get is not None and put is not None:
                    handles.append((put, int(get())))
                    put(1)
    try:
        yield
    finally:
        for put, n in handles:
            put(n)


def _sums(z: np.ndarray) -> np.ndarray:
    """Row-wise outer products z z^T flattened to (N, 36)."""
    return (z[:, :, None] * z[:, None, :]).reshape(z.shape[0], -1)


def _chol_solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve many small symmetric positive-definite systems ``a x = b`` at once.

    Cholesky factorisation vectorised across the batch (one numpy operation
    per matrix element instead of one LAPACK call per matrix); systems that
    are not numerically positive definite fall back to least squares.
    """
    n = a.shape[-1]
    at = np.moveaxis(a, 0, -1)  # (n, n, M): contiguous rows per element
    bt = b.T
    low = np.zeros_like(at)
    bad = np.zeros(a.shape[0], dtype=bool)
    for j in range(n):
        d2 = at[j, j] - np.einsum("km,km->m", low[j, :j], low[j, :j])
        bad |= ~(d2 > 1e-13 * np.abs(at[j, j]))
        d = np.sqrt(np.where(d2 > 0, d2, 1.0))
        low[j, j] = d
        for i in range(j + 1, n):
            low[i, j] = (at[i, j] - np.einsum("km,km->m", low[i, :j], low[j, :j])) / d
    y = np.empty_like(bt)
    for i in range(n):
        y[i] = (bt[i] - np.einsum("km,km->m", low[i, :i], y[:i])) / low[i, i]
    x = np.empty_like(bt)
    for i in range(n - 1, -1, -1):
        x[i] = (y[i] - np.einsum("km,km->m", low[i + 1 :, i], x[i + 1 :])) / low[i, i]
    x = x.T.copy()
    for m in np.flatnonzero(bad):
        x[m] = np.linalg.lstsq(a[m], b[m], rcond=None)[0]
    return x


def _solve_pairs(a_unc: np.ndarray, wc: np.ndarray, zc: np.ndarray, xp: np.ndarray):
    """Fit every (point, resample) pair from its weighted sums.

    ``a_unc`` (M, 36): weighted sums of [x, y][x, y]^T over uncensored
    samples (entry 0 is the weight sum); ``wc`` (M, Nc): weights of the
    censored samples ``zc`` (Nc, 6) = [x, ln DL].  Returns yhat, sigma at the
    points ``xp`` (M, 5), the number of censored fits and of non-converged ones.
    """
    a = a_unc.reshape(-1, 6, 6)
    sw = a[:, 0, 0].copy()
    n = a.shape[0]
    beta = np.empty((n, 5))
    sigma = np.empty(n)
    has_c = (wc > 0).any(axis=1) if wc.shape[1] else np.zeros(n, dtype=bool)
    plain = np.flatnonzero(~has_c)
    if plain.size:
        beta[plain], sigma[plain] = _wls(a[plain], sw[plain])
    n_bad = 0
    cidx = np.flatnonzero(has_c)
    if cidx.size:
        wcc = wc[cidx]
        a_all = a[cidx] + (wcc @ _sums(zc)).reshape(-1, 6, 6)
        b0, s0 = _wls(a_all, sw[cidx] + wcc.sum(axis=1))
        b, sg, ok = _censored_mle(a[cidx], sw[cidx], wcc, zc[:, :5], zc[:, 5], b0, s0)
        beta[cidx], sigma[cidx] = b, sg
        n_bad = int((~ok).sum())
    yhat = np.einsum("pk,pk->p", xp, beta)
    return yhat, sigma, int(cidx.size), n_bad


def _wls(a: np.ndarray, sw: np.ndarray):
    """Weighted least squares from the 6x6 sums of [x, y][x, y]^T; ML scale."""
    beta = _chol_solve(a[:, :5, :5], a[:, :5, 5])
    rss = a[:, 5, 5] - np.einsum("pk,pk->p", beta, a[:, :5, 5])
    sigma = np.sqrt(np.maximum(rss, 0.0) / sw)
    return beta, sigma


def _censored_loglik(gam, tau, a_unc, sw_unc, wc, xc, yc):
    """Weighted log-likelihood in Olsen's parametrisation (constant terms dropped)."""
    sxx, sxy, syy = a_unc[:, :5, :5], a_unc[:, :5, 5], a_unc[:, 5, 5]
    quad = (
        tau**2 * syy
        - 2.0 * tau * np.einsum("pk,pk->p", gam, sxy)
        + np.einsum("pk,pkl,pl->p", gam, sxx, gam)
    )
    u = tau[:, None] * yc[None, :] - gam @ xc.T  # (P, Nc)
    return sw_unc * np.log(tau) - 0.5 * quad + np.sum(wc * log_ndtr(u), axis=1), u


def _censored_mle(a_unc, sw_unc, wc, xc, yc, beta0, sigma0, max_iter: int = 100):
    """Batched Newton maximisation of the left-censored Gaussian likelihood.

    With ``gamma = beta / sigma`` and ``tau = 1 / sigma`` the log-likelihood
    ``sum_unc w [ln tau - (tau y - x gamma)^2 / 2] + sum_cens w ln Phi(tau c - x gamma)``
    is concave (Olsen 1978), so Newton steps with step halving converge to the
    unique maximum.
    """
    n_pts = a_unc.shape[0]
    sigma0 = np.where(np.isfinite(sigma0) & (sigma0 > 1e-8), sigma0, 1.0)
    gam = beta0 / sigma0[:, None]
    tau = 1.0 / sigma0
    ll, u = _censored_loglik(gam, tau, a_unc, sw_unc, wc, xc, yc)
    active = np.ones(n_pts, dtype=bool)
    converged = np.zeros(n_pts, dtype=bool)
    sxx, sxy, syy = a_unc[:, :5, :5], a_unc[:, :5, 5], a_unc[:, 5, 5]
    v = np.concatenate([-xc, yc[:, None]], axis=1)  # d u / d(gamma, tau)
    vv = _sums(v)
    for _ in range(max_iter):
        ia = np.flatnonzero(active)
        if ia.size == 0:
            break
        g_, t_, u_ = gam[ia], tau[ia], u[ia]
        wc_ = wc[ia]
        # inverse Mills ratio phi(u)/Phi(u) = sqrt(2/pi) / erfcx(-u/sqrt 2), finite for every u
        # (the exp of log-densities overflowed for the extreme u of a degenerate Newton step);
        # d2 ln Phi / du2 = -lam (u + lam)
        lam = _SQRT_2_OVER_PI / erfcx(-u_ * _SQRT_HALF)
        dlt = wc_ * lam * (u_ + lam)
        wl = wc_ * lam
        grad = np.empty((ia.size, 6))
        grad[:, :5] = t_[:, None] * sxy[ia] - np.einsum("pkl,pl->pk", sxx[ia], g_) - wl @ xc
        grad[:, 5] = sw_unc[ia] / t_ - t_ * syy[ia] + np.einsum("pk,pk->p", g_, sxy[ia]) + wl @ yc
        neg_h = (dlt @ vv).reshape(-1, 6, 6)
        neg_h[:, :5, :5] += sxx[ia]
        neg_h[:, :5, 5] -= sxy[ia]
        neg_h[:, 5, :5] -= sxy[ia]
        neg_h[:, 5, 5] += sw_unc[ia] / t_**2 + syy[ia]
        step = _chol_solve(neg_h, grad)
        alpha = np.ones(ia.size)
        ll_old = ll[ia]
        pending = np.ones(ia.size, dtype=bool)
        new_g, new_t = g_.copy(), t_.copy()
        new_ll, new_u = ll_old.copy(), u_.copy()
        for _h in range(40):
            ip = np.flatnonzero(pending)
            if ip.size == 0:
                break
            cg = g_[ip] + alpha[ip, None] * step[ip, :5]
            ct = t_[ip] + alpha[ip] * step[ip, 5]
            okt = ct > 0
            cl = np.full(ip.size, -np.inf)
            cu = np.zeros((ip.size, len(yc)))
            if okt.any():
                sub = ia[ip[okt]]
                cl[okt], cu[okt] = _censored_loglik(
                    cg[okt], ct[okt], a_unc[sub], sw_unc[sub], wc[sub], xc, yc
                )
            good = np.isfinite(cl) & (cl >= ll_old[ip] - 1e-12 * np.abs(ll_old[ip]))
            acc = ip[good]
            new_g[acc], new_t[acc], new_ll[acc], new_u[acc] = (
                cg[good],
                ct[good],
                cl[good],
                cu[good],
            )
            pending[acc] = False
            alpha[ip[~good]] *= 0.5
        gam[ia], tau[ia], ll[ia], u[ia] = new_g, new_t, new_ll, new_u
        small = np.max(np.abs(alpha[:, None] * step), axis=1) <= 1e-10 * (
            1.0 + np.max(np.abs(np.concatenate([new_g, new_t[:, None]], axis=1)), axis=1)
        )
        flat = np.abs(new_ll - ll_old) <= 1e-13 * (1.0 + np.abs(new_ll))
        failed = pending  # no ascent step found: stop, converged only if the step was tiny
        done = small | flat | failed
        converged[ia[done & (small | ~failed)]] = True
        active[ia[done]] = False
    sigma = 1.0 / tau
    return gam * sigma[:, None], sigma, converged
