"""A flux run's warnings, each text once (private part of :mod:`karstsink.workflows.catchment`).

The constituent and its SO₄/NO₃/TOC companions share one discharge record and one
samples file, so one problem may warn in each fit: :func:`each_warning_once` says it
once, naming the companion fluxes it also concerns.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

from ..exceptions import DataQualityWarning, OutOfRangeWarning

__all__ = ["each_warning_once", "warn_unused_acid_columns"]


@contextlib.contextmanager
def each_warning_once(texts: list[str]) -> Iterator[Callable[[str | None], None]]:
    """Relay a run's warnings once per text, after the run or its error (the CLI's
    ``default`` filter does not: any filter change resets it). The constituent and its
    companions share one discharge record and samples file, so one problem may warn in
    each fit: said once, naming the companions (``... (also for the so4 flux).``).
    ``companion(key)`` marks where a companion's fit starts; karstsink's texts go to
    ``texts``."""
    marks: list[tuple[int, str | None]] = [(0, None)]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield lambda key: marks.append((len(caught), key))
    finally:
        seen: dict[tuple[type, str], tuple[warnings.WarningMessage, list]] = {}
        for i, w in enumerate(caught):  # each warning with the fit it came from
            keys = seen.setdefault((w.category, str(w.message)), (w, []))[1]
            keys.append(next(k for n, k in reversed(marks) if n <= i))
        for (category, text), (w, keys) in seen.items():
            named = list(dict.fromkeys(k for k in keys if k is not None))
            if named:
                what = ("also for the " if None in keys else "") + " and ".join(named) + (
                    " fluxes" if len(named) > 1 else " flux")
                text = f"{text.removesuffix('.')} ({what})" + "." * text.endswith(".")
            if issubclass(category, (DataQualityWarning, OutOfRangeWarning)):
                texts.append(text)
            warnings.warn_explicit(w.message if text == str(w.message) else text, category,
                                   w.filename, w.lineno)


def warn_unused_acid_columns(table, given: dict[str, str | None]) -> None:
    """Warn when the samples ``table`` has SO4 or NO3 columns with values that the run does
    not use (``given``: ``{"so4": --so4, "no3": --no3}``, None where not given): without
    them the sink has no sulfuric- or nitric-acid correction and is an upper bound."""
    from ..exceptions import UnitError
    from ..io.headers import match_header

    found: dict[str, str] = {}
    for col in table.columns:
        try:
            hit = match_header(str(col))
        except UnitError:  # a header it cannot read is the reader's business
            continue
        if (hit is not None and hit.key in given and given[hit.key] is None
                and hit.key not in found and table[col].notna().any()):
            found[hit.key] = str(col)
    if found:
        opts = " ".join(f"--{k} {c!r}" for k, c in found.items())
        keys = ", ".join(f"{k} = {c!r}" for k, c in found.items())
        warnings.warn(f"The samples have {' and '.join(map(repr, found.values()))} but the sink "
                      f"does not use {'them' if len(found) > 1 else 'it'}: without the acid "
                      f"correction it is an upper bound. Pass {opts} ({keys} in a run file) to "
                      "correct it.", DataQualityWarning, stacklevel=3)
