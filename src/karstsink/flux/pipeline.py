"""Compatibility shim: the one-catchment flux workflow lives in
:mod:`karstsink.workflows.catchment`.

``karstsink.flux.pipeline.run_flux`` and the other names below keep working; new code
imports them from :mod:`karstsink.workflows` (or :mod:`karstsink.workflows.catchment`).
Nothing in :mod:`karstsink.flux` imports this module (a workflow sits above the
estimators).
"""

from __future__ import annotations

from ..workflows.catchment import ANNUAL_COLUMNS, FluxRun, run_flux, write_flux_outputs

__all__ = ["ANNUAL_COLUMNS", "FluxRun", "run_flux", "write_flux_outputs"]
