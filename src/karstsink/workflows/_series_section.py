"""Report sections of a ``[map.series]`` and ``[map.uncertainty]`` map in ``karstsink run``.

:func:`series_section` turns the series tables the map engine writes into ``map/``
(``series.csv``, ``attribution.csv``, ``uncertainty.csv``, ``sensitivity.csv``; column
contracts in docs/series.md) into one :class:`karstsink.report.Section`: the yearly totals
with their 95 % intervals, the figure of the series with its band, the attribution bars,
the attribution table and the sensitivity summary. :func:`uncertainty_section` does the
same for the intervals of a single-year map, and :func:`series_records` gives the tables
as JSON records for ``run.json``. Nothing here computes a sink.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .. import qa
from ..exceptions import DataError
from ..report import Figure, Section, Table
from ._map_unit import mass_unit

__all__ = ["SERIES_FILES", "series_records", "series_section", "series_summary",
           "uncertainty_section"]

#: The engine's tables copied into ``run.json`` (key -> file under ``map/``).
SERIES_FILES = {"series": "series.csv", "attribution": "attribution.csv",
                "uncertainty": "uncertainty.csv", "sensitivity": "sensitivity.csv"}
_SINKS = ("karst_sink", "biological_sink", "total_sink")
_ZENG = "Zeng, Liu & Kaufmann 2019, doi:10.1038/s41467-019-13772-4"
_SALTELLI = "Saltelli et al. 2008, doi:10.1002/9780470725184"
#: What the report says of a zone's shares under each sensitivity.csv flag.
_SENSITIVITY_CAVEATS = {
    "sensitivity_few_draws": "too few draws per parameter for stable shares",
    "sensitivity_low_r2": "not near-linear, shares only indicative",
}


def _read(path: Path) -> pd.DataFrame | None:
    """A table of the map engine, zone names as text (None when the file is absent)."""
    if not path.is_file():
        return None
    from ..plots.series import label_column

    label = label_column(pd.read_csv(path, nrows=0).columns)
    return pd.read_csv(path, dtype={label: str}, keep_default_na=False, na_values=[""])


def _label(table: pd.DataFrame) -> tuple[str, str]:
    from ..plots.series import total_label

    return total_label(table)


#: below this [t yr-1] amounts are written in t/yr, from it in Mt/yr (one unit for the
#: numbers compared in a sentence, so that they line up)
MT_FROM = 1e5


class _Mass:
    """The text's mass unit: t C yr⁻¹ from the engine's tables, written in the run's unit.

    The series tables (``series.csv``, ``attribution.csv``, ``uncertainty.csv``) are in
    t C; with ``co2`` the text gives every amount in t CO2 (× 44.009/12.011), like the
    run's other sections, while the tables and figures keep t C.
    """

    def __init__(self, co2: bool = False) -> None:
        self.factor, self.what = mass_unit(co2)

    def _value(self, v: float) -> float | None:
        if v is None or not math.isfinite(float(v)):
            return None
        return float(v) * self.factor

    def unit(self, ref: float) -> tuple[bool, str]:
        """Mt/yr for amounts of at least :data:`MT_FROM` t/yr (after conversion), else t/yr."""
        r = self._value(ref)
        mt = r is not None and abs(r) >= MT_FROM
        return mt, f"{'Mt' if mt else 't'} {self.what}/yr"

    def text(self, v: float, digits: int = 3, *, mt: bool = True, sign: str = "") -> str:
        """``v`` [t C yr⁻¹] in Mt with ``digits`` decimals (or in t, ``mt`` False)."""
        x = self._value(v)
        if x is None:
            return "–"
        return f"{x / 1e6:{sign}.{digits}f}" if mt else f"{x:{sign},.0f}"

    def signed(self, v: float, ref: float) -> str:
        return self.text(v, 3, mt=self.unit(ref)[0], sign="+")

    def note(self) -> str:
        """The sentence that says so in a t CO2 run (empty in t C)."""
        if self.what == "C":
            return ""
        return (f" Amounts in the text are in t {self.what} (× {self.factor:.4f} of t C, "
                "44.009/12.011); the tables and figures keep the map engine's t C.")


def series_records(map_root: str | Path) -> dict[str, list[dict]]:
    """The engine's series tables under ``map_root`` as JSON records (NaN -> None).

    Returns
    -------
    dict
        :data:`SERIES_FILES` key -> list of row dicts, for each file that exists.
    """
    out = {}
    for key, name in SERIES_FILES.items():
        t = _read(Path(map_root) / name)
        if t is not None:
            rows = json.loads(t.to_json(orient="records"))  # NaN -> null, numpy -> Python
            out[key] = rows
    return out


def series_summary(records: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The TOTAL rows of :func:`series_records` (all zones: per year, per pair), for the
    run's summary: ``map_series``, ``map_attribution``, ``map_uncertainty`` [t C yr⁻¹]."""
    out = {}
    for key in ("series", "attribution", "uncertainty"):
        rows = [{k: v for k, v in r.items() if k != "zone_id"} for r in records.get(key, [])
                if any(str(v).startswith("TOTAL") for v in r.values())]
        if rows:
            out[f"map_{key}"] = rows
    return out


def _map_doc(map_root: Path) -> dict[str, Any]:
    path = map_root / "run.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _class_names(table_name: str | None) -> tuple[dict[int, str], pd.DataFrame | None]:
    """Class code -> name and the land-cover table (None without a table name)."""
    if not table_name:
        return {}, None
    from ..mapping.landcover import load_landcover_table

    lut = load_landcover_table(table_name).table
    return {int(c): str(n) for c, n in zip(lut["class"], lut["name"], strict=True)}, lut


def _parameter(name: str, classes: dict[int, str]) -> str:
    """A drawn parameter in words (``soil_pco2_factor:1`` -> soil-pCO2 factor of Cropland)."""
    kind, _, code = str(name).partition(":")
    words = {"soil_pco2_factor": "soil-pCO2 factor", "biological_sink": "biological sink",
             "runoff_factor": "runoff factor", "temperature_offset_c": "temperature offset",
             "dolomite_equilibrium": "dolomite equilibrium database"}.get(kind, kind)
    if code:
        return f"{words} of {classes.get(int(code), 'class ' + code)} ({code})"
    return words


def _interval_note(doc: dict, lut: pd.DataFrame | None, classes: dict[int, str],
                   bio_varied: bool) -> str:
    """What the 95 % intervals include and leave out, with the table's range sources."""
    u = (doc.get("parameters") or {}).get("uncertainty") or {}
    params = list(u.get("parameters") or [])
    parts = []
    codes: dict[str, list[int]] = {}
    for p in params:
        kind, _, code = p.partition(":")
        if code and (bio_varied or kind != "biological_sink"):  # a raster's is not drawn
            codes.setdefault(kind, []).append(int(code))
    table = (doc.get("parameters") or {}).get("landcover_table", "")
    if codes:
        parts.append("per class, " + " and ".join(
            {"soil_pco2_factor": "the soil-pCO2 factor",
             "biological_sink": "the biological sink"}.get(k, k) for k in codes)
            + f", uniform between the land-cover table's ({table}) _lo and _hi columns")
    if u.get("runoff_rel_sd"):
        parts.append(f"runoff x (1 + {u['runoff_rel_sd']:g} z), one systematic factor per "
                     "draw for the whole grid and every year (z standard normal)")
    if u.get("temperature_sd_c"):
        parts.append(f"temperature + {u['temperature_sd_c']:g} z °C, one offset per draw")
    if u.get("dolomite_databases"):
        parts.append("the dolomite equilibrium of one of "
                     + ", ".join(u["dolomite_databases"]) + " per draw")
    text = (f"**The 95 % intervals** are the 2.5 and 97.5 percentiles of "
            f"{u.get('draws', '?')} Monte Carlo draws (seed {u.get('seed', '?')}) of: "
            + "; ".join(parts) + f". Each draw's zone totals are the full map's scaled by "
            f"the draw / central ratio on every {u.get('subsample_step_px', '?')}-th row and "
            "column (docs/series.md#uncertainty). They do **not** include the model-"
            "structure error (the maximum-potential-dissolution equilibrium as the sink, "
            "the form of the land-cover factors, pixel-scale errors of the inputs beyond "
            "one systematic factor)"
            + ("" if bio_varied else ", nor any error of the biological sink, which here "
               "comes from a raster the draws do not vary (its interval is a point)")
            + ". Every year uses the same draws, so the intervals of different years move "
            "together: a change between years is known far better than the overlap of "
            "their intervals suggests."
            + (f" The per-pixel standard deviation of the total sink over the draws is in "
               f"total_sink_sd.tif (one pixel per {u.get('subsample_step_px', '?')} x "
               f"{u.get('subsample_step_px', '?')} map pixels, the value of its top-left "
               "pixel)." if u.get("sd_raster") else ""))
    if lut is not None and codes and "range_source" in lut:
        rows = lut.set_index("class")
        bullets = []
        for code in sorted({c for v in codes.values() for c in v}):
            r = rows.loc[code]
            ranges = []
            if code in codes.get("soil_pco2_factor", []):
                ranges.append(f"soil-pCO2 factor {r['soil_pco2_factor_lo']:g}-"
                              f"{r['soil_pco2_factor_hi']:g}")
            if code in codes.get("biological_sink", []) and bio_varied:
                ranges.append(f"biological sink {r['biological_sink_tc_km2_yr_lo']:g}-"
                              f"{r['biological_sink_tc_km2_yr_hi']:g} t C km⁻² yr⁻¹")
            if ranges:
                bullets.append(f"- {classes.get(code, code)} ({code}): {', '.join(ranges)}; "
                               f"range_source: {r['range_source']}")
        if bullets:
            text += "\n\nThe ranges drawn, as the table's range_source states them:\n\n" \
                + "\n".join(bullets)
    return text


def _bio_varied(doc: dict) -> bool:
    source = str(((doc.get("parameters") or {}).get("biological_input") or {}).get("source", ""))
    return "raster" not in source


def _with_interval(row: pd.Series, stem: str, digits: int = 3,
                   mass: _Mass | None = None) -> str:
    """``<value> Mt C/yr (95 %: <lo>-<hi>)`` of a table row (no interval where the draws
    did not vary the sink; t C/yr for a small amount, :data:`MT_FROM`; in t CO2 with a
    CO2 ``mass``)."""
    m = mass or _Mass()
    v = row[f"{stem}_t_c_yr"]
    mt, unit = m.unit(v)
    lo, hi = row.get(f"{stem}_lo95_t_c_yr"), row.get(f"{stem}_hi95_t_c_yr")
    text = f"{m.text(v, digits, mt=mt)} {unit}"
    if lo is not None and hi is not None and pd.notna(lo) and pd.notna(hi) and hi > lo:
        text += f" (95 %: {m.text(lo, digits, mt=mt)}-{m.text(hi, digits, mt=mt)})"
    return text


def _year_rows(series: pd.DataFrame, unc: pd.DataFrame | None) -> pd.DataFrame:
    """The TOTAL row of each year: the three sinks and, with draws, their 95 % bounds."""
    label, total = _label(series)
    rows = series[series[label].astype(str) == total]
    cols = ["year", *(f"{s}_t_c_yr" for s in _SINKS)]
    out = rows[cols].reset_index(drop=True)
    if unc is not None:
        ulab, utot = _label(unc)
        u = unc[unc[ulab].astype(str) == utot].set_index("year")
        for s in _SINKS:
            for b in ("lo95", "hi95"):
                out[f"{s}_{b}_t_c_yr"] = out["year"].map(u[f"{s}_{b}_t_c_yr"])
        out = out[["year", *(f"{s}_{k}t_c_yr" for s in _SINKS
                             for k in ("", "lo95_", "hi95_"))]]
    return out


def _sensitivity_part(sens: pd.DataFrame, year: int | None, zones: list[str],
                      classes: dict[int, str], n: int = 3) -> tuple[str, Table]:
    """The ``n`` parameters with the largest variance share in each zone of ``zones``
    (TOTAL first) in ``year`` (None: a single run's table): a sentence per zone and the
    table rows."""
    label, total = _label(sens)
    s = sens[sens["year"] == year] if year is not None else sens
    if "qa_flags" in s:  # read back from the CSV, a clean row's empty cell is NaN
        s = s.assign(qa_flags=[f if isinstance(f, str) else "" for f in s["qa_flags"]])
    keep, lines = [], []
    for z in [total, *zones]:
        rows = s[s[label].astype(str) == z].sort_values("variance_share_pct", ascending=False,
                                                        kind="stable").head(n)
        if rows.empty or not rows["variance_share_pct"].notna().any():
            continue
        keep.append(rows)
        best = rows.iloc[0]
        caveat = "".join(f"; {_SENSITIVITY_CAVEATS[c]}"
                         for c in qa.split(best.get("qa_flags", ""))
                         if c in _SENSITIVITY_CAVEATS)
        lines.append(f"{'all zones' if z == total else z}: "
                     f"{_parameter(best['parameter'], classes)} "
                     f"({best['variance_share_pct']:.0f} % of the variance; regression "
                     f"R² {best['explained_variance_pct']:.0f} %{caveat})")
    cols = [c for c in (label, "year", "parameter", "variance_share_pct",
                        "explained_variance_pct", "qa_flags") if c in s]
    table = pd.concat(keep)[cols] if keep else s.head(0)[cols]
    when = f" ({year})" if year is not None else ""
    text = (f"**What drives the variance**{when}: " + "; ".join(lines) + ". "
            "Each share is the part of the variance of the zone's total sink over the draws "
            "that the linear regression on the drawn parameters gives that parameter: its "
            "squared standardised coefficient, with the chance correlations of the "
            f"independent draws left out ({_SALTELLI}). The shares add up to at most 100 %, "
            "to about 100 % when R² is near 100 % (a near-linear response); `qa_flags` marks "
            "a zone with too few draws per parameter or R² below "
            f"{qa.SENSITIVITY_MIN_R2_PCT:g} %. Full table: `map/sensitivity.csv`.")
    return text, Table(table, caption=f"The {n} largest variance shares of the total sink in "
                                      f"all zones and the zones named in the text{when} "
                                      "[% of the variance over the draws].")


def _figure(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150, bbox_inches="tight", pad_inches=0.08)
    return path


def series_section(result: Any, map_root: str | Path, *, top: int = 10,
                   co2: bool = False) -> Section:
    """The series of a ``[map.series]`` run as a report section.

    Parameters
    ----------
    result : karstsink.mapping.MapResult
        The series run (``result.series``: years, pairs, the climate and land-cover
        input groups).
    map_root : path-like
        The run's map folder (``series.csv``, ``attribution.csv`` and, with
        ``[map.uncertainty]``, ``uncertainty.csv`` and ``sensitivity.csv``); the
        figures ``series.png`` and ``attribution.png`` are drawn there.
    top : int, default 10
        The zones with the largest change shown in the attribution bars and table.
    co2 : bool, default False
        The run is in t CO2: the text gives its amounts in t CO2 (the tables and
        figures stay in the engine's t C, as the text says).

    Returns
    -------
    karstsink.report.Section

    Raises
    ------
    DataError
        ``map_root`` holds no ``series.csv``.
    """
    from ..plots.series import attribution_zones, plot_attribution, plot_series

    root = Path(map_root)
    rec = result.series or {}
    series = _read(root / "series.csv")
    if series is None:
        raise DataError(f"{root / 'series.csv'} is missing: the folder holds no finished "
                        "[series] map run (run_map with a [series] section writes it).")
    unc, sens = _read(root / "uncertainty.csv"), _read(root / "sensitivity.csv")
    attr = _read(root / "attribution.csv")
    doc = _map_doc(root)
    classes, lut = _class_names((doc.get("parameters") or {}).get("landcover_table"))
    years = [int(y) for y in rec.get("years") or sorted(series["year"].unique())]
    yearly = _year_rows(series, unc)
    mass = _Mass(co2)
    per_year = "; ".join(
        f"**{int(r['year'])}**: total {_with_interval(r, 'total_sink', 2, mass)}, karst "
        f"{_with_interval(r, 'karst_sink', 3, mass)}, biological "
        f"{_with_interval(r, 'biological_sink', 2, mass)}"
        for _, r in yearly.iterrows())
    groups = (f"Varying by year: climate {', '.join(rec.get('climate') or []) or 'none'}; "
              f"land cover {', '.join(rec.get('landcover') or []) or 'none'}; every other "
              "input is the same in every year.")
    text = [f"Sink maps of the years {', '.join(map(str, years))} in one pass over the "
            f"data (docs/series.md). {groups} The map section, the catchment comparison, "
            f"the balance and the restoration trajectory above and below use the last year, "
            f"{years[-1]}. Yearly maps: `map/<year>/`; table: `map/series.csv`.{mass.note()}",
            f"Sinks of all zones (karst + biological = total) per year: {per_year}."]
    bio_varied = _bio_varied(doc)
    if unc is not None:
        text.append(_interval_note(doc, lut, classes, bio_varied))
    tables = [Table(yearly, caption="Sinks of all zones per year [t C per year]"
                    + ("; lo95/hi95: the 95 % interval of the Monte Carlo draws (what it "
                       "includes: see the text)." if unc is not None else "."))]
    figures: list[Figure | str | os.PathLike] = [
        Figure(_figure(plot_series(series, unc), root / "series.png"),
                      "Karst (left) and biological and total (right) sinks of all zones per "
                      "year [Mt C per year]" + (", with the 95 % interval of the Monte Carlo "
                                                "draws (band and error bars"
                                                + ("" if bio_varied else "; none for the "
                                                   "biological sink, not varied") + ")."
                                                if unc is not None else "."))]
    zones: list[str] = []
    if attr is not None and len(attr):
        label, _ = _label(attr)
        shown, total = attribution_zones(attr, top)
        zones = shown[label].astype(str).tolist()
        a, b = int(total["year_a"]), int(total["year_b"])
        change = float(total["total_change_t_c_yr"])
        first = yearly[yearly["year"] == a]["total_sink_t_c_yr"]
        pct = (f" ({100 * change / float(first.iloc[0]):+.1f} % of {a})"
               if len(first) and float(first.iloc[0]) else "")
        ref = float(first.iloc[0]) if len(first) else change  # the unit of the totals
        unit = mass.unit(ref)[1]
        text.append(
            f"**Change {a} → {b}** of the total sink of all zones: "
            f"{mass.signed(change, ref)} {unit}{pct}: climate "
            f"{mass.signed(total['climate_t_c_yr'], ref)}, land cover "
            f"{mass.signed(total['landcover_t_c_yr'], ref)}, interaction "
            f"{mass.signed(total['interaction_t_c_yr'], ref)} {unit}. A 2 × 2 factorial "
            f"attribution with {a} as the reference ({_ZENG}): climate = the sink with only "
            f"the climate inputs of {b} minus the {a} sink; land cover = with only the "
            f"land-cover inputs of {b}; interaction = what neither change alone explains; "
            "the three add up to the total change. Central values (the attribution has no "
            "interval). Change map: `map/change/`; table: `map/attribution.csv`.")
        tables.append(Table(pd.concat([total.to_frame().T, shown])[
            [c for c in attr.columns if c != "zone_id"]],
            caption=f"Change of the total sink {a} → {b} and its parts, all zones and the "
                    f"{len(shown)} zones with the largest |change| [t C per year]."))
        figures.append(Figure(
            _figure(plot_attribution(attr, top=top), root / "attribution.png"),
            f"Change of the total sink {a} → {b} [kt C per year] split into climate, land "
            f"cover and interaction (stacked from 0 in the direction of their sign; the "
            f"diamond is the total change): all zones (left) and the {len(shown)} zones with "
            "the largest change (right)."))
    if sens is not None:
        sens_text, sens_table = _sensitivity_part(sens, years[-1], zones[:5], classes)
        text.append(sens_text)
        tables.append(sens_table)
    return Section(title=f"Sink series {years[0]}-{years[-1]} and its attribution",
                   text="\n\n".join(text), tables=tables, figures=figures)


def uncertainty_section(result: Any, map_root: str | Path, *, top: int = 15,
                        co2: bool = False) -> Section:
    """The 95 % intervals of a single-year map (``[map.uncertainty]`` without a series).

    Parameters
    ----------
    result : karstsink.mapping.MapResult
        The map run.
    map_root : path-like
        The run's map folder (``uncertainty.csv``, ``sensitivity.csv``, ``run.json``).
    top : int, default 15
        The zones with the largest total sink listed with their intervals.
    co2 : bool, default False
        The run is in t CO2: the text gives its amounts in t CO2 (the table stays in t C).

    Returns
    -------
    karstsink.report.Section

    Raises
    ------
    DataError
        ``map_root`` holds no ``uncertainty.csv``.
    """
    root = Path(map_root)
    unc = _read(root / "uncertainty.csv")
    if unc is None:
        raise DataError(f"{root / 'uncertainty.csv'} is missing: the folder holds no map run "
                        "with [uncertainty] draws = N.")
    sens = _read(root / "sensitivity.csv")
    doc = _map_doc(root)
    classes, lut = _class_names((doc.get("parameters") or {}).get("landcover_table"))
    label, total = _label(unc)
    row = unc[unc[label].astype(str) == total].iloc[0]
    body = unc[unc[label].astype(str) != total]
    shown = body.sort_values("total_sink_t_c_yr", ascending=False, kind="stable").head(top)
    cols = [label, *(f"{s}_{k}t_c_yr" for s in _SINKS for k in ("", "lo95_", "hi95_"))]
    mass = _Mass(co2)
    text = [f"Sinks of all zones with their 95 % intervals: total "
            f"{_with_interval(row, 'total_sink', 2, mass)}, karst "
            f"{_with_interval(row, 'karst_sink', 3, mass)}, biological "
            f"{_with_interval(row, 'biological_sink', 2, mass)}. Full table: "
            f"`map/uncertainty.csv`.{mass.note()}",
            _interval_note(doc, lut, classes, _bio_varied(doc))]
    tables = [Table(pd.concat([row.to_frame().T, shown])[cols],
                    caption=f"Sinks of all zones and of the {len(shown)} zones with the "
                            "largest total sink with their 95 % intervals [t C per year].")]
    if sens is not None:
        sens_text, sens_table = _sensitivity_part(sens, None,
                                                  shown[label].astype(str).tolist()[:5],
                                                  classes)
        text.append(sens_text)
        tables.append(sens_table)
    return Section(title="Uncertainty of the map totals", text="\n\n".join(text),
                   tables=tables)
