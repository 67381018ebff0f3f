"""Land-cover class tables: soil-pCO2 and runoff factors, acid share, biological sink.

Two tables ship with the package (``src/karstsink/data/landcover_*.csv``, see
the data README for provenance): ``worldcover`` (ESA WorldCover 10 m codes
10-100) and ``clcd`` (China Land Cover Dataset codes 1-9).  Users pass their
own CSV with the same columns.  Land cover acts on soil pCO2 and runoff, not
on the sink itself (science.md 5.3): the equilibrium chemistry turns a higher
soil pCO2 into a higher, cube-root-damped, sink.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

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
    table : pandas.DataFrame
        The table (one row per class code).
    """

    name: str
    table: pd.DataFrame

    @property
    def classes(self) -> np.ndarray:
        """Class codes [integer]."""
        return self.table["class"].to_numpy()

    def lookup(self, column: str) -> np.ndarray:
        """A float64 array indexed by class code; NaN for codes not in the table."""
        codes = self.classes
        lut = np.full(int(codes.max()) + 1, np.nan)
        lut[codes] = self.table[column].to_numpy(dtype=float)
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


def load_landcover_table(source: str | Path = "worldcover") -> LandcoverTable:
    """Read and validate a land-cover table.

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
        If the file is missing, a class code repeats or is not a non-negative
        integer, or a factor is not a finite number >= 0 (acid share must lie
        in 0..1).
    """
    key = str(source).lower()
    if key in BUILTIN_TABLES:
        res = importlib.resources.files("karstsink.data") / BUILTIN_TABLES[key]
        with res.open("r", encoding="utf-8") as fh:
            df = pd.read_csv(fh, comment="#")
        name = key
    else:
        path = Path(source)
        if not path.is_file():
            raise DataError(f"Land-cover table {path} does not exist (or use one of "
                            f"{', '.join(BUILTIN_TABLES)}).")
        df = pd.read_csv(path, comment="#")
        name = str(path)
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"Land-cover table {name} lacks column(s) {', '.join(missing)}; required: "
            f"{', '.join(REQUIRED_COLUMNS)}."
        )
    if "acid_so4_share" not in df.columns:
        df["acid_so4_share"] = 0.0
    codes = pd.to_numeric(df["class"], errors="coerce")
    bad = df.index[codes.isna() | (codes < 0) | (codes != codes.round())]
    if len(bad):
        raise DataError(f"Land-cover table {name}: class in row {int(bad[0]) + 2} is "
                        f"{df['class'].iloc[bad[0]]!r}; class codes must be integers >= 0.")
    df["class"] = codes.astype(np.int64)
    dup = df["class"][df["class"].duplicated()]
    if len(dup):
        raise DataError(f"Land-cover table {name}: class {int(dup.iloc[0])} appears twice.")
    for col in _NUMERIC:
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = df.index[vals.isna() | (vals < 0) | ~np.isfinite(vals)]
        if col == "acid_so4_share":
            bad = bad.union(df.index[vals > 1])
        if len(bad):
            raise DataError(
                f"Land-cover table {name}: column {col} in row {int(bad[0]) + 2} (class "
                f"{int(df['class'].iloc[bad[0]])}) is {df[col].iloc[bad[0]]!r}; expected a "
                f"number >= 0{' and <= 1' if col == 'acid_so4_share' else ''}."
            )
        df[col] = vals.astype(float)
    return LandcoverTable(name=name, table=df.reset_index(drop=True))


def guess_table(codes: np.ndarray) -> str | None:
    """``"worldcover"`` or ``"clcd"`` if every code belongs to that scheme, else None."""
    present = {int(c) for c in np.unique(codes)}
    for name in ("clcd", "worldcover"):
        if present and present <= set(load_landcover_table(name).classes.tolist()):
            return name
    return None
