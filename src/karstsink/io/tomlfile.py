"""The one TOML reader: run configurations, map configurations, restoration schedules."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from ..exceptions import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["read_toml"]


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
