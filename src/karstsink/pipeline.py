"""Compatibility shim: the whole-run pipeline lives in :mod:`karstsink.workflows.run`.

``karstsink.pipeline.run_pipeline`` and the other names below keep working; new code
imports them from :mod:`karstsink.workflows` (the catchment-vs-map table is
:mod:`karstsink.workflows.comparison`, the report sections
:mod:`karstsink.workflows.sections`).
"""

from __future__ import annotations

from .workflows.comparison import COMPARISON_COLUMNS
from .workflows.run import PipelineResult, demo_config_path, demo_data_dir, run_pipeline

__all__ = ["COMPARISON_COLUMNS", "PipelineResult", "demo_config_path", "demo_data_dir",
           "run_pipeline"]
