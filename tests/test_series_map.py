"""Series runs of the map engine: every year in one pass, change maps, attribution."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio
from mapping_helpers import (
    GEO,
    GEO_SHAPE,
    GEO_TRANSFORM,
    LC_SHAPE,
    LC_TRANSFORM,
    UTM,
    read,
    uniform_inputs,
    write,
    write_config,
    zones_two_halves,
)
from numpy.testing import assert_allclose

from karstsink.exceptions import ConfigError
from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

YEARS = (2000, 2005, 2010)
ZONES = '[zones]\npath = "zones.gpkg"\nfield = "county"\n[tables]\nlandcover = "worldcover"\n'
STEMS = ("karst_sink", "biological_sink", "total_sink")


def _yearly(folder, rng):
    """Runoff fields and land cover that differ by year (forest -> cropland westwards)."""
    for y in YEARS:
        q = (400.0 + 25.0 * (y - 2000) + rng.normal(0, 30, GEO_SHAPE)).astype(np.float32)
        write(folder / f"runoff_{y}.tif", q, GEO_TRANSFORM, GEO, nodata=-9999.0)
        lc = np.full(LC_SHAPE, 10, np.uint8)
        lc[:, : 40 + 6 * (y - 2000)] = 40
        lc[120:130, 200:210] = 0  # a nodata patch
        write(folder / f"lc_{y}.tif", lc, LC_TRANSFORM, UTM, nodata=0)


@pytest.fixture(scope="module")
def series_and_singles(tmp_path_factory):
    folder = tmp_path_factory.mktemp("series")
    inputs = uniform_inputs(folder)
    _yearly(folder, np.random.default_rng(7))
    zones_two_halves(folder)
    singles = {}
    for y in YEARS:
        one = {**inputs, "runoff": folder / f"runoff_{y}.tif",
               "landcover": folder / f"lc_{y}.tif"}
        cfg = write_config(folder, one, extra=ZONES)
        singles[y] = run_map(load_config(cfg), folder / f"single_{y}", jobs=2)
    templ = {**inputs, "runoff": folder / "runoff_{year}.tif",
             "landcover": folder / "lc_{year}.tif"}
    cfg = write_config(folder, templ, extra=ZONES + f"[series]\nyears = {list(YEARS)}\n"
                       'change_maps = ["karst", "biological", "total"]\n')
    series = run_map(load_config(cfg), folder / "series", jobs=2)
    return folder, series, singles


def test_each_year_equals_its_single_run(series_and_singles):
    folder, _, _ = series_and_singles
    for y in YEARS:
        for stem in STEMS:
            a = read(folder / f"single_{y}" / f"{stem}.tif")
            b = read(folder / "series" / str(y) / f"{stem}.tif")
            assert np.array_equal(np.isnan(a), np.isnan(b))
            ok = np.isfinite(a)
            rel = np.abs(b[ok] - a[ok]) / np.maximum(np.abs(a[ok]), 1e-12)
            assert rel.max() <= 1e-5, (y, stem)
        # the years differ (the test would be empty otherwise)
    t0 = read(folder / "series" / "2000" / "total_sink.tif")
    t1 = read(folder / "series" / "2010" / "total_sink.tif")
    assert np.nanmax(np.abs(t1 - t0)) > 1.0


def test_series_csv_equals_single_zone_totals(series_and_singles):
    folder, series, singles = series_and_singles
    tab = pd.read_csv(folder / "series" / "series.csv")
    assert list(tab.columns[:3]) == ["zone_id", "year", "county"]
    assert list(tab.columns[3:]) == ["karst_sink_t_c_yr", "biological_sink_t_c_yr",
                                     "total_sink_t_c_yr"]
    assert len(tab) == 3 * len(YEARS)  # two zones and the TOTAL row per year
    for y in YEARS:
        single = pd.read_csv(folder / f"single_{y}" / "zonal_totals.csv")
        rows = tab[tab["year"] == y].reset_index(drop=True)
        assert rows["county"].tolist() == single["county"].tolist()
        for c in ("karst_sink_t_c_yr", "biological_sink_t_c_yr", "total_sink_t_c_yr"):
            assert_allclose(rows[c], single[c], rtol=1e-3)
        assert_allclose(series.series["totals"][str(y)]["total_sink_t_c_yr"],
                        singles[y].totals["total_sink_t_c_yr"], rtol=1e-3)


def test_year_folders_carry_the_single_run_files_and_their_year(series_and_singles):
    folder, series, singles = series_and_singles
    for y in YEARS:
        names = {f.split("/", 1)[1] for f in series.files if f.startswith(f"{y}/")}
        assert names == set(singles[y].files)
        with rasterio.open(folder / "series" / str(y) / "total_sink.tif") as ds:
            tags = ds.tags()
        assert tags["karstsink_year"] == str(y)
        params = json.loads(tags["karstsink_parameters"])
        assert params["inputs"]["runoff"] == f"runoff_{y}.tif"
        run = json.loads((folder / "series" / str(y) / "run.json").read_text())
        assert run["year"] == y
        assert run["parameters"]["inputs"]["landcover"] == f"lc_{y}.tif"
    top = json.loads((folder / "series" / "run.json").read_text())
    assert top["series"]["years"] == list(YEARS)
    assert top["series"]["climate"] == ["runoff"]
    assert top["series"]["landcover"] == ["landcover"]


def test_change_maps_are_last_minus_first_year(series_and_singles):
    folder, _, _ = series_and_singles
    for stem in STEMS:
        a = read(folder / "series" / "2000" / f"{stem}.tif")
        b = read(folder / "series" / "2010" / f"{stem}.tif")
        d = read(folder / "series" / "change" / "2000_2010" / f"{stem}_change.tif")
        assert_allclose(d, (b.astype(np.float32) - a.astype(np.float32)), rtol=1e-6,
                        atol=1e-5, equal_nan=True)


def test_change_maps_default_to_the_total(tmp_path):
    inputs = uniform_inputs(tmp_path)
    for y, q in ((2000, 500.0), (2020, 800.0)):
        write(tmp_path / f"runoff_{y}.tif", np.full(GEO_SHAPE, q, np.float32), GEO_TRANSFORM,
              GEO, nodata=-9999.0)
    cfg = write_config(tmp_path, {**inputs, "runoff": tmp_path / "runoff_{year}.tif"},
                       extra="[series]\nyears = [2000, 2020]\n")
    res = run_map(load_config(cfg), tmp_path / "out", jobs=2, quicklook=False)
    change = sorted(f for f in res.files if f.startswith("change/"))
    assert change == ["change/2000_2020/total_sink_change.qml",
                      "change/2000_2020/total_sink_change.tif"]
    # 300 mm/yr more runoff on karst (rows 50:): 12.011 x 0.3 x 1.932 t C km-2 yr-1
    d = read(tmp_path / "out" / "change" / "2000_2020" / "total_sink_change.tif")
    assert_allclose(d[50:], 12.011 * 0.3 * 1.932, rtol=0.01)
    assert np.all(d[:50] == 0.0)


def test_attribution_terms_add_up_to_the_change(series_and_singles):
    folder, _, _ = series_and_singles
    att = pd.read_csv(folder / "series" / "attribution.csv")
    assert list(att.columns) == ["zone_id", "county", "year_a", "year_b",
                                 "total_change_t_c_yr", "climate_t_c_yr", "landcover_t_c_yr",
                                 "interaction_t_c_yr"]
    parts = att["climate_t_c_yr"] + att["landcover_t_c_yr"] + att["interaction_t_c_yr"]
    assert_allclose(parts, att["total_change_t_c_yr"], rtol=1e-6)
    tab = pd.read_csv(folder / "series" / "series.csv")
    for county in att["county"]:
        rows = tab[tab["county"] == county].set_index("year")["total_sink_t_c_yr"]
        got = att.loc[att["county"] == county, "total_change_t_c_yr"].iloc[0]
        assert_allclose(got, rows[2010] - rows[2000], rtol=1e-6)
    # both groups change in the west, so both terms are non-zero there
    west = att[att["county"] == "West"].iloc[0]
    assert abs(west["climate_t_c_yr"]) > 1 and abs(west["landcover_t_c_yr"]) > 1


def test_attribution_terms_equal_independent_single_runs(series_and_singles):
    """The mixed evaluations of the factorial design, recomputed as ordinary single maps:
    climate = S(runoff 2010, land cover 2000) - S(2000), land cover = S(runoff 2000,
    land cover 2010) - S(2000), from zone totals of runs that model every pixel (the
    series computes the mixed years only where the land cover changed)."""
    folder, _, singles = series_and_singles
    got = {}
    for name, q, lc in (("c2010_l2000", 2010, 2000), ("c2000_l2010", 2000, 2010)):
        one = {"landcover": folder / f"lc_{lc}.tif", "carbonate": folder / "carb.tif",
               "runoff": folder / f"runoff_{q}.tif",
               "temperature": folder / "temperature.tif",
               "soil_pco2": folder / "soil_pco2.tif"}
        series_cfg = (folder / "map.toml").read_text(encoding="utf-8")
        try:  # write_config writes map.toml, the series config other tests load
            cfg = load_config(write_config(folder, one, extra=ZONES))
        finally:
            (folder / "map.toml").write_text(series_cfg, encoding="utf-8")
        got[name] = run_map(cfg, folder / f"single_{name}", jobs=2,
                            quicklook=False).zonal.set_index("county")
    base = singles[2000].zonal.set_index("county")
    att = pd.read_csv(folder / "series" / "attribution.csv").set_index("county")
    for county in ("West", "East"):
        s0 = base.loc[county, "total_sink_t_c_yr"]
        assert_allclose(att.loc[county, "climate_t_c_yr"],
                        got["c2010_l2000"].loc[county, "total_sink_t_c_yr"] - s0,
                        rtol=1e-6, atol=1e-6)
        assert_allclose(att.loc[county, "landcover_t_c_yr"],
                        got["c2000_l2010"].loc[county, "total_sink_t_c_yr"] - s0,
                        rtol=1e-6, atol=1e-6)


def _two_years(folder, lc_a, lc_b, q_a, q_b, extra=""):
    inputs = uniform_inputs(folder)
    for y, lc, q in ((2000, lc_a, q_a), (2020, lc_b, q_b)):
        write(folder / f"lc_{y}.tif", lc, LC_TRANSFORM, UTM, nodata=0)
        write(folder / f"runoff_{y}.tif", np.full(GEO_SHAPE, q, np.float32), GEO_TRANSFORM,
              GEO, nodata=-9999.0)
    templ = {**inputs, "runoff": folder / "runoff_{year}.tif",
             "landcover": folder / "lc_{year}.tif"}
    cfg = write_config(folder, templ, extra="[series]\nyears = [2000, 2020]\n" + extra)
    run_map(load_config(cfg), folder / "out", jobs=2, quicklook=False)
    return pd.read_csv(folder / "out" / "attribution.csv").iloc[-1]


def test_only_land_cover_changes_gives_no_climate_term(tmp_path):
    lc_a = np.full(LC_SHAPE, 10, np.uint8)
    lc_b = lc_a.copy()
    lc_b[:50, :100] = 40  # forest -> cropland on 5,000 non-karst pixels (rows :50)
    row = _two_years(tmp_path, lc_a, lc_b, 500.0, 500.0)  # equal runoff in two files
    assert row["climate_t_c_yr"] == 0.0
    assert row["interaction_t_c_yr"] == 0.0
    # hand calculation: off carbonate only the biological sink changes: WorldCover
    # cropland 0 vs tree cover 70 t C km-2 yr-1 on 5,000 px x 900 m2 = 4.5 km2
    assert_allclose(row["landcover_t_c_yr"], -70.0 * 4.5, rtol=1e-6)
    assert_allclose(row["total_change_t_c_yr"], -315.0, rtol=1e-6)


def test_a_year_with_more_nodata_is_no_change_of_sink(tmp_path):
    # as above, plus 2020 land cover nodata (code 0) on rows 100-109: 3,000 carbonate pixels,
    # 2.7 km2, that have a sink in 2000. Every year is summed over the pixels known in both,
    # so the change is still the hand -315 t C yr-1 (counting that block as a loss would add
    # -2.7 km2 x (11.60 + 70) t C km-2 yr-1 = -220 t C yr-1)
    lc_a = np.full(LC_SHAPE, 10, np.uint8)
    lc_b = lc_a.copy()
    lc_b[:50, :100] = 40
    lc_b[100:110] = 0
    row = _two_years(tmp_path, lc_a, lc_b, 500.0, 500.0)
    assert_allclose(row["total_change_t_c_yr"], -315.0, rtol=1e-6)
    assert_allclose(row["landcover_t_c_yr"], -315.0, rtol=1e-6)
    by_year = pd.read_csv(tmp_path / "out" / "series.csv").set_index("year")  # TOTAL rows
    assert_allclose(by_year.loc[2020, "total_sink_t_c_yr"] - by_year.loc[2000,
                    "total_sink_t_c_yr"], -315.0, rtol=1e-6)


def test_a_gap_in_an_earlier_year_leaves_the_last_years_totals_whole(tmp_path):
    # 2000's land cover nodata on rows 100-109 (2.7 km2 of carbonate): the series sums its
    # zones and series.csv over the pixels both years know, but 2020's own run.json totals
    # (the headline) are its maps' totals, as a single run of 2020 gives; they used to
    # shrink by the 2000 gap, 2.7 km2 x (11.60 + 70) = 220 t C yr-1, with nothing said
    import json

    lc = np.full(LC_SHAPE, 10, np.uint8)
    whole, holed = tmp_path / "whole", tmp_path / "holed"
    for folder, gap in ((whole, False), (holed, True)):
        folder.mkdir()
        lc_a = lc.copy()
        if gap:
            lc_a[100:110] = 0
        _two_years(folder, lc_a, lc.copy(), 500.0, 500.0)
    t_whole, t_holed = (json.loads((f / "out" / "2020" / "run.json").read_text())["totals"]
                        for f in (whole, holed))
    assert_allclose(t_holed["total_sink_t_c_yr"], t_whole["total_sink_t_c_yr"], rtol=1e-9)
    assert_allclose(t_holed["karst_sink_t_c_yr"], t_whole["karst_sink_t_c_yr"], rtol=1e-9)
    karst = read(holed / "out" / "2020" / "karst_sink.tif")
    assert np.isfinite(karst).all()  # 2020's own map has no gap
    by_year = pd.read_csv(holed / "out" / "series.csv").set_index("year")
    assert by_year.loc[2020, "total_sink_t_c_yr"] < t_holed["total_sink_t_c_yr"] - 200


def test_only_runoff_changes_gives_no_land_cover_term(tmp_path):
    lc = np.full(LC_SHAPE, 10, np.uint8)
    row = _two_years(tmp_path, lc, lc.copy(), 500.0, 800.0)
    assert row["landcover_t_c_yr"] == 0.0
    assert row["interaction_t_c_yr"] == 0.0
    # the karst sink is linear in runoff (model.py: S = M_C x R x c x HCO3 uptake, with
    # Ca_eq independent of R): 12.011 g/mol x 0.3 m/yr x 1.932 mmol/L (phreeqc.dat Ca_eq
    # at 15 degC, pCO2 1e-2 atm, open system) = 6.962 t C km-2 yr-1 more on the 150 x 300
    # karst pixels (40.5 km2): 281.9 t C yr-1 (1 % for the rounded Ca_eq)
    assert_allclose(row["climate_t_c_yr"], 12.011 * 0.3 * 1.932 * 40.5, rtol=0.01)


def test_climate_override_moves_an_input_between_groups(tmp_path):
    lc = np.full(LC_SHAPE, 10, np.uint8)
    # runoff declared "land cover": its change is then the land-cover term
    row = _two_years(tmp_path, lc, lc.copy(), 500.0, 800.0, extra="climate = []\n")
    assert row["climate_t_c_yr"] == 0.0
    assert_allclose(row["landcover_t_c_yr"], 12.011 * 0.3 * 1.932 * 40.5, rtol=0.01)


@pytest.mark.parametrize("engine", ["processes", "dask"])
def test_tiled_engines_equal_threads(series_and_singles, tmp_path, engine):
    folder, _, _ = series_and_singles
    cfg = load_config(folder / "map.toml")  # the series config (written last)
    cfg.tile_size = 128
    if engine == "dask":
        pytest.importorskip("dask.distributed")
        res = run_map(cfg, tmp_path / "proc", jobs=2, dask="local", quicklook=False)
    else:
        res = run_map(cfg, tmp_path / "proc", jobs=2, engine="processes", quicklook=False)
    assert res.counters["engine_tiles"] > 1
    for y in YEARS:
        for stem in STEMS:
            a = read(folder / "series" / str(y) / f"{stem}.tif")
            b = read(tmp_path / "proc" / str(y) / f"{stem}.tif")
            assert_allclose(b, a, rtol=1e-6, equal_nan=True)
    a = pd.read_csv(folder / "series" / "attribution.csv")
    b = pd.read_csv(tmp_path / "proc" / "attribution.csv")
    assert_allclose(b["total_change_t_c_yr"], a["total_change_t_c_yr"], rtol=1e-9)


def test_missing_year_files_listed_in_one_error(tmp_path):
    inputs = uniform_inputs(tmp_path)
    write(tmp_path / "runoff_2000.tif", np.full(GEO_SHAPE, 500.0, np.float32),
          GEO_TRANSFORM, GEO)
    templ = {**inputs, "runoff": tmp_path / "runoff_{year}.tif",
             "temperature": tmp_path / "t_{year}.tif"}
    cfg = write_config(tmp_path, templ, extra="[series]\nyears = [2000, 2005]\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    msg = str(err.value)
    assert "3 yearly input file(s) missing" in msg
    for part in ("runoff 2005", "temperature 2000", "temperature 2005", "runoff_2005.tif"):
        assert part in msg
    assert "runoff 2000" not in msg


@pytest.mark.parametrize(("extra", "needle"), [
    ("", "needs a [series] years"),
    ("[series]\nyears = []\n", "non-empty list"),
    ("[series]\nyears = [2000, 2000]\n", "twice"),
    # the last year is the baseline: [2020, 2000, 2010] made 2010 the balance's year
    ("[series]\nyears = [2010, 2000]\n", "must be in increasing order"),
    ("[series]\nyears = [2000]\npairs = [[2000, 2010]]\n", "pairs"),
    ("[series]\nyears = [2000]\nclimate = [\"wind\"]\n", "climate names wind"),
    ("[series]\nyears = [2000]\nchange_maps = [\"bio\"]\n", "change_maps must be"),
    # a pair twice wrote its change map twice and failed inside the tile writer
    ("[series]\nyears = [2000, 2020]\npairs = [[2000, 2020], [2000, 2020]]\n",
     "pairs gives [2000, 2020] twice"),
])
def test_bad_series_sections(tmp_path, extra, needle):
    inputs = uniform_inputs(tmp_path)
    (tmp_path / "runoff_2000.tif").write_bytes((tmp_path / "runoff.tif").read_bytes())
    cfg = write_config(tmp_path, {**inputs, "runoff": tmp_path / "runoff_{year}.tif"},
                       extra=extra)
    with pytest.raises(ConfigError, match=needle.replace("[", r"\[")):
        load_config(cfg)


def test_series_without_a_year_input_is_refused(tmp_path):
    cfg = write_config(tmp_path, uniform_inputs(tmp_path), extra="[series]\nyears = [2000]\n")
    with pytest.raises(ConfigError, match="no \\[inputs\\] path holds"):
        load_config(cfg)


def test_cli_map_runs_a_series_and_prints_every_year(tmp_path):
    from click.testing import CliRunner

    from karstsink.cli import main

    inputs = uniform_inputs(tmp_path)
    for y, q in ((2000, 500.0), (2020, 800.0)):
        write(tmp_path / f"runoff_{y}.tif", np.full(GEO_SHAPE, q, np.float32), GEO_TRANSFORM,
              GEO, nodata=-9999.0)
    cfg = write_config(tmp_path, {**inputs, "runoff": tmp_path / "runoff_{year}.tif"},
                       extra="[series]\nyears = [2000, 2020]\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(out), "--jobs", "2"])
    assert res.exit_code == 0, res.output
    assert "2000: karst sink" in res.output and "2020: karst sink" in res.output
    assert "2000 -> 2020: total change" in res.output
    for f in ("series.csv", "attribution.csv", "run.json", "2000/total_sink.tif",
              "2020/run.json", "change/2000_2020/total_sink_change.tif"):
        assert (out / f).is_file(), f
    # a missing year: one line, exit 1, nothing written
    (tmp_path / "runoff_2020.tif").unlink()
    res = CliRunner().invoke(main, ["map", str(cfg), "-o", str(tmp_path / "out2")])
    assert res.exit_code == 1
    assert "runoff 2020" in res.output and not (tmp_path / "out2").exists()


def test_warnings_name_their_year(tmp_path):
    from karstsink.exceptions import DataQualityWarning

    inputs = uniform_inputs(tmp_path)
    for y in (2000, 2020):
        lc = np.full(LC_SHAPE, 10, np.uint8)
        if y == 2020:
            lc[:10, :10] = 77  # not a WorldCover class
        write(tmp_path / f"lc_{y}.tif", lc, LC_TRANSFORM, UTM, nodata=0)
    cfg = write_config(tmp_path, {**inputs, "landcover": tmp_path / "lc_{year}.tif"},
                       extra='[tables]\nlandcover = "worldcover"\n'
                             "[series]\nyears = [2000, 2020]\n")
    with pytest.warns(DataQualityWarning, match=r"^2020: Land-cover class codes not in "
                                                r"table worldcover.*77: 100 px"):
        run_map(load_config(cfg), tmp_path / "out", jobs=2, quicklook=False)
