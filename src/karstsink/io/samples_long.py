"""Long (one row per sample and parameter) tables, as the Water Quality Portal exports them.

Helper of :mod:`karstsink.io.samples`: detects the long form and pivots it
to one row per (site, date[, time]), converting each result with the unit code
of its own row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import cells
from .headers import KEYS, compact_name, lookup_name, parse_unit

# compact column names of the WQP result profiles: legacy (WQX 2.2) first, then WQX 3.0
SITE = ("monitoringlocationidentifier", "locationidentifier")
DATE = ("activitystartdate",)
TIME = ("activitystarttime/time", "activitystarttime")
NAME = ("characteristicname", "resultcharacteristic")
VALUE = ("resultmeasurevalue", "resultmeasure")
UNIT = ("resultmeasure/measureunitcode", "resultmeasureunit")
FRACTION = ("resultsamplefractiontext", "resultsamplefraction")
CONDITION = ("resultdetectionconditiontext", "resultresultdetectioncondition")
LIMIT = ("detectionquantitationlimitmeasure/measurevalue", "detectionlimitmeasurea")
LIMIT_UNIT = ("detectionquantitationlimitmeasure/measureunitcode", "detectionlimitmeasureunita")
_ROLES = (SITE, DATE, TIME, NAME, VALUE, UNIT, FRACTION, CONDITION, LIMIT, LIMIT_UNIT)


def _c(name: str) -> str:
    return compact_name(name)


def is_long(columns) -> bool:
    """True if ``columns`` hold a WQP-style long table (characteristic name and result value)."""
    names = {_c(str(c)) for c in columns}
    return bool(names & set(NAME)) and bool(names & set(VALUE))


@dataclass
class LongResult:
    """A long table pivoted: text table, per-key (values, status, unit) and notes."""

    wide: pd.DataFrame
    measured: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)
    column_map: dict[str, str] = field(default_factory=dict)
    sample_columns: list[str] = field(default_factory=list)
    #: {key: rows of the pivoted table whose result was a no-value sentinel (-999)}
    sentinels: dict[str, np.ndarray] = field(default_factory=dict)
    #: {key: rows of the pivoted table with two equally ranked results that disagree}
    conflicts: dict[str, np.ndarray] = field(default_factory=dict)


def _key_for(name: str, fraction: str) -> tuple[str, str | None] | None:
    low = " ".join(name.lower().split())
    if low == "organic carbon":
        return ("doc" if fraction.lower().startswith("dissolved") else "toc"), None
    return lookup_name(name)


def pivot_long(df: pd.DataFrame, text: dict[str, list[str]], convert, source: str) -> LongResult:
    """Pivot a long table ``df`` (all cells given as text in ``text``) to one row per sample.

    ``convert(values, key, unit)`` converts to the canonical unit of ``key``.
    """
    by_compact = {_c(str(c)): c for c in df.columns}
    col: dict[tuple[str, ...], Any] = {
        role: next((by_compact[k] for k in role if k in by_compact), None) for role in _ROLES}
    n = len(df)

    def get(k: tuple[str, ...]) -> list[str]:
        return text[col[k]] if col[k] is not None else [""] * n

    site, date, time = get(SITE), get(DATE), get(TIME)
    group_cols = [c for c in (col[SITE], col[DATE], col[TIME]) if c is not None]
    if not group_cols:
        from ..exceptions import MissingColumnError

        raise MissingColumnError(
            f"{source}: a long table needs MonitoringLocationIdentifier and/or "
            "ActivityStartDate to tell samples apart; neither column was found."
        )
    keys = list(zip(site, date, time, strict=True))
    order: dict[tuple[str, str, str], int] = {}
    for k in keys:
        order.setdefault(k, len(order))
    group = np.array([order[k] for k in keys], dtype=int)
    n_out = len(order)

    # sample-level columns: those constant within every group
    result_cols = {col[k] for k in (NAME, VALUE, UNIT, FRACTION, CONDITION, LIMIT, LIMIT_UNIT)}
    keep: list[str] = list(group_cols)
    dropped: list[str] = []
    for c in df.columns:
        if c in keep or c in result_cols:
            continue
        vals = text[c]
        first: dict[int, str] = {}
        constant = True
        for g, v in zip(group, vals, strict=True):
            if first.setdefault(int(g), v) != v:
                constant = False
                break
        (keep if constant else dropped).append(c)
    first_row = np.full(n_out, -1)
    for i in range(n - 1, -1, -1):
        first_row[group[i]] = i
    wide = pd.DataFrame({c: [text[c][i] for i in first_row] for c in keep}, dtype="str")

    names, values, units = get(NAME), get(VALUE), get(UNIT)
    fractions, conditions = get(FRACTION), get(CONDITION)
    limits, limit_units = get(LIMIT), get(LIMIT_UNIT)
    result = LongResult(wide=wide, sample_columns=list(keep))
    if dropped:
        result.notes.append(f"long table: per-result columns not carried: {dropped}")
    chosen: dict[tuple[int, str], tuple[int, int]] = {}  # (group, key) -> (rank, row)
    twins: dict[tuple[int, str], list[int]] = {}  # (group, key) -> other rows of that rank
    shown_row: dict[tuple[int, str], tuple[int, int]] = {}  # (group, name) -> (rank, row)
    char_units: dict[str, set[str]] = {}
    unmapped: set[str] = set()
    for i in range(n):
        name = names[i].strip()
        if not name:
            continue
        frac = fractions[i].strip().lower()
        rank = 0 if frac == "dissolved" else (1 if frac in ("", "total") else 2)
        char_units.setdefault(name, set()).add(units[i].strip())
        text_slot = (int(group[i]), name)
        if text_slot not in shown_row or rank < shown_row[text_slot][0]:
            shown_row[text_slot] = (rank, i)
        hit = _key_for(names[i], fractions[i])
        if hit is None or KEYS[hit[0]][1] in ("id", "date", "time"):
            unmapped.add(name)
            continue
        slot = (int(group[i]), hit[0])
        if slot not in chosen or rank < chosen[slot][0]:
            chosen[slot] = (rank, i)
            twins.pop(slot, None)
        elif rank == chosen[slot][0]:  # the same quantity reported twice: compared below
            twins.setdefault(slot, []).append(i)
    result.unmapped = sorted(unmapped)
    not_used = n - len(chosen) - sum(1 for (_g, nm) in shown_row if nm in unmapped)
    if not_used:
        result.notes.append(f"long table: {not_used} result row(s) not used (a dissolved "
                            "result was preferred, or the same quantity was reported twice)")

    # original-text columns, one per characteristic, in order of first appearance
    labels: dict[str, str] = {}
    for name in dict.fromkeys(nm.strip() for nm in names if nm.strip()):
        us = char_units.get(name, set()) - {""}
        labels[name] = f"{name} ({next(iter(us))})" if len(us) == 1 else name
    text_cols = {label: [""] * n_out for label in labels.values()}
    for (g, name), (_r, i) in shown_row.items():
        label = labels[name]
        cell = values[i].strip()
        if not cell and limits[i].strip() and conditions[i].strip():
            cell = f"{'>' if 'above' in conditions[i].lower() else '<'}{limits[i].strip()}"
        if label == name and cell:
            cell = f"{cell} {units[i] or limit_units[i]}".strip()
        text_cols[label][g] = cell
    for (_g, key), (_r, i) in chosen.items():
        result.column_map.setdefault(labels[names[i].strip()], key)

    def row_value(i: int, key: str) -> tuple[float, int, str | None, bool]:
        """Result row ``i`` as ``key``: canonical value, cell status, unit, sentinel."""
        kind = KEYS[key][1]
        value, status = cells.parse_cell(values[i], decimal_comma=False)
        sentinel = bool(cells.sentinel_mask(np.array([value]), np.array([status]))[0]
                        and kind != "coord")
        if sentinel:
            value, status = np.nan, cells.MISSING
        unit_text = units[i]
        cond = conditions[i].strip().lower()
        if status == cells.MISSING and cond:
            lim, lim_status = cells.parse_cell(limits[i], decimal_comma=False)
            if lim_status == cells.OK:
                if "above" in cond:
                    value, status = lim, cells.ABOVE
                elif "not detected" in cond or "below" in cond or "not quantified" in cond:
                    value, status = lim, cells.BELOW
                unit_text = limit_units[i] or unit_text
            elif "not detected" in cond:
                value, status = np.nan, cells.BELOW
        unit = parse_unit(unit_text, kind) if kind not in ("coord",) else None
        if kind in ("conc", "orgc") and unit is None and np.isfinite(value):
            from ..exceptions import UnitError

            raise UnitError(
                f"{source}: result row {i + 1} ({names[i]}): unit code {unit_text!r} is not a "
                "unit karstsink reads; fix it or drop the row."
            )
        if kind in ("conc", "orgc", "temp", "ec") and unit is not None:
            hint = lookup_name(names[i])
            if hint and hint[1] and " as " not in unit and kind == "conc":
                unit = f"{unit} {hint[1]}"
            value = float(convert(np.array([value]), key, unit)[0])
        return value, status, unit, sentinel

    def disagree(key: str, i: int, a: float, j: int, b: float) -> bool:
        """As the wide reader's duplicate columns: over 1 % and the reported precisions."""
        from ._sample_checks import AGREE_RTOL, half_last_digit

        tol = 0.0
        for row, v in ((i, a), (j, b)):
            raw, _st = cells.parse_cell(values[row], decimal_comma=False)
            half = float(half_last_digit([values[row]], False)[0])
            tol += abs(v) * half / abs(raw) if raw else 0.0
        return abs(a - b) > max(AGREE_RTOL * max(abs(a), abs(b)), tol) * (1 + 1e-9)

    per_key: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    n_conflicts = 0
    for (g, key), (_r, i) in chosen.items():
        key_vals, stat = per_key.setdefault(
            key, (np.full(n_out, np.nan), np.full(n_out, cells.MISSING, dtype=np.int8)))
        value, status, unit, sentinel = row_value(i, key)
        if sentinel:
            result.sentinels.setdefault(key, np.zeros(n_out, dtype=bool))[g] = True
        if KEYS[key][1] in ("conc", "orgc", "temp", "ec") and unit is not None:
            seen = result.units.get(key)
            if seen is None:
                result.units[key] = unit
            elif unit not in seen.split("; "):
                result.units[key] = f"{seen}; {unit}"
        for j in twins.get((g, key), ()):
            other, other_status, _u, _s = row_value(j, key)
            if status == other_status == cells.OK and disagree(key, i, value, j, other):
                result.conflicts.setdefault(key, np.zeros(n_out, dtype=bool))[g] = True
                value, status = np.nan, cells.MISSING
                n_conflicts += 1
                break
        key_vals[g], stat[g] = value, status
    if n_conflicts:
        result.notes.append(f"long table: {n_conflicts} sample(s) report one quantity twice "
                            "with values that differ by over 1 % and the reported precision "
                            "(flagged conflicting_values:<key>, value NaN)")
    for label, col_text in text_cols.items():
        wide[label] = pd.Series(col_text, dtype="str")
    result.measured = per_key
    return result
