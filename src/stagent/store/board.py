"""What the Board reads, however many tasks there are: each column's newest cards (one
statement for every column), the next older ones of a column or of the table (a keyset page),
and every column's count with and without workflow steps."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from stagent.domain.board import Count, Cursor
from stagent.domain.tasks import Task
from stagent.store.tables import TaskRow, WorkflowStepRow
from stagent.store.tasks import to_task


def _is_step() -> ColumnElement[bool]:
    return exists().where(WorkflowStepRow.task_id == TaskRow.id)


def _live(*, hide_steps: bool) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [TaskRow.deleted_at.is_(None)]
    if hide_steps:
        found.append(~_is_step())
    return found


def counts(session: Session) -> dict[str, Count]:
    """Every status's `Count` (absent statuses left out), in one statement."""
    steps = func.sum(case((_is_step(), 1), else_=0))
    query = (
        select(TaskRow.status, func.count(), steps)
        .where(TaskRow.deleted_at.is_(None))
        .group_by(TaskRow.status)
    )
    return {str(s): Count(int(n), int(k or 0)) for s, n, k in session.execute(query)}


def newest_by_status(session: Session, per_status: int, *, hide_steps: bool) -> list[Task]:
    """The ``per_status`` newest tasks of each status, newest first (one statement)."""
    rank = (
        func.row_number()
        .over(partition_by=TaskRow.status, order_by=(TaskRow.created_at.desc(), TaskRow.id))
        .label("rank")
    )
    ranked = select(TaskRow.id, rank).where(*_live(hide_steps=hide_steps)).subquery()
    query = (
        select(TaskRow)
        .join(ranked, ranked.c.id == TaskRow.id)
        .where(ranked.c.rank <= per_status)
        .order_by(TaskRow.created_at.desc(), TaskRow.id)
    )
    return [to_task(row) for row in session.scalars(query)]


def page(
    session: Session,
    statuses: Collection[str] | None,
    after: Cursor | None,
    limit: int,
    *,
    hide_steps: bool,
) -> tuple[list[Task], int]:
    """Up to ``limit`` tasks of ``statuses`` (None: every status) past ``after`` in the Board's
    order (None: from the newest), and how many are left past them (two statements)."""
    rows = list(session.scalars(_past(statuses, after, hide_steps).limit(limit)))
    found = [to_task(row) for row in rows]
    if len(rows) < limit:
        return found, 0
    last = Cursor(rows[-1].created_at, rows[-1].id)
    left = _past(statuses, last, hide_steps).order_by(None).subquery()
    return found, int(session.scalar(select(func.count()).select_from(left)) or 0)


def _past(
    statuses: Collection[str] | None, after: Cursor | None, hide_steps: bool
) -> Select[TaskRow]:
    query = select(TaskRow).where(*_live(hide_steps=hide_steps))
    if statuses is not None:
        query = query.where(TaskRow.status.in_(list(statuses)))
    if after is not None:
        query = query.where(
            or_(
                TaskRow.created_at < after.created_at,
                and_(TaskRow.created_at == after.created_at, TaskRow.id > after.id),
            )
        )
    return query.order_by(TaskRow.created_at.desc(), TaskRow.id)
