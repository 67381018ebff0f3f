"""Vector lithology: polygons read as the covered fraction of each target pixel.

``carbonate = { path = "lith.gpkg", layer = "geology", field = "rock", values =
["limestone", "dolomite"], dolomite_values = ["dolomite"] }`` (or ``table = "glim"`` /
``"wokam"`` / a CSV) is read by a :class:`VectorSource`, which presents the interface of
:class:`~karstsink.mapping.grid.AlignedSource` (``read(window)`` -> float32 block) to the
block reader:

* the layer is read **once** (pyogrio), filtered to the grid's bounding box, to the
  features whose ``field`` value is a carbonate value, reprojected to the grid CRS and
  indexed (a shapely STRtree);
* each window is rasterised on the fly at :data:`SUBPIXELS` x :data:`SUBPIXELS`
  sub-pixels (GDAL's rasteriser: a sub-pixel is covered when its centre lies in a
  polygon) and averaged back, in strips of bounded memory: the covered fraction of each
  pixel, exact for polygon edges on the 1/8-pixel lattice and within 1/8 of a pixel's
  area per crossing edge otherwise; no full-size raster is written;
* each value has a carbonate share (1 for listed ``values``; a table's
  ``carbonate_share``) and a dolomite share of that carbonate (1 for ``dolomite_values``,
  else the table's ``dolomite_share`` or 0): ``carbonate`` = sum of share x cover, and
  ``dolomite_fraction`` = the dolomite part / the carbonate part (0 where there is no
  carbonate), the quantity the map's dolomite input holds (0-1 share of the carbonate).

Overlapping polygons are not double counted (a later feature is drawn over an earlier
one).  A process keeps the last layers it read (keyed by file, size and modification
time, layer, field, values and grid), so a Dask tile task or the dolomite share reuses
them instead of reading the file again.  Missing layers or fields, values that match
nothing, polygons that do not reach the grid and invalid geometries are one error line
each, naming the file, layer, field and TOML key.  The source pickles without its
polygons and re-reads them lazily in an engine worker.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError, DataError
from ._outline import refuse_invalid_polygons

__all__ = ["SUBPIXELS", "VECTOR_PREFIX", "VectorRead", "VectorSource", "is_vector_path",
           "lithology_table", "vector_read"]

#: prefix of a vector read's path string (what ``_Spec.inputs`` carries to workers)
VECTOR_PREFIX = "karstsink-vector:"
SUBPIXELS = 8  # sub-pixels per pixel side (64 per pixel: fractions in steps of 1/64;
# :func:`_count` relies on 8: one pixel's sub-pixels of a sub-row are one uint64)
_STRIP_ROWS = 64  # pixel rows rasterised at a time (512 x 4096 sub-pixels at 512 px)
_TABLES = {"glim": "lithology_glim.csv", "wokam": "lithology_wokam.csv"}
_COVER = threading.local()  # per-thread last covers, shared by carbonate and dolomite
#: per-process cache of read layers (the last 4): (path, size and mtime, layer, field,
#: groups, grid) -> polygons, burn values, index, share look-ups
_LAYERS: dict = {}
_LAYERS_LOCK = threading.Lock()
_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LinearRing", 4: "MultiPoint",
               5: "MultiLineString", 7: "GeometryCollection"}


def is_vector_path(path) -> bool:
    """Whether an input's read path is a vector read (:meth:`VectorRead.to_path`)."""
    return isinstance(path, str) and path.startswith(VECTOR_PREFIX)


def _stamp(path: str) -> tuple | None:
    """``(size, mtime)`` of a local file (a changed file is read again), else None."""
    import os

    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _norm(value) -> str:
    return " ".join(str(value).split()).casefold()


@dataclass(frozen=True)
class VectorRead:
    """How one polygon input is read (its JSON form is the input's read path).

    Attributes
    ----------
    path, layer, field : str
        The vector file (or GDAL virtual path), its layer (None: the only one) and the
        attribute field holding the rock type.
    groups : list of [carbonate share, dolomite share, [values]]
        Field values (normalised: case-folded, spaces collapsed) by their shares.
    quantity : {"carbonate", "dolomite"}
        Carbonate fraction of the pixel, or the dolomite share of its carbonate.
    key : str
        The TOML key, for messages.
    """

    path: str
    layer: str | None
    field: str
    groups: tuple
    quantity: str
    key: str

    def to_path(self) -> str:
        return VECTOR_PREFIX + json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_path(cls, path: str) -> VectorRead:
        d = json.loads(path[len(VECTOR_PREFIX):])
        d["groups"] = tuple((float(c), float(s), tuple(v)) for c, s, v in d["groups"])
        return cls(**d)

    def where(self) -> str:
        lay = f", layer {self.layer!r}" if self.layer else ""
        return f"[inputs] {self.key} ({self.path}{lay}, field {self.field!r})"

    def layer_info(self) -> tuple[str, dict]:
        """The layer read and its ``pyogrio.read_info`` (metadata only, no features).

        Raises
        ------
        ConfigError
            The file is no vector file GDAL reads; the layer is missing or not chosen
            among several; the field is missing.
        DataError
            The layer has no CRS.
        """
        import pyogrio

        layer = self._layer(pyogrio)
        info = pyogrio.read_info(self.path, layer=layer)
        fields = [str(f) for f in info["fields"]]
        if self.field not in fields:
            raise ConfigError(f"[inputs] {self.key}.field = {self.field!r}: layer {layer!r} "
                              f"of {self.path} has no such field; its fields: "
                              f"{', '.join(fields)}.")
        if not info.get("crs"):
            raise DataError(f"{self.where()}: the layer has no CRS; assign one (e.g. "
                            f"ogr2ogr -a_srs EPSG:4326) and run again.")
        return layer, info

    def _layer(self, pyogrio) -> str:
        try:
            layers = [str(x[0]) for x in pyogrio.list_layers(self.path)]
        except Exception as err:  # pyogrio.errors.DataSourceError and OS errors
            msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ConfigError(f"[inputs] {self.key}: cannot read {self.path} as a vector "
                              f"file ({msg}).") from err
        if self.layer is None:
            if len(layers) != 1:
                raise ConfigError(f"[inputs] {self.key}: {self.path} holds {len(layers)} "
                                  f"layers ({', '.join(layers)}); choose one: layer = "
                                  f"\"...\".")
            return layers[0]
        if self.layer not in layers:
            raise ConfigError(f"[inputs] {self.key}.layer = {self.layer!r}: {self.path} has "
                              f"no such layer; its layers: {', '.join(layers)}.")
        return self.layer

    def describe(self) -> str:
        n = sum(len(v) for c, _, v in self.groups if c > 0)
        what = ("dolomite share of the carbonate cover" if self.quantity == "dolomite"
                else "covered carbonate fraction")
        return (f"polygons of {Path(self.path).name}"
                + (f" layer {self.layer}" if self.layer else "")
                + f", field {self.field} ({n} carbonate value(s)): {what} of each pixel "
                  f"({SUBPIXELS} x {SUBPIXELS} sub-pixels)")


def lithology_table(table: str, key: str) -> list[tuple[str, float, float | None]]:
    """``(value, carbonate share, dolomite share or None)`` rows of a lithology table:
    ``"glim"``, ``"wokam"`` (shipped, with their sources) or a CSV with columns
    ``value, carbonate_share`` and optionally ``dolomite_share`` (``#`` comments).

    Raises
    ------
    ConfigError
        A missing column, a share outside 0-1.
    """
    import importlib.resources

    from ..io.text import read_table

    name = _TABLES.get(table.lower())
    if name is not None:
        res = importlib.resources.files("karstsink.data") / name
        with importlib.resources.as_file(res) as p:
            df, info = read_table(Path(p), comment="#")
    else:
        df, info = read_table(Path(table), comment="#")
    cols = {c.strip().lower(): c for c in df.columns}
    for need in ("value", "carbonate_share"):
        if need not in cols:
            raise ConfigError(f"[inputs] {key}.table: {table} has no column {need!r} (it needs "
                              f"value, carbonate_share and optionally dolomite_share).")
    rows: list[tuple[str, float, float | None]] = []
    for i, (_, r) in enumerate(df.iterrows()):
        shares: list[float | None] = []
        for col in ("carbonate_share", "dolomite_share"):
            text = str(r[cols[col]]).strip() if col in cols else ""
            if not text:
                shares.append(None)
                continue
            try:
                v = float(text)
            except ValueError:
                v = float("nan")
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"[inputs] {key}.table: {table} line {info['lines'][i]}: "
                                  f"{col} = {text!r} is not a share 0-1.")
            shares.append(v)
        rows.append((str(r[cols["value"]]), shares[0] or 0.0, shares[1]))
    return rows


def vector_read(spec) -> VectorRead:
    """The :class:`VectorRead` of a polygon :class:`~._inputs.InputSpec`."""
    dol = {_norm(v) for v in spec.dolomite_values or ()}
    shares: dict[str, tuple[float, float]] = {}
    if spec.values is not None:
        for v in spec.values:
            shares[_norm(v)] = (1.0, 1.0 if _norm(v) in dol else 0.0)
    else:
        for v, c, d in lithology_table(spec.table, spec.name):
            shares[_norm(v)] = (c, 1.0 if _norm(v) in dol else (d or 0.0))
        missing = dol - set(shares)
        if missing:
            raise ConfigError(f"[inputs] {spec.name}.dolomite_values: {sorted(missing)[0]!r} "
                              f"is not a value of table {spec.table}.")
    groups: dict[tuple[float, float], list[str]] = {}
    for v, cd in shares.items():
        if cd[0] > 0:
            groups.setdefault(cd, []).append(v)
    if len(groups) > 255:  # burn values are uint8
        raise ConfigError(f"[inputs] {spec.name}.table: {len(groups)} distinct share pairs; "
                          f"at most 255 (round the shares).")
    return VectorRead(path=str(spec.path), layer=spec.layer, field=spec.field,
                      groups=tuple((c, d, tuple(v)) for (c, d), v in groups.items()),
                      quantity="dolomite" if spec.name == "dolomite_fraction" else "carbonate",
                      key=spec.name)


class VectorSource:
    """Polygons read block by block as a fraction on the target grid (module docstring).

    Parameters
    ----------
    path : str
        A :meth:`VectorRead.to_path` string.
    grid : Grid
        The target grid.
    name : str
        The input name.

    Raises
    ------
    ConfigError
        A missing layer or field; values that match no feature.
    DataError
        No matching polygon reaches the grid; invalid or non-polygon geometries.
    """

    kind = "continuous"
    mode = "vector"
    nodata = None
    bands = (1,)
    dtype = "float32"

    def __init__(self, path: str, grid, name: str):
        self.read_spec = VectorRead.from_path(path)
        self.grid = grid
        self.name = name
        self.path = self.label = self.read_spec.path  # for messages (as a raster source)
        self.use_numba = True
        self._cache = None  # no in-memory raster: read_group reads it by itself
        self._lock = threading.Lock()
        self._geoms = None
        self._load()

    # -- pickling: the polygons are re-read in the worker --------------------------------
    def __getstate__(self) -> dict:
        d = self.__dict__.copy()
        d["_geoms"] = d["_tree"] = d["_burn"] = None
        d["_lock"] = None
        return d

    def __setstate__(self, d: dict) -> None:
        self.__dict__.update(d)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Nothing to close (the polygons stay in memory for the run)."""

    # -- loading -------------------------------------------------------------------------
    def _load(self) -> None:
        """The polygons, from this process's cache when another source (a Dask tile
        task, the dolomite share) already read the same layer for the same grid."""
        key = (self.read_spec.path, _stamp(self.read_spec.path), self.read_spec.layer,
               self.read_spec.field, self.read_spec.groups, self.grid)
        with _LAYERS_LOCK:
            hit = _LAYERS.get(key)
        if hit is None:
            hit = self._read_layer()
            with _LAYERS_LOCK:
                if len(_LAYERS) >= 4:
                    _LAYERS.clear()
                _LAYERS[key] = hit
        (self._geoms, self._burn, self._tree, self._lut_c, self._lut_d) = hit
        self._dolomite = bool(self._lut_d.any())

    def _read_layer(self) -> tuple:
        import pyogrio
        import shapely
        from rasterio.crs import CRS
        from rasterio.warp import transform_bounds

        r = self.read_spec
        layer, info = r.layer_info()
        crs = CRS.from_user_input(info["crs"])
        bbox = transform_bounds(self.grid.crs, crs, *self.grid.bounds, densify_pts=21)
        df = pyogrio.read_dataframe(r.path, layer=layer, columns=[r.field], bbox=bbox)
        lut = {v: i + 1 for i, (_, _, vals) in enumerate(r.groups) for v in vals}
        burn = np.array([lut.get(_norm(v), 0) if v is not None else 0 for v in df[r.field]],
                        np.int64)
        keep = (burn > 0) & ~shapely.is_missing(df.geometry.values)  # null geometries: none
        if not keep.any():
            self._nothing_matches(pyogrio, layer, df)
        geoms = np.asarray(df.geometry.values[keep], dtype=object)
        kinds = set(shapely.get_type_id(geoms).tolist()) - {3, 6}  # Polygon, MultiPolygon
        if kinds:
            names = sorted(_TYPE_NAMES.get(k, str(k)) for k in kinds)
            raise DataError(f"{r.where()}: some matching features are not polygons "
                            f"({', '.join(names)}); a covered fraction needs polygons "
                            f"(select the polygon layer).")
        refuse_invalid_polygons(r.where(), geoms)
        if crs != self.grid.crs:
            import geopandas as gpd

            geoms = np.asarray(gpd.GeoSeries(geoms, crs=crs).to_crs(self.grid.crs).values,
                               dtype=object)
        c = np.zeros(len(r.groups) + 1, np.float32)
        d = np.zeros(len(r.groups) + 1, np.float32)
        for i, (cs, ds, _) in enumerate(r.groups):
            c[i + 1], d[i + 1] = cs, cs * ds
        return geoms, burn[keep].astype(np.uint8), shapely.STRtree(geoms), c, d

    def _nothing_matches(self, pyogrio, layer: str, df) -> None:
        r = self.read_spec
        values = [str(c) for _, _, vals in r.groups for c in vals]
        whole = pyogrio.read_dataframe(r.path, layer=layer, columns=[r.field],
                                       read_geometry=False)
        present = sorted({_norm(v) for v in whole[r.field] if v is not None})
        if set(present) & set(values):
            raise DataError(f"{r.where()}: no polygon with the carbonate values "
                            f"({', '.join(values[:5])}) reaches the target grid (the layer "
                            f"has them elsewhere); check the layer's CRS and extent.")
        shown = ", ".join(present[:12]) + (", ..." if len(present) > 12 else "")
        raise ConfigError(f"{r.where()}: no feature has any of the values "
                          f"{', '.join(values[:5])}; the field holds: {shown or 'nothing'}. "
                          f"Correct values / dolomite_values, or the table.")

    def _ensure(self) -> None:
        if self._geoms is None:
            with self._lock:
                if self._geoms is None:
                    self._load()

    # -- reading -------------------------------------------------------------------------
    def read(self, window) -> np.ndarray:
        """The fraction (0-1, float32) for a window of the target grid (it may extend
        beyond the grid)."""
        self._ensure()
        h, w = int(window.height), int(window.width)
        r0, c0 = int(window.row_off), int(window.col_off)
        # the last window's covers of this thread, shared by the sources of one layer
        # (carbonate and its dolomite share hold the same cached polygons)
        hit = getattr(_COVER, "last", None)
        if hit is None or hit[0] is not self._geoms or hit[1] != (r0, c0, h, w):
            hit = (self._geoms, (r0, c0, h, w), *self._covers(window, r0, c0, h, w))
            _COVER.last = hit
        carb, dol = hit[2], hit[3]
        if self.read_spec.quantity == "carbonate":
            return carb.copy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(carb > 0, dol / np.where(carb > 0, carb, 1), np.float32(0)
                            ).astype(np.float32)

    def _covers(self, window, r0, c0, h, w):
        """Carbonate and dolomite parts (0-1) of each pixel of a window, by strips of
        :data:`_STRIP_ROWS` rows: the strip's polygons clipped to it (GDAL's rasteriser
        scans every edge of a polygon on each sub-pixel row: clipping keeps that local),
        rasterised at :data:`SUBPIXELS` per side and counted per pixel."""
        import shapely
        from affine import Affine
        from rasterio.features import rasterize
        from rasterio.windows import Window

        from .grid import window_bounds

        carb = np.zeros((h, w), np.float32)
        dol = np.zeros((h, w), np.float32)  # stays 0 without dolomite shares
        k = SUBPIXELS
        gt = self.grid.transform
        pad = max(abs(gt.a), abs(gt.e), abs(gt.b), abs(gt.d))  # one pixel of margin
        groups = range(1, len(self._lut_c))
        for rs in range(0, h, _STRIP_ROWS):
            rh = min(_STRIP_ROWS, h - rs)
            b = window_bounds(Window(c0, r0 + rs, w, rh), gt)
            idx = np.sort(self._tree.query(shapely.box(*b)))
            if idx.size == 0:
                continue
            clipped = shapely.clip_by_rect(self._geoms[idx], b[0] - pad, b[1] - pad,
                                           b[2] + pad, b[3] + pad)
            keep = ~shapely.is_empty(clipped)
            if not keep.any():
                continue
            shapes = list(zip(clipped[keep], self._burn[idx][keep].tolist(), strict=True))
            st = gt @ Affine.translation(c0, r0 + rs) @ Affine.scale(1.0 / k)
            sub = rasterize(shapes, out_shape=(rh * k, w * k), transform=st, fill=0,
                            dtype="uint8")
            for g in groups:
                cs, cd = self._lut_c[g], self._lut_d[g]
                if cs == 0:
                    continue
                hit = (sub == g).view(np.uint8) if len(groups) > 1 else sub
                part = _count(hit, rh, w).astype(np.float32) * np.float32(cs / (k * k))
                carb[rs:rs + rh] += part
                if self._dolomite and cd > 0:
                    dol[rs:rs + rh] += part * np.float32(cd / cs)
        return np.clip(carb, 0, 1, out=carb), dol


def _count(hit: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Covered sub-pixels (0..64) of each pixel of a 0/1 uint8 sub-pixel strip.

    The 8 sub-pixels of a pixel on one sub-row are 8 contiguous bytes: one uint64 whose
    byte sum is ``(x * 0x0101010101010101) >> 56`` (each byte 0 or 1: no carry).
    """
    x = np.ascontiguousarray(hit).view(np.uint64).reshape(rows, SUBPIXELS, cols)
    per_row = (x * np.uint64(0x0101010101010101)) >> np.uint64(56)
    return per_row.sum(axis=1, dtype=np.uint16)
