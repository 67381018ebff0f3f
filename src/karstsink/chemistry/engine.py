"""The PHREEQC engine: backends, batched input, selected-output parsing, workers, isolation.

This module turns a numeric array of water samples (canonical units, see
:data:`INPUT_COLUMNS`) into an array of PHREEQC results (see
:data:`RESULT_COLUMNS`).  It knows nothing about pandas, QA flags or files;
:func:`karstsink.speciate` builds on it.  It holds the engine, its failure
isolation and the worker pool; the input text is written by
:mod:`._engine_input`, selected output and messages are read by
:mod:`._engine_output`, and the two PHREEQC bindings are in :mod:`._engine_backends`.

How it runs PHREEQC (facts measured on IPhreeqc 3.8 by the karstsink developers):

- many ``SOLUTION`` blocks per ``RunString`` (chunks of up to
  :data:`DEFAULT_CHUNK_SIZE` samples, smaller towards the end of a parallel run,
  see :func:`chunk_bounds`; numbered 1..n, no ``END`` between them),
  one ``SELECTED_OUTPUT`` block with only the columns needed and
  ``-high_precision``, results read as one string and parsed with numpy;
- one PHREEQC instance per process; ``jobs > 1`` runs chunks in a process
  pool (:mod:`._engine_pool`) whose workers are started once, each load the
  database once, and are fed chunks in order, a few at a time;
- PHREEQC aborts the rest of a run at the first sample it cannot solve (and
  may leave a garbage row for it): the failing sample is found, flagged with
  PHREEQC's message, and the run resumes after it, so no other sample of the
  chunk is lost;
- every run loads the database with only the ``PHASES`` it reports (PHREEQC
  computes a saturation index for every phase whose elements a solution has,
  8-39 % of its work per sample with the bundled databases, and an initial
  solution's speciation does not depend on them) and only the species of the
  elements a sample can have (another ~8 % with ``phreeqc.dat``).  The engine
  checks on a test sample that the output does not change, and otherwise loads
  less of a reduction or the whole file;
- the ``-999.999`` sentinel PHREEQC prints for an undefined saturation index
  becomes NaN.

PHREEQC keeps some state from one run to the next in an instance (results can
differ in the 13th significant digit depending on what the instance ran
before, even after reloading the database).  Every run therefore gets a fresh
IPhreeqc instance (a few ms, about 1 % of a 2000-sample chunk), so for a
given chunk size ``jobs=2`` gives bit-identical results to ``jobs=1``
(tested).  Within one run PHREEQC starts from the previous solution, so a
sample's result can still differ in the 13th significant digit (PHREEQC's
printed precision, ~1e-12 relative) with the samples run before it in its
chunk: a different chunk size changes results only at that level (tested).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._workers import default_jobs
from ..exceptions import DataError, SpeciationError
from ._engine_backends import BACKENDS, _make_backend
from ._engine_input import (
    _PHASE_CANDIDATES,
    _SPECIES_CANDIDATES,
    INPUT_COLUMNS,
    SOLUTE_ELEMENTS,
    _activity_model,
    _check_inputs,
    _unknown_phases,
    element_of,
    input_text,
    only_elements,
    only_phases,
    probe_input,
    selected_output_block,
)
from ._engine_output import (
    _CONVERGENCE,
    _FAILED_SOLUTION,
    RESULT_COLUMNS,
    RESULT_UNITS,
    SelectedOutputParser,
    _condense,
    _first_error,
    check_phase_columns,
    missing_names,
    phase_column,
)
from ._engine_pool import (
    DEFAULT_CHUNK_SIZE,
    MIN_TAIL_CHUNK,
    LazyPool,
    WorkerPool,
    active_pool,
    chunk_bounds,
    chunk_length,
)
from .database import DEFAULT_DATABASE, DatabaseInfo, resolve_database

# The columns, units and bindings live in _engine_input, _engine_output and _engine_backends;
# they are part of this module's API.
__all__ = [
    "BACKENDS", "DEFAULT_CHUNK_SIZE", "INPUT_COLUMNS", "MIN_TAIL_CHUNK", "RESULT_COLUMNS",
    "RESULT_UNITS", "SOLUTE_ELEMENTS", "ChunkResult", "EngineSpec", "LazyPool", "PhreeqcEngine",
    "RunResult", "WorkerPool", "chunk_bounds", "chunk_length", "default_jobs", "lazy_pool",
    "phase_column", "run_chunks", "worker_pool",
]

#: (database SHA-256, binding, reported phases) -> (the reduced database text, or None
#: where the whole file must be used; whether its species were reduced too), see
#: PhreeqcEngine._reported_phases_only
_REDUCED_DATABASES: dict[tuple[str, str, tuple[str, ...]], tuple[str | None, bool]] = {}


# ---------------------------------------------------------------------------
# One engine: a backend with a database loaded and its names probed.
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class EngineSpec:
    """Everything a worker process needs to rebuild an identical :class:`PhreeqcEngine`."""

    database: str
    engine: str = "phreeqc"
    phases: tuple[str, ...] = ()


@dataclass
class ChunkResult:
    """Results for one chunk of samples.

    Attributes
    ----------
    values : numpy.ndarray
        ``(n, len(columns))`` results; NaN where PHREEQC gave none.
    failed : dict[int, str]
        Row (0-based, within the chunk) -> PHREEQC's error message, for
        samples PHREEQC could not solve (their results are NaN).
    warned : dict[int, str]
        Row -> PHREEQC convergence warning, for samples that were solved but
        only after PHREEQC reported convergence trouble.
    runs : int
        Number of PHREEQC runs it took (1 when nothing failed).
    """

    values: np.ndarray
    failed: dict[int, str] = field(default_factory=dict)
    warned: dict[int, str] = field(default_factory=dict)
    runs: int = 0


class PhreeqcEngine:
    """One PHREEQC instance with a database loaded, ready to speciate arrays of samples.

    Parameters
    ----------
    database : str or path-like, default "phreeqc.dat"
        A database bundled with the ``phreeqc`` package (``phreeqc.dat``,
        ``wateq4f.dat``, ``llnl.dat``, ``minteq.v4.dat``, ``pitzer.dat`` ...)
        or a path to a database file.
    engine : {"phreeqc", "phreeqpy"}, default "phreeqc"
        The binding: the PyPI ``phreeqc`` package (IPhreeqc 3.8) or the
        optional ``phreeqpy`` (IPhreeqc 3.7.3; cannot load the 2024
        ``phreeqc.dat``).
    phases : sequence of str
        Extra phases whose saturation index to report as ``si_<phase>`` (e.g.
        ``Fluorite``, or a gas phase such as ``CO2(g)``, whose SI is log10 of its
        partial pressure in atm: ``si_co2_g`` equals ``log_pco2``).  A phase
        whose column is a standard one (``Calcite``: ``si_calcite``) adds none.

    Raises
    ------
    SpeciationError
        If the database does not load, a requested phase is not in it, or
        the engine name is unknown.
    ImportError
        If ``engine="phreeqpy"`` and phreeqpy is not installed.

    Notes
    -----
    One instance must only ever be used by one thread: IPhreeqc instances
    are not thread safe (a shared instance crashes or returns wrong rows).
    Use :func:`run_chunks` for parallel work.
    """

    def __init__(self, database: str | os.PathLike = DEFAULT_DATABASE, engine: str = "phreeqc",
                 phases: Sequence[str] = ()) -> None:
        self.database: DatabaseInfo = resolve_database(
            database if isinstance(database, str) else Path(database))
        self.engine = engine
        self._backend = _make_backend(engine)
        nerr = self._backend.load_database(self.database.path)
        if nerr:
            first = _first_error(self._backend.errors())
            hint = ""
            if engine == "phreeqpy":
                hint = (" phreeqpy ships IPhreeqc 3.7.3, which cannot read newer database files"
                        " such as the 2024 phreeqc.dat: use database='wateq4f.dat' (or llnl.dat,"
                        " minteq.v4.dat) with the phreeqpy engine, or the default engine"
                        " 'phreeqc'.")
            raise SpeciationError(
                f"PHREEQC ({engine}) could not load the database {self.database.name} "
                f"({self.database.path}): {nerr} error(s), first: {first}.{hint}"
            )
        self.version = self._backend.version()
        #: "pitzer", "sit" or "ion-association" (Debye-Hückel type), from the keywords
        self.activity_model = _activity_model(self.database)
        self._probe(tuple(dict.fromkeys(phases)))
        #: the database text every run loads: only the reported phases, and if it passes
        #: the check only the species of the solutes' elements (None: the whole file)
        self._db_text, self._species_reduced = self._reported_phases_only()

    # -- what the database offers -------------------------------------------------------

    def _probe(self, phases: tuple[str, ...]) -> None:
        """Find which elements, species and phases this database knows (one tiny run)."""
        nerr = self._backend.run(probe_input(phases))
        if nerr:
            raise SpeciationError(
                f"PHREEQC could not run a test solution with {self.database.name}: "
                f"{_first_error(self._backend.errors())}."
            )
        missing_species, missing_phases, missing_elements = missing_names(
            self._backend.warnings())
        if "Alkalinity" in missing_elements or "HCO3-" in missing_species:
            raise SpeciationError(
                f"The database {self.database.name} has no inorganic carbon (C(4), "
                "Alkalinity, HCO3-), so it cannot speciate the carbonate system: use "
                "phreeqc.dat (the default), wateq4f.dat or pitzer.dat.")

        #: canonical solute column -> element, for the elements the database knows
        self.elements = {c: e for c, e in SOLUTE_ELEMENTS.items() if e not in missing_elements}
        #: canonical solute column -> reason, for solutes this database cannot take
        self.dropped = {c: f"{e} is not an element of {self.database.name}"
                        for c, e in SOLUTE_ELEMENTS.items() if e in missing_elements}
        self.species: dict[str, str | None] = {
            key: next((s for s in cands if s not in missing_species), None)
            for key, cands in _SPECIES_CANDIDATES.items()}
        self.standard_phases: dict[str, str | None] = {
            key: next((p for p in cands if p not in missing_phases), None)
            for key, cands in _PHASE_CANDIDATES.items()}
        unknown = [p for p in phases if p in missing_phases]
        if unknown:
            raise SpeciationError(_unknown_phases(unknown, self.database))
        # a phase asked for gets its si_<phase> column unless a standard column has that
        # name already: Calcite is si_calcite, but CO2(g) (reported as log_pco2) also gives
        # si_co2_g, the column asked for, rather than being dropped
        self.extra_phases = tuple(p for p in phases if phase_column(p) not in RESULT_COLUMNS)
        check_phase_columns(self.extra_phases)
        #: output columns, in order
        self.columns = RESULT_COLUMNS + tuple(phase_column(p) for p in self.extra_phases)
        self._reported_phases = list(dict.fromkeys(
            [p for p in self.standard_phases.values() if p] + list(self.extra_phases)))
        self._selected_output = selected_output_block(
            [s for s in self.species.values() if s], self._reported_phases)
        self._output = SelectedOutputParser(self.species, self.standard_phases,
                                            self.extra_phases, self.columns)

    def _reported_phases_only(self) -> tuple[str | None, bool]:
        """The reduced database text, if a test sample gives the same output (None: whole file).

        Two reductions are tried, the smaller first: only the reported PHASES and only
        the species of the elements the engine can give a solution (its solutes and C,
        see :func:`._engine_input.only_elements`); then only the reported PHASES.  The
        test sample has every solute the database knows.  Its selected output (every
        reported number, to 12 significant digits) must be the same string with the
        whole database and with the reduced one, each in a fresh instance; the first
        reduction that passes is used, else the whole file.  The answer depends only on
        the file's contents, the binding and the phases, so a process (and the workers
        it forks) checks each combination once.
        """
        key = (self.database.sha256, self.engine, tuple(self._reported_phases))
        if key not in _REDUCED_DATABASES:
            _REDUCED_DATABASES[key] = self._check_reduced_database()
        return _REDUCED_DATABASES[key]

    def _check_reduced_database(self) -> tuple[str | None, bool]:
        test = np.full((1, len(INPUT_COLUMNS)), 0.1)
        test[0, :4] = (15.0, 7.5, 3.0, np.nan)  # °C, pH, HCO3- and CO3-2 [mmol/L]
        text = self.input_text(test)
        if self._backend.renew(self.database.path, None) or self._backend.run(text):
            return None, False
        whole = self._backend.selected_output()
        phases = only_phases(self.database.text(), self._reported_phases)
        smallest = only_elements(phases, self._loaded_elements())
        for db_text, species_reduced in ((smallest, True), (phases, False)):
            if (not self._backend.renew(self.database.path, db_text)
                    and not self._backend.run(text)
                    and self._backend.selected_output() == whole):
                return db_text, species_reduced
        return None, False

    def _loaded_elements(self) -> list[str]:
        """Elements a solution can have: carbon and the solutes' (redox states merged)."""
        return sorted({"C", *(element_of(e) for e in self.elements.values())})

    def describe(self) -> dict[str, Any]:
        """Provenance of this engine: backend, versions, database and the names used."""
        return {
            "engine": self.engine,
            "engine_version": self.version,
            "database": self.database.as_dict(),
            "activity_model": self.activity_model,
            "species_used": {k: v for k, v in self.species.items()},
            "phases_used": {k: v for k, v in self.standard_phases.items()},
            "extra_phases": list(self.extra_phases),
            # PHASES loaded: only the reported ones (same results, checked), or the whole file
            "phases_loaded": list(self._reported_phases) if self._db_text else "all",
            # elements whose species are loaded (same results, checked), or all of them
            "species_of_elements": self._loaded_elements() if self._species_reduced else "all",
            "dropped_solutes": dict(self.dropped),
        }

    @property
    def spec(self) -> EngineSpec:
        """A picklable description for rebuilding this engine in a worker process."""
        return EngineSpec(str(self.database.path), self.engine, self.extra_phases)

    # -- building input and reading output --------------------------------------------------

    def input_text(self, values: np.ndarray, start: int = 0, stop: int | None = None) -> str:
        """PHREEQC input for rows ``start:stop`` of ``values`` (numbered row index + 1).

        Parameters
        ----------
        values : numpy.ndarray
            ``(n, len(INPUT_COLUMNS))`` float array in canonical units; NaN
            entries are left out of the ``SOLUTION`` block.
        start, stop : int
            The rows to write (``stop`` None: to the end); solution numbers stay the
            rows' own (``start + 1`` ...).
        """
        return input_text(values, start, stop, self.elements, self._selected_output)

    # -- running, with failures isolated --------------------------------------------------------

    def _run(self, values: np.ndarray, lo: int, hi: int) -> tuple[int, np.ndarray, np.ndarray]:
        # PHREEQC carries state from one run to the next (results can differ in the 13th
        # digit with the instance's history): every run gets a fresh instance (a few ms)
        nerr_db = self._backend.renew(self.database.path, self._db_text)
        if nerr_db:  # pragma: no cover - the same database loaded in __init__
            raise SpeciationError(f"PHREEQC could not reload {self.database.name}")
        nerr = self._backend.run(self.input_text(values, lo, hi))
        nums, res = self._output.parse(self._backend.selected_output())
        return nerr, nums, res

    def run_array(self, values: np.ndarray) -> ChunkResult:
        """Speciate every row of ``values`` (see :meth:`input_text`); isolate failing rows.

        Returns
        -------
        ChunkResult
            Results in :attr:`columns` order, plus the rows PHREEQC failed on
            (with its message) and rows solved with convergence warnings.
        """
        values = np.ascontiguousarray(values, dtype=float)
        n = len(values)
        result = ChunkResult(np.full((n, len(self.columns)), np.nan))
        self._run_range(values, 0, n, result)
        return result

    def _store(self, result: ChunkResult, nums: np.ndarray, res: np.ndarray,
               lo: int, hi: int) -> None:
        rows = nums - 1
        keep = (rows >= lo) & (rows < hi)
        result.values[rows[keep]] = res[keep]

    def _run_range(self, values: np.ndarray, lo: int, hi: int, result: ChunkResult) -> None:
        while lo < hi:
            nerr, nums, res = self._run(values, lo, hi)
            result.runs += 1
            if nerr == 0:
                self._store(result, nums, res, lo, hi)
                solved = set((nums - 1).tolist())
                for row in range(lo, hi):  # should not happen; never let a row pass silently
                    if row not in solved:
                        result.failed[row] = "PHREEQC returned no result for this sample"
                text = self._backend.warnings()
                if _CONVERGENCE.search(text):
                    self._locate_warnings(values, lo, hi, text, result)
                return
            errors = self._backend.errors()
            warnings_text = self._backend.warnings()
            named = [int(m) - 1 for m in _FAILED_SOLUTION.findall(errors)]
            done = set((nums - 1).tolist())
            if named:
                bad = named[0]
            else:  # aborted before printing the failing sample: the first one without a row
                bad = next((r for r in range(lo, hi) if r not in done), hi)
            if not lo <= bad < hi:
                raise SpeciationError(
                    f"PHREEQC failed in a way karstsink cannot attribute to a sample: "
                    f"{_first_error(errors)}"
                )
            self._store(result, nums, res, lo, bad)  # rows before the failure are good
            result.failed[bad] = _condense(errors)
            if bad > lo and _CONVERGENCE.search(warnings_text):
                # the warnings may also come from good samples before the failing one
                nerr2, _, _ = self._run(values, lo, bad)
                result.runs += 1
                text = self._backend.warnings()
                if nerr2 == 0 and _CONVERGENCE.search(text):
                    self._locate_warnings(values, lo, bad, text, result)
            lo = bad + 1

    def _locate_warnings(self, values: np.ndarray, lo: int, hi: int, text: str,
                         result: ChunkResult) -> None:
        """Bisect ``lo:hi`` (ran without errors, warned ``text``) down to the rows that warn."""
        if hi - lo == 1:
            result.warned[lo] = _condense(text)
            return
        mid = (lo + hi) // 2
        for a, b in ((lo, mid), (mid, hi)):
            self._run(values, a, b)
            result.runs += 1
            sub = self._backend.warnings()
            if _CONVERGENCE.search(sub):
                self._locate_warnings(values, a, b, sub, result)


# ---------------------------------------------------------------------------
# Many chunks, in one process or in a pool of workers.
# ---------------------------------------------------------------------------

_WORKER: PhreeqcEngine | None = None


def _worker_init(spec: EngineSpec) -> None:
    global _WORKER
    _WORKER = PhreeqcEngine(spec.database, spec.engine, spec.phases)


def _worker_run(values: np.ndarray) -> ChunkResult:
    if _WORKER is None:  # pragma: no cover - the initializer always runs first
        raise SpeciationError("worker process has no PHREEQC engine")
    return _WORKER.run_array(values)


def worker_pool(engine: PhreeqcEngine, jobs: int | None = None) -> WorkerPool:
    """Start ``jobs`` worker processes (default: all cores), each with a copy of ``engine``.

    Use it as ``with worker_pool(engine, jobs):``: inside the block every
    :func:`run_chunks` (and :func:`karstsink.speciate`) call with the same
    database, engine, phases and ``jobs`` runs on these workers, started once.
    """
    return WorkerPool(engine.spec, default_jobs() if jobs is None else int(jobs), _worker_init)


def lazy_pool(engine: PhreeqcEngine, jobs: int | None = None) -> LazyPool:
    """A pool started only when a run needs more than one chunk (see :class:`LazyPool`)."""
    return LazyPool(engine.spec, default_jobs() if jobs is None else int(jobs), _worker_init)


@dataclass
class RunResult:
    """Results of :func:`run_chunks` for all samples.

    ``values`` is ``(n, len(columns))``; ``failed`` and ``warned`` map the
    row index (0-based, in the input array) to PHREEQC's message.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    failed: dict[int, str]
    warned: dict[int, str]
    info: dict[str, Any]


def run_chunks(values: np.ndarray, engine: PhreeqcEngine, *, jobs: int | None = None,
               chunk_size: int | None = None,
               progress: Callable[[int], Any] | None = None,
               pool: WorkerPool | LazyPool | None = None) -> RunResult:
    """Speciate ``values`` in chunks, in this process or in a pool of worker processes.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, len(INPUT_COLUMNS))`` samples in canonical units (NaN = not given).
    engine : PhreeqcEngine
        The engine for this process; workers rebuild an identical one.
    jobs : int, optional
        Worker processes; ``None`` = all cores, ``1`` = this process, no pool.
    chunk_size : int, optional
        Samples per PHREEQC run (default: see :func:`chunk_length`).  Results
        change with it only in the 13th significant digit (see the module notes).
    progress : callable, optional
        Called with the number of samples finished after every chunk.
    pool : WorkerPool or LazyPool, optional
        Workers to run on.  Default: an active pool (``with worker_pool(...)``)
        of the same engine and ``jobs``, else a pool started for this call.
        A run of one chunk always runs in this process.
    """
    values = np.ascontiguousarray(values, dtype=float)
    n = len(values)
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise DataError(f"jobs must be >= 1, got {jobs!r}")
    _check_inputs(values)
    bounds = chunk_bounds(n, jobs, chunk_size)
    workers = min(jobs, len(bounds))
    method = None
    out = np.full((n, len(engine.columns)), np.nan)
    failed: dict[int, str] = {}
    warned: dict[int, str] = {}
    runs = 0

    def collect(a: int, res: ChunkResult) -> None:
        nonlocal runs
        out[a:a + len(res.values)] = res.values
        failed.update({a + k: v for k, v in res.failed.items()})
        warned.update({a + k: v for k, v in res.warned.items()})
        runs += res.runs
        if progress is not None:
            progress(len(res.values))

    if workers <= 1:
        for a, b in bounds:
            collect(a, engine.run_array(values[a:b]))
    else:
        own = None
        if pool is None:
            pool = active_pool(engine.spec, jobs)
            if pool is None:
                own = pool = WorkerPool(engine.spec, jobs, _worker_init)
        try:
            workers_pool = pool.get()
            method = workers_pool.start_method
            results = workers_pool.imap(_worker_run, ((values[a:b],) for a, b in bounds))
            for (a, _), res in zip(bounds, results, strict=True):
                collect(a, res)
        finally:
            if own is not None:
                own.close()
    info = {
        "chunk_size": max((b - a for a, b in bounds), default=0),
        "n_chunks": len(bounds),
        "jobs": max(1, workers),
        "phreeqc_runs": runs,
        "start_method": method,
    }
    return RunResult(out, engine.columns, failed, warned, info)
