"""Zone (polygon) totals fused into the map pass, area-weighted at borders.

For each block the zone polygons (reprojected once to the grid CRS, clipped to
the block) are rasterised at the block's resolution by the pixel-centre rule; a
block lying inside one polygon skips rasterisation.  Border pixels are those
with a neighbouring pixel centre in another zone (or outside all zones); only
for blocks holding such pixels is the block rasterised again on a grid
``supersample`` times finer in each direction, and each border pixel is shared
among zones by the fraction of its sub-pixels in each (1/16 of a pixel at the
default 4).  Slivers narrower than a pixel that touch no pixel centre are not
seen (documented limitation).  With numba (north-up grids) both steps run
GDAL's polygon scan-line rule directly on the clipped polygons' edges, and the
sub-pixels are evaluated for the border pixels only (same ids as GDAL's
rasterisation, much cheaper); otherwise ``rasterio.features.rasterize`` does
it.  Zone sums are then ``np.bincount``
over zone ids with the per-pixel quantities as weights, so the totals cost a
few percent of the map pass and memory stays per block.  Zones may overlap or
nest (a province and its counties): they are split into layers of mutually
non-overlapping polygons (:func:`overlap_layers`), each layer rasterised on its own,
so every zone gets its full coverage; without overlaps there is one layer and no
extra cost.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._outline import polygon_area_km2, read_outline

__all__ = ["ZoneSet", "load_zones", "polygon_area_km2", "raster_mean_in_polygon",
           "read_outline"]

try:  # optional acceleration of the border sub-pixels
    from .._numba import numba

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    _HAVE_NUMBA = False


def _edges(geoms, t) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ring edges of polygons in the pixel coordinates of the north-up transform ``t``.

    Returns ``(x1, y1, x2, y2, zone)`` float64/int64 arrays with ``y1 < y2`` (horizontal
    edges dropped, as they cross no scan line) and ``zone`` the 1-based index of the
    polygon in ``geoms``; coordinates are ``(x - t.c) / t.a`` and ``(y - t.f) / t.e``,
    the inverse geotransform GDAL applies when it rasterises.
    """
    import shapely

    parts, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    px = (xy[:, 0] - t.c) / t.a
    py = (xy[:, 1] - t.f) / t.e
    same = ring[1:] == ring[:-1]
    xa, ya, xb, yb = px[:-1][same], py[:-1][same], px[1:][same], py[1:][same]
    zone = (owner[ring_part[ring[:-1][same]]] + 1).astype(np.int64)
    keep = ya != yb
    xa, ya, xb, yb, zone = xa[keep], ya[keep], xb[keep], yb[keep], zone[keep]
    swap = ya > yb
    x1, x2 = np.where(swap, xb, xa), np.where(swap, xa, xb)
    y1, y2 = np.where(swap, yb, ya), np.where(swap, ya, yb)
    return (np.ascontiguousarray(x1), np.ascontiguousarray(y1), np.ascontiguousarray(x2),
            np.ascontiguousarray(y2), np.ascontiguousarray(zone))


if _HAVE_NUMBA:

    @numba.njit(nogil=True, cache=True)
    def _centre_ids(x1, y1, x2, y2, zone, nz, lut, local, border):
        """Zone of each pixel centre (GDAL's scan-line rule, as in :func:`_subpixel_ids`
        with one sub-pixel), written as ``lut[zone]``, and the border mask: pixels
        with a 4-neighbour of another zone (or of none)."""
        h, w = local.shape
        ne = x1.size
        xs = np.empty(ne)
        zs = np.empty(ne, np.int64)
        start = np.zeros(nz + 2, np.int64)
        sx = np.empty(ne)
        for r in range(h):
            dy = r + 0.5
            m = 0
            for e in range(ne):
                if dy >= y1[e] and dy < y2[e]:
                    xs[m] = (dy - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e]) + x1[e]
                    zs[m] = zone[e]
                    m += 1
            for c in range(w):
                local[r, c] = lut[0]
            if m == 0:
                continue
            # crossings by x (insertion sort: a handful per scan line; np.argsort
            # allocated per row and cost more than the rest of this function)
            for q in range(1, m):
                xv = xs[q]
                zv = zs[q]
                u = q - 1
                while u >= 0 and xs[u] > xv:
                    xs[u + 1] = xs[u]
                    zs[u + 1] = zs[u]
                    u -= 1
                xs[u + 1] = xv
                zs[u + 1] = zv
            for z in range(nz + 2):  # stable counting sort by zone: x ascending per zone
                start[z] = 0
            for q in range(m):
                start[zs[q] + 1] += 1
            for z in range(1, nz + 2):
                start[z] += start[z - 1]
            for q in range(m):
                z = zs[q]
                sx[start[z]] = xs[q]
                start[z] += 1
            lo = 0
            for z in range(1, nz + 1):  # zones in order: a later one wins
                hi = start[z]
                for q in range(lo, hi - 1, 2):
                    c1 = int(np.floor(sx[q] + 0.5))
                    c2 = int(np.floor(sx[q + 1] + 0.5))
                    c1 = max(c1, 0)
                    c2 = min(c2, w)
                    for c in range(c1, c2):
                        local[r, c] = lut[z]
                lo = hi
        # border mask, in loops without branches (they vectorise)
        hz = np.zeros(w + 1, np.bool_)
        for r in range(h):
            up = r - 1 if r > 0 else r
            dn = r + 1 if r < h - 1 else r
            for c in range(w - 1):
                hz[c + 1] = local[r, c] != local[r, c + 1]
            for c in range(w):
                v = local[r, c]
                border[r, c] = ((local[up, c] != v) | (local[dn, c] != v)
                                | hz[c] | hz[c + 1])

    @numba.njit(nogil=True, cache=True)
    def _subpixel_ids(x1, y1, x2, y2, zone, nz, rows, cols, s, out):
        """Zone of each sub-pixel centre of the listed pixels (0 = none).

        GDAL's polygon scan-line rule on the grid ``s`` times finer: on the scan
        line through a sub-pixel centre ``dy``, edges with ``y1 <= dy < y2`` cross
        at ``x = (dy - y1) (x2 - x1) / (y2 - y1) + x1`` and the centre ``dx`` is
        inside a polygon when an odd number of its crossings lie at ``x < dx``
        (GDAL fills ``floor(xa + 0.5) <= i < floor(xb + 0.5)``); a later polygon
        wins where polygons overlap, as when GDAL burns them in order.  ``rows``
        must be non-decreasing (flat indices in order).
        """
        ne = x1.size
        cand = np.empty(ne, np.int64)
        xs = np.empty(ne)
        zs = np.empty(ne, np.int64)
        par = np.zeros(nz + 1, np.int64)
        n = rows.size
        i = 0
        while i < n:
            r = rows[i]
            j = i
            while j < n and rows[j] == r:
                j += 1
            lo = r * s + 0.5
            hi = r * s + s - 0.5
            nc = 0
            for e in range(ne):  # edges reaching this pixel row's scan lines
                if y2[e] > lo and y1[e] <= hi:
                    cand[nc] = e
                    nc += 1
            for sr in range(s):
                dy = r * s + sr + 0.5
                m = 0
                for q in range(nc):
                    e = cand[q]
                    if dy >= y1[e] and dy < y2[e]:
                        xs[m] = (dy - y1[e]) * (x2[e] - x1[e]) / (y2[e] - y1[e]) + x1[e]
                        zs[m] = zone[e]
                        m += 1
                for q in range(i, j):
                    c0 = cols[q] * s
                    for sc in range(s):
                        dx = c0 + sc + 0.5
                        for z in range(nz + 1):
                            par[z] = 0
                        for u in range(m):
                            if xs[u] < dx:
                                par[zs[u]] ^= 1
                        zz = 0
                        for z in range(1, nz + 1):
                            if par[z] != 0:
                                zz = z
                        out[q, sr * s + sc] = zz
            i = j


def overlap_layers(geometries) -> list[np.ndarray]:
    """Split polygons into layers whose members do not overlap (greedy colouring).

    Two polygons overlap when their interiors intersect (sharing a border does not
    count); each polygon goes, in order, to the first layer holding none it overlaps.

    Returns
    -------
    list of numpy.ndarray
        Indices into ``geometries`` (int64, ascending) per layer; one layer when no
        polygons overlap.
    """
    import shapely

    n = len(geometries)
    if n < 2:
        return [np.arange(n, dtype=np.int64)]
    a, b = shapely.STRtree(geometries).query(geometries, predicate="intersects")
    sel = a < b
    a, b = a[sel], b[sel]
    inner = shapely.relate_pattern(geometries[a], geometries[b], "T********")
    if not inner.any():
        return [np.arange(n, dtype=np.int64)]
    neighbours: dict[int, list[int]] = {}
    for i, j in zip(a[inner].tolist(), b[inner].tolist(), strict=True):
        neighbours.setdefault(i, []).append(j)
        neighbours.setdefault(j, []).append(i)
    layer = np.zeros(n, np.int64)
    for i in range(n):
        taken = {int(layer[j]) for j in neighbours.get(i, ()) if j < i}
        k = 0
        while k in taken:
            k += 1
        layer[i] = k
    return [np.flatnonzero(layer == k).astype(np.int64) for k in range(int(layer.max()) + 1)]


class ZoneSet:
    """Zone polygons prepared for per-block rasterisation.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Polygons already in the grid CRS (or use :meth:`from_arrays`).
    field : str
        Column that names each zone.
    supersample : int
        Sub-pixels per pixel side for border fractions.

    Attributes
    ----------
    labels : list of str
        Zone names (``field`` as text: numeric county codes included), one per polygon.
    geometries : numpy.ndarray
        The polygons (shapely), in the grid CRS.
    crs : str or None
        Their CRS (WKT).
    """

    def __init__(self, gdf, field: str, supersample: int = 4):
        self._setup(np.asarray(gdf.geometry.values), gdf[field].astype(str).tolist(), field,
                    gdf.crs.to_wkt() if gdf.crs is not None else None, supersample)

    @classmethod
    def from_arrays(cls, geometries, labels: list[str], field: str, crs: str | None,
                    supersample: int = 4) -> ZoneSet:
        """Zones from shapely polygons (in ``crs``, WKT) and their names."""
        self = cls.__new__(cls)
        self._setup(np.asarray(geometries, dtype=object), [str(v) for v in labels], field,
                    crs, supersample)
        return self

    def _setup(self, geometries, labels, field, crs, supersample) -> None:
        import shapely

        self.field = field
        self.labels = list(labels)
        self.crs = crs
        self.supersample = int(supersample)
        self.geometries = geometries
        self._gdf = None
        self.layers = overlap_layers(geometries)
        # overlapping zones: their union as one more zone (the TOTAL row, each area once)
        self.has_union = len(self.layers) > 1
        if self.has_union:
            union = shapely.union_all(geometries)
            self.geometries = np.append(np.asarray(geometries, dtype=object),
                                        np.array([union], dtype=object))
            self.layers.append(np.array([len(self.labels)], np.int64))
        self.n = len(self.geometries)  # zone ids 1..n in the sums (the union last)
        self._build_index()

    @property
    def n_layers(self) -> int:
        """Number of layers of mutually non-overlapping zones (1 without overlaps)."""
        return len(self.layers)

    def _build_index(self) -> None:
        import shapely

        self._trees = [shapely.STRtree(self.geometries[idx]) for idx in self.layers]

    def __getstate__(self):  # the search trees are rebuilt, the GeoDataFrame on demand
        return {**self.__dict__, "_trees": None, "_gdf": None}

    def __setstate__(self, state) -> None:
        self.__dict__.update(state)
        self._build_index()

    @property
    def gdf(self):
        """The zones as a GeoDataFrame (names as text); built on first use."""
        if self._gdf is None:
            import geopandas as gpd

            self._gdf = gpd.GeoDataFrame({self.field: self.labels},
                                         geometry=list(self.geometries[:len(self.labels)]),
                                         crs=self.crs)
        return self._gdf

    def block_zones(self, window, transform, layer: int = 0):
        """Zone ids of a block's pixels and the border pixels' sub-pixel ids, for the
        zones of one layer (:attr:`layers`; ids are global: 1 + index in the zone set).

        Returns
        -------
        tuple
            ``(ids, flat, sub)``: ``ids`` (h, w) int32 zone id by the
            pixel-centre rule (0 = no zone; -1 marks border pixels, whose share
            is in ``sub``); ``flat`` the flat indices of border pixels and
            ``sub`` their ``(k, s*s)`` sub-pixel zone ids (or both None); a
            block inside one zone is returned as ``(zone_id, None, None)``.
        """
        import shapely
        from affine import Affine
        from rasterio import features

        from .grid import window_bounds, window_transform

        h, w = int(window.height), int(window.width)
        left, bottom, right, top = window_bounds(window, transform)
        pad = max(abs(transform.a), abs(transform.e))
        box = shapely.box(left - pad, bottom - pad, right + pad, top + pad)
        hits = self.layers[layer][np.sort(self._trees[layer].query(box))]
        if hits.size == 0:
            return 0, None, None
        if hits.size == 1 and shapely.contains(self.geometries[hits[0]], box):
            return int(hits[0]) + 1, None, None
        geoms = shapely.clip_by_rect(self.geometries[hits], left - pad, bottom - pad,
                                     right + pad, top + pad)
        keep = ~shapely.is_empty(geoms)
        geoms, hits = geoms[keep], hits[keep]
        if hits.size == 0:
            return 0, None, None
        wt = window_transform(window, transform)
        dtype = "uint8" if hits.size < 255 else "uint16"
        lut = np.r_[0, hits + 1].astype(np.int32)
        fast = _HAVE_NUMBA and wt.b == 0.0 and wt.d == 0.0
        # the block with a one-pixel halo (the polygons are clipped one pixel wider), so
        # that a pixel on the block's edge is compared with its neighbour in the next block
        halo = wt @ Affine.translation(-1, -1)
        if fast:
            local = np.empty((h + 2, w + 2), np.int32)
            diff = np.empty((h + 2, w + 2), np.bool_)
            _centre_ids(*_edges(geoms, halo), hits.size, lut, local, diff)
        else:
            local = features.rasterize(zip(geoms, range(1, hits.size + 1), strict=True),
                                       out_shape=(h + 2, w + 2), transform=halo, fill=0,
                                       dtype=dtype)
            # border pixels: a neighbouring pixel centre lies in another zone (or outside)
            diff = np.zeros((h + 2, w + 2), bool)
            ne = local[:, 1:] != local[:, :-1]
            diff[:, 1:] |= ne
            diff[:, :-1] |= ne
            ne = local[1:, :] != local[:-1, :]
            diff[1:, :] |= ne
            diff[:-1, :] |= ne
        local = np.ascontiguousarray(local[1:-1, 1:-1])
        flat = np.flatnonzero(diff[1:-1, 1:-1])
        ids = local if fast else lut[local]  # the fast path wrote lut ids already
        if flat.size == 0:
            return ids, None, None
        s = self.supersample
        rows, cols = np.divmod(flat, w)
        wf = wt @ wt.scale(1.0 / s)
        if fast:
            # only the border pixels' sub-pixels, by GDAL's scan-line rule (below)
            local_sub = np.empty((flat.size, s * s), np.int32)
            _subpixel_ids(*_edges(geoms, wf), hits.size, rows, cols, s, local_sub)
            sub = lut[local_sub]
        else:
            fine = features.rasterize(zip(geoms, range(1, hits.size + 1), strict=True),
                                      out_shape=(h * s, w * s), transform=wf, fill=0,
                                      dtype=dtype)
            sub = lut[fine.reshape(h, s, w, s)[rows, :, cols, :].reshape(flat.size, s * s)]
        ids.ravel()[flat] = -1
        return ids, flat, sub

    def accumulate(self, zones, quantities: list[np.ndarray]) -> np.ndarray:
        """Per-zone sums of per-pixel quantities (NaN counts as 0): :func:`zone_accumulate`
        over this set's zones."""
        return zone_accumulate(self.n, zones, quantities)


def sum_quantities(area_row: np.ndarray, carbonate: np.ndarray, vals: list,
                   total: np.ndarray, uf: float) -> list[np.ndarray]:
    """The quantities summed per zone and over the grid, per pixel of a block: area,
    carbonate area, nodata area [km²] and each of ``vals`` [t km⁻² yr⁻¹] x area x ``uf``
    where ``total`` is known (NaN elsewhere: the karst and biological sums add up to the
    total's; the engine's order, as :func:`._kernel.zone_sums` computes them with numba)."""
    area = np.broadcast_to(area_row[:, None], total.shape)
    carb = np.clip(np.nan_to_num(carbonate, nan=0.0), 0, 1)
    nod = np.isnan(total)
    return [area, area * carb, area * nod] + [np.where(nod, np.nan, v) * area * uf
                                              for v in vals]


def grid_sums(qs: list[np.ndarray]) -> np.ndarray:
    """Whole-grid sums of :func:`sum_quantities`' fields (NaN-skipping)."""
    return np.array([float(np.nansum(q)) for q in qs])


def zone_accumulate(n: int, zones, quantities: list[np.ndarray]) -> np.ndarray:
    """Per-zone sums of per-pixel quantities (NaN counts as 0).

    Parameters
    ----------
    n : int
        The number of zones (ids 1..n; 0 = outside zones).
    zones : tuple
        The result of :meth:`ZoneSet.block_zones`.
    quantities : list of numpy.ndarray
        (h, w) arrays of per-pixel amounts (e.g. t C yr⁻¹, km²).

    Returns
    -------
    numpy.ndarray
        ``(len(quantities), n + 1)`` float64; column 0 = outside zones.
    """
    ids, flat, sub = zones
    nb = n + 1
    out = np.zeros((len(quantities), nb))
    if isinstance(ids, (int, np.integer)):  # a block inside one zone
        for q, arr in enumerate(quantities):
            out[q, int(ids)] = np.nansum(arr, dtype=np.float64)
        return out
    interior = ids.ravel()
    sel = interior >= 0
    all_in = bool(sel.all())
    idx = interior if all_in else interior[sel]
    for q, arr in enumerate(quantities):
        vals = arr.ravel()
        vals = np.where(np.isnan(vals), 0.0, vals)
        out[q] = np.bincount(idx, weights=vals if all_in else vals[sel], minlength=nb)
        if flat is not None:
            ss = sub.shape[1]
            wts = np.repeat(vals[flat] / ss, ss)
            out[q] += np.bincount(sub.ravel(), weights=wts, minlength=nb)
    return out


def load_zones(path: str | Path, field: str, crs, layer: str | None = None,
               supersample: int = 4) -> ZoneSet:
    """Read zone polygons, check the field, reproject to the grid CRS (``crs``).

    The reading and its errors are :func:`karstsink.mapping._zone_io.read_zones`'s
    (ConfigError for a missing field; DataError for no polygons, no CRS, an unreadable file).
    """
    from ._zone_io import read_zones

    geoms, labels, _ = read_zones(path, field, crs.to_wkt(), layer)
    return ZoneSet.from_arrays(geoms, labels, field, crs.to_wkt(), supersample=supersample)


# ----------------------------------------------------------------------------------------
# one outline over a finished raster (catchment vs map)
# ----------------------------------------------------------------------------------------
def raster_mean_in_polygon(raster: str | Path, geometry, *, supersample: int = 4) -> dict:
    """Area-weighted mean of a finished single-band raster over one polygon.

    Only the polygon's window is read.  Pixels are weighted by their true area
    (:func:`karstsink.mapping.grid.pixel_area_km2`) times the share of the pixel inside
    the polygon (:class:`ZoneSet`'s border sub-pixels, ``supersample`` per side), the
    same weights as the map's zone totals.  Nodata (NaN) pixels are left out of the mean
    and their area is counted, as is the part of the polygon off the raster.

    Parameters
    ----------
    raster : path-like
        GeoTIFF, band 1 (e.g. ``karst_sink.tif`` [t C km⁻² yr⁻¹]).
    geometry : shapely (Multi)Polygon
        In the raster's CRS (:func:`read_outline`).
    supersample : int
        Sub-pixels per pixel side for the border pixels.

    Returns
    -------
    dict
        ``mean`` [raster unit] (NaN if no valid pixel lies inside), ``valid_area_km2``,
        ``nodata_area_km2`` (NaN pixels), ``off_grid_area_km2`` (outside the raster),
        ``polygon_area_km2`` [km²] and ``units`` (the band's ``units`` tag or "").
    """
    import rasterio
    from rasterio.windows import Window, from_bounds

    from .grid import Grid, pixel_area_km2

    with rasterio.open(raster) as ds:
        grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
        units = ds.tags(1).get("units", "")
        total = polygon_area_km2(geometry, ds.crs)
        win = from_bounds(*geometry.bounds, transform=ds.transform)
        c0 = max(int(np.floor(win.col_off)) - 1, 0)
        r0 = max(int(np.floor(win.row_off)) - 1, 0)
        c1 = min(int(np.ceil(win.col_off + win.width)) + 1, ds.width)
        r1 = min(int(np.ceil(win.row_off + win.height)) + 1, ds.height)
        if c1 <= c0 or r1 <= r0:
            return {"mean": float("nan"), "valid_area_km2": 0.0, "nodata_area_km2": 0.0,
                    "off_grid_area_km2": total, "polygon_area_km2": total, "units": units}
        window = Window(c0, r0, c1 - c0, r1 - r0)
        data = ds.read(1, window=window, masked=True).astype(np.float64).filled(np.nan)
        crs_wkt = ds.crs.to_wkt()
    zs = ZoneSet.from_arrays([geometry], ["outline"], "outline", crs_wkt,
                             supersample=supersample)
    zones = zs.block_zones(window, grid.transform)
    area = np.broadcast_to(pixel_area_km2(grid, r0, r1 - r0), data.shape)
    valid = np.isfinite(data)
    sums = zs.accumulate(zones, [np.where(valid, data * area, 0.0),
                                 np.where(valid, area, 0.0), np.where(valid, 0.0, area)])[:, 1]
    weighted, valid_km2, nodata_km2 = (float(v) for v in sums)
    return {"mean": weighted / valid_km2 if valid_km2 > 0 else float("nan"),
            "valid_area_km2": valid_km2, "nodata_area_km2": nodata_km2,
            "off_grid_area_km2": max(total - valid_km2 - nodata_km2, 0.0),
            "polygon_area_km2": total, "units": units}
