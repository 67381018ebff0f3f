"""Which column of a samples table is which quantity (for :mod:`karstsink.io._sample_table`).

:func:`_map_columns` matches every header with :func:`karstsink.io.headers.match_header`
(or the user's ``column_map``) and decides which column claims each quantity when
several could: canonical names first, then specific names, then generic ones; in a
table karstsink wrote, a laboratory concentration column with '<DL' cells first.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from ..exceptions import ConfigError, UnitError
from . import cells, dates
from .headers import CANONICAL_NAMES, KEYS, is_generic, match_header, match_user_name, parse_unit

_VALUE_KINDS = {"temp", "ph", "ec", "conc", "orgc", "coord"}


def _map_columns(df: pd.DataFrame, column_map, source: str, notes: list[str],
                 renamed: dict[str, str] | None = None, header_units=None):
    """Return ({column: (key, unit, qualifier)}, {key: column}, unmatched, in_place, extra).

    ``extra`` is ``{key: {column: (key, unit, qualifier)}}``: further columns of a
    measured key as specific as the one used (the same ion in mg/L and mmol/L, or one
    header twice, ``renamed`` giving ``{'Ca (mg/L).1': 'Ca (mg/L)'}``); the caller
    compares them row by row.
    """
    renamed = renamed or {}
    user = dict(column_map or {})
    for header in user:
        if header not in df.columns:
            raise ConfigError(f"column_map names {header!r}, which is not a column of "
                              f"{source}; columns are {list(map(str, df.columns))}.")
    matches: dict[Any, tuple[str, str | None, str | None]] = {}
    for col in df.columns:
        name = str(col)
        if col in user:
            target = user[col]
            if target is None or str(target) == "":
                continue
            key = match_user_name(str(target))
            if key is None:
                raise ConfigError(
                    f"column_map: {target!r} (for {name!r}) is not a canonical name; use one "
                    f"of {', '.join(k for k in KEYS if k != 'time')}."
                )
            try:
                hit = match_header(name)
            except UnitError:
                hit = None
            unit = hit.unit if hit is not None and KEYS[hit.key][1] == KEYS[key][1] else None
            if unit is None:
                m = re.match(r"^.*[(\[](?P<u>[^()\[\]]*)[)\]]\s*$", name)
                if m:
                    unit = parse_unit(m["u"], KEYS[key][1])
            matches[col] = (key, unit, hit.qualifier if hit is not None and hit.key == key
                            else None)
            continue
        try:
            hit = match_header(renamed.get(name, name))
        except UnitError as err:
            raise UnitError(f"{source}: {err}") from err
        if hit is not None:
            matches[col] = (hit.key, hit.unit, hit.qualifier)
    # '采样日期' and '采样时间' (both names of the date in Chinese tables): the one holding
    # clock times only is the time of day, joined to the date
    dated = [c for c, m in matches.items() if m[0] == "date" and c not in user]
    if len(dated) > 1 and not any(m[0] == "time" for m in matches.values()):
        clock = [c for c in dated if dates.is_clock_time(cells.text_cells(df[c]))]
        if clock and len(clock) < len(dated):
            matches[clock[0]] = ("time", None, None)
    by_key: dict[str, Any] = {}
    extra: dict[str, dict[Any, tuple[str, str | None, str | None]]] = {}
    # canonical-named columns claim their key first, then specific names, then generic
    # ones ('Sample ID' before 'ID', 'Water temperature' before 'Temperature'); else by order.
    # In a table karstsink wrote (it has qa_flags) a canonical concentration holds a stand-in
    # for each '<DL' cell of the laboratory's column beside it: such a laboratory column (with
    # a unit, and '<DL' cells) claims first, so its limits are read again.
    position = {c: i for i, c in enumerate(df.columns)}
    lab_first = set()
    if "qa_flags" in map(str, df.columns):
        for c, (key, unit, _q) in matches.items():
            if (str(c) not in CANONICAL_NAMES and KEYS[key][1] in ("conc", "orgc")
                    and (unit is not None or (header_units or {}).get(c))
                    and (cells.parse_column(cells.text_cells(df[c]))[1] == cells.BELOW).any()):
                lab_first.add(c)

    def rank(c):
        level = 0 if c in lab_first else 1 if str(c) in CANONICAL_NAMES else 2
        return (level, c not in user and is_generic(renamed.get(str(c), str(c))))

    ordered = sorted(matches, key=lambda c: (*rank(c), position[c]))
    recomputed: list[str] = []
    for col in ordered:
        key = matches[col][0]
        if key in by_key and KEYS[key][1] in _VALUE_KINDS and rank(col) == rank(by_key[key]):
            extra.setdefault(key, {})[col] = matches[col]
            continue
        if key in by_key and by_key[key] in lab_first and str(col) in CANONICAL_NAMES:
            recomputed.append(str(col))
            continue
        if key in by_key:
            notes.append(f"column {str(col)!r} also looks like {key!r}; "
                         f"{str(by_key[key])!r} was used")
            continue
        by_key[key] = col
    if recomputed:
        notes.append(f"a table karstsink wrote (it has qa_flags): {', '.join(recomputed)} "
                     "recomputed from the laboratory's columns, whose '<DL' cells give the "
                     "limits")
    used = {c: matches[c] for c in df.columns if c in by_key.values()}
    more = {c for cols in extra.values() for c in cols}
    unmatched = [str(c) for c in df.columns
                 if c not in used and c not in more and str(c) != "qa_flags"]
    in_place = {c for c in used if str(c) in CANONICAL_NAMES}
    return used, by_key, unmatched, in_place, extra
