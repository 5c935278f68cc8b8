"""Read-only queries for the Monitor and Home: what is running, how runs ended, events per hour,
and the raw times Home's seven-day sparklines are counted from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, or_, select

from stagent.domain.ids import ensure_aware
from stagent.store.ledger import Session
from stagent.store.tables import (
    AgentEventRow,
    ApprovalRequestRow,
    InboxItemRow,
    ProjectRow,
    RunRow,
    TaskRow,
    WorkflowRow,
)


@dataclass(frozen=True, slots=True)
class ActiveTask:
    """A task running now (``status`` ``running``, or ``waiting`` for a person)."""

    id: str
    title: str
    runtime: str
    project: str | None
    started_at: datetime | None
    status: str = "running"


def running(session: Session) -> list[ActiveTask]:
    """Tasks running now, longest-running first."""
    return _in_progress(session, ("running",))


def active(session: Session) -> list[ActiveTask]:
    """Tasks whose agent is alive now: running, or waiting for a person (an approval, a
    checkpoint, a budget answer); longest-running first."""
    return _in_progress(session, ("running", "waiting"))


def _in_progress(session: Session, statuses: tuple[str, ...]) -> list[ActiveTask]:
    rows = session.execute(
        select(
            TaskRow.id,
            TaskRow.title,
            TaskRow.runtime,
            ProjectRow.name,
            TaskRow.started_at,
            TaskRow.status,
        )
        .outerjoin(ProjectRow, ProjectRow.id == TaskRow.project_id)
        .where(TaskRow.status.in_(statuses), TaskRow.deleted_at.is_(None))
        .order_by(TaskRow.started_at)
    ).all()
    return [
        ActiveTask(str(i), str(t), str(r), p, ensure_aware(s) if s else None, str(status))
        for i, t, r, p, s, status in rows
    ]


def finished_by_status(session: Session, since: datetime) -> dict[str, int]:
    """How many runs ended at or after ``since``, by final status."""
    rows = session.execute(
        select(TaskRow.status, func.count())
        .where(TaskRow.finished_at >= since.astimezone(UTC))
        .group_by(TaskRow.status)
    ).all()
    return {str(status): int(count) for status, count in rows}


def events_per_hour(session: Session, since: datetime) -> dict[str, int]:
    """Agent log events per UTC hour (``YYYY-MM-DD HH``) since ``since``."""
    column = AgentEventRow.created_at
    if session.get_bind().dialect.name == "postgresql":
        hour = func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    else:
        hour = func.strftime("%Y-%m-%d %H", column)
    rows = session.execute(
        select(hour, func.count()).where(column >= since.astimezone(UTC)).group_by(hour)
    ).all()
    return {str(key): int(count) for key, count in rows if key is not None}


def task_labels(session: Session, task_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(title, runtime) by task id (deleted tasks included)."""
    if not task_ids:
        return {}
    rows = session.execute(
        select(TaskRow.id, TaskRow.title, TaskRow.runtime).where(TaskRow.id.in_(task_ids))
    ).all()
    return {str(i): (str(t), str(r)) for i, t, r in rows}


Span = tuple[datetime, datetime | None]
"""When something started and ended (None: it has not)."""


def _aware(value: datetime | None) -> datetime | None:
    return ensure_aware(value) if value is not None else None


def run_spans(
    session: Session, since: datetime
) -> list[tuple[datetime, datetime | None, str, str | None]]:
    """(started, ended, status, project id) of every task run that started and had not ended
    before ``since``."""
    since = since.astimezone(UTC)
    rows = session.execute(
        select(RunRow.started_at, RunRow.ended_at, RunRow.status, TaskRow.project_id)
        .outerjoin(TaskRow, TaskRow.id == RunRow.task_id)
        .where(
            RunRow.started_at.is_not(None),
            or_(RunRow.ended_at.is_(None), RunRow.ended_at >= since),
        )
    ).all()
    return [
        (ensure_aware(start), _aware(end), str(status), project)
        for start, end, status, project in rows
        if start is not None
    ]


def workflow_spans(session: Session, since: datetime) -> list[Span]:
    """(started, finished) of each workflow's latest run that had not finished before
    ``since``."""
    since = since.astimezone(UTC)
    rows = session.execute(
        select(WorkflowRow.started_at, WorkflowRow.finished_at).where(
            WorkflowRow.started_at.is_not(None),
            or_(WorkflowRow.finished_at.is_(None), WorkflowRow.finished_at >= since),
        )
    ).all()
    return [(ensure_aware(start), _aware(end)) for start, end in rows if start is not None]


def workflows_running(session: Session) -> int:
    """Workflows whose latest run is running or paused now."""
    query = select(func.count()).select_from(WorkflowRow)
    return int(session.scalar(query.where(WorkflowRow.status.in_(("running", "paused")))) or 0)


def asked_since(session: Session, since: datetime) -> list[datetime]:
    """When each approval card and inbox item created at or after ``since`` was created."""
    since = since.astimezone(UTC)
    cards = session.scalars(
        select(ApprovalRequestRow.created_at).where(ApprovalRequestRow.created_at >= since)
    ).all()
    items = session.scalars(
        select(InboxItemRow.created_at).where(InboxItemRow.created_at >= since)
    ).all()
    return [ensure_aware(at) for at in (*cards, *items)]


def completed_runs(session: Session) -> int:
    """Task runs that ever completed."""
    query = select(func.count()).select_from(RunRow).where(RunRow.status == "completed")
    return int(session.scalar(query) or 0)


def is_empty(session: Session) -> bool:
    """True while the workspace has no task, project or workflow."""
    for query in (
        select(TaskRow.id).where(TaskRow.deleted_at.is_(None)),
        select(ProjectRow.id),
        select(WorkflowRow.id),
    ):
        if session.execute(query.limit(1)).first() is not None:
            return False
    return True
