"""DBOS steps and helpers the loop, planner-executor and swarm patterns share.

Every step of those patterns still runs through `stagent.engine.workflow_durable.WorkflowRun`
(``run.run``), so whatever a step does there (gates, retries, timeouts) holds for them too. A
step that must run beside others (a swarm worker) runs in its own small DBOS child workflow,
`step_workflow`, which calls ``run.run`` for it; the parent starts and awaits the children in a
fixed order, so a replay records the same steps in the same order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from dbos import DBOS

from stagent.domain.conditions import StepFacts
from stagent.domain.workflow_runs import StepStatus
from stagent.domain.workflows import WorkflowStep
from stagent.engine import durable
from stagent.engine import workflow_instances as instances
from stagent.engine import workflow_steps as steps
from stagent.engine.queue import STEP_WORKFLOW, STEP_WORKFLOW_WF4, STEP_WORKFLOW_WF5
from stagent.engine.workflow_waits import child_result

if TYPE_CHECKING:
    from dbos import WorkflowHandleAsync

    from stagent.engine.workflow_durable import WorkflowRun

Outcome = dict[str, Any]
"""A settled step: ``status``, ``output``, ``error``."""
Ending = tuple[str, str | None]
"""How a pattern ends: the workflow's status and the reason people read."""
SUPERSEDED_REASON = "a newer run took over"
"""The ending of a round a newer round replaced (a resume, a retry, a re-run)."""


@DBOS.step(name="stagent.workflow.next_iteration")
async def next_iteration(
    workflow_id: str, run_number: int, key: str, name: str, position: int, budget: float | None
) -> str | None:
    """Add the loop's next iteration; or a person's pause or cancel, or the loop's time budget
    spent, and nothing added."""
    store = durable.context().store
    iteration = (key, name, position)
    return instances.next_iteration(store, workflow_id, run_number, iteration, budget)


@DBOS.step(name="stagent.workflow.stop_check")
async def stop_check(workflow_id: str, run_number: int) -> str | None:
    """A person's pause or cancel (see `stagent.engine.workflow_steps.stop_reason`)."""
    return steps.stop_reason(durable.context().store, workflow_id, run_number)


@DBOS.step(name="stagent.workflow.record_plan")
async def record_plan(workflow_id: str, run_number: int, planner: str, output: str) -> Outcome:
    """Validate and record the planner's plan (recorded once: a replay reuses this answer)."""
    store = durable.context().store
    return instances.record_plan(store, workflow_id, run_number, planner, output)


@DBOS.step(name="stagent.workflow.budget_stop")
async def budget_stop(workflow_id: str, run_number: int, key: str) -> str | None:
    """The budget refusal that failed the step (the step is put back), or None."""
    return instances.budget_stop(durable.context().store, workflow_id, run_number, key)


@DBOS.step(name="stagent.workflow.record_stop")
async def record_stop(workflow_id: str, run_number: int, code: str) -> None:
    """Record the run's stop code."""
    instances.record_stop(durable.context().store, workflow_id, run_number, code)


@DBOS.step(name="stagent.workflow.mark_blocked")
async def mark_blocked(workflow_id: str, run_number: int, key: str, reason: str) -> None:
    """Mark a step that will not run because steps it needs failed."""
    steps.block(durable.context().store, workflow_id, run_number, key, reason)


@DBOS.workflow(name=STEP_WORKFLOW)
async def step_workflow(
    workflow_id: str,
    run_number: int,
    definition: dict[str, Any],
    key: str,
    prompt: str,
    facts: dict[str, Outcome] | None = None,
    previous: str | None = None,
) -> Outcome:
    """Run one step of a workflow run as a child workflow (so several can run at once). It
    sees what its parent knew when it started it: the other steps' ``facts`` and which step
    ran last (``previous``), so its ``condition`` reads them as in a sequence."""
    plan = (workflow_id, run_number, definition, key, prompt, facts, previous)
    return await _one_step(*plan, protocol=6)


@DBOS.workflow(name=STEP_WORKFLOW_WF5)
async def step_workflow_wf5(
    workflow_id: str,
    run_number: int,
    definition: dict[str, Any],
    key: str,
    prompt: str,
    facts: dict[str, Outcome] | None = None,
    previous: str | None = None,
) -> Outcome:
    """`step_workflow` as protocol ``stagent-wf-5`` recorded it (kept for its runs)."""
    plan = (workflow_id, run_number, definition, key, prompt, facts, previous)
    return await _one_step(*plan, protocol=5)


@DBOS.workflow(name=STEP_WORKFLOW_WF4)
async def step_workflow_wf4(
    workflow_id: str,
    run_number: int,
    definition: dict[str, Any],
    key: str,
    prompt: str,
    facts: dict[str, Outcome] | None = None,
    previous: str | None = None,
) -> Outcome:
    """`step_workflow` as protocol ``stagent-wf-4`` recorded it (kept for its runs)."""
    plan = (workflow_id, run_number, definition, key, prompt, facts, previous)
    return await _one_step(*plan, protocol=4)


async def _one_step(
    workflow_id: str,
    run_number: int,
    definition: dict[str, Any],
    key: str,
    prompt: str,
    facts: dict[str, Outcome] | None,
    previous: str | None,
    *,
    protocol: int,
) -> Outcome:
    from stagent.engine.workflow_durable import WorkflowRun

    known = {k: v for k, v in (facts or {}).items() if k != key}
    plan = {"definition": definition, "steps": known}
    run = WorkflowRun(workflow_id, run_number, plan, protocol)
    if previous is not None:
        run.previous = run.facts.get(previous)
        run.previous_key = previous
    step = next(s for s in run.definition.steps if s.id == key)
    return await run.run(step, prompt)


async def start_step(run: WorkflowRun, step: WorkflowStep, prompt: str) -> WorkflowHandleAsync[Any]:
    """Start `step_workflow` for a step of the definition; await ``get_result()`` for its
    outcome (its row is settled in the child, as soon as it ends)."""
    definition = run.definition.model_dump(mode="json", exclude_none=True)
    facts = {k: {"status": f.status, "output": f.output} for k, f in run.facts.items()}
    child = {6: step_workflow, 5: step_workflow_wf5}.get(run.protocol, step_workflow_wf4)
    return await DBOS.start_workflow_async(
        child, run.id, run.number, definition, step.id, prompt, facts, run.previous_key
    )


async def side_by_side(
    run: WorkflowRun, group: list[WorkflowStep], limit: int, prompt: Callable[[WorkflowStep], str]
) -> tuple[dict[str, Outcome], str | None]:
    """Run steps at most ``limit`` at once, each in its own child workflow (`start_step`), so
    each step's row is settled when it ends. Returns each step's outcome (settled ones from
    before included) and a person's pause or cancel if one stopped new steps from starting.
    A new step starts as soon as the oldest running one ends: children are started and awaited
    in definition order, so a replay records the same steps."""
    outcomes: dict[str, Outcome] = {s.id: run.settled[s.id] for s in group if s.id in run.settled}
    waiting = deque(s for s in group if s.id not in run.settled)
    running: deque[tuple[WorkflowStep, WorkflowHandleAsync[Any]]] = deque()
    stop: str | None = None
    while waiting or running:
        while waiting and len(running) < limit and stop is None:
            stop = await stop_check(run.id, run.number)
            if stop is None:
                step = waiting.popleft()
                running.append((step, await start_step(run, step, prompt(step))))
        if not running:
            break
        step, handle = running.popleft()
        outcomes[step.id] = await child_result(handle)
        run.facts[step.id] = StepFacts(
            str(outcomes[step.id]["status"]), str(outcomes[step.id].get("output") or "")
        )
    return outcomes, stop


def ok(outcome: Outcome) -> bool:
    """Whether a step completed."""
    return outcome.get("status") == StepStatus.COMPLETED.value


def skipped(outcome: Outcome) -> bool:
    """Whether a step was skipped by its ``condition`` (not a failure; it has no output)."""
    return outcome.get("status") == StepStatus.SKIPPED.value


def instance(template: WorkflowStep, key: str, name: str) -> WorkflowStep:
    """A step made at run time: the template's settings under its own key and name."""
    return template.model_copy(update={"id": key, "name": name})


async def end(run: WorkflowRun, status: str, reason: str | None, code: str | None) -> Ending:
    """Record the stop code (if any) and return the ending for the interpreter to finish."""
    if code is not None:
        await record_stop(run.id, run.number, code)
    return status, reason


async def person_stop(run: WorkflowRun, stop: str) -> Ending:
    """The ending for a person's pause or cancel (or a newer run taking over)."""
    if stop == "human_pause":
        return await end(run, "paused", "paused by a person", "human_pause")
    if stop == "superseded":
        return "cancelled", SUPERSEDED_REASON
    return await end(run, "cancelled", "cancelled by a person", "human_cancel")


async def failed_step(run: WorkflowRun, key: str, outcome: Outcome, *, code: str | None) -> Ending:
    """The ending for a step that failed: cancelled if a person cancelled the run (which ends
    its running step), paused at a budget cap (resume after raising it), or failed naming the
    step."""
    stop = await stop_check(run.id, run.number)
    if stop in ("human_cancel", "superseded"):
        return await person_stop(run, stop)
    refusal = await budget_stop(run.id, run.number, key)
    if refusal is not None:
        reason = f"budget exhausted at step {key}: {refusal}; raise the cap, then resume"
        return await end(run, "paused", reason, "budget_exhausted")
    return await end(run, "failed", f"step {key} failed: {outcome['error']}", code)
