"""Firing limits, expiry, overlap policies, missed runs after downtime, budgets — driven tick by
tick on a hand-moved clock against a real SQLite workspace."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from schedtools import Clock, add, history, statuses, tick_and_decide

from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.domain.events import UsageEvent
from stagent.domain.schedules import FiringStatus, Schedule, ScheduleStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.scheduler.drafts import ScheduleDraft
from stagent.store.ledger import LedgerFilter
from stagent.workspace import Workspace


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on SQLite, and again on PostgreSQL: claims and firings behave alike."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    ws = Workspace.temporary(tmp_path / "ws", database_url=url).open()
    try:
        yield ws
    finally:
        ws.close()


def finish_tasks(ws: Workspace) -> None:
    """End every queued firing task (no worker runs them in these tests)."""
    for task in ws.tasks.list(status=TaskStatus.QUEUED):
        ws.tasks.cancel(task.id)


def test_a_firing_creates_and_queues_a_task_with_the_prompt_runtime_and_profile(
    workspace: Workspace, clock: Clock
) -> None:
    workspace.projects.create("Ops")
    schedule = add(workspace, prompt="Check the backups", profile="devops-engineer", project="Ops")
    assert schedule.next_fire_at == clock.now + timedelta(minutes=1)
    assert tick_and_decide(workspace) == []
    clock.advance(60)
    assert tick_and_decide(workspace) == ["fired"]
    (firing,) = history(workspace, schedule)
    task = workspace.tasks.get(firing.task_id or "")
    assert task.title == "nightly — firing #1"
    assert task.description == "Check the backups"
    assert (task.runtime, task.profile, task.status) == (
        "scripted",
        "devops-engineer",
        TaskStatus.QUEUED,
    )
    assert task.project_id == workspace.projects.get("Ops").id
    after = workspace.schedules.get(schedule.id)
    assert after.firing_count == 1 and after.last_fired_at == clock.now
    assert after.next_fire_at == clock.now + timedelta(minutes=1)
    assert firing.task_status == "queued"
    (note,) = [e.payload for e in workspace.tasks.events(task.id) if "schedule_id" in e.payload]
    due = firing.occurrence_at.strftime("%Y-%m-%d %H:%M:%S")
    # what a person recognises (the schedule's name, the firing's time); the ids for links
    assert note["message"] == f"started by schedule 'nightly' (firing due {due} UTC)"
    assert (note["schedule_id"], note["firing_id"]) == (schedule.id, firing.id)


def test_the_firing_limit_expires_the_schedule_after_n_tasks(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, max_firings=2, overlap="allow")
    for _ in range(4):
        clock.advance(60)
        tick_and_decide(workspace)
    assert statuses(workspace, schedule) == ["fired", "fired"]
    after = workspace.schedules.get(schedule.id)
    assert after.status is ScheduleStatus.EXPIRED and after.next_fire_at is None
    assert [t.title for t in workspace.tasks.list()] == [
        "nightly — firing #2",
        "nightly — firing #1",
    ]


def test_an_edit_saved_as_a_firing_starts_keeps_its_count_and_limit(
    workspace: Workspace, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    schedule = add(workspace, max_firings=2, overlap="allow")
    clock.advance(60)
    (claimed,) = workspace.schedules.tick()
    service = workspace.schedules
    read = service.get

    def read_then_fire(ref: str) -> Schedule:
        """The edit reads the schedule; its firing starts before the edit is saved."""
        current = read(ref)
        assert service.process(claimed) == "fired"
        return current

    monkeypatch.setattr(service, "get", read_then_fire)
    service.update("nightly", ScheduleDraft(prompt="New"))
    monkeypatch.setattr(service, "get", read)
    assert service.get(schedule.id).firing_count == 1
    for _ in range(3):
        clock.advance(60)
        tick_and_decide(workspace)
    assert [t.title for t in workspace.tasks.list()] == [
        "nightly — firing #2",
        "nightly — firing #1",
    ]
    assert service.get(schedule.id).status is ScheduleStatus.EXPIRED


def test_expiry_stops_firing_and_marks_the_schedule_expired(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(
        workspace, expires_at=(clock.now + timedelta(seconds=150)).isoformat(), overlap="allow"
    )
    assert workspace.schedules.upcoming(schedule) == [
        clock.now + timedelta(minutes=1),
        clock.now + timedelta(minutes=2),
    ]
    for _ in range(4):
        clock.advance(60)
        tick_and_decide(workspace)
    assert statuses(workspace, schedule) == ["fired", "fired"]
    assert workspace.schedules.get(schedule.id).status is ScheduleStatus.EXPIRED


def test_overlap_skip_records_a_skip_and_never_stalls_the_schedule(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, overlap="skip")
    clock.advance(60)
    assert tick_and_decide(workspace) == ["fired"]
    clock.advance(60)
    assert tick_and_decide(workspace) == ["skipped"]
    first, skipped = history(workspace, schedule)[:2]
    due = first.occurrence_at.strftime("%Y-%m-%d %H:%M:%S")
    assert skipped.reason == f"overlap policy skip: the firing due {due} UTC was still running"
    # The original stalled here: the next fire time must have moved on regardless.
    assert workspace.schedules.get(schedule.id).next_fire_at == clock.now + timedelta(minutes=1)
    finish_tasks(workspace)
    clock.advance(60)
    assert tick_and_decide(workspace) == ["fired"]
    assert workspace.schedules.get(schedule.id).firing_count == 2


def test_overlap_queue_waits_for_the_running_firing_then_fires(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, overlap="queue")
    clock.advance(60)
    tick_and_decide(workspace)
    clock.advance(60)
    assert tick_and_decide(workspace) == ["wait"]
    waiting = history(workspace, schedule)[1]
    assert waiting.status is FiringStatus.WAITING
    assert workspace.schedules.process(waiting.id) == "wait"
    finish_tasks(workspace)
    assert workspace.schedules.process(waiting.id) == "fired"
    assert statuses(workspace, schedule) == ["fired", "fired"]


def test_pausing_skips_a_firing_that_waits_in_the_queue(workspace: Workspace, clock: Clock) -> None:
    schedule = add(workspace, overlap="queue")
    clock.advance(60)
    tick_and_decide(workspace)
    clock.advance(60)
    assert tick_and_decide(workspace) == ["wait"]
    workspace.schedules.pause(schedule.id)
    finish_tasks(workspace)
    waiting = history(workspace, schedule)[1]
    assert workspace.schedules.process(waiting.id) == "skipped"
    assert history(workspace, schedule)[1].reason == "the schedule was paused while it waited"


def test_overlap_allow_runs_firings_side_by_side(workspace: Workspace, clock: Clock) -> None:
    schedule = add(workspace, overlap="allow")
    for _ in range(3):
        clock.advance(60)
        tick_and_decide(workspace)
    assert statuses(workspace, schedule) == ["fired"] * 3
    assert len(workspace.tasks.list(status=TaskStatus.QUEUED)) == 3


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("skip", ["missed"] * 10),
        ("once", ["missed"] * 9 + ["fired"]),
        ("all", ["fired"] * 10),
    ],
)
def test_missed_runs_after_downtime_follow_the_policy(
    workspace: Workspace, clock: Clock, policy: str, expected: list[str]
) -> None:
    workspace.schedules.grace = timedelta(seconds=5)
    schedule = add(workspace, missed=policy, overlap="allow")
    clock.advance(10 * 60 + 30)  # the machine was off for ten occurrences
    tick_and_decide(workspace)
    firings = history(workspace, schedule)
    first = schedule.next_fire_at
    assert first is not None
    assert [f.status.value for f in firings] == expected
    assert [f.occurrence_at for f in firings] == [first + timedelta(minutes=k) for k in range(10)]
    missed = [f for f in firings if f.status is FiringStatus.MISSED]
    assert all("no worker was running" in (f.reason or "") for f in missed)
    after = workspace.schedules.get(schedule.id)
    assert after.next_fire_at == first + timedelta(minutes=10)
    clock.advance(30)
    tick_and_decide(workspace)
    assert statuses(workspace, schedule)[-1] == "fired"  # back on time: it fires normally


def test_an_occurrence_within_the_grace_period_still_fires(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, missed="skip")
    clock.advance(60 + 20)
    assert tick_and_decide(workspace) == ["fired"]
    assert statuses(workspace, schedule) == ["fired"]


def test_a_schedule_with_an_unknown_or_unfit_profile_is_refused_when_saved(
    workspace: Workspace, clock: Clock
) -> None:
    with pytest.raises(NotFoundError, match="no profile 'nobody'"):
        add(workspace, prompt="Check the backups", profile="nobody")
    with pytest.raises(ValidationError, match="does not support the anthropic"):
        add(workspace, prompt="Review", profile="code-reviewer", runtime="anthropic")
    assert workspace.schedules.list() == []


def test_a_budget_cap_blocks_the_firing_and_the_schedule_goes_on(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = add(workspace, overlap="allow")
    workspace.budgets.set(BudgetChange(daily=1_000_000))
    # real spend (a simulated runtime's usage never counts against a budget)
    spender = workspace.tasks.create(TaskDraft(title="earlier work", runtime="anthropic"))
    workspace.budgets.record_usage(spender, UsageEvent(model="claude-sonnet-4-6", cost_usd=1.5))
    clock.advance(60)
    assert tick_and_decide(workspace) == ["blocked"]
    (firing,) = history(workspace, schedule)
    assert firing.task_id is None
    assert firing.reason is not None and firing.reason.startswith("budget:")
    assert [t.title for t in workspace.tasks.list()] == ["earlier work"]
    after = workspace.schedules.get(schedule.id)
    assert after.firing_count == 0 and after.next_fire_at == clock.now + timedelta(minutes=1)
    usage = workspace.budgets.usage(LedgerFilter())
    assert any(row.status == "blocked" and row.activity == "scheduled_firing" for row in usage)


def test_a_prompt_firing_whose_runtime_is_not_ready_fails_with_the_fix_and_starts_nothing(
    workspace: Workspace, clock: Clock, no_login: None
) -> None:
    """Before, the firing made a task that could not be queued: a planned task left behind, and
    a reason without the fix. Now it is checked as a workflow firing is (wave 14)."""
    schedule = add(workspace, runtime="anthropic", overlap="allow")
    workspace.budgets.set(BudgetChange(daily=1_000_000))
    clock.advance(60)
    assert tick_and_decide(workspace) == ["failed"]
    (firing,) = history(workspace, schedule)
    assert (firing.reason or "").startswith(
        "not started: the anthropic runtime is not ready: no credentials"
    )
    assert "(fix: " in (firing.reason or "") and "ANTHROPIC_API_KEY" in (firing.reason or "")
    assert firing.task_id is None and workspace.tasks.list() == []
    assert workspace.budgets.usage(LedgerFilter()) == []  # nothing reserved for it
    after = workspace.schedules.get(schedule.id)
    assert after.status is ScheduleStatus.ACTIVE
    assert after.firing_count == 0 and after.next_fire_at == clock.now + timedelta(minutes=1)


def test_a_one_shot_fires_once_and_completes(workspace: Workspace, clock: Clock) -> None:
    schedule = add(
        workspace, name="launch", every=None, at=(clock.now + timedelta(hours=1)).isoformat()
    )
    assert workspace.schedules.upcoming(schedule) == [clock.now + timedelta(hours=1)]
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["fired"]
    after = workspace.schedules.get(schedule.id)
    assert after.status is ScheduleStatus.COMPLETED and after.next_fire_at is None
    clock.advance(3600)
    assert tick_and_decide(workspace) == []


def test_pause_resume_fire_now_edit_and_remove(workspace: Workspace, clock: Clock) -> None:
    schedule = add(workspace, overlap="allow")
    paused = workspace.schedules.pause(schedule.id)
    assert paused.status is ScheduleStatus.PAUSED and paused.next_fire_at is None
    clock.advance(600)
    assert tick_and_decide(workspace) == []
    with pytest.raises(ConflictError):
        workspace.schedules.pause(schedule.id)
    resumed = workspace.schedules.resume("nightly")
    assert resumed.next_fire_at == clock.now + timedelta(minutes=1)
    manual = workspace.schedules.fire_now("nightly")
    assert manual.manual and workspace.schedules.process(manual.id) == "fired"
    task = workspace.tasks.get(workspace.schedules.firing(manual.id).task_id or "")
    assert task.title == "nightly — fired now"
    assert workspace.schedules.get(schedule.id).firing_count == 0
    edited = workspace.schedules.update("nightly", ScheduleDraft(cron="0 9 * * *", prompt="New"))
    assert edited.timing.cron == "0 9 * * *" and edited.target.prompt == "New"
    assert edited.next_fire_at is not None and edited.next_fire_at.hour == 9
    workspace.schedules.delete("nightly")
    assert workspace.schedules.list() == []
    assert workspace.tasks.get(task.id).title == "nightly — fired now"  # tasks stay


def test_bad_input_names_the_field(workspace: Workspace) -> None:
    cases = [
        (ScheduleDraft(name="", prompt="p", every="1m"), "name:"),
        (ScheduleDraft(name="a", prompt="", every="1m"), "prompt:"),
        (ScheduleDraft(name="a", prompt="p"), "when: give exactly one"),
        (ScheduleDraft(name="a", prompt="p", every="1m", cron="* * * * *"), "when:"),
        (ScheduleDraft(name="a", prompt="p", every="1m", overlap="sometimes"), "overlap:"),
        (ScheduleDraft(name="a", prompt="p", every="1m", missed="never"), "missed:"),
        (ScheduleDraft(name="a", prompt="p", every="1m", max_firings=0), "max_firings:"),
        (ScheduleDraft(name="a", prompt="p", every="1m", tz="Nowhere/Land"), "tz:"),
    ]
    for draft, message in cases:
        with pytest.raises(ValidationError, match=message):
            workspace.schedules.create(draft)
    add(workspace, name="dup")
    with pytest.raises(ConflictError, match="name:"):
        add(workspace, name="dup")
