"""The reads and writes of `stagent.store.lifecycle`'s hot path, in SQLAlchemy Core: a task's or
a run's row as a domain value (or just the columns a step needs), locked in the order the
lifecycle takes them (a run's task, then the run), and updates by primary key.

No ORM object is loaded: an ORM load costs several times the statement (identity map,
instance state, attribute events). A row an earlier step of the same transaction did load
through the ORM is kept in step with what is written here (`write`), so the two ways of
reading never disagree inside one transaction.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Dialect, Table, and_, bindparam, select, true, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from stagent.domain.errors import NotFoundError
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task, TaskStatus
from stagent.store import row_values
from stagent.store.database import flushed_connection as connection
from stagent.store.driver import Prebuilt, PrebuiltRead
from stagent.store.hot import SqliteHotConnection
from stagent.store.runs import BOOKED, Booked
from stagent.store.tables import RunRow, TaskRow, WorkflowStepRow

_TASKS = cast(Table, TaskRow.__table__)
_RUNS = cast(Table, RunRow.__table__)
_STEPS = cast(Table, WorkflowStepRow.__table__)

# NO KEY UPDATE on PostgreSQL (as `stagent.store.tasks.get_row`): writers of a task wait for
# each other, foreign-key checks of concurrent event inserts do not.
_TASK_LIVE = (
    select(_TASKS)
    .where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.deleted_at.is_(None))
    .with_for_update(key_share=True)
)
_TASK_STATUS = (
    select(_TASKS.c.status)
    .where(_TASKS.c.id == bindparam("task_id"))
    .with_for_update(key_share=True)
)
_RUN_BY_ID = select(_RUNS).where(_RUNS.c.id == bindparam("run_id")).with_for_update()
_RUN_BY_NUMBER = (
    select(_RUNS)
    .where(_RUNS.c.task_id == bindparam("task_id"), _RUNS.c.number == bindparam("number"))
    .with_for_update()
)
_STEP_OF_TASK = (
    select(_STEPS.c.id)
    .where(_STEPS.c.task_id == bindparam("task_id"))
    .order_by(_STEPS.c.run_number.desc())
    .limit(1)
    .scalar_subquery()
    .label("claim_step")
)
"""The workflow step row the task runs as (its newest), if any: asked by every run's claim."""
_CLAIM_TASK = (
    select(_TASKS, _STEP_OF_TASK)
    .where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.deleted_at.is_(None))
    .with_for_update(key_share=True, of=_TASKS)
)
_RUN_COLUMNS = tuple(column.label(f"claim_run_{column.name}") for column in _RUNS.c)
_CLAIM_SQLITE = (
    select(_TASKS, _STEP_OF_TASK, *_RUN_COLUMNS)
    .select_from(
        _TASKS.outerjoin(
            _RUNS, and_(_RUNS.c.task_id == _TASKS.c.id, _RUNS.c.number == bindparam("number"))
        )
    )
    .where(_TASKS.c.id == bindparam("task_id"), _TASKS.c.deleted_at.is_(None))
)
"""A run's claim on SQLite in one read: the task, its run ``number`` (if there is one) and the
workflow step row it runs as. SQLite's write transaction is the lock; PostgreSQL locks the
task (read with its step row), then the run (`claim_state`)."""
_BOOKED_ROW = BOOKED.subquery("booked")
_END_SQLITE = PrebuiltRead(
    select(
        _RUNS,
        select(_TASKS.c.status)
        .where(_TASKS.c.id == bindparam("task_id"))
        .scalar_subquery()
        .label("end_task_status"),
        *(column.label(f"end_booked_{n}") for n, column in enumerate(_BOOKED_ROW.c)),
    )
    .select_from(_RUNS.join(_BOOKED_ROW, true()))
    .where(_RUNS.c.id == bindparam("run_id"))
)
"""A run's end on SQLite in one read, sent to the driver: the run, its task's status and its
ledger rows' sums (`runs.BOOKED`, one row whatever the run booked). SQLite's write transaction
is the lock, so the order of the reads does not matter there; PostgreSQL locks the task, then
the run (`end_state`)."""
_END_ON_DRIVER = PrebuiltRead(
    _END_SQLITE.statement.with_only_columns(
        _RUNS.c.status,
        _RUNS.c.attempt,
        *tuple(_END_SQLITE.statement.selected_columns)[len(_RUNS.c) :],
        maintain_column_froms=True,
    )
)
"""`_END_SQLITE` with only the run's status and attempt (`end_fence_on_driver`): the run's
executor holds the rest of its row."""
_RUN_TASK = select(_RUNS.c.task_id).where(_RUNS.c.id == bindparam("run_id"))
_UPDATES = {
    model: Prebuilt(update(table).where(table.c.id == bindparam("row_id")))
    for model, table in ((TaskRow, _TASKS), (RunRow, _RUNS))
}
"""Built once (the SET clause comes from the parameters): building a statement costs more CPU
than running it on the hot path; on SQLite sent straight to the driver (`Prebuilt`)."""


def live_task(conn: Connection, task_id: str) -> Task:
    """A task that is not deleted, locked for this transaction; `NotFoundError` otherwise."""
    row = conn.execute(_TASK_LIVE, {"task_id": task_id}).mappings().one_or_none()
    if row is None:
        raise _no_task(task_id)
    return row_values.task_of(row.__getitem__)


def task_status(conn: Connection, task_id: str) -> TaskStatus | None:
    """A task's status (deleted or not), locked for this transaction; None if there is none."""
    value = conn.scalar(_TASK_STATUS, {"task_id": task_id})
    return TaskStatus(value) if value is not None else None


def claim_state(conn: Connection, task_id: str, number: int) -> tuple[Task, Run | None, str | None]:
    """What a run's claim reads: the task (not deleted, locked first), its run ``number``
    (locked; None if there is none) and the id of the workflow step row the task runs as
    (None for a task that is no step). One statement on SQLite, two on PostgreSQL (task, then
    run: the lifecycle's lock order). `NotFoundError` if there is no such task."""
    params = {"task_id": task_id, "number": number}
    if conn.dialect.name != "sqlite":
        found = conn.execute(_CLAIM_TASK, params).mappings().one_or_none()
        if found is None:
            raise _no_task(task_id)
        run = locked_run_number(conn, task_id, number)
        return row_values.task_of(found.__getitem__), run, found["claim_step"]
    found = conn.execute(_CLAIM_SQLITE, params).mappings().one_or_none()
    if found is None:
        raise _no_task(task_id)
    run = None
    if found["claim_run_id"] is not None:
        run = row_values.run_of(lambda name: found[f"claim_run_{name}"])
    return row_values.task_of(found.__getitem__), run, found["claim_step"]


def _no_task(task_id: str) -> NotFoundError:
    return NotFoundError(f"no task with id {task_id!r}", hint="list tasks with `stagent task list`")


def run_task_id(conn: Connection, run_id: str) -> str | None:
    """The task a run belongs to (no lock: the caller locks the task, then the run)."""
    return conn.scalar(_RUN_TASK, {"run_id": run_id})


def locked_run(conn: Connection, run_id: str) -> Run:
    """A run, locked for this transaction; `NotFoundError` if there is none."""
    row = conn.execute(_RUN_BY_ID, {"run_id": run_id}).mappings().one_or_none()
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}", hint="see a task's runs on its page")
    return row_values.run_of(row.__getitem__)


def end_state(conn: Connection, run_id: str, task_id: str) -> tuple[Run, TaskStatus | None, Booked]:
    """What a run's end reads: the run (locked), its task's status (locked first on
    PostgreSQL; None if the task row is gone) and its ledger rows' sums: one statement on
    SQLite, one round trip of three statements on PostgreSQL (`_end_locked`). `NotFoundError`
    if there is no such run."""
    if conn.dialect.name != "sqlite":
        return _end_locked(conn, run_id, task_id)
    return _end_of(run_id, _END_SQLITE.one_or_none(conn, {"run_id": run_id, "task_id": task_id}))


EndFence = tuple[RunStatus, int, TaskStatus | None, Booked]
"""What a run's end on the driver reads: the run's status and attempt, its task's status (None
if the task row is gone), its ledger rows' sums."""


def end_fence_on_driver(hot: SqliteHotConnection, run_id: str, task_id: str) -> EndFence:
    """`end_state` for the run's own executor, which holds the run's row already (its claim),
    on SQLite's bare driver connection in the write transaction its caller began
    (`stagent.store.hot_end`): one statement, the run's status and attempt instead of its
    whole row. `NotFoundError` if there is no such run."""
    params = {"run_id": run_id, "task_id": task_id}
    found = _END_ON_DRIVER.one_or_none_on_driver(hot.driver, hot.dialect, params)
    if found is None:
        raise NotFoundError(f"no run with id {run_id!r}", hint="see a task's runs on its page")
    status = found["end_task_status"]
    spent, reserved, completed = (found[f"end_booked_{n}"] for n in range(3))
    return (
        RunStatus(found["status"]),
        found["attempt"],
        TaskStatus(status) if status is not None else None,
        Booked(int(spent or 0), int(reserved or 0), int(completed or 0)),
    )


def _end_of(run_id: str, found: dict[str, Any] | None) -> tuple[Run, TaskStatus | None, Booked]:
    """`_END_SQLITE`'s row as values; `NotFoundError` if there is none."""
    if found is None:
        raise NotFoundError(f"no run with id {run_id!r}", hint="see a task's runs on its page")
    status = found["end_task_status"]
    spent, reserved, completed = (found[f"end_booked_{n}"] for n in range(3))
    return (
        row_values.run_of(found.__getitem__),
        TaskStatus(status) if status is not None else None,
        Booked(int(spent or 0), int(reserved or 0), int(completed or 0)),
    )


@functools.cache
def _end_pg(dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """PostgreSQL's end reads as one query text: the task's status (locked), the run (locked),
    its ledger sums -- three statements in that order -- and the fixed values of their
    parameters (the ``IN`` list's)."""
    texts: list[str] = []
    fixed: dict[str, Any] = {}
    for statement in (_TASK_STATUS, _RUN_BY_ID, BOOKED):
        expanded = statement.compile(dialect=dialect).construct_expanded_state(
            {"task_id": "", "run_id": ""}
        )
        texts.append(expanded.statement)
        fixed.update(expanded.parameters)
    for name in ("task_id", "run_id"):
        fixed.pop(name, None)
    return "; ".join(texts), fixed


def _end_locked(
    conn: Connection, run_id: str, task_id: str
) -> tuple[Run, TaskStatus | None, Booked]:
    """PostgreSQL's end reads in one round trip: the task first, then the run (the lifecycle's
    lock order), then the run's ledger sums, as three statements of one simple query (values
    bound by the client: a query of several statements takes no server-side parameters). Each
    statement takes its own snapshot, so the sums see every row a writer that held the run's
    lock committed before this end got it."""
    sql, fixed = _end_pg(conn.dialect)
    params = {**fixed, "task_id": task_id, "run_id": run_id}
    driver: Any = conn.connection.driver_connection
    try:
        with psycopg.ClientCursor(driver) as cursor:
            cursor.execute(cast(Any, sql), params)  # compiled here, not a literal string
            status = cursor.fetchone()
            cursor.nextset()
            found = cursor.fetchone()
            names = [column.name for column in cursor.description or ()]
            cursor.nextset()
            sums = cursor.fetchone()
    except psycopg.Error as exc:
        raise DBAPIError.instance(sql, params, exc, psycopg.Error, dialect=conn.dialect) from exc
    if found is None:
        raise NotFoundError(f"no run with id {run_id!r}", hint="see a task's runs on its page")
    run = row_values.run_of(dict(zip(names, found, strict=True)).__getitem__)
    spent, reserved, completed = sums if sums is not None else (0, 0, 0)
    booked = Booked(int(spent or 0), int(reserved or 0), int(completed or 0))
    return run, TaskStatus(status[0]) if status is not None else None, booked


def locked_run_number(conn: Connection, task_id: str, number: int) -> Run | None:
    """Run ``number`` of a task, locked for this transaction, if it exists."""
    query = {"task_id": task_id, "number": number}
    row = conn.execute(_RUN_BY_NUMBER, query).mappings().one_or_none()
    if row is None:
        return None
    return row_values.run_of(row.__getitem__)


def write(
    session: Session, model: type[TaskRow] | type[RunRow], row_id: str, values: dict[str, Any]
) -> None:
    """Write ``values`` to a task or run row: one Core ``UPDATE`` by primary key (no unit-of-work
    flush). If the session holds the row as an ORM object, that object keeps the written values
    as its committed state."""
    _UPDATES[model].execute(connection(session), {"row_id": row_id, **values})
    if not len(session.identity_map):  # the hot path's sessions load no ORM object
        return
    loaded = session.identity_map.get(identity_key(model, row_id))
    if loaded is not None:
        for name, value in values.items():
            set_committed_value(loaded, name, value)


def write_on_driver(
    hot: SqliteHotConnection,
    model: type[TaskRow] | type[RunRow],
    row_id: str,
    values: dict[str, Any],
) -> None:
    """`write` on SQLite's bare driver connection, in its open transaction (no Session: no
    ORM object to keep in step)."""
    _UPDATES[model].execute_on_driver(hot.driver, hot.dialect, {"row_id": row_id, **values})
