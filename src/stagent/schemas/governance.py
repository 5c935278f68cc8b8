"""Approval cards, permission rules, budget scopes, breach cards and usage rows."""

from __future__ import annotations

import dataclasses
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Literal, get_type_hints

from pydantic import Field, create_model

from stagent.domain.approvals import Approval
from stagent.domain.ledger import INTERNAL_FIELDS, LedgerEntry
from stagent.domain.permissions import PermissionRule
from stagent.schemas.base import Schema

if TYPE_CHECKING:
    from stagent.governance.budgets import ScopeStatus
    from stagent.store.inbox import InboxItem


class ApprovalSchema(Schema):
    """An approval card: a tool call (or a question) waiting for, or answered by, a person."""

    id: str
    status: str
    kind: str = Field(description="`permission` (allow/deny) or `question` (AskUserQuestion)")
    tool: str
    input: dict[str, Any]
    task_id: str | None
    run_id: str | None = Field(description="the run that asked")
    project_id: str | None
    runtime: str
    profile: str | None
    risk: str
    suggested_rule: str | None = Field(description="the rule `always` saves unless edited")
    why_asked: str
    created_at: str | None
    expires_at: str | None
    decided_at: str | None
    decided_by: str | None
    decision: dict[str, Any]

    @classmethod
    def of(cls, card: Approval) -> ApprovalSchema:
        """Build from the domain value."""
        return cls.model_validate({**card.to_data(), "run_id": card.run_id})


class RuleSchema(Schema):
    """A saved permission rule."""

    id: str | None
    rule: str
    effect: str
    scope: str
    scope_ref: str | None
    source: str

    @classmethod
    def of(cls, rule: PermissionRule) -> RuleSchema:
        """Build from the domain value."""
        return cls(
            id=rule.id,
            rule=rule.text,
            effect=rule.effect,
            scope=rule.scope,
            scope_ref=rule.scope_ref,
            source=rule.source,
        )


Health = Literal["ok", "warning", "blocked", "unlimited"]


class LimitSchema(Schema):
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
    health: Health
    unpriced_rows: int
    resets_at: str
    resets: str


class BudgetScopeSchema(Schema):
    """A budget scope's caps, spend, headroom and health."""

    scope: Literal["overall", "runtime", "project"]
    ref: str | None
    label: str
    configured: bool
    health: Health
    daily: LimitSchema
    monthly: LimitSchema
    warn_at: float
    on_breach: Literal["fail", "pause"]
    per_run_micros: int | None
    per_run_usd: str | None

    @classmethod
    def of(cls, status: ScopeStatus, zone: tzinfo) -> BudgetScopeSchema:
        """Build from the governance value."""
        return cls.model_validate(status.as_json(zone))


class BreachSchema(Schema):
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

    @classmethod
    def of(cls, card: InboxItem) -> BreachSchema:
        """Build from the inbox item."""
        from stagent.governance.budgets_breach import card_json

        return cls.model_validate(card_json(card))


USAGE_DESCRIPTIONS = {
    "run_id": "the run that made the call",
    "source": "run, import:claude-code or import:codex",
    "cost_usd": "null when the model is unpriced: unknown, not zero",
}


def _usage_fields() -> dict[str, Any]:
    """The usage row's fields, derived from the ledger row (`LedgerEntry`, the one list): the
    same order and defaults, times as ISO text, the raw payload and dedupe key left out
    (`stagent.domain.ledger.INTERNAL_FIELDS`), the USD text and unpriced flag after ``cost_micros``
    and the token total last, as `stagent.ledger.views.entry_json` writes them."""
    hints = get_type_hints(LedgerEntry)
    found: dict[str, Any] = {}
    for field in dataclasses.fields(LedgerEntry):
        if field.name in INTERNAL_FIELDS:
            continue
        kind = str if hints[field.name] is datetime else hints[field.name]
        default = ... if field.default is dataclasses.MISSING else field.default
        found[field.name] = (kind, Field(default, description=USAGE_DESCRIPTIONS.get(field.name)))
        if field.name == "cost_micros":
            found["cost_usd"] = (str | None, Field(description=USAGE_DESCRIPTIONS["cost_usd"]))
            found["unpriced"] = (bool, False)
    found["total_tokens"] = (int, 0)
    return found


_UsageFields = create_model("UsageFields", __base__=Schema, **_usage_fields())


class UsageSchema(_UsageFields):
    """One ledger row: raw tokens by category, cost in micro-USD (and USD text), provenance,
    source and attribution."""

    @classmethod
    def of(cls, entry: LedgerEntry) -> UsageSchema:
        """Build from the ledger row."""
        from stagent.ledger.views import entry_json

        return cls.model_validate(entry_json(entry))
