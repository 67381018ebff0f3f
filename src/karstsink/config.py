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
import os
import sys
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["FLUX_METHODS", "SCENARIO_NAMES", "load_run_config", "validate_run_config"]

#: Flux estimators a catchment may ask for.
FLUX_METHODS = ("direct", "rating", "loadest", "wrtds")
#: Emission scenarios understood besides a CSV path.
SCENARIO_NAMES = ("baseline", "high-speed", "low-carbon", "all")

_TOP = {"project", "speciation", "catchments", "map", "scenario", "report"}
_PROJECT = {"name": str, "output": str, "co2": bool}
_SPECIATION = {"samples": (str, list), "database": str, "units": str, "engine": str,
               "jobs": int}
_CATCHMENT = {"name": str, "area_km2": (int, float), "discharge": str, "samples": str,
              "constituent": str, "units": str, "method": str, "q_unit": str,
              "year_start": int, "so4": str, "no3": str, "toc": str,
              "acid_so4_share": (int, float), "evaporite_so4_share": (int, float)}
_SCENARIO = {"emissions": str, "sinks_from": str, "karst_t_c_yr": (int, float),
             "biological_t_c_yr": (int, float), "start_year": int, "end_year": int}
_REPORT = {"title": str, "html": bool, "synthetic": bool}
_BUNDLED_DATABASES = {"phreeqc.dat", "wateq4f.dat", "llnl.dat", "minteq.v4.dat", "minteq.dat",
                      "pitzer.dat", "sit.dat", "amm.dat", "iso.dat", "frezchem.dat",
                      "core10.dat", "kinec.v2.dat", "phreeqc_rates.dat", "tdb.dat",
                      "stimela.dat", "concrete_phr.dat", "concrete_pz3.dat", "pz3.dat"}

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
    import re

    from .mapping.config import config_from_dict

    try:
        return config_from_dict(section, base=c.base, source=c.path)
    except ConfigError as err:
        text = str(err)
        prefix = f"{c.path}: "
        if text.startswith(prefix):
            text = text[len(prefix):]
        text = text.replace("section [", "section [map.")
        text = re.sub(r"\[(inputs|tables|zones|grid|model|scenario|dask)\]", r"[map.\1]", text)
        raise c.fail("map", text) from err


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

    Raises
    ------
    ConfigError
        If the file is missing or not valid TOML, or a key is unknown, of the
        wrong type, out of range, or names a file that does not exist. The
        message names the file and the key.

    Examples
    --------
    >>> cfg = load_run_config("data/demo/demo.toml")  # doctest: +SKIP
    >>> cfg["catchments"][0]["area_km2"]  # doctest: +SKIP
    75.0
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: run configuration file not found.")
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: not valid TOML ({err}).") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not UTF-8 text ({err}); save the file as UTF-8.") from err
    return validate_run_config(data, p.resolve())


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
        "co2": project.get("co2", False),
    }

    # [[catchments]]
    raw_catchments = data.get("catchments", [])
    if isinstance(raw_catchments, dict):
        raise c.fail("catchments", "write each catchment as [[catchments]] (double brackets).")
    if not isinstance(raw_catchments, list):
        raise c.fail("catchments", "must be a list of [[catchments]] tables.")
    catchments = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_catchments):
        where = f"catchments[{i}]"
        entry = c.table(raw, where)
        c.known(entry, _CATCHMENT, where)
        c.typed(entry, _CATCHMENT, where)
        for key in ("name", "area_km2", "discharge", "samples"):
            if key not in entry:
                raise c.fail(f"{where}.{key}", "is required (name, area_km2, discharge and "
                                               "samples must be given for every catchment).")
        name = entry["name"].strip()
        where = f"catchments[{i}] ({name!r})"
        if not name:
            raise c.fail(f"{where}.name", "must not be empty.")
        if name in seen:
            raise c.fail(f"{where}.name", f"catchment {name!r} is given twice.")
        seen.add(name)
        area = float(entry["area_km2"])
        if not area > 0:
            raise c.fail(f"{where}.area_km2", f"must be a positive area in km2, not {area}.")
        method = entry.get("method", "loadest").lower()
        if method not in FLUX_METHODS:
            raise c.fail(f"{where}.method", f"{method!r} is not one of {', '.join(FLUX_METHODS)}.")
        year_start = entry.get("year_start", 10)
        if not 1 <= year_start <= 12:
            raise c.fail(f"{where}.year_start", "must be a month number 1-12 (10 = water year "
                                                "starting in October).")
        catchments.append({
            "name": name,
            "area_km2": area,
            "discharge": c.path_value(entry["discharge"], f"{where}.discharge"),
            "samples": c.path_value(entry["samples"], f"{where}.samples"),
            "constituent": entry.get("constituent", "hco3"),
            "units": entry.get("units", "mg/L"),
            "method": method,
            "q_unit": entry.get("q_unit", "m3/s"),
            "year_start": year_start,
            "so4": entry.get("so4"),
            "no3": entry.get("no3"),
            "toc": entry.get("toc"),
            "acid_so4_share": float(entry.get("acid_so4_share", 1.0)),
            "evaporite_so4_share": float(entry.get("evaporite_so4_share", 0.0)),
        })
        for key in ("acid_so4_share", "evaporite_so4_share"):
            if not 0.0 <= catchments[-1][key] <= 1.0:
                raise c.fail(f"{where}.{key}", "must be a share between 0 and 1.")

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
    if database not in _BUNDLED_DATABASES and ("/" in database or "\\" in database
                                                or (c.base / database).exists()):
        database = c.path_value(database, "speciation.database")
    engine = spec.get("engine", "phreeqc")
    if engine not in ("phreeqc", "phreeqpy"):
        raise c.fail("speciation.engine", f"{engine!r} is not 'phreeqc' or 'phreeqpy'.")
    jobs = spec.get("jobs")
    if jobs is not None and jobs < 1:
        raise c.fail("speciation.jobs", "must be 1 or more.")
    out_spec = {"samples": sample_paths, "database": database, "units": spec.get("units"),
                "engine": engine, "jobs": jobs}

    # [map]: the `karstsink map` configuration, checked by the map stage's own validator so
    # the two never drift apart; its messages are re-labelled "[map.<section>]".
    out_map = None
    if "map" in data:
        out_map = _map_config(c, c.table(data["map"], "map"))

    # [scenario]
    scen = c.table(data.get("scenario", {}), "scenario")
    c.known(scen, _SCENARIO, "scenario")
    c.typed(scen, _SCENARIO, "scenario")
    emissions: str | Path = scen.get("emissions", "all")
    if emissions.lower() in SCENARIO_NAMES:
        emissions = emissions.lower()
    else:
        emissions = c.path_value(emissions, "scenario.emissions")
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
        if key in scen and scen[key] < 0:
            raise c.fail(f"scenario.{key}", "must not be negative (t C per year taken up).")
    start, end = scen.get("start_year", 2020), scen.get("end_year", 2060)
    if start > end:
        raise c.fail("scenario.end_year", f"{end} is before start_year {start}.")
    out_scen = {"emissions": emissions, "sinks_from": sinks_from,
                "karst_t_c_yr": scen.get("karst_t_c_yr"),
                "biological_t_c_yr": scen.get("biological_t_c_yr"),
                "start_year": start, "end_year": end}

    # [report]
    rep = c.table(data.get("report", {}), "report")
    c.known(rep, _REPORT, "report")
    c.typed(rep, _REPORT, "report")
    out_rep = {"title": rep.get("title", f"karstsink: {out_project['name']}"),
               "html": rep.get("html", True), "synthetic": rep.get("synthetic", False)}

    return {"project": out_project, "speciation": out_spec, "catchments": catchments,
            "map": out_map, "scenario": out_scen, "report": out_rep,
            "config_path": c.path, "base_dir": c.base}
