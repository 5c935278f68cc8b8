"""Planner-executor on the durable engine: the planner's JSON plan becomes executor steps at run
time; each executor sees the plan and the results before it."""

from __future__ import annotations

import json
from typing import Any

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.schemas.workflows import WorkflowSchema
from stagent.testing.workflows import scripted, step
from stagent.workspace import Workspace

PLAN = [
    {"name": "Timeline", "prompt": "Build the timeline"},
    {"title": "Root cause", "instructions": "Find the root cause"},
]


def fenced(plan: object) -> str:
    return f"Here is my plan.\n```json\n{json.dumps(plan, indent=2)}\n```\nGood luck."


def planner_executor(plan_output: str, *executors: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "postmortem",
        "pattern": "planner-executor",
        "steps": [step("plan", plan_output), *(executors or [step("work", "worked")])],
    }


def add(ws: Workspace, data: dict[str, Any]) -> Workflow:
    return ws.workflows.add(parse_definition(data))


def run_to_end(ws: Workspace, workflow: Workflow) -> Workflow:
    ws.workflows.run(workflow.id)
    return ws.workflows.wait(workflow.id, timeout=60)


def test_the_plan_becomes_executor_steps_that_see_the_plan_and_earlier_results(
    worker: Workspace,
) -> None:
    done = run_to_end(worker, add(worker, planner_executor(fenced(PLAN))))
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [(s.key, done.step_name(s), s.status) for s in done.steps] == [
        ("plan", "Plan", StepStatus.COMPLETED),
        ("work#1", "Timeline", StepStatus.COMPLETED),
        ("work#2", "Root cause", StepStatus.COMPLETED),
    ]
    planner = worker.tasks.get(done.steps[0].task_id or "")
    assert planner.description.startswith("do plan\n\n---\n\nAnswer with your plan as a JSON list")
    first, second = (worker.tasks.get(s.task_id or "") for s in done.steps[1:])
    assert first.title == "postmortem: Timeline"  # says which workflow it belongs to
    plan = "Plan from planner:\n1. Timeline: Build the timeline\n2. Root cause: Find the root cause"
    assert first.description == (
        f"{plan}\n\n---\n\nYour step (1 of 2) - Timeline:\nBuild the timeline\n\n---\n\ndo work"
    )
    assert second.description == (
        f"{plan}\n\n---\n\nResults so far:\nStep 1 - Timeline:\nworked\n\n---\n\n"
        "Your step (2 of 2) - Root cause:\nFind the root cause\n\n---\n\ndo work"
    )
    roles = [(s["id"], s["role"], s["template"]) for s in WorkflowSchema.of(done).data()["steps"]]
    assert roles == [
        ("plan", "planner", "plan"),
        ("work#1", "executor", "work"),
        ("work#2", "executor", "work"),
    ]


def test_plan_steps_name_their_executor_when_there_are_several(worker: Workspace) -> None:
    plan = [
        {"name": "Check", "prompt": "check it", "executor": "review"},
        {"name": "Fix", "prompt": "fix it", "executor": "fix"},
        {"name": "Check again", "prompt": "check the fix", "executor": "review"},
    ]
    data = planner_executor(json.dumps(plan), step("review", "looked"), step("fix", "fixed"))
    done = run_to_end(worker, add(worker, data))
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [(s.key, s.output) for s in done.steps] == [
        ("plan", json.dumps(plan)),
        ("review#1", "looked"),
        ("fix#2", "fixed"),
        ("review#3", "looked"),
    ]
    planner = worker.tasks.get(done.steps[0].task_id or "").description
    assert 'Each step names its "executor", one of: "review" (Review: do review); "fix"' in planner


def test_a_malformed_plan_is_one_clear_failure_and_retry_asks_the_planner_again(
    worker: Workspace,
) -> None:
    broken = fenced([{"name": "Timeline", "prompt": "ok"}, {"name": "No prompt"}])
    wf = add(worker, planner_executor(broken))
    failed = run_to_end(worker, wf)
    assert failed.status is WorkflowStatus.FAILED
    assert failed.stop_reason == (
        "step plan failed: malformed plan: the plan's step 2: prompt: Field required"
    )
    assert [(s.key, s.status) for s in failed.steps] == [("plan", StepStatus.FAILED)]

    planner_task = failed.steps[0].task_id or ""
    worker.tasks.update(planner_task, {"options": scripted(json.dumps(PLAN))})
    worker.workflows.retry(wf.id, "plan")
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.key for s in done.steps] == ["plan", "work#1", "work#2"]


def test_a_plan_that_is_not_json_says_so(worker: Workspace) -> None:
    done = run_to_end(worker, add(worker, planner_executor("First I would look at the logs.")))
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason is not None
    assert "malformed plan: the plan is not JSON (line 1, column 1" in done.stop_reason


def test_a_failed_executor_step_stops_the_run_and_retry_runs_it_and_what_follows(
    worker: Workspace,
) -> None:
    data = planner_executor(json.dumps(PLAN), step("work", "x", fail="provider error"))
    wf = add(worker, data)
    failed = run_to_end(worker, wf)
    assert failed.stop_reason == "step work#1 failed: provider error"
    assert [(s.key, s.status) for s in failed.steps] == [
        ("plan", StepStatus.COMPLETED),
        ("work#1", StepStatus.FAILED),
        ("work#2", StepStatus.PENDING),
    ]
    plan_task, first_task = (s.task_id or "" for s in failed.steps[:2])
    worker.tasks.update(first_task, {"options": scripted("now it works")})
    worker.workflows.retry(wf.id, "work#1")
    again = worker.workflows.wait(wf.id, timeout=60)
    assert [(s.key, s.status) for s in again.steps] == [
        ("plan", StepStatus.COMPLETED),
        ("work#1", StepStatus.COMPLETED),
        ("work#2", StepStatus.FAILED),  # the template still fails for the next plan step
    ]
    assert len(worker.tasks.runs(plan_task)) == 1  # the plan is not made again
    second = worker.tasks.get(again.steps[2].task_id or "").description
    assert "Results so far:\nStep 1 - Timeline:\nnow it works" in second
