"""One catchment from files to fluxes and sinks: what ``karstsink flux`` (and ``run``) run.

:func:`run_flux` reads a discharge record and a samples table, estimates the
daily flux of the constituent (and of SO₄²⁻, NO₃⁻ or TOC for the sink
corrections), aggregates it and computes the carbon sink per year;
:func:`write_flux_outputs` writes everything atomically to a folder.

This is a workflow (layer L3): it chains the readers of :mod:`karstsink.io`, the
estimators of :mod:`karstsink.flux` and :func:`karstsink.sink.carbon_sink`.
``karstsink.flux.pipeline`` re-exports it for compatibility.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__, carbon
from .._checks import area_km2 as check_area
from .._seed import resolve_seed
from ..exceptions import DataError
from ..flux import estimate
from ..flux._base import FluxEstimate
from ..flux.aggregate import (
    DEFAULT_YEAR_START_MONTH,
    aggregate,
    flag_beyond_samples,
    flag_sample_years,
)
from ..io.discharge import DEFAULT_MAX_GAP_DAYS, read_discharge
from ..io.flux_samples import flux_samples_from_table, read_flux_table
from ..io.write import json_text
from ..sink import carbon_sink
from ..units import DAYS_PER_YEAR, ELEMENT_QUALIFIERS, MOLAR_MASS
from ._flux_options import (  # the option rules, importable from here as before
    METHOD_ONLY_OPTIONS,
    SHARE_COLUMNS,
    SOURCE_OPTIONS,
    FluxOptionError,
    check_method_options,
    shares_with_columns,
)
from ._flux_outputs import samples_in_input_order
from ._flux_warnings import each_warning_once, warn_unused_acid_columns

__all__ = ["ANALYTICAL_SD_COLUMNS", "ANNUAL_COLUMNS", "METHOD_ONLY_OPTIONS", "SHARE_COLUMNS",
           "SOURCE_OPTIONS", "FluxOptionError", "FluxRun", "analytical_uncertainty",
           "check_method_options", "flux_basis", "is_hco3", "run_flux", "shares_with_columns",
           "write_flux_outputs"]

#: Column order of ``annual.csv`` (the documented contract of docs/formats.md first).
ANNUAL_COLUMNS = ["year", "discharge_m3s", "conc_mg_L", "flux_kg_day", "flux_kg_yr",
                  "flux_lo95_kg_yr", "flux_hi95_kg_yr", "flux_se_kg_day", "flux_lo95_kg_day",
                  "flux_hi95_kg_day", "flux_kg", "n_days", "n_missing_days", "complete",
                  "start", "end", "n_samples", "n_days_beyond_samples",
                  # (WRTDS only) flow-normalised and WRTDS-Kalman means
                  "fn_conc_mg_L", "fn_flux_kg_day", "kalman_conc_mg_L", "kalman_flux_kg_day"]
_SINK_SPECIES = ("hco3", "alk", "alkalinity")
#: What each companion flux is for, and what the sink goes without if it is left out.
_COMPANION_USE = {
    "so4": ("the sink's sulfuric-acid correction", "that correction"),
    "no3": ("the sink's nitric-acid correction", "that correction"),
    "toc": ("the biological carbon pump", "it")}


def is_hco3(constituent: str, species: str | None = None) -> bool:
    """Whether a constituent is HCO₃⁻ (or alkalinity as HCO₃⁻), whose flux is a carbon sink.

    ``constituent`` is the samples column or key (``hco3``, ``alk``); ``species``
    the canonical key the reader recognised in it (``"HCO3- (mg/L)"`` -> ``hco3``).
    """
    return constituent.strip().lower() in _SINK_SPECIES or species in _SINK_SPECIES


@dataclass
class FluxRun:
    """Everything one flux run produced (tables in memory, ready to write)."""

    estimate: FluxEstimate
    discharge: pd.DataFrame
    #: the samples as the estimator used them, in the samples file's order (samples.csv)
    samples: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    sink: pd.DataFrame
    settings: dict[str, Any]
    companions: dict[str, FluxEstimate] = field(default_factory=dict)
    companion_tables: dict[str, dict[str, pd.DataFrame]] = field(default_factory=dict)
    #: daily WRTDS-Kalman table (``method = "wrtds"``, ``kalman_iter`` > 0), else None
    kalman: pd.DataFrame | None = None
    #: the run's data-quality warnings, each text once (as shown; ``model.json`` keeps them)
    warning_texts: list[str] = field(default_factory=list)

    def model_json(self) -> dict[str, Any]:
        """The ``model.json`` content (no private objects)."""
        def clean(d):
            if isinstance(d, dict):
                return {str(k): clean(v) for k, v in d.items() if not str(k).startswith("_")}
            if isinstance(d, (list, tuple)):
                return [clean(v) for v in d]
            if isinstance(d, (np.floating, float)):
                return None if not np.isfinite(d) else float(d)
            if isinstance(d, np.integer):
                return int(d)
            if isinstance(d, np.ndarray):
                return clean(d.tolist())
            if isinstance(d, (np.bool_,)):
                return bool(d)
            return d if isinstance(d, (str, int, bool, type(None))) else str(d)

        q = self.discharge.attrs
        s = self.samples
        return clean({
            "karstsink_version": __version__,
            "settings": self.settings,
            "discharge": {
                "source": q.get("source"), "unit_in_file": q.get("q_unit"),
                "first_day": f"{self.discharge.index.min():%Y-%m-%d}",
                "last_day": f"{self.discharge.index.max():%Y-%m-%d}",
                "n_days": len(self.discharge),
                "n_missing_days": q.get("n_missing_days"),
                "gaps": [str(g) + (" interpolated" if g.filled else " missing")
                         for g in q.get("gaps", [])],
                "flag_counts": q.get("flag_counts", {}),
            },
            "samples": {
                "source": s.attrs.get("source"), "n_rows": len(s),
                "n_used": int(s["used"].sum()) if "used" in s else None,
                "n_censored_used": int((s["censored"].astype(bool) & s["used"]).sum())
                if "used" in s else None,
                "n_outside_record": int((~s["in_record"]).sum()) if "in_record" in s else None,
            },
            "model": self.estimate.model,
            "companions": {k: v.model for k, v in self.companions.items()},
            "sink_assumptions": (self.sink["assumptions"].iloc[0] if len(self.sink) else None),
            "warnings": self.warning_texts,
        })


#: Sample columns of a standard uncertainty of the HCO3 concentration [mmol/L], first found
#: used: carbonic HCO3 and DIC from ``karstsink speciate --draws`` (the carbonic one includes
#: the SO4/NO3 measurement uncertainty of the acid correction), or the alkalinity's own.
ANALYTICAL_SD_COLUMNS = ("hco3_carbonic_mmol_l_sd", "hco3_mmol_l_sd", "dic_mmol_kgw_sd")


def analytical_uncertainty(est: FluxEstimate, smp: pd.DataFrame,
                           daily: pd.DataFrame) -> dict[str, Any] | None:
    """The HCO3 flux's relative analytical uncertainty from per-sample sds, or None.

    The first of :data:`ANALYTICAL_SD_COLUMNS` in the samples table [mmol L⁻¹,
    taken as mmol L⁻¹ of HCO3⁻: DIC per kg of water at 1 kg L⁻¹] becomes an sd of
    ``conc_mg_L`` (x M(HCO3⁻)); :func:`karstsink.sink.analytical_flux_rsd` weights
    the samples the estimator used by the discharge on their day.
    """
    col = next((c for c in ANALYTICAL_SD_COLUMNS if c in smp.columns), None)
    if col is None:
        return None
    from ..sink import analytical_flux_rsd

    sd = pd.to_numeric(smp[col], errors="coerce").to_numpy(float) * MOLAR_MASS["hco3"]
    conc = pd.to_numeric(smp["conc_mg_L"], errors="coerce").to_numpy(float)
    dates = pd.to_datetime(smp["date"])
    q = daily["discharge_m3s"].reindex(dates).to_numpy(float)
    used = np.ones(len(smp), dtype=bool)
    es = est.samples
    if "used" in es and len(es) == len(smp) and (
            pd.to_datetime(es["date"]).to_numpy() == dates.to_numpy()).all():
        used = es["used"].to_numpy(dtype=bool)
    ok = used & np.isfinite(sd) & np.isfinite(conc) & np.isfinite(q)
    if not ok.any():
        return None
    rsd = analytical_flux_rsd(conc[ok], sd[ok], q[ok])
    if not np.isfinite(rsd):
        return None
    note = (f"analytical uncertainty from column {col} of {int(ok.sum())} sample(s), "
            "taken as independent (a systematic calibration or titration bias, which does "
            "not average out, is not included): sd of the discharge-weighted mean "
            "concentration (sum((Q_i sd_i)^2))^0.5 / sum(Q_i), relative to that mean, over "
            "the whole record for the total and over each water year's own samples for that "
            "year (never less than the record's; the record's for a year without samples); "
            "it may partly repeat analytical noise already in the estimator's residuals, so "
            "the interval is on the wide side")
    return {"column": col, "n_samples": int(ok.sum()), "rsd": float(rsd), "note": note,
            "_samples": (dates.to_numpy()[ok], conc[ok], sd[ok], q[ok])}


def _period_rsd(analytical: dict[str, Any], table: pd.DataFrame) -> np.ndarray:
    """Per row of an annual table (``start``, ``end``): the relative analytical uncertainty
    of that water year's own samples, never below the whole record's (which a year
    without usable samples takes)."""
    from ..sink import analytical_flux_rsd

    dates, conc, sd, q = analytical["_samples"]
    out = np.full(len(table), analytical["rsd"])
    if not {"start", "end"} <= set(table.columns):
        return out
    for i, (a, b) in enumerate(zip(pd.to_datetime(table["start"]),
                                   pd.to_datetime(table["end"]), strict=True)):
        inside = (dates >= a.to_datetime64()) & (dates <= b.to_datetime64())
        if inside.any():
            own = analytical_flux_rsd(conc[inside], sd[inside], q[inside])
            if np.isfinite(own):
                out[i] = max(out[i], own)
    return out


def flux_basis(species: str | None, unit: str | None) -> str:
    """What a flux table's numbers are the mass of: the species itself (the reader converts
    NO3-N, SO4-S, alkalinity as CaCO3), C for TOC/DOC, else what the unit states."""
    read = f"; the file's unit: {unit}" if unit else ""
    if species in ("toc", "doc"):
        return f"organic carbon as C: conc_mg_L in mg C/L, fluxes in kg C{read}"
    key = "hco3" if species == "alk" else str(species)
    if key not in MOLAR_MASS:
        return f"mass on the basis the samples file's unit states{read}"
    name = {"sio2": "SiO2"}.get(key, key.upper() if key[-1].isdigit() else key.title())
    other = [f"{name}-{e.upper()}" for e, of in ELEMENT_QUALIFIERS.items() if key in of]
    other += ["as CaCO3"] if key == "hco3" else []
    return (f"mass of {name} itself" + (f" (not {' or '.join(other)})" if other else "")
            + f": conc_mg_L in mg {name}/L, fluxes in kg {name}{read}")


def _annual_for_sink(tables, key="annual"):
    a = tables[key]
    return a.set_index("year") if "year" in a else a


def run_flux(
    discharge: str | os.PathLike | pd.DataFrame,
    samples: str | os.PathLike | pd.DataFrame,
    *,
    area_km2: float,
    constituent: str = "hco3",
    units: str | None = None,
    method: str = "loadest",
    q_unit: str | None = None,
    q_column: str | None = None,
    date_column: str | None = None,
    date_format: str | None = None,
    max_gap_days: int = DEFAULT_MAX_GAP_DAYS,
    allow_gaps: bool = False,
    year_start_month: int = DEFAULT_YEAR_START_MONTH,
    so4: str | None = None,
    no3: str | None = None,
    toc: str | None = None,
    acid_so4_share: float | None = None,
    evaporite_so4_share: float | None = None,
    acid_no3_share: float | None = None,
    bcp_share: float | None = None,
    silicate_hco3_fraction: float | None = None,
    method_options: dict[str, Any] | None = None,
    proxy: str | None = None,
    extra_regressors: list[str] | None = None,
    kalman_iter: int = 200,
    samples_sheet: str | int | None = None,
    discharge_sheet: str | int | None = None,
) -> FluxRun:
    """Estimate fluxes and the carbon sink of one catchment.

    Parameters
    ----------
    discharge, samples : path-like or DataFrame
        Discharge record (see :func:`karstsink.io.discharge.read_discharge`) and
        samples (see :func:`karstsink.io.flux_samples.read_flux_samples`).  The
        samples file is read once, by the sample reader of
        :mod:`karstsink.io.samples`; the constituent and the SO₄²⁻/NO₃⁻/TOC
        companions all come from that one canonical table.
    area_km2 : float
        Catchment area [km²].
    constituent : str
        Column/species of the samples (``hco3``, ``alk``, ``HCO3- (mg/L)``...).
    units : str, optional
        Unit of the sample columns whose header states none (``mg/L``); a unit
        in a header wins, and a ``units`` contradicting one is a UnitError.
    method : str
        ``loadest`` (default), ``rating``, ``direct`` or ``wrtds``.
    q_unit : str, optional
        Discharge unit (``m3/s``, ``L/s``, ``cfs``, ``m3/d``) when the discharge
        header states none; a header unit wins.
    q_column : str, optional
        Discharge column of the discharge file (default: recognised by name).
    date_column : str, optional
        Date column of the samples (default: recognised by name).
    date_format : str, optional
        strftime format (``"%d/%m/%Y"``) of the dates of both files, needed when
        their day/month order cannot be told from the cells.
    max_gap_days, allow_gaps
        Gaps in the discharge record: as
        :func:`karstsink.io.discharge.read_discharge` (up to 7 days interpolated
        and flagged ``interpolated``; longer ones refused unless ``allow_gaps``).
    year_start_month : int, default 10
        First month of the years the annual table sums (10: October water years;
        1: calendar years).
    so4, no3, toc : str, optional
        Sample columns (or canonical keys) of SO₄²⁻, NO₃⁻ and TOC/DOC, read with
        their header units (``NO3-N (mg/L)``, ``SO4-S``, mmol/L...) or ``units``,
        whose fluxes (same method) feed the acid correction and the BCP term
        (TOC flux in kg C).
    acid_so4_share, evaporite_so4_share, acid_no3_share, bcp_share, silicate_hco3_fraction
        See :func:`karstsink.sink.carbon_sink` (``evaporite_so4_share`` is the
        share of SO₄²⁻ from evaporites [0-1]); None: the default of
        :mod:`karstsink.carbon`.  A share given without the column it acts on
        (``bcp_share`` without ``toc``) is refused (:class:`FluxOptionError`).
    method_options : dict, optional
        Passed to the estimator (e.g. ``{"model": 9}`` for LOADEST).
    proxy : str, optional
        Column of the discharge file with a continuous proxy (EC) for the
        ``direct`` method's regression.
    extra_regressors : list of str, optional
        Columns of the discharge file used as extra LOADEST regressors (model
        99, e.g. specific conductance as in LOADEST application 5).
    kalman_iter : int
        ``method = "wrtds"``: WRTDS-Kalman realisations of the annual
        ``kalman_*`` columns (0: none), seeded with the WRTDS ``seed`` (default: a fresh
        one, recorded with the method options).
    samples_sheet, discharge_sheet : str or int, optional
        Worksheet of an XLSX samples or discharge file: the sheet of exactly that name,
        else a 0-based number (:func:`karstsink.io.text.read_xlsx_rows`) [default: the
        first sheet with a sample header; the first sheet].

    Returns
    -------
    FluxRun
        ``samples`` holds the samples as the estimator used them, in the order of the
        samples file, with its ``sample_id`` last when it has a sample-ID column.
    """
    area_km2 = check_area(area_km2)
    opts = dict(method_options or {})
    check_method_options(method, {  # before any file is read
        "--proxy": proxy, "--extra": extra_regressors, "--so4": so4, "--no3": no3, "--toc": toc,
        "--acid-so4-share": acid_so4_share, "--evaporite-so4-share": evaporite_so4_share,
        "--acid-no3-share": acid_no3_share, "--bcp-share": bcp_share}, model=opts.get("model"))
    given = (acid_so4_share, evaporite_so4_share, acid_no3_share, bcp_share)  # None: default
    acid_so4_share, evaporite_so4_share, acid_no3_share, bcp_share = (
        d if v is None else v for v, d in zip(given, carbon.DEFAULT_SHARES.values(), strict=True))
    with each_warning_once(texts := list[str]()) as companion:  # the run's warnings, each once
        extra_cols = [c for c in ([proxy] if proxy else []) + list(extra_regressors or [])]
        daily = read_discharge(discharge, q_unit=q_unit, value_column=q_column,
                               max_gap_days=max_gap_days, allow_gaps=allow_gaps,
                               extra_columns=extra_cols or None, date_format=date_format,
                               sheet=discharge_sheet)
        if proxy:
            opts["proxy"] = proxy
        if extra_regressors:
            opts["extra_regressors"] = list(extra_regressors)
            opts["model"] = 99  # 0 (choose) or 99: the checked rule
        if method == "wrtds":  # one seed for the bootstrap and WRTDS-Kalman, recorded
            opts["seed"] = resolve_seed(opts.get("seed"))
        table = read_flux_table(samples, units=units, date_format=date_format,
                                sheet=samples_sheet)  # read once
        smp = flux_samples_from_table(table, constituent, date_column=date_column,
                                      date_format=date_format)
        if is_hco3(constituent, smp.attrs.get("species")):  # the sink's acid columns
            warn_unused_acid_columns(table, {"so4": so4, "no3": no3})
        est = estimate(daily, smp, constituent, method=method, **opts)
        est.model["basis"] = flux_basis(smp.attrs.get("species"), smp.attrs.get("units"))
        tables = aggregate(est, year_start_month=year_start_month)
        kal = None
        if method == "wrtds":  # flow-normalised and WRTDS-Kalman annual columns
            from ..flux._kalman import wrtds_kalman
            from ..flux.trends import annual_trend_columns

            if kalman_iter:
                kal = wrtds_kalman(est, niter=int(kalman_iter), seed=opts["seed"])
            tables["annual"] = tables["annual"].merge(
                annual_trend_columns(est, year_start_month=year_start_month, kalman_iter=0,
                                     kalman=kal),
                on="year", how="left")
        est.samples.attrs.update(smp.attrs)

        companions: dict[str, FluxEstimate] = {}
        ctables: dict[str, dict[str, pd.DataFrame]] = {}
        for key, col in (("so4", so4), ("no3", no3), ("toc", toc)):
            if col is None:
                continue
            companion(key)
            limit = {"censored_at": "limit"} if method == "direct" and key != "toc" else {}
            try:
                s2 = flux_samples_from_table(table, col, species=key, date_column=date_column,
                                             date_format=date_format)
                companions[key] = estimate(daily, s2, col, method=method, **opts, **limit)
            except DataError as err:  # say which option's flux it is, and how to go on
                use, without = _COMPANION_USE[key]
                raise DataError(
                    f"{err} (This is the {key.upper()} flux of --{key} {col!r} ({key} = in a "
                    f"run file), for {use}: fix that column, or leave --{key} out and the sink "
                    f"goes without {without}.)") from err
            companions[key].model["basis"] = flux_basis(s2.attrs.get("species"),
                                                        s2.attrs.get("units"))
            ctables[key] = aggregate(companions[key], year_start_month=year_start_month)
        companion(None)  # the sink rows' warnings (negative carbonic HCO3...) are its own
        limit_ions = method == "direct" and bool({"so4", "no3"} & set(companions))
        hco3 = is_hco3(constituent, smp.attrs.get("species"))  # e.g. "HCO3- (mg/L)"
        analytical = analytical_uncertainty(est, smp, daily) if hco3 else None
        rows = []
        for kind, tkey, lab in (("year", "annual", "year"), ("total", "total", "period")):
            t = tables[tkey]
            if t.empty:
                continue
            def comp(name, _tkey=tkey, col="flux_kg_yr"):
                return ctables[name][_tkey][col].to_numpy() if name in ctables else None
            if hco3:
                so4_flux = comp("so4")
                sk = carbon_sink(
                    t["flux_kg_yr"].to_numpy(), area_km2,
                    hco3_lo95_kg_yr=t["flux_lo95_kg_yr"].to_numpy(),
                    hco3_hi95_kg_yr=t["flux_hi95_kg_yr"].to_numpy(),
                    so4_flux_kg_yr=so4_flux, no3_flux_kg_yr=comp("no3"),
                    acid_bounds_kg_yr={k: (comp(k, col="flux_lo95_kg_yr"),
                                           comp(k, col="flux_hi95_kg_yr"))
                                       for k in ("so4", "no3") if k in ctables},
                    acid_so4_share=acid_so4_share, evaporite_so4_share=evaporite_so4_share,
                    acid_no3_share=acid_no3_share,
                    silicate_hco3_fraction=silicate_hco3_fraction,
                    bcp_flux_kg_c_yr=comp("toc"), bcp_share=bcp_share,
                    hco3_analytical_rsd=(None if not analytical else analytical["rsd"]
                                         if kind == "total" else _period_rsd(analytical, t)),
                    discharge_m3s=t["discharge_m3s"].to_numpy())
                notes = ([analytical["note"]] if analytical else []) + (
                    [carbon.CENSORED_ACID_ASSUMPTION + " (direct method)"] if limit_ions else [])
                if notes:
                    sk["assumptions"] = sk["assumptions"] + "; " + "; ".join(notes)
            else:
                sk = pd.DataFrame({"area_km2": [area_km2] * len(t), "sink_t_c_km2_yr": np.nan,
                                   "sink_t_co2_km2_yr": np.nan,
                                   "assumptions": f"constituent {constituent!r} is not HCO3: "
                                                  "no carbon sink computed"})
            sk.insert(0, "period", t[lab].astype(str).to_numpy() if kind == "year" else "total")
            sk.insert(1, "hco3_flux_kg_yr" if hco3 else "flux_kg_yr", t["flux_kg_yr"].to_numpy())
            sk.insert(2, "complete", t["complete"].to_numpy())
            missing = t["n_missing_days"].to_numpy(dtype=int)
            if (missing > 0).any():  # allow_gaps: the rate stands on the days with a flux
                sk["assumptions"] = [a if m == 0 else
                                     f"{a}; {m} day(s) of the period have no flux: its rate "
                                     f"is the mean daily flux of its {n} day(s) with one x "
                                     f"{DAYS_PER_YEAR:g}" for a, m, n in
                                     zip(sk["assumptions"], missing, t["n_days"], strict=True)]
            rows.append(sk)
        sink_table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
        if "qa_flags" in sink_table:  # the years without a sample of their own
            sink_table["qa_flags"] = flag_beyond_samples(sink_table, tables["annual"])
            if hco3:  # and those whose samples make their sink doubtful
                sink_table["qa_flags"] = flag_sample_years(sink_table, est.samples,
                                                           year_start_month)
        taken = smp.attrs.get("value_taken_as")
        if taken and "assumptions" in sink_table:  # the file never said what it holds
            sink_table["assumptions"] += (f"; the samples file's 'value' column was taken as "
                                          f"{taken} (its header does not name it)")
    settings = {
        "constituent": constituent, "units": units, "date_format": date_format,
        "method": method, "samples_sheet": samples_sheet, "discharge_sheet": discharge_sheet,
        "method_options": opts, "area_km2": area_km2, "q_unit_option": q_unit,
        "max_gap_days": max_gap_days, "allow_gaps": allow_gaps,
        "year_start_month": year_start_month, "so4": so4, "no3": no3, "toc": toc,
        "acid_so4_share": acid_so4_share, "evaporite_so4_share": evaporite_so4_share,
        "acid_no3_share": acid_no3_share, "bcp_share": bcp_share,
        "silicate_hco3_fraction": silicate_hco3_fraction, "proxy": proxy,
        "extra_regressors": list(extra_regressors or []),
        "kalman_iter": int(kalman_iter) if method == "wrtds" else None,
        "analytical_uncertainty": (None if analytical is None else
                                   {k: v for k, v in analytical.items()
                                    if not k.startswith("_")}),
    }
    return FluxRun(estimate=est, discharge=daily, tables=tables,
                   samples=samples_in_input_order(est.samples, smp, table),
                   sink=sink_table, settings=settings, companions=companions,
                   companion_tables=ctables, kalman=kal, warning_texts=texts)


def write_flux_outputs(run: FluxRun, out_dir: str | os.PathLike, *, plots: bool = True,
                       overwrite: bool = True, name: str | None = None) -> list[Path]:
    """Write ``daily.csv``, ``monthly.csv``, ``annual.csv``, ``calendar.csv``, ``total.csv``,
    ``sink.csv``, ``samples.csv``, ``model.json`` and PNG plots, all or nothing.

    ``out_dir`` is replaced as a whole (:func:`karstsink.io.atomic.atomic_dir`): it may
    not be or hold the discharge or samples file the run read; an existing folder is
    refused unless ``overwrite`` (and karstsink wrote it).  ``name`` (the catchment's
    name) goes into the plot titles.

    Returns the written paths (relative names inside ``out_dir``).
    """
    from ..io.atomic import atomic_dir
    from ..io.write import to_csv

    written = []
    sources = [p for p in (run.discharge.attrs.get("source"), run.samples.attrs.get("source"))
               if isinstance(p, (str, os.PathLike)) and Path(p).exists()]
    with atomic_dir(out_dir, overwrite=overwrite, inputs=sources) as tmp:
        tmp = Path(tmp)
        daily = run.estimate.daily.copy()
        daily.index.name = "date"
        if "qa_flags" in daily.columns:
            daily = daily.rename(columns={"qa_flags": "estimate_flags"})
        daily["discharge_qa_flags"] = run.discharge["qa_flags"].reindex(daily.index).to_numpy()
        # every table through io.write.to_csv: UTF-8, with a BOM under --excel
        to_csv(daily.reset_index().assign(date=lambda d: d["date"].dt.strftime("%Y-%m-%d")),
               tmp / "daily.csv", index=False)
        for stem, table in [("annual", run.tables["annual"]), *(  # one column order for all
                (f"annual_{k}", t["annual"]) for k, t in run.companion_tables.items())]:
            to_csv(table[[c for c in ANNUAL_COLUMNS if c in table.columns]], tmp / f"{stem}.csv",
                   index=False)
        for table_name in ("monthly", "calendar", "total"):
            to_csv(run.tables[table_name], tmp / f"{table_name}.csv", index=False)
        to_csv(run.sink, tmp / "sink.csv", index=False)
        smp = run.samples.copy()
        if "date" in smp:
            smp["date"] = pd.to_datetime(smp["date"]).dt.strftime("%Y-%m-%d")
        to_csv(smp, tmp / "samples.csv", index=False)
        (tmp / "model.json").write_text(
            json_text(run.model_json()),
            encoding="utf-8")
        if plots:
            from ..plots.flux import save_flux_plots

            save_flux_plots(run.estimate, tmp / "plots", name=name)
        written = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
    return written
