"""Repository functions for the step rows of workflow runs (one row per step of a run: its
child task, status, output), read and written by key.

The workflow rows themselves are `stagent.store.workflows`; what a step's start and settle read
and write on the hot path is `stagent.store.step_state`.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, select
from sqlalchemy.orm import Session

from stagent.domain.errors import NotFoundError
from stagent.domain.ids import ensure_aware, new_id
from stagent.domain.workflow_runs import StepState, StepStatus
from stagent.store.database import flushed_connection
from stagent.store.tables import RunRow, TaskRow, WorkflowStepRow


def to_step(row: WorkflowStepRow | Any) -> StepState:
    """Map a step row (an ORM row, or a Core result row with the same columns) to the domain
    value."""
    return StepState(
        key=row.step_key,
        position=row.position,
        status=StepStatus(row.status),
        task_id=row.task_id,
        output=row.output,
        error=row.error,
        started_at=ensure_aware(row.started_at) if row.started_at else None,
        ended_at=ensure_aware(row.ended_at) if row.ended_at else None,
        name=row.name,
    )


_STEP_STATES = (
    select(
        WorkflowStepRow.step_key,
        WorkflowStepRow.position,
        WorkflowStepRow.status,
        WorkflowStepRow.task_id,
        WorkflowStepRow.output,
        WorkflowStepRow.error,
        WorkflowStepRow.started_at,
        WorkflowStepRow.ended_at,
        WorkflowStepRow.name,
    )
    .where(WorkflowStepRow.workflow_id == bindparam("workflow_id"))
    .where(WorkflowStepRow.run_number == bindparam("run_number"))
    .order_by(WorkflowStepRow.position)
)
"""Built once: every `get` of a workflow reads its latest run's steps."""


def step_states(session: Session, workflow_id: str, run_number: int) -> list[StepState]:
    """The steps of one run as domain values, in definition order (what `to_step` makes of
    `step_rows`, without loading an ORM object per row)."""
    params = {"workflow_id": workflow_id, "run_number": run_number}
    return [to_step(r) for r in flushed_connection(session).execute(_STEP_STATES, params)]


_STEP_FACTS = (
    select(
        WorkflowStepRow.step_key,
        WorkflowStepRow.status,
        WorkflowStepRow.output,
        WorkflowStepRow.error,
    )
    .where(WorkflowStepRow.workflow_id == bindparam("workflow_id"))
    .where(WorkflowStepRow.run_number == bindparam("run_number"))
    .order_by(WorkflowStepRow.position)
)
"""Built once: a run's interpreter reads its steps' facts when it begins."""


def step_facts(session: Session, workflow_id: str, run_number: int) -> dict[str, dict[str, Any]]:
    """Each step of one run by key, in definition order: its ``status`` (text), ``output`` and
    ``error`` (four columns as values, no ORM object a row)."""
    params = {"workflow_id": workflow_id, "run_number": run_number}
    found = flushed_connection(session).execute(_STEP_FACTS, params)
    return {
        key: {"status": status, "output": output, "error": error}
        for key, status, output, error in found
    }


def step_rows(session: Session, workflow_id: str, run_number: int) -> list[WorkflowStepRow]:
    """The step rows of one run, in definition order."""
    query = (
        select(WorkflowStepRow)
        .where(WorkflowStepRow.workflow_id == workflow_id)
        .where(WorkflowStepRow.run_number == run_number)
        .order_by(WorkflowStepRow.position)
    )
    return list(session.scalars(query))


def _step_row_query(*, for_update: bool) -> Select[WorkflowStepRow]:
    query = (
        select(WorkflowStepRow)
        .where(WorkflowStepRow.workflow_id == bindparam("workflow_id"))
        .where(WorkflowStepRow.run_number == bindparam("run_number"))
        .where(WorkflowStepRow.step_key == bindparam("key"))
    )
    return query.with_for_update() if for_update else query


_STEP_ROW = {flag: _step_row_query(for_update=flag) for flag in (False, True)}
"""Built once: each step's prepare and settle read their row."""


def step_row(
    session: Session, workflow_id: str, run_number: int, key: str, *, for_update: bool = False
) -> WorkflowStepRow:
    """One step row of a run (it exists from the run's start)."""
    params = {"workflow_id": workflow_id, "run_number": run_number, "key": key}
    row = session.scalar(_STEP_ROW[for_update], params)
    if row is None:
        raise NotFoundError(
            f"workflow {workflow_id} has no step {key!r} in run {run_number}",
            hint="see the step ids with `stagent workflow show`",
        )
    return row


_STEP_FOR_TASK = (
    select(WorkflowStepRow.id)
    .where(WorkflowStepRow.task_id == bindparam("task_id"))
    .order_by(WorkflowStepRow.run_number.desc())
    .limit(1)
)
"""Built once: every task run asks it (is this task a workflow step?)."""


def step_for_task(session: Session, task_id: str) -> WorkflowStepRow | None:
    """The newest step row a task runs as (None: the task is no workflow step). A task that is
    no step costs one indexed read of one column (no ORM load)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    row_id = session.connection().scalar(_STEP_FOR_TASK, {"task_id": task_id})
    return session.get(WorkflowStepRow, row_id) if row_id is not None else None


def step_by_id(session: Session, row_id: str) -> WorkflowStepRow | None:
    """A step row by its own id."""
    return session.get(WorkflowStepRow, row_id)


def insert_pending(session: Session, workflow_id: str, run_number: int, keys: list[str]) -> None:
    """Pending rows for a new run's ``keys``, in that order (one executemany, no ORM object
    per step), after the session's own changes."""
    pending = StepStatus.PENDING.value
    rows = [
        {
            "id": new_id("wfs"),
            "workflow_id": workflow_id,
            "run_number": run_number,
            "step_key": key,
            "position": position,
            "status": pending,
        }
        for position, key in enumerate(keys)
    ]
    conn = flushed_connection(session)  # the workflow row's changes go first
    if rows:
        conn.execute(_INSERT_STEP_ROWS, rows)


_INSERT_STEP_ROWS = cast(Table, WorkflowStepRow.__table__).insert()
"""Built once: a new run's pending step rows."""


def reuse_steps(
    session: Session, workflow_id: str, run_number: int, reused: list[WorkflowStepRow]
) -> None:
    """Carry steps of an earlier run into run ``run_number`` as they ended (output, task,
    times): the new run does not run them again."""
    current = {r.step_key: r for r in step_rows(session, workflow_id, run_number)}
    for old in reused:
        row = current.get(old.step_key)
        if row is None:
            row = WorkflowStepRow(
                id=new_id("wfs"),
                workflow_id=workflow_id,
                run_number=run_number,
                step_key=old.step_key,
                name=old.name,
                position=old.position,
            )
            session.add(row)
        row.status = old.status
        row.task_id = old.task_id
        row.output = old.output
        row.error = old.error
        row.started_at = old.started_at
        row.ended_at = old.ended_at
    session.flush()


def add_step(
    session: Session, workflow_id: str, run_number: int, key: str, name: str, position: int
) -> WorkflowStepRow:
    """A pending row for a step made at run time (a loop iteration, a plan step); the row
    already there if it was added before (so adding twice is safe)."""
    query = (
        select(WorkflowStepRow)
        .where(WorkflowStepRow.workflow_id == workflow_id)
        .where(WorkflowStepRow.run_number == run_number)
        .where(WorkflowStepRow.step_key == key)
    )
    row = session.scalar(query)
    if row is None:
        row = WorkflowStepRow(
            id=new_id("wfs"),
            workflow_id=workflow_id,
            run_number=run_number,
            step_key=key,
            name=name,
            position=position,
            status=StepStatus.PENDING.value,
        )
        session.add(row)
        session.flush()
    return row


def step_costs(session: Session, workflow_id: str, run_number: int) -> list[tuple[str, str, int]]:
    """What each step of a run has cost so far, by runtime: (step key, runtime, micro-USD of
    every run of its child task on that runtime). A step whose task has no run yet comes with
    its task's runtime and 0."""
    runtime = func.coalesce(RunRow.runtime, TaskRow.runtime)
    query = (
        select(WorkflowStepRow.step_key, runtime, func.coalesce(func.sum(RunRow.cost_micros), 0))
        .join(TaskRow, TaskRow.id == WorkflowStepRow.task_id)
        .outerjoin(RunRow, RunRow.task_id == WorkflowStepRow.task_id)
        .where(WorkflowStepRow.workflow_id == workflow_id)
        .where(WorkflowStepRow.run_number == run_number)
        .group_by(WorkflowStepRow.step_key, runtime)
    )
    return [(key, str(name), int(total)) for key, name, total in session.execute(query)]


def step_task_ids(session: Session, task_ids: list[str] | None = None) -> dict[str, str]:
    """Child tasks of workflow steps: task id -> the workflow's id (``task_ids`` narrows it)."""
    query = select(WorkflowStepRow.task_id, WorkflowStepRow.workflow_id).where(
        WorkflowStepRow.task_id.is_not(None)
    )
    if task_ids is not None:
        query = query.where(WorkflowStepRow.task_id.in_(task_ids))
    return {task_id: workflow_id for task_id, workflow_id in session.execute(query) if task_id}
