"""The ``karstsink map`` configuration file (TOML): loading and validation.

Paths are relative to the configuration file.  Every problem is reported as
one :class:`~karstsink.exceptions.ConfigError` naming the section and key.
Example (all sections but ``[inputs]`` are optional)::

    [inputs]
    landcover = "lc.tif"            # integer classes
    carbonate = "carb.tif"          # 0/1 mask or 0..1 fraction of carbonate rock
    dolomite_fraction = "dol.tif"   # optional, 0..1 share of dolomite in the carbonate
    runoff = "runoff.tif"           # mm/yr (or precipitation + evapotranspiration, mm/yr)
    temperature = "t.tif"           # degC
    soil_pco2 = "pco2.tif"          # ppmv (or aet = "aet.tif", mm/yr: Brook et al. 1983)
    nep = "nep.tif"                 # optional, g C m-2 yr-1: net ecosystem production (the sink)
                                    # (or npp = "npp.tif" with [model] npp_to_nep, see below)
    dem = "dem.tif"                 # optional, m: pressure correction, scenario slopes
    # any input may be an inline table: { path = "...", units = "K", scale = 0.1,
    # offset = 0, force = true } (see karstsink.mapping._inputs)

    [tables]
    landcover = "worldcover"        # or "clcd" or a CSV path

    [zones]
    path = "counties.gpkg"
    field = "name"

    [grid]
    like = "lc.tif"                 # default: the land-cover grid
    block_size = 512

    [model]
    system = "open"                 # or "closed"
    database = "phreeqc.dat"
    outputs = ["dissolution", "denudation"]
    co2 = false                     # write t CO2 instead of t C
    rock_density_t_m3 = 2.7
    so4_mmol_l = 0.3123             # karst water's sulfate [mmol/L] (absent: no correction)
    no3_mmol_l = 0.16128            # karst water's nitrate [mmol/L] (absent: no correction)
    acid_so4_share = 1.0            # share of non-evaporite SO4 from sulfuric acid (0-1)
    evaporite_so4_share = 0.0       # share of SO4 from gypsum/anhydrite (0-1)
    acid_no3_share = 1.0            # share of NO3 from nitrification (nitric acid) (0-1)
    npp_to_nep = 0.5                # only with an npp raster: NEP / NPP ratio (0-1)
    npp_to_nep_source = "..."       # where that ratio comes from (written to the outputs)

    [scenario]
    name = "restoration"
    transitions = [{from = 40, to = 10, min_slope_deg = 25}]

    [dask]
    address = "local"               # or "tcp://scheduler:8786"
    tile_size = 8192

    [series]                        # yearly maps: inputs with {year} in their path vary
    years = [2000, 2010, 2020]      # (karstsink.mapping._series_config, docs/series.md)
    pairs = [[2000, 2020]]

    [uncertainty]                   # Monte Carlo zone intervals (karstsink.mapping._draws)
    draws = 100
    seed = 1
    runoff_rel_sd = 0.1             # give a source for these in your report
    temperature_sd_c = 0.5
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError
from ..io.tomlfile import toml_number
from ._draws import KEYS as UNCERTAINTY_KEYS
from ._draws import UncertaintyConfig, parse_uncertainty
from ._inputs import InputSpec, implied_inputs, parse_input
from ._series_config import YEAR, SeriesConfig, parse_series, template_path

__all__ = ["MapConfig", "config_from_dict", "load_config"]

INPUT_KEYS = ("landcover", "carbonate", "dolomite_fraction", "runoff", "precipitation",
              "evapotranspiration", "temperature", "soil_pco2", "aet", "npp", "nep", "dem")
_SECTIONS: dict[str, tuple[str, ...]] = {
    "inputs": INPUT_KEYS,
    "tables": ("landcover",),
    "zones": ("path", "field", "layer"),
    "grid": ("like", "block_size"),
    "model": ("system", "database", "outputs", "co2", "rock_density_t_m3", "numba", "engine",
              "jobs", "so4_mmol_l", "no3_mmol_l", "acid_so4_share", "evaporite_so4_share",
              "acid_no3_share", "npp_to_nep", "npp_to_nep_source"),
    "scenario": ("name", "transitions"),
    "dask": ("address", "tile_size"),
    "series": ("years", "pairs", "climate", "change_maps"),
    "uncertainty": UNCERTAINTY_KEYS,
}
OPTIONAL_OUTPUTS = ("dissolution", "denudation")
#: keys that were removed, with what to use instead (one ConfigError line each)
_REMOVED = {
    ("model", "acid_correction"): (
        "[model] acid_correction is no longer read (it scaled the karst sink by a per-class "
        "acid_so4_share cut); the map now applies the catchments' sulfuric/nitric correction "
        "to the karst water's HCO3: give [model] so4_mmol_l and no3_mmol_l (the karst "
        "water's sulfate and nitrate, mmol/L) and, if known, acid_so4_share, "
        "evaporite_so4_share and acid_no3_share (0-1)."),
}
#: [model] acid-correction shares (0-1), defaults from :mod:`karstsink.carbon`
SHARE_KEYS = ("acid_so4_share", "evaporite_so4_share", "acid_no3_share")
#: ``[model]`` keys a run configuration sets in ``[carbon]`` (for every stage at once)
CARBON_KEYS = (*SHARE_KEYS, "so4_mmol_l", "no3_mmol_l")
_SECTION_RE = re.compile(r"\[(" + "|".join(_SECTIONS) + r")\]")
_CARBON_RE = re.compile(r"\[model\](?= (?:" + "|".join(CARBON_KEYS) + r")\b)")


def keys_in_run(text: str) -> str:
    """A message or assumption of the map with its keys as a run configuration writes them:
    ``[grid] like`` -> ``[map.grid] like``, ``[model] so4_mmol_l`` -> ``[carbon]
    so4_mmol_l`` (the one rule; idempotent)."""
    return _SECTION_RE.sub(r"[map.\1]", _CARBON_RE.sub("[carbon]", text))


@dataclass
class MapConfig:
    """A validated map configuration (paths absolute).

    ``inputs`` maps each input to its path; ``input_specs`` to its full
    :class:`~karstsink.mapping._inputs.InputSpec` (declared unit, scale, offset, force).

    The acid-correction inputs are None when not given: ``so4_mmol_l`` and
    ``no3_mmol_l`` [mmol L⁻¹] (no correction for that acid), the shares [0-1] (the
    defaults of :mod:`karstsink.carbon` apply).  ``npp_to_nep`` [0-1] is set exactly
    when ``inputs`` has an ``npp`` raster.
    """

    inputs: dict[str, Path | str]
    table: str | Path | None = None
    zones_path: Path | None = None
    zones_field: str | None = None
    zones_layer: str | None = None
    grid_like: Path | None = None
    block_size: int = 512
    system: str = "open"
    database: str | Path = "phreeqc.dat"
    outputs: tuple[str, ...] = ()
    co2: bool = False
    rock_density_t_m3: float = 2.7
    so4_mmol_l: float | None = None
    no3_mmol_l: float | None = None
    acid_so4_share: float | None = None
    evaporite_so4_share: float | None = None
    acid_no3_share: float | None = None
    npp_to_nep: float | None = None
    npp_to_nep_source: str | None = None
    numba: str = "auto"
    engine: str = "threads"
    jobs: int | None = None
    scenario_name: str | None = None
    transitions: list[dict] = field(default_factory=list)
    dask_address: str | None = None
    tile_size: int = 8192
    source: Path | None = None
    raw: dict = field(default_factory=dict)
    input_specs: dict[str, InputSpec] = field(default_factory=dict)
    series: SeriesConfig | None = None
    uncertainty: UncertaintyConfig | None = None
    #: set for the ``[map]`` of a run: the map's assumptions (run.json, COG tags) name the
    #: run's keys (:func:`keys_in_run`)
    in_run: bool = False


def load_config(path: str | Path) -> MapConfig:
    """Read and validate a TOML map configuration.

    Raises
    ------
    ConfigError
        Unreadable TOML, unknown section or key, wrong types, missing required
        inputs or missing files (each named).
    """
    from ..io.tomlfile import read_toml

    path = Path(path)
    return config_from_dict(read_toml(path, "map configuration"), base=path.parent,
                            source=path)


def config_from_dict(raw: dict[str, Any], base: str | Path = ".",
                     source: Path | None = None) -> MapConfig:
    """Validate a configuration given as a dict (paths relative to ``base``)."""
    where = f"{source}: " if source else ""
    base = Path(base)
    for section, body in raw.items():
        if section not in _SECTIONS:
            raise ConfigError(f"{where}unknown section [{section}]; allowed: "
                              f"{', '.join('[' + s + ']' for s in _SECTIONS)}.")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}[{section}] must be a table of keys.")
        for key in body:
            if (section, key) in _REMOVED:
                raise ConfigError(f"{where}{_REMOVED[section, key]}")
            if key not in _SECTIONS[section]:
                raise ConfigError(f"{where}unknown key {key!r} in [{section}]; allowed: "
                                  f"{', '.join(_SECTIONS[section])}.")

    def _path(section: str, key: str, value: Any) -> Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}[{section}] {key} must be a file path string.")
        p = Path(value)
        p = p if p.is_absolute() else (base / p)
        if not p.exists():
            raise ConfigError(f"{where}[{section}] {key}: file {p} does not exist.")
        return p.resolve()

    inputs_raw = raw.get("inputs")
    if not inputs_raw:
        raise ConfigError(f"{where}section [inputs] is missing.")
    if not isinstance(inputs_raw, dict):
        raise ConfigError(f"{where}[inputs] must be a table of input = path keys.")
    templates: dict[str, Path] = {}

    def _input(key: str, value: Any) -> Path:
        if isinstance(value, str) and YEAR in value:  # a series input: checked below
            templates[key] = template_path(value, base)
            return templates[key]
        return _path("inputs", key, value)

    specs = {k: parse_input(where, k, v, _input) for k, v in inputs_raw.items()}
    specs.update(implied_inputs(where, specs))  # a polygon carbonate's dolomite_values
    series = None
    if "series" in raw:
        series = parse_series(where, raw["series"], templates, inputs_raw)
    elif templates:
        raise ConfigError(f"{where}[inputs] {', '.join(templates)}: the path holds {YEAR}, "
                          f"which needs a [series] years = [...] section.")
    inputs = {k: s.path for k, s in specs.items()}
    for req in ("landcover", "carbonate", "temperature"):
        if req not in inputs:
            raise ConfigError(f"{where}[inputs] {req} is required.")
    if "runoff" not in inputs and not {"precipitation", "evapotranspiration"} <= set(inputs):
        raise ConfigError(f"{where}[inputs] needs runoff, or both precipitation and "
                          f"evapotranspiration (runoff = P - ET, floored at 0).")
    if "runoff" in inputs and "precipitation" in inputs:
        raise ConfigError(f"{where}[inputs] give runoff or precipitation + evapotranspiration, "
                          f"not both.")
    if "soil_pco2" not in inputs and "aet" not in inputs and "evapotranspiration" not in inputs:
        raise ConfigError(f"{where}[inputs] needs soil_pco2 (ppmv), or aet / "
                          f"evapotranspiration (mm/yr) for the Brook et al. (1983) model.")
    if "npp" in inputs and "nep" in inputs:
        raise ConfigError(f"{where}[inputs] give npp or nep, not both.")

    cfg = MapConfig(inputs=inputs, source=source, raw=raw, input_specs=specs, series=series)
    if "uncertainty" in raw:
        cfg.uncertainty = parse_uncertainty(where, raw["uncertainty"])
    tables = raw.get("tables", {})
    if "landcover" in tables:
        val = tables["landcover"]
        if not isinstance(val, str):
            raise ConfigError(f"{where}[tables] landcover must be a string.")
        cfg.table = val.lower() if val.lower() in ("worldcover", "clcd") else _path(
            "tables", "landcover", val)
    zones = raw.get("zones")
    if zones:
        if "path" not in zones or "field" not in zones:
            raise ConfigError(f"{where}[zones] needs both path and field.")
        cfg.zones_path = _path("zones", "path", zones["path"])
        cfg.zones_field = str(zones["field"])
        cfg.zones_layer = zones.get("layer")
    grid = raw.get("grid", {})
    if "like" in grid:
        cfg.grid_like = _path("grid", "like", grid["like"])
    if "block_size" in grid:
        bs = grid["block_size"]
        if not isinstance(bs, int) or bs < 16 or bs % 16:
            raise ConfigError(f"{where}[grid] block_size must be a multiple of 16 (>= 16).")
        cfg.block_size = bs
    model = raw.get("model", {})
    cfg.system = _choice(where, "model", "system", model.get("system", "open"),
                         ("open", "closed"))
    if "database" in model:
        db = model["database"]
        if not isinstance(db, str):
            raise ConfigError(f"{where}[model] database must be a string.")
        cand = base / db
        cfg.database = cand.resolve() if cand.is_file() else db
    outs = model.get("outputs", [])
    if not isinstance(outs, list) or any(o not in OPTIONAL_OUTPUTS for o in outs):
        raise ConfigError(f"{where}[model] outputs must be a list drawn from "
                          f"{', '.join(OPTIONAL_OUTPUTS)}.")
    cfg.outputs = tuple(outs)
    if "co2" in model:
        if not isinstance(model["co2"], bool):
            raise ConfigError(f"{where}[model] co2 must be true or false.")
        cfg.co2 = model["co2"]
    _acid_and_biology(cfg, model, inputs, where)
    if "rock_density_t_m3" in model:
        rho = model["rock_density_t_m3"]
        cfg.rock_density_t_m3 = _number(where, "rock_density_t_m3", rho, 1.0, 4.0, "t/m3")
    if "numba" in model:
        val = model["numba"]
        cfg.numba = "auto" if val == "auto" else ("on" if val is True else "off")
        if val not in ("auto", True, False):
            raise ConfigError(f"{where}[model] numba must be \"auto\", true or false.")
    cfg.engine = _choice(where, "model", "engine", model.get("engine", "threads"),
                         ("threads", "processes"))
    if "jobs" in model:
        if not isinstance(model["jobs"], int) or model["jobs"] < 1:
            raise ConfigError(f"{where}[model] jobs must be an integer >= 1.")
        cfg.jobs = model["jobs"]
    scen = raw.get("scenario")
    if scen:
        cfg.scenario_name = str(scen.get("name", "scenario"))
        trans = scen.get("transitions")
        if not isinstance(trans, list) or not trans:
            raise ConfigError(f"{where}[scenario] transitions must be a non-empty list of "
                              f"{{from = CLASS, to = CLASS, min_slope_deg = DEG}} tables.")
        for i, t in enumerate(trans):
            if not isinstance(t, dict) or "from" not in t or "to" not in t:
                raise ConfigError(f"{where}[scenario] transition {i + 1} needs from and to.")
            extra = set(t) - {"from", "to", "min_slope_deg"}
            if extra:
                raise ConfigError(f"{where}[scenario] transition {i + 1}: unknown key(s) "
                                  f"{', '.join(sorted(extra))}.")
            for key in ("from", "to"):  # a class code of the land-cover raster
                if not isinstance(t[key], numbers.Integral) or isinstance(t[key], bool) \
                        or t[key] < 0:  # numpy integers from the Python API are codes too
                    raise ConfigError(f"{where}[scenario] transition {i + 1} {key} must be a "
                                      f"land-cover class code (an integer, e.g. {key} = 1), "
                                      f"got {t[key]!r}.")
            toml_number(t.get("min_slope_deg", 0),
                        f"{where}[scenario] transition {i + 1} min_slope_deg", lo=0.0, hi=90.0,
                        what="degrees")
            if "min_slope_deg" in t and "dem" not in inputs:
                raise ConfigError(f"{where}[scenario] transition {i + 1} uses min_slope_deg, "
                                  f"which needs [inputs] dem.")
        cfg.transitions = [dict(t) for t in trans]
        if series is not None:
            raise ConfigError(f"{where}[scenario] and [series] cannot be combined in one run "
                              f"yet; run the scenario for one year (no {YEAR} inputs).")
    dask = raw.get("dask", {})
    if "address" in dask:
        cfg.dask_address = str(dask["address"])
    if "tile_size" in dask:
        ts = dask["tile_size"]
        if not isinstance(ts, int) or ts < cfg.block_size or ts % cfg.block_size:
            raise ConfigError(f"{where}[dask] tile_size must be a multiple of the block size "
                              f"({cfg.block_size}).")
        cfg.tile_size = ts
    return cfg


def _number(where: str, key: str, value: Any, lo: float, hi: float | None, what: str) -> float:
    """A [model] number in ``lo..hi`` (``hi`` None: no upper bound)."""
    return toml_number(value, f"{where}[model] {key}", lo=lo, hi=hi, what=what)


def _acid_and_biology(cfg: MapConfig, model: dict, inputs: dict, where: str) -> None:
    """The acid-correction inputs and the NPP-to-NEP ratio of ``[model]``."""
    for key in ("so4_mmol_l", "no3_mmol_l"):
        if key in model:
            what = "the karst water's " + ("sulfate" if key.startswith("so4") else "nitrate")
            setattr(cfg, key, _number(where, key, model[key], 0.0, None, what + ", mmol/L"))
    for key in SHARE_KEYS:
        if key in model:
            setattr(cfg, key, _number(where, key, model[key], 0.0, 1.0, "a share"))
    if "npp" in inputs:
        if "npp_to_nep" not in model:
            raise ConfigError(
                f"{where}[inputs] npp is net primary production, not a net sink (NEP = NPP - "
                f"heterotrophic respiration); give [model] npp_to_nep = RATIO (0-1, the "
                f"NEP/NPP ratio for the area, with npp_to_nep_source = \"...\") or an "
                f"[inputs] nep raster instead.")
        cfg.npp_to_nep = _number(where, "npp_to_nep", model["npp_to_nep"], 0.0, 1.0,
                                 "the NEP/NPP ratio")
    elif "npp_to_nep" in model or "npp_to_nep_source" in model:
        raise ConfigError(f"{where}[model] npp_to_nep applies only to an [inputs] npp raster; "
                          f"remove it (a nep raster or the land-cover table is read as the "
                          f"net sink itself).")
    if "npp_to_nep_source" in model:
        src = model["npp_to_nep_source"]
        if not isinstance(src, str) or not src.strip():
            raise ConfigError(f"{where}[model] npp_to_nep_source must be a non-empty string "
                              f"(the reference or reasoning behind npp_to_nep).")
        cfg.npp_to_nep_source = src.strip()


def _choice(where: str, section: str, key: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"{where}[{section}] {key} must be one of {', '.join(allowed)}; "
                          f"got {value!r}.")
    return value
