"""`stagent scan`: the Rich report, --json with the shared schema, CI exit codes, history."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from clitools import Cli, assert_one_line_error

from stagent.testing.scan_trees import broken_tree, clean_tree, fake_bin, write
from stagent.workspace import Workspace

SECRETS = ("ghp_a1B2c3D4", "sk-ant-api03-Zx9", "sk-proj-QQQQ")


@pytest.fixture
def tree_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME inside the tree and the fake MCP commands on PATH."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_bin(tmp_path / 'bin')}{os.pathsep}/usr/bin:/bin")
    return tmp_path


def test_json_report_has_the_shared_schema(cli: Cli, tree_env: Path) -> None:
    work = broken_tree(tree_env)
    result = cli("scan", str(work), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"artifacts", "findings", "score", "duration_ms", "health", "projects"} <= set(report)
    assert report["duration_ms"] > 0
    assert 0 <= report["score"] < 100
    finding = report["findings"][0]
    assert {"severity", "path", "line", "message", "fix", "kind", "cost"} <= set(finding)
    artifact = report["artifacts"][0]
    assert {"tool", "category", "scope", "name", "path", "content_hash", "size"} <= set(artifact)
    for secret in SECRETS:
        assert secret not in result.stdout


def test_fail_on_error_exits_1_on_errors_and_0_on_a_clean_tree(cli: Cli, tree_env: Path) -> None:
    work = clean_tree(tree_env)
    assert cli("scan", str(work), "--fail-on", "error", "--no-save").exit_code == 0
    write(work / "webapp" / ".mcp.json", "{ not json")
    failed = cli("scan", str(work), "--fail-on", "error", "--no-save")
    assert failed.exit_code == 1
    assert "invalid JSON" in failed.stdout


def test_fail_on_warning_counts_warnings(cli: Cli, tree_env: Path) -> None:
    work = clean_tree(tree_env)
    write(work / "webapp" / ".claude" / "settings.local.json", {"permissions": {"allow": ["Bash"]}})
    assert cli("scan", str(work), "--fail-on", "error", "--no-save").exit_code == 0
    assert cli("scan", str(work), "--fail-on", "warning", "--no-save").exit_code == 1


def test_readable_report_shows_findings_with_fixes(cli: Cli, tree_env: Path) -> None:
    work = broken_tree(tree_env)
    result = cli("scan", str(work), "--no-save")
    assert result.exit_code == 0
    out = result.stdout
    assert "Health " in out and "/100" in out
    assert "webapp/.mcp.json:13" in out.replace(str(work) + "/", "")
    assert "fix:" in out
    assert "Artifacts by tool" in out
    for secret in SECRETS:
        assert secret not in out


def test_scans_are_stored_with_their_duration(cli: Cli, tree_env: Path) -> None:
    work = clean_tree(tree_env)
    assert cli("scan", str(work), "--json").exit_code == 0
    assert cli("scan", str(work), "--no-save", "--json").exit_code == 0
    with Workspace.temporary(cli.home) as ws:
        history = ws.scans.history()
        assert len(history) == 1
        assert history[0].duration_ms > 0
        assert history[0].score == 100
        stored = ws.scans.get(history[0].id)
        assert len(stored.artifacts) == history[0].artifact_count


def test_user_level_follows_codex_home(
    cli: Cli, tree_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tree_env / "codex-elsewhere"
    write(elsewhere / "AGENTS.md", "# moved\n")
    monkeypatch.setenv("CODEX_HOME", str(elsewhere))
    report = cli.json("scan", str(tree_env), "--no-save")
    docs = [a["path"] for a in report["artifacts"] if a["tool"] == "codex"]
    assert docs == [str(elsewhere / "AGENTS.md")]


def test_a_missing_folder_is_one_line_error(cli: Cli, tree_env: Path) -> None:
    result = cli("scan", str(tree_env / "nope"), "--no-save")
    assert_one_line_error(result, contains="is not a folder")


def test_clean_tree_says_so_and_depth_limits_discovery(cli: Cli, tree_env: Path) -> None:
    work = clean_tree(tree_env)
    result = cli("scan", str(work), "--no-save")
    assert result.exit_code == 0
    assert "Health 100/100" in result.stdout and "No findings." in result.stdout
    shallow = cli.json("scan", str(tree_env), "--no-save", "--depth", "1")
    assert shallow["projects"] == []
    deep = cli.json("scan", str(tree_env), "--no-save", "--depth", "2")
    assert sorted(p["name"] for p in deep["projects"]) == ["api", "webapp"]


def test_stored_scans_are_listed_and_pruned(
    cli: Cli, tree_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = clean_tree(tree_env)
    assert "No scans stored yet" in cli("scans", "list").stdout
    monkeypatch.setenv("STAGENT_SCAN_HISTORY_KEEP", "3")
    for _ in range(4):
        assert cli("scan", str(work), "--json").exit_code == 0
    listed = cli.json("scans", "list")
    assert len(listed) == 3  # every stored scan applies the retention
    assert listed[0]["score"] == 100 and listed[0]["artifact_count"] > 0
    table = cli("scans", "list").stdout
    assert listed[0]["id"] in table and "Artifacts" in table and "…" not in table  # 80 columns
    pruned = cli("scans", "prune", "--keep", "1")
    assert pruned.exit_code == 0
    assert "Deleted 2 stored scan(s); 1 left (keeping the newest 1)" in pruned.stdout
    assert [s["id"] for s in cli.json("scans", "list")] == [listed[0]["id"]]
    assert cli.json("scans", "prune", "--older-than", "1") == {"deleted": 0, "kept": 1}


@pytest.mark.parametrize(
    ("files", "fail_on", "code"),
    [
        ({}, "warning", 0),  # the clean tree
        ({"extra/.git/HEAD": "ref: refs/heads/main\n"}, "warning", 0),  # an info only
        ({"extra/.git/HEAD": "ref: refs/heads/main\n"}, "error", 0),
        ({"webapp/.claude/agents/x.md": "---\nname: x\n---\n"}, "warning", 1),  # an error
        ({"webapp/.claude/skills/n/SKILL.md": "# no front matter\n"}, "warning", 1),  # a warning
        ({"webapp/.claude/skills/n/SKILL.md": "# no front matter\n"}, "error", 0),
    ],
)
def test_fail_on_thresholds(
    cli: Cli, tree_env: Path, files: dict[str, str], fail_on: str, code: int
) -> None:
    work = clean_tree(tree_env)
    for rel, text in files.items():
        write(work / rel, text)
    result = cli("scan", str(work), "--no-save", "--fail-on", fail_on, "--json")
    assert result.exit_code == code, result.output
    assert json.loads(result.stdout)["score"] <= 100  # the report is printed either way


def test_an_unknown_fail_on_level_is_refused(cli: Cli, tree_env: Path) -> None:
    result = cli("scan", str(tree_env), "--no-save", "--fail-on", "info")
    assert result.exit_code == 2
    assert "info" in result.output


def test_json_fields_of_every_artifact_and_finding(cli: Cli, tree_env: Path) -> None:
    work = broken_tree(tree_env)
    report = cli.json("scan", str(work), "--no-save")
    assert isinstance(report["duration_ms"], float) and report["duration_ms"] > 0
    assert report["score"] == report["health"]["score"]
    assert {d["name"] for d in report["health"]["dimensions"]} == {
        "instructions",
        "safety",
        "capability",
        "maintenance",
    }
    for finding in report["findings"]:
        assert finding["severity"] in ("error", "warning", "info")
        assert finding["path"].startswith(str(tree_env))
        assert finding["line"] is None or finding["line"] >= 1
        assert finding["message"] and finding["fix"] and finding["cost"] > 0
    for artifact in report["artifacts"]:
        assert artifact["tool"] in ("claude-code", "codex", "shared")
        assert artifact["scope"] in ("managed", "user", "project", "local", "plugin")
        assert len(artifact["content_hash"]) == 64
        assert artifact["size"] >= 0 and artifact["modified_at"]
        assert isinstance(artifact["metadata"], dict)
    shared = [a for a in report["artifacts"] if a["tool"] == "shared"]
    assert shared and all(a["shared_with"] for a in shared)
    assert any(a["drift"] for a in shared)


def test_user_level_follows_claude_config_dir(
    cli: Cli, tree_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tree_env / "claude-elsewhere"
    write(elsewhere / "CLAUDE.md", "# moved\n")
    write(tree_env / "home" / ".claude" / "CLAUDE.md", "# not read\n")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(elsewhere))
    report = cli.json("scan", str(tree_env / "home"), "--no-save")
    docs = [a["path"] for a in report["artifacts"] if a["tool"] == "claude-code"]
    assert docs == [str(elsewhere / "CLAUDE.md")]
    assert report["locations"]["claude_dir"] == str(elsewhere)


def test_a_folder_without_any_set_up_says_so_instead_of_an_empty_table(
    cli: Cli, tree_env: Path
) -> None:
    empty = tree_env / "empty"
    empty.mkdir()
    result = cli("scan", str(empty), "--no-save")
    assert result.exit_code == 0, result.output
    assert "0 artifacts" in result.stdout
    assert "Artifacts by tool" not in result.stdout
    assert result.stdout.rstrip().endswith(
        "No Claude Code or Codex artifacts found (settings, instructions, skills, subagents, "
        "commands, MCP servers)."
    )
