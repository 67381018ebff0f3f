"""Errors of a run named by their place in the run configuration.

The readers and estimators name the ``karstsink flux`` option of a problem
(``--units``); inside ``karstsink run`` the same error names the TOML key
(``catchments[0].units``) instead. Used by :mod:`karstsink.workflows.run` and
:mod:`karstsink.workflows.comparison`.
"""

from __future__ import annotations

import re

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
               "--so4": "so4", "--no3": "no3", "--toc": "toc",
               "--acid-so4-share": "acid_so4_share",
               "--evaporite-so4-share": "evaporite_so4_share",
               "--acid-no3-share": "acid_no3_share", "--bcp-share": "bcp_share",
               "--silicate-fraction": "silicate_fraction", "--constituent": "constituent"}


def in_toml(err: KarstSinkError, where: str, label: str) -> KarstSinkError:
    """The same error, its message prefixed with ``where`` (a TOML table) and its CLI
    options (``--units``) replaced by that table's keys (``catchments[0].units``)."""
    def key(m: re.Match) -> str:
        name = FLAG_TO_KEY.get(m.group(0))
        return f"{where}.{name}" if name else m.group(0)

    text = re.sub(r"(?<![\w-])--[a-z][a-z0-9-]*", key, str(err)).replace("(CLI: ", "(")
    # "pass units= / catchments[0].units" (the Python and CLI spellings) -> "set <key>"
    text = re.sub(r"\b[Pp]ass (\w+)= / (" + re.escape(where) + r"\.\1)\b", r"set \2", text)
    return type(err)(f"{where}{label}: {text}")

