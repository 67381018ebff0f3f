"""Carbon sink of carbonate weathering from solute fluxes (hydrochemical-runoff method).

Carbonic-acid weathering of calcite or dolomite takes half of the HCO₃⁻
carbon from soil/atmospheric CO₂ (``CaCO3 + CO2 + H2O -> Ca2+ + 2 HCO3-``),
so the karst sink is ``0.5 x HCO3 flux`` in moles of C (Zeng, Liu & Kaufmann
2019).  The corrections and extensions (sulfuric/nitric acid with an
evaporite share, silicate split, biological carbon pump) are those of
:mod:`karstsink.carbon`, the one carbon accounting of the package; this
module only converts fluxes (kg yr⁻¹ -> mol yr⁻¹ -> t C km⁻² yr⁻¹) and
tabulates them.

Results are in t C and t CO₂ per km² per year, always named; the 95 %
interval is propagated from the HCO₃⁻ flux interval (the sink is linear in
it; SO₄/NO₃/TOC fluxes are taken as exact), optionally widened by the
analytical uncertainty of the sample concentrations
(:func:`analytical_flux_rsd`, combined in quadrature, [3]_); every assumption is written into
the output's ``assumptions`` column, and rows whose acid correction exceeds
the HCO₃⁻ flux get NaN sinks and the flag ``negative_carbonic_hco3`` in
``qa_flags``.

References
----------
.. [1] S. Zeng, Z. Liu and G. Kaufmann, "Sensitivity of the global carbonate
   weathering carbon-sink flux to climate and land-use changes", Nat. Commun.
   10:5749, 2019, doi:10.1038/s41467-019-13772-4.
.. [2] S.-L. Li, D. Calmels, G. Han, J. Gaillardet and C.-Q. Liu, "Sulfuric
   acid as an agent of carbonate weathering constrained by δ13C-DIC: examples
   from Southwest China", Earth Planet. Sci. Lett. 270:189-199, 2008,
   doi:10.1016/j.epsl.2008.02.039.
.. [3] JCGM 100:2008, "Evaluation of measurement data - Guide to the expression of
   uncertainty in measurement" (GUM), section 5.1 (law of propagation of
   uncertainty for uncorrelated input quantities).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from . import carbon, qa
from ._checks import area_km2 as check_area
from .carbon import (
    DEFAULT_ACID_NO3_SHARE,
    DEFAULT_ACID_SO4_SHARE,
    DEFAULT_BCP_SHARE,
    FLAG_NEGATIVE_CARBONIC_HCO3,
)
from .exceptions import DataError, DataQualityWarning
from .flux._common import Z95
from .units import C_TO_CO2, MOLAR_MASS, SECONDS_PER_YEAR

__all__ = ["analytical_flux_rsd", "carbon_sink", "widen_interval"]

_M_C = MOLAR_MASS["C"]  # 12.011 g/mol
_G_PER_T = 1e6


def _arr(x, n=None, name="a flux"):
    if x is None:
        return None
    try:
        a = np.atleast_1d(np.asarray(x, dtype=float))
        return a if n is None else np.broadcast_to(a, (n,)).astype(float)
    except (TypeError, ValueError):
        size = np.size(x) if np.ndim(x) else 1
        raise DataError(f"{name} must be a number or one per row of the HCO3 flux"
                        f"{f' ({n})' if n else ''}; got {size} value(s): {x!r:.80}") from None


def _acid_bound(bounds, i: int, n: int, key: str) -> np.ndarray:
    """The lower (``i`` 0) or upper (1) 95 % bound of an acid ion's flux [kg yr⁻¹] in
    mol yr⁻¹ (NaN where it has none)."""
    if bounds[i] is None:
        return np.full(n, np.nan)
    return _companion(bounds[i], n, f"acid_bounds_kg_yr[{key!r}]") * 1e3 / MOLAR_MASS[key]


def _companion(x, n, name):
    """A flux [kg/yr or mol/yr]: one number or one per row (``n``), none negative."""
    a = _arr(x, n, name)
    with np.errstate(invalid="ignore"):
        if np.any(a < 0):
            raise DataError(f"{name} must not be negative (got {float(np.nanmin(a)):g}): a "
                            "flux is 0 or more; a negative one would shift the sink.")
    return a


def _kg_to_mol(kg_yr, species, n):
    return _arr(kg_yr, n) * 1e3 / MOLAR_MASS[species]


def _evaporite_share(so4_mol, evaporite_so4_kg_yr, evaporite_so4_share, n):
    """The evaporite share of SO4 [0-1] from either keyword (per row when from kg/yr)."""
    if evaporite_so4_kg_yr is not None and evaporite_so4_share is not None:
        raise DataError("Give the evaporite SO4 either as a flux (evaporite_so4_kg_yr) or as a "
                        "share (evaporite_so4_share), not both.")
    if evaporite_so4_kg_yr is None:
        share = carbon.DEFAULT_EVAPORITE_SO4_SHARE if evaporite_so4_share is None \
            else evaporite_so4_share
        return carbon.check_share("evaporite_so4_share", share)
    kg = _arr(evaporite_so4_kg_yr, n)
    if np.any(kg < 0):
        raise DataError(f"evaporite_so4_kg_yr must be >= 0 kg/yr, got {float(kg.min())!r}.")
    evap = kg * 1e3 / MOLAR_MASS["so4"]
    if so4_mol is None:
        return np.zeros(n)
    # an evaporite flux above the SO4 flux takes all of it (share 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(so4_mol > 0, np.minimum(evap / np.where(so4_mol > 0, so4_mol, 1.0),
                                                1.0), np.where(np.isnan(so4_mol), np.nan, 0.0))


def analytical_flux_rsd(conc: ArrayLike, sd: ArrayLike, discharge: ArrayLike) -> float:
    """Relative standard uncertainty of a flux from independent analytical errors of its samples.

    The flux is taken as proportional to the discharge-weighted mean sample
    concentration ``C_fw = Σ Q_i C_i / Σ Q_i``; with independent standard
    uncertainties ``u_i`` of the ``C_i`` (and exact ``Q_i``), GUM eq. (10)
    gives ``u(C_fw) = (Σ (Q_i u_i)²)^½ / Σ Q_i``, and the result is
    ``u(C_fw) / C_fw``.  Samples with a non-finite value, sd or discharge are
    left out.

    Parameters
    ----------
    conc : array_like
        Sample concentrations [any unit, e.g. mg L⁻¹].
    sd : array_like
        Their standard uncertainties [the same unit].
    discharge : array_like
        Discharge on each sample's day [m³ s⁻¹ or any unit].

    Returns
    -------
    float
        ``u(C_fw) / C_fw`` [-]; NaN when no sample is usable.

    Raises
    ------
    DataError
        If an sd is negative.

    Examples
    --------
    Two samples, Q = 1 and 3, C = 200 and 100, u = 10 and 5: C_fw = 500 / 4 =
    125 and u = (10² + 15²)^½ / 4 = 4.507, so 0.0361:

    >>> round(analytical_flux_rsd([200, 100], [10, 5], [1, 3]), 4)
    0.0361
    """
    c, u, q = (np.asarray(x, dtype=float).ravel() for x in (conc, sd, discharge))
    if not len(c) == len(u) == len(q):
        raise DataError("analytical_flux_rsd: conc, sd and discharge must have one value per "
                        f"sample, got {len(c)}, {len(u)} and {len(q)}.")
    ok = np.isfinite(c) & np.isfinite(u) & np.isfinite(q)
    if np.any(u[ok] < 0):
        raise DataError(f"A standard uncertainty is negative ({float(u[ok].min())!r}): sds "
                        "must be >= 0.")
    c, u, q = c[ok], u[ok], q[ok]
    if not len(c) or q.sum() <= 0:
        return float("nan")
    c_fw = float(np.sum(q * c) / q.sum())
    return float(np.sqrt(np.sum((q * u) ** 2)) / q.sum() / c_fw) if c_fw > 0 else float("nan")


def widen_interval(value: ArrayLike, lo95: ArrayLike, hi95: ArrayLike,
                   rsd: ArrayLike, floor: float | None = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A 95 % interval combined in quadrature with a relative standard uncertainty ``rsd``.

    Each half-width ``h`` (below and above ``value``, kept apart for an
    asymmetric interval) becomes ``(h² + (z rsd value)²)^½`` with z =
    1.959964 (the normal 97.5 % quantile): the two sources taken as
    independent (GUM section 5.1).  A NaN bound stays NaN.  The lower bound
    is not taken below ``floor`` (default 0: a flux is not negative, as the
    estimators' own intervals; None: no floor).

    Returns
    -------
    (lo95, hi95) : numpy.ndarray
        In the unit of ``value``.
    """
    v = np.asarray(value, dtype=float)
    add = (Z95 * np.asarray(rsd, dtype=float) * v) ** 2  # one rsd, or one per value
    lo = v - np.sqrt((v - np.asarray(lo95, dtype=float)) ** 2 + add)
    hi = v + np.sqrt((np.asarray(hi95, dtype=float) - v) ** 2 + add)
    if floor is not None:
        lo = np.where(np.isnan(lo), lo, np.maximum(lo, floor))
    return lo, hi


def carbon_sink(
    hco3_flux_kg_yr: ArrayLike | None = None,
    area_km2: float | None = None,
    *,
    hco3_flux_mol_yr: ArrayLike | None = None,
    hco3_lo95_kg_yr: ArrayLike | None = None,
    hco3_hi95_kg_yr: ArrayLike | None = None,
    so4_flux_kg_yr: ArrayLike | None = None,
    no3_flux_kg_yr: ArrayLike | None = None,
    acid_bounds_kg_yr: dict[str, tuple[ArrayLike, ArrayLike]] | None = None,
    acid_so4_share: float = DEFAULT_ACID_SO4_SHARE,
    evaporite_so4_kg_yr: ArrayLike | None = None,
    evaporite_so4_share: float | None = None,
    acid_no3_share: float = DEFAULT_ACID_NO3_SHARE,
    silicate_hco3_fraction: float | None = None,
    bcp_flux_kg_c_yr: ArrayLike | None = None,
    bcp_share: float = DEFAULT_BCP_SHARE,
    hco3_analytical_rsd: ArrayLike | None = None,
    discharge_m3s: ArrayLike | None = None,
    label: ArrayLike | None = None,
) -> pd.DataFrame:
    """Karst carbon sink [t C km⁻² yr⁻¹ and t CO₂ km⁻² yr⁻¹] from solute fluxes.

    Computed with :func:`karstsink.carbon.carbonic_hco3`,
    :func:`~karstsink.carbon.carbonate_weathering_c` and
    :func:`~karstsink.carbon.bcp_c` on the fluxes in mol yr⁻¹.

    Parameters
    ----------
    hco3_flux_kg_yr : float or array_like
        HCO₃⁻ (or carbonate alkalinity as HCO₃⁻) flux [kg HCO₃⁻ yr⁻¹].
    area_km2 : float
        Catchment (karst) area [km²], > 0.
    hco3_flux_mol_yr : float or array_like, optional
        The flux in moles instead [mol yr⁻¹] (give one of the two).
    hco3_lo95_kg_yr, hco3_hi95_kg_yr : optional
        95 % interval of the HCO₃⁻ flux [kg yr⁻¹], propagated to the sink; a lower
        bound below the acid HCO₃⁻ gives a carbonic-acid sink bound of 0, not less.
    so4_flux_kg_yr, no3_flux_kg_yr : optional
        SO₄²⁻ and NO₃⁻ fluxes [kg yr⁻¹ of the ion] for the acid correction;
        without one, there is no correction for that acid.
    acid_bounds_kg_yr : dict, optional
        ``{"so4": (lo95, hi95), "no3": (lo95, hi95)}`` [kg yr⁻¹]: the 95 % intervals of
        those fluxes, taken into the sink's interval the way that widens it (the sink's
        lower bound with the acids' upper bounds, its upper bound with their lower
        bounds; a NaN bound is the flux itself). Combining bounds so covers more than
        95 %: it errs on the side of not overstating the sink's lower bound.
    acid_so4_share : float, default :data:`karstsink.carbon.DEFAULT_ACID_SO4_SHARE` (1)
        Share of the non-evaporite SO₄²⁻ that is sulfuric acid (sulfide
        oxidation, acid deposition) [0-1]; the default is the largest correction.
    evaporite_so4_kg_yr : float or array_like, optional
        SO₄²⁻ flux from gypsum/anhydrite dissolution [kg yr⁻¹]: converted to
        the per-row share ``min(evaporite / SO4, 1)``.
    evaporite_so4_share : float, optional
        Share of SO₄²⁻ from gypsum/anhydrite [0-1] instead (default
        :data:`karstsink.carbon.DEFAULT_EVAPORITE_SO4_SHARE`, 0); give at most
        one of the two evaporite keywords.
    acid_no3_share : float, default :data:`karstsink.carbon.DEFAULT_ACID_NO3_SHARE` (1)
        Share of NO₃⁻ from nitrification of NH₄⁺ (acid-producing) [0-1].
    silicate_hco3_fraction : float, optional
        Share of the carbonic HCO₃⁻ from silicate weathering (from an
        end-member partition) [0-1].  Without it all HCO₃⁻ is treated as
        carbonate-derived and the silicate sink is NaN.
    bcp_flux_kg_c_yr : optional
        Organic carbon flux for the biological carbon pump [kg C yr⁻¹]: TOC
        flux with ``bcp_share`` its autochthonous fraction, or AOC with 1.
    bcp_share : float, default :data:`karstsink.carbon.DEFAULT_BCP_SHARE` (0)
        Autochthonous share of ``bcp_flux_kg_c_yr`` [0-1].  The default 0 is
        conservative (soil-derived DOC is not a sink): state the share measured
        for the river (e.g. mean AOC/TOC 0.73 in the Li River, "Sources of
        organic carbon in the surface water of Lijiang River").
    hco3_analytical_rsd : float or array_like, optional
        Relative standard uncertainty (one, or one per row) of the HCO₃⁻ flux from the analytical
        uncertainty of the sample concentrations [-] (e.g. from
        :func:`analytical_flux_rsd`): the HCO₃⁻ interval is widened with
        :func:`widen_interval` before it is propagated, and the assumptions say
        so.  Default: the interval as given.
    discharge_m3s : float or array_like, optional
        Mean discharge of each row's period [m³ s⁻¹]: a runoff depth over ``area_km2``
        above the highest mean annual precipitation anywhere (rule
        ``implausible_runoff``, 12,000 mm yr⁻¹) warns and flags the row (the
        discharge unit or the area is likely wrong), and so does a mean HCO₃⁻
        concentration (flux over discharge) above dolomite's and calcite's
        solubility under 1 atm of CO₂ (rule ``implausible_hco3``, 37 mmol L⁻¹: a
        concentration unit or the discharge is likely wrong).
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
        ``silicate_sink_t_c_km2_yr``, ``bcp_sink_t_c_km2_yr``,
        ``assumptions`` (text, from :func:`karstsink.carbon.assumptions`) and
        ``qa_flags`` (``negative_carbonic_hco3`` or "").  Where the carbonic
        HCO₃⁻ flux is negative the inorganic and total sink columns are NaN
        (``hco3_carbonic_flux_mol_yr`` keeps the negative value).  Without
        ``silicate_hco3_fraction`` the silicate columns, and without
        ``bcp_flux_kg_c_yr`` the ``bcp`` columns, are NaN: not computed (the total
        counts neither).

    Raises
    ------
    DataError
        Non-positive area, shares outside 0-1, neither/both flux forms, or a negative
        flux (HCO3, SO4, NO3 or TOC: a no-data code such as -999 is no flux).

    Warns
    -----
    DataQualityWarning
        When the acid correction exceeds the HCO₃⁻ flux (negative carbonic
        HCO₃⁻): the acid shares are then implausible for those rows.

    Examples
    --------
    Q = 1 m³ s⁻¹ of 250 mg L⁻¹ HCO₃⁻ over 100 km²:

    >>> flux = 250.0 * 3.15576e7 / 1000.0   # g/m3 x m3/yr -> kg/yr
    >>> out = carbon_sink(flux, 100.0)
    >>> round(float(out["sink_t_c_km2_yr"].iloc[0]), 3)
    7.765
    """
    area_km2 = check_area(area_km2)
    for name, v in (("acid_so4_share", acid_so4_share), ("acid_no3_share", acid_no3_share),
                    ("bcp_share", bcp_share)):
        carbon.check_share(name, v)
    if silicate_hco3_fraction is not None:
        carbon.check_share("silicate_hco3_fraction", silicate_hco3_fraction)
    if (hco3_flux_kg_yr is None) == (hco3_flux_mol_yr is None):
        raise DataError("Give the HCO3 flux either in kg/yr (hco3_flux_kg_yr) or in mol/yr "
                        "(hco3_flux_mol_yr), not both or neither.")
    m_hco3 = MOLAR_MASS["hco3"]
    # a negative flux (or a no-data code such as -999) is refused as a companion flux is
    hco3 = (_companion(hco3_flux_kg_yr, None, "hco3_flux_kg_yr") * 1e3 / m_hco3
            if hco3_flux_mol_yr is None
            else _companion(hco3_flux_mol_yr, None, "hco3_flux_mol_yr"))
    n = len(hco3)
    # interval arguments are in kg/yr whichever form the flux came in
    lo = _kg_to_mol(hco3_lo95_kg_yr, "hco3", n) if hco3_lo95_kg_yr is not None \
        else np.full(n, np.nan)
    hi = _kg_to_mol(hco3_hi95_kg_yr, "hco3", n) if hco3_hi95_kg_yr is not None \
        else np.full(n, np.nan)
    rsd = None if hco3_analytical_rsd is None else np.asarray(hco3_analytical_rsd, float)
    if rsd is not None and not (np.all(np.isfinite(rsd)) and np.all(rsd >= 0)
                                and rsd.size in (1, n)):
        raise DataError("hco3_analytical_rsd must be a number >= 0 (or one per row), got "
                        f"{hco3_analytical_rsd!r}.")
    if rsd is not None:
        lo, hi = widen_interval(hco3, lo, hi, rsd)
    so4 = (_companion(so4_flux_kg_yr, n, "so4_flux_kg_yr") * 1e3 / MOLAR_MASS["so4"]
           if so4_flux_kg_yr is not None else None)
    no3 = (_companion(no3_flux_kg_yr, n, "no3_flux_kg_yr") * 1e3 / MOLAR_MASS["no3"]
           if no3_flux_kg_yr is not None else None)
    shares = {"acid_so4_share": acid_so4_share,
              "evaporite_so4_share": _evaporite_share(so4, evaporite_so4_kg_yr,
                                                      evaporite_so4_share, n),
              "acid_no3_share": acid_no3_share}

    so4_acid = (carbon.acid_so4(so4, acid_so4_share=acid_so4_share,
                                evaporite_so4_share=shares["evaporite_so4_share"])
                if so4 is not None else np.zeros(n))
    no3_acid = (carbon.acid_no3(no3, acid_no3_share=acid_no3_share) if no3 is not None
                else np.zeros(n))
    carbonic = np.broadcast_to(carbon.carbonic_hco3(hco3, so4, no3, **shares), (n,)).copy()
    # the lower bound of a carbonic HCO3 flux is no flux: an HCO3 bound below the acid
    # HCO3 does not make a negative sink
    unknown = set(acid_bounds_kg_yr or {}) - {"so4", "no3"}
    if unknown:
        raise DataError(f"acid_bounds_kg_yr takes 'so4' and 'no3', not {sorted(unknown)}.")
    bounds = {k: (_acid_bound(v, 0, n, k), _acid_bound(v, 1, n, k))
              for k, v in (acid_bounds_kg_yr or {}).items()}
    ions = {"so4": so4, "no3": no3}

    def bound(key: str, i: int):  # an acid's flux bound (its flux where it has none)
        x = ions[key]
        if key not in bounds or x is None:
            return x
        return np.where(np.isfinite(bounds[key][i]), bounds[key][i], x)

    worst = {k: bound(k, 1) for k in ions}
    best = {k: bound(k, 0) for k in ions}
    carb_lo = np.maximum(carbon.carbonic_hco3(lo, worst["so4"], worst["no3"], **shares), 0.0)
    carb_hi = carbon.carbonic_hco3(hi, best["so4"], best["no3"], **shares)
    negative = carbon.carbon_flag_masks(carbonic)[FLAG_NEGATIVE_CARBONIC_HCO3]
    if negative.any():
        warnings.warn(
            f"The acid correction exceeds the HCO3 flux (carbonic HCO3 < 0) in "
            f"{int(negative.sum())} of {n} row(s): check the acid shares and evaporite SO4; "
            f"their sink is NaN and flagged {FLAG_NEGATIVE_CARBONIC_HCO3}.",
            DataQualityWarning, stacklevel=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(hco3 > 0, carbonic / hco3, np.nan)
    flags = [[FLAG_NEGATIVE_CARBONIC_HCO3] if neg else [] for neg in negative]
    if discharge_m3s is not None:
        _flag_implausible(flags, hco3, np.broadcast_to(np.asarray(discharge_m3s, float), (n,)),
                          float(area_km2))

    f_sil = silicate_hco3_fraction

    def to_t_c(mol_carbonic):
        carb, sil = carbon.carbonate_weathering_c(mol_carbonic, silicate_fraction=f_sil)
        return carb * _M_C / _G_PER_T, sil * _M_C / _G_PER_T

    carb_t, sil_t = to_t_c(carbonic)
    toc_given = bcp_flux_kg_c_yr is not None
    bcp_t = (carbon.bcp_c(_companion(bcp_flux_kg_c_yr, n, "bcp_flux_kg_c_yr"),
                          bcp_share=bcp_share) / 1e3 if toc_given
             else np.zeros(n))
    total_t = carb_t + sil_t + bcp_t
    lo_t = sum(to_t_c(carb_lo)) + bcp_t
    hi_t = sum(to_t_c(carb_hi)) + bcp_t
    # a negative carbonic HCO3 gives no sink: NaN and a flag, never a negative number
    carb_t, total_t, lo_t, hi_t = (np.where(negative, np.nan, x)
                                   for x in (carb_t, total_t, lo_t, hi_t))
    sil_t = (np.where(negative, np.nan, sil_t) if silicate_hco3_fraction is not None
             else np.full(n, np.nan))
    bcp_col = bcp_t if toc_given else np.full(n, np.nan)  # no TOC: not computed, not a 0

    text = carbon.assumptions(
        acid_so4_share=acid_so4_share, evaporite_so4_share=shares["evaporite_so4_share"],
        acid_no3_share=acid_no3_share, bcp_share=bcp_share,
        silicate_fraction=silicate_hco3_fraction, so4_given=so4 is not None,
        no3_given=no3 is not None, toc_given=toc_given)
    if bounds:
        text.append("the 95 % interval also takes the " + " and ".join(
            k.upper() for k in bounds) + " flux intervals of the acid correction, the way "
            "that widens it (lower sink bound with the acids' upper bounds): more than 95 %")
    if rsd is None:
        text.append(f"M(HCO3) = {m_hco3} g/mol; 95 % interval propagated from the HCO3 flux "
                    "interval" + (" and the acid fluxes' bounds" if bounds else " only"))
    else:
        r = (f"{float(rsd.min()):.3g}" if np.ptp(rsd) == 0 else
             f"{float(rsd.min()):.3g}-{float(rsd.max()):.3g} by period")
        text.append(f"M(HCO3) = {m_hco3} g/mol; 95 % interval propagated from the HCO3 flux "
                    "interval combined in quadrature with the analytical uncertainty of the "
                    f"sample concentrations (relative standard uncertainty {r} of the "
                    f"HCO3 flux; half-widths h -> sqrt(h^2 + ({Z95:.4f} x rsd x "
                    "flux)^2), the lower bound not below 0); SO4, NO3 and TOC fluxes taken "
                    "as exact")

    out = pd.DataFrame({
        "area_km2": float(area_km2),
        "hco3_flux_mol_yr": hco3,
        "so4_acid_flux_mol_yr": so4_acid,
        "no3_acid_flux_mol_yr": no3_acid,
        "hco3_carbonic_flux_mol_yr": carbonic,
        "acid_correction_pct": 100.0 * (1.0 - scale),
        "carbonate_sink_t_c_yr": carb_t,
        "silicate_sink_t_c_yr": sil_t,
        "bcp_sink_t_c_yr": bcp_col,
        "sink_t_c_yr": total_t,
        "sink_t_c_km2_yr": total_t / area_km2,
        "sink_lo95_t_c_km2_yr": lo_t / area_km2,
        "sink_hi95_t_c_km2_yr": hi_t / area_km2,
        "sink_t_co2_km2_yr": total_t / area_km2 * C_TO_CO2,
        "sink_lo95_t_co2_km2_yr": lo_t / area_km2 * C_TO_CO2,
        "sink_hi95_t_co2_km2_yr": hi_t / area_km2 * C_TO_CO2,
        "carbonate_sink_t_c_km2_yr": carb_t / area_km2,
        "silicate_sink_t_c_km2_yr": sil_t / area_km2,
        "bcp_sink_t_c_km2_yr": bcp_col / area_km2,
        "assumptions": "; ".join(text),
        "qa_flags": pd.array([qa.join(f) for f in flags], dtype="string"),
    })
    if label is not None:
        labels = np.atleast_1d(label)
        if labels.size != n:
            raise DataError(f"label must give one label per row of the HCO3 flux ({n}); got "
                            f"{labels.size}.")
        out.index = pd.Index(labels)
    return out


def _flag_implausible(flags: list[list[str]], hco3_mol_yr: np.ndarray, q_m3s: np.ndarray,
                      area_km2: float) -> None:
    """Flag (and warn once per rule) the rows no water could give, where a unit or the area
    is likely wrong: ``implausible_runoff``, the discharge over the area a runoff depth above
    the highest mean precipitation anywhere; ``implausible_hco3``, the HCO3 flux over the
    discharge a mean concentration above dolomite's and calcite's solubility under 1 atm
    of CO2."""
    from .hydrology import runoff_depth_mm

    runoff, conc = qa.threshold("implausible_runoff"), qa.threshold("implausible_hco3")
    assert isinstance(runoff, float) and isinstance(conc, float)  # numbers, not ranges
    with np.errstate(divide="ignore", invalid="ignore"):
        checks = (
            ("implausible_runoff", runoff_depth_mm(q_m3s, area_km2) > runoff,
             f"The discharge over the catchment area of {area_km2:g} km² is a runoff depth "
             f"above {runoff:,.0f} mm/yr (more than it rains anywhere): check the discharge "
             "unit (L/s read as m3/s?) and the area; the sink is computed as given and its "
             "rows flagged implausible_runoff."),
            # mol/yr over m3/yr is mol/m3, which is mmol/L
            ("implausible_hco3", hco3_mol_yr / (q_m3s * SECONDS_PER_YEAR) > conc,
             f"The HCO3 flux over the discharge is a mean concentration above {conc:g} "
             "mmol/L (more than dolomite or calcite gives under 1 atm of CO2): check the "
             "concentration unit of the samples (mg/L read as mmol/L?) and the discharge; the "
             "sink is computed as given and its rows flagged implausible_hco3."),
        )
    for code, high, text in checks:
        if high.any():
            for i in np.flatnonzero(high):
                flags[i].append(code)
            # one text for every call of a run (its years and its total): said once
            warnings.warn(text, DataQualityWarning, stacklevel=3)
