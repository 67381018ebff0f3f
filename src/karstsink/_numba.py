"""numba, imported without the scipy.linalg import it makes but karstsink does not need.

On the first compiled call of a process numba loads its array library
(``numba.np.arraymath``), which probes for BLAS by importing
``scipy.linalg.cython_blas``, and so all of ``scipy.linalg``: 0.3-0.4 s measured
on the project's 2-core machine, paid by every map run and by every worker process
of the processes and Dask engines.  No karstsink kernel uses BLAS.

Importing ``numba`` from here imports that module once with ``scipy.linalg`` held
back, then sets numba's flag to what its probe would have found (whether scipy is
installed).  Compiled code that needs BLAS (``np.dot`` and friends) still works:
numba imports scipy.linalg and checks it when such code is compiled.  Nothing is
held back when scipy.linalg or numba's array library is already loaded.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys

import numba  # ImportError propagates: numba is optional ([fast])

__all__ = ["numba"]

class _HoldBack(importlib.abc.MetaPathFinder):
    """Import finder that refuses ``scipy.linalg`` (and only that) while installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "scipy.linalg":
            raise ImportError("scipy.linalg held back while numba loads (karstsink._numba)")
        return None


def _load_arraymath() -> None:
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    finder = _HoldBack()
    sys.meta_path.insert(0, finder)
    try:
        import numba.np.arraymath as am
    except ImportError:  # a numba that needs scipy.linalg elsewhere
        am = None
    finally:
        sys.meta_path.remove(finder)
    if am is None:
        import numba.np.arraymath  # noqa: F401  (the ordinary way)
        return
    am._HAVE_BLAS = importlib.util.find_spec("scipy") is not None


_load_arraymath()
