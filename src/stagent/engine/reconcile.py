"""Bring task rows and engine runs back into agreement after a crash.

Runs when a worker starts. A task row is never left ``queued`` with nothing queued, nor
``running`` with no live run: the first is queued again, the second fails with a visible reason.
"""

from __future__ import annotations

from stagent.domain.tasks import TaskStatus
from stagent.engine.queue import TaskQueueClient
from stagent.store import tasks as task_repo
from stagent.store.database import Store

FINISHED_ENGINE_STATES = frozenset(
    {"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
)


def reconcile(store: Store, queue: TaskQueueClient) -> dict[str, int]:
    """Re-queue orphaned queued tasks and fail running tasks whose run is gone."""
    counts = {"requeued": 0, "failed": 0}
    with store.read() as session:
        queued = task_repo.list_tasks(session, status=TaskStatus.QUEUED)
        active = task_repo.list_tasks(session, status=TaskStatus.RUNNING) + task_repo.list_tasks(
            session, status=TaskStatus.WAITING
        )
    for task in queued:
        if task.workflow_id and queue.status(task.workflow_id) is None:
            queue.enqueue(task.id, task.run_count)
            counts["requeued"] += 1
    for task in active:
        engine_status = queue.status(task.workflow_id) if task.workflow_id else None
        if engine_status is None or engine_status in FINISHED_ENGINE_STATES:
            reason = f"interrupted: its run is {engine_status or 'missing'} in the engine"
            with store.write() as session:
                row = task_repo.get_row(session, task.id, for_update=True)
                if TaskStatus(row.status) in (TaskStatus.RUNNING, TaskStatus.WAITING):
                    task_repo.transition(
                        session, task.id, TaskStatus.FAILED, reason=reason, error=reason
                    )
                    counts["failed"] += 1
    return counts
