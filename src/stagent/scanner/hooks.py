"""Hooks declared in settings, ``hooks.json`` files and skill or subagent front matter."""

from __future__ import annotations

import json
import os
from typing import Any

from stagent.scanner import secrets
from stagent.scanner.collect import FileContext
from stagent.scanner.parse import as_dict, as_list, digest, line_of, parse_json

_SECRET_FIX = (
    "Rotate the secret and take it out of the hook's command: let the script read it from an "
    "environment variable or a secret manager"
)


def hook_artifacts(
    ctx: FileContext, hooks: object, *, source: str, secrets_found: bool = True
) -> int:
    """One ``hook`` artifact per handler of ``{Event: [{matcher, hooks: [handler]}]}``.

    A shaped secret in a handler's command or URL is redacted and, with ``secrets_found``,
    reported (Markdown parsers pass False: they report every secret in the file's text)."""
    count = 0
    if not hooks:
        return count
    for event, groups in as_dict(hooks).items():
        for group in as_list(groups):
            spec = as_dict(group)
            matcher = str(spec.get("matcher") or "")
            for handler in as_list(spec.get("hooks")):
                spec_handler = as_dict(handler)
                if spec_handler:
                    _one(ctx, event, matcher, spec_handler, source, secrets_found)
                    count += 1
    return count


def _one(
    ctx: FileContext,
    event: str,
    matcher: str,
    handler: dict[str, Any],
    source: str,
    secrets_found: bool,
) -> None:
    kind = str(handler.get("type") or "command")
    target = handler.get("command") or handler.get("url") or handler.get("prompt") or ""
    target = str(target)
    meta: dict[str, Any] = {
        "event": event,
        "matcher": matcher or "*",
        "type": kind,
        "command": secrets.redact_text(target) if kind == "command" else None,
        "url": secrets.redact_text(target) if kind == "http" else None,
        "timeout": handler.get("timeout"),
        "source": source,
    }
    if ctx.where.extra and isinstance(ctx.where.extra, str):
        meta["plugin_root"] = ctx.where.extra
    name = f"{event} {matcher}".strip() if matcher and matcher != "*" else event
    line = (
        (line_of(ctx.text, target) or line_of(ctx.text, json.dumps(target)[1:-1]))
        if target
        else None
    )
    ctx.artifact("hook", name, meta, line=line, content_hash=digest(meta))
    kind = secrets.kind_of_value(target) if secrets_found and target else None
    if kind is not None:
        ctx.finding(
            "plaintext-secret",
            "error",
            line,
            f"{kind} in plain text in the {event} hook's command (value redacted)",
            _SECRET_FIX,
        )


def hooks_json(ctx: FileContext) -> None:
    """A ``hooks.json`` file (Claude Code plugins, Codex): ``{"hooks": {Event: [...]}}``."""
    data, error = parse_json(ctx.text)
    if error is not None:
        ctx.invalid("JSON", error, f"Fix the JSON syntax in {os.path.basename(ctx.path)}")
        return
    table = as_dict(data)
    hook_artifacts(ctx, table.get("hooks", table), source=os.path.basename(ctx.path))
