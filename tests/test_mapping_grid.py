"""Target grid, on-the-fly alignment across CRSs, true pixel areas, zone fractions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_helpers import GEO, UTM, write
from numpy.testing import assert_allclose
from rasterio.windows import Window

from karstsink.exceptions import RasterError
from karstsink.mapping import _sampling
from karstsink.mapping.grid import AlignedSource, Grid, pixel_area_km2


def test_geographic_pixel_area_matches_pyproj_geodesic():
    from pyproj import Geod

    # independent: pyproj's geodesic polygon area on WGS 84 for a 0.5 x 0.5 degree cell
    geod = Geod(ellps="WGS84")
    for lat_top in (0.5, 26.5, 60.0, 89.5):
        grid = Grid(rasterio.crs.CRS.from_string(GEO), Affine(0.5, 0, 105.0, 0, -0.5, lat_top),
                    1, 1)
        ours = pixel_area_km2(grid, 0, 1)[0, 0]
        lons = [105.0, 105.5, 105.5, 105.0]
        lats = [lat_top, lat_top, lat_top - 0.5, lat_top - 0.5]
        ref = abs(geod.polygon_area_perimeter(lons, lats)[0]) / 1e6
        # geodesic edges vs parallels differ slightly for a 0.5 deg cell (< 1e-4 relative)
        assert ours == pytest.approx(ref, rel=1e-4)


def test_geographic_total_area_is_ellipsoid_area():
    # WGS 84 ellipsoid surface area 510,065,621.7 km2 (Moritz 1980 / NIMA TR8350.2 value)
    grid = Grid(rasterio.crs.CRS.from_string(GEO), Affine(1.0, 0, -180.0, 0, -1.0, 90.0),
                360, 180)
    total = pixel_area_km2(grid, 0, 180).sum() * 360
    assert total == pytest.approx(510_065_621.7, rel=1e-7)


def test_projected_pixel_area():
    grid = Grid(rasterio.crs.CRS.from_string(UTM), Affine(30, 0, 500000, 0, -30, 2900000),
                10, 10)
    assert pixel_area_km2(grid, 0, 3)[:, 0] == pytest.approx([0.0009] * 3)


def test_cross_crs_bilinear_reproduces_a_linear_field(tmp_path):
    # a field linear in longitude/latitude in EPSG:4326 must come back on the UTM grid as
    # the same linear function of each target pixel centre's lon/lat (pyproj, independent)
    from pyproj import Transformer

    tr = Affine(0.01, 0, 104.95, 0, -0.01, 26.25)
    lon = 104.95 + 0.01 * (np.arange(20) + 0.5)
    lat = 26.25 - 0.01 * (np.arange(12) + 0.5)
    field = (100 * lon[None, :] + 10 * lat[:, None]).astype(np.float64)
    src = write(tmp_path / "f.tif", field.astype(np.float32), tr, GEO)
    lc_tr = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 2900000.0)
    write(tmp_path / "lc.tif", np.ones((150, 200), np.uint8), lc_tr, UTM)
    grid = Grid.from_raster(tmp_path / "lc.tif")
    out = AlignedSource(src, grid, "f").read(Window(0, 0, 200, 150))
    cols, rows = np.meshgrid(np.arange(200) + 0.5, np.arange(150) + 0.5)
    x = 500000.0 + 30 * cols
    y = 2900000.0 - 30 * rows
    plon, plat = Transformer.from_crs(UTM, GEO, always_xy=True).transform(x, y)
    expected = 100 * plon + 10 * plat
    # float32 storage of ~10,700 -> ~1e-3 absolute
    assert_allclose(out, expected, atol=3e-3)


def test_numpy_and_numba_samplers_agree(tmp_path):
    pytest.importorskip("numba")
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 10, (30, 40)).astype(np.float32)
    src[rng.random(src.shape) < 0.1] = np.nan
    srow = rng.uniform(-2, 32, (50, 60))
    scol = rng.uniform(-2, 42, (50, 60))
    a = _sampling.bilinear(src, srow, scol, 0, 0, 30, 40, use_numba=True)
    b = _sampling.bilinear(src, srow, scol, 0, 0, 30, 40, use_numba=False)
    assert_allclose(a, b, rtol=1e-6, equal_nan=True)
    codes = rng.integers(0, 9, (30, 40))
    valid = rng.random((30, 40)) > 0.1
    ca, va = _sampling.nearest(codes, valid, srow, scol, 0, 0, 30, 40, use_numba=True)
    cb, vb = _sampling.nearest(codes, valid, srow, scol, 0, 0, 30, 40, use_numba=False)
    assert np.array_equal(va, vb) and np.array_equal(ca[va], cb[vb])


@settings(max_examples=25, deadline=None)
@given(
    epsg=st.sampled_from([32648, 32647, 3857, 4326, 4490]),
    res=st.sampled_from([1.0, 30.0, 250.0]),
    shift_r=st.integers(-5, 5),
    shift_c=st.integers(-5, 5),
    h=st.integers(3, 40),
    w=st.integers(3, 40),
)
def test_same_grid_reads_are_exact_and_shifted(tmp_path_factory, epsg, res, shift_r, shift_c,
                                               h, w):
    # georeferencing preserved: a raster read on its own grid is returned unchanged, and on
    # a grid shifted by whole pixels it is the shifted array (nodata outside)
    folder = tmp_path_factory.mktemp("g")
    if epsg in (4326, 4490):
        res, x0, y0 = res / 1e4, 105.0, 26.0
    else:
        x0, y0 = 500000.0, 2900000.0
    crs = f"EPSG:{epsg}"
    tr = Affine(res, 0, x0, 0, -res, y0)
    data = np.arange(h * w, dtype=np.float32).reshape(h, w)
    path = write(folder / "a.tif", data, tr, crs)
    grid = Grid.from_raster(path)
    assert grid.transform == tr and grid.crs.to_epsg() == epsg
    src = AlignedSource(path, grid, "a")
    assert src.mode == "window"
    assert np.array_equal(src.read(Window(0, 0, w, h)), data)
    shifted = Grid(grid.crs, tr @ Affine.translation(shift_c, shift_r), w, h)
    got = AlignedSource(path, shifted, "a").read(Window(0, 0, w, h)) if (
        abs(shift_r) < h and abs(shift_c) < w) else None
    if got is not None:
        exp = np.full((h, w), np.nan, np.float32)
        rs, cs = slice(max(shift_r, 0), min(h + shift_r, h)), slice(max(shift_c, 0),
                                                                   min(w + shift_c, w))
        rd = slice(max(-shift_r, 0), max(-shift_r, 0) + (rs.stop - rs.start))
        cd = slice(max(-shift_c, 0), max(-shift_c, 0) + (cs.stop - cs.start))
        exp[rd, cd] = data[rs, cs]
        assert np.array_equal(got, exp, equal_nan=True)


def test_classes_use_nearest_neighbour(tmp_path):
    codes = np.array([[10, 20], [30, 40]], np.uint8)
    path = write(tmp_path / "c.tif", codes, Affine(60, 0, 500000, 0, -60, 2900000), UTM,
                 nodata=0)
    grid = Grid(rasterio.crs.CRS.from_string(UTM), Affine(30, 0, 500000, 0, -30, 2900000), 4,
                4)
    got, valid = AlignedSource(path, grid, "landcover", "classes").read(Window(0, 0, 4, 4))
    assert valid.all()
    assert np.array_equal(got, np.kron(codes, np.ones((2, 2), int)))


@pytest.mark.parametrize("dtype, expect", [("uint8", "uint8"), ("int16", "int16"),
                                           ("uint16", "uint16"), ("int32", "int32"),
                                           ("uint32", "int64"), ("float32", "int64")])
def test_class_codes_keep_narrow_integer_types(tmp_path, dtype, expect):
    # same grid (window reads) and a shifted grid (edge fill): codes keep the file's
    # integer type up to 32 bits, nodata pixels are invalid, values are unchanged
    codes = np.array([[10, 20, 0], [30, 40, 50]], dtype)
    tr = Affine(30, 0, 500000, 0, -30, 2900000)
    path = write(tmp_path / f"c_{dtype}.tif", codes, tr, UTM, nodata=0)
    grid = Grid.from_raster(path)
    got, valid = AlignedSource(path, grid, "landcover", "classes").read(Window(0, 0, 3, 2))
    assert got.dtype == np.dtype(expect)
    assert np.array_equal(got[valid], codes[codes != 0].astype(expect))
    assert np.array_equal(valid, codes != 0)
    shifted = Grid(grid.crs, tr @ Affine.translation(1, 0), 3, 2)
    got, valid = AlignedSource(path, shifted, "landcover", "classes").read(Window(0, 0, 3, 2))
    assert got.dtype == np.dtype(expect)
    assert np.array_equal(valid, np.array([[True, False, False], [True, True, False]]))
    assert np.array_equal(got[valid], np.array([20, 40, 50], expect))


def test_raster_without_crs_is_a_clear_error(tmp_path):
    path = write(tmp_path / "nocrs.tif", np.ones((4, 4), np.float32),
                 Affine(30, 0, 500000, 0, -30, 2900000), None)
    lc = write(tmp_path / "lc.tif", np.ones((4, 4), np.uint8),
               Affine(30, 0, 500000, 0, -30, 2900000), UTM)
    with pytest.raises(RasterError, match="has no CRS"):
        AlignedSource(path, Grid.from_raster(lc), "temperature")


def test_non_overlapping_raster_is_a_clear_error(tmp_path):
    far = write(tmp_path / "far.tif", np.ones((4, 4), np.float32),
                Affine(0.1, 0, 10.0, 0, -0.1, 50.0), GEO)
    lc = write(tmp_path / "lc.tif", np.ones((4, 4), np.uint8),
               Affine(30, 0, 500000, 0, -30, 2900000), UTM)
    with pytest.raises(RasterError, match="does not overlap"):
        AlignedSource(far, Grid.from_raster(lc), "temperature")


def test_much_finer_continuous_source_is_averaged(tmp_path):
    # 10 m fraction mask onto a 30 m grid: average of 3 x 3 source pixels (GDAL average)
    fine = np.zeros((30, 30), np.float32)
    fine[:, :3] = 1.0  # first 30 m column fully carbonate
    fine[:, 3:4] = 1.0  # one third of the second column
    path = write(tmp_path / "fine.tif", fine, Affine(10, 0, 500000, 0, -10, 2900000), UTM)
    grid = Grid(rasterio.crs.CRS.from_string(UTM), Affine(30, 0, 500000, 0, -30, 2900000), 10,
                10)
    src = AlignedSource(path, grid, "carbonate")
    assert src.mode == "warp"
    got = src.read(Window(0, 0, 10, 10))
    assert_allclose(got[:, 0], 1.0)
    assert_allclose(got[:, 1], 1 / 3, rtol=1e-6)
    assert_allclose(got[:, 2:], 0.0)


def test_zone_fractions_at_a_diagonal_border(tmp_path):
    import geopandas as gpd
    import shapely

    from karstsink.mapping.zones import ZoneSet

    # two triangles splitting a 64 x 64 px square along its diagonal: each gets exactly
    # half of the area (2048 px); border pixels are shared by sub-pixel fractions
    gdf = gpd.GeoDataFrame({"z": ["lower", "upper"]}, geometry=[
        shapely.Polygon([(0, 0), (64, 0), (64, 64)]),
        shapely.Polygon([(0, 0), (64, 64), (0, 64)])], crs=UTM)
    zs = ZoneSet(gdf, "z", supersample=4)
    transform = Affine(1, 0, 0, 0, -1, 64)
    total = np.zeros((1, 3))
    for r in range(0, 64, 32):
        for c in range(0, 64, 32):
            w = Window(c, r, 32, 32)
            total += zs.accumulate(zs.block_zones(w, transform), [np.ones((32, 32))])
    assert total[0, 0] == pytest.approx(0.0)
    assert total[0, 1] == pytest.approx(2048, rel=0.005)
    assert total[0, 2] == pytest.approx(2048, rel=0.005)
    assert math.isclose(total.sum(), 4096)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 80), w=st.integers(1, 80), fh=st.integers(1, 12), fw=st.integers(1, 12),
       holes=st.booleans(), inside=st.booleans(), seed=st.integers(0, 2**16))
def test_lattice_sampler_matches_numpy_sampler(h, w, fh, fw, holes, inside, seed):
    """The numba lattice samplers (by runs of a source cell when every value is finite,
    per pixel with nodata) give the numpy sampler's values at the upsampled coordinates."""
    pytest.importorskip("numba")
    from karstsink.mapping._sampling import _upsample

    rng = np.random.default_rng(seed)
    fields = [rng.uniform(0, 10, (fh, fw)).astype(np.float32) for _ in range(3)]
    if holes:
        fields[1][rng.random((fh, fw)) < 0.3] = np.nan
    kr = np.unique(np.r_[np.arange(0, h, 32), h - 1])
    kc = np.unique(np.r_[np.arange(0, w, 32), w - 1])
    # inside: every coordinate within the source (the by-runs path); else some outside
    lo, pad = (0.0, 1e-6) if inside else (-2.0, -1.0)
    lat_r = rng.uniform(lo, fh - pad, (kr.size, kc.size))
    lat_c = rng.uniform(lo, fw - pad, (kr.size, kc.size))
    got = _sampling.bilinear_lattice(fields, (kr, kc, lat_r, lat_c), 0, 0, fh, fw, h, w)
    srow, scol = _upsample(lat_r, kr, kc, h, w), _upsample(lat_c, kr, kc, h, w)
    for f, g in zip(fields, got, strict=True):
        want = _sampling.bilinear(f, srow, scol, 0, 0, fh, fw, use_numba=False)
        # float32 values up to 10, combined in float32/float64: a few ulp
        assert_allclose(g, want, rtol=2e-6, atol=4e-6, equal_nan=True)


def test_polygon_area_of_rings_wound_either_way_adds_up():
    # GeoJSON and shapefiles disagree on ring orientation; the area must not depend on it.
    # The reference is pyproj's geodesic area of each box (shapely's box is counter-clockwise)
    from pyproj import Geod
    from shapely.geometry import MultiPolygon, Polygon, box

    from karstsink.mapping.zones import polygon_area_km2

    geod = Geod(ellps="WGS84")
    a, b = box(105.9, 26.2, 106.1, 26.4), box(106.2, 26.2, 106.4, 26.4)
    ref = sum(abs(geod.geometry_area_perimeter(g)[0]) for g in (a, b)) / 1e6  # ~885 km2
    reversed_b = Polygon(list(b.exterior.coords)[::-1])  # clockwise
    assert polygon_area_km2(MultiPolygon([a, reversed_b]), "EPSG:4326") == pytest.approx(
        ref, rel=1e-9)
    assert polygon_area_km2(reversed_b, "EPSG:4326") == pytest.approx(ref / 2, rel=1e-3)
