"""What this worker's DBOS queue threads cost while there is nothing to do.

DBOS gives every queue a thread that polls it every ``polling_interval_sec`` (0.1 s here, so a
queued run starts promptly). Each poll re-reads the queue's row (``get_queue``), then claims in
a transaction that first reads the latest application version (``_is_latest_version``): three
queues, two transactions and three statements each, thirty times a second, whether or not
anything was queued -- most of an idle worker's CPU, and about a third of a busy one's on
PostgreSQL. DBOS has no hook to poll now, so this module wraps three `SystemDatabase` methods
(internal API, pinned with the dbos version by ``tests/engine/test_queue_polls.py``):

- ``get_queue``, called from a queue thread: answered from a copy at most `QUEUE_ROW_SECONDS`
  old (our queues' rows change only when a worker registers them, at launch);
- ``_is_latest_version``: remembered for `VERSION_SECONDS` (a version registers at launch);
- ``start_queued_workflows`` on our own queues (`gate`): an idle queue's poll claims nothing
  without touching the database unless the store's change signal moved since its last real
  poll (any commit, ours or another process's: `stagent.store.watcher`), its last real poll
  claimed something or stopped at a limit (more may wait), or ``idle_seconds`` passed (the
  safety net for an entry no signal announced). Enqueues outside a store write announce
  themselves (`stagent.store.database.Store.notify`), so a run queued from the CLI still starts
  within one poll interval. A poll the gate lets through first asks whether the queue has an
  entry at all (`has_entries`, one indexed read): every commit moves the change signal, so
  while a workflow runs its steps (no enqueue) each queue would otherwise claim in a write
  transaction every poll interval for nothing (~1.7 ms of CPU each on SQLite).

Between polls an idle queue's thread sleeps on that change signal instead of waking every 0.1 s
(DBOS's module-level ``queue_worker_thread`` is wrapped to hand it a `_WakeableStop`); the
worker's shutdown wakes it first (`stopping`). Before that sleep comes DBOS's own poll interval,
which no commit cuts short -- the write that records a run commits just before its queue entry,
so its poll found nothing and the entry waited out the interval (~0.1 s a workflow run, 1 ms a
step of a 100-step run). A gated queue's thread waits that interval on its queue's
`stagent.engine.queue.QUEUED` event instead: an entry this process commits
(`stagent.engine.queue.queued`) is claimed at once (at most one poll an entry, itself cheaper
than the enqueue); a queue whose last poll stopped at a limit keeps DBOS's interval (a full
queue claims nothing sooner, and a burst of entries waits for its slots in batches).

DBOS's queue manager (``queue_thread``) starts a thread for each queue registered in the
database, looking at launch and then once a second. A worker registers its queues just after
``DBOS.launch()``, so on a fresh database the first look found none and the first queued run
waited a second for its queue's thread. The manager now waits for the worker's registrations
(`expect_queues` before the launch, `queues_registered` after) before its first look.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dbos import _dbos as dbos_launcher  # pyright: ignore[reportPrivateUsage]
from dbos import _queue as dbos_queue  # pyright: ignore[reportPrivateUsage]
from dbos._sys_db import SystemDatabase, WorkflowStatusString

from stagent.engine.queue import QUEUED

QUEUE_ROW_SECONDS = 5.0
"""How old a queue thread's copy of its queue's row may be."""
VERSION_SECONDS = 5.0
"""How long the answer to "is this worker's version the latest?" is reused."""
QUEUE_THREAD_PREFIX = "queue-worker-"
"""How DBOS names a queue's polling thread (``dbos._queue.queue_thread``)."""

QUEUES_READY_SECONDS = 5.0
"""How long DBOS's queue manager waits at launch for `queues_registered` (a launch that fails
before it never leaves the manager blocked for longer)."""

STOP_CHECK_SECONDS = 1.0
"""How long an idle queue's thread sleeps at most before it looks at DBOS's stop event (a
worker's `stopping` wakes it at once)."""

Clock = Callable[[], float]


@dataclass
class _QueueState:
    seen: int = -1
    polled_at: float = float("-inf")
    busy: bool = True
    at_limit: bool = False
    claims: int = 0


class PollGate:
    """Decides, per queue, whether a poll must ask the database (see the module docstring)."""

    def __init__(
        self,
        version: Callable[[], int],
        idle_seconds: float,
        clock: Clock = time.monotonic,
        wait_change: Callable[[int, float], object] | None = None,
    ) -> None:
        """``version``: the change signal's count; ``wait_change(seen, timeout)``: block until
        it moves past ``seen`` (`stagent.store.notifier.ChangeNotifier.wait`; None: an idle
        queue's thread keeps waking every poll interval and skips the database)."""
        self._version = version
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._wait_change = wait_change
        self._queues: dict[str, _QueueState] = {}

    def gate(self, names: Iterable[str]) -> None:
        """Let idle polls of these queues skip the database."""
        for name in names:
            self._queues.setdefault(name, _QueueState())

    def should_poll(self, name: str) -> bool:
        """Whether this poll of ``name`` must run; if so, it is recorded as started now."""
        state = self._queues.get(name)
        if state is None:
            return True
        version, now = self._version(), self._clock()
        if not state.busy and version == state.seen and now - state.polled_at < self._idle_seconds:
            return False
        state.seen, state.polled_at = version, now
        return True

    def sleep_while_idle(self, name: str, stop: threading.Event) -> None:
        """For an idle queue: block until the change signal moves, the idle interval ends,
        ``stop`` is set or the worker stops (`stopping`); otherwise return at once."""
        state = self._queues.get(name)
        if state is None or state.busy or self._wait_change is None:
            return
        deadline = state.polled_at + self._idle_seconds
        while not stop.is_set() and not _stopping.is_set():
            left = deadline - self._clock()
            if left <= 0 or self._version() != state.seen:
                return
            self._wait_change(state.seen, min(left, STOP_CHECK_SECONDS))

    def polled(self, name: str, claimed: int, stopped_at_limit: bool) -> None:
        """Record what a real poll found: a queue that yielded work is polled again."""
        state = self._queues.get(name)
        if state is not None:
            state.busy = claimed > 0 or stopped_at_limit
            state.at_limit = stopped_at_limit
            state.claims += 1

    def found_empty(self, name: str) -> None:
        """Record a poll that found no entry in the queue (`has_entries`): no claim was asked,
        and the queue is idle."""
        state = self._queues.get(name)
        if state is not None:
            state.busy = state.at_limit = False

    def wakes_early(self, name: str) -> bool:
        """Whether an entry committed on ``name`` may cut its poll interval short: it is gated
        and its last real poll did not stop at a limit (a full queue claims nothing sooner)."""
        state = self._queues.get(name)
        return state is not None and not state.at_limit

    def claims(self, name: str) -> int:
        """How many claims (DBOS's write transaction) polls of ``name`` asked so far."""
        state = self._queues.get(name)
        return state.claims if state is not None else 0


class _WakeableStop:
    """What a queue thread gets as DBOS's stop event: between polls it waits DBOS's interval
    (cut short by an entry this process commits on the queue: `_interval`), then, while its
    queue is idle, sleeps on the change signal (`PollGate.sleep_while_idle`) instead of waking
    every 0.1 s to skip the database."""

    def __init__(self, stop: threading.Event, name: str) -> None:
        self._stop = stop
        self._name = name
        self._queued = QUEUED.setdefault(name, threading.Event())

    def is_set(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        gate = _gate
        if gate is None:
            return self._stop.wait(timeout)
        if self._interval(gate, timeout):  # an entry was queued here: poll now
            return self._stop.is_set()
        if self._stop.is_set():
            return True
        gate.sleep_while_idle(self._name, self._stop)
        return self._stop.is_set()

    def _interval(self, gate: PollGate, timeout: float | None) -> bool:
        """Wait out DBOS's poll interval; True if it ended early because this process
        committed an entry on the queue (`stagent.engine.queue.queued`), which a queue whose
        last poll stopped at a limit does not heed (`PollGate.wakes_early`)."""
        if timeout is None or _stopping.is_set() or not gate.wakes_early(self._name):
            self._stop.wait(timeout)
            return False
        if not self._queued.wait(timeout):
            return False
        self._queued.clear()  # before the poll's read: an entry committed later sets it again
        return True


_originals: dict[str, Any] = {}
_gate: PollGate | None = None
_stopping = threading.Event()
_queue_rows: dict[str, tuple[float, Any]] = {}
_versions: dict[str, tuple[float, bool]] = {}
_lock = threading.Lock()
_queues_ready = threading.Event()
_queues_ready.set()


def install(gate: PollGate | None) -> None:
    """Wrap DBOS's three methods (once per process) and use ``gate`` for our queues' polls
    (None: every poll asks the database). Forgets every cached answer."""
    global _gate
    with _lock:
        _gate = gate
        _stopping.clear()
        for event in QUEUED.values():  # what a stopped worker's `stopping` set
            event.clear()
        _queue_rows.clear()
        _versions.clear()
        if _originals:
            return
        _originals["queue_worker_thread"] = dbos_queue.queue_worker_thread
        dbos_queue.queue_worker_thread = _wrap_queue_worker_thread(dbos_queue.queue_worker_thread)
        # ``DBOS.launch`` starts the manager from the name ``_dbos`` imported.
        manager = getattr(dbos_launcher, "queue_thread")  # noqa: B009 - not re-exported
        _originals["queue_thread"] = manager
        setattr(dbos_launcher, "queue_thread", _wrap_queue_thread(manager))  # noqa: B010
        for name, wrap in (
            ("get_queue", _wrap_get_queue),
            ("_is_latest_version", _wrap_is_latest_version),
            ("start_queued_workflows", _wrap_start_queued_workflows),
        ):
            original = getattr(SystemDatabase, name)
            _originals[name] = original
            setattr(SystemDatabase, name, wrap(original))


def expect_queues() -> None:
    """Call before ``DBOS.launch()`` (after `install`): DBOS's queue manager waits for
    `queues_registered` (at most `QUEUES_READY_SECONDS`) before it first looks for queues."""
    _queues_ready.clear()


def queues_registered() -> None:
    """This worker's queues are in the database: the manager may look (see `expect_queues`)."""
    _queues_ready.set()


def stopping(wake: Callable[[], None]) -> None:
    """The worker is about to stop DBOS: idle queue threads stop sleeping on the change signal
    (``wake`` rings it) and wait on DBOS's stop event again."""
    _stopping.set()
    for event in QUEUED.values():  # a thread waiting out DBOS's interval on it
        event.set()
    wake()


def gate_queues(*names: str) -> None:
    """Let idle polls of these queues skip the database (with the installed gate, if any)."""
    if _gate is not None:
        _gate.gate(names)


def claims(name: str) -> int:
    """How many claims polls of our queue ``name`` asked of DBOS (`PollGate.claims`; 0
    without a gate)."""
    gate = _gate
    return gate.claims(name) if gate is not None else 0


def _wrap_queue_worker_thread(original: Any) -> Any:
    @functools.wraps(original)
    def queue_worker_thread(stop_event: threading.Event, dbos: Any, queue: Any) -> None:
        return original(_WakeableStop(stop_event, queue.name), dbos, queue)

    return queue_worker_thread


def _wrap_queue_thread(original: Any) -> Any:
    @functools.wraps(original)
    def queue_thread(stop_event: threading.Event, dbos: Any) -> None:
        _queues_ready.wait(QUEUES_READY_SECONDS)
        return original(stop_event, dbos)

    return queue_thread


def _wrap_get_queue(original: Any) -> Any:
    @functools.wraps(original)  # keeps the mark `durable.pin_worker_concurrency` checks
    def get_queue(self: SystemDatabase, name: str, **kwargs: Any) -> Any:
        if kwargs or not threading.current_thread().name.startswith(QUEUE_THREAD_PREFIX):
            return original(self, name, **kwargs)
        now = time.monotonic()
        cached = _queue_rows.get(name)
        if cached is not None and now - cached[0] < QUEUE_ROW_SECONDS:
            return cached[1]
        queue = original(self, name)
        _queue_rows[name] = (now, queue)
        return queue

    return get_queue


def _wrap_is_latest_version(original: Any) -> Any:
    @functools.wraps(original)  # keeps the mark `durable.pin_worker_concurrency` checks
    def is_latest_version(self: SystemDatabase, app_version: str, c: Any = None) -> bool:
        now = time.monotonic()
        cached = _versions.get(app_version)
        if cached is not None and now - cached[0] < VERSION_SECONDS:
            return cached[1]
        latest = bool(original(self, app_version, c))
        _versions[app_version] = (now, latest)
        return latest

    return is_latest_version


def has_entries(sys_db: SystemDatabase, name: str) -> bool:
    """Whether any entry of queue ``name`` waits to be claimed: one read on DBOS's in-flight
    index (``queue_name``, ``status``) on a pooled driver connection, no write transaction.
    Any ``ENQUEUED`` row counts, whatever its version, application or partition: a superset of
    what the claim would take, so False means the claim would take nothing."""
    place = (sys_db.engine.dialect.name, sys_db.schema)
    sql = _ENTRIES_SQL.get(place)
    if sql is None:
        sql = _ENTRIES_SQL[place] = _entries_sql(sys_db)
    raw = sys_db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, {"queue": name})
            found = cursor.fetchone() is not None
        finally:
            cursor.close()
        raw.rollback()  # end the read's snapshot before the connection goes back
    finally:
        raw.close()
    return found


_ENTRIES_SQL: dict[tuple[str, str | None], str] = {}
"""`has_entries`' statement by dialect and DBOS schema (what it depends on: a process may open
workspaces on both backends, one after the other)."""


def _entries_sql(sys_db: SystemDatabase) -> str:
    """`has_entries`' statement for the driver (sqlite3: ``:queue``, psycopg: ``%(queue)s``).
    The status is a literal and repeated as DBOS's in-flight partial index states it, so
    SQLite's planner proves the index applies (a bound status scans the table)."""
    dialect = sys_db.engine.dialect
    quote = dialect.identifier_preparer.quote
    table = quote(sys_db.tables.workflow_status.name)
    if sys_db.schema:  # PostgreSQL's DBOS schema; SQLite's tables are unqualified
        table = f"{quote(sys_db.schema)}.{table}"
    queue = ":queue" if dialect.name == "sqlite" else "%(queue)s"
    enqueued, pending = WorkflowStatusString.ENQUEUED.value, WorkflowStatusString.PENDING.value
    return (
        f"SELECT 1 FROM {table} WHERE queue_name = {queue} AND status = '{enqueued}'"
        f" AND status IN ('{enqueued}', '{pending}') LIMIT 1"
    )


def _wrap_start_queued_workflows(original: Any) -> Any:
    @functools.wraps(original)  # keeps the mark `durable.pin_worker_concurrency` checks
    def start_queued_workflows(self: SystemDatabase, queue: Any, *args: Any, **kwargs: Any) -> Any:
        gate = _gate
        if gate is None:
            return original(self, queue, *args, **kwargs)
        if not gate.should_poll(queue.name):
            return [], None
        if not has_entries(self, queue.name):
            gate.found_empty(queue.name)
            return [], None
        try:
            claimed, stop_reason = original(self, queue, *args, **kwargs)
        except BaseException:
            gate.polled(queue.name, 0, stopped_at_limit=True)  # a lock conflict: look again
            raise
        gate.polled(queue.name, len(claimed), stop_reason is not None)
        return claimed, stop_reason

    return start_queued_workflows
