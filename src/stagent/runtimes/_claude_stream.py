"""Turns the Claude Agent SDK's message stream into Stagent `RuntimeEvent`s.

Usage comes from ``ResultMessage.model_usage``, which is cumulative: over one CLI process (a
client's later results include its earlier ones) and, on resuming a session, over the totals the
CLI restores from the ``cost-state`` record its last cleanly ended process wrote into the
session's transcript (a killed process writes none: the next one starts from zero). The
translator starts from those restored totals (`UsageLedger.restored`) and emits the difference.
Each result's usage events carry a request id (session, result uuid, model). They are staged in
the run's ``usage.json`` before they go to the engine and confirmed once the engine has booked
them (the channel's delivery handshake); a process that dies in between has them re-reported by
the run's next process under the same ids, which the ledger books once: the call is neither
lost nor doubled (`tests/security/test_recovery_charges.py`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
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


Totals = dict[str, dict[str, float]]
"""Cumulative usage by model, as one CLI process reports it."""


class UsageLedger:
    """Usage events handed to the engine but not yet confirmed as booked, kept in a small JSON
    file per task run directory.

    A result's usage events are *staged* (written down with their request ids) before they go to
    the engine, and *confirmed* (cleared) once the engine has booked them. A process that dies
    in between (the worker killed after booking, or before) leaves them staged: the session's
    next process re-reports them first (`unconfirmed`), and the ledger books each request id
    once (`stagent.store.ledger.insert_once`), so the call is neither lost nor counted twice.
    """

    def __init__(self, path: Path, transcripts: Path | None = None) -> None:
        self._path = path
        self._transcripts = transcripts

    def restored(self, session_id: str) -> Totals:
        """The totals a new CLI process of ``session_id`` starts from: the CLI restores the
        ``cost-state`` its last cleanly ended process wrote into the session's transcript (a
        killed process writes none, and the next one starts from zero)."""
        if self._transcripts is None or not session_id:
            return {}
        state: dict[str, Any] | None = None
        for path in self._transcripts.glob(f"*/{session_id}.jsonl"):
            state = _last_cost_state(path) or state
        usage = cast(dict[str, Any], (state or {}).get("modelUsage") or {})
        return {model: totals(raw) for model, raw in usage.items()}

    def _load(self) -> dict[str, list[dict[str, Any]]]:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        staged = cast(dict[str, Any], data).get("staged") if isinstance(data, dict) else None
        if not isinstance(staged, dict):
            return {}  # nothing staged (or a file of an older version: reported totals)
        found: dict[str, list[dict[str, Any]]] = {}
        for session, events in cast(dict[str, Any], staged).items():
            if isinstance(events, list):
                items = cast(list[object], events)
                found[str(session)] = [
                    cast(dict[str, Any], e) for e in items if isinstance(e, dict)
                ]
        return found

    def _write(self, staged: dict[str, list[dict[str, Any]]]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"staged": staged}), encoding="utf-8")
        tmp.replace(self._path)

    def stage(self, session_id: str, usages: list[UsageEvent]) -> None:
        """Write ``usages`` down before they are handed to the engine."""
        staged = self._load()
        staged[session_id] = [
            {k: v for k, v in asdict(u).items() if k != "kind"} for u in usages if u.request_id
        ]
        self._write(staged)

    def confirm(self, session_id: str | None = None) -> None:
        """The staged usage of ``session_id`` (default: every session's) is booked."""
        staged = self._load()
        if not staged:
            return
        if session_id is None:
            staged.clear()
        elif staged.pop(session_id, None) is None:
            return
        self._write(staged)

    def unconfirmed(self, session_id: str | None = None) -> list[UsageEvent]:
        """Usage staged by a process of ``session_id`` (default: of any session of the run,
        for a resume that had to start a new session) that died before confirming it, under
        the request ids it was (or was about to be) booked with."""
        staged = self._load()
        chosen = [staged.get(session_id, [])] if session_id else list(staged.values())
        events: list[UsageEvent] = []
        for data in (item for items in chosen for item in items):
            try:
                events.append(UsageEvent(**data))
            except TypeError:
                log.warning("unreadable staged usage %r", data)
        return events


def _last_cost_state(path: Path) -> dict[str, Any] | None:
    found: dict[str, Any] | None = None
    try:
        with path.open("rb") as lines:
            for line in lines:
                if b'"cost-state"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    data: object = json.loads(line)
                    record = cast(dict[str, Any], data) if isinstance(data, dict) else {}
                    if record.get("type") == "cost-state":
                        found = record
    except OSError:
        return None
    return found


def usage_deltas(
    session_id: str, before: Totals, model_usage: dict[str, Any], result_id: str | None = None
) -> list[UsageEvent]:
    """Usage events for what ``model_usage`` (a process's cumulative totals) adds to
    ``before``; with ``result_id`` (the result message's uuid) each carries a request id naming
    that result and the model, so the ledger books one result once."""
    events: list[UsageEvent] = []
    for model, raw in model_usage.items():
        now = totals(raw)
        seen = before.get(model, {})
        diff = {key: max(0.0, value - seen.get(key, 0.0)) for key, value in now.items()}
        if not any(diff.values()):
            continue
        tokens = {name: int(diff[key]) for name, key in USAGE_FIELDS.items()}
        events.append(
            UsageEvent(
                model=model,
                input_tokens=tokens["input_tokens"],
                output_tokens=tokens["output_tokens"],
                cache_write_tokens=tokens["cache_write_tokens"],
                cache_write_1h_tokens=tokens["cache_write_1h_tokens"],
                cache_read_tokens=tokens["cache_read_tokens"],
                reasoning_tokens=tokens["reasoning_tokens"],
                cost_usd=diff["costUSD"] if "costUSD" in raw else None,
                request_id=f"claude:{session_id}:{result_id}:{model}" if result_id else None,
            )
        )
    return events


def totals(raw: object) -> dict[str, float]:
    """One model's cumulative counts (and cost) from a result's ``model_usage`` entry."""
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
        self._reported: Totals = {}
        """What this process's next result counts already: the totals it restored on resuming
        (`UsageLedger.restored`), then what its results reported (they are cumulative)."""
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
                    self._reported = self._ledger.restored(self.session_id)
                    await self._emit(session_event(self.session_id), True)
                    await self._recover_usage()
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

    async def _recover_usage(self) -> None:
        """Re-report usage an earlier process of this run staged but did not confirm (it died
        between the two): booked once whether or not it was booked before."""
        usages = self._ledger.unconfirmed()
        for usage in usages:
            await self._emit(usage, True)
        if usages:
            self._ledger.confirm()

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
        await self._recover_usage()
        usages = usage_deltas(session, self._reported, model_usage, message.uuid)
        self._ledger.stage(session, usages)
        for usage in usages:
            await self._emit(usage, True)
        self._ledger.confirm(session)
        self._reported = {model: totals(raw) for model, raw in model_usage.items()}
        self.finished = True
        if message.is_error:
            status = message.api_error_status
            retryable = None if status is None else status in RETRYABLE_STATUSES
            await self._emit(ErrorEvent(message=result_error(message), retryable=retryable), False)
        else:
            text = message.result if message.result is not None else "\n".join(self._texts)
            await self._emit(ResultEvent(text=text), False)
