"""Zone polygons in and zone tables out, with geopandas, in a helper process when possible.

Reading the zones and writing ``zonal_totals.csv``/``.gpkg`` need pandas and
geopandas, whose imports cost ~0.4 s (2-core machine of the benchmarks) that
a map run otherwise spends before its first block.  :class:`ZoneIO` starts a
helper process (the same Python) that imports them, reads and reprojects the
zones and later writes the tables, while the map process imports numba, opens
the inputs and loads its kernels on the other core.  The polygons come back as
WKB (exact coordinates); the zone sums go out as a small array.

Where no helper can run (``sys.executable`` is not a Python interpreter, as in
an application embedding Python; ``KARSTSINK_ZONE_HELPER=0``; or the helper
fails for any reason other than a bad zones file) the same functions run in
the map process: the results are identical, only slower to start.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import pickle
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError, DataError, DataQualityWarning
from ..io.atomic import peak_rss_mb
from ..io.write import csv_encoding, excel_csv, to_csv
from ..units import C_TO_CO2
from ._area import has_valid_pixel
from ._outline import layers_if_several, off_grid_area_km2, refuse_invalid_polygons
from ._zone_table import (
    DENSITIES,
    _missing,
    add_densities,
    attribute_frame,
    attribute_values,
    write_gpkg,
)

__all__ = ["ZoneIO", "check_zones_file", "read_zones", "write_zone_tables"]

#: zone quantities, in this order, per zone (engine sums)
ZONE_QUANTITIES = ("area_km2", "karst_area_km2", "nodata_area_km2", "karst_sink_t_c_yr",
                   "biological_sink_t_c_yr", "total_sink_t_c_yr",
                   "scenario_total_sink_t_c_yr", "scenario_difference_t_c_yr")
TOTAL_LABEL = "TOTAL (all zones)"
#: the last column of the zone tables of a map run: the zone's area outside the map grid
OFF_GRID = "off_grid_area_km2"
#: column names of the zone tables a source attribute may not take (it is renamed
#: ``source_<name>``)
_RESERVED = {"zone_id", OFF_GRID, *ZONE_QUANTITIES,
             *(c.replace("_t_c_yr", "_t_co2_yr") for c in ZONE_QUANTITIES),
             *DENSITIES, *(c.replace("_t_c_km2_yr", "_t_co2_km2_yr") for c in DENSITIES)}
_ERRORS = {"ConfigError": ConfigError, "DataError": DataError}


def _text(v) -> str | None:
    """A zone name as text: None for NULL, ``520102`` (not ``520102.0``) for a whole float."""
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _no_field(field: str, path, columns) -> ConfigError:
    return ConfigError(f"[zones] field {field!r} is not a column of {path}; columns: "
                       f"{', '.join(c for c in columns if c != 'geometry')}.")


def _no_crs(path) -> DataError:
    return DataError(f"Zones file {path} has no CRS; set one and run again.")


def _several_layers(path, several: list[str]) -> ConfigError:
    return ConfigError(f"Zones file {path} has {len(several)} layers ({', '.join(several)}): "
                       f"name the one to read with [zones] layer (e.g. layer = "
                       f"\"{several[0]}\").")


def check_zones_file(path: str | Path, field: str, layer: str | None = None) -> None:
    """The cheap part of :func:`read_zones`'s checks, on the file's metadata only (no
    feature read): the file opens, has one layer or ``layer``, ``field`` and a CRS.
    Same errors."""
    import pyogrio

    try:
        several = layers_if_several(path, layer)
        info = pyogrio.read_info(path, layer=layer) if not several else {}
    except Exception as err:
        raise DataError(f"Cannot read zones file {path}: {err}") from err
    if several:
        raise _several_layers(path, several)
    if field not in [str(f) for f in info["fields"]]:
        raise _no_field(field, path, [str(f) for f in info["fields"]])
    _refuse_reserved(field, path)
    if not info.get("crs"):
        raise _no_crs(path)


def _refuse_reserved(field: str, path) -> None:
    """A zone field named like a column karstsink computes would be two columns of one
    name in the zone tables: refused, before the map is computed."""
    if field in _RESERVED:
        raise ConfigError(f"[zones] field {field!r} of {path} is also the name of a column "
                          "karstsink writes in zonal_totals.csv: name another field as the "
                          "zones' label (e.g. a name or code field), or copy this one to a "
                          "field of another name.")


def read_zones(path: str | Path, field: str, crs_wkt: str,
               layer: str | None = None) -> tuple[np.ndarray, list[str], dict]:
    """Zone polygons (shapely, in ``crs_wkt``), their names and their attribute table.

    Every polygon feature is a zone of its own, keyed by its feature id (``fid``):
    features sharing a name stay apart, a NULL name is kept (as an empty label).
    Features without a polygon (empty, NULL or another geometry type) are dropped
    with a :class:`~karstsink.exceptions.DataQualityWarning` naming their fids.

    Returns
    -------
    geometries : numpy.ndarray
        The polygons in ``crs_wkt``.
    labels : list of str
        ``field`` as text per zone ("" for NULL).
    table : dict
        ``zone_id`` (the fids) and every attribute column of the file (``field`` as
        text), one Python value per zone (None for NULL; booleans, integers and dates
        typed as the file's fields), for :func:`write_zone_tables`.

    Raises
    ------
    ConfigError
        If ``field`` is not a column of the file.
    DataError
        If the file has no polygons, no CRS, or cannot be read.
    """
    import geopandas as gpd
    import pyogrio

    try:
        several = layers_if_several(path, layer)
        if not several:
            gdf = gpd.read_file(path, layer=layer, fid_as_index=True) if layer else \
                gpd.read_file(path, fid_as_index=True)
            info = pyogrio.read_info(path, layer=layer)
    except Exception as err:
        raise DataError(f"Cannot read zones file {path}: {err}") from err
    if several:
        raise _several_layers(path, several)
    # the fields' types as GDAL reads them (geopandas gives booleans and integers with
    # NULLs as floats, dates as date-times)
    dtypes = dict(zip(info["fields"], (str(t) for t in info["dtypes"]), strict=True))
    if field not in gdf.columns:
        raise _no_field(field, path, gdf.columns)
    _refuse_reserved(field, path)
    if gdf.crs is None:
        raise _no_crs(path)
    keep = (gdf.geometry.notna() & ~gdf.geometry.is_empty
            & gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"]))
    if not keep.any():
        raise DataError(f"Zones file {path} holds no polygons.")
    if not keep.all():
        dropped = [str(i) for i in gdf.index[~keep]]
        warnings.warn(f"Zones file {path}: {len(dropped)} feature(s) without a polygon "
                      f"(empty, NULL or another geometry type) left out: fid "
                      f"{', '.join(dropped[:20])}{' ...' if len(dropped) > 20 else ''}.",
                      DataQualityWarning, stacklevel=2)
    gdf = gdf[keep]
    refuse_invalid_polygons(f"Zones file {path}", gdf.geometry.values, gdf.index)
    gdf = gdf.to_crs(crs_wkt)
    names = [_text(v) for v in gdf[field].tolist()]
    _refuse_gbk_read_as_latin1(names, path, field)
    table: dict[str, list] = {"zone_id": [int(i) for i in gdf.index]}
    for col in gdf.columns:
        if col == gdf.geometry.name:
            continue
        out = col if col not in _RESERVED or col == field else f"source_{col}"
        table[out] = names if col == field else attribute_values(gdf[col],
                                                                 dtypes.get(col, ""))
    return np.asarray(gdf.geometry.values), [n or "" for n in names], table


def _refuse_gbk_read_as_latin1(names: list, path, field: str) -> None:
    """Refuse zone names that are Chinese text in GBK read as Latin-1 (a shapefile without
    its ``.cpg``: GDAL then takes ISO-8859-1), which would name every zone in mojibake."""
    from ..io.text import mostly_gb2312

    odd = [n for n in names if n and any(ord(c) > 127 for c in n)]
    if not odd or any(ord(c) > 255 for n in odd for c in n):
        return
    try:
        read = [n.encode("latin-1").decode("gb18030") for n in odd]
    except UnicodeError:
        return
    if not mostly_gb2312("".join(read)):
        return
    cpg = Path(str(path)).with_suffix(".cpg")
    raise DataError(
        f"Zones file {path}: the names of field {field!r} look like Chinese text in GBK read "
        f"as Latin-1 ({odd[0]!r} would be {read[0]!r}); say the encoding in {cpg.name} "
        f"beside it (a one-line text file: GBK), or save the zones as a GeoPackage.")


def write_zone_tables(out: Path, field: str, table: dict, geometries, crs_wkt: str,
                      sums: np.ndarray, co2: bool, grid=None,
                      tags: dict[str, str] | None = None) -> dict[str, list]:
    """Write ``zonal_totals.csv`` and ``zonal_totals.gpkg`` into ``out``.

    One row per zone (feature), in file order, keyed by ``zone_id`` (its fid), with
    every source attribute (in the GeoPackage with its field type), then the zone
    quantities; ``sums`` is ``(quantities, 1 + zones)`` (column 0 = outside every
    zone).  A zone without a valid pixel (off the grid, or all nodata) has NaN sinks.
    Then the densities [t C km-2 yr-1] (:func:`karstsink.mapping._zone_table.add_densities`:
    per km2 of the zone, and the karst sink per km2 of carbonate rock; NaN over an area
    of 0).  The CSV ends with a ``TOTAL (all zones)`` row: the sum over zones or, when
    zones overlap (nest), the sums over their union (column ``1 + zones`` of ``sums``),
    so that every area counts once, and the densities of those sums.  With ``co2``,
    every t C column also as t CO2 (x :data:`karstsink.units.C_TO_CO2`).  With the map's
    ``grid`` (:class:`karstsink.mapping.grid.Grid`), last, ``off_grid_area_km2``: the
    zone's area outside the grid [km2] (:func:`karstsink.mapping._outline.off_grid_area_km2`),
    which its totals do not cover; TOTAL: of the union when zones overlap, else the sum.
    ``tags`` (the map's GeoTIFF tags: version, database, parameters, assumptions) become
    the GeoPackage layer's metadata. Returns the CSV table as ``{column: values}`` (None
    for an empty cell of ``zone_id`` and the attributes).
    """
    import pandas as pd

    nq = sums.shape[0]
    nz = len(table["zone_id"])
    cols = list(ZONE_QUANTITIES[:nq])
    # zones 1..nz, then (overlapping zones) their union: the TOTAL row, each area once
    q = pd.DataFrame(sums[:, 1:].T, columns=cols)
    no_pixel = ~has_valid_pixel(q["area_km2"].to_numpy(), q["nodata_area_km2"].to_numpy())
    for c in cols[3:]:  # the sinks [t C yr-1] of zones without a valid pixel: unknown
        q.loc[no_pixel, c] = np.nan
    union, q = (q.iloc[nz:].reset_index(drop=True), q.iloc[:nz]) if len(q) > nz else (None, q)
    attrs = attribute_frame(table)
    attrs["zone_id"] = attrs["zone_id"].astype("Int64")
    df = pd.concat([attrs, q], axis=1)
    total = {c: [q[c].sum(min_count=1) if union is None else union[c].iloc[0]] for c in cols}
    total[field] = [TOTAL_LABEL]
    body = pd.concat([df, pd.DataFrame(total)], ignore_index=True)
    body["zone_id"] = body["zone_id"].astype("Int64")
    for frame in (body, df):
        if co2:
            for c in cols:
                if c.endswith("_t_c_yr"):
                    frame[c.replace("_t_c_yr", "_t_co2_yr")] = frame[c] * C_TO_CO2
        add_densities(frame, co2)
    if grid is not None:  # each zone's area beyond the grid (and their union's)
        import shapely

        geoms = list(geometries[:nz])
        if union is not None:
            geoms.append(shapely.union_all(geoms))
        off = off_grid_area_km2(geoms, grid)
        df[OFF_GRID] = off[:nz]
        body[OFF_GRID] = [*off[:nz], off[nz] if union is not None else float(sum(off))]
    to_csv(body, out / "zonal_totals.csv", index=False)
    write_gpkg(out / "zonal_totals.gpkg", df, geometries[:nz], crs_wkt, "zonal_totals",
               tags)
    numbers = [c for c in body.columns if c not in attrs.columns]
    return {c: body[c].astype(float).tolist() if c in numbers else
            [None if _missing(v) else v for v in body[c].astype(object).tolist()]
            for c in body.columns}


# ----------------------------------------------------------------------------------------
# The helper process and its client
# ----------------------------------------------------------------------------------------
def _send(stream, obj) -> None:
    pickle.dump(obj, stream, protocol=pickle.HIGHEST_PROTOCOL)
    stream.flush()


def serve() -> None:
    """Helper loop: answer ``read`` then ``write`` requests on stdin/stdout (pickles)."""
    import shapely

    # the protocol gets its own copy of file descriptor 1; descriptor 1 itself (and
    # sys.stdout) then point at stderr, so nothing a library prints enters the protocol
    stdin = sys.stdin.buffer
    stdout = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    geoms: np.ndarray | None = None
    table: dict = {}  # the read request comes first (ZoneIO sends it on start)
    while True:
        try:
            req = pickle.load(stdin)
        except (EOFError, OSError):  # the map process is done (or gone)
            return
        reply: tuple
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if req[0] == "read":
                    _, path, field, crs_wkt, layer = req
                    geoms, labels, table = read_zones(path, field, crs_wkt, layer)
                    reply = ("ok", shapely.to_wkb(geoms).tolist(), labels)
                else:
                    _, out, field, crs_wkt, sums, co2, encoding, grid, tags = req
                    with excel_csv(encoding == "utf-8-sig"):  # the map process's --excel
                        columns = write_zone_tables(Path(out), field, table, geoms, crs_wkt,
                                                    sums, co2, grid, tags)
                    reply = ("ok", columns, peak_rss_mb())
            except (ConfigError, DataError) as err:
                reply = ("error", type(err).__name__, str(err))
            except Exception as err:  # reported to the client, which falls back
                reply = ("failed", f"{type(err).__name__}: {err}")
        notes = [(w.category.__name__, str(w.message)) for w in caught]
        try:
            _send(stdout, (notes, reply))
        except OSError:  # the map process stopped listening (it failed or finished)
            return


def _helper_allowed() -> bool:
    if os.environ.get("KARSTSINK_ZONE_HELPER", "1").strip().lower() in ("0", "off", "no"):
        return False
    exe = os.path.basename(sys.executable or "").lower()
    return exe.startswith("python") or exe.startswith("pypy")


class ZoneIO:
    """Reads the zones (and later writes the zone tables), in a helper process if allowed.

    Start it early: :meth:`zones` waits for the polygons; :meth:`start_write` and
    :meth:`finish_write` write the tables; :meth:`close` ends the helper (always
    call it; idempotent).
    """

    def __init__(self, path: str | Path, field: str, crs_wkt: str, layer: str | None = None):
        self.path, self.field, self.crs_wkt, self.layer = str(path), field, crs_wkt, layer
        self._proc: subprocess.Popen | None = None
        self._geoms: np.ndarray | None = None
        self._labels: list[str] | None = None
        self._table: dict | None = None
        self._write_args: tuple[Path, np.ndarray, bool, object, dict | None] | None = None
        if _helper_allowed():
            try:
                # the helper imports what this process imports (same sys.path, e.g. a
                # source checkout or a notebook's path additions); its stderr is not
                # shown: a helper that fails is replaced by this process, which then
                # reports any problem itself
                env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
                self._proc = subprocess.Popen(
                    [sys.executable, "-c",
                     "from karstsink.mapping._zone_io import serve; serve()"],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                    env=env)
                _send(self._proc.stdin, ("read", self.path, field, crs_wkt, layer))
            except OSError:
                self.close()

    def _ask(self):
        """The helper's next answer; None if there is no helper or it failed.

        Warnings the helper caught are issued here (category by name if it is a
        karstsink or built-in warning class, else UserWarning); a bad zones file raises here.
        """
        if self._proc is None:
            return None
        try:
            notes, reply = pickle.load(self._proc.stdout)
            status = reply[0]
        except Exception:  # a dead helper, or anything but the protocol on the pipe
            self.close()
            return None
        from .. import exceptions

        for cat, msg in notes:
            category = getattr(exceptions, cat, None) or getattr(builtins, cat, None)
            if not (isinstance(category, type) and issubclass(category, Warning)):
                category = UserWarning
            warnings.warn(f"zones: {msg}", category, stacklevel=3)
        if status == "error":
            raise _ERRORS.get(reply[1], DataError)(reply[2])
        if status != "ok":
            self.close()
            return None
        return reply[1:]

    def zones(self) -> tuple[np.ndarray, list[str]]:
        """The polygons (shapely, grid CRS) and their names."""
        if self._geoms is None:
            import shapely

            reply = self._ask()
            if reply is None:
                self._geoms, self._labels, self._table = read_zones(
                    self.path, self.field, self.crs_wkt, self.layer)
            else:
                self._geoms = shapely.from_wkb(np.array(reply[0], dtype=object))
                self._labels = reply[1]
        assert self._geoms is not None and self._labels is not None
        return self._geoms, self._labels

    def start_write(self, out: Path, sums: np.ndarray, co2: bool, grid=None,
                    tags: dict[str, str] | None = None) -> None:
        """Ask for the zone tables in ``out`` (the helper writes them while this process
        goes on; ``grid``: the map's, for ``off_grid_area_km2``; ``tags``: the GeoPackage
        layer's metadata); :meth:`finish_write` waits for them."""
        self.zones()  # the polygons, for a write in this process should the helper fail
        self._write_args = (Path(out), sums, co2, grid, tags)
        if self._proc is not None:
            try:
                _send(self._proc.stdin, ("write", str(out), self.field, self.crs_wkt, sums, co2,
                                         csv_encoding(), grid, tags))
            except OSError:
                self.close()

    def finish_write(self) -> tuple[dict, float | None]:
        """The CSV table as columns, and the helper's peak memory [MB] (None when the
        tables were written in this process)."""
        reply = self._ask()
        if self._write_args is None:
            raise RuntimeError("ZoneIO.finish_write() without start_write()")
        out, sums, co2, grid, tags = self._write_args
        self._write_args = None
        if reply is not None:
            return reply[0], reply[1]
        for name in ("zonal_totals.csv", "zonal_totals.gpkg"):  # a failed helper's leftovers
            (out / name).unlink(missing_ok=True)
        if self._table is None:  # the helper read the zones: their attributes, here
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the helper's warnings were relayed
                _, _, self._table = read_zones(self.path, self.field, self.crs_wkt,
                                               self.layer)
        return write_zone_tables(out, self.field, self._table, self._geoms, self.crs_wkt, sums,
                                 co2, grid, tags), None

    def abort_write(self) -> None:
        """If tables were asked for and not collected: end the helper and wait until it
        has exited (it must not write into a folder being removed).

        The helper finishes the write it is doing (a fraction of a second) and exits at
        the end of its input; it is killed only if it has not exited after 60 s.  (On
        Windows a venv's ``python.exe`` may be a launcher whose exit waits for the real
        interpreter, so waiting, not killing, is what makes sure.)"""
        if self._write_args is None or self._proc is None:
            return
        self._write_args = None
        _reap(self._detach())

    def close(self) -> None:
        """End the helper without waiting for it (it exits at the end of its input)."""
        proc = self._detach()
        if proc is not None:
            threading.Thread(target=_reap, args=(proc,), daemon=True,
                             name="karstsink-zone-helper-reaper").start()

    def _detach(self):
        """Forget the helper and close its pipes (it exits at the end of its input)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                with contextlib.suppress(OSError):
                    stream.close()
        return proc


def _reap(proc) -> None:
    """Wait for the helper to exit; kill it only if it has not after 60 s."""
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:  # stuck: not worth a zombie
        proc.kill()
        proc.wait()
