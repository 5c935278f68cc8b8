"""``stagent worker``: run queued tasks in this process until told to stop."""

from __future__ import annotations

from typing import Annotated

import typer

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.signals import ShutdownSignals
from stagent.cli.state import configure_logging, state_of


def worker(
    ctx: typer.Context,
    concurrency: Annotated[
        int | None,
        typer.Option(help="How many tasks to run at once (default: STAGENT_CONCURRENCY or 4)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Run queued tasks until Ctrl-C or SIGTERM.

    Runs in flight when it stops are picked up again by the next worker.
    """
    state = state_of(ctx)
    configure_logging(state.settings(concurrency=concurrency))
    with ShutdownSignals() as signals, state.workspace(concurrency=concurrency) as ws:
        ws.start_worker("worker")
        info = {
            "event": "started",
            "executor_id": ws.executor_id,
            "concurrency": ws.settings.concurrency,
            "database_url": ws.store.safe_url,
        }
        if as_json:
            emit_json(info, compact=True)
        else:
            console.print(
                f"Worker [bold]{ws.executor_id}[/] is running "
                f"(concurrency {ws.settings.concurrency}) on {ws.store.safe_url}"
            )
            console.print("[dim]Press Ctrl-C to stop.[/]")
            console.file.flush()
        signals.wait()
    if as_json:
        emit_json({"event": "stopped"}, compact=True)
    else:
        console.print("Worker stopped.")
