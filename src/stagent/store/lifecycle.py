"""The one owner of run and task state.

Every status change of a run or a task happens here, in the caller's transaction: the proposed
change is checked against the transition tables and rules of `stagent.domain.lifecycle` (in
order), then the run, its task and one ``status`` event are written together. Nothing else
assigns ``status``.

- `queue_run` starts a new run of a task; `claim` is an executor taking it (``attempt`` + 1, the
  fencing token its later writes name); `finish` ends it (once: a second finish is a no-op).
- `suspend` / `release` are the one suspend/resume primitive: whatever waits for a person (a tool
  approval, a budget breach; later a workflow checkpoint or a human-input step) puts a *hold* on
  the run. The run is ``waiting`` while it has holds and ``running`` again when the last one is
  released. Waiters sleep on the store's change signal (`stagent.store.waits`).
- `cancel_task` and `plan_task` are a person's moves (cancel; drag back to planned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from stagent.domain.errors import ConflictError, InvalidTransitionError
from stagent.domain.ids import utcnow
from stagent.domain.lifecycle import Proposal, check, fenced
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.domain.tasks import RUNNABLE_FROM, Task, TaskStatus, check_transition
from stagent.store import events
from stagent.store import ledger as ledger_repo
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.tables import RunRow, TaskRow


@dataclass(frozen=True, slots=True)
class Claim:
    """An executor's hold on a run: the task, the run, and the attempt it executes."""

    task: Task
    run: Run
    recovered: bool

    @property
    def attempt(self) -> int:
        """The fencing token this executor's writes name."""
        return self.run.attempt


def workflow_id_for(task_id: str, number: int) -> str:
    """The durable engine's id for run ``number`` of a task (enqueueing twice is harmless)."""
    return f"{task_id}-run-{number}"


# ------------------------------------------------------------------------------- tasks


def set_task_status(
    session: Session,
    row: TaskRow,
    target: TaskStatus,
    *,
    reason: str | None = None,
    run_id: str | None = None,
    run_number: int | None = None,
    **fields: Any,
) -> Task:
    """Move a task along one edge of its lifecycle, set ``fields`` and log the change.

    Module-private in spirit: callers outside this module use the named operations below.
    """
    current = TaskStatus(row.status)
    check_transition(current, target, task_id=row.id)
    now = utcnow()
    values: dict[str, Any] = {"status": target.value, **fields, "updated_at": now}
    if target is TaskStatus.RUNNING and current is TaskStatus.QUEUED:
        values["started_at"] = now
    if target.is_terminal:
        values["finished_at"] = now
    _update(session, row, values)
    payload: dict[str, Any] = {"from": current.value, "to": target.value}
    if reason:
        payload["reason"] = reason
    if run_number is not None:
        payload["run"] = run_number
    events.append(session, row.id, "status", payload, run_id=run_id)
    return task_repo.to_task(row)


def queue_run(
    session: Session,
    task_id: str,
    options: RunOptions,
    *,
    reason: str | None = None,
    row: TaskRow | None = None,
) -> tuple[Task, Run | None]:
    """Queue a new run of a task (a task already queued keeps its run: returns it, None).

    ``row``: the task's row, if the caller already loaded it ``for_update`` in this
    transaction (saves a read)."""
    if row is None:
        row = task_repo.get_row(session, task_id, for_update=True)
    status = TaskStatus(row.status)
    if status not in RUNNABLE_FROM:
        raise ConflictError(
            f"task {task_id} is already {status.value}", hint="wait for it to end, or cancel it"
        )
    if status is TaskStatus.QUEUED and row.workflow_id:
        return task_repo.to_task(row), None
    number = row.run_count + 1
    workflow_id = workflow_id_for(task_id, number)
    run = run_repo.insert_queued(
        session,
        subject=Subject("task", task_id),
        task_id=task_id,
        number=number,
        options=options,
        workflow_id=workflow_id,
    )
    task = set_task_status(
        session,
        row,
        TaskStatus.QUEUED,
        reason=reason,
        run_id=run.id,
        run_number=number,
        run_count=number,
        workflow_id=workflow_id,
        result=None,
        error=None,
        finished_at=None,
        session_id=None,
    )
    return task, run


def cancel_task(session: Session, task_id: str, *, reason: str) -> tuple[Task, str | None]:
    """A person cancels a task: its active run ends as cancelled. Returns the task and the
    engine workflow to cancel (if a run was active)."""
    row = task_repo.get_row(session, task_id, for_update=True)
    run = _active_run(session, row)
    workflow_id = row.workflow_id if TaskStatus(row.status).is_active else None
    if run is None:
        return set_task_status(session, row, TaskStatus.CANCELLED, reason=reason), workflow_id
    _end_run(session, run, RunStatus.CANCELLED, reason)
    task = set_task_status(
        session, row, TaskStatus.CANCELLED, reason=reason, run_id=run.id, run_number=run.number
    )
    return task, workflow_id


def plan_task(session: Session, task_id: str, *, reason: str) -> tuple[Task, str | None]:
    """Back to planned (a Board drag): a queued run that never started is cancelled. Returns the
    task and the engine workflow to cancel, if any."""
    row = task_repo.get_row(session, task_id, for_update=True)
    current = TaskStatus(row.status)
    queued = current is TaskStatus.QUEUED
    run = _active_run(session, row) if queued else None
    if run is not None:
        _end_run(session, run, RunStatus.CANCELLED, reason)
    task = set_task_status(
        session,
        row,
        TaskStatus.PLANNED,
        reason=reason,
        run_id=run.id if run is not None else None,
        run_number=run.number if run is not None else None,
    )
    return task, (row.workflow_id if queued else None)


# ------------------------------------------------------------------------------- runs


def claim(session: Session, task_id: str, number: int) -> Claim | None:
    """An executor takes run ``number`` of a task: ``queued -> running`` (attempt 1), or a run a
    dead process left ``running``/``waiting`` is taken over (attempt + 1, a ``recovered``
    event). None if the run already ended or was superseded (nothing to execute)."""
    task_row = task_repo.get_row(session, task_id, for_update=True)
    status = TaskStatus(task_row.status)
    run = run_repo.find_row(session, task_id, number, for_update=True)
    if task_row.run_count != number or status.is_terminal or status is TaskStatus.PLANNED:
        return None
    if run is None:  # a run queued before run records existed
        options = task_repo.to_task(task_row).options
        run = run_repo.create(
            session,
            subject=Subject("task", task_id),
            task_id=task_id,
            number=number,
            options=options,
            workflow_id=task_row.workflow_id,
        )
    if RunStatus(run.status).is_terminal:
        return None
    recovered = run.status != RunStatus.QUEUED.value
    if recovered:
        _update(session, run, {"attempt": run.attempt + 1})
        events.append(
            session,
            task_id,
            "recovered",
            {
                "message": "the process running this task stopped; running it again",
                "attempt": run.attempt,
            },
            run_id=run.id,
        )
        task = task_repo.to_task(task_row)
    else:
        _check(session, run, task_row, RunStatus.RUNNING, None)
        running = {"status": RunStatus.RUNNING.value, "started_at": utcnow()}
        _update(session, run, {"attempt": run.attempt + 1, **running})
        task = set_task_status(
            session, task_row, TaskStatus.RUNNING, run_id=run.id, run_number=run.number
        )
    return Claim(task, run_repo.to_run(run), recovered)


def suspend(
    session: Session, run_id: str, hold: str, *, reason: str, attempt: int | None = None
) -> Run:
    """Put ``hold`` on a run: a running run moves to ``waiting`` (a waiting one just gains the
    hold and a note)."""
    run, task_row = _locked(session, run_id)
    holds = list(run.waiting_on or [])
    if hold not in holds:
        holds.append(hold)
    if run.status == RunStatus.RUNNING.value:
        _check(session, run, task_row, RunStatus.WAITING, attempt)
        _update(session, run, {"status": RunStatus.WAITING.value, "waiting_on": holds})
        _follow(session, task_row, run, TaskStatus.WAITING, reason)
    else:
        _update(session, run, {"waiting_on": holds})
        events.append(session, run.task_id, "note", {"message": reason}, run_id=run.id)
    return run_repo.to_run(run)


def release(session: Session, run_id: str, hold: str, *, reason: str) -> Run:
    """Take ``hold`` off a run; the last hold released moves it back to ``running``."""
    run, task_row = _locked(session, run_id)
    holds = [h for h in (run.waiting_on or []) if h != hold]
    if not holds and run.status == RunStatus.WAITING.value:
        _check(session, run, task_row, RunStatus.RUNNING, None)
        _update(session, run, {"status": RunStatus.RUNNING.value, "waiting_on": holds})
        _follow(session, task_row, run, TaskStatus.RUNNING, reason)
    else:
        _update(session, run, {"waiting_on": holds})
    return run_repo.to_run(run)


def finish(
    session: Session,
    run_id: str,
    target: RunStatus,
    *,
    attempt: int | None = None,
    reason: str | None = None,
    result: str | None = None,
    error: str | None = None,
) -> Run | None:
    """End a run (and its task) once; None if it had already ended (nothing changes).

    ``attempt`` is the executor's fencing token: an attempt that was superseded is refused
    (`StaleAttemptError`). The run's cost is settled from its ledger rows.
    """
    run, task_row = _locked(session, run_id)
    if RunStatus(run.status).is_terminal:
        return None
    _check(session, run, task_row, target, attempt)
    result, error = events.scrubbed(session, result), events.scrubbed(session, error)
    stop = reason or (error if target is RunStatus.FAILED else None) or target.value
    _end_run(session, run, target, stop, result=result, error=error)
    if task_row is not None and TaskStatus(task_row.status) is not TaskStatus(target.value):
        fields: dict[str, Any] = {"error": error}
        if target is RunStatus.COMPLETED:
            fields["result"] = result
        set_task_status(
            session,
            task_row,
            TaskStatus(target.value),
            reason=reason or (error if target is RunStatus.FAILED else None),
            run_id=run.id,
            run_number=run.number,
            **fields,
        )
    return run_repo.to_run(run)


def settle_cost(session: Session, run_id: str) -> None:
    """Re-read a run's cost from its ledger rows (usage booked after the run ended: a cancel
    the executor had not noticed yet)."""
    run = run_repo.get_row(session, run_id, for_update=True)
    _update(session, run, {"cost_micros": run_repo.spent(session, run.id)})


def check_attempt(session: Session, run_id: str, attempt: int) -> bool:
    """Refuse a write of a superseded attempt (`StaleAttemptError`). Locks the run row (on
    PostgreSQL), so a concurrent take-over is ordered before or after this write. Returns True
    if the run has already ended (its cost must be settled again after the write)."""
    run = run_repo.get_row(session, run_id, for_update=True)
    status = RunStatus(run.status)
    fenced(Proposal(run.id, status, status, run.attempt, attempt))
    return status.is_terminal


# ------------------------------------------------------------------------------- helpers


def _locked(session: Session, run_id: str) -> tuple[RunRow, TaskRow | None]:
    """Lock a run's task, then the run: the order `claim`, `queue_run` and `cancel_task` take
    them in, so two writers of one run (an executor finishing, a person cancelling) wait for
    each other instead of deadlocking on PostgreSQL."""
    task_id = session.scalar(select(RunRow.task_id).where(RunRow.id == run_id))
    task_row = (
        task_repo.get_row(session, task_id, for_update=True, deleted=True) if task_id else None
    )
    return run_repo.get_row(session, run_id, for_update=True), task_row


def _active_run(session: Session, row: TaskRow) -> RunRow | None:
    run = run_repo.latest_row(session, row.id, for_update=True)
    if run is None or RunStatus(run.status).is_terminal:
        return None
    return run


def _check(
    session: Session,
    run: RunRow,
    task_row: TaskRow | None,
    target: RunStatus,
    attempt: int | None,
) -> None:
    del session
    check(
        Proposal(
            run_id=run.id,
            current=RunStatus(run.status),
            target=target,
            attempt=run.attempt,
            writer_attempt=attempt,
            task_id=task_row.id if task_row is not None else None,
            task_current=TaskStatus(task_row.status) if task_row is not None else None,
        )
    )


def _follow(
    session: Session, task_row: TaskRow | None, run: RunRow, target: TaskStatus, reason: str
) -> None:
    """The task follows its run (or, for a run without a task, the event names the run)."""
    if task_row is None:
        events.append(
            session,
            None,
            "status",
            {"to": target.value, "reason": reason},
            run_id=run.id,
            subject=Subject("run", run.id),
        )
        return
    if TaskStatus(task_row.status) is target:
        return
    set_task_status(session, task_row, target, reason=reason, run_id=run.id, run_number=run.number)


def _end_run(
    session: Session,
    run: RunRow,
    target: RunStatus,
    reason: str,
    *,
    result: str | None = None,
    error: str | None = None,
) -> None:
    """End the run and settle it in the same transaction: its budget reservation is released
    (exactly once, by run), the usage rows of a failed or cancelled run say so, and its cost is
    summed from its ledger rows. A crash either ends and settles it, or does neither."""
    if target not in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
        raise InvalidTransitionError(f"{target.value} does not end a run")
    booked = run_repo.booked(session, run.id)
    if booked.reserved:
        ledger_repo.release_reservations(session, run.id, note=f"released: the run {target.value}")
    if booked.completed and target is not RunStatus.COMPLETED:
        ledger_repo.mark_run_outcome(session, run.id, target.value)
    ended: dict[str, Any] = {
        "status": target.value,
        "stop_reason": reason,
        "result": result,
        "error": error,
        "waiting_on": list[str](),
        "ended_at": utcnow(),
        "cost_micros": booked.spent,
    }
    _update(session, run, ended)


_UPDATE_BY_ID = {
    table.name: update(table).where(table.c.id == bindparam("row_id"))
    for table in (cast(Table, TaskRow.__table__), cast(Table, RunRow.__table__))
}
"""Built once (the SET clause comes from the parameters): building a statement costs more CPU
than running it on the hot path."""


def _update(session: Session, row: TaskRow | RunRow, values: dict[str, Any]) -> None:
    """Write ``values`` to a loaded row: one Core ``UPDATE`` by primary key (no unit-of-work
    flush: the run/task hot path costs a statement, not an ORM flush), and the loaded object
    keeps the written values as its committed state."""
    table = cast(Table, type(row).__table__)
    ledger_repo.core(session).execute(_UPDATE_BY_ID[table.name], {"row_id": row.id, **values})
    for name, value in values.items():
        set_committed_value(row, name, value)
