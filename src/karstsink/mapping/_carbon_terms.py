"""The map's carbon-accounting inputs and the assumption sentences of every map output.

The karst sink of a pixel uses the catchments' accounting (:mod:`karstsink.carbon`):
the karst water's HCO3 (2 x Ca_eq, or 2 x (Ca+Mg)_eq for dolomite) less the
sulfuric and nitric-acid HCO3 of its SO4 and NO3 (``[model] so4_mmol_l``,
``no3_mmol_l``, overridden per class by the land-cover table's ``so4_mmol_l`` /
``no3_mmol_l`` columns), with the same shares.  This module turns the configuration
into the per-class look-ups the model reads and states every assumption in words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import carbon
from .config import SHARE_KEYS, MapConfig
from .landcover import LandcoverTable

__all__ = ["acid_inputs", "acid_ratio_tables", "biological_doc", "map_assumptions"]

_DEFAULTS = {"acid_so4_share": carbon.DEFAULT_ACID_SO4_SHARE,
             "evaporite_so4_share": carbon.DEFAULT_EVAPORITE_SO4_SHARE,
             "acid_no3_share": carbon.DEFAULT_ACID_NO3_SHARE}


def _class_lut(lct: LandcoverTable, column: str, model_value: float | None
               ) -> tuple[np.ndarray | None, dict[int, float]]:
    """A look-up by class code [mmol L⁻¹]: the table's value where given, else the
    ``[model]`` value (None when neither is given anywhere); and the per-class values."""
    size = int(lct.classes.max()) + 1
    per_class: dict[int, float] = {}
    if column in lct.columns:
        vals = np.asarray(lct.columns[column], float)
        per_class = {int(c): float(v) for c, v in zip(lct.classes, vals, strict=True)
                     if np.isfinite(v)}
    if model_value is None and not per_class:
        return None, {}
    lut = np.full(size, 0.0 if model_value is None else float(model_value))
    for code, v in per_class.items():
        lut[code] = v
    return lut, per_class


def acid_inputs(cfg: MapConfig, lct: LandcoverTable) -> dict:
    """Per-class SO4 and NO3 look-ups [mmol L⁻¹], the shares, their record, and the
    class's share of an nep/npp raster that is a lasting sink (``nep_factor``).

    Returns
    -------
    dict
        ``so4``, ``no3`` (float64 arrays by class code, or None when not given: no
        correction for that acid), ``shares`` (the three acid shares, defaults from
        :mod:`karstsink.carbon` where not given), ``given`` (share names given in
        ``[model]``), ``doc`` (the JSON-ready record for run.json and the tags), and
        the land-cover table's ``nep_factor`` look-up (None: 1 for every class) with
        ``class_nep_factor`` {class code: (name, factor)} of the classes whose factor
        is not 1 (the share of an nep/npp raster counted as their lasting sink).
    """
    so4, so4_class = _class_lut(lct, "so4_mmol_l", cfg.so4_mmol_l)
    no3, no3_class = _class_lut(lct, "no3_mmol_l", cfg.no3_mmol_l)
    shares = {k: (getattr(cfg, k) if getattr(cfg, k) is not None else _DEFAULTS[k])
              for k in SHARE_KEYS}
    given = [k for k in SHARE_KEYS if getattr(cfg, k) is not None]
    doc = {"so4_mmol_l": cfg.so4_mmol_l, "no3_mmol_l": cfg.no3_mmol_l,
           "class_so4_mmol_l": so4_class or None, "class_no3_mmol_l": no3_class or None,
           **shares, "shares_given": given,
           "applied": so4 is not None or no3 is not None,
           "rule": "karst sink = M_C x R x c x 0.5 x (2 x Ca_a - 2 x A), A = 2 x "
                   "acid_so4_share x (1 - evaporite_so4_share) x SO4 + acid_no3_share x "
                   "NO3, Ca_a = Ca_eq of the water holding that acid (PHREEQC) "
                   "(karstsink.carbon.carbonic_hco3, carbonate_weathering_c)"}
    nep = lct.nep_factor()
    names = dict(zip(lct.classes.tolist(), lct.columns["name"], strict=True))
    nep_class = {} if nep is None else {int(c): (str(names[c]), float(nep[c]))
                                        for c in lct.classes.tolist() if nep[c] != 1.0}
    return {"so4": so4, "no3": no3, "shares": shares, "given": given, "doc": doc,
            "nep_factor": nep, "class_nep_factor": nep_class}


def acid_ratio_tables(acid: dict, calcite, dolomite) -> tuple | None:
    """``ModelParams.acid_ratio``: how each class's acid changes the equilibrium.

    The acid SO4 and NO3 of a class (:func:`karstsink.carbon.acid_so4`,
    :func:`~karstsink.carbon.acid_no3` of its SO4, NO3 and the shares) enter PHREEQC as
    sulfuric and nitric acid in the water before it meets the gas and the rock
    (:func:`karstsink.chemistry.equilibrium.equilibrium_table` with ``acid_so4``,
    ``acid_no3``), one table per distinct pair on the ``calcite`` (and ``dolomite``)
    table's grid, kept as ln(C_acid / C).  None when no class holds acid.
    """
    if acid["so4"] is None and acid["no3"] is None:
        return None
    from ..chemistry.equilibrium import equilibrium_table
    from .model import class_so4_no3

    n = (acid["so4"] if acid["so4"] is not None else acid["no3"]).size
    so4, no3 = class_so4_no3(acid["so4"], acid["no3"], n)
    sh = acid["shares"]
    s = np.asarray(carbon.acid_so4(so4, acid_so4_share=sh["acid_so4_share"],
                                   evaporite_so4_share=sh["evaporite_so4_share"]), float)
    q = np.asarray(carbon.acid_no3(no3, acid_no3_share=sh["acid_no3_share"]), float)
    pairs = sorted({(float(a), float(b)) for a, b in zip(s, q, strict=True) if a > 0 or b > 0})
    if not pairs:
        return None
    index = np.full(s.size, -1, np.int64)
    grid = {"temp_range": calcite.temp_range, "temp_step": float(np.diff(calcite.temp_c)[0]),
            "log_pco2_range": calcite.log_pco2_range,
            "log_pco2_step": float(np.diff(calcite.log_pco2)[0])}

    def ratios(base) -> np.ndarray:
        out = []
        for a, b in pairs:
            t = equilibrium_table(system=base.system, mineral=base.mineral,
                                  database=base.database["path"], acid_so4=a, acid_no3=b,
                                  **grid)
            out.append(np.log(t.values) - np.log(base.values))
        return np.stack(out)

    for k, (a, b) in enumerate(pairs):
        index[(s == a) & (q == b)] = k
    return index, ratios(calcite), ratios(dolomite) if dolomite is not None else None


def _input_name(cfg: MapConfig, key: str) -> str:
    """An input's file name for a sentence (the entry as written for mosaics and URLs)."""
    spec = cfg.input_specs.get(key)
    if spec is not None and spec.source is not None:
        return spec.source
    return Path(str(cfg.inputs[key])).name


def biological_doc(cfg: MapConfig, table_name: str) -> dict:
    """Where the biological sink comes from (JSON-ready): an nep/npp raster's ``path``
    recorded as every input is (:func:`._inputs.input_doc`), or the land-cover table."""
    from ._inputs import input_doc

    if "nep" in cfg.inputs:
        return {"source": "nep raster", "path": input_doc(cfg, "nep")}
    if "npp" in cfg.inputs:
        return {"source": "npp raster x npp_to_nep", "path": input_doc(cfg, "npp"),
                "npp_to_nep": cfg.npp_to_nep, "npp_to_nep_source": cfg.npp_to_nep_source}
    return {"source": "land-cover table", "table": table_name,
            "column": "biological_sink_tc_km2_yr"}


def _conc_text(ion: str, model_value: float | None, per_class: dict | None) -> str:
    parts = []
    if model_value is not None:
        parts.append(f"{ion} = {model_value:g} mmol/L ([model] {ion.lower()}_mmol_l)")
    if per_class:
        cls = ", ".join(f"{c}: {v:g}" for c, v in sorted(per_class.items()))
        parts.append(f"per class {cls} mmol/L (table column {ion.lower()}_mmol_l)")
    return "; ".join(parts)


def _nep_factor_text(acid: dict, table_name: str) -> str:
    """The assumption clause of the land-cover table's nep_factor (``acid_inputs``)."""
    per_class = acid.get("class_nep_factor") or {}
    if not per_class:
        return (f", all of it a lasting sink (the land-cover table {table_name} gives no "
                "nep_factor below 1)")
    cls = ", ".join(f"{c} {n} {v:g}" for c, (n, v) in sorted(per_class.items()))
    crop = any("crop" in n.lower() and v == 0 for n, v in per_class.values())
    return (f", x the class's nep_factor of the land-cover table {table_name} (the share "
            f"that is a lasting sink, its reason in the table's source column: {cls}, "
            "other classes 1" + ("; cropland 0: harvest removes its annual production "
                                 "within the year, so its NEP is not net biome production"
                                 if crop else "") + ")")


def map_assumptions(cfg: MapConfig, acid: dict, table_name: str) -> list[str]:
    """The assumption sentences of a map run (COG tags, run.json, ``MapResult``).

    Parameters
    ----------
    cfg : MapConfig
        The validated configuration.
    acid : dict
        :func:`acid_inputs`'s result.
    table_name : str
        The land-cover table used.

    Returns
    -------
    list of str
    """
    doc = acid["doc"]
    out = ["karst sink: maximum potential dissolution; the karst water's HCO3 is 2 x Ca_eq "
           "(calcite) or 2 x (Ca+Mg)_eq (dolomite) at equilibrium with the soil pCO2 "
           "(PHREEQC; less the acid's charge when it holds acid), and the karst sink is "
           "M(C) x runoff x carbonate fraction x the CO2 carbon taken up by its "
           "carbonic-acid HCO3"]
    if doc["applied"]:
        texts = [t for t in (_conc_text("SO4", cfg.so4_mmol_l, doc["class_so4_mmol_l"]),
                             _conc_text("NO3", cfg.no3_mmol_l, doc["class_no3_mmol_l"])) if t]
        out.append("acid correction of the karst water (the catchments' rule, "
                   "karstsink.carbon): " + "; ".join(texts) + "; a pixel whose carbonic "
                   "HCO3 would be negative is nodata (counted as negative_carbonic_hco3); "
                   "the karst water holds the acid: its acid SO4 and NO3 enter PHREEQC as "
                   "H2SO4 and HNO3 before the rock and soil-CO2 equilibrium, its HCO3 is "
                   "that water's alkalinity by charge balance (2 x Ca_a - acid HCO3, Ca_a "
                   "its equilibrium Ca or Ca+Mg), and the neutral salts (evaporite SO4, "
                   "non-acid NO3) are left out of that equilibrium")
    else:
        out.append("no sulfuric/nitric-acid correction: no SO4 or NO3 given ([model] "
                   "so4_mmol_l, no3_mmol_l, or the land-cover table's so4_mmol_l, "
                   "no3_mmol_l columns), so the karst sink is the carbonic-acid potential "
                   "(an upper bound where sulfuric or nitric acid weathers the carbonate)")
    out += carbon.assumptions(**acid["shares"], bcp_share=None,
                              so4_given=acid["so4"] is not None,
                              no3_given=acid["no3"] is not None)
    bio = biological_doc(cfg, table_name)
    if "nep" in cfg.inputs:
        out.append(f"biological sink: the nep raster {_input_name(cfg, 'nep')} read as net "
                   "ecosystem production (the net sink)" + _nep_factor_text(acid, table_name))
    elif "npp" in cfg.inputs:
        src = bio["npp_to_nep_source"] or "no source given ([model] npp_to_nep_source)"
        out.append(f"biological sink: the npp raster {_input_name(cfg, 'npp')} x npp_to_nep "
                   f"= {cfg.npp_to_nep:g} (NEP/NPP ratio; {src}): NPP itself is not a net "
                   "sink (NEP = NPP - heterotrophic respiration)"
                   + _nep_factor_text(acid, table_name))
    else:
        out.append(f"biological sink: the land-cover table {table_name}'s "
                   "biological_sink_tc_km2_yr per class (biomass carbon sinks)")
    out.append("double counting: NEP from eddy covariance or atmospheric inversions already "
               "contains the weathering CO2 uptake of the area, so karst + biological may "
               "double count up to the karst sink; the table's biomass sinks do not include "
               "it")
    if cfg.transitions:
        if "nep" in cfg.inputs or "npp" in cfg.inputs:
            out.append("scenario: pixels whose class changes take the new class's table "
                       "biological sink (biological_sink_tc_km2_yr) instead of the "
                       "NEP/NPP raster, which describes the present land cover; unchanged "
                       "pixels keep the raster (x their class's nep_factor), so a changed "
                       "pixel's gain is the new class's table sink less the old class's "
                       "raster sink x its nep_factor")
        out.append("scenario: a changed pixel also takes the new class's soil-pCO2 and "
                   "runoff factors and SO4/NO3 values")
    return out
