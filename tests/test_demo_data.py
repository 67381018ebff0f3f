"""The committed SYNTHETIC demo dataset: small, labelled, realistic ranges, reproducible."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
RASTERS = ["landcover", "carbonate", "runoff", "temperature", "soil_pco2", "dem", "nep"]
CATCHMENTS = {"longtan": 75.0, "qingquan": 1.25, "heishui": 30.0}
# molar masses [g/mol] from IUPAC standard atomic weights (Ca 40.078, Mg 24.305, Na 22.990,
# K 39.098, Cl 35.45, S 32.06, N 14.007, O 15.999, H 1.008, C 12.011, F 18.998)
M = {"Ca2+": 40.078, "Mg2+": 24.305, "Na+": 22.990, "K+": 39.098, "Cl-": 35.45,
     "SO42-": 96.056, "NO3-": 62.004, "HCO3-": 61.017, "F-": 18.998}
Z = {"Ca2+": 2, "Mg2+": 2, "Na+": 1, "K+": 1, "Cl-": 1, "SO42-": 2, "NO3-": 1, "HCO3-": 1,
     "F-": 1}


#: written once per year of the demo's series (rasters/<name>_<year>.tif)
YEARLY = ("landcover", "runoff", "temperature", "nep")


def _read(name, year=2020):
    import rasterio

    file = f"{name}_{year}.tif" if name in YEARLY else f"{name}.tif"
    with rasterio.open(DEMO / "rasters" / file) as src:
        return src.read(1), src.profile, src.tags(), src.descriptions[0], src.tags(1)


def _samples(key):
    return pd.read_csv(DEMO / "catchments" / f"{key}_samples.csv", dtype=str,
                       keep_default_na=False, encoding="utf-8-sig")


def _discharge(key):
    q = pd.read_csv(DEMO / "catchments" / f"{key}_discharge.csv", comment="#",
                    parse_dates=["date"])
    return q.set_index("date")["Q (m3/s)"]


def test_small_and_labelled():
    files = [p for p in DEMO.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert sum(p.stat().st_size for p in files) < 5 * 1024 * 1024
    assert "SYNTHETIC" in (DEMO / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in (DEMO / "demo.toml").read_text(encoding="utf-8")
    for name in RASTERS:
        _, _, tags, desc, band_tags = _read(name)
        assert "SYNTHETIC" in tags["SYNTHETIC"] and "SYNTHETIC" in desc
        assert band_tags["units"] == tags["units"]
    for key in CATCHMENTS:
        first = (DEMO / "catchments" / f"{key}_discharge.csv").read_text("utf-8").splitlines()[0]
        assert first.startswith("# SYNTHETIC")
        assert _samples(key)["Remarks"].str.startswith("SYNTHETIC").all()


def test_rasters_share_one_projected_1km_grid():
    profiles = [_read(n)[1] for n in RASTERS]
    for p in profiles:
        assert p["crs"].to_epsg() == 32648
        assert (p["width"], p["height"]) == (profiles[0]["width"], profiles[0]["height"])
        assert p["transform"] == profiles[0]["transform"]
        assert p["transform"].a == 1000.0 and p["transform"].e == -1000.0
        assert p["compress"].lower() == "deflate"
    # ~600 km x ~520 km: the projected bounding box of lon 103.6-109.6 E, lat 24.6-29.2 N
    assert 550 <= profiles[0]["width"] <= 650 and 450 <= profiles[0]["height"] <= 560


def test_raster_ranges_follow_the_documented_assumptions():
    lc = _read("landcover")[0]
    land = lc > 0
    assert set(np.unique(lc)) <= {0, 1, 2, 3, 4, 5, 7, 8}  # CLCD codes + 0 nodata
    # province area 176,000 km2 (science.md 1.4), within 1 %
    assert abs(land.sum() - 176_000) / 176_000 < 0.01
    shares = {k: np.mean(lc[land] == k) for k in (1, 2, 3, 4, 5, 7, 8)}
    assert max(shares, key=shares.get) == 2  # forest is the largest class
    assert all(v > 0.005 for v in shares.values())  # every class present
    carb = _read("carbonate")[0]
    assert np.isnan(carb[~land]).all() and np.isfinite(carb[land]).all()
    assert 0 <= np.nanmin(carb) and np.nanmax(carb) <= 1
    # "~60 % of the land": 61.9 % carbonate outcrop (science.md 1.4)
    assert 0.55 <= np.nanmean(carb) <= 0.65
    expected = {"runoff": (400, 900), "temperature": (10, 20), "soil_pco2": (2000, 20000),
                "dem": (500, 2800)}
    for name, (lo, hi) in expected.items():
        a = _read(name)[0]
        assert np.isfinite(a[land]).all() and np.isnan(a[~land]).all()
        assert lo <= np.nanmin(a) and np.nanmax(a) <= hi, name
    h, w = lc.shape
    runoff, temp, dem = (_read(n)[0] for n in ("runoff", "temperature", "dem"))
    nw, se = (slice(0, h // 2), slice(0, w // 2)), (slice(h // 2, h), slice(w // 2, w))
    assert np.nanmean(runoff[se]) > np.nanmean(runoff[nw]) + 100  # wetter to the south-east
    assert np.nanmean(temp[nw]) < np.nanmean(temp[se]) - 2  # cooler to the north-west
    assert np.nanmean(dem[:, : w // 3]) > np.nanmean(dem[:, -w // 3:]) + 800  # high west
    pco2 = _read("soil_pco2")[0]
    # forest soils ~1.6-1.7 x cropland soils (science.md 5.1); the demo uses 7,500 / 4,500
    assert np.nanmean(pco2[lc == 2]) > 1.3 * np.nanmean(pco2[lc == 1])
    nep = _read("nep")[0]
    assert np.isnan(nep[lc == 5]).all()  # no NEP on water: NaN, not a 0 sentinel
    assert np.nanmin(nep) > 0
    # forest takes up more carbon per area than cropland; on 1 km2 pixels 1 g C m-2 = 1 t C,
    # so the province total is the plain sum: designed to be 10-20 Mt C/yr (README)
    assert np.nanmean(nep[lc == 2]) > np.nanmean(nep[lc == 1])
    assert 10e6 <= np.nansum(nep) <= 20e6


def test_counties():
    import geopandas as gpd

    g = gpd.read_file(DEMO / "counties.gpkg", layer="counties")
    assert len(g) == 80
    assert g.crs.to_epsg() == 32648
    assert g["name"].tolist() == [f"County {i:02d}" for i in range(1, 81)]
    assert g["name_zh"].str.match(r"^示例县\d\d$").all()
    assert (g["note"] == "SYNTHETIC demo polygon").all()
    assert g.geometry.is_valid.all()
    union = g.geometry.union_all().area
    assert abs(g.geometry.area.sum() - union) / union < 1e-4  # a partition: no overlaps
    assert abs(union / 1e6 - 176_000) / 176_000 < 0.01
    np.testing.assert_allclose(g["area_km2"], g.geometry.area / 1e6, atol=0.06)


@pytest.mark.parametrize("key", list(CATCHMENTS))
def test_discharge_records(key):
    q = _discharge(key)
    assert q.index.is_monotonic_increasing and not q.index.duplicated().any()
    assert (q.index[-1] - q.index[0]).days + 1 == len(q)  # daily, no gaps
    assert len(q) >= 5 * 365
    assert (q > 0).all()
    # mean Q matches the documented runoff x area: R [m/yr] x A [m2] / 3.15576e7 s
    runoff_mm = {"longtan": 450.0, "qingquan": 350.0, "heishui": 520.0}[key]
    expected = runoff_mm / 1000 * CATCHMENTS[key] * 1e6 / 3.15576e7
    assert q.mean() == pytest.approx(expected, rel=0.005)  # 4 significant digits per value
    # monsoon: wet-season (May-Sep) mean flow well above the dry season's (Dec-Mar)
    assert q[q.index.month.isin([5, 6, 7, 8, 9])].mean() > 2 * q[q.index.month.isin(
        [12, 1, 2, 3])].mean()


@pytest.mark.parametrize("key", list(CATCHMENTS))
def test_samples_messy_but_consistent(key):
    s = _samples(key)
    assert 55 <= len(s) <= 75
    for col in ("Sample ID", "Date", "T (°C)", "pH", "HCO3- (mg/L)", "Ca2+ (mg/L)",
                "SO42- (mg/L)", "NO3- (mg/L)", "EC (μS/cm)"):
        assert col in s.columns
    for col in ("Date", "T (°C)", "pH", "HCO3- (mg/L)"):
        assert s[col].ne("").all()
    assert s["Site"].str.contains(r"[\u4e00-\u9fff]").all()  # Chinese site names
    assert s["F- (mg/L)"].eq("<0.05").any()
    assert s.eq("").sum().sum() >= 3  # a few blank cells
    ph = s["pH"].astype(float)
    assert ph.between(6.8, 8.37).all()  # Guizhou groundwater pH 6.80-8.37 (science.md 2.2)
    # charge balance by hand: CBE = 100 (sum cat - sum an) / (sum cat + sum an) in meq/L;
    # blanks and n.d. count as 0 (they are minor ions here)
    meq = {ion: pd.to_numeric(s[f"{ion} (mg/L)"], errors="coerce").fillna(0) / M[ion] * Z[ion]
           for ion in M}
    cat = meq["Ca2+"] + meq["Mg2+"] + meq["Na+"] + meq["K+"]
    an = meq["HCO3-"] + meq["SO42-"] + meq["NO3-"] + meq["Cl-"] + meq["F-"]
    cbe = 100 * (cat - an) / (cat + an)
    assert cbe.abs().max() < 5.0
    # chemostatic HCO3: log-log slope against same-day discharge near the design b
    # (-0.05..-0.1, scatter 4 %); the fit of ~65 samples is within +-0.03 of it
    q = _discharge(key).reindex(pd.to_datetime(s["Date"])).to_numpy()
    b = np.polyfit(np.log(q), np.log(s["HCO3- (mg/L)"].astype(float)), 1)[0]
    assert -0.13 <= b <= -0.02


def test_one_nd_and_a_bom():
    assert sum(_samples(k).eq("n.d.").sum().sum() for k in CATCHMENTS) == 1
    assert (DEMO / "catchments" / "qingquan_samples.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    assert (DEMO / "catchments" / "longtan_samples.csv").read_bytes()[:3] != b"\xef\xbb\xbf"


@pytest.mark.parametrize("key", list(CATCHMENTS))
def test_catchment_outlines(key):
    import geopandas as gpd
    import rasterio
    from rasterio.features import geometry_mask

    g = gpd.read_file(DEMO / "catchments" / f"{key}_outline.gpkg", layer="outline")
    assert len(g) == 1 and g.crs.to_epsg() == 32648
    assert g.geometry.is_valid.all() and (g["note"] == "SYNTHETIC demo catchment outline").all()
    # the outline's area is the catchment's area (README table) within 1 %
    assert g.geometry.area.iloc[0] / 1e6 == pytest.approx(CATCHMENTS[key], rel=0.01)
    # inside the province, on carbonate rock: every pixel it touches is land and >= 0.9
    with rasterio.open(DEMO / "rasters" / "carbonate.tif") as src:
        carb = src.read(1)
        touched = geometry_mask(list(g.geometry), out_shape=carb.shape,
                                transform=src.transform, invert=True, all_touched=True)
    lc = _read("landcover")[0]
    assert touched.sum() >= CATCHMENTS[key]  # 1 km2 pixels
    assert (lc[touched] > 0).all()
    assert (carb[touched] >= 0.9).all()


def test_demo_config_states_carbon_and_outlines():
    import sys

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    raw = tomllib.loads((DEMO / "demo.toml").read_text(encoding="utf-8"))
    # the defaults written out (docs/config.md [carbon]): all non-evaporite SO4 and all NO3
    # as acid, no evaporite SO4, no TOC counted as sink
    assert raw["carbon"] == {"acid_so4_share": 1.0, "evaporite_so4_share": 0.0,
                             "acid_no3_share": 1.0, "bcp_share": 0.0,
                             "so4_mmol_l": 0.19, "no3_mmol_l": 0.20}
    # the map's SO4 and NO3 are the catchments' sample means (mg/L / M): SO4 mean over the
    # three catchments (0.0900 + 0.2996 + 0.1782) / 3 = 0.189 mmol/L; NO3 (0.0832 + 0.3171
    # + 0.2068) / 3 = 0.202 mmol/L
    means = [(_samples(n)["SO42- (mg/L)"].astype(float).mean() / 96.06,
              _samples(n)["NO3- (mg/L)"].astype(float).mean() / 62.004)
             for n in ("longtan", "qingquan", "heishui")]
    assert raw["carbon"]["so4_mmol_l"] == pytest.approx(np.mean([m[0] for m in means]), abs=0.01)
    assert raw["carbon"]["no3_mmol_l"] == pytest.approx(np.mean([m[1] for m in means]), abs=0.01)
    for entry in raw["catchments"]:
        assert entry["boundary"] == f"catchments/{entry['name']}_outline.gpkg"
        # the samples' headers state the unit, so the catchment does not
        header = _samples(entry["name"]).columns
        assert "HCO3- (mg/L)" in header and "units" not in entry


def test_demo_config_loads():
    from karstsink.config import load_run_config

    cfg = load_run_config(DEMO / "demo.toml")
    assert [c["name"] for c in cfg["catchments"]] == list(CATCHMENTS)
    assert [c["area_km2"] for c in cfg["catchments"]] == list(CATCHMENTS.values())
    assert cfg["map"].zones_path == DEMO / "counties.gpkg"
    assert set(cfg["map"].inputs) == set(RASTERS)
    assert cfg["report"]["synthetic"] is True


def test_generator_is_deterministic(tmp_path):
    spec = importlib.util.spec_from_file_location("make_demo", DEMO / "make_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(tmp_path)
    for path in sorted(tmp_path.rglob("*")):
        if path.is_file():
            committed = DEMO / path.relative_to(tmp_path)
            assert committed.exists(), path
            if path.suffix == ".csv":
                assert path.read_bytes() == committed.read_bytes(), path.name
    import geopandas as gpd

    for key in CATCHMENTS:
        name = f"{key}_outline.gpkg"
        fresh = gpd.read_file(tmp_path / "catchments" / name).geometry.iloc[0]
        assert fresh.equals_exact(gpd.read_file(DEMO / "catchments" / name).geometry.iloc[0],
                                  tolerance=0.0), name
    import rasterio

    written = sorted(p.name for p in (tmp_path / "rasters").glob("*.tif"))
    assert written == sorted(p.name for p in (DEMO / "rasters").glob("*.tif"))
    for name in written:  # every year's rasters of the series too
        with rasterio.open(tmp_path / "rasters" / name) as a, \
                rasterio.open(DEMO / "rasters" / name) as b:
            np.testing.assert_array_equal(a.read(1), b.read(1), err_msg=name)
    assert re.search(r"SEED = \d+", (DEMO / "make_demo.py").read_text(encoding="utf-8"))
