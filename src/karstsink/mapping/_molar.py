"""Molar masses of the map model [g mol-1], from :data:`karstsink.units.MOLAR_MASS`.

A module of their own so that the numba kernels (:mod:`._kernel`) and the model
(:mod:`.model`, which loads the kernels) share them without importing each other.
"""

from __future__ import annotations

from ..units import MOLAR_MASS

__all__ = ["M_C", "M_CACO3", "M_DOLOMITE"]

M_C = MOLAR_MASS["C"]  # g/mol
M_CACO3 = MOLAR_MASS["caco3"]  # g/mol
#: g/mol CaMg(CO3)2 = 40.078 + 24.305 + 2 x 60.009 = 184.401
M_DOLOMITE = MOLAR_MASS["ca"] + MOLAR_MASS["mg"] + 2.0 * MOLAR_MASS["co3"]
