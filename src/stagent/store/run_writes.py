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

from typing import Any, cast

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.orm import Session

from stagent.domain.ids import utcnow
from stagent.domain.runs import RunStatus
from stagent.store.tables import AgentEventRow, RunRow, TaskRow

_ACTIVE = (RunStatus.QUEUED.value, RunStatus.RUNNING.value, RunStatus.WAITING.value)
_EVENTS = cast(Table, AgentEventRow.__table__)
_TASKS = cast(Table, TaskRow.__table__)


def owns(db: Connection | Session, run_id: str, attempt: int) -> bool:
    """True while ``attempt`` is the run's newest and the run has not ended: the write may go on.

    Call it inside the write transaction that writes for the run.
    """
    query = select(RunRow.attempt, RunRow.status).where(RunRow.id == run_id)
    bind = db if isinstance(db, Connection) else db.connection()
    if bind.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    row = db.execute(query).one_or_none()
    return row is not None and row[0] == attempt and row[1] in _ACTIVE


def run_state(db: Connection | Session, run_id: str) -> tuple[int, str] | None:
    """``(attempt, status)`` of a run, or None if it is gone (a plain read, no lock)."""
    row = db.execute(select(RunRow.attempt, RunRow.status).where(RunRow.id == run_id)).one_or_none()
    return (int(row[0]), str(row[1])) if row is not None else None


def append_event(
    conn: Connection, *, task_id: str, run_id: str, kind: str, payload: dict[str, Any]
) -> None:
    """Insert one event of a task's run (Core; the same row `events.append` would write)."""
    conn.execute(
        insert(_EVENTS),
        {
            "task_id": task_id,
            "run_id": run_id,
            "subject_kind": "task",
            "subject_id": task_id,
            "kind": kind,
            "payload": payload,
            "created_at": utcnow(),
        },
    )


def set_session(conn: Connection, task_id: str, session_id: str) -> None:
    """Remember the runtime's session id on the task (a re-run resumes it)."""
    conn.execute(update(_TASKS).where(_TASKS.c.id == task_id).values(session_id=session_id))
