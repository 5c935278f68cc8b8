"""Schedules that fire workflows and blueprints: a firing starts a new run of a stored workflow,
or makes a new workflow from a blueprint with the schedule's variables; its history links that
run with its outcome and cost. Decided tick by tick on a hand-moved clock (SQLite), then once
end to end under a worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from schedtools import Clock, decided, history, statuses, tick_and_decide

from stagent.domain.errors import NotFoundError, ValidationError
from stagent.domain.schedules import FiringStatus, TargetKind
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import Workflow, WorkflowStatus
from stagent.scheduler.drafts import ScheduleDraft
from stagent.testing.workflows import step
from stagent.workspace import Workspace

PAID = {"usage": {"model": "scripted-1", "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.25}}


def paid_step(key: str) -> dict[str, Any]:
    """A scripted step whose task books $0.25."""
    data = step(key, f"{key} done")
    data["options"]["scripted"]["scenario"]["steps"].append(PAID)
    return data


def digest(ws: Workspace) -> Workflow:
    return ws.workflows.add(
        parse_definition(
            {"name": "digest", "pattern": "sequence", "steps": [paid_step("a"), paid_step("b")]}
        )
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on SQLite, and again on PostgreSQL (the history's outcome and cost
    queries run on both)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    ws = Workspace.temporary(tmp_path / "ws", database_url=url).open()
    try:
        yield ws
    finally:
        ws.close()


def test_a_workflow_firing_starts_a_new_run_and_its_history_links_it(
    workspace: Workspace, clock: Clock
) -> None:
    workflow = digest(workspace)
    schedule = workspace.schedules.create(
        ScheduleDraft(name="nightly", workflow="digest", every="1h", tz="UTC")
    )
    assert schedule.target.kind is TargetKind.WORKFLOW
    assert schedule.target.ref == workflow.id  # named by its id from now on
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["fired"]
    (firing,) = history(workspace, schedule)
    assert (firing.workflow_id, firing.workflow_run, firing.task_id) == (workflow.id, 1, None)
    assert firing.outcome == "running"
    assert workspace.workflows.get(workflow.id).run_count == 1
    assert workspace.schedules.get(schedule.id).firing_count == 1


def test_overlap_skip_sees_a_running_workflow_as_busy(workspace: Workspace, clock: Clock) -> None:
    digest(workspace)
    schedule = workspace.schedules.create(
        ScheduleDraft(name="nightly", workflow="digest", every="1h", tz="UTC")
    )
    clock.advance(3600)
    tick_and_decide(workspace)
    clock.advance(3600)
    tick_and_decide(workspace)
    assert statuses(workspace, schedule) == ["fired", "skipped"]
    assert "overlap policy skip" in (history(workspace, schedule)[-1].reason or "")


def test_overlap_skip_also_skips_while_a_person_runs_the_workflow(
    workspace: Workspace, clock: Clock
) -> None:
    workflow = digest(workspace)
    schedule = workspace.schedules.create(
        ScheduleDraft(name="nightly", workflow="digest", every="1h", tz="UTC")
    )
    workspace.workflows.run(workflow.id)
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["skipped"]
    (skipped,) = history(workspace, schedule)
    assert skipped.reason == "overlap policy skip: workflow 'digest' run 1 was still running"
    assert workspace.workflows.get(workflow.id).run_count == 1


def test_overlap_queue_starts_the_next_run_when_the_current_one_ends(
    workspace: Workspace, clock: Clock
) -> None:
    workflow = digest(workspace)
    schedule = workspace.schedules.create(
        ScheduleDraft(name="nightly", workflow="digest", every="1h", tz="UTC", overlap="queue")
    )
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["fired"]
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["wait"]
    first, waiting = history(workspace, schedule)
    assert (first.status, first.workflow_run) == (FiringStatus.FIRED, 1)
    assert waiting.status is FiringStatus.WAITING and waiting.workflow_run is None
    assert workspace.schedules.process(waiting.id) == "wait"  # still running: waits again
    assert workspace.workflows.get(workflow.id).run_count == 1

    workspace.workflows.cancel(workflow.id)
    assert workspace.schedules.process(waiting.id) == "fired"
    assert workspace.schedules.process(waiting.id) == "fired"  # decided once
    first, second = history(workspace, schedule)
    assert (second.status, second.workflow_id, second.workflow_run) == (
        FiringStatus.FIRED,
        workflow.id,
        2,
    )
    assert (first.outcome, second.outcome) == ("cancelled", "running")
    assert workspace.workflows.get(workflow.id).run_count == 2
    assert workspace.schedules.get(schedule.id).firing_count == 2


def test_overlap_queue_waits_for_a_run_a_person_started(workspace: Workspace, clock: Clock) -> None:
    workflow = digest(workspace)
    schedule = workspace.schedules.create(
        ScheduleDraft(name="nightly", workflow="digest", every="1h", tz="UTC", overlap="queue")
    )
    workspace.workflows.run(workflow.id)
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["wait"]
    (waiting,) = history(workspace, schedule)
    assert waiting.status is FiringStatus.WAITING
    assert waiting.reason == "queued behind workflow 'digest' run 1"
    workspace.workflows.cancel(workflow.id)
    assert workspace.schedules.process(waiting.id) == "fired"
    (fired,) = history(workspace, schedule)
    assert fired.workflow_run == 2 and workspace.workflows.get(workflow.id).run_count == 2


def test_overlap_allow_is_refused_for_a_workflow_when_saved(workspace: Workspace) -> None:
    digest(workspace)
    with pytest.raises(ValidationError, match="overlap: 'allow' cannot run a workflow twice"):
        workspace.schedules.create(
            ScheduleDraft(name="n", workflow="digest", every="1h", tz="UTC", overlap="allow")
        )
    workspace.schedules.create(
        ScheduleDraft(name="n", prompt="p", every="1h", tz="UTC", overlap="allow")
    )
    with pytest.raises(ValidationError, match="overlap:") as refused:
        workspace.schedules.update("n", ScheduleDraft(workflow="digest"))
    assert "queue" in (refused.value.hint or "")
    assert workspace.schedules.get("n").target.kind is TargetKind.PROMPT
    moved = workspace.schedules.update("n", ScheduleDraft(workflow="digest", overlap="queue"))
    assert (moved.target.kind, moved.overlap.value) == (TargetKind.WORKFLOW, "queue")


def test_a_blueprint_firing_makes_a_new_workflow_with_the_schedules_variables(
    workspace: Workspace, clock: Clock
) -> None:
    schedule = workspace.schedules.create(
        ScheduleDraft(
            name="meals",
            blueprint="meal-planning",
            variables={"goal": "quick dinners", "days": "3"},
            every="1d",
            tz="UTC",
            overlap="allow",
        )
    )
    for _ in range(2):
        clock.advance(86400)
        workspace.workflows.cancel(w.id) if (w := _running(workspace)) else None
        assert tick_and_decide(workspace) == ["fired"]
    first, second = history(workspace, schedule)
    assert first.workflow_id != second.workflow_id
    made = workspace.workflows.get(second.workflow_id or "")
    assert made.name == "Meal planning: quick dinners"
    assert made.definition.blueprint is not None
    assert made.definition.blueprint["id"] == "meal-planning"
    assert made.definition.blueprint["variables"]["days"] == 3
    assert {s.runtime for s in made.definition.steps} == {"scripted"}
    assert first.outcome == "cancelled" and second.outcome == "running"


def _running(ws: Workspace) -> Workflow | None:
    return next((w for w in ws.workflows.list() if w.status is WorkflowStatus.RUNNING), None)


def test_targets_that_could_never_fire_are_refused_when_saved(workspace: Workspace) -> None:
    with pytest.raises(NotFoundError, match="no blueprint 'nope'"):
        workspace.schedules.create(ScheduleDraft(name="x", every="1h", blueprint="nope"))
    with pytest.raises(ValidationError, match="variable goal: Goal is required"):
        workspace.schedules.create(ScheduleDraft(name="x", every="1h", blueprint="meal-planning"))
    with pytest.raises(ValidationError, match="step assess: profile: health-coach does not"):
        workspace.schedules.create(
            ScheduleDraft(
                name="x",
                every="1h",
                blueprint="meal-planning",
                variables={"goal": "g"},
                runtime="anthropic",
            )
        )
    with pytest.raises(NotFoundError):
        workspace.schedules.create(ScheduleDraft(name="x", every="1h", workflow="wf_missing"))
    with pytest.raises(ValidationError, match="target: give one of prompt, workflow or blueprint"):
        workspace.schedules.create(
            ScheduleDraft(name="x", every="1h", prompt="p", blueprint="meal-planning")
        )
    with pytest.raises(ValidationError, match="variables: only a blueprint target"):
        workspace.schedules.create(
            ScheduleDraft(name="x", every="1h", prompt="p", variables={"k": "v"})
        )
    assert workspace.schedules.list() == []


def test_a_blueprint_that_breaks_after_saving_fails_its_firing_with_the_reason(
    workspace: Workspace, clock: Clock
) -> None:
    user_dir = workspace.settings.home / "blueprints"
    user_dir.mkdir(parents=True, exist_ok=True)
    text = """id: mine
name: Mine
description: d
pattern: sequence
variables: [{id: topic, type: text, required: true}]
steps: [{name: Gather, profile: researcher, prompt: "Research {{topic}}"}]
"""
    (user_dir / "mine.yaml").write_text(text)
    schedule = workspace.schedules.create(
        ScheduleDraft(name="m", blueprint="mine", variables={"topic": "tea"}, every="1h", tz="UTC")
    )
    (user_dir / "mine.yaml").write_text(text.replace("id: topic", "id: subject"))
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["failed"]
    (firing,) = history(workspace, schedule)
    assert firing.status is FiringStatus.FAILED
    assert (firing.reason or "").startswith("blueprint: ")
    assert workspace.workflows.list() == []
    assert workspace.schedules.get(schedule.id).next_fire_at == clock.now + _hour()


def _hour() -> Any:
    from datetime import timedelta

    return timedelta(hours=1)


def test_edit_switches_the_target_and_clears_limit_and_expiry(
    workspace: Workspace, clock: Clock
) -> None:
    digest(workspace)
    schedule = workspace.schedules.create(
        ScheduleDraft(
            name="s",
            prompt="p",
            profile="editor",
            every="1h",
            tz="UTC",
            max_firings=1,
            expires_at="2026-12-31T00:00",
        )
    )
    clock.advance(3600)
    tick_and_decide(workspace)
    assert workspace.schedules.get(schedule.id).status.value == "expired"
    edited = workspace.schedules.update("s", ScheduleDraft(workflow="digest", clear_limit=True))
    assert edited.target.kind is TargetKind.WORKFLOW and edited.target.profile is None
    assert edited.max_firings is None and edited.status.value == "active"
    assert edited.expires_at is not None
    cleared = workspace.schedules.update("s", ScheduleDraft(clear_expiry=True))
    assert cleared.expires_at is None and cleared.target.kind is TargetKind.WORKFLOW
    back = workspace.schedules.update("s", ScheduleDraft(prompt="again"))
    assert back.target.kind is TargetKind.PROMPT and back.target.ref is None
    with pytest.raises(ValidationError, match="give a new value or clear it, not both"):
        workspace.schedules.update("s", ScheduleDraft(max_firings=3, clear_limit=True))


def test_a_fired_workflow_reports_its_outcome_and_the_cost_of_every_step(
    worker: Workspace,
) -> None:
    workflow = digest(worker)
    schedule = worker.schedules.create(
        ScheduleDraft(name="nightly", workflow=workflow.id, every="1d", tz="UTC")
    )
    firing = decided(worker, worker.schedules.fire_now(schedule.id).id)
    done = worker.workflows.wait(workflow.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    firing = worker.schedules.firing(firing.id)
    assert firing.status is FiringStatus.FIRED and firing.outcome == "completed"
    # Two steps whose scenarios reported $0.25 each, on the scripted runtime: simulated, and
    # simulated runs never count as spend (issue 12).
    assert (firing.cost_micros, firing.simulated) == (0, True)
    # An earlier run keeps its outcome when a later run of the workflow starts.
    second = decided(worker, worker.schedules.fire_now(schedule.id).id)
    worker.workflows.wait(workflow.id, timeout=60)
    assert second.workflow_run == 2 and worker.schedules.firing(second.id).outcome == "completed"
    assert worker.schedules.firing(firing.id).outcome == "completed"


def test_a_firing_whose_workflow_step_is_not_ready_fails_with_the_fix_and_the_schedule_goes_on(
    workspace: Workspace, clock: Clock, no_login: None
) -> None:
    """Before, the run started and failed at its claude step with the runtime's own message;
    now the firing is decided ``failed`` up front, saying the step, the runtime and the fix,
    no run starts, and the schedule keeps its next occurrence."""
    review = {"id": "review", "name": "Review", "prompt": "p", "runtime": "claude"}
    steps = [step("plan", "planned"), review]
    workflow = workspace.workflows.add(
        parse_definition({"name": "reviewed", "pattern": "sequence", "steps": steps})
    )
    schedule = workspace.schedules.create(
        ScheduleDraft(name="hourly", workflow="reviewed", every="1h", tz="UTC")
    )
    clock.advance(3600)
    assert tick_and_decide(workspace) == ["failed"]
    (firing,) = history(workspace, schedule)
    assert (firing.reason or "").startswith(
        "not started: steps[1].runtime (step review): the claude runtime is not ready"
    )
    assert "(fix: " in (firing.reason or "") and firing.workflow_id is None
    assert workspace.workflows.get(workflow.id).run_count == 0
    kept = workspace.schedules.get(schedule.id)
    assert kept.status.value == "active" and kept.next_fire_at == clock.now + _hour()
