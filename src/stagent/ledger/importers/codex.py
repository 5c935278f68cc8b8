"""Codex rollouts: ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`` (and
``archived_sessions/``).

Each line is ``{timestamp, type, payload}``. ``token_count`` events carry the session's
*cumulative* ``total_token_usage``: a call's tokens are the difference from the previous event of
the same session (an unchanged total is a repeated event, not a call; a total that went down
means the counter restarted, and ``last_token_usage`` is the call). A call is keyed by its session
and the cumulative total it brought the session to, so a forked or subagent rollout that replays
its parent's lines (a ``session_meta`` mid-file switches the session) books nothing twice. The
model comes from the latest ``turn_context``; ``cached_input_tokens`` are part of
``input_tokens`` and ``reasoning_output_tokens`` part of ``output_tokens``. Codex logs have no
cache-write counts, so costs of models that bill cache writes are a lower bound.

Sessions Codex imported from Claude Code (``external_agent_session_imports.json``) are skipped:
the Claude Code importer counts them.
"""

from __future__ import annotations

from typing import Any

import orjson

from stagent.domain.events import UsageEvent
from stagent.ledger.importers.calls import (
    ImportedCall,
    as_object,
    count,
    not_an_object,
    parse_timestamp,
)

MARKERS = (b'"token_count"', b'"turn_context"', b'"session_meta"')
UNKNOWN_MODEL = "codex-unknown-model"
FIELDS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")


class RolloutState:
    """What reading one rollout needs to remember between lines (and between imports)."""

    def __init__(self, stored: dict[str, Any] | None = None, tier: str | None = None) -> None:
        stored = stored or {}
        self.session: str | None = stored.get("session")
        self.cwd: str | None = stored.get("cwd")
        self.model: str | None = stored.get("model")
        self.totals: dict[str, list[int]] = dict(stored.get("totals") or {})
        self.tier = tier

    def dump(self) -> dict[str, Any]:
        """JSON-ready, to resume the next import where this one stopped."""
        return {
            "session": self.session,
            "cwd": self.cwd,
            "model": self.model,
            "totals": self.totals,
        }

    def parse_line(self, line: bytes, fallback_session: str) -> ImportedCall | None:
        """The call on one line (or None); raises `MalformedLineError`."""
        if not any(marker in line for marker in MARKERS):
            stripped = line.strip()
            if stripped and not (stripped.startswith(b"{") and stripped.endswith(b"}")):
                raise not_an_object(stripped)
            return None
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise not_an_object(line) from None
        envelope = as_object(data)
        if envelope is None:
            raise not_an_object(line)
        body = as_object(envelope.get("payload"))
        if body is None:
            return None  # the bare era (before Sept 2025) has no token events worth reading
        kind = envelope.get("type")
        if kind == "session_meta":
            self._meta(body)
        elif kind == "turn_context":
            self.model = _text(body.get("model")) or self.model
            self.cwd = _text(body.get("cwd")) or self.cwd
        elif kind == "event_msg" and body.get("type") == "token_count":
            return self._tokens(envelope, body, fallback_session)
        return None

    def _meta(self, body: dict[str, Any]) -> None:
        session = _text(body.get("id")) or _text(body.get("session_id"))
        if session:
            self.session = session
        self.cwd = _text(body.get("cwd")) or self.cwd

    def _tokens(
        self, envelope: dict[str, Any], body: dict[str, Any], fallback_session: str
    ) -> ImportedCall | None:
        info = as_object(body.get("info"))
        if info is None:
            return None
        total = _usage(info.get("total_token_usage"))
        last = _usage(info.get("last_token_usage"))
        if total is None:
            return None
        session = self.session or fallback_session
        previous = self.totals.get(session)
        if previous is not None and sum(total) < sum(previous):
            delta = last or total  # the counter restarted
        else:
            delta = [now - before for now, before in zip(total, previous or [0] * 4, strict=True)]
        self.totals[session] = total
        if sum(delta) <= 0 or any(value < 0 for value in delta):
            return None
        at = parse_timestamp(envelope.get("timestamp"))
        inputs, cached, output, reasoning = delta
        model = self.model or UNKNOWN_MODEL
        call = ImportedCall(
            usage=UsageEvent(
                model=model,
                input_tokens=max(0, inputs - cached),
                output_tokens=output,
                cache_read_tokens=min(cached, inputs),
                reasoning_tokens=min(reasoning, output),
                service_tier=self.tier,
            ),
            at=at,
            dedupe_key=f"codex:{session}:{':'.join(str(v) for v in total)}",
            session_id=session,
            cwd=self.cwd,
        )
        if self.model is None:
            return call._replace(notes=("no turn_context before this call: the model is unknown",))
        return call


def _usage(value: object) -> list[int] | None:
    usage = as_object(value)
    if usage is None:
        return None
    return [count(usage.get(name)) for name in FIELDS]


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
