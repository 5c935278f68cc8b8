"""Shared pieces for the codex runtime tests: scripts, a test gate, the server and runtime.

Test modules import the fixtures by their function names (``*_fixture``); pytest knows them
by their ``name`` (``openai_server``, ``codex``, ``workdir``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stagent.domain.events import RuntimeEvent
from stagent.runtimes.base import AgentRun, PermissionDecision, PermissionRequest
from stagent.runtimes.codex import CodexRuntime
from stagent.testing.model_script import ModelScript
from stagent.testing.openai_server import ScriptedOpenAIServer

TEST_KEY = "sk-test-codex-0123456789abcdef"
MODEL = "gpt-5.5"
"""A slug from Codex 0.163.0's catalog: only catalog models are offered ``apply_patch``."""

COLOR_QUESTION = {
    "question": "Pick a color?",
    "header": "Color",
    "options": [
        {"label": "Red", "description": "warm"},
        {"label": "Blue", "description": "cool"},
    ],
    "multiSelect": False,
}


def _script(name: str, *turns: dict[str, Any]) -> ModelScript:
    return ModelScript.model_validate({"name": name, "model": MODEL, "turns": list(turns)})


SCRIPTS = [
    _script(
        "text",
        {
            "text": "Hello from the scripted model.",
            "usage": {
                "input_tokens": 1234,
                "cache_read_tokens": 200,
                "output_tokens": 56,
                "reasoning_tokens": 7,
            },
        },
    ),
    _script(
        "command",
        {
            "text": "Creating the file.",
            "tool": {"name": "Bash", "input": {"command": "echo made-by-codex > made.txt"}},
            "usage": {"input_tokens": 300, "cache_read_tokens": 100, "output_tokens": 20},
        },
        {
            "text": "Done.",
            "echo_tool_results": True,
            "usage": {"input_tokens": 400, "cache_read_tokens": 50, "output_tokens": 9},
        },
    ),
    _script(
        "write",
        {"tool": {"name": "Write", "input": {"file_path": "notes.txt", "content": "one\ntwo"}}},
        {"text": "Wrote it.", "echo_tool_results": True},
    ),
    _script(
        "twice",
        {"tool": {"name": "Bash", "input": {"command": "echo tick >> ticks.txt"}}},
        {"tool": {"name": "Bash", "input": {"command": "echo tick >> ticks.txt"}}},
        {"text": "Ticked twice.", "echo_tool_results": True},
    ),
    _script(
        "ask",
        {"tool": {"name": "AskUserQuestion", "input": {"questions": [COLOR_QUESTION]}}},
        {"text": "You chose:", "echo_tool_results": True},
    ),
    _script("slow", {"text": "too late", "delay": 60}),
    _script(
        "resume",
        {"text": "Step one.", "tool": {"name": "Bash", "input": {"command": "echo one > one.txt"}}},
        {"text": "Finished after resuming.", "echo_tool_results": True},
    ),
    _script("env", {"tool": {"name": "Bash", "input": {"command": "env"}}}, {"text": "ok"}),
    _script("e401", {"error": {"status": 401, "message": "Incorrect API key provided: sk-te***"}}),
    _script("e500", {"error": {"status": 500, "message": "The server had an error"}}),
]

Decider = Callable[[PermissionRequest], PermissionDecision]
HANG = object()
"""A gate answer that never comes (until the run is stopped)."""


def allow(request: PermissionRequest) -> PermissionDecision:
    """Allow once, answering questions with "Blue"."""
    if request.tool == "AskUserQuestion":
        return PermissionDecision(
            allowed=True, decided_by="test", updated_input={"answers": {"Pick a color?": "Blue"}}
        )
    return PermissionDecision(allowed=True, decided_by="test")


class TestGate:
    """A `PermissionGate` that answers from a list (then ``default``) and records requests."""

    __test__ = False

    def __init__(self, *answers: PermissionDecision | Decider | object, default: Decider = allow):
        self.requests: list[PermissionRequest] = []
        self._answers = list(answers)
        self._default = default
        self.asked = asyncio.Event()

    async def decide(self, request: PermissionRequest) -> PermissionDecision:
        self.requests.append(request)
        self.asked.set()
        answer = self._answers.pop(0) if self._answers else self._default
        if answer is HANG:
            await asyncio.Event().wait()
        if isinstance(answer, PermissionDecision):
            return answer
        assert callable(answer)
        return answer(request)  # type: ignore[no-any-return]


@pytest.fixture(name="openai_server")
def openai_server_fixture(tmp_path: Path) -> Iterator[ScriptedOpenAIServer]:
    """The scripted Responses API on 127.0.0.1 with the test scripts, logging to a file."""
    with ScriptedOpenAIServer(SCRIPTS, log_path=tmp_path / "requests.jsonl") as server:
        yield server


def make_runtime(server: ScriptedOpenAIServer, state_dir: Path, **options: Any) -> CodexRuntime:
    """A runtime pointed at ``server`` with no retries, reading no real environment."""
    return CodexRuntime(
        base_url=server.base_url,
        api_key=TEST_KEY,
        model=MODEL,
        state_dir=state_dir,
        request_max_retries=0,
        stream_max_retries=0,
        stream_idle_timeout_ms=15_000,
        environ={"PATH": os.environ.get("PATH", os.defpath)},
        **options,
    )


@pytest.fixture(name="codex")
def codex_fixture(openai_server: ScriptedOpenAIServer, tmp_path: Path) -> CodexRuntime:
    """The codex runtime pointed at the scripted server."""
    return make_runtime(openai_server, tmp_path / "codex-state")


@pytest.fixture(name="workdir")
def workdir_fixture(tmp_path: Path) -> Path:
    """The task's working directory."""
    path = tmp_path / "work"
    path.mkdir()
    return path


async def collect(run: AgentRun, timeout: float = 30) -> list[RuntimeEvent]:
    """Every event of a run (failing the test if it does not end in time)."""

    async def gather() -> list[RuntimeEvent]:
        return [event async for event in run.events()]

    return await asyncio.wait_for(gather(), timeout)


def process_gone(pid: int) -> bool:
    """True when neither the process nor its process group exists any more."""
    for probe in (os.kill, os.killpg):
        try:
            probe(pid, 0)
        except ProcessLookupError:
            continue
        return False
    return True


async def wait_for(predicate: Callable[[], bool], timeout: float = 60) -> None:
    """Poll ``predicate`` until it holds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
