"""Flux estimation: daily discharge plus sparse samples -> daily, monthly and annual loads.

``estimate(discharge, samples, constituent, method=...)`` is the one entry
point; the estimators live in ``direct``, ``rating``, ``loadest`` and ``wrtds``.
"""

from __future__ import annotations

from ._base import FluxEstimate

__all__ = ["FluxEstimate"]
