"""Land-cover class tables: soil-pCO2 and runoff factors, acid share, biological sink.

Two tables ship with the package (``src/karstsink/data/landcover_*.csv``, see
the data README for provenance): ``worldcover`` (ESA WorldCover 10 m codes
10-100) and ``clcd`` (China Land Cover Dataset codes 1-9).  Users pass their
own CSV with the same columns.  Land cover acts on soil pCO2 and runoff, not
on the sink itself (science.md 5.3): the equilibrium chemistry turns a higher
soil pCO2 into a higher, cube-root-damped, sink.
"""

from __future__ import annotations

import csv
import importlib.resources
import io
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..exceptions import DataError, MissingColumnError

__all__ = ["BUILTIN_TABLES", "REQUIRED_COLUMNS", "LandcoverTable", "load_landcover_table"]

BUILTIN_TABLES = {"worldcover": "landcover_worldcover.csv", "clcd": "landcover_clcd.csv"}
REQUIRED_COLUMNS = ("class", "name", "soil_pco2_factor", "runoff_factor",
                    "biological_sink_tc_km2_yr", "source")
_NUMERIC = ("soil_pco2_factor", "runoff_factor", "acid_so4_share", "biological_sink_tc_km2_yr")


@dataclass(frozen=True)
class LandcoverTable:
    """A validated land-cover table and its lookup arrays.

    Attributes
    ----------
    name : str
        ``worldcover``, ``clcd`` or the CSV path.
    columns : dict
        Column name -> values, one per class code in file order: ``class`` as int64,
        the factor columns as float64, every other column as text.
    """

    name: str
    columns: dict = field(repr=False)

    @property
    def classes(self) -> np.ndarray:
        """Class codes [integer]."""
        return self.columns["class"]

    @cached_property
    def table(self):
        """The table as a pandas DataFrame (one row per class code)."""
        import pandas as pd

        return pd.DataFrame(self.columns)

    def lookup(self, column: str) -> np.ndarray:
        """A float64 array indexed by class code; NaN for codes not in the table."""
        codes = self.classes
        lut = np.full(int(codes.max()) + 1, np.nan)
        lut[codes] = np.asarray(self.columns[column], dtype=float)
        return lut

    def with_scenario(self, transitions: list[dict]) -> LandcoverTable:
        """Check that every class a scenario names exists in this table."""
        for t in transitions:
            for key in ("from", "to"):
                if int(t[key]) not in set(self.classes.tolist()):
                    raise DataError(
                        f"Scenario transition {key} class {t[key]} is not in the land-cover "
                        f"table {self.name} (classes {sorted(self.classes.tolist())})."
                    )
        return self


def _uncommented(lines):
    """Lines without ``#`` comments (outside double quotes) and without blank lines."""
    for line in lines:
        quoted = False
        for i, ch in enumerate(line):
            if ch == '"':
                quoted = not quoted
            elif ch == "#" and not quoted:
                line = line[:i]
                break
        if line.strip():
            yield line


def _number(text: str) -> float:
    """A CSV cell as a float (NaN when blank or not a number)."""
    try:
        return float(text)
    except ValueError:
        return math.nan


def _read_rows(text: str, name: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(_uncommented(io.StringIO(text))))
    if not rows:
        return [], []
    header = [c.strip() for c in rows[0]]
    named = [c for c in header if c]
    dup = sorted({c for c in named if named.count(c) > 1})
    if dup:
        raise DataError(f"Land-cover table {name}: column {dup[0]!r} appears twice in the "
                        f"header.")
    for i, r in enumerate(rows[1:]):
        if len(r) > len(header) and any(c.strip() for c in r[len(header):]):
            raise DataError(f"Land-cover table {name}: row {i + 2} has {len(r)} cells but "
                            f"the header names {len(header)} columns (quote cells that "
                            f"contain commas).")
    body = [[c.strip() for c in r[:len(header)]] + [""] * (len(header) - len(r))
            for r in rows[1:]]
    return header, body


def load_landcover_table(source: str | Path = "worldcover") -> LandcoverTable:
    """Read and validate a land-cover table.

    The CSV is read with Python's csv module (``#`` starts a comment outside
    quotes; blank lines are skipped; cells are stripped of surrounding spaces),
    not pandas (a map run without zones then never imports it).

    Parameters
    ----------
    source : str or path
        ``"worldcover"`` or ``"clcd"`` (shipped tables) or a CSV path.

    Returns
    -------
    LandcoverTable

    Raises
    ------
    MissingColumnError
        If a required column is missing.
    DataError
        If the file is missing, a header names a column twice, a row has more
        cells than the header, a class code repeats or is not a non-negative
        integer, or a factor is not a finite number >= 0 (acid share must lie
        in 0..1).
    """
    key = str(source).lower()
    if key in BUILTIN_TABLES:
        res = importlib.resources.files("karstsink.data") / BUILTIN_TABLES[key]
        text = res.read_text(encoding="utf-8")
        name = key
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"Land-cover table {path} does not exist (or use one of "
                            f"{', '.join(BUILTIN_TABLES)}).")
        text = path.read_text(encoding="utf-8-sig")
        name = str(path)
    header, body = _read_rows(text, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise MissingColumnError(
            f"Land-cover table {name} lacks column(s) {', '.join(missing)}; required: "
            f"{', '.join(REQUIRED_COLUMNS)}."
        )
    # text columns as read; class and numeric columns replaced by arrays once checked
    cols: dict = {c: [r[i] for r in body] for i, c in enumerate(header) if c}
    if "acid_so4_share" not in cols:
        cols["acid_so4_share"] = ["0"] * len(body)
    codes = np.array([_number(v) for v in cols["class"]])
    for i, v in enumerate(codes):
        if not (v >= 0 and v == round(v)):
            raise DataError(f"Land-cover table {name}: class in row {i + 2} is "
                            f"{cols['class'][i]!r}; class codes must be integers >= 0.")
    cols["class"] = codes.astype(np.int64)
    seen: set[int] = set()
    for code in cols["class"].tolist():
        if code in seen:
            raise DataError(f"Land-cover table {name}: class {code} appears twice.")
        seen.add(code)
    for col in _NUMERIC:
        vals = np.array([_number(v) for v in cols[col]])
        for i, v in enumerate(vals):
            if not (math.isfinite(v) and v >= 0 and (col != "acid_so4_share" or v <= 1)):
                raise DataError(
                    f"Land-cover table {name}: column {col} in row {i + 2} (class "
                    f"{int(cols['class'][i])}) is {cols[col][i]!r}; expected a "
                    f"number >= 0{' and <= 1' if col == 'acid_so4_share' else ''}."
                )
        cols[col] = vals
    return LandcoverTable(name=name, columns=cols)


def guess_table(codes: np.ndarray) -> str | None:
    """``"worldcover"`` or ``"clcd"`` if every code belongs to that scheme, else None."""
    present = {int(c) for c in np.unique(codes)}
    for name in ("clcd", "worldcover"):
        if present and present <= set(load_landcover_table(name).classes.tolist()):
            return name
    return None
