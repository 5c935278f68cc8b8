"""`stagent demo`: watch the real Claude Code CLI and Codex work offline, on a simulated model."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from stagent.cli import startup
from stagent.cli.output import JsonFlag, console, emit_json
from stagent.domain.tasks import TaskStatus
from stagent.testing.demo import DEMO_RUNTIMES, demo_tasks, demo_workspace


def demo(
    runtime: Annotated[
        list[str] | None,
        typer.Option("--runtime", "-r", help="claude and/or codex (default: both)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run Claude Code and Codex on a simulated model.

    One task runs on each real runtime, against scripted model servers on 127.0.0.1 (SIMULATED
    model: no credentials, no network). The demo uses its own throwaway workspace; your tasks
    and settings are not touched.
    """
    startup.ready()  # no workspace of the CLI's own; the demo runs for seconds
    chosen = tuple(runtime or DEMO_RUNTIMES)
    unknown = [name for name in chosen if name not in DEMO_RUNTIMES]
    if unknown:
        raise typer.BadParameter(f"{', '.join(unknown)}: the demo runs claude and/or codex")
    if not as_json:
        console.print(
            "[bold]Simulated model[/]: scripted servers on 127.0.0.1 answer for the model; the "
            "Claude Code CLI and Codex binary, the tools, governance and the log are real."
        )
    with tempfile.TemporaryDirectory(prefix="stagent-demo-") as tmp:
        results = _run(Path(tmp), chosen, quiet=as_json)
    if as_json:
        emit_json(results)
    if any(result["status"] != TaskStatus.COMPLETED.value for result in results):
        raise typer.Exit(1)


def _run(home: Path, runtimes: tuple[str, ...], *, quiet: bool) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with demo_workspace(home) as ws:
        for task_id in demo_tasks(ws, runtimes, home / "projects"):
            task = ws.tasks.get(task_id)
            if not quiet:
                console.print(f"\n[bold]{escape(task.title)}[/] ({task.runtime})")
            for event in ws.tasks.follow(task_id):
                if not quiet and event.kind != "created":
                    console.print(f"  {event.kind:<12} {escape(event.summary)}")
            done = ws.tasks.wait(task_id, timeout=120)
            note = home / "projects" / done.runtime / "NOTE.md"
            results.append(
                {
                    "runtime": done.runtime,
                    "task_id": done.id,
                    "status": done.status.value,
                    "result": done.result,
                    "error": done.error,
                    "file_written": note.is_file(),
                }
            )
    return results
