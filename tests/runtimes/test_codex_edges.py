"""The codex runtime at its edges, on the real Codex binary against the scripted server: a
thread that cannot be resumed, a permission gate that fails, a provider's own query parameters
and headers, a configured program that is not Codex."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from codex_fixtures import (  # noqa: F401 (fixtures)
    TEST_KEY,
    TestGate,
    codex_fixture,
    collect,
    make_runtime,
    openai_server_fixture,
    workdir_fixture,
)

from stagent.domain.errors import ValidationError
from stagent.domain.events import ErrorEvent, ResultEvent, SessionEvent, ToolResultEvent
from stagent.runtimes.base import PermissionDecision, PermissionRequest, RunRequest
from stagent.runtimes.codex import CodexRuntime
from stagent.testing.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.slow

GONE_THREAD = "019b0000-0000-7000-8000-000000000000"


def request(scenario: str, workdir: Path, **fields: object) -> RunRequest:
    return RunRequest(
        task_id=f"task-{scenario}",
        prompt=f"SCENARIO:{scenario} please",
        working_directory=str(workdir),
        **fields,  # type: ignore[arg-type]
    )


async def test_a_resume_whose_thread_is_gone_starts_a_new_thread_on_the_task_prompt(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    again = request("text", workdir, session_id=GONE_THREAD, attempt=2)
    events = await collect(await codex.start(again, TestGate()))

    session = events[0]
    assert isinstance(session, SessionEvent) and session.session_id != GONE_THREAD
    assert events[-1] == ResultEvent(text="Hello from the scripted model.")
    [call] = openai_server.scripted("text")
    # A new thread is asked the task itself, not to "continue" a conversation it never had.
    assert any("SCENARIO:text" in text for text in call["user_texts"])
    assert not any("Continue where you left off" in text for text in call["user_texts"])


async def test_a_gate_that_fails_declines_the_command_and_tells_the_model(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    def broken(request: PermissionRequest) -> PermissionDecision:
        raise RuntimeError("the inbox database is gone")

    events = await collect(await codex.start(request("command", workdir), TestGate(default=broken)))

    assert not (workdir / "made.txt").exists()
    [result] = [e for e in events if isinstance(e, ToolResultEvent)]
    assert result.is_error and result.output == "denied: the permission check failed"
    assert "inbox database" not in result.output  # the internal error stays in the log
    assert isinstance(events[-1], ResultEvent)  # the run goes on, without the command
    told = openai_server.scripted("command")[-1]["user_texts"]
    assert "[Stagent] Bash was denied: the permission check failed" in told


async def test_a_providers_query_parameters_and_headers_reach_it(
    codex: CodexRuntime, workdir: Path, openai_server: ScriptedOpenAIServer
) -> None:
    provider = {
        "base_url": openai_server.base_url,
        "query_params": {"api-version": "2026-01-01"},
        "http_headers": {"X-Team": "ops"},
    }
    run = await codex.start(request("text", workdir, config={"provider": provider}), TestGate())
    events = await collect(run)

    assert isinstance(events[-1], ResultEvent), events[-1]
    [call] = openai_server.scripted("text")
    assert call["path"].endswith("/responses?api-version=2026-01-01")
    assert call["x_headers"]["x-team"] == "ops"


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("query_params", "api-version=2026-01-01", "must map names to text"),
        ("http_headers", {"X-Retries": 3}, "the value of 'X-Retries' must be text, not a number"),
        ("http_headers", ["X-Team: ops"], "must map names to text"),
        ("http_headers", {"X-Key": "sk-1\r\nX-Evil: 1"}, "the value of 'X-Key' contains a line"),
    ],
)
def test_a_provider_setting_codex_would_reject_is_refused_before_it_starts(
    codex: CodexRuntime,
    workdir: Path,
    openai_server: ScriptedOpenAIServer,
    key: str,
    value: object,
    says: str,
) -> None:
    # Codex's --strict-config exits at start on these (exit code 1, retryable): every retry of
    # the run would fail the same way. Refused with the field instead, before any process.
    provider = {"base_url": openai_server.base_url, key: value}
    with pytest.raises(ValidationError, match=f"codex provider.{key}: {says}") as caught:
        codex.plan(request("text", workdir, config={"provider": provider}))
    assert "sk-1" not in caught.value.message


@pytest.mark.parametrize(
    ("program", "says"),
    [
        ("/bin/false", "`/bin/false --version` failed (exit code 1)"),
        ("/bin/echo", "/bin/echo is not the Codex CLI (its --version says"),
    ],
)
async def test_health_names_a_configured_program_that_is_not_codex(
    tmp_path: Path, program: str, says: str
) -> None:
    runtime = CodexRuntime(
        codex_path=program, api_key=TEST_KEY, state_dir=tmp_path, environ={"PATH": os.defpath}
    )
    health = await runtime.health()
    assert not health.ok
    assert health.binary == program
    assert health.summary.startswith(says), health.summary


AT_START = (
    "a retry would fail the same way: `stagent doctor` checks the Codex binary and Stagent's "
    "configuration for it"
)


async def test_a_configured_program_that_is_not_codex_fails_the_run_with_its_exit(
    openai_server: ScriptedOpenAIServer, workdir: Path, tmp_path: Path
) -> None:
    """It exits before ``initialize``: every attempt would end the same way, so the error is
    not retryable (it was, and a later attempt met the same exit)."""
    runtime = make_runtime(openai_server, tmp_path / "state", codex_path="/bin/false")
    events = await collect(await runtime.start(request("text", workdir), TestGate()))
    [error] = events
    assert isinstance(error, ErrorEvent) and not error.retryable
    assert error.message == f"codex app-server exited before it started (exit code 1); {AT_START}"


async def test_an_app_server_that_exits_at_start_says_its_stderr_and_leaves_no_state(
    openai_server: ScriptedOpenAIServer, workdir: Path, tmp_path: Path
) -> None:
    program = tmp_path / "codex-that-fails"
    program.write_text(
        "#!/bin/sh\necho 'starting' >&2\n"
        "echo 'Error: unknown configuration field sandbox_workspace_write' >&2\nexit 3\n"
    )
    program.chmod(0o755)
    state = tmp_path / "state"
    runtime = make_runtime(openai_server, state, codex_path=str(program))
    [error] = await collect(await runtime.start(request("text", workdir), TestGate()))
    assert isinstance(error, ErrorEvent) and not error.retryable
    assert error.message == (
        "codex app-server exited before it started (exit code 3): Error: unknown configuration "
        f"field sandbox_workspace_write; {AT_START}"
    )
    assert not (state / "tasks" / "task-text" / "codex-home").exists()  # nothing to resume
