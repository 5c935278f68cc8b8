"""Redaction where values are copied into artifacts (Codex TOML, hooks), one finding per
secret, and what a re-scan does when a file turns into something else."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from scantools import scan_files

from stagent.scanner import Locations, Scanner
from stagent.scanner.secrets import REDACTED
from stagent.testing.scan_trees import write

KEY = "sk-ant-api03-" + "Zq8" * 12
P = "work/p"


def test_codex_subagent_values_are_shown_redacted(tmp_path: Path) -> None:
    report = scan_files(
        tmp_path,
        {
            f"{P}/AGENTS.md": "# p\n",
            f"{P}/.codex/agents/ops.toml": f'name = "ops"\nmodel = "gpt-6"\n'
            f'developer_instructions = "Deploy with {KEY} when asked"\n',
        },
    )
    agent = next(a for a in report.artifacts if a.category == "subagent")
    assert agent.metadata["model"] == "gpt-6"
    assert agent.metadata["developer_instructions"] == f"Deploy with {REDACTED} when asked"
    secret = [f for f in report.findings if f.kind == "plaintext-secret"]
    assert [(f.line, f.severity) for f in secret] == [(3, "error")]
    assert KEY not in report.model_dump_json()


def test_managed_requirements_lists_are_redacted_too(tmp_path: Path) -> None:
    system = tmp_path / "etc" / "codex"
    write(
        system / "requirements.toml",
        f'allowed_approval_policies = ["on-request", "{KEY}"]\nnote = "{KEY}"\n',
    )
    report = scan_files(tmp_path, {}, codex_system=system)
    req = next(a for a in report.artifacts if a.category == "requirements")
    assert req.metadata["allowed_approval_policies"] == ["on-request", REDACTED]
    assert req.metadata["note"] == REDACTED
    assert len([f for f in report.findings if f.kind == "plaintext-secret"]) == 2


def test_a_secret_in_a_front_matter_hook_is_one_finding(tmp_path: Path) -> None:
    report = scan_files(
        tmp_path,
        {
            f"{P}/AGENTS.md": "# p\n",
            f"{P}/.claude/skills/ship/SKILL.md": "---\nname: ship\ndescription: Ship.\nhooks:\n"
            "  Stop:\n    - hooks:\n        - type: command\n"
            f"          command: notify --key {KEY}\n---\nShip.\n",
        },
    )
    hook = next(a for a in report.artifacts if a.category == "hook")
    assert hook.metadata["command"] == f"notify --key {REDACTED}"
    secret = [f for f in report.findings if f.kind == "plaintext-secret"]
    assert [f.line for f in secret] == [8]


def test_a_secret_in_a_settings_hook_names_the_event(tmp_path: Path) -> None:
    report = scan_files(
        tmp_path,
        {
            f"{P}/AGENTS.md": "# p\n",
            f"{P}/.claude/settings.json": {
                "hooks": {
                    "PreToolUse": [
                        {
                            "matcher": "Bash",
                            "hooks": [{"type": "command", "command": f"guard {KEY}"}],
                        }
                    ]
                }
            },
        },
    )
    secret = [f for f in report.findings if f.kind == "plaintext-secret"]
    assert len(secret) == 1
    assert "PreToolUse hook's command" in secret[0].message
    assert secret[0].line == 9
    hook = next(a for a in report.artifacts if a.category == "hook")
    assert hook.metadata["command"] == f"guard {REDACTED}"


def test_settings_that_are_not_an_object_are_marked_invalid(tmp_path: Path) -> None:
    report = scan_files(tmp_path, {"home/.claude/settings.json": "[1, 2]\n"})
    settings = next(a for a in report.artifacts if a.category == "settings")
    assert settings.metadata == {"valid": False}
    assert [f.kind for f in report.findings] == ["invalid-file"]


def test_a_file_turned_into_a_folder_and_back_on_rescan(tmp_path: Path) -> None:
    project = tmp_path / "p"
    write(project / "AGENTS.md", "# p\n")
    mcp = write(project / ".mcp.json", json.dumps({"mcpServers": {"a": {"command": "npx"}}}))
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    assert [a.name for a in scanner.scan([project]).artifacts if a.category == "mcp-server"] == [
        "a"
    ]
    mcp.unlink()
    mcp.mkdir()
    assert [a for a in scanner.scan([project]).artifacts if a.category == "mcp-server"] == []
    mcp.rmdir()
    write(mcp, json.dumps({"mcpServers": {"b": {"command": "npx"}}}))
    assert [a.name for a in scanner.scan([project]).artifacts if a.category == "mcp-server"] == [
        "b"
    ]


def test_a_file_that_grows_while_unchanged_in_mtime_is_read_whole(tmp_path: Path) -> None:
    project = tmp_path / "p"
    doc = write(project / "AGENTS.md", "# p\n")
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    first = next(a for a in scanner.scan([project]).artifacts if a.category == "instruction")
    before = doc.stat()
    doc.write_text("# p\n\nMore rules.\n", encoding="utf-8")
    os.utime(doc, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime, new size
    second = next(a for a in scanner.scan([project]).artifacts if a.category == "instruction")
    assert second.size == len("# p\n\nMore rules.\n") != first.size
    assert second.content_hash != first.content_hash


def test_memory_and_managed_settings_that_appear_later_are_found(tmp_path: Path) -> None:
    project = tmp_path / "work" / "app"
    write(project / "AGENTS.md", "# app\n")
    managed = tmp_path / "etc" / "claude-code"
    loc = replace(
        Locations.from_env({"HOME": str(tmp_path / "home")}),
        claude_managed=managed,
        codex_system=tmp_path / "etc" / "codex",
    )
    scanner = Scanner(loc)
    assert [a.category for a in scanner.scan([project]).artifacts] == ["instruction"]
    encoded = "".join(c if c.isalnum() else "-" for c in str(project))
    write(tmp_path / "home" / ".claude" / "projects" / encoded / "memory" / "MEMORY.md", "- x\n")
    write(managed / "managed-settings.json", {"model": "opus"})
    write(tmp_path / "etc" / "codex" / "config.toml", 'model = "gpt-6"\n')
    found = {(a.scope, a.category) for a in scanner.scan([project]).artifacts}
    assert found == {
        ("project", "instruction"),
        ("project", "memory"),
        ("managed", "settings"),
        ("managed", "config"),
    }
