import os

import pytest

from karstsink._io import atomic_dir, atomic_path


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
