"""karstsink: karst carbon sinks from field chemistry, discharge records and rasters.

Public API (imported lazily, so ``import karstsink`` stays fast)::

    karstsink.read_samples(path, units=...)   # messy field tables -> canonical table
    karstsink.speciate(table, database=...)   # PHREEQC speciation, SI, pCO2, DIC, ratios
    karstsink.flux.estimate(...)              # discharge + sparse samples -> loads
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "read_samples": ("karstsink.io.samples", "read_samples"),
    "standardize": ("karstsink.io.samples", "standardize"),
    "speciate": ("karstsink.chemistry.speciation", "speciate"),
}
_SUBMODULES = {"flux", "mapping", "chemistry", "samples", "units", "hydrology", "sink",
               "scenario", "plots", "exceptions", "io", "carbon", "qa"}

__all__ = ["__version__", *sorted(_LAZY), *sorted(_SUBMODULES)]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    if name in _SUBMODULES:
        return importlib.import_module(f"karstsink.{name}")
    raise AttributeError(f"module 'karstsink' has no attribute {name!r}")
