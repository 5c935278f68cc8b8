"""Where Claude Code keeps its files, user level and project level, and which parser reads each."""

from __future__ import annotations

import os
import re

from stagent.scanner import claude_config as cfg
from stagent.scanner import markdown as md
from stagent.scanner.collect import Collector, Parser, Where, join
from stagent.scanner.hooks import hooks_json
from stagent.scanner.report import Scope
from stagent.scanner.walk import Project

HOOK_FILE = md.plain_file("hook")
_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]")


def scan_user(c: Collector, project_roots: tuple[str, ...]) -> None:
    """``~/.claude`` (or ``$CLAUDE_CONFIG_DIR``) and ``~/.claude.json``."""
    base = str(c.loc.claude_dir)
    user = Where("claude-code", "user")
    for name in ("settings.json", "settings.local.json"):
        c.file(join(base, name), cfg.settings, user)
    c.file(
        str(c.loc.claude_json), cfg.claude_json, Where("claude-code", "user", extra=project_roots)
    )
    c.file(
        join(base, "CLAUDE.md"), md.instruction, Where("claude-code", "user", label="~/CLAUDE.md")
    )
    _config_dir(c, base, "user", None)
    _plugins(c, base)
    transcripts = c.listing(join(base, "projects")) or {}
    for root in project_roots:
        encoded = _NOT_ALNUM.sub("-", root)
        if encoded not in transcripts:
            continue  # no folder for this project: no memory (one listing, not a failed open each)
        memory = join(base, "projects", encoded, "memory", "MEMORY.md")
        c.file(memory, md.memory, Where("claude-code", "project", root, "MEMORY.md"))


def scan_managed(c: Collector) -> None:
    """Managed settings (``managed-settings.json`` and its ``.d`` drop-ins) and CLAUDE.md."""
    base = str(c.loc.claude_managed)
    if c.listing(base) is None:
        return  # most machines have no managed settings: one failed stat instead of three
    managed = Where("claude-code", "managed")
    c.file(join(base, "managed-settings.json"), cfg.settings, managed)
    drop_ins = join(base, "managed-settings.d")
    for name, is_dir in sorted((c.listing(drop_ins) or {}).items()):
        if not is_dir and name.endswith(".json"):
            c.file(join(drop_ins, name), cfg.settings, managed)
    c.file(
        join(base, "CLAUDE.md"),
        md.instruction,
        Where("claude-code", "managed", label="managed CLAUDE.md"),
    )


def scan_project(c: Collector, project: Project) -> None:
    """A project's ``.claude/``, ``.mcp.json``, the CLAUDE.md chain and nested files."""
    root = project.root
    where = Where("claude-code", "project", root)
    c.file(join(root, ".mcp.json"), cfg.mcp_json, where)
    for name in ("CLAUDE.md", "CLAUDE.local.md"):
        c.file(join(root, name), md.instruction, Where("claude-code", "project", root, name))
    dot = join(root, ".claude")
    if c.listing(dot) is not None:
        for name in ("settings.json", "settings.local.json"):
            c.file(join(dot, name), cfg.settings, where)
        c.file(
            join(dot, "CLAUDE.md"),
            md.instruction,
            Where("claude-code", "project", root, ".claude/CLAUDE.md"),
        )
        _config_dir(c, dot, "project", root)
        hooks_dir = join(dot, "hooks")
        for name, is_dir in (c.listing(hooks_dir) or {}).items():
            if not is_dir:
                c.file(
                    join(hooks_dir, name), HOOK_FILE, Where("claude-code", "project", root, name)
                )
    for sub in project.nested:
        rel = os.path.relpath(sub, root)
        for name in ("CLAUDE.md", "CLAUDE.local.md"):
            c.file(
                join(sub, name),
                md.instruction,
                Where("claude-code", "project", root, f"{rel}/{name}"),
            )
        _skills(c, join(sub, ".claude", "skills"), "project", root, prefix=f"{rel}:")


def _config_dir(c: Collector, base: str, scope: Scope, project: str | None) -> None:
    """The folders ``~/.claude`` and ``.claude`` share: skills, agents, commands, rules, styles."""
    _skills(c, join(base, "skills"), scope, project)
    _markdown_tree(c, join(base, "agents"), md.subagent, scope, project, "")
    _markdown_tree(c, join(base, "commands"), md.command, scope, project, "")
    _markdown_tree(c, join(base, "rules"), md.rule, scope, project, "")
    styles = join(base, "output-styles")
    for name, is_dir in (c.listing(styles) or {}).items():
        if not is_dir and name.endswith(".md"):
            c.file(
                join(styles, name), md.output_style, Where("claude-code", scope, project, name[:-3])
            )


def _skills(
    c: Collector, folder: str, scope: Scope, project: str | None, *, prefix: str = ""
) -> None:
    """``<folder>/<name>/SKILL.md`` for each skill folder."""
    for name, is_dir in (c.listing(folder) or {}).items():
        if is_dir and name[0] != ".":
            where = Where("claude-code", scope, project, f"{prefix}{name}")
            c.file(join(folder, name, "SKILL.md"), md.skill, where)


def _markdown_tree(
    c: Collector, folder: str, parser: Parser, scope: Scope, project: str | None, prefix: str
) -> None:
    """Every ``.md`` file under ``folder``, subfolders included. A subfolder does not change
    the name (``commands/frontend/component.md`` is ``/component``); ``prefix`` is a plugin's
    namespace (``plugin:``)."""
    entries = c.listing(folder)
    if entries is None:
        return
    for name, is_dir in entries.items():
        if is_dir:
            if name[0] != ".":
                _markdown_tree(c, join(folder, name), parser, scope, project, prefix)
        elif name.endswith(".md"):
            c.file(
                join(folder, name),
                parser,
                Where("claude-code", scope, project, f"{prefix}{name[:-3]}"),
            )


def _plugins(c: Collector, base: str) -> None:
    """Installed plugins and what each brings: skills, agents, commands, hooks, MCP servers."""
    manifest = join(base, "plugins", "installed_plugins.json")
    before = len(c.artifacts)
    if not c.file(manifest, cfg.installed_plugins, Where("claude-code", "user")):
        return
    for plugin in c.artifacts[before:]:
        path = plugin.metadata.get("install_path")
        if plugin.category != "plugin" or not isinstance(path, str) or not path:
            continue
        where = Where("claude-code", "plugin", None, plugin.name, extra=path)
        _skills(c, join(path, "skills"), "plugin", None, prefix=f"{plugin.name}:")
        _markdown_tree(c, join(path, "agents"), md.subagent, "plugin", None, f"{plugin.name}:")
        _markdown_tree(c, join(path, "commands"), md.command, "plugin", None, f"{plugin.name}:")
        c.file(join(path, "hooks", "hooks.json"), hooks_json, where)
        c.file(join(path, ".mcp.json"), cfg.mcp_json, where)
