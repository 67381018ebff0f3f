"""Catchment outlines, polygon areas (catchment vs map) and zone areas off the map grid;
re-exported by :mod:`karstsink.mapping.zones`, which holds the raster mean over an outline.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["layers_if_several", "off_grid_area_km2", "polygon_area_km2", "read_outline",
           "refuse_invalid_polygons"]


def refuse_invalid_polygons(where: str, geometries, fids=None) -> None:
    """Raise one DataError line when any of ``geometries`` is not a valid polygon (a
    self-intersecting one has no area GEOS can sum or clip): the count, the first one's
    ``fids`` entry if given and GEOS's reason, and how to repair them.  ``where`` names the
    file (``"Zones file z.gpkg"``)."""
    import numpy as np
    import shapely

    from ..exceptions import DataError

    geoms = np.asarray(geometries, dtype=object)
    bad = ~shapely.is_valid(geoms)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        fid = "" if fids is None else f"fid {fids[first]}, "
        raise DataError(f"{where}: {int(bad.sum())} of {len(geoms)} polygons are invalid "
                        f"geometries (first: {fid}{shapely.is_valid_reason(geoms[first])}); "
                        "repair them (ogr2ogr -makevalid, or QGIS Fix geometries) and run "
                        "again.")


# ----------------------------------------------------------------------------------------
def polygon_area_km2(geometry, crs) -> float:
    """Area of a (multi)polygon [km²] in ``crs``: planar for a projected CRS (in its linear
    unit, converted to km²), geodesic on the CRS ellipsoid for a geographic one."""
    from pyproj import CRS, Geod

    c = CRS.from_user_input(crs)
    if c.is_geographic:
        ell = c.ellipsoid
        if ell is None:
            from ..exceptions import DataError

            raise DataError(f"The geographic CRS {c.name!r} has no ellipsoid: no area can "
                            f"be measured on it; reproject to a CRS with a datum.")
        import shapely
        from shapely.geometry.polygon import orient

        geod = Geod(a=ell.semi_major_metre, b=ell.semi_minor_metre)
        # pyproj sums signed ring areas: each polygon oriented alike (exterior
        # counter-clockwise), so rings wound either way in the file add up, not cancel
        parts = shapely.get_parts(shapely.get_parts(geometry))  # collections flattened
        return sum(abs(geod.geometry_area_perimeter(orient(g, 1.0))[0])
                   for g in parts if g.geom_type == "Polygon" and not g.is_empty) / 1e6
    unit = c.axis_info[0].unit_conversion_factor if c.axis_info else 1.0
    return float(geometry.area) * unit * unit / 1e6


def off_grid_area_km2(geometries, grid) -> list[float]:
    """Area of each polygon (in the grid CRS) outside the grid's footprint [km²].

    The part of the polygon beyond the grid's outer pixel edges, measured as
    :func:`polygon_area_km2` measures it in the grid CRS (planar if projected, geodesic
    if geographic): exactly 0 for a polygon inside the grid, the polygon's whole area
    for one off it.  A remainder below 1e-9 of the polygon's area (coordinates rounded
    on a shared edge) counts as 0.
    """
    import numpy as np
    import shapely

    t = grid.transform
    box = shapely.Polygon([(t.c + t.a * c + t.b * r, t.f + t.d * c + t.e * r) for c, r in
                           ((0, 0), (grid.width, 0), (grid.width, grid.height),
                            (0, grid.height))])
    crs = grid.crs.to_wkt()
    geoms = [g if shapely.is_valid(g) else shapely.make_valid(g) for g in geometries]
    out = [0.0] * len(geoms)
    for i in np.flatnonzero(~shapely.covered_by(geoms, box)):
        off = polygon_area_km2(shapely.difference(geoms[i], box), crs)
        out[i] = off if off > 1e-9 * polygon_area_km2(geoms[i], crs) else 0.0
    return out


def layers_if_several(path, layer: str | None) -> list[str]:
    """The layer names of a vector file when it has more than one and ``layer`` does not
    choose (else []): which of them is meant cannot be guessed, so the readers refuse."""
    import pyogrio

    if layer:
        return []
    names = [str(n) for n in pyogrio.list_layers(path)[:, 0]]
    return names if len(names) > 1 else []


def read_outline(path: str | Path, crs, layer: str | None = None):
    """Read a catchment outline: the union of a file's polygons, in the raster CRS ``crs``.

    Parameters
    ----------
    path : path-like
        Polygon file GDAL can read (GeoPackage, shapefile, GeoJSON...).
    crs : CRS-like
        CRS to return the outline in (the map's).
    layer : str, optional
        Layer of a multi-layer file (default: the first).

    Returns
    -------
    geometry : shapely (Multi)Polygon
        In ``crs``.
    area_km2 : float
        Area of the outline [km²], measured in the file's own CRS (planar if projected,
        geodesic if geographic).

    Raises
    ------
    DataError
        If the file cannot be read, has no CRS, holds no polygons or invalid ones.
    """
    import geopandas as gpd
    import shapely

    from ..exceptions import DataError

    try:
        several = layers_if_several(path, layer)
        if not several:
            gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as err:
        where = f" (layer {layer!r})" if layer else ""
        raise DataError(f"cannot read outline file {path}{where}: {err}") from err
    if several:
        raise DataError(f"outline file {path} has {len(several)} layers ({', '.join(several)})"
                        f": name the one to read (boundary_layer = \"{several[0]}\").")
    if gdf.crs is None:
        raise DataError(f"outline file {path} has no CRS; set one and run again.")
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    gdf = gdf[gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.empty:
        raise DataError(f"outline file {path} holds no polygons.")
    # a self-intersecting outline measures 0 km2 (or GEOS refuses it)
    refuse_invalid_polygons(f"outline file {path}", gdf.geometry.values)
    area = polygon_area_km2(shapely.union_all(gdf.geometry.values), gdf.crs)
    return shapely.union_all(gdf.to_crs(crs).geometry.values), area
