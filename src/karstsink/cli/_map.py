"""``karstsink map CONFIG.toml -o OUT_DIR``: karst, biological and total sink maps."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import (
    bars_disabled,
    echo_detail,
    echo_note,
    echo_result,
    excel_option,
    handle_errors,
    overwrite_option,
    progress,
    verbosity_options,
)


@click.command("map")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="Output folder (files appear only when the run succeeds).")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Worker threads, or processes with --engine processes [default: [model] "
                   "jobs of CONFIG, else the CPU count, at most 8].")
@click.option("--dask", "dask_address", default=None, metavar="ADDRESS",
              help='Run tiles on a dask.distributed scheduler ("local" = LocalCluster) '
                   "[default: [dask] address of CONFIG, else none].")
@click.option("--co2", is_flag=True, default=None,
              help="Write rasters in t CO2 km-2 yr-1 instead of t C km-2 yr-1 [default: "
                   "[model] co2 of CONFIG, else off].")
@click.option("--engine", type=click.Choice(["threads", "processes"]), default=None,
              help="Local engine [default: [model] engine of CONFIG, else threads: "
                   "measured faster on 2 cores].")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@excel_option
@verbosity_options
@handle_errors
def map_command(config: Path, out_dir: Path, jobs: int | None, dask_address: str | None,
                co2: bool | None, engine: str | None, overwrite: bool, debug: bool) -> None:
    """Karst (MPD) + biological carbon-sink maps and zone totals from CONFIG.toml.

    With a [series] section every year is mapped in one pass (OUT/<year>/, change maps,
    series.csv, attribution.csv; docs/series.md).  The province totals are printed on
    stdout, the rest on stderr.
    """
    from ..io.atomic import check_output_dir, input_paths
    from ..mapping.config import load_config
    from ..mapping.run import run_map
    from ..workflows.sections import map_line

    cfg = load_config(config)
    # run_map replaces the folder as a whole (only one karstsink wrote); refuse first
    check_output_dir(out_dir, overwrite=overwrite, inputs=[config, *input_paths(cfg)])
    bars = []
    off = bars_disabled()  # decided here: bars may be made in worker threads

    def make_bar(total: int, desc: str):
        bar = progress(total, desc, disable=off)
        bars.append(bar)
        return bar.update

    try:
        mapped = run_map(cfg, out_dir, jobs=jobs, dask=dask_address, co2=co2, engine=engine,
                         progress=make_bar)
    finally:
        for b in bars:
            b.close()
    if mapped.series is not None:  # [series]: one line per year, then the changes
        for year, t in mapped.series["totals"].items():
            echo_result(f"{year}: karst sink {t['karst_sink_t_c_yr']:.4g} t C/yr; biological "
                        f"{t['biological_sink_t_c_yr']:.4g} t C/yr; total "
                        f"{t['total_sink_t_c_yr']:.4g} t C/yr")
        att = mapped.series.get("attribution") or {}
        for i, zone in enumerate(att.get("zone_id", [])):
            if zone is None:  # the TOTAL rows: one per pair of years
                echo_result(f"{att['year_a'][i]} -> {att['year_b'][i]}: total change "
                            f"{att['total_change_t_c_yr'][i]:.4g} t C/yr = climate "
                            f"{att['climate_t_c_yr'][i]:.4g} + land cover "
                            f"{att['landcover_t_c_yr'][i]:.4g} + interaction "
                            f"{att['interaction_t_c_yr'][i]:.4g}")
        echo_note(f"wrote {len(mapped.files)} files to {out_dir} (series.csv, "
                  f"attribution.csv, one folder per year)")
        for f in mapped.files:
            echo_detail(f"  {f}")
        return
    t = mapped.totals
    echo_result(map_line(t, cfg.co2 if co2 is None else co2, total=True))
    echo_note(f"wrote {len(mapped.files)} files to {out_dir}")
    for f in mapped.files:
        echo_detail(f"  {f}")
