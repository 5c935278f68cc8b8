"""`stagent doctor`: is each runtime ready to run? (binary, version, credentials, a call)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from stagent.cli.output import JsonFlag, console, emit_json
from stagent.cli.state import state_of
from stagent.domain.code_rules import UNSANDBOXED_WARNING
from stagent.runtimes.base import RuntimeHealth
from stagent.runtimes.sandbox import SandboxStatus

if TYPE_CHECKING:
    from stagent.runtimes.registry import RuntimeRegistry

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
        results = check_all(ws.runtimes, names, probe)
        sandbox = ws.containment.status()
    if as_json:
        emit_json(
            [{**_as_dict(health), "sandbox": _sandbox(health, sandbox)} for health in results]
        )
    else:
        _print_report(results)
        console.print(_sandbox_line(sandbox))
    if not all(health.ok for health in results):
        raise typer.Exit(1)


def check_all(runtimes: RuntimeRegistry, names: list[str], probe: bool) -> list[RuntimeHealth]:
    """Each runtime's health, in the order of ``names``, checked side by side: one runtime's
    ``--version`` process runs while the next one's SDK is imported."""
    if len(names) == 1:
        return [_check_named(runtimes, names[0], probe)]
    with ThreadPoolExecutor(len(names), thread_name_prefix="stagent-doctor") as pool:
        futures = [pool.submit(_check_named, runtimes, name, probe) for name in names]
        return [future.result() for future in futures]


def _check_named(runtimes: RuntimeRegistry, name: str, probe: bool) -> RuntimeHealth:
    return asyncio.run(_check(runtimes.get(name), probe))


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
        "fix": health.fix,
    }


def _print_report(results: list[RuntimeHealth]) -> None:
    """One block per runtime; lines wrap at the terminal's width and nothing is cut."""
    for health in results:
        ready = "[green]ready[/]" if health.ok else "[red]not ready[/]"
        version = f"  {escape(health.version)}" if health.version else ""
        console.print(f"[bold]{escape(health.runtime)}[/]  {ready}{version}")
        console.print(f"  {escape(health.summary)}")
        if health.binary:
            console.print(f"  [dim]binary:[/] {escape(health.binary)}")
        if health.credentials:
            console.print(f"  [dim]credentials:[/] {escape(health.credentials)}")
        if health.fix and not health.ok:
            console.print(f"  [bold]fix:[/] {escape(health.fix)}")
