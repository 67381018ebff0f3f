"""Benchmark WRTDS on the Choptank record (EGRET's example: 32 years, 606 samples, 11,688 days).

Measures, in one run:

1. the batched WRTDS surface (``estimate_surfaces``: 14 x 529 = 7,406 regressions);
2. the same surface from a straightforward per-grid-point loop (one weighted
   regression, or censored maximum-likelihood fit, per point, windows widened in
   a ``while`` loop: what EGRET's ``runSurvReg`` does), checking both agree;
3. the whole ``estimate_wrtds`` (surface, daily values, flow normalisation,
   cross-validation, block bootstrap with the default replicate count);
4. the whole ``karstsink flux --method wrtds`` command (subprocess: start-up,
   reading, estimate, aggregation, sink, plots, writing), if the CLI is there;
5. the trend tools (runPairs, runGroups, flow normalisation, WRTDS-Kalman) and 100
   bootstrap replicates of a pairs and a groups test, as ratios to a WRTDS fit
   without bootstrap measured in the same run, and beside each bootstrap EGRETci's
   time for 100 replicates of the same kind of test (the project's EGRETci 2.0.5 run
   on this machine, ``data/reference/egret/choptank/*_time.txt``, not this run);

and prints the ratios.  EGRET's ``modelEstimation`` time (50.9 s on this record) comes
from the project's run of EGRET 3.0.12 on this machine (``data/reference/egret/choptank/``),
not from this run; the ratio against it is indicative only.

Usage::

    .venv/bin/python benchmarks/bench_flux.py [--loop-every N] [--jobs N]

``--loop-every N`` runs the loop on every N-th time column only and scales its
time up (default 1: the whole grid, several minutes).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "reference" / "choptank"
#: EGRET 3.0.12 modelEstimation (defaults) on Choptank, R 4.2.2, this machine at load 1.4:
#: 50.9 s wall, 45.6 s CPU (data/reference/egret/choptank/README.md; an older estimate was 106 s)
EGRET_MODEL_ESTIMATION_S = 50.9
AREA_KM2 = 292.67
EGRETCI_DIR = ROOT / "data" / "reference" / "egret" / "choptank"  # EGRETci 2.0.5 run, README


def load():
    q = pd.read_csv(DATA / "choptank_daily_Q.csv", comment="#", parse_dates=["date"])
    s = pd.read_csv(DATA / "choptank_sample_nitrate.csv", comment="#", parse_dates=["date"])
    daily = pd.DataFrame(
        {"discharge_m3s": q["Qdaily"].to_numpy(float)},
        index=pd.DatetimeIndex(q["date"], name="date"),
    )
    samples = pd.DataFrame(
        {
            "date": s["date"],
            "conc_mg_L": s["value"].astype(float),
            "censored": s["remark"].fillna("").astype(str).str.strip().eq("<"),
        }
    )
    return daily, samples, q, s


def timed(func, repeat=1):
    best_wall, best_cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        c0, w0 = time.process_time(), time.perf_counter()
        out = func()
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return out, best_wall, best_cpu


def _children_cpu() -> float:
    """CPU seconds [s] of finished child processes (bootstrap workers, the CLI)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop-every", type=int, default=1, help="loop over every N-th time column")
    ap.add_argument("--jobs", type=int, default=None, help="bootstrap processes (default: all)")
    ap.add_argument("--skip-loop", action="store_true", help="skip the per-point loop")
    args = ap.parse_args()

    from karstsink.flux._wrtds_core import Samples, Settings
    from karstsink.flux._wrtds_solve import single_thread_blas
    from karstsink.flux._wrtds_surface import (
        decimal_high_low,
        decimal_year,
        estimate_surfaces,
        surface_grid,
    )

    daily, samples, q_raw, s_raw = load()
    print(
        f"Choptank: {len(daily)} days, {len(samples)} samples "
        f"({int(samples['censored'].sum())} censored), {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    q = daily["discharge_m3s"].to_numpy()
    t_day = decimal_year(daily.index)
    grid = surface_grid(t_day, np.log(q))
    pos = daily.index.get_indexer(samples["date"])
    smp = Samples(
        decimal_year(samples["date"]),
        np.log(q[pos]),
        np.log(samples["conc_mg_L"].to_numpy()),
        samples["censored"].to_numpy(bool),
    )
    sd = pd.DatetimeIndex(samples["date"])
    lo, hi = decimal_high_low(smp.t[0], int(sd.month[0]), smp.t[-1], int(sd.month[-1]))
    cfg = Settings()

    # 1. batched surface
    with single_thread_blas():
        (surf, fit), vec_wall, vec_cpu = timed(
            lambda: estimate_surfaces(grid, smp, cfg, lo, hi), repeat=3
        )
    n_pts = grid.n_log_q * grid.n_year
    print(
        f"\n1. batched surface: {n_pts} regressions ({fit.n_censored_fits} censored MLE) "
        f"in {vec_wall:.3f} s wall, {vec_cpu:.3f} s CPU"
    )

    # 2. per-point loop on the same grid (every N-th time column)
    if args.skip_loop:
        print("2. per-point loop: skipped")
    else:
        _loop(args, grid, smp, cfg, lo, hi, surf, vec_wall, vec_cpu)
    _whole(args, daily, samples, q_raw, s_raw)
    _trends(args, daily, samples)


def _trends(args, daily, samples) -> None:
    """5. Trend tools (issue 14), as ratios to a WRTDS fit without bootstrap in this run."""
    from karstsink.flux._kalman import wrtds_kalman
    from karstsink.flux._trend_boot import bootstrap_trend
    from karstsink.flux.trends import run_groups, run_pairs, trend_annual, trend_context
    from karstsink.flux.wrtds import estimate_wrtds

    est, base, _ = timed(lambda: estimate_wrtds(daily, samples, bootstrap=0), repeat=2)
    ctx = trend_context(est)
    print(f"\n5. trends on Choptank; baseline estimate_wrtds(bootstrap=0) {base:.2f} s wall")
    steps = [
        ("runPairs 1985->2010, windowSide 0", lambda: run_pairs(ctx, 1985, 2010)),
        ("runPairs 1985->2010, windowSide 7", lambda: run_pairs(ctx, 1985, 2010, window_side=7)),
        ("runGroups WY 1980-1994 / 1996-2010, windowSide 7",
         lambda: run_groups(ctx, (1980, 1994), (1996, 2010), window_side=7)),
        ("annual FN + GFN (windowSide 7)", lambda: trend_annual(ctx, window_side=7)),
        ("WRTDS-Kalman rho 0.9, niter 200", lambda: wrtds_kalman(est, seed=1)),
    ]
    for name, func in steps:
        _, wall, _ = timed(func, repeat=2)
        print(f"   {name}: {wall:.3f} s wall = {wall / base:.2f} x baseline")
    pairs = run_pairs(ctx, 1985, 2010, window_side=7)
    # EGRET's runGroups(group1firstYear 1980, group1lastYear 1995, 1996, 2011): WY 1980-1994 and
    # 1996-2010 (years selected by DecYear), see data/reference/egret/choptank/README.md
    groups = run_groups(ctx, (1980, 1994), (1996, 2010), window_side=7)
    egretci = _egretci_times()
    for name, res in (("runPairsBoot", pairs), ("runGroupsBoot", groups)):
        kids0 = _children_cpu()
        out, wall, cpu = timed(lambda r=res: bootstrap_trend(ctx, r, n_boot=100, seed=1,
                                                               jobs=args.jobs))
        kids = _children_cpu() - kids0
        b = out.info["bootstrap"]
        print(f"   {name} 100 replicates ({b['jobs']} processes): {wall:.2f} s wall "
              f"= {wall / base:.1f} x baseline; CPU {cpu:.2f} s here + {kids:.2f} s in "
              f"workers (target < 60 s on 2 cores)")
        if name in egretci:
            e_wall, e_cpu, e_ws, e_n = egretci[name]
            scaled = "" if e_n == 100 else f", scaled from {e_n} replicates"
            print(f"      vs EGRETci {name}(nBoot = 100, windowSide {e_ws}, serial) "
                  f"{e_wall:.0f} s wall, {e_cpu:.0f} s CPU (the project's reference run on this "
                  f"machine, not this run{scaled}): {e_wall / wall:.0f}x wall")


def _egretci_times() -> dict[str, tuple[float, float, str, int]]:
    """Wall and CPU time [s] of the stored EGRETci runs for 100 replicates (``*_time.txt``
    beside their outputs; a run of fewer replicates is scaled to 100), windowSide, replicates."""
    out: dict[str, tuple[float, float, str, int]] = {}
    files = sorted(EGRETCI_DIR.glob("choptank_run*Boot_ws*_time.txt"), reverse=True)
    for f in files:  # windowSide 7 first: the bootstrap timed above uses 7
        kv = dict(line.split(" ", 1) for line in f.read_text().splitlines() if " " in line)
        name = f.name.split("_")[1]  # runPairsBoot / runGroupsBoot
        ws = f.name.split("_ws")[1].split("_")[0]
        n = int(kv.get("n_boot", "100"))
        if name not in out and "wall_s" in kv:
            k = 100 / n
            out[name] = (float(kv["wall_s"]) * k, float(kv.get("cpu_user_s", "nan")) * k, ws, n)
    return out


def _loop(args, grid, smp, cfg, lo, hi, surf, vec_wall, vec_cpu) -> None:
    from karstsink.flux._wrtds_loop import fit_points_loop

    cols = np.arange(0, grid.n_year, args.loop_every)
    tt, qq = np.meshgrid(grid.year[cols], grid.log_q)
    (yhat_loop, _se), loop_wall, loop_cpu = timed(
        lambda: fit_points_loop(tt.ravel(), qq.ravel(), smp, cfg, lo, hi)
    )
    scale = grid.n_year / cols.size
    diff = np.max(np.abs(yhat_loop.reshape(tt.shape) - surf[0][:, cols]))
    note = (
        "" if args.loop_every == 1 else f" (on {cols.size} of {grid.n_year} columns, x{scale:.2f})"
    )
    print(
        f"2. per-point loop: {loop_wall * scale:.1f} s wall, {loop_cpu * scale:.1f} s CPU{note}; "
        f"max |yhat difference| {diff:.1e} ln units"
    )
    print(
        f"   -> batched surface is {loop_cpu * scale / vec_cpu:.0f}x faster (CPU), "
        f"{loop_wall * scale / vec_wall:.0f}x (wall)"
    )


def _whole(args, daily, samples, q_raw, s_raw) -> None:
    from karstsink.flux.wrtds import DEFAULT_BOOTSTRAP, estimate_wrtds

    # 3. the whole estimator, default bootstrap
    kids0 = _children_cpu()
    est, est_wall, est_cpu = timed(lambda: estimate_wrtds(daily, samples, jobs=args.jobs, seed=1))
    kids_cpu = _children_cpu() - kids0
    rt = est.model["run_time_s"]
    print(
        f"\n3. estimate_wrtds (bootstrap {DEFAULT_BOOTSTRAP} replicates, "
        f"{est.model['interval']['jobs']} processes): {est_wall:.2f} s wall "
        f"(surface {rt['surface']:.2f}, cross-validation {rt['cross_validation']:.2f}, "
        f"bootstrap {rt['bootstrap']:.2f} overlapped); CPU {est_cpu:.2f} s here + "
        f"{kids_cpu:.2f} s in workers"
    )
    print(
        f"   vs EGRET modelEstimation {EGRET_MODEL_ESTIMATION_S:.0f} s (reference run on this "
        f"machine class, not this run): {EGRET_MODEL_ESTIMATION_S / est_wall:.0f}x"
    )

    # 4. the whole command
    try:
        import karstsink.cli._flux  # noqa: F401
    except ImportError:
        print("\n4. karstsink flux: CLI not available, skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pd.DataFrame(
            {"date": q_raw["date"].dt.strftime("%Y-%m-%d"), "discharge": q_raw["Qdaily"]}
        ).to_csv(tmp / "q.csv", index=False)
        vals = np.where(
            s_raw["remark"].fillna("").astype(str).str.strip().eq("<"),
            "<" + s_raw["value"].astype(str),
            s_raw["value"].astype(str),
        )
        pd.DataFrame({"date": s_raw["date"].dt.strftime("%Y-%m-%d"), "no3n": vals}).to_csv(
            tmp / "s.csv", index=False
        )
        exe = Path(sys.executable).with_name("karstsink")
        cmd = [
            str(exe), "flux", "--discharge", str(tmp / "q.csv"), "--q-unit", "m3/s",
            "--samples", str(tmp / "s.csv"), "--constituent", "no3n", "--units", "mg/L",
            "--area", str(AREA_KM2), "--method", "wrtds", "-o", str(tmp / "out"),
        ]  # fmt: skip
        kids0 = _children_cpu()
        w0 = time.perf_counter()
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        cli_wall = time.perf_counter() - w0
        cli_cpu = _children_cpu() - kids0
        if res.returncode != 0:
            print(f"\n4. karstsink flux failed ({res.returncode}): {res.stderr.strip()[-300:]}")
            return
        n_files = sum(1 for p in (tmp / "out").rglob("*") if p.is_file())
    print(
        f"\n4. karstsink flux --method wrtds (whole command, {n_files} files incl. plots): "
        f"{cli_wall:.2f} s wall, {cli_cpu:.2f} s CPU in all its processes"
    )
    print(
        f"   vs EGRET modelEstimation {EGRET_MODEL_ESTIMATION_S:.0f} s (reference run, not "
        f"this run): {EGRET_MODEL_ESTIMATION_S / cli_wall:.1f}x  (target >= 20x)"
    )


if __name__ == "__main__":
    main()
