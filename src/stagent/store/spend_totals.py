"""Window spend from the running totals (``spend_totals``, kept by triggers on the ledger), and
the one statement a budget admission reads.

A window's spend is two primary-key range scans of ``spend_totals``: quarter-hour buckets from
the window's start to the first whole UTC day, then day buckets. Its cost follows the window's
length, not the number of ledger rows. A window that does not start on a quarter hour (no real
time zone's midnight) cannot be read this way: callers then sum ledger rows.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.errors import InvalidSqlStatementName
from sqlalchemy import (
    Dialect,
    Integer,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.orm import Session

from stagent.store import budgets as budget_repo
from stagent.store.feed import literal_maker, roll_back
from stagent.store.sqlite_imports import DAY as DAY
from stagent.store.sqlite_imports import QUARTER as QUARTER
from stagent.store.sqlite_imports import spend_staged_upsert
from stagent.store.tables import SpendTotalRow, UsageLedgerRow

_TEXT_PARAMS = ("scope", "ref", "period", "key")
_ZERO = literal_column("0", Integer)
"""Constants are written into the SQL, not bound: fewer parameters to build per execution."""


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


_SCOPES = frozenset({"overall", "runtime", "project"})
_PERIODS = frozenset({"daily", "monthly"})


@dataclass(frozen=True, slots=True)
class _Slot:
    """Where one cap's values sit in the admission statement: its scope and period (written
    into the SQL), its scope's reference (bound once per distinct reference; None: overall) and
    its window (bound once per distinct window)."""

    scope: str
    ref: int | None
    window: int
    period: str


@dataclass(frozen=True, slots=True)
class AdmissionSums:
    """What an admission reads in its one statement: every cap's sums, and how many
    reservations the admitted run still holds (a run that starts again holds its last one)."""

    limits: list[LimitSums]
    run_holds: int = 0
    policy: str | None = None
    """The budget policy's fingerprint, read in the same statement (if asked for)."""


_HELD = (
    "h AS (SELECT u.runtime AS rt, u.project_id AS pj, u.cost_micros AS c, u.finished_at AS f"
    " FROM usage_ledger u WHERE u.status='reserved' AND NOT u.simulated)"
)
"""Reservations of running work (few rows: the index on ``status``), read once for every cap."""


def _slot_sql(slot: _Slot) -> list[str]:
    """A slot's four columns: the spend in its quarter buckets and in its day buckets (added up
    by the caller: a sum over no rows is NULL), what running work holds, the allowance."""
    w = slot.window
    ref = "''" if slot.ref is None else f":r{slot.ref}"
    scope = f"t.scope='{slot.scope}' AND t.ref={ref}"
    held = {"overall": "", "runtime": f" AND h.rt={ref}", "project": f" AND h.pj={ref}"}
    return [
        f"(SELECT sum(t.total_micros) FROM spend_totals t WHERE {scope}"
        f" AND t.grain={QUARTER} AND t.bucket>=:qa{w} AND t.bucket<:qb{w})",
        f"(SELECT sum(t.total_micros) FROM spend_totals t WHERE {scope}"
        f" AND t.grain={DAY} AND t.bucket>=:d{w})",
        f"(SELECT sum(h.c) FROM h WHERE h.f>=:s{w}{held[slot.scope]})",
        f"(SELECT w.allowance_micros FROM budget_windows w WHERE w.scope='{slot.scope}'"
        f" AND w.scope_ref={ref} AND w.period='{slot.period}' AND w.window_key=:k{w})",
    ]


_RUN_HOLDS = "(SELECT count(*) FROM usage_ledger r WHERE r.run_id=:run AND r.status='reserved')"


@functools.cache
def _admission_statement(
    dialect: str, slots: tuple[_Slot, ...], with_run: bool, with_policy: bool
) -> Any:
    """Spend, reservations and allowance of every slot in one select, built once per dialect
    and shape (scopes, periods, which caps share a reference or a window): its parameters are
    the distinct references and windows only. Written as short SQL text: psycopg parses a
    statement's placeholders once only for statements under 4 KB, else on every execution."""
    columns = [column for slot in slots for column in _slot_sql(slot)]
    if with_run:
        columns.append(_RUN_HOLDS)
    if with_policy:
        columns.append(budget_repo.fingerprint_sql(dialect))
    windows = {slot.window for slot in slots}
    since = [bindparam(f"s{w}", type_=UsageLedgerRow.finished_at.type) for w in sorted(windows)]
    return text(f"WITH {_HELD} SELECT {', '.join(columns)}").bindparams(*since)


@dataclass(frozen=True, slots=True)
class _DriverStatement:
    """The admission statement as its driver takes it: SQL in the driver's parameter style, the
    order of its positional parameters (SQLite) or None (named: psycopg), and how ``since``
    values are stored (SQLite keeps timestamps as text)."""

    sql: str
    positions: tuple[str, ...] | None
    since: Callable[[Any], Any] | None


_DRIVER_STATEMENTS: dict[tuple[Any, ...], _DriverStatement] = {}


def _driver_statement(dialect: Dialect, shape: tuple[Any, ...]) -> _DriverStatement:
    key = (dialect.name, dialect.driver, *shape)
    found = _DRIVER_STATEMENTS.get(key)
    if found is None:
        compiled = _admission_statement(dialect.name, *shape).compile(dialect=dialect)
        positions = tuple(compiled.positiontup or ()) if compiled.positional else None
        since = UsageLedgerRow.finished_at.type.dialect_impl(dialect).bind_processor(dialect)
        found = _DRIVER_STATEMENTS[key] = _DriverStatement(compiled.string, positions, since)
    return found


def _execute(
    driver: Any, dialect: Dialect, shape: tuple[Any, ...], bound: dict[str, Any]
) -> list[Any]:
    """Run the admission statement straight on the driver's connection (in its open
    transaction): SQLAlchemy would build the result's metadata for its 27 text columns on
    every execution, four times the statement's own cost."""
    statement = _driver_statement(dialect, shape)
    if statement.since is not None:
        convert = statement.since
        bound = {k: convert(v) if k[0] == "s" and k[1:].isdigit() else v for k, v in bound.items()}
    params: Any = bound
    if statement.positions is not None:
        params = [bound[name] for name in statement.positions]
    cursor = driver.execute(statement.sql, params)
    try:
        return list(cursor.fetchone())
    finally:
        cursor.close()


@functools.lru_cache(maxsize=64)
def _shape(queries: tuple[LimitQuery, ...]) -> tuple[tuple[_Slot, ...], dict[str, Any]] | None:
    """The statement's shape and its parameters, or None if a window does not start on a
    quarter hour. Remembered: the same caps ask the same until their windows move on (the
    parameters are shared: copy them before changing them)."""
    refs: dict[str, int] = {}
    windows: dict[tuple[datetime, str], int] = {}
    bound: dict[str, Any] = {}
    slots: list[_Slot] = []
    for query in queries:
        if query.scope not in _SCOPES or query.period not in _PERIODS:
            raise ValueError(f"unknown budget scope or period: {query.scope} {query.period}")
        ref = None
        if query.scope != "overall":
            ref = refs.setdefault(query.ref, len(refs))
            bound[f"r{ref}"] = query.ref
        window = windows.get((query.since, query.window_key))
        if window is None:
            values = window_params(query.scope, query.ref, query.since)
            if values is None:
                return None
            window = windows[(query.since, query.window_key)] = len(windows)
            bound.update(
                {f"qa{window}": values["q_from"], f"qb{window}": values["q_to"]}
                | {f"d{window}": values["d_from"], f"k{window}": query.window_key}
                | {f"s{window}": query.since.astimezone(UTC)}
            )
        slots.append(_Slot(query.scope, ref, window, query.period))
    return tuple(slots), bound


def _bound(
    queries: Sequence[LimitQuery], run_id: str | None, policy: bool
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The admission statement's shape key (slots, with the run, with the policy) and its
    parameters, or None if a window does not start on a quarter hour."""
    shape = _shape(tuple(queries))
    if shape is None:
        return None
    slots, bound = shape
    bound = dict(bound)  # the shape's own is shared by every admission that has it
    if run_id is not None:
        bound["run"] = run_id
    return (slots, run_id is not None, policy), bound


def admission_sums(
    session: Session,
    queries: Sequence[LimitQuery],
    *,
    run_id: str | None = None,
    policy: bool = False,
) -> AdmissionSums | None:
    """Every cap's sums in one statement (prepared once per shape), at a cost that does not
    grow with the ledger; with ``run_id``, how many reservations that run holds; with
    ``policy``, the budget policy's fingerprint (`stagent.store.budgets.policy_fingerprint`).
    None if a window does not start on a quarter hour (sum the ledger's rows instead)."""
    found = _bound(queries, run_id, policy)
    if found is None:
        return None
    key, bound = found
    if not key[0] and run_id is None and not policy:
        return AdmissionSums([])
    if session.new or session.dirty or session.deleted:
        session.flush()  # the statement sees what this transaction wrote through the ORM
    conn = session.connection()
    row = _execute(conn.connection.driver_connection, conn.dialect, key, bound)
    return _admission_result(row, run_id is not None, policy)


def sqlite_hot_admission_sums(
    driver: sqlite3.Connection,
    dialect: Dialect,
    queries: Sequence[LimitQuery],
    run_id: str | None,
) -> AdmissionSums | None:
    """`admission_sums` (with the policy's fingerprint) on SQLite's driver connection
    (`stagent.store.hot.SqliteHotConnection`: no transaction open), in the write transaction
    it begins and leaves open (``BEGIN IMMEDIATE``: the file's write lock serializes
    admissions). None (nothing begun) if a window does not start on a quarter hour. On a
    driver error the transaction is rolled back and the error raised."""
    found = _bound(queries, run_id, True)
    if found is None:
        return None
    key, bound = found
    driver.execute("BEGIN IMMEDIATE")
    try:
        row = _execute(driver, dialect, key, bound)
    except BaseException:
        driver.rollback()
        raise
    return _admission_result(row, run_id is not None, True)


def _admission_result(row: list[Any], with_run: bool, policy: bool) -> AdmissionSums:
    fingerprint = str(row.pop()) if policy else None
    holds = int(row.pop() or 0) if with_run else 0
    values = [int(value or 0) for value in row]
    limits = [
        LimitSums(values[i] + values[i + 1], values[i + 2], values[i + 3])
        for i in range(0, len(values), 4)
    ]
    return AdmissionSums(limits, holds, fingerprint)


_HOT_PREPARED = "stagent_admission_prepared"
"""A hot connection's ``info`` key: the names of the admission statements prepared there."""


@functools.cache
def _hot_statement(shape: tuple[Any, ...]) -> tuple[str, str, tuple[str, ...]]:
    """The admission statement of ``shape`` for a SQL-level ``PREPARE``: (its name, the
    ``PREPARE``, its parameters' names in ``$n`` order). Built once per shape."""
    compiled = _admission_statement("postgresql", *shape).compile(dialect=PGDialect_psycopg())
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    sql = re.sub(r"%\((\w+)\)s", number, compiled.string).replace("%%", "%")
    name = f"stagent_admission_{hashlib.sha1(sql.encode()).hexdigest()[:16]}"
    return name, f"PREPARE {name} AS {sql}", tuple(names)


def hot_admission_sums(
    driver: psycopg.Connection[Any],
    info: dict[str, Any],
    lock: str,
    queries: Sequence[LimitQuery],
    run_id: str | None,
) -> AdmissionSums | None:
    """`admission_sums` (with the policy's fingerprint) on a hot connection
    (`stagent.store.hot`: psycopg, autocommit), in one round trip with the ``BEGIN`` of the
    transaction it leaves open and the ``lock`` statement: ``BEGIN``, ``lock``, then the sums
    (their own snapshot, taken after the lock, as each statement at ``READ COMMITTED``).

    The statement is prepared on the connection (SQL-level ``PREPARE``, once per shape, its
    values sent as literals to ``EXECUTE``): psycopg prepares nothing of its own there, so it
    never deallocates it; should it be gone all the same, it is prepared again and the query
    sent again, once. None (nothing sent) if a window does not start on a quarter hour. On a
    driver error the transaction is rolled back and the error raised."""
    found = _bound(queries, run_id, True)
    if found is None:
        return None
    key, bound = found
    name, prepare, names = _hot_statement(key)
    literal = literal_maker(driver)
    args = ", ".join(literal(bound[n]) for n in names)
    sql = f"BEGIN ISOLATION LEVEL READ COMMITTED; {lock}; EXECUTE {name}" + (
        f"({args})" if args else ""
    )
    raw: Any = driver  # the statements are built here (literals), not typed literal strings
    prepared: set[str] = info.setdefault(_HOT_PREPARED, set[str]())
    for again in (False, True):
        try:
            if name not in prepared:
                raw.execute(prepare, prepare=False)
                prepared.add(name)
            with raw.cursor() as cursor:
                cursor.execute(sql, prepare=False)
                cursor.nextset()
                cursor.nextset()
                row = list(cursor.fetchone())
            return _admission_result(row, run_id is not None, True)
        except InvalidSqlStatementName:
            roll_back(driver)
            prepared.clear()  # deallocated: prepared again
            if again:
                raise
        except psycopg.Error:
            roll_back(driver)
            raise
    raise AssertionError("unreachable")


def limit_sums(session: Session, queries: Sequence[LimitQuery]) -> list[LimitSums] | None:
    """Every cap's sums in one statement (see `admission_sums`). None if a window does not
    start on a quarter hour (sum the ledger's rows instead)."""
    found = admission_sums(session, queries)
    return None if found is None else found.limits


# ------------------------------------------------------------------------------- bulk inserts


def sqlite_staged_upsert(staging: str) -> str:
    """SQLite: add the rows budgets count (source ``run``, not simulated, with a cost) of table
    ``staging`` (ledger columns) to their buckets in one grouped upsert: what a bulk insert runs
    while the insert trigger (migration 0018) is bypassed, the same sums the trigger would add
    (`stagent.store.sqlite_imports.spend_staged_upsert`)."""
    return spend_staged_upsert(staging)
