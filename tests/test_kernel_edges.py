"""The map model's edge pixels, in the numpy path and the numba kernel alike.

On carbonate rock a missing or out-of-range input (a dolomite fraction too) is nodata for
the karst sink, dissolution and denudation whatever the soil pCO2; off the rock (carbonate
fraction 0) the karst sink is 0 whatever the class and climate (docs/maps.md).  The two
kernels disagreed on four of these before (numpy gave 0 or finite values where numba gave
nodata, numba nodata where numpy gave 0).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from karstsink.chemistry.equilibrium import equilibrium_table
from karstsink.mapping.model import ModelParams, compute_block

NAN = np.nan
# (class code, carbonate fraction, dolomite fraction, soil pCO2 ppmv) -> what each output is:
# "0", "nan" or "+" (a positive number)
CASES = {
    "unknown class off the rock": (1, 0.0, 0.3, 5000.0, {"karst": "0", "bio": "nan"}),
    "unknown class on the rock": (1, 1.0, 0.3, 5000.0, {"karst": "nan", "bio": "nan"}),
    "no dolomite value, no soil CO2": (0, 1.0, NAN, 0.0,
                                       {"karst": "nan", "dissolution": "nan",
                                        "denudation": "nan", "total": "nan"}),
    "dolomite fraction 1.5": (0, 1.0, 1.5, 5000.0,
                              {"karst": "nan", "dissolution": "nan", "denudation": "nan"}),
    "dolomite fraction -0.2": (0, 1.0, -0.2, 5000.0, {"karst": "nan", "dissolution": "nan"}),
    "bad dolomite off the rock": (0, 0.0, 1.5, 5000.0,
                                  {"karst": "0", "dissolution": "0", "denudation": "0",
                                   "total": "+"}),
    "no soil CO2 on the rock": (0, 1.0, 0.3, 0.0, {"karst": "0", "dissolution": "0"}),
    "plain karst pixel": (0, 1.0, 0.3, 5000.0, {"karst": "+", "dissolution": "+"}),
}


@pytest.fixture(scope="module")
def block():
    calc = equilibrium_table(system="open", mineral="calcite")
    dol = equilibrium_table(system="open", mineral="dolomite")
    # class 0 known; class 1's factors are NaN: a code the land-cover table does not know
    p = ModelParams(pco2_factor=np.array([1.0, NAN]), runoff_factor=np.array([1.0, NAN]),
                    bio_sink=np.array([2.0, NAN]), calcite=calc.kernel_arrays(),
                    dolomite=dol.kernel_arrays(), outputs=("dissolution", "denudation"))
    rows = list(CASES.values())
    n = len(rows)

    def row(k, dtype=np.float32):
        return np.array([[r[k] for r in rows]], dtype)

    inp = {"landcover": row(0, np.int32), "landcover_valid": np.ones((1, n), bool),
           "carbonate": row(1), "dolomite_fraction": row(2), "pco2_ppmv": row(3),
           "runoff": np.full((1, n), 500.0, np.float32),
           "temperature": np.full((1, n), 15.0, np.float32)}
    return p, inp


def _kind(v: float) -> str:
    return "nan" if np.isnan(v) else "0" if v == 0 else "+" if v > 0 else "-"


@pytest.mark.parametrize("use_numba", [False, True])
def test_edge_pixels(block, use_numba):
    if use_numba:
        pytest.importorskip("numba")
    p, inp = block
    out, _ = compute_block(inp, dataclasses.replace(p, use_numba=use_numba))
    for j, (name, case) in enumerate(CASES.items()):
        for key, want in case[4].items():
            assert _kind(float(out[key][0, j])) == want, (name, key, out[key][0, j])


def test_the_kernels_agree_on_every_edge_pixel(block):
    pytest.importorskip("numba")
    p, inp = block
    a, ca = compute_block(inp, p)
    b, cb = compute_block(inp, dataclasses.replace(p, use_numba=True))
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, equal_nan=True)
    for key in ("temp_clamped", "pco2_clamped", "bad_fraction", "unknown_classes"):
        assert ca.get(key) == cb.get(key), key
