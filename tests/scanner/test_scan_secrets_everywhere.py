"""A secret in any file the scanner reads is reported by kind and place; its value is never in
the report, the stored scan, the logs or the terminal."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from scantools import Files, scan_files

from stagent.scanner import secrets
from stagent.scanner.report import ScanReport
from stagent.workspace import Workspace

P = "work/p"


def _key(n: int) -> str:
    """A distinct shaped secret (an Anthropic API key) per place, so a leak names its place."""
    return f"sk-ant-api03-{n:04d}" + "Q7x" * 10


def _literal(n: int) -> str:
    """A distinct unshaped literal stored under a secret-sounding name."""
    return f"literal{n:04d}value"


PLACES: dict[str, Files] = {
    "mcp-env": {
        "{P}/.mcp.json": {"mcpServers": {"a": {"command": "npx", "env": {"API_KEY": _key(1)}}}}
    },
    "mcp-env-literal": {
        "{P}/.mcp.json": {
            "mcpServers": {"a": {"command": "npx", "env": {"DB_PASSWORD": _literal(2)}}}
        }
    },
    "mcp-headers": {
        "{P}/.mcp.json": {
            "mcpServers": {"a": {"url": "https://x.test", "headers": {"X-Api-Key": _key(3)}}}
        }
    },
    "mcp-args": {
        "{P}/.mcp.json": {"mcpServers": {"a": {"command": "npx", "args": ["--token", _literal(4)]}}}
    },
    "mcp-url": {"{P}/.mcp.json": {"mcpServers": {"a": {"url": f"https://x.test/?k={_key(5)}"}}}},
    "claude-json-env": {
        "home/.claude.json": {"mcpServers": {"m": {"command": "npx", "env": {"TOKEN": _key(6)}}}}
    },
    "settings-env": {"{P}/.claude/settings.json": {"env": {"ANTHROPIC_API_KEY": _key(7)}}},
    "settings-hook-command": {
        "{P}/.claude/settings.local.json": {
            "hooks": {
                "Stop": [{"hooks": [{"type": "command", "command": f"notify --key {_key(8)}"}]}]
            }
        }
    },
    "codex-config": {
        "home/.codex/config.toml": '[mcp_servers.d]\ncommand = "uvx"\n'
        f'env = {{ API_KEY = "{_key(9)}" }}\n'
        f'[mcp_servers.e]\nurl = "https://x.test"\n'
        f'http_headers = {{ Authorization = "Bearer {_literal(10)}" }}\n'
        f'[mcp_servers.f]\nurl = "https://x.test"\nbearer_token = "{_literal(11)}"\n'
    },
    "claude-md": {"{P}/CLAUDE.md": f"# p\n\nThe key: {_key(12)}\n"},
    "agents-md": {"{P}/AGENTS.md": f"# p\n\nThe key: {_key(13)}\n"},
    "skill-front-matter": {
        "{P}/.claude/skills/s/SKILL.md": "---\nname: s\n"
        f"description: Uses {_key(14)} to call.\n---\nBody.\n"
    },
    "skill-body": {
        "{P}/.agents/skills/s/SKILL.md": f"---\nname: s\ndescription: S.\n---\nKey {_key(15)}\n"
    },
    "subagent": {
        "{P}/.claude/agents/a.md": f"---\nname: a\ndescription: A.\n---\nUse {_key(16)}.\n"
    },
    "command": {"{P}/.claude/commands/c.md": f"---\ndescription: C {_key(17)}\n---\nRun.\n"},
    "rule": {"{P}/.claude/rules/r.md": f"Always use {_key(18)}.\n"},
    "output-style": {
        "{P}/.claude/output-styles/o.md": f"---\nname: O\ndescription: {_key(19)}\n---\nx\n"
    },
    "hook-script": {"{P}/.claude/hooks/h.sh": f"#!/bin/sh\nexport KEY={_key(20)}\n"},
    "memory": {"home/.claude/projects/{memory}/memory/MEMORY.md": f"- key {_key(21)}\n"},
    "prompt": {"home/.codex/prompts/p.md": f"Call with {_key(22)}.\n"},
    "codex-rules": {"home/.codex/rules/r.rules": f"# {_key(23)}\n"},
    "codex-subagent-toml": {
        "{P}/.codex/agents/a.toml": f'name = "a"\ndeveloper_instructions = "Use {_key(24)}"\n'
    },
    "codex-hooks-json": {
        "{P}/.codex/hooks.json": {
            "hooks": {"Stop": [{"hooks": [{"type": "command", "command": f"x {_key(25)}"}]}]}
        }
    },
    "user-claude-md": {"home/.claude/CLAUDE.md": f"key {_key(26)}\n"},
}
SECRET = re.compile(r"sk-ant-api03-\d{4}(?:Q7x){10}|literal\d{4}value")


def _project(root: Path, place: str) -> str:
    return str(root / "work" / place)


def _files(root: Path, place: str) -> Files:
    project = _project(root, place)
    memory = "".join(c if c.isalnum() else "-" for c in project)
    out: Files = {f"work/{place}/.git/HEAD": "ref: refs/heads/main\n"}
    for rel, content in PLACES[place].items():
        out[rel.replace("{P}", f"work/{place}").replace("{memory}", memory)] = content
    return out


def _values(place: str) -> list[str]:
    return SECRET.findall(json.dumps(PLACES[place]))


def _all_files(root: Path) -> Files:
    merged: Files = {}
    for place in PLACES:
        merged.update(_files(root, place))
    return merged


@pytest.fixture
def scanned(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> tuple[Path, ScanReport]:
    caplog.set_level(logging.DEBUG)
    return tmp_path, scan_files(tmp_path, _all_files(tmp_path))


@pytest.mark.parametrize("place", sorted(PLACES))
def test_each_secret_is_reported_without_its_value(
    scanned: tuple[Path, ScanReport], place: str
) -> None:
    root, report = scanned
    dumped = report.model_dump_json()
    for value in _values(place):
        assert value not in dumped, f"the secret written at {place} is in the report"
    paths = {str(root / rel) for rel in _files(root, place) if not rel.endswith("HEAD")}
    found = [f for f in report.findings if f.kind == "plaintext-secret" and f.path in paths]
    assert len(found) == len(_values(place)), f"{place}: {found}"
    assert all("(value redacted)" in f.message for f in found)
    assert all(f.line is not None for f in found)


def test_nothing_is_logged_with_a_secret(
    scanned: tuple[Path, ScanReport], caplog: pytest.LogCaptureFixture
) -> None:
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for place in PLACES:
        for value in _values(place):
            assert value not in logged


def test_artifacts_show_where_a_secret_was(scanned: tuple[Path, ScanReport]) -> None:
    _, report = scanned
    redacted = [a for a in report.artifacts if secrets.REDACTED in json.dumps(a.metadata)]
    assert {a.category for a in redacted} >= {"mcp-server", "settings", "skill", "hook"}


@pytest.mark.parametrize("backend", ["workspace", "pg_workspace"])
def test_a_stored_scan_holds_no_secret(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    backend: str,
) -> None:
    ws: Workspace = request.getfixturevalue(backend)
    files = _all_files(tmp_path)
    scan_files(tmp_path, files)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    report = ws.scans.scan([tmp_path / "work"])
    assert report.id is not None
    stored = ws.scans.get(report.id)
    text = stored.model_dump_json()
    assert stored.findings == report.findings
    values = [v for place in PLACES for v in _values(place)]
    for value in values:
        assert value not in text
    db = ws.settings.sqlite_path
    if backend == "workspace":
        assert db is not None
        raw = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
        for value in values:
            assert value.encode() not in raw
