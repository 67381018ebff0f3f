"""Issue 13 (inputs): polygon lithology, tile mosaics, URLs and virtual paths, the MODIS
packing convention, and the must-show comparison of a map from ready GeoTIFFs with the
same map from a CF NetCDF of packed monthly runoff, a NetCDF of monthly temperature in K
and carbonate as GeoPackage polygons.

Expected values are hand calculations: the polygons' edges lie on a quarter-pixel
lattice of the 30 m land-cover grid, so the covered fraction of each pixel is the
product of the overlaps of the pixel with the rectangle along x and y (minus the hole's),
computed here interval by interval, never by the rasteriser under test.
"""

from __future__ import annotations

import math
import warnings
import zipfile

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_helpers import GEO, GEO_SHAPE, GEO_TRANSFORM, LC_SHAPE, LC_TRANSFORM, UTM, write
from test_real_inputs import ANOMALY, _annual_fields, _nc, _packed_runoff_months

from karstsink.exceptions import ConfigError, DataError, RasterError
from karstsink.io.rasters import virtual_path
from karstsink.mapping._inputs import implied_inputs
from karstsink.mapping._sources import resolve_input
from karstsink.mapping.config import config_from_dict, load_config
from karstsink.mapping.run import run_map

LEFT, TOP, PX = 500000.0, 2900000.0, 30.0
H, W = LC_SHAPE
# limestone: columns 10.25-200.5, rows 40.75-180.25 (in pixels), with a hole at
# columns 100.5-120.5, rows 100-110.5; dolomite: columns 200.5-260.75, rows 60-150.5
LIME = (10.25, 200.5, 40.75, 180.25)
HOLE = (100.5, 120.5, 100.0, 110.5)
DOLO = (200.5, 260.75, 60.0, 150.5)


def _overlap(lo: float, hi: float, n: int) -> np.ndarray:
    """Length of [lo, hi] inside each pixel [i, i + 1] of n pixels (hand formula)."""
    i = np.arange(n, dtype=float)
    return np.clip(np.minimum(i + 1, hi) - np.maximum(i, lo), 0.0, 1.0)


def _cover(rect) -> np.ndarray:
    c0, c1, r0, r1 = rect
    return np.outer(_overlap(r0, r1, H), _overlap(c0, c1, W))


def _box(rect):
    import shapely

    c0, c1, r0, r1 = rect
    return shapely.box(LEFT + PX * c0, TOP - PX * r1, LEFT + PX * c1, TOP - PX * r0)


def _gpkg(path, crs=UTM, invalid=False):
    """The lithology GeoPackage: limestone (with a hole), dolomite, a sandstone polygon."""
    import geopandas as gpd
    import shapely

    lime = shapely.Polygon(_box(LIME).exterior.coords, [_box(HOLE).exterior.coords[::-1]])
    geoms = [lime, _box(DOLO), _box((0, 300, 185, 200))]
    if invalid:  # a bow tie: self-intersecting
        geoms[2] = shapely.Polygon([(LEFT, TOP), (LEFT + 300, TOP - 300), (LEFT + 300, TOP),
                                    (LEFT, TOP - 300)])
    gdf = gpd.GeoDataFrame({"rock": ["Limestone", "dolomite", "sandstone"]}, geometry=geoms,
                           crs=UTM)
    gdf.to_crs(crs).to_file(path, layer="geology", driver="GPKG")
    return path


def _run(cfg, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_map(cfg, out, jobs=2, quicklook=False, **kw)


def _config(folder, entries: dict):
    lines = ["[inputs]"] + [f"{k} = {v}" for k, v in entries.items()]
    lines += ["[grid]", "block_size = 128"]
    p = folder / "map.toml"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _read(path):
    with rasterio.open(path) as ds:
        return ds.read(1).astype(float)


@pytest.fixture(scope="module")
def products(tmp_path_factory):
    """(a) ready GeoTIFFs and (b) NetCDF runoff/temperature + GeoPackage carbonate."""
    root = tmp_path_factory.mktemp("products")
    runoff, temp = _annual_fields()
    counts = _packed_runoff_months(runoff)
    annual = (counts.astype(float) * 0.1).sum(axis=0)  # the 12 decoded months, by hand
    annual[0, 0] = -9999.0  # a missing January
    carb = _cover(LIME) - _cover(HOLE) + _cover(DOLO)  # exact covered fraction
    ready = root / "ready"
    ready.mkdir()
    write(ready / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    write(ready / "carb.tif", carb.astype(np.float32), LC_TRANSFORM, UTM)
    write(ready / "pco2.tif", np.full(GEO_SHAPE, 10_000.0, np.float32), GEO_TRANSFORM, GEO,
          nodata=-9999.0)
    write(ready / "runoff.tif", annual.astype(np.float32), GEO_TRANSFORM, GEO, nodata=-9999.0)
    write(ready / "t.tif", temp.astype(np.float32), GEO_TRANSFORM, GEO, nodata=-9999.0)
    cfg_a = _config(ready, {"landcover": '"lc.tif"', "carbonate": '"carb.tif"',
                            "soil_pco2": '"pco2.tif"', "runoff": '"runoff.tif"',
                            "temperature": '"t.tif"'})
    nc = root / "nc"
    nc.mkdir()
    for f in ("lc.tif", "pco2.tif"):
        (nc / f).write_bytes((ready / f).read_bytes())
    kelvin = temp[None] + ANOMALY[:, None, None] + 273.15
    _nc(nc / "q.nc", {"q": (counts, "i2", {"scale_factor": np.float32(0.1),
                                            "add_offset": np.float32(0.0),
                                            "_FillValue": np.int16(-32768),
                                            "units": "mm/month"})})
    _nc(nc / "tas.nc", {"tas": (kelvin.astype(np.float32), "f4",
                                {"units": "K", "_FillValue": np.float32(-9999.0)})})
    _gpkg(nc / "lith.gpkg")
    cfg_b = _config(nc, {
        "landcover": '"lc.tif"', "soil_pco2": '"pco2.tif"',
        "carbonate": '{ path = "lith.gpkg", layer = "geology", field = "rock", '
                     'values = ["limestone", "dolomite"] }',
        "runoff": '{ path = "q.nc", variable = "q", aggregate = "sum" }',
        "temperature": '{ path = "tas.nc", aggregate = "mean" }'})
    return root, carb, cfg_a, cfg_b


def test_netcdf_and_geopackage_map_equals_ready_geotiffs(products):
    root, carb, cfg_a, cfg_b = products
    res_a = _run(load_config(cfg_a), root / "out_a")
    res_b = _run(load_config(cfg_b), root / "out_b")
    for name in ("karst_sink", "total_sink"):
        a = _read(root / "out_a" / f"{name}.tif")
        b = _read(root / "out_b" / f"{name}.tif")
        assert np.array_equal(np.isnan(a), np.isnan(b))
        ok = ~np.isnan(a)
        assert ok.sum() > 0.5 * a.size and (a[ok] > 0).any()
        # within 0.5 % on every pixel
        assert np.all(np.abs(b[ok] - a[ok]) <= 0.005 * np.abs(a[ok]) + 1e-9)
    # partly covered pixels are mapped as such: column 10 of the limestone (0.75 covered)
    a = _read(root / "out_a" / "karst_sink.tif")
    assert 0.0 < a[100, 10] < a[100, 50]
    assert math.isclose(res_b.totals["karst_sink_t_c_yr"], res_a.totals["karst_sink_t_c_yr"],
                        rel_tol=0.005)
    # the carbonate area [km2]: the hand-computed covered fraction x 0.0009 km2 per pixel
    assert math.isclose(res_b.totals["karst_area_km2"], carb.sum() * 0.0009, rel_tol=1e-6)


def _spec(folder, entry, name="carbonate"):
    raw = {"inputs": {"landcover": "lc.tif", "carbonate": "lc.tif", "runoff": "lc.tif",
                      "temperature": "lc.tif", "soil_pco2": "lc.tif", name: entry}}
    return config_from_dict(raw, base=folder).input_specs[name]


def _source(folder, entry, name="carbonate"):
    from karstsink.mapping._block import _open_sources
    from karstsink.mapping.grid import Grid

    grid = Grid(rasterio.crs.CRS.from_user_input(UTM), LC_TRANSFORM, W, H)
    read = resolve_input(_spec(folder, entry, name))
    return _open_sources({name: read.path}, grid)[name], grid


def test_dolomite_share_of_the_carbonate_cover(products, tmp_path):
    import pickle

    from rasterio.windows import Window

    nc = products[0] / "nc"
    entry = {"path": "lith.gpkg", "field": "rock", "values": ["limestone", "dolomite"],
             "dolomite_values": ["dolomite"]}
    spec = _spec(nc, entry)
    implied = implied_inputs("", {"carbonate": spec})
    assert set(implied) == {"dolomite_fraction"}
    dol, _ = _source(nc, entry, "dolomite_fraction")
    whole = Window(0, 0, W, H)
    d = dol.read(whole)
    # by hand: dolomite cover / (limestone + dolomite cover) where there is carbonate
    lime, dolo = _cover(LIME) - _cover(HOLE), _cover(DOLO)
    total = lime + dolo
    expected = np.divide(dolo, total, out=np.zeros_like(total), where=total > 0)
    assert np.allclose(d, expected, atol=1e-6)
    assert math.isclose(d[100, 200], 0.5 / 1.0)  # column 200: 0.5 limestone, 0.5 dolomite
    # a pickled source (engine workers) re-reads its polygons and gives the same block
    again = pickle.loads(pickle.dumps(dol))
    assert again._geoms is None
    assert np.array_equal(again.read(whole), d)


def test_shipped_glim_table_and_partial_classes(tmp_path):
    import geopandas as gpd

    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    # GLiM first-level codes in field xx: sc counts (share 1), sm and ss do not (share 0)
    gdf = gpd.GeoDataFrame({"xx": ["sc", "sm", "ss"]},
                           geometry=[_box((0, 100, 0, 50)), _box((100, 200, 0, 50)),
                                     _box((200, 300, 0, 50))], crs=UTM)
    gdf.to_file(tmp_path / "glim.gpkg", driver="GPKG")
    src, _ = _source(tmp_path, {"path": "glim.gpkg", "field": "xx", "table": "glim"})
    from rasterio.windows import Window

    f = src.read(Window(0, 0, W, H))
    assert np.all(f[:50, :100] == 1.0) and np.all(f[:50, 100:] == 0.0) and np.all(f[50:] == 0)
    # a user table with a share for mixed sedimentary rocks: sm = 0.5
    (tmp_path / "t.csv").write_text("# my shares\nvalue,carbonate_share\nsc,1\nsm,0.5\n",
                                    encoding="utf-8")
    src, _ = _source(tmp_path, {"path": "glim.gpkg", "field": "xx", "table": "t.csv"})
    f = src.read(Window(0, 0, W, H))
    assert np.allclose(f[:50, 100:200], 0.5) and np.all(f[:50, 200:] == 0)


def test_vector_errors_name_the_file_layer_field_and_key(products, tmp_path):
    nc = products[0] / "nc"
    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    with pytest.raises(ConfigError, match=r"carbonate.field = 'lithology'.*fields: rock"):
        _source(nc, {"path": "lith.gpkg", "field": "lithology", "values": ["limestone"]})
    with pytest.raises(ConfigError, match=r"no feature has any of the values marble.*"
                                          r"holds: dolomite, limestone, sandstone"):
        _source(nc, {"path": "lith.gpkg", "field": "rock", "values": ["marble"]})
    with pytest.raises(ConfigError, match=r"layer = 'rocks'.*its layers: geology"):
        _source(nc, {"path": "lith.gpkg", "layer": "rocks", "field": "rock",
                     "values": ["limestone"]})
    with pytest.raises(ConfigError, match="polygons need the attribute field"):
        _spec(nc, "lith.gpkg")
    with pytest.raises(ConfigError, match="give values"):
        _spec(nc, {"path": "lith.gpkg", "field": "rock"})
    with pytest.raises(ConfigError, match="only carbonate"):
        _spec(nc, {"path": "lith.gpkg", "field": "rock", "values": ["x"]}, "runoff")
    from karstsink.mapping._vector import VectorSource
    from karstsink.mapping.grid import Grid

    far = Grid(rasterio.crs.CRS.from_user_input(UTM), LC_TRANSFORM @ rasterio.Affine.translation(
        10_000, 0), W, H)  # 300 km east of the polygons
    read = resolve_input(_spec(nc, {"path": "lith.gpkg", "field": "rock",
                                    "values": ["limestone"]}))
    with pytest.raises(DataError, match=r"no polygon with the carbonate values.*reaches"):
        VectorSource(read.path, far, "carbonate")
    _gpkg(tmp_path / "bad.gpkg", invalid=True)
    with pytest.raises(DataError, match=r"bad.gpkg.*1 of 3 polygons are invalid.*makevalid"):
        _source(tmp_path, {"path": "bad.gpkg", "field": "rock",
                           "values": ["limestone", "sandstone", "dolomite"]})


def test_polygons_in_another_crs_are_reprojected(products, tmp_path):
    from rasterio.windows import Window

    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    _gpkg(tmp_path / "geo.gpkg", crs=GEO)  # stored in lon/lat: edges no longer on the lattice
    src, _ = _source(tmp_path, {"path": "geo.gpkg", "field": "rock",
                                "values": ["limestone", "dolomite"]})
    f = src.read(Window(0, 0, W, H))
    expected = _cover(LIME) - _cover(HOLE) + _cover(DOLO)
    # the area agrees within 0.5 % (edges within a pixel's 1/8 per crossing), interiors exact
    assert math.isclose(f.sum(), expected.sum(), rel_tol=0.005)
    assert np.all(f[expected == 1.0][:1000] > 0.9)


# ----------------------------------------------------------------------------------------
# Mosaics, URLs and virtual paths
# ----------------------------------------------------------------------------------------
def _tiles(folder):
    """The land-cover grid cut into 2 x 2 tiles named like ESA WorldCover's."""
    lc = (np.arange(H * W).reshape(H, W) % 7 * 10 + 10).astype(np.uint8)
    names = []
    for i, r in enumerate((0, 100)):
        for j, c in enumerate((0, 150)):
            t = LC_TRANSFORM @ rasterio.Affine.translation(c, r)
            n = folder / f"ESA_WorldCover_10m_2021_v200_N{i}E{j}_Map.tif"
            write(n, lc[r:r + 100, c:c + 150], t, UTM, nodata=0)
            names.append(n)
    return lc, names


def test_glob_and_list_of_tiles_are_one_vrt_mosaic(tmp_path):
    (tmp_path / "tiles").mkdir()
    lc, names = _tiles(tmp_path / "tiles")
    write(tmp_path / "lc.tif", lc, LC_TRANSFORM, UTM, nodata=0)
    spec = _spec(tmp_path, "tiles/ESA_WorldCover_10m_2021_v200_*_Map.tif", "landcover")
    assert str(spec.path).startswith("<VRTDataset") and spec.source.endswith("*_Map.tif")
    # the output-folder guard sees the tiles as inputs (an output folder among them is
    # refused, never overwritten)
    from karstsink.io.atomic import input_paths

    assert set(names) <= {p.resolve() for p in input_paths(spec)}
    with rasterio.open(spec.path) as ds:
        assert ds.shape == LC_SHAPE and ds.transform == LC_TRANSFORM
        assert np.array_equal(ds.read(1), lc)
    listed = _spec(tmp_path, [f"tiles/{n.name}" for n in names[::-1]], "landcover")
    with rasterio.open(listed.path) as ds:
        assert np.array_equal(ds.read(1), lc)
    # nothing written beside the tiles
    assert not list(tmp_path.glob("**/*.vrt")) and not list(tmp_path.glob("**/*.xml"))
    with pytest.raises(ConfigError, match=r"tiles/ESA_\*_v100.tif.*matches no file"):
        _spec(tmp_path, "tiles/ESA_*_v100.tif", "landcover")
    # tiles that differ in data type are refused with both named
    write(tmp_path / "tiles" / "odd.tif", lc[:10, :10].astype(np.int16), LC_TRANSFORM, UTM)
    with pytest.raises(RasterError, match=r"odd.tif has data type int16.*uint8"):
        _spec(tmp_path, ["tiles/" + names[0].name, "tiles/odd.tif"], "landcover")


def test_urls_become_gdal_virtual_paths_and_a_zip_is_read(tmp_path):
    assert virtual_path("https://data.example.org/q.tif") == "/vsicurl/https://data.example.org/q.tif"
    assert virtual_path("s3://esa-worldcover/v200/2021/map/x.tif") == \
        "/vsis3/esa-worldcover/v200/2021/map/x.tif"
    assert virtual_path("/vsizip//data/a.zip/a.tif") == "/vsizip//data/a.zip/a.tif"
    assert virtual_path("data/q.tif") is None
    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    # a URL is kept as it is: not resolved against the config folder, not checked on disk
    spec = _spec(tmp_path, "https://data.example.org/q.tif", "runoff")
    assert spec.path == "/vsicurl/https://data.example.org/q.tif"
    # a real virtual path: a GeoTIFF inside a zip
    write(tmp_path / "t.tif", np.full(GEO_SHAPE, 288.15, np.float32), GEO_TRANSFORM, GEO)
    with zipfile.ZipFile(tmp_path / "clim.zip", "w") as z:
        z.write(tmp_path / "t.tif", "clim/t.tif")
    vsi = f"/vsizip/{tmp_path / 'clim.zip'}/clim/t.tif"
    spec = _spec(tmp_path, {"path": vsi, "units": "K"}, "temperature")
    read = resolve_input(spec)
    assert read.path == vsi and read.convert == (1.0, -273.15)


# ----------------------------------------------------------------------------------------
# MODIS packing: value = scale_factor x (stored - add_offset)
# ----------------------------------------------------------------------------------------
def test_modis_convention_explicit_and_from_hdf_eos_metadata(tmp_path):
    from rasterio.windows import Window

    from karstsink.mapping.grid import AlignedSource, Grid

    stored = np.full(GEO_SHAPE, 5000, np.int16)
    p = write(tmp_path / "nep.tif", stored, GEO_TRANSFORM, GEO, nodata=32767)
    with rasterio.open(p, "r+") as ds:  # packing as GDAL band scale/offset (CF meaning)
        ds.scales, ds.offsets = (0.1,), (100.0,)
    grid = Grid.from_raster(p)

    def value(entry):
        read = resolve_input(_spec(tmp_path, entry, "nep"))
        src = AlignedSource(read.path, grid, "nep", "continuous", read.convert)
        return float(src.read(Window(0, 0, 2, 2))[0, 0]), read.note

    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    # CF by hand: 5000 x 0.1 + 100 = 600; MODIS: 0.1 x (5000 - 100) = 490
    assert value("nep.tif")[0] == pytest.approx(600.0)
    v, note = value({"path": "nep.tif", "convention": "modis"})
    assert v == pytest.approx(490.0) and "MODIS" in note
    # HDF-EOS metadata (GDAL's HDF4 driver: HDFEOSVersion, scale_factor/add_offset items)
    q = write(tmp_path / "mod.tif", stored, GEO_TRANSFORM, GEO, nodata=32767)
    with rasterio.open(q, "r+") as ds:
        ds.update_tags(HDFEOSVersion="HDFEOS_V2.17")
        ds.update_tags(1, scale_factor="0.1", add_offset="100")
    assert value("mod.tif")[0] == pytest.approx(490.0)
    assert value({"path": "mod.tif", "convention": "cf"})[0] == pytest.approx(600.0)


def test_map_from_tiles_and_from_polygons_in_worker_processes(products, tmp_path):
    """A land-cover mosaic (glob) maps like the one file it was cut from; the polygon
    source, rebuilt in worker processes from its read path, maps like the threads do."""
    root, _, _, cfg_b = products
    nc = root / "nc"
    (nc / "tiles").mkdir(exist_ok=True)
    lc, _ = _tiles(nc / "tiles")  # WorldCover classes 10-70
    text = cfg_b.read_text(encoding="utf-8")
    write(nc / "lc_tiles_whole.tif", lc, LC_TRANSFORM, UTM, nodata=0)
    one = nc / "one.toml"
    one.write_text(text.replace('landcover = "lc.tif"', 'landcover = "lc_tiles_whole.tif"'),
                   encoding="utf-8")
    many = nc / "many.toml"
    many.write_text(text.replace('landcover = "lc.tif"',
                                 'landcover = "tiles/ESA_WorldCover_10m_2021_v200_*_Map.tif"'),
                    encoding="utf-8")
    _run(load_config(one), tmp_path / "one")
    _run(load_config(many), tmp_path / "many", engine="processes")
    for name in ("karst_sink", "total_sink"):
        a = _read(tmp_path / "one" / f"{name}.tif")
        b = _read(tmp_path / "many" / f"{name}.tif")
        assert np.array_equal(a, b, equal_nan=True)



def test_dolomite_from_polygons_maps_like_a_dolomite_raster(products, tmp_path):
    """``dolomite_fraction`` from the polygons' dolomite_values equals a GeoTIFF of the
    hand-computed dolomite share (the form the carbonate entry's dolomite_values implies)."""
    root, _, cfg_a, cfg_b = products
    lime, dolo = _cover(LIME) - _cover(HOLE), _cover(DOLO)
    total = lime + dolo
    share = np.divide(dolo, total, out=np.zeros_like(total), where=total > 0)
    write(root / "ready" / "dol.tif", share.astype(np.float32), LC_TRANSFORM, UTM)
    a = root / "ready" / "dol.toml"
    a.write_text(cfg_a.read_text(encoding="utf-8").replace(
        "[grid]", 'dolomite_fraction = "dol.tif"\n[grid]'), encoding="utf-8")
    b = root / "nc" / "dol.toml"
    b.write_text(cfg_b.read_text(encoding="utf-8").replace("[grid]", (
        'dolomite_fraction = { path = "lith.gpkg", layer = "geology", field = "rock", '
        'values = ["limestone", "dolomite"], dolomite_values = ["dolomite"] }\n[grid]')),
        encoding="utf-8")
    _run(load_config(a), tmp_path / "a")
    _run(load_config(b), tmp_path / "b")
    ka, kb = _read(tmp_path / "a" / "karst_sink.tif"), _read(tmp_path / "b" / "karst_sink.tif")
    ok = ~np.isnan(ka)
    assert np.array_equal(ok, ~np.isnan(kb))
    assert np.all(np.abs(kb[ok] - ka[ok]) <= 0.005 * np.abs(ka[ok]) + 1e-9)
    # dolomite changes the karst sink of the dolomite rectangle (else this test shows nothing)
    _run(load_config(cfg_a), tmp_path / "plain")
    plain = _read(tmp_path / "plain" / "karst_sink.tif")
    assert abs(plain[100, 230] - ka[100, 230]) > 1e-3 * abs(plain[100, 230])
    assert plain[100, 50] == ka[100, 50]  # limestone pixels: unchanged


def test_modis_fill_classes_become_nodata(tmp_path):
    """MOD16A3 layout: int16 ET x 0.1 kg m-2 yr-1, 32761-32767 fill classes, valid range
    -32767..32700 (given as metadata by GDAL's HDF4 driver, or declared)."""
    from rasterio.windows import Window

    from karstsink.mapping.grid import AlignedSource, Grid

    stored = np.full(GEO_SHAPE, 7000, np.int16)  # 700.0 mm/yr
    stored[0, :7] = np.arange(32761, 32768)  # water, barren, ice, urban ... fill
    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    et = write(tmp_path / "et.tif", stored, GEO_TRANSFORM, GEO, nodata=32767)
    hdf = write(tmp_path / "et_hdfeos.tif", stored, GEO_TRANSFORM, GEO, nodata=32767)
    with rasterio.open(hdf, "r+") as ds:
        ds.update_tags(HDFEOSVersion="HDFEOS_V2.19")
        ds.update_tags(1, scale_factor="0.1", add_offset="0", valid_range="-32767, 32700",
                       units="kg/m^2/year")
    grid = Grid.from_raster(et)

    def read(entry):
        r = resolve_input(_spec(tmp_path, entry, "aet"))
        src = AlignedSource(r.path, grid, "aet", "continuous", r.convert, r.bands, r.crs)
        return src.read(Window(0, 0, GEO_SHAPE[1], GEO_SHAPE[0])), r.note

    v, _ = read({"path": "et.tif", "scale": 0.1, "units": "mm/yr",
                 "valid_range": [-32767, 32700]})
    assert np.all(np.isnan(v[0, :7])) and np.allclose(v[1:], 700.0)
    v, note = read("et_hdfeos.tif")  # all from the file's metadata
    assert np.all(np.isnan(v[0, :7])) and np.allclose(v[1:], 700.0)
    assert "valid range -32767 to 32700 (from the file)" in note
    # without the range the fill classes would be read as 3,276 mm/yr of ET
    v, _ = read({"path": "et.tif", "scale": 0.1, "units": "mm/yr"})
    assert v[0, 0] == pytest.approx(3276.1, rel=1e-6)


def test_run_record_of_patterns_urls_and_files(tmp_path):
    from karstsink.mapping._inputs import input_record

    (tmp_path / "tiles").mkdir()
    _tiles(tmp_path / "tiles")
    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    cfg = tmp_path / "map.toml"
    glob_spec = _spec(tmp_path, "tiles/ESA_WorldCover_10m_2021_v200_*_Map.tif", "landcover")
    assert input_record(glob_spec, cfg) == "tiles/ESA_WorldCover_10m_2021_v200_*_Map.tif"
    listed = _spec(tmp_path, ["tiles/ESA_WorldCover_10m_2021_v200_N0E0_Map.tif",
                              "tiles/ESA_WorldCover_10m_2021_v200_N0E1_Map.tif"], "landcover")
    assert input_record(listed, cfg).startswith("2 tiles: tiles/ESA_WorldCover")
    assert str(tmp_path) not in input_record(listed, cfg)
    url = _spec(tmp_path, "s3://bucket/q.tif", "runoff")
    assert input_record(url, cfg) == "s3://bucket/q.tif"
    assert input_record(_spec(tmp_path, "lc.tif", "runoff"), cfg) == "lc.tif"
    assert "mosaic of 4 tiles" in resolve_input(glob_spec).note


@settings(derandomize=True, max_examples=12, deadline=None)
@given(st.integers(0, 8 * 40 - 8), st.integers(1, 8 * 20), st.integers(0, 8 * 30 - 8),
       st.integers(1, 8 * 15))
def test_fraction_is_exact_for_edges_on_the_eighth_pixel_lattice(x0, dx, y0, dy):
    """Property: a rectangle whose edges lie on the 1/8-pixel lattice is covered exactly
    as the product of its overlaps with each pixel (the hand formula of _overlap)."""
    import tempfile
    from pathlib import Path

    import geopandas as gpd
    import shapely
    from rasterio.windows import Window

    from karstsink.mapping._vector import VectorRead, VectorSource
    from karstsink.mapping.grid import Grid

    c0, r0 = x0 / 8, y0 / 8
    c1, r1 = min(c0 + dx / 8, 40.0), min(r0 + dy / 8, 30.0)
    grid = Grid(rasterio.crs.CRS.from_user_input(UTM), LC_TRANSFORM, 40, 30)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.gpkg"
        gpd.GeoDataFrame({"rock": ["limestone"]}, geometry=[shapely.box(
            LEFT + PX * c0, TOP - PX * r1, LEFT + PX * c1, TOP - PX * r0)], crs=UTM
        ).to_file(path, driver="GPKG")
        read = VectorRead(str(path), None, "rock", ((1.0, 0.0, ("limestone",)),),
                          "carbonate", "carbonate")
        f = VectorSource(read.to_path(), grid, "carbonate").read(Window(0, 0, 40, 30))
    expected = np.outer(_overlap(r0, r1, 30), _overlap(c0, c1, 40))
    assert np.allclose(f, expected, atol=1e-6)


def test_dolomite_values_are_never_silently_unused(products):
    from karstsink.mapping._checks import _check_implied

    nc = products[0] / "nc"
    entry = {"path": "lith.gpkg", "field": "rock", "values": ["limestone", "dolomite"],
             "dolomite_values": ["dolomite"]}
    carb = _spec(nc, entry)
    implied = implied_inputs("", {"carbonate": carb})
    _check_implied({"carbonate": carb, **implied})  # the loader added it: fine
    with pytest.raises(ConfigError, match="implies a dolomite_fraction input"):
        _check_implied({"carbonate": carb})
    raster = _spec(nc, "lc.tif", "dolomite_fraction")
    with pytest.raises(ConfigError, match="both give the dolomite share"):
        _check_implied({"carbonate": carb, "dolomite_fraction": raster})
    with pytest.raises(ConfigError, match="both give the dolomite share"):
        implied_inputs("", {"carbonate": carb, "dolomite_fraction": raster})


def test_shipped_tables_and_a_bad_user_table(tmp_path):
    from karstsink.mapping._vector import lithology_table

    glim = {v: c for v, c, _ in lithology_table("glim", "carbonate")}
    # Hartmann & Moosdorf (2012) first level: 16 classes; only sc counts by default
    assert len(glim) == 16 and glim["sc"] == 1.0 and glim["sm"] == 0.0
    assert sum(glim.values()) == 1.0
    wokam = {v: c for v, c, _ in lithology_table("wokam", "carbonate")}
    assert wokam["continuous carbonate"] == 1.0 and wokam["discontinuous carbonate"] == 0.0
    (tmp_path / "t.csv").write_text("value,carbonate_share\nsc,1\nsm,50\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"t.csv line 3: carbonate_share = '50' is not a "
                                          r"share 0-1"):
        lithology_table(str(tmp_path / "t.csv"), "carbonate")


def test_dolomite_fraction_from_a_table_without_dolomite_shares_is_zero(products, tmp_path):
    # a lithology table with carbonate shares only (as the shipped GLiM and WOKAM ones):
    # a dolomite_fraction read from it must be 0 everywhere (no dolomite known), never
    # carbonate / carbonate = 1
    import shutil

    from rasterio.windows import Window

    nc = products[0] / "nc"
    for name in ("lith.gpkg", "lc.tif"):
        shutil.copy(nc / name, tmp_path / name)
    (tmp_path / "rocks.csv").write_text("value,carbonate_share\nlimestone,1\ndolomite,1\n",
                                        encoding="utf-8")
    entry = {"path": "lith.gpkg", "field": "rock", "table": "rocks.csv"}
    dol, _ = _source(tmp_path, entry, "dolomite_fraction")
    assert np.all(dol.read(Window(0, 0, W, H)) == 0)


def test_tiles_with_different_packing_or_gaps(tmp_path):
    # two float tiles with a one-tile gap between them and no nodata: the gap is nodata
    # (NaN), not 0; tiles packed with different scale factors are refused
    (tmp_path / "t").mkdir()
    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    a = np.full((100, 150), 5.0, np.float32)
    write(tmp_path / "t" / "a.tif", a, LC_TRANSFORM, UTM)
    write(tmp_path / "t" / "b.tif", a, LC_TRANSFORM @ rasterio.Affine.translation(300, 0), UTM)
    spec = _spec(tmp_path, ["t/a.tif", "t/b.tif"], "runoff")
    with rasterio.open(spec.path) as ds:
        band = ds.read(1, masked=True)
        assert band.shape == (100, 450)
        assert band.mask[:, 150:300].all() and not band.mask[:, :150].any()
    with rasterio.open(tmp_path / "t" / "b.tif", "r+") as ds:
        ds.scales = (0.1,)
    with pytest.raises(RasterError, match="packing"):
        _spec(tmp_path, ["t/a.tif", "t/b.tif"], "runoff")


def test_modis_tiles_in_a_mosaic_keep_their_metadata(tmp_path):
    # two MOD16A3-like tiles (HDF-EOS tags, 0.1 packing in the metadata items, fill classes
    # 32761-32767 outside the valid range) globbed into one input: the mosaic reads as the
    # single files do, 7000 x 0.1 = 700 mm/yr and the fill classes as nodata
    from rasterio.windows import Window

    from karstsink.mapping.grid import AlignedSource, Grid

    write(tmp_path / "lc.tif", np.full(LC_SHAPE, 10, np.uint8), LC_TRANSFORM, UTM, nodata=0)
    half = GEO_SHAPE[1] // 2
    stored = np.full(GEO_SHAPE, 7000, np.int16)
    stored[0, :7] = np.arange(32761, 32768)
    (tmp_path / "mod16").mkdir()
    for j, c0 in enumerate((0, half)):
        t = GEO_TRANSFORM @ rasterio.Affine.translation(c0, 0)
        p = write(tmp_path / "mod16" / f"MOD16A3.h{27 + j}v06.tif",
                  stored[:, c0:c0 + half], t, GEO, nodata=32767)
        with rasterio.open(p, "r+") as ds:
            ds.update_tags(HDFEOSVersion="HDFEOS_V2.19")
            ds.update_tags(1, scale_factor="0.1", add_offset="0",
                           valid_range="-32767, 32700", units="kg/m^2/year")
    grid = Grid.from_raster(tmp_path / "mod16" / "MOD16A3.h27v06.tif")
    r = resolve_input(_spec(tmp_path, "mod16/MOD16A3.*.tif", "aet"))
    src = AlignedSource(r.path, grid, "aet", "continuous", r.convert, r.bands, r.crs)
    v = src.read(Window(0, 0, half, GEO_SHAPE[0]))
    assert np.all(np.isnan(v[0, :7])) and np.allclose(v[1:], 700.0)
