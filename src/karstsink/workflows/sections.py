"""Report sections of ``karstsink run``: one per stage, plus the assumptions and headline.

Each function turns one stage's results into a :class:`karstsink.report.Section`
(text, tables, figures) for :func:`karstsink.report.write_report`;
:func:`assumptions` states every assumption behind the run's numbers (report and
``run.json``), :func:`headline` the numbers at the top of the report and :func:`map_line`
the map totals ``karstsink run`` prints. Called by
:func:`karstsink.workflows.run.run_pipeline`; nothing here computes a sink.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..report import Figure, Section, Table, format_mass, unit_label
from ..units import C_TO_CO2
from ._catchment_sections import catchment_section, trend_section

__all__ = ["REPORT_YEARS", "SINK_BASES", "assumptions", "basis_words", "catchment_section",
           "comparison_section",
           "headline", "map_line", "map_section", "scenario_section", "scenario_share",
           "speciation_section",
           "trend_section"]

#: Years of the scenario balance shown in the report's table.
REPORT_YEARS = (2020, 2025, 2030, 2035, 2040, 2050, 2060)

#: Where the balanced sinks come from (``[scenario] sinks_from`` and the map's zones):
#: ``run.json``'s ``share_of_emissions_basis`` -> (the headline's label, the report's words).
SINK_BASES = {
    "zones": ("zones' total", "the map's zone table, its TOTAL (all zones) row"),
    "raster": ("raster total", "the map's raster total"),
    "given": ("as given", "[scenario] {keys}, as given"),
}


def basis_words(basis: str, sinks: dict[str, float]) -> str:
    """The report's words for where the balanced ``sinks`` come from (:data:`SINK_BASES`):
    for given sinks the ``[scenario]`` keys that gave them."""
    keys = " and ".join(f"{k}_t_c_yr" for k in sinks) or "karst_t_c_yr"
    return SINK_BASES[basis][1].format(keys=keys)


def speciation_section(tables: dict[str, pd.DataFrame], tmp: Path) -> Section:
    """The speciation stage: a summary per sample file and the SI-pCO2 figure.

    Parameters
    ----------
    tables : dict of str to pandas.DataFrame
        :func:`karstsink.speciate` results by sample-file stem.
    tmp : pathlib.Path
        The run's output folder (``speciation/si_pco2.png`` is drawn there).
    """
    rows = []
    for name, t in tables.items():
        ok = t["si_calcite"].notna()
        flagged = (t["qa_flags"].fillna("") != "").sum()
        rows.append({
            "file": name, "n_samples": len(t), "n_speciated": int(ok.sum()),
            "n_flagged": int(flagged),
            "si_calcite_median": t.loc[ok, "si_calcite"].median(),
            "si_dolomite_median": t.loc[ok, "si_dolomite"].median(),
            "log_pco2_median": t.loc[ok, "log_pco2"].median(),
            "dic_mmol_kgw_median": t.loc[ok, "dic_mmol_kgw"].median(),
            "cbe_pct_max_abs": t.loc[ok, "cbe_pct"].abs().max(),
            "ca_mg_hco3_molar_median": t.loc[ok, "ca_mg_hco3_molar"].median(),
        })
    fig = tmp / "speciation" / "si_pco2.png"
    _plot_si_pco2(tables, fig)
    return Section(
        title="Water chemistry (PHREEQC speciation)",
        text=("Every field sample speciated with PHREEQC: saturation indices, log pCO2 "
              "(log10 atm), DIC and carbonate species per kg of water, charge balance and "
              "weathering ratios. A molar (Ca+Mg)/HCO3 of 0.5 means pure carbonic-acid "
              "weathering of carbonate; values towards 1 point to sulfuric or nitric acid. "
              "Per-sample results: `speciation/*.csv`; flagged rows keep their reason in "
              "`qa_flags`."),
        tables=[Table(pd.DataFrame(rows), caption="Summary per sample file.")],
        figures=[Figure(fig, "Calcite saturation index against log pCO2 [log10 atm], one "
                             "point per speciated sample.")],
    )


def _plot_si_pco2(tables: dict[str, pd.DataFrame], path: Path) -> None:
    from ..plots.chemistry import plot_si_pco2

    path.parent.mkdir(parents=True, exist_ok=True)
    plot_si_pco2(tables).savefig(path, dpi=150, bbox_inches="tight", pad_inches=0.08)


def map_section(result: Any, tmp: Path, *, synthetic: bool | None = None,
                folder: Path | None = None) -> Section:
    """The map stage: totals, the 15 largest zones and the quick looks.

    Parameters
    ----------
    result : karstsink.mapping.MapResult
        What :func:`karstsink.mapping.run_map` returned.
    tmp : pathlib.Path
        The run's output folder (the ``map/*quicklook.png`` are drawn there).
    synthetic : bool, optional
        Mark the quick looks "SYNTHETIC DATA" (the run's ``[report] synthetic``);
        default: when the rasters carry a ``SYNTHETIC`` tag.
    folder : pathlib.Path, optional
        The folder of the map's rasters (default ``tmp / "map"``; a ``[series]`` run's
        last year is ``map/<year>``).
    """
    from ..plots.maps import quicklook
    from ._map_unit import map_unit, mass_unit, unit_is_co2
    from ._report_notes import map_total_note

    t = result.totals
    zonal = result.zonal
    m = folder if folder is not None else tmp / "map"
    # the unit the map stage wrote on its rasters (t C or, with co2, t CO2 km-2 yr-1)
    unit = map_unit(m / "total_sink.tif")
    co2 = unit_is_co2(unit)
    tables = []
    rel = m.relative_to(tmp).as_posix() if m.is_relative_to(tmp) else "map"
    if zonal is not None:
        label = zonal.columns[1] if zonal.columns[0] == "zone_id" else zonal.columns[0]
        body = zonal[~zonal[label].astype(str).str.startswith("TOTAL")]
        top = body.sort_values("total_sink_t_c_yr", ascending=False).head(15)
        tables.append(Table(top, caption="The 15 zones with the largest total sink "
                                         f"({'t C and t CO2' if co2 else 't C'} per year; "
                                         f"full table: {rel}/zonal_totals.csv)."))
    karst = m / "karst_sink.tif"
    figs: list[Any] = []
    for tif, png, title, caption, marks in (
            (karst, "karst_quicklook.png", "Karst (inorganic) sink",
             "Karst (inorganic, MPD) sink [{unit}]; pixels without carbonate rock (sink 0) "
             "grey and hatched.", True),
            (m / "biological_sink.tif", "biological_quicklook.png", "Biological sink",
             "Biological (ecosystem, NEP) sink [{unit}]; hatched: no carbonate rock.", karst),
            (m / "total_sink.tif", "quicklook.png", "Total carbon sink (karst + biological)",
             "Total (karst + biological) sink [{unit}] with zone outlines; hatched: no "
             "carbonate rock (biological sink only).", karst)):
        if not tif.is_file():
            continue
        own = map_unit(tif)  # each raster's own unit, on its colour bar and caption
        zones = getattr(result, "zones", None) if png == "quicklook.png" else None
        if png == "quicklook.png" and zones is None and (m / "zonal_totals.gpkg").is_file():
            import geopandas as gpd

            zones = gpd.read_file(m / "zonal_totals.gpkg")
        quicklook(tif, m / png, title=title, unit=own, zones=zones,
                  non_carbonate=marks if karst.is_file() else None, synthetic=synthetic)
        figs.append(Figure(m / png, caption.format(unit=own) + " The colour scale ends at "
                           "the 99th percentile; an arrow on the colour bar and the note "
                           "under it say when values above it are drawn in the top colour."))
    k, b = t["karst_sink_t_c_yr"], t["biological_sink_t_c_yr"]  # the totals: t C yr-1
    (f, mass), (g, other) = mass_unit(co2), mass_unit(not co2)  # lead unit, the other
    per_km2 = f * k / max(t["karst_area_km2"], 1e-9)
    amount = f"**{format_mass(k * f, mass, per='yr')}** ({format_mass(k * g, other, per='yr')})"
    bio = format_mass(b * f, mass, per="yr")
    shown = unit_label(unit)
    return Section(
        title="Sink maps",
        text=(f"Karst (inorganic, maximum-potential-dissolution) sink {amount} over "
              f"{t['karst_area_km2']:,.0f} km² of carbonate rock ({per_km2:.2f} {shown} "
              f"of karst); biological sink {bio}. GeoTIFFs (COG, {shown}): "
              f"`{rel}/karst_sink.tif`, `{rel}/biological_sink.tif`, "
              f"`{rel}/total_sink.tif`.\n\n"
              + map_total_note(t, zonal, co2=co2)),
        tables=tables,
        figures=figs,
    )


def comparison_section(table: pd.DataFrame) -> Section:
    """Catchments against the map: ``catchment_comparison.csv`` with its reading.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`karstsink.workflows.comparison.catchment_comparison`.
    """
    return Section(
        title="Catchments against the map",
        text=("Each catchment's **observed** sink against the **map**'s karst sink over its "
              "outline, in t C km⁻² yr⁻¹. *Observed* is the sink realised at the outlet: the "
              "hydrochemical-runoff method (HCO3⁻ flux from discharge and samples, corrected "
              "for sulfuric and nitric acid with the run's `[carbon]` shares, half of its "
              "carbon counted as CO2 taken up). *Map* is the maximum-potential-dissolution "
              "(MPD) equilibrium potential: runoff x carbonate fraction x the CO2 carbon the "
              "karst water at equilibrium with soil pCO2 takes up (from Ca_eq(T, soil pCO2), "
              "less the acids' HCO3 where the map holds acid: the run's assumptions say "
              "which), averaged over the whole outline (carbonate-free pixels count as 0). "
              "A ratio below 1 is expected: water leaves the karst below calcite saturation "
              "and degasses CO2 before the outlet, so the realised sink stays under the "
              "potential; a ratio above 1 points to an outline, runoff or acid share that "
              "does not fit the catchment. Full table: `catchment_comparison.csv`."),
        tables=[Table(table, caption="Observed (outlet, with its 95 % interval) and mapped "
                                     "(MPD potential, outline mean) karst sinks "
                                     "[t C km⁻² yr⁻¹]; ratio = observed / map.")],
    )


def scenario_section(table: pd.DataFrame, sinks: dict[str, float], tmp: Path,
                     cfg: dict, basis: str = "raster") -> Section:
    """The scenario balance in :data:`REPORT_YEARS` and its figure.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`karstsink.scenario.balance` [t CO2 yr-1, shares in %].
    sinks : dict of str to float
        The balanced sinks [t CO2 yr-1].
    tmp : pathlib.Path
        The run's output folder (``scenario/balance.png``).
    cfg : dict
        The checked run configuration.
    basis : str
        Where the sinks come from, a key of :data:`SINK_BASES`.
    """
    from .. import scenario

    cols = ["scenario", "year", "is_anchor", "emissions_t_co2_yr"] + \
        [c for c in table.columns if c.endswith("_sink_t_co2_yr") or c.endswith("_share_pct")] + \
        ["residual_t_co2_yr"]
    span = sorted(set(table["year"]))
    years = [y for y in REPORT_YEARS if y in span] or (
        span if len(span) <= len(REPORT_YEARS) else [span[0], span[-1]])  # no report year
    shown = table[table["year"].isin(years)][[c for c in cols if c in table]]
    sink_text = "; ".join(f"{k} {format_mass(v, 'CO2', per='yr')} "
                          f"({format_mass(v / C_TO_CO2, 'C', per='yr')})"
                          for k, v in sinks.items())
    return Section(
        title="Sinks against emission scenarios",
        text=(f"Sinks: {sink_text}, from {basis_words(basis, sinks)}, held at that value in every "
              "year" + (" (not computed by this run)" if basis == "given" else
                        " (the karst sink is the MPD equilibrium potential, an upper bound of "
                        "what the rivers carry)") + ". "
              f"Emissions: {table.attrs.get('source', scenario.SOURCE)}. "
              f"{table.attrs.get('interpolation', scenario.INTERPOLATION)} The residual is what "
              "other measures (CCUS, efficiency, fuel switching) must close. All in t CO2 per "
              f"year; t C = t CO2 / {C_TO_CO2:.3f}. Full table: `scenario/balance.csv`."),
        tables=[Table(shown, caption="Balance in selected years (t CO2 per year, shares in % of "
                                     "that year's emissions; is_anchor no: interpolated).")],
        figures=[Figure(tmp / "scenario" / "balance.png",
                        "Sinks (stacked) against emission scenarios [Mt CO2 per year].")],
    )


def scenario_share(table: pd.DataFrame, year: int, sinks: dict[str, float],
                   basis: str = "raster") -> tuple[dict[str, Any], str]:
    """The share of one year's emissions the sinks offset, for the summary and the CLI.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`karstsink.scenario.balance` [t CO2 yr-1, shares in %].
    year : int
        The balance's first year ([scenario] start_year).
    sinks : dict of str to float
        The balanced sinks [t CO2 yr-1].
    basis : str
        Where the sinks come from, a key of :data:`SINK_BASES`.

    Returns
    -------
    (dict, str)
        ``share_of_emissions_first_year_pct`` [%] of the table's first scenario (None if
        its emissions are not positive) with ``share_of_emissions_scenario``, ``_year``,
        ``_sinks`` and ``_basis`` (:data:`SINK_BASES`) naming it; and the line the CLI
        prints.
    """
    rows = table[table["year"] == year]
    name = str(rows["scenario"].iloc[0]) if len(rows) else ""
    share = float(rows["total_share_pct"].iloc[0]) if len(rows) else float("nan")
    value = share if np.isfinite(share) else None  # never a NaN in run.json
    summary = {"share_of_emissions_first_year_pct": value, "share_of_emissions_scenario": name,
               "share_of_emissions_year": int(year),
               "share_of_emissions_sinks": " + ".join(sinks),
               "share_of_emissions_basis": basis}
    text = (f"sinks {format_mass(sum(sinks.values()), 'CO2', per='yr')} offset "
            + ("an undefined share (emissions not positive)" if value is None
               else f"{value:.1f} %") + f" of {name} {year} emissions"
            + (" (zones only)" if basis == "zones" else ""))
    return summary, text


def assumptions(cfg: dict, catchments: pd.DataFrame | None, map_result: Any,
                balance: pd.DataFrame | None = None) -> dict[str, str]:
    """Every assumption behind the run's numbers, for the report and ``run.json``.

    The carbon accounting is stated once for the run's ``[carbon]`` parameters
    (:func:`karstsink.carbon.assumptions`), then each catchment's own overrides, then the
    map model and the map's own statements (``MapResult.assumptions``: the acid basis,
    NEP and whether it may double count the weathering uptake), and the source of the
    emission scenarios of the ``balance`` table (:func:`karstsink.scenario.balance`).
    """
    from .. import carbon as cb

    carbon = cfg["carbon"]
    cats = cfg["catchments"] if catchments is not None and len(catchments) else []
    so4_given = any(c["so4"] for c in cats)
    no3_given = any(c["no3"] for c in cats)
    toc_given = any(c["toc"] for c in cats)
    a: dict[str, str] = {}
    sentences = cb.assumptions(
        acid_so4_share=carbon["acid_so4_share"],
        evaporite_so4_share=carbon["evaporite_so4_share"],
        acid_no3_share=carbon["acid_no3_share"],
        bcp_share=carbon["bcp_share"] if cats else None,
        so4_given=so4_given or not cats, no3_given=no3_given or not cats,
        toc_given=toc_given)
    for i, text in enumerate(sentences, start=1):
        a[f"carbon accounting {i}"] = text
    project = cfg.get("project", {})
    co2 = bool(project.get("co2"))
    table, _, name = (project.get("co2_key") or "").rpartition(".")  # "map.model.co2"
    a["unit"] = (("t CO2" if co2 else "t C")
                 + (f", chosen by [{table}] {name} = {str(co2).lower()}" if name
                    else ", the default (neither [project] co2 nor [map.model] co2 is set)")
                 + ": the sink rasters, the summary and the text; tables name their unit "
                   "in every column (t C, and t CO2 where it says so)")
    a["one basis"] = (
        "the [carbon] parameters above are passed to speciation (hco3_carbonic), to every "
        "catchment (unless it overrides a share, listed below) and to the map's karst sink "
        + ("(with so4_mmol_l = " + (f"{carbon['so4_mmol_l']:g}" if carbon["so4_mmol_l"]
                                     is not None else "none")
           + ", no3_mmol_l = " + (f"{carbon['no3_mmol_l']:g}" if carbon["no3_mmol_l"]
                                   is not None else "none")
           + " mmol/L; none = no acid correction on the map)"))
    for c in cats:
        if c["carbon_overrides"]:
            a[f"catchment {c['name']}"] = "overrides [carbon]: " + ", ".join(
                f"{k} = {v:g} (run: {carbon[k]:g})" for k, v in c["carbon_overrides"].items())
        if c["silicate_fraction"] is not None:
            a[f"catchment {c['name']} silicate"] = (
                f"silicate_fraction = {c['silicate_fraction']:g} of carbonic HCO3 from "
                "silicate weathering (all its carbon from CO2)")
    if any(c.get("trend") for c in cats):
        a["trends"] = ("flow-normalised changes as EGRET 3.0.12 runPairs/runGroups (WRTDS "
                       "surfaces, discharges of the whole record or of window_side years "
                       "around each year); the trend's sink row is the HCO3 flux row without "
                       "acid corrections, proportional to the flux")
    a["PHREEQC database"] = str(cfg["speciation"]["database"])
    if cats:
        a["flux estimators"] = ", ".join(sorted({c["method"] for c in cats}))
    if map_result is not None:
        m = cfg["map"]
        a["map model"] = (f"maximum potential dissolution, {m.system} system, Ca_eq(T, pCO2) from "
                          f"PHREEQC ({m.database}); land cover scales soil pCO2 and runoff, "
                          "not the sink")
        a["karst area"] = ("pixels' carbonate fraction x pixel area (the map's own definition; "
                           "Guizhou's 61.9 % outcrop or 73.79 % karst figures are not used)")
        stated = set(a.values())
        own = [str(t) for t in getattr(map_result, "assumptions", None) or []]
        for i, text in enumerate((t for t in own if t not in stated), start=1):
            a[f"map {i}"] = text  # the map's own statements (in the run's keys: in_run)
    if balance is not None:  # the emissions as the balance read them (their own source)
        a["emission scenarios"] = f"{balance.attrs['source']}; {balance.attrs['interpolation']}"
    if any(c.get("boundary") for c in cats) and map_result is not None:
        a["catchment vs map"] = (
            "observed = sink realised at the outlet (hydrochemical-runoff method); map = MPD "
            "equilibrium potential averaged over the catchment outline; observed/map < 1 is "
            "expected (undersaturation, CO2 degassing)")
    return a


def headline(summary: dict, catchments: pd.DataFrame | None, *, co2: bool) -> dict[str, str]:
    """The headline numbers at the top of the report (label -> formatted value).

    Parameters
    ----------
    summary : dict
        ``PipelineResult.summary`` so far (map totals [t C yr-1], shares [%]...).
    catchments : pandas.DataFrame or None
        ``catchment_sinks.csv`` of the run.
    co2 : bool
        Lead in t CO2 (the run's ``co2``, ``summary["co2"]``): the map totals and the
        catchment sinks; else in t C. The other unit follows in brackets; the map totals
        are in t, kt or Mt (:func:`karstsink.report.format_mass`).
    """
    from ._map_unit import mass_unit

    lead = bool(co2)
    # factors from t C to the lead unit and to the other one
    (f, mass), (g, other) = mass_unit(lead), mass_unit(not lead)

    def both(t_c: float) -> str:  # a total [t C yr-1] in the lead unit, then the other
        return (f"{format_mass(t_c * f, mass, per='yr')} "
                f"({format_mass(t_c * g, other, per='yr')})")

    h: dict[str, str] = {}
    if "karst_sink_t_c_yr" in summary:
        h["karst sink, raster total"] = both(summary["karst_sink_t_c_yr"])
        h["biological sink, raster total"] = both(summary["biological_sink_t_c_yr"])
        h["carbonate area [km²]"] = f"{summary['karst_area_km2']:,.0f}"
    if catchments is not None and len(catchments):
        per_km2 = unit_label(f"t {mass} km-2 yr-1")
        for r in catchments.itertuples():
            lo = getattr(r, "sink_lo95_t_c_km2_yr", float("nan"))
            hi = getattr(r, "sink_hi95_t_c_km2_yr", float("nan"))
            # the band in the lead unit, right after the lead value; the other unit last
            if lead:
                lo = getattr(r, "sink_lo95_t_co2_km2_yr", lo * f)
                hi = getattr(r, "sink_hi95_t_co2_km2_yr", hi * f)
                band = (f"95 %: {lo:.1f}-{hi:.1f}; "
                        if pd.notna(lo) and pd.notna(hi) else "")
                value = f"{r.sink_t_co2_km2_yr:.1f} ({band}{r.sink_t_c_km2_yr:.2f} t C)"
            else:
                band = f"95 %: {lo:.2f}-{hi:.2f}; " if pd.notna(lo) and pd.notna(hi) else ""
                value = f"{r.sink_t_c_km2_yr:.2f} ({band}{r.sink_t_co2_km2_yr:.1f} t CO2)"
            h[f"{r.catchment} sink at the outlet, whole record [{per_km2}]"] = value
    if "share_of_emissions_first_year_pct" in summary:
        share = summary["share_of_emissions_first_year_pct"]
        basis = summary.get("share_of_emissions_basis")
        h[f"{summary.get('share_of_emissions_sinks', 'karst + biological')} sinks"
          + (f", {SINK_BASES[basis][0]}" if basis in SINK_BASES else "") + " / "
          f"{summary.get('share_of_emissions_scenario', 'first')} scenario's "
          f"{summary.get('share_of_emissions_year', 'first year')} emissions [%]"] = (
            "not defined (emissions not positive)" if share is None else f"{share:.1f}")
    if "samples_speciated" in summary:
        h["samples speciated"] = str(summary["samples_speciated"])
    return h


def map_line(summary: dict[str, Any], co2: bool, *, total: bool = False) -> str:
    """The map totals as one line of text, in t CO2 with ``co2`` else in t C.

    Parameters
    ----------
    summary : dict
        ``PipelineResult.summary`` with the map totals (``karst_sink_t_c_yr``,
        ``biological_sink_t_c_yr`` [t C yr-1], ``karst_area_km2`` [km2]).
    co2 : bool
        The run's choice (``summary["co2"]``).
    total : bool
        Also the total sink (``total_sink_t_c_yr``), with the other unit in brackets.

    Returns
    -------
    str
        ``karst 1.72 kt CO2/yr over 40 km2 of carbonate rock; biological ...``: each total
        in t, kt or Mt (:func:`karstsink.report.format_mass`).
    """
    from ._map_unit import mass_unit

    (f, mass), (g, other) = mass_unit(co2), mass_unit(not co2)
    k, b = summary["karst_sink_t_c_yr"], summary["biological_sink_t_c_yr"]
    line = (f"karst {format_mass(k * f, mass, per='yr')} over "
            f"{summary.get('karst_area_km2', float('nan')):,.0f} km2 of carbonate rock; "
            f"biological {format_mass(b * f, mass, per='yr')}")
    if total:
        tot = summary["total_sink_t_c_yr"]
        line += (f"; total {format_mass(tot * f, mass, per='yr')} "
                 f"({format_mass(tot * g, other, per='yr')})")
    return line
