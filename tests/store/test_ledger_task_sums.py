"""The Costs page's per-task sums (``ledger_task_sums``): read from the task index and the noted
rows, they equal the sums over every row of the window, tasks and hand-run calls alike (the
latter under None), estimated calls counted. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from tests.store.test_ledger_task_reads import many_tasks, selects_while

from stagent.store import ledger as ledger_repo
from stagent.store import ledger_metrics as metrics
from stagent.store.database import Store
from stagent.store.ledger import LedgerFilter, NewLedgerEntry
from stagent.store.ledger_task_sums import task_sums

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=3)


def _book(store: Store, first: str, second: str) -> None:
    """Calls of two tasks and hand-run ones, inside and outside a 2-day window: plain,
    estimated, fallback-priced, unpriced, simulated, failed; holds and a block."""
    rows = [
        NewLedgerEntry(runtime="claude", task_id=first, cost_micros=1_000, input_tokens=10),
        NewLedgerEntry(runtime="claude", task_id=first, cost_micros=2_000, output_tokens=7),
        NewLedgerEntry(
            runtime="codex", task_id=first, cost_micros=300, cost_source="estimated",
            note="ESTIMATED: never reported",
        ),
        NewLedgerEntry(runtime="codex", task_id=second, cost_micros=50, status="failed"),
        NewLedgerEntry(
            runtime="codex", task_id=second, cost_source="unpriced", note="UNPRICED: model x"
        ),
        NewLedgerEntry(runtime="claude", task_id=second, cost_micros=9_000, status="reserved",
                       note="holds $0.01"),
        NewLedgerEntry(runtime="claude", task_id=second, status="blocked", note="cap reached"),
        NewLedgerEntry(runtime="scripted", task_id=second, cost_micros=70, simulated=True),
        NewLedgerEntry(
            runtime="claude", source="import:claude-code", cost_micros=4_000, cache_read_tokens=99
        ),
        NewLedgerEntry(
            runtime="claude", source="import:claude-code", cost_micros=600,
            note="no price for cache writes: charged at the input price",
        ),
        NewLedgerEntry(runtime="codex", source="import:codex", cost_micros=80, note="reported",
                       cost_source="reported"),
    ]  # fmt: skip
    with store.write() as session:
        for at in (NOW, NOW - timedelta(days=5)):
            for row in rows:
                ledger_repo.insert(session, replace(row, at=at))


def test_task_sums_equal_every_rows_sums_hand_run_calls_under_none(store: Store) -> None:
    first, second = many_tasks(store, 2)
    _book(store, first, second)
    windows = [
        LedgerFilter(since=NOW - timedelta(days=2), simulated=False),
        LedgerFilter(since=NOW - timedelta(days=9), until=NOW, simulated=False),
        LedgerFilter(simulated=True),
        LedgerFilter(runtime="codex", simulated=False),
    ]
    with store.read() as session:
        for where in windows:
            (total,) = metrics.aggregate(session, where)
            found = task_sums(session, where, total)
            expected = metrics.aggregate(session, where, "task", estimated=True, rows=True)
            assert sorted(found, key=str) == sorted(expected, key=str), where
            assert all(type(getattr(b, "cost_micros")) is int for b in found)  # noqa: B009
        recent = LedgerFilter(since=NOW - timedelta(days=2), simulated=False)
        (total,) = metrics.aggregate(session, recent)
        by_task = {b.key: b for b in task_sums(session, recent, total)}
    assert (by_task[first].requests, by_task[first].cost_micros) == (3, 3_300)
    assert by_task[first].estimated == 1
    assert (by_task[second].requests, by_task[second].unpriced) == (2, 1)
    hand_run = by_task[None]
    assert (hand_run.requests, hand_run.cost_micros, hand_run.estimated) == (3, 4_680, 1)
    assert hand_run.cache_read_tokens == 99


def test_task_sums_of_tasks_alone_leave_out_the_none_bucket(store: Store) -> None:
    (only,) = many_tasks(store, 1)
    with store.write() as session:
        ledger_repo.insert(session, NewLedgerEntry(runtime="claude", task_id=only, cost_micros=5))
    with store.read() as session:
        where = LedgerFilter(simulated=False)
        (total,) = metrics.aggregate(session, where)
        assert [(b.key, b.cost_micros) for b in task_sums(session, where, total)] == [(only, 5)]


def test_the_stacked_chart_reads_each_runtimes_hours_at_once(store: Store) -> None:
    first, second = many_tasks(store, 2)
    _book(store, first, second)
    windows = [
        LedgerFilter(since=NOW - timedelta(days=2, minutes=10), simulated=False),
        LedgerFilter(since=NOW - timedelta(days=9), until=NOW, simulated=False),
        LedgerFilter(since=NOW - timedelta(minutes=5), until=NOW + timedelta(minutes=5)),
        LedgerFilter(project_id="", simulated=False),
    ]
    for where in windows:
        with store.read() as session:
            hours = metrics.runtime_hours(session, where)
            for runtime in ("claude", "codex", "scripted"):
                one = metrics.aggregate(session, replace(where, runtime=runtime), "hour", rows=True)
                expected = sorted((b.key, b.cost_micros) for b in one)
                assert sorted((b.key, b.cost_micros) for b in hours.get(runtime, [])) == expected
    hour = NOW.replace(minute=0)
    whole = LedgerFilter(since=hour - timedelta(days=9), until=hour, simulated=False)
    assert selects_while(store, lambda: _read_hours(store, whole)) == 1  # whole hours: rollup
    edges = LedgerFilter(since=NOW - timedelta(days=9), until=NOW, simulated=False)
    assert selects_while(store, lambda: _read_hours(store, edges)) == 2  # + part hours' rows
    with store.read() as session:
        recent = metrics.runtime_hours(session, windows[0])
    assert sum(b.cost_micros for b in recent["claude"]) == 3_000 + 4_600
    assert "scripted" not in recent


def _read_hours(store: Store, where: LedgerFilter) -> None:
    with store.read() as session:
        metrics.runtime_hours(session, where)
