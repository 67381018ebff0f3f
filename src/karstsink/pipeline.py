"""The whole pipeline in one call: speciation, catchment fluxes and sinks, maps, balance, report.

``karstsink run CONFIG.toml`` and ``karstsink demo`` call :func:`run_pipeline`.
Every stage is the same function the single-stage commands use
(:func:`karstsink.speciate`, :func:`karstsink.flux.pipeline.run_flux`,
:func:`karstsink.mapping.engine.run_map`, :func:`karstsink.scenario.balance`,
:func:`karstsink.report.write_report`); this module only chains them and
writes their outputs into one folder, all or nothing.

Output folder layout::

    speciation/<samples>.csv (+ .meta.json)    PHREEQC results per sample file
    flux/<catchment>/...                      daily/monthly/annual fluxes, sink.csv, plots
    catchment_sinks.csv                       one row per catchment (whole record)
    catchment_comparison.csv                  observed sink against the map's over each
                                              catchment's outline (with [map] and boundary)
    map/karst_sink.tif, biological_sink.tif, total_sink.tif, zonal_totals.csv/.gpkg,
        quicklook.png                         (t C km-2 yr-1 unless co2 = true)
    scenario/balance.csv, balance.png         sinks against the emission scenarios
    report.html                               one self-contained file
    run.json                                  settings, versions, database checksum, timings
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import __version__
from ._io import atomic_dir
from .exceptions import ConfigError, KarstSinkError
from .units import C_TO_CO2

__all__ = ["PipelineResult", "demo_config_path", "demo_data_dir", "run_pipeline"]

#: Years of the scenario balance shown in the report's table.
_REPORT_YEARS = (2020, 2025, 2030, 2035, 2040, 2050, 2060)


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
        Headline numbers (t C and t CO2 per year) and stage timings [s].
    """

    out_dir: Path
    files: list[str]
    summary: dict[str, Any] = field(default_factory=dict)


def demo_data_dir() -> Path:
    """Folder of the bundled SYNTHETIC demo dataset (``data/demo`` in a checkout).

    A wheel carries it as ``karstsink/demo_data``; an editable install or a
    checkout reads ``data/demo`` beside ``src/``.
    """
    packaged = Path(__file__).resolve().parent / "demo_data"
    if (packaged / "demo.toml").is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "data" / "demo"
    if (checkout / "demo.toml").is_file():
        return checkout
    raise ConfigError(
        "The demo dataset was not found (neither karstsink/demo_data in the installed package "
        "nor data/demo in a checkout); run `python data/demo/make_demo.py` in the repository."
    )


def demo_config_path() -> Path:
    """The demo's run configuration, ``demo.toml``."""
    return demo_data_dir() / "demo.toml"


def _stage_printer(echo: Callable[[str], None] | None, n_stages: int):
    state = {"i": 0, "t": time.perf_counter()}

    def start(name: str) -> None:
        state["i"] += 1
        state["t"] = time.perf_counter()
        if echo:
            echo(f"[{state['i']}/{n_stages}] {name} ...")

    def done(detail: str) -> float:
        dt = time.perf_counter() - state["t"]
        if echo:
            echo(f"      {detail} ({dt:.1f} s)")
        return dt

    return start, done


def run_pipeline(
    config: str | os.PathLike | dict[str, Any],
    out_dir: str | os.PathLike | None = None,
    *,
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
        Output folder; default ``[project] output`` of the configuration.
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
    """
    from .config import load_run_config

    cfg = config if isinstance(config, dict) else load_run_config(config)
    out = Path(out_dir) if out_dir is not None else Path(cfg["project"]["output"])
    n_stages = 2 + bool(cfg["speciation"]["samples"]) + bool(cfg["catchments"]) \
        + (cfg["map"] is not None)
    start, done = _stage_printer(echo, n_stages)
    timings: dict[str, float] = {}
    summary: dict[str, Any] = {"project": cfg["project"]["name"]}
    sections: list[Any] = []
    figures_for: dict[str, list[Path]] = {}
    t0 = time.perf_counter()

    with atomic_dir(out) as tmp:
        tmp = Path(tmp)
        spec_meta = None
        if cfg["speciation"]["samples"]:
            start("speciation (PHREEQC)")
            spec_tables, spec_meta = _speciation_stage(cfg, tmp / "speciation", jobs)
            n = sum(len(t) for t in spec_tables.values())
            computed = sum(int(t["si_calcite"].notna().sum()) for t in spec_tables.values())
            timings["speciation"] = done(f"{n} samples in {len(spec_tables)} file(s), "
                                         f"{computed} speciated")
            summary["samples_speciated"] = computed
            sections.append(_speciation_section(spec_tables, tmp))
            figures_for["speciation"] = []

        catchment_table = None
        if cfg["catchments"]:
            start("catchment fluxes and sinks")
            catchment_table, flux_sections, flux_settings = _flux_stage(cfg, tmp / "flux",
                                                                         jobs)
            catchment_table.to_csv(tmp / "catchment_sinks.csv", index=False)
            timings["flux"] = done(
                f"{len(catchment_table)} catchment(s): "
                + ", ".join(f"{r.catchment} {r.sink_t_c_km2_yr:.2f} t C km-2 yr-1"
                            for r in catchment_table.itertuples()))
            sections.extend(flux_sections)

        map_result = None
        if cfg["map"] is not None:
            start("sink maps")
            from .mapping.engine import run_map

            co2 = bool(cfg["project"]["co2"])
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                map_result = run_map(cfg["map"], tmp / "map", jobs=jobs, co2=co2,
                                     progress=progress)
            for w in caught:
                if echo:
                    echo(f"      warning: {w.message}")
            t = map_result.totals
            summary.update({k: float(v) for k, v in t.items()})
            timings["map"] = done(
                f"karst {t['karst_sink_t_c_yr'] / 1e6:.3f} Mt C/yr over "
                f"{t['karst_area_km2']:,.0f} km2 of carbonate rock; biological "
                f"{t['biological_sink_t_c_yr'] / 1e6:.2f} Mt C/yr")
            sections.append(_map_section(map_result, tmp))

        comparison = None
        if map_result is not None and catchment_table is not None and any(
                c.get("boundary") for c in cfg["catchments"]):
            comparison = _catchment_comparison(cfg, catchment_table,
                                               tmp / "map" / "karst_sink.tif")
            comparison.to_csv(tmp / "catchment_comparison.csv", index=False)
            if echo:
                echo("      catchment vs map: " + ", ".join(
                    f"{r.catchment} {r.ratio_observed_to_map:.2f}"
                    for r in comparison.itertuples()))
            sections.append(_comparison_section(comparison))

        start("scenario balance")
        balance_table, sinks = _scenario_stage(cfg, map_result, tmp / "scenario")
        if balance_table is not None:
            row = balance_table[(balance_table["year"] == cfg["scenario"]["start_year"])]
            share = float(row["total_share_pct"].iloc[0]) if len(row) else float("nan")
            summary["share_of_emissions_first_year_pct"] = share
            timings["scenario"] = done(
                f"sinks {sum(sinks.values()) / 1e6:.2f} Mt CO2/yr offset {share:.1f} % of "
                f"{cfg['scenario']['start_year']} emissions")
            sections.append(_scenario_section(balance_table, sinks, tmp, cfg))
        else:
            timings["scenario"] = done("skipped (no sinks to balance)")

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
        assumptions = _assumptions(cfg, catchment_table, map_result)
        headline = _headline(summary, catchment_table, co2=bool(cfg["project"]["co2"]))
        if cfg["report"]["html"]:
            from .report import write_report

            write_report(tmp / "report.html", title=cfg["report"]["title"],
                         sections=sections, assumptions=assumptions, provenance=provenance,
                         summary=headline, synthetic=cfg["report"]["synthetic"])
        timings["report"] = done("report.html" if cfg["report"]["html"] else "skipped")
        timings["total"] = time.perf_counter() - t0
        summary["timings_s"] = timings
        carbon = {k: v for k, v in cfg["carbon"].items() if k != "given"}
        carbon["written_in_config"] = cfg["carbon"]["given"]
        run_doc = {"karstsink_version": __version__, "config": str(cfg["config_path"]),
                   "summary": summary, "provenance": provenance, "assumptions": assumptions,
                   "carbon": carbon,
                   "catchments": [{"name": c["name"], "carbon_overrides": c["carbon_overrides"],
                                   "flux_settings": flux_settings.get(c["name"])}
                                  for c in cfg["catchments"]],
                   "catchment_comparison": (None if comparison is None
                                            else comparison.to_dict(orient="records")),
                   "map_assumptions": list(getattr(map_result, "assumptions", None) or []),
                   "speciation_meta": spec_meta}
        (tmp / "run.json").write_text(
            json.dumps(run_doc, indent=2, ensure_ascii=False, default=str) + "\n",
            encoding="utf-8")
        files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
    return PipelineResult(out_dir=out, files=files, summary=summary)


# --------------------------------------------------------------------------------------
# stages
# --------------------------------------------------------------------------------------
def _speciation_stage(cfg: dict, folder: Path, jobs: int | None):
    from .chemistry.speciation import speciate
    from .samples import read_samples

    sp = cfg["speciation"]
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    meta: dict[str, Any] = {}
    for path in sp["samples"]:
        path = Path(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # flags are in qa_flags; counts go to the meta
            try:
                table = read_samples(path, units=sp["units"])
            except KarstSinkError as err:
                raise _in_toml(err, "speciation", "") from err
            result = speciate(table, database=sp["database"], engine=sp["engine"],
                              jobs=sp["jobs"] or jobs, **_speciation_shares(cfg["carbon"]))
        name = path.stem
        result.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8")
        info = result.attrs.get("karstsink", {})
        (folder / f"{name}.meta.json").write_text(
            json.dumps({"input": str(path), **info}, indent=2, ensure_ascii=False,
                       default=str) + "\n", encoding="utf-8")
        tables[name] = result
        meta[name] = info.get("speciation", info)
    return tables, meta


#: ``karstsink flux`` options as they are named in a catchment's TOML table (error messages
#: from the flux readers name the CLI option; a run names the TOML key instead).
_FLAG_TO_KEY = {"--area": "area_km2", "--units": "units", "--q-unit": "q_unit",
                "--q-column": "q_column", "--date-column": "date_column",
                "--date-format": "date_format", "--max-gap-days": "max_gap_days",
                "--allow-gaps": "allow_gaps", "--year-start": "year_start",
                "--method": "method", "--model": "model", "--proxy": "proxy",
                "--extra": "extra", "--bootstrap": "bootstrap", "--jobs": "jobs",
                "--so4": "so4", "--no3": "no3", "--toc": "toc",
                "--acid-so4-share": "acid_so4_share",
                "--evaporite-so4-share": "evaporite_so4_share",
                "--acid-no3-share": "acid_no3_share", "--bcp-share": "bcp_share",
                "--silicate-fraction": "silicate_fraction", "--constituent": "constituent"}


def _in_toml(err: KarstSinkError, where: str, label: str) -> KarstSinkError:
    """The same error, its message prefixed with ``where`` (a TOML table) and its CLI
    options (``--units``) replaced by that table's keys (``catchments[0].units``)."""
    def key(m: re.Match) -> str:
        name = _FLAG_TO_KEY.get(m.group(0))
        return f"{where}.{name}" if name else m.group(0)

    text = re.sub(r"(?<![\w-])--[a-z][a-z0-9-]*", key, str(err)).replace("(CLI: ", "(")
    # "pass units= / catchments[0].units" (the Python and CLI spellings) -> "set <key>"
    text = re.sub(r"\b[Pp]ass (\w+)= / (" + re.escape(where) + r"\.\1)\b", r"set \2", text)
    return type(err)(f"{where}{label}: {text}")


def _speciation_shares(carbon: dict) -> dict[str, float]:
    """The acid-correction shares of ``[carbon]`` as :func:`karstsink.speciate` keywords."""
    return {k: carbon[k] for k in ("acid_so4_share", "evaporite_so4_share", "acid_no3_share")}


def _flux_kwargs(catchment: dict, jobs: int | None = None) -> dict[str, Any]:
    """The :func:`karstsink.flux.pipeline.run_flux` keywords of one checked catchment.

    Parameters
    ----------
    catchment : dict
        One entry of ``load_run_config(...)["catchments"]``: every ``karstsink flux``
        option, under its TOML name, with the run's ``[carbon]`` shares filled in.
    jobs : int, optional
        The run's ``--jobs``: the WRTDS bootstrap workers unless the catchment sets
        ``jobs`` itself.

    Returns
    -------
    dict
        Keywords for ``run_flux(discharge, samples, **kwargs)``.
    """
    c = catchment
    options = dict(c["method_options"])
    if c["method"] == "wrtds" and "jobs" not in options and jobs is not None:
        options["jobs"] = jobs
    return {
        "area_km2": c["area_km2"], "constituent": c["constituent"], "units": c["units"],
        "method": c["method"], "q_unit": c["q_unit"], "q_column": c["q_column"],
        "date_column": c["date_column"], "date_format": c["date_format"],
        "max_gap_days": c["max_gap_days"], "allow_gaps": c["allow_gaps"],
        "year_start_month": c["year_start"], "so4": c["so4"], "no3": c["no3"],
        "toc": c["toc"], "acid_so4_share": c["acid_so4_share"],
        "evaporite_so4_share": c["evaporite_so4_share"],
        "acid_no3_share": c["acid_no3_share"], "bcp_share": c["bcp_share"],
        "silicate_hco3_fraction": c["silicate_fraction"], "method_options": options,
        "proxy": c["proxy"], "extra_regressors": c["extra"],
    }


def _flux_stage(cfg: dict, folder: Path, jobs: int | None = None):
    from .flux.pipeline import run_flux, write_flux_outputs
    from .report import Figure, Section, Table

    rows = []
    sections = []
    settings: dict[str, Any] = {}
    for c in cfg["catchments"]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # flags are written into the outputs
                run = run_flux(c["discharge"], c["samples"], **_flux_kwargs(c, jobs))
        except KarstSinkError as err:
            raise _in_toml(err, c["key"], f" (catchment {c['name']!r})") from err
        settings[c["name"]] = run.settings
        sub = folder / c["name"]
        write_flux_outputs(run, sub)
        total = run.sink[run.sink["period"] == "total"].iloc[0]
        model = run.estimate.model

        def val(key: str, _total=total) -> float:
            # a constituent other than HCO3 has a flux but no carbon-sink columns: NaN
            return float(_total[key]) if key in _total.index else float("nan")

        flux_key = "hco3_flux_kg_yr" if "hco3_flux_kg_yr" in total.index else "flux_kg_yr"
        rows.append({
            "catchment": c["name"], "area_km2": c["area_km2"], "method": c["method"],
            "constituent": c["constituent"],
            "first_day": f"{run.discharge.index.min():%Y-%m-%d}",
            "last_day": f"{run.discharge.index.max():%Y-%m-%d}",
            "n_samples": int(run.samples["used"].sum()) if "used" in run.samples
            else len(run.samples),
            "flux_kg_yr": val(flux_key),
            "acid_correction_pct": val("acid_correction_pct"),
            "sink_t_c_yr": val("sink_t_c_yr"),
            "sink_t_c_km2_yr": val("sink_t_c_km2_yr"),
            "sink_lo95_t_c_km2_yr": val("sink_lo95_t_c_km2_yr"),
            "sink_hi95_t_c_km2_yr": val("sink_hi95_t_c_km2_yr"),
            "sink_t_co2_km2_yr": val("sink_t_co2_km2_yr"),
            "model": str(model.get("model", model.get("name", c["method"]))),
        })
        keep = [k for k in ("period", flux_key, "acid_correction_pct", "sink_t_c_km2_yr",
                            "sink_lo95_t_c_km2_yr", "sink_hi95_t_c_km2_yr",
                            "sink_t_co2_km2_yr") if k in run.sink.columns]
        annual = run.sink[run.sink["period"] != "total"][keep].rename(
            columns={"period": "water_year"})
        plots = sub / "plots"
        figs = [Figure(plots / "cq.png", f"{c['name']}: concentration against discharge "
                                          "(samples and fitted model)."),
                Figure(plots / "flux.png", f"{c['name']}: daily HCO3- flux [kg/day] with its "
                                            "95 % interval.")]
        sections.append(Section(
            title=f"Catchment {c['name']}",
            text=(f"{c['area_km2']:g} km², {c['method']} estimator, record "
                  f"{rows[-1]['first_day']} to {rows[-1]['last_day']}, "
                  f"{rows[-1]['n_samples']} samples. Sink over the record: "
                  f"**{rows[-1]['sink_t_c_km2_yr']:.2f} t C km⁻² yr⁻¹** "
                  f"({rows[-1]['sink_t_co2_km2_yr']:.1f} t CO2 km⁻² yr⁻¹), 95 % interval "
                  f"{rows[-1]['sink_lo95_t_c_km2_yr']:.2f}-"
                  f"{rows[-1]['sink_hi95_t_c_km2_yr']:.2f} t C km⁻² yr⁻¹. Files: "
                  f"`flux/{c['name']}/`."),
            tables=[Table(annual, caption="Carbon sink per water year (t C and t CO2 per km² "
                                          "of catchment per year).")],
            figures=[f for f in figs if Path(f.path).is_file()],
        ))
    return pd.DataFrame(rows), sections, settings


#: Columns of ``catchment_comparison.csv``.
COMPARISON_COLUMNS = ["catchment", "area_km2", "boundary_area_km2", "observed_sink_t_c_km2_yr",
                      "observed_lo95_t_c_km2_yr", "observed_hi95_t_c_km2_yr",
                      "map_karst_sink_t_c_km2_yr", "ratio_observed_to_map", "note"]


def _catchment_comparison(cfg: dict, catchments: pd.DataFrame, karst_tif: Path) -> pd.DataFrame:
    """Each catchment's observed sink against the map's karst sink over its outline.

    The map value is the area-weighted mean of ``karst_sink.tif`` over the whole
    outline [t C km-2 yr-1] (:func:`karstsink.mapping.zones.raster_mean_in_polygon`):
    carbonate-free pixels count with their 0, nodata pixels and any part off the map
    are left out and reported in ``note``.
    """
    import rasterio

    from .mapping.zones import raster_mean_in_polygon, read_outline

    with rasterio.open(karst_tif) as ds:
        crs = ds.crs
    observed = catchments.set_index("catchment")
    rows = []
    for c in cfg["catchments"]:
        obs = observed.loc[c["name"]]
        row = {"catchment": c["name"], "area_km2": c["area_km2"],
               "boundary_area_km2": float("nan"),
               "observed_sink_t_c_km2_yr": float(obs["sink_t_c_km2_yr"]),
               "observed_lo95_t_c_km2_yr": float(obs["sink_lo95_t_c_km2_yr"]),
               "observed_hi95_t_c_km2_yr": float(obs["sink_hi95_t_c_km2_yr"]),
               "map_karst_sink_t_c_km2_yr": float("nan"),
               "ratio_observed_to_map": float("nan")}
        notes = []
        if c.get("boundary") is None:
            notes.append("no boundary given")
        else:
            try:
                outline, area = read_outline(c["boundary"], crs, c.get("boundary_layer"))
                stats = raster_mean_in_polygon(karst_tif, outline)
            except KarstSinkError as err:
                raise _in_toml(err, f"{c['key']}.boundary", f" (catchment {c['name']!r})"
                               ) from err
            mean = stats["mean"]
            if "co2" in stats["units"].lower():  # the run wrote t CO2 rasters
                mean /= C_TO_CO2
            row["boundary_area_km2"] = area
            row["map_karst_sink_t_c_km2_yr"] = mean
            missing = stats["nodata_area_km2"] + stats["off_grid_area_km2"]
            if stats["polygon_area_km2"] > 0 and missing > 0.001 * stats["polygon_area_km2"]:
                notes.append(f"{100 * missing / stats['polygon_area_km2']:.1f} % of the outline "
                             "has no map value (nodata pixels or off the map), left out of "
                             "the mean")
            if abs(area / c["area_km2"] - 1) > 0.05:
                notes.append(f"outline area {area:.3g} km2 differs from area_km2 "
                             f"{c['area_km2']:g} by {100 * (area / c['area_km2'] - 1):+.0f} %")
            obs_sink = row["observed_sink_t_c_km2_yr"]
            if mean > 0 and obs_sink == obs_sink:
                row["ratio_observed_to_map"] = obs_sink / mean
                if obs_sink > mean:
                    notes.append("observed above the MPD potential: the map's inputs over the "
                                 "outline (runoff, soil pCO2, temperature, the run's SO4/NO3 "
                                 "for the acid correction) do not represent this catchment, "
                                 "or water from outside the outline reaches the outlet")
            elif mean == 0:
                notes.append("no carbonate rock mapped inside the outline: no ratio")
            elif mean != mean:
                notes.append("no map value inside the outline: no ratio")
            if obs_sink != obs_sink:
                notes.append("no observed sink (the constituent is not HCO3)")
        row["note"] = "; ".join(notes)
        rows.append(row)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def _comparison_section(table: pd.DataFrame):
    from .report import Section, Table

    return Section(
        title="Catchments against the map",
        text=("Each catchment's **observed** sink against the **map**'s karst sink over its "
              "outline, in t C km⁻² yr⁻¹. *Observed* is the sink realised at the outlet: the "
              "hydrochemical-runoff method (HCO3⁻ flux from discharge and samples, corrected "
              "for sulfuric and nitric acid with the run's `[carbon]` shares, half of its "
              "carbon counted as CO2 taken up). *Map* is the maximum-potential-dissolution "
              "(MPD) equilibrium potential: runoff x Ca_eq(T, soil pCO2) x carbonate "
              "fraction, averaged over the whole outline (carbonate-free pixels count as 0). "
              "A ratio below 1 is expected: water leaves the karst below calcite saturation "
              "and degasses CO2 before the outlet, so the realised sink stays under the "
              "potential; a ratio above 1 points to an outline, runoff or acid share that "
              "does not fit the catchment. Full table: `catchment_comparison.csv`."),
        tables=[Table(table, caption="Observed (outlet, with its 95 % interval) and mapped "
                                     "(MPD potential, outline mean) karst sinks "
                                     "[t C km⁻² yr⁻¹]; ratio = observed / map.")],
    )


def _scenario_stage(cfg: dict, map_result: Any, folder: Path):
    from .plots.scenario import plot_balance
    from .scenario import balance, sinks_from_zonal_totals

    sc = cfg["scenario"]
    if sc["sinks_from"] == "given":
        sinks = {"karst": float(sc["karst_t_c_yr"]) * C_TO_CO2}
        if sc.get("biological_t_c_yr") is not None:
            sinks["biological"] = float(sc["biological_t_c_yr"]) * C_TO_CO2
    elif map_result is not None and map_result.zonal is not None:
        sinks = sinks_from_zonal_totals(map_result.zonal)
    elif map_result is not None:
        t = map_result.totals
        sinks = {"karst": float(t["karst_sink_t_c_yr"]) * C_TO_CO2,
                 "biological": float(t["biological_sink_t_c_yr"]) * C_TO_CO2}
    else:
        return None, {}
    sinks = {k: v for k, v in sinks.items() if v == v}  # drop NaN sinks (not mapped)
    table = balance(sinks, sc["emissions"], years=(sc["start_year"], sc["end_year"]))
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "balance.csv", index=False)
    plot_balance(table, folder / "balance.png",
                 title="Sinks against energy-sector CO2 emission scenarios")
    return table, sinks


# --------------------------------------------------------------------------------------
# report sections
# --------------------------------------------------------------------------------------
def _speciation_section(tables: dict[str, pd.DataFrame], tmp: Path):
    from .report import Figure, Section, Table

    rows = []
    for name, t in tables.items():
        ok = t["si_calcite"].notna()
        flagged = (t["qa_flags"].fillna("") != "").sum()
        rows.append({
            "file": name, "n_samples": len(t), "n_speciated": int(ok.sum()),
            "n_flagged": int(flagged),
            "si_calcite_median": t.loc[ok, "si_calcite"].median(),
            "si_dolomite_median": t.loc[ok, "si_dolomite"].median(),
            "log_pco2_median": t.loc[ok, "log_pco2"].median(),
            "dic_mmol_kgw_median": t.loc[ok, "dic_mmol_kgw"].median(),
            "cbe_pct_max_abs": t.loc[ok, "cbe_pct"].abs().max(),
            "ca_mg_hco3_molar_median": t.loc[ok, "ca_mg_hco3_molar"].median(),
        })
    fig = tmp / "speciation" / "si_pco2.png"
    _plot_si_pco2(tables, fig)
    return Section(
        title="Water chemistry (PHREEQC speciation)",
        text=("Every field sample speciated with PHREEQC: saturation indices, log pCO2 "
              "(log10 atm), DIC and carbonate species per kg of water, charge balance and "
              "weathering ratios. A molar (Ca+Mg)/HCO3 of 0.5 means pure carbonic-acid "
              "weathering of carbonate; values towards 1 point to sulfuric or nitric acid. "
              "Per-sample results: `speciation/*.csv`; flagged rows keep their reason in "
              "`qa_flags`."),
        tables=[Table(pd.DataFrame(rows), caption="Summary per sample file.")],
        figures=[Figure(fig, "Calcite saturation index against log pCO2 [log10 atm], one "
                             "point per speciated sample.")],
    )


def _plot_si_pco2(tables: dict[str, pd.DataFrame], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2), dpi=120)
    for name, t in tables.items():
        ax.scatter(t["log_pco2"], t["si_calcite"], s=14, alpha=0.8, label=name)
    ax.axhline(0.0, color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("log pCO2 [log10 atm]")
    ax.set_ylabel("SI calcite [-]")
    ax.set_title("Calcite saturation and CO2 pressure of the samples")
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def _map_section(result: Any, tmp: Path):
    from .report import Figure, Section, Table

    t = result.totals
    zonal = result.zonal
    tables = []
    if zonal is not None:
        label = zonal.columns[0]
        body = zonal[~zonal[label].astype(str).str.startswith("TOTAL")]
        top = body.sort_values("total_sink_t_c_yr", ascending=False).head(15)
        tables.append(Table(top, caption="The 15 zones with the largest total sink "
                                         "(t C per year; full table: map/zonal_totals.csv)."))
    from .plots.maps import quicklook

    unit = "t CO2 km-2 yr-1" if "t_co2" in str(t.get("units", "")) else "t C km-2 yr-1"
    karst_png = tmp / "map" / "karst_quicklook.png"
    quicklook(tmp / "map" / "karst_sink.tif", karst_png, title="Karst (inorganic) sink",
              unit=unit)
    figs = [Figure(karst_png, f"Karst (inorganic, MPD) sink [{unit}]; carbonate-free pixels "
                              "are 0."),
            Figure(tmp / "map" / "quicklook.png",
                   f"Total (karst + biological) sink [{unit}] with zone outlines.")]
    return Section(
        title="Sink maps",
        text=(f"Karst (inorganic, maximum-potential-dissolution) sink "
              f"**{t['karst_sink_t_c_yr'] / 1e6:.3f} Mt C/yr** "
              f"({t['karst_sink_t_c_yr'] * C_TO_CO2 / 1e6:.2f} Mt CO2/yr) over "
              f"{t['karst_area_km2']:,.0f} km² of carbonate rock "
              f"({t['karst_sink_t_c_yr'] / max(t['karst_area_km2'], 1e-9):.2f} t C km⁻² yr⁻¹ "
              f"of karst); biological sink {t['biological_sink_t_c_yr'] / 1e6:.2f} Mt C/yr. "
              "GeoTIFFs (COG, t C km⁻² yr⁻¹): `map/karst_sink.tif`, "
              "`map/biological_sink.tif`, `map/total_sink.tif`."),
        tables=tables,
        figures=[f for f in figs if Path(f.path).is_file()],
    )


def _scenario_section(table: pd.DataFrame, sinks: dict[str, float], tmp: Path, cfg: dict):
    from . import scenario
    from .report import Figure, Section, Table

    cols = ["scenario", "year", "emissions_t_co2_yr"] + \
        [c for c in table.columns if c.endswith("_sink_t_co2_yr") or c.endswith("_share_pct")] + \
        ["residual_t_co2_yr"]
    shown = table[table["year"].isin(_REPORT_YEARS)][[c for c in cols if c in table]]
    sink_text = "; ".join(f"{k} {v / 1e6:.2f} Mt CO2/yr ({v / C_TO_CO2 / 1e6:.3f} Mt C/yr)"
                          for k, v in sinks.items())
    return Section(
        title="Sinks against emission scenarios",
        text=(f"Sinks: {sink_text}. Emissions: {scenario.SOURCE}. {scenario.INTERPOLATION} "
              "(Or the user's own series.) The residual is what other measures (CCUS, "
              "efficiency, fuel switching) must close. All in t CO2 per year; "
              f"t C = t CO2 / {C_TO_CO2:.3f}. "
              "Full table: `scenario/balance.csv`."),
        tables=[Table(shown, caption="Balance in selected years (t CO2 per year, shares in "
                                     "% of that year's emissions).")],
        figures=[Figure(tmp / "scenario" / "balance.png",
                        "Sinks (stacked) against emission scenarios [Mt CO2 per year].")],
    )


def _database_info(cfg: dict) -> dict[str, str]:
    from .chemistry.database import phreeqc_version, resolve_database

    database = cfg["speciation"]["database"]
    if cfg["map"] is not None and not cfg["speciation"]["samples"]:
        database = cfg["map"].database
    info = resolve_database(database)
    return {"name": info.name, "sha256": info.sha256, "phreeqc_version": phreeqc_version()}


def _assumptions(cfg: dict, catchments: pd.DataFrame | None, map_result: Any) -> dict[str, str]:
    """Every assumption behind the run's numbers, for the report and ``run.json``.

    The carbon accounting is stated once for the run's ``[carbon]`` parameters
    (:func:`karstsink.carbon.assumptions`), then each catchment's own overrides, then the
    map model and the map's own statements (``MapResult.assumptions``: the acid basis,
    NEP and whether it may double count the weathering uptake).
    """
    from . import carbon as cb

    carbon = cfg["carbon"]
    cats = cfg["catchments"] if catchments is not None and len(catchments) else []
    so4_given = any(c["so4"] for c in cats)
    no3_given = any(c["no3"] for c in cats)
    toc_given = any(c["toc"] for c in cats)
    a: dict[str, str] = {}
    sentences = cb.assumptions(
        acid_so4_share=carbon["acid_so4_share"],
        evaporite_so4_share=carbon["evaporite_so4_share"],
        acid_no3_share=carbon["acid_no3_share"],
        bcp_share=carbon["bcp_share"] if cats else None,
        so4_given=so4_given or not cats, no3_given=no3_given or not cats,
        toc_given=toc_given)
    for i, text in enumerate(sentences, start=1):
        a[f"carbon accounting {i}"] = text
    a["one basis"] = (
        "the [carbon] parameters above are passed to speciation (hco3_carbonic), to every "
        "catchment (unless it overrides a share, listed below) and to the map's karst sink "
        + ("(with so4_mmol_l = " + (f"{carbon['so4_mmol_l']:g}" if carbon["so4_mmol_l"]
                                     is not None else "none")
           + ", no3_mmol_l = " + (f"{carbon['no3_mmol_l']:g}" if carbon["no3_mmol_l"]
                                   is not None else "none")
           + " mmol/L; none = no acid correction on the map)"))
    for c in cats:
        if c["carbon_overrides"]:
            a[f"catchment {c['name']}"] = "overrides [carbon]: " + ", ".join(
                f"{k} = {v:g} (run: {carbon[k]:g})" for k, v in c["carbon_overrides"].items())
        if c["silicate_fraction"] is not None:
            a[f"catchment {c['name']} silicate"] = (
                f"silicate_fraction = {c['silicate_fraction']:g} of carbonic HCO3 from "
                "silicate weathering (all its carbon from CO2)")
    a["PHREEQC database"] = str(cfg["speciation"]["database"])
    if cats:
        a["flux estimators"] = ", ".join(sorted({c["method"] for c in cats}))
    if map_result is not None:
        m = cfg["map"]
        a["map model"] = (f"maximum potential dissolution, {m.system} system, Ca_eq(T, pCO2) from "
                          f"PHREEQC ({m.database}); land cover scales soil pCO2 and runoff, "
                          "not the sink")
        a["karst area"] = ("pixels' carbonate fraction x pixel area (the map's own definition; "
                           "Guizhou's 61.9 % outcrop or 73.79 % karst figures are not used)")
        stated = set(a.values())
        own = [str(t) for t in getattr(map_result, "assumptions", None) or []]
        for i, text in enumerate((t for t in own if t not in stated), start=1):
            a[f"map {i}"] = text  # the map's own statements, less those already made
    if cfg.get("scenario"):
        from . import scenario

        a["emission scenarios"] = f"{scenario.SOURCE}; {scenario.INTERPOLATION}"
    if any(c.get("boundary") for c in cats) and map_result is not None:
        a["catchment vs map"] = (
            "observed = sink realised at the outlet (hydrochemical-runoff method); map = MPD "
            "equilibrium potential averaged over the catchment outline; observed/map < 1 is "
            "expected (undersaturation, CO2 degassing)")
    return a


def _headline(summary: dict, catchments: pd.DataFrame | None, *, co2: bool) -> dict[str, str]:
    h: dict[str, str] = {}
    if "karst_sink_t_c_yr" in summary:
        k = summary["karst_sink_t_c_yr"]
        b = summary["biological_sink_t_c_yr"]
        h["karst sink [Mt C/yr]"] = f"{k / 1e6:.3f} ({k * C_TO_CO2 / 1e6:.2f} Mt CO2)"
        h["biological sink [Mt C/yr]"] = f"{b / 1e6:.2f} ({b * C_TO_CO2 / 1e6:.1f} Mt CO2)"
        h["carbonate area [km²]"] = f"{summary['karst_area_km2']:,.0f}"
    if catchments is not None and len(catchments):
        for r in catchments.itertuples():
            h[f"{r.catchment} sink [t C km⁻² yr⁻¹]"] = (
                f"{r.sink_t_c_km2_yr:.2f} ({r.sink_t_co2_km2_yr:.1f} t CO2)")
    if "share_of_emissions_first_year_pct" in summary:
        h["share of first-year emissions offset [%]"] = \
            f"{summary['share_of_emissions_first_year_pct']:.1f}"
    if "samples_speciated" in summary:
        h["samples speciated"] = str(summary["samples_speciated"])
    return h
