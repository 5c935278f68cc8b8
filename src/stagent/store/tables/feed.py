"""Tables of what happened: the event log (the change feed), its PostgreSQL outbox, the inbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stagent.domain.ids import utcnow
from stagent.store.tables.base import Base, SeqType, Timestamp


class AgentEventRow(Base):
    """The append-only log of everything that happens, which doubles as the workspace's change
    feed (by ``seq``). Each event names its subject (a task, a run, a budget ...).

    ``task_id`` references ``tasks`` on SQLite only (`SQLITE_ONLY_FOREIGN_KEYS`, migration
    0024): on PostgreSQL the check locked the task row once per run batch. A task row is never
    deleted, so no event is left naming a missing task."""

    __tablename__ = "agent_events"
    __table_args__ = (
        Index("ix_agent_events_task_id_seq", "task_id", "seq"),
        Index("ix_agent_events_run_id", "run_id"),
        ForeignKeyConstraint(["task_id"], ["tasks.id"], ondelete="CASCADE").ddl_if(
            dialect="sqlite"
        ),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    task_id: Mapped[str | None] = mapped_column(String(32))
    run_id: Mapped[str | None] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16), default="task")
    """``task``, ``run``, ``approval``, ``budget``; later ``workflow``, ``schedule``, ``chat``."""
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


SQLITE_ONLY_FOREIGN_KEYS = frozenset({"fk_agent_events_task_id_tasks"})
"""Foreign keys the migrations create on SQLite only (0024): the drift check skips them on
PostgreSQL."""


class FeedOutboxRow(Base):
    """Events written by a running agent on PostgreSQL, waiting to enter the feed.

    Writers insert here without any shared lock; a short publishing transaction moves them into
    ``agent_events`` under the feed lock, so ``seq`` order is commit order (see
    `stagent.store.feed`). Empty on SQLite (one writer at a time needs no outbox).
    """

    __tablename__ = "feed_outbox"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    subject_kind: Mapped[str] = mapped_column(String(16), default="task")
    subject_id: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(24))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class InboxItemRow(Base):
    """An inbox item (a notification): a question, an approval request or a notice for a person.

    Named ``inbox_items`` because DBOS, which shares the database, owns a ``notifications`` table.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (Index("ix_inbox_items_task_id", "task_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    run_id: Mapped[str | None] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    read: Mapped[bool] = mapped_column(Boolean, default=False)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    responded_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
