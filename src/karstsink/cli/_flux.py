"""``karstsink flux``: discharge + samples in, daily/monthly/annual fluxes and sinks out."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from .. import carbon
from ..flux import METHODS
from ..flux._wrtds_core import MIN_OBS_FLOOR
from ..flux.aggregate import DEFAULT_YEAR_START_MONTH
from ..io.discharge import DEFAULT_MAX_GAP_DAYS
from ..units import DAYS_PER_YEAR
from ._common import (
    SEED,
    F,
    FiniteRange,
    check_sheets,
    echo_detail,
    echo_note,
    echo_result,
    excel_option,
    handle_errors,
    overwrite_option,
    units_option,
    verbosity_options,
)


def sheet_options(f: F) -> F:
    """``--samples-sheet`` and ``--discharge-sheet`` (``flux`` and ``trend``)."""
    f = click.option("--discharge-sheet", default=None, metavar="NAME|INDEX",
                     help="XLSX sheet of --discharge, chosen as --samples-sheet "
                          "[default: the first sheet].")(f)
    return click.option("--samples-sheet", default=None, metavar="NAME|INDEX",
                        help="XLSX sheet of --samples: the sheet of this exact name, else "
                             "(digits) the 0-based worksheet number [default: the first "
                             "sheet with a sample header].")(f)


def wrtds_count_options(f: F) -> F:
    """``--min-obs`` and ``--min-uncen`` of WRTDS (``flux`` and ``trend``)."""
    f = click.option("--min-uncen", type=click.IntRange(min=1), default=None,
                     help="WRTDS: uncensored samples that must carry weight at every point "
                          "[default: 50, EGRET's].")(f)
    return click.option("--min-obs", type=click.IntRange(min=MIN_OBS_FLOOR), default=None,
                        help="WRTDS: samples that must carry weight at every point [default: "
                             "100, EGRET's; at least 6: a point's regression has 5 "
                             "coefficients]; lower it for a short record.")(f)


def max_gap_option(f: F) -> F:
    """``--max-gap-days`` of the discharge reader (``flux`` and ``trend``)."""
    return click.option("--max-gap-days", type=click.IntRange(min=0),
                        default=DEFAULT_MAX_GAP_DAYS,
                        show_default=True,
                        help="Interpolate discharge gaps up to this many days.")(f)


@click.command("flux")
@click.option("--discharge", "discharge_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Discharge CSV or XLSX: a date column and a discharge column (daily or "
                   "sub-daily).")
@click.option("--samples", "samples_path", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Samples CSV or XLSX: a date column and the constituent column ('<0.05' = "
                   "censored).")
@sheet_options
@click.option("--area", "area_km2", required=True, type=FiniteRange(min=0, min_open=True),
              help="Catchment area [km²].")
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="Output folder.")
@click.option("--constituent", default="hco3", show_default=True,
              help="Constituent column of the samples file (hco3 for the carbon sink).")
@units_option("Unit of the sample columns whose header states no unit, e.g. mg/L, mmol/L, "
              "'mg/L as CaCO3'. A unit written in a header wins; a header unit that "
              "contradicts --units is an error.")
@click.option("--method", type=click.Choice(list(METHODS)), default="loadest",
              show_default=True, help="Flux estimator.")
@click.option("--model", "loadest_model", type=click.Choice([str(m) for m in (*range(10), 99)]),
              default=None, metavar="N",
              help="LOADEST model 1-9 (0: choose by AIC; 99: with --extra) [default: 0; with "
                   "--extra, 99].")
@click.option("--q-unit", default=None, help="Discharge unit if the header gives none: "
                                              "m3/s, L/s, ft3/s (cfs), m3/d, m3/h.")
@click.option("--q-column", default=None, help="Discharge column name (default: detected).")
@click.option("--date-column", default=None, help="Date column of the samples file.")
@click.option("--date-format", default=None, metavar="FORMAT",
              help="strftime format of the dates of both files, e.g. '%d/%m/%Y' (day first); "
                   "needed when day/month order cannot be told from the dates.")
@click.option("--year-start", type=click.IntRange(1, 12), default=DEFAULT_YEAR_START_MONTH,
              show_default=True,
              help="First month of the annual year (10 = USGS water year, 1 = calendar).")
@max_gap_option
@click.option("--allow-gaps", is_flag=True,
              help="Keep longer discharge gaps as missing days instead of stopping.")
@click.option("--so4", default=None, help="SO4 column of the samples (sulfuric-acid correction).")
@click.option("--no3", default=None, help="NO3 column of the samples (nitric-acid correction).")
@click.option("--toc", default=None, help="TOC/AOC column [mg C/L] (biological carbon pump).")
@click.option("--acid-so4-share", type=FiniteRange(0, 1),
              default=carbon.DEFAULT_ACID_SO4_SHARE, show_default=True,
              help="Share of the non-evaporite SO4 taken as sulfuric acid in the sink "
                   "(1: all of it, the largest correction; needs --so4).")
@click.option("--evaporite-so4-share", type=FiniteRange(0, 1),
              default=carbon.DEFAULT_EVAPORITE_SO4_SHARE,
              show_default=True,
              help="Share of SO4 from gypsum/evaporites (not acid; needs --so4).")
@click.option("--acid-no3-share", type=FiniteRange(0, 1),
              default=carbon.DEFAULT_ACID_NO3_SHARE, show_default=True,
              help="Share of NO3 from nitrification (nitric acid) in the sink (needs --no3).")
@click.option("--bcp-share", type=FiniteRange(0, 1), default=carbon.DEFAULT_BCP_SHARE,
              show_default=True, help="Autochthonous share of --toc counted as sink (needs "
                                      "--toc; default 0, conservative: state your river's "
                                      "AOC/TOC).")
@click.option("--silicate-fraction", type=FiniteRange(0, 1), default=None,
              help="Share of HCO3 from silicate weathering (end-member partition).")
@click.option("--proxy", default=None,
              help="Discharge-file column with a continuous proxy (e.g. EC) for --method "
                   "direct: C is predicted from a fitted linear C-proxy regression.")
@click.option("--extra", "extra_regressors", multiple=True,
              help="Discharge-file column used as an extra ln-regressor for LOADEST model 99 "
                   "(repeatable; e.g. specific conductance).")
@click.option("--bootstrap", type=click.IntRange(min=0), default=None,
              help="WRTDS block-bootstrap replicates for intervals (0: none) [default: "
                   "50, the estimator's].")
@click.option("--seed", type=SEED, default=None,
              help="Seed of the WRTDS bootstrap: the same seed gives the same intervals for "
                   "any --jobs [default: a fresh one, written to model.json].")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for the WRTDS bootstrap [default: all cores].")
@wrtds_count_options
@click.option("--no-plots", is_flag=True, help="Skip the PNG figures.")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@excel_option
@verbosity_options
@handle_errors
def flux_command(discharge_path, samples_path, samples_sheet, discharge_sheet, area_km2,
                 out_dir, constituent, units, method,
                 loadest_model, q_unit, q_column, date_column, date_format, year_start,
                 max_gap_days, allow_gaps, so4, no3, toc, acid_so4_share, evaporite_so4_share,
                 acid_no3_share, bcp_share, silicate_fraction, proxy, extra_regressors,
                 bootstrap, seed, jobs, min_obs, min_uncen, no_plots, overwrite,
                 debug) -> None:
    """Estimate daily, monthly and annual fluxes and the carbon sink of one catchment.

    Writes daily.csv, monthly.csv, annual.csv (water years unless --year-start 1),
    calendar.csv, total.csv, sink.csv, samples.csv, model.json and plots/*.png to
    OUTPUT (an existing one only with --overwrite, replaced as a whole); nothing is
    written if the run fails.
    The mean flux and the sink are printed on stdout, the rest on stderr.
    """
    from ..io.atomic import check_output_dir
    from ..workflows.catchment import (
        FluxOptionError,
        check_method_options,
        run_flux,
        write_flux_outputs,
    )

    check_sheets(**{"--samples-sheet": (samples_sheet, samples_path),
                    "--discharge-sheet": (discharge_sheet, discharge_path)})
    inputs = [discharge_path, samples_path]
    check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)  # before the work

    given = {"--bootstrap": bootstrap, "--seed": seed, "--jobs": jobs, "--min-obs": min_obs,
             "--min-uncen": min_uncen, "--model": loadest_model, "--extra": extra_regressors,
             "--proxy": proxy, "--so4": so4, "--no3": no3, "--toc": toc}
    ctx = click.get_current_context()
    shares = {}  # the typed ones (run_flux takes an untyped share as its default)
    for name, value in (("acid_so4_share", acid_so4_share),
                        ("evaporite_so4_share", evaporite_so4_share),
                        ("acid_no3_share", acid_no3_share), ("bcp_share", bcp_share)):
        if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT:  # typed: checked
            given["--" + name.replace("_", "-")] = shares[name] = value
    try:  # the rule run_flux applies too, here before any file is read (exit 2)
        check_method_options(method, given, model=loadest_model)
    except FluxOptionError as err:
        raise click.UsageError(str(err)) from err
    options: dict = {"model": int(loadest_model or 0)} if method == "loadest" else {}
    for key, value in (("bootstrap", bootstrap), ("seed", seed), ("jobs", jobs),
                       ("min_obs", min_obs), ("min_uncen", min_uncen)):
        if value is not None:
            options[key] = value
    run = run_flux(
        discharge_path, samples_path, area_km2=area_km2, constituent=constituent, units=units,
        method=method, q_unit=q_unit, q_column=q_column, date_column=date_column,
        date_format=date_format,
        max_gap_days=max_gap_days, allow_gaps=allow_gaps, year_start_month=year_start,
        so4=so4, no3=no3, toc=toc, **shares, silicate_hco3_fraction=silicate_fraction,
        method_options=options,
        proxy=proxy, extra_regressors=list(extra_regressors) or None,
        samples_sheet=samples_sheet, discharge_sheet=discharge_sheet,
    )
    files = write_flux_outputs(run, out_dir, plots=not no_plots, overwrite=overwrite)
    filled = [g for g in run.discharge.attrs.get("gaps", []) if g.filled]
    if filled:  # the days the estimate stands on without a reading of their own
        echo_note(f"discharge: {sum(g.n_days for g in filled)} day(s) in {len(filled)} "
                  f"gap(s) of at most --max-gap-days interpolated (flag 'interpolated'): "
                  + ", ".join(str(g) for g in filled[:3]) + (" ..." if len(filled) > 3 else ""))
    total = run.tables["total"].iloc[0]
    lo, hi = total["flux_lo95_kg_day"], total["flux_hi95_kg_day"]
    band = (f"(95 % {lo:.4g}-{hi:.4g})" if lo == lo and hi == hi  # NaN: no interval
            else "(no interval: --bootstrap 0)" if run.estimate.method == "wrtds"
            else "(no interval)")
    gap = int(total["n_missing_days"])
    echo_result(f"{run.estimate.method}: mean flux {total['flux_kg_day']:.4g} kg/d {band} "
                f"over {int(total['n_days'])} days" + (
                    f" ({gap} day(s) without discharge left out; the yearly rates are the "
                    f"mean of the days with a flux x {DAYS_PER_YEAR:g})" if gap else ""))
    if "sink_t_c_km2_yr" in run.sink and run.sink["sink_t_c_km2_yr"].notna().any():
        s = run.sink.iloc[-1]
        echo_result(f"carbon sink (whole record): {s['sink_t_c_km2_yr']:.4g} t C km-2 yr-1 = "
                    f"{s['sink_t_co2_km2_yr']:.4g} t CO2 km-2 yr-1")
    echo_note(f"wrote {len(files)} files to {out_dir}")
    for f in files:
        echo_detail(f"  {f}")
