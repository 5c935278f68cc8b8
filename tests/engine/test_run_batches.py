"""A run's events are written in batches (`stagent.engine.run_writer`): a burst the runtime hands
over at once is one transaction, but every event is in the log as soon as the runtime waits, before
the gate decides a tool call, before its usage is booked, and with the run's end; a run that was
cancelled or taken over meanwhile writes none of what it had queued. SQLite, in process."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from enginetools import (
    PlayedRun,
    PlayRuntime,
    RecordingGate,
    RecordingGuard,
    asks_to_write,
    both,
    context,
    execute,
    queued_task,
    until,
)
from sqlalchemy import event

from stagent.domain.events import ResultEvent, RuntimeEvent, TextEvent, UsageEvent
from stagent.domain.runs import Run, RunStatus
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine import run_writer
from stagent.engine.executor import execute_task_run
from stagent.engine.run_writer import RunWriter
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle
from stagent.workspace import Workspace


def texts(ws: Workspace, task_id: str) -> list[str]:
    return [e.payload["text"] for e in ws.tasks.events(task_id) if e.kind == "text"]


def kinds(ws: Workspace, task_id: str) -> list[str]:
    return [e.kind for e in ws.tasks.events(task_id)]


def test_a_burst_is_in_the_log_while_the_runtime_waits(ws: Workspace) -> None:
    go_on = asyncio.Event()

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        for word in ("one", "two", "three"):
            yield TextEvent(word)
        await go_on.wait()  # the agent thinks: what it said so far is on the page
        yield ResultEvent("done")

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)

    async def reader() -> None:
        await until(lambda: texts(ws, task.id) == ["one", "two", "three"])
        assert ws.tasks.get(task.id).status is TaskStatus.RUNNING
        go_on.set()

    status = asyncio.run(both(execute_task_run(context(ws), task.id, 1), reader()))
    assert status == "completed"
    assert kinds(ws, task.id)[-5:] == ["text", "text", "text", "result", "status"]


def test_what_was_said_before_a_tool_call_is_logged_before_its_decision(ws: Workspace) -> None:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        yield TextEvent("I will write the notes")
        await run.ask("Write", file_path="notes.md")  # the gate answers without waiting
        yield ResultEvent("wrote")

    ws.runtimes.register(PlayRuntime(script))
    gate = RecordingGate()
    task = queued_task(ws)
    assert execute(context(ws, gate=gate), task.id) == "completed"
    assert kinds(ws, task.id)[-4:] == ["text", "note", "result", "status"]


class _LooksAtTheLog(RecordingGuard):
    """A guard that notes what the log holds when usage is booked."""

    def __init__(self, ws: Workspace) -> None:
        super().__init__()
        self.ws = ws
        self.seen: list[list[str]] = []

    def on_usage(self, task: Task, run: Run, usage: UsageEvent) -> str | None:
        self.seen.append(kinds(self.ws, task.id))
        return super().on_usage(task, run, usage)


def test_usage_is_in_the_log_before_it_is_booked(ws: Workspace) -> None:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        yield TextEvent("thinking")
        yield UsageEvent("m", input_tokens=5, output_tokens=1)
        yield ResultEvent("done")

    ws.runtimes.register(PlayRuntime(script))
    guard = _LooksAtTheLog(ws)
    task = queued_task(ws)
    assert execute(context(ws, guard=guard), task.id) == "completed"
    (seen,) = guard.seen
    assert seen[-2:] == ["text", "usage"]


def test_a_burst_ending_in_the_result_is_written_with_the_end(ws: Workspace) -> None:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        for i in range(5):
            yield TextEvent(f"part {i}")
        yield ResultEvent("all parts")

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "completed"
    assert texts(ws, task.id) == [f"part {i}" for i in range(5)]
    assert ws.tasks.get(task.id).result == "all parts"


def commits_of_a_run(ws: Workspace, words: tuple[str, ...]) -> int:
    """The commits one run makes (claim to end) when its runtime says ``words``, then its
    result, all at once."""

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        for word in words:
            yield TextEvent(word)
        yield ResultEvent("said")

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    commits: list[object] = []
    here = threading.current_thread()

    def listener(conn: object) -> None:  # this thread's commits: the run's (no other writer's)
        if threading.current_thread() is here:
            commits.append(conn)

    event.listen(ws.store.engine, "commit", listener)
    try:
        assert execute(context(ws), task.id) == "completed"
    finally:
        event.remove(ws.store.engine, "commit", listener)
    assert texts(ws, task.id) == list(words)
    return len(commits)


def test_the_last_burst_costs_no_commit_of_its_own(ws: Workspace) -> None:
    """What the runtime says in the burst that ends with its result is written in the end's
    transaction, not in one of its own while the execution cleans up."""
    assert commits_of_a_run(ws, ("one", "two")) == commits_of_a_run(ws, ())


def test_a_burst_longer_than_a_batch_is_written_whole_and_in_order(ws: Workspace) -> None:
    count = run_writer.MAX_PENDING * 2 + 3

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        for i in range(count):
            yield TextEvent(str(i))
        yield ResultEvent("counted")

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "completed"
    assert texts(ws, task.id) == [str(i) for i in range(count)]


def test_events_queued_when_a_person_cancels_are_not_written(ws: Workspace) -> None:
    ws.runtimes.register(PlayRuntime(asks_to_write()))  # the played runtime the task names
    task = queued_task(ws)
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task.id, 1)
    assert claim is not None

    async def runtime_and_person() -> str:
        writer = RunWriter(ws.store, task.id, claim.run)
        assert writer.record(TextEvent("queued, not yet written"))
        ws.tasks.cancel(task.id)  # before the runtime yields to the loop
        return writer.conclude(ResultEvent("late"), RunStatus.COMPLETED, result="late")

    assert asyncio.run(runtime_and_person()) == "cancelled"
    assert "text" not in kinds(ws, task.id) and "result" not in kinds(ws, task.id)


def test_a_batch_that_cannot_be_written_fails_the_run_saying_why(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    go_on = asyncio.Event()

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        yield TextEvent("said before the disk filled up")
        await go_on.wait()
        yield ResultEvent("never reached")

    def disk_full(*args: object, **kwargs: object) -> int:
        del args, kwargs
        go_on.set()
        raise OSError("disk full")

    ws.runtimes.register(PlayRuntime(script))
    monkeypatch.setattr(run_writer.run_writes, "append_events", disk_full)
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "failed"
    done = ws.tasks.get(task.id)
    assert done.error is not None and "disk full" in done.error
    assert texts(ws, task.id) == ["said before the disk filled up"]  # written with the end


def test_a_superseded_attempt_loses_what_it_queued(ws: Workspace) -> None:
    ws.runtimes.register(PlayRuntime(asks_to_write()))  # the played runtime the task names
    task = queued_task(ws)
    with ws.store.write() as session:
        first = lifecycle.claim(session, task.id, 1)
    assert first is not None

    async def frozen_worker_resumes() -> bool:
        writer = RunWriter(ws.store, task.id, first.run)
        assert writer.record(TextEvent("from the frozen worker"))
        with ws.store.write() as session:
            assert lifecycle.claim(session, task.id, 1) is not None  # the survivor
        await asyncio.sleep(0)  # the queued batch is written now: refused
        return writer.lost

    assert asyncio.run(frozen_worker_resumes())
    assert "text" not in kinds(ws, task.id)


def test_the_cap_still_stops_calls_when_usage_arrives_in_a_burst(ws: Workspace) -> None:
    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        for n in range(3):
            if run.calls_stopped:
                return
            yield UsageEvent("m", input_tokens=n + 1, output_tokens=1)

    runtime = PlayRuntime(script)
    ws.runtimes.register(runtime)
    guard = RecordingGuard(cap=Decimal("1"), stop_after=1)
    task = queued_task(ws)
    assert execute(context(ws, guard=guard), task.id) == "failed"
    assert runtime.runs[0].calls_stopped and len(guard.usage) == 1
    assert kinds(ws, task.id).count("usage") == 1


def test_a_run_that_ends_within_the_watchers_gap_never_starts_its_watch(ws: Workspace) -> None:
    """Until `CANCEL_MIN_GAP_SECONDS` pass the cancel watcher is a timer only: an instant run
    (a workflow step's) costs no watch task, no loop turn to start it or to cancel it."""
    seen: list[list[str]] = []

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        for _ in range(3):
            await asyncio.sleep(0)  # turns of the loop: a watch task would have started
            seen.append([t.get_coro().__qualname__ for t in asyncio.all_tasks()])  # type: ignore[union-attr]
        yield ResultEvent("done")

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "completed"
    assert len(seen) == 3
    assert not any("watch" in name.lower() for names in seen for name in names), seen


def test_a_run_that_ends_at_once_reads_its_record_no_more_for_others_commits(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel watcher reads the run at most every `CANCEL_MIN_GAP_SECONDS`, the first
    read too: an instant run, while other runs commit around it, reads nothing between its
    claim and its end (it used to read once per run, woken by the first commit)."""
    reads: list[bool] = []
    still_owned = RunWriter.still_owned

    def counted(self: RunWriter) -> bool:
        reads.append(True)
        return still_owned(self)

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        del run
        await asyncio.sleep(0)  # the watcher starts
        ws.tasks.create(TaskDraft("another run's commit"))  # wakes every watcher
        for _ in range(5):
            await asyncio.sleep(0)  # the watcher's turn
        yield ResultEvent("done")

    monkeypatch.setattr(RunWriter, "still_owned", counted)
    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "completed"
    assert reads == []
