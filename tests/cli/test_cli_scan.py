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
