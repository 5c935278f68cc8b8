"""DBOS wiring: one workflow that runs a task on one queue (the client every process uses to
enqueue, cancel and look up runs is `stagent.engine.queue.TaskQueueClient`; it imports DBOS lazily).

Conditions from ``shared/reference/dbos-engine.md`` that this module keeps:

- ``application_version`` is pinned (`WORKFLOW_PROTOCOL`), so editing code never strands runs;
- every process that launches DBOS has a unique ``executor_id`` (see `stagent.engine.leases`);
- processes that only enqueue or cancel use `DBOSClient`, never ``DBOS.launch()``;
- the SQLite file is put in WAL mode by our migrations before DBOS first opens it;
- the queue polls every ``queue_poll_seconds`` (0.1 s by default), not every second;
- side effects happen in steps only; the workflow body just calls the step.
"""

from __future__ import annotations

import logging

from dbos import DBOS, DBOSConfig

from stagent.engine.dbos_logs import quiet_cancellations
from stagent.engine.executor import RunContext, execute_task_run
from stagent.engine.queue import (
    APP_NAME,
    RUN_TASK_WORKFLOW,
    TASK_QUEUE,
    WORKFLOW_PROTOCOL,
    TaskQueueClient,
    dbos_url,
    workflow_id_for,
)
from stagent.settings import Settings

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

_context: RunContext | None = None


def _require_context() -> RunContext:
    if _context is None:
        raise RuntimeError("the task engine was used before DBOS was launched in this process")
    return _context


@DBOS.step(name="stagent.execute_task_run")
async def _execute_step(task_id: str, run_number: int) -> str:
    return await execute_task_run(_require_context(), task_id, run_number)


@DBOS.workflow(name=RUN_TASK_WORKFLOW)
async def run_task_workflow(task_id: str, run_number: int) -> str:
    """Durably run one task. On a crash the step re-runs; a finished run is never repeated."""
    return await _execute_step(task_id, run_number)


def launch(settings: Settings, database_url: str, executor_id: str, context: RunContext) -> None:
    """Start DBOS in this process as a worker that executes queued tasks."""
    global _context
    _context = context
    config: DBOSConfig = {
        "name": APP_NAME,
        "system_database_url": dbos_url(database_url),
        "application_version": WORKFLOW_PROTOCOL,
        "executor_id": executor_id,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": 0.05,
    }
    DBOS.destroy()
    DBOS(config=config)
    DBOS.launch()
    DBOS.register_queue(
        TASK_QUEUE,
        worker_concurrency=settings.concurrency,
        polling_interval_sec=settings.queue_poll_seconds,
    )
    logging.getLogger("dbos").setLevel(logging.WARNING)
    quiet_cancellations()


def shutdown() -> None:
    """Stop DBOS in this process (in-flight runs are recovered by the next worker)."""
    global _context
    # DBOS logs every asyncio task it cancels on the way out; they are recovered, not lost.
    logging.getLogger("dbos").setLevel(logging.ERROR)
    DBOS.destroy(workflow_completion_timeout_sec=0)
    _context = None


def recover_executor(executor_id: str) -> int:
    """Hand a dead executor's pending runs to the queue again; returns how many."""
    return len(DBOS._recover_pending_workflows([executor_id]))  # pyright: ignore[reportPrivateUsage]
