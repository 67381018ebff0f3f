"""Censored log-linear regression (MLE and AMLE) and the AMLE load estimator.

This is the statistical engine behind :mod:`karstsink.flux.loadest`.  It
follows the method LOADEST uses (Runkel, Crawford & Cohn 2004):

* the maximum-likelihood (Tobit) fit of ``y = X b + s e`` with left-censored
  ``y`` (``y`` known only to be below a threshold);
* Cohn's adjusted MLE (AMLE): the first-order bias of the MLE is removed
  using the expected information of each observation given its censoring
  threshold (Shenton & Bowman 1977; Cohn 1988, 2005).  With nothing
  censored the AMLE equals ordinary least squares with ``s² = SSE/(n-p)``;
* the nearly unbiased load estimator ``exp(x w) * E(s²)`` where ``E`` is a
  series in the residual standard deviation whose terms are unbiased
  estimators of the powers of ``s`` under a gamma approximation of the
  distribution of ``s²`` (for uncensored data this is the Bradu-Mundlak /
  Finney MVUE of Cohn et al. 1989);
* the exact variance of a sum of such estimates (all pairs of days), and the
  standard error of prediction (SEP) that adds the model's residual scatter.

The formulas were re-derived and vectorised here (pairwise sums as bilinear
forms over a Hankel matrix of gamma ratios) from the published method and the
public-domain USGS Fortran (LOADEST / ``rloadest`` / ``smwrQW``), which was read
for reference only.

References
----------
.. [1] R. L. Runkel, C. G. Crawford and T. A. Cohn, "Load Estimator (LOADEST):
   A FORTRAN program for estimating constituent loads in streams and rivers",
   USGS Techniques and Methods 4-A5, 2004.
.. [2] T. A. Cohn, "Estimating contaminant loads in rivers: an application of
   adjusted maximum likelihood to type 1 censored data", Water Resour. Res.
   41:W07003, 2005 (the AMLE).
.. [3] T. A. Cohn, L. L. DeLong, E. J. Gilroy, R. M. Hirsch and D. K. Wells,
   "Estimating constituent loads", Water Resour. Res. 25(5):937-942, 1989.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special, stats

from ..exceptions import DataError

_SQRT2 = np.sqrt(2.0)


@dataclass
class CensoredFit:
    """Result of :func:`fit_amle` (all in the regression's own log space).

    Attributes
    ----------
    coef_mle, coef_amle : ndarray
        Coefficients (length p).
    s2_mle, s2_amle : float
        Residual variance by MLE and by AMLE (the latter unbiased when
        nothing is censored: ``SSE/(n-p)``).
    bias, sbias : ndarray
        First-order biases (length p+1) of the standardised MLE with respect
        to s² and to s.
    cv, scv : ndarray
        Standardised covariance matrices ((p+1)², last row/column for s² resp. s).
    loglik : float
        Log-likelihood at the MLE.
    """

    coef_mle: np.ndarray
    s2_mle: float
    coef_amle: np.ndarray
    s2_amle: float
    bias: np.ndarray
    sbias: np.ndarray
    cv: np.ndarray
    scv: np.ndarray
    loglik: float
    n: int
    n_censored: int
    info: dict = field(default_factory=dict)

    @property
    def p(self) -> int:
        return len(self.coef_mle)

    @property
    def coef_se(self) -> np.ndarray:
        """Standard deviations of the AMLE coefficients (LOADEST's "Std.Dev.")."""
        return np.sqrt(self.s2_amle * np.diag(self.cv)[: self.p])

    @property
    def cov_amle(self) -> np.ndarray:
        """Covariance matrix of the AMLE coefficients (p x p)."""
        return self.s2_amle * self.cv[: self.p, : self.p]


# ---------------------------------------------------------------------------
# maximum likelihood (Tobit, left-censored)
# ---------------------------------------------------------------------------


def _negloglik(theta: np.ndarray, X, y, cens):
    beta, log_s = theta[:-1], theta[-1]
    s = np.exp(log_s)
    mu = X @ beta
    z = (y - mu) / s
    ll_u = -0.5 * np.log(2 * np.pi) - log_s - 0.5 * z[~cens] ** 2
    ll_c = special.log_ndtr(z[cens])
    nll = -(ll_u.sum() + ll_c.sum())
    # gradient
    g_beta = np.zeros_like(beta)
    g_log_s = 0.0
    zu = z[~cens]
    g_beta += (X[~cens] * (zu / s)[:, None]).sum(axis=0)
    g_log_s += np.sum(zu**2 - 1.0)
    if cens.any():
        zc = z[cens]
        mills = np.exp(special.log_ndtr(zc) * -1.0 + stats.norm.logpdf(zc))  # phi/Phi
        g_beta += (X[cens] * (-mills / s)[:, None]).sum(axis=0)
        g_log_s += np.sum(-mills * zc)
    return nll, -np.concatenate([g_beta, [g_log_s]])


def _tobit_mle(X, y, cens):
    n = X.shape[0]
    beta0, *_ = np.linalg.lstsq(X, y, rcond=None)
    if not cens.any():
        resid = y - X @ beta0
        s2 = float(resid @ resid / n)
        ll = float(-0.5 * n * (np.log(2 * np.pi * s2) + 1.0))
        return beta0, s2, ll
    resid = y - X @ beta0
    theta0 = np.concatenate([beta0, [0.5 * np.log(max(resid @ resid / n, 1e-12))]])
    res = optimize.minimize(
        _negloglik, theta0, args=(X, y, cens), jac=True, method="BFGS",
        options={"gtol": 1e-10, "maxiter": 2000},
    )
    if not np.all(np.isfinite(res.x)):
        raise DataError("The censored regression did not converge.")
    # polish with a few Newton steps on a numerical Hessian of the analytic gradient
    theta = res.x
    for _ in range(5):
        g = _negloglik(theta, X, y, cens)[1]
        if np.max(np.abs(g)) < 1e-11:
            break
        h = optimize.approx_fprime(theta, lambda t: _negloglik(t, X, y, cens)[1], 1e-7)
        h = 0.5 * (h + h.T)
        try:
            theta = theta - np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            break
    nll = _negloglik(theta, X, y, cens)[0]
    return theta[:-1], float(np.exp(2 * theta[-1])), float(-nll)


# ---------------------------------------------------------------------------
# expected information of one observation censored at the standardised
# threshold xi (Shenton & Bowman 1977; Cohn 1988): 2nd and 3rd derivatives of
# the log-likelihood with respect to (mu, sigma) and (mu, sigma^2)
# ---------------------------------------------------------------------------


def _obs_derivatives(xi: np.ndarray):
    """Return (K2, K3, K3S, S2K2, S2K3, S2K3S) with shapes (n,2,2) / (n,2,2,2)."""
    xi = np.asarray(xi, dtype=float)
    phi = np.where(xi < -6, 0.0, np.where(xi > 6, 1.0, special.ndtr(np.clip(xi, -6, 6))))
    f = np.where(np.abs(xi) > 6, 0.0, stats.norm.pdf(np.clip(xi, -6, 6)))
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(xi < -6, -xi, np.where(xi > 6, 0.0, f / phi))
        g = np.where(xi < -6, 0.0, np.where(xi > 6, xi, f / (1.0 - phi)))
    op = 1.0 - phi
    b = -a * (xi + a)
    e = -(b * (xi + a) + (1.0 + b) * a)
    h = 1.0 + xi * g
    n = xi.shape[0]
    k2 = np.empty((n, 2, 2))
    k2[:, 0, 0] = -op + phi * b
    k2[:, 0, 1] = k2[:, 1, 0] = -2.0 * f + phi * (xi * b + a)
    k2[:, 1, 1] = op * (1.0 - 3.0 * h) + phi * (xi**2 * b + 2.0 * xi * a)

    k3 = np.empty((n, 2, 2, 2))
    k3[:, 0, 0, 0] = -phi * e
    v = op * 2.0 - phi * (xi * e + 2.0 * b)
    k3[:, 0, 0, 1] = k3[:, 0, 1, 0] = k3[:, 1, 0, 0] = v
    v = 6.0 * f - phi * (xi**2 * e + 4.0 * xi * b + 2.0 * a)
    k3[:, 0, 1, 1] = k3[:, 1, 0, 1] = k3[:, 1, 1, 0] = v
    k3[:, 1, 1, 1] = op * (-2.0 + 12.0 * h) - phi * (xi**3 * e + 6.0 * xi**2 * b + 6.0 * xi * a)

    k3s = np.empty((n, 2, 2, 2))
    k3s[:, 0, 0, 0] = -(f + phi * (a * b + e))
    k3s[:, 0, 0, 1] = xi * k3s[:, 0, 0, 0] - 2.0 * k2[:, 0, 0]
    k3s[:, 0, 1, 0] = k3s[:, 1, 0, 0] = -(
        2.0 * xi * f + phi * (a * (xi * b + a) + 2.0 * b + xi * e)
    )
    k3s[:, 0, 1, 1] = k3s[:, 1, 0, 1] = xi * k3s[:, 0, 1, 0] - 2.0 * k2[:, 0, 1]
    k3s[:, 1, 1, 0] = -(
        -f + 3.0 * xi**2 * f
        + phi * (2.0 * xi * b + (a * b + e) * xi**2 + 2.0 * (a + xi * (a * a + b)))
    )
    k3s[:, 1, 1, 1] = xi * k3s[:, 1, 1, 0] - 2.0 * k2[:, 1, 1]

    # the same with respect to sigma^2 instead of sigma (chain rule)
    s2k3 = np.empty_like(k3)
    s2k3[:, 0, 0, 0] = k3[:, 0, 0, 0]
    s2k3[:, 0, 0, 1] = s2k3[:, 0, 1, 0] = s2k3[:, 1, 0, 0] = k3[:, 0, 0, 1] / 2.0
    v = (k3[:, 0, 1, 1] - k2[:, 0, 1]) / 4.0
    s2k3[:, 0, 1, 1] = s2k3[:, 1, 0, 1] = s2k3[:, 1, 1, 0] = v
    s2k3[:, 1, 1, 1] = (k3[:, 1, 1, 1] - 3.0 * k2[:, 1, 1]) / 8.0

    s2k3s = np.empty_like(k3s)
    s2k3s[:, 0, 0, 0] = k3s[:, 0, 0, 0]
    s2k3s[:, 0, 0, 1] = k3s[:, 0, 0, 1] / 2.0
    s2k3s[:, 0, 1, 0] = s2k3s[:, 1, 0, 0] = k3s[:, 0, 1, 0] / 2.0
    s2k3s[:, 0, 1, 1] = s2k3s[:, 1, 0, 1] = (k3s[:, 0, 1, 1] - k2[:, 0, 1]) / 4.0
    s2k3s[:, 1, 1, 0] = k3s[:, 1, 1, 0] / 4.0
    s2k3s[:, 1, 1, 1] = (k3s[:, 1, 1, 1] - 2.0 * k2[:, 1, 1]) / 8.0

    s2k2 = np.empty_like(k2)
    s2k2[:, 0, 0] = k2[:, 0, 0]
    s2k2[:, 0, 1] = s2k2[:, 1, 0] = k2[:, 0, 1] / 2.0
    s2k2[:, 1, 1] = k2[:, 1, 1] / 4.0
    return k2, k3, k3s, s2k2, s2k3, s2k3s


def _expand(arr2: np.ndarray, p: int) -> np.ndarray:
    """Map per-observation (mu, sigma) derivative blocks onto the p+1 parameters."""
    idx = np.array([0] * p + [1])
    if arr2.ndim == 3:
        return arr2[:, idx][:, :, idx]
    return arr2[:, idx][:, :, idx][:, :, :, idx]


def fit_amle(X: np.ndarray, y: np.ndarray, censored: np.ndarray | None = None,
             threshold: np.ndarray | None = None) -> CensoredFit:
    """Fit ``y = X b + s e`` by MLE and AMLE with left-censored ``y``.

    Parameters
    ----------
    X : ndarray (n, p)
        Design matrix including the intercept column.
    y : ndarray (n,)
        Response (log load); for a censored row the censoring threshold.
    censored : ndarray of bool, optional
        True where ``y`` is only known to be below ``y``.
    threshold : ndarray, optional
        Censoring threshold in force for every row (used by the AMLE bias
        correction); by default ``-inf`` for uncensored rows (never censored)
        and ``y`` for censored rows.

    Returns
    -------
    CensoredFit
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, p = X.shape
    cens = np.zeros(n, bool) if censored is None else np.asarray(censored, bool)
    if threshold is None:
        threshold = np.where(cens, y, -np.inf)
    if n - int(cens.sum()) < p + 1:
        raise DataError(
            f"Too few uncensored samples ({n - int(cens.sum())}) to fit {p} coefficients."
        )
    if np.linalg.matrix_rank(X) < p:
        raise DataError(
            f"The regression's {p} terms are not identifiable from these samples (the "
            "discharge, time or extra regressors do not vary enough); choose a simpler model."
        )
    beta, s2, ll = _tobit_mle(X, y, cens)
    if not (np.isfinite(s2) and s2 > 0):
        raise DataError("The regression fits the samples exactly (zero residual variance); "
                        "load intervals cannot be computed.")
    s = np.sqrt(s2)
    xa = np.column_stack([X, np.ones(n)])
    with np.errstate(invalid="ignore"):
        xi = (threshold - X @ beta) / s
    xi = np.where(np.isfinite(xi), xi, -1e3)
    k2, k3, k3s, s2k2, s2k3, s2k3s = _obs_derivatives(xi)
    # information matrices (w.r.t. s^2: H*, w.r.t. s: SH*)
    h2 = -np.einsum("nij,ni,nj->ij", _expand(s2k2, p), xa, xa)
    sh2 = -np.einsum("nij,ni,nj->ij", _expand(k2, p), xa, xa)
    h3 = np.einsum("nijk,ni,nj,nk->ijk", _expand(s2k3, p), xa, xa, xa)
    h3s = np.einsum("nijk,ni,nj,nk->ijk", _expand(s2k3s, p), xa, xa, xa)
    sh3 = np.einsum("nijk,ni,nj,nk->ijk", _expand(k3, p), xa, xa, xa)
    sh3s = np.einsum("nijk,ni,nj,nk->ijk", _expand(k3s, p), xa, xa, xa)
    cv = np.linalg.inv(h2)
    scv = np.linalg.inv(sh2)
    bias = np.einsum("ij,kl,jkl->i", cv, cv, h3s - h3 / 2.0)
    sbias = np.einsum("ij,kl,jkl->i", scv, scv, sh3s - sh3 / 2.0)
    coef_amle = beta - s * bias[:p]
    s2_amle = s2 / (1.0 + bias[p])
    return CensoredFit(
        coef_mle=beta, s2_mle=s2, coef_amle=coef_amle, s2_amle=float(s2_amle),
        bias=bias, sbias=sbias, cv=cv, scv=scv, loglik=ll, n=n,
        n_censored=int(cens.sum()),
    )


# ---------------------------------------------------------------------------
# load estimation
# ---------------------------------------------------------------------------


def _series_coefficients(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """Coefficients c_k (k < m) of exp(b x² + a x) = sum c_k x^k, one row per (a, b)."""
    k = np.arange(m)
    lf = special.gammaln(k + 1.0)
    # a^j / j!
    with np.errstate(divide="ignore"):
        pa = np.where(k == 0, 1.0, np.power.outer(a, k) / np.exp(lf))
        pb = np.where(k == 0, 1.0, np.power.outer(b, k) / np.exp(lf))
    pa = np.where(np.isnan(pa), 0.0, pa)
    pb = np.where(np.isnan(pb), 0.0, pb)
    c = np.zeros((len(a), m))
    for ll in range(0, (m + 1) // 2):  # term b^l x^(2l) times a^(k-2l) x^(k-2l)
        c[:, 2 * ll:] += pb[:, [ll]] * pa[:, : m - 2 * ll]
    return c


def _row_terms(a: np.ndarray, b: np.ndarray, s2: float) -> np.ndarray:
    """Series terms each row of (a, b) needs (before any cap)."""
    return 40.0 + 12.0 * (np.abs(b) * s2 + np.abs(a) * np.sqrt(s2))


def _n_terms(a: np.ndarray, b: np.ndarray, s2: float) -> int:
    return int(min(400, float(np.max(_row_terms(a, b, s2), initial=40.0))))


#: Most series terms a row may need and be estimated (its variance adds 20 more).  A row
#: past it lies far outside the calibration data (a discharge of 1e-300 or 1e20 m3/s):
#: its moments, Gamma(alpha + m) / Gamma(alpha) / alpha^m with m near 400, overflow float64
#: for a few dozen samples (ln of it > 709 at m = 420, alpha = 30), and one such row used to
#: make every row's variance NaN.
MAX_ROW_TERMS = 180.0


@dataclass
class LoadMoments:
    """Sum of nearly unbiased load estimates over a set of instants, with its errors.

    ``loads`` are per-instant estimates; ``variance`` is the variance of their
    sum from parameter uncertainty; ``sep_variance`` adds the residual scatter
    of the true loads around the model (both in load² units).
    """

    loads: np.ndarray
    total: float
    variance: float
    sep_variance: float


class LoadEstimator:
    """Evaluate AMLE loads ``exp(x b)`` bias-corrected, and variances of their sums.

    Parameters
    ----------
    fit : CensoredFit
        The calibration fit (log load regression).
    """

    def __init__(self, fit: CensoredFit):
        self.fit = fit
        p = fit.p
        s2 = fit.s2_mle
        self.s2 = s2
        self.gamma = fit.scv[:p, p] / fit.scv[p, p]
        self.omega = fit.coef_mle - self.gamma * np.sqrt(s2)
        self.bvec = fit.sbias[:p] - self.gamma * (1.0 + fit.sbias[p])
        self.c = fit.scv[:p, :p] - fit.scv[p, p] * np.outer(self.gamma, self.gamma)
        self.alpha = (1.0 + fit.bias[p]) ** 2 / fit.cv[p, p]
        self.kappa = (1.0 + fit.bias[p]) / self.alpha
        self.s2_u = s2 / (1.0 + fit.bias[p])

    def evaluable(self, X: np.ndarray) -> np.ndarray:
        """True for the design rows whose estimate and variance stay finite
        (:data:`MAX_ROW_TERMS`); the others are too far outside the calibration data."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        with np.errstate(over="ignore", invalid="ignore"):
            a1, b1 = self._ab(X)
            need = _row_terms(a1, b1, max(self.s2, self.s2_u))
            return np.isfinite(need) & (need <= MAX_ROW_TERMS)

    def _ab(self, X):
        a1 = -(X @ self.bvec)
        xcx = np.einsum("ij,jk,ik->i", X, self.c, X)
        b1 = (1.0 - xcx) / 2.0
        return a1, b1

    def loads(self, X: np.ndarray) -> np.ndarray:
        """Per-instant load estimates (in exp(y) units) for design rows ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        a1, b1 = self._ab(X)
        m = _n_terms(a1, b1, self.s2)
        c = _series_coefficients(a1, b1, m)
        k = np.arange(m)
        # unbiased estimators of sigma^k: (s2/kappa)^(k/2) Gamma(alpha)/Gamma(alpha+k/2)
        log_sk = (k / 2.0) * np.log(self.s2 / self.kappa) + special.gammaln(self.alpha) - \
            special.gammaln(self.alpha + k / 2.0)
        expon = c @ np.exp(log_sk)
        return np.exp(X @ self.omega) * expon

    def moments(self, X: np.ndarray, *, exact: bool = True, block: int = 512) -> LoadMoments:
        """Sum of the loads at rows ``X`` with its variance and SEP variance.

        ``exact=True`` sums the exact covariance of every pair of estimates
        (LOADEST's exact standard error); ``exact=False`` uses the first-order
        (delta-method) approximation.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        loads = self.loads(X)
        total = float(loads.sum())
        fit = self.fit
        p = fit.p
        if exact:
            var = self._exact_variance(X, block=block)
        else:
            s2 = fit.s2_mle
            cv_m = np.empty((p + 1, p + 1))
            cv_m[:p, :p] = s2 * fit.cv[:p, :p]
            cv_m[:p, p] = cv_m[p, :p] = s2**1.5 * fit.cv[:p, p]
            cv_m[p, p] = s2**2 * fit.cv[p, p]
            grad = np.concatenate([X.T @ loads, [loads.sum() / 2.0]])
            var = float(grad @ cv_m @ grad)
        sep_var = var + float(np.sum(loads**2) * (np.exp(self.s2_u) - 1.0))
        return LoadMoments(loads=loads, total=total, variance=var, sep_variance=sep_var)

    def daily_variance(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-row exact variance of each single estimate and its SEP variance."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        loads = self.loads(X)
        s2u = self.s2_u
        v, hank, e, f, _ = self._pair_terms(X)
        expvar = np.einsum("ik,kl,il->i", v, hank, v)
        cxx = np.einsum("ij,jk,ik->i", X, self.c, X)
        var = np.exp(2 * e + s2u * cxx) * expvar - np.exp(2 * f)
        return var, var + loads**2 * (np.exp(s2u) - 1.0)

    def _pair_terms(self, X: np.ndarray):
        s2u = self.s2_u
        sig = np.sqrt(s2u)
        beta = self.fit.coef_mle
        a1, b1 = self._ab(X)
        m = _n_terms(a1, b1, s2u) + 20
        coef = _series_coefficients(a1, b1, m)
        k = np.arange(m)
        alpha = self.alpha
        # GAMM(j) = Gamma(alpha + j/2) / Gamma(alpha); scaled by alpha^(j/2) to stay finite
        j = np.arange(2 * m)
        log_g = (special.gammaln(alpha + j / 2.0) - special.gammaln(alpha)
                 - (j / 2.0) * np.log(alpha))
        hank = np.exp(log_g[k[:, None] + k[None, :]])
        v = coef * np.exp(k * np.log(sig) - log_g[:m])  # (n, m)
        cxx = np.einsum("ij,jk,ik->i", X, self.c, X)
        e = X @ (beta + sig * self.bvec) + 0.5 * s2u * cxx
        f = X @ beta + 0.5 * s2u
        return v, hank, e, f, cxx

    def _exact_variance(self, X: np.ndarray, *, block: int) -> float:
        s2u = self.s2_u
        v, hank, e, f, _ = self._pair_terms(X)
        vh = v @ hank
        xc = X @ self.c
        total = 0.0
        n = X.shape[0]
        for start in range(0, n, block):
            sl = slice(start, min(n, start + block))
            cross = xc[sl] @ X.T  # x_i C x_j
            expvar = vh[sl] @ v.T
            term = np.exp(e[sl, None] + e[None, :] + s2u * cross) * expvar
            term -= np.exp(f[sl, None] + f[None, :])
            total += float(term.sum())
        return total


def lognormal_interval(mean: np.ndarray | float, sep: np.ndarray | float, *,
                       level: float = 0.95, df: float | None = None):
    """Interval of a load with mean ``mean`` and standard error ``sep`` (2-parameter lognormal).

    LOADEST's "95 % confidence interval": fit a lognormal with the estimate's
    mean and SEP, then take its 2.5 and 97.5 percentiles (normal quantile;
    Student's t with ``df`` degrees of freedom when given, as rloadest does
    for single days).
    """
    mean = np.asarray(mean, dtype=float)
    sep = np.asarray(sep, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sdl = np.sqrt(np.log1p((sep / mean) ** 2))
        mu = np.log(mean) - 0.5 * sdl**2
    q = stats.norm.ppf(0.5 + level / 2.0) if df is None else stats.t.ppf(0.5 + level / 2.0, df)
    return np.exp(mu - q * sdl), np.exp(mu + q * sdl)
