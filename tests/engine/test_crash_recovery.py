"""A task whose server is killed with SIGKILL mid-run finishes exactly once after a restart."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(home: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["STAGENT_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "stagent", "serve", "--no-open", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never printed; output was:\n{''.join(seen)}")


def kill_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "home"


def test_killed_serve_recovers_its_running_task_and_finishes_it_once(home: Path) -> None:
    port = free_port()
    first = start_serve(home, port)
    try:
        wait_for_line(first, "running at")
        client = Workspace.temporary(home).open()
        steps = [{"text": "before the crash. "}, {"delay": 4}, {"text": "after."}]
        task = client.tasks.create(TaskDraft(title="survive", scenario={"steps": steps}))
        client.tasks.run(task.id)
        for event in client.tasks.follow(task.id):
            if event.kind == "text":
                break
        kill_group(first, signal.SIGKILL)
        assert client.tasks.get(task.id).status is TaskStatus.RUNNING

        second = start_serve(home, port)
        try:
            wait_for_line(second, "running at")
            done = client.tasks.wait(task.id, timeout=60)
        finally:
            kill_group(second, signal.SIGTERM)
    finally:
        if first.poll() is None:
            kill_group(first, signal.SIGKILL)

    assert done.status is TaskStatus.COMPLETED
    assert done.result == "before the crash. after."
    log = client.tasks.events(task.id)
    completions = [e for e in log if e.kind == "status" and e.payload["to"] == "completed"]
    assert len(completions) == 1
    recovered = [e for e in log if e.kind == "recovered"]
    assert len(recovered) == 1
    assert "running it again" in recovered[0].payload["message"]
    assert [e.kind for e in log if e.kind == "result"] == ["result"]
    assert client.queue.status(done.workflow_id or "") == "SUCCESS"
    client.close()
