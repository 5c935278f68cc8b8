"""Reconcile: after a crash, task rows and engine runs agree again. A task left ``queued`` with
nothing in the engine is queued again; a task left ``running`` whose run the engine no longer
has (or finished) fails with a visible reason; a healthy task is left alone. SQLite and
PostgreSQL; no worker runs, so what reconcile does is all that happens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.options import resolve
from stagent.engine.reconcile import reconcile
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    yield request.getfixturevalue(name)


def queued_without_engine(ws: Workspace, title: str) -> str:
    """A task whose run was queued in our tables but never reached the engine (a crash
    between the two writes)."""
    task = ws.tasks.create(TaskDraft(title=title))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    return task.id


def test_a_queued_task_missing_from_the_engine_is_queued_again(ws: Workspace) -> None:
    task_id = queued_without_engine(ws, "orphan")
    workflow = ws.tasks.get(task_id).workflow_id or ""
    assert ws.queue.status(workflow) is None
    assert reconcile(ws.store, ws.queue) == {"requeued": 1, "failed": 0}
    assert ws.queue.status(workflow) == "ENQUEUED"
    assert ws.tasks.get(task_id).status is TaskStatus.QUEUED
    assert reconcile(ws.store, ws.queue) == {"requeued": 0, "failed": 0}  # now it agrees


def test_a_running_task_whose_run_is_missing_fails_with_a_reason(ws: Workspace) -> None:
    task_id = queued_without_engine(ws, "lost")
    with ws.store.write() as session:
        assert lifecycle.claim(session, task_id, 1) is not None
    assert reconcile(ws.store, ws.queue) == {"requeued": 0, "failed": 1}
    task = ws.tasks.get(task_id)
    assert task.status is TaskStatus.FAILED
    assert task.error == "interrupted: its run is missing in the engine"
    (run,) = ws.tasks.runs(task_id)
    assert run.status is RunStatus.FAILED
    assert run.stop_reason == task.error
    statuses = [e.payload for e in ws.tasks.events(task_id) if e.kind == "status"]
    assert statuses[-1]["to"] == "failed"
    assert statuses[-1]["reason"] == task.error


def test_a_running_task_whose_engine_run_was_cancelled_fails(ws: Workspace) -> None:
    task_id = queued_without_engine(ws, "cancelled in the engine")
    ws.queue.enqueue(task_id, 1)
    workflow = ws.tasks.get(task_id).workflow_id or ""
    ws.queue.cancel(workflow)
    with ws.store.write() as session:
        assert lifecycle.claim(session, task_id, 1) is not None
    assert reconcile(ws.store, ws.queue)["failed"] == 1
    task = ws.tasks.get(task_id)
    assert task.status is TaskStatus.FAILED
    assert task.error == "interrupted: its run is CANCELLED in the engine"


def test_healthy_and_finished_tasks_are_left_alone(ws: Workspace) -> None:
    pending = queued_without_engine(ws, "pending in the engine")
    ws.queue.enqueue(pending, 1)
    planned = ws.tasks.create(TaskDraft(title="never run")).id
    done = queued_without_engine(ws, "done")
    with ws.store.write() as session:
        claim = lifecycle.claim(session, done, 1)
        assert claim is not None
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, result="ok")
    before = {t: [e.seq for e in ws.tasks.events(t)] for t in (pending, planned, done)}
    assert reconcile(ws.store, ws.queue) == {"requeued": 0, "failed": 0}
    assert ws.tasks.get(pending).status is TaskStatus.QUEUED
    assert ws.tasks.get(planned).status is TaskStatus.PLANNED
    assert ws.tasks.get(done).status is TaskStatus.COMPLETED
    assert {t: [e.seq for e in ws.tasks.events(t)] for t in before} == before
