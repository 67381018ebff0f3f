"""Block bootstrap of WRTDS (EGRETci's ``blockSample``), run in worker processes.

Every replicate is a block resample of the time-sorted samples, given to the
batched regressions as sample counts so that all replicates of a batch share
one matrix product per widening level (:func:`._wrtds_core.fit_points_counts`).
Replicates are seeded from one :class:`numpy.random.SeedSequence`: the same
seed gives the same replicates for any number of worker processes.  Workers
start as :func:`karstsink._workers.mp_context` says (``fork`` where it is safe),
and the warnings they raise are raised again in the calling process.
"""

from __future__ import annotations

import math
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from .._checks import whole_number
from .._seed import draws_problem
from .._workers import call_recording_warnings, default_jobs, mp_context, reemit
from ..exceptions import DataError
from ..io.progress import progress
from ..units import KG_DAY_PER_M3S_MG_L
from ._wrtds_core import Samples, Settings
from ._wrtds_solve import single_thread_blas
from ._wrtds_surface import Grid, estimate_surfaces, interp_surfaces

_EPOCH = np.datetime64("1850-01-01", "D")


#: Shortest bootstrap block [d]: a block takes the days start .. start + block_days - 2
#: (EGRETci's blockSample), so one of 1 day would take none and never end.
MIN_BLOCK_DAYS = 2


def check_block_days(block_days) -> int:
    """``block_days`` as an int of at least :data:`MIN_BLOCK_DAYS`, else a DataError."""
    return whole_number("block_days", block_days, MIN_BLOCK_DAYS,
                        hint="a block of days start to start + block_days - 2, as EGRETci's "
                             "blockSample; 200 by default")


def check_replicates(n_boot, *, allow_none: bool = False) -> int:
    """A bootstrap's replicate count: at least 2 (``allow_none``: 0 = no bootstrap, too)."""
    problem = draws_problem(n_boot, allow_none=allow_none)
    if problem:
        raise DataError(f"bootstrap {problem} (block-bootstrap replicates).")
    return int(n_boot)


def block_resample(day_number: np.ndarray, block_days: int, rng: np.random.Generator):
    """Indices of a block-bootstrap resample of time-sorted samples.

    As EGRETci's ``blockSample``: block starts are drawn uniformly from
    ``first - block_days + 1`` to ``last`` (day numbers); each block takes the
    samples with ``start <= day < start + block_days - 1`` clipped to the
    record, until more samples than the original are collected; the excess
    is cut and the result sorted in time.
    """
    block_days = check_block_days(block_days)
    n = day_number.size
    first, last = int(day_number[0]), int(day_number[-1])
    if n < 2 or first == last:
        raise DataError("block bootstrap needs samples on at least two different days")
    picked: list[np.ndarray] = []
    total = 0
    while total <= n:
        start = int(rng.integers(first - block_days + 1, last + 1))
        lo = max(start, first)
        hi = min(last, start + block_days - 1)
        i0 = np.searchsorted(day_number, lo, side="left")
        i1 = np.searchsorted(day_number, hi, side="left")
        if i1 > i0:
            picked.append(np.arange(i0, i1))
            total += int(i1 - i0)
    idx = np.concatenate(picked[::-1])[:n]  # EGRETci prepends blocks, cuts the tail
    return np.sort(idx, kind="stable")


def replicate_jobs(jobs: int | None, n_rep: int) -> int:
    """Worker processes for ``n_rep`` replicates: ``jobs`` (default: all CPUs), <= ``n_rep``."""
    return min(default_jobs() if jobs is None else max(1, int(jobs)), n_rep)


def run_replicates(worker, payload: dict, children: list, jobs: int | None) -> np.ndarray:
    """``worker(payload, batch)`` over ``children`` in one batch per process, rows in order.

    The replicates of every WRTDS bootstrap that does not overlap other work (trend
    confidence, flow-normalised bands) run through here; ``worker`` must be a module-level
    function so it pickles.
    """
    n_jobs = replicate_jobs(jobs, len(children))
    per = max(1, math.ceil(len(children) / n_jobs))
    chunks = [children[i:i + per] for i in range(0, len(children), per)]
    with progress(len(children), "WRTDS bootstrap", unit="replicate") as bar:
        if n_jobs > 1:
            with ProcessPoolExecutor(max_workers=n_jobs, mp_context=mp_context()) as pool:
                parts = []
                results = pool.map(call_recording_warnings, [worker] * len(chunks),
                                   [payload] * len(chunks), chunks)
                for (part, caught), chunk in zip(results, chunks, strict=True):
                    reemit(caught)
                    parts.append(part)
                    bar.update(len(chunk))
        else:
            parts = []
            for c in chunks:
                parts.append(worker(payload, c))
                bar.update(len(c))
    return np.concatenate(parts, axis=0)


def _boot_replicates(payload: dict, children: list) -> np.ndarray:
    """Daily fluxes [kg d⁻¹] of the bootstrap replicates seeded by ``children``."""
    with single_thread_blas():
        return _boot_fluxes(payload, children)


#: Redraws allowed for one bootstrap resample whose windows cannot reach the minimum counts.
_MAX_REDRAWS = 20


def redraw_failed(batch, payload: dict, children: list) -> np.ndarray:
    """``batch(payload, children)``; a resample that cannot be fitted is drawn again.

    A block resample can duplicate samples so unevenly that, at some surface
    point, no widening of the windows reaches the (relaxed) minimum counts,
    for instance when the duplicated samples lie exactly half a year from the
    point's season, where the capped seasonal window gives them zero weight.
    EGRET would widen forever there; here the batch is split to find that
    resample and only it is redrawn from a child of its own seed, so the
    result stays a function of ``seed`` alone.  Used by every WRTDS bootstrap
    (flux intervals, trend confidence, flow-normalised bands).
    """
    try:
        return batch(payload, children)
    except DataError:
        if len(children) > 1:
            mid = len(children) // 2
            return np.concatenate([redraw_failed(batch, payload, children[:mid]),
                                   redraw_failed(batch, payload, children[mid:])])
        child = children[0]
        for _ in range(_MAX_REDRAWS):
            child = child.spawn(1)[0]
            try:
                return batch(payload, [child])
            except DataError:
                continue
        raise


def _boot_fluxes(payload: dict, children: list) -> np.ndarray:
    """Daily-flux replicates for ``children`` (:func:`redraw_failed` over the batch)."""
    return redraw_failed(_boot_batch, payload, children)


def _boot_batch(payload: dict, children: list) -> np.ndarray:
    grid: Grid = payload["grid"]
    smp: Samples = payload["samples"]
    settings: Settings = payload["settings"]
    t_day, log_q, q = payload["t_day"], payload["log_q"], payload["q"]
    counts = np.zeros((len(children), smp.n))
    for r, child in enumerate(children):
        idx = block_resample(
            payload["day_num"], payload["block_days"], np.random.default_rng(child)
        )
        counts[r] = np.bincount(idx, minlength=smp.n)
    n_unc = counts[:, ~smp.censored].sum(axis=1)
    # EGRETci relaxes the minimum counts for resamples to min(default, n - 20).
    relax = max(1, smp.n - 20)
    min_obs = np.full(len(children), max(1, min(settings.min_obs, relax)))
    min_unc = np.maximum(1, np.minimum(min(settings.min_uncen, relax), n_unc)).astype(int)
    surf, _ = estimate_surfaces(
        grid,
        smp,
        settings,
        payload["dec_low"],
        payload["dec_high"],
        counts=counts,
        min_obs=min_obs,
        min_uncen=min_unc,
    )
    conc = interp_surfaces(surf[:, 2], grid, log_q, t_day)
    return np.where(q == 0.0, 0.0, conc * q * KG_DAY_PER_M3S_MG_L)


class _BootRun:
    """Block-bootstrap replicates computed in worker processes (or here, for one job)."""

    def __init__(
        self,
        grid,
        smp,
        s_dates,
        settings,
        dec_low,
        dec_high,
        t_day,
        log_q,
        q,
        n_rep,
        block_days,
        jobs,
        seed,
    ):
        self.children = np.random.SeedSequence(seed).spawn(n_rep)
        self.payload = {
            "grid": grid,
            "samples": smp,
            "settings": settings,
            "day_num": (s_dates.to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64),
            "t_day": t_day,
            "log_q": log_q,
            "q": q,
            "block_days": block_days,
            "dec_low": dec_low,
            "dec_high": dec_high,
        }
        self.n_jobs = replicate_jobs(jobs, n_rep)
        self._pool = None
        self._futures = []
        if self.n_jobs > 1:
            # one batch per worker: larger batches share more of the work per replicate
            per = math.ceil(n_rep / self.n_jobs)
            self._pool = ProcessPoolExecutor(max_workers=self.n_jobs, mp_context=mp_context())
            self._futures = [
                self._pool.submit(call_recording_warnings, _boot_replicates, self.payload,
                                  self.children[i : i + per])
                for i in range(0, n_rep, per)
            ]

    def collect(self) -> np.ndarray:
        """(n_rep, n_days) daily fluxes [kg d⁻¹], in seed order whatever the job count."""
        kids = self.children
        with progress(len(kids), "WRTDS bootstrap", unit="replicate") as bar:
            parts = []
            if self._pool is None:
                per = 25  # replicates per batch: bounds memory, keeps the matrix products large
                for i in range(0, len(kids), per):
                    parts.append(_boot_replicates(self.payload, kids[i : i + per]))
                    bar.update(len(parts[-1]))
            else:
                for f in self._futures:
                    part, caught = f.result()
                    reemit(caught)
                    parts.append(part)
                    bar.update(len(part))
        return np.concatenate(parts, axis=0)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
