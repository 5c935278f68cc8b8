"""Running a blueprint: it is instantiated and started as a workflow on the durable engine, each
step a Board task that runs with its step's profile; the workflow keeps the blueprint's lineage."""

from __future__ import annotations

import time

import pytest

from stagent.domain.errors import StagentError, ValidationError
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.workspace import Workspace


def test_a_sequence_blueprint_runs_each_step_with_its_profile_and_keeps_its_lineage(
    worker: Workspace,
) -> None:
    started = worker.run_blueprint("meal-planning", {"goal": "quick dinners", "days": "3"})
    assert started.status is WorkflowStatus.RUNNING
    done = worker.workflows.wait(started.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert done.name == "Meal planning: quick dinners"
    assert done.definition.blueprint == {
        "id": "meal-planning",
        "version": "1.0.0",
        "variables": {"goal": "quick dinners", "restrictions": None, "days": 3, "people": 2},
    }
    assert [s.key for s in done.steps] == ["assess", "plan", "groceries"]
    plan = worker.tasks.get(done.steps[1].task_id or "")
    assert plan.profile == "meal-planner"
    assert "Plan 3 days of meals for 2" in plan.description
    options = worker.tasks.runs(plan.id)[-1].options
    # meal-planner allows no tools: the gate denies writing files without asking anyone
    assert options.tool_policy is not None and "Write" in options.tool_policy.auto_deny
    notes = [e.payload["message"] for e in worker.tasks.events(plan.id) if e.kind == "note"]
    assert any(n.startswith("profile meal-planner 1.0.0 (builtin) sets") for n in notes), notes


def test_a_parallel_blueprint_joins_its_branches(worker: Workspace) -> None:
    started = worker.run_blueprint("research-deep-dive", {"topic": "WebAssembly plugins"})
    done = worker.workflows.wait(started.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert done.pattern == "parallel"
    assert all(s.status.value == "completed" for s in done.steps)


@pytest.mark.parametrize(
    ("blueprint_id", "values"),
    [
        ("bug-triage", {"bug_report": "Login fails on Safari"}),
        ("refactor-until-green", {"target": "src/payments", "goal": "smaller functions"}),
    ],
)
def test_swarm_and_loop_blueprints_run_on_the_engine(
    worker: Workspace, blueprint_id: str, values: dict[str, str]
) -> None:
    started = worker.run_blueprint(blueprint_id, values, runtime="scripted")
    done = worker.workflows.wait(started.id, timeout=90)
    assert done.pattern == worker.profiles.blueprints().get(blueprint_id).pattern
    assert done.status is not WorkflowStatus.RUNNING
    assert "not built yet" not in (done.stop_reason or ""), done.stop_reason
    assert done.steps and all(s.task_id for s in done.steps if s.status.value == "completed")
    assert any(s.status.value == "completed" for s in done.steps)


def test_a_planner_blueprint_with_an_approval_step_runs_through_its_gates(
    worker: Workspace,
) -> None:
    started = worker.run_blueprint(
        "incident-postmortem", {"incident": "API down 20 minutes", "severity": "SEV2"}
    )
    deadline = time.monotonic() + 90
    while (done := worker.workflows.get(started.id)).status is WorkflowStatus.RUNNING:
        assert time.monotonic() < deadline, "the blueprint never ended"
        for card in worker.approvals.list_pending():
            worker.approvals.allow(card.id, by="person (via CLI)")
        time.sleep(0.05)
    assert "approval" not in (done.stop_reason or ""), done.stop_reason


def test_a_blueprint_with_an_approval_gate_waits_at_its_checkpoint(worker: Workspace) -> None:
    started = worker.run_blueprint("release-notes", {"version": "2.0", "announce": "true"})
    deadline = time.monotonic() + 60
    while not (cards := [c for c in worker.approvals.list_pending() if c.kind == "checkpoint"]):
        assert time.monotonic() < deadline, "no checkpoint card"
        time.sleep(0.05)
    assert cards[0].input["workflow_id"] == started.id
    while (done := worker.workflows.get(started.id)).status is WorkflowStatus.RUNNING:
        assert time.monotonic() < deadline, "the blueprint never finished"
        for card in worker.approvals.list_pending():  # this gate and any later one
            worker.approvals.allow(card.id, by="person (via CLI)")
        time.sleep(0.05)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert worker.approvals.recent(limit=5)[0].kind == "checkpoint"


def test_the_runtime_must_suit_every_steps_profile(workspace: Workspace) -> None:
    with pytest.raises(StagentError, match="unknown runtime 'nonesuch'"):
        workspace.run_blueprint("meal-planning", {"goal": "g"}, runtime="nonesuch")
    with pytest.raises(ValidationError, match="step assess: profile: health-coach does not"):
        workspace.run_blueprint("meal-planning", {"goal": "g"}, runtime="anthropic")
    assert workspace.workflows.list() == []


def test_a_workflow_step_naming_an_unknown_profile_is_refused_when_added(
    workspace: Workspace,
) -> None:
    definition = parse_definition(
        {
            "name": "w",
            "pattern": "sequence",
            "steps": [{"id": "a", "name": "A", "prompt": "p", "profile": "nobody"}],
        }
    )
    refused = r"steps\[0\].profile \(step a\): no profile 'nobody'"
    with pytest.raises(ValidationError, match=refused):
        workspace.workflows.add(definition)
