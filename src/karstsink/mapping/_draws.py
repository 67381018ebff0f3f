r"""Monte Carlo uncertainty of the zone totals in the map pass (``[uncertainty]``).

Each of ``draws`` = K draws perturbs the uncertain parameters at once:

* per class, the soil-pCO2 factor and the biological sink, uniform in the land-cover
  table's ``soil_pco2_factor_lo``..``_hi`` and ``biological_sink_tc_km2_yr_lo``..``_hi``
  (a blank range: the value is fixed; sources in the table's ``range_source`` column);
* runoff, one systematic factor per draw, :math:`1 + \sigma_R z` (``runoff_rel_sd``,
  truncated at 0), and temperature, one offset per draw, :math:`\sigma_T z` [K]
  (``temperature_sd_c``); not varied when not given;
* the dolomite equilibrium: per draw one of ``dolomite_databases`` (the spread between
  thermodynamic databases), with a dolomite input only.

Cost: the model is not run K times per pixel.  On a systematic subsample (every
``subsample``-th row and column of the grid, s = 8 by default: 1/64 of the pixels) the
same kernel (:func:`~.model.compute_block`) runs once with the central parameters and
once per draw, and per zone the ratio estimator

.. math:: S_k = S_{full} \cdot \frac{s_k}{s_0}

scales the full-resolution total :math:`S_{full}` by the subsample's draw / central
ratio (karst and biological sink separately; a zone whose subsample holds no sink keeps
its total: ratio 1).

Per-pixel sd (``sd_raster = true``): on the same subsample, per pixel the sum and the
sum of squares (float64) of the K draws' total sink, taken as deviations from the
central value, give the sample standard deviation

.. math:: sd = \sqrt{\frac{\sum_k d_k^2 - (\sum_k d_k)^2 / K}{K - 1}}, \quad
          d_k = S_k - S_0

(ddof = 1; NaN where the central value or a draw is nodata), written as
``total_sink_sd.tif`` at s x the grid's pixel size: lattice pixel (I, J) is the
subsample pixel at full-resolution row I s and column J s, the top-left pixel of the
s x s cell it covers (:func:`._draws_sd.write_sd_raster`).  It costs no extra kernel run.

Sensitivity: per zone, the linear regression of the total sink on the drawn parameters
gives the standardised coefficients :math:`SRC_j` and :math:`R^2`; the variance share of
parameter *j* is

.. math:: V_j = \frac{SRC_j^2}{\sum_k SRC_k^2 + (1 - R^2)}

that is :math:`b_j^2 s_j^2 / (\sum_k b_k^2 s_k^2 + s_e^2)`: the variance decomposition
of the fitted linear model with the draws' chance correlations between the parameters
(drawn independently) left out.  For a linear response and uncorrelated draws it is
:math:`SRC_j^2`, the first-order variance share (Saltelli et al. 2008, *Global
Sensitivity Analysis: The Primer*, Wiley, doi:10.1002/9780470725184); unlike
:math:`SRC_j^2` of a finite sample it never exceeds 100 %, and the shares add up to
at most 100 %.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import qa
from ..exceptions import ConfigError, DataQualityWarning
from ..io.tomlfile import toml_number
from ._area import has_valid_pixel
from .landcover import RANGE_COLUMNS

if TYPE_CHECKING:
    from .model import ModelParams

__all__ = ["DrawSet", "UncertaintyConfig", "block_draws", "make_draws",
           "parse_uncertainty", "zone_draw_table"]

KEYS = ("draws", "seed", "subsample", "runoff_rel_sd", "temperature_sd_c",
        "dolomite_databases", "sd_raster")



@dataclass
class UncertaintyConfig:
    """A validated ``[uncertainty]`` (see the module docstring)."""

    draws: int
    seed: int = 0
    subsample: int = 8
    runoff_rel_sd: float | None = None
    temperature_sd_c: float | None = None
    dolomite_databases: tuple[str, ...] = ()
    sd_raster: bool = False


def parse_uncertainty(where: str, body) -> UncertaintyConfig:
    """Validate ``[uncertainty]``; one ConfigError naming the key."""
    if not isinstance(body, dict):
        raise ConfigError(f"{where}[uncertainty] must be a table of keys.")

    def integer(key, lo, default=None):
        return int(toml_number(body.get(key, default), f"{where}[uncertainty] {key}", lo=lo,
                               integer=True))

    if "draws" not in body:
        raise ConfigError(f"{where}[uncertainty] needs draws = N (the Monte Carlo draws, "
                          f"e.g. 100).")
    cfg = UncertaintyConfig(draws=integer("draws", 2), seed=integer("seed", 0, 0),
                            subsample=integer("subsample", 1, 8))
    for key in ("runoff_rel_sd", "temperature_sd_c"):
        if key in body:
            setattr(cfg, key, toml_number(body[key], f"{where}[uncertainty] {key}", lo=0.0))
    dbs = body.get("dolomite_databases", [])
    if not isinstance(dbs, list) or not all(isinstance(d, str) and d for d in dbs):
        raise ConfigError(f"{where}[uncertainty] dolomite_databases must be a list of "
                          f"PHREEQC database names (e.g. [\"phreeqc.dat\", \"llnl.dat\"]).")
    cfg.dolomite_databases = tuple(dbs)
    sd = body.get("sd_raster", False)
    if not isinstance(sd, bool):
        raise ConfigError(f"{where}[uncertainty] sd_raster must be true or false (write "
                          f"total_sink_sd.tif, the per-pixel sd of the draws); got {sd!r}.")
    cfg.sd_raster = sd
    return cfg


@dataclass
class DrawSet:
    """The drawn parameters of a run (picklable; ``x``: one row per draw, the values of
    the varied parameters ``names``, for the sensitivity regression)."""

    step: int
    pco2: np.ndarray  # (K, nlut) soil-pCO2 factor by class code
    bio: np.ndarray  # (K, nlut) biological sink by class code [t C km-2 yr-1]
    runoff: np.ndarray  # (K,) runoff factor
    temp: np.ndarray  # (K,) temperature offset [K]
    dolomite: list | None  # K dolomite kernel tables, or None
    names: list[str]
    x: np.ndarray
    seed: int = 0  # of the draws (the sd raster's tags)
    sd_raster: bool = False  # accumulate the per-pixel sd of the total sink

    @property
    def k(self) -> int:
        return len(self.runoff)


def _range_luts(lct, column: str) -> tuple[np.ndarray, np.ndarray]:
    """Low and high look-ups of a column (the value itself where no range is given)."""
    central = lct.lookup(column)
    lo_col, hi_col = RANGE_COLUMNS[column]
    if lo_col not in lct.columns or hi_col not in lct.columns:
        return central, central
    lo, hi = lct.lookup(lo_col), lct.lookup(hi_col)
    blank = np.isnan(lo) | np.isnan(hi)
    return np.where(blank, central, lo), np.where(blank, central, hi)


def make_draws(ucfg: UncertaintyConfig, lct, params, dolomite_tables: list | None,
               bio_from_table: bool = True) -> DrawSet:
    """Draw every uncertain parameter of a run (``dolomite_tables``: the kernel tables of
    ``dolomite_databases``, or None).  With ``bio_from_table`` False (an nep or npp
    raster gives the biological sink) the table's biological-sink ranges are drawn but
    have no effect, so they are not listed as parameters (nor in sensitivity.csv)."""
    rng = np.random.default_rng(ucfg.seed)
    k = ucfg.draws
    names, cols = [], []
    luts = {}
    for column, label in (("soil_pco2_factor", "soil_pco2_factor"),
                          ("biological_sink_tc_km2_yr", "biological_sink")):
        lo, hi = _range_luts(lct, column)
        u = rng.random((k, lo.size))
        drawn = lo[None] + (hi - lo)[None] * u
        luts[column] = drawn
        if column == "biological_sink_tc_km2_yr" and not bio_from_table:
            continue
        for code in lct.classes.tolist():
            if hi[code] > lo[code]:
                names.append(f"{label}:{code}")
                cols.append(drawn[:, code])
    z_r, z_t = rng.standard_normal(k), rng.standard_normal(k)
    runoff = np.maximum(1.0 + (ucfg.runoff_rel_sd or 0.0) * z_r, 0.0)
    temp = (ucfg.temperature_sd_c or 0.0) * z_t
    if ucfg.runoff_rel_sd:
        names.append("runoff_factor")
        cols.append(runoff)
    if ucfg.temperature_sd_c:
        names.append("temperature_offset_c")
        cols.append(temp)
    dol = None
    if dolomite_tables and params.dolomite is not None:
        pick = rng.integers(0, len(dolomite_tables), k)
        dol = [dolomite_tables[i] for i in pick]
        ref = params.dolomite[0]
        # the draw's table as one number: its mean ln (Ca+Mg)_eq less the run's
        names.append("dolomite_equilibrium")
        cols.append(np.array([float(np.mean(t[0] - ref)) for t in dol]))
    x = np.column_stack(cols) if cols else np.zeros((k, 0))
    need = draws_needed(len(names))
    if names and k < need:
        warnings.warn(
            f"[uncertainty] draws = {k} is too few for the sensitivity regression of "
            f"{len(names)} varied parameter(s): sensitivity.csv flags its shares "
            f"sensitivity_few_draws; draws = {need} or more gives stable shares.",
            DataQualityWarning, stacklevel=2)
    return DrawSet(step=ucfg.subsample, pco2=luts["soil_pco2_factor"],
                   bio=luts["biological_sink_tc_km2_yr"], runoff=runoff, temp=temp,
                   dolomite=dol, names=names, x=x, seed=ucfg.seed, sd_raster=ucfg.sd_raster)


def _sub_zones(zones, sl, shape):
    """A block's zone ids (:meth:`~.zones.ZoneSet.block_zones`) on the subsample: border
    pixels take their central sub-pixel's zone."""
    if zones is None:
        return None
    ids, flat, sub = zones
    if np.isscalar(ids):
        return zones
    out = np.ascontiguousarray(ids[sl]).astype(np.int32)
    if flat is not None:
        h, w = shape
        rows = np.arange(h)[sl[0]][:, None]
        cols = np.arange(w)[sl[1]][None, :]
        border = out < 0
        if border.any():
            fi = (rows * w + cols)[border]
            pos = np.searchsorted(flat, fi)
            s = math.isqrt(sub.shape[1])  # s x s sub-pixels, row-major: the centre one
            out[border] = sub[pos, (s // 2) * s + s // 2]
    return out, None, None


def _batches(p: ModelParams, d: DrawSet) -> list[tuple[list[int], ModelParams]]:
    """The kernel calls of a block's draws: ``(draws, parameters)`` with the central
    parameters as draw -1.  The draws of one call are stacked as slabs whose class codes
    are offset by ``slab x nlut`` into look-ups that concatenate each draw's per-class
    soil-pCO2 factor, runoff factor (x the draw's runoff factor: the model's R is
    max(runoff, 0) x factor) and biological sink; draws of different dolomite tables go
    to different calls."""
    groups: dict[int, list[int]] = {-1: [-1]}
    for j in range(d.k):
        g = -1 if d.dolomite is None else id(d.dolomite[j])
        groups.setdefault(g, []).append(j)
    out = []
    for g, draws in groups.items():
        fp = [p.pco2_factor if j < 0 else d.pco2[j] for j in draws]
        fr = [p.runoff_factor * (1.0 if j < 0 else d.runoff[j]) for j in draws]
        bio = [p.bio_sink if j < 0 else d.bio[j] for j in draws]
        change: dict[str, Any] = {"pco2_factor": np.concatenate(fp),
                                  "runoff_factor": np.concatenate(fr),
                                  "bio_sink": np.concatenate(bio)}
        for key in ("so4", "no3"):
            if getattr(p, key) is not None:
                change[key] = np.tile(getattr(p, key), len(draws))
        if p.acid_ratio is not None:  # the class look-up tiles; the tables are shared
            index, lr_c, lr_d = p.acid_ratio
            change["acid_ratio"] = (np.tile(index, len(draws)), lr_c, lr_d)
        if g != -1:
            assert d.dolomite is not None  # g is the id of one of its tables
            change["dolomite"] = d.dolomite[draws[-1]]
        out.append((draws, dataclasses.replace(p, **change)))
    return out


def block_draws(state, inp: dict, p, layers: list, area_row: np.ndarray, window
                ) -> tuple[np.ndarray, tuple[int, int, np.ndarray] | None]:
    """Subsample sums of one block and, with ``sd_raster``, its piece of the sd raster.

    Returns
    -------
    sums : numpy.ndarray
        ``(1 + K, 2, zones + 2)``: central, then each draw; karst and biological sink
        [t C yr⁻¹]; per zone column of the zone sums, then the whole grid (last column).
    piece : (int, int, numpy.ndarray) or None
        With ``DrawSet.sd_raster``: ``(I0, J0, sd)``, the block's subsample pixels on
        the grid's lattice (lattice row I = full-resolution row I x s; ``I0, J0`` of
        the block's first subsample pixel) and the sample sd (ddof = 1, float32) of
        the K draws' total sink there, in the total sink's unit (t C km⁻² yr⁻¹, t CO2
        with ``co2``; NaN where the central value or a draw is nodata); else None.

    Every draw runs through the map's kernel (:func:`~.model.compute_block`), the draws
    of a block in one call (:func:`_batches`).
    """
    from ._draws_sd import _accumulate_sd, _sd_of
    from .model import compute_block

    spec = state.spec
    d = spec.draws
    s = d.step
    # the subsample: the pixels whose global row and column are multiples of s
    r0, c0 = (-int(window.row_off)) % s, (-int(window.col_off)) % s
    sl = (slice(r0, None, s), slice(c0, None, s))
    shape = inp["landcover"].shape
    nz = spec.zones.n if spec.zones is not None else 0
    out = np.zeros((d.k + 1, 2, nz + 2))
    sub = {n: np.ascontiguousarray(v[sl]) for n, v in inp.items()}
    h, w = sub["landcover"].shape
    if h * w == 0:
        return out, None
    batches = getattr(state, "draw_batches", None)
    if batches is None:  # once per process (a thread race builds equal lists)
        batches = state.draw_batches = _batches(p, d)
    nlut = p.pco2_factor.size
    lc = sub["landcover"].astype(np.int64)
    valid = sub["landcover_valid"] & (lc >= 0) & (lc < nlut)
    lc = np.where(valid, lc, 0).astype(np.int32)
    area = np.ascontiguousarray(area_row[sl[0]])
    zl = [_sub_zones(z, sl, shape) for z in layers]
    acc = None  # sd raster: central total, sum and sum of squares of the deviations
    for draws, pk in batches:
        m = len(draws)
        offs = np.arange(m, dtype=np.int32)[:, None, None]
        big = {n: np.tile(v, (m, 1)) for n, v in sub.items()
               if n not in ("landcover", "landcover_valid", "temperature")}
        big["landcover"] = (lc[None] + offs * np.int32(nlut)).reshape(m * h, w)
        big["landcover_valid"] = np.tile(valid, (m, 1))
        dt = np.array([0.0 if j < 0 else d.temp[j] for j in draws], np.float32)
        big["temperature"] = (sub["temperature"][None] + dt[:, None, None]).reshape(m * h, w)
        o, _ = compute_block(big, pk)
        if d.sd_raster:
            acc = _accumulate_sd(acc, o["total"].reshape(m, h, w), draws)
        rows = [j + 1 for j in draws]
        for li, zones in enumerate(zl):
            ids = np.zeros((h, w), np.int32) if zones is None else (
                np.full((h, w), zones[0], np.int32) if np.isscalar(zones[0]) else zones[0])
            ids = (ids[None] + offs * np.int32(nz + 1)).reshape(m * h, w)
            q = _slab_sums(spec, ids, m * (nz + 1) - 1, np.tile(area, m), big["carbonate"],
                           o).reshape(6, m, nz + 1)
            if zones is not None:
                out[rows, :, :nz + 1] += q[3:5].transpose(1, 0, 2)
            if li == 0:
                out[rows, :, nz + 1] = q[3:5].sum(axis=2).T
    if acc is None:
        return out, None
    row0, col0 = (int(window.row_off) + r0) // s, (int(window.col_off) + c0) // s
    return out, (row0, col0, _sd_of(acc, d.k))


def _slab_sums(spec, ids: np.ndarray, n: int, area_row: np.ndarray, carb: np.ndarray,
               o: dict) -> np.ndarray:
    """Sums ``(6, n + 1)`` by id of the stacked draws: the engine's zone sums
    (:func:`._kernel.zone_sums`, or :meth:`.zones.ZoneSet.accumulate` without numba)."""
    vals = [o["karst"], o["bio"], o["total"]]
    if spec.params.use_numba:
        from ._kernel import zone_sums

        uf = 1.0 / spec.params.unit_factor
        return zone_sums((ids, None, None), n, area_row, carb, vals, uf)[0]
    from .zones import sum_quantities, zone_accumulate

    qs = sum_quantities(area_row, carb, vals, o["total"], 1.0 / spec.params.unit_factor)
    return zone_accumulate(n, (ids, None, None), qs)


def zone_draw_table(sub: np.ndarray, full: np.ndarray | None, grid_totals, nz: int,
                    d: DrawSet) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the karst and biological sink per zone row (zones, then TOTAL):
    ``(K, 2, nz + 1)`` [t C yr⁻¹], with NaN for a zone without a valid pixel, and the
    central totals ``(2, nz + 1)``.

    ``sub``: the merged :func:`block_draws`; ``full``: the run's zone sums
    ``(quantities, 1 + zones [+ union])`` or None; ``grid_totals``: the grid's.
    """
    gt = np.asarray(grid_totals, float)
    if full is None:
        central = np.array([[gt[2]], [gt[3]]])
        cols = [sub.shape[2] - 1]
    else:
        area, nodata = full[0, 1:nz + 1], full[2, 1:nz + 1]
        empty = ~has_valid_pixel(area, nodata)
        central = full[3:5, 1:nz + 1].copy()
        central[:, empty] = np.nan
        cols = list(range(1, nz + 1))
        if full.shape[1] > nz + 1:  # the union of overlapping zones: the TOTAL row
            u = full[3:5, nz + 1]
            central = np.c_[central, u]
            cols.append(nz + 1)
    s0, sk = sub[0][:, cols], sub[1:][:, :, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        # a zone with a sink but none on the subsample cannot be estimated: NaN (its
        # interval is unknown, not zero-width); a zone whose sink is 0 stays 0
        ratio = np.where(s0[None] != 0, sk / s0[None],
                         np.where(central[None] == 0, 1.0, np.nan))
    draws = central[None] * ratio
    if full is not None and len(cols) == nz:  # TOTAL = the sum over the zones
        draws = np.concatenate([draws, np.nansum(draws, axis=2, keepdims=True)], axis=2)
        tot = np.nansum(central, axis=1, keepdims=True)
        central = np.c_[central, tot]
    return draws, central


def draws_needed(n_parameters: int) -> int:
    """Draws the sensitivity regression of ``n_parameters`` varied parameters needs:
    :data:`karstsink.qa.SENSITIVITY_MIN_DRAWS_PER_COEFFICIENT` per coefficient (the
    parameters plus the intercept); fewer are flagged ``sensitivity_few_draws``."""
    return math.ceil(qa.SENSITIVITY_MIN_DRAWS_PER_COEFFICIENT * (n_parameters + 1))


def sensitivity(y: np.ndarray, d: DrawSet) -> tuple[np.ndarray, float, str]:
    """Variance shares [%] of the drawn parameters in ``y`` (K draws; see the module
    notes), the regression's R² [%] (both NaN when ``y`` does not vary) and its
    ``qa_flags``: ``sensitivity_few_draws`` with fewer than :func:`draws_needed` for
    the parameters that vary, ``sensitivity_low_r2`` with R² below
    :data:`karstsink.qa.SENSITIVITY_MIN_R2_PCT`."""
    x = d.x
    sx = x.std(axis=0)
    sy = float(np.std(y))
    shares = np.full(x.shape[1], np.nan)
    if not np.isfinite(sy) or sy == 0 or x.shape[1] == 0:
        return shares, math.nan, ""
    use = sx > 0
    xs = (x[:, use] - x[:, use].mean(axis=0)) / sx[use]
    ys = (y - y.mean()) / sy
    design = np.c_[np.ones(len(ys)), xs]
    beta, *_ = np.linalg.lstsq(design, ys, rcond=None)
    src2 = beta[1:] ** 2
    unexplained = float(np.mean((ys - design @ beta) ** 2))  # 1 - R², ys has variance 1
    shares[use] = 100.0 * src2 / (src2.sum() + unexplained)
    r2 = 100.0 * (1.0 - unexplained)
    flags = []
    if len(ys) < draws_needed(xs.shape[1]):
        flags.append("sensitivity_few_draws")
    if r2 < qa.SENSITIVITY_MIN_R2_PCT:
        flags.append("sensitivity_low_r2")
    return shares, r2, qa.join(flags)


#: uncertainty.csv columns after zone_id, the zone label and year, per sink
SINKS = (("karst", "karst_sink"), ("bio", "biological_sink"), ("total", "total_sink"))


def uncertainty_tables(year, sub: np.ndarray, full, grid_totals, zonal: dict | None,
                       field: str, d: DrawSet, total_label: str) -> tuple[dict, dict]:
    """``uncertainty.csv`` and ``sensitivity.csv`` of one year (``year`` None for a
    single run) as columns; ``zonal``: the year's zone table (ids and names) or None."""
    nz = len(zonal["zone_id"]) - 1 if zonal else 0
    draws, central = zone_draw_table(sub, full if zonal else None, grid_totals, nz, d)
    ids = zonal["zone_id"] if zonal else [None]
    names = zonal[field] if zonal else [total_label]
    per = {"karst": draws[:, 0], "bio": draws[:, 1], "total": draws[:, 0] + draws[:, 1]}
    mid = {"karst": central[0], "bio": central[1], "total": central[0] + central[1]}
    unc: dict[str, list] = {"zone_id": list(ids), field: list(names),
                            "year": [year] * len(ids)}
    for key, stem in SINKS:
        lo, hi = np.nanpercentile(per[key], [2.5, 97.5], axis=0) if np.isfinite(
            per[key]).any() else (np.full(len(ids), np.nan),) * 2
        unc[f"{stem}_t_c_yr"] = [float(v) for v in mid[key]]
        unc[f"{stem}_lo95_t_c_yr"] = [float(v) for v in lo]
        unc[f"{stem}_hi95_t_c_yr"] = [float(v) for v in hi]
        unc[f"{stem}_sd_t_c_yr"] = [float(v) for v in np.nanstd(per[key], axis=0, ddof=1)]
    sens: dict[str, list] = {"zone_id": [], field: [], "year": [], "parameter": [],
                             "variance_share_pct": [], "explained_variance_pct": [],
                             "qa_flags": []}
    for j in range(len(ids)):
        y = per["total"][:, j]
        shares, r2, flags = sensitivity(y, d) if np.isfinite(y).all() else (
            np.full(len(d.names), np.nan), math.nan, "")
        for name, share in zip(d.names, shares, strict=True):
            sens["zone_id"].append(ids[j])
            sens[field].append(names[j])
            sens["year"].append(year)
            sens["parameter"].append(name)
            sens["variance_share_pct"].append(float(share))
            sens["explained_variance_pct"].append(r2)
            sens["qa_flags"].append(flags)
    return unc, sens


def append_columns(acc: dict | None, cols: dict) -> dict:
    """Rows of ``cols`` appended to ``acc`` (same columns)."""
    if acc is None:
        return {k: list(v) for k, v in cols.items()}
    for k, v in cols.items():
        acc[k].extend(v)
    return acc


def dolomite_tables(cfg, dolomite) -> list | None:
    """The dolomite kernel tables of ``[uncertainty] dolomite_databases`` (None without a
    dolomite input or databases); each must share the run's table grid."""
    ucfg = cfg.uncertainty
    if not ucfg.dolomite_databases or dolomite is None:
        return None
    from ..chemistry.equilibrium import equilibrium_table

    ref = dolomite.kernel_arrays()
    out = []
    for db in ucfg.dolomite_databases:
        t = equilibrium_table(system=cfg.system, mineral="dolomite", database=db)
        arrays = t.kernel_arrays()
        if arrays[0].shape != ref[0].shape or tuple(arrays[1:]) != tuple(ref[1:]):
            raise ConfigError(f"[uncertainty] dolomite_databases: the table of {db} has "
                              f"another temperature/pCO2 grid than the run's.")
        out.append(arrays)
    return out


def describe(ucfg: UncertaintyConfig, d: DrawSet, bio_from_table: bool = True
             ) -> tuple[dict, str]:
    """The run record of the draws and their assumption sentence."""
    doc = {"draws": ucfg.draws, "seed": ucfg.seed, "subsample_step_px": ucfg.subsample,
           "runoff_rel_sd": ucfg.runoff_rel_sd, "temperature_sd_c": ucfg.temperature_sd_c,
           "dolomite_databases": list(ucfg.dolomite_databases), "parameters": d.names,
           "sd_raster": ucfg.sd_raster}
    fixed = [n for n, v in (("runoff", ucfg.runoff_rel_sd),
                            ("temperature", ucfg.temperature_sd_c)) if not v]
    sentence = (f"Uncertainty: {ucfg.draws} Monte Carlo draws (seed {ucfg.seed}) of the "
                + ("per-class soil-pCO2 factors and biological sinks (uniform in the "
                   "land-cover table's _lo/_hi ranges)" if bio_from_table else
                   "per-class soil-pCO2 factors (uniform in the land-cover table's _lo/_hi "
                   "ranges; the biological sink of the nep/npp raster is not varied)")
                + (f", runoff x (1 + {ucfg.runoff_rel_sd:g} z)" if ucfg.runoff_rel_sd else "")
                + (f", temperature + {ucfg.temperature_sd_c:g} z K" if ucfg.temperature_sd_c
                   else "")
                + (f", the dolomite equilibrium of {', '.join(ucfg.dolomite_databases)} "
                   "(a class's acid scales each by its effect in the run's database)"
                   if ucfg.dolomite_databases else "")
                + f"; zone totals by the ratio estimator on every {ucfg.subsample}-th row "
                  f"and column"
                + ("; the per-pixel sd of the total sink on that subsample in "
                   "total_sink_sd.tif" if ucfg.sd_raster else "")
                + (f"; {' and '.join(fixed)} not varied" if fixed else "")
                + ".")
    return doc, sentence


def draw_tables(spec, sub, sums, grid_totals, zonal, year=None) -> tuple[dict, dict]:
    """``uncertainty.csv`` and ``sensitivity.csv`` of one run (or one year of a series)
    as columns (:func:`uncertainty_tables` with the spec's zone field and draws)."""
    from ._zone_io import TOTAL_LABEL

    field = spec.zones.field if spec.zones is not None else "zone"
    return uncertainty_tables(year, sub, sums, grid_totals, zonal, field, spec.draws,
                              TOTAL_LABEL)


def write_draw_tables(folder, spec, sub, sums, grid_totals, zonal) -> list[str]:
    """``uncertainty.csv`` and ``sensitivity.csv`` of a single run into ``folder``
    (:func:`draw_tables`); returns the file names."""
    from ..io.write import write_columns

    unc, sens = draw_tables(spec, sub, sums, grid_totals, zonal)
    write_columns(folder / "uncertainty.csv", unc)
    write_columns(folder / "sensitivity.csv", sens)
    return ["uncertainty.csv", "sensitivity.csv"]
