"""The hot path of an executing run: its events, each fenced by the run's attempt in the same
statement (SQLAlchemy Core on SQLite; on PostgreSQL one literal statement for a whole batch, sent
straight into the feed with its commit in one round trip).

A run has one owner at a time: the executor whose attempt (`stagent.store.lifecycle.claim` raised
it) is the run's newest. Every write an executor makes for its run first reads the run's
``attempt`` and ``status`` inside the write transaction (one primary-key read; on PostgreSQL it
takes a share lock on the run row, so a concurrent take-over waits for this write or this write
sees the take-over). A worker that was frozen past its lease and resumed finds a newer attempt and
writes nothing more; neither does an executor whose run was cancelled or already ended.

The ORM session path (`stagent.store.events.append`) stays the one for every other writer; this
module exists because one event per runtime message must cost about one commit, not an ORM
flush (see ``benchmarks/events.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import psycopg
from sqlalchemy import JSON, Connection, Table, TextClause, bindparam, select, text, update
from sqlalchemy.orm import Session

from stagent.domain.ids import utcnow
from stagent.domain.runs import RunStatus
from stagent.domain.scrub import scrub
from stagent.store import feed
from stagent.store.events import FEED_LOCK_KEY, SECRETS_INFO
from stagent.store.hot import HotConnection
from stagent.store.tables import RunRow, TaskRow, Timestamp
from stagent.store.watcher import CHANNEL

_ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)
_TASKS = cast(Table, TaskRow.__table__)


_STATE = select(RunRow.attempt, RunRow.status).where(RunRow.id == bindparam("run_id"))
_STATE_SHARED = _STATE.with_for_update(read=True)


def owns(db: Connection | Session, run_id: str, attempt: int) -> bool:
    """True while ``attempt`` is the run's newest and the run has not ended: the write may go on.

    Call it inside the write transaction that writes for the run.
    """
    bind = _connection(db)
    query = _STATE_SHARED if bind.dialect.name == "postgresql" else _STATE
    row = bind.execute(query, {"run_id": run_id}).one_or_none()
    return row is not None and row[0] == attempt and row[1] in _ACTIVE


def run_state(db: Connection | Session, run_id: str) -> tuple[int, str] | None:
    """``(attempt, status)`` of a run, or None if it is gone (a plain read, no lock)."""
    row = _connection(db).execute(_STATE, {"run_id": run_id}).one_or_none()
    return (int(row[0]), str(row[1])) if row is not None else None


def _connection(db: Connection | Session) -> Connection:
    """The connection to run a Core statement on (a session's pending ORM changes flushed)."""
    if isinstance(db, Connection):
        return db
    if db.new or db.dirty or db.deleted:
        db.flush()
    return db.connection()


_ACTIVE_LITERALS = ", ".join(f"'{status}'" for status in _ACTIVE)
_INSERT_FENCED_SQLITE: TextClause = text(
    "INSERT INTO agent_events (task_id, run_id, subject_kind, subject_id, kind, payload,"
    " created_at) SELECT CAST(:task_id AS VARCHAR), CAST(:run_id AS VARCHAR), 'task',"
    " CAST(:task_id AS VARCHAR), CAST(:kind AS VARCHAR), :payload, :created_at"
    f" WHERE EXISTS (SELECT 1 FROM runs WHERE id = :run_id AND attempt = :attempt"
    f" AND status IN ({_ACTIVE_LITERALS}))"
).bindparams(bindparam("payload", type_=JSON()), bindparam("created_at", type_=Timestamp))


def append_event(
    conn: Connection,
    *,
    task_id: str,
    run_id: str,
    attempt: int,
    kind: str,
    payload: dict[str, Any],
) -> bool:
    """Insert one event of a task's run if ``attempt`` still owns it (one statement: the fence
    and the insert together); False (nothing written) otherwise. See `append_events`."""
    events = [(kind, payload)]
    return append_events(conn, task_id=task_id, run_id=run_id, attempt=attempt, events=events) == 1


def append_events(
    conn: Connection,
    *,
    task_id: str,
    run_id: str,
    attempt: int,
    events: Sequence[tuple[str, dict[str, Any]]],
) -> int:
    """Insert ``events`` (``(kind, payload)``, in order) of a task's run while ``attempt`` owns
    it; how many were written.

    On SQLite (``conn`` in a write transaction) one fenced insert each, stopping at the first
    one refused. On PostgreSQL (``conn`` in autocommit mode) one fenced multi-row insert
    straight into the feed under the feed lock, committed in the same round trip
    (`stagent.store.feed.append_in_order`): all of them or none. The fence share-locks the run
    row, so a take-over commits before or after the batch, never in between.
    """
    if not events:
        return 0
    secrets: tuple[str, ...] = conn.info.get(SECRETS_INFO, ())
    if conn.dialect.name == "postgresql":
        driver: Any = conn.connection.driver_connection
        return _append_in_order(driver, conn.info, (task_id, run_id, attempt), events, secrets)
    for written, (kind, payload) in enumerate(events):
        params = {
            "task_id": task_id,
            "run_id": run_id,
            "attempt": attempt,
            "kind": kind,
            "payload": scrub(payload, secrets),
            "created_at": utcnow(),
        }
        if not getattr(conn.execute(_INSERT_FENCED_SQLITE, params), "rowcount", 0):
            return written
    return len(events)


def append_hot_events(
    hot: HotConnection,
    *,
    task_id: str,
    run_id: str,
    attempt: int,
    events: Sequence[tuple[str, dict[str, Any]]],
    flush: bool = True,
) -> int:
    """`append_events` on PostgreSQL, on a hot connection (`stagent.store.hot`: no SQLAlchemy
    around it, the executor's batches): one fenced multi-row insert into the feed, committed in
    the same round trip; all of ``events`` or none. How many were written. It returns once they
    are on disk; with ``flush`` False once they are committed (`wait_for_flush` on the same
    connection then waits for the disk once for several batches)."""
    if not events:
        return 0
    return _append_in_order(
        hot.driver, hot.info, (task_id, run_id, attempt), events, hot.secrets, flush
    )


def wait_for_flush(hot: HotConnection) -> None:
    """Return once every batch `append_hot_events` committed on ``hot`` without its flush is on
    disk (one round trip: `_FLUSH_SQL` as its own transaction)."""
    feed.wait_for_flush(hot.driver, hot.info, _PREPARE, f"EXECUTE {_FLUSH_STATEMENT}")


_FENCE_STATEMENT = "stagent_run_fence_lock"
_FENCE_SQL = (
    "SELECT set_config('synchronous_commit', 'off', true),"
    f" pg_advisory_xact_lock({FEED_LOCK_KEY}) FROM (SELECT 1 FROM runs WHERE id = $1"
    f" AND attempt = $2 AND status IN ({_ACTIVE_LITERALS}) FOR SHARE) AS fence"
)
"""The PostgreSQL hot path's fence, then the feed lock, in one statement: share-locks the run
row while ``attempt`` owns the run (its ``LockRows`` waits for a take-over in progress to
commit), and only then -- in the projection above it, evaluated per row the fence returned --
sets the transaction's commit asynchronous (``SET LOCAL``) and takes the feed lock. A fence that
finds no row takes no lock and sets nothing (the insert then writes nothing: no transaction id,
no flush to wait for). One statement instead of three (``SET LOCAL``, the fence, ``SELECT
pg_advisory_xact_lock``): each statement of a simple query is analysed, planned and answered on
its own."""
_APPEND_STATEMENT = "stagent_feed_append_notify"
_APPEND_TYPES = "(varchar, varchar, integer, varchar[], json[], timestamptz[])"
_APPEND_SQL = (
    "INSERT INTO agent_events (task_id, run_id, subject_kind, subject_id, kind, payload,"
    " created_at) SELECT $1, $2, 'task', $1, event.kind, event.payload, event.created_at"
    " FROM unnest($4, $5, $6) WITH ORDINALITY AS event (kind, payload, created_at, n)"
    " WHERE EXISTS (SELECT 1 FROM runs WHERE id = $2 AND attempt = $3"
    f" AND status IN ({_ACTIVE_LITERALS}) FOR SHARE SKIP LOCKED) ORDER BY event.n"
)
"""The PostgreSQL hot path's insert of a batch, straight into the feed under the feed lock
(`stagent.store.feed.append_in_order`): task, run, attempt, then the events' kinds, payloads
and times as three arrays. It writes only while the fence's lock is held: the run row it locked
is locked again (by this transaction: no wait); a row the fence did not lock because the run was
no longer ``attempt``'s cannot be ``attempt``'s again (attempts only grow, an ended run stays
ended), and ``SKIP LOCKED`` never waits under the feed lock."""
_APPEND_ONE_STATEMENT = "stagent_feed_append_one_notify"
_APPEND_ONE_SQL = (
    "INSERT INTO agent_events (task_id, run_id, subject_kind, subject_id, kind, payload,"
    " created_at) SELECT $1, $2, 'task', $1, $4, $5, $6"
    " WHERE EXISTS (SELECT 1 FROM runs WHERE id = $2 AND attempt = $3"
    f" AND status IN ({_ACTIVE_LITERALS}) FOR SHARE SKIP LOCKED)"
)
"""`_APPEND_SQL` for a batch of one event (the common case: a runtime that streams): no arrays
to build, parse and unnest. Backend CPU per 1-event batch, 5 interleaved pairs at load ~20:
median 700 against 737 us (the insert alone: 450-533 against 550-833 us)."""


def _notifying(insert: str) -> str:
    """``insert`` and the notification of its rows in one statement: one row, the number of
    rows inserted; listeners are notified only when it is not 0 (a fenced-out batch wakes no
    one)."""
    return (
        f"WITH inserted AS ({insert} RETURNING 1) SELECT n, CASE WHEN n > 0 THEN"
        f" pg_notify('{CHANNEL}', '') END FROM (SELECT count(*) AS n FROM inserted) AS written"
    )


_FLUSH_STATEMENT = "stagent_batch_flush"
_FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'stagent', '')"
"""Sent after the batch's commit (which does not wait for its flush), as its own transaction:
a transactional logical message is a WAL record under a transaction id (no row, no lock), so
this commit waits for the WAL up to its own record -- the batch's commit included -- to be on
disk. (A transaction that wrote no WAL commits without waiting: ``pg_current_xact_id()`` alone
would not do.) It replaced a ``KEY SHARE`` lock on the task row: per event one heap lock (a
buffer locked and dirtied, an index lookup) less, and nothing to find. Executable by any role
(PostgreSQL's default grant); with ``wal_level = logical`` decoders see an empty ``stagent``
message they ignore."""
_PREPARE = (
    f"PREPARE {_FENCE_STATEMENT}(varchar, integer) AS {_FENCE_SQL};"
    f" PREPARE {_APPEND_STATEMENT}{_APPEND_TYPES} AS {_notifying(_APPEND_SQL)};"
    f" PREPARE {_APPEND_ONE_STATEMENT}(varchar, varchar, integer, varchar, json, timestamptz)"
    f" AS {_notifying(_APPEND_ONE_SQL)};"
    f" PREPARE {_FLUSH_STATEMENT} AS {_FLUSH_SQL}"
)


def _append_in_order(
    driver: psycopg.Connection[Any],
    info: dict[str, Any],
    run: tuple[str, str, int],
    events: Sequence[tuple[str, dict[str, Any]]],
    secrets: tuple[str, ...],
    flush: bool = True,
) -> int:
    """Write ``events`` of a ``run`` (task, run, attempt) into the feed
    (`stagent.store.feed.append_in_order`), every value a literal, waiting for their flush
    unless ``flush`` is False; how many were written."""
    task_id, run_id, attempt = run
    literal = feed.connection_literal(driver, info)
    kinds = ", ".join(literal(kind) for kind, _ in events)
    payloads = ", ".join(literal(scrub(payload, secrets)) for _, payload in events)
    times = ", ".join(literal(utcnow()) for _ in events)
    task, run_literal = literal(task_id), literal(run_id)
    fence = f"EXECUTE {_FENCE_STATEMENT}({run_literal}, {int(attempt)})"
    if len(events) == 1:
        statement, values = _APPEND_ONE_STATEMENT, f"{kinds}, {payloads}, {times}"
    else:
        statement, values = _APPEND_STATEMENT, f"ARRAY[{kinds}], ARRAY[{payloads}], ARRAY[{times}]"
    insert = f"EXECUTE {statement}({task}, {run_literal}, {int(attempt)}, {values})"
    flush_sql = f"EXECUTE {_FLUSH_STATEMENT}" if flush else None
    return feed.append_in_order(driver, info, _PREPARE, (fence, insert, flush_sql))


_SET_SESSION = update(_TASKS).where(_TASKS.c.id == bindparam("task"))


def set_session(conn: Connection, task_id: str, session_id: str) -> None:
    """Remember the runtime's session id on the task (a re-run resumes it)."""
    conn.execute(_SET_SESSION, {"task": task_id, "session_id": session_id})
