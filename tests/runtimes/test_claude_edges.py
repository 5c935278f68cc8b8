"""The claude runtime at its edges, on the real bundled Claude Code CLI: a run that reaches its
turn limit, a health probe against an endpoint nobody answers, a CLI that cannot start."""

from __future__ import annotations

from pathlib import Path

import pytest
from claude_fixtures import (  # noqa: F401
    DEAD_URL,
    TEST_KEY,
    TestGate,
    anthropic_server_fixture,
    claude_request,
    collect,
    no_secret_in,
    offline_env_fixture,
    start_claude,
)

from stagent.domain.events import ErrorEvent, ToolResultEvent, UsageEvent
from stagent.runtimes.base import RunRequest
from stagent.runtimes.claude import ClaudeRuntime
from stagent.testing.anthropic_server import AnthropicScriptServer

pytestmark = pytest.mark.slow

UNREACHABLE = {
    "ANTHROPIC_BASE_URL": DEAD_URL,
    "ANTHROPIC_API_KEY": TEST_KEY,
    "CLAUDE_CODE_MAX_RETRIES": "0",
}


async def test_a_run_that_reaches_its_turn_limit_ends_with_the_clis_reason(
    anthropic_server: AnthropicScriptServer, tmp_path: Path
) -> None:
    request = claude_request(anthropic_server, "write", tmp_path, max_turns=1)
    events = await collect(await start_claude(request))

    error = events[-1]
    assert isinstance(error, ErrorEvent) and not error.retryable
    assert error.message == "error_max_turns: Reached maximum number of turns (1)"
    # The first turn's command ran and its call is booked; the second turn never came.
    assert [r.output for r in events if isinstance(r, ToolResultEvent)] == ["looked"]
    assert len([e for e in events if isinstance(e, UsageEvent)]) == 1
    assert not (tmp_path / "work" / "hello.txt").exists()
    assert len(anthropic_server.requests) == 1


async def test_a_health_probe_against_an_endpoint_nobody_answers_says_the_call_failed(
    offline_env: None, tmp_path: Path
) -> None:
    runtime = ClaudeRuntime(home=tmp_path / "home", env=UNREACHABLE)
    health = await runtime.health(probe=True)
    assert not health.ok
    assert health.summary.startswith("a trivial call failed: ")
    assert "Connection refused" in health.summary
    assert health.credentials == "ANTHROPIC_API_KEY" and TEST_KEY not in repr(health)
    assert (await runtime.health()).ok  # without the probe nothing is called


async def test_a_cli_that_cannot_start_fails_the_run_and_names_it(
    offline_env: None, tmp_path: Path
) -> None:
    missing = tmp_path / "no-claude-here"
    runtime = ClaudeRuntime(home=tmp_path / "home", env=UNREACHABLE, cli_path=missing)
    work = tmp_path / "work"
    work.mkdir()
    request = RunRequest(
        task_id="t", prompt="hi", working_directory=str(work), stagent_home=str(tmp_path / "h")
    )
    events = await collect(await runtime.start(request, TestGate()))

    [error] = events
    assert isinstance(error, ErrorEvent) and not error.retryable
    assert str(missing) in error.message  # the sandbox's or the SDK's words, with the path
    assert no_secret_in(events)
    health = await runtime.health()
    assert not health.ok and health.summary.startswith(f"Claude Code CLI not found at {missing}")
