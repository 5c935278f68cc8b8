"""What a person does to tasks and projects through the services every face calls (add, edit,
run, cancel, retry, move on the Board, delete), and the errors invalid moves give. No worker
runs: what a run does is the executor's tests' business; here, what the records and the engine
queue say after each operation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from stagent.domain.errors import (
    ConflictError,
    InvalidTransitionError,
    NotFoundError,
    RuntimeUnavailableError,
    ScenarioError,
    ValidationError,
)
from stagent.domain.runs import RunStatus
from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.runtimes.base import (
    AgentRun,
    PermissionGate,
    RunRequest,
    Runtime,
    RuntimeCapabilities,
    RuntimeHealth,
)
from stagent.store import lifecycle
from stagent.workspace import Workspace

S = TaskStatus


def add(ws: Workspace, title: str = "t", **fields: Any) -> str:
    return ws.tasks.create(TaskDraft(title=title, **fields)).id


def moves(ws: Workspace, task_id: str) -> list[str]:
    return [e.payload["to"] for e in ws.tasks.events(task_id) if e.kind == "status"]


def finish(ws: Workspace, task_id: str, status: RunStatus, **fields: Any) -> None:
    """What a worker would do: claim the queued run and end it."""
    number = ws.tasks.get(task_id).run_count
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task_id, number)
        assert claim is not None
        lifecycle.finish(session, claim.run.id, status, attempt=claim.attempt, **fields)


# -- add ---------------------------------------------------------------------------------------


def test_adding_a_task_plans_it_and_logs_it(ws: Workspace) -> None:
    task = ws.tasks.create(TaskDraft(title="  Write the report  ", description="d", priority=0))
    assert (task.title, task.status, task.priority, task.run_count) == (
        "Write the report",
        S.PLANNED,
        0,
        0,
    )
    (created,) = ws.tasks.events(task.id)
    assert created.kind == "created"
    assert created.payload["title"] == "Write the report"
    assert ws.tasks.runs(task.id) == []


@pytest.mark.parametrize(
    ("draft", "error", "message"),
    [
        (TaskDraft(title="   "), ValidationError, "title: a task needs a title"),
        (TaskDraft(title="x" * 501), ValidationError, "title: 501 characters is too long"),
        (
            TaskDraft(title="t", description="a\x00b"),
            ValidationError,
            "description: contains a NUL",
        ),
        (TaskDraft(title="t", priority=5), ValidationError, "priority: 5 is out of range"),
        (TaskDraft(title="t", priority=-1), ValidationError, "priority: -1 is out of range"),
        (TaskDraft(title="t", runtime="gpt-9"), RuntimeUnavailableError, "unknown runtime 'gpt-9'"),
        (TaskDraft(title="t", project="nowhere"), NotFoundError, "no project with id or name"),
        (
            TaskDraft(title="t", runtime="claude", scenario={"steps": [{"text": "x"}]}),
            ValidationError,
            "scenario: only the scripted runtime plays a scenario; claude would ignore it",
        ),
        (TaskDraft(title="t", scenario={"steps": [{"dance": 1}]}), ScenarioError, ""),
        (
            TaskDraft(title="t", options={"scripted": {"scenario": {"steps": [{"dance": 1}]}}}),
            ScenarioError,
            "",
        ),
    ],
)
def test_an_invalid_task_is_refused_naming_the_field(
    ws: Workspace, draft: TaskDraft, error: type[Exception], message: str
) -> None:
    before = len(ws.tasks.list())
    with pytest.raises(error) as caught:
        ws.tasks.create(draft)
    assert str(caught.value).startswith(message)
    assert len(ws.tasks.list()) == before  # nothing was saved


def test_a_task_in_a_project_is_listed_under_it(ws: Workspace) -> None:
    project = ws.projects.create("listed")
    inside = add(ws, "inside", project="listed")
    add(ws, "outside")
    assert [t.id for t in ws.tasks.list(project="listed")] == [inside]
    assert ws.tasks.get(inside).project_id == project.id
    assert ws.projects.task_counts()[project.id] == {"planned": 1}


def test_unknown_tasks_and_runs_are_not_found(ws: Workspace) -> None:
    for read in (ws.tasks.get, ws.tasks.events, ws.tasks.runs, ws.tasks.run, ws.tasks.cancel):
        with pytest.raises(NotFoundError):
            read("tsk_000000000000")
    with pytest.raises(NotFoundError):
        ws.tasks.run_record("run_000000000000")


# -- edit --------------------------------------------------------------------------------------


def test_editing_changes_the_fields_and_logs_which(ws: Workspace) -> None:
    task_id = add(ws, "draft")
    edited = ws.tasks.update(task_id, {"title": "final", "priority": 4, "description": "why"})
    assert (edited.title, edited.priority, edited.description) == ("final", 4, "why")
    updated = ws.tasks.events(task_id)[-1]
    assert updated.kind == "updated"
    assert updated.summary.startswith("task updated: ")
    assert {"title", "priority", "description"} <= set(updated.payload["fields"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "completed"}, "status: not an editable task field"),
        ({"colour": "red", "size": 1}, "colour, size: not an editable task field"),
        ({"title": "  "}, "title: a task needs a title"),
        ({"priority": 9}, "priority: 9 is out of range"),
        ({"runtime": "nope"}, "unknown runtime 'nope'"),
        ({"description": "x" * 20_001}, "description: 20001 characters is too long"),
    ],
)
def test_an_invalid_edit_is_refused_and_changes_nothing(
    ws: Workspace, changes: dict[str, Any], message: str
) -> None:
    task_id = add(ws, "keep me")
    with pytest.raises((ValidationError, RuntimeUnavailableError)) as caught:
        ws.tasks.update(task_id, changes)
    assert str(caught.value).startswith(message)
    assert ws.tasks.get(task_id).title == "keep me"


def test_an_edited_title_is_trimmed_like_a_new_one(ws: Workspace) -> None:
    task_id = add(ws, "draft")
    assert ws.tasks.update(task_id, {"title": "  final  "}).title == "final"
    assert ws.tasks.get(task_id).title == "final"


def test_clearing_the_description_leaves_it_empty(ws: Workspace) -> None:
    task_id = add(ws, "described", description="old words")
    assert ws.tasks.update(task_id, {"description": None}).description == ""


@pytest.mark.parametrize("priority", ["3", 2.0, None, True])
def test_a_priority_that_is_not_a_whole_number_is_refused(ws: Workspace, priority: object) -> None:
    task_id = add(ws, "prioritised")
    with pytest.raises(ValidationError) as caught:
        ws.tasks.update(task_id, {"priority": priority})
    assert caught.value.message == (
        f"priority: {priority!r} is not a whole number; use 0 (highest) to 4"
    )
    with pytest.raises(ValidationError):
        ws.tasks.create(TaskDraft(title="t", priority=priority))  # type: ignore[arg-type]
    assert ws.tasks.get(task_id).priority == 2


def test_a_task_cannot_be_edited_while_it_runs(ws: Workspace) -> None:
    task_id = add(ws, "busy")
    ws.tasks.run(task_id)
    with pytest.raises(ConflictError) as caught:
        ws.tasks.update(task_id, {"title": "changed"})
    assert caught.value.message == f"task {task_id} is queued; it cannot be edited until it ends"
    assert caught.value.hint == "cancel it first"
    ws.tasks.cancel(task_id)
    assert ws.tasks.update(task_id, {"title": "changed"}).title == "changed"


def test_moving_to_another_runtime_drops_the_old_runtimes_own_options(ws: Workspace) -> None:
    task_id = add(
        ws, "moving", scenario={"steps": [{"text": "x"}]}, options={"limits": {"max_turns": 3}}
    )
    moved = ws.tasks.update(task_id, {"runtime": "claude"})
    assert moved.runtime == "claude"
    assert moved.options.scripted is None  # a scenario means nothing to claude
    assert moved.options.limits.max_turns == 3  # limits carry over
    assert moved.options.runtime == "claude"


def test_a_project_can_be_set_by_name(ws: Workspace) -> None:
    project = ws.projects.create("by-name")
    task_id = add(ws, "homeless")
    assert ws.tasks.update(task_id, {"project_id": "by-name"}).project_id == project.id
    with pytest.raises(NotFoundError):
        ws.tasks.update(task_id, {"project_id": "no-such-project"})


# -- run, retry, cancel -------------------------------------------------------------------------


def test_running_queues_a_run_on_the_engine_queue(ws: Workspace) -> None:
    task_id = add(ws, "go")
    queued = ws.tasks.run(task_id)
    assert (queued.status, queued.run_count) == (S.QUEUED, 1)
    assert queued.workflow_id == f"{task_id}-run-1"
    (run,) = ws.tasks.runs(task_id)
    assert (run.number, run.status, run.attempt) == (1, RunStatus.QUEUED, 0)
    assert ws.queue.status(queued.workflow_id or "") == "ENQUEUED"
    assert ws.tasks.run_record(run.id) == run
    ws.tasks.cancel(task_id)


def test_running_a_queued_task_again_keeps_its_one_run(ws: Workspace) -> None:
    task_id = add(ws, "twice")
    ws.tasks.run(task_id)
    again = ws.tasks.run(task_id)
    assert again.run_count == 1
    assert len(ws.tasks.runs(task_id)) == 1
    ws.tasks.cancel(task_id)


@pytest.mark.parametrize("state", [RunStatus.RUNNING, RunStatus.WAITING])
def test_running_a_task_that_runs_is_a_conflict(ws: Workspace, state: RunStatus) -> None:
    task_id = add(ws, "running")
    ws.tasks.run(task_id)
    with ws.store.write() as session:
        claim = lifecycle.claim(session, task_id, 1)
        assert claim is not None
        if state is RunStatus.WAITING:
            lifecycle.suspend(session, claim.run.id, "approval:apr_x", reason="asking")
    with pytest.raises(ConflictError) as caught:
        ws.tasks.run(task_id)
    assert caught.value.message == f"task {task_id} is already {state.value}"
    ws.tasks.cancel(task_id)


def test_retrying_a_failed_task_is_a_new_run_and_keeps_the_old_one(ws: Workspace) -> None:
    task_id = add(ws, "flaky")
    ws.tasks.run(task_id)
    finish(ws, task_id, RunStatus.FAILED, error="provider said 500", reason="provider said 500")
    failed = ws.tasks.get(task_id)
    assert (failed.status, failed.error) == (S.FAILED, "provider said 500")

    retried = ws.tasks.run(task_id)
    assert (retried.status, retried.run_count, retried.error) == (S.QUEUED, 2, None)
    first, second = ws.tasks.runs(task_id)
    assert (first.status, first.error) == (RunStatus.FAILED, "provider said 500")
    assert (second.number, second.status) == (2, RunStatus.QUEUED)
    assert retried.workflow_id == f"{task_id}-run-2"
    finish(ws, task_id, RunStatus.COMPLETED, result="second time lucky")
    assert ws.tasks.get(task_id).result == "second time lucky"
    assert moves(ws, task_id) == ["queued", "running", "failed", "queued", "running", "completed"]


def test_cancelling_a_queued_task_cancels_its_run_and_its_engine_workflow(ws: Workspace) -> None:
    task_id = add(ws, "stop")
    workflow = ws.tasks.run(task_id).workflow_id or ""
    cancelled = ws.tasks.cancel(task_id)
    assert cancelled.status is S.CANCELLED
    (run,) = ws.tasks.runs(task_id)
    assert (run.status, run.stop_reason) == (RunStatus.CANCELLED, "cancelled by a person")
    assert ws.queue.status(workflow) == "CANCELLED"
    last = ws.tasks.events(task_id)[-1]
    assert (last.kind, last.payload["to"], last.payload["reason"]) == (
        "status",
        "cancelled",
        "cancelled by a person",
    )


def test_cancelling_a_planned_task_needs_no_run(ws: Workspace) -> None:
    task_id = add(ws, "never mind")
    assert ws.tasks.cancel(task_id).status is S.CANCELLED
    assert ws.tasks.runs(task_id) == []


@pytest.mark.parametrize("ended", [RunStatus.COMPLETED, RunStatus.FAILED])
def test_an_ended_task_cannot_be_cancelled(ws: Workspace, ended: RunStatus) -> None:
    task_id = add(ws, "over")
    ws.tasks.run(task_id)
    finish(ws, task_id, ended)
    with pytest.raises(InvalidTransitionError) as caught:
        ws.tasks.cancel(task_id)
    assert caught.value.message == (f"cannot move task {task_id} from {ended.value} to cancelled")
    assert ws.tasks.get(task_id).status.value == ended.value


def test_a_cancelled_task_can_run_again(ws: Workspace) -> None:
    task_id = add(ws, "second thoughts")
    ws.tasks.cancel(task_id)
    assert ws.tasks.run(task_id).status is S.QUEUED
    ws.tasks.cancel(task_id)


class _NotReady(Runtime):
    name: ClassVar[str] = "unready"
    label: ClassVar[str] = "Unready (test)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities()

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        raise AssertionError("never started")

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        return RuntimeHealth(
            runtime=self.name, ok=False, summary="not logged in", fix="run `unready login`"
        )


def test_a_runtime_that_is_not_ready_refuses_the_run_with_the_fix(ws: Workspace) -> None:
    ws.runtimes.register(_NotReady())
    task_id = add(ws, "blocked", runtime="unready")
    with pytest.raises(RuntimeUnavailableError) as caught:
        ws.tasks.run(task_id)
    assert caught.value.message == "the unready runtime is not ready: not logged in"
    assert caught.value.hint == "run `unready login`"
    assert ws.tasks.get(task_id).status is S.PLANNED
    assert ws.tasks.runs(task_id) == []


class _CountedReady(Runtime):
    """A real (not simulated) runtime whose health check passes, writes to the store (as a
    check that records what it found would) and counts itself."""

    name: ClassVar[str] = "counted"
    label: ClassVar[str] = "Counted (test)"
    capabilities: ClassVar[RuntimeCapabilities] = RuntimeCapabilities()

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.checks = 0

    async def start(self, request: RunRequest, gate: PermissionGate) -> AgentRun:
        raise AssertionError("never started")

    async def health(self, *, probe: bool = False) -> RuntimeHealth:
        self.checks += 1
        self.ws.projects.create(f"checked {self.checks}")  # no write lock is held meanwhile
        return RuntimeHealth(runtime=self.name, ok=True, summary="ready")


def test_a_ready_runtime_is_checked_once_outside_the_write_and_then_trusted(
    ws: Workspace,
) -> None:
    runtime = _CountedReady(ws)
    ws.runtimes.register(runtime)
    first, second = add(ws, "one", runtime="counted"), add(ws, "two", runtime="counted")

    assert ws.tasks.run(first).status is S.QUEUED
    assert ws.tasks.run(second).status is S.QUEUED

    assert runtime.checks == 1
    assert "checked 1" in {project.name for project in ws.projects.list()}


# -- the Board ---------------------------------------------------------------------------------


def test_dragging_a_planned_card_to_queued_runs_it_and_back_cancels_the_run(
    ws: Workspace,
) -> None:
    task_id = add(ws, "card")
    queued = ws.tasks.move(task_id, S.QUEUED)
    assert queued.status is S.QUEUED
    planned = ws.tasks.move(task_id, S.PLANNED)
    assert planned.status is S.PLANNED
    (run,) = ws.tasks.runs(task_id)
    assert (run.status, run.stop_reason) == (RunStatus.CANCELLED, "moved on the board")
    assert ws.queue.status(queued.workflow_id or "") == "CANCELLED"


def test_a_finished_card_goes_back_to_planned(ws: Workspace) -> None:
    task_id = add(ws, "done card")
    ws.tasks.run(task_id)
    finish(ws, task_id, RunStatus.COMPLETED, result="ok")
    assert ws.tasks.move(task_id, S.PLANNED).status is S.PLANNED
    assert ws.tasks.runs(task_id)[0].status is RunStatus.COMPLETED  # history stays


@pytest.mark.parametrize("target", [S.RUNNING, S.COMPLETED, S.FAILED, S.CANCELLED, S.WAITING])
def test_a_card_cannot_be_dragged_into_work_or_an_end(ws: Workspace, target: TaskStatus) -> None:
    task_id = add(ws, "dragged")
    with pytest.raises(InvalidTransitionError) as caught:
        ws.tasks.move(task_id, target)
    assert caught.value.message == f"a card cannot be dragged from planned to {target.value}"
    assert caught.value.hint and "planned and queued" in caught.value.hint
    assert ws.tasks.get(task_id).status is S.PLANNED


# -- delete ------------------------------------------------------------------------------------


def test_deleting_a_task_removes_it_and_its_log(ws: Workspace) -> None:
    task_id = add(ws, "gone")
    ws.tasks.delete(task_id)
    with pytest.raises(NotFoundError):
        ws.tasks.get(task_id)
    assert task_id not in {t.id for t in ws.tasks.list()}


def test_a_queued_task_cannot_be_deleted(ws: Workspace) -> None:
    task_id = add(ws, "in flight")
    ws.tasks.run(task_id)
    with pytest.raises(ConflictError) as caught:
        ws.tasks.delete(task_id)
    assert caught.value.message == f"task {task_id} is queued"
    assert caught.value.hint == "cancel it first"
    ws.tasks.cancel(task_id)
    ws.tasks.delete(task_id)


def test_waiting_for_a_task_that_never_ends_returns_it_at_the_timeout(ws: Workspace) -> None:
    task_id = add(ws, "slow")
    ws.tasks.run(task_id)
    assert ws.tasks.wait(task_id, timeout=0.2).status is S.QUEUED
    assert ws.tasks.wait(add(ws, "idle"), timeout=5).status is S.PLANNED  # nothing to wait for
    ws.tasks.cancel(task_id)


def test_following_a_finished_task_yields_its_log_and_stops(ws: Workspace) -> None:
    task_id = add(ws, "followed")
    ws.tasks.run(task_id)
    finish(ws, task_id, RunStatus.COMPLETED, result="ok")
    followed = [e.kind for e in ws.tasks.follow(task_id, poll_seconds=0.05)]
    assert followed == [e.kind for e in ws.tasks.events(task_id)]
    first = ws.tasks.events(task_id)[0].seq
    assert [e.seq for e in ws.tasks.follow(task_id, after=first)][0] > first


def test_the_feed_is_every_tasks_events_in_seq_order(ws: Workspace) -> None:
    start = ws.tasks.last_seq()
    a, b = add(ws, "feed a"), add(ws, "feed b")
    feed = ws.tasks.feed(after=start)
    assert [(e.task_id, e.kind) for e in feed] == [(a, "created"), (b, "created")]
    assert ws.tasks.last_seq() == feed[-1].seq
    assert ws.tasks.feed(after=feed[-1].seq) == []


# -- projects ----------------------------------------------------------------------------------


def test_a_project_is_found_by_id_or_name(ws: Workspace, tmp_path: Path) -> None:
    project = ws.projects.create("  Site  ", description="the web site", directory=str(tmp_path))
    assert project.name == "Site"
    assert project.working_directory == str(tmp_path.resolve())
    assert ws.projects.get("Site") == ws.projects.get(project.id) == project
    assert "Site" in [p.name for p in ws.projects.list()]


@pytest.mark.parametrize(
    ("name", "directory", "error", "message"),
    [
        ("  ", None, ValidationError, "name: a project needs a name"),
        ("x" * 201, None, ValidationError, "name: 201 characters is too long"),
        ("ok", "/no/such/dir", ValidationError, "directory: /no/such/dir does not exist"),
        ("ok", "x" * 5000, ValidationError, "directory: 5000 characters is too long"),
    ],
)
def test_an_invalid_project_is_refused(
    ws: Workspace, name: str, directory: str | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=f"^{message}"):
        ws.projects.create(name, directory=directory)


def test_a_file_is_not_a_working_directory(ws: Workspace, tmp_path: Path) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("x")
    with pytest.raises(ValidationError, match="does not exist or is not a directory"):
        ws.projects.create("filed", directory=str(file))


def test_a_home_of_a_user_this_machine_does_not_have_is_not_a_working_directory(
    ws: Workspace,
) -> None:
    # Path.expanduser raises RuntimeError for ~name of an unknown user: once a 500 (the API fuzz)
    with pytest.raises(ValidationError, match="does not exist or is not a directory"):
        ws.projects.create("nobody", directory="~stagent-no-such-user/work")


def test_project_names_are_unique(ws: Workspace) -> None:
    ws.projects.create("twin")
    with pytest.raises(ConflictError, match="a project named 'twin' already exists"):
        ws.projects.create("twin")


def test_deleting_a_project_keeps_its_tasks(ws: Workspace) -> None:
    project = ws.projects.create("doomed")
    task_id = add(ws, "survivor", project="doomed")
    ws.projects.delete("doomed")
    with pytest.raises(NotFoundError):
        ws.projects.get(project.id)
    assert ws.tasks.get(task_id).project_id is None
