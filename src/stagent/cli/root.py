"""The root ``stagent`` Typer app: global options, and every command of `COMMANDS` registered
in a group that imports each one when it runs (`stagent.cli.lazy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stagent import __version__
from stagent.cli.app import COMMANDS
from stagent.cli.errors import StagentGroup
from stagent.cli.lazy import PLAIN_HELP, CommandEntry, LazyGroup
from stagent.cli.state import CliState


class RootGroup(StagentGroup, LazyGroup):
    """The root group: errors through the one printer, subcommands loaded on demand."""

    entries = tuple(CommandEntry(*row) for row in COMMANDS)


app = typer.Typer(
    name="stagent",
    cls=RootGroup,
    help="Stagent: route, supervise and measure the work of AI agents.",
    no_args_is_help=True,
    rich_markup_mode=PLAIN_HELP,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"stagent {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Data directory (overrides STAGENT_HOME; default ~/.stagent).",
            file_okay=False,
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL (overrides STAGENT_DATABASE_URL; default: SQLite in the home).",
        ),
    ] = None,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool,
        typer.Option(
            "--version", help="Show the version and exit.", callback=_print_version, is_eager=True
        ),
    ] = False,
) -> None:
    """Stagent: route, supervise and measure the work of AI agents."""
    ctx.obj = CliState(home=home, database_url=database_url)
