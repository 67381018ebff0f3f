"""Series runs: every year of ``[series] years`` in one streaming pass per block.

Set-up (:func:`prepare_series`): the first year is prepared as a single run
(:func:`karstsink.mapping.run._prepare`: grid, tables, equilibrium tables built once,
numba, the zone helper); the other years' ``{year}`` inputs are opened and checked
beside it.  The spec then holds one source per distinct (input, file): a constant
input once (``carbonate``), a varying one per year (``runoff@2000``), and one
:class:`~._block.Variant` per year, plus the attribution's mixed variants
(:mod:`._attribution`, zone sums only).  The block function reads every source once
and runs the model per variant (:func:`._block._process_window`); the outputs are
``<year>/<output>`` and the change maps ``change/<a>_<b>/<output>``.

Outputs (:func:`finish_series`), in the run's one atomic folder: per year the single
run's files in ``OUT/<year>/`` (same names and tags, plus ``karstsink_year``, and its
own ``run.json``); ``OUT/change/<a>_<b>/{karst,biological,total}_sink_change.tif``;
``OUT/series.csv`` and ``OUT/attribution.csv`` (column contracts in docs/series.md)
and the series ``run.json`` (the parameters every year shares, a varying input as its
``{year}`` template and each year's file in ``series.inputs``; ``totals`` of the last
year, ``totals_year``); with ``[uncertainty]`` ``OUT/uncertainty.csv``,
``OUT/sensitivity.csv`` and, with ``sd_raster``, ``OUT/<year>/total_sink_sd.tif``.
With ``SeriesConfig.maps`` False (a series read for its zone totals only) the year and
change maps are not encoded: the tables and ``run.json`` files alone.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..exceptions import ConfigError
from ..io.write import json_text, write_columns
from ._attribution import ATTRIBUTION_COLUMNS, attribution_rows, mixed_variants, zone_totals
from ._block import Variant, _open_sources, _Spec
from ._coverage import warn_coverage
from ._outcome import (
    check_landcover_codes,
    check_not_all_nodata,
    grid_totals_dict,
    outside_zones,
    warn_counters,
    warn_zones,
)
from ._series_config import year_config
from ._style import add_stats
from .executor import OUTPUT_META, output_meta

__all__ = ["SERIES_COLUMNS", "finish_series", "prepare_series"]

#: series.csv columns after zone_id, year and the zone label column
SERIES_COLUMNS = ("karst_sink_t_c_yr", "biological_sink_t_c_yr", "total_sink_t_c_yr")


def prepare_series(cfg, co2: bool, prepare) -> tuple[_Spec, dict]:
    """The spec of a series run (``prepare``: the single-run set-up, ``run._prepare``)."""
    first = cfg.series.years[0]
    spec, extra = prepare(year_config(cfg, first), co2)
    try:
        _extend(spec, extra, cfg)
    except BaseException:
        if extra["zone_io"] is not None:
            extra["zone_io"].close()
        raise
    return spec, extra


def _extend(spec: _Spec, extra: dict, cfg) -> None:
    from ._carbon_terms import acid_inputs, biological_doc
    from ._checks import check_inputs
    from ._input_units import is_pressure
    from ._inputs import InputSpec, inputs_doc
    from ._sources import resolve_input, run_assumptions, table_doc

    ser = cfg.series
    varying = ser.varying
    y0 = ser.years[0]
    inputs, sources = dict(spec.inputs), extra["sources"]
    conv, reads = dict(spec.converts or {}), dict(spec.reads or {})
    for n in varying:  # the first year's sources: keyed name@year
        for d in (inputs, conv, reads, sources):
            if n in d:
                d[f"{n}@{y0}"] = d.pop(n)
    base_doc = extra["params_doc"]
    checks = {str(y0): extra["checks"]}
    docs = {str(y0): {**base_doc, "series_year": y0}}
    configs = {str(y0): year_config(cfg, y0)}
    # the assumption sentences name the biological raster's file: each year its own
    table = table_doc(cfg, str(extra["landcover_table"].name))
    acid = acid_inputs(cfg, extra["landcover_table"])
    assumptions = {str(y0): list(extra["assumptions"])}
    # year_config changes only input paths: [uncertainty] and the set of inputs (so the
    # draws' sentence, :func:`._draws.describe`) are the first year's for every year
    draws_sentence = extra["draws_sentence"]
    for y in ser.years[1:]:
        cy = configs[str(y)] = year_config(cfg, y)
        opened, specs, notes = {}, {}, {}
        for n in varying:
            s = cy.input_specs.get(n) or InputSpec(n, Path(cy.inputs[n]))
            r = resolve_input(s)
            if (n == "soil_pco2" and "dem" in cfg.inputs
                    and is_pressure(r.units) == spec.params.pco2_volume_fraction):
                kind = "partial pressure" if is_pressure(r.units) else "volume fraction"
                raise ConfigError(f"[inputs] soil_pco2: {y} is given as a {kind} and {y0} is "
                                  "not; a dem corrects the two differently, so give every "
                                  "year in one kind of unit (atm, Pa ... or ppmv, percent).")
            key = f"{n}@{y}"
            inputs[key] = r.path
            if r.convert != (1.0, 0.0):
                conv[key] = r.convert
            if (r.bands, r.crs) != ((1,), None):
                reads[key] = (r.bands, r.crs)
            src = _open_sources({n: r.path}, spec.grid, {n: r.convert},
                                {n: (r.bands, r.crs)})[n]
            src.use_numba = spec.params.use_numba
            opened[n], specs[n] = src, s
            if r.note:
                notes[n] = r.note
        got = check_inputs(opened, specs, spec.grid)
        empty = [e for e in extra["checks"].get("empty_on_grid", []) if e not in varying]
        checks[str(y)] = {**got, "empty_on_grid": empty + list(got.get("empty_on_grid", []))}
        sources.update({f"{n}@{y}": s for n, s in opened.items()})
        options = {k: v for k, v in base_doc.get("input_options", {}).items()
                   if k not in varying}
        docs[str(y)] = {**base_doc, "series_year": y, "input_options": {**options, **notes},
                        "inputs": inputs_doc(cy),
                        "biological_input": biological_doc(cy, table)}
        assumptions[str(y)] = run_assumptions(cy, acid, table, draws_sentence)
    names = list(cfg.inputs)
    years = [Variant(str(y), {n: (f"{n}@{y}" if n in varying else n) for n in names})
             for y in ser.years]
    mixed, design = mixed_variants(names, varying, ser.climate, ser.pairs, years)
    base = list(spec.names)
    spec.inputs, spec.converts, spec.reads = inputs, conv, reads
    spec.variants = tuple(years + mixed)
    spec.changes = tuple((f"{a}_{b}", str(a), str(b), ser.change_maps) for a, b in ser.pairs
                         if ser.maps)
    spec.names = tuple(f"{y}/{n}" for y in ser.years for n in base if ser.maps) + tuple(
        f"change/{label}/{k}" for label, _, _, maps in spec.changes for k in maps)
    tags = {str(y): {"karstsink_year": str(y),
                     "karstsink_parameters": json_text(docs[str(y)], tag=True),
                     "karstsink_assumptions": json_text(assumptions[str(y)], tag=True)}
            for y in ser.years}
    # the series' own record (OUT/run.json, the change maps): what every year shares, a
    # varying input as its {year} template (each year's file in its year's run.json)
    whole = {k: v for k, v in base_doc.items() if k != "series_year"}
    whole["inputs"] = inputs_doc(cfg)
    whole["input_options"] = {k: v for k, v in base_doc.get("input_options", {}).items()
                              if k not in varying}
    whole["biological_input"] = biological_doc(cfg, table)
    whole_assumptions = run_assumptions(cfg, acid, table, draws_sentence)
    tags.update({f"change/{a}_{b}": {
        "karstsink_change": f"{b} minus {a}",
        "karstsink_parameters": json_text(whole, tag=True),
        "karstsink_assumptions": json_text(whole_assumptions, tag=True)}
        for a, b in ser.pairs})
    spec.name_tags = tags
    extra["series"] = {"base": base, "checks": checks, "docs": docs, "configs": configs,
                       "design": design, "assumptions": assumptions, "whole_doc": whole,
                       "whole_assumptions": whole_assumptions}


def finish_series(spec: _Spec, extra: dict, cfg, tmp: Path, sums, counters: dict, cogs: dict,
                  co2: bool, jobs: int, quicklook: bool, make_doc) -> tuple:
    """Check, lay out and write a finished series pass into ``tmp`` (the atomic folder).

    ``make_doc(params_doc, assumptions, totals, counters, files)`` builds a ``run.json``
    document.  Returns ``(files, totals of the last year, zone table of the last year or
    None, series record, the series' assumption sentences)``: the sentences of
    ``OUT/run.json`` (a varying input named by its ``{year}`` template), for
    ``MapResult.assumptions``.
    """
    ser = cfg.series
    info = extra["series"]
    zio = extra["zone_io"]
    index = {v.label: i for i, v in enumerate(spec.variants)}
    per = counters.pop("variants", {})
    labels = [str(y) for y in ser.years]
    totals, common = {}, {}
    for lab in labels:  # every check before any file is laid out
        c = per.get(lab, {})
        cy = info["configs"][lab]
        with warnings.catch_warnings(record=True) as caught:  # each warning with its year
            warnings.simplefilter("always")
            check_landcover_codes(c, cy.inputs["landcover"])
            warn_counters(c, extra["landcover_table"].name)
            warn_coverage(c, cy.inputs)
        for w in caught:
            warnings.warn(f"{lab}: {w.message}", w.category, stacklevel=3)
        # the year's totals on its own coverage (its maps'), as a single run of it
        totals[lab] = grid_totals_dict(c.get("grid_totals_own"))
        common[lab] = grid_totals_dict(c.get("grid_totals"))  # series.csv: like with like
        check_not_all_nodata(totals[lab], c, info["checks"][lab], cy.inputs)
    files: list[str] = []
    stats = counters.pop("stats", {})
    base = info["base"]
    view = SimpleNamespace(grid=spec.grid, block_size=spec.block_size, names=base)
    heads = labels + [f"change/{label}" for label, _, _, _ in spec.changes]
    for head in heads:
        folder = tmp / head
        folder.mkdir(parents=True, exist_ok=True)
        if not ser.maps:  # the zone sums and tables only (SeriesConfig.maps)
            continue
        names = base if not head.startswith("change/") else list(ser.change_maps)
        styles = add_stats(SimpleNamespace(**{**vars(view), "names": names}),
                           {n: cogs[f"{head}/{n}"] for n in names},
                           {n: stats[f"{head}/{n}"] for n in names if f"{head}/{n}" in stats},
                           co2)
        for write in styles:
            path = write(folder)
            if head.startswith("change/"):
                path = path.rename(folder / f"{path.stem}_change.qml")
            files.append(f"{head}/{path.name}")

    def write_zones(lab: str) -> None:  # the helper writes a year's zone tables meanwhile,
        zio.start_write(tmp / lab, sums[index[lab]], co2, spec.grid,  # tagged as its COGs
                        {**spec.tags, **(spec.name_tags or {}).get(lab, {})})

    if spec.zones is not None:  # the first year's, while the COGs are closed
        write_zones(labels[0])
    with cf.ThreadPoolExecutor(max_workers=max(1, min(jobs, len(spec.names)))) as pool:
        futs = [pool.submit(cogs[n].close, tmp / f"{output_meta(n)[0]}.tif")
                for n in spec.names]
        for f in futs:
            f.result()
    files += [f"{output_meta(n)[0]}.tif" for n in spec.names]
    zonal: dict = {}
    for i, lab in enumerate(labels):
        if spec.zones is not None and i > 0:
            write_zones(lab)
        if quicklook and ser.maps:
            from ..plots.maps import quicklook as draw

            draw(tmp / lab / "total_sink.tif", tmp / lab / "quicklook.png", zones=spec.zones,
                 title=f"Total carbon sink (karst + biological), {lab}",
                 unit=OUTPUT_META["total"][3 if co2 else 2])
        if spec.zones is not None:
            zonal[lab], helper_mb = zio.finish_write()
            warn_zones(zonal[lab], spec.zones.field, partly=i == 0)  # one grid: once
            outside_zones(zonal[lab], per.setdefault(lab, {}), warn=i == 0)
            files += [f"{lab}/zonal_totals.csv", f"{lab}/zonal_totals.gpkg"]
            if helper_mb is not None:
                counters["zone_helper_peak_mb"] = helper_mb
        if quicklook and ser.maps:
            files.append(f"{lab}/quicklook.png")
    field = spec.zones.field if spec.zones is not None else "zone"
    series_cols = _series_table(labels, zonal, common, field)
    write_columns(tmp / "series.csv", series_cols)
    files.append("series.csv")
    attribution = None
    if info["design"]:
        attribution = _attribution_table(spec, info["design"], sums, per, zonal, labels, field)
        write_columns(tmp / "attribution.csv", attribution)
        files.append("attribution.csv")
    if spec.draws is not None:  # [uncertainty]: every year's intervals in one table
        from ._draws import append_columns, draw_tables
        from ._sd_raster import write_sd_raster

        unc: dict | None = None
        sens: dict | None = None
        for lab in labels:
            c = per.get(lab, {})
            u, v = draw_tables(spec, c.pop("draws"),
                               sums[index[lab]] if sums is not None else None,
                               c.get("grid_totals"), zonal.get(lab), int(lab))
            unc, sens = append_columns(unc, u), append_columns(sens, v)
            if spec.draws.sd_raster:  # the year's OUT/<year>/total_sink_sd.tif
                files += [f"{lab}/{n}" for n in write_sd_raster(
                    tmp / lab, spec, c.pop("draw_sd", []), co2, year=lab)]
        assert unc is not None and sens is not None  # [series] years is never empty
        write_columns(tmp / "uncertainty.csv", unc)
        write_columns(tmp / "sensitivity.csv", sens)
        files += ["uncertainty.csv", "sensitivity.csv"]
    for lab in labels:  # each year's own run record
        mine = [f[len(lab) + 1:] for f in files if f.startswith(lab + "/")]
        doc = make_doc(info["docs"][lab], info["assumptions"][lab], totals[lab],
                       per.get(lab, {}), [*mine, "run.json"])
        doc["year"] = int(lab)
        (tmp / lab / "run.json").write_text(json_text(doc),
                                            encoding="utf-8")
        files.append(f"{lab}/run.json")
    files.append("run.json")
    record: dict[str, Any] = {
        "years": list(ser.years), "pairs": [list(p) for p in ser.pairs],
        "varying": list(ser.varying),
        "climate": [n for n in ser.climate if n in ser.varying],
        "landcover": [n for n in ser.varying if n not in ser.climate],
        "variants": [v.label for v in spec.variants],
        "inputs": {lab: {n: info["docs"][lab]["inputs"][n] for n in ser.varying}
                   for lab in labels},
        "totals": {lab: totals[lab] for lab in labels}}
    # the series' record: the shared parameters (a varying input as its {year} template;
    # each year's files in series.inputs and <year>/run.json), the last year's totals
    # (totals_year; every year's in series.totals), the series' sentences
    said = list(info["whole_assumptions"])
    doc = make_doc(info["whole_doc"], said, totals[labels[-1]], counters, files)
    doc["totals_year"] = int(labels[-1])
    doc["series"] = record
    (tmp / "run.json").write_text(json_text(doc),
                                  encoding="utf-8")
    record = {**record, "zonal": zonal or None, "series_table": series_cols,
              "attribution": attribution}
    return files, totals[labels[-1]], zonal.get(labels[-1]), record, said


def _series_table(labels: list[str], zonal: dict, totals: dict, field: str) -> dict:
    """``series.csv`` as columns: per year every zone row of its zone table (the TOTAL
    row last), or the grid totals alone without zones."""
    cols: dict[str, list] = {"zone_id": [], "year": [], field: []}
    cols.update({c: [] for c in SERIES_COLUMNS})
    from ._zone_io import TOTAL_LABEL

    for lab in labels:
        z = zonal.get(lab)
        if z is None:
            rows = [{"zone_id": None, field: TOTAL_LABEL, **totals[lab]}]
        else:
            rows = [{k: z[k][i] for k in ("zone_id", field, *SERIES_COLUMNS)}
                    for i in range(len(z["zone_id"]))]
        for row in rows:
            cols["zone_id"].append(row["zone_id"])
            cols["year"].append(int(lab))
            cols[field].append(row[field])
            for c in SERIES_COLUMNS:
                cols[c].append(float(row[c]))
    return cols


def _attribution_table(spec: _Spec, design: dict, sums, per: dict, zonal: dict,
                       labels: list[str], field: str) -> dict:
    """``attribution.csv`` as columns (:mod:`._attribution`)."""
    from ._zone_io import TOTAL_LABEL

    first = zonal.get(labels[0])
    nz = len(first["zone_id"]) - 1 if first else 0
    ids = [*first["zone_id"][:nz], None] if first else [None]
    names = [*first[field][:nz], TOTAL_LABEL] if first else [TOTAL_LABEL]
    totals = {}
    for i, v in enumerate(spec.variants):
        gt = per.get(v.label, {}).get("grid_totals")
        grid_total = float(gt[4]) if gt is not None else math.nan
        totals[v.label] = zone_totals(sums[i] if sums is not None else None, nz, grid_total)
    cols: dict[str, list] = {"zone_id": [], field: []}
    cols.update({c: [] for c in ATTRIBUTION_COLUMNS})
    for row in attribution_rows(design, totals):
        for j in range(len(ids)):
            cols["zone_id"].append(ids[j])
            cols[field].append(names[j])
            for c in ATTRIBUTION_COLUMNS:
                v = row[c]
                cols[c].append(int(v) if c.startswith("year") else float(v[j]))
    return cols


