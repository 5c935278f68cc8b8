"""Repository functions for budgets (caps per scope) and their per-window state.

Admissions are serialized: `lock_admissions` takes a transaction-scoped advisory lock on
PostgreSQL; on SQLite every write transaction already holds the file's write lock from BEGIN
(IMMEDIATE), so concurrent starts never read the same headroom.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stagent.domain.ids import ensure_aware, new_id
from stagent.store import inbox
from stagent.store.inbox import InboxItem
from stagent.store.tables import BudgetRow, BudgetWindowRow, InboxItemRow, ProjectRow

if TYPE_CHECKING:
    from stagent.store.database import Store

ADMISSION_LOCK_KEY = 7426002
"""PostgreSQL advisory lock serializing budget admissions (see `lock_admissions`)."""


@dataclass(frozen=True, slots=True)
class StoredBudget:
    """A budget row as stored; governance validates it (a corrupt row fails closed)."""

    id: str
    scope: str
    scope_ref: str
    daily_cap_micros: int | None
    monthly_cap_micros: int | None
    warn_at: float
    on_breach: str
    run_cap_micros: int | None
    updated_at: datetime
    project_name: str | None = None
    """A project budget's project name, as `list_budgets` reads it (None: another scope, a
    deleted project, or a row read alone)."""


@dataclass(frozen=True, slots=True)
class WindowState:
    """One budget's state in one window."""

    allowance_micros: int = 0
    warned_cap_micros: int | None = None
    notice_id: str | None = None
    notice_cap_micros: int | None = None
    card_id: str | None = None


_LOCK = f"SELECT pg_advisory_xact_lock({ADMISSION_LOCK_KEY})"
LOCK_SQL = _LOCK
"""The admission lock's statement (PostgreSQL), for a statement list built elsewhere."""


def lock_admissions(session: Session) -> None:
    """Serialize budget admissions until this transaction ends (PostgreSQL; SQLite already is)."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # Straight to the driver: every admission and usage booking takes it.
        conn.connection.driver_connection.execute(_LOCK)  # pyright: ignore[reportOptionalMemberAccess]


def _to_budget(row: BudgetRow) -> StoredBudget:
    return StoredBudget(
        id=row.id,
        scope=row.scope,
        scope_ref=row.scope_ref,
        daily_cap_micros=row.daily_cap_micros,
        monthly_cap_micros=row.monthly_cap_micros,
        warn_at=row.warn_at,
        on_breach=row.on_breach,
        run_cap_micros=row.run_cap_micros,
        updated_at=ensure_aware(row.updated_at),
    )


_ALL_BUDGETS = select(
    BudgetRow.id,
    BudgetRow.scope,
    BudgetRow.scope_ref,
    BudgetRow.daily_cap_micros,
    BudgetRow.monthly_cap_micros,
    BudgetRow.warn_at,
    BudgetRow.on_breach,
    BudgetRow.run_cap_micros,
    BudgetRow.updated_at,
    ProjectRow.name,
).outerjoin(ProjectRow, and_(BudgetRow.scope == "project", ProjectRow.id == BudgetRow.scope_ref))
"""Built once, columns not ORM objects, with the project's name (what people call the scope):
every run's admission reads it (on the session's connection: no ORM execution context)."""


_POLICY_TEXT = "||'|'||".join(
    (
        "b.id",
        "b.scope",
        "b.scope_ref",
        "coalesce(CAST(b.daily_cap_micros AS TEXT),'-')",
        "coalesce(CAST(b.monthly_cap_micros AS TEXT),'-')",
        "CAST(b.warn_at AS TEXT)",
        "b.on_breach",
        "coalesce(CAST(b.run_cap_micros AS TEXT),'-')",
        "coalesce(p.name,'-')",
    )
)
"""One budget row as text: every field a policy is made of, and its project's name."""
_JOIN = {"sqlite": "group_concat({}, ';')", "postgresql": "string_agg({}, ';')"}


@functools.cache
def fingerprint_sql(dialect: str) -> str:
    """The whole budget policy as one text value, as a scalar subquery (SQL text, short: the
    admission statement adds it, and psycopg caches only statements under 4 KB). Equal texts
    mean the same policy, however it was changed (the CLI, the API, an edit by hand)."""
    joined = _JOIN[dialect].format(_POLICY_TEXT)
    return (
        f"(SELECT coalesce({joined},'') FROM budgets b"
        " LEFT JOIN projects p ON b.scope='project' AND p.id=b.scope_ref)"
    )


def fingerprint(session: Session) -> str:
    """The policy's fingerprint now (see `fingerprint_sql`); the table holds a few rows."""
    conn = session.connection()
    return str(conn.exec_driver_sql(f"SELECT {fingerprint_sql(conn.dialect.name)}").scalar_one())


def fingerprint_now(store: Store) -> str:
    """`fingerprint` in a read of its own, outside any transaction (`Store.read_value`): no
    Session for a caller that reads nothing else."""
    return str(store.read_value(f"SELECT {fingerprint_sql(store.engine.dialect.name)}"))


_SEEN: ContextVar[tuple[object, int, str] | None] = ContextVar("policy_seen", default=None)
"""The fingerprint a step's start read in its transaction (`note_seen`), with its store and
that store's change-signal version just after the start committed."""


def note_seen(store: Store, fingerprint: str) -> None:
    """Remember, for the admission that follows in this context, the policy's fingerprint read
    in a transaction that just committed (a workflow step's start reads it with its row:
    `stagent.store.step_start`). Call it after the commit rang the change signal."""
    _SEEN.set((store, store.changes.version, fingerprint))


def take_seen(store: Store) -> str | None:
    """The fingerprint `note_seen` remembered in this context, once (it is forgotten here), if
    ``store`` has committed nothing since: no commit of this process rang the change signal and
    no other process's commit was seen. A run that waited (an approval, a budget card) or ran
    beside others gets None and reads the policy again: the admission then sees the policy as
    of a moment with no change since, as its own read would."""
    seen = _SEEN.get()
    if seen is None:
        return None
    _SEEN.set(None)
    owner, version, fingerprint = seen
    if owner is not store or store.changes.version != version:
        return None
    return fingerprint


def list_budgets(session: Session) -> list[StoredBudget]:
    """Every budget, overall first, then runtimes, then projects."""
    order = {"overall": 0, "runtime": 1, "project": 2}
    rows = [
        StoredBudget(*row[:8], updated_at=ensure_aware(row[8]), project_name=row[9])
        for row in session.connection().execute(_ALL_BUDGETS)
    ]
    return sorted(rows, key=lambda b: (order.get(b.scope, 9), b.scope_ref))


def get(session: Session, scope: str, ref: str) -> StoredBudget | None:
    """One scope's budget, if set."""
    row = _row(session, scope, ref)
    return _to_budget(row) if row else None


def _row(session: Session, scope: str, ref: str) -> BudgetRow | None:
    query = select(BudgetRow).where(BudgetRow.scope == scope, BudgetRow.scope_ref == ref)
    return session.scalar(query)


def upsert(session: Session, scope: str, ref: str, fields: dict[str, Any]) -> StoredBudget:
    """Create the scope's budget or change the given fields of it. Two writers creating the
    same scope's budget at once (PostgreSQL) both succeed: the later one changes the row the
    earlier one made."""
    row = _row(session, scope, ref) or _created(session, scope, ref)
    for name, value in fields.items():
        setattr(row, name, value)
    session.flush()
    return _to_budget(row)


def _created(session: Session, scope: str, ref: str) -> BudgetRow:
    """A new row for the scope's budget, or the one a concurrent writer committed first (the
    unique index on the scope refuses ours; a savepoint keeps the transaction usable)."""
    row = BudgetRow(id=new_id("bgt"), scope=scope, scope_ref=ref, warn_at=0.8, on_breach="fail")
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = _row(session, scope, ref)
        if found is None:
            raise
        return found
    return row


def delete(session: Session, scope: str, ref: str) -> bool:
    """Remove the scope's budget; False if it had none."""
    row = _row(session, scope, ref)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def _window_row(
    session: Session, scope: str, ref: str, period: str, key: str, *, create: bool
) -> BudgetWindowRow | None:
    query = select(BudgetWindowRow).where(
        BudgetWindowRow.scope == scope,
        BudgetWindowRow.scope_ref == ref,
        BudgetWindowRow.period == period,
        BudgetWindowRow.window_key == key,
    )
    row = session.scalar(query)
    if row is None and create:
        row = BudgetWindowRow(
            id=new_id("bwn"),
            scope=scope,
            scope_ref=ref,
            period=period,
            window_key=key,
            allowance_micros=0,
        )
        session.add(row)
        session.flush()
    return row


def window(session: Session, scope: str, ref: str, period: str, key: str) -> WindowState:
    """The state of one budget window (empty if nothing happened in it yet)."""
    row = _window_row(session, scope, ref, period, key, create=False)
    if row is None:
        return WindowState()
    return WindowState(
        allowance_micros=row.allowance_micros,
        warned_cap_micros=row.warned_cap_micros,
        notice_id=row.notice_id,
        notice_cap_micros=row.notice_cap_micros,
        card_id=row.card_id,
    )


_WINDOWS = select(
    BudgetWindowRow.scope,
    BudgetWindowRow.scope_ref,
    BudgetWindowRow.period,
    BudgetWindowRow.window_key,
    BudgetWindowRow.allowance_micros,
    BudgetWindowRow.warned_cap_micros,
    BudgetWindowRow.notice_id,
    BudgetWindowRow.notice_cap_micros,
    BudgetWindowRow.card_id,
).where(
    tuple_(
        BudgetWindowRow.scope,
        BudgetWindowRow.scope_ref,
        BudgetWindowRow.period,
        BudgetWindowRow.window_key,
    ).in_(bindparam("keys", expanding=True))
)
"""Built once, columns not ORM objects: every admission reads it."""


def windows(
    session: Session, keys: list[tuple[str, str, str, str]]
) -> dict[tuple[str, str, str, str], WindowState]:
    """The states of several windows (scope, ref, period, key) in one query."""
    if not keys:
        return {}
    found: dict[tuple[str, str, str, str], WindowState] = {}
    for row in session.execute(_WINDOWS, {"keys": keys}):
        found[(row[0], row[1], row[2], row[3])] = WindowState(*row[4:])
    return {key: found.get(key, WindowState()) for key in keys}


def update_window(
    session: Session, scope: str, ref: str, period: str, key: str, fields: dict[str, Any]
) -> None:
    """Set fields of one window's state (creating it)."""
    row = _window_row(session, scope, ref, period, key, create=True)
    assert row is not None
    for name, value in fields.items():
        setattr(row, name, value)
    session.flush()


def add_allowance(
    session: Session, scope: str, ref: str, period: str, key: str, micros: int
) -> int:
    """Allow ``micros`` more in one window; returns the window's total allowance."""
    row = _window_row(session, scope, ref, period, key, create=True)
    assert row is not None
    row.allowance_micros = (row.allowance_micros or 0) + micros
    session.flush()
    return row.allowance_micros


def clear_card(session: Session, card_id: str) -> None:
    """Forget an answered breach card (the next breach opens a new one)."""
    for row in session.scalars(select(BudgetWindowRow).where(BudgetWindowRow.card_id == card_id)):
        row.card_id = None
    session.flush()


def refresh_notice(
    session: Session, item_id: str, *, title: str, body: str, payload: dict[str, Any]
) -> InboxItem | None:
    """Update a budget notice or card in place and mark it unread again (None if it is gone)."""
    row = session.get(InboxItemRow, item_id)
    if row is None:
        return None
    row.title = title
    row.body = body
    row.payload = payload
    row.read = False
    session.flush()
    item = inbox.to_item(row)
    inbox.announce(session, item, "updated")
    return item


def find_item(session: Session, item_id: str | None) -> InboxItem | None:
    """An inbox item by id, or None."""
    if item_id is None:
        return None
    row = session.get(InboxItemRow, item_id)
    return inbox.to_item(row) if row is not None else None
