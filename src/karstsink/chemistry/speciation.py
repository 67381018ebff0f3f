"""``karstsink.speciate``: PHREEQC speciation of a sample table, with QA flags and provenance.

Input is the canonical sample table of :mod:`karstsink.samples` (or a raw
table, which is standardised first).  Every input row and column is kept, in
order; results are appended (the column contract of docs/formats.md):

``si_calcite, si_dolomite, si_gypsum, log_pco2, dic_mmol_kgw, hco3_mmol_kgw,
co3_mmol_kgw, co2aq_mmol_kgw, ionic_strength, cbe_pct``, ``si_<phase>`` for
extra phases, the weathering diagnostics ``ca_mg_hco3_molar,
ca_mg_hco3_so4_eq, hco3_carbonic_mmol_l`` and ``phreeqc_message``; ``qa_flags``
is updated in place.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import carbon, qa
from .._seed import draws_problem, resolve_seed
from ..exceptions import ConfigError, DataError, DataQualityWarning, MissingColumnError
from . import uncertainty as uncertainty_mod
from . import weathering
from .database import DEFAULT_DATABASE
from .engine import (
    INPUT_COLUMNS,
    RESULT_UNITS,
    SOLUTE_ELEMENTS,
    PhreeqcEngine,
    lazy_pool,
    run_chunks,
)

#: Columns a table must have to be taken as canonical.
REQUIRED_COLUMNS = ("temp_c", "ph", "hco3_mmol_l")

#: Flags after which a row is not sent to PHREEQC (the rule book's fatal codes).
FATAL_FLAGS = qa.FATAL

#: Thresholds of the flags speciation adds (the rule book, :mod:`karstsink.qa`).
CBE_LIMIT_PCT = qa.CBE_LIMIT_PCT  # |charge-balance error| above this -> charge_imbalance [%]
IONIC_STRENGTH_LIMIT = qa.IONIC_STRENGTH_LIMIT_MOL_KGW  # mol/kgw -> high_ionic_strength
PH_RANGE = qa.PH_RANGE
TEMP_RANGE_C = qa.TEMP_RANGE_C

#: What each flag speciation adds means (from the rule book; also written to the metadata).
FLAG_NOTES = {code: qa.rule(code).description for code in (
    "charge_imbalance", "high_ionic_strength", "phreeqc_failed", "phreeqc_convergence_warning",
    "uncertainty_draws_failed", "acid_ion_missing",
    carbon.FLAG_NEGATIVE_CARBONIC_HCO3, carbon.FLAG_PH_BELOW_CARBONATE_BUFFER)}

WEATHERING_COLUMNS = ("ca_mg_hco3_molar", "ca_mg_hco3_so4_eq", "hco3_carbonic_mmol_l")

_KEY = {c: c.removesuffix("_mmol_l") for c in INPUT_COLUMNS}
_KEY.update({"temp_c": "temp", "ph": "ph", "hco3_mmol_l": "hco3"})


def speciate(table: pd.DataFrame, *, database: str | os.PathLike = DEFAULT_DATABASE,
             engine: str = "phreeqc", jobs: int | None = None, phases: Sequence[str] = (),
             units: Any = None, acid_so4_share: float = carbon.DEFAULT_ACID_SO4_SHARE,
             evaporite_so4_share: float = carbon.DEFAULT_EVAPORITE_SO4_SHARE,
             acid_no3_share: float = carbon.DEFAULT_ACID_NO3_SHARE,
             progress: Callable[[int], Any] | None = None,
             chunk_size: int | None = None, draws: int = 0,
             uncertainty: Mapping[str, float | str] | None = None,
             seed: int | None = None) -> pd.DataFrame:
    """Speciate every computable sample with PHREEQC and append results and diagnostics.

    Parameters
    ----------
    table : pandas.DataFrame
        The canonical sample table (``temp_c`` [°C], ``ph`` [-],
        ``hco3_mmol_l`` = alkalinity as HCO3⁻ [mmol L⁻¹ = meq L⁻¹], ions in
        [mmol L⁻¹], ``qa_flags``), or a raw field table, which is first passed
        to :func:`karstsink.samples.standardize` with ``units``.
    database : str or path-like, default "phreeqc.dat"
        PHREEQC database: a bundled name (``phreeqc.dat`` (2024),
        ``wateq4f.dat``, ``llnl.dat``, ``minteq.v4.dat``, ``pitzer.dat``) or a
        path.  Solutes a database lacks (pitzer.dat has no N, F or P) are left
        out with a note in the metadata and a :class:`DataQualityWarning`.
    engine : {"phreeqc", "phreeqpy"}, default "phreeqc"
        PHREEQC binding; ``phreeqpy`` is optional (``karstsink[phreeqpy]``) and
        cannot load the 2024 ``phreeqc.dat``.
    jobs : int, optional
        Worker processes: ``None`` = all cores, ``1`` = in this process.
        For a given ``chunk_size`` results do not depend on it; the default
        chunk size follows the worker count, which can move results in the
        13th significant digit (PHREEQC's convergence, not the science).
    phases : sequence of str
        Extra phases whose saturation index to add as ``si_<phase>``
        (names as in the database, e.g. ``("Fluorite", "Aragonite")``).
    units : optional
        Units for a raw table, passed to :func:`karstsink.samples.standardize`.
    acid_so4_share : float, default 1.0
        Share of the non-evaporite SO4²⁻ taken as sulfuric acid in
        ``hco3_carbonic_mmol_l`` [0-1] (the default, all of it, is the largest
        correction); see :func:`karstsink.carbon.acid_hco3`.
    evaporite_so4_share : float, default 0.0
        Share of SO4²⁻ from gypsum/anhydrite (no acid, no HCO3⁻) [0-1].
    acid_no3_share : float, default 1.0
        Share of NO3⁻ from nitrification (nitric acid) [0-1].
    progress : callable, optional
        Called with the number of samples finished after each chunk.
    chunk_size : int, optional
        Samples per PHREEQC run (default: up to 2000); changes results only in
        the 13th significant digit (each solution's iteration starts from the
        previous one in its run).
    draws : int, default 0
        Monte Carlo draws per computed sample (0: none; else >= 2): adds
        ``<result>_sd``, ``<result>_lo95`` and ``<result>_hi95`` (sample
        standard deviation and 2.5th/97.5th percentiles of the draws) for
        ``si_calcite, si_dolomite, si_gypsum, log_pco2, dic_mmol_kgw,
        hco3_carbonic_mmol_l`` (see :mod:`karstsink.chemistry.uncertainty`).
        The draws run through the same batched engine and workers: N draws
        cost about N samples' worth of PHREEQC time.
    uncertainty : mapping, optional
        Standard uncertainties of the inputs, e.g. ``{"ph": 0.05, "alk": "2%",
        "temp": 0.2, "ions": "3%", "ca_mmol_l": "5%"}`` (numbers absolute in
        the column's unit, ``"x%"`` relative); ``None``: the documented
        defaults (:data:`~karstsink.chemistry.uncertainty.DEFAULT_UNCERTAINTY`).
        A mapping names exactly the uncertain inputs.  Columns
        ``<input column>_sd`` in ``table`` (e.g. ``ph_sd``) give per-row
        absolute values that take precedence.  Inputs are drawn independently.
    seed : int, optional
        Seed of the draws (recorded in the metadata; ``None``: a fresh one).

    Returns
    -------
    pandas.DataFrame
        The input rows and columns in order, plus (PHREEQC results, per kg of
        water): ``si_calcite, si_dolomite, si_gypsum`` [log10 IAP/K],
        ``log_pco2`` [log10 atm], ``dic_mmol_kgw`` (total C(4)),
        ``hco3_mmol_kgw, co3_mmol_kgw, co2aq_mmol_kgw`` (free species)
        [mmol kgw⁻¹], ``ionic_strength`` [mol kgw⁻¹], ``cbe_pct`` [%],
        ``si_<phase>``; the diagnostics of :mod:`~karstsink.chemistry.weathering`:
        ``ca_mg_hco3_molar`` [mol mol⁻¹], ``ca_mg_hco3_so4_eq`` [eq eq⁻¹],
        ``hco3_carbonic_mmol_l`` [mmol L⁻¹] (:func:`karstsink.carbon.carbonic_hco3`);
        ``phreeqc_message`` (PHREEQC's message for failed or warned rows,
        else ""); and ``qa_flags`` extended with ``charge_imbalance``,
        ``high_ionic_strength``, ``phreeqc_failed``,
        ``phreeqc_convergence_warning``, ``negative_carbonic_hco3``
        (carbonic HCO3 < 0), ``ph_below_carbonate_buffer`` (pH < 6.4) (and
        any validation flag a hand-built table lacked).  Rows not computed have
        NaN results; with ``draws``, the ``_sd``, ``_lo95``, ``_hi95``
        columns, and ``uncertainty_draws_failed`` where PHREEQC could not
        solve some draws.  ``attrs["karstsink"]["speciation"]`` holds the
        provenance: database name, path and SHA-256, PHREEQC version, engine,
        karstsink version, chunking, assumptions and a count of every flag.

    Raises
    ------
    MissingColumnError
        If a canonical-looking table lacks ``temp_c``, ``ph`` or ``hco3_mmol_l``
        and :mod:`karstsink.samples` cannot standardise it.
    SpeciationError
        If the database or a phase is unknown, or PHREEQC fails as a whole.

    Warns
    -----
    DataQualityWarning
        Once, when speciation flagged rows or dropped solutes the database lacks.

    Notes
    -----
    SI of a mineral with a component not given (e.g. gypsum without SO4) is
    NaN, never PHREEQC's -999.999.  The diagnostics are computed from the
    measured concentrations for every row whose inputs are present and
    non-negative, even when PHREEQC could not run it; a missing SO4 or NO3
    makes them NaN (it is not taken as zero).

    With ``jobs > 1`` the worker processes are forked on Linux; on macOS and
    Windows, or when this process runs other threads, they are started fresh,
    which (as always with :mod:`multiprocessing`) needs the
    ``if __name__ == "__main__":`` guard in a script that calls ``speciate``.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"speciate() needs a pandas DataFrame, got {type(table).__name__}")
    if units is not None or not all(c in table.columns for c in REQUIRED_COLUMNS):
        table = _standardize(table, units)
    shares: dict[str, Any] = {"acid_so4_share": acid_so4_share,
                              "evaporite_so4_share": evaporite_so4_share,
                              "acid_no3_share": acid_no3_share}
    for name, value in shares.items():
        if np.ndim(value):
            raise DataError(f"{name} must be one number between 0 and 1, got an array.")
        carbon.check_share(name, value)

    out = table.copy()
    n = len(out)
    numbers = _numeric_inputs(out)
    flags = _flags_array(out)
    # the flags this stage sets are its own: a table speciated before loses its earlier
    # ones (a brine re-run with pitzer.dat is no longer high_ionic_strength)
    for i in np.flatnonzero([any(c in f for c in FLAG_NOTES) for f in flags]):
        flags[i] = qa.join(c for c in qa.split(flags[i]) if c not in FLAG_NOTES)
    # a censored SO4 or NO3 enters the acid correction at its detection limit
    acid_scale = _acid_limit_scales(flags, out.attrs)
    _add_missing_validation_flags(flags, numbers, out)
    computable = _computable(out, flags)

    eng = PhreeqcEngine(database, engine, phases)
    values = np.column_stack([numbers[c] for c in INPUT_COLUMNS]) if n else np.empty(
        (0, len(INPUT_COLUMNS)))
    rows = np.flatnonzero(computable)
    dropped_used = {c: why for c, why in eng.dropped.items()
                    if np.isfinite(values[rows, INPUT_COLUMNS.index(c)]).any()}
    problem = None if draws is None else draws_problem(draws, allow_none=True)
    if problem:
        raise ConfigError(f"draws {problem}.")
    if uncertainty is not None and not draws:
        raise ConfigError("uncertainty needs draws (e.g. draws=200) to be propagated")
    pool = lazy_pool(eng, jobs)  # the central run and the draws share its workers
    try:
        run = run_chunks(values[rows], eng, jobs=jobs, chunk_size=chunk_size,
                         progress=progress, pool=pool)
        mc = None
        if draws:
            good = np.setdiff1d(rows, rows[sorted(run.failed)] if run.failed else [])
            seed = resolve_seed(seed)  # a fresh one is written to the metadata
            mc = uncertainty_mod.propagate(
                values, good, out, draws=int(draws), uncertainty=uncertainty, seed=seed,
                run=lambda x: run_chunks(x, eng, jobs=jobs, progress=progress, pool=pool),
                columns=run.columns, shares=shares, acid_scale=acid_scale)
    finally:
        pool.close()

    results = np.full((n, len(run.columns)), np.nan)
    results[rows] = run.values
    message = np.full(n, "", dtype=object)
    failed_rows = rows[sorted(run.failed)] if run.failed else np.empty(0, dtype=np.int64)
    warned_rows = rows[sorted(run.warned)] if run.warned else np.empty(0, dtype=np.int64)
    for k, text in run.warned.items():
        message[rows[k]] = text
    for k, text in run.failed.items():
        message[rows[k]] = text

    new: dict[str, Any] = dict(zip(run.columns, results.T, strict=True))
    ion = new["ionic_strength"]
    cbe = new["cbe_pct"]
    with np.errstate(invalid="ignore"):
        added = {
            "charge_imbalance": np.abs(cbe) > CBE_LIMIT_PCT,
            # only where the database's activity model is not valid there
            "high_ionic_strength": (ion > IONIC_STRENGTH_LIMIT)
            & (eng.activity_model == "ion-association"),
        }
    added["phreeqc_failed"] = np.zeros(n, bool)
    added["phreeqc_failed"][failed_rows] = True
    added["phreeqc_convergence_warning"] = np.zeros(n, bool)
    added["phreeqc_convergence_warning"][warned_rows] = True
    for code, mask in added.items():
        qa.add_flag(flags, mask, code)

    ca, mg = numbers["ca_mmol_l"], numbers["mg_mmol_l"]
    hco3, so4, no3 = numbers["hco3_mmol_l"], numbers["so4_mmol_l"], numbers["no3_mmol_l"]
    new["ca_mg_hco3_molar"] = weathering.ca_mg_hco3_molar(ca, mg, hco3)
    new["ca_mg_hco3_so4_eq"] = weathering.ca_mg_hco3_so4_eq(ca, mg, hco3, so4)
    with np.errstate(invalid="ignore"):
        # a negative concentration is flagged negative_value:<ion>, never used
        bad = (hco3 < 0) | (so4 < 0) | (no3 < 0)
    carbonic = np.where(bad, np.nan, carbon.carbonic_hco3(
        hco3, so4 * acid_scale["so4"], no3 * acid_scale["no3"], **shares))
    new["hco3_carbonic_mmol_l"] = carbonic
    new["phreeqc_message"] = message
    ph = numbers["ph"]
    with np.errstate(invalid="ignore"):  # pH 0 (sentinel_value:ph) is no pH either
        ph_valid = np.where((ph >= PH_RANGE[0]) & (ph <= PH_RANGE[1])
                            & (ph != qa.PH_SENTINEL), ph, np.nan)
    carbon_added = carbon.carbon_flag_masks(carbonic, ph_valid)
    with np.errstate(invalid="ignore"):  # an HCO3 but no carbonic HCO3: an acid ion has none
        carbon_added["acid_ion_missing"] = (hco3 >= 0) & ~bad & np.isnan(carbonic)
    for code, mask in carbon_added.items():
        qa.add_flag(flags, mask, code)
    added.update(carbon_added)
    if mc is not None:
        new.update(mc[0])
        added["uncertainty_draws_failed"] = mc[1] > 0
        qa.add_flag(flags, added["uncertainty_draws_failed"], "uncertainty_draws_failed")

    new = {name: (pd.array(col, dtype="string") if name == "phreeqc_message"
                  else np.asarray(col, dtype=float)) for name, col in new.items()}
    kept = _keep_clashing_inputs(out, new)
    if "phreeqc_message" in out.columns:  # speciated before: its intervals go with its results
        stale = [f"{r}{st}" for r in uncertainty_mod.UNCERTAIN_RESULTS
                 for st in uncertainty_mod.STATISTICS]
        out = out.drop(columns=[c for c in stale if c in out.columns and c not in new])
    for name, col in new.items():
        out[name] = col
    out["qa_flags"] = pd.array(flags, dtype="string")

    counts = _flag_counts(flags)
    meta = {
        **eng.describe(),
        "karstsink_version": _karstsink_version(),
        "phreeqc_package_version": _package_version("phreeqc"),
        "input_units": "mmol/L (alkalinity as HCO3- in meq/L); temp in degC",
        "n_rows": int(n),
        "n_computed": int(rows.size - failed_rows.size),
        "n_not_computed": int(n - rows.size + failed_rows.size),
        "n_phreeqc_failed": int(failed_rows.size),
        **run.info,
        "assumptions": {
            **{k: float(v) for k, v in shares.items()},
            "hco3_carbonic": "HCO3_carbonic = HCO3 - 2*SO4_acid - NO3_acid with SO4_acid = "
                             f"{acid_so4_share:g} * (1 - {evaporite_so4_share:g}) * SO4 "
                             "(acid_so4_share of the non-evaporite SO4) and NO3_acid = "
                             f"{acid_no3_share:g} * NO3 (acid_no3_share from nitrification); "
                             "missing SO4 or NO3 gives NaN (karstsink.carbon.carbonic_hco3); "
                             f"{carbon.CENSORED_ACID_ASSUMPTION} (PHREEQC is given the "
                             "below_detection stand-in; where the limit is not known, with "
                             "'zero' or 'nan' or in a table standardised before, the row's "
                             "hco3_carbonic_mmol_l is NaN)",
            "carbon_accounting": carbon.assumptions(**shares, bcp_share=None),
            "alkalinity": "PHREEQC Alkalinity [meq/L] = hco3_mmol_l + 2*co3_mmol_l",
            "phreeqc_units": "SOLUTION units mmol/l, density 1 kg/L, pe 4",
        },
        "thresholds": {"cbe_pct": CBE_LIMIT_PCT, "ionic_strength": IONIC_STRENGTH_LIMIT,
                       "ph_below_carbonate_buffer": carbon.CARBONATE_BUFFER_PH_MIN},
        "dropped_solutes_with_data": dropped_used,
        "column_units": {**RESULT_UNITS, "ca_mg_hco3_molar": "mol/mol",
                         "ca_mg_hco3_so4_eq": "eq/eq", "hco3_carbonic_mmol_l": "mmol/L"},
        "flag_notes": {k: v for k, v in FLAG_NOTES.items() if counts.get(k)},
        "flag_counts": counts,
    }
    if mc is not None:
        meta["uncertainty"] = mc[2]
        units_of = meta["column_units"]
        for r in uncertainty_mod.UNCERTAIN_RESULTS:
            unit = units_of.get(r, units_of["si_*"])  # si_calcite ... share "si_*"
            units_of.update({f"{r}{st}": unit for st in uncertainty_mod.STATISTICS})
    if kept:
        meta["renamed_input_columns"] = kept
    attrs = dict(out.attrs.get("karstsink", {}))
    attrs["speciation"] = meta
    out.attrs["karstsink"] = attrs

    notes = [f"{int(added[c].sum())} row(s) {c}" for c in added if added[c].any()]
    if kept:
        warnings.warn("speciate: input column(s) named like a result are kept, renamed: "
                      + ", ".join(f"{a!r} -> {b!r}" for a, b in kept.items()),
                      DataQualityWarning, stacklevel=2)
    if dropped_used:
        notes.append(f"{eng.database.name} lacks {', '.join(sorted(dropped_used))}, which "
                     "were left out of the speciation")
    if notes:
        hint = " (use database='pitzer.dat')" if added["high_ionic_strength"].any() else ""
        warnings.warn(f"speciate: {'; '.join(notes)}{hint}; see qa_flags and "
                      "phreeqc_message.", DataQualityWarning, stacklevel=2)
    return out


def output_metadata(result: pd.DataFrame, **extra: Any) -> dict[str, Any]:
    """The ``.meta.json`` of a speciated table: ``extra`` (the command, the input...), the
    reader's record under ``samples`` (units, ``below_detection``, column map) and the
    speciation's (engine, database, assumptions, flags...)."""
    return {**extra, "samples": {k: v for k, v in result.attrs.items() if k != "karstsink"},
            **result.attrs.get("karstsink", {})}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _standardize(table: pd.DataFrame, units: Any) -> pd.DataFrame:
    try:
        from ..io.samples import standardize
    except ModuleNotFoundError as err:
        if err.name not in ("karstsink.io", "karstsink.io.samples"):
            raise
        missing = [c for c in REQUIRED_COLUMNS if c not in table.columns]
        raise MissingColumnError(
            f"The table lacks the canonical column(s) {', '.join(missing)} and "
            "karstsink.samples (which reads raw field tables) is not available; pass a "
            "canonical table (temp_c, ph, hco3_mmol_l, ions in mmol/L)."
        ) from err
    return standardize(table, units=units) if units is not None else standardize(table)


def _numeric_inputs(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """Float arrays of every engine input column (NaN where absent or not a number)."""
    out = {}
    for c in INPUT_COLUMNS:
        if c in table.columns:
            out[c] = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float,
                                                                       na_value=np.nan)
        else:
            out[c] = np.full(len(table), np.nan)
    return out


def _keep_clashing_inputs(out: pd.DataFrame, new: Mapping[str, Any]) -> dict[str, str]:
    """Rename input columns named like a result, so that a lab's own values are not lost.

    A lab's ``si_calcite`` becomes ``si_calcite_input`` (``_input2``... if that is
    taken).  A table karstsink speciated before (it has ``phreeqc_message``, which
    only karstsink writes) has its results replaced, as always.  Returns
    ``{old name: new name}``.
    """
    if "phreeqc_message" in out.columns:
        return {}
    kept: dict[str, str] = {}
    for name in new:
        if name not in out.columns:
            continue
        target, k = f"{name}_input", 1
        while target in out.columns or target in new:
            k += 1
            target = f"{name}_input{k}"
        kept[name] = target
    if kept:
        out.columns = [kept.get(c, c) for c in out.columns]
    return kept


def _acid_limit_scales(flags: np.ndarray, attrs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Per acid ion (``so4``, ``no3``), the factor taking each row's value to its detection
    limit where the reader flagged it ``below_detection:<ion>`` (1 elsewhere).

    The reader's ``attrs["below_detection"]`` says what it stood in for a ``'<DL'`` cell.
    A value taken from a canonical column (``so4_mmol_l``: a table standardised before,
    whose flag was kept) or from a table without that record holds a stand-in of
    unknown policy: NaN, so no carbonic HCO3 rather than a wrong one.
    """
    from ..io.headers import KEYS
    from ..io.samples import reporting_limit_scale

    sources = {key: str(col) for col, key in (attrs.get("column_map") or {}).items()}
    out = {}
    for ion in ("so4", "no3"):
        known = "below_detection" in attrs and sources.get(ion) != KEYS[ion][0]
        out[ion] = reporting_limit_scale([f"below_detection:{ion}" in qa.split(f)
                                          for f in flags],
                                         attrs["below_detection"] if known else "nan")
    return out


def _flags_array(table: pd.DataFrame) -> np.ndarray:
    if "qa_flags" not in table.columns:
        return np.full(len(table), "", dtype=object)
    col = table["qa_flags"]
    return np.array(["" if (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)))
                     else str(v) for v in col.tolist()], dtype=object)


def _add_missing_validation_flags(flags: np.ndarray, numbers: dict[str, np.ndarray],
                                  table: pd.DataFrame) -> None:
    """Flag what PHREEQC would silently misread, where the table's own flags do not already.

    A table from :func:`karstsink.samples.standardize` carries these flags
    already, and rows with a fatal flag are left alone; a hand-built canonical
    table may have none, so its rows are checked with the same rules.
    """
    unflagged = ~_fatal_mask(flags)
    for c in INPUT_COLUMNS:
        if c in table.columns and (table[c].dtype == object
                                   or pd.api.types.is_string_dtype(table[c])):
            text = table[c].astype("string").str.strip().fillna("")
            bad = np.isnan(numbers[c]) & (text != "").to_numpy(dtype=bool)
            qa.add_flag(flags, unflagged & bad, f"not_numeric:{_KEY[c]}")
    unflagged = ~_fatal_mask(flags)
    temp, ph, alk = numbers["temp_c"], numbers["ph"], numbers["hco3_mmol_l"]
    with np.errstate(invalid="ignore"):
        checks = [
            (ph == qa.PH_SENTINEL, "sentinel_value:ph"),  # pH 0: 0 written for "not measured"
            (np.isnan(ph), "missing_ph"),
            (np.isnan(temp), "missing_temp"),
            (np.isnan(alk), "missing_alkalinity"),
            ((ph < PH_RANGE[0]) | (ph > PH_RANGE[1]) | np.isinf(ph), "ph_out_of_range"),
            ((temp < TEMP_RANGE_C[0]) | (temp > TEMP_RANGE_C[1]) | np.isinf(temp),
             "temp_out_of_range"),
        ]
        checks += [((numbers[c] < 0) | np.isinf(numbers[c]), f"negative_value:{_KEY[c]}")
                   for c in INPUT_COLUMNS[2:]]
    for mask, code in checks:
        qa.add_flag(flags, unflagged & mask, code)


def _is_fatal(code: str) -> bool:
    return qa.is_fatal(code)


def _fatal_mask(flags: np.ndarray) -> np.ndarray:
    """True where a row's flags include a fatal code (only non-empty rows are parsed)."""
    out = np.zeros(len(flags), dtype=bool)
    for i in np.flatnonzero(flags != ""):
        out[i] = any(_is_fatal(f) for f in qa.split(flags[i]))
    return out


def _computable(table: pd.DataFrame, flags: np.ndarray) -> np.ndarray:
    """Rows that may go to PHREEQC: ``samples.computable`` if present, else the same rule."""
    ours = ~_fatal_mask(flags)
    try:
        from ..io.samples import computable
    except ImportError:  # samples (or its computable()) is not available
        return ours
    flagged = np.flatnonzero(flags != "")  # a row without flags is computable for both
    if flagged.size:
        probe = pd.DataFrame({"qa_flags": pd.array(flags[flagged], dtype="string")})
        theirs = np.asarray(computable(probe), dtype=bool)
        ours[flagged] &= theirs  # never send a row either rule refuses
    return ours


def _flag_counts(flags: np.ndarray) -> dict[str, int]:
    counter: Counter[str] = Counter()
    for i in np.flatnonzero(flags != ""):
        counter.update(qa.split(flags[i]))
    return dict(sorted(counter.items()))


def _karstsink_version() -> str:
    from .. import __version__

    return __version__


@functools.cache
def _package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


__all__ = ["FLAG_NOTES", "REQUIRED_COLUMNS", "SOLUTE_ELEMENTS", "WEATHERING_COLUMNS",
           "output_metadata", "speciate"]
