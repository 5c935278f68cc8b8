"""Validating what a person asks to change about a budget (the CLI, the API and the page)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from stagent.domain.errors import ValidationError
from stagent.governance.budgets_policy import SCOPE_KINDS, ScopeKind
from stagent.ledger.recorder import RUNTIME_PROVIDERS

CLEAR = -1
"""A cap value meaning "remove this cap" (``--daily none``)."""


@dataclass(frozen=True, slots=True)
class BudgetChange:
    """Fields to set on one scope's budget; None leaves a field as it is.

    Caps are micro-USD; `CLEAR` removes a cap.
    """

    scope: str = "overall"
    ref: str | None = None
    daily: int | None = None
    monthly: int | None = None
    warn_at: float | None = None
    on_breach: str | None = None
    per_run: int | None = None

    def fields(self) -> dict[str, Any]:
        """The columns to write, validated."""
        out: dict[str, Any] = {}
        for name, column in (
            ("daily", "daily_cap_micros"),
            ("monthly", "monthly_cap_micros"),
            ("per_run", "run_cap_micros"),
        ):
            value: int | None = getattr(self, name)
            if value is None:
                continue
            if value != CLEAR and value < 0:
                raise ValidationError(f"{name}: a cap must be zero or more")
            out[column] = None if value == CLEAR else value
        if self.per_run == 0:
            raise ValidationError("per_run: a per-run cap must be more than zero")
        if self.warn_at is not None:
            if math.isnan(self.warn_at) or not 0 < self.warn_at <= 1:
                raise ValidationError(
                    f"warn_at: {self.warn_at} is not a fraction of the cap",
                    hint="use a number above 0 and at most 1, e.g. 0.8 for 80%",
                )
            out["warn_at"] = float(self.warn_at)
        if self.on_breach is not None:
            if self.on_breach not in ("fail", "pause"):
                raise ValidationError(
                    f"on_breach: {self.on_breach!r} is not fail or pause",
                    hint="fail refuses the call; pause holds the work for a person to decide",
                )
            out["on_breach"] = self.on_breach
        if not out:
            raise ValidationError(
                "nothing to change: give a cap, warn-at, on-breach or per-run value",
                hint="e.g. stagent budget set --daily 5 --monthly 100",
            )
        return out


def normalize_scope(scope: str, ref: str | None, runtimes: Sequence[str]) -> tuple[ScopeKind, str]:
    """Check a scope and its reference: ``overall`` has none, ``runtime`` names a runtime,
    ``project`` names a project (by id or name; resolved by the caller)."""
    kind = scope.strip().lower()
    ref = (ref or "").strip()
    if kind not in SCOPE_KINDS:
        raise ValidationError(
            f"scope: {scope!r} is not a budget scope", hint="use overall, runtime or project"
        )
    if kind == "overall":
        if ref:
            raise ValidationError("scope: the overall budget takes no runtime or project")
        return "overall", ""
    if not ref:
        raise ValidationError(f"scope: a {kind} budget needs the {kind}'s name")
    if kind == "runtime":
        known = sorted({*runtimes, *RUNTIME_PROVIDERS})
        if ref not in known:
            raise ValidationError(
                f"runtime: unknown runtime {ref!r}", hint=f"known runtimes: {', '.join(known)}"
            )
        return "runtime", ref
    return "project", ref
