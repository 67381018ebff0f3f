"""The ``karstsink`` command (and ``python -m karstsink``): signals handled from its start.

Until a command's own handlers are installed (:func:`karstsink.cli._common.handle_errors`:
clean-up, then one line and exit 130 or 143) the imports and the option parsing run;
Ctrl-C or SIGTERM then printed a traceback, or click's "Aborted!" with exit 1.  Nothing
has been written at that point, so the process ends at once with one line and the
shell's code.  After an interrupt the command ends without waiting for worker threads
(:func:`karstsink.cli._common.exit_after_interrupt`).
"""

from __future__ import annotations

import os
import signal
import sys

__all__ = ["run"]


def _before_work(signum: int, frame: object) -> None:
    what = "terminated by SIGTERM" if signum == signal.SIGTERM else "interrupted (Ctrl-C)"
    common = sys.modules.get("karstsink.cli._common")
    if common is not None and common.STARTED[0]:  # the command has ended (its line said)
        os.write(2, f"Error: {what} as the command ended.\n".encode())
    else:
        os.write(2, f"Error: {what} before any work; nothing was written.\n".encode())
    os._exit(128 + signum)


def run() -> None:
    """Run the CLI as a process of its own (the console script)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a background job keeps it
        signal.signal(signal.SIGINT, _before_work)
    signal.signal(signal.SIGTERM, _before_work)
    from .cli import _common, main

    _common.HARD_EXIT = True
    main()
