"""A workflow as stored, and the state of each step of its latest run (pure values)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from stagent.domain.workflows import WorkflowDefinition

BUILT_PATTERNS = ("sequence", "parallel", "checkpoint")
"""Patterns the engine runs today; the others are stored and validated, and a run of one stops
at once with "the <pattern> pattern is not built yet"."""


class WorkflowStatus(StrEnum):
    """Where a workflow is: never run, running, paused by a person, or ended."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_active(self) -> bool:
        """True while an engine execution drives it (or it waits to)."""
        return self is WorkflowStatus.RUNNING


class StepStatus(StrEnum):
    """One step of one run."""

    PENDING = "pending"
    WAITING = "waiting"
    """Its checkpoint waits for a person (``requires_approval``)."""
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    BLOCKED = "blocked"
    """It never ran: a step it needs failed."""
    SKIPPED = "skipped"
    """It never ran: its condition was false (the error field says why)."""


@dataclass(frozen=True, slots=True)
class StepState:
    """A step of a workflow run: its child task, status and output."""

    key: str
    position: int
    status: StepStatus
    task_id: str | None = None
    output: str | None = None
    error: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Workflow:
    """A stored workflow and the state of its latest run."""

    id: str
    definition: WorkflowDefinition
    status: WorkflowStatus
    run_count: int
    stop_reason: str | None
    project_id: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    steps: tuple[StepState, ...] = ()

    @property
    def name(self) -> str:
        """The definition's name."""
        return self.definition.name

    @property
    def pattern(self) -> str:
        """The definition's pattern."""
        return self.definition.pattern


def downstream(definition: WorkflowDefinition, keys: Sequence[str], key: str) -> list[str]:
    """The steps of a run (``keys``, in run order) that depend on step ``key``, which a retry or
    a re-run of it must run again: in a parallel workflow a branch's join; in a swarm the
    refinery after a worker (everything after the mayor); otherwise every later step, and any
    step whose ``depends_on`` names one of them."""
    ordered = list(keys)
    if key not in ordered:
        return []
    later = ordered[ordered.index(key) + 1 :]
    template = key.split("#", 1)[0]
    ids = [s.id for s in definition.steps]
    if definition.pattern == "parallel":
        found = {template}
        for step in definition.steps:
            if found & set(step.depends_on):
                found.add(step.id)
        return [k for k in later if k.split("#", 1)[0] in found]
    if definition.pattern == "swarm" and template not in (ids[0], ids[-1]):
        return [k for k in later if k.split("#", 1)[0] == ids[-1]]
    if definition.pattern == "swarm" and template == ids[-1]:
        return []
    return later


def engine_id_for(workflow_id: str, run_number: int, round_: int) -> str:
    """The durable engine's id of one execution (a resume or retry is a new round)."""
    return f"{workflow_id}-run-{run_number}-{round_}"
