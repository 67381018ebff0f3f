"""Provenance of a map series: each year's record names that year's own files, and the
series' own record (``OUT/run.json``) says which year each year-dependent field is of."""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio
from mapping_helpers import GEO, GEO_SHAPE, GEO_TRANSFORM, uniform_inputs, write, write_config

from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

#: a uniform NEP per year [g C m-2 yr-1 = t C km-2 yr-1]
NEP = {2000: 50.0, 2020: 80.0}
#: the land-cover grid: 300 x 200 px of 30 m, 900 m2 each = 54 km2
AREA_KM2 = 300 * 200 * 900 / 1e6


@pytest.fixture(scope="module")
def nep_series(tmp_path_factory):
    """A two-year series whose NEP raster (the biological sink) is its only varying input."""
    folder = tmp_path_factory.mktemp("nep_series")
    inputs = uniform_inputs(folder)
    for y, v in NEP.items():
        write(folder / f"nep_{y}.tif", np.full(GEO_SHAPE, v, np.float32), GEO_TRANSFORM, GEO,
              nodata=-9999.0)
    cfg = write_config(folder, {**inputs, "nep": folder / "nep_{year}.tif"},
                       extra="[series]\nyears = [2000, 2020]\n")
    res = run_map(load_config(cfg), folder / "out", jobs=2, quicklook=False)
    return folder / "out", res


def _nep_sentences(assumptions):
    return [a for a in assumptions if a.startswith("biological sink: the nep raster")]


@pytest.mark.parametrize("year", [2000, 2020])
def test_each_year_names_its_own_nep_file(nep_series, year):
    out, _ = nep_series
    other = 2020 if year == 2000 else 2000
    run = json.loads((out / str(year) / "run.json").read_text(encoding="utf-8"))
    bio = run["parameters"]["biological_input"]
    assert bio["source"] == "nep raster"
    assert bio["path"].endswith(f"nep_{year}.tif")
    assert run["parameters"]["inputs"]["nep"] == f"nep_{year}.tif"
    (sentence,) = _nep_sentences(run["assumptions"])
    assert f"nep raster nep_{year}.tif" in sentence
    assert not any(f"nep_{other}" in a for a in run["assumptions"])
    for stem in ("biological_sink", "total_sink"):  # the COG tags say the same
        with rasterio.open(out / str(year) / f"{stem}.tif") as ds:
            tags = ds.tags()
        params = json.loads(tags["karstsink_parameters"])
        assert params["biological_input"]["path"].endswith(f"nep_{year}.tif")
        assert json.loads(tags["karstsink_assumptions"]) == run["assumptions"]


def test_series_record_says_which_year_each_field_is_of(nep_series):
    out, res = nep_series
    top = json.loads((out / "run.json").read_text(encoding="utf-8"))
    params = top["parameters"]
    # no one year's inputs as the series' own: the varying input as its template, each
    # year's file listed per year
    assert "series_year" not in params
    assert params["inputs"]["nep"] == "nep_{year}.tif"
    assert params["inputs"]["runoff"] == "runoff.tif"  # the same in every year
    assert params["biological_input"]["source"] == "nep raster"
    assert params["biological_input"]["path"].endswith("nep_{year}.tif")
    assert top["series"]["inputs"] == {"2000": {"nep": "nep_2000.tif"},
                                       "2020": {"nep": "nep_2020.tif"}}
    (sentence,) = _nep_sentences(top["assumptions"])
    assert "nep raster nep_{year}.tif" in sentence
    assert top["assumptions"] == res.assumptions
    # the totals are the last year's, and say so: biological = NEP x area, 80 x 54 km2 =
    # 4320 t C/yr in 2020 (2000: 50 x 54 = 2700 t C/yr in series.totals)
    assert top["totals_year"] == 2020
    assert top["totals"]["biological_sink_t_c_yr"] == pytest.approx(NEP[2020] * AREA_KM2,
                                                                    rel=1e-5)
    assert top["series"]["totals"]["2000"]["biological_sink_t_c_yr"] == pytest.approx(
        NEP[2000] * AREA_KM2, rel=1e-5)
    # a change map (2020 minus 2000) is of both years: the series' record in its tags
    with rasterio.open(out / "change" / "2000_2020" / "total_sink_change.tif") as ds:
        tags = ds.tags()
    assert json.loads(tags["karstsink_parameters"])["inputs"]["nep"] == "nep_{year}.tif"
    assert json.loads(tags["karstsink_assumptions"]) == top["assumptions"]
