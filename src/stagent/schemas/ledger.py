"""Ledger summaries: what ``stagent ledger summary --json`` prints and
``GET /api/v1/ledger/summary`` returns."""

from __future__ import annotations

from typing import Literal

from stagent.schemas.base import Schema

Grouping = Literal[
    "day", "model", "runtime", "project", "source", "profile", "workflow", "schedule"
]


class TotalsOut(Schema):
    """Sums over a set of provider calls."""

    requests: int
    input_tokens: int
    output_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    total_tokens: int
    total_cost_micros: int
    total_cost_usd: str
    unpriced_requests: int
    """Calls whose model has no price: their cost is unknown (not included, not zero)."""


class GroupOut(TotalsOut):
    """One group of a summary."""

    key: str | None
    label: str
    share: float | None = None
    outcomes: int | None = None
    """By profile: tasks; by workflow: workflow runs; by schedule: firings."""
    cost_per_outcome_micros: int | None = None
    completeness: Literal["complete", "partial", "estimated"] | None = None
    """How far the cost can be trusted: ``partial`` where a runtime reports only per-run totals,
    ``estimated`` where calls are unpriced, used a fallback price or were booked from estimated
    tokens (a served call whose usage never came)."""


class SummaryOut(Schema):
    """Totals over a period (all time without ``since``), optionally grouped."""

    since: str | None
    until: str | None
    by: str | None
    timezone: str
    pricing_version: str
    totals: TotalsOut
    groups: list[GroupOut]
    unpriced_models: dict[str, int]
    simulated: TotalsOut | None
    """Calls of simulated runs (the scripted runtime): shown apart, never counted."""


class CapForecastOut(Schema):
    """Month-end spend at the current pace against one monthly cap."""

    scope: str
    ref: str | None
    label: str
    spent_micros: int
    spent_usd: str
    projected_micros: int
    projected_usd: str
    cap_micros: int
    cap_usd: str
    over: bool
    """The pace reaches past the cap before the month ends."""
    elapsed: float
    """Fraction of the month gone, 0..1."""
