"""The codex runtime, driven directly: the real Codex binary against the scripted server."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from pathlib import Path

import pytest
from codex_fixtures import (  # noqa: F401 (fixtures)
    HANG,
    TEST_KEY,
    TestGate,
    codex_fixture,
    collect,
    make_runtime,
    openai_server_fixture,
    process_gone,
    wait_for,
    workdir_fixture,
)

from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    SessionEvent,
    TextEvent,
    ToolRequestEvent,
    ToolResultEvent,
    UsageEvent,
)
from stagent.runtimes.base import PermissionDecision, RunRequest
from stagent.runtimes.codex import CodexRuntime
from stagent.testing.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.slow


def request(scenario: str, workdir: Path, **fields: object) -> RunRequest:
    return RunRequest(
        task_id=f"task-{scenario}",
        prompt=f"SCENARIO:{scenario} please",
        working_directory=str(workdir),
        **fields,  # type: ignore[arg-type]
    )


async def test_text_only_run(codex: CodexRuntime, workdir: Path) -> None:
    gate = TestGate()
    run = await codex.start(request("text", workdir), gate)
    events = await collect(run)
    kinds = [e.kind for e in events]
    assert kinds == ["session", "text", "usage", "result"]
    assert isinstance(events[0], SessionEvent) and events[0].session_id
    assert events[1] == TextEvent(text="Hello from the scripted model.")
    assert events[-1] == ResultEvent(text="Hello from the scripted model.")
    assert gate.requests == []


async def test_profile_instructions_reach_the_model(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    req = request("text", workdir, instructions="Answer tersely. PROFILE-MARK-7")
    events = await collect(await codex.start(req, TestGate()))
    assert isinstance(events[-1], ResultEvent)
    [sent] = openai_server.scripted("text")
    developer = [
        part["text"]
        for item in sent["input"]
        if item.get("role") == "developer"
        for part in item["content"]
    ]
    assert any("PROFILE-MARK-7" in text for text in developer)


async def test_usage_is_exactly_what_the_server_sent_per_response(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    events = await collect(await codex.start(request("text", workdir), TestGate()))
    [usage] = [e for e in events if isinstance(e, UsageEvent)]
    assert usage.request_id is not None and usage.request_id.startswith("codex:")
    assert dataclasses.replace(usage, request_id=None) == UsageEvent(
        model="gpt-5.5",
        input_tokens=1234,
        cache_read_tokens=200,
        output_tokens=56,
        reasoning_tokens=7,
    )
    events = await collect(await codex.start(request("command", workdir), TestGate()))
    usage_events = [e for e in events if isinstance(e, UsageEvent)]
    usages = [(e.input_tokens, e.cache_read_tokens, e.output_tokens) for e in usage_events]
    assert usages == [(300, 100, 20), (400, 50, 9)]  # per response, never cumulative
    # each response is its own ledger row: a replayed report of one response is booked once
    assert len({e.request_id for e in usage_events}) == 2


async def test_an_approved_command_runs_in_the_task_directory(
    codex: CodexRuntime, workdir: Path
) -> None:
    gate = TestGate()
    events = await collect(await codex.start(request("command", workdir), gate))
    [asked] = gate.requests
    assert (asked.runtime, asked.tool, asked.input["command"]) == (
        "codex",
        "Bash",
        "echo made-by-codex > made.txt",
    )
    assert asked.suggested_rule == "Bash(echo made-by-codex > made.txt)"
    assert (workdir / "made.txt").read_text() == "made-by-codex\n"
    [call] = [e for e in events if isinstance(e, ToolRequestEvent)]
    [result] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert call.tool == "Bash" and call.request_id == asked.request_id == result.request_id
    assert not result.is_error
    assert isinstance(events[-1], ResultEvent) and events[-1].text.startswith("Done.")


async def test_an_approved_file_change_writes_the_file(codex: CodexRuntime, workdir: Path) -> None:
    gate = TestGate()
    events = await collect(await codex.start(request("write", workdir), gate))
    [asked] = gate.requests
    assert asked.tool == "Write"
    assert asked.input["file_path"] == str(workdir.resolve() / "notes.txt")
    assert asked.input["content"] == "one\ntwo\n"
    assert (workdir / "notes.txt").read_text() == "one\ntwo\n"
    assert isinstance(events[-1], ResultEvent)
    assert "Success. Updated the following files" in events[-1].text


async def test_a_denied_command_does_not_run_and_the_model_is_told(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    gate = TestGate(PermissionDecision(allowed=False, message="not in this repo", decided_by="t"))
    events = await collect(await codex.start(request("command", workdir), gate))
    assert not (workdir / "made.txt").exists()
    [result] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result.is_error and result.output == "denied: not in this repo"
    second = openai_server.scripted("command")[-1]
    assert second["turn"] == 1
    assert "rejected by user" in second["tool_results"][0]
    assert "[Stagent] Bash was denied: not in this repo" in second["user_texts"]
    assert isinstance(events[-1], ResultEvent)  # the agent carried on


async def test_always_allow_is_not_asked_again_in_the_thread(
    codex: CodexRuntime, workdir: Path
) -> None:
    gate = TestGate(PermissionDecision(allowed=True, always=True, decided_by="person"))
    events = await collect(await codex.start(request("twice", workdir), gate))
    assert len(gate.requests) == 1
    assert (workdir / "ticks.txt").read_text() == "tick\ntick\n"
    assert [e.tool for e in events if isinstance(e, ToolRequestEvent)] == ["Bash", "Bash"]
    assert isinstance(events[-1], ResultEvent)


async def test_a_question_is_answered_by_the_gate(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    gate = TestGate()
    events = await collect(await codex.start(request("ask", workdir), gate))
    [asked] = gate.requests
    assert asked.tool == "AskUserQuestion"
    question = asked.input["questions"][0]
    assert question["question"] == "Pick a color?"
    assert [o["label"] for o in question["options"]] == ["Red", "Blue"]
    answer = json.loads(openai_server.scripted("ask")[-1]["tool_results"][0])
    assert answer == {"answers": {"q1": {"answers": ["Blue"]}}}
    assert [e.tool for e in events if isinstance(e, ToolResultEvent)] == ["AskUserQuestion"]
    assert isinstance(events[-1], ResultEvent) and "Blue" in events[-1].text


async def test_cancel_mid_turn_ends_promptly_and_the_process_is_gone(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    run = await codex.start(request("slow", workdir), TestGate())
    await wait_for(lambda: bool(openai_server.scripted("slow")))
    pid = run.pid
    assert pid is not None
    started = time.monotonic()
    await run.cancel()
    assert time.monotonic() - started < 30  # the scenario's delay is 60 s
    events = await collect(run)
    assert [e.kind for e in events] == ["session"]  # no result, no error: cancelled
    assert process_gone(pid)


async def test_resume_after_the_process_was_killed(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    gate = TestGate(HANG)
    first = await codex.start(request("resume", workdir), gate)
    await wait_for(lambda: bool(gate.requests))
    assert first.pid is not None
    os.kill(first.pid, signal.SIGKILL)
    events = await collect(first)
    assert isinstance(events[0], SessionEvent)
    thread_id = events[0].session_id
    assert isinstance(events[-1], ErrorEvent) and "exited unexpectedly" in events[-1].message
    assert events[-1].retryable  # it had started: a later attempt resumes the thread

    again = request("resume", workdir, session_id=thread_id, attempt=2)
    events = await collect(await codex.start(again, TestGate()))
    assert events[0] == SessionEvent(session_id=thread_id)
    assert isinstance(events[-1], ResultEvent)
    resumed = openai_server.scripted("resume")[-1]
    # The earlier history is sent again: the prompt, the call the kill cut off (Codex marks
    # it aborted) and our request to continue.
    texts = resumed["user_texts"]
    assert any("SCENARIO:resume" in t for t in texts)
    assert any("Continue where you left off" in t for t in texts)
    calls = [i for i in resumed["input"] if i.get("type") == "function_call"]
    assert [json.loads(c["arguments"])["cmd"] for c in calls] == ["echo one > one.txt"]
    assert resumed["tool_results"] == ["aborted"]
    assert not (workdir / "one.txt").exists()


async def test_provider_401_fails_with_the_providers_message(
    codex: CodexRuntime, workdir: Path
) -> None:
    events = await collect(await codex.start(request("e401", workdir), TestGate()))
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert "401" in error.message and "Incorrect API key provided" in error.message
    assert not error.retryable
    assert TEST_KEY not in error.message


async def test_provider_500_fails_with_codexs_message(codex: CodexRuntime, workdir: Path) -> None:
    events = await collect(await codex.start(request("e500", workdir), TestGate()))
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    # Codex replaces a 500's body with its own text; the status is kept.
    assert "HTTP 500" in error.message and "internalServerError" in error.message
    assert error.retryable


async def test_an_unreachable_provider_fails_fast_and_says_where(
    tmp_path: Path, workdir: Path
) -> None:
    codex = CodexRuntime(
        base_url="http://127.0.0.1:9/v1",  # discard port: nothing listens
        api_key=TEST_KEY,
        model="gpt-5.5",
        state_dir=tmp_path / "state",
        request_max_retries=0,
        stream_max_retries=0,
        environ={"PATH": os.defpath},
    )
    started = time.monotonic()
    events = await collect(await codex.start(request("text", workdir), TestGate()))
    assert time.monotonic() - started < 30  # an error soon, not a hang
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.retryable
    assert "http://127.0.0.1:9/v1 could not be reached" in error.message


async def test_an_unanswered_approval_hits_the_deadline(codex: CodexRuntime, workdir: Path) -> None:
    gate = TestGate(HANG)
    started = time.monotonic()
    run = await codex.start(request("command", workdir, config={"deadline_seconds": 2}), gate)
    events = await collect(run)
    assert time.monotonic() - started >= 2  # the deadline's message below says which ended it
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert "deadline of 2 s" in error.message
    assert "waiting for a decision on Bash" in error.message
    assert not (workdir / "made.txt").exists()
    # The call that asked for the command was served: booked once, reported or estimated.
    assert len([e for e in events if isinstance(e, UsageEvent)]) == 1, events
    assert run.pid is not None and process_gone(run.pid)


async def test_a_provider_that_never_answers_hits_the_deadline(
    codex: CodexRuntime, workdir: Path
) -> None:
    run = await codex.start(request("slow", workdir, config={"deadline_seconds": 1.5}), TestGate())
    events = await collect(run)
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert "deadline of 1.5 s" in error.message and "model provider" in error.message


async def test_an_interrupting_decision_stops_the_run(codex: CodexRuntime, workdir: Path) -> None:
    gate = TestGate(
        PermissionDecision(allowed=False, interrupt=True, message="stop", decided_by="alice")
    )
    events = await collect(await codex.start(request("command", workdir), gate))
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.message == "the run was stopped by alice at Bash: stop"
    assert not (workdir / "made.txt").exists()
    assert len([e for e in events if isinstance(e, UsageEvent)]) == 1, events


async def test_the_api_key_never_reaches_commands(codex: CodexRuntime, workdir: Path) -> None:
    events = await collect(await codex.start(request("env", workdir), TestGate()))
    [result] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert "PATH=" in result.output
    assert TEST_KEY not in result.output and "OPENAI" not in result.output
    assert "CODEX_HOME" not in result.output


async def test_state_is_removed_after_a_completed_run(
    openai_server: ScriptedOpenAIServer, workdir: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    runtime = make_runtime(openai_server, state)
    events = await collect(await runtime.start(request("text", workdir), TestGate()))
    assert isinstance(events[-1], ResultEvent)
    assert not (state / "tasks" / "task-text" / "codex-home").exists()


async def test_health_reports_binary_version_and_credentials(codex: CodexRuntime) -> None:
    health = await codex.health(probe=True)
    assert health.ok, health.summary
    assert health.version == "codex-cli 0.163.0"
    assert health.binary and health.binary.endswith("codex")
    assert health.credentials == "OPENAI_API_KEY (set)"
    assert TEST_KEY not in repr(health)


async def test_health_without_a_key_says_how_to_fix_it(tmp_path: Path) -> None:
    runtime = CodexRuntime(state_dir=tmp_path, environ={"PATH": os.defpath})
    health = await runtime.health()
    assert not health.ok
    assert health.credentials == "OPENAI_API_KEY (missing)"
    assert "OPENAI_API_KEY" in health.summary
