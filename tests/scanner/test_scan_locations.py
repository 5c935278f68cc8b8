"""Every place Claude Code and Codex keep artifacts, one at a time: the file written there is
found with its tool, category, scope, name and project; its neighbours are not mistaken for it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from scantools import Files, scan_files

from stagent.scanner.report import Artifact, ScanReport

P = "work/p"
SKILL = "---\nname: {name}\ndescription: Does {name}.\n---\n\nBody.\n"
AGENT = "---\nname: {name}\ndescription: Reviews {name}.\n---\n\nYou review.\n"
HOOK = {"type": "command", "command": "echo hi"}


@dataclass(frozen=True)
class Spot:
    """A file at one location and the artifact it must give."""

    id: str
    files: Files
    tool: str
    category: str
    scope: str
    name: str
    path: str
    project: bool = False
    """The artifact belongs to the project ``work/p`` (else to the user level)."""


SPOTS: list[Spot] = [
    # Claude Code, user level
    Spot(
        "claude-user-settings",
        {"home/.claude/settings.json": {"model": "opus"}},
        "claude-code",
        "settings",
        "user",
        "settings.json",
        "home/.claude/settings.json",
    ),
    Spot(
        "claude-user-local-settings",
        {"home/.claude/settings.local.json": {"model": "opus"}},
        "claude-code",
        "settings",
        "user",
        "settings.local.json",
        "home/.claude/settings.local.json",
    ),
    Spot(
        "claude-user-permissions",
        {"home/.claude/settings.json": {"permissions": {"deny": ["Read(./.env)"]}}},
        "claude-code",
        "permission",
        "user",
        "settings.json permissions",
        "home/.claude/settings.json",
    ),
    Spot(
        "claude-user-claude-md",
        {"home/.claude/CLAUDE.md": "# me\n"},
        "claude-code",
        "instruction",
        "user",
        "~/CLAUDE.md",
        "home/.claude/CLAUDE.md",
    ),
    Spot(
        "claude-user-rule",
        {"home/.claude/rules/style.md": "- British spelling\n"},
        "claude-code",
        "rule",
        "user",
        "style",
        "home/.claude/rules/style.md",
    ),
    Spot(
        "claude-user-skill",
        {"home/.claude/skills/pdf/SKILL.md": SKILL.format(name="pdf")},
        "claude-code",
        "skill",
        "user",
        "pdf",
        "home/.claude/skills/pdf/SKILL.md",
    ),
    Spot(
        "claude-user-skill-named-by-folder",
        {"home/.claude/skills/notes/SKILL.md": "---\ndescription: Take notes.\n---\n"},
        "claude-code",
        "skill",
        "user",
        "notes",
        "home/.claude/skills/notes/SKILL.md",
    ),
    Spot(
        "claude-user-subagent",
        {"home/.claude/agents/rev.md": AGENT.format(name="rev")},
        "claude-code",
        "subagent",
        "user",
        "rev",
        "home/.claude/agents/rev.md",
    ),
    Spot(
        "claude-user-command",
        {"home/.claude/commands/commit.md": "Commit.\n"},
        "claude-code",
        "command",
        "user",
        "commit",
        "home/.claude/commands/commit.md",
    ),
    Spot(
        "claude-user-output-style",
        {"home/.claude/output-styles/brief.md": "---\nname: Brief\n---\nBe brief.\n"},
        "claude-code",
        "output-style",
        "user",
        "Brief",
        "home/.claude/output-styles/brief.md",
    ),
    Spot(
        "claude-user-hook-in-settings",
        {"home/.claude/settings.json": {"hooks": {"Stop": [{"hooks": [HOOK]}]}}},
        "claude-code",
        "hook",
        "user",
        "Stop",
        "home/.claude/settings.json",
    ),
    Spot(
        "claude-json-user-scope-server",
        {"home/.claude.json": {"mcpServers": {"mem": {"command": "npx"}}}},
        "claude-code",
        "mcp-server",
        "user",
        "mem",
        "home/.claude.json",
    ),
    Spot(
        "claude-json-local-scope-server",
        {
            "home/.claude.json": {
                "projects": {"{project}": {"mcpServers": {"pg": {"command": "npx"}}}}
            }
        },
        "claude-code",
        "mcp-server",
        "local",
        "pg",
        "home/.claude.json",
        project=True,
    ),
    Spot(
        "claude-auto-memory",
        {"home/.claude/projects/{memory}/memory/MEMORY.md": "- uses pnpm\n"},
        "claude-code",
        "memory",
        "project",
        "MEMORY.md",
        "home/.claude/projects/{memory}/memory/MEMORY.md",
        project=True,
    ),
    # Claude Code, project level
    Spot(
        "claude-project-settings",
        {f"{P}/.claude/settings.json": {"env": {"A": "1"}}},
        "claude-code",
        "settings",
        "project",
        "settings.json",
        f"{P}/.claude/settings.json",
        project=True,
    ),
    Spot(
        "claude-project-local-settings",
        {f"{P}/.claude/settings.local.json": {"env": {"A": "1"}}},
        "claude-code",
        "settings",
        "project",
        "settings.local.json",
        f"{P}/.claude/settings.local.json",
        project=True,
    ),
    Spot(
        "claude-project-mcp-json",
        {f"{P}/.mcp.json": {"mcpServers": {"gh": {"command": "npx"}}}},
        "claude-code",
        "mcp-server",
        "project",
        "gh",
        f"{P}/.mcp.json",
        project=True,
    ),
    Spot(
        "claude-md-at-the-root",
        {f"{P}/CLAUDE.md": "# p\n"},
        "claude-code",
        "instruction",
        "project",
        "CLAUDE.md",
        f"{P}/CLAUDE.md",
        project=True,
    ),
    Spot(
        "claude-md-in-dot-claude",
        {f"{P}/.claude/CLAUDE.md": "# p\n"},
        "claude-code",
        "instruction",
        "project",
        ".claude/CLAUDE.md",
        f"{P}/.claude/CLAUDE.md",
        project=True,
    ),
    Spot(
        "claude-local-md",
        {f"{P}/CLAUDE.local.md": "- mine\n"},
        "claude-code",
        "instruction",
        "project",
        "CLAUDE.local.md",
        f"{P}/CLAUDE.local.md",
        project=True,
    ),
    Spot(
        "nested-claude-md",
        {f"{P}/CLAUDE.md": "# p\n", f"{P}/apps/web/CLAUDE.md": "# web\n"},
        "claude-code",
        "instruction",
        "project",
        "apps/web/CLAUDE.md",
        f"{P}/apps/web/CLAUDE.md",
        project=True,
    ),
    Spot(
        "nested-claude-local-md",
        {f"{P}/CLAUDE.md": "# p\n", f"{P}/apps/web/CLAUDE.local.md": "# mine\n"},
        "claude-code",
        "instruction",
        "project",
        "apps/web/CLAUDE.local.md",
        f"{P}/apps/web/CLAUDE.local.md",
        project=True,
    ),
    Spot(
        "claude-project-rule",
        {f"{P}/.claude/rules/api.md": '---\npaths:\n  - "src/**"\n---\nRules.\n'},
        "claude-code",
        "rule",
        "project",
        "api",
        f"{P}/.claude/rules/api.md",
        project=True,
    ),
    Spot(
        "claude-project-skill",
        {f"{P}/.claude/skills/ship/SKILL.md": SKILL.format(name="ship")},
        "claude-code",
        "skill",
        "project",
        "ship",
        f"{P}/.claude/skills/ship/SKILL.md",
        project=True,
    ),
    Spot(
        "nested-skill-is-qualified",
        {
            f"{P}/CLAUDE.md": "# p\n",
            f"{P}/apps/web/.claude/skills/deploy/SKILL.md": SKILL.format(name="deploy"),
        },
        "claude-code",
        "skill",
        "project",
        "apps/web:deploy",
        f"{P}/apps/web/.claude/skills/deploy/SKILL.md",
        project=True,
    ),
    Spot(
        "claude-project-subagent",
        {f"{P}/.claude/agents/tests.md": AGENT.format(name="tests")},
        "claude-code",
        "subagent",
        "project",
        "tests",
        f"{P}/.claude/agents/tests.md",
        project=True,
    ),
    Spot(
        "claude-project-command",
        {f"{P}/.claude/commands/ship.md": "Ship.\n"},
        "claude-code",
        "command",
        "project",
        "ship",
        f"{P}/.claude/commands/ship.md",
        project=True,
    ),
    Spot(
        "claude-project-output-style",
        {f"{P}/.claude/output-styles/review.md": "Review style.\n"},
        "claude-code",
        "output-style",
        "project",
        "review",
        f"{P}/.claude/output-styles/review.md",
        project=True,
    ),
    Spot(
        "claude-hook-file",
        {f"{P}/.claude/hooks/lint.sh": "#!/bin/sh\n"},
        "claude-code",
        "hook",
        "project",
        "lint.sh",
        f"{P}/.claude/hooks/lint.sh",
        project=True,
    ),
    Spot(
        "claude-hook-in-project-settings",
        {
            f"{P}/.claude/settings.json": {
                "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [HOOK]}]}
            }
        },
        "claude-code",
        "hook",
        "project",
        "PreToolUse Bash",
        f"{P}/.claude/settings.json",
        project=True,
    ),
    Spot(
        "claude-hook-in-skill-front-matter",
        {
            f"{P}/.claude/skills/fmt/SKILL.md": "---\nname: fmt\ndescription: Format.\nhooks:\n"
            "  PostToolUse:\n    - matcher: Edit\n      hooks:\n        - type: command\n"
            "          command: echo formatted\n---\nFormat.\n"
        },
        "claude-code",
        "hook",
        "project",
        "PostToolUse Edit",
        f"{P}/.claude/skills/fmt/SKILL.md",
        project=True,
    ),
    Spot(
        "claude-hook-in-subagent-front-matter",
        {
            f"{P}/.claude/agents/guard.md": "---\nname: guard\ndescription: Guards.\nhooks:\n"
            "  Stop:\n    - hooks:\n        - type: command\n          command: echo bye\n---\n"
        },
        "claude-code",
        "hook",
        "project",
        "Stop",
        f"{P}/.claude/agents/guard.md",
        project=True,
    ),
    # Codex, user level
    Spot(
        "codex-user-config",
        {"home/.codex/config.toml": 'model = "gpt-5.6"\n'},
        "codex",
        "config",
        "user",
        "config.toml",
        "home/.codex/config.toml",
    ),
    Spot(
        "codex-user-config-server",
        {"home/.codex/config.toml": '[mcp_servers.docs]\ncommand = "uvx"\n'},
        "codex",
        "mcp-server",
        "user",
        "docs",
        "home/.codex/config.toml",
    ),
    Spot(
        "codex-user-agents-md",
        {"home/.codex/AGENTS.md": "# me\n"},
        "codex",
        "instruction",
        "user",
        "~/AGENTS.md",
        "home/.codex/AGENTS.md",
    ),
    Spot(
        "codex-user-agents-override",
        {"home/.codex/AGENTS.md": "# me\n", "home/.codex/AGENTS.override.md": "# today\n"},
        "codex",
        "instruction",
        "user",
        "~/AGENTS.override.md",
        "home/.codex/AGENTS.override.md",
    ),
    Spot(
        "codex-home-agents-skill",
        {"home/.agents/skills/lint/SKILL.md": SKILL.format(name="lint")},
        "codex",
        "skill",
        "user",
        "lint",
        "home/.agents/skills/lint/SKILL.md",
    ),
    Spot(
        "codex-legacy-skill",
        {"home/.codex/skills/old/SKILL.md": SKILL.format(name="old")},
        "codex",
        "skill",
        "user",
        "old",
        "home/.codex/skills/old/SKILL.md",
    ),
    Spot(
        "codex-prompt",
        {"home/.codex/prompts/fix.md": "---\ndescription: Fix it\n---\nFix.\n"},
        "codex",
        "prompt",
        "user",
        "fix",
        "home/.codex/prompts/fix.md",
    ),
    Spot(
        "codex-rules",
        {"home/.codex/rules/default.rules": 'prefix_rule(pattern = ["ls"], decision = "allow")\n'},
        "codex",
        "rule",
        "user",
        "default.rules",
        "home/.codex/rules/default.rules",
    ),
    Spot(
        "codex-user-hooks",
        {"home/.codex/hooks.json": {"hooks": {"SessionStart": [{"hooks": [HOOK]}]}}},
        "codex",
        "hook",
        "user",
        "SessionStart",
        "home/.codex/hooks.json",
    ),
    Spot(
        "codex-user-subagent",
        {"home/.codex/agents/critic.toml": 'name = "critic"\ndescription = "Critiques."\n'},
        "codex",
        "subagent",
        "user",
        "critic",
        "home/.codex/agents/critic.toml",
    ),
    # Codex, project level
    Spot(
        "codex-project-config",
        {f"{P}/.codex/config.toml": 'model = "gpt-5.6"\n'},
        "codex",
        "config",
        "project",
        "config.toml",
        f"{P}/.codex/config.toml",
        project=True,
    ),
    Spot(
        "codex-project-config-server",
        {f"{P}/.codex/config.toml": '[mcp_servers.pw]\ncommand = "npx"\n'},
        "codex",
        "mcp-server",
        "project",
        "pw",
        f"{P}/.codex/config.toml",
        project=True,
    ),
    Spot(
        "codex-project-agents-md",
        {f"{P}/AGENTS.md": "# p\n"},
        "codex",
        "instruction",
        "project",
        "AGENTS.md",
        f"{P}/AGENTS.md",
        project=True,
    ),
    Spot(
        "codex-project-agents-override",
        {f"{P}/AGENTS.md": "# p\n", f"{P}/AGENTS.override.md": "# p today\n"},
        "codex",
        "instruction",
        "project",
        "AGENTS.override.md",
        f"{P}/AGENTS.override.md",
        project=True,
    ),
    Spot(
        "codex-nested-agents-md",
        {f"{P}/AGENTS.md": "# p\n", f"{P}/services/api/AGENTS.md": "# api\n"},
        "codex",
        "instruction",
        "project",
        "services/api/AGENTS.md",
        f"{P}/services/api/AGENTS.md",
        project=True,
    ),
    Spot(
        "codex-project-skill",
        {f"{P}/.agents/skills/fmt/SKILL.md": SKILL.format(name="fmt")},
        "codex",
        "skill",
        "project",
        "fmt",
        f"{P}/.agents/skills/fmt/SKILL.md",
        project=True,
    ),
    Spot(
        "codex-nested-skill",
        {
            f"{P}/AGENTS.md": "# p\n",
            f"{P}/services/api/.agents/skills/gen/SKILL.md": SKILL.format(name="gen"),
        },
        "codex",
        "skill",
        "project",
        "services/api:gen",
        f"{P}/services/api/.agents/skills/gen/SKILL.md",
        project=True,
    ),
    Spot(
        "codex-project-hooks",
        {f"{P}/.codex/hooks.json": {"hooks": {"Stop": [{"hooks": [HOOK]}]}}},
        "codex",
        "hook",
        "project",
        "Stop",
        f"{P}/.codex/hooks.json",
        project=True,
    ),
    Spot(
        "codex-project-subagent",
        {f"{P}/.codex/agents/docs.toml": 'name = "docs-writer"\n'},
        "codex",
        "subagent",
        "project",
        "docs-writer",
        f"{P}/.codex/agents/docs.toml",
        project=True,
    ),
]


def _fill(text: str, root: Path) -> str:
    project = str(root / P)
    memory = "".join(c if c.isalnum() else "-" for c in project)
    return text.replace("{project}", project).replace("{memory}", memory)


def _scan(root: Path, files: Files) -> ScanReport:
    out: Files = {}
    for rel, content in files.items():
        if isinstance(content, dict):
            content = json.loads(_fill(json.dumps(content), root))
        out[_fill(rel, root)] = content
    if not any(k.startswith(P) for k in out):
        out[f"{P}/.git/HEAD"] = "ref: refs/heads/main\n"
    return scan_files(root, out)


def _find(report: ScanReport, spot: Spot) -> list[Artifact]:
    return [
        a
        for a in report.artifacts
        if (a.tool, a.category, a.scope, a.name)
        == (spot.tool, spot.category, spot.scope, spot.name)
    ]


@pytest.mark.parametrize("spot", SPOTS, ids=[s.id for s in SPOTS])
def test_found_where_the_tool_keeps_it(tmp_path: Path, spot: Spot) -> None:
    report = _scan(tmp_path, spot.files)
    found = _find(report, spot)
    assert len(found) == 1, [(a.tool, a.category, a.scope, a.name) for a in report.artifacts]
    artifact = found[0]
    assert artifact.path == str(tmp_path / _fill(spot.path, tmp_path))
    assert artifact.project == (str(tmp_path / P) if spot.project else None)
    assert len(artifact.content_hash) == 64
    assert artifact.size > 0


@pytest.mark.parametrize("spot", SPOTS, ids=[s.id for s in SPOTS])
def test_not_found_outside_its_place(tmp_path: Path, spot: Spot) -> None:
    """The same file one folder off (under an unrelated folder name) is not that artifact."""
    moved = {
        rel.replace(".claude/", ".claudex/")
        .replace(".codex/", ".codexx/")
        .replace(".agents/", ".agentsx/")
        .replace(".claude.json", ".claude.jsonx")
        .replace("CLAUDE", "README-CLAUDE")
        .replace("AGENTS", "README-AGENTS")
        .replace(".mcp.json", "mcp.json"): content
        for rel, content in spot.files.items()
    }
    assert _find(_scan(tmp_path, moved), spot) == []


def test_override_and_plain_agents_md_are_never_both_read(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            f"{P}/AGENTS.md": "# p\n",
            f"{P}/AGENTS.override.md": "# p today\n",
            f"{P}/services/api/AGENTS.md": "# api\n",
            f"{P}/services/api/AGENTS.override.md": "# api today\n",
        },
    )
    names = sorted(a.name for a in report.artifacts if a.category == "instruction")
    assert names == ["AGENTS.override.md", "services/api/AGENTS.override.md"]


def test_codex_config_layers_and_profiles(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "home/.codex/config.toml": 'model = "gpt-5.6"\nprofile = "deep"\n'
            'approval_policy = "on-request"\n[profiles.deep]\nmodel = "gpt-6"\n'
            '[profiles.quick]\nmodel = "gpt-5.6-luna"\n'
            f'[projects."{tmp_path / P}"]\ntrust_level = "trusted"\n',
            f"{P}/.codex/config.toml": 'sandbox_mode = "workspace-write"\n'
            "project_doc_max_bytes = 65536\n",
        },
    )
    configs = {a.scope: a for a in report.artifacts if a.category == "config"}
    assert set(configs) == {"user", "project"}
    user = configs["user"].metadata
    assert (user["profile"], user["profiles"]) == ("deep", ["deep", "quick"])
    assert user["trust"] == {str(tmp_path / P): "trusted"}
    project = configs["project"].metadata
    assert (project["sandbox_mode"], project["project_doc_max_bytes"]) == ("workspace-write", 65536)


def test_plugin_skills_agents_commands_hooks_and_servers(tmp_path: Path) -> None:
    plugin = tmp_path / "home" / ".claude" / "plugins" / "cache" / "acme" / "kit" / "1.0.0"
    rel = str(plugin.relative_to(tmp_path))
    report = _scan(
        tmp_path,
        {
            "home/.claude/plugins/installed_plugins.json": {
                "version": 2,
                "plugins": {
                    "kit@acme": [{"scope": "user", "installPath": str(plugin), "version": "1.0.0"}]
                },
            },
            f"{rel}/skills/deploy/SKILL.md": SKILL.format(name="deploy"),
            f"{rel}/agents/checker.md": AGENT.format(name="checker"),
            f"{rel}/commands/release.md": "Release.\n",
            f"{rel}/hooks/hooks.json": {"hooks": {"Stop": [{"hooks": [HOOK]}]}},
            f"{rel}/.mcp.json": {"mcpServers": {"kit-api": {"command": "npx"}}},
        },
    )
    plugin_items = {(a.category, a.name) for a in report.artifacts if a.scope == "plugin"}
    assert plugin_items == {
        ("skill", "kit:deploy"),
        ("subagent", "kit:checker"),
        ("command", "kit:release"),
        ("hook", "Stop"),
        ("mcp-server", "kit-api"),
    }
    kit = next(a for a in report.artifacts if a.category == "plugin")
    assert (kit.name, kit.metadata["version"], kit.metadata["id"]) == ("kit", "1.0.0", "kit@acme")


def test_version_one_plugin_manifest(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            "home/.claude/plugins/installed_plugins.json": {
                "version": 1,
                "plugins": {"tools@market": {"version": "0.3.0", "installPath": "/nowhere"}},
            }
        },
    )
    plugins = [(a.name, a.metadata["version"]) for a in report.artifacts if a.category == "plugin"]
    assert plugins == [("tools", "0.3.0")]


def test_project_only_files_at_the_user_level_are_not_read(tmp_path: Path) -> None:
    """``~/.mcp.json`` and ``~/.claude/.mcp.json`` are no tool's files; only ~/.claude.json is."""
    report = _scan(
        tmp_path,
        {
            "home/.mcp.json": {"mcpServers": {"stray": {"command": "npx"}}},
            "home/.claude/.mcp.json": {"mcpServers": {"stray2": {"command": "npx"}}},
        },
    )
    assert [a for a in report.artifacts if a.category == "mcp-server"] == []


def test_settings_metadata_keeps_permissions_env_and_hooks(tmp_path: Path) -> None:
    report = _scan(
        tmp_path,
        {
            f"{P}/.claude/settings.json": {
                "model": "opus",
                "cleanupPeriodDays": 60,
                "env": {"LOG": "1"},
                "permissions": {
                    "allow": ["Bash(npm test)"],
                    "ask": ["Bash(git push *)"],
                    "deny": ["Read(./.env)"],
                    "defaultMode": "plan",
                    "additionalDirectories": ["../shared"],
                },
                "hooks": {"Stop": [{"hooks": [HOOK]}]},
            }
        },
    )
    settings = next(a for a in report.artifacts if a.category == "settings")
    assert settings.metadata["model"] == "opus"
    assert settings.metadata["cleanupPeriodDays"] == 60
    assert settings.metadata["hooks"] == 1
    perms = next(a for a in report.artifacts if a.category == "permission").metadata
    assert perms == {
        "allow": ["Bash(npm test)"],
        "ask": ["Bash(git push *)"],
        "deny": ["Read(./.env)"],
        "defaultMode": "plan",
        "additionalDirectories": ["../shared"],
    }
