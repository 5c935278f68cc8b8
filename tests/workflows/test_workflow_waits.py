"""The interpreter waits for a step's task run on the store's change signal: it returns once the
run ended (whoever ended it), not before, and reads the run after commits, not on a timer."""

from __future__ import annotations

import asyncio

import pytest

from stagent.engine import workflow_waits
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


def test_engine_ids_of_task_runs_are_recognised() -> None:
    assert workflow_waits.task_run_of("tsk_ab12-run-3") == ("tsk_ab12", 3)
    assert workflow_waits.task_run_of("wf_1-run-2-1") is None  # a workflow round, not a run
    assert workflow_waits.task_run_of("stagent.workflow.step-x") is None


@pytest.fixture
def idle(workspace: Workspace) -> Workspace:
    """The queue exists (a worker launched once) but nothing executes queued runs."""
    workspace.start_worker("worker")
    workspace.stop_worker()
    return workspace


async def test_the_wait_ends_when_the_run_ends_and_does_not_poll(
    idle: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = idle
    task = workspace.tasks.create(TaskDraft(title="held", scenario={"steps": [{"text": "x"}]}))
    queued = workspace.tasks.run(task.id)
    reads: list[int] = []
    real = workflow_waits.run_ended

    def counted(store: object, task_id: str, number: int) -> bool:
        reads.append(number)
        return real(workspace.store, task_id, number)

    monkeypatch.setattr(workflow_waits, "run_ended", counted)
    waiting = asyncio.create_task(
        workflow_waits.until_run_ended(workspace.store, task.id, queued.run_count)
    )
    await asyncio.sleep(1.0)
    assert not waiting.done()  # the run is queued: still waiting
    assert len(reads) <= 3  # a read per commit (there are next to none), not a poll (20 in 1 s)
    workspace.tasks.cancel(task.id)  # ends the run: its commit wakes the waiter
    await asyncio.wait_for(waiting, timeout=workflow_waits.SAFETY_SECONDS * 5)
    assert len(reads) >= 2
