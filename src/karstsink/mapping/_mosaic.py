"""Tiles of one input (a glob or a list) mosaicked on the fly as a GDAL VRT.

:func:`mosaic_vrt` reads each tile's header once and returns the mosaic as a VRT XML
string, which GDAL opens as a dataset name: nothing is written (not beside the tiles,
not in a temporary folder), and the string travels to engine workers like a path.  The
tiles must share the CRS, band count, data type and pixel size (one clear error
otherwise); they may leave gaps (nodata) and overlap (a later tile's valid pixels are
drawn over an earlier one's: GDAL's VRT source order).  :func:`expand_glob` expands a
pattern relative to the configuration's folder; an empty match is an error naming it.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

from ..exceptions import ConfigError, RasterError

__all__ = ["expand_glob", "has_glob", "mosaic_vrt"]

_GLOB = "*?["


def has_glob(value: str) -> bool:
    """Whether a path string is a glob pattern (``*``, ``?`` or ``[``)."""
    return any(ch in value for ch in _GLOB)


def expand_glob(where: str, name: str, pattern: str, resolve) -> list[Path]:
    """Files matching ``pattern`` (relative to the configuration's folder), sorted.

    ``resolve(key, value)`` turns the pattern's fixed leading folders into an existing
    absolute folder (the configuration's path rule).

    Raises
    ------
    ConfigError
        The pattern matches no file.
    """
    parts = Path(pattern).parts
    k = next(i for i, p in enumerate(parts) if has_glob(p))
    fixed = Path(*parts[:k]) if k else Path(".")
    folder = Path(resolve(name, str(fixed)))
    rest = str(Path(*parts[k:]))
    found = sorted(p for p in folder.glob(rest) if p.is_file())
    if not found:
        raise ConfigError(f"{where}[inputs] {name} = \"{pattern}\": the pattern matches no "
                          f"file (in {folder}); check the tile names and the folder.")
    return found


def _header(path: str):
    import rasterio

    from ..io.rasters import display_path

    try:
        with rasterio.open(path) as ds:
            return {"crs": ds.crs, "count": ds.count, "dtypes": ds.dtypes,
                    "transform": ds.transform, "width": ds.width, "height": ds.height,
                    "nodata": ds.nodata, "scales": ds.scales, "offsets": ds.offsets,
                    "units": ds.units, "blocks": ds.block_shapes}
    except rasterio.errors.RasterioIOError as err:
        raise RasterError(f"Cannot read tile {display_path(path)}: "
                          f"{str(err).splitlines()[0]}") from err


def _mismatch(label: str, first: str, tile: str, what: str, a, b) -> RasterError:
    return RasterError(f"Mosaic {label}: tile {tile} has {what} {b}, the first tile ({first}) "
                       f"{a}; the tiles of one input must share CRS, band count, data type "
                       f"and pixel size (reproject or convert the odd tile).")


def mosaic_vrt(tiles: list[str], label: str, valid: tuple[float, float] | None = None) -> str:
    """The VRT XML string of ``tiles`` (paths GDAL opens), ``label`` naming them in errors.

    ``valid = (lo, hi)``: stored numbers outside it become nodata (a MODIS product's fill
    classes above 32700): each source gets a GDAL ``<LUT>`` that is the identity on
    ``[lo, hi]`` and maps everything else to the nodata value (the file's, else the data
    type's extreme outside the range).

    Raises
    ------
    RasterError
        A tile that GDAL cannot read, or one that differs from the first tile in CRS,
        band count, data type, pixel size or rotation.
    """
    heads = [_header(t) for t in tiles]
    h0 = heads[0]
    t0 = h0["transform"]
    if t0.b or t0.d:
        raise RasterError(f"Mosaic {label}: tile {tiles[0]} is rotated; mosaics need "
                          f"north-up tiles.")
    for tile, h in zip(tiles[1:], heads[1:], strict=True):
        t = h["transform"]
        if h["crs"] != h0["crs"]:
            raise _mismatch(label, tiles[0], tile, "CRS", h0["crs"], h["crs"])
        if h["count"] != h0["count"]:
            raise _mismatch(label, tiles[0], tile, "band count", h0["count"], h["count"])
        if h["dtypes"] != h0["dtypes"]:
            raise _mismatch(label, tiles[0], tile, "data type", h0["dtypes"][0],
                            h["dtypes"][0])
        if (t.b or t.d or not math.isclose(t.a, t0.a, rel_tol=1e-9)
                or not math.isclose(t.e, t0.e, rel_tol=1e-9)):
            raise _mismatch(label, tiles[0], tile, "pixel size", (t0.a, t0.e), (t.a, t.e))
        if tuple(h["scales"]) != tuple(h0["scales"]) or tuple(h["offsets"]) != tuple(
                h0["offsets"]):  # the VRT would unpack every tile with the first's
            raise _mismatch(label, tiles[0], tile, "packing (scale, offset)",
                            (h0["scales"], h0["offsets"]), (h["scales"], h["offsets"]))
    xres, yres = t0.a, t0.e  # yres < 0 (north up)
    left = min(h["transform"].c for h in heads)
    top = max(h["transform"].f for h in heads)
    right = max(h["transform"].c + h["width"] * xres for h in heads)
    bottom = min(h["transform"].f + h["height"] * yres for h in heads)
    width = max(1, round((right - left) / xres))
    height = max(1, round((bottom - top) / yres))
    crs = h0["crs"]
    parts = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{height}">']
    if crs is not None:
        parts.append(f"<SRS>{escape(crs.to_wkt())}</SRS>")
    parts.append(f"<GeoTransform>{left!r}, {xres!r}, 0.0, {top!r}, 0.0, {yres!r}"
                 f"</GeoTransform>")
    gdal_type = _GDAL_TYPES.get(h0["dtypes"][0])
    if gdal_type is None:
        raise RasterError(f"Mosaic {label}: data type {h0['dtypes'][0]} cannot be mosaicked "
                          f"as a VRT.")
    nd = h0["nodata"]
    if nd is None and sum(h["width"] * h["height"] for h in heads) < width * height:
        # gaps between the tiles: GDAL would fill them with 0, a valid value; they become
        # nodata (NaN for floats, the data type's extreme for integers)
        import numpy as np

        kind = np.dtype(h0["dtypes"][0])
        nd = (float("nan") if kind.kind == "f" else
              float(np.iinfo(kind).max if kind.kind == "u" else np.iinfo(kind).min))
    lut = ""
    if valid is not None:
        nd = _outside(valid, nd, h0["dtypes"][0], label)
        lo, hi = valid
        eps = 0.5 if h0["dtypes"][0].startswith(("int", "uint")) else max(abs(hi), 1) * 1e-6
        lut = (f"<LUT>{_num(lo - eps)}:{_num(nd)},{_num(lo)}:{_num(lo)},{_num(hi)}:{_num(hi)},"
               f"{_num(hi + eps)}:{_num(nd)}</LUT>")
    for b in range(1, h0["count"] + 1):
        parts.append(f'<VRTRasterBand dataType="{gdal_type}" band="{b}">')
        if nd is not None:
            parts.append(f"<NoDataValue>{_num(nd)}</NoDataValue>")
        if h0["units"] and h0["units"][b - 1]:
            parts.append(f"<UnitType>{escape(h0['units'][b - 1])}</UnitType>")
        if (h0["scales"][b - 1], h0["offsets"][b - 1]) != (1.0, 0.0):
            parts.append(f"<Offset>{h0['offsets'][b - 1]!r}</Offset>"
                         f"<Scale>{h0['scales'][b - 1]!r}</Scale>")
        for tile, h in zip(tiles, heads, strict=True):
            t = h["transform"]
            x_off = _snap((t.c - left) / xres)  # tiles on one lattice: whole pixels
            y_off = _snap((t.f - top) / yres)
            by, bx = h["blocks"][b - 1]
            src_nd = h["nodata"]
            parts.append(
                "<ComplexSource>"
                f'<SourceFilename relativeToVRT="0">{escape(tile)}</SourceFilename>'
                f"<SourceBand>{b}</SourceBand>"
                f'<SourceProperties RasterXSize="{h["width"]}" RasterYSize="{h["height"]}" '
                f'DataType="{gdal_type}" BlockXSize="{bx}" BlockYSize="{by}"/>'
                f'<SrcRect xOff="0" yOff="0" xSize="{h["width"]}" ySize="{h["height"]}"/>'
                f'<DstRect xOff="{_num(x_off)}" yOff="{_num(y_off)}" xSize="{h["width"]}" '
                f'ySize="{h["height"]}"/>'
                + (f"<NODATA>{_num(src_nd)}</NODATA>" if src_nd is not None else "")
                + lut + "</ComplexSource>")
        parts.append("</VRTRasterBand>")
    parts.append("</VRTDataset>")
    return "".join(parts)


def _outside(valid: tuple[float, float], nodata, dtype: str, label: str) -> float:
    """The nodata value for values outside ``valid``: the file's when it lies outside,
    else the data type's largest (or smallest) value if that does."""
    import numpy as np

    lo, hi = valid
    if nodata is not None and not math.isnan(nodata) and not lo <= nodata <= hi:
        return float(nodata)
    info = np.finfo(dtype) if dtype.startswith("float") else np.iinfo(dtype)
    for cand in (info.max, info.min):
        if not lo <= cand <= hi:
            return float(cand)
    raise RasterError(f"{label}: valid_range {lo:g}-{hi:g} covers every {dtype} value; "
                      f"nothing would be masked (check the range).")


def _snap(v: float) -> float:
    """``v`` rounded to a whole number when it is one up to floating-point noise."""
    r = round(v)
    return float(r) if abs(v - r) < 1e-6 else v


def _num(v: float) -> str:
    """A number for the XML: whole numbers without a decimal point, else repr; NaN as nan."""
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


#: numpy dtype name -> GDAL data type name (the types a VRT band takes)
_GDAL_TYPES = {"uint8": "Byte", "int8": "Int8", "uint16": "UInt16", "int16": "Int16",
               "uint32": "UInt32", "int32": "Int32", "uint64": "UInt64", "int64": "Int64",
               "float32": "Float32", "float64": "Float64"}
