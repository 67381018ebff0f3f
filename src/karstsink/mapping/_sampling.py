"""Per-block resampling kernels: nearest (classes) and nodata-aware bilinear.

numba-compiled when numba is installed (one pass, no temporaries, GIL
released); the numpy versions give the same values and are the fallback.
Coordinates are fractional *source* pixel coordinates (row, col) of the
target pixel centres, in the source raster's full extent; ``off`` is the
source pixel at index [0, 0] of the footprint array ``src``.
"""

from __future__ import annotations

import numpy as np

try:  # optional acceleration
    import numba

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only without numba
    HAVE_NUMBA = False


def _bilinear_np(src, srow, scol, off_r, off_c, sh, sw):
    h, w = srow.shape
    fh, fw = src.shape
    inside = (srow >= 0) & (srow < sh) & (scol >= 0) & (scol < sw)
    lrow = srow - off_r
    lcol = scol - off_c
    ni = np.clip(np.floor(lrow).astype(np.intp), 0, fh - 1)
    nj = np.clip(np.floor(lcol).astype(np.intp), 0, fw - 1)
    ok = inside & np.isfinite(src[ni, nj])
    u = lrow - 0.5
    v = lcol - 0.5
    i0 = np.floor(u)
    j0 = np.floor(v)
    a = u - i0
    b = v - j0
    i0 = i0.astype(np.intp)
    j0 = j0.astype(np.intp)
    i1 = np.clip(i0 + 1, 0, fh - 1)
    j1 = np.clip(j0 + 1, 0, fw - 1)
    i0 = np.clip(i0, 0, fh - 1)
    j0 = np.clip(j0, 0, fw - 1)
    acc = np.zeros((h, w))
    wsum = np.zeros((h, w))
    for ii, jj, wt in ((i0, j0, (1 - a) * (1 - b)), (i0, j1, (1 - a) * b),
                       (i1, j0, a * (1 - b)), (i1, j1, a * b)):
        val = src[ii, jj].astype(np.float64)
        good = np.isfinite(val)
        wt = np.where(good, wt, 0.0)
        acc += wt * np.where(good, val, 0.0)
        wsum += wt
    with np.errstate(invalid="ignore", divide="ignore"):
        out = acc / wsum
    return np.where(ok & (wsum > 0), out, np.nan).astype(np.float32)


def _nearest_np(codes, valid, srow, scol, off_r, off_c, sh, sw):
    fh, fw = codes.shape
    inside = (srow >= 0) & (srow < sh) & (scol >= 0) & (scol < sw)
    ni = np.clip(np.floor(srow - off_r).astype(np.intp), 0, fh - 1)
    nj = np.clip(np.floor(scol - off_c).astype(np.intp), 0, fw - 1)
    return codes[ni, nj], valid[ni, nj] & inside


if HAVE_NUMBA:

    @numba.njit(nogil=True, cache=True, fastmath={"nsz", "arcp", "contract"})
    def _bilinear_nb(src, srow, scol, off_r, off_c, sh, sw, out):
        h, w = srow.shape
        fh, fw = src.shape
        for r in range(h):
            for c in range(w):
                gr = srow[r, c]
                gc = scol[r, c]
                if not (gr >= 0 and gr < sh and gc >= 0 and gc < sw):
                    out[r, c] = np.nan
                    continue
                lr = gr - off_r
                lc = gc - off_c
                ni = min(max(int(np.floor(lr)), 0), fh - 1)
                nj = min(max(int(np.floor(lc)), 0), fw - 1)
                if not np.isfinite(src[ni, nj]):
                    out[r, c] = np.nan
                    continue
                u = lr - 0.5
                v = lc - 0.5
                fi = np.floor(u)
                fj = np.floor(v)
                a = u - fi
                b = v - fj
                i0 = int(fi)
                j0 = int(fj)
                i1 = min(max(i0 + 1, 0), fh - 1)
                j1 = min(max(j0 + 1, 0), fw - 1)
                i0 = min(max(i0, 0), fh - 1)
                j0 = min(max(j0, 0), fw - 1)
                acc = 0.0
                ws = 0.0
                v00 = np.float64(src[i0, j0])
                v01 = np.float64(src[i0, j1])
                v10 = np.float64(src[i1, j0])
                v11 = np.float64(src[i1, j1])
                w00 = (1 - a) * (1 - b)
                w01 = (1 - a) * b
                w10 = a * (1 - b)
                w11 = a * b
                if np.isfinite(v00):
                    acc += w00 * v00
                    ws += w00
                if np.isfinite(v01):
                    acc += w01 * v01
                    ws += w01
                if np.isfinite(v10):
                    acc += w10 * v10
                    ws += w10
                if np.isfinite(v11):
                    acc += w11 * v11
                    ws += w11
                out[r, c] = acc / ws if ws > 0 else np.nan

    @numba.njit(nogil=True, cache=True, fastmath={"nsz", "arcp", "contract"})
    def _nearest_nb(codes, valid, srow, scol, off_r, off_c, sh, sw, out_codes, out_valid):
        h, w = srow.shape
        fh, fw = codes.shape
        for r in range(h):
            for c in range(w):
                gr = srow[r, c]
                gc = scol[r, c]
                ni = min(max(int(np.floor(gr - off_r)), 0), fh - 1)
                nj = min(max(int(np.floor(gc - off_c)), 0), fw - 1)
                out_codes[r, c] = codes[ni, nj]
                out_valid[r, c] = valid[ni, nj] and (gr >= 0 and gr < sh and gc >= 0
                                                     and gc < sw)


if HAVE_NUMBA:

    @numba.njit(nogil=True, cache=True)  # no fastmath: bit-identical to the numpy form
    def _upsample_cols_nb(rows, kc, tc, out):
        h, w = out.shape
        for r in range(h):
            for c in range(w):
                k = kc[c]
                t = tc[c]
                out[r, c] = rows[r, k] * (1.0 - t) + rows[r, k + 1] * t


def bilinear(src, srow, scol, off_r, off_c, sh, sw, use_numba=True):
    """Nodata-aware bilinear sample of ``src`` (float32, NaN = nodata) -> float32."""
    if HAVE_NUMBA and use_numba:
        out = np.empty(srow.shape, np.float32)
        _bilinear_nb(np.ascontiguousarray(src), np.ascontiguousarray(srow),
                     np.ascontiguousarray(scol), float(off_r), float(off_c), float(sh),
                     float(sw), out)
        return out
    return _bilinear_np(src, srow, scol, off_r, off_c, sh, sw)


def nearest(codes, valid, srow, scol, off_r, off_c, sh, sw, use_numba=True):
    """Nearest-neighbour sample of class codes and their validity."""
    if HAVE_NUMBA and use_numba:
        oc = np.empty(srow.shape, codes.dtype)
        ov = np.empty(srow.shape, np.bool_)
        _nearest_nb(np.ascontiguousarray(codes), np.ascontiguousarray(valid),
                    np.ascontiguousarray(srow), np.ascontiguousarray(scol), float(off_r),
                    float(off_c), float(sh), float(sw), oc, ov)
        return oc, ov
    return _nearest_np(codes, valid, srow, scol, off_r, off_c, sh, sw)


if HAVE_NUMBA:

    @numba.njit(nogil=True, cache=True, fastmath={"nsz", "arcp", "contract"})
    def _bilinear_multi_full_nb(srcs, srow, scol, off_r, off_c, sh, sw, out):
        # every footprint value is finite: no per-neighbour nodata checks
        k_n, fh, fw = srcs.shape
        h, w = srow.shape
        for r in range(h):
            for c in range(w):
                gr = srow[r, c]
                gc = scol[r, c]
                if not (gr >= 0 and gr < sh and gc >= 0 and gc < sw):
                    for k in range(k_n):
                        out[k, r, c] = np.nan
                    continue
                u = gr - off_r - 0.5
                v = gc - off_c - 0.5
                fi = np.floor(u)
                fj = np.floor(v)
                a = u - fi
                b = v - fj
                i0 = int(fi)
                j0 = int(fj)
                i1 = min(max(i0 + 1, 0), fh - 1)
                j1 = min(max(j0 + 1, 0), fw - 1)
                i0 = min(max(i0, 0), fh - 1)
                j0 = min(max(j0, 0), fw - 1)
                w00 = (1 - a) * (1 - b)
                w01 = (1 - a) * b
                w10 = a * (1 - b)
                w11 = a * b
                for k in range(k_n):
                    out[k, r, c] = (w00 * srcs[k, i0, j0] + w01 * srcs[k, i0, j1]
                                    + w10 * srcs[k, i1, j0] + w11 * srcs[k, i1, j1])

    @numba.njit(nogil=True, cache=True, fastmath={"nsz", "arcp", "contract"})
    def _bilinear_multi_nb(srcs, srow, scol, off_r, off_c, sh, sw, out):
        k_n, fh, fw = srcs.shape
        h, w = srow.shape
        for r in range(h):
            for c in range(w):
                gr = srow[r, c]
                gc = scol[r, c]
                if not (gr >= 0 and gr < sh and gc >= 0 and gc < sw):
                    for k in range(k_n):
                        out[k, r, c] = np.nan
                    continue
                lr = gr - off_r
                lc = gc - off_c
                ni = min(max(int(np.floor(lr)), 0), fh - 1)
                nj = min(max(int(np.floor(lc)), 0), fw - 1)
                u = lr - 0.5
                v = lc - 0.5
                fi = np.floor(u)
                fj = np.floor(v)
                a = u - fi
                b = v - fj
                i0 = int(fi)
                j0 = int(fj)
                i1 = min(max(i0 + 1, 0), fh - 1)
                j1 = min(max(j0 + 1, 0), fw - 1)
                i0 = min(max(i0, 0), fh - 1)
                j0 = min(max(j0, 0), fw - 1)
                w00 = (1 - a) * (1 - b)
                w01 = (1 - a) * b
                w10 = a * (1 - b)
                w11 = a * b
                for k in range(k_n):
                    if not np.isfinite(srcs[k, ni, nj]):
                        out[k, r, c] = np.nan
                        continue
                    acc = 0.0
                    ws = 0.0
                    v00 = np.float64(srcs[k, i0, j0])
                    v01 = np.float64(srcs[k, i0, j1])
                    v10 = np.float64(srcs[k, i1, j0])
                    v11 = np.float64(srcs[k, i1, j1])
                    if np.isfinite(v00):
                        acc += w00 * v00
                        ws += w00
                    if np.isfinite(v01):
                        acc += w01 * v01
                        ws += w01
                    if np.isfinite(v10):
                        acc += w10 * v10
                        ws += w10
                    if np.isfinite(v11):
                        acc += w11 * v11
                        ws += w11
                    out[k, r, c] = acc / ws if ws > 0 else np.nan


def bilinear_multi(srcs, srow, scol, off_r, off_c, sh, sw):
    """:func:`bilinear` for several fields on one source grid (weights computed once)."""
    if HAVE_NUMBA:
        out = np.empty((len(srcs), *srow.shape), np.float32)
        stack = np.ascontiguousarray(np.stack(srcs))
        kernel = _bilinear_multi_full_nb if np.isfinite(stack).all() else _bilinear_multi_nb
        kernel(stack, np.ascontiguousarray(srow), np.ascontiguousarray(scol), float(off_r),
               float(off_c), float(sh), float(sw), out)
        return list(out)
    return [_bilinear_np(s, srow, scol, off_r, off_c, sh, sw) for s in srcs]
