"""A task's profile reaches its run: checked on create, resolved when queued, enforced by the
gate (a researcher's Write is denied without asking anyone; its Read goes through)."""

from __future__ import annotations

import asyncio

import pytest

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

SCENARIO = {
    "name": "research",
    "steps": [
        {"tool": "Read", "input": {"file_path": "notes.md"}, "output": "notes"},
        {"tool": "Write", "input": {"file_path": "out.md", "content": "x"}, "output": "wrote"},
    ],
    "result": "done",
}


def test_an_unknown_profile_or_an_unsupported_runtime_is_refused_on_create(
    workspace: Workspace,
) -> None:
    with pytest.raises(NotFoundError, match="no profile 'nobody'"):
        workspace.tasks.create(TaskDraft(title="t", profile="nobody"))
    with pytest.raises(ValidationError, match="code-reviewer does not support the anthropic"):
        workspace.tasks.create(TaskDraft(title="t", runtime="anthropic", profile="code-reviewer"))
    task = workspace.tasks.create(TaskDraft(title="t", runtime="anthropic", profile="editor"))
    with pytest.raises(ValidationError, match="does not support the anthropic"):
        workspace.tasks.update(task.id, {"profile": "researcher"})


@pytest.fixture(params=["sqlite", "postgres"])
def any_workspace(request: pytest.FixtureRequest) -> Workspace:
    """The test workspace on SQLite, then on PostgreSQL."""
    name = "workspace" if request.param == "sqlite" else "pg_workspace"
    return request.getfixturevalue(name)


def test_queueing_resolves_the_profile_into_the_run_options_and_logs_it(
    any_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-used")  # the runtimes count as ready
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    workspace = any_workspace
    task = workspace.tasks.create(
        TaskDraft(title="review", runtime="claude", profile="code-reviewer")
    )
    workspace.tasks.run(task.id)
    options = workspace.tasks.runs(task.id)[-1].options
    assert options.instructions is not None and options.instructions.startswith("# Code Reviewer")
    assert options.claude is not None
    assert options.claude.tools == ("Read", "Grep", "Glob", "Bash", "AskUserQuestion")
    assert options.limits.max_turns == 25
    assert options.tool_policy is not None and "Write" in options.tool_policy.auto_deny
    notes = [e for e in workspace.tasks.events(task.id) if e.kind == "note"]
    assert notes[-1].payload["message"].startswith("profile code-reviewer 1.0.0 (builtin) sets")
    assert workspace.tasks.get(task.id).options.instructions is None  # the task's own stay its own
    workspace.tasks.cancel(task.id)

    workspace.tasks.update(task.id, {"runtime": "codex"})
    workspace.tasks.run(task.id)
    options = workspace.tasks.runs(task.id)[-1].options
    assert options.codex is not None and options.codex.sandbox == "read-only"
    assert options.claude is None and options.limits.max_turns is None  # claude-only keys gone
    workspace.tasks.cancel(task.id)


def test_a_tasks_own_options_win_over_its_profiles(workspace: Workspace) -> None:
    task = workspace.tasks.create(
        TaskDraft(title="review", profile="code-reviewer", options={"limits": {"max_turns": 3}})
    )
    workspace.tasks.run(task.id)
    options = workspace.tasks.runs(task.id)[-1].options
    assert options.limits.max_turns == 3
    assert options.tool_policy is not None and "Write" in options.tool_policy.auto_deny
    workspace.tasks.cancel(task.id)


def test_auto_routes_the_task_and_says_why(workspace: Workspace) -> None:
    task = workspace.tasks.create(
        TaskDraft(title="Review the pull request", description="check the diff", profile="auto")
    )
    queued = workspace.tasks.run(task.id)
    assert queued.profile == "code-reviewer"
    note = [e for e in workspace.tasks.events(task.id) if e.kind == "note"][-1]
    assert (
        "the router picked code-reviewer: matched tags review, pull request, diff"
        in (note.payload["message"])
    )
    workspace.tasks.cancel(task.id)


async def _finish(ws: Workspace, task_id: str) -> TaskStatus:
    for _ in range(400):
        status = ws.tasks.get(task_id).status
        if status.is_terminal:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"task stuck in {ws.tasks.get(task_id).status}")


async def test_the_gate_enforces_a_researchers_policy_without_asking(worker: Workspace) -> None:
    task = worker.tasks.create(TaskDraft(title="r", profile="researcher", scenario=SCENARIO))
    worker.tasks.run(task.id)
    assert await _finish(worker, task.id) is TaskStatus.COMPLETED
    notes = [
        e.payload for e in worker.tasks.events(task.id) if e.kind == "note" and "tool" in e.payload
    ]
    assert [(n["tool"], n["allowed"]) for n in notes] == [("Read", True), ("Write", False)]
    assert notes[0]["decided_by"] == "profile researcher policy `Read`"
    assert notes[1]["decided_by"] == "profile researcher policy `Write`"
    assert worker.approvals.recent(task_id=task.id) == []  # nobody was asked
