"""Optional fused numba kernel for the per-block model (same arithmetic as model.py).

One pass over the pixels instead of ~30 numpy temporaries; compiled once per
process (cached on disk by numba) and run with the GIL released so the
engine's threads overlap.  Used when numba is installed (``[model] numba``).
The transcendental work is taken out of the per-pixel loops: log10 pCO2 in a
vectorised numpy pass, exp of the interpolated log table as the node's exp
times a short series in a loop that vectorises (same values to ~1e-16).
"""

from __future__ import annotations

import math
import threading

import numpy as np

from .. import carbon
from .._numba import numba
from ._molar import M_C, M_CACO3, M_DOLOMITE

_FM = {"nsz", "arcp", "contract", "afn"}


@numba.njit(inline="always", fastmath=_FM)
def _interp(lv, i, j, a, b):
    return ((1.0 - a) * ((1.0 - b) * lv[i, j] + b * lv[i, j + 1])
            + a * ((1.0 - b) * lv[i + 1, j] + b * lv[i + 1, j + 1]))


@numba.njit(inline="always", fastmath=_FM)
def _lookup(lv, ev, i, j, a, b, series):
    """Table value at cell ``(i, j)``, weights ``(a, b)``: with ``series`` the
    interpolated log minus the cell's first node and exp(node) (finished by
    :func:`_series_pass`), else exp of the interpolated log and 1."""
    x = _interp(lv, i, j, a, b)
    if series:
        return x - lv[i, j], ev[i, j]
    return math.exp(x), 1.0


@numba.njit(inline="always", fastmath=_FM)
def _exp_series(d):
    """exp(d) for |d| <= 1/8: degree-9 Taylor polynomial (truncation < 3e-16 relative)."""
    return 1.0 + d * (1.0 + d * (0.5 + d * (1.0 / 6.0 + d * (1.0 / 24.0 + d * (
        1.0 / 120.0 + d * (1.0 / 720.0 + d * (1.0 / 5040.0 + d * (
            1.0 / 40320.0 + d * (1.0 / 362880.0)))))))))


@numba.njit(nogil=True, cache=True, fastmath=_FM)
def _kernel(lc, lc_valid, carb, runoff, temp, pco2_ppmv, lpco2, dol, has_dol, pres, lpres,
            has_pres, bio_r, has_bio, fp_lut, lfp_lut, fr_lut, acid_lut, upc, bio_lut, lv_c,
            ev_c, lv_d, ev_d, series, t0, dt, l0, dl, uf, want_diss, want_den, rho, karst_o,
            bio_o, total_o, diss_o, den_o, has_acid, acid_k, lr_c, lr_d):
    """The sink model per pixel (model.py's arithmetic), one row at a time.

    Per row, in loops over row-sized work arrays (they stay in the L1 cache):
    the class look-ups and log10 pCO2 [atm] (``lpco2`` = log10 pCO2 [ppmv] and
    ``lpres`` = log10 pressure ratio come in from a vectorised numpy pass; the
    class's log factor is added here); the table coordinates (vectorises); the
    table look-ups, skipped where there is no carbonate (the sink there is 0 or
    NaN whatever Ca_eq is); with ``series`` the exponential of the interpolated
    log as the cell node's exp times a short series (vectorises); and the model
    itself without branches (NaN propagates, conditions are selects).
    ``acid_lut`` is the sulfuric + nitric-acid HCO3 of each class's karst water
    [mmol L⁻¹] (:func:`karstsink.carbon.acid_hco3`) and ``upc`` the CO2 carbon taken
    up per mol of carbonic HCO3 (:func:`karstsink.carbon.carbonate_weathering_c`).
    With ``has_acid``, ``acid_k`` (by class code, -1: no acid) picks the class's
    ``(nt, nl)`` slice of ``lr_c`` / ``lr_d``, ln(C_acid / C) of calcite / dolomite
    (``ModelParams.acid_ratio``), and the water's HCO3 is 2 C_acid - acid HCO3.
    """
    nan = np.nan
    h, w = lc.shape
    nt, nl = lv_c.shape
    tmax = t0 + dt * (nt - 1)
    lmax = l0 + dl * (nl - 1)
    nlut = fp_lut.shape[0]
    fpr = np.empty(w)
    frr = np.empty(w)
    acr = np.empty(w)
    bir = np.empty(w)
    kn = np.empty(w, np.bool_)
    lpr = np.empty(w)
    fir = np.empty(w)
    fjr = np.empty(w)
    car = np.empty(w)
    ear = np.ones(w)
    cdr = np.zeros(w)
    edr = np.ones(w)
    rate = np.empty(w)
    cbr = np.empty(w)
    akr = np.full(w, -1, np.int64)
    rcr = np.ones(w)
    rdr = np.ones(w)
    tcl = 0
    pcl = 0
    unknown = 0
    bad = 0
    negative = 0
    negc = 0
    for r in range(h):
        for c in range(w):  # class look-ups and log10 pCO2 (scalar: small tables)
            k = lc[r, c]
            ok = lc_valid[r, c] and k >= 0 and k < nlut
            kk = k if ok else 0
            fp = fp_lut[kk]
            known = ok and not math.isnan(fp)
            unknown += 1 if lc_valid[r, c] and not known else 0
            kn[c] = known
            fpr[c] = fp
            frr[c] = fr_lut[kk]
            acr[c] = acid_lut[kk]
            if has_acid:
                akr[c] = acid_k[kk]
            bir[c] = bio_lut[kk]
            lp = lpco2[r, c] + lfp_lut[kk]
            if has_pres:
                lp = lp + lpres[r, c]
            if not abs(lp) < np.inf:  # p > 0 from two negative factors: the logs were NaN
                pp = np.float64(pco2_ppmv[r, c]) * (fp * 1e-6)
                if has_pres:
                    pp = pp * np.float64(pres[r, c])
                if pp > 0.0:
                    lp = math.log10(pp)
            lpr[c] = lp
        for c in range(w):  # table coordinates, clamped to the table (vectorises)
            lp = lpr[c]
            tt = np.float64(temp[r, c])
            tt = tt if tt > t0 else t0  # NaN goes to the first node
            tt = tt if tt < tmax else tmax
            ll = lp if lp > l0 else l0
            ll = ll if ll < lmax else lmax
            fir[c] = (tt - t0) / dt
            fjr[c] = (ll - l0) / dl
        for c in range(w):  # the look-ups
            if not carb[r, c] > 0.0:
                car[c] = 0.0  # no carbonate (or nodata): the sink is 0 (or NaN) anyway
                ear[c] = 1.0
                cdr[c] = 0.0
                edr[c] = 1.0
                continue
            fi = fir[c]
            fj = fjr[c]
            i = min(int(fi), nt - 2)
            j = min(int(fj), nl - 2)
            a = fi - i
            b = fj - j
            car[c], ear[c] = _lookup(lv_c, ev_c, i, j, a, b, series)
            if has_dol:
                cdr[c], edr[c] = _lookup(lv_d, ev_d, i, j, a, b, series)
            kq = akr[c]
            if kq >= 0:  # the class's acid: C_acid / C at this (T, log p)
                rcr[c] = math.exp(_interp(lr_c[kq], i, j, a, b))
                if has_dol:
                    rdr[c] = math.exp(_interp(lr_d[kq], i, j, a, b))
            else:
                rcr[c] = 1.0
                rdr[c] = 1.0
        if series:  # exp(node) x exp(remainder) (vectorises)
            for c in range(w):
                car[c] = ear[c] * _exp_series(car[c])
            if has_dol:
                for c in range(w):
                    cdr[c] = edr[c] * _exp_series(cdr[c])
        for c in range(w):  # the model, branch-free
            cb0 = np.float64(carb[r, c])
            badc = cb0 < 0.0 or cb0 > 1.0
            cb = nan if badc else cb0
            d = 0.0
            badd = False
            if has_dol:
                d0 = np.float64(dol[r, c])
                badd = d0 < 0.0 or d0 > 1.0
                d = nan if badd else d0
            bad += (1 if badc else 0) + (1 if badd else 0)
            ro = np.float64(runoff[r, c])
            negative += 1 if ro < 0.0 else 0
            r_m = (0.0 if ro <= 0.0 else ro) * (frr[c] / 1000.0)
            p = np.float64(pco2_ppmv[r, c]) * (fpr[c] * 1e-6)
            if has_pres:
                p = p * np.float64(pres[r, c])
            t = np.float64(temp[r, c])
            invalid = math.isnan(t) or math.isnan(p) or math.isnan(d)
            pos = p > 0.0
            lp = lpr[c]
            ca = car[c]
            conc = ca
            conc_a = ca * rcr[c]
            per_water = ca * M_CACO3
            if has_dol:
                cad = cdr[c]
                conc = (1.0 - d) * ca + d * cad
                conc_a = (1.0 - d) * conc_a + d * (cad * rdr[c])
                per_water = (1.0 - d) * per_water + d * (cad / 2.0) * M_DOLOMITE
            conc_a = conc_a if pos else 0.0
            conc_a = nan if invalid else conc_a
            conc = conc if pos else 0.0
            per_water = per_water if pos else 0.0
            conc = nan if invalid else conc
            per_water = nan if invalid else per_water
            counted = kn[c] and not invalid
            tcl += 1 if counted and (t < t0 or t > tmax) else 0
            pcl += 1 if counted and pos and (lp < l0 or lp > lmax) else 0
            carbonic = (2.0 * conc_a - acr[c]) - acr[c]  # the water's HCO3 less the acid's
            badn = pos and carbonic < 0.0  # False for NaN
            negc += 1 if kn[c] and badn and cb > 0.0 else 0
            upt = nan if badn else upc * carbonic
            upt = upt if pos else conc  # p <= 0: no karst water (0), or nodata (NaN)
            ks = (M_C * r_m) * upt * cb
            ks = 0.0 if cb == 0.0 else ks  # non-karst pixels are 0 whatever their climate
            bv = np.float64(bio_r[r, c]) if has_bio else bir[c]
            kf = np.float32(ks * uf)
            bf = np.float32(bv * uf)
            known = kn[c]
            karst_o[r, c] = kf if known or cb == 0.0 else nan  # 0 off the rock, any class
            bio_o[r, c] = bf if known else nan
            total_o[r, c] = (kf + bf) if known else nan
            rate[c] = (r_m * per_water) if known else nan
            cbr[c] = cb
        if want_diss:
            for c in range(w):
                cb = cbr[c]
                diss_o[r, c] = np.float32(0.0 if cb == 0.0 else rate[c] * cb)
        if want_den:
            for c in range(w):
                cb = cbr[c]
                v = rate[c]
                den = v / rho if cb > 0.0 else 0.0
                den_o[r, c] = np.float32(nan if (math.isnan(cb) or (cb > 0.0 and math.isnan(v)))
                                         else den)
    return tcl, pcl, unknown, bad, negative, negc


_DUMMY = np.zeros((1, 1), np.float32)
_DUMMY64 = np.zeros((1, 1), np.float64)
_NO_ACID_K = np.full(1, -1, np.int64)
_NO_ACID_R = np.zeros((1, 2, 2), np.float64)


_SCRATCH = threading.local()


def _scratch(name: str, shape: tuple) -> np.ndarray:
    """A float64 work array of ``shape`` kept per thread (no page faults per block).

    Its contents live only until the next block of the same thread."""
    store = getattr(_SCRATCH, "arrays", None)
    if store is None:
        store = _SCRATCH.arrays = {}
    a = store.get(name)
    if a is None or a.shape != shape:
        a = store[name] = np.empty(shape)
    return a


def _log10_input(a: np.ndarray, name: str) -> np.ndarray:
    """log10 of a block's input in the thread's scratch array ``name``.

    The same array object again (the next variant of a series block reads the same
    constant input, e.g. soil pCO2) gets the logs already taken.  Block inputs are
    never changed in place (every read and every draw makes new arrays), so the
    object identifies its values; the memo keeps the array alive until the thread's
    next different input."""
    memo = getattr(_SCRATCH, "logs", None)
    if memo is None:
        memo = _SCRATCH.logs = {}
    hit = memo.get(name)
    if hit is not None and hit[0] is a:
        return hit[1]
    out = _log10(a, _scratch(name, a.shape))
    memo[name] = (a, out)
    return out


def _log10(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """log10 in float64 (NaN for values <= 0, -inf for 0, without warnings)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log10(a, out=out, dtype=np.float64)


def _series_ok(lv: np.ndarray) -> bool:
    """Whether every interpolated log value lies within 1/8 of its cell's first node."""
    if lv.shape[0] < 2 or lv.shape[1] < 2:
        return False
    span = np.maximum(np.maximum(np.abs(lv[1:, :-1] - lv[:-1, :-1]),
                                 np.abs(lv[:-1, 1:] - lv[:-1, :-1])),
                      np.abs(lv[1:, 1:] - lv[:-1, :-1]))
    return bool(np.all(span <= 0.125))


_PREP: dict = {}  # id of a look-up or table -> (the array, what is derived from it)


def _derived(key: tuple, arrays: tuple, make):
    """``make()`` once per set of (immutable) parameter arrays: the per-block preparation
    of a table or look-up (~0.2 ms) is paid once per run, not per block and draw
    (:mod:`._draws` calls the kernel ~100 times per block).  The entry holds the arrays,
    so their ids stay theirs."""
    hit = _PREP.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], arrays, strict=True)):
        return hit[1]
    if len(_PREP) > 4096:
        _PREP.clear()
    val = make()
    _PREP[key] = (arrays, val)
    return val


def _acid_args(p, has_dol: bool) -> tuple:
    """``(has_acid, acid_k, lr_c, lr_d)`` of :func:`_kernel` from ``p.acid_ratio``."""
    if p.acid_ratio is None:
        return False, _NO_ACID_K, _NO_ACID_R, _NO_ACID_R
    index, lr_c, lr_d = p.acid_ratio
    lr_d = lr_d if (has_dol and lr_d is not None) else lr_c
    return True, np.asarray(index, np.int64), lr_c, lr_d


def fused_kernel(inp: dict, lc: np.ndarray, lc_valid: np.ndarray, p) -> tuple[dict, dict]:
    """Run the fused model kernel on one block; same outputs and counters as numpy.

    The logs are taken in vectorised numpy passes before the kernel (log10 p =
    log10 pCO2 [ppmv] + log10(factor x 1e-6) [+ log10 pressure ratio]).
    """
    shape = lc.shape
    karst = np.empty(shape, np.float32)
    bio = np.empty(shape, np.float32)
    total = np.empty(shape, np.float32)
    want_diss = "dissolution" in p.outputs
    want_den = "denudation" in p.outputs
    diss = np.empty(shape, np.float32) if want_diss else _DUMMY
    den = np.empty(shape, np.float32) if want_den else _DUMMY
    lv_c, t0, dt, l0, dl = p.calcite
    lv_d = p.dolomite[0] if p.dolomite is not None else lv_c
    dol = inp.get("dolomite_fraction")
    pres = inp.get("pressure_ratio")
    bio_r = inp.get("bio")
    has_dol = dol is not None and p.dolomite is not None
    ok_c, ev_c = _derived(("table", id(lv_c)), (lv_c,), lambda: (_series_ok(lv_c), np.exp(lv_c)))
    ok_d, ev_d = _derived(("table", id(lv_d)), (lv_d,), lambda: (_series_ok(lv_d), np.exp(lv_d)))
    series = ok_c and (not has_dol or ok_d)
    fp = np.asarray(p.pco2_factor, np.float64)
    lfp = _derived(("lfp", id(fp)), (fp,), lambda: _log10(fp * 1e-6))
    lpco2 = _log10_input(inp["pco2_ppmv"], "lpc")
    lpres = _log10_input(pres, "lpres") if pres is not None else _DUMMY64

    def acid_upc():
        so4, no3 = p.class_so4_no3(fp.size)
        return (np.asarray(carbon.acid_hco3(so4, no3, **p.shares), np.float64),
                float(np.asarray(carbon.carbonate_weathering_c(np.array([1.0]))[0])[0]))

    acid, upc = _derived(("acid", id(p.so4), id(p.no3), fp.size, tuple(sorted(p.shares.items()))),
                         (p.so4, p.no3), acid_upc)
    tcl, pcl, unknown, bad, negative, negc = _kernel(
        lc, lc_valid, inp["carbonate"], inp["runoff"], inp["temperature"], inp["pco2_ppmv"],
        lpco2, dol if has_dol else _DUMMY, has_dol, pres if pres is not None else _DUMMY,
        lpres, pres is not None, bio_r if bio_r is not None else _DUMMY, bio_r is not None,
        fp, lfp, p.runoff_factor, acid, upc, p.bio_sink,
        lv_c, ev_c, lv_d, ev_d, series, t0, dt, l0, dl, p.unit_factor,
        want_diss, want_den, p.rock_density, karst, bio, total, diss, den,
        *_acid_args(p, has_dol))
    out: dict[str, np.ndarray] = {"karst": karst, "bio": bio, "total": total}
    if want_diss:
        out["dissolution"] = diss
    if want_den:
        out["denudation"] = den
    counters: dict[str, int | dict[int, int]] = {
        "temp_clamped": int(tcl), "pco2_clamped": int(pcl), "bad_fraction": int(bad),
        "negative_runoff": int(negative), "negative_carbonic_hco3": int(negc)}
    if unknown:
        nlut = p.pco2_factor.size
        in_lut = lc_valid & (lc >= 0) & (lc < nlut)
        known = in_lut & np.isfinite(p.pco2_factor[np.where(in_lut, lc, 0)])
        vals, cnt = np.unique(lc[lc_valid & ~known], return_counts=True)
        counters["unknown_classes"] = {int(v): int(c) for v, c in zip(vals, cnt, strict=True)}
    return out, counters


@numba.njit(nogil=True, cache=True, fastmath={"reassoc", "nsz", "arcp", "contract"})
def _zone_kernel(ids, single, flat, sub, area_row, carb, vals, ng, uf, out, grid):
    """Accumulate per-zone and whole-grid sums of one block (see zone_sums).

    ``vals`` holds ``ng`` groups of equally many fields (a series block's variants,
    on the same zones and carbonate); group ``g``'s third field (its total) marks
    its nodata.  ``out`` is ``(ng, 3 + nv, zones + 1)``, ``grid`` ``(ng, 3 + nv)``.
    """
    nv = len(vals) // ng
    h, w = vals[0].shape
    nq = 3 + nv
    gacc = np.zeros((ng, nq))
    run = np.zeros(nq)
    for r in range(h):
        a = area_row[r]
        c0 = 0
        while c0 < w:  # runs of equal zone id along the row
            z = single if single >= 0 else ids[r, c0]
            c1 = c0 + 1
            if single < 0:
                while c1 < w and ids[r, c1] == z:
                    c1 += 1
            else:
                c1 = w
            scb = 0.0
            for c in range(c0, c1):
                cb = np.float64(carb[r, c])
                cb = 1.0 if cb > 1.0 else (cb if cb > 0.0 else 0.0)  # NaN or <= 0 -> 0
                scb += cb
            for g in range(ng):
                tot = vals[g * nv + 2]
                snod = 0.0
                for c in range(c0, c1):
                    snod += 1.0 if math.isnan(tot[r, c]) else 0.0
                run[0] = a * (c1 - c0)
                run[1] = a * scb
                run[2] = a * snod
                for q in range(nv):  # over the pixels whose total is known
                    vq = vals[g * nv + q]
                    sv = 0.0
                    for c in range(c0, c1):
                        v = np.float64(vq[r, c])
                        sv += 0.0 if (math.isnan(v) or math.isnan(tot[r, c])) else v
                    run[3 + q] = a * sv * uf
                for q in range(nq):
                    gacc[g, q] += run[q]
                if z >= 0:
                    for q in range(nq):
                        out[g, q, z] += run[q]
            c0 = c1
    for g in range(ng):
        for q in range(nq):
            grid[g, q] += gacc[g, q]
    if single < 0:
        ss = sub.shape[1]
        for i in range(flat.shape[0]):
            r = flat[i] // w
            c = flat[i] - r * w
            a = area_row[r] / ss
            cb = np.float64(carb[r, c])
            if not cb > 0.0:
                cb = 0.0
            elif cb > 1.0:
                cb = 1.0
            for g in range(ng):
                nod = 1.0 if math.isnan(vals[g * nv + 2][r, c]) else 0.0
                for s in range(ss):
                    z = sub[i, s]
                    out[g, 0, z] += a
                    out[g, 1, z] += a * cb
                    out[g, 2, z] += a * nod
                    for q in range(nv):  # a nodata pixel adds area, no sink
                        v = vals[g * nv + q][r, c]
                        if not (nod or math.isnan(v)):
                            out[g, 3 + q, z] += a * v * uf


_NO_IDS = np.zeros((1, 1), np.int32)
_NO_FLAT = np.zeros(0, np.int64)
_NO_SUB = np.zeros((0, 1), np.int32)


def zone_sums(zones, nzones: int, area_row: np.ndarray, carb: np.ndarray,
              vals: list[np.ndarray], uf: float, groups: int = 1
              ) -> tuple[np.ndarray, np.ndarray]:
    """Per-zone sums ``(3 + nv, nzones + 1)`` and whole-grid sums ``(3 + nv,)`` of a block.

    Quantities: pixel area, carbonate area, nodata area [km²], then each of
    ``vals`` (t C km⁻² yr⁻¹) x area x ``uf`` [t C yr⁻¹], summed over the pixels whose
    total (the third field) is known, NaN counting as 0, so that the karst and the
    biological sums add up to the total's; nodata pixels add only area.
    ``zones`` is ``ZoneSet.block_zones``'s result, or None (grid sums only).
    With ``groups`` > 1, ``vals`` is that many groups of ``nv`` fields on the same
    zones and carbonate (a series block's variants: the zone runs and the carbonate
    are summed once), and the results are ``(groups, 3 + nv, nzones + 1)`` and
    ``(groups, 3 + nv)``; each group's nodata is where its third field is NaN.
    """
    if len(vals) % groups:
        raise ValueError(f"{len(vals)} fields do not make {groups} equal groups")
    nv = len(vals) // groups
    grid = np.zeros((groups, 3 + nv))
    stack = tuple(np.ascontiguousarray(v, np.float32) for v in vals)  # no copy
    if zones is None:
        ids, flat, sub, single = _NO_IDS, _NO_FLAT, _NO_SUB, 0
        out = np.zeros((groups, 3 + nv, 1))
    else:
        out = np.zeros((groups, 3 + nv, nzones + 1))
        zids, zflat, zsub = zones
        if isinstance(zids, (int, np.integer)):  # a block inside one zone (as accumulate)
            single = int(zids)
            ids, flat, sub = _NO_IDS, _NO_FLAT, _NO_SUB
        else:
            single = -1
            ids = np.ascontiguousarray(zids, np.int32)
            if zflat is None:
                flat, sub = _NO_FLAT, _NO_SUB
            else:
                flat = zflat.astype(np.int64)
                sub = np.ascontiguousarray(zsub, np.int32)
    _zone_kernel(ids, single, flat, sub, np.ascontiguousarray(area_row, np.float64),
                 np.ascontiguousarray(carb, np.float32), stack, groups, float(uf), out, grid)
    if groups == 1:
        return out[0], grid[0]
    return out, grid


@numba.njit(nogil=True, cache=True)
def _halve_kernel(a, out):
    h, w = a.shape
    oh, ow = out.shape
    # full 2 x 2 cells: branch-free, same sums in the same order (NaN adds 0)
    for i in range(h // 2):
        for j in range(w // 2):
            v0 = np.float64(a[2 * i, 2 * j])
            v1 = np.float64(a[2 * i, 2 * j + 1])
            v2 = np.float64(a[2 * i + 1, 2 * j])
            v3 = np.float64(a[2 * i + 1, 2 * j + 1])
            s = 0.0
            s += v0 if v0 == v0 else 0.0
            s += v1 if v1 == v1 else 0.0
            s += v2 if v2 == v2 else 0.0
            s += v3 if v3 == v3 else 0.0
            n = (int(v0 == v0) + int(v1 == v1)) + (int(v2 == v2) + int(v3 == v3))
            out[i, j] = s / n if n > 0 else np.nan
    # odd last row / column: the general form
    for i in range(oh):
        for j in range(ow):
            if 2 * i + 1 < h and 2 * j + 1 < w:
                continue
            s = 0.0
            n = 0
            for di in range(2):
                r = 2 * i + di
                if r >= h:
                    continue
                for dj in range(2):
                    c = 2 * j + dj
                    if c < w:
                        v = a[r, c]
                        if not math.isnan(v):
                            s += v
                            n += 1
            out[i, j] = s / n if n > 0 else np.nan


def halve_nb(a: np.ndarray) -> np.ndarray:
    """numba version of ``executor.halve``: the same means, accumulated in float64 (so
    within a few float32 ulp of the numpy version, not always bit-identical)."""
    out = np.empty(((a.shape[0] + 1) // 2, (a.shape[1] + 1) // 2), np.float32)
    _halve_kernel(np.ascontiguousarray(a), out)
    return out
