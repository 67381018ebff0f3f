"""The variable registry: every column and raster karstsink writes, with its unit and meaning.

One row per name in the shipped table ``karstsink/data/variables.csv`` (columns ``name,
unit, table, description, source``), read once with :mod:`importlib.resources`:

- ``unit``: UCUM-like text (``mmol/L``, ``t C km-2 yr-1``); ``"1"`` for a dimensionless
  number, ``""`` for text, labels and booleans;
- ``table``: the outputs holding the column, ``;``-separated labels of :data:`TABLES`;
- ``source``: where the quantity is defined, a paper with its DOI or ``karstsink``.

A name holding ``<...>`` (``si_<phase>``, ``<sink>_sink_t_c_yr``) is a template for a
family of columns. Column names in files carry their unit in a suffix (``_mmol_l``,
``_t_c_km2_yr``...); :data:`SUFFIX_UNITS` is that naming rule, and the tests check the
registry against it. The documentation's variables page is :func:`markdown_table`.

This module is layer 0: it imports the standard library only (pandas is imported inside
:func:`describe` when it is called).

Examples
--------
>>> from karstsink import variables
>>> variables.unit("sink_t_c_km2_yr")
't C km-2 yr-1'
>>> variables.variable("si_fluorite").name  # an extra phase of speciate(phases=...)
'si_<phase>'
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import re
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

__all__ = ["SUFFIX_UNITS", "TABLES", "VARIABLES", "Variable", "describe", "markdown_table",
           "names", "unit", "variable"]

#: The outputs a variable can belong to (the ``table`` labels of variables.csv).
TABLES: dict[str, str] = {
    "samples": "The canonical sample table of karstsink.read_samples / standardize.",
    "speciation": "The output of karstsink speciate / karstsink.speciate (the sample table "
                  "plus PHREEQC results); speciation/<samples>.csv of karstsink run.",
    "discharge": "The daily discharge record of karstsink.hydrology.read_discharge.",
    "daily": "daily.csv of karstsink flux: one row per day.",
    "monthly": "monthly.csv of karstsink flux: one row per month.",
    "annual": "annual.csv of karstsink flux: one row per water year (also annual_so4.csv, "
              "annual_no3.csv, annual_toc.csv).",
    "calendar": "calendar.csv of karstsink flux: one row per calendar year.",
    "total": "total.csv of karstsink flux: one row for the whole record.",
    "flux_samples": "samples.csv of karstsink flux: every sample row with its fit.",
    "sink": "sink.csv of karstsink flux / karstsink.sink.carbon_sink: the carbon sink per "
            "water year and for the record.",
    "catchment_sinks": "catchment_sinks.csv of karstsink run: one row per catchment.",
    "catchment_comparison": "catchment_comparison.csv of karstsink run: observed against "
                            "mapped sink per catchment.",
    "map": "Rasters of karstsink map (<name>.tif, Float32 COG).",
    "zonal_totals": "zonal_totals.csv (and .gpkg) of karstsink map: one row per zone and a "
                    "TOTAL (all zones) row.",
    "balance": "scenario/balance.csv of karstsink run / karstsink.scenario.balance.",
    "emissions": "The emission series of karstsink.scenario.emissions and emission_anchors "
                 "(the shipped guizhou_emissions.csv).",
    "series": "series.csv of a karstsink map [series] run: one row per zone and year.",
    "attribution": "attribution.csv of a [series] map run: the change between two years "
                   "split into climate, land cover and interaction.",
    "uncertainty": "uncertainty.csv of an [uncertainty] map run: Monte Carlo intervals per "
                   "zone (and year).",
    "sensitivity": "sensitivity.csv of an [uncertainty] map run: the share of each zone's "
                   "variance per parameter.",
    "trajectory": "scenario/trajectory.csv of karstsink run: one row per zone and year of a "
                  "restoration trajectory.",
    "trajectory_shares": "scenario/trajectory_shares.csv: converted and matured shares per "
                         "transition and year.",
    "trajectory_potentials": "scenario/trajectory_potentials.csv: each transition's potential "
                             "per zone.",
    "trajectory_share_reached": "scenario/trajectory_share_reached.csv: the year a share of "
                                "the emissions is reached, per emission scenario.",
    "trajectory_climate": "scenario/trajectory_climate.csv: the zone climate factors of a "
                          "[trajectory.climate] projection stack, per zone and year.",
}

#: The unit every column whose name ends so must have (the naming rule of written files).
SUFFIX_UNITS: dict[str, str] = {
    "_mmol_l": "mmol/L",
    "_mmol_kgw": "mmol/kgw",
    "_mg_c_l": "mg C/L",
    "_mg_L": "mg/L",
    "_m3s": "m3/s",
    "_kg_day": "kg/d",
    "_kg_yr": "kg/yr",
    "_mol_yr": "mol/yr",
    "_t_c_yr": "t C yr-1",
    "_t_co2_yr": "t CO2 yr-1",
    "_t_c_km2_yr": "t C km-2 yr-1",
    "_t_co2_km2_yr": "t CO2 km-2 yr-1",
    "_km2": "km2",
    "_pct": "%",
}

_RESOURCE = "variables.csv"
_FIELDS = ("name", "unit", "table", "description", "source")
_TEMPLATE = re.compile(r"<[a-z_]+>")


@dataclass(frozen=True)
class Variable:
    """One registered variable: a column or raster karstsink writes.

    Attributes
    ----------
    name : str
        Column or raster name; ``<...>`` marks a template (``si_<phase>``).
    unit : str
        UCUM-like unit text; ``"1"`` dimensionless, ``""`` text, label or boolean.
    table : str
        ``;``-separated labels of :data:`TABLES` (the outputs holding it).
    description : str
        One sentence saying what the value is.
    source : str
        Where the quantity is defined: a paper with its DOI, or ``karstsink``.
    """

    name: str
    unit: str
    table: str
    description: str
    source: str

    @property
    def tables(self) -> tuple[str, ...]:
        """The labels of :attr:`table` as a tuple."""
        return tuple(t for t in self.table.split(";") if t)

    @property
    def is_template(self) -> bool:
        """True for a family of names (``si_<phase>``)."""
        return bool(_TEMPLATE.search(self.name))

    def matches(self, name: str) -> bool:
        """True when ``name`` is this variable or, for a template, one of its family."""
        if not self.is_template:
            return name == self.name
        return _pattern(self.name).fullmatch(name) is not None


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    parts = _TEMPLATE.split(template)
    return re.compile("[a-z0-9_]+?".join(re.escape(p) for p in parts))


@functools.cache
def _load() -> dict[str, Variable]:
    """Read the shipped registry (once); a malformed row names its line."""
    out: dict[str, Variable] = {}
    where = f"karstsink/data/{_RESOURCE}"
    text = files("karstsink.data").joinpath(_RESOURCE).read_text(encoding="utf-8")
    with io.StringIO(text, newline="") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != _FIELDS:
            raise ValueError(f"{where}: the header must be {','.join(_FIELDS)}, got "
                             f"{','.join(reader.fieldnames or ())}.")
        for row in reader:
            line = reader.line_num
            if None in row or any(v is None for v in row.values()):
                raise ValueError(f"{where} line {line}: expected {len(_FIELDS)} cells.")
            var = Variable(**{k: row[k].strip() for k in _FIELDS})
            if not var.name or var.name in out:
                raise ValueError(f"{where} line {line}: name {var.name!r} is empty or "
                                 "repeated; each name is registered once.")
            unknown = [t for t in var.tables if t not in TABLES]
            if not var.tables or unknown:
                raise ValueError(f"{where} line {line}: table {var.table!r} must be "
                                 f"';'-separated labels of {', '.join(TABLES)}.")
            out[var.name] = var
    return out


#: Every registered variable, keyed by name, in the order of variables.csv.
VARIABLES: dict[str, Variable] = _load()


def variable(name: str) -> Variable:
    """The registered variable ``name`` (a template such as ``si_<phase>`` for ``si_fluorite``).

    Parameters
    ----------
    name : str
        A column or raster name as karstsink writes it.

    Returns
    -------
    Variable

    Raises
    ------
    KeyError
        If no variable has this name; the message suggests close names.
    """
    var = VARIABLES.get(name)
    if var is not None:
        return var
    for candidate in VARIABLES.values():
        if candidate.is_template and candidate.matches(name):
            return candidate
    close = difflib.get_close_matches(str(name), list(VARIABLES), n=3)
    hint = f"did you mean {', '.join(map(repr, close))}? " if close else ""
    raise KeyError(f"{name!r} is not a variable karstsink writes ({hint}the registry is "
                   f"karstsink/data/{_RESOURCE}; list it with karstsink.variables.names()).")


def unit(name: str) -> str:
    """The unit of the variable ``name`` (``"1"`` dimensionless, ``""`` text).

    Raises
    ------
    KeyError
        If ``name`` is not registered (see :func:`variable`).
    """
    return variable(name).unit


def names(table: str | None = None) -> list[str]:
    """Registered names, in registry order; only those of output ``table`` if given.

    Raises
    ------
    KeyError
        If ``table`` is not a label of :data:`TABLES`.
    """
    if table is not None and table not in TABLES:
        raise KeyError(f"{table!r} is not an output of the registry; one of: "
                       f"{', '.join(TABLES)}.")
    return [n for n, v in VARIABLES.items() if table is None or table in v.tables]


def describe(frame: Any, *, strict: bool = False) -> Any:
    """Attach the units and descriptions of a table's registered columns to its ``attrs``.

    Parameters
    ----------
    frame : pandas.DataFrame
        A table karstsink wrote or returned (input columns kept by ``speciate`` are not
        registered and are left out).
    strict : bool, default False
        Raise for a column that is not registered instead of leaving it out.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself, with ``attrs["column_units"]`` (``{column: unit}``) and
        ``attrs["column_descriptions"]`` (``{column: description}``) set, in column order.

    Raises
    ------
    TypeError
        If ``frame`` is not a DataFrame.
    KeyError
        With ``strict=True``, naming the first unregistered column.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"describe() needs a pandas DataFrame, got {type(frame).__name__}.")
    units: dict[str, str] = {}
    texts: dict[str, str] = {}
    for col in frame.columns:
        try:
            var = variable(str(col))
        except KeyError:
            if strict:
                raise
            continue
        units[str(col)] = var.unit
        texts[str(col)] = var.description
    frame.attrs["column_units"] = units
    frame.attrs["column_descriptions"] = texts
    return frame


def _cell(text: str) -> str:
    # '|' would end the cell and '<x' could open an HTML tag
    return text.replace("|", "\\|").replace("<", "&lt;")


def markdown_table() -> str:
    """The variables table of the documentation, generated from :data:`VARIABLES`.

    Returns
    -------
    str
        Two Markdown tables ending in a newline: the outputs (:data:`TABLES`), then one
        row per variable in registry order (name, unit, outputs, meaning, source).
    """
    lines = ["| output | what it is |", "|---|---|"]
    lines += [f"| `{label}` | {_cell(text)} |" for label, text in TABLES.items()]
    lines += ["", "| name | unit | outputs | meaning | source |", "|---|---|---|---|---|"]
    for v in VARIABLES.values():
        unit_cell = f"`{v.unit}`" if v.unit else "—"
        cells = [f"`{v.name}`", unit_cell, ", ".join(v.tables), _cell(v.description),
                 _cell(v.source)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
