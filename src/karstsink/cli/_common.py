"""Helpers shared by the CLI subcommands: error mapping and progress bars."""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..exceptions import KarstSinkError

F = TypeVar("F", bound=Callable[..., Any])


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


def handle_errors(func: F) -> F:
    """Turn expected errors into one readable line and exit code 1 (``--debug`` re-raises)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except (KarstSinkError, FileNotFoundError, PermissionError) as err:
            if debug_enabled():
                raise
            raise click.ClickException(_one_line(err)) from err
        except KeyboardInterrupt:
            click.echo("Interrupted; no output was written.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return " ".join(part.strip() for part in text.splitlines() if part.strip()) or repr(err)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


def progress(total: int | None, desc: str, *, disable: bool | None = None):
    """A tqdm progress bar on stderr, hidden when stderr is not a terminal unless asked."""
    from tqdm.auto import tqdm

    if disable is None:
        disable = not sys.stderr.isatty()
    return tqdm(total=total, desc=desc, unit="", disable=disable, leave=False, file=sys.stderr)
