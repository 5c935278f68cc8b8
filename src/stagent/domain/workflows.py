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
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stagent.domain.conditions import ConditionError, parse_condition

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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetryPolicy(_Model):
    """How often a failed step is tried again, and how long to wait between tries."""

    attempts: int = Field(default=1, ge=1, le=10)
    backoff_seconds: float = Field(default=0, ge=0, le=3600)


class WorkflowStep(_Model):
    """One step: a prompt for an agent with a profile (and optionally a runtime and model)."""

    id: str = Field(json_schema_extra={"pattern": STEP_ID.pattern})
    name: str = Field(min_length=1, max_length=200)
    prompt: str = Field(min_length=1)
    profile: str | None = None
    runtime: str | None = None
    model: str | None = None
    depends_on: tuple[str, ...] = ()
    requires_approval: bool = False
    """A person approves (optionally with a comment the step's prompt gets) before it starts."""
    approval_timeout_seconds: float | None = Field(default=None, gt=0, le=30 * 24 * 3600)
    """How long the checkpoint waits for a person; none: it waits until someone decides."""
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    condition: str | None = None
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

    @model_validator(mode="after")
    def _gate_timeout(self) -> Self:
        if self.approval_timeout_seconds is not None and not self.requires_approval:
            raise ValueError(
                "approval_timeout_seconds is set but requires_approval is not; "
                "set requires_approval: true or remove the timeout"
            )
        return self


class ParallelSettings(_Model):
    """Fork/join: how many branches run at once; what a failed branch does to the join."""

    max_concurrency: int = Field(default=3, ge=1, le=5)
    on_branch_failure: Literal["fail", "synthesize"] = "fail"


class LoopSettings(_Model):
    """When an autonomous loop stops."""

    max_iterations: int = Field(ge=1, le=100)
    time_budget_seconds: float | None = Field(default=None, gt=0)
    completion_signal: str = "LOOP_COMPLETE"


class SwarmSettings(_Model):
    """How many swarm workers run at once."""

    worker_concurrency: int = Field(default=2, ge=1, le=5)


class WorkflowDefinition(_Model):
    """A whole workflow, validated for its pattern."""

    name: str = Field(min_length=1, max_length=100)
    pattern: Pattern
    steps: tuple[WorkflowStep, ...] = Field(min_length=1)
    parallel: ParallelSettings | None = None
    loop: LoopSettings | None = None
    swarm: SwarmSettings | None = None
    blueprint: dict[str, object] | None = None
    """Lineage when instantiated from a blueprint: its id, version and the variables used."""

    @model_validator(mode="after")
    def _shape(self) -> Self:
        ids = [step.id for step in self.steps]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate:
            raise ValueError(f"steps: two steps have the id {duplicate!r}")
        for step in self.steps:
            unknown = [d for d in step.depends_on if d not in ids or d == step.id]
            if unknown:
                raise ValueError(
                    f"step {step.id}: depends_on names {unknown[0]!r}, not another step"
                )
            if step.condition is not None:
                named = parse_condition(step.condition).steps()
                stranger = sorted(n for n in named if n not in ids or n == step.id)
                if stranger:
                    raise ValueError(
                        f"step {step.id}: condition names step {stranger[0]!r}, not another step"
                    )
        for key in ("parallel", "loop", "swarm"):
            if getattr(self, key) is not None and self.pattern != key:
                raise ValueError(
                    f"{key}: settings for the {key} pattern in a {self.pattern} workflow"
                )
        _CHECKS[self.pattern](self)
        return self


def _check_parallel(wf: WorkflowDefinition) -> None:
    branches = [s for s in wf.steps if not s.depends_on]
    joins = [s for s in wf.steps if s.depends_on]
    if not 2 <= len(branches) <= 5:
        raise ValueError(
            f"parallel: needs 2 to 5 branches (steps without depends_on), has {len(branches)}"
        )
    if len(joins) != 1:
        raise ValueError("parallel: needs exactly one synthesis step (the one with depends_on)")
    if sorted(joins[0].depends_on) != sorted(b.id for b in branches):
        raise ValueError(f"step {joins[0].id}: the synthesis step must depend on every branch once")


def _check_planner(wf: WorkflowDefinition) -> None:
    if len(wf.steps) < 2:
        raise ValueError("planner-executor: needs a planner step and at least one executor step")


def _check_loop(wf: WorkflowDefinition) -> None:
    if len(wf.steps) != 1:
        raise ValueError("loop: has exactly one step, the template each iteration runs")
    if wf.loop is None:
        raise ValueError("loop: needs loop settings with max_iterations")


def _check_swarm(wf: WorkflowDefinition) -> None:
    workers = len(wf.steps) - 2
    if not 2 <= workers <= 5:
        raise ValueError(
            f"swarm: needs a mayor, 2 to 5 workers and a refinery; has {workers} workers"
        )
    if any(s.depends_on for s in wf.steps):
        raise ValueError("swarm: steps have no depends_on (mayor -> workers -> refinery is fixed)")
    limit = wf.swarm.worker_concurrency if wf.swarm else 2
    if limit > workers:
        raise ValueError(f"swarm.worker_concurrency: {limit} is more than the {workers} workers")


def _no_check(wf: WorkflowDefinition) -> None:
    del wf


_CHECKS = {
    "sequence": _no_check,
    "checkpoint": _no_check,
    "parallel": _check_parallel,
    "planner-executor": _check_planner,
    "loop": _check_loop,
    "swarm": _check_swarm,
}
