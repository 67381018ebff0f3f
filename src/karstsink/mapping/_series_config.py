"""The ``[series]`` section of a map configuration: years, change pairs, input groups.

::

    [inputs]
    landcover = "lc_{year}.tif"          # {year}: one file per year of the series
    runoff = { path = "runoff_{year}.tif", units = "mm/yr" }
    carbonate = "carbonate.tif"          # no {year}: the same in every year

    [series]
    years = [2000, 2010, 2020]
    pairs = [[2000, 2020]]               # change maps + attribution (default: first, last)
    climate = ["runoff", "temperature"]  # the "climate" inputs of the attribution
    change_maps = ["total"]              # which change maps (also "karst", "biological")

Every ``[inputs]`` path (or inline-table ``path``) holding ``{year}`` varies by year;
all its files must exist (one :class:`~karstsink.exceptions.ConfigError` lists every
missing one before anything is read).  See ``docs/series.md``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError

__all__ = ["CHANGE_MAPS", "CLIMATE_INPUTS", "YEAR", "SeriesConfig", "parse_series", "year_config",
           "year_path"]

YEAR = "{year}"
#: inputs attributed to "climate" by default (the others that vary are "land cover"):
#: the water balance and temperature set runoff and Ca_eq; a soil-pCO2 raster is a
#: climate product here (Brook et al. 1983 derive it from actual evapotranspiration);
#: land cover acts through its classes (pCO2 and runoff factors, the table's
#: biological sink) and the NEP/NPP rasters
#: ``[series] change_maps`` names -> output names; by default only the total: every map
#: costs its encoding and ~40 MB of overview strips at the width of Guizhou (20,000 px)
CHANGE_MAPS = {"karst": "karst", "biological": "bio", "total": "total"}
CLIMATE_INPUTS = ("runoff", "precipitation", "evapotranspiration", "temperature", "aet",
                  "soil_pco2")


@dataclass
class SeriesConfig:
    """A validated ``[series]``.

    Attributes
    ----------
    years : tuple of int
        The years, in increasing order (unique); the last is the baseline.
    pairs : tuple of (int, int)
        Change maps and attribution from the first year of a pair to the second.
    climate : tuple of str
        The inputs of the attribution's "climate" group (the other varying inputs
        are the "land cover" group).
    change_maps : tuple of str
        The outputs whose change maps are written per pair (engine names ``karst``,
        ``bio``, ``total``).
    templates : dict
        Input name -> path holding ``{year}`` (absolute).
    files : dict
        Input name -> every year's file (for the output-folder check).
    maps : bool
        Write the maps (False: the zone sums and tables only, no COG is encoded; not
        a ``[series]`` key: for a series read only for its zone totals, such as a
        projection stack's, ``karstsink.workflows._trajectory.stack_config``).
    """

    years: tuple[int, ...]
    pairs: tuple[tuple[int, int], ...]
    climate: tuple[str, ...]
    change_maps: tuple[str, ...] = ("total",)
    templates: dict[str, Path] = field(default_factory=dict)
    files: dict[str, list[Path]] = field(default_factory=dict)
    maps: bool = True

    @property
    def varying(self) -> tuple[str, ...]:
        """The inputs that change from year to year."""
        return tuple(self.templates)


def year_path(template: str | os.PathLike, year: int) -> Path:
    """``template`` with ``{year}`` replaced by ``year``."""
    return Path(str(template).replace(YEAR, str(int(year))))


def template_path(value: str, base: Path) -> Path:
    """The absolute path of a ``{year}`` template (the files are checked later)."""
    p = Path(value)
    return Path(os.path.abspath(p if p.is_absolute() else base / p))


def _years(where: str, body: dict) -> tuple[int, ...]:
    years = body.get("years")
    if not (isinstance(years, list) and len(years) >= 1 and all(
            isinstance(y, int) and not isinstance(y, bool) and 0 < y < 10000 for y in years)):
        raise ConfigError(f"{where}[series] years must be a non-empty list of years "
                          f"(integers), e.g. years = [2000, 2010, 2020]; got {years!r}.")
    if len(set(years)) != len(years):
        raise ConfigError(f"{where}[series] years lists a year twice: {years}.")
    if years != sorted(years):  # the last year is the baseline of the balance and trajectory
        raise ConfigError(f"{where}[series] years must be in increasing order (the last is "
                          f"the baseline year); write years = {sorted(years)}, not {years}.")
    return tuple(years)


def parse_series(where: str, body: Any, templates: dict[str, Path],
                 inputs: dict[str, Any]) -> SeriesConfig:
    """Validate ``[series]`` against the ``{year}`` inputs (``templates``).

    Raises
    ------
    ConfigError
        Bad years, pairs or climate names; no ``{year}`` input; a year's file missing
        (every missing file listed, with its input).
    """
    if not isinstance(body, dict):
        raise ConfigError(f"{where}[series] must be a table of keys.")
    years = _years(where, body)
    if not templates:
        raise ConfigError(f"{where}[series] years given, but no [inputs] path holds "
                          f"{YEAR}: every year would be the same map. Write the yearly "
                          f"files' paths with {YEAR} (runoff = \"runoff_{{year}}.tif\").")
    pairs = body.get("pairs", [[years[0], years[-1]]] if len(years) > 1 else [])
    if not isinstance(pairs, list) or not all(
            isinstance(pr, list) and len(pr) == 2 and all(y in years for y in pr)
            and pr[0] != pr[1] for pr in pairs):
        raise ConfigError(f"{where}[series] pairs must be a list of [year_a, year_b] of two "
                          f"different years of [series] years {list(years)}; got {pairs!r}.")
    seen: set[tuple] = set()
    for pr in pairs:  # one change map per pair: a pair twice would write it twice
        if tuple(pr) in seen:
            raise ConfigError(f"{where}[series] pairs gives {pr} twice; give each pair once.")
        seen.add(tuple(pr))
    climate = body.get("climate", [n for n in CLIMATE_INPUTS if n in inputs])
    if not isinstance(climate, list) or not all(isinstance(c, str) for c in climate):
        raise ConfigError(f"{where}[series] climate must be a list of [inputs] names.")
    unknown = [c for c in climate if c not in inputs]
    if unknown:
        raise ConfigError(f"{where}[series] climate names {', '.join(unknown)}, not in "
                          f"[inputs] ({', '.join(inputs)}).")
    maps = body.get("change_maps", ["total"])
    if not isinstance(maps, list) or not all(m in CHANGE_MAPS for m in maps):
        raise ConfigError(f"{where}[series] change_maps must be a list drawn from "
                          f"{', '.join(CHANGE_MAPS)}; got {maps!r}.")
    files: dict[str, list[Path]] = {}
    missing = []
    for name, tpl in templates.items():
        files[name] = [year_path(tpl, y) for y in years]
        missing += [f"{name} {y}: {p}" for y, p in zip(years, files[name], strict=True)
                    if not p.exists()]
    if missing:
        raise ConfigError(f"{where}[series] {len(missing)} yearly input file(s) missing: "
                          f"{'; '.join(missing)}. Add them or remove the years from "
                          f"[series] years.")
    return SeriesConfig(years=years, pairs=tuple((int(a), int(b)) for a, b in pairs),
                        climate=tuple(climate),
                        change_maps=tuple(CHANGE_MAPS[m] for m in maps),
                        templates=dict(templates), files=files)


def year_config(cfg: Any, year: int) -> Any:
    """The single-year :class:`~karstsink.mapping.config.MapConfig` of a series run."""
    ser = cfg.series
    specs = dict(cfg.input_specs)
    inputs = dict(cfg.inputs)
    for name, tpl in ser.templates.items():
        path = year_path(tpl, year).resolve()
        inputs[name] = path
        if name in specs:
            specs[name] = dataclasses.replace(specs[name], path=path)
    return dataclasses.replace(cfg, inputs=inputs, input_specs=specs, series=None)
