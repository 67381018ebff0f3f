import os
import signal

import pytest

from karstsink.io import atomic
from karstsink.io.atomic import atomic_dir, atomic_path, atomic_paths


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    dest = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path):
    dest = tmp_path / "out.csv"
    dest.write_text("old")
    with atomic_path(dest) as tmp:
        tmp.write_text("new")
    assert dest.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_atomic_dir_all_or_nothing(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(ValueError), atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("a")
        raise ValueError("fail")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with atomic_dir(out) as tmp:
        (tmp / "a.csv").write_text("a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("b")
    assert (out / "a.csv").read_text() == "a" and (out / "sub" / "b.txt").read_text() == "b"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_atomic_files_get_the_mode_of_a_plain_open(tmp_path):
    """Outputs must be readable by others as any file the user writes (not mkstemp's 0600)."""
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


# ---------------------------------------------------------------------------
# the one table reader (karstsink.io.text.read_table), issue 11
# ---------------------------------------------------------------------------


def test_read_table_comments_blank_rows_and_line_numbers(tmp_path):
    from karstsink.io.text import read_table

    p = tmp_path / "t.csv"
    # a comment with a delimiter and a quote must not change the columns
    p.write_text('# note, "with a quote\n date , Q (m3/s) ,\n\n2020-01-01, 1 ,\n'
                 "  # a late comment\n2020-01-02\n", encoding="utf-8")
    table, info = read_table(p)
    assert list(table.columns) == ["date", "Q (m3/s)"]
    assert table.to_dict("list") == {"date": ["2020-01-01", "2020-01-02"], "Q (m3/s)": ["1", ""]}
    assert info["lines"] == [4, 6] and info["header_line"] == 2 and info["delimiter"] == ","


def test_read_table_encodings_and_delimiters(tmp_path):
    from karstsink.io.text import read_table

    text = "日期;流量(m³/s)\n2020年1月5日;1,5\n"
    for name, data in (("gbk.csv", text.replace("³", "3").encode("gb18030")),
                       ("bom.csv", b"\xef\xbb\xbf" + text.encode("utf-8")),
                       ("tab.tsv", text.replace(";", "\t").encode("utf-8"))):
        (tmp_path / name).write_bytes(data)
        table, _info = read_table(tmp_path / name)
        assert table.iloc[0].tolist() == ["2020年1月5日", "1,5"], name
        assert table.columns[0] == "日期", name


def test_read_table_refuses_a_row_longer_than_the_header(tmp_path):
    from karstsink.exceptions import DataError
    from karstsink.io.text import read_table

    p = tmp_path / "t.csv"
    p.write_text("date,Q (m3/s)\n2020-01-01,1,5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 2 has 3 cells.*names 2 columns"):
        read_table(p)
    p.write_text("a,a,\n1,2,\n", encoding="utf-8")  # repeated names as pandas does
    table, _ = read_table(p)
    assert list(table.columns) == ["a", "a.1"]


def test_a_title_row_above_the_header_is_named_as_such(tmp_path):
    # a one-cell first row is a title, not a header: "quote cells that contain the
    # delimiter" was no help, least of all in an XLSX file
    import openpyxl

    from karstsink.exceptions import DataError
    from karstsink.io.text import read_table

    p = tmp_path / "t.csv"
    p.write_text("Longtan discharge 2020\ndate,Q (m3/s)\n2020-01-01,1\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"names 1 column; if line 1 is a title, delete the "
                       r"title row\(s\) above the header .*, else fix the row"):
        read_table(p)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["date", "Q (m3/s)"])
    ws.append(["2020-01-01", 1.0, 5.0])
    wb.save(tmp_path / "t.xlsx")
    with pytest.raises(DataError, match=r"names 2 columns; fix the row\.$"):
        read_table(tmp_path / "t.xlsx")
    # a title merged across the sheet (A1:B1) is a title too, not a header of two columns
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Longtan discharge 2020", None])
    ws.append(["date", "Q (m3/s)"])
    ws.append(["2020-01-01", 1.0])
    ws.merge_cells("A1:B1")
    wb.save(tmp_path / "m.xlsx")
    with pytest.raises(DataError, match=r"line 1 is one merged cell, a title: .*delete the "
                       r"title row\(s\) above it"):
        read_table(tmp_path / "m.xlsx")


def _old_pair(tmp_path):
    a, b = tmp_path / "out.csv", tmp_path / "out.meta.json"
    a.write_text("old csv", encoding="utf-8")
    b.write_text("old meta", encoding="utf-8")
    return a, b


def _write_pair(pair):
    with atomic_paths(*pair) as (ta, tb):
        ta.write_text("new csv", encoding="utf-8")
        tb.write_text("new meta", encoding="utf-8")


def test_atomic_paths_put_back_what_a_failed_rename_replaced(tmp_path, monkeypatch):
    pair = _old_pair(tmp_path)
    real, calls = os.replace, []

    def second_fails(src, dst):
        calls.append(dst)
        if str(dst) == str(pair[1]) and str(src).endswith(".tmp"):  # the new metadata
            raise OSError(28, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", second_fails)
    with pytest.raises(OSError, match="No space"):
        _write_pair(pair)
    monkeypatch.undo()
    # the table was replaced, then put back: both files are the old ones, no temporary left
    assert [p.read_text(encoding="utf-8") for p in pair] == ["old csv", "old meta"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.meta.json"]


def test_atomic_paths_hold_sigterm_until_both_are_in_place(tmp_path, monkeypatch):
    pair = _old_pair(tmp_path)
    real = os.replace

    def kill_after_the_table(src, dst):
        real(src, dst)
        if str(dst) == str(pair[0]):
            os.kill(os.getpid(), signal.SIGTERM)

    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        monkeypatch.setattr(atomic.os, "replace", kill_after_the_table)
        with pytest.raises(Stop):
            _write_pair(pair)
    finally:
        signal.signal(signal.SIGTERM, previous)
    # the signal waited for the second rename: the pair is the new one, whole
    assert [p.read_text(encoding="utf-8") for p in pair] == ["new csv", "new meta"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.meta.json"]


def test_a_write_error_names_the_destination(tmp_path):
    # write() on a full disk raises OSError(28) without a file name: the destination is named
    pair = (tmp_path / "out.csv", tmp_path / "out.meta.json")
    with pytest.raises(OSError) as info, atomic_paths(*pair):
        raise OSError(28, "No space left on device")
    assert info.value.filename == f"{pair[0]} and out.meta.json"
    with pytest.raises(OSError) as info, atomic_dir(tmp_path / "folder"):
        raise OSError(28, "No space left on device")
    assert info.value.filename == str(tmp_path / "folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
