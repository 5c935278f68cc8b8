"""Approval round trip: ``python -m benchmarks.approvals [--quick] [--requests N] [--sqlite-only]``.

Prints numbers; asserts nothing. The round trip is measured from the moment a decision is
*stored* (the deciding transaction has committed: SQLAlchemy's ``after_commit``) to the moment
the waiting agent's permission callback (`GovernedGate.decide`, what a runtime awaits) returns.
Each request has its own input, so each makes a new card.

- **one process**: the agent's event loop waits; a thread (as a web request handler would)
  decides each card through `ApprovalService.allow` on the same workspace;
- **two processes**: the decider is a separate process (``--decide``) on the same database,
  woken by its own cross-process watcher when a card appears; the agent's process is woken by
  its watcher when the decision commits (SQLite: ``PRAGMA data_version`` polled every 20 ms;
  PostgreSQL: LISTEN/NOTIFY). Both sides stamp ``time.monotonic()`` (CLOCK_MONOTONIC, one clock
  for every process on the machine).

Targets (issue 4): p50 <= 10 ms in one process; p99 <= 250 ms across processes on SQLite and
<= 50 ms on PostgreSQL. The original Stagent polls every 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

from benchmarks._workspaces import pg_workspace, sqlite_workspace
from stagent.domain.tasks import Task, TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import PermissionRequest
from stagent.store import tasks as task_repo
from stagent.workspace import Workspace

DECIDER_READY = "decider ready"

_stamps = threading.local()


def _stamp_commits() -> None:
    """Record, per thread, when the last transaction committed (the decision is stored)."""

    def after_commit(session: Session) -> None:
        del session
        _stamps.committed = time.monotonic()

    event.listen(Session, "after_commit", after_commit)


def _running_task(ws: Workspace) -> Task:
    task = ws.tasks.create(TaskDraft(title="approval benchmark"))
    with ws.store.write() as session:
        task_repo.transition(session, task.id, TaskStatus.QUEUED)
        task_repo.transition(session, task.id, TaskStatus.RUNNING)
    return task


def _request(task: Task, index: int) -> PermissionRequest:
    data = {"file_path": f"notes/{index}.md", "content": "x"}
    return PermissionRequest(task_id=task.id, runtime="bench", tool="Write", input=data)


def _decide_pending(ws: Workspace, stamps: dict[str, float], stop: threading.Event) -> None:
    """Decide every pending card as soon as it appears; stamp when each decision committed."""
    seen = ws.store.changes.version
    while not stop.is_set():
        for card in ws.approvals.list_pending():
            ws.approvals.allow(card.id, by="person (via benchmark)")
            stamps[card.id] = _stamps.committed
        seen = ws.store.changes.wait(seen, 0.5)


async def _agent(ws: Workspace, task: Task, count: int) -> dict[str, float]:
    """Ask ``count`` times, one after another; returns when each callback returned, by card."""
    returned: dict[str, float] = {}
    for index in range(count):
        decision = await ws.gate.decide(_request(task, index))
        done = time.monotonic()
        assert decision.allowed, decision
        [card] = ws.approvals.recent(limit=1, task_id=task.id)
        returned[card.id] = done
    return returned


def _report(label: str, stamps: dict[str, float], returned: dict[str, float]) -> None:
    millis = sorted((returned[k] - stamps[k]) * 1000 for k in returned if k in stamps)
    p50 = statistics.median(millis)
    p99 = millis[min(len(millis) - 1, round(0.99 * (len(millis) - 1)))]
    print(
        f"  {label:<40} n={len(millis):<4} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   "
        f"max {millis[-1]:7.2f} ms",
        flush=True,
    )


def one_process(ws: Workspace, count: int, label: str) -> None:
    """The decider is a thread of the agent's own process."""
    task = _running_task(ws)
    stamps: dict[str, float] = {}
    stop = threading.Event()
    decider = threading.Thread(target=_decide_pending, args=(ws, stamps, stop), daemon=True)
    decider.start()
    try:
        returned = asyncio.run(_agent(ws, task, count))
    finally:
        stop.set()
        ws.store.changes.ring()
        decider.join(timeout=5)
    _report(label, stamps, returned)


def two_processes(ws: Workspace, count: int, label: str) -> None:
    """The decider is another process on the same database."""
    task = _running_task(ws)
    args = [sys.executable, "-m", "benchmarks.approvals", "--decide", ws.store.url]
    args += ["--home", str(ws.settings.home), "--requests", str(count)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True) as decider:
        assert decider.stdout is not None
        assert decider.stdout.readline().strip() == DECIDER_READY
        returned = asyncio.run(_agent(ws, task, count))
        stamps: dict[str, float] = {}
        for line in decider.stdout:
            card_id, _, moment = line.strip().partition(" ")
            stamps[card_id] = float(moment)
        decider.wait(timeout=30)
    _report(label, stamps, returned)


def decide_in_this_process(url: str, home: Path, count: int) -> None:
    """``--decide``: decide ``count`` cards as they appear, then print ``id committed_at``."""
    _stamp_commits()
    with Workspace.temporary(home, database_url=url).open() as ws:
        stamps: dict[str, float] = {}
        print(DECIDER_READY, flush=True)
        seen = ws.store.changes.version
        while len(stamps) < count:
            for card in ws.approvals.list_pending():
                ws.approvals.allow(card.id, by="person (via benchmark)")
                stamps[card.id] = _stamps.committed
            seen = ws.store.changes.wait(seen, 0.5)
        for card_id, moment in stamps.items():
            print(f"{card_id} {moment:.6f}", flush=True)


def main() -> None:
    """Parse the options and run the four measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="50 requests per measurement")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--decide", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.decide:
        decide_in_this_process(options.decide, options.home, options.requests)
        return
    _stamp_commits()
    count = 50 if options.quick else options.requests
    print(f"approval round trip (decision stored -> permission callback returns), {count} each")
    backends = [("SQLite", sqlite_workspace)]
    if not options.sqlite_only:
        backends.append(("PostgreSQL", pg_workspace))
    for name, factory in backends:
        with factory() as ws:
            one_process(ws, count, f"{name}, one process")
        with factory() as ws:
            two_processes(ws, count, f"{name}, decider in another process")


if __name__ == "__main__":
    main()
