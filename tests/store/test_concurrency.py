"""Two writers at once on the durable core: of two claimers of a run one executes it and the
other's writes are fenced; an executor finishing while a person cancels ends the run once and
settles it once; two people queueing a task make one run; a take-over racing an executor's
events never lets a stale event in after it. Threads on one store (as workers on one machine)
and two stores (as two processes). On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from storetools import claimed_run, new_task, queued_run

from stagent.domain.errors import StagentError
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.run_options import RunOptions
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import events as event_repo
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle, run_writes
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store
from stagent.store.lifecycle import Claim

OPTIONS = RunOptions(runtime="scripted")


def together(*actions: Callable[[], Any]) -> list[Any]:
    """Run each action in its own thread, released at the same moment; returns each one's
    result or the exception it raised, in order."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer hung (deadlock?)"
    return results


@pytest.fixture
def other(store: Store) -> Store:
    """A second store on the same database: another process's connections."""
    second = Store(store.url)
    yield second  # type: ignore[misc]
    second.dispose()


def claim(store: Store, task_id: str) -> Claim | None:
    with store.write() as session:
        return lifecycle.claim(session, task_id, 1)


def test_two_claimers_get_distinct_attempts_and_only_the_newest_owns_the_run(
    store: Store, other: Store
) -> None:
    task_id, run = queued_run(store)
    first, second = together(lambda: claim(store, task_id), lambda: claim(other, task_id))
    assert isinstance(first, Claim) and isinstance(second, Claim)
    assert sorted((first.attempt, second.attempt)) == [1, 2]
    assert sorted((first.recovered, second.recovered)) == [False, True]
    newest, stale = (first, second) if first.attempt == 2 else (second, first)
    with store.write_connection() as conn:
        assert run_writes.append_event(
            conn,
            task_id=task_id,
            run_id=run.id,
            attempt=newest.attempt,
            kind="text",
            payload={"text": "owner"},
        )
        assert not run_writes.append_event(
            conn,
            task_id=task_id,
            run_id=run.id,
            attempt=stale.attempt,
            kind="text",
            payload={"text": "stale"},
        )
    with store.read() as session:
        texts = [e.payload.get("text") for e in event_repo.for_run(session, run.id)]
        assert run_repo.get(session, run.id).attempt == 2
    assert "owner" in texts and "stale" not in texts
    assert texts.count(None) == 3  # queued, running, recovered: each logged once


def test_many_claimers_raise_the_attempt_once_each(store: Store) -> None:
    task_id, run = queued_run(store)
    results = together(*(lambda: claim(store, task_id) for _ in range(4)))
    attempts = sorted(r.attempt for r in results if isinstance(r, Claim))
    assert attempts == [1, 2, 3, 4]
    with store.read() as session:
        assert run_repo.get(session, run.id).attempt == 4
        assert event_repo.count(session, task_id, "recovered") == 3


def test_an_executor_finishing_while_a_person_cancels_ends_the_run_once(
    store: Store, other: Store
) -> None:
    claimed = claimed_run(store)
    with store.write() as session:
        ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted",
                task_id=claimed.task.id,
                run_id=claimed.run.id,
                status="reserved",
                cost_source="estimate",
                cost_micros=5000,
            ),
        )

    def complete() -> Any:
        with store.write() as session:
            return lifecycle.finish(
                session, claimed.run.id, RunStatus.COMPLETED, attempt=1, result="done"
            )

    def cancel() -> Any:
        with other.write() as session:
            return lifecycle.cancel_task(session, claimed.task.id, reason="stop")

    finished, cancelled = together(complete, cancel)
    with store.read() as session:
        run = run_repo.get(session, claimed.run.id)
        task = task_repo.get(session, claimed.task.id)
        entries = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(), limit=None)
        statuses = [e for e in event_repo.for_run(session, claimed.run.id) if e.kind == "status"]
    assert run.status in (RunStatus.COMPLETED, RunStatus.CANCELLED)
    assert task.status is TaskStatus(run.status.value)  # run and task agree
    if run.status is RunStatus.COMPLETED:
        assert isinstance(cancelled, StagentError) and task.result == "done"
    else:
        assert finished is None or isinstance(finished, StagentError)
    assert [(e.status, e.cost_micros) for e in entries] == [("released", 0)]
    assert [e.payload["to"] for e in statuses] == ["queued", "running", run.status.value]


def test_two_people_queueing_a_task_at_once_make_one_run(store: Store, other: Store) -> None:
    task_id = new_task(store)

    def queue(on: Store) -> Any:
        with on.write() as session:
            return lifecycle.queue_run(session, task_id, OPTIONS)[1]

    first, second = together(lambda: queue(store), lambda: queue(other))
    made = [r for r in (first, second) if r is not None and not isinstance(r, Exception)]
    assert len(made) == 1
    with store.read() as session:
        runs = run_repo.for_task(session, task_id)
        task = task_repo.get(session, task_id)
    assert [r.number for r in runs] == [1] and task.run_count == 1


def test_two_finishers_of_one_run_settle_it_once(store: Store, other: Store) -> None:
    """The executor and the reconciler (after a crash) both end the run."""
    claimed = claimed_run(store)
    with store.write() as session:
        for status, cost in (("reserved", 3000), ("completed", 200)):
            ledger_repo.insert(
                session,
                ledger_repo.NewLedgerEntry(
                    runtime="scripted",
                    task_id=claimed.task.id,
                    run_id=claimed.run.id,
                    status=status,
                    cost_micros=cost,
                ),
            )

    def finish(on: Store, status: RunStatus, attempt: int | None) -> Any:
        with on.write() as session:
            return lifecycle.finish(session, claimed.run.id, status, attempt=attempt, error="e")

    results = together(
        lambda: finish(store, RunStatus.COMPLETED, 1),
        lambda: finish(other, RunStatus.FAILED, None),
    )
    assert sum(1 for r in results if r is not None and not isinstance(r, Exception)) == 1
    with store.read() as session:
        run = run_repo.get(session, claimed.run.id)
        entries = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(), limit=None)
    assert sorted(e.status for e in entries) == sorted(["released", run.status.value])
    assert run.cost_micros == 200


def test_a_takeover_racing_an_executors_events_fences_every_later_event(
    store: Store, other: Store
) -> None:
    """A resumed worker keeps appending while a survivor takes the run over: once the
    take-over is in the log, no event of the old attempt follows it.

    The old worker writes until it is refused, then a few more, rather than a fixed number of
    events: on SQLite the claim waits for the write lock in SQLite's busy handler (sleeps of
    1-100 ms) while the old worker takes and drops the lock back to back, so under load the claim
    could return after any fixed count and no write was ever refused.
    """
    claimed = claimed_run(store)
    stop = threading.Event()
    written: list[bool] = []
    after_refusal = 20  # writes attempted once refused: every one must be refused too

    def old_worker() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            with store.write_connection() as conn:
                written.append(
                    run_writes.append_event(
                        conn,
                        task_id=claimed.task.id,
                        run_id=claimed.run.id,
                        attempt=1,
                        kind="text",
                        payload={"attempt": 1},
                    )
                )
            if written.count(False) >= after_refusal:
                return

    worker = threading.Thread(target=old_worker)
    worker.start()
    try:
        while len(written) < 5 and worker.is_alive():  # the old worker is writing
            threading.Event().wait(0.005)
        taken = claim(other, claimed.task.id)
    except BaseException:
        stop.set()
        raise
    finally:
        worker.join(timeout=90)
    assert not worker.is_alive()
    assert taken is not None and taken.attempt == 2
    assert False in written, "no write of the old attempt was refused within 60 s of the take-over"
    refused_from = written.index(False)
    assert written[refused_from:] == [False] * after_refusal  # refused from then on, every time
    with store.read() as session:
        kinds = [
            (e.kind, e.payload.get("attempt")) for e in event_repo.for_run(session, claimed.run.id)
        ]
    recovered = kinds.index(("recovered", 2))
    assert ("text", 1) not in kinds[recovered:]
    assert kinds.count(("text", 1)) == sum(written) == refused_from  # every acknowledged one


def test_stale_usage_is_refused_while_the_new_owner_books_its_own(
    store: Store, other: Store
) -> None:
    claimed = claimed_run(store)
    claim(other, claimed.task.id)  # attempt 2

    def book(on: Store, attempt: int, key: str) -> Any:
        with on.write() as session:
            lifecycle.check_attempt(session, claimed.run.id, attempt)
            return ledger_repo.insert_once(
                session,
                ledger_repo.NewLedgerEntry(
                    runtime="scripted",
                    task_id=claimed.task.id,
                    run_id=claimed.run.id,
                    cost_micros=10,
                    dedupe_key=key,
                ),
            )[1]

    old, new = together(
        lambda: book(store, 1, "request:old"), lambda: book(other, 2, "request:new")
    )
    assert isinstance(old, StaleAttemptError) and new is True
    with store.read() as session:
        entries = ledger_repo.list_entries(session, ledger_repo.LedgerFilter())
    keys = [e.dedupe_key for e in entries]
    assert keys == ["request:new"]


def test_concurrent_holds_and_releases_leave_the_run_consistent(store: Store, other: Store) -> None:
    claimed = claimed_run(store)
    holds = [f"approval:c{i}" for i in range(4)]

    def hold(on: Store, name: str) -> Any:
        with on.write() as session:
            return lifecycle.suspend(session, claimed.run.id, name, reason=name)

    pairs = list(zip([store, other] * 2, holds, strict=True))
    together(*(lambda s=s, h=h: hold(s, h) for s, h in pairs))
    with store.read() as session:
        run = run_repo.get(session, claimed.run.id)
    assert run.status is RunStatus.WAITING and sorted(run.waiting_on) == holds  # none lost

    def release(on: Store, name: str) -> Any:
        with on.write() as session:
            return lifecycle.release(session, claimed.run.id, name, reason="ok")

    together(
        *(lambda s=s, h=h: release(s, h) for s, h in zip([store, other] * 2, holds, strict=True))
    )
    with store.read() as session:
        run = run_repo.get(session, claimed.run.id)
        task = task_repo.get(session, claimed.task.id)
        resumed = [
            e
            for e in event_repo.for_run(session, claimed.run.id)
            if e.payload.get("to") == "running"
        ]
    assert run.status is RunStatus.RUNNING and run.waiting_on == ()
    assert task.status is TaskStatus.RUNNING
    assert len(resumed) == 2  # claimed, then resumed once after the last release


def test_a_runs_end_racing_every_other_writer_of_its_task_never_deadlocks(
    store: Store, other: Store
) -> None:
    """The executor's end (task, then run: the task is locked ``FOR NO KEY UPDATE`` before it
    is written, never upgraded from a share lock), a person's cancel (task, then run), an
    approval's hold (task, then run) and a booked call (the run only) on one task at once,
    round after round: each round ends the run once, task and run agree, and no writer fails
    with anything but a refusal (a deadlock would come out as a database error)."""
    for round_number in range(6):
        claimed = claimed_run(store, f"r{round_number}")
        results = together(*_writers_of(claimed.task.id, claimed.run.id, store, other))
        failures = [r for r in results if isinstance(r, Exception)]
        assert all(isinstance(r, StagentError) for r in failures), failures
        with store.read() as session:
            run = run_repo.get(session, claimed.run.id)
            task = task_repo.get(session, claimed.task.id)
            ended = [
                e.payload["to"]
                for e in event_repo.for_run(session, claimed.run.id)
                if e.kind == "status" and e.payload["to"] in ("completed", "cancelled")
            ]
        assert run.status in (RunStatus.COMPLETED, RunStatus.CANCELLED)
        assert task.status is TaskStatus(run.status.value)
        assert ended == [run.status.value]
        assert run.cost_micros == 100


def _writers_of(task_id: str, run_id: str, store: Store, other: Store) -> list[Callable[[], Any]]:
    """The executor ending the run, a person cancelling the task, an approval holding the run
    and a provider call booked on it (two stores: two processes)."""

    def end() -> Any:
        with store.write() as session:
            return lifecycle.finish(
                session, run_id, RunStatus.COMPLETED, attempt=1, task_id=task_id, result="ok"
            )

    def cancel() -> Any:
        with other.write() as session:
            return lifecycle.cancel_task(session, task_id, reason="stop")

    def hold() -> Any:
        with other.write() as session:
            return lifecycle.suspend(session, run_id, "approval:c", reason="ask", attempt=1)

    def book() -> Any:
        with store.write() as session:
            ended = lifecycle.check_attempt(session, run_id, 1)
            entry = ledger_repo.NewLedgerEntry(
                runtime="scripted",
                task_id=task_id,
                run_id=run_id,
                status="completed",
                cost_micros=100,
            )
            ledger_repo.insert(session, entry)
            if ended:
                lifecycle.settle_cost(session, run_id)

    return [end, cancel, hold, book]
