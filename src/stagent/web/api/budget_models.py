"""Request and response models of ``/api/v1/budgets`` and ``/api/v1/usage``.

Money goes out as integer micro-USD plus USD text (``"3.00"``); it comes in as a decimal amount
in USD (a JSON number or string), never as float arithmetic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class LimitOut(BaseModel):
    """One cap (daily or monthly) of a scope, in its current window."""

    period: Literal["daily", "monthly"]
    window: str
    cap_micros: int | None
    cap_usd: str | None
    allowance_micros: int
    spent_micros: int = Field(description="ledger cost in the window, reservations included")
    spent_usd: str
    reserved_micros: int = Field(description="held by running work")
    headroom_micros: int | None
    headroom_usd: str | None
    ratio: float | None
    health: Literal["ok", "warning", "blocked", "unlimited"]
    unpriced_rows: int
    resets_at: str
    resets: str


class BudgetOut(BaseModel):
    """A scope's caps, spend, headroom and health."""

    scope: Literal["overall", "runtime", "project"]
    ref: str | None
    label: str
    configured: bool
    health: Literal["ok", "warning", "blocked", "unlimited"]
    daily: LimitOut
    monthly: LimitOut
    warn_at: float
    on_breach: Literal["fail", "pause"]
    per_run_micros: int | None
    per_run_usd: str | None

    @classmethod
    def of(cls, data: dict[str, Any]) -> BudgetOut:
        """From `ScopeStatus.as_json`."""
        return cls.model_validate(data)


class BreachOut(BaseModel):
    """A breach card: work waiting for a person to raise the cap, allow more, or cancel."""

    id: str
    title: str
    body: str
    scope: str | None
    scope_ref: str | None
    label: str | None
    period: str | None
    window: str | None
    cap_usd: str | None
    spent_usd: str | None
    resets: str | None
    resets_at: str | None
    task_ids: list[str]
    actions: list[str]
    response: dict[str, Any] | None
    created_at: str


class BudgetsOut(BaseModel):
    """Every scope with its status, and open breach cards."""

    timezone: str
    pricing_version: str
    data: list[BudgetOut]
    count: int
    breaches: list[BreachOut]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetIn(_In):
    """Fields to set on a scope's budget; omitted fields stay as they are."""

    daily_usd: Decimal | None = Field(default=None, ge=0, description="daily cap in USD")
    monthly_usd: Decimal | None = Field(default=None, ge=0, description="monthly cap in USD")
    warn_at: float | None = Field(default=None, gt=0, le=1)
    on_breach: Literal["fail", "pause"] | None = None
    per_run_usd: Decimal | None = Field(default=None, gt=0, description="each run's own cap")
    remove: list[Literal["daily", "monthly", "per_run"]] = Field(
        default_factory=lambda: [], description="caps to remove"
    )


class RespondIn(_In):
    """A person's answer to a breach card."""

    action: Literal["raise", "allow", "cancel"]
    amount_usd: Decimal | None = Field(
        default=None, gt=0, description="raise: the new cap; allow: how much more this window"
    )


class UsageOut(BaseModel):
    """One ledger row."""

    id: str
    task_id: str | None
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
    cost_usd: str | None
    """Null when the model is unpriced: its cost is unknown, not zero."""
    unpriced: bool = False
    cost_source: str
    pricing_version: str | None
    status: str
    note: str | None
    started_at: str
    finished_at: str
    source: str = "run"
    """``run``, ``import:claude-code`` or ``import:codex``."""
    simulated: bool = False
    session_id: str | None = None
    project_path: str | None = None
    total_tokens: int = 0
