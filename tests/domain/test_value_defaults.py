"""The defaults people get without asking, as the domain values carry them: a schedule skips an
overlapping firing and fires a missed occurrence once; a task starts planned with no runs and
default options; a scrubbed payload keeps its shape."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stagent.domain.run_options import RunOptions
from stagent.domain.schedules import (
    MissedPolicy,
    OverlapPolicy,
    Schedule,
    ScheduleStatus,
    Target,
    Timing,
    TimingKind,
)
from stagent.domain.scrub import REDACTED, normalize, scrub
from stagent.domain.tasks import Task, TaskStatus

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_a_new_schedule_skips_overlaps_and_fires_a_missed_occurrence_once() -> None:
    schedule = Schedule(
        "sch_1",
        "nightly",
        ScheduleStatus.ACTIVE,
        Timing(TimingKind.CRON, cron="0 2 * * *"),
        Target(),
    )
    assert schedule.overlap is OverlapPolicy.SKIP
    assert schedule.missed is MissedPolicy.ONCE
    assert (schedule.max_firings, schedule.expires_at, schedule.firing_count) == (None, None, 0)
    assert schedule.timing.zone == "UTC"


@pytest.mark.parametrize(
    ("timing", "kind"),
    [
        (Timing(TimingKind.CRON, cron="*/5 * * * *", source="every 5 minutes"), "cron"),
        (Timing(TimingKind.INTERVAL, interval_seconds=900, anchor=NOW, source="15m"), "interval"),
        (Timing(TimingKind.ONCE, at=NOW, source="tomorrow 9am"), "once"),
    ],
)
def test_a_timing_keeps_what_the_person_typed(timing: Timing, kind: str) -> None:
    assert timing.kind.value == kind
    assert timing.source


def test_policies_are_spelled_as_stored() -> None:
    assert [p.value for p in OverlapPolicy] == ["skip", "queue", "allow"]
    assert [p.value for p in MissedPolicy] == ["skip", "once", "all"]


def test_a_new_task_is_planned_with_no_runs_and_default_options() -> None:
    task = Task(
        id="tsk_1",
        title="t",
        description="",
        status=TaskStatus.PLANNED,
        project_id=None,
        runtime="scripted",
        profile=None,
        priority=2,
        result=None,
        error=None,
    )
    assert task.options == RunOptions()
    assert (task.run_count, task.workflow_id, task.session_id) == (0, None, None)
    assert task.started_at is None and task.finished_at is None


def test_values_are_frozen() -> None:
    schedule = Schedule(
        "sch_1", "n", ScheduleStatus.PAUSED, Timing(TimingKind.ONCE, at=NOW), Target()
    )
    with pytest.raises(AttributeError):
        schedule.name = "other"  # type: ignore[misc]


def test_a_scrubbed_payload_keeps_its_shape_around_the_secret() -> None:
    secrets = normalize(["sk-live-0123456789"])
    payload = {
        "tool": "Bash",
        "input": {"command": "curl -H 'Authorization: sk-live-0123456789' x", "timeout": 5},
        "env": [("TOKEN", "sk-live-0123456789")],
        "ok": True,
    }
    assert scrub(payload, secrets) == {
        "tool": "Bash",
        "input": {"command": f"curl -H 'Authorization: {REDACTED}' x", "timeout": 5},
        "env": [["TOKEN", REDACTED]],
        "ok": True,
    }


def test_a_secret_repeated_is_replaced_every_time() -> None:
    secrets = normalize(["abcdefgh12"])
    assert scrub("abcdefgh12abcdefgh12 abcdefgh12", secrets) == REDACTED * 2 + " " + REDACTED
