"""What an importer turns a log line into: one provider call with its attribution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

if TYPE_CHECKING:
    from stagent.domain.events import UsageEvent

CLAUDE_CODE = "import:claude-code"
CODEX = "import:codex"
SOURCES = (CLAUDE_CODE, CODEX)
IMPORT_SOURCES = {"claude-code": (CLAUDE_CODE,), "codex": (CODEX,), "all": (CLAUDE_CODE, CODEX)}
"""The sources ``stagent ledger import <which>`` reads."""
RUNTIME_OF_SOURCE = {CLAUDE_CODE: "claude", CODEX: "codex"}
"""Imported Claude Code sessions count under the ``claude`` runtime, Codex under ``codex``."""
TIERS = frozenset({"batch", "priority", "flex"})
"""The service tiers priced apart (any other tier a log names is priced as the standard one)."""


class MalformedLineError(ValueError):
    """A line that is not the JSON the format promises (reported with file:line, skipped)."""


def not_an_object(line: bytes) -> MalformedLineError:
    """The error for a log line that is not one JSON object (each line of a Claude Code
    transcript or a Codex rollout must be one), saying what it is instead, in one wording for
    both importers: ``not a JSON object (invalid JSON: <the decoder's reason>)`` or ``not a
    JSON object (an array)``. Decoded here, off the hot path: such lines are rare."""
    import orjson

    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return MalformedLineError(f"not a JSON object (invalid JSON: {exc.msg})")
    kinds: dict[type[object], str] = {list: "an array", str: "a string", bool: "true or false"}
    kind = "null" if value is None else kinds.get(cast(type[object], type(value)), "a number")
    return MalformedLineError(f"not a JSON object ({kind})")


class ImportedCall(NamedTuple):
    """One provider call read from a log (a NamedTuple, not a dataclass: an import's modules
    then load no `dataclasses`, whose `inspect` was ~5 ms of a re-run's start-up)."""

    usage: UsageEvent
    at: datetime
    dedupe_key: str
    session_id: str | None = None
    cwd: str | None = None
    sidechain: bool = False
    notes: tuple[str, ...] = ()
    """What a person should know about the figure (a tuple: most calls have none, and a list
    per call was a measurable part of an import)."""

    @property
    def total(self) -> int:
        """Every token of the call."""
        usage = self.usage
        return (
            usage.input_tokens
            + usage.output_tokens
            + usage.cache_write_tokens
            + usage.cache_read_tokens
        )

    def call(self) -> ImportedCall:
        """Itself (`CallCopy`)."""
        return self

    @property
    def rank(self) -> tuple[bool, int, bool]:
        """How good this copy of its call is: of two copies the one with the larger rank is
        kept (`better_than`), the earlier on a tie."""
        return (not self.sidechain, self.total, self.usage.speed is not None)

    def better_than(self, other: ImportedCall) -> bool:
        """Which copy of one call to keep (ccusage's order): the main-chain copy over a
        side-chain replay, then the one with more tokens (a streamed response's last line over
        an earlier placeholder), then the one that says which speed it ran at."""
        return self.rank > other.rank


class CallCopy(Protocol):
    """One line's copy of a call, as an import collects them: the copy to keep is picked by
    `better_than` (the other copy is of the same kind), and only that one becomes a call."""

    @property
    def dedupe_key(self) -> str:
        """The key a call is booked under once."""
        ...

    @property
    def rank(self) -> tuple[bool, int, bool]:
        """How good the copy is: the one with the larger rank is kept, the earlier on a tie."""
        ...

    def better_than(self, other: Any) -> bool:
        """Whether to keep this copy rather than ``other`` (its rank is larger)."""
        ...

    def call(self) -> ImportedCall:
        """The call this copy records."""
        ...


def parse_timestamp(value: object) -> datetime:
    """An ISO-8601 timestamp (``Z`` or an offset) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise MalformedLineError("no timestamp")
    try:
        parsed = datetime.fromisoformat(value)  # Python 3.11 reads the "Z" itself
    except ValueError:
        raise MalformedLineError(f"timestamp {value[:40]!r} is not ISO-8601") from None
    zone = parsed.tzinfo
    if zone is UTC:
        return parsed
    if zone is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def as_object(value: object) -> dict[str, Any] | None:
    """A JSON object as a typed mapping (None for anything else)."""
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def count(value: object) -> int:
    """A token count: a non-negative int (anything else is 0)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(0, value)
