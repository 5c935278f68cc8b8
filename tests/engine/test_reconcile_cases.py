"""Reconcile's remaining cases, on SQLite: a task waiting on a person whose run the engine lost,
a lost enqueue of a task's second run, and engine runs that ended (or still run) while the
task row says running. No worker runs: what reconcile does is all that happens."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.options import resolve
from stagent.engine.reconcile import reconcile
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle
from stagent.workspace import Workspace


def claimed(ws: Workspace, title: str, *, enqueue: bool) -> str:
    """A running task (run 1 claimed), optionally known to the engine."""
    task = ws.tasks.create(TaskDraft(title=title))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, resolve(task, None))
    if enqueue:
        ws.queue.enqueue(task.id, 1)
    with ws.store.write() as session:
        assert lifecycle.claim(session, task.id, 1) is not None
    return task.id


def set_engine_status(ws: Workspace, workflow_id: str, status: str) -> None:
    """What DBOS would have recorded (a workflow that ended, or that a worker runs)."""
    with ws.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE workflow_status SET status = :s WHERE workflow_uuid = :w"),
            {"s": status, "w": workflow_id},
        )


def test_a_task_waiting_on_a_person_whose_run_is_gone_fails(workspace: Workspace) -> None:
    task_id = claimed(workspace, "asking", enqueue=False)
    (run,) = workspace.tasks.runs(task_id)
    with workspace.store.write() as session:
        lifecycle.suspend(session, run.id, "approval:apr_gone", reason="asking a person")
    assert workspace.tasks.get(task_id).status is TaskStatus.WAITING
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 1}
    (run,) = workspace.tasks.runs(task_id)
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        "interrupted: its run is missing in the engine",
    )
    assert workspace.tasks.get(task_id).status is TaskStatus.FAILED


def test_a_lost_enqueue_of_a_second_run_queues_that_run(workspace: Workspace) -> None:
    task_id = claimed(workspace, "again", enqueue=True)
    (run,) = workspace.tasks.runs(task_id)
    with workspace.store.write() as session:
        lifecycle.finish(session, run.id, RunStatus.COMPLETED, result="first")
        lifecycle.queue_run(session, task_id, workspace.tasks.get(task_id).options)
    assert workspace.queue.status(f"{task_id}-run-2") is None
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 1, "failed": 0}
    assert workspace.queue.status(f"{task_id}-run-2") == "ENQUEUED"
    assert workspace.queue.status(f"{task_id}-run-1") == "ENQUEUED"  # untouched


@pytest.mark.parametrize("engine", ["SUCCESS", "ERROR", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"])
def test_a_running_task_whose_engine_run_ended_fails_naming_the_state(
    workspace: Workspace, engine: str
) -> None:
    task_id = claimed(workspace, "ended underneath", enqueue=True)
    set_engine_status(workspace, f"{task_id}-run-1", engine)
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 1}
    task = workspace.tasks.get(task_id)
    assert task.status is TaskStatus.FAILED
    assert task.error == f"interrupted: its run is {engine} in the engine"
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 0}


def test_a_running_task_whose_engine_run_is_live_is_left_alone(workspace: Workspace) -> None:
    task_id = claimed(workspace, "busy", enqueue=True)
    set_engine_status(workspace, f"{task_id}-run-1", "PENDING")
    before = [e.seq for e in workspace.tasks.events(task_id)]
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 0}
    assert workspace.tasks.get(task_id).status is TaskStatus.RUNNING
    assert [e.seq for e in workspace.tasks.events(task_id)] == before
