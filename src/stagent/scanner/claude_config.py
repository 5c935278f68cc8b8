"""Parsers for Claude Code's JSON files: settings, ``.mcp.json``, ``.claude.json``, plugins."""

from __future__ import annotations

import os
import re
from typing import Any, cast

from stagent.scanner import mcp, secrets
from stagent.scanner.collect import FileContext
from stagent.scanner.hooks import hook_artifacts
from stagent.scanner.parse import (
    ParseError,
    as_dict,
    as_list,
    digest,
    json_key_line,
    line_of,
    parse_json,
)

BROAD_BASH = frozenset({"Bash", "Bash(*)", "Bash(:*)", "Bash( *)", "Bash(**)"})
IGNORED_PATH_TOOLS = ("Write", "NotebookEdit", "Glob", "MultiEdit")
_RULE_TOOL = re.compile(r"^([A-Za-z]+)\((.+)\)$")
DEPRECATED_KEYS: dict[str, str] = {
    "includeCoAuthoredBy": 'use "attribution" instead (includeCoAuthoredBy is deprecated)',
}
_SETTINGS_SECRET_FIX = (
    "Rotate the secret and remove it from the settings file; export it in your shell (or use "
    "apiKeyHelper) so it never sits in a file that may be committed"
)


def settings(ctx: FileContext) -> None:
    """``settings.json`` / ``settings.local.json``: permissions, hooks, env."""
    name = os.path.basename(ctx.path)
    data, error = parse_json(ctx.text)
    doc = as_dict(data)
    if error is not None or not isinstance(data, dict):
        ctx.artifact("settings", name, {"valid": False})
        if error is None:
            error = ParseError(1, "the top level is not a JSON object")
        ctx.invalid(
            "JSON", error, f"Fix the JSON in {name} (an object of settings); Claude Code ignores it"
        )
        return
    perms = as_dict(doc.get("permissions"))
    env = as_dict(doc.get("env"))
    hooks = hook_artifacts(ctx, doc.get("hooks"), source=name)
    meta: dict[str, Any] = {
        "valid": True,
        "keys": sorted(doc)[:60],
        "model": doc.get("model"),
        "env": secrets.redact_mapping(env),
        "hooks": hooks,
        "cleanupPeriodDays": doc.get("cleanupPeriodDays"),
    }
    ctx.artifact("settings", name, meta)
    if perms:
        _permissions(ctx, name, perms)
    ctx.secret_hits(secrets.scan_mapping(env, "env"), _SETTINGS_SECRET_FIX)
    for key, advice in DEPRECATED_KEYS.items():
        if key in doc:
            ctx.finding(
                "deprecated-setting",
                "warning",
                json_key_line(ctx.text, key),
                f"{key} is deprecated",
                advice[0].upper() + advice[1:],
            )


def _rules(perms: dict[str, Any], key: str) -> list[str]:
    return [str(v) for v in as_list(perms.get(key))]


def _permissions(ctx: FileContext, name: str, perms: dict[str, Any]) -> None:
    allow, ask, deny = _rules(perms, "allow"), _rules(perms, "ask"), _rules(perms, "deny")
    mode = perms.get("defaultMode")
    meta = {
        "allow": allow,
        "ask": ask,
        "deny": deny,
        "defaultMode": mode,
        "additionalDirectories": perms.get("additionalDirectories"),
    }
    ctx.artifact("permission", f"{name} permissions", meta, content_hash=digest(meta))
    for rule in allow:
        if rule.strip() in BROAD_BASH:
            ctx.finding(
                "broad-permission",
                "warning",
                line_of(ctx.text, f'"{rule}"'),
                f"allow rule {rule!r} lets every shell command run without asking",
                'Allow the commands you need, e.g. "Bash(npm run test *)", "Bash(git status)"',
            )
    if mode == "bypassPermissions":
        ctx.finding(
            "broad-permission",
            "error",
            json_key_line(ctx.text, "defaultMode"),
            'defaultMode "bypassPermissions" runs every tool call without asking',
            'Use "default" or "acceptEdits", and allow specific tools; set '
            'disableBypassPermissionsMode: "disable" to forbid it',
        )
    for rule in (*allow, *ask, *deny):
        match = _RULE_TOOL.match(rule.strip())
        if match and match.group(1) in IGNORED_PATH_TOOLS:
            tool = match.group(1)
            ctx.finding(
                "ignored-rule",
                "warning",
                line_of(ctx.text, f'"{rule}"'),
                f"rule {rule!r} is ignored: Claude Code consults only Read(...) and Edit(...) "
                f"path rules, not {tool}(...)",
                f"Write it as Edit({match.group(2)}) (an Edit rule covers writes), or Read(...)",
            )


def mcp_json(ctx: FileContext) -> None:
    """A project's (or plugin's) ``.mcp.json``: ``{"mcpServers": {name: server}}``."""
    data, error = parse_json(ctx.text)
    if error is not None:
        ctx.invalid("JSON", error, "Fix the JSON syntax in .mcp.json; none of its servers load")
        return
    doc = as_dict(data)
    mcp.servers(ctx, doc.get("mcpServers", doc), "mcpServers")


def claude_json(ctx: FileContext) -> None:
    """``~/.claude.json``: user-scope servers, and local-scope servers of scanned projects.

    ``where.extra`` holds the scanned project roots.
    """
    data, error = parse_json(ctx.text)
    if error is not None:
        ctx.invalid(
            "JSON", error, "Fix the JSON syntax in .claude.json (or let Claude Code rewrite it)"
        )
        return
    doc = as_dict(data)
    mcp.servers(ctx, doc.get("mcpServers"), "mcpServers")
    projects = as_dict(doc.get("projects"))
    for root in project_roots(ctx.where.extra):
        entry = as_dict(projects.get(root))
        mcp.servers(
            ctx,
            entry.get("mcpServers"),
            f"projects[{root}].mcpServers",
            scope="local",
            project=root,
        )


def project_roots(extra: object) -> tuple[str, ...]:
    """The scanned project roots a `Where` carries for ``.claude.json``."""
    if not isinstance(extra, tuple):
        return ()
    return tuple(str(r) for r in cast("tuple[object, ...]", extra))


def installed_plugins(ctx: FileContext) -> None:
    """``plugins/installed_plugins.json`` (version 1: one entry per plugin; 2: a list)."""
    data, error = parse_json(ctx.text)
    if error is not None:
        ctx.invalid("JSON", error, "Reinstall the plugins (claude plugin install ...)")
        return
    for key, installs in as_dict(as_dict(data).get("plugins")).items():
        for install in as_list(installs) or [installs]:
            spec = as_dict(install)
            if not spec:
                continue
            name = key.split("@", 1)[0]
            meta = {
                "id": key,
                "version": spec.get("version"),
                "install_path": spec.get("installPath"),
                "installed_scope": spec.get("scope"),
            }
            ctx.artifact(
                "plugin", name, meta, line=line_of(ctx.text, f'"{key}"'), content_hash=digest(meta)
            )
