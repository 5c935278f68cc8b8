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

from datetime import UTC, datetime
from typing import Any

from stagent.lean import load_msgspec

load_msgspec()  # before msgspec's first import: without typing_extensions when it can
import msgspec  # noqa: E402

from stagent.ledger.importers.calls import (  # noqa: E402
    TIERS,
    ImportedCall,
    MalformedLineError,
    as_object,
    count,
    not_an_object,
    parse_timestamp,
)

MARKER = b'"usage"'
ASSISTANT = b'"assistant"'
"""Only lines containing both can be calls; others are checked for shape only."""


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


class ClaudeCopy(msgspec.Struct, gc=False):
    """One line's copy of a Claude Code call: what choosing the copy to keep needs, and the
    decoded line the call is built from once this copy is kept (a streamed response writes
    each call two or three times: a dropped copy costs its decode and this record only)."""

    dedupe_key: str
    sidechain: bool
    total: int
    written: int
    """Every cache-write token (the larger of the total and the sum of its parts)."""
    one_hour: int
    at: datetime
    model: str
    usage: _Usage
    line: _Line

    @property
    def rank(self) -> tuple[bool, int, bool]:
        """`ImportedCall.rank` of this copy: main chain, tokens, says its speed."""
        return (not self.sidechain, self.total, bool(self.usage.speed))

    def better_than(self, other: "ClaudeCopy") -> bool:
        """`ImportedCall.better_than` on the copies: the main-chain copy, then the one with more
        tokens, then the one that says which speed it ran at."""
        return self.rank > other.rank

    def call(self) -> ImportedCall:
        """The call this copy records."""
        from stagent.domain.events import UsageEvent  # most copies are priced without it

        usage, line = self.usage, self.line
        tier = usage.service_tier
        event = UsageEvent(
            self.model, usage.input_tokens, usage.output_tokens, self.written,
            min(self.one_hour, self.written), usage.cache_read_input_tokens, 0, None,
            usage.speed or None, usage.inference_geo or None, tier if tier in TIERS else None,
            line.request_id or None,
        )  # fmt: skip
        return ImportedCall(
            event, self.at, self.dedupe_key, line.session_id or None, line.cwd or None,
            self.sidechain,
        )  # fmt: skip


def parse_line(line: bytes) -> ClaudeCopy | None:
    """The copy of a call on one transcript line, or None if the line is not a call.

    Raises `MalformedLineError` for a line that is not a JSON object, or a call line that lacks
    what a call needs (a timestamp, a model).
    """
    # `find`, not `in`: CPython's `bytes.__contains__` first tries its argument as an int,
    # raising and clearing a TypeError each time (~2k instructions per test)
    if line.find(MARKER) < 0 or line.find(ASSISTANT) < 0:
        if line[:1] == b"{" and line[-1:] == b"}":  # the usual line: no stripped copy of it
            return None
        stripped = line.strip()
        if stripped and not (stripped[:1] == b"{" and stripped[-1:] == b"}"):
            raise not_an_object(stripped)
        return None
    try:
        return _copy(_DECODE(line))
    except (msgspec.DecodeError, _UnexpectedValueError):
        return _general(line)


class _UnexpectedValueError(Exception):
    """A decoded value the fast path does not take (a negative count): the general path,
    which reads it as 0, reads the line."""


def _copy(fast: _Line) -> ClaudeCopy | None:
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
    if inputs < 0 or outputs < 0 or written < 0 or read < 0:
        raise _UnexpectedValueError
    one_hour = 0
    parts = usage.cache_creation
    if parts is not None:
        one_hour = parts.ephemeral_1h_input_tokens
        five = parts.ephemeral_5m_input_tokens
        if one_hour < 0 or five < 0:
            raise _UnexpectedValueError
        written = max(written, one_hour + five)
    total = inputs + outputs + written + read
    if not total:
        return None
    stamp = fast.timestamp or ""
    try:
        at = datetime.fromisoformat(stamp)  # `parse_timestamp` inlined for the usual "...Z"
    except ValueError:
        at = parse_timestamp(stamp)  # raises, saying why
    if at.tzinfo is not UTC:
        at = parse_timestamp(stamp)
    if message.id:
        key = "claude-code:" + message.id
    else:
        key = f"claude-code:{fast.session_id}:{fast.uuid or fast.timestamp}"
    return ClaudeCopy(key, fast.is_sidechain, total, written, one_hour, at, model, usage, fast)


def _general(line: bytes) -> ClaudeCopy | None:
    """The reference path: any JSON, counts of unexpected types or signs read as zero."""
    import orjson  # loaded for the few lines the fast path rejects

    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise not_an_object(line) from None
    obj = as_object(data)
    if obj is None:
        raise not_an_object(line)
    return _copy(_clean_line(obj))


def _clean_line(data: dict[str, Any]) -> _Line:
    """The fields of a call line as the fast path decodes them, each of an unexpected type
    read as absent (or 0 for a count)."""
    message = as_object(data.get("message"))
    timestamp = data.get("timestamp")
    return _Line(
        type=_text(data.get("type")),
        message=None if message is None else _clean_message(message),
        request_id=_text(data.get("requestId")),
        session_id=_text(data.get("sessionId")),
        cwd=_text(data.get("cwd")),
        is_sidechain=data.get("isSidechain") is True,
        timestamp=timestamp if isinstance(timestamp, str) else None,
        uuid=_text(data.get("uuid")),
    )


def _clean_message(message: dict[str, Any]) -> _Message:
    model = message.get("model")
    if not isinstance(model, str) or not model:
        model = ""  # a call line without a usable model is malformed (if it has usage)
    usage = as_object(message.get("usage"))
    return _Message(
        id=_text(message.get("id")),
        model=model,
        usage=None if usage is None else _clean_usage(usage),
    )


def _clean_usage(usage: dict[str, Any]) -> _Usage:
    get = usage.get
    breakdown = as_object(get("cache_creation"))
    parts = None
    if breakdown is not None:
        parts = _Cache(
            count(breakdown.get("ephemeral_5m_input_tokens")),
            count(breakdown.get("ephemeral_1h_input_tokens")),
        )
    return _Usage(
        input_tokens=count(get("input_tokens")),
        output_tokens=count(get("output_tokens")),
        cache_creation_input_tokens=count(get("cache_creation_input_tokens")),
        cache_read_input_tokens=count(get("cache_read_input_tokens")),
        cache_creation=parts,
        speed=_text(get("speed")),
        inference_geo=_text(get("inference_geo")),
        service_tier=_text(get("service_tier")),
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
