"""What :mod:`karstsink.chemistry.engine` gives PHREEQC: input columns, input text, database.

The engine's input is a float array whose columns are :data:`INPUT_COLUMNS`
(canonical units, NaN = not given).  Here it becomes PHREEQC input: numbered
``SOLUTION`` blocks (many per ``RunString``, no ``END`` between them) followed
by one ``SELECTED_OUTPUT`` block that asks only for the columns needed, with
``-high_precision``, all after a ``PRINT -reset false`` that turns off the printed
report; and the tiny test run that probes which elements, species and phases a
database knows.  The database file itself is scanned
for its activity model and its phase names.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterator, Mapping, Sequence

import numpy as np

from ..exceptions import SpeciationError
from .database import DatabaseInfo

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


def probe_input(phases: Sequence[str]) -> str:
    """Input of the probe run: one solution with every solute, every candidate name asked for.

    PHREEQC warns "Did not find species/phase" and "Could not find element in
    database" for the names a database lacks (read by
    :func:`karstsink.chemistry._engine_output.missing_names`).
    """
    lines = ["SOLUTION 1", " temp 25", " pH 7", " units mmol/l", " Alkalinity 1"]
    lines += [f" {el} 1e-6" for el in SOLUTE_ELEMENTS.values()]
    species = sorted({s for c in _SPECIES_CANDIDATES.values() for s in c})
    all_phases = list(dict.fromkeys(
        [p for c in _PHASE_CANDIDATES.values() for p in c] + list(phases)))
    lines += ["SELECTED_OUTPUT 1", " -reset false", " -molalities " + " ".join(species),
              " -saturation_indices " + " ".join(all_phases), "END"]
    return "\n".join(lines) + "\n"


def selected_output_block(species: Sequence[str], phases: Sequence[str]) -> str:
    """The ``SELECTED_OUTPUT`` block (and ``END``) that closes every batched input.

    Parameters
    ----------
    species : sequence of str
        Aqueous species whose molality to print, as the database names them.
    phases : sequence of str
        Phases whose saturation index to print.
    """
    sp = list(species)
    lines = ["SELECTED_OUTPUT 1", " -reset false", " -high_precision true",
             " -solution true", " -ionic_strength true", " -percent_error true",
             " -totals C(4)"]
    if sp:
        lines.append(" -molalities " + " ".join(sp))
    lines.append(" -saturation_indices " + " ".join(phases))
    return "\n".join(lines) + "\nEND\n"


def input_text(values: np.ndarray, start: int, stop: int | None, elements: Mapping[str, str],
               selected_output: str) -> str:
    """PHREEQC input for rows ``start:stop`` of ``values`` (numbered row index + 1).

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, len(INPUT_COLUMNS))`` float array in canonical units; NaN
        entries are left out of the ``SOLUTION`` block.
    start, stop : int
        Rows to write (``stop=None``: to the end).
    elements : mapping of str to str
        Canonical solute column -> PHREEQC element, for the solutes the
        database knows (others are left out).
    selected_output : str
        The block from :func:`selected_output_block`, appended at the end.
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
        el = elements.get(col)
        if el is not None:
            fields.append((f" {el} ", block[:, j]))
    fields.append((" Alkalinity ", alk))
    # Per field: a list of strings ("" where NaN), then zip rows together.
    formatted = []
    for label, field_values in fields:
        ok = np.isfinite(field_values)
        formatted.append([f"{label}{v!r}\n" if k else "" for v, k in
                          zip(field_values.tolist(), ok.tolist(), strict=True)])
    # PRINT -reset false: no printed report (about 3 % of a run's time, measured on the
    # benchmark's waters); the warnings and the selected output are the same
    parts = ["PRINT\n -reset false\n"]
    for i, row in enumerate(zip(*formatted, strict=True)):
        parts.append(f"SOLUTION {start + i + 1}\n units mmol/l\n")
        parts.append("".join(row))
    parts.append(selected_output)
    return "".join(parts)


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


def _activity_model(db: DatabaseInfo) -> str:
    """``pitzer`` or ``sit`` if the database has that keyword block, else ``ion-association``."""
    for line in db.text().splitlines():
        word = line.split("#", 1)[0].strip().upper()
        if word in ("PITZER", "SIT"):
            return word.lower()
    return "ion-association"


def element_of(name: str) -> str:
    """The element of a PHREEQC element name, its redox state dropped: ``"S(6)"`` -> ``"S"``.

    PHREEQC writes a redox state in parentheses after its element (``N(5)`` nitrate,
    ``N(-3)`` ammonium); a name without one is returned as it is.
    """
    return name.split("(", 1)[0]


def _block_lines(text: str) -> Iterator[tuple[str, str, list[str], str | None, bool]]:
    """Each line of a database with the keyword block it belongs to.

    Yields ``(line, body, words, block, starts)``: the line with its newline, its
    text before any ``#`` comment, the words of that text, the block's keyword in
    upper case (None before the first keyword) and whether the line is the
    keyword's own line.  A block starts at a line whose first word is a PHREEQC
    keyword (:data:`_KEYWORDS`, in any case, as PHREEQC reads them, indented or
    not) and runs to the next one: comment lines, blank lines and every other
    line (entries, their indented continuation lines) belong to it.
    """
    block = None
    for line in text.splitlines(keepends=True):
        body = line.split("#", 1)[0]
        words = body.split()
        starts = bool(words) and _is_keyword(words[0])
        if starts:
            block = words[0].upper()
        yield line, body, words, block, starts


def _phase_entries(text: str) -> Iterator[tuple[str, str | None, bool]]:
    """Each line of a database with the PHASES entry it belongs to.

    Yields ``(line, phase, starts)``: ``phase`` is the name of the entry in a
    ``PHASES`` block the line belongs to (None outside such entries, and for the
    ``PHASES`` keyword line itself), ``starts`` is True on the entry's name line.
    A phase entry starts with its name in the first column; the next keyword
    ends the block (see :func:`_block_lines`).
    """
    phase = None
    for line, _, words, block, keyword in _block_lines(text):
        starts = False
        if keyword:
            phase = None
        elif words and block == "PHASES" and not line[0].isspace():
            phase, starts = words[0], True
        yield line, phase, starts


#: PHREEQC's keywords and their synonyms (PHREEQC 3 manual, Parkhurst and Appelo 2013,
#: https://doi.org/10.3133/tm6A43), besides the ``*_RAW`` and ``*_MODIFY`` ones.  A phase
#: may be called ``C`` or ``UN`` (llnl.dat), so an upper-case word is not enough.
_KEYWORDS = frozenset("""
ADVECTION CALCULATE_VALUES COMMENT COPY DATABASE DELETE DUMP END EQUILIBRIA EQUILIBRIUM
EQUILIBRIUM_PHASES EXCHANGE EXCHANGE_MASTER_SPECIES EXCHANGE_SPECIES GAS_BINARY_PARAMETERS
GAS_PHASE INCREMENTAL INCREMENTAL_REACTIONS INVERSE_MODELING ISOTOPES ISOTOPE_ALPHAS
ISOTOPE_RATIOS KINETICS KNOBS LLNL_AQUEOUS_MODEL_PARAMETERS MEAN_GAMMAS MIX
NAMED_EXPRESSIONS PHASES PITZER PRINT PURE PURE_PHASES RATES REACTION REACTION_PRESSURE
REACTION_TEMPERATURE RUN_CELLS SAVE SELECTED_OUT SELECTED_OUTPUT SELECT_OUTPUT SIT
SOLID_SOLUTION SOLID_SOLUTIONS SOLUTION SOLUTION_MASTER_SPECIES SOLUTION_SPECIES
SOLUTION_SPREAD SPREAD_SOLUTION SURFACE SURFACE_MASTER_SPECIES SURFACE_SPECIES TITLE
TRANSPORT USE USER_GRAPH USER_PRINT USER_PUNCH
""".split())


def _is_keyword(word: str) -> bool:
    up = word.upper()
    return up in _KEYWORDS or up.endswith(("_RAW", "_MODIFY"))


def _database_phases(db: DatabaseInfo) -> list[str]:
    """Phase names defined in a database's PHASES block(s) (for 'did you mean' hints)."""
    return [phase for _, phase, starts in _phase_entries(db.text()) if starts and phase]


def _unknown_phases(unknown: Sequence[str], db: DatabaseInfo) -> str:
    """The error message for phases ``db`` lacks, with close matches of its phase names."""
    known = _database_phases(db)
    hints = []
    for p in unknown:
        close = difflib.get_close_matches(p, known, n=3, cutoff=0.6)
        hints.append(f"{p!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    return (f"Phase(s) {', '.join(hints)} not found in {db.name}; "
            f"phase names are case-sensitive, as written in the database's PHASES block.")


def only_phases(text: str, keep: Collection[str]) -> str:
    """A database text with only the ``PHASES`` entries named in ``keep``; all else whole.

    PHREEQC computes the saturation index of every phase whose elements are in a
    solution; an initial solution's speciation does not depend on them.  Loading
    only the phases that are reported saves 8 % (``phreeqc.dat``) to 39 %
    (``llnl.dat``) of PHREEQC's instructions per sample (measured with callgrind).
    The engine checks that the results do not change (see
    :class:`~karstsink.chemistry.engine.PhreeqcEngine`).
    """
    wanted = set(keep)
    return "".join(line for line, phase, _ in _phase_entries(text)
                   if phase is None or phase in wanted)


#: Blocks an initial solution's speciation never uses: exchangers and surfaces.
_UNUSED_BLOCKS = frozenset({"EXCHANGE_MASTER_SPECIES", "EXCHANGE_SPECIES",
                            "SURFACE_MASTER_SPECIES", "SURFACE_SPECIES"})
#: PHREEQC's element names: a capital, then lower-case letters or underscores
_ELEMENT = re.compile(r"[A-Z][a-z_]*")
_COEFFICIENT = re.compile(r"^[0-9.]+")


def _reaction_elements(line: str) -> set[str]:
    """The element names in a reaction line without its comment (``Ca+2 + CO3-2 = CaCO3``).

    An element name is a capital followed by lower-case letters or underscores
    (``Ca``, ``Hfo_w``, llnl.dat's ``Acetate`` and ``O_phthalate``), as PHREEQC reads
    formulas; coefficients, charges, ``+``, ``=`` and the electron ``e-`` have none.
    """
    out: set[str] = set()
    for token in line.replace("=", " ").split():
        out.update(_ELEMENT.findall(_COEFFICIENT.sub("", token)))
    return out


def only_elements(text: str, elements: Collection[str]) -> str:
    """A database text without the species of elements outside ``elements``.

    Drops the ``SOLUTION_MASTER_SPECIES`` rows of other elements (any redox state)
    and the ``SOLUTION_SPECIES`` entries whose reaction has an element outside
    ``elements`` (H, O and the electron always kept), and the exchange and surface
    blocks; every other block is kept whole.  PHREEQC builds a solution's model
    only from the species of the elements the solution has, so a species of an
    element no sample can contain costs reading and checking time and changes no
    number.  A species entry starts with its reaction (the line with ``=``), a
    master species row with its element; the engine checks the results
    (see :class:`~karstsink.chemistry.engine.PhreeqcEngine`).

    Parameters
    ----------
    text : str
        The database file's text.
    elements : collection of str
        Element symbols to keep; a redox state counts as its element (``"S(6)"``: S).
    """
    keep = {element_of(e) for e in elements} | {"H", "O"}
    out = []
    dropping = False
    for line, body, words, block, keyword in _block_lines(text):
        if keyword:
            dropping = False
            if block in _UNUSED_BLOCKS:
                continue
        elif block in _UNUSED_BLOCKS:
            continue
        elif words and block == "SOLUTION_MASTER_SPECIES":
            element = element_of(words[0])
            dropping = element not in keep and element not in ("E", "e", "Alkalinity")
        elif block == "SOLUTION_SPECIES" and "=" in body:
            dropping = not _reaction_elements(body) <= keep
        if not dropping:
            out.append(line)
    return "".join(out)
