"""Checks of the numbers a caller passes: counts, finite numbers, a catchment area.

The one wording of each rule, so that every public function refusing a bad
argument names it the same way (one :class:`~karstsink.exceptions.DataError`).
"""

from __future__ import annotations

import numpy as np

from .exceptions import DataError


def is_whole(value: object) -> bool:
    """``value`` is an int (numpy's too), not a bool: the test of every count and seed."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def whole_number(name: str, value: object, minimum: int, hint: str = "") -> int:
    """``value`` as an int of at least ``minimum``, else one DataError naming ``name``.

    A bool, a float (``100.0`` included: a count is written as one) or text is
    refused, as is anything below ``minimum``; ``hint`` (what the option means, its
    default) ends the message.
    """
    if not is_whole(value) or value < minimum:  # type: ignore[operator]
        raise DataError(f"{name} must be a whole number of at least {minimum}"
                        f"{'; ' + hint if hint else ''}; got {value!r}.")
    return int(value)  # type: ignore[call-overload]


def finite_number(name: str, value: object, *, positive: bool = False, hint: str = "") -> float:
    """``value`` as a finite float (``positive``: also > 0), else one DataError naming ``name``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))
    number = float(value) if ok else float("nan")  # type: ignore[arg-type]
    if not np.isfinite(number) or (positive and number <= 0):
        raise DataError(f"{name} must be a finite number{' above 0' if positive else ''}"
                        f"{'; ' + hint if hint else ''}; got {value!r}.")
    return number


def area_km2(value: object, name: str = "area_km2") -> float:
    """A catchment area [km²]: a finite number above 0, else one DataError naming ``name``."""
    return finite_number(name, value, positive=True, hint="a catchment area in km²")
