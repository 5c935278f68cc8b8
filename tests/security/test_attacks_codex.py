"""The real ``codex app-server``, told by the scripted model to walk around governance: it fails.

The same attacks as for Claude Code (see ``attacks.py``), as Codex shell commands, under the
full-auto preset and Codex's own ``workspace-write`` sandbox, inside Stagent's containment.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from attacks import attack_commands, attack_script, pending_card
from sandboxtools import codex_runtime, contained_workspace, wait_until_ended

from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow
KEY = "sk-test-codex-attack-0123456789"
MODEL = "gpt-5.5"
HOME_FROM_RUN = "$HOME/../../../../.."
"""A Codex run's ``HOME`` is ``<stagent home>/runtimes/codex/tasks/<task>/home``."""


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    yield from contained_workspace(tmp_path)


def test_every_attack_fails_and_nothing_changes(ws: Workspace, tmp_path: Path) -> None:
    ws.start_worker()
    card_id = pending_card(ws, "git push origin main")
    token = ws.owner_token()
    before = {rule.text for rule in ws.rules.list()}
    commands = attack_commands(HOME_FROM_RUN, card_id)
    # A CLI start inside Codex's own sandbox can outlast its default 10 s wait for output (and
    # 30 s on a loaded machine running the suite on four workers).
    script = attack_script("attack", MODEL, commands, yield_time_ms=90_000)
    with ScriptedOpenAIServer([script], log_path=tmp_path / "requests.jsonl") as server:
        codex_runtime(ws, server, KEY, MODEL)
        task = ws.tasks.create(TaskDraft(title="SCENARIO:attack do it", runtime="codex"))
        ws.tasks.run(task.id)
        done = wait_until_ended(ws, task.id, 300)
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
