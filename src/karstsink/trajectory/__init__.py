r"""Restoration trajectories: the karst and biological sinks year by year under a schedule.

A restoration scenario is a *schedule* (TOML, :func:`load_schedule`): land-cover
transitions (e.g. cropland on slopes > 25° to forest), each converting a share of
its eligible area between a start and an end year, a maturity curve for the
biological sink of the restored class, and the uncertain parameters with their
ranges. The map engine is run once for the baseline and once per transition at full
conversion (:mod:`karstsink.workflows._trajectory`); this module needs only the zone
totals those runs give:

* ``baseline``: one row per zone, ``zone``, ``karst_sink_t_c_yr``,
  ``biological_sink_t_c_yr`` [t C a⁻¹] and optionally ``karst_sink_sd_t_c_yr``,
  ``biological_sink_sd_t_c_yr`` [t C a⁻¹] (the baseline's own 1-sigma uncertainty);
* ``potentials``: one row per zone and transition, ``zone``, ``transition`` (its
  ``name``), ``karst_potential_t_c_yr`` and ``biological_potential_t_c_yr`` [t C a⁻¹]:
  the zone total of the sink with every eligible pixel in the new class minus the
  baseline, split into the karst part (through the new class's soil-pCO2 and runoff
  factors) and the biological part (the new class's sink at full maturity).

With :math:`c_j(t)` the share of transition *j*'s eligible area converted by the end
of year *t* (0 before its start; piecewise linear through its schedule points), the
annual cohort :math:`\Delta c_j(y) = c_j(y) - c_j(y-1)` and the maturity
:math:`m_j(a)` of a cohort *a* years after conversion,

.. math::

    K(t) &= K_0 + \sum_j c_j(t)\,P^{karst}_j \\
    B(t) &= B_0 + \sum_j \Big[\sum_{y \le t} \Delta c_j(y)\, m_j(t-y)\Big] P^{bio}_j

per zone [t C a⁻¹]. The karst response is immediate (the soil-pCO2 factor of the
new class from the conversion year on) unless ``karst_matures = true``, when the
karst potential follows the same cohort maturity. Climate is held at the baseline
map's, or scaled per year by the schedule's ``[trajectory.climate]`` factors
:math:`f_K(t)`, :math:`f_B(t)` (both sinks, baseline and restoration parts alike), or,
with a projection ``stack``, per zone by :math:`f_K(z, t)`, :math:`f_B(z, t)` from a map
series of the stack (:func:`stack_climate_factors`: the series' zone totals over the
baseline map's, 1 in ``first_year``, piecewise linear between the stack years, held
after the last). Exact in expectation: the model is linear in the converted area.

Uncertainty (:func:`trajectory`): Monte Carlo over the maturity time (uniform in its
range), the achieved share of the plan (uniform), the biological and karst
potentials (normal, relative sd, floored at 0) and the baseline (normal, its sd
columns and/or relative sds); seeded; the 95 % band is the 2.5-97.5 percentile of
the draws per zone and year. Every draw shares the same per-zone potentials, so
the draws cost no map run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import ConfigError, MissingColumnError
from ..units import C_TO_CO2
from ._schedule import (
    MATURITY_CURVES,
    Schedule,
    Transition,
    check_schedule,
    load_schedule,
    schedule_from_dict,
    transition_codes,
)

__all__ = [
    "CLIMATE_COLUMNS",
    "MATURITY_CURVES",
    "Schedule",
    "TrajectoryResult",
    "Transition",
    "balance_sinks",
    "check_schedule",
    "converted_share",
    "load_schedule",
    "matured_share",
    "maturity",
    "schedule_from_dict",
    "stack_climate_factors",
    "trajectory",
    "transition_codes",
]

#: the columns of a per-zone climate factor table (``zone``, ``year`` and these, [-])
CLIMATE_COLUMNS = ("karst_climate_factor", "biological_climate_factor")


@dataclass
class TrajectoryResult:
    """What :func:`trajectory` returns.

    ``table``: one row per zone and year, ``zone``, ``year``, the central path
    ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr``, ``total_sink_t_c_yr`` and
    ``restoration_gain_t_c_yr`` (total minus the climate-scaled baseline), and the
    95 % band of each, ``<name>_lo95_t_c_yr`` / ``<name>_hi95_t_c_yr`` [t C a⁻¹]
    (the gain's band without the baseline's own uncertainty). ``shares``: one row per
    transition and year, ``converted_share_frac`` (planned x central achieved share)
    and ``matured_share_frac`` (the converted area weighted by its maturity) [0-1].
    ``draws``: {zone: float32 array (draws, years, 3) of karst, biological and total
    [t C a⁻¹]}. Memory: about 6 x zones x (draws + 1) x years x 8 bytes while it runs
    (88 zones, 1000 draws, 41 years: ~175 MB).
    """

    table: pd.DataFrame
    shares: pd.DataFrame
    draws: dict[str, np.ndarray]
    schedule: Schedule
    assumptions: list[str]


# --------------------------------------------------------------------------------------
# the arithmetic
# --------------------------------------------------------------------------------------
def converted_share(t: Transition, years: np.ndarray) -> np.ndarray:
    """Planned cumulative converted share c(t) [0-1] by the end of each year.

    Piecewise linear through the transition's points; 0 before the first, held
    after the last.
    """
    xs = np.array([p[0] for p in t.points], float)
    ys = np.array([p[1] for p in t.points], float)
    return np.interp(np.asarray(years, float), xs, ys, left=0.0, right=ys[-1])


def maturity(age: np.ndarray, years_to_mature: np.ndarray | float,
             curve: str = "linear") -> np.ndarray:
    """Maturity m(a) [0-1] of a cohort ``age`` years after conversion.

    ``linear``: m = clip(a / T, 0, 1). ``logistic``: L(a) = 1 / (1 + exp(-10 (a -
    T/2) / T)), m = (L(a) - L(0)) / (L(T) - L(0)) for 0 <= a <= T, 1 after T, 0
    before 0. ``years_to_mature`` broadcasts against ``age``.
    """
    a = np.asarray(age, float)
    big_t = np.asarray(years_to_mature, float)
    x = np.clip(a / big_t, 0.0, 1.0)
    if curve == "linear":
        return x
    if curve != "logistic":
        raise ConfigError(f"maturity curve must be one of {', '.join(MATURITY_CURVES)}; "
                          f"got {curve!r}.")

    def logistic(u):
        return 1.0 / (1.0 + np.exp(-10.0 * (u - 0.5)))

    return (logistic(x) - logistic(0.0)) / (logistic(1.0) - logistic(0.0))


def _fractions(t: Transition, years: np.ndarray,
               years_to_mature: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Converted c(t) (years,) and matured F(t) (draws, years) shares of the plan."""
    y0 = min(int(years[0]), t.points[0][0])
    full = np.arange(y0, int(years[-1]) + 1)
    c = converted_share(t, full)
    cohort = np.diff(np.concatenate([[0.0], c]))  # c(y0 - 1) = 0: y0 <= start
    age = full[:, None] - full[None, :]  # [t, y]
    m = maturity(age[None, :, :], years_to_mature[:, None, None], t.maturity_curve)
    m = np.where(age[None] >= 0, m, 0.0)
    matured = m @ cohort  # (draws, t)
    keep = np.isin(full, years)
    return c[keep], matured[:, keep]


def matured_share(t: Transition, years: np.ndarray) -> np.ndarray:
    """Planned converted area weighted by its maturity, F(t) = sum_y Δc(y) m(t - y) [0-1]."""
    return _fractions(t, np.asarray(years), np.array([t.maturity_years]))[1][0]


def _column(table: pd.DataFrame, col: str, what: str) -> np.ndarray:
    if col not in table:
        raise MissingColumnError(f"The {what} table has no {col!r} column (columns: "
                                 f"{', '.join(map(str, table.columns))}).")
    return pd.to_numeric(table[col], errors="raise").to_numpy(float)


def _bio_draws(t: Transition, sub: pd.DataFrame, pb: np.ndarray, rng: np.random.Generator,
               n_draw: int) -> np.ndarray:
    """A transition's biological potential per zone, central (column 0) and per draw.

    ``biological_rel_sd`` given: pb x max(1 + sd z, 0). Not given, and the potentials
    carry ``biological_potential_lo_t_c_yr`` / ``_hi_t_c_yr`` (the new class's table
    range times the eligible area): lo + u (hi - lo), u uniform, one u per draw for every
    zone (the class value is one number). Otherwise fixed.
    """
    out = np.repeat(pb[:, None], n_draw + 1, axis=1)
    lo_col, hi_col = "biological_potential_lo_t_c_yr", "biological_potential_hi_t_c_yr"
    if t.biological_rel_sd is not None:
        out[:, 1:] *= np.maximum(1.0 + t.biological_rel_sd * rng.standard_normal(n_draw), 0.0)
    elif lo_col in sub and hi_col in sub:
        lo = sub[lo_col].to_numpy(float)
        hi = sub[hi_col].to_numpy(float)
        known = np.isfinite(lo) & np.isfinite(hi)
        u = rng.uniform(0.0, 1.0, n_draw)
        drawn = lo[:, None] + u[None, :] * (hi - lo)[:, None]
        out[:, 1:] = np.where(known[:, None], drawn, out[:, 1:])
    return out


def _where(schedule: Schedule) -> str:
    return f"{schedule.path}: " if schedule.path else ""


def stack_climate_factors(schedule: Schedule, baseline: pd.DataFrame,
                          projected: pd.DataFrame) -> pd.DataFrame:
    r"""Zone climate factors [-] from the zone totals of a projection stack's map series.

    At each stack year :math:`y_i` the factor of zone *z* is its projected sink over
    the baseline map's, :math:`f_K(z, y_i) = K_{proj}(z, y_i) / K_0(z)` (the biological
    :math:`f_B` likewise); :math:`f = 1` in ``first_year`` (the baseline map), linear
    between, held after the last stack year. A zone whose baseline sink is 0 (or
    unknown: no valid pixel) keeps factor 1 for that sink.

    Parameters
    ----------
    schedule : Schedule
        A schedule with ``[trajectory.climate] stack`` (its years and first year).
    baseline : pandas.DataFrame
        ``zone``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr`` [t C a⁻¹]: the
        baseline map's zone totals.
    projected : pandas.DataFrame
        ``zone``, ``year``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr``
        [t C a⁻¹]: the zone totals of the map series with the stack's inputs (the rows
        of its ``series.csv``), for every zone of ``baseline`` and every stack year.

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``year`` (every year of the trajectory), ``karst_climate_factor``,
        ``biological_climate_factor`` [-]: the ``climate`` of :func:`trajectory`.

    Raises
    ------
    ConfigError
        No stack in the schedule, a zone or year missing from ``projected``, or a
        zone with a baseline sink but none in a projected year (no valid pixel).
    MissingColumnError
        A missing column.
    """
    where = _where(schedule)
    stack_years = list(schedule.climate_stack_years)
    if not stack_years:
        raise ConfigError(f"{where}[trajectory.climate] has no stack: there are no zone "
                          f"factors to derive.")
    if "zone" not in baseline or "zone" not in projected or "year" not in projected:
        raise MissingColumnError("stack_climate_factors needs 'zone' in the baseline and "
                                 "'zone' and 'year' in the projected zone totals.")
    zones = [str(z) for z in baseline["zone"]]
    years = schedule.years
    sub, gone = _zone_year_rows(projected, zones, stack_years)
    if gone:
        raise ConfigError(f"{where}[trajectory.climate] stack: the map series has no zone "
                          f"total for {gone}.")
    out: dict[str, Any] = {"zone": np.repeat(zones, len(years)),
                           "year": np.tile(years, len(zones))}
    xs = np.array([schedule.first_year, *stack_years], float)
    for sink, col in zip(("karst_sink", "biological_sink"), CLIMATE_COLUMNS, strict=True):
        k0 = _column(baseline, f"{sink}_t_c_yr", "baseline")
        kp = _column(sub, f"{sink}_t_c_yr", "projected").reshape(
            len(zones), len(stack_years))
        f = np.ones((len(zones), len(years)))
        for i, z in enumerate(zones):
            if not np.isfinite(k0[i]) or k0[i] == 0.0:
                continue  # no baseline sink: nothing to scale
            bad = [y for y, v in zip(stack_years, kp[i], strict=True) if not np.isfinite(v)]
            if bad:
                raise ConfigError(f"{where}[trajectory.climate] stack: zone {z!r} has a "
                                  f"baseline {sink.replace('_', ' ')} but no valid pixel in "
                                  f"the projection of {', '.join(map(str, bad))}; the "
                                  f"projected rasters must cover the map.")
            f[i] = np.interp(years.astype(float), xs, np.concatenate([[1.0], kp[i] / k0[i]]))
        out[col] = f.ravel()
    return pd.DataFrame(out)


def _zone_year_rows(table: pd.DataFrame, zones: list[str], years) -> tuple[pd.DataFrame, str]:
    """The rows of ``table`` for every (zone, year), zone-major (the first of duplicates),
    and the missing pairs as text ("" when none; at most five named)."""
    tab = table.assign(zone=table["zone"].astype(str),
                       year=pd.to_numeric(table["year"]).astype(int))
    tab = tab.drop_duplicates(["zone", "year"]).set_index(["zone", "year"])
    want = pd.MultiIndex.from_product([zones, years], names=["zone", "year"])
    gone = [f"{z} {y}" for z, y in want if (z, y) not in tab.index]
    if gone:
        return tab, ", ".join(gone[:5]) + (" ..." if len(gone) > 5 else "")
    return tab.loc[want].reset_index(), ""


def _climate_arrays(schedule: Schedule, zones: list[str], climate: pd.DataFrame | None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """The karst and biological climate factors [-], arrays (zones, years)."""
    years = schedule.years
    shape = (len(zones), len(years))
    where = _where(schedule)
    if climate is None:
        if schedule.climate_stack:
            raise ConfigError(
                f"{where}[trajectory.climate] stack: its factors are per zone, from a map "
                f"series of the stack; pass climate=stack_climate_factors(...) "
                f"(karstsink.workflows._trajectory.run_trajectory runs the series).")
        return (np.broadcast_to(schedule.climate_factor("karst"), shape),
                np.broadcast_to(schedule.climate_factor("biological"), shape))
    if schedule.karst_climate or schedule.biological_climate:
        raise ConfigError(f"{where}[trajectory.climate] karst_factor / biological_factor and "
                          f"a climate table both give the climate; use one of them.")
    if "zone" not in climate or "year" not in climate:
        raise MissingColumnError("The climate table needs 'zone' and 'year' columns.")
    sub, gone = _zone_year_rows(climate, zones, years)
    if gone:
        raise ConfigError(f"The climate table has no factor for {gone} (zone and year).")
    f_k, f_b = (_column(sub, c, "climate").reshape(shape) for c in CLIMATE_COLUMNS)
    return f_k, f_b


def trajectory(schedule: Schedule, baseline: pd.DataFrame, potentials: pd.DataFrame,
               *, climate: pd.DataFrame | None = None, draws: int | None = None,
               seed: int | None = None) -> TrajectoryResult:
    """Yearly karst, biological and total sinks per zone, with 95 % bands.

    Parameters
    ----------
    schedule : Schedule
        From :func:`load_schedule`.
    baseline : pandas.DataFrame
        ``zone``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr`` [t C a⁻¹],
        optionally ``karst_sink_sd_t_c_yr`` and ``biological_sink_sd_t_c_yr``.
    potentials : pandas.DataFrame
        ``zone``, ``transition``, ``karst_potential_t_c_yr``,
        ``biological_potential_t_c_yr`` [t C a⁻¹] for every zone and transition;
        optionally ``biological_potential_lo_t_c_yr`` / ``_hi_t_c_yr``, the range the
        biological potential is drawn from (uniform) when the transition gives no
        ``biological_rel_sd``.
    climate : pandas.DataFrame, optional
        Per-zone climate factors: ``zone``, ``year`` (every zone and year),
        ``karst_climate_factor``, ``biological_climate_factor`` [-], as
        :func:`stack_climate_factors` gives them; required with a projection stack.
        Absent: the schedule's factor tables (or 1, climate held).
    draws, seed : int, optional
        Override the schedule's Monte Carlo draws and seed.

    Returns
    -------
    TrajectoryResult
        The central path uses the central parameters (``maturity_years``, the
        midpoint of ``achieved_share``, no sd); the band the Monte Carlo draws.

    Raises
    ------
    MissingColumnError, ConfigError
        A missing column, a zone / transition without its potential, a stack without
        its ``climate`` table or a zone / year without its factor.
    """
    years = schedule.years
    n_draw = int(draws or schedule.draws)
    rng = np.random.default_rng(schedule.seed if seed is None else seed)
    zones = [str(z) for z in baseline["zone"]] if "zone" in baseline else None
    if zones is None:
        raise MissingColumnError("The baseline table has no 'zone' column.")
    bk = _column(baseline, "karst_sink_t_c_yr", "baseline")
    bb = _column(baseline, "biological_sink_t_c_yr", "baseline")
    f_k, f_b = (f[:, None, :] for f in _climate_arrays(schedule, zones, climate))
    sdk = (_column(baseline, "karst_sink_sd_t_c_yr", "baseline")
           if "karst_sink_sd_t_c_yr" in baseline else np.zeros(len(zones)))
    sdb = (_column(baseline, "biological_sink_sd_t_c_yr", "baseline")
           if "biological_sink_sd_t_c_yr" in baseline else np.zeros(len(zones)))
    sdk = np.hypot(np.nan_to_num(sdk), schedule.baseline_karst_rel_sd * bk)
    sdb = np.hypot(np.nan_to_num(sdb), schedule.baseline_biological_rel_sd * bb)
    pot = potentials.assign(zone=potentials["zone"].astype(str)).set_index(
        ["transition", "zone"]) if len(potentials) else None
    n_y, n_z = len(years), len(zones)
    # central (index 0) and draws (1..n): karst and biological [zone, draw, year]
    karst = np.repeat(bk[:, None, None], n_draw + 1, axis=1).repeat(n_y, axis=2)
    bio = np.repeat(bb[:, None, None], n_draw + 1, axis=1).repeat(n_y, axis=2)
    z_k, z_b = rng.standard_normal(n_draw), rng.standard_normal(n_draw)
    karst[:, 1:, :] += (sdk[:, None] * z_k[None, :])[:, :, None]
    bio[:, 1:, :] += (sdb[:, None] * z_b[None, :])[:, :, None]
    gain_k = np.zeros_like(karst)  # what restoration adds [zone, draw, year]
    gain_b = np.zeros_like(bio)
    share_rows = []
    for t in schedule.transitions:
        lo, hi = t.maturity_years_range
        t_draw = np.concatenate([[t.maturity_years], rng.uniform(lo, hi, n_draw)])
        a_lo, a_hi = t.achieved_share
        achieved = np.concatenate([[(a_lo + a_hi) / 2], rng.uniform(a_lo, a_hi, n_draw)])
        f_karst = np.concatenate([[1.0], np.maximum(
            1.0 + t.karst_rel_sd * rng.standard_normal(n_draw), 0.0)])
        c, matured = _fractions(t, years, t_draw)  # (years,), (draws+1, years)
        k_frac = matured if t.karst_matures else np.broadcast_to(c, matured.shape)
        k_frac = achieved[:, None] * f_karst[:, None] * k_frac
        b_frac = achieved[:, None] * matured
        if pot is None or t.name not in pot.index.get_level_values(0):
            raise ConfigError(f"No potentials for transition {t.name!r} (the potentials table "
                              f"has {sorted(set(potentials.get('transition', [])))}).")
        sub = pot.loc[t.name]
        missing = [z for z in zones if z not in sub.index]
        if missing:
            raise ConfigError(f"Transition {t.name!r} has no potential for zone(s) "
                              f"{missing[:5]}.")
        pk = sub.loc[zones, "karst_potential_t_c_yr"].to_numpy(float)
        pb = sub.loc[zones, "biological_potential_t_c_yr"].to_numpy(float)
        pb_draw = _bio_draws(t, sub.loc[zones], pb, rng, n_draw)  # (zones, draws+1)
        add_k = pk[:, None, None] * k_frac[None]
        add_b = pb_draw[:, :, None] * b_frac[None]
        gain_k += add_k
        gain_b += add_b
        share_rows.append(pd.DataFrame({
            "transition": t.name, "year": years, "converted_share_frac": achieved[0] * c,
            "matured_share_frac": achieved[0] * matured[0]}))
    # climate factors per zone and year (1 = held at the baseline map's climate) scale
    # each sink, the baseline's and restoration's parts alike
    gain_k *= f_k
    gain_b *= f_b
    karst = karst * f_k + gain_k
    bio = bio * f_b + gain_b
    gain = gain_k + gain_b
    total = karst + bio
    rows = {"zone": np.repeat(zones, n_y), "year": np.tile(years, n_z)}
    for name, arr in (("karst_sink", karst), ("biological_sink", bio), ("total_sink", total)):
        rows[f"{name}_t_c_yr"] = arr[:, 0, :].ravel()
    rows["restoration_gain_t_c_yr"] = gain[:, 0, :].ravel()
    for name, arr in (("karst_sink", karst), ("biological_sink", bio), ("total_sink", total),
                      ("restoration_gain", gain)):
        lo95, hi95 = np.percentile(arr[:, 1:, :], [2.5, 97.5], axis=1)
        rows[f"{name}_lo95_t_c_yr"] = lo95.ravel()
        rows[f"{name}_hi95_t_c_yr"] = hi95.ravel()
    table = pd.DataFrame(rows)
    draws_out = {z: np.stack([karst[i, 1:], bio[i, 1:], total[i, 1:]], axis=-1)
                 .astype(np.float32) for i, z in enumerate(zones)}
    return TrajectoryResult(table=table, shares=pd.concat(share_rows, ignore_index=True),
                            draws=draws_out, schedule=schedule,
                            assumptions=schedule.assumptions())


def balance_sinks(result: TrajectoryResult, zone: str) -> tuple[dict[str, pd.DataFrame],
                                                                 pd.DataFrame]:
    """One zone's trajectory as :func:`karstsink.scenario.balance` sinks [t CO₂ a⁻¹].

    Returns
    -------
    (dict, pandas.DataFrame)
        ``{"karst": ..., "biological": ...}``, each a table ``year``, ``value``,
        ``lo``, ``hi`` [t CO₂ a⁻¹] (central path and 95 % band), and the band of
        their sum (``year``, ``lo``, ``hi``), for ``balance(..., total_band=...)``.
    """
    sub = result.table[result.table["zone"] == zone]
    if sub.empty:
        raise ConfigError(f"Zone {zone!r} is not in the trajectory (zones: "
                          f"{sorted(set(result.table['zone']))[:5]}...).")
    sinks = {}
    for key, col in (("karst", "karst_sink"), ("biological", "biological_sink")):
        sinks[key] = pd.DataFrame({"year": sub["year"].to_numpy(),
                                   "value": sub[f"{col}_t_c_yr"].to_numpy() * C_TO_CO2,
                                   "lo": sub[f"{col}_lo95_t_c_yr"].to_numpy() * C_TO_CO2,
                                   "hi": sub[f"{col}_hi95_t_c_yr"].to_numpy() * C_TO_CO2})
    band = pd.DataFrame({"year": sub["year"].to_numpy(),
                         "lo": sub["total_sink_lo95_t_c_yr"].to_numpy() * C_TO_CO2,
                         "hi": sub["total_sink_hi95_t_c_yr"].to_numpy() * C_TO_CO2})
    return sinks, band
