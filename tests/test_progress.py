"""Progress bars (karstsink.io.progress): silent unless enabled, in the main thread only."""

from __future__ import annotations

import threading

from karstsink.io.progress import bars_enabled, progress


def test_bars_are_silent_by_default(capsys):
    with progress(5, "steps") as bar:
        for _ in range(5):
            bar.update()
    assert bar.n == 5
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_enabled_bars_are_tqdm_bars_that_count_and_close():
    from tqdm.auto import tqdm

    with bars_enabled(), progress(4, "replicates", unit="replicate") as bar:
        assert isinstance(bar, tqdm) and bar.total == 4
        bar.update(3)
        bar.update()
        assert bar.n == 4
    assert bar.disable or bar.n == 4  # closed on exit


def test_bars_enabled_false_and_other_threads_stay_silent():
    from tqdm.auto import tqdm

    with bars_enabled(False), progress(2, "x") as bar:
        assert not isinstance(bar, tqdm)
    seen = []
    with bars_enabled():
        t = threading.Thread(target=lambda: seen.append(progress(1, "y").__enter__()))
        t.start()
        t.join()
    assert seen and not isinstance(seen[0], tqdm)  # a worker thread draws no bar
    with progress(1, "z") as bar:  # the state is restored after the block
        assert not isinstance(bar, tqdm)


def test_a_warning_line_is_printed_above_a_bar_not_through_it(monkeypatch):
    """A command's warning while a bar is drawn: the bar is cleared, the line written whole
    on a line of its own, and the bar drawn again after it (not glued to the bar's text)."""
    import io
    import sys

    from tqdm import tqdm

    from karstsink.cli._common import echo_err

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    bar = tqdm(total=10, desc="speciate", file=sys.stderr, mininterval=0, delay=0)
    bar.update(3)
    echo_err("warning: 2 row(s) charge_imbalance")
    bar.update(2)
    bar.close()
    text = err.getvalue()
    head, sep, tail = text.partition("warning: 2 row(s) charge_imbalance\n")
    assert sep, text
    assert head.endswith("\r"), repr(head[-40:])  # the bar's line was cleared first
    assert "speciate" in head and "speciate" in tail  # drawn before, and again after
