"""An idle worker's queue polls (`stagent.engine.queue_polls`): a poll asks the database only
when something changed, when the last one yielded work, or once per idle interval -- and a run
queued by another process still starts at once. The DBOS internals the module wraps are pinned
here: a new dbos release fails `test_the_wrapped_dbos_internals_are_the_ones_reviewed` until
someone re-reads them against the module."""

from __future__ import annotations

import ast
import hashlib
import inspect
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dbos import DBOS, EnqueueOptions
from dbos import _queue as dbos_queue
from dbos import _sys_db as dbos_sys_db
from dbos._dbos import _get_dbos_instance  # pyright: ignore[reportPrivateUsage]

from stagent.engine import queue_polls
from stagent.engine.queue import TASK_QUEUE, WORKFLOW_PROTOCOL, WORKFLOW_QUEUE, TaskQueueClient
from stagent.engine.services import TaskDraft
from stagent.store.notifier import ChangeNotifier
from stagent.workspace import Workspace

NEVER = 600.0
"""An idle interval (and a lease, whose heartbeat writes) no test waits out: only the change
signal of the enqueue itself can wake the worker."""
DEADLINE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Version:
    def __init__(self) -> None:
        self.value = 0

    def __call__(self) -> int:
        return self.value


@pytest.fixture
def gate() -> tuple[queue_polls.PollGate, Version, Clock]:
    version, clock = Version(), Clock()
    poll_gate = queue_polls.PollGate(version, idle_seconds=1.0, clock=clock)
    poll_gate.gate(["tasks"])
    return poll_gate, version, clock


def idle_after_first_poll(poll_gate: queue_polls.PollGate) -> None:
    assert poll_gate.should_poll("tasks")  # the first poll always asks
    poll_gate.polled("tasks", claimed=0, stopped_at_limit=False)


def test_an_idle_queue_is_not_asked_again_until_something_changes(gate) -> None:  # type: ignore[no-untyped-def]
    poll_gate, version, clock = gate
    idle_after_first_poll(poll_gate)
    clock.now += 0.5
    assert not poll_gate.should_poll("tasks")
    version.value += 1  # a commit somewhere in the workspace
    assert poll_gate.should_poll("tasks")
    poll_gate.polled("tasks", claimed=0, stopped_at_limit=False)
    assert not poll_gate.should_poll("tasks")


def test_an_idle_queue_is_still_asked_once_per_idle_interval(gate) -> None:  # type: ignore[no-untyped-def]
    poll_gate, _, clock = gate
    idle_after_first_poll(poll_gate)
    clock.now += 0.9
    assert not poll_gate.should_poll("tasks")
    clock.now += 0.2
    assert poll_gate.should_poll("tasks")


def test_a_queue_that_yielded_work_or_hit_a_limit_is_asked_again(gate) -> None:  # type: ignore[no-untyped-def]
    poll_gate, _, _ = gate
    idle_after_first_poll(poll_gate)
    poll_gate.polled("tasks", claimed=2, stopped_at_limit=False)
    assert poll_gate.should_poll("tasks")
    poll_gate.polled("tasks", claimed=0, stopped_at_limit=True)  # full: more may be waiting
    assert poll_gate.should_poll("tasks")
    poll_gate.polled("tasks", claimed=0, stopped_at_limit=False)
    assert not poll_gate.should_poll("tasks")


def test_queues_not_gated_are_always_asked(gate) -> None:  # type: ignore[no-untyped-def]
    poll_gate, _, _ = gate
    for _ in range(3):
        assert poll_gate.should_poll("_dbos_internal_queue")
        poll_gate.polled("_dbos_internal_queue", claimed=0, stopped_at_limit=False)


def sleeper(ring_first: bool = False) -> tuple[queue_polls.PollGate, ChangeNotifier]:
    """A gate on a real change signal whose queue ``tasks`` is idle (its first poll done)."""
    queue_polls.install(None)  # no stop left over from a worker an earlier test ran here
    notifier = ChangeNotifier()
    poll_gate = queue_polls.PollGate(
        lambda: notifier.version, idle_seconds=NEVER, wait_change=notifier.wait
    )
    poll_gate.gate(["tasks"])
    idle_after_first_poll(poll_gate)
    if ring_first:
        notifier.ring()
    return poll_gate, notifier


def sleep_in_thread(poll_gate: queue_polls.PollGate, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=poll_gate.sleep_while_idle, args=("tasks", stop))
    thread.start()
    return thread


def test_an_idle_queue_thread_sleeps_until_something_changes() -> None:
    poll_gate, notifier = sleeper()
    stop = threading.Event()
    thread = sleep_in_thread(poll_gate, stop)
    thread.join(0.3)
    assert thread.is_alive()  # nothing changed: still asleep (it would wait out NEVER)
    notifier.ring()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert poll_gate.should_poll("tasks")


def test_an_idle_queue_thread_wakes_when_the_worker_stops() -> None:
    poll_gate, notifier = sleeper()
    stop = threading.Event()
    thread = sleep_in_thread(poll_gate, stop)
    queue_polls.stopping(notifier.ring)
    thread.join(DEADLINE)
    assert not thread.is_alive()
    queue_polls.install(None)  # forget the stop for the tests that follow


def test_a_queue_thread_with_work_or_a_change_pending_does_not_sleep() -> None:
    poll_gate, _ = sleeper(ring_first=True)
    poll_gate.sleep_while_idle("tasks", threading.Event())  # returns: a change is pending
    poll_gate.polled("tasks", claimed=1, stopped_at_limit=False)
    poll_gate.sleep_while_idle("tasks", threading.Event())  # returns: it just yielded work
    poll_gate.sleep_while_idle("_dbos_internal_queue", threading.Event())  # not gated


REVIEWED = {
    "dbos._queue.queue_worker_thread": "c0b22c3a946ff0c7",
    "dbos._queue.queue_thread": "e54ec9c69e992899",
    "SystemDatabase.get_queue": "2b8d1d497bfbc9ee",
    "SystemDatabase._is_latest_version": "13ed2dec841b1408",
    "SystemDatabase.start_queued_workflows": "1a5ce735a4a1b046",
}
"""SHA-256 (first 16 hex) of the source of each DBOS function `queue_polls` relies on, as
reviewed: ``queue_thread`` (the manager: it looks for queues when it starts, then once a
second; `queue_polls` delays its start until the worker registered its queues) starts each
queue's thread with the module's
``queue_worker_thread`` (looked up when it starts one), which uses its stop event only through
``wait(timeout=...)`` and ``is_set()``; a queue thread names itself ``queue-worker-<queue>``
and re-reads its row with ``get_queue(name)`` (no keyword) before each poll;
``start_queued_workflows(queue, ...)`` returns ``(claimed ids, stop reason)`` and is the poll's
only claim; ``_is_latest_version``
answers from the ``application_versions`` table alone."""


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _method_source(name: str) -> str:
    """A `SystemDatabase` method's source as DBOS ships it (the class may be wrapped by now)."""
    module = Path(inspect.getsourcefile(dbos_sys_db) or "")
    text = module.read_text(encoding="utf-8")
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef) and node.name == "SystemDatabase":
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return ast.get_source_segment(text, item) or ""
    return ""


def reviewed_digests() -> dict[str, str]:
    return {
        f"dbos._queue.{function.__name__}": _digest(inspect.getsource(function))
        for function in (dbos_queue.queue_worker_thread, dbos_queue.queue_thread)
    } | {
        f"SystemDatabase.{name}": _digest(_method_source(name))
        for name in ("get_queue", "_is_latest_version", "start_queued_workflows")
    }


def test_the_wrapped_dbos_internals_are_the_ones_reviewed() -> None:
    assert reviewed_digests() == REVIEWED, (
        "DBOS changed a function stagent.engine.queue_polls wraps or relies on: re-read it "
        "against that module, then update REVIEWED"
    )


def test_a_queue_thread_is_named_as_the_cached_read_expects() -> None:
    assert f'name=f"{queue_polls.QUEUE_THREAD_PREFIX}{{queue_name}}"' in inspect.getsource(
        dbos_queue.queue_thread
    )


_ran = threading.Event()


@DBOS.workflow(name="tests.queue_polls.noop")
async def _noop_workflow() -> str:
    """A queue entry another process wrote through DBOS's client alone (no store write)."""
    _ran.set()
    return "done"


@pytest.fixture(params=["sqlite", "postgresql"])
def idle_worker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A worker whose idle queues only a change signal wakes, and a second workspace on the
    same database (another process's view: its own store, notifier and DBOS client)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
    settings = {"database_url": url} if url else {}
    worker = Workspace.temporary(
        tmp_path / "w", queue_idle_poll_seconds=NEVER, executor_lease_seconds=NEVER, **settings
    )
    worker.open()
    try:
        worker.start_worker("worker")
        yield worker
    finally:
        worker.close()


@pytest.fixture
def other_process(idle_worker: Workspace, tmp_path: Path) -> Iterator[Workspace]:
    settings = {} if idle_worker.store.is_sqlite else {"database_url": idle_worker.store.url}
    other = Workspace.temporary(tmp_path / "w", **settings)
    other.open()
    yield other
    other.close()


def settle(seconds: float = 1.0) -> None:
    """Let the worker's queues go idle (their first polls always ask the database)."""
    time.sleep(seconds)


def test_a_task_queued_elsewhere_starts_on_an_idle_worker(
    idle_worker: Workspace, other_process: Workspace
) -> None:
    task = other_process.tasks.create(TaskDraft(title="wake", scenario={"steps": [{"text": "x"}]}))
    settle()
    other_process.tasks.run(task.id)
    done = idle_worker.tasks.wait(task.id, timeout=DEADLINE)
    assert done.status.is_terminal, "the idle worker never picked the run up"


def test_an_entry_queued_through_dbos_alone_starts_once_announced(
    idle_worker: Workspace, other_process: Workspace
) -> None:
    settle()
    _ran.clear()
    options: EnqueueOptions = {
        "workflow_name": "tests.queue_polls.noop",
        "queue_name": TASK_QUEUE,
        "app_version": WORKFLOW_PROTOCOL,
    }
    other_process.queue.client.enqueue(options)
    other_process.queue.announce()
    assert _ran.wait(DEADLINE), "the idle worker never picked the announced entry up"


def test_commits_that_queue_nothing_cost_the_queues_no_claim(
    idle_worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every commit moves the change signal, so while a workflow runs its steps each queue's
    poll is let through every interval; one indexed read (`has_entries`) then finds the
    queue empty and DBOS's claim (a write transaction) is not asked. A run queued after that
    is still claimed and runs."""
    settle()
    looked: list[tuple[str, bool]] = []
    original = queue_polls.has_entries

    def has_entries(sys_db: dbos_sys_db.SystemDatabase, name: str) -> bool:
        found = original(sys_db, name)
        looked.append((name, found))
        return found

    monkeypatch.setattr(queue_polls, "has_entries", has_entries)
    before = {name: queue_polls.claims(name) for name in (TASK_QUEUE, WORKFLOW_QUEUE)}
    deadline = time.monotonic() + DEADLINE
    commits = 0
    while any(sum(n == name for n, _ in looked) < 2 for name in before):
        assert time.monotonic() < deadline, f"the queues looked only {looked}"
        idle_worker.tasks.create(TaskDraft(title=f"commit {commits}"))  # rings the signal
        commits += 1
    assert not any(found for _, found in looked)
    assert {name: queue_polls.claims(name) for name in before} == before
    task = idle_worker.tasks.create(TaskDraft(title="queued", scenario={"steps": [{"text": "x"}]}))
    idle_worker.tasks.run(task.id)
    assert idle_worker.tasks.wait(task.id, timeout=DEADLINE).status.is_terminal
    assert queue_polls.claims(TASK_QUEUE) > before[TASK_QUEUE]


def test_the_queue_entry_check_reads_dboss_in_flight_index(worker: Workspace) -> None:
    """On SQLite the check's status is spelled as DBOS's partial index states it, so it is
    a search of that index, not a scan of every workflow DBOS ever recorded."""
    assert worker.store.is_sqlite
    sys_db = _get_dbos_instance()._sys_db  # pyright: ignore[reportPrivateUsage]
    raw = sys_db.engine.raw_connection()
    try:
        sql = "EXPLAIN QUERY PLAN " + queue_polls._entries_sql(sys_db)  # pyright: ignore[reportPrivateUsage]
        plan = " ".join(str(row[-1]) for row in raw.cursor().execute(sql, {"queue": TASK_QUEUE}))
    finally:
        raw.close()
    assert "SEARCH workflow_status USING COVERING INDEX idx_workflow_status_in_flight" in plan


def test_the_queue_entry_check_sees_an_entry_of_its_queue_only_on_either_backend(
    pg_url: str, tmp_path: Path
) -> None:
    """One process, a SQLite workspace then a PostgreSQL one (the check's statement is the
    backend's own each time: placeholders, DBOS's schema)."""
    for name, settings in (("lite", {}), ("pg", {"database_url": pg_url})):
        ws = Workspace.temporary(tmp_path / name, **settings)
        ws.open()
        try:
            ws.start_worker("worker")
            sys_db = _get_dbos_instance()._sys_db  # pyright: ignore[reportPrivateUsage]
            assert not queue_polls.has_entries(sys_db, "tests.nobody-polls")
            options: EnqueueOptions = {
                "workflow_name": "tests.queue_polls.noop",
                "queue_name": "tests.nobody-polls",
                "app_version": WORKFLOW_PROTOCOL,
            }
            ws.queue.client.enqueue(options)
            assert queue_polls.has_entries(sys_db, "tests.nobody-polls"), name
            assert not queue_polls.has_entries(sys_db, "tests.another-queue")
        finally:
            ws.close()


def test_a_fresh_workers_queues_are_there_at_the_queue_managers_first_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DBOS's queue manager starts a thread per queue it finds, looking at launch and then once a
    second: a worker on a fresh database registers its queues just after the launch, so a run
    queued at once used to wait a second for its queue's thread."""
    looks: list[set[str]] = []
    original = dbos_sys_db.SystemDatabase.list_queues

    def list_queues(self: dbos_sys_db.SystemDatabase, **kwargs: object) -> object:
        found = original(self, **kwargs)  # type: ignore[arg-type]
        if "queue_thread" in threading.current_thread().name:
            looks.append({queue.name for queue in found})
        return found

    monkeypatch.setattr(dbos_sys_db.SystemDatabase, "list_queues", list_queues)
    worker = Workspace.temporary(tmp_path / "fresh")
    worker.open()
    try:
        worker.start_worker("worker")
        deadline = time.monotonic() + DEADLINE
        while not looks and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        worker.close()
    assert looks, "DBOS's queue manager never looked for queues"
    assert {TASK_QUEUE, WORKFLOW_QUEUE} <= looks[0]


def test_the_client_announces_each_enqueue_it_commits_itself(ws: Workspace) -> None:
    heard: list[str] = []
    client = TaskQueueClient(ws.store.url, announce=lambda: heard.append("queued"))
    task = ws.tasks.create(TaskDraft(title="announce"))
    client.enqueue(task.id, 1)
    assert heard == ["queued"]
    client.close()
