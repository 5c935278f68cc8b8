"""Next-fire computation: cron in IANA zones across DST, intervals, one-shots, phrases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.schedules import TimingKind
from stagent.scheduler.phrases import phrase_to_cron
from stagent.scheduler.timing import (
    cron_timing,
    describe,
    every_timing,
    next_after,
    once_timing,
    upcoming,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def local(times: list[datetime], zone: ZoneInfo) -> list[str]:
    return [t.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") for t in times]


def test_a_weekday_cron_fires_at_nine_local_time_in_its_own_zone() -> None:
    timing = cron_timing("0 9 * * 1-5", "Europe/Berlin")
    friday_evening = datetime(2026, 12, 4, 18, 0, tzinfo=BERLIN)
    fires = upcoming(timing, friday_evening, 3)
    assert local(fires, BERLIN) == [
        "2026-12-07 09:00 CET",
        "2026-12-08 09:00 CET",
        "2026-12-09 09:00 CET",
    ]
    assert fires[0] == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    assert all(t.tzinfo is UTC for t in fires)


def test_the_same_cron_in_two_zones_fires_at_different_instants() -> None:
    after = datetime(2026, 6, 1, tzinfo=UTC)
    ny = next_after(cron_timing("0 9 * * *", "America/New_York"), after)
    berlin = next_after(cron_timing("0 9 * * *", "Europe/Berlin"), after)
    assert ny == datetime(2026, 6, 1, 13, 0, tzinfo=UTC)
    assert berlin == datetime(2026, 6, 1, 7, 0, tzinfo=UTC)


def test_spring_forward_a_skipped_time_fires_once_right_after_the_jump() -> None:
    timing = cron_timing("30 2 * * *", "America/New_York")
    fires = upcoming(timing, datetime(2026, 3, 7, 12, 0, tzinfo=NY), 3)
    assert local(fires, NY) == [
        "2026-03-08 03:00 EDT",
        "2026-03-09 02:30 EDT",
        "2026-03-10 02:30 EDT",
    ]


def test_fall_back_a_repeated_time_fires_once_and_hourly_jobs_fire_every_real_hour() -> None:
    daily = cron_timing("30 1 * * *", "America/New_York")
    fires = upcoming(daily, datetime(2026, 10, 31, 12, 0, tzinfo=NY), 2)
    assert local(fires, NY) == ["2026-11-01 01:30 EDT", "2026-11-02 01:30 EST"]
    hourly = cron_timing("0 * * * *", "America/New_York")
    fires = upcoming(hourly, datetime(2026, 11, 1, 0, 30, tzinfo=NY), 3)
    gaps = {b - a for a, b in zip(fires, fires[1:], strict=False)}
    assert gaps == {timedelta(hours=1)}
    assert local(fires, NY) == [
        "2026-11-01 01:00 EDT",
        "2026-11-01 01:00 EST",
        "2026-11-01 02:00 EST",
    ]


def test_a_daily_interval_keeps_its_wall_clock_time_across_dst() -> None:
    start = datetime(2026, 3, 27, 8, 0, tzinfo=BERLIN)
    timing = every_timing("1d", "Europe/Berlin", start)
    fires = upcoming(timing, start, 3)
    assert local(fires, BERLIN) == [
        "2026-03-28 08:00 CET",
        "2026-03-29 08:00 CEST",
        "2026-03-30 08:00 CEST",
    ]
    assert fires[1] - fires[0] == timedelta(hours=23)


def test_short_intervals_are_exact_elapsed_time_from_their_anchor() -> None:
    start = datetime(2026, 11, 1, 5, 0, 0, tzinfo=UTC)
    timing = every_timing("15m", "America/New_York", start)
    assert timing.kind is TimingKind.INTERVAL and timing.interval_seconds == 900
    fires = upcoming(timing, start + timedelta(seconds=1), 3)
    assert fires == [start + timedelta(minutes=15 * k) for k in (1, 2, 3)]
    two_seconds = every_timing("2s", "UTC", start)
    assert next_after(two_seconds, start + timedelta(seconds=5)) == start + timedelta(seconds=6)


def test_a_one_shot_fires_once_and_never_again() -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    timing = once_timing("2026-12-24T09:00", "Europe/Berlin", now)
    assert timing.at == datetime(2026, 12, 24, 8, 0, tzinfo=UTC)
    assert next_after(timing, now) == timing.at
    assert timing.at is not None and next_after(timing, timing.at) is None
    with pytest.raises(ValidationError, match="in the past"):
        once_timing("2026-11-01T09:00Z", "UTC", now)


@pytest.mark.parametrize(
    ("phrase", "cron"),
    [
        ("every weekday at 9am", "0 9 * * 1-5"),
        ("every day at 9:30 pm", "30 21 * * *"),
        ("every 15 minutes", "*/15 * * * *"),
        ("every 2 hours", "0 */2 * * *"),
        ("every weekend at noon", "0 12 * * 0,6"),
        ("every monday and thursday at 18:00", "0 18 * * 1,4"),
        ("every month on the 1st at 8am", "0 8 1 * *"),
        ("daily", "0 9 * * *"),
        ("hourly", "0 * * * *"),
    ],
)
def test_phrases_become_cron(phrase: str, cron: str) -> None:
    assert phrase_to_cron(phrase) == cron


def test_every_accepts_a_phrase_and_shows_the_cron_it_became() -> None:
    timing = every_timing("weekday at 9am", "UTC", datetime(2026, 12, 1, tzinfo=UTC))
    assert timing.kind is TimingKind.CRON and timing.cron == "0 9 * * 1-5"
    assert describe(timing) == "At 09:00 AM, Monday through Friday (UTC)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("every fortnight at 9am", "neither a cron expression nor a phrase"),
        ("every 7 minutes", "does not divide an hour"),
        ("every day at 25:00", "not a time of day"),
        ("61 * * * *", "not valid"),
        ("* * * *", "cron needs 5"),
    ],
)
def test_bad_timings_name_the_field_and_say_what_to_write(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        cron_timing(text, "UTC")
    assert caught.value.message.startswith(("schedule:", "cron:"))


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(ValidationError, match="tz: 'Mars/Olympus' is not a time zone"):
        cron_timing("0 9 * * *", "Mars/Olympus")
