"""Texts of the report that explain its numbers: the flux model, its interval, map totals.

Used by :mod:`karstsink.workflows.sections`. Everything is read from what the run
wrote (``flux/<catchment>/model.json`` and ``total.csv``, the map totals and
``zonal_totals.csv``), so the report explains the numbers of this run, not typical ones.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["interval_note", "map_total_note", "model_note"]

_METHOD_REF = {
    "loadest": "LOADEST (Runkel, Crawford & Cohn 2004, USGS TM 4-A5)",
    "wrtds": "WRTDS (Hirsch, Moyer & Archfield 2010, doi:10.1111/j.1752-1688.2010.00482.x)",
    "rating": "a rating curve C = a Q^b (log-log least squares, back-transformed with a bias "
              "correction factor)",
    "direct": "interpolation of the sampled concentrations",
}
#: the rating curve's back-transformation (karstsink.flux.rating.fit_rating)
_CF_NAMES = {"exp_s2": "exp(s^2/2), lognormal residuals", "smearing": "Duan's smearing",
             "none": "none"}


def _num(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _float(v: Any) -> float:
    """A number of model.json; NaN for a value it has not (null: a NaN when written)."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def _fmt(v: Any, spec: str) -> str:
    """A number of model.json formatted with ``spec``; "n/a" for none (null or NaN)."""
    x = _float(v)
    return format(x, spec) if math.isfinite(x) else "n/a"


def _model_doc(folder: Path) -> dict[str, Any]:
    path = folder / "model.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("model", {})
    except (OSError, ValueError):
        return {}


def model_note(folder: Path, name: str) -> tuple[str, pd.DataFrame | None]:
    """The fitted concentration model of one catchment: a paragraph and a coefficient table.

    Parameters
    ----------
    folder : pathlib.Path
        The catchment's output folder, holding ``model.json``.
    name : str
        Catchment name (for the text).

    Returns
    -------
    tuple
        Markdown-lite text and a table of coefficients (``None`` if the model has none).
    """
    m = _model_doc(folder)
    method = str(m.get("method", ""))
    if not m:
        return "", None
    text = f"**Model.** {_METHOD_REF.get(method, method)}"
    table = None
    if method == "loadest":
        coef = m.get("coefficients_amle") or m.get("coefficients_mle") or {}
        sd = m.get("coefficient_std_dev") or {}
        terms = list(m.get("terms") or [])
        table = pd.DataFrame({
            "coefficient": list(coef),
            "term": [terms[i] if i < len(terms) else "" for i in range(len(coef))],
            "estimate": [float(v) for v in coef.values()],
            "std_dev": [float(sd.get(k, float("nan"))) for k in coef],
        })
        cands = m.get("candidates") or {}
        picked = (f", chosen among models {', '.join(sorted(cands, key=int))} by the lowest "
                  f"AIC ({_fmt(m['aic'], '.3f')})" if len(cands) > 1 and "aic" in m else "")
        text += (f": model **{m.get('model')}**{picked}, `{m.get('equation', '')}` with lnQ "
                 "and time centred as in LOADEST, coefficients by "
                 f"{str(m.get('estimation', 'amle')).upper()} from {m.get('n_samples')} "
                 f"samples ({m.get('n_censored', 0)} censored). R² = "
                 f"**{_fmt(m.get('r_squared_pct'), '.2f')} %** of ln(load): high by "
                 "construction, since the load is C x Q and Q is a regressor; the fit of the "
                 "concentration is better judged by the residual variance "
                 f"{_fmt(m.get('residual_variance_amle'), '.3g')} (ln units², a residual "
                 f"SD of {_fmt(100 * _float(m.get('residual_variance_amle')) ** 0.5, '.1f')}"
                 " %), PPCC "
                 f"{_fmt(m.get('ppcc'), '.3f')} (normality of residuals) and the serial "
                 f"correlation {_fmt(m.get('serial_correlation'), '.2f')}. ")
        b = _float(m.get("b_chemostatic"))
        if math.isfinite(b):
            text += (f"C-Q exponent b = a1 - 1 = **{b:.3f}** (ln C against ln Q at the "
                     "centre; 0 = chemostatic, -1 = pure dilution)"
                     + (": nearly chemostatic." if abs(b) < 0.15 else "."))
    elif method == "rating" and "b" in m:
        text += (f": C = a Q^b with a = {_fmt(m['a'], '.4g')}, "
                 f"**b = {_fmt(m['b'], '.3f')}** (C-Q exponent), "
                 f"bias correction factor {_fmt(m.get('cf'), '.4f')} "
                 f"({_CF_NAMES.get(str(m.get('bias_correction')), 'see model.json')}).")
    else:
        scalars = {k: v for k, v in m.items() if isinstance(v, (int, float))
                   and not isinstance(v, bool)}
        if scalars:
            text += ": " + ", ".join(f"{k} = {v:.4g}" for k, v in list(scalars.items())[:8])
        text += "."
    return text, table


def interval_note(folder: Path, method: str) -> str:
    """What the catchment's 95 % interval includes, with its width for the whole record."""
    try:
        tot = pd.read_csv(folder / "total.csv").iloc[0]
        mean, se = float(tot["flux_kg_day"]), float(tot["flux_se_kg_day"])
        lo, hi = float(tot["flux_lo95_kg_day"]), float(tot["flux_hi95_kg_day"])
        down, up = 100 * (mean - lo) / mean, 100 * (hi - mean) / mean
        spread = (f"±{(down + up) / 2:.1f} %" if abs(up - down) < 0.05 * max(up, down, 1e-12)
                  else f"-{down:.1f} % to +{up:.1f} %")
        error = ("a bootstrap standard deviation" if method == "wrtds"
                 else "a standard error of prediction")
        width = (f" Over this record the mean flux is {_num(mean)} kg/d with {error} of "
                 f"{_num(se)} kg/d ({100 * se / mean:.2f} %), and the interval runs "
                 f"{spread} about it.")
        m = _model_doc(folder)
        s2, n = m.get("residual_variance_amle"), m.get("n_samples")
        if method == "loadest" and s2 and n:
            sd = 100 * float(s2) ** 0.5
            width += (f" It is narrow because the samples scatter little about the model "
                      f"(residual SD {sd:.1f} %) and {int(n)} samples fix its level to about "
                      f"{sd:.1f} / √{int(n)} = {sd / int(n) ** 0.5:.2f} %, while the daily "
                      f"scatter averages out over {int(tot['n_days']):,} days.")
    except (OSError, KeyError, ValueError, IndexError, ZeroDivisionError):
        width = ""
    if method == "loadest":
        what = ("**Why the 95 % interval is narrow.** It is LOADEST's interval of the mean "
                "load (lognormal with the AMLE standard error of prediction): it includes "
                "the residual scatter of the samples about the regression and the "
                "uncertainty of its coefficients, and nothing else.")
    elif method == "wrtds":
        what = ("**What the 95 % interval includes.** The spread of the WRTDS bootstrap "
                "replicates (samples resampled, surfaces refitted): sampling and model-fit "
                "uncertainty only.")
    else:
        what = "**What the 95 % interval includes.** The estimator's statistical error only."
    analytical = _analytical(folder)
    if analytical:
        return (what + width + " It does **not** include errors of the discharge record, of "
                "the catchment area, of the acid shares of the sink correction, or of the "
                "choice of model. The **sink** interval is that HCO3 flux interval combined "
                "in quadrature with the laboratory analyses' "
                f"uncertainty (column `{analytical.get('column')}`, "
                f"{analytical.get('n_samples')} samples, taken as independent; relative "
                f"standard uncertainty {_fmt(analytical.get('rsd'), '.3g')} "
                f"over the record), then carried through the sink formula{_ACID_BOUNDS}.")
    return (what + width + " It does **not** include errors of the discharge record, of the "
            "laboratory analyses, of the catchment area, of the acid shares of the sink "
            "correction, or of the choice of model; the sink interval is the HCO3 flux "
            f"interval carried through the sink formula{_ACID_BOUNDS}.")


#: How the sink interval takes the SO4 and NO3 flux intervals (karstsink.sink.carbon_sink).
_ACID_BOUNDS = (" with, where the acid correction is made, the SO4 and NO3 flux intervals "
                "taken the way that widens it (the sink's lower bound with the acids' upper "
                "bounds), so it covers more than 95 %")


def _analytical(folder: Path) -> dict | None:
    """``settings.analytical_uncertainty`` of the catchment's model.json, if any."""
    import json

    try:
        doc = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = (doc.get("settings") or {}).get("analytical_uncertainty")
    return found if isinstance(found, dict) else None


def map_total_note(totals: dict[str, Any], zonal: pd.DataFrame | None, *,
                   co2: bool = False) -> str:
    """Why the map's raster total and the sum over its zones differ, in this run's numbers
    (``totals`` and the zone table's TOTAL row in t C; stated in t CO2 with ``co2``, the
    unit of the map's rasters)."""
    if zonal is None or not len(zonal):
        return ""
    label = zonal.columns[1] if zonal.columns[0] == "zone_id" else zonal.columns[0]
    tot = zonal[zonal[label].astype(str).str.startswith("TOTAL")]
    if not len(tot) or "karst_sink_t_c_yr" not in tot:
        return ""
    from ._map_unit import mass_unit

    f, mass = mass_unit(co2)
    z = tot.iloc[0]
    k_grid, k_zone = f * float(totals["karst_sink_t_c_yr"]), f * float(z["karst_sink_t_c_yr"])
    b_grid = f * float(totals["biological_sink_t_c_yr"])
    b_zone = f * float(z["biological_sink_t_c_yr"])
    a_grid, a_zone = float(totals["karst_area_km2"]), float(z["karst_area_km2"])
    valid_grid = float(totals["grid_area_km2"]) - float(totals["nodata_area_km2"])
    valid_zone = float(z["area_km2"]) - float(z.get("nodata_area_km2", 0.0))
    return (f"**Raster total against the sum over zones.** The totals above add up every "
            f"pixel of the raster: karst {k_grid:,.0f} t {mass}/yr, biological "
            f"{b_grid:,.0f} t {mass}/yr, over {a_grid:,.1f} km² of carbonate rock. The "
            f"zone table's `TOTAL (all zones)` row adds up the zones only: karst "
            f"{k_zone:,.0f} t {mass}/yr, biological {b_zone:,.0f} t {mass}/yr, over "
            f"{a_zone:,.1f} km² of carbonate rock. The difference, "
            f"{k_grid - k_zone:,.0f} t {mass}/yr "
            f"of karst sink ({100 * (k_grid - k_zone) / k_grid:.2f} %) and "
            f"{a_grid - a_zone:,.1f} km² of carbonate rock, lies in pixels outside every zone "
            f"polygon: {valid_grid - valid_zone:,.1f} km² of mapped (not nodata) area that no "
            "zone covers, such as a strip along the outline of the zone layer (a pixel on a "
            "zone boundary is shared by the fraction of its sub-pixels in each zone, so "
            "nothing is counted twice). The map totals in the summary use the raster total; "
            "per-zone numbers the zone table, and so does the balance against emissions "
            "when it takes the map's sinks ([scenario] sinks_from = \"map\").")
