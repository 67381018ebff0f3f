"""numba, imported without the scipy.linalg import it makes but karstsink does not need.

On the first compiled call of a process numba loads its array library
(``numba.np.arraymath``), which probes for BLAS by importing
``scipy.linalg.cython_blas``, and so all of ``scipy.linalg``: 0.3-0.4 s measured
on the project's 2-core machine, paid by every map run and by every worker process
of the processes and Dask engines.  No karstsink kernel uses BLAS.

Importing ``numba`` from here imports that module once with numba's BLAS probe
(``numba.np.linalg.ensure_blas``) answering "not now", restores the probe, and sets
numba's flag to what the probe would normally find (scipy installed).  Compiled code
that needs BLAS (``np.dot`` and friends) still works: numba calls the real probe,
which imports and checks scipy.linalg, when such code is compiled.  Nothing is
changed when scipy.linalg or numba's array library is already loaded.  (With a
broken scipy install, BLAS-using compiled code then fails at compile time instead
of taking numba's non-BLAS path for ``np.correlate``/``np.convolve``.)
"""

from __future__ import annotations

import importlib.util
import sys

import numba  # ImportError propagates: numba is optional ([fast])

__all__ = ["numba"]


def _not_now() -> None:
    raise ImportError("scipy.linalg not probed while numba loads (karstsink._numba)")


def _load_arraymath() -> None:
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    import numba.np.linalg as la

    probe = la.ensure_blas
    la.ensure_blas = _not_now
    try:
        import numba.np.arraymath as am
    finally:
        la.ensure_blas = probe
    am.ensure_blas = probe
    am._HAVE_BLAS = importlib.util.find_spec("scipy") is not None


_load_arraymath()
