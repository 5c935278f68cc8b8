"""Tables of the work itself: projects, tasks and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stagent.domain.ids import utcnow
from stagent.store.tables.base import Base, Timestamp


class ProjectRow(Base):
    """A project: a name, a description and the directory its agents work in."""

    __tablename__ = "projects"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    working_directory: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class TaskRow(Base):
    """A task and the state of its latest run."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_status", "status"),
        Index("ix_tasks_project_id", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="planned")
    runtime: Mapped[str] = mapped_column(String(40), default="scripted")
    profile: Mapped[str | None] = mapped_column(String(120))
    priority: Mapped[int] = mapped_column(Integer, default=2)
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The task's run options (`stagent.domain.run_options.RunOptions`, without ``runtime``)."""
    workflow_id: Mapped[str | None] = mapped_column(String(80))
    session_id: Mapped[str | None] = mapped_column(String(120))
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    deleted_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """Set when a person deletes the task: it disappears everywhere, its log stays for audit."""


class RunRow(Base):
    """One execution of an agent: its subject, options, attempt, status, times and cost."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("uq_runs_subject_number", "subject_kind", "subject_id", "number", unique=True),
        Index("ix_runs_task_id", "task_id"),
        Index("ix_runs_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(24), default="task")
    """``task`` (``workflow_step`` and ``chat_turn`` are reserved; a schedule firing starts a task
    or a workflow run and links to it from ``schedule_firings``, it is not a run subject)."""
    subject_id: Mapped[str] = mapped_column(String(64))
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    """The task this run belongs to (its subject, or the task a workflow step runs as)."""
    number: Mapped[int] = mapped_column(Integer, default=1)
    runtime: Mapped[str] = mapped_column(String(40))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The resolved run options this run used (without ``runtime``)."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    """Executions so far; the fencing token every write of the run checks."""
    waiting_on: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Holds of a suspended run (``approval:<id>``, ``budget:<id>``)."""
    stop_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    workflow_id: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)
