"""Task runs execute on the worker's own event loop (`stagent.engine.run_loop`), not on DBOS's:
the hop keeps cancellation, context variables and a clean stop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from enginetools import PlayedRun, PlayRuntime

from stagent.domain.events import ResultEvent, RuntimeEvent, TextEvent
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.run_loop import RunLoop
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

WAIT_SECONDS = 30.0

_marker: contextvars.ContextVar[str] = contextvars.ContextVar("marker", default="unset")


def run_loop_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "stagent-runs"]


def wait_for(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def loop() -> Iterator[RunLoop]:
    runs = RunLoop()
    runs.start()
    yield runs
    runs.stop()


def test_a_coroutine_runs_on_the_loop_thread_with_the_callers_context(loop: RunLoop) -> None:
    async def where() -> tuple[str, str]:
        return threading.current_thread().name, _marker.get()

    async def caller() -> tuple[str, str]:
        _marker.set("from the workflow")
        return await loop.run(where())

    assert asyncio.run(caller()) == ("stagent-runs", "from the workflow")


def test_a_coroutine_handed_over_on_the_loop_itself_runs_in_place(loop: RunLoop) -> None:
    """A workflow's interpreter runs on the run loop and hands each step's attempt to it
    again: that costs no hop (no thread switch, no wake-up of either loop)."""

    async def attempt() -> tuple[str, str]:
        return threading.current_thread().name, _marker.get()

    async def interpreter() -> list[tuple[str, str]]:
        _marker.set("the interpreter's")
        return [await loop.run(attempt()) for _ in range(5)]

    async def caller() -> list[tuple[str, str]]:
        return await loop.run(interpreter())

    assert asyncio.run(caller()) == [("stagent-runs", "the interpreter's")] * 5
    assert loop.hops == 1  # the interpreter's; its five attempts ran where it was


def test_a_coroutine_run_in_place_still_raises_and_is_cancelled_with_its_caller(
    loop: RunLoop,
) -> None:
    started = threading.Event()
    cleaned = threading.Event()

    async def fails() -> None:
        raise ValueError("the attempt broke")

    async def long_attempt() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()

    async def interpreter() -> None:
        with pytest.raises(ValueError, match="the attempt broke"):
            await loop.run(fails())
        await loop.run(long_attempt())

    async def caller() -> None:
        waiting = asyncio.create_task(loop.run(interpreter()))
        await asyncio.to_thread(started.wait, WAIT_SECONDS)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(caller())
    assert cleaned.wait(WAIT_SECONDS)


def test_an_exception_reaches_the_caller(loop: RunLoop) -> None:
    async def fails() -> None:
        raise ValueError("the run broke")

    with pytest.raises(ValueError, match="the run broke"):
        asyncio.run(loop.run(fails()))


def test_cancelling_the_caller_cancels_the_run_and_lets_it_clean_up(loop: RunLoop) -> None:
    started = threading.Event()
    cleaned = threading.Event()

    async def long_run() -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()

    async def caller() -> None:
        waiting = asyncio.create_task(loop.run(long_run()))
        await asyncio.to_thread(started.wait, WAIT_SECONDS)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(caller())
    assert cleaned.wait(WAIT_SECONDS)


def test_stop_cancels_what_still_runs_and_leaves_no_thread() -> None:
    runs = RunLoop()
    runs.start()
    cleaned = threading.Event()
    in_thread = threading.Event()
    helpers: list[threading.Thread] = []

    def note_thread() -> None:
        helpers.append(threading.current_thread())
        in_thread.set()

    async def long_run() -> None:
        try:  # (the stop may land while the coroutine is still coming back from the thread)
            await asyncio.to_thread(note_thread)  # the loop's default executor gets a thread
            await asyncio.sleep(60)
        finally:
            cleaned.set()

    async def caller() -> None:
        waiting = asyncio.create_task(runs.run(long_run()))
        await asyncio.to_thread(in_thread.wait, WAIT_SECONDS)
        runs.stop()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(caller())
    assert cleaned.is_set()
    assert run_loop_threads() == []
    assert helpers and not any(t.is_alive() for t in helpers)


def test_the_loop_keeps_one_sqlite_driver_connection_and_gives_it_back_at_stop(
    workspace: Workspace,
) -> None:
    """Steps' starts and admissions on the loop (`Store.sqlite_hot_connection`) reuse the
    connection the loop's thread keeps: no pool round each; stopping returns it."""
    store = workspace.store
    runs = RunLoop()
    runs.start()

    async def hot_driver() -> int:
        with store.sqlite_hot_connection() as hot:
            return id(hot.driver)

    async def caller() -> list[int]:
        return [await runs.run(hot_driver()) for _ in range(3)]

    try:
        drivers = asyncio.run(caller())
        assert len(set(drivers)) == 1
        assert store.engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    finally:
        runs.stop()
    assert store.engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_stopped_loop_refuses_runs_with_a_clear_error() -> None:
    runs = RunLoop()
    runs.start()
    runs.stop()
    runs.stop()  # twice is fine

    async def anything() -> None:
        return None

    with pytest.raises(RuntimeError, match="after it stopped"):
        asyncio.run(runs.run(anything()))


def test_a_workers_runs_execute_on_its_run_loop(worker: Workspace) -> None:
    threads: list[str] = []

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        threads.append(threading.current_thread().name)
        yield ResultEvent("done")

    worker.runtimes.register(PlayRuntime(script))
    task = worker.tasks.create(TaskDraft(title="where", runtime="play"))
    worker.tasks.run(task.id)
    assert worker.tasks.wait(task.id, timeout=WAIT_SECONDS).status is TaskStatus.COMPLETED
    assert threads == ["stagent-runs"]


def test_stopping_a_worker_mid_run_leaves_the_run_for_recovery_and_no_thread(
    workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    cleaned = threading.Event()

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        yield TextEvent("started")
        try:
            await asyncio.sleep(60)
        finally:
            cleaned.set()
        yield ResultEvent("never")

    workspace.runtimes.register(PlayRuntime(script))
    workspace.start_worker("worker")
    task = workspace.tasks.create(TaskDraft(title="cut", runtime="play"))
    workspace.tasks.run(task.id)
    wait_for(
        lambda: any(e.kind == "text" for e in workspace.tasks.events(task.id)), "the run's text"
    )
    with caplog.at_level(logging.WARNING):
        workspace.stop_worker()
    assert cleaned.is_set()
    assert run_loop_threads() == []
    assert not [r for r in caplog.records if "closed" in r.getMessage()]
    (run,) = workspace.tasks.runs(task.id)
    assert run.status is RunStatus.RUNNING  # no end written: the next worker recovers it
    workflow_id = workspace.tasks.get(task.id).workflow_id or ""
    assert workspace.queue.status(workflow_id) == "PENDING"
