"""Figures of a trend analysis: flow-normalised flux series, pair/group bars, C-Q surface contours.

Each function returns a matplotlib ``Figure`` (Agg, nothing shown);
:func:`save_trend_plots` writes them as PNGs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .flux import _axes

__all__ = ["plot_fn_series", "plot_surface_contours", "plot_trend_bars", "save_trend_plots"]


def plot_fn_series(annual: pd.DataFrame, title: str = "", ax=None):
    """Annual mean flux (points), flow-normalised flux (line), GFN and WRTDS-Kalman [kg d⁻¹]
    (EGRET ``plotFluxHist``), with the 90 % bootstrap band of the flow-normalised flux
    (``fn_flux_lo90_kg_day``/``hi90``, or ``gfn_...``; EGRETci ``plotFluxHistBoot``) when
    ``annual`` has it. ``ax``: draw into these axes (default a new figure); returns the
    figure."""
    fig, ax = _axes(ax, 1, (7, 4.2))
    y = annual["year"]
    for pre, colour in (("fn", "tab:green"), ("gfn", "tab:blue")):
        lo, hi = f"{pre}_flux_lo90_kg_day", f"{pre}_flux_hi90_kg_day"
        if lo in annual and hi in annual:
            ax.fill_between(y, annual[lo], annual[hi], color=colour, alpha=0.18, lw=0,
                            label=f"90 % bootstrap band ({'GFN' if pre == 'gfn' else 'FN'})")
    ax.plot(y, annual["flux_mean_kg_day"], "o", c="0.3", ms=4, label="annual mean (WRTDS)")
    ax.plot(y, annual["fn_flux_kg_day"], "-", c="tab:green", lw=2, label="flow-normalised")
    if "gfn_flux_kg_day" in annual:
        ax.plot(y, annual["gfn_flux_kg_day"], "--", c="tab:blue", lw=1.5,
                label="generalized flow-normalised")
    if "kalman_flux_kg_day" in annual:
        ax.plot(y, annual["kalman_flux_kg_day"], "s", mfc="none", c="tab:red", ms=4,
                label="WRTDS-Kalman")
    ax.set_xlabel("year")
    ax.set_ylabel("flux [kg/d]")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.set_title(title or "Flux and flow-normalised flux", fontsize=10)
    return fig


def plot_trend_bars(table: pd.DataFrame, label1: str, label2: str, title: str = "",
                    ax=None):
    """Bars of x11, x22 and the change split into CQTC and QTC, with the 90 % interval.

    One panel per row of ``table`` (conc, flux, sink); ``ax``: as many axes to draw
    into (default a new figure). Returns the figure.
    """
    rows = [r for r in table.index if r in ("conc", "flux", "sink")]
    fig, axes = _axes(ax, len(rows), (3.6 * len(rows), 3.8))
    axes = np.atleast_1d(axes)
    for ax, r in zip(axes, rows, strict=True):
        t = table.loc[r]
        vals = [t["x11"], t["x22"], t["total_change"], t["cqtc"], t["qtc"]]
        cols = ["0.6", "0.3", "tab:purple", "tab:green", "tab:blue"]
        ax.bar(range(5), vals, color=cols)
        if "lo90" in t and np.isfinite(t.get("lo90", np.nan)):
            ax.errorbar([2], [t["total_change"]],  # an interval beside the estimate: no bar
                        yerr=[[max(t["total_change"] - t["lo90"], 0.0)],
                              [max(t["hi90"] - t["total_change"], 0.0)]],
                        fmt="none", ecolor="k", capsize=4)
        ax.axhline(0, c="k", lw=0.6)
        ax.set_xticks(range(5), [label1, label2, "total", "CQTC", "QTC"], rotation=35,
                      fontsize=8)
        ax.set_title(f"{r} [{t['units']}]", fontsize=9)
    fig.suptitle(title or "Change and its parts", fontsize=10)
    return fig


def plot_surface_contours(estimate, title: str = "", ax=None):
    """Contours of the WRTDS concentration surface [mg L⁻¹] over time and discharge
    (EGRET ``plotContours``); ``ax``: draw into these axes. Returns the figure."""
    g, surf = estimate.grid, np.asarray(estimate.surfaces[2])
    fig, ax = _axes(ax, 1, (7, 4.2))
    cs = ax.contourf(g.year, np.exp(g.log_q), surf, levels=12, cmap="viridis")
    ax.set_yscale("log")
    fig.colorbar(cs, ax=ax, label="concentration [mg/L]")
    ax.set_xlabel("year")
    ax.set_ylabel("discharge [m³/s]")
    ax.set_title(title or "WRTDS concentration surface", fontsize=10)
    return fig


def save_trend_plots(out_dir: str | os.PathLike, *, annual: pd.DataFrame | None = None,
                     result=None, estimate=None, labels: tuple[str, str] = ("1", "2")
                     ) -> list[Path]:
    """Write ``fn_flux.png``, ``trend_bars.png`` and ``surface_contours.png`` (those given).

    ``result`` is a :class:`~karstsink.flux.trends.TrendResult` or its table
    (with a ``sink`` row, as :class:`karstsink.workflows.trend.TrendRun` has it).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = []
    if annual is not None and len(annual):
        figs.append(("fn_flux.png", plot_fn_series(annual)))
    if result is not None:
        table = result if isinstance(result, pd.DataFrame) else result.table
        figs.append(("trend_bars.png", plot_trend_bars(table, *labels)))
    if estimate is not None and getattr(estimate, "surfaces", None) is not None:
        figs.append(("surface_contours.png", plot_surface_contours(estimate)))
    paths = []
    for name, fig in figs:
        fig.savefig(out / name, dpi=150, bbox_inches="tight", pad_inches=0.08)
        paths.append(out / name)
    return paths
