"""Worker processes: how many, how they start, and what they warn.

The parallel stages that run plain Python work in worker processes (the
PHREEQC chunks of :mod:`karstsink.chemistry.engine`, the WRTDS bootstrap
replicates of :mod:`karstsink.flux`) ask the same three questions here:

- :func:`default_jobs`: how many workers when the user gives no ``jobs``, the
  CPUs this process may run on (its affinity mask, which containers and
  ``taskset`` narrow), not all the machine's CPUs;
- :func:`mp_context`: ``fork`` where it is safe (Linux, one thread: the workers
  start in milliseconds with everything imported), else ``forkserver`` or
  ``spawn`` (which re-import the worker's module by name);
- :func:`call_recording_warnings` and :func:`reemit`: a warning raised in a
  worker comes back with its result and is raised again in the calling
  process, where the user's warning filters, the stage warnings of a run and
  the test suite's ``error`` filter see it, instead of being printed by the
  worker beside the progress bar.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["WarningRecord", "call_recording_warnings", "default_jobs", "mp_context", "reemit"]

#: One warning raised in a worker: (message, category).
WarningRecord = tuple[str, type[Warning]]


def default_jobs() -> int:
    """Number of CPUs this process may use (>= 1): the default number of workers."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def mp_context() -> multiprocessing.context.BaseContext:
    """``fork`` where it is safe (Linux, one thread), else ``forkserver`` or ``spawn``.

    Forking a process that runs other threads can copy a lock one of them holds
    (in a BLAS, GDAL or logging) and hang the child, so a process with threads
    starts its workers fresh.
    """
    methods = multiprocessing.get_all_start_methods()
    if sys.platform.startswith("linux") and threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


def call_recording_warnings(fn: Callable[..., Any], *args: Any
                            ) -> tuple[Any, list[WarningRecord]]:
    """``fn(*args)`` and the warnings it raised, each distinct (message, category) once.

    Meant to run in a worker (a module-level function, so it pickles); give its
    records to :func:`reemit` in the calling process.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args)
    records = list(dict.fromkeys((str(w.message), w.category) for w in caught))
    return result, records


def reemit(records: Iterable[WarningRecord]) -> None:
    """Raise the warnings recorded in a worker again, in this process."""
    for message, category in records:
        warnings.warn(message, category, stacklevel=2)
