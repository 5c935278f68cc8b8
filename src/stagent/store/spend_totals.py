"""Window spend from the running totals (``spend_totals``, kept by triggers on the ledger), and
the one statement a budget admission reads.

A window's spend is two primary-key range scans of ``spend_totals``: quarter-hour buckets from
the window's start to the first whole UTC day, then day buckets. Its cost follows the window's
length, not the number of ledger rows. A window that does not start on a quarter hour (no real
time zone's midnight) cannot be read this way: callers then sum ledger rows.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, and_, bindparam, false, func, literal_column, or_, select
from sqlalchemy.orm import Session

from stagent.store.tables import BudgetWindowRow, SpendTotalRow, UsageLedgerRow

QUARTER, DAY = 900, 86400
"""The grains of ``spend_totals`` buckets (seconds)."""

_TEXT_PARAMS = ("scope", "ref", "period", "key")
_ZERO = literal_column("0", Integer)
"""Constants are written into the SQL, not bound: fewer parameters to build per execution."""


def _text(value: str) -> Any:
    return literal_column(f"'{value}'", String)


def _number(value: int) -> Any:
    return literal_column(str(value), Integer)


def window_params(scope: str, ref: str, since: datetime) -> dict[str, Any] | None:
    """Where the spend of the window starting at ``since`` lies in ``spend_totals``, or None
    if it does not start on a quarter hour."""
    stamp = since.timestamp()
    start = int(stamp)
    if start % QUARTER or stamp != start:
        return None
    first_day = -(-start // DAY)
    return {
        "scope": scope,
        "ref": "" if scope == "overall" else ref,
        "q_from": start // QUARTER,
        "q_to": first_day * (DAY // QUARTER),
        "d_from": first_day,
    }


def _param(i: int, name: str, values: dict[str, Any] | None) -> Any:
    """Window ``i``'s parameter ``name``: filled in from ``values``, else bound as
    ``<name><i>`` (so one prepared statement serves every admission)."""
    if values is not None:
        return values[name]
    if name == "since":
        return bindparam(f"since{i}", type_=UsageLedgerRow.finished_at.type)
    return bindparam(f"{name}{i}", type_=String if name in _TEXT_PARAMS else Integer)


def window_sum(i: int, values: dict[str, Any] | None = None) -> Any:
    """Window ``i``'s spend as a scalar expression (see `window_params` for ``values``)."""
    totals = SpendTotalRow
    scope = and_(totals.scope == _param(i, "scope", values), totals.ref == _param(i, "ref", values))
    quarters = and_(
        totals.grain == _number(QUARTER),
        totals.bucket >= _param(i, "q_from", values),
        totals.bucket < _param(i, "q_to", values),
    )
    days = and_(totals.grain == _number(DAY), totals.bucket >= _param(i, "d_from", values))
    parts = [
        select(func.coalesce(func.sum(totals.total_micros), _ZERO)).where(scope, part)
        for part in (quarters, days)
    ]
    return parts[0].scalar_subquery() + parts[1].scalar_subquery()


@functools.cache
def sums_statement(count: int) -> Any:
    """One select of ``count`` window sums, built once (SQLAlchemy then caches its SQL)."""
    return select(*(window_sum(i) for i in range(count)))


def window_sum_select(scope: str, ref: str, since: datetime) -> Any:
    """The window's spend as a select with its values filled in, or None (see
    `window_params`)."""
    values = window_params(scope, ref, since)
    return None if values is None else select(window_sum(0, values))


# ------------------------------------------------------------------------------- admission


@dataclass(frozen=True, slots=True)
class LimitQuery:
    """One cap an admission checks: a scope's window (its start and its key)."""

    scope: str
    """``overall``, ``runtime`` or ``project``."""
    ref: str
    period: str
    """``daily`` or ``monthly``."""
    window_key: str
    since: datetime


@dataclass(frozen=True, slots=True)
class LimitSums:
    """What one cap is measured against: the window's spend (micro-USD), the part of it running
    work holds, and the extra a person allowed in the window."""

    spent: int
    reserved: int
    allowance: int


_RESERVED = _text("reserved")
"""Written into the SQL: the planner then knows the few reservation rows are all it reads
(index on ``status``), whatever the ledger's size."""


def _reserved_sum(i: int) -> Any:
    ledger = UsageLedgerRow
    scope = _param(i, "scope", None)
    ref = _param(i, "ref", None)
    in_scope = or_(
        scope == _text("overall"),
        and_(scope == _text("runtime"), ledger.runtime == ref),
        and_(scope == _text("project"), ledger.project_id == ref),
    )
    held = select(func.coalesce(func.sum(ledger.cost_micros), _ZERO)).where(
        ledger.status == _RESERVED,
        ledger.simulated == false(),
        ledger.finished_at >= _param(i, "since", None),
        in_scope,
    )
    return held.scalar_subquery()


def _allowance(i: int) -> Any:
    windows = BudgetWindowRow
    allowance = select(windows.allowance_micros).where(
        windows.scope == _param(i, "scope", None),
        windows.scope_ref == _param(i, "ref", None),
        windows.period == _param(i, "period", None),
        windows.window_key == _param(i, "key", None),
    )
    return func.coalesce(allowance.scalar_subquery(), _ZERO)


@functools.cache
def _limits_statement(count: int) -> Any:
    """Spend, reservations and allowance of ``count`` caps in one select, built once."""
    return select(*(part for i in range(count) for part in _limit_parts(i)))


def _limit_parts(i: int) -> tuple[Any, Any, Any]:
    return window_sum(i), _reserved_sum(i), _allowance(i)


def limit_sums(session: Session, queries: Sequence[LimitQuery]) -> list[LimitSums] | None:
    """Every cap's sums in one statement (a prepared one per number of caps), at a cost that
    does not grow with the ledger. None if a window does not start on a quarter hour (sum the
    ledger's rows instead)."""
    if not queries:
        return []
    bound: dict[str, Any] = {}
    for i, query in enumerate(queries):
        window = window_params(query.scope, query.ref, query.since)
        if window is None:
            return None
        bound.update({f"{name}{i}": value for name, value in window.items()})
        bound[f"ref{i}"] = window["ref"]
        bound[f"since{i}"] = query.since.astimezone(UTC)
        bound[f"period{i}"] = query.period
        bound[f"key{i}"] = query.window_key
    if session.new or session.dirty or session.deleted:
        session.flush()  # the statement sees what this transaction wrote through the ORM
    row = session.connection().execute(_limits_statement(len(queries)), bound).one()
    values = [int(value or 0) for value in row]
    return [LimitSums(*values[i * 3 : i * 3 + 3]) for i in range(len(queries))]
