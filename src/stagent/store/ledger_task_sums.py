"""Per-task sums of a window's calls, read from two small indexes instead of every row.

A task's calls are in ``ix_usage_ledger_task_sums`` (``task_id IS NOT NULL``, covering what the
sums read: migration 0027); imported hand-run sessions, the bulk of a large ledger, are not.
Their part is the window's total (the rollup's) less the tasks'. Estimated calls (a cost over
estimated tokens or with a fallback price) carry a note: they are counted per task, the
untasked ones under None, from ``ix_usage_ledger_noted``.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, cast

from sqlalchemy import func, literal_column, or_, select, type_coerce
from sqlalchemy.sql.elements import ColumnElement

from stagent.domain.ledger import LedgerFilter
from stagent.store.ledger import Session, equalities
from stagent.store.ledger_metrics import Bucket, call_sums, is_call
from stagent.store.tables import UsageLedgerRow
from stagent.store.tables.base import Timestamp


def _window(session: Session, where: LedgerFilter) -> list[ColumnElement[bool]]:
    """``where``'s conditions, its window on ``finished_at || ''`` on SQLite: that keeps the
    planner off the time index (a window of most rows read each row through it, then sorted
    them by task) and on the partial index the query names (its order is the task's)."""
    table = UsageLedgerRow
    found = equalities(where, table)
    at: Any = table.finished_at
    if session.get_bind().dialect.name == "sqlite":
        at = type_coerce(at.op("||")(literal_column("''")), Timestamp)
    if where.since is not None:
        found.append(at >= where.since.astimezone(UTC))
    if where.until is not None:
        found.append(at < where.until.astimezone(UTC))
    return found


Sums = tuple[int, int, int, int, int, int, int, int]
"""Requests, tokens by category (input, output, 5 min and 1 h cache writes, cache reads), cost
in micro-USD, unpriced calls: `Bucket`'s fields before ``estimated``."""


def _task_rows(session: Session, where: LedgerFilter) -> list[tuple[str, Sums]]:
    """Sums per task of the task rows matching ``where``: one read of the covering index."""
    table = UsageLedgerRow
    sums = call_sums()
    query = (
        select(table.task_id, *sums)
        .where(table.task_id.is_not(None), *_window(session, where), is_call(session))
        .group_by(table.task_id)
    )
    rows = session.execute(query)
    return [(str(row[0]), cast(Sums, tuple(int(v or 0) for v in row[1:]))) for row in rows]


def _estimated(session: Session, where: LedgerFilter) -> dict[str | None, int]:
    """Estimated calls matching ``where`` per task (None: without a task). Every such row has a
    note (``ESTIMATED: ...``, the fallback prices), so only noted rows are read."""
    table = UsageLedgerRow
    estimated = or_(
        table.cost_source == "estimated",
        (table.cost_source == "computed") & table.note.is_not(None),
    )
    query = (
        select(table.task_id, func.count())
        .where(table.note.is_not(None), *_window(session, where), is_call(session), estimated)
        .group_by(table.task_id)
    )
    return {None if key is None else str(key): int(n) for key, n in session.execute(query).all()}


def task_sums(session: Session, where: LedgerFilter, total: Bucket) -> list[Bucket]:
    """Sums of the calls matching ``where`` per task, estimated rows counted, and one bucket
    (key None) for the calls without a task if there are any; ``total`` is the sum of every
    call matching ``where`` (`ledger_metrics.aggregate`: the rollup's)."""
    estimated = _estimated(session, where)
    rows = _task_rows(session, where)
    found = [Bucket(key, *sums, estimated.get(key, 0)) for key, sums in rows]
    tasked = [sum(column) for column in zip(*(sums for _, sums in rows), strict=True)] or [0] * 8
    whole = (
        total.requests,
        total.input_tokens,
        total.output_tokens,
        total.cache_write_5m_tokens,
        total.cache_write_1h_tokens,
        total.cache_read_tokens,
        total.cost_micros,
        total.unpriced,
    )
    rest = cast(
        Sums,
        tuple(all_calls - task_calls for all_calls, task_calls in zip(whole, tasked, strict=True)),
    )
    if rest[0] > 0:
        found.append(Bucket(None, *rest, estimated.get(None, 0)))
    return found
