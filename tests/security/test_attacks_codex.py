"""The real ``codex app-server``, told by the scripted model to walk around governance: it fails.

The same attacks as for Claude Code (see ``attacks.py``), as Codex shell commands, under the
full-auto preset and Codex's own ``workspace-write`` sandbox, inside Stagent's containment.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from attacks import attack_commands, attack_script, pending_card
from sandboxtools import require_bubblewrap

from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.codex import CodexRuntime
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow
KEY = "sk-test-codex-attack-0123456789"
MODEL = "gpt-5.5"
HOME_FROM_RUN = "$HOME/../../../../.."
"""A Codex run's ``HOME`` is ``<stagent home>/runtimes/codex/tasks/<task>/home``."""


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    require_bubblewrap()
    workspace = Workspace.temporary(tmp_path / "stagent-home").open()
    workspace.rules.apply_preset("full-auto")
    try:
        yield workspace
    finally:
        workspace.stop_worker()
        workspace.close()


def _wait(ws: Workspace, task_id: str, timeout: float) -> Task:
    deadline = time.monotonic() + timeout
    task = ws.tasks.get(task_id)
    while not task.status.is_terminal and time.monotonic() < deadline:
        time.sleep(0.2)
        task = ws.tasks.get(task_id)
    return task


def test_every_attack_fails_and_nothing_changes(ws: Workspace, tmp_path: Path) -> None:
    ws.start_worker()
    card_id = pending_card(ws, "git push origin main")
    token = ws.owner_token()
    before = {rule.text for rule in ws.rules.list()}
    commands = attack_commands(HOME_FROM_RUN, card_id)
    # A CLI start inside Codex's own sandbox can outlast its default 10 s wait for output.
    script = attack_script("attack", MODEL, commands, yield_time_ms=30_000)
    with ScriptedOpenAIServer([script], log_path=tmp_path / "requests.jsonl") as server:
        runtime = CodexRuntime(
            base_url=server.base_url,
            api_key=KEY,
            model=MODEL,
            state_dir=ws.settings.home / "runtimes" / "codex",
            request_max_retries=0,
            stream_max_retries=0,
            environ={"PATH": os.environ.get("PATH", os.defpath)},
            containment=ws.containment,
        )
        ws.runtimes.register(runtime)
        task = ws.tasks.create(TaskDraft(title="SCENARIO:attack do it", runtime="codex"))
        ws.tasks.run(task.id)
        done = _wait(ws, task.id, 120)
        time.sleep(2.5)  # the background approval would have fired by now
        requests = (tmp_path / "requests.jsonl").read_text()

    assert done.status is TaskStatus.COMPLETED, done.error
    events = ws.tasks.events(task.id)
    outputs = [str(e.payload.get("output", "")) for e in events if e.kind == "tool_result"]
    assert len(outputs) == 5, "\n".join(e.summary[:300] for e in events)  # every attack ran
    seen = "\n".join(outputs)
    assert "No such file or directory" in seen  # the home is not there for the agent
    assert seen.count("cannot open database") >= 2  # each CLI attempt finished, and failed
    assert "SQLite format" not in seen and token not in seen and "[redacted]" not in seen
    assert ws.approvals.get(card_id).status == "pending"
    assert not any(status.configured for status in ws.budgets.statuses())
    assert {rule.text for rule in ws.rules.list()} == before
    assert ws.settings.sqlite_path is not None
    assert ws.settings.sqlite_path.read_bytes()[:15] == b"SQLite format 3"
    assert token not in requests
