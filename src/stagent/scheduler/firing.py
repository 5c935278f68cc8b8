"""Deciding one firing: overlap policy, firing limit, budget, then the task.

`FiringDecider.process` runs inside a durable engine step, which may run more than once for one
firing (a crash after its last write). It is idempotent: a decided firing is never decided
again, the task is created in the same transaction that marks the firing ``fired``, and a fired
firing whose task was never queued is queued (once: only a planned task is).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from stagent.domain.errors import NotFoundError, StagentError
from stagent.domain.ids import utcnow
from stagent.domain.schedules import FiringStatus, OverlapPolicy, ScheduleStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import events as event_repo
from stagent.store import schedules as repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

log = logging.getLogger(__name__)

WAIT = "wait"
"""`FiringDecider.process` answer for a firing queued behind an earlier one."""


class FiringDecider:
    """Turns a pending firing into a task (or a recorded skip, block or failure)."""

    def __init__(
        self,
        store: Store,
        *,
        admit: Callable[[str, str | None], str | None],
        run_task: Callable[[str], object],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._admit = admit
        self._run_task = run_task
        self._clock = clock

    def process(self, firing_ref: str) -> str:
        """Decide the firing; returns its status, or `WAIT`."""
        try:
            with self._store.read() as session:
                row = repo.firing_row(session, firing_ref)
                status = FiringStatus(row.status)
                task_id = row.task_id
                schedule = repo.get(session, row.schedule_id)
                busy = repo.busy_before(session, row) if status.is_open else None
                manual = row.manual
        except NotFoundError:
            return "gone"
        if status is FiringStatus.FIRED and task_id:
            self._queue_if_planned(firing_ref, task_id)
            return status.value
        if not status.is_open:
            return status.value
        paused = schedule.status is ScheduleStatus.PAUSED
        if paused and status is FiringStatus.WAITING and not manual:
            self._decide(
                firing_ref, FiringStatus.SKIPPED, "the schedule was paused while it waited"
            )
            return FiringStatus.SKIPPED.value
        if busy is not None:
            outcome = self._overlap(firing_ref, schedule.overlap, busy, status)
            if outcome is not None:
                return outcome
        limit = schedule.max_firings
        if not manual and limit is not None and schedule.firing_count >= limit:
            return self._limit_reached(firing_ref, schedule.id, limit)
        try:
            reservation = self._admit(schedule.target.runtime, schedule.project_id)
        except StagentError as exc:
            self._decide(firing_ref, FiringStatus.BLOCKED, f"budget: {exc.message}")
            return FiringStatus.BLOCKED.value
        created = self._launch(firing_ref, reservation)
        if created is None:
            return self.process(firing_ref)
        self._queue_if_planned(firing_ref, created)
        return FiringStatus.FIRED.value

    def _overlap(
        self, firing_ref: str, policy: OverlapPolicy, busy: str, status: FiringStatus
    ) -> str | None:
        if policy is OverlapPolicy.SKIP:
            self._decide(
                firing_ref,
                FiringStatus.SKIPPED,
                f"overlap policy skip: firing {busy} was still running",
            )
            return FiringStatus.SKIPPED.value
        if policy is OverlapPolicy.QUEUE:
            if status is FiringStatus.PENDING:
                self._decide(firing_ref, FiringStatus.WAITING, f"queued behind firing {busy}")
            return WAIT
        return None

    def _limit_reached(self, firing_ref: str, schedule_id: str, limit: int) -> str:
        with self._store.write() as session:
            repo.decide(
                session,
                firing_ref,
                FiringStatus.SKIPPED,
                reason=f"firing limit reached ({limit} firings)",
            )
            row = repo.get_row(session, schedule_id, for_update=True)
            row.status = ScheduleStatus.EXPIRED.value
            row.next_fire_at = None
        return FiringStatus.SKIPPED.value

    def _decide(self, firing_ref: str, status: FiringStatus, reason: str) -> None:
        with self._store.write() as session:
            row = repo.firing_row(session, firing_ref, for_update=True)
            if FiringStatus(row.status).is_open:
                repo.decide(session, firing_ref, status, reason=reason)

    def _launch(self, firing_ref: str, reservation: str | None) -> str | None:
        """Create the task and mark the firing fired, in one transaction; None if the firing
        was decided meanwhile."""
        now = self._clock()
        with self._store.write() as session:
            row = repo.firing_row(session, firing_ref, for_update=True)
            if not FiringStatus(row.status).is_open:
                return None
            schedule_row = repo.get_row(session, row.schedule_id, for_update=True)
            schedule = repo.to_schedule(schedule_row)
            number = schedule.firing_count + (0 if row.manual else 1)
            title = f"{schedule.name} — " + ("fired now" if row.manual else f"firing #{number}")
            task = task_repo.create(
                session,
                task_repo.NewTask(
                    title=title,
                    description=schedule.target.prompt or "",
                    project_id=schedule.project_id,
                    runtime=schedule.target.runtime,
                    profile=schedule.target.profile,
                    runtime_config=dict(schedule.target.options),
                ),
            )
            occurrence = row.occurrence_at.isoformat(timespec="seconds")
            event_repo.append(
                session,
                task.id,
                "note",
                {"message": f"started by schedule {schedule.name!r} ({row.id}, {occurrence})"},
            )
            if reservation:
                repo.attach_reservation(session, reservation, task.id)
            repo.decide(session, firing_ref, FiringStatus.FIRED, task_id=task.id)
            if not row.manual:
                schedule_row.firing_count = number
                schedule_row.last_fired_at = now
                limit = schedule.max_firings
                if limit is not None and number >= limit:
                    schedule_row.status = ScheduleStatus.EXPIRED.value
                    schedule_row.next_fire_at = None
            return task.id

    def _queue_if_planned(self, firing_ref: str, task_id: str) -> None:
        try:
            with self._store.read() as session:
                status = TaskStatus(task_repo.get_row(session, task_id).status)
        except NotFoundError:
            return
        if status is not TaskStatus.PLANNED:
            return
        try:
            self._run_task(task_id)
        except StagentError as exc:
            log.warning("firing %s: its task %s could not be queued: %s", firing_ref, task_id, exc)
            with self._store.write() as session:
                repo.decide(
                    session,
                    firing_ref,
                    FiringStatus.FAILED,
                    reason=f"its task could not be queued: {exc.message}",
                )
