"""Opens map COGs in QGIS with their shipped ``.qml`` styles (tests/test_qgis_style.py).

Run by the system Python that has QGIS (``/usr/bin/python3`` with Debian's python3-qgis),
not by the test venv: ``python3 qgis_style_probe.py FOLDER PNG_DIR POINTS_JSON``. For every
``*.tif`` in FOLDER it starts from a fresh layer, loads ``<stem>.qml`` with
``loadNamedStyle``, reads back the renderer, its colour ramp and the GDAL band unit, and
renders the layer to ``PNG_DIR/<stem>.png`` (QgsMapRendererParallelJob, 300 x 200 px, a
transparent background); prints one line ``KARSTSINK_QGIS <json>``.
"""

import json
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from osgeo import gdal
from qgis.core import (
    Qgis,
    QgsApplication,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsRasterLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor


def probe(path: str, png: str, points: list) -> dict:
    stem = os.path.basename(path)[:-4]
    layer = QgsRasterLayer(path, stem, "gdal")
    rec = {"valid": layer.isValid()}
    msg, ok = layer.loadNamedStyle(os.path.join(os.path.dirname(path), stem + ".qml"))
    rec.update(style_ok=bool(ok), style_message=msg)
    r = layer.renderer()
    rec["renderer"] = r.type()
    fn = r.shader().rasterShaderFunction()
    rec["ramp_type"] = int(fn.colorRampType())
    rec["ramp"] = [[it.value, it.color.name(), it.label] for it in fn.colorRampItemList()]
    rec["range"] = [r.classificationMin(), r.classificationMax()]
    ds = gdal.Open(path)  # kept: a band outlives its dataset only as a crash
    band = ds.GetRasterBand(1)
    rec["gdal_unit"] = band.GetUnitType()
    # the layer's Information panel (provider metadata) shows the band unit
    rec["unit_in_layer_metadata"] = band.GetUnitType() in layer.dataProvider().htmlMetadata()
    ms = QgsMapSettings()
    ms.setLayers([layer])
    ms.setDestinationCrs(layer.crs())
    ms.setExtent(layer.extent())
    ms.setOutputSize(QSize(300, 200))
    ms.setBackgroundColor(QColor(255, 255, 255, 0))  # transparent: a blank render is empty
    job = QgsMapRendererParallelJob(ms)
    job.start()
    job.waitForFinished()
    img = job.renderedImage()
    rec["png_saved"] = bool(img.save(png, "PNG"))
    colours: dict = {}
    for y in range(0, img.height(), 4):
        for x in range(0, img.width(), 4):
            c = img.pixelColor(x, y)
            key = c.name() if c.alpha() == 255 else "transparent" if c.alpha() == 0 else "partial"
            colours[key] = colours.get(key, 0) + 1
    rec["colours"] = colours
    rec["samples"] = [img.pixelColor(int(fx * (img.width() - 1)),
                                     int(fy * (img.height() - 1))).name() for fx, fy in points]
    return rec


def main() -> None:
    folder, png_dir, points = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    app = QgsApplication([], False)
    app.initQgis()
    out = {"qgis": Qgis.QGIS_VERSION, "layers": {}}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".tif"):
            out["layers"][name[:-4]] = probe(os.path.join(folder, name),
                                             os.path.join(png_dir, name[:-4] + ".png"), points)
    print("KARSTSINK_QGIS " + json.dumps(out), flush=True)
    # QGIS 3.22's exitQgis() may abort a Python process at teardown ("corrupted size vs.
    # prev_size", seen on Debian bookworm) after the work is done: leave without it
    os._exit(0)


if __name__ == "__main__":
    main()
