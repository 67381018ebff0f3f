"""Helpers shared by the flux estimators (time axes, unit factors, calibration pairs)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .. import qa
from ..exceptions import DataError, DataQualityWarning, MissingColumnError

Z95 = 1.959963984540054


def decimal_time(when: ArrayLike, *, hour: float | np.ndarray | None = None) -> np.ndarray:
    """Decimal year as LOADEST computes it: ``year + (day_of_year - 1 + hour/24) / days_in_year``.

    Parameters
    ----------
    when : array_like of datetime
        Dates or date-times.
    hour : float or array, optional
        Clock hour to use instead of the timestamps' own (e.g. 12 for daily
        values, LOADEST's convention for daily estimation files).

    Returns
    -------
    numpy.ndarray
        Decimal years [yr].
    """
    t = pd.DatetimeIndex(pd.to_datetime(when))
    if hour is None:
        hrs = (t.hour + t.minute / 60.0 + t.second / 3600.0).to_numpy(dtype=float)
    else:
        hrs = np.broadcast_to(np.asarray(hour, dtype=float), (len(t),))
    ndays = np.where(t.is_leap_year, 366.0, 365.0)
    return t.year.to_numpy(dtype=float) + (t.day_of_year.to_numpy(dtype=float) - 1.0 +
                                           hrs / 24.0) / ndays


def loadest_center(x: np.ndarray) -> float:
    """Centre of a regressor as LOADEST defines it (Cohn et al. 1992).

    ``mean(x) + sum((x - mean)^3) / (2 sum((x - mean)^2))``: with it the linear and
    quadratic terms of a centred quadratic are uncorrelated over the calibration
    data.
    """
    x = np.asarray(x, dtype=float)
    m = x.mean()
    d = x - m
    den = np.sum(d**2)
    return float(m if den == 0 else m + np.sum(d**3) / (2.0 * den))


def check_daily(daily: pd.DataFrame) -> pd.DataFrame:
    """The discharge table every estimator takes, checked: one row per day.

    A DataFrame with ``discharge_m3s`` [m3/s] on a DatetimeIndex of days (no times of
    day, none repeated, none negative).  Returned sorted by day, with every day from the
    first to the last: a day the index lacks is added with NaN discharge, so it counts
    as a missing day (as a gap of :func:`karstsink.hydrology.read_discharge` does)
    instead of being left out of the period tables unsaid.

    Raises
    ------
    MissingColumnError
        Not a DataFrame, or no ``discharge_m3s`` column.
    DataError
        Not a DatetimeIndex, no day, a time of day, a repeated day or a negative value;
        the message names the first and how to fix it.
    """
    if not isinstance(daily, pd.DataFrame) or "discharge_m3s" not in daily.columns:
        raise MissingColumnError(
            "discharge must be a DataFrame with a 'discharge_m3s' column on a daily "
            "DatetimeIndex (use karstsink.hydrology.read_discharge)."
        )
    idx = daily.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise DataError("discharge must be indexed by a DatetimeIndex of days.")
    if len(idx) == 0:
        raise DataError("discharge has no day; read a record with read_discharge.")
    if (idx != idx.normalize()).any():
        first = idx[idx != idx.normalize()][0]
        raise DataError(f"discharge holds times of day (first {first}); average them to "
                        "daily means first (read_discharge does).")
    if idx.has_duplicates:
        raise DataError(f"discharge repeats the day {idx[idx.duplicated()][0].date()}; one "
                        "row per day (read_discharge keeps the first of a repeated reading).")
    q = pd.to_numeric(daily["discharge_m3s"], errors="coerce").to_numpy(dtype=float)
    bad = np.isfinite(q) & (q < 0)
    if bad.any():
        raise DataError(f"discharge is negative on {int(bad.sum())} day(s), first "
                        f"{idx[np.flatnonzero(bad)[0]].date()}; read it with read_discharge "
                        "to flag them, or blank them (NaN).")
    if not idx.is_monotonic_increasing:
        daily = daily.sort_index()
    full = pd.date_range(daily.index[0], daily.index[-1], freq="D", name=daily.index.name)
    if len(full) != len(daily):  # absent days: missing, not left out
        daily = daily.reindex(full)
    return daily


def warn_days_without(flags: np.ndarray, mask: np.ndarray, name: str, days: pd.Index,
                      method: str) -> None:
    """Flag ``no_value:<name>`` on the days of ``mask`` (discharge, but no usable value of
    the regressor or proxy ``name``: no flux) and warn once, naming the first."""
    qa.add_flag(flags, mask, f"no_value:{name}")
    if mask.any():
        warnings.warn(f"{method}: {int(mask.sum())} day(s) with discharge have no usable "
                      f"{name!r} (first {days[mask][0]:%Y-%m-%d}): their flux is NaN (flagged "
                      f"no_value:{name}) and they count as missing.", DataQualityWarning,
                      stacklevel=3)


def has_flag(frame: pd.DataFrame, code: str) -> np.ndarray:
    """Boolean mask of the rows whose ``qa_flags`` holds ``code`` (exactly, ``;``-separated)."""
    if "qa_flags" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.array([isinstance(f, str) and code in f.split(";")
                     for f in frame["qa_flags"].tolist()], dtype=bool)


def calibration_pairs(daily: pd.DataFrame, samples: pd.DataFrame, *,
                      positive_q: bool = True, method: str = "the fit") -> pd.DataFrame:
    """Samples with usable concentration on days with discharge, with ``discharge_m3s``.

    ``positive_q`` (regression methods, which take ln Q and ln C) also requires
    Q > 0 and C > 0: a sample on a zero-discharge day is flagged
    ``zero_discharge``, a zero or negative concentration ``nonpositive_value``
    (without ``positive_q``, a negative one ``negative_value`` and a 0, which no
    measurement gives, ``zero_concentration``).  Rows flagged
    ``duplicate_sample`` (a copied row, see
    :func:`~karstsink.io.flux_samples.flux_samples_from_table`) are not used.

    Adds the flags of :func:`~karstsink.io.flux_samples.pair_with_discharge` and
    a boolean ``used`` column (all rows are returned).

    Warns
    -----
    DataQualityWarning
        Naming how many samples fall on zero-discharge days or have a
        non-positive concentration, and that ``method`` leaves them out.
    """
    from ..io.flux_samples import pair_with_discharge

    for col in ("date", "conc_mg_L"):
        if col not in samples.columns:
            raise MissingColumnError(
                f"samples lack the column {col!r}; read them with "
                "karstsink.flux.samples.read_flux_samples."
            )
    s = samples.copy()
    if "censored" not in s.columns:
        s["censored"] = False
    s["date"] = pd.to_datetime(s["date"]).dt.normalize()
    paired = pair_with_discharge(s, daily)
    q = paired["discharge_m3s"].to_numpy(dtype=float)
    c = paired["conc_mg_L"].to_numpy(dtype=float)
    copies = has_flag(paired, "duplicate_sample")
    usable = paired["in_record"].to_numpy() & np.isfinite(c) & ~copies
    flags = paired["qa_flags"].astype(object).to_numpy(copy=True)
    if positive_q:
        zero_q = usable & (q == 0)
        bad_c = usable & (c <= 0)
        qa.add_flag(flags, zero_q, "zero_discharge")
        qa.add_flag(flags, bad_c, "nonpositive_value")
        paired["used"] = usable & ~zero_q & ~bad_c
    else:
        zero_q = np.zeros(len(paired), dtype=bool)
        zero_c = usable & (c == 0)  # no measurement gives 0 ('<DL' says below detection)
        bad_c = usable & (c < 0)
        qa.add_flag(flags, bad_c, "negative_value")
        qa.add_flag(flags, zero_c, "zero_concentration")
        paired["used"] = usable & ~bad_c & ~zero_c
    paired["qa_flags"] = flags
    said = []
    if zero_q.any():
        said.append(f"{int(zero_q.sum())} fall on days of zero discharge, where ln Q is "
                    "undefined (flagged 'zero_discharge'; the flux on zero-flow days is 0)")
    if bad_c.any():
        said.append(f"{int(bad_c.sum())} have a concentration "
                    + ("<= 0 (flagged 'nonpositive_value')" if positive_q
                       else "< 0 (flagged 'negative_value')"))
    if not positive_q and zero_c.any():
        said.append(f"{int(zero_c.sum())} have a concentration of 0, a 0 typed for a missing "
                    "value or a '<DL' (flagged 'zero_concentration')")
    if said:
        src = samples.attrs.get("source", "samples")
        warnings.warn(f"{src}: of {len(paired)} sample(s), " + " and ".join(said)
                      + f"; they are left out of {method}.", DataQualityWarning, stacklevel=3)
    return paired


def unused_reasons(flags: list, used: np.ndarray) -> str:
    """``'20 zero_discharge, 3 outside_discharge_record'``: why the unused rows are unused.

    Each unused row counts once, under its first fatal flag (:func:`karstsink.qa.is_fatal`).
    """
    counts: dict[str, int] = {}
    for f, u in zip(flags, np.asarray(used, dtype=bool), strict=True):
        if u:
            continue
        codes = [c for c in qa.split(f) if qa.is_fatal(c)] or ["unusable"]
        code = codes[0].split(":")[0]
        counts[code] = counts.get(code, 0) + 1
    return ", ".join(f"{n} {code}" for code, n in sorted(counts.items(), key=lambda x: -x[1]))


def require_samples(pairs: pd.DataFrame, need: int, method: str, *, uncensored: bool = False,
                    fix: str = "add samples or use --method direct") -> None:
    """Raise a one-line DataError when fewer than ``need`` samples are usable for ``method``."""
    used = pairs["used"].to_numpy(dtype=bool)
    if uncensored and "censored" in pairs.columns:
        used = used & ~pairs["censored"].astype(bool).to_numpy()
    if used.sum() >= need:
        return
    why = unused_reasons(pairs["qa_flags"].tolist(), pairs["used"].to_numpy(dtype=bool))
    src = pairs.attrs.get("source", "samples")
    raise DataError(
        f"{src}: {method} needs at least {need} usable{' uncensored' if uncensored else ''} "
        f"samples but only {int(used.sum())} of {len(pairs)} are"
        + (f" (the others are flagged: {why}; see samples qa_flags)" if why else "")
        + f"; {fix}.")


def empty_daily(daily: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=daily.index.copy())
    out.index.name = "date"
    out["discharge_m3s"] = daily["discharge_m3s"].to_numpy(dtype=float)
    return out


def warn_extrapolated(method: str, q: ArrayLike, flux: ArrayLike, q_sampled_max: float
                      ) -> tuple[list[str], dict[str, float]]:
    """Warn when days have more discharge than the largest of the samples a model was
    fitted to (LOADEST, the rating curve, WRTDS): its curve is carried beyond its data
    there.  Returns the text, for the model's ``warnings`` (empty: no such day), and
    the model's ``extrapolation``: those days, the discharges and the share of the
    record's flux they carry [%] (the text leaves it out, so that the constituent and
    its companions, fitted on one record, share one warning)."""
    q, flux = np.asarray(q, dtype=float), np.asarray(flux, dtype=float)
    with np.errstate(invalid="ignore"):
        above = q > q_sampled_max
    total = float(np.nansum(flux))
    info = {"n_days_above_sampled_q": int(above.sum()), "max_sampled_q_m3s": q_sampled_max,
            "max_q_m3s": float(np.nanmax(q)),
            "flux_share_pct": 100 * float(np.nansum(flux[above])) / total if total > 0
            else float("nan")}
    if not info["n_days_above_sampled_q"]:
        return [], info
    text = (f"{info['n_days_above_sampled_q']} day(s) have discharge above the largest sampled "
            f"discharge ({info['max_q_m3s']:.6g} vs {q_sampled_max:.6g} m3/s): loads there are "
            "extrapolated.")
    warnings.warn(f"{method}: {text}", DataQualityWarning, stacklevel=3)
    return [text], info
