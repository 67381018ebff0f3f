"""``mypy src`` is clean (issue 17), with the project's [tool.mypy] settings and the pinned
mypy and stubs of the [test] extra."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_src_is_mypy_clean(tmp_path):
    api = pytest.importorskip("mypy.api", reason="mypy is in the [test] extra")
    out, err, status = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                "--cache-dir", str(tmp_path / "cache"), str(ROOT / "src")])
    assert status == 0, out + err
