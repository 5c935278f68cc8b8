"""A run queued in the worker's own process is claimed at once, not a poll interval later
(`stagent.engine.queue.queued`, `stagent.engine.queue_polls`)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from stagent.domain.workflows import WorkflowDefinition
from stagent.engine import queue as queue_module
from stagent.engine import queue_polls
from stagent.engine.queue import TASK_QUEUE, WORKFLOW_QUEUE
from stagent.engine.services import TaskDraft
from stagent.store.notifier import ChangeNotifier
from stagent.workspace import Workspace

NEVER = 600.0
"""A poll interval no test waits out."""
DEADLINE = 60.0


@pytest.fixture
def installed() -> Iterator[queue_polls.PollGate]:
    """A gate, installed as a worker's is, whose queue ``tasks`` is idle (its first poll done)."""
    notifier = ChangeNotifier()
    poll_gate = queue_polls.PollGate(
        lambda: notifier.version, idle_seconds=NEVER, wait_change=notifier.wait
    )
    queue_polls.install(poll_gate)
    poll_gate.gate(["tasks"])
    assert poll_gate.should_poll("tasks")
    poll_gate.polled("tasks", claimed=1, stopped_at_limit=False)  # it just claimed a run
    try:
        yield poll_gate
    finally:
        queue_polls.install(None)
        queue_module.QUEUED.pop("tasks", None)


def waiting_out_the_interval(stop: threading.Event) -> threading.Thread:
    """A queue thread of ``tasks`` between two polls (DBOS's interval: `NEVER`)."""
    waiter = queue_polls._WakeableStop(stop, "tasks")  # pyright: ignore[reportPrivateUsage]
    thread = threading.Thread(target=waiter.wait, args=(NEVER,))
    thread.start()
    return thread


def test_an_entry_queued_here_ends_the_poll_interval_at_once(
    installed: queue_polls.PollGate,
) -> None:
    """The write that records a run commits just before its queue entry: the poll that commit
    woke found nothing, and the entry used to wait out DBOS's whole interval."""
    stop = threading.Event()
    thread = waiting_out_the_interval(stop)
    thread.join(0.3)
    assert thread.is_alive()  # nothing queued: it waits out the interval
    queue_module.queued("tasks")
    thread.join(DEADLINE)
    assert not thread.is_alive(), "the queue thread waited out the interval"
    assert installed.should_poll("tasks")  # and that poll asks the database


def test_a_queue_full_at_its_last_poll_keeps_the_interval(
    installed: queue_polls.PollGate,
) -> None:
    """A queue whose last poll stopped at its concurrency limit claims nothing sooner: entries
    queued meanwhile wait for the interval's poll, in one batch."""
    installed.polled("tasks", claimed=0, stopped_at_limit=True)
    waiter = queue_polls._WakeableStop(threading.Event(), "tasks")  # pyright: ignore[reportPrivateUsage]
    queue_module.queued("tasks")
    assert waiter.wait(0.01) is False  # the interval's end, not the entry, ended the wait
    assert queue_module.QUEUED["tasks"].is_set()  # still there for a poll with room


def test_a_stopping_worker_ends_the_interval(installed: queue_polls.PollGate) -> None:
    stop = threading.Event()
    thread = waiting_out_the_interval(stop)
    stop.set()
    queue_polls.stopping(lambda: None)
    thread.join(DEADLINE)
    assert not thread.is_alive()


class _Seen(threading.Event):
    """A queue's event that records, when set, whether the entry is visible to another
    connection (committed)."""

    def __init__(self, database: str) -> None:
        super().__init__()
        self.database = database
        self.visible: list[int] = []

    def set(self) -> None:
        with sqlite3.connect(self.database) as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM workflow_status WHERE status = 'ENQUEUED'"
            ).fetchone()
        self.visible.append(count)
        super().set()


@pytest.fixture
def seen(workspace: Workspace) -> Iterator[dict[str, _Seen]]:
    database = make_url(workspace.store.url).database or ""
    events = {name: _Seen(database) for name in (TASK_QUEUE, WORKFLOW_QUEUE)}
    kept = {name: queue_module.QUEUED.get(name) for name in events}
    queue_module.QUEUED.update(events)
    try:
        yield events
    finally:
        for name, event in kept.items():
            if event is None:
                queue_module.QUEUED.pop(name, None)
            else:
                queue_module.QUEUED[name] = event


def test_a_task_run_and_a_workflow_run_wake_their_queue_once_committed(
    workspace: Workspace, seen: dict[str, _Seen]
) -> None:
    task = workspace.tasks.create(TaskDraft(title="now", scenario={"steps": [{"text": "x"}]}))
    workspace.tasks.run(task.id)
    assert seen[TASK_QUEUE].visible == [1]  # set once, after its entry committed
    definition = WorkflowDefinition.model_validate(
        {"name": "wake", "pattern": "sequence", "steps": [{"id": "a", "name": "a", "prompt": "p"}]}
    )
    workflow = workspace.workflows.add(definition)
    workspace.workflows.run(workflow.id)
    assert seen[WORKFLOW_QUEUE].visible == [2]
