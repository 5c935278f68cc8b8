"""`stagent doctor` reports whether each runtime is ready, honestly."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import ClassVar

import pytest
from clitools import Cli

from stagent.cli.doctor import check_all
from stagent.runtimes.base import RuntimeHealth
from stagent.runtimes.registry import RuntimeRegistry
from stagent.runtimes.scripted import ScriptedRuntime
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ModelTurn, ScriptBook

ROOT = Path(__file__).resolve().parents[2]


def test_scripted_runtime_is_always_ready(cli: Cli) -> None:
    result = cli("doctor", "--runtime", "scripted", "--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["ok"] is True
    assert "simulated" in row["summary"]


def test_missing_credentials_are_reported_and_fail_the_check(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    result = cli("doctor", "--runtime", "anthropic", "--json")
    assert result.exit_code == 1
    [row] = json.loads(result.stdout)
    assert row["ok"] is False
    assert "no credentials" in row["summary"]
    assert "ANTHROPIC_API_KEY" in row["fix"]


def test_probe_makes_a_real_call_to_the_configured_endpoint(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = ScriptBook([ModelScript(name="hi", turns=[ModelTurn(text="hi")])])
    with AnthropicScriptServer(book) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-not-a-secret")
        result = cli("doctor", "--runtime", "anthropic", "--probe", "--json")
        calls = len(server.requests)
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["ok"] is True
    assert calls >= 1
    assert "sk-test-not-a-secret" not in result.output


def test_unknown_runtime_is_one_line_error(cli: Cli) -> None:
    result = cli("doctor", "--runtime", "nope")
    assert result.exit_code == 1
    assert "unknown runtime 'nope'" in result.stderr


def test_the_fix_line_is_whole_at_80_columns(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(cli.home / "no-login"))
    monkeypatch.setenv("COLUMNS", "80")
    result = cli("doctor", "--runtime", "claude")
    assert result.exit_code == 1
    text = " ".join(result.stdout.split())  # soft-wrapped lines joined back
    fix = text.split("fix: ", 1)[1].split(" Sandbox: ", 1)[0]  # the sandbox line follows
    assert fix.endswith("/_bundled/claude /login")
    assert "…" not in result.stdout


def test_without_the_codex_extra_doctor_gives_the_install_command(tmp_path: Path) -> None:
    """The Codex binary is an optional extra: installed without it, ``doctor`` says what to run
    (the pin in pyproject.toml's ``codex`` extra), and nothing else breaks."""
    shadow = tmp_path / "shadow" / "codex_cli_bin"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {
        "PATH": "/usr/bin:/bin",  # no `codex` either
        "PYTHONPATH": str(shadow.parent),
        "STAGENT_HOME": str(tmp_path / "home"),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "stagent", "doctor", "--runtime", "codex", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    [row] = json.loads(done.stdout)
    assert row["ok"] is False and "not installed" in row["summary"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [pinned] = extras["optional-dependencies"]["codex"]
    assert row["fix"] == f"{sys.executable} -m pip install {pinned}"
    assert not any(d.startswith("openai-codex-cli-bin") for d in extras["dependencies"])


class _SlowRuntime(ScriptedRuntime):
    """Ready after waiting on an outside process for a while (like ``claude --version``)."""

    name: ClassVar[str] = "aaa-slow"

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        await asyncio.sleep(0.3)
        return RuntimeHealth(self.name, True, "slow but ready")


class _BrokenRuntime(ScriptedRuntime):
    name: ClassVar[str] = "broken"

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        raise OSError("the binary vanished")


def test_runtimes_checked_side_by_side_report_in_name_order() -> None:
    registry = RuntimeRegistry()
    for runtime in (ScriptedRuntime(), _BrokenRuntime(), _SlowRuntime()):
        registry.register(runtime)
    names = registry.names()
    results = check_all(registry, names, probe=False)
    assert [health.runtime for health in results] == ["aaa-slow", "broken", "scripted"]
    assert [health.ok for health in results] == [True, False, True]
    assert "health check failed: the binary vanished" in results[1].summary
