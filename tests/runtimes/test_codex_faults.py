"""The codex runtime (the real binary) when the provider fails: statuses, Retry-After, broken
streams, and what the ledger books.

What a person sees is the run's last event (the provider's words, the status, whether a retry may
help) and, in the ledger, every call the provider served. Each case is a scripted turn of the
Responses API server (`TurnError.retry_after`, `ModelTurn.stream_fault`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from codex_fixtures import MODEL, TEST_KEY, TestGate, collect

from stagent.domain.events import ErrorEvent, ResultEvent, TextEvent, UsageEvent
from stagent.domain.ledger import LedgerFilter
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import RunRequest
from stagent.runtimes.codex import CodexRuntime
from stagent.testing.model_script import ModelScript
from stagent.testing.openai_server import ScriptedOpenAIServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow

TEXT = "The answer is forty-two, and here is why it matters so much. " * 3
USAGE = {"input_tokens": 1000, "cache_read_tokens": 300, "output_tokens": 50, "reasoning_tokens": 8}


def _turn(name: str, **turn: Any) -> ModelScript:
    return ModelScript.model_validate({"name": name, "model": MODEL, "turns": [turn]})


def _error(name: str, status: int, message: str, **fields: Any) -> ModelScript:
    return _turn(name, error={"status": status, "message": message, **fields})


SCRIPTS = [
    _turn("text", text=TEXT, usage=USAGE),
    _error("e403", 403, "You are not allowed to sample from this model"),
    _error("e404", 404, "The model `gpt-9` does not exist or you do not have access to it."),
    _error("e503", 503, "The engine is currently overloaded, please try again later"),
    _error("e429", 429, "Rate limit reached for requests", retry_after=1),
    _turn("cut", text=TEXT, usage=USAGE, stream_fault="cut"),
    _turn("garbage", text=TEXT, usage=USAGE, stream_fault="garbage"),
    _turn("overloaded", text=TEXT, usage=USAGE, stream_fault="overloaded"),
    _turn("cut-once", text=TEXT, usage=USAGE, stream_fault="cut", stream_faults=1),
]


@pytest.fixture(name="server")
def server_fixture(tmp_path: Path) -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(SCRIPTS, log_path=tmp_path / "requests.jsonl") as server:
        yield server


def _runtime(server: ScriptedOpenAIServer, state: Path, retries: int = 0) -> CodexRuntime:
    return CodexRuntime(
        base_url=server.base_url,
        api_key=TEST_KEY,
        model=MODEL,
        state_dir=state,
        request_max_retries=retries,
        stream_max_retries=retries,
        stream_idle_timeout_ms=15_000,
        environ={"PATH": os.environ.get("PATH", os.defpath)},
    )


async def _events(
    server: ScriptedOpenAIServer, tmp_path: Path, scenario: str, retries: int = 0
) -> list[Any]:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    request = RunRequest(
        task_id=scenario, prompt=f"SCENARIO:{scenario}", working_directory=str(work)
    )
    run = await _runtime(server, tmp_path / "state", retries).start(request, TestGate())
    events = await collect(run, timeout=120)
    return [event for event in events if event.kind != "session"]


@pytest.mark.parametrize(
    ("scenario", "status", "words", "retryable"),
    [
        ("e403", 403, "You are not allowed to sample from this model", False),
        ("e404", 404, "The model `gpt-9` does not exist", False),
        ("e503", 503, "The engine is currently overloaded", True),
    ],
)
async def test_a_refused_call_says_the_status_and_the_providers_words(
    server: ScriptedOpenAIServer,
    tmp_path: Path,
    scenario: str,
    status: int,
    words: str,
    retryable: bool,
) -> None:
    [error] = await _events(server, tmp_path, scenario)

    assert isinstance(error, ErrorEvent) and words in error.message
    assert f"HTTP {status}" in error.message and error.retryable is retryable
    assert TEST_KEY not in error.message
    assert [r["status"] for r in server.scripted(scenario)] == [status]  # no retries allowed


async def test_a_429_is_retried_after_its_retry_after_then_fails_retryable(
    server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    [error] = await _events(server, tmp_path, "e429", retries=1)

    first, second = server.scripted("e429")
    assert second["time"] - first["time"] >= 1.0  # the header's second
    assert isinstance(error, ErrorEvent) and error.retryable
    assert "429 Too Many Requests" in error.message and "HTTP 429" in error.message


@pytest.mark.parametrize(
    ("scenario", "why"),
    [
        ("cut", "stream closed before response.completed"),
        ("garbage", "stream closed before response.completed"),
        ("overloaded", "The server is overloaded."),
    ],
)
async def test_a_stream_broken_mid_response_fails_retryable_and_books_the_served_call(
    server: ScriptedOpenAIServer, tmp_path: Path, scenario: str, why: str
) -> None:
    events = await _events(server, tmp_path, scenario)

    text, usage, error = events
    assert isinstance(text, TextEvent) and TEXT.startswith(text.text) and text.text
    # Served, never reported by Codex: booked once, from estimated tokens, marked as such.
    assert isinstance(usage, UsageEvent) and usage.estimated
    assert (usage.request_id or "").endswith(":estimated:1")
    assert isinstance(error, ErrorEvent) and error.retryable
    assert error.message == f"stream disconnected before completion: {why} (other)"
    assert not [event for event in events if isinstance(event, ResultEvent)]


async def test_codex_retries_a_broken_stream_as_told_then_gives_up(
    server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    events = await _events(server, tmp_path, "cut", retries=1)

    assert [r["status"] for r in server.scripted("cut")] == [200, 200]
    assert isinstance(events[-1], ErrorEvent) and events[-1].retryable
    assert "stream disconnected before completion" in events[-1].message
    # Both calls were served, neither reported: each booked once, from estimated tokens.
    usages = [e for e in events if isinstance(e, UsageEvent)]
    assert [u.request_id.rsplit(":", 2)[-2] for u in usages if u.request_id] == [
        "retried",
        "estimated",
    ]
    assert all(u.estimated for u in usages)


async def test_a_broken_stream_codex_retried_is_booked_beside_the_retry_and_shown_once(
    server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    events = await _events(server, tmp_path, "cut-once", retries=1)

    assert [r["status"] for r in server.scripted("cut-once")] == [200, 200]
    assert isinstance(events[-1], ResultEvent) and events[-1].text == TEXT
    assert "".join(e.text for e in events if isinstance(e, TextEvent)) == TEXT  # not twice
    reported, retried = [e for e in events if isinstance(e, UsageEvent)]
    assert reported.estimated is None and reported.input_tokens == 1000
    # The broken call had the same prompt: booked with the retry's counts, marked estimated.
    assert retried.estimated and "stream broke" in retried.estimated
    tokens = (retried.input_tokens, retried.cache_read_tokens, retried.output_tokens)
    assert tokens == (1000, 300, 50)
    assert (retried.request_id or "").endswith(":retried:1.1")


def test_a_completed_run_books_cached_input_apart_in_the_ledger(
    server: ScriptedOpenAIServer, tmp_path: Path
) -> None:
    ws = Workspace.temporary(tmp_path / "ws").open()
    try:
        ws.runtimes.register(_runtime(server, tmp_path / "state"))
        ws.start_worker()
        task = ws.tasks.create(TaskDraft(title="SCENARIO:text answer", runtime="codex"))
        ws.tasks.run(task.id)
        task = ws.tasks.wait(task.id, timeout=120)

        assert task.status is TaskStatus.COMPLETED, task.error
        [row] = ws.ledger.entries(LedgerFilter(task_id=task.id), holds=False)
        assert (row.runtime, row.model) == ("codex", MODEL)
        # The wire counts cached tokens inside the input; the ledger keeps them apart.
        tokens = (row.input_tokens, row.cache_read_tokens, row.output_tokens)
        assert tokens == (1000, 300, 50) and row.reasoning_tokens == 8
        assert (row.cache_write_5m_tokens, row.cache_write_1h_tokens) == (0, 0)
    finally:
        ws.close()
