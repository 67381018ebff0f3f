"""Errors and warnings that karstsink raises on purpose.

Every error subclasses :class:`KarstSinkError` and also the builtin a user
would naturally catch, so ``except ValueError`` keeps working.  The CLI turns
any :class:`KarstSinkError` into one readable line and exit code 1
(:class:`OutputError`: exit code 2, the command line asks for an output it must
not write); :class:`Terminated` is what SIGTERM raises inside the CLI.
"""

from __future__ import annotations


class KarstSinkError(Exception):
    """Root of every error karstsink raises on purpose."""


class DataError(KarstSinkError, ValueError):
    """An input file or table is structurally unusable (names the file, column or row)."""


class MissingColumnError(KarstSinkError, KeyError):
    """A required column is absent from an input table."""

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return str(self.args[0]) if self.args else ""


class UnitError(KarstSinkError, ValueError):
    """A unit is unknown or cannot be converted to the canonical one."""


class SpeciationError(KarstSinkError, RuntimeError):
    """The speciation engine (PHREEQC) failed."""


class ConfigError(KarstSinkError, ValueError):
    """A run configuration (TOML) is invalid."""


class RasterError(KarstSinkError, ValueError):
    """A raster cannot be read, has no CRS, or cannot be aligned to the target grid."""


class OutputError(KarstSinkError, ValueError):
    """An output location is refused: it is (or holds) an input, it exists and
    ``overwrite`` was not given, or it holds files karstsink did not write."""


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM (``kill``, ``timeout``, a batch scheduler).

    A :class:`KeyboardInterrupt`, so every clean-up that runs on Ctrl-C (temporary
    files and folders removed, worker pools shut down) runs on SIGTERM too.
    """


class OutOfRangeWarning(UserWarning):
    """Inputs lie outside the range over which a model was calibrated."""


class DataQualityWarning(UserWarning):
    """Some rows or pixels were flagged; results for them may be missing."""
