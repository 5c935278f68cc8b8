"""Scheduler benchmarks: ``python -m benchmarks.schedules [--quick] [--sqlite-only]``.

Prints numbers; asserts nothing. On the real store (SQLite WAL file in a temp dir, and
PostgreSQL on 127.0.0.1:5432 in a throwaway database):

- an idle tick, p50 / p99: `ScheduleService.tick` with N active schedules of which none is due
  (what every worker pays every ``schedule_poll_seconds``), beside the floor of one indexed
  ``SELECT`` on the same database;
- one claim plus its firing, p50 / p99: claiming a due occurrence (row lock, plan, firing
  insert) and deciding it (overlap, limit, budget check, task created and queued), beside the
  floor of creating and queueing the same task directly through `TaskService`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy import text

from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.domain.ids import utcnow
from stagent.engine.services import TaskDraft
from stagent.scheduler.drafts import ScheduleDraft
from stagent.workspace import Workspace

Factory = Callable[[], AbstractContextManager[Workspace]]


def _ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"


def _timed(action: Callable[[], object], repeats: int) -> list[float]:
    samples: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def idle_tick(ws: Workspace, schedules: int, repeats: int) -> None:
    """Tick with ``schedules`` active schedules, none due."""
    for n in range(schedules):
        ws.schedules.create(ScheduleDraft(name=f"s{n}", prompt="p", every="1d", tz="UTC"))

    def floor() -> None:
        with ws.store.read() as session:
            session.execute(
                text("SELECT id FROM schedules WHERE status = 'active' AND next_fire_at <= :now"),
                {"now": utcnow()},
            ).all()

    print(f"  idle tick, {schedules:>5} schedules   {_ms(_timed(ws.schedules.tick, repeats))}")
    print(f"  floor: one indexed SELECT          {_ms(_timed(floor, repeats))}")


def claim_and_fire(ws: Workspace, repeats: int) -> None:
    """A due occurrence claimed and decided, against creating and queueing the task directly."""
    ws.start_worker("worker")  # DBOS tables and queues exist; the tasks themselves are cheap
    schedule = ws.schedules.create(
        ScheduleDraft(name="bench", prompt="p", every="1m", tz="UTC", overlap="allow")
    )
    now = utcnow()
    ws.schedules.clock = lambda: now

    def fire() -> None:
        nonlocal now
        now += timedelta(minutes=1)
        for firing_id in ws.schedules.claim(schedule.id, now):
            ws.schedules.process(firing_id)

    def floor() -> None:
        task = ws.tasks.create(TaskDraft(title="direct", description="p"))
        ws.tasks.run(task.id)

    print(f"  claim + fire (task queued)         {_ms(_timed(fire, repeats))}")
    print(f"  floor: create + queue the task     {_ms(_timed(floor, repeats))}")
    ws.stop_worker()


def run(label: str, factory: Factory, quick: bool) -> None:
    """Both measurements on one backend."""
    print(label)
    repeats = 30 if quick else 200
    for count in (10, 1000) if not quick else (10, 200):
        with factory() as ws:
            idle_tick(ws, count, repeats)
    with factory() as ws:
        claim_and_fire(ws, 20 if quick else 100)


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description="Scheduler benchmarks (idle tick, claim + fire).")
    parser.add_argument("--quick", action="store_true", help="fewer schedules and repeats")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    args = parser.parse_args()
    run("SQLite (WAL)", sqlite_workspace, args.quick)
    if not args.sqlite_only:
        run("PostgreSQL (127.0.0.1)", pg_workspace, args.quick)


if __name__ == "__main__":
    main()
