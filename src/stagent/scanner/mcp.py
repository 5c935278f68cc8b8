"""MCP server entries, from ``.mcp.json``, ``~/.claude.json`` and Codex ``config.toml``."""

from __future__ import annotations

from typing import Any

from stagent.scanner import secrets
from stagent.scanner.collect import FileContext
from stagent.scanner.parse import as_dict, as_list, digest, line_of
from stagent.scanner.report import Scope

CLAUDE_SECRET_FIX = (
    "Rotate the secret, set it in your shell or a secret manager, and reference it as "
    "${NAME} (Claude Code expands ${VAR} in command, args, env, url and headers)"
)
CODEX_SECRET_FIX = (
    "Rotate the secret and remove it from config.toml: pass it through with "
    'env_vars = ["NAME"], or bearer_token_env_var = "NAME" for a remote server'
)


def server(
    ctx: FileContext,
    name: str,
    entry: object,
    where: str,
    *,
    scope: Scope | None = None,
    project: str | None = None,
) -> None:
    """One ``mcp-server`` artifact with its env and headers redacted, and its secret findings."""
    spec = as_dict(entry)
    if not spec:
        return
    codex = ctx.where.tool == "codex"
    env = as_dict(spec.get("env"))
    headers_key = "http_headers" if codex else "headers"
    headers = as_dict(spec.get(headers_key))
    args = as_list(spec.get("args"))
    url = spec.get("url")
    meta: dict[str, Any] = {
        "transport": str(spec.get("type") or ("http" if url else "stdio")),
        "command": spec.get("command"),
        "args": secrets.redact_list(args),
        "env": secrets.redact_mapping(env),
        "url": secrets.redact_text(url) if isinstance(url, str) else None,
        "headers": secrets.redact_mapping(headers),
    }
    for key in ("enabled", "bearer_token_env_var", "env_vars", "startup_timeout_sec"):
        if key in spec:
            meta[key] = spec[key]
    ctx.artifact(
        "mcp-server",
        name,
        meta,
        line=line_of(ctx.text, f'"{name}"') or line_of(ctx.text, f"mcp_servers.{name}"),
        content_hash=digest(meta),
        scope=scope,
        project=project,
    )
    hits = [
        *secrets.scan_mapping(env, f"{where}.env"),
        *secrets.scan_mapping(headers, f"{where}.{headers_key}"),
        *secrets.scan_list(args, f"{where}.args"),
    ]
    if isinstance(url, str) and secrets.kind_of_value(url):
        hits.append(secrets.SecretHit(secrets.kind_of_value(url) or "", f"{where}.url", url))
    if codex and isinstance(spec.get("bearer_token"), str):
        token = str(spec["bearer_token"])
        hits.append(secrets.SecretHit("bearer token", f"{where}.bearer_token", token))
    ctx.secret_hits(hits, CODEX_SECRET_FIX if codex else CLAUDE_SECRET_FIX)


def servers(ctx: FileContext, table: object, where: str, **kw: Any) -> None:
    """Every server of an ``mcpServers`` / ``mcp_servers`` table."""
    for name, entry in as_dict(table).items():
        server(ctx, name, entry, f"{where}.{name}", **kw)
