"""Errors of a run named by their place in the run configuration.

The readers and estimators name the ``karstsink flux`` option of a problem
(``--units``, ``--min-obs 48``, ``pass --allow-gaps (allow_gaps=True)``); inside
``karstsink run`` the same error names the TOML key instead
(``catchments[0].units``, ``catchments[0].min_obs = 48``,
``set catchments[0].allow_gaps = true``), drops the Python spellings, and says when
a value it quotes is a default the file never set (the map stage's errors:
:mod:`karstsink.workflows._map_keys`). Used by :mod:`karstsink.workflows.run` and
:mod:`karstsink.workflows.comparison`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..exceptions import KarstSinkError

__all__ = ["FLAG_TO_KEY", "in_toml"]

#: ``karstsink flux`` options as they are named in a catchment's TOML table (error messages
#: from the flux readers name the CLI option; a run names the TOML key instead).
FLAG_TO_KEY = {"--area": "area_km2", "--units": "units", "--q-unit": "q_unit",
               "--q-column": "q_column", "--date-column": "date_column",
               "--date-format": "date_format", "--max-gap-days": "max_gap_days",
               "--allow-gaps": "allow_gaps", "--year-start": "year_start",
               "--method": "method", "--model": "model", "--proxy": "proxy",
               "--extra": "extra", "--bootstrap": "bootstrap", "--jobs": "jobs",
               "--min-obs": "min_obs", "--min-uncen": "min_uncen",
               "--so4": "so4", "--no3": "no3", "--toc": "toc",
               "--acid-so4-share": "acid_so4_share",
               "--evaporite-so4-share": "evaporite_so4_share",
               "--acid-no3-share": "acid_no3_share", "--bcp-share": "bcp_share",
               "--silicate-fraction": "silicate_fraction", "--constituent": "constituent",
               "--samples-sheet": "samples_sheet", "--discharge-sheet": "discharge_sheet",
               # karstsink trend (a catchment's trend table)
               "--pairs": "pairs", "--groups": "groups", "--series": "series",
               "--window-side": "window_side", "--block-days": "block_days",
               "--kalman-iter": "kalman_iter", "--seed": "seed"}

#: Keys whose value a message may quote; when the file does not set one, the message says
#: the value is the default (the user never wrote it).
_QUOTED = ("max_gap_days", "min_obs", "min_uncen", "year_start", "method", "model",
           "constituent", "bootstrap")
_FLAG = r"(?<![\w-])--[a-z][a-z0-9-]*"


def in_toml(err: KarstSinkError, where: str, label: str,
            given: Iterable[str] | None = None) -> KarstSinkError:
    """The same error, its message prefixed with ``where`` (a TOML table) and its CLI
    options (``--units``) replaced by that table's keys (``catchments[0].units``).

    Parameters
    ----------
    err : KarstSinkError
        The error of a reader or estimator.
    where : str
        The TOML table (``catchments[0]``, ``speciation``).
    label : str
        Appended to ``where`` (`` (catchment 'longtan')``).
    given : iterable of str, optional
        The keys the file sets in that table: a quoted value of any other key is
        marked as the default.

    Returns
    -------
    KarstSinkError
        Of the same type, with the rewritten one-line message.
    """
    text = str(err)
    text = re.sub(r"\s*\((?:Python|Python API): [^()]*\)", "", text)
    text = text.replace("(CLI: ", "(")

    def flag(name: str) -> str | None:
        key = FLAG_TO_KEY.get(name)
        return f"{where}.{key}" if key else None

    # "pass --allow-gaps (allow_gaps=True)" -> "set catchments[0].allow_gaps = true"
    text = re.sub(r"\b[Pp]ass (" + _FLAG + r")(?: \(\w+=True\))?",
                  lambda m: f"set {flag(m.group(1))} = true" if flag(m.group(1))
                  else m.group(0), text)
    # "--min-obs 48" -> "catchments[0].min_obs = 48"; "--method loadest" -> method = "loadest"
    text = re.sub(r"(" + _FLAG + r") (-?\d+(?:\.\d+)?)\b",
                  lambda m: f"{flag(m.group(1))} = {m.group(2)}" if flag(m.group(1))
                  else m.group(0), text)
    text = re.sub(r"(= -?\d+(?:\.\d+)?) (" + re.escape(where) + r"\.)", r"\1 and \2", text)
    text = re.sub(r"(?<![\w-])--method (\w+)(?: or (\w+))?",
                  lambda m: f'{where}.method = "{m.group(1)}"'
                  + (f' or "{m.group(2)}"' if m.group(2) else ""), text)
    text = re.sub(_FLAG, lambda m: flag(m.group(0)) or m.group(0), text)
    key_re = re.escape(where) + r"\.(\w+)"
    # "units='x' (catchments[0].units)" -> "catchments[0].units = 'x'"; "q_unit= (...)" -> key
    text = re.sub(r"\b(\w+)=('[^']*'|\"[^\"]*\") \((" + key_re + r")\)",
                  lambda m: f"{m.group(3)} = {m.group(2)}" if m.group(4) == m.group(1)
                  else m.group(0), text)
    text = re.sub(r"\b(\w+)= \((" + key_re + r")\)",
                  lambda m: m.group(2) if m.group(3) == m.group(1) else m.group(0), text)
    # "pass units= / catchments[0].units" (the Python and CLI spellings) -> "set <key>"
    text = re.sub(r"\b[Pp]ass (\w+)= / (" + re.escape(where) + r"\.\1)\b", r"set \2", text)
    # a bare "units: ..." at the start names the key of this table
    text = re.sub(r"^(" + "|".join(sorted(set(FLAG_TO_KEY.values()))) + r"): ",
                  lambda m: f"{where}.{m.group(1)}: ", text)
    if given is not None:
        text = _mark_defaults(text, where, set(given))
    return type(err)(f"{where}{label}: {text}")


def _mark_defaults(text: str, where: str, given: set[str]) -> str:
    """Say that a quoted value is a default: ``min_obs=100`` or ``raise
    catchments[0].max_gap_days`` when the file does not set the key (first mention)."""
    done: set[str] = set()
    pattern = (r"\b(?:" + re.escape(where) + r"\.)?(?P<a>\w+)=[\w.]+"
               r"|\b(?:raise|lower) " + re.escape(where) + r"\.(?P<b>\w+)")

    def mark(m: re.Match) -> str:
        key = m.group("a") or m.group("b")
        if key in given or key in done or key not in _QUOTED:
            return m.group(0)
        note = "default" if done else "default, not set in the file"
        done.add(key)
        return f"{m.group(0)} ({note})"

    return re.sub(pattern, mark, text)
