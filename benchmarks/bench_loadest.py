"""LOADEST exact load variance: vectorised pair sums against a per-pair loop, same run.

LOADEST's exact standard error of a period load sums the covariance of every pair of daily
estimates (O(N²) pairs, each a series in the residual standard deviation).  karstsink writes
the pair sum as a bilinear form over a Hankel matrix of gamma ratios and evaluates it in
blocks with BLAS.  This script times that against a straightforward loop over pairs (the
Fortran's structure, each pair's series evaluated with numpy) on the first days of LOADEST
application 7, checks they agree, and times the whole 3653-day period.

Run: ``.venv/bin/python benchmarks/bench_loadest.py``
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

from karstsink.exceptions import DataQualityWarning
from karstsink.flux import estimate
from karstsink.io.discharge import read_discharge
from karstsink.io.flux_samples import read_flux_samples

APP7 = Path(__file__).resolve().parents[1] / "data" / "reference" / "loadest" / "app7"


def per_pair_loop(est, X):
    """Sum of pair covariances with an explicit loop over (i, j), i <= j."""
    v, hank, e, f, _ = est._pair_terms(X)
    s2u = est.s2_u
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(i + 1):
            expvar = v[i] @ hank @ v[j]
            cross = X[i] @ est.c @ X[j]
            cov = np.exp(e[i] + e[j] + s2u * cross) * expvar - np.exp(f[i] + f[j])
            total += cov if i == j else 2.0 * cov
    return total


def main() -> None:
    q = read_discharge(APP7 / "app7_daily_Q_cfs.csv", q_unit="cfs")
    with warnings.catch_warnings():  # the file's 'value' column is the nitrate: known here
        warnings.simplefilter("ignore", DataQualityWarning)
        s = read_flux_samples(APP7 / "app7_sample_nitrate.csv", "no3", units="mg/L")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        res = estimate(q, s, "no3", method="loadest", model=9)
    fitobj = res.model["_fit"]
    est = fitobj._estimator
    X = res.model["_design"]
    n = 400
    t0 = time.perf_counter()
    loop = per_pair_loop(est, X[:n])
    t_loop = time.perf_counter() - t0
    t0 = time.perf_counter()
    vec = est._exact_variance(X[:n], block=512)
    t_vec = time.perf_counter() - t0
    print(f"{n} days ({n * (n + 1) // 2} pairs): per-pair loop {t_loop:.2f} s, "
          f"vectorised {t_vec * 1e3:.1f} ms, ratio {t_loop / t_vec:.0f}x, "
          f"relative difference {abs(vec - loop) / abs(loop):.1e}")
    t0 = time.perf_counter()
    st = fitobj.period(X)
    t_all = time.perf_counter() - t0
    print(f"whole period, {X.shape[0]} days: exact SEP in {t_all:.2f} s; mean load "
          f"{st['mean']:.1f} kg/d, 95 % {st['lo95']:.0f}-{st['hi95']:.0f} "
          "(LOADEST: 4689, 1075-13489)")


if __name__ == "__main__":
    main()
