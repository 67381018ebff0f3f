"""The report section of a series map (workflows/_series_section.py, plots/series.py).

Hand-made tables give hand-checkable numbers (the section formats what the engine wrote;
nothing here recomputes a sink); a tiny series run through ``run_pipeline`` checks the
wiring (section, figures, ``run.json`` records) against the engine's own CSVs.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from mapping_helpers import GEO, GEO_SHAPE, GEO_TRANSFORM, uniform_inputs, write, zones_two_halves

from karstsink.exceptions import MissingColumnError
from karstsink.plots.series import attribution_zones, plot_attribution, plot_series
from karstsink.report import write_report
from karstsink.workflows._series_section import (
    series_records,
    series_section,
    series_summary,
    uncertainty_section,
)

TOTAL = "TOTAL (all zones)"
SINKS = ("karst_sink", "biological_sink", "total_sink")


def _hand_tables(folder: Path) -> SimpleNamespace:
    """series/attribution/uncertainty/sensitivity.csv of two zones (A, B) and two years,
    with round numbers [t C yr-1] chosen by hand (so every expected value below is read
    off these lines, not computed by the code under test)."""
    folder.mkdir(parents=True, exist_ok=True)
    series = pd.DataFrame({
        "zone_id": [1, 2, None, 1, 2, None], "year": [2000, 2000, 2000, 2020, 2020, 2020],
        "county": ["A", "B", TOTAL, "A", "B", TOTAL],
        "karst_sink_t_c_yr": [400_000.0, 600_000.0, 1_000_000.0,
                              420_000.0, 630_000.0, 1_050_000.0],
        "biological_sink_t_c_yr": [2e6, 3e6, 5e6, 2.1e6, 3.3e6, 5.4e6]})
    series["total_sink_t_c_yr"] = series["karst_sink_t_c_yr"] + series["biological_sink_t_c_yr"]
    series.to_csv(folder / "series.csv", index=False)
    # A: +10,000 climate +30,000 land cover -2,000 interaction = +38,000 (hand sum);
    # B: -5,000 + 0 + 1,000 = -4,000; TOTAL: +5,000 + 30,000 - 1,000 = +34,000
    attr = pd.DataFrame({
        "zone_id": [1, 2, None], "county": ["A", "B", TOTAL], "year_a": 2000, "year_b": 2020,
        "total_change_t_c_yr": [38_000.0, -4_000.0, 34_000.0],
        "climate_t_c_yr": [10_000.0, -5_000.0, 5_000.0],
        "landcover_t_c_yr": [30_000.0, 0.0, 30_000.0],
        "interaction_t_c_yr": [-2_000.0, 1_000.0, -1_000.0]})
    attr.to_csv(folder / "attribution.csv", index=False)
    unc = series[["zone_id", "county", "year"]].copy()
    for s in SINKS:
        unc[f"{s}_t_c_yr"] = series[f"{s}_t_c_yr"]
        unc[f"{s}_lo95_t_c_yr"] = series[f"{s}_t_c_yr"] * (0.8 if s == "karst_sink" else 1)
        unc[f"{s}_hi95_t_c_yr"] = series[f"{s}_t_c_yr"] * (1.2 if s == "karst_sink" else 1)
        unc[f"{s}_sd_t_c_yr"] = 0.0
    # the total's interval: karst's +-20 % on top of the fixed biological sink
    for b, f in (("lo95", 0.8), ("hi95", 1.2)):
        unc[f"total_sink_{b}_t_c_yr"] = (series["karst_sink_t_c_yr"] * f
                                         + series["biological_sink_t_c_yr"])
    unc.to_csv(folder / "uncertainty.csv", index=False)
    rows = []
    for z in ("A", "B", TOTAL):
        for y in (2000, 2020):
            for p, share in (("runoff_factor", 90.0), ("soil_pco2_factor:1", 8.0),
                             ("temperature_offset_c", 1.5)):
                rows.append({"zone_id": None, "county": z, "year": y, "parameter": p,
                             "variance_share_pct": share, "explained_variance_pct": 99.5})
    pd.DataFrame(rows).to_csv(folder / "sensitivity.csv", index=False)
    (folder / "run.json").write_text(json.dumps({"parameters": {
        "landcover_table": "clcd", "biological_input": {"source": "nep raster"},
        "uncertainty": {"draws": 100, "seed": 3, "subsample_step_px": 8,
                        "runoff_rel_sd": 0.1, "temperature_sd_c": 0.5,
                        "dolomite_databases": [],
                        "parameters": ["soil_pco2_factor:1", "biological_sink:2",
                                       "runoff_factor", "temperature_offset_c"]}}}))
    return SimpleNamespace(series={"years": [2000, 2020], "climate": ["runoff"],
                                   "landcover": ["landcover"]})


def _bars(ax) -> dict[str, list[tuple[float, float]]]:
    """(bottom, height) of each bar by its gid (the attribution column)."""
    out: dict[str, list] = {}
    for p in ax.patches:
        if p.get_gid():
            out.setdefault(p.get_gid(), []).append((p.get_y(), p.get_height()))
    return out


def test_attribution_bars_are_the_table_values_in_kt(tmp_path):
    _hand_tables(tmp_path)
    attr = pd.read_csv(tmp_path / "attribution.csv")
    fig = plot_attribution(attr, top=2)
    total_ax, zone_ax = fig.axes[:2]
    # TOTAL: climate 5 kt from 0; land cover 30 kt on top of it (from 5); interaction
    # -1 kt downwards from 0
    assert _bars(total_ax) == {"climate_t_c_yr": [(0.0, 5.0)],
                               "landcover_t_c_yr": [(5.0, 30.0)],
                               "interaction_t_c_yr": [(0.0, -1.0)]}
    # zones by |total change|: A (38 kt) then B (-4 kt)
    assert [t.get_text() for t in zone_ax.get_xticklabels()] == ["A", "B"]
    bars = _bars(zone_ax)
    assert bars["climate_t_c_yr"] == [(0.0, 10.0), (0.0, -5.0)]
    assert bars["landcover_t_c_yr"] == [(10.0, 30.0), (0.0, 0.0)]
    # B's interaction (+1 kt) stacks upwards from 0: its climate part went downwards
    assert bars["interaction_t_c_yr"] == [(0.0, -2.0), (0.0, 1.0)]
    diamonds = zone_ax.lines[0].get_ydata()
    assert list(diamonds) == [38.0, -4.0]
    assert "kt C/yr" in zone_ax.get_ylabel() and fig.get_suptitle().startswith("Change")
    shown, total = attribution_zones(attr, top=1)
    assert shown["county"].tolist() == ["A"] and total["total_change_t_c_yr"] == 34_000.0


def test_series_figure_draws_the_total_rows_and_bands(tmp_path):
    _hand_tables(tmp_path)
    s = pd.read_csv(tmp_path / "series.csv")
    u = pd.read_csv(tmp_path / "uncertainty.csv")
    fig = plot_series(s, u)
    karst = fig.axes[0]
    line = next(ln for ln in karst.lines if ln.get_label() == "karst sink")
    assert list(line.get_ydata()) == [1.0, 1.05]  # 1,000,000 and 1,050,000 t = Mt
    assert karst.get_ylabel() == "sink [Mt C/yr]"
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    # the biological sink has no band (lo = hi in the table); the total has one
    assert "biological: 95 % interval" not in labels and "total: 95 % interval" in labels
    with pytest.raises(MissingColumnError, match="not in the table"):
        plot_series(s, zone="nowhere")


def test_a_band_that_misses_the_central_value_is_drawn_not_a_crash(tmp_path):
    # with 2-4 draws the central run can lie outside its draws' 2.5-97.5 % band: the
    # error bar lengths were negative and matplotlib refused them ('yerr' must not contain
    # negative values), which stopped `karstsink run` after its maps
    _hand_tables(tmp_path)
    s = pd.read_csv(tmp_path / "series.csv")
    u = pd.read_csv(tmp_path / "uncertainty.csv")
    for c in [c for c in u.columns if c.endswith(("_lo95_t_c_yr", "_hi95_t_c_yr"))]:
        stem = c.rsplit("_lo95", 1)[0].rsplit("_hi95", 1)[0]
        u[c] = u[f"{stem}_t_c_yr"] * 1.1 + (1.0 if "_hi95" in c else 0.0)  # above it
    fig = plot_series(s, u)
    assert any(ln.get_label() == "total sink" for ln in fig.axes[1].lines)


def test_series_section_states_the_intervals_of_uncertainty_csv(tmp_path):
    result = _hand_tables(tmp_path)
    section = series_section(result, tmp_path, top=2)
    text = section.text
    # 2000: total 5.4 Mt + karst 1.0 Mt (+-20 %: 0.8-1.2) -> total 6.00 (5.80-6.20)
    assert "**2000**: total 6.00 Mt C/yr (95 %: 5.80-6.20), karst 1.000 Mt C/yr " \
           "(95 %: 0.800-1.200), biological 5.00 Mt C/yr;" in text
    assert "**2020**: total 6.45 Mt C/yr (95 %: 6.24-6.66), karst 1.050 Mt C/yr " \
           "(95 %: 0.840-1.260)" in text
    # +34,000 t of 6,000,000 t = +0.57 %; parts as in attribution.csv [Mt]
    assert "+0.034 Mt C/yr (+0.6 % of 2000): climate +0.005, land cover +0.030, " \
           "interaction -0.001 Mt C/yr" in text
    # what the interval includes: the draws, the table and its range_source, not the
    # model structure; the raster's biological sink is not varied
    assert "100 Monte Carlo draws (seed 3)" in text and "runoff x (1 + 0.1 z)" in text
    assert "range_source: pco2: Lan et al. 2017 crops 0.61-0.63" in text
    assert "do **not** include the model-structure error" in text
    assert "its interval is a point" in text and "the biological sink" not in \
        text.split("of: ")[1].split(";")[0]
    assert "runoff factor (90 % of the variance; regression R² 100 %)" in text
    yearly = section.tables[0].data
    assert yearly["total_sink_lo95_t_c_yr"].tolist() == pytest.approx([5.8e6, 6.24e6])
    attr = section.tables[1].data
    assert attr["county"].tolist() == [TOTAL, "A", "B"]
    sens = section.tables[2].data
    assert set(sens["year"]) == {2020} and sens["county"].iloc[0] == TOTAL
    assert [Path(f.path).name for f in section.figures] == ["series.png", "attribution.png"]
    assert all(Path(f.path).is_file() for f in section.figures)
    html = write_report(tmp_path / "r.html", title="t", sections=[section]).read_text("utf-8")
    assert "Sink series 2000-2020 and its attribution" in html and "data:image/png" in html


def test_series_section_of_a_co2_run_gives_its_amounts_in_co2(tmp_path):
    # a t CO2 run: the same hand tables (t C) written in t CO2 in the text, the tables as
    # they are. 1 t C = 44.009/12.011 = 3.66406 t CO2, so
    # 6.00 Mt C -> 21.98 Mt CO2, 5.80 -> 21.25, 6.20 -> 22.72; karst 1.000 -> 3.664
    # (0.800 -> 2.931, 1.200 -> 4.397); +0.034 Mt C -> +0.125 Mt CO2, +0.005 -> +0.018,
    # +0.030 -> +0.110, -0.001 -> -0.004; the share of 2000 (+0.6 %) does not change
    result = _hand_tables(tmp_path)
    text = series_section(result, tmp_path, top=2, co2=True).text
    assert "**2000**: total 21.98 Mt CO2/yr (95 %: 21.25-22.72), karst 3.664 Mt CO2/yr " \
           "(95 %: 2.931-4.397)" in text
    assert "+0.125 Mt CO2/yr (+0.6 % of 2000): climate +0.018, land cover +0.110, " \
           "interaction -0.004 Mt CO2/yr" in text
    assert "the tables and figures keep the map engine's t C" in text
    assert "Mt C/yr" not in text
    section = series_section(result, tmp_path, top=2, co2=True)
    assert section.tables[0].data["total_sink_t_c_yr"].iloc[0] == pytest.approx(6.0e6)
    assert "t C per year" in section.tables[0].caption


def test_records_and_summary_for_run_json(tmp_path):
    _hand_tables(tmp_path)
    rec = series_records(tmp_path)
    assert set(rec) == {"series", "attribution", "uncertainty", "sensitivity"}
    assert len(rec["series"]) == 6 and rec["series"][2]["zone_id"] is None  # NaN -> null
    summary = series_summary(rec)
    assert [r["year"] for r in summary["map_series"]] == [2000, 2020]
    assert summary["map_attribution"][0]["total_change_t_c_yr"] == 34_000.0
    json.dumps(rec, allow_nan=False)  # valid JSON


def test_single_year_intervals_section(tmp_path):
    _hand_tables(tmp_path)
    unc = pd.read_csv(tmp_path / "uncertainty.csv")
    one = unc[unc["year"] == 2020].assign(year=np.nan)
    one.to_csv(tmp_path / "uncertainty.csv", index=False)
    sens = pd.read_csv(tmp_path / "sensitivity.csv")
    sens[sens["year"] == 2020].assign(year=np.nan).to_csv(tmp_path / "sensitivity.csv",
                                                          index=False)
    section = uncertainty_section(SimpleNamespace(series=None), tmp_path)
    assert section.title == "Uncertainty of the map totals"
    assert "total 6.45 Mt C/yr (95 %: 6.24-6.66), karst 1.050 Mt C/yr (95 %: 0.840-1.260)" \
        in section.text
    # zones by total sink: B (3.93 Mt) before A (2.52 Mt), after the TOTAL row
    assert section.tables[0].data["county"].tolist() == [TOTAL, "B", "A"]
    assert "What drives the variance**:" in section.text


# ---------------------------------------------------------------------------------------
# through run_pipeline: a tiny two-year series with draws
# ---------------------------------------------------------------------------------------
def _tiny_run(folder: Path, extra: str, series: bool):
    from karstsink.workflows.run import run_pipeline

    inputs = uniform_inputs(folder / "rasters")
    zones_two_halves(folder / "rasters")
    if series:  # runoff 500 mm in 2000, 600 mm in 2020 (uniform)
        for y, q in ((2000, 500.0), (2020, 600.0)):
            write(folder / "rasters" / f"runoff_{y}.tif", np.full(GEO_SHAPE, q, np.float32),
                  GEO_TRANSFORM, GEO, nodata=-9999.0)
        inputs["runoff"] = folder / "rasters" / "runoff_{year}.tif"
    text = ("[speciation]\nsamples = []\n[map.inputs]\n"
            + "".join(f'{k} = "rasters/{Path(v).name}"\n' for k, v in inputs.items())
            + '[map.zones]\npath = "rasters/zones.gpkg"\nfield = "county"\n'
            + '[map.tables]\nlandcover = "worldcover"\n[map.grid]\nblock_size = 128\n'
            + extra + "[report]\nhtml = true\n")
    cfg = folder / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    return run_pipeline(cfg, folder / "out", jobs=2)


def test_pipeline_series_section_and_run_json(tmp_path):
    result = _tiny_run(tmp_path, "[map.series]\nyears = [2000, 2020]\n"
                       "[map.uncertainty]\ndraws = 20\nseed = 1\nrunoff_rel_sd = 0.1\n",
                       series=True)
    out = result.out_dir
    for name in ("map/series.csv", "map/attribution.csv", "map/uncertainty.csv",
                 "map/series.png", "map/attribution.png", "map/2020/zonal_totals.csv"):
        assert name in result.files, name
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Sink series 2000-2020 and its attribution" in html
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    unc = pd.read_csv(out / "map" / "uncertainty.csv")
    attr = pd.read_csv(out / "map" / "attribution.csv")
    # run.json carries the engine's tables as written (consistency, not a new number)
    assert len(run["map_tables"]["uncertainty"]) == len(unc)
    tot = unc[unc["county"] == TOTAL].set_index("year")
    got = {r["year"]: r for r in run["summary"]["map_uncertainty"]}
    for y in (2000, 2020):
        assert got[y]["total_sink_hi95_t_c_yr"] == pytest.approx(
            tot.loc[y, "total_sink_hi95_t_c_yr"], rel=1e-12)
        # the report's sentence shows the same interval (a small map: in t C/yr)
        lo, hi = tot.loc[y, "karst_sink_lo95_t_c_yr"], tot.loc[y, "karst_sink_hi95_t_c_yr"]
        assert tot.loc[y, "karst_sink_t_c_yr"] < 1e5
        assert f"(95 %: {lo:,.0f}-{hi:,.0f})" in html
    # only runoff varies: the land-cover term is exactly 0 and the bars are the table's
    total = attr[attr["county"] == TOTAL].iloc[0]
    assert total["landcover_t_c_yr"] == 0.0 and total["climate_t_c_yr"] > 0
    fig = plot_attribution(attr)
    assert _bars(fig.axes[0])["climate_t_c_yr"] == [(0.0, pytest.approx(
        total["climate_t_c_yr"] / 1e3, rel=1e-12))]


def test_pipeline_single_year_intervals(tmp_path):
    result = _tiny_run(tmp_path, "[map.uncertainty]\ndraws = 20\nseed = 1\n"
                       "runoff_rel_sd = 0.1\n", series=False)
    html = (result.out_dir / "report.html").read_text(encoding="utf-8")
    assert "Uncertainty of the map totals" in html and "Sink series" not in html
    run = json.loads((result.out_dir / "run.json").read_text(encoding="utf-8"))
    assert run["summary"]["map_uncertainty"][0]["county"] == TOTAL
    assert "series" not in run["map_tables"]


def test_demo_rasters_tell_the_documented_history():
    """data/demo: 2000 and 2010 differ from 2020 only as make_demo.py documents it (steep
    forest was cropland, karst shrub was barren; runoff x 0.97 / 0.92, temperature
    -0.4 / -0.2 degC, each value rounded as written: runoff to 1 mm, temperature 0.1)."""
    import rasterio

    demo = Path(__file__).resolve().parents[1] / "data" / "demo" / "rasters"

    def read(name):
        with rasterio.open(demo / name) as src:
            return src.read(1)

    lc20 = read("landcover_2020.tif")
    t20, q20 = read("temperature_2020.tif"), read("runoff_2020.tif")
    carb = read("carbonate.tif")
    for year, factor, offset in ((2000, 0.97, -0.4), (2010, 0.92, -0.2)):
        lc = read(f"landcover_{year}.tif")
        changed = lc != lc20
        assert changed.sum() > 1000
        # every change is cropland (1) -> forest (2) or barren (7) -> shrub (3)
        pairs = set(zip(lc[changed].tolist(), lc20[changed].tolist(), strict=True))
        assert pairs == {(1, 2), (7, 3)}
        assert (np.nan_to_num(carb[changed & (lc == 7)]) >= 0.6).all()
        ok = np.isfinite(t20)
        assert np.abs(read(f"temperature_{year}.tif")[ok] - (t20[ok] + offset)).max() < 0.051
        # the runoff pattern varies by +-3 % (x 1 +- 0.03 z, z within a few sd) around the
        # yearly factor: the province mean is the factor within 1 %
        q = read(f"runoff_{year}.tif")
        assert np.nanmean(q) / np.nanmean(q20) == pytest.approx(factor, rel=0.01)
    # conversion only goes forward: what was cropland in 2010 was cropland in 2000
    lc00, lc10 = read("landcover_2000.tif"), read("landcover_2010.tif")
    assert ((lc10 != lc20) <= (lc00 != lc20)).all()


def test_sections_need_the_engine_tables(tmp_path):
    from karstsink.exceptions import DataError

    with pytest.raises(DataError, match=r"series.csv is missing"):
        series_section(SimpleNamespace(series={}), tmp_path)
    with pytest.raises(DataError, match=r"uncertainty.csv is missing"):
        uncertainty_section(SimpleNamespace(series=None), tmp_path)
