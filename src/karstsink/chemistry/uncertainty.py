"""Monte Carlo propagation of analytical uncertainty through PHREEQC speciation.

Each computed sample is drawn ``draws`` times from independent normal
distributions around its measured temperature, pH, alkalinity and ions (the
standard uncertainties of :data:`DEFAULT_UNCERTAINTY`, or the caller's, or
per-row ``<column>_sd`` columns), every draw is speciated by the same batched
engine as the samples themselves (:func:`~karstsink.chemistry.engine.run_chunks`,
the same worker processes), and the spread of the draws gives ``<result>_sd``
(sample standard deviation), ``<result>_lo95`` and ``<result>_hi95`` (2.5th and
97.5th percentiles) for :data:`UNCERTAIN_RESULTS`.  The central value stays the
deterministic PHREEQC result of the measured values.  This is the Monte Carlo
method of JCGM 101:2008 (Evaluation of measurement data, Supplement 1 to the
GUM, "Propagation of distributions using a Monte Carlo method").

The defaults are typical precisions of field and laboratory methods:

- pH 0.05: "a precision of ±0.02 pH unit and an accuracy of ±0.05 pH unit"
  with a laboratory meter and good electrodes (APHA, AWWA, WEF, *Standard
  Methods for the Examination of Water and Wastewater*, method 4500-H⁺ B,
  Precision and bias); field readings are rarely better.
- temperature 0.2 °C: the accuracy of a field thermistor (multiparameter
  sondes are typically specified at ±0.1-0.2 °C; Standard Methods 2550 B asks
  for a thermometer with a scale marked every 0.1 °C).
- alkalinity 2 % (relative): acid titration to an end point near pH 4.5 or by
  Gran's method (Standard Methods 2320 B) reaches 1-2 % on karst waters of
  several meq/L.
- major ions 3 % (relative): ion chromatography (EPA Method 300.1) and ICP-OES
  (EPA Method 200.7) typically reach a precision of 2-5 % relative standard
  deviation at mg/L levels.

Draws are uncorrelated (each input independently); a draw that would make a
concentration negative is set to 0 (a normal truncated at zero, which matters
only when the uncertainty is a large fraction of the value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import carbon
from .._seed import draws_problem
from ..exceptions import ConfigError, DataError
from ._engine_input import INPUT_COLUMNS, SOLUTE_ELEMENTS

#: Default standard uncertainties: absolute in the column's unit (pH [-], temperature
#: [°C]) or relative ("2%"); sources in the module notes.
DEFAULT_UNCERTAINTY: dict[str, float | str] = {"ph": 0.05, "temp": 0.2, "alk": "2%",
                                                "ions": "3%"}

#: Where each default comes from (written to the metadata).
DEFAULT_SOURCES: dict[str, str] = {
    "ph": "APHA Standard Methods 4500-H+ B: accuracy ±0.05 pH unit with a laboratory meter",
    "temp": "field thermistor accuracy ±0.1-0.2 °C (Standard Methods 2550 B)",
    "alk": "titration to pH 4.5 or Gran titration, 1-2 % (Standard Methods 2320 B)",
    "ions": "IC (EPA Method 300.1) and ICP-OES (EPA Method 200.7), 2-5 % RSD",
}

#: Short names that stand for several input columns.
GROUPS: dict[str, tuple[str, ...]] = {
    "ph": ("ph",),
    "temp": ("temp_c",),
    "alk": ("hco3_mmol_l", "co3_mmol_l"),
    "ions": tuple(SOLUTE_ELEMENTS),
}

#: Results that get ``_sd``, ``_lo95`` and ``_hi95`` columns.
UNCERTAIN_RESULTS: tuple[str, ...] = ("si_calcite", "si_dolomite", "si_gypsum", "log_pco2",
                                      "dic_mmol_kgw", "hco3_carbonic_mmol_l")
#: Suffixes of the columns added per result.
STATISTICS: tuple[str, ...] = ("_sd", "_lo95", "_hi95")

#: Solutions per engine call: the draws of this many solutions are drawn, run and
#: summarised at a time (bounds memory; a fixed number keeps seeded draws reproducible).
BLOCK_SOLUTIONS = 100_000

_ABSOLUTE_ONLY = {"ph", "temp_c"}
_NUMBER = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Sd:
    """A standard uncertainty: ``value`` in the column's unit, or relative (0.02 = 2 %)."""

    value: float
    relative: bool

    def describe(self) -> str:
        return f"{100 * self.value:g} % (relative)" if self.relative else f"{self.value:g}"


def _parse_value(key: str, value: object) -> Sd:
    if isinstance(value, bool):
        raise ConfigError(f"uncertainty {key!r}: {value!r} is not a number")
    if isinstance(value, (int, float, np.integer, np.floating)):
        number, relative = float(value), False
    else:
        m = _NUMBER.match(str(value))
        if not m:
            raise ConfigError(f"uncertainty {key!r}: cannot read {value!r}; give a standard "
                              "uncertainty such as 0.05 (in the column's unit) or '2%'")
        number, relative = float(m.group(1)), bool(m.group(2))
        number = number / 100 if relative else number
    if not math.isfinite(number) or number < 0:
        raise ConfigError(f"uncertainty {key!r}: {value!r} must be a finite number >= 0")
    return Sd(number, relative)


def parse_uncertainty(spec: Mapping[str, object] | None) -> dict[str, Sd]:
    """Standard uncertainty per input column from a mapping like :data:`DEFAULT_UNCERTAINTY`.

    Parameters
    ----------
    spec : mapping or None
        Keys: ``ph``, ``temp``, ``alk`` (alkalinity: ``hco3_mmol_l`` and
        ``co3_mmol_l``), ``ions`` (every solute of :data:`SOLUTE_ELEMENTS`), or
        a canonical input column (``ca_mmol_l``), which overrides its group.
        Values: a number (absolute, in the column's unit: pH [-], °C,
        mmol/L) or a string ``"2%"`` (relative).  ``None``: the defaults.
        A mapping names exactly the inputs taken as uncertain; the others are
        exact (``{"ph": 0.05}`` propagates pH alone).

    Returns
    -------
    dict of str to Sd
        Canonical input column -> its standard uncertainty (columns with none left out).

    Raises
    ------
    ConfigError
        An unknown key, a value that is not a number >= 0, or a relative
        uncertainty for pH or temperature.
    """
    spec = DEFAULT_UNCERTAINTY if spec is None else spec
    if not isinstance(spec, Mapping):
        raise ConfigError(f"uncertainty must be a mapping of input to standard uncertainty, "
                          f"e.g. {{'ph': 0.05, 'alk': '2%'}}; got {spec!r:.60}")
    out: dict[str, Sd] = {}
    groups, columns = [], []
    for key, value in spec.items():
        k = str(key).strip().lower()
        if k in GROUPS:
            groups.append((k, GROUPS[k], value))
        elif k in INPUT_COLUMNS:
            columns.append((k, (k,), value))
        else:
            valid = ", ".join(dict.fromkeys([*GROUPS, *INPUT_COLUMNS]))
            raise ConfigError(f"uncertainty: unknown input {key!r}; use one of {valid}")
    for key, cols, value in groups + columns:  # a column overrides its group
        sd = _parse_value(key, value)
        if sd.relative and set(cols) & _ABSOLUTE_ONLY:
            raise ConfigError(f"uncertainty {key!r}: give pH and temperature as an absolute "
                              f"standard uncertainty (e.g. {key}=0.05), not a percentage")
        for c in cols:
            out[c] = sd
    return out


def sd_columns(columns: Iterable[object]) -> list[str]:
    """The per-row standard-uncertainty columns among ``columns``: ``<input column>_sd``
    (``ph_sd``, ``ca_mmol_l_sd``...) for the canonical inputs, in their order."""
    names = set(columns)
    return [f"{c}_sd" for c in INPUT_COLUMNS if f"{c}_sd" in names]


def sd_matrix(values: np.ndarray, table: Any, sds: Mapping[str, Sd]) -> tuple[np.ndarray,
                                                                                list[str]]:
    """Absolute standard uncertainty of every input of every row [column units].

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, len(INPUT_COLUMNS))`` engine inputs.
    table : pandas.DataFrame
        The sample table; a column ``<input column>_sd`` (e.g. ``ph_sd``,
        ``ca_mmol_l_sd``) gives that row's own absolute standard uncertainty
        where it is a number, in place of ``sds``.
    sds : mapping
        From :func:`parse_uncertainty`.

    Returns
    -------
    (numpy.ndarray, list of str)
        The ``(n, len(INPUT_COLUMNS))`` uncertainties (0 where exact or not
        given) and the ``_sd`` columns used.

    Raises
    ------
    DataError
        A negative, infinite or non-numeric value in a ``_sd`` column (names the column
        and row); an empty cell takes the default.
    """
    import pandas as pd

    out = np.zeros_like(values)
    for j, col in enumerate(INPUT_COLUMNS):
        sd = sds.get(col)
        if sd is not None:
            out[:, j] = sd.value * np.abs(values[:, j]) if sd.relative else sd.value
    used = sd_columns(table.columns)
    for name in used:
        j = INPUT_COLUMNS.index(name.removesuffix("_sd"))
        raw = table[name]
        per = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        empty = (raw.isna() | (raw.astype(str).str.strip() == "")).to_numpy()
        with np.errstate(invalid="ignore"):
            bad = (per < 0) | np.isinf(per) | (np.isnan(per) & ~empty)
        if bad.any():  # an empty cell takes the default; anything else must be a number
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"column {name!r}, row {row + 1}: a standard uncertainty must be "
                            f"a finite number >= 0 (an empty cell takes the default); got "
                            f"{raw.iloc[row]!r}")
        given = np.isfinite(per)
        out[given, j] = per[given]
    out[~np.isfinite(values)] = 0.0
    return out, used


def draw_inputs(values: np.ndarray, sd: np.ndarray, draws: int,
                rng: np.random.Generator) -> np.ndarray:
    """``draws`` normal draws of every row, sample by sample: ``(n * draws, ncol)``.

    Rows ``i * draws`` to ``(i + 1) * draws - 1`` are the draws of sample ``i``;
    concentrations (alkalinity and ions) below 0 are set to 0.
    """
    n, ncol = values.shape
    z = rng.standard_normal((n, draws, ncol))
    out = values[:, None, :] + sd[:, None, :] * z
    np.maximum(out[:, :, 2:], 0.0, out=out[:, :, 2:], where=np.isfinite(out[:, :, 2:]))
    return out.reshape(n * draws, ncol)


def summarize(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``(n, draws)``: sample sd (ddof 1), 2.5th and 97.5th percentiles.

    NaN draws (PHREEQC failed, or a mineral not computed) are left out; fewer
    than two valid draws give NaN.
    """
    n = samples.shape[0]
    sd, lo, hi = (np.full(n, np.nan) for _ in range(3))
    finite = np.isfinite(samples)
    ok = finite.sum(axis=1) >= 2
    if ok.any():
        x = samples[ok]
        sd[ok] = np.nanstd(x, axis=1, ddof=1)
        # nanpercentile goes row by row in Python (~0.1 ms a row); rows without NaN, nearly
        # all of them, take percentile's one vectorised pass (the same interpolation)
        full = finite[ok].all(axis=1)
        q = np.empty((2, len(x)))
        if full.any():
            q[:, full] = np.percentile(x[full], [2.5, 97.5], axis=1)
        if not full.all():
            q[:, ~full] = np.nanpercentile(x[~full], [2.5, 97.5], axis=1)
        lo[ok], hi[ok] = q
    return sd, lo, hi


def propagate(values: np.ndarray, rows: np.ndarray, table: Any, *, draws: int,
              uncertainty: Mapping[str, object] | None, seed: int | None,
              run: Callable[[np.ndarray], Any], columns: tuple[str, ...],
              shares: Mapping[str, float], acid_scale: Mapping[str, np.ndarray] | None = None
              ) -> tuple[dict[str, np.ndarray], np.ndarray, dict[str, Any]]:
    """Monte Carlo statistics of :data:`UNCERTAIN_RESULTS` for the samples in ``rows``.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, len(INPUT_COLUMNS))`` engine inputs of the whole table.
    rows : numpy.ndarray
        The rows to draw (those PHREEQC computed).
    table : pandas.DataFrame
        The table (for per-row ``_sd`` columns).
    draws : int
        Draws per sample (>= 2).
    uncertainty, seed
        See :func:`parse_uncertainty`; the seed of :func:`numpy.random.default_rng`.
    run : callable
        ``run(inputs)`` -> a :class:`~karstsink.chemistry.engine.RunResult` (the engine).
    columns : tuple of str
        The engine's result columns.
    shares : mapping
        The acid shares of :func:`karstsink.carbon.carbonic_hco3`.
    acid_scale : mapping, optional
        ``{"so4": (n,), "no3": (n,)}`` factors applied to the drawn SO4 and NO3 in the
        acid correction (censored values at their detection limit); default 1.

    Returns
    -------
    (dict, numpy.ndarray, dict)
        ``<result><statistic>`` -> ``(n,)`` array (NaN outside ``rows``); the
        number of failed draws per row; the metadata.
    """
    problem = draws_problem(draws)
    if problem:
        raise DataError(f"draws {problem}.")
    sds = parse_uncertainty(uncertainty)
    sd, used = sd_matrix(values, table, sds)
    n = len(values)
    stats = {f"{r}{s}": np.full(n, np.nan) for r in UNCERTAIN_RESULTS for s in STATISTICS}
    failed = np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    per_block = max(1, BLOCK_SOLUTIONS // draws)
    col = {c: i for i, c in enumerate(INPUT_COLUMNS)}
    for a in range(0, len(rows), per_block):
        idx = rows[a:a + per_block]
        inputs = draw_inputs(values[idx], sd[idx], draws, rng)
        result = run(inputs)
        shape = (len(idx), draws)
        for name in UNCERTAIN_RESULTS:
            if name == "hco3_carbonic_mmol_l":
                so4, no3 = (inputs[:, col[f"{ion}_mmol_l"]] for ion in ("so4", "no3"))
                if acid_scale is not None:  # each sample's draws are contiguous rows
                    so4 = so4 * np.repeat(acid_scale["so4"][idx], draws)
                    no3 = no3 * np.repeat(acid_scale["no3"][idx], draws)
                x = carbon.carbonic_hco3(inputs[:, col["hco3_mmol_l"]], so4, no3, **shares)
                if result.failed:  # over the draws PHREEQC solved, as the other results
                    x = np.asarray(x, dtype=float).copy()
                    x[sorted(result.failed)] = np.nan
            else:
                x = result.values[:, columns.index(name)]
            s, lo, hi = summarize(np.asarray(x, dtype=float).reshape(shape))
            stats[f"{name}_sd"][idx], stats[f"{name}_lo95"][idx] = s, lo
            stats[f"{name}_hi95"][idx] = hi
        if result.failed:
            np.add.at(failed, idx[np.array(sorted(result.failed)) // draws], 1)
    meta = {
        "method": "Monte Carlo (JCGM 101:2008): independent normal draws of the inputs, each "
                  "speciated by PHREEQC like the samples; _sd = sample standard deviation "
                  "of the draws, _lo95/_hi95 = their 2.5th/97.5th percentiles; the central "
                  "value is the deterministic result",
        "draws": int(draws),
        "seed": seed,
        "standard_uncertainty": {c: s.describe() for c, s in sds.items()},
        "per_row_sd_columns": used,
        "defaults": {k: str(v) for k, v in DEFAULT_UNCERTAINTY.items()},
        "default_sources": DEFAULT_SOURCES,
        "correlation": "none (every input drawn independently)",
        "negative_concentrations": "draws below 0 set to 0",
        "results": list(UNCERTAIN_RESULTS),
        "n_samples_drawn": len(rows),
        "n_draws_failed": int(failed.sum()),
    }
    return stats, failed, meta


__all__ = ["DEFAULT_SOURCES", "DEFAULT_UNCERTAINTY", "GROUPS", "STATISTICS",
           "UNCERTAIN_RESULTS", "Sd", "draw_inputs", "parse_uncertainty", "propagate",
           "sd_columns", "sd_matrix", "summarize"]
