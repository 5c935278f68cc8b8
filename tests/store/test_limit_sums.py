"""What a budget admission reads in its one statement (`stagent.store.spend_totals.limit_sums`):
for every cap, the window's spend, the part running work holds and the extra a person allowed,
the same numbers the general sums and the window state give, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.dialects import postgresql

from stagent.governance.budgets_windows import PERIODS, window_for
from stagent.store import budgets as budget_repo
from stagent.store import ledger as ledger_repo
from stagent.store.database import Store
from stagent.store.spend_totals import (
    LimitQuery,
    LimitSums,
    _admission_statement,  # pyright: ignore[reportPrivateUsage]
    _Slot,  # pyright: ignore[reportPrivateUsage]
    admission_sums,
    limit_sums,
)

NOW = datetime(2026, 12, 15, 18, 40, tzinfo=UTC)
ZONES = ("UTC", "Europe/Paris", "Asia/Kathmandu", "America/St_Johns")
SCOPES = (("overall", ""), ("runtime", "claude"), ("runtime", "codex"), ("project", "prj_a"))


def book(store: Store, at: datetime, micros: int, **fields: Any) -> None:
    fields.setdefault("runtime", "claude")
    with store.write() as session:
        ledger_repo.insert(session, ledger_repo.NewLedgerEntry(at=at, cost_micros=micros, **fields))


def general(store: Store, query: LimitQuery) -> LimitSums:
    """The same numbers the long way: the ledger's sums and the window's own state."""
    with store.read() as session:
        [spend] = ledger_repo.spend(
            session, [ledger_repo.SpendQuery(query.scope, query.ref, query.since)]
        )
        state = budget_repo.window(session, query.scope, query.ref, query.period, query.window_key)
    return LimitSums(spend.total, spend.reserved, state.allowance_micros)


def queries_at(zone: ZoneInfo) -> list[LimitQuery]:
    found: list[LimitQuery] = []
    for period in PERIODS:
        window = window_for(period, NOW, zone)
        found += [LimitQuery(s, r, period, window.key, window.start) for s, r in SCOPES]
    return found


def a_month_of_spend(store: Store) -> None:
    start = datetime(2026, 11, 29, tzinfo=UTC)
    for n in range(60):
        runtime = "codex" if n % 4 == 0 else "claude"
        book(store, start + timedelta(minutes=421 * n), 1_000 + n, runtime=runtime)
    book(store, NOW, 3_000, project_id="prj_a")
    # Running work holds reservations: in and out of the project, today and last month.
    book(store, NOW, 2_000_000, run_id="run_a", project_id="prj_a", status="reserved")
    book(store, NOW - timedelta(hours=3), 500_000, run_id="run_b", status="reserved")
    book(store, datetime(2026, 11, 30, 23, tzinfo=UTC), 700_000, run_id="run_c", status="reserved")
    book(store, NOW, 900_000, runtime="codex", run_id="run_d", status="reserved")
    # Never counted: a simulated reservation, an imported call, a released reservation.
    book(store, NOW, 10**9, run_id="run_s", status="reserved", simulated=True)
    book(store, NOW, 10**9, source="import:claude-code")
    book(store, NOW, 0, run_id="run_e", status="released")


def test_one_statement_reads_what_the_general_sums_and_the_window_state_say(store: Store) -> None:
    a_month_of_spend(store)
    with store.write() as session:
        budget_repo.add_allowance(session, "overall", "", "daily", "2026-12-15", 1_500_000)
        budget_repo.add_allowance(session, "project", "prj_a", "monthly", "2026-12", 4_000_000)
    for zone in map(ZoneInfo, ZONES):
        queries = queries_at(zone)
        with store.read() as session:
            fast = limit_sums(session, queries)
        assert fast == [general(store, query) for query in queries], zone


def test_the_numbers_a_person_sees_in_utc(store: Store) -> None:
    a_month_of_spend(store)
    with store.write() as session:
        budget_repo.add_allowance(session, "overall", "", "daily", "2026-12-15", 1_500_000)
    daily = window_for("daily", NOW, UTC)
    overall = LimitQuery("overall", "", "daily", daily.key, daily.start)
    project = LimitQuery("project", "prj_a", "daily", daily.key, daily.start)
    codex = LimitQuery("runtime", "codex", "daily", daily.key, daily.start)
    with store.read() as session:
        sums = limit_sums(session, [overall, project, codex])
    assert sums is not None
    held_today = 2_000_000 + 500_000 + 900_000
    assert sums[0].reserved == held_today and sums[0].allowance == 1_500_000
    assert sums[1] == LimitSums(3_000 + 2_000_000, 2_000_000, 0)
    assert sums[2].reserved == 900_000 and sums[2].spent >= 900_000


def test_a_window_in_another_time_zone_counts_the_reservation_made_before_utc_midnight(
    store: Store,
) -> None:
    book(store, datetime(2026, 12, 14, 23, 30, tzinfo=UTC), 600_000, run_id="r", status="reserved")
    paris = window_for("daily", NOW, ZoneInfo("Europe/Paris"))  # began 23:00 UTC the day before
    utc = window_for("daily", NOW, UTC)
    with store.read() as session:
        sums = limit_sums(
            session,
            [
                LimitQuery("overall", "", "daily", paris.key, paris.start),
                LimitQuery("overall", "", "daily", utc.key, utc.start),
            ],
        )
    assert sums == [LimitSums(600_000, 600_000, 0), LimitSums(0, 0, 0)]


def test_a_window_off_the_quarter_hour_is_left_to_the_row_sums(store: Store) -> None:
    since = NOW - timedelta(minutes=7)
    with store.read() as session:
        on_hour = LimitQuery("overall", "", "daily", "2026-12-15", NOW.replace(minute=0))
        off = LimitQuery("overall", "", "daily", "2026-12-15", since)
        assert limit_sums(session, [on_hour, off]) is None
        assert limit_sums(session, []) == []


def test_rows_this_transaction_wrote_are_counted(store: Store) -> None:
    daily = window_for("daily", NOW, UTC)
    query = LimitQuery("runtime", "claude", "daily", daily.key, daily.start)
    with store.write() as session:
        ledger_repo.insert(
            session, ledger_repo.NewLedgerEntry(runtime="claude", at=NOW, cost_micros=42)
        )
        budget_repo.add_allowance(session, "runtime", "claude", "daily", daily.key, 7)
        assert limit_sums(session, [query]) == [LimitSums(42, 0, 7)]


def test_the_admission_statement_says_whether_the_run_holds_a_reservation(store: Store) -> None:
    book(store, NOW, 500_000, run_id="run_again", status="reserved")
    book(store, NOW, 0, run_id="run_done", status="released")
    daily = window_for("daily", NOW, UTC)
    query = LimitQuery("overall", "", "daily", daily.key, daily.start)
    with store.write() as session:
        holds = {
            run: admission_sums(session, [query], run_id=run)
            for run in ("run_again", "run_done", "run_new")
        }
        assert {run: found.run_holds for run, found in holds.items() if found} == {
            "run_again": 1,
            "run_done": 0,
            "run_new": 0,
        }
        ledger_repo.release_reservations(session, "run_again", note="superseded")
        again = admission_sums(session, [query], run_id="run_again")
        assert again is not None and again.run_holds == 0
        assert again.limits == [LimitSums(0, 0, 0)]


def test_the_admission_statement_reads_the_policy_fingerprint(store: Store) -> None:
    daily = window_for("daily", NOW, UTC)
    query = LimitQuery("runtime", "claude", "daily", daily.key, daily.start)

    def fingerprints() -> tuple[str | None, str]:
        with store.read() as session:
            found = admission_sums(session, [query], policy=True)
            assert found is not None
            return found.policy, budget_repo.fingerprint(session)

    empty, alone = fingerprints()
    assert empty == alone == ""
    with store.write() as session:
        budget_repo.upsert(session, "overall", "", {"daily_cap_micros": 5})
    first, alone = fingerprints()
    assert first == alone and first != empty
    with store.write() as session:
        budget_repo.upsert(session, "overall", "", {"warn_at": 0.5})
    second, _ = fingerprints()
    assert second not in (first, empty)


def test_caps_sharing_a_reference_or_a_window_read_the_same_sums_as_alone(store: Store) -> None:
    a_month_of_spend(store)
    queries = queries_at(ZoneInfo("Asia/Kathmandu"))
    with store.read() as session:
        together = limit_sums(session, queries)
        alone = [limit_sums(session, [query]) for query in queries]
    assert together is not None and [[sums] for sums in together] == alone


def test_the_largest_admission_statement_stays_in_psycopgs_statement_cache() -> None:
    # psycopg parses the placeholders of a statement over 4 KB on every execution (~1 ms CPU).
    refs = {"overall": None, "runtime": 0, "project": 1}
    slots = tuple(
        _Slot(scope, ref, window, period)
        for scope, ref in refs.items()
        for window, period in enumerate(PERIODS)
    )
    statement = _admission_statement("postgresql", slots, True, True)
    assert len(str(statement.compile(dialect=postgresql.dialect()))) < 4096
