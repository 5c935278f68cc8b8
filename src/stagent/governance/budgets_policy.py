"""Budget policy as values: caps per scope, what applies to a call, health and the messages.

Nothing here touches the database; `stagent.governance.budgets` reads and writes.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Literal, cast

from stagent.domain.errors import StagentError
from stagent.governance.budgets_windows import Period, Window, format_reset
from stagent.ledger.money import shown_usd, usd_text
from stagent.store.budgets import StoredBudget

ScopeKind = Literal["overall", "runtime", "project"]
SCOPE_KINDS: tuple[ScopeKind, ...] = ("overall", "runtime", "project")
OnBreach = Literal["fail", "pause"]
Health = Literal["ok", "warning", "blocked", "unlimited"]
HEALTH_ORDER: dict[Health, int] = {"unlimited": 0, "ok": 1, "warning": 2, "blocked": 3}
DEFAULT_WARN_AT = 0.8
DEFAULT_RUN_CAP_MICROS = 2_000_000
"""Each run's own cap (passed to runtimes that take one) unless a budget sets another: 2 USD."""


class BudgetBlockedError(StagentError):
    """A new provider call was refused because a budget cap is reached."""

    code = "budget_blocked"
    status = 429


class BudgetPolicyError(StagentError):
    """The budget policy cannot be read, so new provider calls are refused (fail closed)."""

    code = "budget_policy_unreadable"
    status = 503


@dataclass(frozen=True, slots=True)
class BudgetPolicy:
    """A validated budget: caps for one scope."""

    scope: ScopeKind
    ref: str
    daily_cap: int | None
    monthly_cap: int | None
    warn_at: float = DEFAULT_WARN_AT
    on_breach: OnBreach = "fail"
    run_cap: int | None = None
    project_name: str | None = None
    """A project budget's project name, read with it (None: unknown, look it up)."""

    def cap(self, period: Period) -> int | None:
        """The cap for ``period`` in micro-USD (None: no cap)."""
        return self.daily_cap if period == "daily" else self.monthly_cap

    @classmethod
    def of(cls, stored: StoredBudget) -> BudgetPolicy:
        """Validate a stored row; anything odd raises `BudgetPolicyError` (fail closed)."""
        problem = _problem(stored)
        if problem:
            raise BudgetPolicyError(
                f"budget policy unreadable: budget {stored.id} ({stored.scope} "
                f"{stored.scope_ref!r}) {problem}; new provider calls are refused",
                hint="fix it with `stagent budget set` or remove it with `stagent budget clear`",
            )
        return cls(
            scope=stored.scope,  # pyright: ignore[reportArgumentType]
            ref=stored.scope_ref,
            daily_cap=stored.daily_cap_micros,
            monthly_cap=stored.monthly_cap_micros,
            warn_at=stored.warn_at,
            on_breach=stored.on_breach,  # pyright: ignore[reportArgumentType]
            run_cap=stored.run_cap_micros,
            project_name=stored.project_name,
        )


def _problem(stored: StoredBudget) -> str | None:
    if stored.scope not in SCOPE_KINDS:
        return f"has an unknown scope {stored.scope!r}"
    if (stored.scope == "overall") != (stored.scope_ref == ""):
        return "has a scope reference that does not fit its scope"
    for name in ("daily_cap_micros", "monthly_cap_micros", "run_cap_micros"):
        value = getattr(stored, name)
        if value is not None and (not isinstance(value, int) or value < 0):
            return f"has an invalid {name} {value!r}"
    warn_at = stored.warn_at
    if not isinstance(cast(object, warn_at), float | int) or math.isnan(warn_at):
        return f"has an invalid warn_at {warn_at!r}"
    if not 0 < warn_at <= 1:
        return f"has an invalid warn_at {warn_at!r}"
    if stored.on_breach not in ("fail", "pause"):
        return f"has an invalid on_breach {stored.on_breach!r}"
    return None


@dataclass(frozen=True, slots=True)
class CallScope:
    """Who is about to make provider calls: what the budgets are checked against."""

    runtime: str
    project_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    activity: str = "task_run"
    """``task_run``, ``workflow_step``, ``scheduled_firing``, ``chat_turn``..."""
    model: str | None = None

    def covers(self, policy: BudgetPolicy) -> bool:
        """True if ``policy`` limits this call."""
        if policy.scope == "overall":
            return True
        if policy.scope == "runtime":
            return policy.ref == self.runtime
        return self.project_id is not None and policy.ref == self.project_id


@dataclass(frozen=True, slots=True)
class LimitStatus:
    """One cap of one budget in its current window, with the spend against it."""

    policy: BudgetPolicy
    label: str
    """``overall``, ``runtime claude``, ``project Website``."""
    window: Window
    cap: int | None
    allowance: int
    spent: int
    """Ledger cost in the window, reservations of running work included."""
    reserved: int
    unpriced: int
    """Rows in the window whose model has no price (not counted)."""

    @property
    def limit(self) -> int | None:
        """The cap plus what a person allowed on top in this window."""
        return None if self.cap is None else self.cap + self.allowance

    @property
    def headroom(self) -> int | None:
        """What may still be spent in this window (None: unlimited)."""
        return None if self.limit is None else max(0, self.limit - self.spent)

    @property
    def ratio(self) -> float | None:
        """Spent / limit (for display; decisions use exact integers)."""
        limit = self.limit
        if limit is None:
            return None
        return float(Decimal(self.spent) / Decimal(limit)) if limit else math.inf

    @property
    def health(self) -> Health:
        """``unlimited``, ``ok``, ``warning`` (at the threshold) or ``blocked`` (at the cap)."""
        limit = self.limit
        if limit is None:
            return "unlimited"
        if self.spent >= limit:
            return "blocked"
        if Decimal(self.spent) >= _exact(self.policy.warn_at) * limit:
            return "warning"
        return "ok"

    def describe(self) -> str:
        """``overall daily cap $3.00``."""
        return f"{self.label} {self.window.period} cap {shown_usd(self.limit or 0)}"

    def blocked_message(self, zone: tzinfo) -> str:
        """What a refused call says."""
        text = (
            f"blocked by budget: {self.describe()} reached (spent {shown_usd(self.spent)}); "
            f"resets {format_reset(self.window.resets_at, zone)}"
        )
        if self.reserved:
            text += f" ({shown_usd(self.reserved)} of the spend is held by running work)"
        return text

    def as_json(self, zone: tzinfo) -> dict[str, object]:
        """The limit as JSON-ready data (amounts as micro-USD integers and USD strings)."""

        def usd(value: int | None) -> str | None:
            return None if value is None else usd_text(value)

        return {
            "period": self.window.period,
            "window": self.window.key,
            "cap_micros": self.cap,
            "cap_usd": usd(self.cap),
            "allowance_micros": self.allowance,
            "spent_micros": self.spent,
            "spent_usd": usd_text(self.spent),
            "reserved_micros": self.reserved,
            "headroom_micros": self.headroom,
            "headroom_usd": usd(self.headroom),
            "ratio": None if self.ratio is None else round(self.ratio, 4),
            "health": self.health,
            "unpriced_rows": self.unpriced,
            "resets_at": self.window.resets_at.isoformat(),
            "resets": format_reset(self.window.resets_at, zone),
        }


@functools.lru_cache(maxsize=64)
def _exact(fraction: float) -> Decimal:
    """A threshold as the decimal people wrote (0.8, not the float's binary neighbour)."""
    return Decimal(repr(fraction))


def worst(healths: list[Health]) -> Health:
    """The most severe health of several."""
    result: Health = "unlimited"
    for health in healths:
        if HEALTH_ORDER[health] > HEALTH_ORDER[result]:
            result = health
    return result
