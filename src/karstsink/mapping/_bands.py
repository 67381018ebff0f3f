"""Several bands of one input reduced to one field, per block (no full-size copy).

An input with ``aggregate`` (:mod:`._inputs`) is read as all its bands of each block
window (12 monthly steps of a NetCDF variable, say) and reduced here to their per-pixel
mean before the unit conversion; ``aggregate = "sum"`` is that mean times the band count
(:mod:`._sources` folds the count into the conversion factor, so the two share one
pass).  A pixel that is nodata in any band is nodata: a year with a missing month has no
annual total.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mean_bands"]


def mean_bands(data: np.ndarray, nodata: float | None) -> np.ndarray:
    """Per-pixel mean of ``(bands, rows, cols)`` stored values.

    Parameters
    ----------
    data : numpy.ndarray
        Stored numbers of each band (any dtype).
    nodata : float or None
        The stored nodata value (NaN is always nodata in float data).

    Returns
    -------
    numpy.ndarray
        float32 ``(rows, cols)`` mean (of the stored numbers, before scale and offset);
        NaN where any band is nodata.
    """
    acc = data[0].astype(np.float32)  # a copy: accumulate in place
    check = nodata is not None and not np.isnan(nodata)
    bad = data[0] == nodata if check else None
    for k in range(1, data.shape[0]):
        acc += data[k]
        if check:
            bad |= data[k] == nodata
    acc *= np.float32(1.0 / data.shape[0])
    if check:
        acc[bad] = np.nan
    return acc
