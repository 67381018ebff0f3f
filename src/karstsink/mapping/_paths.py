"""Paths in the outputs: relative to the configuration, never the user's absolute paths.

Imports nothing of the package, so every module of :mod:`karstsink.mapping` (the input
parsers included) may use it without an import cycle.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["database_doc", "relative_path"]


def relative_path(path, config: Path | None) -> str:
    """``path`` relative to the configuration's folder (POSIX separators), so that the
    outputs carry no absolute path of the user's machine; as given without a config
    (an API call) or on another drive."""
    if config is None:
        return str(path)
    try:
        return Path(os.path.relpath(Path(path), Path(config).resolve().parent)).as_posix()
    except ValueError:  # another drive (Windows)
        return str(path)


def database_doc(doc: dict, config: Path | None) -> dict:
    """The database record of ``run.json`` without an absolute path: a user's database
    relative to the config, the one shipped in an installed package as
    ``<package>/<file>`` (its SHA-256 identifies it)."""
    path = doc.get("path")
    if not path:
        return doc
    parts = Path(path).parts
    for site in ("site-packages", "dist-packages"):
        if site in parts:
            return {**doc, "path": "/".join(("<installed>", *parts[parts.index(site) + 1:]))}
    return {**doc, "path": relative_path(path, config)}
