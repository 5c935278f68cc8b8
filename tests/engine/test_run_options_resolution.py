"""Resolving a run's options: the task's own over its profile's over the project's working
directory; the budget's cap on top; the request a runtime receives. Invalid options are refused
when the task is saved, with the field named, on every face."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from stagent.domain.errors import ValidationError
from stagent.domain.run_options import RunOptions, parse_run_options
from stagent.domain.runs import Run, RunStatus, Subject
from stagent.domain.tasks import Project, Task, TaskStatus
from stagent.engine.options import prompt, resolve, run_request, with_cap
from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace


def task(runtime: str = "claude", **options: object) -> Task:
    return Task(
        id="tsk_1",
        title="Fix the bug",
        description="In parser.py.",
        status=TaskStatus.PLANNED,
        project_id=None,
        runtime=runtime,
        profile=None,
        priority=2,
        result=None,
        error=None,
        options=parse_run_options({**options, "runtime": runtime}),
    )


def project(directory: str | None) -> Project:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Project("prj_1", "p", "", directory, now, now)


def test_a_task_alone_keeps_its_options_and_its_runtime() -> None:
    resolved = resolve(task(model="claude-opus-4-1", limits={"max_turns": 3}), None)
    assert resolved.runtime == "claude"
    assert resolved.model == "claude-opus-4-1"
    assert resolved.limits.max_turns == 3
    assert resolved.working_directory is None


def test_the_projects_directory_is_used_when_the_task_names_none() -> None:
    assert resolve(task(), project("/srv/app")).working_directory == "/srv/app"
    own = task(working_directory="/tmp/elsewhere")
    assert resolve(own, project("/srv/app")).working_directory == "/tmp/elsewhere"
    assert resolve(task(), project(None)).working_directory is None


def test_the_task_wins_over_its_profile_leaf_by_leaf() -> None:
    profile = {
        "model": "profile-model",
        "instructions": "Review carefully.",
        "max_turns": 25,
        "max_budget_usd": "3",
        "tools": ["Read", "Grep"],
        "tool_policy": {"auto_approve": ["Read"]},
    }
    resolved = resolve(task(model="task-model", limits={"max_turns": 5}), None, profile)
    assert resolved.model == "task-model"  # the task's own
    assert resolved.instructions == "Review carefully."  # the profile's default
    assert resolved.limits.max_turns == 5  # the task's, inside the same mapping
    assert resolved.limits.max_budget_usd == Decimal("3")  # the profile's, beside it
    assert resolved.claude is not None and resolved.claude.tools == ("Read", "Grep")
    assert resolved.tool_policy is not None and resolved.tool_policy.auto_approve == ("Read",)


def test_profile_project_and_task_combine_in_that_order() -> None:
    resolved = resolve(task(), project("/srv/app"), {"model": "p", "max_turns": 9})
    assert (resolved.model, resolved.limits.max_turns, resolved.working_directory) == (
        "p",
        9,
        "/srv/app",
    )


def test_an_invalid_profile_default_names_the_option() -> None:
    with pytest.raises(ValidationError, match=r"^options\.limits\.max_turns: "):
        resolve(task(), None, {"max_turns": 0})


def test_a_task_whose_options_name_another_runtime_runs_on_its_own() -> None:
    odd = replace(task("scripted"), runtime="codex", options=RunOptions(runtime="scripted"))
    assert resolve(odd, None).runtime == "codex"


def test_the_budgets_cap_replaces_the_tasks_own() -> None:
    options = parse_run_options({"limits": {"max_budget_usd": "5", "max_turns": 2}})
    capped = with_cap(options, Decimal("1.25"))
    assert capped.limits.max_budget_usd == Decimal("1.25")
    assert capped.limits.max_turns == 2
    assert with_cap(options, None) is options
    assert with_cap(options, Decimal("5")) is options


def _run(options: RunOptions, attempt: int = 2) -> Run:
    return Run(
        "run_1", Subject("task", "tsk_1"), "tsk_1", 1, options.runtime, options,
        RunStatus.RUNNING, attempt=attempt,
    )  # fmt: skip


def test_the_request_is_built_from_the_task_the_run_and_the_options(tmp_path: Path) -> None:
    options = parse_run_options(
        {
            "runtime": "claude",
            "model": "m",
            "instructions": "i",
            "allowed_tools": ["Read"],
            "limits": {"max_turns": 4, "max_budget_usd": "0.5", "deadline_seconds": 60},
            "working_directory": "/w",
            "claude": {"gate": "all"},
        }
    )
    source = replace(task(), session_id="sess-1")
    request = run_request(source, _run(options), options, home=tmp_path, env={"KEY": 1})
    assert request.prompt == "Fix the bug\n\nIn parser.py."
    assert (request.task_id, request.run_id, request.attempt) == ("tsk_1", "run_1", 2)
    assert (request.model, request.instructions, request.allowed_tools) == ("m", "i", ("Read",))
    assert (request.max_turns, request.max_budget_usd) == (4, 0.5)
    assert request.working_directory == "/w"
    assert request.config == {"gate": "all", "deadline_seconds": 60.0}
    assert request.session_id == "sess-1"
    assert request.env == {"KEY": "1"}
    assert request.stagent_home == str(tmp_path)


def test_a_task_without_a_description_is_prompted_by_its_title() -> None:
    assert prompt(replace(task(), description="")) == "Fix the bug"
    assert prompt(replace(task(), description="  ")) == "Fix the bug"


def test_running_a_task_stores_the_resolved_options_on_the_run(
    ws: Workspace, tmp_path: Path
) -> None:
    where = ws.projects.create("resolved", directory=str(tmp_path))
    created = ws.tasks.create(
        TaskDraft(title="r", project=where.id, options={"limits": {"max_turns": 7}})
    )
    ws.tasks.run(created.id)
    (run,) = ws.tasks.runs(created.id)
    assert run.options.working_directory == str(tmp_path.resolve())
    assert run.options.limits.max_turns == 7
    assert run.runtime == "scripted"
    assert ws.tasks.get(created.id).options.working_directory is None  # the task is unchanged
    ws.tasks.cancel(created.id)


def test_a_profiles_policy_reaches_the_run_not_the_task(ws: Workspace) -> None:
    created = ws.tasks.create(TaskDraft(title="review", profile="code-reviewer"))
    ws.tasks.run(created.id)
    (run,) = ws.tasks.runs(created.id)
    assert run.options.tool_policy is not None
    assert "Read" in run.options.tool_policy.auto_approve
    assert ws.tasks.get(created.id).options.tool_policy is None
    ws.tasks.cancel(created.id)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"limits": {"max_turns": 0}}, "options.limits.max_turns: "),
        ({"limit": {"max_turns": 1}}, "options.limit: not a run option"),
        ({"codex": {"sandbox": "read-only"}}, "options.codex: options for the codex runtime"),
        ({"tool_policy": {"auto_approve": ["Glob(src/**)"]}}, "options.tool_policy.auto_approve: "),
    ],
)
def test_invalid_options_are_refused_when_the_task_is_saved(
    ws: Workspace, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        ws.tasks.create(TaskDraft(title="bad", options=options))
    assert caught.value.message.startswith(message)
    saved = ws.tasks.create(TaskDraft(title="fine"))
    with pytest.raises(ValidationError) as edited:
        ws.tasks.update(saved.id, {"options": options})
    assert edited.value.message.startswith(message)
    assert ws.tasks.get(saved.id).options == RunOptions()


def test_options_must_be_a_mapping(ws: Workspace) -> None:
    saved = ws.tasks.create(TaskDraft(title="fine"))
    with pytest.raises(ValidationError, match="^options: run options must be a mapping$"):
        ws.tasks.update(saved.id, {"options": ["max_turns", 3]})
