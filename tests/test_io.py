import os

import pytest

from karstsink.io.atomic import atomic_dir, atomic_path


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
