"""A workflow step's start (`workflow_inline.start_step`): on SQLite a step with no task yet
starts in one transaction on the driver, without a Session (`workflow_steps.prepare_on_driver`):
its task is inserted ``running`` with its first run, their events and the step row, and the Board
sees the same task, run and log as before. In process, no worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event

from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.domain.workflows import WorkflowStep
from stagent.engine import workflow_inline
from stagent.engine.executor import RunContext
from stagent.engine.guard import OpenGuard
from stagent.store import step_rows as step_repo
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def started(ws: Workspace, *steps: dict[str, Any], project: str | None = None) -> Workflow:
    """A sequence whose run 1 has begun (its rows exist; no worker picks it up)."""
    definition = parse_definition({"name": "starts", "pattern": "sequence", "steps": list(steps)})
    return ws.workflows.run(ws.workflows.add(definition, project=project).id)


def start(ws: Workspace, wf: Workflow, spec: dict[str, Any]) -> Any:
    ctx = RunContext(store=ws.store, runtimes=ws.runtimes, gate=ws.gate, guard=OpenGuard())
    ctx.profiles = ws.profiles
    return workflow_inline.start_step(
        ctx, wf.id, 1, WorkflowStep.model_validate(spec), "go", engine_id=None, executing="i-1"
    )


def _head(sql: str) -> str:
    """A statement as the test names it: ``INSERT INTO tasks``, ``UPDATE runs``, ``SELECT``."""
    words = sql.split()
    width = {"INSERT": 3, "UPDATE": 2, "BEGIN": 2}.get(words[0].upper(), 1)
    return " ".join(words[:width])


def test_a_fresh_steps_start_on_sqlite_is_one_transaction_and_the_task_is_inserted_running(
    workspace: Workspace,
) -> None:
    """One read (step row, workflow state, project directory), the task inserted ``running``
    (no update after), its run, its three events (one executemany: SQLite traces each row), the
    step row: one commit."""
    wf = started(workspace, step("a", "alpha"))
    sent: list[str] = []
    tracing = [True]

    def trace(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        del record, proxy
        dbapi_connection.set_trace_callback(lambda sql: sent.append(sql) if tracing[0] else None)

    event.listen(workspace.store.engine, "checkout", trace)
    try:
        began = start(workspace, wf, step("a", "alpha"))
    finally:
        tracing[0] = False
        event.remove(workspace.store.engine, "checkout", trace)
    assert [_head(sql) for sql in sent] == [
        "BEGIN IMMEDIATE",
        "SELECT",
        "INSERT INTO tasks",
        "INSERT INTO runs",
        "INSERT INTO agent_events",  # the three events in one statement
        "UPDATE workflow_steps",
        "COMMIT",
    ]
    assert isinstance(began, workflow_inline.StartedStep)
    task = workspace.tasks.get(began.claim.task.id)
    (run,) = workspace.tasks.runs(task.id)
    assert (task.status, task.run_count, task.workflow_id) == (TaskStatus.RUNNING, 1, "i-1")
    assert task.started_at is not None
    assert (run.status, run.attempt, run.workflow_id) == (RunStatus.RUNNING, 1, "i-1")
    assert began.claim.task == task
    logged = [(e.kind, e.run_id, e.payload.get("to")) for e in workspace.tasks.events(task.id)]
    assert logged == [
        ("created", None, None),
        ("status", run.id, "queued"),
        ("status", run.id, "running"),
    ]
    with workspace.store.read() as session:
        row = step_repo.step_row(session, wf.id, 1, "a")
        assert (row.status, row.task_id, row.id) == (
            StepStatus.RUNNING.value,
            task.id,
            began.row.row_id,
        )


def test_a_step_of_a_project_runs_in_its_directory_with_its_profile(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The run's options are resolved as for any task: the step's profile (its tool policy, a
    note in the log) over the project's working directory."""
    project = workspace.projects.create("site", directory=str(tmp_path))
    wf = started(workspace, step("a", "alpha", profile="code-reviewer"), project=project.id)
    began = start(workspace, wf, step("a", "alpha", profile="code-reviewer"))
    assert isinstance(began, workflow_inline.StartedStep)
    (run,) = workspace.tasks.runs(began.claim.task.id)
    assert run.options.working_directory == str(tmp_path.resolve())
    assert run.options.tool_policy is not None
    assert "Read" in run.options.tool_policy.auto_approve
    assert workspace.tasks.get(run.task_id or "").project_id == project.id
    kinds = [(e.kind, e.run_id) for e in workspace.tasks.events(run.task_id or "")]
    assert kinds[-1] == ("note", run.id)


def test_a_paused_workflows_next_step_writes_nothing(workspace: Workspace) -> None:
    wf = started(workspace, step("a", "alpha"))
    workspace.workflows.pause(wf.id)
    assert start(workspace, wf, step("a", "alpha")) == {"stop": "human_pause"}
    with workspace.store.read() as session:
        row = step_repo.step_row(session, wf.id, 1, "a")
        assert (row.status, row.task_id) == (StepStatus.PENDING.value, None)
    assert workspace.tasks.list() == []


def test_starting_a_run_returns_what_a_read_right_after_shows(workspace: Workspace) -> None:
    """`run` returns the workflow as its own transaction left it (no read after it): running,
    each step of the new run pending in order; a `get` (no worker moved anything) agrees."""
    wf = started(workspace, step("a", "alpha"), step("b", "beta"))

    assert wf == workspace.workflows.get(wf.id)
    assert wf.status is WorkflowStatus.RUNNING and wf.run_count == 1
    assert [(s.key, s.position, s.status) for s in wf.steps] == [
        ("a", 0, StepStatus.PENDING),
        ("b", 1, StepStatus.PENDING),
    ]
