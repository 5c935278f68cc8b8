"""Ledger metrics from aggregated buckets (pure functions: no I/O).

- Days are the person's local days: the database sums by UTC hour and each hour lands in the
  local day it starts in (zones with half-hour offsets put a boundary hour in one day).
- Model concentration: each model's share of spend and the Herfindahl-Hirschman index, the sum of
  squared shares (1.0: one model takes everything; 1/n: n models share equally).
- Month-end forecast: spend so far this month, divided by the fraction of the month elapsed.
- Cost per outcome is labelled ``complete`` (every call priced from its own tokens or reported),
  ``partial`` (the runtime reports only per-run totals: the Claude Agent SDK's result message) or
  ``estimated`` (some calls are unpriced, use a fallback price, miss counts such as Codex's
  cache writes, or are served calls whose usage never came, booked from estimated tokens).
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

from stagent.ledger.money import usd_text
from stagent.store.ledger_metrics import Bucket

Completeness = Literal["complete", "partial", "estimated"]
TOTALS_ONLY_RUNTIMES = frozenset({"claude"})
"""Runtimes Stagent launches that report usage per run, not per call."""


@functools.lru_cache(maxsize=16_384)
def local_day(hour_key: str, zone: tzinfo) -> date:
    """The local day a UTC ``YYYY-MM-DD HH`` (or ``HH:MM``) bucket starts in.

    Remembered: a dashboard asks for the same hours once per runtime, and ``strptime`` was
    most of its CPU (4,264 calls, ~0.3 s under a profiler, for 30 days of 4 runtimes)."""
    text = hour_key if ":" in hour_key else f"{hour_key}:00"
    start = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return start.astimezone(zone).date()


def by_day(hours: Iterable[Bucket], zone: tzinfo) -> dict[date, Bucket]:
    """Hour buckets summed into local days."""
    days: dict[date, Bucket] = {}
    for bucket in hours:
        if bucket.key is None:
            continue
        day = local_day(bucket.key, zone)
        key = day.isoformat()
        days[day] = days[day].plus(bucket, key) if day in days else Bucket(key).plus(bucket, key)
    return days


def series(days: dict[date, Bucket], first: date, last: date) -> list[Bucket]:
    """One bucket per day from ``first`` to ``last``, missing days zero."""
    out: list[Bucket] = []
    day = first
    while day <= last:
        out.append(days.get(day) or Bucket(day.isoformat()))
        day += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class Share:
    """One group's part of the spend."""

    key: str | None
    bucket: Bucket
    share: float
    """Of spend, 0..1 (of tokens when nothing was spent)."""


def shares(buckets: Iterable[Bucket]) -> list[Share]:
    """Each bucket's share of spend, largest first (share of tokens if there is no spend)."""
    items = list(buckets)
    spend = sum(b.cost_micros for b in items)
    tokens = sum(b.total_tokens for b in items)
    out: list[Share] = []
    for bucket in items:
        if spend:
            part = bucket.cost_micros / spend
        else:
            part = bucket.total_tokens / tokens if tokens else 0.0
        out.append(Share(bucket.key, bucket, part))
    return sorted(out, key=lambda s: (-s.bucket.cost_micros, -s.bucket.total_tokens, s.key or ""))


def herfindahl(items: Iterable[Share]) -> float:
    """The Herfindahl-Hirschman index of ``items`` (sum of squared shares, 0..1)."""
    return round(sum(item.share**2 for item in items), 4)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Month-end spend at the current pace."""

    month_start: date
    spent: int
    projected: int
    elapsed: float
    """Fraction of the month gone, 0..1."""


def month_forecast(spent: int, now: datetime, zone: tzinfo) -> Forecast:
    """Project ``spent`` (this month so far) to the end of the month containing ``now``."""
    local = now.astimezone(zone)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    days = calendar.monthrange(local.year, local.month)[1]
    end = start + timedelta(days=days)
    elapsed = (local - start) / (end - start)
    projected = round(spent / elapsed) if elapsed > 0 else spent
    return Forecast(start.date(), spent, max(projected, spent), round(elapsed, 4))


def completeness(runtime: str, source: str, bucket: Bucket) -> Completeness:
    """How far a group of calls' cost can be trusted (see the module docstring)."""
    if bucket.unpriced or bucket.estimated:
        return "estimated"
    if source == "run" and runtime in TOTALS_ONLY_RUNTIMES:
        return "partial"
    return "complete"


def cap_forecasts(
    budgets: Iterable[dict[str, Any]], now: datetime, zone: tzinfo
) -> list[dict[str, Any]]:
    """Month-end spend at the current pace against each monthly cap.

    ``budgets`` are budget scopes as their JSON (``scope``, ``ref``, ``label`` and ``monthly``
    with ``spent_micros`` and ``cap_micros``, as `stagent budget show --json` prints them);
    scopes without a monthly cap are left out. Budgets count only real calls of runs, so this
    is the forecast the cap will meet (imported sessions are not in it)."""
    out: list[dict[str, Any]] = []
    for budget in budgets:
        monthly: dict[str, Any] = budget.get("monthly") or {}
        cap: int | None = monthly.get("cap_micros")
        if cap is None:
            continue
        spent = int(monthly.get("spent_micros") or 0)
        forecast = month_forecast(spent, now, zone)
        out.append(
            {
                "scope": budget.get("scope"),
                "ref": budget.get("ref"),
                "label": budget.get("label"),
                "spent_micros": spent,
                "spent_usd": usd_text(spent),
                "projected_micros": forecast.projected,
                "projected_usd": usd_text(forecast.projected),
                "cap_micros": int(cap),
                "cap_usd": usd_text(int(cap)),
                "over": forecast.projected > int(cap),
                "elapsed": forecast.elapsed,
            }
        )
    return out
