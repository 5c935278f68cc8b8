"""The workflow interpreter: one DBOS workflow that runs a workflow definition (data).

Conditions from ``shared/reference/dbos-engine.md``: user workflows are data run by one generic
interpreter; every side effect is a step (`stagent.engine.workflow_steps`), so the body re-runs
deterministically on recovery and a finished step is replayed from its checkpoint, never sent to
a model again. Each workflow step runs as a child task through the task queue
(`stagent.run_task`, with the task run's own engine id), so budgets, approvals, events and cost
work exactly as for any task.

Patterns built: ``sequence`` and ``parallel`` here; ``loop``, ``planner-executor`` and ``swarm``
in `workflow_loop`, `workflow_planner` and `workflow_swarm`, which run every step through
`WorkflowRun` too. ``checkpoint`` stops with a clear "not built yet".
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS, SetWorkflowID

from stagent.domain.workflow_runs import StepStatus
from stagent.domain.workflows import WorkflowDefinition, WorkflowStep
from stagent.engine import durable
from stagent.engine import workflow_steps as steps
from stagent.engine.queue import RUN_WORKFLOW, workflow_id_for
from stagent.engine.workflow_loop import run_loop
from stagent.engine.workflow_planner import run_planner_executor
from stagent.engine.workflow_prompts import sequence_prompt, synthesis_prompt
from stagent.engine.workflow_swarm import run_swarm
from stagent.engine.workflow_waits import task_result

SETTLED = (StepStatus.COMPLETED.value, StepStatus.FAILED.value)
"""Steps a new round does not run again (a retry puts its step back to pending first)."""


@DBOS.step(name="stagent.workflow.begin")
async def _begin(workflow_id: str, run_number: int) -> dict[str, Any]:
    return steps.begin(durable.context().store, workflow_id, run_number)


@DBOS.step(name="stagent.workflow.stop_reason")
async def _stop_reason(workflow_id: str, run_number: int) -> str | None:
    return steps.stop_reason(durable.context().store, workflow_id, run_number)


@DBOS.step(name="stagent.workflow.prepare")
async def _prepare(workflow_id: str, run_number: int, key: str, prompt: str) -> list[Any]:
    ctx = durable.context()
    return steps.prepare(ctx.store, workflow_id, run_number, key, prompt, profiles=ctx.profiles)


@DBOS.step(name="stagent.workflow.settle")
async def _settle(workflow_id: str, run_number: int, key: str) -> dict[str, Any]:
    return steps.settle(durable.context().store, workflow_id, run_number, key)


@DBOS.step(name="stagent.workflow.block")
async def _block(workflow_id: str, run_number: int, key: str, reason: str) -> None:
    steps.block(durable.context().store, workflow_id, run_number, key, reason)


@DBOS.step(name="stagent.workflow.finish")
async def _finish(workflow_id: str, run_number: int, status: str, reason: str | None) -> str:
    return steps.finish(durable.context().store, workflow_id, run_number, status, reason)


class WorkflowRun:
    """One execution of a workflow run: the interpreter's state, rebuilt identically on replay.

    Every pattern takes this object and runs EVERY step through `run` or `start`, so step-level
    behaviour added here (gates, retry, timeouts) applies to every pattern."""

    def __init__(self, workflow_id: str, run_number: int, plan: dict[str, Any]) -> None:
        self.id = workflow_id
        self.number = run_number
        self.definition = WorkflowDefinition.model_validate(plan["definition"])
        self.settled: dict[str, dict[str, Any]] = {
            key: value for key, value in plan["steps"].items() if value["status"] in SETTLED
        }

    async def start(self, step: WorkflowStep, prompt: str) -> Any:
        """Queue the step's child task run; returns the engine handle to await."""
        task_id, number = await _prepare(self.id, self.number, step.id, prompt)
        with SetWorkflowID(workflow_id_for(task_id, number)):
            return await durable.task_queue().enqueue_async(
                durable.run_task_workflow, task_id, number
            )

    async def run(self, step: WorkflowStep, prompt: str) -> dict[str, Any]:
        """Run one step to its end (or replay it if it finished before)."""
        if step.id in self.settled:
            return self.settled[step.id]
        handle = await self.start(step, prompt)
        await task_result(durable.context().store, handle)
        return await _settle(self.id, self.number, step.id)


@DBOS.workflow(name=RUN_WORKFLOW)
async def run_workflow(workflow_id: str, run_number: int) -> str:
    """Durably run run ``run_number`` of a workflow; returns its final status."""
    run = WorkflowRun(workflow_id, run_number, await _begin(workflow_id, run_number))
    pattern = run.definition.pattern
    if pattern == "parallel":
        status, reason = await _parallel(run)
    elif pattern == "sequence":
        status, reason = await _sequence(run)
    elif pattern == "loop":
        status, reason = await run_loop(run)
    elif pattern == "planner-executor":
        status, reason = await run_planner_executor(run)
    elif pattern == "swarm":
        status, reason = await run_swarm(run)
    else:
        status, reason = "failed", f"the {pattern} pattern is not built yet"
    return await _finish(workflow_id, run_number, status, reason)


async def _sequence(run: WorkflowRun) -> tuple[str, str | None]:
    previous: str | None = None
    for step in run.definition.steps:
        if step.id not in run.settled:
            stop = await _stop_reason(run.id, run.number)
            if stop:
                return _stopped(stop)
        outcome = await run.run(step, sequence_prompt(step, previous))
        if outcome["status"] != StepStatus.COMPLETED.value:
            return "failed", f"step {step.id} failed: {outcome['error']}"
        previous = outcome["output"]
    return "completed", None


async def _parallel(run: WorkflowRun) -> tuple[str, str | None]:
    branches = [s for s in run.definition.steps if not s.depends_on]
    join = next(s for s in run.definition.steps if s.depends_on)
    settings = run.definition.parallel
    limit = settings.max_concurrency if settings else 3
    outcomes: dict[str, dict[str, Any]] = {}
    for start in range(0, len(branches), limit):
        wave = [b for b in branches[start : start + limit] if b.id not in run.settled]
        if wave:
            stop = await _stop_reason(run.id, run.number)
            if stop:
                return _stopped(stop)
        handles = [(b, await run.start(b, sequence_prompt(b, None))) for b in wave]
        for branch, handle in handles:
            await task_result(durable.context().store, handle)
            outcomes[branch.id] = await _settle(run.id, run.number, branch.id)
        for branch in branches[start : start + limit]:
            outcomes.setdefault(branch.id, run.settled.get(branch.id, {}))
    done = [(b, str(outcomes[b.id]["output"])) for b in branches if _ok(outcomes[b.id])]
    failed = [b.id for b in branches if not _ok(outcomes[b.id])]
    policy = settings.on_branch_failure if settings else "fail"
    if failed and (policy == "fail" or not done):
        reason = f"blocked by failed branches: {', '.join(failed)}"
        await _block(run.id, run.number, join.id, reason)
        return "failed", reason
    stop = None if join.id in run.settled else await _stop_reason(run.id, run.number)
    if stop:
        return _stopped(stop)
    outcome = await run.run(join, synthesis_prompt(join, done))
    if not _ok(outcome):
        return "failed", f"step {join.id} failed: {outcome['error']}"
    return "completed", None


def _ok(outcome: dict[str, Any]) -> bool:
    return outcome.get("status") == StepStatus.COMPLETED.value


def _stopped(reason: str) -> tuple[str, str | None]:
    if reason == "human_pause":
        return "paused", "paused by a person"
    return "cancelled", "cancelled by a person"
