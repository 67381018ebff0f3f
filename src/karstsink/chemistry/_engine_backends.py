"""PHREEQC bindings for :mod:`karstsink.chemistry.engine`: the smallest interface both offer.

Two backends run the same PHREEQC input: the PyPI ``phreeqc`` package (IPhreeqc
3.8, the default) and the optional ``phreeqpy`` (IPhreeqc 3.7.3, bound here
directly through ctypes).  Each offers ``load_database`` (a file, or its text),
``renew`` (a fresh instance with the database loaded), ``run``, ``selected_output``, ``errors``,
``warnings`` and ``version``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import SpeciationError

BACKENDS = ("phreeqc", "phreeqpy")


class _PhreeqcBackend:
    """The PyPI ``phreeqc`` package (IPhreeqc 3.8, bundled databases): the default."""

    name = "phreeqc"

    def __init__(self) -> None:
        import phreeqc

        self._p = phreeqc.Phreeqc()

    @staticmethod
    def version() -> str:
        import phreeqc

        return str(phreeqc.Phreeqc.GetVersionString())

    def load_database(self, path: Path, text: str | None = None) -> int:
        """Load the database file, or ``text`` (its contents, edited) when given."""
        if text is None:
            nerr = int(self._p.LoadDatabase(str(path)))
        else:
            nerr = int(self._p.LoadDatabaseString(text))
        self._p.SetSelectedOutputStringOn(True)  # loading a database resets this switch
        return nerr

    def renew(self, path: Path, text: str | None = None) -> int:
        """Replace the instance by a fresh one with the database loaded."""
        import phreeqc

        self._p = phreeqc.Phreeqc()
        return self.load_database(path, text)

    def run(self, text: str) -> int:
        return int(self._p.RunString(text))

    def selected_output(self) -> str:
        return self._p.GetSelectedOutputString()

    def errors(self) -> str:
        return self._p.GetErrorString()

    def warnings(self) -> str:
        return self._p.GetWarningString()


class _PhreeqpyBackend:
    """``phreeqpy`` (ctypes over the IPhreeqc 3.7.3 shared library it ships).

    phreeqpy's Python wrapper reads results cell by cell and raises on any
    PHREEQC error; the library underneath has the same C API as IPhreeqc 3.8,
    so the few functions needed are bound here directly on phreeqpy's library.
    """

    name = "phreeqpy"

    def __init__(self) -> None:
        try:
            from phreeqpy.iphreeqc import phreeqc_dll
        except ImportError as err:
            raise ImportError(
                "The phreeqpy engine needs the optional package phreeqpy: "
                "pip install 'karstsink[phreeqpy]' (or use engine='phreeqc')."
            ) from err
        import ctypes

        self._ip = phreeqc_dll.IPhreeqc()  # loads the library and creates an instance
        lib = self._library_path(phreeqc_dll)
        self._lib = ctypes.cdll.LoadLibrary(str(lib))  # same handle phreeqpy opened
        c_int, c_char_p = ctypes.c_int, ctypes.c_char_p
        for fname, argtypes, restype in (
            ("RunString", [c_int, c_char_p], c_int),
            ("LoadDatabase", [c_int, c_char_p], c_int),
            ("LoadDatabaseString", [c_int, c_char_p], c_int),
            ("SetSelectedOutputStringOn", [c_int, c_int], c_int),
            ("GetSelectedOutputString", [c_int], c_char_p),
            ("GetErrorString", [c_int], c_char_p),
            ("GetWarningString", [c_int], c_char_p),
            ("GetVersionString", [], c_char_p),
            ("CreateIPhreeqc", [], c_int),
            ("DestroyIPhreeqc", [c_int], c_int),
        ):
            fn = getattr(self._lib, fname)
            fn.argtypes, fn.restype = argtypes, restype
        self._id = self._ip.id_

    @staticmethod
    def _library_path(phreeqc_dll: Any) -> Path:
        folder = Path(phreeqc_dll.__file__).parent / "phreeqc3"
        if sys.platform == "win32":
            name = "IPhreeqc-3.7.3.dll"
        elif sys.platform == "darwin":
            name = ("libiphreeqc-3.7.3-m1.dylib" if os.uname().machine == "arm64"
                    else "libiphreeqc-3.7.3.dylib")
        elif os.uname().machine in ("arm64", "aarch64"):
            name = "linux_arm_libiphreeqc-3.7.3.so"
        else:
            name = "libiphreeqc-3.7.3.so"
        return folder / name

    def version(self) -> str:
        return self._lib.GetVersionString().decode()

    def load_database(self, path: Path, text: str | None = None) -> int:
        """Load the database file, or ``text`` (its contents, edited) when given."""
        if text is None:
            nerr = int(self._lib.LoadDatabase(self._id, str(path).encode("utf-8")))
        else:  # the text was decoded as latin-1: encoding it back gives the file's bytes
            nerr = int(self._lib.LoadDatabaseString(self._id, text.encode("latin-1")))
        self._lib.SetSelectedOutputStringOn(self._id, 1)  # loading a database resets it
        return nerr

    def renew(self, path: Path, text: str | None = None) -> int:
        """Replace the instance by a fresh one with the database loaded."""
        new = int(self._lib.CreateIPhreeqc())
        if new < 0:
            raise SpeciationError("phreeqpy: IPhreeqc could not create an instance")
        self._lib.DestroyIPhreeqc(self._id)
        self._id = new
        return self.load_database(path, text)

    def run(self, text: str) -> int:
        return int(self._lib.RunString(self._id, text.encode("utf-8")))

    def _text(self, fn: Callable[[int], bytes | None]) -> str:
        raw = fn(self._id)
        return raw.decode("utf-8", "replace") if raw else ""

    def selected_output(self) -> str:
        return self._text(self._lib.GetSelectedOutputString)

    def errors(self) -> str:
        return self._text(self._lib.GetErrorString)

    def warnings(self) -> str:
        return self._text(self._lib.GetWarningString)


def _make_backend(engine: str) -> _PhreeqcBackend | _PhreeqpyBackend:
    if engine == "phreeqc":
        return _PhreeqcBackend()
    if engine == "phreeqpy":
        return _PhreeqpyBackend()
    raise SpeciationError(f"Unknown PHREEQC engine {engine!r}; use one of {', '.join(BACKENDS)}.")
