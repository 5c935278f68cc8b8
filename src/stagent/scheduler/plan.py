"""Deciding what to do with a schedule that is due: pure, so it is easy to test.

`plan_claim` looks at a schedule and the time, and returns which occurrences to fire, which to
record as missed, and the schedule's next fire time and status. The next fire time is always
recomputed, whatever becomes of the firings: a skipped or blocked firing never stalls the
schedule (the original's stall bug).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stagent.domain.schedules import MissedPolicy, Schedule, ScheduleStatus, TimingKind
from stagent.scheduler.timing import next_after

MAX_CATCH_UP = 500
"""At most this many occurrences are recorded (fired or missed) in one catch-up; older ones are
folded into the first missed firing's reason. Policy ``all`` fires at most this many: the newest
occurrence beyond it is recorded missed, saying how many more were not fired."""


@dataclass(frozen=True, slots=True)
class Claim:
    """What one claim of a due schedule does."""

    due: datetime | None
    """The ``next_fire_at`` the claim was computed from (the claim fails if it moved)."""
    fire: list[datetime] = field(default_factory=lambda: [])
    missed: list[datetime] = field(default_factory=lambda: [])
    dropped: int = 0
    """Missed occurrences beyond `MAX_CATCH_UP`, not recorded one by one."""
    next_fire_at: datetime | None = None
    status: ScheduleStatus = ScheduleStatus.ACTIVE

    @property
    def changes_anything(self) -> bool:
        """False when the schedule is simply not due yet."""
        return (
            bool(self.fire or self.missed)
            or self.next_fire_at != self.due
            or (self.status is not ScheduleStatus.ACTIVE)
        )


def first_fire_at(schedule: Schedule, now: datetime) -> datetime | None:
    """The next fire time of a schedule that is (re)activated at ``now``."""
    return next_after(schedule.timing, now)


def plan_claim(schedule: Schedule, now: datetime, grace: timedelta) -> Claim:
    """Occurrences to fire and to record as missed, and what the schedule becomes.

    An occurrence more than ``grace`` late was missed (no worker was running at the time); the
    missed-run policy decides: ``skip`` fires none, ``once`` fires the latest (unless one that
    is on time fires anyway), ``all`` fires each.
    """
    due = schedule.next_fire_at
    expires = schedule.expires_at
    if due is None:
        return _settle(schedule, due, [], [], 0, first_fire_at(schedule, now), now)
    if due > now:
        return _settle(schedule, due, [], [], 0, due, now)
    overdue: list[datetime] = []
    dropped = 0
    newest_dropped: datetime | None = None
    current: datetime | None = due
    while current is not None and current <= now:
        if expires is not None and current > expires:
            current = None
            break
        overdue.append(current)
        if len(overdue) > MAX_CATCH_UP:
            newest_dropped = overdue.pop(0)
            dropped += 1
        current = next_after(schedule.timing, current)
    late = [o for o in overdue if now - o > grace]
    on_time = [o for o in overdue if now - o <= grace]
    fire, missed = _apply_policy(schedule.missed, late, on_time)
    if newest_dropped is not None and not missed:
        # Policy all fired every recorded one: the bound itself is recorded, or the dropped
        # occurrences would vanish without a trace.
        missed, dropped = [newest_dropped], dropped - 1
    return _settle(schedule, due, fire, missed, dropped, current, now)


def _apply_policy(
    policy: MissedPolicy, late: list[datetime], on_time: list[datetime]
) -> tuple[list[datetime], list[datetime]]:
    if policy is MissedPolicy.ALL or not late:
        return late + on_time, []
    if policy is MissedPolicy.SKIP or on_time:
        return on_time, late
    return [late[-1]], late[:-1]


def _settle(
    schedule: Schedule,
    due: datetime | None,
    fire: list[datetime],
    missed: list[datetime],
    dropped: int,
    following: datetime | None,
    now: datetime,
) -> Claim:
    expires = schedule.expires_at
    status = ScheduleStatus.ACTIVE
    if following is not None and expires is not None and following > expires:
        following = None
    if following is None:
        once = schedule.timing.kind is TimingKind.ONCE
        status = ScheduleStatus.COMPLETED if once else ScheduleStatus.EXPIRED
        if once and expires is not None and expires <= now and not fire:
            status = ScheduleStatus.EXPIRED
    limit = schedule.max_firings
    if limit is not None and schedule.firing_count >= limit:
        fire, missed, following, status = [], missed, None, ScheduleStatus.EXPIRED
    return Claim(due, fire, missed, dropped, following, status)
