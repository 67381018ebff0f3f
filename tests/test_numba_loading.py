"""karstsink._numba: numba loads without scipy.linalg, and BLAS code still compiles."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("numba")


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True,
                         capture_output=True, text=True, timeout=300)
    return out.stdout.strip()


def test_map_kernels_run_without_importing_scipy_linalg():
    got = _run("""
        import sys
        import numpy as np
        from karstsink.mapping._cog import encode_tile
        from karstsink.mapping._kernel import halve_nb
        encode_tile(np.ones((8, 8), np.float32), 8)
        print(float(halve_nb(np.arange(4, dtype=np.float32).reshape(2, 2))[0, 0]),
              "scipy.linalg" in sys.modules)
    """)
    assert got == "1.5 False"  # (0 + 1 + 2 + 3) / 4


def test_numba_blas_code_still_compiles_afterwards():
    # np.dot in compiled code needs BLAS: numba imports scipy.linalg when compiling it
    got = _run("""
        import sys
        import numpy as np
        import karstsink._numba
        from numba import njit
        dot = njit(lambda a, b: np.dot(a, b))
        print(dot(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])),
              "scipy.linalg" in sys.modules)
    """)
    assert got == "32.0 True"  # 1*4 + 2*5 + 3*6
