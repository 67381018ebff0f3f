"""The LOADEST model of :mod:`karstsink.flux.loadest`: its terms and the calibrated model.

:data:`MODEL_TERMS` lists the regressors of LOADEST's models 1-9 (Runkel,
Crawford & Cohn 2004, table 7); :class:`LoadestFit` holds a calibrated model
and evaluates it: loads at any instants, their standard errors and SEP, and
the mean load of a period with LOADEST's exact variance and lognormal 95 %
interval.  Calibration (:func:`karstsink.flux.loadest.fit_loadest`) and the
daily estimate are in :mod:`karstsink.flux.loadest`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import MissingColumnError
from ._amle import CensoredFit, LoadEstimator, lognormal_interval

MODEL_TERMS: dict[int, tuple[str, ...]] = {
    1: ("lnQ",),
    2: ("lnQ", "lnQ2"),
    3: ("lnQ", "dtime"),
    4: ("lnQ", "sin", "cos"),
    5: ("lnQ", "lnQ2", "dtime"),
    6: ("lnQ", "lnQ2", "sin", "cos"),
    7: ("lnQ", "sin", "cos", "dtime"),
    8: ("lnQ", "lnQ2", "sin", "cos", "dtime"),
    9: ("lnQ", "lnQ2", "sin", "cos", "dtime", "dtime2"),
}
_BASE_TERMS = {"lnQ", "lnQ2", "sin", "cos", "dtime", "dtime2"}


#: Largest |ln load| evaluated (MLE, smearing): exp of 700 is near float64's limit (709).
_MAX_LN_LOAD = 700.0


def _columns(terms, lnq, dt, extras: dict[str, np.ndarray], extra_log: bool) -> np.ndarray:
    cols = [np.ones_like(lnq)]
    for t in terms:
        if t == "lnQ":
            cols.append(lnq)
        elif t == "lnQ2":
            cols.append(lnq**2)
        elif t == "sin":
            cols.append(np.sin(2 * np.pi * dt))
        elif t == "cos":
            cols.append(np.cos(2 * np.pi * dt))
        elif t == "dtime":
            cols.append(dt)
        elif t == "dtime2":
            cols.append(dt**2)
        else:
            v = np.asarray(extras[t], dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                cols.append(np.log(v) if extra_log else v)
    return np.column_stack(cols)


@dataclass
class LoadestFit:
    """A calibrated LOADEST model; evaluate loads at any instants with :meth:`period`.

    Attributes
    ----------
    model : int
        Model number (1-9, or 99 for user terms).
    terms : tuple of str
        Regressors after the intercept.
    fit : CensoredFit
        The AMLE/MLE regression of ln load [ln(kg d⁻¹)].
    q_center, t_center : float
        Centres of ln Q [ln(m³ s⁻¹)] and decimal time [yr].
    """

    model: int
    terms: tuple[str, ...]
    fit: CensoredFit
    q_center: float
    t_center: float
    extra_log: bool
    method: str
    bias_correction: str
    candidates: dict[int, dict[str, float]] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    calibration: pd.DataFrame | None = None

    def __post_init__(self):
        self._estimator = LoadEstimator(self.fit)

    @property
    def coefficients(self) -> np.ndarray:
        """Coefficients used for prediction (AMLE or MLE)."""
        return self.fit.coef_amle if self.method == "amle" else self.fit.coef_mle

    def design(self, dectime, q_m3s, extras: dict | None = None) -> np.ndarray:
        """Design matrix for instants at decimal times ``dectime`` with discharge ``q_m3s``."""
        q = np.asarray(q_m3s, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            lnq = np.log(q) - self.q_center
        dt = np.asarray(dectime, dtype=float) - self.t_center
        need = [t for t in self.terms if t not in _BASE_TERMS]
        extras = extras or {}
        missing = [t for t in need if t not in extras]
        if missing:
            raise MissingColumnError(f"values of the regressor(s) {missing} are needed.")
        return _columns(self.terms, lnq, dt, extras, self.extra_log)

    def _smear(self) -> float:
        return float(self.diagnostics.get("smearing_factor", np.nan))

    def computable(self, X: np.ndarray) -> np.ndarray:
        """True for the design rows the model can be evaluated at: finite, and (AMLE) not so
        far outside the calibration data that its series overflows, or (MLE, smearing)
        its exp(x b) does; elsewhere loads and errors are NaN."""
        ok = np.all(np.isfinite(X), axis=1)
        if self.bias_correction == "amle" and self.method == "amle":
            ok[ok] = self._estimator.evaluable(X[ok])
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                ok[ok] = np.abs(X[ok] @ self.coefficients) < _MAX_LN_LOAD
        return ok

    def loads(self, X: np.ndarray) -> np.ndarray:
        """Load estimates [kg d⁻¹] at design rows ``X`` (NaN rows give NaN)."""
        ok = self.computable(X)
        out = np.full(X.shape[0], np.nan)
        if not ok.any():
            return out
        if self.bias_correction == "smearing":
            out[ok] = np.exp(X[ok] @ self.coefficients) * self._smear()
        elif self.method == "mle":
            out[ok] = np.exp(X[ok] @ self.fit.coef_mle + 0.5 * self.fit.s2_mle)
        else:
            out[ok] = self._estimator.loads(X[ok])
        return out

    def daily_errors(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-instant standard error and SEP of the load [kg d⁻¹]."""
        ok = self.computable(X)
        se = np.full(X.shape[0], np.nan)
        sep = np.full(X.shape[0], np.nan)
        if ok.any():
            if self.method == "amle" and self.bias_correction == "amle":
                var, sepv = self._estimator.daily_variance(X[ok])
            else:
                var, sepv = self._delta_variance(X[ok], pairwise=False)
            se[ok] = np.sqrt(np.maximum(var, 0.0))
            sep[ok] = np.sqrt(np.maximum(sepv, 0.0))
        return se, sep

    def _delta_variance(self, X, *, pairwise: bool):
        loads = self.loads(X)
        cov = self.fit.cov_amle if self.method == "amle" else \
            self.fit.s2_mle * self.fit.cv[: self.fit.p, : self.fit.p]
        s2 = self.fit.s2_amle if self.method == "amle" else self.fit.s2_mle
        if pairwise:
            g = X.T @ loads
            var = float(g @ cov @ g)
            return var, var + float(np.sum(loads**2) * np.expm1(s2))
        var = loads**2 * np.einsum("ij,jk,ik->i", X, cov, X)
        return var, var + loads**2 * np.expm1(s2)

    def period(self, X: np.ndarray, *, exact_max: int = 20000) -> dict[str, float]:
        """Mean load over the valid rows of ``X`` with SE, SEP and the 95 % interval.

        Returns a dict with ``n``, ``mean``, ``se``, ``sep``, ``lo95``, ``hi95``
        [kg d⁻¹] (mean daily load when rows are days).
        """
        ok = self.computable(X)
        Xo = X[ok]
        n = int(Xo.shape[0])
        if n == 0:
            return {"n": 0, "mean": np.nan, "se": np.nan, "sep": np.nan,
                    "lo95": np.nan, "hi95": np.nan}
        if self.method == "amle" and self.bias_correction == "amle":
            mom = self._estimator.moments(Xo, exact=n <= exact_max)
            total, var, sepv = mom.total, mom.variance, mom.sep_variance
        else:
            total = float(np.nansum(self.loads(Xo)))
            var, sepv = self._delta_variance(Xo, pairwise=True)
        mean = total / n
        se = np.sqrt(max(var, 0.0)) / n
        sep = np.sqrt(max(sepv, 0.0)) / n
        lo, hi = lognormal_interval(mean, sep)
        return {"n": n, "mean": mean, "se": se, "sep": sep, "lo95": float(lo),
                "hi95": float(hi)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable description (coefficients, statistics, settings)."""
        names = ["a0"] + [f"a{i + 1}" for i in range(len(self.terms))]
        f = self.fit
        return {
            "model": self.model,
            "terms": ["intercept", *self.terms],
            "equation": "ln(L [kg/d]) = " + " + ".join(
                f"{n}*{t}" if t != "intercept" else n
                for n, t in zip(names, ["intercept", *self.terms], strict=True)),
            "coefficients_amle": dict(zip(names, map(float, f.coef_amle), strict=True)),
            "coefficients_mle": dict(zip(names, map(float, f.coef_mle), strict=True)),
            "coefficient_std_dev": dict(zip(names, map(float, f.coef_se), strict=True)),
            "residual_variance_amle": float(f.s2_amle),
            "residual_variance_mle": float(f.s2_mle),
            "center_ln_q_m3s": self.q_center,
            "center_decimal_time": self.t_center,
            "extra_regressors_log": self.extra_log,
            "estimation": self.method,
            "bias_correction": self.bias_correction,
            "n_samples": f.n,
            "n_censored": f.n_censored,
            "candidates": {str(k): v for k, v in self.candidates.items()},
            **self.diagnostics,
        }
