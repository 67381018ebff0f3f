"""Carbon sinks set against emission scenarios: the share each sink offsets, year by year.

The province's energy-sector CO₂ emission scenarios for 2020-2060 (baseline,
high-speed, low-carbon) are those of the review of Guizhou's path to carbon
peak and carbon neutrality in the karst context, :data:`SOURCE`
(*Sustainability* 2022, 14(21), 14377, doi:10.3390/su142114377). They ship as
``karstsink/data/guizhou_emissions.csv``: the published anchor years only, with
a ``source`` column and an ``approximate`` flag for values printed with "~".
Years between anchors are interpolated as :data:`INTERPOLATION` says: a
shape-preserving monotone piecewise-cubic (PCHIP) through each scenario's
anchors. A user series can replace them: a CSV with a ``year`` column and one
emissions column whose header states the unit, for example
``emissions_t_co2``, ``emissions (Mt CO2)`` or ``emissions_mt_c``.

Everything is reported in t CO₂ with the carbon equivalent beside it
(1 t C = :data:`karstsink.units.C_TO_CO2` = 44.009/12.011 = 3.664 t CO₂).

Examples
--------
>>> from karstsink.scenario import balance
>>> table = balance({"karst": 3.7e6, "biological": 40e6}, "baseline")
>>> round(float(table.loc[table.year == 2030, "emissions_t_co2_yr"].iloc[0]) / 1e6, 1)
282.0
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.interpolate import PchipInterpolator

from .exceptions import DataError, DataQualityWarning, MissingColumnError
from .io.emissions import (
    SHIPPED_SCENARIOS,
    read_emissions_csv,
    shipped_emissions,
    shipped_name,
    shipped_rows,
)
from .units import C_TO_CO2

__all__ = [
    "INTERPOLATION",
    "SCENARIOS",
    "SOURCE",
    "USER_INTERPOLATION",
    "balance",
    "emission_anchors",
    "emissions",
    "read_emissions_csv",
    "share_reached",
    "sinks_from_zonal_totals",
]

#: Names of the shipped scenarios (:data:`SOURCE`).
SCENARIOS: tuple[str, ...] = SHIPPED_SCENARIOS

#: Citation of the shipped scenarios (the journal does not need to be looked up anywhere
#: else: the review's scenario table gives 2020, the peak, 2050 and 2060 per scenario).
SOURCE = ("Guizhou energy-sector CO2 emission scenarios (baseline, high-speed, low-carbon) "
          "from a review of Guizhou's path to carbon peak and carbon neutrality in the karst "
          "context: Sustainability 2022, 14(21), 14377, doi:10.3390/su142114377")

#: How years between anchor years are filled (one sentence, for reports and notes).
INTERPOLATION = (
    "Years between the published anchor years are interpolated by a shape-preserving "
    "monotone piecewise-cubic (PCHIP, Fritsch & Carlson 1980, doi:10.1137/0717021; "
    "scipy.interpolate.PchipInterpolator) through each scenario's anchors, which reproduces "
    "every anchor, never overshoots between two anchors and keeps each peak in its published "
    "year, and the shipped scenarios keep the source's order high-speed >= baseline >= "
    "low-carbon by holding a curve at the baseline where the separate cubics would cross "
    "(2021-2029, by at most 2.8 Mt CO2); years outside the anchors are not extrapolated."
)
#: How years between a user series' given years are filled (no order between its series).
USER_INTERPOLATION = (
    "Years between the series' given years are interpolated by a shape-preserving monotone "
    "piecewise-cubic (PCHIP, Fritsch & Carlson 1980, doi:10.1137/0717021) through each "
    "series' given years, which reproduces every given value and never overshoots between "
    "two of them; years outside them are not extrapolated."
)

#: Default span of years [calendar years, inclusive].
DEFAULT_YEARS = (2020, 2060)

_SINK_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# ---------------------------------------------------------------------------
# emission series
# ---------------------------------------------------------------------------

def emission_anchors() -> pd.DataFrame:
    """Return the shipped Guizhou anchor table as published (no interpolation).

    The table is read with the same reader as a user file
    (:func:`read_emissions_csv`). Source: :data:`SOURCE`.

    Returns
    -------
    pandas.DataFrame
        Columns ``scenario``, ``year``, ``emissions_mt_co2`` [Mt CO₂ a⁻¹],
        ``emissions_t_co2_yr`` [t CO₂ a⁻¹], ``approximate`` (bool: printed
        with "~" in the source) and ``source``.
    """
    table = shipped_emissions()
    table.insert(2, "emissions_mt_co2", table["emissions_t_co2_yr"] / 1e6)
    return table


def _pchip(anchors: pd.DataFrame, years: np.ndarray) -> np.ndarray:
    """PCHIP of one scenario's anchors at ``years`` [t CO₂ a⁻¹]; NaN outside the anchor span."""
    given = anchors.dropna(subset=["emissions_t_co2_yr"]).sort_values("year")
    if given.empty:
        raise DataError(f"Scenario {anchors['scenario'].iloc[0]!r} has no emission values.")
    ax = given["year"].to_numpy(dtype=float)
    ay = given["emissions_t_co2_yr"].to_numpy(dtype=float)
    yrs = np.asarray(years, dtype=float)
    if len(ax) == 1:
        return np.where(yrs == ax[0], ay[0], np.nan)
    y = PchipInterpolator(ax, ay, extrapolate=False)(yrs)
    # the anchors themselves, bit for bit (the cubic reproduces them to rounding only)
    hit = np.isin(yrs, ax)
    y[hit] = ay[np.searchsorted(ax, yrs[hit])]
    return y


def _interpolate(anchors: pd.DataFrame, years: np.ndarray,
                 values: np.ndarray | None = None) -> pd.DataFrame:
    """One scenario's series on ``years``: PCHIP values (or ``values``) and the flags."""
    given = anchors.dropna(subset=["emissions_t_co2_yr"]).sort_values("year")
    y = _pchip(anchors, years) if values is None else values
    ax = given["year"].to_numpy(dtype=float)
    approx = given["approximate"].to_numpy(dtype=bool)
    is_anchor = np.isin(years, ax)
    # an interpolated year inherits "approximate" from either neighbouring anchor
    hi = np.clip(np.searchsorted(ax, years, side="left"), 0, len(ax) - 1)
    lo = np.clip(np.searchsorted(ax, years, side="right") - 1, 0, len(ax) - 1)
    approximate = np.where(is_anchor, approx[hi], approx[lo] | approx[hi])
    approximate &= np.isfinite(y)
    return pd.DataFrame({
        "year": years.astype(int),
        "scenario": anchors["scenario"].iloc[0],
        "emissions_t_co2_yr": y,
        "emissions_t_c_yr": y / C_TO_CO2,
        "is_anchor": is_anchor,
        "approximate": approximate,
    })


def _shipped_series(table: pd.DataFrame, years: np.ndarray) -> dict[str, np.ndarray]:
    """PCHIP of the three shipped scenarios, in the source's order high >= baseline >= low.

    Each scenario's own PCHIP end slope in 2020 depends on its later anchors, so the
    separate cubics cross in 2021-2029 although the source orders the scenarios
    (high-speed grows fastest; baseline and low-carbon share 2020 and the 2030 peak).
    Holding the high-speed curve at or above the baseline (``max``) and the low-carbon
    curve at or below it (``min``) keeps every anchor (no anchor lies on the wrong side)
    and keeps each curve monotone between its anchors (the max or min of two curves that
    rise, or fall, together rises, or falls).
    """
    curves = {name: _pchip(table[table["scenario"] == name], years) for name in SCENARIOS}
    base = curves["baseline"]
    with np.errstate(invalid="ignore"):
        curves["high-speed"] = np.where(np.isfinite(base),
                                        np.fmax(curves["high-speed"], base),
                                        curves["high-speed"])
        curves["low-carbon"] = np.where(np.isfinite(base),
                                        np.fmin(curves["low-carbon"], base),
                                        curves["low-carbon"])
    return curves


def emissions(
    scenario: str | os.PathLike | pd.DataFrame = "baseline",
    years: tuple[int, int] | list[int] | np.ndarray | None = None,
) -> pd.DataFrame:
    """Yearly emissions [t CO₂ a⁻¹] of one scenario, all shipped ones, or a user series.

    Parameters
    ----------
    scenario : str, path-like or pandas.DataFrame
        ``"baseline"``, ``"high-speed"``, ``"low-carbon"``, ``"all"`` (the
        three, stacked), the path of a user CSV (see
        :func:`read_emissions_csv`), or a table with ``year`` and
        ``emissions_t_co2_yr`` [t CO₂ a⁻¹] columns.
    years : (first, last) tuple, list of years, or None
        The years wanted [calendar year]; a 2-tuple is an inclusive span.
        Default: 2020-2060 for shipped scenarios, the file's span for a user
        series.

    Returns
    -------
    pandas.DataFrame
        One row per scenario and year: ``year``, ``scenario``,
        ``emissions_t_co2_yr`` [t CO₂ a⁻¹], ``emissions_t_c_yr`` [t C a⁻¹],
        ``is_anchor`` (the year was given, not interpolated) and
        ``approximate`` (the value, or a neighbouring anchor, is marked "~" in
        the source). Years outside the given span are NaN (never
        extrapolated). ``attrs["interpolation"]`` (:data:`INTERPOLATION`, or
        :data:`USER_INTERPOLATION` for a user series) and ``attrs["source"]``
        (:data:`SOURCE`, or a user file's ``source`` column, else its name) say
        how the years were filled and where the anchors come from.

    Raises
    ------
    DataError
        For an unknown scenario name or an unusable user file.

    Notes
    -----
    Between anchor years :math:`y_k < y < y_{k+1}` the series is the cubic
    Hermite polynomial through :math:`(y_k, E_k)` and :math:`(y_{k+1},
    E_{k+1})` whose end slopes :math:`d_k` are the PCHIP slopes of Fritsch &
    Carlson (1980, SIAM J. Numer. Anal. 17(2):238-246, doi:10.1137/0717021) as
    computed by :class:`scipy.interpolate.PchipInterpolator`: :math:`d_k = 0`
    at a local peak or trough (so a peak stays in its published year), else
    the weighted harmonic mean of the two neighbouring secant slopes, which
    keeps the curve monotone between two anchors (no overshoot). For the
    shipped scenarios the published order high-speed ≥ baseline ≥
    low-carbon is then kept (see :data:`INTERPOLATION`). A user series with
    only two anchors is a straight line.

    Examples
    --------
    >>> e = emissions("baseline", years=(2029, 2031))
    >>> (e.emissions_t_co2_yr / 1e6).round(1).tolist()
    [281.2, 282.0, 281.2]
    """
    shipped_key = None
    if isinstance(scenario, pd.DataFrame):
        anchors = scenario.copy()
        if "year" not in anchors or "emissions_t_co2_yr" not in anchors:
            raise MissingColumnError(
                "An emissions table needs 'year' and 'emissions_t_co2_yr' [t CO2/yr] columns."
            )
        for column, default in (("scenario", "user"), ("approximate", False)):
            anchors[column] = anchors.get(column, default)
        source = "user table"
    else:
        name = os.fspath(scenario)
        shipped_key = shipped_name(name)
        if shipped_key is not None:
            anchors = shipped_rows(shipped_key)
            source = SOURCE
        elif Path(name).suffix.lower() in {".csv", ".txt", ".xlsx"} or Path(name).exists():
            anchors = read_emissions_csv(name)
            own = "; ".join(dict.fromkeys(t for t in anchors["source"].astype(str)  # column
                                          if t and not t.startswith("user file ")))
            source = f"user file {Path(name).name}" + (f" ({own})" if own else "")
        else:
            raise DataError(
                f"Unknown emission scenario {name!r}: use one of {', '.join(SCENARIOS)}, "
                "'all', or the path of a CSV file with 'year' and e.g. 'emissions_t_co2' columns."
            )
    shipped = shipped_key is not None
    if years is None:
        years_arr = (np.arange(DEFAULT_YEARS[0], DEFAULT_YEARS[1] + 1) if shipped
                     else np.arange(int(anchors["year"].min()), int(anchors["year"].max()) + 1))
    elif isinstance(years, tuple) and len(years) == 2:
        years_arr = np.arange(int(years[0]), int(years[1]) + 1)
    else:
        years_arr = np.asarray(list(years), dtype=int)
    if shipped:
        curves = _shipped_series(emission_anchors(), years_arr)
        parts = [_interpolate(group, years_arr, curves[str(name)])
                 for name, group in anchors.groupby("scenario", sort=False)]
    else:
        parts = [_interpolate(group, years_arr)
                 for _, group in anchors.groupby("scenario", sort=False)]
    out = pd.concat(parts, ignore_index=True)
    out.attrs["interpolation"] = INTERPOLATION if shipped else USER_INTERPOLATION
    out.attrs["source"] = source
    return out


# ---------------------------------------------------------------------------
# balance
# ---------------------------------------------------------------------------

def _sink_values(name: str, value, years: np.ndarray) -> tuple[np.ndarray, np.ndarray | None,
                                                               np.ndarray | None]:
    """A sink given as one number, per year (mapping/Series keyed by year) or as a
    table (``year``, ``value`` and optionally ``lo``, ``hi``) -> (value, lo, hi) arrays."""
    if isinstance(value, pd.DataFrame):
        if "year" not in value or "value" not in value:
            raise MissingColumnError(
                f"Sink {name!r}: a yearly sink table needs 'year' and 'value' columns "
                f"[t CO2/yr] (and optionally 'lo', 'hi', its 95 % band); got "
                f"{', '.join(map(str, value.columns))}.")
        if (("lo" in value) != ("hi" in value)):
            raise MissingColumnError(f"Sink {name!r}: give both 'lo' and 'hi' or neither.")
        dup = value["year"][value["year"].duplicated()]
        if len(dup):
            raise DataError(f"Sink {name!r}: year {int(dup.iloc[0])} appears twice.")
        table = value.set_index(value["year"].astype(int))
        cols = [table[c].astype(float).reindex(years).to_numpy(dtype=float)
                for c in ("value", "lo", "hi") if c in table]
        return (cols[0], cols[1], cols[2]) if len(cols) == 3 else (cols[0], None, None)
    if isinstance(value, (Mapping, pd.Series)):
        series = pd.Series(value, dtype=float)
        series.index = series.index.astype(int)
        return series.reindex(years).to_numpy(dtype=float), None, None
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise DataError(f"Sink {name!r}: {value!r} is not a number [t CO2/yr].") from err
    return np.full(len(years), number), None, None


def _put(table: pd.DataFrame, prefix: str, sink: np.ndarray) -> None:
    """``<prefix>_t_co2_yr`` and ``<prefix>_t_c_yr`` columns of one sink [t CO2 / t C a-1]."""
    table[f"{prefix}_t_co2_yr"] = sink
    table[f"{prefix}_t_c_yr"] = sink / C_TO_CO2


def balance(
    sinks_t_co2_yr: Mapping[str, float | Mapping[int, float] | pd.Series | pd.DataFrame],
    scenario: str | os.PathLike | pd.DataFrame = "baseline",
    *,
    years: tuple[int, int] | list[int] | None = None,
    total_band: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Set carbon sinks against an emission scenario, year by year.

    Parameters
    ----------
    sinks_t_co2_yr : mapping of str to number, per-year mapping/Series, or table
        Each sink's uptake [t CO₂ a⁻¹], e.g. ``{"karst": 3.7e6,
        "biological": 4.0e7}``. Names become column prefixes (lower-case
        letters, digits and ``_``). A per-year mapping or Series keyed by year
        gives a time-varying sink; a table with ``year``, ``value`` and
        optionally ``lo``, ``hi`` (a 95 % band) a sink path with its band (e.g.
        :func:`karstsink.trajectory.balance_sinks`). Years a sink lacks are NaN.
    scenario : str, path-like or pandas.DataFrame
        As in :func:`emissions` (``"all"`` gives one block per scenario).
    years : (first, last) tuple or list of int, optional
        Years wanted [calendar year]; default 2020-2060 for the shipped
        scenarios, the file's own span for a user series.
    total_band : pandas.DataFrame, optional
        ``year``, ``lo``, ``hi`` [t CO₂ a⁻¹]: the 95 % band of the summed sinks
        (a band of a sum is not the sum of the bands, so it must come from the
        draws). Without it the total gets a band only when exactly one sink has
        one (that band plus the other sinks' values).

    Returns
    -------
    pandas.DataFrame
        One row per scenario and year with ``year``, ``scenario``,
        ``emissions_t_co2_yr``, ``emissions_t_c_yr``, ``is_anchor``,
        ``approximate``; for each sink ``<name>_sink_t_co2_yr``,
        ``<name>_sink_t_c_yr`` and ``<name>_share_pct`` (percentage of that
        year's emissions it offsets); then ``total_sink_t_co2_yr``,
        ``total_sink_t_c_yr``, ``total_share_pct`` and the residual the other
        measures (CCUS, efficiency, fuel switching...) must close,
        ``residual_t_co2_yr`` and ``residual_t_c_yr`` (negative when the
        sinks exceed the emissions). A sink with a band also has
        ``<name>_sink_lo95_t_co2_yr``, ``<name>_sink_hi95_t_co2_yr`` (and
        ``_t_c_yr``) and ``<name>_share_lo95_pct``, ``<name>_share_hi95_pct``;
        the total likewise when its band is known. ``attrs["c_to_co2"]`` holds the factor
        used, ``attrs["units"]`` says t CO₂ a⁻¹, ``attrs["interpolation"]``
        how years between anchors were filled (:data:`INTERPOLATION` for the
        shipped scenarios) and ``attrs["source"]`` where the emissions come
        from (:data:`SOURCE` for the shipped scenarios).

    Raises
    ------
    DataError
        For an empty or badly named sink, a non-numeric sink value, or an
        unknown scenario.
    MissingColumnError
        For a sink table without ``year`` and ``value``, or with only one of
        ``lo``/``hi``.

    Notes
    -----
    With :math:`E_y` the emissions and :math:`S_{k}` the sinks [t CO₂ a⁻¹],

    .. math::

        \\text{share}_{k,y} = 100\\,S_{k}/E_y, \\qquad
        \\text{residual}_y = E_y - \\sum_k S_{k},

    and every carbon mass is also given as C: :math:`m_C = m_{CO_2} /
    (44.009/12.011)` (:data:`karstsink.units.C_TO_CO2`). A share is NaN where
    the emissions are not positive. NaN in, NaN out. Emissions between anchor
    years are interpolated as :func:`emissions` says (:data:`INTERPOLATION`).
    The band of a share is the band of the sink over that year's emissions (the
    emission scenarios carry no band).

    Examples
    --------
    >>> from karstsink.units import C_TO_CO2
    >>> t = balance({"karst": 1e6 * C_TO_CO2}, "baseline", years=(2020, 2020))
    >>> round(float(t.karst_sink_t_c_yr.iloc[0])), round(float(t.karst_share_pct.iloc[0]), 3)
    (1000000, 1.665)
    """
    if not sinks_t_co2_yr:
        raise DataError("balance() needs at least one sink, e.g. {'karst': 3.7e6} [t CO2/yr].")
    for name in sinks_t_co2_yr:
        if not isinstance(name, str) or not _SINK_NAME.match(name) or name == "total":
            raise DataError(
                f"Sink name {name!r} must be lower-case letters, digits and '_' "
                "(and not 'total'), e.g. 'karst' or 'biological'."
            )
    table = emissions(scenario, years=years)
    e = table["emissions_t_co2_yr"].to_numpy(dtype=float)
    positive = np.where(e > 0, e, np.nan)
    yrs = table["year"].to_numpy()
    total = np.zeros(len(table))
    bands: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, value in sinks_t_co2_yr.items():
        per_year, lo, hi = _sink_values(name, value, yrs)
        _put(table, f"{name}_sink", per_year)
        table[f"{name}_share_pct"] = 100.0 * per_year / positive
        if lo is not None and hi is not None:
            bands[name] = (lo, hi)
            for tag, arr in (("lo95", lo), ("hi95", hi)):
                _put(table, f"{name}_sink_{tag}", arr)
                table[f"{name}_share_{tag}_pct"] = 100.0 * arr / positive
        total = total + per_year
    table["total_sink_t_co2_yr"] = total
    table["total_sink_t_c_yr"] = total / C_TO_CO2
    table["total_share_pct"] = 100.0 * total / positive
    table["residual_t_co2_yr"] = e - total
    table["residual_t_c_yr"] = (e - total) / C_TO_CO2
    band: tuple[np.ndarray, np.ndarray] | None = None
    if total_band is not None:
        _, band_lo, band_hi = _sink_values("total", total_band.assign(value=np.nan), yrs)
        if band_lo is None or band_hi is None:  # both or neither (_sink_values)
            raise MissingColumnError("total_band needs 'year', 'lo' and 'hi' [t CO2/yr].")
        band = (band_lo, band_hi)
    elif len(bands) == 1:
        (name, (lo, hi)), = bands.items()
        rest = total - table[f"{name}_sink_t_co2_yr"].to_numpy(dtype=float)
        band = (rest + lo, rest + hi)
    if band is not None:
        for tag, arr in zip(("lo95", "hi95"), band, strict=True):
            _put(table, f"total_sink_{tag}", arr)
            table[f"total_share_{tag}_pct"] = 100.0 * arr / positive
    table.attrs["units"] = "t CO2 per year (t C columns: t CO2 / (44.009/12.011))"
    table.attrs["c_to_co2"] = C_TO_CO2
    table.attrs["sinks"] = list(sinks_t_co2_yr)
    return table


def share_reached(table: pd.DataFrame, share_pct: float, sink: str = "total") -> pd.DataFrame:
    """The first year a sink offsets at least ``share_pct`` % of each scenario's emissions.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`balance` table (one or several scenarios).
    share_pct : float
        The share wanted [% of the year's emissions], e.g. 10.
    sink : str, default "total"
        Which sink's share (``<sink>_share_pct``).

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario``, ``share_pct``, ``first_year`` (central
        path), ``first_year_earliest`` (reached by the band's upper bound) and
        ``first_year_latest`` (by its lower bound) [calendar year]; pandas NA where
        not reached within the table's years (or no band), and ``last_year`` the
        table's last year, so a report can say "not reached by <last_year>". The
        first year counts even if the share later falls below it again.

    Raises
    ------
    MissingColumnError
        If ``<sink>_share_pct`` is not a column.
    """
    col = f"{sink}_share_pct"
    if col not in table:
        raise MissingColumnError(f"share_reached(): the balance table has no {col!r} column.")
    rows = []
    for name, sub in table.groupby("scenario", sort=False):
        sub = sub.sort_values("year")
        row: dict[str, Any] = {"scenario": name, "share_pct": float(share_pct)}
        for key, c in (("first_year", col), ("first_year_earliest", f"{sink}_share_hi95_pct"),
                       ("first_year_latest", f"{sink}_share_lo95_pct")):
            if c not in sub:
                row[key] = pd.NA
                continue
            hit = sub["year"][sub[c].to_numpy(dtype=float) >= share_pct]
            row[key] = int(hit.iloc[0]) if len(hit) else pd.NA
        row["last_year"] = int(sub["year"].max())
        rows.append(row)
    out = pd.DataFrame(rows)
    for key in ("first_year", "first_year_earliest", "first_year_latest"):
        out[key] = out[key].astype("Int64")
    return out


def sinks_from_zonal_totals(table: pd.DataFrame) -> dict[str, float]:
    """Province totals of the mapped sinks, in t CO₂ a⁻¹, from a ``zonal_totals.csv`` table.

    Parameters
    ----------
    table : pandas.DataFrame
        The map stage's zone table with ``karst_sink_t_c_yr`` and, if mapped,
        ``biological_sink_t_c_yr`` [t C a⁻¹] columns, one row per zone. A
        row labelled "TOTAL..." (``karstsink map`` appends ``TOTAL (all zones)``,
        each pixel once where zones overlap) is the total; without it the zones
        are summed, with a :class:`~karstsink.exceptions.DataQualityWarning`.

    Returns
    -------
    dict
        ``{"karst": ..., "biological": ...}`` [t CO₂ a⁻¹] (t C x 44.009/12.011),
        ready for :func:`balance`. NaN zones are skipped; a column that is
        entirely NaN gives NaN.

    Raises
    ------
    MissingColumnError
        If ``karst_sink_t_c_yr`` is absent.
    DataError
        If there is more than one "TOTAL" row.
    """
    if "karst_sink_t_c_yr" not in table:
        raise MissingColumnError("The zone table has no 'karst_sink_t_c_yr' column; pass "
                                 "the map stage's zonal_totals.csv.")
    labels = [c for c in table.columns  # the TOTAL row: a text column starting with TOTAL
              if not pd.api.types.is_numeric_dtype(table[c]) and not c.endswith("_yr")]
    is_total = np.zeros(len(table), dtype=bool)
    for col in labels:
        is_total |= table[col].astype(str).str.strip().str.upper().str.startswith(
            "TOTAL").to_numpy()
    if is_total.sum() > 1:
        raise DataError(f"The zone table has {int(is_total.sum())} 'TOTAL' rows; keep one.")
    out = {}
    for key, col in (("karst", "karst_sink_t_c_yr"), ("biological", "biological_sink_t_c_yr")):
        if col in table:
            values = pd.to_numeric(table[col], errors="coerce")
            total = values[is_total].iloc[0] if is_total.any() else values.sum(min_count=1)
            out[key] = float(total) * C_TO_CO2
    if not is_total.any() and len(table) > 1:
        warnings.warn(f"The zone table has no 'TOTAL' row: its {len(table)} zones are "
                      "summed, counting a pixel once per zone where zones overlap; pass the "
                      "map stage's zonal_totals.csv with its 'TOTAL (all zones)' row.",
                      DataQualityWarning, stacklevel=2)
    return out
