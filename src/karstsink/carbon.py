"""The carbon accounting of carbonate weathering: the one place every carbon number comes from.

Speciation (``hco3_carbonic_mmol_l``), the flux path (:func:`karstsink.sink.carbon_sink`)
and the map's karst sink all compute through these functions, with parameters that mean
the same thing everywhere.  Plain numpy functions: any molar unit, as long as it is the
same for every argument (mmol L⁻¹ for concentrations, mol yr⁻¹ for fluxes); NaN in gives
NaN out, element by element; nothing is clipped.

The stoichiometry:

- carbonic acid: ``CaCO3 + CO2 + H2O -> Ca²⁺ + 2 HCO3⁻`` (dolomite:
  ``CaMg(CO3)2 + 2 CO2 + 2 H2O -> Ca²⁺ + Mg²⁺ + 4 HCO3⁻``): half of the HCO3⁻ carbon
  is soil or atmospheric CO2 (the factor 0.5 of [1]_);
- sulfuric acid: ``2 CaCO3 + H2SO4 -> 2 Ca²⁺ + 2 HCO3⁻ + SO4²⁻``: two HCO3⁻ of rock
  carbon per acid SO4²⁻, no CO2 taken up [2]_;
- nitric acid: ``CaCO3 + HNO3 -> Ca²⁺ + HCO3⁻ + NO3⁻``: one HCO3⁻ of rock carbon per
  acid NO3⁻ [3]_.  The nitrification of urea (``CO(NH2)2 + 4 O2 -> 2 NO3⁻ + 2 H⁺ + CO2
  + H2O``) and of mineralised organic N also gives one H⁺ per NO3⁻, so one HCO3⁻.  The
  nitrification of an ammonium salt (``NH4⁺ + 2 O2 -> NO3⁻ + 2 H⁺ + H2O``) gives two,
  so two HCO3⁻ of rock carbon per NO3⁻ [6]_; the correction counts one.  Where ammonium
  salts (NH4Cl, (NH4)2SO4) are most of the N input, the correction is one HCO3⁻ per
  NO3⁻ too small and the carbonate sink up to 0.5 mol C per mol NO3⁻ too large;
- gypsum/anhydrite (``CaSO4 -> Ca²⁺ + SO4²⁻``) brings SO4²⁻ without acid and without
  HCO3⁻, hence the evaporite share;
- silicate weathering takes *all* its HCO3⁻ carbon from CO2 (long-term sink), carbonate
  weathering half of it (short-term sink, ~1e5 yr) [1]_;
- biological carbon pump: part of the weathering DIC is fixed by aquatic plants into
  autochthonous organic carbon, ``AOC = bcp_share x TOC`` [4]_.

Hence, molar::

    acid_hco3     = 2 * acid_so4_share * (1 - evaporite_so4_share) * SO4 + acid_no3_share * NO3
    carbonic_hco3 = HCO3 - acid_hco3
    carbonate C   = 0.5 * (1 - f_sil) * carbonic_hco3      silicate C = 1.0 * f_sil * carbonic_hco3

Defaults (each stated in every output by :func:`assumptions`) do not overstate the sink:
all non-evaporite SO4 and all NO3 are taken as acid (the largest correction) and no TOC
counts as a sink unless its autochthonous share is given.  A negative carbonic HCO3 is
returned, never clipped: callers report NaN and the flag ``negative_carbonic_hco3``.
Below pH :data:`CARBONATE_BUFFER_PH_MIN` the sulfuric-acid reaction releases CO2 instead
(``CaCO3 + H2SO4 -> Ca²⁺ + SO4²⁻ + CO2 + H2O``) and the correction does not hold: flag
``ph_below_carbonate_buffer``.

References
----------
.. [1] S. Zeng, Z. Liu and G. Kaufmann, "Sensitivity of the global carbonate weathering
   carbon-sink flux to climate and land-use changes", Nat. Commun. 10:5749, 2019,
   doi:10.1038/s41467-019-13772-4.
.. [2] S.-L. Li, D. Calmels, G. Han, J. Gaillardet and C.-Q. Liu, "Sulfuric acid as an
   agent of carbonate weathering constrained by δ13C-DIC: examples from Southwest
   China", Earth Planet. Sci. Lett. 270:189-199, 2008, doi:10.1016/j.epsl.2008.02.039.
.. [3] C. Song, C. Liu, G. Han and C. Liu, "Impact of different fertilizers on carbonate
   weathering in a typical karst area, Southwest China: a field column experiment",
   Earth Surf. Dynam. 5:605-616, 2017, doi:10.5194/esurf-5-605-2017.
.. [4] "Sources of organic carbon in the surface water of Lijiang River" (Li River,
   Guilin, 2016 survey): autochthonous share of TOC 51.68-85.99 %, mean 73.07 %.
.. [5] L. N. Plummer and E. Busenberg, "The solubilities of calcite, aragonite and
   vaterite in CO2-H2O solutions between 0 and 90 °C", Geochim. Cosmochim. Acta
   46:1011-1040, 1982, doi:10.1016/0016-7037(82)90056-4 (pK1 of carbonic acid 6.35 at
   25 °C).
.. [6] A.-S. Perrin, A. Probst and J.-L. Probst, "Impact of nitrogenous fertilizers on
   carbonate dissolution in small agricultural catchments: implications for weathering
   CO2 uptake at regional and global scales", Geochim. Cosmochim. Acta 72:3105-3123, 2008.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from . import qa
from .exceptions import DataError
from .units import C_TO_CO2, MOLAR_MASS

__all__ = [
    "CARBONATE_BUFFER_PH_MIN", "CARBONATE_CO2_FRACTION", "CENSORED_ACID_ASSUMPTION",
    "DEFAULT_ACID_NO3_SHARE",
    "DEFAULT_ACID_SO4_SHARE", "DEFAULT_BCP_SHARE", "DEFAULT_EVAPORITE_SO4_SHARE", "DEFAULT_SHARES",
    "FLAG_NEGATIVE_CARBONIC_HCO3", "FLAG_PH_BELOW_CARBONATE_BUFFER", "acid_hco3", "acid_no3",
    "acid_so4", "assumptions", "bcp_c", "carbon_flag_masks", "carbon_flags",
    "carbonate_weathering_c", "carbonic_hco3", "check_share",
]

#: Share of the non-evaporite SO4²⁻ from sulfide oxidation or acid deposition [0-1].
#: Default 1: the upper bound of the correction, so the sink is not overstated (the
#: sulfuric-acid pathway of Li et al. 2008, doi:10.1016/j.epsl.2008.02.039).
DEFAULT_ACID_SO4_SHARE = 1.0
#: Share of SO4²⁻ from gypsum/anhydrite dissolution (no acid, no HCO3⁻) [0-1]. Default 0.
DEFAULT_EVAPORITE_SO4_SHARE = 0.0
#: Share of NO3⁻ from nitrification (acid-producing) [0-1], counted at one HCO3⁻ per NO3⁻
#: (nitric acid, urea, organic N).  Default 1: the upper bound of that correction (NaNO3
#: itself does not acidify: Song et al. 2017, doi:10.5194/esurf-5-605-2017); ammonium
#: salts give two HCO3⁻ per NO3⁻, which no share reaches (see the module notes).
DEFAULT_ACID_NO3_SHARE = 1.0
#: Autochthonous share of TOC counted as biological-carbon-pump sink [0-1].  Default 0
#: (conservative: soil-derived DOC is not a sink); the Li River mean AOC/TOC is 0.73.
DEFAULT_BCP_SHARE = 0.0
#: The four shares by keyword, with their defaults (the order of every signature).
DEFAULT_SHARES = {"acid_so4_share": DEFAULT_ACID_SO4_SHARE,
                  "evaporite_so4_share": DEFAULT_EVAPORITE_SO4_SHARE,
                  "acid_no3_share": DEFAULT_ACID_NO3_SHARE, "bcp_share": DEFAULT_BCP_SHARE}
#: Below this pH the 2 CaCO3 + H2SO4 -> 2 HCO3⁻ pathway does not hold: pK1 of carbonic
#: acid is 6.35 at 25 °C (Plummer & Busenberg 1982, doi:10.1016/0016-7037(82)90056-4), so
#: below ~6.4 acid weathering releases CO2 rather than HCO3⁻ [pH].  The threshold of the
#: rule ``ph_below_carbonate_buffer`` in :mod:`karstsink.qa` (6.4).
CARBONATE_BUFFER_PH_MIN = qa.PH_CARBONATE_BUFFER_MIN
#: Fraction of carbonate-weathering HCO3⁻ carbon that is soil/atmospheric CO2 (Zeng et al.
#: 2019, doi:10.1038/s41467-019-13772-4) [-].
CARBONATE_CO2_FRACTION = 0.5

#: Stated wherever a censored SO4²⁻ or NO3⁻ sample can enter the acid correction: there it
#: is taken at its detection limit, the largest correction it can be.
CENSORED_ACID_ASSUMPTION = (
    "a SO4 or NO3 value below its detection limit ('<DL') enters the acid correction at the "
    "limit DL itself, the largest correction it can be, so the sink is not overstated")

#: The flag codes this module's checks write (registered in :mod:`karstsink.qa`).
FLAG_NEGATIVE_CARBONIC_HCO3 = qa.rule("negative_carbonic_hco3").code
FLAG_PH_BELOW_CARBONATE_BUFFER = qa.rule("ph_below_carbonate_buffer").code

_M_C = MOLAR_MASS["C"]


def _arr(x) -> np.ndarray:
    return np.asarray(x, dtype=float)


def check_share(name: str, value: ArrayLike) -> np.ndarray:
    """Return ``value`` as a float array after checking it lies in [0, 1].

    NaN is allowed in an array (a row without the value), not as the one share of a
    call: a NaN share would turn every result into NaN.

    Raises
    ------
    DataError
        Naming the parameter, when a value is outside [0, 1] or a single share is NaN.
    """
    a = _arr(value)
    if a.ndim == 0 and np.isnan(a):
        raise DataError(f"{name} must be a share between 0 and 1, got nan.")
    with np.errstate(invalid="ignore"):
        bad = (a < 0.0) | (a > 1.0) | np.isinf(a)
    if np.any(bad):
        shown = a[bad].ravel()[0] if a.ndim else float(a)
        raise DataError(f"{name} must be a share between 0 and 1, got {shown!r}.")
    return a


def acid_so4(so4: ArrayLike, *, acid_so4_share: ArrayLike = DEFAULT_ACID_SO4_SHARE,
             evaporite_so4_share: ArrayLike = DEFAULT_EVAPORITE_SO4_SHARE) -> np.ndarray:
    """Sulfate from sulfuric acid: ``acid_so4_share * (1 - evaporite_so4_share) * SO4``.

    Parameters
    ----------
    so4 : array_like
        SO4²⁻ [any molar unit, e.g. mmol L⁻¹ or mol yr⁻¹].
    acid_so4_share : float or array_like, default :data:`DEFAULT_ACID_SO4_SHARE`
        Share of the non-evaporite SO4²⁻ from sulfide oxidation or acid deposition [0-1].
    evaporite_so4_share : float or array_like, default :data:`DEFAULT_EVAPORITE_SO4_SHARE`
        Share of SO4²⁻ from gypsum/anhydrite [0-1].

    Returns
    -------
    numpy.ndarray
        Acid SO4²⁻ [same unit as ``so4``].
    """
    s = check_share("acid_so4_share", acid_so4_share)
    e = check_share("evaporite_so4_share", evaporite_so4_share)
    return s * (1.0 - e) * _arr(so4)


def acid_no3(no3: ArrayLike, *, acid_no3_share: ArrayLike = DEFAULT_ACID_NO3_SHARE
             ) -> np.ndarray:
    """Nitrate counted as nitric acid (one H⁺ per NO3⁻): ``acid_no3_share * NO3``.

    Nitric acid and nitrified urea or organic N give one H⁺ per NO3⁻; a nitrified
    ammonium salt gives two, which this term does not count (see the module notes).

    Parameters
    ----------
    no3 : array_like
        NO3⁻ [any molar unit].
    acid_no3_share : float or array_like, default :data:`DEFAULT_ACID_NO3_SHARE`
        Share of NO3⁻ that is nitric acid [0-1].

    Returns
    -------
    numpy.ndarray
        Acid NO3⁻ [same unit as ``no3``].
    """
    return check_share("acid_no3_share", acid_no3_share) * _arr(no3)


def acid_hco3(so4: ArrayLike | None, no3: ArrayLike | None, *,
              acid_so4_share: ArrayLike = DEFAULT_ACID_SO4_SHARE,
              evaporite_so4_share: ArrayLike = DEFAULT_EVAPORITE_SO4_SHARE,
              acid_no3_share: ArrayLike = DEFAULT_ACID_NO3_SHARE) -> np.ndarray:
    """HCO3⁻ released by sulfuric and nitric acid weathering of carbonates (rock carbon only).

    ``2 * acid_so4_share * (1 - evaporite_so4_share) * SO4 + acid_no3_share * NO3``
    (Li et al. 2008 for sulfuric, Song et al. 2017 for nitric acid).

    Parameters
    ----------
    so4, no3 : array_like or None
        SO4²⁻ and NO3⁻ [any molar unit, the same for both]; ``None`` means the ion was
        not measured and its term is 0 (a NaN value stays NaN).
    acid_so4_share, evaporite_so4_share, acid_no3_share : float or array_like
        Shares [0-1]; see :func:`acid_so4` and :func:`acid_no3`.

    Returns
    -------
    numpy.ndarray
        Acid-derived HCO3⁻ [same molar unit].

    Raises
    ------
    DataError
        When a share is outside [0, 1].

    Examples
    --------
    HCO3 250, SO4 30, NO3 10 mg/L: 2 x 30/96.06 + 10/62.004 = 0.62461 + 0.16128 mmol/L

    >>> round(float(acid_hco3(30 / 96.06, 10 / 62.004)), 5)
    0.78589
    """
    out = np.asarray(0.0)
    if so4 is not None:
        out = out + 2.0 * acid_so4(so4, acid_so4_share=acid_so4_share,
                                   evaporite_so4_share=evaporite_so4_share)
    else:
        check_share("acid_so4_share", acid_so4_share)
        check_share("evaporite_so4_share", evaporite_so4_share)
    if no3 is not None:
        out = out + acid_no3(no3, acid_no3_share=acid_no3_share)
    else:
        check_share("acid_no3_share", acid_no3_share)
    return np.asarray(out, dtype=float)


def carbonic_hco3(hco3: ArrayLike, so4: ArrayLike | None = None, no3: ArrayLike | None = None,
                  **shares: ArrayLike) -> np.ndarray:
    """HCO3⁻ from carbonic-acid weathering: ``HCO3 - acid_hco3(SO4, NO3, **shares)``.

    Parameters
    ----------
    hco3 : array_like
        HCO3⁻ (carbonate alkalinity as HCO3⁻) [any molar unit].
    so4, no3 : array_like or None
        SO4²⁻ and NO3⁻ [same unit]; ``None``: not measured, no correction for that acid.
    **shares
        ``acid_so4_share``, ``evaporite_so4_share``, ``acid_no3_share`` of :func:`acid_hco3`.

    Returns
    -------
    numpy.ndarray
        Carbonic HCO3⁻ [same unit].  Negative values are returned as they are: the acid
        shares assumed are too high for that water (flag them with :func:`carbon_flags`).

    Examples
    --------
    HCO3 250, SO4 30, NO3 10 mg/L, all acid: 4.097219 - 0.624610 - 0.161280 mmol/L

    >>> round(float(carbonic_hco3(250 / 61.017, 30 / 96.06, 10 / 62.004)), 3)
    3.311
    """
    unknown = set(shares) - {"acid_so4_share", "evaporite_so4_share", "acid_no3_share"}
    if unknown:
        raise TypeError(f"carbonic_hco3() got unexpected share(s): {', '.join(sorted(unknown))}")
    return _arr(hco3) - acid_hco3(so4, no3, **shares)


def carbonate_weathering_c(hco3_carbonic: ArrayLike, *,
                           silicate_fraction: ArrayLike | None = 0.0
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Soil/atmospheric CO2 carbon taken up by weathering, split into carbonate and silicate parts.

    Carbonate part ``0.5 * (1 - f) * x`` (short-term sink: half of its HCO3⁻ carbon is
    CO2, Zeng et al. 2019); silicate part ``1.0 * f * x`` (long-term sink: all its
    HCO3⁻ carbon is CO2).

    Parameters
    ----------
    hco3_carbonic : array_like
        Carbonic HCO3⁻ [mol, mmol L⁻¹, mol yr⁻¹...] (:func:`carbonic_hco3`).
    silicate_fraction : float or array_like, default 0
        Share ``f`` of the carbonic HCO3⁻ from silicate weathering [0-1] (from an
        end-member partition); ``None`` is 0.

    Returns
    -------
    carbonate, silicate : numpy.ndarray
        Carbon taken up [same molar unit, as C]; multiply by 12.011 g mol⁻¹ for mass.

    Examples
    --------
    >>> [float(v) for v in carbonate_weathering_c(4.0, silicate_fraction=0.25)]
    [1.5, 1.0]
    """
    f = check_share("silicate_fraction", 0.0 if silicate_fraction is None else silicate_fraction)
    x = _arr(hco3_carbonic)
    return CARBONATE_CO2_FRACTION * (1.0 - f) * x, 1.0 * f * x


def bcp_c(toc_c: ArrayLike, *, bcp_share: ArrayLike = DEFAULT_BCP_SHARE) -> np.ndarray:
    """Biological-carbon-pump term: autochthonous organic carbon ``bcp_share * TOC``.

    Parameters
    ----------
    toc_c : array_like
        Total organic carbon as C [any unit of carbon: mg C L⁻¹, kg C yr⁻¹, mol...].
    bcp_share : float or array_like, default :data:`DEFAULT_BCP_SHARE` (0)
        Autochthonous share of the TOC [0-1] (e.g. from δ13C-OC and C/N end-member mixing;
        Li River surface water: 0.52-0.86, mean 0.73, "Sources of organic carbon in the
        surface water of Lijiang River").  1 when ``toc_c`` is AOC.

    Returns
    -------
    numpy.ndarray
        Autochthonous organic carbon [same unit as ``toc_c``].
    """
    return check_share("bcp_share", bcp_share) * _arr(toc_c)


def carbon_flag_masks(hco3_carbonic: ArrayLike, ph: ArrayLike | None = None
                      ) -> dict[str, np.ndarray]:
    """Boolean masks of the carbon-accounting flags (NaN never flags).

    Returns
    -------
    dict
        ``{"negative_carbonic_hco3": hco3_carbonic < 0,
        "ph_below_carbonate_buffer": ph < CARBONATE_BUFFER_PH_MIN}`` (the second only
        when ``ph`` is given), broadcast to a common shape.
    """
    x = _arr(hco3_carbonic)
    with np.errstate(invalid="ignore"):
        out = {FLAG_NEGATIVE_CARBONIC_HCO3: x < 0.0}
        if ph is not None:
            p = _arr(ph)
            out[FLAG_PH_BELOW_CARBONATE_BUFFER] = p < CARBONATE_BUFFER_PH_MIN
    shape = np.broadcast_shapes(*(m.shape for m in out.values()))
    return {k: np.broadcast_to(m, shape).copy() for k, m in out.items()}


def carbon_flags(hco3_carbonic: ArrayLike, ph: ArrayLike | None = None) -> np.ndarray:
    """The carbon-accounting flags of each element, ``;``-separated ("" when none).

    ``negative_carbonic_hco3`` where the carbonic HCO3⁻ is negative (the acid correction
    exceeds the HCO3⁻: shares too high, e.g. a gypsum water); ``ph_below_carbonate_buffer``
    where ``ph < 6.4`` (:data:`CARBONATE_BUFFER_PH_MIN`: the sulfuric-acid pathway
    ``2 CaCO3 + H2SO4 -> 2 HCO3⁻`` does not hold there; Plummer & Busenberg 1982).

    Returns
    -------
    numpy.ndarray of str (object dtype)
    """
    masks = carbon_flag_masks(hco3_carbonic, ph)
    shape = next(iter(masks.values())).shape
    out = np.full(shape, "", dtype=object)
    for code, mask in masks.items():
        for idx in zip(*np.nonzero(mask), strict=True):
            out[idx] = code if not out[idx] else f"{out[idx]};{code}"
    return out


def _share_text(value) -> str:
    a = np.atleast_1d(_arr(value))
    a = a[np.isfinite(a)]
    if a.size == 0:
        return "n/a"
    lo, hi = float(a.min()), float(a.max())
    return f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g} (per row)"


def _is_default(value, default: float) -> bool:
    a = _arr(value)
    return bool(np.all(a[np.isfinite(a)] == default)) if a.ndim else float(a) == default


def assumptions(*, acid_so4_share: ArrayLike = DEFAULT_ACID_SO4_SHARE,
                evaporite_so4_share: ArrayLike = DEFAULT_EVAPORITE_SO4_SHARE,
                acid_no3_share: ArrayLike = DEFAULT_ACID_NO3_SHARE,
                bcp_share: ArrayLike | None = DEFAULT_BCP_SHARE,
                silicate_fraction: ArrayLike | None = None, so4_given: bool = True,
                no3_given: bool = True, toc_given: bool = False) -> list[str]:
    """The assumption sentences written into every output that carries a carbon number.

    Each parameter is stated with its value, whether it is the default and the default's
    source.  ``bcp_share=None`` leaves out the biological-carbon-pump sentence (outputs
    with no organic-carbon term at all, e.g. speciation).

    Returns
    -------
    list of str
    """
    def dflt(value, default):
        return (" (the default value)" if _is_default(value, default)
                else f" (given; default {default:g})")

    out = [
        f"{CARBONATE_CO2_FRACTION:g} of carbonate-weathering HCO3 carbon is from "
        "soil/atmospheric CO2 (CaCO3 + CO2 + H2O -> Ca2+ + 2 HCO3-; Zeng, Liu & Kaufmann "
        "2019, doi:10.1038/s41467-019-13772-4)",
        f"1 t C = {C_TO_CO2:.3f} t CO2 (44.009/12.011 g/mol); M(C) = {_M_C} g/mol",
    ]
    if so4_given:
        out.append(
            f"sulfuric-acid correction: acid_so4_share = {_share_text(acid_so4_share)}"
            f"{dflt(acid_so4_share, DEFAULT_ACID_SO4_SHARE)} of the non-evaporite SO4 is "
            "sulfuric acid (the default takes all of it: the largest correction, so the sink "
            "is not overstated; 2 CaCO3 + H2SO4 -> 2 HCO3-, Li et al. 2008, "
            f"doi:10.1016/j.epsl.2008.02.039); evaporite_so4_share = "
            f"{_share_text(evaporite_so4_share)}"
            f"{dflt(evaporite_so4_share, DEFAULT_EVAPORITE_SO4_SHARE)} of SO4 from "
            "gypsum/anhydrite (no acid); "
            "HCO3_carbonic = HCO3 - 2 SO4_acid - NO3_acid")
    else:
        out.append("no sulfuric-acid correction (no SO4 given)")
    if no3_given:
        out.append(
            f"nitric-acid correction: acid_no3_share = {_share_text(acid_no3_share)}"
            f"{dflt(acid_no3_share, DEFAULT_ACID_NO3_SHARE)} of NO3 from nitrification "
            "(the default takes all of it, the largest correction at one HCO3- per NO3: "
            "CaCO3 + HNO3 -> HCO3-, as for nitrified urea or organic N; Song et al. 2017, "
            "doi:10.5194/esurf-5-605-2017); nitrified ammonium salts give two HCO3- per NO3 "
            "(Perrin, Probst & Probst 2008, Geochim. Cosmochim. Acta 72:3105), so where they "
            "are most of the N input the sink is overstated by up to 0.5 mol C per mol NO3")
    else:
        out.append("no nitric-acid correction (no NO3 given)")
    if so4_given or no3_given:
        out.append(
            f"a negative carbonic HCO3 is flagged {FLAG_NEGATIVE_CARBONIC_HCO3} and gives no "
            f"sink; below pH {CARBONATE_BUFFER_PH_MIN:g} ({FLAG_PH_BELOW_CARBONATE_BUFFER}) "
            "acid weathering releases CO2 and the correction does not hold (pK1 of H2CO3 "
            "6.35 at 25 C, Plummer & Busenberg 1982, doi:10.1016/0016-7037(82)90056-4)")
    if silicate_fraction is None:
        out.append("all carbonic HCO3 treated as carbonate-derived (no silicate partition "
                   "given); the carbonate sink is short-term (~1e5 yr)")
    else:
        out.append(
            f"{_share_text(silicate_fraction)} of carbonic HCO3 from silicate weathering (all "
            "its C from CO2, long-term sink); the rest from carbonates (factor 0.5, "
            "short-term sink)")
    if bcp_share is not None:
        if toc_given:
            out.append(
                f"biological carbon pump: bcp_share = {_share_text(bcp_share)}"
                f"{dflt(bcp_share, DEFAULT_BCP_SHARE)} of the TOC flux is autochthonous "
                "(AOC) and counted as sink; the default 0 is conservative (soil-derived DOC "
                "is not a sink); set bcp_share (--bcp-share, or bcp_share in the run TOML) to the "
                "AOC/TOC share measured for the river, e.g. 0.52-0.86 (mean 0.73) in the Li "
                "River ('Sources of organic carbon in the surface water of Lijiang River')")
        else:
            out.append("no biological-carbon-pump term (no TOC/AOC given)")
    return out
