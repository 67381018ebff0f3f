"""Helpers shared by the CLI subcommands: error mapping, signals, ``--overwrite``, output.

Results (the numbers a command computed: sinks, totals, changes) go to stdout with
:func:`echo_result`, so ``karstsink flux ... > sink.txt`` keeps them; diagnostics go to
stderr: :func:`echo_note` (what was written where, stage progress; hidden by ``-q``),
:func:`echo_detail` (every file written; only with ``-v``), warnings and errors (always),
and the progress bars of :func:`progress` (on a terminal; never with ``-q``; also
off a terminal with ``-v``).

Every error reaches the user as one line on stderr (``--debug``: the traceback):

===========  ==============================================================
exit code    meaning
===========  ==============================================================
1            a data error (:class:`~karstsink.exceptions.KarstSinkError`), a file
             that cannot be read or written (disk full, read-only, permission),
             or an unexpected error (reported as an internal error)
2            a usage error, including an output karstsink refuses to write
             (:class:`~karstsink.exceptions.OutputError`)
130          interrupted (SIGINT, Ctrl-C)
143          terminated (SIGTERM: ``kill``, ``timeout``, batch schedulers)
===========  ==============================================================

On SIGINT and SIGTERM the command's clean-up runs (temporary files and folders are
removed, worker processes are stopped and reaped) before it exits.  A signal arriving
while outputs are renamed into place waits for the renames; the line then names those
outputs as written in full (the exit code is still 130 or 143).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ..exceptions import KarstSinkError, OutputError, Terminated

F = TypeVar("F", bound=Callable[..., Any])

#: The ``--overwrite`` flag of every command that writes an output folder or file.
overwrite_option = click.option(
    "--overwrite", is_flag=True,
    help="Replace an existing output as a whole (a folder only if karstsink wrote it); "
         "without it an existing output is refused.")

_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or write to another disk",
    errno.EDQUOT: "the disk quota is exhausted: free some space or write elsewhere",
    errno.EROFS: "the file system is read-only: choose an output folder you can write to",
    errno.EACCES: "permission denied: choose a folder you can write to, or fix the "
                  "permissions",
    errno.EPERM: "operation not permitted: choose a folder you can write to",
    errno.EFBIG: "the file is too large for this file system",
    errno.EMFILE: "too many open files: lower --jobs or raise the limit (ulimit -n)",
}


#: ``ctx.meta`` key of the verbosity: -1 (``-q``), 0 (default) or 1 (``-v``). ``ctx.meta``
#: is shared by the group's context and the subcommand's, so either may set it.
VERBOSITY_KEY = "karstsink.verbosity"


def verbosity() -> int:
    """-1 with ``-q/--quiet``, 1 with ``-v/--verbose``, else 0 (also outside a command)."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get(VERBOSITY_KEY, 0)) if ctx is not None else 0


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if not value:
        return value
    level = 1 if param.name == "verbose" else -1
    if ctx.meta.get(VERBOSITY_KEY, 0) not in (0, level):
        raise click.UsageError("give -q/--quiet or -v/--verbose, not both.", ctx=ctx)
    ctx.meta[VERBOSITY_KEY] = level
    return value


def verbosity_options(func: F) -> F:
    """The ``-q/--quiet`` and ``-v/--verbose`` flags (on the group and every subcommand)."""
    func = click.option(
        "-v", "--verbose", is_flag=True, expose_value=False, callback=_set_verbosity,
        help="Also list every file written, and show progress bars when stderr is not a "
             "terminal (e.g. a log file).")(func)
    func = click.option(
        "-q", "--quiet", is_flag=True, expose_value=False, callback=_set_verbosity,
        help="Print only the results (stdout), warnings and errors: no progress bars, no "
             "notes.")(func)
    return func


#: ``ctx.meta`` key: True when ``--excel`` was given (on the group or the subcommand).
EXCEL_KEY = "karstsink.excel"


def _set_excel(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[EXCEL_KEY] = True
    return value


def excel_option(func: F) -> F:
    """The ``--excel`` flag: CSV outputs in UTF-8 with a byte-order mark, for Excel.

    Put it on the group and on any command that writes CSV files; the command
    must be wrapped by :func:`handle_errors`, which switches the writer
    (:func:`karstsink.io.write.excel_csv`) for the command's duration.
    """
    return click.option(
        "--excel", is_flag=True, expose_value=False, callback=_set_excel,
        help="Write CSV files as UTF-8 with a byte-order mark (BOM), so that Excel opens "
             "them with their Chinese text intact (e.g. on Chinese Windows).")(func)


def excel_requested() -> bool:
    """True when ``--excel`` was given to this command or the group."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(EXCEL_KEY))


def echo_result(text: str) -> None:
    """A result line (sinks, totals, changes): stdout, whatever the verbosity."""
    click.echo(text)


def units_key(unit: str) -> str:
    """A concentration unit as the one header/unit matcher reads it (``mg/l`` -> ``mg/L``)."""
    from ..io.headers import parse_conc_unit

    return parse_conc_unit(unit) or unit.strip()


#: Why ``--units`` takes one value (:func:`once`): a column in another unit says so itself.
UNITS_ONCE = ("one unit fills every concentration column whose header states none; write a "
              "column's own unit in its header, e.g. 'Ca (mmol/L)'")


def units_option(help: str) -> Callable[[F], F]:
    """The ``--units UNIT`` option of the commands that read a samples table (one value,
    :func:`once` with :func:`units_key`); ``help`` says what it fills in that command."""
    return click.option("--units", multiple=True, metavar="UNIT",
                        callback=once(UNITS_ONCE, units_key), help=help)


def once(hint: str = "", same: Callable[[str], Any] = str
         ) -> Callable[[click.Context, click.Parameter, tuple[str, ...]], str | None]:
    """Callback of an option that takes one value, declared ``multiple=True`` so that a
    repeat is seen rather than the last one silently winning.

    The callback returns the value (None when the option is not given); values that
    ``same`` maps alike (``mg/L`` and ``mg/l`` for :func:`units_key`) are one value, two
    different values a usage error (exit 2) naming the option, the values and ``hint``.
    """

    def callback(ctx: click.Context, param: click.Parameter,
                 values: tuple[str, ...]) -> str | None:
        distinct: dict[Any, str] = {}
        for v in values:
            distinct.setdefault(same(v), v)
        if len(distinct) > 1:
            given = ", ".join(repr(v) for v in distinct.values())
            raise click.BadParameter(f"given {len(values)} times ({given}) but it takes one "
                                     "value" + (f": {hint}" if hint else "") + ".",
                                     ctx=ctx, param=param)
        return next(iter(distinct.values()), None)

    return callback


def check_sheets(**given: tuple[str | None, Path]) -> None:
    """Refuse a sheet option for a file that is not an XLSX workbook (usage error, exit 2).

    ``given``: ``{"--samples-sheet": (sheet, path)}``.
    """
    from ..io.text import WORKBOOK_SUFFIXES

    for option, (sheet, path) in given.items():
        if sheet is not None and path.suffix.lower() not in WORKBOOK_SUFFIXES:
            raise click.UsageError(f"{option} chooses a worksheet of an XLSX workbook; "
                                   f"{path} is not one: leave {option} out.")


#: The type of every ``--seed``: a whole number >= 0 (numpy's generators take no other).
SEED = click.IntRange(min=0)


class FiniteRange(click.FloatRange):
    """``click.FloatRange`` that also refuses nan and inf (a NaN share passes both bounds)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        rv = super().convert(value, param, ctx)
        if isinstance(rv, float) and not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return rv


def echo_err(text: str) -> None:
    """One line on stderr, printed above the progress bars being drawn, not through them.

    tqdm clears its bars, the line is written, and the bars are drawn again below it
    (``tqdm.write``); before any bar was made, plain ``click.echo``.
    """
    tq = sys.modules.get("tqdm.std")
    if tq is None:
        click.echo(text, err=True)
    else:
        tq.tqdm.write(text, file=sys.stderr)


def echo_note(text: str, level: int | None = None) -> None:
    """A diagnostic line (files written, stages): stderr, hidden by ``-q``.

    ``level``: the verbosity captured in the command's thread, for callbacks run in
    worker threads (which see no click context).
    """
    if (verbosity() if level is None else level) >= 0:
        echo_err(text)


def echo_detail(text: str, level: int | None = None) -> None:
    """A detail line (e.g. each file written): stderr, only with ``-v``."""
    if (verbosity() if level is None else level) > 0:
        echo_err(text)


def debug_enabled() -> bool:
    """True when ``karstsink --debug`` (or a subcommand's ``--debug``) was given."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.obj and ctx.obj.get("debug"):
            return True
        if ctx.params.get("debug"):
            return True
        ctx = ctx.parent
    return False


class _UsageLine(click.ClickException):
    """A one-line error with exit code 2 (an output the command refuses to write)."""

    exit_code = 2


def _interrupt_tail() -> str:
    """The end of the interrupt's line: nothing partial, and the outputs that an interrupt
    arriving during their commit let finish (``io.atomic.written_before_interrupt``)."""
    from ..io.atomic import written_before_interrupt

    done = written_before_interrupt()
    if not done:
        return "; no partial output was left."
    return (f" just after {' and '.join(str(p) for p in done)} had been written in full; "
            "no partial output was left.")


def handle_errors(func: F) -> F:
    """Run a command with every error as one line (``--debug`` re-raises) and SIGTERM
    handled like SIGINT (clean-up runs, then exit 143)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        previous = _install_signal_handlers()
        try:
            with warnings.catch_warnings(), _excel_csv(), _bars():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Abort,
                click.exceptions.Exit):
            raise
        except Terminated:
            if debug_enabled():
                raise
            _stop_workers()
            click.echo(f"Error: terminated by SIGTERM{_interrupt_tail()}", err=True)
            exit_after_interrupt(143)
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            _stop_workers()
            click.echo(f"Error: interrupted (Ctrl-C){_interrupt_tail()}", err=True)
            exit_after_interrupt(130)
        except OutputError as err:
            if debug_enabled():
                raise
            raise _UsageLine(one_line(err)) from err
        except KarstSinkError as err:
            if debug_enabled():
                raise
            raise click.ClickException(one_line(err)) from err
        except OSError as err:
            if debug_enabled():
                raise
            raise click.ClickException(os_error_line(err)) from err
        except Exception as err:
            if debug_enabled():
                raise
            raise click.ClickException(
                f"internal error: {type(err).__name__}: {one_line(err)} (no partial output "
                "was left; re-run with --debug for the traceback and report it)") from err
        finally:
            _restore_signal_handlers(previous)

    return wrapper  # type: ignore[return-value]


def _excel_csv() -> Any:
    """:func:`karstsink.io.write.excel_csv` under ``--excel`` (io.write imported only then)."""
    if not excel_requested():
        return contextlib.nullcontext()
    from ..io.write import excel_csv

    return excel_csv()


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line (its repr if it has none)."""
    text = str(err).strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or repr(err)


def os_error_line(err: OSError) -> str:
    """A failed read or write as one line: the file, the system's reason, what to do."""
    where = err.filename if err.filename is not None else None
    reason = err.strerror or one_line(err)
    hint = _OS_HINTS.get(err.errno or -1)
    text = f"{where}: {reason}" if where is not None else reason
    if isinstance(err, FileNotFoundError) and err.strerror is None:
        text = one_line(err)
    return f"{text} ({hint}); no partial output was left" if hint else text


# --------------------------------------------------------------------------------------
# signals
# --------------------------------------------------------------------------------------
_MAIN_PID = os.getpid()
_STATE = {"raised": False}
#: Code names of callbacks whose exceptions Python swallows ("Exception ignored in"): a
#: signal landing in one is delivered again a moment later instead of being lost.
_SWALLOWING = frozenset({"__del__", "remove", "_remove", "_remove_dead_weakref"})


class _CtrlC(KeyboardInterrupt):
    """SIGINT inside a command. A subclass: CPython exits by SIGINT (-2, not 130) once a
    plain KeyboardInterrupt has left a string ``exec`` (as scipy runs at import)."""


def _on_signal(signum: int, frame: Any) -> None:
    if os.getpid() != _MAIN_PID:
        # a worker forked from the command inherited this handler: die as by default,
        # silently (the command cleans up and reports once)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    if _STATE["raised"]:
        return  # clean-up must not be cut short by a second signal
    if frame is not None and frame.f_code.co_name in _SWALLOWING:
        import _thread

        threading.Timer(0.05, _thread.interrupt_main, (signum,)).start()
        return
    _STATE["raised"] = True
    _stop_workers()
    if signum == signal.SIGTERM:
        raise Terminated("SIGTERM")
    raise _CtrlC


#: Set by the console script (:mod:`karstsink._entry`): the CLI is a process of its own.
HARD_EXIT = False
#: ``[True]`` once a command's own signal handlers were installed (:func:`handle_errors`).
STARTED = [False]


def exit_after_interrupt(code: int) -> None:
    """End the command after an interrupt, its clean-up done and its line printed.

    In its own process it ends at once (``os._exit``): the executors' threads may wait
    for ever on a pipe a killed worker was writing to, and the interpreter joins them
    at exit.  Called from Python (click's test runner) it raises ``SystemExit``.
    """
    if HARD_EXIT and os.getpid() == _MAIN_PID:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _thread_hook(args: Any) -> None:
    """After an interrupt, a worker-pool thread's error (CPython's executor sets an
    error on the futures the clean-up cancelled) is no news: not printed."""
    if not _STATE["raised"]:
        _PREVIOUS_HOOK[0](args)


_PREVIOUS_HOOK = [threading.excepthook]


def _install_signal_handlers() -> dict[int, Any] | None:
    global _MAIN_PID
    if threading.current_thread() is not threading.main_thread():
        return None
    _MAIN_PID = os.getpid()
    _STATE["raised"] = False
    STARTED[0] = True
    if threading.excepthook is not _thread_hook:
        _PREVIOUS_HOOK[0] = threading.excepthook
        threading.excepthook = _thread_hook
    previous: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(sig)
        if sig == signal.SIGINT and current is signal.SIG_IGN:
            continue  # started in the background with SIGINT ignored: keep it so
        previous[sig] = current
        signal.signal(sig, _on_signal)
    return previous


def _restore_signal_handlers(previous: dict[int, Any] | None) -> None:
    if previous is None:
        return
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _stop_workers() -> None:
    """Terminate and reap this process's worker processes (PHREEQC, WRTDS, map tiles)."""
    import multiprocessing

    children = multiprocessing.active_children()
    for child in children:
        child.terminate()
    for child in children:
        child.join(timeout=5)


def _bars() -> Any:
    """Progress bars of the library (:mod:`karstsink.io.progress`) on for the command's
    duration, unless :func:`bars_disabled`."""
    from ..io.progress import bars_enabled

    return bars_enabled(not bars_disabled())


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    echo_err(f"warning: {message}")


def bars_disabled(level: int | None = None) -> bool:
    """Whether progress bars are off: always with ``-q``, off a terminal unless ``-v``."""
    level = verbosity() if level is None else level
    return level < 0 or (level == 0 and not sys.stderr.isatty())


def progress(total: int | None, desc: str, *, disable: bool | None = None):
    """A progress bar on stderr (:func:`karstsink.io.progress.make_bar`), shown unless
    :func:`bars_disabled`; safe to make in a worker thread."""
    from ..io.progress import make_bar

    return make_bar(total, desc, show=not (bars_disabled() if disable is None else disable))
