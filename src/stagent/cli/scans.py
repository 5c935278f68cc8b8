"""``stagent scans``: the stored scan history, and pruning it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of

app = typer.Typer(help="Stored environment scans: history and pruning.", no_args_is_help=True)


@app.command("list")
def list_scans(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, newest first.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List stored scans, newest first: score, findings, artifacts and duration."""
    with state_of(ctx).workspace() as ws:
        history = ws.scans.history(limit)
    if as_json:
        emit_json([summary.model_dump(mode="json") for summary in history])
        return
    if not history:
        console.print("No scans stored yet. Run one with: stagent scan PATH")
        return
    table = Table(box=box.SIMPLE_HEAD, title="Stored scans", pad_edge=False)
    table.add_column("ID", no_wrap=True)
    table.add_column("Scanned", no_wrap=True)
    for column in ("Score", "Errors", "Warnings", "Artifacts", "ms"):
        table.add_column(column, justify="right")
    for s in history:
        table.add_row(
            s.id,
            s.scanned_at.astimezone().strftime("%m-%d %H:%M"),
            str(s.score),
            str(s.errors),
            str(s.warnings),
            str(s.artifact_count),
            f"{s.duration_ms:.1f}",
        )
    console.print(table)


@app.command("prune")
def prune(
    ctx: typer.Context,
    keep: Annotated[
        int | None, typer.Option(min=1, help="Keep the newest N scans. Default: the setting.")
    ] = None,
    older_than: Annotated[
        int | None,
        typer.Option(
            min=1, metavar="DAYS", help="Delete scans older than DAYS. Default: the setting."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Delete stored scans beyond the newest N and older than DAYS (the newest always stays).

    Without options it applies the workspace's retention (STAGENT_SCAN_HISTORY_KEEP, default 100;
    STAGENT_SCAN_HISTORY_DAYS, default 90), which every stored scan also applies."""
    from stagent.scanner.service import Retention

    with state_of(ctx).workspace() as ws:
        configured = ws.scans.retention
        retention = (
            configured
            if keep is None and older_than is None
            else Retention(keep=keep, days=older_than)
        )
        deleted = ws.scans.prune(retention)
        left = ws.scans.count()
    if as_json:
        emit_json({"deleted": deleted, "kept": left})
        return
    rule = " and ".join(
        part
        for part in (
            f"the newest {retention.keep}" if retention.keep else "",
            f"none older than {retention.days} days" if retention.days else "",
        )
        if part
    )
    console.print(f"Deleted {deleted} stored scan(s); {left} left (keeping {rule}).")
