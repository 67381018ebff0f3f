"""The one TOML reader and its number check (karstsink.io.tomlfile)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from karstsink.exceptions import ConfigError
from karstsink.io.tomlfile import read_toml, toml_number


def test_read_toml_names_the_file_and_skips_a_bom(tmp_path):
    good = tmp_path / "a.toml"
    good.write_bytes(b"\xef\xbb\xbf[model]\nx = 1\n")
    assert read_toml(good, "map configuration") == {"model": {"x": 1}}
    bad = tmp_path / "b.toml"
    bad.write_text("[model\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"b\.toml: not valid TOML"):
        read_toml(bad, "map configuration")
    with pytest.raises(ConfigError, match=r"c\.toml: run configuration file not found"):
        read_toml(tmp_path / "c.toml", "run configuration")


@pytest.mark.parametrize("value", [True, False, "0.5", None, math.nan, math.inf, [0.5]])
def test_no_bool_text_nan_or_infinity_is_a_number(value):
    with pytest.raises(ConfigError, match=r"^m\.toml: \[model\] share must be a number in "
                                          r"0-1 \(a share\); got "):
        toml_number(value, "m.toml: [model] share", lo=0.0, hi=1.0, what="a share")


def test_bounds_are_inclusive_and_numpy_numbers_count():
    assert toml_number(0, "k", lo=0.0, hi=1.0) == 0.0
    assert toml_number(1, "k", lo=0.0, hi=1.0) == 1.0
    assert toml_number(np.float32(0.25), "k", lo=0.0) == 0.25
    assert toml_number(np.int64(3), "k", lo=1, integer=True) == 3
    with pytest.raises(ConfigError, match=r"k must be an integer >= 1; got 1\.5"):
        toml_number(1.5, "k", lo=1, integer=True)
    with pytest.raises(ConfigError, match=r"k must be a number <= 90; got 91"):
        toml_number(91, "k", hi=90)


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(-10, 10), st.floats(0, 10))
def test_a_number_is_kept_exactly_when_inside_and_refused_outside(x, lo, width):
    hi = lo + width
    if lo <= x <= hi:
        assert toml_number(x, "k", lo=lo, hi=hi) == x
    else:
        with pytest.raises(ConfigError):
            toml_number(x, "k", lo=lo, hi=hi)
