"""The root ``stagent`` command: global options, and every command registered.

Commands are loaded on demand (`stagent.cli.lazy`): ``stagent --help`` imports no command module
and ``stagent task list`` imports only `stagent.cli.task`. To add a command (or group), add
one line to `COMMANDS`: its name, ``"module:attribute"`` and the summary ``--help`` shows (the
first line of the command's own help; `tests/cli/test_cli_lazy.py` keeps them equal).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stagent import __version__
from stagent.cli import startup
from stagent.cli.errors import StagentGroup
from stagent.cli.lazy import PLAIN_HELP, CommandEntry, LazyGroup
from stagent.cli.state import CliState

PROFILE_HELP = "Agent profiles: who does a task, and how."
BLUEPRINT_HELP = "Blueprints: workflow templates with variables."
COMMANDS: list[tuple[str, str, str]] = [
    # (name, "module:attribute" (a Typer app or a function), the line `stagent --help` shows)
    ("serve", "stagent.cli.serve:serve", "Serve the web workspace and run tasks."),
    ("worker", "stagent.cli.worker:worker", "Run queued tasks until Ctrl-C or SIGTERM."),
    ("project", "stagent.cli.project:app", "Create and list projects."),
    ("task", "stagent.cli.task:app", "Create, list, show, run and cancel tasks."),
    (
        "workflow",
        "stagent.cli.workflow:app",
        "Workflows: add, run, pause, resume, cancel, retry, rerun.",
    ),
    ("inbox", "stagent.cli.inbox:inbox", "List what waits for you: tool calls, questions."),
    ("approve", "stagent.cli.inbox:approve", "Allow a tool call, or approve a checkpoint."),
    ("deny", "stagent.cli.inbox:deny", "Deny a tool call or question, or reject a checkpoint."),
    ("answer", "stagent.cli.inbox:answer", "Answer an agent's question."),
    ("rules", "stagent.cli.rules:app", "Saved permission rules and trust presets."),
    ("budget", "stagent.cli.budget:app", "Spending caps, headroom and the usage ledger."),
    (
        "schedule",
        "stagent.cli.schedule:app",
        "Scheduled prompts, workflows and blueprints.",
    ),
    ("doctor", "stagent.cli.doctor:doctor", "Check that each runtime can run a task."),
    (
        "scan",
        "stagent.cli.scan:scan",
        "Scan Claude Code and Codex set-ups: findings, fixes, score.",
    ),
    ("scans", "stagent.cli.scans:app", "Stored environment scans: history and pruning."),
    ("demo", "stagent.cli.demo:demo", "Run Claude Code and Codex on a simulated model."),
    ("db", "stagent.cli.db:app", "Manage the database."),
    (
        "ledger",
        "stagent.cli.ledger:app",
        "The cost ledger: summaries, imports, audits.",
    ),
    (
        "pricing",
        "stagent.cli.pricing:app",
        "The price table in use (with your overrides).",
    ),
    ("profile", "stagent.cli.profile:app", PROFILE_HELP),
    ("blueprint", "stagent.cli.blueprint:app", BLUEPRINT_HELP),
]


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


def main() -> None:
    """Entry point of the ``stagent`` console script."""
    startup.starting()
    try:
        app()
    finally:
        startup.exiting()
