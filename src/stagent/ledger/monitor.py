"""What the Monitor page shows: agents active now (running, or waiting for a person, with their
spend so far), how runs ended (success rate over 24 hours and 7 days), and agent activity per
hour over the last 24 hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from stagent.ledger.money import usd_text
from stagent.store import activity
from stagent.store import ledger_metrics as metrics_repo
from stagent.store.database import Store
from stagent.store.ledger import Session
from stagent.store.ledger_metrics import Bucket


def success(counts: dict[str, int]) -> dict[str, Any]:
    """Completed, failed and cancelled runs and the success rate (completed / ended; None when
    nothing ended)."""
    completed = counts.get("completed", 0)
    failed = counts.get("failed", 0)
    cancelled = counts.get("cancelled", 0)
    ended = completed + failed + cancelled
    return {
        "completed": completed,
        "failed": failed,
        "cancelled": cancelled,
        "rate": round(completed / ended, 4) if ended else None,
    }


def hourly(session: Session, now: datetime, zone: tzinfo) -> list[dict[str, Any]]:
    """Agent log events in each of the last 24 hours (this hour last), labelled in ``zone``."""
    hour_start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first_hour = hour_start - timedelta(hours=23)
    hours = activity.events_per_hour(session, first_hour)
    series: list[dict[str, Any]] = []
    for index in range(24):
        start = first_hour + timedelta(hours=index)
        key = start.strftime("%Y-%m-%d %H")
        series.append(
            {"hour": start.astimezone(zone).strftime("%H:00"), "events": hours.get(key, 0)}
        )
    return series


def active_agents(
    session: Session, now: datetime, is_simulated: Callable[[str], bool]
) -> list[dict[str, Any]]:
    """Agents active now (running, or waiting for a person), each with its spend so far.

    An agent is simulated when its runtime calls no model (``is_simulated``), the rule of a
    workflow step's and a schedule firing's cost: a scripted run that booked nothing yet is
    simulated too."""
    active = activity.active(session)
    found = metrics_repo.per_task(session, [task.id for task in active])
    spend = {task.id: found.get(task.id) or Bucket(task.id) for task in active}
    return [
        {
            "task_id": task.id,
            "title": task.title,
            "runtime": task.runtime,
            "status": task.status,
            "project": task.project,
            "started_at": task.started_at.isoformat() if task.started_at else None,
            "elapsed_seconds": int((now - task.started_at).total_seconds())
            if task.started_at
            else None,
            "spent_micros": spend[task.id].cost_micros,
            "spent_usd": usd_text(spend[task.id].cost_micros),
            "requests": spend[task.id].requests,
            "simulated": is_simulated(task.runtime),
            "unpriced_requests": spend[task.id].unpriced,
        }
        for task in active
    ]


def agents_now(
    store: Store, now: datetime, is_simulated: Callable[[str], bool]
) -> list[dict[str, Any]]:
    """`active_agents` in a read of its own (the Monitor's live table)."""
    with store.read() as session:
        return active_agents(session, now, is_simulated)


def overview(
    store: Store, now: datetime, zone: tzinfo, is_simulated: Callable[[str], bool]
) -> dict[str, Any]:
    """Active agents (running or waiting for a person), success rates and 24-hour activity."""
    with store.read() as session:
        active = active_agents(session, now, is_simulated)
        day = activity.finished_by_status(session, now - timedelta(hours=24))
        week = activity.finished_by_status(session, now - timedelta(days=7))
        series = hourly(session, now, zone)
    return {
        "active": active,
        "success_24h": success(day),
        "success_7d": success(week),
        "activity_24h": series,
        "events_24h": sum(item["events"] for item in series),
    }
