"""A run's end on SQLite's bare driver connection (`Store.sqlite_hot_connection`), with no
Session: `stagent.store.lifecycle.finish`'s checks, rows and events, in a write transaction
the caller begins (`begin`) and ends.

``BEGIN IMMEDIATE`` (the file's write lock, as `Store.write`'s), one read (the run, its task's
status and its ledger sums: `stagent.store.run_state.end_state_on_driver`), the reservation's
release and the calls' outcome if the run holds any, the run's ``UPDATE``, the task's (with the
runtime's session id, if the run reported one), the run's last events with the task's
``status`` one in one executemany, then whatever the caller's end hook writes (a workflow
step's row), ``COMMIT``: the statements `Store.write` would send, without SQLAlchemy's Session,
connection and execute machinery around them. PostgreSQL's end, and any end with no task id
known, go through `stagent.store.lifecycle.finish`.

Part of the one owner of run and task state (`stagent.store.lifecycle`): called only by the
run's executor (`stagent.engine.run_writer.RunWriter.conclude`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Sequence
from contextlib import contextmanager
from typing import Any

from stagent.domain.events import LogKind
from stagent.domain.runs import Run, RunStatus
from stagent.domain.scrub import scrub
from stagent.domain.tasks import TaskStatus, check_transition
from stagent.store import events, run_state
from stagent.store import ledger as ledger_repo
from stagent.store.hot import SqliteHotConnection
from stagent.store.run_end import RunState, check_move, ended_values, status_payload, storable
from stagent.store.tables import RunRow, TaskRow


@contextmanager
def begin(hot: SqliteHotConnection) -> Generator[SqliteHotConnection]:
    """A write transaction on ``hot`` (``BEGIN IMMEDIATE``), committed when the block ends;
    rolled back if it raises."""
    driver = hot.driver
    driver.execute("BEGIN IMMEDIATE")
    try:
        yield hot
    except BaseException:
        driver.rollback()
        raise
    driver.commit()


def finish(
    hot: SqliteHotConnection,
    run: Run,
    task_id: str,
    target: RunStatus,
    *,
    attempt: int,
    reason: str | None = None,
    result: str | None = None,
    error: str | None = None,
    logged: Sequence[tuple[LogKind, dict[str, Any]]] = (),
    session_id: str | None = None,
) -> Run | None:
    """`stagent.store.lifecycle.finish` of ``run`` (as its executor, the holder of
    ``attempt``, claimed it) of task ``task_id``, on ``hot`` in its open write transaction:
    None if the run had ended already (nothing written); `StaleAttemptError` if ``attempt`` was
    superseded. The run's row is not read again: once the attempt is its newest, the row holds
    what the claim returned, but for its status and holds (the end writes both).
    ``session_id``: the runtime's session id to remember on the task
    (`stagent.store.run_writes.set_session`), written with its end."""
    status, stored_attempt, task_status, booked = run_state.end_fence_on_driver(
        hot, run.id, task_id
    )
    if status.is_terminal:
        return None
    known = task_id if task_status is not None else None
    check_move(RunState(run.id, status, stored_attempt), known, task_status, target, attempt)
    task_target = TaskStatus(target.value)
    moves = task_status is not None and task_status is not task_target
    if moves and task_status is not None:
        check_transition(task_status, task_target, task_id=task_id)
    result, error = storable(scrub(result, hot.secrets)), storable(scrub(error, hot.secrets))
    reason = storable(reason)
    failure = error if target is RunStatus.FAILED else None
    driver, dialect = hot.driver, hot.dialect
    if booked.reserved:
        note = f"released: the run {target.value}"
        ledger_repo.release_reservations_on_driver(driver, dialect, run.id, note=note)
    if booked.completed and target is not RunStatus.COMPLETED:
        ledger_repo.mark_run_outcome_on_driver(driver, dialect, run.id, target.value)
    ended = ended_values(target, reason or failure or target.value, result, error, booked.spent)
    run_state.write_on_driver(hot, RunRow, run.id, ended)
    task: dict[str, Any] = {} if session_id is None else {"session_id": session_id}
    logged = list(logged)
    if moves and task_status is not None:
        task |= {"status": task_target.value, "error": error}
        if target is RunStatus.COMPLETED:
            task["result"] = result
        task["finished_at"] = ended["ended_at"]
        moved = status_payload(task_status, task_target, reason or failure, run.number)
        logged.append(("status", moved))
    if task:
        run_state.write_on_driver(hot, TaskRow, task_id, {**task, "updated_at": ended["ended_at"]})
    if logged:
        events.append_many_on_driver(driver, dialect, hot.secrets, task_id, logged, run_id=run.id)
    return dataclasses.replace(
        run,
        status=target,
        attempt=stored_attempt,
        stop_reason=ended["stop_reason"],
        result=result,
        error=error,
        waiting_on=(),
        ended_at=ended["ended_at"],
        cost_micros=ended["cost_micros"],
    )


__all__ = ["begin", "finish"]
