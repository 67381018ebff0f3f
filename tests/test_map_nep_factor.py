"""The land-cover table's nep_factor: the share of an NEP/NPP raster that is a lasting sink.

Cropland's NEP is harvested within the year (NEP is not the net biome production; Ciais et
al. 2010, doi:10.1111/j.1365-2486.2009.02055.x), so both shipped tables give cropland a
nep_factor of 0, as they give it a table biological sink of 0.  Expected values are hand
calculations on a synthetic grid: 200 x 300 pixels of 30 m (tests/mapping_helpers.py), the
west half (columns 0-149) tree cover (WorldCover 10, nep_factor blank = 1), the east half
cropland (40, nep_factor 0), NEP 100 g C m-2 yr-1 = 100 t C km-2 yr-1 everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest
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
)

from karstsink.exceptions import DataError
from karstsink.mapping._block import model_inputs
from karstsink.mapping.config import load_config
from karstsink.mapping.landcover import load_landcover_table
from karstsink.mapping.model import ModelParams, lasting_bio, remap_classes, scenario_bio
from karstsink.mapping.run import run_map

# tree cover: 150 columns x 200 rows of 30 m = 4.5 km x 6 km = 27 km2, x 100 x 1 = 2,700 t C/yr;
# cropland: 27 km2 x 100 x 0 = 0. Without the factor the total would be 54 km2 x 100 = 5,400.
TREE_KM2 = 4.5 * 6.0
HAND_BIO = TREE_KM2 * 100.0 * 1.0 + TREE_KM2 * 100.0 * 0.0  # = 2,700 t C/yr


def _two_class_inputs(folder, bio_name="nep", value=100.0):
    inputs = uniform_inputs(folder)
    lc = np.full(LC_SHAPE, 10, np.uint8)
    lc[:, 150:] = 40
    inputs["landcover"] = write(folder / "lc.tif", lc, LC_TRANSFORM, UTM, nodata=0)
    inputs[bio_name] = write(folder / f"{bio_name}.tif", np.full(GEO_SHAPE, value, np.float32),
                             GEO_TRANSFORM, GEO, nodata=-9999.0)
    return inputs


@pytest.mark.parametrize("numba", ["false", "true"])
def test_cropland_nep_is_no_lasting_sink(tmp_path, numba):
    if numba == "true":
        pytest.importorskip("numba")
    cfg = write_config(tmp_path, _two_class_inputs(tmp_path), extra=f"[model]\nnumba = {numba}\n")
    res = run_map(load_config(cfg), tmp_path / "out", quicklook=False)
    bio = read(tmp_path / "out" / "biological_sink.tif")
    assert np.all(bio[:, :150] == 100.0)  # tree cover: 100 x 1
    assert np.all(bio[:, 150:] == 0.0)  # cropland: 100 x 0
    assert res.totals["biological_sink_t_c_yr"] == pytest.approx(HAND_BIO, rel=1e-6)
    text = " ".join(res.assumptions)
    assert "x the class's nep_factor of the land-cover table worldcover" in text
    assert "40 Cropland 0, other classes 1" in text
    assert "harvest removes its annual production within the year" in text


def test_npp_times_ratio_takes_the_factor_too(tmp_path):
    # NPP 400 x npp_to_nep 0.25 = NEP 100: the same 2,700 t C/yr
    inputs = _two_class_inputs(tmp_path, "npp", 400.0)
    extra = '[model]\nnpp_to_nep = 0.25\nnpp_to_nep_source = "test ratio"\n'
    res = run_map(load_config(write_config(tmp_path, inputs, extra=extra)), tmp_path / "out",
                  quicklook=False)
    assert res.totals["biological_sink_t_c_yr"] == pytest.approx(HAND_BIO, rel=1e-6)


def test_a_changed_pixel_compares_lasting_sink_with_lasting_sink():
    # one tree-cover and two cropland pixels, NEP 100; the shipped worldcover table:
    # baseline bio = 100 x 1, 100 x 0, 100 x 0; cropland -> tree cover: the changed pixels
    # take tree cover's table sink 70, so the gain is 70 - 0 = +70 (not 70 - 100 = -30)
    lct = load_landcover_table("worldcover")
    p = ModelParams(lct.lookup("soil_pco2_factor"), lct.lookup("runoff_factor"),
                    lct.lookup("biological_sink_tc_km2_yr"), (),
                    nep_factor=lct.nep_factor())
    codes = np.array([[10, 40, 40]], np.uint8)
    valid = np.ones(codes.shape, bool)
    a = np.ones(codes.shape, np.float32)
    raw = {"landcover": (codes, valid), "carbonate": a, "temperature": a, "runoff": a,
           "soil_pco2": a, "nep": np.full(codes.shape, 100.0, np.float32)}
    bio = model_inputs(raw, p)["bio"]
    assert bio.tolist() == [[100.0, 0.0, 0.0]]
    new = remap_classes(codes, valid, None, [{"from": 40, "to": 10}])
    scen = scenario_bio(bio, codes, new, p.bio_sink)
    assert (scen - bio).tolist() == [[0.0, 70.0, 70.0]]


def test_lasting_bio_keeps_nodata_and_unknown_codes():
    lut = np.array([1.0, 0.5])
    bio = np.array([[100.0, np.nan, 100.0, 100.0]], np.float32)
    codes = np.array([[1, 1, 7, 0]], np.int32)  # 7: not in the look-up (nodata later)
    valid = np.array([[True, True, True, False]])
    out = lasting_bio(bio, codes, valid, lut)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[50.0, np.nan, 100.0, 100.0]])
    assert lasting_bio(bio, codes, valid, None) is bio
    # class 0 with a factor of its own: codes outside the look-up or not valid keep their
    # value (100), they do not borrow class 0's factor 0
    out0 = lasting_bio(bio, codes, valid, np.array([0.0, 0.5]))
    np.testing.assert_array_equal(out0, [[50.0, np.nan, 100.0, 100.0]])


def _table(tmp_path, cells):
    head = "class,name,soil_pco2_factor,runoff_factor,biological_sink_tc_km2_yr,nep_factor,source"
    rows = [f"{c},class {c},1,1,0,{v},test" for c, v in cells]
    path = tmp_path / "lc.csv"
    path.write_text("\n".join([head, *rows]) + "\n", encoding="utf-8")
    return path


def test_table_nep_factor_blank_is_one_and_out_of_range_is_refused(tmp_path):
    t = load_landcover_table(_table(tmp_path, [(1, "0.25"), (3, "")]))
    np.testing.assert_array_equal(t.nep_factor(), [1.0, 0.25, 1.0, 1.0])
    assert load_landcover_table(_table(tmp_path, [(1, "1"), (2, "")])).nep_factor() is None
    for bad in ("1.5", "-0.1", "x"):
        with pytest.raises(DataError, match=r"column nep_factor in row 2 \(class 1\).*<= 1"):
            load_landcover_table(_table(tmp_path, [(1, bad)]))
    path = _table(tmp_path, [(1, "0")])
    path.write_text(path.read_text(encoding="utf-8").replace("nep_factor", "NEP_factor"),
                    encoding="utf-8")
    with pytest.raises(DataError, match="'NEP_factor' is not one the table reads"):
        load_landcover_table(path)


@pytest.mark.parametrize("name, crop", [("worldcover", 40), ("clcd", 1)])
def test_shipped_tables_give_cropland_factor_zero_with_its_source(name, crop):
    t = load_landcover_table(name)
    lut = t.nep_factor()
    assert lut is not None and lut[crop] == 0.0
    others = [int(c) for c in t.classes if c != crop]
    assert np.all(lut[others] == 1.0)
    i = t.classes.tolist().index(crop)
    assert "doi:10.1111/j.1365-2486.2009.02055.x" in t.columns["source"][i]
