"""The task queue as a process that only enqueues sees it (`TaskQueueClient`): DBOS is opened on
first use, a run's workflow id names the task and run, look-ups answer for runs the engine does
not know. SQLite (one workspace for the module: DBOS's tables are made once), and the whole
round once on PostgreSQL; no worker runs."""

from __future__ import annotations

import pytest

from stagent.engine.queue import TaskQueueClient, dbos_url
from stagent.engine.services import TaskDraft
from stagent.store.lifecycle import workflow_id_for
from stagent.workspace import Workspace


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("sqlite:////tmp/x/stagent.db", "sqlite:////tmp/x/stagent.db"),
        (
            "postgresql+psycopg://u:p@127.0.0.1:5432/db",
            "postgresql://u:p@127.0.0.1:5432/db",
        ),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_dbos_gets_the_same_database_in_its_own_url_dialect(ours: str, theirs: str) -> None:
    assert dbos_url(ours) == theirs


def test_the_client_opens_dbos_only_when_first_used(ws: Workspace) -> None:
    client = TaskQueueClient(ws.store.url)
    assert not client.opened
    assert client.statuses([]) == {}  # nothing to ask: still not opened
    assert not client.opened
    assert client.status("tsk_nothing-run-1") is None
    assert client.opened
    client.close()
    assert not client.opened
    client.close()  # twice is harmless


def test_a_run_is_enqueued_under_its_task_and_number(ws: Workspace) -> None:
    task = ws.tasks.create(TaskDraft(title="q"))
    workflow = ws.queue.enqueue(task.id, 3)
    assert workflow == workflow_id_for(task.id, 3) == f"{task.id}-run-3"
    assert ws.queue.status(workflow) == "ENQUEUED"


def test_enqueueing_the_same_run_twice_queues_it_once(ws: Workspace) -> None:
    task = ws.tasks.create(TaskDraft(title="twice"))
    first = ws.queue.enqueue(task.id, 1)
    second = ws.queue.enqueue(task.id, 1)
    assert first == second
    found = ws.queue.client.list_workflows(workflow_ids=[first], load_input=False)
    assert len(found) == 1


def test_statuses_answer_in_one_call_and_leave_out_unknown_runs(ws: Workspace) -> None:
    a = ws.tasks.create(TaskDraft(title="a"))
    b = ws.tasks.create(TaskDraft(title="b"))
    wa, wb = ws.queue.enqueue(a.id, 1), ws.queue.enqueue(b.id, 1)
    ws.queue.cancel(wb)
    assert ws.queue.statuses([wa, wb, "tsk_unknown-run-1"]) == {wa: "ENQUEUED", wb: "CANCELLED"}


def test_a_cancelled_run_is_cancelled_in_the_engine(ws: Workspace) -> None:
    task = ws.tasks.create(TaskDraft(title="c"))
    workflow = ws.queue.enqueue(task.id, 1)
    ws.queue.cancel(workflow)
    assert ws.queue.status(workflow) == "CANCELLED"


def test_a_second_client_sees_what_the_first_enqueued(ws: Workspace) -> None:
    task = ws.tasks.create(TaskDraft(title="shared"))
    workflow = ws.queue.enqueue(task.id, 1)
    other = TaskQueueClient(ws.store.url)
    try:
        assert other.status(workflow) == "ENQUEUED"
    finally:
        other.close()


@pytest.mark.postgres
def test_the_whole_round_on_postgresql(pg_workspace: Workspace) -> None:
    ws = pg_workspace
    a = ws.tasks.create(TaskDraft(title="a"))
    b = ws.tasks.create(TaskDraft(title="b"))
    wa = ws.queue.enqueue(a.id, 1)
    assert ws.queue.enqueue(a.id, 1) == wa == f"{a.id}-run-1"
    wb = ws.queue.enqueue(b.id, 2)
    ws.queue.cancel(wb)
    assert ws.queue.statuses([wa, wb, "tsk_unknown-run-1"]) == {wa: "ENQUEUED", wb: "CANCELLED"}
    assert ws.queue.status("tsk_unknown-run-1") is None
    other = TaskQueueClient(ws.store.url)
    try:
        assert other.status(wa) == "ENQUEUED"
        assert len(other.client.list_workflows(workflow_ids=[wa], load_input=False)) == 1
    finally:
        other.close()
