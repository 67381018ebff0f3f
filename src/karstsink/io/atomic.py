"""Where and how outputs are written: atomically, never over an input, never outside
the output folder.

- :func:`atomic_path`: one file, renamed into place only when it is complete;
- :func:`atomic_dir`: a whole output folder, built in a temporary sibling and
  renamed onto the destination as a whole, so a re-run never leaves stale files of
  an earlier run and a failed or interrupted run leaves nothing;
- :func:`check_output_dir`, :func:`check_output_file`: refuse an output that is, or
  holds, an input, and an existing output unless ``overwrite``;
- :func:`safe_name`, :func:`unique_names`: the one way a name (a catchment, a
  samples file's stem) becomes a path component inside an output folder.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..exceptions import OutputError

__all__ = ["MARKER", "atomic_dir", "atomic_path", "atomic_paths", "check_output_dir",
           "check_output_file", "input_paths", "is_karstsink_output", "peak_rss_mb",
           "safe_name", "unique_names", "written_before_interrupt"]

#: File written into every output folder: ``overwrite`` replaces only folders holding it.
MARKER = ".karstsink-output"


def _read_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# read once, at import (no other thread of ours runs yet): setting the umask to read it
# would briefly change it for files other threads create
_UMASK = _read_umask()


# --------------------------------------------------------------------------------------
# names used in paths
# --------------------------------------------------------------------------------------
_FORBIDDEN = re.compile(r'[/\\:*?"<>|]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}
_MAX_BYTES = 120  # far below the 255-byte limit of a path component, room for a suffix


def safe_name(name: object) -> str:
    """One path component for ``name``, usable on Linux, macOS and Windows.

    Path separators (``/`` ``\\``), ``:*?"<>|``, control and format characters
    (NUL, newlines, bidirectional marks) become ``_``; leading and trailing dots and
    spaces are dropped (so ``..`` and ``.hidden`` cannot climb out or hide);
    Windows device names (``CON``, ``NUL``...) get a ``_`` prefix; names longer than
    120 UTF-8 bytes are cut and end with 8 hex digits of their SHA-1. Letters of any
    script are kept (``龙潭`` stays ``龙潭``). Not one-to-one: use
    :func:`unique_names` for several names that must not share a path.

    Parameters
    ----------
    name : object
        The name (``str(name)`` is used).

    Returns
    -------
    str
        A non-empty component without separators, never ``.`` or ``..``.
    """
    text = unicodedata.normalize("NFC", str(name))
    text = "".join("_" if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch
                   for ch in text)
    text = _FORBIDDEN.sub("_", text).strip(" .")
    if not text:
        text = "_"
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    if len(text.encode("utf-8")) > _MAX_BYTES:
        digest = hashlib.sha1(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        cut = text.encode("utf-8")[:_MAX_BYTES - 9].decode("utf-8", "ignore").rstrip(" .")
        text = f"{cut}-{digest}"
    return text


def _key(component: str) -> str:
    """Comparison key of a component on case-insensitive file systems (macOS, Windows)."""
    return unicodedata.normalize("NFC", component.casefold())


def unique_names(names: Iterable[object], *, taken: Iterable[str] = ()) -> list[str]:
    """:func:`safe_name` of each name, made distinct (also ignoring case) in order.

    The first name keeps its safe form; a later one that would share it (``a/b``
    and ``a_b``, ``Longtan`` and ``longtan``, two ``samples.csv`` stems) gets
    ``-2``, ``-3``... appended.

    Parameters
    ----------
    names : iterable
        Names in output order.
    taken : iterable of str, optional
        Components already used in the folder.

    Returns
    -------
    list of str
        One distinct path component per name.
    """
    used = {_key(t) for t in taken}
    out = []
    for name in names:
        base = candidate = safe_name(name)
        k = 2
        while _key(candidate) in used:
            candidate = f"{base}-{k}"
            k += 1
        used.add(_key(candidate))
        out.append(candidate)
    return out


# --------------------------------------------------------------------------------------
# output locations
# --------------------------------------------------------------------------------------
def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def _same(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return os.path.samefile(a, b)  # hard links, case-insensitive file systems
    except OSError:
        return False


def input_paths(config: object, *, skip: Iterable[str] = ()) -> list[Path]:
    """Every :class:`pathlib.Path` in a checked configuration (dicts, lists, dataclasses).

    The configurations of :mod:`karstsink.config` and :mod:`karstsink.mapping.config`
    hold every input file as a ``Path`` (names such as ``"phreeqc.dat"`` stay strings);
    ``skip`` names top-level keys to leave out (the output folder).
    """
    import dataclasses

    found: list[Path] = []
    skip = set(skip)

    def walk(value: object, top: bool = False) -> None:
        if isinstance(value, Path):
            found.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                if not (top and k in skip):
                    walk(v)
        elif isinstance(value, (list, tuple, set)):
            for v in value:
                walk(v)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                if not (top and f.name in skip):
                    walk(getattr(value, f.name))

    walk(config, top=True)
    return found


def is_karstsink_output(folder: str | os.PathLike) -> bool:
    """True for a folder karstsink wrote: it holds :data:`MARKER`, or (outputs of
    earlier versions) a ``run.json`` or ``model.json`` naming ``karstsink_version``."""
    folder = Path(folder)
    if (folder / MARKER).is_file():
        return True
    for name in ("run.json", "model.json"):
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads((folder / name).read_text(encoding="utf-8"))
            if isinstance(doc, dict) and "karstsink_version" in doc:
                return True
    return False


def _check_parents(path: str | os.PathLike, what: str) -> None:
    """Refuse an output whose folder cannot be made: an existing parent is a file."""
    for parent in Path(os.path.expanduser(os.fspath(path))).absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise OutputError(f"{path}: its folder {parent} is a file, not a folder, so "
                                  f"the {what} cannot be written there; choose another "
                                  f"output path (-o).")
            return


def check_output_dir(out_dir: str | os.PathLike, *, overwrite: bool = True,
                     inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse an output folder that would destroy an input or results not meant to go.

    Parameters
    ----------
    out_dir : path-like
        The output folder (it need not exist).
    overwrite : bool
        False: an existing, non-empty folder is refused. True: it is replaced as a
        whole, but only when karstsink wrote it (:func:`is_karstsink_output`).
    inputs : iterable of path-like
        Input files (and folders) of the run: the output folder may be neither one
        of them nor hold one.

    Raises
    ------
    OutputError
        Naming the folder, the input it would replace, and what to do instead.
    """
    _check_parents(out_dir, "output folder")
    dest = _real(out_dir)
    for item in inputs:
        src = _real(item)
        if _same(src, dest) or dest in src.parents:
            what = "is" if _same(src, dest) else "holds"
            raise OutputError(f"{out_dir}: the output folder {what} the input {item}; "
                              "writing it would replace the input. Choose another output "
                              "folder (-o).")
    if dest.exists() and not dest.is_dir():
        raise OutputError(f"{out_dir}: exists and is not a folder; choose another output "
                          "folder (-o).")
    if not dest.is_dir() or not any(dest.iterdir()):
        return
    if not overwrite:
        raise OutputError(f"{out_dir}: the output folder exists and is not empty; add "
                          "--overwrite to replace it as a whole (its earlier files are "
                          "deleted), or choose another output folder (-o).")
    if not is_karstsink_output(dest):
        raise OutputError(f"{out_dir}: the folder holds files karstsink did not write (no "
                          f"{MARKER} in it), so it is not replaced; empty it yourself or "
                          "choose another output folder (-o).")


def check_output_file(output: str | os.PathLike, *, overwrite: bool = True,
                      inputs: Iterable[str | os.PathLike] = (),
                      companions: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse an output file that is an input, or exists while ``overwrite`` is False.

    ``companions`` are files written with it (``OUTPUT.meta.json``): checked the same way.

    Raises
    ------
    OutputError
        Naming the file and what to do instead.
    """
    inputs = [Path(p) for p in inputs]
    for path in (Path(output), *map(Path, companions)):
        _check_parents(path, "output file")
        dest = _real(path)
        for item in inputs:
            if _same(_real(item), dest):
                raise OutputError(f"{path}: is the input {item}; writing it would replace "
                                  "the input. Choose another output file (-o).")
        if dest.is_dir():
            raise OutputError(f"{path}: is a folder; give a file name (-o OUTPUT.csv).")
        if dest.exists() and not overwrite:
            raise OutputError(f"{path}: exists; add --overwrite to replace it, or choose "
                              "another output file (-o).")


# --------------------------------------------------------------------------------------
# atomic writers
# --------------------------------------------------------------------------------------
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    The temporary file lives in the destination folder so the final
    :func:`os.replace` is atomic on POSIX and Windows.  On any exception the
    temporary file is removed and the destination is left as it was.
    """
    with atomic_paths(path) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """:func:`atomic_path` for files that belong together (a table and its metadata):
    all of them are renamed into place, or (on any exception) none.

    SIGINT and SIGTERM arriving during the renames are held until the last one is
    done; a rename that fails puts back what the earlier ones replaced.
    """
    dests = [Path(p) for p in paths]
    tmps: list[Path] = []
    try:
        for dest in dests:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp",
                                        dir=dest.parent)
            os.close(fd)
            tmps.append(Path(name))
            # mkstemp makes the file private (0600); give it the mode a plain open() would
            os.chmod(name, 0o666 & ~_UMASK)
        yield tmps
        with _signals_held(dests):
            _replace_all(tmps, dests)
    except BaseException as err:
        for tmp in tmps:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        if isinstance(err, OSError) and err.filename is None and err.errno is not None:
            # a system error without a file (a full disk in write()): name the output
            err.filename = " and ".join([str(dests[0]), *(d.name for d in dests[1:])])
        raise


def _replace_all(tmps: list[Path], dests: list[Path]) -> None:
    if len(dests) == 1:
        os.replace(tmps[0], dests[0])
        return
    done: list[tuple[Path, Path | None]] = []  # (destination, its previous file set aside)
    try:
        for tmp, dest in zip(tmps, dests, strict=True):
            old = None
            if dest.exists():
                fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".old",
                                            dir=dest.parent)
                os.close(fd)
                old = Path(name)
                os.replace(dest, old)
            done.append((dest, old))
            os.replace(tmp, dest)
    except BaseException:
        for dest, old in reversed(done):
            with contextlib.suppress(OSError):
                if old is not None:
                    os.replace(old, dest)
                else:
                    dest.unlink()
        raise
    for _, old in done:
        if old is not None:
            with contextlib.suppress(OSError):
                old.unlink()


#: outputs committed while a signal was held (:func:`written_before_interrupt`)
_COMMITTED: list[Path] = []


def written_before_interrupt() -> list[Path]:
    """The outputs whose commit a SIGINT or SIGTERM arrived during and waited for: written
    in full just before the interrupt took effect (cleared by the call)."""
    done = list(_COMMITTED)
    _COMMITTED.clear()
    return done


@contextlib.contextmanager
def _signals_held(dests: list[Path]) -> Iterator[None]:
    """Hold SIGINT and SIGTERM (their handlers run when the block ends), in the main thread;
    elsewhere signal handlers cannot be changed and the block runs as it is.  A signal
    held while ``dests`` were committed records them (:func:`written_before_interrupt`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    sigs = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {sig: signal.signal(sig, lambda signum, _frame: pending.append(signum))
                for sig in sigs}
    committed = False
    try:
        yield
        committed = True
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if pending:
            if committed:
                _COMMITTED.extend(dests)
            signal.raise_signal(pending[0])


@contextlib.contextmanager
def atomic_dir(out_dir: str | os.PathLike, *, overwrite: bool = True,
               inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Yield a temporary sibling folder; on success it replaces ``out_dir`` as a whole.

    Either every file appears in ``out_dir`` and no file of an earlier run is
    left there, or (on any exception, Ctrl-C or SIGTERM included) nothing changes
    and the temporary folder is removed. :data:`MARKER` is written into the folder.
    :func:`check_output_dir` runs first (with ``overwrite`` and ``inputs``) and again
    just before the swap.

    Parameters
    ----------
    out_dir : path-like
        The output folder; a symbolic link to a folder is followed (the link stays).
    overwrite : bool
        See :func:`check_output_dir` (the default replaces only karstsink's own
        output folders).
    inputs : iterable of path-like
        Inputs the output folder must neither be nor hold.
    """
    inputs = list(inputs)
    check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)
    dest = _real(out_dir)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes it private (0700)
        yield tmp
        (tmp / MARKER).write_text("Written by karstsink; --overwrite replaces this folder "
                                  "as a whole.\n", encoding="utf-8")
        check_output_dir(out_dir, overwrite=overwrite, inputs=inputs)
        with _signals_held([dest]):
            _swap_in(tmp, dest)
    except OSError as err:
        if err.filename is None and err.errno is not None:  # a full disk in write():
            err.filename = str(dest)  # name the output folder
        elif isinstance(err.filename, str) and err.filename.startswith(str(tmp)):
            # a file in the temporary folder (deleted below): named as it would have been
            err.filename = str(dest) + err.filename[len(str(tmp)):]
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, dest: Path) -> None:
    """Rename ``tmp`` onto ``dest`` (absent, empty, or an output folder already checked)."""
    try:
        os.rename(tmp, dest)  # absent or empty destination: one atomic step
        return
    except OSError as err:
        if err.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EBUSY, errno.EXDEV,
                             errno.EACCES, errno.EPERM) or not dest.is_dir():
            raise
    aside = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    try:
        try:
            os.rename(dest, aside / "previous")
        except OSError:  # a mount point or a folder we may not move: replace its contents
            _replace_contents(tmp, dest)
            return
        try:
            os.rename(tmp, dest)
        except BaseException:
            os.rename(aside / "previous", dest)
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _replace_contents(tmp: Path, dest: Path) -> None:
    for item in list(dest.iterdir()):
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()
    for item in sorted(tmp.iterdir()):
        shutil.move(str(item), str(dest / item.name))


def peak_rss_mb() -> float | None:
    """This process's peak resident memory [MB] (None where the OS does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # bytes on macOS
    return round(kb / (1024 ** 2 if sys.platform == "darwin" else 1024), 1)
