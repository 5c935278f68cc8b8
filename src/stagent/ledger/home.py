"""Home's five status cards, each with a seven-day sparkline (oldest day first, today last; days
in the person's time zone):

- **Running**: tasks running now; per day, task runs that were running at some time that day.
- **Completed today**: task runs that completed today (and ever); per day, runs completed.
- **Waiting for you**: what the Inbox badge counts now (approval cards, unread notices, open
  budget cards); per day, approval cards and inbox items that arrived.
- **Active projects**: projects with a task run in the last seven days; per day, projects with a
  run that day.
- **Workflows active**: workflows running or paused now; per day, workflows whose latest run was
  active that day (only a workflow's latest run is kept, so earlier runs are not counted).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from stagent.ledger.monitor import hourly
from stagent.store import activity
from stagent.store.database import Store

DAYS = 7


def day_starts(now: datetime, zone: tzinfo, days: int = DAYS) -> list[datetime]:
    """The start of each of the last ``days`` local days (today last), plus the start of
    tomorrow (the end of today)."""
    today = now.astimezone(zone).date()
    return [_midnight(today - timedelta(days=days - 1 - n), zone) for n in range(days + 1)]


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), zone)


def overlapping(
    spans: Iterable[tuple[datetime, datetime | None]], starts: list[datetime]
) -> list[int]:
    """Per day, how many spans were open at some time during it."""
    counts = [0] * (len(starts) - 1)
    for start, end in spans:
        for n in range(len(counts)):
            if start < starts[n + 1] and (end is None or end >= starts[n]):
                counts[n] += 1
    return counts


def per_day(moments: Iterable[datetime], starts: list[datetime]) -> list[int]:
    """Per day, how many moments fell in it."""
    counts = [0] * (len(starts) - 1)
    for at in moments:
        for n in range(len(counts)):
            if starts[n] <= at < starts[n + 1]:
                counts[n] += 1
                break
    return counts


def status_cards(store: Store, now: datetime, zone: tzinfo, waiting_now: int) -> dict[str, Any]:
    """The five cards (``cards``: key, label, value, detail, series, href) and whether the
    workspace has no task, project or workflow yet (``empty``)."""
    starts = day_starts(now, zone)
    since = starts[0]
    with store.read() as session:
        running_now = len(activity.running(session))
        runs = activity.run_spans(session, since)
        flows = activity.workflow_spans(session, since)
        flows_now = activity.workflows_running(session)
        asked = activity.asked_since(session, since)
        completed_ever = activity.completed_runs(session)
        empty = activity.is_empty(session)
        hours = hourly(session, now, zone)
    completed = per_day(
        (end for _, end, status, _ in runs if end and status == "completed"), starts
    )
    projects_by_day: list[set[str]] = [set() for _ in range(DAYS)]
    for start, end, _, project in runs:
        if project is None:
            continue
        for n in range(DAYS):
            if start < starts[n + 1] and (end is None or end >= starts[n]):
                projects_by_day[n].add(project)
    active_projects: set[str] = set()
    for day in projects_by_day:
        active_projects |= day
    cards = [
        _card("running", "Running", running_now, "tasks now",
              overlapping(((s, e) for s, e, _, _ in runs), starts), "/monitor"),
        _card("completed", "Completed today", completed[-1], f"{completed_ever:,} ever",
              completed, "/board?column=completed"),
        _card("waiting", "Waiting for you", waiting_now, "in the Inbox",
              per_day(asked, starts), "/inbox"),
        _card("projects", "Active projects", len(active_projects), "with runs in 7 days",
              [len(day) for day in projects_by_day], "/projects"),
        _card("workflows", "Workflows active", flows_now, "running or paused",
              overlapping(flows, starts), "/workflows"),
    ]  # fmt: skip
    days = [start.date().isoformat() for start in starts[:-1]]
    return {"cards": cards, "days": days, "empty": empty, "activity_24h": hours}


def _card(
    key: str, label: str, value: int, detail: str, series: list[int], href: str
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "value": value,
        "detail": detail,
        "series": series,
        "href": href,
    }
