"""The claude runtime, driven directly: the real bundled Claude Code CLI against the scripted
Anthropic server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from claude_fixtures import (  # noqa: F401
    TEXT_USAGE,
    TestGate,
    anthropic_server_fixture,
    claude_request,
    collect,
    no_secret_in,
    offline_env_fixture,
    process_gone,
    start_claude,
    wait_for,
)

from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    SessionEvent,
    TextEvent,
    ToolRequestEvent,
    ToolResultEvent,
    UsageEvent,
)
from stagent.runtimes.base import PermissionDecision, PermissionRequest
from stagent.runtimes.claude import ClaudeRun
from stagent.testing.anthropic_server import AnthropicScriptServer

pytestmark = pytest.mark.slow


def _of(events: list[RuntimeEvent], kind: type[Any]) -> list[Any]:
    return [event for event in events if isinstance(event, kind)]


async def test_a_text_run_streams_session_text_exact_usage_and_result(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    request = claude_request(anthropic_server, "text", tmp_path, instructions="ALWAYS-BE-BRIEF")
    events = await collect(await start_claude(request))

    assert [type(e) for e in events] == [SessionEvent, TextEvent, UsageEvent, ResultEvent]
    assert events[1] == TextEvent(text="Hello from the scripted model.")
    assert events[-1] == ResultEvent(text="Hello from the scripted model.")
    usage = events[2]
    assert isinstance(usage, UsageEvent)
    assert (usage.input_tokens, usage.output_tokens) == (1234, 56)
    assert (usage.cache_write_tokens, usage.cache_write_1h_tokens) == (300, 100)
    assert usage.cache_read_tokens == TEXT_USAGE["cache_read_tokens"]
    assert usage.cost_usd is not None and usage.cost_usd > 0
    [call] = anthropic_server.requests
    assert call["stream"] is True and call["auth"] == "x-api-key"
    assert "ALWAYS-BE-BRIEF" in call["system"]  # appended to the claude_code preset
    assert "Claude Code" in call["system"]
    assert no_secret_in(events)


async def test_an_approved_write_really_writes_and_every_call_is_seen_and_gated(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    gate = TestGate()
    events = await collect(
        await start_claude(claude_request(anthropic_server, "write", tmp_path), gate)
    )

    assert (tmp_path / "work" / "hello.txt").read_text() == "hi there"
    requests = _of(events, ToolRequestEvent)
    assert [r.tool for r in requests] == ["Bash", "Write"]
    # The read-only Bash call, which Claude Code would run unasked, reached the gate too.
    assert gate.tools() == ["Bash", "Write"]
    assert [g.request_id for g in gate.requests] == [r.request_id for r in requests]
    assert all(g.runtime == "claude" and g.task_id == "task-1" for g in gate.requests)
    results = _of(events, ToolResultEvent)
    assert [(r.tool, r.is_error) for r in results] == [("Bash", False), ("Write", False)]
    assert results[0].output == "looked"
    # Each request is delivered before its result.
    assert events.index(requests[1]) < events.index(results[1])
    [usage] = _of(events, UsageEvent)
    assert (usage.input_tokens, usage.output_tokens) == (600, 35)  # 100+200+300, 10+20+5
    assert isinstance(events[-1], ResultEvent) and "Tool results seen" in events[-1].text


async def test_a_denied_tool_is_not_run_and_the_model_is_told_why(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    def deny_writes(request: PermissionRequest) -> PermissionDecision:
        if request.tool == "Write":
            return PermissionDecision(allowed=False, message="No writing today.", decided_by="t")
        return PermissionDecision(allowed=True)

    run = await start_claude(
        claude_request(anthropic_server, "write", tmp_path), TestGate(deny_writes)
    )
    events = await collect(run)

    assert not (tmp_path / "work" / "hello.txt").exists()
    write_result = _of(events, ToolResultEvent)[-1]
    assert (write_result.tool, write_result.is_error) == ("Write", True)
    assert "No writing today." in write_result.output
    last = anthropic_server.requests[-1]["tool_results"][-1]
    assert last["is_error"] is True and "No writing today." in last["content"]
    assert isinstance(events[-1], ResultEvent) and "- error: No writing today." in events[-1].text


async def test_a_denial_with_interrupt_stops_the_whole_run(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    stop = PermissionDecision(
        allowed=False, message="Stop everything.", interrupt=True, decided_by="alice"
    )
    request = claude_request(anthropic_server, "write", tmp_path)
    events = await collect(await start_claude(request, TestGate(lambda r: stop)))

    assert events[-1] == ErrorEvent(message="stopped when alice denied Bash: Stop everything.")
    assert not _of(events, ResultEvent)
    assert len(anthropic_server.requests) == 1  # the model was not asked again


async def test_always_allow_is_remembered_for_the_session_in_claude_gate_mode(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    gate = TestGate(lambda r: PermissionDecision(allowed=True, always=True, decided_by="person"))
    request = claude_request(anthropic_server, "twice", tmp_path, config={"gate": "claude"})
    run = await start_claude(request, gate)
    events = await collect(run)

    assert (tmp_path / "work" / "ticked.txt").exists()
    assert len(_of(events, ToolRequestEvent)) == 2  # both calls are seen...
    [asked] = gate.requests  # ...the second identical one is not asked again
    assert asked.tool == "Bash" and asked.suggested_rule == "Bash(touch ticked.txt)"
    assert isinstance(run, ClaudeRun)
    [(_, decision)] = run.permissions.decisions
    assert decision.always and decision.decided_by == "person"
    assert not (tmp_path / "work" / ".claude").exists()  # the rule stayed in the session


async def test_a_question_is_answered_through_the_gate(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    def answer(request: PermissionRequest) -> PermissionDecision:
        assert request.tool == "AskUserQuestion"
        assert request.input["questions"][0]["question"] == "Which color?"
        return PermissionDecision(allowed=True, updated_input={"answers": {"Which color?": "blue"}})

    gate = TestGate(answer)
    events = await collect(
        await start_claude(claude_request(anthropic_server, "ask", tmp_path), gate)
    )

    assert gate.tools() == ["AskUserQuestion"]
    told = anthropic_server.requests[-1]["tool_results"][0]
    assert told["is_error"] is False and '"Which color?"="blue"' in told["content"]
    assert isinstance(events[-1], ResultEvent)


async def test_cancel_mid_turn_stops_promptly_and_leaves_no_child(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    run = await start_claude(claude_request(anthropic_server, "slow", tmp_path))
    assert isinstance(run, ClaudeRun)
    events: list[RuntimeEvent] = []

    async def consume() -> None:
        events.extend([event async for event in run.events()])

    consumer = asyncio.create_task(consume())
    await wait_for(lambda: len(anthropic_server.requests) == 1)  # the model is "thinking"
    pid = run.pid
    assert pid is not None
    await run.cancel()
    # Ended well before the scenario's 60 s delay, with no result: the cancel stopped the turn.
    await asyncio.wait_for(consumer, timeout=30)

    assert process_gone(pid)
    assert not _of(events, ResultEvent) and not _of(events, ErrorEvent)


async def test_cancel_while_a_person_is_deciding_ends_the_wait_too(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    asked = asyncio.Event()
    ended = asyncio.Event()

    async def deciding(request: PermissionRequest) -> PermissionDecision:
        asked.set()
        try:
            await asyncio.sleep(3600)
        finally:
            ended.set()
        return PermissionDecision(allowed=True)

    run = await start_claude(
        claude_request(anthropic_server, "write", tmp_path), TestGate(deciding)
    )
    assert isinstance(run, ClaudeRun)
    consumer = asyncio.create_task(collect(run))
    await asyncio.wait_for(asyncio.create_task(asked.wait()), 30)
    pid = run.pid
    await run.cancel()
    events = await asyncio.wait_for(consumer, 30)

    assert pid is not None and process_gone(pid)
    await asyncio.wait_for(asyncio.create_task(ended.wait()), 30)  # the gate's wait was ended
    assert not _of(events, ResultEvent) and not _of(events, ErrorEvent)
    assert not (tmp_path / "work" / "hello.txt").exists()


async def test_a_killed_run_resumes_its_session_on_the_next_attempt(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    never = asyncio.Event()

    async def hang(request: PermissionRequest) -> PermissionDecision:
        await never.wait()  # a person who never answers; then the process dies
        return PermissionDecision(allowed=False)

    first = await start_claude(claude_request(anthropic_server, "resume", tmp_path), TestGate(hang))
    assert isinstance(first, ClaudeRun)
    seen: list[RuntimeEvent] = []
    async for event in first.events():
        seen.append(event)
        if isinstance(event, ToolRequestEvent):
            sid, call = _of(seen, SessionEvent)[0].session_id, event.request_id
            await wait_for(lambda s=sid, c=call: _transcript_has(tmp_path, s, c))
            assert first.pid is not None
            os.kill(first.pid, signal.SIGKILL)  # the process dies mid-run
    [session] = _of(seen, SessionEvent)
    error = seen[-1]  # the first attempt ends as failed, and says a retry may pass
    assert isinstance(error, ErrorEvent) and error.retryable is True
    assert error.message.startswith("Claude Code failed: the CLI was killed by SIGKILL")

    request = claude_request(
        anthropic_server, "resume", tmp_path, session_id=session.session_id, attempt=2
    )
    events = await collect(await start_claude(request))

    assert _of(events, SessionEvent)[0].session_id == session.session_id
    resumed = anthropic_server.requests[-1]
    assert resumed["turn"] == 1
    assert "assistant:tool_use:Write" in resumed["history"]  # the first turn is in the history
    assert isinstance(events[-1], ResultEvent) and events[-1].text.startswith("Resumed.")
    [usage] = _of(events, UsageEvent)
    # The killed attempt never reported its 111 tokens; the CLI's session totals include them
    # only if it saved them before dying (it does on SIGTERM, not on SIGKILL). Never twice.
    assert usage.input_tokens in (222, 333)


async def test_a_resumed_session_reports_only_its_own_usage(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    first = await collect(await start_claude(claude_request(anthropic_server, "text", tmp_path)))
    [session] = _of(first, SessionEvent)
    request = claude_request(
        anthropic_server, "text", tmp_path, session_id=session.session_id, attempt=2
    )
    events = await collect(await start_claude(request))

    assert _of(events, SessionEvent)[0].session_id == session.session_id
    assert len(anthropic_server.requests[-1]["history"]) > 1  # the earlier turn was replayed
    # The SDK's totals are cumulative for the session; each run reports only what it added.
    [before], [after] = _of(first, UsageEvent), _of(events, UsageEvent)
    assert (after.input_tokens, after.output_tokens) == (1234, 56)
    assert after.cache_read_tokens == before.cache_read_tokens
    assert after.cost_usd == pytest.approx(before.cost_usd)


def _transcript_has(tmp_path: Path, session_id: str, text: str) -> bool:
    """True once the CLI has written ``text`` into the session's transcript."""
    files = (tmp_path / "home").glob(f"runs/*/claude/config/projects/*/{session_id}.jsonl")
    return any(text in path.read_text() for path in files)


async def test_a_resume_whose_session_is_gone_starts_afresh(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    missing = "6c0c3a58-1111-4222-8333-444455556666"
    request = claude_request(anthropic_server, "text", tmp_path, session_id=missing, attempt=2)
    events = await collect(await start_claude(request))

    assert _of(events, SessionEvent)[0].session_id != missing
    assert isinstance(events[-1], ResultEvent)
    assert anthropic_server.requests[0]["scenario"] == "text"


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [("e401", "Invalid API key"), ("e500", "API Error: 500 Internal server error")],
)
async def test_provider_errors_surface_with_the_provider_message(
    anthropic_server: AnthropicScriptServer, tmp_path: Path, scenario: str, expected: str
) -> None:
    events = await collect(await start_claude(claude_request(anthropic_server, scenario, tmp_path)))

    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert expected in error.message
    status = scenario[1:]
    assert f"(HTTP {status})" in error.message
    assert error.retryable is (status == "500")
    assert len(anthropic_server.requests) == 1  # CLAUDE_CODE_MAX_RETRIES=0
    assert not _of(events, ResultEvent) and no_secret_in(events)
