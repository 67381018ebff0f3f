"""``karstsink.mapping.sink_map``: DataArrays / GeoDataFrames in, the same map as
``karstsink map`` on the same files out (a consistency check between two code paths that
must agree: the CLI reads the files, sink_map reads rioxarray DataArrays of them)."""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from mapping_helpers import (
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    read,
    write,
    write_config,
    zones_two_halves,
)

from karstsink.cli import main
from karstsink.exceptions import ConfigError, RasterError, UnitError

xr = pytest.importorskip("xarray")
rioxarray = pytest.importorskip("rioxarray")

from karstsink.mapping import sink_map  # noqa: E402

# rioxarray's coordinates use affine's `*` (PendingDeprecationWarning since affine 3.1)
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:rioxarray")

OUTPUTS = ("karst_sink", "biological_sink", "total_sink")
ZONE_COLUMNS = ("area_km2", "karst_area_km2", "nodata_area_km2", "karst_sink_t_c_yr",
                "biological_sink_t_c_yr", "total_sink_t_c_yr")


def varied_inputs(folder: Path) -> dict[str, Path]:
    """Inputs that vary over the grid (so a misplaced pixel shows): WorldCover classes
    10/30/40 in bands, a carbonate fraction rising 0..1 west to east (0 in the top 30
    rows), runoff 300-900 mm/yr, temperature 10-20 degC, soil pCO2 3,000-20,000 ppmv and
    NEP 20-80 g C m-2 yr-1 on the 0.02 deg climate grid, temperature with the band unit
    degC."""
    folder.mkdir(parents=True, exist_ok=True)
    lc = np.full(LC_SHAPE, 10, np.uint8)
    lc[:, 100:200] = 30
    lc[120:, :] = 40
    lc[0, 0] = 0  # one nodata pixel
    carb = np.tile(np.linspace(0.0, 1.0, LC_SHAPE[1], dtype=np.float32), (LC_SHAPE[0], 1))
    carb[:30] = 0.0
    rows, cols = np.mgrid[0:GEO_SHAPE[0], 0:GEO_SHAPE[1]].astype(np.float32) / 19.0
    paths = {
        "landcover": write(folder / "lc.tif", lc, LC_TRANSFORM, UTM, nodata=0),
        "carbonate": write(folder / "carb.tif", carb, LC_TRANSFORM, UTM),
        "runoff": write(folder / "runoff.tif", 300 + 600 * cols, GEO_TRANSFORM, GEO,
                        nodata=-9999.0),
        "temperature": write(folder / "temperature.tif", 10 + 10 * rows, GEO_TRANSFORM, GEO,
                             nodata=-9999.0),
        "soil_pco2": write(folder / "pco2.tif", 3000 + 17000 * rows * cols, GEO_TRANSFORM,
                           GEO, nodata=-9999.0),
        "nep": write(folder / "nep.tif", 20 + 60 * (1 - cols), GEO_TRANSFORM, GEO,
                     nodata=-9999.0),
    }
    import rasterio

    with rasterio.open(paths["temperature"], "r+") as ds:
        ds.set_band_unit(1, "degC")
    return paths


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``karstsink map`` on the files (the reference of every comparison here)."""
    folder = tmp_path_factory.mktemp("sink_map")
    paths = varied_inputs(folder / "in")
    zones = zones_two_halves(folder / "in")
    cfg = write_config(folder / "in", paths,
                       extra=f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
    out = folder / "cli_out"
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(out), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    return paths, zones, out


def assert_same_map(ds, zone_table, cli_out: Path) -> None:
    for name in OUTPUTS:
        ref = read(cli_out / f"{name}.tif")
        got = np.asarray(ds[name].values, dtype=float)
        assert got.shape == ref.shape
        assert np.array_equal(np.isnan(got), np.isnan(ref)), name
        ok = ~np.isnan(ref)
        assert ok.sum() > 0.9 * ref.size  # the comparison is not over an empty map
        np.testing.assert_allclose(got[ok], ref[ok], rtol=1e-6, atol=0, err_msg=name)
    ref_z = pd.read_csv(cli_out / "zonal_totals.csv")
    assert list(zone_table["county"].astype(str)) == list(ref_z["county"].astype(str))
    for col in ZONE_COLUMNS:
        np.testing.assert_allclose(zone_table[col].to_numpy(float), ref_z[col].to_numpy(float),
                                   rtol=1e-6, err_msg=col)


def open_all(paths: dict[str, Path], **kw) -> dict:
    return {k: rioxarray.open_rasterio(p, **kw) for k, p in paths.items()}


@pytest.fixture
def own_tempdir(tmp_path, monkeypatch):
    """tempfile's folder moved to an empty one, to see what sink_map leaves there."""
    tdir = tmp_path / "tempdir"
    tdir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tdir))
    return tdir


def test_dataarrays_equal_the_cli_map(cli_run, own_tempdir):
    paths, zones, cli_out = cli_run
    ds, zone_table = sink_map(**open_all(paths), zones=zones, zone_field="county",
                              block_size=128)
    assert_same_map(ds, zone_table, cli_out)
    assert ds.rio.crs.to_epsg() == 32648
    assert ds["total_sink"].attrs["units"] == "t C km-2 yr-1"
    assert ds.attrs["karstsink_version"]
    assert "karst sink" in ds.attrs["karstsink_assumptions"]
    assert "xarray.DataArray" in ds.attrs["karstsink_inputs"]
    # the temporary GeoTIFFs the DataArrays went through are deleted: nothing names them
    res = sink_map(**open_all(paths), block_size=128)
    for text in [*res.assumptions, *map(str, res.dataset.attrs.values())]:
        assert ".DataArray.tif" not in text and "karstsink-sink_map-" not in text, text[:200]
    assert any("the nep DataArray" in a for a in res.assumptions)
    assert list(own_tempdir.iterdir()) == []  # the temporary folder is gone


def test_dask_chunks_and_geodataframe_zones_stream(cli_run, own_tempdir, tmp_path):
    """Dask-backed inputs are written chunk by chunk: no task result is the whole array."""
    import geopandas as gpd
    from dask.callbacks import Callback

    paths, zones, cli_out = cli_run
    arrays = open_all(paths, chunks={"band": 1, "y": 64, "x": 64})
    assert all(type(a.data).__module__.startswith("dask") for a in arrays.values())
    largest = [0]

    class Largest(Callback):
        def _posttask(self, key, result, dsk, state, id):
            largest[0] = max(largest[0], getattr(result, "nbytes", 0))

    with Largest():
        res = sink_map(**arrays, zones=gpd.read_file(zones), zone_field="county",
                       block_size=128, out_dir=tmp_path / "kept")
    whole = LC_SHAPE[0] * LC_SHAPE[1] * 4  # the carbonate raster, float32
    assert 0 < largest[0] < whole
    assert res.out_dir == tmp_path / "kept" and (res.out_dir / "total_sink.tif").is_file()
    assert type(res.dataset["total_sink"].data).__module__.startswith("dask")  # lazy
    assert_same_map(res.dataset, res.zones, cli_out)
    assert list(own_tempdir.iterdir()) == []


def test_paths_and_dicts_mix_with_dataarrays(cli_run, own_tempdir):
    paths, zones, cli_out = cli_run
    ds, zone_table = sink_map(
        landcover=paths["landcover"], carbonate=str(paths["carbonate"]),
        runoff={"path": rioxarray.open_rasterio(paths["runoff"]), "force": False},
        temperature={"path": paths["temperature"]}, soil_pco2=paths["soil_pco2"],
        nep=paths["nep"], zones=zones, zone_field="county", block_size=128)
    assert_same_map(ds, zone_table, cli_out)


def test_units_attr_reaches_the_unit_handling(cli_run, own_tempdir):
    """A DataArray in K with attrs units = "K" maps as the degC file: T[K] = T[degC] +
    273.15 (the K -> degC offset, BIPM SI Brochure 9th ed. 2.3.1)."""
    paths, zones, cli_out = cli_run
    arrays = open_all(paths)
    t_k = arrays["temperature"].astype("float64") + 273.15
    t_k = t_k.where(arrays["temperature"] != -9999.0, -9999.0)
    t_k.attrs = {"units": "K"}
    t_k.rio.write_nodata(-9999.0, inplace=True)
    arrays["temperature"] = t_k
    ds, zone_table = sink_map(**arrays, zones=zones, zone_field="county", block_size=128)
    assert_same_map(ds, zone_table, cli_out)
    # a declared unit that contradicts the DataArray's is refused, as for a file
    with pytest.raises(UnitError, match="contradicts") as err:
        sink_map(**{**arrays, "temperature": {"path": t_k, "units": "degC"}})
    assert "the temperature DataArray" in str(err.value)
    assert "DataArray.tif" not in str(err.value)
    assert list(own_tempdir.iterdir()) == []


def test_dataarray_without_crs_is_one_clear_error(cli_run, own_tempdir):
    paths, _, _ = cli_run
    arrays = open_all(paths)
    arrays["runoff"] = arrays["runoff"].drop_vars("spatial_ref")
    arrays["runoff"].encoding.pop("grid_mapping", None)
    assert arrays["runoff"].rio.crs is None
    with pytest.raises(RasterError) as err:
        sink_map(**arrays)
    msg = str(err.value)
    assert "\n" not in msg and "runoff" in msg and "no CRS" in msg and "write_crs" in msg
    assert list(own_tempdir.iterdir()) == []  # removed after the error too


def test_errors_after_inputs_are_written_leave_no_temp_folder(cli_run, own_tempdir):
    paths, zones, _ = cli_run
    with pytest.raises(ConfigError, match="zone_field"):
        sink_map(**open_all(paths), zones=zones)  # no zone_field
    with pytest.raises(ConfigError, match="unknown key 'sytem'"):
        sink_map(**open_all(paths), sytem="open")
    assert list(own_tempdir.iterdir()) == []


def test_keyboard_interrupt_removes_the_temp_folder(cli_run, own_tempdir, monkeypatch):
    import karstsink.mapping.run as run

    def interrupted(*a, **k):
        assert len(list(own_tempdir.iterdir())) == 1  # the inputs were written there
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "run_map", interrupted)
    paths, _, _ = cli_run
    with pytest.raises(KeyboardInterrupt):
        sink_map(**open_all(paths))
    assert list(own_tempdir.iterdir()) == []


def test_three_d_dataarray_with_aggregate(cli_run, own_tempdir):
    """12 monthly runoff steps of R/12 mm/month each, summed: R mm/yr (12 x R/12 = R)."""
    paths, zones, cli_out = cli_run
    arrays = open_all(paths, masked=True)
    r = arrays["runoff"].squeeze("band", drop=True) / 12.0
    monthly = xr.concat([r] * 12, dim="time").assign_coords(time=np.arange(1, 13))
    monthly.attrs = {"units": "mm/month"}
    monthly = monthly.rio.write_crs(r.rio.crs).rio.write_nodata(np.nan)
    arrays["runoff"] = {"path": monthly, "aggregate": "sum"}
    arrays["landcover"] = rioxarray.open_rasterio(paths["landcover"])  # integer classes
    ds, zone_table = sink_map(**arrays, zones=zones, zone_field="county", block_size=128)
    assert_same_map(ds, zone_table, cli_out)
    with pytest.raises(ConfigError, match="12 bands"):  # neither band nor aggregate
        sink_map(**{**arrays, "runoff": monthly})


def test_client_argument_runs_the_dask_engine(cli_run, own_tempdir, tmp_path):
    distributed = pytest.importorskip("distributed")
    from karstsink.mapping._run_args import dask_address

    paths, zones, cli_out = cli_run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1,
                                           processes=False, dashboard_address=None)
    try:
        with distributed.Client(cluster) as client:
            assert dask_address(client) == cluster.scheduler_address
            ds, zone_table = sink_map(**open_all(paths), zones=zones, zone_field="county",
                                      block_size=128, tile_size=128, client=client,
                                      out_dir=tmp_path / "dask_out")
            assert_same_map(ds, zone_table, cli_out)
            import json

            run = json.loads((tmp_path / "dask_out" / "run.json").read_text())
            assert run["engine"]["name"] == "dask" and run["engine"]["tiles"] > 1
    finally:
        cluster.close()


def test_argument_normalisers():
    from karstsink.mapping._run_args import dask_address, zones_argument

    assert dask_address(None) is None
    assert dask_address(" tcp://h:8786 ") == "tcp://h:8786"
    with pytest.raises(ConfigError, match="Client"):
        dask_address(42)
    with pytest.raises(ConfigError, match="empty"):
        dask_address("  ")
    assert zones_argument(None, None, ".") == (None, None, None)
    assert zones_argument("z.gpkg", "name", ".") == (Path("z.gpkg"), "name", None)
    with pytest.raises(ConfigError, match="without zones"):
        zones_argument(None, "name", ".")
    with pytest.raises(ConfigError, match="a polygons file path or a geopandas"):
        zones_argument(3, "name", ".")


def test_geodataframe_checks(tmp_path):
    import geopandas as gpd
    import shapely

    from karstsink.mapping._run_args import zones_argument

    gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[shapely.box(0, 0, 1, 1)])
    with pytest.raises(ConfigError, match="no CRS"):
        zones_argument(gdf, "name", tmp_path)
    with pytest.raises(ConfigError, match=r"not a column.*name"):
        zones_argument(gdf.set_crs(4326), "county", tmp_path)
    path, field, layer = zones_argument(gdf.set_crs(4326), "name", tmp_path)
    assert (path, field) == (tmp_path / "zones.gpkg", "name")
    assert list(gpd.read_file(path, layer=layer)["name"]) == ["a"]


def test_bad_argument_type_names_the_input(cli_run, own_tempdir):
    paths, _, _ = cli_run
    with pytest.raises(ConfigError, match=r"runoff=.*got int"):
        sink_map(**{**open_all(paths), "runoff": 5})
    assert list(own_tempdir.iterdir()) == []


def test_import_mapping_does_not_import_xarray():
    import subprocess
    import sys

    code = ("import sys, karstsink.mapping as m; m.sink_map; "
            "print('xarray' in sys.modules, 'rioxarray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.stdout.split() == ["False", "False"]


def test_dataarray_from_scratch_warns_with_its_name(cli_run, own_tempdir):
    """A DataArray built from numpy (pixel-centre coordinates, CRS written) maps as its file;
    float class codes give the map's warning, naming the DataArray, not a temporary file."""
    from karstsink.exceptions import DataQualityWarning

    paths, zones, cli_out = cli_run
    arrays = open_all(paths)
    codes = read(paths["landcover"]).astype(np.float32)
    x = LC_TRANSFORM.c + LC_TRANSFORM.a * (np.arange(LC_SHAPE[1]) + 0.5)
    y = LC_TRANSFORM.f + LC_TRANSFORM.e * (np.arange(LC_SHAPE[0]) + 0.5)
    lc = xr.DataArray(codes, dims=("y", "x"), coords={"y": y, "x": x})
    arrays["landcover"] = lc.rio.write_crs(UTM).rio.write_nodata(0.0)
    with warnings.catch_warnings(record=True) as rec:  # (pytest.warns re-emits the rest
        warnings.simplefilter("always")                # without their module)
        ds, zone_table = sink_map(**arrays, zones=zones, zone_field="county", block_size=128)
    ours = [str(w.message) for w in rec if w.category is DataQualityWarning]
    assert len(ours) == 1 and "Land-cover raster the landcover DataArray stores" in ours[0]
    assert rec[[str(w.message) for w in rec].index(ours[0])].filename == __file__
    assert not any("DataArray.tif" in str(w.message) for w in rec)
    assert_same_map(ds, zone_table, cli_out)


def test_packed_input_decoded_by_rioxarray_maps_as_its_file(cli_run, own_tempdir, tmp_path):
    """int16 runoff packed with scale 0.1 (value = stored x 0.1): the DataArray rioxarray
    decodes (mask_and_scale) is packed again on writing and unpacked by the map."""
    import rasterio

    paths, _, _ = cli_run
    stored = np.round((300 + 600 * np.linspace(0, 1, GEO_SHAPE[1])) * 10).astype(np.int16)
    packed = write(tmp_path / "q_packed.tif", np.tile(stored, (GEO_SHAPE[0], 1)),
                   GEO_TRANSFORM, GEO, nodata=-32768)
    with rasterio.open(packed, "r+") as ds:
        ds.scales = (0.1,)
    da = rioxarray.open_rasterio(packed, mask_and_scale=True)
    assert da.dtype.kind == "f" and float(da.max()) == pytest.approx(900.0, rel=1e-6)
    common = {k: v for k, v in paths.items() if k != "runoff"}
    from_file = sink_map(**common, runoff=packed, block_size=128).dataset
    from_da = sink_map(**common, runoff=da, block_size=128).dataset
    for name in OUTPUTS:
        np.testing.assert_allclose(from_da[name].values, from_file[name].values, rtol=1e-6)


def test_missing_xarray_names_the_extra(monkeypatch, own_tempdir):
    import sys

    monkeypatch.setitem(sys.modules, "rioxarray", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match=r"rioxarray is missing.*karstsink\[xarray\]"):
        sink_map(landcover="lc.tif")
    assert list(own_tempdir.iterdir()) == []


def test_run_map_takes_a_geodataframe_for_zones(tmp_path):
    # run_map(zones=GeoDataFrame) gives the zone table of the same polygons from a file
    import geopandas as gpd
    from mapping_helpers import uniform_inputs, write_config, zones_two_halves

    from karstsink.mapping import run_map
    from karstsink.mapping.config import load_config

    inputs = uniform_inputs(tmp_path)
    zpath = zones_two_halves(tmp_path)
    with_file = write_config(tmp_path, inputs,
                             extra=f'[zones]\npath = "{zpath.name}"\nfield = "county"\n')
    a = run_map(load_config(with_file), tmp_path / "a", quicklook=False).zonal
    plain = tmp_path / "plain"
    plain.mkdir()
    cfg = load_config(write_config(plain, uniform_inputs(plain)))
    b = run_map(cfg, tmp_path / "b", quicklook=False, zones=gpd.read_file(zpath),
                zone_field="county").zonal
    cols = ["county", "area_km2", "karst_sink_t_c_yr", "total_sink_t_c_yr"]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True),
                                  b[cols].reset_index(drop=True))


def test_a_dataarray_with_ascending_y_is_the_same_map(cli_run):
    # NetCDF grids often run south to north (ascending y): the same data, so the same map
    import geopandas as gpd

    paths, zones, cli_out = cli_run
    arrays = open_all(paths)
    arrays = {k: (a.sortby("y") if k in ("runoff", "temperature") else a)
              for k, a in arrays.items()}
    assert arrays["runoff"].y.values[0] < arrays["runoff"].y.values[-1]
    res = sink_map(**arrays, zones=gpd.read_file(zones), zone_field="county", block_size=128)
    assert_same_map(res.dataset, res.zones, cli_out)


def test_a_south_up_file_is_refused_with_how_to_flip_it(cli_run, tmp_path):
    # rasterio's bounds of a south-up file have bottom > top: it was refused as "does not
    # overlap the target grid", with the same rectangle on both sides
    import rasterio
    from rasterio.transform import Affine

    paths, _zones, _out = cli_run
    with rasterio.open(paths["runoff"]) as src:
        data, t, profile = src.read(1), src.transform, src.profile
    flipped = Affine(t.a, 0.0, t.c, 0.0, -t.e, t.f + t.e * src.height)
    profile.update(transform=flipped)
    south_up = tmp_path / "runoff_south_up.tif"
    with rasterio.open(south_up, "w", **profile) as dst:
        dst.write(data[::-1], 1)
    with pytest.raises(RasterError, match=r"Input 'runoff' \(.*\) is stored south-up .*gdalwarp"):
        sink_map(**{**paths, "runoff": south_up})
