"""A missing input file named on the command line: exit 2 for every command (docs/cli.md).

``map`` once read its CONFIG itself and exited with 1 (a data error) where ``run`` exited
with 2 (click's usage error); every command now checks its input paths the same way: exit 2,
one ``Error:`` line naming the file, no traceback (also with ``--debug``), nothing written.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from karstsink.cli import main


def _inputs(tmp_path: Path) -> dict[str, Path]:
    """An existing file for each input the command is not being tested on (never read)."""
    existing = tmp_path / "present.csv"
    existing.write_text("date,value\n2020-01-01,1\n", encoding="utf-8")
    return {"existing": existing, "missing": tmp_path / "absent" / "nothere.csv",
            "out": tmp_path / "out"}


#: (command, the argument holding the missing file, its arguments: MISSING, EXISTING, OUT)
CASES = {
    "speciate INPUT": ("INPUT", ["speciate", "MISSING", "-o", "OUT.csv"]),
    "flux --discharge": ("--discharge", ["flux", "--discharge", "MISSING", "--samples",
                                         "EXISTING", "--area", "10", "-o", "OUT"]),
    "flux --samples": ("--samples", ["flux", "--discharge", "EXISTING", "--samples", "MISSING",
                                     "--area", "10", "-o", "OUT"]),
    "trend --discharge": ("--discharge", ["trend", "--discharge", "MISSING", "--samples",
                                          "EXISTING", "--constituent", "hco3", "--pairs",
                                          "2000", "2001", "-o", "OUT"]),
    "trend --samples": ("--samples", ["trend", "--discharge", "EXISTING", "--samples",
                                      "MISSING", "--constituent", "hco3", "--pairs", "2000",
                                      "2001", "-o", "OUT"]),
    "map CONFIG": ("CONFIG", ["map", "MISSING", "-o", "OUT"]),
    "run CONFIG": ("CONFIG", ["run", "MISSING", "-o", "OUT"]),
}


def _args(template: list[str], paths: dict[str, Path]) -> list[str]:
    subst = {"MISSING": str(paths["missing"]), "EXISTING": str(paths["existing"]),
             "OUT": str(paths["out"]), "OUT.csv": str(paths["out"]) + ".csv"}
    return [subst.get(a, a) for a in template]


def _check(code: int, stdout: str, stderr: str, param: str, path: Path, what: str) -> None:
    assert code == 2, (code, stdout, stderr)
    assert "Traceback" not in stdout + stderr
    assert stdout == ""  # diagnostics go to stderr
    errors = [ln for ln in stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert str(path) in errors[0] and param in errors[0] and what in errors[0], errors[0]


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
@pytest.mark.parametrize("case", list(CASES))
def test_missing_input_file_exits_2_naming_it(tmp_path, case, debug):
    param, template = CASES[case]
    paths = _inputs(tmp_path)
    res = CliRunner().invoke(main, [*debug, *_args(template, paths)])
    _check(res.exit_code, res.stdout, res.stderr, param, paths["missing"], "does not exist")
    assert not paths["out"].exists() and not Path(str(paths["out"]) + ".csv").exists()


@pytest.mark.parametrize("case", ["speciate INPUT", "map CONFIG", "run CONFIG",
                                  "flux --samples"])
def test_a_folder_instead_of_the_input_file_exits_2(tmp_path, case):
    param, template = CASES[case]
    paths = _inputs(tmp_path)
    paths["missing"].parent.mkdir()
    paths["missing"].mkdir()  # a folder where the file should be
    res = CliRunner().invoke(main, _args(template, paths))
    _check(res.exit_code, res.stdout, res.stderr, param, paths["missing"], "is a directory")


def test_map_missing_config_from_the_shell(tmp_path):
    """The installed command, as a user runs it: exit status 2 and the path on stderr."""
    missing = tmp_path / "nothere.toml"
    proc = subprocess.run([sys.executable, "-m", "karstsink", "map", str(missing), "-o",
                           str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=120)
    _check(proc.returncode, proc.stdout, proc.stderr, "CONFIG", missing, "does not exist")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command", ["speciate", "flux", "trend"])
def test_a_negative_seed_is_a_usage_error_naming_seed(tmp_path, command):
    # numpy's generators take seeds >= 0: -1 once failed as an "internal error" after all
    # the work was done; it is now refused while the command line is read
    paths = _inputs(tmp_path)
    args = {"speciate": ["speciate", "EXISTING", "-o", "OUT.csv", "--draws", "3"],
            "flux": ["flux", "--discharge", "EXISTING", "--samples", "EXISTING", "--area",
                     "10", "--method", "wrtds", "-o", "OUT"],
            "trend": ["trend", "--discharge", "EXISTING", "--samples", "EXISTING",
                      "--constituent", "hco3", "--pairs", "2000", "2001", "-o", "OUT"]}
    r = CliRunner().invoke(main, [*_args(args[command], paths), "--seed", "-1"])
    assert r.exit_code == 2, r.output
    assert "--seed" in r.output and "-1" in r.output and "Traceback" not in r.output
    assert not paths["out"].exists() and not Path(str(paths["out"]) + ".csv").exists()


def test_resolve_seed_refuses_a_negative_seed_in_one_line():
    from karstsink._seed import resolve_seed
    from karstsink.exceptions import ConfigError

    assert resolve_seed(0) == 0 and resolve_seed(7) == 7
    for bad in (-1, 1.5, True):
        with pytest.raises(ConfigError, match="seed must be a whole number 0 or more"):
            resolve_seed(bad)


def test_trend_offers_the_gap_options_its_gap_error_names(tmp_path):
    # the discharge reader's gap error said "raise --max-gap-days, or pass --allow-gaps":
    # trend had neither option; it has --max-gap-days, and needs every day
    days = [f"2020-01-{d:02d}" for d in range(1, 32) if not 10 <= d <= 25]  # a 16-day gap
    q = tmp_path / "q.csv"
    q.write_text("date,Q (m3/s)\n" + "".join(f"{d},1.5\n" for d in days), encoding="utf-8")
    s = tmp_path / "s.csv"
    s.write_text("date,HCO3 (mg/L)\n2020-01-02,200\n2020-01-28,210\n", encoding="utf-8")
    base = ["trend", "--discharge", str(q), "--samples", str(s), "--constituent", "hco3",
            "--pairs", "2020", "2021", "-o", str(tmp_path / "out")]
    r = CliRunner().invoke(main, base)
    assert r.exit_code != 0 and "--max-gap-days" in r.output, r.output
    assert "--allow-gaps" not in r.output and "a trend needs every day" in r.output
    r = CliRunner().invoke(main, [*base, "--max-gap-days", "20"])
    assert "No such option" not in r.output and "gap" not in r.output.lower(), r.output
    assert "Traceback" not in r.output
