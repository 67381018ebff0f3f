"""Molar masses and the unit conversions karstsink needs at its boundaries.

Canonical units inside the package: concentrations in mmol L⁻¹ (= mol m⁻³, so
``C * Q`` with Q in m³ s⁻¹ is mol s⁻¹), discharge in m³ s⁻¹, area in km²,
temperature in °C, carbon fluxes in t C or t CO₂ (always named).

Molar masses are from the IUPAC 2021 standard atomic weights (conventional
values; Prohaska et al. 2022, Pure Appl. Chem. 94(5):573-600,
doi:10.1515/pac-2019-0603). Every constant the package uses for carbon
accounting is defined here once and imported elsewhere: :data:`C_TO_CO2`,
``MOLAR_MASS["caco3"]``, :data:`KG_DAY_PER_M3S_MG_L`, :data:`SECONDS_PER_YEAR`,
:data:`DAYS_PER_YEAR`.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np

from .exceptions import DataError, UnitError

#: Molar masses [g mol⁻¹].  Element weights: H 1.008, C 12.011, N 14.007,
#: O 15.999, Na 22.990, Mg 24.305, Si 28.085, P 30.974, S 32.06, Cl 35.45, K 39.098,
#: Ca 40.078, F 18.998 (IUPAC abridged standard atomic weights: Prohaska et al. 2022,
#: doi:10.1515/pac-2019-0603).  Formula masses are sums of these, except where a comment
#: gives the sum of the full-digit weights (H 1.00794, C 12.0107, O 15.9994) instead.
MOLAR_MASS: dict[str, float] = {
    "C": 12.011,
    "CO2": 44.009,
    "N": 14.007,
    "S": 32.06,
    "P": 30.974,
    "Si": 28.085,
    "ca": 40.078,
    "mg": 24.305,
    "na": 22.990,
    "k": 39.098,
    "cl": 35.45,
    "f": 18.998,
    "so4": 96.06,  # 32.06 + 4 x 15.999 = 96.056
    "no3": 62.004,  # 14.007 + 3 x 15.999
    "no2": 46.005,  # 14.007 + 2 x 15.999
    "nh4": 18.039,  # 14.007 + 4 x 1.008
    "hco3": 61.017,  # 1.00794 + 12.0107 + 3 x 15.9994 = 61.0168 (full-digit weights)
    "co3": 60.009,  # 12.0107 + 3 x 15.9994 = 60.0089 (full-digit weights)
    "po4": 94.971,  # 30.973762 + 4 x 15.9994 = 94.9714 (full-digit weights)
    "sio2": 60.083,  # 28.085 + 2 x 15.999
    "h2sio3": 78.098,  # 2 x 1.008 + 28.085 + 3 x 15.999
    "sr": 87.62,
    "fe": 55.845,
    "mn": 54.938,
    "ba": 137.33,
    "caco3": 100.087,  # 40.078 + 12.0107 + 3 x 15.9994 = 100.0869 (full-digit weights)
    "doc": 12.011,  # organic carbon is reported as C
    "toc": 12.011,
}

#: 0 °C in kelvin [K].
KELVIN_OFFSET = 273.15

#: Absolute charge of the ions whose meq/L karstsink converts.
CHARGE: dict[str, int] = {
    "ca": 2, "mg": 2, "na": 1, "k": 1, "cl": 1, "f": 1, "so4": 2, "no3": 1,
    "no2": 1, "nh4": 1, "hco3": 1, "co3": 2, "po4": 3, "sr": 2, "fe": 2,
    "mn": 2, "ba": 2,
}

#: Mass of CO2 per mass of C [t CO2 / t C]: M(CO2) / M(C) = 44.009 / 12.011 = 3.66406.
C_TO_CO2 = MOLAR_MASS["CO2"] / MOLAR_MASS["C"]
#: One day [s].
SECONDS_PER_DAY = 86400.0
#: Days per Julian year [d]: every per-year flux and sink is a mean per day x 365.25
#: (EGRET's factor from kg/d to 10⁶ kg/yr is 365.25e-6).
DAYS_PER_YEAR = 365.25
#: Julian year [s]: 365.25 d x 86 400 s = 3.15576e7 s.
SECONDS_PER_YEAR = DAYS_PER_YEAR * SECONDS_PER_DAY
#: Load [kg d⁻¹] per unit of discharge x concentration [m³ s⁻¹ x mg L⁻¹]:
#: 1 m³ s⁻¹ x 1 mg L⁻¹ = 1 m³ s⁻¹ x 1 g m⁻³ = 1 g s⁻¹; x 86 400 s d⁻¹ / 1000 g kg⁻¹ = 86.4 kg d⁻¹.
KG_DAY_PER_M3S_MG_L = SECONDS_PER_DAY / 1000.0

#: Discharge units understood by readers, as factors to m³ s⁻¹.
#: 1 ft = 0.3048 m exactly, so 1 ft³ = 0.028316846592 m³.
DISCHARGE_TO_M3S: dict[str, float] = {
    "m3/s": 1.0,
    "l/s": 1e-3,
    "ft3/s": 0.028316846592,
    "m3/d": 1.0 / SECONDS_PER_DAY,
    "m3/h": 24.0 / SECONDS_PER_DAY,
}

#: Spellings of the discharge units, compared after NFKC (``m³`` = ``m3``, ``s⁻¹`` =
#: ``s-1``), lower case and without spaces, ``·`` or ``*`` (so ``m3 s-1`` = ``m3s-1``).
_DISCHARGE_ALIASES = {
    "m3/s": "m3/s", "m^3/s": "m3/s", "cms": "m3/s", "cumecs": "m3/s",
    "m3s-1": "m3/s", "m3/sec": "m3/s", "m3s": "m3/s", "m3ps": "m3/s",
    "立方米/秒": "m3/s", "米3/秒": "m3/s",
    "l/s": "l/s", "ls-1": "l/s", "lps": "l/s", "l/sec": "l/s", "ls": "l/s", "升/秒": "l/s",
    "ft3/s": "ft3/s", "cfs": "ft3/s", "ft^3/s": "ft3/s", "ft3s-1": "ft3/s", "ft3/sec": "ft3/s",
    "cubicfeetpersecond": "ft3/s",
    "m3/d": "m3/d", "m3/day": "m3/d", "m3d-1": "m3/d", "m3d": "m3/d",
    "m3/h": "m3/h", "m3/hr": "m3/h", "m3/hour": "m3/h", "m3h-1": "m3/h", "m3h": "m3/h",
    "立方米/时": "m3/h", "立方米/小时": "m3/h", "米3/时": "m3/h", "方/时": "m3/h",
    "方/小时": "m3/h",
}


def normalize_discharge_unit(unit: str) -> str:
    """Return the canonical spelling (``m3/s``, ``l/s``, ``ft3/s``, ``m3/d``, ``m3/h``) of a
    discharge unit.

    Examples
    --------
    >>> normalize_discharge_unit("m³ s⁻¹"), normalize_discharge_unit("L/s")
    ('m3/s', 'l/s')

    Raises
    ------
    UnitError
        If the unit is not one karstsink knows.
    """
    key = unicodedata.normalize("NFKC", str(unit or "")).lower().replace("\u2212", "-")
    key = re.sub(r"[\s·*]", "", key)
    if "/" not in key and key.count("_") == 1:  # Q_m3_s: m3/s
        key = key.replace("_", "/")
    if key in _DISCHARGE_ALIASES:
        return _DISCHARGE_ALIASES[key]
    raise UnitError(
        f"Unknown discharge unit {unit!r}; use one of m3/s, L/s, ft3/s (cfs), m3/d or m3/h."
    )


def discharge_to_m3s(values, unit: str):
    """Convert discharge ``values`` given in ``unit`` to m³ s⁻¹ (NaN in, NaN out)."""
    return np.asarray(values, dtype=float) * DISCHARGE_TO_M3S[normalize_discharge_unit(unit)]


def c_to_co2(t_c):
    """Convert a carbon mass [t C] to the equivalent CO₂ mass [t CO₂] (x 44.009/12.011)."""
    return t_c * C_TO_CO2


def co2_to_c(t_co2):
    """Convert a CO₂ mass [t CO₂] to the equivalent carbon mass [t C] (/ (44.009/12.011))."""
    return t_co2 / C_TO_CO2


# ---------------------------------------------------------------------------
# Concentration units.  A unit string is parsed into (scale, basis) where the
# basis says whether the number counts mass, moles or equivalents, and "as X"
# qualifiers (alkalinity as CaCO3, nitrate as N, sulfate as S) change the
# formula whose molar mass converts mass to moles.
# ---------------------------------------------------------------------------

_MASS_SCALE = {"g": 1e3, "mg": 1.0, "ug": 1e-3, "µg": 1e-3, "μg": 1e-3, "ng": 1e-6}
_MOL_SCALE = {"mol": 1e3, "mmol": 1.0, "umol": 1e-3, "µmol": 1e-3, "μmol": 1e-3}
_EQ_SCALE = {"eq": 1e3, "meq": 1.0, "ueq": 1e-3, "µeq": 1e-3, "μeq": 1e-3}
#: Volumes (or masses of water) per litre.  A kilogram of water is taken as a litre: dilute
#: water has a density of ~1 kg/L (0.998 at 20 °C), so per-kg units and ppm/ppb (mass
#: fractions) are read as per-L; the sample reader notes it where it does so.
_VOL = {"l": 1.0, "litre": 1.0, "liter": 1.0, "dm3": 1.0, "dl": 0.1, "ml": 1e-3, "m3": 1e3,
        "kg": 1.0, "kgw": 1.0}

_UNIT_RE = re.compile(
    r"^\s*(?P<num>[a-zµμ]+)\s*/\s*(?P<den>[a-z0-9]+)\s*(?:as\s*(?P<as>[a-z0-9\-]+))?\s*$"
)


def parse_concentration_unit(unit: str) -> tuple[float, str, str | None]:
    """Parse a concentration unit such as ``mg/L``, ``meq/L``, ``µmol/L`` or ``mg/L as CaCO3``.

    Denominators ``L`` (``litre``, ``liter``, ``dm3``), ``dL``, ``mL``, ``m3`` and ``kg``
    (``kgw``; read as per L, dilute water) are understood, and ``ppm``/``ppb`` as
    mg/L and µg/L (1 ppm = 1 mg/kg ~ 1 mg/L for dilute water).

    Returns
    -------
    scale : float
        Factor to the milli-unit per litre (mg/L, mmol/L or meq/L).
    basis : {"mass", "mol", "eq"}
        What the number counts.
    as_formula : str or None
        The ``as X`` qualifier, lower case (``caco3``, ``n``, ``s``, ``hco3``...).

    Raises
    ------
    UnitError
        If the unit cannot be parsed.
    """
    if not isinstance(unit, str):
        raise UnitError(f"A concentration unit must be text such as 'mg/L' or 'mmol/L', got "
                        f"{unit!r}.")
    text = unit.strip().lower().replace(" per ", "/").replace("ppm", "mg/l")
    text = text.replace("ppb", "µg/l")
    text = text.replace("μ", "µ").replace("as-", "as ")
    m = _UNIT_RE.match(text)
    if not m or m["den"] not in _VOL:
        raise UnitError(
            f"Unknown concentration unit {unit!r}; use mg/L, mmol/L, meq/L or µmol/L "
            "(optionally 'as CaCO3', 'as N', 'as S')."
        )
    num, vol = m["num"], _VOL[m["den"]]
    for table, basis in ((_MASS_SCALE, "mass"), (_MOL_SCALE, "mol"), (_EQ_SCALE, "eq")):
        if num in table:
            return table[num] / vol, basis, (m["as"] or None)
    raise UnitError(
        f"Unknown concentration unit {unit!r} (cannot read {m['num']!r}); use mg/L, mmol/L, "
        "meq/L or µmol/L."
    )


#: element qualifiers ('mg/L as N', 'mmol/L as S'): the species each may describe
ELEMENT_QUALIFIERS = {"n": ("no3", "no2", "nh4"), "s": ("so4",), "c": ("hco3", "co3")}
#: the species 'as CaCO3' may describe: alkalinity (HCO3-, CO3 2-) and hardness (Ca, Mg)
CACO3_SPECIES = ("hco3", "co3", "ca", "mg")


def to_mmol_per_l(values, species: str, unit: str):
    """Convert concentrations of ``species`` given in ``unit`` to mmol L⁻¹.

    Parameters
    ----------
    values : array_like
        Concentrations (NaN allowed; NaN stays NaN).
    species : str
        Canonical species key (``ca``, ``hco3``, ``so4``, ``no3``...).
    unit : str
        E.g. ``mg/L``, ``mmol/L``, ``meq/L``, ``µmol/L``, ``mg/L as CaCO3``,
        ``mg/L as N`` (nitrate), ``mg/L as S`` (sulfate).

    Returns
    -------
    numpy.ndarray
        Concentrations [mmol L⁻¹] of ``species`` itself.

    Notes
    -----
    ``x mg/L as CaCO3`` of alkalinity is ``x / 100.087 * 2`` meq/L, i.e.
    ``x / 50.04`` mmol/L of HCO3⁻; ``x mg/L NO3-N`` is ``x / 14.007`` mmol/L of
    NO3⁻; ``x mg/L SO4-S`` is ``x / 32.06`` mmol/L of SO4²⁻.

    Examples
    --------
    >>> round(float(to_mmol_per_l(250.0, "hco3", "mg/L")), 4)
    4.0972
    >>> round(float(to_mmol_per_l(100.087, "hco3", "mg/L as CaCO3")), 4)
    2.0
    >>> float(to_mmol_per_l(1.0, "hco3", "mmol/L as CaCO3"))  # 1 mmol CaCO3 = 2 meq
    2.0
    """
    arr = np.asarray(values, dtype=float)
    scale, basis, as_formula = parse_concentration_unit(unit)
    if as_formula in ELEMENT_QUALIFIERS and species not in ELEMENT_QUALIFIERS[as_formula]:
        raise UnitError(f"'{unit}' does not apply to {species!r} ('as "
                        f"{as_formula.upper()}' is for "
                        f"{', '.join(ELEMENT_QUALIFIERS[as_formula])}).")
    if as_formula == "caco3" and species not in CACO3_SPECIES:
        raise UnitError(f"'as CaCO3' only applies to alkalinity or hardness, not {species!r}.")
    if basis == "mol":
        if as_formula == "caco3":  # 1 mmol CaCO3 = 2 meq: 2 mmol HCO3-, 1 mmol Ca2+ or CO3 2-
            return arr * scale * 2.0 / CHARGE[species]
        # "mmol/L as N" of nitrate is the same number of mmol of NO3- (one N in each)
        if as_formula not in (None, species) and as_formula not in ELEMENT_QUALIFIERS:
            raise UnitError(f"Unknown 'as {as_formula}' qualifier for {species!r} in "
                            f"{unit!r}; use 'as CaCO3', 'as N', 'as S' or 'as C' where they "
                            f"apply, or no qualifier.")
        return arr * scale
    if basis == "eq":  # equivalents are equivalents, whatever they are reported 'as'
        z = CHARGE.get(species)
        if z is None:
            raise UnitError(f"Cannot convert meq/L for {species!r}: its charge is unknown.")
        return arr * scale / z
    # mass basis
    if as_formula is None or as_formula == species:
        if species not in MOLAR_MASS:
            raise UnitError(f"No molar mass for {species!r}; give it in mmol/L.")
        return arr * scale / MOLAR_MASS[species]
    if as_formula == "caco3":
        # x mg/L as CaCO3 -> x/100.087 mmol CaCO3 -> 2x/100.087 meq/L; as HCO3- (1 eq/mol)
        # that is 2x/100.087 mmol/L, as Ca2+ or CO3 2- (2 eq/mol) x/100.087 mmol/L.
        meq = arr * scale / MOLAR_MASS["caco3"] * 2.0
        return meq / CHARGE[species]
    element = {"n": "N", "s": "S", "c": "C"}.get(as_formula)
    if element is None:
        raise UnitError(f"Unknown 'as {as_formula}' qualifier for {species!r}.")
    return arr * scale / MOLAR_MASS[element]  # one N per NO3/NH4/NO2, one S per SO4, one C


def from_mmol_per_l(values, species: str, unit: str = "mg/L"):
    """Convert mmol L⁻¹ of ``species`` back to ``unit`` (the inverse of :func:`to_mmol_per_l`).

    The result is rounded to 15 significant digits (:func:`round_significant`): a value
    read as ``218.1`` mg/L comes back as ``218.1``, not with the round trip's float noise
    (``218.10000000000002``), a change of at most 5e-15 of the value.
    """
    one = float(to_mmol_per_l(1.0, species, unit))
    return round_significant(np.asarray(values, dtype=float) / one, 15)


def round_significant(values, digits: int = 15) -> np.ndarray:
    """``values`` rounded to ``digits`` significant digits (1-15), as floats; NaN, inf and 0
    stay as they are.

    Examples
    --------
    >>> float(round_significant(218.10000000000002))
    218.1
    >>> round_significant([0.000123456, -98765.4321], 3).tolist()
    [0.000123, -98800.0]
    """
    if not 1 <= digits <= 15:
        raise DataError(f"digits must be 1-15, got {digits!r}")
    arr = np.asarray(values, dtype=float)
    out = arr.copy()
    ok = np.isfinite(arr) & (arr != 0)
    with np.errstate(divide="ignore"):
        d = digits - 1 - np.floor(np.log10(np.abs(np.where(ok, arr, 1.0)))).astype(int)
    ok &= np.abs(d) <= 22  # 10**22 is the largest exact power of ten (others: unchanged)
    x, d = arr[ok], d[ok]
    # scale to an integer of `digits` digits (exact below 2**53), round, scale back by an
    # exact power of ten: that step is correctly rounded, so the result is the double
    # nearest the rounded decimal, as if it had been read from text
    p = 10.0 ** np.abs(d)
    out[ok] = np.where(d >= 0, np.round(x * p) / p, np.round(x / p) * p)
    return out
