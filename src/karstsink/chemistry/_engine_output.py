"""What :mod:`karstsink.chemistry.engine` reads back from PHREEQC: results and messages.

PHREEQC's selected output comes back as one whitespace-separated string (a
header line, then one line per solution); it is parsed with numpy into the
columns of :data:`RESULT_COLUMNS` (the ``-999.999`` sentinel PHREEQC prints for
an undefined saturation index becomes NaN).  PHREEQC's error and warning texts
are condensed into one-line messages, and the probe run's warnings tell which
names a database lacks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from ..exceptions import SpeciationError

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

_SENTINEL = -999.0  # PHREEQC prints -999.999 for an SI it cannot compute
_CONVERGENCE = re.compile(r"converge|Maximum iterations", re.IGNORECASE)
_FAILED_SOLUTION = re.compile(r"initial solution\s+(\d+)")


def phase_column(phase: str) -> str:
    """Output column name for the SI of ``phase`` (``Fe(OH)3(a)`` -> ``si_fe_oh_3_a``)."""
    return "si_" + re.sub(r"[^0-9a-z]+", "_", phase.lower()).strip("_")


def check_phase_columns(phases: Sequence[str]) -> None:
    """Refuse two phases whose names give one output column (:func:`phase_column`)."""
    seen: dict[str, str] = {}
    for p in phases:
        other = seen.setdefault(phase_column(p), p)
        if other != p:
            raise SpeciationError(f"phases {other!r} and {p!r} would both be written as "
                                  f"column {phase_column(p)!r}; ask for one of them.")


def missing_names(warnings: str) -> tuple[set[str], set[str], set[str]]:
    """Species, phases and elements PHREEQC's probe-run ``warnings`` say the database lacks."""
    species = set(re.findall(r"Did not find species, (\S+?)\.?\s*$", warnings, re.M))
    phases = set(re.findall(r"Did not find phase, (\S+?)\.?\s*$", warnings, re.M))
    elements = set(
        re.findall(r"Could not find element in database, (\S+?)\.?\s*$", warnings, re.M))
    return species, phases, elements


class SelectedOutputParser:
    """Reads PHREEQC selected-output strings into results in an engine's column order.

    Parameters
    ----------
    species : mapping of str to str or None
        ``hco3``, ``co3``, ``co2aq`` -> the species name the database uses.
    standard_phases : mapping of str to str or None
        ``calcite``, ``dolomite``, ``gypsum``, ``co2`` -> the phase name used.
    extra_phases : sequence of str
        Further phases, in the order of their columns after :data:`RESULT_COLUMNS`.
    columns : sequence of str
        The output columns (:data:`RESULT_COLUMNS` then one per extra phase).
    """

    def __init__(self, species: Mapping[str, str | None],
                 standard_phases: Mapping[str, str | None], extra_phases: Sequence[str],
                 columns: Sequence[str]) -> None:
        self.species = species
        self.standard_phases = standard_phases
        self.extra_phases = tuple(extra_phases)
        self.columns = tuple(columns)
        self._header_cache: dict[str, np.ndarray] = {}

    def parse(self, text: str) -> tuple[np.ndarray, np.ndarray]:
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

