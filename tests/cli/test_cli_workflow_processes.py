"""``stagent workflow run FILE`` while a ``stagent worker`` runs: the CLI only stores and
enqueues (it returns at once), the worker's queue executes the run, and when that worker is
killed mid-step a worker started again resumes it at the first unfinished step."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from servetools import child_env, start_worker, stop_worker
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.testing.workflows import step
from stagent.workspace import Workspace
from steptools import wait_for_started_agent

pytestmark = pytest.mark.slow


def test_a_cli_run_is_executed_by_the_running_worker_and_resumes_after_its_restart(
    worker_home: Path,
    worker_client: Workspace,
    worker_procs: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    first, _ = start_worker(worker_home)
    worker_procs.append(first)
    path = tmp_path / "wf.yaml"
    data = {
        "name": "handed-over",
        "pattern": "sequence",
        "steps": [step("one", "first"), step("two", "second", delay=6), step("three", "x")],
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    command = [sys.executable, "-m", "stagent", "workflow", "run", str(path), "--json"]
    started = subprocess.run(
        command, env=child_env(worker_home), capture_output=True, text=True, timeout=120
    )
    assert started.returncode == 0, started.stderr
    shown = json.loads(started.stdout)
    assert shown["status"] == "running"  # returned at once: the worker runs it
    wf_id = shown["id"]

    two = wait_for_started_agent(worker_client, wf_id, "two")  # not just claimed: started
    stop_worker(first, signal.SIGKILL)
    assert worker_client.tasks.get(two).status.value == "running", "step two ended before the kill"
    assert worker_client.workflows.get(wf_id).status is WorkflowStatus.RUNNING

    again, _ = start_worker(worker_home)
    worker_procs.append(again)
    done = worker_client.workflows.wait(wf_id, timeout=90)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second", "x"]
    turns = [
        sum(1 for e in worker_client.tasks.events(s.task_id or "") if e.kind == "text")
        for s in done.steps
    ]
    assert turns == [1, 2, 1]  # only the interrupted step ran again
