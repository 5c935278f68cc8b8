"""Schedules at their edges, tick by tick on a hand-moved clock against a real SQLite
workspace: a firing limit or an expiry reached inside one catch-up, a one-shot that expired
while no worker ran, a downtime longer than one catch-up records, a schedule removed before
its firing was decided, and the refusals a person reads when a schedule could never work."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from schedtools import Clock, add, history, statuses, tick_and_decide

from stagent.domain.errors import ValidationError
from stagent.domain.schedules import ScheduleStatus
from stagent.scheduler.drafts import ScheduleDraft
from stagent.scheduler.plan import MAX_CATCH_UP
from stagent.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace.temporary(tmp_path / "ws").open()
    ws.schedules.grace = timedelta(seconds=5)
    try:
        yield ws
    finally:
        ws.close()


def test_a_firing_limit_reached_inside_one_catch_up_skips_the_rest_and_expires(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, max_firings=2, missed="all", overlap="allow")
    clock.advance(5 * 60 + 30)  # five occurrences came due while no worker ran
    assert tick_and_decide(workspace) == ["fired", "fired", "skipped", "skipped", "skipped"]

    firings = history(workspace, schedule)
    assert [f.reason for f in firings[2:]] == ["firing limit reached (2 firings)"] * 3
    assert len(workspace.tasks.list()) == 2
    after = workspace.schedules.get(schedule.id)
    assert after.status is ScheduleStatus.EXPIRED and after.next_fire_at is None
    assert after.firing_count == 2
    clock.advance(3600)
    assert tick_and_decide(workspace) == []  # an expired schedule claims nothing more


def test_a_downtime_past_the_expiry_records_only_what_came_before_it(
    workspace: Workspace, clock: Clock
) -> None:
    expiry = clock.now + timedelta(seconds=150)
    schedule = add(workspace, expires_at=expiry.isoformat(), missed="once", overlap="allow")
    clock.advance(3600)  # off for an hour; the schedule expired after 2.5 minutes

    tick_and_decide(workspace)
    firings = history(workspace, schedule)
    assert [f.status.value for f in firings] == ["missed", "fired"]
    assert all(f.occurrence_at <= expiry for f in firings)
    after = workspace.schedules.get(schedule.id)
    assert after.status is ScheduleStatus.EXPIRED and after.next_fire_at is None


@pytest.mark.parametrize(
    ("missed", "recorded", "status"),
    [("skip", "missed", ScheduleStatus.EXPIRED), ("once", "fired", ScheduleStatus.COMPLETED)],
)
def test_a_one_shot_whose_expiry_passed_while_no_worker_ran(
    workspace: Workspace, clock: Clock, missed: str, recorded: str, status: ScheduleStatus
) -> None:
    at = clock.now + timedelta(minutes=1)
    schedule = add(
        workspace,
        at=at.isoformat(),
        expires_at=(at + timedelta(seconds=30)).isoformat(),
        missed=missed,
    )
    clock.advance(600)
    tick_and_decide(workspace)
    assert statuses(workspace, schedule) == [recorded]
    # Skipped and past its expiry: it expired (it never ran); run late: it completed.
    assert workspace.schedules.get(schedule.id).status is status


def test_a_downtime_longer_than_one_catch_up_says_how_many_more_were_missed(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, missed="once", overlap="allow")
    clock.advance((MAX_CATCH_UP + 100) * 60 + 30)  # every minute, off for 600 minutes

    assert tick_and_decide(workspace) == ["fired"]
    firings = list(reversed(workspace.schedules.firings(schedule.id, limit=2 * MAX_CATCH_UP)))
    assert [f.status.value for f in firings] == ["missed"] * (MAX_CATCH_UP - 1) + ["fired"]
    first = schedule.next_fire_at
    assert first is not None
    # The 100 oldest are not recorded one by one: the oldest record says they happened.
    assert firings[0].occurrence_at == first + timedelta(minutes=100)
    assert firings[0].reason == (
        "no worker was running at this time; missed-run policy: once "
        "(100 earlier occurrences were also missed)"
    )
    assert firings[1].reason == "no worker was running at this time; missed-run policy: once"
    after = workspace.schedules.get(schedule.id)
    assert after.next_fire_at == first + timedelta(minutes=MAX_CATCH_UP + 100)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"every": "400d"}, "every: '400d' is out of range; use 1s to 366d"),
        ({"every": "0s"}, "every: '0s' is out of range"),
        ({"at": "next tuesday-ish"}, "at: 'next tuesday-ish' is not a date and time"),
        ({"cron": "every 15 minutes at 9am"}, "'15 minutes' repeats by itself; drop 'at 9am'"),
        ({"cron": "every 5 hours"}, "every 5 hours does not divide a day evenly"),
        ({"cron": "every month on the 32nd"}, "day 32 of a month does not exist"),
        ({"cron": "every day at 13pm"}, "'13pm' is not a time of day (hour 1-12 with am/pm)"),
        ({"cron": "every day at 9:75"}, "'9:75' is not a time of day"),
        ({"every": "1m", "expires_at": "2026-12-01T00:00Z"}, "expires_at: the expiry time is"),
        (
            {"every": "1d", "expires_at": "2026-12-07T12:00Z"},
            "expires_at: the schedule would expire before it first fires",
        ),
        ({"every": "1m", "name": "n" * 201}, "name: at most 200 characters"),
    ],
)
def test_a_schedule_that_could_never_work_is_refused_with_the_field(
    workspace: Workspace, clock: Clock, fields: dict[str, object], message: str
) -> None:
    draft = {"name": "nightly", "prompt": "Summarize the day", "tz": "UTC", **fields}
    with pytest.raises(ValidationError) as refused:
        workspace.schedules.create(ScheduleDraft(**draft))  # type: ignore[arg-type]
    assert message in refused.value.message
    assert workspace.schedules.list() == []


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"every": "1s"}, "Every second"),
        ({"every": "90s"}, "Every 90 seconds"),
        ({"every": "2h"}, "Every 2 hours"),
        ({"every": "1d"}, "Every day"),
        (
            {"at": "2026-12-24T09:00", "tz": "Europe/Berlin"},
            "Once, at 2026-12-24 09:00 (Europe/Berlin)",
        ),
    ],
)
def test_a_schedule_says_when_it_fires_in_words(
    workspace: Workspace, clock: Clock, fields: dict[str, object], said: str
) -> None:
    from stagent.scheduler.timing import describe

    schedule = add(workspace, **fields)
    assert describe(schedule.timing) == said


def test_a_firing_of_a_schedule_removed_before_its_decision_starts_nothing(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace)
    clock.advance(60)
    [firing_id] = workspace.schedules.tick()  # claimed; its durable decision is still to come
    workspace.schedules.delete(schedule.id)

    assert workspace.schedules.process(firing_id) == "gone"
    assert workspace.schedules.fail_undecided(firing_id, "worker lost") == "gone"
    assert workspace.tasks.list() == []


def test_policy_all_past_one_catch_up_records_the_occurrences_it_did_not_fire(
    workspace: Workspace, clock: Clock
) -> None:
    """It fired the latest 500 and dropped the 100 before them without a trace."""
    schedule = add(workspace, missed="all", overlap="allow")
    clock.advance((MAX_CATCH_UP + 100) * 60 + 30)  # every minute, off for 600 minutes

    claimed = workspace.schedules.tick()
    assert len(claimed) == MAX_CATCH_UP
    firings = list(reversed(workspace.schedules.firings(schedule.id, limit=2 * MAX_CATCH_UP)))
    assert [f.status.value for f in firings] == ["missed"] + ["pending"] * MAX_CATCH_UP
    first = schedule.next_fire_at
    assert first is not None
    # The newest occurrence not fired stands for the 99 before it.
    assert firings[0].occurrence_at == first + timedelta(minutes=99)
    assert firings[0].reason == (
        "no worker was running at this time; missed-run policy: all fires at most the latest "
        f"{MAX_CATCH_UP} occurrences at once (99 earlier occurrences were also missed)"
    )
    assert firings[1].occurrence_at == first + timedelta(minutes=100)
    after = workspace.schedules.get(schedule.id)
    assert after.next_fire_at == first + timedelta(minutes=MAX_CATCH_UP + 100)
