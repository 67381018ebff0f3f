"""The ``karstsink`` command.

Each subcommand lives in its own module (``_speciate``, ``_flux``, ``_trend``,
``_map``, ``_run``) and is imported only when invoked, so ``karstsink --help`` is fast.
Errors: a :class:`~karstsink.exceptions.KarstSinkError` becomes one line on
stderr and exit code 1; usage errors exit 2; ``--debug`` shows the traceback.
Results go to stdout, diagnostics (progress, notes, warnings, errors) to stderr;
``-q/--quiet`` and ``-v/--verbose`` (before or after the command name) set how much
of the diagnostics is shown.
"""

from __future__ import annotations

import importlib
import importlib.util

import click

from .. import __version__
from ._common import excel_option, verbosity_options

# command name -> (module, attribute); modules are imported lazily
_COMMANDS = {
    "speciate": ("karstsink.cli._speciate", "speciate_command"),
    "flux": ("karstsink.cli._flux", "flux_command"),
    "map": ("karstsink.cli._map", "map_command"),
    "run": ("karstsink.cli._run", "run_command"),
    "demo": ("karstsink.cli._run", "demo_command"),
    "trend": ("karstsink.cli._trend", "trend_command"),
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands)
        names.update(n for n, (m, _) in _COMMANDS.items() if importlib.util.find_spec(m))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if cmd_name not in _COMMANDS:
            return None
        module, attr = _COMMANDS[cmd_name]
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name == module:  # command not built yet; a broken import still raises
                return None
            raise
        return getattr(mod, attr, None)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="karstsink")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@excel_option
@verbosity_options
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """karstsink: karst carbon sinks from field chemistry, discharge and rasters."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
