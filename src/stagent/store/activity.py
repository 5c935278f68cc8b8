"""Read-only queries for the Monitor: what is running, how runs ended, events per hour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select

from stagent.domain.ids import ensure_aware
from stagent.store.ledger import Session
from stagent.store.tables import AgentEventRow, ProjectRow, TaskRow


@dataclass(frozen=True, slots=True)
class ActiveTask:
    """A task running now."""

    id: str
    title: str
    runtime: str
    project: str | None
    started_at: datetime | None


def running(session: Session) -> list[ActiveTask]:
    """Tasks running now, longest-running first."""
    rows = session.execute(
        select(TaskRow.id, TaskRow.title, TaskRow.runtime, ProjectRow.name, TaskRow.started_at)
        .outerjoin(ProjectRow, ProjectRow.id == TaskRow.project_id)
        .where(TaskRow.status == "running", TaskRow.deleted_at.is_(None))
        .order_by(TaskRow.started_at)
    ).all()
    return [
        ActiveTask(str(i), str(t), str(r), p, ensure_aware(s) if s else None)
        for i, t, r, p, s in rows
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
