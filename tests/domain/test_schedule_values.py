"""Schedule values: firing ids equal in every process, which statuses are final or open, and
what a firing reports as its outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stagent.domain.schedules import (
    Firing,
    FiringStatus,
    ScheduleStatus,
    Target,
    TargetKind,
    firing_id,
)

AT = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def test_a_firing_id_is_the_schedule_and_the_occurrence_second() -> None:
    assert firing_id("sch_abc", AT) == f"fir_abc_{int(AT.timestamp())}"


def test_the_same_instant_in_another_zone_is_the_same_firing() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=2)))
    assert firing_id("sch_abc", paris) == firing_id("sch_abc", AT)


def test_occurrences_a_second_apart_are_different_firings() -> None:
    assert firing_id("sch_abc", AT) != firing_id("sch_abc", AT + timedelta(seconds=1))
    assert firing_id("sch_abc", AT) != firing_id("sch_abd", AT)


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (ScheduleStatus.ACTIVE, False),
        (ScheduleStatus.PAUSED, False),
        (ScheduleStatus.COMPLETED, True),
        (ScheduleStatus.EXPIRED, True),
    ],
)
def test_completed_and_expired_schedules_never_fire_again(
    status: ScheduleStatus, final: bool
) -> None:
    assert status.is_final is final


def test_only_pending_and_waiting_firings_are_open() -> None:
    assert {s for s in FiringStatus if s.is_open} == {FiringStatus.PENDING, FiringStatus.WAITING}


def test_a_firings_outcome_is_its_workflow_runs_else_its_tasks() -> None:
    base = Firing("fir_1", "sch_1", AT, FiringStatus.FIRED)
    assert base.outcome is None
    task = Firing("fir_1", "sch_1", AT, FiringStatus.FIRED, task_status="completed")
    assert task.outcome == "completed"
    both = Firing(
        "fir_1", "sch_1", AT, FiringStatus.FIRED, task_status="completed", workflow_status="failed"
    )
    assert both.outcome == "failed"


def test_a_target_defaults_to_a_scripted_prompt_with_its_own_mappings() -> None:
    a, b = Target(), Target()
    assert (a.kind, a.runtime) == (TargetKind.PROMPT, "scripted")
    assert a.variables is not b.variables and a.options is not b.options
