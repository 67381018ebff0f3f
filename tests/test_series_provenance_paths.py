"""How the map records its inputs: the biological input's path as every other input's
(relative to the configuration), and a series' years each recording an input the same
way (a mosaic as its entry as written, in the first year as in the others)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from mapping_helpers import GEO, GEO_SHAPE, GEO_TRANSFORM, uniform_inputs, write, write_config
from rasterio.transform import Affine

from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

YEARS = (2000, 2020)


def _params(path):
    return json.loads(path.read_text(encoding="utf-8"))["parameters"]


def test_single_run_records_the_nep_path_relative_to_the_config(tmp_path):
    inputs = uniform_inputs(tmp_path)
    inputs["nep"] = write(tmp_path / "nep.tif", np.full(GEO_SHAPE, 50.0, np.float32),
                          GEO_TRANSFORM, GEO, nodata=-9999.0)
    cfg = write_config(tmp_path, inputs)
    run_map(load_config(cfg), tmp_path / "out", jobs=1, quicklook=False)
    params = _params(tmp_path / "out" / "run.json")
    assert params["inputs"]["nep"] == "nep.tif"
    assert params["biological_input"] == {"source": "nep raster", "path": "nep.tif"}
    with rasterio.open(tmp_path / "out" / "total_sink.tif") as ds:
        tag = json.loads(ds.tags()["karstsink_parameters"])
    assert tag["biological_input"]["path"] == "nep.tif"


@pytest.fixture(scope="module")
def mosaic_series(tmp_path_factory):
    """A two-year series (NEP varies) whose constant runoff is a mosaic of two tiles."""
    folder = tmp_path_factory.mktemp("mosaic_series")
    inputs = uniform_inputs(folder)
    runoff = np.full(GEO_SHAPE, 500.0, np.float32)
    half = GEO_SHAPE[1] // 2
    a = GEO_TRANSFORM
    write(folder / "runoff_w.tif", runoff[:, :half], a, GEO, nodata=-9999.0)
    write(folder / "runoff_e.tif", runoff[:, half:],
          Affine(a.a, a.b, a.c + half * a.a, a.d, a.e, a.f), GEO, nodata=-9999.0)
    for y, v in zip(YEARS, (50.0, 80.0), strict=True):
        write(folder / f"nep_{y}.tif", np.full(GEO_SHAPE, v, np.float32), GEO_TRANSFORM, GEO,
              nodata=-9999.0)
    del inputs["runoff"]
    cfg = write_config(folder, {**inputs, "nep": folder / "nep_{year}.tif"},
                       extra='[series]\nyears = [2000, 2020]\n')
    text = cfg.read_text(encoding="utf-8").replace(
        "[inputs]\n", '[inputs]\nrunoff = "runoff_*.tif"\n', 1)
    cfg.write_text(text, encoding="utf-8")
    run_map(load_config(cfg), folder / "out", jobs=2, quicklook=False)
    return folder / "out"


def test_every_year_records_a_mosaic_input_as_written(mosaic_series):
    got = {y: _params(mosaic_series / str(y) / "run.json")["inputs"] for y in YEARS}
    assert got[2000]["runoff"] == got[2020]["runoff"] == "runoff_*.tif"
    assert {y: got[y]["nep"] for y in YEARS} == {y: f"nep_{y}.tif" for y in YEARS}
    for y in YEARS:  # the COG tags say the same
        with rasterio.open(mosaic_series / str(y) / "total_sink.tif") as ds:
            tag = json.loads(ds.tags()["karstsink_parameters"])
        assert tag["inputs"] == got[y]
    top = _params(mosaic_series / "run.json")
    assert top["inputs"]["runoff"] == "runoff_*.tif"
    assert top["inputs"]["nep"] == "nep_{year}.tif"


def test_every_year_records_the_nep_path_as_its_input(mosaic_series):
    for y in YEARS:
        params = _params(mosaic_series / str(y) / "run.json")
        assert params["biological_input"] == {"source": "nep raster",
                                              "path": params["inputs"]["nep"]}
        assert params["biological_input"]["path"] == f"nep_{y}.tif"
    top = _params(mosaic_series / "run.json")
    assert top["biological_input"] == {"source": "nep raster", "path": "nep_{year}.tif"}


def test_a_series_without_maps_writes_the_same_tables_and_no_map(tmp_path):
    """``SeriesConfig.maps = False`` (a projection stack's series, read for its zone
    totals): no COG is encoded, the tables are those of the series with its maps."""
    import dataclasses

    from mapping_helpers import zones_two_halves

    inputs = uniform_inputs(tmp_path)
    for y, v in zip(YEARS, (400.0, 600.0), strict=True):
        write(tmp_path / f"runoff_{y}.tif", np.full(GEO_SHAPE, v, np.float32), GEO_TRANSFORM,
              GEO, nodata=-9999.0)
    inputs["runoff"] = tmp_path / "runoff_{year}.tif"
    zones_two_halves(tmp_path)
    cfg = load_config(write_config(
        tmp_path, inputs, extra='[zones]\npath = "zones.gpkg"\nfield = "county"\n'
                                 "[series]\nyears = [2000, 2020]\n"))
    full = run_map(cfg, tmp_path / "full", jobs=2, quicklook=False)
    bare_cfg = dataclasses.replace(cfg, series=dataclasses.replace(cfg.series, maps=False))
    bare = run_map(bare_cfg, tmp_path / "bare", jobs=2, quicklook=True)
    assert not list((tmp_path / "bare").rglob("*.tif"))
    assert not list((tmp_path / "bare").rglob("*.qml"))
    assert not list((tmp_path / "bare").rglob("*.png"))
    assert {f for f in full.files if not f.endswith((".tif", ".qml"))} == set(bare.files)
    for name in ("series.csv", "attribution.csv", "2000/zonal_totals.csv",
                 "2020/zonal_totals.csv"):
        assert (tmp_path / "bare" / name).read_text(encoding="utf-8") == (
            tmp_path / "full" / name).read_text(encoding="utf-8"), name
    assert bare.series["series_table"] == full.series["series_table"]
    assert bare.totals == full.totals
    assert bare.assumptions == full.assumptions


def test_a_users_landcover_table_is_recorded_relative_to_the_config(tmp_path):
    import shutil
    from importlib.resources import files

    inputs = uniform_inputs(tmp_path)
    (tmp_path / "tables").mkdir()
    shutil.copy(str(files("karstsink.data") / "landcover_worldcover.csv"),
                tmp_path / "tables" / "my_classes.csv")
    cfg = write_config(tmp_path, inputs,
                       extra='[tables]\nlandcover = "tables/my_classes.csv"\n')
    run_map(load_config(cfg), tmp_path / "out", jobs=1, quicklook=False)
    params = _params(tmp_path / "out" / "run.json")
    assert params["landcover_table"] == "tables/my_classes.csv"
    assert params["biological_input"]["table"] == "tables/my_classes.csv"
    assert str(tmp_path) not in (tmp_path / "out" / "run.json").read_text(encoding="utf-8")
