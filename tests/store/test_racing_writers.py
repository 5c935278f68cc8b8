"""Two writers racing for one name or one scope: the loser of a unique name (a project, a
schedule, a schedule's rename) gets the same clear `ConflictError` as someone who came later,
never a database error, and the winner's row stays; two writers setting the same scope's budget
at once both succeed with one row; writers booking calls at once keep the running spend totals
exact. On PostgreSQL the second writer really is inside its insert, blocked behind the first
one's uncommitted row; on SQLite it waits for the file's write lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from stagent.domain.errors import ConflictError
from stagent.domain.ids import new_id
from stagent.domain.schedules import (
    Schedule,
    ScheduleStatus,
    Target,
    TargetKind,
    Timing,
    TimingKind,
)
from stagent.store import budgets as budget_repo
from stagent.store import ledger as ledger_repo
from stagent.store import projects as project_repo
from stagent.store import schedules as schedule_repo
from stagent.store.database import Store
from stagent.store.tables import BudgetRow, ProjectRow, ScheduleRow, UsageLedgerRow

T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def other(store: Store) -> Iterator[Store]:
    """A second store on the same database: another process's connections."""
    second = Store(store.url)
    yield second
    second.dispose()


def wait_until_a_writer_is_blocked(store: Store, writer: threading.Thread) -> None:
    """PostgreSQL: wait (generously) until a backend of this test's own database waits on a
    lock, i.e. the other writer is inside its insert. SQLite: its writer waits at BEGIN."""
    if store.is_sqlite:
        return
    engine = create_engine(store.url, poolclass=NullPool)
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and writer.is_alive():
            with engine.connect() as conn:
                if conn.scalar(query):
                    return
            time.sleep(0.02)
        pytest.fail("the second writer never blocked behind the first one's row")
    finally:
        engine.dispose()


def behind(store: Store, first: Callable[[Session], Any], second: Callable[[], Any]) -> Any:
    """Run ``first`` in a transaction that stays open until ``second`` (in a thread, on
    another store) is blocked behind it; returns what ``second`` returned or raised."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(second())
        except Exception as exc:  # reported to the test thread
            outcome.append(exc)

    writer = threading.Thread(target=run)
    with store.write() as session:
        first(session)
        writer.start()
        wait_until_a_writer_is_blocked(store, writer)
    writer.join(timeout=60)
    assert not writer.is_alive(), "the second writer hung"
    [result] = outcome
    return result


def schedule(name: str) -> Schedule:
    return Schedule(
        id=new_id("sch"),
        name=name,
        status=ScheduleStatus.ACTIVE,
        timing=Timing(TimingKind.CRON, zone="UTC", cron="0 2 * * *", source="at 2am"),
        target=Target(TargetKind.PROMPT, prompt="tidy", runtime="scripted"),
        next_fire_at=T0,
    )


# ------------------------------------------------------------------------------- names


def test_two_people_creating_a_project_of_one_name_get_one_project_and_a_conflict(
    store: Store, other: Store
) -> None:
    def second() -> Any:
        with other.write() as session:
            return project_repo.create(session, name="shared", description="second")

    lost = behind(
        store,
        lambda session: project_repo.create(session, name="shared", description="first"),
        second,
    )
    assert isinstance(lost, ConflictError), lost
    assert lost.message == "a project named 'shared' already exists"
    assert lost.hint == "pick another name"
    with store.read() as session:
        [kept] = project_repo.list_all(session)
        count = session.scalar(select(func.count()).select_from(ProjectRow))
    assert kept.description == "first" and count == 1


def test_two_schedules_of_one_name_created_at_once_are_one_and_a_conflict(
    store: Store, other: Store
) -> None:
    def second() -> Any:
        with other.write() as session:
            return schedule_repo.insert(session, schedule("nightly"))

    first = schedule("nightly")
    lost = behind(store, lambda session: schedule_repo.insert(session, first), second)
    assert isinstance(lost, ConflictError), lost
    assert "a schedule named 'nightly' exists" in lost.message
    assert lost.hint == "choose another name"
    with store.read() as session:
        ids = list(session.scalars(select(ScheduleRow.id)))
    assert ids == [first.id]


def test_renaming_onto_a_name_another_writer_is_taking_is_a_conflict(
    store: Store, other: Store
) -> None:
    with store.write() as session:
        renamed = schedule_repo.insert(session, schedule("weekly"))

    def second() -> Any:
        with other.write() as session:
            row = schedule_repo.get(session, renamed.id)
            return schedule_repo.save(session, replace(row, name="daily"))

    taken = schedule("daily")
    lost = behind(store, lambda session: schedule_repo.insert(session, taken), second)
    assert isinstance(lost, ConflictError), lost
    assert "a schedule named 'daily' exists" in lost.message
    with store.read() as session:
        names = {s.id: s.name for s in schedule_repo.list_all(session)}
    assert names == {renamed.id: "weekly", taken.id: "daily"}


def test_a_schedule_refused_for_another_reason_is_not_called_a_name_conflict(
    store: Store,
) -> None:
    """Only the name's index is a name conflict: a schedule of a project that does not exist is
    refused by the database as it is (the service checks projects before it gets here)."""
    with pytest.raises(IntegrityError), store.write() as session:
        schedule_repo.insert(session, replace(schedule("orphan"), project_id="prj_nope"))


# ------------------------------------------------------------------------------- budgets


def test_two_people_setting_one_scopes_budget_at_once_both_succeed_with_one_row(
    store: Store, other: Store
) -> None:
    def second() -> Any:
        with other.write() as session:
            return budget_repo.upsert(session, "runtime", "claude", {"daily_cap_micros": 9_000})

    saved = behind(
        store,
        lambda session: budget_repo.upsert(
            session, "runtime", "claude", {"daily_cap_micros": 5_000, "warn_at": 0.5}
        ),
        second,
    )
    assert not isinstance(saved, Exception), saved
    with store.read() as session:
        budget = budget_repo.get(session, "runtime", "claude")
        count = session.scalar(select(func.count()).select_from(BudgetRow))
    assert count == 1
    assert budget is not None and budget.id == saved.id
    assert (budget.daily_cap_micros, budget.warn_at) == (9_000, 0.5)  # the later write wins


def test_a_budget_set_after_another_scopes_budget_in_one_transaction_is_kept(
    store: Store,
) -> None:
    """The savepoint a new budget is created in leaves earlier writes of the transaction."""
    with store.write() as session:
        budget_repo.upsert(session, "overall", "", {"monthly_cap_micros": 1})
        budget_repo.upsert(session, "runtime", "codex", {"daily_cap_micros": 2})
        budget_repo.upsert(session, "overall", "", {"daily_cap_micros": 3})
    with store.read() as session:
        caps = {
            (b.scope, b.scope_ref): (b.daily_cap_micros, b.monthly_cap_micros)
            for b in budget_repo.list_budgets(session)
        }
    assert caps == {("overall", ""): (3, 1), ("runtime", "codex"): (2, None)}


def test_a_failed_transaction_leaves_no_budget_it_created(store: Store) -> None:
    class BoomError(Exception):
        pass

    with pytest.raises(BoomError), store.write() as session:
        budget_repo.upsert(session, "overall", "", {"daily_cap_micros": 10})
        raise BoomError
    with store.read() as session:
        assert budget_repo.list_budgets(session) == []


# ------------------------------------------------------------------------------- spend totals


def test_writers_booking_calls_at_once_keep_the_running_totals_exact(
    store: Store, other: Store
) -> None:
    """Four writers (two per store) booking calls into the same quarter hours at once: the
    budget's window sum equals the rows' sum (PostgreSQL: parallel upserts of one totals row)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    since = now - timedelta(days=1)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(on: Store, seed: int) -> None:
        try:
            barrier.wait()
            for n in range(15):
                with on.write() as session:
                    ledger_repo.insert(
                        session,
                        ledger_repo.NewLedgerEntry(
                            runtime="claude" if n % 2 else "codex",
                            cost_micros=seed * 1_000 + n,
                            at=now - timedelta(minutes=n % 3),
                        ),
                    )
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=(store if seed % 2 else other, seed))
        for seed in range(1, 5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and not any(t.is_alive() for t in threads)
    expected = sum(seed * 1_000 + n for seed in range(1, 5) for n in range(15))
    queries = [
        ledger_repo.SpendQuery("overall", "", since),
        ledger_repo.SpendQuery("runtime", "claude", since),
        ledger_repo.SpendQuery("runtime", "codex", since),
    ]
    with store.read() as session:
        overall, claude, codex = (s.total for s in ledger_repo.spend(session, queries))
        rows = session.scalar(select(func.sum(UsageLedgerRow.cost_micros)))
    assert overall == rows == expected
    assert claude + codex == expected
    assert claude == sum(seed * 1_000 + n for seed in range(1, 5) for n in range(1, 15, 2))
