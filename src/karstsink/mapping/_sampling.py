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
    from .._numba import numba

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

    @numba.njit(inline="always")
    def _lattice_row(r, k, kr, lat_r, lat_c, rr, rc):
        """Lattice coordinates interpolated to target row ``r`` into ``rr``/``rc`` (as
        ``_upsample`` does); ``k`` is the knot segment so far, returned updated."""
        nr, nc = lat_r.shape
        if nr == 1:
            for j in range(nc):
                rr[j] = lat_r[0, j]
                rc[j] = lat_c[0, j]
            return k
        while k < nr - 2 and kr[k + 1] <= r:
            k += 1
        t = (r - kr[k]) / (kr[k + 1] - kr[k])
        for j in range(nc):
            rr[j] = lat_r[k, j] * (1.0 - t) + lat_r[k + 1, j] * t
            rc[j] = lat_c[k, j] * (1.0 - t) + lat_c[k + 1, j] * t
        return k

    @numba.njit(inline="always")
    def _sample_pixel(srcs, gr, gc, off_r, off_c, sh, sw, all_finite, out, r, c):
        """Bilinear values of every field of ``srcs`` at source (row, col) ``(gr, gc)``
        into ``out[:, r, c]``: NaN outside the source; with nodata (unless
        ``all_finite``) NaN where the containing pixel is nodata, else the weights of
        the finite corners only.  Edge cells repeat the edge pixel."""
        k_n, fh, fw = srcs.shape
        if not (gr >= 0 and gr < sh and gc >= 0 and gc < sw):
            for q in range(k_n):
                out[q, r, c] = np.nan
            return
        lr = gr - off_r
        lc = gc - off_c
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
        if all_finite:
            for q in range(k_n):
                out[q, r, c] = ((1 - a) * ((1 - b) * srcs[q, i0, j0] + b * srcs[q, i0, j1])
                                + a * ((1 - b) * srcs[q, i1, j0] + b * srcs[q, i1, j1]))
            return
        ni = min(max(int(np.floor(lr)), 0), fh - 1)
        nj = min(max(int(np.floor(lc)), 0), fw - 1)
        w00 = (1 - a) * (1 - b)
        w01 = (1 - a) * b
        w10 = a * (1 - b)
        w11 = a * b
        for q in range(k_n):
            if not np.isfinite(srcs[q, ni, nj]):
                out[q, r, c] = np.nan
                continue
            acc = 0.0
            ws = 0.0
            v00 = np.float64(srcs[q, i0, j0])
            v01 = np.float64(srcs[q, i0, j1])
            v10 = np.float64(srcs[q, i1, j0])
            v11 = np.float64(srcs[q, i1, j1])
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
            out[q, r, c] = acc / ws if ws > 0 else np.nan

    @numba.njit(nogil=True, cache=True, fastmath={"nsz", "arcp", "contract"})
    def _bilinear_nb(srcs, srow, scol, off_r, off_c, sh, sw, out):
        """Nodata-aware bilinear sample at per-pixel source coordinates."""
        h, w = srow.shape
        for r in range(h):
            for c in range(w):
                _sample_pixel(srcs, srow[r, c], scol[r, c], off_r, off_c, sh, sw, False,
                              out, r, c)

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

    @numba.njit(nogil=True, cache=True, fastmath={"nsz", "arcp"})
    def _bilinear_lattice_nb(srcs, kr, kc, lat_r, lat_c, off_r, off_c, sh, sw, all_finite,
                             out):
        """Bilinear sample of several fields with the source coordinates interpolated
        from a lattice on the fly (same coordinates as ``_upsample``, no (h, w)
        coordinate arrays); ``all_finite`` skips the per-neighbour nodata checks."""
        _, h, w = out.shape
        nc = lat_r.shape[1]
        segc = np.zeros(w, np.int64)
        tcs = np.zeros(w)
        if nc > 1:
            k = 0
            for c in range(w):
                while k < nc - 2 and kc[k + 1] <= c:
                    k += 1
                segc[c] = k
                tcs[c] = (c - kc[k]) / (kc[k + 1] - kc[k])
        rr = np.empty(nc)
        rc = np.empty(nc)
        k = 0
        for r in range(h):
            k = _lattice_row(r, k, kr, lat_r, lat_c, rr, rc)
            for c in range(w):
                if nc == 1:
                    gr = rr[0]
                    gc = rc[0]
                else:
                    j = segc[c]
                    t = tcs[c]
                    gr = rr[j] * (1.0 - t) + rr[j + 1] * t
                    gc = rc[j] * (1.0 - t) + rc[j + 1] * t
                _sample_pixel(srcs, gr, gc, off_r, off_c, sh, sw, all_finite, out, r, c)


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
        out = np.empty((1, *srow.shape), np.float32)
        _bilinear_nb(np.ascontiguousarray(src)[None], np.ascontiguousarray(srow),
                     np.ascontiguousarray(scol), float(off_r), float(off_c), float(sh),
                     float(sw), out)
        return out[0]
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
    def _bilinear_runs_nb(srcs, kr, kc, lat_r, lat_c, off_r, off_c, sh, sw, out):
        """All-finite fields: :func:`_bilinear_lattice_nb` by runs of pixels in one
        source cell.  Between two lattice knots the source coordinates are linear
        along the row, so where each run ends follows from the coordinates at its
        ends; the four neighbours are loaded once per run and the per-pixel work is
        arithmetic that vectorises (gathers are slow on the machines measured:
        benchmarks/bench_map.py).  Bilinear interpolation is continuous across cell
        edges, so a pixel that rounding puts in the neighbouring run gets the same
        value to ~1e-7."""
        k_n, fh, fw = srcs.shape
        _, h, w = out.shape
        nc = lat_r.shape[1]
        rr = np.empty(nc)
        rc = np.empty(nc)
        coef = np.empty((k_n, 4), np.float32)
        k = 0
        nseg = nc - 1 if nc > 1 else 1
        for r in range(h):
            k = _lattice_row(r, k, kr, lat_r, lat_c, rr, rc)
            for sg in range(nseg):
                if nc == 1:
                    cs, ce = 0, w
                    dgr = 0.0
                    dgc = 0.0
                else:
                    cs = kc[sg]
                    ce = kc[sg + 1] if sg < nc - 2 else w
                    span = kc[sg + 1] - kc[sg]
                    dgr = (rr[sg + 1] - rr[sg]) / span
                    dgc = (rc[sg + 1] - rc[sg]) / span
                gr0 = rr[sg]
                gc0 = rc[sg]
                last = ce - 1 - cs
                gr1 = gr0 + dgr * last
                gc1 = gc0 + dgc * last
                if not (min(gr0, gr1) >= 0 and max(gr0, gr1) < sh and min(gc0, gc1) >= 0
                        and max(gc0, gc1) < sw):
                    # a segment reaching outside the source: pixel by pixel
                    for c in range(cs, ce):
                        _sample_pixel(srcs, gr0 + dgr * (c - cs), gc0 + dgc * (c - cs), off_r,
                                      off_c, sh, sw, True, out, r, c)
                    continue
                u0 = gr0 - off_r - 0.5
                v0 = gc0 - off_c - 0.5
                c = cs
                while c < ce:
                    x = c - cs
                    fi = np.floor(u0 + dgr * x)
                    fj = np.floor(v0 + dgc * x)
                    # a step below 1e-9 px per pixel passes a cell edge by at most
                    # ~5e-7 px within a segment (<= 512 px; continuity covers it) and
                    # would only overflow the divisions
                    e = ce
                    if dgr > 1e-9:
                        e = min(e, cs + int(np.ceil((fi + 1.0 - u0) / dgr)))
                    elif dgr < -1e-9:
                        e = min(e, cs + int(np.floor((fi - u0) / dgr)) + 1)
                    if dgc > 1e-9:
                        e = min(e, cs + int(np.ceil((fj + 1.0 - v0) / dgc)))
                    elif dgc < -1e-9:
                        e = min(e, cs + int(np.floor((fj - v0) / dgc)) + 1)
                    e = max(e, c + 1)
                    i0 = int(fi)
                    j0 = int(fj)
                    i1 = min(max(i0 + 1, 0), fh - 1)
                    j1 = min(max(j0 + 1, 0), fw - 1)
                    ia = min(max(i0, 0), fh - 1)
                    ja = min(max(j0, 0), fw - 1)
                    for q in range(k_n):
                        s00 = srcs[q, ia, ja]
                        s01 = srcs[q, ia, j1]
                        s10 = srcs[q, i1, ja]
                        coef[q, 0] = s00
                        coef[q, 1] = s10 - s00
                        coef[q, 2] = s01 - s00
                        coef[q, 3] = (srcs[q, i1, j1] - s10) - (s01 - s00)
                    ua = u0 - fi
                    va = v0 - fj
                    for q in range(k_n):
                        e0 = coef[q, 0]
                        e1 = coef[q, 1]
                        e2 = coef[q, 2]
                        e3 = coef[q, 3]
                        for cc in range(c, e):
                            xx = cc - cs
                            a = np.float32(ua + dgr * xx)
                            b = np.float32(va + dgc * xx)
                            out[q, r, cc] = e0 + a * e1 + b * (e2 + a * e3)
                    c = e


def bilinear_lattice(srcs, lattice, off_r, off_c, sh, sw, h, w):
    """:func:`bilinear` of several fields on one source grid, with the coordinates
    interpolated from a lattice (numba only).

    ``lattice = (knots_r, knots_c, lat_row, lat_col)`` as returned by
    ``AlignedSource.source_lattice``; returns one float32 ``(h, w)`` array per field.
    """
    kr, kc, lat_r, lat_c = lattice
    stack = np.ascontiguousarray(np.stack(srcs))
    out = np.empty((len(srcs), h, w), np.float32)
    args = (stack, kr.astype(np.int64), kc.astype(np.int64),
            np.ascontiguousarray(lat_r, np.float64), np.ascontiguousarray(lat_c, np.float64),
            float(off_r), float(off_c), float(sh), float(sw))
    finite = bool(np.isfinite(stack).all())
    if finite and _source_step(kc, lat_r, lat_c) < 0.5:
        _bilinear_runs_nb(*args, out)  # coarse source: long runs (7 vs 33 ns/px at 1/33)
    else:  # a source as fine as the grid makes runs of ~1 px (63 vs 47 ns/px at 1:1)
        _bilinear_lattice_nb(*args, finite, out)
    return list(out)


def _source_step(kc, lat_r, lat_c) -> float:
    """Largest source-pixel step per target pixel along rows, from the lattice."""
    if kc.size < 2:
        return 0.0
    span = np.diff(kc).astype(float)
    return float(max(np.max(np.abs(np.diff(lat_r, axis=1)) / span),
                     np.max(np.abs(np.diff(lat_c, axis=1)) / span)))


def _upsample(lattice: np.ndarray, knots_r: np.ndarray, knots_c: np.ndarray, h: int,
              w: int, use_numba: bool = True) -> np.ndarray:
    """Separable linear interpolation of lattice values to an ``(h, w)`` block."""

    def seg(knots, n):
        x = np.arange(n, dtype=float)
        if knots.size == 1:
            return np.zeros(n, np.intp), np.zeros(n)
        k = np.clip(np.searchsorted(knots, x, side="right") - 1, 0, knots.size - 2)
        return k, (x - knots[k]) / (knots[k + 1] - knots[k])

    kr, tr = seg(knots_r, h)
    kc, tc = seg(knots_c, w)
    if knots_r.size == 1:
        rows = lattice[[0]].repeat(h, axis=0)
    else:
        rows = lattice[kr] * (1.0 - tr)[:, None] + lattice[kr + 1] * tr[:, None]
    if knots_c.size == 1:
        return np.repeat(rows[:, [0]], w, axis=1)
    if HAVE_NUMBA and use_numba:  # same arithmetic, one pass, C order (no later copy)
        out = np.empty((h, w))
        _upsample_cols_nb(np.ascontiguousarray(rows), kc, tc, out)
        return out
    return np.ascontiguousarray(rows[:, kc] * (1.0 - tc) + rows[:, kc + 1] * tc)
