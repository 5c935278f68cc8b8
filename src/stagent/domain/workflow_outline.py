"""What the checks across a workflow's steps read (`stagent.domain.workflow_shape`), taken
from a validated definition or, leniently, from input whose fields do not all validate.

Pydantic checks a model's shape only once every field is valid, so a person would see a
missing synthesis step or a ``depends_on`` cycle only after fixing every field problem.
`outline_from_data` reads what it can from the raw input instead (a part that is itself
invalid is left unknown, ``None``, and the checks that need it are skipped, so no problem is
reported twice) and `stagent.domain.workflow_files.parse_definition` runs the same checks on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from stagent.domain.conditions import ConditionError, parse_condition

if TYPE_CHECKING:
    from stagent.domain.workflows import WorkflowDefinition

SETTINGS = ("parallel", "loop", "swarm")


@dataclass(slots=True)
class StepOutline:
    """One step as the checks see it; ``None``: not known (absent or itself invalid)."""

    id: str | None
    depends_on: tuple[str, ...] | None = ()
    condition: str | None = None
    runtime: str | None = None
    profile: str | None = None
    options: Mapping[str, object] | None = None
    gated: bool | None = False
    """``requires_approval``."""
    gate_timeout: bool = False
    """``approval_timeout_seconds`` is set."""


@dataclass(slots=True)
class Outline:
    """A definition as the checks see it: ``pattern`` None when it is not a pattern, ``steps``
    None when they are not a list of at least one step."""

    pattern: str | None
    steps: tuple[StepOutline, ...] | None
    settings: frozenset[str] = frozenset()
    """Which of ``parallel``/``loop``/``swarm`` blocks are there."""
    worker_concurrency: int | None = 2
    """The swarm's (its default when unset); None when it is itself invalid."""

    def ids(self) -> list[str]:
        """The known step ids, each once, in order."""
        return list(dict.fromkeys(s.id for s in self.steps or () if s.id is not None))


def outline_of(wf: WorkflowDefinition) -> Outline:
    """The outline of a validated definition."""
    steps = tuple(
        StepOutline(
            s.id,
            s.depends_on,
            s.condition,
            s.runtime,
            s.profile,
            s.options,
            s.requires_approval,
            s.approval_timeout_seconds is not None,
        )
        for s in wf.steps
    )
    present = frozenset(key for key in SETTINGS if getattr(wf, key) is not None)
    limit = wf.swarm.worker_concurrency if wf.swarm is not None else 2
    return Outline(wf.pattern, steps, present, limit)


def outline_from_data(data: Mapping[str, Any]) -> Outline:
    """What can be read from definition input that did not validate (see the module's doc)."""
    from stagent.domain.workflows import PATTERNS

    pattern = data.get("pattern")
    raw_steps = data.get("steps")
    steps: tuple[StepOutline, ...] | None = None
    if isinstance(raw_steps, list) and raw_steps:
        steps = tuple(_step(item) for item in cast(list[Any], raw_steps))
    present = frozenset(key for key in SETTINGS if data.get(key) is not None)
    swarm = data.get("swarm")
    limit: int | None = 2
    if isinstance(swarm, dict) and "worker_concurrency" in swarm:
        value = cast(dict[str, Any], swarm)["worker_concurrency"]
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 5
        limit = cast(int, value) if ok else None
    elif swarm is not None and not isinstance(swarm, dict):
        limit = None
    return Outline(pattern if pattern in PATTERNS else None, steps, present, limit)


def _step(item: Any) -> StepOutline:
    if not isinstance(item, dict):
        return StepOutline(None, None)
    step = cast(dict[str, Any], item)
    raw_id = step.get("id")
    depends = step.get("depends_on", [])
    if isinstance(depends, list) and all(isinstance(d, str) for d in cast(list[Any], depends)):
        depends_on: tuple[str, ...] | None = tuple(cast(list[str], depends))
    else:
        depends_on = None
    options = step.get("options")
    gated = step.get("requires_approval", False)
    return StepOutline(
        raw_id if isinstance(raw_id, str) else None,
        depends_on,
        _condition(step.get("condition")),
        _text(step.get("runtime")),
        _text(step.get("profile")),
        cast(dict[str, object], options) if isinstance(options, dict) else None,
        gated if isinstance(gated, bool) else None,
        step.get("approval_timeout_seconds") is not None,
    )


def _condition(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        parse_condition(value)
    except ConditionError:
        return None
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
