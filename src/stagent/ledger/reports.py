"""The ledger's reports as JSON-ready data (the CLI's ``--json``, the API and the pages show the
same shapes): summaries by day / model / runtime / project / source, and the Costs dashboard."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from stagent.ledger import metrics
from stagent.ledger.money import usd_text
from stagent.ledger.window import Window
from stagent.store import ledger_metrics as repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerFilter
from stagent.store.ledger_metrics import Attribution, Bucket
from stagent.store.ledger_task_sums import task_sums

SUMMARY_GROUPS = ("day", "model", "runtime", "project", "source", "profile", "workflow", "schedule")
ATTRIBUTED = ("profile", "workflow", "schedule")
"""Groupings by what a task ran as: summed per task in the database, then rolled up."""
NONE_LABELS = {
    "profile": "(no profile)",
    "workflow": "(not a workflow step)",
    "schedule": "(not from a schedule)",
}
RANK = {"complete": 0, "partial": 1, "estimated": 2}
RECENT_DAYS = 30
TOP_TASKS = 50
"""The dashboard's cost per task lists this many tasks, largest spend first."""
"""Velocity's longest average: the spend per day over the last 30 days, whatever the window."""


def bucket_json(bucket: Bucket, **extra: Any) -> dict[str, Any]:
    """One group's sums: requests, tokens by category, ``total_tokens``, cost (micro-USD and USD
    text) and how many calls are unpriced (their cost is unknown, not zero)."""
    return {
        **extra,
        "requests": bucket.requests,
        "input_tokens": bucket.input_tokens,
        "output_tokens": bucket.output_tokens,
        "cache_write_5m_tokens": bucket.cache_write_5m_tokens,
        "cache_write_1h_tokens": bucket.cache_write_1h_tokens,
        "cache_read_tokens": bucket.cache_read_tokens,
        "total_tokens": bucket.total_tokens,
        "total_cost_micros": bucket.cost_micros,
        "total_cost_usd": usd_text(bucket.cost_micros),
        "unpriced_requests": bucket.unpriced,
    }


@dataclass(frozen=True, slots=True)
class Scope:
    """Which calls a report covers."""

    since: datetime | None = None
    until: datetime | None = None
    runtime: str | None = None
    project_id: str | None = None
    source: str | None = None
    model: str | None = None
    status: str | None = None
    simulated: bool = False
    """True: the simulated calls instead of the real ones."""

    def filter(self, since: datetime | None = None) -> LedgerFilter:
        """The ledger filter for this scope (``since`` overrides the scope's own start)."""
        return LedgerFilter(
            runtime=self.runtime,
            project_id=self.project_id,
            source=self.source,
            model=self.model,
            status=self.status,
            since=since if since is not None else self.since,
            until=self.until,
            simulated=self.simulated,
        )


def summary(store: Store, scope: Scope, by: str | None, zone: tzinfo) -> dict[str, Any]:
    """Totals of ``scope`` (and groups ``by`` one of `SUMMARY_GROUPS`)."""
    with store.read() as session:
        simple = by not in ATTRIBUTED
        both = replace(scope.filter(), simulated=None if not scope.simulated else True)
        split = repo.summarize(session, both, by if simple else None, zone=zone)
        real = split.simulated if scope.simulated else split.real
        simulated = None if scope.simulated else split.simulated
        chosen = split.simulated_groups if scope.simulated else split.real_groups
        groups: list[dict[str, Any]] = []
        if by == "day":
            groups = [bucket_json(b, key=b.key, label=b.key) for b in sorted(chosen, key=_day_key)]
        elif by in ATTRIBUTED:
            tasks = task_sums(session, scope.filter(), real)
            keys = [t.key for t in tasks if t.key]
            titles, attribution = repo.task_details(session, keys)
            groups = rollups(tasks, attribution, titles, (by,))[by]
        elif by is not None:
            names = repo.project_names(session) if by == "project" else {}
            for share in metrics.shares(chosen):
                label = names.get(share.key or "", share.key) if by == "project" else share.key
                groups.append(
                    bucket_json(
                        share.bucket,
                        key=share.key,
                        label=label or "(none)",
                        share=round(share.share, 4),
                    )
                )
        unpriced: list[Bucket] = []
        if real.unpriced:  # the models to price (a second, rare query unless grouped by model)
            unpriced = (
                chosen
                if by == "model" and scope.status is None
                else repo.aggregate(session, replace(scope, status=None).filter(), "model")
            )
    total = real
    return {
        "since": scope.since.isoformat() if scope.since else None,
        "until": scope.until.isoformat() if scope.until else None,
        "by": by,
        "totals": bucket_json(total),
        "groups": groups,
        "unpriced_models": {b.key or "": b.unpriced for b in unpriced if b.unpriced},
        "simulated": None if simulated is None else bucket_json(simulated),
    }


GROUP_FIELDS = frozenset({*bucket_json(Bucket(None)), "key", "label", "share"})


class _Rollup:
    """One group's running sums (in `Bucket`'s field order), outcomes and completeness rank."""

    __slots__ = ("key", "label", "sums", "outcomes", "rank")

    def __init__(self, key: str | None, label: str) -> None:
        self.key = key
        self.label = label
        self.sums = [0] * len(_FIELDS)
        self.outcomes: set[object] = set()
        self.rank = 0

    def add(self, values: tuple[int, ...], outcome: object, rank: int) -> None:
        sums = self.sums
        for index, value in enumerate(values):
            sums[index] += value
        if outcome is not None:
            self.outcomes.add(outcome)
        self.rank = max(self.rank, rank)


_FIELDS = (
    "requests", "input_tokens", "output_tokens", "cache_write_5m_tokens",
    "cache_write_1h_tokens", "cache_read_tokens", "cost_micros", "unpriced", "estimated",
)  # fmt: skip
_BY_RANK = {rank: name for name, rank in RANK.items()}
_NOWHERE = Attribution()


def _group_of(by: str, task_id: str, about: Attribution) -> tuple[str | None, str | None, object]:
    """A task's (group key, label, outcome) when rolled up ``by``."""
    if by == "profile":
        key, label, outcome = about.profile, about.profile, task_id
    elif by == "workflow":
        key, label = about.workflow_id, about.workflow
        outcome = (about.workflow_id, about.workflow_run)
    else:
        key, label, outcome = about.schedule_id, about.schedule, about.firing_id
    if key is None:
        return None, NONE_LABELS[by], task_id
    return key, label, outcome


def rollups(
    tasks: list[Bucket],
    attribution: dict[str, Attribution],
    titles: dict[str, tuple[str, str]],
    bys: tuple[str, ...] = ATTRIBUTED,
) -> dict[str, list[dict[str, Any]]]:
    """Per-task sums rolled up by each of ``bys`` (profile, workflow, schedule) in one pass,
    largest spend first: each group's sums and share, ``outcomes`` (tasks; workflow runs;
    schedule firings), the cost per outcome, and how complete the figure is (the least
    complete of its tasks)."""
    groups: dict[str, dict[str | None, _Rollup]] = {by: {} for by in bys}
    for bucket in tasks:
        task_id = bucket.key
        runtime = titles.get(task_id, ("", ""))[1] if task_id else ""
        quality = metrics.completeness(runtime, "run" if task_id else "import", bucket)
        values = tuple(getattr(bucket, name) for name in _FIELDS)
        about = attribution.get(task_id, _NOWHERE) if task_id else _NOWHERE
        for by in bys:
            if task_id is None:
                key, label, outcome = None, NONE_LABELS[by], None
            else:
                key, label, outcome = _group_of(by, task_id, about)
            group = groups[by].get(key)
            if group is None:
                group = groups[by][key] = _Rollup(key, label or key or "")
            group.add(values, outcome, RANK[quality])
    return {by: _rolled_rows(found) for by, found in groups.items()}


def _rolled_rows(groups: dict[str | None, _Rollup]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    buckets = (Bucket(g.key, *g.sums) for g in groups.values())
    for share in metrics.shares(buckets):
        group = groups[share.key]
        outcomes = len(group.outcomes)
        out.append(
            bucket_json(
                share.bucket,
                key=group.key,
                label=group.label,
                share=round(share.share, 4),
                outcomes=outcomes,
                cost_per_outcome_micros=share.bucket.cost_micros // outcomes if outcomes else None,
                completeness=_BY_RANK[group.rank],
            )
        )
    return out


def _day_key(bucket: Bucket) -> str:
    return bucket.key or ""


def dashboard(
    store: Store, scope: Scope, now: datetime, zone: tzinfo, window: Window
) -> dict[str, Any]:
    """The Costs page over ``window`` (it replaces the scope's own since and until): cards,
    daily spend and tokens (stacked by runtime), model concentration, runtime share, spend by
    project and source, cost per task; velocity, the month and its forecast are about now."""
    today = now.astimezone(zone).date()
    first, last = window.first, window.last
    windowed = replace(scope, since=window.since, until=window.until)
    where = windowed.filter()
    recent_first = today - timedelta(days=RECENT_DAYS - 1)
    recent_since = datetime.combine(recent_first, datetime.min.time(), zone)
    month_start = today.replace(day=1)
    month_since = datetime.combine(month_start, datetime.min.time(), zone)
    with store.read() as session:
        (total,) = repo.aggregate(session, where)
        hours = repo.aggregate(session, where, "hour")
        models = repo.aggregate(session, where, "model")
        runtimes = repo.aggregate(session, where, "runtime")
        by_runtime_hours = _runtime_hours(session, where, [b.key for b in runtimes if b.key])
        projects = repo.aggregate(session, where, "project")
        sources = repo.aggregate(session, where, "source")
        tasks = task_sums(session, where, total)
        names = repo.project_names(session)
        (month,) = repo.aggregate(session, scope.filter(month_since))
        (last_day,) = repo.aggregate(session, scope.filter(now - timedelta(hours=24)))
        minutes = repo.aggregate(session, scope.filter(now - timedelta(hours=1)), "minute")
        covered = not window.chosen and first <= recent_first and scope.until is None
        recent_hours = (
            hours if covered else repo.aggregate(session, scope.filter(recent_since), "hour")
        )
        task_ids = [t.key for t in tasks if t.key]
        titles, attribution = repo.task_details(session, task_ids)
    recent = metrics.series(metrics.by_day(recent_hours, zone), recent_first, today)
    daily = metrics.series(metrics.by_day(hours, zone), first, last)
    model_shares = metrics.shares(models)
    forecast = metrics.month_forecast(month.cost_micros, now, zone)
    last_hour_tokens = sum(b.total_tokens for b in minutes)
    rolled = rollups(tasks, attribution, titles)
    return {
        "days": window.days,
        "chosen": window.chosen,
        "since": first.isoformat(),
        "until": last.isoformat(),
        "totals": bucket_json(total),
        "month": {**bucket_json(month), "start": month_start.isoformat()},
        "forecast": {
            "projected_micros": forecast.projected,
            "projected_usd": usd_text(forecast.projected),
            "elapsed": forecast.elapsed,
        },
        "velocity": {
            "spend_last_24h_micros": last_day.cost_micros,
            "spend_per_hour_micros": last_day.cost_micros // 24,
            "spend_per_day_7d_micros": _mean(recent[-7:]),
            "spend_per_day_30d_micros": _mean(recent),
            "tokens_last_24h": last_day.total_tokens,
            "tokens_per_minute_last_hour": round(last_hour_tokens / 60, 1),
        },
        "daily": [bucket_json(b, day=b.key) for b in daily],
        "daily_by_runtime": _stacked(by_runtime_hours, zone, first, last),
        "models": [
            bucket_json(s.bucket, model=s.key, share=round(s.share, 4)) for s in model_shares
        ],
        "model_hhi": metrics.herfindahl(model_shares),
        "runtimes": [
            bucket_json(s.bucket, runtime=s.key, share=round(s.share, 4))
            for s in metrics.shares(runtimes)
        ],
        "projects": [
            bucket_json(
                s.bucket,
                project_id=s.key,
                project=names.get(s.key or "", "(no project)"),
                share=round(s.share, 4),
            )
            for s in metrics.shares(projects)
        ],
        "sources": [
            bucket_json(s.bucket, source=s.key, share=round(s.share, 4))
            for s in metrics.shares(sources)
        ],
        "tasks": _tasks(tasks, titles),
        "profiles": rolled["profile"],
        "workflows": rolled["workflow"],
        "schedules": rolled["schedule"],
    }


def daily(store: Store, scope: Scope, zone: tzinfo, window: Window) -> dict[str, Any]:
    """The dashboard's ``totals`` and ``daily`` alone (Home's spend card): two reads of the
    rollup, none of the per-task work."""
    where = replace(scope, since=window.since, until=window.until).filter()
    with store.read() as session:
        (total,) = repo.aggregate(session, where)
        hours = repo.aggregate(session, where, "hour")
    days = metrics.series(metrics.by_day(hours, zone), window.first, window.last)
    return {"totals": bucket_json(total), "daily": [bucket_json(b, day=b.key) for b in days]}


def _mean(buckets: list[Bucket]) -> int:
    return sum(b.cost_micros for b in buckets) // len(buckets) if buckets else 0


def _runtime_hours(
    session: Any, where: LedgerFilter, runtimes: list[str]
) -> dict[str, list[Bucket]]:
    """Each of ``runtimes``' cost per hour (one read: `ledger_metrics.runtime_hours`)."""
    found = repo.runtime_hours(session, where)
    return {runtime: found.get(runtime, []) for runtime in runtimes}


def _stacked(
    hours: dict[str, list[Bucket]], zone: tzinfo, first: date, last: date
) -> dict[str, list[int]]:
    """Daily spend (micro-USD) per runtime, zero-filled, for a stacked chart."""
    return {
        runtime: [b.cost_micros for b in metrics.series(metrics.by_day(rows, zone), first, last)]
        for runtime, rows in sorted(hours.items())
    }


def _tasks(tasks: list[Bucket], titles: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """The 50 tasks that spent most, largest first."""
    top = sorted((b for b in tasks if b.key is not None), key=lambda b: -b.cost_micros)[:TOP_TASKS]
    rows: list[dict[str, Any]] = []
    for bucket in top:
        task_id = bucket.key or ""
        title, runtime = titles.get(task_id, ("(deleted task)", ""))
        rows.append(
            bucket_json(
                bucket,
                task_id=task_id,
                title=title,
                runtime=runtime,
                completeness=metrics.completeness(runtime, "run", bucket),
            )
        )
    return rows
