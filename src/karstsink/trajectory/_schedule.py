"""Restoration schedules: the TOML file of :mod:`karstsink.trajectory`, read and checked."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._seed import draws_problem, seed_problem
from ..exceptions import ConfigError
from ..io.tomlfile import toml_number

__all__ = ["MATURITY_CURVES", "Schedule", "Transition", "load_schedule", "schedule_from_dict"]

#: Maturity curves of a restored class's biological sink (age a, maturity time T):
#: ``linear`` m = min(a/T, 1); ``logistic`` the logistic of slope 10/T centred on T/2,
#: rescaled to 0 at a = 0 and 1 at a = T (1 after T).
MATURITY_CURVES = ("linear", "logistic")

_TOP_KEYS = {"name", "first_year", "last_year", "draws", "seed", "target_share_pct",
             "baseline_karst_rel_sd", "baseline_biological_rel_sd", "baseline_rel_sd_source",
             "source", "transitions", "climate"}
_CLIMATE_KEYS = {"karst_factor", "biological_factor", "source", "stack", "years"}
_T_KEYS = {"name", "from", "to", "min_slope_deg", "start", "end", "share", "shares",
           "maturity", "maturity_years", "maturity_years_range", "maturity_source",
           "biological_rel_sd", "biological_rel_sd_source", "karst_rel_sd",
           "karst_rel_sd_source", "achieved_share", "achieved_share_source", "karst_matures",
           "policy"}


@dataclass(frozen=True)
class Transition:
    """One scheduled land-cover transition (see :func:`load_schedule` for the keys)."""

    name: str
    from_classes: tuple[str | int, ...]
    to_class: str | int
    points: tuple[tuple[int, float], ...]  # (year, planned cumulative share 0-1)
    maturity_years: float
    maturity_years_range: tuple[float, float]
    maturity_curve: str = "linear"
    maturity_source: str = ""
    min_slope_deg: float | None = None
    #: None: the new class's range in the land-cover table (when the potentials carry
    #: one, ``biological_potential_lo/hi_t_c_yr``), else fixed
    biological_rel_sd: float | None = None
    karst_rel_sd: float = 0.0
    achieved_share: tuple[float, float] = (1.0, 1.0)
    karst_matures: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def start(self) -> int:
        """First year with converted area [calendar year]."""
        y0, s0 = self.points[0]
        return y0 if s0 > 0 else y0 + 1

    @property
    def end(self) -> int:
        """Year by whose end the planned share is converted [calendar year]."""
        return self.points[-1][0]


@dataclass(frozen=True)
class Schedule:
    """A restoration schedule: transitions, years, Monte Carlo settings."""

    name: str
    transitions: tuple[Transition, ...]
    first_year: int = 2020
    last_year: int = 2060
    draws: int = 1000
    seed: int = 0
    target_share_pct: float = 10.0
    baseline_karst_rel_sd: float = 0.0
    baseline_biological_rel_sd: float = 0.0
    baseline_rel_sd_source: str = ""
    source: str = ""
    path: Path | None = None
    #: climate projection factors [-] on the karst and biological sinks: (year, factor)
    #: points, piecewise linear, held outside; empty = climate held at the baseline
    karst_climate: tuple[tuple[int, float], ...] = ()
    biological_climate: tuple[tuple[int, float], ...] = ()
    climate_source: str = ""
    #: a projection stack: map input name -> its
    #: :class:`~karstsink.mapping._inputs.InputSpec` whose (absolute) path holds
    #: ``{year}``, and the projected years; the zone factors come from a map series of
    #: the baseline map with these inputs (:func:`karstsink.trajectory.stack_climate_factors`)
    climate_stack: dict[str, Any] = field(default_factory=dict)
    climate_stack_years: tuple[int, ...] = ()

    def climate_factor(self, which: str) -> np.ndarray:
        """The climate factor [-] of ``"karst"`` or ``"biological"`` per year (1: held).

        Raises
        ------
        ConfigError
            The schedule has a projection stack: its factors are per zone and come
            from a map series (:func:`karstsink.trajectory.stack_climate_factors`).
        """
        if self.climate_stack:
            raise ConfigError(
                f"{self.path or 'schedule'}: [trajectory.climate] stack gives a climate "
                f"factor per zone, from a map series of the stack: use "
                f"karstsink.trajectory.stack_climate_factors, not climate_factor().")
        pts = self.karst_climate if which == "karst" else self.biological_climate
        if not pts:
            return np.ones(len(self.years))
        return np.interp(self.years.astype(float), [p[0] for p in pts], [p[1] for p in pts])

    @property
    def years(self) -> np.ndarray:
        """The trajectory's years [calendar year], inclusive."""
        return np.arange(self.first_year, self.last_year + 1)

    def assumptions(self) -> list[str]:
        """One sentence per assumption of the schedule (for reports and ``run.json``)."""
        if self.climate_stack:
            files = ", ".join(f"{n} ({Path(s.path).name})" for n, s in self.climate_stack.items())
            climate = (
                f"climate from the projection stack {files} for "
                f"{', '.join(map(str, self.climate_stack_years))} ({self.climate_source}): a "
                f"map series of the baseline map with those inputs gives per zone the "
                f"factors f_K = K_proj / K_0 and f_B = B_proj / B_0 of its zone totals "
                f"over the baseline map's (1 in {self.first_year}, piecewise linear between "
                f"the stack years, held after {self.climate_stack_years[-1]}; 1 for a zone "
                f"whose baseline sink is 0), which scale each sink, baseline and restoration "
                f"parts alike; the restoration potentials keep the baseline map's climate, "
                f"scaled by the zone's factor")
        elif self.karst_climate or self.biological_climate:
            climate = (f"climate factors on the karst sink {list(self.karst_climate) or 'none'} "
                       f"and the biological sink {list(self.biological_climate) or 'none'} "
                       f"(piecewise linear, {self.climate_source})")
        else:
            climate = "climate held at the baseline map's"
        out = [f"restoration trajectory {self.name!r}: {climate}; "
               "each transition's potential is the zone total of the sink with every "
               "eligible pixel in the new class minus the baseline (two map runs per "
               "transition); transitions act on disjoint pixels; the baseline's own "
               f"uncertainty in the bands: relative sd {self.baseline_karst_rel_sd:g} of the "
               f"karst and {self.baseline_biological_rel_sd:g} of the biological sink"
               + (f" ({self.baseline_rel_sd_source})" if self.baseline_rel_sd_source
                  else " (none: the bands hold the restoration's uncertainty only)")]
        for t in self.transitions:
            lo, hi = t.maturity_years_range
            a_lo, a_hi = t.achieved_share
            out.append(
                f"{t.name}: {'/'.join(map(str, t.from_classes))} -> {t.to_class}"
                + (f" on slopes > {t.min_slope_deg:g} deg" if t.min_slope_deg is not None
                   else "")
                + f", {t.points[-1][1]:.0%} of the eligible area by {t.end} from {t.start} "
                f"(piecewise linear through {list(t.points)}); biological sink {t.maturity_curve} "
                f"ramp to the class value in {t.maturity_years:g} yr (range {lo:g}-{hi:g}; "
                f"{t.maturity_source}); karst response "
                + ("follows the same maturity" if t.karst_matures else
                   "immediate (new class's soil-pCO2 factor from conversion)")
                + f"; achieved share of plan uniform {a_lo:g}-{a_hi:g}"
                + (f" ({t.sources['achieved_share']})" if t.sources.get("achieved_share")
                   else "")
                + ("; biological potential uniform in the land-cover table's range of the "
                   "new class (fixed if the table gives none)" if t.biological_rel_sd is None
                   else f"; biological potential relative sd {t.biological_rel_sd:g}"
                   + (f" ({t.sources['biological_rel_sd']})"
                      if t.sources.get("biological_rel_sd") else ""))
                + f"; karst potential relative sd {t.karst_rel_sd:g}"
                + (f" ({t.sources['karst_rel_sd']})" if t.sources.get("karst_rel_sd") else ""))
        return out


# --------------------------------------------------------------------------------------
# schedule
# --------------------------------------------------------------------------------------
def load_schedule(path: str | os.PathLike) -> Schedule:
    """Read a restoration schedule TOML file.

    The file holds one ``[trajectory]`` table (``name``; ``first_year`` 2020 and
    ``last_year`` 2060 by default; ``draws`` [1000], ``seed`` [0],
    ``target_share_pct`` [10, the offset share whose year is reported];
    ``baseline_karst_rel_sd`` and ``baseline_biological_rel_sd`` [0] with
    ``baseline_rel_sd_source``; ``source``) and one ``[[trajectory.transitions]]``
    per transition: ``name``; ``from`` (class name or code, or a list of them);
    ``to``; ``min_slope_deg`` (optional; needs a DEM); ``start`` and ``end``
    [years] with ``share`` [0-1, default 1] (equal annual cohorts converted in
    ``start`` ... ``end`` inclusive, so share x (t - start + 1) / (end - start + 1) is
    converted by the end of year t) or ``shares = [[year, cumulative share], ...]``
    (by the end of each year; linear between, 0 before, held after);
    ``maturity`` (``linear`` or ``logistic``), ``maturity_years`` (required) with
    ``maturity_years_range = [lo, hi]`` (default: the value) and
    ``maturity_source`` (required: where the maturity time comes from);
    ``biological_rel_sd`` [default: the new class's range in the land-cover table,
    uniform, when it has one], ``karst_rel_sd`` [0] and ``achieved_share = [lo, hi]``
    [1, 1] each with a ``*_source`` (required when not the default); ``karst_matures``
    [false]; ``policy`` (text).

    An optional ``[trajectory.climate]`` gives the climate: either factor tables
    ``karst_factor`` / ``biological_factor`` = ``[[year, factor], ...]`` [-] (one factor
    per year for every zone, piecewise linear, held outside), or a projection
    ``stack = { input = "path_{year}.tif", ... }`` (map input names, each read like a
    map ``[inputs]`` entry, paths relative to the schedule file, ``{year}`` replaced by
    each of ``years = [...]``, which lie after ``first_year`` and by ``last_year``),
    whose map series gives a factor per zone
    (:func:`karstsink.trajectory.stack_climate_factors`); both need ``source``. Absent:
    the climate is held at the baseline map's.

    Raises
    ------
    ConfigError
        Unreadable TOML or a bad key or value, named as ``[trajectory] key`` or
        ``[[trajectory.transitions]] N key``.
    """
    from ..io.tomlfile import read_toml

    path = Path(path)
    return schedule_from_dict(read_toml(path, "trajectory schedule"), source=path)


def _num(where: str, key: str, value: Any, lo: float, hi: float | None = None) -> float:
    return toml_number(value, f"{where} {key}", lo=lo, hi=hi)


def _pair(where: str, key: str, value: Any, lo: float, hi: float | None) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"{where} {key} must be a [low, high] pair; got {value!r}.")
    a, b = (_num(where, key, v, lo, hi) for v in value)
    if a > b:
        raise ConfigError(f"{where} {key}: low {a:g} is above high {b:g}.")
    return a, b


def _classes(where: str, key: str, value: Any) -> tuple[str | int, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all((isinstance(v, str) and v.strip()) or
                            (isinstance(v, int) and not isinstance(v, bool) and v >= 0)
                            for v in items):
        raise ConfigError(f"{where} {key} must be a class name or code (or a list of them); "
                          f"got {value!r}.")
    return tuple(v.strip() if isinstance(v, str) else v for v in items)


def _source(where: str, body: dict, key: str, needed: bool, name: str | None = None) -> str:
    """The source text of ``key`` (``<key>_source``, or the key ``name`` the table uses)."""
    name = name or f"{key}_source"
    src = body.get(name, "")
    if not isinstance(src, str):
        raise ConfigError(f"{where} {name} must be text.")
    if needed and not src.strip():
        raise ConfigError(f"{where} {key} needs {name} = \"...\" (the reference or "
                          f"reasoning behind the value).")
    return src.strip()


def _transition(i: int, body: Any, where0: str) -> Transition:
    where = f"{where0}[[trajectory.transitions]] {i + 1}"
    if not isinstance(body, dict):
        raise ConfigError(f"{where} must be a table of keys.")
    extra = set(body) - _T_KEYS
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; allowed: "
                          f"{', '.join(sorted(_T_KEYS))}.")
    for key in ("from", "to", "maturity_years", "maturity_source"):
        if key not in body:
            raise ConfigError(f"{where} needs {key}.")
    name = str(body.get("name", f"transition {i + 1}"))
    froms = _classes(where, "from", body["from"])
    to = _classes(where, "to", body["to"])
    if len(to) != 1:
        raise ConfigError(f"{where} to must be one class.")
    if "shares" in body:
        if "start" in body or "end" in body or "share" in body:
            raise ConfigError(f"{where}: give shares = [[year, share], ...] or start, end and "
                              f"share, not both.")
        pts = body["shares"]
        if not isinstance(pts, list) or len(pts) < 2 or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in pts):
            raise ConfigError(f"{where} shares must be a list of at least two [year, "
                              f"cumulative share] pairs, e.g. [[2025, 0.0], [2040, 1.0]].")
        points = tuple((int(y), _num(where, "shares", s, 0.0, 1.0)) for y, s in pts)
    else:
        if "start" not in body or "end" not in body:
            raise ConfigError(f"{where} needs start and end (years) or shares.")
        start, end = body["start"], body["end"]
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            raise ConfigError(f"{where} start and end must be years with end >= start; got "
                              f"{start!r}, {end!r}.")
        # equal annual cohorts converted in start, start + 1, ..., end (inclusive)
        points = ((start - 1, 0.0),
                  (end, _num(where, "share", body.get("share", 1.0), 0.0, 1.0)))
    years = [p[0] for p in points]
    shares = [p[1] for p in points]
    if any(b <= a for a, b in itertools.pairwise(years)) or any(
            b < a for a, b in itertools.pairwise(shares)):
        raise ConfigError(f"{where} shares: years must increase and cumulative shares must "
                          f"not decrease; got {pts if 'shares' in body else points}.")
    curve = body.get("maturity", "linear")
    if curve not in MATURITY_CURVES:
        raise ConfigError(f"{where} maturity must be one of {', '.join(MATURITY_CURVES)}; "
                          f"got {curve!r}.")
    t_mat = _num(where, "maturity_years", body["maturity_years"], 1.0)
    rng = (_pair(where, "maturity_years_range", body["maturity_years_range"], 1.0, None)
           if "maturity_years_range" in body else (t_mat, t_mat))
    if not rng[0] <= t_mat <= rng[1] or (rng[0] < rng[1] and t_mat in rng):
        raise ConfigError(f"{where} maturity_years {t_mat:g} must lie inside "
                          f"maturity_years_range {list(rng)} (at an end, every draw would be "
                          f"on one side of the central path).")
    bio_sd = (None if "biological_rel_sd" not in body else
              _num(where, "biological_rel_sd", body["biological_rel_sd"], 0.0, 1.0))
    karst_sd = _num(where, "karst_rel_sd", body.get("karst_rel_sd", 0.0), 0.0, 1.0)
    achieved = (_pair(where, "achieved_share", body["achieved_share"], 0.0, 1.0)
                if "achieved_share" in body else (1.0, 1.0))
    sources = {"maturity": _source(where, body, "maturity", True),
               "biological_rel_sd": _source(where, body, "biological_rel_sd", bool(bio_sd)),
               "karst_rel_sd": _source(where, body, "karst_rel_sd", karst_sd > 0),
               "achieved_share": _source(where, body, "achieved_share", achieved != (1.0, 1.0)),
               "policy": str(body.get("policy", ""))}
    slope = body.get("min_slope_deg")
    matures = body.get("karst_matures", False)
    if not isinstance(matures, bool):
        raise ConfigError(f"{where} karst_matures must be true or false.")
    return Transition(
        name=name, from_classes=froms, to_class=to[0], points=points,
        maturity_years=t_mat, maturity_years_range=rng, maturity_curve=curve,
        maturity_source=sources["maturity"],
        min_slope_deg=None if slope is None else _num(where, "min_slope_deg", slope, 0.0, 90.0),
        biological_rel_sd=bio_sd, karst_rel_sd=karst_sd, achieved_share=achieved,
        karst_matures=matures, sources=sources)


def schedule_from_dict(raw: dict[str, Any], source: Path | None = None) -> Schedule:
    """Validate a schedule given as a dict (the parsed TOML; see :func:`load_schedule`)."""
    where = f"{source}: " if source else ""
    if set(raw) != {"trajectory"} or not isinstance(raw["trajectory"], dict):
        raise ConfigError(f"{where}a schedule holds exactly one [trajectory] table (with "
                          f"[[trajectory.transitions]]); found {sorted(raw)}.")
    body = raw["trajectory"]
    extra = set(body) - _TOP_KEYS
    if extra:
        raise ConfigError(f"{where}unknown key(s) in [trajectory]: {', '.join(sorted(extra))}; "
                          f"allowed: {', '.join(sorted(_TOP_KEYS))}.")
    trans = body.get("transitions")
    if not isinstance(trans, list) or not trans:
        raise ConfigError(f"{where}[trajectory] needs at least one [[trajectory.transitions]].")
    transitions = tuple(_transition(i, t, where) for i, t in enumerate(trans))
    names = [t.name for t in transitions]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}[[trajectory.transitions]] names must differ; got {names}.")
    seen: dict[str, str] = {}
    for t in transitions:
        for c in t.from_classes:
            key = str(c).lower()
            if key in seen:
                raise ConfigError(
                    f"{where}[[trajectory.transitions]] {t.name!r} and {seen[key]!r} both "
                    f"convert class {c!r}: their eligible pixels would overlap and be counted "
                    f"twice; give each class to one transition.")
            seen[key] = t.name
    first, last = body.get("first_year", 2020), body.get("last_year", 2060)
    if not isinstance(first, int) or not isinstance(last, int) or last < first:
        raise ConfigError(f"{where}[trajectory] first_year and last_year must be years with "
                          f"last_year >= first_year.")
    for t in transitions:  # conversions before the baseline map would be counted twice
        ys, ss = zip(*t.points, strict=True)
        # the cohort of first_year itself is the first one after the baseline map
        if (ys[0] < first - 1 and ss[0] > 0) or float(
                np.interp(first - 1, ys, ss, left=0.0)) > 0:
            raise ConfigError(
                f"{where}[[trajectory.transitions]] {t.name!r} converts land before "
                f"first_year {first}: the baseline map already shows that land cover, so it "
                f"would be counted twice; start the transition in {first} or later.")
    draws, seed = body.get("draws", 1000), body.get("seed", 0)
    for key, problem in (("draws", draws_problem(draws)), ("seed", seed_problem(seed))):
        if problem:
            raise ConfigError(f"{where}[trajectory] {key} {problem}.")
    bk = _num(f"{where}[trajectory]", "baseline_karst_rel_sd",
              body.get("baseline_karst_rel_sd", 0.0), 0.0, 1.0)
    bb = _num(f"{where}[trajectory]", "baseline_biological_rel_sd",
              body.get("baseline_biological_rel_sd", 0.0), 0.0, 1.0)
    if (bk or bb) and not str(body.get("baseline_rel_sd_source", "")).strip():
        raise ConfigError(f"{where}[trajectory] baseline relative sds need "
                          f"baseline_rel_sd_source = \"...\".")
    climate = _climate(f"{where}[trajectory.climate]", body.get("climate", {}), first, last,
                       Path(source).parent if source is not None else Path.cwd())
    return Schedule(
        **climate,
        name=str(body.get("name", "restoration")), transitions=transitions,
        first_year=first, last_year=last, draws=draws, seed=seed,
        target_share_pct=_num(f"{where}[trajectory]", "target_share_pct",
                              body.get("target_share_pct", 10.0), 0.0, 100.0),
        baseline_karst_rel_sd=bk, baseline_biological_rel_sd=bb,
        baseline_rel_sd_source=str(body.get("baseline_rel_sd_source", "")).strip(),
        source=str(body.get("source", "")), path=source)


def _climate(where: str, body: Any, first: int, last: int, base: Path) -> dict[str, Any]:
    """``[trajectory.climate]``: ``karst_factor`` / ``biological_factor`` = [[year, f], ...],
    or a projection ``stack`` with its ``years`` (paths relative to ``base``)."""
    if not isinstance(body, dict):
        raise ConfigError(f"{where} must be a table of keys.")
    extra = set(body) - _CLIMATE_KEYS
    if extra:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(extra))}; allowed: "
                          f"{', '.join(sorted(_CLIMATE_KEYS))}.")
    if "stack" in body:
        return _stack(where, body, first, last, base)
    if "years" in body:
        raise ConfigError(f"{where} years are the years of a projection stack; give stack = "
                          f"{{ runoff = \"proj/runoff_{{year}}.tif\" }} or remove years.")
    out: dict[str, Any] = {}
    for key, attr in (("karst_factor", "karst_climate"),
                      ("biological_factor", "biological_climate")):
        if key not in body:
            continue
        pts = body[key]
        if not isinstance(pts, list) or not pts or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in pts):
            raise ConfigError(f"{where} {key} must be a list of [year, factor] pairs, e.g. "
                              f"[[2020, 1.0], [2060, 1.08]].")
        points = tuple((int(y), _num(where, key, f, 0.0, 10.0)) for y, f in pts)
        if any(b[0] <= a[0] for a, b in itertools.pairwise(points)):
            raise ConfigError(f"{where} {key}: the years must increase.")
        out[attr] = points
    if out:
        out["climate_source"] = _source(where, body, "climate", True, name="source")
    return out


def _stack(where: str, body: dict, first: int, last: int, base: Path) -> dict[str, Any]:
    """``[trajectory.climate] stack = { input = "path_{year}.tif", ... }`` with ``years``
    and ``source``: each entry is read like a map ``[inputs]`` entry (a path in the
    model's unit, or an inline table with ``units``, ``scale`` ...), its path holding
    ``{year}``; every year's file must exist."""
    from ..mapping._inputs import parse_input
    from ..mapping._series_config import YEAR, template_path, year_path
    from ..mapping.config import INPUT_KEYS

    given = [k for k in ("karst_factor", "biological_factor") if k in body]
    if given:
        raise ConfigError(f"{where} stack and {' and '.join(given)} both give the climate: "
                          f"keep the projection stack (its map series gives the factors per "
                          f"zone) or the factor table, not both.")
    stack = body["stack"]
    if not isinstance(stack, dict) or not stack:
        raise ConfigError(f"{where} stack must be a table of map input = \"path_{YEAR}.tif\", "
                          f"e.g. stack = {{ runoff = \"proj/runoff_{YEAR}.tif\" }}; got "
                          f"{stack!r}.")
    for name in stack:
        if name == "landcover":
            raise ConfigError(f"{where} stack landcover: the land cover is the schedule's "
                              f"(its transitions); a projected land-cover map would count "
                              f"them twice. Give climate inputs only.")
        if name not in INPUT_KEYS:
            raise ConfigError(f"{where} stack {name}: not a map input; allowed: "
                              f"{', '.join(k for k in INPUT_KEYS if k != 'landcover')}.")

    def resolve(key: str, value: Any) -> Path:
        if not isinstance(value, str) or YEAR not in value:
            raise ConfigError(f"{where} stack {key}: the path {value!r} needs {YEAR} (one "
                              f"file per projected year, e.g. \"proj/{key}_{YEAR}.tif\").")
        return template_path(value, base)

    specs = {}
    for name, value in stack.items():
        spec = parse_input(f"{where} stack: ", name, value, resolve)
        if not isinstance(spec.path, Path) or YEAR not in str(spec.path):
            raise ConfigError(f"{where} stack {name}: give one local file per year, its path "
                              f"holding {YEAR} (no URL, pattern or tile list); got {value!r}.")
        specs[name] = spec
    years = body.get("years")
    if not (isinstance(years, list) and years and all(
            isinstance(y, int) and not isinstance(y, bool) for y in years)):
        raise ConfigError(f"{where} stack needs years = [...], the projected years "
                          f"(integers), e.g. years = [2030, 2040, 2050, 2060]; got {years!r}.")
    if any(b <= a for a, b in itertools.pairwise(years)) or years[0] <= first or \
            years[-1] > last:
        raise ConfigError(f"{where} years must increase and lie after first_year {first} (the "
                          f"baseline map, factor 1) and by last_year {last}; got {years}.")
    src = body.get("source", "")
    if not isinstance(src, str) or not src.strip():
        raise ConfigError(f"{where} stack needs source = \"...\": the projection (model, "
                          f"scenario, downscaling) with its citation or DOI.")
    missing = [f"{n} {y}: {year_path(s.path, y)}" for n, s in specs.items() for y in years
               if not year_path(s.path, y).exists()]
    if missing:
        raise ConfigError(f"{where} stack: {len(missing)} projected file(s) missing: "
                          f"{'; '.join(missing)}. Add them or remove the years.")
    return {"climate_stack": specs, "climate_stack_years": tuple(years),
            "climate_source": src.strip()}


def transition_codes(lct: Any, schedule: Schedule, i: int, where: str = ""
                     ) -> tuple[list[int], int]:
    """The land-cover class codes of transition ``i`` of ``schedule``: its ``from`` codes and
    its ``to`` code in the table ``lct`` (:class:`karstsink.mapping.landcover.LandcoverTable`),
    each given as a code of the table or one of its class names (any case).  An unknown
    class raises one ConfigError naming ``where`` (e.g. the schedule file) and the key,
    ``[[trajectory.transitions]] N ('name') from``."""
    t = schedule.transitions[i]
    at = f"{where}[[trajectory.transitions]] {i + 1} ({t.name!r})"
    return ([_class_code(lct, c, f"{at} from") for c in t.from_classes],
            _class_code(lct, t.to_class, f"{at} to"))


def check_schedule(schedule: Schedule, table: str, map_inputs: Any = (), where: str = ""
                   ) -> None:
    """Refuse, before any map runs, a schedule the map of ``map_inputs`` cannot take: a class
    that is not in the land-cover table ``table`` (a name or CSV path, as
    :func:`karstsink.mapping.landcover.load_landcover_table` takes), a class two transitions
    convert (by code: a name and its code are one class), a transition that converts its
    class to itself, or a slope rule (``min_slope_deg``) without a ``dem`` input.  One
    ConfigError naming ``where`` (e.g. the schedule file) and the transition."""
    from ..mapping.landcover import load_landcover_table

    lct = load_landcover_table(table)
    owner: dict[int, str] = {}  # class code -> the transition converting it
    for i, t in enumerate(schedule.transitions):
        froms, to = transition_codes(lct, schedule, i, where=where)
        label = f"Trajectory {where}[[trajectory.transitions]] {i + 1} ({t.name!r})"
        if all(f == to for f in froms):
            raise ConfigError(f"{label} converts class {t.to_class!r} to itself; give it "
                              f"another 'to' or other 'from' classes.")
        for f in froms:  # by code: 'cropland' and 1 (its CLCD code) are one class
            if f in owner and owner[f] != t.name:
                raise ConfigError(f"{label} and {owner[f]!r} both convert class {f} of "
                                  f"{lct.name}: their eligible pixels would overlap and be "
                                  f"counted twice; give each class to one transition.")
            owner[f] = t.name
        if t.min_slope_deg is not None and "dem" not in map_inputs:
            raise ConfigError(f"Trajectory {where}[[trajectory.transitions]] {i + 1} "
                              f"({t.name!r}) uses min_slope_deg, which needs [map.inputs] dem.")


def _class_code(lct: Any, value: str | int, what: str) -> int:
    codes = [int(c) for c in lct.classes]
    if isinstance(value, int):
        if value not in codes:
            raise ConfigError(f"Trajectory {what}: class {value} is not in the land-cover "
                              f"table {lct.name} (classes {codes}).")
        return value
    names = {str(n).strip().lower(): c for n, c in zip(lct.columns["name"], codes, strict=True)}
    key = value.strip().lower()
    if key not in names:
        raise ConfigError(f"Trajectory {what}: class {value!r} is not a class name of the "
                          f"land-cover table {lct.name} (names: {', '.join(names)}); fix the "
                          "name in the trajectory schedule.")
    return names[key]
