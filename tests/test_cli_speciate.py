"""``karstsink speciate``: files written atomically, metadata, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import EXAMPLES_DIR, requires_phreeqpy
from test_speciation import MESSY_CSV

import karstsink
from karstsink.cli import main
from karstsink.exceptions import DataQualityWarning, SpeciationError
from karstsink.io import write as csv_write

RESULTS = ["si_calcite", "si_dolomite", "si_gypsum", "log_pco2", "dic_mmol_kgw",
           "hco3_mmol_kgw", "co3_mmol_kgw", "co2aq_mmol_kgw", "ionic_strength", "cbe_pct"]


@pytest.fixture()
def messy(tmp_path):
    path = tmp_path / "field.csv"
    path.write_text(MESSY_CSV, encoding="utf-8")
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["speciate", *map(str, args)])


def files_in(folder):
    return sorted(p.name for p in folder.iterdir())


def test_success_writes_csv_and_meta_and_prints_a_summary(messy, tmp_path):
    out = tmp_path / "out" / "result.csv"
    res = run(messy, "-o", out, "--jobs", "1")
    assert res.exit_code == 0, res.output
    assert "speciate: 10 rows, 5 computed with phreeqc.dat" in res.output
    assert "charge_imbalance 1" in res.output
    assert files_in(out.parent) == ["result.csv", "result.meta.json"]
    raw = out.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")  # plain UTF-8, no BOM
    assert "普定 陈旗泉" in raw.decode("utf-8")
    table = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert list(table["Sample ID"]) == [f"GZ-{i:02d}" for i in range(1, 11)]
    assert table.loc[0, "Notes"] == "spring, after rain"
    meta = json.loads((out.parent / "result.meta.json").read_text(encoding="utf-8"))
    spec = meta["speciation"]
    assert spec["database"]["name"] == "phreeqc.dat" and len(spec["database"]["sha256"]) == 64
    assert spec["engine_version"].startswith("3.8") and spec["n_computed"] == 5
    assert meta["samples"]["source_units"]["no3"] == "mg/L as N"


def test_csv_holds_the_same_numbers_as_the_api(messy, tmp_path):
    out = tmp_path / "r.csv"
    assert run(messy, "-o", out, "--jobs", "1").exit_code == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        api = karstsink.speciate(karstsink.read_samples(messy), jobs=1)
    csv = pd.read_csv(out, keep_default_na=False, na_values=[""])
    for col in RESULTS:
        np.testing.assert_array_equal(csv[col].to_numpy(float), api[col].to_numpy(float))
    assert list(csv["qa_flags"].fillna("")) == list(api["qa_flags"])


def test_unknown_database_exits_1_with_one_line_and_writes_nothing(messy, tmp_path):
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    res = run(messy, "-o", out_dir / "r.csv", "--database", "nope.dat")
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "nope.dat" in errors[0]
    assert "Traceback" not in res.output
    assert files_in(out_dir) == []


def test_unknown_database_is_refused_before_the_input_is_read(tmp_path):
    # no column of the input is a sample quantity: read first, the error would say so
    bad = tmp_path / "unknown_columns.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    res = run(bad, "-o", tmp_path / "r.csv", "--database", "nope.dat")
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "nope.dat" in errors[0], res.output
    assert "column" not in errors[0].lower(), errors[0]


def test_unknown_phase_exits_1(messy, tmp_path):
    res = run(messy, "-o", tmp_path / "r.csv", "--phases", "Calcite,Fluorit")
    assert res.exit_code == 1
    assert "did you mean Fluorite" in res.output
    assert not (tmp_path / "r.csv").exists()


def test_extra_phases_option(messy, tmp_path):
    out = tmp_path / "r.csv"
    assert run(messy, "-o", out, "--phases", "Aragonite", "--jobs", "1").exit_code == 0
    assert "si_aragonite" in pd.read_csv(out).columns


def test_usage_errors_exit_2(messy, tmp_path):
    assert run(tmp_path / "missing.csv", "-o", tmp_path / "r.csv").exit_code == 2
    assert run(messy).exit_code == 2  # no -o
    assert run(messy, "-o", tmp_path / "r.csv", "--engine", "nope").exit_code == 2
    assert run(messy, "-o", tmp_path / "r.csv", "--jobs", "0").exit_code == 2


@pytest.mark.parametrize("value", ["nan", "inf", "-0.5"])
def test_a_share_that_is_not_a_number_in_0_1_is_a_usage_error(messy, tmp_path, value):
    # nan passes both bounds of a plain range check; it would make every corrected HCO3 NaN
    res = run(messy, "-o", tmp_path / "r.csv", "--acid-so4-share", value)
    assert res.exit_code == 2, res.output
    assert "--acid-so4-share" in res.output
    assert not (tmp_path / "r.csv").exists()


def test_a_speciated_table_speciated_again_gives_the_same_results(messy, tmp_path):
    # The first output holds PHREEQC's co3_mmol_kgw, dic_mmol_kgw, si_calcite ...: read
    # again, none of them may become an input (co3_mmol_kgw is no measured carbonate).
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        assert run(messy, "-o", first).exit_code == 0
        assert run(first, "-o", second).exit_code == 0
    a, b = pd.read_csv(first), pd.read_csv(second)
    assert list(b.columns) == list(a.columns)
    for col in ("si_calcite", "log_pco2", "dic_mmol_kgw", "co3_mmol_kgw", "cbe_pct"):
        np.testing.assert_array_equal(b[col].to_numpy(), a[col].to_numpy(), err_msg=col)
    meta = json.loads((tmp_path / "second.meta.json").read_text(encoding="utf-8"))
    assert "co3_mmol_kgw" not in json.dumps(meta["samples"].get("column_map", {}))


def test_a_lab_column_named_like_a_result_is_kept_renamed_not_overwritten(tmp_path):
    # the lab's own cbe_pct, si_calcite and log_pco2 (3.2, 0.11, -2.01) were replaced by
    # karstsink's without a word; they are kept, in their place, as <name>_input
    src = tmp_path / "lab.csv"
    src.write_text("Sample ID,T (°C),pH,Ca (mg/L),Mg (mg/L),HCO3 (mg/L),cbe_pct,si_calcite,"
                   "log_pco2\nA,15,7.5,80,10,244,3.2,0.11,-2.01\n", encoding="utf-8")
    out = tmp_path / "r.csv"
    res = run(src, "-o", out, "--jobs", "1")
    assert res.exit_code == 0, res.output
    assert "'si_calcite' -> 'si_calcite_input'" in res.output
    df = pd.read_csv(out)
    cols = list(df.columns)
    assert cols[6:9] == ["cbe_pct_input", "si_calcite_input", "log_pco2_input"]
    assert df.loc[0, ["cbe_pct_input", "si_calcite_input", "log_pco2_input"]].tolist() == [
        3.2, 0.11, -2.01]
    assert df.loc[0, "si_calcite"] != 0.11 and np.isfinite(df.loc[0, "si_calcite"])
    meta = json.loads((tmp_path / "r.meta.json").read_text(encoding="utf-8"))
    assert meta["speciation"]["renamed_input_columns"] == {
        "cbe_pct": "cbe_pct_input", "si_calcite": "si_calcite_input",
        "log_pco2": "log_pco2_input"}


def test_debug_shows_the_real_exception(messy, tmp_path):
    res = CliRunner().invoke(main, ["--debug", "speciate", str(messy), "-o",
                                    str(tmp_path / "r.csv"), "--database", "nope.dat"])
    assert isinstance(res.exception, SpeciationError)


def test_failure_while_writing_leaves_no_file_and_keeps_an_old_output(messy, tmp_path,
                                                                      monkeypatch):
    out = tmp_path / "r.csv"
    out.write_text("old results\n", encoding="utf-8")

    def broken(self, *args, **kwargs):
        raise PermissionError("disk says no")

    monkeypatch.setattr(csv_write, "write_csv", broken)
    res = run(messy, "-o", out, "--jobs", "1", "--overwrite")  # an old output: issue 12
    assert res.exit_code == 1 and "disk says no" in res.output
    assert files_in(tmp_path) == ["field.csv", "r.csv"]  # no temporary or meta file
    assert out.read_text(encoding="utf-8") == "old results\n"


def test_units_option_for_headers_without_units(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("id,temp,pH,Ca,Mg,HCO3,SO4\nA,16,7.4,80,6,250,24\n", encoding="utf-8")
    out = tmp_path / "r.csv"
    res = run(path, "-o", out, "--units", "mg/L", "--jobs", "1")
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert table.loc[0, "ca_mmol_l"] == pytest.approx(80 / 40.078)
    assert np.isfinite(table.loc[0, "si_calcite"])


@requires_phreeqpy
def test_phreeqpy_with_2024_database_is_a_data_error(messy, tmp_path):
    res = run(messy, "-o", tmp_path / "r.csv", "--engine", "phreeqpy")
    assert res.exit_code == 1 and "wateq4f.dat" in res.output
    assert not (tmp_path / "r.csv").exists()


@requires_phreeqpy
def test_phreeqpy_engine_with_wateq4f(messy, tmp_path):
    out = tmp_path / "r.csv"
    res = run(messy, "-o", out, "--engine", "phreeqpy", "--database", "wateq4f.dat",
              "--jobs", "1")
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "r.meta.json").read_text(encoding="utf-8"))
    assert meta["speciation"]["engine"] == "phreeqpy"
    assert meta["speciation"]["engine_version"].startswith("3.7.3")


@pytest.mark.skipif(not (EXAMPLES_DIR / "field_samples.csv").exists(),
                    reason="example file not present")
def test_command_line_on_the_bundled_example_with_two_jobs(tmp_path):
    # the `make demo` smoke path, as a real process with a worker pool
    out = tmp_path / "x.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "karstsink", "speciate", str(EXAMPLES_DIR / "field_samples.csv"),
         "-o", str(out), "--jobs", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    src = pd.read_csv(EXAMPLES_DIR / "field_samples.csv", dtype=str, keep_default_na=False)
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(got) == len(src)
    assert list(got.columns[: src.shape[1]]) == list(src.columns)
    assert got.iloc[:, : src.shape[1]].equals(src)  # the user's own cells, untouched
    assert (tmp_path / "x.meta.json").exists()


def test_encoding_option_reads_a_gbk_file_and_a_wrong_one_is_one_line(tmp_path):
    src = tmp_path / "gbk.csv"
    src.write_bytes("Sample ID,采样点,T (°C),pH,Ca2+ (mg/L),HCO3- (mg/L)\n"
                    "S1,后寨河,16.0,7.40,80.0,250.0\n".encode("gb18030"))
    ok = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "a.csv"),
                                       "--encoding", "gb18030", "--jobs", "1"])
    assert ok.exit_code == 0, ok.output
    out = pd.read_csv(tmp_path / "a.csv")
    assert out["采样点"].tolist() == ["后寨河"]
    bad = CliRunner().invoke(main, ["speciate", str(src), "-o", str(tmp_path / "b.csv"),
                                        "--encoding", "utf-8", "--jobs", "1"])
    assert bad.exit_code == 1
    assert "encoding" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "b.csv").exists()


def test_fast_csv_writer_writes_the_bytes_pandas_writes(tmp_path):
    # the contract of the output file is DataFrame.to_csv(index=False): same text for
    # every float (shortest repr, so every number reads back as the same float64), NaN and
    # missing text as empty cells, quotes only around commas, quotes and line breaks
    rng = np.random.default_rng(0)
    n = 9000  # > 100,000 cells / 16 columns: several blocks
    table = pd.DataFrame({
        "id": [f"S{i}" for i in range(n)],
        "text": pd.array(rng.choice(["a,b", 'he said "x"', "line\nbreak", "普定", "", None,
                                     "cr\rx"], n), dtype="string"),
        "f": rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n),
        "g": np.where(rng.random(n) < 0.3, np.nan, rng.random(n)),
        "special": rng.choice([np.inf, -np.inf, 0.0, -0.0, 1e16, 1e-5, 5e-324], n),
        "i": rng.integers(-5, 5, n), "b": rng.random(n) < 0.5,
        "obj": pd.Series([1.5, 2, "s", None, np.float64(2.5), "t,u"] * (n // 6),
                         dtype=object),
        "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(
            np.where(np.arange(n) < 5000, 0, rng.integers(0, 86400, n)), unit="s"),
        "cat": pd.Categorical(rng.choice(["p", "q,r"], n)),
        "nullable": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)),
                             dtype="Int64"),
        "str3": pd.Series(rng.choice(["u", "v", None], n), dtype="str"),
        "f32": rng.random(n).astype(np.float32),
        5: rng.random(n),
    })
    table.to_csv(tmp_path / "pandas.csv", index=False)
    csv_write.write_csv(table, tmp_path / "fast.csv")
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    floats = ["f", "g", "special", "f32"]
    csv_write.write_csv(table[["id", *floats]], tmp_path / "floats.csv")
    back = pd.read_csv(tmp_path / "floats.csv")
    for col in floats[:3]:  # every float64 reads back as itself
        np.testing.assert_array_equal(back[col].to_numpy(), table[col].to_numpy())

    # the float blocks formatted elsewhere (the CLI hands them to its PHREEQC workers)
    calls = []

    def parallel(fn, items):
        for item in items:
            calls.append(1)
            yield fn(*item)

    # (blocks of pandas's size, 100,000 cells: pandas drops the time of a datetime column
    # per block of that size when the whole block is at midnight)
    csv_write.write_csv(table, tmp_path / "par.csv", parallel=parallel)
    assert len(calls) == 2  # 9000 rows in blocks of 100,000 // 14 = 7142
    assert (tmp_path / "par.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    empty = table.iloc[:0]
    empty.to_csv(tmp_path / "e1.csv", index=False)
    csv_write.write_csv(empty, tmp_path / "e2.csv")
    assert (tmp_path / "e1.csv").read_bytes() == (tmp_path / "e2.csv").read_bytes()


def test_large_input_starts_the_workers_before_reading_and_writes_the_same_file(tmp_path):
    # above _EARLY_POOL_BYTES the command starts its PHREEQC workers first; the result must
    # be the file the API gives, written by pandas
    rng = np.random.default_rng(1)
    n = 1200
    table = pd.DataFrame({"sample_id": [f"R{i}" for i in range(n)],
                          "temp_c": rng.uniform(8, 25, n), "ph": rng.uniform(6.8, 8.3, n),
                          "ca_mmol_l": rng.uniform(0.5, 3, n),
                          "mg_mmol_l": rng.uniform(0.05, 1.5, n),
                          "so4_mmol_l": rng.uniform(0.05, 1, n),
                          "hco3_mmol_l": rng.uniform(1, 6, n)})
    src = tmp_path / "big.csv"
    table.to_csv(src, index=False)
    assert src.stat().st_size > 50_000
    out = tmp_path / "out.csv"
    res = run(src, "-o", out, "--jobs", "2")
    assert res.exit_code == 0, res.output
    meta = json.loads((tmp_path / "out.meta.json").read_text(encoding="utf-8"))
    assert meta["speciation"]["jobs"] == 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        api = karstsink.speciate(karstsink.read_samples(src), jobs=2)
    api.to_csv(tmp_path / "api.csv", index=False)
    assert out.read_bytes() == (tmp_path / "api.csv").read_bytes()


def test_the_readers_notes_on_units_are_printed(tmp_path):
    # an alkalinity in mg/L with no basis is taken as mg/L as CaCO3 (APHA 2320): a 22 %
    # difference from mg/L as HCO3 if wrong, so the command says so, not only the metadata
    src = tmp_path / "lab.csv"
    src.write_text("样品编号,水温（℃）,pH值,Ca2+（mg/L）,总碱度（mg/L）,SO42-（mg/L）,NO3-（mg/L）\n"
                   "A,15,7.4,80,200,20,5\n", encoding="utf-8")
    res = run(src, "-o", tmp_path / "o.csv", "--jobs", "1")
    assert res.exit_code == 0, res.output
    assert "read: '总碱度（mg/L）': alkalinity in a mass unit read as mg/L as CaCO3" in res.output
    quiet = CliRunner().invoke(main, ["-q", "speciate", str(src), "-o", str(tmp_path / "q.csv")])
    assert quiet.exit_code == 0 and "read:" not in quiet.output
    # alkalinity in mmol/L is meq/L (HCO3-, charge 1): 4.0 mmol/L is HCO3 4.0, and said
    src.write_text("样品编号,水温（℃）,pH值,Ca2+（mg/L）,碱度 (mmol/L),SO42-（mg/L）,"
                   "NO3-（mg/L）\nA,15,7.4,80,4.0,20,5\n", encoding="utf-8")
    res = run(src, "-o", tmp_path / "m.csv", "--jobs", "1")
    assert res.exit_code == 0, res.output
    assert "read: '碱度 (mmol/L)': alkalinity in mmol/L read as meq/L" in res.output
    assert pd.read_csv(tmp_path / "m.csv")["hco3_mmol_l"].tolist() == [4.0]
