"""Issue 12, classes 8-10: outputs, faults and messages of every command.

Each test builds one bad input or fault and asserts the exit code, the one-line
message, and that no output or temporary file is left (or that an earlier output and
the inputs are untouched). ``BAD`` at the end lists what is covered.
"""

from __future__ import annotations

import errno
import glob
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from mapping_helpers import uniform_inputs, write_config
from test_cli_flux import _files
from test_speciation import MESSY_CSV

from karstsink.cli import main
from karstsink.exceptions import OutputError
from karstsink.io.atomic import MARKER, atomic_dir, safe_name, unique_names

ROOT = Path(__file__).resolve().parents[1]


def mk(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def invoke(*args, **kwargs):
    return CliRunner().invoke(main, [str(a) for a in args], **kwargs)


def error_lines(res) -> list[str]:
    return [ln for ln in res.output.splitlines() if ln.startswith("Error:")]


def one_line_error(res, code: int, *needles: str) -> str:
    """The result failed with ``code``, one ``Error:`` line holding every needle."""
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output
    lines = error_lines(res)
    assert len(lines) == 1, res.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def no_temporaries(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    assert left == [], left


def flux_args(qp, sp, out, *extra):
    return ["flux", "--discharge", qp, "--samples", sp, "--units", "mg/L", "--area", 100,
            "--method", "direct", "--no-plots", "-o", out, *extra]


def run_toml(folder: Path, catchments: list[dict], extra: str = "") -> Path:
    """A run configuration with the given catchments (direct method, no map)."""
    text = ""
    for c in catchments:
        text += "[[catchments]]\n" + "".join(
            f"{k} = {v!r}\n" if not isinstance(v, str) else f'{k} = "{v}"\n'
            for k, v in c.items())
    text += ("[speciation]\nsamples = []\n[scenario]\nsinks_from = \"given\"\n"
             "karst_t_c_yr = 1e6\n[report]\nhtml = false\n" + extra)
    cfg = folder / "run.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def catchment(name, qp, sp, **kw):
    return {"name": name, "area_km2": 100, "discharge": str(qp), "samples": str(sp),
            "units": "mg/L", "method": "direct", **kw}


# ======================================================================================
# class 8: outputs
# ======================================================================================
def test_flux_output_folder_holding_the_inputs_is_refused(tmp_path):
    qp, sp = _files(tmp_path)
    before = snapshot(tmp_path)
    res = invoke(*flux_args(qp, sp, tmp_path))
    one_line_error(res, 2, str(tmp_path), "holds the input", "replace the input")
    assert snapshot(tmp_path) == before  # the raw data untouched
    # a parent of the input folder, and a symbolic link to it: the same
    res = invoke(*flux_args(qp, sp, tmp_path.parent))
    one_line_error(res, 2, "holds the input")
    link = tmp_path.parent / f"{tmp_path.name}-link"
    link.symlink_to(tmp_path, target_is_directory=True)
    try:
        one_line_error(invoke(*flux_args(qp, sp, link)), 2, "holds the input")
    finally:
        link.unlink()
    assert snapshot(tmp_path) == before


def test_flux_output_equal_to_an_input_file_is_a_usage_error(tmp_path):
    qp, sp = _files(tmp_path)
    before = snapshot(tmp_path)
    res = invoke(*flux_args(qp, sp, sp))
    assert res.exit_code == 2 and "Traceback" not in res.output  # click: "is a file"
    assert snapshot(tmp_path) == before


def test_speciate_output_equal_to_the_input_is_refused(tmp_path):
    src = tmp_path / "field.csv"
    src.write_text(MESSY_CSV, encoding="utf-8")
    before = snapshot(tmp_path)
    one_line_error(invoke("speciate", src, "-o", src), 2, "is the input", "field.csv")
    # a hard link and a symbolic link to the input: refused as well, even with --overwrite
    os.link(src, tmp_path / "hard.csv")
    (tmp_path / "soft.csv").symlink_to(src)
    before = snapshot(tmp_path)
    for alias in ("hard.csv", "soft.csv"):
        res = invoke("speciate", src, "-o", tmp_path / alias, "--overwrite")
        one_line_error(res, 2, "is the input")
    assert snapshot(tmp_path) == before
    no_temporaries(tmp_path)


def test_speciate_refuses_an_existing_output_or_meta_without_overwrite(tmp_path):
    src = tmp_path / "field.csv"
    src.write_text(MESSY_CSV, encoding="utf-8")
    out = tmp_path / "r.csv"
    out.write_text("earlier results\n", encoding="utf-8")
    one_line_error(invoke("speciate", src, "-o", out, "--jobs", 1), 2, "r.csv: exists",
                   "--overwrite")
    assert out.read_text(encoding="utf-8") == "earlier results\n"
    out.unlink()
    (tmp_path / "r.meta.json").write_text("{}", encoding="utf-8")  # only the companion
    one_line_error(invoke("speciate", src, "-o", out, "--jobs", 1), 2, "r.meta.json: exists")
    assert not out.exists()
    res = invoke("speciate", src, "-o", out, "--jobs", 1, "--overwrite")
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out)) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.csv", "r.csv", "r.meta.json"]


def test_flux_rerun_is_refused_without_overwrite_and_replaces_the_folder_with_it(tmp_path):
    qp, sp = _files(mk(tmp_path / "in"))
    out = tmp_path / "out"
    assert invoke(*flux_args(qp, sp, out, "--so4", "so4")).exit_code == 0
    assert (out / "annual_so4.csv").is_file() and (out / MARKER).is_file()
    first = snapshot(out)
    # without --overwrite: refused before any work, the earlier output untouched
    one_line_error(invoke(*flux_args(qp, sp, out)), 2, "exists and is not empty",
                   "--overwrite")
    assert snapshot(out) == first
    # with --overwrite: replaced as a whole; the SO4 table of the first run is gone
    res = invoke(*flux_args(qp, sp, out, "--overwrite"))
    assert res.exit_code == 0, res.output
    assert not (out / "annual_so4.csv").exists()
    assert (out / "annual.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def test_overwrite_never_replaces_a_folder_karstsink_did_not_write(tmp_path):
    qp, sp = _files(mk(tmp_path / "in"))
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"years of work")
    res = invoke(*flux_args(qp, sp, out, "--overwrite"))
    one_line_error(res, 2, "files karstsink did not write", MARKER)
    assert snapshot(out) == {"thesis.docx": b"years of work"}
    no_temporaries(tmp_path)


def test_existing_empty_folder_is_used_without_overwrite(tmp_path):
    qp, sp = _files(mk(tmp_path / "in"))
    out = tmp_path / "out"
    out.mkdir()
    assert invoke(*flux_args(qp, sp, out)).exit_code == 0
    assert (out / "annual.csv").is_file()
    assert (out.stat().st_mode & 0o777) == 0o777 & ~_umask()  # not mkdtemp's private 0700


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_map_output_in_the_input_folder_and_rerun(tmp_path):
    inputs = uniform_inputs(tmp_path / "in")
    cfg = write_config(tmp_path / "in", inputs)
    before = snapshot(tmp_path / "in")
    one_line_error(invoke("map", cfg, "-o", tmp_path / "in"), 2, "holds the input")
    assert snapshot(tmp_path / "in") == before
    out = tmp_path / "out"
    assert invoke("map", cfg, "-o", out).exit_code == 0
    (out / "stale.tif").write_bytes(b"from an older run")
    (out / MARKER).unlink()  # an output of an older version: recognised by its run.json
    one_line_error(invoke("map", cfg, "-o", out), 2, "--overwrite")
    res = invoke("map", cfg, "-o", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert not (out / "stale.tif").exists() and (out / "karst_sink.tif").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]


def test_run_and_demo_refuse_the_folder_of_their_inputs(tmp_path, monkeypatch):
    qp, sp = _files(tmp_path)
    cfg = run_toml(tmp_path, [catchment("a", qp, sp)])
    before = snapshot(tmp_path)
    t0 = time.perf_counter()
    one_line_error(invoke("run", cfg, "-o", tmp_path), 2, "holds the input")
    assert time.perf_counter() - t0 < 5  # refused before any stage ran
    # [project] output pointing at the data folder: the same
    cfg.write_text(cfg.read_text(encoding="utf-8") + '[project]\noutput = "."\n',
                   encoding="utf-8")
    one_line_error(invoke("run", cfg), 2, "holds the input")
    assert snapshot(tmp_path) == {**before, "run.toml": cfg.read_bytes()}
    # demo into the folder of the demo data (a copy: never risk the real one)
    import shutil

    import karstsink.workflows.run as wr

    demo = tmp_path / "demo"
    shutil.copytree(ROOT / "data" / "demo", demo, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(wr, "demo_config_path", lambda: demo / "demo.toml")
    kept = snapshot(demo)
    one_line_error(invoke("demo", "-o", demo / "catchments"), 2, "holds the input")
    assert snapshot(demo) == kept


def test_run_two_samples_files_with_one_name_do_not_overwrite_each_other(tmp_path):
    for sub, rows in (("a", 10), ("b", 5), ("c", 3)):
        (tmp_path / sub).mkdir()
        lines = MESSY_CSV.splitlines()
        (tmp_path / sub / ("Samples.csv" if sub == "c" else "samples.csv")).write_text(
            "\n".join(lines[:1 + rows]) + "\n", encoding="utf-8")
    cfg = tmp_path / "run.toml"
    cfg.write_text('[speciation]\nsamples = ["a/samples.csv", "b/samples.csv", '
                   '"c/Samples.csv"]\n[scenario]\nsinks_from = "given"\nkarst_t_c_yr = 1e6\n'
                   "[report]\nhtml = false\n", encoding="utf-8")
    out = tmp_path / "out"
    res = invoke("run", cfg, "-o", out, "--jobs", 1)
    assert res.exit_code == 0, res.output
    spec = out / "speciation"
    # case-insensitive file systems (macOS, Windows) cannot hold Samples.csv and samples.csv
    assert {len(pd.read_csv(spec / f"{n}.csv")) for n in ("samples", "samples-2",
                                                          "Samples-3")} == {10, 5, 3}
    assert (spec / "samples-2.meta.json").is_file() and (spec / "Samples-3.meta.json").is_file()
    assert "open" not in res.output.splitlines()[-1]  # [report] html = false: no report


BAD_NAMES = ["../../escaped", "/tmp/karstsink-abs-escape", "a/b", "a_b", "c:d", "nul\0byte",
             "..", ".", "Longtan", "longtan", "CON", "龙潭"]


def test_run_catchment_names_never_write_outside_the_output_folder(tmp_path):
    data = tmp_path / "data"
    _files(mk(data))  # q.csv, s.csv
    cfg = data / "run.toml"
    text = ""
    for name in BAD_NAMES:
        escaped = name.replace("\\", "\\\\").replace('"', '\\"').replace("\0", "\\u0000")
        text += (f'[[catchments]]\nname = "{escaped}"\narea_km2 = 100\ndischarge = "q.csv"\n'
                 'samples = "s.csv"\nunits = "mg/L"\nmethod = "direct"\n')
    cfg.write_text(text + '[speciation]\nsamples = []\n[scenario]\nsinks_from = "given"\n'
                   'karst_t_c_yr = 1e6\n[report]\nhtml = false\n', encoding="utf-8")
    out = tmp_path / "work" / "out"
    res = invoke("run", cfg, "-o", out)
    assert res.exit_code == 0, res.output
    folders = sorted(p.name for p in (out / "flux").iterdir())
    assert len(folders) == len(BAD_NAMES)  # one folder each: none overwrote another
    assert len({f.casefold() for f in folders}) == len(BAD_NAMES)
    assert "龙潭" in folders and "a_b" in folders and "a_b-2" in folders
    for f in (out / "flux").iterdir():
        assert (f / "annual.csv").is_file() and f.resolve().parent == (out / "flux").resolve()
    assert not Path("/tmp/karstsink-abs-escape").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "work"]
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]
    import json

    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert [c["name"] for c in run["catchments"]] == BAD_NAMES
    # "/" -> "_", leading dots dropped, "." and ".." -> "_", then made distinct in order
    assert [c["folder"][len("flux/"):] for c in run["catchments"]] == [
        "_.._escaped", "_tmp_karstsink-abs-escape", "a_b", "a_b-2", "c_d", "nul_byte", "_",
        "_-2", "Longtan", "longtan-2", "_CON", "龙潭"]
    assert list(pd.read_csv(out / "catchment_sinks.csv")["catchment"]) == BAD_NAMES


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(), max_size=40)
                | st.sampled_from(["..", ".", "/", "../x", "a/../../b", "C:\\x", "NUL",
                                   "nul.txt", " . ", "\0"]), max_size=12, unique=True))
def test_any_names_map_to_distinct_components_inside_the_folder(names):
    out = Path("/srv/karstsink-out")
    parts = unique_names(names)
    assert len(parts) == len(names)
    assert len({p.casefold() for p in parts}) == len(parts)  # distinct, ignoring case
    for p in parts:
        assert p and p not in (".", "..") and "/" not in p and "\\" not in p and "\0" not in p
        assert ":" not in p and not p.startswith(".") and not p.endswith((".", " "))
        assert len(p.encode("utf-8")) <= 130
        assert os.path.normpath(out / p).startswith(str(out) + os.sep)
        assert Path(p).name == p  # one path component
    assert [safe_name(n) for n in names[:1]] == parts[:1]  # the first name keeps its form


# ======================================================================================
# class 9: faults
# ======================================================================================
def _session_processes(sid: int) -> list[str]:
    left = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:
            left.append(stat)
    return left


def _children(pid: int) -> list[str]:
    kids = []
    for f in glob.glob(f"/proc/{pid}/task/*/children"):
        with open(f) as fh:
            kids += fh.read().split()
    return kids


def _start(args, cwd):
    return subprocess.Popen([sys.executable, "-m", "karstsink", *map(str, args)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def _wait_for_line(proc, text: str, timeout: float = 60) -> list[str]:
    seen = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return seen
    raise AssertionError(f"{text!r} never printed: {seen}")


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals and /proc")
@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGTERM, 143, "SIGTERM"),
                                                   (signal.SIGINT, 130, "interrupted")])
def test_demo_killed_mid_run_exits_with_one_line_and_leaves_nothing(tmp_path, sig, code, word):
    proc = _start(["demo", "-o", tmp_path / "out", "--jobs", 2], tmp_path)
    _wait_for_line(proc, "catchment fluxes")  # the run is under way (handlers installed)
    time.sleep(1.0)
    os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    errors = [ln for ln in err.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and word in errors[0], err
    assert err.strip().splitlines()[-1] == errors[0]
    assert list(tmp_path.iterdir()) == []  # no output, no temporary folder or file
    assert _session_processes(proc.pid) == []


def _big_survey(tmp_path):
    """The demo's Longtan samples 600 times over (in/big.csv) and an empty out/ folder."""
    src = tmp_path / "in" / "big.csv"
    src.parent.mkdir()
    table = pd.read_csv(ROOT / "data" / "demo" / "catchments" / "longtan_samples.csv")
    pd.concat([table] * 600, ignore_index=True).to_csv(src, index=False)
    out = tmp_path / "out"
    out.mkdir()
    return src, out


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals and /proc")
@pytest.mark.parametrize("group", [False, True], ids=["kill", "scheduler"])
def test_sigterm_reaps_the_phreeqc_workers(tmp_path, group):
    src, out = _big_survey(tmp_path)
    proc = _start(["speciate", src, "-o", out / "r.csv", "--jobs", 2], tmp_path)
    t0 = time.monotonic()
    while not _children(proc.pid) and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    assert _children(proc.pid), "no worker started"
    time.sleep(0.3)
    (os.killpg if group else os.kill)(proc.pid, signal.SIGTERM)  # a scheduler: the group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert [ln for ln in err.splitlines() if ln.startswith("Error:")] == [
        "Error: terminated by SIGTERM; no partial output was left."]
    assert list(out.iterdir()) == []
    time.sleep(0.2)
    assert _session_processes(proc.pid) == []  # every worker reaped


@pytest.mark.parametrize(("err", "needle"), [
    (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    (OSError(errno.EROFS, "Read-only file system"), "read-only"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "quota"),
])
def test_flux_disk_full_or_read_only_is_one_line_and_nothing_half_written(tmp_path, monkeypatch,
                                                                         err, needle):
    qp, sp = _files(mk(tmp_path / "in"))
    out = tmp_path / "out"
    real = pd.DataFrame.to_csv
    calls = {"n": 0}

    def fails_on_third(self, path=None, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # two files written, the third fails
            raise err
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", fails_on_third)
    one_line_error(invoke(*flux_args(qp, sp, out)), 1, needle, "no partial output")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_read_only_output_parent_is_one_line(tmp_path, monkeypatch):
    """As root, chmod cannot make a folder read-only: simulate the OS refusing mkdtemp."""
    import tempfile

    qp, sp = _files(mk(tmp_path / "in"))
    (tmp_path / "ro").mkdir()

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(tmp_path / "ro"))

    monkeypatch.setattr(tempfile, "mkdtemp", read_only)
    line = one_line_error(invoke(*flux_args(qp, sp, tmp_path / "ro" / "out")), 1,
                          "Read-only file system", "choose an output folder you can write")
    assert str(tmp_path / "ro") in line
    assert list((tmp_path / "ro").iterdir()) == []


def test_failed_swap_keeps_the_earlier_output_intact(tmp_path, monkeypatch):
    out = tmp_path / "out"
    with atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("first", encoding="utf-8")
    first = snapshot(out)
    real = os.rename
    calls = []

    def no_space(src, dst):
        if Path(src).name.endswith(".tmp"):
            calls.append(src)
            if len(calls) == 2:  # the first fails as the folder is not empty; then: full
                raise OSError(errno.ENOSPC, "No space left on device", str(src))
        return real(src, dst)

    monkeypatch.setattr(os, "rename", no_space)
    with pytest.raises(OSError), atomic_dir(out) as tmp:
        (tmp / "b.csv").write_text("second", encoding="utf-8")
    assert len(calls) == 2
    assert snapshot(out) == first  # the earlier output, moved aside, is back
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_dir_refuses_outputs_and_keeps_files_on_any_exception(tmp_path):
    (tmp_path / "in.csv").write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="holds the input"), atomic_dir(
            tmp_path, inputs=[tmp_path / "in.csv"]):
        pass
    with pytest.raises(KeyboardInterrupt), atomic_dir(tmp_path / "o") as tmp:
        (tmp / "x").write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


@pytest.mark.parametrize("exc", [ZeroDivisionError("float division by zero"),
                                 KeyError("sink_t_c_km2_yr"), MemoryError(),
                                 RuntimeError("line one\nline two")])
def test_unexpected_exception_is_one_line_and_debug_shows_it(tmp_path, monkeypatch, exc):
    import karstsink.workflows.catchment as wc

    qp, sp = _files(mk(tmp_path / "in"))

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.setattr(wc, "run_flux", boom)
    out = tmp_path / "out"
    one_line_error(invoke(*flux_args(qp, sp, out)), 1, "internal error",
                   type(exc).__name__, "--debug")
    res = invoke("--debug", *flux_args(qp, sp, out))
    assert res.exception is exc
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_unexpected_exception_in_speciate_and_map_is_one_line(tmp_path, monkeypatch):
    import karstsink.chemistry.speciation as cs
    import karstsink.mapping.run as mr

    def boom(*args, **kwargs):
        raise IndexError("index 3 is out of bounds for axis 0 with size 3")

    monkeypatch.setattr(cs, "speciate", boom)
    src = tmp_path / "field.csv"
    src.write_text(MESSY_CSV, encoding="utf-8")
    one_line_error(invoke("speciate", src, "-o", tmp_path / "r.csv"), 1,
                   "internal error: IndexError")
    inputs = uniform_inputs(tmp_path / "m")
    cfg = write_config(tmp_path / "m", inputs)
    monkeypatch.setattr(mr, "run_map", boom)
    one_line_error(invoke("map", cfg, "-o", tmp_path / "out"), 1, "internal error: IndexError")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["field.csv", "m"]


# ======================================================================================
# class 10: messages that mislead
# ======================================================================================
def test_run_gap_names_the_toml_keys_and_the_default(tmp_path):
    days = pd.date_range("2018-10-01", "2021-09-30", freq="D")
    qp, sp = _files(tmp_path, days=days)
    q = pd.read_csv(qp)
    q.drop(index=range(200, 220)).to_csv(qp, index=False)  # a 20-day gap
    cfg = run_toml(tmp_path, [catchment("longtan", qp, sp)])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1,
                          "catchments[0] (catchment 'longtan')",
                          "catchments[0].max_gap_days (default, not set in the file)",
                          "set catchments[0].allow_gaps = true")
    assert "--" not in line and "allow_gaps=True" not in line
    assert not (tmp_path / "out").exists()
    # a value the file does set is not called a default
    cfg = run_toml(tmp_path, [catchment("longtan", qp, sp, max_gap_days=3)])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1,
                          "raise catchments[0].max_gap_days,")
    assert "default" not in line


def test_run_unit_errors_name_the_toml_key_not_the_option(tmp_path):
    qp, sp = _files(tmp_path)
    cfg = run_toml(tmp_path, [catchment("a", qp, sp, units="furlongs")])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1,
                          "catchments[0].units", "furlongs")
    assert "--units" not in line
    cfg = run_toml(tmp_path, [catchment("a", qp, sp, q_unit="L/s")])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1,
                          "catchments[0].q_unit")
    assert "--q-unit" not in line and "q_unit=" not in line
    cfg = run_toml(tmp_path, [catchment("a", qp, sp, area_km2=-1)])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1,
                          "catchments[0].area_km2")
    assert "--area" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.csv", "run.toml", "s.csv"]


def test_run_wrtds_on_a_short_record_says_how_to_lower_min_obs_in_the_toml(tmp_path):
    qp, sp = _files(tmp_path)
    cfg = run_toml(tmp_path, [catchment("a", qp, sp, method="wrtds", bootstrap=0)])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1,
                          "catchments[0].min_obs = ", "min_obs=100 (default")
    assert "--min-obs" not in line and "Python" not in line
    cfg = run_toml(tmp_path, [catchment("a", qp, sp, method="wrtds", bootstrap=0,
                                        min_obs=200)])
    line = one_line_error(invoke("run", cfg, "-o", tmp_path / "out"), 1, "min_obs=200")
    assert "min_obs=200 (default" not in line


def test_run_without_report_does_not_point_to_one(tmp_path):
    qp, sp = _files(tmp_path)
    cfg = run_toml(tmp_path, [catchment("a", qp, sp)])
    res = invoke("run", cfg, "-o", tmp_path / "out")
    assert res.exit_code == 0, res.output
    assert "report.html" not in res.output.splitlines()[-1]
    assert not (tmp_path / "out" / "report.html").exists()


#: The distinct bad inputs and faults this module covers (counted in the issue note).
BAD = [
    "flux -o = folder holding the inputs", "flux -o = parent of the input folder",
    "flux -o = symlink to the input folder", "flux -o = an input file",
    "speciate -o = the input", "speciate -o = hard link to the input",
    "speciate -o = symlink to the input", "speciate -o existing file",
    "speciate -o existing companion meta.json", "flux re-run without --overwrite",
    "flux re-run with --overwrite leaves stale annual_so4.csv", "--overwrite on a user folder",
    "existing empty output folder", "map -o = input folder", "map re-run (stale file)",
    "map re-run over an older version's output (no marker)", "run -o = input folder",
    "run [project] output = input folder", "demo -o = demo data folder",
    "two [speciation] samples.csv in different folders", "Samples.csv vs samples.csv",
    "catchment ../../x", "catchment /abs/path", "catchment a/b vs a_b", "catchment c:d",
    "catchment with NUL", "catchment ..", "catchment .", "catchment Longtan vs longtan",
    "catchment CON", "catchment unicode", "hypothesis: any names",
    "SIGTERM demo", "SIGINT demo", "SIGTERM speciate workers (kill)",
    "SIGTERM speciate workers (process group)", "ENOSPC mid-write", "EROFS mid-write",
    "EDQUOT mid-write", "read-only output parent", "ENOSPC during the folder swap",
    "KeyboardInterrupt inside atomic_dir", "ZeroDivisionError", "KeyError", "MemoryError",
    "multi-line RuntimeError", "IndexError in speciate", "IndexError in map",
    "run gap with default max_gap_days", "run gap with max_gap_days set",
    "run units furlongs", "run q_unit contradicting header", "run negative area",
    "run wrtds short record (default min_obs)", "run wrtds min_obs set",
    "run without report pointing to report.html",
]


def test_the_count_of_covered_bad_inputs():
    assert len(BAD) == len(set(BAD)) == 56


def _signal_at_first(monkeypatch, name: str, sig: int) -> None:
    """``os.<name>`` sends ``sig`` to this process at its first call (the commit of the
    finished outputs), then does its work."""
    real = getattr(os, name)
    sent = []

    def renaming(*args, **kwargs):
        if not sent:
            sent.append(sig)
            os.kill(os.getpid(), sig)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, name, renaming)


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")
@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "SIGTERM")])
def test_a_signal_during_the_commit_waits_for_it_and_names_what_was_written(
        tmp_path, monkeypatch, sig, code, word):
    src = tmp_path / "in.csv"
    src.write_text(MESSY_CSV, encoding="utf-8")
    out = mk(tmp_path / "out")
    _signal_at_first(monkeypatch, "replace", sig)
    res = invoke("speciate", src, "-o", out / "r.csv", "--jobs", 1)
    line = one_line_error(res, code, word, "just after", "r.csv", "r.meta.json",
                          "had been written in full")
    assert "no partial output" in line
    # both files are whole: the table reads, the metadata parses
    assert len(pd.read_csv(out / "r.csv")) == MESSY_CSV.count("\n") - 1
    assert (out / "r.meta.json").read_text(encoding="utf-8").rstrip().endswith("}")
    no_temporaries(out)


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")
def test_a_signal_before_the_commit_leaves_nothing_and_names_nothing(tmp_path, monkeypatch):
    # an interrupt while the run works (here: at the first temporary file) names no output
    qp, sp = _files(mk(tmp_path / "in"))
    out = tmp_path / "out"
    real = os.chmod
    monkeypatch.setattr(os, "chmod", lambda *a, **k: (os.kill(os.getpid(), signal.SIGINT),
                                                      real(*a, **k)))
    res = invoke(*flux_args(qp, sp, out))
    line = one_line_error(res, 130, "interrupted", "no partial output was left")
    assert "just after" not in line and not out.exists()


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")
def test_a_signal_during_an_output_folders_swap_waits_for_it(tmp_path, monkeypatch):
    qp, sp = _files(mk(tmp_path / "in"))
    out = tmp_path / "out"
    _signal_at_first(monkeypatch, "rename", signal.SIGINT)  # the folder's one rename
    res = invoke(*flux_args(qp, sp, out))
    one_line_error(res, 130, "interrupted", f"just after {out}", "had been written in full")
    assert (out / "annual.csv").is_file() and (out / "model.json").is_file()
    no_temporaries(tmp_path)


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals and /proc")
@pytest.mark.parametrize("delay", [0.05, 0.2])
def test_sigterm_while_the_results_are_written_ends_and_leaves_nothing(tmp_path, delay):
    # a worker killed half-way through sending its results left the executor's threads
    # waiting on the pipe for ever: the command hung at 0 % CPU (and once printed an
    # executor thread's traceback); it must end, with one line
    src, out = _big_survey(tmp_path)
    proc = _start(["speciate", src, "-o", out / "r.csv", "--jobs", 2], tmp_path)
    t0 = time.monotonic()
    while not any(p.name.endswith(".tmp") for p in out.iterdir()) and proc.poll() is None \
            and time.monotonic() - t0 < 120:
        time.sleep(0.01)
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    if proc.returncode == 143:  # else it had finished: the output is whole
        assert [ln for ln in err.splitlines() if ln.startswith("Error:")] == [
            "Error: terminated by SIGTERM; no partial output was left."]
        assert list(out.iterdir()) == []
    else:
        assert proc.returncode == 0, err
    time.sleep(0.2)
    assert _session_processes(proc.pid) == []


@pytest.mark.skipif(sys.platform != "linux", reason="POSIX signals")
@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGTERM, 143, "terminated by SIGTERM"),
                                                   (signal.SIGINT, 130, "interrupted")])
def test_a_signal_before_the_command_starts_is_one_line(sig, code, word):
    # the console script's handler, in place while the imports and click's parsing run
    # (a Ctrl-C there printed an import traceback, or click's "Aborted!" with exit 1)
    code_text = ("import os, signal, time\nfrom karstsink._entry import _before_work\n"
                 f"signal.signal({int(sig)}, _before_work)\nos.kill(os.getpid(), {int(sig)})\n"
                 "time.sleep(30)\n")
    proc = subprocess.run([sys.executable, "-c", code_text], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == code
    assert proc.stderr == f"Error: {word}{' (Ctrl-C)' if sig == signal.SIGINT else ''} " \
                          "before any work; nothing was written.\n"


def test_an_output_under_a_file_is_refused_before_the_work(tmp_path):
    # 'karstsink speciate s.csv -o s.csv/x.csv' said "s.csv: File exists" after the whole
    # speciation, as if the input were about to be overwritten
    qp, sp = _files(mk(tmp_path / "in"))
    line = one_line_error(invoke(*flux_args(qp, sp, sp / "out")), 2, "is a file, not a folder",
                          "choose another output path")
    assert str(sp) in line
    r = CliRunner().invoke(main, ["speciate", str(sp), "-o", str(sp / "x.csv")])
    assert r.exit_code == 2 and "is a file, not a folder" in r.output


def test_a_failed_write_in_the_output_folder_names_the_output_not_its_temporary(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(OSError) as info:
        with atomic_dir(out) as tmp:
            (tmp / "flux").mkdir()
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "flux" / "a.csv"))
    assert info.value.filename == str(out / "flux" / "a.csv")
    assert list(tmp_path.iterdir()) == []
