"""Schedules and their firings as the store keeps them: names are unique, a firing is recorded
once per occurrence (two processes claiming the same one: one wins), a firing shows the outcome
and cost of what it started, and an overlapping firing finds the one still busy before it. On
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from storetools import claimed_run, new_task

from stagent.domain.errors import ConflictError, NotFoundError
from stagent.domain.ids import new_id, utcnow
from stagent.domain.runs import RunStatus
from stagent.domain.schedules import (
    FiringStatus,
    MissedPolicy,
    OverlapPolicy,
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    Timing,
    TimingKind,
    firing_id,
)
from stagent.store import ledger as ledger_repo
from stagent.store import lifecycle
from stagent.store import schedules as schedule_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)


def schedule(name: str = "nightly", **fields: object) -> Schedule:
    values: dict[str, object] = {
        "id": new_id("sch"),
        "name": name,
        "status": ScheduleStatus.ACTIVE,
        "timing": Timing(TimingKind.CRON, zone="Europe/Paris", cron="0 2 * * *", source="at 2am"),
        "target": Target(TargetKind.PROMPT, prompt="summarise the logs", runtime="scripted"),
        "next_fire_at": T0,
    }
    values.update(fields)
    return Schedule(**values)  # type: ignore[arg-type]


def saved(store: Store, name: str = "nightly", **fields: object) -> Schedule:
    with store.write() as session:
        return schedule_repo.insert(session, schedule(name, **fields))


def fire(
    store: Store, sched: Schedule, at: datetime, status: FiringStatus = FiringStatus.PENDING
) -> str:
    fid = firing_id(sched.id, at)
    with store.write() as session:
        schedule_repo.add_firings(session, sched.id, [(fid, at, status, None)])
    return fid


# ------------------------------------------------------------------------------- schedules


def test_a_schedule_comes_back_with_every_field(store: Store) -> None:
    made = schedule(
        "weekly report",
        timing=Timing(TimingKind.INTERVAL, interval_seconds=3600, anchor=T0, source="every hour"),
        target=Target(
            TargetKind.BLUEPRINT,
            runtime="claude",
            profile="writer",
            ref="weekly-report",
            variables={"team": "core"},
            options={"model": "opus"},
        ),
        max_firings=10,
        expires_at=T0 + timedelta(days=30),
        overlap=OverlapPolicy.QUEUE,
        missed=MissedPolicy.ALL,
    )
    with store.write() as session:
        schedule_repo.insert(session, made)
    with store.read() as session:
        loaded = schedule_repo.get(session, "weekly report")
    assert loaded.id == made.id and loaded.timing.kind is TimingKind.INTERVAL
    assert loaded.timing.interval_seconds == 3600 and loaded.timing.anchor == T0
    assert loaded.target.kind is TargetKind.BLUEPRINT and loaded.target.ref == "weekly-report"
    assert loaded.target.variables == {"team": "core"} and loaded.target.options == {
        "model": "opus"
    }
    assert (loaded.max_firings, loaded.overlap, loaded.missed) == (
        10,
        OverlapPolicy.QUEUE,
        MissedPolicy.ALL,
    )
    assert loaded.expires_at == T0 + timedelta(days=30) and loaded.next_fire_at == T0
    assert loaded.created_at is not None and loaded.created_at.utcoffset() is not None


def test_a_cron_schedule_keeps_its_zone_and_phrase(store: Store) -> None:
    made = saved(store)
    with store.read() as session:
        loaded = schedule_repo.get(session, made.id)
    assert (loaded.timing.cron, loaded.timing.zone, loaded.timing.source) == (
        "0 2 * * *",
        "Europe/Paris",
        "at 2am",
    )
    assert loaded.target.prompt == "summarise the logs"


def test_a_second_schedule_with_a_taken_name_is_refused(store: Store) -> None:
    saved(store, "dup")
    with pytest.raises(ConflictError, match="name: a schedule named 'dup' exists") as caught:
        saved(store, "dup")
    assert caught.value.hint == "choose another name"
    with store.read() as session:
        assert len(schedule_repo.list_all(session)) == 1


def test_saving_renames_but_never_onto_another_schedules_name(store: Store) -> None:
    a = saved(store, "a")
    saved(store, "b")
    with store.write() as session:
        renamed = schedule_repo.save(session, schedule("c", id=a.id, firing_count=3))
    assert renamed.name == "c" and renamed.firing_count == 0  # counted by its firings only
    with pytest.raises(ConflictError, match="'b' exists"), store.write() as session:
        schedule_repo.save(session, schedule("b", id=a.id))
    with store.read() as session:
        assert [s.name for s in schedule_repo.list_all(session)] == ["b", "c"]


def test_a_missing_schedule_is_not_found_with_a_hint(store: Store) -> None:
    with store.read() as session, pytest.raises(NotFoundError, match="'nope'") as caught:
        schedule_repo.get(session, "nope")
    assert "schedule list" in (caught.value.hint or "")
    with pytest.raises(NotFoundError), store.write() as session:
        schedule_repo.save(session, schedule("ghost"))


def test_deleting_a_schedule_drops_its_firings_but_keeps_its_tasks(store: Store) -> None:
    sched = saved(store)
    fid = fire(store, sched, T0)
    task_id = new_task(store, "started by the schedule")
    with store.write() as session:
        schedule_repo.decide(session, fid, FiringStatus.FIRED, task_id=task_id)
    with store.write() as session:
        schedule_repo.delete(session, "nightly")
    with store.read() as session:
        assert schedule_repo.list_all(session) == []
        assert schedule_repo.existing_firing_ids(session, [fid]) == []
        assert task_repo.get(session, task_id).title == "started by the schedule"


def test_due_schedules_are_active_and_past_their_time_or_expiry(store: Store) -> None:
    now = T0
    due = saved(store, "due", next_fire_at=now - timedelta(minutes=1))
    later = saved(store, "later", next_fire_at=now + timedelta(hours=1))
    unplanned = saved(store, "unplanned", next_fire_at=None)
    expired = saved(
        store, "expired", next_fire_at=now + timedelta(hours=1), expires_at=now - timedelta(1)
    )
    saved(store, "paused", status=ScheduleStatus.PAUSED, next_fire_at=now - timedelta(hours=1))
    saved(store, "done", status=ScheduleStatus.COMPLETED, next_fire_at=None)
    with store.read() as session:
        ids = set(schedule_repo.due_ids(session, now))
    assert ids == {due.id, unplanned.id, expired.id}
    assert later.id not in ids


# ------------------------------------------------------------------------------- firings


def test_an_occurrence_is_recorded_once(store: Store) -> None:
    sched = saved(store)
    fire(store, sched, T0)
    with pytest.raises(schedule_repo.DuplicateFiringError):
        fire(store, sched, T0)
    with store.read() as session:
        assert len(schedule_repo.firings(session, sched.id)) == 1


def test_two_processes_claiming_the_same_occurrence_record_it_once(store: Store) -> None:
    sched = saved(store)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def claim() -> None:
        barrier.wait()
        try:
            with store.write() as session:
                schedule_repo.get_row(session, sched.id, for_update=True)
                if schedule_repo.existing_firing_ids(session, [firing_id(sched.id, T0)]):
                    outcomes.append("saw it")
                    return
                schedule_repo.add_firings(
                    session,
                    sched.id,
                    [(firing_id(sched.id, T0), T0, FiringStatus.PENDING, None)],
                )
            outcomes.append("won")
        except schedule_repo.DuplicateFiringError:
            outcomes.append("duplicate")

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) in (["saw it", "won"], ["duplicate", "won"])
    with store.read() as session:
        assert len(schedule_repo.firings(session, sched.id)) == 1


def test_a_batch_with_one_duplicate_records_none_of_it(store: Store) -> None:
    sched = saved(store)
    fire(store, sched, T0)
    later = T0 + timedelta(hours=1)
    with pytest.raises(schedule_repo.DuplicateFiringError), store.write() as session:
        schedule_repo.add_firings(
            session,
            sched.id,
            [
                (firing_id(sched.id, later), later, FiringStatus.PENDING, None),
                (firing_id(sched.id, T0), T0, FiringStatus.PENDING, None),
            ],
        )
    with store.read() as session:
        assert schedule_repo.existing_firing_ids(
            session, [firing_id(sched.id, T0), firing_id(sched.id, later)]
        ) == [firing_id(sched.id, T0)]


def test_a_missed_occurrence_is_decided_when_recorded(store: Store) -> None:
    sched = saved(store)
    with store.write() as session:
        schedule_repo.add_firings(
            session,
            sched.id,
            [
                (firing_id(sched.id, T0), T0, FiringStatus.MISSED, "the machine was off"),
                (
                    firing_id(sched.id, T0 + timedelta(1)),
                    T0 + timedelta(1),
                    FiringStatus.PENDING,
                    None,
                ),
            ],
            manual=True,
        )
    with store.read() as session:
        newest, oldest = schedule_repo.firings(session, sched.id)
    assert newest.status is FiringStatus.PENDING and newest.decided_at is None
    assert oldest.status is FiringStatus.MISSED and oldest.decided_at is not None
    assert oldest.reason == "the machine was off" and oldest.manual


def test_a_fired_firing_shows_its_tasks_outcome_and_cost(store: Store) -> None:
    sched = saved(store)
    fid = fire(store, sched, T0)
    claim = claimed_run(store, "scheduled work")
    with store.write() as session:
        schedule_repo.decide(session, fid, FiringStatus.FIRED, task_id=claim.task.id)
        for cost, status in ((300, "completed"), (200, "completed"), (9999, "reserved")):
            ledger_repo.insert(
                session,
                ledger_repo.NewLedgerEntry(
                    runtime="scripted",
                    task_id=claim.task.id,
                    run_id=claim.run.id,
                    cost_micros=cost,
                    status=status,
                ),
            )
    with store.read() as session:
        running = schedule_repo.get_firing(session, fid)
    assert running.status is FiringStatus.FIRED and running.task_id == claim.task.id
    assert running.task_status == "running" and running.outcome == "running"
    assert running.cost_micros == 500 and running.decided_at is not None
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1)
    with store.read() as session:
        assert schedule_repo.get_firing(session, fid).outcome == "completed"


def test_a_firings_cost_is_real_spend_and_simulated_when_every_call_was(store: Store) -> None:
    """Issue 12: simulated calls (a runtime that calls no model) never count as spend; a firing
    whose every booked call was simulated says so; one with nothing booked is plain $0."""
    sched = saved(store)
    booked = {
        "simulated": [(250_000, True, "completed"), (7, False, "reserved")],
        "mixed": [(250_000, True, "completed"), (1_234, False, "completed")],
        "nothing": [],
    }
    fids: dict[str, str] = {}
    for hour, (name, calls) in enumerate(booked.items()):
        fids[name] = fire(store, sched, T0 + timedelta(hours=hour))
        claim = claimed_run(store, name)
        with store.write() as session:
            schedule_repo.decide(session, fids[name], FiringStatus.FIRED, task_id=claim.task.id)
            for cost, simulated, status in calls:
                entry = ledger_repo.NewLedgerEntry(
                    runtime="scripted" if simulated else "anthropic",
                    task_id=claim.task.id,
                    run_id=claim.run.id,
                    cost_micros=cost,
                    status=status,
                    simulated=simulated,
                )
                ledger_repo.insert(session, entry)
    with store.read() as session:
        got = {name: schedule_repo.get_firing(session, fid) for name, fid in fids.items()}
    assert {name: (f.cost_micros, f.simulated) for name, f in got.items()} == {
        "simulated": (0, True),  # its scenario reported $0.25: not spend
        "mixed": (1_234, False),
        "nothing": (0, False),
    }


def test_firings_list_newest_occurrence_first_and_can_be_limited(store: Store) -> None:
    sched = saved(store)
    fids = [fire(store, sched, T0 + timedelta(hours=h)) for h in (1, 3, 2)]
    with store.read() as session:
        listed = [f.id for f in schedule_repo.firings(session, sched.id)]
        limited = schedule_repo.firings(session, sched.id, limit=1)
        chosen = schedule_repo.firings(session, sched.id, ids=[fids[0]])
    assert listed == [fids[1], fids[2], fids[0]]
    assert [f.id for f in limited] == [fids[1]] and [f.id for f in chosen] == [fids[0]]


def test_a_missing_firing_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="fir_nope"), store.write() as session:
        schedule_repo.decide(session, "fir_nope", FiringStatus.FIRED)


def test_reopening_a_firing_clears_its_decision_time(store: Store) -> None:
    sched = saved(store)
    fid = fire(store, sched, T0)
    with store.write() as session:
        schedule_repo.decide(session, fid, FiringStatus.SKIPPED, reason="an earlier run is busy")
    with store.read() as session:
        skipped = schedule_repo.get_firing(session, fid)
    assert skipped.reason == "an earlier run is busy" and skipped.decided_at is not None
    with store.write() as session:
        schedule_repo.decide(session, fid, FiringStatus.WAITING, reason="queued behind")
    with store.read() as session:
        waiting = schedule_repo.get_firing(session, fid)
    assert waiting.status is FiringStatus.WAITING and waiting.decided_at is None


# ------------------------------------------------------------------------------- overlap


def busy(store: Store, fid: str) -> str | None:
    with store.read() as session:
        return schedule_repo.busy_before(session, schedule_repo.firing_row(session, fid))


def test_an_earlier_undecided_firing_makes_a_later_one_wait(store: Store) -> None:
    sched = saved(store)
    first = fire(store, sched, T0)
    second = fire(store, sched, T0 + timedelta(hours=1))
    with store.read() as session:
        assert (
            schedule_repo.busy_before(session, schedule_repo.firing_row(session, second)) == first
        )
        assert schedule_repo.busy_before(session, schedule_repo.firing_row(session, first)) is None


def test_a_fired_firing_is_busy_while_its_task_runs(store: Store) -> None:
    sched = saved(store)
    first = fire(store, sched, T0)
    second = fire(store, sched, T0 + timedelta(hours=1))
    claim = claimed_run(store)
    with store.write() as session:
        schedule_repo.decide(session, first, FiringStatus.FIRED, task_id=claim.task.id)
    with store.read() as session:
        assert (
            schedule_repo.busy_before(session, schedule_repo.firing_row(session, second)) == first
        )
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.FAILED, attempt=1, error="x")
    assert busy(store, second) is None


def test_firings_of_other_schedules_never_block(store: Store) -> None:
    a = saved(store, "a")
    b = saved(store, "b")
    fire(store, a, T0)
    later = fire(store, b, T0 + timedelta(hours=1))
    assert busy(store, later) is None


def test_open_firings_older_than_a_moment_are_found_for_a_nudge(store: Store) -> None:
    sched = saved(store)
    pending = fire(store, sched, T0)
    fire(store, sched, T0 + timedelta(hours=1), FiringStatus.SKIPPED)
    with store.read() as session:
        assert schedule_repo.open_firing_ids(
            session, created_before=utcnow() + timedelta(seconds=5)
        ) == [pending]
        assert (
            schedule_repo.open_firing_ids(session, created_before=utcnow() - timedelta(minutes=5))
            == []
        )


# ------------------------------------------------------------------------------- reservations


def reservation(store: Store, status: str = "reserved") -> str:
    with store.write() as session:
        return ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(
                runtime="scripted", cost_micros=1000, status=status, cost_source="estimate"
            ),
        ).id


def test_a_firings_reservation_is_handed_to_its_task(store: Store) -> None:
    held = reservation(store)
    task_id = new_task(store)
    with store.write() as session:
        schedule_repo.attach_reservation(session, held, task_id)
    with store.read() as session:
        [row] = ledger_repo.list_entries(session, ledger_repo.LedgerFilter(task_id=task_id))
    assert row.id == held and row.status == "reserved"


def test_a_firings_reservation_no_task_takes_is_released_once(store: Store) -> None:
    held = reservation(store)
    done = reservation(store, status="released")
    with store.write() as session:
        schedule_repo.release_reservation(session, held, note="a workflow's steps are admitted")
        schedule_repo.release_reservation(session, done, note="again")
    with store.read() as session:
        entries = {e.id: e for e in ledger_repo.list_entries(session, ledger_repo.LedgerFilter())}
    assert (entries[held].status, entries[held].cost_micros) == ("released", 0)
    assert entries[held].note == "a workflow's steps are admitted"
    assert entries[done].note is None  # an already released row is left alone
