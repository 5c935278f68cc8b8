"""A ledger row and a filter over rows, as every layer sees them (the store maps them to SQL)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

INTERNAL_FIELDS = frozenset({"raw", "dedupe_key"})
"""`LedgerEntry` fields the JSON leaves out (the runtime's raw payload, the dedupe key)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    """One ledger row. Its fields, in this order, are the usage row's JSON shape too
    (`stagent.schemas.UsageSchema` and `stagent.ledger.views.entry_json` derive from them)."""

    id: str
    task_id: str | None
    run_id: str | None = None
    """The run that made the call (or holds the reservation)."""
    project_id: str | None
    activity: str
    runtime: str
    provider: str | None
    model: str | None
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    reasoning_tokens: int
    cost_micros: int
    cost_source: str
    pricing_version: str | None
    status: str
    note: str | None
    raw: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime
    source: str = "run"
    """``run``, ``import:claude-code`` or ``import:codex``."""
    dedupe_key: str | None = None
    simulated: bool = False
    session_id: str | None = None
    project_path: str | None = None

    @property
    def total_tokens(self) -> int:
        """Every token of the call (input, output, cache writes and reads)."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
            + self.cache_read_tokens
        )


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    """Which rows `list_entries` returns (every field optional)."""

    task_id: str | None = None
    project_id: str | None = None
    runtime: str | None = None
    model: str | None = None
    status: str | None = None
    cost_source: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    simulated: bool | None = None
    """None: both; False: real calls only; True: simulated only."""
