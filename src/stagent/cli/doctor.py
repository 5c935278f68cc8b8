"""`stagent doctor`: is each runtime ready to run? (binary, version, credentials, a call)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of
from stagent.domain.code_rules import UNSANDBOXED_WARNING
from stagent.runtimes.base import RuntimeHealth
from stagent.runtimes.sandbox import SandboxStatus

CONTAINED_RUNTIMES = frozenset({"claude", "codex"})
"""Runtimes that start local agent processes (the others call a provider's API only)."""


def doctor(
    ctx: typer.Context,
    runtime: Annotated[
        str | None, typer.Option("--runtime", "-r", help="Check only this runtime.")
    ] = None,
    probe: Annotated[
        bool, typer.Option("--probe", help="Also make one trivial provider call per runtime.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Check that each runtime can run a task.

    For each: the binary and its version, the credentials, and with --probe one trivial call.
    Exits 1 if any checked runtime is not ready."""
    with state_of(ctx).workspace() as ws:
        names = [runtime] if runtime else ws.runtimes.names()
        results = [asyncio.run(_check(ws.runtimes.get(name), probe)) for name in names]
        sandbox = ws.containment.status()
    if as_json:
        emit_json(
            [{**_as_dict(health), "sandbox": _sandbox(health, sandbox)} for health in results]
        )
    else:
        console.print(_table(results))
        console.print(_sandbox_line(sandbox))
    if not all(health.ok for health in results):
        raise typer.Exit(1)


async def _check(runtime: Any, probe: bool) -> RuntimeHealth:
    try:
        return await runtime.health(probe=probe)
    except Exception as exc:  # a broken install must still produce a row, not a traceback
        return RuntimeHealth(runtime.name, False, f"health check failed: {exc}")


def _sandbox(health: RuntimeHealth, sandbox: SandboxStatus) -> str | None:
    """The sandbox a runtime's agent processes run in (None: it starts none)."""
    return sandbox.kind if health.runtime in CONTAINED_RUNTIMES else None


def _sandbox_line(sandbox: SandboxStatus) -> str:
    if sandbox.available:
        return f"Sandbox: agents run contained ({escape(sandbox.detail)})."
    return (
        f"[red]Sandbox: none[/] ({escape(sandbox.detail)}). Agents run as you: an agent that may "
        f"run code can read Stagent's data; {UNSANDBOXED_WARNING}."
    )


def _as_dict(health: RuntimeHealth) -> dict[str, Any]:
    return {
        "runtime": health.runtime,
        "ok": health.ok,
        "summary": health.summary,
        "version": health.version,
        "binary": health.binary,
        "credentials": health.credentials,
    }


def _table(results: list[RuntimeHealth]) -> Table:
    table = Table(title="Runtimes")
    for column in ("runtime", "ready", "version", "credentials", "summary"):
        table.add_column(column)
    for health in results:
        ready = "[green]yes[/]" if health.ok else "[red]no[/]"
        table.add_row(
            escape(health.runtime),
            ready,
            escape(health.version or ""),
            escape(health.credentials or ""),
            escape(health.summary),
        )
    return table
