"""Runs one run of a task on its runtime: persists every event, honours cancel, ends in one final
state.

`execute_task_run` is idempotent per run number: if the run already ended (the process died after
the final write but before the engine checkpointed it), calling it again changes nothing. Each
execution claims the run (`stagent.store.lifecycle.claim`), which raises its ``attempt``: the
fencing token. Every write checks it in its own transaction (`RunWriter`): a run that was
cancelled, ended, or taken over by a newer attempt stops this execution's writes. Cancels are
noticed by a watcher that reads the run when something commits (at most ten times a second), not
by a read per event. The final event and the run's end are one transaction.
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
    UsageEvent,
)
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task
from stagent.engine import options as run_options
from stagent.engine import workflow_checkpoints
from stagent.engine.guard import OpenGuard, RunGuard
from stagent.engine.profile_hook import ProfileResolver
from stagent.engine.run_writer import EndHook, RunWriter, current_status
from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
)
from stagent.runtimes.registry import RuntimeRegistry
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import tasks as task_repo
from stagent.store.database import Store

log = logging.getLogger(__name__)

LATE_USAGE_SECONDS = 30.0
"""How long a lost run's stopped agent may take to report the calls it was served."""
CANCEL_CHECK_SECONDS = 0.25
"""The longest a run goes without re-reading its record (should a wake-up be missed)."""
CANCEL_MIN_GAP_SECONDS = 0.1
"""The shortest time between two reads of a run's record by its cancel watcher."""


@dataclass
class RunContext:
    """What the executor needs from the workspace."""

    store: Store
    runtimes: RuntimeRegistry
    gate: PermissionGate
    guard: RunGuard = field(default_factory=OpenGuard)
    home: Path | None = None
    """Stagent's data directory (runtimes keep per-run scratch state under it)."""
    profiles: ProfileResolver | None = None
    """Resolves a workflow step's profile into its run options (as `TaskService.run` does)."""


async def execute_task_run(
    ctx: RunContext, task_id: str, run_number: int, on_end: EndHook | None = None
) -> str:
    """Execute run ``run_number`` of ``task_id``; returns the final status value. ``on_end``
    runs in the transaction that ends the run, if this execution ends it (with the ended
    run)."""
    with ctx.store.write() as session:
        claim = lifecycle.claim(session, task_id, run_number)
        step = None
        if claim is not None and claim.step_row is not None:  # the claim read whether it is one
            step = workflow_checkpoints.step_of(session, task_id)
    if claim is None:
        with ctx.store.read() as session:
            return task_repo.get_row(session, task_id, deleted=True).status
    return await execute_claimed(ctx, claim, step, on_end)


async def execute_claimed(
    ctx: RunContext,
    claim: lifecycle.Claim,
    step: workflow_checkpoints.StepRow | None,
    on_end: EndHook | None = None,
) -> str:
    """Execute a run the caller claimed already (a workflow step's run, claimed in the
    transaction that prepared it: `stagent.engine.workflow_inline`); ``step``: the workflow
    step the task runs as. Returns the final status value."""
    status = RunStatus.FAILED.value
    try:
        status = await _start_and_drive(ctx, claim.task, claim.run, step, on_end)
    finally:
        ctx.guard.after_run(claim.task, claim.run, status)
    return status


async def _start_and_drive(
    ctx: RunContext,
    task: Task,
    run: Run,
    step: workflow_checkpoints.StepRow | None,
    on_end: EndHook | None,
) -> str:
    try:
        runtime = ctx.runtimes.get(run.runtime)
        task = await workflow_checkpoints.before_start(ctx.store, task, run, step)
        cap = await ctx.guard.before_run(task, run)
        options = run_options.with_cap(run.options, cap)
        request = run_options.run_request(task, run, options, home=ctx.home)
        writer = RunWriter(ctx.store, task.id, run)
        agent = await runtime.start(request, _RecordingGate(ctx, writer))
    except StagentError as exc:
        return _finish(ctx.store, run, RunStatus.FAILED, on_end, error=exc.message)
    except Exception as exc:
        log.exception("runtime %s failed to start run %s", run.runtime, run.id)
        return _finish(ctx.store, run, RunStatus.FAILED, on_end, error=_internal(exc))
    return await _drive(ctx, task, run, agent, writer, on_end)


def _internal(exc: Exception) -> str:
    return f"the runtime failed unexpectedly: {type(exc).__name__}: {exc}"


async def _drive(
    ctx: RunContext,
    task: Task,
    run: Run,
    agent: AgentRun,
    writer: RunWriter,
    on_end: EndHook | None = None,
) -> str:
    watcher = _CancelWatcher(ctx.store, writer, agent)
    final: RuntimeEvent | None = None
    outcome: tuple[RunStatus, dict[str, Any]] | None = None
    deadline = run.options.limits.deadline_seconds
    limit = asyncio.timeout(deadline)
    capped: str | None = None
    try:
        async with limit, _closing(agent.events()) as stream:
            async for event in stream:
                outcome = _outcome(event)
                if outcome is not None:
                    final = event
                    writer.hold()  # the end writes what is queued, with the final event
                    break
                if writer.lost or not writer.record(event):
                    await _book_after_loss(ctx, task, run, agent, writer, event, stream)
                    break
                if isinstance(event, UsageEvent):
                    if not writer.flush():  # the usage is in the log before it is booked
                        await _book_after_loss(ctx, task, run, agent, writer, event, stream)
                        break
                    stop = _meter(ctx, task, run, event, writer)
                    if stop is not None and capped is None:
                        # No further provider call; what is on its way is still recorded.
                        capped = stop
                        await agent.stop_calls()
            writer.raise_failure()
    except TimeoutError as exc:
        if limit.expired():
            with contextlib.suppress(Exception):
                await agent.cancel()
            message = f"timed out after {deadline or 0:g} s (its time limit); the agent was stopped"
        else:
            log.exception("run %s: the runtime's event stream failed", run.id)
            message = _internal(exc)
        outcome = (RunStatus.FAILED, {"error": message})
    except StagentError as exc:
        outcome = (RunStatus.FAILED, {"error": exc.message})
    except Exception as exc:
        log.exception("run %s: the runtime's event stream failed", run.id)
        outcome = (RunStatus.FAILED, {"error": _internal(exc)})
    finally:
        await watcher.stop()
    if writer.lost:
        writer.abandon()
        return current_status(ctx.store, run)
    if capped is not None and not isinstance(final, ResultEvent):
        # Stopped at its cap: that is the run's end, whatever the runtime said on stopping.
        final = ErrorEvent(message=capped)
        outcome = (RunStatus.FAILED, {"error": capped})
    if outcome is None:
        outcome = (RunStatus.FAILED, {"error": "the runtime ended without a result"})
    status, fields = outcome
    return writer.conclude(final, status, on_end=on_end, **fields)


def _meter(
    ctx: RunContext, task: Task, run: Run, usage: UsageEvent, writer: RunWriter
) -> str | None:
    """Book the usage (the guard's write is fenced by the run's attempt too); returns why the
    run must stop making provider calls, if its spend reached its cap."""
    try:
        return ctx.guard.on_usage(task, run, usage)
    except StaleAttemptError as exc:
        log.warning("%s", exc.message)
        writer.lost = True
        return None


async def _book_after_loss(
    ctx: RunContext,
    task: Task,
    run: Run,
    agent: AgentRun,
    writer: RunWriter,
    event: RuntimeEvent,
    stream: AsyncIterator[RuntimeEvent],
) -> None:
    """The run ended while its agent ran (a person cancelled it): nothing more goes into its
    log, but a provider call the agent reports now (``event`` and what follows) was made and
    served, so it is booked (the run's cost is settled again). The agent is stopped first, so
    the stream ends. A taken-over attempt books nothing (its successor runs the task)."""
    if not writer.ended_as_ours():
        return
    with contextlib.suppress(Exception):
        await agent.cancel()
    try:
        async with asyncio.timeout(LATE_USAGE_SECONDS):
            while True:
                if isinstance(event, UsageEvent):
                    ctx.guard.on_usage(task, run, event)
                event = await anext(stream)
    except (StopAsyncIteration, TimeoutError, StaleAttemptError):
        return
    except Exception:
        log.exception("run %s: booking the usage reported after the run ended failed", run.id)


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


def _finish(
    store: Store, run: Run, status: RunStatus, on_end: EndHook | None, **fields: Any
) -> str:
    try:
        with store.write() as session:
            ended = lifecycle.finish(
                session, run.id, status, attempt=run.attempt, task_id=run.task_id, **fields
            )
            if ended is not None and on_end is not None:
                on_end(session, ended)
    except StaleAttemptError as exc:
        log.warning("%s", exc.message)
        return current_status(store, run)
    return ended.status.value if ended is not None else current_status(store, run)


class _CancelWatcher:
    """Stops the agent once its run is cancelled, ended or taken over. Woken by commits (this
    process's, and other processes' through the store's watcher), it reads the run at most
    every `CANCEL_MIN_GAP_SECONDS`, however many events are written meanwhile. The first read
    too waits that long (a commit meanwhile is still noticed then), and until then there is
    only a timer: a run that ends sooner, as most instant ones do (a workflow step's), costs
    no task, no loop turn to start it and none to cancel it, and reads nothing."""

    def __init__(self, store: Store, writer: RunWriter, agent: AgentRun) -> None:
        self._store = store
        self._writer = writer
        self._agent = agent
        self._seen = store.changes.version
        self._task: asyncio.Task[None] | None = None
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(CANCEL_MIN_GAP_SECONDS, self._start, loop)

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._task = loop.create_task(self._watch())

    async def _watch(self) -> None:
        seen = self._seen
        while True:
            seen = await self._store.changes.wait_async(seen, CANCEL_CHECK_SECONDS)
            if self._writer.lost or not self._writer.still_owned():
                self._writer.lost = True
                await self._agent.cancel()
                return
            await asyncio.sleep(CANCEL_MIN_GAP_SECONDS)

    async def stop(self) -> None:
        """Stop watching (the timer, or the watch and its clean-up if it started)."""
        self._timer.cancel()
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class _RecordingGate:
    """Wraps the workspace's gate for one run: names the run on each request, and writes who
    decided each tool call into the log (after the run's queued events: the log keeps their
    order)."""

    def __init__(self, ctx: RunContext, writer: RunWriter) -> None:
        self._ctx = ctx
        self._writer = writer

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Ask the workspace's gate, then log the decision and who made it."""
        tool = request.tool
        run_id = self._writer.run.id
        self._writer.flush()
        decision = await self._ctx.gate.decide(dataclasses.replace(request, run_id=run_id))
        with self._ctx.store.write() as session:
            event_repo.append(
                session,
                self._writer.task_id,
                "note",
                {
                    "message": f"{tool} {'allowed' if decision.allowed else 'denied'}"
                    f" by {decision.decided_by or 'the gate'}",
                    "tool": tool,
                    "allowed": decision.allowed,
                    "decided_by": decision.decided_by,
                },
                run_id=run_id,
            )
        return decision


__all__ = ["RunContext", "execute_claimed", "execute_task_run"]
