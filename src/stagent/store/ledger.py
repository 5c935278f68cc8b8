"""Repository functions for the usage ledger: one row per provider call, blocked call or
budget reservation.

Reservations are rows too (status ``reserved``, cost source ``estimate``): while a run is in
flight its row holds the part of its estimate that real usage has not yet used up, so window
sums count in-flight spend. When the run ends the row becomes ``released`` with cost 0.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Dialect,
    String,
    Table,
    and_,
    bindparam,
    case,
    false,
    func,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.orm import Session as Session  # re-exported: the type callers' sessions have
from sqlalchemy.sql.elements import ColumnElement

from stagent.domain.ids import ensure_aware, new_id, utcnow
from stagent.domain.ledger import LedgerEntry as LedgerEntry  # re-exported
from stagent.domain.ledger import LedgerFilter as LedgerFilter  # re-exported
from stagent.store import spend_totals
from stagent.store.driver import Prebuilt
from stagent.store.events import COMMIT_STATEMENTS, OUTBOX_ROWS
from stagent.store.feed import literal_maker
from stagent.store.tables import UsageLedgerRow

_LEDGER = cast(Table, UsageLedgerRow.__table__)
"""The table itself: the run hot path updates it with Core statements (no ORM bulk update)."""


def core(session: Session) -> Connection:
    """The session's connection for a Core statement, after flushing what the ORM still holds
    (so the statement sees every row this transaction wrote)."""
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection()


RUN_SOURCE = "run"
"""Rows of runs Stagent launched: the only ones budgets count (imported sessions were not
governed; simulated rows never count)."""
_RUN_LITERAL = literal_column(f"'{RUN_SOURCE}'", String)
"""Written into the SQL, not bound: the runtime and project spend indexes hold only rows of
runs (partial indexes), which a planner can use only when the query says so literally."""
RESERVED = "reserved"
RELEASED = "released"
BLOCKED = "blocked"
COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class NewLedgerEntry:
    """The fields a caller provides for a new row."""

    runtime: str
    task_id: str | None = None
    run_id: str | None = None
    project_id: str | None = None
    activity: str = "task_run"
    provider: str | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    cost_micros: int = 0
    cost_source: str = "computed"
    pricing_version: str | None = None
    status: str = COMPLETED
    note: str | None = None
    raw: dict[str, Any] | None = None
    at: datetime = field(default_factory=utcnow)
    source: str = "run"
    dedupe_key: str | None = None
    simulated: bool = False
    session_id: str | None = None
    project_path: str | None = None


def to_entry(row: UsageLedgerRow) -> LedgerEntry:
    """Map a row to the value."""
    return LedgerEntry(
        id=row.id,
        task_id=row.task_id,
        project_id=row.project_id,
        activity=row.activity,
        runtime=row.runtime,
        provider=row.provider,
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_write_5m_tokens=row.cache_write_5m_tokens,
        cache_write_1h_tokens=row.cache_write_1h_tokens,
        cache_read_tokens=row.cache_read_tokens,
        reasoning_tokens=row.reasoning_tokens,
        cost_micros=row.cost_micros,
        cost_source=row.cost_source,
        pricing_version=row.pricing_version,
        status=row.status,
        note=row.note,
        raw=dict(row.raw) if row.raw is not None else None,
        started_at=ensure_aware(row.started_at),
        finished_at=ensure_aware(row.finished_at),
        source=row.source,
        dedupe_key=row.dedupe_key,
        simulated=bool(row.simulated),
        session_id=row.session_id,
        project_path=row.project_path,
        run_id=row.run_id,
    )


_INSERT_ROW = _LEDGER.insert()
"""Built once: building a statement costs more CPU than running it (reservations, usage)."""
_INSERT_ON_DRIVER = Prebuilt(_INSERT_ROW)
"""`_INSERT_ROW` compiled once for SQLite's bare driver connection (`insert_on_driver`)."""


def insert(session: Session, new: NewLedgerEntry) -> LedgerEntry:
    """Add one row (one Core statement, no ORM unit of work)."""
    values = _row_values(new)
    core(session).execute(_INSERT_ROW, values)
    return _entry(values, new)


def insert_at_commit(session: Session, new: NewLedgerEntry) -> LedgerEntry:
    """`insert`, sent with the transaction's commit in its round trip on PostgreSQL (in a
    `Store.write` transaction: `stagent.store.events.COMMIT_STATEMENTS`), at once elsewhere.

    For a row nothing later in the same transaction reads: a budget reservation, the last
    write of its admission, which then ends in two round trips (the lock with every cap's
    sums, then this row, its note and the commit). A failure to insert it fails the commit."""
    if OUTBOX_ROWS not in session.info:  # SQLite, or not a `Store.write` transaction
        return insert(session, new)
    sql, entry = insert_statement(literal_maker(session.connection()), new)
    held: list[str] = session.info.setdefault(COMMIT_STATEMENTS, [])
    held.append(sql)
    return entry


def insert_on_driver(driver: Any, dialect: Dialect, new: NewLedgerEntry) -> LedgerEntry:
    """`insert` straight on SQLite's driver connection (in its open transaction), no Session:
    a budget admission's reservation on its hot path (`stagent.store.hot_admission`)."""
    values = _row_values(new)
    _INSERT_ON_DRIVER.execute_on_driver(driver, dialect, values)
    return _entry(values, new)


def insert_statement(literal: Callable[[Any], str], new: NewLedgerEntry) -> tuple[str, LedgerEntry]:
    """PostgreSQL: the ``INSERT`` of one row, its values rendered by ``literal``
    (`stagent.store.feed.literal_maker`), and the row it adds."""
    values = _row_values(new)
    row = ", ".join(literal(value) for value in values.values())
    return f"INSERT INTO usage_ledger ({', '.join(values)}) VALUES ({row})", _entry(values, new)


_VARYING = frozenset({"id", "task_id", "run_id", "project_id", "cost_micros", "note", "raw"})
"""The values `prepared_insert` sends with each row; the rest (and the time) are written into
its prepared statement, one per distinct rest: every reservation of a kind of call shares one."""
_SENT = _VARYING | {"started_at", "finished_at"}
_PREPARED_INSERTS: dict[tuple[Any, ...], tuple[str, str]] = {}


def _sent(values: dict[str, Any]) -> list[str]:
    """The columns whose values `prepared_insert` sends, in the order of its parameters."""
    return [k for k in values if k in _VARYING or k == "started_at"]


def prepared_insert(
    literal: Callable[[Any], str], prepared: set[str], new: NewLedgerEntry
) -> tuple[str, LedgerEntry]:
    """PostgreSQL: the ``EXECUTE`` of a prepared ``INSERT`` of one row (its ``PREPARE`` first,
    in the same text, unless named in ``prepared``: what the connection has prepared, which
    this adds to), its values rendered by ``literal``, and the row it adds. Fewer literals to
    render than `insert_statement`, and the server parses and plans the statement once."""
    values = _row_values(new)
    fixed = tuple((k, v) for k, v in values.items() if k not in _SENT)
    found = _PREPARED_INSERTS.get(fixed)
    if found is None:
        number = {k: f"${n}" for n, k in enumerate(_sent(values), start=1)}
        number["finished_at"] = number["started_at"]  # one time, sent once
        row = ", ".join(number[k] if k in number else literal(v) for k, v in values.items())
        sql = f"INSERT INTO usage_ledger ({', '.join(values)}) VALUES ({row})"
        name = f"stagent_ledger_{hashlib.sha1(sql.encode()).hexdigest()[:16]}"
        found = _PREPARED_INSERTS[fixed] = (name, f"PREPARE {name} AS {sql}")
    name, prepare = found
    args = ", ".join(literal(values[k]) for k in _sent(values))
    execute = f"EXECUTE {name}({args})"
    if name not in prepared:
        execute = f"{prepare}; {execute}"
        prepared.add(name)
    return execute, _entry(values, new)


def _row_values(new: NewLedgerEntry) -> dict[str, Any]:
    at = new.at.astimezone(UTC)
    return {
        "id": new_id("use"),
        "task_id": new.task_id,
        "run_id": new.run_id,
        "project_id": new.project_id,
        "activity": new.activity,
        "runtime": new.runtime,
        "provider": new.provider,
        "model": new.model,
        "input_tokens": new.input_tokens,
        "output_tokens": new.output_tokens,
        "cache_write_5m_tokens": new.cache_write_5m_tokens,
        "cache_write_1h_tokens": new.cache_write_1h_tokens,
        "cache_read_tokens": new.cache_read_tokens,
        "reasoning_tokens": new.reasoning_tokens,
        "cost_micros": new.cost_micros,
        "cost_source": new.cost_source,
        "pricing_version": new.pricing_version,
        "status": new.status,
        "note": new.note,
        "raw": new.raw,
        "started_at": at,
        "finished_at": at,
        "source": new.source,
        "dedupe_key": new.dedupe_key,
        "simulated": new.simulated,
        "session_id": new.session_id,
        "project_path": new.project_path,
    }


def _entry(values: dict[str, Any], new: NewLedgerEntry) -> LedgerEntry:
    entry: dict[str, Any] = {**values, "raw": dict(new.raw) if new.raw is not None else None}
    return LedgerEntry(**entry)


def insert_once(session: Session, new: NewLedgerEntry) -> tuple[LedgerEntry, bool]:
    """Add one row unless a row with its ``dedupe_key`` exists: (the row, whether it is new).

    One provider call is booked once, however often it is reported (a recovered run, an
    import that reads the same log again).
    """
    if new.dedupe_key is not None:
        existing = session.scalar(
            select(UsageLedgerRow).where(UsageLedgerRow.dedupe_key == new.dedupe_key)
        )
        if existing is not None:
            return to_entry(existing), False
    return insert(session, new), True


FILTERED = ("task_id", "project_id", "runtime", "model", "status", "cost_source", "source")
"""`LedgerFilter` fields that are an equality on the column of the same name: the ledger's
(`conditions`) and, for those it has, the usage rollup's (`stagent.store.ledger_rollup`)."""


def equalities(where: LedgerFilter, table: Any) -> list[ColumnElement[bool]]:
    """The conditions of ``where``'s `FILTERED` fields and flag on ``table``'s columns."""
    found: list[ColumnElement[bool]] = []
    for name in FILTERED:
        value = getattr(where, name)
        if value is not None:
            found.append(getattr(table, name) == value)
    if where.simulated is not None:
        found.append(table.simulated == where.simulated)
    return found


def conditions(where: LedgerFilter) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a ledger filter."""
    table = UsageLedgerRow
    found = equalities(where, table)
    if where.since is not None:
        found.append(table.finished_at >= where.since.astimezone(UTC))
    if where.until is not None:
        found.append(table.finished_at < where.until.astimezone(UTC))
    return found


def list_entries(
    session: Session,
    where: LedgerFilter,
    *,
    limit: int | None = 200,
    oldest_first: bool = False,
    holds: bool = True,
) -> list[LedgerEntry]:
    """Rows matching ``where``, newest first (or oldest first); without ``holds``, no budget
    hold (the reserved and released rows of running work: not calls, and never summed)."""
    table = UsageLedgerRow
    order = table.finished_at.asc() if oldest_first else table.finished_at.desc()
    found = conditions(where)
    if not holds:
        found.append(table.status.notin_((RESERVED, RELEASED)))
    query = select(table).where(*found).order_by(order, table.id)
    if limit is not None:
        query = query.limit(limit)
    return [to_entry(row) for row in session.scalars(query)]


@dataclass(frozen=True, slots=True)
class SpendQuery:
    """One sum to compute: rows of a scope (all, a runtime or a project) since an instant."""

    scope: str
    """``overall``, ``runtime`` or ``project``."""
    ref: str
    since: datetime


@dataclass(frozen=True, slots=True)
class Spend:
    """The answer to one `SpendQuery`: micro-USD, of which ``reserved`` is held by running work;
    ``unpriced`` counts rows whose cost is unknown (not included)."""

    total: int
    reserved: int
    unpriced: int


def spend(
    session: Session, queries: Sequence[SpendQuery], *, count_unpriced: bool = False
) -> list[Spend]:
    """Sum costs for every query.

    Each sum reads the scope's running totals (``spend_totals``, kept by triggers on the
    ledger): at most 96 quarter-hour buckets before the first whole UTC day of the window and one
    bucket per day after it, so its cost does not grow with the ledger. A window that does not
    start on a quarter hour (no real time zone's midnight) falls back to summing ledger rows. The
    reserved part comes from one small query over ``reserved`` rows (index on ``status``).
    Unpriced rows are counted only when asked (pages show it; admissions do not need it).
    """
    if not queries:
        return []
    table = UsageLedgerRow
    earliest = min(query.since for query in queries).astimezone(UTC)
    conn = core(session)
    held = conn.execute(_HELD, {"earliest": earliest}).all()
    located = (spend_totals.window_params(q.scope, q.ref, q.since) for q in queries)
    params = [p for p in located if p is not None]
    if not count_unpriced and len(params) == len(queries):
        # The admission path: one prepared statement (built once per number of sums).
        bound = {f"{name}{i}": value for i, p in enumerate(params) for name, value in p.items()}
        totals = conn.execute(spend_totals.sums_statement(len(queries)), bound).one()
        return [
            Spend(int(total or 0), _reserved(held, query), 0)
            for query, total in zip(queries, totals, strict=True)
        ]
    sums: list[Any] = []
    for query in queries:
        condition = and_(
            _scope_condition(query),
            table.finished_at >= query.since.astimezone(UTC),
            table.simulated == false(),
            table.source == _RUN_LITERAL,
        )
        from_totals = spend_totals.window_sum_select(query.scope, query.ref, query.since)
        sums.append(
            from_totals
            if from_totals is not None
            else select(func.coalesce(func.sum(table.cost_micros), 0)).where(condition)
        )
        if count_unpriced:
            sums.append(select(func.count()).where(condition, table.cost_source == "unpriced"))
    # One round trip: each scalar subquery is its own index-only range scan.
    values = [
        int(v or 0) for v in session.execute(select(*(q.scalar_subquery() for q in sums))).one()
    ]
    step = 2 if count_unpriced else 1
    answers: list[Spend] = []
    for index, query in enumerate(queries):
        unpriced = values[index * step + 1] if count_unpriced else 0
        answers.append(Spend(values[index * step], _reserved(held, query), unpriced))
    return answers


_HELD = select(
    UsageLedgerRow.runtime,
    UsageLedgerRow.project_id,
    UsageLedgerRow.cost_micros,
    UsageLedgerRow.finished_at,
).where(
    UsageLedgerRow.status == RESERVED,
    UsageLedgerRow.finished_at >= bindparam("earliest"),
    UsageLedgerRow.simulated == false(),
)
"""Reservations of running work (few rows: one per run in flight; index on ``status``)."""


def _reserved(held: Sequence[Any], query: SpendQuery) -> int:
    since = query.since.astimezone(UTC)
    return sum(
        cost
        for runtime, project_id, cost, at in held
        if ensure_aware(at) >= since and _in_scope(query, runtime, project_id)
    )


def _scope_condition(query: SpendQuery) -> ColumnElement[bool]:
    table = UsageLedgerRow
    if query.scope == "runtime":
        return table.runtime == query.ref
    if query.scope == "project":
        return table.project_id == query.ref
    return true()  # overall: every row


def _in_scope(query: SpendQuery, runtime: str, project_id: str | None) -> bool:
    if query.scope == "runtime":
        return runtime == query.ref
    if query.scope == "project":
        return project_id == query.ref
    return True


def blocked_note(session: Session, run_id: str) -> str | None:
    """Why a budget refused ``run_id`` (its ``blocked`` row's note), or None if none did."""
    query = (
        select(UsageLedgerRow.note)
        .where(UsageLedgerRow.run_id == run_id, UsageLedgerRow.status == BLOCKED)
        .limit(1)
    )
    row = session.execute(query).first()
    return None if row is None else str(row[0] or "blocked by a budget cap")


def consume_reservation(session: Session, run_id: str, micros: int) -> None:
    """Real usage of ``micros`` arrived for run ``run_id``: shrink its reservation (not below 0)."""
    if micros <= 0:
        return
    table = _LEDGER.c
    core(session).execute(
        update(_LEDGER)
        .where(table.run_id == run_id, table.status == RESERVED)
        .values(cost_micros=case((table.cost_micros > micros, table.cost_micros - micros), else_=0))
    )


_RELEASE = update(_LEDGER).where(
    _LEDGER.c.run_id == bindparam("run"), _LEDGER.c.status == bindparam("held")
)
_MARK = update(_LEDGER).where(
    _LEDGER.c.run_id == bindparam("run"), _LEDGER.c.status == bindparam("was")
)
"""Built once (the SET clause comes from the parameters): the end of every run runs them."""


def release_reservations(session: Session, run_id: str, *, note: str) -> int:
    """End every reservation run ``run_id`` holds; returns how many there were.

    Keyed by the run: a run's reservation is released once, by the transaction that ends the
    run (`stagent.store.lifecycle`), or by its own next admission after a crash (a take-over).
    """
    result = core(session).execute(
        _RELEASE,
        {"run": run_id, "held": RESERVED, "status": RELEASED, "cost_micros": 0, "note": note}
        | {"finished_at": utcnow()},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def mark_run_outcome(session: Session, run_id: str, outcome: str) -> None:
    """A run failed or was cancelled: its call rows say so (blocked rows and reservations keep
    their own status)."""
    core(session).execute(_MARK, {"run": run_id, "was": COMPLETED, "status": outcome})


_RELEASE_ON_DRIVER = Prebuilt(_RELEASE)
_MARK_ON_DRIVER = Prebuilt(_MARK)
"""`_RELEASE` and `_MARK` compiled once for SQLite's bare driver connection (a run's end
there, `stagent.store.hot_end`)."""


def release_reservations_on_driver(driver: Any, dialect: Dialect, run_id: str, *, note: str) -> int:
    """`release_reservations` straight on SQLite's driver connection (in its open
    transaction), no Session."""
    values = {"run": run_id, "held": RESERVED, "status": RELEASED, "cost_micros": 0, "note": note}
    return _RELEASE_ON_DRIVER.execute_on_driver(driver, dialect, values | {"finished_at": utcnow()})


def mark_run_outcome_on_driver(driver: Any, dialect: Dialect, run_id: str, outcome: str) -> None:
    """`mark_run_outcome` straight on SQLite's driver connection (in its open transaction)."""
    _MARK_ON_DRIVER.execute_on_driver(
        driver, dialect, {"run": run_id, "was": COMPLETED, "status": outcome}
    )


REPRICEABLE = ("computed", "estimated", "unpriced")


def priceable_batches(
    session: Session, version: str, *, everything: bool, batch: int = 5000
) -> Iterable[list[LedgerEntry]]:
    """Rows whose cost comes from a price table (computed or unpriced), in batches by id;
    only those priced with another table version unless ``everything``."""
    table = UsageLedgerRow
    last = ""
    while True:
        query = (
            select(table)
            .where(table.cost_source.in_(REPRICEABLE), table.id > last)
            .order_by(table.id)
            .limit(batch)
        )
        if not everything:
            query = query.where(
                (table.pricing_version.is_(None)) | (table.pricing_version != version)
            )
        rows = [to_entry(row) for row in session.scalars(query)]
        if not rows:
            return
        last = rows[-1].id
        yield rows


def update_costs(session: Session, changes: Sequence[dict[str, Any]]) -> None:
    """Set ``cost_micros``, ``cost_source``, ``pricing_version`` and ``note`` of rows by id."""
    if changes:
        session.execute(update(UsageLedgerRow), list(changes))
