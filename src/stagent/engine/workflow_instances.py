"""What the loop, planner-executor and swarm patterns do to our tables (no DBOS here).

Beside `stagent.engine.workflow_steps` (which every pattern uses for each step): rows for steps
made at run time (a loop's next iteration, after its gate; plan steps), a step
refused at a budget cap, and the run's stop code. `stagent.engine.workflow_shared` calls these
inside DBOS steps; each is one short transaction and safe to run twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stagent.domain.ids import ensure_aware, utcnow
from stagent.domain.workflow_plans import PlanError, parse_plan
from stagent.domain.workflow_runs import StepStatus, instance_key, split_key
from stagent.domain.workflows import WorkflowDefinition
from stagent.engine import workflow_steps as steps
from stagent.store import step_outcomes
from stagent.store import step_rows as step_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store


def next_iteration(
    store: Store,
    workflow_id: str,
    run_number: int,
    iteration: tuple[str, str, int],
    budget: float | None,
) -> str | None:
    """Add the loop's next iteration (``(key, name, position)``) unless the loop must stop;
    returns why it must: a person's pause or cancel, or its time budget spent (the time its
    iterations ran, so a paused loop's wait does not count)."""
    stop = steps.stop_reason(store, workflow_id, run_number)
    if stop:
        return stop
    key, name, position = iteration
    template = split_key(key)[0]
    with store.write() as session:
        if budget is not None:
            rows = step_repo.step_rows(session, workflow_id, run_number)
            now = utcnow()
            spent = sum(
                (
                    (ensure_aware(r.ended_at) if r.ended_at else now) - ensure_aware(r.started_at)
                    for r in rows
                    if r.started_at and split_key(r.step_key)[0] == template
                ),
                timedelta(),
            )
            if spent.total_seconds() >= budget:
                return "time_budget"
        step_repo.add_step(session, workflow_id, run_number, key, name, position)
        return None


def record_plan(
    store: Store, workflow_id: str, run_number: int, planner: str, output: str
) -> dict[str, Any]:
    """Validate the planner's plan and add a pending row per plan step; returns ``{"plan":
    [step, ...]}``, or ``{"error": why}`` after marking the planner step failed with it (so
    `stagent workflow retry` asks the planner again)."""
    with store.write() as session:
        row = workflow_repo.get_row(session, workflow_id)
        data = workflow_repo.run_definition(session, row, run_number)
        definition = WorkflowDefinition.model_validate(data)
        executors = [s.id for s in definition.steps[1:]]
        try:
            plan = parse_plan(output, executors)
        except PlanError as exc:
            step_row = step_repo.step_row(
                session, workflow_id, run_number, planner, for_update=True
            )
            error = f"malformed plan: {exc.message}"
            step_row.status = StepStatus.FAILED.value
            step_row.error = error
            return {"error": error}
        for index, item in enumerate(plan, start=1):
            key = instance_key(item.executor or executors[0], index)
            step_repo.add_step(session, workflow_id, run_number, key, item.name, index)
        return {"plan": [item.model_dump() for item in plan]}


def budget_stop(store: Store, workflow_id: str, run_number: int, key: str) -> str | None:
    """If the failed step's task was refused at a budget cap: put the step back (``blocked``,
    so the next round runs it again) and return the refusal; else None."""
    with store.write() as session:
        step_row = step_repo.step_row(session, workflow_id, run_number, key, for_update=True)
        if step_row.task_id is None:
            return None
        refusal = step_outcomes.budget_refusal(session, step_row.task_id)
        if refusal is None:
            return None
        step_row.status = StepStatus.BLOCKED.value
        step_row.error = f"budget exhausted: {refusal}"
        step_row.ended_at = utcnow()
        return refusal


def record_stop(store: Store, workflow_id: str, run_number: int, code: str) -> None:
    """Record why the run stopped, for machines (unless a newer run started)."""
    with store.write() as session:
        row = workflow_repo.get_row(session, workflow_id, for_update=True)
        if row.run_count == run_number:
            row.stop_code = code
