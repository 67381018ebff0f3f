"""The speciation and flux stages of :func:`karstsink.workflows.run.run_pipeline`, and how
a stage shows its progress and warnings.

Each stage reads the checked run configuration (``load_run_config``), writes into the
run's temporary output folder and turns a KarstSinkError into one line naming its TOML
key (:func:`._errors.in_toml`).
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import KarstSinkError
from ..io.atomic import unique_names
from ..io.write import json_text, to_csv
from . import sections
from ._errors import in_toml


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


@contextlib.contextmanager
def _stage_warnings(echo: Callable[[str], None] | None, prefix: str = "",
                    relabel: Callable[[str], str] = str) -> Iterator[None]:
    """Show the warnings raised inside a stage as indented lines, each text once after
    ``relabel`` (the map's and trajectory's: :func:`._map_keys.map_text`, the run's keys).

    The readers' and engines' warnings (rows flagged, a column taken as another,
    values outside their usual range) are summaries whose details are in the
    outputs' flags; without ``echo`` they are dropped, the flags stay.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    if echo:
        for text in dict.fromkeys(relabel(str(w.message)) for w in caught):
            echo(f"      warning: {prefix}{text}")


def _speciation_stage(cfg: dict, folder: Path, jobs: int | None):
    from ..chemistry.speciation import output_metadata, speciate
    from ..io.samples import read_samples

    sp = cfg["speciation"]
    folder.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pd.DataFrame] = {}
    meta: dict[str, Any] = {}
    # one output name per samples file: two files with one stem (a/samples.csv,
    # b/samples.csv, samples.xlsx) must not overwrite each other
    names = unique_names(Path(p).stem for p in sp["samples"])
    for path, name in zip(map(Path, sp["samples"]), names, strict=True):
        try:
            table = read_samples(path, units=sp["units"], sheet=sp["sheets"].get(str(path)))
        except KarstSinkError as err:
            raise in_toml(err, "speciation", "") from err
        result = speciate(table, database=sp["database"], engine=sp["engine"],
                          jobs=sp["jobs"] or jobs, **_speciation_shares(cfg["carbon"]))
        to_csv(result, folder / f"{name}.csv", index=False)
        record = output_metadata(result, input=str(path))
        (folder / f"{name}.meta.json").write_text(json_text(record), encoding="utf-8")
        tables[name] = result
        # run.json: the speciation's record with the reader's (below_detection, units...)
        meta[name] = {**record.get("speciation", {}), "samples": record["samples"]}
    return tables, meta


def _speciation_shares(carbon: dict) -> dict[str, Any]:
    """The acid-correction shares of ``[carbon]`` as :func:`karstsink.speciate` keywords."""
    return {k: carbon[k] for k in ("acid_so4_share", "evaporite_so4_share", "acid_no3_share")}


def _flux_kwargs(catchment: dict, jobs: int | None = None) -> dict[str, Any]:
    """The :func:`karstsink.workflows.catchment.run_flux` keywords of one checked catchment.

    Parameters
    ----------
    catchment : dict
        One entry of ``load_run_config(...)["catchments"]``: every ``karstsink flux``
        option, under its TOML name, with the run's ``[carbon]`` shares filled in.
    jobs : int, optional
        The run's ``--jobs``: the WRTDS bootstrap workers unless the catchment sets jobs.

    Returns
    -------
    dict
        Keywords for ``run_flux(discharge, samples, **kwargs)``.
    """
    from .catchment import shares_with_columns

    c = catchment
    options = dict(c["method_options"])
    trend = {"kalman_iter": c["trend"]["kalman_iter"]} if c.get("trend") else {}
    if c["method"] == "wrtds" and "jobs" not in options and jobs is not None:
        options["jobs"] = jobs
    return {
        "area_km2": c["area_km2"], "constituent": c["constituent"], "units": c["units"],
        "method": c["method"], "q_unit": c["q_unit"], "q_column": c["q_column"],
        "date_column": c["date_column"], "date_format": c["date_format"],
        "max_gap_days": c["max_gap_days"], "allow_gaps": c["allow_gaps"],
        "year_start_month": c["year_start"], "so4": c["so4"], "no3": c["no3"],
        "toc": c["toc"], **shares_with_columns(c),  # a share without its column: no use
        "silicate_hco3_fraction": c["silicate_fraction"], "method_options": options,
        "proxy": c["proxy"], "extra_regressors": c["extra"], **trend,
        "samples_sheet": c["samples_sheet"], "discharge_sheet": c["discharge_sheet"],
    }


def _flux_stage(cfg: dict, folder: Path, jobs: int | None = None,
                echo: Callable[[str], None] | None = None):
    from ..io.progress import progress

    rows: list[dict] = []
    flux_sections: list[Any] = []
    settings: dict[str, Any] = {}
    # a catchment's name becomes a folder: made safe (no "../", "/", ":", NUL) and distinct
    folders = dict(zip((c["name"] for c in cfg["catchments"]),
                       unique_names(c["name"] for c in cfg["catchments"]), strict=True))
    with progress(len(cfg["catchments"]), "catchments", unit="catchment") as bar:
        for c in cfg["catchments"]:
            with _stage_warnings(echo, prefix=f"catchment {c['name']}: "):
                row, parts, settings[c["name"]] = _one_catchment(
                    c, folder / folders[c["name"]], jobs)
            rows.append(row)
            flux_sections.extend(parts)
            bar.update()
    return (pd.DataFrame(rows), flux_sections, settings,
            {k: f"flux/{v}" for k, v in folders.items()})


def _one_catchment(c: dict, sub: Path, jobs: int | None) -> tuple[dict, list, dict]:
    """One catchment's flux (and trend) stage: its ``catchment_sinks.csv`` row, its report
    sections and its settings."""
    from .catchment import run_flux, write_flux_outputs

    try:
        run = run_flux(c["discharge"], c["samples"], **_flux_kwargs(c, jobs))
    except KarstSinkError as err:
        raise in_toml(err, c["key"], f" (catchment {c['name']!r})",
                      given=c.get("given")) from err
    settings = run.settings
    write_flux_outputs(run, sub, name=c["name"])
    trend = None
    if c.get("trend"):  # pairs/groups (+ bootstrap, series) into flux/<name>/
        from .trend import catchment_trend

        trend = catchment_trend(c, run, sub, jobs)
        settings = {**run.settings, "trend": trend.info}
    total = run.sink[run.sink["period"] == "total"].iloc[0]
    model = run.estimate.model

    def val(key: str) -> float:
        # a constituent other than HCO3 has a flux but no carbon-sink columns: NaN
        return float(total[key]) if key in total.index else float("nan")

    flux_key = "hco3_flux_kg_yr" if "hco3_flux_kg_yr" in total.index else "flux_kg_yr"
    row = {
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
        "sink_lo95_t_co2_km2_yr": val("sink_lo95_t_co2_km2_yr"),
        "sink_hi95_t_co2_km2_yr": val("sink_hi95_t_co2_km2_yr"),
        "model": str(model.get("model", model.get("name", c["method"]))),
    }
    parts = [sections.catchment_section(c, row, run.sink, sub)]
    if trend is not None:
        parts.append(sections.trend_section(c, trend, sub))
    return row, parts, settings
