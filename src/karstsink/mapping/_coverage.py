"""Inputs that leave part of the mapped area without a value (a climate raster smaller
than the carbonate rock, a nodata hole).

A pixel of the land-cover grid where an input the model needs is nodata gets no sink
(nodata, never 0), so the zone and grid totals leave it out and are low by its share.
Per block, :func:`coverage_counts` counts the pixels each input leaves without a value
in the part of the map that needs it: the carbonate pixels (land cover valid, carbonate
fraction > 0) for the karst sink's climate and terrain inputs (runoff or precipitation
and evapotranspiration, temperature, soil pCO2 or AET, a DEM that corrects the pCO2,
the dolomite fraction), every land-cover pixel for the carbonate fraction itself.  An
NPP/NEP raster is not counted: such products have no value on water by design (the
demo's NEP too), where the biological sink is nodata, not missing.  The inputs are
looked at only where the block's total sink is nodata (for inputs that cover the map:
nowhere; the cost is a few comparisons per pixel, ~0.5 ns).  The executor adds the
counts up over blocks and engine tiles like the other counters; :func:`warn_coverage`
then warns once per input and records them in ``run.json``
(``flags.missing_input_values``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..exceptions import DataQualityWarning
from .model import karst_sources

__all__ = ["coverage_counts", "warn_coverage"]

#: inputs counted over every land-cover pixel (the others over the carbonate pixels)
_EVERYWHERE = ("carbonate",)


def coverage_counts(raw: dict, total: np.ndarray, pco2_volume_fraction: bool) -> dict:
    """One block's counters: ``coverage_px`` (land-cover pixels and carbonate pixels) and
    ``missing_values`` (input -> pixels of its part of the map without a value).

    ``raw``: the block's model inputs by name (land cover as ``(codes, valid)``); ``total``:
    the block's total sink (nodata wherever a needed input is).
    """
    valid = raw["landcover"][1]
    carb = raw["carbonate"]
    rock = valid & (carb > 0)
    out = {"coverage_px": {"landcover": int(np.count_nonzero(valid)),
                           "carbonate": int(np.count_nonzero(rock))}}
    gap = np.flatnonzero(valid & np.isnan(total))  # every pixel without an input is here
    if gap.size == 0:
        return out
    on_rock = rock.reshape(-1)[gap]
    missing = {}
    used = [n for src in karst_sources(raw, pco2_volume_fraction).values() for n in src]
    for name in (n for n in dict.fromkeys(used) if n in raw):
        none = np.isnan(np.asarray(raw[name]).reshape(-1)[gap])
        n = int(np.count_nonzero(none if name in _EVERYWHERE else none & on_rock))
        if n:
            missing[name] = n
    if missing:
        out["missing_values"] = missing
    return out


def warn_coverage(counters: dict, inputs: dict) -> None:
    """Warn once per input that leaves part of its map without a value (``counters``: a
    finished pass's, or one year's; ``inputs``: name -> path, for the message).

    Replaces the block counts in ``counters`` by ``missing_input_values`` (input ->
    ``pixels``, ``of_pixels``, ``share`` of its part of the map: ``carbonate`` or
    ``landcover`` pixels), present only when some input leaves a gap.
    """
    cover = counters.pop("coverage_px", None) or {}
    missing = counters.pop("missing_values", None) or {}
    record = {}
    for name, n in missing.items():
        domain = "landcover" if name in _EVERYWHERE else "carbonate"
        of = int(cover.get(domain, 0))
        share = n / of if of else float("nan")
        record[name] = {"pixels": int(n), "of_pixels": of, "domain": domain, "share": share}
        low = "" if domain == "landcover" else (
            ", so their karst sinks are low by about that share, and their biological sums "
            "leave out those pixels' biological sink too (every sum is over the pixels "
            "whose total is known: karst + biological = total; biological_sink.tif keeps it)")
        warnings.warn(
            f"Input {name!r} ({inputs.get(name, name)}) has no value on {100 * share:.3g} % "
            f"of the mapped {domain.replace('landcover', 'land-cover')} pixels ({n} of {of} "
            f"px): the karst and total sinks are nodata there and the zone and grid totals "
            f"(nodata_area_km2) leave them out{low}. Check the raster's extent and nodata "
            f"value, or give one that covers the map (missing_input_values in run.json).",
            DataQualityWarning, stacklevel=3)
    if record:
        counters["missing_input_values"] = record
