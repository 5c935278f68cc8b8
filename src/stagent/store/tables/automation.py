"""Tables of workflows and schedules: definitions, steps, schedules and their firings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from stagent.domain.ids import utcnow
from stagent.store.tables.base import Base, Timestamp


class WorkflowRow(Base):
    """A workflow: its definition (the data the engine interprets) and where its latest run is."""

    __tablename__ = "workflows"
    __table_args__ = (Index("ix_workflows_status", "status"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    pattern: Mapped[str] = mapped_column(String(24))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The validated `stagent.domain.workflows.WorkflowDefinition` as data."""
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    """``draft``, ``running``, ``paused``, ``completed``, ``failed`` or ``cancelled``."""
    stop_reason: Mapped[str | None] = mapped_column(Text)
    stop_code: Mapped[str | None] = mapped_column(String(32))
    """Why the run stopped, for machines (`stagent.domain.workflow_runs.StopCode`)."""
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    """Engine executions of the current run (a resume or a retry starts another)."""
    engine_id: Mapped[str | None] = mapped_column(String(120))
    """The durable engine's id of the execution now driving the run."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WorkflowStepRow(Base):
    """One step of one workflow run: the child task it runs as, its status and its output."""

    __tablename__ = "workflow_steps"
    __table_args__ = (
        Index("uq_workflow_steps_key", "workflow_id", "run_number", "step_key", unique=True),
        Index("ix_workflow_steps_task_id", "task_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    run_number: Mapped[int] = mapped_column(Integer)
    step_key: Mapped[str] = mapped_column(String(80))
    """The step's id in the definition, or ``<id>#<n>`` for a step made at run time from it
    (a loop iteration, a plan step)."""
    name: Mapped[str | None] = mapped_column(String(200))
    """A run-time step's name (None: the definition step's)."""
    position: Mapped[int] = mapped_column(Integer, default=0)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``waiting`` (at its checkpoint), ``running``, ``completed``, ``failed``,
    ``skipped`` (its condition was false) or ``blocked``."""
    output: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None] = mapped_column(Timestamp)
    ended_at: Mapped[datetime | None] = mapped_column(Timestamp)


class WorkflowRunDefinitionRow(Base):
    """The definition one run of a workflow started from (a copy: an edit of the workflow
    changes its ``definition``, never a run's). Every round of the run (resume, retry) runs it,
    and the run's view draws it."""

    __tablename__ = "workflow_run_definitions"

    workflow_id: Mapped[str] = mapped_column(
        ForeignKey("workflows.id", ondelete="CASCADE"), primary_key=True
    )
    run_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The validated `stagent.domain.workflows.WorkflowDefinition` as data, as stored then."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)


class ScheduleRow(Base):
    """A schedule: what it fires (a prompt with a runtime and profile, a workflow, or a
    blueprint with variables), when, and its limits."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_status_next_fire_at", "status", "next_fire_at"),
        Index("ix_schedules_project_id", "project_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    project_id: Mapped[str | None] = mapped_column(ForeignKey("projects.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="active")
    """``active``, ``paused``, ``completed`` (a one-shot fired) or ``expired``."""
    target_kind: Mapped[str] = mapped_column(String(16), default="prompt")
    """``prompt``, ``workflow`` (``target_ref`` names it) or ``blueprint`` (``target_ref`` and
    ``variables``)."""
    prompt: Mapped[str | None] = mapped_column(Text)
    runtime: Mapped[str] = mapped_column(String(40), default="scripted")
    profile: Mapped[str | None] = mapped_column(String(120))
    target_ref: Mapped[str | None] = mapped_column(String(120))
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timing_kind: Mapped[str] = mapped_column(String(16))
    """``cron``, ``interval`` or ``once``."""
    cron: Mapped[str | None] = mapped_column(String(120))
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    anchor_at: Mapped[datetime | None] = mapped_column(Timestamp)
    once_at: Mapped[datetime | None] = mapped_column(Timestamp)
    zone: Mapped[str] = mapped_column(String(64), default="UTC")
    timing_source: Mapped[str] = mapped_column(String(200), default="")
    """What the person typed: ``every weekday at 9am``, ``15m``, a cron expression."""
    max_firings: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    overlap: Mapped[str] = mapped_column(String(8), default="skip")
    missed: Mapped[str] = mapped_column(String(8), default="once")
    firing_count: Mapped[int] = mapped_column(Integer, default=0)
    next_fire_at: Mapped[datetime | None] = mapped_column(Timestamp)
    last_fired_at: Mapped[datetime | None] = mapped_column(Timestamp)
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow, onupdate=utcnow)


class ScheduleFiringRow(Base):
    """One occurrence of a schedule and what became of it. The id is derived from the schedule
    and the occurrence time, so two processes can never record (or fire) one occurrence twice."""

    __tablename__ = "schedule_firings"
    __table_args__ = (
        Index("ix_schedule_firings_schedule_occurrence", "schedule_id", "occurrence_at"),
        Index("ix_schedule_firings_status", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    schedule_id: Mapped[str] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    occurrence_at: Mapped[datetime] = mapped_column(Timestamp)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    """True for a person's "fire now"."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``waiting``, ``fired``, ``skipped``, ``blocked``, ``missed``, ``failed``."""
    reason: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[str | None] = mapped_column(ForeignKey("tasks.id", ondelete="SET NULL"))
    workflow_id: Mapped[str | None] = mapped_column(ForeignKey("workflows.id", ondelete="SET NULL"))
    """The workflow a workflow or blueprint firing ran (a blueprint firing makes a new one)."""
    workflow_run: Mapped[int | None] = mapped_column(Integer)
    """Which run of that workflow the firing started."""
    created_at: Mapped[datetime] = mapped_column(Timestamp, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp)
