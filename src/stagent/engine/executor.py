"""Runs one run of a task on its runtime: persists every event, honours cancel, ends in one final
state.

`execute_task_run` is idempotent per run number: if the run already ended (the process died after
the final write but before the engine checkpointed it), calling it again changes nothing. Each
execution claims the run (`stagent.store.lifecycle.claim`), which raises its ``attempt``: the
fencing token. Before each event is written the run is re-read (one primary-key read): a run
that was cancelled, ended, or taken over by a newer attempt stops this execution's writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stagent.domain.errors import StagentError
from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    SessionEvent,
    UsageEvent,
    event_payload,
)
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task
from stagent.engine import options as run_options
from stagent.engine.guard import OpenGuard, RunGuard
from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
)
from stagent.runtimes.registry import RuntimeRegistry
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

log = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 0.25
"""How often a run re-reads its record to notice a cancel made by another process."""


@dataclass
class RunContext:
    """What the executor needs from the workspace."""

    store: Store
    runtimes: RuntimeRegistry
    gate: PermissionGate
    guard: RunGuard = field(default_factory=OpenGuard)
    home: Path | None = None
    """Stagent's data directory (runtimes keep per-run scratch state under it)."""


async def execute_task_run(ctx: RunContext, task_id: str, run_number: int) -> str:
    """Execute run ``run_number`` of ``task_id``; returns the final status value."""
    with ctx.store.write() as session:
        claim = lifecycle.claim(session, task_id, run_number)
    if claim is None:
        with ctx.store.read() as session:
            return task_repo.get_row(session, task_id, deleted=True).status
    status = RunStatus.FAILED.value
    try:
        status = await _start_and_drive(ctx, claim.task, claim.run)
    finally:
        ctx.guard.after_run(claim.task, claim.run, status)
    return status


async def _start_and_drive(ctx: RunContext, task: Task, run: Run) -> str:
    try:
        runtime = ctx.runtimes.get(run.runtime)
        cap = await ctx.guard.before_run(task, run)
        options = run_options.with_cap(run.options, cap)
        request = run_options.run_request(task, run, options, home=ctx.home)
        agent = await runtime.start(request, _RecordingGate(ctx, task.id, run.id))
    except StagentError as exc:
        return _finish(ctx.store, run, RunStatus.FAILED, error=exc.message)
    except Exception as exc:
        log.exception("runtime %s failed to start run %s", run.runtime, run.id)
        return _finish(ctx.store, run, RunStatus.FAILED, error=_internal(exc))
    return await _drive(ctx, task, run, agent)


def _internal(exc: Exception) -> str:
    return f"the runtime failed unexpectedly: {type(exc).__name__}: {exc}"


async def _drive(ctx: RunContext, task: Task, run: Run, agent: AgentRun) -> str:
    watcher = asyncio.create_task(_watch_for_cancel(ctx.store, run, agent))
    outcome: tuple[RunStatus, dict[str, Any]] | None = None
    try:
        async with _closing(agent.events()) as stream:
            async for event in stream:
                if not _still_ours(ctx.store, run):
                    break
                _record(ctx.store, task.id, run, event)
                if isinstance(event, UsageEvent):
                    ctx.guard.on_usage(task, run, event)
                outcome = _outcome(event) or outcome
                if isinstance(event, ErrorEvent | ResultEvent):
                    break
    except StagentError as exc:
        outcome = (RunStatus.FAILED, {"error": exc.message})
    except Exception as exc:
        log.exception("run %s: the runtime's event stream failed", run.id)
        outcome = (RunStatus.FAILED, {"error": _internal(exc)})
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if not _still_ours(ctx.store, run):
        return _current(ctx.store, run)
    if outcome is None:
        outcome = (RunStatus.FAILED, {"error": "the runtime ended without a result"})
    status, fields = outcome
    return _finish(ctx.store, run, status, **fields)


@contextlib.asynccontextmanager
async def _closing(
    stream: AsyncIterator[RuntimeEvent],
) -> AsyncGenerator[AsyncIterator[RuntimeEvent]]:
    """Close the runtime's stream when we stop early, so it cleans up now, not at GC."""
    try:
        yield stream
    finally:
        close = getattr(stream, "aclose", None)
        if close is not None:
            await close()


def _outcome(event: RuntimeEvent) -> tuple[RunStatus, dict[str, Any]] | None:
    if isinstance(event, ResultEvent):
        return RunStatus.COMPLETED, {"result": event.text}
    if isinstance(event, ErrorEvent):
        return RunStatus.FAILED, {"error": event.message}
    return None


def _record(store: Store, task_id: str, run: Run, event: RuntimeEvent) -> None:
    with store.write() as session:
        event_repo.append(session, task_id, event.kind, event_payload(event), run_id=run.id)
        if isinstance(event, SessionEvent):
            task_repo.get_row(session, task_id, deleted=True).session_id = event.session_id


def _finish(store: Store, run: Run, status: RunStatus, **fields: Any) -> str:
    try:
        with store.write() as session:
            ended = lifecycle.finish(session, run.id, status, attempt=run.attempt, **fields)
    except StaleAttemptError as exc:
        log.warning("%s", exc.message)
        return _current(store, run)
    return ended.status.value if ended is not None else _current(store, run)


def _still_ours(store: Store, run: Run) -> bool:
    """True while the run is active and this execution's attempt is its newest."""
    with store.read() as session:
        row = run_repo.get_row(session, run.id)
        return row.attempt == run.attempt and not RunStatus(row.status).is_terminal


def _current(store: Store, run: Run) -> str:
    with store.read() as session:
        return run_repo.get_row(session, run.id).status


async def _watch_for_cancel(store: Store, run: Run, agent: AgentRun) -> None:
    seen = store.changes.version
    while True:
        seen = await store.changes.wait_async(seen, CANCEL_CHECK_SECONDS)
        if not _still_ours(store, run):
            await agent.cancel()
            return


class _RecordingGate:
    """Wraps the workspace's gate for one run: names the run on each request, and writes who
    decided each tool call into the log."""

    def __init__(self, ctx: RunContext, task_id: str, run_id: str) -> None:
        self._ctx = ctx
        self._task_id = task_id
        self._run_id = run_id

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Ask the workspace's gate, then log the decision and who made it."""
        tool = request.tool
        decision = await self._ctx.gate.decide(dataclasses.replace(request, run_id=self._run_id))
        with self._ctx.store.write() as session:
            event_repo.append(
                session,
                self._task_id,
                "note",
                {
                    "message": f"{tool} {'allowed' if decision.allowed else 'denied'}"
                    f" by {decision.decided_by or 'the gate'}",
                    "tool": tool,
                    "allowed": decision.allowed,
                    "decided_by": decision.decided_by,
                },
                run_id=self._run_id,
            )
        return decision


__all__ = ["RunContext", "execute_task_run"]
