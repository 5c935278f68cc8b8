"""End to end with the scripted runtime: a worker runs the task, the gate asks, the person (or a
rule, or the clock) decides through the API, and the agent goes on with the answer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from approvaltools import (
    api_client,
    question_input,
    scenario,
    wait_for_card,
    write_step,
)

from stagent.domain.errors import ValidationError
from stagent.domain.events import LoggedEvent
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


def _run(ws: Workspace, data: dict[str, object], **fields: object) -> str:
    task = ws.tasks.create(TaskDraft(title="governed", scenario=data, **fields))  # type: ignore[arg-type]
    ws.tasks.run(task.id)
    return task.id


def _events(ws: Workspace, task_id: str, kind: str) -> list[LoggedEvent]:
    return [e for e in ws.tasks.events(task_id) if e.kind == kind]


async def _finish(ws: Workspace, task_id: str) -> TaskStatus:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = ws.tasks.get(task_id).status
        if status.is_terminal:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"task stuck in {ws.tasks.get(task_id).status}")


async def test_write_waits_then_approved_through_the_api_continues(worker: Workspace) -> None:
    task_id = _run(worker, scenario(write_step(), {"text": "after the write"}))
    card = await wait_for_card(worker, task_id)

    assert card.tool == "Write" and card.kind == "permission" and card.risk == "medium"
    assert card.suggested_rule == "Edit(./*)"
    assert worker.tasks.get(task_id).status is TaskStatus.WAITING
    # The task's log (shown on the Monitor and task pages) says where to decide, with no
    # command names a page must not show.
    [asked] = _events(worker, task_id, "approval")
    assert asked.payload["message"] == (
        "waiting for a person: Write (medium risk); decide it in the Inbox"
    )
    async with api_client(worker, owner=True) as person:
        response = await person.post(f"/api/v1/approvals/{card.id}/allow", json={})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "allowed"
    assert response.json()["decided_by"] == "person (via API, owner token)"

    assert await _finish(worker, task_id) is TaskStatus.COMPLETED
    [result] = _events(worker, task_id, "tool_result")
    assert result.payload["is_error"] is False and result.payload["output"] == "wrote"
    [decision] = _events(worker, task_id, "decision")
    assert decision.payload["decided_by"] == "person (via API, owner token)"
    assert "Write allowed once by person (via API, owner token)" in decision.summary
    statuses = [(e.payload["from"], e.payload["to"]) for e in _events(worker, task_id, "status")]
    assert ("running", "waiting") in statuses and ("waiting", "running") in statuses
    assert worker.approvals.list_pending() == []


async def test_denied_with_a_message_the_agent_receives_it(worker: Workspace) -> None:
    task_id = _run(worker, scenario(write_step()))
    card = await wait_for_card(worker, task_id)
    async with api_client(worker, owner=True) as person:
        response = await person.post(
            f"/api/v1/approvals/{card.id}/deny", json={"message": "write to /tmp instead"}
        )
    assert response.status_code == 200, response.text

    await _finish(worker, task_id)
    [result] = _events(worker, task_id, "tool_result")
    assert result.payload["is_error"] is True
    assert "write to /tmp instead" in result.payload["output"]
    [note] = _events(worker, task_id, "note")
    assert note.payload["decided_by"] == "person (via API, owner token)"
    assert note.payload["allowed"] is False


async def test_always_allow_saves_the_rule_and_the_next_identical_call_is_not_asked(
    worker: Workspace,
) -> None:
    task_id = _run(worker, scenario(write_step(), write_step()))
    card = await wait_for_card(worker, task_id)
    async with api_client(worker, owner=True) as person:
        response = await person.post(
            f"/api/v1/approvals/{card.id}/allow", json={"always": True, "scope": "global"}
        )
    assert response.status_code == 200, response.text
    rule_id = response.json()["decision"]["rule_id"]

    assert await _finish(worker, task_id) is TaskStatus.COMPLETED
    [rule] = worker.rules.list()
    assert (rule.id, rule.text, rule.scope, rule.source) == (
        rule_id,
        "Edit(./*)",
        "global",
        f"approval:{card.id}",
    )
    notes = _events(worker, task_id, "note")
    assert [n.payload["decided_by"] for n in notes] == [
        "person (via API, owner token)",
        "rule `Edit(./*)`",
    ]
    assert len(_events(worker, task_id, "approval")) == 1  # the second call made no card


async def test_ask_user_question_is_asked_even_when_everything_is_allowed(
    worker: Workspace,
) -> None:
    worker.rules.apply_preset("full-auto")
    with pytest.raises(ValidationError, match="AskUserQuestion always goes to a person"):
        worker.rules.add("AskUserQuestion")  # refused when saved, with the reason
    policy = {"auto_approve": ["Write", "Bash", "Read"], "auto_deny": []}
    ask = {"tool": "AskUserQuestion", "input": question_input(), "output": "-"}
    draft = TaskDraft(
        title="asks", scenario=scenario(write_step(), ask), options={"tool_policy": policy}
    )
    task = worker.tasks.create(draft)
    worker.tasks.run(task.id)

    card = await wait_for_card(worker, task.id)
    assert card.kind == "question" and card.suggested_rule is None
    assert card.why_asked == "AskUserQuestion always asks a person"
    async with api_client(worker, owner=True) as person:
        wrong = await person.post(f"/api/v1/approvals/{card.id}/allow", json={})
        assert wrong.status_code == 422  # a question is answered, not allowed
        response = await person.post(
            f"/api/v1/approvals/{card.id}/answer", json={"answers": {"Which color?": "blue"}}
        )
    assert response.status_code == 200, response.text

    assert await _finish(worker, task.id) is TaskStatus.COMPLETED
    results = _events(worker, task.id, "tool_result")
    assert json.loads(results[-1].payload["output"]) == {"Which color?": "blue"}
    # The Write before it was decided by the policy, not by a person.
    assert _events(worker, task.id, "note")[0].payload["decided_by"].startswith("profile ")


@pytest.fixture
def impatient_worker(tmp_path: Path) -> Iterator[Workspace]:
    """A worker whose approval requests time out after half a second."""
    ws = Workspace.temporary(tmp_path / "short", approval_timeout_seconds=0.5).open()
    ws.start_worker("worker")
    try:
        yield ws
    finally:
        ws.stop_worker()
        ws.close()


async def test_a_request_past_its_timeout_is_denied_and_says_so(
    impatient_worker: Workspace,
) -> None:
    ws = impatient_worker
    task_id = _run(ws, scenario(write_step()))
    await _finish(ws, task_id)  # its card lives 0.5 s: a poll under load could miss it pending
    (closed,) = ws.approvals.recent(task_id=task_id)
    assert closed.status == "timed_out" and closed.decided_by == "timeout"
    [result] = _events(ws, task_id, "tool_result")
    assert result.payload["is_error"] is True
    assert "timed out" in result.payload["output"]
    [decision] = _events(ws, task_id, "decision")
    assert "timed out after 0.5 s" in decision.summary


async def test_cancelling_a_waiting_task_closes_its_card(worker: Workspace) -> None:
    task_id = _run(worker, scenario(write_step()))
    card = await wait_for_card(worker, task_id)
    worker.tasks.cancel(task_id)
    assert await _finish(worker, task_id) is TaskStatus.CANCELLED
    deadline = time.monotonic() + 30
    while worker.approvals.get(card.id).pending and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    closed = worker.approvals.get(card.id)
    assert closed.status == "cancelled" and closed.decided_by == "task ended"
    assert worker.approvals.pending_count() == 0


@pytest.mark.parametrize("channel", ["api", "ui"])
async def test_an_agent_cannot_approve_its_own_request(worker: Workspace, channel: str) -> None:
    """A "scripted agent": a plain HTTP client on this machine, without the person's token (as
    an agent's curl would be). It can even fetch a CSRF cookie; it still gets 403."""
    from approvaltools import prime_csrf

    task_id = _run(worker, scenario(write_step()))
    card = await wait_for_card(worker, task_id)
    async with api_client(worker, owner=False) as agent:
        await prime_csrf(agent)
        listed = await agent.get("/api/v1/approvals")
        assert [c["id"] for c in listed.json()["data"]] == [card.id]  # reading is fine
        if channel == "api":
            response = await agent.post(f"/api/v1/approvals/{card.id}/allow", json={})
            assert response.json()["code"] == "owner_required"
        else:
            response = await agent.post(f"/ui/approvals/{card.id}/allow", data={"always": "0"})
        assert response.status_code == 403
        rule = await agent.post("/api/v1/rules", json={"rule": "Write"})
        assert rule.status_code == 403
        preset = await agent.post("/api/v1/rules/presets/full-auto", json={})
        assert preset.status_code == 403
    assert worker.approvals.get(card.id).pending
    assert worker.tasks.get(task_id).status is TaskStatus.WAITING
    assert worker.rules.list() == []
    worker.approvals.deny(card.id, by="person (via CLI)")
    await _finish(worker, task_id)
