"""What a person types to create or edit a schedule, validated into domain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stagent.domain.errors import ValidationError
from stagent.domain.schedules import (
    MissedPolicy,
    OverlapPolicy,
    Target,
    TargetKind,
    Timing,
)
from stagent.runtimes.scenario import parse_scenario, scenario_to_data
from stagent.scheduler import timing as timing_mod

NOT_BUILT = "workflows are not built yet"


class NotBuiltError(ValidationError):
    """A schedule target that needs a capability Stagent does not have yet."""

    code = "not_built"
    status = 501


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
    """A prompt target; a workflow or blueprint is refused plainly (not built yet)."""
    if draft.workflow or draft.blueprint:
        kind = "workflow" if draft.workflow else "blueprint"
        raise NotBuiltError(
            f"{kind}: {NOT_BUILT}; a schedule can fire a prompt today",
            hint="give a prompt (with a runtime and profile) instead",
        )
    prompt = (draft.prompt or "").strip()
    if not prompt:
        raise ValidationError("prompt: a schedule needs a prompt to fire")
    options = dict(draft.options or {})
    if options.get("scenario") is not None:
        options["scenario"] = scenario_to_data(parse_scenario(options["scenario"]))
    return Target(
        kind=TargetKind.PROMPT,
        prompt=prompt,
        runtime=draft.runtime or default_runtime,
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
    return name
