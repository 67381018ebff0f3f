"""The balance chart: stacked carbon sinks against emission-scenario lines (matplotlib, Agg)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from ..exceptions import MissingColumnError
from ..io.atomic import atomic_path

__all__ = ["plot_balance"]

_SINK_COLOURS = ["#2c7fb8", "#41ab5d", "#fdae61", "#9e9ac8", "#f768a1", "#969696"]
_LINE_STYLES = ["-", "--", ":", "-."]


def plot_balance(
    table: pd.DataFrame,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    dpi: int = 150,
):
    """Draw sinks (stacked areas) against emissions (lines), and the share each sink offsets.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`karstsink.scenario.balance` (one or several
        scenarios).
    path : str or path-like, optional
        Where to save a PNG (written atomically). Nothing is written if None.
    title : str, optional
        Figure title.
    dpi : int, default 150
        Resolution of the saved PNG [dots per inch].

    Returns
    -------
    matplotlib.figure.Figure
        Top panel: emissions per scenario and the stacked sinks [Mt CO₂ a⁻¹]
        (a secondary axis gives Mt C a⁻¹), with the 95 % band of their sum
        (hatched) when the table has one. Bottom panel: the share of
        emissions offset [%], stacked by sink for one scenario, or the total
        share per scenario (with its band) for several. For sink paths with
        bands against several scenarios see
        :func:`karstsink.plots.trajectory.plot_trajectory`.

    Raises
    ------
    MissingColumnError
        If ``table`` is not a balance table.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..units import C_TO_CO2

    needed = {"year", "scenario", "emissions_t_co2_yr", "total_share_pct"}
    if not needed <= set(table.columns):
        raise MissingColumnError(
            f"plot_balance() needs a table from karstsink.scenario.balance(); missing "
            f"{sorted(needed - set(table.columns))}."
        )
    sinks = [c[: -len("_sink_t_co2_yr")] for c in table.columns
             if c.endswith("_sink_t_co2_yr") and not c.startswith("total")]
    scenarios = list(dict.fromkeys(table["scenario"]))
    first = table[table["scenario"] == scenarios[0]]
    years = first["year"].to_numpy()

    fig = Figure(figsize=(8.0, 6.4), layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_share = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])

    stack = [first[f"{s}_sink_t_co2_yr"].to_numpy(dtype=float) / 1e6 for s in sinks]
    ax.stackplot(years, *stack, labels=[f"{s} sink" for s in sinks],
                 colors=_SINK_COLOURS[: len(sinks)], alpha=0.85)
    if "total_sink_lo95_t_co2_yr" in first:  # a yearly sink path with its band
        ax.fill_between(years, first["total_sink_lo95_t_co2_yr"] / 1e6,
                        first["total_sink_hi95_t_co2_yr"] / 1e6, facecolor="none",
                        edgecolor="#444444", hatch="////", lw=0.0,
                        label="all sinks, 95 % band")
    for i, name in enumerate(scenarios):
        sub = table[table["scenario"] == name]
        ax.plot(sub["year"], sub["emissions_t_co2_yr"] / 1e6, color="black",
                linestyle=_LINE_STYLES[i % len(_LINE_STYLES)], lw=1.8,
                label=f"emissions: {name}")
        anchors = sub[sub.get("is_anchor", pd.Series(False, index=sub.index)).astype(bool)]
        ax.plot(anchors["year"], anchors["emissions_t_co2_yr"] / 1e6, "o", color="black",
                ms=3.5)
    ax.set_ylabel("Mt CO$_2$ yr$^{-1}$")
    top = np.nanmax([np.nanmax(table["emissions_t_co2_yr"].to_numpy(dtype=float)) / 1e6,
                     np.nansum([np.nanmax(v) if np.isfinite(v).any() else 0.0 for v in stack])])
    ax.set_ylim(0, 1.4 * top if np.isfinite(top) and top > 0 else None)
    sec = ax.secondary_yaxis("right", functions=(lambda v: v / C_TO_CO2,
                                                 lambda v: v * C_TO_CO2))
    sec.set_ylabel("Mt C yr$^{-1}$")
    ax.legend(loc="upper left", fontsize=8, ncol=2, frameon=False)
    ax.grid(alpha=0.3)

    if len(scenarios) == 1:
        shares = [np.nan_to_num(first[f"{s}_share_pct"].to_numpy(dtype=float)) for s in sinks]
        ax_share.stackplot(years, *shares, labels=sinks, colors=_SINK_COLOURS[: len(sinks)],
                           alpha=0.85)
    else:
        for i, name in enumerate(scenarios):
            sub = table[table["scenario"] == name]
            if "total_share_lo95_pct" in sub:
                ax_share.fill_between(sub["year"], sub["total_share_lo95_pct"],
                                      sub["total_share_hi95_pct"], color="#2c7fb8",
                                      alpha=0.12, lw=0)
            ax_share.plot(sub["year"], sub["total_share_pct"], color="#2c7fb8",
                          linestyle=_LINE_STYLES[i % len(_LINE_STYLES)],
                          label=f"all sinks / {name}")
    ax_share.set_ylabel("emissions offset [%]")
    ax_share.set_xlabel("year")
    share_top = np.nanmax(table[[c for c in ("total_share_pct", "total_share_hi95_pct")
                                 if c in table]].to_numpy(dtype=float))
    ax_share.set_ylim(0, 1.35 * share_top if np.isfinite(share_top) and share_top > 0 else None)
    ax_share.legend(loc="upper left", fontsize=8, frameon=False)
    ax_share.grid(alpha=0.3)
    fig.suptitle(title or "Carbon sinks against emission scenarios (t CO$_2$; C on right axis)",
                 fontsize=11)
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    return fig
