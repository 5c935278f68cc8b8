"""A workflow step's run settles its step row in the transaction that ends the run (the
executor's end hook, `workflow_steps.SettleOnEnd`): the task never reads as ended while its
step still reads as running, and the run's end never waits on a second commit. When this
execution did not end the run (it had ended before: a replay after a crash), the step is
settled as before. In process, no worker: the executor runs the step's run on this thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event

from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow
from stagent.domain.workflows import WorkflowStep
from stagent.engine import workflow_inline, workflow_steps
from stagent.engine.executor import RunContext, execute_claimed, execute_task_run
from stagent.engine.guard import OpenGuard
from stagent.engine.workflow_steps import SettleOnEnd
from stagent.store import driver
from stagent.store import step_rows as step_repo
from stagent.store import workflows as workflow_repo
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def started(ws: Workspace, *steps: dict[str, Any]) -> Workflow:
    """A sequence whose run 1 has begun (its rows exist; no worker picks it up)."""
    definition = parse_definition({"name": "ends", "pattern": "sequence", "steps": list(steps)})
    return ws.workflows.run(ws.workflows.add(definition).id)


def prepared(ws: Workspace, wf: Workflow, key: str) -> tuple[str, int]:
    """The step's child task with its run queued, as the interpreter's `prepare` leaves it."""
    with ws.store.read() as session:
        data = workflow_repo.get_row(session, wf.id).definition
    spec = next(s for s in data["steps"] if s["id"] == key)
    ready = workflow_steps.prepare(ws.store, wf.id, 1, WorkflowStep.model_validate(spec), "go")
    return ready["task"], ready["run"]


def context(ws: Workspace) -> RunContext:
    return RunContext(store=ws.store, runtimes=ws.runtimes, gate=_Allow(), guard=OpenGuard())


class _Allow:
    async def decide(self, request: Any) -> Any:
        raise AssertionError(f"no tool call expected: {request}")


def run_step(ws: Workspace, wf: Workflow, key: str) -> tuple[str, SettleOnEnd]:
    task_id, number = prepared(ws, wf, key)
    settled = SettleOnEnd((wf.id, 1, key, False))
    asyncio.run(execute_task_run(context(ws), task_id, number, settled))
    return task_id, settled


def step_state(ws: Workspace, wf: Workflow, key: str) -> tuple[str, str | None, str | None]:
    with ws.store.read() as session:
        row = step_repo.step_row(session, wf.id, 1, key)
        return row.status, row.output, row.error


def test_a_completed_run_settles_its_step_with_the_output_in_the_same_end(
    workspace: Workspace,
) -> None:
    wf = started(workspace, step("a", "alpha"))
    task_id, settled = run_step(workspace, wf, "a")
    assert workspace.tasks.get(task_id).status is TaskStatus.COMPLETED
    assert step_state(workspace, wf, "a") == (StepStatus.COMPLETED.value, "alpha", None)
    assert settled.outcome == {
        "status": "completed",
        "output": "alpha",
        "error": None,
        "why": "completed",
    }
    assert settled.result(workspace.store) == settled.outcome


def test_a_failed_run_settles_its_step_failed_with_the_runs_error(workspace: Workspace) -> None:
    wf = started(workspace, step("a", "alpha", fail="no alpha today"))
    task_id, settled = run_step(workspace, wf, "a")
    assert workspace.tasks.get(task_id).status is TaskStatus.FAILED
    status, output, error = step_state(workspace, wf, "a")
    assert (status, output) == (StepStatus.FAILED.value, None)
    assert error is not None and "no alpha today" in error
    assert settled.outcome is not None and settled.outcome["why"] == "failed"


def test_a_run_that_cannot_start_settles_its_step_failed(workspace: Workspace) -> None:
    """A runtime gone since the workflow was saved (adding refuses an unknown one)."""
    wf = started(workspace, step("a", "alpha"))
    with workspace.store.write() as session:
        row = workflow_repo.get_row(session, wf.id)
        steps = [{**spec, "runtime": "nowhere"} for spec in row.definition["steps"]]
        row.definition = {**row.definition, "steps": steps}
    task_id, settled = run_step(workspace, wf, "a")
    assert workspace.tasks.get(task_id).status is TaskStatus.FAILED
    assert step_state(workspace, wf, "a")[0] == StepStatus.FAILED.value
    assert settled.outcome is not None and settled.outcome["status"] == "failed"


def test_a_replayed_run_that_had_ended_is_settled_after_it(workspace: Workspace) -> None:
    wf = started(workspace, step("a", "alpha"))
    task_id, _ = run_step(workspace, wf, "a")
    with workspace.store.write() as session:  # as if the settle had been lost
        step_repo.step_row(session, wf.id, 1, "a").status = StepStatus.RUNNING.value
    again = SettleOnEnd((wf.id, 1, "a", False))
    status = asyncio.run(execute_task_run(context(workspace), task_id, 1, again))
    assert status == RunStatus.COMPLETED.value
    assert again.outcome is None  # this execution ended nothing
    assert again.result(workspace.store)["output"] == "alpha"
    assert step_state(workspace, wf, "a") == (StepStatus.COMPLETED.value, "alpha", None)


def test_a_step_row_that_is_gone_does_not_keep_the_run_from_ending(
    workspace: Workspace,
) -> None:
    wf = started(workspace, step("a", "alpha"))
    task_id, number = prepared(workspace, wf, "a")
    stray = SettleOnEnd((wf.id, 1, "no-such-step", False))
    asyncio.run(execute_task_run(context(workspace), task_id, number, stray))
    assert workspace.tasks.get(task_id).status is TaskStatus.COMPLETED
    assert stray.outcome is None


def test_a_step_started_in_its_interpreter_logs_its_tasks_creation_and_moves_in_one_insert(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task's ``created`` (no run) and its two status moves (its run's) are one statement:
    the log reads as it always did."""
    wf = started(workspace, step("a", "alpha"))
    spec = WorkflowStep.model_validate(step("a", "alpha"))
    inserts: list[str] = []

    def remember(*args: Any) -> None:
        if args[2].startswith("INSERT INTO agent_events"):
            inserts.append(args[2])

    def on_driver(sent: Callable[..., Any]) -> Callable[..., Any]:
        """A `Prebuilt` call that goes to SQLite's driver (SQLAlchemy's listener misses it):
        through a SQLAlchemy connection, or on the bare driver (a step's start on SQLite)."""

        def spy(self: driver.Prebuilt, *args: Any) -> Any:
            dialect = args[1] if len(args) == 3 else args[0].dialect
            if dialect.name == "sqlite" and self.statement.table.name == "agent_events":
                inserts.append("INSERT INTO agent_events (driver)")
            return sent(self, *args)

        return spy

    for name in ("execute", "executemany", "execute_on_driver", "insert_many_on_driver"):
        monkeypatch.setattr(driver.Prebuilt, name, on_driver(getattr(driver.Prebuilt, name)))
    event.listen(workspace.store.engine, "before_cursor_execute", remember)
    try:
        began = workflow_inline.start_step(
            context(workspace), wf.id, 1, spec, "go", engine_id=None, executing="interp-1"
        )
    finally:
        event.remove(workspace.store.engine, "before_cursor_execute", remember)
    assert isinstance(began, workflow_inline.StartedStep)
    assert len(inserts) == 1
    run_id = began.claim.run.id
    logged = [(e.kind, e.run_id) for e in workspace.tasks.events(began.claim.task.id)]
    assert logged == [("created", None), ("status", run_id), ("status", run_id)]


def test_a_replay_that_finds_its_step_concluded_gets_its_outcome_and_keeps_its_end_time(
    workspace: Workspace,
) -> None:
    """Protocol stagent-wf-6: an attempt is no DBOS step, so a replay asks the rows again."""
    wf = started(workspace, step("a", "alpha"))
    run_step(workspace, wf, "a")
    with workspace.store.read() as session:
        ended = step_repo.step_row(session, wf.id, 1, "a").ended_at
    spec = WorkflowStep.model_validate(step("a", "alpha"))
    again = workflow_inline.start_step(
        context(workspace), wf.id, 1, spec, "go", engine_id=None, executing="interp-1"
    )
    assert again == {"status": "completed", "output": "alpha", "error": None, "why": "completed"}
    with workspace.store.read() as session:
        assert step_repo.step_row(session, wf.id, 1, "a").ended_at == ended


def ended_on_sqlite(
    ws: Workspace, spec: dict[str, Any]
) -> tuple[list[str], SettleOnEnd, workflow_inline.StartedStep, Workflow]:
    """Start a step of a fresh workflow and run it to its end with every statement traced
    (its first two words; ``SQLAlchemy begins`` where SQLAlchemy began a transaction): the
    statements from the end's ``BEGIN IMMEDIATE`` on, the end hook, the started step, the
    workflow."""
    wf = started(ws, spec)
    began = workflow_inline.start_step(
        context(ws),
        wf.id,
        1,
        WorkflowStep.model_validate(spec),
        "go",
        engine_id=None,
        executing="interp-1",
    )
    assert isinstance(began, workflow_inline.StartedStep)
    sent: list[str] = []

    def trace(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        del record, proxy
        dbapi_connection.set_trace_callback(sent.append)

    def begun(conn: Any) -> None:
        del conn
        sent.append("SQLAlchemy begins")

    settled = SettleOnEnd((wf.id, 1, spec["id"], False))
    event.listen(ws.store.engine, "checkout", trace)
    event.listen(ws.store.engine, "begin", begun)
    try:
        asyncio.run(execute_claimed(context(ws), began.claim, began.row, settled))
    finally:
        event.remove(ws.store.engine, "begin", begun)
        event.remove(ws.store.engine, "checkout", trace)
    end = [" ".join(sql.split()[:2]) for sql in sent[sent.index("BEGIN IMMEDIATE") :]]
    return end, settled, began, wf


def test_a_completed_steps_end_on_sqlite_is_one_driver_transaction_with_no_session(
    workspace: Workspace,
) -> None:
    """`stagent.store.hot_end`: ``BEGIN IMMEDIATE``, one read (the run's status and attempt,
    its task's status, its ledger sums), the run and the task written, the last events, the
    ``result`` and the ``status`` one in one executemany (SQLite traces each row), the step row
    settled, ``COMMIT``; SQLAlchemy begins no transaction for it. The step, its task and its
    log read as they always did."""
    end, settled, began, wf = ended_on_sqlite(workspace, step("a", "alpha"))
    assert end == [
        "BEGIN IMMEDIATE",
        "SELECT runs.status,",
        "UPDATE runs",
        "UPDATE tasks",
        "INSERT INTO",  # the three events in one statement
        "UPDATE workflow_steps",
        "COMMIT",
    ]
    assert settled.outcome == {
        "status": "completed",
        "output": "alpha",
        "error": None,
        "why": "completed",
    }
    task_id = began.claim.task.id
    task = workspace.tasks.get(task_id)
    assert (task.status, task.result) == (TaskStatus.COMPLETED, "alpha")
    assert task.finished_at is not None
    (run,) = workspace.tasks.runs(task_id)
    assert (run.status, run.result, run.stop_reason) == (RunStatus.COMPLETED, "alpha", "completed")
    assert step_state(workspace, wf, "a") == (StepStatus.COMPLETED.value, "alpha", None)
    kinds = [e.kind for e in workspace.tasks.events(task_id)]
    assert kinds == ["created", "status", "status", "text", "result", "status"]


def test_a_failed_steps_end_on_sqlite_reads_why_in_the_same_driver_transaction(
    workspace: Workspace,
) -> None:
    """A failed run's step reads why it failed (a budget? a refused checkpoint? neither: a
    retry policy may try it again) with one more read, before its row is settled."""
    end, settled, _, wf = ended_on_sqlite(workspace, step("a", "alpha", fail="no alpha today"))
    assert end == [
        "BEGIN IMMEDIATE",
        "SELECT runs.status,",
        "UPDATE runs",
        "UPDATE tasks",
        "INSERT INTO",  # the three events in one statement
        "SELECT (SELECT",
        "UPDATE workflow_steps",
        "COMMIT",
    ]
    assert settled.outcome is not None
    assert (settled.outcome["status"], settled.outcome["why"]) == ("failed", "failed")
    assert "no alpha today" in (settled.outcome["error"] or "")
    assert step_state(workspace, wf, "a")[0] == StepStatus.FAILED.value
