r"""The per-block sink model: MPD karst sink, biological sink, dissolution, denudation.

Per pixel (the MPD model of Gombert 2002 and Zeng, Liu & Kaufmann 2019; soil pCO2 after
Brook et al. 1983; references in docs/references.md):

.. math::

    R &= \max(\text{runoff}, 0) / 1000 \cdot f_R(\text{class})  \quad [\text{m yr}^{-1}]\\
    p &= \text{pCO}_2^{soil} \cdot 10^{-6} \cdot f_p(\text{class}) \cdot P(z)/P_0
         \quad [\text{atm}]\\
    C &= (1-d)\,\text{Ca}_{eq}^{cal}(T, \log p) + d\,(\text{Ca+Mg})_{eq}^{dol}(T, \log p)
         \quad [\text{mmol L}^{-1}]\\
    \text{HCO}_3 &= 2\,C_a - A \quad [\text{mmol L}^{-1}]\\
    S_{karst} &= M_C \cdot R \cdot c \cdot U(\text{HCO}_3^{carbonic})
         \quad [\text{t C km}^{-2}\,\text{yr}^{-1}]

with :math:`c` the carbonate fraction, :math:`d` the dolomite share of the
carbonate, :math:`A` the sulfuric and nitric-acid HCO3 of the class's SO4 and NO3
(:func:`karstsink.carbon.acid_hco3`: 2 per acid SO4, 1 per acid NO3), :math:`C_a` the
equilibrium :math:`C` of a water that also holds that acid (PHREEQC tables of
:func:`karstsink.chemistry.equilibrium.equilibrium_table` with ``acid_so4`` and
``acid_no3``, as the ratio :math:`C_a / C` on the same grid; :math:`C_a = C` without
acid), so that :math:`2 C_a - A` is its alkalinity by charge balance,
:math:`\text{HCO}_3^{carbonic}` =
:func:`karstsink.carbon.carbonic_hco3` (the karst water's HCO3 less the
sulfuric and nitric-acid HCO3 of its SO4 and NO3, per class) and :math:`U` =
:func:`karstsink.carbon.carbonate_weathering_c` (half the carbonic HCO3 is
soil/atmospheric CO2; Zeng, Liu & Kaufmann 2019,
doi:10.1038/s41467-019-13772-4).  Without SO4 and NO3, :math:`S_{karst} = M_C R C c`.
Units: 1 m yr⁻¹ × 1 mmol L⁻¹ = 1 mol m⁻² yr⁻¹, × 12.011 g mol⁻¹ = 12.011 t C
km⁻² yr⁻¹.  A pixel whose carbonic HCO3 would be negative (more acid HCO3 than
the karst water holds) is nodata and counted (``negative_carbonic_hco3``).
Without a soil-pCO2 raster, :math:`\text{pCO}_2^{soil}` comes from actual
evapotranspiration after Brook et al. (1983), read as a volume fraction:
:math:`\log_{10} p = -3.47 + 2.09\,(1 - e^{-0.00172\,AET})`.  With a DEM the
partial pressure is scaled by the ICAO standard-atmosphere ratio
:math:`P(z)/P_0 = (1 - 2.25577\times10^{-5} z)^{5.25588}` (z in m; 0.80 at
1,800 m).  A zero pCO2 factor (sealed, frozen or flooded ground) means no
soil-CO2-driven dissolution and no karst water: the karst sink is 0 there.

Non-karst pixels (carbonate fraction 0) have a karst sink of 0; a pixel is
nodata (NaN) only where an input it needs is nodata, its land-cover class
is not in the table, or its carbonic HCO3 is negative.  Temperatures and pCO2
outside the equilibrium table are clamped to its edge and counted (the engine
warns).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import carbon
from ..chemistry.equilibrium import exp_bilinear
from ..exceptions import ConfigError, DataError
from ..units import C_TO_CO2
from ._molar import M_C, M_CACO3, M_DOLOMITE

__all__ = ["M_C", "M_CACO3", "M_DOLOMITE", "ModelParams", "compute_block", "karst_sources",
           "lasting_bio", "scenario_bio"]

BROOK = (-3.47, 2.09, 0.00172)  # Brook et al. 1983, log10 atm, AET in mm/yr


def karst_sources(names, pco2_volume_fraction: bool) -> dict[str, tuple[str, ...]]:
    """The raw inputs each quantity of the karst sink is computed from, among ``names``
    (the one rule of the block's model inputs and of the coverage counters).

    runoff from ``runoff``, else precipitation - evapotranspiration; soil pCO2 from
    ``soil_pco2``, else from AET (Brook et al. 1983): ``aet``, else
    ``evapotranspiration`` (also when runoff is given); the pressure ratio from ``dem``
    when ``pco2_volume_fraction``; ``dolomite_fraction`` when given.
    """
    src: dict[str, tuple[str, ...]] = {"carbonate": ("carbonate",),
                                       "temperature": ("temperature",)}
    src["runoff"] = ("runoff",) if "runoff" in names else ("precipitation",
                                                           "evapotranspiration")
    src["pco2_ppmv"] = (("soil_pco2",) if "soil_pco2" in names
                        else ("aet",) if "aet" in names else ("evapotranspiration",))
    if "dem" in names and pco2_volume_fraction:
        src["pressure_ratio"] = ("dem",)
    if "dolomite_fraction" in names:
        src["dolomite_fraction"] = ("dolomite_fraction",)
    return src


def class_so4_no3(so4: np.ndarray | None, no3: np.ndarray | None, nlut: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """SO4 and NO3 look-ups by class code [mmol L⁻¹], zeros of length ``nlut`` for one not
    given (:meth:`ModelParams.class_so4_no3`, and the acid tables before the params)."""
    return (so4 if so4 is not None else np.zeros(nlut),
            no3 if no3 is not None else np.zeros(nlut))


@dataclass
class ModelParams:
    """Everything the per-block model needs besides the rasters (picklable)."""

    pco2_factor: np.ndarray  # by class code, NaN = unknown class
    runoff_factor: np.ndarray
    bio_sink: np.ndarray  # t C km-2 yr-1
    calcite: tuple  # EquilibriumTable.kernel_arrays()
    dolomite: tuple | None = None
    # the karst water's SO4 and NO3 by class code [mmol L-1] (0 = none given) and the
    # acid shares of karstsink.carbon.carbonic_hco3
    so4: np.ndarray | None = None
    no3: np.ndarray | None = None
    shares: dict = field(default_factory=dict)
    #: the acid's effect on the equilibrium (None: no acid): ``(index, ln_ratio_calcite,
    #: ln_ratio_dolomite)``, ``index`` by class code into the tables (-1: no acid in the
    #: class), ``ln_ratio_*`` ``(k, nt, nl)`` ln(C_acid / C) on the calcite table's grid
    #: (dolomite None without a dolomite table); made by
    #: :func:`._carbon_terms.acid_ratio_tables`
    acid_ratio: tuple | None = None
    npp_to_nep: float | None = None  # NEP / NPP ratio applied to an npp raster
    #: share (0-1) of the nep/npp raster counted as a lasting sink, by class code (the
    #: land-cover table's nep_factor); None: 1 everywhere
    nep_factor: np.ndarray | None = None
    co2: bool = False
    outputs: tuple[str, ...] = ()
    rock_density: float = 2.7
    transitions: list[dict] = field(default_factory=list)
    use_numba: bool = False
    #: a DEM scales the soil pCO2 by P(z)/P0 (False: the soil pCO2 is a partial pressure)
    pco2_volume_fraction: bool = True

    def __post_init__(self) -> None:
        # an acid without its equilibrium tables would be subtracted twice (2 C - 2 A of
        # the acid-free C): refused, not computed
        given = self.so4 if self.so4 is not None else self.no3
        if self.acid_ratio is None and given is not None:
            n = given.size
            acid = np.asarray(carbon.acid_hco3(*self.class_so4_no3(n), **self.shares), float)
            if np.nan_to_num(acid).max(initial=0.0) > 0:
                raise DataError(
                    "ModelParams: so4/no3 give acid HCO3 but acid_ratio is None; build it with "
                    "karstsink.mapping._carbon_terms.acid_ratio_tables (as run_map does), "
                    "or leave so4 and no3 out.")

    def class_so4_no3(self, nlut: int) -> tuple[np.ndarray, np.ndarray]:
        """SO4 and NO3 look-ups [mmol L⁻¹] of length ``nlut`` (zeros when not given)."""
        return class_so4_no3(self.so4, self.no3, nlut)

    @property
    def unit_factor(self) -> float:
        """t C -> output unit (1, or 3.664 for t CO2)."""
        return C_TO_CO2 if self.co2 else 1.0


def acid_ratios(acid_ratio: tuple, lcc: np.ndarray, fi: np.ndarray, fj: np.ndarray,
                dolomite: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """C_acid / C of calcite (and dolomite) per pixel from ``ModelParams.acid_ratio``.

    ``lcc`` are class codes inside the look-ups, ``fi``, ``fj`` the fractional table
    indices (clamped); 1 where the class holds no acid."""
    index, lr_c, lr_d = acid_ratio
    k = index[lcc]
    rc = np.ones(lcc.shape)
    rd = np.ones(lcc.shape) if dolomite else None
    for kq in np.unique(k[k >= 0]).tolist():
        m = k == kq
        rc[m] = exp_bilinear(lr_c[kq], fi[m], fj[m])
        if rd is not None and lr_d is not None:
            rd[m] = exp_bilinear(lr_d[kq], fi[m], fj[m])
    return rc, rd


def _interp_table(kernel: tuple, temp: np.ndarray, logp: np.ndarray) -> np.ndarray:
    """Bilinear in ln C (same arithmetic as EquilibriumTable.__call__); inputs pre-clamped."""
    lv, t0, dt, l0, dl = kernel
    return exp_bilinear(lv, (temp - t0) / dt, (logp - l0) / dl)


def soil_pco2_brook(aet_mm: np.ndarray) -> np.ndarray:
    """Soil pCO2 from actual evapotranspiration, Brook et al. (1983) [ppmv].

    Parameters
    ----------
    aet_mm : numpy.ndarray
        Actual evapotranspiration [mm yr⁻¹].

    Returns
    -------
    numpy.ndarray
        Soil CO2 [ppmv] (volume fraction x 1e6).
    """
    a, b, k = BROOK
    return 10.0 ** (a + b * (1.0 - np.exp(-k * aet_mm)) + 6.0)


def pressure_ratio(elevation_m: np.ndarray) -> np.ndarray:
    """ICAO standard-atmosphere P(z)/P0 for elevation z [m] (troposphere) [unitless]."""
    return np.power(np.clip(1.0 - 2.25577e-5 * elevation_m, 1e-6, None), 5.25588)


def remap_classes(codes: np.ndarray, valid: np.ndarray, slope_deg: np.ndarray | None,
                  transitions: list[dict]) -> np.ndarray:
    """Apply scenario class transitions (``from`` -> ``to``, optional ``min_slope_deg``)."""
    # a copy in the narrowest integer type that holds the codes and every ``to`` code
    # (an int64 copy would cost 8 bytes per pixel and another compiled kernel)
    dtype = np.result_type(codes.dtype, *(np.min_scalar_type(int(t["to"])) for t in transitions))
    out = codes.astype(dtype)
    for t in transitions:
        sel = valid & (codes == int(t["from"]))
        if "min_slope_deg" in t:
            if slope_deg is None:
                raise ConfigError(f"Transition {t['from']} -> {t['to']} uses min_slope_deg, "
                                  f"which needs a DEM: add [inputs] dem.")
            with np.errstate(invalid="ignore"):
                sel &= slope_deg > float(t["min_slope_deg"])
        out[sel] = int(t["to"])
    return out


def lasting_bio(bio: np.ndarray, codes: np.ndarray, valid: np.ndarray,
                nep_factor: np.ndarray | None) -> np.ndarray:
    """The lasting biological sink of an NEP (or NPP x ratio) raster: ``bio`` x the
    pixel's class's ``nep_factor`` [0-1] (cropland 0: harvest removes its production
    within the year, so its NEP is not a lasting sink).

    Parameters
    ----------
    bio : numpy.ndarray
        The raster's net sink [t C km⁻² yr⁻¹], float32, NaN for nodata.
    codes, valid : numpy.ndarray
        The pixels' land-cover codes and where they are valid.
    nep_factor : numpy.ndarray or None
        The factor by class code (:meth:`.landcover.LandcoverTable.nep_factor`);
        None: ``bio`` unchanged.

    Returns
    -------
    numpy.ndarray
        float32; a code outside the look-up keeps its value (the model makes it nodata).
    """
    if nep_factor is None:
        return bio
    lut = np.asarray(nep_factor, np.float32)
    inside = valid & (codes >= 0) & (codes < lut.size)
    return np.where(inside, bio * lut[np.where(inside, codes, 0)], bio)


def scenario_bio(bio: np.ndarray, codes: np.ndarray, new_codes: np.ndarray,
                 bio_sink: np.ndarray) -> np.ndarray:
    """The biological sink under a scenario: pixels whose class changes take the new
    class's table sink (``bio_sink`` by class code [t C km⁻² yr⁻¹]), the others keep ``bio``.

    A NEP/NPP raster describes the present land cover only; the table's per-class
    biomass sink is the only value known for the new class.  ``bio`` is the raster's
    lasting sink (:func:`lasting_bio`, x the old class's ``nep_factor``), so a changed
    pixel's gain is the new class's lasting sink less the old class's.
    """
    changed = new_codes != codes
    lut = np.asarray(bio_sink, np.float64)
    new = lut[np.where(changed, new_codes, 0)].astype(bio.dtype)
    return np.where(changed, new, bio)


def compute_block(inp: dict[str, np.ndarray], p: ModelParams,
                  codes: np.ndarray | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Run the sink model on one block.

    Parameters
    ----------
    inp : dict
        ``landcover`` (integer codes), ``landcover_valid`` (bool), ``carbonate``
        [0-1], ``runoff`` [mm yr⁻¹], ``temperature`` [°C], ``pco2_ppmv`` [ppmv]
        and optionally ``dolomite_fraction`` [0-1], ``pressure_ratio`` [-],
        ``bio`` [g C m⁻² yr⁻¹ = t C km⁻² yr⁻¹, the lasting net sink: NEP, or NPP x the
        NPP-to-NEP ratio, x the class's ``nep_factor``: :func:`lasting_bio`]; float32
        with NaN for nodata.
    p : ModelParams
        Lookup tables and options.
    codes : numpy.ndarray, optional
        Land-cover codes to use instead of ``inp["landcover"]`` (scenarios).

    Returns
    -------
    (dict, dict)
        float32 arrays ``karst``, ``bio``, ``total`` (and ``dissolution``,
        ``denudation`` on request), in t C km⁻² yr⁻¹ (t CO2 when ``p.co2``),
        t km⁻² yr⁻¹ and mm ka⁻¹; and counters (``unknown_classes`` {code:
        pixels}, ``temp_clamped``, ``pco2_clamped``, ``negative_runoff``,
        ``bad_fraction``, ``negative_carbonic_hco3``).
    """
    lc = inp["landcover"] if codes is None else codes
    lc_valid = inp["landcover_valid"]
    if p.use_numba:
        from ._kernel import fused_kernel

        return fused_kernel(inp, lc, lc_valid, p)
    nlut = p.pco2_factor.size
    in_lut = lc_valid & (lc >= 0) & (lc < nlut)
    lcc = np.where(in_lut, lc, 0)
    fp = np.where(in_lut, p.pco2_factor[lcc], np.nan)
    known = in_lut & np.isfinite(fp)
    counters: dict = {}
    unknown = lc_valid & ~known
    if unknown.any():
        vals, cnt = np.unique(lc[unknown], return_counts=True)
        counters["unknown_classes"] = {int(v): int(c) for v, c in zip(vals, cnt, strict=True)}
    carb = inp["carbonate"]
    bad_frac = (carb < 0) | (carb > 1)
    counters["bad_fraction"] = int(np.count_nonzero(bad_frac))
    dol = inp.get("dolomite_fraction")
    if dol is not None:
        bad_dol = (dol < 0) | (dol > 1)
        counters["bad_fraction"] += int(np.count_nonzero(bad_dol))
    runoff = inp["runoff"]
    counters["negative_runoff"] = int(np.count_nonzero(runoff < 0))
    fr = np.where(known, p.runoff_factor[lcc], np.nan)
    r_m = np.maximum(runoff, 0.0) * (fr / 1000.0)
    pco2 = inp["pco2_ppmv"] * (fp * 1e-6)
    if "pressure_ratio" in inp:
        pco2 = pco2 * inp["pressure_ratio"]
    temp = inp["temperature"].astype(np.float64)
    lv, t0, dt, l0, dl = p.calcite
    tmax = t0 + dt * (lv.shape[0] - 1)
    lmax = l0 + dl * (lv.shape[1] - 1)
    positive = pco2 > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log10(np.where(positive, pco2, 1.0).astype(np.float64))
    # no karst water where an input it needs is missing or out of range (a dolomite
    # fraction too), whatever the soil pCO2; the clamp counters count the rest of the
    # known classes (as the numba kernel does)
    invalid = np.isnan(temp) | np.isnan(pco2)
    if dol is not None:
        invalid |= np.isnan(dol) | bad_dol
    counted = known & ~invalid
    counters["temp_clamped"] = int(np.count_nonzero(counted & ((temp < t0) | (temp > tmax))))
    counters["pco2_clamped"] = int(np.count_nonzero(
        counted & positive & ((logp < l0) | (logp > lmax))))
    tc = np.clip(np.nan_to_num(temp, nan=t0), t0, tmax)
    lc_ = np.clip(logp, l0, lmax)
    ca = _interp_table(p.calcite, tc, lc_)
    if dol is not None and p.dolomite is not None:
        cad = _interp_table(p.dolomite, tc, lc_)
        conc = (1.0 - dol) * ca + dol * cad
    else:
        cad = None
        conc = ca
    conc = np.where(invalid, np.nan, np.where(positive, conc, 0.0))
    carb_ok = np.where(bad_frac, np.nan, carb)
    # the karst water's HCO3: by charge balance 2 per Ca (2 per Ca+Mg of dolomite) of the
    # water holding its class's acid, less that acid's SO4 and NO3 charge; then less the
    # sulfuric and nitric-acid HCO3 (karstsink.carbon, the catchments' rule)
    so4_lut, no3_lut = p.class_so4_no3(nlut)
    so4_c, no3_c = so4_lut[lcc], no3_lut[lcc]
    acid = carbon.acid_hco3(so4_c, no3_c, **p.shares)
    conc_a = conc
    if p.acid_ratio is not None:
        rc, rd = acid_ratios(p.acid_ratio, lcc, (tc - t0) / dt, (lc_ - l0) / dl,
                             cad is not None)
        if cad is None or dol is None or rd is None:
            conc_a = ca * rc
        else:
            conc_a = (1.0 - dol) * ca * rc + dol * cad * rd
        conc_a = np.where(np.isfinite(conc), conc_a, conc)  # 0 and NaN as conc
        conc_a = np.where(conc == 0.0, 0.0, conc_a)
    carbonic = carbon.carbonic_hco3(2.0 * conc_a - acid, so4_c, no3_c, **p.shares)
    uptake = carbon.carbonate_weathering_c(carbonic)[0]
    negative = positive & (carbonic < 0)  # implies a known class and valid inputs
    counters["negative_carbonic_hco3"] = int(np.count_nonzero(negative & (carb_ok > 0)))
    uptake = np.where(negative, np.nan, uptake)
    uptake = np.where(positive, uptake, conc)  # p <= 0: no karst water (0), or nodata (NaN)
    karst = (M_C * r_m) * uptake * carb_ok
    karst = np.where(carb_ok == 0, 0.0, karst)  # non-karst pixels are 0 whatever their climate
    bio = inp["bio"] if "bio" in inp else np.where(known, p.bio_sink[lcc], np.nan)
    bio = np.where(known, bio, np.nan)
    uf = p.unit_factor
    out = {
        "karst": (karst * uf).astype(np.float32),
        "bio": (bio * uf).astype(np.float32),
    }
    out["total"] = out["karst"] + out["bio"]
    if "dissolution" in p.outputs or "denudation" in p.outputs:
        # rock mass dissolved per m3 of water [g/m3 = t/(km2 m)]: calcite releases one Ca
        # per CaCO3; dolomite one Ca + one Mg per CaMg(CO3)2
        per_water = ca * M_CACO3
        if cad is not None and dol is not None:  # cad is only interpolated with dol
            per_water = (1.0 - dol) * per_water + dol * (cad / 2.0) * M_DOLOMITE
        per_water = np.where(invalid, np.nan, np.where(positive, per_water, 0.0))
        rate = r_m * per_water  # t km-2 yr-1 of carbonate outcrop
        if "dissolution" in p.outputs:
            out["dissolution"] = np.where(carb_ok == 0, 0.0, rate * carb_ok).astype(np.float32)
        if "denudation" in p.outputs:
            # t km-2 yr-1 / (t m-3) = m3 km-2 yr-1 = mm ka-1; 0 off carbonate outcrop
            den = np.where(carb_ok > 0, rate / p.rock_density, 0.0)
            out["denudation"] = np.where(np.isnan(carb_ok) | ((carb_ok > 0) & np.isnan(rate)),
                                         np.nan, den).astype(np.float32)
    return out, counters
