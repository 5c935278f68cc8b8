"""Scaffolding for executor tests: a runtime played by the test itself, and running one run of
a task in this process without DBOS (the same `execute_task_run` a worker's workflow calls)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from stagent.domain.events import ResultEvent, RuntimeEvent, TextEvent, UsageEvent
from stagent.domain.runs import Run
from stagent.domain.tasks import Task
from stagent.engine.executor import RunContext, execute_task_run
from stagent.engine.guard import OpenGuard, RunGuard
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import (
    AgentRun,
    PermissionDecision,
    PermissionGate,
    PermissionRequest,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
)
from stagent.store import lifecycle
from stagent.workspace import Workspace

Script = Callable[["PlayedRun"], AsyncIterator[RuntimeEvent]]
"""What the agent does: an async generator over the run (its request, its gate)."""


class PlayedRun(AgentRun):
    """One run of `PlayRuntime`: plays the test's script, remembers what the engine did to it."""

    def __init__(self, script: Script, request: RunRequest, gate: PermissionGate) -> None:
        self.script = script
        self.request = request
        self.gate = gate
        self.cancelled = asyncio.Event()
        self.calls_stopped = False

    def events(self) -> AsyncIterator[RuntimeEvent]:
        return self.script(self)

    async def cancel(self) -> None:
        self.cancelled.set()

    async def stop_calls(self) -> None:
        self.calls_stopped = True

    async def ask(self, tool: str, **tool_input: Any) -> PermissionDecision:
        """Send a tool call through the gate, as every runtime does before it runs one."""
        request = PermissionRequest(
            task_id=self.request.task_id, runtime="play", tool=tool, input=tool_input
        )
        return await self.gate.decide(request)


class PlayRuntime(Runtime):
    """A simulated runtime whose runs play ``script``; ``runs`` are the runs it started."""

    name: ClassVar[str] = "play"
    label: ClassVar[str] = "Play (test)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(simulated=True)

    def __init__(self, script: Script, *, fail_start: Exception | None = None) -> None:
        self.script = script
        self.fail_start = fail_start
        self.runs: list[PlayedRun] = []

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        if self.fail_start is not None:
            raise self.fail_start
        run = PlayedRun(self.script, request, gate)
        self.runs.append(run)
        return run


def asks_to_write(**tool_input: Any) -> Script:
    """An agent that asks to call Write once, says what it was told, and ends."""

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        decision = await run.ask("Write", **tool_input)
        yield TextEvent(f"attempt {run.request.attempt}: allowed={decision.allowed}")
        yield ResultEvent("written")

    return script


@dataclass
class RecordingGate:
    """Allows every call, keeping the requests it was asked."""

    requests: list[PermissionRequest] = field(default_factory=lambda: [])
    decided_by: str = "the test's gate"

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        self.requests.append(request)
        return PermissionDecision(allowed=True, decided_by=self.decided_by)


@dataclass
class RecordingGuard:
    """A budget guard the test steers: a cap, a refusal, a stop after some usage."""

    cap: Decimal | None = None
    refuse: Exception | None = None
    stop_after: int | None = None
    usage: list[UsageEvent] = field(default_factory=lambda: [])
    ended: list[str] = field(default_factory=lambda: [])

    async def before_run(self, task: Task, run: Run) -> Decimal | None:
        del task, run
        if self.refuse is not None:
            raise self.refuse
        return self.cap

    def on_usage(self, task: Task, run: Run, usage: UsageEvent) -> str | None:
        del task, run
        self.usage.append(usage)
        if self.stop_after is not None and len(self.usage) >= self.stop_after:
            return f"stopped by budget: {len(self.usage)} calls"
        return None

    def after_run(self, task: Task, run: Run, status: str) -> None:
        del task, run
        self.ended.append(status)


def queued_task(
    ws: Workspace,
    runtime: str = "play",
    *,
    title: str = "played",
    description: str = "",
    **options: Any,
) -> Task:
    """A task of ``runtime`` with a queued run (what `TaskService.run` writes before it
    enqueues)."""
    draft = TaskDraft(title, description, runtime=runtime, options=options or None)
    task = ws.tasks.create(draft)
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    return task


def context(
    ws: Workspace, gate: PermissionGate | None = None, guard: RunGuard | None = None
) -> RunContext:
    """The run context a worker would build, with the test's gate and guard."""
    return RunContext(
        store=ws.store,
        runtimes=ws.runtimes,
        gate=gate or RecordingGate(),
        guard=guard or OpenGuard(),
        home=ws.settings.home,
    )


def execute(ctx: RunContext, task_id: str, number: int = 1) -> str:
    """Run one run to its end in this thread; returns the final status."""
    return asyncio.run(execute_task_run(ctx, task_id, number))


async def until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    """Wait (in the event loop) until ``check()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "timed out waiting"
        await asyncio.sleep(0.02)


async def both(run: Awaitable[str], side: Awaitable[None]) -> str:
    """Run the executor and a side coroutine together; returns the run's final status."""
    status, _ = await asyncio.gather(run, side)
    return status
