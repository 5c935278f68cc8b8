"""The scripted runtime: plays a scenario deterministically, with no model. Labelled simulated."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import ClassVar

from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    TextEvent,
    ToolRequestEvent,
    ToolResultEvent,
    UsageEvent,
)
from stagent.runtimes.base import (
    AgentRun,
    PermissionGate,
    PermissionRequest,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
    RuntimeHealth,
)
from stagent.runtimes.scenario import (
    DEFAULT_SCENARIO,
    DelayStep,
    FailStep,
    Scenario,
    TextStep,
    ToolStep,
    UsageStep,
    parse_scenario,
)


class ScriptedRuntime(Runtime):
    """Plays the task's scenario (``config["scenario"]``) or the default one."""

    name: ClassVar[str] = "scripted"
    label: ClassVar[str] = "Scripted (simulated)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(
        resume=False,
        cancel=True,
        approvals=True,
        tools=True,
        mcp=False,
        simulated=True,
        scenarios=True,
    )

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        """Always ready: no binary, no credentials, no model."""
        del probe
        return RuntimeHealth(
            runtime=self.name, ok=True, summary="simulated: plays scenario files, calls no model"
        )

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        """Start playing the scenario."""
        data = request.config.get("scenario") or DEFAULT_SCENARIO
        scenario = parse_scenario(data, source=f"task {request.task_id} scenario")
        return ScriptedRun(scenario, request, gate)


class ScriptedRun(AgentRun):
    """One playback of a scenario."""

    def __init__(self, scenario: Scenario, request: RunRequest, gate: PermissionGate) -> None:
        self._scenario = scenario
        self._request = request
        self._gate = gate
        self._cancelled = asyncio.Event()
        self._no_calls = False

    async def cancel(self) -> None:
        """Stop at the next step (a delay is cut short)."""
        self._cancelled.set()

    async def stop_calls(self) -> None:
        """Make no further (pretend) provider call: the playback ends at the next usage step,
        without a result; a scenario with no call left plays to its result."""
        self._no_calls = True

    async def events(self) -> AsyncIterator[RuntimeEvent]:
        """Yield the scenario's events in order."""
        texts: list[str] = []
        for index, step in enumerate(self._scenario.steps):
            if self._cancelled.is_set():
                return
            match step:
                case TextStep(text=text):
                    texts.append(text)
                    yield TextEvent(text=text)
                case DelayStep(delay=seconds):
                    await self._sleep(seconds)
                case ToolStep():
                    async for event in self._tool(step, index):
                        yield event
                case UsageStep(usage=usage):
                    if self._no_calls:
                        return
                    yield UsageEvent(**usage.model_dump(), request_id=self._call_id(index))
                case FailStep(fail=message, retryable=retryable):
                    yield ErrorEvent(message=message, retryable=retryable)
                    return
        if not self._cancelled.is_set():
            yield ResultEvent(text=self._scenario.result or "".join(texts).strip())

    def _call_id(self, index: int) -> str:
        """The scenario's stand-in for a provider's request id: the run and the step, so a
        recovered run that plays the scenario again books each step once."""
        run = self._request.run_id or f"{self._request.task_id}-{self._request.attempt}"
        return f"scripted:{run}:step-{index}"

    async def _tool(self, step: ToolStep, index: int) -> AsyncIterator[RuntimeEvent]:
        request_id = f"{self._request.task_id}-tool-{index}"
        yield ToolRequestEvent(tool=step.tool, input=dict(step.input), request_id=request_id)
        decision = await self._gate.decide(
            PermissionRequest(
                task_id=self._request.task_id,
                runtime=ScriptedRuntime.name,
                tool=step.tool,
                input=dict(step.input),
                request_id=request_id,
            )
        )
        if decision.allowed:
            answers = (decision.updated_input or {}).get("answers")
            # A question's result is the person's answers (as Claude Code returns them).
            output = json.dumps(answers, ensure_ascii=False) if answers else step.output
            yield ToolResultEvent(request_id=request_id, tool=step.tool, output=output)
        else:
            denial = decision.message or "denied"
            yield ToolResultEvent(
                request_id=request_id, tool=step.tool, output=f"denied: {denial}", is_error=True
            )

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._cancelled.wait(), timeout=seconds)
