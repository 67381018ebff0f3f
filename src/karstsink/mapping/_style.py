"""GIS-ready outputs: band statistics as GDAL metadata and a QGIS style beside each COG.

Each output COG gets GDAL's ``STATISTICS_MINIMUM/MAXIMUM/MEAN/STDDEV`` band metadata
(what ``gdalinfo -stats`` writes and QGIS reads for its min/max), computed during the
pass from overview level 3 or finer (``STATISTICS_APPROXIMATE=YES`` then, as GDAL's own
approximate statistics are from an overview), and a ``<stem>.qml`` file: a QGIS
single-band pseudocolour style whose colour ramp spans the statistics (sinks: ColorBrewer
YlGn from 0; rock dissolution and denudation: YlOrBr; differences: RdBu centred on 0,
losses red).  QGIS loads a ``.qml`` with the raster's name as its default style.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

# re-exported: the paths' home is _paths.py (it imports nothing of the package, so an input
# parser may use it without the cycle _inputs -> _style -> executor -> config -> _inputs)
from ._paths import database_doc, relative_path

__all__ = ["add_stats", "database_doc", "relative_path", "stats_tags", "write_qml"]

#: ColorBrewer ramps (Brewer, colorbrewer2.org), low -> high
_RAMPS = {
    "sequential": ("#ffffcc", "#c2e699", "#78c679", "#31a354", "#006837"),  # YlGn
    "rock": ("#ffffd4", "#fed98e", "#fe9929", "#d95f0e", "#993404"),  # YlOrBr
    "diverging": ("#ca0020", "#f4a582", "#f7f7f7", "#92c5de", "#0571b0"),  # RdBu
}
_RAMP_OF = {"dissolution": "rock", "denudation": "rock", "scenario_difference": "diverging"}


def stats_tags(stats: np.ndarray | None, approximate: bool) -> dict[str, str]:
    """GDAL's ``STATISTICS_*`` band metadata from ``[count, sum, sum sq, min, max]``."""
    if stats is None or stats[0] == 0:
        return {}
    n, s, ss, lo, hi = (float(v) for v in stats)
    mean = s / n
    sd = math.sqrt(max(ss / n - mean * mean, 0.0))
    tags = {"STATISTICS_MINIMUM": repr(lo), "STATISTICS_MAXIMUM": repr(hi),
            "STATISTICS_MEAN": repr(mean), "STATISTICS_STDDEV": repr(sd)}
    if approximate:
        tags["STATISTICS_APPROXIMATE"] = "YES"
    return tags


def _range(name: str, stats: np.ndarray | None) -> tuple[float, float]:
    if stats is None or stats[0] == 0:
        return 0.0, 1.0
    lo, hi = float(stats[3]), float(stats[4])
    if _RAMP_OF.get(name) == "diverging":
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    lo = min(lo, 0.0)
    return lo, hi if hi > lo else lo + 1.0


def write_qml(path: Path, name: str, description: str, unit: str,
              stats: np.ndarray | None) -> Path:
    """Write the QGIS style of output ``name`` (its band described and in ``unit``).

    Parameters
    ----------
    path : pathlib.Path
        The ``.qml`` file.
    name : str
        Output name (``karst``, ``scenario_difference`` ...): chooses the ramp.
    description, unit : str
        The band's description and unit (in the legend labels).
    stats : numpy.ndarray or None
        ``[count, sum, sum sq, min, max]`` of the output (the ramp's range).
    """
    lo, hi = _range(name, stats)
    colours = _RAMPS[_RAMP_OF.get(name, "sequential")]
    items = []
    for k, colour in enumerate(colours):
        v = lo + (hi - lo) * k / (len(colours) - 1)
        label = f"{v:.4g} {unit}"
        items.append(f'          <item alpha="255" value={quoteattr(repr(v))} '
                     f'label={quoteattr(label)} color="{colour}"/>')
    text = f"""<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.28.0" styleCategories="AllStyleCategories">
  <pipe>
    <rasterrenderer type="singlebandpseudocolor" band="1" opacity="1" alphaBand="-1" \
classificationMin={quoteattr(repr(lo))} classificationMax={quoteattr(repr(hi))} \
nodataColor="">
      <rasterTransparency/>
      <minMaxOrigin>
        <limits>None</limits>
        <extent>WholeRaster</extent>
        <statAccuracy>Estimated</statAccuracy>
        <cumulativeCutLower>0.02</cumulativeCutLower>
        <cumulativeCutUpper>0.98</cumulativeCutUpper>
        <stdDevFactor>2</stdDevFactor>
      </minMaxOrigin>
      <rastershader>
        <colorrampshader colorRampType="INTERPOLATED" classificationMode="2" clip="0" \
minimumValue={quoteattr(repr(lo))} maximumValue={quoteattr(repr(hi))} labelPrecision="3">
{chr(10).join(items)}
        </colorrampshader>
      </rastershader>
    </rasterrenderer>
    <brightnesscontrast brightness="0" contrast="0" gamma="1"/>
    <huesaturation saturation="0" colorizeOn="0" grayscaleMode="0" colorizeStrength="100"/>
    <rasterresampler maxOversampling="2"/>
  </pipe>
  <blendMode>0</blendMode>
  <customproperties>
    <Option type="Map">
      <Option type="QString" name="karstsink_band" value={quoteattr(description)}/>
      <Option type="QString" name="karstsink_units" value={quoteattr(unit)}/>
    </Option>
  </customproperties>
</qgis>
"""
    path.write_text(text, encoding="utf-8")
    return path


def add_stats(spec, cogs: dict, stats: dict, co2: bool) -> list:
    """Band statistics into each output COG's metadata (``cogs``: name ->
    :class:`~._cog.StreamingCOG`, not yet laid out); returns one ``write(folder)`` per
    output that writes its QGIS style ``<stem>.qml`` there and returns its path."""
    from ._block import _STATS_LEVEL, overview_levels
    from .executor import OUTPUT_META

    approx = overview_levels(spec.grid, spec.block_size) > 0 and _STATS_LEVEL > 0
    styles = []
    for n in spec.names:
        stem, desc, unit_c, unit_co2 = OUTPUT_META[n]
        cogs[n].add_band_tags(**stats_tags(stats.get(n), approx))
        meta = (n, desc, unit_co2 if co2 else unit_c, stats.get(n))

        def write(folder: Path, stem=stem, meta=meta) -> Path:
            return write_qml(Path(folder) / f"{stem}.qml", *meta)
        styles.append(write)
    return styles
