"""What runtimes stream (`RuntimeEvent`) and what the task log records (`LoggedEvent`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:  # run options build pydantic models: a usage event needs none of that
    from stagent.domain.runs import Subject

JsonDict = dict[str, Any]
MAX_SEQ = 2**63 - 1
"""The largest event ``seq`` (a signed 64-bit integer in every database)."""


@dataclass(frozen=True, slots=True)
class TextEvent:
    """A chunk of the agent's text output."""

    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ToolRequestEvent:
    """The agent asks to call a tool."""

    tool: str
    input: JsonDict
    request_id: str
    kind: Literal["tool_request"] = "tool_request"


@dataclass(frozen=True, slots=True)
class ToolResultEvent:
    """The outcome of a tool call (or its denial)."""

    request_id: str
    tool: str
    output: str
    is_error: bool = False
    kind: Literal["tool_result"] = "tool_result"


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """Tokens (and, where the runtime reports it, cost) of one provider call or run.

    Token categories are kept raw and disjoint so that the ledger prices each exactly once:
    ``input_tokens`` is the *uncached* input (Anthropic's convention; Codex's cached tokens are
    moved out of its input into ``cache_read_tokens``). ``cache_write_tokens``
    is every token written to the prompt cache, of which ``cache_write_1h_tokens`` were written
    with the one-hour lifetime (the rest with five minutes); ``reasoning_tokens`` are the part of
    ``output_tokens`` spent thinking, where the runtime reports it.
    """

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    cache_read_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    """The cost the runtime itself reported for this usage, if it did."""
    speed: str | None = None
    """``fast`` when the call ran in a fast / priority mode (priced with its multiplier)."""
    inference_geo: str | None = None
    """Where inference was pinned (Anthropic ``inference_geo``: ``us``); ``global`` or empty for
    anywhere."""
    service_tier: str | None = None
    """``batch``, ``flex`` or ``priority`` where the provider says so."""
    request_id: str | None = None
    """The provider's id of this call (``req_...``), where known: the ledger books one call once."""
    estimated: str | None = None
    """Set when the tokens are an estimate, not the provider's count: why, and from what (a call
    the provider served whose usage the runtime never reported). The ledger marks its row
    ``estimated``."""
    kind: Literal["usage"] = "usage"


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """The runtime's own session (Claude session id, Codex thread id), for resuming a run."""

    session_id: str
    kind: Literal["session"] = "session"


@dataclass(frozen=True, slots=True)
class ResultEvent:
    """The run finished; ``text`` is its final result."""

    text: str
    kind: Literal["result"] = "result"


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """The run failed; ``message`` is the provider's or runtime's own message. ``retryable``:
    True if a later attempt may pass (a 5xx, a rate limit, a dropped connection), False if the
    runtime knows it will fail the same way (a bad API key, an unknown model, a bad request: a
    workflow step's retry policy then does not retry it), None if the runtime cannot tell."""

    message: str
    retryable: bool | None = None
    kind: Literal["error"] = "error"


RuntimeEvent = (
    TextEvent | ToolRequestEvent | ToolResultEvent | UsageEvent | ResultEvent | ErrorEvent
)
"""Everything a runtime adapter may yield."""


def event_payload(event: RuntimeEvent) -> JsonDict:
    """The event as JSON-ready data without its ``kind`` tag (a copy: nested values are
    copied as `dataclasses.asdict` copies them)."""
    data = {name: getattr(event, name) for name in _payload_fields(type(event))}
    if all(type(value) in _SCALARS for value in data.values()):
        return data  # the common case (text, results, usage): nothing nested to copy
    data = asdict(event)
    data.pop("kind", None)
    return data


_SCALARS = frozenset({str, int, float, bool, type(None)})
_PAYLOAD_FIELDS: dict[type, tuple[str, ...]] = {}


def _payload_fields(cls: Any) -> tuple[str, ...]:
    """An event class's field names but ``kind`` (looked up once per class; `event_payload`
    runs once per event of the hot path, where ``asdict`` cost ~13 Python calls)."""
    names = _PAYLOAD_FIELDS.get(cls)
    if names is None:
        names = _PAYLOAD_FIELDS[cls] = tuple(f.name for f in fields(cls) if f.name != "kind")
    return names


LogKind = Literal[
    "text",
    "tool_request",
    "tool_result",
    "usage",
    "result",
    "error",
    "status",
    "created",
    "updated",
    "note",
    "recovered",
    "session",
    "deleted",
    "approval",
    "decision",
    "notice",
]


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """One row of a task's event log, which is also the workspace's change feed.

    ``seq`` grows monotonically across the workspace, so a listener can resume after the last
    ``seq`` it saw. ``notice`` events (budget warnings, blocked calls, breach cards) have no task:
    their subject is the budget.
    """

    seq: int
    task_id: str | None
    kind: LogKind
    payload: JsonDict = field(default_factory=lambda: {})
    created_at: datetime | None = None
    run_id: str | None = None
    """The run it happened in (None for events outside a run)."""
    subject: Subject | None = None
    """What it is about: ``task:<id>`` for a task's events; ``budget:<scope>`` ... otherwise."""

    @property
    def summary(self) -> str:
        """A one-line human rendering of the event."""
        return summarize(self.kind, self.payload)


def summarize(kind: str, payload: JsonDict) -> str:
    """Render an event's payload as one readable line."""
    match kind:
        case "text":
            return str(payload.get("text", ""))
        case "tool_request":
            return f"tool {payload.get('tool')} requested: {_call_input(payload.get('input'))}"
        case "tool_result":
            flag = " (error)" if payload.get("is_error") else ""
            return f"tool {payload.get('tool')} returned{flag}: {payload.get('output')}"
        case "usage":
            return (
                f"usage {payload.get('model')}: in {payload.get('input_tokens', 0)}, "
                f"out {payload.get('output_tokens', 0)}, cache write "
                f"{payload.get('cache_write_tokens', 0)}, cache read "
                f"{payload.get('cache_read_tokens', 0)}"
            )
        case "result":
            return f"result: {payload.get('text', '')}"
        case "error":
            return f"error: {payload.get('message', '')}"
        case "status":
            reason = payload.get("reason")
            tail = f" ({reason})" if reason else ""
            return f"status {payload.get('from')} -> {payload.get('to')}{tail}"
        case "session":
            return f"runtime session {payload.get('session_id')}"
        case "deleted":
            return f"task deleted: {payload.get('title', '')}"
        case "created":
            return f"task created: {payload.get('title', '')}"
        case "updated":
            return f"task updated: {', '.join(sorted(payload.get('fields', [])))}"
        case _:
            return str(payload.get("message", payload))


def _call_input(value: object) -> str:
    """A tool call's input for people, on one line (``README.md``, ``command: ls, timeout: 5``)."""
    if not isinstance(value, dict):
        return str(value)
    fields = cast("dict[str, object]", value)
    if not fields:
        return "{}"
    if len(fields) == 1:
        return _first_line(next(iter(fields.values())))
    return ", ".join(f"{key}: {_first_line(item)}" for key, item in fields.items())


def _first_line(value: object) -> str:
    """A value on one line: a file's content or a script shows its first line, then ``…``."""
    text = str(value).strip()
    first, more, _ = text.partition("\n")
    return f"{first} …" if more else first
