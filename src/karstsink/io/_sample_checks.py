"""One value column of a sample table, and several columns of one quantity merged.

Private part of the sample reader (:mod:`karstsink.io.samples`).
:func:`read_value_column` parses one measured column (decimal mark decided for
the column, sentinels such as ``-999`` and XLSX formulas without a stored value
marked, the unit applied); :func:`merge_readings` joins two or more columns of
the same quantity (``Ca (mg/L)`` and ``Ca (mmol/L)``, or one header written
twice): where they agree within 1 % or the reported precision one is used,
where they disagree the row is flagged ``conflicting_values:<key>`` and its
value set to NaN, never "first one wins" in silence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import cells
from ._sample_units import _accept_cells_with_unit, _convert
from .headers import KEYS

#: Relative agreement of two columns of one quantity (1 %), besides the reported precision.
AGREE_RTOL = 0.01

#: Sentinels of coordinate columns: the one list less -99, a valid longitude (99° W).
_COORD_SENTINELS = tuple(v for v in cells.SENTINEL_VALUES if v != -99.0)


_DIGITS_RE = re.compile(r"^(?:nd|bdl|lod|dl)?[<>≤≥=]*[+-]?(?P<int>[\d.,']*?)"
                        r"(?:(?P<mark>[.,])(?P<dec>\d+))?(?:e(?P<exp>[+-]?\d+))?l?$")


def half_last_digit(texts: Sequence[str], decimal_comma: bool) -> np.ndarray:
    """Half a unit of the last digit written in each cell (the reported precision).

    ``80`` -> 0.5, ``2.00`` -> 0.005, ``7,45`` (decimal comma) -> 0.005,
    ``1,051`` (thousands comma) -> 0.5, ``1.5e-3`` -> 5e-5; 0 where the cell is no
    number.  Used to tell two columns of one quantity that agree within rounding.
    """
    mark = "," if decimal_comma else "."
    half = {cell: _half_digit(cell, mark, decimal_comma) for cell in dict.fromkeys(texts)}
    return np.fromiter(map(half.__getitem__, texts), dtype=float, count=len(texts))


def _half_digit(cell: str, mark: str, decimal_comma: bool) -> float:
    m = _DIGITS_RE.match(cells.clean_cell(cell))
    if not m or not (m["int"] or m["dec"]):
        return 0.0
    decimals = len(m["dec"] or "")
    if m["dec"] and m["mark"] != mark and len(m["dec"]) == 3 and not decimal_comma:
        decimals = 0  # '1,051' in a column without decimal commas: a thousands comma
    try:
        return 0.5 * 10.0 ** (int(m["exp"] or 0) - decimals)
    except OverflowError:  # '1e999': no finite number, so no number (NOT_NUMERIC)
        return 0.0


class Reading:
    """One column of a quantity, in the canonical unit of its key.

    ``values`` [canonical unit], ``status`` (:mod:`karstsink.io.cells` codes; a
    sentinel or a formula cell is MISSING here and marked in its own mask),
    ``tolerance`` [canonical unit]: half the last digit written, worked out from
    the cells only when asked for (only columns of one quantity compared need it);
    ``tolerance`` may be given as an array or as a function returning it.
    """

    def __init__(self, column: str, values: np.ndarray, status: np.ndarray,
                 tolerance: np.ndarray | Callable[[], np.ndarray], sentinel: np.ndarray,
                 formula: np.ndarray):
        self.column, self.values, self.status = column, values, status
        self._tolerance = tolerance
        self.sentinel, self.formula = sentinel, formula

    @property
    def tolerance(self) -> np.ndarray:
        if callable(self._tolerance):
            self._tolerance = self._tolerance()
        return self._tolerance


def parse_coordinates(texts: list[str], decimal_comma: bool | None = None):
    """Decimal degrees (also from degrees-minutes-seconds) and the cell status."""
    values, status = cells.parse_column(texts, decimal_comma)
    for i in np.flatnonzero(status == cells.NOT_NUMERIC):
        deg = cells.parse_coordinate(texts[i])
        if deg is not None:
            values[i], status[i] = deg, cells.OK
    return values, status


#: A number whose reading depends on the decimal mark: one or more groups of three digits
#: after a ``.`` or ``,`` (``1.051``: 1.051 with a decimal point, 1051 with a decimal comma).
_MARK_DEPENDENT = re.compile(r"^[+-]?\d{1,3}(?:[.,]\d{3})+$")


def _flag_other_decimal_mark(texts, values, status, comma, dot) -> None:
    """In a column writing both decimal marks, cells whose number depends on the mark are
    ``not_numeric``.

    The mark is decided once per column (the majority of the cells that show one).  In a
    column holding both ``80,5`` and ``7.2`` each of those reads one way only, but a
    ``1.051`` or ``1,051`` there may be about 1 or about 1000: it is flagged, not guessed.
    ``comma`` and ``dot`` are the column's deciding cells (:func:`cells.column_decimal_marks`).
    """
    if not (comma and dot):
        return
    bad = np.fromiter(
        (bool(_MARK_DEPENDENT.match(cells.clean_cell(t).lstrip("<>≤≥="))) for t in texts),
        dtype=bool, count=len(texts))
    values[bad] = np.nan
    status[bad] = cells.NOT_NUMERIC


def read_value_column(column: str, texts: list[str], key: str, unit: str | None,
                      file_decimal_comma: bool | None, formula_rows=()) -> Reading:
    """Parse one measured column of ``key`` given in ``unit`` (None: already canonical).

    The decimal mark is decided for the column (:func:`cells.column_uses_decimal_comma`),
    a column without a deciding cell taking the file's (``file_decimal_comma``).
    """
    kind = KEYS[key][1]
    plain = cells.plain_numbers(texts)
    if plain is not None:  # numbers only (the common case): no comma, nothing else to read
        dc = bool(file_decimal_comma)
        values, status = plain, np.zeros(len(texts), dtype=np.int8)
    elif kind == "coord":
        dc = cells.column_uses_decimal_comma(texts, default=bool(file_decimal_comma))
        values, status = parse_coordinates(texts, dc)
    else:
        dc, comma, dot = cells.column_decimal_marks(texts, default=bool(file_decimal_comma))
        values, status = cells.parse_column(texts, dc)
        _flag_other_decimal_mark(texts, values, status, comma, dot)
        if unit is not None:  # '16.5 °C', '80 mg/L' in a column of that unit
            _accept_cells_with_unit(texts, values, status, key, unit, dc)
    sentinel = cells.sentinel_mask(values, status,
                                   _COORD_SENTINELS if kind == "coord" else cells.SENTINEL_VALUES)
    values[sentinel] = np.nan
    status[sentinel] = cells.MISSING
    formula = np.zeros(len(texts), dtype=bool)
    formula[list(formula_rows)] = True
    formula &= status == cells.MISSING
    raw = values
    if unit is not None:
        values = _convert(raw, key, unit)

    def tolerance(converted=values) -> np.ndarray:
        half = half_last_digit(texts, dc)
        if unit is None:
            return half
        return np.abs(_convert(raw + half, key, unit) - converted)

    return Reading(column, values, status, tolerance, sentinel, formula)


def merge_readings(key: str, readings: list[Reading], notes: list[str],
                   renamed: dict[str, str]) -> tuple[Reading, np.ndarray]:
    """Join the columns of one quantity into one; return it and the conflicting rows.

    The first reading is the column used; an empty cell of it is filled from the
    next column that has a value there.  Where two numbers disagree by more than
    :data:`AGREE_RTOL` and the sum of their reported precisions, the row is a
    conflict: its value is NaN (the caller flags it ``conflicting_values:<key>``).
    ``renamed`` maps a renamed duplicate header (``Ca (mg/L).1``) to the header as
    written, so that the note can say it was the same header twice.
    """
    first = readings[0]
    values, status = first.values.copy(), first.status.copy()
    # the reported precision is only worked out where two columns are compared
    tolerance: Any = first.tolerance.copy() if len(readings) > 1 else first._tolerance
    conflict = np.zeros(len(values), dtype=bool)
    sentinel, formula = first.sentinel.copy(), first.formula.copy()
    for other in readings[1:]:
        both = (status == cells.OK) & (other.status == cells.OK)
        diff = np.abs(values - other.values)
        limit = np.maximum(AGREE_RTOL * np.maximum(np.abs(values), np.abs(other.values)),
                           tolerance + other.tolerance)
        disagree = both & ~conflict & (diff > limit * (1 + 1e-9))
        fill = (status == cells.MISSING) & ~conflict & (other.status != cells.MISSING)
        values[fill], status[fill] = other.values[fill], other.status[fill]
        tolerance[fill] = other.tolerance[fill]
        conflict |= disagree
        sentinel |= other.sentinel
        formula |= other.formula
        same = (f" (the same header twice; the second is column {other.column!r} of the "
                "table)" if renamed.get(other.column) == renamed.get(first.column,
                                                                    first.column) else "")
        notes.append(
            f"columns {first.column!r} and {other.column!r} both give {key}{same}: "
            f"{int((both & ~disagree).sum())} row(s) agree within 1 % or the reported "
            f"precision and {first.column!r} is used, {int(fill.sum())} empty cell(s) filled "
            f"from {other.column!r}, {int(disagree.sum())} row(s) disagree (flagged "
            f"conflicting_values:{key}, value NaN)")
    values[conflict] = np.nan
    status[conflict] = cells.MISSING
    empty = status == cells.MISSING
    merged = Reading(first.column, values, status, tolerance, sentinel & empty & ~conflict,
                     formula & empty & ~conflict)
    return merged, conflict
