"""Tables of the HTML report: human headers from the variable registry, print-friendly blocks.

Each header shows the column's words and unit (:func:`column_label`, units from
:mod:`karstsink.variables`) above the column name as written in the CSV files, with
the registry's description as its tooltip. A table wider than :data:`PRINT_COLUMNS`
also carries a print-only copy split into stacked blocks of columns (key columns such
as the scenario and year repeated), so nothing is cut off on a printed page.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import json
import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PRINT_COLUMNS", "column_label", "format_mass", "format_value", "table_html",
           "unit_label"]


def format_value(value: Any) -> str:
    """Format one cell for display (HTML-escaped); NaN/None become an en dash.

    Numbers: integers get thousands separators from 10,000 up (so years stay
    2016); other values of 1,000 or more get separators and no decimals;
    smaller values keep 4 significant digits; values below 0.001 use
    scientific notation.
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return '<span class="na" title="missing (NaN)">–</span>'
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        # years, codes and small counts read better without a separator: 2016, not 2,016
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return '<span class="na" title="missing (NaN)">–</span>'
        if math.isinf(v):
            return "∞" if v > 0 else "−∞"
        a = abs(v)
        if a >= 1000:
            return f"{v:,.0f}"
        if a == 0 or a >= 0.001:
            return f"{v:.4g}"
        return f"{v:.3e}"
    if isinstance(value, (pd.Timestamp, _dt.datetime, _dt.date)):
        ts = pd.Timestamp(value)
        return _html.escape(ts.strftime("%Y-%m-%d") if ts == ts.normalize() else ts.isoformat())
    if isinstance(value, (Mapping, list, tuple)):
        return _html.escape(json.dumps(value, ensure_ascii=False, default=str))
    return _html.escape(str(value))


#: Magnitudes of :func:`format_mass`: (tonnes per unit, unit), largest first.
_MASS_UNITS = ((1e6, "Mt"), (1e3, "kt"), (1.0, "t"))


def format_mass(tonnes: float, what: str = "", *, per: str = "") -> str:
    """A mass in tonnes as readable text: 3 significant digits in t, kt or Mt.

    The magnitude is the largest of Mt (from 1e6 t), kt (from 1e3 t) and t that keeps
    the number at 1 or more, chosen after rounding (999.7 t is ``1.00 kt``). The report's
    headline and the ``karstsink run`` lines print the map totals through it, so a small
    map reads ``512 t C/yr``, not ``0.00 Mt C/yr``.

    Parameters
    ----------
    tonnes : float
        The mass [t].
    what : str, optional
        What is weighed, written after the unit (``"C"``, ``"CO2"``).
    per : str, optional
        The time unit of a rate, written as ``/per`` (``"yr"``).

    Returns
    -------
    str
        Plain text (no HTML), e.g. ``"45.6 kt CO2/yr"``; ``"n/a"`` for NaN.

    Examples
    --------
    >>> format_mass(512.3, "C", per="yr")
    '512 t C/yr'
    >>> format_mass(45_600, "CO2")
    '45.6 kt CO2'
    >>> format_mass(1.234e6)
    '1.23 Mt'
    """
    v = float(tonnes)
    if math.isnan(v):
        return "n/a"
    tail = (f" {what}" if what else "") + (f"/{per}" if per else "")
    if math.isinf(v):
        return f"{'-' if v < 0 else ''}inf t{tail}"
    rounded = float(f"{abs(v):.3g}")  # 3 significant digits, then the magnitude
    factor, unit = next((f, u) for f, u in _MASS_UNITS if rounded >= f or f == 1.0)
    x = rounded / factor
    digits = 0 if x == 0 else max(0, 2 - math.floor(math.log10(x)))
    sign = "-" if v < 0 and x != 0 else ""
    return f"{sign}{x:,.{digits}f} {unit}{tail}"


def _is_number_column(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


# words of column names written out in headers (chemical formulas, abbreviations)
_WORDS = {"hco3": "HCO₃⁻", "so4": "SO₄²⁻", "no3": "NO₃⁻", "co2": "CO₂", "pco2": "pCO₂",
          "si": "SI", "dic": "DIC", "toc": "TOC", "doc": "DOC", "bcp": "BCP", "cbe": "CBE",
          "ca": "Ca", "mg": "Mg", "lo95": "lower 95 %", "hi95": "upper 95 %",
          "lo90": "lower 90 %", "hi90": "upper 90 %", "n": "number of", "pct": "%",
          "fn": "flow-normalised", "q": "Q", "id": "ID", "zh": "(Chinese)",
          "mpd": "MPD", "conc": "concentration", "aic": "AIC", "r2": "R²", "qa": "QA"}
_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
# a unit symbol with its power (km2, m3, yr-1); not formulas such as CO2
_POWER = re.compile(r"(?<![\w])(km|cm|mm|m|s|d|yr|L|kg|g|h)(-?\d+)(?![\w])")


def unit_label(unit: str) -> str:
    """A unit as written in files, typeset for reading: powers as superscripts.

    Parameters
    ----------
    unit : str
        A unit as karstsink writes it in rasters, tables and the variable registry
        (``"t C km-2 yr-1"``, ``"m3/s"``).

    Returns
    -------
    str
        The unit with the powers of its unit symbols as superscripts; chemical formulas
        such as CO2 stay as they are. ``""`` for a dimensionless unit (``"1"``, ``"-"``
        or ``""``).

    Examples
    --------
    >>> unit_label("t C km-2 yr-1")
    't C km⁻² yr⁻¹'
    >>> unit_label("m3/s")
    'm³/s'
    >>> unit_label("1")
    ''
    """
    if unit in ("", "1", "-"):
        return ""
    return _POWER.sub(lambda m: m.group(1) + m.group(2).translate(_SUP), unit)


def column_label(name: str) -> tuple[str, str]:
    """A human header for a column: its words and its unit from :mod:`karstsink.variables`.

    The unit is the registry's (:func:`karstsink.variables.unit`); a column the
    registry does not know (a summary statistic such as ``si_calcite_median``) takes
    the unit of the registered name it starts with, else of its unit suffix
    (:data:`karstsink.variables.SUFFIX_UNITS`). The words are the name without its unit
    suffix, with formulas and abbreviations written out.

    Parameters
    ----------
    name : str
        Column name as karstsink writes it (``karst_sink_t_c_km2_yr``).

    Returns
    -------
    tuple of str
        ``(label, unit)``, e.g. ``("Karst sink", "t C km⁻² yr⁻¹")``; the unit is ``""``
        for text, counts and dimensionless numbers.

    Examples
    --------
    >>> column_label("karst_sink_t_c_km2_yr")
    ('Karst sink', 't C km⁻² yr⁻¹')
    >>> column_label("sink_lo95_t_c_km2_yr")
    ('Sink lower 95 %', 't C km⁻² yr⁻¹')
    """
    from .. import variables

    name = str(name)
    unit = None
    stem = name
    for k in range(name.count("_") + 1):  # the longest registered prefix gives the unit
        head = name.rsplit("_", k)[0] if k else name
        try:
            unit = variables.unit(head)
            break
        except KeyError:
            continue
    for suffix, suffix_unit in sorted(variables.SUFFIX_UNITS.items(), key=lambda x: -len(x[0])):
        if name.endswith(suffix):
            stem = name[: -len(suffix)]
            unit = suffix_unit if unit is None else unit
            break
        if suffix in name and suffix_unit == unit:  # unit inside: si_calcite_lo95_mg_L...
            stem = name.replace(suffix, "", 1)
            break
    words = [_WORDS.get(w.lower(), w) for w in stem.split("_") if w]
    label = " ".join(words) or name
    return label[:1].upper() + label[1:], unit_label(unit or "")


def _header_html(column: Any, numeric: bool) -> str:
    from .. import variables

    name = str(column)
    label, unit = column_label(name)
    try:
        tip = f' title="{_html.escape(variables.variable(name).description, quote=True)}"'
    except KeyError:
        tip = ""
    unit_html = f' <span class="u">({_html.escape(unit)})</span>' if unit else ""
    return (f'<th{" class=num" if numeric else ""} scope="col"{tip}>{_html.escape(label)}'
            f'{unit_html}<code class="col">{_html.escape(name).replace("_", "_<wbr>")}'
            "</code></th>")  # the name may break after an underscore


#: Columns per printed block of a wide table (key columns included).
PRINT_COLUMNS = 7


def _key_columns(df: pd.DataFrame) -> list[str]:
    """Leading label columns repeated in each printed block (names, years; at most 2)."""
    keys = []
    for c in list(df.columns)[:2]:
        if not _is_number_column(df[c]) or str(c) in ("year", "water_year", "zone_id"):
            keys.append(c)
        else:
            break
    return keys


def _table_block(df: pd.DataFrame, shown: pd.DataFrame, caption: str) -> str:
    numeric = [_is_number_column(df[c]) for c in df.columns]
    head = "".join(_header_html(c, num) for c, num in zip(df.columns, numeric, strict=True))
    rows = []
    for values in shown.itertuples(index=False, name=None):
        cells = "".join(
            f'<td{" class=num" if num else ""}>{format_value(v)}</td>'
            for v, num in zip(values, numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def table_html(df: pd.DataFrame, max_rows: int, caption: str) -> str:
    """HTML of one report table: the first ``max_rows`` rows, ``caption`` already HTML.

    A table with more than :data:`PRINT_COLUMNS` columns is written twice: whole for
    the screen (it scrolls sideways) and, for print only, as stacked blocks of columns.
    """
    shown = df.iloc[:max_rows]
    more = ""
    if len(df) > len(shown):
        more = (f'<p class="note">Showing {len(shown):,} of {len(df):,} rows; '
                "the full table is in the CSV output.</p>")
    full = _table_block(df, shown, caption)
    if df.shape[1] <= PRINT_COLUMNS:
        return f'<div class="tablewrap">{full}</div>{more}'
    # too wide for a printed page: the print copy is stacked blocks, key columns repeated
    keys = _key_columns(df)
    rest = [c for c in df.columns if c not in keys]
    per = max(1, PRINT_COLUMNS - len(keys))
    n_blocks = -(-len(rest) // per)
    step = -(-len(rest) // n_blocks)  # blocks of even width
    blocks = []
    for i in range(0, len(rest), step):
        cols = keys + rest[i:i + step]
        part = (f"columns {i + 1}-{min(i + step, len(rest))} of {len(rest)}"
                + (f", {', '.join(map(str, keys))} repeated" if keys else ""))
        head = caption if i == 0 else "(continued)"
        blocks.append(_table_block(df[cols], shown[cols], f"{head} [{_html.escape(part)}]"))
    return (f'<div class="tablewrap screen-only">{full}</div>'
            f'<div class="tablewrap print-only">{"".join(blocks)}</div>{more}')
