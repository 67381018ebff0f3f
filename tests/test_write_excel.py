"""``--excel``: CSV outputs in UTF-8 with a byte-order mark, for Excel on Chinese Windows.

The expected bytes are the UTF-8 BOM, ``EF BB BF`` (The Unicode Standard 15.0, section
23.8, "Byte Order Mark"), followed by exactly the bytes written without the option.
"""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner
from test_speciation import MESSY_CSV

from karstsink.cli import main
from karstsink.io.write import csv_encoding, excel_csv, to_csv, write_csv

BOM = b"\xef\xbb\xbf"


def chinese_table() -> pd.DataFrame:
    return pd.DataFrame({"采样点": ["普定", "陈旗"], "碳汇_t_c_yr": [1.25, 0.5],
                         "备注": ["岩溶泉", ""]})


def test_excel_csv_writes_a_bom_and_the_chinese_header_round_trips(tmp_path):
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    write_csv(chinese_table(), plain)
    with excel_csv():
        assert csv_encoding() == "utf-8-sig"
        write_csv(chinese_table(), excel)
    assert csv_encoding() == "utf-8"  # switched back after the block
    raw = excel.read_bytes()
    assert raw.startswith(BOM)
    assert not plain.read_bytes().startswith(BOM)
    assert raw[len(BOM):] == plain.read_bytes()
    back = pd.read_csv(excel, encoding="utf-8-sig", keep_default_na=False)
    assert list(back.columns) == ["采样点", "碳汇_t_c_yr", "备注"]
    assert back["采样点"].tolist() == ["普定", "陈旗"]
    assert back["碳汇_t_c_yr"].tolist() == [1.25, 0.5]


def test_to_csv_follows_the_setting_too(tmp_path):
    path = tmp_path / "t.csv"
    with excel_csv():
        to_csv(chinese_table(), path, index=False)
    assert path.read_bytes().startswith(BOM + "采样点".encode())


def test_speciate_excel_option_adds_only_the_bom(tmp_path):
    src = tmp_path / "field.csv"
    src.write_text(MESSY_CSV, encoding="utf-8")
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    for out, extra in ((plain, []), (excel, ["--excel"])):
        res = CliRunner().invoke(main, ["speciate", str(src), "-o", str(out), "--jobs", "1",
                                        *extra])
        assert res.exit_code == 0, res.output
    assert excel.read_bytes() == BOM + plain.read_bytes()
    assert csv_encoding() == "utf-8"  # nothing leaks out of the command


def test_flux_excel_option_puts_a_bom_on_every_csv(tmp_path):
    days = pd.date_range("2018-10-01", "2020-09-30", freq="D")
    qp, sp = tmp_path / "q.csv", tmp_path / "s.csv"
    pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "Q (m3/s)": 1.0}).to_csv(qp, index=False)
    pd.DataFrame({"date": days[::30].strftime("%Y-%m-%d"), "hco3": 250.0,
                  "采样点": "普定"}).to_csv(sp, index=False)
    outs = {}
    for key, extra in (("plain", []), ("excel", ["--excel"])):
        outs[key] = tmp_path / key
        res = CliRunner().invoke(main, ["flux", "--discharge", str(qp), "--samples", str(sp),
                                        "--units", "mg/L", "--area", "100", "--method",
                                        "direct", "--no-plots", "-o", str(outs[key]), *extra])
        assert res.exit_code == 0, res.output
    names = sorted(p.name for p in outs["plain"].glob("*.csv"))
    assert "samples.csv" in names and "sink.csv" in names
    assert names == sorted(p.name for p in outs["excel"].glob("*.csv"))
    for name in names:
        plain = (outs["plain"] / name).read_bytes()
        assert (outs["excel"] / name).read_bytes() == BOM + plain, name
    back = pd.read_csv(outs["excel"] / "sink.csv", encoding="utf-8-sig")
    assert back.columns[0] == "period"  # the BOM is not part of the first header


def test_map_excel_option_reaches_the_zone_helper_process(tmp_path):
    # zonal_totals.csv is written by the zone helper (a separate interpreter): --excel must
    # reach it, and only the three BOM bytes differ from a run without the option
    from mapping_helpers import uniform_inputs, write_config, zones_two_halves

    inputs = uniform_inputs(tmp_path)
    zones = zones_two_halves(tmp_path)
    cfg = write_config(tmp_path, inputs,
                       extra=f'[zones]\npath = "{zones.name}"\nfield = "county"\n')
    runs = {}
    for flag in ([], ["--excel"]):
        out = tmp_path / f"out{len(flag)}"
        res = CliRunner().invoke(main, [*flag, "map", str(cfg), "-o", str(out)])
        assert res.exit_code == 0, res.output
        runs[bool(flag)] = (out / "zonal_totals.csv").read_bytes()
    assert not runs[False].startswith(b"\xef\xbb\xbf")
    assert runs[True] == b"\xef\xbb\xbf" + runs[False]


def test_every_csv_the_package_writes_goes_through_io_write():
    # --excel reaches a CSV only through karstsink.io.write (to_csv / write_csv /
    # write_columns): a direct DataFrame.to_csv elsewhere would silently skip the BOM
    import re
    from pathlib import Path

    import karstsink

    root = Path(karstsink.__file__).parent
    direct = re.compile(r"(?<![`\w])[\w\]\)]+\.to_csv\(")
    found = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py")
             if p.relative_to(root).as_posix() != "io/write.py"
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             if direct.search(line)]
    assert not found, f"CSV written around karstsink.io.write: {found}"


def test_write_columns_ends_lines_as_the_other_writers(tmp_path):
    # write_columns (map series.csv, attribution.csv...) ended lines in CRLF, the csv
    # module's default, where to_csv and write_csv end them in os.linesep
    import os

    import pandas as pd

    from karstsink.io.write import to_csv, write_columns, write_csv

    cols = {"year": [2000, 2020], "sink_t_c_yr": [1.5, float("nan")], "zone": ["a", "b,c"]}
    write_columns(tmp_path / "a.csv", cols)
    write_csv(pd.DataFrame(cols), tmp_path / "b.csv")
    to_csv(pd.DataFrame(cols), tmp_path / "c.csv", index=False)
    a, b, c = ((tmp_path / f"{k}.csv").read_bytes() for k in "abc")
    assert a == b == c
    assert a.count(os.linesep.encode()) == 3
