"""Every profile field, on every runtime: it reaches the run's options or the profile is refused.

The contract is `stagent.profiles.support.FIELD_SUPPORT`; this walks the whole table so a field
that a runtime silently ignores cannot come back.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from profile_files import write_profile

from stagent.domain.errors import ValidationError
from stagent.profiles.loader import load_profile
from stagent.profiles.options import run_options
from stagent.profiles.support import FIELD_SUPPORT, RUNTIMES

BASE = """id: {id}
name: Field Probe
version: 1.0.0
domain: work
tags: [probe]
supportedRuntimes: [RUNTIME]
tests:
  - task: Say hello.
    expectedKeywords: [hello]
"""

MODEL = {"claude": "claude-sonnet-4-6", "anthropic": "claude-sonnet-4-6", "codex": "gpt-5-codex"}

# field -> (the YAML that sets it, the run-option key and value it must produce on claude)
SNIPPETS: dict[str, tuple[str, str, object]] = {
    "allowedTools": ("allowedTools: [Read, Grep]\n", "tools", ["Read", "Grep", "AskUserQuestion"]),
    "canUseToolPolicy": (
        "canUseToolPolicy:\n  autoDeny: [WebFetch]\n",
        "tool_policy",
        {"auto_approve": [], "auto_deny": ["WebFetch"]},
    ),
    "maxTurns": ("maxTurns: 7\n", "max_turns", 7),
    "maxBudgetUsd": ("maxBudgetUsd: 0.25\n", "max_budget_usd", 0.25),
    "mcpServers": (
        "mcpServers:\n  files: {command: srv}\n",
        "mcp_servers",
        {"files": {"command": "srv"}},
    ),
}

CASES = [
    (field, runtime, runtime in FIELD_SUPPORT[field]) for field in SNIPPETS for runtime in RUNTIMES
]


def test_the_matrix_covers_every_optional_field() -> None:
    assert set(FIELD_SUPPORT) == {*SNIPPETS, "instructions", "model"}


@pytest.mark.parametrize(("field", "runtime", "honoured"), CASES)
def test_a_field_takes_effect_or_is_refused_at_its_line(
    tmp_path: Path, field: str, runtime: str, honoured: bool
) -> None:
    snippet, key, value = SNIPPETS[field]
    spec = BASE.replace("RUNTIME", runtime) + snippet
    folder = write_profile(tmp_path, "probe", spec=spec)
    if not honoured:
        with pytest.raises(ValidationError) as info:
            load_profile(folder, "user")
        assert f"profile.yaml:10: {field}: has no effect on {runtime}" in info.value.message
        return
    options = run_options(load_profile(folder, "user"), runtime)
    if runtime == "claude":
        assert options[key] == value
    else:  # codex honours tool fields through the gate, not through Claude's tool list
        assert "tools" not in options and "max_turns" not in options
        assert options["tool_policy"]["auto_deny"], options
        if field == "allowedTools":
            assert options["sandbox"] == "read-only"
            assert "Write" in options["tool_policy"]["auto_deny"]
        else:
            assert options["tool_policy"]["auto_deny"] == ["WebFetch"]


@pytest.mark.parametrize("field", ["maxTurns", "maxBudgetUsd", "mcpServers"])
def test_a_claude_only_field_moved_under_the_claude_override_stays_off_codex(
    tmp_path: Path, field: str
) -> None:
    snippet, key, value = SNIPPETS[field]
    nested = "".join(f"    {line}\n" for line in snippet.splitlines())
    spec = BASE.replace("RUNTIME", "claude, codex") + "runtimeOverrides:\n  claude:\n" + nested
    profile = load_profile(write_profile(tmp_path, "probe", spec=spec), "user")
    assert run_options(profile, "claude")[key] == value
    assert key not in run_options(profile, "codex")


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_model_and_instructions_reach_every_runtime(tmp_path: Path, runtime: str) -> None:
    spec = BASE.replace("RUNTIME", runtime) + f"model: {MODEL[runtime]}\n"
    profile = load_profile(write_profile(tmp_path, "probe", spec=spec), "user")
    options = run_options(profile, runtime)
    assert options["model"] == MODEL[runtime]
    assert options["instructions"].startswith("# Reviewer")


def test_an_unclaimed_runtime_is_refused_when_a_run_asks_for_it(tmp_path: Path) -> None:
    profile = load_profile(
        write_profile(tmp_path, "probe", spec=BASE.replace("RUNTIME", "codex")), "user"
    )
    with pytest.raises(ValidationError, match="does not support the claude runtime"):
        run_options(profile, "claude")
