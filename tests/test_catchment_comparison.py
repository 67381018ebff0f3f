"""karstsink run: every flux option in the TOML reaches the estimator, one [carbon] basis for
speciation, catchments and map, and catchment_comparison.csv (observed sink against the map's
karst sink over each catchment's outline)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from mapping_helpers import LC_SHAPE, UTM, uniform_inputs

from karstsink.exceptions import KarstSinkError
from karstsink.workflows import demo_config_path, run_pipeline

DEMO = demo_config_path().parent
# Uniform map inputs (mapping_helpers.uniform_inputs): 15 degC, soil pCO2 1e-2 atm,
# R = 500 mm/yr, open system, phreeqc.dat (2024): Ca_eq = 1.932 mmol/kgw, so the karst sink
# of a carbonate pixel is 12.011 g/mol x 0.5 m/yr x 1.932 mmol/L = 11.60 t C km-2 yr-1
# (issue 4; the same hand value as tests/test_mapping.py). Rows 0-49 (y > 2,898,500 m)
# have no carbonate: 0 there.
HAND_SINK = 12.011 * 0.5 * 1.932
LEFT, TOP = 500000.0, 2900000.0  # the 30 m land-cover grid: 300 x 200 px
RIGHT = LEFT + 30 * LC_SHAPE[1]  # 509,000 m


def _copy_catchment(folder: Path) -> None:
    (folder / "catchments").mkdir(parents=True, exist_ok=True)
    for name in ("longtan_discharge.csv", "longtan_samples.csv"):
        shutil.copy(DEMO / "catchments" / name, folder / "catchments" / name)


def _catchment(name: str, area: float, extra: str = "") -> str:
    return (f'[[catchments]]\nname = "{name}"\narea_km2 = {area}\n'
            'discharge = "catchments/longtan_discharge.csv"\n'
            'samples = "catchments/longtan_samples.csv"\n' + extra)


# --------------------------------------------------------------------------------------
# config parity: each option of `karstsink flux`, written in the TOML, reaches run_flux
# --------------------------------------------------------------------------------------
class _Captured(KarstSinkError):
    pass


@pytest.fixture
def capture_run_flux(monkeypatch):
    calls = []

    def fake(discharge, samples, **kwargs):
        calls.append({"discharge": discharge, "samples": samples, **kwargs})
        raise _Captured("captured")

    import karstsink.workflows.catchment as fp

    monkeypatch.setattr(fp, "run_flux", fake)
    return calls


COMMON = """constituent = "hco3"
units = "mg/L"
q_unit = "L/s"
q_column = "Q (m3/s)"
date_column = "Date"
date_format = "%Y-%m-%d"
max_gap_days = 3
allow_gaps = true
year_start = 1
so4 = "so4"
no3 = "no3"
toc = "toc"
acid_so4_share = 0.6
evaporite_so4_share = 0.25
acid_no3_share = 0.5
bcp_share = 0.73
silicate_fraction = 0.1
"""


@pytest.mark.parametrize(("method", "text", "options", "proxy", "extra"), [
    ("loadest", 'model = 99\nextra = ["EC"]\n', {"model": 99}, None, ["EC"]),
    ("wrtds", "bootstrap = 20\njobs = 1\nwindow_y = 5\nwindow_q = 1.5\nwindow_s = 0.25\n"
              "min_obs = 40\nmin_uncen = 30\nseed = 7\nblock_days = 100\nedge_adjust = false\n",
     {"bootstrap": 20, "jobs": 1, "window_y": 5.0, "window_q": 1.5, "window_s": 0.25,
      "min_obs": 40, "min_uncen": 30, "seed": 7, "block_days": 100, "edge_adjust": False},
     None, None),
    ("direct", 'proxy = "EC"\n', {}, "EC", None),
    ("rating", "", {}, None, None),
])
def test_every_flux_option_in_the_toml_reaches_run_flux(tmp_path, capture_run_flux, method,
                                                        text, options, proxy, extra):
    _copy_catchment(tmp_path)
    cfg = tmp_path / "run.toml"
    cfg.write_text("[speciation]\nsamples = []\n"
                   + _catchment("a", 12.5, f'method = "{method}"\n' + COMMON + text)
                   + '[scenario]\nsinks_from = "given"\nkarst_t_c_yr = 1\n', encoding="utf-8")
    with pytest.raises(_Captured):
        run_pipeline(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (kw,) = capture_run_flux
    assert kw["discharge"] == tmp_path / "catchments" / "longtan_discharge.csv"
    assert kw["samples"] == tmp_path / "catchments" / "longtan_samples.csv"
    expected = {"area_km2": 12.5, "constituent": "hco3", "units": "mg/L", "method": method,
                "q_unit": "L/s", "q_column": "Q (m3/s)", "date_column": "Date",
                "date_format": "%Y-%m-%d", "max_gap_days": 3, "allow_gaps": True,
                "year_start_month": 1, "so4": "so4", "no3": "no3", "toc": "toc",
                "acid_so4_share": 0.6, "evaporite_so4_share": 0.25, "acid_no3_share": 0.5,
                "bcp_share": 0.73, "silicate_hco3_fraction": 0.1, "method_options": options,
                "proxy": proxy, "extra_regressors": extra}
    assert {k: kw.get(k) for k in expected} == expected


def test_carbon_table_reaches_catchments_and_speciation(tmp_path, monkeypatch,
                                                        capture_run_flux):
    _copy_catchment(tmp_path)
    seen = {}

    def fake_speciate(table, **kwargs):
        seen.update(kwargs)
        raise _Captured("speciate")

    import karstsink.chemistry.speciation as sp

    monkeypatch.setattr(sp, "speciate", fake_speciate)
    carbon = ("[carbon]\nacid_so4_share = 0.4\nevaporite_so4_share = 0.2\n"
              "acid_no3_share = 0.3\nbcp_share = 0.5\n")
    cfg = tmp_path / "run.toml"
    cfg.write_text(carbon + _catchment("a", 10) + "[scenario]\nsinks_from = 'given'\n"
                   "karst_t_c_yr = 1\n", encoding="utf-8")
    with pytest.raises(_Captured, match="speciate"):
        run_pipeline(cfg, tmp_path / "out")
    assert {k: seen[k] for k in ("acid_so4_share", "evaporite_so4_share",
                                 "acid_no3_share")} == {
        "acid_so4_share": 0.4, "evaporite_so4_share": 0.2, "acid_no3_share": 0.3}
    # without speciation the catchment gets the same [carbon] values where it has their
    # column (NO3 here: run_flux refuses a share without its column); its own share wins
    cfg.write_text("[speciation]\nsamples = []\n" + carbon
                   + _catchment("a", 10, 'no3 = "no3"\nacid_no3_share = 0.9\n')
                   + "[scenario]\nsinks_from = 'given'\nkarst_t_c_yr = 1\n", encoding="utf-8")
    with pytest.raises(_Captured, match="captured"):
        run_pipeline(cfg, tmp_path / "out")
    (kw,) = capture_run_flux
    assert {k: v for k, v in kw.items() if k.endswith("_share")} == {"acid_no3_share": 0.9}


def test_flux_errors_name_the_toml_key_not_a_cli_flag(tmp_path):
    _copy_catchment(tmp_path)
    # a samples column with no unit in its header and no `units` key: the reader refuses
    (tmp_path / "catchments" / "s.csv").write_text(
        "Date,HCO3\n" + "".join(f"2016-{m:02d}-10,{200 + m}\n" for m in range(1, 13)),
        encoding="utf-8")
    cfg = tmp_path / "run.toml"
    cfg.write_text("[speciation]\nsamples = []\n"
                   + _catchment("a", 10, 'method = "direct"\n').replace("longtan_samples",
                                                                        "s")
                   + "[scenario]\nsinks_from = 'given'\nkarst_t_c_yr = 1\n", encoding="utf-8")
    with pytest.raises(KarstSinkError) as info:
        run_pipeline(cfg, tmp_path / "out")
    text = str(info.value)
    assert text.startswith("catchments[0] (catchment 'a'): ")
    assert "--" not in text
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------
# catchment vs map
# --------------------------------------------------------------------------------------
def _outlines(folder: Path) -> None:
    import geopandas as gpd
    import shapely

    # inside: 3 km x 3 km, all on carbonate (y < 2,898,500 m)
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(501000, 2894000, 504000, 2897000)],
                     crs=UTM).to_file(folder / "inside.gpkg")
    two = folder / "two.gpkg"
    # half: 3 km x 3 km, its northern half (y > 2,898,500 m) on non-carbonate pixels
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(501000, 2897000, 504000, TOP)],
                     crs=UTM).to_file(two, layer="half")
    # edge: 2 km x 2 km, half of it east of the map's right edge (x = 509,000 m)
    gpd.GeoDataFrame({"n": [1]}, geometry=[shapely.box(RIGHT - 1000, 2894000, RIGHT + 1000,
                                                       2896000)],
                     crs=UTM).to_file(two, layer="edge")


@pytest.fixture(scope="module")
def comparison_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("comparison")
    _copy_catchment(folder)
    inputs = uniform_inputs(folder / "rasters")
    _outlines(folder)
    text = ["[speciation]\nsamples = []\n",
            _catchment("inside", 9.0, 'method = "direct"\nboundary = "inside.gpkg"\n'),
            _catchment("half", 9.0, 'method = "direct"\nboundary = "two.gpkg"\n'
                                    'boundary_layer = "half"\n'),
            _catchment("edge", 4.0, 'method = "direct"\nboundary = "two.gpkg"\n'
                                    'boundary_layer = "edge"\n'),
            _catchment("none", 75.0, 'method = "direct"\n'),
            "[map.inputs]\n"
            + "".join(f'{k} = "rasters/{Path(v).name}"\n' for k, v in inputs.items())
            + "[map.grid]\nblock_size = 128\n[report]\nhtml = true\n"]
    cfg = folder / "run.toml"
    cfg.write_text("".join(text), encoding="utf-8")
    result = run_pipeline(cfg, folder / "out", jobs=2)
    return folder / "out", result


def test_comparison_table_matches_hand_values(comparison_run):
    out, result = comparison_run
    assert "catchment_comparison.csv" in result.files
    table = pd.read_csv(out / "catchment_comparison.csv", keep_default_na=False,
                        na_values=[""])
    assert list(table.columns) == [
        "catchment", "area_km2", "boundary_area_km2", "observed_sink_t_c_km2_yr",
        "observed_lo95_t_c_km2_yr", "observed_hi95_t_c_km2_yr", "map_karst_sink_t_c_km2_yr",
        "ratio_observed_to_map", "note"]
    t = table.set_index("catchment")
    # outline areas by hand: 3 km x 3 km = 9 km2; 2 km x 2 km = 4 km2
    assert t.loc["inside", "boundary_area_km2"] == pytest.approx(9.0, rel=1e-9)
    assert t.loc["half", "boundary_area_km2"] == pytest.approx(9.0, rel=1e-9)
    assert t.loc["edge", "boundary_area_km2"] == pytest.approx(4.0, rel=1e-9)
    # map: uniform 11.60 over the inside square; half of the "half" square is carbonate-free
    # (0), so its whole-outline mean is 11.60 / 2; the part of "edge" off the map is left out
    assert t.loc["inside", "map_karst_sink_t_c_km2_yr"] == pytest.approx(HAND_SINK, rel=0.01)
    assert t.loc["half", "map_karst_sink_t_c_km2_yr"] == pytest.approx(HAND_SINK / 2,
                                                                       rel=0.01)
    assert t.loc["edge", "map_karst_sink_t_c_km2_yr"] == pytest.approx(HAND_SINK, rel=0.01)
    # half of "edge" is off the map (border pixels are shared by 1/16-pixel sub-pixels)
    share = re.match(r"([\d.]+) % of the outline has no map value", t.loc["edge", "note"])
    assert share and float(share.group(1)) == pytest.approx(50.0, abs=0.5)
    # the test catchments' observed sink is not tied to the map's inputs: where it is above
    # the map value the note says so, else there is nothing to note
    above = t.loc["inside", "observed_sink_t_c_km2_yr"] > t.loc["inside",
                                                                 "map_karst_sink_t_c_km2_yr"]
    if above:
        assert "above the MPD potential" in t.loc["inside", "note"]
    else:
        assert pd.isna(t.loc["inside", "note"])
    assert t.loc["none", "note"] == "no boundary given"
    assert pd.isna(t.loc["none", "map_karst_sink_t_c_km2_yr"])
    # observed = the catchment's own sink (catchment_sinks.csv); ratio = observed / map
    sinks = pd.read_csv(out / "catchment_sinks.csv").set_index("catchment")
    for name in ("inside", "half", "edge"):
        obs = sinks.loc[name, "sink_t_c_km2_yr"]
        assert t.loc[name, "observed_sink_t_c_km2_yr"] == pytest.approx(obs, rel=1e-9)
        assert t.loc[name, "observed_lo95_t_c_km2_yr"] == pytest.approx(
            sinks.loc[name, "sink_lo95_t_c_km2_yr"], rel=1e-9)
        assert t.loc[name, "ratio_observed_to_map"] == pytest.approx(
            obs / t.loc[name, "map_karst_sink_t_c_km2_yr"], rel=1e-9)
    assert t.loc["inside", "ratio_observed_to_map"] == pytest.approx(
        sinks.loc["inside", "sink_t_c_km2_yr"] / HAND_SINK, rel=0.01)


def test_comparison_in_report_and_run_json(comparison_run):
    out, _ = comparison_run
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Catchments against the map" in html
    assert "MPD" in html and "degas" in html
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert [r["catchment"] for r in run["catchment_comparison"]] == ["inside", "half", "edge",
                                                                     "none"]
    # the run's carbon parameters (defaults of karstsink.carbon) are recorded
    assert run["carbon"]["acid_so4_share"] == 1.0 and run["carbon"]["bcp_share"] == 0.0
    assert any("catchment vs map" == k for k in run["assumptions"])
    assert any(k.startswith("carbon accounting") for k in run["assumptions"])


def test_bad_boundary_layer_names_the_key(tmp_path, comparison_run):
    out, _ = comparison_run
    folder = out.parent
    cfg = tmp_path / "run.toml"
    text = (folder / "run.toml").read_text(encoding="utf-8").replace(
        'boundary_layer = "half"', 'boundary_layer = "nope"')
    for name in ("catchments", "rasters"):
        (tmp_path / name).symlink_to(folder / name)
    for name in ("inside.gpkg", "two.gpkg"):
        shutil.copy(folder / name, tmp_path / name)
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(KarstSinkError, match=r"^catchments\[1\]\.boundary \(catchment "
                                             r"'half'\): .*nope"):
        run_pipeline(cfg, tmp_path / "out", jobs=2)
    assert not (tmp_path / "out").exists()
