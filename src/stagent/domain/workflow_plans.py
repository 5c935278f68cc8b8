"""A planner-executor plan: the JSON list of steps a planner step returns (pure, no I/O).

The planner is asked (`stagent.engine.workflow_prompts.planner_prompt`) for a JSON list such as::

    [{"name": "Timeline", "prompt": "Build the UTC timeline", "executor": "timeline"}]

Models wrap JSON in prose or a fenced ```json block; `parse_plan` takes the fenced block when
there is one. Anything else that is wrong (not JSON, not a list, a step without a prompt, an
executor the workflow does not have, too many steps) is one `PlanError` naming what and where.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import cast

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from stagent.domain.errors import ValidationError

MAX_PLAN_STEPS = 20
FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


class PlanError(ValidationError):
    """The planner's output is not a usable plan."""

    code = "malformed_plan"


class PlanStep(BaseModel):
    """One step of a plan: what an executor step is asked to do."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=200, validation_alias=AliasChoices("name", "title"))
    prompt: str = Field(
        min_length=1, validation_alias=AliasChoices("prompt", "instructions", "description")
    )
    executor: str | None = None
    """Which executor step of the definition runs it (only needed when there are several)."""


_PLAN = TypeAdapter(list[PlanStep])


def parse_plan(text: str, executors: Sequence[str]) -> tuple[PlanStep, ...]:
    """The plan in a planner's output, each step's ``executor`` filled in; raises `PlanError`.

    ``executors`` are the ids of the definition's executor steps (the templates plan steps run
    as); a plan step must name one of them when there are several."""
    fenced = FENCE.search(text)
    body = (fenced.group(1) if fenced else text).strip()
    try:
        data: object = json.loads(body)
    except json.JSONDecodeError as exc:
        raise PlanError(
            f"the plan is not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            hint="the planner must answer with a JSON list of steps",
        ) from None
    if isinstance(data, dict):
        wrapped = cast("dict[str, object]", data)
        data = wrapped.get("steps", wrapped)
    if not isinstance(data, list):
        raise PlanError(
            f"the plan must be a JSON list of steps, not {_kind(data)}",
            hint='answer like [{"name": "...", "prompt": "..."}]',
        )
    items = cast("list[object]", data)
    if not items:
        raise PlanError("the plan has no steps", hint="a plan lists at least one step")
    if len(items) > MAX_PLAN_STEPS:
        raise PlanError(f"the plan has {len(items)} steps; at most {MAX_PLAN_STEPS} are allowed")
    try:
        steps = _PLAN.validate_python(items)
    except PydanticValidationError as exc:
        raise PlanError(f"the plan's {_first_error(exc)}") from None
    return tuple(_assign(index, step, executors) for index, step in enumerate(steps, start=1))


def _assign(index: int, step: PlanStep, executors: Sequence[str]) -> PlanStep:
    if step.executor is None:
        if len(executors) == 1:
            return step.model_copy(update={"executor": executors[0]})
        raise PlanError(
            f"the plan's step {index} ({step.name!r}) names no executor",
            hint=f"each step names one of: {', '.join(executors)}",
        )
    if step.executor not in executors:
        raise PlanError(
            f"the plan's step {index} ({step.name!r}) names executor {step.executor!r},"
            " which this workflow does not have",
            hint=f"use one of: {', '.join(executors)}",
        )
    return step


def _first_error(exc: PydanticValidationError) -> str:
    error = exc.errors()[0]
    location = list(error["loc"])
    where = f"step {int(location[0]) + 1}" if location and isinstance(location[0], int) else "step"
    field = ".".join(str(part) for part in location[1:])
    return f"{where}: {field + ': ' if field else ''}{error['msg']}"


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def plan_text(plan: Sequence[PlanStep]) -> str:
    """The plan as the executors read it: a numbered list."""
    return "\n".join(f"{i}. {step.name}: {step.prompt}" for i, step in enumerate(plan, start=1))
