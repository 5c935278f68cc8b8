"""Deciding one firing: overlap policy, firing limit, budget, then the task or workflow run.

`FiringDecider.process` runs inside a durable engine step, which may run more than once for one
firing (a crash after its last write). It is idempotent: a decided firing is never decided
again; the task (or the workflow run: a new run of a stored workflow, or a new workflow made
from a blueprint) is created in the same transaction that marks the firing ``fired``; a fired
firing whose task was never queued is queued (once: only a planned task is), and one whose
workflow run never reached the engine is handed to it (the engine id is the run's first
round, so the engine starts it once). A stored workflow has one run at a time: while it runs
(whoever started it) a firing is skipped, or waits (overlap ``queue``) and starts the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from stagent.domain.errors import NotFoundError, RuntimeUnavailableError, StagentError
from stagent.domain.ids import ensure_aware, utcnow
from stagent.domain.run_options import from_flat
from stagent.domain.schedules import (
    FiringStatus,
    OverlapPolicy,
    Schedule,
    ScheduleStatus,
    TargetKind,
)
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_runs import WorkflowStatus, engine_id_for
from stagent.domain.workflows import WorkflowDefinition
from stagent.scheduler.targets import WorkflowTargets
from stagent.store import events as event_repo
from stagent.store import schedules as repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
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
        require_ready: Callable[[str], object] | None = None,
        workflows: WorkflowTargets | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``require_ready(runtime)`` raises `RuntimeUnavailableError` (with the fix as its
        hint) when a prompt firing's runtime cannot run here now (None: not checked)."""
        self._store = store
        self._admit = admit
        self._run_task = run_task
        self._require_ready = require_ready
        self._workflows = workflows
        self._clock = clock

    def process(self, firing_ref: str) -> str:
        """Decide the firing; returns its status, or `WAIT`."""
        try:
            with self._store.read() as session:
                row = repo.firing_row(session, firing_ref)
                status = FiringStatus(row.status)
                task_id = row.task_id
                schedule = repo.get(session, row.schedule_id)
                busy = _busy(session, row, schedule) if status.is_open else None
                manual = row.manual
                started = (row.workflow_id, row.workflow_run)
        except NotFoundError:
            return "gone"
        if status is FiringStatus.FIRED and task_id:
            self._queue_if_planned(firing_ref, task_id)
            return status.value
        if status is FiringStatus.FIRED and started[0] and started[1]:
            self._hand_to_engine(started[0], started[1])
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
        definition, failure = self._target_definition(schedule)
        if failure is not None:
            self._decide(firing_ref, FiringStatus.FAILED, failure)
            return FiringStatus.FAILED.value
        try:
            reservation = self._admit(schedule.target.runtime, schedule.project_id)
        except StagentError as exc:
            self._decide(firing_ref, FiringStatus.BLOCKED, f"budget: {exc.message}")
            return FiringStatus.BLOCKED.value
        launched = self._launch(firing_ref, reservation, definition)
        if launched is None:
            return self.process(firing_ref)
        if isinstance(launched, FiringStatus):
            return WAIT if launched is FiringStatus.WAITING else launched.value
        if isinstance(launched, str):
            self._queue_if_planned(firing_ref, launched)
        else:
            self._hand_to_engine(*launched)
        return FiringStatus.FIRED.value

    def fail(self, firing_ref: str, reason: str) -> str:
        """Mark an undecided firing ``failed`` with ``reason``; returns the firing's status
        (a decided firing keeps its own, and a removed one is ``gone``)."""
        try:
            self._decide(firing_ref, FiringStatus.FAILED, reason)
            with self._store.read() as session:
                return repo.firing_row(session, firing_ref).status
        except NotFoundError:
            return "gone"

    def _targets(self) -> WorkflowTargets:
        if self._workflows is None:
            raise StagentError("this scheduler cannot start workflows")
        return self._workflows

    def _target_definition(
        self, schedule: Schedule
    ) -> tuple[WorkflowDefinition | None, str | None]:
        """A blueprint target's definition (None for the others), and why the firing cannot
        start (None: it can): the blueprint broke, or a step's runtime is not ready."""
        definition = None
        if schedule.target.kind is TargetKind.BLUEPRINT:
            try:
                definition = self._targets().definition(schedule.target)
            except StagentError as exc:
                return None, f"blueprint: {exc.message}"
        return definition, self._unready(schedule, definition)

    def _unready(self, schedule: Schedule, definition: WorkflowDefinition | None) -> str | None:
        """Why the firing cannot start here now: its runtime, or a workflow step's, is not
        ready (no key, no login, no binary), said with the step, the runtime and the fix; None
        if it can (or if the workflow is gone: the launch says so). Checked before anything is
        written (no task, no run: the schedule keeps its next occurrence) and outside the write
        lock (a check may run a binary)."""
        try:
            if schedule.target.kind is TargetKind.PROMPT:
                if self._require_ready is not None:
                    self._require_ready(schedule.target.runtime)
                return None
            if definition is None:
                try:
                    with self._store.read() as session:
                        row = workflow_repo.get_row(session, schedule.target.ref or "")
                        definition = WorkflowDefinition.model_validate(row.definition)
                except StagentError:
                    return None
            self._targets().require_ready(definition)
        except RuntimeUnavailableError as exc:
            fix = f" (fix: {exc.hint})" if exc.hint else ""
            return f"not started: {exc.message}{fix}"
        return None

    def _hand_to_engine(self, workflow_id: str, run_number: int) -> None:
        try:
            self._targets().start(
                engine_id_for(workflow_id, run_number, 1), workflow_id, run_number
            )
        except StagentError as exc:
            log.warning(
                "workflow %s run %s: not handed to the engine: %s", workflow_id, run_number, exc
            )

    def _overlap(
        self, firing_ref: str, policy: OverlapPolicy, busy: str, status: FiringStatus
    ) -> str | None:
        """Skip or wait for ``busy`` (an earlier firing, or the running workflow it fires);
        None lets the firing go ahead."""
        if policy is OverlapPolicy.SKIP:
            self._decide(
                firing_ref,
                FiringStatus.SKIPPED,
                f"overlap policy skip: {busy} was still running",
            )
            return FiringStatus.SKIPPED.value
        if policy is OverlapPolicy.QUEUE:
            if status is FiringStatus.PENDING:
                self._decide(firing_ref, FiringStatus.WAITING, f"queued behind {busy}")
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

    def _launch(
        self, firing_ref: str, reservation: str | None, definition: WorkflowDefinition | None
    ) -> str | tuple[str, int] | FiringStatus | None:
        """Start what the firing fires and mark it fired, in one transaction. Returns the task
        id, the workflow run (id, number), a status the firing was given instead (a workflow
        still running, or one that cannot run), or None if the firing was decided meanwhile."""
        now = self._clock()
        with self._store.write() as session:
            row = repo.firing_row(session, firing_ref, for_update=True)
            if not FiringStatus(row.status).is_open:
                return None
            schedule_row = repo.get_row(session, row.schedule_id, for_update=True)
            schedule = repo.to_schedule(schedule_row)
            number = schedule.firing_count + (0 if row.manual else 1)
            started: str | tuple[str, int]
            if schedule.target.kind is TargetKind.PROMPT:
                started = self._create_task(session, row, schedule, number, reservation)
                repo.decide(session, firing_ref, FiringStatus.FIRED, task_id=started)
            else:
                outcome = self._start_workflow(session, schedule, definition)
                if outcome[0] is FiringStatus.WAITING:
                    # The workflow started meanwhile: wait for that run too (no budget held).
                    if reservation:
                        repo.release_reservation(
                            session, reservation, note="released: the firing waits its turn"
                        )
                    repo.decide(session, firing_ref, FiringStatus.WAITING, reason=str(outcome[1]))
                    return FiringStatus.WAITING
                if isinstance(outcome[0], FiringStatus):
                    repo.decide(session, firing_ref, outcome[0], reason=str(outcome[1]))
                    return outcome[0]
                started = (outcome[0], int(outcome[1]))
                if reservation:
                    repo.release_reservation(
                        session, reservation, note="released: each workflow step is admitted"
                    )
                repo.decide(session, firing_ref, FiringStatus.FIRED, workflow=started)
            if not row.manual:
                self._count(schedule_row, schedule, number, now)
            return started

    def _create_task(
        self,
        session: repo.Session,
        row: repo.ScheduleFiringRow,
        schedule: Schedule,
        number: int,
        reservation: str | None,
    ) -> str:
        title = f"{schedule.name} — " + ("fired now" if row.manual else f"firing #{number}")
        task = task_repo.create(
            session,
            task_repo.NewTask(
                title=title,
                description=schedule.target.prompt or "",
                project_id=schedule.project_id,
                runtime=schedule.target.runtime,
                profile=schedule.target.profile,
                options=from_flat(schedule.target.runtime, dict(schedule.target.options)),
            ),
        )
        occurrence = ensure_aware(row.occurrence_at).isoformat(timespec="seconds")
        event_repo.append(
            session,
            task.id,
            "note",
            {
                "message": f"started by schedule {schedule.name!r} ({_firing_words(row)})",
                "schedule_id": schedule.id,
                "schedule": schedule.name,
                "firing_id": row.id,
                "occurrence_at": occurrence,
                "manual": row.manual,
            },
        )
        if reservation:
            repo.attach_reservation(session, reservation, task.id)
        return task.id

    def _start_workflow(
        self, session: repo.Session, schedule: Schedule, definition: WorkflowDefinition | None
    ) -> tuple[str, int] | tuple[FiringStatus, str]:
        """A new run of the stored workflow, or a new workflow made from the blueprint."""
        if definition is not None:
            made = workflow_repo.create(session, definition, project_id=schedule.project_id)
            workflow_row = workflow_repo.get_row(session, made.id, for_update=True)
        else:
            try:
                workflow_row = workflow_repo.get_row(
                    session, schedule.target.ref or "", for_update=True
                )
                if WorkflowStatus(workflow_row.status) in (
                    WorkflowStatus.RUNNING,
                    WorkflowStatus.PAUSED,
                ):
                    if schedule.overlap is OverlapPolicy.QUEUE:
                        return (
                            FiringStatus.WAITING,
                            f"queued behind workflow {workflow_row.name!r} "
                            f"run {workflow_row.run_count}",
                        )
                    return (
                        FiringStatus.SKIPPED,
                        f"workflow {workflow_row.name!r} is still {workflow_row.status} "
                        "(a workflow runs one at a time)",
                    )
                self._targets().check_runnable(
                    WorkflowDefinition.model_validate(workflow_row.definition)
                )
            except StagentError as exc:
                return FiringStatus.FAILED, f"workflow: {exc.message}"
        _, run_number = workflow_repo.begin_run(session, workflow_row)
        return workflow_row.id, run_number

    def _count(
        self, schedule_row: repo.ScheduleRow, schedule: Schedule, number: int, now: datetime
    ) -> None:
        schedule_row.firing_count = number
        schedule_row.last_fired_at = now
        limit = schedule.max_firings
        if limit is not None and number >= limit:
            schedule_row.status = ScheduleStatus.EXPIRED.value
            schedule_row.next_fire_at = None

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


def _busy(session: repo.Session, row: repo.ScheduleFiringRow, schedule: Schedule) -> str | None:
    """What an open firing would overlap: an earlier firing of its schedule still undecided or
    running, or else a run of the stored workflow it fires; None if nothing."""
    earlier = repo.busy_before(session, row)
    if earlier is not None:
        return f"the {_firing_words(repo.firing_row(session, earlier))}"
    return _running_workflow(session, schedule)


def _firing_words(row: repo.ScheduleFiringRow) -> str:
    """A firing as a person knows it: by its time (ids stay in the payload)."""
    at = ensure_aware(row.occurrence_at).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"firing by hand at {at}" if row.manual else f"firing due {at}"


def _running_workflow(session: repo.Session, schedule: Schedule) -> str | None:
    """``workflow 'NAME' run N`` while the stored workflow a schedule fires is running or paused
    (started by this schedule, another one or a person); None otherwise."""
    if schedule.target.kind is not TargetKind.WORKFLOW:
        return None
    try:
        row = workflow_repo.get_row(session, schedule.target.ref or "")
    except NotFoundError:
        return None  # the firing fails with the reason when it launches
    if WorkflowStatus(row.status) in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED):
        return f"workflow {row.name!r} run {row.run_count}"
    return None
