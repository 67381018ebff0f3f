"""What a raster file says about itself: GDAL paths of NetCDF/HDF variables, bands, units.

The map (:mod:`karstsink.mapping`) reads every input through GDAL.  This module turns
an input's file and ``variable`` into the path GDAL opens (``NETCDF:"file.nc":q`` for
a NetCDF variable, the matching subdataset of an HDF file) and reads the metadata the
map needs before it opens the raster for good: band count, the per-band unit (GDAL's
band unit, which the netCDF driver takes from the variable's CF ``units`` attribute,
or the ``units`` / ``<variable>#units`` metadata items), the packing (CF
``scale_factor``/``add_offset``, which GDAL exposes as the band scale and offset, and
``_FillValue``, GDAL's nodata) and, for a CF file with latitude/longitude coordinates
but no ``grid_mapping`` variable (ERA5-Land downloads, for one), the geographic CRS the
CF conventions imply (WGS 84 here; CF 1.8 section 5.6 leaves the datum unspecified).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..exceptions import RasterError

__all__ = ["RasterInfo", "gdal_path", "raster_info"]

#: CF units of latitude/longitude coordinate variables (CF 1.8 sections 4.1, 4.2)
_LAT_UNITS = {"degrees_north", "degree_north", "degree_n", "degrees_n", "degreen",
              "degreesn"}
_LON_UNITS = {"degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese"}


@dataclass(frozen=True)
class RasterInfo:
    """Metadata of one raster as GDAL reads it.

    Attributes
    ----------
    path : str
        The path GDAL opens (a file, a subdataset or a virtual path).
    count : int
        Number of bands (time steps of a NetCDF variable).
    units : tuple of str
        Each band's unit as the file declares it ('' when it declares none).
    scales, offsets : tuple of float
        Each band's packing: ``value = stored x scale + offset``.
    nodata : float or None
        The nodata value (``_FillValue`` of a NetCDF variable).
    crs_wkt : str or None
        The file's CRS (None when it has none).
    implied_crs : str or None
        ``"EPSG:4326"`` for a CF file with latitude/longitude coordinates and no CRS.
    variable : str or None
        The NetCDF variable name (``NETCDF_VARNAME``), when there is one.
    """

    path: str
    count: int
    units: tuple[str, ...]
    scales: tuple[float, ...]
    offsets: tuple[float, ...]
    nodata: float | None
    crs_wkt: str | None
    implied_crs: str | None
    variable: str | None


def _open(path: str):
    import rasterio

    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise RasterError(f"Cannot read raster {path}: {str(err).splitlines()[0]} (not a "
                          f"raster GDAL reads, or a truncated or corrupt file).") from err


def _subdataset_variable(sub: str) -> str:
    """The variable name at the end of a subdataset path (``NETCDF:"f.nc":q`` -> q,
    ``HDF5:"f.h5"://grp/q`` -> q, ``HDF4_EOS:EOS_GRID:"f.hdf":G:Npp_500m`` -> Npp_500m)."""
    return sub.rsplit(":", 1)[-1].strip('"').rsplit("/", 1)[-1]


def gdal_path(path: str | Path, variable: str | None = None) -> str:
    """The path GDAL opens for ``path`` and, in a NetCDF/HDF file, ``variable``.

    Without ``variable`` the path is returned as it is (GDAL virtual paths and URLs
    included).  With it, the file's subdataset of that name is chosen; a NetCDF file
    with a single variable (no subdatasets) gets ``NETCDF:"path":variable``.

    Raises
    ------
    RasterError
        The file has no variable of that name (the message lists those it has).
    """
    path = str(path)
    if variable is None:
        return path
    with _open(path) as ds:
        subs = list(ds.subdatasets)
        driver = ds.driver
        own = ds.tags(1).get("NETCDF_VARNAME") if ds.count else None
    for sub in subs:
        if _subdataset_variable(sub) == variable:
            return sub
    if not subs and driver == "netCDF" and own == variable:
        return f'NETCDF:"{path}":{variable}'
    names = [_subdataset_variable(s) for s in subs] or ([own] if own else [])
    raise RasterError(f"Raster {path} has no variable {variable!r}"
                      + (f"; its variables: {', '.join(names)}" if names else
                         " (it has no variables: remove variable)") + ".")


def _band_unit(ds, band: int, tags: dict) -> str:
    unit = (ds.units[band - 1] or "").strip() if ds.units else ""
    if unit:
        return unit
    btags = ds.tags(band)
    if btags.get("units"):
        return btags["units"].strip()
    var = btags.get("NETCDF_VARNAME")
    return (tags.get(f"{var}#units") or "").strip() if var else ""


def _implied_crs(ds, tags: dict) -> str | None:
    if ds.crs is not None or ds.driver != "netCDF":
        return None
    units = {k.split("#", 1)[0]: v.strip().lower() for k, v in tags.items()
             if k.endswith("#units")}
    has_lat = any(u in _LAT_UNITS for u in units.values())
    has_lon = any(u in _LON_UNITS for u in units.values())
    return "EPSG:4326" if has_lat and has_lon else None


def raster_info(path: str) -> RasterInfo:
    """:class:`RasterInfo` of the raster GDAL opens at ``path`` (see :func:`gdal_path`)."""
    with _open(path) as ds:
        if ds.count == 0:
            subs = ", ".join(_subdataset_variable(s) for s in ds.subdatasets)
            raise RasterError(f"Raster {path} holds several variables ({subs}); choose one: "
                              f"{{ path = \"...\", variable = \"NAME\" }}.")
        tags = ds.tags()
        units = tuple(_band_unit(ds, b, tags) for b in range(1, ds.count + 1))
        return RasterInfo(
            path=path, count=ds.count, units=units, scales=tuple(ds.scales),
            offsets=tuple(ds.offsets), nodata=ds.nodata,
            crs_wkt=ds.crs.to_wkt() if ds.crs is not None else None,
            implied_crs=_implied_crs(ds, tags),
            variable=ds.tags(1).get("NETCDF_VARNAME"))
