"""The whole pipeline in one call: speciation, catchment fluxes and sinks, maps, balance, report.

``karstsink run CONFIG.toml`` and ``karstsink demo`` call :func:`run_pipeline`.
Every stage is the same function the single-stage commands use
(:func:`karstsink.speciate`, :func:`karstsink.workflows.catchment.run_flux`,
:func:`karstsink.mapping.run_map`, :func:`karstsink.scenario.balance`,
:func:`karstsink.report.write_report`); this module only chains them and
writes their outputs into one folder, all or nothing (catchment vs map: :mod:`.comparison`;
the report's parts: :mod:`.sections`; ``karstsink.pipeline`` re-exports this module).

Output folder layout::

    speciation/<samples>.csv (+ .meta.json)    PHREEQC results per sample file
    flux/<catchment>/...                      daily/monthly/annual fluxes, sink.csv, plots;
                                              with a trend table also pairs.csv or groups.csv,
                                              series.csv, fn_band.csv, trend_annual.csv,
                                              trend.json (karstsink.workflows.trend)
                                              (<samples>, <catchment>: safe, distinct names,
                                              karstsink.io.atomic.unique_names)
    catchment_sinks.csv                       one row per catchment (whole record)
    catchment_comparison.csv                  observed sink against the map's over each
                                              catchment's outline (with [map] and boundary)
    map/karst_sink.tif, biological_sink.tif, total_sink.tif, zonal_totals.csv/.gpkg,
        quicklook.png                         (t C km-2 yr-1 unless co2 = true); with
                                              [map.series] in map/<year>/, plus
                                              map/series.csv, attribution.csv, change/,
                                              series.png, attribution.png; with
                                              [map.uncertainty] map/uncertainty.csv,
                                              sensitivity.csv (with sd_raster
                                              total_sink_sd.tif, per year in a
                                              series; docs/series.md)
    scenario/balance.csv, balance.png         sinks against the emission scenarios
    report.html                               one self-contained file
    run.json                                  settings, versions, database checksum, timings
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from .. import __version__
from ..exceptions import ConfigError
from ..io.atomic import MARKER, atomic_dir, input_paths
from ..io.write import json_text, to_csv
from ..report import format_mass
from ..units import C_TO_CO2
from . import sections
from ._map_keys import map_keys, map_text
from ._map_unit import map_unit, mass_unit, sink_column, unit_is_co2
from ._run_stages import _flux_stage, _speciation_stage, _stage_printer, _stage_warnings
from ._series_section import series_records, series_section, series_summary, uncertainty_section
from .comparison import catchment_comparison

__all__ = ["PipelineResult", "demo_config_path", "demo_data_dir", "run_pipeline"]


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced.

    Attributes
    ----------
    out_dir : pathlib.Path
        The output folder.
    files : list of str
        Every file written, relative to ``out_dir``.
    summary : dict
        Headline numbers (t C and t CO2 per year), ``co2`` (whether the run's rasters
        and headline are in t CO2) and stage timings [s].
    """

    out_dir: Path
    files: list[str]
    summary: dict[str, Any] = field(default_factory=dict)


def demo_data_dir() -> Path:
    """Folder of the bundled SYNTHETIC demo dataset (``data/demo`` in a checkout).

    A wheel carries it as ``karstsink/demo_data``; an editable install or a
    checkout reads ``data/demo`` beside ``src/``.
    """
    package = Path(__file__).resolve().parents[1]  # src/karstsink (this is workflows/run.py)
    packaged = package / "demo_data"
    if (packaged / "demo.toml").is_file():
        return packaged
    checkout = package.parents[1] / "data" / "demo"
    if (checkout / "demo.toml").is_file():
        return checkout
    raise ConfigError(
        "The demo dataset was not found (neither karstsink/demo_data in the installed package "
        "nor data/demo in a checkout); run `python data/demo/make_demo.py` in the repository."
    )


def demo_config_path() -> Path:
    """The demo's run configuration, ``demo.toml``."""
    return demo_data_dir() / "demo.toml"


def run_pipeline(
    config: str | os.PathLike | dict[str, Any],
    out_dir: str | os.PathLike | None = None,
    *,
    overwrite: bool = True,
    jobs: int | None = None,
    echo: Callable[[str], None] | None = None,
    progress: Callable[[int, str], Any] | None = None,
) -> PipelineResult:
    """Run every configured stage and write all outputs and the report.

    Parameters
    ----------
    config : path-like or dict
        A run configuration TOML file, or the dict
        :func:`karstsink.config.load_run_config` returns.
    out_dir : path-like, optional
        Output folder; default ``[project] output`` of the configuration. It may
        neither be nor hold an input (:class:`~karstsink.exceptions.OutputError`).
    overwrite : bool
        An existing, non-empty output folder: True (default) replaces it as a whole
        if karstsink wrote it (no stale file of the earlier run stays), False refuses
        it (``karstsink run`` without ``--overwrite``). A folder of other files is
        never replaced (:func:`karstsink.io.atomic.check_output_dir`).
    jobs : int, optional
        Worker processes/threads for speciation and maps (default: all cores).
    echo : callable, optional
        Receives one line of text per stage start and end (the CLI prints them).
    progress : callable, optional
        ``progress(total, desc)`` returning an object with ``update(n)`` (a
        tqdm-like bar) for the long stages.

    Returns
    -------
    PipelineResult

    Raises
    ------
    ConfigError, DataError, UnitError, RasterError, SpeciationError
        On the first structural problem, naming the file, key or column.
        Nothing is written in that case.
    OutputError
        The output folder is or holds an input, or exists (see ``overwrite``);
        raised before any stage runs.
    """
    from ..config import load_run_config

    cfg = config if isinstance(config, dict) else load_run_config(config)
    out = Path(out_dir) if out_dir is not None else Path(cfg["project"]["output"])
    n_stages = 2 + bool(cfg["speciation"]["samples"]) + bool(cfg["catchments"]) \
        + (cfg["map"] is not None) + bool(cfg["scenario"].get("trajectory"))
    start, done = _stage_printer(echo, n_stages)
    timings: dict[str, float] = {}
    # the run's one t C / t CO2 choice ([project] or [map.model] co2, resolved by
    # karstsink.config): the rasters and every headline number follow it
    co2 = bool(cfg["project"]["co2"])
    summary: dict[str, Any] = {"project": cfg["project"]["name"], "co2": co2}
    report_sections: list[Any] = []
    figures_for: dict[str, list[Path]] = {}
    t0 = time.perf_counter()

    inputs = input_paths(cfg, skip=("project", "base_dir"))
    if cfg["map"] is not None:  # the map's files (metadata only), before the first stage
        from ..mapping._precheck import check_map_files

        with map_keys():
            check_map_files(cfg["map"])
            _check_trajectory(cfg)
    with atomic_dir(out, overwrite=overwrite, inputs=inputs) as tmp:
        tmp = Path(tmp)
        spec_meta = None
        if cfg["speciation"]["samples"]:
            start("speciation (PHREEQC)")
            with _stage_warnings(echo):
                spec_tables, spec_meta = _speciation_stage(cfg, tmp / "speciation", jobs)
            n = sum(len(t) for t in spec_tables.values())
            computed = sum(int(t["si_calcite"].notna().sum()) for t in spec_tables.values())
            timings["speciation"] = done(f"{n} samples in {len(spec_tables)} file(s), "
                                         f"{computed} speciated")
            summary["samples_speciated"] = computed
            report_sections.append(sections.speciation_section(spec_tables, tmp))
            figures_for["speciation"] = []

        catchment_table = None
        folders: dict[str, str] = {}
        if cfg["catchments"]:
            start("catchment fluxes and sinks")
            catchment_table, flux_sections, flux_settings, folders = _flux_stage(
                cfg, tmp / "flux", jobs, echo)
            to_csv(catchment_table, tmp / "catchment_sinks.csv", index=False)
            mass, col = mass_unit(co2)[1], sink_column(co2)
            timings["flux"] = done(
                f"{len(catchment_table)} catchment(s): "
                + ", ".join(f"{name} {value:.2f} t {mass} km-2 yr-1" for name, value in
                            zip(catchment_table["catchment"], catchment_table[col],
                                strict=True)))
            report_sections.extend(flux_sections)

        map_result = None
        map_tables: dict[str, Any] = {}
        if cfg["map"] is not None:
            start("sink maps")
            from ..mapping import run_map

            with _stage_warnings(echo, relabel=map_text), map_keys():
                map_result = run_map(cfg["map"], tmp / "map", jobs=jobs, co2=co2,
                                     progress=progress)
            t = map_result.totals
            summary.update({k: float(v) for k, v in t.items()})
            timings["map"] = done(sections.map_line(summary, co2))
            # a [series] map writes map/<year>/: the report and the comparison use the last
            map_dir = tmp / "map"
            if map_result.series:
                map_dir = map_dir / str(map_result.series["years"][-1])
            report_sections.append(sections.map_section(
                map_result, tmp, synthetic=cfg["report"]["synthetic"], folder=map_dir))
            if map_result.series:  # the years, intervals, attribution
                report_sections.append(series_section(map_result, tmp / "map", co2=co2))
            elif (tmp / "map" / "uncertainty.csv").is_file():  # one year's intervals
                report_sections.append(uncertainty_section(map_result, tmp / "map", co2=co2))
            map_tables = series_records(tmp / "map")  # series/attribution/uncertainty.csv
            summary.update(series_summary(map_tables))
            if map_result.series:  # each year's whole-grid total, as the map totals are
                summary["map_series_raster_total_sink_t_c_yr"] = {
                    str(y): float(t["total_sink_t_c_yr"])
                    for y, t in map_result.series["totals"].items()}

        comparison = None
        if map_result is not None and catchment_table is not None and any(
                c.get("boundary") for c in cfg["catchments"]):
            comparison = catchment_comparison(cfg, catchment_table, map_dir / "karst_sink.tif")
            to_csv(comparison, tmp / "catchment_comparison.csv", index=False)
            if echo:
                echo("      catchment vs map: " + ", ".join(
                    f"{r.catchment} {r.ratio_observed_to_map:.2f}"
                    for r in comparison.itertuples()))
            report_sections.append(sections.comparison_section(comparison))

        start("scenario balance")
        with _stage_warnings(echo):
            balance_table, sinks, basis, short = _scenario_stage(cfg, map_result,
                                                                 tmp / "scenario")
        if balance_table is not None:
            share, text = sections.scenario_share(balance_table, cfg["scenario"]["start_year"],
                                                  sinks, basis)  # the first scenario's, named
            summary.update(share)
            timings["scenario"] = done(text)
            report_sections.append(sections.scenario_section(balance_table, sinks, tmp, cfg,
                                                             basis))
        else:
            timings["scenario"] = done("skipped (no [map], nor sinks_from = \"given\": "
                                       "catchment sinks are per km2, not a province total)")

        traj = None
        if cfg["scenario"].get("trajectory") and map_result is not None:
            from ._trajectory import trajectory_stage

            start("restoration trajectory")
            # the baseline: the map's last year (map/<year>/ of a series), not a new run;
            # the warnings of its map runs (2 or 3 per transition) shown once, as the map's
            with _stage_warnings(echo, relabel=map_text):
                traj, traj_section = trajectory_stage(cfg, map_dir, tmp, jobs)
            if traj is None:  # no schedule or no map: the configuration refuses both
                timings["trajectory"] = done("skipped")
            else:
                report_sections.append(traj_section)
                summary["trajectory_first_year_target_share"] = {
                    r.scenario: None if pd.isna(r.first_year) else int(r.first_year)
                    for r in traj.reached.itertuples()}
                path = traj.result.table[traj.result.table["zone"] == traj.zone]
                gain = float(path["restoration_gain_t_c_yr"].iloc[-1])
                summary["restoration_gain_t_c_yr"] = gain  # the schedule's last year
                summary["restoration_gain_year"] = int(path["year"].iloc[-1])
                f, mass = mass_unit(co2)
                timings["trajectory"] = done(
                    f"restoration adds {format_mass(gain * f, mass, per='yr')} by "
                    f"{summary['restoration_gain_year']}")

        start("report")
        db = _database_info(cfg)
        provenance = {
            "karstsink version": __version__,
            "PHREEQC": db.get("phreeqc_version", ""),
            "PHREEQC database": db.get("name", ""),
            "database SHA-256": db.get("sha256", ""),
            "configuration": str(cfg["config_path"]),
            "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]),
        }
        assumptions = sections.assumptions(cfg, catchment_table, map_result, balance_table)
        if balance_table is not None:
            assumptions["sinks balanced"] = " ".join(
                [f"From {sections.basis_words(basis, sinks)}, in every year.", short]).strip()
        if traj is not None:
            assumptions["restoration trajectory"] = "; ".join(traj.assumptions)
        # the headline in the unit the map stage wrote on its rasters (co2: t CO2), which
        # is the run's choice; without a map the run's choice
        if map_result is not None:
            summary["co2"] = unit_is_co2(map_unit(map_dir / "total_sink.tif"))
        headline = sections.headline(summary, catchment_table, co2=summary["co2"])
        if cfg["report"]["html"]:
            from ..report import write_report

            write_report(tmp / "report.html", title=cfg["report"]["title"],
                         sections=report_sections, assumptions=assumptions,
                         provenance=provenance,
                         summary=headline, synthetic=cfg["report"]["synthetic"],
                         emission_source=None if balance_table is None else
                         balance_table.attrs.get("source"))
        timings["report"] = done("report.html" if cfg["report"]["html"] else "skipped")
        timings["total"] = time.perf_counter() - t0
        summary["timings_s"] = timings
        carbon = {k: v for k, v in cfg["carbon"].items() if k != "given"}
        carbon["written_in_config"] = cfg["carbon"]["given"]
        run_doc = {"karstsink_version": __version__, "config": str(cfg["config_path"]),
                   "summary": summary, "provenance": provenance, "assumptions": assumptions,
                   "carbon": carbon,
                   "catchments": [{"name": c["name"], "folder": folders.get(c["name"]),
                                   "carbon_overrides": c["carbon_overrides"],
                                   "flux_settings": flux_settings.get(c["name"])}
                                  for c in cfg["catchments"]],
                   "catchment_comparison": (None if comparison is None
                                            else comparison.to_dict(orient="records")),
                   "map_assumptions": list(getattr(map_result, "assumptions", None) or []),
                   "map_tables": map_tables,  # map/series, attribution, uncertainty (.csv)
                   "speciation_meta": spec_meta}
        (tmp / "run.json").write_text(
            json_text(run_doc),
            encoding="utf-8")
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")
                       if p.is_file() and p.name != MARKER)
    return PipelineResult(out_dir=out, files=files, summary=summary)


# --------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------
def _scenario_stage(cfg: dict, map_result: Any, folder: Path):
    """The balance table, the balanced sinks [t CO2 yr-1], their basis (a key of
    :data:`sections.SINK_BASES`) and the warning that zones miss part of the map's sinks
    ("" if not); (None, {}, "", "") with nothing to balance."""
    from ..plots.scenario import plot_balance
    from ..scenario import balance, sinks_from_zonal_totals

    sc = cfg["scenario"]
    short = ""
    if sc["sinks_from"] == "given":
        basis = "given"
        sinks = {"karst": float(sc["karst_t_c_yr"]) * C_TO_CO2}
        if sc.get("biological_t_c_yr") is not None:
            sinks["biological"] = float(sc["biological_t_c_yr"]) * C_TO_CO2
    elif map_result is not None and map_result.zonal is not None:
        basis = "zones"
        sinks = sinks_from_zonal_totals(map_result.zonal)
        short = _zones_short(sinks, map_result.totals)
    elif map_result is not None:
        basis = "raster"
        t = map_result.totals
        sinks = {"karst": float(t["karst_sink_t_c_yr"]) * C_TO_CO2,
                 "biological": float(t["biological_sink_t_c_yr"]) * C_TO_CO2}
    else:
        return None, {}, "", ""
    sinks = {k: v for k, v in sinks.items() if v == v}  # drop NaN sinks (not mapped)
    table = balance(sinks, sc["emissions"], years=(sc["start_year"], sc["end_year"]))
    folder.mkdir(parents=True, exist_ok=True)
    to_csv(table, folder / "balance.csv", index=False)
    plot_balance(table, folder / "balance.png",
                 title="Sinks against energy-sector CO2 emission scenarios")
    return table, sinks, basis, short


def _zones_short(sinks: dict[str, float], totals: dict[str, Any]) -> str:
    """Warn, and say, when a zones' total sink [t CO2 yr-1], which the balance uses, is
    below 99 % of the raster total [t C yr-1] the summary shows (each sink on its own: a
    net ecosystem sink may be negative): zones short of the map."""
    import warnings

    from ..exceptions import DataQualityWarning

    held = {}
    for k, zones in sinks.items():
        raster = float(totals.get(f"{k}_sink_t_c_yr", float("nan"))) * C_TO_CO2
        if raster > 0 and zones < 0.99 * raster:
            held[k] = 100 * zones / raster
    if not held:
        return ""
    text = ("The emission balance uses the zones' total sinks, "
            + " and ".join(f"{v:.1f} % of the map's raster total {k} sink"
                           for k, v in held.items())
            + ": its shares of emissions are for the zones only. To balance the whole map, "
              "give zones that cover it (or none).")
    warnings.warn(text, DataQualityWarning, stacklevel=2)
    return text


def _database_info(cfg: dict) -> dict[str, str]:
    from ..chemistry.database import phreeqc_version, resolve_database

    database = cfg["speciation"]["database"]
    if cfg["map"] is not None and not cfg["speciation"]["samples"]:
        database = cfg["map"].database
    info = resolve_database(database)
    return {"name": info.name, "sha256": info.sha256, "phreeqc_version": phreeqc_version()}


def _check_trajectory(cfg: dict) -> None:
    """A restoration schedule's classes against a land-cover table guessed from the raster
    (with ``[map.tables] landcover`` named, :mod:`karstsink.config` checked them)."""
    path = (cfg.get("scenario") or {}).get("trajectory")
    if path is None or getattr(cfg["map"], "table", None) is not None:
        return
    from ..mapping.run import landcover_table_name
    from ..trajectory import check_schedule, load_schedule
    from ._trajectory import _single_year

    base = _single_year(cfg["map"])  # a [series] map's last year is the baseline
    check_schedule(load_schedule(path), landcover_table_name(base), base.inputs,
                   where=f"{path}: ")
