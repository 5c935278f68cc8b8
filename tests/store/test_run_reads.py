"""What the runs repository answers about a task's history and a run's money: runs listed
newest first and by status, a task's runs oldest first, its latest run, a run's spend and what
its ledger rows hold when it ends, and a missing run named in the error. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from storetools import new_task, queued_run

from stagent.domain.errors import NotFoundError
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus, Subject
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store.database import Store

OPTIONS = RunOptions(runtime="scripted")


def ended_then_queued_again(store: Store) -> tuple[str, list[str]]:
    """A task whose first run failed and whose second run is queued: (task id, run ids)."""
    task_id, first = queued_run(store)
    with store.write() as session:
        lifecycle.claim(session, task_id, 1)
        lifecycle.finish(session, first.id, RunStatus.FAILED, error="boom")
    with store.write() as session:
        _, second = lifecycle.queue_run(session, task_id, OPTIONS)
    assert second is not None
    return task_id, [first.id, second.id]


def book(store: Store, run_id: str, micros: int, status: str) -> None:
    with store.write() as session:
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="claude", run_id=run_id, cost_micros=micros, status=status
            ),
        )


def test_a_tasks_runs_are_its_history_oldest_first(store: Store) -> None:
    task_id, ids = ended_then_queued_again(store)
    with store.read() as session:
        history = run_repo.for_task(session, task_id)
        latest = run_repo.latest_row(session, task_id)
        second = run_repo.find_row(session, task_id, 2)
    assert [(r.id, r.number, r.status) for r in history] == [
        (ids[0], 1, RunStatus.FAILED),
        (ids[1], 2, RunStatus.QUEUED),
    ]
    assert history[0].error == "boom" and history[0].ended_at is not None
    assert latest is not None and latest.id == ids[1]
    assert second is not None and second.id == ids[1]


def test_a_task_that_never_ran_has_no_history(store: Store) -> None:
    task_id = new_task(store)
    with store.read() as session:
        assert run_repo.for_task(session, task_id) == []
        assert run_repo.latest_row(session, task_id) is None
        assert run_repo.find_row(session, task_id, 1) is None


def test_runs_are_listed_newest_first_by_status_and_up_to_a_limit(store: Store) -> None:
    _, older = ended_then_queued_again(store)
    _, newest = queued_run(store, "later")
    with store.read() as session:
        everything = [r.id for r in run_repo.list_runs(session)]
        queued = [r.id for r in run_repo.list_runs(session, status=RunStatus.QUEUED)]
        failed = [r.id for r in run_repo.list_runs(session, status=RunStatus.FAILED)]
        two = run_repo.list_runs(session, limit=2)
        running = run_repo.list_runs(session, status=RunStatus.RUNNING)
    assert set(everything) == {*older, newest.id} and everything[0] == newest.id
    assert set(queued) == {older[1], newest.id} and failed == [older[0]]
    assert len(two) == 2 and running == []


def test_a_missing_run_is_not_found_and_named(store: Store) -> None:
    with pytest.raises(NotFoundError, match="run_nope") as raised, store.read() as session:
        run_repo.get(session, "run_nope")
    assert raised.value.hint is not None and "runs" in raised.value.hint


def test_a_runs_spend_counts_calls_but_not_reservations_or_refusals(store: Store) -> None:
    _, run = queued_run(store)
    book(store, run.id, 1_000, "completed")
    book(store, run.id, 250, "failed")
    book(store, run.id, 75, "cancelled")
    book(store, run.id, 2_000_000, "reserved")
    book(store, run.id, 0, "blocked")
    book(store, "run_other", 9_999, "completed")
    with store.read() as session:
        assert run_repo.spent(session, run.id) == 1_325
        booked = run_repo.booked(session, run.id)
        assert run_repo.spent(session, "run_without_rows") == 0
        nothing = run_repo.booked(session, "run_without_rows")
    assert booked == run_repo.Booked(spent=1_325, reserved=1, completed=1)
    assert nothing == run_repo.Booked(spent=0, reserved=0, completed=0)


def test_a_run_of_another_subject_keeps_its_subject(store: Store) -> None:
    with store.write() as session:
        run = run_repo.insert_queued(
            session,
            subject=Subject("workflow_step", "wfs_1"),
            task_id=None,
            number=3,
            options=RunOptions(runtime="scripted", model="m-1"),
            workflow_id="wf-x",
        )
    with store.read() as session:
        loaded = run_repo.get(session, run.id)
    assert loaded.subject == Subject("workflow_step", "wfs_1") and loaded.task_id is None
    assert (loaded.number, loaded.workflow_id, loaded.options.model) == (3, "wf-x", "m-1")
    assert loaded == run


def test_two_runs_with_one_number_for_one_subject_are_refused(store: Store) -> None:
    task_id = new_task(store)
    subject = Subject("task", task_id)
    with store.write() as session:
        run_repo.insert_queued(session, subject=subject, task_id=task_id, number=1, options=OPTIONS)
    with pytest.raises(IntegrityError), store.write() as session:
        run_repo.insert_queued(session, subject=subject, task_id=task_id, number=1, options=OPTIONS)
    with store.read() as session:
        assert len(run_repo.for_task(session, task_id)) == 1
