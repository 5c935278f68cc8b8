"""`ScheduleService`: create, edit, pause, resume, fire and remove schedules; claim due
occurrences; decide each firing (overlap, limit, budget) and start its task.

Collaborators are passed in by the composition root (`stagent.workspace`), so this layer needs
neither the engine nor governance: ``check_runtime`` validates a runtime name and the profile on
it, ``admit`` asks the budgets (returns a reservation id, raises a `StagentError` when refused),
``run_task`` queues a task's run, ``enqueue`` hands a firing to the durable engine,
``require_ready`` refuses a prompt firing's runtime that cannot run here now, ``workflows``
checks and starts workflow and blueprint targets, ``simulated`` names the runtimes that call no
model (a firing whose every run was on one reads "simulated").
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Callable, Collection
from datetime import datetime, timedelta

from stagent.domain.errors import ConflictError, StagentError, ValidationError
from stagent.domain.ids import new_id, utcnow
from stagent.domain.schedules import (
    Firing,
    FiringStatus,
    MissedPolicy,
    OverlapPolicy,
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    TimingKind,
    firing_id,
)
from stagent.scheduler import drafts
from stagent.scheduler.drafts import ScheduleDraft
from stagent.scheduler.firing import FiringDecider
from stagent.scheduler.plan import MAX_CATCH_UP, first_fire_at, plan_claim
from stagent.scheduler.targets import WorkflowTargets
from stagent.scheduler.timing import upcoming, zone
from stagent.store import projects as project_repo
from stagent.store import schedules as repo
from stagent.store.database import Store

log = logging.getLogger(__name__)

NUDGE_AFTER = timedelta(seconds=5)
"""An undecided firing older than this without a durable run is handed to the engine again."""
RUNNING_IN_ENGINE = frozenset({"ENQUEUED", "PENDING"})
"""Engine states of a firing's durable run that has not returned yet."""
ENDED_UNDECIDED = frozenset({"ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"})
"""Engine states of a firing's durable run that ended: an open firing in one is marked failed."""


class ScheduleService:
    """Schedules of one workspace."""

    def __init__(
        self,
        store: Store,
        *,
        check_runtime: Callable[[str, str | None], object],
        admit: Callable[[str, str | None], str | None],
        run_task: Callable[[str], object],
        enqueue: Callable[[str], object],
        require_ready: Callable[[str], object] | None = None,
        engine_status: Callable[[str], str | None],
        workflows: WorkflowTargets | None = None,
        simulated: Callable[[], Collection[str]] = frozenset,
        default_zone: str = "UTC",
        grace_seconds: float = 60.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._check_runtime = check_runtime
        self._enqueue = enqueue
        self._engine_status = engine_status
        self._workflows = workflows
        self._simulated = simulated
        self.default_zone = _usable_zone(default_zone)
        self.grace = timedelta(seconds=grace_seconds)
        self.clock = clock
        self.decider = FiringDecider(
            store,
            admit=admit,
            run_task=run_task,
            require_ready=require_ready,
            workflows=workflows,
            clock=lambda: self.clock(),
        )

    # ------------------------------------------------------------ reading

    def list(self) -> list[Schedule]:
        """Every schedule, by name."""
        with self._store.read() as session:
            return repo.list_all(session)

    def get(self, ref: str) -> Schedule:
        """A schedule by id or name."""
        with self._store.read() as session:
            return repo.get(session, ref)

    def firings(self, ref: str, *, limit: int = 100) -> list[Firing]:
        """A schedule's firing history, newest first, with task status and cost."""
        with self._store.read() as session:
            schedule_id = repo.get_row(session, ref).id
            return repo.firings(session, schedule_id, limit=limit, simulated=self._simulated())

    def firing(self, firing_ref: str) -> Firing:
        """One firing."""
        with self._store.read() as session:
            return repo.get_firing(session, firing_ref, simulated=self._simulated())

    def upcoming(self, schedule: Schedule, count: int = 5) -> list[datetime]:
        """The next ``count`` fire times of an active schedule."""
        if schedule.status is not ScheduleStatus.ACTIVE or schedule.next_fire_at is None:
            return []
        first = schedule.next_fire_at
        rest = upcoming(schedule.timing, first, count - 1, expires_at=schedule.expires_at)
        limit = schedule.max_firings
        times = [first, *rest]
        if limit is not None:
            times = times[: max(limit - schedule.firing_count, 0)]
        return times

    def preview(self, draft: ScheduleDraft, count: int = 5) -> tuple[Schedule, list[datetime]]:
        """What ``draft`` would create, and its next ``count`` fire times (nothing is saved)."""
        schedule = self._build(draft, new_id("sch"))
        return schedule, self.upcoming(schedule, count)

    # ------------------------------------------------------------ changing

    def create(self, draft: ScheduleDraft) -> Schedule:
        """Validate ``draft`` and save it as an active schedule."""
        schedule = self._build(draft, new_id("sch"))
        with self._store.write() as session:
            return repo.insert(session, schedule)

    def update(self, ref: str, draft: ScheduleDraft) -> Schedule:
        """Edit a schedule; fields left as None keep their value. A new timing (or limit, or
        expiry) recomputes the next fire time, and revives a completed or expired schedule."""
        current = self.get(ref)
        now = self.clock()
        tz = draft.tz or current.timing.zone
        zone(tz)
        timing = current.timing
        if draft.sets_timing:
            timing = drafts.build_timing(draft, tz, now)
        elif draft.tz and draft.tz != current.timing.zone:
            timing = dataclasses.replace(timing, zone=tz)
        target = current.target
        if draft.sets_target:
            target = self._checked(drafts.build_target(_edited_target(current.target, draft)))
        changed = dataclasses.replace(
            current,
            name=drafts.check_name(draft.name) if draft.name is not None else current.name,
            timing=timing,
            target=target,
            project_id=self._project_id(draft.project)
            if draft.project is not None
            else current.project_id,
            max_firings=None
            if draft.clear_limit
            else drafts.max_firings(draft.max_firings)
            if draft.max_firings is not None
            else current.max_firings,
            expires_at=None
            if draft.clear_expiry
            else drafts.expiry(draft.expires_at, tz, now)
            if draft.expires_at is not None
            else current.expires_at,
            overlap=drafts.overlap_policy(draft.overlap) if draft.overlap else current.overlap,
            missed=drafts.missed_policy(draft.missed) if draft.missed else current.missed,
        )
        if (draft.clear_limit and draft.max_firings is not None) or (
            draft.clear_expiry and draft.expires_at is not None
        ):
            raise ValidationError(
                "max_firings/expires_at: give a new value or clear it, not both",
                hint="--no-limit removes the limit; --no-expiry removes the expiry",
            )
        _check_overlap(changed)
        reschedule = (
            draft.sets_timing
            or draft.tz
            or draft.max_firings
            or draft.expires_at
            or draft.clear_limit
            or draft.clear_expiry
        )
        if reschedule and changed.status is not ScheduleStatus.PAUSED:
            changed = self._activate(changed, now)
        with self._store.write() as session:
            return repo.save(session, changed)

    def pause(self, ref: str) -> Schedule:
        """Stop firing until resumed (occurrences while paused are not fired later)."""
        with self._store.write() as session:
            schedule = repo.to_schedule(repo.get_row(session, ref, for_update=True))
            if schedule.status is not ScheduleStatus.ACTIVE:
                raise ConflictError(
                    f"schedule {schedule.name!r} is {schedule.status.value}; only an active "
                    "schedule can be paused"
                )
            paused = dataclasses.replace(schedule, status=ScheduleStatus.PAUSED, next_fire_at=None)
            return repo.save(session, paused)

    def resume(self, ref: str) -> Schedule:
        """Fire again from now on."""
        with self._store.write() as session:
            schedule = repo.to_schedule(repo.get_row(session, ref, for_update=True))
            if schedule.status is not ScheduleStatus.PAUSED:
                raise ConflictError(
                    f"schedule {schedule.name!r} is {schedule.status.value}; only a paused "
                    "schedule can be resumed",
                    hint="edit its timing, limit or expiry to revive a finished schedule",
                )
            return repo.save(session, self._activate(schedule, self.clock()))

    def delete(self, ref: str) -> None:
        """Remove a schedule and its history (the tasks it started stay on the Board)."""
        with self._store.write() as session:
            repo.delete(session, ref)

    def fire_now(self, ref: str) -> Firing:
        """Fire once now, whatever the timing (overlap policy and budgets still apply; a manual
        firing does not count toward the firing limit)."""
        schedule = self.get(ref)
        now = self.clock()
        manual_id = f"fir_{schedule.id.removeprefix('sch_')}_m{secrets.token_hex(4)}"
        with self._store.write() as session:
            repo.add_firings(
                session, schedule.id, [(manual_id, now, FiringStatus.PENDING, None)], manual=True
            )
        self._enqueue(manual_id)
        return self.firing(manual_id)

    # ------------------------------------------------------------ firing

    def tick(self) -> list[str]:
        """Claim every due occurrence and hand each new firing to the engine; returns their
        ids. Safe to call from any number of processes at once."""
        now = self.clock()
        with self._store.read() as session:
            due = repo.due_ids(session, now)
        fired: list[str] = []
        for schedule_id in due:
            try:
                fired += self.claim(schedule_id, now)
            except Exception:
                log.exception("schedule %s: claiming its due occurrences failed", schedule_id)
        for pending in fired:
            self._enqueue(pending)
        return fired

    def claim(self, schedule_id: str, now: datetime) -> list[str]:
        """Record the due occurrences of one schedule (pending or missed), move its next fire
        time on, and return the ids of the firings to start."""
        try:
            with self._store.write() as session:
                row = repo.get_row(session, schedule_id, for_update=True)
                schedule = repo.to_schedule(row)
                if schedule.status is not ScheduleStatus.ACTIVE:
                    return []
                plan = plan_claim(schedule, now, self.grace)
                if not plan.changes_anything:
                    return []
                records = [
                    (firing_id(schedule.id, o), o, FiringStatus.PENDING, None) for o in plan.fire
                ]
                # The occurrences dropped from the catch-up went before the oldest one recorded.
                records += [
                    (
                        firing_id(schedule.id, o),
                        o,
                        FiringStatus.MISSED,
                        _missed_reason(schedule, plan.dropped if k == 0 else 0),
                    )
                    for k, o in enumerate(plan.missed)
                ]
                known = set(repo.existing_firing_ids(session, [r[0] for r in records]))
                fresh = [r for r in records if r[0] not in known]
                repo.add_firings(session, schedule.id, fresh)
                row.next_fire_at = plan.next_fire_at
                row.status = plan.status.value
                return [r[0] for r in fresh if r[2] is FiringStatus.PENDING]
        except repo.DuplicateFiringError:
            log.info("schedule %s: another process claimed this occurrence", schedule_id)
            return []

    def process(self, firing_ref: str) -> str:
        """Decide one firing and start its task; returns its status, or ``wait`` while it is
        queued behind an earlier firing (the caller tries again later)."""
        return self.decider.process(firing_ref)

    def is_settled(self, firing_ref: str) -> bool:
        """Whether the firing is decided and its durable run has returned (so the task it
        created has been queued: a firing is marked ``fired`` a moment before that)."""
        if self.firing(firing_ref).status.is_open:
            return False
        return self._engine_status(firing_ref) not in RUNNING_IN_ENGINE

    def fail_undecided(self, firing_ref: str, reason: str) -> str:
        """Mark a firing that could not be decided ``failed`` with ``reason`` (a decided one
        keeps its status); returns its status."""
        return self.decider.fail(firing_ref, reason)

    def nudge_open(self) -> int:
        """Hand undecided firings whose durable run is missing to the engine again (a crash
        between claiming and enqueueing), and mark ``failed`` those whose durable run ended
        without deciding them (it raised, even recording the failure); returns how many."""
        with self._store.read() as session:
            stale = repo.open_firing_ids(session, created_before=self.clock() - NUDGE_AFTER)
        count = 0
        for stale_id in stale:
            status = self._engine_status(stale_id)
            if status is None:
                self._enqueue(stale_id)
                count += 1
            elif status in ENDED_UNDECIDED:
                reason = (
                    f"its durable run ended in {status} before deciding it; nothing was "
                    "started (the worker's log has the error)"
                )
                log.warning("firing %s: %s", stale_id, reason)
                self.fail_undecided(stale_id, reason)
                count += 1
        return count

    # ------------------------------------------------------------ helpers

    def _build(self, draft: ScheduleDraft, schedule_id: str) -> Schedule:
        now = self.clock()
        tz = draft.tz or self.default_zone
        zone(tz)
        target = self._checked(drafts.build_target(draft))
        schedule = Schedule(
            id=schedule_id,
            name=drafts.check_name(draft.name),
            status=ScheduleStatus.ACTIVE,
            timing=drafts.build_timing(draft, tz, now),
            target=target,
            project_id=self._project_id(draft.project),
            max_firings=drafts.max_firings(draft.max_firings),
            expires_at=drafts.expiry(draft.expires_at, tz, now),
            overlap=drafts.overlap_policy(draft.overlap or OverlapPolicy.SKIP.value),
            missed=drafts.missed_policy(draft.missed or "once"),
        )
        _check_overlap(schedule)
        activated = self._activate(schedule, now)
        if activated.status is not ScheduleStatus.ACTIVE:
            raise ValidationError(
                "expires_at: the schedule would expire before it first fires",
                hint="move the expiry later, or the first fire time earlier",
            )
        return activated

    def _checked(self, target: Target) -> Target:
        """The target, refused now if it could not fire (a prompt's runtime and profile; a
        workflow or blueprint that does not exist or cannot run)."""
        self._check_runtime(target.runtime, target.profile)
        if target.kind is TargetKind.PROMPT:
            return target
        if self._workflows is None:
            raise ValidationError(f"{target.kind.value}: this scheduler cannot start workflows")
        return self._workflows.check(target)

    def _activate(self, schedule: Schedule, now: datetime) -> Schedule:
        if schedule.timing.kind is TimingKind.ONCE:
            following = schedule.timing.at
        else:
            following = first_fire_at(schedule, now)
        status = ScheduleStatus.ACTIVE
        limit = schedule.max_firings
        expires = schedule.expires_at
        if (
            following is None
            or (expires is not None and following > expires)
            or (limit is not None and schedule.firing_count >= limit)
        ):
            status, following = ScheduleStatus.EXPIRED, None
        return dataclasses.replace(schedule, status=status, next_fire_at=following)

    def _project_id(self, ref: str | None) -> str | None:
        if not ref:
            return None
        with self._store.read() as session:
            return project_repo.get(session, ref).id


def _edited_target(current: Target, draft: ScheduleDraft) -> ScheduleDraft:
    """The draft of the edited target: what the edit names, the rest kept from ``current`` (a
    new kind of target starts from nothing but the runtime)."""
    if draft.workflow:
        kind = TargetKind.WORKFLOW
    elif draft.blueprint:
        kind = TargetKind.BLUEPRINT
    elif draft.prompt is not None:
        kind = TargetKind.PROMPT
    else:
        kind = current.kind
    same = kind is current.kind
    same_ref = same and (draft.workflow or draft.blueprint or current.ref) == current.ref
    keep_prompt = same and kind is TargetKind.PROMPT
    return ScheduleDraft(
        prompt=draft.prompt
        if draft.prompt is not None
        else (current.prompt if keep_prompt else None),
        runtime=draft.runtime or current.runtime,
        profile=draft.profile
        if draft.profile is not None
        else (current.profile if keep_prompt else None),
        workflow=(draft.workflow or current.ref) if kind is TargetKind.WORKFLOW else None,
        blueprint=(draft.blueprint or current.ref) if kind is TargetKind.BLUEPRINT else None,
        variables=draft.variables or (dict(current.variables) if same_ref else {}),
        options=draft.options if draft.options is not None else dict(current.options),
    )


def _check_overlap(schedule: Schedule) -> None:
    """Refuse ``allow`` for a stored workflow: it has one run at a time, so a firing while it
    runs could not start it anyway. (A blueprint firing makes a new workflow each time, so
    ``allow`` runs them side by side.)"""
    if schedule.target.kind is TargetKind.WORKFLOW and schedule.overlap is OverlapPolicy.ALLOW:
        raise ValidationError(
            "overlap: 'allow' cannot run a workflow twice at once (a workflow has one run "
            "at a time)",
            hint="choose overlap 'queue' to start the next run when the current one ends, "
            "or 'skip'",
        )


def _usable_zone(name: str) -> str:
    """``name`` if it is an IANA zone, else UTC (a machine whose zone has no IANA name)."""
    try:
        zone(name)
    except ValidationError:
        log.warning("time zone %r is not an IANA zone; new schedules default to UTC", name)
        return "UTC"
    return name


def _missed_reason(schedule: Schedule, dropped: int) -> str:
    text = f"no worker was running at this time; missed-run policy: {schedule.missed.value}"
    if schedule.missed is MissedPolicy.ALL:  # only the catch-up's bound leaves one missed
        text += f" fires at most the latest {MAX_CATCH_UP} occurrences at once"
    if dropped:
        text += f" ({dropped} earlier occurrences were also missed)"
    return text


__all__ = ["ScheduleDraft", "ScheduleService", "StagentError"]
