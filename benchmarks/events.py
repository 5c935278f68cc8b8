"""Persisting a running agent's events: ``python -m benchmarks.events [--quick] [--sqlite-only]``.

One run writes events one commit each through `RunWriter.record` (the executor's hot path: the
attempt fence and the insert in one statement). Printed: the median cost of one event while the
run already holds about 100, 1,000 and 10,000 events (the cost must not grow with the run), beside
the floor measured in the same run -- a bare one-row ``INSERT`` + ``COMMIT`` on the same kind of
database (sqlite3 in WAL mode with synchronous=NORMAL; psycopg on PostgreSQL).
"""

from __future__ import annotations

import argparse
import contextlib
import sqlite3
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import psycopg
from sqlalchemy.engine import make_url

from benchmarks._workspaces import pg_workspace, sqlite_workspace
from benchmarks.writers import claimed_runs
from stagent.domain.events import TextEvent
from stagent.engine.executor import RunWriter
from stagent.store import runs as run_repo
from stagent.workspace import Workspace

WINDOW = 100


def floor_ms(ws: Workspace, count: int) -> float:
    """Median ms of a bare one-row insert + commit on the workspace's kind of database."""
    parsed = make_url(ws.store.url)
    costs: list[float] = []
    if parsed.get_backend_name() == "sqlite":
        with contextlib.closing(
            sqlite3.connect(parsed.database or "", isolation_level=None)
        ) as conn:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE floor_events (id INTEGER PRIMARY KEY, payload TEXT)")
            for i in range(count):
                started = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO floor_events (payload) VALUES (?)", (f"e{i}",))
                conn.execute("COMMIT")
                costs.append(time.perf_counter() - started)
        return statistics.median(costs) * 1000
    url = parsed.set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE floor_events (id BIGSERIAL PRIMARY KEY, payload TEXT)")
        conn.commit()
        for i in range(count):
            started = time.perf_counter()
            conn.execute("INSERT INTO floor_events (payload) VALUES (%s)", (f"e{i}",))
            conn.commit()
            costs.append(time.perf_counter() - started)
    return statistics.median(costs) * 1000


def event_costs(ws: Workspace, marks: list[int]) -> dict[int, float]:
    """Write events to one run; the median ms per event in a window ending at each mark."""
    (run_id,) = claimed_runs(ws, 1)
    with ws.store.read() as session:
        run = run_repo.get(session, run_id)
    writer = RunWriter(ws.store, run.task_id or "", run)
    costs: list[float] = []
    for i in range(max(marks)):
        event = TextEvent(text=f"chunk {i} of a streamed answer")
        started = time.perf_counter()
        if not writer.record(event):
            raise SystemExit("the benchmark run was lost")
        costs.append(time.perf_counter() - started)
    return {mark: statistics.median(costs[mark - WINDOW : mark]) * 1000 for mark in marks}


def measure(label: str, factory: Callable[[], AbstractContextManager[Workspace]], top: int) -> None:
    marks = [m for m in (100, 1_000, 10_000) if m <= top]
    with factory() as ws:
        floor = floor_ms(ws, 500)
        costs = event_costs(ws, marks)
    shown = ", ".join(f"at {mark:>6,}: {cost:6.3f} ms" for mark, cost in costs.items())
    print(
        f"{label:10} one event persisted (median of {WINDOW}) {shown}; "
        f"floor, bare insert+commit: {floor:6.3f} ms",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="up to 1,000 events, not 10,000")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    top = 1_000 if args.quick else 10_000
    measure("sqlite", sqlite_workspace, top)
    if not args.sqlite_only:
        measure("postgresql", pg_workspace, min(top, 2_000))


if __name__ == "__main__":
    main()
