"""The PHREEQC engine: backends, batched input, selected-output parsing, workers, isolation.

This module turns a numeric array of water samples (canonical units, see
:data:`INPUT_COLUMNS`) into an array of PHREEQC results (see
:data:`RESULT_COLUMNS`).  It knows nothing about pandas, QA flags or files;
:func:`karstsink.speciate` builds on it.

How it runs PHREEQC (measured facts in ``design.md``, "The PHREEQC engine"):

- many ``SOLUTION`` blocks per ``RunString`` (chunks of
  :data:`DEFAULT_CHUNK_SIZE` samples, numbered 1..n, no ``END`` between them),
  one ``SELECTED_OUTPUT`` block with only the columns needed and
  ``-high_precision``, results read as one string and parsed with numpy;
- one PHREEQC instance per process; ``jobs > 1`` runs chunks in a process
  pool whose workers each load the database once;
- PHREEQC aborts the rest of a run at the first sample it cannot solve (and
  may leave a garbage row for it): the failing sample is found, flagged with
  PHREEQC's message, and the run resumes after it, so no other sample of the
  chunk is lost;
- the ``-999.999`` sentinel PHREEQC prints for an undefined saturation index
  becomes NaN.

PHREEQC keeps some state from one run to the next in an instance (results can
differ in the 13th significant digit depending on what the instance ran
before, even after reloading the database).  Every run therefore gets a fresh
IPhreeqc instance (about 6 ms, under 1 % of a 2000-sample chunk), so for a
given chunk size ``jobs=2`` gives bit-identical results to ``jobs=1``
(tested).  Within one run PHREEQC starts from the previous solution, so a
sample's result can still differ in the 13th significant digit (PHREEQC's
printed precision, ~1e-12 relative) with the samples run before it in its
chunk: a different chunk size changes results only at that level (tested).
"""

from __future__ import annotations

import concurrent.futures
import difflib
import math
import multiprocessing
import os
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import SpeciationError
from .database import DEFAULT_DATABASE, DatabaseInfo, resolve_database

#: Canonical solute column [mmol L⁻¹] -> PHREEQC element (redox state) in ``SOLUTION``.
#: Sulfate is S(6), nitrate N(5), ammonium N(-3), nitrite N(3), phosphate P, silica Si.
SOLUTE_ELEMENTS: dict[str, str] = {
    "ca_mmol_l": "Ca",
    "mg_mmol_l": "Mg",
    "na_mmol_l": "Na",
    "k_mmol_l": "K",
    "cl_mmol_l": "Cl",
    "so4_mmol_l": "S(6)",
    "no3_mmol_l": "N(5)",
    "nh4_mmol_l": "N(-3)",
    "no2_mmol_l": "N(3)",
    "f_mmol_l": "F",
    "po4_mmol_l": "P",
    "sio2_mmol_l": "Si",
    "sr_mmol_l": "Sr",
    "fe_mmol_l": "Fe",
    "mn_mmol_l": "Mn",
    "ba_mmol_l": "Ba",
}

#: Columns of the input array, in order: temperature [°C], pH [-], alkalinity as
#: HCO3⁻ [mmol L⁻¹ = meq L⁻¹], carbonate CO3²⁻ [mmol L⁻¹] (optional, NaN if not
#: measured), then the solutes of :data:`SOLUTE_ELEMENTS` [mmol L⁻¹].  NaN = not given.
INPUT_COLUMNS: tuple[str, ...] = ("temp_c", "ph", "hco3_mmol_l", "co3_mmol_l",
                                  *SOLUTE_ELEMENTS)

#: Result columns always returned, in order.  SI are log10(IAP/K) [-];
#: ``log_pco2`` is SI of CO2(g) = log10 pCO2 [atm]; totals and molalities in
#: [mmol kgw⁻¹]; ionic strength [mol kgw⁻¹]; ``cbe_pct`` is PHREEQC's percent
#: error 100 (cations - |anions|) / (cations + |anions|) [%].
RESULT_COLUMNS: tuple[str, ...] = (
    "si_calcite", "si_dolomite", "si_gypsum", "log_pco2", "dic_mmol_kgw", "hco3_mmol_kgw",
    "co3_mmol_kgw", "co2aq_mmol_kgw", "ionic_strength", "cbe_pct",
)

#: Units of the result columns, for metadata files.
RESULT_UNITS: dict[str, str] = {
    "si_*": "log10(IAP/K), dimensionless",
    "log_pco2": "log10(pCO2 / 1 atm) (SI of CO2(g))",
    "dic_mmol_kgw": "mmol/kgw (PHREEQC total C(4))",
    "hco3_mmol_kgw": "mmol/kgw (molality of free HCO3-)",
    "co3_mmol_kgw": "mmol/kgw (molality of free CO3-2)",
    "co2aq_mmol_kgw": "mmol/kgw (molality of dissolved CO2)",
    "ionic_strength": "mol/kgw",
    "cbe_pct": "% (PHREEQC percent error)",
}

DEFAULT_CHUNK_SIZE = 2000
BACKENDS = ("phreeqc", "phreeqpy")

# Databases name the same thing differently: the first candidate found is used.
_SPECIES_CANDIDATES: dict[str, tuple[str, ...]] = {
    "hco3": ("HCO3-",),
    "co3": ("CO3-2", "CO3--"),
    "co2aq": ("CO2", "H2CO3", "CO2(aq)", "H2CO3*"),
}
_PHASE_CANDIDATES: dict[str, tuple[str, ...]] = {
    "calcite": ("Calcite",),
    "dolomite": ("Dolomite", "Dolomite(ordered)", "Dolomite-ord"),
    "gypsum": ("Gypsum",),
    "co2": ("CO2(g)",),
}
_SENTINEL = -999.0  # PHREEQC prints -999.999 for an SI it cannot compute
_CONVERGENCE = re.compile(r"converge|Maximum iterations", re.IGNORECASE)
_FAILED_SOLUTION = re.compile(r"initial solution\s+(\d+)")


def phase_column(phase: str) -> str:
    """Output column name for the SI of ``phase`` (``Fe(OH)3(a)`` -> ``si_fe_oh_3_a``)."""
    return "si_" + re.sub(r"[^0-9a-z]+", "_", phase.lower()).strip("_")


# ---------------------------------------------------------------------------
# Backends: the smallest interface both bindings offer.
# ---------------------------------------------------------------------------


class _PhreeqcBackend:
    """The PyPI ``phreeqc`` package (IPhreeqc 3.8, bundled databases): the default."""

    name = "phreeqc"

    def __init__(self) -> None:
        import phreeqc

        self._p = phreeqc.Phreeqc()

    @staticmethod
    def version() -> str:
        import phreeqc

        return str(phreeqc.Phreeqc.GetVersionString())

    def load_database(self, path: Path) -> int:
        nerr = int(self._p.LoadDatabase(str(path)))
        self._p.SetSelectedOutputStringOn(True)  # loading a database resets this switch
        return nerr

    def renew(self, path: Path) -> int:
        """Replace the instance by a fresh one with the database loaded."""
        import phreeqc

        self._p = phreeqc.Phreeqc()
        return self.load_database(path)

    def run(self, text: str) -> int:
        return int(self._p.RunString(text))

    def selected_output(self) -> str:
        return self._p.GetSelectedOutputString()

    def errors(self) -> str:
        return self._p.GetErrorString()

    def warnings(self) -> str:
        return self._p.GetWarningString()


class _PhreeqpyBackend:
    """``phreeqpy`` (ctypes over the IPhreeqc 3.7.3 shared library it ships).

    phreeqpy's Python wrapper reads results cell by cell and raises on any
    PHREEQC error; the library underneath has the same C API as IPhreeqc 3.8,
    so the few functions needed are bound here directly on phreeqpy's library.
    """

    name = "phreeqpy"

    def __init__(self) -> None:
        try:
            from phreeqpy.iphreeqc import phreeqc_dll
        except ImportError as err:
            raise ImportError(
                "The phreeqpy engine needs the optional package phreeqpy: "
                "pip install 'karstsink[phreeqpy]' (or use engine='phreeqc')."
            ) from err
        import ctypes

        self._ip = phreeqc_dll.IPhreeqc()  # loads the library and creates an instance
        lib = self._library_path(phreeqc_dll)
        self._lib = ctypes.cdll.LoadLibrary(str(lib))  # same handle phreeqpy opened
        c_int, c_char_p = ctypes.c_int, ctypes.c_char_p
        for fname, argtypes, restype in (
            ("RunString", [c_int, c_char_p], c_int),
            ("LoadDatabase", [c_int, c_char_p], c_int),
            ("SetSelectedOutputStringOn", [c_int, c_int], c_int),
            ("GetSelectedOutputString", [c_int], c_char_p),
            ("GetErrorString", [c_int], c_char_p),
            ("GetWarningString", [c_int], c_char_p),
            ("GetVersionString", [], c_char_p),
            ("CreateIPhreeqc", [], c_int),
            ("DestroyIPhreeqc", [c_int], c_int),
        ):
            fn = getattr(self._lib, fname)
            fn.argtypes, fn.restype = argtypes, restype
        self._id = self._ip.id_

    @staticmethod
    def _library_path(phreeqc_dll: Any) -> Path:
        folder = Path(phreeqc_dll.__file__).parent / "phreeqc3"
        if sys.platform == "win32":
            name = "IPhreeqc-3.7.3.dll"
        elif sys.platform == "darwin":
            name = ("libiphreeqc-3.7.3-m1.dylib" if os.uname().machine == "arm64"
                    else "libiphreeqc-3.7.3.dylib")
        elif os.uname().machine in ("arm64", "aarch64"):
            name = "linux_arm_libiphreeqc-3.7.3.so"
        else:
            name = "libiphreeqc-3.7.3.so"
        return folder / name

    def version(self) -> str:
        return self._lib.GetVersionString().decode()

    def load_database(self, path: Path) -> int:
        nerr = int(self._lib.LoadDatabase(self._id, str(path).encode("utf-8")))
        self._lib.SetSelectedOutputStringOn(self._id, 1)  # loading a database resets it
        return nerr

    def renew(self, path: Path) -> int:
        """Replace the instance by a fresh one with the database loaded."""
        new = int(self._lib.CreateIPhreeqc())
        if new < 0:
            raise SpeciationError("phreeqpy: IPhreeqc could not create an instance")
        self._lib.DestroyIPhreeqc(self._id)
        self._id = new
        return self.load_database(path)

    def run(self, text: str) -> int:
        return int(self._lib.RunString(self._id, text.encode("utf-8")))

    def _text(self, fn: Callable[[int], bytes | None]) -> str:
        raw = fn(self._id)
        return raw.decode("utf-8", "replace") if raw else ""

    def selected_output(self) -> str:
        return self._text(self._lib.GetSelectedOutputString)

    def errors(self) -> str:
        return self._text(self._lib.GetErrorString)

    def warnings(self) -> str:
        return self._text(self._lib.GetWarningString)


def _make_backend(engine: str) -> _PhreeqcBackend | _PhreeqpyBackend:
    if engine == "phreeqc":
        return _PhreeqcBackend()
    if engine == "phreeqpy":
        return _PhreeqpyBackend()
    raise SpeciationError(f"Unknown PHREEQC engine {engine!r}; use one of {', '.join(BACKENDS)}.")


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
        Extra phases whose saturation index to report (e.g. ``Fluorite``).

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
    are not thread safe (design.md).  Use :func:`run_chunks` for parallel work.
    """

    def __init__(self, database: str | os.PathLike = DEFAULT_DATABASE, engine: str = "phreeqc",
                 phases: Sequence[str] = ()) -> None:
        self.database: DatabaseInfo = resolve_database(database)
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
        self._header_cache: dict[str, np.ndarray] = {}

    # -- what the database offers -------------------------------------------------------

    def _probe(self, phases: tuple[str, ...]) -> None:
        """Find which elements, species and phases this database knows (one tiny run)."""
        lines = ["SOLUTION 1", " temp 25", " pH 7", " units mmol/l", " Alkalinity 1"]
        lines += [f" {el} 1e-6" for el in SOLUTE_ELEMENTS.values()]
        species = sorted({s for c in _SPECIES_CANDIDATES.values() for s in c})
        all_phases = list(dict.fromkeys(
            [p for c in _PHASE_CANDIDATES.values() for p in c] + list(phases)))
        lines += ["SELECTED_OUTPUT 1", " -reset false", " -molalities " + " ".join(species),
                  " -saturation_indices " + " ".join(all_phases), "END"]
        nerr = self._backend.run("\n".join(lines) + "\n")
        if nerr:
            raise SpeciationError(
                f"PHREEQC could not run a test solution with {self.database.name}: "
                f"{_first_error(self._backend.errors())}."
            )
        warn = self._backend.warnings()
        missing_species = set(re.findall(r"Did not find species, (\S+?)\.?\s*$", warn, re.M))
        missing_phases = set(re.findall(r"Did not find phase, (\S+?)\.?\s*$", warn, re.M))
        missing_elements = set(
            re.findall(r"Could not find element in database, (\S+?)\.?\s*$", warn, re.M))

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
            known = _database_phases(self.database)
            hints = []
            for p in unknown:
                close = difflib.get_close_matches(p, known, n=3, cutoff=0.6)
                hints.append(f"{p!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
            raise SpeciationError(
                f"Phase(s) {', '.join(hints)} not found in {self.database.name}; "
                f"phase names are case-sensitive, as written in the database's PHASES block."
            )
        standard = {p for p in self.standard_phases.values() if p}
        self.extra_phases = tuple(p for p in phases if p not in standard)
        #: output columns, in order
        self.columns = RESULT_COLUMNS + tuple(phase_column(p) for p in self.extra_phases)
        self._selected_output = self._selected_output_block()

    def _selected_output_block(self) -> str:
        sp = [s for s in self.species.values() if s]
        ph = [p for p in self.standard_phases.values() if p] + list(self.extra_phases)
        lines = ["SELECTED_OUTPUT 1", " -reset false", " -high_precision true",
                 " -solution true", " -ionic_strength true", " -percent_error true",
                 " -totals C(4)"]
        if sp:
            lines.append(" -molalities " + " ".join(sp))
        lines.append(" -saturation_indices " + " ".join(ph))
        return "\n".join(lines) + "\nEND\n"

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
        """
        stop = len(values) if stop is None else stop
        block = values[start:stop]
        ncol = len(INPUT_COLUMNS)
        if block.ndim != 2 or block.shape[1] != ncol:
            raise ValueError(f"values must have shape (n, {ncol}), got {values.shape}")
        # Alkalinity [meq/L] = HCO3- [mmol/L] + 2 CO3-2 [mmol/L] when carbonate was measured.
        alk = block[:, 2] + 2.0 * np.nan_to_num(block[:, 3], nan=0.0)
        fields: list[tuple[str, np.ndarray]] = [(" temp ", block[:, 0]), (" pH ", block[:, 1])]
        for j, col in enumerate(INPUT_COLUMNS[4:], start=4):
            el = self.elements.get(col)
            if el is not None:
                fields.append((f" {el} ", block[:, j]))
        fields.append((" Alkalinity ", alk))
        # Per field: a list of strings ("" where NaN), then zip rows together.
        formatted = []
        for label, col in fields:
            ok = np.isfinite(col)
            formatted.append([f"{label}{v!r}\n" if k else "" for v, k in
                              zip(col.tolist(), ok.tolist(), strict=True)])
        parts = []
        for i, row in enumerate(zip(*formatted, strict=True)):
            parts.append(f"SOLUTION {start + i + 1}\n units mmol/l\n")
            parts.append("".join(row))
        parts.append(self._selected_output)
        return "".join(parts)

    def _parse(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Parse a selected-output string into (solution numbers, results in :attr:`columns`)."""
        header, _, body = text.partition("\n")
        names = header.split()
        ncol = len(self.columns)
        if not names:
            return np.empty(0, dtype=np.int64), np.empty((0, ncol))
        index = self._header_cache.get(header)
        if index is None:
            index = self._column_index(names)
            self._header_cache[header] = index
        flat = np.array(body.split(), dtype=float)
        raw = flat.reshape(-1, len(names))
        out = np.full((raw.shape[0], ncol), np.nan)
        have = index >= 0
        out[:, have] = raw[:, index[have]]
        out[out <= _SENTINEL] = np.nan  # -999.999: SI undefined (a component is missing)
        # molalities / totals [mol/kgw] -> [mmol/kgw]
        out[:, 4:8] *= 1000.0
        return raw[:, 0].astype(np.int64), out

    def _column_index(self, names: list[str]) -> np.ndarray:
        pos = {n: i for i, n in enumerate(names)}

        def find(name: str | None) -> int:
            return pos.get(name, -1) if name else -1

        sp, ph = self.species, self.standard_phases
        wanted = [
            find(f"si_{ph['calcite']}" if ph["calcite"] else None),
            find(f"si_{ph['dolomite']}" if ph["dolomite"] else None),
            find(f"si_{ph['gypsum']}" if ph["gypsum"] else None),
            find(f"si_{ph['co2']}" if ph["co2"] else None),
            find("C(4)"),
            find(f"m_{sp['hco3']}" if sp["hco3"] else None),
            find(f"m_{sp['co3']}" if sp["co3"] else None),
            find(f"m_{sp['co2aq']}" if sp["co2aq"] else None),
            find("mu"),
            find("pct_err"),
            *(find(f"si_{p}") for p in self.extra_phases),
        ]
        if names[0] != "soln" or wanted[4] < 0 or wanted[8] < 0:
            raise SpeciationError(f"Unexpected PHREEQC selected output header: {names}")
        return np.array(wanted, dtype=np.int64)

    # -- running, with failures isolated --------------------------------------------------------

    def _run(self, values: np.ndarray, lo: int, hi: int) -> tuple[int, np.ndarray, np.ndarray]:
        # PHREEQC carries state from one run to the next (results can differ in the 13th
        # digit with the instance's history): every run gets a fresh instance (~6 ms)
        nerr_db = self._backend.renew(self.database.path)
        if nerr_db:  # pragma: no cover - the same file loaded in __init__
            raise SpeciationError(f"PHREEQC could not reload {self.database.name}")
        nerr = self._backend.run(self.input_text(values, lo, hi))
        nums, res = self._parse(self._backend.selected_output())
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


def _first_error(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("ERROR:").strip().rstrip(".")
    return "no message"


def _condense(text: str, limit: int = 300) -> str:
    """PHREEQC's multi-line message as one line (without the ERROR:/WARNING: prefixes)."""
    seen: list[str] = []
    for line in text.splitlines():
        line = re.sub(r"^(ERROR|WARNING):\s*", "", line.strip())
        line = re.sub(r"\s+", " ", line)
        # solution numbers are internal to a chunk and mean nothing to the user
        line = re.sub(r" for initial solution \d+", "", line)
        if line and line not in seen:
            seen.append(line)
    out = "; ".join(seen)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def _activity_model(db: DatabaseInfo) -> str:
    """``pitzer`` or ``sit`` if the database has that keyword block, else ``ion-association``."""
    for line in db.text().splitlines():
        word = line.split("#", 1)[0].strip().upper()
        if word in ("PITZER", "SIT"):
            return word.lower()
    return "ion-association"


def _database_phases(db: DatabaseInfo) -> list[str]:
    """Phase names defined in a database's PHASES block(s) (for 'did you mean' hints)."""
    names, in_phases = [], False
    for line in db.text().splitlines():
        stripped = line.split("#", 1)[0].rstrip()
        if not stripped:
            continue
        if not line[0].isspace():
            word = stripped.split()[0]
            if word.isupper() and word.replace("_", "").isalpha():
                in_phases = word == "PHASES"
                continue
            if in_phases:
                names.append(word)
    return names


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


def default_jobs() -> int:
    """Number of CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _mp_context() -> multiprocessing.context.BaseContext:
    """``fork`` where it is safe (Linux, one thread), else ``forkserver`` or ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


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
               progress: Callable[[int], Any] | None = None) -> RunResult:
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
        Samples per PHREEQC run (default: :data:`DEFAULT_CHUNK_SIZE`, or fewer,
        down to 500, so that every worker gets at least two chunks).  Results
        change with it only in the 13th significant digit (see the module notes).
    progress : callable, optional
        Called with the number of samples finished after every chunk.
    """
    values = np.ascontiguousarray(values, dtype=float)
    n = len(values)
    jobs = default_jobs() if jobs is None else int(jobs)
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs!r}")
    if chunk_size is None:
        # at least two chunks per worker when that keeps chunks >= 500 samples (a fresh
        # PHREEQC instance per chunk costs ~6 ms, 3 % of 500 samples)
        size = min(DEFAULT_CHUNK_SIZE, max(500, math.ceil(n / (2 * jobs))))
    else:
        size = int(chunk_size)
    if size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    _check_inputs(values)
    bounds = [(a, min(a + size, n)) for a in range(0, n, size)]
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
        ctx = _mp_context()
        method = ctx.get_start_method()
        pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_worker_init,
            initargs=(engine.spec,))
        try:
            futures = {pool.submit(_worker_run, values[a:b]): a for a, b in bounds}
            for fut in concurrent.futures.as_completed(futures):
                try:
                    res = fut.result()
                except concurrent.futures.process.BrokenProcessPool as err:
                    raise SpeciationError(
                        "A PHREEQC worker process died (out of memory or a crash in PHREEQC); "
                        "re-run with jobs=1 to find the sample, or with fewer jobs."
                    ) from err
                collect(futures[fut], res)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    info = {
        "chunk_size": size,
        "n_chunks": len(bounds),
        "jobs": max(1, workers),
        "phreeqc_runs": runs,
        "start_method": method,
    }
    return RunResult(out, engine.columns, failed, warned, info)


def _check_inputs(values: np.ndarray) -> None:
    """Refuse input PHREEQC would silently misread (it zeroes negative concentrations)."""
    if values.ndim != 2 or values.shape[1] != len(INPUT_COLUMNS):
        raise ValueError(f"values must have shape (n, {len(INPUT_COLUMNS)}), got {values.shape}")
    core = values[:, :3]
    bad = ~np.isfinite(core).all(axis=1)
    with np.errstate(invalid="ignore"):
        bad |= (values[:, 2:] < 0).any(axis=1) | np.isinf(values[:, 3:]).any(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise SpeciationError(
            f"{rows.size} sample(s) cannot go to PHREEQC (temperature, pH or alkalinity missing, "
            f"or a negative or infinite concentration), first rows {rows[:5].tolist()}; "
            "validate the table first (karstsink.speciate does)."
        )


