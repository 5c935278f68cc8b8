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
from typing import Any, cast

import msgspec
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
ASSISTANT = b'"assistant"'
"""Only lines containing both can be calls; others are checked for shape only."""
TIERS = frozenset({"batch", "priority", "flex"})


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


class _Cache(msgspec.Struct, gc=False):
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0


class _Usage(msgspec.Struct, gc=False):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation: _Cache | None = None
    speed: str | None = None
    inference_geo: str | None = None
    service_tier: str | None = None


class _Message(msgspec.Struct, gc=False):
    id: str | None = None
    model: str | None = None
    usage: _Usage | None = None


class _Line(msgspec.Struct, rename="camel", gc=False):
    type: str | None = None
    message: _Message | None = None
    request_id: str | None = None
    session_id: str | None = None
    cwd: str | None = None
    is_sidechain: bool = False
    timestamp: str | None = None
    uuid: str | None = None


_DECODE = msgspec.json.Decoder(_Line).decode
"""The fast path: decodes only the fields a call needs, skipping the rest (content blocks are
most of a line) without building them. A line whose fields have other types than these (a
string count, a negative one...) falls back to the general path, which is the reference."""


def parse_line(line: bytes) -> ImportedCall | None:
    """The call on one transcript line, or None if the line is not a call.

    Raises `MalformedLineError` for a line that is not a JSON object, or a call line that lacks
    what a call needs (a timestamp, a model).
    """
    if MARKER not in line or ASSISTANT not in line:
        stripped = line.strip()
        if stripped and not (stripped[:1] == b"{" and stripped[-1:] == b"}"):
            raise MalformedLineError("not a JSON object")
        return None
    try:
        fast = _DECODE(line)
    except msgspec.DecodeError:
        return _general(line)
    message = fast.message
    if message is None or fast.type != "assistant":
        return None
    usage = message.usage
    model = message.model
    if usage is None or model == "<synthetic>":
        return None
    if not model:
        raise MalformedLineError("an assistant line with usage but no model")
    inputs, outputs = usage.input_tokens, usage.output_tokens
    written, read = usage.cache_creation_input_tokens, usage.cache_read_input_tokens
    if min(inputs, outputs, written, read) < 0:
        return _general(line)
    one_hour = 0
    parts = usage.cache_creation
    if parts is not None:
        one_hour = parts.ephemeral_1h_input_tokens
        five = parts.ephemeral_5m_input_tokens
        if one_hour < 0 or five < 0:
            return _general(line)
        written = max(written, one_hour + five)
    if not (inputs or outputs or written or read):
        return None
    request, session, tier = fast.request_id, fast.session_id, usage.service_tier
    event = UsageEvent(
        model, inputs, outputs, written, min(one_hour, written), read, 0, None,
        usage.speed or None, usage.inference_geo or None, tier if tier in TIERS else None,
        request or None,
    )  # fmt: skip
    if message.id:
        key = "claude-code:" + message.id
    else:
        key = f"claude-code:{session}:{fast.uuid or fast.timestamp}"
    return ImportedCall(
        event,
        parse_timestamp(fast.timestamp),
        key,
        session or None,
        fast.cwd or None,
        fast.is_sidechain,
    )


def _general(line: bytes) -> ImportedCall | None:
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
    if message is None or data.get("type") != "assistant":
        return None
    tokens = as_object(message.get("usage"))
    model = message.get("model")
    if tokens is None or model == "<synthetic>":
        return None
    if not isinstance(model, str) or not model:
        raise MalformedLineError("an assistant line with usage but no model")
    event = _usage(model, tokens, data.get("requestId"))
    if (
        not (event.input_tokens or event.output_tokens or event.cache_write_tokens)
        and not event.cache_read_tokens
    ):
        return None
    session = data.get("sessionId")
    message_id = message.get("id")
    if isinstance(message_id, str) and message_id:
        key = "claude-code:" + message_id
    else:
        key = f"claude-code:{session}:{data.get('uuid') or data.get('timestamp')}"
    cwd = data.get("cwd")
    return ImportedCall(
        event,
        parse_timestamp(data.get("timestamp")),
        key,
        session if isinstance(session, str) and session else None,
        cwd if isinstance(cwd, str) and cwd else None,
        data.get("isSidechain") is True,
    )


def _usage(model: str, usage: dict[str, Any], request_id: object) -> UsageEvent:
    get = usage.get
    written = count(get("cache_creation_input_tokens"))
    one_hour = 0
    breakdown = get("cache_creation")
    if isinstance(breakdown, dict):
        parts = cast("dict[str, Any]", breakdown)
        one_hour = count(parts.get("ephemeral_1h_input_tokens"))
        written = max(written, one_hour + count(parts.get("ephemeral_5m_input_tokens")))
    speed, geo, tier = get("speed"), get("inference_geo"), get("service_tier")
    return UsageEvent(
        model,
        count(get("input_tokens")),
        count(get("output_tokens")),
        written,
        min(one_hour, written),
        count(get("cache_read_input_tokens")),
        0,
        None,
        speed if speed and isinstance(speed, str) else None,
        geo if geo and isinstance(geo, str) else None,
        tier if tier in TIERS else None,
        request_id if request_id and isinstance(request_id, str) else None,
    )
