"""Worker processes for :mod:`karstsink.chemistry.engine`: started once, fed chunks in order.

A :class:`WorkerPool` forks (or spawns) its workers when it is created; each
worker builds one :class:`~karstsink.chemistry.engine.PhreeqcEngine` (database
loaded, names probed) and keeps it for every chunk it is given.  Chunks are
submitted a few at a time (a window of two per worker) and their results come
back in input order, so memory stays bounded and the caller can use each
result as soon as it and all before it are done.

A pool opened with ``with WorkerPool(spec, jobs):`` is *active*: every
:func:`~karstsink.chemistry.engine.run_chunks` call with the same engine and
``jobs`` inside the block uses it instead of starting its own (the
``karstsink speciate`` command starts it before reading the input, so the
workers' start-up overlaps the reading).
"""

from __future__ import annotations

import collections
import concurrent.futures
import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._workers import mp_context
from ..exceptions import DataError, SpeciationError

#: Samples per PHREEQC run by default (see :func:`chunk_length`).
DEFAULT_CHUNK_SIZE = 2000

_ACTIVE: list[WorkerPool] = []

_BROKEN = ("A PHREEQC worker process died (out of memory or a crash in PHREEQC); "
           "re-run with jobs=1 to find the sample, or with fewer jobs.")


def _ready() -> bool:
    return True


class WorkerPool:
    """``jobs`` worker processes, each with one PHREEQC engine built from ``spec``.

    Parameters
    ----------
    spec : EngineSpec
        What every worker builds (:attr:`PhreeqcEngine.spec`).
    jobs : int
        Number of worker processes (>= 1).
    initializer : callable
        Run once in every worker with ``spec`` (builds the worker's engine).

    Notes
    -----
    Use it as a context manager: inside the ``with`` block the pool is active
    (see the module notes) and it is shut down at the end.
    """

    def __init__(self, spec: Any, jobs: int, initializer: Callable[[Any], None]) -> None:
        if jobs < 1:
            raise DataError(f"jobs must be >= 1, got {jobs!r}")
        self.spec = spec
        self.jobs = int(jobs)
        ctx = mp_context()
        self.start_method = ctx.get_start_method()
        self._executor = concurrent.futures.ProcessPoolExecutor(
            max_workers=self.jobs, mp_context=ctx, initializer=initializer, initargs=(spec,))
        # start every worker now (not at the first chunk): their start-up overlaps the caller
        for _ in range(self.jobs):
            self._executor.submit(_ready)
        self.broken = False

    def get(self) -> WorkerPool:
        """This pool (the interface of :class:`LazyPool`)."""
        return self

    def imap(self, fn: Callable[..., Any], items: Iterable[tuple[Any, ...]],
             window: int | None = None) -> Iterator[Any]:
        """``fn(*item)`` for every item, run in the workers; results in input order.

        The first ``window`` items (default two per worker) are submitted at
        once, before the first result is asked for; after that at most
        ``window`` are in flight, so the inputs of a long run are not all
        queued at once.
        """
        window = max(1, window or 2 * self.jobs)
        source = iter(items)
        pending: collections.deque[concurrent.futures.Future[Any]] = collections.deque()
        for item in source:
            pending.append(self._executor.submit(fn, *item))
            if len(pending) >= window:
                break
        return self._drain(fn, source, pending, window)

    def _drain(self, fn: Callable[..., Any], source: Iterator[tuple[Any, ...]],
               pending: collections.deque[concurrent.futures.Future[Any]],
               window: int) -> Iterator[Any]:
        try:
            while pending:
                yield self.result(pending.popleft())
                for item in source:
                    pending.append(self._executor.submit(fn, *item))
                    if len(pending) >= window:
                        break
        finally:
            for fut in pending:  # the caller stopped early or a chunk failed
                fut.cancel()

    def map(self, fn: Callable[..., Any], items: Iterable[tuple[Any, ...]]) -> list[Any]:
        """``list(self.imap(fn, items))``."""
        return list(self.imap(fn, items))

    def result(self, fut: concurrent.futures.Future[Any]) -> Any:
        """``fut.result()``; a dead worker raises :class:`SpeciationError`."""
        try:
            return fut.result()
        except concurrent.futures.process.BrokenProcessPool as err:
            self.broken = True
            raise SpeciationError(_BROKEN) from err

    def close(self, *, wait: bool = True) -> None:
        """Shut the workers down (waits for running chunks, drops queued ones).

        ``wait=False`` (an interrupt): the workers are killed and nothing is waited
        for; a worker killed half-way through sending a chunk's results would leave
        the executor's own threads waiting on the pipe for ever.
        """
        if wait:
            self._executor.shutdown(wait=True, cancel_futures=True)
        else:
            procs = list((getattr(self._executor, "_processes", None) or {}).values())
            self._executor.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                proc.kill()
            for proc in procs:
                proc.join(timeout=2)
        if self in _ACTIVE:
            _ACTIVE.remove(self)

    def __enter__(self) -> WorkerPool:
        _ACTIVE.append(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(wait=exc_type is None or not issubclass(exc_type, KeyboardInterrupt))


def active_pool(spec: Any, jobs: int) -> WorkerPool | None:
    """The newest active pool built from ``spec`` with ``jobs`` workers, if any."""
    for pool in reversed(_ACTIVE):
        if pool.spec == spec and pool.jobs == jobs and not pool.broken:
            return pool
    return None


class LazyPool:
    """An active matching pool, or one started at the first :meth:`get` (closed by :meth:`close`).

    Lets one :func:`karstsink.speciate` call run its central values and its
    Monte Carlo draws on the same workers, and start none when every run fits
    in one chunk.
    """

    def __init__(self, spec: Any, jobs: int, initializer: Callable[[Any], None]) -> None:
        self.spec, self.jobs, self._init = spec, int(jobs), initializer
        self._own: WorkerPool | None = None

    def get(self) -> WorkerPool:
        pool = active_pool(self.spec, self.jobs)
        if pool is not None:
            return pool
        if self._own is None or self._own.broken:
            if self._own is not None:
                self._own.close()
            self._own = WorkerPool(self.spec, self.jobs, self._init)
        return self._own

    def close(self, *, wait: bool = True) -> None:
        if self._own is not None:
            self._own.close(wait=wait)
            self._own = None

    def __enter__(self) -> LazyPool:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(wait=exc_type is None or not issubclass(exc_type, KeyboardInterrupt))


def chunk_length(n: int, jobs: int, chunk_size: int | None = None) -> int:
    """Samples per PHREEQC run for ``n`` samples on ``jobs`` workers.

    Default: :data:`DEFAULT_CHUNK_SIZE`, or fewer, down to 500, so that every
    worker gets at least two chunks (a fresh PHREEQC instance per chunk costs
    ~6 ms, 3 % of 500 samples).  :func:`chunk_bounds` starts from it and, by
    default on two or more workers, shrinks the last chunks.
    """
    if chunk_size is None:
        return min(DEFAULT_CHUNK_SIZE, max(500, math.ceil(n / (2 * jobs))))
    size = int(chunk_size)
    if size < 1:
        raise DataError(f"chunk_size must be >= 1, got {chunk_size!r}")
    return size


#: Smallest chunk of the shrinking tail of a default schedule (see :func:`chunk_bounds`).
MIN_TAIL_CHUNK = 250


def chunk_bounds(n: int, jobs: int, chunk_size: int | None = None) -> list[tuple[int, int]]:
    """Row ranges ``(a, b)`` of the PHREEQC runs for ``n`` samples on ``jobs`` workers.

    With ``chunk_size`` given, or one worker, every chunk has the size of
    :func:`chunk_length` (the last one the rest).  By default the chunks start
    at :func:`chunk_length` and shrink towards the end (guided self-scheduling,
    Polychronopoulos & Kuck 1987, IEEE Trans. Comput. 36:1425,
    doi:10.1109/TC.1987.5009495): each is at most the remaining
    samples over ``2 * jobs``, and at least :data:`MIN_TAIL_CHUNK` (the last one
    takes a remainder smaller than that), so the workers finish nearly together
    rather than one waiting for the other's last full chunk.

    Examples
    --------
    >>> [b - a for a, b in chunk_bounds(20000, 2)]
    [2000, 2000, 2000, 2000, 2000, 2000, 2000, 1500, 1125, 844, 633, 475, 356, 267, 250, 250, 300]
    >>> chunk_bounds(10, 2, chunk_size=4)
    [(0, 4), (4, 8), (8, 10)]
    """
    if n <= 0:
        return []
    size = chunk_length(n, jobs, chunk_size)
    if chunk_size is not None or jobs < 2:
        return [(a, min(a + size, n)) for a in range(0, n, size)]
    bounds, a = [], 0
    while a < n:
        rest = n - a
        step = min(size, max(MIN_TAIL_CHUNK, math.ceil(rest / (2 * jobs))))
        if rest - step < MIN_TAIL_CHUNK:
            step = rest
        bounds.append((a, a + step))
        a += step
    return bounds
