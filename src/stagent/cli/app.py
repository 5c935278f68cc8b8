"""The root ``stagent`` command: global options, and every command group registered."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stagent import __version__
from stagent.cli import (
    blueprint,
    budget,
    db,
    demo,
    doctor,
    inbox,
    profile,
    project,
    rules,
    serve,
    task,
    worker,
)
from stagent.cli.errors import StagentGroup
from stagent.cli.state import CliState

app = typer.Typer(
    name="stagent",
    cls=StagentGroup,
    help="Stagent: route, supervise and measure the work of AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(project.app, name="project")
app.add_typer(task.app, name="task")
app.add_typer(db.app, name="db")
app.add_typer(budget.app, name="budget")
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.command("doctor")(doctor.doctor)
app.command("demo")(demo.demo)
app.command("inbox")(inbox.inbox)
app.command("approve")(inbox.approve)
app.command("deny")(inbox.deny)
app.command("answer")(inbox.answer)
app.add_typer(rules.app, name="rules")
app.add_typer(profile.app, name="profile")
app.add_typer(blueprint.app, name="blueprint")


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


def main() -> None:
    """Entry point of the ``stagent`` console script."""
    app()
