"""The run configuration (one TOML file) for ``karstsink run``: read, check, fill defaults.

Every problem raises one :class:`~karstsink.exceptions.ConfigError` that names
the file, the key (as ``[table].key``) and what to write instead. Relative paths
are resolved against the folder holding the TOML file, so a configuration can
be copied together with its data. Input files must exist; output folders need
not.

A complete example is ``data/demo/demo.toml``; every key is listed in the
documentation page *Run configuration* (``docs/config.md``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from pathlib import Path
from typing import Any

from ._seed import seed_problem
from .exceptions import ConfigError, KarstSinkError
from .io.tomlfile import read_toml, toml_number

__all__ = ["load_run_config", "validate_run_config"]

_TOP = {"project", "speciation", "carbon", "catchments", "map", "scenario", "report"}
_PROJECT = {"name": str, "output": str, "co2": bool}
_SPECIATION = {"samples": (str, list), "database": str, "units": str, "engine": str,
               "jobs": int}
_NUMBER = (int, float)
#: ``[carbon]``: one set of carbon-accounting parameters for speciation, every catchment and
#: the map (see :mod:`karstsink.carbon`); shares 0-1, concentrations [mmol L-1] >= 0.
_CARBON_SHARES = ("acid_so4_share", "evaporite_so4_share", "acid_no3_share", "bcp_share")
_CARBON_MAP = ("so4_mmol_l", "no3_mmol_l")
_CARBON = {k: _NUMBER for k in _CARBON_SHARES + _CARBON_MAP}
#: WRTDS options of a catchment (``method = "wrtds"`` only), passed to
#: :func:`karstsink.flux.wrtds.estimate_wrtds`.
_WRTDS = {"bootstrap": int, "jobs": int, "window_y": _NUMBER, "window_q": _NUMBER,
          "window_s": _NUMBER, "min_obs": int, "min_uncen": int, "seed": int,
          "block_days": int, "edge_adjust": bool}
_CATCHMENT = {"name": str, "area_km2": _NUMBER, "discharge": str, "samples": str,
              "boundary": str, "boundary_layer": str, "samples_sheet": (str, int),
              "discharge_sheet": (str, int),
              "constituent": str, "units": str, "method": str, "model": int,
              "q_unit": str, "q_column": str, "date_column": str, "date_format": str,
              "max_gap_days": int, "allow_gaps": bool, "year_start": int,
              "proxy": str, "extra": (str, list),
              "so4": str, "no3": str, "toc": str, "silicate_fraction": _NUMBER,
              **{k: _NUMBER for k in _CARBON_SHARES}, **_WRTDS, "trend": dict}
_SCENARIO = {"emissions": str, "sinks_from": str, "karst_t_c_yr": (int, float),
             "biological_t_c_yr": (int, float), "start_year": int, "end_year": int,
             "trajectory": str}
_REPORT = {"title": str, "html": bool, "synthetic": bool}

_TYPE_NAMES = {str: "a string", bool: "true or false", int: "a whole number",
               float: "a number", list: "a list", dict: "a table"}


class _Checker:
    """Collects the file name so every message can name it."""

    def __init__(self, path: Path):
        self.path = path
        self.base = path.parent

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {message}")

    def table(self, data: Any, key: str) -> dict:
        if not isinstance(data, dict):
            raise self.fail(key, f"must be a table ([{key}]), not {type(data).__name__}.")
        return data

    def known(self, table: dict, allowed, where: str) -> None:
        for k in table:
            if k not in allowed:
                raise self.fail(
                    f"{where}.{k}" if where else k,
                    f"unknown key; allowed here: {', '.join(sorted(allowed))}.",
                )

    def typed(self, table: dict, spec: dict, where: str) -> None:
        for k, want in spec.items():
            if k not in table:
                continue
            types = want if isinstance(want, tuple) else (want,)
            value = table[k]
            ok = isinstance(value, types) and not (
                isinstance(value, bool) and bool not in types
            )
            if not ok:
                names = ("a number" if set(types) == {int, float}
                         else " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in types))
                raise self.fail(f"{where}.{k}", f"must be {names}, not {value!r}.")

    def path_value(self, value: Any, key: str, *, must_exist: bool = True) -> Path:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a file path (a string), not {value!r}.")
        p = Path(os.path.expanduser(value))
        if not p.is_absolute():
            p = (self.base / p).resolve()
        if must_exist and not p.exists():
            raise self.fail(key, f"file {value!r} not found (looked for {p}); paths are "
                                 "relative to the folder of the TOML file.")
        return p


def _map_config(c: _Checker, section: dict) -> Any:
    """Validate ``[map]`` with :func:`karstsink.mapping.config.config_from_dict`."""
    from .mapping.config import config_from_dict, keys_in_run

    try:
        # in_run: the map's own assumptions name the run's keys ([carbon], [map.grid])
        return dataclasses.replace(config_from_dict(section, base=c.base, source=c.path),
                                   in_run=True)
    except ConfigError as err:
        text = str(err)
        prefix = f"{c.path}: "
        if text.startswith(prefix):
            text = text[len(prefix):]
        raise c.fail("map", keys_in_run(text.replace("section [", "section [map."))) from err


def _number(c: _Checker, value: Any, key: str, what: str, lo: float = 0.0,
            hi: float | None = None) -> float:
    """A number of the run configuration, by the one TOML number check."""
    return toml_number(value, f"{c.path}: {key}:", lo=lo, hi=hi, what=what)


def _share(c: _Checker, table: dict, key: str, where: str) -> float:
    return _number(c, table[key], f"{where}.{key}", "a share", hi=1.0)


def _carbon_config(c: _Checker, raw: Any) -> dict[str, Any]:
    """``[carbon]``: the run's carbon-accounting parameters, defaults from :mod:`karstsink.carbon`.

    Returns ``{acid_so4_share, evaporite_so4_share, acid_no3_share, bcp_share [0-1],
    so4_mmol_l, no3_mmol_l [mmol L-1] or None, "given": keys written in the file}``.
    """
    from . import carbon as cb

    table = c.table(raw, "carbon")
    c.known(table, _CARBON, "carbon")
    c.typed(table, _CARBON, "carbon")
    out: dict[str, Any] = {}
    for key, default in cb.DEFAULT_SHARES.items():
        out[key] = _share(c, table, key, "carbon") if key in table else float(default)
    for key in _CARBON_MAP:
        value = table.get(key)
        out[key] = None if value is None else _number(c, value, f"carbon.{key}",
                                                      "a concentration in mmol/L")
    out["given"] = sorted(table)
    return out


def _trend(c: _Checker, raw: Any, where: str, method: str, name: str,
           allow_gaps: Any = False) -> dict | None:
    """A catchment's ``trend`` table: :func:`karstsink.workflows.trend.trend_config`."""
    if raw is None:
        return None
    if allow_gaps is True:  # a WRTDS trend needs every day, as karstsink trend does
        raise c.fail(f"{where}.trend", "needs a discharge record without missing days, and "
                                       "allow_gaps = true keeps them missing: fill the gaps "
                                       "or raise max_gap_days, or leave out the trend table")
    from .workflows.trend import trend_config

    return trend_config(c, raw, where, method, name)


def _catchment_config(c: _Checker, i: int, raw: Any, carbon: dict, seen: set[str]) -> dict:
    """One ``[[catchments]]`` table: every option of ``karstsink flux``, checked.

    Keys of messages are the TOML keys (``catchments[0].area_km2``).
    """
    from .flux import METHODS

    where = f"catchments[{i}]"
    entry = c.table(raw, where)
    c.known(entry, _CATCHMENT, where)
    c.typed(entry, _CATCHMENT, where)
    for key in ("name", "area_km2", "discharge", "samples"):
        if key not in entry:
            raise c.fail(f"{where}.{key}", "is required (name, area_km2, discharge and "
                                           "samples must be given for every catchment).")
    name = entry["name"].strip()
    if not name:
        raise c.fail(f"{where}.name", "must not be empty.")
    if name in seen:
        raise c.fail(f"{where}.name", f"catchment {name!r} is given twice.")
    seen.add(name)

    def fail(key: str, message: str) -> ConfigError:
        return c.fail(f"{where}.{key}", f"{message} (catchment {name!r})")

    area = float(entry["area_km2"])
    if not (area > 0 and math.isfinite(area)):
        raise fail("area_km2", f"must be a positive area in km2, not {area:g}")
    method = entry.get("method", "loadest").lower()
    if method not in METHODS:
        raise fail("method", f"{method!r} is not one of {', '.join(METHODS)}")
    from .flux.aggregate import DEFAULT_YEAR_START_MONTH
    from .io.discharge import DEFAULT_MAX_GAP_DAYS

    year_start = entry.get("year_start", DEFAULT_YEAR_START_MONTH)
    if not 1 <= year_start <= 12:
        raise fail("year_start", "must be a month number 1-12 (10 = water year starting in "
                                 "October)")
    max_gap = entry.get("max_gap_days", DEFAULT_MAX_GAP_DAYS)
    if max_gap < 0:
        raise fail("max_gap_days", "must be 0 or more days")

    # estimator options: each only where its estimator reads it
    options: dict[str, Any] = {}
    if "model" in entry:
        if method != "loadest":
            raise fail("model", f"is the LOADEST model number; method is {method!r} "
                                "(set method = \"loadest\" or remove model)")
        if entry["model"] not in (*range(10), 99):
            raise fail("model", f"must be a LOADEST model 1-9 (0: choose by AIC; 99 with "
                                f"extra regressors), not {entry['model']}")
        options["model"] = entry["model"]
    for key in _WRTDS:
        if key not in entry:
            continue
        if method != "wrtds":
            raise fail(key, f"is a WRTDS option; method is {method!r} (set method = "
                            "\"wrtds\" or remove it)")
        value = entry[key]
        if key in ("window_y", "window_q", "window_s") and not (
                value > 0 and math.isfinite(value)):
            raise fail(key, f"must be a positive, finite half-window, not {value!r}")
        from .flux._wrtds_core import MIN_OBS_FLOOR  # 5 coefficients and a residual sd
        low = {"min_obs": MIN_OBS_FLOOR, "min_uncen": 1, "jobs": 1, "block_days": 2}.get(key)
        if low is not None and value < low:
            raise fail(key, f"must be {low} or more, not {value!r}")
        if key == "bootstrap" and value < 0:
            raise fail(key, "must be 0 (no intervals) or more replicates")
        if key == "seed" and (problem := seed_problem(value)):
            raise fail(key, problem)
        options[key] = float(value) if key.startswith("window_") else value
    proxy = entry.get("proxy")
    if proxy is not None and method != "direct":
        raise fail("proxy", f"is for method = \"direct\" (method is {method!r}; use extra "
                            "for LOADEST)")
    extra = entry.get("extra")
    if extra is not None:
        extra = [extra] if isinstance(extra, str) else extra
        if not extra or not all(isinstance(x, str) and x.strip() for x in extra):
            raise fail("extra", "must be a discharge-file column name or a list of them")
        if method != "loadest":
            raise fail("extra", f"regressors are for method = \"loadest\" (model 99); "
                                f"method is {method!r}")

    # a share in the catchment's own table needs the column it acts on (the rule of
    # karstsink flux, SOURCE_OPTIONS); a [carbon] share is for every catchment: no column
    from .workflows.catchment import SHARE_COLUMNS as source_of
    shares = {}
    overrides = {}
    for key in _CARBON_SHARES:
        if key in entry:
            shares[key] = _share(c, entry, key, where)
            column, what = source_of[key]
            if entry.get(column) is None:
                raise fail(key, f"needs {where}.{column}, the {what} column of the samples "
                                f"whose flux it acts on: name it ({column} = \"{column}\"), or "
                                f"leave {key} out (a share for every catchment goes in "
                                "[carbon])")
            if shares[key] != carbon[key]:
                overrides[key] = shares[key]
        else:
            shares[key] = carbon[key]
    silicate = entry.get("silicate_fraction")
    if silicate is not None:
        silicate = _share(c, entry, "silicate_fraction", where)

    boundary = None
    if "boundary" in entry:
        boundary = c.path_value(entry["boundary"], f"{where}.boundary")
    elif "boundary_layer" in entry:
        raise fail("boundary_layer", "needs boundary (the outline file it is a layer of)")
    return {
        "name": name,
        "area_km2": area,
        "discharge": c.path_value(entry["discharge"], f"{where}.discharge"),
        "samples": c.path_value(entry["samples"], f"{where}.samples"),
        "samples_sheet": entry.get("samples_sheet"),
        "discharge_sheet": entry.get("discharge_sheet"),
        "boundary": boundary,
        "boundary_layer": entry.get("boundary_layer"),
        "constituent": entry.get("constituent", "hco3"),
        "units": entry.get("units"),
        "method": method,
        "method_options": options,
        "q_unit": entry.get("q_unit"),
        "q_column": entry.get("q_column"),
        "date_column": entry.get("date_column"),
        "date_format": entry.get("date_format"),
        "max_gap_days": max_gap,
        "allow_gaps": entry.get("allow_gaps", False),
        "year_start": year_start,
        "proxy": proxy,
        "extra": extra,
        "so4": entry.get("so4"),
        "no3": entry.get("no3"),
        "toc": entry.get("toc"),
        **shares,
        "silicate_fraction": silicate,
        "carbon_overrides": overrides,
        "trend": _trend(c, entry.get("trend"), where, method, name, entry.get("allow_gaps")),
        "key": where,
        "given": sorted(entry),  # keys written in the file: messages mark the others default
    }


def _map_with_carbon(c: _Checker, section: dict, carbon: dict) -> dict:
    """``[map]`` with ``[model]`` filled from ``[carbon]`` (one basis for catchments and map)."""
    section = copy.deepcopy(section)
    model = section.get("model", {})
    if not isinstance(model, dict):
        return section  # the map validator reports it
    from .mapping.config import CARBON_KEYS  # the [model] keys a run sets in [carbon]

    for key in CARBON_KEYS:
        if key in model:
            raise c.fail(f"map.model.{key}", f"set it in [carbon] ({key} = ...), which "
                                             "speciation, every catchment and the map share.")
    for key in CARBON_KEYS:
        if carbon.get(key) is not None:
            model[key] = carbon[key]
    section["model"] = model
    return section


def _co2(c: _Checker, project_co2: bool | None, data: dict, out_map: Any
         ) -> tuple[bool, str | None]:
    """The run's one t C / t CO2 choice: ``(co2, the TOML key it came from or None)``.

    ``[project] co2`` and ``[map.model] co2`` both choose it; the key written wins, two
    written keys must agree, and neither gives t C. The checked map takes the choice too.
    """
    model = data.get("map", {}).get("model", {})  # [map] was checked: tables, co2 a bool
    map_co2 = model.get("co2") if isinstance(model, dict) else None
    if project_co2 is not None and map_co2 is not None and project_co2 != map_co2:
        raise c.fail("project.co2", f"is {str(project_co2).lower()} but map.model.co2 is "
                                    f"{str(map_co2).lower()}; both choose t C or t CO2 for "
                                    "the run: remove one of them or write the same value "
                                    "in both.")
    key = "project.co2" if project_co2 is not None else (
        "map.model.co2" if map_co2 is not None else None)
    co2 = bool(project_co2 if project_co2 is not None else map_co2)
    if out_map is not None:
        out_map.co2 = co2
    return co2, key


def load_run_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a run configuration TOML file.

    Parameters
    ----------
    path : str or path-like
        The TOML file.

    Returns
    -------
    dict
        The configuration with defaults filled in and every path an absolute
        :class:`pathlib.Path` (relative paths are taken from the TOML file's
        folder). Keys: ``project``, ``speciation``, ``catchments`` (list),
        ``map`` (a validated :class:`karstsink.mapping.config.MapConfig`, or
        None), ``scenario``, ``report``, plus ``config_path`` and ``base_dir``.
        ``project["co2"]`` is the run's one t C / t CO2 choice, from ``[project] co2``
        or ``[map.model] co2`` (whichever is written; false when neither is), and
        ``project["co2_key"]`` the key it came from (None: the default).

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, or a key is unknown, of the
        wrong type, out of range, or names a file that does not exist, or
        ``[project] co2`` and ``[map.model] co2`` disagree. The message names the
        file and the key.

    Examples
    --------
    >>> cfg = load_run_config("data/demo/demo.toml")  # doctest: +SKIP
    >>> cfg["catchments"][0]["area_km2"]  # doctest: +SKIP
    75.0
    """
    p = Path(path)
    return validate_run_config(read_toml(p, "run configuration"), p.resolve())


def validate_run_config(data: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """Check an already-parsed configuration (see :func:`load_run_config`).

    Parameters
    ----------
    data : dict
        Parsed TOML.
    path : str or path-like
        The file it came from: used in messages and as the base of relative
        paths.

    Returns
    -------
    dict
        As :func:`load_run_config`.
    """
    c = _Checker(Path(path))
    data = copy.deepcopy(data)
    c.known(data, _TOP, "")

    # [project]
    project = c.table(data.get("project", {}), "project")
    c.known(project, _PROJECT, "project")
    c.typed(project, _PROJECT, "project")
    out_project = {
        "name": project.get("name", c.path.stem),
        "output": c.path_value(project.get("output", "karstsink_output"), "project.output",
                               must_exist=False),
        "co2": project.get("co2"),  # None when not written: _co2 resolves it with [map]
    }

    # [carbon]: one set of carbon parameters for speciation, catchments and map
    carbon = _carbon_config(c, data.get("carbon", {}))

    # [[catchments]]
    raw_catchments = data.get("catchments", [])
    if isinstance(raw_catchments, dict):
        raise c.fail("catchments", "write each catchment as [[catchments]] (double brackets).")
    if not isinstance(raw_catchments, list):
        raise c.fail("catchments", "must be a list of [[catchments]] tables.")
    catchments = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_catchments):
        catchments.append(_catchment_config(c, i, raw, carbon, seen))

    # [speciation]
    spec = c.table(data.get("speciation", {}), "speciation")
    c.known(spec, _SPECIATION, "speciation")
    c.typed(spec, _SPECIATION, "speciation")
    samples = spec.get("samples")
    if samples is None:
        sample_paths = list(dict.fromkeys(ct["samples"] for ct in catchments))
    else:
        items = [samples] if isinstance(samples, str) else samples
        if not all(isinstance(s, str) for s in items):
            raise c.fail("speciation.samples", "must be a path or a list of paths.")
        sample_paths = [c.path_value(s, f"speciation.samples[{j}]") for j, s in enumerate(items)]
    database = spec.get("database", "phreeqc.dat")
    from .chemistry.database import builtin_databases

    bundled = builtin_databases()
    if database not in bundled and ("/" in database or "\\" in database
                                    or (c.base / database).exists()):
        database = c.path_value(database, "speciation.database")
    elif database not in bundled:
        raise c.fail("speciation.database", f"{database!r} is neither a file (paths are "
                     "relative to the folder of the TOML file) nor one of the bundled "
                     f"databases ({', '.join(bundled)}).")
    engine = spec.get("engine", "phreeqc")
    if engine not in ("phreeqc", "phreeqpy"):
        raise c.fail("speciation.engine", f"{engine!r} is not 'phreeqc' or 'phreeqpy'.")
    jobs = spec.get("jobs")
    if jobs is not None and jobs < 1:
        raise c.fail("speciation.jobs", "must be 1 or more.")
    sheets: dict[str, Any] = {}  # a catchment's samples_sheet: speciation's too, one per file
    for i, ct in enumerate(catchments):  # (no sheet: the reader's default sheet)
        if sheets.setdefault(f := str(ct["samples"]), ct["samples_sheet"]) != ct["samples_sheet"]:
            raise c.fail(f"catchments[{i}].samples_sheet", f"another catchment reads {f} with "
                         f"samples_sheet {sheets[f]!r}, and speciation reads one sheet per "
                         "file: give both the same samples_sheet, or each its own file.")
    sheets = {k: v for k, v in sheets.items() if v is not None}
    out_spec = {"samples": sample_paths, "database": database, "units": spec.get("units"),
                "engine": engine, "jobs": jobs, "sheets": sheets}

    # [map]: the `karstsink map` configuration, checked by the map stage's own validator so
    # the two never drift apart; its messages are re-labelled "[map.<section>]".
    out_map = None
    if "map" in data:
        out_map = _map_config(c, _map_with_carbon(c, c.table(data["map"], "map"), carbon))
    out_project["co2"], out_project["co2_key"] = _co2(c, out_project["co2"], data, out_map)

    # [scenario]
    scen = c.table(data.get("scenario", {}), "scenario")
    c.known(scen, _SCENARIO, "scenario")
    c.typed(scen, _SCENARIO, "scenario")
    raw_emissions = str(scen.get("emissions", "all"))
    from .io.emissions import emissions_span, shipped_name

    emissions: str | Path = (shipped_name(raw_emissions)
                             or c.path_value(raw_emissions, "scenario.emissions"))
    try:  # a file the balance stage cannot read fails now, before any stage runs
        y0, y1 = emissions_span(emissions)  # the first and last years every series covers
    except KarstSinkError as err:
        raise c.fail("scenario.emissions", str(err)) from None
    sinks_from = scen.get("sinks_from", "map")
    if sinks_from not in ("map", "given"):
        raise c.fail("scenario.sinks_from", f"{sinks_from!r} is not 'map' or 'given'.")
    if sinks_from == "map" and out_map is None and "scenario" in data:
        raise c.fail("scenario.sinks_from", "is 'map' but there is no [map] section; add one "
                                            "or set sinks_from = \"given\" with karst_t_c_yr.")
    if sinks_from == "given" and "karst_t_c_yr" not in scen:
        raise c.fail("scenario.karst_t_c_yr", "is required when sinks_from = \"given\" "
                                              "(the karst sink in t C per year).")
    for key in ("karst_t_c_yr", "biological_t_c_yr"):
        if key in scen:
            _number(c, scen[key], f"scenario.{key}", "t C per year taken up")
    lo, hi = (max(y0, 2020), min(y1, 2060)) if y0 <= 2060 and y1 >= 2020 else (y0, y1)
    start, end = scen.get("start_year", lo), scen.get("end_year", hi)  # 2020-2060 in the table
    if start > end:
        raise c.fail("scenario.end_year", f"{end} is before start_year {start}.")
    for key, year in (("start_year", start), ("end_year", end)):  # never extrapolated
        if not y0 <= year <= y1:
            raise c.fail(f"scenario.{key}", f"{year}{'' if key in scen else ' (default)'} is out"
                         f"side {y0}-{y1}, the years of emissions {raw_emissions!r}: move it in.")
    trajectory = None
    if "trajectory" in scen:  # a restoration schedule (karstsink.trajectory)
        if out_map is None:
            raise c.fail("scenario.trajectory", "needs a [map] section: the trajectory's "
                                                "potentials are map runs.")
        trajectory = c.path_value(scen["trajectory"], "scenario.trajectory")
        from .trajectory import load_schedule

        sched = load_schedule(trajectory)  # every schedule error before any stage runs
        table = getattr(out_map, "table", None)
        if table is not None:  # a named land-cover table: its class names are known now
            from .trajectory import check_schedule

            check_schedule(sched, table, out_map.inputs, where=f"{trajectory}: ")
        # else the table is guessed from the land-cover raster, before the first stage
        # (karstsink.workflows.run)
    out_scen = {"emissions": emissions, "sinks_from": sinks_from, "trajectory": trajectory,
                "karst_t_c_yr": scen.get("karst_t_c_yr"), "start_year": start, "end_year": end,
                "biological_t_c_yr": scen.get("biological_t_c_yr")}

    # [report]
    rep = c.table(data.get("report", {}), "report")
    c.known(rep, _REPORT, "report")
    c.typed(rep, _REPORT, "report")
    out_rep = {"title": rep.get("title", f"karstsink: {out_project['name']}"),
               "html": rep.get("html", True), "synthetic": rep.get("synthetic", False)}

    return {"project": out_project, "speciation": out_spec, "carbon": carbon,
            "catchments": catchments, "map": out_map, "scenario": out_scen, "report": out_rep,
            "config_path": c.path, "base_dir": c.base}
