"""Projects, tasks, runs and events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from stagent.domain.events import LoggedEvent
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.domain.tasks import Project, Task, TaskStatus
from stagent.schemas.base import Schema


def _usd(micros: int) -> str:
    """Micro-USD as text: two decimals, more only when they matter (``"0.0042"``)."""
    whole, part = divmod(micros, 1_000_000)
    if micros % 10_000 == 0:
        return f"{whole}.{part // 10_000:02d}"
    return f"{whole}.{part:06d}".rstrip("0")


class ProjectSchema(Schema):
    """A project with its task counts by status."""

    id: str
    name: str
    description: str
    working_directory: str | None
    created_at: datetime
    updated_at: datetime
    task_counts: dict[str, int] = Field(default_factory=lambda: {})

    @classmethod
    def of(cls, project: Project, counts: Mapping[str, int] | None = None) -> ProjectSchema:
        """Build from the domain value."""
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            working_directory=project.working_directory,
            created_at=project.created_at,
            updated_at=project.updated_at,
            task_counts=dict(counts or {}),
        )


class SubjectSchema(Schema):
    """What something is about: ``{"kind": "task", "id": "tsk_..."}``."""

    kind: str
    id: str

    @classmethod
    def of(cls, subject: Subject) -> SubjectSchema:
        """Build from the domain value."""
        return cls(kind=subject.kind, id=subject.id)


class EventSchema(Schema):
    """One event of the log (the change feed)."""

    seq: int
    task_id: str | None
    run_id: str | None
    subject: SubjectSchema | None
    kind: str
    payload: dict[str, Any]
    summary: str
    created_at: datetime | None

    @classmethod
    def of(cls, event: LoggedEvent) -> EventSchema:
        """Build from the domain value."""
        return cls(
            seq=event.seq,
            task_id=event.task_id,
            run_id=event.run_id,
            subject=SubjectSchema.of(event.subject) if event.subject is not None else None,
            kind=event.kind,
            payload=event.payload,
            summary=event.summary,
            created_at=event.created_at,
        )


class RunSchema(Schema):
    """One run: its subject, options, attempt, status, times, stop reason and cost."""

    id: str
    subject: SubjectSchema
    task_id: str | None
    number: int
    runtime: str
    options: dict[str, Any] = Field(description="the resolved run options it used")
    status: RunStatus
    attempt: int
    waiting_on: list[str]
    stop_reason: str | None
    result: str | None
    error: str | None
    cost_micros: int
    cost_usd: str
    workflow_id: str | None
    created_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None

    @classmethod
    def of(cls, run: Run) -> RunSchema:
        """Build from the domain value."""
        return cls(
            id=run.id,
            subject=SubjectSchema.of(run.subject),
            task_id=run.task_id,
            number=run.number,
            runtime=run.runtime,
            options=run.options.stored(),
            status=run.status,
            attempt=run.attempt,
            waiting_on=list(run.waiting_on),
            stop_reason=run.stop_reason,
            result=run.result,
            error=run.error,
            cost_micros=run.cost_micros,
            cost_usd=_usd(run.cost_micros),
            workflow_id=run.workflow_id,
            created_at=run.created_at,
            started_at=run.started_at,
            ended_at=run.ended_at,
            duration_seconds=run.duration_seconds,
        )


class TaskSchema(Schema):
    """A task."""

    id: str
    title: str
    description: str
    status: TaskStatus
    project_id: str | None
    runtime: str
    simulated: bool = Field(description="true when no model is involved (a scripted runtime)")
    profile: str | None
    priority: int
    options: dict[str, Any] = Field(description="the run options each run starts from")
    result: str | None
    error: str | None
    run_count: int
    workflow_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, task: Task, *, simulated: bool) -> TaskSchema:
        """Build from the domain value."""
        return cls(**_task_fields(task, simulated))


class TaskDetailSchema(TaskSchema):
    """A task with its runs and its event log."""

    runs: list[RunSchema]
    events: list[EventSchema]

    @classmethod
    def detail(
        cls, task: Task, *, simulated: bool, runs: Iterable[Run], events: Iterable[LoggedEvent]
    ) -> TaskDetailSchema:
        """Build from the domain values."""
        return cls(
            **_task_fields(task, simulated),
            runs=[RunSchema.of(run) for run in runs],
            events=[EventSchema.of(event) for event in events],
        )


def _task_fields(task: Task, simulated: bool) -> dict[str, Any]:
    return {
        "id": task.id,
        "title": task.title,
        "description": task.description,
        "status": task.status,
        "project_id": task.project_id,
        "runtime": task.runtime,
        "simulated": simulated,
        "profile": task.profile,
        "priority": task.priority,
        "options": task.options.stored(),
        "result": task.result,
        "error": task.error,
        "run_count": task.run_count,
        "workflow_id": task.workflow_id,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    }
