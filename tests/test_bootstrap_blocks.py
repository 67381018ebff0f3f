"""Bootstrap block lengths: one of 1 day or less took no sample and never ended."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from karstsink.exceptions import DataError
from karstsink.flux.wrtds import estimate_wrtds


def _record():
    days = pd.date_range("2015-01-01", "2017-12-31", freq="D")
    q = pd.DataFrame({"discharge_m3s": np.exp(np.sin(np.arange(days.size) / 58.0))},
                     index=days)
    dates = days[::12]
    samples = pd.DataFrame({"date": dates, "conc_mg_L": 200.0 + 10 * np.cos(np.arange(
        dates.size)), "censored": False})
    return q, samples


@pytest.mark.parametrize("block_days", [1, 0, -5, 2.5, True])
def test_a_block_shorter_than_two_days_is_refused_before_any_fit(block_days):
    q, samples = _record()
    with pytest.raises(DataError, match="block_days must be a whole number of at least 2"):
        estimate_wrtds(q, samples, bootstrap=5, block_days=block_days)


def test_the_trend_command_refuses_a_one_day_block(tmp_path):
    from click.testing import CliRunner

    from karstsink.cli import main

    r = CliRunner().invoke(main, ["trend", "--help"])
    assert "--block-days" in r.output
    for name in ("q.csv", "s.csv"):
        (tmp_path / name).write_text("date\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["trend", "--discharge", str(tmp_path / "q.csv"),
                                  "--samples", str(tmp_path / "s.csv"),
                                  "--area", "10", "-o", str(tmp_path / "o"),
                                  "--block-days", "1"])
    assert r.exit_code == 2 and "--block-days" in r.output
