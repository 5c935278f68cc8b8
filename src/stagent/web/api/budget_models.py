"""Request and response models of ``/api/v1/budgets`` and ``/api/v1/usage``.

Money goes out as integer micro-USD plus USD text (``"3.00"``); it comes in as a decimal amount
in USD (a JSON number or string), never as float arithmetic.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from stagent.ledger.money import MAX_USD
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


def _to_micro_dollar(value: object) -> object:
    """A JSON number is a binary float: round it to the micro-dollar (text stays exact, and
    more than six decimals in text is refused by `parse_usd`)."""
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value)).quantize(MICRO, rounding=ROUND_HALF_EVEN)
    if isinstance(value, str):
        return value.strip().removeprefix("$")  # "$3" as a person writes it
    return value


MICRO = Decimal("0.000001")
AMOUNT_TEXT = r"^\$?([0-9]{1,9}(\.[0-9]{1,6})?|1000000000(\.0{1,6})?)$"
"""Amounts as text: up to the 1,000,000,000 USD maximum, at most six decimals."""


def _with_a_digit_not_zero(most: int) -> str:
    """1 to `most` digits, at least one of them not 0 (as alternatives: no lookahead)."""

    def one(zeros: int) -> str:
        lead = {0: "", 1: "0"}.get(zeros, f"0{{{zeros}}}")
        rest = most - 1 - zeros
        return f"{lead}[1-9]" + (f"[0-9]{{0,{rest}}}" if rest else "")

    return "|".join(one(zeros) for zeros in range(most))


POSITIVE_AMOUNT_TEXT = (
    rf"^\$?(({_with_a_digit_not_zero(9)})(\.[0-9]{{1,6}})?"
    rf"|0{{1,9}}\.({_with_a_digit_not_zero(6)})|1000000000(\.0{{1,6}})?)$"
)
"""`AMOUNT_TEXT` that is not zero ("0", "$0.000000" are refused: at least one micro-dollar)."""


def _amount_schema(minimum: str) -> dict[str, object]:
    number: dict[str, object] = {"type": "number", "maximum": float(MAX_USD)}
    if minimum == "0":
        number["minimum"] = 0
        pattern = AMOUNT_TEXT
    else:
        number["minimum"] = float(minimum)
        pattern = POSITIVE_AMOUNT_TEXT
    return {"anyOf": [number, {"type": "string", "pattern": pattern}]}


Amount = Annotated[
    Decimal,
    BeforeValidator(_to_micro_dollar),
    Field(ge=0, le=MAX_USD),
    WithJsonSchema(_amount_schema("0")),
]
"""USD, zero or more: a JSON number (rounded to the micro-dollar) or text like ``"12.50"``."""
PositiveAmount = Annotated[
    Decimal,
    BeforeValidator(_to_micro_dollar),
    Field(ge=MICRO, le=MAX_USD),
    WithJsonSchema(_amount_schema("0.000001")),
]
"""USD, at least one micro-dollar."""


class BudgetIn(_In):
    """Fields to set on a scope's budget; omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"minProperties": 1})

    daily_usd: Amount | None = Field(default=None, description="daily cap in USD")
    monthly_usd: Amount | None = Field(default=None, description="monthly cap in USD")
    warn_at: float | None = Field(default=None, gt=0, le=1)
    on_breach: Literal["fail", "pause"] | None = None
    per_run_usd: PositiveAmount | None = Field(default=None, description="each run's own cap")
    remove: list[Literal["daily", "monthly", "per_run"]] = Field(
        default_factory=lambda: [], description="caps to remove"
    )


class RespondIn(_In):
    """A person's answer to a breach card."""

    action: Literal["raise", "allow", "cancel"]
    amount_usd: PositiveAmount | None = Field(
        default=None, description="raise: the new cap; allow: how much more this window"
    )
