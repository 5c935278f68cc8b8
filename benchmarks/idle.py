"""Idle cost of a worker: ``python -m benchmarks.idle [--seconds N] [--sqlite-only]``.

Prints numbers; asserts nothing. For a worker that has nothing to do (this process runs it, as
``stagent worker`` does): the CPU milliseconds it spends per minute of wall time, and the SQL
statements and commits per second its threads send (DBOS's queue polls, the lease's heartbeat,
the scheduler's loop); then the latency from queueing a task while the worker idles to the
run's start (the claim), median and worst of 20, each after an idle pause. On SQLite (a WAL
file in a temp dir) and on PostgreSQL (127.0.0.1:5432, a throwaway database).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime

from benchmarks._workspaces import pg_workspace, sqlite_workspace
from benchmarks.engine import counter, worker_on
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

SETTLE_SECONDS = 3.0
LATENCY_SAMPLES = 20


def idle_cost(seconds: float) -> tuple[float, float, float]:
    """CPU ms per minute, statements and commits per second, over ``seconds`` of idling."""
    time.sleep(SETTLE_SECONDS)
    counter.on = True
    cpu_started = time.process_time()
    started = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - started
    cpu = time.process_time() - cpu_started
    counter.on = False
    statements, commits = counter.statements / elapsed, counter.commits / elapsed
    counter.statements = counter.commits = 0
    return cpu * 1000 * 60 / elapsed, statements, commits


def claim_latency(ws: Workspace) -> list[float]:
    """Milliseconds from queueing an instant task on an idle worker to its run's start."""
    samples: list[float] = []
    for i in range(LATENCY_SAMPLES):
        task = ws.tasks.create(TaskDraft(title=f"l{i}", scenario={"steps": [{"text": "x"}]}))
        time.sleep(random.uniform(0.5, 1.5))  # idle: the worker's queues polled in between
        queued = datetime.now(UTC)
        ws.tasks.run(task.id)
        done = ws.tasks.wait(task.id, timeout=120)
        if done.started_at is None:
            raise SystemExit("benchmark task did not start")
        samples.append((done.started_at - queued).total_seconds() * 1000)
    return samples


def measure(
    label: str, factory: Callable[..., AbstractContextManager[Workspace]], seconds: float
) -> None:
    with worker_on(factory, 4) as ws:
        per_minute, statements, commits = idle_cost(seconds)
        print(
            f"{label:10} idle worker over {seconds:.0f} s: {per_minute:7.1f} ms CPU per minute; "
            f"{statements:5.1f} statements, {commits:5.1f} commits per second"
        )
        latency = claim_latency(ws)
        print(
            f"{label:10} queued -> run started on an idle worker: median "
            f"{statistics.median(latency):6.1f} ms, worst {max(latency):6.1f} ms "
            f"(of {len(latency)})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="idle time measured")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--postgresql-only", action="store_true", help="skip SQLite")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not args.postgresql_only:
        measure("sqlite", sqlite_workspace, args.seconds)
    if not args.sqlite_only:
        measure("postgresql", pg_workspace, args.seconds)


if __name__ == "__main__":
    main()
