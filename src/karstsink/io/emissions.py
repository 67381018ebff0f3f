"""Reading emission series: a ``year`` column and one emissions column, converted to t CO₂.

:func:`read_emissions_csv` reads the shipped Guizhou scenario anchors and a
user's own series alike (the scenarios themselves, their interpolation and the
balance against the sinks are in :mod:`karstsink.scenario`, which re-exports
this reader).  1 t C = :data:`karstsink.units.C_TO_CO2` = 44.009/12.011 t CO₂.
"""

from __future__ import annotations

import os
import re
import warnings
from importlib.resources import as_file, files
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataError, DataQualityWarning, MissingColumnError, UnitError
from ..units import C_TO_CO2
from .cells import (
    ABOVE,
    BELOW,
    MISSING,
    NOT_NUMERIC,
    SENTINEL_VALUES,
    parse_column,
    sentinel_mask,
)
from .text import read_rows

__all__ = ["SHIPPED_SCENARIOS", "emissions_span", "read_emissions_csv", "shipped_emissions",
           "shipped_name", "shipped_rows"]

#: Names of the scenarios shipped in ``karstsink/data/guizhou_emissions.csv`` (``"all"``:
#: the three).
SHIPPED_SCENARIOS: tuple[str, ...] = ("baseline", "high-speed", "low-carbon")

# Mass units understood in a user CSV header, as factors to tonnes. Case matters in the
# bracket style: Mt is a megatonne and Tg the same mass (10^12 g = 10^6 t), while "MT" or "mt"
# is refused (it is also written for "metric tonnes"). 万 (wan) = 10⁴: Chinese statistics often
# report "万吨" (10⁴ t).
_SCALE_TO_T = {"t": 1.0, "kt": 1e3, "Mt": 1e6, "Gt": 1e9, "Gg": 1e3, "Tg": 1e6, "Pg": 1e9,
               "万t": 1e4, "万吨": 1e4, "tonnes": 1.0, "tonne": 1.0, "吨": 1.0}
# "ton(s)" is refused: it is a metric tonne in Chinese English but a short ton (0.907 t)
# or a long ton (1.016 t) elsewhere, a 10 % difference the reader cannot settle.
_TON = {"ton", "tons"}
# Underscore (snake_case) headers are lower-case by convention, as every column karstsink
# writes (emissions_mt_co2 in the shipped table): there mt is the megatonne.
_SNAKE_SCALE_TO_T = {"t": 1.0, "kt": 1e3, "mt": 1e6, "gt": 1e9, "tg": 1e6}
_MASS_HELP = "write the mass as t, kt, Mt or Tg (e.g. 'emissions (Mt CO2)')"
# CO2-equivalent (CO2e, CO2-eq, CO2 equivalent): includes other greenhouse gases
_CO2E = re.compile(r"co2[\s_-]*(?:e\b|eq)|equivalent|当量")
# mass of carbon in CO2: "CO2-C", "CO2 C", "C-CO2"
_CO2_AS_C = re.compile(r"co2[\s_-]*c\b|\bc[\s_-]*co2")
# No-data codes some spreadsheets and databases write instead of a blank: the cell
# parser's (-99, -999, -9999, -99999) and -999999, also with up to six nines after the
# point (-99.9, -999.99), tested on the parsed number, so "-9,999", "-999,0" and "−999"
# count too
_NO_DATA = tuple(round(v - (1.0 - 10.0 ** -j), j)
                 for v in (*SENTINEL_VALUES, -999999.0) for j in range(7))


def _basis(text: str) -> str | None:
    """"CO2", "C" or None (not stated) from lower-case unit text."""
    if _CO2_AS_C.search(text):
        return "C"
    if "co2" in text:
        return "CO2"
    if text.strip() in {"c", "carbon"}:
        return "C"
    return None


def _parse_emission_unit(header: str) -> tuple[float, str]:
    """Return (factor to tonnes, "CO2" or "C") from an emissions column header."""
    text = header.strip().replace("₂", "2").replace("－", "-")
    # "carbon dioxide" (also hyphenated) and 二氧化碳 name CO2, never carbon
    text = re.sub(r"carbon[\s_-]*dioxide|二氧化碳", "CO2", text, flags=re.IGNORECASE)
    low = text.lower()
    if _CO2E.search(low):
        raise UnitError(
            f"Emissions column {header!r} is in CO2-equivalent (CO2e, other greenhouse gases "
            "included), but the balance compares the sinks with CO2 only: give the CO2 "
            "emissions in t, kt, Mt or Tg of CO2 (e.g. 'emissions (Mt CO2)')."
        )
    # underscore style: emissions_mt_co2, emissions_t_c, emissions_kt_co2_yr, emissions_mt_co2_c
    m = re.match(r"^[a-z_]*?_(t|kt|mt|gt|tg)_(co2_c|c_co2|co2|c)(?:_(?:yr|a|per_yr|per_year))?$",
                 low)
    if m:
        mass = text[m.start(1):m.end(1)]
        if mass.lower() == "mt" and mass not in {"mt", "Mt"}:
            raise UnitError(f"Emissions column {header!r}: {mass!r} is ambiguous (megatonnes or "
                            f"metric tonnes); {_MASS_HELP}.")
        return _SNAKE_SCALE_TO_T[m.group(1)], "CO2" if m.group(2) == "co2" else "C"
    # bracket style: "emissions (Mt CO2)", "CO2 emissions [10^4 t]", "排放 (万吨 CO2)"
    m = re.search(r"[\(\[]\s*([^\)\]]+?)\s*[\)\]]", text)
    if m:
        unit = re.sub(r"/\s*(?:yr|a|year)\b|\b(?:yr|a)-1\b|per\s+year", "", m.group(1),
                      flags=re.IGNORECASE).strip()
        unit = re.sub(r"^10\^?4\s*t\b", "万t", unit)
        tokens = unit.split()
        first = tokens[0].split("-")[0] if tokens else ""
        if first.lower() in _TON:
            raise UnitError(f"Emissions column {header!r}: {first!r} is ambiguous (metric "
                            f"tonnes, or short tons of 0.907 t); {_MASS_HELP}.")
        if first and first not in _SCALE_TO_T and first.lower() in {"mt", "m.t.", "m.t"}:
            raise UnitError(f"Emissions column {header!r}: {first!r} is ambiguous (megatonnes "
                            f"or metric tonnes); {_MASS_HELP}.")
        if first in _SCALE_TO_T:
            scale = _SCALE_TO_T[first]
            rest = unit[len(first):].strip(" -").lower()
            outside = low[: m.start()]
            basis = _basis(rest) if rest else _basis(outside) if "co2" in outside else None
            # a bare "carbon emissions (Mt)" is left ambiguous: it is often loose wording
            # for CO2, so the bracket must say C (or carbon) for carbon
            if basis is not None:
                return scale, basis
        elif first and first.lower() in {k.lower() for k in _SCALE_TO_T}:
            raise UnitError(f"Emissions column {header!r}: mass unit {first!r} is not written "
                            f"as an SI unit; {_MASS_HELP}.")
    raise UnitError(
        f"Cannot tell the unit of emissions column {header!r}: name it like "
        "'emissions_t_co2', 'emissions_mt_co2' or 'emissions (Mt CO2)' (t, kt, Mt, Tg, Gt or "
        "10^4 t; CO2 or C must be stated, C for a carbon basis such as Mt C or Mt CO2-C)."
    )


def read_emissions_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a user emission series (anchor years or a full series) and convert it to t CO₂.

    The file is read by the package's one table reader (encoding, delimiter,
    CSV or XLSX: :func:`karstsink.io.samples.read_samples` reads samples the same
    way) and every number by its one cell parser (thousands separators and
    decimal commas are decided per column, never per cell).

    Parameters
    ----------
    path : str or path-like
        CSV (or XLSX) with a ``year`` column and one emissions column whose
        header carries the unit (``emissions_t_co2``, ``emissions_mt_co2``,
        ``emissions (Mt CO2)``, ``emissions (10^4 t CO2)``,
        ``emissions_mt_c``...). An optional ``scenario`` column holds several
        series in one file; an optional ``approximate`` column (true/false)
        and ``source`` column are kept. Lines whose first cell starts with
        ``#`` are comments (provenance).

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``year``, ``emissions_t_co2_yr`` [t CO₂ a⁻¹],
        ``approximate`` (bool) and ``source``, one row per given year.

    Raises
    ------
    DataError
        If the file is empty, a year or value is not a number (the row is
        named), a value is censored (``<5``) or a no-data sentinel such as
        ``-999`` (leave the cell blank instead), or a year is given twice for
        one scenario.
    MissingColumnError
        If there is no ``year`` or no emissions column.
    UnitError
        If the emissions header does not state its unit (mass and CO₂ vs C).

    Warns
    -----
    DataQualityWarning
        When some emission cells are blank (or ``NA``, ``n.d.``, ``-``);
        those years are interpolated.
    """
    path = Path(path)
    name = str(path)
    if not path.is_file():
        raise DataError(f"Emissions file {name!r} does not exist.")
    all_rows, meta = read_rows(path)
    lines = meta["lines"]
    kept = [(row, line) for row, line in zip(all_rows, lines, strict=True)
            if any(c.strip() for c in row) and not row[0].strip().startswith("#")]
    if not kept:
        raise DataError(f"Emissions file {name!r} has no data rows.")
    header = [c.strip() for c in kept[0][0]]
    body = kept[1:]
    if not body:
        raise DataError(f"Emissions file {name!r} has no data rows.")
    width = len(header)
    rows = [(row + [""] * (width - len(row)))[:width] for row, _ in body]
    row_lines = [line for _, line in body]
    cols = {c.lower(): i for i, c in enumerate(header)}
    if "year" not in cols:
        raise MissingColumnError(
            f"Emissions file {name!r} has no 'year' column (columns: {header})."
        )
    value_cols = [c for c in header if c and c.lower() not in
                  {"year", "scenario", "approximate", "source"}]
    if len(value_cols) != 1:
        raise MissingColumnError(
            f"Emissions file {name!r} needs exactly one emissions column besides 'year' "
            f"(and optional 'scenario', 'approximate', 'source'); found {value_cols}."
        )
    value_col = value_cols[0]
    try:
        scale, basis = _parse_emission_unit(value_col)
    except UnitError as err:
        raise UnitError(f"Emissions file {name!r}: {err}") from None
    factor = scale * (C_TO_CO2 if basis == "C" else 1.0)

    def column(key: str) -> list[str]:
        i = cols[key] if key in cols else header.index(key)
        return [r[i] for r in rows]

    def where(i: int) -> str:
        return f"Emissions file {name!r}, data row {i + 1} (line {row_lines[i]})"

    year_text = column("year")
    years, year_status = parse_column(year_text)
    bad = (year_status != 0) | ~np.isfinite(years) | (years != np.round(years))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where(i)}: year {year_text[i]!r} is not a whole number.")
    value_text = column(value_col)
    values, status = parse_column(value_text)
    no_data = sentinel_mask(values, status, _NO_DATA)
    for i, text in enumerate(value_text):
        if status[i] == NOT_NUMERIC:
            raise DataError(f"{where(i)}, column {value_col!r}: {text!r} is not a number.")
        if status[i] in (BELOW, ABOVE):
            raise DataError(
                f"{where(i)}, column {value_col!r}: {text!r} is a censored value; give the "
                "emission as a number (or leave the cell blank to interpolate that year)."
            )
        if no_data[i]:
            raise DataError(
                f"{where(i)}, column {value_col!r}: {text!r} looks like a no-data code, not "
                "an emission; leave the cell blank to interpolate that year."
            )
    values = np.where(status == MISSING, np.nan, values)
    scen = ([t.strip() for t in column("scenario")] if "scenario" in cols
            else [path.stem] * len(rows))
    approx = (np.isin([t.strip().lower() for t in column("approximate")], ["true", "1", "yes"])
              if "approximate" in cols else np.zeros(len(rows), dtype=bool))
    source = ([t.strip() for t in column("source")] if "source" in cols
              else [f"user file {path.name}"] * len(rows))
    out = pd.DataFrame({
        "scenario": scen,
        "year": years.astype(int),
        "emissions_t_co2_yr": values * factor,
        "approximate": approx,
        "source": source,
    })
    dup = out.duplicated(["scenario", "year"])
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(
            f"{where(i)}: year {out['year'].iloc[i]} appears twice for the same scenario."
        )
    blank = out["emissions_t_co2_yr"].isna()
    if blank.any():
        warnings.warn(
            f"Emissions file {name!r}: {int(blank.sum())} blank value(s) (years "
            f"{out.loc[blank, 'year'].tolist()}) are interpolated from their neighbours.",
            DataQualityWarning, stacklevel=2,
        )
    zero = out["emissions_t_co2_yr"] == 0
    if zero.any():  # a share of 0 emissions is undefined; 0 may also stand for "no value"
        warnings.warn(
            f"Emissions file {name!r}: emissions of 0 in year(s) "
            f"{out.loc[zero, 'year'].tolist()}: the sinks' shares of them are undefined; if "
            "0 stands for no value, leave the cell blank to interpolate that year.",
            DataQualityWarning, stacklevel=2,
        )
    return out.sort_values(["scenario", "year"], kind="stable").reset_index(drop=True)


def shipped_emissions() -> pd.DataFrame:
    """The shipped anchor table (:data:`SHIPPED_SCENARIOS`), read as a user file is."""
    with as_file(files("karstsink.data").joinpath("guizhou_emissions.csv")) as path:
        return read_emissions_csv(path)


def shipped_name(emissions: str | os.PathLike) -> str | None:
    """The shipped scenario ``emissions`` names (one of :data:`SHIPPED_SCENARIOS` or
    ``"all"``; any case, spaces around), else None: a file path.

    The one rule for telling a scenario name from a file, used by the run
    configuration, :func:`emissions_span` and :func:`karstsink.scenario.emissions`.
    """
    key = os.fspath(emissions).strip().lower()
    return key if key in (*SHIPPED_SCENARIOS, "all") else None


def shipped_rows(name: str) -> pd.DataFrame:
    """The rows of :func:`shipped_emissions` for ``name`` (``"all"``: every scenario)."""
    table = shipped_emissions()
    return table if name == "all" else table[table["scenario"] == name].reset_index(drop=True)


def emissions_span(emissions: str | os.PathLike) -> tuple[int, int]:
    """First and last year [calendar year] that every series of an emission table covers.

    Parameters
    ----------
    emissions : str or path-like
        A shipped scenario name (``baseline``, ``high-speed``, ``low-carbon``, ``all``) or
        the path of a user file (read by :func:`read_emissions_csv`, whose errors it raises).

    Returns
    -------
    (int, int)
        The latest first year and the earliest last year with an emission value over the
        series (the balance is defined there and nowhere else: nothing is extrapolated).

    Raises
    ------
    DataError
        If a series has no value or the series share no year (and as
        :func:`read_emissions_csv`).
    """
    name = shipped_name(emissions)
    table = read_emissions_csv(emissions) if name is None else shipped_rows(name)
    given = table.dropna(subset=["emissions_t_co2_yr"]).groupby("scenario")["year"]
    empty = sorted(set(table["scenario"]) - set(given.groups))
    if empty:
        raise DataError(f"Emissions {str(emissions)!r}: series {empty[0]!r} has no values.")
    first, last = int(given.min().max()), int(given.max().min())
    if first > last:
        raise DataError(f"Emissions {str(emissions)!r}: the series share no year (one starts "
                        f"in {first}, one ends in {last}); give them a common span.")
    return first, last
