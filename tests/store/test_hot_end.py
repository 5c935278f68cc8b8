"""A run's end on SQLite's bare driver connection (`stagent.store.hot_end`, what a run's
executor ends it with on SQLite): it writes what `lifecycle.finish` writes through a Session --
the run, the task, the log, the ledger's settlement, the runtime's session id -- in one read and
its writes, and refuses what it refuses. SQLite only (PostgreSQL ends through the Session)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from storetools import bash_card, claimed_run

from stagent.domain.ids import utcnow
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.store import approvals as approval_repo
from stagent.store import events as event_repo
from stagent.store import hot_end, lifecycle, run_writes, step_outcomes
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


def with_calls(store: Store) -> tuple[str, Run]:
    """A claimed run holding a reservation and two completed calls: its task and the run."""
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
    return claim.task.id, claim.run


def on_driver(store: Store, task_id: str, run: Run, target: RunStatus, **fields: Any) -> Any:
    """`hot_end.finish` by the run's first attempt."""
    with store.sqlite_hot_connection() as hot, hot_end.begin(hot):
        return hot_end.finish(hot, run, task_id, target, attempt=1, **fields)


def through_session(
    store: Store, task_id: str, run: Run, target: RunStatus, **fields: Any
) -> Run | None:
    """`lifecycle.finish` and the session id, as the executor wrote them through a Session."""
    session_id = fields.pop("session_id", None)
    with store.write() as session:
        ended = lifecycle.finish(session, run.id, target, attempt=1, task_id=task_id, **fields)
        if ended is not None and session_id is not None:
            run_writes.set_session(flushed_connection(session), task_id, session_id)
    return ended


def what_is_stored(store: Store, task_id: str, run: Run) -> dict[str, Any]:
    """Everything a person sees of a run's end, without ids and clocks."""
    with store.read() as session:
        task = task_repo.get(session, task_id)
        stored = run_repo.get(session, run.id)
        events = event_repo.for_task(session, task_id)
        rows = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(), limit=None)
    return {
        "task": (task.status, task.result, task.error, task.session_id, task.finished_at),
        "run": (stored.status, stored.stop_reason, stored.result, stored.error),
        "spent": (stored.cost_micros, stored.waiting_on, stored.ended_at is not None),
        "log": [(e.kind, e.run_id == run.id, e.payload) for e in events],
        "calls": sorted((r.status, r.cost_micros, r.note) for r in rows if r.run_id == run.id),
    }


def without_clock(stored: dict[str, Any]) -> dict[str, Any]:
    task = stored["task"]
    return {**stored, "task": (*task[:-1], task[-1] is not None)}


CASES = [
    (RunStatus.COMPLETED, {"result": "done, token s3cret-value"}, False),
    (RunStatus.FAILED, {"error": "it broke\x00 at s3cret-value"}, False),
    (RunStatus.CANCELLED, {"reason": "cancelled by a person"}, False),
    (RunStatus.FAILED, {"error": "timed out at its checkpoint"}, True),
    (RunStatus.CANCELLED, {"reason": "cancelled at its checkpoint"}, True),
]
"""Each end, of a running run and of one waiting on a hold (a waiting run does not complete)."""


@pytest.mark.parametrize(("target", "fields", "held"), CASES)
def test_an_end_on_the_driver_writes_what_the_sessions_end_writes(
    store: Store, target: RunStatus, fields: dict[str, Any], held: bool
) -> None:
    """Run, task, log (secrets scrubbed, NUL replaced), the reservation released, calls of a
    run that did not complete marked so, the cost summed, the session id remembered: the same
    rows; and the ended run it returns is the stored one (a run waiting on a hold since its
    claim too: its executor's copy is not)."""
    store.scrub_secrets(["s3cret-value"])
    every = {**fields, "logged": LAST_EVENTS, "session_id": "sess-1"}
    first, second = with_calls(store), with_calls(store)
    for _, run in (first, second) if held else ():
        with store.write() as session:
            lifecycle.suspend(session, run.id, "approval:card", reason="asks a person")
    assert through_session(store, *first, target, **every) is not None
    on_the_driver = on_driver(store, *second, target, **every)
    stored = what_is_stored(store, *second)
    assert without_clock(stored) == without_clock(what_is_stored(store, *first))
    assert stored["task"][:4] == (TaskStatus(target.value), *stored["task"][1:3], "sess-1")
    assert stored["spent"] == (120, (), True)
    assert ("released", 0, f"released: the run {target.value}") in stored["calls"]
    assert "s3cret-value" not in repr(stored)
    assert stored["run"][3] is None or stored["run"][3].startswith(("it broke\ufffd", "timed"))
    with store.read() as session:
        assert on_the_driver == run_repo.get(session, second[1].id)
    assert on_the_driver.ended_at == stored["task"][-1]  # the task ended when its run did


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
                    claim.run,
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
        "SELECT runs.status,",
        "UPDATE runs",
        "UPDATE tasks",
        "INSERT INTO",  # the three events in one statement
        "COMMIT",
    ]


def test_a_superseded_attempt_writes_nothing_and_an_ended_run_is_ended_once(
    store: Store,
) -> None:
    task_id, run = with_calls(store)
    with store.write() as session:
        assert lifecycle.claim(session, task_id, 1) is not None  # taken over: attempt 2
    before = what_is_stored(store, task_id, run)
    with pytest.raises(StaleAttemptError):
        on_driver(store, task_id, run, RunStatus.COMPLETED, result="stale", logged=LAST_EVENTS)
    assert what_is_stored(store, task_id, run) == before
    with store.write() as session:
        lifecycle.finish(session, run.id, RunStatus.FAILED, error="the new attempt's end")
    ended = what_is_stored(store, task_id, run)
    with store.sqlite_hot_connection() as hot, hot_end.begin(hot):
        again = hot_end.finish(
            hot, run, task_id, RunStatus.COMPLETED, attempt=2, logged=LAST_EVENTS
        )
    assert again is None and what_is_stored(store, task_id, run) == ended


WHYS = ["failed", "budget", "rejected", "allowed at its checkpoint", "cancelled"]


@pytest.mark.parametrize("why", WHYS)
def test_why_a_steps_run_failed_reads_the_same_on_the_driver(store: Store, why: str) -> None:
    """`step_outcomes.why_failed_on_driver` (a step's end on the driver) answers as `why_failed`:
    a budget's ``blocked`` row, a checkpoint card refused (an allowed one is no refusal)."""
    claim = claimed_run(store)
    task_id, run = claim.task.id, claim.run
    with store.write() as session:
        if why == "budget":
            entry = ledger_repo.NewLedgerEntry(
                runtime="scripted", task_id=task_id, run_id=run.id, status=ledger_repo.BLOCKED
            )
            ledger_repo.insert(session, entry)
        if why in ("rejected", "allowed at its checkpoint"):
            card = bash_card(
                session, task_id, run_id=run.id, kind="checkpoint", expires_at=utcnow()
            )
            status = "denied" if why == "rejected" else "allowed"
            approval_repo.decide(session, card.id, status=status, decided_by="you", decision={})
    status = "cancelled" if why == "cancelled" else "failed"
    with store.read() as session:
        expected = step_outcomes.why_failed(session, task_id, run.number, status)
    with store.sqlite_hot_connection() as hot, hot_end.begin(hot):
        answer = step_outcomes.why_failed_on_driver(hot, run.id, status)
    assert answer == expected == (why if why in ("budget", "rejected", "cancelled") else "failed")
