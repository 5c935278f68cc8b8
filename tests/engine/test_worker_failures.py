"""Real `stagent worker` processes on one SQLite file, failing the ways machines fail:

- frozen (SIGSTOP) past its lease while a survivor takes its run over, then resumed (SIGCONT):
  it writes nothing more for the run, books no usage twice, and registers its executor again;
- killed (SIGKILL) right after it wrote a run's result: the run is not executed again;
- two workers with different ``--concurrency``: each keeps its own limit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from servetools import freeze_outside_writes, start_worker, wait_until
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.store import executors as executor_repo
from stagent.store.ledger import LedgerFilter
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow

CRASH_AFTER_RESULT = """
import os, sys
from stagent.domain.events import ResultEvent
from stagent.engine import executor
original = executor.RunWriter.conclude
def conclude(self, final, status, **fields):
    outcome = original(self, final, status, **fields)
    if isinstance(final, ResultEvent):
        os._exit(9)  # the result is committed; DBOS has not recorded the step yet
    return outcome
executor.RunWriter.conclude = conclude
sys.argv = ["stagent", "worker", "--json"]
from stagent.cli.app import main
main()
"""


def executor_ids(ws: Workspace) -> set[str]:
    with ws.store.read() as session:
        return {row[0] for row in executor_repo.all_executors(session)}


def test_a_frozen_worker_resumed_after_a_takeover_writes_nothing_and_registers_again(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    worker_client.rules.add("Write")
    steps = [
        {"text": "one. "},
        {"delay": 5},
        {"usage": {"model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 10}},
        {"text": "two."},
    ]
    task = worker_client.tasks.create(TaskDraft(title="frozen", scenario={"steps": steps}))
    frozen, frozen_id = start_worker(worker_home)
    worker_procs.append(frozen)
    worker_client.tasks.run(task.id)
    for event in worker_client.tasks.follow(task.id, poll_seconds=0.1):
        if event.kind == "text":
            break
    freeze_outside_writes(frozen, Path(worker_client.store.engine.url.database or ""))

    survivor, _ = start_worker(worker_home)
    worker_procs.append(survivor)
    done = worker_client.tasks.wait(task.id, timeout=60)
    assert done.status is TaskStatus.COMPLETED
    assert frozen_id not in executor_ids(worker_client)  # taken for dead, its run recovered

    os.killpg(frozen.pid, signal.SIGCONT)  # its delay is over: next it would book the usage
    wait_until(
        lambda: frozen_id in executor_ids(worker_client), 60, "the resumed worker to register"
    )
    time.sleep(1.5)

    (run,) = worker_client.tasks.runs(task.id)
    assert run.attempt == 2
    log = worker_client.tasks.events(task.id)
    end = next(e.seq for e in log if e.kind == "status" and e.payload.get("to") == "completed")
    assert [e.kind for e in log if e.seq > end] == []
    assert [e.kind for e in log].count("result") == 1
    assert [e.kind for e in log].count("usage") == 1
    booked = [
        r for r in worker_client.budgets.usage(LedgerFilter(task_id=task.id)) if r.input_tokens
    ]
    assert len(booked) == 1
    assert worker_client.tasks.get(task.id).result == "one. two."


def test_a_worker_killed_right_after_the_result_does_not_run_the_task_again(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    task = worker_client.tasks.create(
        TaskDraft(title="once", scenario={"steps": [{"text": "only once"}]})
    )
    crashing, _ = start_worker(worker_home, code=CRASH_AFTER_RESULT)
    worker_procs.append(crashing)
    worker_client.tasks.run(task.id)
    assert crashing.wait(timeout=60) == 9
    assert worker_client.tasks.get(task.id).status is TaskStatus.COMPLETED

    survivor, _ = start_worker(worker_home)
    worker_procs.append(survivor)
    workflow = worker_client.tasks.get(task.id).workflow_id or ""
    wait_until(
        lambda: worker_client.queue.status(workflow) == "SUCCESS", 60, "the step to be recorded"
    )
    kinds = [e.kind for e in worker_client.tasks.events(task.id)]
    assert kinds.count("text") == 1
    assert kinds.count("result") == 1
    assert "recovered" not in kinds
    (run,) = worker_client.tasks.runs(task.id)
    assert run.attempt == 1


def test_each_worker_keeps_its_own_concurrency(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    wide, wide_id = start_worker(worker_home, "--concurrency", "3")
    worker_procs.append(wide)
    narrow, narrow_id = start_worker(worker_home, "--concurrency", "1")  # started last
    worker_procs.append(narrow)
    ids = [
        worker_client.tasks.create(
            TaskDraft(title=f"c{i}", scenario={"steps": [{"delay": 1.2}]})
        ).id
        for i in range(10)
    ]
    for task_id in ids:
        worker_client.tasks.run(task_id)
    peak: Counter[str] = Counter()
    ran: set[str] = set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        pending = worker_client.queue.client.list_workflows(
            status="PENDING", load_input=False, load_output=False
        )
        now = Counter(str(w.executor_id) for w in pending)
        for executor, count in now.items():
            peak[executor] = max(peak[executor], count)
            ran.add(executor)
        if all(worker_client.tasks.get(t).status is TaskStatus.COMPLETED for t in ids):
            break
        time.sleep(0.05)
    assert all(worker_client.tasks.get(t).status is TaskStatus.COMPLETED for t in ids)
    assert peak[narrow_id] == 1
    assert peak[wide_id] == 3
    assert {narrow_id, wide_id} <= ran
