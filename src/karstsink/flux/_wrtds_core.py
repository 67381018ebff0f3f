"""Numerical core of WRTDS: window search and batched weighted (censored) regressions.

Everything here works on plain numpy arrays; :mod:`karstsink.flux.wrtds` adds
validation, pandas tables and the bootstrap orchestration, :mod:`._wrtds_surface`
the grid, the surfaces and the daily values, :mod:`._wrtds_solve` the batched
solvers and :mod:`._wrtds_bootstrap` the block bootstrap.

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

from dataclasses import dataclass

import numpy as np

from .._checks import finite_number, whole_number
from ..exceptions import DataError
from ._wrtds_solve import _solve_pairs, _sums

#: Largest number of 10 % widening steps searched (1.1**400 ~ 4e16: any record).
MAX_WIDEN = 400


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


#: Fewest samples that may carry weight at a WRTDS point (``min_obs``): each point's
#: regression has 5 coefficients (intercept, time, ln Q, sin and cos of 2πt; Hirsch et
#: al. 2010, doi:10.1111/j.1752-1688.2010.00482.x) and a residual standard deviation.
#: Fewer fit the samples exactly (a standard error near 0) and give any surface.
MIN_OBS_FLOOR = 6


#: Share of the mean discharge added to every day of a record with zero-flow days, for
#: WRTDS's ln Q axis (EGRET's ``populateDaily``: ``qshift = 0.001 * mean(Q)``).
ZERO_FLOW_SHIFT = 0.001


def log_discharge(q: np.ndarray) -> tuple[np.ndarray, float]:
    """WRTDS's ln Q axis of a daily record [ln(m³ s⁻¹)] and the shift in it [m³ s⁻¹].

    ln 0 does not exist, so when any day has zero flow (an intermittent spring)
    :data:`ZERO_FLOW_SHIFT` times the mean discharge is added to every day, as
    EGRET does (Hirsch & De Cicco 2015, doi:10.3133/tm4A10): those days then sit
    at the low end of the surface, and flow normalisation counts them.  The
    shift is 0 otherwise; missing days are NaN.
    """
    q = np.asarray(q, dtype=float)
    shift = ZERO_FLOW_SHIFT * float(np.nanmean(q)) if (q == 0).any() else 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(q + shift > 0, np.log(q + shift), np.nan), shift


@dataclass
class Settings:
    """WRTDS settings (EGRET's names in brackets)."""

    window_y: float = 7.0  # windowY [yr]
    window_q: float = 2.0  # windowQ [ln units]
    window_s: float = 0.5  # windowS [yr]
    min_obs: int = 100  # minNumObs
    min_uncen: int = 50  # minNumUncen
    edge_adjust: bool = True  # edgeAdjust

    def __post_init__(self) -> None:
        # One check for every way in (estimate_wrtds, a stored fit's settings, replace()):
        # a NaN window gave numpy's LinAlgError, a count of 0 or -5 was taken as given.
        for name in ("window_y", "window_q", "window_s"):
            setattr(self, name, finite_number(
                name, getattr(self, name), positive=True,
                hint="a WRTDS half-window (EGRET's windowY 7 yr, windowQ 2, windowS 0.5 yr)"))
        for name, floor in (("min_obs", MIN_OBS_FLOOR), ("min_uncen", 1)):
            setattr(self, name, whole_number(
                name, getattr(self, name), floor,
                hint="samples that must carry weight at each point (EGRET's minNumObs 100, "
                     "minNumUncen 50; a point's regression has 5 coefficients and a "
                     "residual sd)"))
        self.edge_adjust = bool(self.edge_adjust)


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


def lower_min_obs_hint(n: int, n_unc: int, min_uncen: int = 50) -> str:
    """How to lower ``min_obs``/``min_uncen`` for ``n`` samples (``n_unc`` uncensored).

    Suggests n - 20 (the cap EGRETci puts on them for its bootstrap resamples), or n/2
    when that is more, naming the CLI options, the Python keywords and the run-TOML keys;
    never less than :data:`MIN_OBS_FLOOR` nor more than the samples less the one a
    leave-one-out fit leaves out, so that the values it names run.  Where no values
    would (too few samples, or fewer than 2 uncensored), it names the other methods.
    """
    other = ("estimate the flux with --method loadest or rating (3 samples or more) or "
             "direct (karstsink flux; a trend needs WRTDS)")
    if n_unc < 2:
        return (f"with {n_unc} uncensored sample(s) WRTDS cannot fit a surface (each point's "
                f"regression needs values, not only detection limits); {other}")
    if n - 1 < MIN_OBS_FLOOR:
        return (f"with {n} samples WRTDS cannot be fitted: each point's regression has 5 "
                f"coefficients and a residual sd, so min_obs is at least {MIN_OBS_FLOOR}, "
                f"with one sample more for the leave-one-out fits; {other}")
    a = min(n - 1, max(n - 20, n // 2, MIN_OBS_FLOOR))
    b = max(1, min(min_uncen, max(n_unc - 20, n_unc // 2), a, n_unc - 1))
    return (f"lower them, e.g. --min-obs {a} --min-uncen {b} (Python: min_obs={a}, "
            f"min_uncen={b}; run TOML: min_obs = {a}, min_uncen = {b} in the catchment), or "
            + other)


def check_counts(n_total: int, n_unc: int, min_obs: int, min_uncen: int) -> None:
    if min_obs > n_total or min_uncen > n_unc:
        raise DataError(
            f"WRTDS needs at least min_obs={min_obs} samples and min_uncen={min_uncen} "
            f"uncensored samples but the record has {n_total} ({n_unc} uncensored); "
            + lower_min_obs_hint(n_total, n_unc, min_uncen)
        )


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
            raise DataError(
                f"WRTDS windows could not be widened enough to give min_obs={settings.min_obs} "
                f"samples (min_uncen={settings.min_uncen} uncensored) weight at every point "
                f"from {s.n} samples; "
                + lower_min_obs_hint(s.n, int(unc.sum()), settings.min_uncen))
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
        res = _solve_pairs(a_unc, wc.reshape(n_rep * pts.size, cens_idx.size), z[cens_idx], xp)
        yhat[:, pts] = res[0].reshape(n_rep, pts.size)
        se[:, pts] = res[1].reshape(n_rep, pts.size)
        level[:, pts] = lvl
        n_cens += res[2]
        n_bad += res[3]
    return FitResult(yhat, se, level, n_cens, n_bad)
