"""Zone files: reading, reprojection, errors, numeric zone names, the zone helper."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from mapping_helpers import GEO, UTM, uniform_inputs, write_config, zones_two_halves
from numpy.testing import assert_allclose

from karstsink.exceptions import ConfigError, DataError
from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map
from karstsink.mapping.zones import load_zones

GRID_CRS = rasterio.crs.CRS.from_string(UTM)


def _two_zones_geo(path, field="name", values=("a", "b"), crs=GEO):
    gdf = gpd.GeoDataFrame({field: list(values)}, geometry=[
        shapely.box(104.90, 25.90, 105.00, 26.00),
        shapely.MultiPolygon([shapely.box(105.0, 25.9, 105.1, 26.0),
                              shapely.box(105.2, 25.9, 105.3, 26.0)])], crs=crs)
    gdf.to_file(path)
    return gdf


def test_zones_are_reprojected_to_the_grid_crs(tmp_path):
    _two_zones_geo(tmp_path / "z.gpkg")
    zs = load_zones(tmp_path / "z.gpkg", "name", GRID_CRS)
    assert zs.labels == ["a", "b"] and zs.n == 2
    assert zs.gdf.crs.to_epsg() == 32648
    # UTM zone 48N has its central meridian at 105 E, where the easting is the false
    # easting, 500 000 m: the first box's east edge (105.0 E) lands there
    xy = shapely.get_coordinates(zs.gdf.geometry.iloc[0])
    assert_allclose(xy[:, 0].max(), 500000.0, atol=1e-6)


def test_numeric_zone_field_becomes_text_labels(tmp_path):
    _two_zones_geo(tmp_path / "z.gpkg", field="code", values=(520102, 520103))
    zs = load_zones(tmp_path / "z.gpkg", "code", GRID_CRS)
    assert zs.labels == ["520102", "520103"]


def test_zone_file_errors(tmp_path):
    _two_zones_geo(tmp_path / "z.gpkg")
    with pytest.raises(ConfigError, match=r"field 'county' is not a column .*columns: name"):
        load_zones(tmp_path / "z.gpkg", "county", GRID_CRS)
    gpd.GeoDataFrame({"name": ["p"]}, geometry=[shapely.Point(105, 26)], crs=GEO).to_file(
        tmp_path / "points.gpkg")
    with pytest.raises(DataError, match="holds no polygons"):
        load_zones(tmp_path / "points.gpkg", "name", GRID_CRS)
    with pytest.warns(UserWarning, match="crs"):  # pyogrio warns about the missing CRS
        gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)]).to_file(
            tmp_path / "nocrs.gpkg")
    with pytest.raises(DataError, match="has no CRS"):
        load_zones(tmp_path / "nocrs.gpkg", "name", GRID_CRS)
    (tmp_path / "junk.gpkg").write_text("not a geopackage", encoding="utf-8")
    with pytest.raises(DataError, match="Cannot read zones file"):
        load_zones(tmp_path / "junk.gpkg", "name", GRID_CRS)


def test_numeric_zone_field_map_run(tmp_path):
    # county codes are often numbers: the zone table used to fail at the very end of the
    # run (a merge of numeric codes with their text labels); zones in another CRS than
    # the grid; the CSV, the GeoPackage and result.zonal agree
    inputs = uniform_inputs(tmp_path)
    left, top = 500000.0, 2900000.0
    gdf = gpd.GeoDataFrame({"code": [1, 2]}, geometry=[
        shapely.box(left, top - 6000, left + 4515, top),
        shapely.box(left + 4515, top - 6000, left + 9000, top)], crs=UTM).to_crs(GEO)
    gdf.to_file(tmp_path / "zones.gpkg")
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "zones.gpkg"\nfield = "code"\n')
    res = run_map(load_config(cfg), tmp_path / "out", jobs=2)
    assert res.zonal["code"].tolist() == ["1", "2", "TOTAL (all zones)"]
    # 4.515 km x 6 km and 4.485 km x 6 km (area-weighted at the border), total 54 km2
    assert_allclose(res.zonal["area_km2"], [27.09, 26.91, 54.0], rtol=0.005)
    csv = pd.read_csv(tmp_path / "out" / "zonal_totals.csv", dtype={"code": str})
    pd.testing.assert_frame_equal(res.zonal, csv, check_exact=False, rtol=1e-15)
    gpkg = gpd.read_file(tmp_path / "out" / "zonal_totals.gpkg")
    assert gpkg["code"].tolist() == ["1", "2"]
    assert_allclose(gpkg["area_km2"], res.zonal["area_km2"][:2], rtol=1e-15)
    assert np.isclose(gpkg.geometry.area.sum() / 1e6, 54.0, rtol=1e-3)  # back in UTM


@pytest.mark.parametrize("numba", [True, False])
def test_a_boundary_in_a_pixel_on_the_block_edge_is_split(tmp_path, monkeypatch, numba):
    import karstsink.mapping.zones as zones_module

    if numba:
        pytest.importorskip("numba")
    monkeypatch.setattr(zones_module, "_HAVE_NUMBA", numba and zones_module._HAVE_NUMBA)
    # 128-px blocks: pixel column 127 is the last of the first block. A boundary at 0.7 of
    # it (x = 500000 + 30 x 127.7 m) gives West 3 of its 4 x 4 sub-pixel columns (centres
    # at 0.125, 0.375, 0.625, 0.875): 127.75 columns x 30 m x 6 km = 22.995 km2 (the
    # pixel-centre rule alone would give it all 128 columns, 23.04 km2)
    inputs = uniform_inputs(tmp_path)
    zones = zones_two_halves(tmp_path, split_x=500000.0 + 30 * 127.7)
    cfg = write_config(tmp_path, inputs, block_size=128,
                       extra=f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
    res = run_map(load_config(cfg), tmp_path / "out", jobs=1, quicklook=False)
    assert_allclose(res.zonal["area_km2"], [127.75 * 0.18, 172.25 * 0.18, 54.0], rtol=1e-6)


# --- the zone helper process (mapping/_zone_io.py) ------------------------------------
def test_helper_and_in_process_reads_are_identical(tmp_path, monkeypatch):
    from karstsink.mapping._zone_io import ZoneIO

    _two_zones_geo(tmp_path / "z.gpkg")
    wkt = GRID_CRS.to_wkt()
    helper = ZoneIO(tmp_path / "z.gpkg", "name", wkt)
    assert helper._proc is not None  # this interpreter is a python: a helper runs
    try:
        g1, l1 = helper.zones()
    finally:
        helper.close()
    monkeypatch.setenv("KARSTSINK_ZONE_HELPER", "0")
    local = ZoneIO(tmp_path / "z.gpkg", "name", wkt)
    assert local._proc is None
    g2, l2 = local.zones()
    assert l1 == l2 == ["a", "b"]
    assert shapely.to_wkb(g1).tolist() == shapely.to_wkb(g2).tolist()  # exact coordinates


def test_helper_passes_on_zone_file_errors(tmp_path):
    from karstsink.mapping._zone_io import ZoneIO

    _two_zones_geo(tmp_path / "z.gpkg")
    zio = ZoneIO(tmp_path / "z.gpkg", "county", GRID_CRS.to_wkt())
    try:
        with pytest.raises(ConfigError, match=r"field 'county' is not a column .*columns: name"):
            zio.zones()
    finally:
        zio.close()


def test_a_dead_helper_falls_back_to_this_process(tmp_path):
    from karstsink.mapping._zone_io import ZoneIO

    _two_zones_geo(tmp_path / "z.gpkg")
    zio = ZoneIO(tmp_path / "z.gpkg", "name", GRID_CRS.to_wkt())
    zio._proc.kill()
    zio._proc.wait()
    _, labels = zio.zones()  # read here instead
    assert labels == ["a", "b"] and zio._proc is None
    sums = np.arange(6 * 3, dtype=float).reshape(6, 3)  # 6 quantities, outside + 2 zones
    zio.start_write(tmp_path, sums, co2=False)
    table, helper_mb = zio.finish_write()
    assert helper_mb is None
    # zone a: column 1 of sums, zone b: column 2; TOTAL = their sum (area_km2 row 0)
    assert table["area_km2"] == [1.0, 2.0, 3.0]
    assert (tmp_path / "zonal_totals.csv").is_file() and (tmp_path / "zonal_totals.gpkg").is_file()


def test_aborted_write_stops_the_helper(tmp_path):
    from karstsink.mapping._zone_io import ZoneIO

    _two_zones_geo(tmp_path / "z.gpkg")
    zio = ZoneIO(tmp_path / "z.gpkg", "name", GRID_CRS.to_wkt())
    zio.zones()
    proc = zio._proc
    zio.start_write(tmp_path / "out", np.zeros((6, 3)), co2=False)  # folder does not exist
    zio.abort_write()
    assert proc.poll() is not None  # gone before the caller removes any folder
    zio.close()


def test_map_process_imports_neither_pandas_nor_geopandas(tmp_path):
    # the zone helper reads and writes the zones; the table becomes a DataFrame on demand
    inputs = uniform_inputs(tmp_path)
    zones = zones_two_halves(tmp_path)
    cfg = write_config(tmp_path, inputs,
                       extra=f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
    code = textwrap.dedent(f"""
        import json, sys
        from karstsink.mapping.config import load_config
        from karstsink.mapping.run import run_map
        res = run_map(load_config({str(cfg)!r}), {str(tmp_path / 'out')!r}, jobs=2)
        loaded = [m for m in ("pandas", "geopandas") if m in sys.modules]
        print(json.dumps({{"loaded": loaded, "names": res.zonal["county"].tolist(),
                           "helper_mb": res.counters.get("zone_helper_peak_mb")}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, timeout=600)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert got["names"] == ["West", "East", "TOTAL (all zones)"]
    assert got["helper_mb"] > 0
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["engine"]["zone_helper_peak_memory_mb"] == got["helper_mb"]


class _FakeHelper:
    """Stands in for the helper process: its replies come from a byte buffer."""

    def __init__(self, payload: bytes):
        import io

        self.stdin = io.BytesIO()
        self.stdout = io.BytesIO(payload)

    def wait(self, timeout=None):
        return 0


def _client_with(monkeypatch, payload: bytes):
    from karstsink.mapping._zone_io import ZoneIO

    monkeypatch.setenv("KARSTSINK_ZONE_HELPER", "0")  # no real helper is started
    zio = ZoneIO("z.gpkg", "name", None)
    zio._proc = _FakeHelper(payload)
    return zio


def test_client_relays_helper_warnings_and_errors(monkeypatch):
    import pickle

    zio = _client_with(monkeypatch, pickle.dumps(([("RuntimeWarning", "odd field type")],
                                     ("ok", [shapely.to_wkb(shapely.box(0, 0, 1, 1))],
                                      ["a"]))))
    with pytest.warns(RuntimeWarning, match="zones: odd field type"):
        geoms, labels = zio.zones()
    assert labels == ["a"] and geoms[0].area == 1.0
    zio = _client_with(monkeypatch, pickle.dumps(([], ("error", "SomethingNew", "bad zones"))))
    with pytest.raises(DataError, match="bad zones"):  # unknown error names: DataError
        zio._ask()


def test_client_treats_garbage_on_the_pipe_as_a_failed_helper(monkeypatch):
    zio = _client_with(monkeypatch, b"Traceback (most recent call last): ...")
    assert zio._ask() is None and zio._proc is None  # the caller then works in-process


def test_no_helper_where_python_is_embedded(monkeypatch):
    # e.g. QGIS's Python console: sys.executable is the application, not a Python
    from karstsink.mapping import _zone_io

    monkeypatch.setattr(_zone_io.sys, "executable", "/usr/bin/qgis")
    assert not _zone_io._helper_allowed()
    monkeypatch.setattr(_zone_io.sys, "executable", "/opt/venv/bin/python3.11")
    assert _zone_io._helper_allowed()
    monkeypatch.setenv("KARSTSINK_ZONE_HELPER", "off")
    assert not _zone_io._helper_allowed()


def test_pixels_in_no_zone_are_recorded_and_warned(tmp_path):
    # one zone over the west half of the 9 km x 6 km grid (300 x 200 px of 30 m): the
    # other 27 km2 lie in no zone, and the TOTAL row of the zone table leaves them out
    from karstsink.exceptions import DataQualityWarning

    inputs = uniform_inputs(tmp_path)
    left, top = 500000.0, 2900000.0
    gpd.GeoDataFrame({"code": ["west"]}, geometry=[shapely.box(left, top - 6000, left + 4500,
                                                               top)], crs=UTM).to_file(
        tmp_path / "zones.gpkg")
    cfg = write_config(tmp_path, inputs, extra='[zones]\npath = "zones.gpkg"\nfield = "code"\n')
    with pytest.warns(DataQualityWarning, match=r"27 km2 of the map's valid pixels \(50 % "):
        res = run_map(load_config(cfg), tmp_path / "out", jobs=1, quicklook=False)
    doc = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    out = doc["flags"]["outside_zones"]
    assert_allclose(out["area_km2"], 27.0, rtol=1e-9)
    # zones + outside = the grid, for every sink
    for col in ("karst_sink_t_c_yr", "biological_sink_t_c_yr", "total_sink_t_c_yr"):
        assert_allclose(res.zonal[col].iloc[-1] + out[col], res.totals[col], rtol=1e-9)
