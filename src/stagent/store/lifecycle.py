"""The one owner of run and task state.

Every status change of a run or a task happens here, in the caller's transaction: the proposed
change is checked against the transition tables and rules of `stagent.domain.lifecycle` (in
order), then the run, its task and one ``status`` event are written together. Nothing else
assigns ``status``.

- `queue_run` starts a new run of a task; `claim` is an executor taking it (``attempt`` + 1, the
  fencing token its later writes name); `start_run` is both at once (a run executed where it
  is queued); `finish` ends it (once: a second finish is a no-op).
- `suspend` / `release` are the one suspend/resume primitive: whatever waits for a person (a tool
  approval, a budget breach; later a workflow checkpoint or a human-input step) puts a *hold* on
  the run. The run is ``waiting`` while it has holds and ``running`` again when the last one is
  released. Waiters sleep on the store's change signal (`stagent.store.waits`).
- `cancel_task` and `plan_task` are a person's moves (cancel; drag back to planned).

The transition check and the run-ending write these share are in `stagent.store.run_end`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from stagent.domain.errors import ConflictError
from stagent.domain.events import LogKind
from stagent.domain.ids import utcnow
from stagent.domain.lifecycle import Proposal, fenced
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.domain.tasks import RUNNABLE_FROM, Task, TaskStatus, check_transition
from stagent.store import events, run_state
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.hot import SqliteHotConnection
from stagent.store.run_end import RunState, check_move, end_run, storable, task_of
from stagent.store.run_end import status_payload as _moved
from stagent.store.tables import RunRow, TaskRow


@dataclass(frozen=True, slots=True)
class Claim:
    """An executor's hold on a run: the task, the run, and the attempt it executes."""

    task: Task
    run: Run
    recovered: bool
    step_row: str | None = None
    """The id of the workflow step row the task runs as, if `claim` read one (None for a task
    that is no workflow step)."""

    @property
    def attempt(self) -> int:
        """The fencing token this executor's writes name."""
        return self.run.attempt


def workflow_id_for(task_id: str, number: int) -> str:
    """The durable engine's id for run ``number`` of a task (enqueueing twice is harmless)."""
    return f"{task_id}-run-{number}"


def own_engine_run(task_id: str, number: int, engine_id: str | None) -> str | None:
    """``engine_id`` if it is the run's own engine workflow (one the engine may cancel), else
    None: a workflow step's run under protocol stagent-wf-5 executes inside its workflow's
    interpreter and names that interpreter (cancelling it would stop the whole workflow; the
    run's own end, written here, stops the step)."""
    return engine_id if engine_id == workflow_id_for(task_id, number) else None


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
    _move_task(
        session,
        row.id,
        TaskStatus(row.status),
        target,
        reason=reason,
        run_id=run_id,
        run_number=run_number,
        **fields,
    )
    return task_repo.to_task(row)


def _move_task(
    session: Session,
    task_id: str,
    current: TaskStatus,
    target: TaskStatus,
    *,
    reason: str | None = None,
    run_id: str | None = None,
    run_number: int | None = None,
    logged: Sequence[tuple[LogKind, dict[str, Any]]] = (),
    **fields: Any,
) -> dict[str, Any]:
    """`set_task_status` for a task known by id and status; returns the values written.
    ``logged``: events of the run to log just before the ``status`` event (one statement)."""
    check_transition(current, target, task_id=task_id)
    now = utcnow()
    values: dict[str, Any] = {"status": target.value, **fields, "updated_at": now}
    if target is TaskStatus.RUNNING and current is TaskStatus.QUEUED:
        values["started_at"] = now
    if target.is_terminal:
        values["finished_at"] = now
    run_state.write(session, TaskRow, task_id, values)
    payload = _moved(current, target, reason, run_number)
    events.append_many(session, task_id, [*logged, ("status", payload)], run_id=run_id)
    return values


def locked_task(session: Session, task_id: str) -> Task:
    """A task (not deleted), locked for this transaction, read as a value (no ORM object);
    `NotFoundError` otherwise. Pass it to `queue_run` to save its read."""
    return run_state.live_task(run_state.connection(session), task_id)


def queue_run(
    session: Session,
    task_id: str,
    options: RunOptions,
    *,
    reason: str | None = None,
    task: Task | None = None,
    engine_id: str | None = None,
) -> tuple[Task, Run | None]:
    """Queue a new run of a task (a task already queued keeps its run: returns it, None).

    ``task``: the task, if the caller already read it with `locked_task` in this transaction
    (saves a read). ``engine_id``: the engine workflow that executes the run, if not the run's
    own (`workflow_id_for`): a workflow step's run executed inside its interpreter."""
    if task is None:
        task = locked_task(session, task_id)
    _check_runnable(task)
    if task.status is TaskStatus.QUEUED and task.workflow_id:
        return task, None
    number = task.run_count + 1
    workflow_id = engine_id or workflow_id_for(task_id, number)
    run = run_repo.insert_queued(
        session,
        subject=Subject("task", task_id),
        task_id=task_id,
        number=number,
        options=options,
        workflow_id=workflow_id,
    )
    written = _move_task(
        session,
        task_id,
        task.status,
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
    return _task_with(task, written), run


def start_run(
    session: Session,
    task: Task,
    options: RunOptions,
    *,
    reason: str | None = None,
    engine_id: str | None = None,
    logged_first: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> Claim | None:
    """`queue_run` and `claim` in one, for a run executed where it is queued (a workflow
    step's run, inside its interpreter): the run is inserted
    ``running`` (attempt 1), the task moves to ``queued`` and on to ``running`` in one update,
    and both moves are checked and logged as they would be one by one (two ``status`` events,
    one statement). ``task``: read with `locked_task` (or made) in this transaction. None if
    the task's run is queued already (the caller claims that one). ``logged_first``: events of
    no run logged ahead of those, in the same statement (the ``created`` of a task made in this
    transaction: `stagent.store.tasks.create` with ``log=False``); logged even if None."""
    _check_runnable(task)
    if task.status is TaskStatus.QUEUED and task.workflow_id:
        for kind, payload in logged_first:
            events.append(session, task.id, kind, payload)
        return None
    start = _started(task, options, reason, engine_id)
    run_repo.INSERT.execute(run_state.connection(session), start.run_values)
    run_state.write(session, TaskRow, task.id, start.task_values)
    events.append_many(session, task.id, start.logged, run_id=start.run.id, unbound=logged_first)
    return start.claim


def start_new_on_driver(
    hot: SqliteHotConnection,
    planned: tuple[Task, dict[str, Any]],
    options: RunOptions,
    *,
    reason: str | None = None,
    engine_id: str | None = None,
    noted: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> Claim:
    """`tasks.create` and `start_run` in one, on SQLite's bare driver connection in the write
    transaction the caller began (a workflow step's start, `stagent.store.step_start`): the
    same rows, checks and events, but the task is inserted ``running`` (one statement, not an
    insert and an update), then its run, then its ``created``, its two ``status`` events and
    ``noted`` (events of the run) in one. ``planned``: the new task and its row's values
    (`stagent.store.tasks.planned`)."""
    task, values = planned
    # the task's own options (no profile, project directory or cap changed them): the run
    # stores the task row's options value, not a second dump of the same options
    stored = values["options"] if options is task.options else None
    start = _started(task, options, reason, engine_id, stored)
    driver, dialect = hot.driver, hot.dialect
    task_repo.INSERT.execute_on_driver(driver, dialect, {**values, **start.task_values})
    run_repo.INSERT.execute_on_driver(driver, dialect, start.run_values)
    created = [task_repo.created_event(task)]
    logged = [*start.logged, *noted]
    events.append_many_on_driver(
        driver, dialect, hot.secrets, task.id, logged, run_id=start.run.id, unbound=created
    )
    return start.claim


def started(task: Task, options: RunOptions, reason: str, engine_id: str, stored: Any) -> _Start:
    """`_started` for a writer outside a Session (PostgreSQL's hot start of a workflow step:
    `stagent.store.pg_step_start.start_new`): the rows and events, checked, nothing written."""
    return _started(task, options, reason, engine_id, stored)


@dataclass(frozen=True, slots=True)
class _Start:
    """What `start_run` writes: the run (inserted ``running``), the task's values, its events."""

    claim: Claim
    run_values: dict[str, Any]
    task_values: dict[str, Any]
    logged: list[tuple[LogKind, dict[str, Any]]]

    @property
    def run(self) -> Run:
        """The run started."""
        return self.claim.run


def _started(
    task: Task,
    options: RunOptions,
    reason: str | None,
    engine_id: str | None,
    stored: dict[str, Any] | None = None,
) -> _Start:
    """A new run of ``task`` queued and claimed at once, both moves checked (nothing written).
    ``stored``: the options' stored form, if the caller has it (`run_repo.new_run`)."""
    number = task.run_count + 1
    workflow_id = engine_id or workflow_id_for(task.id, number)
    check_transition(task.status, TaskStatus.QUEUED, task_id=task.id)
    check_transition(TaskStatus.QUEUED, TaskStatus.RUNNING, task_id=task.id)
    started = utcnow()
    subject = Subject("task", task.id)
    run, run_values = run_repo.new_run(
        subject, task.id, number, options, workflow_id, started, stored
    )
    check_move(
        RunState(run.id, RunStatus.QUEUED, 0), task.id, TaskStatus.QUEUED, RunStatus.RUNNING, None
    )
    values: dict[str, Any] = {
        "status": TaskStatus.RUNNING.value,
        "run_count": number,
        "workflow_id": workflow_id,
        "result": None,
        "error": None,
        "finished_at": None,
        "session_id": None,
        "updated_at": started,
        "started_at": started,
    }
    moves = (
        _moved(task.status, TaskStatus.QUEUED, reason, number),
        _moved(TaskStatus.QUEUED, TaskStatus.RUNNING, None, number),
    )
    logged: list[tuple[LogKind, dict[str, Any]]] = [("status", move) for move in moves]
    claim = Claim(_task_with(task, values), run, recovered=False)
    return _Start(claim, run_values, values, logged)


def _check_runnable(task: Task) -> None:
    if task.status not in RUNNABLE_FROM:
        raise ConflictError(
            f"task {task.id} is already {task.status.value}",
            hint="wait for it to end, or cancel it",
        )


def cancel_task(session: Session, task_id: str, *, reason: str) -> tuple[Task, str | None]:
    """A person cancels a task: its active run ends as cancelled. Returns the task and the
    engine workflow to cancel (if a run was active)."""
    row = task_repo.get_row(session, task_id, for_update=True)
    run = _active_run(session, row)
    active = TaskStatus(row.status).is_active
    workflow_id = own_engine_run(task_id, row.run_count, row.workflow_id) if active else None
    if run is None:
        return set_task_status(session, row, TaskStatus.CANCELLED, reason=reason), workflow_id
    end_run(session, run.id, RunStatus.CANCELLED, reason)
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
        end_run(session, run.id, RunStatus.CANCELLED, reason)
    task = set_task_status(
        session,
        row,
        TaskStatus.PLANNED,
        reason=reason,
        run_id=run.id if run is not None else None,
        run_number=run.number if run is not None else None,
    )
    own = own_engine_run(task_id, row.run_count, row.workflow_id)
    return task, (own if queued else None)


# ------------------------------------------------------------------------------- runs


def claim(
    session: Session, task_id: str, number: int, *, engine_id: str | None = None
) -> Claim | None:
    """An executor takes run ``number`` of a task: ``queued -> running`` (attempt 1), or a run a
    dead process left ``running``/``waiting`` is taken over (attempt + 1, a ``recovered``
    event). None if the run already ended or was superseded (nothing to execute).
    ``engine_id``: the engine workflow that executes the run from now on, if it may not be the
    one the run names (a workflow step's run taken over by a newer round of its workflow):
    run and task then name it, so reconcile judges the run by the workflow executing it.

    Reads the task, the run and the workflow step the task runs as (`Claim.step_row`) as
    values (Core, no ORM objects; one statement on SQLite): this is every run's start.
    A run executed where it is queued is claimed with its queueing (`start_run`)."""
    conn = run_state.connection(session)
    task, run, step_row = run_state.claim_state(conn, task_id, number)
    if task.run_count != number or task.status.is_terminal or task.status is TaskStatus.PLANNED:
        return None
    if run is None:  # a run queued before run records existed
        created = run_repo.create(
            session,
            subject=Subject("task", task_id),
            task_id=task_id,
            number=number,
            options=task.options,
            workflow_id=task.workflow_id,
        )
        run = run_repo.to_run(created)
    if run.status.is_terminal:
        return None
    attempt = run.attempt + 1
    recovered = run.status is not RunStatus.QUEUED
    if recovered:
        moved: dict[str, Any] = {"attempt": attempt}
        if engine_id is not None and engine_id != run.workflow_id:
            moved["workflow_id"] = engine_id
            run_state.write(session, TaskRow, task.id, {"workflow_id": engine_id})
            task = dataclasses.replace(task, workflow_id=engine_id)
            run = dataclasses.replace(run, workflow_id=engine_id)
        run_state.write(session, RunRow, run.id, moved)
        events.append(
            session,
            task_id,
            "recovered",
            {
                "message": "the process running this task stopped; running it again",
                "attempt": attempt,
            },
            run_id=run.id,
        )
        return Claim(task, dataclasses.replace(run, attempt=attempt), recovered, step_row)
    check_move(RunState.of(run), task.id, task.status, RunStatus.RUNNING, None)
    started = utcnow()
    running = {"status": RunStatus.RUNNING.value, "started_at": started, "attempt": attempt}
    run_state.write(session, RunRow, run.id, running)
    written = _move_task(
        session, task.id, task.status, TaskStatus.RUNNING, run_id=run.id, run_number=run.number
    )
    task = _task_with(task, written)
    run = dataclasses.replace(run, status=RunStatus.RUNNING, started_at=started, attempt=attempt)
    return Claim(task, run, recovered, step_row)


def _task_with(task: Task, written: dict[str, Any]) -> Task:
    """``task`` with the values `_move_task` wrote."""
    changes = dict(written)
    changes["status"] = TaskStatus(changes["status"])
    return dataclasses.replace(task, **changes)


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
        check_move(RunState.of_row(run), *task_of(task_row), RunStatus.WAITING, attempt)
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
        check_move(RunState.of_row(run), *task_of(task_row), RunStatus.RUNNING, None)
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
    task_id: str | None = None,
    logged: Sequence[tuple[LogKind, dict[str, Any]]] = (),
) -> Run | None:
    """End a run (and its task) once; None if it had already ended (nothing changes).

    ``attempt`` is the executor's fencing token: an attempt that was superseded is refused
    (`StaleAttemptError`). The run's cost is settled from its ledger rows. ``logged``: events of
    the run to log first, in the same transaction, once the attempt is checked (an executor's
    last events and the one that ended the run).
    ``task_id``: the run's task, if the caller knows it (saves a read).

    Reads the run and its task's status as values (Core, no ORM objects): every run's end.
    """
    conn = run_state.connection(session)
    if task_id is None:
        task_id = run_state.run_task_id(conn, run_id)
    booked: run_repo.Booked | None = None
    if task_id is not None:
        run, task_status, booked = run_state.end_state(conn, run_id, task_id)
    else:
        run, task_status = run_state.locked_run(conn, run_id), None
    if run.status.is_terminal:
        return None
    known = task_id if task_status is not None else None
    check_move(RunState.of(run), known, task_status, target, attempt)
    task_target = TaskStatus(target.value)
    moves = task_id is not None and task_status is not None and task_status is not task_target
    if not moves:  # else logged with the task's status event, in one statement
        for kind, payload in logged:
            events.append(session, run.task_id, kind, payload, run_id=run.id)
    result, error = (
        storable(events.scrubbed(session, result)),
        storable(events.scrubbed(session, error)),
    )
    reason = storable(reason)
    stop = reason or (error if target is RunStatus.FAILED else None) or target.value
    ended = end_run(session, run.id, target, stop, result=result, error=error, booked=booked)
    if moves and task_id is not None and task_status is not None:
        fields: dict[str, Any] = {"error": error}
        if target is RunStatus.COMPLETED:
            fields["result"] = result
        _move_task(
            session,
            task_id,
            task_status,
            task_target,
            reason=reason or (error if target is RunStatus.FAILED else None),
            run_id=run.id,
            run_number=run.number,
            logged=logged,
            **fields,
        )
    return dataclasses.replace(
        run,
        status=target,
        stop_reason=ended["stop_reason"],
        result=result,
        error=error,
        waiting_on=(),
        ended_at=ended["ended_at"],
        cost_micros=ended["cost_micros"],
    )


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
    task_id = run_state.run_task_id(run_state.connection(session), run_id)
    task_row = (
        task_repo.get_row(session, task_id, for_update=True, deleted=True) if task_id else None
    )
    return run_repo.get_row(session, run_id, for_update=True), task_row


def _active_run(session: Session, row: TaskRow) -> RunRow | None:
    run = run_repo.latest_row(session, row.id, for_update=True)
    if run is None or RunStatus(run.status).is_terminal:
        return None
    return run


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


def _update(session: Session, row: TaskRow | RunRow, values: dict[str, Any]) -> None:
    """Write ``values`` to a loaded row (one Core ``UPDATE`` by primary key; the loaded object
    keeps the written values as its committed state)."""
    run_state.write(session, type(row), row.id, values)
