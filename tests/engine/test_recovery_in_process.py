"""Recovery of a run whose process died, in one process: the first execution is cut off
mid-run (its asyncio task cancelled: no end is written, as after a SIGKILL), then the run is
executed again as a recovering worker would. The run ends once, as attempt 2, keeping what
attempt 1 logged; a run that died waiting on a person waits on the same card again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from enginetools import (
    PlayedRun,
    PlayRuntime,
    asks_to_write,
    context,
    execute,
    queued_task,
    until,
)

from stagent.domain.events import ResultEvent, RuntimeEvent, TextEvent
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.executor import RunContext, execute_task_run
from stagent.workspace import Workspace


def kinds(ws: Workspace, task_id: str) -> list[str]:
    return [e.kind for e in ws.tasks.events(task_id)]


def cut_off(ctx: RunContext, task_id: str, ready: object) -> None:
    """Execute run 1 until ``ready()`` holds, then stop it dead."""

    async def main() -> None:
        execution = asyncio.create_task(execute_task_run(ctx, task_id, 1))
        await until(ready)  # type: ignore[arg-type]
        execution.cancel()
        with pytest.raises(asyncio.CancelledError):
            await execution

    asyncio.run(main())


def test_a_run_cut_off_mid_way_is_taken_over_and_ends_once(ws: Workspace) -> None:
    attempts: list[int] = []

    async def script(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
        attempts.append(run.request.attempt)
        yield TextEvent(f"attempt {run.request.attempt} started. ")
        if run.request.attempt == 1:
            await asyncio.sleep(30)  # the process dies in here
        yield ResultEvent("finished by attempt 2")

    ws.runtimes.register(PlayRuntime(script))
    task = queued_task(ws)
    ctx = context(ws)
    cut_off(ctx, task.id, lambda: "text" in kinds(ws, task.id))
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.attempt) == (RunStatus.RUNNING, 1)  # nobody wrote an end

    assert execute(ctx, task.id) == "completed"
    assert attempts == [1, 2]
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.attempt, run.result) == (
        RunStatus.COMPLETED,
        2,
        "finished by attempt 2",
    )
    log = ws.tasks.events(task.id)
    texts = [e.payload["text"] for e in log if e.kind == "text"]
    assert texts == ["attempt 1 started. ", "attempt 2 started. "]  # attempt 1's log is kept
    (recovered,) = [e for e in log if e.kind == "recovered"]
    assert recovered.payload == {
        "message": "the process running this task stopped; running it again",
        "attempt": 2,
    }
    assert [e.payload["to"] for e in log if e.kind == "status"].count("completed") == 1
    assert execute(ctx, task.id) == "completed"  # a third execution finds it ended
    assert attempts == [1, 2]


def test_a_run_that_died_waiting_on_a_person_waits_on_the_same_card(ws: Workspace) -> None:
    ws.runtimes.register(PlayRuntime(asks_to_write(file_path="report.md", content="x")))
    task = queued_task(ws)
    ctx = context(ws, gate=ws.gate)
    cut_off(ctx, task.id, lambda: bool(ws.approvals.list_pending(task_id=task.id)))
    (card,) = ws.approvals.list_pending(task_id=task.id)
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.waiting_on) == (RunStatus.WAITING, (f"approval:{card.id}",))
    assert ws.tasks.get(task.id).status is TaskStatus.WAITING

    async def recover_then_approve() -> str:
        execution = asyncio.create_task(execute_task_run(ctx, task.id, 1))
        await until(lambda: "recovered" in kinds(ws, task.id))
        await asyncio.sleep(0.3)  # attempt 2 asks again and finds the card
        assert [c.id for c in ws.approvals.list_pending(task_id=task.id)] == [card.id]
        await asyncio.to_thread(ws.approvals.allow, card.id, by="person (via UI)")
        return await asyncio.wait_for(execution, 20)

    assert asyncio.run(recover_then_approve()) == "completed"
    (run,) = ws.tasks.runs(task.id)
    assert (run.status, run.attempt, run.waiting_on) == (RunStatus.COMPLETED, 2, ())
    texts = [e.payload["text"] for e in ws.tasks.events(task.id) if e.kind == "text"]
    assert texts == ["attempt 2: allowed=True"]
    assert len(ws.approvals.recent(task_id=task.id)) == 1  # one card for the one call


def test_a_run_cut_off_before_it_started_runs_normally(ws: Workspace) -> None:
    ws.runtimes.register(PlayRuntime(lambda run: _result(run)))
    task = queued_task(ws)
    assert execute(context(ws), task.id) == "completed"
    assert "recovered" not in kinds(ws, task.id)
    (run,) = ws.tasks.runs(task.id)
    assert run.attempt == 1


async def _result(run: PlayedRun) -> AsyncIterator[RuntimeEvent]:
    del run
    yield ResultEvent("ok")
