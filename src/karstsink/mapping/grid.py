"""The target grid and on-the-fly alignment of input rasters to it.

Every input raster (any GDAL format, CRS, resolution and extent) is read block
by block *as if* it were on the target grid, without writing aligned copies:

* **same grid** (same CRS and pixel size, origin offset by whole pixels): a
  plain windowed read, shifted by the offset;
* **coarser or similar source** (the usual climate field): the source pixel
  coordinates of the block's pixel centres are computed (exactly for the same
  CRS; on a 32-pixel lattice transformed with GDAL/PROJ and interpolated
  linearly in between for another CRS, far below 0.01 pixel error at 512-pixel
  blocks), the source footprint is read once (small sources are kept in memory
  whole) and the field is interpolated in the block: nearest neighbour for
  classes, bilinear for continuous fields;
* **much finer continuous source** (source pixels under half the target
  pixel): GDAL's ``average`` resampling through a :class:`rasterio.vrt.WarpedVRT`.

Nodata propagates: a pixel is NaN (continuous) or invalid (classes) when the
source pixel nearest to its centre is nodata or lies outside the source; the
bilinear weights of the other neighbours are renormalised over valid ones.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from affine import Affine

from ..exceptions import DataError, RasterError
from ..io.rasters import RASTER_NODATA_CODES as UNDECLARED_NODATA
from ..io.rasters import RASTER_NODATA_CODES_NOT_ELEVATION, display_path, is_virtual
from ._area import pixel_area_km2  # re-exported (its home before _area)

if TYPE_CHECKING:
    from rasterio.crs import CRS

__all__ = ["AlignedSource", "Grid", "apply_affine", "pixel_area_km2", "window_bounds",
           "window_transform"]

_LATTICE = 32  # px between exactly transformed points when CRSs differ
_SMALL_SOURCE_PX = 8_000_000  # sources up to this size are cached in memory (<= 32 MB)
_WIDE_STRIP_PX = 4096  # a striped source wider than this: blocks read row-major
_COORDS = threading.local()  # per-thread cache of source coordinates by (grid, window)
#: the code a float land-cover pixel gets when its value is not a whole number (it is then
#: counted among the unknown classes; :mod:`._checks` turns it into an error)
NON_INTEGER_CODE = np.iinfo(np.int64).min


@dataclass(frozen=True)
class Grid:
    """A target raster grid: CRS, affine transform and shape.

    Attributes
    ----------
    crs : rasterio.crs.CRS
        Coordinate reference system.
    transform : affine.Affine
        Pixel -> CRS coordinates (upper-left corner convention).
    width, height : int
        Size [px].
    """

    crs: CRS
    transform: Affine
    width: int
    height: int

    @classmethod
    def from_raster(cls, path: str | Path) -> Grid:
        """The grid of an existing raster."""

        with _open(path) as ds:
            _require_crs(ds, path)
            return cls(ds.crs, ds.transform, ds.width, ds.height)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` [px]."""
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in grid CRS units."""
        from rasterio.windows import Window

        return window_bounds(Window(0, 0, self.width, self.height), self.transform)

    def windows(self, size: int = 512) -> list:
        """Row-major list of ``rasterio.windows.Window`` blocks of ``size`` px."""
        from rasterio.windows import Window

        return [
            Window(c, r, min(size, self.width - c), min(size, self.height - r))
            for r in range(0, self.height, size)
            for c in range(0, self.width, size)
        ]

    def sub(self, window) -> Grid:
        """The grid of ``window`` (a tile of this grid)."""
        return Grid(self.crs, window_transform(window, self.transform), int(window.width),
                    int(window.height))


def _open(path):
    import rasterio

    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as err:
        if not is_virtual(path) and not Path(str(path)).exists():
            raise RasterError(f"Raster {path} does not exist.") from err
        raise RasterError(f"Cannot read raster {display_path(path)}: {_first_line(err)} (not "
                          f"a raster GDAL reads, or a truncated or corrupt file).") from err


def _first_line(err: BaseException) -> str:
    """GDAL's own reason (the cause rasterio chains) or the error, on one line."""
    cause = err.__cause__ or err.__context__
    text = str(cause if cause is not None and str(cause).strip() else err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _require_crs(ds, path) -> None:
    if ds.crs is None:
        raise RasterError(
            f"Raster {display_path(path)} has no CRS; assign one (e.g. `rio edit-info --crs "
            f"EPSG:4326 "
            f"{Path(str(path)).name}`) and run again."
        )


class AlignedSource:
    """An input raster read block by block on the target grid.

    Parameters
    ----------
    path : path
        Any raster GDAL reads (band 1 is used).
    grid : Grid
        The target grid.
    name : str
        Input name for messages (``temperature``, ``landcover`` ...).
    kind : {"continuous", "classes"}
        Continuous fields come back as float32 with NaN for nodata; classes as
        integer codes (the file's integer type up to 32 bits, else int64) with a
        validity mask.  Float class codes are rounded; a value that is not a whole
        number becomes :data:`NON_INTEGER_CODE` (an unknown class).
    convert : (float, float)
        ``(a, b)``: a continuous value is ``a x v + b`` with ``v`` the stored number
        after the file's own scale and offset (a declared unit, :mod:`._inputs`).
    bands : tuple of int
        Bands read (1-based); several are averaged per pixel (:func:`._bands.mean_bands`;
        NaN where any of them is nodata), continuous fields only.
    crs : str, optional
        The CRS to assume when the file has none (a CF file's implied EPSG:4326).

    Raises
    ------
    RasterError
        If the file is missing, unreadable, has no CRS, or does not overlap
        the grid.
    """

    def __init__(self, path: str | Path, grid: Grid, name: str, kind: str = "continuous",
                 convert: tuple[float, float] = (1.0, 0.0), bands: tuple[int, ...] = (1,),
                 crs: str | None = None):
        if kind not in ("continuous", "classes"):
            raise DataError(f"kind must be 'continuous' or 'classes', got {kind!r}")
        self.path = str(path)
        self.label = display_path(self.path)  # for messages (a mosaic: its tiles)
        self.grid = grid
        self.name = name
        self.kind = kind
        self.bands = tuple(bands)
        self._index = self.bands[0] if len(self.bands) == 1 else list(self.bands)
        self._local = threading.local()
        with _open(path) as ds:
            if ds.crs is None and crs is not None:
                from rasterio.crs import CRS

                self.src_crs = CRS.from_user_input(crs)
            else:
                _require_crs(ds, path)
                self.src_crs = ds.crs
            self.src_transform = ds.transform
            if ds.transform.e > 0 and ds.transform.b == ds.transform.d == 0:
                raise RasterError(
                    f"Input {name!r} ({self.label}) is stored south-up (its first row is the "
                    f"southernmost: pixel height +{ds.transform.e:g}); karstsink reads "
                    f"north-up rasters: write a north-up copy with `gdalwarp "
                    f"{self.label} north_up.tif` and give that file.")
            self.src_shape = (ds.height, ds.width)
            self.nodata = ds.nodata
            self.dtype = ds.dtypes[self.bands[0] - 1]
            # stored in strips as wide as a large raster (GDAL's default layout): the
            # map pass then reads its blocks row by row (executor.stream_order)
            bw = ds.block_shapes[self.bands[0] - 1][1]
            self.wide_strips = bw >= ds.width > _WIDE_STRIP_PX
            # class codes keep the file's integer type up to 32 bits (a uint8 land cover
            # stays 1 byte per pixel through the model); wider or float codes -> int64
            dt = np.dtype(self.dtype)
            self.code_dtype = (dt if dt.kind in "iu" and (dt.itemsize < 4 or dt == np.int32)
                               else np.dtype(np.int64))
            # the file's scale and offset, then the declared unit's: one a x v + b
            a, b = convert
            #: stored numbers are packed codes (file scale/offset): no nodata guess on them
            self.packed = (ds.scales[self.bands[0] - 1] != 1.0
                           or ds.offsets[self.bands[0] - 1] != 0.0)
            self.scale = ds.scales[self.bands[0] - 1] * a
            self.offset = ds.offsets[self.bands[0] - 1] * a + b
            self._check_overlap(ds)
        self.mode, self.shift = self._strategy()
        self.use_numba = True
        self._grid_key = (self.src_crs.to_wkt(), tuple(self.src_transform)[:6],
                          id(self.grid))
        self._cache = None
        if self.mode == "sample" and self.src_shape[0] * self.src_shape[1] <= _SMALL_SOURCE_PX:
            self._cache = self._read_source(0, 0, self.src_shape[0], self.src_shape[1])

    # -- set-up -------------------------------------------------------------------------
    def _check_overlap(self, ds) -> None:
        from rasterio.warp import transform_bounds

        try:
            gb = transform_bounds(self.grid.crs, self.src_crs, *self.grid.bounds,
                                  densify_pts=21)
        except Exception as err:  # PROJ cannot relate the CRSs
            raise RasterError(f"Input {self.name!r} ({self.label}): cannot transform between "
                              f"its CRS and the grid CRS: {err}") from err
        sb = ds.bounds
        if not (gb[0] < sb.right and gb[2] > sb.left and gb[1] < sb.top and gb[3] > sb.bottom):
            raise RasterError(
                f"Input {self.name!r} ({self.label}) does not overlap the target grid "
                f"(raster bounds {tuple(round(v, 4) for v in sb)} in {self.src_crs}; grid bounds "
                f"{tuple(round(v, 4) for v in gb)} in the same CRS). Check the file and its "
                f"CRS."
            )

    def _strategy(self) -> tuple[str, tuple[int, int]]:
        st, gt = self.src_transform, self.grid.transform
        if self.src_crs == self.grid.crs and st.b == gt.b == 0 and st.d == gt.d == 0:
            same_res = math.isclose(st.a, gt.a, rel_tol=1e-9) and math.isclose(
                st.e, gt.e, rel_tol=1e-9)
            if same_res:
                col = (gt.c - st.c) / st.a
                row = (gt.f - st.f) / st.e
                if abs(col - round(col)) < 1e-6 and abs(row - round(row)) < 1e-6:
                    return "window", (round(row), round(col))
        # source pixel size relative to the target's (area ratio, approximately)
        if self.kind == "continuous" and self._relative_pixel_size() < 0.5:
            return "warp", (0, 0)
        return "sample", (0, 0)

    def _relative_pixel_size(self) -> float:
        from rasterio.warp import transform as wtransform

        g = self.grid
        cx, cy = apply_affine(g.transform, g.width / 2, g.height / 2)
        dx, dy = apply_affine(g.transform, g.width / 2 + 1, g.height / 2 + 1)
        xs, ys = wtransform(g.crs, self.src_crs, [cx, dx], [cy, dy])
        inv = ~self.src_transform
        c0, r0 = apply_affine(inv, xs[0], ys[0])
        c1, r1 = apply_affine(inv, xs[1], ys[1])
        return math.sqrt(max(abs(c1 - c0) * abs(r1 - r0), 1e-30)) ** -1

    # -- reading ------------------------------------------------------------------------
    def _dataset(self):
        ds = getattr(self._local, "ds", None)
        if ds is None:
            ds = _open(self.path)
            if self.mode == "warp":
                from rasterio.enums import Resampling
                from rasterio.vrt import WarpedVRT

                ds = WarpedVRT(ds, src_crs=self.src_crs, crs=self.grid.crs,
                               transform=self.grid.transform,
                               width=self.grid.width, height=self.grid.height,
                               resampling=Resampling.average, src_nodata=self.nodata,
                               nodata=np.nan if self.nodata is None else self.nodata)
            self._local.ds = ds
        return ds

    def close(self) -> None:
        """Close this thread's dataset handle (others close when garbage-collected)."""
        ds = getattr(self._local, "ds", None)
        if ds is not None:
            ds.close()
            self._local.ds = None

    def _read_source(self, row0: int, col0: int, rows: int, cols: int):
        """Source pixels (clipped to the source); float32 NaN or (codes, valid)."""
        from rasterio.windows import Window

        ds = self._dataset()
        step = max(1, (1 << 22) // max(cols * len(self.bands), 1))
        if len(self.bands) > 1 and rows > step:  # several bands: bounded memory by strips
            return np.concatenate([self._read_source(r, col0, min(step, row0 + rows - r), cols)
                                   for r in range(row0, row0 + rows, step)])
        data = self._guarded_read(ds, Window(col0, row0, cols, rows))
        return self._to_values(data)

    def _guarded_read(self, ds, window):
        """Band 1 of ``window``; a read error (a truncated or corrupt file) is one line."""
        import rasterio

        try:
            return ds.read(self._index, window=window)
        except rasterio.errors.RasterioError as err:
            raise RasterError(f"Input {self.name!r}: cannot read raster {self.label} (the file "
                              f"is truncated or corrupt: {_first_line(err)}); replace it and "
                              f"run again.") from err

    def _to_values(self, data):
        if self.kind == "classes":
            valid = np.ones(data.shape, bool) if self.nodata is None else data != self.nodata
            if np.issubdtype(data.dtype, np.floating):
                valid &= np.isfinite(data)
                data = np.where(valid, data, 0)
                codes = np.rint(data)
                whole = (codes == data) & (np.abs(codes) < 2.0**53)
                codes = np.where(whole, codes, 0).astype(np.int64)
                codes[valid & ~whole] = NON_INTEGER_CODE
                return codes, valid
            return data.astype(self.code_dtype, copy=False), valid
        self._refuse_undeclared_nodata(data)
        if data.ndim == 3:  # several bands: their per-pixel mean
            from ._bands import mean_bands

            out = mean_bands(data, self.nodata)
        else:
            out = data.astype(np.float32, copy=False)
            if self.nodata is not None and not np.isnan(self.nodata):
                out = np.where(data == self.nodata, np.float32(np.nan), out)
        if self.scale != 1.0 or self.offset != 0.0:
            out = out * np.float32(self.scale) + np.float32(self.offset)
        return out.astype(np.float32, copy=False)

    def _refuse_undeclared_nodata(self, data) -> None:
        """Refuse a common nodata code in the stored numbers that the file does not declare.

        -9999, -32768, -32767 or a float near -3.4e38 is no runoff, temperature,
        pCO2, fraction, elevation or production anywhere, and -999 none but an elevation
        (a depth): used as a value it would become a sink of 0 (clamped runoff, pCO2), a
        negative one (NEP) or an inflated one (a slope from a -32768 m hole), so it is
        refused with one line, as is +inf (-inf is below -1e30) and a soil pCO2 of 0 or
        less (the 0 written for missing: no soil air has it).  Checked on every block read,
        in the sample before the pass and in the pass; one reduction per block when
        nothing is found.  Packed files (their own scale/offset) store codes and are
        left to their declared nodata and ``valid_range``.
        """
        if self.packed or data.size == 0 or data.dtype.kind not in "if":
            return
        if data.dtype.kind == "f" and np.isposinf(np.fmax.reduce(data, axis=None)):
            raise RasterError(
                f"Input {self.name!r} ({self.label}) holds +inf, which no input can be: used "
                f"as a value it would give an infinite sink. Set those pixels to the file's "
                f"nodata (nodata = {self.nodata}) and run again.")
        lo = float(np.fmin.reduce(data, axis=None))  # NaN-skipping minimum
        declared = self.nodata
        codes = UNDECLARED_NODATA + (() if self.name == "dem" else
                                     RASTER_NODATA_CODES_NOT_ELEVATION)
        hit = None
        if lo <= max(codes):  # False for an all-NaN block
            hit = next((v for v in codes if v != declared and np.any(data == v)), None)
            if hit is None and lo <= -1e30 and not (declared is not None and declared <= -1e30):
                hit = lo
        if hit is not None:
            raise RasterError(
                f"Input {self.name!r} ({self.label}) holds {hit:g}, a nodata value the file "
                f"does not declare (nodata = {declared}): used as a value it would give a "
                f"wrong sink. Declare it in the file (`gdal_edit.py -a_nodata {hit:g} FILE` "
                f"or `rio edit-info --nodata {hit:g} FILE`) and run again.")
        if self.name == "soil_pco2" and lo <= 0:
            low = data <= 0
            if declared is not None:
                low &= data != declared
            if low.any():  # no soil air holds less CO2 than the air above it, let alone none
                hit = float(np.max(data[low]))
                raise RasterError(
                    f"Input {self.name!r} ({self.label}) holds {hit:g}, a soil pCO2 no soil "
                    f"air has (it holds more than the atmosphere's ~400 ppmv): used as a "
                    f"value it would give a karst sink of 0. If it marks missing values, "
                    f"declare it as the file's nodata (`gdal_edit.py -a_nodata {hit:g} "
                    f"FILE`) and run again.")

    def read(self, window):
        """Values of this input for a window of the target grid.

        ``window`` may extend beyond the grid (used for slope halos): pixels
        outside the source are nodata.

        Returns
        -------
        numpy.ndarray or (numpy.ndarray, numpy.ndarray)
            float32 with NaN for nodata (continuous), or ``(codes, valid bool)``
            (classes; codes of ``code_dtype``), of shape ``(window.height,
            window.width)``.
        """
        h, w = int(window.height), int(window.width)
        r0, c0 = int(window.row_off), int(window.col_off)
        if self.mode == "window":
            return self._read_shifted(r0 + self.shift[0], c0 + self.shift[1], h, w)
        if self.mode == "warp":
            return self._read_warped(r0, c0, h, w)
        return self._sample(r0, c0, h, w)

    def _empty(self, h, w):
        if self.kind == "classes":
            return np.zeros((h, w), self.code_dtype), np.zeros((h, w), bool)
        return np.full((h, w), np.nan, np.float32)

    def _read_shifted(self, r0, c0, h, w):
        sh, sw = self.src_shape
        rr0, cc0 = max(r0, 0), max(c0, 0)
        rr1, cc1 = min(r0 + h, sh), min(c0 + w, sw)
        if rr0 >= rr1 or cc0 >= cc1:
            return self._empty(h, w)
        if self._cache is not None:
            part = self._slice_cache(rr0, cc0, rr1, cc1)
        else:
            part = self._read_source(rr0, cc0, rr1 - rr0, cc1 - cc0)
        if (rr0, cc0, rr1, cc1) == (r0, c0, r0 + h, c0 + w):
            return part
        out = self._empty(h, w)
        dst = (slice(rr0 - r0, rr1 - r0), slice(cc0 - c0, cc1 - c0))
        if self.kind == "classes":
            out[0][dst], out[1][dst] = part
        else:
            out[dst] = part
        return out

    def _read_warped(self, r0, c0, h, w):
        gh, gw = self.grid.shape
        rr0, cc0 = max(r0, 0), max(c0, 0)
        rr1, cc1 = min(r0 + h, gh), min(c0 + w, gw)
        out = self._empty(h, w)
        if rr0 < rr1 and cc0 < cc1:
            from rasterio.windows import Window

            data = self._guarded_read(self._dataset(), Window(cc0, rr0, cc1 - cc0, rr1 - rr0))
            out[rr0 - r0 : rr1 - r0, cc0 - c0 : cc1 - c0] = self._to_values(data)
        return out

    def _slice_cache(self, r0, c0, r1, c1):
        if self.kind == "classes":
            return self._cache[0][r0:r1, c0:c1], self._cache[1][r0:r1, c0:c1]
        return self._cache[r0:r1, c0:c1]

    def source_lattice(self, r0: int, c0: int, h: int, w: int):
        """Source (row, col) of target pixel centres on a lattice of a window [px].

        Returns ``((knots_r, knots_c, lat_row, lat_col), bounds)``: exactly
        transformed coordinates at the knots (every 32 px and the last row and
        column; only the corners when the source is an affine map of the grid),
        linear in between (:func:`._sampling._upsample`), and ``bounds = (rmin, rmax, cmin,
        cmax)`` of the coordinates.  Shared, per thread, by inputs on the same
        source grid (e.g. three climate fields) for the same window.
        """
        key = (self._grid_key, r0, c0, h, w)
        cache = getattr(_COORDS, "cache", None)
        if cache is None:
            cache = _COORDS.cache = {}
        hit = cache.get(key)
        if hit is not None:
            return hit
        gt = self.grid.transform
        inv = ~self.src_transform
        if self.src_crs == self.grid.crs:
            # target pixel -> source pixel is affine: the corners carry it exactly
            m = inv @ gt
            lr = np.unique(np.array([0, h - 1]))
            lc = np.unique(np.array([0, w - 1]))
            cc, rr = np.meshgrid(lc + c0 + 0.5, lr + r0 + 0.5)
            lcol = m.a * cc + m.b * rr + m.c
            lrow = m.d * cc + m.e * rr + m.f
        else:
            from rasterio.warp import transform as wtransform

            lr = np.unique(np.r_[np.arange(0, h, _LATTICE), h - 1])
            lc = np.unique(np.r_[np.arange(0, w, _LATTICE), w - 1])
            cc, rr = np.meshgrid(lc + c0 + 0.5, lr + r0 + 0.5)
            xs, ys = apply_affine(gt, cc.ravel(), rr.ravel())
            sx, sy = wtransform(self.grid.crs, self.src_crs, xs, ys)
            lcol, lrow = apply_affine(inv, np.asarray(sx), np.asarray(sy))
            lcol = np.asarray(lcol, np.float64).reshape(cc.shape)
            lrow = np.asarray(lrow, np.float64).reshape(cc.shape)
        # linear interpolation never leaves the range of its knots
        hit = ((lr, lc, lrow, lcol), (float(np.min(lrow)), float(np.max(lrow)),
                                      float(np.min(lcol)), float(np.max(lcol))))
        if len(cache) > 8:
            cache.clear()
        cache[key] = hit
        return hit

    def source_coords(self, r0: int, c0: int, h: int, w: int):
        """Fractional source (row, col) of every target pixel centre of a window [px].

        Returns ``(srow, scol, bounds)``; see :meth:`source_lattice`.
        """
        (lr, lc, lrow, lcol), bounds = self.source_lattice(r0, c0, h, w)
        from ._sampling import _upsample
        nb = self.use_numba  # the sample of ._checks reads with numpy
        return _upsample(lrow, lr, lc, h, w, nb), _upsample(lcol, lr, lc, h, w, nb), bounds

    def _sample(self, r0, c0, h, w):
        from ._sampling import bilinear, nearest

        srow, scol, (rmin, rmax, cmin, cmax) = self.source_coords(r0, c0, h, w)
        sh, sw = self.src_shape
        if rmax < 0 or cmax < 0 or rmin >= sh or cmin >= sw:
            return self._empty(h, w)
        # source footprint (+1 px for bilinear neighbours)
        fr0 = min(max(int(np.floor(rmin)) - 1, 0), sh - 1)
        fc0 = min(max(int(np.floor(cmin)) - 1, 0), sw - 1)
        fr1 = max(min(int(np.floor(rmax)) + 2, sh), fr0 + 1)
        fc1 = max(min(int(np.floor(cmax)) + 2, sw), fc0 + 1)
        if self._cache is not None:
            src = self._slice_cache(fr0, fc0, fr1, fc1)
        else:
            src = self._read_source(fr0, fc0, fr1 - fr0, fc1 - fc0)
        if self.kind == "classes":
            return nearest(src[0], src[1], srow, scol, fr0, fc0, sh, sw, self.use_numba)
        return bilinear(src, srow, scol, fr0, fc0, sh, sw, self.use_numba)




def window_transform(window, transform: Affine) -> Affine:
    """Affine transform of a window's upper-left pixel."""
    return transform @ Affine.translation(window.col_off, window.row_off)


def window_bounds(window, transform: Affine) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of a window (unrotated or rotated grids)."""
    c0, r0 = window.col_off, window.row_off
    c1, r1 = c0 + window.width, r0 + window.height
    xs, ys = apply_affine(transform, np.array([c0, c1, c0, c1], float),
                          np.array([r0, r0, r1, r1], float))
    return float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())


def apply_affine(t: Affine, x, y):
    """``t`` applied to coordinates (scalars or arrays): ``(a x + b y + c, d x + e y + f)``."""
    return t.a * x + t.b * y + t.c, t.d * x + t.e * y + t.f
