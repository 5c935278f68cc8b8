"""``stagent scan``: every Claude Code and Codex artifact, what is wrong, a score; CI exit codes."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from stagent.cli.output import JsonFlag, emit_json
from stagent.cli.scan_render import print_report
from stagent.cli.state import state_of
from stagent.scanner import Scanner, ScanReport
from stagent.scanner.report import SEVERITY_RANK
from stagent.scanner.walk import DEFAULT_MAX_DEPTH


class FailOn(StrEnum):
    """The least severe finding that fails the command."""

    warning = "warning"
    error = "error"


def scan(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A project, or a folder of projects (found by their markers). Default: here.",
            file_okay=False,
        ),
    ] = None,
    fail_on: Annotated[
        FailOn | None,
        typer.Option("--fail-on", help="Exit 1 if any finding is this severe or worse (for CI)."),
    ] = None,
    depth: Annotated[
        int, typer.Option("--depth", min=0, max=12, help="How deep to look for projects.")
    ] = DEFAULT_MAX_DEPTH,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Store the scan in the workspace's history.")
    ] = True,
    as_json: JsonFlag = False,
) -> None:
    """Scan Claude Code and Codex set-ups: findings, fixes, score.

    Reads the user level (HOME, CLAUDE_CONFIG_DIR, CODEX_HOME) and every project under PATH.
    With --fail-on, exits 1 when a finding is at least that severe (for CI)."""
    report = Scanner().scan([(path or Path.cwd()).expanduser()], max_depth=depth)
    if save:
        with state_of(ctx).workspace() as ws:
            ws.scans.store(report)
    if as_json:
        emit_json(report.model_dump(mode="json"))
    else:
        print_report(report)
    if fail_on is not None and _fails(report, fail_on):
        raise typer.Exit(1)


def _fails(report: ScanReport, fail_on: FailOn) -> bool:
    threshold = SEVERITY_RANK[fail_on.value]
    return any(SEVERITY_RANK[f.severity] >= threshold for f in report.findings)
