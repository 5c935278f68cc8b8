"""Repository functions for the event log (the change feed). Each event names its subject: a
task (``task_id``), and within it the run it happened in (``run_id``); or, for events about no
task, another subject (a budget, a workspace notice ...)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Dialect, Table, func, select
from sqlalchemy.orm import Session

from stagent.domain.events import MAX_SEQ, LoggedEvent, LogKind
from stagent.domain.ids import ensure_aware, utcnow
from stagent.domain.runs import Subject
from stagent.domain.scrub import scrub
from stagent.store.connection import flushed_connection
from stagent.store.driver import Prebuilt
from stagent.store.tables import AgentEventRow, FeedOutboxRow


def to_event(row: AgentEventRow) -> LoggedEvent:
    """Map a row to the domain value."""
    return LoggedEvent(
        seq=row.seq,
        task_id=row.task_id,
        run_id=row.run_id,
        subject=Subject(row.subject_kind, row.subject_id),
        kind=row.kind,  # pyright: ignore[reportArgumentType]
        payload=dict(row.payload or {}),
        created_at=ensure_aware(row.created_at),
    )


SECRETS_INFO = "stagent_secrets"
"""``Session.info`` key of the secrets scrubbed from every appended payload (see `Store`)."""
FEED_LOCK_KEY = 7426001
"""PostgreSQL advisory lock held only while outbox rows get their ``seq`` (`stagent.store.feed`)."""
OUTBOX_INFO = "stagent_outbox"
"""``Session.info`` key set once a transaction put events in the outbox (`Store.write` then
publishes them after its commit)."""
OUTBOX_ROWS = "stagent_outbox_rows"
"""``Session.info`` key of a `Store.write` transaction on PostgreSQL: the events it appended,
not yet sent. They are inserted into the outbox in the round trip that commits the transaction
(`stagent.store.feed.commit_and_publish`): nothing reads the outbox inside a transaction, so
holding them costs no reader anything and saves a round trip per event."""

COMMIT_STATEMENTS = "stagent_commit_statements"
"""``Session.info`` key of a `Store.write` transaction on PostgreSQL: statements (every value a
literal) sent before its commit, in the commit's round trip, in order, before its held events
(`stagent.store.feed.commit_and_publish`). Only for a write nothing later in the transaction
reads: a budget reservation (`stagent.store.ledger.insert_at_commit`)."""

OutboxRow = tuple[str | None, str | None, str, str, str, Any, datetime]
"""An event held for the outbox: task_id, run_id, subject_kind, subject_id, kind, payload,
created_at (the columns of `stagent.store.feed.OUTBOX_COLUMNS`, in that order)."""

_EVENTS = cast(Table, AgentEventRow.__table__)
_OUTBOX = cast(Table, FeedOutboxRow.__table__)
_INSERTS = {False: Prebuilt(_EVENTS.insert()), True: Prebuilt(_OUTBOX.insert())}
"""Built once: building a statement costs more CPU than running it on the hot path (on SQLite
sent straight to the driver: `Prebuilt`)."""


def append(
    session: Session,
    task_id: str | None,
    kind: LogKind,
    payload: dict[str, Any],
    *,
    run_id: str | None = None,
    subject: Subject | None = None,
) -> None:
    """Add one event to the log. A task's event names the task (and the run it happened in); an
    event about no task names its ``subject``.

    One Core insert on the session's connection (no ORM unit of work). Readers tail the feed by
    ``seq``, so ``seq`` order must be commit order. SQLite has one writer at a time: the row
    goes straight into ``agent_events``. On PostgreSQL concurrent transactions could commit out of
    ``seq`` order, so the row goes to ``feed_outbox`` with no shared lock (in a `Store.write`
    transaction, with its commit: `OUTBOX_ROWS`), and `Store.write` publishes it after the
    commit: ``seq`` is assigned there, under a lock held for well under a millisecond
    (`stagent.store.feed`). Writers therefore never serialize on the feed.
    """
    payload = scrubbed(session, payload)
    if subject is None:
        if task_id is None:
            raise ValueError("an event names its task or its subject")
        subject = Subject("task", task_id)
    held: list[OutboxRow] | None = session.info.get(OUTBOX_ROWS)
    if held is not None:  # sent with the transaction's commit (see `OUTBOX_ROWS`)
        held.append((task_id, run_id, subject.kind, subject.id, kind, payload, utcnow()))
        return
    conn = flushed_connection(session)  # the event's task row (and what else it refers to) first
    outbox = conn.dialect.name == "postgresql"
    _INSERTS[outbox].execute(conn, _row(task_id, run_id, subject, kind, payload))
    if outbox:
        session.info[OUTBOX_INFO] = True


def _row(
    task_id: str | None, run_id: str | None, subject: Subject, kind: LogKind, payload: Any
) -> dict[str, Any]:
    """An event row's values, created now (``payload`` already scrubbed)."""
    return {
        "task_id": task_id,
        "run_id": run_id,
        "subject_kind": subject.kind,
        "subject_id": subject.id,
        "kind": kind,
        "payload": payload,
        "created_at": utcnow(),
    }


def append_on_driver(
    driver: Any,
    dialect: Dialect,
    secrets: tuple[str, ...],
    task_id: str,
    kind: LogKind,
    payload: dict[str, Any],
    *,
    run_id: str | None = None,
) -> None:
    """`append` of a task's event straight on SQLite's driver connection (in its open write
    transaction, no Session), ``payload`` scrubbed of ``secrets``: SQLite has one writer at a
    time, so the row goes straight into ``agent_events`` (a budget admission's note on its hot
    path, `stagent.store.hot_admission`)."""
    row = _row(task_id, run_id, Subject("task", task_id), kind, scrub(payload, secrets))
    _INSERTS[False].execute_on_driver(driver, dialect, row)


def append_many(
    session: Session,
    task_id: str,
    logged: Sequence[tuple[LogKind, dict[str, Any]]],
    *,
    run_id: str | None = None,
    unbound: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> None:
    """`append` for several events of one task (in order), in one statement (an executemany):
    what one lifecycle operation logs together. ``unbound``: events of no run logged first
    (a task's ``created``, when the task is made and run in one transaction)."""
    held: list[OutboxRow] | None = session.info.get(OUTBOX_ROWS)
    if held is not None or len(logged) + len(unbound) < 2:
        for kind, payload in unbound:
            append(session, task_id, kind, payload)
        for kind, payload in logged:
            append(session, task_id, kind, payload, run_id=run_id)
        return
    conn = flushed_connection(session)
    outbox = conn.dialect.name == "postgresql"
    secrets = session.info.get(SECRETS_INFO, ())
    _INSERTS[outbox].executemany(conn, _task_rows(secrets, task_id, logged, run_id, unbound))
    if outbox:
        session.info[OUTBOX_INFO] = True


def append_many_on_driver(
    driver: Any,
    dialect: Dialect,
    secrets: tuple[str, ...],
    task_id: str,
    logged: Sequence[tuple[LogKind, dict[str, Any]]],
    *,
    run_id: str | None = None,
    unbound: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> None:
    """`append_many` straight on SQLite's driver connection (as `append_on_driver`): one
    multi-row ``INSERT`` into ``agent_events`` (`Prebuilt.insert_many_on_driver`: one
    statement, not one a row), payloads scrubbed of ``secrets``."""
    rows = _task_rows(secrets, task_id, logged, run_id, unbound)
    _INSERTS[False].insert_many_on_driver(driver, dialect, rows)


def outbox_rows(
    secrets: tuple[str, ...],
    task_id: str,
    logged: Sequence[tuple[LogKind, dict[str, Any]]],
    *,
    run_id: str | None = None,
    unbound: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> list[OutboxRow]:
    """`append_many`'s events as rows held for the outbox (PostgreSQL, sent with a commit:
    `stagent.store.feed.commit_and_publish_hot`), payloads scrubbed of ``secrets``."""
    return [
        (r["task_id"], r["run_id"], "task", task_id, r["kind"], r["payload"], r["created_at"])
        for r in _task_rows(secrets, task_id, logged, run_id, unbound)
    ]


def _task_rows(
    secrets: tuple[str, ...],
    task_id: str,
    logged: Sequence[tuple[LogKind, dict[str, Any]]],
    run_id: str | None,
    unbound: Sequence[tuple[LogKind, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """The rows of `append_many`: ``unbound`` (no run), then ``logged`` (of ``run_id``)."""
    now = utcnow()
    return [
        {
            "task_id": task_id,
            "run_id": bound,
            "subject_kind": "task",
            "subject_id": task_id,
            "kind": kind,
            "payload": scrub(payload, secrets),
            "created_at": now,
        }
        for events, bound in ((unbound, None), (logged, run_id))
        for kind, payload in events
    ]


def scrubbed(session: Session, value: Any) -> Any:
    """``value`` with the session's secrets replaced (see `Store.scrub_secrets`)."""
    return scrub(value, session.info.get(SECRETS_INFO, ()))


def for_task(
    session: Session, task_id: str, *, after: int = 0, limit: int = 5000
) -> list[LoggedEvent]:
    """A task's events in order, optionally only those after ``seq``."""
    after = min(after, MAX_SEQ)  # larger does not fit the column: nothing is after it
    query = (
        select(AgentEventRow)
        .where(AgentEventRow.task_id == task_id, AgentEventRow.seq > after)
        .order_by(AgentEventRow.seq)
        .limit(limit)
    )
    return [to_event(row) for row in session.scalars(query)]


def for_run(session: Session, run_id: str, *, limit: int = 5000) -> list[LoggedEvent]:
    """A run's events in order."""
    query = (
        select(AgentEventRow)
        .where(AgentEventRow.run_id == run_id)
        .order_by(AgentEventRow.seq)
        .limit(limit)
    )
    return [to_event(row) for row in session.scalars(query)]


def since(session: Session, after: int, *, limit: int = 500) -> list[LoggedEvent]:
    """Every event after ``seq``, workspace-wide, in order."""
    after = min(after, MAX_SEQ)
    query = (
        select(AgentEventRow)
        .where(AgentEventRow.seq > after)
        .order_by(AgentEventRow.seq)
        .limit(limit)
    )
    return [to_event(row) for row in session.scalars(query)]


def last_seq(session: Session) -> int:
    """The newest ``seq`` in the workspace (0 if none)."""
    return int(session.scalar(select(func.max(AgentEventRow.seq))) or 0)


def count(session: Session, task_id: str, kind: LogKind | None = None) -> int:
    """How many events a task has (of one kind, optionally)."""
    query = select(func.count()).select_from(AgentEventRow).where(AgentEventRow.task_id == task_id)
    if kind is not None:
        query = query.where(AgentEventRow.kind == kind)
    return int(session.scalar(query) or 0)
