"""A run keeps a copy of the definition it started from: an edit of the workflow afterwards
changes neither what the run shows (its steps, names, definition) nor what a retry of it runs,
and says it was edited; a retry or a re-run that would leave an edit out, or reuse an output an
edit made stale, is refused with what to do. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from stagent.domain.errors import ConflictError
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, WorkflowStatus
from stagent.domain.workflows import WorkflowDefinition
from stagent.schemas.workflows import WorkflowSchema
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def flow(*steps: dict[str, Any], name: str = "release") -> dict[str, Any]:
    return {"name": name, "pattern": "sequence", "steps": list(steps)}


def test_an_ended_run_shows_the_definition_it_ran_and_says_it_was_edited(ws: Workspace) -> None:
    ran = flow(step("build", "built"), step("ship", "shipped"))
    wf = ws.workflows.add(parse_definition(ran))
    ws.workflows.run(wf.id)
    assert ws.workflows.wait(wf.id, timeout=60).status is WorkflowStatus.COMPLETED
    edit = flow(
        step("build", "built"),
        {**step("ship", "shipped twice"), "name": "Ship it"},
        step("announce", "announced"),
        name="release-v2",
    )
    ws.workflows.update(wf.id, parse_definition(edit))

    shown = ws.workflows.get(wf.id)
    assert shown.definition == parse_definition(ran)  # what run 1 ran
    assert shown.edited == parse_definition(edit)  # what the next run runs
    assert shown.name == "release-v2"  # the workflow's name now
    assert [shown.step_name(s) for s in shown.steps] == ["Build", "Ship"]  # the names it ran
    data = WorkflowSchema.of(shown).data()
    assert [s["id"] for s in data["definition"]["steps"]] == ["build", "ship"]
    assert data["edited_after_run"] is True
    assert [s["id"] for s in data["edited_definition"]["steps"]] == ["build", "ship", "announce"]
    [listed] = [WorkflowSchema.of(w).data() for w in ws.workflows.list()]
    assert listed["definition"] == data["definition"] and listed["edited_after_run"] is True

    ws.workflows.run(wf.id)  # the next run runs the edit, and keeps it
    done = ws.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["built", "shipped twice", "announced"]
    assert done.definition == parse_definition(edit) and done.edited is None
    assert WorkflowSchema.of(done).data()["edited_definition"] is None


def test_a_retry_runs_the_run_as_it_was_and_refuses_to_leave_out_an_edit_of_what_it_runs(
    ws: Workspace,
) -> None:
    """A step not run yet (after the failed one) that an edit changed: the retry, a round of
    run 1, would run it as it was, so it is refused and points to a re-run, which runs the
    edit. A step the edit added is no part of run 1: a retry leaves it out, the view says so."""
    ran = flow(step("one", "first"), step("two", "second", fail="boom"), step("three", "third"))
    wf = ws.workflows.add(parse_definition(ran))
    ws.workflows.run(wf.id)
    failed = ws.workflows.wait(wf.id, timeout=60)
    assert failed.status is WorkflowStatus.FAILED
    assert failed.steps[2].task_id is None  # never made

    edited = flow(step("one", "first"), step("two", "second", fail="boom"), step("three", "3rd"))
    ws.workflows.update(wf.id, parse_definition(edited))
    with pytest.raises(ConflictError) as refused:
        ws.workflows.retry(wf.id, "two")
    assert refused.value.message == (
        "step three was edited since run 1; a retry would run it as it was before the edit"
    )
    assert f"stagent workflow rerun {wf.id} three" in (refused.value.hint or "")
    assert ws.workflows.get(wf.id).status is WorkflowStatus.FAILED  # nothing moved

    added = flow(*ran["steps"], step("four", "fourth"))
    ws.workflows.update(wf.id, parse_definition(added))
    ws.workflows.retry(wf.id, "two")
    again = ws.workflows.wait(wf.id, timeout=60)
    assert again.status is WorkflowStatus.FAILED and again.stop_reason == "step two failed: boom"
    assert [s.key for s in again.steps] == ["one", "two", "three"]  # run 1's steps only
    assert again.definition == parse_definition(ran) and again.edited == parse_definition(added)
    assert again.steps[2].status is not StepStatus.COMPLETED


def test_a_rerun_does_not_reuse_an_output_an_edit_made_stale(ws: Workspace) -> None:
    ran = flow(step("draft", "a draft"), step("review", "looks good"))
    wf = ws.workflows.add(parse_definition(ran))
    ws.workflows.run(wf.id)
    first = ws.workflows.wait(wf.id, timeout=60)
    assert first.status is WorkflowStatus.COMPLETED
    edit = flow(step("draft", "a better draft"), step("review", "looks good"))
    ws.workflows.update(wf.id, parse_definition(edit))

    with pytest.raises(ConflictError) as refused:
        ws.workflows.rerun(wf.id, "review")
    assert refused.value.message == (
        "step draft was edited since run 1, so its output there cannot be reused"
    )
    assert f"stagent workflow rerun {wf.id} draft" in (refused.value.hint or "")
    assert ws.workflows.get(wf.id).run_count == 1  # nothing started

    ws.workflows.rerun(wf.id, "draft")
    done = ws.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert done.run_count == 2
    assert [s.output for s in done.steps] == ["a better draft", "looks good"]
    assert done.edited is None


def test_a_run_validates_its_definition_only_when_it_changed(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run reads its definition several times (its start's check, its rows, the value it
    returns, its interpreter, each step): a 100-step definition is validated again only
    when it changed (`definition_of`), and an edit is what the next run runs."""
    validated: list[int] = []
    real = WorkflowDefinition.model_validate.__func__  # type: ignore[attr-defined]

    def counting(cls: type[WorkflowDefinition], data: Any, **kw: Any) -> WorkflowDefinition:
        validated.append(len(data["steps"]))
        return real(cls, data, **kw)

    steps = [step(f"s{n}", f"out {n}") for n in range(100)]
    wf = ws.workflows.add(parse_definition(flow(*steps)))
    monkeypatch.setattr(WorkflowDefinition, "model_validate", classmethod(counting))

    ws.workflows.run(wf.id)
    done = ws.workflows.wait(wf.id, timeout=120)

    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert validated == []
    ws.workflows.update(wf.id, parse_definition(flow(step("only", "edited"))))
    ws.workflows.run(wf.id)
    done = ws.workflows.wait(wf.id, timeout=60)
    assert [s.output for s in done.steps] == ["edited"]  # not the definition validated before
