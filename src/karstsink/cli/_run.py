"""``karstsink run CONFIG.toml`` and ``karstsink demo``: the whole pipeline in one command."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._common import (
    bars_disabled,
    echo_detail,
    echo_err,
    echo_note,
    echo_result,
    excel_option,
    handle_errors,
    overwrite_option,
    verbosity,
    verbosity_options,
)


def _progress_factory():
    from ._common import progress as bar

    off = bars_disabled()  # decided here: bars may be made in worker threads

    def make(total: int, desc: str):
        b = bar(total, desc, disable=off)

        def update(n: int = 1) -> None:
            b.update(n)
            if b.n >= total:
                b.close()

        return update

    return make


def _stage_echo(level: int):
    """The pipeline's stage lines on stderr; with ``-q`` only its warnings."""

    def echo(text: str) -> None:
        if level >= 0 or text.lstrip().startswith("warning"):
            echo_err(text)

    return echo


def _run(config, out_dir: Path | None, jobs: int | None, overwrite: bool) -> None:
    from ..workflows.run import run_pipeline

    t0 = time.perf_counter()
    level = verbosity()
    run = run_pipeline(config, out_dir, overwrite=overwrite, jobs=jobs,
                       echo=_stage_echo(level), progress=_progress_factory())
    echo_note(f"wrote {len(run.files)} files to {run.out_dir} in "
              f"{time.perf_counter() - t0:.1f} s")
    for f in run.files:
        echo_detail(f"  {f}")
    for line in _result_lines(run):
        echo_result(line)


def _result_lines(run) -> list[str]:
    """The run's headline numbers (stdout): catchment sinks, map totals, balance, report.

    The sinks are in t CO2 when the run is (``run.summary["co2"]``), else in t C.
    """
    import math

    from ..report import format_mass
    from ..workflows._map_unit import mass_unit, sink_column
    from ..workflows.sections import map_line

    lines = []
    s = run.summary
    co2 = bool(s.get("co2", False))
    f, mass = mass_unit(co2)
    col = sink_column(co2)
    sinks = run.out_dir / "catchment_sinks.csv"
    if "catchment_sinks.csv" in run.files and sinks.is_file():
        import pandas as pd

        table = pd.read_csv(sinks)
        if {"catchment", col} <= set(table.columns):
            lines.append(f"catchment sinks [t {mass} km-2 yr-1]: " + ", ".join(
                f"{name} {value:.3g}" for name, value in
                zip(table["catchment"], table[col], strict=True)))
    if "karst_sink_t_c_yr" in s and "biological_sink_t_c_yr" in s:
        lines.append(f"map: {map_line(s, co2)}")
    years = list((s.get("map_series_raster_total_sink_t_c_yr") or {}).items())
    if len(years) >= 2:  # a map series: the whole grid's total sink, first and last year
        (ya, a), (yb, b) = years[0], years[-1]
        lines.append(f"map series: total sink {format_mass(a * f)} ({ya}) -> "
                     f"{format_mass(b * f, mass, per='yr')} ({yb})")
    share = s.get("share_of_emissions_first_year_pct")
    if share is not None and math.isfinite(share):
        whose = {"zones": "zones'", "given": "given"}.get(s.get("share_of_emissions_basis"),
                                                           "map's")
        lines.append(f"balance: the {whose} sinks offset {share:.1f} % of the "
                     f"{s.get('share_of_emissions_scenario', 'first')} scenario's "
                     f"{s.get('share_of_emissions_year', 'first-year')} emissions")
    gain = s.get("restoration_gain_t_c_yr")
    if gain is not None and math.isfinite(gain):
        lines.append(f"trajectory: restoration adds {format_mass(gain * f, mass, per='yr')} "
                     f"by {s['restoration_gain_year']}")
    # point to the report only when one was written ([report] html = false writes none)
    if "report.html" in run.files:
        lines.append(f"report: {run.out_dir / 'report.html'}")
    return lines


@click.command("run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder [default: [project] output of CONFIG, else "
                                 "karstsink_output beside CONFIG].")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes/threads [default: all cores].")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@excel_option
@verbosity_options
@handle_errors
def run_command(config: Path, out_dir: Path | None, jobs: int | None, overwrite: bool,
                debug: bool) -> None:
    """Run the whole pipeline configured in CONFIG (TOML): speciation, catchment fluxes and
    sinks, maps, zone totals, each catchment's observed sink against the map over its outline
    (catchment_comparison.csv), the scenario balance and the HTML report.

    The headline numbers and the report's path are printed on stdout, the stages on stderr.
    """
    _run(config, out_dir, jobs, overwrite)


@click.command("demo")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("karstsink_demo"), show_default=True, help="Output folder.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes/threads [default: all cores].")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@excel_option
@verbosity_options
@handle_errors
def demo_command(out_dir: Path, jobs: int | None, overwrite: bool, debug: bool) -> None:
    """Run the whole pipeline on the bundled SYNTHETIC Guizhou-like demo dataset."""
    from ..workflows.run import demo_config_path

    config = demo_config_path()
    echo_note(f"karstsink demo: SYNTHETIC Guizhou-like province from {config.parent}")
    _run(config, out_dir, jobs, overwrite)
