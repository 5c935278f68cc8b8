"""Schedules and their firings: pure values and the policies that govern them.

A schedule fires a target (a prompt, a stored workflow, or a blueprint with variables) at the
occurrences of its timing (a cron expression, an interval, or one moment). Each occurrence has a
deterministic firing id, so two processes can never fire the same occurrence twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class ScheduleStatus(StrEnum):
    """Where a schedule is in its life."""

    ACTIVE = "active"
    PAUSED = "paused"
    COMPLETED = "completed"
    """A one-shot schedule that has fired."""
    EXPIRED = "expired"
    """Its firing limit or its expiry time was reached."""

    @property
    def is_final(self) -> bool:
        """True once it will never fire again (resume refuses it)."""
        return self in (ScheduleStatus.COMPLETED, ScheduleStatus.EXPIRED)


class TargetKind(StrEnum):
    """What a firing starts."""

    PROMPT = "prompt"
    WORKFLOW = "workflow"
    BLUEPRINT = "blueprint"


class TimingKind(StrEnum):
    """How the occurrences are defined."""

    CRON = "cron"
    INTERVAL = "interval"
    ONCE = "once"


class OverlapPolicy(StrEnum):
    """What a firing does while an earlier firing of the same schedule still runs."""

    SKIP = "skip"
    QUEUE = "queue"
    ALLOW = "allow"


class MissedPolicy(StrEnum):
    """What happens to occurrences that passed while no worker was running."""

    SKIP = "skip"
    """Record each as missed; fire none."""
    ONCE = "once"
    """Fire the latest once; record the rest as missed."""
    ALL = "all"
    """Fire every one of them, in order."""


class FiringStatus(StrEnum):
    """What became of one occurrence."""

    PENDING = "pending"
    """Claimed; the firing is being decided (overlap, limit, budget)."""
    WAITING = "waiting"
    """Queued behind an earlier firing that still runs (overlap policy ``queue``)."""
    FIRED = "fired"
    """Its task (or workflow run) was started; that carries the outcome and cost."""
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    """A budget cap refused it."""
    MISSED = "missed"
    """It passed while no worker was running, and the missed-run policy did not fire it."""
    FAILED = "failed"

    @property
    def is_open(self) -> bool:
        """True while the firing has not been decided yet."""
        return self in (FiringStatus.PENDING, FiringStatus.WAITING)


@dataclass(frozen=True, slots=True)
class Timing:
    """When a schedule fires, as stored.

    ``cron``: a 5-field expression in ``zone``. ``interval``: every ``interval_seconds`` from
    ``anchor`` (whole days keep the wall-clock time of ``anchor`` in ``zone`` across DST).
    ``once``: at ``at``.
    """

    kind: TimingKind
    zone: str = "UTC"
    cron: str | None = None
    interval_seconds: int | None = None
    anchor: datetime | None = None
    at: datetime | None = None
    source: str = ""
    """What the person typed (``every weekday at 9am``, ``15m``), kept for display."""


@dataclass(frozen=True, slots=True)
class Target:
    """What a firing starts: a prompt with its runtime and profile, a new run of a stored
    workflow, or a blueprint instantiated with ``variables`` (its steps run on ``runtime``
    unless they name one)."""

    kind: TargetKind = TargetKind.PROMPT
    prompt: str | None = None
    runtime: str = "scripted"
    profile: str | None = None
    ref: str | None = None
    """The workflow or blueprint id."""
    variables: dict[str, str] = field(default_factory=lambda: {})
    options: dict[str, Any] = field(default_factory=lambda: {})
    """Extra task configuration (a scripted scenario, for tests and demos)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """A schedule as stored."""

    id: str
    name: str
    status: ScheduleStatus
    timing: Timing
    target: Target
    project_id: str | None = None
    max_firings: int | None = None
    expires_at: datetime | None = None
    overlap: OverlapPolicy = OverlapPolicy.SKIP
    missed: MissedPolicy = MissedPolicy.ONCE
    firing_count: int = 0
    """Firings that started a task or a workflow run."""
    next_fire_at: datetime | None = None
    last_fired_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Firing:
    """One occurrence of a schedule (or a person's "fire now") and what became of it."""

    id: str
    schedule_id: str
    occurrence_at: datetime
    status: FiringStatus
    manual: bool = False
    reason: str | None = None
    task_id: str | None = None
    task_status: str | None = None
    workflow_id: str | None = None
    workflow_run: int | None = None
    workflow_status: str | None = None
    """The outcome of that workflow run (``running``, ``completed``, ``failed`` ...)."""
    cost_micros: int = 0
    """What its task, or every step task of its workflow run, really cost: simulated calls (a
    runtime that calls no model, the scripted one) never count as spend (issue 12)."""
    simulated: bool = False
    """Every call it booked was simulated: it spent nothing, pages say "simulated"."""
    created_at: datetime | None = None
    decided_at: datetime | None = None

    @property
    def outcome(self) -> str | None:
        """The status of what the firing started: its task or its workflow run."""
        return self.workflow_status or self.task_status


def firing_id(schedule_id: str, occurrence_at: datetime) -> str:
    """The deterministic id of a schedule's occurrence: equal in every process."""
    return f"fir_{schedule_id.removeprefix('sch_')}_{int(occurrence_at.timestamp())}"
