"""Repository functions for schedules and their firings.

Claiming is exactly-once by construction: a claim locks the schedule row, checks that its
``next_fire_at`` is still the one the plan was computed from, and inserts firing rows whose
primary keys are derived from the occurrence (`stagent.domain.schedules.firing_id`); a second
process either waits for the lock and then sees the moved ``next_fire_at``, or hits the key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, false, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import ensure_aware, utcnow
from stagent.domain.schedules import (
    Firing,
    FiringStatus,
    MissedPolicy,
    OverlapPolicy,
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    Timing,
    TimingKind,
)
from stagent.domain.tasks import ACTIVE_STATES
from stagent.domain.workflow_runs import StepStatus, WorkflowStatus
from stagent.store import ledger as ledger_repo
from stagent.store.tables import (
    ScheduleFiringRow,
    ScheduleRow,
    TaskRow,
    UsageLedgerRow,
    WorkflowRow,
    WorkflowStepRow,
)

SPENT_STATUSES = ("completed", "failed", "cancelled")
"""Ledger rows that are real spend (not reservations or refusals)."""
_ACTIVE_TASK = [status.value for status in ACTIVE_STATES]
_ACTIVE_WORKFLOW = [WorkflowStatus.RUNNING.value, WorkflowStatus.PAUSED.value]

DuplicateFiringError = IntegrityError
"""What saving a firing id that another process saved first raises."""


def _aware(value: datetime | None) -> datetime | None:
    return ensure_aware(value) if value is not None else None


def to_schedule(row: ScheduleRow) -> Schedule:
    """Map a row to the domain value."""
    timing = Timing(
        kind=TimingKind(row.timing_kind),
        zone=row.zone,
        cron=row.cron,
        interval_seconds=row.interval_seconds,
        anchor=_aware(row.anchor_at),
        at=_aware(row.once_at),
        source=row.timing_source,
    )
    target = Target(
        kind=TargetKind(row.target_kind),
        prompt=row.prompt,
        runtime=row.runtime,
        profile=row.profile,
        ref=row.target_ref,
        variables={str(k): str(v) for k, v in (row.variables or {}).items()},
        options=dict(row.options or {}),
    )
    return Schedule(
        id=row.id,
        name=row.name,
        status=ScheduleStatus(row.status),
        timing=timing,
        target=target,
        project_id=row.project_id,
        max_firings=row.max_firings,
        expires_at=_aware(row.expires_at),
        overlap=OverlapPolicy(row.overlap),
        missed=MissedPolicy(row.missed),
        firing_count=row.firing_count,
        next_fire_at=_aware(row.next_fire_at),
        last_fired_at=_aware(row.last_fired_at),
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


def _fields(schedule: Schedule) -> dict[str, Any]:
    timing, target = schedule.timing, schedule.target
    return {
        "name": schedule.name,
        "project_id": schedule.project_id,
        "status": schedule.status.value,
        "target_kind": target.kind.value,
        "prompt": target.prompt,
        "runtime": target.runtime,
        "profile": target.profile,
        "target_ref": target.ref,
        "variables": dict(target.variables),
        "options": dict(target.options),
        "timing_kind": timing.kind.value,
        "cron": timing.cron,
        "interval_seconds": timing.interval_seconds,
        "anchor_at": timing.anchor,
        "once_at": timing.at,
        "zone": timing.zone,
        "timing_source": timing.source[:200],
        "max_firings": schedule.max_firings,
        "expires_at": schedule.expires_at,
        "overlap": schedule.overlap.value,
        "missed": schedule.missed.value,
        "firing_count": schedule.firing_count,
        "next_fire_at": schedule.next_fire_at,
        "last_fired_at": schedule.last_fired_at,
    }


def insert(session: Session, schedule: Schedule) -> Schedule:
    """Insert a new schedule (its name must be free: `ConflictError` if taken, also when another
    writer takes it between the check and the insert)."""
    if session.scalar(select(ScheduleRow.id).where(ScheduleRow.name == schedule.name)):
        raise _name_taken(schedule.name)
    row = ScheduleRow(id=schedule.id, **_fields(schedule))
    session.add(row)
    _flush_named(session, schedule.name)
    return to_schedule(row)


def _name_taken(name: str) -> ConflictError:
    return ConflictError(f"name: a schedule named {name!r} exists", hint="choose another name")


def _flush_named(session: Session, name: str) -> None:
    """Flush a schedule's row; the unique index on names refusing it is a `ConflictError`."""
    try:
        session.flush()
    except IntegrityError as exc:
        refusal = str(exc.orig)
        if "uq_schedules_name" not in refusal and "schedules.name" not in refusal:
            raise  # another constraint (PostgreSQL names the index, SQLite the column)
        raise _name_taken(name) from exc


FIRINGS_OWN = frozenset({"firing_count", "last_fired_at"})
"""Columns only a firing writes (`FiringDecider`, holding the row's lock): a schedule read
before a firing launched and saved after it would set them back (its next firing numbered
again, its limit exceeded)."""


def save(session: Session, schedule: Schedule) -> Schedule:
    """Write the fields of ``schedule`` to its row, except what its firings count
    (`FIRINGS_OWN`: the row's own values stay)."""
    row = get_row(session, schedule.id, for_update=True)
    clash = session.scalar(
        select(ScheduleRow.id).where(ScheduleRow.name == schedule.name, ScheduleRow.id != row.id)
    )
    if clash:
        raise _name_taken(schedule.name)
    for name, value in _fields(schedule).items():
        if name not in FIRINGS_OWN:
            setattr(row, name, value)
    _flush_named(session, schedule.name)
    return to_schedule(row)


def get_row(session: Session, ref: str, *, for_update: bool = False) -> ScheduleRow:
    """A schedule row by id or name, or `NotFoundError`. ``for_update`` locks it and reads it
    afresh (a row this session loaded before the lock keeps no stale value)."""
    query = select(ScheduleRow).where(or_(ScheduleRow.id == ref, ScheduleRow.name == ref))
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(
            f"no schedule with id or name {ref!r}", hint="list them with `stagent schedule list`"
        )
    return row


def get(session: Session, ref: str) -> Schedule:
    """A schedule by id or name."""
    return to_schedule(get_row(session, ref))


def list_all(session: Session) -> list[Schedule]:
    """Every schedule, by name."""
    rows = session.scalars(select(ScheduleRow).order_by(ScheduleRow.name))
    return [to_schedule(row) for row in rows]


def delete(session: Session, ref: str) -> None:
    """Delete a schedule and its firing history (the tasks it started stay)."""
    session.delete(get_row(session, ref, for_update=True))
    session.flush()


def due_ids(session: Session, now: datetime) -> list[str]:
    """Active schedules that are due, expired, or lack a next fire time."""
    query = select(ScheduleRow.id).where(
        ScheduleRow.status == ScheduleStatus.ACTIVE.value,
        or_(
            ScheduleRow.next_fire_at.is_(None),
            ScheduleRow.next_fire_at <= now,
            ScheduleRow.expires_at <= now,
        ),
    )
    return list(session.scalars(query))


def add_firings(
    session: Session,
    schedule_id: str,
    firings: Iterable[tuple[str, datetime, FiringStatus, str | None]],
    *,
    manual: bool = False,
) -> list[str]:
    """Insert firings (id, occurrence, status, reason); a duplicate id raises
    `DuplicateFiringError`."""
    ids: list[str] = []
    now = utcnow()
    for firing_id, occurrence, status, reason in firings:
        decided = None if status.is_open else now
        session.add(
            ScheduleFiringRow(
                id=firing_id,
                schedule_id=schedule_id,
                occurrence_at=occurrence,
                manual=manual,
                status=status.value,
                reason=reason,
                decided_at=decided,
            )
        )
        ids.append(firing_id)
    session.flush()
    return ids


def firing_row(session: Session, firing_id: str, *, for_update: bool = False) -> ScheduleFiringRow:
    """A firing row, or `NotFoundError`."""
    query = select(ScheduleFiringRow).where(ScheduleFiringRow.id == firing_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFoundError(f"no firing with id {firing_id!r}")
    return row


def decide(
    session: Session,
    firing_id: str,
    status: FiringStatus,
    *,
    reason: str | None = None,
    task_id: str | None = None,
    workflow: tuple[str, int] | None = None,
) -> None:
    """Record what became of a firing (the task or the workflow run it started)."""
    row = firing_row(session, firing_id, for_update=True)
    row.status = status.value
    row.reason = reason
    if task_id is not None:
        row.task_id = task_id
    if workflow is not None:
        row.workflow_id, row.workflow_run = workflow
    row.decided_at = None if status.is_open else utcnow()
    session.flush()


def firings(
    session: Session, schedule_id: str, *, limit: int = 100, ids: Sequence[str] | None = None
) -> list[Firing]:
    """A schedule's firings, newest occurrence first, with the status and cost of the task or
    workflow run each started (real spend only; ``simulated`` when every call it booked was)."""
    table = ScheduleFiringRow
    step_tasks = select(WorkflowStepRow.task_id).where(
        WorkflowStepRow.workflow_id == table.workflow_id,
        WorkflowStepRow.run_number == table.workflow_run,
    )
    task_cost, task_played = _spend(UsageLedgerRow.task_id == table.task_id)
    workflow_cost, workflow_played = _spend(UsageLedgerRow.task_id.in_(step_tasks))
    query = (
        select(table, TaskRow.status, WorkflowRow.status, WorkflowRow.run_count, task_cost)
        .add_columns(workflow_cost, task_played, workflow_played)
        .outerjoin(TaskRow, TaskRow.id == table.task_id)
        .outerjoin(WorkflowRow, WorkflowRow.id == table.workflow_id)
        .where(table.schedule_id == schedule_id)
        .order_by(table.occurrence_at.desc(), table.id.desc())
        .limit(limit)
    )
    if ids is not None:
        query = query.where(table.id.in_(list(ids)))
    rows = list(session.execute(query))
    earlier = _earlier_run_outcomes(
        session,
        [
            (row.workflow_id, row.workflow_run)
            for row, _, _, latest, *_ in rows
            if row.workflow_id and row.workflow_run is not None and row.workflow_run != latest
        ],
    )
    out: list[Firing] = []
    for row, task_status, workflow_status, latest, t_cost, w_cost, t_played, w_played in rows:
        outcome = workflow_status
        if row.workflow_id and row.workflow_run != latest:
            outcome = earlier.get((row.workflow_id, row.workflow_run or 0))
        cost = int(t_cost or 0) + int(w_cost or 0)
        played = [int(p) for p in (t_played, w_played) if p is not None]
        simulated = bool(played) and all(played)
        out.append(_to_firing(row, task_status, outcome, cost, simulated=simulated))
    return out


def _spend(of_tasks: Any) -> tuple[Any, Any]:
    """Two correlated scalar subqueries over the spent ledger rows of a firing's task(s)
    (``of_tasks``): the real spend (simulated rows never count, issue 12), and ``1`` if every
    row was simulated, ``0`` if some was real, null if there is none."""
    spent = UsageLedgerRow.status.in_(SPENT_STATUSES)
    real = UsageLedgerRow.simulated == false()
    cost = (
        select(func.coalesce(func.sum(UsageLedgerRow.cost_micros), 0))
        .where(of_tasks, spent, real)
        .correlate(ScheduleFiringRow)
        .scalar_subquery()
    )
    only_simulated = (
        select(func.min(case((real, 0), else_=1)))
        .where(of_tasks, spent)
        .correlate(ScheduleFiringRow)
        .scalar_subquery()
    )
    return cost, only_simulated


def _earlier_run_outcomes(
    session: Session, runs: Sequence[tuple[str, int]]
) -> dict[tuple[str, int], str]:
    """The outcome of workflow runs that are not their workflow's latest (the row keeps only
    the latest run's status): failed if a step failed or was blocked, completed if every step
    completed, else cancelled (a new run starts only after the last one ended)."""
    if not runs:
        return {}
    query = select(
        WorkflowStepRow.workflow_id, WorkflowStepRow.run_number, WorkflowStepRow.status
    ).where(WorkflowStepRow.workflow_id.in_({w for w, _ in runs}))
    statuses: dict[tuple[str, int], set[str]] = {}
    for workflow_id, number, status in session.execute(query):
        statuses.setdefault((workflow_id, number), set()).add(status)
    outcomes: dict[tuple[str, int], str] = {}
    for key in runs:
        seen = statuses.get(key, set())
        if seen & {StepStatus.FAILED.value, StepStatus.BLOCKED.value}:
            outcomes[key] = WorkflowStatus.FAILED.value
        elif seen and seen <= {StepStatus.COMPLETED.value, "skipped"}:
            outcomes[key] = WorkflowStatus.COMPLETED.value
        else:
            outcomes[key] = WorkflowStatus.CANCELLED.value
    return outcomes


def _to_firing(
    row: ScheduleFiringRow,
    task_status: str | None,
    workflow_status: str | None,
    cost: int,
    *,
    simulated: bool = False,
) -> Firing:
    return Firing(
        id=row.id,
        schedule_id=row.schedule_id,
        occurrence_at=ensure_aware(row.occurrence_at),
        status=FiringStatus(row.status),
        manual=row.manual,
        reason=row.reason,
        task_id=row.task_id,
        task_status=task_status,
        workflow_id=row.workflow_id,
        workflow_run=row.workflow_run,
        workflow_status=workflow_status,
        cost_micros=cost,
        simulated=simulated,
        created_at=_aware(row.created_at),
        decided_at=_aware(row.decided_at),
    )


def get_firing(session: Session, firing_id: str) -> Firing:
    """One firing with its task's status and cost."""
    row = firing_row(session, firing_id)
    found = firings(session, row.schedule_id, limit=1, ids=[firing_id])
    return found[0]


def busy_before(session: Session, firing: ScheduleFiringRow) -> str | None:
    """The id of an earlier firing of the same schedule that is still undecided or whose task
    (or workflow run) is still queued, running or paused; None if there is none."""
    table = ScheduleFiringRow
    earlier = or_(
        table.occurrence_at < firing.occurrence_at,
        (table.occurrence_at == firing.occurrence_at) & (table.id < firing.id),
    )
    undecided = table.status.in_([FiringStatus.PENDING.value, FiringStatus.WAITING.value])
    workflow_running = WorkflowRow.status.in_(_ACTIVE_WORKFLOW) & (
        WorkflowRow.run_count == table.workflow_run
    )
    running = (table.status == FiringStatus.FIRED.value) & or_(
        TaskRow.status.in_(_ACTIVE_TASK), workflow_running
    )
    query = (
        select(table.id)
        .outerjoin(TaskRow, TaskRow.id == table.task_id)
        .outerjoin(WorkflowRow, WorkflowRow.id == table.workflow_id)
        .where(table.schedule_id == firing.schedule_id, table.id != firing.id)
        .where(or_(undecided & earlier, running))
        .limit(1)
    )
    return session.scalar(query)


def open_firing_ids(session: Session, *, created_before: datetime) -> list[str]:
    """Undecided firings older than ``created_before`` (their durable run may need a nudge)."""
    query = select(ScheduleFiringRow.id).where(
        ScheduleFiringRow.status.in_([FiringStatus.PENDING.value, FiringStatus.WAITING.value]),
        ScheduleFiringRow.created_at < created_before,
    )
    return list(session.scalars(query))


def attach_reservation(session: Session, reservation_id: str, task_id: str) -> None:
    """Hand a firing's budget reservation to the task it created (its run supersedes it)."""
    session.execute(
        update(UsageLedgerRow)
        .where(UsageLedgerRow.id == reservation_id, UsageLedgerRow.status == ledger_repo.RESERVED)
        .values(task_id=task_id)
    )


def release_reservation(session: Session, reservation_id: str, *, note: str) -> None:
    """End a firing's budget reservation that no task takes over (a workflow's steps are each
    admitted when they run)."""
    session.execute(
        update(UsageLedgerRow)
        .where(UsageLedgerRow.id == reservation_id, UsageLedgerRow.status == ledger_repo.RESERVED)
        .values(status=ledger_repo.RELEASED, cost_micros=0, note=note, finished_at=utcnow())
    )


def existing_firing_ids(session: Session, ids: Sequence[str]) -> list[str]:
    """Which of ``ids`` are already recorded."""
    if not ids:
        return []
    query = select(ScheduleFiringRow.id).where(ScheduleFiringRow.id.in_(list(ids)))
    return list(session.scalars(query))
