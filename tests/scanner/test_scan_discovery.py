"""What the scanner finds: every artifact category of both tools, at user and project level,
projects under a folder (depth limit, skipped folders), and the user level following HOME,
CLAUDE_CONFIG_DIR and CODEX_HOME."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from scantools import Scanned

from stagent.domain.errors import ValidationError
from stagent.scanner import Locations, Scanner
from stagent.testing.scan_trees import SKILL_PDF, write


def _names(scanned: Scanned, tool: str, category: str, scope: str | None = None) -> set[str]:
    return {
        a.name
        for a in scanned.report.artifacts
        if a.tool == tool and a.category == category and (scope is None or a.scope == scope)
    }


def test_projects_are_found_by_their_markers_with_the_git_branch(clean: Scanned) -> None:
    projects = {p.name: p for p in clean.report.projects}
    assert set(projects) == {"webapp", "api"}
    assert projects["webapp"].branch == "main"
    assert projects["api"].branch == "develop"
    assert ".claude" in projects["webapp"].markers


def test_claude_code_user_and_project_artifacts(clean: Scanned) -> None:
    assert _names(clean, "claude-code", "settings") == {"settings.json", "settings.local.json"}
    assert _names(clean, "claude-code", "subagent") == {"code-reviewer", "test-runner"}
    assert _names(clean, "claude-code", "command") == {"commit", "ship"}
    assert _names(clean, "claude-code", "rule") == {"api"}
    assert _names(clean, "claude-code", "output-style") == {"Terse"}
    assert _names(clean, "claude-code", "plugin") == {"deploy-kit"}
    assert _names(clean, "claude-code", "skill", "plugin") == {"deploy-kit:deploy"}
    instructions = _names(clean, "claude-code", "instruction")
    assert instructions == {"~/CLAUDE.md", "CLAUDE.md", "packages/ui/CLAUDE.md"}


def test_mcp_servers_in_every_claude_scope(clean: Scanned) -> None:
    servers = {(a.name, a.scope): a for a in clean.report.artifacts if a.category == "mcp-server"}
    assert ("memory", "user") in servers  # ~/.claude.json top level
    assert ("postgres", "local") in servers  # ~/.claude.json projects[<root>]
    assert servers[("postgres", "local")].project == str(clean.work / "webapp")
    assert ("github", "project") in servers  # .mcp.json
    assert servers[("sentry", "project")].metadata["transport"] == "http"
    assert ("docs", "user") in servers and servers[("docs", "user")].tool == "codex"
    assert ("playwright", "project") in servers


def test_hooks_from_settings_plugins_and_files(clean: Scanned) -> None:
    hooks = [a for a in clean.report.artifacts if a.category == "hook"]
    sources = {a.metadata.get("source") for a in hooks}
    assert {"settings.json", "hooks.json"} <= sources
    post = next(a for a in hooks if a.name == "PostToolUse Edit|Write")
    assert post.metadata["timeout"] == 30
    assert post.line == 18
    assert any(a.name == "format.sh" and a.metadata["executable"] for a in hooks)


def test_codex_artifacts(clean: Scanned) -> None:
    assert _names(clean, "codex", "config") == {"config.toml"}
    assert _names(clean, "codex", "instruction") == {
        "~/AGENTS.md",
        "AGENTS.md",
        "packages/ui/AGENTS.md",
    }
    assert _names(clean, "codex", "rule") == {"default.rules"}
    assert _names(clean, "codex", "skill") == {"openapi"}
    config = next(a for a in clean.report.artifacts if a.category == "config" and not a.project)
    assert config.metadata["approval_policy"] == "on-request"
    assert config.metadata["profiles"] == ["fast"]
    assert config.metadata["trust"] == {str(clean.work / "webapp"): "trusted"}


def test_a_skill_both_tools_have_is_one_shared_artifact(clean: Scanned) -> None:
    shared = [a for a in clean.report.artifacts if a.tool == "shared"]
    assert {(a.name, a.scope) for a in shared} == {("pdf-tools", "user"), ("release", "project")}
    pdf = next(a for a in shared if a.name == "pdf-tools")
    assert pdf.shared_with == [
        str(clean.root / "home" / ".agents" / "skills" / "pdf-tools" / "SKILL.md")
    ]
    assert pdf.drift is False


def test_shared_skill_with_different_contents_is_marked_drifting(broken: Scanned) -> None:
    pdf = next(a for a in broken.report.artifacts if a.tool == "shared" and a.name == "pdf-tools")
    assert pdf.drift is True


def test_node_modules_and_hidden_folders_are_skipped(clean: Scanned) -> None:
    paths = [clean.rel(a.path) for a in clean.report.artifacts]
    assert not [p for p in paths if "node_modules" in p]


def test_depth_limit(tmp_path: Path) -> None:
    deep = tmp_path / "a" / "b" / "c" / "d" / "e"
    write(deep / "CLAUDE.md", "# deep\n")
    write(tmp_path / "a" / "near" / "AGENTS.md", "# near\n")
    scanner = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")}))
    shallow = scanner.scan([tmp_path], max_depth=2)
    assert [p.name for p in shallow.projects] == ["near"]
    everything = scanner.scan([tmp_path], max_depth=6)
    assert {p.name for p in everything.projects} == {"near", "e"}


def test_a_nested_repository_is_its_own_project(tmp_path: Path) -> None:
    write(tmp_path / "mono" / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(tmp_path / "mono" / "CLAUDE.md", "# mono\n")
    write(tmp_path / "mono" / "apps" / "web" / "CLAUDE.md", "# web, nested\n")
    write(tmp_path / "mono" / "vendor-repo" / ".git" / "HEAD", "ref: refs/heads/x\n")
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "h")})).scan([tmp_path])
    assert {p.name for p in report.projects} == {"mono", "vendor-repo"}
    nested = next(a for a in report.artifacts if a.name == "apps/web/CLAUDE.md")
    assert nested.project == str(tmp_path / "mono")


def test_user_level_follows_claude_config_dir_and_codex_home(tmp_path: Path) -> None:
    claude_dir = tmp_path / "cfg" / "claude"
    codex_home = tmp_path / "cfg" / "codex"
    write(claude_dir / "skills" / "pdf-tools" / "SKILL.md", SKILL_PDF)
    write(claude_dir / ".claude.json", {"mcpServers": {"m": {"command": "sh"}}})
    write(codex_home / "AGENTS.md", "# global\n")
    write(tmp_path / "home" / ".claude" / "skills" / "ignored" / "SKILL.md", SKILL_PDF)
    env = {
        "HOME": str(tmp_path / "home"),
        "CLAUDE_CONFIG_DIR": str(claude_dir),
        "CODEX_HOME": str(codex_home),
    }
    report = Scanner(Locations.from_env(env)).scan([tmp_path / "home"])
    names = {(a.category, a.name) for a in report.artifacts}
    assert names == {("skill", "pdf-tools"), ("mcp-server", "m"), ("instruction", "~/AGENTS.md")}
    assert report.locations["claude_json"] == str(claude_dir / ".claude.json")


def test_auto_memory_of_a_scanned_project(tmp_path: Path) -> None:
    project = tmp_path / "work" / "app"
    write(project / "CLAUDE.md", "# app\n")
    encoded = "".join(ch if ch.isalnum() else "-" for ch in str(project))
    write(tmp_path / "home" / ".claude" / "projects" / encoded / "memory" / "MEMORY.md", "- x\n")
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "home")})).scan([project])
    memory = [a for a in report.artifacts if a.category == "memory"]
    assert [(m.project, m.name) for m in memory] == [(str(project), "MEMORY.md")]


def test_a_missing_folder_is_refused_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="is not a folder"):
        Scanner().scan([tmp_path / "nope"])


def test_artifact_records_carry_hash_size_and_mtime(clean: Scanned) -> None:
    skill = next(a for a in clean.report.artifacts if a.name == "code-reviewer")
    path = Path(skill.path)
    assert skill.size == path.stat().st_size
    assert abs(skill.modified_at.timestamp() - path.stat().st_mtime) < 1e-3
    assert len(skill.content_hash) == 64
    assert skill.metadata["description"].startswith("Reviews diffs")
    assert len({a.id for a in clean.report.artifacts}) == len(clean.report.artifacts)
    assert Path(skill.path).is_absolute()


def test_projects_under_home_are_found_when_scanning_above_it(tmp_path: Path) -> None:
    home = tmp_path / "users" / "me"
    write(home / ".claude" / "CLAUDE.md", "# user level, not a project\n")
    write(home / "code" / "app" / "AGENTS.md", "# app\n")
    report = Scanner(Locations.from_env({"HOME": str(home)})).scan([tmp_path])
    assert [p.name for p in report.projects] == ["app"]
    user = [a for a in report.artifacts if a.project is None]
    assert [a.name for a in user] == ["~/CLAUDE.md"]


def test_managed_and_system_layers(tmp_path: Path) -> None:
    managed = tmp_path / "etc" / "claude-code"
    system = tmp_path / "etc" / "codex"
    write(managed / "managed-settings.json", {"permissions": {"deny": ["Bash(curl *)"]}})
    write(managed / "managed-settings.d" / "10-hooks.json", {"permissions": {"allow": ["Bash"]}})
    write(managed / "CLAUDE.md", "# Company policy\n")
    write(system / "config.toml", 'approval_policy = "on-failure"\n')
    write(system / "requirements.toml", 'allowed_approval_policies = ["on-request"]\n')
    write(system / "skills" / "audit" / "SKILL.md", SKILL_PDF.replace("pdf-tools", "audit"))
    loc = replace(
        Locations.from_env({"HOME": str(tmp_path / "home")}),
        claude_managed=managed,
        codex_system=system,
    )
    report = Scanner(loc).scan([])
    found = {(a.tool, a.category, a.name) for a in report.artifacts if a.scope == "managed"}
    assert found == {
        ("claude-code", "settings", "managed-settings.json"),
        ("claude-code", "settings", "10-hooks.json"),
        ("claude-code", "permission", "managed-settings.json permissions"),
        ("claude-code", "permission", "10-hooks.json permissions"),
        ("claude-code", "instruction", "managed CLAUDE.md"),
        ("codex", "config", "config.toml"),
        ("codex", "requirements", "requirements.toml"),
        ("codex", "skill", "audit"),
    }
    kinds = sorted((f.kind, Path(f.path).name) for f in report.findings)
    assert kinds == [("broad-permission", "10-hooks.json"), ("deprecated-setting", "config.toml")]


def test_subfolders_of_commands_and_agents_keep_plain_names(tmp_path: Path) -> None:
    project = tmp_path / "app"
    write(project / ".claude" / "commands" / "frontend" / "component.md", "Make a component.\n")
    write(
        project / ".claude" / "agents" / "review" / "security.md",
        "---\nname: security\ndescription: Security review.\n---\nReview.\n",
    )
    report = Scanner(Locations.from_env({"HOME": str(tmp_path / "h")})).scan([project])
    names = {(a.category, a.name) for a in report.artifacts}
    assert {("command", "component"), ("subagent", "security")} <= names
