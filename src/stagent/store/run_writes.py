"""The hot path of an executing run: its events, written through SQLAlchemy Core, each fenced by
the run's attempt in the same transaction.

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

from sqlalchemy import JSON, Connection, Table, TextClause, bindparam, select, text, update
from sqlalchemy.orm import Session

from stagent.domain.ids import utcnow
from stagent.domain.runs import RunStatus
from stagent.domain.scrub import scrub
from stagent.store.events import SECRETS_INFO
from stagent.store.tables import RunRow, TaskRow, Timestamp

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


def _fenced_insert(table: str, share_lock: bool) -> TextClause:
    lock = " FOR SHARE" if share_lock else ""
    return text(
        f"INSERT INTO {table} (task_id, run_id, subject_kind, subject_id, kind, payload,"
        " created_at) SELECT CAST(:task_id AS VARCHAR), CAST(:run_id AS VARCHAR), 'task',"
        " CAST(:task_id AS VARCHAR), CAST(:kind AS VARCHAR), :payload, :created_at"
        " WHERE EXISTS (SELECT 1 FROM runs WHERE id = :run_id AND attempt = :attempt"
        f" AND status IN ('queued', 'running', 'waiting'){lock})"
    ).bindparams(bindparam("payload", type_=JSON()), bindparam("created_at", type_=Timestamp))


_INSERT_FENCED = {
    "sqlite": _fenced_insert("agent_events", share_lock=False),
    "postgresql": _fenced_insert("feed_outbox", share_lock=True),
}


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
    and the insert together); False (nothing written) otherwise.

    On PostgreSQL the row goes to the outbox (`stagent.store.feed`), and the run row is share-
    locked by the statement, so a take-over commits before or after it, never in between.
    """
    secrets: tuple[str, ...] = conn.info.get(SECRETS_INFO, ())
    result = conn.execute(
        _INSERT_FENCED[conn.dialect.name],
        {
            "task_id": task_id,
            "run_id": run_id,
            "attempt": attempt,
            "kind": kind,
            "payload": scrub(payload, secrets),
            "created_at": utcnow(),
        },
    )
    return bool(getattr(result, "rowcount", 0))


def append_events(
    conn: Connection,
    *,
    task_id: str,
    run_id: str,
    attempt: int,
    events: Sequence[tuple[str, dict[str, Any]]],
) -> int:
    """`append_event` for each of ``events`` (``(kind, payload)``, in order) on one connection
    (on SQLite, one transaction); stops at the first one refused. Returns how many were
    written."""
    for written, (kind, payload) in enumerate(events):
        if not append_event(
            conn, task_id=task_id, run_id=run_id, attempt=attempt, kind=kind, payload=payload
        ):
            return written
    return len(events)


_SET_SESSION = update(_TASKS).where(_TASKS.c.id == bindparam("task"))


def set_session(conn: Connection, task_id: str, session_id: str) -> None:
    """Remember the runtime's session id on the task (a re-run resumes it)."""
    conn.execute(_SET_SESSION, {"task": task_id, "session_id": session_id})
