"""Repository functions for runs (records of one execution each). State changes go through
`stagent.store.lifecycle`; this module reads and creates."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, case, func, insert, select
from sqlalchemy.orm import Session

from stagent.domain.errors import NotFoundError
from stagent.domain.ids import new_id, utcnow
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.store import row_values
from stagent.store.driver import Prebuilt
from stagent.store.ledger import COMPLETED, RESERVED, core
from stagent.store.row_values import stored_options
from stagent.store.tables import RunRow, UsageLedgerRow

SPENT_STATUSES = ("completed", "failed", "cancelled")
"""Ledger row statuses that are real spend (not reservations, releases or blocked calls)."""


def to_run(row: RunRow) -> Run:
    """Map a row to the domain value."""
    return row_values.run_of(functools.partial(getattr, row))


_RUNS = cast(Table, RunRow.__table__)
INSERT = Prebuilt(insert(_RUNS))
"""Built once; its parameters are `new_run`'s values (on SQLite sent straight to the driver)."""


def insert_queued(
    session: Session,
    *,
    subject: Subject,
    task_id: str | None,
    number: int,
    options: RunOptions,
    workflow_id: str | None = None,
    started: datetime | None = None,
) -> Run:
    """Insert a queued run with one Core statement (the hot path of queueing work; no ORM
    object) and return it. ``started``: the run is claimed as it is queued (`stagent.store.
    lifecycle.start_run`): inserted ``running``, attempt 1, started then."""
    run, values = new_run(subject, task_id, number, options, workflow_id, started)
    INSERT.execute(core(session), values)
    return run


def new_run(
    subject: Subject,
    task_id: str | None,
    number: int,
    options: RunOptions,
    workflow_id: str | None,
    started: datetime | None,
    stored: dict[str, Any] | None = None,
) -> tuple[Run, dict[str, Any]]:
    """`insert_queued`'s run and its row's values, not inserted (`INSERT` takes them).
    ``stored``: ``options.stored()`` where the caller has it already, ``options`` then being
    the shared value `stored_options` gives for it (a new task's own options: its row's
    ``options`` value, one JSON for both rows): neither is computed again."""
    shared = stored is not None
    if stored is None:
        stored = options.stored()
    run = Run(
        id=new_id("run"),
        subject=subject,
        task_id=task_id,
        number=number,
        runtime=options.runtime,
        options=options if shared else stored_options(options.runtime, stored),
        status=RunStatus.QUEUED if started is None else RunStatus.RUNNING,
        attempt=0 if started is None else 1,
        waiting_on=(),
        stop_reason=None,
        result=None,
        error=None,
        cost_micros=0,
        workflow_id=workflow_id,
        created_at=utcnow(),
        started_at=started,
        ended_at=None,
    )
    values: dict[str, Any] = {
        "id": run.id,
        "subject_kind": subject.kind,
        "subject_id": subject.id,
        "task_id": task_id,
        "number": number,
        "runtime": options.runtime,
        "options": stored,
        "status": run.status.value,
        "attempt": run.attempt,
        "waiting_on": [],
        "cost_micros": 0,
        "workflow_id": workflow_id,
        "created_at": run.created_at,
        "started_at": started,
    }
    return run, values


def create(
    session: Session,
    *,
    subject: Subject,
    task_id: str | None,
    number: int,
    options: RunOptions,
    workflow_id: str | None = None,
) -> RunRow:
    """Insert a queued run (as `insert_queued` does) and return its row, locked, for a caller
    that changes it next in this transaction."""
    run = insert_queued(
        session,
        subject=subject,
        task_id=task_id,
        number=number,
        options=options,
        workflow_id=workflow_id,
    )
    return get_row(session, run.id, for_update=True)


def _locked(query: Select[RunRow], for_update: bool) -> Select[RunRow]:
    return query.with_for_update() if for_update else query


_BY_ID = select(RunRow).where(RunRow.id == bindparam("run_id"))
_BY_NUMBER = select(RunRow).where(
    RunRow.task_id == bindparam("task_id"), RunRow.number == bindparam("number")
)
_LATEST = (
    select(RunRow)
    .where(RunRow.task_id == bindparam("task_id"))
    .order_by(RunRow.number.desc())
    .limit(1)
)
_QUERIES = {
    (name, for_update): _locked(query, for_update)
    for name, query in (("id", _BY_ID), ("number", _BY_NUMBER), ("latest", _LATEST))
    for for_update in (False, True)
}
"""Built once: building a statement costs more CPU than running it on the hot path."""


def get_row(session: Session, run_id: str, *, for_update: bool = False) -> RunRow:
    """Load a run row or raise `NotFoundError`."""
    row = session.scalar(_QUERIES[("id", for_update)], {"run_id": run_id})
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
    query = _QUERIES[("number", for_update)]
    return session.scalar(query, {"task_id": task_id, "number": number})


def latest_row(session: Session, task_id: str, *, for_update: bool = False) -> RunRow | None:
    """A task's newest run, if it ever ran."""
    return session.scalar(_QUERIES[("latest", for_update)], {"task_id": task_id})


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


_SPENT = select(func.coalesce(func.sum(UsageLedgerRow.cost_micros), 0)).where(
    UsageLedgerRow.run_id == bindparam("run_id"), UsageLedgerRow.status.in_(SPENT_STATUSES)
)


def spent(session: Session, run_id: str) -> int:
    """What a run's usage cost so far (micro-USD)."""
    return int(core(session).scalar(_SPENT, {"run_id": run_id}) or 0)


@dataclass(frozen=True, slots=True)
class Booked:
    """What a run's ledger rows hold when it ends: its spend (micro-USD), and how many rows are
    reservations and completed calls (the ones its end must release or re-mark)."""

    spent: int
    reserved: int
    completed: int


_LEDGER = UsageLedgerRow
BOOKED = select(
    func.coalesce(
        func.sum(case((_LEDGER.status.in_(SPENT_STATUSES), _LEDGER.cost_micros), else_=0)), 0
    ),
    func.count(case((_LEDGER.status == RESERVED, 1))),
    func.count(case((_LEDGER.status == COMPLETED, 1))),
).where(_LEDGER.run_id == bindparam("run_id"))
"""A run's ledger rows summed: spend, reservations, completed calls (one row, whatever the run
booked; `run_state.end_state` reads it with the run on SQLite)."""


def booked(session: Session, run_id: str) -> Booked:
    """A run's ledger rows in one indexed read (by ``run_id``)."""
    spent_micros, reserved, completed = core(session).execute(BOOKED, {"run_id": run_id}).one()
    return Booked(int(spent_micros or 0), int(reserved or 0), int(completed or 0))
