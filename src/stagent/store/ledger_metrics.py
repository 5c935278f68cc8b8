"""Aggregate queries over the ledger: one GROUP BY per question, computed in the database.

Only rows that are provider calls count (status ``completed``, ``failed`` or ``cancelled``);
reservations, released reservations and blocked calls are not calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, false, func, literal, select, true
from sqlalchemy.sql.elements import ColumnElement

from stagent.store import ledger_rollup as rollup
from stagent.store.ledger import LedgerFilter, Session
from stagent.store.ledger import conditions as filter_conditions
from stagent.store.tables import (
    ProjectRow,
    ScheduleFiringRow,
    ScheduleRow,
    TaskRow,
    UsageLedgerRow,
    WorkflowRow,
    WorkflowStepRow,
)

CALL_STATUSES = ("completed", "failed", "cancelled")
GROUPS = (
    "hour", "minute", "model", "runtime", "project", "source", "task", "status", "session",
    "simulated",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Bucket:
    """Sums over the rows of one group."""

    key: str | None
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    cost_micros: int = 0
    unpriced: int = 0
    estimated: int = 0
    """Rows whose cost is a lower bound or used a fallback price (a note was written)."""

    @property
    def total_tokens(self) -> int:
        """Every token."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )

    def plus(self, other: Bucket, key: str | None = None) -> Bucket:
        """The sum of two buckets (under ``key``)."""
        return Bucket(
            key if key is not None else self.key,
            self.requests + other.requests,
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_5m_tokens + other.cache_write_5m_tokens,
            self.cache_write_1h_tokens + other.cache_write_1h_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cost_micros + other.cost_micros,
            self.unpriced + other.unpriced,
            self.estimated + other.estimated,
        )


def _group_column(session: Session, by: str) -> ColumnElement[Any]:
    table = UsageLedgerRow
    if by in ("hour", "minute"):
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":  # a timestamp; `_key` formats it once per group
            return func.date_trunc(by, func.timezone("UTC", table.finished_at))
        # SQLite keeps UTC timestamps as "YYYY-MM-DD HH:MM:SS.ffffff" text: a prefix is the
        # bucket (several times cheaper than strftime over a million rows)
        return func.substr(table.finished_at, 1, 13 if by == "hour" else 16)
    columns: dict[str, Any] = {
        "model": table.model,
        "runtime": table.runtime,
        "project": table.project_id,
        "source": table.source,
        "task": table.task_id,
        "status": table.status,
        "session": table.session_id,
        "simulated": table.simulated,
    }
    return columns[by]


def aggregate(
    session: Session,
    where: LedgerFilter,
    by: str | None = None,
    *,
    estimated: bool = False,
    rows: bool = False,
) -> list[Bucket]:
    """Sums of the calls matching ``where``, in one bucket or grouped ``by`` (one of
    `GROUPS`; ``hour`` / ``minute`` keys are UTC ``YYYY-MM-DD HH[:MM]`` text).

    Read from the hourly rollup (`stagent.store.ledger_rollup`) when it has the filter's and
    the grouping's columns, else from the rows (``rows=True`` forces that): index-only (the
    summary index) unless ``estimated`` also counts rows whose computed cost carries a note (a
    fallback price, an ignored mode, a missing count), which reads the rows.
    """
    if rows or estimated or not rollup.covers(where, by):
        return _row_aggregate(session, where, by, estimated=estimated)
    first, end, edges = rollup.split(where)
    if first is None and end is None and edges:
        return _row_aggregate(session, where, by)
    parts = rollup.grouped(session, where, by, first, end)
    for edge in edges:
        parts += [(b.key, _values(b)) for b in _row_aggregate(session, edge, by)]
    merged = rollup.merge(parts)
    if by is None:
        return [Bucket(None, *merged[None])]
    return [Bucket(key, *values) for key, values in merged.items() if values[0]]


def _values(bucket: Bucket) -> list[int]:
    """A bucket's sums in the rollup's order (requests, tokens by category, cost, unpriced)."""
    return [
        bucket.requests,
        bucket.input_tokens,
        bucket.output_tokens,
        bucket.cache_write_5m_tokens,
        bucket.cache_write_1h_tokens,
        bucket.cache_read_tokens,
        bucket.cost_micros,
        bucket.unpriced,
    ]


def _row_aggregate(
    session: Session, where: LedgerFilter, by: str | None, *, estimated: bool = False
) -> list[Bucket]:
    table = UsageLedgerRow
    sums = (
        func.count(),
        func.coalesce(func.sum(table.input_tokens), 0),
        func.coalesce(func.sum(table.output_tokens), 0),
        func.coalesce(func.sum(table.cache_write_5m_tokens), 0),
        func.coalesce(func.sum(table.cache_write_1h_tokens), 0),
        func.coalesce(func.sum(table.cache_read_tokens), 0),
        func.coalesce(func.sum(table.cost_micros), 0),
        func.coalesce(func.sum(case((table.cost_source == "unpriced", 1), else_=0)), 0),
        func.coalesce(
            func.sum(
                case(((table.cost_source == "computed") & table.note.is_not(None), 1), else_=0)
            ),
            0,
        )
        if estimated
        else literal(0),
    )
    conditions = [*filter_conditions(where), table.status.in_(CALL_STATUSES)]
    if by is None:
        row = session.execute(select(*sums).where(*conditions)).one()
        return [Bucket(None, *(int(v or 0) for v in row))]
    column = _group_column(session, by)
    query = select(column, *sums).where(*conditions).group_by(column)
    pattern = "%Y-%m-%d %H" if by == "hour" else "%Y-%m-%d %H:%M"
    return [
        Bucket(_key(key, pattern), *(int(v or 0) for v in values))
        for key, *values in session.execute(query).all()
    ]


def aggregate_split(
    session: Session, where: LedgerFilter, *, rows: bool = False
) -> tuple[Bucket, Bucket]:
    """(real calls, simulated calls) matching ``where``: from the hourly rollup when it has the
    filter's columns (plus the rows of part hours at the window's edges), else in one pass over
    the summary index (``rows=True`` forces that). Conditional sums, not a GROUP BY on the flag
    (which sorts every row in a temporary b-tree first on SQLite)."""
    if rows or not rollup.covers(where, None):
        return _row_split(session, where)
    first, end, edges = rollup.split(where)
    if first is None and end is None and edges:
        return _row_split(session, where)
    real, simulated = rollup.split_by_flag(session, where, first, end)
    for edge in edges:
        edge_real, edge_simulated = _row_split(session, edge)
        real = [a + b for a, b in zip(real, _values(edge_real), strict=True)]
        simulated = [a + b for a, b in zip(simulated, _values(edge_simulated), strict=True)]
    return Bucket(None, *real), Bucket(None, *simulated)


def _row_split(session: Session, where: LedgerFilter) -> tuple[Bucket, Bucket]:
    table = UsageLedgerRow
    columns = (
        literal(1),
        table.input_tokens,
        table.output_tokens,
        table.cache_write_5m_tokens,
        table.cache_write_1h_tokens,
        table.cache_read_tokens,
        table.cost_micros,
        case((table.cost_source == "unpriced", 1), else_=0),
    )
    sums = [
        func.coalesce(func.sum(case((table.simulated == flag, column), else_=0)), 0)
        for flag in (false(), true())
        for column in columns
    ]
    conditions = [*filter_conditions(where), table.status.in_(CALL_STATUSES)]
    row = [int(v or 0) for v in session.execute(select(*sums).where(*conditions)).one()]
    size = len(columns)

    def bucket(values: list[int]) -> Bucket:
        requests, inputs, outputs, write_5m, write_1h, read, cost, unpriced = values
        return Bucket(None, requests, inputs, outputs, write_5m, write_1h, read, cost, unpriced)

    return bucket(row[:size]), bucket(row[size:])


def _key(value: object, pattern: str) -> str | None:
    """A group key as text (PostgreSQL's truncated timestamps as ``YYYY-MM-DD HH[:MM]``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime(pattern)
    return str(value)


def project_names(session: Session) -> dict[str, str]:
    """Project names by id."""
    return {
        str(pid): str(name) for pid, name in session.execute(select(ProjectRow.id, ProjectRow.name))
    }


def task_titles(session: Session, task_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(title, runtime) of tasks by id."""
    if not task_ids:
        return {}
    rows = session.execute(
        select(TaskRow.id, TaskRow.title, TaskRow.runtime).where(TaskRow.id.in_(task_ids))
    )
    return {str(tid): (str(title), str(runtime)) for tid, title, runtime in rows}


@dataclass(frozen=True, slots=True)
class Attribution:
    """What a task ran as: its profile, the workflow run it was a step of, the schedule firing
    that made it (None where it was not)."""

    profile: str | None = None
    workflow_id: str | None = None
    workflow: str | None = None
    workflow_run: int | None = None
    schedule_id: str | None = None
    schedule: str | None = None
    firing_id: str | None = None


def task_attribution(session: Session, task_ids: list[str]) -> dict[str, Attribution]:
    """The `Attribution` of each task in ``task_ids`` (deleted tasks included)."""
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(task_ids), 500):
        chunk = task_ids[start : start + 500]
        for tid, profile in session.execute(
            select(TaskRow.id, TaskRow.profile).where(TaskRow.id.in_(chunk))
        ):
            found.setdefault(str(tid), {})["profile"] = profile
        for tid, wid, name, number in session.execute(
            select(
                WorkflowStepRow.task_id,
                WorkflowRow.id,
                WorkflowRow.name,
                WorkflowStepRow.run_number,
            )
            .join(WorkflowRow, WorkflowRow.id == WorkflowStepRow.workflow_id)
            .where(WorkflowStepRow.task_id.in_(chunk))
        ):
            found.setdefault(str(tid), {}).update(
                workflow_id=str(wid), workflow=str(name), workflow_run=int(number)
            )
        for tid, sid, name, fid in session.execute(
            select(
                ScheduleFiringRow.task_id, ScheduleRow.id, ScheduleRow.name, ScheduleFiringRow.id
            )
            .join(ScheduleRow, ScheduleRow.id == ScheduleFiringRow.schedule_id)
            .where(ScheduleFiringRow.task_id.in_(chunk))
        ):
            found.setdefault(str(tid), {}).update(
                schedule_id=str(sid), schedule=str(name), firing_id=str(fid)
            )
    return {tid: Attribution(**values) for tid, values in found.items()}
