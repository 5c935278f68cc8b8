"""One owner per run, in one process: every write of an execution names its attempt, and a
superseded, cancelled or ended run takes no more writes (events, usage, the result). On SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from stagent.domain.events import ResultEvent, SessionEvent, TextEvent, UsageEvent
from stagent.domain.lifecycle import StaleAttemptError
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.executor import RunContext, RunWriter, execute_task_run
from stagent.engine.options import resolve
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store.ledger import LedgerFilter
from stagent.store.lifecycle import Claim
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    yield request.getfixturevalue(name)


def claimed(ws: Workspace, steps: list[dict[str, object]] | None = None) -> Claim:
    """A task with one run, claimed by an executor (attempt 1)."""
    task = ws.tasks.create(TaskDraft(title="owned", scenario={"steps": steps or [{"text": "x"}]}))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task.id, 1)
    assert claim is not None
    return claim


def take_over(ws: Workspace, claim: Claim) -> Claim:
    """What a survivor does after the owner's lease expired: claim the run again."""
    with ws.store.write() as session:
        again = lifecycle.claim(session, claim.task.id, claim.run.number)
    assert again is not None
    return again


def kinds(ws: Workspace, task_id: str) -> list[str]:
    return [event.kind for event in ws.tasks.events(task_id)]


def test_the_owner_writes_events_and_its_session(ws: Workspace) -> None:
    claim = claimed(ws)
    writer = RunWriter(ws.store, claim.task.id, claim.run)
    assert writer.record(TextEvent(text="hello"))
    assert writer.record(SessionEvent(session_id="sess-1"))  # pyright: ignore[reportArgumentType]
    log = ws.tasks.events(claim.task.id)
    assert [e.payload.get("text") for e in log if e.kind == "text"] == ["hello"]
    assert all(e.run_id == claim.run.id for e in log if e.kind in ("text", "session"))
    assert ws.tasks.get(claim.task.id).session_id == "sess-1"
    assert not writer.lost


def test_a_superseded_attempt_writes_nothing_more(ws: Workspace) -> None:
    first = claimed(ws)
    stale = RunWriter(ws.store, first.task.id, first.run)
    assert stale.record(TextEvent(text="before the freeze"))
    survivor = take_over(ws, first)
    assert survivor.attempt == first.attempt + 1
    before = kinds(ws, first.task.id)

    assert not stale.record(TextEvent(text="after the take-over"))
    assert stale.lost
    assert stale.conclude(ResultEvent(text="stale result"), RunStatus.COMPLETED) == "running"
    assert kinds(ws, first.task.id) == before
    with ws.store.read() as session:
        run = run_repo.get(session, first.run.id)
    assert run.status is RunStatus.RUNNING and run.attempt == survivor.attempt

    fresh = RunWriter(ws.store, survivor.task.id, survivor.run)
    assert fresh.conclude(ResultEvent(text="done"), RunStatus.COMPLETED, result="done") == (
        "completed"
    )
    assert ws.tasks.get(first.task.id).result == "done"
    assert kinds(ws, first.task.id).count("result") == 1


def test_a_superseded_attempt_books_no_usage(ws: Workspace) -> None:
    first = claimed(ws)
    survivor = take_over(ws, first)
    usage = UsageEvent(model="claude-sonnet-4-5", input_tokens=1000, output_tokens=100)
    with pytest.raises(StaleAttemptError):
        ws.budgets.record_usage(first.task, usage, run_id=first.run.id, attempt=first.attempt)
    entry = ws.budgets.record_usage(
        survivor.task, usage, run_id=survivor.run.id, attempt=survivor.attempt
    )
    rows = [row for row in ws.budgets.usage(LedgerFilter()) if row.status == "completed"]
    assert [row.id for row in rows] == [entry.id]


def test_a_cancelled_run_takes_no_more_events_nor_a_result(ws: Workspace) -> None:
    claim = claimed(ws)
    writer = RunWriter(ws.store, claim.task.id, claim.run)
    ws.tasks.cancel(claim.task.id)
    assert not writer.record(TextEvent(text="late"))
    assert writer.conclude(ResultEvent(text="late"), RunStatus.COMPLETED) == "cancelled"
    assert "text" not in kinds(ws, claim.task.id)
    assert "result" not in kinds(ws, claim.task.id)
    assert ws.tasks.get(claim.task.id).status is TaskStatus.CANCELLED


def test_the_result_and_the_end_of_the_run_are_one_unit(ws: Workspace) -> None:
    claim = claimed(ws)
    writer = RunWriter(ws.store, claim.task.id, claim.run)
    assert writer.conclude(ResultEvent(text="42"), RunStatus.COMPLETED, result="42") == (
        "completed"
    )
    log = ws.tasks.events(claim.task.id)
    result = next(e for e in log if e.kind == "result")
    completed = next(e for e in log if e.kind == "status" and e.payload["to"] == "completed")
    assert completed.seq == result.seq + 1  # written together, nothing between them

    # The engine re-executes the step (a kill after the commit, before DBOS recorded the step):
    ctx = RunContext(store=ws.store, runtimes=ws.runtimes, gate=ws.gate)
    assert asyncio.run(execute_task_run(ctx, claim.task.id, 1)) == "completed"
    assert kinds(ws, claim.task.id) == [e.kind for e in log]


def test_a_run_executed_end_to_end_by_the_executor_is_fenced_by_its_attempt(
    ws: Workspace,
) -> None:
    task = ws.tasks.create(
        TaskDraft(title="e2e", scenario={"steps": [{"text": "a"}, {"text": "b"}]})
    )
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    ctx = RunContext(store=ws.store, runtimes=ws.runtimes, gate=ws.gate)
    assert asyncio.run(execute_task_run(ctx, task.id, 1)) == "completed"
    done = ws.tasks.get(task.id)
    assert done.result == "ab"
    runs = ws.tasks.runs(task.id)
    assert [(r.status, r.attempt) for r in runs] == [(RunStatus.COMPLETED, 1)]
    assert kinds(ws, task.id).count("text") == 2
