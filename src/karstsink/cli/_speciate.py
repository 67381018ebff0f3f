"""``karstsink speciate``: a field-sample table in, a speciated CSV and its metadata out."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..carbon import DEFAULT_ACID_NO3_SHARE, DEFAULT_ACID_SO4_SHARE, DEFAULT_EVAPORITE_SO4_SHARE
from ._common import (
    SEED,
    FiniteRange,
    check_sheets,
    echo_note,
    echo_result,
    excel_option,
    handle_errors,
    overwrite_option,
    progress,
    units_option,
    verbosity_options,
)

_BELOW_DETECTION = ("half", "zero", "limit", "nan")


def csv_output(ctx: click.Context, param: click.Parameter, path: Path) -> Path:
    """``-o`` callback: a file name ending in ``.csv`` (the only format written), else a
    usage error (exit 2) saying so."""
    if not path.name:  # -o '' (click makes it Path('.')) or -o .
        raise click.BadParameter("no file name given; name the CSV to write, e.g. "
                                 "-o results.csv", ctx=ctx, param=param)
    if path.suffix.lower() != ".csv":
        raise click.BadParameter(
            f"{str(path)!r}: speciate writes CSV only, so the name must end in .csv (e.g. "
            f"{path.with_suffix('.csv').name}); for Excel add --excel (a CSV it opens with "
            "Chinese text intact)", ctx=ctx, param=param)
    return path


@click.command("speciate")
@click.argument("input_path", metavar="INPUT",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, metavar="OUTPUT.csv",
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              callback=csv_output,
              help="CSV to write (the name must end in .csv: no other format is "
                   "written); OUTPUT.meta.json (provenance) is written beside it.")
@click.option("--database", default="phreeqc.dat", show_default=True, metavar="NAME|PATH",
              help="PHREEQC database: a bundled name (phreeqc.dat, wateq4f.dat, llnl.dat, "
                   "minteq.v4.dat, pitzer.dat) or a file path.")
@click.option("--engine", type=click.Choice(["phreeqc", "phreeqpy"]), default="phreeqc",
              show_default=True, help="PHREEQC binding (phreeqpy needs karstsink[phreeqpy] "
                                      "and a database other than the 2024 phreeqc.dat).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@units_option("Unit of concentration columns whose header states none, e.g. mg/L, "
              "mmol/L, meq/L; one unit for all of them (give it once). A column in "
              "another unit says so in its header, e.g. 'Ca (mmol/L)'.")
@click.option("--phases", default="", metavar="A,B",
              help="Extra phases for saturation indices, comma-separated (e.g. "
                   "Fluorite,Aragonite), as si_<phase>; names as in the database. Gas "
                   "phases too: CO2(g) gives si_co2_g (= log_pco2).")
@click.option("--below-detection", type=click.Choice(_BELOW_DETECTION), default="half",
              show_default=True, help="Value used for '<DL' cells (they are flagged "
                                      "below_detection either way).")
@click.option("--acid-so4-share", type=FiniteRange(0.0, 1.0),
              default=DEFAULT_ACID_SO4_SHARE, show_default=True,
              help="Share of the non-evaporite SO4 taken as sulfuric acid in "
                   "hco3_carbonic_mmol_l (1: all of it, the largest correction).")
@click.option("--evaporite-so4-share", type=FiniteRange(0.0, 1.0),
              default=DEFAULT_EVAPORITE_SO4_SHARE, show_default=True,
              help="Share of SO4 from gypsum/anhydrite (no acid, no HCO3).")
@click.option("--acid-no3-share", type=FiniteRange(0.0, 1.0),
              default=DEFAULT_ACID_NO3_SHARE, show_default=True,
              help="Share of NO3 from nitrification (nitric acid) in hco3_carbonic_mmol_l.")
@click.option("--encoding", default=None, metavar="NAME",
              help="Text encoding of a CSV (e.g. gb18030, utf-8) [default: detected].")
@click.option("--date-format", default=None, metavar="FORMAT",
              help="strftime format of the date column, e.g. '%d/%m/%Y' (day first); needed "
                   "when day/month order cannot be told from the dates.")
@click.option("--sheet", "--samples-sheet", "sheet", default=None, metavar="NAME|INDEX",
              help="XLSX sheet: the sheet of this exact name, else (digits) the 0-based "
                   "worksheet number, so a sheet named 2022 wins over number 2022 "
                   "[default: the first sheet with a sample header].")
@overwrite_option
@click.option("--draws", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="N", help="Monte Carlo draws per sample (0: none, else >= 2): adds "
              "_sd, _lo95, _hi95 for si_calcite, si_dolomite, si_gypsum, log_pco2, "
              "dic_mmol_kgw and hco3_carbonic_mmol_l.")
@click.option("--u", "uncertainty", multiple=True, metavar="KEY=SD",
              help="Standard uncertainty of an input for --draws (repeatable): ph=0.05, "
                   "temp=0.2 (absolute), alk=2%, ions=3% (relative), or a column such as "
                   "ca_mmol_l=5%; 'defaults' for the documented defaults, under the values "
                   "given [default without --u: the defaults].")
@click.option("--seed", type=SEED, default=None, help="Seed of the draws [default: a fresh "
              "one, written to the metadata].")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@excel_option
@verbosity_options
@handle_errors
def speciate_command(input_path: Path, output: Path, database: str, engine: str,
                     jobs: int | None, units: str | None, phases: str, below_detection: str,
                     acid_so4_share: float, evaporite_so4_share: float,
                     acid_no3_share: float, encoding: str | None, date_format: str | None,
                     sheet: str | None, overwrite: bool, draws: int,
                     uncertainty: tuple[str, ...], seed: int | None, debug: bool) -> None:
    """Speciate the water samples in INPUT (CSV or XLSX) with PHREEQC.

    Every input row and column is kept, in order; saturation indices, log pCO2,
    DIC, carbonate species, ionic strength, charge balance and weathering
    ratios are appended, and qa_flags says why a row was not computed.
    OUTPUT (and OUTPUT.meta.json) may not be INPUT, and are replaced only with
    --overwrite. The row and flag counts are printed on stdout, the rest on stderr.
    """
    from ..io.atomic import check_output_file

    check_sheets(**{"--sheet": (sheet, input_path)})
    meta_path = meta_path_for(output)

    def check() -> None:
        check_output_file(output, overwrite=overwrite, inputs=[input_path],
                          companions=[meta_path])

    check()  # before the work, and again just before the files are replaced

    phase_list = tuple(p.strip() for p in phases.split(",") if p.strip())
    u_spec = _uncertainty_option(uncertainty, draws)
    with _early_pool(input_path, database, engine, phase_list, jobs) as pool:
        from ..chemistry.speciation import speciate  # pandas: imported once the workers run

        table = _read(input_path, units, below_detection, encoding=encoding, sheet=sheet,
                      date_format=date_format)
        n = len(table)
        from ..chemistry.uncertainty import sd_columns

        for note in table.attrs.get("notes") or []:  # how a unit or column was taken
            echo_note(f"read: {note}")
        unused = table.attrs.get("unmatched_columns") or []
        per_row = sd_columns(unused)  # the draws' per-row uncertainties
        unused = [c for c in unused if c not in per_row]
        if per_row:
            echo_note(f"per-row standard uncertainties: {', '.join(map(repr, per_row))} ("
                      + ("used by the draws)" if draws else "used only with --draws)"))
        if unused:  # carried through untouched: say so, a misspelt 'SO4' is not used either
            shown = ", ".join(repr(c) for c in unused[:8])
            echo_note(f"columns kept as they are, not used: {shown}"
                      + (f" and {len(unused) - 8} more" if len(unused) > 8 else "")
                      + " (the names karstsink reads: docs/samples.md)")
        with progress(n * (1 + draws), "speciate") as bar:
            try:
                result = speciate(table, database=database, engine=engine, jobs=jobs,
                                  phases=phase_list, acid_so4_share=acid_so4_share,
                                  evaporite_so4_share=evaporite_so4_share,
                                  acid_no3_share=acid_no3_share, progress=bar.update,
                                  draws=draws, uncertainty=u_spec, seed=seed)
            except ImportError as err:  # the optional phreeqpy engine is not installed
                raise click.ClickException(str(err)) from err
        _write_outputs(result, output, meta_path, check, pool, {
            "command": "karstsink speciate",
            "input": str(input_path),
            "output": str(output),
            "units_option": units,
            "date_format": date_format,
            "below_detection": below_detection,
        })

    spec = result.attrs["karstsink"]["speciation"]
    counts = spec["flag_counts"]
    flagged = ", ".join(f"{code} {k}" for code, k in counts.items()) or "none"
    echo_result(f"speciate: {spec['n_rows']} rows, {spec['n_computed']} computed with "
                f"{spec['database']['name']}; flags: {flagged}")
    echo_note(f"wrote {output} and {meta_path.name}")


def _write_outputs(result: Any, output: Path, meta_path: Path, check: Any, pool: Any,
                   meta: dict[str, Any]) -> None:
    """Write the CSV (floats formatted in the workers when there are any) and its metadata."""
    from ..chemistry.speciation import output_metadata
    from ..io import write as csv_write
    from ..io.atomic import atomic_paths

    meta = output_metadata(result, **meta)
    check()
    with atomic_paths(output, meta_path) as (tmp_csv, tmp_meta):  # both or neither
        csv_write.write_csv(result, tmp_csv,  # UTF-8, with a BOM under --excel
                            parallel=pool.imap if pool is not None else None)
        tmp_meta.write_text(csv_write.json_text(meta),
                            encoding="utf-8")


#: Inputs at least this large start the PHREEQC workers before they are read (~500 rows).
_EARLY_POOL_BYTES = 50_000


@contextlib.contextmanager
def _early_pool(input_path: Path, database: str, engine: str, phases: tuple[str, ...],
                jobs: int | None) -> Iterator[Any]:
    """Start the PHREEQC worker processes now, so that their start-up overlaps the reading.

    Yields the pool (``speciate`` picks it up: same database, engine, phases and
    jobs) or None for small inputs and ``--jobs 1``.  A database that does not
    exist fails here, before the input is read (and with the pool, a bad phase too).
    """
    from ..chemistry.database import resolve_database
    from ..chemistry.engine import PhreeqcEngine, default_jobs, worker_pool

    n_jobs = default_jobs() if jobs is None else jobs
    if n_jobs < 2 or input_path.stat().st_size < _EARLY_POOL_BYTES:
        resolve_database(database)
        yield None
        return
    try:
        eng = PhreeqcEngine(database, engine, phases)
    except ImportError as err:  # the optional phreeqpy engine is not installed
        raise click.ClickException(str(err)) from err
    with worker_pool(eng, n_jobs) as pool:
        yield pool


def _uncertainty_option(items: tuple[str, ...], draws: int) -> dict[str, str] | None:
    """``--u ph=0.05 --u alk=2%`` -> ``{"ph": "0.05", "alk": "2%"}`` (None: the defaults)."""
    from ..chemistry.uncertainty import DEFAULT_UNCERTAINTY, parse_uncertainty
    from ..exceptions import ConfigError

    if items and not draws:
        raise click.UsageError("--u needs --draws N (N >= 2) to be propagated.")
    if draws == 1:
        raise click.BadParameter("give 0 (no uncertainty) or at least 2 draws",
                                 param_hint="--draws")
    if not items:
        return None
    # 'defaults' fills in first wherever it stands, so a value given for a key always wins
    spec: dict[str, str] = ({k: str(v) for k, v in DEFAULT_UNCERTAINTY.items()}
                            if any(i.strip().lower() == "defaults" for i in items) else {})
    for item in items:
        if item.strip().lower() == "defaults":
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise click.BadParameter(f"{item!r}: write KEY=SD, e.g. ph=0.05 or alk=2%",
                                     param_hint="--u")
        spec[key.strip()] = value.strip()
    try:  # a value the draws cannot take is a usage error, before anything is read
        parse_uncertainty(spec)
    except ConfigError as err:
        raise click.BadParameter(str(err), param_hint="--u") from None
    return spec


def meta_path_for(output: Path) -> Path:
    """``out.csv`` -> ``out.meta.json`` (beside the CSV)."""
    return output.with_name(output.stem + ".meta.json")


def _read(path: Path, units: str | None, below_detection: str, *, encoding: str | None = None,
          sheet: str | None = None, date_format: str | None = None) -> Any:
    """Read the sample table with :func:`karstsink.io.samples.read_samples` (the one reader)."""
    from ..io.samples import read_samples

    kwargs: dict[str, Any] = {"below_detection": below_detection}
    if units is not None:
        kwargs["units"] = units
    if encoding is not None:
        kwargs["encoding"] = encoding
    if sheet is not None:  # a name first, else a number (io.text.read_xlsx_rows decides)
        kwargs["sheet"] = sheet
    if date_format is not None:
        kwargs["date_format"] = date_format
    return read_samples(path, **kwargs)
