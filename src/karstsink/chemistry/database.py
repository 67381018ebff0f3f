"""Resolve a PHREEQC database by name or path and describe it for provenance.

Names resolve to the files bundled with the PyPI ``phreeqc`` package
(``phreeqc.dat`` (2024), ``wateq4f.dat``, ``llnl.dat``, ``minteq.v4.dat``,
``pitzer.dat`` ...); anything else is treated as a path.
"""

from __future__ import annotations

import hashlib
import importlib.resources
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..exceptions import SpeciationError

DEFAULT_DATABASE = "phreeqc.dat"


@dataclass(frozen=True)
class DatabaseInfo:
    """A resolved PHREEQC database: its name, file, SHA-256 and the text itself."""

    name: str
    path: Path
    sha256: str

    def text(self) -> str:
        """Return the database text (latin-1 safe: some databases carry non-UTF-8 bytes)."""
        return self.path.read_bytes().decode("latin-1")

    def as_dict(self) -> dict[str, str]:
        """Return name, path and SHA-256 as strings, for metadata files."""
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256}


def builtin_databases() -> list[str]:
    """Names of the databases bundled with the ``phreeqc`` package."""
    root = importlib.resources.files("phreeqc") / "databases"
    return sorted(p.name for p in root.iterdir() if p.name.endswith(".dat"))


@cache
def resolve_database(database: str | Path = DEFAULT_DATABASE) -> DatabaseInfo:
    """Find ``database`` (a bundled name or a file path) and checksum it.

    Raises
    ------
    SpeciationError
        If no bundled database has that name and no such file exists.
    """
    candidate = Path(database)
    if candidate.is_file():
        path = candidate.resolve()
    else:
        root = importlib.resources.files("phreeqc") / "databases" / str(database)
        path = Path(str(root))
        if not path.is_file():
            raise SpeciationError(
                f"PHREEQC database {str(database)!r} is neither a file nor one of the bundled "
                f"databases ({', '.join(builtin_databases())})."
            )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return DatabaseInfo(name=path.name, path=path, sha256=digest)


@cache
def phreeqc_version() -> str:
    """Version string of the IPhreeqc library inside the ``phreeqc`` package."""
    import phreeqc

    return str(phreeqc.Phreeqc.GetVersionString())
