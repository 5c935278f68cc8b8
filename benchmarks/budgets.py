"""Budget guardrail benchmarks: ``python -m benchmarks.budgets [--quick] [--sqlite-only]``.

Prints numbers; asserts nothing. Measured on the real store (SQLite WAL file in a temp dir, and
PostgreSQL on 127.0.0.1:5432 in a throwaway database):

Ledger rows are bulk-inserted, then analysed (``ANALYZE``; ``VACUUM ANALYZE`` on PostgreSQL), the
state autovacuum keeps a live database in.

- pre-flight check latency, p50 / p99: `BudgetService.admit` for a task under an overall, a
  runtime and a project budget (daily and monthly caps: six limits), which reads the policy,
  sums the window's spend per scope from the running totals (``spend_totals``), checks warnings
  and writes the reservation row; with N ledger rows in the current month (1k and 1M; 100k with
  ``--quick``). Beside it, the peer: the same six sums over the ledger's rows (the way admission
  summed before running totals), whose cost grows with the ledger;
- recording one ledger row, p50 / p99: `BudgetService.record_usage` (price it, insert the row,
  shrink the run's reservation, re-check the threshold warnings), with and without budgets.

Beside the admission, two floors measured in the same run on the same store: a bare write
transaction (``SELECT 1`` and ``COMMIT``) and one that inserts one ledger row and commits (what
any reservation costs at least). Wall figures on a shared machine mostly measure the others'
load: read the CPU ones first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, text

from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.governance import budgets_state
from stagent.governance.budgets_config import BudgetChange
from stagent.governance.budgets_policy import CallScope
from stagent.governance.budgets_windows import PERIODS, window_for
from stagent.store import ledger as ledger_repo
from stagent.store.database import Store
from stagent.store.engine import WRITE_OPTION
from stagent.store.hot import HotConnection, HotPool, SqliteHotConnection
from stagent.workspace import Workspace

Factory = Callable[[], AbstractContextManager[Workspace]]


_COLUMNS = (
    "id, task_id, project_id, activity, runtime, provider, model, input_tokens, output_tokens,"
    " cache_write_5m_tokens, cache_write_1h_tokens, cache_read_tokens, reasoning_tokens,"
    " cost_micros, cost_source, status, started_at, finished_at, source, simulated"
)
_VALUES = (
    "'use_bench_' || CAST(i AS VARCHAR), CASE WHEN i % 10 = 0 THEN :task END,"
    " CASE WHEN i % 3 = 0 THEN :project END, 'task_run',"
    " CASE i % 4 WHEN 0 THEN 'claude' WHEN 1 THEN 'codex' WHEN 2 THEN 'anthropic'"
    " ELSE 'scripted' END, 'anthropic', 'claude-sonnet-4-5', 1000, 200, 0, 0, 5000, 0, 7,"
    " 'computed', 'completed', {at}, {at}, 'run', {false}"
)
_FILL = {
    # One statement each (the triggers keeping spend_totals run per row, as for real writes).
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :rows)"
    f" INSERT INTO usage_ledger ({_COLUMNS}) SELECT "
    + _VALUES.format(at="datetime(:start + :span * i / :rows, 'unixepoch') || '.000000'", false="0")
    + " FROM n",
    "postgresql": f"INSERT INTO usage_ledger ({_COLUMNS}) SELECT "
    + _VALUES.format(at="to_timestamp(:start + :span * i / :rows)", false="false")
    + " FROM generate_series(0, :rows - 1) AS n(i)",
}


def fill_ledger(ws: Workspace, rows: int, project_id: str, task_id: str) -> None:
    """``rows`` usage rows spread over this month so far, across runtimes and projects: one
    bulk ``INSERT ... SELECT`` (a generated series), not one statement per row."""
    now = datetime.now(UTC)
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    span = max((now - start).total_seconds(), 3600.0) - 60
    dialect = "sqlite" if ws.store.is_sqlite else "postgresql"
    params = {
        "rows": rows,
        "start": int(start.timestamp()),
        "span": float(span),
        "task": task_id,
        "project": project_id,
    }
    with ws.store.write() as session:
        session.execute(text(_FILL[dialect]), params)
    # Steady state: the planner's statistics (and PostgreSQL's visibility map, which index-only
    # scans need) are what autovacuum / a periodic ANALYZE keep them at in a real workspace.
    statement = "ANALYZE" if ws.store.is_sqlite else "VACUUM ANALYZE usage_ledger"
    with ws.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(statement))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered), p99


class WriteHold:
    """How long admissions hold the write lock (SQLite's, or on PostgreSQL the admission lock):
    from the write transaction's BEGIN to its connection going back to the pool, after the
    commit (an upper bound). The common admission runs straight on a driver connection
    (`stagent.store.hot_admission`, no SQLAlchemy): from its checkout to its checkin. Only
    while ``active``."""

    def __init__(self, ws: Workspace) -> None:
        self.samples: list[float] = []
        self.active = False
        self._began: float | None = None
        self._engine = ws.store.engine
        event.listen(self._engine, "begin", self._begin)
        event.listen(self._engine.pool, "checkin", self._checkin)
        self._hot_methods = (HotPool.checkout, HotPool.checkin)
        checkout, checkin = self._hot_methods

        def timed_checkout(pool: HotPool, secrets: tuple[str, ...]) -> HotConnection:
            if self.active:
                self._began = time.perf_counter()
            return checkout(pool, secrets)

        def timed_checkin(pool: HotPool, hot: HotConnection) -> None:
            checkin(pool, hot)
            self._checkin()

        HotPool.checkout = timed_checkout
        HotPool.checkin = timed_checkin
        self._sqlite_hot = Store.sqlite_hot_connection
        sqlite_hot = self._sqlite_hot

        @contextmanager
        def timed_sqlite_hot(store: Store) -> Iterator[SqliteHotConnection]:
            if self.active:  # until the pool's checkin (`_checkin`), after the COMMIT
                self._began = time.perf_counter()
            with sqlite_hot(store) as hot:
                yield hot

        Store.sqlite_hot_connection = timed_sqlite_hot

    def _begin(self, conn: Any) -> None:
        if self.active and conn.get_execution_options().get(WRITE_OPTION):
            self._began = time.perf_counter()

    def _checkin(self, *_: Any) -> None:
        if self._began is not None:
            self.samples.append((time.perf_counter() - self._began) * 1000)
            self._began = None

    def close(self) -> None:
        event.remove(self._engine, "begin", self._begin)
        event.remove(self._engine.pool, "checkin", self._checkin)
        HotPool.checkout, HotPool.checkin = self._hot_methods
        Store.sqlite_hot_connection = self._sqlite_hot


def preflight(
    ws: Workspace,
    call: CallScope,
    checks: int,
    cpu: list[float] | None = None,
    hold: WriteHold | None = None,
) -> list[float]:
    """Wall milliseconds per admission (and, into ``cpu``, CPU milliseconds per admission: on
    a shared machine the wall time mostly measures the others' load; into ``hold``, how long
    each held the write lock)."""
    samples: list[float] = []
    for _ in range(checks):
        started = time.perf_counter()
        cpu_started = time.process_time()
        if hold is not None:
            hold.active = True
        admission = ws.budgets.admit(call)
        if hold is not None:
            hold.active = False
        samples.append((time.perf_counter() - started) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - cpu_started) * 1000)
        if not admission.allowed:
            raise SystemExit(f"benchmark admission refused: {admission.message}")
        with ws.store.write() as session:  # what ending the run does to its reservation
            ledger_repo.release_reservations(session, call.run_id or "", note="benchmark")
    return samples


def floors(ws: Workspace, checks: int) -> dict[str, tuple[float, float]]:
    """The floors: (wall p50, CPU p50) in milliseconds of a bare write transaction, and of one
    that inserts one ledger row (a released reservation, which no budget counts)."""

    def bare() -> None:
        with ws.store.write() as session:
            session.execute(text("SELECT 1"))

    def one_row() -> None:
        with ws.store.write() as session:
            ledger_repo.insert(
                session,
                ledger_repo.NewLedgerEntry(runtime="scripted", status=ledger_repo.RELEASED),
            )

    found: dict[str, tuple[float, float]] = {}
    for name, work in (("bare", bare), ("one row", one_row)):
        wall: list[float] = []
        cpu: list[float] = []
        for _ in range(checks):
            started, cpu_started = time.perf_counter(), time.process_time()
            work()
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        found[name] = (statistics.median(wall), statistics.median(cpu))
    return found


def row_sums(ws: Workspace, call: CallScope, checks: int) -> list[float]:
    """The peer: the six window sums over ledger rows (a window start one second off the
    quarter hour makes `ledger.spend` sum rows instead of reading the totals)."""
    zone = ws.budgets.zone
    now = datetime.now(UTC)
    with ws.store.read() as session:
        policies = [p for p in budgets_state.read_policies(session) if call.covers(p)]
    queries = [
        ledger_repo.SpendQuery(
            policy.scope, policy.ref, window_for(period, now, zone).start + timedelta(seconds=1)
        )
        for policy in policies
        for period in PERIODS
    ]
    samples: list[float] = []
    for _ in range(checks):
        started = time.perf_counter()
        with ws.store.read() as session:
            ledger_repo.spend(session, queries)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def recording(ws: Workspace, task_id: str, records: int) -> list[float]:
    task = ws.tasks.get(task_id)
    usage = UsageEvent(
        model="claude-sonnet-4-5", input_tokens=1200, output_tokens=300, cache_read_tokens=9000
    )
    samples: list[float] = []
    for _ in range(records):
        started = time.perf_counter()
        ws.budgets.record_usage(task, usage)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def measure(label: str, factory: Factory, sizes: tuple[int, ...], checks: int) -> None:
    for size in sizes:
        with factory() as ws:
            project = ws.projects.create("bench")
            task = ws.tasks.create(TaskDraft(title="bench", project=project.id))
            bare = recording(ws, task.id, checks)
            fill_ledger(ws, size, project.id, task.id)
            for change in (
                BudgetChange(daily=10**12, monthly=10**13),
                BudgetChange(scope="runtime", ref="scripted", daily=10**12, monthly=10**13),
                BudgetChange(scope="project", ref=project.id, daily=10**12, monthly=10**13),
            ):
                ws.budgets.set(change)
            call = CallScope(
                runtime="scripted", project_id=project.id, task_id=task.id, run_id="run_bench"
            )
            preflight(ws, call, 5)  # warm up
            cpu: list[float] = []
            hold = WriteHold(ws)
            p50, p99 = percentiles(preflight(ws, call, checks, cpu, hold))
            hold.close()
            c50, _ = percentiles(cpu)
            h50, h99 = percentiles(hold.samples)
            s50, _ = percentiles(row_sums(ws, call, max(5, checks // 10)))
            floor = floors(ws, checks)
            print(
                f"{label:10} pre-flight check, {size:>9,} ledger rows, 6 limits: "
                f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  CPU p50 {c50:5.2f} ms ({checks} checks);"
                f" peer, the six sums over ledger rows: p50 {s50:8.2f} ms"
            )
            print(
                f"{label:10}   write lock held per admission (BEGIN to the connection's return"
                f" after COMMIT): p50 {h50:5.2f} ms  p99 {h99:5.2f} ms"
                f"  max {max(hold.samples):5.2f} ms"
            )
            print(
                f"{label:10}   floors (p50 wall / CPU): bare write transaction"
                f" {floor['bare'][0]:5.2f} / {floor['bare'][1]:5.2f} ms; one ledger row"
                f" {floor['one row'][0]:5.2f} / {floor['one row'][1]:5.2f} ms;"
                f" load {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
            )
            r50, r99 = percentiles(recording(ws, task.id, checks))
            b50, b99 = percentiles(bare)
            print(
                f"{label:10} record one ledger row, {size:>7,} rows: with budgets p50 {r50:5.2f} ms"
                f" p99 {r99:5.2f} ms; without budgets p50 {b50:5.2f} ms p99 {b99:5.2f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1k and 100k rows, fewer checks")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    sizes, checks = ((1_000, 100_000), 50) if args.quick else ((1_000, 1_000_000), 200)
    measure("sqlite", sqlite_workspace, sizes, checks)
    if not args.sqlite_only:
        measure("postgresql", pg_workspace, sizes, checks)


if __name__ == "__main__":
    main()
