"""Repository functions for tasks. Status changes go through `stagent.store.lifecycle` only."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, exists, func, select
from sqlalchemy.orm import Session

from stagent.domain.errors import NotFoundError
from stagent.domain.events import LogKind
from stagent.domain.ids import ensure_aware, new_id, utcnow
from stagent.domain.run_options import RunOptions
from stagent.domain.tasks import Task, TaskStatus
from stagent.store import events, row_values, run_state
from stagent.store.driver import Prebuilt
from stagent.store.tables import TaskRow, WorkflowStepRow


@dataclass(frozen=True, slots=True)
class NewTask:
    """The fields a caller provides to create a task."""

    title: str
    description: str = ""
    project_id: str | None = None
    runtime: str = "scripted"
    profile: str | None = None
    priority: int = 2
    options: RunOptions | None = None


EDITABLE_FIELDS = frozenset(
    {"title", "description", "project_id", "runtime", "profile", "priority", "options"}
)


def to_task(row: TaskRow) -> Task:
    """Map a row to the domain value."""
    return row_values.task_of(functools.partial(getattr, row))


_TASKS = cast(Table, TaskRow.__table__)
INSERT = Prebuilt(_TASKS.insert())
"""Built once: building a statement costs more CPU than running it (on SQLite sent straight to
the driver: `Prebuilt`). Its parameters are `planned`'s values (every column with a default)."""


def planned(new: NewTask) -> tuple[Task, dict[str, Any]]:
    """A new planned task (no run yet) and its row's values, not inserted."""
    now = utcnow()
    stored = (new.options or RunOptions(runtime=new.runtime)).stored()
    task = Task(
        id=new_id("tsk"),
        title=new.title,
        description=new.description,
        status=TaskStatus.PLANNED,
        project_id=new.project_id,
        runtime=new.runtime,
        profile=new.profile,
        priority=new.priority,
        result=None,
        error=None,
        options=row_values.stored_options(new.runtime, stored),
        workflow_id=None,
        session_id=None,
        run_count=0,
        created_at=now,
        updated_at=now,
        started_at=None,
        finished_at=None,
    )
    values = {
        "id": task.id,
        "project_id": task.project_id,
        "title": task.title,
        "description": task.description,
        "status": task.status.value,
        "runtime": task.runtime,
        "profile": task.profile,
        "priority": task.priority,
        "options": stored,
        "run_count": 0,
        "created_at": now,
        "updated_at": now,
    }
    return task, values


def create(session: Session, new: NewTask, *, log: bool = True) -> Task:
    """Insert a planned task and log its creation (one Core insert: no ORM object). ``log``
    False: the caller logs `created_event` itself, with the events that follow in the same
    transaction (one statement for all)."""
    task, values = planned(new)
    INSERT.execute(run_state.connection(session), values)
    if log:
        events.append(session, task.id, *created_event(task))
    return task


def created_event(task: Task) -> tuple[LogKind, dict[str, Any]]:
    """The event that logs a task's creation."""
    return "created", {"title": task.title, "runtime": task.runtime}


def _row_query(*, for_update: bool, deleted: bool) -> Select[TaskRow]:
    query = select(TaskRow).where(TaskRow.id == bindparam("task_id"))
    if not deleted:
        query = query.where(TaskRow.deleted_at.is_(None))
    if for_update:
        # NO KEY UPDATE on PostgreSQL: it still serializes writers of the task, but not the
        # foreign-key checks of concurrent inserts into feed_outbox (which take KEY SHARE).
        query = query.with_for_update(key_share=True)
    return query


_ROW_QUERIES = {
    (for_update, deleted): _row_query(for_update=for_update, deleted=deleted)
    for for_update in (False, True)
    for deleted in (False, True)
}
"""Built once: building a statement costs more CPU than running it on the hot path."""


def get_row(
    session: Session, task_id: str, *, for_update: bool = False, deleted: bool = False
) -> TaskRow:
    """Load a task row or raise `NotFoundError` (a deleted task only with ``deleted``)."""
    row = session.scalar(_ROW_QUERIES[(for_update, deleted)], {"task_id": task_id})
    if row is None:
        raise NotFoundError(
            f"no task with id {task_id!r}", hint="list tasks with `stagent task list`"
        )
    return row


def get(session: Session, task_id: str) -> Task:
    """Load a task."""
    return to_task(get_row(session, task_id))


def list_tasks(
    session: Session,
    *,
    status: TaskStatus | None = None,
    project_id: str | None = None,
    limit: int = 500,
) -> list[Task]:
    """Tasks, newest first, optionally filtered."""
    query = (
        select(TaskRow)
        .where(TaskRow.deleted_at.is_(None))
        .order_by(TaskRow.created_at.desc(), TaskRow.id)
        .limit(limit)
    )
    if status is not None:
        query = query.where(TaskRow.status == status.value)
    if project_id is not None:
        query = query.where(TaskRow.project_id == project_id)
    return [to_task(row) for row in session.scalars(query)]


def count_by_status(session: Session) -> dict[str, int]:
    """How many tasks (not deleted) are in each status (absent statuses left out)."""
    rows = session.execute(
        select(TaskRow.status, func.count())
        .where(TaskRow.deleted_at.is_(None))
        .group_by(TaskRow.status)
    )
    return {str(status): int(count) for status, count in rows}


def recently_changed(session: Session, limit: int) -> list[Task]:
    """The ``limit`` tasks (not deleted) changed last, latest first."""
    query = (
        select(TaskRow)
        .where(TaskRow.deleted_at.is_(None))
        .order_by(TaskRow.updated_at.desc(), TaskRow.id)
        .limit(limit)
    )
    return [to_task(row) for row in session.scalars(query)]


def update_fields(session: Session, task_id: str, changes: dict[str, Any]) -> Task:
    """Edit a task's editable fields and log which ones changed."""
    row = get_row(session, task_id, for_update=True)
    changes = dict(changes)
    if isinstance(changes.get("options"), RunOptions):
        changes["options"] = changes["options"].stored()
    changed = [name for name, value in changes.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, changes[name])
    if changed:
        session.flush()
        events.append(session, task_id, "updated", {"fields": changed})
    return to_task(row)


def delete(session: Session, task_id: str) -> None:
    """Delete a task: it vanishes from every list; its log stays, ending with a tombstone."""
    row = get_row(session, task_id, for_update=True)
    row.deleted_at = utcnow()
    session.flush()
    events.append(session, task_id, "deleted", {"title": row.title})


def set_routed_profile(session: Session, task_id: str, profile: str) -> None:
    """Keep the profile ``auto`` routed a task to (no event of its own: the run's note says
    which profile was chosen and why)."""
    run_state.write(session, TaskRow, task_id, {"profile": profile})


_RUNTIME_OF = select(TaskRow.runtime).where(
    TaskRow.id == bindparam("task_id"), TaskRow.deleted_at.is_(None)
)


def runtime_of(session: Session, task_id: str) -> str:
    """A task's runtime (one column; `NotFoundError` like `get_row`)."""
    runtime = session.scalar(_RUNTIME_OF, {"task_id": task_id})
    if runtime is None:
        raise NotFoundError(
            f"no task with id {task_id!r}", hint="list tasks with `stagent task list`"
        )
    return runtime


def status_of(session: Session, task_id: str) -> TaskStatus | None:
    """A task's status (one indexed column read; None if there is no such task)."""
    value = session.scalar(select(TaskRow.status).where(TaskRow.id == task_id))
    return TaskStatus(value) if value is not None else None


_STATUSES = select(TaskRow.id, TaskRow.status).where(
    TaskRow.id.in_(bindparam("ids", expanding=True))
)


def statuses(session: Session, task_ids: list[str]) -> dict[str, TaskStatus]:
    """The status of each of these tasks that exists (one query)."""
    rows = session.execute(_STATUSES, {"ids": task_ids})
    return {row[0]: TaskStatus(row[1]) for row in rows}


@dataclass(frozen=True, slots=True)
class EngineRef:
    """What reconciliation needs of an active task: its id, status, run and engine workflow;
    for a workflow step's task, when its row last changed (``step_since``: for a queued step,
    when `prepare` queued its run), else None."""

    task_id: str
    status: TaskStatus
    run_count: int
    workflow_id: str | None
    step_since: datetime | None = None


_IS_STEP = exists().where(WorkflowStepRow.task_id == TaskRow.id).correlate(TaskRow)

_ACTIVE_REFS = select(
    TaskRow.id,
    TaskRow.status,
    TaskRow.run_count,
    TaskRow.workflow_id,
    TaskRow.updated_at,
    _IS_STEP.label("is_step"),
).where(
    TaskRow.status.in_(
        (TaskStatus.QUEUED.value, TaskStatus.RUNNING.value, TaskStatus.WAITING.value)
    ),
    TaskRow.deleted_at.is_(None),
)


def active_refs(session: Session) -> list[EngineRef]:
    """Every queued, running or waiting task (narrow columns, no options decoded)."""
    return [
        EngineRef(
            row[0],
            TaskStatus(row[1]),
            row[2],
            row[3],
            ensure_aware(row[4]) if row[5] else None,
        )
        for row in session.execute(_ACTIVE_REFS)
    ]
