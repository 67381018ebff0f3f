"""The unit of the map stage's sink rasters, read from the rasters themselves.

:func:`karstsink.mapping.run_map` writes its karst, biological and total sink rasters in
t C km-2 yr-1, or with ``co2`` in t CO2 km-2 yr-1, and records that unit on each raster
(band 1's GDAL unit and ``units`` tag: the C- and CO2-units of
:data:`karstsink.mapping.executor.OUTPUT_META`). The report (captions, quick looks, text and
headline) and the catchment comparison take the unit from there through :func:`map_unit`,
never from the run's configuration and never by assuming t C.
"""

from __future__ import annotations

import os

__all__ = ["map_unit", "mass_unit", "sink_column", "unit_is_co2"]


def _sink_units() -> tuple[str, str]:
    """``(C-unit, CO2-unit)`` the map stage writes on its sink rasters."""
    from ..mapping.executor import OUTPUT_META

    _, _, unit_c, unit_co2 = OUTPUT_META["total"]
    return unit_c, unit_co2


def map_unit(raster: str | os.PathLike) -> str:
    """The unit the map stage recorded on one of its sink rasters, exactly as written.

    Parameters
    ----------
    raster : path-like
        ``karst_sink.tif``, ``biological_sink.tif`` or ``total_sink.tif`` of a map run.

    Returns
    -------
    str
        ``"t C km-2 yr-1"`` or ``"t CO2 km-2 yr-1"`` (band 1's unit, as
        :func:`karstsink.io.rasters.raster_info` reads it).

    Raises
    ------
    RasterError
        The raster cannot be read.
    DataError
        It declares no unit, or one the map stage does not write.
    """
    from ..exceptions import DataError
    from ..io.rasters import raster_info

    unit = raster_info(os.fspath(raster)).units[0]
    known = _sink_units()
    if unit not in known:
        raise DataError(f"Map raster {os.fspath(raster)} declares the unit {unit!r}, not one "
                        f"the map stage writes ({' or '.join(map(repr, known))}); rewrite it "
                        "with karstsink map, whose rasters carry their unit.")
    return unit


def unit_is_co2(unit: str) -> bool:
    """Whether ``unit`` (from :func:`map_unit`) is the map stage's t CO2 unit."""
    return unit == _sink_units()[1]


def mass_unit(co2: bool) -> tuple[float, str]:
    """The run's mass unit: ``(factor from t C, name)``, ``(44.009/12.011, "CO2")`` with
    ``co2`` else ``(1.0, "C")`` (``karstsink.units.C_TO_CO2``)."""
    from ..units import C_TO_CO2

    return (C_TO_CO2, "CO2") if co2 else (1.0, "C")


def sink_column(co2: bool) -> str:
    """The ``catchment_sinks.csv`` column of a catchment's sink in the run's unit:
    ``sink_t_co2_km2_yr`` with ``co2``, else ``sink_t_c_km2_yr``."""
    return f"sink_t_{mass_unit(co2)[1].lower()}_km2_yr"
