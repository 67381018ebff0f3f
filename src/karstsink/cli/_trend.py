"""``karstsink trend``: flow-normalised trends between two years or two groups (EGRET/EGRETci)."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (
    SEED,
    FiniteRange,
    check_sheets,
    echo_err,
    echo_note,
    echo_result,
    excel_option,
    handle_errors,
    overwrite_option,
    units_option,
    verbosity_options,
)
from ._flux import max_gap_option, sheet_options, wrtds_count_options


def _group(text: str) -> tuple[int, int]:
    from ..exceptions import DataError
    from ..flux.trends import parse_group

    try:
        return parse_group(text)
    except DataError as err:
        raise click.BadParameter(str(err), param_hint="--groups") from None


def _series_years(text: str | None):
    if text is None:
        return None
    if text.strip().lower() == "default":
        return True
    try:
        return [int(x) for x in text.replace(",", " ").split()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not years like 1990,2000,2010 or 'default'",
                                 param_hint="--series") from None


@click.command("trend")
@click.option("--discharge", "discharge_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Discharge CSV or XLSX: a date column and a discharge column.")
@click.option("--samples", "samples_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Samples CSV or XLSX: a date column and the constituent column ('<0.05' = "
                   "censored).")
@sheet_options
@click.option("--constituent", required=True, help="Constituent column of the samples file.")
@units_option("Unit of sample columns whose header states none (give it once).")
@click.option("--q-unit", default=None, help="Discharge unit if the header gives none.")
@max_gap_option
@click.option("--area", "area_km2", type=FiniteRange(min=0, min_open=True), default=None,
              help="Catchment area [km²]: adds the carbon-sink row for HCO3.")
@click.option("--pairs", nargs=2, type=int, default=None, metavar="YEAR1 YEAR2",
              help="Two water years (EGRET runPairs).")
@click.option("--groups", nargs=2, type=str, default=None, metavar="Y1-Y2 Y3-Y4",
              help="Two groups of water years, inclusive (EGRET runGroups).")
@click.option("--series", "series_text", default=None, metavar="Y1,Y2,...",
              help="EGRET tableChange between these years (or 'default': every 5th year "
                   "back from the last); writes series.csv.")
@click.option("--window-side", type=click.IntRange(min=0), default=0, show_default=True,
              help="Generalized flow normalisation half-window, whole years (0: stationary).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=0, show_default=True,
              help="Block-bootstrap replicates (EGRETci; 0: none).")
@click.option("--block-days", type=click.IntRange(min=2), default=200, show_default=True,
              help="Bootstrap block length [d].")
@click.option("--seed", type=SEED, default=None, help="Seed of the bootstrap and of WRTDS-Kalman "
              "[default: a fresh one, written to trend.json].")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for the bootstrap [default: all cores].")
@wrtds_count_options
@click.option("--kalman-iter", type=click.IntRange(min=0), default=200, show_default=True,
              help="WRTDS-Kalman realisations (0: skip).")
@click.option("--rho", type=FiniteRange(0, 1, max_open=True), default=None,
              help="WRTDS-Kalman lag-one autocorrelation [default: 0.90, EGRET's].")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG figures.")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@excel_option
@verbosity_options
@handle_errors
def trend_command(discharge_path, samples_path, samples_sheet, discharge_sheet, constituent,
                  units, q_unit, max_gap_days, area_km2, pairs, groups,
                  series_text, window_side,
                  bootstrap, block_days, seed, jobs, min_obs, min_uncen, kalman_iter, rho,
                  out_dir, no_plots, overwrite, debug) -> None:
    """Flow-normalised change of concentration and flux between two years or groups of years.

    Fits WRTDS (EGRET 3.0.12 defaults), then writes pairs.csv or groups.csv
    (rows conc, flux [, sink]; x10 x11 x20 x22 total_change cqtc qtc, and with
    --bootstrap lo90 hi90 p_value likelihood, the replicates and the annual band
    fn_band.csv), annual.csv (flow-normalised and WRTDS-Kalman columns), with
    --series series.csv (EGRET tableChange), trend.json and plots/*.png to OUTPUT,
    all or nothing.
    The flux change is printed on stdout, the rest on stderr.
    """
    from ..flux import estimate
    from ..io.atomic import atomic_dir, check_output_dir
    from ..io.discharge import read_discharge
    from ..io.flux_samples import flux_samples_from_table, read_flux_table
    from ..workflows.catchment import is_hco3
    from ..workflows.trend import run_trend, write_trend_outputs

    if (pairs is None) == (groups is None):
        raise click.UsageError("give exactly one of --pairs YEAR1 YEAR2 or --groups Y1-Y2 Y3-Y4")
    series = _series_years(series_text)
    check_sheets(**{"--samples-sheet": (samples_sheet, samples_path),
                    "--discharge-sheet": (discharge_sheet, discharge_path)})
    inputs = [discharge_path, samples_path]
    check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)  # before the work
    daily = read_discharge(discharge_path, q_unit=q_unit, sheet=discharge_sheet,
                           max_gap_days=max_gap_days, allow_gaps=None)  # every day
    table = read_flux_table(samples_path, units=units, sheet=samples_sheet)
    smp = flux_samples_from_table(table, constituent)
    counts = {k: v for k, v in (("min_obs", min_obs), ("min_uncen", min_uncen)) if v is not None}
    est = estimate(daily, smp, constituent, method="wrtds", bootstrap=0, **counts)
    hco3 = is_hco3(constituent, smp.attrs.get("species"))
    if area_km2 is not None and not hco3:
        echo_err(f"warning: constituent {constituent!r} is not HCO3: no sink row")
    if groups is not None:
        groups = [_group(g) for g in groups]
    run = run_trend(est, pairs=pairs, groups=groups, series=series, window_side=window_side,
                    bootstrap=bootstrap, block_days=block_days, seed=seed, jobs=jobs,
                    kalman_iter=kalman_iter, area_km2=area_km2, hco3=hco3,
                    **({} if rho is None else {"rho": rho}))
    with atomic_dir(out_dir, overwrite=overwrite, inputs=inputs) as tmp:
        names = write_trend_outputs(run, tmp, plots=not no_plots,
                                    extra_info={"constituent": constituent, **(
                                        {"value_taken_as": smp.attrs["value_taken_as"]}
                                        if smp.attrs.get("value_taken_as") else {})})
    f = run.table.loc["flux"]
    name, labels = run.kind, run.labels
    echo_result(f"{name} {labels[0]} -> {labels[1]}: flux change {f['total_change']:.4g} "
                f"kg/yr ({f['total_change_pct']:+.1f} %; CQTC {f['cqtc']:.4g}, QTC "
                f"{f['qtc']:.4g})")
    if "sink" in run.table.index:  # --area with HCO3: the change of the carbon sink
        k = run.table.loc["sink"]
        echo_result(f"{name} {labels[0]} -> {labels[1]}: sink change "
                    f"{k['total_change']:.4g} t C km-2 yr-1 (from the HCO3 flux alone, without "
                    "acid corrections; karstsink flux's sink.csv has the corrected sink)")
    echo_note(f"wrote {', '.join(n for n in names if '/' not in n)} to {out_dir}")
