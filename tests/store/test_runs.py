"""Runs as records and the one owner of their state, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from stagent.domain.errors import ConflictError, InvalidTransitionError
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.store import events as event_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.workspace import Workspace

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgres"])


@pytest.fixture
def ws(request: pytest.FixtureRequest, db: str) -> Workspace:
    """The SQLite or the PostgreSQL workspace."""
    name = "workspace" if db == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def queued(ws: Workspace, title: str = "t") -> tuple[str, str]:
    task = ws.tasks.create(TaskDraft(title=title))
    with ws.store.write() as session:
        _, run = lifecycle.queue_run(session, task.id, task.options)
    assert run is not None
    return task.id, run.id


def test_queueing_creates_a_run_record_with_its_subject_and_options(ws: Workspace) -> None:
    task = ws.tasks.create(
        TaskDraft(title="t", options={"model": "m-1", "limits": {"max_turns": 3}})
    )
    ws.tasks.run(task.id)  # no worker: the run stays queued
    [run] = ws.tasks.runs(task.id)
    assert (run.subject.kind, run.subject.id, run.task_id) == ("task", task.id, task.id)
    assert run.number == 1 and run.status is RunStatus.QUEUED and run.attempt == 0
    assert run.options.model == "m-1" and run.options.limits.max_turns == 3
    assert run.workflow_id == f"{task.id}-run-1"
    again = ws.tasks.run(task.id)  # already queued: the same run, not a second one
    assert again.run_count == 1 and len(ws.tasks.runs(task.id)) == 1


def test_claim_raises_the_attempt_and_a_takeover_fences_the_old_attempt(ws: Workspace) -> None:
    task_id, run_id = queued(ws)
    with ws.store.write() as session:
        first = lifecycle.claim(session, task_id, 1)
    assert first is not None and first.attempt == 1 and not first.recovered
    with ws.store.write() as session:  # the worker died; another takes the run over
        second = lifecycle.claim(session, task_id, 1)
    assert second is not None and second.attempt == 2 and second.recovered
    with (
        pytest.raises(StaleAttemptError, match="attempt 1 .* superseded by attempt 2"),
        ws.store.write() as session,
    ):
        lifecycle.finish(session, run_id, RunStatus.COMPLETED, attempt=1, result="late")
    with ws.store.write() as session:
        ended = lifecycle.finish(session, run_id, RunStatus.COMPLETED, attempt=2, result="ok")
    assert ended is not None and ended.status is RunStatus.COMPLETED
    assert ended.stop_reason == "completed" and ended.ended_at is not None
    task = ws.tasks.get(task_id)
    assert task.status is TaskStatus.COMPLETED and task.result == "ok"
    with ws.store.write() as session:  # finishing twice changes nothing
        assert lifecycle.finish(session, run_id, RunStatus.FAILED, error="x") is None
    assert ws.tasks.get(task_id).status is TaskStatus.COMPLETED
    with ws.store.read() as session:
        kinds = [e.kind for e in event_repo.for_run(session, run_id)]
    assert kinds == ["status", "status", "recovered", "status"]


def test_an_ended_run_is_never_claimed_again(ws: Workspace) -> None:
    task_id, run_id = queued(ws)
    with ws.store.write() as session:
        lifecycle.claim(session, task_id, 1)
        lifecycle.finish(session, run_id, RunStatus.FAILED, error="boom")
    with ws.store.write() as session:
        assert lifecycle.claim(session, task_id, 1) is None
    assert ws.tasks.get(task_id).error == "boom"


def test_holds_suspend_a_run_until_the_last_one_is_released(ws: Workspace) -> None:
    task_id, run_id = queued(ws)
    with ws.store.write() as session:
        lifecycle.claim(session, task_id, 1)
        lifecycle.suspend(session, run_id, "approval:a", reason="a tool needs a person")
        lifecycle.suspend(session, run_id, "budget:b", reason="the budget is at its cap")
    run = ws.tasks.run_record(run_id)
    assert run.status is RunStatus.WAITING and run.waiting_on == ("approval:a", "budget:b")
    assert ws.tasks.get(task_id).status is TaskStatus.WAITING
    with ws.store.write() as session:
        lifecycle.release(session, run_id, "approval:a", reason="allowed")
    assert ws.tasks.run_record(run_id).status is RunStatus.WAITING  # the budget still holds
    with ws.store.write() as session:
        lifecycle.release(session, run_id, "budget:b", reason="cap raised")
    run = ws.tasks.run_record(run_id)
    assert run.status is RunStatus.RUNNING and run.waiting_on == ()
    assert ws.tasks.get(task_id).status is TaskStatus.RUNNING
    reasons = [e.payload.get("reason") for e in ws.tasks.events(task_id) if e.kind == "status"]
    assert reasons[-2:] == ["a tool needs a person", "cap raised"]


def test_the_transition_table_refuses_what_it_does_not_list(ws: Workspace) -> None:
    task_id, run_id = queued(ws)
    with (
        pytest.raises(InvalidTransitionError, match="from queued to completed"),
        ws.store.write() as session,
    ):
        lifecycle.finish(session, run_id, RunStatus.COMPLETED)
    with (
        pytest.raises(InvalidTransitionError, match="does not end a run"),
        ws.store.write() as session,
    ):
        lifecycle.claim(session, task_id, 1)
        lifecycle.finish(session, run_id, RunStatus.WAITING)
    assert ws.tasks.run_record(run_id).status is RunStatus.QUEUED  # rolled back


def test_cancel_ends_the_active_run_and_a_board_move_cancels_a_queued_one(
    ws: Workspace,
) -> None:
    task_id, run_id = queued(ws)
    with ws.store.write() as session:
        lifecycle.claim(session, task_id, 1)
    ws.tasks.cancel(task_id)
    run = ws.tasks.run_record(run_id)
    assert run.status is RunStatus.CANCELLED and run.stop_reason == "cancelled by a person"
    other = ws.tasks.create(TaskDraft(title="o"))
    ws.tasks.run(other.id)
    ws.tasks.move(other.id, TaskStatus.PLANNED)
    [moved] = ws.tasks.runs(other.id)
    assert moved.status is RunStatus.CANCELLED and moved.stop_reason == "moved on the board"
    with pytest.raises(ConflictError, match="already running"):
        _run_while_running(ws)


def _run_while_running(ws: Workspace) -> None:
    task_id, _ = queued(ws, "busy")
    with ws.store.write() as session:
        lifecycle.claim(session, task_id, 1)
    ws.tasks.run(task_id)


def test_a_runs_cost_is_settled_from_its_own_usage_rows(ws: Workspace) -> None:
    from stagent.store import ledger as ledger_repo

    task_id, run_id = queued(ws)
    with ws.store.write() as session:
        lifecycle.claim(session, task_id, 1)
        for cost, status in ((1200, "completed"), (300, "completed"), (5000, "reserved")):
            ledger_repo.insert(
                session,
                ledger_repo.NewLedgerEntry(
                    runtime="scripted",
                    task_id=task_id,
                    run_id=run_id,
                    cost_micros=cost,
                    status=status,
                ),
            )
        lifecycle.finish(session, run_id, RunStatus.COMPLETED, result="r")
    assert ws.tasks.run_record(run_id).cost_micros == 1500
    with ws.store.read() as session:
        assert run_repo.spent(session, run_id) == 1500
