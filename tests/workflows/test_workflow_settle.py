"""A step's outcome is settled by its own task run, in the transaction that ends the run: the
run executes inside the interpreter (no prepare step, no child workflow); under protocol
stagent-wf-6 an attempt of a step with no retry policy is no DBOS step at all (its rows are its
record), one with a retry policy is one DBOS step per attempt (as every step under
stagent-wf-5). The stagent-wf-5 and stagent-wf-4 interpreters are kept for runs those protocols
queued or recorded: a worker adopts them at launch, and a run that returns only its status (a
stagent-wf-4 recording replayed, or a run the task queue started first) is still settled by
the interpreter's settle step. A step its interpreter knows needs no approval starts without
reading the definition (gated steps: `test_workflow_step_rules.py`)."""

from __future__ import annotations

from typing import Any

import pytest
from dbos import DBOS, SetWorkflowID

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.domain.workflows import WorkflowStep
from stagent.engine import durable
from stagent.engine import queue as engine_queue
from stagent.engine import workflow_durable as interpreter
from stagent.engine.queue import (
    RUN_WORKFLOW_WF4,
    RUN_WORKFLOW_WF5,
    WORKFLOW_PROTOCOL,
    workflow_id_for,
)
from stagent.store import step_state
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def three_steps(ws: Workspace, *, fail_last: bool = False) -> Workflow:
    last = step("c", "gamma", fail="no gamma today") if fail_last else step("c", "gamma")
    definition = parse_definition(
        {
            "name": "settled",
            "pattern": "sequence",
            "steps": [step("a", "alpha"), step("b", "beta"), last],
        }
    )
    return ws.workflows.add(definition)


def recorded_step_names(ws: Workspace, workflow_id: str) -> list[str]:
    """The DBOS steps the run's interpreter recorded, in order."""
    with ws.store.read() as session:
        engine_id = step_state.run_state(session, workflow_id).engine_id
    assert engine_id is not None
    return [s["function_name"] for s in DBOS.list_workflow_steps(engine_id)]


def test_each_step_is_settled_by_its_run_not_by_a_step_of_the_interpreter(
    worker: Workspace,
) -> None:
    wf = three_steps(worker)
    worker.workflows.run(wf.id)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [(s.status, s.output) for s in done.steps] == [
        (StepStatus.COMPLETED, "alpha"),
        (StepStatus.COMPLETED, "beta"),
        (StepStatus.COMPLETED, "gamma"),
    ]
    assert all(s.ended_at is not None for s in done.steps)
    # the interpreter's whole record, once it returned: no DBOS step per attempt (stagent-wf-6)
    assert DBOS.retrieve_workflow(engine_id_of(worker, wf.id)).get_result() == "completed"
    names = recorded_step_names(worker, wf.id)
    assert names == ["stagent.workflow.begin", "stagent.workflow.finish"]
    steps = DBOS.list_workflow_steps(engine_id_of(worker, wf.id))
    assert not [s for s in steps if s["child_workflow_id"]]  # no child workflow per step
    runs = [worker.tasks.runs(s.task_id or "")[0] for s in done.steps]
    assert {r.attempt for r in runs} == {1}
    assert {r.workflow_id for r in runs} == {engine_id_of(worker, wf.id)}  # its interpreter


def engine_id_of(ws: Workspace, workflow_id: str) -> str:
    with ws.store.read() as session:
        engine_id = step_state.run_state(session, workflow_id).engine_id
    assert engine_id is not None
    return engine_id


def as_protocol_wf4(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs started from now on are queued as a stagent-wf-4 binary queued them."""
    monkeypatch.setattr(engine_queue, "RUN_WORKFLOW", RUN_WORKFLOW_WF4)
    monkeypatch.setattr(engine_queue, "WORKFLOW_PROTOCOL", "stagent-wf-4")


def test_a_run_a_wf4_binary_queued_finishes_on_its_old_interpreter_after_the_upgrade(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = three_steps(workspace)
    with monkeypatch.context() as old_binary:
        as_protocol_wf4(old_binary)
        workspace.workflows.run(wf.id)
    workspace.start_worker("worker")  # adopts it at launch
    try:
        done = workspace.workflows.wait(wf.id, timeout=60)
        assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
        assert [s.output for s in done.steps] == ["alpha", "beta", "gamma"]
        engine_id = engine_id_of(workspace, wf.id)
        status = DBOS.get_workflow_status(engine_id)
        assert status is not None
        assert (status.name, status.app_version) == (RUN_WORKFLOW_WF4, WORKFLOW_PROTOCOL)
        assert recorded_step_names(workspace, wf.id).count("stagent.workflow.prepare") == 3
    finally:
        workspace.stop_worker()


def test_a_run_a_wf5_binary_queued_finishes_on_its_old_interpreter_after_the_upgrade(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    wf = three_steps(workspace)
    with monkeypatch.context() as old_binary:
        old_binary.setattr(engine_queue, "RUN_WORKFLOW", RUN_WORKFLOW_WF5)
        old_binary.setattr(engine_queue, "WORKFLOW_PROTOCOL", "stagent-wf-5")
        workspace.workflows.run(wf.id)
    workspace.start_worker("worker")  # adopts it at launch
    try:
        done = workspace.workflows.wait(wf.id, timeout=60)
        assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
        assert [s.output for s in done.steps] == ["alpha", "beta", "gamma"]
        status = DBOS.get_workflow_status(engine_id_of(workspace, wf.id))
        assert status is not None
        assert (status.name, status.app_version) == (RUN_WORKFLOW_WF5, WORKFLOW_PROTOCOL)
        assert recorded_step_names(workspace, wf.id).count("stagent.workflow.run_step") == 3
    finally:
        workspace.stop_worker()


def test_a_step_with_a_retry_policy_records_each_attempt_as_a_dbos_step(
    worker: Workspace,
) -> None:
    """A replay must call the same DBOS steps: a retried step's failed attempt is recorded, so
    it replays as the failure it was (its rows only know the last attempt)."""
    definition = parse_definition(
        {
            "name": "retried",
            "pattern": "sequence",
            "steps": [
                step("a", "alpha"),
                {**step("b", "x", fail="broken"), "retry": {"attempts": 2}},
            ],
        }
    )
    wf = worker.workflows.add(definition)
    worker.workflows.run(wf.id)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.FAILED
    assert [r.status.value for r in worker.tasks.runs(done.steps[1].task_id or "")] == [
        "failed",
        "failed",
    ]
    names = recorded_step_names(worker, wf.id)
    assert names.count("stagent.workflow.run_step") == 2  # step b's attempts, not step a
    assert "stagent.workflow.note_retry" in names


def test_a_failed_step_settled_by_its_run_fails_the_sequence_with_its_error(
    worker: Workspace,
) -> None:
    wf = three_steps(worker, fail_last=True)
    worker.workflows.run(wf.id)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.FAILED
    assert [s.status for s in done.steps] == [
        StepStatus.COMPLETED,
        StepStatus.COMPLETED,
        StepStatus.FAILED,
    ]
    assert done.steps[-1].error
    assert done.stop_reason is not None and "step c failed" in done.stop_reason


def test_a_run_that_returns_only_its_status_is_settled_by_the_interpreter(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a stagent-wf-4 recording replays: the child was started without the step."""

    async def launch_without_step(
        self: interpreter.WorkflowRun, step: WorkflowStep, prompt: str
    ) -> Any:
        ready = interpreter._go_on(  # pyright: ignore[reportPrivateUsage]
            await interpreter._prepare(  # pyright: ignore[reportPrivateUsage]
                self.id, self.number, step, prompt, self.engine_id
            )
        )
        with SetWorkflowID(workflow_id_for(ready["task"], ready["run"])):
            return await DBOS.start_workflow_async(
                durable.run_task_workflow, ready["task"], ready["run"]
            )

    monkeypatch.setattr(interpreter.WorkflowRun, "_launch", launch_without_step)
    as_protocol_wf4(monkeypatch)
    monkeypatch.setattr(engine_queue, "WORKFLOW_PROTOCOL", WORKFLOW_PROTOCOL)
    wf = three_steps(worker)
    worker.workflows.run(wf.id)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["alpha", "beta", "gamma"]
    assert recorded_step_names(worker, wf.id).count("stagent.workflow.settle") == 3


def test_a_step_its_interpreter_knows_is_not_gated_never_reads_the_definition_to_start(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagent.engine import workflow_checkpoints

    looked_up: list[str] = []
    real = workflow_checkpoints.gated_step

    def counted(store: Any, task_id: str) -> Any:
        looked_up.append(task_id)
        return real(store, task_id)

    monkeypatch.setattr(workflow_checkpoints, "gated_step", counted)
    wf = three_steps(worker)
    worker.workflows.run(wf.id)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert looked_up == []


def test_a_run_is_queued_under_this_protocol_so_an_older_worker_never_takes_it(
    workspace: Workspace,
) -> None:
    """DBOS dequeues and recovers only workflows of a worker's own version: a stagent-wf-5
    worker (which has no wf-6 interpreter) leaves this run alone."""
    wf = three_steps(workspace)
    workspace.workflows.run(wf.id)
    engine_id = engine_id_of(workspace, wf.id)
    status = workspace.queue.client.retrieve_workflow(engine_id).get_status()
    assert (status.name, status.app_version) == (engine_queue.RUN_WORKFLOW, WORKFLOW_PROTOCOL)
    assert WORKFLOW_PROTOCOL not in engine_queue.ADOPTED_PROTOCOLS
    assert status.status == "ENQUEUED"
