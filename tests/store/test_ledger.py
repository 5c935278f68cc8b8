"""The usage ledger as the store keeps it: one row per provider call, booked once per dedupe key;
window sums that budgets read agree with the rows however they were written; imports remember how
far each file was read; summaries group what a person filters by. On SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError
from storetools import claimed_run, import_row, new_task

from stagent.domain.runs import RunStatus
from stagent.store import ledger as ledger_repo
from stagent.store import ledger_imports as imports
from stagent.store import ledger_metrics as metrics
from stagent.store import lifecycle
from stagent.store import projects as project_repo
from stagent.store.database import Store
from stagent.store.ledger import LedgerFilter, NewLedgerEntry, SpendQuery
from stagent.store.ledger_imports import ImportedRow

NOW = datetime.now(UTC).replace(microsecond=0)


def book(store: Store, **fields: object) -> ledger_repo.LedgerEntry:
    fields.setdefault("runtime", "claude")
    with store.write() as session:
        return ledger_repo.insert(session, NewLedgerEntry(**fields))  # type: ignore[arg-type]


def rows(store: Store, where: LedgerFilter | None = None) -> list[ledger_repo.LedgerEntry]:
    with store.read() as session:
        return ledger_repo.list_entries(session, where or LedgerFilter(), limit=None)


def spent(store: Store, *queries: SpendQuery, unpriced: bool = False) -> list[ledger_repo.Spend]:
    with store.read() as session:
        return ledger_repo.spend(session, list(queries), count_unpriced=unpriced)


def day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


# ------------------------------------------------------------------------------- rows


def test_a_call_row_keeps_every_token_category_and_its_cost(store: Store) -> None:
    task_id = new_task(store)
    entry = book(
        store,
        task_id=task_id,
        provider="anthropic",
        model="claude-sonnet-4",
        input_tokens=1200,
        output_tokens=340,
        cache_write_5m_tokens=10,
        cache_write_1h_tokens=20,
        cache_read_tokens=5000,
        reasoning_tokens=7,
        cost_micros=12_345,
        pricing_version="2026-01",
        note="priced at the long-context tier",
        raw={"usage": {"input_tokens": 1200}},
        dedupe_key="request:msg_1",
    )
    [loaded] = rows(store)
    assert loaded == entry
    assert (loaded.input_tokens, loaded.output_tokens, loaded.cache_read_tokens) == (
        1200,
        340,
        5000,
    )
    assert (loaded.cache_write_5m_tokens, loaded.cache_write_1h_tokens) == (10, 20)
    assert loaded.reasoning_tokens == 7 and loaded.cost_micros == 12_345
    assert loaded.task_id == task_id and loaded.model == "claude-sonnet-4"
    assert loaded.status == "completed" and loaded.source == "run" and not loaded.simulated


def test_a_call_reported_twice_is_booked_once(store: Store) -> None:
    with store.write() as session:
        first, new = ledger_repo.insert_once(
            session, NewLedgerEntry(runtime="codex", cost_micros=10, dedupe_key="request:a")
        )
        again, second_new = ledger_repo.insert_once(
            session, NewLedgerEntry(runtime="codex", cost_micros=99, dedupe_key="request:a")
        )
    assert new and not second_new and again.id == first.id and again.cost_micros == 10
    with store.write() as session:  # rows without a key are never deduplicated
        ledger_repo.insert_once(session, NewLedgerEntry(runtime="codex", cost_micros=1))
        ledger_repo.insert_once(session, NewLedgerEntry(runtime="codex", cost_micros=1))
    assert len(rows(store)) == 3


def test_the_database_itself_refuses_a_second_row_with_the_same_key(store: Store) -> None:
    book(store, dedupe_key="request:x", cost_micros=5)
    with pytest.raises(IntegrityError):
        book(store, dedupe_key="request:x", cost_micros=6)
    assert [r.cost_micros for r in rows(store)] == [5]


def test_list_filters_by_every_field_a_person_filters_by(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="p")
    task_id = new_task(store)
    book(store, runtime="claude", model="opus", task_id=task_id, at=NOW - timedelta(hours=2))
    book(store, runtime="codex", model="gpt-5", project_id=project.id, at=NOW - timedelta(hours=1))
    book(store, runtime="claude", model="opus", status="failed", cost_source="unpriced", at=NOW)
    book(store, runtime="claude", source="import:claude-code", simulated=True, at=NOW)

    def ids(**where: object) -> int:
        return len(rows(store, LedgerFilter(**where)))  # type: ignore[arg-type]

    assert ids() == 4
    assert ids(runtime="claude") == 3 and ids(model="opus") == 2
    assert ids(task_id=task_id) == 1 and ids(project_id=project.id) == 1
    assert ids(status="failed") == 1 and ids(cost_source="unpriced") == 1
    assert ids(source="import:claude-code") == 1 and ids(simulated=True) == 1
    assert ids(simulated=False) == 3
    assert ids(since=NOW - timedelta(minutes=90)) == 3
    assert ids(until=NOW - timedelta(minutes=90)) == 1
    assert ids(since=NOW - timedelta(hours=3), until=NOW) == 2  # until is exclusive


def test_rows_list_newest_first_or_oldest_first_and_respect_the_limit(store: Store) -> None:
    for minutes in (30, 10, 20):
        book(store, cost_micros=minutes, at=NOW - timedelta(minutes=minutes))
    with store.read() as session:
        newest = ledger_repo.list_entries(session, LedgerFilter())
        oldest = ledger_repo.list_entries(session, LedgerFilter(), oldest_first=True, limit=2)
    assert [r.cost_micros for r in newest] == [10, 20, 30]
    assert [r.cost_micros for r in oldest] == [30, 20]


def test_a_blocked_call_says_why(store: Store) -> None:
    claim = claimed_run(store)
    with store.read() as session:
        assert ledger_repo.blocked_note(session, claim.run.id) is None
    book(store, run_id=claim.run.id, status="blocked", note="the daily cap of $5 is reached")
    book(store, run_id="run_other", status="blocked", note=None)
    with store.read() as session:
        assert ledger_repo.blocked_note(session, claim.run.id) == "the daily cap of $5 is reached"
        assert ledger_repo.blocked_note(session, "run_other") == "blocked by a budget cap"


def test_usage_shrinks_a_reservation_but_never_below_zero(store: Store) -> None:
    claim = claimed_run(store)
    book(store, run_id=claim.run.id, status="reserved", cost_source="estimate", cost_micros=1000)
    with store.write() as session:
        ledger_repo.consume_reservation(session, claim.run.id, 300)
        ledger_repo.consume_reservation(session, claim.run.id, 0)  # nothing to consume
    assert [r.cost_micros for r in rows(store)] == [700]
    with store.write() as session:
        ledger_repo.consume_reservation(session, claim.run.id, 5000)
    assert [(r.status, r.cost_micros) for r in rows(store)] == [("reserved", 0)]
    with store.write() as session:
        assert ledger_repo.release_reservations(session, claim.run.id, note="done") == 1
        assert ledger_repo.release_reservations(session, claim.run.id, note="again") == 0
    [released] = rows(store)
    assert (released.status, released.note) == ("released", "done")


def test_a_failed_runs_outcome_marks_only_its_call_rows(store: Store) -> None:
    claim = claimed_run(store)
    book(store, run_id=claim.run.id, cost_micros=1)
    book(store, run_id=claim.run.id, status="blocked")
    book(store, run_id=claim.run.id, status="reserved", cost_micros=9)
    book(store, run_id="run_else", cost_micros=2)
    with store.write() as session:
        ledger_repo.mark_run_outcome(session, claim.run.id, "failed")
    assert sorted((r.run_id == claim.run.id, r.status) for r in rows(store)) == [
        (False, "completed"),
        (True, "blocked"),
        (True, "failed"),
        (True, "reserved"),
    ]


def test_repricing_visits_rows_in_batches_and_updates_their_costs(store: Store) -> None:
    for i in range(5):
        book(store, cost_micros=i, cost_source="computed", pricing_version="v1")
    book(store, cost_micros=50, cost_source="reported")  # a provider's own figure: kept
    book(store, cost_micros=0, cost_source="unpriced")
    book(store, cost_micros=7, cost_source="computed", pricing_version="v2")
    with store.read() as session:
        stale = list(ledger_repo.priceable_batches(session, "v2", everything=False, batch=2))
        every = list(ledger_repo.priceable_batches(session, "v2", everything=True, batch=100))
    assert [len(b) for b in stale] == [2, 2, 2]
    assert len(every) == 1 and len(every[0]) == 7
    ids = [r.id for batch in stale for r in batch]
    assert ids == sorted(ids) and len(set(ids)) == 6
    changes = [
        {
            "id": r.id,
            "cost_micros": 1000,
            "cost_source": "computed",
            "pricing_version": "v2",
            "note": None,
        }
        for batch in stale
        for r in batch
    ]
    with store.write() as session:
        ledger_repo.update_costs(session, changes)
        ledger_repo.update_costs(session, [])
    with store.read() as session:
        assert list(ledger_repo.priceable_batches(session, "v2", everything=False)) == []
    assert sorted(r.cost_micros for r in rows(store)) == [7, 50, *([1000] * 6)]


# ------------------------------------------------------------------------------- window sums


def truth(store: Store, query: SpendQuery) -> tuple[int, int]:
    """What the window holds, summed from the rows: (total, reserved)."""
    total = reserved = 0
    for r in rows(store, LedgerFilter(source="run", simulated=False, since=query.since)):
        if query.scope == "runtime" and r.runtime != query.ref:
            continue
        if query.scope == "project" and r.project_id != query.ref:
            continue
        total += r.cost_micros
        reserved += r.cost_micros if r.status == "reserved" else 0
    return total, reserved


def test_window_sums_agree_with_the_rows_through_a_mix_of_writes(store: Store) -> None:
    """Random calls over three days, reservations consumed and released, a run that failed, a
    repricing: every window (aligned, read from the running totals; unaligned, summed from
    rows) equals the sum of its rows."""
    with store.write() as session:
        project = project_repo.create(session, name="p")
    claim = claimed_run(store)
    chance = random.Random(7)
    for _ in range(40):
        book(
            store,
            runtime=chance.choice(["claude", "codex"]),
            project_id=chance.choice([project.id, None]),
            cost_micros=chance.randint(0, 5000),
            at=NOW - timedelta(minutes=chance.randint(0, 3 * 24 * 60)),
            simulated=chance.random() < 0.2,
            source=chance.choice(["run", "run", "import:codex"]),
            run_id=claim.run.id if chance.random() < 0.3 else None,
            cost_source="computed",
        )
    book(store, run_id=claim.run.id, status="reserved", cost_source="estimate", cost_micros=9000)
    with store.write() as session:
        ledger_repo.consume_reservation(session, claim.run.id, 2500)
    with store.read() as session:
        some = next(iter(ledger_repo.priceable_batches(session, "v9", everything=True, batch=5)))
    with store.write() as session:
        ledger_repo.update_costs(
            session,
            [
                {"id": r.id, "cost_micros": r.cost_micros * 2 + 1, "cost_source": "computed"}
                | {"pricing_version": "v9", "note": None}
                for r in some
            ],
        )
    windows = [
        SpendQuery(scope, ref, since)
        for scope, ref in (("overall", ""), ("runtime", "claude"), ("project", project.id))
        for since in (
            day_start(NOW),
            day_start(NOW) - timedelta(days=1),
            NOW.replace(minute=NOW.minute - NOW.minute % 15, second=0),  # a quarter hour
            NOW - timedelta(hours=30, minutes=7, seconds=3),  # off the quarter hour
        )
    ]
    for stage in ("booked", "ended"):
        answers = spent(store, *windows)
        slow = spent(store, *windows, unpriced=True)  # the row-scan path
        for query, answer, other in zip(windows, answers, slow, strict=True):
            expected = truth(store, query)
            assert (answer.total, answer.reserved) == expected, (stage, query)
            assert (other.total, other.reserved) == expected, (stage, query)
        if stage == "booked":
            with store.write() as session:
                lifecycle.finish(session, claim.run.id, RunStatus.FAILED, attempt=1, error="x")


def test_simulated_and_imported_calls_never_count_toward_a_budget(store: Store) -> None:
    book(store, cost_micros=100, at=NOW)
    book(store, cost_micros=1000, simulated=True, at=NOW)
    book(store, cost_micros=10_000, source="import:claude-code", at=NOW)
    [answer] = spent(store, SpendQuery("overall", "", day_start(NOW)))
    assert answer.total == 100 and answer.reserved == 0


def test_unpriced_calls_are_counted_when_asked(store: Store) -> None:
    book(store, cost_micros=0, cost_source="unpriced", model="mystery", at=NOW)
    book(store, cost_micros=0, cost_source="unpriced", model="mystery", at=NOW)
    book(store, cost_micros=10, at=NOW)
    [answer] = spent(store, SpendQuery("runtime", "claude", day_start(NOW)), unpriced=True)
    assert (answer.total, answer.unpriced) == (10, 2)
    assert spent(store) == []


def test_a_reservation_counts_as_spend_until_released(store: Store) -> None:
    claim = claimed_run(store)
    book(store, run_id=claim.run.id, status="reserved", cost_source="estimate", cost_micros=4000)
    window = SpendQuery("overall", "", day_start(NOW))
    [held] = spent(store, window)
    assert (held.total, held.reserved) == (4000, 4000)
    with store.write() as session:
        lifecycle.finish(session, claim.run.id, RunStatus.COMPLETED, attempt=1)
    [after] = spent(store, window)
    assert (after.total, after.reserved) == (0, 0)


def test_an_old_call_falls_out_of_todays_window(store: Store) -> None:
    book(store, cost_micros=5, at=day_start(NOW) - timedelta(seconds=1))
    book(store, cost_micros=7, at=day_start(NOW))
    today, two_days = spent(
        store,
        SpendQuery("overall", "", day_start(NOW)),
        SpendQuery("overall", "", day_start(NOW) - timedelta(days=1)),
    )
    assert today.total == 7 and two_days.total == 12


# ------------------------------------------------------------------------------- imports


def imported(key: str, tokens: int, **fields: object) -> ImportedRow:
    return import_row(
        NewLedgerEntry(
            runtime="claude",
            source="import:claude-code",
            dedupe_key=key,
            input_tokens=tokens,
            output_tokens=1,
            cost_micros=tokens,
            session_id="sess-1",
            **fields,  # type: ignore[arg-type]
        )
    )


def test_importing_books_new_calls_and_skips_ones_already_booked(store: Store) -> None:
    with store.write() as session:
        first = imports.book_calls(session, [imported("c:1", 10), imported("c:2", 20)])
    with store.write() as session:
        again = imports.book_calls(session, [imported("c:1", 10), imported("c:3", 30)])
    assert first == imports.Booked(added=2) and again == imports.Booked(added=1, duplicates=1)
    assert sorted(r.dedupe_key or "" for r in rows(store)) == ["c:1", "c:2", "c:3"]
    [row] = rows(store, LedgerFilter(source="import:claude-code", task_id=None))[:1]
    assert row.session_id == "sess-1"


def test_a_fuller_copy_of_a_call_replaces_the_placeholder(store: Store) -> None:
    with store.write() as session:
        imports.book_calls(session, [imported("c:stream", 5)])
    with store.write() as session:
        booked = imports.book_calls(session, [imported("c:stream", 500, model="opus")])
    with store.write() as session:
        smaller = imports.book_calls(session, [imported("c:stream", 50)])
    assert booked == imports.Booked(replaced=1) and smaller == imports.Booked(duplicates=1)
    [row] = rows(store)
    assert row.input_tokens == 500 and row.model == "opus" and row.cost_micros == 500


def test_a_large_import_is_booked_in_one_call(store: Store) -> None:
    calls = [imported(f"big:{i}", i + 1) for i in range(imports.KEY_BATCH + 20)]
    with store.write() as session:
        assert imports.book_calls(session, calls).added == len(calls)
    with store.write() as session:
        assert imports.book_calls(session, calls).duplicates == len(calls)
    assert len(rows(store)) == len(calls)


def test_batch_ids_are_unique_and_sorted(store: Store) -> None:
    del store
    first, second = imports.batch_ids(300), imports.batch_ids(300)
    assert first == sorted(first) and len(set(first + second)) == 600
    assert all(i.startswith("use_") for i in first)


def test_a_files_read_position_is_remembered_and_moved(store: Store) -> None:
    state = imports.FileState("/logs/a.jsonl", "claude-code", 1024, "abc", 12, {"model": "opus"})
    with store.read() as session:
        assert imports.file_state(session, state.path) is None
    with store.write() as session:
        imports.save_file_state(session, state)
        imports.save_file_state(session, imports.FileState("/logs/b.jsonl", "codex", 5, "h", 1, {}))
    with store.write() as session:
        imports.save_file_state(
            session, imports.FileState(state.path, "claude-code", 4096, "abc", 40, {})
        )
    with store.read() as session:
        moved = imports.file_state(session, state.path)
        claude = imports.file_states(session, "claude-code")
    assert moved is not None and (moved.offset, moved.lines, moved.state) == (4096, 40, {})
    assert list(claude) == [state.path]


def test_project_directories_list_only_projects_that_have_one(store: Store) -> None:
    with store.write() as session:
        a = project_repo.create(session, name="a", working_directory="/src/a")
        project_repo.create(session, name="b")
    with store.read() as session:
        assert imports.project_directories(session) == [(a.id, "/src/a")]


# ------------------------------------------------------------------------------- summaries


def test_a_summary_counts_only_calls_and_splits_real_from_simulated(store: Store) -> None:
    book(store, input_tokens=10, output_tokens=1, cost_micros=100)
    book(store, input_tokens=20, output_tokens=2, cost_micros=200, status="failed")
    book(store, cost_micros=0, cost_source="unpriced", status="cancelled")
    book(store, input_tokens=99, cost_micros=999, simulated=True)
    book(store, cost_micros=5000, status="reserved", cost_source="estimate")  # not a call
    book(store, status="blocked")  # not a call
    with store.read() as session:
        [whole] = metrics.aggregate(session, LedgerFilter())
        real, simulated = metrics.aggregate_split(session, LedgerFilter())
    assert (whole.requests, whole.input_tokens, whole.cost_micros, whole.unpriced) == (
        4,
        129,
        1299,
        1,
    )
    assert (real.requests, real.cost_micros, real.unpriced) == (3, 300, 1)
    assert (simulated.requests, simulated.input_tokens, simulated.cost_micros) == (1, 99, 999)
    assert whole.total_tokens == 129 + 3
    assert real.plus(simulated, key="all").cost_micros == whole.cost_micros


def test_a_summary_groups_by_model_runtime_status_and_hour(store: Store) -> None:
    hour = NOW.replace(minute=5, second=0)
    book(store, model="opus", runtime="claude", cost_micros=1, at=hour)
    book(store, model="opus", runtime="claude", cost_micros=2, at=hour + timedelta(minutes=1))
    book(store, model="gpt-5", runtime="codex", cost_micros=4, at=hour - timedelta(hours=1))
    with store.read() as session:
        by_model = {
            b.key: b.cost_micros for b in metrics.aggregate(session, LedgerFilter(), "model")
        }
        by_hour = {b.key: b.requests for b in metrics.aggregate(session, LedgerFilter(), "hour")}
        by_minute = metrics.aggregate(session, LedgerFilter(runtime="claude"), "minute")
    assert by_model == {"opus": 3, "gpt-5": 4}
    assert by_hour == {
        hour.strftime("%Y-%m-%d %H"): 2,
        (hour - timedelta(hours=1)).strftime("%Y-%m-%d %H"): 1,
    }
    assert sorted(b.key or "" for b in by_minute) == [
        hour.strftime("%Y-%m-%d %H:%M"),
        (hour + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M"),
    ]


def test_estimated_rows_are_counted_only_when_asked(store: Store) -> None:
    book(store, cost_micros=5, note="a fallback price")
    book(store, cost_micros=5)
    with store.read() as session:
        [plain] = metrics.aggregate(session, LedgerFilter())
        [counted] = metrics.aggregate(session, LedgerFilter(), estimated=True)
    assert plain.estimated == 0 and counted.estimated == 1


def test_names_and_titles_for_a_summarys_rows(store: Store) -> None:
    with store.write() as session:
        project = project_repo.create(session, name="site")
    task_id = new_task(store, "deploy")
    with store.read() as session:
        assert metrics.project_names(session) == {project.id: "site"}
        assert metrics.task_titles(session, [task_id, "tsk_x"]) == {task_id: ("deploy", "scripted")}
        assert metrics.task_titles(session, []) == {}
        attribution = metrics.task_attribution(session, [task_id])
    assert attribution[task_id] == metrics.Attribution(profile=None)
