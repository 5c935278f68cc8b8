"""Reconcile and a workflow step's queued run: between `prepare`'s commit and the child
workflow's start the run is queued in our tables and unknown to the engine. A heartbeat's
reconcile then leaves it to its interpreter (queueing it on the task queue would only make the
step wait for a queue poll), unless it stayed unknown past the grace: then it is queued, as a
plain task's run is at once. No worker runs: what reconcile does is all that happens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from stagent.domain.ids import utcnow
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflows import WorkflowStep
from stagent.engine import reconcile as reconcile_module
from stagent.engine import workflow_steps
from stagent.engine.options import resolve
from stagent.engine.reconcile import reconcile
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle
from stagent.store.tables import TaskRow
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def queued_step(ws: Workspace) -> str:
    """A step's task with its run queued by `prepare`, its child not started yet."""
    spec = step("a", "alpha")
    definition = parse_definition({"name": "rec", "pattern": "sequence", "steps": [spec]})
    wf = ws.workflows.run(ws.workflows.add(definition).id)
    ready = workflow_steps.prepare(ws.store, wf.id, 1, WorkflowStep.model_validate(spec), "go")
    return ready["task"]


def engine_id(ws: Workspace, task_id: str) -> str:
    return ws.tasks.get(task_id).workflow_id or ""


def test_a_step_run_queued_a_moment_ago_is_left_to_its_interpreter(
    workspace: Workspace,
) -> None:
    task_id = queued_step(workspace)
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 0}
    assert workspace.queue.status(engine_id(workspace, task_id)) is None
    assert workspace.tasks.get(task_id).status is TaskStatus.QUEUED


def test_a_step_run_unknown_to_the_engine_past_the_grace_is_queued(
    workspace: Workspace,
) -> None:
    task_id = queued_step(workspace)
    long_ago = utcnow() - timedelta(seconds=reconcile_module.STEP_START_GRACE_SECONDS + 5)
    with workspace.store.write() as session:
        session.execute(update(TaskRow).where(TaskRow.id == task_id).values(updated_at=long_ago))
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 1, "failed": 0}
    assert workspace.queue.status(engine_id(workspace, task_id)) == "ENQUEUED"


def test_a_plain_task_beside_a_starting_step_is_still_queued_again_at_once(
    workspace: Workspace,
) -> None:
    step_task = queued_step(workspace)
    plain = workspace.tasks.create(TaskDraft(title="plain"))
    with workspace.store.write() as session:
        lifecycle.queue_run(session, plain.id, resolve(plain, None))
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 1, "failed": 0}
    assert workspace.queue.status(engine_id(workspace, plain.id)) == "ENQUEUED"
    assert workspace.queue.status(engine_id(workspace, step_task)) is None
