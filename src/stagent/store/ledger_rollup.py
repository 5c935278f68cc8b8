"""Sums of calls read from ``usage_rollup`` (per UTC hour and per UTC day and group, kept by
triggers on the ledger; see `stagent.store.tables.UsageRollupRow`) instead of the ledger's rows.

A filter is served here when the rollup has its columns: time, runtime, model, project, source,
status and the simulated flag, grouped by one of those, by hour or by local day. A window is cut
into the coarsest pieces that answer it exactly (`plan`): whole UTC days from the day grain, the
part days at its ends from the hour grain, the part hours at its edges from the ledger's rows;
all rollup pieces are read in one grouped statement. So the answer is the same as summing rows
(`tests/store/test_usage_rollup.py`).

Local days (``by="day"``) in a zone that is not UTC: a UTC day's sums go to the local day of its
noon, and the hours of it that belong to another local day are read from the hour grain in the
same statement and moved (`off_hours`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from stagent.store.ledger import LedgerFilter, Session, equalities
from stagent.store.sqlite_imports import CALL_STATUSES as CALL_STATUSES
from stagent.store.sqlite_imports import DAY as DAY
from stagent.store.sqlite_imports import HOUR as HOUR
from stagent.store.sqlite_imports import rollup_staged_upsert
from stagent.store.tables import UsageRollupRow

HOURS_A_DAY = DAY // HOUR
GROUPS = ("hour", "day", "model", "runtime", "project", "source", "status", "simulated")
"""Groupings the rollup can answer (``day``: local days of a zone)."""

Sums = list[int]
"""Requests, tokens by category (input, output, 5 min and 1 h cache writes, cache reads), cost
in micro-USD, unpriced calls: the rollup's sums, in its order."""
Grouped = dict[tuple[str | None, bool], Sums]
"""Sums per (group key, simulated flag)."""


def covers(where: LedgerFilter, by: str | None) -> bool:
    """Whether the rollup can answer ``where`` grouped ``by``."""
    return (
        (by is None or by in GROUPS)
        and where.task_id is None
        and where.cost_source is None
        and (where.model is None or where.model != "")
        and (where.project_id is None or where.project_id != "")
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a window's sums come from: bucket ranges of the rollup (grain, first, end; None is
    open) and filters of the part hours at its edges, which the ledger's rows answer."""

    ranges: tuple[tuple[int, int | None, int | None], ...]
    edges: tuple[LedgerFilter, ...]

    @property
    def days(self) -> tuple[int | None, int | None] | None:
        """The range of whole UTC days read from the day grain, if any."""
        for grain, first, end in self.ranges:
            if grain == DAY:
                return first, end
        return None


def plan(where: LedgerFilter, *, days: bool = True) -> Plan | None:
    """The coarsest pieces that answer ``where``'s window exactly (hours only unless ``days``);
    None when it holds no whole hour."""
    since, until = where.since, where.until
    first = end = None
    edges: list[LedgerFilter] = []
    if since is not None:
        start = _floor(since)
        first = _hour(start) + (start != since)
        if start != since:
            edges.append(replace(where, until=_at(first)))
    if until is not None:
        stop = _floor(until)
        end = _hour(stop)
        if stop != until:
            edges.append(replace(where, since=stop))
    if first is not None and end is not None and first >= end:
        return None
    return Plan(_pieces(first, end, days), tuple(edges))


def _pieces(
    first: int | None, end: int | None, days: bool
) -> tuple[tuple[int, int | None, int | None], ...]:
    """Hours ``first``..``end`` as day and hour bucket ranges."""
    day_first = None if first is None else -(-first // HOURS_A_DAY)
    day_end = None if end is None else end // HOURS_A_DAY
    if not days or (day_first is not None and day_end is not None and day_first >= day_end):
        return ((HOUR, first, end),)
    pieces: list[tuple[int, int | None, int | None]] = []
    if first is not None and day_first is not None and first < day_first * HOURS_A_DAY:
        pieces.append((HOUR, first, day_first * HOURS_A_DAY))
    pieces.append((DAY, day_first, day_end))
    if end is not None and day_end is not None and day_end * HOURS_A_DAY < end:
        pieces.append((HOUR, day_end * HOURS_A_DAY, end))
    return tuple(pieces)


def _floor(moment: datetime) -> datetime:
    """The start of the UTC hour ``moment`` is in."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _hour(start: datetime) -> int:
    return int(start.timestamp()) // HOUR


def _at(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * HOUR, UTC)


@functools.lru_cache(maxsize=16_384)
def hour_key(hour: int) -> str:
    """An hour number as the ledger's hour key, ``YYYY-MM-DD HH`` (UTC); remembered (a
    dashboard reads the same hours once per runtime)."""
    return _at(hour).strftime("%Y-%m-%d %H")


def local_day(hour: int, zone: tzinfo) -> date:
    """The local day UTC hour number ``hour`` starts in."""
    return _at(hour).astimezone(zone).date()


def anchor_day(day: int, zone: tzinfo) -> date:
    """The local day a UTC day's sums go to: the one its noon is in."""
    return datetime.fromtimestamp(day * DAY + DAY // 2, UTC).astimezone(zone).date()


def off_hours(zone: tzinfo, first: int, end: int) -> list[int]:
    """Hours of the day (UTC, 0-23) that start in another local day than their UTC day's noon,
    on some day from ``first`` to ``end`` (UTC day numbers). Empty for UTC."""
    offsets: set[timedelta] = set()
    for day in range(first, max(first, end)):
        for hour in (0, HOURS_A_DAY - 1):
            offset = _at(day * HOURS_A_DAY + hour).astimezone(zone).utcoffset()
            offsets.add(offset or timedelta())
    found: set[int] = set()
    noon = timedelta(hours=12)
    for offset in offsets:
        anchor = (noon + offset).days
        found.update(
            hour for hour in range(HOURS_A_DAY) if (timedelta(hours=hour) + offset).days != anchor
        )
    return sorted(found)


MAX_MOVED_RANGES = 400
"""Up to this many days, PostgreSQL reads the moved hours as one bucket range per day (seeks in the
rollup's key); over more, as one filtered pass over the window's hours (SQLite bounds how deep
an expression may nest)."""


def moved_ranges(zone: tzinfo, first: int, end: int) -> list[tuple[int, int]]:
    """The hour bucket ranges of UTC days ``first``..``end`` whose hours start in another local
    day than their day's noon (one or two runs a day; none for UTC)."""
    found: list[tuple[int, int]] = []
    for day in range(first, end):
        base = day * HOURS_A_DAY
        early, late = _offset(zone, base), _offset(zone, base + HOURS_A_DAY - 1)
        if early == late:
            hours = _off_hours_at(early)
        else:  # the zone's offset changes this day
            anchor = anchor_day(day, zone)
            hours = tuple(h for h in range(HOURS_A_DAY) if local_day(base + h, zone) != anchor)
        for start, stop in _runs(hours):
            found.append((base + start, base + stop))
    return found


def _offset(zone: tzinfo, hour: int) -> timedelta:
    return _at(hour).astimezone(zone).utcoffset() or timedelta()


@functools.cache
def _off_hours_at(offset: timedelta) -> tuple[int, ...]:
    anchor = (timedelta(hours=12) + offset).days
    return tuple(h for h in range(HOURS_A_DAY) if (timedelta(hours=h) + offset).days != anchor)


def _runs(hours: tuple[int, ...]) -> list[tuple[int, int]]:
    """Sorted hours as (first, end) runs."""
    runs: list[tuple[int, int]] = []
    for hour in hours:
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + 1)
        else:
            runs.append((hour, hour + 1))
    return runs


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _moved_condition(zone: tzinfo, first: int, end: int, *, seeks: bool) -> ColumnElement[bool]:
    """Per-day ranges (``seeks``: PostgreSQL, 148 ms wall at 1M rows) or one filtered pass
    (SQLite plans 90 ORed ranges as a scan testing each: 413 ms CPU against 58)."""
    table = UsageRollupRow
    if seeks and end - first <= MAX_MOVED_RANGES:
        return or_(*(_in_range(HOUR, a, b) for a, b in moved_ranges(zone, first, end)))
    return and_(
        _in_range(HOUR, first * HOURS_A_DAY, end * HOURS_A_DAY),
        (table.bucket % HOURS_A_DAY).in_(off_hours(zone, first, end)),
    )


def _conditions(where: LedgerFilter) -> list[ColumnElement[bool]]:
    table = UsageRollupRow
    found = equalities(where, table)
    if where.status is None:
        found.append(table.status.in_(CALL_STATUSES))
    return found


def _in_range(grain: int, first: int | None, end: int | None) -> ColumnElement[bool]:
    table = UsageRollupRow
    found: list[ColumnElement[bool]] = [table.grain == grain]
    if first is not None:
        found.append(table.bucket >= first)
    if end is not None:
        found.append(table.bucket < end)
    return and_(*found)


def _sums() -> list[Any]:
    table = UsageRollupRow
    columns = (
        table.requests,
        table.input_tokens,
        table.output_tokens,
        table.cache_write_5m_tokens,
        table.cache_write_1h_tokens,
        table.cache_read_tokens,
        table.cost_micros,
        table.unpriced,
    )
    return [func.coalesce(func.sum(column), 0) for column in columns]


def _group_column(by: str) -> Any:
    table = UsageRollupRow
    return {
        "model": table.model,
        "runtime": table.runtime,
        "project": table.project_id,
        "source": table.source,
        "status": table.status,
    }[by]


def _key(by: str, value: Any) -> str | None:
    if by in ("model", "project") and value == "":
        return None
    return str(value)


def grouped(
    session: Session, where: LedgerFilter, by: str | None, pieces: Plan, zone: tzinfo = UTC
) -> Grouped:
    """Sums of the rollup's pieces of ``where`` per (key of ``by``, simulated flag), in one
    statement. ``hour`` keys are ``YYYY-MM-DD HH`` (UTC), ``day`` keys local ISO dates."""
    table = UsageRollupRow
    ranges = [_in_range(*piece) for piece in pieces.ranges]
    moved: tuple[int, int] | None = None
    if by == "day":
        moved = _moved_hours(session, pieces, zone)
        if moved is not None:
            ranges.append(_moved_condition(zone, *moved, seeks=not _is_sqlite(session)))
    if by in ("hour", "day"):
        keys: list[Any] = [table.grain, table.bucket, table.simulated]
    elif by is None or by == "simulated":
        keys = [table.simulated]
    else:
        keys = [_group_column(by), table.simulated]
    query = select(*keys, *_sums()).where(*_conditions(where), or_(*ranges)).group_by(*keys)
    found: Grouped = {}
    for row in session.execute(query):
        values = [int(v or 0) for v in row[len(keys) :]]
        flag = bool(row[len(keys) - 1])
        if by == "day":
            _add_day(found, int(row[0]), int(row[1]), flag, values, zone, moved)
        elif by == "hour":
            add(found, (hour_key(int(row[1])), flag), values)
        elif by is None:
            add(found, (None, flag), values)
        elif by == "simulated":
            add(found, (str(flag), flag), values)
        else:
            add(found, (_key(by, row[0]), flag), values)
    return found


def runtime_hours(
    session: Session, where: LedgerFilter, pieces: Plan
) -> dict[tuple[str, str], int]:
    """Cost (micro-USD) per (runtime, ``YYYY-MM-DD HH`` UTC hour) of the rollup's hour pieces of
    ``where`` (a `plan` without days), in one statement: the Costs page's stacked chart."""
    table = UsageRollupRow
    query = (
        select(table.runtime, table.bucket, func.coalesce(func.sum(table.cost_micros), 0))
        .where(*_conditions(where), or_(*(_in_range(*piece) for piece in pieces.ranges)))
        .group_by(table.runtime, table.bucket)
    )
    return {(str(r), hour_key(int(b))): int(c) for r, b, c in session.execute(query)}


def _moved_hours(session: Session, pieces: Plan, zone: tzinfo) -> tuple[int, int] | None:
    """The UTC days whose hours may belong to other local days than their noon's: the day
    grain's range, its open ends closed at the data's first and last day. None for UTC."""
    days = pieces.days
    if days is None or _is_utc(zone):
        return None
    first, end = days
    if first is None or end is None:
        table = UsageRollupRow
        extent: Any = session.execute(
            select(func.min(table.bucket), func.max(table.bucket)).where(table.grain == DAY)
        ).one()
        low, high = extent
        if low is None:
            return None
        first = int(low) if first is None else first
        end = int(high) + 1 if end is None else end
    if first >= end or not off_hours(zone, first, end):
        return None
    return first, end


def _is_utc(zone: tzinfo) -> bool:
    if isinstance(zone, timezone):
        return zone.utcoffset(None) == timedelta(0)
    return getattr(zone, "key", None) in ("UTC", "Etc/UTC", "Etc/UCT", "Etc/GMT", "GMT", "UCT")


def _add_day(
    found: Grouped,
    grain: int,
    bucket: int,
    flag: bool,
    values: Sums,
    zone: tzinfo,
    moved: tuple[int, int] | None,
) -> None:
    if grain == DAY:
        add(found, (anchor_day(bucket, zone).isoformat(), flag), values)
        return
    day = local_day(bucket, zone)
    if moved is not None and moved[0] * HOURS_A_DAY <= bucket < moved[1] * HOURS_A_DAY:
        anchor = anchor_day(bucket // HOURS_A_DAY, zone)
        if anchor == day:
            return  # read for another day of the range; already in its UTC day's sums
        add(found, (anchor.isoformat(), flag), [-v for v in values])
    add(found, (day.isoformat(), flag), values)


def add(found: Grouped, key: tuple[str | None, bool], values: Sums) -> None:
    """Add ``values`` to the sums of ``key``."""
    kept = found.get(key)
    found[key] = values if kept is None else [a + b for a, b in zip(kept, values, strict=True)]


def sqlite_staged_upsert(staging: str) -> str:
    """SQLite: add the call rows of table ``staging`` (ledger columns) to both grains in one
    grouped upsert: what a bulk insert runs while the row triggers are deferred
    (``usage_rollup_deferred``, migration 0020), the same sums the triggers would add
    (`stagent.store.sqlite_imports.rollup_staged_upsert`)."""
    return rollup_staged_upsert(staging)
