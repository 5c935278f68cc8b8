"""A run's end on SQLite's bare driver connection (`stagent.store.hot_end`, what a run's
executor ends it with on SQLite): it writes what `lifecycle.finish` writes through a Session --
the run, the task, the log, the ledger's settlement, the runtime's session id -- in one read and
its writes, and refuses what it refuses. SQLite only (PostgreSQL ends through the Session)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from storetools import claimed_run

from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import Run, RunStatus
from stagent.store import events as event_repo
from stagent.store import hot_end, lifecycle, run_writes
from stagent.store import ledger as ledger_repo
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store, flushed_connection


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    """SQLite only (this module's subject is SQLite's driver)."""
    path = tmp_path / "store.sqlite"
    shutil.copyfile(sqlite_template, path)
    path.chmod(0o600)
    return f"sqlite:///{path}"


LAST_EVENTS: list[tuple[Any, dict[str, Any]]] = [
    ("text", {"text": "last words, token s3cret-value"}),
    ("result", {"text": "done"}),
]


def with_calls(store: Store) -> tuple[str, str]:
    """A claimed run holding a reservation and two completed calls: its task and run ids."""
    claim = claimed_run(store)
    entries = [
        ledger_repo.NewLedgerEntry(
            runtime="scripted",
            task_id=claim.task.id,
            run_id=claim.run.id,
            cost_micros=1_000_000,
            cost_source="estimate",
            status=ledger_repo.RESERVED,
        ),
        *(
            ledger_repo.NewLedgerEntry(
                runtime="scripted", task_id=claim.task.id, run_id=claim.run.id, cost_micros=micros
            )
            for micros in (100, 20)
        ),
    ]
    with store.write() as session:
        for entry in entries:
            ledger_repo.insert(session, entry)
    return claim.task.id, claim.run.id


def on_driver(store: Store, task_id: str, run_id: str, target: RunStatus, **fields: Any) -> Any:
    with store.sqlite_hot_connection() as hot, hot_end.begin(hot):
        return hot_end.finish(hot, run_id, task_id, target, attempt=1, **fields)


def through_session(
    store: Store, task_id: str, run_id: str, target: RunStatus, **fields: Any
) -> Run | None:
    """`lifecycle.finish` and the session id, as the executor wrote them through a Session."""
    session_id = fields.pop("session_id", None)
    with store.write() as session:
        ended = lifecycle.finish(session, run_id, target, attempt=1, task_id=task_id, **fields)
        if ended is not None and session_id is not None:
            run_writes.set_session(flushed_connection(session), task_id, session_id)
    return ended


def what_is_stored(store: Store, task_id: str, run_id: str) -> dict[str, Any]:
    """Everything a person sees of a run's end, without ids and clocks."""
    with store.read() as session:
        task = task_repo.get(session, task_id)
        run = run_repo.get(session, run_id)
        log = [
            (e.kind, e.run_id == run_id, e.payload) for e in event_repo.for_task(session, task_id)
        ]
        rows = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(), limit=None)
    calls = sorted((r.status, r.cost_micros, r.note) for r in rows if r.run_id == run_id)
    return {
        "task": (
            task.status,
            task.result,
            task.error,
            task.session_id,
            task.finished_at is not None,
        ),
        "run": (
            run.status,
            run.stop_reason,
            run.result,
            run.error,
            run.cost_micros,
            run.waiting_on,
        ),
        "ended": run.ended_at is not None,
        "log": log,
        "calls": calls,
    }


@pytest.mark.parametrize(
    ("target", "fields"),
    [
        (RunStatus.COMPLETED, {"result": "done, token s3cret-value"}),
        (RunStatus.FAILED, {"error": "it broke\x00 at s3cret-value"}),
        (RunStatus.CANCELLED, {"reason": "cancelled by a person"}),
    ],
)
def test_an_end_on_the_driver_writes_what_the_sessions_end_writes(
    store: Store, target: RunStatus, fields: dict[str, Any]
) -> None:
    """Run, task, log (secrets scrubbed), the reservation released, calls of a run that did
    not complete marked so, the cost summed, the session id remembered: the same rows."""
    store.scrub_secrets(["s3cret-value"])
    every = {**fields, "logged": LAST_EVENTS, "session_id": "sess-1"}
    first, second = with_calls(store), with_calls(store)
    by_session = through_session(store, *first, target, **every)
    on_the_driver = on_driver(store, *second, target, **every)
    assert by_session is not None and on_the_driver is not None
    stored = what_is_stored(store, *second)
    assert stored == what_is_stored(store, *first)
    assert stored["task"][0].value == target.value and stored["task"][3] == "sess-1"
    assert (
        stored["run"][4] == 120
        and ("released", 0, f"released: the run {target.value}") in (stored["calls"])
    )
    assert "s3cret-value" not in repr(stored)
    with store.read() as session:
        assert on_the_driver == run_repo.get(session, second[1])


def test_an_end_on_the_driver_is_one_read_and_its_writes(store: Store) -> None:
    """The session id goes with the task's ``UPDATE`` (no statement of its own)."""
    claim = claimed_run(store)
    sent: list[str] = []
    with store.sqlite_hot_connection() as hot:
        hot.driver.set_trace_callback(lambda sql: sent.append(" ".join(sql.split()[:2])))
        try:
            with hot_end.begin(hot):
                hot_end.finish(
                    hot,
                    claim.run.id,
                    claim.task.id,
                    RunStatus.COMPLETED,
                    attempt=1,
                    result="ok",
                    logged=LAST_EVENTS,
                    session_id="sess-1",
                )
        finally:
            hot.driver.set_trace_callback(None)
    assert sent == [
        "BEGIN IMMEDIATE",
        "SELECT runs.id,",
        "UPDATE runs",
        "UPDATE tasks",
        *["INSERT INTO"] * 3,
        "COMMIT",
    ]


def test_a_superseded_attempt_writes_nothing_and_an_ended_run_is_ended_once(
    store: Store,
) -> None:
    task_id, run_id = with_calls(store)
    with store.write() as session:
        assert lifecycle.claim(session, task_id, 1) is not None  # taken over: attempt 2
    before = what_is_stored(store, task_id, run_id)
    with pytest.raises(StaleAttemptError):
        on_driver(store, task_id, run_id, RunStatus.COMPLETED, result="stale", logged=LAST_EVENTS)
    assert what_is_stored(store, task_id, run_id) == before
    with store.write() as session:
        lifecycle.finish(session, run_id, RunStatus.FAILED, error="the new attempt's end")
    ended = what_is_stored(store, task_id, run_id)
    with store.sqlite_hot_connection() as hot, hot_end.begin(hot):
        again = hot_end.finish(hot, run_id, task_id, RunStatus.COMPLETED, logged=LAST_EVENTS)
    assert again is None and what_is_stored(store, task_id, run_id) == ended
