"""Direct flux: daily discharge x concentration interpolated in time or predicted from a proxy.

Two ways to get a daily concentration:

* **interpolation** (default): linear in time between sampling days (samples
  on the same day are averaged), held flat before the first and after the
  last sample (those days are flagged ``held_flat``);
* **proxy**: a continuous series such as electrical conductivity (EC, a
  column of the discharge table or a separate daily Series) and a linear
  regression ``C = c0 + c1 * proxy`` fitted on the samples — the practice of
  karst monitoring stations with EC loggers, where HCO₃⁻ follows EC closely.

Censored samples enter at half their reporting limit (flagged).  Flux
``F = Q C x 86.4`` [kg d⁻¹] with Q [m³ s⁻¹] and C [mg L⁻¹]
(:data:`karstsink.units.KG_DAY_PER_M3S_MG_L`).

Uncertainty (documented choice)
-------------------------------
Interpolation: concentration is treated as a random walk between samples,
so its error at a day is a Brownian bridge between the two samples around
it, ``var = σ² (t - t0)(t1 - t) / (t1 - t0)``, growing as ``σ² |t - t_end|``
beyond the ends; ``σ²`` [(mg L⁻¹)² d⁻¹] is estimated from successive sample
differences, ``mean((C_k+1 - C_k)² / (t_k+1 - t_k))``.  Period intervals
treat daily errors as fully correlated (conservative).
Proxy: the regression's prediction error; period intervals combine the
coefficient covariance (correlated between days) with independent residuals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..exceptions import DataError, DataQualityWarning, MissingColumnError
from ..io.samples import stand_in_fraction
from ..units import KG_DAY_PER_M3S_MG_L
from ._base import PERIOD_COLUMNS, FluxEstimate
from ._common import (
    Z95,
    calibration_pairs,
    check_daily,
    empty_daily,
    require_samples,
    warn_days_without,
)

__all__ = ["estimate_direct"]


class _ProxyEstimate(FluxEstimate):
    """Direct estimate from a proxy regression: period errors from the regression."""

    def period_stats(self, labels) -> pd.DataFrame:
        cov = np.asarray(self.model["_cov"])
        s2 = float(self.model["residual_variance_mg2_L2"])
        proxy = self.daily["proxy"].to_numpy(dtype=float)
        q = self.daily["discharge_m3s"].to_numpy(dtype=float) * KG_DAY_PER_M3S_MG_L
        flux = self.daily["flux_kg_day"].to_numpy(dtype=float)
        labels = pd.Series(np.asarray(labels, dtype=object), index=self.daily.index)
        rows = {}
        for label, idx in labels.groupby(labels, sort=True).indices.items():
            n = len(idx)
            mean = float(np.mean(flux[idx]))
            g = np.array([q[idx].sum(), (q[idx] * proxy[idx]).sum()]) / n
            var = float(g @ cov @ g) + s2 * float(np.sum(q[idx] ** 2)) / n**2
            se = np.sqrt(var)
            rows[label] = (mean, se, mean - Z95 * se, mean + Z95 * se)
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(PERIOD_COLUMNS))


#: ``censored_at`` of :func:`estimate_direct` (a policy of the sample reader's, whose share
#: of the limit :func:`karstsink.io.samples.stand_in_fraction` gives): the flag its sample
#: rows get and the words of ``model.json``.
CENSORED_AT = {"half": ("half_reporting_limit_used", "half the reporting limit"),
               "limit": ("reporting_limit_used", "the reporting limit")}


def _sample_conc(pairs: pd.DataFrame, fraction: float) -> pd.DataFrame:
    use = pairs["used"].to_numpy()
    s = pairs.loc[use, ["date", "conc_mg_L", "censored"]].copy()
    s["conc_used"] = np.where(s["censored"].astype(bool), fraction * s["conc_mg_L"],
                              s["conc_mg_L"])
    return s


def estimate_direct(
    discharge: pd.DataFrame,
    samples: pd.DataFrame,
    *,
    proxy: str | pd.Series | None = None,
    censored_at: str = "half",
) -> FluxEstimate:
    """Daily flux = Q x C with C interpolated between samples or predicted from a proxy.

    Parameters
    ----------
    discharge : pandas.DataFrame
        Daily table from :func:`karstsink.hydrology.read_discharge` (NaN days
        give NaN flux).
    samples : pandas.DataFrame
        From :func:`karstsink.flux.samples.read_flux_samples`.
    proxy : str or pandas.Series, optional
        Name of a column of ``discharge`` (e.g. ``ec_us_cm``) or a Series on
        dates with the continuous proxy; the concentration is then predicted
        from ``C = c0 + c1 * proxy`` fitted on the samples (the proxy at
        sampling is taken from a same-named column of ``samples`` if present,
        else the day's proxy value).
    censored_at : {"half", "limit"}, default "half"
        What a censored sample (``'<DL'``) enters the interpolation at: half its
        reporting limit, or the limit itself (the sink's acid ions, SO4 and NO3, so
        that their correction is not understated).  The proxy regression leaves
        censored samples out.

    Returns
    -------
    FluxEstimate
        ``daily`` has ``discharge_m3s`` [m³ s⁻¹], ``conc_mg_L`` [mg L⁻¹],
        ``flux_kg_day``, ``flux_se_kg_day`` [kg d⁻¹] and ``qa_flags``.

    Notes
    -----
    The flux is linear in discharge for the interpolation mode (tested).
    """
    if censored_at not in CENSORED_AT:
        raise DataError(f"censored_at must be 'half' or 'limit', got {censored_at!r}")
    censored_flag, censored_words = CENSORED_AT[censored_at]
    daily = check_daily(discharge)
    pairs = calibration_pairs(daily, samples, positive_q=False, method="the direct method")
    require_samples(pairs, 1, "The direct method", fix="check the samples' dates and values")
    s = _sample_conc(pairs, stand_in_fraction(censored_at))
    out = empty_daily(daily)
    q = out["discharge_m3s"].to_numpy(dtype=float)
    day_num = (daily.index - daily.index[0]).days.to_numpy(dtype=float)
    flags = np.array([""] * len(out), dtype=object)
    smp = pairs[["date", "discharge_m3s", "conc_mg_L", "censored", "used", "in_record",
                 "qa_flags"]].copy()
    smp.loc[smp["censored"].astype(bool) & smp["used"], "qa_flags"] = (
        smp.loc[smp["censored"].astype(bool) & smp["used"], "qa_flags"].astype(str)
        + f";{censored_flag}").str.lstrip(";")

    if proxy is None:
        per_day = s.groupby("date")["conc_used"].mean()
        t_s = (per_day.index - daily.index[0]).days.to_numpy(dtype=float)
        c_s = per_day.to_numpy(dtype=float)
        conc = np.interp(day_num, t_s, c_s)
        before, after = day_num < t_s[0], day_num > t_s[-1]
        flags[before | after] = "held_flat"
        if len(t_s) > 1:
            sig2 = float(np.mean(np.diff(c_s) ** 2 / np.diff(t_s)))
        else:  # no step between sampling days to measure how the concentration wanders
            sig2 = float("nan")
            warnings.warn("direct: the samples fall on one day only, so the interpolation "
                          "error (a random walk fitted to the changes between sampling days) "
                          "cannot be estimated: the fluxes have no standard error or 95 % "
                          "interval (NaN). Add samples from other days for intervals.",
                          DataQualityWarning, stacklevel=2)
        var = np.zeros_like(day_num)
        k = np.searchsorted(t_s, day_num, side="right")
        inside = (k > 0) & (k < len(t_s))
        t0 = t_s[np.clip(k - 1, 0, len(t_s) - 1)]
        t1 = t_s[np.clip(k, 0, len(t_s) - 1)]
        with np.errstate(invalid="ignore", divide="ignore"):
            var[inside] = sig2 * (day_num[inside] - t0[inside]) * (t1[inside] - day_num[inside]) \
                / (t1[inside] - t0[inside])
        var[before] = sig2 * (t_s[0] - day_num[before])
        var[after] = sig2 * (day_num[after] - t_s[-1])
        conc_se = np.sqrt(var)
        model = {"method": "direct", "mode": "interpolation",
                 "interpolation": "linear in time, held flat beyond the first/last sample",
                 "random_walk_variance_mg2_L2_per_day": sig2,
                 "n_samples": len(s), "n_sampling_days": len(per_day),
                 "n_censored": int(s["censored"].sum()),
                 "censored_values": censored_words,
                 "n_days_held_flat": int((before | after).sum())}
        smp["fitted_mg_L"] = np.nan
        smp["residual"] = np.nan
        cls = FluxEstimate
    else:
        if isinstance(proxy, str):
            if proxy not in daily.columns:
                raise MissingColumnError(
                    f"proxy column {proxy!r} is not in the discharge table; columns: "
                    f"{', '.join(daily.columns)}.")
            series = daily[proxy]
            name = proxy
        else:
            series = proxy.copy()
            series.index = pd.DatetimeIndex(series.index).normalize()
            name = series.name or "proxy"
        daily_proxy = pd.to_numeric(series, errors="coerce").reindex(daily.index).to_numpy(float)
        if isinstance(proxy, str) and proxy in pairs.columns:
            x_s = pd.to_numeric(pairs.loc[s.index, proxy], errors="coerce").to_numpy(float)
        else:
            x_s = pd.Series(daily_proxy, index=daily.index).reindex(
                pd.DatetimeIndex(s["date"])).to_numpy(float)
        ok = np.isfinite(x_s) & ~s["censored"].to_numpy(bool)
        if ok.sum() < 3:
            raise DataError(f"The {name} proxy regression needs at least 3 uncensored samples "
                            f"with a proxy value; found {int(ok.sum())}.")
        if np.ptp(x_s[ok]) == 0:  # no slope can be fitted (X'X is singular)
            raise DataError(
                f"The {name} proxy regression needs the proxy to vary between the samples; "
                f"it is {x_s[ok][0]:g} on all {int(ok.sum())} sampling days. Leave out --proxy "
                "(the concentrations are then interpolated between the samples).")
        X = np.column_stack([np.ones(ok.sum()), x_s[ok]])
        y = s["conc_used"].to_numpy(float)[ok]
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ beta
        dof = len(y) - 2
        s2 = float(resid @ resid / dof) if dof > 0 else float("nan")
        xtx_inv = np.linalg.inv(X.T @ X)
        cov = s2 * xtx_inv
        conc = beta[0] + beta[1] * daily_proxy
        x0 = np.column_stack([np.ones_like(daily_proxy), daily_proxy])
        conc_se = np.sqrt(s2 + np.einsum("ij,jk,ik->i", x0, cov, x0))
        neg = conc < 0
        flags[neg] = "negative_prediction"
        # a day with water but no proxy: no flux
        warn_days_without(flags, np.isfinite(q) & ~np.isfinite(daily_proxy), str(name),
                          daily.index, "direct")
        conc = np.where(neg, np.nan, conc)
        sst = float(np.sum((y - y.mean()) ** 2))
        model = {"method": "direct", "mode": "proxy", "proxy": str(name),
                 "equation": f"C [mg/L] = c0 + c1 * {name}",
                 "coefficients": {"c0": float(beta[0]), "c1": float(beta[1])},
                 "coefficient_se": {"c0": float(np.sqrt(cov[0, 0])),
                                    "c1": float(np.sqrt(cov[1, 1]))},
                 "r_squared": float(1 - resid @ resid / sst) if sst > 0 else None,
                 "residual_variance_mg2_L2": s2, "n_samples": int(ok.sum()),
                 "n_censored_excluded": int(s["censored"].sum()), "_cov": cov,
                 "residual_units": "mg/L, observed - fitted"}
        fitted = np.full(len(smp), np.nan)
        res_all = np.full(len(smp), np.nan)
        pos = np.flatnonzero(smp["used"].to_numpy())[ok]
        fitted[pos] = X @ beta
        res_all[pos] = resid
        smp["fitted_mg_L"] = fitted
        smp["residual"] = res_all
        out["proxy"] = daily_proxy
        cls = _ProxyEstimate
    out["conc_mg_L"] = conc
    out["flux_kg_day"] = q * conc * KG_DAY_PER_M3S_MG_L
    out["flux_se_kg_day"] = q * conc_se * KG_DAY_PER_M3S_MG_L
    out["flux_lo95_kg_day"] = np.maximum(out["flux_kg_day"] - Z95 * out["flux_se_kg_day"], 0.0)
    out["flux_hi95_kg_day"] = out["flux_kg_day"] + Z95 * out["flux_se_kg_day"]
    out["qa_flags"] = flags
    return cls(method="direct", daily=out, samples=smp, model=model)
