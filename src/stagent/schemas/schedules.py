"""The schedule and firing shapes shared by ``/api/v1/schedules`` and ``stagent schedule
--json``, and the input shapes of creating and editing one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from stagent.domain.schedules import Firing, Schedule, Timing
from stagent.ledger.money import usd_text
from stagent.scheduler.drafts import ScheduleDraft
from stagent.scheduler.service import ScheduleService
from stagent.scheduler.timing import describe
from stagent.schemas.base import CLEAN_FILLED, text_schema


class FiringOut(BaseModel):
    """One occurrence of a schedule and what became of it."""

    id: str
    occurrence_at: datetime
    status: str
    """``pending``, ``waiting``, ``fired``, ``skipped``, ``blocked``, ``missed``, ``failed``."""
    manual: bool
    reason: str | None
    task_id: str | None
    task_status: str | None
    """A prompt firing's task status."""
    workflow_id: str | None
    workflow_run: int | None
    """The workflow run a workflow or blueprint firing started."""
    outcome: str | None
    """The outcome of a fired firing: its task's status, or its workflow run's."""
    cost_micros: int
    """What its task, or every step of its workflow run, really cost (simulated calls, on a
    runtime that calls no model, never count as spend)."""
    cost_usd: str
    simulated: bool
    """True when every call it booked was simulated (its ``cost_usd`` is then ``0.00``)."""
    decided_at: datetime | None

    @classmethod
    def of(cls, firing: Firing) -> FiringOut:
        """From the domain value."""
        return cls(
            id=firing.id,
            occurrence_at=firing.occurrence_at,
            status=firing.status.value,
            manual=firing.manual,
            reason=firing.reason,
            task_id=firing.task_id,
            task_status=firing.task_status,
            workflow_id=firing.workflow_id,
            workflow_run=firing.workflow_run,
            outcome=firing.outcome,
            cost_micros=firing.cost_micros,
            cost_usd=usd_text(firing.cost_micros),
            simulated=firing.simulated,
            decided_at=firing.decided_at,
        )


class WhenOut(BaseModel):
    """When a schedule fires."""

    kind: str
    """``cron``, ``interval`` or ``once``."""
    cron: str | None
    every_seconds: int | None
    at: datetime | None
    tz: str
    source: str
    """What was typed (a phrase such as ``every weekday at 9am`` is kept beside its cron)."""
    description: str

    @classmethod
    def of(cls, timing: Timing) -> WhenOut:
        """From the domain value."""
        return cls(
            kind=timing.kind.value,
            cron=timing.cron,
            every_seconds=timing.interval_seconds,
            at=timing.at,
            tz=timing.zone,
            source=timing.source,
            description=describe(timing),
        )


class TargetOut(BaseModel):
    """What a firing starts."""

    kind: str
    prompt: str | None
    runtime: str
    profile: str | None
    ref: str | None
    variables: dict[str, str]


class ScheduleOut(BaseModel):
    """A schedule with its next fire times and its firing history."""

    id: str
    name: str
    status: str
    """``active``, ``paused``, ``completed`` or ``expired``."""
    when: WhenOut
    target: TargetOut
    project_id: str | None
    max_firings: int | None
    expires_at: datetime | None
    overlap: str
    missed: str
    firing_count: int
    next_fire_at: datetime | None
    upcoming: list[datetime]
    last_fired_at: datetime | None
    created_at: datetime | None
    updated_at: datetime | None
    firings: list[FiringOut]

    @classmethod
    def of(cls, schedule: Schedule, firings: list[Firing], upcoming: list[datetime]) -> ScheduleOut:
        """From the domain values."""
        timing, target = schedule.timing, schedule.target
        return cls(
            id=schedule.id,
            name=schedule.name,
            status=schedule.status.value,
            when=WhenOut.of(timing),
            target=TargetOut(
                kind=target.kind.value,
                prompt=target.prompt,
                runtime=target.runtime,
                profile=target.profile,
                ref=target.ref,
                variables=target.variables,
            ),
            project_id=schedule.project_id,
            max_firings=schedule.max_firings,
            expires_at=schedule.expires_at,
            overlap=schedule.overlap.value,
            missed=schedule.missed.value,
            firing_count=schedule.firing_count,
            next_fire_at=schedule.next_fire_at,
            upcoming=upcoming,
            last_fired_at=schedule.last_fired_at,
            created_at=schedule.created_at,
            updated_at=schedule.updated_at,
            firings=[FiringOut.of(f) for f in firings],
        )


NAME_MAX = 200
"""A schedule's name, stripped (`stagent.scheduler.drafts.check_name`)."""
Name = Annotated[str, text_schema(NAME_MAX, 1, CLEAN_FILLED)]
"""Not blank, no NUL byte and no bidi control (``check_name``: no database stores a NUL)."""
Prompt = Annotated[str, text_schema()]


class _ScheduleFields(BaseModel):
    """What a schedule fires and when: the fields creating and editing share."""

    model_config = ConfigDict(extra="forbid")

    prompt: Prompt | None = None
    runtime: str | None = None
    profile: str | None = None
    project: str | None = None
    workflow: str | None = None
    blueprint: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)
    """A blueprint's variables."""
    cron: str | None = Field(default=None, description="5-field cron, or a phrase")
    every: str | None = Field(default=None, description="15m, 2h, 1d, or a phrase")
    at: str | None = Field(default=None, description="one-shot time, ISO 8601")
    tz: str | None = None
    max_firings: int | None = None
    expires_at: str | None = None
    overlap: str | None = None
    missed: str | None = None
    scenario: dict[str, Any] | None = Field(
        default=None, description="a scripted-runtime scenario (simulated runs)"
    )

    def draft(self) -> ScheduleDraft:
        """As the service's input."""
        fields = self.model_dump(exclude={"scenario"})
        options = {"scenario": self.scenario} if self.scenario is not None else None
        return ScheduleDraft(**fields, options=options)


class ScheduleIn(_ScheduleFields):
    """Create (or preview) a schedule: its name, exactly one of ``cron``, ``every``, ``at``,
    and one target."""

    name: Name


class SchedulePatch(_ScheduleFields):
    """Edit a schedule: fields left out keep their value."""

    # Omit the name to keep it (it cannot be null).
    name: Name | SkipJsonSchema[None] = None
    clear_limit: bool = Field(default=False, description="remove the firing limit")
    clear_expiry: bool = Field(default=False, description="remove the expiry")


class PreviewOut(BaseModel):
    """What a draft would do: its timing in words and its next five fire times."""

    when: WhenOut
    upcoming: list[datetime]


LIST_HISTORY = 10
"""Firings per schedule in a list (``show`` and the detail endpoint carry up to `SHOW_HISTORY`)."""
SHOW_HISTORY = 100


def schedule_out(service: ScheduleService, schedule: Schedule, *, history: int) -> ScheduleOut:
    """A schedule as every face shows it: next five fire times and its latest firings."""
    return ScheduleOut.of(
        schedule, service.firings(schedule.id, limit=history), service.upcoming(schedule)
    )
