"""The autonomous loop on the durable engine, with the scripted runtime: each iteration is a
child task that sees the outputs before it; the loop records why it stopped."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from heldsteps import held_card, held_step, release, release_until_done

from stagent import workspace as workspace_module
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.governance.budgets_config import BudgetChange
from stagent.ledger.money import parse_usd
from stagent.schemas.workflows import WorkflowSchema
from stagent.testing.metered import registry_with_metered
from stagent.testing.workflows import scripted, step
from stagent.workspace import Workspace


def loop(result: str, *, max_iterations: int = 3, **settings: Any) -> dict[str, Any]:
    template = step("iterate", result, **settings.pop("step", {}))
    return {
        "name": f"loop-{result[:10]}",
        "pattern": "loop",
        "loop": {"max_iterations": max_iterations, **settings},
        "steps": [template],
    }


def add(ws: Workspace, data: dict[str, Any]) -> Workflow:
    return ws.workflows.add(parse_definition(data))


def run_to_end(ws: Workspace, workflow: Workflow) -> Workflow:
    ws.workflows.run(workflow.id)
    return ws.workflows.wait(workflow.id, timeout=60)


def keys(workflow: Workflow) -> list[str]:
    return [s.key for s in workflow.steps]


def wait_for(ws: Workspace, workflow_id: str, key: str, status: StepStatus) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = {s.key: s.status for s in ws.workflows.get(workflow_id).steps}
        if states.get(key) is status:
            return
        time.sleep(0.05)
    raise AssertionError(f"step {key} never became {status.value}")


def test_a_loop_runs_each_iteration_as_a_task_that_sees_the_earlier_outputs(
    worker: Workspace,
) -> None:
    done = run_to_end(worker, add(worker, loop("one more pass")))
    assert done.status is WorkflowStatus.COMPLETED
    assert done.stop_code == "max_iterations"
    assert done.stop_reason == "ran all 3 iterations"
    assert keys(done) == ["iterate#1", "iterate#2", "iterate#3"]
    assert [s.output for s in done.steps] == ["one more pass"] * 3
    tasks = [worker.tasks.get(s.task_id or "") for s in done.steps]
    assert [t.title for t in tasks] == [
        f"loop-one more p: Iterate (iteration {n})" for n in (1, 2, 3)
    ]
    first, _, third = (t.description for t in tasks)
    assert first.startswith("Iteration 1 of 3.\n\n---\n\ndo iterate")
    assert "Output of iteration" not in first
    assert third.startswith(
        "Iteration 3 of 3.\n\nOutput of iteration 1:\none more pass\n\n"
        "Output of iteration 2:\none more pass\n\n---\n\ndo iterate"
    )
    assert third.endswith('include "LOOP_COMPLETE" in your answer.')

    shown = WorkflowSchema.of(done).data()
    assert shown["stop_code"] == "max_iterations"
    assert [(s["id"], s["template"], s["index"], s["role"]) for s in shown["steps"]] == [
        (f"iterate#{n}", "iterate", n, "iteration") for n in (1, 2, 3)
    ]
    assert shown["steps"][1]["name"] == "Iterate (iteration 2)"


def test_the_agents_completion_signal_stops_the_loop(worker: Workspace) -> None:
    data = loop("tests are green. Loop_Complete", max_iterations=5)
    done = run_to_end(worker, add(worker, data))
    assert done.status is WorkflowStatus.COMPLETED
    assert (done.stop_code, done.stop_reason) == (
        "agent_signaled",
        "iteration 1 signalled completion (LOOP_COMPLETE)",
    )
    assert keys(done) == ["iterate#1"]


def test_a_custom_completion_signal_is_the_one_asked_for(worker: Workspace) -> None:
    done = run_to_end(worker, add(worker, loop("REFACTOR_DONE", completion_signal="REFACTOR_DONE")))
    assert done.stop_code == "agent_signaled"
    prompt = worker.tasks.get(done.steps[0].task_id or "").description
    assert prompt.endswith('include "REFACTOR_DONE" in your answer.')


def test_the_time_budget_stops_the_loop_before_another_iteration(worker: Workspace) -> None:
    data = loop("slow", max_iterations=5, time_budget_seconds=0.5, step={"delay": 0.7})
    done = run_to_end(worker, add(worker, data))
    assert done.status is WorkflowStatus.COMPLETED
    assert done.stop_code == "time_budget"
    assert done.stop_reason == "time budget of 0.5 s spent after 1 iteration"
    assert keys(done) == ["iterate#1"]


def test_a_failed_iteration_stops_the_loop_with_error_and_retry_goes_on(
    worker: Workspace,
) -> None:
    wf = add(worker, loop("boom", max_iterations=2, step={"fail": "provider error"}))
    failed = run_to_end(worker, wf)
    assert failed.status is WorkflowStatus.FAILED
    assert (failed.stop_code, failed.stop_reason) == (
        "error",
        "step iterate#1 failed: provider error",
    )
    assert [(s.key, s.status) for s in failed.steps] == [("iterate#1", StepStatus.FAILED)]

    task_id = failed.steps[0].task_id or ""
    worker.tasks.update(task_id, {"options": scripted("fixed")})
    worker.workflows.retry(wf.id, "iterate#1")
    again = worker.workflows.wait(wf.id, timeout=60)
    # The retried iteration completed and the loop went on to iteration 2, which sees its
    # output (and fails: the template still fails).
    assert [(s.key, s.status, s.output) for s in again.steps] == [
        ("iterate#1", StepStatus.COMPLETED, "fixed"),
        ("iterate#2", StepStatus.FAILED, None),
    ]
    assert (again.status, again.stop_code) == (WorkflowStatus.FAILED, "error")
    assert [r.status.value for r in worker.tasks.runs(task_id)] == ["failed", "completed"]
    second = worker.tasks.get(again.steps[1].task_id or "").description
    assert "Output of iteration 1:\nfixed" in second


def test_a_paused_loop_resumes_with_the_next_iteration(worker: Workspace) -> None:
    data = loop("step done", max_iterations=3)
    data["steps"] = [held_step("iterate", "step done")]  # each iteration waits to be released
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    card = held_card(worker)
    worker.workflows.pause(wf.id)
    paused = worker.workflows.wait(wf.id, timeout=30, until=frozenset({"paused"}))
    release(worker, card)
    wait_for(worker, wf.id, "iterate#1", StepStatus.COMPLETED)
    time.sleep(0.5)
    paused = worker.workflows.get(wf.id)
    assert paused.status is WorkflowStatus.PAUSED
    assert paused.stop_code == "human_pause"
    assert keys(paused) == ["iterate#1"]  # the iteration running at the pause finished; no more

    resumed = worker.workflows.resume(wf.id)
    assert resumed.stop_code is None
    done = release_until_done(worker, wf.id)
    assert done.status is WorkflowStatus.COMPLETED
    assert done.stop_code == "max_iterations"
    assert keys(done) == ["iterate#1", "iterate#2", "iterate#3"]
    assert len(worker.tasks.runs(done.steps[0].task_id or "")) == 1  # not run again
    second = worker.tasks.get(done.steps[1].task_id or "").description
    assert "Output of iteration 1:\nstep done" in second


def test_cancelling_a_loop_records_a_person_cancelled_it(worker: Workspace) -> None:
    data = loop("x", max_iterations=3)
    data["steps"] = [held_step("iterate", "x")]
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    card = held_card(worker)  # iteration 1 is in flight
    worker.workflows.cancel(wf.id)
    deadline = time.monotonic() + 30
    while worker.approvals.get(card.id).pending:  # the cancel stops the iteration's agent
        assert time.monotonic() < deadline, "the iteration's card stayed pending"
        time.sleep(0.05)
    done = worker.workflows.get(wf.id)
    assert done.status is WorkflowStatus.CANCELLED
    assert done.stop_code == "human_cancel"
    assert keys(done) == ["iterate#1"]


@pytest.fixture
def metered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    """A worker whose ``metered`` runtime books scripted usage as real spend."""
    monkeypatch.setattr(
        workspace_module,
        "default_registry",
        registry_with_metered(workspace_module.default_registry),
    )
    ws = Workspace.temporary(tmp_path / "metered").open()
    ws.start_worker("worker")
    try:
        yield ws
    finally:
        ws.stop_worker()
        ws.close()


def costing(usd: float) -> dict[str, Any]:
    usage = {"model": "scripted-1", "input_tokens": 100, "output_tokens": 10, "cost_usd": usd}
    return {"scripted": {"scenario": {"steps": [{"usage": usage}], "result": "spent"}}}


def test_a_loop_stopped_at_the_budget_cap_continues_after_the_cap_is_raised(
    metered: Workspace,
) -> None:
    metered.budgets.set(BudgetChange(daily=parse_usd("1", "t"), per_run=parse_usd("1", "t")))
    template = {
        "id": "iterate",
        "name": "Iterate",
        "prompt": "spend",
        "runtime": "metered",
        "options": costing(1.0),
    }
    wf = add(
        metered,
        {"name": "spender", "pattern": "loop", "loop": {"max_iterations": 3}, "steps": [template]},
    )
    stopped = run_to_end(metered, wf)
    assert stopped.status is WorkflowStatus.PAUSED
    assert stopped.stop_code == "budget_exhausted"
    assert stopped.stop_reason is not None
    assert stopped.stop_reason.startswith("budget exhausted at step iterate#2: blocked by budget")
    assert stopped.stop_reason.endswith("raise the cap, then resume")
    assert [(s.key, s.status) for s in stopped.steps] == [
        ("iterate#1", StepStatus.COMPLETED),
        ("iterate#2", StepStatus.BLOCKED),
    ]

    metered.budgets.set(BudgetChange(daily=parse_usd("10", "t")))
    metered.workflows.resume(wf.id)
    done = metered.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert done.stop_code == "max_iterations"
    assert [s.status for s in done.steps] == [StepStatus.COMPLETED] * 3
    first, second, _ = (s.task_id or "" for s in done.steps)
    assert len(metered.tasks.runs(first)) == 1
    assert [r.status.value for r in metered.tasks.runs(second)] == ["failed", "completed"]
