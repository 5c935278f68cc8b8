"""When a schedule fires: parsing what a person types, and computing occurrences.

Cron expressions are evaluated by `cronsim` in the schedule's IANA zone (`zoneinfo`), which keeps
cron's own DST rules: a time skipped by a spring-forward fires right after the jump, a time
repeated by a fall-back fires once. Intervals are plain arithmetic from an anchor; intervals of
whole days keep the anchor's wall-clock time across DST. Every instant returned is in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import (  # pyright: ignore[reportMissingTypeStubs]
    get_description,  # pyright: ignore[reportUnknownVariableType]
)
from cronsim import CronSim, CronSimError

from stagent.domain.errors import ValidationError
from stagent.domain.schedules import Timing, TimingKind
from stagent.scheduler.phrases import phrase_to_cron

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(
    r"^(\d+)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?)$"
)
DAY = 86400
MAX_INTERVAL_SECONDS = 366 * DAY


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` or a `ValidationError` naming the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"tz: {name!r} is not a time zone", hint="use an IANA name like Europe/Berlin or UTC"
        ) from None


def parse_interval(text: str) -> int | None:
    """Seconds for ``90s``, ``15m``, ``2h``, ``1d``; None if ``text`` is not an interval."""
    match = _INTERVAL.match(text.strip().lower())
    if match is None:
        return None
    seconds = int(match.group(1)) * _UNITS[match.group(2)[0]]
    if not 1 <= seconds <= MAX_INTERVAL_SECONDS:
        raise ValidationError(f"every: {text!r} is out of range; use 1s to 366d")
    return seconds


def check_cron(expression: str) -> str:
    """A normalized 5-field cron expression, or a `ValidationError` naming what is wrong."""
    expression = " ".join(expression.split())
    if len(expression.split()) != 5:
        raise ValidationError(
            f"cron: {expression!r} has {len(expression.split())} fields; cron needs 5 "
            "(minute hour day-of-month month day-of-week)"
        )
    try:
        CronSim(expression, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise ValidationError(f"cron: {expression!r} is not valid: {exc}") from None
    return expression


def cron_timing(text: str, tz: str) -> Timing:
    """A cron timing from a 5-field expression or a phrase (``every weekday at 9am``)."""
    zone(tz)
    looks_like_cron = not re.search(r"[a-z]{4,}", text.lower())
    if looks_like_cron and (len(text.split()) == 5 or not re.search(r"[a-z]", text.lower())):
        return Timing(TimingKind.CRON, zone=tz, cron=check_cron(text), source=text.strip())
    return Timing(TimingKind.CRON, zone=tz, cron=check_cron(phrase_to_cron(text)), source=text)


def every_timing(text: str, tz: str, now: datetime) -> Timing:
    """An interval (``15m``) from ``now``, or a phrase (``weekday at 9am``) as cron."""
    seconds = parse_interval(text)
    if seconds is None:
        phrase = text if text.strip().lower().startswith("every") else f"every {text}"
        return cron_timing(phrase, tz)
    zone(tz)
    return Timing(
        TimingKind.INTERVAL,
        zone=tz,
        interval_seconds=seconds,
        anchor=now.astimezone(UTC).replace(microsecond=0),
        source=text.strip(),
    )


def parse_time(text: str, tz: str, *, field: str = "at") -> datetime:
    """An instant from ISO text (``2026-12-24T09:00``, ``2026-12-24 09:00+01:00``); a time
    without an offset is read in ``tz``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(
            f"{field}: {text!r} is not a date and time",
            hint="write it like 2026-12-24T09:00 (in --tz) or with an offset, 2026-12-24T09:00Z",
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(tz))
    return value.astimezone(UTC)


def once_timing(text: str, tz: str, now: datetime) -> Timing:
    """A one-shot at a time that must still be ahead."""
    at = parse_time(text, tz)
    if at <= now:
        raise ValidationError(f"at: {text!r} is in the past", hint="pick a time still ahead")
    return Timing(TimingKind.ONCE, zone=tz, at=at, source=text.strip())


def next_after(timing: Timing, after: datetime) -> datetime | None:
    """The first occurrence strictly after ``after`` (UTC), or None if there is none."""
    after = after.astimezone(UTC)
    if timing.kind is TimingKind.ONCE:
        return timing.at if timing.at is not None and timing.at > after else None
    if timing.kind is TimingKind.CRON:
        local = after.astimezone(zone(timing.zone)).replace(microsecond=0)
        return next(iter(CronSim(timing.cron or "", local))).astimezone(UTC)
    return _next_interval(timing, after)


def _next_interval(timing: Timing, after: datetime) -> datetime:
    step, anchor = timing.interval_seconds or 60, (timing.anchor or after).astimezone(UTC)
    if after < anchor:
        return anchor
    if step % DAY:
        count = int((after - anchor).total_seconds() // step) + 1
        return anchor + timedelta(seconds=count * step)
    tz = zone(timing.zone)
    local = anchor.astimezone(tz).replace(tzinfo=None)
    days = step // DAY
    count = max(int((after - anchor).total_seconds() // step) - 1, 0)
    while True:
        candidate = (local + timedelta(days=count * days)).replace(tzinfo=tz).astimezone(UTC)
        if candidate > after:
            return candidate
        count += 1


def occurrences(timing: Timing, after: datetime, until: datetime) -> Iterator[datetime]:
    """Every occurrence in ``(after, until]``."""
    current = next_after(timing, after)
    while current is not None and current <= until:
        yield current
        current = next_after(timing, current)


def upcoming(
    timing: Timing, after: datetime, count: int = 5, *, expires_at: datetime | None = None
) -> list[datetime]:
    """The next ``count`` occurrences after ``after`` (fewer if it ends or expires first)."""
    found: list[datetime] = []
    current = next_after(timing, after)
    while current is not None and len(found) < count:
        if expires_at is not None and current > expires_at:
            break
        found.append(current)
        current = next_after(timing, current)
    return found


def describe(timing: Timing) -> str:
    """A sentence for people: ``At 09:00 AM, Monday through Friday (Europe/Berlin)``."""
    if timing.kind is TimingKind.ONCE and timing.at is not None:
        local = timing.at.astimezone(zone(timing.zone))
        return f"Once, at {local:%Y-%m-%d %H:%M} ({timing.zone})"
    if timing.kind is TimingKind.INTERVAL:
        return f"Every {_duration(timing.interval_seconds or 0)}"
    text: str = get_description(timing.cron or "")  # pyright: ignore[reportUnknownVariableType]
    return f"{text} ({timing.zone})"


def _duration(seconds: int) -> str:
    for unit, size in (("day", DAY), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}" if count != 1 else unit
    return f"{seconds} seconds" if seconds != 1 else "second"
