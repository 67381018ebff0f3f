"""The zone table's columns: source attributes with their field types, and the densities.

:func:`karstsink.mapping._zone_io.write_zone_tables` assembles ``zonal_totals``; this
module holds its three pieces:

* :func:`attribute_values` / :func:`attribute_frame`: a source attribute leaves the
  zones file and comes back into ``zonal_totals.gpkg`` with its field type (a boolean
  stays a boolean, an integer with NULLs stays an integer, a date stays a date; NULLs
  stay NULL), through plain Python values (they cross the zone helper's pipe);
* :func:`add_densities`: the per-km² columns derived from the zone sums;
* :func:`write_gpkg`: the GeoPackage layer, written field by field with each field's
  OGR type (geopandas would write a date as a date-time and a boolean with NULLs as a
  real number); a zone-aware date-time keeps its UTC offset.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import numpy as np

from ..units import C_TO_CO2

__all__ = ["DENSITIES", "add_densities", "attribute_frame", "attribute_values",
           "density_columns", "write_gpkg"]

#: density column -> (zone sum [t C yr-1], area [km2] it is divided by); the zone area is
#: ``area_km2`` (the zone's area on the map grid), the carbonate area ``karst_area_km2``
DENSITIES = {
    "karst_sink_per_zone_t_c_km2_yr": ("karst_sink_t_c_yr", "area_km2"),
    "biological_sink_per_zone_t_c_km2_yr": ("biological_sink_t_c_yr", "area_km2"),
    "total_sink_per_zone_t_c_km2_yr": ("total_sink_t_c_yr", "area_km2"),
    "karst_sink_per_carbonate_t_c_km2_yr": ("karst_sink_t_c_yr", "karst_area_km2"),
    "scenario_total_sink_per_zone_t_c_km2_yr": ("scenario_total_sink_t_c_yr", "area_km2"),
    "scenario_difference_per_zone_t_c_km2_yr": ("scenario_difference_t_c_yr", "area_km2"),
}


def density_columns(quantities, co2: bool) -> list[str]:
    """The density columns (and, with ``co2``, their t CO2 twins) for these zone sums."""
    cols = [d for d, (s, _) in DENSITIES.items() if s in quantities]
    return cols + ([c.replace("_t_c_km2_yr", "_t_co2_km2_yr") for c in cols] if co2 else [])


def add_densities(frame, co2: bool) -> None:
    """Add the density columns [t C km⁻² yr⁻¹] to a zone table, in place.

    Each is a zone sum over an area of the same row (:data:`DENSITIES`): the karst,
    biological and total sinks (and the scenario's) per km² of the zone, and the karst
    sink per km² of carbonate rock.  Nodata pixels add area but no sink (see
    ``nodata_area_km2``).  Where the area is 0 (a zone off the grid; a zone without
    carbonate rock for the carbonate density) or the sum is NaN (a zone without a valid
    pixel) the density is NaN, never infinite (so is it where the quotient overflows: an
    area of ~1e-300 km²).  With ``co2`` each density also comes as
    t CO₂ km⁻² yr⁻¹ (x :data:`karstsink.units.C_TO_CO2`).
    """
    names = density_columns(frame.columns, False)
    for name in names:
        total, area = DENSITIES[name]
        a = frame[area].to_numpy(dtype=float)
        s = frame[total].to_numpy(dtype=float)
        with np.errstate(over="ignore"):  # a sub-normal area: no representable density
            d = s / np.where(a > 0, a, 1.0)
        frame[name] = np.where((a > 0) & np.isfinite(d), d, np.nan)
    for name in names if co2 else ():
        frame[name.replace("_t_c_km2_yr", "_t_co2_km2_yr")] = frame[name] * C_TO_CO2


def _missing(v) -> bool:
    """True for None, NaN, NaT and pd.NA (False for a list or array value)."""
    import pandas as pd

    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # a list or array value
        return False


def attribute_values(column, dtype: str) -> list:
    """A source attribute as Python values (None for NULL), typed as in the file.

    ``dtype`` is the field's numpy type as GDAL reports it (``pyogrio.read_info``):
    ``bool`` -> bool, ``int*`` -> int (geopandas reads both as float when the field
    holds NULLs), ``datetime64[D]`` (an OGR Date) -> :class:`datetime.date`; other
    fields as geopandas read them.
    """
    if dtype == "bool":
        return [None if _missing(v) else bool(v) for v in column]
    if dtype.startswith(("int", "uint")):
        return [None if _missing(v) else int(v) for v in column]
    if dtype == "datetime64[D]":
        return [None if _missing(v) else _dt.date(v.year, v.month, v.day) for v in column]
    return [None if _missing(v) else v for v in column.tolist()]


def _kind(values: list) -> str | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    if all(isinstance(v, (bool, np.bool_)) for v in present):
        return "boolean"
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))
           for v in present):
        return "Int64"
    if all(type(v) is _dt.date for v in present):
        return "date"
    return None


def attribute_frame(table: dict):
    """The attribute columns of ``table`` ({column: values}) as a DataFrame: booleans and
    integers as pandas' nullable types, dates as :class:`datetime.date` objects."""
    import pandas as pd

    cols = {}
    for name, values in table.items():
        kind = _kind(values)
        if kind in ("boolean", "Int64"):
            cols[name] = pd.array(values, dtype=kind)
        elif kind == "date":
            cols[name] = pd.Series(values, dtype=object)
        else:
            cols[name] = values
    return pd.DataFrame(cols)


def _field(col) -> tuple[np.ndarray, np.ndarray | None]:
    """One column as the array (and NULL mask) OGR writes, with the column's field type."""
    import pandas as pd

    isna = col.isna().to_numpy()
    if isinstance(col.dtype, pd.BooleanDtype):
        return col.to_numpy(dtype=bool, na_value=False), isna
    if isinstance(col.dtype, pd.Int64Dtype):
        return col.to_numpy(dtype=np.int64, na_value=0), isna
    if col.dtype.kind == "M":  # a zone-aware one as local time (its offsets: _utc_offsets)
        if getattr(col.dt, "tz", None) is not None:
            col = col.dt.tz_localize(None)
        return col.to_numpy(), None  # NaT -> NULL
    if col.dtype.kind in "fiub":
        return col.to_numpy(), None  # NaN -> NULL
    if _kind([None if m else v for v, m in zip(col.tolist(), isna, strict=True)]) == "date":
        return np.array(["NaT" if m else v.isoformat() for v, m in
                         zip(col.tolist(), isna, strict=True)], dtype="datetime64[D]"), None
    return np.array([None if m else str(v) for v, m in zip(col.tolist(), isna, strict=True)],
                    dtype=object), None


def _utc_offsets(frame) -> dict:
    """GDAL's time-zone flags of the zone-aware date-time columns: 100 + the offset from
    UTC in quarter hours per row (as pyogrio writes them)."""
    import pandas as pd

    out = {}
    for c in frame.columns:
        col = frame[c]
        if col.dtype.kind == "M" and getattr(col.dt, "tz", None) is not None:
            off = col.dt.tz_localize(None) - col.dt.tz_convert("UTC").dt.tz_localize(None)
            out[c] = (off // pd.Timedelta("15min")).fillna(0).to_numpy(np.int64) + 100
    return out


def write_gpkg(path: Path, frame, geometries, crs_wkt: str, layer: str,
               metadata: dict[str, str] | None = None) -> None:
    """Write ``frame`` with the polygons ``geometries`` (in ``crs_wkt``) as a GeoPackage
    layer, each column with its OGR field type (Boolean, Integer64, Date, DateTime, Real,
    String; NULLs as NULL), and ``metadata`` (the map's tags: version, database,
    parameters, assumptions) as the layer's metadata."""
    import shapely
    from pyogrio.raw import write
    from rasterio.crs import CRS

    geoms = np.asarray(list(geometries), dtype=object)
    types = set(shapely.get_type_id(geoms).tolist())
    multi = types != {3}  # 3: Polygon; else MultiPolygon (a polygon is promoted)
    if multi:
        geoms = np.array([shapely.multipolygons([g]) if shapely.get_type_id(g) == 3 else g
                          for g in geoms], dtype=object)
    data, masks = zip(*(_field(frame[c]) for c in frame.columns), strict=True) \
        if len(frame.columns) else ((), ())
    epsg = CRS.from_user_input(crs_wkt).to_epsg()  # a GeoPackage names its CRS by code
    write(str(path), shapely.to_wkb(geoms), field_data=list(data), fields=list(frame.columns),
          field_mask=list(masks), gdal_tz_offsets=_utc_offsets(frame) or None, layer=layer,
          driver="GPKG", geometry_type="MultiPolygon" if multi else "Polygon",
          crs=f"EPSG:{epsg}" if epsg else crs_wkt, layer_metadata=metadata or None)
