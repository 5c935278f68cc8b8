"""A run is settled by the transaction that ends it, however it ends (completed by its executor,
cancelled by a person, failed by reconcile): its budget reservation is released once, by run, its
call rows say how it ended, and its cost is what its calls cost. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stagent import workspace as workspace_module
from stagent.domain.events import UsageEvent
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.governance.budgets_policy import CallScope
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store.lifecycle import Claim
from stagent.testing.metered import registry_with_metered
from stagent.workspace import Workspace


@pytest.fixture(autouse=True)
def _metered_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    """Usage of the test-only ``metered`` runtime counts as real spend (scripted's does not)."""
    monkeypatch.setattr(
        workspace_module,
        "default_registry",
        registry_with_metered(workspace_module.default_registry),
    )


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    yield request.getfixturevalue("workspace" if request.param == "sqlite" else "pg_workspace")


def running(ws: Workspace, title: str = "t") -> Claim:
    """A run claimed by an executor, admitted under an overall budget (so it holds $2)."""
    ws.budgets.set(BudgetChange(daily=50_000_000, per_run=2_000_000))
    task = ws.tasks.create(TaskDraft(title=title, runtime="metered"))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task.id, 1)
    assert claim is not None
    call = CallScope(runtime="metered", task_id=task.id, run_id=claim.run.id)
    assert ws.budgets.admit(call).reserved == 2_000_000
    return claim


def book(ws: Workspace, claim: Claim, usd: float, request: str) -> None:
    usage = UsageEvent(model="scripted-1", cost_usd=usd, request_id=request)
    ws.budgets.record_usage(claim.task, usage, run_id=claim.run.id, attempt=claim.attempt)


def rows(ws: Workspace, claim: Claim) -> list[tuple[str, int]]:
    """The run's ledger rows: (status, cost)."""
    entries = ws.budgets.usage(ledger_repo.LedgerFilter(task_id=claim.task.id), limit=100)
    return sorted((e.status, e.cost_micros) for e in entries if e.run_id == claim.run.id)


def test_a_person_cancelling_a_running_run_releases_its_reservation_at_once(
    ws: Workspace,
) -> None:
    claim = running(ws)
    book(ws, claim, 0.25, "a")
    ws.tasks.cancel(claim.task.id)
    assert rows(ws, claim) == [("cancelled", 250_000), ("released", 0)]
    run = ws.tasks.run_record(claim.run.id)
    assert run.status is RunStatus.CANCELLED and run.cost_micros == 250_000
    assert ws.budgets.status("overall").limits[0].reserved == 0


def test_usage_the_executor_reports_after_a_cancel_still_counts_in_the_runs_cost(
    ws: Workspace,
) -> None:
    """The executor notices a cancel a moment later; a call it made meanwhile was paid for."""
    claim = running(ws)
    ws.tasks.cancel(claim.task.id)
    book(ws, claim, 0.5, "late")
    assert ws.tasks.run_record(claim.run.id).cost_micros == 500_000
    assert ws.budgets.status("overall").limits[0].spent == 500_000


def test_a_run_failed_by_reconcile_gives_its_reservation_back(ws: Workspace) -> None:
    claim = running(ws)
    with ws.store.write() as session:  # what reconcile does for a run gone from the engine
        lifecycle.finish(session, claim.run.id, RunStatus.FAILED, error="interrupted")
    assert rows(ws, claim) == [("released", 0)]
    assert ws.budgets.status("overall").limits[0].spent == 0


def test_completing_keeps_the_call_rows_completed_and_settles_the_cost(ws: Workspace) -> None:
    claim = running(ws)
    book(ws, claim, 0.1, "a")
    book(ws, claim, 0.2, "b")
    book(ws, claim, 0.2, "b")  # the same provider call reported twice is booked once
    with ws.store.write() as session:
        ended = lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=claim.attempt)
    assert ended is not None and ended.cost_micros == 300_000
    assert rows(ws, claim) == [
        ("completed", 100_000),
        ("completed", 200_000),
        ("released", 0),
    ]
    assert ws.tasks.get(claim.task.id).status is TaskStatus.COMPLETED


def test_statuses_and_wait_read_what_a_waiting_person_needs(ws: Workspace) -> None:
    planned = ws.tasks.create(TaskDraft(title="p"))
    claim = running(ws, "r")
    assert ws.tasks.statuses([planned.id, claim.task.id, "tsk_missing"]) == {
        planned.id: TaskStatus.PLANNED,
        claim.task.id: TaskStatus.RUNNING,
    }
    assert ws.tasks.wait(planned.id, timeout=5).status is TaskStatus.PLANNED
    assert ws.tasks.wait(claim.task.id, timeout=0.2).status is TaskStatus.RUNNING  # timed out
