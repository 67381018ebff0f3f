"""Concentration samples for flux estimation, read by the one sample reader.

A samples file is read once, by :func:`read_flux_table`, into the canonical
sample table of :mod:`karstsink.io.samples` (the same header-and-unit matcher,
cell parser, date parser and detection-limit rules as ``karstsink speciate``;
censored values keep their detection limit).  :func:`flux_samples_from_table`
then takes one constituent from that table: ``date`` (day precision),
``conc_mg_L`` [mg L⁻¹ of the species itself; mg C L⁻¹ for TOC/DOC] and
``censored`` (for a censored value the concentration is its detection limit).
:func:`read_flux_samples` does both.  :func:`pair_with_discharge` attaches the
day's mean discharge and flags samples that fall outside the discharge record.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import qa
from ..exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from ..units import from_mmol_per_l
from . import cells
from . import samples as _samples  # _samples._read: one module attribute, patchable in tests
from ._flux_dates import _dates, _repeated_dates
from ._sample_table import ION_COLUMNS, _standardize, reporting_limit_scale
from ._sample_units import _raw_column, _species_of
from .discharge import describe_unusable
from .headers import CANONICAL_NAMES, KEYS, match_user_name

__all__ = ["flux_samples_from_table", "pair_with_discharge", "read_flux_samples",
           "read_flux_table"]

#: USGS-style remark columns: a ``<`` there marks the row's value as its detection limit.
_REMARK_NAMES = ("remark", "remark_code", "qualifier", "rmk")
#: Columns :func:`flux_samples_from_table` writes (an input column of that name is replaced).
_OUTPUT = ("date", "conc_mg_L", "censored", "qa_flags")


def read_flux_table(
    path_or_df: str | os.PathLike | pd.DataFrame,
    *,
    units: str | Mapping[str, str] | None = None,
    date_format: str | None = None,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> pd.DataFrame:
    """Read a samples file (or table) once into the canonical sample table, for fluxes.

    The table of :func:`karstsink.io.samples.read_samples` /
    :func:`~karstsink.io.samples.standardize`, read with ``below_detection="limit"``
    (a ``<x`` cell keeps x, as flux estimators need) and without its summary
    warning (pH or temperature are not needed for fluxes).  A concentration column
    with no unit anywhere (or one ``units`` cannot describe) is not an error here:
    it is left out, listed in ``attrs["unitless_columns"]``, and refused only if a
    flux is asked of it.

    Parameters
    ----------
    path_or_df : path-like or pandas.DataFrame
        A CSV/TSV/XLSX file, a table in memory, or a table that already went
        through :func:`~karstsink.io.samples.standardize` (it has ``qa_flags``; then
        it is used as it is, and ``attrs["below_detection"]``, default ``"half"``,
        tells how its censored values were stored).
    units : str or dict, optional
        As in :func:`karstsink.io.samples.read_samples`: a unit written in a header
        wins; ``units`` fills columns whose header states none; an explicit unit
        contradicting a header is a UnitError.
    date_format : str, optional
        strftime format of the date column (e.g. ``"%d/%m/%Y"``), needed when
        its day/month order is ambiguous.
    encoding, sheet : optional
        As in :func:`~karstsink.io.samples.read_samples`.

    Returns
    -------
    pandas.DataFrame
        The canonical table; ``attrs["units_option"]`` keeps ``units``.

    Raises
    ------
    FileNotFoundError, DataError, UnitError
    """
    if isinstance(path_or_df, pd.DataFrame):
        cols = set(path_or_df.columns)
        if "qa_flags" in cols and cols & set(ION_COLUMNS):  # standardised before
            table = path_or_df.copy()
            table.attrs = dict(path_or_df.attrs)
            table.attrs.setdefault("source", "samples table")
            table.attrs.setdefault("below_detection", "half")  # the reader's default
        else:
            table = _standardize(
                path_or_df, units=units, below_detection="limit", column_map=None,
                source=str(path_or_df.attrs.get("source", "samples table")),
                date_format=date_format, units_required=False)
    else:
        path = Path(os.fspath(path_or_df))
        if not path.exists():
            raise FileNotFoundError(f"Samples file not found: {path}")
        table = _samples._read(path, units=units, sheet=sheet, encoding=encoding,
                               below_detection="limit", column_map=None,
                               date_format=date_format, units_required=False)
    table.attrs["units_option"] = units
    return table


def read_flux_samples(
    path_or_df: str | os.PathLike | pd.DataFrame,
    constituent: str,
    *,
    units: str | Mapping[str, str] | None = None,
    date_column: str | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Read concentration samples of one constituent for flux estimation.

    :func:`read_flux_table` followed by :func:`flux_samples_from_table`; to take
    several constituents from one file, call those two (the file is read once).

    Parameters
    ----------
    path_or_df : path-like or pandas.DataFrame
        A samples file or table (see :func:`read_flux_table`).
    constituent : str
        What to take: a canonical key or any header name the alias table knows
        (``hco3``, ``alk``/``alkalinity`` (as HCO₃⁻), ``so4``, ``no3``, ``ca``,
        ``toc``, ``doc``...), or the exact name of a column (``HCO3- (mg/L)``,
        ``value``, ``phosphorus``).
    units : str or dict, optional
        Unit of the values where the header gives none (``mg/L``, ``mmol/L``,
        ``meq/L``, ``mg/L as CaCO3``, ``mg/L as N``...).  A unit in a header wins;
        a contradicting ``units`` is a :class:`~karstsink.exceptions.UnitError`.
    date_column : str, optional
        Name of the date column (default: the column the alias table knows as
        the sampling date, e.g. ``date``, ``Sampling date``, ``采样日期``).
    date_format : str, optional
        strftime format of the dates (``"%d/%m/%Y"``); needed when day/month
        order cannot be told from the cells.

    Returns
    -------
    pandas.DataFrame
        See :func:`flux_samples_from_table`.

    Raises
    ------
    MissingColumnError, UnitError, DataError
        Missing date/constituent column, no unit or contradicting units, unreadable
        or ambiguous dates (file, line and column named).
    """
    table = read_flux_table(path_or_df, units=units, date_format=date_format)
    return flux_samples_from_table(table, constituent, units=units, date_column=date_column,
                                   date_format=date_format)


# ---------------------------------------------------------------------------
# one constituent from the canonical table
# ---------------------------------------------------------------------------


def _roles_match(role: str, key: str) -> bool:
    if role in ("toc", "doc"):
        return KEYS[key][1] == "orgc"
    return _species_of(role) == _species_of(key)


def _flag_sets(table: pd.DataFrame) -> list[set[str]]:
    if "qa_flags" not in table.columns:
        return [set() for _ in range(len(table))]
    return [set(qa.split(f)) for f in table["qa_flags"].tolist()]


def _measured(table: pd.DataFrame) -> dict[str, str]:
    """{key: header} of the quantities the reader found (a bare canonical frame: its columns)."""
    colmap = table.attrs.get("column_map")
    if colmap is not None:
        out: dict[str, str] = {}
        for header, key in colmap.items():
            out.setdefault(key, header)
        return out
    return {key: col for col, (key, _u) in CANONICAL_NAMES.items() if col in table.columns}


def flux_samples_from_table(
    table: pd.DataFrame,
    constituent: str,
    *,
    species: str | None = None,
    units: str | Mapping[str, str] | None = None,
    date_column: str | None = None,
    date_format: str | None = None,
) -> pd.DataFrame:
    """One constituent's samples for flux estimation, from the canonical sample table.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`read_flux_table` (or :func:`karstsink.io.samples.read_samples`).
    constituent : str
        A canonical key or alias (``hco3``, ``alk``, ``so4``, ``no3``, ``toc``...),
        taken from the canonical column the reader filled (so ``NO3-N (mg/L)``,
        ``SO4-S``, ``Alk (mg/L as CaCO3)``, mmol/L and meq/L are all converted), or
        the exact name of a column.  A column the alias table does not know
        (``value``, ``phosphorus``) is read with the same cell parser, its unit
        from its header or ``units``; for a known species that is not in the
        table, a ``value`` column is used (LOADEST/EGRET files), unless
        ``species`` is given.
    species : str, optional
        The species the values must be (``so4`` for the sulfuric-acid
        correction, ``no3``, ``toc``...): checks a named column and converts an
        unknown one.  Default: what ``constituent`` names.
    units : str or dict, optional
        Unit for a column the alias table does not know (default: the
        ``units`` the table was read with).
    date_column : str, optional
        Date column (default: the one the reader recognised).
    date_format : str, optional
        strftime format for ``date_column``.

    Returns
    -------
    pandas.DataFrame
        The input columns plus ``date`` (datetime64, normalised to the day),
        ``conc_mg_L`` [mg L⁻¹ of the species itself (HCO₃⁻ for alkalinity);
        mg C L⁻¹ for TOC/DOC; for a species without molar mass, mg/L on the basis
        its unit states] and ``censored`` (bool: the value is its detection
        limit), sorted by date (a row without a date last), and ``qa_flags``:
        ``below_detection:<key>``, ``above_range:<key>``, ``not_numeric:<key>``,
        ``negative_value:<key>``, ``missing_value:<key>``, ``detection_limit_unknown:<key>``,
        ``bad_date``, ``duplicate_sample`` (the date-time and value of an earlier row: left
        out of every fit, as EGRET's ``removeDuplicates``) and ``duplicate_sample_date``
        (another value on the same day: kept).
        Rows without a usable value stay, with NaN ``conc_mg_L`` and a flag.
        ``attrs``: ``source``, ``constituent``, ``species``, ``units`` (as read),
        ``value_column``, ``date_column``, ``below_detection`` (``"limit"``),
        ``input_rows`` (the 0-based position in ``table`` of each row, to put them back).

    Raises
    ------
    MissingColumnError, UnitError, DataError
        DataError when no value is usable (the cells are counted by reason).

    Warns
    -----
    DataQualityWarning
        Counting the rows without a usable value, and the repeated dates.
    """
    source = str(table.attrs.get("source", "samples table"))
    n = len(table)
    if n == 0:
        raise DataError(f"{source}: the samples file has no rows.")
    name = str(constituent).strip()
    if units is None:
        units = table.attrs.get("units_option")
    measured = _measured(table)
    colmap = table.attrs.get("column_map")
    by_lower = {str(c).strip().lower(): c for c in table.columns}
    col = table.columns[table.columns == name][0] if name in table.columns else \
        by_lower.get(name.lower())
    key = raw_col = taken_as = None
    if col is not None and colmap is not None and str(col) in colmap:
        key = colmap[str(col)]
    elif col is not None and str(col) in CANONICAL_NAMES:
        key = CANONICAL_NAMES[str(col)][0]
    elif col is not None:
        raw_col = col
    else:
        key = match_user_name(name)
    role = species if species is not None else key
    what = f"the {species.upper()} flux of the sink" if species else "the constituent"
    if key is not None and KEYS[key][1] not in ("conc", "orgc"):
        raise DataError(f"{source}: {name!r} is a {KEYS[key][1]} column, not a concentration.")
    if key is not None and species is not None and not _roles_match(species, key):
        raise DataError(f"{source}: column {str(col if col is not None else name)!r} holds "
                        f"{key}, not {species}; name the {species} column.")
    if key == "alk" and "hco3" in measured and np.isfinite(  # HCO3 values are read first
            cells.parse_column(cells.text_cells(table[measured["hco3"]]))[0]).any():
        raise DataError(f"{source}: {name!r} is the alkalinity, but HCO3 ({measured['hco3']!r})"
                        " fills that column first: name it, or remove it to use the alkalinity.")
    in_table = key is not None and (key in measured or (
        _species_of(key) == "hco3" and ({"hco3", "alk"} & set(measured))))
    if key is not None and not in_table:
        # LOADEST/EGRET files ('date,remark,value') hold the one constituent in 'value';
        # never taken for a companion (species=), which would silently get the main values
        raw_col = by_lower.get("value") if species is None else None
        if raw_col is None:
            raise MissingColumnError(f"{source}: no column {name!r} for {what}; columns found: "
                                     f"{', '.join(map(str, table.columns))}.")
        # nothing in such a file says what 'value' is: say that it was taken as asked
        taken_as = name
        warnings.warn(f"{source}: no {name} column; the column {str(raw_col)!r} (a "
                      f"LOADEST/EGRET-style file) is taken as {name}. Check that it holds "
                      f"{name}; a header that says so (e.g. '{name} (mg/L)') silences this.",
                      DataQualityWarning, stacklevel=2)
    if key is None and raw_col is None:
        raise MissingColumnError(f"{source}: no column {name!r} for {what}; columns found: "
                                 f"{', '.join(map(str, table.columns))}.")
    flag_key = (role or name).lower()
    flags: list[list[str]] = [[] for _ in range(n)]
    old = _flag_sets(table)
    carbonate = low_ph = np.zeros(n, bool)  # only an HCO3 flux from the reader's table
    unread: dict[str, np.ndarray] = {}

    if raw_col is None:  # the canonical column the reader filled
        assert key is not None  # 'no key and no raw column' was refused above
        unitless = table.attrs.get("unitless_columns") or {}
        keys = [k for k in (("hco3", "alk") if _species_of(key) == "hco3" else (key,))
                if k in measured]
        for k in keys:
            if k in unitless:  # the reader's own message: no unit, or --units cannot apply
                raise UnitError(unitless[k])
        value_col = measured[keys[0]] if keys else KEYS[key][0]
        vals = pd.to_numeric(table[KEYS[key][0]], errors="coerce").to_numpy(dtype=float).copy()
        # which key's cell each row holds (HCO3, else alkalinity where HCO3 was empty)
        used_key = np.array([keys[0] if keys else key] * n, dtype=object)
        if len(keys) == 2:
            hco3_status = cells.parse_column(cells.text_cells(table[measured["hco3"]]))[1]
            used_key[hco3_status == cells.MISSING] = "alk"

        def has(code: str) -> np.ndarray:
            return np.array([f"{code}:{k}" in f for f, k in zip(old, used_key, strict=True)])

        censored = has("below_detection")  # back to the detection limit (NaN: not known)
        vals = vals * reporting_limit_scale(censored, table.attrs.get("below_detection", "half"))
        limit_unknown = censored & np.isnan(vals)
        not_numeric, negative = has("not_numeric"), has("negative_value")
        above = has("above_range")
        # a cell the reader could not take (-999, a 0 typed for a missing value, a formula
        # without value, two columns that disagree) keeps the reader's word for it, not
        # 'missing_value'
        unread = {code: has(code) for code in ("sentinel_value", "zero_concentration",
                                                "formula_without_value", "conflicting_values")}
        # an HCO3 flux carries the reader's flag of an alkalinity holding carbonate (set where
        # an alkalinity fills HCO3; a table karstsink wrote keeps it) and flags a pH under the
        # carbonate buffer, where the sink's acid correction does not hold
        if _species_of(key) == "hco3":
            carbonate = np.array(["carbonate_in_alkalinity" in f for f in old])
            ph_col = KEYS["ph"][0]
            if ph_col in table.columns:
                ph = pd.to_numeric(table[ph_col], errors="coerce").to_numpy(float)
                with np.errstate(invalid="ignore"):
                    low_ph = ph < qa.PH_CARBONATE_BUFFER_MIN
        empty = np.isnan(vals) & ~not_numeric & ~negative & ~censored & ~np.any(
            list(unread.values()), axis=0)
        conc = vals if KEYS[key][1] == "orgc" else np.asarray(
            from_mmol_per_l(vals, _species_of(key), "mg/L"), dtype=float)
        src_units = table.attrs.get("source_units") or {}
        unit = "; ".join(dict.fromkeys(str(src_units[k]) for k in keys if k in src_units)) \
            or ("mg/L" if KEYS[key][1] == "orgc" else "mmol/L")
        role = role or key
    else:
        conc, status, unit = _raw_column(table, raw_col, role, units, source)
        value_col = raw_col
        censored = status == cells.BELOW
        limit_unknown = censored & np.isnan(conc)
        not_numeric = status == cells.NOT_NUMERIC
        above = status == cells.ABOVE
        negative = conc < 0
        empty = status == cells.MISSING
        conc = np.where(negative, np.nan, conc)
    remark = next((by_lower[r] for r in _REMARK_NAMES if r in by_lower), None)
    if remark is not None:  # USGS: '<' in the remark column, the limit in the value column
        marked = np.array([t.strip() == "<" for t in cells.text_cells(table[remark])])
        columns = list(table.columns)
        # the remark is the value's on its right ('date,remark,value', EGRET's remark/value
        # pairs); in a table of several constituents it says nothing of the others
        if columns.index(remark) + 1 < len(columns) and columns[columns.index(remark) + 1] \
                == value_col:
            censored = censored | (marked & np.isfinite(conc))
        elif marked.any():
            warnings.warn(f"{source}: the remark column {str(remark)!r} marks {int(marked.sum())}"
                          f" row(s) '<', and is not the column before {str(value_col)!r}: it "
                          f"is not applied to {what} (write '<' in its own cells to censor it).",
                          DataQualityWarning, stacklevel=2)
    for mask, code in ((not_numeric, "not_numeric"), (empty, "missing_value"),
                       (negative, "negative_value"), (censored & ~limit_unknown,
                                                      "below_detection"),
                       (limit_unknown, "detection_limit_unknown"), (above, "above_range"),
                       *((m, c) for c, m in unread.items())):
        for i in np.flatnonzero(mask):
            flags[i].append(f"{code}:{flag_key}")
    for mask, code in ((carbonate, "carbonate_in_alkalinity"),  # alkalinity above pH 8.3
                       (low_ph, "ph_below_carbonate_buffer")):
        for i in np.flatnonzero(mask):
            flags[i].append(code)

    when, date_col = _dates(table, date_column, date_format, source)
    no_date = np.isnat(when)
    for i in np.flatnonzero(no_date):
        flags[i].append("bad_date")
    conc = np.where(no_date, np.nan, conc)
    same_day, copy = _repeated_dates(when, conc, censored)
    for mask, code in ((same_day, "duplicate_sample_date"), (copy, "duplicate_sample")):
        for i in np.flatnonzero(mask):
            flags[i].append(code)

    keep = _input_columns(table)
    out = table[keep].copy()
    out["date"] = pd.Series(when, index=table.index).dt.normalize().astype("datetime64[ns]")
    out["conc_mg_L"] = np.asarray(conc, dtype=float)
    out["censored"] = censored & np.isfinite(out["conc_mg_L"].to_numpy())
    out["qa_flags"] = [qa.join(f) for f in flags]
    order = out["date"].reset_index(drop=True).sort_values(kind="stable").index.to_numpy()
    out = out.iloc[order].reset_index(drop=True)  # the fits take date order (NaT last)
    out.attrs = {"input_rows": order.tolist(), "source": source, "constituent": name.lower(),
                 "species": role, "units": unit, "value_column": str(value_col),
                 "date_column": date_col,
                 "below_detection": "limit",  # censored values are at their limit here
                 "value_taken_as": taken_as}  # 'value' read as the constituent asked for
    n_bad = int((~np.isfinite(out["conc_mg_L"])).sum())
    if int(np.isfinite(out["conc_mg_L"]).sum()) == 0:
        text = cells.text_cells(table[value_col]) if value_col in table.columns else [""] * n
        why = describe_unusable({"not numeric": not_numeric, "empty": empty, "negative": negative,
                                 "below detection with no limit": limit_unknown,
                                 "without a date": no_date,
                                 **{c.replace("_", " "): m for c, m in unread.items()}}, text)
        other = " with --constituent (constituent=)" if species is None else ""
        raise DataError(f"{source}: no usable {flag_key} value in column {str(value_col)!r} "
                        f"({why}); check the column, or name another{other}.")
    if n_bad:
        warnings.warn(
            f"{source}: {n_bad} sample(s) have no usable {flag_key} value (flagged in "
            "qa_flags) and are not used for calibration.", DataQualityWarning, stacklevel=2)
    said = [f"{int(m.sum())} {what}" for m, what in (
        (copy, "repeat an earlier row's date and value (flagged 'duplicate_sample' and left "
               "out)"),
        (same_day, "share their date with a different value (flagged "
                   "'duplicate_sample_date'; each is used)"),
        (carbonate, "give total alkalinity for HCO3 at pH above 8.3 with no CO3, so part of it "
                    "is carbonate and their HCO3 flux is overstated (flagged "
                    "'carbonate_in_alkalinity'; not left out for it)"),
        (low_ph, f"have a pH below {qa.PH_CARBONATE_BUFFER_MIN:g}, where sulfuric acid releases "
                 "CO2 rather than HCO3, so the sink's acid correction does not hold for them "
                 "(flagged 'ph_below_carbonate_buffer'; not left out for it)")) if m.any()]
    if said:
        warnings.warn(f"{source}: of {n} sample(s), {' and '.join(said)}.",
                      DataQualityWarning, stacklevel=2)
    return out


def _input_columns(table: pd.DataFrame) -> list:
    """The table's own columns (not the canonical ones the reader appended)."""
    colmap = table.attrs.get("column_map")
    if colmap is None:
        return [c for c in table.columns if c not in _OUTPUT]
    own = set(colmap) | set(table.attrs.get("unmatched_columns") or [])
    return [c for c in table.columns if str(c) in own and c not in _OUTPUT[1:]]


def pair_with_discharge(samples: pd.DataFrame, daily: pd.DataFrame) -> pd.DataFrame:
    """Attach each sample's daily mean discharge and flag samples outside the record.

    Parameters
    ----------
    samples : pandas.DataFrame
        From :func:`read_flux_samples`.
    daily : pandas.DataFrame
        From :func:`karstsink.io.discharge.read_discharge`.

    Returns
    -------
    pandas.DataFrame
        ``samples`` with ``discharge_m3s`` and an ``in_record`` (bool) column;
        samples outside the record, on a day without discharge or without a date
        get the flag ``outside_discharge_record`` / ``no_discharge`` / ``bad_date``
        and are not used (the rows stay).

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
    dated = out["date"].notna().to_numpy()  # a row without a date: bad_date, not used
    inside = out["date"].between(daily.index.min(), daily.index.max()).to_numpy()
    has_q = np.isfinite(out["discharge_m3s"].to_numpy())
    flags = np.array(out.get("qa_flags", pd.Series([""] * len(out))).astype(object).to_numpy(),
                     dtype=object, copy=True)
    for mask, code in ((~dated, "bad_date"), (dated & ~inside, "outside_discharge_record"),
                       (inside & ~has_q, "no_discharge")):
        qa.add_flag(flags, mask, code)
    out["qa_flags"] = flags
    out["in_record"] = inside & has_q
    usable = out["in_record"] & np.isfinite(out["conc_mg_L"])
    src = samples.attrs.get("source", "samples")
    if not usable.any() and out["in_record"].any():  # the days are there; the values not
        raise DataError(
            f"{src}: none of the {len(out)} samples has a usable concentration (every "
            f"value is missing, NaN or was not read); check the value column and its unit.")
    if not usable.any():
        d = out.loc[dated, "date"]
        span = f"{d.min():%Y-%m-%d}..{d.max():%Y-%m-%d}" if len(d) else "none has a date"
        raise DataError(
            f"{src}: none of the {len(out)} samples ({span}) falls on a day of the discharge "
            f"record ({daily.index.min():%Y-%m-%d}..{daily.index.max():%Y-%m-%d}); check the "
            "files and their date formats."
        )
    if (dated & ~inside).any():
        outside = out.loc[dated & ~inside, "date"]
        warnings.warn(
            f"{src}: {len(outside)} sample(s) dated {outside.min():%Y-%m-%d}.."
            f"{outside.max():%Y-%m-%d} fall outside the discharge record "
            f"({daily.index.min():%Y-%m-%d}..{daily.index.max():%Y-%m-%d}); flagged "
            "'outside_discharge_record' and not used.", DataQualityWarning, stacklevel=2)
    if (inside & ~has_q).any():
        warnings.warn(
            f"{src}: {int((inside & ~has_q).sum())} sample(s) fall on days without discharge; "
            "flagged 'no_discharge' and not used.", DataQualityWarning, stacklevel=2)
    out.attrs.update(samples.attrs)
    return out
