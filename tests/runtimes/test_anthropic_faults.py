"""The anthropic runtime when the provider fails: statuses, retries, broken streams, the ledger.

What a person sees is the run's last event (its message and whether a retry may help) and, in
the ledger, what the provider served. Each case is a scripted turn of the Messages API server
(`ModelTurn.error`, `TurnError.retry_after`, `ModelTurn.stream_fault`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_fixtures import TEST_KEY, TestGate, collect, no_secret_in, offline_env_fixture  # noqa: F401

from stagent.domain.events import ErrorEvent, ResultEvent, TextEvent, UsageEvent
from stagent.domain.ledger import LedgerFilter
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.anthropic_api import STREAM_CUT, AnthropicRuntime
from stagent.runtimes.base import RunRequest
from stagent.testing.anthropic_server import DELTA_CHARS, AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook
from stagent.workspace import Workspace

TEXT = "The answer is forty-two, and here is why it matters so much. " * 3
USAGE = {
    "input_tokens": 1234,
    "output_tokens": 56,
    "cache_write_tokens": 300,
    "cache_write_1h_tokens": 100,
    "cache_read_tokens": 789,
}


def _turn(name: str, **turn: Any) -> ModelScript:
    return ModelScript.model_validate({"name": name, "turns": [turn]})


def _error(name: str, status: int, message: str, **fields: Any) -> ModelScript:
    return _turn(name, error={"status": status, "message": message, **fields})


SCRIPTS = [
    _turn("text", text=TEXT, usage=USAGE),
    _error("e401", 401, "invalid x-api-key"),
    _error("e403", 403, "Your API key does not have permission to use the specified resource."),
    _error("e404", 404, "model: claude-nonexistent-9"),
    _error("e429", 429, "Number of request tokens has exceeded your rate limit", retry_after=1),
    _error("e529", 529, "Overloaded"),
    _turn("cut", text=TEXT, usage=USAGE, stream_fault="cut"),
    _turn("garbage", text=TEXT, usage=USAGE, stream_fault="garbage"),
    _turn("overloaded", text=TEXT, usage=USAGE, stream_fault="overloaded"),
]


@pytest.fixture(name="server")
def server_fixture(offline_env: None) -> Iterator[AnthropicScriptServer]:
    with AnthropicScriptServer(ScriptBook(SCRIPTS)) as server:
        yield server


def _env(server: AnthropicScriptServer) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": TEST_KEY}


async def _events(server: AnthropicScriptServer, scenario: str, **config: Any) -> list[Any]:
    runtime = AnthropicRuntime(env=_env(server), max_retries=0)
    request = RunRequest(task_id="t-1", prompt=f"SCENARIO:{scenario} go", config=config)
    return await collect(await runtime.start(request, TestGate()))


@pytest.mark.parametrize(
    ("scenario", "expected", "retryable"),
    [
        (
            "e403",
            "Anthropic API error 403 (permission_error): Your API key does not have permission",
            False,
        ),
        ("e404", "Anthropic API error 404 (not_found_error): model: claude-nonexistent-9", False),
        ("e529", "Anthropic API error 529 (overloaded_error): Overloaded", True),
    ],
)
async def test_a_refused_call_says_status_type_and_the_providers_words(
    server: AnthropicScriptServer, scenario: str, expected: str, retryable: bool
) -> None:
    [error] = await _events(server, scenario)

    assert isinstance(error, ErrorEvent) and error.message.startswith(expected)
    assert error.retryable is retryable
    assert len(server.requests) == 1 and no_secret_in([error])


async def test_a_429_is_retried_after_the_time_its_retry_after_asks(
    server: AnthropicScriptServer,
) -> None:
    [error] = await _events(server, "e429", max_retries=1)

    first, second = server.requests  # the run's one retry, then the error
    assert second["at"] - first["at"] >= 1.0  # the header's second, not the client's backoff
    assert isinstance(error, ErrorEvent) and error.retryable
    assert error.message == (
        "Anthropic API error 429 (rate_limit_error): "
        "Number of request tokens has exceeded your rate limit"
    )


async def test_a_refused_key_is_not_retried_however_many_retries_are_allowed(
    server: AnthropicScriptServer,
) -> None:
    [error] = await _events(server, "e401", max_retries=2)

    assert isinstance(error, ErrorEvent) and not error.retryable
    assert "401 (authentication_error)" in error.message
    assert len(server.requests) == 1


async def test_a_stream_cut_mid_message_fails_the_run_instead_of_passing_half_an_answer(
    server: AnthropicScriptServer,
) -> None:
    events = await _events(server, "cut")

    text, usage, error = events
    assert text == TextEvent(text=TEXT[:DELTA_CHARS])  # what had arrived is shown
    # The call was served: its input as the stream's start reported it is booked.
    assert isinstance(usage, UsageEvent) and usage.input_tokens == 1234
    assert usage.cache_read_tokens == 789 and (usage.request_id or "").startswith("anthropic:")
    assert error == ErrorEvent(message=STREAM_CUT, retryable=True)
    assert not [e for e in events if isinstance(e, ResultEvent)]


async def test_a_malformed_stream_event_is_a_retryable_provider_error_without_a_traceback(
    server: AnthropicScriptServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="stagent")
    events = await _events(server, "garbage")

    assert [type(e) for e in events] == [TextEvent, UsageEvent, ErrorEvent]
    error = events[-1]
    assert error.message.startswith("the Anthropic API sent a malformed stream event (")
    assert error.retryable
    assert not caplog.records  # a provider's fault, not Stagent's: nothing logged as a crash


async def test_an_overloaded_error_mid_stream_is_retryable_and_says_so(
    server: AnthropicScriptServer,
) -> None:
    events = await _events(server, "overloaded")

    assert [type(e) for e in events] == [TextEvent, UsageEvent, ErrorEvent]
    assert events[-1] == ErrorEvent(
        message="Anthropic API error mid-stream (overloaded_error): Overloaded", retryable=True
    )


@pytest.fixture(name="ws")
def workspace_fixture(server: AnthropicScriptServer, tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.temporary(tmp_path / "ws").open()
    ws.runtimes.register(AnthropicRuntime(env=_env(server), max_retries=0))
    ws.start_worker()
    try:
        yield ws
    finally:
        ws.stop_worker()
        ws.close()


def _run(ws: Workspace, scenario: str) -> Task:
    task = ws.tasks.create(TaskDraft(title=f"SCENARIO:{scenario} answer", runtime="anthropic"))
    ws.tasks.run(task.id)
    deadline = time.monotonic() + 60
    while not (task := ws.tasks.get(task.id)).status.is_terminal:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)
    return task


def test_a_completed_run_books_every_token_category_in_the_ledger(ws: Workspace) -> None:
    task = _run(ws, "text")

    assert task.status is TaskStatus.COMPLETED and task.result == TEXT
    [row] = ws.ledger.entries(LedgerFilter(task_id=task.id), holds=False)
    assert (row.runtime, row.model, row.status) == ("anthropic", "claude-sonnet-4-6", "completed")
    tokens = (row.input_tokens, row.output_tokens, row.cache_read_tokens)
    assert tokens == (1234, 56, 789)
    assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (200, 100)
    assert row.cost_source == "computed" and row.cost_micros > 0


def test_a_cut_stream_fails_the_task_says_why_and_books_the_served_input(ws: Workspace) -> None:
    task = _run(ws, "cut")

    assert task.status is TaskStatus.FAILED
    assert task.error is not None and "stream ended before its message did" in task.error
    [row] = ws.ledger.entries(LedgerFilter(task_id=task.id), holds=False)
    assert (row.input_tokens, row.cache_read_tokens) == (1234, 789)
    [error] = [e for e in ws.tasks.events(task.id) if e.kind == "error"]
    assert error.payload["retryable"] is True
