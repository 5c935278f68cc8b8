"""Every variant of every finding kind: a small tree where it fires (at its file and line, with
its severity and a fix) and the same tree put right, where it is silent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from scantools import Files, scan_files

from stagent.scanner.findings import KINDS
from stagent.scanner.report import ScanReport

P = "work/p"
"""The one project most cases write into (it has an AGENTS.md so no-instructions stays quiet)."""
BASE: Files = {f"{P}/AGENTS.md": "# p\n"}
GITHUB = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS = "AKIA" + "IOSFODNN7EXAMPLE"
SKILL = "---\nname: {name}\ndescription: Does {name}.\n---\n\nBody.\n"
CODEX_API = '[mcp_servers.api]\nurl = "https://x.test"\n'
AGENT = "---\nname: {name}\ndescription: Reviews {name}.\n---\n\nYou review.\n"


@dataclass
class Case:
    """A tree that shows one finding, and the change that silences it."""

    id: str
    kind: str
    files: Files
    path: str
    line: int | None
    severity: str
    part: str
    fixed: Files = field(default_factory=lambda: {})
    """Files that replace (or, with value "", remove) some of ``files`` to put the tree right."""
    executable: tuple[str, ...] = ()


def mcp(servers: dict[str, object]) -> dict[str, object]:
    return {"mcpServers": servers}


CASES: list[Case] = [
    # invalid-file: every parser that reads JSON, TOML or front matter says where it broke
    Case(
        "mcp-json-syntax",
        "invalid-file",
        {f"{P}/.mcp.json": '{\n  "mcpServers": {\n    "a": {"command": "npx",}\n  }\n}\n'},
        f"{P}/.mcp.json",
        3,
        "error",
        "invalid JSON",
        {f"{P}/.mcp.json": mcp({"a": {"command": "npx"}})},
    ),
    Case(
        "claude-json-syntax",
        "invalid-file",
        {"home/.claude.json": "{\n  'numStartups': 3\n}\n"},
        "home/.claude.json",
        2,
        "error",
        "invalid JSON",
        {"home/.claude.json": {"numStartups": 3}},
    ),
    Case(
        "user-settings-syntax",
        "invalid-file",
        {"home/.claude/settings.json": '{\n  "model": "sonnet"\n  "env": {}\n}\n'},
        "home/.claude/settings.json",
        3,
        "error",
        "invalid JSON",
        {"home/.claude/settings.json": {"model": "sonnet", "env": {}}},
    ),
    Case(
        "settings-not-an-object",
        "invalid-file",
        {f"{P}/.claude/settings.json": '["Bash(npm test)"]\n'},
        f"{P}/.claude/settings.json",
        1,
        "error",
        "not a JSON object",
        {f"{P}/.claude/settings.json": {"permissions": {"allow": ["Bash(npm test)"]}}},
    ),
    Case(
        "plugins-manifest-syntax",
        "invalid-file",
        {"home/.claude/plugins/installed_plugins.json": '{"version": 2, "plugins": {\n'},
        "home/.claude/plugins/installed_plugins.json",
        2,
        "error",
        "invalid JSON",
        {"home/.claude/plugins/installed_plugins.json": {"version": 2, "plugins": {}}},
    ),
    Case(
        "codex-hooks-json-syntax",
        "invalid-file",
        {f"{P}/.codex/hooks.json": '{"hooks": {"Stop": [}}\n'},
        f"{P}/.codex/hooks.json",
        1,
        "error",
        "invalid JSON",
        {f"{P}/.codex/hooks.json": {"hooks": {}}},
    ),
    Case(
        "project-config-toml-syntax",
        "invalid-file",
        {f"{P}/.codex/config.toml": 'model = "gpt-5.6"\n[mcp_servers.a\ncommand = "npx"\n'},
        f"{P}/.codex/config.toml",
        2,
        "error",
        "invalid TOML",
        {f"{P}/.codex/config.toml": 'model = "gpt-5.6"\n[mcp_servers.a]\ncommand = "npx"\n'},
    ),
    Case(
        "codex-agent-toml-syntax",
        "invalid-file",
        {f"{P}/.codex/agents/reviewer.toml": 'name = "reviewer"\ninstructions = """\n'},
        f"{P}/.codex/agents/reviewer.toml",
        2,
        "error",
        "invalid TOML",
        {f"{P}/.codex/agents/reviewer.toml": 'name = "reviewer"\ninstructions = "Review."\n'},
    ),
    Case(
        "subagent-yaml",
        "invalid-file",
        {f"{P}/.claude/agents/a.md": "---\nname: a\ndescription: [Reviews\n---\n\nBody.\n"},
        f"{P}/.claude/agents/a.md",
        4,
        "error",
        "front matter in this subagent",
        {f"{P}/.claude/agents/a.md": AGENT.format(name="a")},
    ),
    Case(
        "rule-unclosed-fence",
        "invalid-file",
        {f"{P}/.claude/rules/api.md": '---\npaths:\n  - "src/**"\n\n# API rules\n'},
        f"{P}/.claude/rules/api.md",
        1,
        "error",
        "no closing '---'",
        {f"{P}/.claude/rules/api.md": '---\npaths:\n  - "src/**"\n---\n\n# API rules\n'},
    ),
    Case(
        "command-yaml",
        "invalid-file",
        {f"{P}/.claude/commands/ship.md": "---\ndescription: Ship it\n  bad: indent: here\n---\n"},
        f"{P}/.claude/commands/ship.md",
        3,
        "error",
        "front matter in this command",
        {f"{P}/.claude/commands/ship.md": "---\ndescription: Ship it\n---\nShip.\n"},
    ),
    Case(
        "output-style-not-a-mapping",
        "invalid-file",
        {"home/.claude/output-styles/terse.md": "---\n- Terse\n---\nShort answers.\n"},
        "home/.claude/output-styles/terse.md",
        2,
        "error",
        "not a mapping",
        {"home/.claude/output-styles/terse.md": "---\nname: Terse\n---\nShort answers.\n"},
    ),
    Case(
        "skill-yaml",
        "invalid-file",
        {"home/.agents/skills/a/SKILL.md": "---\nname: a\ndescription: 'unclosed\n---\n"},
        "home/.agents/skills/a/SKILL.md",
        4,
        "error",
        "front matter in this skill",
        {"home/.agents/skills/a/SKILL.md": SKILL.format(name="a")},
    ),
    # missing-field
    Case(
        "subagent-without-name",
        "missing-field",
        {f"{P}/.claude/agents/a.md": "---\ndescription: Reviews.\n---\n\nBody.\n"},
        f"{P}/.claude/agents/a.md",
        1,
        "error",
        "has no name",
        {f"{P}/.claude/agents/a.md": AGENT.format(name="a")},
    ),
    Case(
        "subagent-without-front-matter",
        "missing-field",
        {"home/.claude/agents/helper.md": "You help.\n"},
        "home/.claude/agents/helper.md",
        1,
        "error",
        "no name or description",
        {"home/.claude/agents/helper.md": AGENT.format(name="helper")},
    ),
    Case(
        "claude-skill-without-front-matter",
        "missing-field",
        {f"{P}/.claude/skills/notes/SKILL.md": "# Notes\n\nTake notes.\n"},
        f"{P}/.claude/skills/notes/SKILL.md",
        None,
        "warning",
        "no description",
        {f"{P}/.claude/skills/notes/SKILL.md": SKILL.format(name="notes")},
    ),
    Case(
        "codex-skill-without-description",
        "missing-field",
        {f"{P}/.agents/skills/lint/SKILL.md": "---\nname: lint\n---\n\nLint.\n"},
        f"{P}/.agents/skills/lint/SKILL.md",
        1,
        "error",
        "Codex does not load",
        {f"{P}/.agents/skills/lint/SKILL.md": SKILL.format(name="lint")},
    ),
    # mcp-command-missing
    Case(
        "codex-user-server",
        "mcp-command-missing",
        {"home/.codex/config.toml": '[mcp_servers.db]\ncommand = "no-such-db-mcp"\n'},
        "home/.codex/config.toml",
        1,
        "error",
        "'no-such-db-mcp'",
        {"home/.codex/config.toml": '[mcp_servers.db]\ncommand = "uvx"\n'},
    ),
    Case(
        "claude-json-user-server",
        "mcp-command-missing",
        {"home/.claude.json": {"mcpServers": {"mem": {"command": "no-such-memory"}}}},
        "home/.claude.json",
        3,
        "error",
        "'no-such-memory'",
        {"home/.claude.json": {"mcpServers": {"mem": {"command": "npx"}}}},
    ),
    Case(
        "relative-path-command",
        "mcp-command-missing",
        {f"{P}/.mcp.json": mcp({"local": {"command": "./bin/server"}})},
        f"{P}/.mcp.json",
        3,
        "error",
        "'./bin/server'",
        {f"{P}/bin/server": "#!/bin/sh\n"},
    ),
    # plaintext-secret
    Case(
        "shaped-key-in-claude-md",
        "plaintext-secret",
        {f"{P}/CLAUDE.md": f"# p\n\nDeploy with {AWS}.\n"},
        f"{P}/CLAUDE.md",
        3,
        "error",
        "AWS access key id",
        {f"{P}/CLAUDE.md": "# p\n\nDeploy with the key in $AWS_ACCESS_KEY_ID.\n"},
    ),
    Case(
        "literal-bearer-header",
        "plaintext-secret",
        {
            f"{P}/.mcp.json": mcp(
                {
                    "api": {
                        "url": "https://x.test/mcp",
                        "headers": {"Authorization": "Bearer abcdefgh12345678"},
                    }
                }
            )
        },
        f"{P}/.mcp.json",
        6,
        "error",
        "literal value of Authorization",
        {
            f"{P}/.mcp.json": mcp(
                {
                    "api": {
                        "url": "https://x.test/mcp",
                        "headers": {"Authorization": "Bearer ${TOKEN}"},
                    }
                }
            )
        },
    ),
    Case(
        "codex-bearer-token",
        "plaintext-secret",
        {"home/.codex/config.toml": CODEX_API + 'bearer_token = "abc"\n'},
        "home/.codex/config.toml",
        3,
        "error",
        "bearer token",
        {"home/.codex/config.toml": CODEX_API + 'bearer_token_env_var = "API"\n'},
    ),
    Case(
        "key-in-a-server-url",
        "plaintext-secret",
        {f"{P}/.mcp.json": mcp({"maps": {"url": "https://x.test/?key=AIza" + "B" * 35}})},
        f"{P}/.mcp.json",
        4,
        "error",
        "Google API key",
        {f"{P}/.mcp.json": mcp({"maps": {"url": "https://x.test/?key=${MAPS_KEY}"}})},
    ),
    Case(
        "token-in-user-settings-env",
        "plaintext-secret",
        {"home/.claude/settings.json": {"env": {"JIRA_TOKEN": "not-a-reference-1234"}}},
        "home/.claude/settings.json",
        3,
        "error",
        "literal value of JIRA_TOKEN",
        {"home/.claude/settings.json": {"env": {"JIRA_TOKEN": "${JIRA_TOKEN}"}}},
    ),
    Case(
        "private-key-in-a-skill",
        "plaintext-secret",
        {
            f"{P}/.claude/skills/ssh/SKILL.md": SKILL.format(name="ssh")
            + "\n-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n"
        },
        f"{P}/.claude/skills/ssh/SKILL.md",
        8,
        "error",
        "private key",
        {f"{P}/.claude/skills/ssh/SKILL.md": SKILL.format(name="ssh")},
    ),
    Case(
        "token-in-a-hook-script",
        "plaintext-secret",
        {f"{P}/.claude/hooks/notify.sh": f"#!/bin/sh\ncurl -H 'token: {GITHUB}' x\n"},
        f"{P}/.claude/hooks/notify.sh",
        2,
        "error",
        "GitHub token",
        {f"{P}/.claude/hooks/notify.sh": '#!/bin/sh\ncurl -H "token: $GH_TOKEN" x\n'},
    ),
    Case(
        "key-in-auto-memory",
        "plaintext-secret",
        {"home/.claude/projects/{memory}/memory/MEMORY.md": f"- the key is {AWS}\n"},
        "home/.claude/projects/{memory}/memory/MEMORY.md",
        1,
        "error",
        "AWS access key id",
        {"home/.claude/projects/{memory}/memory/MEMORY.md": "- the key is in 1Password\n"},
    ),
    # broad-permission
    Case(
        "bash-star",
        "broad-permission",
        {f"{P}/.claude/settings.local.json": {"permissions": {"allow": ["Bash(*)"]}}},
        f"{P}/.claude/settings.local.json",
        4,
        "warning",
        "allow rule 'Bash(*)'",
        {f"{P}/.claude/settings.local.json": {"permissions": {"allow": ["Bash(npm test)"]}}},
    ),
    Case(
        "user-bash-legacy-star",
        "broad-permission",
        {"home/.claude/settings.json": {"permissions": {"allow": ["Read", "Bash(:*)"]}}},
        "home/.claude/settings.json",
        5,
        "warning",
        "every shell command",
        {"home/.claude/settings.json": {"permissions": {"allow": ["Read", "Bash(git status)"]}}},
    ),
    Case(
        "bypass-permissions-mode",
        "broad-permission",
        {"home/.claude/settings.json": {"permissions": {"defaultMode": "bypassPermissions"}}},
        "home/.claude/settings.json",
        3,
        "error",
        "bypassPermissions",
        {"home/.claude/settings.json": {"permissions": {"defaultMode": "acceptEdits"}}},
    ),
    Case(
        "codex-danger-full-access-asks",
        "broad-permission",
        {"home/.codex/config.toml": 'sandbox_mode = "danger-full-access"\n'},
        "home/.codex/config.toml",
        1,
        "warning",
        "danger-full-access",
        {"home/.codex/config.toml": 'sandbox_mode = "workspace-write"\n'},
    ),
    Case(
        "codex-profile-danger-never",
        "broad-permission",
        {
            f"{P}/.codex/config.toml": '[profiles.yolo]\napproval_policy = "never"\n'
            'sandbox_mode = "danger-full-access"\n'
        },
        f"{P}/.codex/config.toml",
        3,
        "error",
        "profiles.yolo.",
        {f"{P}/.codex/config.toml": '[profiles.yolo]\napproval_policy = "never"\n'},
    ),
    # ignored-rule
    *(
        Case(
            f"ignored-{tool}-rule-in-{key}",
            "ignored-rule",
            {f"{P}/.claude/settings.json": {"permissions": {key: [f"{tool}(./docs/**)"]}}},
            f"{P}/.claude/settings.json",
            4,
            "warning",
            f"{tool}(...)",
            {f"{P}/.claude/settings.json": {"permissions": {key: ["Edit(./docs/**)"]}}},
        )
        for tool, key in (
            ("Write", "allow"),
            ("NotebookEdit", "ask"),
            ("Glob", "deny"),
            ("MultiEdit", "deny"),
        )
    ),
    # deprecated-setting
    Case(
        "codex-on-failure",
        "deprecated-setting",
        {"home/.codex/config.toml": 'model = "gpt-5.6"\napproval_policy = "on-failure"\n'},
        "home/.codex/config.toml",
        2,
        "warning",
        "legacy",
        {"home/.codex/config.toml": 'model = "gpt-5.6"\napproval_policy = "on-request"\n'},
    ),
    Case(
        "codex-untrusted-in-a-project",
        "deprecated-setting",
        {f"{P}/.codex/config.toml": 'approval_policy = "untrusted"\n'},
        f"{P}/.codex/config.toml",
        1,
        "error",
        "no longer supported",
        {f"{P}/.codex/config.toml": 'approval_policy = "granular"\n'},
    ),
    Case(
        "co-authored-by",
        "deprecated-setting",
        {"home/.claude/settings.json": {"model": "opus", "includeCoAuthoredBy": True}},
        "home/.claude/settings.json",
        3,
        "warning",
        "includeCoAuthoredBy",
        {"home/.claude/settings.json": {"model": "opus", "attribution": {"commit": ""}}},
    ),
    Case(
        "custom-prompts",
        "deprecated-setting",
        {"home/.codex/prompts/fix.md": "Fix the failing test.\n"},
        "home/.codex/prompts",
        None,
        "warning",
        "1 custom prompt(s)",
        {
            "home/.codex/prompts/fix.md": "",
            "home/.agents/skills/fix/SKILL.md": SKILL.format(name="fix"),
        },
    ),
    Case(
        "legacy-codex-skills",
        "deprecated-setting",
        {"home/.codex/skills/old/SKILL.md": SKILL.format(name="old")},
        "home/.codex/skills",
        None,
        "warning",
        "older location",
        {
            "home/.codex/skills/old/SKILL.md": "",
            "home/.agents/skills/old/SKILL.md": SKILL.format(name="old"),
        },
    ),
    # instruction-too-large
    Case(
        "claude-local-md-over-40k",
        "instruction-too-large",
        {f"{P}/CLAUDE.local.md": "- a note I keep locally\n" * 1800},
        f"{P}/CLAUDE.local.md",
        None,
        "warning",
        "43,200 characters",
        {f"{P}/CLAUDE.local.md": "- a note I keep locally\n" * 100},
    ),
    Case(
        "agents-md-chain-over-the-limit",
        "instruction-too-large",
        {
            f"{P}/AGENTS.md": "# root\n" + "x" * 20_000 + "\n",
            f"{P}/apps/web/AGENTS.md": "# web\n" + "y" * 20_000 + "\n",
        },
        f"{P}/apps/web/AGENTS.md",
        None,
        "warning",
        "chain to here is 40,015 bytes",
        {f"{P}/.codex/config.toml": "project_doc_max_bytes = 65536\n"},
    ),
    Case(
        "agents-md-over-the-users-own-limit",
        "instruction-too-large",
        {"home/.codex/config.toml": "project_doc_max_bytes = 1000\n", f"{P}/AGENTS.md": "z" * 1200},
        f"{P}/AGENTS.md",
        None,
        "warning",
        "at most 1,000 bytes",
        {"home/.codex/config.toml": "project_doc_max_bytes = 2000\n"},
    ),
    Case(
        "skill-when-to-use-too-long",
        "instruction-too-large",
        {
            "home/.claude/skills/big/SKILL.md": "---\nname: big\ndescription: Short.\nwhen_to_use: "
            + "When asked. " * 140
            + "\n---\n"
        },
        "home/.claude/skills/big/SKILL.md",
        3,
        "warning",
        "cuts them at 1,536",
        {"home/.claude/skills/big/SKILL.md": SKILL.format(name="big")},
    ),
    # hook-script-missing
    Case(
        "project-dir-hook",
        "hook-script-missing",
        {
            f"{P}/.claude/settings.json": {
                "hooks": {
                    "Stop": [
                        {
                            "hooks": [
                                {"type": "command", "command": "$CLAUDE_PROJECT_DIR/hooks/done.sh"}
                            ]
                        }
                    ]
                }
            }
        },
        f"{P}/.claude/settings.json",
        8,
        "error",
        "hooks/done.sh",
        {f"{P}/hooks/done.sh": "#!/bin/sh\n"},
    ),
    Case(
        "interpreter-with-relative-script",
        "hook-script-missing",
        {
            f"{P}/.claude/settings.json": {
                "hooks": {
                    "PreToolUse": [
                        {
                            "matcher": "Bash",
                            "hooks": [
                                {"type": "command", "command": "python3 scripts/guard.py --strict"}
                            ],
                        }
                    ]
                }
            }
        },
        f"{P}/.claude/settings.json",
        9,
        "error",
        "scripts/guard.py",
        {f"{P}/scripts/guard.py": "print('ok')\n"},
    ),
    Case(
        "user-hook-in-home",
        "hook-script-missing",
        {
            "home/.claude/settings.json": {
                "hooks": {
                    "SessionStart": [{"hooks": [{"type": "command", "command": "~/bin/hello.sh"}]}]
                }
            }
        },
        "home/.claude/settings.json",
        8,
        "error",
        "hello.sh",
        {"home/bin/hello.sh": "#!/bin/sh\n"},
    ),
    Case(
        "codex-hooks-json",
        "hook-script-missing",
        {
            f"{P}/.codex/hooks.json": {
                "hooks": {
                    "Stop": [{"hooks": [{"type": "command", "command": "bash ./.codex/stop.sh"}]}]
                }
            }
        },
        f"{P}/.codex/hooks.json",
        8,
        "error",
        "stop.sh",
        {f"{P}/.codex/stop.sh": "#!/bin/sh\n"},
    ),
    # duplicate-name
    Case(
        "user-subagent-shadowed-by-project",
        "duplicate-name",
        {
            "home/.claude/agents/reviewer.md": AGENT.format(name="reviewer"),
            f"{P}/.claude/agents/reviewer.md": AGENT.format(name="reviewer"),
        },
        "home/.claude/agents/reviewer.md",
        None,
        "warning",
        "subagent 'reviewer' (user) is shadowed",
        {"home/.claude/agents/reviewer.md": AGENT.format(name="general-reviewer")},
    ),
    Case(
        "project-server-shadowed-by-local",
        "duplicate-name",
        {
            f"{P}/.mcp.json": mcp({"db": {"command": "npx"}}),
            "home/.claude.json": {
                "projects": {"{project}": {"mcpServers": {"db": {"command": "uvx"}}}}
            },
        },
        f"{P}/.mcp.json",
        3,
        "warning",
        "mcp-server 'db' (project) is shadowed",
        {f"{P}/.mcp.json": mcp({"db-readonly": {"command": "npx"}})},
    ),
    Case(
        "codex-user-skill-shadowed-by-project",
        "duplicate-name",
        {
            "home/.agents/skills/fmt/SKILL.md": SKILL.format(name="fmt"),
            f"{P}/.agents/skills/fmt/SKILL.md": SKILL.format(name="fmt") + "\nProject rules.\n",
        },
        "home/.agents/skills/fmt/SKILL.md",
        None,
        "warning",
        "skill 'fmt' (user) is shadowed",
        {f"{P}/.agents/skills/fmt/SKILL.md": SKILL.format(name="fmt-project")},
    ),
    Case(
        "command-shadowed-by-skill",
        "duplicate-name",
        {
            f"{P}/.claude/commands/deploy.md": "Deploy.\n",
            f"{P}/.claude/skills/deploy/SKILL.md": SKILL.format(name="deploy"),
        },
        f"{P}/.claude/commands/deploy.md",
        None,
        "warning",
        "by the skill",
        {f"{P}/.claude/commands/deploy.md": "", f"{P}/.claude/commands/redeploy.md": "Again.\n"},
    ),
    # skill-drift
    Case(
        "project-skill-copies-differ",
        "skill-drift",
        {
            f"{P}/.claude/skills/fmt/SKILL.md": SKILL.format(name="fmt"),
            f"{P}/.agents/skills/fmt/SKILL.md": SKILL.format(name="fmt") + "Older copy.\n",
        },
        f"{P}/.agents/skills/fmt/SKILL.md",
        None,
        "warning",
        "differs between Claude Code",
        {f"{P}/.agents/skills/fmt/SKILL.md": SKILL.format(name="fmt")},
    ),
    # no-instructions
    Case(
        "project-with-only-mcp",
        "no-instructions",
        {"work/q/.mcp.json": mcp({"a": {"command": "npx"}})},
        "work/q",
        None,
        "info",
        "project 'q' has no CLAUDE.md or AGENTS.md",
        {"work/q/CLAUDE.local.md": "- notes\n"},
    ),
]


def _expand(files: Files, root: Path) -> Files:
    project = str(root / P)
    memory = "".join(c if c.isalnum() else "-" for c in project)
    out: Files = {}
    for rel, content in files.items():
        rel = rel.replace("{memory}", memory)
        if isinstance(content, dict):
            content = json.loads(json.dumps(content).replace("{project}", project))
        out[rel] = content
    return out


def _scan(root: Path, case: Case, fixed: bool) -> ScanReport:
    files = _expand({**BASE, **case.files}, root)
    report = scan_files(root, files, executable=case.executable)
    if not fixed:
        return report
    for rel, content in _expand(case.fixed, root).items():
        if content == "":
            (root / rel).unlink()
            del files[rel]
        else:
            files[rel] = content
    return scan_files(root, files)


def _rel(root: Path, path: str) -> str:
    return str(Path(path).relative_to(root)) if path.startswith(str(root)) else path


def test_every_kind_has_cases() -> None:
    assert {c.kind for c in CASES} == set(KINDS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_fires(tmp_path: Path, case: Case) -> None:
    report = _scan(tmp_path, case, fixed=False)
    path = _expand({case.path: ""}, tmp_path).popitem()[0]
    hits = [f for f in report.findings if f.kind == case.kind and _rel(tmp_path, f.path) == path]
    matching = [f for f in hits if case.part in f.message]
    assert matching, f"no {case.kind} at {path} saying {case.part!r}: {report.findings}"
    found = matching[0]
    assert (found.line, found.severity) == (case.line, case.severity)
    assert found.fix and found.fix != found.message
    assert found.cost == KINDS[case.kind].cost(found.severity)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_silent_once_fixed(tmp_path: Path, case: Case) -> None:
    report = _scan(tmp_path, case, fixed=True)
    assert [f for f in report.findings if f.kind == case.kind] == []
