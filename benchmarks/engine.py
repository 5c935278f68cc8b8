"""Engine benchmarks: ``python -m benchmarks.engine [--quick] [--sqlite-only]``.

Prints numbers; asserts nothing. Measured through the real queue (DBOS) and the real store:

- tasks per second through the queue with an instant scripted runtime (one text step per task),
  and the CPU milliseconds one such task costs this process (the worker runs here; the
  benchmark's own polling for the end is not counted). Beside it, the floor: an empty DBOS
  workflow enqueued on the same queue, at the same concurrency, in the same workspace (what
  DBOS alone costs per task: enqueue, dequeue, status and outcome writes);
- statements and commits per task in this process (ours and DBOS's, every thread; a load-free
  count beside the CPU figure, which a busy machine inflates);
- milliseconds per persisted event (a single run that streams many text events, each committed
  before the next is read, as the executor does for every runtime);

on SQLite (a WAL file in a temp dir) and on PostgreSQL (127.0.0.1:5432, a throwaway database).
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from dbos import DBOS, EnqueueOptions

from benchmarks._statements import Statements
from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.domain.tasks import TaskStatus
from stagent.engine.queue import TASK_QUEUE, WORKFLOW_PROTOCOL
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


@contextmanager
def worker_on(
    factory: Callable[..., AbstractContextManager[Workspace]], concurrency: int
) -> Iterator[Workspace]:
    """A throwaway workspace that runs queued tasks in this process."""
    with factory(concurrency=concurrency) as ws:
        ws.start_worker("worker")
        yield ws


counter = Statements()
counter.attach()


def tasks_per_second(ws: Workspace, count: int, cpu: list[float] | None = None) -> float:
    """Create ``count`` instant tasks, queue them all, and time until every one completed.

    With ``cpu``, appends the process's CPU milliseconds per task (the worker runs in this
    process, so that is what one instant task costs the engine, the store and the client)."""
    ids = [
        ws.tasks.create(TaskDraft(title=f"b{i}", scenario={"steps": [{"text": "x"}]})).id
        for i in range(count)
    ]
    started = time.perf_counter()
    cpu_started = time.process_time()
    counter.on = cpu is not None
    for task_id in ids:
        ws.tasks.run(task_id)
    waiting = _wait_all(ws, ids)
    counter.on = False
    if cpu is not None:
        cpu.append((time.process_time() - cpu_started - waiting) * 1000 / count)
    return count / (time.perf_counter() - started)


def _wait_all(ws: Workspace, ids: list[str]) -> float:
    """Wait for every task to end, looking every 20 ms (one status query); returns the CPU
    seconds the looking cost, which the caller leaves out (`TaskService.wait` wakes on every
    commit, which is right for one task and a person, not for 200 tasks and a CPU figure)."""
    deadline = time.monotonic() + 600
    spent = 0.0
    while time.monotonic() < deadline:
        looked = time.thread_time()
        statuses = ws.tasks.statuses(ids)
        counter.statements -= counter.on  # the benchmark's own polling (one read) is not counted
        done = all(status.is_terminal for status in statuses.values())
        spent += time.thread_time() - looked
        if done:
            failed = [i for i, status in statuses.items() if status is not TaskStatus.COMPLETED]
            if failed:
                raise SystemExit(f"benchmark tasks did not complete: {failed[:5]}")
            return spent
        time.sleep(0.02)
    raise SystemExit("benchmark tasks did not end within 600 s")


_ended = threading.Semaphore(0)


@DBOS.workflow(name="benchmarks.noop")
async def noop_workflow(n: int) -> int:
    """The floor's task: an empty workflow (registered before any worker launches)."""
    _ended.release()
    return n


def floor_per_second(ws: Workspace, count: int, cpu: list[float]) -> float:
    """The floor: ``count`` empty workflows through the task queue, enqueued one by one by the
    client as `TaskService.run` does (each announced, as `TaskQueueClient.enqueue` does: on
    PostgreSQL one NOTIFY), timed until each has run (no polling: each one signals)."""
    client = ws.queue.client
    started = time.perf_counter()
    cpu_started = time.process_time()
    counter.on = True
    for n in range(count):
        options: EnqueueOptions = {
            "workflow_name": "benchmarks.noop",
            "queue_name": TASK_QUEUE,
            "app_version": WORKFLOW_PROTOCOL,
        }
        client.enqueue(options, n)
        ws.queue.announce()  # as `TaskQueueClient.enqueue` does: idle queues poll on a signal
    for _ in range(count):
        if not _ended.acquire(timeout=600):
            raise SystemExit("benchmark floor workflows did not end within 600 s")
    counter.on = False
    cpu.append((time.process_time() - cpu_started) * 1000 / count)
    return count / (time.perf_counter() - started)


def ms_per_event(ws: Workspace, events: int) -> float:
    """Time one run that streams ``events`` text events; each is committed on its own."""
    steps = [{"text": f"chunk {i} "} for i in range(events)]
    task = ws.tasks.create(TaskDraft(title="stream", scenario={"steps": steps}))
    ws.tasks.run(task.id)
    done = ws.tasks.wait(task.id, timeout=600)
    if done.started_at is None or done.finished_at is None:
        raise SystemExit("benchmark stream task did not finish")
    return (done.finished_at - done.started_at).total_seconds() * 1000 / events


def measure(
    label: str,
    factory: Callable[..., AbstractContextManager[Workspace]],
    tasks: int,
    events: int,
    repeats: int,
) -> None:
    for concurrency in (4, 16):
        rates: list[float] = []
        cpu: list[float] = []
        floor_rates: list[float] = []
        floor_cpu: list[float] = []
        task_counts = floor_counts = ""
        for _ in range(repeats):
            with worker_on(factory, concurrency) as ws:
                tasks_per_second(ws, 10)  # warm up: statement caches, imports
                rates.append(tasks_per_second(ws, tasks, cpu))
                task_counts = counter.per(tasks)
                floor_rates.append(floor_per_second(ws, tasks, floor_cpu))
                floor_counts = counter.per(tasks)
        print(
            f"{label:10} queue throughput, {tasks} instant tasks, concurrency {concurrency:2}: "
            f"{statistics.median(rates):7.1f} tasks/s, {statistics.median(cpu):5.1f} ms CPU "
            f"per task; floor, an empty DBOS workflow on the same queue: "
            f"{statistics.median(floor_rates):7.1f} /s, {statistics.median(floor_cpu):5.1f} ms "
            f"CPU (median of {repeats}); statements/commits per task {task_counts}, "
            f"floor {floor_counts}"
        )
    costs: list[float] = []
    for _ in range(repeats):
        with worker_on(factory, 4) as ws:
            costs.append(ms_per_event(ws, events))
    print(
        f"{label:10} persisted events, one run of {events} events:"
        f" {statistics.median(costs):7.3f} ms/event (median of {repeats})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer tasks, one repeat")
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    only.add_argument("--postgresql-only", action="store_true", help="skip SQLite")
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    tasks, events, repeats = (40, 300, 1) if args.quick else (200, 2000, 3)
    if not args.postgresql_only:
        measure("sqlite", sqlite_workspace, tasks, events, repeats)
    if not args.sqlite_only:
        measure("postgresql", pg_workspace, tasks, events, repeats)


if __name__ == "__main__":
    main()
