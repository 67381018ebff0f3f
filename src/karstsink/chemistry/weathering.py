"""Weathering diagnostics: ion ratios, the sulfuric/nitric-acid correction, end-member partition.

Plain numpy functions over concentrations in mmol L⁻¹ (scalars or arrays; NaN
in gives NaN out).  The stoichiometry (science.md 1.2):

- carbonic acid: ``CaCO3 + CO2 + H2O -> Ca²⁺ + 2 HCO3⁻`` (and dolomite with
  2 CO2): molar (Ca+Mg)/HCO3 = 0.5, equivalent 2(Ca+Mg)/HCO3 = 1; half of the
  HCO3⁻ carbon comes from soil or atmospheric CO2;
- sulfuric acid: ``2 CaCO3 + H2SO4 -> 2 Ca²⁺ + 2 HCO3⁻ + SO4²⁻`` (no CO2 taken
  up, so 2 HCO3⁻ per acid SO4²⁻ are rock carbon);
- nitric acid: ``CaCO3 + HNO3 -> Ca²⁺ + HCO3⁻ + NO3⁻`` (1 HCO3⁻ per acid NO3⁻).

Hence ``HCO3_carbonic = HCO3 - 2 SO4_acid - NO3_acid`` (Li S.-L. et al. 2008,
EPSL 270:189-199; Zeng et al. 2019 for the 0.5 factor).
"""

from __future__ import annotations

import numpy as np

#: Seawater molar ratios to Cl⁻ used for the rain correction when no local rain
#: chemistry is given (science.md 1.3; consistent with the mean composition of
#: seawater: Na 469, Mg 52.8, Ca 10.3, K 10.2, SO4 28.2, Cl 546 mmol kg⁻¹).
SEAWATER_RATIOS: dict[str, float] = {"na": 0.86, "ca": 0.019, "mg": 0.097, "k": 0.018,
                                     "so4": 0.052}

#: Silicate end-member ratios (Gaillardet et al. 1999, Chem. Geol. 159:3-30), molar:
#: (Ca/Na)sil = 0.35 ± 0.15, (Mg/Na)sil = 0.24 ± 0.12 (science.md 1.3, marked "verify").
SILICATE_CA_NA = 0.35
SILICATE_MG_NA = 0.24


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


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
    return _ratio(_arr(ca) + _arr(mg), _arr(hco3))


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
    so4 = _arr(so4)
    den = _arr(hco3) + 2.0 * np.where(so4 >= 0, so4, np.nan)
    return _ratio(2.0 * (_arr(ca) + _arr(mg)), den)


def hco3_carbonic(hco3, so4, no3, *, acid_so4_share=1.0, acid_no3_share=1.0) -> np.ndarray:
    """HCO3⁻ from carbonic-acid weathering after the sulfuric/nitric-acid correction [mmol L⁻¹].

    ``HCO3_carbonic = HCO3 - 2 SO4_acid - NO3_acid`` with
    ``SO4_acid = acid_so4_share * SO4`` and ``NO3_acid = acid_no3_share * NO3``.

    Parameters
    ----------
    hco3, so4, no3 : array_like
        Alkalinity as HCO3⁻, sulfate and nitrate [mmol L⁻¹].
    acid_so4_share : float or array_like, default 1.0
        Share of SO4²⁻ from sulfide oxidation or acid deposition [0-1]; the
        rest (gypsum, evaporites) dissolves without HCO3⁻.  The default
        assumes all sulfate is acid-derived, the upper bound of the correction.
    acid_no3_share : float or array_like, default 1.0
        Share of NO3⁻ from nitrification of NH4⁺ fertiliser [0-1] (NaNO3
        itself does not acidify: Song et al. 2017, Earth Surf. Dyn. 5:605).

    Returns
    -------
    numpy.ndarray
        [mmol L⁻¹]; NaN where an input is missing or negative (a missing SO4 or
        NO3 is not taken as zero).  A negative result is kept: it means the
        acid shares assumed are too high for this sample.

    Examples
    --------
    science.md 1.2: HCO3 250, SO4 30, NO3 10 mg/L (all acid-derived) ->
    4.0972 - 2 x 0.31230 - 0.16128 = 3.311 mmol/L.
    """
    hco3, so4, no3 = _arr(hco3), _arr(so4), _arr(no3)
    s, n = _arr(acid_so4_share), _arr(acid_no3_share)
    if np.any((s < 0) | (s > 1)) or np.any((n < 0) | (n > 1)):
        raise ValueError("acid_so4_share and acid_no3_share must lie in [0, 1].")
    bad = (hco3 < 0) | (so4 < 0) | (no3 < 0)
    out = hco3 - 2.0 * s * so4 - n * no3
    return np.where(bad, np.nan, out)


def partition_sources(ca, mg, na, k, cl, so4, *, no3=0.0, cl_rain=None, rain_ratios=None,
                      ca_na_sil=SILICATE_CA_NA, mg_na_sil=SILICATE_MG_NA, gypsum_so4_share=0.0,
                      acid_so4_share=None, acid_no3_share=1.0) -> dict[str, np.ndarray]:
    """Forward end-member partition of cations: rain, evaporite, silicate, carbonate.

    The forward model of Gaillardet et al. (1999) and Galy & France-Lanord
    (1999) as set out in science.md 1.3, all molar, per sample:

    1. rain: ``X_rain = Cl_rain * (X/Cl)_rain`` (default: all Cl⁻ is
       atmospheric and rain has seawater ratios);
    2. evaporite: ``Na_evap = Cl - Cl_rain`` (halite);
       ``Ca_evap = gypsum_so4_share * SO4`` (gypsum);
    3. silicate: ``Na_sil = Na - Na_rain - Na_evap``, ``K_sil = K - K_rain``,
       ``Ca_sil = Na_sil (Ca/Na)_sil``, ``Mg_sil = Na_sil (Mg/Na)_sil``;
    4. carbonate: ``Ca_carb = Ca - Ca_rain - Ca_evap - Ca_sil``,
       ``Mg_carb = Mg - Mg_rain - Mg_sil``;
    5. CO2 consumption: ``phi_sil = Na_sil + K_sil + 2 Ca_sil + 2 Mg_sil`` and
       ``phi_carb = Ca_carb + Mg_carb - 2 SO4_acid - NO3_acid``, both in
       mmol L⁻¹ of CO2 (multiply by runoff for a flux).

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
    gypsum_so4_share : float, default 0
        Share of non-rain SO4²⁻ from gypsum/anhydrite [0-1], dissolving as
        CaSO4 (``Ca_evap``).
    acid_so4_share : float, optional
        Share of non-rain SO4²⁻ from sulfide oxidation [0-1]; default
        ``1 - gypsum_so4_share``.
    acid_no3_share : float, default 1
        Share of NO3⁻ that is nitric acid from nitrification [0-1].

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
        raise ValueError(f"rain_ratios lacks {', '.join(sorted(missing))}.")
    if not 0.0 <= gypsum_so4_share <= 1.0:
        raise ValueError("gypsum_so4_share must lie in [0, 1].")
    if acid_so4_share is None:
        acid_so4_share = 1.0 - gypsum_so4_share
    if not 0.0 <= acid_so4_share + gypsum_so4_share <= 1.0 + 1e-12:
        raise ValueError("acid_so4_share + gypsum_so4_share must not exceed 1.")
    cl_r = cl if cl_rain is None else np.minimum(_arr(cl_rain), cl)
    out: dict[str, np.ndarray] = {"cl_rain": cl_r}
    for x in ("na", "ca", "mg", "k", "so4"):
        out[f"{x}_rain"] = cl_r * ratios[x]
    so4_nonrain = so4 - out["so4_rain"]
    out["na_evap"] = cl - cl_r
    out["ca_evap"] = gypsum_so4_share * so4_nonrain
    out["na_sil"] = na - out["na_rain"] - out["na_evap"]
    out["k_sil"] = k - out["k_rain"]
    out["ca_sil"] = out["na_sil"] * ca_na_sil
    out["mg_sil"] = out["na_sil"] * mg_na_sil
    out["ca_carb"] = ca - out["ca_rain"] - out["ca_evap"] - out["ca_sil"]
    out["mg_carb"] = mg - out["mg_rain"] - out["mg_sil"]
    out["so4_acid"] = acid_so4_share * so4_nonrain
    out["no3_acid"] = acid_no3_share * no3
    out["phi_sil"] = out["na_sil"] + out["k_sil"] + 2.0 * (out["ca_sil"] + out["mg_sil"])
    out["phi_carb"] = (out["ca_carb"] + out["mg_carb"] - 2.0 * out["so4_acid"]
                       - out["no3_acid"])
    return out
