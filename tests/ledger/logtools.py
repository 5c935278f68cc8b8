"""Log lines shaped like the real ones (Claude Code 2.1.71 transcripts, Codex 0.14x rollouts),
written into throwaway config homes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COMPACT = (",", ":")
"""Both tools write compact JSON (JavaScript's and serde's default): no spaces."""


def dumps(data: Any) -> str:
    """One log line, written the way the tools write it."""
    return json.dumps(data, separators=COMPACT)


CWD = "/home/dev/work/site"
SESSION = "5f3c2a10-8f7e-4c1b-9d2a-0b6e4f7a1c22"


def claude_assistant(
    message_id: str,
    request_id: str,
    *,
    model: str = "claude-sonnet-4-5-20250929",
    input_tokens: int = 3,
    output_tokens: int = 120,
    cache_5m: int = 0,
    cache_1h: int = 0,
    cache_read: int = 0,
    timestamp: str = "2026-11-20T10:00:00.000Z",
    session: str = SESSION,
    cwd: str = CWD,
    sidechain: bool = False,
    uuid: str | None = None,
    speed: str | None = None,
    geo: str = "",
    text: str = "Looking at the file.",
) -> str:
    """One ``assistant`` transcript line (one content block of one API response)."""
    usage: dict[str, Any] = {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": cache_5m + cache_1h,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {
            "ephemeral_5m_input_tokens": cache_5m,
            "ephemeral_1h_input_tokens": cache_1h,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
        "inference_geo": geo,
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
    }
    if speed:
        usage["speed"] = speed
    line = {
        "parentUuid": "1d0f6a52-3b8e-4f0c-9a57-2c1b7e5d9f10",
        "isSidechain": sidechain,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.71",
        "gitBranch": "main",
        "slug": "tidy-the-readme",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage,
        },
        "requestId": request_id,
        "type": "assistant",
        "uuid": uuid or f"u-{message_id}-{request_id}-{output_tokens}",
        "timestamp": timestamp,
    }
    return dumps(line)


def claude_user(text: str = "Tidy the README", timestamp: str = "2026-11-20T09:59:58.000Z") -> str:
    """A ``user`` line (not a call)."""
    return dumps(
        {
            "parentUuid": None,
            "isSidechain": False,
            "userType": "external",
            "cwd": CWD,
            "sessionId": SESSION,
            "version": "2.1.71",
            "gitBranch": "main",
            "type": "user",
            "message": {"role": "user", "content": text},
            "uuid": "1d0f6a52-3b8e-4f0c-9a57-2c1b7e5d9f10",
            "timestamp": timestamp,
        }
    )


def claude_transcript(config_dir: Path, lines: list[str], *, name: str = SESSION) -> Path:
    """Write ``lines`` as ``<config>/projects/-home-dev-work-site/<name>.jsonl``."""
    path = config_dir / "projects" / "-home-dev-work-site" / f"{name}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def codex_meta(session: str, *, cwd: str = CWD, ts: str = "2026-11-21T08:00:00.000Z") -> str:
    """A ``session_meta`` line."""
    return dumps(
        {
            "timestamp": ts,
            "type": "session_meta",
            "payload": {
                "id": session,
                "timestamp": ts,
                "cwd": cwd,
                "originator": "codex-tui",
                "cli_version": "0.145.0",
                "source": "cli",
                "model_provider": "openai",
                "git": {"commit_hash": "9c1e2f0", "branch": "main", "repository_url": None},
            },
        }
    )


def codex_turn(model: str = "gpt-5.6-sol", *, ts: str = "2026-11-21T08:00:01.000Z") -> str:
    """A ``turn_context`` line."""
    return dumps(
        {
            "timestamp": ts,
            "type": "turn_context",
            "payload": {
                "model": model,
                "effort": "medium",
                "cwd": CWD,
                "approval_policy": "on-request",
                "sandbox_policy": {"mode": "workspace-write"},
                "summary": "auto",
            },
        }
    )


def codex_tokens(
    total: tuple[int, int, int, int],
    last: tuple[int, int, int, int] | None = None,
    *,
    ts: str = "2026-11-21T08:00:05.000Z",
) -> str:
    """A ``token_count`` event: cumulative (input, cached, output, reasoning) and the last turn's
    own usage (``last``; the cumulative figures for a session's first turn)."""

    def usage(values: tuple[int, int, int, int]) -> dict[str, int]:
        inputs, cached, output, reasoning = values
        return {
            "input_tokens": inputs,
            "cached_input_tokens": cached,
            "output_tokens": output,
            "reasoning_output_tokens": reasoning,
            "total_tokens": inputs + output,
        }

    return dumps(
        {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": usage(total),
                    "last_token_usage": usage(last or total),
                    "model_context_window": 272000,
                },
                "rate_limits": {
                    "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_at": 0},
                    "secondary": None,
                    "plan_type": "plus",
                },
            },
        }
    )


def codex_message(text: str, *, ts: str = "2026-11-21T08:00:04.000Z") -> str:
    """An ``agent_message`` event (not a call)."""
    return dumps(
        {
            "timestamp": ts,
            "type": "event_msg",
            "payload": {"type": "agent_message", "message": text},
        }
    )


def codex_rollout(home: Path, session: str, lines: list[str], *, day: str = "2026/11/21") -> Path:
    """Write ``lines`` as ``<home>/sessions/<day>/rollout-...-<session>.jsonl``."""
    path = home / "sessions" / day / f"rollout-2026-11-21T09-00-00-{session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path
