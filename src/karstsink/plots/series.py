"""Figures of a series map run: the yearly sinks with their 95 % bands, the attribution bars.

Each function takes ``ax=`` (draw into given axes; default a new figure) and returns the
matplotlib ``Figure`` (Agg, nothing shown). Inputs are the tables the map engine writes
(``series.csv``, ``uncertainty.csv``, ``attribution.csv``; column contracts in
docs/series.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..exceptions import MissingColumnError
from .flux import _axes

__all__ = ["ATTRIBUTION_PARTS", "KT", "MT", "attribution_zones", "label_column",
           "plot_attribution", "plot_series", "total_label"]

#: t C per Mt C and per kt C (the figures' units)
MT, KT = 1e6, 1e3
#: The stacked parts of an attribution bar: (column, legend label, colour).
ATTRIBUTION_PARTS = (("climate_t_c_yr", "climate", "#2c7fb8"),
                     ("landcover_t_c_yr", "land cover", "#41ab5d"),
                     ("interaction_t_c_yr", "interaction", "#bdbdbd"))
_SINKS = (("karst_sink", "karst", "#2c7fb8"), ("biological_sink", "biological", "#41ab5d"),
          ("total_sink", "total", "#00441b"))


def label_column(columns) -> str:
    """The zone-name column of a series table: the first after ``zone_id`` that is not
    ``year`` (``series.csv`` puts the year first), else ``zone``."""
    cols = [str(c) for c in columns]
    if cols and cols[0] == "zone_id":
        rest = [c for c in cols[1:3] if c != "year"]
        if rest:
            return rest[0]
    return "zone"


def total_label(table: pd.DataFrame) -> tuple[str, str]:
    """``(label column, TOTAL label)`` of a series / attribution / uncertainty table: the
    zone-name column (:func:`label_column`) and its TOTAL row's value.

    Raises
    ------
    MissingColumnError
        Without a zone-name column or a TOTAL row.
    """
    cols = list(table.columns)
    label = label_column(cols)
    if label not in table:
        raise MissingColumnError(f"expected a zone-name column after zone_id; columns: {cols}")
    names = table[label].astype(str)
    total = names[names.str.startswith("TOTAL")]
    if total.empty:
        raise MissingColumnError(f"no TOTAL row in the {label!r} column of the table")
    return label, str(total.iloc[0])


def _zone_rows(table: pd.DataFrame, zone: str | None) -> pd.DataFrame:
    label, total = total_label(table)
    rows = table[table[label].astype(str) == (total if zone is None else str(zone))]
    if rows.empty:
        raise MissingColumnError(f"zone {zone!r} is not in the table's {label!r} column")
    return rows.sort_values("year")


def plot_series(series: pd.DataFrame, uncertainty: pd.DataFrame | None = None, *,
                zone: str | None = None, title: str | None = None, ax=None):
    """The yearly karst, biological and total sinks of one zone [Mt C yr⁻¹], with bands.

    Parameters
    ----------
    series : pandas.DataFrame
        ``series.csv`` (``year``, ``karst_sink_t_c_yr``, ``biological_sink_t_c_yr``,
        ``total_sink_t_c_yr`` [t C yr⁻¹] per zone and year, with TOTAL rows).
    uncertainty : pandas.DataFrame, optional
        ``uncertainty.csv``: each sink's ``_lo95_t_c_yr`` / ``_hi95_t_c_yr`` is drawn
        as a band (the 2.5-97.5 percentiles of the Monte Carlo draws).
    zone : str, optional
        The zone (its name in the zone-name column); default the TOTAL row.
    title : str, optional
        Figure title (default: "Sink per year, <zone>").
    ax : sequence of 2 matplotlib Axes, optional
        Left: the karst sink; right: the biological and total sinks (an order of
        magnitude larger, hence their own axis). Default: a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MissingColumnError
        If the tables lack the columns above, a TOTAL row or the zone.
    """
    need = {"year", *(f"{s}_t_c_yr" for s, _, _ in _SINKS)}
    if not need <= set(series.columns):
        raise MissingColumnError(f"plot_series() needs series.csv columns; missing "
                                 f"{sorted(need - set(series.columns))}")
    rows = _zone_rows(series, zone)
    band = _zone_rows(uncertainty, zone) if uncertainty is not None else None
    fig, axes = _axes(ax, 2, (10, 3.8))
    years = rows["year"].to_numpy(int)
    for a, sinks in ((axes[0], _SINKS[:1]), (axes[1], _SINKS[1:])):
        for stem, name, colour in sinks:
            y = rows[f"{stem}_t_c_yr"].to_numpy(float) / MT
            lo = hi = None
            if band is not None and f"{stem}_lo95_t_c_yr" in band:
                b = band.set_index("year").reindex(years)
                lo = b[f"{stem}_lo95_t_c_yr"].to_numpy(float) / MT
                hi = b[f"{stem}_hi95_t_c_yr"].to_numpy(float) / MT
            if lo is not None and hi is not None and np.nanmax(hi - lo) > 1e-9 * np.nanmax(
                    np.abs(y)):  # no band where the draws do not vary the sink
                a.fill_between(years, lo, hi, color=colour, alpha=0.2, lw=0,
                               label=f"{name}: 95 % interval")
                # with few draws the central run can lie outside its draws' 2.5-97.5 %
                # band: the band is drawn as it is, the bars only where they reach
                a.errorbar(years, y, yerr=[np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)],
                           fmt="none", ecolor=colour, capsize=3, lw=1)
            a.plot(years, y, "o-", color=colour, lw=2, ms=5, label=f"{name} sink")
        a.set_xticks(years, [str(v) for v in years])
        a.set_xlabel("year")
        a.set_ylabel("sink [Mt C/yr]")
        a.grid(alpha=0.3)
        a.legend(fontsize=8, loc="best")
    axes[0].set_title("Karst (MPD) sink", fontsize=10)
    axes[1].set_title("Biological and total sink", fontsize=10)
    name = zone if zone is not None else total_label(series)[1]
    fig.suptitle(title or f"Sink per year, {name}", fontsize=11)
    return fig


def attribution_zones(attribution: pd.DataFrame, top: int = 10,
                      pair: tuple[int, int] | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The ``top`` zones of one pair by ``|total_change_t_c_yr|`` (largest first; zones
    without a value left out) and the pair's TOTAL row.

    ``pair``: ``(year_a, year_b)``; default the first pair of the table.
    """
    need = {"year_a", "year_b", "total_change_t_c_yr"} | {c for c, _, _ in ATTRIBUTION_PARTS}
    if not need <= set(attribution.columns):
        raise MissingColumnError(f"needs attribution.csv columns; missing "
                                 f"{sorted(need - set(attribution.columns))}")
    label, total = total_label(attribution)
    if pair is None:
        first = attribution.iloc[0]
        pair = (int(first["year_a"]), int(first["year_b"]))
    rows = attribution[(attribution["year_a"] == pair[0]) & (attribution["year_b"] == pair[1])]
    if rows.empty:
        raise MissingColumnError(f"no attribution rows for the pair {pair[0]} -> {pair[1]}")
    is_total = rows[label].astype(str) == total
    zones = rows[~is_total].dropna(subset=["total_change_t_c_yr"])
    order = zones["total_change_t_c_yr"].abs().sort_values(ascending=False, kind="stable")
    return zones.loc[order.index[:top]], rows[is_total].iloc[0]


def _stack(ax, x: np.ndarray, table: pd.DataFrame, legend: bool) -> None:
    """Signed stacked bars [kt C yr⁻¹]: positive parts upwards from 0, negative parts
    downwards; the total change as a black diamond."""
    up, down = np.zeros(len(x)), np.zeros(len(x))
    for col, name, colour in ATTRIBUTION_PARTS:
        v = table[col].to_numpy(float) / KT
        v = np.nan_to_num(v)
        base = np.where(v >= 0, up, down)
        ax.bar(x, v, bottom=base, color=colour, width=0.7, label=name if legend else None,
               gid=col)
        up, down = up + np.maximum(v, 0), down + np.minimum(v, 0)
    ax.plot(x, table["total_change_t_c_yr"].to_numpy(float) / KT, "D", color="k", ms=5,
            label="total change" if legend else None, zorder=5)
    ax.axhline(0, color="k", lw=0.6)
    ax.grid(axis="y", alpha=0.3)


def plot_attribution(attribution: pd.DataFrame, *, top: int = 10,
                     pair: tuple[int, int] | None = None, title: str | None = None, ax=None):
    """Stacked bars of the change of the total sink per zone: climate, land cover, interaction.

    Parameters
    ----------
    attribution : pandas.DataFrame
        ``attribution.csv`` (``year_a``, ``year_b``, ``total_change_t_c_yr``,
        ``climate_t_c_yr``, ``landcover_t_c_yr``, ``interaction_t_c_yr``
        [t C yr⁻¹] per zone, with the pair's TOTAL row).
    top : int, default 10
        The zones with the largest ``|total_change_t_c_yr|`` shown.
    pair : (int, int), optional
        The pair ``(year_a, year_b)``; default the table's first.
    title : str, optional
        Figure title.
    ax : sequence of 2 matplotlib Axes, optional
        Left: the TOTAL; right: the ``top`` zones (their own scale). Default: a new
        figure.

    Returns
    -------
    matplotlib.figure.Figure
        Bars in kt C yr⁻¹ (t C yr⁻¹ / 1,000): each part stacked from 0 in its sign's
        direction, the bar's ``gid`` its column name; a black diamond marks the total
        change (the sum of the three parts).

    Raises
    ------
    MissingColumnError
        If the table is not an attribution table or lacks the pair.
    """
    zones, total = attribution_zones(attribution, top, pair)
    label, _ = total_label(attribution)
    a, b = int(total["year_a"]), int(total["year_b"])
    if ax is None:  # the TOTAL's one bar in a narrow panel
        from matplotlib.figure import Figure

        fig = Figure(figsize=(11, 4.2), layout="constrained")
        axes = fig.subplots(1, 2, width_ratios=[1, 3.5])
    else:
        fig, axes = _axes(ax, 2, (11, 4.2))
    _stack(axes[0], np.array([0.0]), total.to_frame().T, legend=True)
    axes[0].set_xticks([0], [str(total[label])])
    axes[0].set_xlim(-1, 1)
    axes[0].set_ylabel(f"change {a} → {b} [kt C/yr]")
    axes[0].set_title("All zones", fontsize=10)
    axes[0].legend(fontsize=8, loc="best")
    if zones.empty:  # no zones: the TOTAL alone
        axes[1].set_axis_off()
        axes[1].text(0.5, 0.5, "no zones", ha="center", va="center",
                     transform=axes[1].transAxes)
    x = np.arange(len(zones), dtype=float)
    _stack(axes[1], x, zones, legend=False)
    axes[1].set_xticks(x, zones[label].astype(str).tolist(), rotation=45, ha="right",
                       fontsize=8)
    axes[1].set_ylabel(f"change {a} → {b} [kt C/yr]")
    axes[1].set_title(f"The {len(zones)} zones with the largest change", fontsize=10)
    fig.suptitle(title or f"Change of the total sink {a} → {b}: climate, land cover and "
                          "their interaction", fontsize=11)
    return fig
