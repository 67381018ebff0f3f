"""Rating-curve (C-Q power law) flux: ``C = a Q^b`` fitted in log space.

``ln C = ln a + b ln Q + e`` is fitted by least squares (Tobit maximum
likelihood when values are censored); daily concentration is the
back-transformed prediction times a bias correction — ``exp(s²/2)`` for
lognormal residuals (default) or Duan's smearing factor ``mean(exp(e))``
(uncensored data only: with censored values it is refused).
``b`` near 0 means chemostatic behaviour, the usual karst HCO₃⁻ case
(concentration nearly independent of discharge, so the flux follows discharge);
``b = -1`` is pure dilution.

Errors: the prediction variance of ln C combines the coefficient covariance
and the residual variance; period intervals use the delta method (coefficient
errors correlated between days, residuals independent) and a lognormal
interval with that standard error, as LOADEST does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ..exceptions import DataError
from ..units import KG_DAY_PER_M3S_MG_L
from ._amle import fit_amle, lognormal_interval
from ._base import PERIOD_COLUMNS, FluxEstimate
from ._common import (
    calibration_pairs,
    check_daily,
    empty_daily,
    has_flag,
    require_samples,
    warn_extrapolated,
)

__all__ = ["estimate_rating", "fit_rating"]


class _RatingEstimate(FluxEstimate):
    def period_stats(self, labels) -> pd.DataFrame:
        cov = np.asarray(self.model["_cov"])
        s2 = float(self.model["residual_variance_ln"])
        q = self.daily["discharge_m3s"].to_numpy(dtype=float)
        flux = self.daily["flux_kg_day"].to_numpy(dtype=float)
        with np.errstate(divide="ignore"):
            X = np.column_stack([np.ones_like(q), np.log(q)])
        labels = pd.Series(np.asarray(labels, dtype=object), index=self.daily.index)
        rows = {}
        for label, idx in labels.groupby(labels, sort=True).indices.items():
            n = len(idx)
            f = flux[idx]
            ok = q[idx] > 0
            g = X[idx][ok].T @ f[ok]
            var = float(g @ cov @ g) + float(np.sum(f**2) * np.expm1(s2))
            mean = float(f.mean())
            sep = np.sqrt(var) / n
            lo, hi = lognormal_interval(mean, sep)
            rows[label] = (mean, sep, float(lo), float(hi))
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(PERIOD_COLUMNS))


def fit_rating(q_m3s: ArrayLike, conc_mg_L: ArrayLike, censored: ArrayLike | None = None, *,
               bias_correction: str = "exp_s2") -> dict:
    """Fit ``C = a Q^b`` in log space.

    Parameters
    ----------
    q_m3s : array_like
        Discharge at sampling [m³ s⁻¹] (> 0).
    conc_mg_L : array_like
        Concentration [mg L⁻¹] (reporting limit for censored values).
    censored : array_like of bool, optional
        Censored (below-limit) values; fitted by Tobit MLE.
    bias_correction : {"exp_s2", "smearing", "none"}
        Back-transformation factor; ``"smearing"`` (Duan) needs uncensored data.

    Returns
    -------
    dict
        ``a`` [mg L⁻¹ (m³ s⁻¹)^-b] (bias-corrected prefactor is ``a * cf``),
        ``b``, ``b_se``, ``r_squared``, ``residual_se_ln``, ``cf``,
        ``residuals`` (ln units) and ``_cov`` (covariance of (ln a, b)).

    Raises
    ------
    DataError
        Fewer than 3 uncensored samples, or ``"smearing"`` with censored values.
    """
    if bias_correction not in ("exp_s2", "smearing", "none"):
        raise DataError(
            f"bias_correction must be 'exp_s2', 'smearing' or 'none', got {bias_correction!r}.")
    q = np.asarray(q_m3s, dtype=float)
    c = np.asarray(conc_mg_L, dtype=float)
    cens = np.zeros(len(c), bool) if censored is None else np.asarray(censored, bool)
    ok = np.isfinite(q) & (q > 0) & np.isfinite(c) & (c > 0)
    q, c, cens = q[ok], c[ok], cens[ok]
    if (~cens).sum() < 3:
        raise DataError(f"The rating curve needs at least 3 uncensored samples; got "
                        f"{int((~cens).sum())}.")
    if bias_correction == "smearing" and cens.any():
        raise DataError(f"Duan smearing needs uncensored data ({int(cens.sum())} of {len(c)} "
                        "samples are censored, and the factor of the uncensored residuals alone "
                        "is biased high); use bias_correction='exp_s2' (the default).")
    X = np.column_stack([np.ones(len(q)), np.log(q)])
    y = np.log(c)
    fit = fit_amle(X, y, cens)
    if cens.any():
        beta, s2 = fit.coef_mle, fit.s2_mle
        method = "Tobit maximum likelihood (censored values)"
        cov = s2 * fit.cv[:2, :2]
    else:
        beta, s2 = fit.coef_amle, fit.s2_amle  # OLS, s2 = SSE/(n-2)
        method = "ordinary least squares on ln C"
        cov = s2 * np.linalg.inv(X.T @ X)
    resid = y - X @ beta
    yhat = X @ beta
    r2 = float(np.var(yhat) / (np.var(yhat) + (fit.s2_mle)))
    if bias_correction == "exp_s2":
        cf = float(np.exp(s2 / 2.0))
    elif bias_correction == "smearing":
        cf = float(np.mean(np.exp(resid[~cens])))
    else:
        cf = 1.0
    return {
        "a": float(np.exp(beta[0])), "b": float(beta[1]),
        "ln_a_se": float(np.sqrt(cov[0, 0])), "b_se": float(np.sqrt(cov[1, 1])),
        "r_squared": r2, "residual_se_ln": float(np.sqrt(s2)), "residual_variance_ln": float(s2),
        "bias_correction": bias_correction, "cf": cf, "fit_method": method,
        "n_samples": len(c), "n_censored": int(cens.sum()),
        "residuals": resid, "fitted_mg_L": np.exp(yhat) * cf, "_cov": cov, "_mask": ok,
    }


def estimate_rating(
    discharge: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    bias_correction: str = "exp_s2",
) -> FluxEstimate:
    """Daily flux from a C-Q power-law rating curve.

    Parameters
    ----------
    discharge : pandas.DataFrame
        Daily table from :func:`karstsink.hydrology.read_discharge`.
    samples : pandas.DataFrame
        From :func:`karstsink.flux.samples.read_flux_samples`.
    bias_correction : {"exp_s2", "smearing", "none"}, default "exp_s2"
        Back-transformation: ``exp(s²/2)`` (lognormal), Duan smearing (uncensored
        data only), or none.

    Returns
    -------
    FluxEstimate
        ``model`` holds ``a``, ``b`` (b ≈ 0: chemostatic), ``r_squared``,
        ``residual_se_ln``, the bias-correction factor ``cf`` and
        ``n_samples_zero_discharge``.

    Warns
    -----
    DataQualityWarning
        Samples on zero-discharge days (ln Q undefined) or with a concentration
        <= 0 are flagged (``zero_discharge``, ``nonpositive_value``) and left out
        of the fit.  On a zero-discharge day the flux and its error are 0 and
        the concentration is NaN.
    """
    daily = check_daily(discharge)
    pairs = calibration_pairs(daily, samples, method="the rating-curve fit")
    require_samples(pairs, 3, "The rating curve", uncensored=True)
    use = pairs["used"].to_numpy()
    cal = pairs.loc[use]
    fit = fit_rating(cal["discharge_m3s"], cal["conc_mg_L"], cal["censored"].astype(bool),
                     bias_correction=bias_correction)
    q = daily["discharge_m3s"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lnq = np.log(q)
        conc = fit["a"] * fit["cf"] * np.exp(fit["b"] * lnq)
    conc = np.where(q > 0, conc, np.nan)
    X = np.column_stack([np.ones_like(q), lnq])
    with np.errstate(invalid="ignore"):
        var_ln = np.einsum("ij,jk,ik->i", X, fit["_cov"], X) + fit["residual_variance_ln"]
    out = empty_daily(daily)
    out["conc_mg_L"] = conc
    flux = q * conc * KG_DAY_PER_M3S_MG_L
    flux = np.where(q == 0, 0.0, flux)
    out["flux_kg_day"] = flux
    zero = q == 0  # no water, no load: flux, error and interval exactly 0
    with np.errstate(invalid="ignore"):
        se = np.where(zero, 0.0, flux * np.sqrt(np.expm1(var_ln)))
    out["flux_se_kg_day"] = se
    lo, hi = lognormal_interval(flux, se)
    lo[zero] = hi[zero] = 0.0
    out["flux_lo95_kg_day"] = lo
    out["flux_hi95_kg_day"] = hi
    warn, beyond = warn_extrapolated("rating curve", q, flux, float(cal["discharge_m3s"].max()))
    smp = pairs[["date", "discharge_m3s", "conc_mg_L", "censored", "used", "in_record",
                 "qa_flags"]].copy()
    smp["fitted_mg_L"] = np.nan
    smp["residual"] = np.nan
    pos = np.flatnonzero(use)[fit["_mask"]]
    smp.iloc[pos, smp.columns.get_loc("fitted_mg_L")] = fit["fitted_mg_L"]
    smp.iloc[pos, smp.columns.get_loc("residual")] = fit["residuals"]
    model = {"method": "rating", "equation": "C [mg/L] = cf * a * Q[m3/s]^b",
             **{k: v for k, v in fit.items() if k not in ("residuals", "fitted_mg_L", "_mask")},
             "chemostatic": bool(abs(fit["b"]) < 0.1),
             "n_samples_zero_discharge": int(has_flag(pairs, "zero_discharge").sum()),
             "residual_units": "ln(C), observed - fitted", "warnings": warn,
             "extrapolation": beyond}
    return _RatingEstimate(method="rating", daily=out, samples=smp, model=model)
