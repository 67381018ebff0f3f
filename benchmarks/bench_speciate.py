"""Benchmark ``karstsink speciate`` (the whole command) and ``speciate`` against plain IPhreeqc.

Usage::

    .venv/bin/python benchmarks/bench_speciate.py [--n 20000] [--jobs 2] [--mem-n 100000]
        [--draws-n 2000] [--draws 50] [--repeat 3] [--skip-api] [--skip-loop]

Everything is measured in one run, against (b) one raw single-process IPhreeqc run of
the same solutions (``RunString`` + ``GetSelectedOutputString`` only: building the
input text is not timed, so this is the strictest single-process baseline), and with
``--jobs 2`` against (c) two such raw runs at once, half the solutions each (what two
cores of the machine give PHREEQC itself: the ceiling of any two-process run):

1. **the command end to end**: ``karstsink speciate IN.csv -o OUT.csv --jobs J`` as a
   subprocess (interpreter start-up, imports, reading, PHREEQC, writing the CSV and its
   metadata) on N samples, against (b) on the same N solutions (target >= 1.7 x with
   ``--jobs 2`` on 2 free cores);
2. the API, ``speciate(jobs=J)`` and ``speciate(jobs=1)``, against (b) and against (a) a
   loop calling PHREEQC once per sample (``--skip-api``, ``--skip-loop`` leave them out);
3. **Monte Carlo uncertainty**: ``speciate(draws=D)`` on ``--draws-n`` samples with the
   default uncertainties against (b) on the same ``draws-n x D`` drawn solutions
   (target >= 1.5 x for 2,000 x 50 on 2 cores);
4. **peak memory** of the command on ``--mem-n`` samples: the process tree sampled every
   50 ms with psutil (RSS, and PSS, which counts pages shared by forked workers once;
   target < 500 MB at 100,000), plus getrusage maxrss of the largest process.

Times are the best of ``--repeat`` runs, the command (or API) and (b) interleaved so both
see the same load; the load average is printed before and after.  karstsink's modules
are byte-compiled first (as a regular ``pip install`` leaves them; ``make`` does it for the
editable install), so no run recompiles them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd


def make_samples(n: int, seed: int = 42) -> pd.DataFrame:
    """``n`` synthetic karst waters (Guizhou-like ranges), canonical columns, mmol/L."""
    rng = np.random.default_rng(seed)
    ca = rng.uniform(0.5, 3.0, n)
    mg = rng.uniform(0.05, 1.5, n)
    na = rng.uniform(0.05, 0.5, n)
    k = rng.uniform(0.01, 0.1, n)
    cl = rng.uniform(0.05, 0.5, n)
    so4 = rng.uniform(0.05, 1.0, n)
    no3 = rng.uniform(0.02, 0.5, n)
    # alkalinity close to charge balance, +-5 %
    alk = (2 * (ca + mg) + na + k - cl - 2 * so4 - no3) * rng.uniform(0.95, 1.05, n)
    alk = np.clip(alk, 0.5, None)
    return pd.DataFrame({
        "sample_id": [f"S{i:06d}" for i in range(n)],
        "site": rng.choice(["Chenqi", "Banzhai", "Houzhai", "普定"], n),
        "temp_c": rng.uniform(8.0, 25.0, n),
        "ph": rng.uniform(6.8, 8.3, n),
        "ca_mmol_l": ca, "mg_mmol_l": mg, "na_mmol_l": na, "k_mmol_l": k,
        "cl_mmol_l": cl, "so4_mmol_l": so4, "no3_mmol_l": no3, "hco3_mmol_l": alk,
        "qa_flags": "",
    })


SELECTED = """SELECTED_OUTPUT 1
 -reset false
 -high_precision true
 -solution true
 -ionic_strength true
 -percent_error true
 -totals C(4)
 -molalities HCO3- CO3-2 CO2
 -saturation_indices Calcite Dolomite Gypsum CO2(g)
"""


def solution_text(row, number: int) -> str:
    return (f"SOLUTION {number}\n units mmol/l\n temp {row.temp_c!r}\n pH {row.ph!r}\n"
            f" Ca {row.ca_mmol_l!r}\n Mg {row.mg_mmol_l!r}\n Na {row.na_mmol_l!r}\n"
            f" K {row.k_mmol_l!r}\n Cl {row.cl_mmol_l!r}\n S(6) {row.so4_mmol_l!r}\n"
            f" N(5) {row.no3_mmol_l!r}\n Alkalinity {row.hco3_mmol_l!r}\n")


def _database() -> str:
    from karstsink.chemistry.database import resolve_database

    return str(resolve_database("phreeqc.dat").path)


def raw_single_run(df: pd.DataFrame) -> tuple[float, int]:
    """(b): all samples in one RunString, results as one string."""
    import phreeqc

    p = phreeqc.Phreeqc()
    p.LoadDatabase(_database())
    p.SetSelectedOutputStringOn(True)
    text = "".join(solution_text(r, i + 1) for i, r in enumerate(df.itertuples())) + SELECTED
    text += "END\n"
    c0 = time.process_time()
    t0 = time.perf_counter()
    nerr = p.RunString(text)
    out = p.GetSelectedOutputString()
    elapsed = time.perf_counter() - t0
    raw_single_run.cpu = time.process_time() - c0
    if nerr:
        raise RuntimeError(p.GetErrorString())
    return elapsed, out.count("\n") - 1


def _raw_half(df: pd.DataFrame, barrier, queue) -> None:
    """One of (c)'s two processes: build the text, wait for the other, then run it."""
    import phreeqc

    p = phreeqc.Phreeqc()
    p.LoadDatabase(_database())
    p.SetSelectedOutputStringOn(True)
    text = "".join(solution_text(r, i + 1) for i, r in enumerate(df.itertuples())) + SELECTED
    barrier.wait()
    t0 = time.perf_counter()
    nerr = p.RunString(text + "END\n")
    p.GetSelectedOutputString()
    queue.put((t0, time.perf_counter(), nerr))


def raw_two_processes(df: pd.DataFrame) -> float:
    """(c): two raw IPhreeqc processes, each one half of the solutions, at the same time.

    The wall time from the first start to the last end (``perf_counter`` is the
    system-wide monotonic clock on Linux).  (b) / (c) is what two cores of this
    machine give PHREEQC itself, with no reading, writing or start-up: the ceiling
    of any two-process run, the command's included.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    half = len(df) // 2
    procs = [ctx.Process(target=_raw_half, args=(part, barrier, queue))
             for part in (df.iloc[:half], df.iloc[half:])]
    for proc in procs:
        proc.start()
    times = [queue.get() for _ in procs]
    for proc in procs:
        proc.join()
    if any(t[2] for t in times):
        raise RuntimeError("PHREEQC failed in the two-process baseline")
    return max(t[1] for t in times) - min(t[0] for t in times)


def loop_per_sample(df: pd.DataFrame) -> tuple[float, int]:
    """(a): one RunString per sample, results fetched as a dict each time."""
    import phreeqc

    p = phreeqc.Phreeqc()
    p.LoadDatabase(_database())
    rows = 0
    t0 = time.perf_counter()
    for r in df.itertuples():
        if p.RunString(solution_text(r, 1) + SELECTED + "END\n"):
            raise RuntimeError(p.GetErrorString())
        rows += len(p.GetSelectedOutput()["soln"])
    return time.perf_counter() - t0, rows


def byte_compile(package_dir: str) -> str:
    """Byte-compile karstsink's modules, as a regular ``pip install`` does (a line to print).

    An editable install is plain source until Python writes its bytecode cache on the
    first import, and with PYTHONDONTWRITEBYTECODE set it never does: every command
    would then compile ~30 modules before it starts (0.1-0.3 s, measured).  The
    command is timed as an installed package runs, with the cache written.
    """
    import compileall

    compileall.compile_dir(package_dir, quiet=1)
    return (f"karstsink bytecode cached (compileall {package_dir}; "
            f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r})")


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children [s]."""
    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def maxrss_mb() -> tuple[float, float]:
    """(self, largest waited-for child) peak RSS [MB] from getrusage (Linux: KiB)."""
    import resource

    scale = 1024 if sys.platform.startswith("linux") else 1
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1e6
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * scale / 1e6
    return me, kids


def memory_run(n: int, jobs: int) -> dict:
    """Speciate ``n`` samples in this process; report peak memory as JSON."""
    import warnings

    import karstsink

    df = make_samples(n, seed=7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        out = karstsink.speciate(df, jobs=jobs)
        elapsed = time.perf_counter() - t0
    me, kid = maxrss_mb()
    return {"n": n, "jobs": jobs, "seconds": elapsed, "maxrss_main_mb": me,
            "maxrss_largest_worker_mb": kid, "rows": len(out),
            "n_computed": out.attrs["karstsink"]["speciation"]["n_computed"]}


def report_memory(n: int, jobs: int) -> None:
    """Run ``speciate`` on ``n`` samples in a fresh subprocess and print its peak memory.

    The subprocess reports getrusage maxrss of itself and of its largest worker;
    this process samples the whole tree every 50 ms with psutil (RSS, and PSS,
    which does not count pages shared by the forked workers twice).
    """
    cmd = [sys.executable, __file__, "--memory-only", str(n), "--jobs", str(jobs)]
    try:
        import psutil
    except ImportError:
        psutil = None
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    peak_rss = peak_pss = 0
    if psutil is not None:
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                tree = [ps, *ps.children(recursive=True)]
                infos = [p.memory_full_info() for p in tree]
                peak_rss = max(peak_rss, sum(i.rss for i in infos))
                peak_pss = max(peak_pss, sum(getattr(i, "pss", i.rss) for i in infos))
            except Exception:  # a process may exit between listing and reading
                pass
            time.sleep(0.05)
    stdout, _ = proc.communicate()
    res = json.loads(stdout.strip().splitlines()[-1])
    line = (f"memory, {n} samples (jobs {jobs}): speciate {res['seconds']:.1f} s "
            f"({time.perf_counter() - t0:.1f} s with start-up); getrusage maxrss main "
            f"{res['maxrss_main_mb']:.0f} MB, largest worker "
            f"{res['maxrss_largest_worker_mb']:.0f} MB")
    if peak_rss:
        line += (f"; sampled peak of the process tree: RSS {peak_rss / 1e6:.0f} MB, "
                 f"PSS {peak_pss / 1e6:.0f} MB")
    print(line + " (target < 500 MB at 100k)")


def _tree_peak(proc: subprocess.Popen) -> tuple[int, int]:
    """Peak RSS and PSS [bytes] of ``proc`` and its children, sampled every 50 ms."""
    try:
        import psutil
    except ImportError:
        proc.wait()
        return 0, 0
    ps = psutil.Process(proc.pid)
    peak_rss = peak_pss = 0
    while proc.poll() is None:
        try:
            tree = [ps, *ps.children(recursive=True)]
            infos = [p.memory_full_info() for p in tree]
            peak_rss = max(peak_rss, sum(i.rss for i in infos))
            peak_pss = max(peak_pss, sum(getattr(i, "pss", i.rss) for i in infos))
        except Exception:  # a process may exit between listing and reading
            pass
        time.sleep(0.05)
    return peak_rss, peak_pss


def cli_run(src: str, out: str, jobs: int, *, memory: bool = False) -> dict:
    """Run ``karstsink speciate src -o out --jobs J`` as a subprocess; wall time, peak memory."""
    cmd = [sys.executable, "-m", "karstsink", "speciate", src, "-o", out, "--jobs", str(jobs),
           "--overwrite"]
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    rss, pss = _tree_peak(proc) if memory else (0, 0)
    _, err = proc.communicate()
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode:
        raise RuntimeError(f"karstsink speciate failed: {err.decode(errors='replace')}")
    # the command waits for its workers, so their CPU time is in its children's usage
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"seconds": elapsed, "rss": rss, "pss": pss, "cpu": cpu}


def bench_command(df: pd.DataFrame, jobs: int, repeat: int, folder: str) -> None:
    """1: the whole command against (b) on the same solutions, in one run."""
    src, out = os.path.join(folder, "in.csv"), os.path.join(folder, "out.csv")
    df.to_csv(src, index=False)
    cli_run(src, out, jobs)  # warm the file cache and the interpreter's bytecode
    t_cli = t_raw = c_cli = c_raw = t_two = float("inf")
    for _ in range(repeat):
        res = cli_run(src, out, jobs)
        t_cli, c_cli = min(t_cli, res["seconds"]), min(c_cli, res["cpu"])
        t_raw = min(t_raw, raw_single_run(df)[0])
        c_raw = min(c_raw, raw_single_run.cpu)
        if jobs == 2:
            t_two = min(t_two, raw_two_processes(df))
    n = len(df)
    print(f"command `karstsink speciate --jobs {jobs}` (start-up, read, speciate, write): "
          f"{t_cli:6.2f} s  {n / t_cli:7.0f} samples/s")
    print(f"(b) raw single IPhreeqc run, same {n} solutions:       {t_raw:6.2f} s  "
          f"{n / t_raw:7.0f} samples/s")
    print(f"throughput ratio command / (b): {t_raw / t_cli:5.2f} x (target >= 1.7 on 2 free "
          "cores)")
    if jobs == 2:
        print(f"(c) two raw IPhreeqc processes at once, half the solutions each: {t_two:6.2f} s;"
              f" (b) / (c) = {t_raw / t_two:5.2f} x, what two cores give PHREEQC alone on this "
              f"machine (the ceiling of any 2-process run); the command reaches "
              f"{t_two / t_cli:.0%} of it")
    meta = json.loads(open(os.path.join(folder, "out.meta.json"), encoding="utf-8").read())
    print(f"CPU seconds (user + sys, best of {repeat}): command {c_cli:.2f} (main + workers, "
          f"{meta['speciation']['n_chunks']} chunks), (b) "
          f"{c_raw:.2f}; with free cores ((b) wall = its CPU, the command's wall >= its CPU / "
          f"{jobs}) the command reaches at most {jobs * c_raw / c_cli:.2f} x (b): the ceiling "
          "this CPU budget allows, independent of the load")


def bench_draws(n: int, draws: int, jobs: int, repeat: int, seed: int = 11) -> None:
    """3: ``speciate(draws=D)`` against (b) on the same n x D drawn solutions."""
    import warnings

    import karstsink
    from karstsink.chemistry import uncertainty
    from karstsink.chemistry.engine import INPUT_COLUMNS

    df = make_samples(n, seed=3)
    values = np.column_stack([df[c].to_numpy(float) if c in df else np.full(n, np.nan)
                              for c in INPUT_COLUMNS])
    sd, _ = uncertainty.sd_matrix(values, df, uncertainty.parse_uncertainty(None))
    if n * draws > uncertainty.BLOCK_SOLUTIONS:
        print(f"note: {n} x {draws} > {uncertainty.BLOCK_SOLUTIONS}: speciate draws them in "
              "blocks, so (b) runs other (equally distributed) draws")
    drawn = uncertainty.draw_inputs(values, sd, draws, np.random.default_rng(seed))
    solutions = pd.DataFrame(drawn, columns=list(INPUT_COLUMNS))
    t_mc = t_raw = float("inf")
    for _ in range(repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            out = karstsink.speciate(df, jobs=jobs, draws=draws, seed=seed)
            t_mc = min(t_mc, time.perf_counter() - t0)
        t_raw = min(t_raw, raw_single_run(solutions)[0])
    meta = out.attrs["karstsink"]["speciation"]["uncertainty"]
    print(f"speciate({n} samples, draws={draws}, jobs={jobs}), {meta['n_draws_failed']} "
          f"draws failed: {t_mc:6.2f} s (central run + {n * draws} draws)")
    print(f"(b) raw single IPhreeqc run of the same {n * draws} drawn solutions: "
          f"{t_raw:6.2f} s")
    print(f"throughput ratio speciate(draws) / (b): {t_raw / t_mc:5.2f} x (target >= 1.5 on "
          "2 free cores)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--mem-n", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    ap.add_argument("--skip-loop", action="store_true", help="skip baseline (a)")
    ap.add_argument("--skip-api", action="store_true", help="skip the API timings (2)")
    ap.add_argument("--draws-n", type=int, default=2000, help="samples of the Monte Carlo "
                    "benchmark (0: skip it)")
    ap.add_argument("--draws", type=int, default=50, help="draws per sample (default 50)")
    ap.add_argument("--memory-only", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_only:
        print(json.dumps(memory_run(args.memory_only, args.jobs)))
        return

    import tempfile
    import warnings

    import karstsink

    print(f"load average before: {os.getloadavg()}  cores: {os.cpu_count()}")
    print(byte_compile(os.path.dirname(karstsink.__file__)))
    df = make_samples(args.n)
    karstsink.speciate(df.head(10), jobs=1)  # warm imports and caches
    with tempfile.TemporaryDirectory() as folder:
        bench_command(df, args.jobs, args.repeat, folder)
        if args.draws_n and args.draws:
            bench_draws(args.draws_n, args.draws, args.jobs, args.repeat)
        if args.mem_n:
            src, out = os.path.join(folder, "mem.csv"), os.path.join(folder, "mem_out.csv")
            make_samples(args.mem_n, seed=7).to_csv(src, index=False)
            res = cli_run(src, out, args.jobs, memory=True)
            print(f"memory, command on {args.mem_n} samples (jobs {args.jobs}): "
                  f"{res['seconds']:.1f} s; sampled peak of the process tree: RSS "
                  f"{res['rss'] / 1e6:.0f} MB, PSS {res['pss'] / 1e6:.0f} MB (target < 500 MB)")
    if args.skip_api:
        print(f"load average after: {os.getloadavg()}")
        return

    # best of --repeat, speciate and the raw run interleaved so both see similar load
    t_api = t_raw = c_api = c_raw = t_one = float("inf")
    for _ in range(args.repeat):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            karstsink.speciate(df, jobs=1)
            t_one = min(t_one, time.perf_counter() - t0)
            c0 = cpu_seconds()
            t0 = time.perf_counter()
            out = karstsink.speciate(df, jobs=args.jobs)
            t_api = min(t_api, time.perf_counter() - t0)
            c_api = min(c_api, cpu_seconds() - c0)
        t, n_raw = raw_single_run(df)
        t_raw, c_raw = min(t_raw, t), min(c_raw, raw_single_run.cpu)
    meta = out.attrs["karstsink"]["speciation"]
    if args.skip_loop:
        t_loop, n_loop = float("nan"), 0
    else:
        t_loop, n_loop = loop_per_sample(df)
    n = args.n
    print(f"samples: {n}; computed by speciate: {meta['n_computed']}; "
          f"chunks {meta['n_chunks']} x {meta['chunk_size']}, jobs {meta['jobs']} "
          f"({meta['start_method']})")
    print(f"best of {args.repeat} (wall and CPU minima taken separately):")
    print(f"speciate(jobs={args.jobs}):          {t_api:7.2f} s  {n / t_api:8.0f} samples/s")
    print(f"speciate(jobs=1):          {t_one:7.2f} s  {n / t_one:8.0f} samples/s")
    print(f"(b) raw single IPhreeqc run:   {t_raw:7.2f} s  {n_raw / t_raw:8.0f} samples/s")
    if not args.skip_loop:
        print(f"(a) loop, one run per sample:  {t_loop:7.2f} s  {n_loop / t_loop:8.0f} samples/s")
    print(f"throughput ratio speciate / (b) raw single run: {t_raw / t_api:5.2f} x "
          "(target >= 1.6 on 2 free cores)")
    print(f"single-process efficiency speciate(jobs=1) / (b): {t_raw / t_one:5.2f} x "
          "(the cost of validation, chunking, fresh instances, parsing and pandas)")
    print(f"CPU seconds per 1000 samples: speciate {1000 * c_api / n:.3f} (main + workers), "
          f"raw single run {1000 * c_raw / n:.3f}; on {args.jobs} free cores that projects to "
          f"{args.jobs * c_raw / c_api:.2f} x the raw run if the workers run fully in "
          "parallel (an upper bound)")
    if not args.skip_loop:
        print(f"throughput ratio speciate / (a) per-sample loop: {t_loop / t_api:5.2f} x")
    print(f"load average after: {os.getloadavg()}")
    if args.mem_n:
        report_memory(args.mem_n, args.jobs)



if __name__ == "__main__":
    main()
