"""Checks on a finished map pass (before its outputs are moved into place).

A failure here raises inside the run's atomic output folder
(:func:`karstsink.io.atomic.atomic_dir`), so nothing is written.
"""

from __future__ import annotations

import math
import warnings

from .. import qa
from ..exceptions import DataError, DataQualityWarning, OutOfRangeWarning
from ._area import has_valid_pixel
from .grid import NON_INTEGER_CODE

__all__ = ["check_landcover_codes", "check_not_all_nodata", "outside_zones", "warn_counters",
           "warn_zones"]


def check_landcover_codes(counters: dict, path) -> None:
    """Non-integer float land-cover codes -> DataError; integral floats -> a warning.

    Removes the non-integer marker from ``counters["unknown_classes"]``.
    """
    unknown = counters.get("unknown_classes") or {}
    bad = unknown.pop(NON_INTEGER_CODE, 0)
    if not unknown:
        counters.pop("unknown_classes", None)
    read = counters.pop("landcover_float_px", 0)
    if bad:
        raise DataError(
            f"Land-cover raster {path} holds non-integer class codes ({bad} of {read} valid "
            f"pixels): class codes must be whole numbers. Reclassify or round the raster to "
            f"integers and run again.")
    if read:
        counters["landcover_float_codes_rounded"] = read
        warnings.warn(f"Land-cover raster {path} stores its class codes as floating-point "
                      f"numbers; all {read} valid pixels hold whole numbers and were read as "
                      f"integer classes. Store land cover as an integer raster.",
                      DataQualityWarning, stacklevel=3)


def grid_totals_dict(gt) -> dict:
    """The whole-grid totals of a run (``MapResult.totals``) from its ``grid_totals``
    counter (grid, karst and nodata areas [km²], the three sinks [t C yr⁻¹]; zeros when
    no block ran)."""
    import numpy as np

    g = np.zeros(6) if gt is None else np.asarray(gt, float)
    return {"grid_area_km2": g[0], "karst_area_km2": g[1], "karst_sink_t_c_yr": g[2],
            "biological_sink_t_c_yr": g[3], "total_sink_t_c_yr": g[4],
            "nodata_area_km2": g[5]}


def check_not_all_nodata(totals: dict, counters: dict, checks: dict, inputs: dict) -> None:
    """A map whose every pixel is nodata is an error, not "0 t C/yr"; so is one whose karst
    sink is nodata on all its carbonate rock because an input has no valid pixel there
    (non-karst pixels, 0 whatever their climate, would still give a total)."""
    area, nodata = totals["grid_area_km2"], totals["nodata_area_km2"]
    empty = checks.get("empty_on_grid") or []
    if area > 0 and has_valid_pixel(area, nodata):
        karst_km2 = totals["karst_area_km2"]
        if empty and karst_km2 > 0 and totals["karst_sink_t_c_yr"] == 0:
            names = "; ".join(f"input {n!r} ({inputs[n]})" for n in empty)
            raise DataError(f"The karst sink is nodata on all {karst_km2:.6g} km2 of carbonate "
                            f"rock (not 0 t C/yr): {names} has no valid pixel in the sample of "
                            "the grid; check its extent and nodata value. Nothing was written.")
        return
    if area <= 0:
        return
    if empty:
        why = "; ".join(f"input {n!r} ({inputs[n]}) has no valid pixel in the sample of the "
                        f"grid" for n in empty)
    elif counters.get("unknown_classes"):
        why = "no land-cover class code is in the table (see the warning above)"
    else:
        why = ("the inputs' valid areas do not overlap (each pixel is nodata in at least one "
               "input); check their extents and nodata values")
    raise DataError(f"Every pixel of the map is nodata ({area:.6g} km2), so there is no sink "
                    f"to total (not 0 t C/yr): {why}. Nothing was written.")


def warn_zones(zonal: dict | None, field: str, partly: bool = True) -> None:
    """Warn about zones off the grid or without a valid pixel (their sinks are NaN) and,
    with ``partly``, about zones partly outside the grid (their totals cover only the part
    on it; ``off_grid_area_km2``)."""
    if not zonal:
        return
    off, empty, part = [], [], []
    outside = zonal.get("off_grid_area_km2") if partly else None
    for i, zid in enumerate(zonal["zone_id"]):
        if zid is None or (isinstance(zid, float) and math.isnan(zid)):
            continue  # the TOTAL row
        name = f"zone_id {zid} ({field} {zonal[field][i]!r})"
        area = zonal["area_km2"][i]
        if not area > 0:
            off.append(name)
        elif not has_valid_pixel(area, zonal["nodata_area_km2"][i]):
            empty.append(name)
        if area > 0 and outside is not None and outside[i] > 0:
            part.append(f"{name} {outside[i]:.4g} of {area + outside[i]:.4g} km2 "
                        f"({100 * outside[i] / (area + outside[i]):.3g} %)")
    if off:
        warnings.warn(f"{len(off)} zone(s) lie off the map grid (no pixel inside; area 0, "
                      f"sinks NaN in zonal_totals): {', '.join(off[:20])}"
                      f"{' ...' if len(off) > 20 else ''}.", DataQualityWarning, stacklevel=3)
    if empty:
        warnings.warn(f"{len(empty)} zone(s) hold only nodata pixels (sinks NaN in "
                      f"zonal_totals): {', '.join(empty[:20])}"
                      f"{' ...' if len(empty) > 20 else ''}.", DataQualityWarning, stacklevel=3)
    if part:
        warnings.warn(f"{len(part)} zone(s) lie partly outside the map grid, so their totals "
                      f"cover only the part on it (off_grid_area_km2 in zonal_totals): "
                      f"{', '.join(part[:5])}{' ...' if len(part) > 5 else ''}. To total "
                      f"them whole, map on a grid that covers them (the land-cover raster, "
                      f"or [grid] like).",
                      DataQualityWarning, stacklevel=3)


def warn_counters(c: dict, table_name: str) -> None:
    """Warn about the flagged pixel counts of a finished pass (``c``: its counters)."""
    unk = c.get("unknown_classes")
    if unk:
        detail = ", ".join(f"{k}: {v} px" for k, v in sorted(unk.items()))
        warnings.warn(f"Land-cover class codes not in table {table_name} (written as nodata): "
                      f"{detail}. Add them to a custom [tables] landcover CSV.",
                      DataQualityWarning, stacklevel=3)
    if c.get("bad_fraction"):
        warnings.warn(f"{c['bad_fraction']} pixel(s) have a carbonate or dolomite fraction "
                      f"outside 0-1 and were written as nodata.", DataQualityWarning,
                      stacklevel=3)
    if c.get("negative_runoff"):
        warnings.warn(f"{c['negative_runoff']} pixel(s) have negative runoff; treated as 0.",
                      DataQualityWarning, stacklevel=3)
    for key, what in (("negative_carbonic_hco3", "karst"),
                      ("scenario_negative_carbonic_hco3", "scenario karst")):
        if c.get(key):
            warnings.warn(
                f"{c[key]} {what} pixel(s) have a negative carbonic-acid HCO3 (the "
                f"sulfuric/nitric-acid HCO3 of [model] so4_mmol_l / no3_mmol_l exceeds the "
                f"karst water's 2 x Ca_eq): karst sink written as nodata ({key} in "
                f"run.json). Check the SO4/NO3 values and the shares (evaporite_so4_share "
                f"for gypsum waters, acid_so4_share, acid_no3_share).",
                DataQualityWarning, stacklevel=3)
    if c.get("temp_clamped"):
        warnings.warn(f"{c['temp_clamped']} pixel(s) have temperatures outside the "
                      f"equilibrium table (0-40 °C); clamped to its edge.", OutOfRangeWarning,
                      stacklevel=3)
    if c.get("pco2_clamped"):
        warnings.warn(f"{c['pco2_clamped']} pixel(s) have soil pCO2 outside the equilibrium "
                      f"table (10^-5 to 1 atm); clamped to its edge.", OutOfRangeWarning,
                      stacklevel=3)




def outside_zones(zonal: dict | None, counters: dict, warn: bool = True) -> None:
    """Record the map outside every zone, the grid totals less the zone table's TOTAL row
    (the zones' union when they overlap), as ``counters["outside_zones"]`` (area, karst
    and nodata area [km²], the sinks [t C yr⁻¹], ``share_of_valid_area_pct``) when it
    holds valid pixels; warn ``outside_zones`` above its share of the valid area
    (``warn=False``: record only, a series' later years)."""
    grid = counters.get("grid_totals")
    if not zonal or grid is None:
        return
    from ._zone_io import ZONE_QUANTITIES

    gt = grid_totals_dict(grid)
    gt["area_km2"] = gt["grid_area_km2"]  # the zone table's name of the grid's area
    record = {}
    for k in ZONE_QUANTITIES[:6]:  # the areas and the three sinks (not the scenario's)
        in_zones = float(zonal[k][-1])  # the TOTAL row
        record[k] = float(gt[k]) - (0.0 if math.isnan(in_zones) else in_zones)
    valid = record["area_km2"] - record["nodata_area_km2"]
    grid_valid = float(gt["grid_area_km2"] - gt["nodata_area_km2"])
    if not valid > 1e-9 * max(grid_valid, 1.0):  # the zones cover the map (up to rounding)
        return
    share = 100.0 * valid / grid_valid if grid_valid > 0 else float("nan")
    record["share_of_valid_area_pct"] = share
    counters["outside_zones"] = record
    if warn and share > qa.OUTSIDE_ZONES_MAX_PCT:
        warnings.warn(
            f"{valid:.6g} km2 of the map's valid pixels ({share:.3g} % of its valid area; "
            f"total sink {record['total_sink_t_c_yr']:.4g} t C/yr) lie in no zone: the zone "
            f"table's TOTAL row leaves them out (flags.outside_zones in run.json). Give "
            f"zones that cover the map, or read TOTAL as the zones' total only.",
            DataQualityWarning, stacklevel=3)
