"""Field-sample reader (compatibility path): the code lives in :mod:`karstsink.io.samples`.

``from karstsink.samples import read_samples`` keeps working; new code imports
:mod:`karstsink.io.samples` (or ``karstsink.read_samples``).
"""

from __future__ import annotations

from .io.samples import (
    FATAL_FLAGS,
    FLAG_DESCRIPTIONS,
    ION_COLUMNS,
    computable,
    parse_date_column,
    read_samples,
    standardize,
)

__all__ = [
    "FATAL_FLAGS",
    "FLAG_DESCRIPTIONS",
    "ION_COLUMNS",
    "computable",
    "parse_date_column",
    "read_samples",
    "standardize",
]
