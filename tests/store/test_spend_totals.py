"""Running spend totals (``spend_totals``, kept by triggers on the ledger) give the same window
sums as summing the ledger's rows, whatever writes the ledger (calls, reservations that shrink
and end, repricing, deletes), in any time zone's day and month, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from migrationtools import expected_rollup, rollup_rows
from sqlalchemy import delete, func, select, text

from stagent.governance.budgets_windows import window_for
from stagent.store import ledger as ledger_repo
from stagent.store import ledger_imports
from stagent.store.tables import SpendTotalRow, UsageLedgerRow
from stagent.workspace import Workspace

TOKENS = (
    "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_read_tokens", "reasoning_tokens",
)  # fmt: skip
NOW = datetime(2026, 12, 15, 18, 40, tzinfo=UTC)
ZONES = ("UTC", "Europe/Paris", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest) -> Iterator[Workspace]:
    yield request.getfixturevalue("workspace" if request.param == "sqlite" else "pg_workspace")


def book(ws: Workspace, at: datetime, micros: int, **fields: Any) -> str:
    fields.setdefault("runtime", "claude")
    with ws.store.write() as session:
        entry = ledger_repo.insert(
            session,
            ledger_repo.NewLedgerEntry(at=at, cost_micros=micros, **fields),
        )
    return entry.id


def row_sum(ws: Workspace, scope: str, ref: str, since: datetime) -> int:
    """What the ledger's rows say (the definition the totals must match)."""
    table = UsageLedgerRow
    condition = [
        table.finished_at >= since.astimezone(UTC),
        table.simulated.is_(False),
        table.source == "run",
    ]
    if scope == "runtime":
        condition.append(table.runtime == ref)
    if scope == "project":
        condition.append(table.project_id == ref)
    with ws.store.read() as session:
        return int(session.scalar(select(func.sum(table.cost_micros)).where(*condition)) or 0)


def totals(ws: Workspace, scope: str, ref: str, since: datetime) -> int:
    with ws.store.read() as session:
        [spend] = ledger_repo.spend(session, [ledger_repo.SpendQuery(scope, ref, since)])
    return spend.total


def assert_windows_agree(ws: Workspace) -> None:
    for zone in map(ZoneInfo, ZONES):
        for period in ("daily", "monthly"):
            since = window_for(period, NOW, zone).start
            for scope, ref in (("overall", ""), ("runtime", "claude"), ("project", "prj_a")):
                expected = row_sum(ws, scope, ref, since)
                assert totals(ws, scope, ref, since) == expected, (zone, period, scope)


def test_totals_match_the_rows_through_every_kind_of_ledger_write(ws: Workspace) -> None:
    # Calls spread over the month, on quarter-hour and day edges, in and out of a project.
    start = datetime(2026, 11, 28, tzinfo=UTC)
    for n in range(120):
        at = start + timedelta(minutes=347 * n)
        book(ws, at, 1_000 + n, project_id="prj_a" if n % 3 == 0 else None)
    book(ws, datetime(2026, 12, 15, 0, 0, tzinfo=UTC), 77)  # exactly on a UTC midnight
    book(ws, datetime(2026, 12, 14, 18, 15, tzinfo=UTC), 55)  # Kathmandu's midnight
    book(ws, NOW, 5, runtime="codex")
    # Rows budgets never count: simulated, imported.
    book(ws, NOW, 10**9, simulated=True)
    book(ws, NOW, 10**9, source="import:claude-code")
    assert_windows_agree(ws)

    # A reservation shrinks with real usage, then is released (cost 0, a later time).
    reservation = book(ws, NOW, 2_000_000, run_id="run_r", status=ledger_repo.RESERVED)
    with ws.store.write() as session:
        ledger_repo.consume_reservation(session, "run_r", 500_000)
    assert_windows_agree(ws)
    with ws.store.write() as session:
        assert ledger_repo.release_reservations(session, "run_r", note="ended") == 1
    assert_windows_agree(ws)

    # Repricing changes costs; deleting rows takes them out.
    with ws.store.read() as session:
        ids = list(session.scalars(select(UsageLedgerRow.id).limit(30)))
    with ws.store.write() as session:
        ledger_repo.update_costs(
            session,
            [{"id": i, "cost_micros": 9_999, "cost_source": "computed", "note": None} for i in ids],
        )
    assert_windows_agree(ws)
    with ws.store.write() as session:
        session.execute(
            delete(UsageLedgerRow).where(UsageLedgerRow.id.in_([*ids[:10], reservation]))
        )
    assert_windows_agree(ws)


def test_rows_inserted_in_bulk_count_like_rows_inserted_one_by_one(workspace: Workspace) -> None:
    """SQLite's bulk insert (`ledger_imports.insert_staged`: the insert triggers dropped for its
    one statement, the sums added grouped) keeps the totals and the rollup exact, also for rows
    of runs, and leaves the triggers on for the next single insert."""
    ws = workspace
    start = datetime(2026, 11, 28, tzinfo=UTC)
    rows = [
        {
            "id": f"use_bulk_{n}",
            "runtime": ("claude", "codex")[n % 2],
            "project_id": "prj_a" if n % 3 == 0 else None,
            "cost_micros": 0 if n % 11 == 0 else 1_000 + n,
            "cost_source": "unpriced" if n % 11 == 0 else "computed",
            **dict.fromkeys(TOKENS, n),
            "source": "import:codex" if n % 7 == 0 else "run",
            "simulated": n % 5 == 0,
            "status": ("completed", "failed", "reserved")[n % 3],
            "finished_at": ledger_imports.sqlite_stamp(start + timedelta(minutes=211 * n)),
        }
        for n in range(200)
    ]
    names = list(rows[0])
    with ws.store.write() as session:
        conn = session.connection()
        conn.exec_driver_sql("CREATE TEMP TABLE bulk AS SELECT * FROM usage_ledger WHERE 0")
        conn.exec_driver_sql(
            f"INSERT INTO temp.bulk ({', '.join(names)}, activity, started_at)"
            f" VALUES ({', '.join('?' * (len(names) + 2))})",
            [(*row.values(), "task_run", row["finished_at"]) for row in rows],
        )
        ledger_imports.insert_staged(conn, "temp.bulk", [*names, "activity", "started_at"])
        conn.exec_driver_sql("DROP TABLE temp.bulk")
    assert_windows_agree(ws)
    assert totals(ws, "project", "prj_a", start) > 0
    book(ws, NOW, 321, project_id="prj_a")  # the insert trigger is on again
    assert_windows_agree(ws)
    with ws.store.read() as session:
        assert rollup_rows(session) == expected_rollup(session)


def test_a_window_that_starts_off_the_quarter_hour_sums_the_rows(ws: Workspace) -> None:
    book(ws, NOW - timedelta(minutes=5), 40)
    book(ws, NOW - timedelta(minutes=20), 2)
    since = NOW - timedelta(minutes=7, seconds=30)  # no bucket edge: the rows are summed
    assert totals(ws, "overall", "", since) == 40


def test_the_totals_are_a_handful_of_rows_however_many_calls(ws: Workspace) -> None:
    for n in range(300):
        book(ws, NOW - timedelta(seconds=n), 1)
    with ws.store.read() as session:
        buckets = session.scalar(select(func.count()).select_from(SpendTotalRow))
    # overall + runtime, at two grains; 300 s span at most two quarter hours
    assert buckets is not None and buckets <= 8
    assert totals(ws, "runtime", "claude", window_for("daily", NOW, UTC).start) == 300


def test_the_triggers_that_keep_the_totals_exist_at_the_newest_revision(ws: Workspace) -> None:
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
    expected = (
        {"spend_totals_on_insert", "spend_totals_on_update", "spend_totals_on_delete"}
        if ws.store.is_sqlite
        else {"spend_totals_track"}
    )
    assert expected <= names
