"""Carbon sink of carbonate weathering from solute fluxes (hydrochemical-runoff method).

Carbonic-acid weathering of calcite or dolomite takes half of the HCO₃⁻
carbon from soil/atmospheric CO₂ (``CaCO3 + CO2 + H2O -> Ca2+ + 2 HCO3-``),
so the karst sink is ``0.5 x HCO3 flux`` in moles of C (Zeng, Liu & Kaufmann
2019; science.md 1.1).  Corrections and extensions (science.md 1.2-1.3, 4):

* sulfuric/nitric acid weathering produces HCO₃⁻ without CO₂ uptake:
  ``HCO3_carbonic = HCO3 - 2 SO4_acid - NO3_acid`` (molar), with
  ``SO4_acid = share x (SO4 - SO4_evaporite)`` (gypsum SO₄ comes with its own
  Ca and no acid) and ``NO3_acid = share x NO3``;
* a silicate share of the (carbonic) HCO₃⁻, when an end-member partition
  gives it: silicate weathering takes *all* its HCO₃⁻ carbon from CO₂ and is
  a long-term sink; the carbonate part (factor ½) is a short-term sink;
  they are reported apart;
* the biological carbon pump (BCP): autochthonous organic carbon exported,
  ``AOC = share x TOC`` (Sun et al. 2021 style; science.md 4).

Results are in t C and t CO₂ per km² per year, always named; the 95 %
interval is propagated from the HCO₃⁻ flux interval (the sink is linear in
it; SO₄/NO₃/TOC fluxes are taken as exact); every assumption is written into
the output's ``assumptions`` column.

References
----------
.. [1] S. Zeng, Z. Liu and G. Kaufmann, "Sensitivity of the global carbonate
   weathering carbon-sink flux to climate and land-use changes", Nat. Commun.
   10:5749, 2019, doi:10.1038/s41467-019-13772-4.
.. [2] S.-L. Li, D. Calmels, G. Han, J. Gaillardet and C.-Q. Liu, "Sulfuric
   acid as an agent of carbonate weathering constrained by δ13C-DIC: examples
   from Southwest China", Earth Planet. Sci. Lett. 270:189-199, 2008,
   doi:10.1016/j.epsl.2008.02.039.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from .exceptions import DataError, DataQualityWarning
from .units import C_TO_CO2, MOLAR_MASS

__all__ = ["carbon_sink"]

_M_C = MOLAR_MASS["C"]  # 12.011 g/mol


def _arr(x, n=None):
    if x is None:
        return None
    a = np.atleast_1d(np.asarray(x, dtype=float))
    return a if n is None else np.broadcast_to(a, (n,)).astype(float)


def carbon_sink(
    hco3_flux_kg_yr: ArrayLike | None = None,
    area_km2: float | None = None,
    *,
    hco3_flux_mol_yr: ArrayLike | None = None,
    hco3_lo95_kg_yr: ArrayLike | None = None,
    hco3_hi95_kg_yr: ArrayLike | None = None,
    so4_flux_kg_yr: ArrayLike | None = None,
    no3_flux_kg_yr: ArrayLike | None = None,
    acid_so4_share: float = 1.0,
    evaporite_so4_kg_yr: ArrayLike = 0.0,
    acid_no3_share: float = 1.0,
    silicate_hco3_fraction: float | None = None,
    bcp_flux_kg_c_yr: ArrayLike | None = None,
    bcp_share: float = 1.0,
    label: ArrayLike | None = None,
) -> pd.DataFrame:
    """Karst carbon sink [t C km⁻² yr⁻¹ and t CO₂ km⁻² yr⁻¹] from solute fluxes.

    Parameters
    ----------
    hco3_flux_kg_yr : float or array_like
        HCO₃⁻ (or carbonate alkalinity as HCO₃⁻) flux [kg HCO₃⁻ yr⁻¹].
    area_km2 : float
        Catchment (karst) area [km²], > 0.
    hco3_flux_mol_yr : float or array_like, optional
        The flux in moles instead [mol yr⁻¹] (give one of the two).
    hco3_lo95_kg_yr, hco3_hi95_kg_yr : optional
        95 % interval of the HCO₃⁻ flux [kg yr⁻¹], propagated to the sink.
    so4_flux_kg_yr, no3_flux_kg_yr : optional
        SO₄²⁻ and NO₃⁻ fluxes [kg yr⁻¹ of the ion] for the acid correction.
    acid_so4_share : float, default 1.0
        Share of the non-evaporite SO₄²⁻ that is acid-derived (sulfide
        oxidation, acid deposition) [0-1].
    evaporite_so4_kg_yr : float, default 0
        SO₄²⁻ flux from gypsum/anhydrite dissolution [kg yr⁻¹], excluded.
    acid_no3_share : float, default 1.0
        Share of NO₃⁻ from nitrification of NH₄⁺ (acid-producing) [0-1].
    silicate_hco3_fraction : float, optional
        Share of the carbonic HCO₃⁻ from silicate weathering (from an
        end-member partition, science.md 1.3) [0-1].  Without it all HCO₃⁻ is
        treated as carbonate-derived and the silicate sink is NaN.
    bcp_flux_kg_c_yr : optional
        Organic carbon flux for the biological carbon pump [kg C yr⁻¹]: TOC
        flux with ``bcp_share`` the autochthonous fraction, or AOC with 1.
    bcp_share : float, default 1.0
        Autochthonous share of ``bcp_flux_kg_c_yr`` [0-1] (Li River mean
        AOC/TOC 0.73, science.md 4).
    label : optional
        Row label(s) (e.g. water years) for the output index.

    Returns
    -------
    pandas.DataFrame
        One row per input value with ``area_km2``, ``hco3_flux_mol_yr``,
        ``so4_acid_flux_mol_yr``, ``no3_acid_flux_mol_yr``,
        ``hco3_carbonic_flux_mol_yr``, ``acid_correction_pct``,
        ``carbonate_sink_t_c_yr``, ``silicate_sink_t_c_yr``,
        ``bcp_sink_t_c_yr``, ``sink_t_c_yr``, ``sink_t_c_km2_yr`` (with
        ``_lo95``/``_hi95``), ``sink_t_co2_km2_yr`` (with ``_lo95``/``_hi95``),
        the per-km² components ``carbonate_sink_t_c_km2_yr``,
        ``silicate_sink_t_c_km2_yr``, ``bcp_sink_t_c_km2_yr``, and
        ``assumptions`` (text).

    Raises
    ------
    DataError
        Non-positive area, shares outside 0-1, or neither/both flux forms.

    Warns
    -----
    DataQualityWarning
        When the acid correction exceeds the HCO₃⁻ flux (negative carbonic
        HCO₃⁻): the acid shares are then implausible.

    Examples
    --------
    science.md 1.1: Q = 1 m³ s⁻¹ of 250 mg L⁻¹ HCO₃⁻ over 100 km²:

    >>> flux = 250.0 * 3.15576e7 / 1000.0   # g/m3 x m3/yr -> kg/yr
    >>> out = carbon_sink(flux, 100.0)
    >>> round(float(out["sink_t_c_km2_yr"].iloc[0]), 3)
    7.765
    """
    if area_km2 is None or not np.isfinite(area_km2) or area_km2 <= 0:
        raise DataError(f"area_km2 must be a positive number of km², got {area_km2!r}.")
    for name, v in (("acid_so4_share", acid_so4_share), ("acid_no3_share", acid_no3_share),
                    ("bcp_share", bcp_share)):
        if not 0.0 <= float(v) <= 1.0:
            raise DataError(f"{name} must be between 0 and 1, got {v!r}.")
    if (hco3_flux_kg_yr is None) == (hco3_flux_mol_yr is None):
        raise DataError("Give the HCO3 flux either in kg/yr (hco3_flux_kg_yr) or in mol/yr "
                        "(hco3_flux_mol_yr), not both or neither.")
    m_hco3 = MOLAR_MASS["hco3"]
    if hco3_flux_mol_yr is None:
        hco3 = _arr(hco3_flux_kg_yr) * 1e3 / m_hco3
        to_mol = 1e3 / m_hco3
    else:
        hco3 = _arr(hco3_flux_mol_yr)
        to_mol = 1e3 / m_hco3  # interval arguments stay in kg/yr
    n = len(hco3)
    lo = _arr(hco3_lo95_kg_yr, n)
    hi = _arr(hco3_hi95_kg_yr, n)
    lo = lo * to_mol if lo is not None else np.full(n, np.nan)
    hi = hi * to_mol if hi is not None else np.full(n, np.nan)
    assumptions = [
        "0.5 of carbonate-weathering HCO3 carbon is from soil/atmospheric CO2 "
        "(CaCO3 + CO2 + H2O -> Ca2+ + 2 HCO3-)",
        f"1 t C = {C_TO_CO2:.4f} t CO2; M(HCO3) = {m_hco3} g/mol; M(C) = {_M_C} g/mol",
    ]
    so4_acid = np.zeros(n)
    no3_acid = np.zeros(n)
    if so4_flux_kg_yr is not None:
        so4 = _arr(so4_flux_kg_yr, n) * 1e3 / MOLAR_MASS["so4"]
        evap = _arr(evaporite_so4_kg_yr, n) * 1e3 / MOLAR_MASS["so4"]
        so4_acid = acid_so4_share * np.maximum(so4 - evap, 0.0)
        assumptions.append(
            f"sulfuric-acid correction: {acid_so4_share:g} of non-evaporite SO4 is acid-derived "
            f"(evaporite SO4 {float(np.nanmean(_arr(evaporite_so4_kg_yr))):g} kg/yr excluded); "
            "HCO3_carbonic = HCO3 - 2 SO4_acid - NO3_acid")
    else:
        assumptions.append("no sulfuric-acid correction (no SO4 flux given)")
    if no3_flux_kg_yr is not None:
        no3_acid = acid_no3_share * _arr(no3_flux_kg_yr, n) * 1e3 / MOLAR_MASS["no3"]
        assumptions.append(f"nitric-acid correction: {acid_no3_share:g} of NO3 from "
                           "nitrification (acid-producing)")
    else:
        assumptions.append("no nitric-acid correction (no NO3 flux given)")
    corr = 2.0 * so4_acid + no3_acid
    carbonic = hco3 - corr
    if np.any(carbonic < 0):
        warnings.warn(
            "The acid correction exceeds the HCO3 flux (carbonic HCO3 < 0): check the acid "
            "shares and evaporite SO4; the sink is reported as computed (negative).",
            DataQualityWarning, stacklevel=2)
    scale = np.where(hco3 > 0, carbonic / hco3, np.nan)
    carb_lo, carb_hi = lo - corr, hi - corr
    if silicate_hco3_fraction is None:
        f_sil = 0.0
        assumptions.append("all HCO3 treated as carbonate-derived (no silicate partition given); "
                           "carbonate sink is short-term (~1e5 yr)")
    else:
        f_sil = float(silicate_hco3_fraction)
        if not 0.0 <= f_sil <= 1.0:
            raise DataError(f"silicate_hco3_fraction must be 0..1, got {f_sil!r}.")
        assumptions.append(
            f"{f_sil:g} of carbonic HCO3 from silicate weathering (all its C from CO2, "
            "long-term sink); the rest from carbonates (factor 0.5, short-term sink)")

    def to_t_c(mol_carbonic):
        carb = 0.5 * (1.0 - f_sil) * mol_carbonic * _M_C / 1e6
        sil = 1.0 * f_sil * mol_carbonic * _M_C / 1e6
        return carb, sil

    carb_t, sil_t = to_t_c(carbonic)
    if bcp_flux_kg_c_yr is not None:
        bcp_t = bcp_share * _arr(bcp_flux_kg_c_yr, n) / 1e3
        assumptions.append(f"biological carbon pump: {bcp_share:g} of the given organic-C flux "
                           "is autochthonous (AOC) and counted as sink")
    else:
        bcp_t = np.zeros(n)
        assumptions.append("no biological-carbon-pump term (no TOC/AOC flux given)")
    total_t = carb_t + sil_t + bcp_t
    lo_t = sum(to_t_c(carb_lo)) + bcp_t
    hi_t = sum(to_t_c(carb_hi)) + bcp_t
    assumptions.append("95 % interval propagated from the HCO3 flux interval only")
    out = pd.DataFrame({
        "area_km2": float(area_km2),
        "hco3_flux_mol_yr": hco3,
        "so4_acid_flux_mol_yr": so4_acid,
        "no3_acid_flux_mol_yr": no3_acid,
        "hco3_carbonic_flux_mol_yr": carbonic,
        "acid_correction_pct": 100.0 * (1.0 - scale),
        "carbonate_sink_t_c_yr": carb_t,
        "silicate_sink_t_c_yr": sil_t if silicate_hco3_fraction is not None else np.nan,
        "bcp_sink_t_c_yr": bcp_t,
        "sink_t_c_yr": total_t,
        "sink_t_c_km2_yr": total_t / area_km2,
        "sink_lo95_t_c_km2_yr": lo_t / area_km2,
        "sink_hi95_t_c_km2_yr": hi_t / area_km2,
        "sink_t_co2_km2_yr": total_t / area_km2 * C_TO_CO2,
        "sink_lo95_t_co2_km2_yr": lo_t / area_km2 * C_TO_CO2,
        "sink_hi95_t_co2_km2_yr": hi_t / area_km2 * C_TO_CO2,
        "carbonate_sink_t_c_km2_yr": carb_t / area_km2,
        "silicate_sink_t_c_km2_yr": (sil_t / area_km2 if silicate_hco3_fraction is not None
                                     else np.nan),
        "bcp_sink_t_c_km2_yr": bcp_t / area_km2,
        "assumptions": "; ".join(assumptions),
    })
    if label is not None:
        out.index = pd.Index(np.atleast_1d(label))
    return out
