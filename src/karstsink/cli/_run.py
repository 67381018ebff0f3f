"""``karstsink run CONFIG.toml`` and ``karstsink demo``: the whole pipeline in one command."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._common import handle_errors, overwrite_option


def _progress_factory():
    from ._common import progress as bar

    def make(total: int, desc: str):
        b = bar(total, desc)

        def update(n: int = 1) -> None:
            b.update(n)
            if b.n >= total:
                b.close()

        return update

    return make


def _run(config, out_dir: Path | None, jobs: int | None, overwrite: bool) -> None:
    from ..workflows.run import run_pipeline

    t0 = time.perf_counter()
    result = run_pipeline(config, out_dir, overwrite=overwrite, jobs=jobs,
                          echo=lambda s: click.echo(s, err=True),
                          progress=_progress_factory())
    # point to the report only when one was written ([report] html = false writes none)
    report = (f"; open {result.out_dir / 'report.html'}" if "report.html" in result.files
              else "")
    click.echo(f"Wrote {len(result.files)} files to {result.out_dir} in "
               f"{time.perf_counter() - t0:.1f} s{report}")


@click.command("run")
@click.argument("config", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Output folder [default: [project] output of CONFIG].")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes/threads [default: all cores].")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@handle_errors
def run_command(config: Path, out_dir: Path | None, jobs: int | None, overwrite: bool,
                debug: bool) -> None:
    """Run the whole pipeline configured in CONFIG (TOML): speciation, catchment fluxes and
    sinks, maps, zone totals, each catchment's observed sink against the map over its outline
    (catchment_comparison.csv), the scenario balance and the HTML report."""
    _run(config, out_dir, jobs, overwrite)


@click.command("demo")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("karstsink_demo"), show_default=True, help="Output folder.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes/threads [default: all cores].")
@overwrite_option
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@handle_errors
def demo_command(out_dir: Path, jobs: int | None, overwrite: bool, debug: bool) -> None:
    """Run the whole pipeline on the bundled SYNTHETIC Guizhou-like demo dataset."""
    from ..workflows.run import demo_config_path

    config = demo_config_path()
    click.echo(f"karstsink demo: SYNTHETIC Guizhou-like province from {config.parent}",
               err=True)
    _run(config, out_dir, jobs, overwrite)
