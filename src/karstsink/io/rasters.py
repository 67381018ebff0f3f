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

Packing conventions differ: CF (and GDAL's band scale/offset) mean ``value = stored x
scale_factor + add_offset``; the MODIS/HDF-EOS products mean ``value = scale_factor x
(stored - add_offset)`` (MODIS land products' user guides, e.g. MOD17A3 and MOD16A3).
:func:`raster_info` reports which one the file's metadata says (:attr:`RasterInfo.modis`:
HDF-EOS tags present) and the ``scale_factor``/``add_offset`` metadata items of a band
GDAL gives as metadata only (HDF4).  Remote data: :func:`virtual_path` turns a URL into
GDAL's virtual path (``https://`` -> ``/vsicurl/https://``, ``s3://b/k`` -> ``/vsis3/b/k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..exceptions import RasterError

__all__ = ["RasterInfo", "display_path", "gdal_path", "is_virtual", "raster_info",
           "virtual_path"]

#: Stored numbers common GIS products use for "no data" (ESRI -9999, the int16 fills -32768
#: and -32767; table cells have theirs in :data:`karstsink.io.cells.SENTINEL_VALUES`).
#: ``mapping.grid`` refuses them in a continuous input whose file declares another nodata.
RASTER_NODATA_CODES: tuple[float, ...] = (-9999.0, -32768.0, -32767.0)
#: The ad hoc code -999, refused likewise in every continuous input but a DEM (where
#: -999 m is a depth of bathymetric products such as GEBCO): no precipitation, runoff,
#: temperature, soil pCO2, fraction or NEP/NPP [g C m-2 yr-1] takes it.
RASTER_NODATA_CODES_NOT_ELEVATION: tuple[float, ...] = (-999.0,)

#: URL scheme -> GDAL virtual file system prefix (GDAL "GDAL Virtual File Systems")
_SCHEMES = {"https://": "/vsicurl/https://", "http://": "/vsicurl/http://",
            "ftp://": "/vsicurl/ftp://", "s3://": "/vsis3/", "gs://": "/vsigs/",
            "az://": "/vsiaz/"}
#: metadata keys that mark a HDF-EOS (MODIS) file (GDAL's HDF4 driver: dataset metadata)
_HDFEOS_KEYS = ("HDFEOSVersion", "HDFEOS_VERSION", "StructMetadata.0")

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
    modis : bool
        The metadata carries HDF-EOS tags (``HDFEOSVersion``, ``StructMetadata.0``): its
        ``scale_factor``/``add_offset`` have the MODIS meaning.
    tag_packing : tuple of (float, float) or None
        Each band's ``(scale_factor, add_offset)`` metadata items when GDAL gives them as
        metadata but not as the band scale/offset (HDF4); else None.
    valid_range : (float, float) or None
        Band 1's ``valid_range`` metadata item (stored numbers; HDF4/MODIS), if any.
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
    modis: bool = False
    tag_packing: tuple[tuple[float, float], ...] | None = None
    valid_range: tuple[float, float] | None = None


def _open(path: str):
    import rasterio

    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        raise RasterError(f"Cannot read raster {display_path(path)}: "
                          f"{str(err).splitlines()[0]} (not a raster GDAL reads, or a "
                          f"truncated or corrupt file).") from err


def is_virtual(path: str | Path) -> bool:
    """Whether ``path`` is a GDAL virtual path (``/vsi...``) or a VRT XML string: opened
    as it is, never resolved against a folder or checked on disk."""
    p = str(path)
    return p.startswith("/vsi") or p.lstrip().startswith("<VRTDataset")


def virtual_path(value: str) -> str | None:
    """The GDAL virtual path of a URL or virtual path, or None for a plain file path.

    ``https://host/f.tif`` -> ``/vsicurl/https://host/f.tif``, ``s3://bucket/key`` ->
    ``/vsis3/bucket/key`` (likewise ``gs://``, ``az://``); ``/vsi...`` paths as they are.
    """
    if value.startswith("/vsi"):
        return value
    for scheme, prefix in _SCHEMES.items():
        if value.lower().startswith(scheme):
            return prefix + value[len(scheme):]
    return None


def display_path(path: str | Path) -> str:
    """``path`` for a message: a mosaic's VRT XML as ``mosaic of N tiles (first: ...)``."""
    p = str(path)
    if not p.lstrip().startswith("<VRTDataset"):
        return p
    import re

    tiles = re.findall(r"<SourceFilename[^>]*>([^<]*)</SourceFilename>", p)
    from xml.sax.saxutils import unescape

    names = list(dict.fromkeys(unescape(t) for t in tiles))
    return f"mosaic of {len(names)} tiles (first: {names[0] if names else '?'})"


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
        modis = any(k in tags for k in _HDFEOS_KEYS) or any(
            k.endswith(_HDFEOS_KEYS) for k in tags)
        return RasterInfo(
            path=path, count=ds.count, units=units, scales=tuple(ds.scales),
            offsets=tuple(ds.offsets), nodata=ds.nodata,
            crs_wkt=ds.crs.to_wkt() if ds.crs is not None else None,
            implied_crs=_implied_crs(ds, tags),
            variable=ds.tags(1).get("NETCDF_VARNAME"), modis=modis,
            tag_packing=_tag_packing(ds, tags), valid_range=_valid_range(ds.tags(1)))


def _valid_range(btags: dict) -> tuple[float, float] | None:
    """A band's ``valid_range`` metadata item (``"-32767, 32700"``) as numbers, or None."""
    import re

    text = btags.get("valid_range")
    nums = re.findall(r"[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?", text or "")
    if len(nums) != 2 or float(nums[0]) >= float(nums[1]):
        return None
    return float(nums[0]), float(nums[1])


def _tag_packing(ds, tags: dict) -> tuple[tuple[float, float], ...] | None:
    """Per band ``(scale_factor, add_offset)`` from metadata items, when GDAL has not set
    them as the band scale/offset (its HDF4 driver gives them as metadata); else None."""
    if any((s, o) != (1.0, 0.0) for s, o in zip(ds.scales, ds.offsets, strict=True)):
        return None
    out = []
    for b in range(1, ds.count + 1):
        bt = ds.tags(b)
        try:
            s = float(bt.get("scale_factor", tags.get("scale_factor", 1.0)))
            o = float(bt.get("add_offset", tags.get("add_offset", 0.0)))
        except ValueError:
            return None
        out.append((s, o))
    return tuple(out) if any(p != (1.0, 0.0) for p in out) else None
