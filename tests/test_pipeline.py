"""The whole pipeline on the bundled SYNTHETIC demo data (issue 5), through the CLI."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser

import pandas as pd
import pytest
import rasterio
from click.testing import CliRunner

from karstsink.cli import main
from karstsink.workflows import demo_config_path


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(main, ["demo", "-o", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    _STDOUT["demo"] = result.stdout  # the results alone (progress and notes go to stderr)
    return out, result.output


_STDOUT: dict[str, str] = {}


def test_demo_writes_every_output(demo_run):
    out, text = demo_run
    for name in ("report.html", "run.json", "catchment_sinks.csv", "catchment_comparison.csv",
                 "scenario/balance.csv", "map/2020/zonal_totals.csv",
                 "map/2020/zonal_totals.gpkg", "map/series.csv", "map/attribution.csv",
                 "map/uncertainty.csv"):
        assert (out / name).is_file(), name
    pngs = list(out.rglob("*.png"))
    assert len(pngs) >= 3
    for stage in ("speciation", "catchment fluxes", "sink maps", "scenario balance", "report"):
        assert stage in text
    # nothing temporary left beside the output folder
    assert [p.name for p in out.parent.iterdir()] == ["out"]


def test_demo_prints_every_stage_result_on_stdout(demo_run):
    # README: every command prints its results (sinks, totals, changes) on stdout, so
    # `karstsink demo -q` keeps them: the series change and the restoration gain included
    import json

    out, _ = demo_run
    lines = _STDOUT["demo"].splitlines()
    heads = [line.split(":", 1)[0] for line in lines]
    assert heads == ["catchment sinks [t C km-2 yr-1]", "map", "map series", "balance",
                     "trajectory", "report"], lines
    summary = json.loads((out / "run.json").read_text(encoding="utf-8"))["summary"]
    series = next(line for line in lines if line.startswith("map series:"))
    # each year's whole-grid total as the map stage wrote it (map/run.json's series
    # totals, the same as the map: line's), in Mt to 3 significant digits
    totals = json.loads((out / "map" / "run.json").read_text(encoding="utf-8"))
    totals = totals["series"]["totals"]
    first, last = min(totals), max(totals)
    assert f"{totals[first]['total_sink_t_c_yr'] / 1e6:#.3g} Mt ({first})" in series
    assert f"{totals[last]['total_sink_t_c_yr'] / 1e6:#.3g} Mt C/yr ({last})" in series
    trajectory = next(line for line in lines if line.startswith("trajectory:"))
    assert trajectory.endswith(f"by {summary['restoration_gain_year']}")
    path = pd.read_csv(out / "scenario" / "trajectory.csv")
    path = path[(path["zone"] == "TOTAL (all zones)")
                & (path["year"] == summary["restoration_gain_year"])]
    assert summary["restoration_gain_t_c_yr"] == pytest.approx(
        float(path["restoration_gain_t_c_yr"].iloc[0]))


def test_demo_maps_are_cogs_with_units(demo_run):
    out, _ = demo_run
    for name in ("karst_sink", "biological_sink", "total_sink"):  # the series' last year
        with rasterio.open(out / "map" / "2020" / f"{name}.tif") as ds:
            assert ds.dtypes[0] == "float32"
            assert ds.nodata is not None
            assert ds.tags(1).get("units") == "t C km-2 yr-1"
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert ds.overviews(1)
            assert "phreeqc_database_sha256" in ds.tags()


def test_demo_numbers_hold_together(demo_run):
    out, _ = demo_run
    zonal = pd.read_csv(out / "map" / "2020" / "zonal_totals.csv")
    body = zonal[~zonal["name"].str.startswith("TOTAL")]
    total = zonal[zonal["name"].str.startswith("TOTAL")].iloc[0]
    assert body["karst_sink_t_c_yr"].sum() == pytest.approx(total["karst_sink_t_c_yr"])
    assert len(body) == 80
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    # balance: the first year's share is the summed sinks over 220 Mt CO2 (science.md 10)
    balance = pd.read_csv(out / "scenario" / "balance.csv")
    first = balance[(balance["year"] == 2020) & (balance["scenario"] == "baseline")].iloc[0]
    assert first["emissions_t_co2_yr"] == pytest.approx(220e6)
    sinks_co2 = (run["summary"]["karst_sink_t_c_yr"]
                 + run["summary"]["biological_sink_t_c_yr"]) * 44.009 / 12.011
    assert first["total_sink_t_co2_yr"] == pytest.approx(sinks_co2, rel=2e-3)
    catch = pd.read_csv(out / "catchment_sinks.csv")
    assert list(catch["catchment"]) == ["longtan", "qingquan", "heishui"]
    # C and CO2 agree by 44.009/12.011 in every catchment row
    assert (catch["sink_t_co2_km2_yr"] / catch["sink_t_c_km2_yr"]).to_numpy() == \
        pytest.approx(44.009 / 12.011, rel=1e-4)
    # the acid correction was applied (SO4 and NO3 configured in demo.toml)
    assert (catch["acid_correction_pct"] > 0).all()
    # the speciation records say how the reader took the '<DL' cells, as the single-stage
    # command's metadata does (below_detection "half", the reader's default)
    meta = json.loads((out / "speciation" / "longtan_samples.meta.json").read_text("utf-8"))
    assert meta["samples"]["below_detection"] == "half"
    assert run["speciation_meta"]["longtan_samples"]["samples"]["below_detection"] == "half"
    assert "engine" in run["speciation_meta"]["longtan_samples"]


def test_demo_sets_observed_and_map_sinks_side_by_side(demo_run):
    out, _ = demo_run
    comp = pd.read_csv(out / "catchment_comparison.csv")
    catch = pd.read_csv(out / "catchment_sinks.csv")
    assert list(comp["catchment"]) == ["longtan", "qingquan", "heishui"]
    # the outlines have the catchments' areas (data/demo/README.md) within 1 %
    assert (comp["boundary_area_km2"] / comp["area_km2"]).to_numpy() == pytest.approx(
        1.0, rel=0.01)
    assert comp["observed_sink_t_c_km2_yr"].to_numpy() == pytest.approx(
        catch["sink_t_c_km2_yr"].to_numpy(), rel=1e-9)
    assert comp["ratio_observed_to_map"].to_numpy() == pytest.approx(
        (comp["observed_sink_t_c_km2_yr"] / comp["map_karst_sink_t_c_km2_yr"]).to_numpy())
    # the outlines lie on carbonate rock: the MPD potential there is of the order of the
    # province's mean over karst (about 1 Mt C/yr over 108,890 km2 ~ 9 t C km-2 yr-1 with
    # the demo's acid correction); the realised sink at the outlet is of the same order,
    # and where it exceeds the potential the note says why that can be
    assert (comp["map_karst_sink_t_c_km2_yr"] > 3).all()
    assert ((comp["ratio_observed_to_map"] > 0.2) & (comp["ratio_observed_to_map"] < 2)).all()
    above = comp["ratio_observed_to_map"] > 1
    assert comp.loc[above, "note"].str.contains("above the MPD potential").all()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Catchments against the map" in html and "MPD" in html
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["carbon"]["acid_so4_share"] == 1.0  # demo.toml's [carbon], the defaults
    assert any("double" in v for v in run["assumptions"].values())  # NEP may double count


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.imgs, self.external = [], []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if tag == "img":
            self.imgs.append(d.get("src", ""))
        for key in ("src", "href"):
            v = d.get(key) or ""
            if v.startswith(("http:", "https:", "//")):
                self.external.append(v)


def test_demo_report_is_self_contained(demo_run):
    out, _ = demo_run
    html = (out / "report.html").read_text(encoding="utf-8")
    c = _Collector()
    c.feed(html)
    assert len(c.imgs) >= 5 and all(s.startswith("data:image/png;base64,") for s in c.imgs)
    assert c.external == []
    assert "SYNTHETIC" in html
    assert "SHA-256" in html or "sha256" in html.lower()


def test_run_with_bad_config_writes_nothing(tmp_path):
    cfg = tmp_path / "bad.toml"
    shutil.copytree(demo_config_path().parent / "catchments", tmp_path / "catchments")
    cfg.write_text(
        '[[catchments]]\nname = "x"\narea_km2 = -3\n'
        'discharge = "catchments/longtan_discharge.csv"\n'
        'samples = "catchments/longtan_samples.csv"\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(cfg), "-o", str(out)])
    assert result.exit_code == 1
    assert "area_km2" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_run_failing_stage_leaves_no_output(tmp_path):
    # a samples file whose dates are fine but with no HCO3 column fails the flux stage
    # after speciation has run: the whole output folder must not appear
    src = demo_config_path().parent / "catchments"
    shutil.copytree(src, tmp_path / "catchments")
    bad = tmp_path / "catchments" / "longtan_samples.csv"
    table = pd.read_csv(bad)
    table.drop(columns=["HCO3- (mg/L)"]).to_csv(bad, index=False)
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[[catchments]]\nname = "longtan"\narea_km2 = 75\n'
        'discharge = "catchments/longtan_discharge.csv"\n'
        'samples = "catchments/longtan_samples.csv"\n[scenario]\nsinks_from = "given"\n'
        'karst_t_c_yr = 1e6\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(cfg), "-o", str(out)])
    assert result.exit_code == 1, result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catchments", "run.toml"]


_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(_CHROMIUM is None, reason="needs a headless Chromium (.ci/run installs it)")
def test_demo_report_opens_in_headless_chromium(demo_run, tmp_path):
    # issue 5: the report opens in headless Chromium with no console errors and shows the maps
    import subprocess

    out, _ = demo_run
    proc = subprocess.run(
        [_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--enable-logging=stderr", "--v=0", "--dump-dom",
         (out / "report.html").resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines()
               if "CONSOLE" in ln or "Uncaught" in ln or "Refused to" in ln]
    assert console == []
    dom = _Collector()
    dom.feed(proc.stdout)
    assert len(dom.imgs) >= 5  # the rendered page still holds every embedded figure
    assert "Sink maps" in proc.stdout and "Karst (inorganic" in proc.stdout


def test_run_with_a_non_carbonate_constituent_gives_flux_without_sink(tmp_path):
    shutil.copytree(demo_config_path().parent / "catchments", tmp_path / "catchments")
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        '[speciation]\nsamples = []\n'
        '[[catchments]]\nname = "longtan"\narea_km2 = 75\nconstituent = "no3"\n'
        'units = "mg/L"\nmethod = "rating"\n'
        'discharge = "catchments/longtan_discharge.csv"\n'
        'samples = "catchments/longtan_samples.csv"\n'
        '[scenario]\nsinks_from = "given"\nkarst_t_c_yr = 1e6\n', encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(cfg), "-o", str(out)])
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out / "catchment_sinks.csv").iloc[0]
    assert row["constituent"] == "no3" and row["flux_kg_yr"] > 0
    assert pd.isna(row["sink_t_c_km2_yr"])  # nitrate is not a carbon sink
    assert (out / "report.html").is_file()


def test_demo_report_has_the_series_and_the_trajectory(demo_run):
    # issue 15: the demo is a 2000/2010/2020 series with 100 draws; the report shows the
    # series with intervals, the attribution bars and the trajectory to 2060 with its band
    out, _ = demo_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Sink series 2000-2020 and its attribution" in html
    assert "Change 2000 → 2020" in html and "What drives the variance" in html
    assert "Restoration trajectory against emission scenarios" in html
    for name in ("series.png", "attribution.png"):
        assert (out / "map" / name).is_file()
    assert (out / "scenario" / "trajectory.png").is_file()
    series = pd.read_csv(out / "map" / "series.csv")
    assert sorted(set(series["year"])) == [2000, 2010, 2020]
    unc = pd.read_csv(out / "map" / "uncertainty.csv")
    tot = unc[unc["name"].str.startswith("TOTAL")].set_index("year")
    assert (tot["karst_sink_lo95_t_c_yr"] < tot["karst_sink_t_c_yr"]).all()
    assert (tot["karst_sink_hi95_t_c_yr"] > tot["karst_sink_t_c_yr"]).all()
    # the restoration history of make_demo.py raises the biological sink from 2000 on
    attr = pd.read_csv(out / "map" / "attribution.csv")
    total = attr[attr["name"].str.startswith("TOTAL")].iloc[0]
    assert total["landcover_t_c_yr"] > 0
    assert total["climate_t_c_yr"] + total["landcover_t_c_yr"] + total[
        "interaction_t_c_yr"] == pytest.approx(total["total_change_t_c_yr"], rel=1e-6)
    # the last year is the map of the old single-year demo (the 2020 rasters are its files)
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    last = series[(series["year"] == 2020) & series["name"].str.startswith("TOTAL")].iloc[0]
    # (the headline is the raster total, series.csv the sum over the zones: within 0.2 %,
    # the report's "Raster total against the sum over zones" note)
    assert run["summary"]["karst_sink_t_c_yr"] == pytest.approx(last["karst_sink_t_c_yr"],
                                                                rel=2e-3)
    assert [r["year"] for r in run["summary"]["map_series"]] == [2000, 2010, 2020]
    # every column of the map's series tables is in the variable registry, but the zone
    # label, named after the demo's [map.zones] field ("name")
    from karstsink import variables

    for table in ("series", "attribution", "uncertainty", "sensitivity"):
        for col in pd.read_csv(out / "map" / f"{table}.csv", nrows=1).columns.drop("name"):
            assert table in variables.variable(col).tables, (table, col)
    # each year's zone GeoPackage names its year and carries the map's assumptions
    import pyogrio

    meta = pyogrio.read_info(out / "map" / "2000" / "zonal_totals.gpkg")["layer_metadata"]
    assert meta["karstsink_year"] == "2000" and "karst sink" in meta["karstsink_assumptions"]
    # the zone table the report points to is where the series wrote it
    assert "full table: map/2020/zonal_totals.csv" in html
    # the trajectory's band includes the baseline's own uncertainty of data/demo/
    # trajectory.toml (15 % 1-sigma each), and the assumptions say how much
    assert ("relative sd 0.15 of the karst and 0.15 of the biological sink"
            in run["assumptions"]["restoration trajectory"])


def test_run_shows_every_stages_warnings_once_naming_the_catchment(demo_run):
    # nothing silent: the readers' and engines' warnings of the speciation and flux stages
    # reach the run's stderr, like the map stage's. Each demo samples file has '<DL' cells
    # (below_detection), and LOADEST warns about days with more discharge than any
    # sampled day: which catchments those are is read off the demo's files here
    _, text = demo_run
    shown = [line.strip() for line in text.splitlines() if line.strip().startswith("warning:")]
    assert len(shown) == len(set(shown)), shown
    folder = demo_config_path().parent / "catchments"
    for name in ("longtan", "qingquan", "heishui"):
        samples = pd.read_csv(folder / f"{name}_samples.csv", encoding="utf-8-sig")
        assert any(f"{name}_samples.csv" in w and "below_detection" in w for w in shown)
        q = pd.read_csv(folder / f"{name}_discharge.csv", comment="#", parse_dates=["date"])
        q = q.set_index("date")["Q (m3/s)"]
        sampled = q.loc[pd.to_datetime(samples["Date"])]
        extrapolated = bool(q.max() > sampled.max())
        warned = any(w.startswith(f"warning: catchment {name}: LOADEST") for w in shown)
        assert warned == extrapolated, (name, shown)
