"""Period totals of a daily flux estimate: months, water years, calendar years, the record.

Every table has one row per period with ``n_days`` (days with a flux),
``n_missing_days`` (days of the period inside the record without one),
mean ``discharge_m3s`` [m³ s⁻¹], flow-weighted ``conc_mg_L`` [mg L⁻¹]
(``Σ F / Σ (Q x 86.4)``), mean daily ``flux_kg_day`` [kg d⁻¹] with its
standard error and 95 % interval from the estimator
(:meth:`~karstsink.flux.FluxEstimate.period_stats`), the annual rate
``flux_kg_yr`` = ``flux_kg_day`` x 365.25 [kg yr⁻¹] (with its interval), the
mass ``flux_kg`` over the days with a flux [kg], and ``complete`` (False when
the record does not cover the whole period or days are missing),
``n_samples`` (calibration samples the fit used, dated in the period) and
``n_days_beyond_samples`` (days with a flux before the first or after the last
of them, where the model or the held concentration is carried outside the
sampled period).  A negative
lower bound (possible with the normal intervals of some estimators) is set
to 0.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from .. import qa
from ..exceptions import DataError, DataQualityWarning
from ..units import DAYS_PER_YEAR, KG_DAY_PER_M3S_MG_L
from ._base import FluxEstimate

#: First month of the "annual" year [1-12]: 10, the USGS water year (October to September).
DEFAULT_YEAR_START_MONTH = 10

__all__ = ["DAYS_PER_YEAR", "DEFAULT_YEAR_START_MONTH", "aggregate", "flag_beyond_samples",
           "period_table", "years_beyond_samples"]


def _water_year(index: pd.DatetimeIndex, start_month: int) -> np.ndarray:
    if start_month == 1:
        return index.year.to_numpy()
    return np.where(index.month >= start_month, index.year + 1, index.year)


def period_table(estimate: FluxEstimate, labels, *, label_name: str,
                 period_bounds: dict | None = None) -> pd.DataFrame:
    """Aggregate ``estimate`` over groups of days given by ``labels``.

    Parameters
    ----------
    estimate : FluxEstimate
    labels : array_like
        One label per day of ``estimate.daily``.
    label_name : str
        Name of the label column in the output (``year``, ``month``, ``period``).
    period_bounds : dict, optional
        ``label -> (first_day, last_day)`` of the full calendar period, to
        decide ``complete``.

    Returns
    -------
    pandas.DataFrame
    """
    daily = estimate.daily
    labels = pd.Series(np.asarray(labels, dtype=object), index=daily.index)
    flux = daily["flux_kg_day"].to_numpy(dtype=float)
    q = daily["discharge_m3s"].to_numpy(dtype=float)
    valid = np.isfinite(flux)
    stats = estimate.period_stats(labels.where(valid, None))
    smp = estimate.samples  # every row of the samples file; the fit used those marked used
    smp = smp.loc[smp["used"].astype(bool)] if "used" in smp else smp
    sample_days = pd.DatetimeIndex(smp["date"]).normalize() if len(smp) else pd.DatetimeIndex([])
    beyond = ((daily.index < sample_days.min()) | (daily.index > sample_days.max())
              if len(sample_days) else np.ones(len(daily), bool))
    rows = []
    for label, idx in labels.groupby(labels, sort=True).indices.items():
        v = idx[valid[idx]]
        n_days = len(v)
        n_missing = int(len(idx) - n_days)
        qv = q[idx][np.isfinite(q[idx])]
        qf = q[v]
        denom = float(np.sum(qf * KG_DAY_PER_M3S_MG_L))
        conc = float(np.sum(flux[v]) / denom) if denom > 0 else np.nan
        if label in stats.index:
            st = stats.loc[label]
            mean, se, lo, hi = (float(st[c]) for c in
                                ("flux_kg_day", "flux_se_kg_day", "flux_lo95_kg_day",
                                 "flux_hi95_kg_day"))
        else:
            mean = se = lo = hi = np.nan
        if np.isfinite(lo) and lo < 0:  # a flux cannot be negative (normal intervals)
            lo = 0.0
        first, last = daily.index[idx[0]], daily.index[idx[-1]]
        complete = n_missing == 0 and n_days > 0
        if period_bounds is not None and label in period_bounds:
            p0, p1 = period_bounds[label]
            complete = complete and first <= p0 and last >= p1
        rows.append({
            label_name: label, "start": first.date().isoformat(),
            "end": last.date().isoformat(), "n_days": n_days, "n_missing_days": n_missing,
            "discharge_m3s": float(qv.mean()) if len(qv) else np.nan,
            "conc_mg_L": conc, "flux_kg_day": mean, "flux_se_kg_day": se,
            "flux_lo95_kg_day": lo, "flux_hi95_kg_day": hi,
            "flux_kg_yr": mean * DAYS_PER_YEAR, "flux_lo95_kg_yr": lo * DAYS_PER_YEAR,
            "flux_hi95_kg_yr": hi * DAYS_PER_YEAR,
            "flux_kg": mean * n_days if n_days else np.nan, "complete": bool(complete),
            "n_samples": int(((sample_days >= first) & (sample_days <= last)).sum()),
            "n_days_beyond_samples": int(beyond[v].sum()),
        })
    return pd.DataFrame(rows)


def aggregate(estimate: FluxEstimate, *, year_start_month: int = DEFAULT_YEAR_START_MONTH
              ) -> dict[str, pd.DataFrame]:
    """Monthly, annual (water-year), calendar-year and whole-record flux tables.

    Parameters
    ----------
    estimate : FluxEstimate
        From any estimator.
    year_start_month : int, default 10
        First month of the "annual" year: 10 gives USGS water years
        (October-September, labelled by the calendar year they end in);
        1 gives calendar years.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``monthly`` (label ``month`` = ``YYYY-MM``), ``annual`` (label
        ``year``), ``calendar`` (label ``year``) and ``total`` (label
        ``period`` = ``"total"``); columns as in the module docstring.

    Notes
    -----
    Mass is conserved: the ``flux_kg`` of the months of a year sum to that
    year's ``flux_kg`` and the years to the total (tested with Hypothesis).
    """
    if not 1 <= int(year_start_month) <= 12:
        raise DataError(f"year_start_month must be 1..12, got {year_start_month!r}.")
    idx = estimate.daily.index
    months = idx.strftime("%Y-%m")
    mb = {}
    for m in np.unique(months):
        p0 = pd.Timestamp(m + "-01")
        mb[m] = (p0, p0 + pd.offsets.MonthEnd(0))
    wy = _water_year(idx, int(year_start_month))
    wb = {}
    for y in np.unique(wy):
        if year_start_month == 1:
            wb[int(y)] = (pd.Timestamp(int(y), 1, 1), pd.Timestamp(int(y), 12, 31))
        else:
            wb[int(y)] = (pd.Timestamp(int(y) - 1, year_start_month, 1),
                          pd.Timestamp(int(y), year_start_month, 1) - pd.Timedelta(days=1))
    cy = idx.year.to_numpy()
    cb = {int(y): (pd.Timestamp(int(y), 1, 1), pd.Timestamp(int(y), 12, 31))
          for y in np.unique(cy)}
    out = {
        "monthly": period_table(estimate, months, label_name="month", period_bounds=mb),
        "annual": period_table(estimate, wy.astype(int), label_name="year", period_bounds=wb),
        "calendar": period_table(estimate, cy.astype(int), label_name="year", period_bounds=cb),
        "total": period_table(estimate, np.array(["total"] * len(idx), dtype=object),
                              label_name="period"),
    }
    for key in ("annual", "calendar"):
        if len(out[key]):
            out[key]["year"] = out[key]["year"].astype(int)
    out["annual"].attrs["year_start_month"] = int(year_start_month)
    _warn_beyond_samples(out["annual"], estimate.method)
    return out


def years_beyond_samples(annual: pd.DataFrame) -> list[int]:
    """The years of an ``annual`` table whose every day with a flux lies before the first or
    after the last calibration sample used (their flux rests on no sample of their own)."""
    if annual.empty:
        return []
    wholly = (annual["n_days"] > 0) & (annual["n_days_beyond_samples"] == annual["n_days"])
    return [int(y) for y in annual.loc[wholly, "year"]]


def years_without_samples(annual: pd.DataFrame) -> list[int]:
    """The years of an ``annual`` table inside the sampled period with no calibration sample
    used dated in them: their flux is carried over from the samples of other years."""
    if annual.empty:
        return []
    none = (annual["n_days"] > 0) & (annual["n_samples"] == 0)
    beyond = set(years_beyond_samples(annual))
    return [int(y) for y in annual.loc[none, "year"] if int(y) not in beyond]


def flag_beyond_samples(sink: pd.DataFrame, annual: pd.DataFrame) -> pd.Series:
    """The ``qa_flags`` of a sink table (a ``period`` per row: a year or ``"total"``) with
    ``beyond_samples`` added to the years of :func:`years_beyond_samples` of ``annual`` and
    ``no_sample_in_year`` to those of :func:`years_without_samples`."""
    beyond = {str(y): ["beyond_samples"] for y in years_beyond_samples(annual)}
    inside = {str(y): ["no_sample_in_year"] for y in years_without_samples(annual)}
    return _with_codes(sink, {**beyond, **inside})


def _with_codes(sink: pd.DataFrame, codes: Mapping[str, Iterable[str]]) -> pd.Series:
    """``sink["qa_flags"]`` with ``codes[period]`` added to each row of that ``period``."""
    return pd.Series([qa.join([*qa.split(f), *codes.get(str(p), ())])
                      for f, p in zip(sink["qa_flags"], sink["period"], strict=True)],
                     index=sink.index, dtype="string")


#: Sample flags that make the sink of the period a sample falls in doubtful: an alkalinity
#: holding carbonate (HCO3 overstated) and a pH under the carbonate buffer (acid correction).
SINK_SAMPLE_FLAGS = ("carbonate_in_alkalinity", "ph_below_carbonate_buffer")


def flag_sample_years(sink: pd.DataFrame, samples: pd.DataFrame,
                      year_start_month: int) -> pd.Series:
    """The ``qa_flags`` of a sink table with each code of :data:`SINK_SAMPLE_FLAGS` that a
    calibration sample used in a year carries added to that year's row and to the total."""
    used = samples[samples["used"].astype(bool) & samples["date"].notna()] \
        if "used" in samples else samples.iloc[:0]
    years: dict[str, set[str]] = {}
    wy = _water_year(pd.DatetimeIndex(used["date"]), int(year_start_month))
    for y, f in zip(wy, used["qa_flags"].fillna(""), strict=True):
        for code in set(qa.split(f)) & set(SINK_SAMPLE_FLAGS):
            years.setdefault(str(int(y)), set()).add(code)
            years.setdefault("total", set()).add(code)
    return _with_codes(sink, years)


def _warn_beyond_samples(annual: pd.DataFrame, method: str) -> None:
    years = years_beyond_samples(annual)
    if years:
        warnings.warn(
            f"Year(s) {', '.join(map(str, years))} have every day with a flux before the first "
            f"or after the last calibration sample used: their {method} flux rests on no "
            "sample of its own (the model or the held concentration is carried outside the "
            "sampled period; n_samples 0 in annual.csv): trim the discharge record to the "
            "sampled years or read those years as projections.", DataQualityWarning,
            stacklevel=3)
    inside = years_without_samples(annual)
    if inside:
        warnings.warn(
            f"Year(s) {', '.join(map(str, inside))} have no calibration sample of their own "
            f"(n_samples 0 in annual.csv): their {method} flux is carried over from the "
            "samples of other years; read them with care.", DataQualityWarning, stacklevel=3)
