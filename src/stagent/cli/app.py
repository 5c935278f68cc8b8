"""The root ``stagent`` command: its registered commands, and the entry point.

Commands are loaded on demand (`stagent.cli.lazy`): ``stagent --help`` imports no command module
and ``stagent task list`` imports only `stagent.cli.task`. To add a command (or group), add
one line to `COMMANDS`: its name, ``"module:attribute"`` and the summary ``--help`` shows (the
first line of the command's own help; `tests/cli/test_cli_lazy.py` keeps them equal).

The Typer app (global options, the root group) is in `stagent.cli.root`, imported when a
command needs it: ``stagent ledger import`` on a ready SQLite file runs without Typer
(`stagent.cli.express`). ``app``, ``RootGroup`` and ``root`` are still importable from here.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from stagent.cli import startup

if TYPE_CHECKING:
    from stagent.cli.root import RootGroup, app, root

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
        "Workflows: add, edit, run, pause, resume, cancel, retry, rerun.",
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


def __getattr__(name: str) -> Any:
    """The Typer app and its root group, from `stagent.cli.root` (imported now)."""
    if name in ("app", "RootGroup", "root"):
        return getattr(import_module("stagent.cli.root"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Entry point of the ``stagent`` console script: the express lane when it applies
    (`stagent.cli.express`), else the Typer app."""
    startup.starting()
    try:
        from stagent.cli import express

        code = express.run(sys.argv[1:], exiting=True)
        if code is not None:
            # the lane closed what it opened (or left its database to the process's end)
            startup.leave_at_exit(code)
            raise SystemExit(code)
        from stagent.cli.root import app

        app()
    finally:
        startup.exiting()


__all__ = ["COMMANDS", "RootGroup", "app", "main", "root"]
