"""The restoration-trajectory chart: sink paths with 95 % bands against emission paths."""

from __future__ import annotations

import os
import textwrap

import numpy as np
import pandas as pd

from ..exceptions import MissingColumnError
from ..io.atomic import atomic_path

__all__ = ["plot_trajectory"]

_COLOURS = {"total": "#238b45", "karst": "#2c7fb8", "biological": "#a1d99b"}
_LINE_STYLES = ["-", "--", ":", "-."]


def plot_trajectory(
    table: pd.DataFrame,
    path: str | os.PathLike | None = None,
    *,
    reached: pd.DataFrame | None = None,
    gain: pd.DataFrame | None = None,
    title: str | None = None,
    source: str | None = None,
    dpi: int = 150,
):
    """Draw sink trajectories (95 % bands) against emission scenarios and the offset share.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`karstsink.scenario.balance` table of yearly sinks with bands
        (``<sink>_sink_lo95_t_co2_yr`` ...), one or several scenarios.
    path : str or path-like, optional
        Where to save a PNG (written atomically). Nothing is written if None.
    reached : pandas.DataFrame, optional
        :func:`karstsink.scenario.share_reached` output: its share is drawn as a
        line on the share panel, and each scenario's first year as a marker.
    gain : pandas.DataFrame, optional
        One zone's rows of :attr:`karstsink.trajectory.TrajectoryResult.table`
        (``year``, ``restoration_gain_t_c_yr`` and its ``_lo95`` / ``_hi95``
        band [t C a⁻¹]): drawn in a middle panel, what restoration adds.
    title : str, optional
        Figure title.
    source : str, optional
        Source note of the emission data (default: the table's ``attrs["source"]``).
    dpi : int, default 150
        Resolution of the saved PNG [dots per inch].

    Returns
    -------
    matplotlib.figure.Figure
        Top panel (log scale): emissions per scenario and the karst, biological and
        total sink paths with their 95 % bands [Mt CO₂ a⁻¹; Mt C a⁻¹ on the right
        axis]. With ``gain``, a middle panel: the sink restoration adds [Mt C a⁻¹,
        Mt CO₂ a⁻¹ on the right], with its band. Bottom panel: the share of each
        scenario's emissions the total sink offsets [%], with its band.

    Raises
    ------
    MissingColumnError
        If ``table`` is not a balance table.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    from ..units import C_TO_CO2

    needed = {"year", "scenario", "emissions_t_co2_yr", "total_sink_t_co2_yr",
              "total_share_pct"}
    if not needed <= set(table.columns):
        raise MissingColumnError(
            f"plot_trajectory() needs a table from karstsink.scenario.balance(); missing "
            f"{sorted(needed - set(table.columns))}.")
    scenarios = list(dict.fromkeys(table["scenario"]))
    first = table[table["scenario"] == scenarios[0]]
    years = first["year"].to_numpy()
    fig = Figure(figsize=(8.4, 9.0 if gain is not None else 7.2), layout="constrained")
    FigureCanvasAgg(fig)
    if gain is not None:
        ax, ax_gain, ax_share = fig.subplots(3, 1, sharex=True, height_ratios=[3, 2, 2])
        _gain_panel(ax_gain, gain, C_TO_CO2)
    else:
        ax, ax_share = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])

    def mt(col: str, frame: pd.DataFrame = first) -> np.ndarray:
        return frame[col].to_numpy(dtype=float) / 1e6

    for sink in ("karst", "biological", "total"):
        col = f"{sink}_sink_t_co2_yr"
        if col not in first:
            continue
        colour = _COLOURS[sink]
        if f"{sink}_sink_lo95_t_co2_yr" in first:
            ax.fill_between(years, mt(f"{sink}_sink_lo95_t_co2_yr"),
                            mt(f"{sink}_sink_hi95_t_co2_yr"), color=colour, alpha=0.25,
                            lw=0, label=f"{sink} sink 95 % band")
        ax.plot(years, mt(col), color=colour, lw=2.2 if sink == "total" else 1.5,
                label=f"{sink} sink")
    for i, name in enumerate(scenarios):
        sub = table[table["scenario"] == name]
        ax.plot(sub["year"], mt("emissions_t_co2_yr", sub), color="black",
                linestyle=_LINE_STYLES[i % len(_LINE_STYLES)], lw=1.6,
                label=f"emissions: {name}")
    ax.set_yscale("log")
    ax.set_ylabel("Mt CO$_2$ yr$^{-1}$ (log scale)")
    sec = ax.secondary_yaxis("right", functions=(lambda v: v / C_TO_CO2,
                                                 lambda v: v * C_TO_CO2))
    sec.set_ylabel("Mt C yr$^{-1}$")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7.5, ncol=3,
              frameon=False)
    ax.grid(alpha=0.3, which="both")
    lows = [np.nanmin(mt(c)) for c in first.columns
            if c.endswith("_t_co2_yr") and "sink" in c and np.isfinite(mt(c)).any()]
    high = np.nanmax(table["emissions_t_co2_yr"].to_numpy(dtype=float)) / 1e6
    if lows and min(lows) > 0 and np.isfinite(high):
        ax.set_ylim(0.6 * min(lows), 1.6 * high)

    target = None
    if reached is not None and len(reached):
        target = float(reached["share_pct"].iloc[0])
    for i, name in enumerate(scenarios):
        sub = table[table["scenario"] == name]
        style = _LINE_STYLES[i % len(_LINE_STYLES)]
        if "total_share_lo95_pct" in sub:
            ax_share.fill_between(sub["year"], sub["total_share_lo95_pct"],
                                  sub["total_share_hi95_pct"], color=_COLOURS["total"],
                                  alpha=0.12, lw=0)
        ax_share.plot(sub["year"], sub["total_share_pct"], color=_COLOURS["total"],
                      linestyle=style, lw=1.6, label=f"all sinks / {name}")
        if reached is not None:
            hit = reached[reached["scenario"] == name]
            if len(hit) and not pd.isna(hit["first_year"].iloc[0]):
                ax_share.plot([int(hit["first_year"].iloc[0])], [target], "o", ms=5,
                              color="black")
    if target is not None:
        ax_share.axhline(target, color="grey", lw=0.8, ls=":")
        ax_share.annotate(f"{target:g} % target", (years[0], target), fontsize=7.5,
                          xytext=(2, 3), textcoords="offset points", color="grey")
    ax_share.set_ylabel("emissions offset [%]")
    ax_share.set_xlabel("year")
    top = np.nanmax(np.concatenate([table[c].to_numpy(dtype=float) for c in
                                    ("total_share_pct", "total_share_hi95_pct") if c in table]))
    ax_share.set_ylim(0, 1.15 * top if np.isfinite(top) and top > 0 else None)
    ax_share.legend(loc="upper left", fontsize=7.5, frameon=False)
    ax_share.grid(alpha=0.3)
    fig.suptitle(title or "Restoration trajectory against emission scenarios", fontsize=11)
    note = source or table.attrs.get("source", "")
    if note:
        engine = fig.get_layout_engine()
        assert isinstance(engine, ConstrainedLayoutEngine)  # made with layout="constrained"
        engine.set(h_pad=0.08)
        ax_share.text(0.0, -0.28, "\n".join(textwrap.wrap("Emissions: " + note, 130)),
                      transform=ax_share.transAxes, fontsize=6.5, va="top", color="#555555")
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    return fig


def _gain_panel(ax, gain: pd.DataFrame, c_to_co2: float) -> None:
    """What restoration adds [Mt C a⁻¹] with its 95 % band; Mt CO₂ on the right axis."""
    col = "restoration_gain_t_c_yr"
    if col not in gain or "year" not in gain:
        raise MissingColumnError("plot_trajectory(gain=...) needs 'year' and "
                                 "'restoration_gain_t_c_yr' columns (a trajectory table).")
    yrs = gain["year"].to_numpy()
    if f"{col[:-7]}_lo95_t_c_yr" in gain:
        ax.fill_between(yrs, gain[f"{col[:-7]}_lo95_t_c_yr"] / 1e6,
                        gain[f"{col[:-7]}_hi95_t_c_yr"] / 1e6, color=_COLOURS["total"],
                        alpha=0.25, lw=0, label="95 % band")
    ax.plot(yrs, gain[col] / 1e6, color=_COLOURS["total"], lw=2.0,
            label="added by restoration (karst + biological)")
    ax.set_ylabel("added sink [Mt C yr$^{-1}$]")
    sec = ax.secondary_yaxis("right", functions=(lambda v: v * c_to_co2,
                                                 lambda v: v / c_to_co2))
    sec.set_ylabel("Mt CO$_2$ yr$^{-1}$")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", fontsize=7.5, frameon=False)
    ax.grid(alpha=0.3)
