"""Restoration trajectories in a run: the potentials from map runs, the paths, the balance.

:func:`trajectory_potentials` obtains what :func:`karstsink.trajectory.trajectory` needs
from the map engine, using only its existing one-scenario mechanism (``[scenario]
transitions``, :func:`karstsink.mapping.model.remap_classes` and
:func:`~karstsink.mapping.model.scenario_bio`), two runs per transition:

* run A, the transition itself (every eligible pixel in the new class): its
  ``scenario_difference_t_c_yr`` per zone is the total potential, karst plus
  biological;
* run B, the same pixels moved to a *synthetic* class that carries the old class's
  soil-pCO2 and runoff factors and karst-water SO4/NO3 but the new class's
  biological sink (an extra row of a copy of the land-cover table, codes above the
  table's largest): its karst sink is the baseline's, so its
  ``scenario_difference_t_c_yr`` is the biological potential alone;
* run C (only to draw the new class's biological sink in the table's range): as B
  with the synthetic sink 1 t C km⁻² yr⁻¹ higher, so C - B is the eligible area.

The karst potential is A - B. The baseline is the run's own map (or one more run).
Correct, not fast: 2 (or 3) map runs per transition; the Monte Carlo costs no run.

A schedule's projection stack (``[trajectory.climate] stack``) adds one map *series*
(:func:`climate_stack_factors`): the baseline map with the stack's inputs, ``[series]
years`` the stack's years, no change maps or attribution; its zone totals over the
baseline's are the zone climate factors (:func:`karstsink.trajectory.stack_climate_factors`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import ConfigError
from ..io.write import to_csv
from ..trajectory import (
    Schedule,
    TrajectoryResult,
    balance_sinks,
    check_schedule,
    load_schedule,
    stack_climate_factors,
    trajectory,
    transition_codes,
)

__all__ = ["TrajectoryRun", "climate_stack_factors", "run_trajectory", "stack_config",
           "trajectory_potentials", "trajectory_stage"]

#: a zone's nodata area in a projected year above the baseline map's by more than this
#: share of the zone's area is warned about: its factor would mix coverage with climate
_COVERAGE_TOLERANCE = 1e-3

@dataclass
class TrajectoryRun:
    """A trajectory stage's results (tables as written to the output folder)."""

    result: TrajectoryResult
    baseline: pd.DataFrame
    potentials: pd.DataFrame
    balance: pd.DataFrame
    reached: pd.DataFrame
    zone: str
    folder: Path
    files: list[str] = field(default_factory=list)
    figure: Path | None = None
    #: with a projection stack: ``zone``, ``year``, ``karst_climate_factor``,
    #: ``biological_climate_factor`` [-] (``trajectory_climate.csv``)
    climate: pd.DataFrame | None = None

    @property
    def assumptions(self) -> list[str]:
        """The schedule's assumption sentences."""
        return self.result.assumptions


def _with_zone(zonal: pd.DataFrame | None, field_name: str | None) -> pd.DataFrame:
    """A zone table with a ``zone`` column: the zones' label (text), one per row."""
    if zonal is None or field_name is None or field_name not in zonal:
        raise ConfigError("A restoration trajectory needs zones ([map.zones] path and field): "
                          "its potentials are zone totals; the TOTAL row is the province.")
    out = zonal.copy()
    out.insert(0, "zone", out[field_name].map(lambda v: "" if pd.isna(v) else str(v)))
    dup = sorted(set(out["zone"][out["zone"].duplicated()]))
    if dup:
        raise ConfigError(f"A restoration trajectory needs one zone per [map.zones] field "
                          f"value; {field_name!r} repeats {dup[:5]}: choose a unique field.")
    return out


def _run(cfg: Any, out: Path, jobs: int | None) -> Any:
    from ..mapping import run_map

    return run_map(cfg, out, jobs=jobs, co2=False, quicklook=False)


def _single_year(map_cfg: Any) -> Any:
    """The baseline map configuration of the trajectory runs: its own ``[scenario]``,
    optional outputs and ``[uncertainty]`` off; a ``[series]`` map's last year."""
    series = getattr(map_cfg, "series", None)
    if series is not None:
        from ..mapping._series_config import year_config

        map_cfg = year_config(map_cfg, series.years[-1])
    changes: dict[str, Any] = {"scenario_name": None, "transitions": [], "outputs": ()}
    if getattr(map_cfg, "uncertainty", None) is not None:
        changes["uncertainty"] = None
    return dataclasses.replace(map_cfg, **changes)


def _synthetic(lut: pd.DataFrame, real: list[dict], code: int, offset: float,
               path: Path) -> list[dict]:
    """Write ``lut`` plus one synthetic class per transition rule to ``path``.

    A synthetic class copies the old class's row (soil-pCO2 and runoff factors, SO4/NO3
    and any other column) but takes the new class's biological sink plus ``offset``
    [t C km⁻² yr⁻¹]; its range columns (``*_lo``/``*_hi``) are blank (fixed values).
    Returns the rules moving the old class's eligible pixels to the synthetic classes.
    """
    extra, rules = [], []
    for k, tr in enumerate(real):
        row = lut[lut["class"] == tr["from"]].iloc[0].copy()
        new = lut[lut["class"] == tr["to"]].iloc[0]
        for col in lut.columns:
            if col.endswith(("_lo", "_hi")):
                row[col] = float("nan")
        row["biological_sink_tc_km2_yr"] = float(new["biological_sink_tc_km2_yr"]) + offset
        row["class"] = code + k
        row["name"] = f"{row['name']} as {new['name']} (karst unchanged)"
        row["source"] = "karstsink trajectory: synthetic class (biological potential)"
        extra.append(row)
        rules.append({**tr, "to": code + k})
    to_csv(pd.concat([lut, pd.DataFrame(extra)], ignore_index=True), path, index=False)
    return rules


def _bio_range(lut: pd.DataFrame, code: int) -> tuple[float, float, float, str] | None:
    """The new class's biological sink, its table range and the range's source, if any."""
    row = lut[lut["class"] == code].iloc[0]
    lo, hi = row.get("biological_sink_tc_km2_yr_lo"), row.get("biological_sink_tc_km2_yr_hi")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi) or not float(hi) > float(lo):
        return None
    return (float(row["biological_sink_tc_km2_yr"]), float(lo), float(hi),
            str(row.get("range_source", "") or ""))


def trajectory_potentials(map_cfg: Any, schedule: Schedule, work: str | os.PathLike, *,
                          baseline_dir: str | os.PathLike | None = None,
                          jobs: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Baseline zone totals and each transition's potentials, from map runs.

    Parameters
    ----------
    map_cfg : karstsink.mapping.MapConfig
        The baseline map configuration (with zones, and a DEM for slope rules);
        its own ``[scenario]``, optional outputs and ``[uncertainty]`` are ignored, and
        of a ``[series]`` map the last year is the baseline.
    schedule : karstsink.trajectory.Schedule
        The restoration schedule.
    work : path-like
        A scratch folder for the map runs (created, and removed afterwards).
    baseline_dir : path-like, optional
        The folder of a finished map run of ``map_cfg`` (its ``zonal_totals.csv``
        and ``run.json``): spares the baseline run (which runs when the folder lacks
        them).
    jobs : int, optional
        Map worker threads.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        ``baseline`` (``zone``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr``
        [t C a⁻¹], ``area_km2`` and ``nodata_area_km2`` [km²]) and ``potentials``
        (``zone``, ``transition``, ``karst_potential_t_c_yr``,
        ``biological_potential_t_c_yr``, ``total_potential_t_c_yr`` [t C a⁻¹],
        ``from_codes``, ``to_code``), the contract of
        :func:`karstsink.trajectory.trajectory`. When the transition has no
        ``biological_rel_sd`` and the land-cover table gives the new class a range
        ``biological_sink_tc_km2_yr_lo``..``_hi``, a third run (the synthetic class's
        sink + 1 t C km⁻² yr⁻¹) gives the zone's eligible area A
        (``eligible_area_km2`` [km²] = run C - run B) and the potential's range
        ``biological_potential_lo_t_c_yr`` / ``_hi_t_c_yr`` = potential + (range end -
        class value) x A; NaN otherwise.

    Raises
    ------
    ConfigError
        No zones, a class not in the land-cover table, a slope rule without DEM.
    """
    from ..mapping.landcover import load_landcover_table
    from ..mapping.run import landcover_table_name

    if map_cfg.zones_path is None or map_cfg.zones_field is None:
        _with_zone(None, None)  # the one error message
    base_cfg = _single_year(map_cfg)
    # a class not in the table or converted twice, a self-transition, a slope rule without
    # a DEM: refused before any map run
    check_schedule(schedule, landcover_table_name(base_cfg), base_cfg.inputs)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        if baseline_dir is None or not all(
                (Path(baseline_dir) / n).is_file() for n in ("zonal_totals.csv", "run.json")):
            _run(base_cfg, work / "baseline", jobs)  # none given, or not a single-year map
            baseline_dir = work / "baseline"
        baseline_dir = Path(baseline_dir)
        field_name = map_cfg.zones_field
        zonal = _with_zone(pd.read_csv(baseline_dir / "zonal_totals.csv", dtype={
            field_name: str}, keep_default_na=False, na_values=[""]), field_name)
        baseline = zonal[["zone", "karst_sink_t_c_yr", "biological_sink_t_c_yr",
                          *[c for c in ("area_km2", "nodata_area_km2") if c in zonal]]].copy()
        baseline = _with_map_sd(baseline, baseline_dir / "uncertainty.csv", field_name)
        table_name = json.loads((baseline_dir / "run.json").read_text(encoding="utf-8"))[
            "parameters"]["landcover_table"]
        lct = load_landcover_table(table_name)
        lut = lct.table
        code = int(lct.classes.max()) + 1
        rows = []
        notes: dict[str, str] = {}
        for i, t in enumerate(schedule.transitions):
            froms, to = transition_codes(lct, schedule, i)
            slope = {} if t.min_slope_deg is None else {"min_slope_deg": t.min_slope_deg}
            real = [{"from": f, "to": to, **slope} for f in froms if f != to]
            if not real:
                raise ConfigError(f"Trajectory transition {t.name!r} converts {t.to_class!r} to "
                                  f"itself.")

            def diff(cfg: Any, tag: str, _i: int = i) -> pd.Series:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    res = _run(cfg, work / f"t{_i}_{tag}", jobs)
                for w in caught:  # runs B, C name the map's table, not their scratch copy
                    text = str(w.message)
                    warnings.warn(text if tag == "a" else text.replace(str(cfg.table), lct.name),
                                  w.category, stacklevel=2)
                return _with_zone(res.zonal, field_name).set_index("zone")[
                    "scenario_difference_t_c_yr"].astype(float)

            # run A: the transition itself (karst + biological potential)
            total = diff(dataclasses.replace(base_cfg, scenario_name=t.name,
                                             transitions=real), "a")
            # run B: synthetic classes with the old karst factors (biological potential)
            path_b = work / f"t{i}_b.csv"
            rules = _synthetic(lut, real, code, 0.0, path_b)
            bio = diff(dataclasses.replace(base_cfg, scenario_name=f"{t.name} (bio)",
                                           table=path_b, transitions=rules), "b"
                       ).reindex(total.index)
            frame = pd.DataFrame({
                "zone": total.index, "transition": t.name,
                "karst_potential_t_c_yr": (total - bio).to_numpy(),
                "biological_potential_t_c_yr": bio.to_numpy(),
                "total_potential_t_c_yr": total.to_numpy(),
                "from_codes": " ".join(str(f) for f in froms), "to_code": to,
                "eligible_area_km2": float("nan"),
                "biological_potential_lo_t_c_yr": float("nan"),
                "biological_potential_hi_t_c_yr": float("nan")})
            rng = _bio_range(lut, to) if t.biological_rel_sd is None else None
            if rng is not None:
                # run C: the same synthetic classes, sink + 1 t C km-2 yr-1: C - B = area
                path_c = work / f"t{i}_c.csv"
                rules = _synthetic(lut, real, code, 1.0, path_c)
                area = (diff(dataclasses.replace(base_cfg, scenario_name=f"{t.name} (area)",
                                                 table=path_c, transitions=rules), "c")
                        .reindex(total.index) - bio).to_numpy()
                value, lo, hi, src = rng
                notes[t.name] = (f"{t.name}: the new class's biological sink drawn uniform in "
                                 f"the land-cover table's range {lo:g}-{hi:g} t C km-2 yr-1 "
                                 f"(value {value:g}; {src or 'no range_source given'})")
                frame["eligible_area_km2"] = area
                frame["biological_potential_lo_t_c_yr"] = bio.to_numpy() + (lo - value) * area
                frame["biological_potential_hi_t_c_yr"] = bio.to_numpy() + (hi - value) * area
            rows.append(frame)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    potentials = pd.concat(rows, ignore_index=True)
    potentials.attrs["range_notes"] = notes  # one sentence per transition drawn in its range
    return baseline, potentials


#: the map's Monte Carlo 1-sigma of each zone total ([map.uncertainty]), taken as the
#: baseline's own error by :func:`karstsink.trajectory.trajectory`
_MAP_SD_COLUMNS = ("karst_sink_sd_t_c_yr", "biological_sink_sd_t_c_yr")


def _with_map_sd(baseline: pd.DataFrame, path: Path, field_name: str) -> pd.DataFrame:
    """The baseline zone totals with the map's ``[uncertainty]`` sds merged in by zone.

    From ``uncertainty.csv`` of the same map run, or for a series' year folder
    (``map/<year>/``, which has none) that year's rows of the series' ``map/uncertainty.csv``.
    """
    year = None
    if not path.is_file():
        folder = path.parent
        path = folder.parent / path.name
        if not (folder.name.isdigit() and path.is_file()
                and (folder.parent / "series.csv").is_file()):
            return baseline
        year = int(folder.name)
    unc = pd.read_csv(path, dtype={field_name: str}, keep_default_na=False, na_values=[""])
    if year is not None:
        unc = unc[unc["year"] == year] if "year" in unc else unc.iloc[:0]
    unc = _with_zone(unc, field_name)
    cols = [c for c in _MAP_SD_COLUMNS if c in unc]
    if not cols or unc.empty:
        return baseline
    return baseline.merge(unc[["zone", *cols]], on="zone", how="left", validate="one_to_one")


def stack_config(map_cfg: Any, schedule: Schedule) -> Any:
    """The map series of a schedule's projection stack.

    The baseline map configuration (as for the potentials: its own ``[scenario]``,
    optional outputs and ``[uncertainty]`` off, a series map's last year) with each
    stack input in place of the map's input of that name, and ``[series] years`` the
    stack's years, ``pairs = []`` (no change maps, no attribution).

    Raises
    ------
    ConfigError
        No stack, or a stack input the baseline map does not have.
    """
    from ..mapping._series_config import parse_series

    where = f"{schedule.path}: " if schedule.path else ""
    if not schedule.climate_stack:
        raise ConfigError(f"{where}[trajectory.climate] has no stack.")
    base = _single_year(map_cfg)
    extra = [n for n in schedule.climate_stack if n not in base.inputs]
    if extra:
        raise ConfigError(f"{where}[trajectory.climate] stack {', '.join(extra)}: not an input "
                          f"of the baseline map (its [map.inputs]: {', '.join(base.inputs)}); "
                          f"a stack input replaces the map's input of the same name.")
    inputs, specs = dict(base.inputs), dict(base.input_specs)
    templates = {}
    for name, spec in schedule.climate_stack.items():
        inputs[name] = templates[name] = spec.path
        specs[name] = spec
    series = parse_series(f"{where}[trajectory.climate] stack, as ", {
        "years": list(schedule.climate_stack_years), "pairs": [], "climate": [],
        "change_maps": []}, templates, inputs)
    # only the series' tables are read: no year or change maps are encoded
    return dataclasses.replace(base, inputs=inputs, input_specs=specs,
                               series=dataclasses.replace(series, maps=False))


def climate_stack_factors(map_cfg: Any, schedule: Schedule, baseline: pd.DataFrame,
                          work: str | os.PathLike, *, jobs: int | None = None
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Zone climate factors from one map series of the schedule's projection stack.

    Parameters
    ----------
    map_cfg : karstsink.mapping.MapConfig
        The baseline map configuration (with zones).
    schedule : karstsink.trajectory.Schedule
        A schedule with ``[trajectory.climate] stack``.
    baseline : pandas.DataFrame
        The baseline map's zone totals as :func:`trajectory_potentials` returns them
        (``zone``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr`` [t C a⁻¹]; with
        ``area_km2`` and ``nodata_area_km2`` [km²] the coverage is checked).
    work : path-like
        A scratch folder for the series run (created, and removed afterwards).
    jobs : int, optional
        Map worker threads.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        The factors (``zone``, ``year``, ``karst_climate_factor``,
        ``biological_climate_factor`` [-], every trajectory year:
        :func:`karstsink.trajectory.stack_climate_factors`) and the series' zone
        totals (``zone``, ``year``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr``,
        ``total_sink_t_c_yr`` [t C a⁻¹], the rows of its ``series.csv``).

    Warns
    -----
    UserWarning
        A projected year leaves more of a zone without data than the baseline map
        (over 0.1 % of its area): its factor then mixes the projection's coverage with
        its climate.
    """
    if map_cfg.zones_path is None or map_cfg.zones_field is None:
        _with_zone(None, None)  # the one error message
    cfg = stack_config(map_cfg, schedule)
    where = f"{schedule.path}: " if schedule.path else ""
    field_name = map_cfg.zones_field
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    try:
        res = _run(cfg, work / "stack", jobs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    series = res.series
    table = pd.DataFrame(series["series_table"])
    projected = pd.concat([_with_zone(table[table["year"] == y], field_name)
                           for y in schedule.climate_stack_years], ignore_index=True)
    if "nodata_area_km2" in baseline and "area_km2" in baseline:
        base = baseline.set_index("zone")
        for label, cols in (series.get("zonal") or {}).items():
            z = _with_zone(pd.DataFrame(cols), field_name).set_index("zone")
            more = (z["nodata_area_km2"] - base["nodata_area_km2"]).reindex(base.index)
            hit = base.index[(more > _COVERAGE_TOLERANCE * base["area_km2"]).to_numpy()]
            if len(hit):
                warnings.warn(
                    f"{where}[trajectory.climate] stack {label}: zone(s) "
                    f"{', '.join(hit[:5])} have more nodata area than the baseline map (up to "
                    f"{float(more[hit].max()):.3g} km2): their climate factors mix the "
                    f"projection's coverage with its climate.", UserWarning, stacklevel=2)
    keep = ["zone", "year", "karst_sink_t_c_yr", "biological_sink_t_c_yr",
            "total_sink_t_c_yr"]
    projected = projected[keep].reset_index(drop=True)
    return stack_climate_factors(schedule, baseline, projected), projected


def _total_zone(zones: pd.Series) -> str:
    from ..mapping._zone_io import TOTAL_LABEL

    hits = [z for z in zones if str(z) == TOTAL_LABEL]
    if not hits:
        raise ConfigError(f"the baseline zone table has no {TOTAL_LABEL!r} row to balance "
                          "against the emissions (was it written by karstsink map?).")
    return hits[0]


def run_trajectory(map_cfg: Any, schedule: Schedule | str | os.PathLike,
                   folder: str | os.PathLike, *, emissions: Any = "all",
                   baseline_dir: str | os.PathLike | None = None,
                   jobs: int | None = None, plot: bool = True) -> TrajectoryRun:
    """Potentials, trajectories with bands and their balance against the emissions.

    Writes into ``folder``: ``trajectory.csv`` (per zone and year, central path and
    95 % band [t C a⁻¹]), ``trajectory_shares.csv`` (converted and matured shares per
    transition and year), ``trajectory_potentials.csv``, ``trajectory_balance.csv``
    (the province path against each emission scenario, :func:`karstsink.scenario.balance`
    [t CO₂ a⁻¹, %]), ``trajectory_share_reached.csv`` (the year the schedule's
    ``target_share_pct`` is reached, :func:`karstsink.scenario.share_reached`),
    ``trajectory.png`` and, with a projection stack, ``trajectory_climate.csv`` (the
    zone climate factors per year [-], :func:`climate_stack_factors`; its map series
    runs in a scratch folder inside ``folder``, removed afterwards).

    Parameters
    ----------
    map_cfg : karstsink.mapping.MapConfig
        The baseline map configuration.
    schedule : Schedule or path-like
        The schedule, or its TOML file.
    folder : path-like
        Output folder (inside the run's output folder).
    emissions : str, path-like or pandas.DataFrame
        As :func:`karstsink.scenario.balance` takes them (default: the three shipped
        scenarios).
    baseline_dir, jobs
        As in :func:`trajectory_potentials`.
    plot : bool
        Draw ``trajectory.png``.
    """
    from ..scenario import balance, share_reached

    sched = schedule if isinstance(schedule, Schedule) else load_schedule(schedule)
    if sched.climate_stack:
        stack_config(map_cfg, sched)  # its errors before any map run
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    baseline, potentials = trajectory_potentials(
        map_cfg, sched, folder / ".trajectory_runs", baseline_dir=baseline_dir, jobs=jobs)
    climate = None
    if sched.climate_stack:
        climate, _ = climate_stack_factors(map_cfg, sched, baseline,
                                           folder / ".trajectory_climate_runs", jobs=jobs)
    result = trajectory(sched, baseline, potentials, climate=climate)
    result.assumptions.extend(potentials.attrs.get("range_notes", {}).values())
    zone = _total_zone(baseline["zone"])
    sinks, band = balance_sinks(result, zone)
    table = balance(sinks, emissions, years=(sched.first_year, sched.last_year),
                    total_band=band)
    reached = share_reached(table, sched.target_share_pct)
    out = {"trajectory.csv": result.table, "trajectory_shares.csv": result.shares,
           "trajectory_potentials.csv": potentials, "trajectory_balance.csv": table,
           "trajectory_share_reached.csv": reached}
    if climate is not None:
        out["trajectory_climate.csv"] = climate
    for name, frame in out.items():
        to_csv(frame, folder / name, index=False)
    run = TrajectoryRun(result=result, baseline=baseline, potentials=potentials,
                        balance=table, reached=reached, zone=zone, folder=folder,
                        files=list(out), climate=climate)
    if plot:
        from ..plots.trajectory import plot_trajectory

        run.figure = folder / "trajectory.png"
        plot_trajectory(table, run.figure, reached=reached,
                        gain=result.table[result.table["zone"] == zone],
                        title=f"Restoration trajectory {sched.name!r} against emission "
                              f"scenarios")
        run.files.append("trajectory.png")
    return run


def trajectory_stage(cfg: dict, map_dir: str | os.PathLike | None, tmp: str | os.PathLike,
                     jobs: int | None = None) -> tuple[TrajectoryRun | None, Any]:
    """The trajectory stage of ``karstsink run``: outputs in ``scenario/`` and its section.

    Parameters
    ----------
    cfg : dict
        The checked run configuration; the stage runs when ``cfg["scenario"]`` has a
        ``trajectory`` schedule path and ``cfg["map"]`` is set.
    map_dir : path-like or None
        The run's finished map folder (its baseline), or None to run the baseline.
    tmp : path-like
        The run's output folder.
    jobs : int, optional
        Map worker threads.

    Returns
    -------
    (TrajectoryRun or None, karstsink.report.Section or None)
        Both None when no trajectory is configured.
    """
    from ._trajectory_section import trajectory_section

    schedule = (cfg.get("scenario") or {}).get("trajectory")
    if not schedule or cfg.get("map") is None:
        return None, None
    run = run_trajectory(cfg["map"], schedule, Path(tmp) / "scenario",
                         emissions=cfg["scenario"].get("emissions", "all"),
                         baseline_dir=map_dir, jobs=jobs)
    return run, trajectory_section(run, co2=bool(cfg["project"]["co2"]))
