"""A workflow definition: the data the workflow engine interprets (one of six patterns).

Shaped as the workflow files people write::

    name: review-and-fix
    pattern: sequence
    steps:
      - {id: review, name: Review, prompt: "Review the diff", runtime: claude}
      - {id: fix, name: Fix, prompt: "Fix what the review found", requires_approval: true}

Validation follows each pattern's shape: parallel has 2-5 branches and one synthesis step that
depends on every branch; planner-executor has a planner and at least one executor; a loop has
one step (its template) and ``loop.max_iterations``; a swarm has a mayor, 2-5 workers and a
refinery, with ``swarm.worker_concurrency`` between 1 and the number of workers.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.config import JsonDict

from stagent.domain.conditions import ConditionError, parse_condition
from stagent.domain.limits import CLEAN_TEXT
from stagent.domain.workflow_outline import outline_of
from stagent.domain.workflow_shape import ShapeIssue, shape_issues
from stagent.domain.yaml_lines import format_path

Pattern = Literal["sequence", "parallel", "checkpoint", "planner-executor", "loop", "swarm"]
PATTERNS: tuple[Pattern, ...] = (
    "sequence",
    "parallel",
    "checkpoint",
    "planner-executor",
    "loop",
    "swarm",
)
STEP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_PLAIN: JsonDict = {"pattern": CLEAN_TEXT}
"""The schema of text in a definition: no NUL byte, no bidi control (`parse_definition` refuses
them in any text of new input; stored definitions are read as they were)."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Model):
    """How often a failed step is tried again, and how long to wait between tries."""

    attempts: int = Field(default=1, ge=1, le=10)
    backoff_seconds: float = Field(default=0, ge=0, le=3600)


DEFAULT_STEP_RUNTIME = "scripted"
"""The runtime of a step that names none (as a task's)."""


class WorkflowStep(_Model):
    """One step: a prompt for an agent with a profile (and optionally a runtime and model)."""

    id: str = Field(json_schema_extra={"pattern": STEP_ID.pattern})
    name: str = Field(min_length=1, max_length=200, json_schema_extra=_PLAIN)
    prompt: str = Field(min_length=1, json_schema_extra=_PLAIN)
    profile: str | None = Field(default=None, json_schema_extra=_PLAIN)
    runtime: str | None = Field(default=None, json_schema_extra=_PLAIN)
    model: str | None = Field(default=None, json_schema_extra=_PLAIN)
    depends_on: tuple[str, ...] = ()
    requires_approval: bool = False
    """A person approves (optionally with a comment the step's prompt gets) before it starts."""
    approval_timeout_seconds: float | None = Field(default=None, gt=0, le=30 * 24 * 3600)
    """How long the checkpoint waits for a person; none: it waits until someone decides (set
    only with ``requires_approval``: the definition's checks refuse it alone)."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    condition: str | None = Field(default=None, json_schema_extra=_PLAIN)
    """When the step runs (`stagent.domain.conditions`); false: it is skipped, with the reason."""
    timeout_seconds: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    """The longest the step's agent may run; then it is stopped and the step fails."""
    options: dict[str, object] | None = None
    """Run options for the step's task (`stagent.domain.run_options.RunOptions` without
    ``runtime``), e.g. a scripted scenario; checked when the workflow is added."""

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not STEP_ID.match(value):
            raise ValueError("must be lowercase letters, digits, '-' or '_' (at most 64)")
        return value

    @field_validator("condition")
    @classmethod
    def _condition(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_condition(value)
            except ConditionError as exc:
                raise ValueError(str(exc)) from None
        return value


class ParallelSettings(_Model):
    """Fork/join: how many branches run at once; what a failed branch does to the join."""

    max_concurrency: int = Field(default=3, ge=1, le=5)
    on_branch_failure: Literal["fail", "synthesize"] = "fail"


class LoopSettings(_Model):
    """When an autonomous loop stops."""

    max_iterations: int = Field(ge=1, le=100)
    time_budget_seconds: float | None = Field(default=None, gt=0)
    completion_signal: str = Field(default="LOOP_COMPLETE", json_schema_extra=_PLAIN)


class SwarmSettings(_Model):
    """How many swarm workers run at once."""

    worker_concurrency: int = Field(default=2, ge=1, le=5)


class WorkflowDefinition(_Model):
    """A whole workflow, validated for its pattern."""

    name: str = Field(min_length=1, max_length=100, json_schema_extra=_PLAIN)
    pattern: Pattern
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)
    parallel: ParallelSettings | None = None
    loop: LoopSettings | None = None
    swarm: SwarmSettings | None = None
    blueprint: dict[str, object] | None = None
    """Lineage when instantiated from a blueprint: its id, version and the variables used."""

    @model_validator(mode="after")
    def _shape(self, info: ValidationInfo) -> Self:
        """The checks across steps (`stagent.domain.workflow_shape`): a caller that passes
        ``context={"issues": [...]}`` gets every issue in that list (and the checks for new
        input only) and the outline they read in ``context["outline"]``; otherwise the first
        one raises."""
        context = cast(dict[str, object], info.context or {})
        collected = context.get("issues")
        outline = outline_of(self)
        issues = shape_issues(outline, fresh=collected is not None)
        if isinstance(collected, list):
            cast(list[ShapeIssue], collected).extend(issues)
            context["outline"] = outline
        elif issues:
            where = format_path(list(issues[0].path), empty="definition")
            raise ValueError(f"{where}: {issues[0].message}")
        return self


_definitions: dict[str, tuple[dict[str, Any], WorkflowDefinition]] = {}
"""The last definition validated per workflow id, with the data it was validated from."""


def definition_of(workflow_id: str, data: dict[str, Any]) -> WorkflowDefinition:
    """``data`` validated (`WorkflowDefinition`), reused while workflow ``workflow_id``'s
    stored definition is unchanged: a run validates its definition when it starts, when its
    rows are written, when it is read back and when its interpreter begins, and a step's
    checks read it again (each is O(steps); an equal dict compares in microseconds). The
    data must not be changed in place after (stored definitions are replaced, never
    edited)."""
    cached = _definitions.get(workflow_id)
    if cached is not None and cached[0] == data:
        return cached[1]
    definition = WorkflowDefinition.model_validate(data)
    if len(_definitions) > 256:
        _definitions.clear()
    _definitions[workflow_id] = (data, definition)
    return definition
