"""LOADEST-style load regression: models 1-9 and user models, AMLE/MLE, exact SEP intervals.

The log of the load is regressed on centred ln Q, centred decimal time and
seasonal terms (Runkel, Crawford & Cohn 2004, table 7):

=====  ==============================================================
model  ln L =
=====  ==============================================================
1      a0 + a1 lnQ
2      a0 + a1 lnQ + a2 lnQ²
3      a0 + a1 lnQ + a2 dtime
4      a0 + a1 lnQ + a2 sin(2π dtime) + a3 cos(2π dtime)
5      a0 + a1 lnQ + a2 lnQ² + a3 dtime
6      a0 + a1 lnQ + a2 lnQ² + a3 sin(2π dtime) + a4 cos(2π dtime)
7      a0 + a1 lnQ + a2 sin(2π dtime) + a3 cos(2π dtime) + a4 dtime
8      a0 + a1 lnQ + a2 lnQ² + a3 sin + a4 cos + a5 dtime
9      a0 + a1 lnQ + a2 lnQ² + a3 sin + a4 cos + a5 dtime + a6 dtime²
99     user terms, e.g. lnQ plus ln(specific conductance) (LOADEST app 5)
=====  ==============================================================

with ``lnQ = ln Q - centre`` and ``dtime = decimal time - centre``, both
centred as LOADEST does (:func:`~karstsink.flux._common.loadest_center`); as
in LOADEST the seasonal terms use the *centred* time.  Model 0 picks the
model 1-9 with the lowest AIC.  Loads are in kg d⁻¹ (``C [mg L⁻¹] x Q [m³ s⁻¹]
x 86.4``).  Coefficients are estimated by AMLE (equal to MVUE/OLS when nothing
is censored) or MLE; loads by the AMLE load estimator with the exact variance
of sums over any period, the standard error of prediction (SEP) and a 95 %
interval from a two-parameter lognormal with that mean and SEP — the numbers
LOADEST prints (reproduced for its applications 1, 3, 5 and 7 in the tests).

References
----------
.. [1] R. L. Runkel, C. G. Crawford and T. A. Cohn, "Load Estimator (LOADEST):
   A FORTRAN program for estimating constituent loads in streams and rivers",
   USGS Techniques and Methods 4-A5, 2004.
.. [2] T. A. Cohn, D. L. Caulder, E. J. Gilroy, L. D. Zynjuk and R. M. Summers,
   "The validity of a simple statistical model for estimating fluvial
   constituent loads: an empirical study involving nutrient loads entering
   Chesapeake Bay", Water Resour. Res. 28(9):2353-2363, 1992 (centring).
.. [3] N. Duan, "Smearing estimate: a nonparametric retransformation method",
   J. Am. Stat. Assoc. 78(383):605-610, 1983.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special, stats

from .. import qa
from ..exceptions import DataError, DataQualityWarning, MissingColumnError
from ..units import KG_DAY_PER_M3S_MG_L
from ._amle import CensoredFit, fit_amle, lognormal_interval
from ._base import PERIOD_COLUMNS, FluxEstimate
from ._common import (
    calibration_pairs,
    check_daily,
    decimal_time,
    empty_daily,
    has_flag,
    loadest_center,
    require_samples,
    warn_days_without,
    warn_extrapolated,
)
from ._loadest_model import _BASE_TERMS, MODEL_TERMS, LoadestFit, _columns

__all__ = ["MODEL_TERMS", "LoadestFit", "estimate_loadest", "fit_loadest"]


def _loglik(X, y, cens, beta, s2) -> float:
    s = np.sqrt(s2)
    z = (y - X @ beta) / s
    return float(np.sum(-0.5 * np.log(2 * np.pi * s2) - 0.5 * z[~cens] ** 2)
                 + np.sum(special.log_ndtr(z[cens])))


def _thresholds(y: np.ndarray, cens: np.ndarray, conc: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Censoring threshold in force for every calibration sample (log-load units).

    LOADEST's convention, which reproduces its AMLE coefficients exactly: the
    reporting limit of the most recent censored sample (the first one before
    it) applies to each uncensored sample.
    """
    if not cens.any():
        return np.where(cens, y, -np.inf)
    dl = pd.Series(np.where(cens, conc, np.nan)).ffill().bfill().to_numpy()
    return np.where(cens, y, np.log(dl * q * KG_DAY_PER_M3S_MG_L))


def _fit_terms(terms, X, y, cens, thr) -> tuple[CensoredFit, float, float, float]:
    fit = fit_amle(X, y, cens, thr)
    n, p = X.shape
    ll = _loglik(X, y, cens, fit.coef_amle, fit.s2_amle)
    aic = (-2.0 * ll + 2.0 * p) / n  # LOADEST's AIC (per observation, AMLE likelihood)
    sppc = ll - 0.5 * p * np.log(n)  # LOADEST's SPPC (Schwarz criterion)
    return fit, ll, aic, sppc


def fit_loadest(
    dectime: ArrayLike,
    q_m3s: ArrayLike,
    conc_mg_L: ArrayLike,
    censored: ArrayLike | None = None,
    *,
    model: int = 0,
    terms: tuple[str, ...] | None = None,
    extras: dict[str, ArrayLike] | None = None,
    extra_log: bool = True,
    estimator: str = "amle",
    bias_correction: str = "amle",
) -> LoadestFit:
    """Calibrate a LOADEST load-regression model on samples.

    Parameters
    ----------
    dectime : array_like
        Decimal times of the samples [yr] (:func:`~karstsink.flux._common.decimal_time`).
    q_m3s : array_like
        Discharge at sampling [m³ s⁻¹] (> 0).
    conc_mg_L : array_like
        Concentration [mg L⁻¹]; for a censored sample its reporting limit.
    censored : array_like of bool, optional
        True for values below the reporting limit.
    model : int, default 0
        1-9 (table in the module docstring), 99 for ``terms``, 0 to choose
        among 1-9 by AIC.
    terms : tuple of str, optional
        For model 99: any of ``lnQ, lnQ2, sin, cos, dtime, dtime2`` and names in
        ``extras`` (default ``("lnQ", *extras)``).
    extras : dict of str to array_like, optional
        Extra regressors at the samples (e.g. specific conductance [µS cm⁻¹]).
    extra_log : bool, default True
        Use ln(extra) (LOADEST's ``LN`` transform; uncentred).
    estimator : {"amle", "mle"}
        Coefficient estimator.  AMLE equals MVUE (OLS with the unbiased
        variance) when nothing is censored.
    bias_correction : {"amle", "smearing"}
        Retransformation: the AMLE/MVUE estimator (default) or Duan's smearing
        factor (uncensored data only).

    Returns
    -------
    LoadestFit
    """
    if estimator not in ("amle", "mle"):
        raise DataError(f"estimator must be 'amle' or 'mle', got {estimator!r}.")
    if bias_correction not in ("amle", "smearing"):
        raise DataError(f"bias_correction must be 'amle' or 'smearing', got {bias_correction!r}.")
    t = np.asarray(dectime, dtype=float)
    q = np.asarray(q_m3s, dtype=float)
    c = np.asarray(conc_mg_L, dtype=float)
    cens = np.zeros(len(c), bool) if censored is None else np.asarray(censored, bool)
    xs: dict[str, np.ndarray] = {k: np.asarray(v, dtype=float) for k, v in (extras or {}).items()}
    ok = np.isfinite(t) & np.isfinite(q) & (q > 0) & np.isfinite(c) & (c > 0)
    for v in xs.values():
        ok &= np.isfinite(v) & ((v > 0) if extra_log else True)
    t, q, c, cens = t[ok], q[ok], c[ok], cens[ok]
    xs = {k: v[ok] for k, v in xs.items()}
    if len(c) < 3:
        raise DataError(f"LOADEST needs at least 3 usable samples; got {len(c)}.")
    if bias_correction == "smearing" and cens.any():
        raise DataError("Duan smearing needs uncensored data; use bias_correction='amle'.")
    q_center = loadest_center(np.log(q))
    t_center = loadest_center(t)
    lnq = np.log(q) - q_center
    dt = t - t_center
    y = np.log(c * q * KG_DAY_PER_M3S_MG_L)
    thr = _thresholds(y, cens, c, q)

    if model == 0:
        candidates = {}
        best = None
        for m, mterms in MODEL_TERMS.items():
            X = _columns(mterms, lnq, dt, xs, extra_log)
            if (~cens).sum() < X.shape[1] + 1:
                continue
            try:
                fit, ll, aic, sppc = _fit_terms(mterms, X, y, cens, thr)
            except (DataError, np.linalg.LinAlgError):
                continue
            candidates[m] = {"aic": aic, "sppc": sppc, "loglik": ll}
            if best is None or aic < candidates[best[0]]["aic"]:
                best = (m, mterms, fit, ll, aic, sppc, X)
        if best is None:
            raise DataError("No LOADEST model 1-9 could be fitted to these samples (too few "
                            "uncensored values, or discharge that does not vary).")
        model_no, terms_used, fit, ll, aic, sppc, X = best
    else:
        if model == 99:
            terms_used = tuple(terms) if terms else ("lnQ", *xs)
            unknown = [x for x in terms_used if x not in _BASE_TERMS and x not in xs]
            if unknown:
                raise DataError(f"model 99 terms {unknown} are neither built-in terms "
                                f"({sorted(_BASE_TERMS)}) nor given extras.")
        elif model in MODEL_TERMS:
            terms_used = MODEL_TERMS[model] + tuple(terms or ())
        else:
            raise DataError(f"model must be 0, 1-9 or 99, got {model!r}.")
        X = _columns(terms_used, lnq, dt, xs, extra_log)
        if (~cens).sum() < X.shape[1] + 1:
            raise DataError(
                f"LOADEST model {model} has {X.shape[1]} coefficients but only "
                f"{int((~cens).sum())} uncensored samples; choose a simpler model.")
        fit, ll, aic, sppc = _fit_terms(terms_used, X, y, cens, thr)
        model_no = model
        candidates = {model: {"aic": aic, "sppc": sppc, "loglik": ll}}

    beta = fit.coef_amle if estimator == "amle" else fit.coef_mle
    resid = y - X @ beta
    diag: dict[str, Any] = {"aic": aic, "sppc": sppc, "loglik": ll}
    # McKelvey-Zavoina pseudo-R^2 var(yhat)/(var(yhat) + s^2) at the MLE: the OLS R^2
    # without censoring (LOADEST's printed value, apps 1 and 5), within ~0.2 points of
    # LOADEST's with censoring (apps 3 and 7)
    yhat_mle = X @ fit.coef_mle
    diag["r_squared_pct"] = float(100.0 * np.var(yhat_mle) / (np.var(yhat_mle) + fit.s2_mle))
    unc = ~cens
    if bias_correction == "smearing":
        diag["smearing_factor"] = float(np.mean(np.exp(resid[unc])))
    r = np.where(unc, resid, np.nan)
    diag["serial_correlation"] = float(pd.Series(r).autocorr()) if unc.sum() > 2 else None
    diag["ppcc"] = float(stats.pearsonr(np.sort(resid[unc]),
                                        stats.norm.ppf((np.arange(1, unc.sum() + 1) - 0.375)
                                                       / (unc.sum() + 0.25)))[0]) \
        if unc.sum() > 2 else None
    diag["b_chemostatic"] = float(beta[1] - 1.0) if terms_used and terms_used[0] == "lnQ" \
        else None
    calib = pd.DataFrame({"dectime": t, "discharge_m3s": q, "conc_mg_L": c, "censored": cens,
                          "ln_load": y, "residual": resid})
    for k, v in xs.items():
        calib[k] = v
    out = LoadestFit(model=int(model_no), terms=tuple(terms_used), fit=fit, q_center=q_center,
                     t_center=t_center, extra_log=extra_log, method=estimator,
                     bias_correction=bias_correction, candidates=candidates, diagnostics=diag,
                     calibration=calib)
    # LOADEST's calibration bias diagnostics (censored values at half the limit)
    est_load = out.loads(X)
    obs_load = np.where(cens, 0.5, 1.0) * c * q * KG_DAY_PER_M3S_MG_L
    diag["load_bias_pct"] = float(100.0 * (est_load.sum() - obs_load.sum()) / obs_load.sum())
    diag["nash_sutcliffe"] = float(1.0 - np.sum((est_load - obs_load) ** 2)
                                   / np.sum((obs_load - obs_load.mean()) ** 2))
    calib["fitted_load_kg_day"] = est_load
    calib["fitted_mg_L"] = est_load / (q * KG_DAY_PER_M3S_MG_L)
    diag["max_calibration_q_m3s"] = float(q.max())
    return out


def _usable_regressor(values, extra_log: bool) -> np.ndarray:
    """True where an extra regressor's value can enter the model: finite (and > 0 for a
    log term)."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(v) & ((v > 0) if extra_log else True)


class LoadestEstimate(FluxEstimate):
    """FluxEstimate whose period statistics use LOADEST's exact load variance."""

    def period_stats(self, labels) -> pd.DataFrame:
        """Mean daily flux, its SEP and LOADEST's lognormal 95 % interval per group of days."""
        fitobj: LoadestFit = self.model["_fit"]
        X: np.ndarray = self.model["_design"]
        zero = (self.daily["discharge_m3s"] == 0).to_numpy()
        labels = pd.Series(np.asarray(labels, dtype=object), index=self.daily.index)
        rows = {}
        for label, idx in labels.groupby(labels, sort=True).indices.items():
            st = fitobj.period(X[idx[~zero[idx]]])
            # zero-flow days carry zero load (and no error): they dilute the period mean
            n_all = st["n"] + int(zero[idx].sum())
            k = st["n"] / n_all if st["n"] else 0.0
            rows[label] = (st["mean"] * k, st["sep"] * k, st["lo95"] * k, st["hi95"] * k)
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(PERIOD_COLUMNS))


def estimate_loadest(
    discharge: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    model: int = 0,
    terms: tuple[str, ...] | None = None,
    extra_regressors: list[str] | None = None,
    extra_log: bool = True,
    estimator: str = "amle",
    bias_correction: str = "amle",
) -> FluxEstimate:
    """Daily loads from a LOADEST regression calibrated on the samples.

    Parameters
    ----------
    discharge : pandas.DataFrame
        Daily table from :func:`karstsink.hydrology.read_discharge`
        (``discharge_m3s`` [m³ s⁻¹]; NaN days give NaN flux).  Extra
        regressors must be columns of it too (daily means).
    samples : pandas.DataFrame
        From :func:`karstsink.flux.samples.read_flux_samples` (``date``,
        ``conc_mg_L`` [mg L⁻¹], ``censored``); extra regressors as columns.
    model, terms, extra_log, estimator, bias_correction
        See :func:`fit_loadest`.
    extra_regressors : list of str, optional
        Column names of extra regressors (model 99 by default when given);
        daily values from ``discharge``, values at sampling from a same-named
        column of ``samples`` or else the day's value.

    Returns
    -------
    FluxEstimate
        ``daily`` with ``discharge_m3s``, ``conc_mg_L``, ``flux_kg_day``,
        ``flux_se_kg_day`` (SEP), ``flux_lo95_kg_day``, ``flux_hi95_kg_day``;
        ``period_stats`` gives LOADEST's mean load, SEP and interval for any
        grouping of days.

    Warns
    -----
    DataQualityWarning
        When estimation discharge exceeds the calibration maximum
        (extrapolation), as LOADEST warns; when samples fall on zero-discharge
        days (ln Q undefined: flagged ``zero_discharge``, left out of the fit and
        counted in ``model["n_samples_zero_discharge"]``).

    Notes
    -----
    On a day of zero discharge the load, its SEP and its interval are 0 and the
    concentration is NaN (no water flows).
    """
    daily = check_daily(discharge)
    pairs = calibration_pairs(daily, samples, method="the LOADEST fit")
    use = pairs["used"].to_numpy()
    extras_names = list(extra_regressors or [])
    for name in extras_names:
        if name not in daily.columns:
            raise MissingColumnError(
                f"extra regressor {name!r} must be a column of the discharge table (daily "
                "values; read it with read_discharge(extra_columns=[...])).")
        if name not in pairs.columns:  # value at sampling: the day's mean
            pairs[name] = daily[name].reindex(pd.DatetimeIndex(pairs["date"])).to_numpy()
        good = _usable_regressor(pd.to_numeric(pairs[name], errors="coerce"), extra_log)
        bad = pairs["used"].to_numpy() & ~good
        if bad.any():
            pairs.loc[bad, "qa_flags"] = (pairs.loc[bad, "qa_flags"].astype(str)
                                          + f";no_value:{name}").str.lstrip(";")
        pairs["used"] = pairs["used"].to_numpy() & good
    use = pairs["used"].to_numpy()
    if extras_names and model == 0:
        model = 99
    require_samples(pairs, 3, "LOADEST")
    cal = pairs.loc[use]
    fitobj = fit_loadest(
        decimal_time(cal["date"], hour=12.0), cal["discharge_m3s"], cal["conc_mg_L"],
        cal["censored"].astype(bool),
        model=model, terms=terms,
        extras={k: pd.to_numeric(cal[k], errors="coerce") for k in extras_names},
        extra_log=extra_log, estimator=estimator, bias_correction=bias_correction,
    )
    q = daily["discharge_m3s"].to_numpy(dtype=float)
    X = fitobj.design(decimal_time(daily.index, hour=12.0), q,
                      {k: daily[k].to_numpy(dtype=float) for k in extras_names})
    loads = fitobj.loads(X)
    zero = q == 0
    loads[zero] = 0.0
    _se, sep = fitobj.daily_errors(X)
    sep[zero] = 0.0
    lo, hi = lognormal_interval(loads, sep)
    lo[zero] = hi[zero] = 0.0  # no water, no load: exactly 0
    out = empty_daily(daily)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["conc_mg_L"] = np.where(q > 0, loads / (q * KG_DAY_PER_M3S_MG_L), np.nan)
    out["flux_kg_day"] = loads
    out["flux_se_kg_day"] = sep
    out["flux_lo95_kg_day"] = lo
    out["flux_hi95_kg_day"] = hi
    # a day the model cannot be evaluated at (a discharge of 1e-300 or 1e20 m3/s): NaN and
    # flagged, the other days untouched
    # (fitobj.loads is NaN exactly where the row is not computable or not finite)
    lost = np.all(np.isfinite(X), axis=1) & ~zero & ~np.isfinite(loads)
    flags = np.full(len(out), "", dtype=object)
    qa.add_flag(flags, lost, "load_not_computable")
    for name in extras_names:  # a day with discharge but no usable regressor: no flux
        no_x = np.isfinite(q) & ~zero & ~_usable_regressor(daily[name], extra_log)
        warn_days_without(flags, no_x, name, daily.index, "LOADEST")
    out["qa_flags"] = flags
    if lost.any():
        days = ", ".join(f"{d:%Y-%m-%d} ({v:g} m3/s)" for d, v in
                         zip(daily.index[lost][:3], q[lost][:3], strict=True))
        warnings.warn(f"LOADEST: {int(lost.sum())} day(s) lie so far outside the calibration "
                      f"samples that the model cannot be evaluated there: {days}"
                      f"{' ...' if lost.sum() > 3 else ''}. Their flux is NaN (flagged "
                      "load_not_computable) and they count as missing; check those discharge "
                      "readings.", DataQualityWarning, stacklevel=2)

    warn, beyond = warn_extrapolated("LOADEST", q, loads,
                                     fitobj.diagnostics["max_calibration_q_m3s"])
    smp = pairs[["date", "discharge_m3s", "conc_mg_L", "censored", "used", "in_record",
                 "qa_flags"]].copy()
    smp["fitted_mg_L"] = np.nan
    smp["residual"] = np.nan
    assert fitobj.calibration is not None  # fit_loadest always records its calibration
    smp.loc[use, "fitted_mg_L"] = fitobj.calibration["fitted_mg_L"].to_numpy()
    smp.loc[use, "residual"] = fitobj.calibration["residual"].to_numpy()
    model_info = {"method": "loadest", **fitobj.as_dict(), "warnings": warn,
                  "extrapolation": beyond,
                  "n_samples_zero_discharge": int(has_flag(pairs, "zero_discharge").sum()),
                  "residual_units": "ln(load), observed - fitted",
                  "_fit": fitobj, "_design": X}
    return LoadestEstimate(method="loadest", daily=out, samples=smp, model=model_info)
