"""Secrets are reported by kind and place; their values never reach the report."""

from __future__ import annotations

from pathlib import Path

from scantools import Scanned

from stagent.scanner import Locations, Scanner
from stagent.scanner import secrets as s
from stagent.testing.scan_trees import write

GITHUB = "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def test_no_secret_value_anywhere_in_the_report(broken: Scanned) -> None:
    text = broken.report.model_dump_json()
    for value in (GITHUB, "sk-ant-api03-Zx9", "sk-proj-QQQQ"):
        assert value not in text
    github = next(a for a in broken.report.artifacts if a.name == "github")
    assert github.metadata["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": s.REDACTED}
    settings = next(
        a
        for a in broken.report.artifacts
        if a.category == "settings" and a.path.endswith("webapp/.claude/settings.json")
    )
    assert settings.metadata["env"] == {"ANTHROPIC_API_KEY": s.REDACTED}


def test_references_and_harmless_values_stay_visible(clean: Scanned) -> None:
    github = next(a for a in clean.report.artifacts if a.name == "github")
    assert github.metadata["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"}
    sentry = next(a for a in clean.report.artifacts if a.name == "sentry")
    assert sentry.metadata["headers"] == {"Authorization": s.REDACTED}  # not a pure reference
    user = next(a for a in clean.report.artifacts if a.category == "settings" and not a.project)
    assert user.metadata["env"]["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1"


def test_a_bearer_reference_is_not_a_secret() -> None:
    assert s.secret_kind("Authorization", "Bearer ${SENTRY_TOKEN}") is None
    assert (
        s.secret_kind("Authorization", "Bearer abcdefghijklmnop")
        == "literal value of Authorization"
    )
    assert s.secret_kind("API_KEY", "<your-key-here>") is None
    assert s.secret_kind("LOG_LEVEL", "debugging-verbose") is None


def test_secret_after_a_flag_in_args_is_found_and_hidden(tmp_path: Path) -> None:
    write(
        tmp_path / "p" / ".mcp.json",
        {
            "mcpServers": {
                "search": {
                    "command": "sh",
                    "args": ["server.js", "--api-key", "abc123def456ghi789"],
                }
            }
        },
    )
    write(tmp_path / "p" / "CLAUDE.md", "# p\n\nDeploy key: " + GITHUB + "\n")
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "h")})).scan([tmp_path / "p"])
    search = next(a for a in report.artifacts if a.name == "search")
    assert search.metadata["args"] == ["server.js", "--api-key", s.REDACTED]
    kinds = {(f.kind, f.line, f.message) for f in report.findings if f.kind == "plaintext-secret"}
    assert ("plaintext-secret", 3, "GitHub token in plain text (value redacted)") in kinds
    assert any("args[2]" in message for _, _, message in kinds)
    assert GITHUB not in report.model_dump_json()
    assert "abc123def456ghi789" not in report.model_dump_json()
