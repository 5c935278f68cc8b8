"""The person's token never reaches an agent: not in a run's request, not in the environment a
runtime gives its agent process (Claude Code, Codex), not even when Stagent itself was started
with ``STAGENT_TOKEN`` set."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from stagent.domain.events import ResultEvent, RuntimeEvent
from stagent.engine.services import TaskDraft
from stagent.runtimes._codex_config import Provider, TaskDirs, child_env
from stagent.runtimes.base import (
    AgentRun,
    PermissionGate,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
)
from stagent.runtimes.claude import ClaudeRuntime
from stagent.workspace import Workspace

SECRET = "owner-secret-0123456789abcdef"


class _Done(AgentRun):
    async def events(self) -> AsyncIterator[RuntimeEvent]:
        yield ResultEvent(text="ok")

    async def cancel(self) -> None:
        return None


class CapturingRuntime(Runtime):
    """Records the request each run gets (what a scripted agent would be started with)."""

    name: ClassVar[str] = "capture"
    label: ClassVar[str] = "capture"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities(simulated=True)

    def __init__(self) -> None:
        self.requests: list[RunRequest] = []

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        self.requests.append(request)
        return _Done()


def _leaks(env: dict[str, str]) -> list[str]:
    found = [k for k, v in env.items() if SECRET in v or "owner.token" in v]
    return found + [k for k in ("STAGENT_TOKEN", "STAGENT_HOME") if env.get(k)]


@pytest.fixture
def token_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    """A workspace started the way `stagent serve` is with STAGENT_TOKEN and STAGENT_HOME set."""
    monkeypatch.setenv("STAGENT_TOKEN", SECRET)
    monkeypatch.setenv("STAGENT_HOME", str(tmp_path / "home"))
    ws = Workspace().open()
    assert ws.owner_token() == SECRET
    return ws


def test_a_scripted_agents_request_carries_no_token(token_workspace: Workspace) -> None:
    ws = token_workspace
    runtime = CapturingRuntime()
    ws.runtimes.register(runtime)
    ws.start_worker("worker")
    try:
        task = ws.tasks.create(TaskDraft(title="capture", runtime="capture"))
        ws.tasks.run(task.id)
        ws.tasks.wait(task.id, timeout=30)
    finally:
        ws.stop_worker()
        ws.close()
    [request] = runtime.requests
    assert SECRET not in repr(request)
    assert _leaks(dict(request.env)) == []


def test_a_claude_agents_environment_has_no_token_nor_stagent_home(
    token_workspace: Workspace, tmp_path: Path
) -> None:
    ws = token_workspace
    request = RunRequest(task_id="tsk_1", prompt="hi", env={"ANTHROPIC_API_KEY": "sk-test-123456"})
    _, env = ClaudeRuntime(home=ws.settings.home).prepare(request)
    # The SDK starts the CLI with os.environ overlaid by this env: check what the agent gets.
    effective = {**os.environ, **env}
    assert _leaks(effective) == []
    ws.close()


def test_a_codex_agents_environment_has_no_token_nor_stagent_home(
    token_workspace: Workspace, tmp_path: Path
) -> None:
    ws = token_workspace
    dirs = TaskDirs.for_task(tmp_path / "codex-state", "tsk_1")
    env = child_env(dirs=dirs, provider=Provider(), api_key="sk-test-123456", extra={})
    assert _leaks(env) == []
    ws.close()


async def test_no_rule_lets_an_agent_fetch_the_token(workspace: Workspace) -> None:
    from approvaltools import request, running_task

    workspace.rules.apply_preset("full-auto")  # Bash and Read allowed outright
    task = running_task(workspace)
    token_file = workspace.owner_token_path
    calls = [
        request(task, "Bash", command=f"cat {token_file}"),
        request(task, "Read", file_path=str(token_file)),
        request(task, "Bash", command=f"curl -H 'Authorization: Bearer {workspace.owner_token()}'"),
    ]
    for call in calls:
        decision = await workspace.gate.decide(call)
        assert not decision.allowed and decision.decided_by == "Stagent's self-approval protection"
    assert (await workspace.gate.decide(request(task, "Bash", command="ls"))).allowed
