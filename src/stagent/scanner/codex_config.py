"""Parsers for Codex's TOML files: ``config.toml`` layers and ``agents/*.toml`` subagents."""

from __future__ import annotations

import os
from typing import Any, cast

from stagent.scanner import mcp, secrets
from stagent.scanner.collect import FileContext
from stagent.scanner.parse import as_dict, digest, parse_toml, toml_key_line

DEFAULT_PROJECT_DOC_MAX_BYTES = 32 * 1024
_TOML_SECRET_FIX = (
    "Remove the secret from the file, rotate it, and read it from an environment variable"
)

APPROVAL_ADVICE: dict[str, tuple[str, str, str]] = {
    "untrusted": (
        "error",
        'approval_policy = "untrusted" is no longer supported and may stop Codex from starting',
        'Use approval_policy = "on-request" and mark untrusted projects with '
        '[projects."/path"] trust_level = "untrusted"',
    ),
    "on-failure": (
        "warning",
        'approval_policy = "on-failure" is legacy',
        'Use approval_policy = "on-request" (the default) or "granular"',
    ),
}


def config_toml(ctx: FileContext) -> None:
    """A ``config.toml`` layer (user ``$CODEX_HOME`` or project ``.codex/``)."""
    name = "config.toml"
    data, error = parse_toml(ctx.text)
    if error is not None or data is None:
        ctx.artifact("config", name, {"valid": False})
        if error is not None:
            ctx.invalid("TOML", error, "Fix the TOML syntax; Codex refuses to start with it")
        return
    profiles = as_dict(data.get("profiles"))
    trust = {
        path: as_dict(entry).get("trust_level")
        for path, entry in as_dict(data.get("projects")).items()
    }
    meta: dict[str, Any] = {
        "valid": True,
        "model": data.get("model"),
        "approval_policy": data.get("approval_policy"),
        "sandbox_mode": data.get("sandbox_mode"),
        "profile": data.get("profile"),
        "profiles": sorted(profiles),
        "trust": trust,
        "project_doc_max_bytes": data.get("project_doc_max_bytes"),
        "service_tier": data.get("service_tier"),
        "keys": sorted(data)[:60],
    }
    ctx.artifact("config", name, meta)
    mcp.servers(ctx, data.get("mcp_servers"), "mcp_servers")
    _policy(ctx, data, "")
    for profile, body in profiles.items():
        _policy(ctx, as_dict(body), f"profiles.{profile}.")


def _policy(ctx: FileContext, table: dict[str, Any], prefix: str) -> None:
    policy = table.get("approval_policy")
    advice = APPROVAL_ADVICE.get(str(policy)) if isinstance(policy, str) else None
    if advice is not None:
        severity, message, fix = advice
        ctx.finding(
            "deprecated-setting",
            "error" if severity == "error" else "warning",
            toml_key_line(ctx.text, "approval_policy"),
            f"{prefix}{message}",
            fix,
        )
    if table.get("sandbox_mode") == "danger-full-access":
        never = policy == "never"
        ctx.finding(
            "broad-permission",
            "error" if never else "warning",
            toml_key_line(ctx.text, "sandbox_mode"),
            f'{prefix}sandbox_mode = "danger-full-access" lets commands write anywhere and use '
            "the network" + (', and approval_policy = "never" never asks' if never else ""),
            'Use sandbox_mode = "workspace-write" (add writable_roots or network_access under '
            "[sandbox_workspace_write] if needed)",
        )


def requirements_toml(ctx: FileContext) -> None:
    """Managed ``requirements.toml``: values users may not choose (e.g. approval policies)."""
    data, error = parse_toml(ctx.text)
    if error is not None or data is None:
        ctx.artifact("requirements", "requirements.toml", {"valid": False})
        if error is not None:
            ctx.invalid("TOML", error, "Fix the TOML syntax of requirements.toml")
        return
    meta = _shown(ctx, data, (str, int, float, bool, list))
    ctx.artifact("requirements", "requirements.toml", {"valid": True, **meta})
    ctx.text_secrets(_TOML_SECRET_FIX)


def _shown(ctx: FileContext, data: dict[str, Any], types: tuple[type, ...]) -> dict[str, Any]:
    """The top-level values of ``types`` fit to show: shaped secrets in strings redacted."""
    shown = {k: v for k, v in data.items() if isinstance(v, types)}
    if not ctx.may_hold_secret:
        return shown
    return {k: _redacted(v) for k, v in shown.items()}


def _redacted(value: object) -> object:
    if isinstance(value, str):
        return secrets.redact_text(value)
    if isinstance(value, list):
        return [_redacted(item) for item in cast("list[object]", value)]
    return value


def agent_toml(ctx: FileContext) -> None:
    """A Codex subagent definition (``.codex/agents/<name>.toml``)."""
    data, error = parse_toml(ctx.text)
    label = os.path.splitext(os.path.basename(ctx.path))[0]
    if error is not None or data is None:
        ctx.artifact("subagent", label, {"valid": False})
        if error is not None:
            ctx.invalid("TOML", error, "Fix the TOML syntax of this subagent")
        return
    meta = _shown(ctx, data, (str, int, float, bool))
    meta["valid"] = True
    ctx.artifact("subagent", str(data.get("name") or label), meta, content_hash=digest(meta))
    ctx.text_secrets(_TOML_SECRET_FIX)


def doc_limit(config: dict[str, Any] | None) -> int:
    """``project_doc_max_bytes`` from a parsed config (the default when unset or odd)."""
    value = (config or {}).get("project_doc_max_bytes")
    return value if isinstance(value, int) and value > 0 else DEFAULT_PROJECT_DOC_MAX_BYTES
