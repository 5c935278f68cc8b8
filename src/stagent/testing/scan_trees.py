"""Claude Code and Codex environment trees for the scanner's tests and benchmarks.

`clean_tree` writes a home folder and projects the way both tools lay them out, with files
modelled on real ones and nothing wrong; `broken_tree` writes the same with one instance of every
problem the scanner reports. `fake_bin` makes the commands MCP servers name (``npx``, ``uvx``)
so PATH lookups do not depend on the machine.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

SKILL_PDF = """---
name: pdf-tools
description: Extract text and tables from PDF files, fill PDF forms, merge and split PDFs.
  Use when the user mentions PDFs or forms.
allowed-tools: Bash(python3 *), Read
---

# PDF tools

Use `scripts/extract.py <file>` to get the text; it prints one page per block.
For forms, read `references/forms.md` first.
"""

SKILL_RELEASE = """---
name: release
description: Cut a release - bump the version, update CHANGELOG.md, tag and push.
  Use when asked to release or publish.
---

1. Run the tests: `npm test`.
2. Bump the version in package.json and add a CHANGELOG entry.
3. Commit, tag `vX.Y.Z`, push with tags.
"""

SUBAGENT = """---
name: {name}
description: {description}
tools: Read, Grep, Glob, Bash
model: sonnet
---

You are a careful reviewer. Read the diff, run the tests, and report problems by severity.
"""

COMMAND = """---
description: Create a conventional commit from the staged changes
argument-hint: [scope]
allowed-tools: Bash(git diff *), Bash(git commit *)
---

Look at `git diff --staged` and write a conventional commit message for scope $ARGUMENTS.
"""

RULE = """---
paths:
  - "src/api/**/*.ts"
---

# API rules

- Every handler validates its input with zod.
- Errors are returned as `{ error: { code, message } }`.
"""

OUTPUT_STYLE = """---
name: Terse
description: Short answers, no preamble
---

Answer in as few words as possible. Code first, prose after.
"""

CLAUDE_MD = """# Webapp

- Install: `npm ci`; test: `npm test`; lint: `npm run lint`.
- TypeScript strict; no default exports.
- See @docs/architecture.md for the module map.
"""

AGENTS_MD = """# AGENTS.md

## Setup
- `npm ci`, then `npm test` before every commit.

## Conventions
- TypeScript strict mode, named exports only.
"""

CODEX_CONFIG = """model = "gpt-5.6-terra"
approval_policy = "on-request"
sandbox_mode = "workspace-write"

[sandbox_workspace_write]
network_access = false

[mcp_servers.docs]
command = "uvx"
args = ["mcp-server-fetch"]
env_vars = ["DOCS_API_KEY"]

[profiles.fast]
model = "gpt-5.6-luna"
approval_policy = "on-request"

[projects."{root}/work/webapp"]
trust_level = "trusted"
"""

CODEX_RULES = """# Commands Codex may run outside the sandbox
prefix_rule(pattern = ["npm", "test"], decision = "allow")
prefix_rule(pattern = ["git", "push"], decision = "prompt")
"""

FORMAT_HOOK = (
    '#!/bin/sh\n# format the edited file\nnpx prettier --write "$1" >/dev/null 2>&1 || true\n'
)


def write(path: Path, content: str | dict[str, Any], *, executable: bool = False) -> Path:
    """Write ``content`` (a dict becomes indented JSON), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(content, indent=2) + "\n" if isinstance(content, dict) else content
    path.write_text(text, encoding="utf-8")
    if executable:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def fake_bin(folder: Path, names: tuple[str, ...] = ("npx", "uvx")) -> Path:
    """Executables named ``names`` in ``folder`` (prepend it to PATH)."""
    for name in names:
        write(folder / name, "#!/bin/sh\nexit 0\n", executable=True)
    return folder


def env_for(root: Path) -> dict[str, str]:
    """Environment variables that point every tool's user level into ``root/home``."""
    return {"HOME": str(root / "home")}


def user_level(root: Path) -> None:
    """A clean ``~/.claude``, ``~/.claude.json``, ``~/.codex`` and ``~/.agents/skills``."""
    home = root / "home"
    claude = home / ".claude"
    write(
        claude / "settings.json",
        {
            "$schema": "https://json.schemastore.org/claude-code-settings.json",
            "model": "sonnet",
            "permissions": {
                "allow": ["Bash(npm run test *)", "Bash(git status)", "Read(~/.zshrc)"],
                "deny": ["Read(./.env)", "Read(./secrets/**)"],
                "defaultMode": "acceptEdits",
            },
            "env": {"CLAUDE_CODE_ENABLE_TELEMETRY": "1", "OTEL_METRICS_EXPORTER": "otlp"},
            "hooks": {
                "Notification": [
                    {
                        "matcher": "",
                        "hooks": [{"type": "command", "command": "notify-send Claude 'needs you'"}],
                    }
                ]
            },
            "cleanupPeriodDays": 90,
        },
    )
    write(claude / "CLAUDE.md", "# Me\n\n- Prefer small commits.\n- British spelling in docs.\n")
    write(claude / "skills" / "pdf-tools" / "SKILL.md", SKILL_PDF)
    write(claude / "skills" / "pdf-tools" / "scripts" / "extract.py", "print('pdf')\n")
    write(
        claude / "agents" / "code-reviewer.md",
        SUBAGENT.format(
            name="code-reviewer", description="Reviews diffs for bugs and style. Use after edits."
        ),
    )
    write(claude / "commands" / "commit.md", COMMAND)
    write(claude / "rules" / "api.md", RULE)
    write(claude / "output-styles" / "terse.md", OUTPUT_STYLE)
    plugin = claude / "plugins" / "cache" / "acme" / "deploy-kit" / "1.2.0"
    write(
        claude / "plugins" / "installed_plugins.json",
        {
            "version": 2,
            "plugins": {
                "deploy-kit@acme": [
                    {
                        "scope": "user",
                        "installPath": str(plugin),
                        "version": "1.2.0",
                        "installedAt": "2026-10-01T09:00:00.000Z",
                    }
                ]
            },
        },
    )
    write(plugin / ".claude-plugin" / "plugin.json", {"name": "deploy-kit", "version": "1.2.0"})
    write(plugin / "skills" / "deploy" / "SKILL.md", SKILL_RELEASE.replace("release", "deploy"))
    write(
        plugin / "hooks" / "hooks.json",
        {
            "hooks": {
                "PreToolUse": [
                    {
                        "matcher": "Bash",
                        "hooks": [
                            {"type": "command", "command": "${CLAUDE_PLUGIN_ROOT}/scripts/guard.sh"}
                        ],
                    }
                ]
            }
        },
    )
    write(plugin / "scripts" / "guard.sh", "#!/bin/sh\nexit 0\n", executable=True)
    write(
        home / ".claude.json",
        {
            "numStartups": 12,
            "mcpServers": {
                "memory": {
                    "type": "stdio",
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-memory"],
                }
            },
            "projects": {
                str(root / "work" / "webapp"): {
                    "allowedTools": [],
                    "mcpServers": {
                        "postgres": {
                            "type": "stdio",
                            "command": "npx",
                            "args": ["-y", "@modelcontextprotocol/server-postgres"],
                            "env": {"DATABASE_URL": "${DATABASE_URL}"},
                        }
                    },
                }
            },
        },
    )
    codex = home / ".codex"
    write(codex / "config.toml", CODEX_CONFIG.replace("{root}", str(root)))
    write(codex / "AGENTS.md", "# Global\n\n- Explain commands before running them.\n")
    write(codex / "rules" / "default.rules", CODEX_RULES)
    write(home / ".agents" / "skills" / "pdf-tools" / "SKILL.md", SKILL_PDF)


def webapp(root: Path) -> Path:
    """A clean project with both tools configured, nested docs and a skipped node_modules."""
    p = root / "work" / "webapp"
    write(p / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(p / "CLAUDE.md", CLAUDE_MD)
    write(p / "AGENTS.md", AGENTS_MD)
    write(
        p / ".mcp.json",
        {
            "mcpServers": {
                "github": {
                    "type": "stdio",
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-github"],
                    "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "${GITHUB_TOKEN}"},
                },
                "sentry": {
                    "type": "http",
                    "url": "https://mcp.sentry.dev/mcp",
                    "headers": {"Authorization": "Bearer ${SENTRY_TOKEN}"},
                },
            }
        },
    )
    write(
        p / ".claude" / "settings.json",
        {
            "permissions": {
                "allow": ["Bash(npm run lint)", "Edit(/src/**)"],
                "ask": ["Bash(git push *)"],
            },
            "hooks": {
                "PostToolUse": [
                    {
                        "matcher": "Edit|Write",
                        "hooks": [
                            {
                                "type": "command",
                                "command": '"$CLAUDE_PROJECT_DIR"/.claude/hooks/format.sh',
                                "timeout": 30,
                            }
                        ],
                    }
                ]
            },
        },
    )
    write(p / ".claude" / "settings.local.json", {"permissions": {"allow": ["Bash(npm run dev)"]}})
    write(p / ".claude" / "hooks" / "format.sh", FORMAT_HOOK, executable=True)
    write(p / ".claude" / "skills" / "release" / "SKILL.md", SKILL_RELEASE)
    write(p / ".agents" / "skills" / "release" / "SKILL.md", SKILL_RELEASE)
    write(
        p / ".claude" / "agents" / "test-runner.md",
        SUBAGENT.format(
            name="test-runner", description="Runs the test suite and summarises failures."
        ),
    )
    write(p / ".claude" / "commands" / "ship.md", COMMAND.replace("commit", "ship"))
    write(
        p / ".codex" / "config.toml",
        '[mcp_servers.playwright]\ncommand = "npx"\nargs = ["@playwright/mcp@latest"]\n',
    )
    write(p / "packages" / "ui" / "CLAUDE.md", "# UI package\n\nComponents use Tailwind.\n")
    write(p / "packages" / "ui" / "AGENTS.md", "# UI package\n\nComponents use Tailwind.\n")
    write(p / "node_modules" / "left-pad" / "CLAUDE.md", "# not ours\n")
    write(p / "src" / "index.ts", "export const x = 1;\n")
    return p


def api_project(root: Path) -> Path:
    """A second clean project: Codex-first, CLAUDE.md importing AGENTS.md."""
    p = root / "work" / "api"
    write(p / ".git" / "HEAD", "ref: refs/heads/develop\n")
    write(p / "AGENTS.md", AGENTS_MD.replace("npm", "uv run pytest"))
    write(p / "CLAUDE.md", "@AGENTS.md\n")
    write(
        p / ".agents" / "skills" / "openapi" / "SKILL.md", SKILL_PDF.replace("pdf-tools", "openapi")
    )
    return p


def clean_tree(root: Path) -> Path:
    """A home folder and two projects under ``root/work`` with nothing wrong. Returns the folder
    to scan (``root/work``)."""
    user_level(root)
    webapp(root)
    api_project(root)
    return root / "work"


def broken_tree(root: Path) -> Path:
    """`clean_tree` plus one instance of every problem the scanner reports."""
    work = clean_tree(root)
    home = root / "home"
    p = work / "webapp"
    # invalid-file: JSON, TOML, front matter
    write(
        p / ".claude" / "settings.local.json",
        '{\n  "permissions": {\n    "allow": ["Bash(ls)",]\n  }\n}\n',
    )
    write(work / "tools" / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(work / "tools" / "AGENTS.md", AGENTS_MD)
    write(
        work / "tools" / ".codex" / "config.toml",
        'model = "gpt-5.6-terra"\napproval_policy = on-request\n',
    )
    write(
        p / ".claude" / "skills" / "broken-yaml" / "SKILL.md",
        "---\nname: broken-yaml\ndescription: [unclosed\n---\n\nBody.\n",
    )
    # missing-field: a subagent and a Claude skill without description, a Codex skill without name
    write(p / ".claude" / "agents" / "half-done.md", "---\nname: half-done\n---\n\nDo things.\n")
    write(p / ".claude" / "skills" / "notes" / "SKILL.md", "---\nname: notes\n---\n\nTake notes.\n")
    write(
        p / ".agents" / "skills" / "lint" / "SKILL.md",
        "---\ndescription: Run the linter.\n---\n\nRun it.\n",
    )
    # mcp-command-missing, plaintext-secret, broad-permission, ignored-rule, hook-script-missing
    write(
        p / ".mcp.json",
        {
            "mcpServers": {
                "github": {
                    "command": "npx",
                    "args": ["-y", "@modelcontextprotocol/server-github"],
                    "env": {
                        "GITHUB_PERSONAL_ACCESS_TOKEN": "ghp_"
                        + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
                    },
                },
                "vectors": {"command": "definitely-not-installed-mcp", "args": ["--stdio"]},
            }
        },
    )
    write(
        p / ".claude" / "settings.json",
        {
            "includeCoAuthoredBy": False,
            "permissions": {
                "allow": ["Bash", "Write(./src/**)"],
                "defaultMode": "bypassPermissions",
            },
            "env": {"ANTHROPIC_API_KEY": "sk-ant-api03-" + "Zx9" * 12},
            "hooks": {
                "PreToolUse": [
                    {
                        "matcher": "Bash",
                        "hooks": [
                            {
                                "type": "command",
                                "command": '"$CLAUDE_PROJECT_DIR"/.claude/hooks/check-bash.sh',
                            }
                        ],
                    }
                ]
            },
        },
    )
    # Codex: secret in config, danger-full-access with never, deprecated approval policy
    write(
        home / ".codex" / "config.toml",
        CODEX_CONFIG.replace("{root}", str(root))
        .replace(
            'sandbox_mode = "workspace-write"',
            'sandbox_mode = "danger-full-access"\napproval_policy = "never"',
        )
        .replace('approval_policy = "on-request"\nsandbox', "sandbox")
        .replace(
            '[profiles.fast]\nmodel = "gpt-5.6-luna"\napproval_policy = "on-request"',
            '[profiles.fast]\nmodel = "gpt-5.6-luna"\napproval_policy = "untrusted"',
        )
        .replace(
            'env_vars = ["DOCS_API_KEY"]', 'env = { DOCS_API_KEY = "sk-proj-' + "Q" * 40 + '" }'
        ),
    )
    write(
        home / ".codex" / "prompts" / "review.md",
        "---\ndescription: Review the diff\n---\n\nReview it.\n",
    )
    write(
        home / ".codex" / "skills" / "old-skill" / "SKILL.md",
        "---\nname: old-skill\ndescription: An old skill.\n---\n\nOld.\n",
    )
    # instruction-too-large: CLAUDE.md over 40k chars, AGENTS.md over 32 KiB, a long description
    write(
        work / "api" / "CLAUDE.md", "# API\n\n" + "- Keep handlers small and documented.\n" * 1200
    )
    write(
        work / "api" / "AGENTS.md", "# API\n\n" + "- Run uv run pytest before committing.\n" * 900
    )
    write(
        home / ".claude" / "skills" / "wordy" / "SKILL.md",
        "---\nname: wordy\ndescription: " + "Does many things. " * 100 + "\n---\n\nBody.\n",
    )
    # duplicate-name: a project skill shadowed by a user skill; a command shadowed by a skill
    write(
        home / ".claude" / "skills" / "release" / "SKILL.md", SKILL_RELEASE.replace("Cut", "Make")
    )
    write(home / ".claude" / "commands" / "pdf-tools.md", COMMAND)
    # skill-drift: the Codex copy of a shared skill differs
    write(
        home / ".agents" / "skills" / "pdf-tools" / "SKILL.md",
        SKILL_PDF.replace("PDF tools", "PDF helpers"),
    )
    # no-instructions: a repository with no instruction file
    write(work / "scratch" / ".git" / "HEAD", "ref: refs/heads/main\n")
    return work


def make_env(root: Path, *, path: str | None = None) -> dict[str, str]:
    """A full environment for a subprocess: HOME in ``root``, PATH with the fake commands."""
    env = dict(os.environ)
    env.pop("CLAUDE_CONFIG_DIR", None)
    env.pop("CODEX_HOME", None)
    env["HOME"] = str(root / "home")
    env["PATH"] = path or f"{fake_bin(root / 'bin')}{os.pathsep}{os.environ.get('PATH', '')}"
    return env
