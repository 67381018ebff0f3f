"""The package people install and cite: LICENSE, CITATION.cff, one version, py.typed, the CLI's
help texts and its streams (results on stdout, diagnostics on stderr; issue 17)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import karstsink
from karstsink.cli import main

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

yaml = pytest.importorskip("yaml")  # PyYAML: in the [test] extra (and a mkdocs dependency)

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------
# LICENSE, CITATION.cff, CHANGELOG, version, py.typed
# --------------------------------------------------------------------------------------
def test_license_file_is_mit_and_matches_the_metadata():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 karstsink developers" in text
    # the two operative sentences of the MIT licence (opensource.org/license/mit)
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"
    assert "LICENSE" in project["license-files"]  # shipped in the wheel's .dist-info/licenses


def _citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def test_citation_cff_has_the_required_keys_and_the_package_version():
    cff = _citation()
    # required keys of CFF 1.2.0 (citation-file-format schema-guide: cff-version, message,
    # title, authors); version/license/repository-code as the package states them
    assert cff["cff-version"] == "1.2.0"
    assert cff["message"].strip() and cff["title"].strip()
    assert cff["type"] == "software"
    assert cff["authors"] == [{"name": "karstsink developers"}]
    assert str(cff["version"]) == karstsink.__version__
    assert cff["license"] == PYPROJECT["project"]["license"] == "MIT"
    assert cff["repository-code"] == "https://github.com/karstsink/karstsink"


def test_citation_cff_references_what_to_cite_with_karstsink():
    refs = _citation()["references"]
    for ref in refs:  # each reference needs type, title and authors (CFF 1.2.0)
        assert ref["type"] and ref["title"].strip() and ref["authors"], ref
    dois = {ref.get("doi") for ref in refs}
    # PHREEQC (Parkhurst & Appelo 2013, TM 6-A43), LOADEST (Runkel et al. 2004, TM 4-A5),
    # EGRET (Hirsch & De Cicco 2015, TM 4-A10)
    assert {"10.3133/tm6A43", "10.3133/tm4A5", "10.3133/tm4A10"} <= dois
    by_doi = {ref["doi"]: ref for ref in refs if ref["type"] == "report"}
    assert by_doi["10.3133/tm6A43"]["authors"][0]["family-names"] == "Parkhurst"
    assert by_doi["10.3133/tm4A5"]["authors"][0]["family-names"] == "Runkel"
    assert by_doi["10.3133/tm4A10"]["authors"][0]["family-names"] == "Hirsch"
    assert by_doi["10.3133/tm6A43"]["year"] == 2013
    assert by_doi["10.3133/tm4A5"]["year"] == 2004
    assert by_doi["10.3133/tm4A10"]["year"] == 2015
    databases = [ref for ref in refs if ref["type"] == "database"]
    assert any("phreeqc.dat" in ref["title"] for ref in databases)


def test_the_docs_say_what_to_cite():
    for page in (ROOT / "README.md", ROOT / "docs" / "index.md"):
        text = page.read_text(encoding="utf-8")
        for doi in ("10.3133/tm6A43", "10.3133/tm4A5", "10.3133/tm4A10"):
            assert doi in text, f"{page.name} does not cite {doi}"
        assert "CITATION.cff" in text and "phreeqc.dat" in text


def test_one_version_source():
    project = PYPROJECT["project"]
    assert "version" not in project, "pyproject.toml must not write the version again"
    assert "version" in project["dynamic"]
    source = ROOT / PYPROJECT["tool"]["hatch"]["version"]["path"]
    assert source == ROOT / "src" / "karstsink" / "__init__.py"
    # hatchling's regex source: one __version__ = "..." assignment
    found = re.findall(r'^__version__\s*=\s*["\']([^"\']+)["\']', source.read_text("utf-8"),
                       flags=re.MULTILINE)
    assert found == [karstsink.__version__]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{karstsink.__version__}]" in changelog


def test_py_typed_is_in_the_package():
    package = Path(karstsink.__file__).parent
    assert (package / "py.typed").is_file()
    assert (ROOT / "src" / "karstsink" / "py.typed").is_file()
    # the wheel ships the whole package folder, py.typed with it
    assert PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "src/karstsink"]


# --------------------------------------------------------------------------------------
# the command line: help texts
# --------------------------------------------------------------------------------------
def _commands():
    ctx = click.Context(main)
    return [(name, main.get_command(ctx, name)) for name in main.list_commands(ctx)]


def test_every_cli_option_has_help_text():
    missing = [f"karstsink {p.opts}" for p in main.params
               if isinstance(p, click.Option) and not p.help]
    commands = _commands()
    assert {"speciate", "flux", "map", "run", "demo", "trend"} <= {n for n, _ in commands}
    for name, cmd in commands:
        assert cmd.help, f"karstsink {name} has no help text"
        missing += [f"karstsink {name} {'/'.join(p.opts)}" for p in cmd.params
                    if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert missing == []


@pytest.mark.parametrize("args", [["--help"], ["flux", "--help"], ["run", "--help"]])
def test_help_lists_quiet_and_verbose(args):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "-q, --quiet" in res.stdout and "-v, --verbose" in res.stdout


# --------------------------------------------------------------------------------------
# the command line: results on stdout, diagnostics on stderr
# --------------------------------------------------------------------------------------
@pytest.fixture
def flux_files(tmp_path):
    """Q = 1 m3/s every day of water years 2019-2021 and HCO3 250 mg/L every 30th day."""
    days = pd.date_range("2018-10-01", "2021-09-30", freq="D")
    qp = tmp_path / "q.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0}).to_csv(qp, index=False)
    sp = tmp_path / "s.csv"
    pd.DataFrame({"date": days[::30].strftime("%Y-%m-%d"), "hco3": 250.0}).to_csv(
        sp, index=False)
    return qp, sp


def _flux(qp, sp, out, *extra, before=()):
    # click >= 8.2: CliRunner keeps result.stdout and result.stderr apart
    return CliRunner().invoke(main, [*before, "flux", "--discharge", str(qp), "--samples",
                                     str(sp), "--units", "mg/L", "--area", "100", "--method",
                                     "direct", "--no-plots", "-o", str(out), *extra])


def test_flux_prints_results_on_stdout_and_diagnostics_on_stderr(flux_files, tmp_path):
    qp, sp = flux_files
    res = _flux(qp, sp, tmp_path / "out")
    assert res.exit_code == 0, res.output
    out = res.stdout.splitlines()
    # 1 m3/s x 250 g/m3 x 86.4 = 21 600 kg/d over 1096 days (2018-10-01..2021-09-30);
    # sink: 21 600 kg/d x 365.25 d/yr x 12.011/61.017 (C in HCO3) x 0.5 / 100 km2 / 1000
    # = 7.765 t C km-2 yr-1, x 44.009/12.011 = 28.45 t CO2 km-2 yr-1
    assert len(out) == 2, res.stdout
    assert out[0].startswith("direct: mean flux 2.16e+04 kg/d") and "1096 days" in out[0]
    assert out[1] == ("carbon sink (whole record): 7.765 t C km-2 yr-1 = 28.45 t CO2 "
                      "km-2 yr-1")
    assert "wrote" not in res.stdout
    err = res.stderr.splitlines()
    assert err[-1].startswith("wrote ") and err[-1].endswith(f"files to {tmp_path / 'out'}")
    assert "mean flux" not in res.stderr and "carbon sink" not in res.stderr


@pytest.mark.parametrize("where", ["group", "command"])
def test_quiet_keeps_only_results_and_verbose_lists_the_files(flux_files, tmp_path, where):
    qp, sp = flux_files

    def run(flag, out):
        return (_flux(qp, sp, out, before=[flag]) if where == "group"
                else _flux(qp, sp, out, flag))

    quiet = run("-q", tmp_path / "quiet")
    assert quiet.exit_code == 0, quiet.output
    assert "carbon sink (whole record): 7.765" in quiet.stdout
    assert quiet.stderr == ""
    verbose = run("--verbose", tmp_path / "verbose")
    assert verbose.exit_code == 0, verbose.output
    assert "carbon sink (whole record): 7.765" in verbose.stdout
    listed = {line.strip() for line in verbose.stderr.splitlines()}
    assert {"daily.csv", "sink.csv", "model.json"} <= {Path(x).name for x in listed}


def test_quiet_and_verbose_together_are_a_usage_error(flux_files, tmp_path):
    qp, sp = flux_files
    for before, extra in (([], ["-q", "-v"]), (["-q"], ["-v"]), (["-v", "-q"], [])):
        res = _flux(qp, sp, tmp_path / "out", *extra, before=before)
        assert res.exit_code == 2 and "not both" in res.stderr, res.output
    assert not (tmp_path / "out").exists()


def test_flux_seed_is_for_wrtds_only(flux_files, tmp_path):
    qp, sp = flux_files
    res = _flux(qp, sp, tmp_path / "out", "--seed", "3")
    assert res.exit_code == 2
    assert "--seed applies to --method wrtds only" in res.stderr


def test_flux_seed_reaches_the_wrtds_bootstrap(tmp_path):
    rng = np.random.default_rng(11)
    days = pd.date_range("2015-10-01", "2019-09-30", freq="D")
    q = np.exp(np.sin(np.arange(len(days)) / 40.0) + rng.normal(0, 0.2, len(days)))
    idx = np.arange(0, len(days), 12)
    conc = 220 * q[idx] ** -0.1 * np.exp(rng.normal(0, 0.05, len(idx)))
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": q}).to_csv(qp, index=False)
    pd.DataFrame({"date": days[idx].strftime("%Y-%m-%d"), "hco3": conc}).to_csv(
        sp, index=False)
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = CliRunner().invoke(main, [
            "-q", "flux", "--discharge", str(qp), "--samples", str(sp), "--units", "mg/L",
            "--area", "50", "--method", "wrtds", "--bootstrap", "3", "--seed", "7", "--jobs",
            "1", "--min-obs", "60", "--min-uncen", "30", "--no-plots", "-o", str(out)])
        assert res.exit_code == 0, res.output
        model = json.loads((out / "model.json").read_text(encoding="utf-8"))
        assert model["model"]["interval"]["seed"] == 7
        outs.append(pd.read_csv(out / "annual.csv"))
    # same seed, same bootstrap intervals
    pd.testing.assert_frame_equal(outs[0], outs[1])


def _run_config(tmp_path, qp, sp, *, html: bool) -> Path:
    cfg = tmp_path / "run.toml"
    cfg.write_text(
        f'[[catchments]]\nname = "a"\narea_km2 = 100\ndischarge = "{qp.name}"\n'
        f'samples = "{sp.name}"\nunits = "mg/L"\nmethod = "direct"\n'
        '[speciation]\nsamples = []\n[scenario]\nsinks_from = "given"\nkarst_t_c_yr = 1e6\n'
        f"[report]\nhtml = {'true' if html else 'false'}\n", encoding="utf-8")
    return cfg


def test_run_prints_headline_numbers_on_stdout_and_stages_on_stderr(flux_files, tmp_path):
    qp, sp = flux_files
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["run", str(_run_config(tmp_path, qp, sp, html=True)),
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    # the catchment's sink: 7.765 t C km-2 yr-1 by hand (see the flux test above), 3 digits
    assert "catchment sinks [t C km-2 yr-1]: a 7.77" in res.stdout.splitlines()
    assert res.stdout.splitlines()[-1] == f"report: {out / 'report.html'}"
    assert "[1/" not in res.stdout and "wrote" not in res.stdout
    assert "[1/" in res.stderr and f"files to {out} in" in res.stderr

    quiet = CliRunner().invoke(main, ["run", str(_run_config(tmp_path, qp, sp, html=False)),
                                      "-o", str(tmp_path / "quiet"), "-q"])
    assert quiet.exit_code == 0, quiet.output
    assert "catchment sinks [t C km-2 yr-1]: a 7.77" in quiet.stdout
    assert "report:" not in quiet.stdout  # [report] html = false: no report to point to
    assert quiet.stderr == ""
