"""One lock order for the budget admission lock and a run's row: a usage booking of a run and a
person's cancel of the same run at its budget cap meet, both succeed, and neither loses its
write (the usage row, the run cancelled with that usage in its cost). The order everywhere:
the task, the run, then the admission lock. Before, the cancel took the admission lock and then
the run row, the booking the run row and then the lock: on PostgreSQL they deadlocked and
PostgreSQL aborted one of the two (the cancel, here). SQLite serializes writers: the same
meeting must pass there too."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from budgettools import new_task, rows, set_budget, spend, usd

from stagent.domain.events import UsageEvent
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.governance.budgets_guard import BudgetGuard
from stagent.governance.budgets_policy import CallScope
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.workspace import Workspace

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
DEADLINE = 90.0


@pytest.fixture(params=BACKENDS)
def ws(request: pytest.FixtureRequest) -> Workspace:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def _a_writer_waits_on_a_lock(ws: Workspace) -> bool:
    """Whether some session of this database waits for a lock (row or advisory)."""
    url = ws.store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone()
    return bool(row and row[0])


def test_a_booking_and_a_cancel_of_one_run_at_once_both_land(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_budget(ws, daily=usd("1"), per_run=usd("1"), on_breach="pause")
    spend(ws, new_task(ws, "earlier work"), 1.0)
    task = new_task(ws, "at the cap")
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, task.options)
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task.id, 1)
    assert claim is not None
    run = claim.run
    call = CallScope(runtime=run.runtime, project_id=task.project_id, task_id=task.id)
    admission = ws.budgets.admit(replace(call, run_id=run.id), pausable=True)
    assert not admission.allowed and admission.card_id is not None

    # The booking stops inside its transaction, after its fencing check (the run row locked
    # on PostgreSQL), until the cancel has started and (on PostgreSQL) waits on a lock.
    checked, cancel_started = threading.Event(), threading.Event()
    real_check = lifecycle.check_attempt

    def check_then_hold(session: Any, run_id: str, attempt: int) -> bool:
        ended = real_check(session, run_id, attempt)
        checked.set()
        cancel_started.wait(DEADLINE)
        if not ws.store.is_sqlite:
            _until(lambda: _a_writer_waits_on_a_lock(ws), "the cancel to wait on a lock")
        return ended

    monkeypatch.setattr(lifecycle, "check_attempt", check_then_hold)
    outcomes: dict[str, Any] = {}

    def book() -> None:
        try:
            usage = UsageEvent(model="scripted-1", cost_usd=0.25, request_id="req_meet")
            outcomes["book"] = ws.budgets.book_usage(
                task, usage, run_id=run.id, attempt=claim.attempt
            )
        except Exception as exc:
            outcomes["book"] = exc

    def cancel() -> None:
        cancel_started.set()
        try:
            # What the guard runs when a person answers the run's breach card "cancel".
            outcomes["cancel"] = BudgetGuard(ws.budgets)._cancel(task, run, admission)
        except Exception as exc:
            outcomes["cancel"] = exc

    booking = threading.Thread(target=book)
    booking.start()
    # The booking holds its first lock before the cancel begins.
    assert checked.wait(DEADLINE), "the booking never reached its fencing check"
    cancelling = threading.Thread(target=cancel)
    cancelling.start()
    booking.join(DEADLINE)
    cancelling.join(DEADLINE)
    assert not booking.is_alive() and not cancelling.is_alive(), "a writer hung"

    assert not isinstance(outcomes["book"], Exception), outcomes["book"]
    assert not isinstance(outcomes["cancel"], Exception), outcomes["cancel"]
    entry, created = outcomes["book"]
    assert created and entry.cost_micros == usd("0.25")
    booked = [r for r in rows(ws, task_id=task.id) if r.status not in ("reserved", "blocked")]
    assert [r.cost_micros for r in booked] == [usd("0.25")]
    assert ws.tasks.get(task.id).status is TaskStatus.CANCELLED
    with ws.store.read() as session:
        ended = run_repo.get_row(session, run.id)
        assert RunStatus(ended.status) is RunStatus.CANCELLED
        assert ended.cost_micros == usd("0.25")  # the usage is in the cancelled run's cost
