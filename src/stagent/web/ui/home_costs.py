"""Home's cards: the five status cards and spend today against the overall daily cap, each with
a 7-day sparkline, the 24-hour activity bars, and the welcome of an empty workspace."""

from __future__ import annotations

from typing import Any

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
    data = ws.ledger.daily(7)
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


def bars(values: list[int], width: int = 240, height: int = 48) -> list[dict[str, float]]:
    """SVG rectangles (x, y, w, h) of a bar chart of ``values`` in ``width`` x ``height``; a
    zero is a flat 1-unit bar so the hour still shows."""
    if not values:
        return []
    top = max(values) or 1
    slot = width / len(values)
    out: list[dict[str, float]] = []
    for index, value in enumerate(values):
        tall = max(1.0, value / top * (height - 2))
        out.append(
            {
                "x": round(index * slot + slot * 0.1, 1),
                "y": round(height - tall, 1),
                "w": round(slot * 0.8, 1),
                "h": round(tall, 1),
            }
        )
    return out


def cards_context(ws: Workspace) -> dict[str, Any]:
    """The five status cards with their sparkline points, the activity bars, and ``welcome``
    while the workspace is empty."""
    data = ws.ledger.home(ws.approvals.inbox_count())
    cards = [
        {**card, "points": sparkline(card["series"]), "week": sum(card["series"])}
        for card in data["cards"]
    ]
    hours = data["activity_24h"]
    events = [hour["events"] for hour in hours]
    return {
        "cards": cards,
        "card_days": data["days"],
        "welcome": data["empty"],
        "activity_bars": [
            {**bar, "hour": hour["hour"], "events": hour["events"]}
            for bar, hour in zip(bars(events), hours, strict=True)
        ],
        "activity_total": sum(events),
        "activity_first": hours[0]["hour"] if hours else "",
        "activity_last": hours[-1]["hour"] if hours else "",
    }
