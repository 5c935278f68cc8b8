"""Command groups loaded on demand, so each command imports only what it uses.

The root command knows its subcommands as `CommandEntry` rows (name, ``"module:attribute"``,
one-line summary). ``stagent --help`` lists them from the rows alone, importing no command module;
running ``stagent task list`` imports `stagent.cli.task` and nothing else from the CLI. The
attribute is a Typer app (a command group) or a plain function (a single command).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

PLAIN_HELP = None
"""Every command prints Click's plain help: it renders in milliseconds (Rich's panels take a
quarter of a second to import and draw) and shows no ``<bool>`` after flags."""

ClickCommand = Any
"""A (vendored) Click command object, as Typer builds it."""


class CommandEntry(NamedTuple):
    """One subcommand of the root command."""

    name: str
    """What the user types: ``stagent <name>``."""
    target: str
    """``"package.module:attribute"``: a ``typer.Typer`` app, or a function Typer wraps."""
    summary: str
    """The line ``stagent --help`` shows (the command's own first help line; a test keeps them
    equal)."""


def load_command(entry: CommandEntry) -> ClickCommand:
    """Import ``entry``'s module and build its Click command (or group), named ``entry.name``."""
    module_name, _, attribute = entry.target.partition(":")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        target.rich_markup_mode = PLAIN_HELP
        command = typer.main.get_group(target)
    else:
        command = _single_command(entry.name, target)
    command.name = entry.name
    return command


def _single_command(name: str, function: Callable[..., Any]) -> ClickCommand:
    holder = typer.Typer(rich_markup_mode=PLAIN_HELP, add_completion=False)
    holder.command(name)(function)
    return typer.main.get_command(holder)


class LazyGroup(TyperGroup):
    """A Typer group whose registered subcommands are imported only when one is used.

    While the group prints its own help, each registered subcommand stands in as a placeholder
    carrying its summary, so the help imports nothing.
    """

    entries: Sequence[CommandEntry] = ()
    """The registered subcommands; a subclass sets them (Typer instantiates the class itself)."""
    _listing_help = False

    def list_commands(self, ctx: Any) -> list[str]:
        """Registered subcommands in registration order, then any added eagerly."""
        names = [entry.name for entry in self.entries]
        return names + [name for name in super().list_commands(ctx) if name not in names]

    def get_command(self, ctx: Any, cmd_name: str) -> ClickCommand | None:
        """The subcommand called ``cmd_name``, imported now (a placeholder while listing help)."""
        entry = next((e for e in self.entries if e.name == cmd_name), None)
        if entry is None:
            return super().get_command(ctx, cmd_name)
        if self._listing_help:
            return TyperCommand(entry.name, help=entry.summary)
        if cmd_name not in self.commands:
            self.commands[cmd_name] = load_command(entry)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """Print the help from the registered summaries (no subcommand module is imported)."""
        self._listing_help = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing_help = False
