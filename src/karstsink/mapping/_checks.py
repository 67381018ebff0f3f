"""Checks on the map's inputs before the pass, on a sparse sample of the target grid.

Every input is read (through its :class:`~karstsink.mapping.grid.AlignedSource`, so
after nodata, the file's scale and offset and the declared unit) on a lattice of
3 x 3 small windows spread over the grid: ~9 k pixels, a few internal blocks of each
file, so the check costs milliseconds, not a second pass.  A unit-factor mistake
(runoff in metres, temperature in kelvin, pCO2 in atm or percent, a carbonate
percentage) is global, so the sample shows it.  What fails is refused with one
line saying which unit to declare (:mod:`._inputs`), unless the input has
``force = true``; an input with no valid value in the sample and in a decimated read
of the whole file is refused too (a map of it would be all nodata, not 0 t C/yr).
"""

from __future__ import annotations

import numpy as np

from ..exceptions import ConfigError, DataError, UnitError
from .grid import NON_INTEGER_CODE

__all__ = ["check_inputs", "sample_windows"]

_LATTICE = 3  # windows per side
_WINDOW = 32  # px per window side
_WATER = ("runoff", "precipitation", "evapotranspiration", "aet")


def sample_windows(grid) -> list:
    """A ``_LATTICE`` x ``_LATTICE`` set of small windows centred in equal parts of the grid."""
    from rasterio.windows import Window

    h, w = min(_WINDOW, grid.height), min(_WINDOW, grid.width)
    out = []
    for i in range(_LATTICE):
        for j in range(_LATTICE):
            r = min(max(int((i + 0.5) * grid.height / _LATTICE) - h // 2, 0), grid.height - h)
            c = min(max(int((j + 0.5) * grid.width / _LATTICE) - w // 2, 0), grid.width - w)
            out.append(Window(c, r, w, h))
    return list(dict.fromkeys(out))  # a small grid: fewer, distinct windows


def _declare(name: str, unit: str) -> str:
    return (f"declare it: [inputs] {name} = {{ path = \"...\", units = \"{unit}\" }} "
            f"(or force = true if the values are right)")


def _water(name, v):
    hi = float(v.max())
    if hi < 10.0:
        return (f"its largest value is {hi:.3g} mm/yr (< 10 mm/yr everywhere): the values "
                f"look like m/yr; " + _declare(name, "m/yr"))
    if hi > 20000.0:
        # far above the wettest places' mean annual rainfall (11,872 mm/yr at Mawsynram:
        # Cerveny et al. 2007, doi:10.1175/BAMS-88-6-853), with room for a wet year's pixel
        return (f"its largest value is {hi:.4g} mm/yr (> 20,000 mm/yr, far above the "
                f"wettest places' mean annual rainfall, about 12,000 mm/yr): the values "
                f"look packed or in 0.1 mm; declare a scale, "
                f"e.g. {{ path = \"...\", scale = 0.1 }} (or force = true)")
    return None


def _temperature(name, v):
    lo, hi = float(v.min()), float(v.max())
    if -30.0 <= lo and hi <= 45.0:
        return None
    span = f"its values span {lo:.4g} to {hi:.4g} degC (plausible: -30 to 45 degC)"
    if 200.0 <= lo and hi <= 340.0:
        return f"{span}: they look like kelvin; " + _declare(name, "K")
    if lo < -100.0:
        return (f"{span}: {lo:.4g} looks like a nodata value the file does not declare; "
                f"set it (e.g. `rio edit-info --nodata {lo:g} FILE`) or force = true")
    return f"{span}; declare its units or scale (or force = true)"


def _pco2(name, v):
    hi = float(v.max())
    if hi >= 400.0:
        return None
    span = (f"its largest value is {hi:.3g} ppmv, below the atmosphere's ~400 ppmv "
            f"everywhere (soil air holds more CO2 than the air above it)")
    if hi <= 1.0:
        return f"{span}: the values look like atm; " + _declare(name, "atm")
    if hi <= 100.0:
        return f"{span}: the values look like percent; " + _declare(name, "percent")
    return f"{span}; declare its units (ppmv, atm, percent) or force = true"


def _fraction(name, v):
    pos = v[v > 0]
    if pos.size == 0 or np.count_nonzero(pos > 1.0) * 2 < pos.size:
        return None  # a few values above 1 are flagged per pixel (bad_fraction)
    hi = float(v.max())
    if hi <= 100.0:
        return (f"most of its non-zero values exceed 1 (largest {hi:.4g}): a fraction 0-1 "
                f"is expected and the values look like percent; " + _declare(name, "percent"))
    return (f"most of its non-zero values exceed 1 (largest {hi:.4g}): a fraction 0-1 is "
            f"expected; declare its units or scale (or force = true)")


def _carbon(name, v):
    hi = float(np.max(np.abs(v)))
    if 0.0 < hi <= 5.0:
        return (f"its largest magnitude is {hi:.3g} g C m-2 yr-1: the values look like "
                f"kg C m-2 yr-1; " + _declare(name, "kg C m-2 yr-1"))
    if hi > 5000.0:
        return (f"its largest magnitude is {hi:.4g} g C m-2 yr-1 (> 5,000, above any "
                f"ecosystem's production): the values look packed (e.g. MODIS x 0.0001 kg); "
                f"declare a scale and units (or force = true)")
    return None


def _dem(name, v):
    lo, hi = float(v.min()), float(v.max())
    if -500.0 <= lo and hi <= 9000.0:
        return None
    return (f"its values span {lo:.4g} to {hi:.4g} m (plausible: -500 to 9,000 m): "
            f"an undeclared nodata value, or feet; set the file's nodata or "
            + _declare(name, "ft"))


_RULES = {**{n: _water for n in _WATER}, "temperature": _temperature, "soil_pco2": _pco2,
          "carbonate": _fraction, "dolomite_fraction": _fraction, "npp": _carbon,
          "nep": _carbon, "dem": _dem}


def _whole_file_sample(src) -> np.ndarray:
    """Finite values of a decimated read (at most 256 x 256) of the whole source."""
    from rasterio.enums import Resampling

    from .grid import _open

    with _open(src.path) as ds:
        h, w = min(ds.height, 256), min(ds.width, 256)
        shape = (h, w) if len(src.bands) == 1 else (len(src.bands), h, w)
        data = ds.read(src._index, out_shape=shape, resampling=Resampling.nearest)
    vals = src._to_values(data)
    if src.kind == "classes":
        return vals[0][vals[1]]
    return vals[np.isfinite(vals)]


def check_inputs(sources: dict, specs: dict, grid) -> dict:
    """Refuse implausible inputs before the pass.

    Parameters
    ----------
    sources : dict
        Input name -> :class:`~karstsink.mapping.grid.AlignedSource` on ``grid``.
    specs : dict
        Input name -> :class:`~karstsink.mapping._inputs.InputSpec` (``force``, units).
    grid : Grid
        The target grid.

    Returns
    -------
    dict
        ``{"empty_on_grid": [input names with no valid sampled pixel on the grid]}``,
        for the all-nodata message after the pass.

    Raises
    ------
    UnitError
        A value range off by a unit factor (the message says which unit to declare).
    DataError
        Non-integer land-cover codes; an input with no valid value at all.
    """
    _check_implied(specs)
    windows = sample_windows(grid)
    sampled: dict[str, np.ndarray] = {}
    empty = []
    reads: dict[str, list] = {name: [] for name in sources}
    saved = {name: src.use_numba for name, src in sources.items()}
    try:
        for src in sources.values():  # numpy resampling: small windows, no extra kernels
            src.use_numba = False
        for w in windows:  # window by window: inputs on one source grid share coordinates
            for name, src in sources.items():
                reads[name].append(src.read(w))
    finally:
        for name, src in sources.items():
            src.use_numba = saved[name]
    for name, src in sources.items():
        parts = reads[name]
        if src.kind == "classes":
            codes = np.concatenate([c[v] for c, v in parts])
            _check_codes(src, codes)
            if codes.size == 0:
                empty.append(name)
            continue
        values = np.concatenate([p.ravel() for p in parts])
        sampled[name] = values
        if not np.isfinite(values).any():
            empty.append(name)
    forced = {n for n, s in specs.items() if s.force}
    for name in empty:
        src = sources[name]
        values = _whole_file_sample(src)
        if values.size == 0 and name not in forced:
            raise DataError(
                f"Input {name!r} ({src.label}) holds no valid value (every sampled pixel is "
                f"nodata, nodata = {src.nodata}): a map of it would be all nodata. Check "
                f"the file and its nodata value (or force = true if its data cover only a "
                f"small part of the grid).")
        if src.kind == "continuous":
            sampled[name] = values
    for name, values in sampled.items():
        rule = _RULES.get(name)
        finite = values[np.isfinite(values)]
        if rule is None or finite.size == 0 or name in forced:
            continue
        problem = rule(name, finite)
        if problem:
            raise UnitError(f"Input {name!r} ({sources[name].label}): {problem}.")
    _check_water_balance(sampled, sources, forced)
    return {"empty_on_grid": empty}


def _check_implied(specs: dict) -> None:
    """A polygon carbonate's ``dolomite_values`` must reach the run as its
    ``dolomite_fraction`` input (:func:`._inputs.implied_inputs`): never silently unused,
    never beside another dolomite input."""
    carb = specs.get("carbonate")
    if carb is None or not carb.is_vector or carb.dolomite_values is None:
        return
    dol = specs.get("dolomite_fraction")
    if dol is None:
        raise ConfigError(
            "[inputs] carbonate.dolomite_values implies a dolomite_fraction input that this "
            "configuration loader did not add; write it out: dolomite_fraction = { path = "
            "\"...\", field = \"...\", values = [...], dolomite_values = [...] } (the "
            "carbonate entry's keys).")
    same = (dol.is_vector, dol.path, dol.layer, dol.field, dol.dolomite_values) == (
        True, carb.path, carb.layer, carb.field, carb.dolomite_values)
    if not same:
        raise ConfigError("[inputs] carbonate.dolomite_values and a dolomite_fraction input "
                          "both give the dolomite share; remove one of them.")


def _check_codes(src, codes: np.ndarray) -> None:
    bad = int(np.count_nonzero(codes == NON_INTEGER_CODE))
    if bad:
        raise DataError(
            f"Land-cover raster {src.label} holds non-integer class codes ({bad} of "
            f"{codes.size} valid sampled pixels; stored as {src.dtype}): class codes must be "
            f"whole numbers. Reclassify or round the raster to integers and run again.")


def _check_water_balance(sampled: dict, sources: dict, forced: set) -> None:
    """Evapotranspiration at or above precipitation on every sampled pixel -> refuse."""
    p, et = sampled.get("precipitation"), sampled.get("evapotranspiration")
    if p is None or et is None or p.shape != et.shape or {"precipitation",
                                                          "evapotranspiration"} & forced:
        return
    both = np.isfinite(p) & np.isfinite(et)
    if both.any() and bool(np.all(et[both] >= p[both])):
        raise UnitError(
            f"Input 'evapotranspiration' ({sources['evapotranspiration'].label}) is at or "
            f"above precipitation ({sources['precipitation'].label}) on every sampled pixel, "
            f"so runoff = P - ET would be 0 everywhere: check that both are in mm/yr "
            f"(declare units for the one that is not), or force = true.")
