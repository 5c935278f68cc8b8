"""Where Codex keeps its files, user level and project level, and which parser reads each."""

from __future__ import annotations

import os

from stagent.scanner import codex_config as cfg
from stagent.scanner import markdown as md
from stagent.scanner.collect import Collector, Where, join
from stagent.scanner.findings import finding
from stagent.scanner.hooks import hooks_json
from stagent.scanner.report import Scope
from stagent.scanner.walk import Project

RULES_FILE = md.plain_file("rule")
INSTRUCTION_NAMES = ("AGENTS.override.md", "AGENTS.md")


def scan_user(c: Collector) -> None:
    """``$CODEX_HOME`` (``~/.codex``) and ``~/.agents/skills``."""
    home = str(c.loc.codex_home)
    user = Where("codex", "user")
    c.file(join(home, "config.toml"), cfg.config_toml, user)
    _instructions(c, home, "user", None, "~/")
    c.file(join(home, "hooks.json"), hooks_json, user)
    _skills(c, str(c.loc.agents_skills), "user", None)
    legacy = _skills(c, join(home, "skills"), "user", None)
    if legacy:
        c.add_finding(
            finding(
                "deprecated-setting",
                "warning",
                join(home, "skills"),
                None,
                f"{legacy} skill(s) in the older location ~/.codex/skills",
                f"Move them to {c.loc.agents_skills} (the current user location)",
                tool="codex",
            )
        )
    prompts = _prompts(c, join(home, "prompts"))
    if prompts:
        c.add_finding(
            finding(
                "deprecated-setting",
                "warning",
                join(home, "prompts"),
                None,
                f"{prompts} custom prompt(s): Codex deprecates custom prompts in favour of skills",
                "Turn each prompt into a skill (a folder with SKILL.md: name, description, body)",
                tool="codex",
            )
        )
    rules = join(home, "rules")
    for name, is_dir in (c.listing(rules) or {}).items():
        if not is_dir and name.endswith(".rules"):
            c.file(join(rules, name), RULES_FILE, Where("codex", "user", None, name))
    _agents(c, join(home, "agents"), "user", None)


def scan_system(c: Collector) -> None:
    """``/etc/codex``: the system config layer, managed requirements and admin skills."""
    base = str(c.loc.codex_system)
    if c.listing(base) is None:
        return  # no /etc/codex: one failed stat instead of three
    managed = Where("codex", "managed")
    c.file(join(base, "config.toml"), cfg.config_toml, managed)
    c.file(join(base, "requirements.toml"), cfg.requirements_toml, managed)
    _skills(c, join(base, "skills"), "managed", None)


def scan_project(c: Collector, project: Project) -> None:
    """A project's ``.codex/`` layer, the AGENTS.md chain and ``.agents/skills``."""
    root = project.root
    dot = join(root, ".codex")
    if c.listing(dot) is not None:
        where = Where("codex", "project", root)
        c.file(join(dot, "config.toml"), cfg.config_toml, where)
        c.file(join(dot, "hooks.json"), hooks_json, where)
        _agents(c, join(dot, "agents"), "project", root)
    _instructions(c, root, "project", root, "")
    _skills(c, join(root, ".agents", "skills"), "project", root)
    for sub in project.nested:
        rel = os.path.relpath(sub, root)
        _instructions(c, sub, "project", root, f"{rel}/")
        _skills(c, join(sub, ".agents", "skills"), "project", root, prefix=f"{rel}:")


def _instructions(c: Collector, folder: str, scope: Scope, project: str | None, label: str) -> None:
    """At most one file per folder: AGENTS.override.md wins over AGENTS.md."""
    for name in INSTRUCTION_NAMES:
        if c.file(join(folder, name), md.instruction, Where("codex", scope, project, label + name)):
            return


def _skills(c: Collector, folder: str, scope: Scope, project: str | None, prefix: str = "") -> int:
    count = 0
    for name, is_dir in (c.listing(folder) or {}).items():
        if is_dir and name[0] != ".":
            where = Where("codex", scope, project, f"{prefix}{name}")
            count += c.file(join(folder, name, "SKILL.md"), md.skill, where)
    return count


def _prompts(c: Collector, folder: str) -> int:
    count = 0
    for name, is_dir in (c.listing(folder) or {}).items():
        if not is_dir and name.endswith(".md"):
            count += c.file(join(folder, name), md.prompt, Where("codex", "user", None, name[:-3]))
    return count


def _agents(c: Collector, folder: str, scope: Scope, project: str | None) -> None:
    for name, is_dir in (c.listing(folder) or {}).items():
        if not is_dir and name.endswith(".toml"):
            c.file(join(folder, name), cfg.agent_toml, Where("codex", scope, project, name))
