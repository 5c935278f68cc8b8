"""The days a report covers: the last N days, or a range the person chose.

A range is read like the ledger's ``--since`` / ``--until`` (`LedgerService.instant`): a day is a
whole day in the person's zone and ``until`` includes its day; an ISO date-time is that instant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from stagent.domain.errors import ValidationError

LONGEST_DAYS = 366
"""The longest window a dashboard draws (a leap year): one bar per day."""


@dataclass(frozen=True, slots=True)
class Window:
    """Calls from ``since`` up to ``until`` (exclusive; None: no end), drawn as the local days
    ``first`` to ``last``; ``chosen``: the person gave dates (not a last-N-days preset)."""

    first: date
    last: date
    since: datetime
    until: datetime | None = None
    chosen: bool = False

    @property
    def days(self) -> int:
        """How many days the window draws."""
        return (self.last - self.first).days + 1


def last_days(days: int, today: date, zone: tzinfo) -> Window:
    """The last ``days`` days up to and including ``today``."""
    first = today - timedelta(days=days - 1)
    return Window(first, today, datetime.combine(first, time(), zone))


def chosen_range(
    since: datetime | None,
    until: datetime | None,
    *,
    days: int,
    today: date,
    zone: tzinfo,
    names: tuple[str, str] = ("since", "until"),
) -> Window:
    """The window from ``since`` to ``until`` (instants, ``until`` exclusive); a missing start
    is ``days`` days before the end, a missing end is today. Raises `ValidationError` naming
    ``names`` (the two fields as the person sees them) for a reversed or too long range."""
    start, end = names
    last = _day_before(until, zone) if until is not None else today
    if since is None:
        first = last - timedelta(days=days - 1)
        since = datetime.combine(first, time(), zone)
    else:
        first = since.astimezone(zone).date()
    if until is not None and until <= since:
        raise ValidationError(
            f"{end}: {last.isoformat()} is before {start} ({first.isoformat()})",
            hint=f"choose a {end} day on or after the {start} day",
        )
    if first > last:
        raise ValidationError(
            f"{start}: {first.isoformat()} is after today ({last.isoformat()})",
            hint=f"choose a {start} day up to today",
        )
    length = (last - first).days + 1
    if length > LONGEST_DAYS:
        raise ValidationError(
            f"{start}: {first.isoformat()} to {last.isoformat()} is {length:,} days, "
            f"longer than {LONGEST_DAYS}",
            hint=f"narrow the range to a year or less (move {start} or {end})",
        )
    return Window(first, last, since, until, chosen=True)


def _day_before(until: datetime, zone: tzinfo) -> date:
    """The local day the last instant before ``until`` falls in."""
    return (until - timedelta(microseconds=1)).astimezone(zone).date()
