"""The claude runtime (the real CLI) when the provider fails: statuses, broken streams, and what
the ledger books per token category.

What a person sees is the run's last event (the CLI's wording, the status, whether a retry may
help) and, in the ledger, the usage the CLI reported. Each case is a scripted turn of the
Messages API server (`ModelTurn.error`, `ModelTurn.stream_fault`).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_fixtures import (  # noqa: F401
    MODEL,
    TEST_KEY,
    claude_request,
    collect,
    no_secret_in,
    offline_env_fixture,
    process_gone,
    server_env,
    start_claude,
    wait_for,
)

from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    SessionEvent,
    UsageEvent,
)
from stagent.domain.ledger import LedgerFilter
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.claude import ClaudeRun, ClaudeRuntime
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow

TEXT = "The answer is forty-two, and here is why it matters so much. " * 3
USAGE = {
    "input_tokens": 1234,
    "output_tokens": 56,
    "cache_write_tokens": 300,
    "cache_write_1h_tokens": 100,
    "cache_read_tokens": 789,
}


def _turn(name: str, **turn: Any) -> ModelScript:
    return ModelScript.model_validate({"name": name, "model": MODEL, "turns": [turn]})


def _error(name: str, status: int, message: str) -> ModelScript:
    return _turn(name, error={"status": status, "message": message})


SCRIPTS = [
    _turn("text", text=TEXT, usage=USAGE),
    _error("e403", 403, "Your API key does not have permission"),
    _error("e404", 404, "model: claude-nonexistent-9"),
    _error("e429", 429, "Number of request tokens has exceeded your rate limit"),
    _error("e529", 529, "Overloaded"),
    _turn("cut", text=TEXT, stream_fault="cut"),
    _turn("overloaded", text=TEXT, stream_fault="overloaded"),
    _turn("slow", text="too late", delay=60),
]


@pytest.fixture(name="server")
def server_fixture(offline_env: None) -> Iterator[AnthropicScriptServer]:
    with AnthropicScriptServer(ScriptBook(SCRIPTS)) as server:
        yield server


@pytest.mark.parametrize(
    ("scenario", "words", "retryable"),
    [
        ("e403", "API Error: 403 Your API key does not have permission", False),
        ("e404", "There's an issue with the selected model", False),
        ("e429", "Number of request tokens has exceeded your rate limit", True),
        ("e529", "API Error: 529 Overloaded", True),
    ],
)
async def test_a_refused_call_says_the_clis_words_and_the_status(
    server: AnthropicScriptServer, tmp_path: Path, scenario: str, words: str, retryable: bool
) -> None:
    events = await collect(await start_claude(claude_request(server, scenario, tmp_path)))

    error = events[-1]
    assert isinstance(error, ErrorEvent) and words in error.message
    assert error.message.endswith(f"(HTTP {scenario[1:]})") and error.retryable is retryable
    assert not [e for e in events if isinstance(e, ResultEvent)] and no_secret_in(events)


@pytest.mark.parametrize("fault", ["cut", "overloaded"])
async def test_a_stream_broken_mid_message_is_asked_again_without_streaming(
    server: AnthropicScriptServer, tmp_path: Path, fault: str
) -> None:
    """The CLI recovers by itself: the run completes with the whole answer, once."""
    events = await collect(await start_claude(claude_request(server, fault, tmp_path)))

    assert [r["stream"] for r in server.requests] == [True, False]
    assert isinstance(events[-1], ResultEvent) and events[-1].text == TEXT
    usages = [e for e in events if isinstance(e, UsageEvent)]
    assert len(usages) == 1 and usages[0].output_tokens > 0


async def test_a_cli_that_dies_mid_turn_fails_retryable_and_says_how_it_ended(
    server: AnthropicScriptServer, tmp_path: Path
) -> None:
    run = await start_claude(claude_request(server, "slow", tmp_path))
    assert isinstance(run, ClaudeRun)
    events: list[RuntimeEvent] = []

    async def consume() -> None:
        events.extend([event async for event in run.events()])

    consumer = asyncio.create_task(consume())
    await wait_for(lambda: len(server.requests) == 1)  # the model is thinking
    pid = run.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)  # an OOM killer, a crash
    await asyncio.wait_for(consumer, timeout=60)

    session, error = events
    assert isinstance(session, SessionEvent)
    # Its session started: a later attempt resumes it (test_claude_runtime's resume test).
    assert isinstance(error, ErrorEvent) and error.retryable is True
    assert error.message.startswith("Claude Code failed: the CLI was killed by SIGKILL")
    assert process_gone(pid)


def test_a_completed_run_books_every_token_category_in_the_ledger(
    server: AnthropicScriptServer, tmp_path: Path
) -> None:
    ws = Workspace.temporary(tmp_path / "ws").open()
    try:
        ws.runtimes.register(ClaudeRuntime(home=ws.settings.home, env=server_env(server)))
        ws.start_worker()
        task = ws.tasks.create(TaskDraft(title="SCENARIO:text answer", runtime="claude"))
        ws.tasks.run(task.id)
        task = ws.tasks.wait(task.id, timeout=120)

        assert task.status is TaskStatus.COMPLETED, task.error
        [row] = ws.ledger.entries(LedgerFilter(task_id=task.id), holds=False)
        asked = server.requests[0]["model"]  # the CLI's default model: the server echoes it
        assert (row.runtime, row.model) == ("claude", asked)
        assert (row.input_tokens, row.output_tokens, row.cache_read_tokens) == (1234, 56, 789)
        assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (200, 100)
        assert row.cost_micros > 0
    finally:
        ws.stop_worker()
        ws.close()
