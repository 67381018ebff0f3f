"""The map's carbon accounting: the catchments' acid correction, NEP vs NPP, assumptions.

Expected values are hand calculations written out below (issue 11: one basis for every
carbon number), from the check value of tests/test_mapping.py: 15 degC, pCO2 1e-2 atm,
R = 500 mm/yr, open system, 2024 phreeqc.dat -> Ca_eq 1.932 mmol/kgw ->
12.011 x 0.5 m/yr x 1.932 mmol/L = 11.60 t C km-2 yr-1.
"""

from __future__ import annotations

import json
import math
import shutil
from importlib.resources import files

import numpy as np
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
)
from numpy.testing import assert_allclose

from karstsink.chemistry.equilibrium import equilibrium_concentration
from karstsink.exceptions import ConfigError, DataQualityWarning, OutOfRangeWarning
from karstsink.mapping.config import load_config
from karstsink.mapping.model import M_C, M_CACO3
from karstsink.mapping.run import run_map

CA_EQ = 1.932  # mmol/kgw, PHREEQC at 15 degC and pCO2 1e-2 atm (tests/test_mapping.py)
HAND_SINK = 12.011 * 0.5 * CA_EQ  # = 11.60 t C km-2 yr-1
# Karst water HCO3 (calcite: 2 HCO3 per Ca): 2 x 1.932 = 3.864 mmol/L.
HCO3_EQ = 2.0 * CA_EQ
# 30 mg/L SO4 / 96.06 g/mol = 0.3123 mmol/L; 10 mg/L NO3 / 62.004 g/mol = 0.16128 mmol/L.
SO4 = 0.3123
NO3 = 0.16128
# All acid (the defaults): acid HCO3 = 2 x 0.3123 + 0.16128 = 0.78588 mmol/L.  The karst
# water holds that acid: PHREEQC 3.8.6-17100 (2024 phreeqc.dat), input ACID_INPUT below
# with S(6) 0.3123 and N(5) 0.16128, gives Ca 2.238927 mmol/kgw and alkalinity 3.691956
# meq/kgw (acid-free: 1.931651 and 3.863248).  Carbonic HCO3 = 3.691956 - 0.78588 =
# 2.906076 mmol/L; sink = 12.011 x 0.5 m/yr x 0.5 x 2.906076 = 8.7263 t C km-2 yr-1
# (the acid-free water less the acid HCO3 would give 3.07812 and 9.243: 5.9 % high).
ALK_ACID = 3.691956  # meq/kgw, PHREEQC as above
ACID_SINK = 12.011 * 0.5 * 0.5 * (ALK_ACID - 2 * SO4 - NO3)
ALK_SHARES = 3.798132  # meq/kgw, PHREEQC, acid SO4 0.12492 and NO3 0.04032 (below)
ACID_INPUT = """SELECTED_OUTPUT 1
 -reset false
 -high_precision true
 -totals Ca
 -alkalinity true
SOLUTION 1
 temp 15
 units mmol/kgw
 pH 7 charge
 S(6) {so4}
 N(5) {no3}
EQUILIBRIUM_PHASES 1
 CO2(g) -2.0 10
 Calcite 0 10
END
"""


def _phreeqc_alkalinity(so4: float, no3: float) -> float:
    """Alkalinity [meq/kgw] of ACID_INPUT run by PHREEQC itself (not karstsink)."""
    import phreeqc

    from karstsink.chemistry.database import resolve_database

    p = phreeqc.Phreeqc()
    p.LoadDatabase(str(resolve_database("phreeqc.dat").path))
    p.SetSelectedOutputStringOn(True)
    assert p.RunString(ACID_INPUT.format(so4=so4, no3=no3)) == 0, p.GetErrorString()
    return float(p.GetSelectedOutputString().splitlines()[-1].split()[0]) * 1e3
FOREST_BIO = 70.0  # WorldCover tree cover, biological_sink_tc_km2_yr in the shipped table


def _run(folder, inputs, extra="", **kw):
    cfg = write_config(folder, inputs, extra=extra)
    return run_map(load_config(cfg), folder / "out", quicklook=False, **kw)


def test_constants_come_from_the_units_module():
    # IUPAC 2021: C 12.011; CaCO3 = 40.078 + 12.011 + 3 x 15.999 = 100.087 g/mol
    assert M_C == 12.011
    assert M_CACO3 == pytest.approx(100.087, abs=1e-9)


def test_hand_value_of_the_acid_corrected_sink():
    assert ACID_SINK == pytest.approx(8.7263, abs=0.0001)
    # the recorded PHREEQC numbers, run again from the written-out input
    assert _phreeqc_alkalinity(SO4, NO3) == pytest.approx(ALK_ACID, abs=2e-6)
    assert _phreeqc_alkalinity(0.12492, 0.04032) == pytest.approx(ALK_SHARES, abs=2e-6)
    assert _phreeqc_alkalinity(0.0, 0.0) == pytest.approx(2 * CA_EQ, abs=1e-3)


@pytest.mark.parametrize("numba", ["false", "true"])
def test_acid_correction_is_the_catchments_rule(tmp_path, numba):
    if numba == "true":
        pytest.importorskip("numba")
    inputs = uniform_inputs(tmp_path)
    res = _run(tmp_path, inputs, f"[model]\nnumba = {numba}\nso4_mmol_l = {SO4}\n"
               f"no3_mmol_l = {NO3}\n")
    karst = read(tmp_path / "out" / "karst_sink.tif")
    assert_allclose(karst[50:], ACID_SINK, rtol=1e-3)
    assert np.all(karst[:50] == 0.0)  # non-karst pixels stay 0
    assert_allclose(read(tmp_path / "out" / "total_sink.tif")[50:], ACID_SINK + FOREST_BIO,
                    rtol=1e-3)
    assert res.counters["negative_carbonic_hco3"] == 0
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    acid = run["parameters"]["acid_correction"]
    assert (acid["so4_mmol_l"], acid["no3_mmol_l"]) == (SO4, NO3)
    assert acid["acid_so4_share"] == 1.0 and acid["evaporite_so4_share"] == 0.0
    assert acid["shares_given"] == []


@pytest.mark.parametrize("numba", ["false", "true"])
def test_dolomite_water_holds_its_acid_too(tmp_path, numba):
    # ACID_INPUT with Dolomite for Calcite (PHREEQC 3.8.6-17100, 2024 phreeqc.dat): the
    # acid water's alkalinity 4.655690 meq/kgw; carbonic HCO3 = 4.655690 - 0.78588 =
    # 3.869810; sink = 12.011 x 0.5 x 0.5 x 3.869810 = 11.6201 t C km-2 yr-1
    if numba == "true":
        pytest.importorskip("numba")
    inputs = uniform_inputs(tmp_path)
    dol = np.zeros(LC_SHAPE, np.float32)
    dol[:, 150:] = 1.0
    inputs["dolomite_fraction"] = write(tmp_path / "dol.tif", dol, LC_TRANSFORM, UTM)
    _run(tmp_path, inputs, f"[model]\nnumba = {numba}\nso4_mmol_l = {SO4}\n"
         f"no3_mmol_l = {NO3}\n")
    karst = read(tmp_path / "out" / "karst_sink.tif")
    assert 12.011 * 0.25 * (4.655690 - 2 * SO4 - NO3) == pytest.approx(11.6201, abs=1e-4)
    assert_allclose(karst[50:, 150:], 11.6201, rtol=1e-3)
    assert_allclose(karst[50:, :150], ACID_SINK, rtol=1e-3)


def test_shares_scale_the_acid_terms(tmp_path):
    # acid_so4_share 0.5, evaporite 0.2, acid_no3_share 0.25: acid SO4 = 0.5 x 0.8 x
    # 0.3123 = 0.12492, acid NO3 = 0.25 x 0.16128 = 0.04032; acid HCO3 = 2 x 0.12492 +
    # 0.04032 = 0.29016; PHREEQC (ACID_INPUT with those acids): alkalinity 3.798132;
    # sink = 12.011 x 0.5 x 0.5 x (3.798132 - 0.29016) = 10.5336 t C km-2 yr-1
    inputs = uniform_inputs(tmp_path)
    _run(tmp_path, inputs, f"[model]\nso4_mmol_l = {SO4}\nno3_mmol_l = {NO3}\n"
         "acid_so4_share = 0.5\nevaporite_so4_share = 0.2\nacid_no3_share = 0.25\n")
    expected = 12.011 * 0.25 * (ALK_SHARES - 0.29016)
    assert expected == pytest.approx(10.5336, abs=1e-4)
    assert_allclose(read(tmp_path / "out" / "karst_sink.tif")[50:], expected, rtol=1e-3)


def test_without_so4_no3_the_sink_is_unchanged(tmp_path):
    inputs = uniform_inputs(tmp_path)
    res = _run(tmp_path, inputs)
    assert_allclose(read(tmp_path / "out" / "karst_sink.tif")[50:], HAND_SINK, rtol=1e-3)
    assert any("no sulfuric/nitric-acid correction" in a for a in res.assumptions)


@pytest.mark.parametrize("numba", ["false", "true"])
def test_negative_carbonic_pixels_are_nodata_and_counted(tmp_path, numba):
    if numba == "true":
        pytest.importorskip("numba")
    inputs = uniform_inputs(tmp_path)
    lc = np.full(LC_SHAPE, 10, np.uint8)
    lc[100:110, 0:20] = 40  # 200 cropland pixels, all on carbonate (rows 50:)
    lc[10:20, 0:20] = 40  # 200 cropland pixels off carbonate (rows :50)
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    # a table whose cropland water carries 5 mmol/L nitrate (a class override): acid HCO3
    # 2 x 0.3123 + 5 = 5.6246 > the ~3.2 mmol/L HCO3 of cropland water (Ca_eq at
    # 0.62 x 1e-2 atm, ~1.6 mmol/L) -> negative; forest keeps [model] no3_mmol_l
    table = tmp_path / "lc.csv"
    rows = (files("karstsink.data") / "landcover_worldcover.csv").read_text("utf-8")
    lines = rows.strip().splitlines()
    head = lines[0].replace(",source", ",no3_mmol_l,source")
    body = []
    for line in lines[1:]:
        code, rest = line.split(",", 1)
        cells = rest.rsplit(",\"", 1)
        body.append(f"{code},{cells[0]},{'5.0' if code == '40' else ''},\"{cells[1]}")
    table.write_text("\n".join([head, *body]) + "\n", encoding="utf-8")
    extra = (f'[tables]\nlandcover = "{table.name}"\n'
             f"[model]\nnumba = {numba}\nso4_mmol_l = {SO4}\nno3_mmol_l = {NO3}\n")
    with pytest.warns(DataQualityWarning, match=r"^200 karst pixel\(s\) have a negative "
                                                r"carbonic-acid HCO3"):
        res = _run(tmp_path, inputs, extra)
    karst = read(tmp_path / "out" / "karst_sink.tif")
    assert np.isnan(karst[100:110, 0:20]).all()  # never a silent negative or zero
    assert np.all(karst[10:20, 0:20] == 0.0)  # off carbonate: 0, not nodata
    forest = np.ones(LC_SHAPE, bool)
    forest[100:110, 0:20] = False
    forest[:50] = False
    assert_allclose(karst[forest], ACID_SINK, rtol=1e-3)
    assert res.counters["negative_carbonic_hco3"] == 200
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["flags"]["negative_carbonic_hco3"] == 200
    assert run["parameters"]["acid_correction"]["class_no3_mmol_l"] == {"40": 5.0}


def test_numba_and_numpy_agree_with_acid_and_negative_pixels(tmp_path):
    pytest.importorskip("numba")
    inputs = uniform_inputs(tmp_path)
    rng = np.random.default_rng(11)
    # soil pCO2 from 300 to 60,000 ppmv: 2 x Ca_eq spans ~0.9 to ~6 mmol/L, so with
    # so4 = 1 mmol/L (acid HCO3 2 mmol/L) some pixels are negative, most are not
    pco2 = rng.uniform(300, 60000, GEO_SHAPE).astype(np.float32)
    write(inputs["soil_pco2"], pco2, GEO_TRANSFORM, GEO, nodata=-9999.0)
    lc = rng.choice(np.array([10, 20, 30, 40, 50, 60, 80], np.uint8), LC_SHAPE)
    write(inputs["landcover"], lc, LC_TRANSFORM, UTM, nodata=0)
    outs, counts = {}, {}
    for flag in ("false", "true"):
        folder = tmp_path / flag
        folder.mkdir()
        for v in inputs.values():
            shutil.copy(v, folder / v.name)
        with pytest.warns(DataQualityWarning, match="negative carbonic-acid HCO3"):
            res = _run(folder, {k: folder / v.name for k, v in inputs.items()},
                       f"[model]\nnumba = {flag}\nso4_mmol_l = 1.0\nno3_mmol_l = 0.1\n"
                       'outputs = ["dissolution"]\n')
        outs[flag] = {n: read(folder / "out" / f"{n}.tif")
                      for n in ("karst_sink", "total_sink", "dissolution")}
        counts[flag] = res.counters["negative_carbonic_hco3"]
    assert counts["true"] == counts["false"] > 0
    for n in outs["false"]:
        assert np.array_equal(np.isnan(outs["true"][n]), np.isnan(outs["false"][n]))
        assert_allclose(outs["true"][n], outs["false"][n], rtol=1e-5, atol=1e-5)


def test_old_acid_correction_key_is_refused_with_what_to_use(tmp_path):
    inputs = uniform_inputs(tmp_path)
    with pytest.raises(ConfigError, match=r"acid_correction is no longer read.*give "
                                          r"\[model\] so4_mmol_l and no3_mmol_l"):
        load_config(write_config(tmp_path, inputs, extra="[model]\nacid_correction = true\n"))


@pytest.mark.parametrize(("extra", "match"), [
    ("so4_mmol_l = -0.1\n", r"\[model\] so4_mmol_l must be a number >= 0"),
    ("no3_mmol_l = \"10 mg/L\"\n", r"\[model\] no3_mmol_l must be a number >= 0"),
    ("acid_so4_share = 1.5\n", r"\[model\] acid_so4_share must be a number in 0-1"),
    ("npp_to_nep = 0.5\n", r"npp_to_nep applies only to an \[inputs\] npp raster"),
])
def test_model_key_errors(tmp_path, extra, match):
    inputs = uniform_inputs(tmp_path)
    with pytest.raises(ConfigError, match=match):
        load_config(write_config(tmp_path, inputs, extra="[model]\n" + extra))


def _bio_raster(folder, name, value):
    return write(folder / f"{name}.tif", np.full(GEO_SHAPE, value, np.float32), GEO_TRANSFORM,
                 GEO, nodata=-9999.0)


def test_npp_raster_without_ratio_is_refused(tmp_path):
    inputs = uniform_inputs(tmp_path)
    inputs["npp"] = _bio_raster(tmp_path, "npp", 400.0)
    with pytest.raises(ConfigError, match=r"npp is net primary production, not a net sink.*"
                                          r"npp_to_nep"):
        load_config(write_config(tmp_path, inputs))


def test_npp_times_ratio_and_nep_as_is(tmp_path):
    # NPP 400 g C m-2 yr-1 x npp_to_nep 0.5 = 200 t C km-2 yr-1 (half the NPP)
    inputs = uniform_inputs(tmp_path)
    inputs["npp"] = _bio_raster(tmp_path, "npp", 400.0)
    res = _run(tmp_path, inputs, '[model]\nnpp_to_nep = 0.5\n'
               'npp_to_nep_source = "Luyssaert et al. 2007, doi:10.1111/j.1365-2486.2007.01439.x"'
               '\n')
    assert_allclose(read(tmp_path / "out" / "biological_sink.tif"), 200.0, rtol=1e-6)
    assert_allclose(read(tmp_path / "out" / "total_sink.tif")[50:], HAND_SINK + 200.0,
                    rtol=1e-3)
    assert any("npp_to_nep = 0.5" in a and "Luyssaert" in a for a in res.assumptions)
    # a NEP raster is the net sink itself
    nep = tmp_path / "nep"
    nep.mkdir()
    inputs = uniform_inputs(nep)
    inputs["nep"] = _bio_raster(nep, "nep", 400.0)
    res = _run(nep, inputs)
    assert_allclose(read(nep / "out" / "biological_sink.tif"), 400.0, rtol=1e-6)
    assert any("nep raster nep.tif read as net ecosystem production" in a
               for a in res.assumptions)


def test_assumptions_in_result_tags_and_run_json(tmp_path):
    inputs = uniform_inputs(tmp_path)
    inputs["nep"] = _bio_raster(tmp_path, "nep", 150.0)
    res = _run(tmp_path, inputs, f"[model]\nso4_mmol_l = {SO4}\nno3_mmol_l = {NO3}\n"
               "evaporite_so4_share = 0.25\n")
    text = " | ".join(res.assumptions)
    assert "SO4 = 0.3123 mmol/L" in text and "NO3 = 0.16128 mmol/L" in text
    assert "acid_so4_share = 1 (the default value)" in text
    assert "evaporite_so4_share = 0.25 (given; default 0)" in text
    assert "doi:10.1016/j.epsl.2008.02.039" in text  # the default's source
    assert ("NEP from eddy covariance or atmospheric inversions already contains the "
            "weathering CO2 uptake") in text
    assert "double count up to the karst sink" in text
    assert "table's biomass sinks do not include it" in text
    for name in ("karst_sink", "biological_sink", "total_sink"):
        with rasterio.open(tmp_path / "out" / f"{name}.tif") as ds:
            assert json.loads(ds.tags()["karstsink_assumptions"]) == res.assumptions
    run = json.loads((tmp_path / "out" / "run.json").read_text(encoding="utf-8"))
    assert run["assumptions"] == res.assumptions
    assert run["parameters"]["biological_input"]["source"] == "nep raster"
    # with the class table as biological source
    table_run = tmp_path / "table"
    table_run.mkdir()
    res = _run(table_run, uniform_inputs(table_run))
    assert any("land-cover table worldcover's biological_sink_tc_km2_yr" in a
               for a in res.assumptions)


def test_scenario_changed_pixels_take_the_table_biological_sink(tmp_path):
    inputs = uniform_inputs(tmp_path, landcover=40)
    inputs["nep"] = _bio_raster(tmp_path, "nep", 200.0)
    # a DEM rising eastwards at 30 degrees in the east half, flat in the west half
    cols = np.arange(LC_SHAPE[1]) * 30.0
    z = np.where(cols >= 150 * 30, (cols - 150 * 30) * math.tan(math.radians(30)), 0.0)
    dem = np.tile(z, (LC_SHAPE[0], 1)).astype(np.float32)
    inputs["dem"] = write(tmp_path / "dem.tif", dem, LC_TRANSFORM, UTM)
    extra = ("[scenario]\nname = \"grain for green\"\n"
             "transitions = [{from = 40, to = 10, min_slope_deg = 25}]\n")
    res = _run(tmp_path, inputs, extra)
    diff = read(tmp_path / "out" / "scenario_difference.tif")
    from karstsink.mapping.model import pressure_ratio

    pr = pressure_ratio(dem.astype(float))
    r, c = 100, 250
    # steep cropland -> tree cover: biological 200 (the NEP raster) x 0 (cropland's
    # nep_factor: harvest) = 0 -> 70 (the table's tree cover), so +70 - 0; karst from
    # Ca_eq at 0.62 x 1e-2 atm to 1e-2 atm (x the pressure ratio)
    ca_crop = float(equilibrium_concentration(15.0, math.log10(0.01 * 0.62 * pr[r, c])))
    ca_forest = float(equilibrium_concentration(15.0, math.log10(0.01 * pr[r, c])))
    expected = (70.0 - 200.0 * 0.0) + 12.011 * 0.5 * (ca_forest - ca_crop)
    assert diff[r, c] == pytest.approx(expected, rel=1e-3)
    assert np.all(diff[:, 5:140] == 0.0)  # flat: unchanged, the raster x 0 kept
    bio = read(tmp_path / "out" / "biological_sink.tif")
    assert np.all(bio[np.isfinite(bio)] == 0.0)  # cropland: 200 x nep_factor 0
    assert any("pixels whose class changes take the new class's table biological sink" in a
               for a in res.assumptions)


def test_out_of_range_warning_still_separate(tmp_path):
    # the negative-HCO3 warning does not replace the clamping warnings
    inputs = uniform_inputs(tmp_path, temp=45.0)
    with pytest.warns(OutOfRangeWarning, match="temperatures outside"):
        _run(tmp_path, inputs, f"[model]\nso4_mmol_l = {SO4}\n")
