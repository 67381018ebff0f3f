"""Argument normalisers shared by the map's Python entry points.

:func:`zones_argument` turns a zones argument (a path or a
:class:`geopandas.GeoDataFrame`) into the ``[zones]`` path, field and layer the map reads;
:func:`dask_address` turns a :class:`dask.distributed.Client` (or a ``LocalCluster``, or an
address string) into the scheduler address of the Dask engine
(:mod:`karstsink.mapping.dask_engine`).  :func:`karstsink.mapping.sink_map` uses both;
:func:`karstsink.mapping.run_map` can take the same arguments through them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError, DataError

__all__ = ["ZONES_LAYER", "dask_address", "zones_argument"]

#: layer name of a GeoDataFrame written for the map (a GeoPackage in the run's temp folder)
ZONES_LAYER = "zones"


def _is_geodataframe(obj: Any) -> bool:
    try:
        import geopandas as gpd
    except ImportError:  # pragma: no cover - geopandas is a dependency
        return False
    return isinstance(obj, gpd.GeoDataFrame)


def zones_argument(zones: Any, field: str | None, tmpdir: str | os.PathLike,
                   layer: str | None = None) -> tuple[Path | None, str | None, str | None]:
    """The ``[zones]`` path, field and layer of a zones argument.

    Parameters
    ----------
    zones : path-like, geopandas.GeoDataFrame or None
        Polygons file (any format GDAL/OGR reads, any CRS) or polygons in memory.  A
        GeoDataFrame is written to ``tmpdir/zones.gpkg`` (layer :data:`ZONES_LAYER`):
        the caller owns ``tmpdir`` and removes it after the run.
    field : str or None
        The zone-name column (required with ``zones``).
    tmpdir : path-like
        A folder for the GeoPackage of a GeoDataFrame.
    layer : str, optional
        The layer of a multi-layer zones file (a GeoDataFrame's is set here).

    Returns
    -------
    (path, field, layer)
        ``(None, None, None)`` without zones.

    Raises
    ------
    ConfigError
        A field without zones or zones without a field, a field not among the
        GeoDataFrame's columns, a GeoDataFrame without CRS or without rows, an argument
        of another type.
    DataError
        The GeoDataFrame cannot be written as a GeoPackage (e.g. a column of lists).
    """
    if zones is None:
        if field is not None:
            raise ConfigError(f"zone_field={field!r} was given without zones; pass zones= "
                              f"(a polygons file or a GeoDataFrame) or drop zone_field.")
        return None, None, None
    if field is None or not str(field):
        raise ConfigError("zones= needs zone_field= (the column holding the zone names, "
                          "e.g. zone_field=\"name\").")
    field = str(field)
    if isinstance(zones, (str, os.PathLike)):
        return Path(zones), field, layer
    if not _is_geodataframe(zones):
        raise ConfigError(f"zones= must be a polygons file path or a geopandas.GeoDataFrame; "
                          f"got {type(zones).__name__}.")
    if field not in zones.columns:
        cols = ", ".join(str(c) for c in zones.columns if c != zones.geometry.name)
        raise ConfigError(f"zone_field={field!r} is not a column of the zones GeoDataFrame; "
                          f"its columns: {cols or '(none but the geometry)'}.")
    if zones.crs is None:
        raise ConfigError("The zones GeoDataFrame has no CRS; set it first, e.g. "
                          "gdf = gdf.set_crs(\"EPSG:4326\").")
    if len(zones) == 0:
        raise ConfigError("The zones GeoDataFrame has no rows (no zone polygons).")
    if layer is not None:
        raise ConfigError("zone_layer= applies to a zones file, not to a GeoDataFrame.")
    path = Path(tmpdir) / "zones.gpkg"
    try:
        zones.to_file(path, layer=ZONES_LAYER, driver="GPKG")
    except Exception as err:  # pyogrio/fiona errors of unwritable columns, one line
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise DataError(f"The zones GeoDataFrame cannot be written as a GeoPackage for the "
                        f"map ({first}); keep only text and number columns besides the "
                        f"geometry.") from err
    return path, field, ZONES_LAYER


def dask_address(client_or_address: Any) -> str | None:
    """The scheduler address of a Dask client, cluster or address string.

    Parameters
    ----------
    client_or_address : dask.distributed.Client, LocalCluster, str or None
        A running client or cluster (its scheduler address is used: the map's Dask
        engine connects its own client to it and closes only that one), an address
        (``"tcp://host:8786"``), ``"local"`` (a LocalCluster started for the run) or None.

    Returns
    -------
    str or None

    Raises
    ------
    ConfigError
        A closed client, an empty string, an object that is none of these.
    """
    if client_or_address is None:
        return None
    if isinstance(client_or_address, str):
        if not client_or_address.strip():
            raise ConfigError("The Dask scheduler address is empty; give \"tcp://host:port\", "
                              "\"local\" or a dask.distributed.Client.")
        return client_or_address.strip()
    status = str(getattr(client_or_address, "status", "running"))
    if status in ("closed", "closing", "Status.closed", "Status.closing"):
        raise ConfigError("The dask.distributed Client is closed; pass a running client "
                          "(or its scheduler address).")
    address = getattr(client_or_address, "scheduler_address", None)  # LocalCluster
    if not isinstance(address, str):
        scheduler = getattr(client_or_address, "scheduler", None)  # Client
        address = getattr(scheduler, "address", None)
    if not isinstance(address, str) or not address:
        raise ConfigError(f"client= must be a dask.distributed Client, a LocalCluster or a "
                          f"scheduler address string; got {type(client_or_address).__name__}.")
    return address
