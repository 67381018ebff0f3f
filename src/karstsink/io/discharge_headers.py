"""What a discharge record's column headers mean: date, time or discharge, and its unit.

The discharge side of :mod:`karstsink.io.headers` (the one header matcher): a header's
name is matched with the same alias table, and a discharge unit is read from brackets
(``Q (m3/s)``) or from a volume per time anywhere else in the header (``Q_cfs``,
``Flow_m3/s_daily``).  A unit karstsink does not take, written there, is refused, never
left to ``--q-unit``.
"""

from __future__ import annotations

import re

from ..exceptions import UnitError
from ..units import normalize_discharge_unit
from .headers import HeaderMatch, lookup_name, nfkc, split_header

__all__ = ["discharge_unit_in_header", "match_discharge_header"]


def match_discharge_header(header: str) -> HeaderMatch | None:
    """What a column of a discharge record means, by the rules of
    :func:`karstsink.io.headers.match_header`.

    Returns
    -------
    HeaderMatch or None
        ``key`` is ``"date"`` (also for ``datetime``/``timestamp`` names), ``"time"``
        or ``"discharge"``; ``unit`` is the discharge unit written in the header,
        in the spelling of :func:`karstsink.units.normalize_discharge_unit`
        (``m3/s``, ``l/s``, ``ft3/s``, ``m3/d``), or None.  None if the header names
        none of these.

    Raises
    ------
    UnitError
        A discharge header with a unit that is no discharge unit karstsink takes
        (see :func:`discharge_unit_in_header`).

    Examples
    --------
    >>> match_discharge_header("流量(m³/s)")
    HeaderMatch(key='discharge', unit='m3/s', qualifier=None)
    >>> match_discharge_header("discharge_cfs").unit
    'ft3/s'
    >>> match_discharge_header("Sample ID") is None
    True
    """
    for name, _unit_text, _form in split_header(header):
        hit = lookup_name(name, scope="all")
        if hit is None or hit[0] not in ("date", "datetime", "time", "discharge"):
            continue
        key = "date" if hit[0] == "datetime" else hit[0]
        return HeaderMatch(key, discharge_unit_in_header(header) if key == "discharge"
                           else None, None)
    return None


#: A volume per time anywhere in a discharge header, between non-alphanumerics (``Q m3/h``,
#: ``Q_L_min``, ``Flow_m3/s_daily``, ``Q_lpm``): read, or refused if karstsink does not take
#: it; never ignored, so that a unit written in the file wins over ``--q-unit``.
_FLOW_SHAPED = re.compile(
    r"(?<![A-Za-z0-9])((?:m3|m\^3|l|ft3|ft\^3|cf|gal|ml)\s*(?:/|per|p|_)?\s*"
    r"(?:s|sec|second|min|minute|m|h|hr|hour|d|day|yr|year)(?:-1)?"
    r"|lpm|gpm|mgd|cmd|cms|cfs|lps)(?![A-Za-z0-9])", re.I)


#: A scale before a volume per time (万m3/d, 1000_m3_d, 10^3 m3/d, x1000) or an area after
#: it (L/s/km2): a unit karstsink does not take, not the plain one it starts or ends with.
_SCALE_BEFORE = re.compile(r"(?:(?<![0-9])10+|1e[0-9]+|10\^-?[0-9]+|[万亿千百]|(?<![A-Za-z])"
                           r"[x×*])[\s_]*$", re.I)
_AREA_AFTER = re.compile(r"[\s_/]*(?:per[\s_]*)?(?:km2|km\^2|km²|ha|m2)(?![A-Za-z0-9])", re.I)


def _scaled(text: str, start: int, end: int) -> str | None:
    """The whole unit if ``text[start:end]`` has a scale before or an area after it."""
    before = _SCALE_BEFORE.search(text[:start])
    after = _AREA_AFTER.match(text[end:])
    if not (before or after):
        return None
    return text[before.start() if before else start:end + (after.end() if after else 0)]


def discharge_unit_in_header(header: str) -> str | None:
    """The discharge unit written in a header (``Q (m3/s)``, ``Q_cfs``), canonical, or None.

    Raises
    ------
    UnitError
        If the header has a bracketed unit that is no discharge unit (``Q (gal/min)``),
        or elsewhere a volume per time that is none (``Q m3/h``, ``Q_L/min``, ``Q_gpm``).
    """
    unknown = None
    text = " ".join(nfkc(header).split())
    for name, unit_text, form in split_header(header):
        if not unit_text:
            continue
        scaled = None if form == "bracket" else _scaled(text, len(name) + 1,
                                                        len(name) + 1 + len(unit_text))
        try:
            if scaled:
                raise UnitError(scaled)
            return normalize_discharge_unit(unit_text)
        except UnitError:
            if form == "bracket" or scaled:
                unknown = unknown or scaled or unit_text
    if unknown is None:
        for m in _FLOW_SHAPED.finditer(text):
            scaled = _scaled(text, m.start(1), m.end(1))
            try:
                if scaled:
                    raise UnitError(scaled)
                return normalize_discharge_unit(m[1])
            except UnitError:
                unknown = unknown or scaled or m[1]
    if unknown is not None:
        raise UnitError(f"unknown discharge unit {unknown!r} in column {header!r}; use m3/s, "
                        "L/s, ft3/s (cfs) or m3/d")
    return None
