"""Governance with the real Claude Agent SDK (bundled CLI) against the scripted model server: the
engine runs a claude task, every tool call reaches the GovernedGate, and the person decides
through the JSON API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from claude_fixtures import (  # noqa: F401
    anthropic_server_fixture,
    claude_workspace,
    offline_env_fixture,
)

from stagent.domain.approvals import Approval
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.services import TaskDraft
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.web.app import create_app
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def governed(anthropic_server: AnthropicScriptServer, tmp_path: Path) -> Iterator[Workspace]:
    """A worker running claude tasks against the scripted server; no rules saved yet."""
    yield from claude_workspace(anthropic_server, tmp_path)


def _start(ws: Workspace, scenario: str) -> Task:
    task = ws.tasks.create(TaskDraft(title=f"SCENARIO:{scenario} do it", runtime="claude"))
    ws.tasks.run(task.id)
    return task


async def _card(ws: Workspace, task_id: str, timeout: float = 90) -> Approval:
    deadline = time.monotonic() + timeout
    while not (cards := ws.approvals.list_pending(task_id=task_id)):
        assert time.monotonic() < deadline, f"no card; task is {ws.tasks.get(task_id).status}"
        await asyncio.sleep(0.05)
    return cards[0]


async def _done(ws: Workspace, task_id: str, timeout: float = 120) -> Task:
    return await asyncio.to_thread(ws.tasks.wait, task_id, timeout=timeout)


async def _person_posts(ws: Workspace, path: str, body: dict[str, object]) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
    headers = {"Authorization": f"Bearer {ws.owner_token()}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://127.0.0.1:8765", headers=headers
    ) as person:
        return await person.post(path, json=body)


def _work(ws: Workspace, task_id: str) -> Path:
    return ws.settings.home / "runs" / task_id / "claude" / "work"


async def test_write_approved_through_the_api_writes_the_file(governed: Workspace) -> None:
    ws = governed
    ws.rules.add("Bash(echo *)")  # the look-around command is allowed by rule
    task = _start(ws, "write")
    card = await _card(ws, task.id)
    assert card.tool == "Write" and card.runtime == "claude"
    assert ws.tasks.get(task.id).status is TaskStatus.WAITING
    assert not (_work(ws, task.id) / "hello.txt").exists()

    response = await _person_posts(ws, f"/api/v1/approvals/{card.id}/allow", {})
    assert response.status_code == 200, response.text

    done = await _done(ws, task.id)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert (_work(ws, task.id) / "hello.txt").read_text() == "hi there"
    notes = [e.payload["decided_by"] for e in ws.tasks.events(task.id) if e.kind == "note"]
    assert notes[0].startswith("rule ") and notes[1] == "person (via API, owner token)"


async def test_a_denial_and_its_message_reach_the_model(governed: Workspace) -> None:
    ws = governed
    ws.rules.add("Bash(echo *)")
    task = _start(ws, "write")
    card = await _card(ws, task.id)
    response = await _person_posts(
        ws, f"/api/v1/approvals/{card.id}/deny", {"message": "not in this folder, please"}
    )
    assert response.status_code == 200, response.text

    done = await _done(ws, task.id)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert not (_work(ws, task.id) / "hello.txt").exists()
    assert done.result is not None
    assert "error: not in this folder, please" in done.result  # the model saw it


async def test_always_allow_means_the_next_identical_call_is_not_asked(
    governed: Workspace,
) -> None:
    ws = governed
    task = _start(ws, "twice")
    card = await _card(ws, task.id)
    assert card.tool == "Bash" and card.suggested_rule == "Bash(touch *)"
    response = await _person_posts(
        ws, f"/api/v1/approvals/{card.id}/allow", {"always": True, "scope": "task"}
    )
    assert response.status_code == 200, response.text

    done = await _done(ws, task.id)
    assert done.status is TaskStatus.COMPLETED, done.error
    events = ws.tasks.events(task.id)
    assert [e.kind for e in events].count("approval") == 1
    [rule] = ws.rules.list()
    notes = [e.payload["decided_by"] for e in events if e.kind == "note"]
    assert notes == ["person (via API, owner token)", "task rule `Bash(touch *)`"]
    assert rule.scope == "task"


async def test_a_question_is_answered_through_the_api(governed: Workspace) -> None:
    ws = governed
    ws.rules.apply_preset("full-auto")  # allowing everything still asks the question
    task = _start(ws, "ask")
    card = await _card(ws, task.id)
    assert card.kind == "question"
    response = await _person_posts(
        ws, f"/api/v1/approvals/{card.id}/answer", {"answers": {"Which color?": "blue"}}
    )
    assert response.status_code == 200, response.text
    done = await _done(ws, task.id)
    assert done.status is TaskStatus.COMPLETED, done.error
    assert done.result is not None and "blue" in done.result
