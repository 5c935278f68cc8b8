"""Repository functions for workflows and the steps of their runs.

The engine's steps (`stagent.engine.workflow_steps`) and the service are the only writers; each
write is one short transaction, so a crash between two writes leaves a state the next engine
round can continue from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import ensure_aware, new_id, utcnow
from stagent.domain.workflow_runs import (
    StepState,
    StepStatus,
    Workflow,
    WorkflowStatus,
    engine_id_for,
    initial_step_keys,
)
from stagent.domain.workflows import WorkflowDefinition
from stagent.store import approvals as approval_repo
from stagent.store import ledger as ledger_repo
from stagent.store import runs as run_repo
from stagent.store.database import flushed_connection
from stagent.store.driver import Prebuilt, PrebuiltRead
from stagent.store.hot import SqliteHotConnection
from stagent.store.ledger import BLOCKED
from stagent.store.tables import (
    ApprovalRequestRow,
    RunRow,
    TaskRow,
    UsageLedgerRow,
    WorkflowRow,
    WorkflowStepRow,
)


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


def to_workflow(
    row: WorkflowRow,
    steps: list[WorkflowStepRow] | None = None,
    *,
    states: list[StepState] | None = None,
) -> Workflow:
    """Map a workflow row (and its latest run's step rows, or their ``states`` read already)
    to the domain value."""
    return Workflow(
        id=row.id,
        definition=WorkflowDefinition.model_validate(row.definition),
        status=WorkflowStatus(row.status),
        run_count=row.run_count,
        stop_reason=row.stop_reason,
        project_id=row.project_id,
        created_at=ensure_aware(row.created_at),
        updated_at=ensure_aware(row.updated_at),
        started_at=ensure_aware(row.started_at) if row.started_at else None,
        finished_at=ensure_aware(row.finished_at) if row.finished_at else None,
        steps=tuple(states) if states is not None else tuple(to_step(s) for s in steps or []),
        stop_code=row.stop_code,
    )


def create(
    session: Session, definition: WorkflowDefinition, *, project_id: str | None = None
) -> Workflow:
    """Store a validated definition as a draft workflow."""
    row = WorkflowRow(
        id=new_id("wf"),
        name=definition.name,
        pattern=definition.pattern,
        definition=definition.model_dump(mode="json", exclude_none=True),
        project_id=project_id,
        status=WorkflowStatus.DRAFT.value,
        run_count=0,
        round=0,
    )
    session.add(row)
    session.flush()
    return to_workflow(row)


def get_row(session: Session, workflow_id: str, *, for_update: bool = False) -> WorkflowRow:
    """Load a workflow row (by id, or by name when unique) or raise `NotFoundError`."""
    query = select(WorkflowRow).where(WorkflowRow.id == workflow_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        named = list(session.scalars(select(WorkflowRow).where(WorkflowRow.name == workflow_id)))
        if len(named) == 1:
            return get_row(session, named[0].id, for_update=for_update)
        raise NotFoundError(
            f"no workflow with id {workflow_id!r}",
            hint="list workflows with `stagent workflow list`",
        )
    return row


@dataclass(frozen=True, slots=True)
class RunState:
    """The columns of a workflow row the engine reads before each step (not the definition)."""

    name: str
    project_id: str | None
    status: str
    run_count: int
    engine_id: str | None


_WORKFLOWS = cast(Table, WorkflowRow.__table__)
_RUN_STATE = select(
    _WORKFLOWS.c.name,
    _WORKFLOWS.c.project_id,
    _WORKFLOWS.c.status,
    _WORKFLOWS.c.run_count,
    _WORKFLOWS.c.engine_id,
).where(_WORKFLOWS.c.id == bindparam("workflow_id"))
"""Built once, of the table's columns (not the ORM class's: no ORM compile or result step):
every step of every run asks it."""


def run_state(session: Session, workflow_id: str) -> RunState:
    """One narrow primary-key read of the workflow's state (`get_row` also loads and decodes
    the definition, which grows with the number of steps), on the session's connection."""
    conn = flushed_connection(session)
    found = conn.execute(_RUN_STATE, {"workflow_id": workflow_id}).one_or_none()
    if found is None:
        return run_state(session, get_row(session, workflow_id).id)
    return RunState(*found)


def definition_data(session: Session, workflow_id: str) -> dict[str, Any] | None:
    """The stored definition of a workflow (as data), or None if there is no such workflow."""
    query = select(WorkflowRow.definition).where(WorkflowRow.id == workflow_id)
    return session.execute(query).scalar_one_or_none()


def get(session: Session, workflow_id: str) -> Workflow:
    """A workflow with the steps of its latest run (read as values: no ORM object a step)."""
    row = get_row(session, workflow_id)
    return to_workflow(row, states=step_states(session, row.id, row.run_count))


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


def list_all(session: Session, *, status: WorkflowStatus | None = None) -> list[Workflow]:
    """Workflows, newest first."""
    query = select(WorkflowRow).order_by(WorkflowRow.created_at.desc(), WorkflowRow.id)
    if status is not None:
        query = query.where(WorkflowRow.status == status.value)
    return [to_workflow(row) for row in session.scalars(query)]


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


@dataclass(frozen=True, slots=True)
class StepValues:
    """What a step's start reads of its row (`step_values`): a value, no ORM object."""

    id: str
    status: str
    task_id: str | None
    name: str | None
    started_at: datetime | None


_STEPS = cast(Table, WorkflowStepRow.__table__)
_STEP_VALUES = (
    select(_STEPS.c.id, _STEPS.c.status, _STEPS.c.task_id, _STEPS.c.name, _STEPS.c.started_at)
    .where(_STEPS.c.workflow_id == bindparam("workflow_id"))
    .where(_STEPS.c.run_number == bindparam("run_number"))
    .where(_STEPS.c.step_key == bindparam("key"))
    .with_for_update()
)
WRITE_STEP = Prebuilt(
    update(_STEPS)
    .where(_STEPS.c.workflow_id == bindparam("row_workflow"))
    .where(_STEPS.c.run_number == bindparam("row_run"))
    .where(_STEPS.c.step_key == bindparam("row_key"))
)
"""Built once (the SET clause comes from the parameters): every step's start and end; on
SQLite sent straight to the driver (`Prebuilt`). Parameters: ``row_workflow``, ``row_run``,
``row_key`` and the columns to set."""


def step_values(session: Session, workflow_id: str, run_number: int, key: str) -> StepValues:
    """`step_row` locked for this transaction, read as a value (one Core read, no ORM load);
    `NotFoundError` as `step_row`."""
    params = {"workflow_id": workflow_id, "run_number": run_number, "key": key}
    found = flushed_connection(session).execute(_STEP_VALUES, params).one_or_none()
    if found is None:
        raise NotFoundError(
            f"workflow {workflow_id} has no step {key!r} in run {run_number}",
            hint="see the step ids with `stagent workflow show`",
        )
    return StepValues(*found)


STEP_START_SQLITE = (
    select(
        _STEPS.c.id,
        _STEPS.c.status,
        _STEPS.c.task_id,
        _STEPS.c.name,
        _STEPS.c.started_at,
        *_RUN_STATE.selected_columns,
    )
    .select_from(_STEPS.outerjoin(_WORKFLOWS, _WORKFLOWS.c.id == _STEPS.c.workflow_id))
    .where(_STEPS.c.workflow_id == bindparam("workflow_id"))
    .where(_STEPS.c.run_number == bindparam("run_number"))
    .where(_STEPS.c.step_key == bindparam("key"))
)
"""A step's start on SQLite in one read: its row and its workflow's state. SQLite's write
transaction is the lock; on PostgreSQL the step row is locked first and the workflow's state
read by its own statement after the lock (its snapshot is then the lock's: a pause committed
while this one waited is seen)."""


def step_start(
    session: Session, workflow_id: str, run_number: int, key: str
) -> tuple[StepValues, RunState | None]:
    """`step_values` and, on SQLite, the workflow's `run_state` read with it (one statement);
    None for the state on PostgreSQL (the caller reads it once the row is locked)."""
    conn = flushed_connection(session)
    if conn.dialect.name != "sqlite":
        return step_values(session, workflow_id, run_number, key), None
    params = {"workflow_id": workflow_id, "run_number": run_number, "key": key}
    found = conn.execute(STEP_START_SQLITE, params).one_or_none()
    if found is None:
        return step_values(session, workflow_id, run_number, key), None  # its error
    values: tuple[Any, ...] = tuple(found)
    state = RunState(*values[5:]) if values[5] is not None else None
    return StepValues(*values[:5]), state


def write_step(
    session: Session, workflow_id: str, run_number: int, key: str, values: dict[str, Any]
) -> bool:
    """Write ``values`` to one step row (one Core ``UPDATE`` by its key, no unit-of-work flush);
    False if there is no such row. A row this session holds as an ORM object keeps the written
    values as its committed state."""
    params = {"row_workflow": workflow_id, "row_run": run_number, "row_key": key}
    changed = WRITE_STEP.execute(flushed_connection(session), {**params, **values})
    for loaded in list(session.identity_map.values()):
        if (
            isinstance(loaded, WorkflowStepRow)
            and loaded.workflow_id == workflow_id
            and loaded.run_number == run_number
            and loaded.step_key == key
        ):
            for name, value in values.items():
                set_committed_value(loaded, name, value)
    return bool(changed)


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


def start_run(session: Session, row: WorkflowRow) -> int:
    """Begin a new run: pending step rows for every step; returns the run number."""
    definition = WorkflowDefinition.model_validate(row.definition)
    row.run_count += 1
    row.round = 1
    row.status = WorkflowStatus.RUNNING.value
    row.stop_reason = None
    row.stop_code = None
    row.started_at = utcnow()
    row.finished_at = None
    pending = StepStatus.PENDING.value
    rows = [
        {
            "id": new_id("wfs"),
            "workflow_id": row.id,
            "run_number": row.run_count,
            "step_key": key,
            "position": position,
            "status": pending,
        }
        for position, key in enumerate(initial_step_keys(definition))
    ]
    conn = flushed_connection(session)  # the workflow row's changes go first
    if rows:  # one executemany, no ORM object per step
        conn.execute(_INSERT_STEP_ROWS, rows)
    return row.run_count


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


def budget_refusal(session: Session, task_id: str) -> str | None:
    """Why the latest run of a step's task was refused at a budget cap (its ``blocked`` ledger
    row's note), or None if it was not."""
    latest = session.scalar(
        select(RunRow.id).where(RunRow.task_id == task_id).order_by(RunRow.number.desc()).limit(1)
    )
    if latest is None:
        return None
    found = session.execute(
        select(UsageLedgerRow.id, UsageLedgerRow.note)
        .where(UsageLedgerRow.run_id == latest)
        .where(UsageLedgerRow.status == BLOCKED)
        .limit(1)
    ).first()
    return None if found is None else (found.note or "blocked by budget")


def end(
    session: Session,
    row: WorkflowRow,
    status: WorkflowStatus,
    reason: str | None,
    code: str | None = None,
) -> None:
    """Set the workflow's final (or paused) state and why (``code``: for machines, if given)."""
    row.status = status.value
    row.stop_reason = reason
    if code is not None:
        row.stop_code = code
    if status is not WorkflowStatus.PAUSED:
        row.finished_at = utcnow()
    session.flush()


def begin_run(session: Session, row: WorkflowRow) -> tuple[str, int]:
    """Start a new run of a workflow locked for update (refused while one is running or
    paused); returns the engine id of its first round and the run number."""
    if WorkflowStatus(row.status) in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED):
        raise ConflictError(
            f"workflow {row.id} is {row.status}",
            hint="resume or cancel it before starting a new run",
        )
    number = start_run(session, row)
    return next_round(row, first=True), number


def next_round(row: WorkflowRow, *, first: bool = False) -> str:
    """Start another engine execution of the current run; returns its engine id."""
    row.round = 1 if first else row.round + 1
    row.stop_code = None
    engine_id = engine_id_for(row.id, row.run_count, row.round)
    row.engine_id = engine_id
    return engine_id


def why_failed(session: Session, task_id: str, number: int, status: str) -> str:
    """Why a step's task did not complete: ``cancelled``, ``budget`` (refused at a cap),
    ``rejected`` (at its checkpoint) or ``failed`` (the only one a retry policy retries)."""
    if status == "cancelled":
        return "cancelled"
    run = run_repo.find_row(session, task_id, number)
    if run is None:
        return "failed"
    if ledger_repo.blocked_note(session, run.id) is not None:
        return "budget"
    card = approval_repo.for_run(session, run.id, "checkpoint")
    if card is not None and card.status != "allowed":
        return "rejected"
    return "failed"


_WHY_FAILED = PrebuiltRead(
    select(  # pyright: ignore[reportArgumentType] (a Select of two labelled columns)
        select(UsageLedgerRow.id)
        .where(UsageLedgerRow.run_id == bindparam("run_id"), UsageLedgerRow.status == BLOCKED)
        .limit(1)
        .scalar_subquery()
        .label("blocked"),
        select(ApprovalRequestRow.status)
        .where(
            ApprovalRequestRow.run_id == bindparam("run_id"),
            ApprovalRequestRow.kind == "checkpoint",
        )
        .order_by(ApprovalRequestRow.created_at.desc(), ApprovalRequestRow.id.desc())
        .limit(1)
        .scalar_subquery()
        .label("checkpoint"),
    )
)
"""`why_failed`'s two reads in one statement, sent to SQLite's driver."""


def why_failed_on_driver(hot: SqliteHotConnection, run_id: str, status: str) -> str:
    """`why_failed` for run ``run_id`` (its task's newest, which ended ``status``) on SQLite's
    bare driver connection, in its open transaction: one read (the run's end on the driver,
    `stagent.store.hot_end`)."""
    if status == "cancelled":
        return "cancelled"
    found = _WHY_FAILED.one_or_none_on_driver(hot.driver, hot.dialect, {"run_id": run_id})
    if found is not None and found["blocked"] is not None:
        return "budget"
    if found is not None and found["checkpoint"] not in (None, "allowed"):
        return "rejected"
    return "failed"


def replace_definition(
    session: Session, row: WorkflowRow, definition: WorkflowDefinition, project_id: str | None
) -> Workflow:
    """Store an edited definition (its runs' step rows stay as they were)."""
    row.name = definition.name
    row.pattern = definition.pattern
    row.definition = definition.model_dump(mode="json", exclude_none=True)
    row.project_id = project_id
    session.flush()
    return to_workflow(row, step_rows(session, row.id, row.run_count))


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


RUN_STATE = _RUN_STATE
"""`run_state`'s read (a step's start on PostgreSQL's hot connection sends it itself:
`stagent.store.pg_step_start`)."""
STEP_VALUES = _STEP_VALUES
"""`step_values`' read, the row locked (as `RUN_STATE`)."""
