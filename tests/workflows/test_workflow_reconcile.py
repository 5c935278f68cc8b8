"""Reconcile and a workflow step's run. Protocol stagent-wf-4: between `prepare`'s commit and the
child workflow's start the run is queued in our tables and unknown to the engine. A heartbeat's
reconcile then leaves it to its interpreter (queueing it on the task queue would only make the
step wait for a queue poll), unless it stayed unknown past the grace: then it is queued, as a
plain task's run is at once. Protocol stagent-wf-5: the run executes inside its interpreter and
names it as its engine workflow, so it is left alone while the interpreter lives. No worker
runs: what reconcile does is all that happens."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from stagent.domain.ids import utcnow
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflows import WorkflowStep
from stagent.engine import reconcile as reconcile_module
from stagent.engine import workflow_inline, workflow_steps
from stagent.engine.executor import RunContext
from stagent.engine.options import resolve
from stagent.engine.reconcile import reconcile
from stagent.engine.services import TaskDraft
from stagent.store import lifecycle, step_state
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


def inline_step(ws: Workspace) -> tuple[str, str]:
    """A step's run claimed inside its interpreter (protocol stagent-wf-5), as a worker that
    died mid-step left it: ``(task id, the interpreter's engine id)``. The interpreter is
    queued in the engine (no worker runs it)."""
    spec = step("a", "alpha")
    definition = parse_definition({"name": "inl", "pattern": "sequence", "steps": [spec]})
    wf = ws.workflows.run(ws.workflows.add(definition).id)
    with ws.store.read() as session:
        interpreter = step_state.run_state(session, wf.id).engine_id or ""
    ctx = RunContext(store=ws.store, runtimes=ws.runtimes, gate=ws.gate)
    started = workflow_inline.start_step(
        ctx,
        wf.id,
        1,
        WorkflowStep.model_validate(spec),
        "go",
        engine_id=interpreter,
        executing=interpreter,
    )
    assert isinstance(started, workflow_inline.StartedStep)
    return started.claim.task.id, interpreter


def test_a_step_run_inside_its_live_interpreter_is_left_alone_and_failed_once_it_ended(
    workspace: Workspace,
) -> None:
    task_id, interpreter = inline_step(workspace)
    assert engine_id(workspace, task_id) == interpreter
    assert workspace.tasks.get(task_id).status is TaskStatus.RUNNING
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 0}
    assert workspace.tasks.get(task_id).status is TaskStatus.RUNNING
    workspace.queue.cancel(interpreter)
    assert reconcile(workspace.store, workspace.queue) == {"requeued": 0, "failed": 1}
    assert workspace.tasks.get(task_id).status is TaskStatus.FAILED


def test_cancelling_a_step_task_run_inside_its_interpreter_leaves_the_interpreter(
    workspace: Workspace,
) -> None:
    task_id, interpreter = inline_step(workspace)
    assert workspace.tasks.cancel(task_id).status is TaskStatus.CANCELLED
    assert workspace.queue.status(interpreter) == "ENQUEUED"
