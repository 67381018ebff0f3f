"""The per-pixel sd raster of the map's Monte Carlo draws (``[uncertainty] sd_raster``).

:func:`karstsink.mapping._draws.block_draws` accumulates, per pixel of the draws'
systematic subsample, the sums of the draws' deviations from the central total sink and
of their squares (:func:`_accumulate_sd`); :func:`_sd_of` turns them into the sd
(ddof = 1); the blocks' pieces are laid on the subsample lattice (:func:`sd_lattice`)
and written as ``total_sink_sd.tif`` (:func:`._sd_raster.write_sd_raster`), at s x the grid's pixel
size: lattice pixel (I, J) is the sample at full-resolution pixel (I s, J s).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SD_STEM", "sd_lattice"]

SD_STEM = "total_sink_sd"


def _accumulate_sd(acc, total: np.ndarray, draws: list[int]):
    """Add one kernel call's totals ``(m, h, w)`` (slab i: draw ``draws[i]``; -1, the
    central run, is the first slab of the first call: :func:`_batches`) to ``acc`` =
    ``[central, sum, sum of squares]`` of the draws' deviations from the central value
    (the deviations taken in float32, where they are exact to a rounding of their own
    size, and summed in float64)."""
    first = draws[0] == -1
    if acc is None:
        assert first  # _batches puts the central run first
        acc = [total[0].copy(), np.zeros(total.shape[1:]), np.zeros(total.shape[1:])]
    slabs = total[1:] if first else total
    if len(slabs):
        dev = (slabs - acc[0][None]).reshape(len(slabs), -1).astype(np.float64)
        acc[1] += dev.sum(axis=0).reshape(acc[1].shape)
        np.multiply(dev, dev, out=dev)
        acc[2] += dev.sum(axis=0).reshape(acc[2].shape)
    return acc


def _sd_of(acc, k: int) -> np.ndarray:
    """Sample sd (ddof = 1) of K draws from :func:`_accumulate_sd` (float32; NaN where
    the central value or a draw is NaN)."""
    central, s1, s2 = acc
    var = np.maximum((s2 - s1 * s1 / k) / (k - 1), 0.0)  # NaN stays NaN
    sd = np.sqrt(var)
    sd[np.isnan(central)] = np.nan
    return sd.astype(np.float32)


def sd_lattice(pieces: list, grid, step: int) -> np.ndarray:
    """The sd raster ``(ceil(H / s), ceil(W / s))`` (float32, NaN where no piece) from
    the blocks' :func:`block_draws` pieces ``(I0, J0, sd)``."""
    out = np.full((-(-grid.height // step), -(-grid.width // step)), np.nan, np.float32)
    for i0, j0, sd in pieces:
        out[i0:i0 + sd.shape[0], j0:j0 + sd.shape[1]] = sd
    return out
