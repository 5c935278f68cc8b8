"""Runs one task on its runtime: persists every event, honours cancel, ends in one final state.

`execute_task_run` is idempotent per run number: if the run already ended (the process died after
the final write but before the engine checkpointed it), calling it again changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
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
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.guard import OpenGuard, RunGuard
from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
    RunRequest,
)
from stagent.runtimes.registry import RuntimeRegistry
from stagent.store import events as event_repo
from stagent.store import projects as project_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

log = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 0.25
"""How often a run re-reads its task to notice a cancel made by another process."""


@dataclass
class RunContext:
    """What the executor needs from the workspace."""

    store: Store
    runtimes: RuntimeRegistry
    gate: PermissionGate
    guard: RunGuard = field(default_factory=OpenGuard)


async def execute_task_run(ctx: RunContext, task_id: str, run_number: int) -> str:
    """Run ``task_id`` for run ``run_number``; returns the final status value."""
    claim = _claim(ctx.store, task_id, run_number)
    if claim is None:
        with ctx.store.read() as session:
            return task_repo.get(session, task_id).status.value
    task, attempt, working_directory = claim
    status = TaskStatus.FAILED.value
    try:
        status = await _start_and_drive(ctx, task, attempt, working_directory)
    finally:
        ctx.guard.after_run(task, status)
    return status


async def _start_and_drive(
    ctx: RunContext, task: Task, attempt: int, working_directory: str | None
) -> str:
    try:
        runtime = ctx.runtimes.get(task.runtime)
        await ctx.guard.before_run(task)
        request = _run_request(task, attempt, working_directory)
        run = await runtime.start(request, _RecordingGate(ctx, task.id))
    except StagentError as exc:
        return _finish(ctx.store, task.id, TaskStatus.FAILED, error=exc.message)
    except Exception as exc:
        log.exception("runtime %s failed to start task %s", task.runtime, task.id)
        return _finish(ctx.store, task.id, TaskStatus.FAILED, error=_internal(exc))
    return await _drive(ctx, task, run)


def _internal(exc: Exception) -> str:
    return f"the runtime failed unexpectedly: {type(exc).__name__}: {exc}"


def _claim(store: Store, task_id: str, run_number: int) -> tuple[Task, int, str | None] | None:
    """Move the task to running (or note a recovery); None if this run already ended."""
    with store.write() as session:
        row = task_repo.get_row(session, task_id, for_update=True)
        status = TaskStatus(row.status)
        if row.run_count != run_number or status.is_terminal or status is TaskStatus.PLANNED:
            return None
        attempt = int((row.runtime_config or {}).get("_attempt", 0)) + 1
        row.runtime_config = {**(row.runtime_config or {}), "_attempt": attempt}
        if status is TaskStatus.QUEUED:
            task = task_repo.transition(session, task_id, TaskStatus.RUNNING)
        else:
            task = task_repo.to_task(row)
            event_repo.append(
                session,
                task_id,
                "recovered",
                {
                    "message": "the process running this task stopped; running it again",
                    "attempt": attempt,
                },
            )
        directory = None
        if task.project_id:
            directory = project_repo.get(session, task.project_id).working_directory
        return task, attempt, directory


def _run_request(task: Task, attempt: int, working_directory: str | None) -> RunRequest:
    """Build the runtime's request from the task and its runtime options."""
    config = task.runtime_config
    tools = config.get("allowed_tools") or ()
    return RunRequest(
        task_id=task.id,
        prompt=_prompt(task),
        working_directory=working_directory,
        config=config,
        session_id=task.session_id,
        attempt=attempt,
        model=config.get("model"),
        instructions=config.get("instructions"),
        allowed_tools=tuple(str(tool) for tool in tools),
        max_turns=config.get("max_turns"),
        max_budget_usd=config.get("max_budget_usd"),
    )


def _prompt(task: Task) -> str:
    return f"{task.title}\n\n{task.description}".strip()


async def _drive(ctx: RunContext, task: Task, run: AgentRun) -> str:
    task_id = task.id
    watcher = asyncio.create_task(_watch_for_cancel(ctx.store, task_id, run))
    outcome: tuple[TaskStatus, dict[str, Any]] | None = None
    try:
        async with _closing(run.events()) as stream:
            async for event in stream:
                if _is_cancelled(ctx.store, task_id):
                    break
                _record(ctx.store, task_id, event)
                if isinstance(event, UsageEvent):
                    ctx.guard.on_usage(task, event)
                outcome = _outcome(event) or outcome
                if isinstance(event, ErrorEvent | ResultEvent):
                    break
    except StagentError as exc:
        outcome = (TaskStatus.FAILED, {"error": exc.message})
    except Exception as exc:
        log.exception("task %s: the runtime's event stream failed", task_id)
        outcome = (TaskStatus.FAILED, {"error": _internal(exc)})
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    if _is_cancelled(ctx.store, task_id):
        return TaskStatus.CANCELLED.value
    if outcome is None:
        outcome = (TaskStatus.FAILED, {"error": "the runtime ended without a result"})
    status, fields = outcome
    return _finish(ctx.store, task_id, status, **fields)


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


def _outcome(event: RuntimeEvent) -> tuple[TaskStatus, dict[str, Any]] | None:
    if isinstance(event, ResultEvent):
        return TaskStatus.COMPLETED, {"result": event.text, "error": None}
    if isinstance(event, ErrorEvent):
        return TaskStatus.FAILED, {"error": event.message}
    return None


def _record(store: Store, task_id: str, event: RuntimeEvent) -> None:
    with store.write() as session:
        event_repo.append(session, task_id, event.kind, event_payload(event))
        if isinstance(event, SessionEvent):
            task_repo.get_row(session, task_id).session_id = event.session_id


def _finish(store: Store, task_id: str, status: TaskStatus, **fields: Any) -> str:
    with store.write() as session:
        row = task_repo.get_row(session, task_id, for_update=True)
        if TaskStatus(row.status) not in (TaskStatus.RUNNING, TaskStatus.WAITING):
            return row.status
        reason = fields.get("error") if status is TaskStatus.FAILED else None
        task_repo.transition(session, task_id, status, reason=reason, **fields)
    return status.value


def _is_cancelled(store: Store, task_id: str) -> bool:
    with store.read() as session:
        return task_repo.get_row(session, task_id).status == TaskStatus.CANCELLED.value


async def _watch_for_cancel(store: Store, task_id: str, run: AgentRun) -> None:
    seen = store.changes.version
    while True:
        seen = await store.changes.wait_async(seen, CANCEL_CHECK_SECONDS)
        if _is_cancelled(store, task_id):
            await run.cancel()
            return


class _RecordingGate:
    """Wraps the workspace's gate and writes who decided each tool call into the log."""

    def __init__(self, ctx: RunContext, task_id: str) -> None:
        self._ctx = ctx
        self._task_id = task_id

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Ask the workspace's gate, then log the decision and who made it."""
        tool = request.tool
        decision = await self._ctx.gate.decide(request)
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
            )
        return decision


__all__ = ["RunContext", "execute_task_run"]
