"""A straightforward per-point WRTDS fit, one regression per estimation point as EGRET does.

This is the baseline the benchmark compares the batched surface against and an
independent check for the tests: windows are widened in a ``while`` loop,
uncensored windows are solved with ``numpy.linalg.lstsq`` and censored ones by
maximising the censored likelihood with ``scipy.optimize.minimize`` (BFGS on
beta and ln sigma), i.e. without the closed-form window search of
:mod:`._wrtds_core` or the batched normal equations and Newton solver of
:mod:`._wrtds_solve`.  It is slow on purpose; do not use it for real work.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr

from ._wrtds_core import Samples, Settings, tricube


def fit_point_loop(
    est_t: float,
    est_q: float,
    samples: Samples,
    settings: Settings,
    dec_low: float,
    dec_high: float,
) -> tuple[float, float]:
    """ln-concentration estimate and scale at one point [ln(mg L⁻¹)], [ln units]."""
    s = samples
    h_y, h_q, h_s = settings.window_y, settings.window_q, settings.window_s
    if settings.edge_adjust:
        dist = min(est_t - dec_low, dec_high - est_t)
        if dist <= h_y:
            h_y = 2.0 * h_y - dist
    while True:
        d_t = np.abs(s.t - est_t)
        d_s = np.minimum(np.ceil(d_t) - d_t, d_t - np.floor(d_t))
        w = tricube(d_t, h_y) * tricube(s.log_q - est_q, h_q) * tricube(d_s, h_s)
        pos = w > 0
        if pos.sum() >= settings.min_obs and (pos & ~s.censored).sum() >= settings.min_uncen:
            break
        h_y *= 1.1
        h_q *= 1.1
        h_s = min(h_s * 1.1, 0.5) if settings.window_s <= 0.5 else settings.window_s
    w = w[pos] / w[pos].mean()
    t0 = est_t
    x = np.column_stack(
        [
            np.ones(pos.sum()),
            s.t[pos] - t0,
            s.log_q[pos] - est_q,
            np.sin(2 * np.pi * s.t[pos]),
            np.cos(2 * np.pi * s.t[pos]),
        ]
    )
    y = s.y[pos]
    cens = s.censored[pos]
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(x * sw[:, None], y * sw, rcond=None)[0]
    sigma = float(np.sqrt(np.sum(w * (y - x @ beta) ** 2) / w.sum()))
    if cens.any():

        def nll(theta):
            b, log_s = theta[:5], theta[5]
            sg = np.exp(log_s)
            r = (y - x @ b) / sg
            ll_u = -0.5 * r[~cens] ** 2 - log_s
            ll_c = log_ndtr(r[cens])
            return -(np.sum(w[~cens] * ll_u) + np.sum(w[cens] * ll_c))

        res = minimize(
            nll, np.r_[beta, np.log(sigma)], method="BFGS", options={"gtol": 1e-9, "maxiter": 2000}
        )
        beta, sigma = res.x[:5], float(np.exp(res.x[5]))
    xp = np.array([1.0, 0.0, 0.0, np.sin(2 * np.pi * est_t), np.cos(2 * np.pi * est_t)])
    return float(xp @ beta), sigma


def fit_points_loop(est_t, est_q, samples, settings, dec_low, dec_high):
    """:func:`fit_point_loop` over arrays of points; returns (yhat, se) arrays."""
    out = [
        fit_point_loop(float(t), float(q), samples, settings, dec_low, dec_high)
        for t, q in zip(np.ravel(est_t), np.ravel(est_q), strict=True)
    ]
    arr = np.array(out).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]
