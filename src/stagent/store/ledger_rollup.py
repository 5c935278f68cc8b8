"""Sums of calls read from ``usage_rollup`` (per UTC hour and group, kept by triggers on the
ledger; see `stagent.store.tables.UsageRollupRow`) instead of the ledger's rows.

A filter is served here when the rollup has its columns: time, runtime, model, project, source,
status and the simulated flag, grouped by one of those or by hour. A window that does not start
or end on a whole hour reads the rollup for its whole hours and the ledger's rows for the part
hours at its edges, so the answer is the same as summing rows (`tests/store/test_usage_rollup.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, false, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from stagent.store.ledger import LedgerFilter, Session
from stagent.store.tables import UsageRollupRow

HOUR = 3600
GROUPS = ("hour", "model", "runtime", "project", "source", "status", "simulated")
"""Groupings the rollup can answer."""
CALL_STATUSES = ("completed", "failed", "cancelled")

RowSums = Callable[[LedgerFilter], list[Any]]
"""Sums of the ledger's rows for a filter (the edges of a window)."""


def covers(where: LedgerFilter, by: str | None) -> bool:
    """Whether the rollup can answer ``where`` grouped ``by``."""
    return (
        (by is None or by in GROUPS)
        and where.task_id is None
        and where.cost_source is None
        and (where.model is None or where.model != "")
        and (where.project_id is None or where.project_id != "")
    )


def split(where: LedgerFilter) -> tuple[int | None, int | None, list[LedgerFilter]]:
    """(first hour, hour after the last) the rollup answers for, and filters of the part hours
    at the window's edges that the ledger's rows answer. (None, None, [where]) when the window
    holds no whole hour."""
    since, until = where.since, where.until
    first = end = None
    edges: list[LedgerFilter] = []
    if since is not None:
        start = _floor(since)
        first = _hour(start) + (start != since)
        if start != since:
            edges.append(replace(where, until=_at(first)))
    if until is not None:
        stop = _floor(until)
        end = _hour(stop)
        if stop != until:
            edges.append(replace(where, since=stop))
    if first is not None and end is not None and first >= end:
        return None, None, [where]
    return first, end, edges


def _floor(moment: datetime) -> datetime:
    """The start of the UTC hour ``moment`` is in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour(start: datetime) -> int:
    return int(start.timestamp()) // HOUR


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)


def hour_key(hour: int) -> str:
    """An hour number as the ledger's hour key, ``YYYY-MM-DD HH`` (UTC)."""
    return _at(hour).strftime("%Y-%m-%d %H")


def _conditions(where: LedgerFilter, first: int | None, end: int | None) -> list[Any]:
    table = UsageRollupRow
    found: list[ColumnElement[bool]] = [
        table.status == where.status
        if where.status is not None
        else table.status.in_(CALL_STATUSES)
    ]
    for column, value in (
        (table.runtime, where.runtime),
        (table.model, where.model),
        (table.project_id, where.project_id),
        (table.source, where.source),
    ):
        if value is not None:
            found.append(column == value)
    if where.simulated is not None:
        found.append(table.simulated == (true() if where.simulated else false()))
    if first is not None:
        found.append(table.hour >= first)
    if end is not None:
        found.append(table.hour < end)
    return found


def _sums(only: ColumnElement[bool] | None = None) -> list[Any]:
    table = UsageRollupRow
    columns = (
        table.requests,
        table.input_tokens,
        table.output_tokens,
        table.cache_write_5m_tokens,
        table.cache_write_1h_tokens,
        table.cache_read_tokens,
        table.cost_micros,
        table.unpriced,
    )
    if only is None:
        return [func.coalesce(func.sum(column), 0) for column in columns]
    return [func.coalesce(func.sum(case((only, column), else_=0)), 0) for column in columns]


def _group_column(by: str) -> Any:
    table = UsageRollupRow
    return {
        "hour": table.hour,
        "model": table.model,
        "runtime": table.runtime,
        "project": table.project_id,
        "source": table.source,
        "status": table.status,
        "simulated": table.simulated,
    }[by]


def _key(by: str, value: Any) -> str | None:
    if by == "hour":
        return hour_key(int(value))
    if by in ("model", "project") and value == "":
        return None
    return str(value)


def grouped(
    session: Session, where: LedgerFilter, by: str | None, first: int | None, end: int | None
) -> list[tuple[str | None, list[int]]]:
    """(group key, sums) of the rollup's rows for ``where`` between hours ``first`` and ``end``
    (sums: requests, tokens by category, cost, unpriced calls)."""
    conditions = _conditions(where, first, end)
    if by is None:
        row = session.execute(select(*_sums()).where(*conditions)).one()
        return [(None, [int(v or 0) for v in row])]
    column = _group_column(by)
    query = (
        select(column, *_sums())
        .where(*conditions)
        .group_by(column)
        .having(func.sum(UsageRollupRow.requests) > 0)
    )
    return [
        (_key(by, key), [int(v or 0) for v in values]) for key, *values in session.execute(query)
    ]


def split_by_flag(
    session: Session, where: LedgerFilter, first: int | None, end: int | None
) -> tuple[list[int], list[int]]:
    """(real calls' sums, simulated calls' sums) for ``where`` between ``first`` and ``end``."""
    table = UsageRollupRow
    sums = [*_sums(table.simulated == false()), *_sums(table.simulated == true())]
    row = [
        int(v or 0)
        for v in session.execute(select(*sums).where(*_conditions(where, first, end))).one()
    ]
    half = len(row) // 2
    return row[:half], row[half:]


def merge(groups: Sequence[tuple[str | None, list[int]]]) -> dict[str | None, list[int]]:
    """Sums added up per key."""
    merged: dict[str | None, list[int]] = {}
    for key, values in groups:
        found = merged.get(key)
        merged[key] = (
            values if found is None else [a + b for a, b in zip(found, values, strict=True)]
        )
    return merged
