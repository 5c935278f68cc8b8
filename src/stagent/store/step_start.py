"""A workflow step's start on SQLite's bare driver connection (no Session, no SQLAlchemy
``execute``): the write transaction begun (``BEGIN IMMEDIATE``: the file's write lock, as
`Store.write`'s), the step row, its workflow's state and its project's working directory read
in one statement, and the step row's write.

`stagent.engine.workflow_steps.prepare_on_driver` uses these for the common start (a step
with no task yet); `stagent.store.lifecycle.start_new_on_driver` writes the task, its run and
their events in the same transaction. Any other start goes the full way
(`stagent.engine.workflow_steps.prepare_in`, in a `Store.write` transaction).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Dialect, Table, literal_column

from stagent.store.budgets import fingerprint_sql
from stagent.store.hot import SqliteHotConnection
from stagent.store.step_state import STEP_START_SQLITE, WRITE_STEP, RunState, StepValues
from stagent.store.tables import ProjectRow, WorkflowRow, WorkflowStepRow

_STEPS = cast(Table, WorkflowStepRow.__table__)
_WORKFLOWS = cast(Table, WorkflowRow.__table__)
_PROJECTS = cast(Table, ProjectRow.__table__)
_READ = STEP_START_SQLITE.add_columns(
    _PROJECTS.c.working_directory, literal_column(fingerprint_sql("sqlite"))
).outerjoin(_PROJECTS, _PROJECTS.c.id == _WORKFLOWS.c.project_id)
"""`stagent.store.step_state.STEP_START_SQLITE`, the working directory of the workflow's
project and the budget policy's fingerprint (the run's admission then needs no read of its
own: `stagent.store.budgets.note_seen`)."""
_STARTED_AT = 4
"""The position of the step row's ``started_at`` (the one column SQLite returns as text)."""


@dataclass(frozen=True, slots=True)
class StepStart:
    """What a step's start reads: its row, its workflow's state (None if the workflow row is
    gone), the working directory of the workflow's project (None: none, or no project) and the
    budget policy's fingerprint (`stagent.store.budgets.fingerprint_sql`; None if not read)."""

    row: StepValues
    state: RunState | None
    project_directory: str | None
    policy: str | None = None


@functools.cache
def _compiled(dialect: Dialect) -> tuple[str, tuple[str, ...], Callable[[Any], Any] | None]:
    """`_READ` compiled for ``dialect`` once: its SQL, its parameters' order and the
    timestamp's result processor."""
    compiled = _READ.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    started_at = _STEPS.c.started_at.type.result_processor(dialect, None)
    return compiled.string, names, started_at


def begin(
    hot: SqliteHotConnection, workflow_id: str, run_number: int, key: str
) -> StepStart | None:
    """Begin the write transaction on ``hot`` (``BEGIN IMMEDIATE``) and read the step's start;
    None, the transaction rolled back, if there is no such step row. On a driver error the
    transaction is rolled back and the error raised."""
    sql, names, started_at = _compiled(hot.dialect)
    params = {"workflow_id": workflow_id, "run_number": run_number, "key": key}
    driver = hot.driver
    driver.execute("BEGIN IMMEDIATE")
    try:
        cursor = driver.execute(sql, [params[name] for name in names])
        try:
            found = cursor.fetchone()
        finally:
            cursor.close()
    except BaseException:
        driver.rollback()
        raise
    if found is None:
        driver.rollback()
        return None
    values = list(found)
    if started_at is not None and values[_STARTED_AT] is not None:
        values[_STARTED_AT] = started_at(values[_STARTED_AT])
    state = RunState(*values[5:10]) if values[5] is not None else None
    return StepStart(StepValues(*values[:5]), state, values[10], str(values[11]))


def write_step(
    hot: SqliteHotConnection, workflow_id: str, run_number: int, key: str, values: dict[str, Any]
) -> bool:
    """`stagent.store.step_state.write_step` on ``hot``, in its open transaction; False if
    there is no such row."""
    params = {"row_workflow": workflow_id, "row_run": run_number, "row_key": key, **values}
    return bool(WRITE_STEP.execute_on_driver(hot.driver, hot.dialect, params))
