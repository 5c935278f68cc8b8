"""The anthropic runtime against the scripted Messages API server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from claude_fixtures import (  # noqa: F401
    TEST_KEY,
    TestGate,
    anthropic_server_fixture,
    collect,
    no_secret_in,
    offline_env_fixture,
    wait_for,
)

from stagent.domain.errors import RuntimeUnavailableError
from stagent.domain.events import ErrorEvent, ResultEvent, RuntimeEvent, TextEvent, UsageEvent
from stagent.runtimes.anthropic_api import AnthropicRuntime
from stagent.runtimes.base import RunRequest
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook

LONG = "Lorem ipsum dolor sit amet. " * 40


def _runtime(server: AnthropicScriptServer) -> AnthropicRuntime:
    env = {"ANTHROPIC_BASE_URL": server.url, "ANTHROPIC_API_KEY": TEST_KEY}
    return AnthropicRuntime(env=env, max_retries=0)


def _request(scenario: str, **fields: Any) -> RunRequest:
    return RunRequest(task_id="t-1", prompt=f"SCENARIO:{scenario} go", **fields)


async def test_streams_text_then_usage_with_every_category_then_the_result(
    anthropic_server: AnthropicScriptServer,
) -> None:
    runtime = _runtime(anthropic_server)
    run = await runtime.start(_request("text", instructions="Be brief."), TestGate())
    events = await collect(run)

    assert [type(e) for e in events] == [TextEvent, UsageEvent, ResultEvent]
    assert events[0] == TextEvent(text="Hello from the scripted model.")
    usage = events[1]
    assert isinstance(usage, UsageEvent)
    assert usage == UsageEvent(
        model="claude-sonnet-4-6",
        input_tokens=1234,
        output_tokens=56,
        cache_write_tokens=300,
        cache_write_1h_tokens=100,
        cache_read_tokens=789,
        request_id=usage.request_id,
    )
    assert (usage.request_id or "").startswith("anthropic:msg_")  # the message's own id
    assert events[2] == ResultEvent(text="Hello from the scripted model.")
    [call] = anthropic_server.requests
    assert call["stream"] is True and call["tools"] == [] and call["system"] == "Be brief."
    assert runtime.capabilities.tools is False and runtime.capabilities.resume is False


async def test_long_text_arrives_in_chunks_that_add_up(tmp_path: Path) -> None:
    book = ScriptBook([ModelScript.model_validate({"name": "long", "turns": [{"text": LONG}]})])
    with AnthropicScriptServer(book) as server:
        run = await _runtime(server).start(_request("long", model="claude-opus-5-5"), TestGate())
        events = await collect(run)
    texts = [e.text for e in events if isinstance(e, TextEvent)]
    assert "".join(texts) == LONG
    assert 1 < len(texts) < len(LONG) // 40  # the server's deltas, coalesced
    assert isinstance(events[-1], ResultEvent) and events[-1].text == LONG
    assert server.requests[0]["model"] == "claude-opus-5-5"


@pytest.mark.parametrize(
    ("scenario", "expected", "retryable"),
    [
        ("e401", "Anthropic API error 401 (authentication_error): invalid x-api-key", False),
        ("e429", "Anthropic API error 429 (rate_limit_error): Number of requests exceeded", True),
        ("e500", "Anthropic API error 500 (api_error): Internal server error", True),
    ],
)
async def test_provider_errors_carry_status_type_and_message(
    anthropic_server: AnthropicScriptServer, scenario: str, expected: str, retryable: bool
) -> None:
    events = await collect(await _runtime(anthropic_server).start(_request(scenario), TestGate()))

    assert events == [ErrorEvent(message=expected, retryable=retryable)]
    assert len(anthropic_server.requests) == 1
    assert no_secret_in(events)


async def test_an_unreachable_endpoint_is_a_retryable_error(offline_env: None) -> None:
    runtime = AnthropicRuntime(env={"ANTHROPIC_API_KEY": TEST_KEY}, max_retries=0)
    [error] = await collect(await runtime.start(_request("text"), TestGate()))
    assert isinstance(error, ErrorEvent) and error.retryable
    assert error.message.startswith("could not reach the Anthropic API at http://127.0.0.1:9")


async def test_cancel_closes_the_stream_promptly(anthropic_server: AnthropicScriptServer) -> None:
    run = await _runtime(anthropic_server).start(_request("slow"), TestGate())
    events: list[RuntimeEvent] = []

    async def consume() -> None:
        events.extend([event async for event in run.events()])

    consumer = asyncio.create_task(consume())
    await wait_for(lambda: len(anthropic_server.requests) == 1)
    await run.cancel()
    # Ended well before the scenario's 60 s delay, with nothing streamed: the stream was closed.
    await asyncio.wait_for(consumer, timeout=30)
    assert events == []


async def test_no_credentials_is_a_clear_error(offline_env: None) -> None:
    with pytest.raises(RuntimeUnavailableError, match="no credentials"):
        await AnthropicRuntime().start(_request("text"), TestGate())
    health = await AnthropicRuntime().health()
    assert not health.ok and "ANTHROPIC_API_KEY" in (health.fix or "")


async def test_health_names_the_credential_source_and_probes_when_asked(
    anthropic_server: AnthropicScriptServer,
) -> None:
    runtime = _runtime(anthropic_server)
    health = await runtime.health()
    assert health.ok and health.credentials == "ANTHROPIC_API_KEY"
    assert TEST_KEY not in repr(health)
    probed = await runtime.health(probe=True)
    assert probed.ok and "a trivial call succeeded" in probed.summary
    assert anthropic_server.requests[-1]["path"] == "/v1/messages"

    broken = AnthropicRuntime(env={"ANTHROPIC_API_KEY": TEST_KEY}, max_retries=0)
    failed = await broken.health(probe=True)
    assert not failed.ok and "could not reach" in failed.summary
