"""A fresh workspace starts at Claude Code's defaults: reads and searches inside the task's
working directory need no one; edits, commands and anything outside ask; stricter is one switch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from approvaltools import request, running_task

from stagent.domain.errors import ValidationError
from stagent.domain.tasks import Task
from stagent.governance.defaults import DEFAULT_LABEL
from stagent.runtimes.base import PermissionDecision, PermissionRequest
from stagent.workspace import Workspace

pytestmark = pytest.mark.parametrize("db", ["sqlite", "postgres"])


@pytest.fixture
def ws(request: pytest.FixtureRequest, db: str) -> Workspace:
    """The SQLite or the PostgreSQL workspace."""
    name = "workspace" if db == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


async def decide_or_card(ws: Workspace, task: Task, call: PermissionRequest) -> str:
    """``allowed by <who>``, ``denied by <who>``, or ``asked`` (a card appeared; it is denied)."""
    pending = asyncio.create_task(ws.gate.decide(call))
    # Whichever comes first: the decision, or a card (a decision slower than a fixed wait on a
    # loaded machine is still a decision, not a question).
    deadline = time.monotonic() + 60
    while not pending.done():
        cards = ws.approvals.list_pending(task_id=task.id)
        if cards:
            ws.approvals.deny(cards[0].id, by="person (via CLI)")
            await pending
            return "asked"
        assert time.monotonic() < deadline, "neither a decision nor a card"
        await asyncio.wait({pending}, timeout=0.02)
    decision: PermissionDecision = pending.result()
    return f"{'allowed' if decision.allowed else 'denied'} by {decision.decided_by}"


async def test_reads_and_searches_inside_the_working_directory_need_no_one(
    ws: Workspace,
) -> None:
    task = running_task(ws)
    for call in (
        request(task, "Read", file_path="README.md"),
        request(task, "Read", file_path="src/deep/module.py"),
        request(task, "Grep", pattern="TODO"),
        request(task, "Glob", pattern="**/*.py"),
        request(task, "LS", path="."),
    ):
        assert await decide_or_card(ws, task, call) == f"allowed by {DEFAULT_LABEL}"
    assert ws.approvals.pending_count() == 0


async def test_edits_commands_and_reads_outside_ask(ws: Workspace, tmp_path: Path) -> None:
    task = running_task(ws)
    for call in (
        request(task, "Write", file_path="notes.md", content="hi"),
        request(task, "Edit", file_path="README.md", old_string="a", new_string="b"),
        request(task, "Bash", command="ls"),
        request(task, "Read", file_path="/etc/passwd"),
        request(task, "Read", file_path="../other-task/secrets.txt"),
        request(task, "Grep", pattern="x", path=str(tmp_path)),
    ):
        assert await decide_or_card(ws, task, call) == "asked", call


async def test_an_ask_or_deny_rule_beats_the_default(ws: Workspace) -> None:
    ws.rules.add("Read(./private/**)", "ask")
    ws.rules.add("Read(./.env)", "deny")
    task = running_task(ws)
    assert await decide_or_card(ws, task, request(task, "Read", file_path="private/a")) == "asked"
    denied = await decide_or_card(ws, task, request(task, "Read", file_path=".env"))
    assert denied == "denied by rule `Read(./.env)`"


async def test_ask_mode_sends_every_read_to_a_person(ws: Workspace) -> None:
    assert ws.permission_defaults.mode() == "claude-code"
    ws.permission_defaults.set_mode("ask")
    task = running_task(ws)
    assert await decide_or_card(ws, task, request(task, "Read", file_path="README.md")) == "asked"
    ws.permission_defaults.set_mode("claude-code")
    allowed = await decide_or_card(ws, task, request(task, "Read", file_path="README.md"))
    assert allowed == f"allowed by {DEFAULT_LABEL}"


def test_an_unknown_mode_is_refused_naming_the_modes(ws: Workspace) -> None:
    with pytest.raises(ValidationError, match="not a default mode") as err:
        ws.permission_defaults.set_mode("yolo")
    assert "claude-code, ask" in (err.value.hint or "")
    assert ws.permission_defaults.mode() == "claude-code"
