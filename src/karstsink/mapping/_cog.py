"""A streaming Cloud-Optimised GeoTIFF writer: every tile is compressed once.

GDAL's COG driver needs a finished source raster and re-encodes every tile from it (measured
with GDAL 3.10: no raw tile copy even from an identically encoded source), so writing a map
and then converting it costs two encodes. This writer compresses each 512 x 512 float32 tile
once, in the map pass's worker threads, with the TIFF floating-point predictor (Adobe
Photoshop TIFF Technical Note 3: byte planes, most significant first, then byte differences
along the row) and DEFLATE (ISA-L when the ``isal`` package is installed, zlib otherwise);
the encoded tiles wait in a scratch "tile store" until :meth:`StreamingCOG.close` lays out
the file as GDAL's COG driver does:

* the TIFF header, then GDAL's structural-metadata "ghost" area (``LAYOUT=IFDS_BEFORE_DATA``,
  ``BLOCK_ORDER=ROW_MAJOR``, ``BLOCK_LEADER=SIZE_AS_UINT4``,
  ``BLOCK_TRAILER=LAST_4_BYTES_REPEATED``),
* every IFD (full resolution first, then the overviews by decreasing size),
* the tile data: the smallest overview first, the full resolution last, each level
  row-major, each tile preceded by its size (uint32) and followed by a repeat of its last
  four bytes.

GDAL reads such a file as ``LAYOUT=COG``. The georeferencing and metadata tags (GeoKeys,
pixel scale, tie point, ``GDAL_METADATA``, ``GDAL_NODATA``) are not encoded here: GDAL
writes them into a 1 x 1 template GeoTIFF with the same CRS, transform and tags, and this
writer copies those tags verbatim: any CRS GDAL can write is handled exactly as GDAL does.
"""

from __future__ import annotations

import contextlib
import functools
import os
import struct
import threading
import zlib
from pathlib import Path
from types import ModuleType

import numpy as np

try:  # ISA-L deflate: same format, ~6 x zlib's speed at level 1 (benchmarks/bench_map.py)
    from isal import isal_zlib

    _deflate_mod: ModuleType = isal_zlib
    DEFLATE_BACKEND = "isal"
except ImportError:  # pragma: no cover - isal is a core dependency
    _deflate_mod = zlib
    DEFLATE_BACKEND = "zlib"

__all__ = ["DEFLATE_BACKEND", "StreamingCOG", "encode_tile", "read_ifds"]

# TIFF field types: id -> (struct code, size)
_TYPES = {1: ("B", 1), 2: ("s", 1), 3: ("H", 2), 4: ("I", 4), 5: ("II", 8), 6: ("b", 1),
          7: ("B", 1), 8: ("h", 2), 9: ("i", 4), 10: ("ii", 8), 11: ("f", 4), 12: ("d", 8),
          16: ("Q", 8), 17: ("q", 8), 18: ("Q", 8)}
SHORT, LONG, LONG8 = 3, 4, 16
# tags copied from GDAL's template: pixel scale, tie point, transformation, GeoKeys,
# GeoDoubleParams, GeoAsciiParams, GDAL_METADATA, GDAL_NODATA
GEO_TAGS = (33550, 33922, 34264, 34735, 34736, 34737, 42112, 42113)
_GHOST_ITEMS = ("LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n"
                "BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n")


# --- tile encoding ----------------------------------------------------------------------
def _predict_np(tile: np.ndarray) -> np.ndarray:
    """Floating-point predictor of a float32 tile (numpy): ``(h, 4 w)`` uint8."""
    h, w = tile.shape
    planes = tile.astype("<f4", copy=False).view(np.uint8).reshape(h, w, 4)[:, :, ::-1]
    b = np.ascontiguousarray(planes.transpose(0, 2, 1)).reshape(h, 4 * w)
    d = np.empty_like(b)
    d[:, 0] = b[:, 0]
    np.subtract(b[:, 1:], b[:, :-1], out=d[:, 1:])
    return d


try:
    from .._numba import numba

    @numba.njit(nogil=True, cache=True)
    def _predict_nb(b, out, tmp):  # pragma: no cover - compiled
        """``b`` (h, 4 w) little-endian float32 bytes -> ``out`` (h, 4 w) predicted bytes.

        Two simple loops per row (byte planes into ``tmp``, then differences) so that
        both vectorise: 0.4 ns/px here, against 4.3 ns/px for one fused loop.
        """
        h, w4 = b.shape
        w = w4 // 4
        for r in range(h):
            br = b[r]
            orow = out[r]
            for x in range(w):  # most significant byte plane first
                tmp[x] = br[4 * x + 3]
                tmp[w + x] = br[4 * x + 2]
                tmp[2 * w + x] = br[4 * x + 1]
                tmp[3 * w + x] = br[4 * x]
            orow[0] = tmp[0]
            for i in range(1, w4):
                orow[i] = tmp[i] - tmp[i - 1]

    _BUFFERS = threading.local()

    def _predict(tile: np.ndarray) -> np.ndarray:
        """The predicted bytes in a per-thread buffer, valid until this thread's next
        call (the encoder deflates them at once; a fresh megabyte per tile cost
        page faults)."""
        h, w = tile.shape
        out = getattr(_BUFFERS, "out", None)
        if out is None or out.shape != (h, 4 * w):
            out = _BUFFERS.out = np.empty((h, 4 * w), np.uint8)
            _BUFFERS.tmp = np.empty(4 * w, np.uint8)
        b = np.ascontiguousarray(tile, dtype="<f4").view(np.uint8).reshape(h, 4 * w)
        _predict_nb(b, out, _BUFFERS.tmp)
        return out

except ImportError:  # pragma: no cover - numba is optional
    _predict = _predict_np


def encode_tile(tile: np.ndarray, tile_size: int, level: int = 1) -> bytes:
    """Encode one float32 tile (DEFLATE + floating-point predictor) as TIFF stores it.

    Parameters
    ----------
    tile : numpy.ndarray
        float32 values, at most ``tile_size`` x ``tile_size``; an edge tile is
        padded with NaN (nodata) to the full tile.
    tile_size : int
        Tile width and height [px].
    level : int
        DEFLATE level (1 = fastest).

    Returns
    -------
    bytes
        The zlib stream of the predicted tile.
    """
    h, w = tile.shape
    if (h, w) != (tile_size, tile_size):
        full = np.full((tile_size, tile_size), np.nan, np.float32)
        full[:h, :w] = tile
        tile = full
    return _deflate_mod.compress(_predict(tile).data.cast("B"), level)


# --- reading tiff structure (template tags; tests) ------------------------------------
def read_ifds(path: str | os.PathLike) -> tuple[bool, list[dict]]:
    """The IFDs of a little-endian TIFF or BigTIFF.

    Returns
    -------
    (bigtiff, ifds)
        ``ifds`` in file order; each maps tag -> ``(type, count, raw value bytes,
        ifd offset)`` with ``"_offset"`` holding the IFD's own offset.
    """
    with open(path, "rb") as f:
        head = f.read(16)
        if head[:2] != b"II":
            raise ValueError(f"{path}: not a little-endian TIFF")
        magic = struct.unpack_from("<H", head, 2)[0]
        big = magic == 43
        if magic not in (42, 43):
            raise ValueError(f"{path}: not a TIFF (magic {magic})")
        off = struct.unpack_from("<Q", head, 8)[0] if big else struct.unpack_from("<I", head, 4)[0]
        ifds = []
        while off:
            f.seek(off)
            n = struct.unpack("<Q" if big else "<H", f.read(8 if big else 2))[0]
            esize = 20 if big else 12
            raw = f.read(n * esize + (8 if big else 4))
            ifd: dict = {"_offset": off}
            for i in range(n):
                e = raw[i * esize:(i + 1) * esize]
                if big:
                    tag, typ, count = struct.unpack_from("<HHQ", e)
                    inline, field = 8, e[12:20]
                else:
                    tag, typ, count = struct.unpack_from("<HHI", e)
                    inline, field = 4, e[8:12]
                size = _TYPES[typ][1] * count
                if size <= inline:
                    value = field[:size]
                else:
                    vo = struct.unpack("<Q" if big else "<I", field)[0]
                    pos = f.tell()
                    f.seek(vo)
                    value = f.read(size)
                    f.seek(pos)
                ifd[tag] = (typ, count, value)
            off = struct.unpack_from("<Q" if big else "<I", raw, n * esize)[0]
            ifds.append(ifd)
    return big, ifds


def tag_values(entry: tuple) -> tuple:
    """Decode an IFD entry ``(type, count, raw)`` into a tuple of numbers (or a str)."""
    typ, count, raw = entry
    if typ == 2:
        return (raw.rstrip(b"\0").decode("latin-1"),)
    code = _TYPES[typ][0]
    return struct.unpack("<" + code * count, raw)


def _template_tags(path: Path, crs, transform, nodata: float, tags: dict, band_tags: dict,
                   description: str) -> dict:
    """GeoTIFF and GDAL metadata tags as GDAL writes them (1 x 1 template file at ``path``,
    removed again)."""
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", width=1, height=1, count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=nodata) as ds:
        if description:
            ds.set_band_description(1, description)
        if band_tags.get("units"):  # also GDAL's band unit (QGIS and gdalinfo show it)
            ds.set_band_unit(1, band_tags["units"])
        if band_tags:
            ds.update_tags(1, **band_tags)
        if tags:
            ds.update_tags(**tags)
    try:
        _, ifds = read_ifds(path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return {t: ifds[0][t] for t in GEO_TAGS if t in ifds[0]}


# ----------------------------------------------------------------------------------------
# The writer
# ----------------------------------------------------------------------------------------
class StreamingCOG:
    """Collect encoded tiles of one float32 band and its overviews; write a COG.

    Parameters
    ----------
    width, height : int
        Full-resolution size [px].
    levels : int
        Number of 2x overview levels (level k is ``ceil(width / 2**k)`` wide).
    tile : int
        Tile size [px] (multiple of 16).
    scratch : path
        Folder for the tile stores (removed by :meth:`close` / :meth:`abort`).
    crs, transform, nodata, tags, band_tags, description
        Georeferencing and metadata, written by GDAL into a template and
        copied verbatim (a ``units`` band tag also as GDAL's band unit).
    name : str
        Stem of the tile store files (several writers may share ``scratch``).

    Notes
    -----
    :meth:`put` is called from one thread (the engine's ordered writer);
    encoding happens anywhere (:func:`encode_tile`).  Memory holds only the tile
    index; tile bytes go to the scratch stores as they arrive.
    """

    def __init__(self, width: int, height: int, levels: int, tile: int, scratch: Path, *,
                 crs, transform, nodata: float = float("nan"), tags: dict | None = None,
                 band_tags: dict | None = None, description: str = "", name: str = "out"):
        self.width, self.height, self.levels, self.tile = width, height, levels, tile
        self.scratch = Path(scratch)
        self.scratch.mkdir(parents=True, exist_ok=True)
        self._meta = (crs, transform, nodata, tags or {}, dict(band_tags or {}), description)
        self._name = name
        self._paths = [self.scratch / f"{name}.main.tiles", self.scratch / f"{name}.ovr.tiles"]
        self._stores = [open(p, "wb") for p in self._paths]
        self._pos = [0, 0]
        # index[level] : (nty, ntx) arrays of store number, data offset, byte count
        self.index = []
        for k in range(levels + 1):
            nty, ntx = self.tiles_shape(k)
            self.index.append((np.full((nty, ntx), -1, np.int32),
                               np.zeros((nty, ntx), np.int64), np.zeros((nty, ntx), np.int64)))

    @functools.cached_property
    def geo(self) -> dict:
        """The georeferencing and metadata tags, from a GDAL template, built when the
        file is laid out (a worker's writer, which only detaches its tiles, never needs
        them)."""
        return _template_tags(self.scratch / f".{self._name}.cog_template.tif", *self._meta)

    def add_band_tags(self, **tags: str) -> None:
        """Add band metadata (GDAL's ``STATISTICS_*``) before the file is laid out."""
        self._meta[4].update(tags)

    def detach(self) -> tuple[list[str], list[tuple]]:
        """Close this writer's stores and return them with the tiles they hold.

        For a worker that encodes part of the raster: the parent writer
        :meth:`adopt` takes the result.  Returns ``(store paths, entries)`` with one
        ``(level, rows, cols, store, offset, count)`` array tuple per level.
        """
        for f in self._stores:
            f.close()
        self._stores = []
        entries = []
        for k, (st, off, cnt) in enumerate(self.index):
            rows, cols = np.nonzero(st >= 0)
            entries.append((k, rows, cols, st[rows, cols], off[rows, cols], cnt[rows, cols]))
        return [str(p) for p in self._paths], entries

    def adopt(self, paths: list[str], entries: list[tuple]) -> None:
        """Take over the tiles of another writer's :meth:`detach` (same geometry)."""
        base = len(self._paths)
        self._paths.extend(Path(p) for p in paths)
        for k, rows, cols, st, off, cnt in entries:
            ist, ioff, icnt = self.index[k]
            ist[rows, cols] = st + base
            ioff[rows, cols] = off
            icnt[rows, cols] = cnt

    def level_shape(self, k: int) -> tuple[int, int]:
        """(height, width) [px] of level ``k`` (0 = full resolution)."""
        f = 2**k
        return -(-self.height // f), -(-self.width // f)

    def tiles_shape(self, k: int) -> tuple[int, int]:
        """Tiles down and across at level ``k``."""
        h, w = self.level_shape(k)
        return -(-h // self.tile), -(-w // self.tile)

    def put(self, level: int, trow: int, tcol: int, payload: bytes) -> None:
        """Store the encoded tile ``(trow, tcol)`` of ``level`` (from :func:`encode_tile`)."""
        s = 0 if level == 0 else 1
        n = len(payload)
        store = self._stores[s]
        store.write(struct.pack("<I", n))
        store.write(payload)
        store.write(payload[-4:])
        st, off, cnt = self.index[level]
        st[trow, tcol] = s
        off[trow, tcol] = self._pos[s] + 4
        cnt[trow, tcol] = n
        self._pos[s] += n + 8

    # -- layout ---------------------------------------------------------------------------
    def _ifd_entries(self, k: int, big: bool) -> list[tuple]:
        """(tag, type, count, raw) of level k's IFD, by tag; ``raw`` is None for the
        tile offsets and byte counts, filled in when the layout is known."""
        h, w = self.level_shape(k)
        pack_short = lambda v: struct.pack("<H", v)  # noqa: E731
        pack_long = lambda v: struct.pack("<I", v)  # noqa: E731
        ntiles = int(np.prod(self.tiles_shape(k)))
        entries: list[tuple[int, int, int, bytes | None]] = []
        if k > 0:
            entries.append((254, LONG, 1, pack_long(1)))  # reduced-resolution image
        entries += [(256, LONG, 1, pack_long(w)), (257, LONG, 1, pack_long(h)),
                    (258, SHORT, 1, pack_short(32)), (259, SHORT, 1, pack_short(8)),
                    (262, SHORT, 1, pack_short(1)), (277, SHORT, 1, pack_short(1)),
                    (284, SHORT, 1, pack_short(1)), (317, SHORT, 1, pack_short(3)),
                    (322, SHORT, 1, pack_short(self.tile)),
                    (323, SHORT, 1, pack_short(self.tile)),
                    (324, LONG8 if big else LONG, ntiles, None),
                    (325, LONG, ntiles, None), (339, SHORT, 1, pack_short(3))]
        for t, (typ, count, raw) in self.geo.items():
            if k == 0 or t == 42113:  # overviews: nodata only, as GDAL does
                entries.append((t, typ, count, raw))
        entries.sort(key=lambda e: e[0])
        return entries

    def _layout(self, big: bool):
        """Offsets of every IFD, its out-of-line values and every tile; the file size."""
        ghost_md = _GHOST_ITEMS + " "
        ghost = f"GDAL_STRUCTURAL_METADATA_SIZE={len(ghost_md):06d} bytes\n" + ghost_md
        pos = (16 if big else 8) + len(ghost)
        pos += pos % 2
        esize, cnt_size, ptr = (20, 8, 8) if big else (12, 2, 4)
        ifds = []
        for k in range(self.levels + 1):
            entries = self._ifd_entries(k, big)
            start = pos
            pos += cnt_size + esize * len(entries) + ptr
            extra = []
            for tag, typ, count, _raw in entries:
                size = _TYPES[typ][1] * count
                if size > ptr:
                    pos += pos % 2
                    extra.append((tag, pos))
                    pos += size
            pos += pos % 2
            ifds.append((start, entries, dict(extra)))
        # tile data: smallest overview first, full resolution last
        data_start = pos
        offsets: list[np.ndarray | None] = [None] * (self.levels + 1)
        for k in range(self.levels, -1, -1):
            cnt = self.index[k][2]
            sizes = cnt.ravel() + 8
            ends = pos + np.cumsum(sizes)
            offsets[k] = (ends - sizes + 4).reshape(cnt.shape)
            pos = int(ends[-1]) if sizes.size else pos
        return ghost.encode("ascii"), ifds, data_start, offsets, pos

    def close(self, path: str | os.PathLike, bigtiff: bool | None = None) -> None:
        """Write the COG to ``path`` (the caller makes it atomic) and drop the stores.

        ``bigtiff``: None chooses BigTIFF only when the file would pass 4 GB.
        """
        for f in self._stores:
            f.close()
        try:
            for k, (st, _o, _c) in enumerate(self.index):
                if (st < 0).any():
                    missing = tuple(int(v) for v in np.argwhere(st < 0)[0])
                    raise RuntimeError(f"COG level {k} misses tile {missing}")
            big = bool(bigtiff)
            ghost, ifds, data_start, offsets, size = self._layout(big)
            if bigtiff is None and size >= 2**32 - 1:
                big = True
                ghost, ifds, data_start, offsets, size = self._layout(big)
            with open(path, "wb") as f:
                self._write_header_and_ifds(f, big, ghost, ifds, offsets)
                f.seek(data_start)
                self._copy_tiles(f, offsets)
                f.truncate(size)
        finally:
            self.abort()

    def _write_header_and_ifds(self, f, big: bool, ghost: bytes, ifds, offsets) -> None:
        if big:
            f.write(b"II" + struct.pack("<HHHQ", 43, 8, 0, ifds[0][0]))
        else:
            f.write(b"II" + struct.pack("<HI", 42, ifds[0][0]))
        f.write(ghost)
        for k, (start, entries, extra) in enumerate(ifds):
            nxt = ifds[k + 1][0] if k + 1 < len(ifds) else 0
            values = {324: offsets[k].ravel(), 325: self.index[k][2].ravel()}
            buf = bytearray(struct.pack("<Q" if big else "<H", len(entries)))
            tail = []
            for tag, typ, count, raw in entries:
                if raw is None:
                    code = "<u8" if typ == LONG8 else "<u4"
                    raw = values[tag].astype(code).tobytes()
                if tag in extra:
                    field = struct.pack("<Q" if big else "<I", extra[tag])
                    tail.append((extra[tag], raw))
                else:
                    field = raw.ljust(8 if big else 4, b"\0")
                buf += struct.pack("<HHQ" if big else "<HHI", tag, typ, count) + field
            buf += struct.pack("<Q" if big else "<I", nxt)
            f.seek(start)
            f.write(buf)
            for pos, raw in tail:
                f.seek(pos)
                f.write(raw)

    def _copy_tiles(self, f, offsets) -> None:
        """Copy leader + tile + trailer runs from the stores into place, level by level."""
        fds: dict[int, int] = {}

        def fd_of(i: int) -> int:  # stores opened on demand, at most 64 at a time
            if i not in fds:
                if len(fds) >= 64:
                    for fd in fds.values():
                        os.close(fd)
                    fds.clear()
                fds[i] = os.open(self._paths[i], os.O_RDONLY | getattr(os, "O_BINARY", 0))
            return fds[i]

        try:
            out_fd = f.fileno()
            f.flush()
            for k in range(self.levels, -1, -1):
                st, src, cnt = (a.ravel() for a in self.index[k])
                dst = offsets[k].ravel()
                i = 0
                n = st.size
                while i < n:  # coalesce tiles that lie back to back in the same store
                    j = i + 1
                    while (j < n and st[j] == st[i]
                           and src[j] == src[j - 1] + cnt[j - 1] + 8):
                        j += 1
                    start_src = int(src[i]) - 4
                    length = int(src[j - 1] + cnt[j - 1] + 4) - start_src
                    _copy_range(fd_of(int(st[i])), out_fd, start_src, int(dst[i]) - 4, length)
                    i = j
        finally:
            for fd in fds.values():
                os.close(fd)

    def abort(self) -> None:
        """Close and delete the tile stores (also after an error)."""
        for s in self._stores:
            with contextlib.suppress(Exception):
                s.close()
        for p in self._paths:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _copy_range(src_fd: int, dst_fd: int, src_off: int, dst_off: int, length: int) -> None:
    """Copy ``length`` bytes between files at given offsets (kernel copy when possible)."""
    done = 0
    cfr = getattr(os, "copy_file_range", None)
    while done < length:
        n = 0
        if cfr is not None:
            try:
                n = cfr(src_fd, dst_fd, length - done, src_off + done, dst_off + done)
            except OSError:
                cfr = None
                n = 0
        if n <= 0:  # no kernel copy (other systems, other file systems): read and write
            os.lseek(src_fd, src_off + done, os.SEEK_SET)
            chunk = os.read(src_fd, min(length - done, 16 << 20))
            if not chunk:
                raise OSError("tile store shorter than its index")
            os.lseek(dst_fd, dst_off + done, os.SEEK_SET)
            n = os.write(dst_fd, chunk)
        done += n
