"""Shared pieces for the claude and anthropic runtime tests: scripts, a test gate, the server.

Test modules import the fixtures by name (``from claude_fixtures import anthropic_server, ...``).
Every test that imports ``offline_env`` runs with ``ANTHROPIC_BASE_URL`` pointing at a closed
port on 127.0.0.1 and no key in the process environment, so nothing can reach a real endpoint
by accident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stagent.domain.events import RuntimeEvent
from stagent.runtimes.base import AgentRun, PermissionDecision, PermissionRequest, RunRequest
from stagent.runtimes.claude import ClaudeRuntime
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook
from stagent.workspace import Workspace

TEST_KEY = "sk-ant-test-0123456789abcdef"
MODEL = "claude-sonnet-4-6"
DEAD_URL = "http://127.0.0.1:9"
"""Where ``ANTHROPIC_BASE_URL`` points in the test process: the discard port, nobody listens."""

COLOR = {
    "question": "Which color?",
    "header": "Color",
    "options": [
        {"label": "red", "description": "warm"},
        {"label": "blue", "description": "cool"},
    ],
    "multiSelect": False,
}
TEXT_USAGE = {
    "input_tokens": 1234,
    "output_tokens": 56,
    "cache_write_tokens": 300,
    "cache_write_1h_tokens": 100,
    "cache_read_tokens": 789,
}


def _script(name: str, *turns: dict[str, Any]) -> ModelScript:
    return ModelScript.model_validate({"name": name, "model": MODEL, "turns": list(turns)})


def _write(path: str, content: str) -> dict[str, Any]:
    return {"name": "Write", "input": {"file_path": path, "content": content}}


SCRIPTS = [
    _script("text", {"text": "Hello from the scripted model.", "usage": TEXT_USAGE}),
    _script(
        "write",
        {
            "text": "Looking first.",
            "tool": {"name": "Bash", "input": {"command": "echo looked", "description": "look"}},
            "usage": {"input_tokens": 100, "output_tokens": 10},
        },
        {
            "tool": _write("hello.txt", "hi there"),
            "usage": {"input_tokens": 200, "output_tokens": 20},
        },
        {"text": "Wrote it.", "echo_tool_results": True, "usage": {"input_tokens": 300}},
    ),
    _script(
        "twice",
        {"tool": {"name": "Bash", "input": {"command": "touch ticked.txt"}}},
        {"tool": {"name": "Bash", "input": {"command": "touch ticked.txt"}}},
        {"text": "Ticked twice.", "echo_tool_results": True},
    ),
    _script(
        "ask",
        {"tool": {"name": "AskUserQuestion", "input": {"questions": [COLOR]}}},
        {"text": "Thanks.", "echo_tool_results": True},
    ),
    _script("slow", {"text": "finally", "delay": 60}),
    _script(
        "resume",
        {"text": "Step one.", "tool": _write("step.txt", "1"), "usage": {"input_tokens": 111}},
        {"text": "Resumed.", "echo_tool_results": True, "usage": {"input_tokens": 222}},
    ),
    _script("e401", {"error": {"status": 401, "message": "invalid x-api-key"}}),
    _script("e429", {"error": {"status": 429, "message": "Number of requests exceeded"}}),
    _script("e500", {"error": {"status": 500, "message": "Internal server error"}}),
]


@pytest.fixture(name="offline_env")
def offline_env_fixture(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real endpoint or key in the test process's environment."""
    monkeypatch.setenv("ANTHROPIC_BASE_URL", DEAD_URL)
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(name="anthropic_server")
def anthropic_server_fixture(offline_env: None) -> Iterator[AnthropicScriptServer]:
    """The scripted Messages API on a free port, with the scripts above."""
    with AnthropicScriptServer(ScriptBook(SCRIPTS)) as server:
        yield server


def server_env(server: AnthropicScriptServer) -> dict[str, str]:
    """A run's env for the scripted server: loopback endpoint, fake key, no CLI retries."""
    return {
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": TEST_KEY,
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }


def claude_workspace(
    server: AnthropicScriptServer, tmp_path: Path, preset: str | None = None
) -> Iterator[Workspace]:
    """A workspace whose worker runs claude tasks against ``server`` (with the rules of
    ``preset``, if given); the worker is stopped and the workspace closed afterwards."""
    ws = Workspace.temporary(tmp_path / "ws").open()
    if preset is not None:
        ws.rules.apply_preset(preset)
    ws.runtimes.register(ClaudeRuntime(home=ws.settings.home, env=server_env(server)))
    ws.start_worker()
    try:
        yield ws
    finally:
        ws.stop_worker()
        ws.close()


def claude_request(
    server: AnthropicScriptServer, scenario: str, tmp_path: Path, **fields: Any
) -> RunRequest:
    """A run of ``scenario`` with the home and working directory under ``tmp_path``."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    config = dict(fields.pop("config", {}))
    fields.setdefault("stagent_home", str(tmp_path / "home"))
    return RunRequest(
        task_id=fields.pop("task_id", "task-1"),
        prompt=f"SCENARIO:{scenario} please do the thing",
        working_directory=str(work),
        config=config,
        env=server_env(server),
        **fields,
    )


Decide = Callable[[PermissionRequest], PermissionDecision | Awaitable[PermissionDecision]]


class TestGate:
    """A `PermissionGate` that records every request and answers with ``decide`` (allow)."""

    __test__ = False

    def __init__(self, decide: Decide | None = None) -> None:
        self.requests: list[PermissionRequest] = []
        self._decide = decide

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        """Record, then answer."""
        self.requests.append(request)
        if self._decide is None:
            return PermissionDecision(allowed=True, decided_by="test")
        answer = self._decide(request)
        return await answer if isinstance(answer, Awaitable) else answer

    def tools(self) -> list[str]:
        """The tools asked about, in order."""
        return [request.tool for request in self.requests]


async def collect(run: AgentRun, timeout: float = 60) -> list[RuntimeEvent]:
    """All events of a run (failing the test if it takes longer than ``timeout``)."""

    async def drain() -> list[RuntimeEvent]:
        return [event async for event in run.events()]

    return await asyncio.wait_for(drain(), timeout)


async def start_claude(request: RunRequest, gate: TestGate | None = None) -> AgentRun:
    """Start a run on a fresh `ClaudeRuntime`."""
    return await ClaudeRuntime().start(request, gate or TestGate())


def process_gone(pid: int, timeout: float = 30.0) -> bool:
    """True once ``pid`` no longer exists (or is a zombie nobody will run again)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


async def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``check`` until it holds (failing after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for a condition")
        await asyncio.sleep(0.05)


def no_secret_in(events: list[RuntimeEvent]) -> bool:
    """True when the test key appears in no event."""
    return all(TEST_KEY not in repr(event) for event in events)


__all__ = [
    "COLOR",
    "MODEL",
    "TEST_KEY",
    "TEXT_USAGE",
    "TestGate",
    "anthropic_server_fixture",
    "claude_request",
    "collect",
    "no_secret_in",
    "offline_env_fixture",
    "process_gone",
    "server_env",
    "start_claude",
    "wait_for",
]
