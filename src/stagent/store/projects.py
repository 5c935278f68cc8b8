"""Repository functions for projects."""

from __future__ import annotations

import functools

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import new_id
from stagent.domain.tasks import Project
from stagent.store import row_values
from stagent.store.tables import ProjectRow, TaskRow


def to_project(row: ProjectRow) -> Project:
    """Map a row to the domain value."""
    return row_values.project_of(functools.partial(getattr, row))


def create(
    session: Session, *, name: str, description: str = "", working_directory: str | None = None
) -> Project:
    """Insert a project; names are unique (`ConflictError` if taken, also when another writer
    takes the name between the check and the insert: the unique index decides)."""
    taken = ConflictError(f"a project named {name!r} already exists", hint="pick another name")
    if session.scalar(select(ProjectRow.id).where(ProjectRow.name == name)):
        raise taken
    row = ProjectRow(
        id=new_id("prj"), name=name, description=description, working_directory=working_directory
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise taken from exc
    return to_project(row)


def get_row(session: Session, ref: str) -> ProjectRow:
    """Find a project by id or by name, or raise `NotFoundError`."""
    row = session.get(ProjectRow, ref) or session.scalar(
        select(ProjectRow).where(ProjectRow.name == ref)
    )
    if row is None:
        raise NotFoundError(
            f"no project with id or name {ref!r}", hint="list projects with `stagent project list`"
        )
    return row


_NAME_OF = select(ProjectRow.name).where(ProjectRow.id == bindparam("project_id"))


def name_of(session: Session, project_id: str) -> str | None:
    """A project's name by id (None if there is none): one column, a statement built once."""
    return session.scalar(_NAME_OF, {"project_id": project_id})


def get(session: Session, ref: str) -> Project:
    """Find a project by id or name."""
    return to_project(get_row(session, ref))


def list_all(session: Session) -> list[Project]:
    """All projects, by name."""
    rows = session.scalars(select(ProjectRow).order_by(ProjectRow.name))
    return [to_project(row) for row in rows]


def task_counts(session: Session) -> dict[str, dict[str, int]]:
    """For each project id, the number of its tasks in each status."""
    query = (
        select(TaskRow.project_id, TaskRow.status, func.count())
        .where(TaskRow.project_id.is_not(None), TaskRow.deleted_at.is_(None))
        .group_by(TaskRow.project_id, TaskRow.status)
    )
    counts: dict[str, dict[str, int]] = {}
    for project_id, status, count in session.execute(query):
        if project_id is not None:
            counts.setdefault(project_id, {})[status] = count
    return counts


def delete(session: Session, ref: str) -> None:
    """Delete a project; its tasks stay, detached from it."""
    session.delete(get_row(session, ref))
