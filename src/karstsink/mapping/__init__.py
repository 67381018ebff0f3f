"""Province-wide karst (MPD) and biological sink maps, streamed block by block.

Public API (imported lazily)::

    from karstsink.mapping import load_config, run_map
    cfg = load_config("map.toml")            # validated TOML, paths relative to the file
    result = run_map(cfg, "out", jobs=2)     # COGs, zonal_totals.csv/.gpkg, quicklook, run.json

    from karstsink.mapping import sink_map   # xarray DataArrays or paths in (karstsink[xarray])
    ds, zones = sink_map(landcover=lc, carbonate=carb, runoff=q, temperature=t,
                         soil_pco2=pco2, zones=counties_gdf, zone_field="name")

Building blocks: :class:`~karstsink.mapping.grid.Grid`,
:class:`~karstsink.mapping.grid.AlignedSource` (on-the-fly alignment),
:func:`~karstsink.mapping.grid.pixel_area_km2`,
:func:`~karstsink.mapping.landcover.load_landcover_table`,
:func:`~karstsink.mapping.model.compute_block` (the per-block model) and
:class:`~karstsink.mapping.zones.ZoneSet` (fractional zone totals).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "load_config": "karstsink.mapping.config",
    "config_from_dict": "karstsink.mapping.config",
    "MapConfig": "karstsink.mapping.config",
    "run_map": "karstsink.mapping.run",
    "sink_map": "karstsink.mapping.api",
    "SinkMapResult": "karstsink.mapping.api",
    "MapResult": "karstsink.mapping.run",
    "Grid": "karstsink.mapping.grid",
    "AlignedSource": "karstsink.mapping.grid",
    "pixel_area_km2": "karstsink.mapping.grid",
    "load_landcover_table": "karstsink.mapping.landcover",
    "LandcoverTable": "karstsink.mapping.landcover",
    "compute_block": "karstsink.mapping.model",
    "soil_pco2_brook": "karstsink.mapping.model",
    "pressure_ratio": "karstsink.mapping.model",
    "ZoneSet": "karstsink.mapping.zones",
    "load_zones": "karstsink.mapping.zones",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'karstsink.mapping' has no attribute {name!r}")
