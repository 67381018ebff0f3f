"""The map COGs open in QGIS with the shipped style (issue 13, "what it must show").

A small map (cropland on a DEM with a reforestation scenario, dissolution and denudation
too: all three colour ramps) is opened by QGIS itself, in a subprocess of the system
Python that has QGIS (Debian's python3-qgis; `.ci/run` installs it): each COG as a
QgsRasterLayer with its ``.qml`` loaded by ``loadNamedStyle``, rendered to a PNG. The
expected renderer, ramp and labels are read from the ``.qml`` files with ElementTree (what
QGIS must make of them), the expected units and colours are written out here.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from mapping_helpers import LC_SHAPE, LC_TRANSFORM, UTM, uniform_inputs, write, write_config

from karstsink.mapping.config import load_config
from karstsink.mapping.run import run_map

QGIS_PYTHON = os.environ.get("KARSTSINK_QGIS_PYTHON", "/usr/bin/python3")
PROBE = Path(__file__).with_name("qgis_style_probe.py")
# points of the 300 x 200 px render (fractions of width, height): the grid is 9 km x 6 km,
# carbonate south of row 50 (y > 0.25), the DEM flat west of column 150 and rising at 30
# degrees east of it (where the scenario turns cropland into forest)
POINTS = [(0.25, 0.1), (0.25, 0.75), (0.9, 0.75)]
# the units by hand: sinks in t C km-2 yr-1 (Zeng et al. 2019), rock dissolution as CaCO3
# in t km-2 yr-1, denudation in mm ka-1 (1 t km-2 yr-1 / 2.7 t m-3 ~ 0.37 mm ka-1)
UNITS = {"karst_sink": "t C km-2 yr-1", "biological_sink": "t C km-2 yr-1",
         "total_sink": "t C km-2 yr-1", "scenario_total_sink": "t C km-2 yr-1",
         "scenario_difference": "t C km-2 yr-1", "dissolution": "t km-2 yr-1",
         "denudation": "mm ka-1"}


def _qgis_missing() -> str | None:
    if not (Path(QGIS_PYTHON).is_file() or shutil.which(QGIS_PYTHON)):
        return f"{QGIS_PYTHON} not found (the QGIS test needs the system Python with QGIS)"
    probe = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core, osgeo.gdal"],
                           capture_output=True, text=True, timeout=120)
    if probe.returncode != 0:
        return (f"{QGIS_PYTHON} has no QGIS Python bindings (Debian/Ubuntu: apt-get install "
                f"python3-qgis qgis-providers): {probe.stderr.strip().splitlines()[-1:]}")
    return None


@pytest.fixture(scope="module")
def qgis_run(tmp_path_factory):
    why = _qgis_missing()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("qgis")
    inputs = uniform_inputs(tmp, landcover=40)
    cols = np.arange(LC_SHAPE[1]) * 30.0
    z = np.where(cols >= 150 * 30, (cols - 150 * 30) * math.tan(math.radians(30)), 0.0)
    inputs["dem"] = write(tmp / "dem.tif", np.tile(z, (LC_SHAPE[0], 1)).astype(np.float32),
                          LC_TRANSFORM, UTM)
    extra = ('[model]\noutputs = ["dissolution", "denudation"]\n'
             '[scenario]\nname = "grain for green"\n'
             'transitions = [{from = 40, to = 10, min_slope_deg = 25}]\n')
    cfg = write_config(tmp, inputs, extra=extra)
    run_map(load_config(cfg), tmp / "out", quicklook=False)
    (tmp / "png").mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env.setdefault("XDG_RUNTIME_DIR", str(tmp))
    proc = subprocess.run([QGIS_PYTHON, str(PROBE), str(tmp / "out"), str(tmp / "png"),
                           json.dumps(POINTS)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=tmp)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("KARSTSINK_QGIS ")]
    assert proc.returncode == 0 and lines, proc.stdout[-2000:] + proc.stderr[-2000:]
    return tmp, json.loads(lines[0][len("KARSTSINK_QGIS "):])


def _qml(path: Path) -> dict:
    root = ET.parse(path).getroot()
    rr = root.find("pipe/rasterrenderer")
    shader = rr.find("rastershader/colorrampshader")
    props = {o.get("name"): o.get("value") for o in root.iter("Option") if o.get("name")}
    return {"renderer": rr.get("type"), "ramp_type": shader.get("colorRampType"),
            "range": [float(rr.get("classificationMin")), float(rr.get("classificationMax"))],
            "items": [[float(i.get("value")), i.get("color"), i.get("label")]
                      for i in shader.findall("item")],
            "unit": props.get("karstsink_units")}


def test_every_cog_opens_valid_with_its_style(qgis_run):
    tmp, doc = qgis_run
    layers = doc["layers"]
    assert sorted(layers) == sorted(UNITS)
    for stem, rec in layers.items():
        q = _qml(tmp / "out" / f"{stem}.qml")
        assert rec["valid"], stem
        assert rec["style_ok"] and rec["style_message"] == "", (stem, rec["style_message"])
        assert rec["renderer"] == q["renderer"] == "singlebandpseudocolor", stem
        assert q["ramp_type"] == "INTERPOLATED" and rec["ramp_type"] == 0, stem  # Interpolated
        assert rec["range"] == pytest.approx(q["range"]), stem
        got = rec["ramp"]
        assert [c for _, c, _ in got] == [c for _, c, _ in q["items"]], stem
        assert [v for v, _, _ in got] == pytest.approx([v for v, _, _ in q["items"]]), stem
        assert [lb for _, _, lb in got] == [lb for _, _, lb in q["items"]], stem


def test_band_unit_is_the_gdal_unit_and_shown_in_qgis(qgis_run):
    tmp, doc = qgis_run
    for stem, rec in doc["layers"].items():
        assert rec["gdal_unit"] == UNITS[stem], stem
        assert rec["unit_in_layer_metadata"], stem
        assert _qml(tmp / "out" / f"{stem}.qml")["unit"] == UNITS[stem], stem
        assert all(lb.endswith(" " + UNITS[stem]) for _, _, lb in rec["ramp"]), stem


def test_rendered_pngs_are_not_blank_and_use_the_ramp(qgis_run):
    tmp, doc = qgis_run
    for stem, rec in doc["layers"].items():
        png = tmp / "png" / f"{stem}.png"
        assert rec["png_saved"] and png.stat().st_size > 0, stem
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", stem
        # the raster fills the extent: every pixel drawn, none left transparent
        assert set(rec["colours"]) - {"transparent", "partial"}, stem
        assert "transparent" not in rec["colours"], stem
    # the karst sink: 0 on the non-carbonate strip -> the ramp's first colour (YlGn
    # #ffffcc); the flat carbonate west has the highest sink -> its last colour (#006837)
    karst = doc["layers"]["karst_sink"]
    assert karst["samples"][:2] == ["#ffffcc", "#006837"]
    assert len(karst["colours"]) > 2  # and the sloping east in between (lower pCO2)
    # the scenario changes only the steep east: 0 in the west -> the diverging ramp's
    # centre (#f7f7f7), a gain in the east -> blue (RdBu: #0571b0 at the top)
    diff = doc["layers"]["scenario_difference"]
    assert diff["samples"][0] == diff["samples"][1] == "#f7f7f7"
    r, _g, b = (int(diff["samples"][2][i:i + 2], 16) for i in (1, 3, 5))
    assert b > 150 and r < 50, diff["samples"][2]
    # dissolution: YlOrBr from #ffffd4 (no carbonate) to #993404 (flat carbonate)
    assert doc["layers"]["dissolution"]["samples"][:2] == ["#ffffd4", "#993404"]
