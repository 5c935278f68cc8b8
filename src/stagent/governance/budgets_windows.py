"""Budget windows in the person's time zone: a day runs midnight to midnight, a month from the
1st to the 1st, both local time (daylight-saving changes included)."""

from __future__ import annotations

import os
import time as time_module
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stagent.domain.errors import ValidationError

Period = Literal["daily", "monthly"]
PERIODS: tuple[Period, ...] = ("daily", "monthly")


@dataclass(frozen=True, slots=True)
class Window:
    """One day or month: where it starts and ends (aware, in the person's zone) and its key."""

    period: Period
    key: str
    start: datetime
    end: datetime

    @property
    def resets_at(self) -> datetime:
        """When the next window begins."""
        return self.end


def resolve_timezone(name: str | None) -> tzinfo:
    """The zone called ``name`` (IANA, e.g. ``Europe/Berlin``), or this machine's zone.

    The machine's zone comes from ``TZ``, else ``/etc/localtime``, else the current UTC offset.
    """
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"setting timezone: unknown time zone {name!r}",
                hint="use an IANA name such as Europe/Berlin or America/New_York "
                "(STAGENT_TIMEZONE)",
            ) from None
    return local_timezone()


_LOCAL_ZONE_SECONDS = 60.0
"""How long this machine's zone is remembered (every admission asks; reading it costs a
symlink resolution)."""
_local_zones: dict[str, tuple[float, tzinfo]] = {}


def local_timezone() -> tzinfo:
    """This machine's time zone, as an IANA zone where it can be found (remembered for a
    minute per value of ``TZ``)."""
    tz = os.environ.get("TZ", "")
    now = time_module.monotonic()
    remembered = _local_zones.get(tz)
    if remembered is not None and now - remembered[0] < _LOCAL_ZONE_SECONDS:
        return remembered[1]
    zone = _find_local_timezone(tz)
    _local_zones[tz] = (now, zone)
    return zone


def _find_local_timezone(tz: str) -> tzinfo:
    candidates = [tz.removeprefix(":")]
    try:
        target = Path("/etc/localtime").resolve(strict=True)
        candidates.append(str(target).partition("zoneinfo/")[2])
    except OSError:
        pass
    for candidate in candidates:
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return datetime.now().astimezone().tzinfo or UTC


def zone_name(zone: tzinfo) -> str:
    """A zone's name for people (``Europe/Berlin``, ``UTC``)."""
    name = str(getattr(zone, "key", None) or zone.tzname(None) or zone)
    return "UTC" if name in ("Etc/UTC", "Etc/Universal", "Universal", "Zulu", "UCT") else name


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def window_for(period: Period, now: datetime, zone: tzinfo) -> Window:
    """The day or month containing ``now`` (any aware instant), in ``zone``."""
    local = now.astimezone(zone)
    if period == "daily":
        day = local.date()
        return Window(
            period, day.isoformat(), _midnight(day, zone), _midnight(day + timedelta(1), zone)
        )
    first = local.date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Window(
        period, first.strftime("%Y-%m"), _midnight(first, zone), _midnight(following, zone)
    )


def format_reset(moment: datetime, zone: tzinfo) -> str:
    """``2026-12-03 00:00 Europe/Berlin``."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone_name(zone)}"
