"""Concentration samples for flux estimation: plain CSVs or the geochemistry reader's table.

:func:`read_flux_samples` returns one row per sample with ``date`` (day
precision), ``conc_mg_L`` [mg L⁻¹] and ``censored`` (for a censored value the
concentration is its detection limit), keeping every original column.
:func:`pair_with_discharge` attaches the day's mean discharge and flags
samples that fall outside the discharge record.
"""

from __future__ import annotations

import os
import re
import warnings

import numpy as np
import pandas as pd

from ..exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from ..units import MOLAR_MASS, from_mmol_per_l, to_mmol_per_l

__all__ = ["pair_with_discharge", "read_flux_samples"]

_DATE_NAMES = re.compile(r"^(date|datetime|date_?time|sample_?date|activitystartdate|cdate|日期)",
                         re.I)
_CENSORED = re.compile(r"^\s*<\s*([0-9.eE+\-]+)\s*$")


#: other column names accepted for a constituent (alkalinity titrations give HCO3-)
_ALIASES = {"hco3": ("alk", "alkalinity", "bicarbonate")}


def _find_column(df: pd.DataFrame, constituent: str) -> str | None:
    want = constituent.lower()
    for names in ((want,), _ALIASES.get(want, ())):
        for c in df.columns:
            full = str(c).strip().lower()
            base = re.split(r"[\s(\[_,]", full, maxsplit=1)[0]
            cands = {full, base}
            if base.endswith(("+", "-")):  # ionic charge: HCO3-, SO42-, Ca2+
                bare = base.rstrip("+-")
                cands.update({bare, re.sub(r"\d$", "", bare)})
            if cands & set(names):
                return c
    return None


def _unit_from_header(name: str) -> str | None:
    m = re.search(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]", name)
    return m.group(1) if m else None


def read_flux_samples(
    path_or_df: str | os.PathLike | pd.DataFrame,
    constituent: str,
    *,
    units: str | None = None,
    date_column: str | None = None,
) -> pd.DataFrame:
    """Read concentration samples of one constituent for flux estimation.

    Parameters
    ----------
    path_or_df : path-like or pandas.DataFrame
        A CSV with a date column and a column named after ``constituent``
        (values such as ``<0.05`` are censored at 0.05; a ``remark`` column
        holding ``<`` marks censoring as in USGS files), or a table produced by
        :func:`karstsink.samples.read_samples` (canonical ``<ion>_mmol_l``
        columns, converted back to mg/L).
    constituent : str
        Column / species name, e.g. ``hco3``, ``no3``, ``so4`` (case-insensitive;
        header decorations such as ``HCO3- (mg/L)`` are recognised).
    units : str, optional
        Unit of the values (``mg/L``, ``mmol/L``, ``meq/L``, ``mg/L as CaCO3``,
        ``mg/L as N``...).  Required unless the header gives it; concentrations
        are converted to mg/L of the species itself when a molar mass is known
        (for an unknown species only ``mg/L`` is accepted).
    date_column : str, optional
        Name of the date column (default: the first column named like a date).

    Returns
    -------
    pandas.DataFrame
        The original columns plus ``date`` (datetime64, normalised to the day),
        ``conc_mg_L`` [mg L⁻¹] and ``censored`` (bool), sorted by date, and
        ``qa_flags`` (``not_numeric``, ``missing_value``, ``negative_value``).
        Rows without a usable value stay, with NaN ``conc_mg_L`` and a flag.

    Raises
    ------
    MissingColumnError, UnitError, DataError
        Missing date/constituent column, no unit, unparsable dates (row named).
    """
    key = constituent.strip().lower()
    from ..hydrology import load_table

    df, source = load_table(path_or_df, "samples")
    if date_column is None:
        date_column = next((c for c in df.columns if _DATE_NAMES.match(c)), None)
    if date_column is None or date_column not in df.columns:
        raise MissingColumnError(
            f"{source}: no date column (looked for 'date'); columns found: "
            f"{', '.join(df.columns)}. Pass date_column= / --date-column."
        )
    n = len(df)
    if n == 0:
        raise DataError(f"{source}: the samples file has no rows.")
    flags = [[] for _ in range(n)]

    canonical = f"{key}_mmol_l"
    if f"{key}_mg_c_l" in df.columns and canonical not in df.columns:
        df[f"{key}"] = df[f"{key}_mg_c_l"]
        units = units or "mg/L"
    if canonical in df.columns:  # the geochemistry reader's canonical table
        mmol = pd.to_numeric(df[canonical], errors="coerce").to_numpy(dtype=float)
        fl = df.get("qa_flags", pd.Series([""] * n, index=df.index)).astype("string").fillna("")
        censored = fl.str.contains(f"below_detection:{key}", regex=False).to_numpy()
        # that reader substitutes a fraction of the limit ("half" by default): undo it
        policy = df.attrs.get("below_detection", "half")
        frac = {"half": 0.5, "limit": 1.0}.get(str(policy).lower()) if isinstance(
            policy, str) else (float(policy) if policy else None)
        if frac:
            mmol = np.where(censored, mmol / frac, mmol)
        else:  # "zero"/"nan": the limit itself is lost
            mmol = np.where(censored, np.nan, mmol)
            for i in np.flatnonzero(censored):
                flags[i].append(f"detection_limit_unknown:{key}")
        if key in MOLAR_MASS:
            conc = from_mmol_per_l(mmol, key, "mg/L")
        else:
            raise UnitError(f"No molar mass for {constituent!r}; cannot convert mmol/L to mg/L.")
        value_col = canonical
        unit = "mmol/L"
        empty = np.isnan(mmol)
        not_numeric = np.zeros(n, bool)
    else:
        value_col = _find_column(df, key)
        if value_col is None and "value" in df.columns:
            value_col = "value"
        if value_col is None:
            raise MissingColumnError(
                f"{source}: no column for constituent {constituent!r}; columns found: "
                f"{', '.join(df.columns)}."
            )
        unit = units or _unit_from_header(value_col)
        if unit is None:
            raise UnitError(
                f"{source}: the unit of column {value_col!r} is not given; pass --units "
                "(units=) e.g. mg/L, mmol/L, meq/L or 'mg/L as CaCO3'."
            )
        text = df[value_col].astype("string").fillna("").str.strip()
        m = text.str.extract(_CENSORED)[0]
        censored = m.notna().to_numpy()
        numeric_text = text.where(~pd.Series(censored, index=df.index), m)
        numeric_text = numeric_text.str.replace(r"^(-?\d+),(\d+)$", r"\1.\2", regex=True)
        vals = pd.to_numeric(numeric_text, errors="coerce").to_numpy(dtype=float)
        remark = next((c for c in df.columns if c.lower() in ("remark", "remark_code",
                                                              "qualifier", "rmk")), None)
        if remark is not None:
            censored = censored | (df[remark].astype("string").fillna("").str.strip() == "<"
                                   ).to_numpy()
        empty = (text == "").to_numpy() | text.str.lower().isin(
            ["na", "nan", "n.d.", "nd", "-"]).to_numpy()
        not_numeric = np.isnan(vals) & ~empty
        if key in MOLAR_MASS:
            factor = float(from_mmol_per_l(to_mmol_per_l(1.0, key, unit), key, "mg/L"))
            factor = 1.0 if abs(factor - 1.0) < 1e-12 else factor  # no round-off for mg/L
            conc = vals * factor
        else:
            if unit.strip().lower().replace(" ", "") not in ("mg/l", "mgl-1"):
                raise UnitError(
                    f"{source}: karstsink has no molar mass for {constituent!r}; give it in mg/L."
                )
            conc = vals
    conc = np.asarray(conc, dtype=float)
    negative = conc < 0
    for i in np.flatnonzero(not_numeric):
        flags[i].append(f"not_numeric:{key}")
    for i in np.flatnonzero(empty):
        flags[i].append(f"missing_value:{key}")
    for i in np.flatnonzero(negative):
        flags[i].append(f"negative_value:{key}")
    for i in np.flatnonzero(censored & ~empty):
        flags[i].append(f"censored:{key}")
    conc = np.where(negative, np.nan, conc)

    from ..hydrology import _parse_dates  # same date rules as discharge files

    when = _parse_dates(df[date_column], source, date_column)
    out = df.copy()
    out["date"] = when.dt.normalize().astype("datetime64[ns]")
    out["conc_mg_L"] = conc
    out["censored"] = censored & np.isfinite(conc)
    out["qa_flags"] = [";".join(f) for f in flags]
    out = out.sort_values("date", kind="stable").reset_index(drop=True)
    out.attrs.update({"source": source, "constituent": key, "units": unit,
                      "value_column": value_col})
    n_bad = int((~np.isfinite(out["conc_mg_L"])).sum())
    if n_bad:
        warnings.warn(
            f"{source}: {n_bad} sample(s) have no usable {key} value (flagged in qa_flags) "
            "and are not used for calibration.", DataQualityWarning, stacklevel=2)
    if int(np.isfinite(out["conc_mg_L"]).sum()) == 0:
        raise DataError(f"{source}: no usable {key} value in column {value_col!r}.")
    return out


def pair_with_discharge(samples: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """Attach each sample's daily mean discharge and flag samples outside the record.

    Parameters
    ----------
    samples : pandas.DataFrame
        From :func:`read_flux_samples`.
    daily : pandas.DataFrame
        From :func:`karstsink.hydrology.read_discharge`.

    Returns
    -------
    pandas.DataFrame
        ``samples`` with ``discharge_m3s`` and an ``in_record`` (bool) column;
        samples outside the record or on a day without discharge get the flag
        ``outside_discharge_record`` / ``no_discharge`` and are not used.

    Raises
    ------
    DataError
        If no sample falls on a day with discharge.

    Warns
    -----
    DataQualityWarning
        Naming how many samples are outside the record, and their date range.
    """
    out = samples.copy()
    q = daily["discharge_m3s"].reindex(pd.DatetimeIndex(out["date"]))
    out["discharge_m3s"] = q.to_numpy()
    inside = out["date"].between(daily.index.min(), daily.index.max()).to_numpy()
    has_q = np.isfinite(out["discharge_m3s"].to_numpy())
    flags = np.array(out.get("qa_flags", pd.Series([""] * len(out))).astype(object).to_numpy(),
                     dtype=object, copy=True)
    for i in np.flatnonzero(~inside):
        flags[i] = f"{flags[i]};outside_discharge_record" if flags[i] else \
            "outside_discharge_record"
    for i in np.flatnonzero(inside & ~has_q):
        flags[i] = f"{flags[i]};no_discharge" if flags[i] else "no_discharge"
    out["qa_flags"] = flags
    out["in_record"] = inside & has_q
    usable = out["in_record"] & np.isfinite(out["conc_mg_L"])
    src = samples.attrs.get("source", "samples")
    if not usable.any():
        raise DataError(
            f"{src}: none of the {len(out)} samples ({out['date'].min():%Y-%m-%d}.."
            f"{out['date'].max():%Y-%m-%d}) falls on a day of the discharge record "
            f"({daily.index.min():%Y-%m-%d}..{daily.index.max():%Y-%m-%d}); check the files "
            "and their date formats."
        )
    if (~inside).any():
        outside = out.loc[~inside, "date"]
        warnings.warn(
            f"{src}: {int((~inside).sum())} sample(s) dated {outside.min():%Y-%m-%d}.."
            f"{outside.max():%Y-%m-%d} fall outside the discharge record "
            f"({daily.index.min():%Y-%m-%d}..{daily.index.max():%Y-%m-%d}); flagged "
            "'outside_discharge_record' and not used.", DataQualityWarning, stacklevel=2)
    if (inside & ~has_q).any():
        warnings.warn(
            f"{src}: {int((inside & ~has_q).sum())} sample(s) fall on days without discharge; "
            "flagged 'no_discharge' and not used.", DataQualityWarning, stacklevel=2)
    out.attrs.update(samples.attrs)
    return out
