"""Awaiting a workflow step's child task run (protocol ``stagent-wf-4``; under ``stagent-wf-5``
the run executes inside the interpreter: `stagent.engine.workflow_inline`).

A step's task run is a child workflow the interpreter starts in its own process, so its result
is usually awaited on its asyncio task directly. A child recorded before a crash (on replay, or
after another worker recovered it) is awaited on the store's change signal, not by polling:

DBOS's ``get_result`` polls its system database every ``polling_interval_sec``; at 50 ms that
added ~45 ms between one step's end and the next step's start (measured with
``python -m benchmarks.workflows``), and a shorter interval would poll all through a long step.
A step's task run ends in *our* store first (`stagent.store.lifecycle.finish`), so the
interpreter sleeps on the store's change signal (`stagent.store.waits.until`: woken by each
commit in this process, and through the store's watcher by other processes' commits) until the
run row has ended, and only then collects DBOS's result, which the child records within
milliseconds of that commit, with a short poll.

Nothing here is a DBOS step and the DBOS calls are the same as before (one ``get_result`` per
child), so the recorded step order does not change; on replay the run ended long ago and the
wait returns at once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol, cast

from dbos._core import WorkflowHandleAsyncTask

from stagent.domain.runs import RunStatus
from stagent.store import runs as run_repo
from stagent.store.database import Store

PROBE_MIN_GAP_SECONDS = 0.02
"""At most one run-row read per this many seconds while a step runs (a chatty step commits an
event per token; reading the run after each would double its writes' cost)."""
SAFETY_SECONDS = 2.0
"""Read the run at least this often, should a wake-up be missed."""
FINAL_POLL_SECONDS = 0.005
"""DBOS's poll once our store says the run ended: the child workflow records its result right
after, so this poll lasts a few milliseconds."""
CHILD_POLL_SECONDS = 0.05
"""DBOS's poll for a child workflow that is not a task run (a swarm worker's step workflow):
its own default of 1 s added up to a second to every worker's end."""
ENGINE_ID_MARK = "-run-"


class ResultHandle(Protocol):
    """What the interpreter awaits: a DBOS workflow handle."""

    def get_workflow_id(self) -> str:
        """The child workflow's engine id (``<task id>-run-<number>`` for a task run)."""
        ...

    async def get_result(self, *, polling_interval_sec: float = ...) -> Any:
        """The child's return value (DBOS polls until it has one)."""
        ...


def task_run_of(engine_id: str) -> tuple[str, int] | None:
    """``(task id, run number)`` of a task run's engine id, or None for another workflow."""
    task_id, mark, number = engine_id.rpartition(ENGINE_ID_MARK)
    if not mark or not task_id or not number.isdigit():
        return None
    return task_id, int(number)


def run_ended(store: Store, task_id: str, number: int) -> bool:
    """Whether run ``number`` of the task has ended (a missing run counts as ended: DBOS then
    decides)."""
    with store.read() as session:
        row = run_repo.find_row(session, task_id, number)
        return row is None or RunStatus(row.status).is_terminal


async def until_run_ended(store: Store, task_id: str, number: int) -> None:
    """Sleep on the change signal until the run ended. The read runs in a thread (the event
    loop also drives the agents' runs), at most once per `PROBE_MIN_GAP_SECONDS`."""
    while True:
        version = store.changes.version
        if await asyncio.to_thread(run_ended, store, task_id, number):
            return
        await store.changes.wait_async(version, SAFETY_SECONDS)
        await asyncio.sleep(PROBE_MIN_GAP_SECONDS)


async def task_result(store: Store, handle: ResultHandle) -> Any:
    """A step's child task run's result. A child started in this process (the usual case) is
    awaited on its own asyncio task. One recorded before a crash (a replay or a recovery) is
    waited for on the store's change signal, then collected from DBOS; a handle that is not a
    task run is awaited by DBOS's own poll (`child_result`)."""
    if isinstance(handle, WorkflowHandleAsyncTask):
        started = cast("WorkflowHandleAsyncTask[Any]", handle)
        return await started.get_result()
    run = task_run_of(handle.get_workflow_id())
    if run is None:
        return await child_result(handle)
    await until_run_ended(store, *run)
    return await handle.get_result(polling_interval_sec=FINAL_POLL_SECONDS)


async def child_result(handle: ResultHandle) -> Any:
    """A child workflow's result, polled every `CHILD_POLL_SECONDS`."""
    return await handle.get_result(polling_interval_sec=CHILD_POLL_SECONDS)
