"""Request and response models of the JSON API (they make up the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, model_validator
from pydantic.json_schema import SkipJsonSchema

from stagent.domain.limits import (
    BIDI_CONTROLS,
    DESCRIPTION_MAX,
    NAME_MAX,
    PATH_MAX,
    RULE_MAX,
    TITLE_MAX,
)
from stagent.domain.tasks import TaskStatus
from stagent.runtimes.base import Runtime
from stagent.schemas import EventSchema, ProjectSchema, RunSchema, TaskDetailSchema, TaskSchema

T = TypeVar("T")


class ListOut(BaseModel, Generic[T]):
    """A list response: the rows and how many there are."""

    data: list[T]
    count: int


def list_of(rows: list[T]) -> ListOut[T]:
    """Wrap rows in the list envelope."""
    return ListOut[T](data=rows, count=len(rows))


class FieldErrorOut(BaseModel):
    """One invalid field: what is wrong and, where known, how to fix it and where it is (a
    workflow definition's file, line, column and step)."""

    field: str
    message: str
    hint: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    step: str | None = None


class ErrorOut(BaseModel):
    """The one error shape every endpoint returns."""

    ok: bool = False
    status: int
    code: str
    error: str
    hint: str | None = None
    errors: list[FieldErrorOut] | None = None


class _In(BaseModel):
    # Python's regular expressions, as the server's own checks (``str.strip``) read whitespace.
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


NO_NUL = r"^[^\x00]*$"
"""A path never holds a NUL byte (the operating system cannot take one)."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("a path cannot contain a NUL byte")
    return value


def _path_schema(min_length: int) -> dict[str, object]:
    schema: dict[str, object] = {"type": "string", "maxLength": PATH_MAX, "pattern": NO_NUL}
    if min_length:
        schema["minLength"] = min_length
    return schema


PathText = Annotated[
    str, Field(max_length=PATH_MAX), AfterValidator(_no_nul), WithJsonSchema(_path_schema(0))
]
"""A path on the server's machine: at most `PATH_MAX` characters, no NUL byte (as the services'
``checked_path``; the schema's ``pattern`` says so, the 422 names the field)."""
FilledPath = Annotated[
    str,
    Field(min_length=1, max_length=PATH_MAX),
    AfterValidator(_no_nul),
    WithJsonSchema(_path_schema(1)),
]
"""`PathText` that is not empty."""


NOT_BLANK = r"\S"
"""A title holds at least one character that is not white space."""
NOT_TEXT = "\\x00" + BIDI_CONTROLS.pattern[1:-1]
"""What text a person types may not hold (``checked_text``): NUL, bidirectional controls."""
CLEAN_TEXT = rf"^[^{NOT_TEXT}]*$"
CLEAN_FILLED = rf"^[^{NOT_TEXT}]*[^{NOT_TEXT}\s][^{NOT_TEXT}]*$"
"""`CLEAN_TEXT` that is not blank (the services strip text, then refuse it empty)."""


def text_schema(max_length: int, min_length: int = 0, pattern: str = CLEAN_TEXT) -> WithJsonSchema:
    """The schema of text a person types: its length, and no NUL byte or bidi control."""
    schema: dict[str, object] = {"type": "string", "maxLength": max_length, "pattern": pattern}
    if min_length:
        schema["minLength"] = min_length
    return WithJsonSchema(schema)


Title = Annotated[
    str,
    Field(min_length=1, max_length=TITLE_MAX, pattern=NOT_BLANK),
    text_schema(TITLE_MAX, 1, CLEAN_FILLED),
]
"""A task's title: not blank, no NUL byte, no bidirectional control (the service refuses those
with a message naming the field; the schema's pattern says so)."""
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX), text_schema(DESCRIPTION_MAX)]
"""A task's or project's description (no NUL byte, no bidirectional control)."""
Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX, pattern=NOT_BLANK),
    text_schema(NAME_MAX, 1, CLEAN_FILLED),
]
"""A project's name: not blank, no NUL byte, no bidirectional control."""
RuleText = Annotated[
    str,
    Field(min_length=1, max_length=RULE_MAX, pattern=NOT_BLANK),
    text_schema(RULE_MAX, 1, CLEAN_FILLED),
]
"""A permission rule in Claude Code's syntax: not blank, no NUL byte, no bidirectional control."""


class ProjectIn(_In):
    """A new project."""

    name: Name
    description: Description = ""
    directory: PathText | None = Field(default=None, description="working directory of its agents")


ProjectOut = ProjectSchema
TaskOut = TaskSchema
EventOut = EventSchema
RunOut = RunSchema
TaskDetailOut = TaskDetailSchema


class TaskIn(_In):
    """A new task."""

    title: Title
    description: Description = ""
    project: str | None = Field(default=None, description="project id or name")
    runtime: str = "scripted"
    profile: str | None = None
    priority: int = Field(default=2, ge=0, le=4, description="0 (highest) to 4")
    scenario: dict[str, Any] | None = Field(
        default=None, description="scripted runtime only: an inline scenario object"
    )
    options: dict[str, Any] | None = Field(
        default=None,
        description="run options: model, instructions, allowed_tools, tool_policy, limits, "
        "working_directory, and the runtime's own (claude, codex, anthropic, scripted)",
    )


NOT_NULLABLE = ("title", "description", "runtime", "priority", "options")


class TaskPatch(_In):
    """Fields to change on a task that is not running (omitted fields stay as they are)."""

    # Fields that cannot be null are left out of the schema's ``null`` (omit them to keep them).
    title: Title | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    project: str | None = Field(default=None, description="project id or name; null detaches")
    runtime: str | SkipJsonSchema[None] = None
    profile: str | None = None
    priority: Annotated[int, Field(ge=0, le=4)] | SkipJsonSchema[None] = None
    options: dict[str, Any] | SkipJsonSchema[None] = Field(
        default=None, description="run options (replaced)"
    )

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
