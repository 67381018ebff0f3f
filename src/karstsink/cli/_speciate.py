"""``karstsink speciate``: a field-sample table in, a speciated CSV and its metadata out."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import click

from ..carbon import DEFAULT_ACID_NO3_SHARE, DEFAULT_ACID_SO4_SHARE, DEFAULT_EVAPORITE_SO4_SHARE
from ._common import handle_errors, progress

_BELOW_DETECTION = ("half", "zero", "limit", "nan")


@click.command("speciate")
@click.argument("input_path", metavar="INPUT",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, metavar="OUTPUT.csv",
              type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="CSV to write; OUTPUT.meta.json (provenance) is written beside it.")
@click.option("--database", default="phreeqc.dat", show_default=True, metavar="NAME|PATH",
              help="PHREEQC database: a bundled name (phreeqc.dat, wateq4f.dat, llnl.dat, "
                   "minteq.v4.dat, pitzer.dat) or a file path.")
@click.option("--engine", type=click.Choice(["phreeqc", "phreeqpy"]), default="phreeqc",
              show_default=True, help="PHREEQC binding (phreeqpy needs karstsink[phreeqpy] "
                                      "and a database other than the 2024 phreeqc.dat).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: all cores].")
@click.option("--units", default=None, metavar="UNIT",
              help="Unit of concentration columns whose header states none, e.g. mg/L, "
                   "mmol/L, meq/L.")
@click.option("--phases", default="", metavar="A,B",
              help="Extra phases for saturation indices, comma-separated (e.g. "
                   "Fluorite,Aragonite); names as in the database.")
@click.option("--below-detection", type=click.Choice(_BELOW_DETECTION), default="half",
              show_default=True, help="Value used for '<DL' cells (they are flagged "
                                      "below_detection either way).")
@click.option("--acid-so4-share", type=click.FloatRange(0.0, 1.0),
              default=DEFAULT_ACID_SO4_SHARE, show_default=True,
              help="Share of the non-evaporite SO4 taken as sulfuric acid in "
                   "hco3_carbonic_mmol_l (1: all of it, the largest correction).")
@click.option("--evaporite-so4-share", type=click.FloatRange(0.0, 1.0),
              default=DEFAULT_EVAPORITE_SO4_SHARE, show_default=True,
              help="Share of SO4 from gypsum/anhydrite (no acid, no HCO3).")
@click.option("--acid-no3-share", type=click.FloatRange(0.0, 1.0),
              default=DEFAULT_ACID_NO3_SHARE, show_default=True,
              help="Share of NO3 from nitrification (nitric acid) in hco3_carbonic_mmol_l.")
@click.option("--encoding", default=None, metavar="NAME",
              help="Text encoding of a CSV (e.g. gb18030, utf-8) [default: detected].")
@click.option("--date-format", default=None, metavar="FORMAT",
              help="strftime format of the date column, e.g. '%d/%m/%Y' (day first); needed "
                   "when day/month order cannot be told from the dates.")
@click.option("--sheet", default=None, metavar="NAME|INDEX",
              help="XLSX sheet [default: the first sheet with a sample header].")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@handle_errors
def speciate_command(input_path: Path, output: Path, database: str, engine: str,
                     jobs: int | None, units: str | None, phases: str, below_detection: str,
                     acid_so4_share: float, evaporite_so4_share: float,
                     acid_no3_share: float, encoding: str | None, date_format: str | None,
                     sheet: str | None, debug: bool) -> None:
    """Speciate the water samples in INPUT (CSV or XLSX) with PHREEQC.

    Every input row and column is kept, in order; saturation indices, log pCO2,
    DIC, carbonate species, ionic strength, charge balance and weathering
    ratios are appended, and qa_flags says why a row was not computed.
    """
    from ..chemistry.speciation import speciate
    from ..io.atomic import atomic_path

    table = _read(input_path, units, below_detection, encoding=encoding, sheet=sheet,
                  date_format=date_format)
    phase_list = tuple(p.strip() for p in phases.split(",") if p.strip())
    n = len(table)
    _no_tqdm_monitor_thread()
    with progress(n, "speciate") as bar:
        try:
            result = speciate(table, database=database, engine=engine, jobs=jobs,
                              phases=phase_list, acid_so4_share=acid_so4_share,
                              evaporite_so4_share=evaporite_so4_share,
                              acid_no3_share=acid_no3_share, progress=bar.update)
        except ImportError as err:  # the optional phreeqpy engine is not installed
            raise click.ClickException(str(err)) from err

    meta_path = meta_path_for(output)
    meta = {
        "command": "karstsink speciate",
        "input": str(input_path),
        "output": str(output),
        "units_option": units,
        "date_format": date_format,
        "below_detection": below_detection,
        "samples": {k: v for k, v in result.attrs.items() if k != "karstsink"},
        **result.attrs.get("karstsink", {}),
    }
    with atomic_path(output) as tmp_csv, atomic_path(meta_path) as tmp_meta:
        result.to_csv(tmp_csv, index=False, encoding="utf-8")
        tmp_meta.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n",
                            encoding="utf-8")

    spec = result.attrs["karstsink"]["speciation"]
    counts = spec["flag_counts"]
    flagged = ", ".join(f"{code} {k}" for code, k in counts.items()) or "none"
    click.echo(f"speciate: {spec['n_rows']} rows, {spec['n_computed']} computed with "
               f"{spec['database']['name']}; flags: {flagged}; wrote {output} and "
               f"{meta_path.name}")


def _no_tqdm_monitor_thread() -> None:
    """Stop tqdm from starting its monitor thread, so worker processes can be forked safely."""
    import tqdm.std

    tqdm.std.tqdm.monitor_interval = 0


def meta_path_for(output: Path) -> Path:
    """``out.csv`` -> ``out.meta.json`` (beside the CSV)."""
    return output.with_name(output.stem + ".meta.json")


def _read(path: Path, units: str | None, below_detection: str, *, encoding: str | None = None,
          sheet: str | None = None, date_format: str | None = None) -> Any:
    """Read the sample table with karstsink.samples (a canonical CSV if it is absent)."""
    try:
        from ..io.samples import read_samples
    except ModuleNotFoundError as err:
        if err.name not in ("karstsink.io", "karstsink.io.samples"):
            raise
        return _read_canonical(path)
    kwargs: dict[str, Any] = {}
    params = inspect.signature(read_samples).parameters
    if units is not None:
        kwargs["units"] = units
    if encoding is not None:
        kwargs["encoding"] = encoding
    if sheet is not None:
        kwargs["sheet"] = int(sheet) if sheet.isdigit() else sheet
    if date_format is not None:
        kwargs["date_format"] = date_format
    if "below_detection" in params:
        kwargs["below_detection"] = below_detection
    elif below_detection != "half":
        raise click.UsageError("--below-detection is not supported by this karstsink.samples.")
    return read_samples(path, **kwargs)


def _read_canonical(path: Path) -> Any:
    import pandas as pd

    from ..exceptions import DataError, MissingColumnError

    if path.suffix.lower() not in (".csv", ".txt"):
        raise DataError(f"{path}: only canonical CSV files can be read without "
                        "karstsink.samples.")
    table = pd.read_csv(path, encoding="utf-8-sig")
    missing = [c for c in ("temp_c", "ph", "hco3_mmol_l") if c not in table.columns]
    if missing:
        raise MissingColumnError(f"{path}: missing column(s) {', '.join(missing)} "
                                 "(canonical names and mmol/L expected).")
    return table
