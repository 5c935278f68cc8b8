"""The run's hot path reads and writes rows without the ORM (`stagent.store.run_state`): what it
reads is the same value the repositories read, what it writes is what they read afterwards (even
an ORM row already loaded in the same transaction), and a run's end logs the executor's last
events after its attempt is checked. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import threading
import time

import psycopg
import pytest
from sqlalchemy import select
from storetools import claimed_run, new_task, queued_run

from pgtrace import round_trips, waits_for_a_lock
from stagent.domain.errors import NotFoundError
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflows import WorkflowDefinition
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle, run_state
from stagent.store import runs as run_repo
from stagent.store import step_rows as step_repo
from stagent.store import tasks as task_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store, flushed_connection
from stagent.store.feed import literal_maker
from stagent.store.tables import TaskRow, WorkflowStepRow


def logged(store: Store, task_id: str) -> list[tuple[str, object]]:
    with store.read() as session:
        found = event_repo.for_task(session, task_id)
    return [(e.kind, e.payload.get("text") or e.payload.get("to")) for e in found]


def test_a_task_read_without_the_orm_is_the_repositorys_value(store: Store) -> None:
    task_id, _ = queued_run(store)
    with store.write() as session:
        locked = lifecycle.locked_task(session, task_id)
    with store.read() as session:
        assert locked == task_repo.get(session, task_id)


def test_a_deleted_or_unknown_task_is_not_found(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        task_repo.delete(session, task_id)
    for missing in (task_id, "tsk_nope"):
        with store.write() as session, pytest.raises(NotFoundError, match="no task with id"):
            lifecycle.locked_task(session, missing)


def test_a_claim_and_an_end_return_what_is_stored(store: Store) -> None:
    claim = claimed_run(store)
    with store.read() as session:
        assert claim.task == task_repo.get(session, claim.task.id)
        assert claim.run == run_repo.get(session, claim.run.id)
    with store.write() as session:
        ended = lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, result="ok")
    with store.read() as session:
        assert ended == run_repo.get(session, claim.run.id)
        assert task_repo.get(session, claim.task.id).result == "ok"


def test_a_queued_run_returns_the_task_as_stored(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        task = lifecycle.locked_task(session, task_id)
        queued, run = lifecycle.queue_run(session, task_id, task.options, task=task)
    assert run is not None and queued.status is TaskStatus.QUEUED
    with store.read() as session:
        assert queued == task_repo.get(session, task_id)
        assert run == run_repo.get(session, run.id)


def test_a_write_keeps_a_row_loaded_by_the_orm_in_step(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        row = task_repo.get_row(session, task_id, for_update=True)
        run_state.write(session, TaskRow, task_id, {"title": "renamed", "priority": 0})
        assert (row.title, row.priority) == ("renamed", 0)
        assert task_repo.get_row(session, task_id).title == "renamed"


def test_a_routed_profile_is_kept_without_an_event(store: Store) -> None:
    task_id = new_task(store)
    before = logged(store, task_id)
    with store.write() as session:
        task_repo.set_routed_profile(session, task_id, "reviewer")
    with store.read() as session:
        assert task_repo.get(session, task_id).profile == "reviewer"
    assert logged(store, task_id) == before


def test_a_runs_end_logs_its_last_events_before_its_status(store: Store) -> None:
    claim = claimed_run(store)
    last = [("text", {"text": "almost"}), ("result", {"text": "done"})]
    with store.write() as session:
        lifecycle.finish(
            session,
            claim.run.id,
            RunStatus.COMPLETED,
            attempt=claim.attempt,
            task_id=claim.task.id,
            logged=last,  # pyright: ignore[reportArgumentType]
            result="done",
        )
    assert logged(store, claim.task.id)[-3:] == [
        ("text", "almost"),
        ("result", "done"),
        ("status", "completed"),
    ]


@pytest.mark.parametrize("target", [RunStatus.COMPLETED, RunStatus.FAILED])
def test_a_runs_end_settles_its_ledger_rows(store: Store, target: RunStatus) -> None:
    """The executor's end (task known: on SQLite the run, its task's status and its ledger
    sums are one read) sums the run's cost, releases its reservation and, for a run that did
    not complete, marks its calls with the outcome; another run's rows are left alone."""
    claim, other = claimed_run(store), claimed_run(store)
    with store.write() as session:
        for run, status, cost in (
            (claim, ledger_repo.RESERVED, 500),
            (claim, ledger_repo.COMPLETED, 30),
            (claim, ledger_repo.COMPLETED, 12),
            (other, ledger_repo.COMPLETED, 1000),
        ):
            new = ledger_repo.NewLedgerEntry(
                runtime="claude",
                task_id=run.task.id,
                run_id=run.run.id,
                status=status,
                cost_micros=cost,
            )
            ledger_repo.insert(session, new)
    with store.write() as session:
        ended = lifecycle.finish(
            session, claim.run.id, target, attempt=claim.attempt, task_id=claim.task.id
        )
    assert ended is not None and ended.cost_micros == 42
    with store.read() as session:
        assert run_repo.get(session, claim.run.id).cost_micros == 42
        assert task_repo.get(session, claim.task.id).status is TaskStatus(target.value)
        booked = run_repo.booked(session, claim.run.id)
        assert booked.reserved == 0
        assert booked.completed == (2 if target is RunStatus.COMPLETED else 0)
        assert run_repo.booked(session, other.run.id).completed == 1


def test_a_superseded_attempt_logs_nothing_at_its_end(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        assert lifecycle.claim(session, claim.task.id, 1) is not None  # attempt 2
    before = logged(store, claim.task.id)
    with store.write() as session, pytest.raises(StaleAttemptError):
        lifecycle.finish(
            session,
            claim.run.id,
            RunStatus.COMPLETED,
            attempt=claim.attempt,
            logged=[("text", {"text": "stale"})],
        )
    assert logged(store, claim.task.id) == before


def test_a_cancelled_run_logs_nothing_at_its_end(store: Store) -> None:
    claim = claimed_run(store)
    with store.write() as session:
        lifecycle.cancel_task(session, claim.task.id, reason="cancelled by a person")
    before = logged(store, claim.task.id)
    with store.write() as session:
        ended = lifecycle.finish(
            session, claim.run.id, RunStatus.COMPLETED, logged=[("text", {"text": "late"})]
        )
    assert ended is None and logged(store, claim.task.id) == before


def test_a_task_that_is_no_workflow_step_has_no_step_row(store: Store) -> None:
    task_id = new_task(store)
    with store.read() as session:
        assert step_repo.step_for_task(session, task_id) is None


def test_a_claim_names_the_workflow_step_row_its_task_runs_as(store: Store) -> None:
    plain, _ = queued_run(store, "plain")
    step_task, _ = queued_run(store, "a step")
    with store.write() as session:
        workflow = workflow_repo.create(session, WorkflowDefinition.model_validate(STEPS))
        workflow_repo.begin_run(session, workflow_repo.get_row(session, workflow.id))
    with store.write() as session:
        row = session.scalars(
            select(WorkflowStepRow).where(WorkflowStepRow.workflow_id == workflow.id)
        ).one()
        row.task_id, step_row = step_task, row.id
    with store.write() as session:
        claims = lifecycle.claim(session, plain, 1), lifecycle.claim(session, step_task, 1)
    assert [c.step_row if c is not None else "unclaimed" for c in claims] == [None, step_row]


STEPS = {"name": "one", "pattern": "sequence", "steps": [{"id": "s", "name": "S", "prompt": "do"}]}


def test_a_claim_on_sqlite_is_one_read_and_its_writes(store: Store) -> None:
    """The task, its run and its workflow step row in one statement, then the run, the task and
    the ``status`` event written."""
    if not store.is_sqlite:
        pytest.skip("PostgreSQL locks the task, then the run: two reads")
    task_id, _ = queued_run(store)
    statements: list[str] = []
    with store.write() as session:
        driver = flushed_connection(session).connection.driver_connection
        driver.set_trace_callback(lambda sql: statements.append(sql.split()[0]))  # every statement
        try:
            assert lifecycle.claim(session, task_id, 1) is not None
        finally:
            driver.set_trace_callback(None)
    assert statements == ["SELECT", "UPDATE", "UPDATE", "INSERT"]


def test_a_runs_end_on_sqlite_is_one_read_and_its_writes(store: Store) -> None:
    """Run, task status and ledger sums in one statement (sent to the driver), then the run
    and the task written, and the last events with the ``status`` one in one executemany
    (SQLite's trace reports each of its rows)."""
    if not store.is_sqlite:
        pytest.skip("PostgreSQL locks the task, then the run, then reads the ledger sums")
    claim = claimed_run(store)
    statements: list[str] = []
    with store.write() as session:
        driver = flushed_connection(session).connection.driver_connection
        driver.set_trace_callback(lambda sql: statements.append(sql.split()[0]))
        try:
            ended = lifecycle.finish(
                session,
                claim.run.id,
                RunStatus.COMPLETED,
                attempt=1,
                task_id=claim.task.id,
                result="ok",
                logged=[("text", {"text": "last words"})],
            )
        finally:
            driver.set_trace_callback(None)
    assert ended is not None and ended.status is RunStatus.COMPLETED
    assert statements == ["SELECT", "UPDATE", "UPDATE", "INSERT", "INSERT"]
    assert logged(store, claim.task.id)[-2:] == [("text", "last words"), ("status", "completed")]


def test_a_flushed_connection_sees_what_the_session_holds(store: Store) -> None:
    task_id = new_task(store)
    with store.write() as session:
        task_repo.get_row(session, task_id).title = "pending in the session"
        conn = flushed_connection(session)
        title = conn.scalar(TaskRow.__table__.select().with_only_columns(TaskRow.title))
    assert title == "pending in the session"


def test_a_runs_end_on_postgresql_reads_in_one_round_trip(store: Store) -> None:
    """Task status, run and ledger sums in one round trip of three statements (the task
    locked first, then the run, then the sums), then the run's and the task's writes, and the
    last events with the commit."""
    if store.is_sqlite:
        pytest.skip("SQLite reads them in one statement (the test above)")
    claim = claimed_run(store)
    with store.write() as session:
        driver = flushed_connection(session).connection.driver_connection
        with round_trips(driver) as trips:
            ended = lifecycle.finish(
                session,
                claim.run.id,
                RunStatus.COMPLETED,
                attempt=1,
                task_id=claim.task.id,
                result="ok",
                logged=[("text", {"text": "last words; and more"})],
            )
    assert ended is not None and ended.status is RunStatus.COMPLETED
    assert trips == [["BEGIN"], ["SELECT", "SELECT", "SELECT"], ["UPDATE"], ["UPDATE"]]
    assert logged(store, claim.task.id)[-2:] == [
        ("text", "last words; and more"),
        ("status", "completed"),
    ]


def test_a_runs_end_counts_what_a_writer_holding_its_run_booked_meanwhile(store: Store) -> None:
    """An end that waits for the run's lock sums the ledger rows the lock's holder committed:
    the sums are read after the lock is taken, not in the snapshot the wait began with."""
    if store.is_sqlite:
        pytest.skip("SQLite's write lock is taken before any read")
    claim = claimed_run(store)
    booked = ledger_repo.NewLedgerEntry(
        runtime="scripted",
        task_id=claim.task.id,
        run_id=claim.run.id,
        status="completed",
        cost_micros=700,
    )
    with store.write() as session:
        ledger_repo.insert(session, booked)
    ended: list[object] = []

    def end() -> None:
        with store.write() as session:
            ended.append(lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED))

    url = store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as holder:
        holder.execute("SELECT 1 FROM runs WHERE id = %s FOR UPDATE", [claim.run.id])
        ender = threading.Thread(target=end)
        ender.start()
        deadline = time.monotonic() + 30
        while not waits_for_a_lock(url):
            assert time.monotonic() < deadline, "the end never waited for the run's lock"
            time.sleep(0.01)
        more = dataclasses.replace(booked, cost_micros=40)
        holder.execute(ledger_repo.insert_statement(literal_maker(holder), more)[0])
        holder.commit()
        ender.join(timeout=30)
    assert not ender.is_alive()
    run = ended[0]
    assert isinstance(run, Run) and run.cost_micros == 740
