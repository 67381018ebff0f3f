"""The report sections of one catchment: its sink over the record and per year, and its
trend (for :mod:`karstsink.workflows.sections`, which lists every section).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from ..flux.aggregate import DEFAULT_YEAR_START_MONTH
from ..report import Figure, Section, Table


def catchment_section(catchment: dict, row: dict[str, Any], sink: pd.DataFrame,
                      folder: Path) -> Section:
    """One catchment: record, sink over the record with its interval, sink per water year.

    Parameters
    ----------
    catchment : dict
        The checked catchment of the run configuration.
    row : dict
        Its row of ``catchment_sinks.csv`` (``first_day``, ``n_samples``,
        ``sink_t_c_km2_yr`` [t C km-2 yr-1]...).
    sink : pandas.DataFrame
        ``FluxRun.sink``: one row per water year and a ``total`` row.
    folder : pathlib.Path
        The catchment's output folder (``flux/<catchment>``), whose plots are shown.
    """
    c = catchment
    flux_key = "hco3_flux_kg_yr" if "hco3_flux_kg_yr" in sink.columns else "flux_kg_yr"
    keep = [k for k in ("period", "complete", flux_key, "acid_correction_pct",
                        "sink_t_c_km2_yr", "sink_lo95_t_c_km2_yr", "sink_hi95_t_c_km2_yr",
                        "sink_t_co2_km2_yr", "qa_flags") if k in sink.columns]
    water = c.get("year_start", DEFAULT_YEAR_START_MONTH) != 1  # --year-start 1: calendar years
    annual = sink[sink["period"] != "total"][keep].rename(
        columns={"period": "water_year" if water else "year"})
    from ._report_notes import interval_note, model_note

    plots = folder / "plots"
    name = c["name"]
    figs = [Figure(plots / "cq.png", f"{name}: concentration [mg/L] against discharge "
                                     "[m³/s], log-log: samples and the daily model estimate."),
            Figure(plots / "flux.png", f"{name}: daily HCO3- flux [kg/day] with its 95 % "
                                       "interval (band and edge lines; its half-width in the "
                                       "legend)."),
            Figure(plots / "residuals.png", f"{name}: model residuals (observed - fitted) "
                                            "against time and discharge: no trend or "
                                            "curvature means the model fits.")]
    model_text, coef = model_note(folder, name)
    tables = [Table(annual, caption=f"Carbon sink per {'water ' if water else ''}year (t C "
                                    "and t CO2 per km² of catchment per year; a year not "
                                    "complete is the mean of its days, annualised; qa_flags "
                                    "as in sink.csv).")]
    if coef is not None:
        tables.append(Table(coef, caption=f"{name}: fitted coefficients of ln(load [kg/d]) "
                                          "with their standard deviations (AMLE)."))
    return Section(
        title=f"Catchment {name}",
        text=(f"{c['area_km2']:g} km², {c['method']} estimator, record "
              f"{row['first_day']} to {row['last_day']}, "
              f"{row['n_samples']} samples. Sink over the record: "
              f"**{row['sink_t_c_km2_yr']:.2f} t C km⁻² yr⁻¹** "
              f"({row['sink_t_co2_km2_yr']:.1f} t CO2 km⁻² yr⁻¹), 95 % interval "
              f"{row['sink_lo95_t_c_km2_yr']:.2f}-"
              f"{row['sink_hi95_t_c_km2_yr']:.2f} t C km⁻² yr⁻¹. Files: "
              f"`flux/{name}/`.\n\n{model_text}\n\n{interval_note(folder, c['method'])}"),
        tables=tables,
        figures=[f for f in figs if Path(f.path).is_file()],
    )


def trend_section(catchment: dict, trend: Any, folder: Path) -> Section:
    """A catchment's trend: the pairs/groups table, the series table and their figures.

    Parameters
    ----------
    catchment : dict
        The checked catchment of the run configuration (with its ``trend`` table).
    trend : karstsink.workflows.trend.TrendRun
        What :func:`karstsink.workflows.trend.run_trend` returned.
    folder : pathlib.Path
        The catchment's output folder (``flux/<catchment>``), whose plots are shown.
    """
    from .trend import TREND_REPORT_COLUMNS

    c, t = catchment, trend.table
    a, b = trend.labels
    ws = float(trend.info.get("window_side") or 0)
    f = t.loc["flux"]
    boot = "lo90" in t.columns
    what = ("the two years" if trend.kind == "pairs" else "the means of the two groups of years")
    text = (f"Change of the flow-normalised concentration and flux between {what} {a} and "
            f"{b} (EGRET {'runPairs' if trend.kind == 'pairs' else 'runGroups'}): flux "
            f"**{f['total_change']:+.4g} kg/yr ({f['total_change_pct']:+.1f} %)**"
            + (f", {f['likelihood']} (90 % interval {f['lo90']:.4g} to {f['hi90']:.4g} "
               f"kg/yr, p {'<' if f.get('p_value_upper_bound') else '='} "
               f"{f['p_value']:.2g}; {int(f.get('n_boot', 0))} replicates)" if boot else "")
            + ". "
            "The total change `total_change = x22 - x11` splits into **CQTC** (`x20 - x10`: "
            "the change in the concentration-discharge relation, i.e. in the land: sources, "
            "land use, restoration) and **QTC** (the rest: the change in discharge, i.e. "
            "climate or regulation). "
            + ("With stationary flow normalisation (window_side = 0) QTC is 0 by "
               "construction; set window_side (e.g. 7 years) to see a discharge trend. "
               if ws == 0 else
               f"Generalized flow normalisation with {ws:g} years of discharge on either "
               "side of each year. ")
            + ("The sink row is the flux row through the carbon-sink formula without acid "
               "corrections (proportional to the HCO3- flux): where sulfuric or nitric acid "
               "weathering applies its values are upper bounds, and the acid-corrected sink "
               f"per year is in `flux/{folder.name}/sink.csv`. " if "sink" in t.index else "")
            + f"Files: `flux/{folder.name}/{trend.kind}.csv`, `trend_annual.csv`"
            + (", `series.csv`" if trend.series is not None else "") + ".")
    show = t[[k for k in TREND_REPORT_COLUMNS if k in t.columns]].reset_index()
    tables = [Table(show, caption="Flow-normalised values x11 (first), x22 (second), "
                                  "x10/x20 (each surface with the whole discharge record), "
                                  "total change and its CQTC/QTC parts; conc [mg/L], flux "
                                  "[kg/yr], sink [t C km⁻² yr⁻¹]"
                                  + ("; lo90/hi90: 90 % bootstrap interval of the total "
                                     "change, p_value of no change (EGRETci)." if boot
                                     else "."))]
    if trend.series is not None:
        tables.append(Table(trend.series, caption="Change between chosen years (EGRET "
                                                  "tableChange): change, slope per year, "
                                                  "and both in % of the first year."))
    plots = folder / "plots"
    figs = [Figure(plots / "trend_bars.png", f"{c['name']}: {a} and {b}, the total change "
                                             "and its CQTC (land) and QTC (discharge) "
                                             "parts" + (" with the 90 % interval." if boot
                                                         else ".")),
            Figure(plots / "fn_flux.png", f"{c['name']}: annual and flow-normalised flux "
                                          "[kg/d]" + (" with the 90 % bootstrap band."
                                                      if trend.band is not None else "."))]
    return Section(title=f"Catchment {c['name']}: trend {a} to {b}", text=text,
                   tables=tables, figures=[x for x in figs if Path(x.path).is_file()])
