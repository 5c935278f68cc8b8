"""Turns the Claude Agent SDK's message stream into Stagent `RuntimeEvent`s.

Usage comes from ``ResultMessage.model_usage``, which is **cumulative per session**: a resumed
session reports the tokens and cost of every earlier process too. `UsageLedger` keeps, per session,
the totals already reported (in the run's ``usage.json``) and the translator emits only the
difference, so the ledger never counts a call twice. The file is updated only after the engine
has taken the usage events (the channel's delivery handshake); a crash in between can at worst
drop the usage of that one result, never double it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

from claude_agent_sdk import (
    AssistantMessage,
    Message,
    ResultMessage,
    SystemMessage,
    TextBlock,
    ToolResultBlock,
    ToolUseBlock,
    UserMessage,
)

from stagent.domain.events import (
    ErrorEvent,
    ResultEvent,
    RuntimeEvent,
    SessionEvent,
    TextEvent,
    ToolResultEvent,
    UsageEvent,
)

log = logging.getLogger(__name__)

Emit = Callable[[RuntimeEvent, bool], Awaitable[None]]
Announce = Callable[[str, dict[str, Any], str], Awaitable[None]]

USAGE_FIELDS = {
    "input_tokens": "inputTokens",
    "output_tokens": "outputTokens",
    "cache_write_tokens": "cacheCreationInputTokens",
    "cache_write_1h_tokens": "cacheCreationEphemeral1hInputTokens",
    "cache_read_tokens": "cacheReadInputTokens",
    "reasoning_tokens": "thinkingTokens",
}
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504, 529})


def session_event(session_id: str) -> RuntimeEvent:
    """A `SessionEvent` typed as a `RuntimeEvent`.

    The engine persists `SessionEvent`s and stores their id on the task, but the
    ``RuntimeEvent`` union in ``domain/events.py`` does not list the type yet.
    """
    return cast(RuntimeEvent, SessionEvent(session_id=session_id))


class UsageLedger:
    """Per-session cumulative usage already reported, kept in a small JSON file."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _load(self) -> dict[str, dict[str, dict[str, float]]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return cast(dict[str, dict[str, dict[str, float]]], data) if isinstance(data, dict) else {}

    def deltas(
        self, session_id: str, model_usage: dict[str, Any], result_id: str | None = None
    ) -> list[UsageEvent]:
        """Usage events for what ``model_usage`` adds to what the session already reported;
        with ``result_id`` (the result message's uuid) each carries a request id naming that
        result and the model, so the ledger books one result once."""
        seen = self._load().get(session_id, {})
        events: list[UsageEvent] = []
        for model, raw in model_usage.items():
            now = _totals(raw)
            before = seen.get(model, {})
            diff = {key: max(0.0, value - before.get(key, 0.0)) for key, value in now.items()}
            if not any(diff.values()):
                continue
            tokens = {name: int(diff[key]) for name, key in USAGE_FIELDS.items()}
            cost = diff["costUSD"] if "costUSD" in raw else None
            events.append(
                UsageEvent(
                    model=model,
                    input_tokens=tokens["input_tokens"],
                    output_tokens=tokens["output_tokens"],
                    cache_write_tokens=tokens["cache_write_tokens"],
                    cache_write_1h_tokens=tokens["cache_write_1h_tokens"],
                    cache_read_tokens=tokens["cache_read_tokens"],
                    reasoning_tokens=tokens["reasoning_tokens"],
                    cost_usd=cost,
                    request_id=f"claude:{session_id}:{result_id}:{model}" if result_id else None,
                )
            )
        return events

    def save(self, session_id: str, model_usage: dict[str, Any]) -> None:
        """Record ``model_usage`` as the session's reported totals."""
        data = self._load()
        data[session_id] = {model: _totals(raw) for model, raw in model_usage.items()}
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(self._path)


def _totals(raw: object) -> dict[str, float]:
    usage = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
    keys = [*USAGE_FIELDS.values(), "costUSD"]
    return {key: float(usage.get(key) or 0) for key in keys}


def result_error(message: ResultMessage) -> str:
    """The provider's or CLI's own words for a failed result, with the HTTP status if any."""
    text = (message.result or "").strip() or "; ".join(message.errors or [])
    text = text or f"the run ended with {message.subtype}"
    if message.subtype not in ("success", "") and message.subtype not in text:
        text = f"{message.subtype}: {text}"
    if message.api_error_status is not None:
        text = f"{text} (HTTP {message.api_error_status})"
    return text


def _result_output(block: ToolResultBlock) -> str:
    content: object = block.content
    if isinstance(content, str):
        return content
    parts = cast(list[object], content) if isinstance(content, list) else []
    texts = [cast(dict[str, Any], p).get("text") for p in parts if isinstance(p, dict)]
    return "\n".join(str(text) for text in texts if text is not None)


class MessageTranslator:
    """Emits the events for each SDK message of one run."""

    def __init__(self, emit: Emit, announce: Announce, ledger: UsageLedger) -> None:
        self._emit = emit
        self._announce = announce
        self._ledger = ledger
        self._tools: dict[str, tuple[str, dict[str, Any]]] = {}
        self._texts: list[str] = []
        self.session_id: str | None = None
        self.finished = False
        """True once the result (success or error) has been emitted."""
        self.concluding = False
        """True once the result arrived: its usage is the last, no further provider call."""

    async def handle(self, message: Message) -> None:
        """Emit whatever ``message`` means for the run; unknown messages are skipped."""
        match message:
            case SystemMessage(subtype="init", data=data):
                self.session_id = str(data.get("session_id") or "") or None
                if self.session_id:
                    await self._emit(session_event(self.session_id), True)
            case AssistantMessage():
                await self._assistant(message)
            case UserMessage(content=list() as blocks):
                for block in blocks:
                    if isinstance(block, ToolResultBlock):
                        await self._tool_result(block)
            case ResultMessage():
                await self._result(message)
            case _:
                log.debug("skipping SDK message %s", type(message).__name__)

    async def _assistant(self, message: AssistantMessage) -> None:
        if message.model == "<synthetic>":
            return  # the CLI's own wording of an API error; the result carries it
        for block in message.content:
            if isinstance(block, TextBlock) and block.text:
                self._texts.append(block.text)
                await self._emit(TextEvent(text=block.text), False)
            elif isinstance(block, ToolUseBlock):
                self._tools[block.id] = (block.name, block.input)

    async def _tool_result(self, block: ToolResultBlock) -> None:
        tool, tool_input = self._tools.get(block.tool_use_id, ("unknown", {}))
        await self._announce(tool, tool_input, block.tool_use_id)
        event = ToolResultEvent(
            request_id=block.tool_use_id,
            tool=tool,
            output=_result_output(block),
            is_error=bool(block.is_error),
        )
        await self._emit(event, False)

    async def _result(self, message: ResultMessage) -> None:
        session = message.session_id or self.session_id or ""
        model_usage = cast(dict[str, Any], message.model_usage or {})
        self.concluding = True  # the usage below is the last this process reports
        for usage in self._ledger.deltas(session, model_usage, message.uuid):
            await self._emit(usage, True)
        if model_usage:
            self._ledger.save(session, model_usage)
        self.finished = True
        if message.is_error:
            retryable = message.api_error_status in RETRYABLE_STATUSES
            await self._emit(ErrorEvent(message=result_error(message), retryable=retryable), False)
        else:
            text = message.result if message.result is not None else "\n".join(self._texts)
            await self._emit(ResultEvent(text=text), False)
