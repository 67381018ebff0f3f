"""Workflows (layer L3): chain the readers, the science and the report into whole runs.

- :mod:`karstsink.workflows.run`: ``karstsink run`` / ``karstsink demo``
  (:func:`run_pipeline`, :class:`PipelineResult`, :func:`demo_data_dir`,
  :func:`demo_config_path`);
- :mod:`karstsink.workflows.catchment`: one catchment from files to fluxes and
  sinks, ``karstsink flux`` (:func:`run_flux`, :func:`write_flux_outputs`,
  :class:`FluxRun`, :data:`ANNUAL_COLUMNS`);
- :mod:`karstsink.workflows.trend`: a catchment's trend (EGRET runPairs/runGroups,
  tableChange, EGRETci bootstrap), ``karstsink trend`` and a run's ``trend`` table
  (:func:`~karstsink.workflows.trend.run_trend`,
  :func:`~karstsink.workflows.trend.write_trend_outputs`);
- :mod:`karstsink.workflows.comparison`: catchments against the map
  (``catchment_comparison.csv``, :data:`COMPARISON_COLUMNS`);
- :mod:`karstsink.workflows.sections`: the report's sections, assumptions and headline.

Workflows may import every lower layer (``io``, ``carbon``, ``chemistry``, ``flux``,
``mapping``, ``plots``, ``report``, ``config``); nothing below imports them.
"""

from __future__ import annotations

from .catchment import ANNUAL_COLUMNS, FluxRun, run_flux, write_flux_outputs
from .comparison import COMPARISON_COLUMNS, catchment_comparison
from .run import PipelineResult, demo_config_path, demo_data_dir, run_pipeline

__all__ = ["ANNUAL_COLUMNS", "COMPARISON_COLUMNS", "FluxRun", "PipelineResult",
           "catchment_comparison", "demo_config_path", "demo_data_dir", "run_flux",
           "run_pipeline", "write_flux_outputs"]
