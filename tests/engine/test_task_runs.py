"""Tasks run durably through the DBOS queue on the scripted runtime."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stagent.domain.errors import ConflictError
from stagent.domain.events import RuntimeEvent, TextEvent
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import (
    AgentRun,
    PermissionGate,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
)
from stagent.store import lifecycle
from stagent.workspace import Workspace


def scenario(*steps: dict[str, Any], result: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"steps": list(steps)}
    if result is not None:
        data["result"] = result
    return data


def test_a_task_runs_to_completed_with_every_event_logged(worker: Workspace) -> None:
    worker.rules.add("Write")  # decided by a rule: no card, no waiting
    task = worker.tasks.create(
        TaskDraft(
            title="hello",
            scenario=scenario(
                {"text": "Hello, "},
                {"tool": "Write", "input": {"file_path": "a.md"}, "output": "wrote"},
                {"usage": {"model": "m1", "input_tokens": 11, "output_tokens": 7}},
                {"text": "world."},
            ),
        )
    )
    worker.tasks.run(task.id)
    done = worker.tasks.wait(task.id, timeout=30)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == "Hello, world."
    assert done.started_at is not None and done.finished_at is not None
    kinds = [e.kind for e in worker.tasks.events(task.id)]
    assert kinds == [
        "created",
        "status",
        "status",
        "text",
        "tool_request",
        "note",
        "tool_result",
        "usage",
        "text",
        "result",
        "status",
    ]
    usage = next(e for e in worker.tasks.events(task.id) if e.kind == "usage")
    assert usage.payload["input_tokens"] == 11 and usage.payload["model"] == "m1"


def test_a_failing_run_ends_failed_with_the_message(worker: Workspace) -> None:
    task = worker.tasks.create(
        TaskDraft(title="boom", scenario=scenario({"text": "x"}, {"fail": "provider said 500"}))
    )
    worker.tasks.run(task.id)
    done = worker.tasks.wait(task.id, timeout=30)
    assert done.status is TaskStatus.FAILED
    assert done.error == "provider said 500"
    last = worker.tasks.events(task.id)[-1]
    assert last.payload == {
        "from": "running",
        "to": "failed",
        "reason": "provider said 500",
        "run": 1,
    }


def test_cancel_stops_a_running_agent_quickly(worker: Workspace) -> None:
    task = worker.tasks.create(
        TaskDraft(
            title="long",
            scenario=scenario({"text": "start"}, {"delay": 30}, {"text": "never"}),
        )
    )
    worker.tasks.run(task.id)
    for event in worker.tasks.follow(task.id):
        if event.kind == "text":
            break
    worker.tasks.cancel(task.id)
    deadline = time.monotonic() + 20  # well before the scenario's 30 s delay ends
    while worker.tasks.get(task.id).status is TaskStatus.RUNNING:
        assert time.monotonic() < deadline, "the cancel did not stop the agent's delay"
        time.sleep(0.05)
    done = worker.tasks.get(task.id)
    assert done.status is TaskStatus.CANCELLED
    texts = [e.payload["text"] for e in worker.tasks.events(task.id) if e.kind == "text"]
    assert texts == ["start"]
    assert worker.queue.status(done.workflow_id or "") in {"CANCELLED", "SUCCESS"}


def test_a_finished_task_can_run_again_as_a_new_run(worker: Workspace) -> None:
    task = worker.tasks.create(TaskDraft(title="again", scenario=scenario({"text": "x"})))
    worker.tasks.run(task.id)
    worker.tasks.wait(task.id)
    worker.tasks.run(task.id)
    done = worker.tasks.wait(task.id)
    assert done.status is TaskStatus.COMPLETED
    assert done.run_count == 2
    assert done.workflow_id == f"{task.id}-run-2"
    statuses = [e.payload["to"] for e in worker.tasks.events(task.id) if e.kind == "status"]
    assert statuses == ["queued", "running", "completed", "queued", "running", "completed"]


def test_running_a_task_that_is_already_running_is_refused(worker: Workspace) -> None:
    task = worker.tasks.create(TaskDraft(title="busy", scenario=scenario({"delay": 5})))
    worker.tasks.run(task.id)
    for event in worker.tasks.follow(task.id):
        if event.kind == "status" and event.payload["to"] == "running":
            break
    with pytest.raises(ConflictError, match="already running"):
        worker.tasks.run(task.id)
    worker.tasks.cancel(task.id)


@pytest.fixture
def narrow_worker(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.temporary(tmp_path / "narrow", concurrency=2).open()
    ws.start_worker("worker")
    yield ws
    ws.close()


def test_the_queue_bounds_concurrency(narrow_worker: Workspace) -> None:
    ids = [
        narrow_worker.tasks.create(TaskDraft(title=f"t{i}", scenario=scenario({"delay": 0.4}))).id
        for i in range(6)
    ]
    for task_id in ids:
        narrow_worker.tasks.run(task_id)
    for task_id in ids:
        assert narrow_worker.tasks.wait(task_id, timeout=60).status is TaskStatus.COMPLETED
    spans = [
        (narrow_worker.tasks.get(t).started_at, narrow_worker.tasks.get(t).finished_at) for t in ids
    ]
    points = sorted([(s, 1) for s, _ in spans] + [(f, -1) for _, f in spans])  # type: ignore[misc]
    running = peak = 0
    for _, delta in points:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_reconcile_requeues_a_task_whose_enqueue_was_lost(workspace: Workspace) -> None:
    task = workspace.tasks.create(TaskDraft(title="orphan", scenario=scenario({"text": "x"})))
    with workspace.store.write() as session:  # queued, but the enqueue never happened
        lifecycle.queue_run(session, task.id, task.options)
    workspace.start_worker("worker")
    assert workspace.tasks.wait(task.id, timeout=30).status is TaskStatus.COMPLETED


def test_reconcile_fails_a_running_task_that_has_no_run(workspace: Workspace) -> None:
    task = workspace.tasks.create(TaskDraft(title="ghost"))
    with workspace.store.write() as session:  # running, but no engine run exists
        lifecycle.queue_run(session, task.id, task.options)
        lifecycle.claim(session, task.id, 1)
    workspace.start_worker("worker")
    done = workspace.tasks.get(task.id)
    assert done.status is TaskStatus.FAILED
    assert done.error == "interrupted: its run is missing in the engine"
    [run] = workspace.tasks.runs(task.id)
    assert run.status is RunStatus.FAILED and run.stop_reason == done.error


def _queue_fails_midway(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> str:
    """Queue a task whose queue entry cannot be written; returns the task id."""
    task = ws.tasks.create(TaskDraft(title="atomic", scenario=scenario({"text": "x"})))
    ws.queue.prepare_schema()

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the engine's insert failed")

    monkeypatch.setattr(ws.queue.client, "enqueue_in_transaction", refuse)
    with pytest.raises(RuntimeError):
        ws.tasks.run(task.id)
    monkeypatch.undo()
    return task.id


def test_a_run_and_its_queue_entry_are_written_together(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine's queue entry failed: no queued run is left for reconcile to find, and the
    # task can be run again at once.
    task_id = _queue_fails_midway(workspace, monkeypatch)
    assert workspace.tasks.get(task_id).status is TaskStatus.PLANNED
    assert workspace.tasks.runs(task_id) == []
    queued = workspace.tasks.run(task_id)
    assert queued.status is TaskStatus.QUEUED and queued.run_count == 1
    assert workspace.queue.status(f"{task_id}-run-1") == "ENQUEUED"
    workspace.start_worker("worker")
    assert workspace.tasks.wait(task_id, timeout=30).status is TaskStatus.COMPLETED


@pytest.mark.postgres
def test_a_run_and_its_queue_entry_are_written_together_on_postgresql(
    pg_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = _queue_fails_midway(pg_workspace, monkeypatch)
    assert pg_workspace.tasks.runs(task_id) == []
    pg_workspace.tasks.run(task_id)
    assert pg_workspace.queue.status(f"{task_id}-run-1") == "ENQUEUED"


@pytest.mark.postgres
def test_a_task_runs_on_postgresql(pg_workspace: Workspace) -> None:
    pg_workspace.start_worker("worker")
    task = pg_workspace.tasks.create(TaskDraft(title="pg", scenario=scenario({"text": "on pg"})))
    pg_workspace.tasks.run(task.id)
    done = pg_workspace.tasks.wait(task.id, timeout=30)
    assert done.status is TaskStatus.COMPLETED
    assert done.result == "on pg"


class _ExplodingRuntime(Runtime):
    name: ClassVar[str] = "exploding"
    label: ClassVar[str] = "Exploding (test)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(simulated=True)

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        return _ExplodingRun()


class _ExplodingRun(AgentRun):
    async def events(self) -> AsyncIterator[RuntimeEvent]:
        yield TextEvent(text="about to break")
        raise OSError("pipe closed")

    async def cancel(self) -> None:
        return None


def test_a_runtime_that_crashes_fails_the_task_instead_of_leaving_it_running(
    worker: Workspace,
) -> None:
    worker.runtimes.register(_ExplodingRuntime())
    task = worker.tasks.create(TaskDraft(title="crash", runtime="exploding"))
    worker.tasks.run(task.id)
    done = worker.tasks.wait(task.id, timeout=30)
    assert done.status is TaskStatus.FAILED
    assert done.error == "the runtime failed unexpectedly: OSError: pipe closed"
