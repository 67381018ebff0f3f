"""The canonical sample table: columns matched, cells parsed, units applied, rows flagged.

Private part of the sample reader (:mod:`karstsink.io.samples`): :func:`_standardize`
builds the canonical table of :func:`karstsink.io.samples.standardize` from a wide or
long table of text cells; :func:`parse_date_column` is the one date-column reader
(:func:`karstsink.io.dates.parse_dates` with its ambiguity error as a DataError).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from .. import qa as _qa  # not 'qa': _standardize has a local of that name
from ..exceptions import ConfigError, DataError
from . import cells, dates
from ._sample_checks import merge_readings, read_value_column
from ._sample_checks import parse_coordinates as _parse_coordinates
from ._sample_columns import _map_columns
from ._sample_units import _convert, _resolve_units
from .headers import CANONICAL_NAMES, KEYS
from .samples_long import is_long, pivot_long

#: The major ions every natural water holds in measurable amounts (rain alone brings Na, K,
#: Cl and SO4), whose exactly 0 is a 0 typed for a missing value (``zero_concentration``).
#: Not NO3, CO3 and the trace constituents: their 0 is a value below the reporting
#: resolution (an anoxic water's NO3, a CO3 titration's phenolphthalein alkalinity of 0).
ZERO_IS_MISSING = frozenset({"ca", "mg", "na", "k", "cl", "so4", "hco3", "alk"})

_FLAG_ORDER = list(_qa.RULES)
_KEY_ORDER = list(KEYS)

#: Ion columns always present in the canonical table [mmol L⁻¹].
ION_COLUMNS = ["ca_mmol_l", "mg_mmol_l", "na_mmol_l", "k_mmol_l", "cl_mmol_l",
               "so4_mmol_l", "no3_mmol_l", "hco3_mmol_l"]
_ALWAYS = {"temp_c", "ph", *ION_COLUMNS, "qa_flags"}
_OUTPUT_ORDER = ["sample_id", "site", "date", "lat", "lon", "temp_c", "ph", "ec_us_cm",
                 *ION_COLUMNS, "co3_mmol_l", "nh4_mmol_l", "no2_mmol_l", "f_mmol_l",
                 "po4_mmol_l", "sio2_mmol_l", "sr_mmol_l", "fe_mmol_l", "mn_mmol_l",
                 "ba_mmol_l", "doc_mg_c_l", "toc_mg_c_l", "qa_flags"]

_BELOW_POLICIES = {"half": 0.5, "zero": 0.0, "limit": 1.0, "nan": np.nan}


def stand_in_fraction(below_detection: Any) -> float:
    """The share of its detection limit a ``'<DL'`` value is read as under a policy.

    ``"half"`` 0.5, ``"limit"`` 1, ``"zero"`` 0, ``"nan"`` NaN, or a fraction 0-1.

    Raises
    ------
    karstsink.exceptions.ConfigError
        Any other policy.
    """
    if isinstance(below_detection, str):
        if below_detection.lower() in _BELOW_POLICIES:
            return _BELOW_POLICIES[below_detection.lower()]
    elif isinstance(below_detection, (int, float)) and not isinstance(below_detection, bool):
        if 0.0 <= float(below_detection) <= 1.0:
            return float(below_detection)
    raise ConfigError(
        f"below_detection={below_detection!r} is not valid; use 'half', 'zero', 'limit', "
        "'nan' or a fraction of the limit between 0 and 1."
    )


def reporting_limit_scale(censored: Any, below_detection: Any = "half") -> np.ndarray:
    """Per row, what takes the reader's value of a ``'<DL'`` cell back to its limit DL.

    1 where ``censored`` is False; ``1 / f`` where it is True and ``below_detection``
    stood in ``f x DL`` (``"half"``: 2, ``"limit"``: 1); NaN where the policy keeps no
    trace of the limit (``"zero"``, ``"nan"``).

    Parameters
    ----------
    censored : array_like of bool
        Rows whose cell was below its detection limit (flag ``below_detection:<key>``).
    below_detection : str or float, default "half"
        The reader's policy (``attrs["below_detection"]`` of its table).

    Examples
    --------
    >>> reporting_limit_scale([False, True], "half").tolist()
    [1.0, 2.0]
    """
    factor = stand_in_fraction(below_detection)
    back = 1.0 / factor if factor and np.isfinite(factor) else np.nan
    return np.where(np.asarray(censored, dtype=bool), back, 1.0)


#: Kinds whose duplicate columns are compared row by row (``conflicting_values``).
def _standardize(df: pd.DataFrame, *, units, below_detection, column_map, source,
                 header_units=None, decimal_comma=None, reader=None,
                 file_unit=None, date_format=None, units_required=True,
                 renamed=None, formula_cells=None, texts=None) -> pd.DataFrame:
    # units_required=False (the flux reader): a concentration column with no unit anywhere
    # (or one --units cannot describe) is left out, its canonical column NaN, and
    # attrs["unitless_columns"] keeps {key: the UnitError message}; the caller raises it
    # for the columns it uses.  It also accepts a table without any recognised column
    # (the flux reader may be told its columns).  renamed: {'Ca (mg/L).1': 'Ca (mg/L)'}
    # for a header written twice; formula_cells: {column: [row, ...]} of XLSX formula
    # cells without a stored value.  texts: {column: cells} of df as text_cells gives them
    # (the file reader has them already).
    renamed = dict(renamed or {})
    formula_cells = dict(formula_cells or {})
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}.")
    factor = stand_in_fraction(below_detection)
    dup = df.columns[df.columns.duplicated()].unique().tolist()
    if dup:
        raise DataError(f"{source}: duplicate column name(s) {dup}; rename them so each "
                        "column has its own name.")
    notes: list[str] = []
    n = len(df)
    text = texts if texts is not None else {c: cells.text_cells(df[c]) for c in df.columns}
    measured: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    as_written: set[str] = set()  # keys read from a canonical column (ca_mmol_l): 0 is none
    ids: dict[str, list[str]] = {}
    dates = bad_dates = bad_info = None
    out = df.copy(deep=False)  # copy-on-write: the caller's frame is never modified
    in_place: set = set()
    colmap: dict[str, str] = {}
    unitless: dict[str, str] = {}
    special: dict[str, dict[str, np.ndarray]] = {"conflicting_values": {},
                                                 "sentinel_value": {},
                                                 "formula_without_value": {}}

    if is_long(df.columns):
        result = pivot_long(df, text, _convert, source)
        out = result.wide
        n = len(out)
        notes.extend(result.notes)
        if result.unmapped:
            notes.append(f"characteristics not used: {result.unmapped}")
        source_units = dict(result.units)
        measured = result.measured
        special["sentinel_value"].update(result.sentinels)
        special["conflicting_values"].update(result.conflicts)
        used, by_key, _unmatched, _in_place, _extra = _map_columns(
            out[result.sample_columns], None, source, [])
        colmap = dict(result.column_map)
        wide_text = {c: cells.text_cells(out[c]) for c in out.columns}
        for col, (key, _u, _q) in used.items():
            if KEYS[key][1] in ("id", "date", "time"):
                colmap[str(col)] = key
            if KEYS[key][1] == "id":
                ids[key] = [t.strip() for t in wide_text[col]]
            elif KEYS[key][1] == "coord" and key not in measured:
                colmap[str(col)] = key
                measured[key] = _parse_coordinates(wide_text[col])
        unmatched = [str(c) for c in out.columns if str(c) not in colmap]
        date_text = wide_text
        date_col, time_col = by_key.get("date"), by_key.get("time")
        if "site" in ids and "sample_id" not in ids:
            stamp = [f"{s}_{d}".strip("_") for s, d in zip(
                ids["site"], wide_text[date_col] if date_col is not None else [""] * n,
                strict=True)]
            if time_col is not None:
                stamp = [f"{s}_{t}".strip("_") for s, t in zip(stamp, wide_text[time_col],
                                                               strict=True)]
            ids["sample_id"] = stamp
        reader = {**(reader or {}), "layout": "long", "rows_in": len(df), "samples_out": n}
    else:
        used, by_key, unmatched, in_place, extra = _map_columns(df, column_map, source, notes,
                                                                renamed, header_units)
        if not used and not extra and units_required:
            found = [renamed.get(str(c), str(c)) for c in df.columns]
            raise DataError(
                f"{source}: no column is recognised as a sample quantity (columns found: "
                f"{found}); name them as in docs/samples.md (e.g. 'pH', 'T (°C)', "
                "'HCO3 (mg/L)') or pass column_map={header: key}, e.g. column_map="
                "{'Calc. (mg/L)': 'ca'} (CLI: rename the headers).")
        colmap = {str(c): k for c, (k, _u, _q) in used.items()}
        colmap.update({str(c): k for k, cols in extra.items() for c in cols})
        source_units = _resolve_units(used, units, header_units or {}, source, notes,
                                      file_unit, unitless=None if units_required else unitless)
        valued: set[str] = set()
        for col, (key, _u, _q) in used.items():
            kind = KEYS[key][1]
            if key in unitless:
                continue
            if kind == "id":
                ids[key] = _single_spaced(text[col])
            elif kind in ("temp", "ph", "ec", "conc", "orgc", "coord"):
                readings = [read_value_column(str(col), text[col], key, source_units.get(key),
                                              decimal_comma, formula_cells.get(str(col), ()))]
                for other, match in extra.get(key, {}).items():
                    unit = _resolve_units({other: match}, units, header_units or {}, source,
                                          notes, file_unit)
                    readings.append(read_value_column(
                        str(other), text[other], key, unit.get(key), decimal_comma,
                        formula_cells.get(str(other), ())))
                valued.update(r.column for r in readings)
                reading, conflict = merge_readings(key, readings, notes, renamed)
                special["conflicting_values"][key] = conflict
                special["sentinel_value"][key] = reading.sentinel
                special["formula_without_value"][key] = reading.formula
                measured[key] = (reading.values, reading.status)
                if str(reading.column) in CANONICAL_NAMES:
                    as_written.add(key)
        loose = {renamed.get(c, c): len(r) for c, r in formula_cells.items() if c not in valued}
        if loose:
            notes.append(f"XLSX formula cells without a stored value, read as empty: {loose} "
                         "(column: cells); open and save the workbook in Excel or LibreOffice "
                         "to store the values")
        date_text = text
        date_col, time_col = by_key.get("date"), by_key.get("time")
        reader = {**(reader or {}), "layout": "wide"}
    if date_col is not None:  # the raw date (and time) text of either layout
        dates, bad_dates, note = parse_date_column(
            date_text[date_col], date_text[time_col] if time_col is not None else None,
            date_format=date_format, source=source, column=str(date_col),
            excel_epoch=(reader or {}).get("excel_epoch"))
        if note:
            notes.append(note)
        if bad_dates.any():  # the cell text, for readers that refuse unreadable dates
            first = int(np.flatnonzero(bad_dates)[0])
            bad_info = {"column": str(date_col), "count": int(bad_dates.sum()),
                        "first_row": first, "first_cell": date_text[date_col][first]}

    flags: dict[int, list[tuple[int, int, str]]] = {}  # only the flagged rows

    def flag(mask: np.ndarray, code: str, key: str | None = None) -> None:
        rank = _FLAG_ORDER.index(code)
        krank = _KEY_ORDER.index(key) if key else -1
        text_code = f"{code}:{key}" if key else code
        for i in np.flatnonzero(mask).tolist():
            flags.setdefault(i, []).append((rank, krank, text_code))

    columns: dict[str, Any] = {}
    fatal_keys: dict[str, np.ndarray] = {}
    for key in KEYS:
        if key not in measured:
            continue
        values, status = measured[key]
        values = values.copy()
        kind = KEYS[key][1]
        below = status == cells.BELOW
        censored = np.zeros(n, dtype=bool)
        if kind in ("ph", "temp"):  # a measurement, not a concentration: nothing can stand
            censored = below | (status == cells.ABOVE)  # in for '<7'; not used
            values[censored] = np.nan
            flag(censored, "censored_value", key)
            below = np.zeros(n, dtype=bool)
        values[below] = values[below] * factor
        if kind == "ph":  # pH 0 means "not measured" (0-for-missing), not a value
            zero = cells.sentinel_mask(values, status, (_qa.PH_SENTINEL,))
            values[zero] = np.nan
            masks = special["sentinel_value"]
            masks[key] = masks[key] | zero if key in masks else zero
        not_num = status == cells.NOT_NUMERIC
        marked = np.zeros(n, dtype=bool)  # conflicting, sentinel, formula: fatal, value NaN
        for code, masks in special.items():
            if key in masks:
                flag(masks[key], code, key)
                marked |= masks[key]
        if kind == "coord":
            limit = 90.0 if key == "lat" else 180.0
            bad = not_num | (np.abs(values) > limit)
            values[bad] = np.nan
            flag(bad, "bad_coordinate", key)
            columns[KEYS[key][0]] = values
            continue
        flag(not_num, "not_numeric", key)
        fatal = not_num | marked | censored
        if kind == "ph":
            out_range = (values < _qa.PH_RANGE[0]) | (values > _qa.PH_RANGE[1])
            flag(out_range, "ph_out_of_range")
            values[out_range] = np.nan
            fatal |= out_range
            usual = (values < _qa.PH_USUAL_RANGE[0]) | (values > _qa.PH_USUAL_RANGE[1])
            flag(usual & ~out_range, "ph_unusual")
        elif kind == "temp":
            out_range = (values < _qa.TEMP_RANGE_C[0]) | (values > _qa.TEMP_RANGE_C[1])
            flag(out_range, "temp_out_of_range")
            values[out_range] = np.nan
            fatal |= out_range
            usual = (values < _qa.TEMP_USUAL_RANGE_C[0]) | (values > _qa.TEMP_USUAL_RANGE_C[1])
            flag(usual & ~out_range, "temp_unusual")
        else:
            neg = values < 0
            flag(neg, "negative_value", key)
            values[neg] = np.nan
            fatal |= neg
            if key in ZERO_IS_MISSING and key not in as_written:
                # exactly 0 is no measurement ('<DL' is below detection, a blank is
                # missing): for a major ion a 0 typed for a missing value, never read as a
                # concentration.  A canonical column (ca_mmol_l), karstsink's own, keeps
                # it: 0 is none there (a model water, or below_detection="zero").
                zero = (status == cells.OK) & (values == 0)
                flag(zero, "zero_concentration", key)
                values[zero] = np.nan
                fatal |= zero
        flag(below, "below_detection", key)
        flag((status == cells.ABOVE) & ~censored, "above_range", key)
        fatal_keys[key] = fatal
        measured[key] = (values, status)
        if key not in ("hco3", "alk"):
            columns[KEYS[key][0]] = values

    # alkalinity: HCO3 first, alkalinity where HCO3 is missing
    hco3 = np.full(n, np.nan)
    alk_fatal = np.zeros(n, dtype=bool)
    if "hco3" in measured:
        hco3 = measured["hco3"][0].copy()
        alk_fatal |= fatal_keys["hco3"]
    if "alk" in measured:
        alk = measured["alk"][0]
        fill = np.isnan(hco3) & ~alk_fatal
        hco3[fill] = alk[fill]
        # Total alkalinity already holds the carbonate (alk = HCO3 + 2 CO3 [meq/L]) and
        # PHREEQC is given HCO3 + 2 CO3: where CO3 was measured, HCO3 = alk - 2 CO3.
        co3 = columns.get("co3_mmol_l")
        if co3 is not None:
            with_co3 = fill & np.isfinite(hco3) & np.isfinite(co3)
            hco3[with_co3] -= 2.0 * co3[with_co3]
            short = with_co3 & (hco3 < 0)
            flag(short, "carbonate_exceeds_alkalinity")
            hco3[short] = np.nan
            alk_fatal |= short
            if with_co3.any():
                notes.append(f"{int(with_co3.sum())} row(s) with total alkalinity and CO3 but "
                             "no HCO3: hco3_mmol_l = alkalinity - 2 x co3_mmol_l [meq/L]")
        alk_fatal |= fatal_keys["alk"] & np.isnan(hco3)
        ph = columns.get(KEYS["ph"][0])
        if ph is not None:  # above pH 8.3 an alkalinity without CO3 holds carbonate too
            no_co3 = np.ones(n, bool) if co3 is None else ~np.isfinite(co3)
            if "co3" in measured:  # a '<DL' CO3 is a CO3 given, whatever its stand-in
                no_co3 &= measured["co3"][1] != cells.BELOW
            with np.errstate(invalid="ignore"):
                flag(fill & np.isfinite(hco3) & no_co3 & (ph > _qa.PH_PHENOLPHTHALEIN),
                     "carbonate_in_alkalinity")
        if "hco3" in measured:  # a '<DL' of either is a stand-in, not judged
            censored = (measured["hco3"][1] == cells.BELOW) | (measured["alk"][1] == cells.BELOW)
            flag(_alkalinity_disagrees(measured["hco3"][0], alk, columns.get("co3_mmol_l"),
                                       columns.get(KEYS["ph"][0])) & ~censored,
                 "alkalinity_disagrees")
    alk_source = ("hco3 (alkalinity where HCO3 is missing)" if {"hco3", "alk"} <= set(measured)
                  else "hco3" if "hco3" in measured else "alk" if "alk" in measured else None)
    columns["hco3_mmol_l"] = hco3
    for key, code in (("ph", "missing_ph"), ("temp", "missing_temp")):
        col = KEYS[key][0]
        vals = columns.get(col, np.full(n, np.nan))
        fatal = fatal_keys.get(key, np.zeros(n, dtype=bool))
        flag(np.isnan(vals) & ~fatal, code)
    flag(np.isnan(hco3) & ~alk_fatal, "missing_alkalinity")
    if dates is not None and bad_dates is not None:
        flag(bad_dates, "bad_date")
    if "sample_id" in ids:
        sid = pd.Series(ids["sample_id"])
        dup = sid.ne("") & sid.duplicated(keep=False)
        flag(dup.to_numpy(), "duplicate_sample_id")

    # previous flags (a table standardised before) are kept
    if "qa_flags" in df.columns and not is_long(df.columns):
        for i, old in enumerate(cells.text_cells(df["qa_flags"])):
            for code in filter(None, old.split(";")):
                base = code.split(":")[0]
                rank = _FLAG_ORDER.index(base) if base in _FLAG_ORDER else len(_FLAG_ORDER)
                key = code.split(":")[1] if ":" in code else None
                flags.setdefault(i, []).append(
                    (rank, _KEY_ORDER.index(key) if key in _KEY_ORDER else -1, code))
    qa = [""] * n
    for i, row in flags.items():
        qa[i] = _explain_missing(list(dict.fromkeys(c for _r, _k, c in sorted(row))))

    # assemble: user's columns untouched, canonical ones appended (or in place if so named)
    new: dict[str, Any] = {}
    for key in ("sample_id", "site"):
        if key in ids:
            new[key] = pd.Series([v if v else None for v in ids[key]], dtype="str")
    if dates is not None:
        new["date"] = pd.Series(dates, dtype="datetime64[ns]")
    for col in _OUTPUT_ORDER:
        if col in ("sample_id", "site", "date", "qa_flags"):
            continue
        if col in columns:
            new[col] = pd.Series(columns[col], dtype=float)
        elif col in _ALWAYS:
            new[col] = pd.Series(np.full(n, np.nan), dtype=float)
    new["qa_flags"] = pd.Series(qa, dtype="str")
    out = out.reset_index(drop=True) if not out.index.equals(pd.RangeIndex(n)) else out
    replaced = {str(c) for c in in_place}
    for col in [*replaced, *(["qa_flags"] if "qa_flags" in out.columns else [])]:
        if col in new:
            out[col] = new.pop(col).to_numpy() if col != "qa_flags" else new.pop(col).array
    clash = [c for c in new if c in out.columns]
    for col in clash:  # a user column that happens to carry a canonical name we could not read
        out[col] = new.pop(col).array
    appended = pd.DataFrame(new)
    appended.index = out.index
    result = pd.concat([out, appended], axis=1)
    if not df.index.equals(pd.RangeIndex(len(df))) and len(result) == len(df):
        result.index = df.index
    missing_cols = [k for k in ("ph", "temp") if k not in measured]
    if alk_source is None:
        missing_cols.append("hco3/alk")
    result.attrs = {
        "source": source,
        "source_units": dict(source_units),
        "column_map": colmap,
        "alkalinity_source": alk_source,
        "below_detection": below_detection,
        "unmatched_columns": unmatched,
        "missing_columns": missing_cols,
        "reader": reader,
        "notes": notes,
    }
    if date_format is not None:
        result.attrs["date_format"] = date_format
    if unitless:
        result.attrs["unitless_columns"] = dict(unitless)
    if bad_info is not None:
        result.attrs["bad_dates"] = bad_info
    return result


def _alkalinity_disagrees(hco3: np.ndarray, alk: np.ndarray, co3: np.ndarray | None,
                          ph: np.ndarray | None) -> np.ndarray:
    """Rows where HCO3 (+ 2 CO3) [meq/L] and total alkalinity [meq/L] differ by more than
    :data:`karstsink.qa.ALKALINITY_DISAGREE_PCT` of the alkalinity (rule
    ``alkalinity_disagrees``); without a CO3 value, rows at pH <= 8.3 only."""
    n = len(hco3)
    co3 = np.full(n, np.nan) if co3 is None else co3
    ph = np.full(n, np.nan) if ph is None else ph
    carbonate = np.where(np.isfinite(co3), 2.0 * co3, np.where(ph <= _qa.PH_PHENOLPHTHALEIN,
                                                                0.0, np.nan))
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = 100.0 * np.abs(hco3 + carbonate - alk) / alk
    return np.isfinite(pct) & (pct > _qa.ALKALINITY_DISAGREE_PCT)


_SPACE_RE = re.compile(r"\s")  # the whitespace str.split() splits at


def _single_spaced(texts: list[str]) -> list[str]:
    """Each cell with its runs of whitespace made one space and the ends stripped."""
    if not _SPACE_RE.search("".join(texts)):
        return list(texts)  # nothing to change (sample ids mostly)
    return [" ".join(t.split()) for t in texts]


def parse_date_column(texts, times=None, *, date_format: str | None = None,
                      source: str = "table", column: str = "date",
                      excel_epoch: str | None = None):
    """:func:`karstsink.io.dates.parse_dates` with its ambiguity error as a DataError.

    Returns ``(dates, bad, note)`` as that function; an undecidable day/month order
    without ``date_format`` becomes one line naming ``source`` and ``column``.
    ``excel_epoch`` (None: the 1900 system) is the workbook's, ``info["excel_epoch"]``.
    """
    try:
        return dates.parse_dates(texts, times, date_format=date_format,
                                 excel_epoch=excel_epoch or dates.EXCEL_EPOCH_1900)
    except dates.AmbiguousDateError as err:
        raise DataError(
            f"{source}: column {column!r}: {err.reason}; pass date_format= (CLI: "
            "--date-format), e.g. '%d/%m/%Y' (day first) or '%m/%d/%Y' (month first)."
        ) from err


_MARKED = ("not_numeric", "conflicting_values", "sentinel_value", "formula_without_value",
           "censored_value")
_EXPLAINED_BY = {
    "missing_ph": {"ph_out_of_range", *(f"{c}:ph" for c in _MARKED)},
    "missing_temp": {"temp_out_of_range", *(f"{c}:temp" for c in _MARKED)},
    "missing_alkalinity": {"negative_value:hco3", "negative_value:alk",
                           *(f"{c}:{k}" for c in _MARKED for k in ("hco3", "alk"))},
}


def _explain_missing(codes: list[str]) -> str:
    """Drop a missing_* code when a fatal flag (e.g. kept from an earlier pass) explains it."""
    present = set(codes)
    return ";".join(c for c in codes if not (_EXPLAINED_BY.get(c, set()) & present))

