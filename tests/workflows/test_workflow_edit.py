"""Editing a stored workflow's definition (`WorkflowService.update`, the one path of the editor's
save, ``PUT /api/v1/workflows/{id}`` and ``stagent workflow edit``): refused while a run of it
is running or paused, so a running round never sees its definition change; validated as a new
one is; the project kept unless given; what changed, said."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from stagent.domain.approvals import Approval
from stagent.domain.errors import ConflictError, NotFoundError, ValidationError
from stagent.domain.workflow_changes import StepChange
from stagent.domain.workflow_files import WorkflowDefinitionError, parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.engine.workflow_service import Keep
from stagent.testing.workflows import step
from stagent.workspace import Workspace

BY = "person (via CLI)"


def gated() -> dict[str, Any]:
    return {
        "name": "gated",
        "pattern": "sequence",
        "steps": [step("review", "found a bug"), step("fix", "fixed it", requires_approval=True)],
    }


def ungated_with_a_third_step() -> dict[str, Any]:
    data = gated()
    data["steps"] = [
        step("review", "found a bug"),
        step("fix", "fixed it differently"),
        step("test", "tests pass"),
    ]
    return data


def wait_for_card(ws: Workspace, workflow_id: str) -> Approval:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for card in ws.approvals.list_pending():
            if card.kind == "checkpoint" and card.input.get("workflow_id") == workflow_id:
                return card
        time.sleep(0.05)
    raise AssertionError("no checkpoint card appeared")


def as_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def test_a_run_in_flight_keeps_its_definition_and_the_edit_is_refused_until_it_ends(
    ws: Workspace,
) -> None:
    """While a run waits at a checkpoint (running) and after a pause (paused) an edit is a
    conflict that says what to do; the run ends on the definition it started with; then the
    edit is stored and the next run runs it."""
    wf = ws.workflows.add(parse_definition(gated()))
    ws.workflows.run(wf.id)
    card = wait_for_card(ws, wf.id)
    edit = as_yaml(ungated_with_a_third_step())

    with pytest.raises(ConflictError) as running:
        ws.workflows.update_text(wf.id, edit)
    assert running.value.message == (
        f"workflow {wf.id} is running (run 1); its definition cannot change while a run reads it"
    )
    assert running.value.hint is not None
    assert running.value.hint.startswith("wait for the run to end, or cancel it")
    assert f"stagent workflow cancel {wf.id}" in running.value.hint

    ws.workflows.pause(wf.id)
    with pytest.raises(ConflictError) as paused:
        ws.workflows.update_text(wf.id, edit)
    assert paused.value.message == (
        f"workflow {wf.id} is paused in the middle of run 1; resuming it would run the rest of "
        "that run on the edited definition"
    )
    assert paused.value.hint is not None and "resume it and let it end" in paused.value.hint

    ws.workflows.resume(wf.id)
    ws.approvals.allow(card.id, by=BY)
    done = ws.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [(s.key, s.output) for s in done.steps] == [
        ("review", "found a bug"),
        ("fix", "fixed it"),
    ]
    assert done.definition == parse_definition(gated())  # nothing was stored meanwhile

    edited = ws.workflows.update_text(wf.id, edit)
    assert edited.changes.added == ("test",)
    assert edited.changes.changed == (StepChange("fix", ("requires_approval", "options")),)
    assert edited.workflow.steps == done.steps  # the ended run's steps stay as they were
    ws.workflows.run(wf.id)
    again = ws.workflows.wait(wf.id, timeout=60)
    assert again.status is WorkflowStatus.COMPLETED, again.stop_reason
    assert [s.output for s in again.steps] == ["found a bug", "fixed it differently", "tests pass"]
    assert not [c for c in ws.approvals.list_pending() if c.kind == "checkpoint"]


def test_after_an_edit_of_a_failed_step_a_retry_points_to_a_rerun_which_runs_the_edit(
    ws: Workspace,
) -> None:
    """A retry runs the failed step's task as the run made it, so after an edit of that step it
    is refused (it would run the old step) and says to re-run from it: the re-run makes the
    step's task from the edited definition and reuses the completed step before it. An edit
    that leaves the failed step alone keeps the retry."""
    data = {
        "name": "flaky",
        "pattern": "sequence",
        "steps": [step("one", "first"), step("two", "second", fail="bad prompt")],
    }
    wf = ws.workflows.add(parse_definition(data))
    ws.workflows.run(wf.id)
    failed = ws.workflows.wait(wf.id, timeout=60)
    assert failed.status is WorkflowStatus.FAILED
    renamed = ws.workflows.update(wf.id, parse_definition({**data, "name": "flaky-v2"}))
    assert renamed.changes.settings == ("name",)
    data = {**data, "name": "flaky-v2"}
    data["steps"][1] = step("two", "second, fixed")
    edited = ws.workflows.update(wf.id, parse_definition(data))
    assert edited.changes.changed == (StepChange("two", ("options",)),)
    with pytest.raises(ConflictError) as refused:
        ws.workflows.retry(wf.id, "two")
    assert refused.value.message == (
        "step two was edited since run 1 made its task; a retry would run the step as it was "
        "before the edit"
    )
    assert refused.value.hint is not None
    assert f"stagent workflow rerun {wf.id} two" in refused.value.hint
    assert ws.workflows.get(wf.id).status is WorkflowStatus.FAILED  # nothing moved
    ws.workflows.rerun(wf.id, "two")
    done = ws.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second, fixed"]
    assert done.steps[0].task_id == failed.steps[0].task_id  # reused, not run again
    assert len(ws.tasks.runs(done.steps[0].task_id or "")) == 1


def test_a_retry_after_an_edit_elsewhere_still_runs(ws: Workspace) -> None:
    data = {
        "name": "flaky",
        "pattern": "sequence",
        "steps": [step("one", "first"), step("two", "second", fail="boom")],
    }
    wf = ws.workflows.add(parse_definition(data))
    ws.workflows.run(wf.id)
    assert ws.workflows.wait(wf.id, timeout=60).status is WorkflowStatus.FAILED
    data["steps"][0] = step("one", "first, reworded")
    ws.workflows.update(wf.id, parse_definition(data))
    ws.workflows.retry(wf.id, "two")
    again = ws.workflows.wait(wf.id, timeout=60)
    assert again.status is WorkflowStatus.FAILED and again.stop_reason == "step two failed: boom"
    assert len(ws.tasks.runs(again.steps[1].task_id or "")) == 2


def test_the_project_is_kept_unless_given_and_an_edit_that_changes_nothing_stores_nothing(
    workspace: Workspace,
) -> None:
    project = workspace.projects.create("site")
    wf = workspace.workflows.add(parse_definition(gated()), project="site")
    same = workspace.workflows.update_text(wf.id, as_yaml(gated()))
    assert same.changes.empty and not same.project_changed
    assert same.workflow.updated_at == wf.updated_at and same.workflow.project_id == project.id

    renamed = {**gated(), "name": "gated-v2"}
    kept = workspace.workflows.update_text(wf.id, as_yaml(renamed), project=Keep.PROJECT)
    assert kept.changes.settings == ("name",)
    assert (kept.workflow.name, kept.workflow.project_id) == ("gated-v2", project.id)
    # the unique name finds it, as the CLI's ID argument does
    cleared = workspace.workflows.update_text("gated-v2", as_yaml(renamed), project=None)
    assert cleared.changes.empty and cleared.project_changed
    assert workspace.workflows.get(wf.id).project_id is None
    with pytest.raises(NotFoundError):
        workspace.workflows.update_text(wf.id, as_yaml(renamed), project="nope")


def test_an_edit_is_validated_as_a_new_definition_is(workspace: Workspace, tmp_path: Path) -> None:
    """Every problem at once, each with its line, step and field; an unknown workflow is said
    before the file's problems; nothing is stored."""
    wf = workspace.workflows.add(parse_definition(gated()))
    path = tmp_path / "gated.yaml"
    path.write_text(
        "name: gated\npattern: sequence\nsteps:\n"
        "  - {id: review, name: Review, prompt: go, runtime: claud}\n"
        "  - {id: fix, name: Fix, promt: go}\n",
        encoding="utf-8",
    )
    with pytest.raises(WorkflowDefinitionError) as caught:
        workspace.workflows.update_file(wf.id, path)
    assert sorted((p.line, p.step, p.field) for p in caught.value.problems) == [
        (4, "review", "steps[0].runtime"),
        (5, "fix", "steps[1].prompt"),
        (5, "fix", "steps[1].promt"),
    ]
    assert all(p.file == str(path) and p.hint for p in caught.value.problems)
    with pytest.raises(NotFoundError):
        workspace.workflows.update_file("wf_nope", path)
    with pytest.raises(ValidationError) as missing:
        workspace.workflows.update_file(wf.id, tmp_path / "nope.yaml")
    assert missing.value.message == f"{tmp_path / 'nope.yaml'}: no such workflow file"
    stored = workspace.workflows.get(wf.id)
    assert stored.definition == parse_definition(gated()) and stored.updated_at == wf.updated_at


def test_a_step_of_the_latest_run_keeps_its_state_after_its_step_is_removed(
    worker: Workspace,
) -> None:
    """The latest run's rows stay as they ran: a removed step's row is still shown."""
    wf = worker.workflows.add(parse_definition(gated() | {"steps": [step("only", "done")]}))
    worker.workflows.run(wf.id)
    done: Workflow = worker.workflows.wait(wf.id, timeout=60)
    assert done.steps[0].status is StepStatus.COMPLETED
    edited = worker.workflows.update(
        wf.id, parse_definition(gated() | {"steps": [step("other", "x")]})
    )
    assert (edited.changes.added, edited.changes.removed) == (("other",), ("only",))
    assert [(s.key, s.status) for s in edited.workflow.steps] == [("only", StepStatus.COMPLETED)]
