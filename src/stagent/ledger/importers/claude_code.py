"""Claude Code transcripts: ``<config dir>/projects/<project>/<session>.jsonl`` (and subagent
files under ``<session>/subagents/``).

One API response is written as several ``assistant`` lines (one per content block) that share
``message.id`` and ``requestId``; early ones may carry a placeholder ``output_tokens``. A ``/btw``
side chain replays parent messages with the same ``message.id`` and a new ``requestId``. So a call
is keyed by its ``message.id`` alone (ccusage's second key, which subsumes its first), and of its
copies the main-chain one with the most tokens is kept (`ImportedCall.better_than`). ``costUSD``
(an old client-side estimate) is ignored: the call is priced from its tokens. Lines of the
``<synthetic>`` model and lines without usage are not calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from stagent.domain.events import UsageEvent
from stagent.ledger.importers.calls import (
    ImportedCall,
    MalformedLineError,
    as_object,
    count,
    parse_timestamp,
)

MARKER = b'"usage"'
"""Only lines containing this can be calls; others are checked for shape only."""


def default_roots() -> list[Path]:
    """Where Claude Code keeps transcripts: every directory in ``CLAUDE_CONFIG_DIR`` (a
    comma-separated list), else ``~/.claude`` and ``~/.config/claude``."""
    configured = os.environ.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        return [Path(part.strip()).expanduser() for part in configured.split(",") if part.strip()]
    home = Path.home()
    return [home / ".claude", home / ".config" / "claude"]


def find_files(roots: list[Path]) -> list[Path]:
    """Every transcript under ``roots`` (a root with a ``projects`` folder is a config dir);
    main transcripts before subagent files, so a call's main-chain copy is the one kept."""
    found: set[Path] = set()
    for root in roots:
        base = root / "projects" if (root / "projects").is_dir() else root
        if base.is_dir():
            found.update(p for p in base.rglob("*.jsonl") if p.is_file())
        elif base.is_file() and base.suffix == ".jsonl":
            found.add(base)
    return sorted(found, key=lambda p: ("subagents" in p.parts, p))


def parse_line(line: bytes) -> ImportedCall | None:
    """The call on one transcript line, or None if the line is not a call.

    Raises `MalformedLineError` for a line that is not a JSON object, or a call line that lacks what
    a call needs (a timestamp, a model).
    """
    if MARKER not in line:
        stripped = line.strip()
        if stripped and not (stripped.startswith(b"{") and stripped.endswith(b"}")):
            raise MalformedLineError("not a JSON object")
        return None
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise MalformedLineError(f"not valid JSON ({exc.msg})") from None
    obj = as_object(data)
    if obj is None:
        raise MalformedLineError("not a JSON object")
    return _call(obj)


def _call(data: dict[str, Any]) -> ImportedCall | None:
    message = as_object(data.get("message"))
    if data.get("type") != "assistant" or message is None:
        return None
    tokens = as_object(message.get("usage"))
    model = message.get("model")
    if tokens is None or model == "<synthetic>":
        return None
    if not isinstance(model, str) or not model:
        raise MalformedLineError("an assistant line with usage but no model")
    at = parse_timestamp(data.get("timestamp"))
    event = _usage(model, tokens, data.get("requestId"))
    if not (event.input_tokens or event.output_tokens or event.cache_write_tokens) and not (
        event.cache_read_tokens
    ):
        return None
    session = data.get("sessionId")
    message_id = message.get("id")
    if isinstance(message_id, str) and message_id:
        key = f"claude-code:{message_id}"
    else:
        key = f"claude-code:{session}:{data.get('uuid') or data.get('timestamp')}"
    cwd = data.get("cwd")
    return ImportedCall(
        usage=event,
        at=at,
        dedupe_key=key,
        session_id=session if isinstance(session, str) and session else None,
        cwd=cwd if isinstance(cwd, str) and cwd else None,
        sidechain=data.get("isSidechain") is True,
    )


def _usage(model: str, usage: dict[str, Any], request_id: object) -> UsageEvent:
    written = count(usage.get("cache_creation_input_tokens"))
    breakdown = as_object(usage.get("cache_creation"))
    one_hour = 0
    if breakdown is not None:
        one_hour = count(breakdown.get("ephemeral_1h_input_tokens"))
        five = count(breakdown.get("ephemeral_5m_input_tokens"))
        written = max(written, one_hour + five)
    speed = usage.get("speed")
    geo = usage.get("inference_geo")
    tier = usage.get("service_tier")
    return UsageEvent(
        model=model,
        input_tokens=count(usage.get("input_tokens")),
        output_tokens=count(usage.get("output_tokens")),
        cache_write_tokens=written,
        cache_write_1h_tokens=min(one_hour, written),
        cache_read_tokens=count(usage.get("cache_read_input_tokens")),
        speed=speed if isinstance(speed, str) and speed else None,
        inference_geo=geo if isinstance(geo, str) and geo else None,
        service_tier=tier if tier in ("batch", "priority", "flex") else None,
        request_id=request_id if isinstance(request_id, str) and request_id else None,
    )
