"""`stagent profile test` on the real Claude Code CLI against the scripted Anthropic server: the
profile's instructions reach the system prompt and its tool list is the only tool set the model
is offered (slow: spawns the CLI)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from clitools import Cli
from test_cli_profile import _Always

from stagent.testing.anthropic_server import AnthropicScriptServer

pytestmark = pytest.mark.slow

ANSWER = "It divides by zero on an empty list; and `=` must be `==` in the comparison."


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[AnthropicScriptServer]:
    with AnthropicScriptServer(_Always(ANSWER)) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdef")
        monkeypatch.setenv("CLAUDE_CODE_MAX_RETRIES", "0")
        monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
        monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
        yield server


def test_code_reviewer_smoke_tests_on_the_claude_code_cli(
    cli: Cli, model: AnthropicScriptServer
) -> None:
    outcome = cli.json("profile", "test", "code-reviewer", "--runtime", "claude")
    assert outcome["passed"] is True, outcome
    assert [r["status"] for r in outcome["results"]] == ["completed", "completed"]

    main = [r for r in model.requests if "# Code Reviewer" in str(r.get("system", ""))]
    assert len(main) == 2, "one model request per smoke test carried the profile's instructions"
    for request in main:
        offered = set(request["tools"])
        assert {"Read", "Grep", "Glob", "Bash", "AskUserQuestion"} <= offered
        assert not {"Write", "Edit", "NotebookEdit", "WebFetch", "WebSearch", "Task"} & offered
    shown = cli.json("profile", "show", "code-reviewer")
    assert shown["last_results"][0]["runtime"] == "claude"
