"""A workflow step's start on PostgreSQL (`workflow_inline.start_step`): a step with no task yet
starts on a hot connection without a Session (`store/pg_step_start.py`) in two round trips --
``BEGIN`` with the locked step row and the workflow's state, then the task (inserted
``running``), its run, the step row, their events, ``COMMIT`` and the feed's publish -- and the
Board sees the same task, run and log as a start the full way. In process, no worker."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from pgtrace import round_trips, waits_for_a_lock
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow
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


def hot_driver(ws: Workspace) -> Any:
    """The idle hot connection the next start checks out (the pool hands back the last one)."""
    with ws.store.hot_connection() as hot:
        return hot.driver


def test_a_fresh_steps_start_on_postgresql_is_two_round_trips_without_a_session(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    wf = started(ws, step("a", "alpha"))
    through_sqlalchemy: list[str] = []

    def sent(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        del conn, cursor, args
        through_sqlalchemy.append(statement)

    driver = hot_driver(ws)
    event.listen(ws.store.engine, "before_cursor_execute", sent)
    try:
        with round_trips(driver) as trips:
            began = start(ws, wf, step("a", "alpha"))
    finally:
        event.remove(ws.store.engine, "before_cursor_execute", sent)
    assert through_sqlalchemy == []
    publish = ["SET", "SELECT", "WITH"]  # the feed's lock, then the outbox moved in order
    assert trips == [
        ["BEGIN", "SELECT", "SELECT"],
        ["INSERT", "INSERT", "UPDATE", "INSERT", "COMMIT", *publish],
    ]
    assert isinstance(began, workflow_inline.StartedStep)
    task = ws.tasks.get(began.claim.task.id)
    (run,) = ws.tasks.runs(task.id)
    assert (task.status, task.run_count, task.workflow_id) == (TaskStatus.RUNNING, 1, "i-1")
    assert task.started_at is not None
    assert (run.status, run.attempt, run.workflow_id) == (RunStatus.RUNNING, 1, "i-1")
    assert began.claim.task == task
    assert began.claim.run == run
    logged = [(e.kind, e.run_id, e.payload.get("to")) for e in ws.tasks.events(task.id)]
    assert logged == [
        ("created", None, None),
        ("status", run.id, "queued"),
        ("status", run.id, "running"),
    ]
    with ws.store.read() as session:
        row = step_repo.step_row(session, wf.id, 1, "a")
        assert (row.status, row.task_id, row.id) == (
            StepStatus.RUNNING.value,
            task.id,
            began.row.row_id,
        )
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_step_of_a_project_on_postgresql_runs_in_its_directory_with_its_profile(
    pg_workspace: Workspace, tmp_path: Path
) -> None:
    ws = pg_workspace
    project = ws.projects.create("site", directory=str(tmp_path))
    wf = started(ws, step("a", "alpha", profile="code-reviewer"), project=project.id)
    began = start(ws, wf, step("a", "alpha", profile="code-reviewer"))
    assert isinstance(began, workflow_inline.StartedStep)
    (run,) = ws.tasks.runs(began.claim.task.id)
    assert run.options.working_directory == str(tmp_path.resolve())
    assert run.options.tool_policy is not None
    assert "Read" in run.options.tool_policy.auto_approve
    assert ws.tasks.get(run.task_id or "").project_id == project.id
    kinds = [(e.kind, e.run_id) for e in ws.tasks.events(run.task_id or "")]
    assert kinds[-1] == ("note", run.id)


def test_a_paused_workflows_next_step_on_postgresql_writes_nothing(
    pg_workspace: Workspace,
) -> None:
    ws = pg_workspace
    wf = started(ws, step("a", "alpha"))
    ws.workflows.pause(wf.id)
    driver = hot_driver(ws)
    assert start(ws, wf, step("a", "alpha")) == {"stop": "human_pause"}
    with ws.store.read() as session:
        row = step_repo.step_row(session, wf.id, 1, "a")
        assert (row.status, row.task_id) == (StepStatus.PENDING.value, None)
    assert ws.tasks.list() == []
    assert driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


def test_a_start_waiting_for_its_step_row_sees_a_pause_committed_meanwhile(
    pg_workspace: Workspace,
) -> None:
    """The workflow's state is read after the step row's lock is taken: a person's pause
    committed by the lock's holder while the start waited stops the step."""
    ws = pg_workspace
    wf = started(ws, step("a", "alpha"))
    answers: list[Any] = []
    url = ws.store.url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as holder:
        holder.execute(
            "SELECT 1 FROM workflow_steps WHERE workflow_id = %s AND step_key = 'a' FOR UPDATE",
            [wf.id],
        )
        starter = threading.Thread(target=lambda: answers.append(start(ws, wf, step("a", "a"))))
        starter.start()
        deadline = time.monotonic() + 30
        while not waits_for_a_lock(url):
            assert time.monotonic() < deadline, "the start never waited for the step row"
            time.sleep(0.01)
        holder.execute("UPDATE workflows SET status = 'paused' WHERE id = %s", [wf.id])
        holder.commit()
        starter.join(timeout=30)
    assert not starter.is_alive()
    assert answers == [{"stop": "human_pause"}]
    assert ws.tasks.list() == []


def test_a_steps_second_start_on_postgresql_takes_its_run_over_the_full_way(
    pg_workspace: Workspace,
) -> None:
    """A start that finds its step's task in flight (a crash inside the attempt) is no fresh
    start: it goes the full way and takes the run over under a new attempt."""
    ws = pg_workspace
    wf = started(ws, step("a", "alpha"))
    first = start(ws, wf, step("a", "alpha"))
    again = start(ws, wf, step("a", "alpha"))
    assert isinstance(first, workflow_inline.StartedStep)
    assert isinstance(again, workflow_inline.StartedStep)
    assert again.claim.task.id == first.claim.task.id
    assert (again.claim.run.id, again.claim.attempt, again.claim.recovered) == (
        first.claim.run.id,
        2,
        True,
    )
    assert [e.kind for e in ws.tasks.events(first.claim.task.id)][-1] == "recovered"
