"""The budget store on SQLite and PostgreSQL alike: spend sums, reservations, window state,
breach cards; and a breach answered from another process wakes the waiting task."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from budgettools import alerts, costing, new_task, rows, set_budget, spend, usd, wait_for_status

from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task, TaskStatus
from stagent.governance import budgets_guard
from stagent.governance.budgets_policy import CallScope
from stagent.store import lifecycle
from stagent.workspace import Workspace

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def ws(request: pytest.FixtureRequest) -> Workspace:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def queued_run(ws: Workspace, task: Task) -> Run:
    """A queued run of ``task`` (no worker picks it up in these tests)."""
    with ws.store.write() as session:
        _, run = lifecycle.queue_run(session, task.id, task.options)
    assert run is not None
    return run


def test_reservations_count_until_the_run_ends(ws: Workspace) -> None:
    set_budget(ws, daily=usd("5"), per_run=usd("2"))
    task = new_task(ws)
    run = queued_run(ws, task)
    call = CallScope(runtime="metered", task_id=task.id, run_id=run.id)
    admission = ws.budgets.admit(call)
    assert (admission.allowed, admission.reserved, admission.run_cap) == (
        True,
        2_000_000,
        2_000_000,
    )
    daily = ws.budgets.status("overall").limits[0]
    assert (daily.spent, daily.reserved, daily.headroom) == (2_000_000, 2_000_000, 3_000_000)

    spend(ws, task, 0.5, run_id=run.id)  # real usage eats into the run's reservation
    daily = ws.budgets.status("overall").limits[0]
    assert (daily.spent, daily.reserved) == (2_000_000, 1_500_000)

    again = ws.budgets.admit(call)  # a run taken over after a crash replaces its reservation
    assert again.reserved == 2_000_000
    assert len(rows(ws, status="reserved")) == 1

    with ws.store.write() as session:  # ending the run settles it in the same transaction
        ended = lifecycle.finish(session, run.id, RunStatus.FAILED, error="boom")
    assert ended is not None and ended.cost_micros == 500_000
    daily = ws.budgets.status("overall").limits[0]
    assert (daily.spent, daily.reserved) == (500_000, 0)
    assert len(rows(ws, status="released")) == 2
    assert [r.cost_micros for r in rows(ws, status="failed")] == [500_000]
    with ws.store.write() as session:  # a second end changes nothing
        assert lifecycle.finish(session, run.id, RunStatus.COMPLETED) is None
    assert len(rows(ws, status="released")) == 2


def test_a_reservation_is_the_runs_not_the_tasks(ws: Workspace) -> None:
    """Another run of the same task (a retry queued while the first still settles) neither
    releases nor shrinks the first run's reservation."""
    set_budget(ws, daily=usd("5"), per_run=usd("2"))
    task = new_task(ws)
    first = queued_run(ws, task)
    ws.budgets.admit(CallScope(runtime="metered", task_id=task.id, run_id=first.id))
    spend(ws, task, 0.5, run_id="run_other")
    assert [r.cost_micros for r in rows(ws, status="reserved")] == [2_000_000]
    ws.budgets.admit(CallScope(runtime="metered", task_id=task.id, run_id="run_other"))
    assert sorted(r.cost_micros for r in rows(ws, status="reserved")) == [2_000_000, 2_000_000]


def test_spend_is_summed_per_scope_and_window(ws: Workspace) -> None:
    ws.projects.create("P")
    set_budget(ws, daily=usd("100"))
    set_budget(ws, scope="runtime", ref="metered", monthly=usd("100"))
    set_budget(ws, scope="project", ref="P", daily=usd("100"))
    in_project, outside = new_task(ws, project="P"), new_task(ws)
    today = datetime(2026, 12, 15, 12, tzinfo=UTC)
    spend(ws, in_project, 1.0, at=today)
    spend(ws, outside, 2.0, at=today)
    spend(ws, outside, 4.0, at=datetime(2026, 12, 1, 12, tzinfo=UTC))
    spend(ws, outside, 8.0, at=datetime(2026, 11, 30, 12, tzinfo=UTC))
    ws.budgets.clock = lambda: today
    spent = {s.label: (s.limits[0].spent, s.limits[1].spent) for s in ws.budgets.statuses()}
    assert spent == {
        "overall": (3_000_000, 7_000_000),
        "runtime metered": (3_000_000, 7_000_000),
        "project P": (1_000_000, 1_000_000),
    }


def test_refusals_warnings_and_cards(ws: Workspace) -> None:
    set_budget(ws, daily=usd("1"))
    task = new_task(ws)
    spend(ws, task, 1.0)
    refused = ws.budgets.admit(CallScope(runtime="metered", task_id=task.id))
    assert not refused.allowed and refused.card_id is None
    assert refused.message is not None and "overall daily cap $1.00 reached" in refused.message
    assert len(rows(ws, status="blocked")) == 1
    assert [a.payload["level"] for a in alerts(ws)] == ["blocked", "warning"]

    set_budget(ws, on_breach="pause")
    paused = ws.budgets.admit(CallScope(runtime="metered", task_id=task.id), pausable=True)
    assert paused.card_id is not None and len(rows(ws, status="blocked")) == 1
    ws.budgets.respond(paused.card_id, "allow", usd("1"))
    assert ws.budgets.admit(CallScope(runtime="metered", task_id=task.id)).allowed


@pytest.mark.slow
def test_an_answer_from_another_process_wakes_the_waiting_task(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The waiting run's fallback re-read is pushed far out, so only the wake-up can be in time
    # (a bound far above a loaded machine's latency, far below the fallback).
    monkeypatch.setattr(budgets_guard, "WAIT_FALLBACK_SECONDS", 120.0)
    set_budget(worker, daily=usd("1"), on_breach="pause")
    spend(worker, new_task(worker), 1.0)
    task = new_task(worker, "waits", costing(0.25))
    worker.tasks.run(task.id)
    wait_for_status(worker, task.id, TaskStatus.WAITING)
    (card,) = worker.budgets.breaches()
    env = {**os.environ, "STAGENT_HOME": str(worker.settings.home)}
    command = [sys.executable, "-m", "stagent", "budget", "respond", card.id, "allow"]
    subprocess.run([*command, "--amount", "1"], env=env, check=True, capture_output=True)
    assert worker.tasks.wait(task.id).status is TaskStatus.COMPLETED
    (answered,) = worker.budgets.breaches(pending_only=False)
    resumed = next(
        e
        for e in worker.tasks.events(task.id)
        if e.kind == "status" and e.payload == {**e.payload, "from": "waiting", "to": "running"}
    )
    assert answered.responded_at is not None and resumed.created_at is not None
    woke_after = (resumed.created_at - answered.responded_at).total_seconds()
    assert 0 <= woke_after < 10, woke_after
