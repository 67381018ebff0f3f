"""Issue 13: real inputs in (NetCDF variables, time axes, CF packing, units from the file),
GIS-ready outputs out.

The NetCDF files are written in the products' layouts with scipy's NetCDF-3 writer (an
independent writer: GDAL's netCDF driver reads them): CF coordinates ``lat``/``lon`` in
degrees, a ``time`` axis of 12 monthly steps, int16 packing with ``scale_factor`` and
``_FillValue``, the CF ``units`` attribute.  The expected values are the ready GeoTIFFs
a user would compute by hand from the same months (annual sum of monthly amounts; annual
mean of monthly temperatures, K - 273.15), never the code under test.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import rasterio
from mapping_helpers import GEO, GEO_SHAPE, GEO_TRANSFORM, LC_SHAPE, LC_TRANSFORM, UTM, write
from scipy.io import netcdf_file

from karstsink.exceptions import ConfigError, UnitError
from karstsink.mapping._input_units import lookup
from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

NY, NX = GEO_SHAPE
LAT = 26.3 - 0.02 * (np.arange(NY) + 0.5)  # cell centres, north to south
LON = 104.9 + 0.02 * (np.arange(NX) + 0.5)
#: monthly shares of the annual runoff (a monsoon year; they sum to 1)
SHARES = np.array([2, 2, 4, 7, 11, 15, 17, 15, 11, 8, 5, 3], float) / 100.0
#: monthly temperature anomalies [K] (sum 0: their mean is the annual mean)
ANOMALY = np.array([-8, -6, -3, 0, 3, 6, 8, 7, 4, 0, -4, -7], float)


def _annual_fields():
    """Annual runoff [mm/yr] and mean temperature [degC] varying over the climate grid."""
    yy, xx = np.mgrid[0:NY, 0:NX]
    runoff = 350.0 + 15.0 * xx + 8.0 * yy  # 350-637 mm/yr
    temp = 12.0 + 0.25 * yy - 0.1 * xx  # 10.1-16.75 degC
    return runoff, temp


def _nc(path, variables, *, lat=LAT, grid_mapping=True, nt=12):
    """A CF NetCDF-3 file: ``variables`` = {name: (data (t, y, x) or (y, x), dtype, attrs)}."""
    with netcdf_file(path, "w") as f:
        f.Conventions = "CF-1.8"
        f.createDimension("time", nt)
        f.createDimension("lat", len(lat))
        f.createDimension("lon", NX)
        t = f.createVariable("time", "f8", ("time",))
        t[:] = np.arange(nt) * 30.4375 + 15.0
        t.units, t.calendar = "days since 2000-01-01", "standard"
        la = f.createVariable("lat", "f8", ("lat",))
        la[:] = lat
        la.units, la.standard_name = "degrees_north", "latitude"
        lo = f.createVariable("lon", "f8", ("lon",))
        lo[:] = LON
        lo.units, lo.standard_name = "degrees_east", "longitude"
        if grid_mapping:
            crs = f.createVariable("crs", "i4", ())
            crs.grid_mapping_name = "latitude_longitude"
            crs.semi_major_axis, crs.inverse_flattening = 6378137.0, 298.257223563
        for name, (data, dtype, attrs) in variables.items():
            dims = ("time", "lat", "lon") if data.ndim == 3 else ("lat", "lon")
            v = f.createVariable(name, dtype, dims)
            for k, val in attrs.items():
                setattr(v, k, val)
            if grid_mapping:
                v.grid_mapping = "crs"
            v[:] = data
    return path


def _packed_runoff_months(runoff):
    """Monthly runoff [mm/month] as stored: int16 counts of 0.1 mm (TerraClimate's packing),
    with one fill value in a corner pixel of January."""
    months = SHARES[:, None, None] * runoff[None]
    counts = np.rint(months / 0.1).astype(np.int16)
    counts[0, 0, 0] = -32768
    return counts


def _inputs(folder, runoff_tif, temp_tif, lc=10):
    folder.mkdir(parents=True, exist_ok=True)
    carb = np.ones(LC_SHAPE, np.float32)
    carb[:50] = 0.0
    return {
        "landcover": write(folder / "lc.tif", np.full(LC_SHAPE, lc, np.uint8), LC_TRANSFORM,
                           UTM, nodata=0),
        "carbonate": write(folder / "carb.tif", carb, LC_TRANSFORM, UTM),
        "soil_pco2": write(folder / "pco2.tif", np.full(GEO_SHAPE, 10_000.0, np.float32),
                           GEO_TRANSFORM, GEO, nodata=-9999.0),
        "runoff": runoff_tif, "temperature": temp_tif,
    }


def _config(folder, entries: dict) -> object:
    lines = ["[inputs]"] + [f"{k} = {v}" for k, v in entries.items()]
    lines += ["[grid]", "block_size = 128"]
    cfg = folder / "map.toml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def _run(cfg, out):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_map(load_config(cfg), out, jobs=2, quicklook=False)


@pytest.fixture(scope="module")
def ready_and_netcdf(tmp_path_factory):
    """The same inputs as ready GeoTIFFs (mm/yr, degC) and as NetCDF (mm/month int16 x 0.1;
    K), with the two map runs."""
    root = tmp_path_factory.mktemp("real")
    runoff, temp = _annual_fields()
    counts = _packed_runoff_months(runoff)
    # the ready GeoTIFF a user computes by hand: the sum of the 12 decoded months
    # (0.1 mm x counts), nodata where a month is missing
    annual = (counts.astype(float) * 0.1).sum(axis=0)
    annual[0, 0] = -9999.0
    ready = root / "ready"
    ready.mkdir()
    tif = _inputs(ready, write(ready / "runoff.tif", annual.astype(np.float32), GEO_TRANSFORM,
                               GEO, nodata=-9999.0),
                  write(ready / "t.tif", temp.astype(np.float32), GEO_TRANSFORM, GEO,
                        nodata=-9999.0))
    cfg_a = _config(ready, {k: f'"{v.name}"' for k, v in tif.items()})
    nc = root / "nc"
    nc.mkdir()
    kelvin = temp[None] + ANOMALY[:, None, None] + 273.15
    # the temperature file lists latitude south to north (bottom-up, as xarray writes it)
    _nc(nc / "q.nc", {"q": (counts, "i2", {"scale_factor": np.float32(0.1),
                                            "add_offset": np.float32(0.0),
                                            "_FillValue": np.int16(-32768),
                                            "units": "mm/month", "long_name": "runoff"}),
                      "ppt": (counts * 2, "i2", {"scale_factor": np.float32(0.1),
                                                  "units": "mm/month"})})
    _nc(nc / "tas.nc", {"tas": (kelvin[:, ::-1].astype(np.float32), "f4",
                                {"units": "K", "_FillValue": np.float32(-9999.0)})},
        lat=LAT[::-1])
    _inputs(nc, None, None)
    entries = {k: f'"{k if k != "landcover" else "lc"}.tif"' for k in ("landcover",)}
    entries.update({"carbonate": '"carb.tif"', "soil_pco2": '"pco2.tif"',
                    "runoff": '{ path = "q.nc", variable = "q", aggregate = "sum" }',
                    "temperature": '{ path = "tas.nc", aggregate = "mean" }'})
    cfg_b = _config(nc, entries)
    res_a = _run(cfg_a, root / "out_a")
    res_b = _run(cfg_b, root / "out_b")
    return root, res_a, res_b, cfg_b


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(1).astype(float)


def test_netcdf_months_map_equals_ready_geotiffs(ready_and_netcdf):
    root, res_a, res_b, _ = ready_and_netcdf
    for name in ("karst_sink", "total_sink"):
        a = _read(root / "out_a" / f"{name}.tif")
        b = _read(root / "out_b" / f"{name}.tif")
        assert np.array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        assert ok.sum() > 0.5 * a.size and (a[ok] > 0).any()
        # within 0.5 % on every pixel (0 where non-karst in both)
        assert np.all(np.abs(b[ok] - a[ok]) <= 0.005 * np.abs(a[ok]) + 1e-9)
    assert math.isclose(res_b.totals["karst_sink_t_c_yr"], res_a.totals["karst_sink_t_c_yr"],
                        rel_tol=0.005)


def test_run_json_says_how_netcdf_inputs_were_read_with_relative_paths(ready_and_netcdf):
    root, _, _, _ = ready_and_netcdf
    doc = json.loads((root / "out_b" / "run.json").read_text(encoding="utf-8"))
    params = doc["parameters"]
    assert params["inputs"]["runoff"] == "q.nc"
    assert params["inputs"]["temperature"] == "tas.nc"
    opts = params["input_options"]
    assert "aggregate sum" in opts["runoff"] and "units mm/month (from the file)" in opts[
        "runoff"] and "12 bands" in opts["runoff"] and "x 0.1" in opts["runoff"]
    assert "units K (from the file)" in opts["temperature"]
    text = (root / "out_b" / "run.json").read_text(encoding="utf-8")
    assert str(root) not in text  # no absolute path of this machine
    with rasterio.open(root / "out_b" / "total_sink.tif") as ds:
        assert str(root) not in json.dumps(ds.tags())


# --- units ----------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "unit", "value", "expected"), [
    # hand conversions to the model's units
    ("runoff", "mm/month", 10.0, 120.0),                      # x 12 months
    ("runoff", "mm/day", 1.0, 365.25),                        # Julian year
    ("runoff", "m/yr", 0.5, 500.0),
    ("runoff", "kg m-2 s-1", 1e-5, 1e-5 * 365.25 * 86400),    # 1 kg m-2 = 1 mm of water
    ("precipitation", "kg m**-2 s**-1", 3e-5, 3e-5 * 31557600.0),
    ("temperature", "K", 288.15, 15.0),
    ("temperature", "degree_Celsius", 15.0, 15.0),
    ("soil_pco2", "Pa", 101.325, 1000.0),                     # 101.325 Pa / 101,325 Pa = 1e-3
    ("soil_pco2", "atm", 0.01, 10_000.0),
    ("soil_pco2", "percent", 1.0, 10_000.0),
    ("carbonate", "percent", 40.0, 0.4),
    ("nep", "kg C m-2 yr-1", 0.25, 250.0),
    ("nep", "g C m-2 month-1", 10.0, 120.0),
])
def test_unit_conversions_by_hand(name, unit, value, expected):
    u = lookup(name, unit)
    assert math.isclose(u.factor * value + u.offset, expected, rel_tol=1e-12)


def _small(tmp_path, runoff_entry, files=None):
    runoff, temp = _annual_fields()
    tmp_path.mkdir(parents=True, exist_ok=True)
    _inputs(tmp_path, None, write(tmp_path / "t.tif", temp.astype(np.float32),
                                           GEO_TRANSFORM, GEO, nodata=-9999.0))
    for name, spec in (files or {}).items():
        _nc(tmp_path / name, spec[0], **spec[1])
    entries = {"landcover": '"lc.tif"', "carbonate": '"carb.tif"', "soil_pco2": '"pco2.tif"',
               "temperature": '"t.tif"', "runoff": runoff_entry}
    return _config(tmp_path, entries), runoff


def _q(counts, units="mm/month", scale=0.1):
    return {"q": (counts, "i2", {"scale_factor": np.float32(scale), "units": units,
                                 "_FillValue": np.int16(-32768)})}


def test_declared_unit_contradicting_the_file_is_refused(tmp_path):
    runoff, _ = _annual_fields()
    cfg, _ = _small(tmp_path, '{ path = "q.nc", units = "mm/yr", aggregate = "sum" }',
                    {"q.nc": (_q(_packed_runoff_months(runoff)), {})})
    with pytest.raises(UnitError, match=r"runoff.units = 'mm/yr' contradicts .*'mm/month'"):
        _run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bare_amount_per_step_needs_the_step_declared(tmp_path):
    """TerraClimate gives its monthly runoff ``q`` in units "mm" (per month)."""
    runoff, _ = _annual_fields()
    counts = _packed_runoff_months(runoff)
    cfg, _ = _small(tmp_path, '{ path = "q.nc", aggregate = "sum" }',
                    {"q.nc": (_q(counts, units="mm"), {})})
    with pytest.raises(UnitError, match=r"'mm', an amount per time step .*mm/month"):
        _run(cfg, tmp_path / "out")
    cfg.write_text(cfg.read_text().replace('aggregate = "sum" }',
                                           'aggregate = "sum", units = "mm/month" }'))
    _run(cfg, tmp_path / "out")
    assert (tmp_path / "out" / "karst_sink.tif").exists()


def test_several_bands_need_band_or_aggregate_and_a_sum_must_be_a_year(tmp_path):
    runoff, _ = _annual_fields()
    counts = _packed_runoff_months(runoff)
    cfg, _ = _small(tmp_path, '{ path = "q.nc" }', {"q.nc": (_q(counts), {})})
    with pytest.raises(ConfigError, match=r"12 bands .*band = N.*aggregate"):
        _run(cfg, tmp_path / "out")
    cfg.write_text(cfg.read_text().replace('{ path = "q.nc" }', '{ path = "q.nc", band = 13 }'))
    with pytest.raises(ConfigError, match=r"band = 13: .* 12 band"):
        _run(cfg, tmp_path / "out")
    _nc(tmp_path / "q10.nc", _q(counts[:10]), nt=10)
    cfg.write_text(cfg.read_text().replace('{ path = "q.nc", band = 13 }',
                                           '{ path = "q10.nc", aggregate = "sum" }'))
    with pytest.raises(ConfigError, match=r"10 band\(s\) of mm/month .* one year"):
        _run(cfg, tmp_path / "out")


def test_one_band_of_a_time_axis_and_a_missing_variable(tmp_path):
    """``band = 7`` reads July alone: 17 % of the year, as mm/month x 12 per year."""
    runoff, _ = _annual_fields()
    counts = _packed_runoff_months(runoff)
    cfg, _ = _small(tmp_path, '{ path = "q.nc", variable = "nope" }',
                    {"q.nc": (_q(counts), {})})
    with pytest.raises(Exception, match=r"no variable 'nope'.*q"):
        _run(cfg, tmp_path / "out")
    from karstsink.mapping._inputs import InputSpec
    from karstsink.mapping._sources import resolve_input

    r = resolve_input(InputSpec("runoff", tmp_path / "q.nc", variable="q", band=7))
    assert r.bands == (7,) and r.path.startswith("NETCDF:")
    assert math.isclose(r.convert[0], 12.0)  # mm/month -> mm/yr (a rate)


def test_era5_layout_without_grid_mapping_in_metres_per_day(tmp_path):
    """ERA5-Land monthly means: runoff ``ro`` in "m" (of water per day), no grid_mapping
    variable (CF lat/lon: EPSG:4326 assumed)."""
    runoff, _ = _annual_fields()
    per_day = np.repeat((runoff / 365.25 / 1000.0)[None], 12, axis=0).astype(np.float32)
    cfg, _ = _small(tmp_path, '{ path = "ro.nc", aggregate = "mean" }',
                    {"ro.nc": ({"ro": (per_day, "f4", {"units": "m"})},
                               {"grid_mapping": False})})
    with pytest.raises(UnitError, match=r"units 'm', an amount per time step"):
        _run(cfg, tmp_path / "out")
    cfg.write_text(cfg.read_text().replace('aggregate = "mean" }',
                                           'aggregate = "mean", units = "m/day" }'))
    res = _run(cfg, tmp_path / "out")
    doc = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert "EPSG:4326" in doc["parameters"]["input_options"]["runoff"]
    ref_cfg, _ = _small(tmp_path / "ref", '"runoff.tif"')
    write(tmp_path / "ref" / "runoff.tif", runoff.astype(np.float32), GEO_TRANSFORM, GEO)
    ref = _run(ref_cfg, tmp_path / "ref_out")
    assert math.isclose(res.totals["karst_sink_t_c_yr"], ref.totals["karst_sink_t_c_yr"],
                        rel_tol=1e-4)


def test_runoff_in_metres_without_a_unit_is_still_refused(tmp_path):
    runoff, _ = _annual_fields()
    metres = np.repeat((runoff / 1000.0)[None], 12, axis=0).astype(np.float32)
    cfg, _ = _small(tmp_path, '{ path = "r.nc", aggregate = "mean" }',
                    {"r.nc": ({"r": (metres, "f4", {})}, {})})
    with pytest.raises(UnitError, match=r"m/yr"):
        _run(cfg, tmp_path / "out")


# --- GIS-ready outputs --------------------------------------------------------------------
def test_output_cogs_carry_band_unit_statistics_and_a_qgis_style(ready_and_netcdf):
    import xml.etree.ElementTree as ET

    root, res_a, _, _ = ready_and_netcdf
    out = root / "out_a"
    for stem in ("karst_sink", "biological_sink", "total_sink"):
        assert f"{stem}.qml" in res_a.files
        with rasterio.open(out / f"{stem}.tif") as ds:
            assert ds.units == ("t C km-2 yr-1",)  # GDAL's band unit, as QGIS shows it
            tags = ds.tags(1)
            data = ds.read(1)
            desc = ds.descriptions[0]
        v = data[np.isfinite(data)].astype(float)
        # statistics from an overview: within the data's range, mean near the data's mean
        lo, hi = float(tags["STATISTICS_MINIMUM"]), float(tags["STATISTICS_MAXIMUM"])
        assert v.min() - 1e-6 <= lo <= hi <= v.max() + 1e-6
        assert math.isclose(float(tags["STATISTICS_MEAN"]), v.mean(), rel_tol=0.02,
                            abs_tol=1e-6)
        assert float(tags["STATISTICS_STDDEV"]) >= 0
        qml = ET.parse(out / f"{stem}.qml").getroot()
        assert qml.tag == "qgis"
        renderer = qml.find("pipe/rasterrenderer")
        assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("band") == "1"
        items = renderer.findall("rastershader/colorrampshader/item")
        values = [float(i.get("value")) for i in items]
        assert len(items) >= 2 and values == sorted(values) and values[-1] >= hi - 1e-6
        assert all("t C km-2 yr-1" in i.get("label") for i in items)
        props = {o.get("name"): o.get("value") for o in qml.iter("Option") if o.get("name")}
        assert props["karstsink_band"] == desc and props["karstsink_units"] == "t C km-2 yr-1"
