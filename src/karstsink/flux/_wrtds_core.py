"""Numerical core of WRTDS: window search, batched weighted (censored) regressions, surfaces.

Everything here works on plain numpy arrays; :mod:`karstsink.flux.wrtds` adds
validation, pandas tables and the bootstrap orchestration.

The algorithm follows USGS EGRET 3.0.12 (``run_WRTDS``, ``estSurfaces``,
``surfaceIndex``, ``estDailyFromSurfaces``/``getConcFluxFromSurface``,
``bin_Qs``, ``estCrossVal``, ``fluxBiasStat``, ``decimalHighLow``,
``populateDateColumns``), re-derived and written for batches of estimation
points instead of one ``survreg`` call per point:

* window widening is solved in closed form: for every (point, sample) pair the
  first widening step at which the sample gets a positive weight is found by
  a search in the exact sequence of widened windows EGRET walks through, and
  the step a point needs is an order statistic of those levels;
* points whose positive-weight samples are all uncensored are solved as one
  batch of 5x5 weighted normal equations (the maximum-likelihood scale is
  ``sqrt(sum w r^2 / sum w)``, as ``survreg`` returns);
* points with censored samples in the window are solved by a batched Newton
  method on Olsen's reparametrisation (``gamma = beta/sigma``, ``tau = 1/sigma``)
  in which the left-censored Gaussian log-likelihood is concave, so the method
  converges to the unique maximum that ``survreg`` also seeks.
"""

from __future__ import annotations

import contextlib
import ctypes
from dataclasses import dataclass

import numpy as np
from scipy.special import erfcx, log_ndtr

from ..exceptions import DataError
from ..units import KG_DAY_PER_M3S_MG_L

#: Largest number of 10 % widening steps searched (1.1**400 ~ 4e16: any record).
MAX_WIDEN = 400
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


# ---------------------------------------------------------------------------
# Dates, as EGRET's populateDateColumns/decimalDate compute them
# ---------------------------------------------------------------------------


def decimal_year(dates) -> np.ndarray:
    """Decimal year of each day at noon [yr], as EGRET's ``decimalDate`` for dates.

    EGRET sets the time of date-only values to 12:00, so day ``d`` (0-based
    day of year) of a year with ``n`` days is ``year + (d + 0.5) / n``.
    """
    import pandas as pd

    idx = pd.DatetimeIndex(dates)
    year = idx.year.to_numpy(dtype=float)
    n = np.where(idx.is_leap_year, 366.0, 365.0)
    return year + (idx.day_of_year.to_numpy(dtype=float) - 0.5) / n


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


# ---------------------------------------------------------------------------
# Weights and the window search
# ---------------------------------------------------------------------------


def tricube(d, h):
    """Tukey's tricube weight ``max(0, (1 - (|d|/h)^3)^3)`` [unitless]."""
    r = np.abs(d) / h
    c = 1.0 - r * r * r
    return np.maximum(0.0, c * c * c)


def widening_table(h0, n: int = MAX_WIDEN, cap: float | None = None) -> np.ndarray:
    """Windows after 0..n widening steps, by repeated multiplication by 1.1 as EGRET does.

    ``h0`` may be an array (one start per row); a ``cap`` (EGRET caps the
    seasonal window at 0.5 yr) is applied after every step.
    """
    h = np.array(h0, dtype=float, copy=True)
    out = np.empty((*h.shape, n + 1))
    for k in range(n + 1):
        out[..., k] = h
        h = h * 1.1
        if cap is not None:
            h = np.minimum(h, cap)
    return out


def _first_level(table_1d: np.ndarray, d: np.ndarray) -> np.ndarray:
    """First widening level at which distance ``d`` falls strictly inside the window."""
    return np.searchsorted(table_1d, d, side="right").astype(np.int32)


def _first_level_rows(table: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Row-wise :func:`_first_level`: ``table`` is (rows, K+1), ``d`` is (rows, N)."""
    k_max = table.shape[1] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        guess = np.floor(np.log(d / table[:, :1]) / np.log(1.1)) + 1.0
    k = np.clip(np.nan_to_num(guess, nan=0.0, neginf=0.0, posinf=k_max + 1), 0, k_max + 1)
    k = k.astype(np.int32)
    padded = np.concatenate([table, np.full((table.shape[0], 1), np.inf)], axis=1)
    for _ in range(3):  # the log guess is off by at most one step; make it exact
        up = np.take_along_axis(padded, k, axis=1) <= d
        k = np.where(up, np.minimum(k + 1, k_max + 1), k)
        prev = np.take_along_axis(padded, np.maximum(k - 1, 0), axis=1)
        down = (k > 0) & (prev > d)
        k = np.where(down, k - 1, k)
    return k


@dataclass
class Samples:
    """Calibration samples as arrays (sorted by time)."""

    t: np.ndarray  # decimal year [yr]
    log_q: np.ndarray  # ln discharge [ln(m³ s⁻¹)]
    y: np.ndarray  # ln concentration, or ln detection limit when censored [ln(mg L⁻¹)]
    censored: np.ndarray  # bool

    @property
    def n(self) -> int:
        return int(self.t.size)


@dataclass
class Settings:
    """WRTDS settings (EGRET's names in brackets)."""

    window_y: float = 7.0  # windowY [yr]
    window_q: float = 2.0  # windowQ [ln units]
    window_s: float = 0.5  # windowS [yr]
    min_obs: int = 100  # minNumObs
    min_uncen: int = 50  # minNumUncen
    edge_adjust: bool = True  # edgeAdjust


@dataclass
class FitResult:
    """Fitted values at the estimation points (shape (P,) or (R, P) for R count vectors)."""

    yhat: np.ndarray  # ln concentration [ln(mg L⁻¹)]
    se: np.ndarray  # survreg scale [ln units]
    level: np.ndarray  # widening steps used
    n_censored_fits: int
    n_not_converged: int


def _design(t, log_q, t0, q0):
    """Regression columns: 1, t, ln Q, sin 2πt, cos 2πt (t and ln Q centred for conditioning)."""
    two_pi_t = 2.0 * np.pi * t
    return np.stack(
        [np.ones_like(t), t - t0, log_q - q0, np.sin(two_pi_t), np.cos(two_pi_t)], axis=-1
    )


_NEVER = MAX_WIDEN + 1


@dataclass
class _Geometry:
    """Distances and widening levels, computed once per unique time and per unique ln Q."""

    t_inv: np.ndarray  # (P,) index of each point's time in the unique times
    q_inv: np.ndarray  # (P,) index of each point's ln Q in the unique ln Q values
    d_t: np.ndarray  # (Ut, N) |t_i - t|
    d_s: np.ndarray  # (Ut, N) seasonal distance
    d_q: np.ndarray  # (Uq, N) |ln Q_i - ln Q|
    tab_y: np.ndarray  # (Ut, K+1) widened time windows (edge-adjusted start)
    tab_q: np.ndarray  # (K+1,)
    tab_s: np.ndarray  # (K+1,)
    k_t: np.ndarray  # (Ut, N) first level with positive time and season weight
    k_q: np.ndarray  # (Uq, N) first level with positive discharge weight

    def levels(self, pts: np.ndarray) -> np.ndarray:
        """(len(pts), N): first widening level at which each sample gets weight > 0."""
        return np.maximum(self.k_t[self.t_inv[pts]], self.k_q[self.q_inv[pts]])

    def weights(self, pts: np.ndarray, lvl: np.ndarray) -> np.ndarray:
        """(len(pts), N) tricube weights, point ``pts[j]`` at widening level ``lvl[j]``."""
        out = np.empty((pts.size, self.d_t.shape[1]))
        for level in np.unique(lvl):
            sel = np.flatnonzero(lvl == level)
            p = pts[sel]
            ti, t_map = np.unique(self.t_inv[p], return_inverse=True)
            qi, q_map = np.unique(self.q_inv[p], return_inverse=True)
            wt = tricube(self.d_t[ti], self.tab_y[ti, level][:, None])
            wt *= tricube(self.d_s[ti], self.tab_s[level])
            wq = tricube(self.d_q[qi], self.tab_q[level])
            out[sel] = wt[t_map] * wq[q_map]
        return out


def _geometry(est_t, est_q, samples: Samples, settings: Settings, dec_low, dec_high):
    s = samples
    ut, t_inv = np.unique(est_t, return_inverse=True)
    uq, q_inv = np.unique(est_q, return_inverse=True)
    h_y0 = np.full(ut.shape, float(settings.window_y))
    if settings.edge_adjust:
        dist = np.minimum(ut - dec_low, dec_high - ut)
        h_y0 = np.where(dist > settings.window_y, h_y0, 2.0 * settings.window_y - dist)
    tab_y = widening_table(h_y0)
    tab_q = widening_table(settings.window_q)
    if settings.window_s <= 0.5:
        tab_s = widening_table(settings.window_s, cap=0.5)
    else:  # EGRET leaves a seasonal window wider than half a year alone
        tab_s = np.full(MAX_WIDEN + 1, float(settings.window_s))
    d_t = np.abs(s.t[None, :] - ut[:, None])
    d_s = np.minimum(np.ceil(d_t) - d_t, d_t - np.floor(d_t))
    d_q = np.abs(s.log_q[None, :] - uq[:, None])
    k_t = np.maximum(_first_level_rows(tab_y, d_t), _first_level(tab_s, d_s)).astype(np.int16)
    k_q = _first_level(tab_q, d_q).astype(np.int16)
    return _Geometry(t_inv.ravel(), q_inv.ravel(), d_t, d_s, d_q, tab_y, tab_q, tab_s, k_t, k_q)


def check_counts(n_total: int, n_unc: int, min_obs: int, min_uncen: int) -> None:
    if min_obs > n_total or min_uncen > n_unc:
        raise DataError(
            f"WRTDS needs at least min_obs={min_obs} samples and min_uncen={min_uncen} "
            f"uncensored samples but the record has {n_total} ({n_unc} uncensored); "
            "lower min_obs/min_uncen or use another method (rating, loadest)"
        )


def _sums(z: np.ndarray) -> np.ndarray:
    """Row-wise outer products z z^T flattened to (N, 36)."""
    return (z[:, :, None] * z[:, None, :]).reshape(z.shape[0], -1)


def fit_points(
    est_t: np.ndarray,
    est_q: np.ndarray,
    samples: Samples,
    settings: Settings,
    dec_low: float,
    dec_high: float,
    *,
    exclude_self: bool = False,
    chunk: int = 2048,
) -> FitResult:
    """Fit the WRTDS regression at each (time, ln Q) estimation point.

    Parameters
    ----------
    est_t, est_q : numpy.ndarray
        Estimation points: decimal year [yr] and ln discharge [ln(m³ s⁻¹)].
    samples : Samples
        Calibration data.
    settings : Settings
        Windows and minimum counts.
    dec_low, dec_high : float
        Ends of the record used by the edge adjustment [yr].
    exclude_self : bool
        Leave-one-out: point ``p`` is sample ``p`` and must not use it
        (``estCrossVal``).
    chunk : int
        Points per batch (bounds memory at ``chunk x n_samples`` doubles).

    Returns
    -------
    FitResult
    """
    s = samples
    est_t = np.asarray(est_t, dtype=float)
    est_q = np.asarray(est_q, dtype=float)
    unc = ~s.censored
    check_counts(
        s.n - int(exclude_self),
        int(unc.sum()) - int(exclude_self and unc.any()),
        settings.min_obs,
        settings.min_uncen,
    )
    geo = _geometry(est_t, est_q, s, settings, dec_low, dec_high)
    t0, q0 = 0.5 * (s.t.min() + s.t.max()), float(np.mean(s.log_q))
    z = np.concatenate([_design(s.t, s.log_q, t0, q0), s.y[:, None]], axis=1)
    zz_unc = _sums(z) * unc[:, None]
    xp_all = _design(est_t, est_q, t0, q0)
    n_pts = est_t.size
    yhat, se = np.empty(n_pts), np.empty(n_pts)
    level = np.empty(n_pts, dtype=np.int32)
    n_cens = n_bad = 0
    for start in range(0, n_pts, chunk):
        pts = np.arange(start, min(start + chunk, n_pts))
        rows = np.arange(pts.size)
        k = geo.levels(pts)
        if exclude_self:
            k[rows, pts] = _NEVER
        lvl = np.zeros(pts.size, dtype=np.int32)
        if settings.min_obs > 0:
            lvl = np.partition(k, settings.min_obs - 1, axis=1)[:, settings.min_obs - 1]
        if settings.min_uncen > 0:
            ku = np.partition(k[:, unc], settings.min_uncen - 1, axis=1)
            lvl = np.maximum(lvl, ku[:, settings.min_uncen - 1])
        if np.any(lvl > MAX_WIDEN):
            raise DataError("WRTDS windows could not be widened enough to reach min_obs")
        w = geo.weights(pts, lvl.astype(np.int32))
        if exclude_self:
            w[rows, pts] = 0.0
        a_unc = w @ zz_unc
        res = _solve_pairs(a_unc, w[:, s.censored], z[s.censored], xp_all[pts])
        yhat[pts], se[pts], level[pts] = res[0], res[1], lvl
        n_cens += res[2]
        n_bad += res[3]
    return FitResult(yhat, se, level, n_cens, n_bad)


def fit_points_counts(
    est_t: np.ndarray,
    est_q: np.ndarray,
    samples: Samples,
    counts: np.ndarray,
    settings: Settings,
    dec_low: float,
    dec_high: float,
    *,
    min_obs: np.ndarray | None = None,
    min_uncen: np.ndarray | None = None,
    chunk: int = 256,
) -> FitResult:
    """Fit the WRTDS regression for R resamples given as sample counts, all at once.

    A resample that holds sample ``i`` ``counts[r, i]`` times (a bootstrap
    replicate; all ones for the data themselves) gives the same windows and
    fits as the duplicated rows would in EGRET, but the weighted sums of all
    replicates come out of one matrix product per widening level.

    Parameters
    ----------
    est_t, est_q : numpy.ndarray
        Estimation points [yr], [ln(m³ s⁻¹)].
    samples : Samples
        The distinct samples.
    counts : numpy.ndarray
        (R, N) non-negative integer multiplicities.
    settings : Settings
        Windows; minimum counts unless ``min_obs``/``min_uncen`` (R,) are given.
    dec_low, dec_high : float
        Record ends for the edge adjustment [yr].
    chunk : int
        Points per batch.

    Returns
    -------
    FitResult
        Arrays of shape (R, P).
    """
    s = samples
    est_t = np.asarray(est_t, dtype=float)
    est_q = np.asarray(est_q, dtype=float)
    cnt = np.atleast_2d(np.asarray(counts, dtype=float))
    n_rep = cnt.shape[0]
    unc = ~s.censored
    need_o = np.full(n_rep, settings.min_obs) if min_obs is None else np.asarray(min_obs)
    need_u = np.full(n_rep, settings.min_uncen) if min_uncen is None else np.asarray(min_uncen)
    tot_o, tot_u = cnt.sum(axis=1), cnt[:, unc].sum(axis=1)
    bad = (need_o > tot_o) | (need_u > tot_u)
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        check_counts(int(tot_o[r]), int(tot_u[r]), int(need_o[r]), int(need_u[r]))
    geo = _geometry(est_t, est_q, s, settings, dec_low, dec_high)
    t0, q0 = 0.5 * (s.t.min() + s.t.max()), float(np.mean(s.log_q))
    z = np.concatenate([_design(s.t, s.log_q, t0, q0), s.y[:, None]], axis=1)
    iu, ju = np.triu_indices(6)
    nu = iu.size  # 21 distinct entries of the symmetric 6x6 sums
    pos21 = np.zeros((6, 6), dtype=np.intp)
    pos21[iu, ju] = np.arange(nu)
    pos21[ju, iu] = np.arange(nu)
    full36 = pos21.ravel()
    zz_unc = z[:, iu] * z[:, ju] * unc[:, None]
    # (N, R*21): every replicate's multiplicity times the per-sample sums
    zc = (cnt[:, :, None] * zz_unc[None]).transpose(1, 0, 2).reshape(s.n, n_rep * nu)
    cens_idx = np.flatnonzero(s.censored)
    cnt_c = cnt[:, cens_idx]
    xp_all = _design(est_t, est_q, t0, q0)
    n_pts = est_t.size
    yhat, se = np.empty((n_rep, n_pts)), np.empty((n_rep, n_pts))
    level = np.empty((n_rep, n_pts), dtype=np.int32)
    n_cens = n_bad = 0
    cnt_t = np.ascontiguousarray(cnt.T, dtype=np.float32)
    cnt_ut = np.ascontiguousarray(cnt[:, unc].T, dtype=np.float32)
    by_time = np.argsort(est_t, kind="stable")  # time-ordered chunks: narrow sample bands
    for start in range(0, n_pts, chunk):
        pts = by_time[start : start + chunk]
        k = geo.levels(pts)
        lvl = np.full((n_rep, pts.size), -1, dtype=np.int32)
        pending = np.ones((n_rep, pts.size), dtype=bool)
        for lev in range(MAX_WIDEN + 1):
            cols = np.flatnonzero(pending.any(axis=0))
            if cols.size == 0:
                break
            mask = (k[cols] <= lev).astype(np.float32)  # counts are exact in float32
            ok = ((mask @ cnt_t >= need_o) & (mask[:, unc] @ cnt_ut >= need_u)).T
            ok &= pending[:, cols]
            rr, cc = np.nonzero(ok)
            lvl[rr, cols[cc]] = lev
            pending[rr, cols[cc]] = False
        if pending.any():
            raise DataError("WRTDS windows could not be widened enough to reach min_obs")
        a21 = np.empty((n_rep, pts.size, nu))
        wc = np.empty((n_rep, pts.size, cens_idx.size))
        for lev in np.unique(lvl):
            cols = np.flatnonzero((lvl == lev).any(axis=0))
            w = geo.weights(pts[cols], np.full(cols.size, lev))
            nz = np.flatnonzero(w.any(axis=0))  # samples are time-sorted: a band
            lo, hi = (nz[0], nz[-1] + 1) if nz.size else (0, 0)
            a = (w[:, lo:hi] @ zc[lo:hi]).reshape(cols.size, n_rep, nu)
            sel = lvl[:, cols] == lev
            if sel.all():  # the usual case: every resample needs this level here
                a21[:, cols] = a.transpose(1, 0, 2)
                if cens_idx.size:
                    wc[:, cols] = w[None, :, cens_idx] * cnt_c[:, None, :]
            else:
                rr, cc = np.nonzero(sel)
                a21[rr, cols[cc]] = a[cc, rr]
                if cens_idx.size:
                    wc[rr, cols[cc]] = w[:, cens_idx][cc] * cnt_c[rr]
        a_unc = a21.reshape(-1, nu)[:, full36]  # symmetric 6x6 from its 21 entries
        xp = np.broadcast_to(xp_all[pts], (n_rep, pts.size, 5)).reshape(-1, 5)
        res = _solve_pairs(a_unc, wc.reshape(-1, cens_idx.size), z[cens_idx], xp)
        yhat[:, pts] = res[0].reshape(n_rep, pts.size)
        se[:, pts] = res[1].reshape(n_rep, pts.size)
        level[:, pts] = lvl
        n_cens += res[2]
        n_bad += res[3]
    return FitResult(yhat, se, level, n_cens, n_bad)


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
    conc_surface: np.ndarray, grid: Grid, t: np.ndarray, log_q: np.ndarray, day: np.ndarray
):
    """Flow-normalised concentration [mg L⁻¹] and flux [kg d⁻¹] for every day.

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
    cnt = np.ones((1, samples.n)) if single else counts
    fit = fit_points_counts(
        tt.ravel(), qq.ravel(), samples, cnt, settings, dec_low, dec_high, **kwargs
    )
    yhat = fit.yhat.reshape(-1, *tt.shape)
    se = fit.se.reshape(-1, *tt.shape)
    surf = np.stack([yhat, se, np.exp(yhat + 0.5 * se**2)], axis=1)
    return (surf[0] if single else surf), fit


def decimal_high_low(first_t: float, first_month: int, last_t: float, last_month: int):
    """EGRET's ``decimalHighLow``: water-year bounds of the sample record [yr]."""
    low = np.trunc(first_t) - 0.25 + (1.0 if first_month >= 10 else 0.0)
    high = np.trunc(last_t) + 0.75 + (1.0 if last_month >= 10 else 0.0)
    return float(low), float(high)


def block_resample(day_number: np.ndarray, block_days: int, rng: np.random.Generator):
    """Indices of a block-bootstrap resample of time-sorted samples.

    As EGRETci's ``blockSample``: block starts are drawn uniformly from
    ``first - block_days + 1`` to ``last`` (day numbers); each block takes the
    samples with ``start <= day < start + block_days - 1`` clipped to the
    record, until more samples than the original are collected; the excess
    is cut and the result sorted in time.
    """
    n = day_number.size
    first, last = int(day_number[0]), int(day_number[-1])
    if n < 2 or first == last:
        raise DataError("block bootstrap needs samples on at least two different days")
    picked: list[np.ndarray] = []
    total = 0
    while total <= n:
        start = int(rng.integers(first - block_days + 1, last + 1))
        lo = max(start, first)
        hi = min(last, start + block_days - 1)
        i0 = np.searchsorted(day_number, lo, side="left")
        i1 = np.searchsorted(day_number, hi, side="left")
        if i1 > i0:
            picked.append(np.arange(i0, i1))
            total += i1 - i0
    idx = np.concatenate(picked[::-1])[:n]  # EGRETci prepends blocks, cuts the tail
    return np.sort(idx, kind="stable")
