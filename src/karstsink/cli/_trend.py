"""``karstsink trend``: flow-normalised trends between two years or two groups (EGRET/EGRETci)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import numpy as np
import pandas as pd

from ._common import handle_errors, overwrite_option

_SINK_SPECIES = ("hco3", "alk", "alkalinity")
_YEARS = re.compile(r"^\s*(\d{4})\s*[-:]\s*(\d{4})\s*$")


def _group(text: str) -> tuple[int, int]:
    m = _YEARS.match(text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a group of years like 1980-1995")
    return int(m.group(1)), int(m.group(2))


def sink_row(table: pd.DataFrame, area_km2: float) -> pd.Series:
    """The carbon-sink row [t C km⁻² yr⁻¹] of a trend table from its HCO₃⁻ flux row [kg yr⁻¹].

    :func:`karstsink.sink.carbon_sink` without acid corrections is
    proportional to the HCO₃⁻ flux, so every column (values, changes,
    interval) scales by the same factor; p-value and likelihood are the flux's.
    """
    from ..sink import carbon_sink

    ref = 1.0e6  # kg/yr
    k = float(carbon_sink(np.array([ref]), area_km2)["sink_t_c_km2_yr"].iloc[0]) / ref
    row = table.loc["flux"].copy()
    for c in ("x10", "x11", "x20", "x22", "total_change", "cqtc", "qtc", "lo90", "hi90"):
        if c in row:
            row[c] = row[c] * k
    row["units"] = "t C/km2/yr"
    row.name = "sink"
    return row


@click.command("trend")
@click.option("--discharge", "discharge_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Discharge CSV: a date column and a discharge column.")
@click.option("--samples", "samples_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Samples CSV: a date column and the constituent column ('<0.05' = censored).")
@click.option("--constituent", required=True, help="Constituent column of the samples file.")
@click.option("--units", default=None, help="Unit of sample columns whose header states none.")
@click.option("--q-unit", default=None, help="Discharge unit if the header gives none.")
@click.option("--area", "area_km2", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Catchment area [km²]: adds the carbon-sink row for HCO3.")
@click.option("--pairs", nargs=2, type=int, default=None, metavar="YEAR1 YEAR2",
              help="Two water years (EGRET runPairs).")
@click.option("--groups", nargs=2, type=str, default=None, metavar="Y1-Y2 Y3-Y4",
              help="Two groups of water years, inclusive (EGRET runGroups).")
@click.option("--window-side", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Generalized flow normalisation half-window [yr] (0: stationary).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              help="Block-bootstrap replicates (EGRETci; 0: none).")
@click.option("--block-days", type=click.IntRange(min=1), default=200, show_default=True,
              help="Bootstrap block length [d].")
@click.option("--seed", type=int, default=None, help="Seed of the bootstrap and of WRTDS-Kalman.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for the bootstrap [default: all cores].")
@click.option("--kalman-iter", type=click.IntRange(min=0), default=200, show_default=True,
              help="WRTDS-Kalman realisations (0: skip).")
@click.option("--rho", type=click.FloatRange(0, 1, max_open=True), default=0.90,
              show_default=True, help="WRTDS-Kalman lag-one autocorrelation.")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG figures.")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@handle_errors
def trend_command(discharge_path, samples_path, constituent, units, q_unit, area_km2, pairs,
                  groups, window_side, bootstrap, block_days, seed, jobs, kalman_iter, rho,
                  out_dir, no_plots, overwrite, debug) -> None:
    """Flow-normalised change of concentration and flux between two years or groups of years.

    Fits WRTDS (EGRET 3.0.12 defaults), then writes pairs.csv or groups.csv
    (rows conc, flux [, sink]; x10 x11 x20 x22 total_change cqtc qtc, and with
    --bootstrap lo90 hi90 p_value likelihood), annual.csv (flow-normalised and
    WRTDS-Kalman columns), trend.json and plots/*.png to OUTPUT, all or nothing.
    """
    from ..exceptions import DataError
    from ..flux import estimate
    from ..flux._kalman import wrtds_kalman
    from ..flux._trend_boot import bootstrap_trend
    from ..flux.trends import run_groups, run_pairs, trend_annual, trend_context
    from ..io.atomic import atomic_dir, check_output_dir
    from ..io.discharge import read_discharge
    from ..io.flux_samples import flux_samples_from_table, read_flux_table

    if (pairs is None) == (groups is None):
        raise click.UsageError("give exactly one of --pairs YEAR1 YEAR2 or --groups Y1-Y2 Y3-Y4")
    inputs = [discharge_path, samples_path]
    check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)  # before the work
    daily = read_discharge(discharge_path, q_unit=q_unit)
    table = read_flux_table(samples_path, units=units)
    smp = flux_samples_from_table(table, constituent)
    est = estimate(daily, smp, constituent, method="wrtds", bootstrap=0)
    ctx = trend_context(est)
    if pairs is not None:
        res = run_pairs(ctx, pairs[0], pairs[1], window_side=window_side)
        name, labels = "pairs", (str(pairs[0]), str(pairs[1]))
    else:
        g1, g2 = _group(groups[0]), _group(groups[1])
        res = run_groups(ctx, g1, g2, window_side=window_side)
        name, labels = "groups", (f"{g1[0]}-{g1[1]}", f"{g2[0]}-{g2[1]}")
    if bootstrap:
        res = bootstrap_trend(ctx, res, n_boot=bootstrap, block_days=block_days, seed=seed,
                              jobs=jobs)
    out = res.table.copy()
    is_hco3 = (constituent.strip().lower() in _SINK_SPECIES
               or smp.attrs.get("species") in _SINK_SPECIES)
    if area_km2 is not None and is_hco3:
        out = pd.concat([out, sink_row(out, area_km2).to_frame().T])
    elif area_km2 is not None:
        click.echo(f"warning: constituent {constituent!r} is not HCO3: no sink row", err=True)
    kal = wrtds_kalman(est, rho=rho, niter=kalman_iter, seed=seed) if kalman_iter else None
    annual = trend_annual(ctx, window_side=window_side, kalman=kal)
    if not np.isfinite(out[["x11", "x22"]].to_numpy(float)).all():
        raise DataError(f"{name}: no flow-normalised value for {labels[0]} or {labels[1]}")
    info = {k: v for k, v in res.info.items() if not k.startswith("_") and k != "bootstrap"}
    if "bootstrap" in res.info:
        info["bootstrap"] = {k: v for k, v in res.info["bootstrap"].items() if k != "replicates"}
    info.update({"constituent": constituent, "area_km2": area_km2,
                 "kalman": {"rho": rho, "niter": kalman_iter, "seed": seed},
                 "wrtds": est.model.get("settings")})
    with atomic_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
        tmp = Path(tmp)
        out.index.name = "quantity"
        out.to_csv(tmp / f"{name}.csv")
        annual.to_csv(tmp / "annual.csv", index=False)
        if "bootstrap" in res.info:
            res.info["bootstrap"]["replicates"].to_csv(tmp / f"{name}_bootstrap.csv",
                                                       index=False)
        (tmp / "trend.json").write_text(json.dumps(info, indent=2, default=str) + "\n",
                                        encoding="utf-8")
        if not no_plots:
            from ..plots.trends import save_trend_plots

            save_trend_plots(tmp / "plots", annual=annual, result=res, estimate=est,
                             labels=labels)
    f = out.loc["flux"]
    click.echo(f"{name} {labels[0]} -> {labels[1]}: flux change {f['total_change']:.4g} kg/yr "
               f"({f['total_change_pct']:+.1f} %; CQTC {f['cqtc']:.4g}, QTC {f['qtc']:.4g})",
               err=True)
    click.echo(f"wrote {name}.csv, annual.csv, trend.json to {out_dir}", err=True)
