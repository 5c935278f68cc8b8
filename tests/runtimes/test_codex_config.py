"""The codex runtime's launch plan and protocol mapping, without starting Codex (fast)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from codex_fixtures import TEST_KEY

from stagent.domain.errors import RuntimeUnavailableError, ValidationError
from stagent.domain.events import UsageEvent
from stagent.runtimes import _codex_mapping as mapping
from stagent.runtimes._codex_config import PASSTHROUGH_ENV, render_toml
from stagent.runtimes.base import PermissionDecision, RunRequest
from stagent.runtimes.codex import CodexRuntime

LOCAL = "http://127.0.0.1:43210/v1"
PARENT_ENV = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "OPENAI_API_KEY": "sk-parent-should-not-win",
    "OPENAI_BASE_URL": "https://api.openai.com/v1",
    "ANTHROPIC_API_KEY": "sk-ant-secret",
    "AWS_SECRET_ACCESS_KEY": "aws-secret",
    "CODEX_HOME": "/root/.codex",
    "HOME": "/root",
}


def runtime(tmp_path: Path, **options: object) -> CodexRuntime:
    settings: dict[str, object] = {
        "base_url": LOCAL,
        "api_key": TEST_KEY,
        "model": "gpt-5.5",
        "state_dir": tmp_path / "state",
        "environ": PARENT_ENV,
        **options,
    }
    return CodexRuntime(**settings)  # type: ignore[arg-type]


def task(**fields: object) -> RunRequest:
    return RunRequest(task_id="t-1", prompt="hi", **fields)  # type: ignore[arg-type]


def urls_in(value: object) -> list[str]:
    text = repr(value)
    return re.findall(r"[a-z]+://[^\s'\",]+", text)


def test_guard_everything_the_adapter_builds_points_at_127_0_0_1(tmp_path: Path) -> None:
    plan = runtime(tmp_path).plan(task())
    config_text = (plan.dirs.codex_home / "config.toml").read_text()
    config = tomllib.loads(config_text)
    for url in urls_in(config) + urls_in(plan.env):
        assert urlsplit(url).hostname == "127.0.0.1", url
    assert config["model_providers"]["stagent"]["base_url"] == LOCAL
    assert config["model_provider"] == "stagent"
    # zero egress: no plugin sync, no update check, no endless retries
    assert config["check_for_update_on_startup"] is False
    assert config["features"]["plugins"] is False
    assert config["features"]["unbounded_connection_retries"] is False
    assert "--strict-config" in plan.argv


def test_the_child_environment_is_an_allow_list(tmp_path: Path) -> None:
    plan = runtime(tmp_path).plan(task())
    ours = {"HOME", "CODEX_HOME", "RUST_LOG", "OPENAI_API_KEY"}
    assert set(plan.env) <= set(PASSTHROUGH_ENV) | ours
    assert plan.env["OPENAI_API_KEY"] == TEST_KEY  # the runtime's key, not the parent's
    assert "OPENAI_BASE_URL" not in plan.env
    assert "ANTHROPIC_API_KEY" not in plan.env and "AWS_SECRET_ACCESS_KEY" not in plan.env
    state = tmp_path / "state"
    assert Path(plan.env["CODEX_HOME"]).is_relative_to(state)
    assert Path(plan.env["HOME"]).is_relative_to(state)
    assert TEST_KEY not in (plan.dirs.codex_home / "config.toml").read_text()
    assert TEST_KEY not in repr(plan)


def test_the_endpoint_precedence(tmp_path: Path) -> None:
    bare = CodexRuntime(state_dir=tmp_path, environ=PARENT_ENV)
    assert bare.provider().base_url == "https://api.openai.com/v1"
    assert bare.api_key(bare.provider()) == "sk-parent-should-not-win"
    configured = runtime(tmp_path)
    assert configured.provider().base_url == LOCAL
    request = task(env={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "OPENAI_API_KEY": "sk-run"})
    assert configured.provider(request).base_url == "http://127.0.0.1:1/v1"
    assert configured.api_key(configured.provider(request), request) == "sk-run"
    custom = task(
        config={"provider": {"base_url": "http://127.0.0.1:2/v1", "env_key": "GATEWAY_KEY"}},
        env={"GATEWAY_KEY": "gw"},
    )
    provider = configured.provider(custom)
    assert (provider.base_url, provider.env_key) == ("http://127.0.0.1:2/v1", "GATEWAY_KEY")
    plan = configured.plan(custom)
    assert plan.env["GATEWAY_KEY"] == "gw" and "OPENAI_API_KEY" not in plan.env


def test_bad_options_are_refused_with_the_field(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="sandbox"):
        runtime(tmp_path).plan(task(config={"sandbox": "yolo"}))
    with pytest.raises(ValidationError, match="unknown keys"):
        runtime(tmp_path).plan(task(config={"provider": {"base_url": LOCAL, "model": "x"}}))
    with pytest.raises(ValidationError, match="working directory"):
        runtime(tmp_path).plan(task(working_directory=str(tmp_path / "missing")))
    with pytest.raises(RuntimeUnavailableError, match="no API key") as info:
        CodexRuntime(state_dir=tmp_path, environ={"PATH": "/bin"}).plan(task())
    assert info.value.hint and "OPENAI_API_KEY" in info.value.hint
    with pytest.raises(RuntimeUnavailableError, match="binary"):
        runtime(tmp_path, codex_path="/nowhere/codex").plan(task())


def test_a_base_url_that_is_not_http_is_refused_with_where_it_came_from(tmp_path: Path) -> None:
    """Codex takes any text as its provider's URL and fails each model call of the run later."""
    options = {"provider": {"base_url": "ftp://127.0.0.1/v1"}}
    with pytest.raises(ValidationError, match=r"^codex provider\.base_url: 'ftp://"):
        runtime(tmp_path).plan(task(config=options))
    exported = CodexRuntime(
        state_dir=tmp_path,
        api_key=TEST_KEY,
        environ={**PARENT_ENV, "OPENAI_BASE_URL": "localhost:1"},
    )
    with pytest.raises(RuntimeUnavailableError) as refused:
        exported.plan(task())
    assert refused.value.message == "codex: OPENAI_BASE_URL: 'localhost:1' is not an http(s) URL"
    assert refused.value.hint == (
        "set OPENAI_BASE_URL to the provider's API root (https://api.openai.com/v1 or "
        "http://127.0.0.1:8080/v1), or unset it for OpenAI's"
    )
    with pytest.raises(RuntimeUnavailableError, match="^codex: base_url: 'http://' names no host"):
        runtime(tmp_path, base_url="http://").plan(task())


def test_a_resumed_attempt_keeps_the_threads_state(tmp_path: Path) -> None:
    codex = runtime(tmp_path)
    first = codex.plan(task())
    marker = first.dirs.codex_home / "sessions" / "kept"
    marker.parent.mkdir(parents=True)
    marker.write_text("x")
    resumed = codex.plan(task(session_id="thread-1", attempt=2))
    assert resumed.resume_thread == "thread-1" and marker.exists()
    fresh = codex.plan(task(session_id="thread-1", attempt=1))
    assert fresh.resume_thread is None and not marker.exists()


def test_toml_rendering_round_trips_awkward_values() -> None:
    data = {"a": 'quote " and \\ and \n é', "b": [1, "x"], "t": {"k.x": {"n": True}}}
    assert tomllib.loads(render_toml(data)) == data


def test_commands_are_unwrapped_from_the_login_shell() -> None:
    assert mapping.inner_command("/bin/bash -lc 'touch a && ls'") == "touch a && ls"
    assert mapping.inner_command("git status") == "git status"
    data, rule = mapping.command_permission(
        {
            "command": "/bin/bash -lc 'npm test -- -x'",
            "proposedExecpolicyAmendment": ["npm", "test"],
        }
    )
    assert data["command"] == "npm test -- -x" and rule == "Bash(npm test:*)"


def test_file_changes_are_write_or_edit() -> None:
    add = [{"path": "/w/a.txt", "kind": {"type": "add"}, "diff": "hi\n"}]
    assert mapping.file_change_call(add) == ("Write", {"file_path": "/w/a.txt", "content": "hi\n"})
    update = [{"path": "/w/a.txt", "kind": {"type": "update"}, "diff": "@@"}]
    tool, data = mapping.file_change_call(update)
    assert tool == "Edit" and data["file_path"] == "/w/a.txt"


def test_decisions_map_onto_codex_decisions() -> None:
    def decide(**fields: object) -> str:
        decision = PermissionDecision(**fields)  # type: ignore[arg-type]
        return str(mapping.command_decision(decision)["decision"])

    assert decide(allowed=True) == "accept"
    assert decide(allowed=True, always=True) == "acceptForSession"
    assert decide(allowed=False) == "decline"
    assert decide(allowed=False, interrupt=True) == "cancel"


def test_answers_by_question_text_or_id() -> None:
    params = {
        "questions": [{"id": "q1", "question": "Color?"}, {"id": "size", "question": "Size?"}]
    }
    answered = PermissionDecision(
        allowed=True, updated_input={"answers": {"Color?": "Blue", "size": ["S", "M"]}}
    )
    assert mapping.answers_response(params, answered) == {
        "answers": {"q1": {"answers": ["Blue"]}, "size": {"answers": ["S", "M"]}}
    }
    assert mapping.answers_response(params, PermissionDecision(allowed=False)) == {"answers": {}}


def test_usage_separates_cached_input() -> None:
    params = {
        "tokenUsage": {
            "last": {
                "inputTokens": 1000,
                "cachedInputTokens": 600,
                "outputTokens": 50,
                "reasoningOutputTokens": 20,
            },
            "total": {"inputTokens": 99999},
        }
    }
    assert mapping.usage_event(params, "m") == UsageEvent(
        model="m", input_tokens=400, cache_read_tokens=600, output_tokens=50, reasoning_tokens=20
    )


def test_error_messages_name_the_status() -> None:
    unauthorized = {
        "message": "unexpected status 401 Unauthorized: bad key",
        "codexErrorInfo": {"httpConnectionFailed": {"httpStatusCode": 401}},
    }
    assert mapping.error_message(unauthorized) == (
        "unexpected status 401 Unauthorized: bad key (HTTP 401, httpConnectionFailed)",
        False,
    )
    message, retryable = mapping.error_message(
        {"message": "busy", "codexErrorInfo": "internalServerError"}
    )
    assert message == "busy (HTTP 500, internalServerError)" and retryable
    offline = {
        "message": "Connection failed",
        "codexErrorInfo": {"httpConnectionFailed": {"httpStatusCode": None}},
    }
    assert mapping.error_message(offline)[1] is True
