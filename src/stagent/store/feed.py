"""Publishing events into the feed on PostgreSQL without a workspace-wide lock per write.

Readers tail the feed by ``seq`` and must never skip a lower ``seq`` that commits after a higher
one. On SQLite there is one writer at a time, so insertion order is commit order. On PostgreSQL
every writer -- a running agent's events (`stagent.store.run_writes`) and every other transaction
that appends an event (`stagent.store.events.append`) -- inserts into ``feed_outbox`` with no
shared lock, so any number of workers write and commit in parallel. After its commit the writer
*publishes*: one short transaction takes the feed lock, moves every committed outbox row into
``agent_events`` in insertion order (that is where ``seq`` is assigned), sends NOTIFY and commits.
Order is assigned only there, under the lock, so ``seq`` order is commit order; writers that wait
for the lock find their rows already moved by the holder and commit an empty transaction. Rows a
crashed writer committed but never published are moved by the next publish anywhere (workers
also publish on each heartbeat).

A running agent's batches (the hot path, `append_in_order`) skip the outbox: each is inserted
straight into ``agent_events`` and committed under the same feed lock, in one short transaction
that commits without waiting for its flush; the flush is waited for after the lock is released
(so concurrent writers share their disk flushes). One lock, two ways in: every ``seq`` is
assigned and committed while the lock is held, so ``seq`` order stays commit order.
"""

from __future__ import annotations

import json
import select
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import Error as DriverError
from psycopg.errors import InvalidSqlStatementName, error_from_result
from psycopg.pq import Escaping, ExecStatus, TransactionStatus
from sqlalchemy import Connection

from stagent.store.events import FEED_LOCK_KEY, OutboxRow
from stagent.store.watcher import CHANNEL

OUTBOX_COLUMNS = "task_id, run_id, subject_kind, subject_id, kind, payload, created_at"
MOVE_SQL = (
    f"WITH moved AS (DELETE FROM feed_outbox RETURNING id, {OUTBOX_COLUMNS}),"
    f" published AS (INSERT INTO agent_events ({OUTBOX_COLUMNS})"
    f" SELECT {OUTBOX_COLUMNS} FROM moved ORDER BY id RETURNING 1)"
    f" SELECT pg_notify('{CHANNEL}', '') FROM (SELECT 1 FROM published LIMIT 1) AS any_published"
)
"""Every committed outbox row into the feed, in insertion order (``seq`` is assigned here), and
a notification only if it moved a row: a writer whose rows another publish moved while it
waited for the feed lock sends none (that publish notified, after the rows were committed).
Every notifying commit takes PostgreSQL's one notify-queue lock and wakes every listener, so an
empty publish's notification cost each writer and each listening process for nothing."""
_ASYNC = "SET LOCAL synchronous_commit TO off"
_LOCK = f"SELECT pg_advisory_xact_lock({FEED_LOCK_KEY})"
_LOCKED = f"{_ASYNC}; {_LOCK}"
PUBLISH_SQL = f"{_LOCKED}; {MOVE_SQL}"
"""One round trip, one implicit transaction (sent on an autocommit connection)."""
_PREPARED_INFO = "stagent_hot_prepared"
"""``Connection.info`` key (kept as long as the driver connection lives): the hot path's
statements were prepared there."""
COMMIT_AND_PUBLISH = f"COMMIT; {PUBLISH_SQL}"
"""A write transaction's end when it appended events: its commit, then `PUBLISH_SQL` (which
notifies), in one round trip."""
COMMIT_AND_NOTIFY = f"COMMIT; SET LOCAL synchronous_commit TO off; NOTIFY {CHANNEL}"
"""A write transaction's end when it appended no event: commit, then notify, one round trip.

NOTIFY is never sent inside the write transaction: PostgreSQL serializes every notifying
transaction on one lock held until its commit is flushed, so a NOTIFY there would make all
writers wait for each other's disk flush. Sent after it, in a transaction that commits without
waiting for its flush, the lock is held for microseconds (a lost notification after a server
crash only delays a listener until its next poll)."""


def publish(conn: Connection) -> None:
    """Move every committed outbox row into the feed, in order, and notify listeners if it moved
    any (`MOVE_SQL`).

    ``conn`` must be in autocommit mode on PostgreSQL: the statements above then run as one
    transaction that takes the feed lock -- the only place ``seq`` is assigned for outbox
    rows. It commits without waiting for its WAL flush (``synchronous_commit = off``), so the
    lock is held for well under a millisecond: the rows it moves were already durable in the
    outbox, and should the server crash before the move is flushed, the move is undone and
    done again by the next publish (a reader may then see those events a second time, under
    new ``seq``s; none is lost).
    """
    conn.exec_driver_sql(PUBLISH_SQL)


def commit_and_publish(
    conn: Connection,
    *,
    appended: bool,
    held: Sequence[OutboxRow] = (),
    statements: Sequence[str] = (),
) -> None:
    """End ``conn``'s open write transaction (PostgreSQL) in one round trip: run the
    ``statements`` it held for its commit (`stagent.store.events.COMMIT_STATEMENTS`), insert
    the events it ``held`` into the outbox, commit it, then -- if it holds or ``appended``
    events -- publish them (`publish`, which notifies unless another publish moved them first,
    and that one notified); otherwise just notify (`COMMIT_AND_NOTIFY`).

    The held events are sent as literals (quoted by libpq for this connection): a statement
    with several commands cannot carry bound parameters.

    The statements go as one simple query: the first ``COMMIT`` ends the transaction, the
    publish runs after it as its own transaction, so the lock is never taken while the writer's
    rows are uncommitted. The driver then sees an idle connection: the caller's own commit that
    follows sends nothing. Should the publish fail, the write has committed all the same (as
    with a publish sent separately), and the next publish moves its rows.
    """
    end = COMMIT_AND_PUBLISH if appended or held else COMMIT_AND_NOTIFY
    sql = f"{insert_sql(conn, held)}; {end}" if held else end
    if statements:
        sql = f"{'; '.join(statements)}; {sql}"
    conn.exec_driver_sql(sql, execution_options={"no_parameters": True})


def commit_and_publish_hot(
    driver: psycopg.Connection[Any], statements: Sequence[str], held: Sequence[OutboxRow]
) -> None:
    """`commit_and_publish` on a hot connection (`stagent.store.hot`) whose transaction is open:
    the ``statements``, the ``held`` events' insert, ``COMMIT`` and the publish (or a bare
    notify), one round trip. On a driver error the transaction (if still open) is rolled back
    and the error raised."""
    end = COMMIT_AND_PUBLISH if held else COMMIT_AND_NOTIFY
    parts = [*statements, *([insert_sql(driver, held)] if held else []), end]
    raw: Any = driver  # built here (literals), not a typed literal string
    try:
        raw.execute("; ".join(parts), prepare=False)
    except DriverError:
        roll_back(driver)
        raise


def insert_sql(conn: Connection | psycopg.Connection[Any], rows: Sequence[OutboxRow]) -> str:
    """One ``INSERT`` of ``rows`` into the outbox, in order, with every value a literal."""
    literal = literal_maker(conn)
    values = ", ".join(f"({', '.join(literal(value) for value in row)})" for row in rows)
    return f"INSERT INTO feed_outbox ({OUTBOX_COLUMNS}) VALUES {values}"


def append_in_order(
    driver: psycopg.Connection[Any],
    info: dict[str, Any],
    prepare: str,
    statements: tuple[str, str, str | None],
) -> int:
    """Write a run's batch straight into the feed on ``driver`` (a psycopg connection in
    autocommit mode, a hot one: `stagent.store.hot`), in one round trip; the number of rows
    ``insert`` inserted. ``statements`` -- ``fence``, ``insert``, ``flush`` -- are ``EXECUTE``
    statements (every value a literal) of statements ``prepare`` prepares; ``info`` lives as
    long as the connection: it remembers what was prepared there.

    The statements go as one simple query: ``BEGIN``; the ``fence``, which share-locks the run
    row while the run is still the writer's (waiting for a concurrent take-over to commit
    first) and only then makes the commit asynchronous and takes the feed lock
    (`FEED_LOCK_KEY`), one statement
    (`stagent.store.run_writes._FENCE_SQL`); the ``insert``, which must write nothing unless
    the fence's lock is held, notifies listeners when it wrote rows and returns one row, their
    number (`stagent.store.run_writes._notifying`); ``COMMIT`` without waiting for the flush;
    then ``flush``, its own
    transaction, which must write WAL under a transaction id (a transactional logical message,
    `stagent.store.run_writes._FLUSH_SQL`): its commit then waits
    for the flush of the WAL up to its own commit record, the batch's included. (A transaction
    that wrote no WAL, even with an id, commits without waiting: ``pg_current_xact_id()`` alone
    would not do.) The feed lock is held from after the fence to the commit, with no round
    trip and no row lock to wait for in between, so ``seq`` order is commit order and the lock
    is held for microseconds; the writers' flushes happen outside it, together. The function
    returns once the batch is on disk. A reader may see the batch before that: should the
    server crash in between, the batch is gone and this raises (the caller writes it again,
    under new seqs). Without ``flush`` (None) it returns once the batch is committed, not yet
    on disk: the caller then waits for the disk once for several batches (`wait_for_flush`
    on the same connection, after them).

    Should a statement fail, the transaction it left open is rolled back and the error raised.
    psycopg deallocates every prepared statement of a connection (its own and these) when it
    sees a ``ROLLBACK`` there while it holds prepared statements of its own: the ``fence``
    then fails first, before anything commits; the statements are prepared again and the query
    sent again, once.
    """
    fence, insert, flush = statements
    sql = f"BEGIN; {fence}; {insert}; COMMIT"
    sql = f"{sql}; {flush}" if flush else sql
    return _send_prepared(driver, info, prepare, sql, _INSERT_RESULT, counted=True)


def wait_for_flush(
    driver: psycopg.Connection[Any], info: dict[str, Any], prepare: str, flush: str
) -> int:
    """Return once every batch `append_in_order` committed on ``driver`` without its ``flush``
    is on disk: ``flush`` (an ``EXECUTE``, as `append_in_order`'s) is sent as its own
    transaction; its commit waits for the WAL up to its own record, theirs included. On the
    connection they were committed on, so a server crash in between fails this (their
    writer writes them again) instead of passing on a restarted server. The row count of
    ``flush``'s result."""
    return _send_prepared(driver, info, prepare, flush, 0)


def _send_prepared(
    driver: psycopg.Connection[Any],
    info: dict[str, Any],
    prepare: str,
    sql: str,
    result: int,
    *,
    counted: bool = False,
) -> int:
    """Send ``sql`` (``EXECUTE``s of what ``prepare`` prepares, prepared first if this
    connection has not been) as one simple query; the row count of its ``result``-th result,
    or with ``counted`` the integer in that result's first row and column (a statement that
    returns its own count). See `append_in_order` for failures and psycopg's ``DEALLOCATE
    ALL``."""
    if not driver.autocommit:  # a COMMIT in ``sql`` would end the caller's transaction
        raise ValueError("a fenced insert is sent on an autocommit connection")
    raw: Any = driver  # the statements are built here (literals), not typed literal strings
    for again in (False, True):
        try:
            if not info.get(_PREPARED_INFO):
                raw.execute(prepare, prepare=False)
                info[_PREPARED_INFO] = True
            with driver.lock:
                return _row_count(driver, sql, result, counted=counted)
        except InvalidSqlStatementName:
            roll_back(driver)
            info.pop(_PREPARED_INFO, None)  # deallocated: prepared again
            if again:
                raise
        except DriverError:
            roll_back(driver)
            raise
    raise AssertionError("unreachable")


def _row_count(
    driver: psycopg.Connection[Any], sql: str, result: int, *, counted: bool = False
) -> int:
    """Send ``sql`` through libpq itself and read every result; the row count of the
    ``result``-th (with ``counted``, the integer in its first row and column). A psycopg
    cursor cost ~30-60 us of Python per batch (its results, adapters and generators) for rows
    nobody reads. The thread waits for the server in ``poll``,
    without the GIL (libpq's blocking ``PQgetResult`` would hold it: every thread of the
    process would wait for the disk with this one).

    Raises the first failed statement's error, as psycopg would; a connection lost on the way
    raises `psycopg.OperationalError`."""
    pgconn = driver.pgconn
    encoding = driver.info.encoding
    pgconn.send_query(sql.encode(encoding))
    poller = select.poll()  # not select.select: a worker's descriptors may pass FD_SETSIZE
    poller.register(pgconn.socket, select.POLLIN | select.POLLOUT)
    while pgconn.flush():  # a large batch: libpq sends the rest as the socket takes it
        poller.poll()
        pgconn.consume_input()
    poller.modify(pgconn.socket, select.POLLIN)
    results: list[Any] = []
    while True:
        while not pgconn.is_busy():
            res = pgconn.get_result()
            if res is None:
                return _rows_of(pgconn, results, result, encoding, counted=counted)
            results.append(res)
        poller.poll()
        pgconn.consume_input()


def _rows_of(
    pgconn: Any, results: list[Any], result: int, encoding: str, *, counted: bool = False
) -> int:
    """The row count of the ``result``-th of a query's ``results`` (with ``counted``, the
    integer in its first row and column); its first failed statement's error raised
    instead."""
    for res in results:
        if res.status == ExecStatus.FATAL_ERROR:
            raise error_from_result(res, encoding=encoding)
    if len(results) <= result:
        message = pgconn.error_message.decode(encoding, "replace") or "no result"
        raise psycopg.OperationalError(f"the hot path's query was cut short: {message}")
    if counted:
        value = results[result].get_value(0, 0) if results[result].ntuples else None
        return int(value) if value is not None else 0
    return max(int(results[result].command_tuples or 0), 0)


_INSERT_RESULT = 2
"""`append_in_order`'s insert is its query's third result (``BEGIN`` and the fence come
first)."""


def roll_back(driver: Any) -> None:
    """End the transaction a failed statement left open (a closed connection is replaced by the
    pool when it is handed back)."""
    if driver.closed or driver.broken:
        return
    if driver.info.transaction_status != TransactionStatus.IDLE:
        driver.rollback()


_LITERAL_INFO = "stagent_literal"
"""``Connection.info`` key: the connection's `literal_maker` function, made once."""


def connection_literal(
    driver: psycopg.Connection[Any], info: dict[str, Any]
) -> Callable[[Any], str]:
    """`literal_maker` of ``driver``, kept in ``info`` (which lives as long as the connection:
    a hot connection's batches quote with one function)."""
    literal = info.get(_LITERAL_INFO)
    if literal is None:
        literal = info[_LITERAL_INFO] = literal_maker(driver)
    return literal


def literal_maker(conn: Connection | psycopg.Connection[Any]) -> Callable[[Any], str]:
    """A function rendering a value as a PostgreSQL literal for ``conn``: None, a string, a
    boolean, an integer, a timestamp (``timestamptz``) or, for anything else, its JSON."""
    driver: Any = conn.connection.driver_connection if isinstance(conn, Connection) else conn
    escaping = Escaping(driver.pgconn)
    encoding: str = driver.info.encoding

    def quoted(text: str) -> str:
        return escaping.escape_literal(text.encode(encoding)).decode(encoding)

    def literal(value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, str):
            return quoted(value)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, datetime):
            return f"{quoted(value.isoformat())}::timestamptz"
        return f"{quoted(json.dumps(value))}::json"

    return literal
