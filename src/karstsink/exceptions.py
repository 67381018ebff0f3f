"""Errors and warnings that karstsink raises on purpose.

Every error subclasses :class:`KarstSinkError` and also the builtin a user
would naturally catch, so ``except ValueError`` keeps working.  The CLI turns
any :class:`KarstSinkError` into one readable line and exit code 1.
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


class OutOfRangeWarning(UserWarning):
    """Inputs lie outside the range over which a model was calibrated."""


class DataQualityWarning(UserWarning):
    """Some rows or pixels were flagged; results for them may be missing."""
