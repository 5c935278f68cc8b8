"""The claude runtime's parts that need no CLI: env, rules, usage deltas, the event channel,
health, and the guard that test runs only ever talk to 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from claude_agent_sdk import PermissionUpdate
from claude_agent_sdk.types import PermissionRuleValue
from claude_fixtures import (  # noqa: F401
    TEST_KEY,
    anthropic_server_fixture,
    claude_request,
    offline_env_fixture,
    server_env,
)

from stagent.domain.events import TextEvent
from stagent.runtimes._claude_channel import EventChannel
from stagent.runtimes._claude_env import RunPaths, build_env, credentials_source, redact
from stagent.runtimes._claude_permissions import session_updates, suggested_rule
from stagent.runtimes._claude_stream import UsageLedger, totals, usage_deltas
from stagent.runtimes.anthropic_api import AnthropicRuntime
from stagent.runtimes.claude import ClaudeRuntime, bundled_cli
from stagent.testing.anthropic_server import AnthropicScriptServer


def test_the_env_built_for_tests_points_only_at_loopback(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    request = claude_request(anthropic_server, "text", tmp_path)
    paths, env = ClaudeRuntime().prepare(request)

    assert urlparse(env["ANTHROPIC_BASE_URL"]).hostname == "127.0.0.1"
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "0"
    assert env["HOME"] == str(paths.home) and env["CLAUDE_CONFIG_DIR"] == str(paths.config)
    assert paths.root == tmp_path / "home" / "runs" / "task-1" / "claude"
    anthropic_env = AnthropicRuntime(env=server_env(anthropic_server)).resolve_env()
    assert urlparse(anthropic_env["ANTHROPIC_BASE_URL"]).hostname == "127.0.0.1"
    # Even with nothing set, the test process itself points nowhere but loopback.
    assert urlparse(AnthropicRuntime().resolve_env()["ANTHROPIC_BASE_URL"]).hostname == "127.0.0.1"


def test_without_a_key_the_cli_keeps_its_own_login(tmp_path: Path) -> None:
    paths = RunPaths.for_task(tmp_path, "t")
    env = build_env({}, paths, max_retries=2, base_env={"HOME": "/home/u"})
    assert "HOME" not in env and "CLAUDE_CONFIG_DIR" not in env and "ANTHROPIC_API_KEY" not in env
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2"
    keyed = build_env({}, paths, max_retries=2, base_env={"ANTHROPIC_AUTH_TOKEN": "tok-123456789"})
    assert keyed["ANTHROPIC_AUTH_TOKEN"] == "tok-123456789" and keyed["HOME"] == str(paths.home)
    opted_in = build_env({"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "0"}, paths, max_retries=1)
    assert opted_in["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "0"


def test_task_ids_cannot_escape_the_runs_directory(tmp_path: Path) -> None:
    paths = RunPaths.for_task(tmp_path, "../../etc")
    assert paths.root.resolve().is_relative_to((tmp_path / "runs").resolve())


def test_credentials_are_named_never_shown(tmp_path: Path) -> None:
    assert credentials_source({"ANTHROPIC_API_KEY": TEST_KEY}) == "ANTHROPIC_API_KEY"
    assert credentials_source({"CLAUDE_CONFIG_DIR": str(tmp_path)}) is None
    (tmp_path / ".credentials.json").write_text("{}")
    assert credentials_source({"CLAUDE_CONFIG_DIR": str(tmp_path)}) == "Claude Code login"
    assert redact(f"bad key {TEST_KEY}!", [TEST_KEY]) == "bad key ***!"


def test_always_allow_rules_stay_in_the_session_and_never_change_the_mode() -> None:
    bash = [
        PermissionUpdate(
            "addRules",
            [PermissionRuleValue("Bash", "npm test *")],
            "allow",
            destination="localSettings",
        ),  # fmt: skip
        PermissionUpdate("addDirectories", directories=["/w"], destination="session"),
    ]
    assert suggested_rule("Bash", bash) == "Bash(npm test *)"
    updates = session_updates("Bash(npm test *)", bash)
    assert [u.type for u in updates] == ["addRules", "addDirectories"]
    assert {u.destination for u in updates} == {"session"}

    write = [PermissionUpdate("setMode", mode="acceptEdits", destination="session")]
    assert suggested_rule("Write", write) == "Write"
    [rule] = session_updates("Write", write)
    assert rule.type == "addRules" and rule.rules == [PermissionRuleValue("Write", None)]
    assert suggested_rule("Bash", []) is None and session_updates(None, []) == []
    assert suggested_rule("AskUserQuestion", []) is None


def test_usage_is_reported_as_differences_of_a_process_totals() -> None:
    first = {"m": {"inputTokens": 100, "outputTokens": 10, "cacheReadInputTokens": 5,
                   "cacheCreationInputTokens": 30, "cacheCreationEphemeral1hInputTokens": 20,
                   "thinkingTokens": 3, "costUSD": 0.5}}  # fmt: skip
    [event] = usage_deltas("s1", {}, first)
    assert (event.input_tokens, event.cache_write_tokens, event.cache_write_1h_tokens) == (
        100,
        30,
        20,
    )
    assert (event.reasoning_tokens, event.cost_usd) == (3, 0.5)
    before = {"m": totals(first["m"])}
    later = {"m": {**first["m"], "inputTokens": 150, "costUSD": 0.75}, "other": {"outputTokens": 2}}
    events = usage_deltas("s1", before, later)
    assert [(e.model, e.input_tokens, e.output_tokens, e.cost_usd) for e in events] == [
        ("m", 50, 0, 0.25),
        ("other", 0, 2, None),
    ]
    assert usage_deltas("s1", before, first) == []  # nothing new: nothing reported
    [named] = usage_deltas("s3", {}, first, "result-uuid")
    assert named.request_id == "claude:s3:result-uuid:m"  # one result is booked once


def test_staged_usage_survives_a_dead_process_until_it_is_confirmed(tmp_path: Path) -> None:
    ledger = UsageLedger(tmp_path / "usage.json")
    usages = usage_deltas("s1", {}, {"m": {"inputTokens": 100, "costUSD": 0.5}}, "r1")
    ledger.stage("s1", usages)
    again = UsageLedger(tmp_path / "usage.json")  # the next process of the session
    assert again.unconfirmed("s1") == usages  # the same request ids: booked once
    assert again.unconfirmed("s2") == []
    assert again.unconfirmed() == usages  # any session of the run (a resume may start anew)
    again.confirm("s1")
    assert ledger.unconfirmed("s1") == []
    (tmp_path / "old.json").write_text('{"s1": {"m": {"inputTokens": 5}}}')  # an older file
    assert UsageLedger(tmp_path / "old.json").unconfirmed("s1") == []


def test_a_damaged_staged_usage_file_keeps_what_it_can_read(tmp_path: Path) -> None:
    """A file cut short or edited by hand: the next process re-reports what it can read and
    starts no differently otherwise (nothing raises, nothing is invented)."""
    good = usage_deltas("s1", {}, {"m": {"inputTokens": 7}}, "r1")
    path = tmp_path / "usage.json"
    path.write_text('{"staged": {"s1": [')  # cut short mid-write
    assert UsageLedger(path).unconfirmed() == []
    mixed = {
        "staged": {
            "s1": [
                {"model": "m", "input_tokens": 7, "request_id": good[0].request_id},
                {"model": "m", "no_such_field": 1},
                "junk",
            ],
            "s2": "junk",
        }
    }
    path.write_text(json.dumps(mixed))
    assert UsageLedger(path).unconfirmed() == good
    UsageLedger(path).confirm()
    assert UsageLedger(path).unconfirmed() == []


def test_a_resumed_process_starts_from_the_cost_state_its_transcript_holds(
    tmp_path: Path,
) -> None:
    transcripts = tmp_path / "projects"
    (transcripts / "-work").mkdir(parents=True)
    lines = [
        {"type": "user", "sessionId": "s1"},
        {"type": "cost-state", "sessionId": "s1", "modelUsage": {"m": {"inputTokens": 100}}},
        {"type": "cost-state", "sessionId": "s1", "modelUsage": {"m": {"inputTokens": 250}}},
        {"type": "assistant", "sessionId": "s1"},
    ]
    (transcripts / "-work" / "s1.jsonl").write_text(
        "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    )
    ledger = UsageLedger(tmp_path / "usage.json", transcripts)
    assert ledger.restored("s1")["m"]["inputTokens"] == 250  # the last clean exit's totals
    assert ledger.restored("s2") == {}  # a killed process wrote none: the next starts at zero
    assert UsageLedger(tmp_path / "usage.json").restored("s1") == {}


async def test_the_channel_hands_over_events_only_when_the_consumer_took_them() -> None:
    channel = EventChannel()
    taken: list[str] = []

    async def produce() -> None:
        await channel.emit(TextEvent("a"), wait=True)
        taken.append("a delivered")
        await channel.emit(TextEvent("b"))
        channel.finish()

    producer = asyncio.create_task(produce())
    async for event in channel.stream():
        assert isinstance(event, TextEvent)
        taken.append(event.text)
    await producer
    assert taken == ["a", "a delivered", "b"]


async def test_a_consumer_that_stops_releases_a_waiting_producer() -> None:
    channel = EventChannel()
    producer = asyncio.create_task(channel.emit(TextEvent("x"), wait=True))
    stream = channel.stream()
    assert await anext(stream) == TextEvent("x")
    assert isinstance(stream, AsyncGenerator)
    await stream.aclose()
    await asyncio.wait_for(producer, 30)  # released, not left waiting for a reader
    await channel.emit(TextEvent("late"), wait=True)  # returns at once once closed


async def test_health_reports_the_bundled_cli_and_missing_credentials(
    offline_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path))  # no login there
    health = await ClaudeRuntime().health()
    assert bundled_cli() is not None and health.binary == str(bundled_cli())
    assert health.version and "Claude Code" in health.version
    assert not health.ok and "ANTHROPIC_API_KEY" in (health.fix or "")

    keyed = await ClaudeRuntime(env={"ANTHROPIC_API_KEY": TEST_KEY}).health()
    assert keyed.ok and keyed.credentials == "ANTHROPIC_API_KEY" and TEST_KEY not in repr(keyed)
    missing = await ClaudeRuntime(cli_path=tmp_path / "nope").health()
    assert not missing.ok and missing.version is None
