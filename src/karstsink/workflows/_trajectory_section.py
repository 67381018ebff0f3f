"""The report section of a restoration trajectory: text, tables and the trajectory figure."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from ..report import Figure, Section, Table, format_mass
from ..units import C_TO_CO2
from ._map_unit import mass_unit

__all__ = ["TRAJECTORY_YEARS", "trajectory_section"]

#: Years of the trajectory shown in the report's tables.
TRAJECTORY_YEARS = (2020, 2025, 2030, 2035, 2040, 2045, 2050, 2055, 2060)


def _reached_text(reached: pd.DataFrame) -> str:
    parts = []
    for r in reached.itertuples():
        last = int(r.last_year)
        if pd.isna(r.first_year):
            central = f"not reached by {last}"
        else:
            central = f"in {int(r.first_year)}"
        early = "—" if pd.isna(r.first_year_earliest) else str(int(r.first_year_earliest))
        late = (f"not by {last}" if pd.isna(r.first_year_latest)
                else str(int(r.first_year_latest)))
        parts.append(f"**{r.scenario}**: {central} (95 % band: {early} to {late})")
    return "; ".join(parts)


def _without_text(balance: pd.DataFrame, path: pd.DataFrame, share_pct: float) -> str:
    """The year each scenario's share would be reached without the restoration: each year's
    sinks less the restoration's gain (``path``: the zone's trajectory), i.e. the baseline,
    scaled by the climate factors where the schedule has them; so the restoration's own
    part can be read off."""
    gain = path.set_index("year")["restoration_gain_t_c_yr"] * C_TO_CO2
    parts = []
    for name, g in balance.sort_values("year").groupby("scenario", sort=False):
        without = g["total_sink_t_co2_yr"].to_numpy(float) - gain.reindex(g["year"]).to_numpy()
        hit = g["year"][100.0 * without / g["emissions_t_co2_yr"].to_numpy(float) >= share_pct]
        parts.append(f"{name} {int(hit.iloc[0])}" if len(hit)
                     else f"{name} not by {int(g['year'].iloc[-1])}")
    return ("without the restoration (each year's sinks less its restoration gain: the "
            "baseline, climate-scaled where the schedule projects climate): " + ", ".join(parts))


def trajectory_section(run: Any, *, co2: bool = False) -> Section:
    """The trajectory stage as a report section.

    Parameters
    ----------
    run : karstsink.workflows._trajectory.TrajectoryRun
        What :func:`karstsink.workflows._trajectory.run_trajectory` returned (its
        figure ``trajectory.png`` already drawn in ``run.folder``).
    co2 : bool
        The run's unit: the text leads in t CO2 (else t C), the other in brackets.

    Returns
    -------
    karstsink.report.Section
        Text (the schedule, its assumptions, the year the target share is reached
        per scenario), the province path in :data:`TRAJECTORY_YEARS` [t C a⁻¹, with
        95 % band], the offset shares per scenario [%], the potentials per
        transition [t C a⁻¹] and the figure.
    """
    from .. import scenario

    res = run.result
    sched = res.schedule
    path = res.table[res.table["zone"] == run.zone]
    shown = path[path["year"].isin(TRAJECTORY_YEARS)][[
        "year", "karst_sink_t_c_yr", "karst_sink_lo95_t_c_yr", "karst_sink_hi95_t_c_yr",
        "biological_sink_t_c_yr", "biological_sink_lo95_t_c_yr",
        "biological_sink_hi95_t_c_yr", "total_sink_t_c_yr", "total_sink_lo95_t_c_yr",
        "total_sink_hi95_t_c_yr", "restoration_gain_t_c_yr", "restoration_gain_lo95_t_c_yr",
        "restoration_gain_hi95_t_c_yr"]]
    bal = run.balance
    share_cols = ["scenario", "year", "emissions_t_co2_yr", "total_sink_t_co2_yr",
                  "total_share_pct", "total_share_lo95_pct", "total_share_hi95_pct"]
    shares = bal[bal["year"].isin(TRAJECTORY_YEARS)][[c for c in share_cols if c in bal]]
    pots = run.potentials[run.potentials["zone"] == run.zone][[
        "transition", "karst_potential_t_c_yr", "biological_potential_t_c_yr",
        "total_potential_t_c_yr"]]
    last = path[path["year"] == path["year"].max()].iloc[0]
    base = float(path["total_sink_t_c_yr"].iloc[0] - path["restoration_gain_t_c_yr"].iloc[0])
    gain = last["restoration_gain_t_c_yr"]
    (f, mass), (g, other) = mass_unit(co2), mass_unit(not co2)
    gain_text = (f"By {int(last['year'])} restoration adds "
                 f"{format_mass(gain * f, mass, per='yr')} "
                 f"(95 % band {format_mass(last['restoration_gain_lo95_t_c_yr'] * f)} to "
                 f"{format_mass(last['restoration_gain_hi95_t_c_yr'] * f, mass)}; "
                 f"{format_mass(gain * g, other, per='yr')}) to the "
                 f"baseline map's {format_mass(base * f, mass, per='yr')}.")
    transitions = "\n".join(f"- {a}" for a in res.assumptions[1:])
    text = (
        f"Schedule **{sched.name}** ({sched.path.name if sched.path else 'given'}), "
        f"{sched.first_year}-{sched.last_year}, zone {run.zone!r}. {res.assumptions[0]}.\n\n"
        f"{transitions}\n\n"
        "Each transition's potential (the sink with every eligible pixel in the new class "
        "minus the baseline, at full maturity) comes from map runs; a year's sink is the "
        "baseline plus each transition's converted share times its karst potential plus "
        "its maturity-weighted converted share (per annual cohort) times its biological "
        f"potential. 95 % band: {sched.draws} Monte Carlo draws (seed {sched.seed}) over "
        "the maturity time, the achieved share of the plan, the relative uncertainty of "
        "each potential and the baseline's own uncertainty. "
        f"{gain_text}\n\n"
        f"Year the sinks offset {sched.target_share_pct:g} % of the emissions: "
        f"{_reached_text(run.reached)}; "
        f"{_without_text(run.balance, path, sched.target_share_pct)}.\n\n"
        f"Emissions: {run.balance.attrs.get('source', scenario.SOURCE)}. "
        f"{run.balance.attrs.get('interpolation', scenario.INTERPOLATION)} "
        f"Sinks in t C per year; t CO2 = t C x {C_TO_CO2:.3f}. Full tables: "
        "`scenario/trajectory.csv` (every zone), `scenario/trajectory_balance.csv`, "
        "`scenario/trajectory_potentials.csv`, `scenario/trajectory_shares.csv`, "
        "`scenario/trajectory_share_reached.csv`"
        + (", `scenario/trajectory_climate.csv` (the projection stack's zone climate "
           "factors)" if "trajectory_climate.csv" in run.files else "") + ".")
    figures: list[Figure | str | os.PathLike] = []
    if run.figure is not None:
        figures.append(Figure(run.figure, "Restoration trajectory: karst, biological and total "
                                          "sinks with 95 % bands against the three emission "
                                          "scenarios [Mt CO2 per year, log scale; Mt C on the "
                                          "right axis], the sink restoration adds [Mt C per "
                                          "year] and the share of each scenario's emissions "
                                          "offset [%]."))
    return Section(
        title="Restoration trajectory against emission scenarios",
        text=text,
        tables=[Table(shown, caption=f"Sinks of {run.zone} under the schedule, central path "
                                     "and 95 % band [t C per year]."),
                Table(shares, caption="Offset share per emission scenario [% of that year's "
                                      "emissions; emissions and sink in t CO2 per year]."),
                Table(pots, caption="Potential of each transition at full conversion and "
                                    "maturity [t C per year].")],
        figures=figures,
    )
