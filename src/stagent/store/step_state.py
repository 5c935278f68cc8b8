"""What the engine reads and writes of a workflow for every step: the workflow's narrow run
state (`run_state`, never the definition), the step row as values (`step_values`, `step_start`)
and the step row's write by key (`write_step`). Built once and sent as values: every step of
every run goes through these (SQLite's driver path: `stagent.store.step_start`; PostgreSQL's
hot connection: `stagent.store.pg_step_start`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from stagent.domain.errors import NotFoundError
from stagent.store.database import flushed_connection
from stagent.store.driver import Prebuilt
from stagent.store.tables import WorkflowRow, WorkflowStepRow
from stagent.store.workflows import get_row


@dataclass(frozen=True, slots=True)
class RunState:
    """The columns of a workflow row the engine reads before each step (not the definition)."""

    name: str
    project_id: str | None
    status: str
    run_count: int
    engine_id: str | None


_WORKFLOWS = cast(Table, WorkflowRow.__table__)
RUN_STATE = select(
    _WORKFLOWS.c.name,
    _WORKFLOWS.c.project_id,
    _WORKFLOWS.c.status,
    _WORKFLOWS.c.run_count,
    _WORKFLOWS.c.engine_id,
).where(_WORKFLOWS.c.id == bindparam("workflow_id"))
"""Built once, of the table's columns (not the ORM class's: no ORM compile or result step):
every step of every run asks it (a step's start on PostgreSQL's hot connection sends it
itself: `stagent.store.pg_step_start`)."""


def run_state(session: Session, workflow_id: str) -> RunState:
    """One narrow primary-key read of the workflow's state (`get_row` also loads and decodes
    the definition, which grows with the number of steps), on the session's connection."""
    conn = flushed_connection(session)
    found = conn.execute(RUN_STATE, {"workflow_id": workflow_id}).one_or_none()
    if found is None:
        return run_state(session, get_row(session, workflow_id).id)
    return RunState(*found)


@dataclass(frozen=True, slots=True)
class StepValues:
    """What a step's start reads of its row (`step_values`): a value, no ORM object."""

    id: str
    status: str
    task_id: str | None
    name: str | None
    started_at: datetime | None


_STEPS = cast(Table, WorkflowStepRow.__table__)
STEP_VALUES = (
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
    found = flushed_connection(session).execute(STEP_VALUES, params).one_or_none()
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
        *RUN_STATE.selected_columns,
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
