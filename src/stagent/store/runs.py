"""Repository functions for runs (records of one execution each). State changes go through
`stagent.store.lifecycle`; this module reads and creates."""

from __future__ import annotations

import functools

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stagent.domain.errors import NotFoundError
from stagent.domain.ids import new_id
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.store import row_values
from stagent.store.ledger import core
from stagent.store.tables import RunRow, UsageLedgerRow

SPENT_STATUSES = ("completed", "failed", "cancelled")
"""Ledger row statuses that are real spend (not reservations, releases or blocked calls)."""


def to_run(row: RunRow) -> Run:
    """Map a row to the domain value."""
    return row_values.run_of(functools.partial(getattr, row))


def create(
    session: Session,
    *,
    subject: Subject,
    task_id: str | None,
    number: int,
    options: RunOptions,
    workflow_id: str | None = None,
) -> RunRow:
    """Insert a queued run."""
    row = RunRow(
        id=new_id("run"),
        subject_kind=subject.kind,
        subject_id=subject.id,
        task_id=task_id,
        number=number,
        runtime=options.runtime,
        options=options.stored(),
        status=RunStatus.QUEUED.value,
        attempt=0,
        waiting_on=[],
        cost_micros=0,
        workflow_id=workflow_id,
    )
    session.add(row)
    session.flush()
    return row


def get_row(session: Session, run_id: str, *, for_update: bool = False) -> RunRow:
    """Load a run row or raise `NotFoundError`."""
    query = select(RunRow).where(RunRow.id == run_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"no run with id {run_id!r}", hint="see a task's runs on its page")
    return row


def get(session: Session, run_id: str) -> Run:
    """One run."""
    return to_run(get_row(session, run_id))


def find_row(
    session: Session, task_id: str, number: int, *, for_update: bool = False
) -> RunRow | None:
    """Run ``number`` of a task, if it exists."""
    query = select(RunRow).where(RunRow.task_id == task_id, RunRow.number == number)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def latest_row(session: Session, task_id: str, *, for_update: bool = False) -> RunRow | None:
    """A task's newest run, if it ever ran."""
    query = select(RunRow).where(RunRow.task_id == task_id).order_by(RunRow.number.desc()).limit(1)
    if for_update:
        query = query.with_for_update()
    return session.scalar(query)


def for_task(session: Session, task_id: str) -> list[Run]:
    """A task's runs, oldest first (its history)."""
    query = select(RunRow).where(RunRow.task_id == task_id).order_by(RunRow.number)
    return [to_run(row) for row in session.scalars(query)]


def list_runs(session: Session, *, status: RunStatus | None = None, limit: int = 200) -> list[Run]:
    """Runs, newest first."""
    query = select(RunRow).order_by(RunRow.created_at.desc(), RunRow.id).limit(limit)
    if status is not None:
        query = query.where(RunRow.status == status.value)
    return [to_run(row) for row in session.scalars(query)]


def spent(session: Session, run_id: str) -> int:
    """What a run's usage cost so far (micro-USD)."""
    query = select(func.coalesce(func.sum(UsageLedgerRow.cost_micros), 0)).where(
        UsageLedgerRow.run_id == run_id, UsageLedgerRow.status.in_(SPENT_STATUSES)
    )
    return int(core(session).scalar(query) or 0)
