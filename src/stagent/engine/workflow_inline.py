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
outcome without running anything. A newer round (a resume right after a pause) that finds the
step's run still executed by a live older round or its child (`stagent.engine.live_rounds`)
does not take it over, which would start its agent again and pay its model requests twice: it
waits for the run to end (or that execution to die) and settles from its end. The run names
the interpreter as its engine workflow, so reconcile leaves it alone while the interpreter
lives and fails it if the interpreter ended, and a person cancelling the step's task ends the
run in our tables without cancelling the interpreter (`stagent.store.lifecycle.own_engine_run`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from stagent.domain.runs import RunStatus
from stagent.domain.workflow_runs import StepStatus
from stagent.domain.workflows import WorkflowStep
from stagent.engine import live_rounds, workflow_checkpoints
from stagent.engine import workflow_steps as steps
from stagent.engine.executor import RunContext, execute_claimed
from stagent.engine.workflow_waits import PROBE_MIN_GAP_SECONDS
from stagent.store import budgets as budget_repo
from stagent.store import lifecycle, pg_step_start, step_start, step_state
from stagent.store import runs as run_repo
from stagent.store.database import Session, Store

CONCLUDED = (StepStatus.COMPLETED.value, StepStatus.FAILED.value)
"""Step rows an attempt that ended before a crash left behind (a new attempt or a new round
puts its row back to ``running``/``pending`` first, so a fresh attempt never starts on one)."""


@dataclass(frozen=True, slots=True)
class StartedStep:
    """An attempt ready to run: the claimed run and the step row its task runs as."""

    claim: lifecycle.Claim
    row: workflow_checkpoints.StepRow


@dataclass(frozen=True, slots=True)
class Busy:
    """The step's run is in flight under ``owner``, another engine workflow (an older round or
    its child) that a live process still executes: wait for the run's end (`until_free`)."""

    task_id: str
    number: int
    owner: str


OWNER_CHECK_SECONDS = 1.0
"""How often a wait on a `Busy` run looks whether its owner's process died (a death is no
commit; the run's end wakes the wait at once)."""


def start_step(
    ctx: RunContext,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    *,
    engine_id: str | None,
    executing: str | None,
) -> StartedStep | Busy | dict[str, Any]:
    """Stop check, prepare and claim in one transaction. Returns the claimed attempt, or a
    mapping: ``{"stop": reason}`` (the run must stop), or the outcome of an attempt that had
    concluded already (status, output, error, why), or `Busy` (the run is in flight under a
    live execution of another engine workflow). ``executing``: the engine workflow this runs
    in (recorded as the run's engine id). On SQLite a step with no task yet starts on the
    driver without a Session (`_start_on_driver`)."""
    if ctx.store.is_sqlite and executing is not None:
        started = _start_on_driver(ctx, workflow_id, run_number, step, prompt, engine_id, executing)
        if started is not None:
            return started
    if not ctx.store.is_sqlite and executing is not None:
        started = _start_on_hot(ctx, workflow_id, run_number, step, prompt, engine_id, executing)
        if started is not None:
            return started
    with ctx.store.write() as session:
        row, state = step_state.step_start(session, workflow_id, run_number, step.id)
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
        if ready["claimed"] is None:
            busy = _busy(session, ready["task"], ready["run"], executing)
            if busy is not None:
                return busy
        claim = ready["claimed"] or lifecycle.claim(
            session, ready["task"], ready["run"], engine_id=executing
        )
        if claim is None:  # its run ended already: the step's outcome is the run's
            return steps.settle_in(session, workflow_id, run_number, step.id)
        place = workflow_checkpoints.StepRow(row.id, workflow_id, run_number, step.id)
        return StartedStep(claim, place)


def _start_on_driver(
    ctx: RunContext,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    engine_id: str | None,
    executing: str,
) -> StartedStep | dict[str, Any] | None:
    """`start_step`'s common case on SQLite's bare driver connection, in one transaction
    (`stagent.engine.workflow_steps.prepare_on_driver`); None if it is not that case (nothing
    was written: start it the full way)."""
    with ctx.store.sqlite_hot_connection() as hot:
        found = step_start.begin(hot, workflow_id, run_number, step.id)
        if found is None:
            return None
        driver = hot.driver
        try:
            ready = steps.prepare_on_driver(
                hot,
                found,
                run_number,
                step,
                prompt,
                engine_id,
                ctx.profiles,
                workflow_id=workflow_id,
                executing=executing,
            )
            if not isinstance(ready, lifecycle.Claim):
                driver.rollback()  # nothing was written
                return ready
            driver.commit()
        except BaseException:
            driver.rollback()
            raise
    if found.policy is not None:  # committed and rung: the admission's read
        budget_repo.note_seen(ctx.store, found.policy)
    place = workflow_checkpoints.StepRow(found.row.id, workflow_id, run_number, step.id)
    return StartedStep(ready, place)


def _start_on_hot(
    ctx: RunContext,
    workflow_id: str,
    run_number: int,
    step: WorkflowStep,
    prompt: str,
    engine_id: str | None,
    executing: str,
) -> StartedStep | dict[str, Any] | None:
    """`start_step`'s common case on PostgreSQL's hot connection, in two round trips
    (`stagent.store.pg_step_start`: the locked read, then the writes with the commit); None if
    it is not that case (nothing was written: start it the full way)."""
    dialect = ctx.store.engine.dialect
    with ctx.store.hot_connection() as hot:
        found = pg_step_start.begin(hot, dialect, workflow_id, run_number, step.id)
        if found is None:
            return None
        try:
            plan = steps.plan_new_start(found, run_number, step, prompt, engine_id, ctx.profiles)
            if not isinstance(plan, steps.NewStart):
                pg_step_start.roll_back(hot)  # nothing was written
                return plan
            claim, statements, held = pg_step_start.start_new(
                hot,
                plan.planned,
                plan.options,
                reason=plan.reason,
                engine_id=executing,
                noted=plan.noted,
            )
            values = steps.started_row_values(claim.task.id, found)
            literal = pg_step_start.literal_for(hot)
            statements.append(
                pg_step_start.step_update(literal, workflow_id, run_number, step.id, values)
            )
        except BaseException:
            pg_step_start.roll_back(hot)
            raise
        pg_step_start.commit(hot, dialect, statements, held)
    if found.policy is not None:  # committed and rung: the admission's read
        budget_repo.note_seen(ctx.store, found.policy)
    place = workflow_checkpoints.StepRow(found.row.id, workflow_id, run_number, step.id)
    return StartedStep(claim, place)


def _busy(session: Session, task_id: str, number: int, executing: str | None) -> Busy | None:
    """`Busy` if run ``number`` of the task is in flight under another engine workflow than
    ``executing`` that a live process executes (a dead one's run is taken over)."""
    run = run_repo.find_row(session, task_id, number)
    if run is None or run.workflow_id in (None, executing) or _ended(run.status):
        return None
    owner = run.workflow_id or ""
    return Busy(task_id, number, owner) if live_rounds.alive(session, owner) else None


def _ended(status: str) -> bool:
    return RunStatus(status).is_terminal


async def until_free(store: Store, busy: Busy) -> None:
    """Sleep on the store's change signal until the busy run ended or its owner's process is
    gone (looked at every `OWNER_CHECK_SECONDS`); the reads run in a thread, at most once per
    `PROBE_MIN_GAP_SECONDS`."""
    while True:
        version = store.changes.version
        if await asyncio.to_thread(_free, store, busy):
            return
        await store.changes.wait_async(version, OWNER_CHECK_SECONDS)
        await asyncio.sleep(PROBE_MIN_GAP_SECONDS)


def _free(store: Store, busy: Busy) -> bool:
    with store.read() as session:
        run = run_repo.find_row(session, busy.task_id, busy.number)
        if run is None or _ended(run.status) or run.workflow_id != busy.owner:
            return True
        return not live_rounds.alive(session, busy.owner)


def _concluded(
    session: Session,
    workflow_id: str,
    run_number: int,
    key: str,
    engine_id: str | None,
    state: step_state.RunState | None,
) -> dict[str, Any]:
    """The outcome of a step whose attempt concluded before (a replay asking again), unless a
    newer round replaced this one: then ``{"stop": "superseded"}``, as for a step not run yet.
    A replay reads its steps' answers from rows the newer round may have changed since (a step
    it ran, or put back), so only this answer keeps the replay's DBOS steps the recorded ones:
    the round ends at its first such answer (`stagent.engine.workflow_durable`)."""
    if state is None:
        state = step_state.run_state(session, workflow_id)
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
    while isinstance(started, Busy):  # a live older round runs it: its end is this attempt's
        await until_free(ctx.store, started)
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
