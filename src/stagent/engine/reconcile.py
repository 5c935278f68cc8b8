"""Bring task rows and engine runs back into agreement after a crash.

Runs when a worker starts and on each of its heartbeats. A task row is never left ``queued``
with nothing queued, nor ``running`` with no live run: the first is queued again, the second
fails with a visible reason. A workflow step's queued run is the exception for a while
(`STEP_START_GRACE_SECONDS`): its interpreter starts it as a child workflow right after
`prepare` commits, and DBOS's recovery of the interpreter does so after a crash, so queueing it
on the task queue meanwhile only makes it wait for a queue poll.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from stagent.domain.ids import utcnow
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.queue import TaskQueueClient
from stagent.store import lifecycle
from stagent.store import runs as run_repo
from stagent.store import tasks as task_repo
from stagent.store.database import Store

FINISHED_ENGINE_STATES = frozenset(
    {"SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"}
)
STEP_START_GRACE_SECONDS = 120.0
"""How long a workflow step's queued run may stay unknown to the engine before reconcile queues
it on the task queue (the interpreter starts it within moments; this is the safety net)."""


def reconcile(store: Store, queue: TaskQueueClient) -> dict[str, int]:
    """Re-queue orphaned queued tasks and fail running tasks whose run is gone.

    One narrow read of the active tasks and one engine query for all their workflows: it runs
    on every heartbeat, so its cost must not grow with what each task carries."""
    counts = {"requeued": 0, "failed": 0}
    with store.read() as session:
        refs = task_repo.active_refs(session)
    engine = queue.statuses([ref.workflow_id for ref in refs if ref.workflow_id])
    grace = utcnow() - timedelta(seconds=STEP_START_GRACE_SECONDS)
    for ref in refs:
        engine_status = engine.get(ref.workflow_id) if ref.workflow_id else None
        if ref.status is TaskStatus.QUEUED:
            if ref.workflow_id and engine_status is None and not _starting(ref, grace):
                queue.enqueue(ref.task_id, ref.run_count)
                counts["requeued"] += 1
            continue
        if engine_status is None or engine_status in FINISHED_ENGINE_STATES:
            reason = f"interrupted: its run is {engine_status or 'missing'} in the engine"
            with store.write() as session:
                row = task_repo.get_row(session, ref.task_id, for_update=True)
                run = run_repo.latest_row(session, ref.task_id)
                if run is not None and TaskStatus(row.status).is_active:
                    ended = lifecycle.finish(
                        session, run.id, RunStatus.FAILED, reason=reason, error=reason
                    )
                    counts["failed"] += ended is not None
    return counts


def _starting(ref: task_repo.EngineRef, grace: datetime) -> bool:
    """A workflow step's run queued after ``grace``: its interpreter is starting it."""
    return ref.step_since is not None and ref.step_since > grace
