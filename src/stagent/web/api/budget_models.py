"""Request and response models of ``/api/v1/budgets`` and ``/api/v1/usage``.

Money goes out as integer micro-USD plus USD text (``"3.00"``); it comes in as a decimal amount
in USD (a JSON number or string), never as float arithmetic.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from stagent.schemas import BreachSchema, BudgetScopeSchema, LimitSchema, UsageSchema

LimitOut = LimitSchema
BudgetOut = BudgetScopeSchema
BreachOut = BreachSchema
UsageOut = UsageSchema


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
