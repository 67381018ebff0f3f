"""Weathering diagnostics: ion ratios and the end-member partition of solute sources.

Plain numpy functions over concentrations in mmol L⁻¹ (scalars or arrays; NaN
in gives NaN out).  The stoichiometry:

- carbonic acid: ``CaCO3 + CO2 + H2O -> Ca²⁺ + 2 HCO3⁻`` (and dolomite with
  2 CO2): molar (Ca+Mg)/HCO3 = 0.5, equivalent 2(Ca+Mg)/HCO3 = 1;
- sulfuric acid: ``2 CaCO3 + H2SO4 -> 2 Ca²⁺ + 2 HCO3⁻ + SO4²⁻`` and nitric
  acid ``CaCO3 + HNO3 -> Ca²⁺ + HCO3⁻ + NO3⁻``: molar (Ca+Mg)/HCO3 = 1.

The sulfuric/nitric-acid correction itself (``HCO3_carbonic = HCO3 - 2 SO4_acid
- NO3_acid``) is :func:`karstsink.carbon.carbonic_hco3`, the one carbon
accounting of the package; :func:`partition_sources` uses
:func:`karstsink.carbon.acid_hco3` for its carbonate CO2 consumption.
"""

from __future__ import annotations

import numpy as np

from .. import carbon
from ..exceptions import DataError

#: Seawater molar ratios to Cl⁻ used for the rain correction when no local rain
#: chemistry is given (consistent with the mean composition of
#: seawater: Na 469, Mg 52.8, Ca 10.3, K 10.2, SO4 28.2, Cl 546 mmol kg⁻¹).
SEAWATER_RATIOS: dict[str, float] = {"na": 0.86, "ca": 0.019, "mg": 0.097, "k": 0.018,
                                     "so4": 0.052}

#: Silicate end-member ratios (Gaillardet et al. 1999, Chem. Geol. 159:3-30), molar:
#: (Ca/Na)sil = 0.35 ± 0.15, (Mg/Na)sil = 0.24 ± 0.12.
SILICATE_CA_NA = 0.35
SILICATE_MG_NA = 0.24


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _nonneg(x) -> np.ndarray:
    """``x`` as floats, NaN where it is negative (a concentration cannot be)."""
    x = _arr(x)
    with np.errstate(invalid="ignore"):
        return np.where(x >= 0, x, np.nan)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den, NaN where either is NaN or negative, or den is not > 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = (num >= 0) & (den > 0)
        return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def ca_mg_hco3_molar(ca, mg, hco3) -> np.ndarray:
    """Molar (Ca²⁺ + Mg²⁺) / HCO3⁻ [mol mol⁻¹].

    Parameters
    ----------
    ca, mg, hco3 : array_like
        Concentrations [mmol L⁻¹]; ``hco3`` is alkalinity as HCO3⁻.

    Returns
    -------
    numpy.ndarray
        0.5 for pure carbonic-acid weathering of calcite or dolomite, 1.0 for
        the pure sulfuric/nitric-acid pathway [-]; NaN where an input is
        missing or negative or HCO3⁻ is not > 0.
    """
    return _ratio(_nonneg(ca) + _nonneg(mg), _nonneg(hco3))


def ca_mg_hco3_so4_eq(ca, mg, hco3, so4) -> np.ndarray:
    """Equivalent ratio [Ca²⁺ + Mg²⁺] / [HCO3⁻ + SO4²⁻] = 2(Ca + Mg) / (HCO3 + 2 SO4).

    Parameters
    ----------
    ca, mg, hco3, so4 : array_like
        Concentrations [mmol L⁻¹].

    Returns
    -------
    numpy.ndarray
        Ratio of equivalents [-]; about 1 when carbonate weathering by carbonic
        plus sulfuric acid explains the major ions; NaN where an input is
        missing or negative.
    """
    den = _nonneg(hco3) + 2.0 * _nonneg(so4)
    return _ratio(2.0 * (_nonneg(ca) + _nonneg(mg)), den)


def partition_sources(ca, mg, na, k, cl, so4, *, no3=0.0, cl_rain=None, rain_ratios=None,
                      ca_na_sil=SILICATE_CA_NA, mg_na_sil=SILICATE_MG_NA,
                      evaporite_so4_share=carbon.DEFAULT_EVAPORITE_SO4_SHARE,
                      acid_so4_share=carbon.DEFAULT_ACID_SO4_SHARE,
                      acid_no3_share=carbon.DEFAULT_ACID_NO3_SHARE,
                      gypsum_so4_share=None) -> dict[str, np.ndarray]:
    """Forward end-member partition of cations: rain, evaporite, silicate, carbonate.

    The forward model of Gaillardet et al. (1999) and Galy & France-Lanord
    (1999), all molar, per sample:

    1. rain: ``X_rain = Cl_rain * (X/Cl)_rain`` (default: all Cl⁻ is
       atmospheric and rain has seawater ratios);
    2. evaporite: ``Na_evap = Cl - Cl_rain`` (halite);
       ``Ca_evap = evaporite_so4_share * SO4`` (gypsum, non-rain SO4, 0 where the
       rain SO4 exceeds the sample's);
    3. silicate: ``Na_sil = Na - Na_rain - Na_evap``, ``K_sil = K - K_rain``,
       ``Ca_sil = Na_sil (Ca/Na)_sil``, ``Mg_sil = Na_sil (Mg/Na)_sil``;
    4. carbonate: ``Ca_carb = Ca - Ca_rain - Ca_evap - Ca_sil``,
       ``Mg_carb = Mg - Mg_rain - Mg_sil``;
    5. CO2 consumption: ``phi_sil = Na_sil + K_sil + 2 Ca_sil + 2 Mg_sil`` and
       ``phi_carb = Ca_carb + Mg_carb - 2 SO4_acid - NO3_acid``, both in
       mmol L⁻¹ of CO2 (multiply by runoff for a flux); the acid term is
       :func:`karstsink.carbon.acid_hco3` of the non-rain SO4 (0 where rain
       SO4 exceeds the sample's) and the NO3, with the same shares as
       everywhere in karstsink.

    Parameters
    ----------
    ca, mg, na, k, cl, so4 : array_like
        Concentrations [mmol L⁻¹].
    no3 : array_like, default 0
        Nitrate [mmol L⁻¹], for the nitric-acid term of ``phi_carb``.
    cl_rain : array_like, optional
        Rain-derived Cl⁻ [mmol L⁻¹] (e.g. from local rain chemistry and
        evapotranspiration); default: all Cl⁻ (then ``Na_evap = 0``).  Values
        above the sample's Cl⁻ are capped at it.
    rain_ratios : dict, optional
        Molar X/Cl ratios of rain for ``na, ca, mg, k, so4``; default
        :data:`SEAWATER_RATIOS`.
    ca_na_sil, mg_na_sil : float
        Silicate end-member molar ratios [-] (default Gaillardet et al. 1999).
    evaporite_so4_share : float, default 0
        Share of non-rain SO4²⁻ from gypsum/anhydrite [0-1], dissolving as
        CaSO4 (``Ca_evap``); the ``evaporite_so4_share`` of
        :func:`karstsink.carbon.acid_hco3`.
    acid_so4_share : float, default 1
        Share of the non-rain, non-evaporite SO4²⁻ that is sulfuric acid
        (sulfide oxidation) [0-1], as in :func:`karstsink.carbon.acid_so4`.
    acid_no3_share : float, default 1
        Share of NO3⁻ that is nitric acid from nitrification [0-1].
    gypsum_so4_share : float, optional
        Former name of ``evaporite_so4_share`` (give at most one).

    Returns
    -------
    dict of numpy.ndarray
        Keys ``{na,ca,mg,k,so4}_rain``, ``cl_rain``, ``na_evap``, ``ca_evap``,
        ``{na,k,ca,mg}_sil``, ``{ca,mg}_carb``, ``so4_acid``, ``no3_acid``
        [mmol L⁻¹] and ``phi_sil``, ``phi_carb`` [mmol L⁻¹ of CO2].  Negative
        residuals are kept, not clipped: they show that the end-members chosen
        do not fit the sample.
    """
    ca, mg, na, k, cl, so4, no3 = (_arr(x) for x in (ca, mg, na, k, cl, so4, no3))
    ratios = dict(SEAWATER_RATIOS if rain_ratios is None else rain_ratios)
    missing = {"na", "ca", "mg", "k", "so4"} - set(ratios)
    if missing:
        raise DataError(f"rain_ratios lacks {', '.join(sorted(missing))}.")
    if gypsum_so4_share is not None:
        if evaporite_so4_share != carbon.DEFAULT_EVAPORITE_SO4_SHARE:
            raise DataError("Give evaporite_so4_share or its former name gypsum_so4_share, "
                             "not both.")
        evaporite_so4_share = gypsum_so4_share
    shares = {"acid_so4_share": acid_so4_share, "evaporite_so4_share": evaporite_so4_share,
              "acid_no3_share": acid_no3_share}
    for name, value in shares.items():
        carbon.check_share(name, value)
    cl_r = cl if cl_rain is None else np.minimum(_arr(cl_rain), cl)
    out: dict[str, np.ndarray] = {"cl_rain": cl_r}
    for x in ("na", "ca", "mg", "k", "so4"):
        out[f"{x}_rain"] = cl_r * ratios[x]
    so4_nonrain = so4 - out["so4_rain"]
    # rain SO4 above the sample's (a negative so4_acid, kept to show the misfit) is neither
    # gypsum nor acid: it must not add Ca_carb or CO2 uptake to phi_carb
    so4_left = np.maximum(so4_nonrain, 0.0)
    out["na_evap"] = cl - cl_r
    out["ca_evap"] = evaporite_so4_share * so4_left
    out["na_sil"] = na - out["na_rain"] - out["na_evap"]
    out["k_sil"] = k - out["k_rain"]
    out["ca_sil"] = out["na_sil"] * ca_na_sil
    out["mg_sil"] = out["na_sil"] * mg_na_sil
    out["ca_carb"] = ca - out["ca_rain"] - out["ca_evap"] - out["ca_sil"]
    out["mg_carb"] = mg - out["mg_rain"] - out["mg_sil"]
    out["so4_acid"] = carbon.acid_so4(so4_nonrain, acid_so4_share=acid_so4_share,
                                      evaporite_so4_share=evaporite_so4_share)
    out["no3_acid"] = carbon.acid_no3(no3, acid_no3_share=acid_no3_share)
    out["phi_sil"] = out["na_sil"] + out["k_sil"] + 2.0 * (out["ca_sil"] + out["mg_sil"])
    out["phi_carb"] = out["ca_carb"] + out["mg_carb"] - carbon.acid_hco3(so4_left, no3, **shares)
    return out
