"""Worker processes: the default count follows the CPU affinity, warnings come home."""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor

import pytest

from karstsink._workers import call_recording_warnings, default_jobs, mp_context, reemit
from karstsink.chemistry.engine import default_jobs as engine_default_jobs
from karstsink.flux.wrtds import default_jobs as wrtds_default_jobs


def _warns_twice(x: int) -> int:
    # the same warning twice and another one: each distinct warning comes back once
    warnings.warn("same", RuntimeWarning, stacklevel=1)
    warnings.warn("same", RuntimeWarning, stacklevel=1)
    warnings.warn(f"other {x}", UserWarning, stacklevel=1)
    return 2 * x


def test_one_default_job_count_for_every_stage():
    assert engine_default_jobs is default_jobs
    assert wrtds_default_jobs is default_jobs


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity here")
def test_default_jobs_follows_the_affinity_mask():
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})  # as `taskset -c N` or a 1-CPU container
        assert default_jobs() == 1
    finally:
        os.sched_setaffinity(0, allowed)
    assert default_jobs() == len(allowed)


def test_a_worker_warning_is_raised_again_in_the_caller():
    with ProcessPoolExecutor(max_workers=1, mp_context=mp_context()) as pool:
        result, caught = pool.submit(call_recording_warnings, _warns_twice, 21).result()
    assert result == 42
    assert caught == [("same", RuntimeWarning), ("other 21", UserWarning)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        reemit(caught)
    assert [(str(w.message), w.category) for w in seen] == caught


def test_the_callers_filters_decide():
    # the test suite turns warnings into errors: a re-raised worker warning fails the caller
    _, caught = call_recording_warnings(_warns_twice, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(RuntimeWarning, match="same"):
            reemit(caught)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reemit(caught)  # ignored here, as the caller asked
