"""Figures of the water chemistry: calcite saturation against CO2 pressure of the samples."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from .flux import _axes

__all__ = ["plot_si_pco2"]


def plot_si_pco2(tables: Mapping[str, pd.DataFrame], ax=None, *, title: str | None = None):
    """SI calcite [-] against log pCO2 [log10 atm], one colour per sample file.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        :func:`karstsink.speciate` results (``log_pco2``, ``si_calcite``) by name.
    ax : matplotlib.axes.Axes, optional
        Draw into these axes; default a new figure (constrained layout).
    title : str, optional
        Title; default "Calcite saturation and CO2 pressure of the samples".

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the axes. The dashed line is saturation (SI = 0):
        above it the water can precipitate calcite, below it dissolve it.
    """
    fig, ax = _axes(ax, 1, (6, 4.2))
    for name, t in tables.items():
        ok = t["si_calcite"].notna()
        ax.scatter(t.loc[ok, "log_pco2"], t.loc[ok, "si_calcite"], s=14, alpha=0.8,
                   label=f"{name} (n = {int(ok.sum())})")
    ax.axhline(0.0, color="0.4", lw=0.8, ls="--", label="calcite saturation (SI = 0)")
    ax.set_xlabel("log pCO₂ [log10 atm]")
    ax.set_ylabel("SI calcite [-]")
    ax.set_title(title or "Calcite saturation and CO₂ pressure of the samples", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    return fig
