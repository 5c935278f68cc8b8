"""A task whose server is killed with SIGKILL mid-run finishes exactly once after a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from servetools import serving, sigkill
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "home"


def test_killed_serve_recovers_its_running_task_and_finishes_it_once(home: Path) -> None:
    with serving(home) as first:
        client = Workspace.temporary(home).open()
        steps = [{"text": "before the crash. "}, {"delay": 4}, {"text": "after."}]
        task = client.tasks.create(TaskDraft(title="survive", scenario={"steps": steps}))
        client.tasks.run(task.id)
        for event in client.tasks.follow(task.id):
            if event.kind == "text":
                break
        sigkill(first)
        assert client.tasks.get(task.id).status is TaskStatus.RUNNING

    with serving(home):
        done = client.tasks.wait(task.id, timeout=60)

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
