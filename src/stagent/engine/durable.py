"""DBOS wiring: one workflow that runs a task on one queue (the client every process uses to
enqueue, cancel and look up runs is `stagent.engine.queue.TaskQueueClient`; it imports DBOS lazily).

Conditions from ``shared/reference/dbos-engine.md`` that this module keeps:

- ``application_version`` is pinned (`WORKFLOW_PROTOCOL`), so editing code never strands runs;
- every process that launches DBOS has a unique ``executor_id`` (see `stagent.engine.leases`);
- processes that only enqueue or cancel use `DBOSClient`, never ``DBOS.launch()``;
- the SQLite file is put in WAL mode by our migrations before DBOS first opens it;
- the queue polls every ``queue_poll_seconds`` (0.1 s by default), not every second, but an
  idle queue's poll asks the database only when something changed, or every
  ``queue_idle_poll_seconds`` (`stagent.engine.queue_polls`);
- the task workflow's body is the executor itself, idempotent by the run's records (see
  `run_task_workflow`); the workflow interpreter's side effects happen in steps;
- a run executes on the worker's own event loop (`stagent.engine.run_loop`), not on the one DBOS
  dispatches workflows through: its synchronous store calls would hold up every dispatch.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from dbos import DBOS, DBOSConfig, Queue
from dbos._sys_db import SystemDatabase

from stagent.engine import live_rounds, queue_polls, workflow_checkpoints
from stagent.engine.dbos_logs import quiet_cancellations
from stagent.engine.executor import RunContext, execute_task_run
from stagent.engine.queue import (
    ADOPTED_PROTOCOLS,
    APP_NAME,
    RUN_TASK_WORKFLOW,
    TASK_QUEUE,
    WORKFLOW_PROTOCOL,
    WORKFLOW_QUEUE,
    TaskQueueClient,
    dbos_url,
    workflow_id_for,
)
from stagent.engine.run_loop import RunLoop
from stagent.engine.workflow_steps import SettleOnEnd, StepRef
from stagent.settings import Settings
from stagent.store.engine import ping_after_idle

__all__ = [
    "APP_NAME",
    "RUN_TASK_WORKFLOW",
    "TASK_QUEUE",
    "WORKFLOW_PROTOCOL",
    "TaskQueueClient",
    "dbos_url",
    "launch",
    "recover_executor",
    "run_task_workflow",
    "shutdown",
    "workflow_id_for",
]

T = TypeVar("T")

_context: RunContext | None = None
_task_queue: Queue | None = None
_run_loop: RunLoop | None = None

WORKFLOW_CONCURRENCY = 8
"""Workflow interpreters one worker drives at once (they mostly wait on their steps' tasks)."""


def _require_context() -> RunContext:
    if _context is None:
        raise RuntimeError("the task engine was used before DBOS was launched in this process")
    return _context


def context() -> RunContext:
    """The run context of this worker process (for the workflow interpreter's steps)."""
    return _require_context()


def task_queue() -> Queue:
    """The task queue registered in this worker process."""
    if _task_queue is None:
        raise RuntimeError("the task queue was used before DBOS was launched in this process")
    return _task_queue


@DBOS.workflow(name=RUN_TASK_WORKFLOW)
async def run_task_workflow(
    task_id: str, run_number: int, step: StepRef | None = None
) -> str | dict[str, Any]:
    """Durably run one task. On a crash DBOS runs this body again; a finished run is never
    repeated. Returns the run's final status; for a workflow step's run (``step``: its
    workflow, run number and step key, passed by a ``stagent-wf-4`` interpreter; a
    ``stagent-wf-5`` one runs its steps' runs itself) the step's settled outcome
    instead, settled in the transaction that ends the run
    (`stagent.engine.workflow_steps.SettleOnEnd`), so the interpreter needs no DBOS step of its
    own to settle it.

    The body has no DBOS step on purpose. A step only pays (two system-database transactions)
    when a later step must not redo it, and there is no later step: the run's own records make
    `execute_task_run` idempotent (``claim`` returns None for an ended run and takes over a
    dead one's under a new attempt; every write is fenced by that attempt; the final event and
    the run's end are one transaction), which is what a re-executed step relied on anyway. A
    workflow recorded with the former ``stagent.execute_task_run`` step replays fine: with no
    step call, DBOS never compares the recorded steps.
    """
    ctx = _require_context()
    if _run_loop is None:
        raise RuntimeError("the task engine was used before DBOS was launched in this process")
    return await _run_loop.run(_run(ctx, task_id, run_number, step))


def run_loop_hops() -> int:
    """How many coroutines went over to the worker's run loop from another thread so far
    (`stagent.engine.run_loop.RunLoop.hops`; 0 before the launch)."""
    return _run_loop.hops if _run_loop is not None else 0


async def on_run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the worker's run loop (`stagent.engine.run_loop`) and await it from
    DBOS's: a workflow step's run executed inside its interpreter goes there like a task's.
    Called on the run loop already (a sequence's interpreter runs there), ``coro`` is awaited
    in place."""
    if _run_loop is None:
        coro.close()
        raise RuntimeError("the task engine was used before DBOS was launched in this process")
    return await _run_loop.run(coro)


async def _run(
    ctx: RunContext, task_id: str, run_number: int, step: StepRef | None
) -> str | dict[str, Any]:
    """The body of `run_task_workflow`, on the worker's run loop."""
    if step is None:
        return await execute_task_run(ctx, task_id, run_number)
    settled = SettleOnEnd(step)
    with workflow_checkpoints.step_known(step):
        await execute_task_run(ctx, task_id, run_number, settled)
    return settled.result(ctx.store)


def launch(settings: Settings, database_url: str, executor_id: str, context: RunContext) -> None:
    """Start DBOS in this process as a worker that executes queued tasks."""
    global _context, _task_queue, _run_loop
    from stagent.engine import workflow_durable  # registers the interpreter before launch

    del workflow_durable
    _context = context
    live_rounds.bind(executor_id, settings.executor_lease_seconds)
    if _run_loop is None:  # before DBOS: its recovery may dispatch runs at launch
        _run_loop = RunLoop()
        _run_loop.start()
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": dbos_url(database_url),
        "application_version": WORKFLOW_PROTOCOL,
        "executor_id": executor_id,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
        # Not a ping round trip before each of DBOS's transactions: only after 2 s idle (below).
        "db_engine_kwargs": {"pool_pre_ping": False},
    }
    DBOS.destroy()
    pin_worker_concurrency(TASK_QUEUE, settings.concurrency)
    idle_seconds = max(settings.queue_idle_poll_seconds, settings.queue_poll_seconds)
    changes = context.store.changes
    queue_polls.install(
        queue_polls.PollGate(lambda: changes.version, idle_seconds, wait_change=changes.wait)
    )
    queue_polls.gate_queues(TASK_QUEUE, WORKFLOW_QUEUE)
    DBOS(config=config)
    queue_polls.expect_queues()  # DBOS's queue manager first looks once they are registered
    try:
        try:
            DBOS.launch()
        except BaseException:
            _stop_run_loop()
            raise
        _ping_dbos_connections_after_idle()
        adopt_older_runs()
        _task_queue = _register_queues(settings)
    finally:
        queue_polls.queues_registered()
    logging.getLogger("dbos").setLevel(logging.WARNING)
    quiet_cancellations()


def _register_queues(settings: Settings) -> Queue:
    """Register the task and workflow queues (in the database); returns the task queue."""
    # The per-worker limit is this process's own (see pin_worker_concurrency): the shared queue
    # row in the database carries none, so no worker's setting leaks into another.
    task_queue = DBOS.register_queue(
        TASK_QUEUE,
        polling_interval_sec=settings.queue_poll_seconds,
        on_conflict="always_update",
    )
    DBOS.register_queue(
        WORKFLOW_QUEUE,
        worker_concurrency=WORKFLOW_CONCURRENCY,
        polling_interval_sec=settings.queue_poll_seconds,
    )
    return task_queue


def _ping_dbos_connections_after_idle() -> None:
    """DBOS's PostgreSQL pool pings a connection only when it sat idle (`ping_after_idle`), as
    ours does; a worker's queue polls and workflow writes otherwise pay a round trip each."""
    from dbos._dbos import _get_dbos_instance  # pyright: ignore[reportPrivateUsage]

    sys_db: SystemDatabase = _get_dbos_instance()._sys_db  # pyright: ignore[reportPrivateUsage]
    if sys_db.engine.dialect.name == "postgresql":
        ping_after_idle(sys_db.engine)


_worker_limits: dict[str, int] = {}


def pin_worker_concurrency(queue_name: str, concurrency: int) -> None:
    """Make ``concurrency`` this process's own limit for ``queue_name``.

    DBOS keeps one ``worker_concurrency`` per queue, in the database, and every worker's queue
    thread re-reads it before each poll: the last worker to register would set every worker's
    limit. This wraps the one read that thread makes (``SystemDatabase.get_queue``, an internal
    API pinned with the dbos minor version and covered by a two-worker test) so that in this
    process the queue carries this process's limit. Clients (which never dequeue) are untouched.
    """
    _worker_limits[queue_name] = concurrency
    original = SystemDatabase.get_queue
    if getattr(original, "_stagent_local_limits", False):
        return

    def get_queue(self: SystemDatabase, name: str, **kwargs: Any) -> Queue | None:
        queue = original(self, name, **kwargs)
        limit = _worker_limits.get(name)
        if queue is not None and limit is not None and kwargs.get("client_system_database") is None:
            queue._worker_concurrency = limit  # pyright: ignore[reportPrivateUsage]
        return queue

    get_queue._stagent_local_limits = True  # type: ignore[attr-defined]
    SystemDatabase.get_queue = get_queue  # type: ignore[method-assign]


def shutdown() -> None:
    """Stop DBOS in this process (in-flight runs are recovered by the next worker)."""
    global _context, _task_queue
    # DBOS logs every asyncio task it cancels on the way out; they are recovered, not lost.
    logging.getLogger("dbos").setLevel(logging.ERROR)
    if _context is not None:
        queue_polls.stopping(_context.store.changes.ring)
    DBOS.destroy(workflow_completion_timeout_sec=0)
    # Only now: until DBOS's loop stopped, a workflow may still be awaiting a run on this one.
    _stop_run_loop()
    _context = None
    _worker_limits.clear()
    _task_queue = None


def _stop_run_loop() -> None:
    global _run_loop
    if _run_loop is not None:
        _run_loop.stop()
        _run_loop = None


UNFINISHED_ENGINE_STATES = ("PENDING", "ENQUEUED", "DELAYED")


def adopt_older_runs() -> int:
    """Label the unfinished workflows of older protocols (`ADOPTED_PROTOCOLS`) with this one,
    so this worker's queue dequeues them and lease recovery takes them over (DBOS only runs
    workflows of its own version). Their recordings replay unchanged: the workflows they name
    keep their old code (`stagent.engine.queue.RUN_WORKFLOW_WF4`). Returns how many. One
    statement on DBOS's ``workflow_status`` (an internal table, pinned with the dbos minor
    version and covered by a test)."""
    from dbos._dbos import _get_dbos_instance  # pyright: ignore[reportPrivateUsage]

    sys_db: SystemDatabase = _get_dbos_instance()._sys_db  # pyright: ignore[reportPrivateUsage]
    status = sys_db.tables.workflow_status
    adopt = (
        status.update()
        .where(
            status.c.application_version.in_(ADOPTED_PROTOCOLS),
            status.c.status.in_(UNFINISHED_ENGINE_STATES),
        )
        .values(application_version=WORKFLOW_PROTOCOL)
    )
    with sys_db.engine.begin() as conn:
        return conn.execute(adopt).rowcount


def recover_executor(executor_id: str) -> int:
    """Hand a dead executor's pending runs to the queue again; returns how many."""
    recovered = len(DBOS._recover_pending_workflows([executor_id]))  # pyright: ignore[reportPrivateUsage]
    if recovered and _context is not None:
        _context.store.changes.ring()  # queued again: this worker's idle queues look at once
    return recovered
