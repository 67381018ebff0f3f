"""Flux-sample reader (compatibility path): the code lives in :mod:`karstsink.io.flux_samples`.

``from karstsink.flux.samples import read_flux_samples`` keeps working; new code
imports :mod:`karstsink.io.flux_samples`.
"""

from __future__ import annotations

from ..io.flux_samples import (
    flux_samples_from_table,
    pair_with_discharge,
    read_flux_samples,
    read_flux_table,
)

__all__ = ["flux_samples_from_table", "pair_with_discharge", "read_flux_samples",
           "read_flux_table"]
