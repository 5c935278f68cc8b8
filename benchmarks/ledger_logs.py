"""Generated Claude Code transcripts for the import benchmark.

Shaped like real sessions (Claude Code 2.1.7x): compact JSON lines; each API response written as
one to three ``assistant`` lines (thinking, text, tool use) sharing ``message.id`` and
``requestId``, the first with message_start's placeholder ``output_tokens``; ``user`` lines
carrying tool results of a few hundred bytes to tens of kilobytes; mostly one-hour cache
writes; a few side-chain replays and long-context requests.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-haiku-4-5", "claude-sonnet-4-6")
FILLER = "lorem ipsum dolor sit amet consectetur adipiscing elit " * 400


def _dump(data: object) -> str:
    return json.dumps(data, separators=(",", ":"))


def _assistant(
    rng: random.Random, session: str, cwd: str, msg: str, req: str, at: datetime, block: int,
    blocks: int, usage: dict[str, object], model: str,
) -> str:  # fmt: skip
    kind = ("thinking", "text", "tool_use")[block % 3]
    size = rng.randint(80, 1500)
    content: dict[str, object] = {"type": kind}
    if kind == "tool_use":
        content |= {"id": f"toolu_{msg}_{block}", "name": "Read", "input": {"file_path": "/x.py"}}
    else:
        content[kind] = FILLER[:size]
    line = {
        "parentUuid": f"p-{msg}-{block}",
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.72",
        "gitBranch": "main",
        "message": {
            "id": msg,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [content],
            "stop_reason": None if block < blocks - 1 else "tool_use",
            "usage": usage if block == blocks - 1 else {**usage, "output_tokens": 1},
        },
        "requestId": req,
        "type": "assistant",
        "uuid": f"u-{msg}-{block}",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
    }
    return _dump(line)


def _user(rng: random.Random, session: str, cwd: str, at: datetime, n: int) -> str:
    size = int(min(60_000, rng.expovariate(1 / 3000)))
    line = {
        "parentUuid": f"q-{session}-{n}",
        "isSidechain": False,
        "userType": "external",
        "cwd": cwd,
        "sessionId": session,
        "version": "2.1.72",
        "gitBranch": "main",
        "type": "user",
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": f"t{n}", "content": FILLER[:size]}],
        },
        "uuid": f"user-{session}-{n}",
        "timestamp": at.isoformat().replace("+00:00", "Z"),
    }
    return _dump(line)


def session_lines(rng: random.Random, index: int, target_bytes: int) -> tuple[str, list[str]]:
    """One session's lines, about ``target_bytes`` long; returns (project dir name, lines)."""
    session = f"{index:08x}-7d30-4c1b-9d2a-0b6e4f7a1c22"
    cwd = f"/home/dev/work/project-{index % 12}"
    at = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=index * 7)
    lines: list[str] = []
    size = 0
    n = 0
    while size < target_bytes:
        n += 1
        at += timedelta(seconds=rng.randint(2, 90))
        msg, req = f"msg_{index:06d}{n:06d}", f"req_{index:06d}{n:06d}"
        context = rng.randint(10_000, 180_000) if rng.random() > 0.02 else 230_000
        usage: dict[str, object] = {
            "input_tokens": rng.randint(1, 40),
            "cache_creation_input_tokens": (write := rng.randint(0, 4000)),
            "cache_read_input_tokens": context,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": write},
            "output_tokens": rng.randint(20, 2500),
            "service_tier": "standard",
            "inference_geo": "",
        }
        model = MODELS[(index + n // 50) % len(MODELS)]
        blocks = rng.randint(1, 3)
        for block in range(blocks):
            line = _assistant(rng, session, cwd, msg, req, at, block, blocks, usage, model)
            lines.append(line)
            size += len(line) + 1
        user = _user(rng, session, cwd, at, n)
        lines.append(user)
        size += len(user) + 1
    return "-home-dev-work-project-" + str(index % 12), lines


def generate(root: Path, total_bytes: int, *, sessions: int = 200, seed: int = 1) -> int:
    """Write about ``total_bytes`` of transcripts under ``root/projects``; returns bytes written."""
    rng = random.Random(seed)
    written = 0
    per = max(1, total_bytes // sessions)
    for index in range(sessions):
        project, lines = session_lines(rng, index, per)
        path = root / "projects" / project / f"{index:08x}-7d30-4c1b-9d2a-0b6e4f7a1c22.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(line + "\n" for line in lines)
        path.write_text(text)
        written += len(text)
    return written


def append_new_turns(root: Path, total_bytes: int, *, seed: int = 2) -> int:
    """Append about ``total_bytes`` of new turns spread over the existing sessions."""
    rng = random.Random(seed)
    files = sorted((root / "projects").rglob("*.jsonl"))
    per = max(1, total_bytes // max(1, len(files)))
    written = 0
    for index, path in enumerate(files):
        _, lines = session_lines(rng, 100_000 + index, per)
        text = "".join(line + "\n" for line in lines)
        with path.open("a") as handle:
            handle.write(text)
        written += len(text)
    return written
