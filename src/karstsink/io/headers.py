"""Header matching and unit recognition for every table karstsink reads.

A header such as ``Ca2+ (mg/L)``, ``Ca_mgL``, ``HCO3 mg/L as CaCO3``, ``NO3-N``,
``Mg²⁺``, ``水温(℃)``, ``EC (μS/cm)``, ``Q (m3/s)`` or ``discharge_cfs`` is split
into a *name* and a *unit* (:func:`split_header`); the name is compacted (case,
spaces, ``_``, ``.``, charges, sub/superscripts and full-width forms removed) and
looked up, as a whole, in the shipped alias table ``karstsink/data/aliases.csv``.
Whole-name matching is what keeps ``Site comments``, ``NO3 method`` or
``Ca/Mg ratio`` from being taken for a quantity.  Sample tables
(:func:`match_header`) and discharge records
(:func:`karstsink.io.discharge_headers.match_discharge_header`) use the same splitting
and the same table; the discharge keys of the table are never looked up for sample
tables.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from ..exceptions import DataError, UnitError

#: Canonical short keys in output/flag order, with (output column, kind).
#: kinds: id (text), date, time, coord [degrees], temp [°C], ph [-], ec [µS/cm],
#: conc [mmol/L], orgc [mg C/L].
KEYS: dict[str, tuple[str, str]] = {
    "sample_id": ("sample_id", "id"),
    "site": ("site", "id"),
    "date": ("date", "date"),
    "time": ("", "time"),
    "lat": ("lat", "coord"),
    "lon": ("lon", "coord"),
    "temp": ("temp_c", "temp"),
    "ph": ("ph", "ph"),
    "ec": ("ec_us_cm", "ec"),
    "ca": ("ca_mmol_l", "conc"),
    "mg": ("mg_mmol_l", "conc"),
    "na": ("na_mmol_l", "conc"),
    "k": ("k_mmol_l", "conc"),
    "cl": ("cl_mmol_l", "conc"),
    "so4": ("so4_mmol_l", "conc"),
    "no3": ("no3_mmol_l", "conc"),
    "hco3": ("hco3_mmol_l", "conc"),
    "alk": ("hco3_mmol_l", "conc"),
    "co3": ("co3_mmol_l", "conc"),
    "nh4": ("nh4_mmol_l", "conc"),
    "no2": ("no2_mmol_l", "conc"),
    "f": ("f_mmol_l", "conc"),
    "po4": ("po4_mmol_l", "conc"),
    "sio2": ("sio2_mmol_l", "conc"),
    "sr": ("sr_mmol_l", "conc"),
    "fe": ("fe_mmol_l", "conc"),
    "mn": ("mn_mmol_l", "conc"),
    "ba": ("ba_mmol_l", "conc"),
    "doc": ("doc_mg_c_l", "orgc"),
    "toc": ("toc_mg_c_l", "orgc"),
}

#: Output columns named like this in the input are recognised with their unit.
CANONICAL_NAMES: dict[str, tuple[str, str | None]] = {
    col: (key, None) for key, (col, _kind) in KEYS.items() if col and key != "alk"
}
CANONICAL_UNITS = {"conc": "mmol/L", "orgc": "mg/L", "temp": "°C", "ec": "µS/cm"}

#: Keys of the alias table for tables other than field samples: a discharge
#: column, and date-time names used by loggers (``datetime``, ``timestamp``).
#: Sample tables never look these up, so they add no column to their output.
OTHER_KEYS: dict[str, tuple[str, str]] = {
    "discharge": ("discharge_m3s", "discharge"),
    "datetime": ("date", "date"),
}

MEASURED_KINDS = {"temp", "ph", "ec", "conc", "orgc"}
UNIT_REQUIRED_KINDS = {"conc", "orgc"}


@dataclass(frozen=True)
class HeaderMatch:
    """What one header means: canonical key, unit text from the header, name qualifier."""

    key: str
    unit: str | None  # normalised unit string, or None when the header gives none
    qualifier: str | None  # "as N", "as S"... implied by the NAME (NO3-N, SO4-S)


# ---------------------------------------------------------------------------
# text normalisation
# ---------------------------------------------------------------------------


def nfkc(text: str) -> str:
    """NFKC-normalise (full-width, super/subscripts, ℃) and unify the micro sign."""
    text = unicodedata.normalize("NFKC", str(text))
    return text.replace("\u03bc", "µ").replace("\u2212", "-").replace("\ufeff", "")


_COMPACT_DROP = re.compile(r"[\s_.,\-()\[\]{}'\"`:;^+·*#]")


def compact_name(name: str) -> str:
    """Lower-case ``name`` and drop spaces, punctuation and charge signs."""
    return _COMPACT_DROP.sub("", nfkc(name).lower())


@cache
def alias_table(scope: str = "samples") -> dict[str, tuple[str, str | None]]:
    """Return the shipped alias table as ``{compact alias: (key, qualifier)}``.

    ``scope="samples"`` (the default) keeps the keys of :data:`KEYS`, the
    quantities of a field-sample table; ``scope="all"`` adds
    :data:`OTHER_KEYS` (discharge records).
    """
    if scope == "samples":
        return {a: hit for a, hit in alias_table("all").items() if hit[0] in KEYS}
    if scope != "all":  # pragma: no cover - internal argument
        raise DataError(f"scope must be 'samples' or 'all', not {scope!r}")
    text = files("karstsink.data").joinpath("aliases.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    table: dict[str, tuple[str, str | None]] = {}
    for row in rows:
        key = row["key"].strip()
        if key not in KEYS and key not in OTHER_KEYS:  # pragma: no cover - shipped table
            raise DataError(f"aliases.csv: unknown key {key!r}")
        table[compact_name(row["alias"])] = (key, (row.get("qualifier") or "").strip() or None)
    return table


#: Words in brackets that qualify a measurement without changing what it is.
_QUALIFIER_WORDS = ("field", "lab", "water", "laboratory", "in situ", "in-situ", "insitu",
                    "measured", "filtered", "unfiltered", "dissolved", "total", "titrated",
                    "titration", "calculated", "现场", "实验室", "实测", "溶解态", "溶解", "总")
_QUALIFIER_RE = re.compile(
    r"[(\[]\s*(?:" + "|".join(re.escape(w) for w in _QUALIFIER_WORDS) + r")\s*[)\]]",
    re.IGNORECASE,
)
#: Words in brackets that say the column is not about the water sample ('Temp (air)').
_NOT_WATER = {"air", "ambient", "atmosphere", "atmospheric", "气温", "空气"}
#: Bracketed shares ('Ca (%)', 'Na (meq%)': a percentage of the cations), not concentrations.
_SHARES = {"%", "meq%", "%meq", "mmol%", "%mmol", "percent", "pct", "‰"}
_WRAPPED_RE = re.compile(r"^(?:ρ|c|w|γ)\s*[(\[](?P<inner>.+)[)\]]$")


def lookup_name(name: str, *, scope: str = "samples") -> tuple[str, str | None] | None:
    """Look a header name (unit removed) up in the alias table, allowing an ion charge.

    ``scope`` as in :func:`alias_table`.
    """
    table = alias_table(scope)
    raw = _QUALIFIER_RE.sub(" ", nfkc(name)).strip().rstrip("/").strip()
    wrapped = _WRAPPED_RE.match(raw)  # GB-style 'ρ(Ca2+)', 'c(HCO3-)'
    if wrapped:
        raw = wrapped["inner"].strip()
    key = compact_name(raw)
    if not key:
        return None
    if key in table:
        return table[key]
    # 'Ca2+', 'SO4 2-', 'SO4^2-', 'PO43-', and before a basis, 'SO42--S' (SO₄²⁻-S),
    # 'NH4+-N': a digit and sign (or a '^' and digits) is the charge; the name without it
    # is looked up (only charges: 'NO3' is not 'NO' with a charge 3-, as it is found first)
    for charge in _CHARGE_RE.finditer(raw):
        stripped = compact_name(raw[:charge.start()] + " " + raw[charge.end():])
        if stripped in table:
            return table[stripped]
    return None


_CHARGE_RE = re.compile(r"\^\s*[0-9]*\s*[+-]*|[0-9]\s*[+-]+")


# ---------------------------------------------------------------------------
# units
# ---------------------------------------------------------------------------

_CONC_RE = re.compile(
    r"^(?P<num>mmol|µmol|umol|mol|meq|µeq|ueq|eq|mg|µg|ug|ng|g|ppm|ppb)"
    r"(?P<q1>caco3|hco3|si|n|s|p|c)?"
    r"(?P<den>litre|liter|dm3|dl|ml|m3|l|kgw|kg)?"
    r"(?:as)?(?P<q2>caco3|hco3|h2sio3|no3|so4|po4|sio2|si|n|s|p|c)?$"
)
_QUAL = {"caco3": "CaCO3", "hco3": "HCO3", "h2sio3": "H2SiO3", "no3": "NO3", "so4": "SO4",
         "po4": "PO4", "sio2": "SiO2", "si": "Si", "n": "N", "s": "S", "p": "P", "c": "C"}
_NUM = {"umol": "µmol", "ueq": "µeq", "ug": "µg"}
#: Denominators as written in the normalised unit (``litre`` = ``L``; ``g/m3`` = ``mg/L``).
_DEN = {"l": "L", "litre": "L", "liter": "L", "dm3": "L", "dl": "dL", "ml": "mL", "m3": "m3",
        "kg": "kg", "kgw": "kg"}
#: Molar concentrations written with a capital M: ``mM`` = mmol/L, ``µM`` = µmol/L.
_MOLAR_RE = re.compile(r"^(?P<p>m|µ|u)?M(?:\s*(?:as\s*)?(?P<q>CaCO3|HCO3|N|S))?$")

#: The concentration units karstsink reads, as listed in its error messages.
ACCEPTED_CONC_UNITS = ("mg/L (mg L-1, mg·L⁻¹, mg/litre, g/m3, ppm), µg/L (ppb, mg/m3), "
                       "mg/dL, µg/mL, mmol/L (mM), µmol/L (µM), meq/L, µeq/L, mmol/kg, "
                       "optionally 'as CaCO3', 'as N', 'as S', 'as P'")
ACCEPTED_UNITS = {"conc": ACCEPTED_CONC_UNITS, "orgc": "mg/L or mg C/L, mmol/L, ppm",
                  "temp": "°C, °F or K", "ec": "µS/cm, mS/cm, dS/m, S/m, mS/m or µS/m"}


_TEMP_UNITS = {"°c": "°C", "c": "°C", "degc": "°C", "celsius": "°C", "degreesc": "°C", "oc": "°C",
               "°f": "°F", "f": "°F", "degf": "°F", "fahrenheit": "°F", "k": "K", "kelvin": "K"}
_EC_UNITS = {"µs/cm": ("µS/cm", 1.0), "us/cm": ("µS/cm", 1.0), "µscm": ("µS/cm", 1.0),
             "uscm": ("µS/cm", 1.0), "µs/cm-1": ("µS/cm", 1.0),
             "ms/cm": ("mS/cm", 1000.0), "mscm": ("mS/cm", 1000.0),
             "ds/m": ("dS/m", 1000.0), "s/m": ("S/m", 1.0e4), "ms/m": ("mS/m", 10.0),
             "µs/m": ("µS/m", 0.01), "us/m": ("µS/m", 0.01)}
_PH_UNITS = {"", "-", "su", "units", "unit", "stdunits", "standardunits", "phunits", "phunit",
             "unitless", "dimensionless", "none", "无量纲", "无"}
_COORD_UNITS = {"°", "deg", "degree", "degrees", "dd", "decimaldegrees", "decimaldegree",
                "°n", "°e", "n", "e", "wgs84"}


def _unit_compact(text: str) -> str:
    t = nfkc(text).lower().strip()
    t = t.replace("per", "/")
    t = re.sub(r"以\s*([a-z0-9]+)\s*计", r" as \1", t)
    t = re.sub(r"\b(?:u|µ)(?=(?:mol|eq|g|s)\b)", "µ", t)
    t = re.sub(r"\^?-1\b", "", t)
    return re.sub(r"[\s/_·.*()\[\]\-^]", "", t)


def parse_conc_unit(text: str) -> str | None:
    """Return a concentration unit in the spelling :mod:`karstsink.units` reads, or None.

    Examples
    --------
    >>> [parse_conc_unit(u) for u in ("mg L^-1", "mM", "g/m3", "mg/dL", "ppm", "mmol kg-1")]
    ['mg/L', 'mmol/L', 'g/m3', 'mg/dL', 'ppm', 'mmol/kg']
    >>> parse_conc_unit("furlongs") is None
    True
    """
    molar = _MOLAR_RE.match(" ".join(nfkc(text).split()))
    if molar:
        num = {"m": "mmol", "µ": "µmol", "u": "µmol", None: "mol"}[molar["p"]]
        return f"{num}/L" + (f" as {molar['q']}" if molar["q"] else "")
    m = _CONC_RE.match(_unit_compact(text))
    if not m or (m["q1"] and m["q2"]):
        return None
    ppx = m["num"] in ("ppm", "ppb")
    if ppx == bool(m["den"]):  # 'ppm' takes no denominator, every other unit needs one
        return None
    num = _NUM.get(m["num"], m["num"])
    qual = m["q1"] or m["q2"]
    unit = num if ppx else f"{num}/{_DEN[m['den']]}"
    return unit + (f" as {_QUAL[qual]}" if qual else "")


def _strip_reference_temperature(t: str) -> str:
    # 'µS/cm @25°C', 'uS/cm at 25 C', 'µS/cm (25 °C)' -> 'µS/cm'
    return re.sub(r"(?:@|at)?\s*25\s*°?\s*c\b.*$|@.*$", "", t).strip()


_BRACKETED_RE = re.compile(r"^[(\[](?P<inner>[^()\[\]]*)[)\]]$")


def parse_unit(text: str, kind: str) -> str | None:
    """Return the normalised unit of ``text`` for a column of ``kind``, or None if it is none."""
    raw = nfkc(text).strip()
    bracketed = _BRACKETED_RE.match(raw)  # a units row's '(°F)', '[mS/cm]'
    if bracketed:
        raw = bracketed["inner"].strip()
    low = raw.lower()
    if kind in ("conc", "orgc"):
        return parse_conc_unit(raw)
    if kind == "temp":
        return _TEMP_UNITS.get(re.sub(r"[\s.]", "", low).replace("º", "°"))
    if kind == "ec":
        key = re.sub(r"[\s·.*]", "", _strip_reference_temperature(low))
        key = key.replace("μ", "µ")
        key = re.sub(r"^u(?=s)", "µ", key)
        key = key.replace("cm-1", "/cm").replace("m-1", "/m").replace("//", "/")
        hit = _EC_UNITS.get(key) or _EC_UNITS.get(key.replace("/", ""))
        return hit[0] if hit else None
    if kind == "ph":
        return "-" if re.sub(r"[\s.]", "", low) in _PH_UNITS else None
    if kind == "coord":
        return "°" if re.sub(r"[\s.]", "", low) in _COORD_UNITS else None
    return None


def ec_factor(unit: str) -> float:
    """Factor from ``unit`` (as returned by :func:`parse_unit`) to µS/cm."""
    for name, factor in _EC_UNITS.values():
        if name == unit:
            return factor
    raise UnitError(f"Unknown conductivity unit {unit!r}; use µS/cm or mS/cm.")


def any_unit(text: str) -> bool:
    """True if ``text`` reads as a unit of any kind (used to spot a units row)."""
    t = nfkc(text).strip()
    if not t or t in ("-",):
        return False
    return any(parse_unit(t, kind) for kind in ("conc", "temp", "ec"))


# ---------------------------------------------------------------------------
# header -> (key, unit)
# ---------------------------------------------------------------------------

_BRACKET_RE = re.compile(r"^(?P<name>.*?)\s*[(\[{](?P<unit>[^()\[\]{}]*)[)\]}]\s*$")


def _accept(name: str, unit_text: str | None) -> HeaderMatch | None:
    hit = lookup_name(name)
    if hit is None:
        return None
    key, qualifier = hit
    kind = KEYS[key][1]
    if unit_text is None:
        return HeaderMatch(key, None, qualifier)
    unit = parse_unit(unit_text, kind) if kind in MEASURED_KINDS else None
    if unit is not None:
        return HeaderMatch(key, unit, qualifier)
    if kind in ("id", "date", "time", "coord", "ph"):
        return HeaderMatch(key, None, qualifier)  # 'Date (yyyy-mm-dd)', 'pH (field)'
    return None


_AS_RE = re.compile(
    r"(?:(?<![a-z])as\s*|以\s*)(caco3|hco3|h2sio3|sio2|no3|so4|po4|si|n|s|p|c)(?:\s*计)?"
    r"(?![a-z0-9])",
    re.IGNORECASE,
)


@cache
def _result_names() -> frozenset[str]:
    """Columns karstsink's speciation writes that no sample table holds (``co3_mmol_kgw``,
    ``si_calcite``, ...): a speciated table read again keeps them as they are, unmatched,
    so that its results never become inputs (``co3_mmol_kgw`` is not a measured CO3)."""
    from ..variables import VARIABLES

    return frozenset(v.name for v in VARIABLES.values()
                     if "speciation" in v.table.split(";") and "samples" not in v.table.split(";")
                     and "<" not in v.name)


def match_header(header: str) -> HeaderMatch | None:
    """Return what ``header`` means, or None if it is not a quantity karstsink knows.

    Examples
    --------
    >>> match_header("Ca2+ (mg/L)")
    HeaderMatch(key='ca', unit='mg/L', qualifier=None)
    >>> match_header("Alk (mg/L as CaCO3)").unit
    'mg/L as CaCO3'
    >>> match_header("总碱度(以CaCO3计, mg/L)").unit
    'mg/L as CaCO3'
    >>> match_header("Ca/Mg ratio") is None
    True
    """
    text = " ".join(nfkc(header).split())
    if not text or text in _result_names():
        return None  # a PHREEQC result of an earlier speciation is not a measured input
    if text in CANONICAL_NAMES:
        key = CANONICAL_NAMES[text][0]
        return HeaderMatch(key, CANONICAL_UNITS.get(KEYS[key][1]), None)
    m = _AS_RE.search(text)
    if m is None:
        return _match_plain(text, header)
    # 'as CaCO3', 'as N', '以CaCO3计', '(以N计)': a qualifier, wherever it is written
    qualifier = f"as {_QUAL[m[1].lower()]}"
    rest = text[: m.start()] + text[m.end():]
    rest = re.sub(r"[(\[]\s*[,;]?\s*[)\]]", "", rest)  # brackets left empty
    rest = re.sub(r"\s*[,;]\s*(?=[)\]])|(?<=[(\[])\s*[,;]\s*", "", rest)
    hit = _match_plain(" ".join(rest.split()), header)
    if hit is None or KEYS[hit.key][1] != "conc":
        return hit
    if hit.qualifier and hit.qualifier.lower() != qualifier.lower():
        raise UnitError(f"Column {header!r}: the name means {hit.qualifier!r} but the header "
                        f"also says {qualifier!r}; fix the header.")
    unit = f"{hit.unit.split(' as ')[0]} {qualifier}" if hit.unit else None
    return HeaderMatch(hit.key, unit, qualifier)


_SLASH_RE = re.compile(r"^(?P<name>.*\S)\s*/\s*\(?(?P<unit>[^/()]+)\)?$")
# the unit after the first '/', itself holding one: 'Ca/mg/L', '钙/mg/L'
_FIRST_SLASH_RE = re.compile(r"^(?P<name>[^/]*[^/\s])\s*/\s*(?P<unit>[^()]*/[^()]*)$")


def split_header(header: str) -> Iterator[tuple[str, str | None, str]]:
    """Every reading of a header as ``(name, unit text, form)``, most explicit first.

    The forms, in this order: ``"bracket"`` (``Ca (mg/L)``, ``Q [L/s]``,
    ``流量(m³/s)``), ``"whole"`` (the header is the name; unit None), ``"slash"``
    (GB style ``ρ(Ca2+)/(mg·L-1)``; ``Ca/mg/L``, the unit after the first ``/``) and
    ``"suffix"`` (the unit after ``_`` or a
    space: ``Ca_mgL``, ``Q_cfs``, ``Ca mg/L``; the longest name first).
    """
    text = " ".join(nfkc(header).split())
    if not text:
        return
    m = _BRACKET_RE.match(text)
    if m and m["name"].strip():
        yield m["name"], m["unit"].strip(), "bracket"
    yield text, None, "whole"
    m = _SLASH_RE.match(text)
    if m:
        yield m["name"], m["unit"], "slash"
    m = _FIRST_SLASH_RE.match(text)
    if m:
        yield m["name"], m["unit"], "slash"
    for sep in ("_", " "):
        parts = text.split(sep)
        for k in range(len(parts) - 1, 0, -1):
            yield sep.join(parts[:k]), sep.join(parts[k:]), "suffix"


def _unknown_unit_message(header: str, unit_text: str, key: str) -> str:
    """The one line for a recognised quantity whose bracketed unit karstsink cannot read."""
    return (f"column {header!r}: {unit_text!r} is not a unit karstsink reads for {key!r} "
            f"(accepted: {ACCEPTED_UNITS.get(KEYS[key][1], 'none')}); correct the unit in "
            f"the header, or if the brackets hold no unit pass column_map={{{header!r}: "
            f"{key!r}}} with units=..., or column_map={{{header!r}: None}} to leave it out.")


def _match_plain(text: str, header: str) -> HeaderMatch | None:
    """:func:`match_header` for a normalised header without an 'as X' qualifier."""
    for name, unit_text, form in split_header(text):
        if form == "bracket":
            kind_hit = lookup_name(name)
            if kind_hit is not None:
                kind = KEYS[kind_hit[0]][1]
                if kind in MEASURED_KINDS and unit_text and parse_unit(unit_text, kind) is None:
                    # a unit of the wrong kind ('Temp (mg/L)') is an error, not a silent skip
                    for other in ("conc", "temp", "ec"):
                        if other != kind and parse_unit(unit_text, other):
                            raise UnitError(
                                f"Column {header!r}: {unit_text!r} is not a unit for "
                                f"{kind_hit[0]!r}; fix the header or pass column_map/units."
                            )
                    if kind == "ec" and not _strip_reference_temperature(
                            nfkc(unit_text).lower()):
                        return HeaderMatch(kind_hit[0], None, kind_hit[1])  # 'EC (25 °C)'
                    if compact_name(unit_text) in _NOT_WATER | _SHARES:
                        return None  # 'Temperature (air)', 'Ca (%)': not the quantity itself
                    if kind != "ph" and lookup_name(text) is None:  # not '(dissolved)'
                        raise UnitError(_unknown_unit_message(header, unit_text, kind_hit[0]))
            hit = _accept(name, unit_text or None)
        elif form == "whole":
            hit = _accept(name, None)
        else:  # 'slash' and 'suffix' forms name a measured quantity and its unit
            found = lookup_name(name)
            hit = None
            if (found is not None and unit_text is not None
                    and KEYS[found[0]][1] in MEASURED_KINDS):
                unit = parse_unit(unit_text, KEYS[found[0]][1])
                if unit is not None:
                    hit = HeaderMatch(found[0], unit, found[1])
        if hit is not None:
            return hit
    return None


#: Names so generic that a more specific column for the same quantity wins over them
#: ('ID' row numbers vs 'Sample ID'; 'Temperature' (maybe air) vs 'Water temperature').
_GENERIC = {"id", "sample", "no", "编号", "t", "temp", "temperature", "温度", "location",
            "station", "spring", "date", "日期", "time", "cond", "sc", "site"}


def is_generic(header: str) -> bool:
    """True if ``header`` names its quantity only generically (see ``_GENERIC``)."""
    text = re.sub(r"[(\[].*?[)\]]", " ", nfkc(header))
    text = re.split(r"[_/]", text)[0]
    return compact_name(text) in _GENERIC


def match_user_name(name: str) -> str | None:
    """Resolve a canonical key given by the user (``ca``, ``alk``, ``ca_mmol_l``, ``temp_c``)."""
    text = str(name).strip()
    if text in KEYS:
        return text
    if text in CANONICAL_NAMES:
        return CANONICAL_NAMES[text][0]
    hit = lookup_name(text)
    return hit[0] if hit else None
