"""Optional fused numba kernel for the per-block model (same arithmetic as model.py).

One pass over the pixels instead of ~30 numpy temporaries; compiled once per
process (cached on disk by numba) and run with the GIL released so the
engine's threads overlap.  Used when numba is installed (``[model] numba``).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from .model import M_C, M_CACO3, M_DOLOMITE


@numba.njit(nogil=True, cache=True)
def _kernel(lcc, known, carb, runoff, temp, pco2_ppmv, dol, has_dol, pres, has_pres, bio_r,
            has_bio, fp_lut, fr_lut, acid_lut, bio_lut, acid_on, lv_c, lv_d, t0, dt, l0, dl,
            uf, want_diss, want_den, rho, karst_o, bio_o, total_o, diss_o, den_o):
    nan = np.float32(np.nan)
    h, w = lcc.shape
    nt, nl = lv_c.shape
    tmax = t0 + dt * (nt - 1)
    lmax = l0 + dl * (nl - 1)
    tcl = 0
    pcl = 0
    for r in range(h):
        for c in range(w):
            if not known[r, c]:
                karst_o[r, c] = nan
                bio_o[r, c] = nan
                total_o[r, c] = nan
                if want_diss:
                    diss_o[r, c] = nan
                if want_den:
                    den_o[r, c] = nan
                continue
            k = lcc[r, c]
            fp = fp_lut[k]
            fr = fr_lut[k]
            cb = np.float64(carb[r, c])
            if cb < 0.0 or cb > 1.0:
                cb = np.nan
            ro = np.float64(runoff[r, c])
            r_m = (ro if ro > 0.0 else (0.0 if ro <= 0.0 else ro)) * (fr / 1000.0)
            p = np.float64(pco2_ppmv[r, c]) * (fp * 1e-6)
            if has_pres:
                p = p * np.float64(pres[r, c])
            t = np.float64(temp[r, c])
            d = 0.0
            if has_dol:
                d = np.float64(dol[r, c])
                if d < 0.0 or d > 1.0:
                    d = np.nan
            if math.isnan(t) or math.isnan(p) or math.isnan(d):
                conc = np.nan
                per_water = np.nan
            elif p > 0.0:
                lp = math.log10(p)
                if t < t0 or t > tmax:
                    tcl += 1
                if lp < l0 or lp > lmax:
                    pcl += 1
                tt = min(max(t, t0), tmax)
                ll = min(max(lp, l0), lmax)
                fi = (tt - t0) / dt
                fj = (ll - l0) / dl
                i = min(int(fi), nt - 2)
                j = min(int(fj), nl - 2)
                a = fi - i
                b = fj - j
                ca = math.exp((1.0 - a) * ((1.0 - b) * lv_c[i, j] + b * lv_c[i, j + 1])
                              + a * ((1.0 - b) * lv_c[i + 1, j] + b * lv_c[i + 1, j + 1]))
                conc = ca
                per_water = ca * M_CACO3
                if has_dol:
                    cad = math.exp((1.0 - a) * ((1.0 - b) * lv_d[i, j] + b * lv_d[i, j + 1])
                                   + a * ((1.0 - b) * lv_d[i + 1, j]
                                          + b * lv_d[i + 1, j + 1]))
                    conc = (1.0 - d) * ca + d * cad
                    per_water = (1.0 - d) * per_water + d * (cad / 2.0) * M_DOLOMITE
            else:
                conc = 0.0
                per_water = 0.0
                if t < t0 or t > tmax:
                    tcl += 1
            ks = (M_C * r_m) * conc * cb
            if acid_on:
                ks = ks * (1.0 - acid_lut[k])
            bv = np.float64(bio_r[r, c]) if has_bio else bio_lut[k]
            kf = np.float32(ks * uf)
            bf = np.float32(bv * uf)
            karst_o[r, c] = kf
            bio_o[r, c] = bf
            total_o[r, c] = kf + bf
            rate = r_m * per_water
            if want_diss:
                diss_o[r, c] = np.float32(rate * cb)
            if want_den:
                if math.isnan(cb) or math.isnan(rate):
                    den_o[r, c] = nan
                elif cb > 0.0:
                    den_o[r, c] = np.float32(rate / rho)
                else:
                    den_o[r, c] = np.float32(0.0)
    return tcl, pcl


_DUMMY = np.zeros((1, 1), np.float32)


def fused_kernel(inp: dict, lcc: np.ndarray, known: np.ndarray, p) -> tuple[dict, int, int]:
    """Run the fused model kernel on one block; same outputs as the numpy path."""
    shape = lcc.shape
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
    tcl, pcl = _kernel(
        lcc, known, inp["carbonate"], inp["runoff"], inp["temperature"], inp["pco2_ppmv"],
        dol if has_dol else _DUMMY, has_dol, pres if pres is not None else _DUMMY,
        pres is not None, bio_r if bio_r is not None else _DUMMY, bio_r is not None,
        p.pco2_factor, p.runoff_factor, p.acid_share, p.bio_sink, p.acid_correction,
        lv_c, lv_d, t0, dt, l0, dl, p.unit_factor, want_diss, want_den, p.rock_density,
        karst, bio, total, diss, den)
    out = {"karst": karst, "bio": bio, "total": total}
    if want_diss:
        out["dissolution"] = diss
    if want_den:
        out["denudation"] = den
    return out, int(tcl), int(pcl)
