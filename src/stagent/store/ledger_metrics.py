"""Aggregate queries over the ledger: one GROUP BY per question, computed in the database.

Only rows that are provider calls count (status ``completed``, ``failed`` or ``cancelled``);
reservations, released reservations and blocked calls are not calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from sqlalchemy import and_, case, false, func, literal, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from stagent.store import ledger_rollup as rollup
from stagent.store.id_lists import among
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
    "hour", "day", "minute", "model", "runtime", "project", "source", "task", "status",
    "session", "simulated",
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
    """Rows whose cost is a lower bound or used a fallback price (a note was written), or whose
    tokens are an estimate (``cost_source`` ``estimated``)."""

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


def is_call(session: Session) -> ColumnElement[bool]:
    """Rows that are provider calls. On SQLite the status is read through an expression
    (``status || ''``) so the planner never picks the status index for it: nearly every row is
    a call, yet without statistics SQLite took that index over the time range (the last hour by
    minute read every call of a 200k-row ledger, 37 ms, where ``finished_at`` reads 280)."""
    status = UsageLedgerRow.status
    if session.get_bind().dialect.name == "sqlite":
        return status.concat("").in_(CALL_STATUSES)
    return status.in_(CALL_STATUSES)


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
    zone: tzinfo = UTC,
) -> list[Bucket]:
    """Sums of the calls matching ``where``, in one bucket or grouped ``by`` (one of
    `GROUPS`, or ``day``: local days of ``zone``; ``hour`` / ``minute`` keys are UTC
    ``YYYY-MM-DD HH[:MM]`` text, ``day`` keys ISO dates).

    Read from the rollup (`stagent.store.ledger_rollup`: whole days, then hours) when it has
    the filter's and the grouping's columns, else from the rows (``rows=True`` forces that):
    index-only (the summary index) unless ``estimated`` also counts rows whose computed cost
    carries a note (a fallback price, an ignored mode, a missing count), which reads the rows.
    """
    if rows or estimated or not rollup.covers(where, by):
        if by == "day":
            return _days(_row_aggregate(session, where, "hour"), zone)
        return _row_aggregate(session, where, by, estimated=estimated)
    merged: dict[str | None, list[int]] = {}
    for (key, _flag), values in _rollup_sums(session, where, by, zone).items():
        kept = merged.get(key)
        merged[key] = values if kept is None else [a + b for a, b in zip(kept, values, strict=True)]
    if by is None:
        return [Bucket(None, *merged.get(None, [0] * 8))]
    return [Bucket(key, *values) for key, values in merged.items() if values[0]]


@dataclass(frozen=True, slots=True)
class Split:
    """Sums of the real and of the simulated calls of a filter: totals and groups."""

    real: Bucket
    simulated: Bucket
    real_groups: list[Bucket]
    simulated_groups: list[Bucket]


def summarize(
    session: Session,
    where: LedgerFilter,
    by: str | None = None,
    *,
    zone: tzinfo = UTC,
    rows: bool = False,
) -> Split:
    """Totals and groups ``by`` (as in `aggregate`) of the real and of the simulated calls
    matching ``where``, from one grouped scan of the rollup (plus the rows of part hours at the
    window's edges, if any); from the rows when the rollup lacks a column (or ``rows``)."""
    if rows or not rollup.covers(where, by):
        return _row_summary(session, where, by, zone)
    found = _rollup_sums(session, where, by, zone)
    sides: dict[bool, list[Bucket]] = {False: [], True: []}
    totals = {False: [0] * 8, True: [0] * 8}
    for (key, flag), values in found.items():
        if not values[0]:
            continue
        sides[flag].append(Bucket(key, *values))
        totals[flag] = [a + b for a, b in zip(totals[flag], values, strict=True)]
    return Split(
        Bucket(None, *totals[False]),
        Bucket(None, *totals[True]),
        sides[False] if by is not None else [],
        sides[True] if by is not None else [],
    )


def _rollup_sums(
    session: Session, where: LedgerFilter, by: str | None, zone: tzinfo
) -> rollup.Grouped:
    """Sums per (key, flag): the rollup's pieces of the window (one statement), the rows of its
    part hours (one more, if it has any)."""
    pieces = rollup.plan(where, days=by != "hour")
    if pieces is None:
        return _row_grouped(session, [where], by, zone)
    found = rollup.grouped(session, where, by, pieces, zone)
    if pieces.edges:
        for key, values in _row_grouped(session, pieces.edges, by, zone).items():
            rollup.add(found, key, values)
    return found


def _row_grouped(
    session: Session, wheres: Sequence[LedgerFilter], by: str | None, zone: tzinfo
) -> rollup.Grouped:
    """Sums of the call rows matching any of ``wheres`` per (key, flag), in one statement."""
    table = UsageLedgerRow
    sums = call_sums()
    keys: list[Any] = [table.simulated]
    if by is not None and by != "simulated":
        keys.insert(0, _group_column(session, "hour" if by == "day" else by))
    matching = or_(*(and_(true(), *filter_conditions(where)) for where in wheres))
    query = select(*keys, *sums).where(matching, is_call(session)).group_by(*keys)
    pattern = "%Y-%m-%d %H" if by in ("hour", "day") else "%Y-%m-%d %H:%M"
    found: rollup.Grouped = {}
    for row in session.execute(query):
        flag = bool(row[len(keys) - 1])
        values = [int(v or 0) for v in row[len(keys) :]]
        if by is None:
            key = None
        elif by == "simulated":
            key = str(flag)
        elif by == "day":
            key = _local_day(row[0], zone)
        else:
            key = _key(row[0], pattern)
        rollup.add(found, (key, flag), values)
    return found


def _local_day(hour: object, zone: tzinfo) -> str:
    """The local ISO day of ``zone`` an hour bucket (SQLite's text, PostgreSQL's timestamp, both
    UTC) starts in."""
    if isinstance(hour, datetime):
        start = hour.replace(tzinfo=UTC)
    else:
        start = datetime.strptime(str(hour), "%Y-%m-%d %H").replace(tzinfo=UTC)
    return start.astimezone(zone).date().isoformat()


def _row_summary(session: Session, where: LedgerFilter, by: str | None, zone: tzinfo) -> Split:
    if by is None:
        real, simulated = _row_split(session, where)
        if where.simulated is not None:
            empty = Bucket(None)
            real, simulated = (empty, simulated) if where.simulated else (real, empty)
        return Split(real, simulated, [], [])
    found = _row_grouped(session, [where], by, zone)
    sides: dict[bool, list[Bucket]] = {False: [], True: []}
    for (key, flag), values in found.items():
        sides[flag].append(Bucket(key, *values))
    return Split(_total(sides[False]), _total(sides[True]), sides[False], sides[True])


def _total(buckets: list[Bucket]) -> Bucket:
    total = Bucket(None)
    for bucket in buckets:
        total = total.plus(bucket, None)
    return total


def _days(hours: list[Bucket], zone: tzinfo) -> list[Bucket]:
    """Hour buckets (``YYYY-MM-DD HH`` UTC keys) summed into local days of ``zone``."""
    days: dict[str, Bucket] = {}
    for bucket in hours:
        if bucket.key is None:
            continue
        start = datetime.strptime(bucket.key, "%Y-%m-%d %H").replace(tzinfo=UTC)
        key = start.astimezone(zone).date().isoformat()
        days[key] = days[key].plus(bucket, key) if key in days else Bucket(key).plus(bucket, key)
    return list(days.values())


def call_sums() -> tuple[Any, ...]:
    """The count, the token and cost sums and the unpriced count of ledger rows, as SELECT
    columns in `Bucket`'s order (without its estimated count)."""
    table = UsageLedgerRow
    return (
        func.count(),
        func.coalesce(func.sum(table.input_tokens), 0),
        func.coalesce(func.sum(table.output_tokens), 0),
        func.coalesce(func.sum(table.cache_write_5m_tokens), 0),
        func.coalesce(func.sum(table.cache_write_1h_tokens), 0),
        func.coalesce(func.sum(table.cache_read_tokens), 0),
        func.coalesce(func.sum(table.cost_micros), 0),
        func.coalesce(func.sum(case((table.cost_source == "unpriced", 1), else_=0)), 0),
    )


def _sum_columns(*, estimated: bool) -> tuple[Any, ...]:
    """A `Bucket`'s sums as SELECT columns (``estimated``: count the estimated rows too)."""
    table = UsageLedgerRow
    return (
        *call_sums(),
        func.coalesce(
            func.sum(
                case(
                    (table.cost_source == "estimated", 1),
                    ((table.cost_source == "computed") & table.note.is_not(None), 1),
                    else_=0,
                )
            ),
            0,
        )
        if estimated
        else literal(0),
    )


def _row_aggregate(
    session: Session, where: LedgerFilter, by: str | None, *, estimated: bool = False
) -> list[Bucket]:
    sums = _sum_columns(estimated=estimated)
    conditions = [*filter_conditions(where), is_call(session)]
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


def per_task(session: Session, task_ids: list[str]) -> dict[str, Bucket]:
    """Sums of every call (real and simulated; estimated rows counted) of each of ``task_ids``,
    in one statement (a task without calls is left out)."""
    if not task_ids:
        return {}
    task = UsageLedgerRow.task_id
    query = (
        select(task, *_sum_columns(estimated=True))
        .where(among(session, task, task_ids), is_call(session))
        .group_by(task)
    )
    return {
        str(key): Bucket(str(key), *(int(v or 0) for v in values))
        for key, *values in session.execute(query).all()
    }


def runtime_hours(session: Session, where: LedgerFilter) -> dict[str, list[Bucket]]:
    """Cost per UTC hour (``YYYY-MM-DD HH`` keys, only ``cost_micros`` set) of each runtime's
    calls matching ``where``: one read of the rollup, one of the rows of its part hours at the
    window's edges if it has any (of the rows alone when the rollup lacks a filter's column)."""
    pieces = rollup.plan(where, days=False) if rollup.covers(where, "hour") else None
    found: dict[tuple[str, str], int] = {}
    edges: Sequence[LedgerFilter] = [where]
    if pieces is not None:
        found = rollup.runtime_hours(session, where, pieces)
        edges = pieces.edges
    if edges:
        table = UsageLedgerRow
        hour = _group_column(session, "hour")
        matching = or_(*(and_(true(), *filter_conditions(edge)) for edge in edges))
        query = (
            select(table.runtime, hour, func.coalesce(func.sum(table.cost_micros), 0))
            .where(matching, is_call(session))
            .group_by(table.runtime, hour)
        )
        for runtime, at, cost in session.execute(query):
            key = (str(runtime), _key(at, "%Y-%m-%d %H") or "")
            found[key] = found.get(key, 0) + int(cost)
    hours: dict[str, list[Bucket]] = {}
    for (runtime, at), cost in found.items():
        hours.setdefault(runtime, []).append(Bucket(at, cost_micros=cost))
    return hours


def aggregate_split(
    session: Session, where: LedgerFilter, *, rows: bool = False
) -> tuple[Bucket, Bucket]:
    """(real calls, simulated calls) matching ``where``: `summarize`'s totals (one scan of the
    rollup, or of the summary index with ``rows=True``)."""
    if rows or not rollup.covers(where, None):
        return _row_split(session, where)
    split = summarize(session, where)
    return split.real, split.simulated


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
    conditions = [*filter_conditions(where), is_call(session)]
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
    return task_details(session, task_ids)[0]


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
    return task_details(session, task_ids)[1]


def task_details(
    session: Session, task_ids: list[str]
) -> tuple[dict[str, tuple[str, str]], dict[str, Attribution]]:
    """`task_titles` and `task_attribution` of ``task_ids`` in three statements, however many
    tasks (the ids go as one parameter: `stagent.store.id_lists`)."""
    if not task_ids:
        return {}, {}
    titles: dict[str, tuple[str, str]] = {}
    found: dict[str, dict[str, Any]] = {}
    for tid, title, runtime, profile in session.execute(
        select(TaskRow.id, TaskRow.title, TaskRow.runtime, TaskRow.profile).where(
            among(session, TaskRow.id, task_ids)
        )
    ):
        titles[str(tid)] = (str(title), str(runtime))
        found[str(tid)] = {"profile": profile}
    for tid, wid, name, number in session.execute(
        select(
            WorkflowStepRow.task_id,
            WorkflowRow.id,
            WorkflowRow.name,
            WorkflowStepRow.run_number,
        )
        .join(WorkflowRow, WorkflowRow.id == WorkflowStepRow.workflow_id)
        .where(among(session, WorkflowStepRow.task_id, task_ids))
    ):
        found.setdefault(str(tid), {}).update(
            workflow_id=str(wid), workflow=str(name), workflow_run=int(number)
        )
    for tid, sid, name, fid in session.execute(
        select(ScheduleFiringRow.task_id, ScheduleRow.id, ScheduleRow.name, ScheduleFiringRow.id)
        .join(ScheduleRow, ScheduleRow.id == ScheduleFiringRow.schedule_id)
        .where(among(session, ScheduleFiringRow.task_id, task_ids))
    ):
        found.setdefault(str(tid), {}).update(
            schedule_id=str(sid), schedule=str(name), firing_id=str(fid)
        )
    return titles, {tid: Attribution(**values) for tid, values in found.items()}
