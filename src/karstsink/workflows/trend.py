"""One catchment's trend: what ``karstsink trend`` and a ``trend`` table of ``karstsink run`` run.

:func:`run_trend` takes a WRTDS fit and answers EGRET's trend questions on it:
``runPairs`` or ``runGroups`` (the change of flow-normalised concentration and
flux, split into the concentration-discharge part CQTC and the discharge part
QTC), optionally EGRETci's bootstrap (interval, p-value, likelihood) and its
annual band, ``tableChange`` between chosen years, the annual flow-normalised
and WRTDS-Kalman table and, for HCO₃⁻ with an area, the carbon-sink rows.
:func:`write_trend_outputs` writes it to a folder.  Both commands call these
two functions, so a trend is computed one way only.

This is a workflow (layer L3) over :mod:`karstsink.flux.trends`,
:mod:`karstsink.flux._trend_boot`, :mod:`karstsink.flux._trend_band`,
:mod:`karstsink.flux._trend_series` and :func:`karstsink.sink.carbon_sink`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__
from .._seed import resolve_seed, seed_problem
from ..exceptions import DataError
from ..flux._kalman import KALMAN_RHO
from ..io.write import json_text, to_csv

__all__ = ["SINK_UNITS", "TREND_KEYS", "TREND_REPORT_COLUMNS", "TrendRun", "catchment_trend",
           "run_trend", "sink_factor", "sink_row", "trend_config", "trend_options",
           "write_trend_outputs"]

#: Columns of a trend table the report shows (those present).
TREND_REPORT_COLUMNS = ["units", "x10", "x11", "x20", "x22", "total_change", "cqtc", "qtc",
                        "total_change_pct", "lo90", "hi90", "p_value", "p_value_upper_bound",
                        "n_boot", "likelihood"]
_SCALED = ("x10", "x11", "x20", "x22", "total_change", "cqtc", "qtc", "lo90", "hi90",
           "value1", "value2", "change", "slope_per_yr")


@dataclass
class TrendRun:
    """Everything one trend produced (tables in memory, ready to write).

    Attributes
    ----------
    kind : str
        ``pairs`` or ``groups``.
    labels : (str, str)
        The two years (``"2001"``) or groups (``"1980-1995"``).
    table : pandas.DataFrame
        Rows ``conc`` [mg L⁻¹], ``flux`` [kg yr⁻¹] and, for HCO₃⁻ with an area,
        ``sink`` [t C km⁻² yr⁻¹]; :data:`karstsink.flux.trends.TREND_COLUMNS`
        (+ ``lo90``, ``hi90``, ``p_value``, ``likelihood_up``, ``likelihood``
        when bootstrapped).
    annual : pandas.DataFrame
        :func:`karstsink.flux.trends.trend_annual` (with the band's columns
        when bootstrapped).
    series : pandas.DataFrame or None
        :func:`karstsink.flux._trend_series.series` (+ sink rows).
    band : pandas.DataFrame or None
        :func:`karstsink.flux._trend_band.fn_band`.
    replicates : pandas.DataFrame or None
        The reflected bootstrap replicates of the change (conc [mg L⁻¹], flux [kg yr⁻¹]).
    info : dict
        JSON-ready settings (``trend.json``).
    """

    kind: str
    labels: tuple[str, str]
    table: pd.DataFrame
    annual: pd.DataFrame
    series: pd.DataFrame | None = None
    band: pd.DataFrame | None = None
    replicates: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)
    result: Any = field(default=None, repr=False)
    estimate: Any = field(default=None, repr=False)


#: The units of a trend table's sink row: the HCO3 flux row scaled by :func:`sink_factor`,
#: without the acid corrections of sink.csv (an upper bound where acids weather carbonate).
SINK_UNITS = "t C/km2/yr, no acid correction"


def sink_factor(area_km2: float, silicate_hco3_fraction: float | None = None) -> float:
    """Carbon sink per unit HCO₃⁻ flux [t C km⁻² yr⁻¹ per kg yr⁻¹].

    :func:`karstsink.sink.carbon_sink` without acid corrections (no SO₄²⁻ or
    NO₃⁻ flux) is proportional to the HCO₃⁻ flux; this is its slope.
    """
    from ..sink import carbon_sink

    ref = 1.0e6  # kg/yr
    sk = carbon_sink(np.array([ref]), area_km2, silicate_hco3_fraction=silicate_hco3_fraction)
    return float(sk["sink_t_c_km2_yr"].iloc[0]) / ref


def sink_row(table: pd.DataFrame, area_km2: float, silicate_hco3_fraction: float | None = None
             ) -> pd.Series:
    """The carbon-sink row [t C km⁻² yr⁻¹] of a trend table from its HCO₃⁻ ``flux`` row [kg yr⁻¹].

    Every value, change and interval bound scales by :func:`sink_factor`;
    percentages, p-value and likelihood are the flux's.
    """
    k = sink_factor(area_km2, silicate_hco3_fraction)
    row = table.loc["flux"].copy()
    for c in _SCALED:
        if c in row:
            row[c] = row[c] * k
    row["units"] = SINK_UNITS
    row.name = "sink"
    return row


def _years_without_samples(ctx, years: list, pa: dict) -> list[int]:
    """The years of a series whose period lies wholly before the first or after the last
    sample (warned about): there the surface is extrapolated in time, as EGRET's
    tableChange does, where runPairs refuses such a year."""
    import warnings

    from ..exceptions import DataQualityWarning
    from ..flux._gfn import start_end

    first, last = ctx.sample_dates[0], ctx.sample_dates[-1]
    periods = {int(y): start_end(int(y), pa["pa_start"], pa["pa_long"]) for y in years}
    out = [y for y, (a, b) in periods.items() if a > last or b < first]
    if out:
        warnings.warn(
            f"--series: year(s) {', '.join(map(str, out))} have no sample (the samples run "
            f"from {first.date()} to {last.date()}): their flow-normalised values extrapolate "
            "the WRTDS surface in time (as EGRET's tableChange does; --pairs refuses such a "
            "year); read their changes with care.", DataQualityWarning, stacklevel=3)
    return out


def _series_sink(s: pd.DataFrame, k: float) -> pd.DataFrame:
    rows = s[s["quantity"] == "flux"].copy()
    for c in _SCALED:
        if c in rows:
            rows[c] = rows[c] * k
    return rows.assign(quantity="sink", units=SINK_UNITS)


def run_trend(estimate, *, pairs: Sequence[int] | None = None,
              groups: Sequence[str | Sequence[int]] | None = None,
              series: bool | Sequence[int] | None = None, window_side: float = 0,
              bootstrap: int = 0, block_days: int = 200, seed: int | None = None,
              jobs: int | None = None, kalman: pd.DataFrame | None = None,
              kalman_iter: int = 200, rho: float = KALMAN_RHO, area_km2: float | None = None,
              hco3: bool = False, silicate_hco3_fraction: float | None = None,
              band: bool = True, pa_start: int = 10,
              kalman_info: dict[str, Any] | None = None) -> TrendRun:
    """Pairs or groups trend (with bootstrap, series and band) of a WRTDS fit.

    Parameters
    ----------
    estimate : WRTDSEstimate
        A WRTDS fit (``method = "wrtds"``), e.g. ``FluxRun.estimate``.
    pairs : (int, int), optional
        Two years (EGRET ``runPairs``).  Exactly one of ``pairs`` and ``groups``.
    groups : two of str or (int, int), optional
        Two groups of years, ``"1980-1995"`` or ``(1980, 1995)``, inclusive
        (EGRET ``runGroups``).
    series : bool or sequence of int, optional
        EGRET ``tableChange`` between these years (True: EGRET's default years).
    window_side : float
        Generalized flow normalisation half-window [yr] (0: stationary).
    bootstrap : int
        EGRETci block-bootstrap replicates (0: none, else at least 2).
    block_days : int
        Bootstrap block length [d].
    seed : int, optional
        Seed of the bootstrap (and of WRTDS-Kalman when it is computed here); default:
        a fresh one, written to ``info`` (``trend.json``).
    jobs : int, optional
        Bootstrap worker processes (default: all cores).
    kalman : pandas.DataFrame, optional
        Daily WRTDS-Kalman table already computed (``FluxRun.kalman``); else
        ``kalman_iter`` realisations with ``rho`` are drawn (0: none).
    kalman_info : dict, optional
        With ``kalman``: how that table was drawn (``rho``, ``niter``, ``seed``),
        recorded in ``info["kalman"]`` (``trend.json``).
    area_km2 : float, optional
        Catchment area [km²]: with ``hco3`` the ``sink`` rows are added.
    hco3 : bool
        Whether the constituent is HCO₃⁻ (or alkalinity as HCO₃⁻).
    silicate_hco3_fraction : float, optional
        As :func:`karstsink.sink.carbon_sink` (keeps the sink proportional).
    band : bool
        With ``bootstrap``: also the annual band (EGRETci ``ciCalculations``).
    pa_start : int
        First month of the years (10: water years).

    Returns
    -------
    TrendRun

    Raises
    ------
    DataError
        Neither or both of ``pairs``/``groups``, years outside the record, too
        few samples, a year without a flow-normalised value.
    """
    from ..flux._trend_boot import bootstrap_trend
    from ..flux.trends import parse_group, run_groups, run_pairs, trend_annual, trend_context

    if (pairs is None) == (groups is None):
        raise DataError("give exactly one of --pairs YEAR1 YEAR2 or --groups Y1-Y2 Y3-Y4")
    if bootstrap or (kalman is None and kalman_iter):
        seed = resolve_seed(seed)  # one seed for all the draws, written to trend.json
    ctx = trend_context(estimate)
    pa: dict[str, Any] = {"pa_start": int(pa_start), "pa_long": 12}
    if pairs is not None:
        y1, y2 = (int(y) for y in pairs)
        res = run_pairs(ctx, y1, y2, window_side=window_side, **pa)
        kind, labels = "pairs", (str(y1), str(y2))
    else:
        assert groups is not None  # exactly one of pairs/groups: checked above
        g1, g2 = (parse_group(g) if isinstance(g, str) else (int(g[0]), int(g[1]))
                  for g in groups)
        res = run_groups(ctx, g1, g2, window_side=window_side, **pa)
        kind, labels = "groups", (f"{g1[0]}-{g1[1]}", f"{g2[0]}-{g2[1]}")
    if not np.isfinite(res.table[["x11", "x22"]].to_numpy(float)).all():
        raise DataError(f"--{kind}: no flow-normalised value for {labels[0]} or {labels[1]}")
    if bootstrap:
        res = bootstrap_trend(ctx, res, n_boot=bootstrap, block_days=block_days, seed=seed,
                              jobs=jobs)
    if kalman is not None:  # drawn by the caller, who says how
        kalman_info = {**(kalman_info or {}), "computed_by": "the caller (karstsink run: "
                                                             "the catchment's flux run)"}
    elif kalman_iter:
        from ..flux._kalman import wrtds_kalman

        kalman = wrtds_kalman(estimate, rho=rho, niter=kalman_iter, seed=seed)
        kalman_info = {"rho": rho, "niter": kalman_iter, "seed": seed}
    else:
        kalman_info = None
    annual = trend_annual(ctx, window_side=window_side, kalman=kalman, **pa)
    table = res.table.copy()
    k = None
    if area_km2 is not None and hco3:
        k = sink_factor(area_km2, silicate_hco3_fraction)
        table = pd.concat([table, sink_row(table, area_km2, silicate_hco3_fraction)
                           .to_frame().T])
    table.index.name = "quantity"
    ser = None
    if series is not None and series is not False:
        from ..flux._trend_series import series as table_change

        ser = table_change(annual=annual, years=None if series is True else list(series),
                           window_side=window_side)
        unsampled = _years_without_samples(ctx, sorted({*ser["year1"], *ser["year2"]}), pa)
        if k is not None:
            ser = pd.concat([ser, _series_sink(ser, k)], ignore_index=True)
    fn_band = None
    if bootstrap and band:
        from ..flux._trend_band import fn_band as make_band

        fn_band = make_band(ctx, n_boot=bootstrap, block_days=block_days, seed=seed,
                            jobs=jobs, window_side=window_side, **pa)
        annual = annual.merge(fn_band, on="year", how="left")
    info = {key: v for key, v in res.info.items() if not key.startswith("_")
            and key != "bootstrap"}
    replicates = None
    if "bootstrap" in res.info:
        boot = res.info["bootstrap"]
        info["bootstrap"] = {key: v for key, v in boot.items() if key != "replicates"}
        replicates = boot["replicates"]
    if fn_band is not None:
        info["band"] = fn_band.attrs["bootstrap"]
    info.update({"area_km2": area_km2, "sink_rows": k is not None,
                 "sink_t_c_km2_yr_per_kg_yr": k,
                 "sink_basis": None if k is None else (
                     "the HCO3- flux row x sink_t_c_km2_yr_per_kg_yr (karstsink.sink."
                     "carbon_sink without acid corrections): an upper bound where sulfuric or "
                     "nitric acid weathers carbonate; the acid-corrected sink per year is in "
                     "sink.csv of karstsink flux or run"),
                 "series_years": (None if ser is None
                                  else sorted({*ser["year1"], *ser["year2"]})),
                 "series_years_without_samples": None if ser is None else unsampled,
                 "kalman": kalman_info,
                 "wrtds": estimate.model.get("settings")})
    return TrendRun(kind=kind, labels=labels, table=table, annual=annual, series=ser,
                    band=fn_band, replicates=replicates, info=info, result=res,
                    estimate=estimate)


def write_trend_outputs(trend: TrendRun, folder: str | os.PathLike, *,
                        annual_name: str = "annual.csv", plots: bool = True,
                        extra_info: dict[str, Any] | None = None) -> list[str]:
    """Write ``pairs.csv``/``groups.csv``, the annual table, ``<kind>_bootstrap.csv``,
    ``series.csv``, ``fn_band.csv``, ``trend.json`` and ``plots/`` (those there are).

    ``folder`` is written into directly (callers make it atomic:
    ``karstsink trend`` with :func:`karstsink.io.atomic.atomic_dir`, ``karstsink
    run`` inside its own).  Returns the file names written, relative to ``folder``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    names = [f"{trend.kind}.csv", annual_name]
    to_csv(trend.table, out / names[0])
    to_csv(trend.annual, out / annual_name, index=False)
    if trend.replicates is not None:
        names.append(f"{trend.kind}_bootstrap.csv")
        to_csv(trend.replicates, out / names[-1], index=False)
    if trend.series is not None:
        names.append("series.csv")
        to_csv(trend.series, out / names[-1], index=False)
    if trend.band is not None:
        names.append("fn_band.csv")
        to_csv(trend.band, out / names[-1], index=False)
    info = {"karstsink_version": __version__, **trend.info, **(extra_info or {})}
    if trend.info.get("sink_rows"):  # the sink row's carbon accounting, stated as sink.csv's
        from .. import carbon

        info["carbon_accounting"] = carbon.assumptions(so4_given=False, no3_given=False,
                                                       bcp_share=None)
    (out / "trend.json").write_text(json_text(info),
                                    encoding="utf-8")
    names.append("trend.json")
    if plots:
        from ..plots.trends import save_trend_plots

        paths = save_trend_plots(out / "plots", annual=trend.annual, result=trend.table,
                                 estimate=trend.estimate, labels=trend.labels)
        names.extend(str(p.relative_to(out)) for p in paths)
    return names


def catchment_trend(catchment: dict, flux_run, folder: str | os.PathLike,
                    jobs: int | None = None) -> TrendRun:
    """The trend of one catchment of ``karstsink run``, written into its ``flux/<name>/``.

    Runs :func:`run_trend` on the catchment's WRTDS fit (``FluxRun.estimate``,
    reusing its WRTDS-Kalman table) with :func:`trend_options`, and writes
    ``pairs.csv``/``groups.csv`` and the rest with :func:`write_trend_outputs`
    (the annual table as ``trend_annual.csv``: ``annual.csv`` is the flux's).

    Raises
    ------
    KarstSinkError
        Of the trend, its message naming the TOML key (``catchments[0].trend.pairs``).
    """
    from ..exceptions import KarstSinkError
    from ._errors import in_toml

    where = f"{catchment['key']}.trend"
    hco3 = "hco3_flux_kg_yr" in flux_run.sink.columns
    try:
        tr = run_trend(flux_run.estimate, kalman=flux_run.kalman, kalman_iter=0, hco3=hco3,
                       kalman_info=_flux_kalman(flux_run), **trend_options(catchment, jobs))
    except KarstSinkError as err:
        raise in_toml(err, where, f" (catchment {catchment['name']!r})") from err
    write_trend_outputs(tr, folder, annual_name="trend_annual.csv",
                        extra_info={"constituent": catchment["constituent"],
                                    "catchment": catchment["name"]})
    return tr


def _flux_kalman(flux_run) -> dict[str, Any] | None:
    """How the flux run drew its WRTDS-Kalman table (None: it drew none)."""
    if flux_run.kalman is None:
        return None
    s = flux_run.settings
    return {"rho": KALMAN_RHO, "niter": s["kalman_iter"],
            "seed": s["method_options"].get("seed")}


#: Keys (and types) of a catchment's ``trend`` table in a run configuration (``method =
#: "wrtds"`` only), checked by :func:`trend_config` and passed to :func:`run_trend`.
TREND_KEYS = {"pairs": list, "groups": list, "series": (list, bool),
              "window_side": (int, float), "bootstrap": int, "seed": int, "block_days": int,
              "kalman_iter": int, "band": bool}


def trend_options(catchment: dict, jobs: int | None = None) -> dict[str, Any]:
    """:func:`run_trend` keywords of a checked catchment with a ``trend`` table.

    The bootstrap seed is the table's ``seed``, else the catchment's WRTDS
    ``seed``; its workers the catchment's ``jobs``, else the run's ``--jobs``.
    """
    t, opts = catchment["trend"], catchment["method_options"]
    return {"pairs": t["pairs"], "groups": t["groups"], "series": t["series"],
            "window_side": t["window_side"], "bootstrap": t["bootstrap"],
            "block_days": t["block_days"], "band": t["band"],
            "seed": t["seed"] if t["seed"] is not None else opts.get("seed"),
            "jobs": opts.get("jobs", jobs), "area_km2": catchment["area_km2"],
            "silicate_hco3_fraction": catchment["silicate_fraction"],
            "pa_start": catchment["year_start"]}


def trend_config(c, raw: Any, where: str, method: str, name: str) -> dict[str, Any]:
    """A catchment's ``trend = { pairs = [2001, 2008] }`` table of a run configuration, checked.

    Parameters
    ----------
    c : karstsink.config._Checker
        The configuration checker (names the file in every message).
    raw : Any
        The parsed table.
    where : str
        The catchment's TOML key (``catchments[0]``).
    method, name : str
        The catchment's method (must be ``wrtds``) and name.

    Returns
    -------
    dict
        ``pairs`` ([y1, y2]) or ``groups`` ([[a, b], [c, d]]), ``series`` (list,
        True or None), ``window_side`` [yr], ``bootstrap``, ``seed``,
        ``block_days`` [d], ``kalman_iter``, ``band``.

    Raises
    ------
    ConfigError
        Naming the key, e.g. ``catchments[0].trend.pairs``.
    """
    from ..exceptions import ConfigError
    from ..flux.trends import parse_group

    key = f"{where}.trend"
    table = c.table(raw, key)
    c.known(table, TREND_KEYS, key)
    c.typed(table, TREND_KEYS, key)

    def fail(k: str, message: str) -> ConfigError:
        return c.fail(f"{key}.{k}" if k else key, f"{message} (catchment {name!r})")

    if method != "wrtds":
        raise fail("", f"trends need method = \"wrtds\" (method is {method!r})")
    if ("pairs" in table) == ("groups" in table):
        raise fail("", "give exactly one of pairs = [YEAR1, YEAR2] or groups = "
                       "[\"Y1-Y2\", \"Y3-Y4\"]")
    out: dict[str, Any] = {k: None for k in TREND_KEYS}
    if "pairs" in table:
        p = table["pairs"]
        if (len(p) != 2 or not all(isinstance(y, int) and not isinstance(y, bool) for y in p)
                or p[0] >= p[1]):
            raise fail("pairs", f"must be two years, the first before the second, like "
                                f"[2001, 2008], not {p!r}")
        out["pairs"] = [int(p[0]), int(p[1])]
    else:
        g = table["groups"]
        if len(g) != 2 or not all(isinstance(x, str) for x in g):
            raise fail("groups", f"must be two groups of years like [\"1980-1995\", "
                                 f"\"1996-2011\"], not {g!r}")
        try:
            g1, g2 = parse_group(g[0]), parse_group(g[1])
        except DataError as err:
            raise fail("groups", f"{err}; write [\"1980-1995\", \"1996-2011\"]") from err
        if g1[0] > g1[1] or g2[0] > g2[1] or g1[1] >= g2[0]:
            raise fail("groups", f"needs first <= last in each group and group 1 before "
                                 f"group 2, not {g!r}")
        out["groups"] = [list(g1), list(g2)]
    if "series" in table:
        ser = table["series"]
        if ser is False:
            ser = None
        elif ser is not True and (
                len(ser) < 2 or not all(isinstance(y, int) and not isinstance(y, bool)
                                        for y in ser)
                or any(b <= a for a, b in pairwise(ser))):
            raise fail("series", f"must be two or more increasing years like [1990, 2000, "
                                 f"2010] (or true for every 5th year), not {ser!r}")
        out["series"] = ser
    ws = table.get("window_side", 0)
    if not (ws >= 0 and math.isfinite(ws)):
        raise fail("window_side", f"must be 0 (stationary) or a half-window in years, not {ws!r}")
    out["window_side"] = float(ws)
    boot = table.get("bootstrap", 0)
    if boot < 0 or boot == 1:
        raise fail("bootstrap", f"must be 0 (none) or 2 or more replicates, not {boot!r}")
    out["bootstrap"] = boot
    for k, default, low in (("block_days", 200, 1), ("kalman_iter", 200, 0)):
        v = table.get(k, default)
        if v < low:
            raise fail(k, f"must be {low} or more, not {v!r}")
        out[k] = v
    out["seed"] = table.get("seed")
    if out["seed"] is not None and (problem := seed_problem(out["seed"])):
        raise fail("seed", problem)
    out["band"] = table.get("band", True)
    return out
