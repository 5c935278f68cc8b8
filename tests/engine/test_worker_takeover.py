"""Two `stagent worker` processes on one PostgreSQL database (the multi-machine set-up): the one
running a task is killed with SIGKILL mid-run; the survivor sees its lease lapse, takes the run
over as attempt 2 and ends it once."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest

from servetools import WORKER_LEASE, start_worker, stop_worker
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def running_on(ws: Workspace, workflow_id: str) -> str:
    """The executor the engine says runs ``workflow_id`` (once one does)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        (found,) = ws.queue.client.list_workflows(
            workflow_ids=[workflow_id], load_input=False, load_output=False
        )
        if found.status == "PENDING" and found.executor_id:
            return str(found.executor_id)
        time.sleep(0.05)
    raise AssertionError(f"{workflow_id} never started")


def settled_on(ws: Workspace, workflow_id: str) -> tuple[str, str]:
    """The engine's final status of ``workflow_id`` and its executor. DBOS records the outcome
    after the workflow's body returns, a moment after the run's end completed the task."""
    deadline = time.monotonic() + 30
    while True:
        (found,) = ws.queue.client.list_workflows(
            workflow_ids=[workflow_id], load_input=False, load_output=False
        )
        if found.status != "PENDING" or time.monotonic() > deadline:
            return str(found.status), str(found.executor_id)
        time.sleep(0.05)


def test_a_killed_workers_run_is_taken_over_by_the_survivor_and_ends_once(
    worker_home: Path, pg_url: str, worker_procs: list[subprocess.Popen[str]]
) -> None:
    env = {"STAGENT_DATABASE_URL": pg_url}
    client = Workspace.temporary(
        worker_home, database_url=pg_url, executor_lease_seconds=float(WORKER_LEASE)
    ).open()
    try:
        workers: dict[str, subprocess.Popen[str]] = {}
        for _ in range(2):
            proc, executor_id = start_worker(worker_home, env=env)
            worker_procs.append(proc)
            workers[executor_id] = proc
        steps = [{"text": "before. "}, {"delay": 3}, {"text": "after."}]
        task = client.tasks.create(TaskDraft(title="takeover", scenario={"steps": steps}))
        workflow = client.tasks.run(task.id).workflow_id or ""
        for event in client.tasks.follow(task.id, poll_seconds=0.1):
            if event.kind == "text":
                break
        victim = running_on(client, workflow)
        stop_worker(workers.pop(victim), signal.SIGKILL)

        done = client.tasks.wait(task.id, timeout=60)
        assert done.status is TaskStatus.COMPLETED, done.error
        assert done.result == "before. after."
        (run,) = client.tasks.runs(task.id)
        assert (run.status, run.attempt) == (RunStatus.COMPLETED, 2)
        kinds = [e.kind for e in client.tasks.events(task.id)]
        assert kinds.count("recovered") == 1
        assert kinds.count("result") == 1
        ends = [e for e in client.tasks.events(task.id) if e.kind == "status"]
        assert [e.payload["to"] for e in ends].count("completed") == 1
        (survivor,) = workers
        assert settled_on(client, workflow) == ("SUCCESS", survivor)
    finally:
        client.close()
