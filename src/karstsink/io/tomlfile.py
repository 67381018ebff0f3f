"""The one TOML reader (run configurations, map configurations, restoration schedules) and
its one number check."""

from __future__ import annotations

import math
import numbers
import os
import sys
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["read_toml", "toml_number"]


def read_toml(path: str | os.PathLike, what: str) -> dict[str, Any]:
    """A TOML file as a dict.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file is, for the message (e.g. ``"run configuration"``).

    Raises
    ------
    ConfigError
        One line naming the file: it does not exist, is not valid TOML (with the line
        and column TOML's parser reports) or is not UTF-8 text.  A UTF-8 byte-order mark
        at the start is skipped.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: {what} file not found.")
    try:
        data = p.read_bytes()
        # a UTF-8 byte-order mark (Windows Notepad writes one) is not TOML: read past it
        return tomllib.loads(data.removeprefix(b"\xef\xbb\xbf").decode("utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{p}: not valid TOML ({err}).") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not UTF-8 text ({err}); save the file as UTF-8.") from err


def toml_number(value: Any, key: str, *, lo: float | None = None, hi: float | None = None,
                what: str = "", integer: bool = False) -> float:
    """``value`` of the setting ``key`` as a finite number in ``lo``-``hi`` (inclusive).

    Parameters
    ----------
    value : object
        The value as read (TOML, or a dict from the Python API: numpy numbers count).
    key : str
        The setting as the message names it, e.g. ``"map.toml: [model] acid_so4_share"``.
    lo, hi : float, optional
        Bounds (None: none).
    what : str
        What the number is, said in brackets in the message (e.g. ``"a share"``).
    integer : bool
        Only whole numbers (returned as ``int``).

    Raises
    ------
    ConfigError
        One line: ``<key> must be a number in 0-1 (a share); got 1.5.``  A bool is
        no number (TOML's ``true`` is not 1), nor is text, NaN or an infinity.
    """
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = math.isfinite(v) and (lo is None or v >= lo) and (hi is None or v <= hi)
    if not ok:
        rng = (f" in {lo:g}-{hi:g}" if lo is not None and hi is not None
               else f" >= {lo:g}" if lo is not None else f" <= {hi:g}" if hi is not None
               else "")
        note = f" ({what})" if what else ""
        raise ConfigError(f"{key} must be {'an integer' if integer else 'a number'}{rng}"
                          f"{note}; got {value!r}.")
    return int(value) if integer else float(value)
