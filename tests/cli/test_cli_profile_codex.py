"""`stagent profile test` on the real Codex binary against the scripted OpenAI server: the
researcher's instructions are Codex's developer instructions and its run gets the read-only
sandbox (it has no file-writing tool). Slow: spawns ``codex app-server``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from clitools import Cli
from test_cli_profile import _Always

from stagent.testing.openai_server import ScriptedOpenAIServer

pytestmark = pytest.mark.slow


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(
        _Always("Every claim needs a source, cited with its date.")
    ) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-codex-0123456789abcdef")
        yield server


def test_researcher_smoke_test_on_codex(cli: Cli, model: ScriptedOpenAIServer) -> None:
    outcome = cli.json("profile", "test", "researcher", "--runtime", "codex")
    assert outcome["passed"] is True, outcome
    sent = [r for r in model.requests if r.get("path", "").rstrip("/").endswith("/responses")]
    assert sent, "codex called the model"
    text = json.dumps(sent[0]["input"])
    assert "# Researcher" in text, "the profile's instructions reached the model"
    assert re.search(r"`sandbox_mode` is `read-only`", text), "the run got the read-only sandbox"
