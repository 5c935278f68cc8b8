"""The usage rollup (``usage_rollup``, per UTC hour and per UTC day, kept by triggers on the
ledger) gives the same summaries as summing the ledger's rows, whatever writes the ledger: calls
of runs, imports that replace a placeholder copy, bulk imports, reservations, a run that fails
or is cancelled, repricing, deletes, and writers running at the same time, on SQLite and
PostgreSQL; grouped by local days of zones east and west of UTC too."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, select, text, update
from storetools import import_row

from stagent.ledger.reports import Scope
from stagent.store import ledger as ledger_repo
from stagent.store import ledger_imports
from stagent.store import ledger_metrics as metrics
from stagent.store.ledger import LedgerFilter, NewLedgerEntry
from stagent.store.tables import UsageLedgerRow, UsageRollupRow
from stagent.workspace import Workspace

START = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
GROUPS = (None, "hour", "day", "model", "runtime", "project", "source", "status", "simulated")
ZONES = (
    UTC,
    ZoneInfo("Europe/Berlin"),  # a DST change in the data (2026-10-25 is before it; see START)
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),  # +05:30: local days start inside a UTC hour
    ZoneInfo("Pacific/Kiritimati"),  # +14: a UTC day's noon is in the next local day
    timezone(-timedelta(hours=11)),
)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    yield request.getfixturevalue("workspace" if request.param == "sqlite" else "pg_workspace")


def entry(rng: random.Random, n: int, **fields: Any) -> NewLedgerEntry:
    values: dict[str, Any] = {
        "runtime": rng.choice(("claude", "codex", "anthropic")),
        "model": rng.choice(("claude-opus-4-6", "gpt-5.4", None)),
        "project_id": rng.choice(("prj_a", "prj_b", None)),
        "source": rng.choice(("run", "run", "import:claude-code")),
        "simulated": rng.random() < 0.2,
        "input_tokens": rng.randint(0, 5000),
        "output_tokens": rng.randint(0, 900),
        "cache_write_5m_tokens": rng.randint(0, 50),
        "cache_write_1h_tokens": rng.randint(0, 70),
        "cache_read_tokens": rng.randint(0, 90_000),
        "cost_micros": rng.randint(0, 40_000),
        "cost_source": rng.choice(("computed", "computed", "unpriced")),
        # minutes and seconds off the hour, so windows cut through hours; over several days
        "at": START + timedelta(seconds=rng.randint(0, 6 * 86400), microseconds=n),
    }
    values.update(fields)
    return NewLedgerEntry(**values)


def windows() -> list[tuple[datetime | None, datetime | None]]:
    hour = timedelta(hours=1)
    return [
        (None, None),
        (START + hour, None),  # on the hour
        (START + timedelta(minutes=90, seconds=7), START + timedelta(hours=40, minutes=13)),
        (None, START + timedelta(days=2, minutes=1)),
        (START + timedelta(minutes=10), START + timedelta(minutes=50)),  # inside one hour
        (START + timedelta(hours=5, microseconds=1), START + timedelta(hours=6)),
        # whole UTC days with part days (and a part hour) at both ends
        (START + timedelta(hours=20, minutes=30), START + timedelta(days=4, hours=3)),
        (START + timedelta(hours=18), START + timedelta(days=5, hours=18)),  # whole days only
        (START.replace(hour=0) + timedelta(days=1), None),
    ]


def filters() -> list[LedgerFilter]:
    found: list[LedgerFilter] = []
    for since, until in windows():
        found.append(LedgerFilter(since=since, until=until))
        found.append(LedgerFilter(since=since, until=until, simulated=False, runtime="claude"))
    found += [
        LedgerFilter(model="gpt-5.4", source="run"),
        LedgerFilter(project_id="prj_a", status="failed"),
        LedgerFilter(status="reserved"),
        LedgerFilter(simulated=True, since=START + timedelta(hours=3, minutes=3)),
    ]
    return found


def assert_agrees(ws: Workspace) -> None:
    """Every summary the rollup answers equals the rows' answer, and the rollup table itself
    equals a GROUP BY over the rows, in both grains."""
    with ws.store.read() as session:
        for n, where in enumerate(filters()):
            zone = ZONES[n % len(ZONES)]
            for by in (None, GROUPS[1 + n % (len(GROUPS) - 1)]):  # each grouping, in turn
                fast = metrics.aggregate(session, where, by, zone=zone)
                slow = metrics.aggregate(session, where, by, rows=True, zone=zone)
                assert _by_key(fast) == _by_key(slow), (where, by, zone)
                both = metrics.summarize(session, where, by, zone=zone)
                rows = metrics.summarize(session, where, by, zone=zone, rows=True)
                assert _split_by_key(both) == _split_by_key(rows), (where, by, zone)
            assert metrics.aggregate_split(session, where) == metrics.aggregate_split(
                session, where, rows=True
            ), where
        assert _rollup_rows(session) == _expected_rows(session)


def assert_rollup_exact(ws: Workspace) -> None:
    """The rollup table equals a GROUP BY over the ledger's rows, in both grains: what every
    summary reads is right (the summaries' reading of it is `assert_agrees`)."""
    with ws.store.read() as session:
        assert _rollup_rows(session) == _expected_rows(session)


def assert_days_agree(ws: Workspace) -> None:
    """Local days of every zone, from the day grain plus moved hours, equal the rows' days."""
    with ws.store.read() as session:
        for zone in ZONES:
            for since, until in windows():
                for where in (
                    LedgerFilter(since=since, until=until),
                    LedgerFilter(since=since, until=until, runtime="codex", simulated=False),
                ):
                    fast = metrics.summarize(session, where, "day", zone=zone)
                    slow = metrics.summarize(session, where, "day", zone=zone, rows=True)
                    assert _split_by_key(fast) == _split_by_key(slow), (where, zone)


def _split_by_key(split: metrics.Split) -> tuple[Any, ...]:
    return (
        split.real,
        split.simulated,
        _by_key(split.real_groups),
        _by_key(split.simulated_groups),
    )


def _by_key(buckets: list[metrics.Bucket]) -> dict[str | None, metrics.Bucket]:
    return {bucket.key: bucket for bucket in buckets}


def _rollup_rows(session: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    table = UsageRollupRow
    found: dict[tuple[Any, ...], tuple[int, ...]] = {}
    for row in session.scalars(select(table)):
        sums = (
            row.requests, row.input_tokens, row.output_tokens, row.cache_write_5m_tokens,
            row.cache_write_1h_tokens, row.cache_read_tokens, row.cost_micros, row.unpriced,
        )  # fmt: skip
        if any(sums):
            key = (row.grain, row.bucket, row.runtime, row.model, row.project_id, row.source)
            found[(*key, bool(row.simulated), row.status)] = sums
    return found


def _expected_rows(session: Any) -> dict[tuple[Any, ...], tuple[int, ...]]:
    found: dict[tuple[Any, ...], list[int]] = {}
    for row in session.scalars(
        select(UsageLedgerRow).where(UsageLedgerRow.status.in_(metrics.CALL_STATUSES))
    ):
        at = (
            row.finished_at.replace(tzinfo=UTC)
            if row.finished_at.tzinfo is None
            else row.finished_at
        )
        values = (
            1, row.input_tokens, row.output_tokens, row.cache_write_5m_tokens,
            row.cache_write_1h_tokens, row.cache_read_tokens, row.cost_micros,
            int(row.cost_source == "unpriced"),
        )  # fmt: skip
        for grain in (3600, 86400):
            key = (
                grain, int(at.timestamp()) // grain, row.runtime, row.model or "",
                row.project_id or "", row.source, bool(row.simulated), row.status,
            )  # fmt: skip
            sums = found.setdefault(key, [0] * 8)
            found[key] = [a + b for a, b in zip(sums, values, strict=True)]
    return {key: tuple(sums) for key, sums in found.items()}


def book(ws: Workspace, rng: random.Random, count: int, **fields: Any) -> list[str]:
    ids: list[str] = []
    with ws.store.write() as session:
        for n in range(count):
            ids.append(ledger_repo.insert(session, entry(rng, n, **fields)).id)
    return ids


def assert_insert_triggers_on(ws: Workspace) -> None:
    """SQLite: the ledger's insert triggers that bulk inserts drop for a statement are there."""
    if not ws.store.is_sqlite:
        return
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        " AND tbl_name = 'usage_ledger' AND sql LIKE '%AFTER INSERT%'"
    )
    with ws.store.read() as session:
        assert set(session.scalars(text(query))) == set(ledger_imports.BYPASSED_TRIGGERS)


def test_the_rollup_matches_the_rows_through_every_kind_of_ledger_write(ws: Workspace) -> None:
    """The triggers keep the rollup table exact after each kind of write; every summary equals
    the rows' answer over plain calls, and again over the end's mix of every kind (imports,
    reservations, failed and cancelled runs, unpriced rows, moved and deleted rows)."""
    rng = random.Random(7)
    book(ws, rng, 150)
    book(ws, rng, 10, run_id="run_f", source="run")
    book(ws, rng, 10, run_id="run_c", source="run")
    assert_agrees(ws)

    # Imports: new calls, then a fuller copy of some replaces the stored one, others repeat.
    imported = [
        entry(rng, n, source="import:claude-code", dedupe_key=f"claude-code:msg_{n}")
        for n in range(60)
    ]
    with ws.store.write() as session:
        ledger_imports.book_calls(session, [import_row(e) for e in imported])
    fuller = [
        entry(rng, n, source="import:claude-code", dedupe_key=f"claude-code:msg_{n}",
              input_tokens=10**6 + n, at=START + timedelta(days=4, minutes=n))
        for n in range(0, 60, 2)
    ]  # fmt: skip
    with ws.store.write() as session:
        booked = ledger_imports.book_calls(session, [import_row(e) for e in fuller])
    assert booked.replaced == 30
    assert_rollup_exact(ws)
    assert_insert_triggers_on(ws)  # bypassed for the bulk insert, then restored

    # A run's reservation (not a call) shrinks and ends; a blocked call is not a call either.
    book(ws, rng, 1, run_id="run_r", status=ledger_repo.RESERVED, cost_micros=900_000)
    book(ws, rng, 1, run_id="run_r", status=ledger_repo.BLOCKED)
    with ws.store.write() as session:
        ledger_repo.consume_reservation(session, "run_r", 1_000)
        ledger_repo.release_reservations(session, "run_r", note="ended")
    assert_rollup_exact(ws)

    # A run that failed, one cancelled: their calls move to that status.
    with ws.store.write() as session:
        ledger_repo.mark_run_outcome(session, "run_f", "failed")
        ledger_repo.mark_run_outcome(session, "run_c", "cancelled")
    assert_rollup_exact(ws)

    # Repricing: new costs, some rows become unpriced, unpriced ones priced.
    with ws.store.read() as session:
        ids = list(session.scalars(select(UsageLedgerRow.id).order_by(UsageLedgerRow.id)))
    changes = [
        {"id": i, "cost_micros": 0 if n % 5 == 0 else 7_777 + n, "note": None,
         "cost_source": "unpriced" if n % 5 == 0 else "computed", "pricing_version": "v2"}
        for n, i in enumerate(ids[:120])
    ]  # fmt: skip
    with ws.store.write() as session:
        ledger_repo.update_costs(session, changes)
    assert_rollup_exact(ws)

    # An edit of the time, model and project (no writer does this today; the rollup follows).
    with ws.store.write() as session:
        session.execute(
            update(UsageLedgerRow)
            .where(UsageLedgerRow.id.in_(ids[120:140]))
            .values(finished_at=START - timedelta(days=1), model="other", project_id=None)
        )
    assert_rollup_exact(ws)

    # Deletes take rows out.
    with ws.store.write() as session:
        session.execute(delete(UsageLedgerRow).where(UsageLedgerRow.id.in_(ids[::3])))
    assert_agrees(ws)
    assert_days_agree(ws)


def test_a_failed_bulk_insert_leaves_the_triggers_on(ws: Workspace) -> None:
    """A bulk insert that fails (a key already booked) rolls back; the next row is counted."""
    rng = random.Random(5)
    calls = [import_row(entry(rng, n, dedupe_key=f"claude-code:dup_{n}")) for n in range(3)]
    with ws.store.write() as session:
        ledger_imports.book_calls(session, calls)
    with pytest.raises(Exception), ws.store.write() as session:  # noqa: B017
        ledger_imports._insert(session.connection(), calls)  # pyright: ignore[reportPrivateUsage]
    assert_insert_triggers_on(ws)
    book(ws, rng, 2)
    assert_rollup_exact(ws)


def test_concurrent_writers_keep_the_rollup_exact(ws: Workspace) -> None:
    """Writers inserting, marking outcomes and repricing at once (PostgreSQL: truly parallel
    transactions upserting the same rollup rows)."""
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for round_ in range(6):
                run = f"run_{seed}_{round_}"
                # few keys, so writers collide on the same rollup rows
                book(ws, rng, 8, run_id=run, runtime="claude", model="m", project_id=None,
                     source="run", simulated=False, at=START + timedelta(minutes=seed))  # fmt: skip
                with ws.store.write() as session:
                    ledger_repo.mark_run_outcome(session, run, "failed")
                with ws.store.write() as session:
                    ids = session.scalars(
                        select(UsageLedgerRow.id).where(UsageLedgerRow.run_id == run)
                    ).all()
                    ledger_repo.update_costs(
                        session, [{"id": i, "cost_micros": seed * 10 + round_} for i in ids]
                    )
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert_rollup_exact(ws)
    with ws.store.read() as session:
        (total,) = metrics.aggregate(session, LedgerFilter(status="failed"))
    assert total.requests == 4 * 6 * 8
    assert total.cost_micros == sum(8 * (seed * 10 + r) for seed in range(4) for r in range(6))


def test_a_summary_reads_the_rollup_not_the_rows(ws: Workspace) -> None:
    """What makes the summary fast: with the rollup's rows changed behind the triggers' back,
    the summary shows the change (and the rows' answer does not)."""
    book(ws, random.Random(3), 20, source="run", simulated=False)
    with ws.store.write() as session:
        session.execute(update(UsageRollupRow).values(cost_micros=UsageRollupRow.cost_micros + 1))
    with ws.store.read() as session:
        days = session.scalar(
            select(func.count()).select_from(UsageRollupRow).where(UsageRollupRow.grain == 86400)
        )
        (fast,) = metrics.aggregate(session, LedgerFilter())
        (slow,) = metrics.aggregate(session, LedgerFilter(), rows=True)
    # all time is whole days: the day grain alone answers it
    assert fast.cost_micros == slow.cost_micros + (days or 0)


def test_a_summary_is_one_statement_over_the_rollup(ws: Workspace) -> None:
    """Totals, the simulated calls' totals and the groups come from one grouped scan (a second
    query lists unpriced models, when there are unpriced calls)."""
    from sqlalchemy import event

    book(ws, random.Random(4), 30, cost_source="computed")
    seen: list[str] = []

    def remember(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(ws.store.engine, "before_cursor_execute", remember)
    try:
        for by in (None, "day", "model", "runtime", "project", "source"):
            seen.clear()
            ws.ledger.summary(Scope(since=START, until=START + timedelta(days=5)), by)
            scans = [sql for sql in seen if "usage_rollup" in sql or "usage_ledger" in sql]
            assert len(scans) == 1, (by, scans)
            # a window cutting through hours: one more, for the rows of both part hours
            seen.clear()
            cut = Scope(since=START + timedelta(minutes=7), until=START + timedelta(days=4))
            ws.ledger.summary(cut, by)
            scans = [sql for sql in seen if "usage_rollup" in sql or "usage_ledger" in sql]
            assert len(scans) == 2, (by, scans)
    finally:
        event.remove(ws.store.engine, "before_cursor_execute", remember)


def test_the_triggers_that_keep_the_rollup_exist_at_the_newest_revision(ws: Workspace) -> None:
    """A later migration that rebuilds the ledger table must create them again."""
    with ws.store.read() as session:
        if ws.store.is_sqlite:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"
        else:
            query = (
                "SELECT tgname FROM pg_trigger WHERE tgrelid = CAST(:t AS regclass)"
                " AND NOT tgisinternal"
            )
        names = set(session.scalars(text(query), {"t": "usage_ledger"}))
    assert {f"usage_rollup_on_{op}" for op in ("insert", "update", "delete")} <= names


@pytest.mark.parametrize("before", ["0018", "0019"])
def test_ledger_rows_written_before_the_rollup_are_summed_after(tmp_path: Any, before: str) -> None:
    """0019 adds the hourly rollup, 0020 the day grain: calls booked before either (by an
    older Stagent) are in both grains."""
    from alembic import command

    from stagent.store.database import Store
    from stagent.store.migrate import alembic_config

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    store = Store(url)
    command.upgrade(alembic_config(store.engine), before)
    rng = random.Random(11)
    with store.write() as session:
        for n in range(40):
            ledger_repo.insert(session, entry(rng, n))
        ledger_repo.insert(session, entry(rng, 99, status=ledger_repo.RESERVED))
    store.upgrade()
    try:
        with store.read() as session:
            assert _rollup_rows(session) == _expected_rows(session)
            (fast,) = metrics.aggregate(session, LedgerFilter())
            assert fast == metrics.aggregate(session, LedgerFilter(), rows=True)[0]
            assert fast.requests == 40
    finally:
        store.dispose()


def test_moved_hours_read_as_one_filtered_pass_over_long_windows(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over more days than `MAX_MOVED_RANGES` the moved hours are one filtered pass: the same
    local days."""
    from stagent.store import ledger_rollup

    book(ws, random.Random(9), 120)
    assert_days_agree(ws)
    monkeypatch.setattr(ledger_rollup, "MAX_MOVED_RANGES", 0)
    assert_days_agree(ws)


def test_moved_ranges_follow_the_zone_through_a_dst_change() -> None:
    """Berlin: the last UTC hour of a winter day starts the next local day, the last two of a
    summer day; the day of the change has its own run; UTC moves nothing."""
    from stagent.store.ledger_rollup import moved_ranges

    berlin = ZoneInfo("Europe/Berlin")
    winter = int(datetime(2026, 1, 10, tzinfo=UTC).timestamp()) // 86400
    summer = int(datetime(2026, 7, 10, tzinfo=UTC).timestamp()) // 86400
    assert moved_ranges(berlin, winter, winter + 1) == [(winter * 24 + 23, winter * 24 + 24)]
    assert moved_ranges(berlin, summer, summer + 1) == [(summer * 24 + 22, summer * 24 + 24)]
    change = int(datetime(2026, 3, 29, tzinfo=UTC).timestamp()) // 86400  # 01:00 UTC
    assert moved_ranges(berlin, change, change + 1) == [(change * 24 + 22, change * 24 + 24)]
    assert moved_ranges(UTC, winter, summer) == []
    new_york = ZoneInfo("America/New_York")
    assert moved_ranges(new_york, winter, winter + 1) == [(winter * 24, winter * 24 + 5)]
