"""Progress bars for long steps (tqdm on stderr), off unless the command line turns them on.

Library calls and tests stay silent: bars are shown only inside :func:`bars_enabled`,
which the CLI enters when stderr is a terminal (or with ``-v``) and never with ``-q``.
Any layer may wrap a loop in :func:`progress`; outside :func:`bars_enabled`, in worker
processes and in other threads it costs nothing.

Examples
--------
>>> from karstsink.io.progress import progress
>>> with progress(3, "replicates") as bar:   # silent: bars are not enabled
...     for _ in range(3):
...         bar.update()
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["bars_enabled", "make_bar", "progress"]

_state: dict[str, Any] = {"on": False, "thread": None}


class _Silent:
    """A stand-in bar: ``update`` and ``set_postfix_str`` do nothing."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


@contextmanager
def bars_enabled(on: bool = True) -> Iterator[None]:
    """Show the bars of :func:`progress` (in this thread of the main process) while inside.

    Parameters
    ----------
    on : bool
        ``False`` leaves them off (so a caller can pass its ``-q``/TTY decision).
    """
    before = dict(_state)
    _state.update(on=bool(on), thread=threading.get_ident())
    try:
        yield
    finally:
        _state.update(before)


def _shown() -> bool:
    return (bool(_state["on"]) and _state["thread"] == threading.get_ident()
            and multiprocessing.parent_process() is None)


def make_bar(total: int | None, desc: str, *, unit: str = "", show: bool | None = None) -> Any:
    """A progress bar on stderr (a tqdm bar, or a silent stand-in), to close when done.

    Parameters
    ----------
    total : int or None
        Number of steps (``None``: unknown, a counter is shown).
    desc : str
        What is being done, e.g. ``"WRTDS bootstrap"``.
    unit : str
        Unit of a step (``"replicate"``, ``"block"``).
    show : bool, optional
        Draw it or not; default: only inside :func:`bars_enabled`, in its thread
        of the main process.  tqdm is imported only for a bar that is drawn.

    Returns
    -------
    object
        With ``update(n)``, ``set_postfix_str(text)`` and ``close()``; also a
        context manager that closes it.
    """
    if not (_shown() if show is None else show):
        return _Silent()
    from tqdm import std as tqdm_std
    from tqdm.auto import tqdm

    # no monitor thread: a thread alive when worker processes are forked is unsafe
    tqdm_std.tqdm.monitor_interval = 0
    opts = {"total": total, "desc": desc, "unit": f" {unit}" if unit else "", "leave": False,
            "file": sys.stderr, "mininterval": 0.5}
    try:
        return tqdm(**opts, delay=2.0)  # no bar at all for a step shorter than 2 s
    except TypeError:  # tqdm < 4.61 has no delay
        return tqdm(**opts)


@contextmanager
def progress(total: int | None, desc: str, *, unit: str = "") -> Iterator[Any]:
    """A progress bar on stderr for a loop of ``total`` steps (an object with ``update(n)``).

    ``total``, ``desc`` and ``unit`` as :func:`make_bar` takes them.

    Yields
    ------
    object
        A tqdm bar, or a silent stand-in when bars are off (see :func:`make_bar`).
        The bar is removed from the terminal when the block ends.
    """
    bar = make_bar(total, desc, unit=unit)
    try:
        yield bar
    finally:
        bar.close()
