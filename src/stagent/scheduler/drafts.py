"""What a person types to create or edit a schedule, validated into domain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stagent.domain.errors import ValidationError
from stagent.domain.limits import checked_plain
from stagent.domain.schedules import (
    MissedPolicy,
    OverlapPolicy,
    Target,
    TargetKind,
    Timing,
)
from stagent.runtimes.scenario import parse_scenario, scenario_to_data
from stagent.scheduler import timing as timing_mod


@dataclass(frozen=True, slots=True)
class ScheduleDraft:
    """The fields of a new schedule (or, with `None` meaning "keep", of an edit)."""

    name: str | None = None
    prompt: str | None = None
    runtime: str | None = None
    profile: str | None = None
    project: str | None = None
    workflow: str | None = None
    blueprint: str | None = None
    variables: dict[str, str] = field(default_factory=lambda: {})
    cron: str | None = None
    every: str | None = None
    at: str | None = None
    tz: str | None = None
    max_firings: int | None = None
    expires_at: str | datetime | None = None
    overlap: str | None = None
    missed: str | None = None
    options: dict[str, Any] | None = None
    """Extra task configuration (``{"scenario": ...}`` for the scripted runtime)."""
    clear_limit: bool = False
    """On an edit: remove the firing limit."""
    clear_expiry: bool = False
    """On an edit: remove the expiry time."""

    @property
    def sets_target(self) -> bool:
        """True if the draft changes what fires (on an edit)."""
        fields = (self.prompt, self.runtime, self.profile, self.workflow, self.blueprint)
        return (
            any(v is not None for v in fields) or bool(self.variables) or (self.options is not None)
        )

    @property
    def sets_timing(self) -> bool:
        """True if the draft says when to fire."""
        return any(value not in (None, "") for value in (self.cron, self.every, self.at))


def build_timing(draft: ScheduleDraft, tz: str, now: datetime) -> Timing:
    """Exactly one of cron, every, at, as a `Timing`."""
    given = [
        (name, value)
        for name, value in (("cron", draft.cron), ("every", draft.every), ("at", draft.at))
        if value not in (None, "")
    ]
    if len(given) != 1:
        raise ValidationError(
            "when: give exactly one of cron, every or at"
            + (f" (got {', '.join(name for name, _ in given)})" if given else ""),
            hint="for example: --every 15m, --cron '0 9 * * 1-5', --cron 'every weekday at 9am'"
            ", --at 2026-12-24T09:00",
        )
    name, value = given[0]
    assert value is not None
    if name == "cron":
        return timing_mod.cron_timing(value, tz)
    if name == "every":
        return timing_mod.every_timing(value, tz, now)
    return timing_mod.once_timing(value, tz, now)


def build_target(draft: ScheduleDraft, *, default_runtime: str = "scripted") -> Target:
    """What the schedule fires: exactly one of a prompt, a workflow, or a blueprint (with its
    variables). The workflow or blueprint itself is checked by the service."""
    given = [
        name
        for name, value in (
            ("prompt", draft.prompt),
            ("workflow", draft.workflow),
            ("blueprint", draft.blueprint),
        )
        if value is not None and value.strip()
    ]
    if len(given) > 1:
        raise ValidationError(
            f"target: give one of prompt, workflow or blueprint (got {', '.join(given)})"
        )
    if not given:
        raise ValidationError(
            "prompt: a schedule needs a prompt, a workflow or a blueprint to fire",
            hint="for example: --prompt 'Summarize the day', --workflow ID, --blueprint ID",
        )
    runtime = draft.runtime or default_runtime
    if draft.variables and given[0] != "blueprint":
        raise ValidationError("variables: only a blueprint target takes variables")
    if given[0] == "workflow":
        if draft.profile:
            raise ValidationError("profile: a workflow's steps name their own profiles")
        return Target(kind=TargetKind.WORKFLOW, ref=(draft.workflow or "").strip(), runtime=runtime)
    if given[0] == "blueprint":
        if draft.profile:
            raise ValidationError("profile: a blueprint's steps name their own profiles")
        return Target(
            kind=TargetKind.BLUEPRINT,
            ref=(draft.blueprint or "").strip(),
            runtime=runtime,
            variables=dict(draft.variables),
        )
    options = dict(draft.options or {})
    if options.get("scenario") is not None:
        options["scenario"] = scenario_to_data(parse_scenario(options["scenario"]))
    return Target(
        kind=TargetKind.PROMPT,
        prompt=checked_plain("prompt", (draft.prompt or "").strip()),
        runtime=runtime,
        profile=draft.profile or None,
        options=options,
    )


def overlap_policy(value: str) -> OverlapPolicy:
    """``skip``, ``queue`` or ``allow``."""
    try:
        return OverlapPolicy(value.strip().lower())
    except ValueError:
        raise ValidationError(f"overlap: {value!r} is not one of skip, queue, allow") from None


def missed_policy(value: str) -> MissedPolicy:
    """``skip``, ``once`` or ``all``."""
    try:
        return MissedPolicy(value.strip().lower())
    except ValueError:
        raise ValidationError(f"missed: {value!r} is not one of skip, once, all") from None


def max_firings(value: int | None) -> int | None:
    """A positive limit, or None for no limit."""
    if value is not None and value < 1:
        raise ValidationError(f"max_firings: {value} must be 1 or more (or left out)")
    return value


def expiry(value: str | datetime | None, tz: str, now: datetime) -> datetime | None:
    """An expiry instant still ahead, or None."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        at = value if value.tzinfo else value.replace(tzinfo=timing_mod.zone(tz))
    else:
        at = timing_mod.parse_time(str(value), tz, field="expires_at")
    if at <= now:
        raise ValidationError("expires_at: the expiry time is in the past")
    return at


def check_name(value: str | None) -> str:
    """A non-empty name of at most 200 characters."""
    name = (value or "").strip()
    if not name:
        raise ValidationError("name: a schedule needs a name")
    if len(name) > 200:
        raise ValidationError("name: at most 200 characters")
    return checked_plain("name", name)
