"""Home's spend card: spend today against the overall daily cap, with a 7-day sparkline."""

from __future__ import annotations

from typing import Any

from stagent.ledger.reports import Scope
from stagent.workspace import Workspace


def sparkline(values: list[int], width: int = 120, height: int = 28) -> str:
    """SVG polyline points for ``values`` (oldest first), scaled into ``width`` x ``height``."""
    if not values:
        return ""
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(
        f"{round(i * step, 1)},{round(height - 2 - (v / top) * (height - 4), 1)}"
        for i, v in enumerate(values)
    )


def spend_context(ws: Workspace) -> dict[str, Any]:
    """What the card shows: today's spend, the daily cap (if any), 7 days of spend and calls."""
    data = ws.ledger.dashboard(Scope(), days=7)
    week = data["daily"]
    status = ws.budgets.status("overall").as_json(ws.budgets.zone)
    daily: dict[str, Any] = status.get("daily") or {}
    return {
        "spend_today_micros": week[-1]["total_cost_micros"] if week else 0,
        "spend_week_micros": data["totals"]["total_cost_micros"],
        "spend_cap_micros": daily.get("cap_micros"),
        "spend_unpriced": data["totals"]["unpriced_requests"],
        "spend_points": sparkline([d["total_cost_micros"] for d in week]),
        "calls_points": sparkline([d["requests"] for d in week]),
        "calls_week": data["totals"]["requests"],
    }
