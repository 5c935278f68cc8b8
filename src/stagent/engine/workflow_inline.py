"""A workflow step's run executed inside its interpreter (protocol ``stagent-wf-5``).

Under ``stagent-wf-4`` a step cost a DBOS step (``prepare``), a DBOS child workflow for its task
run (its status row, its result row) and the parent's ``getResult`` record, around our own
transactions: ~10 commits a step. Here one attempt of a step is one DBOS step of the
interpreter (`stagent.engine.workflow_durable`, ``stagent.workflow.run_step``) whose body:

1. `start_step`, one transaction: the run's stop check and ``prepare`` (make the step's task,
   queue a run of it and claim it at once: `stagent.store.lifecycle.start_run`, ``running``
   under attempt 1, the fencing token);
2. the runtime runs (`stagent.engine.executor.execute_claimed`, on the worker's run loop):
   budgets, checkpoints, events, cancels and timeouts are a task run's, as before;
3. the run's end, its last events and the step row's settle in one transaction
   (`stagent.engine.workflow_steps.SettleOnEnd`).

DBOS records the step's outcome once it returns, so a replay never runs a finished attempt
again. A crash inside the attempt re-executes the DBOS step: `start_step` then finds the run
``running`` (or ``waiting`` at a checkpoint) and takes it over under a new attempt
(`stagent.store.lifecycle.claim`: the old execution's writes are fenced off), or finds the
step already concluded (the crash fell between our commit and DBOS's record) and returns its
outcome without running anything. The run names the interpreter as its engine workflow, so
reconcile leaves it alone while the interpreter lives and fails it if the interpreter ended,
and a person cancelling the step's task ends the run in our tables without cancelling the
interpreter (`stagent.store.lifecycle.own_engine_run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stagent.domain.workflow_runs import StepStatus
from stagent.domain.workflows import WorkflowStep
from stagent.engine import workflow_checkpoints
from stagent.engine import workflow_steps as steps
from stagent.engine.executor import RunContext, execute_claimed
from stagent.store import lifecycle
from stagent.store import workflows as workflow_repo
from stagent.store.database import Session

CONCLUDED = (StepStatus.COMPLETED.value, StepStatus.FAILED.value)
"""Step rows an attempt that ended before a crash left behind (a new attempt or a new round
puts its row back to ``running``/``pending`` first, so a fresh attempt never starts on one)."""


@dataclass(frozen=True, slots=True)
class StartedStep:
    """An attempt ready to run: the claimed run and the step row its task runs as."""

    claim: lifecycle.Claim
    row: workflow_checkpoints.StepRow


def start_step(
    ctx: RunContext,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    *,
    engine_id: str | None,
    executing: str | None,
) -> StartedStep | dict[str, Any]:
    """Stop check, prepare and claim in one transaction. Returns the claimed attempt, or a
    mapping: ``{"stop": reason}`` (the run must stop), or the outcome of an attempt that had
    concluded already (status, output, error, why). ``executing``: the engine workflow this
    runs in (recorded as the run's engine id)."""
    with ctx.store.write() as session:
        row, state = workflow_repo.step_start(session, workflow_id, run_number, step.id)
        if row.status in CONCLUDED and row.task_id is not None:
            task = lifecycle.locked_task(session, row.task_id)
            if task.status.is_terminal:
                return _concluded(session, workflow_id, run_number, step.id, engine_id, state)
        ready = steps.prepare_in(
            session,
            workflow_id,
            run_number,
            step,
            prompt,
            engine_id,
            ctx.profiles,
            executing=executing,
            step_row=row,
            state=state,
        )
        if "stop" in ready:
            return ready
        claim = ready["claimed"] or lifecycle.claim(
            session, ready["task"], ready["run"], engine_id=executing
        )
        if claim is None:  # its run ended already: the step's outcome is the run's
            return steps.settle_in(session, workflow_id, run_number, step.id)
        place = workflow_checkpoints.StepRow(row.id, workflow_id, run_number, step.id)
        return StartedStep(claim, place)


def _concluded(
    session: Session,
    workflow_id: str,
    run_number: int,
    key: str,
    engine_id: str | None,
    state: workflow_repo.RunState | None,
) -> dict[str, Any]:
    """The outcome of a step whose attempt concluded before (a replay asking again), unless a
    newer round replaced this one: then ``{"stop": "superseded"}``, as for a step not run yet.
    A replay reads its steps' answers from rows the newer round may have changed since (a step
    it ran, or put back), so only this answer keeps the replay's DBOS steps the recorded ones:
    the round ends at its first such answer (`stagent.engine.workflow_durable`)."""
    if state is None:
        state = workflow_repo.run_state(session, workflow_id)
    if steps.superseded_round(state, run_number, engine_id):
        return {"stop": "superseded"}
    return steps.settle_in(session, workflow_id, run_number, key)


async def run_attempt(
    ctx: RunContext,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    *,
    engine_id: str | None,
    executing: str | None,
) -> dict[str, Any]:
    """One attempt of a step, start to settled outcome (see the module); runs on the worker's
    run loop. Returns ``{"stop": reason}`` or the step's outcome."""
    started = start_step(
        ctx, workflow_id, run_number, step, prompt, engine_id=engine_id, executing=executing
    )
    if not isinstance(started, StartedStep):
        return started
    ref: steps.StepRef = (workflow_id, run_number, step.id, step.requires_approval)
    settled = steps.SettleOnEnd(ref)
    with workflow_checkpoints.step_known(ref):
        await execute_claimed(ctx, started.claim, started.row, settled)
    return settled.result(ctx.store)
