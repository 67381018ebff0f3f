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

from ..exceptions import ConfigError, DataError
from ..io.atomic import peak_rss_mb
from ..units import C_TO_CO2

__all__ = ["ZoneIO", "read_zones", "write_zone_tables"]

#: zone quantities, in this order, per zone (engine sums)
ZONE_QUANTITIES = ("area_km2", "karst_area_km2", "nodata_area_km2", "karst_sink_t_c_yr",
                   "biological_sink_t_c_yr", "total_sink_t_c_yr",
                   "scenario_total_sink_t_c_yr", "scenario_difference_t_c_yr")
TOTAL_LABEL = "TOTAL (all zones)"
_ERRORS = {"ConfigError": ConfigError, "DataError": DataError}


def read_zones(path: str | Path, field: str, crs_wkt: str,
               layer: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Zone polygons (shapely, in ``crs_wkt``) and their names (``field`` as text).

    Empty and non-polygon features are dropped.

    Raises
    ------
    ConfigError
        If ``field`` is not a column of the file.
    DataError
        If the file has no polygons, no CRS, or cannot be read.
    """
    import geopandas as gpd

    try:
        gdf = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    except Exception as err:
        raise DataError(f"Cannot read zones file {path}: {err}") from err
    if field not in gdf.columns:
        raise ConfigError(f"[zones] field {field!r} is not a column of {path}; columns: "
                          f"{', '.join(c for c in gdf.columns if c != 'geometry')}.")
    if gdf.crs is None:
        raise DataError(f"Zones file {path} has no CRS; set one and run again.")
    gdf = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    gdf = gdf[gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.empty:
        raise DataError(f"Zones file {path} holds no polygons.")
    gdf = gdf.to_crs(crs_wkt)
    return np.asarray(gdf.geometry.values), gdf[field].astype(str).tolist()


def write_zone_tables(out: Path, field: str, labels: list[str], geometries, crs_wkt: str,
                      sums: np.ndarray, co2: bool) -> dict[str, list]:
    """Write ``zonal_totals.csv`` and ``zonal_totals.gpkg`` into ``out``.

    ``sums`` is ``(quantities, 1 + zones)`` (column 0 = outside every zone).  Zones
    sharing a name are summed and their polygons dissolved, in order of first
    appearance; the CSV ends with a ``TOTAL (all zones)`` row and, with ``co2``,
    t CO2 columns (x 3.664).  Returns the CSV table as ``{column: values}``.
    """
    import geopandas as gpd
    import pandas as pd

    nq = sums.shape[0]
    cols = list(ZONE_QUANTITIES[:nq])
    df = pd.DataFrame(sums[:, 1:].T, columns=cols)
    df.insert(0, field, labels)
    df = df.groupby(field, sort=False, as_index=False).sum()
    total = df[cols].sum().to_frame().T
    total.insert(0, field, TOTAL_LABEL)
    table = pd.concat([df, total], ignore_index=True)
    if co2:
        for c in cols:
            if c.endswith("_t_c_yr"):
                table[c.replace("_t_c_yr", "_t_co2_yr")] = table[c] * C_TO_CO2
    table.to_csv(out / "zonal_totals.csv", index=False)
    gdf = gpd.GeoDataFrame({field: labels}, geometry=list(geometries), crs=crs_wkt)
    gdf = gdf.dissolve(by=field, as_index=False, sort=False).merge(df, on=field, how="left")
    gdf.to_file(out / "zonal_totals.gpkg", driver="GPKG", layer="zonal_totals")
    return {c: table[c].tolist() for c in table.columns}


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
    geoms = labels = None
    while True:
        try:
            req = pickle.load(stdin)
        except (EOFError, OSError):  # the map process is done (or gone)
            return
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if req[0] == "read":
                    _, path, field, crs_wkt, layer = req
                    geoms, labels = read_zones(path, field, crs_wkt, layer)
                    reply = ("ok", shapely.to_wkb(geoms).tolist(), labels)
                else:
                    _, out, field, crs_wkt, sums, co2 = req
                    table = write_zone_tables(Path(out), field, labels, geoms, crs_wkt, sums,
                                              co2)
                    reply = ("ok", table, peak_rss_mb())
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
        self._proc = None
        self._geoms = self._labels = None
        self._write_args = None
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
        built-in warning class, else UserWarning); a bad zones file raises here.
        """
        if self._proc is None:
            return None
        try:
            notes, reply = pickle.load(self._proc.stdout)
            status = reply[0]
        except Exception:  # a dead helper, or anything but the protocol on the pipe
            self.close()
            return None
        for cat, msg in notes:
            category = getattr(builtins, cat, None)
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
                self._geoms, self._labels = read_zones(self.path, self.field, self.crs_wkt,
                                                       self.layer)
            else:
                self._geoms = shapely.from_wkb(np.array(reply[0], dtype=object))
                self._labels = reply[1]
        return self._geoms, self._labels

    def start_write(self, out: Path, sums: np.ndarray, co2: bool) -> None:
        """Ask for the zone tables in ``out`` (the helper writes them while this process
        goes on); :meth:`finish_write` waits for them."""
        self.zones()  # the polygons, for a write in this process should the helper fail
        self._write_args = (Path(out), sums, co2)
        if self._proc is not None:
            try:
                _send(self._proc.stdin, ("write", str(out), self.field, self.crs_wkt, sums, co2))
            except OSError:
                self.close()

    def finish_write(self) -> tuple[dict, float | None]:
        """The CSV table as columns, and the helper's peak memory [MB] (None when the
        tables were written in this process)."""
        reply = self._ask()
        out, sums, co2 = self._write_args
        self._write_args = None
        if reply is not None:
            return reply[0], reply[1]
        for name in ("zonal_totals.csv", "zonal_totals.gpkg"):  # a failed helper's leftovers
            (out / name).unlink(missing_ok=True)
        return write_zone_tables(out, self.field, self._labels, self._geoms, self.crs_wkt, sums,
                                 co2), None

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
