"""Corners of the small repositories that other layers lean on: a setting removed is gone and
removing a missing one is harmless; the API address a running ``serve`` announced is found only
while its worker is alive on this machine; a workflow's run shows on Home's timeline while it
overlaps the window; a schedule asks which firings it already recorded. On SQLite and
PostgreSQL (the plain-``sqlite3`` reads on SQLite only)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from stagent.domain.ids import new_id
from stagent.domain.schedules import (
    FiringStatus,
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    Timing,
    TimingKind,
)
from stagent.domain.workflows import WorkflowDefinition
from stagent.store import activity
from stagent.store import executors as executor_repo
from stagent.store import schedules as schedule_repo
from stagent.store import settings as settings_repo
from stagent.store import workflows as workflow_repo
from stagent.store.database import Store
from stagent.store.sqlite_reads import SqliteReads, sqlite_file
from stagent.store.tables import ExecutorRow, WorkflowRow

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
KEY = "serve_api"


# ------------------------------------------------------------------------------- settings


def test_a_removed_setting_reads_its_default_and_removing_it_again_is_harmless(
    store: Store,
) -> None:
    with store.write() as session:
        settings_repo.put(session, "theme", {"mode": "dark"})
        settings_repo.put(session, "kept", 7)
    with store.write() as session:
        settings_repo.delete(session, "theme")
    with store.write() as session:
        settings_repo.delete(session, "theme")
        settings_repo.delete(session, "never-stored")
    with store.read() as session:
        assert settings_repo.get(session, "theme", "light") == "light"
        assert settings_repo.get(session, "kept") == 7


# ------------------------------------------------------------------------------- api address


@pytest.fixture
def reads(store: Store) -> SqliteReads:
    if not store.is_sqlite:
        pytest.skip("plain-sqlite3 reads exist only for SQLite files")
    path = sqlite_file(store.url)
    assert path is not None
    return SqliteReads(sqlite3.connect(path, check_same_thread=False))


def announce(
    store: Store, value: Any, *, hostname: str = "here", age: timedelta | None = None
) -> None:
    with store.write() as session:
        executor_repo.register(
            session, executor_id="exe_1", kind="worker", hostname=hostname, pid=1
        )
        settings_repo.put(session, KEY, value)
    if age is not None:
        with store.write() as session:
            session.execute(
                update(ExecutorRow)
                .where(ExecutorRow.id == "exe_1")
                .values(heartbeat_at=datetime.now(UTC) - age)
            )


def test_a_live_serve_on_this_machine_is_found_by_its_address(
    store: Store, reads: SqliteReads
) -> None:
    announce(store, {"url": "http://127.0.0.1:8123", "executor_id": "exe_1"})
    try:
        assert reads.api_address(KEY, 60, "here") == "http://127.0.0.1:8123"
    finally:
        reads.close()


@pytest.mark.parametrize(
    ("value", "hostname", "age"),
    [
        ({"url": "http://127.0.0.1:8123", "executor_id": "exe_1"}, "elsewhere", None),
        ({"url": "http://127.0.0.1:8123", "executor_id": "exe_1"}, "here", timedelta(hours=1)),
        ({"url": "http://127.0.0.1:8123", "executor_id": "exe_gone"}, "here", None),
        ({"url": 8123, "executor_id": "exe_1"}, "here", None),
        ("http://127.0.0.1:8123", "here", None),
    ],
    ids=["another-machine", "lease-expired", "worker-gone", "malformed-url", "not-a-record"],
)
def test_an_address_nobody_alive_here_answers_at_is_not_offered(
    store: Store, reads: SqliteReads, value: Any, hostname: str, age: timedelta | None
) -> None:
    announce(store, value, hostname=hostname, age=age)
    try:
        assert reads.api_address(KEY, 60, "here") is None
    finally:
        reads.close()


def test_no_address_before_any_serve_announced_one(store: Store, reads: SqliteReads) -> None:
    try:
        assert reads.api_address(KEY, 60, "here") is None
    finally:
        reads.close()


# ------------------------------------------------------------------------------- timeline


def test_workflow_runs_show_on_the_timeline_while_they_overlap_the_window(store: Store) -> None:
    definition = WorkflowDefinition.model_validate(
        {"name": "w", "pattern": "sequence", "steps": [{"id": "a", "name": "A", "prompt": "p"}]}
    )
    spans = {
        "running": (T0 - timedelta(days=3), None),
        "ended-inside": (T0 - timedelta(days=2), T0 + timedelta(hours=1)),
        "ended-before": (T0 - timedelta(days=2), T0 - timedelta(minutes=1)),
        "never-started": (None, None),
    }
    with store.write() as session:
        ids = {name: workflow_repo.create(session, definition).id for name in spans}
        for name, (start, end) in spans.items():
            session.execute(
                update(WorkflowRow)
                .where(WorkflowRow.id == ids[name])
                .values(started_at=start, finished_at=end)
            )
    with store.read() as session:
        found = sorted(activity.workflow_spans(session, T0), key=lambda span: span[0])
    assert found == [
        (T0 - timedelta(days=3), None),
        (T0 - timedelta(days=2), T0 + timedelta(hours=1)),
    ]
    assert all(start.tzinfo is not None for start, _ in found)


# ------------------------------------------------------------------------------- firings


def test_a_schedule_learns_which_of_its_firings_are_already_recorded(store: Store) -> None:
    sched = Schedule(
        id=new_id("sch"),
        name="hourly",
        status=ScheduleStatus.ACTIVE,
        timing=Timing(TimingKind.CRON, zone="UTC", cron="0 * * * *", source="hourly"),
        target=Target(TargetKind.PROMPT, prompt="p", runtime="scripted"),
        next_fire_at=T0,
    )
    with store.write() as session:
        schedule_repo.insert(session, sched)
        schedule_repo.add_firings(
            session,
            sched.id,
            [("fir_a", T0, FiringStatus.PENDING, None), ("fir_b", T0, FiringStatus.SKIPPED, "x")],
        )
    with store.read() as session:
        assert schedule_repo.existing_firing_ids(session, []) == []
        assert sorted(schedule_repo.existing_firing_ids(session, ["fir_b", "fir_z", "fir_a"])) == [
            "fir_a",
            "fir_b",
        ]
        assert schedule_repo.existing_firing_ids(session, ["fir_z"]) == []
