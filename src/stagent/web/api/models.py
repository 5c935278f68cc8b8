"""Request and response models of the JSON API (they make up the OpenAPI schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stagent.domain.events import LoggedEvent
from stagent.domain.limits import DESCRIPTION_MAX, NAME_MAX, PATH_MAX, TITLE_MAX
from stagent.domain.tasks import Project, Task, TaskStatus
from stagent.runtimes.base import Runtime

T = TypeVar("T")


class ListOut(BaseModel, Generic[T]):
    """A list response: the rows and how many there are."""

    data: list[T]
    count: int


def list_of(rows: list[T]) -> ListOut[T]:
    """Wrap rows in the list envelope."""
    return ListOut[T](data=rows, count=len(rows))


class FieldErrorOut(BaseModel):
    """One invalid field."""

    field: str
    message: str


class ErrorOut(BaseModel):
    """The one error shape every endpoint returns."""

    ok: bool = False
    status: int
    code: str
    error: str
    hint: str | None = None
    errors: list[FieldErrorOut] | None = None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProjectIn(_In):
    """A new project."""

    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    directory: str | None = Field(
        default=None, max_length=PATH_MAX, description="working directory of its agents"
    )


class ProjectOut(BaseModel):
    """A project with its task counts by status."""

    id: str
    name: str
    description: str
    working_directory: str | None
    created_at: datetime
    updated_at: datetime
    task_counts: dict[str, int] = Field(default_factory=lambda: {})

    @classmethod
    def of(cls, project: Project, counts: dict[str, int] | None = None) -> ProjectOut:
        """Build from the domain value."""
        return cls(
            id=project.id,
            name=project.name,
            description=project.description,
            working_directory=project.working_directory,
            created_at=project.created_at,
            updated_at=project.updated_at,
            task_counts=counts or {},
        )


class TaskIn(_In):
    """A new task."""

    title: str = Field(min_length=1, max_length=TITLE_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    project: str | None = Field(default=None, description="project id or name")
    runtime: str = "scripted"
    profile: str | None = None
    priority: int = Field(default=2, ge=0, le=4, description="0 (highest) to 4")
    scenario: dict[str, Any] | None = Field(
        default=None, description="scripted runtime only: an inline scenario object"
    )


NOT_NULLABLE = ("title", "description", "runtime", "priority")


class TaskPatch(_In):
    """Fields to change on a task that is not running (omitted fields stay as they are)."""

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    project: str | None = Field(default=None, description="project id or name; null detaches")
    runtime: str | None = None
    profile: str | None = None
    priority: int | None = Field(default=None, ge=0, le=4)

    @model_validator(mode="after")
    def _no_null_required(self) -> TaskPatch:
        for name in NOT_NULLABLE:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null; leave it out to keep it")
        return self

    def changes(self) -> dict[str, Any]:
        """The service-layer change set (``project`` becomes ``project_id``)."""
        data = self.model_dump(exclude_unset=True)
        if "project" in data:
            data["project_id"] = data.pop("project")
        return data


class MoveIn(_In):
    """A Board drag: the column the card was dropped on."""

    status: TaskStatus


class TaskOut(BaseModel):
    """A task."""

    id: str
    status: TaskStatus
    title: str
    description: str
    result: str | None
    error: str | None
    runtime: str
    profile: str | None
    project_id: str | None
    priority: int
    run_count: int
    workflow_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, task: Task) -> TaskOut:
        """Build from the domain value."""
        return cls(**_task_fields(task))


class EventOut(BaseModel):
    """One event of a task's log."""

    seq: int
    task_id: str
    kind: str
    payload: dict[str, Any]
    summary: str
    created_at: datetime | None

    @classmethod
    def of(cls, event: LoggedEvent) -> EventOut:
        """Build from the domain value."""
        return cls(
            seq=event.seq,
            task_id=event.task_id,
            kind=event.kind,
            payload=event.payload,
            summary=event.summary,
            created_at=event.created_at,
        )


class TaskDetailOut(TaskOut):
    """A task with its event log."""

    events: list[EventOut]

    @classmethod
    def with_events(cls, task: Task, events: list[LoggedEvent]) -> TaskDetailOut:
        """Build from the domain values."""
        return cls(**_task_fields(task), events=[EventOut.of(e) for e in events])


class CapabilitiesOut(BaseModel):
    """What a runtime can do."""

    resume: bool
    cancel: bool
    approvals: bool
    tools: bool
    mcp: bool
    simulated: bool


class RuntimeOut(BaseModel):
    """A runtime a task can run on."""

    name: str
    label: str
    simulated: bool
    capabilities: CapabilitiesOut

    @classmethod
    def of(cls, runtime: Runtime) -> RuntimeOut:
        """Build from a runtime adapter."""
        caps = runtime.capabilities
        return cls(
            name=runtime.name,
            label=runtime.label,
            simulated=caps.simulated,
            capabilities=CapabilitiesOut(
                resume=caps.resume,
                cancel=caps.cancel,
                approvals=caps.approvals,
                tools=caps.tools,
                mcp=caps.mcp,
                simulated=caps.simulated,
            ),
        )


def _task_fields(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "status": task.status,
        "title": task.title,
        "description": task.description,
        "result": task.result,
        "error": task.error,
        "runtime": task.runtime,
        "profile": task.profile,
        "project_id": task.project_id,
        "priority": task.priority,
        "run_count": task.run_count,
        "workflow_id": task.workflow_id,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    }
