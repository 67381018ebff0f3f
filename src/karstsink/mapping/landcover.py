"""Land-cover class tables: soil-pCO2 and runoff factors, biological sink, class water chemistry.

Two tables ship with the package (``src/karstsink/data/landcover_*.csv``, see
the data README for provenance): ``worldcover`` (ESA WorldCover 10 m codes
10-100) and ``clcd`` (China Land Cover Dataset codes 1-9).  Users pass their
own CSV with the same columns.  Land cover acts on soil pCO2 and runoff, not
on the sink itself: the equilibrium chemistry turns a higher soil pCO2 into a
higher, cube-root-damped, sink (Ca_eq grows with the cube root of pCO2;
Dreybrodt 1988).  Optional columns
``so4_mmol_l`` and ``no3_mmol_l`` give a class's own karst-water sulfate and
nitrate (e.g. cropland nitrate) for the acid correction, overriding ``[model]
so4_mmol_l`` / ``no3_mmol_l`` there (a blank cell keeps the ``[model]`` value).
Optional ranges ``soil_pco2_factor_lo``/``_hi`` and ``biological_sink_tc_km2_yr_lo``/``_hi``
(with their sources in ``range_source``) are what ``[uncertainty]`` draws from
(:mod:`karstsink.mapping._draws`); a blank pair fixes the class's value.
Optional ``nep_factor`` (0-1, blank or absent = 1) is the share of an NEP (or NPP x
``npp_to_nep``) raster's value that counts as a lasting sink for the class: 0 for
cropland in the shipped tables, whose annual production harvest removes within the
year (NEP is not the net biome production; Ciais et al. 2010,
doi:10.1111/j.1365-2486.2009.02055.x).
"""

from __future__ import annotations

import importlib.resources
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..exceptions import ConfigError, DataError, MissingColumnError
from ..io.cells import MISSING, OK, parse_column
from ..io.text import read_rows

__all__ = ["BUILTIN_TABLES", "CLASS_CHEMISTRY_COLUMNS", "NEP_FACTOR_COLUMN", "REQUIRED_COLUMNS",
           "LandcoverTable", "load_landcover_table"]

BUILTIN_TABLES = {"worldcover": "landcover_worldcover.csv", "clcd": "landcover_clcd.csv"}
REQUIRED_COLUMNS = ("class", "name", "soil_pco2_factor", "runoff_factor",
                    "biological_sink_tc_km2_yr", "source")
_NUMERIC = ("soil_pco2_factor", "runoff_factor", "biological_sink_tc_km2_yr")
#: the largest class code a table may hold (look-ups are arrays indexed by code); codes
#: above it in a raster are unknown classes, counted and warned about
MAX_CLASS_CODE = 65535
#: optional per-class karst-water concentrations [mmol L-1]; a blank cell = the [model] value
CLASS_CHEMISTRY_COLUMNS = ("so4_mmol_l", "no3_mmol_l")
#: optional share (0-1) of an nep/npp raster's value counted as the class's lasting sink;
#: a blank cell or no column = 1 (the raster as given)
NEP_FACTOR_COLUMN = "nep_factor"
#: optional ranges of the Monte Carlo draws: value column -> (low, high) columns
RANGE_COLUMNS = {"soil_pco2_factor": ("soil_pco2_factor_lo", "soil_pco2_factor_hi"),
                 "biological_sink_tc_km2_yr": ("biological_sink_tc_km2_yr_lo",
                                               "biological_sink_tc_km2_yr_hi")}
#: every column the table's reader reads; another column is carried as text, not read
READ_COLUMNS = (*REQUIRED_COLUMNS, *CLASS_CHEMISTRY_COLUMNS, NEP_FACTOR_COLUMN,
                *(c for pair in RANGE_COLUMNS.values() for c in pair), "range_source")


def _refuse_misspelt(header: list[str], name: str) -> None:
    """Refuse a column that is nearly a read one (``no3_mmol_L``, ``soil_pco2_factor_low``):
    not read, it would leave the class at its default without a word.  A read column's
    name with a suffix of its own (``so4_mmol_l_sd``, ``source_note``) is a note column,
    carried; only ``_low``/``_high``-like suffixes of a ranged column are near misses."""
    import difflib

    ranged = {f"{v}_{w}": lo_hi[w in ("high", "max", "upper")]
              for v, lo_hi in RANGE_COLUMNS.items()
              for w in ("low", "high", "min", "max", "lower", "upper")}
    for col in header:
        key = col.strip().lower().replace(" ", "_").replace("-", "_")
        if not col or col in READ_COLUMNS:
            continue
        near = [ranged[key]] if key in ranged else [] if any(
            key.startswith(f"{r}_") for r in READ_COLUMNS) else difflib.get_close_matches(
            key, READ_COLUMNS, n=1, cutoff=0.85)
        if near and near[0] not in header:
            raise DataError(f"Land-cover table {name}: column {col!r} is not one the table "
                            f"reads, and {near[0]!r} is (names are exact, lower case); "
                            f"rename it {near[0]!r}, or give a note column a name of its own.")


@dataclass(frozen=True)
class LandcoverTable:
    """A validated land-cover table and its lookup arrays.

    Attributes
    ----------
    name : str
        ``worldcover``, ``clcd`` or the CSV path.
    columns : dict
        Column name -> values, one per class code in file order: ``class`` as int64,
        the factor columns (and ``so4_mmol_l``, ``no3_mmol_l`` when present, NaN for a
        blank cell; ``nep_factor`` when present, NaN for a blank cell = 1) as float64,
        every other column as text.
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

    def nep_factor(self) -> np.ndarray | None:
        """The ``nep_factor`` look-up by class code [0-1] (blank = 1; 1 for codes not in
        the table, which the model makes nodata anyway), or None when every class's
        factor is 1 (no column, or nothing but blanks and ones)."""
        if NEP_FACTOR_COLUMN not in self.columns:
            return None
        vals = np.asarray(self.columns[NEP_FACTOR_COLUMN], dtype=float)
        vals = np.where(np.isnan(vals), 1.0, vals)
        if np.all(vals == 1.0):
            return None
        lut = np.ones(int(self.classes.max()) + 1)
        lut[self.classes] = vals
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


def _table_rows(path: Path, name: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, body rows (cells stripped, padded to the header) and their file line numbers.

    Read with the package's text reader (:func:`karstsink.io.text.read_rows`:
    encoding and delimiter detection); lines starting with ``#`` are comments, rows of
    blank cells are skipped.
    """
    rows, meta = read_rows(path, comment="#")
    lines = meta.get("lines") or list(range(1, len(rows) + 1))
    kept = [([c.strip() for c in r], ln) for r, ln in zip(rows, lines, strict=True)
            if any(c.strip() for c in r)]
    if not kept:
        return [], [], []
    header = kept[0][0]
    named = [c for c in header if c]
    dup = sorted({c for c in named if named.count(c) > 1})
    if dup:
        raise DataError(f"Land-cover table {name}: column {dup[0]!r} appears twice in the "
                        f"header.")
    body, body_lines = [], []
    for r, ln in kept[1:]:
        if len(r) > len(header) and any(r[len(header):]):
            raise DataError(f"Land-cover table {name}: row {ln} has {len(r)} cells but "
                            f"the header names {len(header)} columns (quote cells that "
                            f"contain commas).")
        if len(r) < len(header):  # a cut row would give its missing cells their defaults
            raise DataError(f"Land-cover table {name}: row {ln} has {len(r)} cells but the "
                            f"header names {len(header)} columns ({', '.join(header[len(r):])} "
                            "missing): write every cell, an empty one between commas where "
                            "a value is blank.")
        body.append(r[:len(header)])
        body_lines.append(ln)
    return header, body, body_lines


def _numbers(cells: list[str], col: str, name: str, lines: list[int], codes,
             *, blank_ok: bool, upper: float | None = None) -> np.ndarray:
    """A numeric column: finite numbers >= 0 (<= ``upper``); blank cells NaN if allowed."""
    values, status = parse_column(cells)
    for i, (v, st) in enumerate(zip(values, status, strict=True)):
        if st == MISSING and blank_ok:
            continue
        if not (st == OK and math.isfinite(v) and v >= 0 and (upper is None or v <= upper)):
            cls = f" (class {codes[i]})" if codes is not None else ""
            bound = f" and <= {upper:g}" if upper is not None else ""
            blank = " or blank" if blank_ok else ""
            raise DataError(f"Land-cover table {name}: column {col} in row {lines[i]}{cls} "
                            f"is {cells[i]!r}; expected a number >= 0{bound}{blank}.")
    return values


def load_landcover_table(source: str | Path = "worldcover") -> LandcoverTable:
    """Read and validate a land-cover table.

    The CSV is read with the package's one text reader (encoding and delimiter
    detected; lines starting with ``#`` are comments; blank lines are skipped;
    cells are stripped of surrounding spaces) and its one cell parser (decimal
    commas decided per column), not pandas (a map run without zones then never
    imports it).

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
    ConfigError
        If the table has the removed ``acid_so4_share`` column.
    DataError
        If the file is missing, a column nearly names a read one (``no3_mmol_L``:
        :data:`READ_COLUMNS`; other columns are carried, not read), a header names a
        column twice, a row has more
        cells than the header, a class code repeats, is not a non-negative
        integer or is above :data:`MAX_CLASS_CODE`, a factor is not a finite number
        >= 0, or a ``so4_mmol_l`` / ``no3_mmol_l`` cell is neither blank nor a number
        >= 0 [mmol L⁻¹], or a ``nep_factor`` cell is neither blank nor a number in 0-1.
    """
    key = str(source).lower()
    if key in BUILTIN_TABLES:
        res = importlib.resources.files("karstsink.data") / BUILTIN_TABLES[key]
        name = key
        with importlib.resources.as_file(res) as path:
            header, body, lines = _table_rows(Path(path), name)
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"Land-cover table {path} does not exist (or use one of "
                            f"{', '.join(BUILTIN_TABLES)}).")
        name = str(path)
        header, body, lines = _table_rows(path, name)
    if "acid_so4_share" in header:
        raise ConfigError(
            f"Land-cover table {name}: column acid_so4_share is no longer read (it was a "
            f"fractional cut of the karst sink, not the catchments' acid share); remove it "
            f"and give the karst water's sulfate and nitrate as [model] so4_mmol_l / "
            f"no3_mmol_l (per class: so4_mmol_l, no3_mmol_l columns) with [model] "
            f"acid_so4_share, evaporite_so4_share, acid_no3_share.")
    _refuse_misspelt(header, name)
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise MissingColumnError(
            f"Land-cover table {name} lacks column(s) {', '.join(missing)}; required: "
            f"{', '.join(REQUIRED_COLUMNS)}."
        )
    # text columns as read; class and numeric columns replaced by arrays once checked
    cols: dict = {c: [r[i] for r in body] for i, c in enumerate(header) if c}
    codes, status = parse_column(cols["class"])
    for i, (v, st) in enumerate(zip(codes, status, strict=True)):
        if not (st == OK and v >= 0 and v == round(v)):
            raise DataError(f"Land-cover table {name}: class in row {lines[i]} is "
                            f"{cols['class'][i]!r}; class codes must be integers >= 0.")
        if v > MAX_CLASS_CODE:
            raise DataError(f"Land-cover table {name}: class {cols['class'][i]} in row "
                            f"{lines[i]} is above {MAX_CLASS_CODE} (look-up tables are "
                            f"indexed by class code); recode the classes to 0-{MAX_CLASS_CODE}.")
    cols["class"] = codes.astype(np.int64)
    seen: set[int] = set()
    for code in cols["class"].tolist():
        if code in seen:
            raise DataError(f"Land-cover table {name}: class {code} appears twice.")
        seen.add(code)
    class_codes = cols["class"].tolist()
    for col in _NUMERIC:
        cols[col] = _numbers(cols[col], col, name, lines, class_codes, blank_ok=False)
    for col in CLASS_CHEMISTRY_COLUMNS:
        if col in cols:
            cols[col] = _numbers(cols[col], col, name, lines, class_codes, blank_ok=True)
    if NEP_FACTOR_COLUMN in cols:
        cols[NEP_FACTOR_COLUMN] = _numbers(cols[NEP_FACTOR_COLUMN], NEP_FACTOR_COLUMN, name,
                                           lines, class_codes, blank_ok=True, upper=1.0)
    _ranges(cols, name, lines, class_codes)
    return LandcoverTable(name=name, columns=cols)


def _ranges(cols: dict, name: str, lines: list[int], codes: list[int]) -> None:
    """Parse and check the optional range columns: both or neither, low <= value <= high
    per class, a blank pair = no range."""
    for col, (lo, hi) in RANGE_COLUMNS.items():
        if lo not in cols and hi not in cols:
            continue
        if lo not in cols or hi not in cols:
            raise DataError(f"Land-cover table {name}: give both {lo} and {hi} (or neither).")
        cols[lo] = _numbers(cols[lo], lo, name, lines, codes, blank_ok=True)
        cols[hi] = _numbers(cols[hi], hi, name, lines, codes, blank_ok=True)
        for i, (a, v, b) in enumerate(zip(cols[lo], cols[col], cols[hi], strict=True)):
            if np.isnan(a) != np.isnan(b):
                raise DataError(f"Land-cover table {name}: row {lines[i]} (class {codes[i]}) "
                                f"has only one of {lo}, {hi}; give both or leave both blank.")
            if not np.isnan(a) and not a <= v <= b:
                raise DataError(f"Land-cover table {name}: row {lines[i]} (class {codes[i]}): "
                                f"{col} {v:g} is outside its range {lo} {a:g} .. {hi} {b:g}.")


def guess_table(codes: np.ndarray) -> str | None:
    """``"worldcover"`` or ``"clcd"`` if every code belongs to that scheme, else None."""
    present = {int(c) for c in np.unique(codes)}
    for name in ("clcd", "worldcover"):
        if present and present <= set(load_landcover_table(name).classes.tolist()):
            return name
    return None
