"""What works for a step in every pattern: checkpoints (requires_approval), retry policies,
conditions, timeouts and budgets; and re-running a workflow from a step."""

from __future__ import annotations

import time
from typing import Any

import pytest

from stagent.domain.approvals import Approval
from stagent.domain.errors import ConflictError, ValidationError
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.engine.workflow_steps import NOT_RETRIED
from stagent.governance.budgets_config import BudgetChange
from stagent.testing.workflows import step
from stagent.workspace import Workspace

BY = "person (via CLI)"


def add(ws: Workspace, data: dict[str, Any]) -> Workflow:
    return ws.workflows.add(parse_definition(data))


def states(workflow: Workflow) -> dict[str, str]:
    return {s.key: s.status.value for s in workflow.steps}


def state(ws: Workspace, workflow_id: str, key: str) -> Any:
    return next(s for s in ws.workflows.get(workflow_id).steps if s.key == key)


def wait_for_card(ws: Workspace, timeout: float = 20) -> Approval:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cards = [c for c in ws.approvals.list_pending() if c.kind == "checkpoint"]
        if cards:
            return cards[0]
        time.sleep(0.05)
    raise AssertionError("no checkpoint card appeared")


def agent_turns(ws: Workspace, task_id: str) -> int:
    """How many times the step's agent started (each scripted run writes a text event first)."""
    return sum(1 for e in ws.tasks.events(task_id) if e.kind == "text")


def gated(pattern: str = "sequence") -> dict[str, Any]:
    return {
        "name": f"gated-{pattern}",
        "pattern": pattern,
        "steps": [
            step("review", "found two bugs"),
            step("fix", "fixed both", requires_approval=True),
        ],
    }


# ------------------------------------------------------------------------------ checkpoints


@pytest.mark.parametrize("pattern", ["sequence", "checkpoint"])
def test_a_checkpoint_waits_in_the_inbox_and_a_comment_reaches_the_step(
    worker: Workspace, pattern: str
) -> None:
    wf = add(worker, gated(pattern))
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    assert card.tool == "WorkflowCheckpoint"
    assert card.input["step"] == "fix" and card.input["workflow"] == f"gated-{pattern}"
    assert "found two bugs" in card.input["prompt"]  # what the step will be asked
    assert card.expires_at is None  # no timeout unless the definition sets one
    fix = state(worker, wf.id, "fix")
    assert fix.status is StepStatus.WAITING
    assert worker.tasks.get(fix.task_id).status.value == "waiting"
    (run,) = worker.tasks.runs(fix.task_id)
    assert run.waiting_on == (f"approval:{card.id}",) or list(run.waiting_on) == [
        f"approval:{card.id}"
    ]
    assert agent_turns(worker, fix.task_id) == 0  # the step has not started
    # The task's log (shown on the Monitor and task pages) says where to answer, in words a
    # page can show: no command names.
    (note,) = [e for e in worker.tasks.events(fix.task_id) if e.kind == "approval"]
    assert note.payload["message"].endswith("approve or reject it in the Inbox")
    assert "command line" not in note.payload["message"]

    worker.approvals.allow(card.id, by=BY, comment="only fix the first one")
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    task = worker.tasks.get(fix.task_id)
    assert task.description.startswith("Previous step output:\nfound two bugs")
    assert task.description.endswith(
        "Reviewer's comment at the checkpoint:\nonly fix the first one"
    )
    assert agent_turns(worker, fix.task_id) == 1


def test_a_rejected_checkpoint_fails_the_step_with_the_reason_and_never_starts_it(
    worker: Workspace,
) -> None:
    wf = add(worker, gated())
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    worker.approvals.deny(card.id, by=BY, message="not before the release")
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason == (
        f"step fix failed: rejected at the checkpoint by {BY}: not before the release"
    )
    assert states(done) == {"review": "completed", "fix": "failed"}
    assert agent_turns(worker, done.steps[1].task_id or "") == 0


def test_a_checkpoint_times_out_only_when_the_definition_says_so(worker: Workspace) -> None:
    data = gated()
    data["steps"][1]["approval_timeout_seconds"] = 0.5
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    # The card lives 0.5 s: look for it once the run has ended (any status), not while it
    # is pending, or a slow poll on a loaded machine misses it.
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason == (
        "step fix failed: no one approved the checkpoint within 0.5 s (approval_timeout_seconds)"
    )
    [card] = [c for c in worker.approvals.recent() if c.kind == "checkpoint"]
    assert card.expires_at is not None
    assert card.status == "timed_out"


def test_a_checkpoint_gates_a_parallel_join(worker: Workspace) -> None:
    wf = add(
        worker,
        {
            "name": "fan",
            "pattern": "parallel",
            "steps": [
                step("a", "alpha"),
                step("b", "beta"),
                step("join", "merged", depends_on=["a", "b"], requires_approval=True),
            ],
        },
    )
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    assert card.input["step"] == "join"
    assert states(worker.workflows.get(wf.id)) == {
        "a": "completed",
        "b": "completed",
        "join": "waiting",
    }
    worker.approvals.allow(card.id, by=BY)
    assert worker.workflows.wait(wf.id, timeout=30).status is WorkflowStatus.COMPLETED


def test_cancelling_a_workflow_at_its_checkpoint_closes_the_card(worker: Workspace) -> None:
    wf = add(worker, gated())
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    cancelled = worker.workflows.cancel(wf.id)
    assert cancelled.status is WorkflowStatus.CANCELLED
    fix_task = state(worker, wf.id, "fix").task_id
    assert worker.tasks.wait(fix_task, timeout=60).status.value == "cancelled"
    deadline = time.monotonic() + 30
    while worker.approvals.get(card.id).pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert worker.approvals.get(card.id).status == "cancelled"
    assert agent_turns(worker, fix_task) == 0


def test_pausing_at_a_checkpoint_keeps_the_card_and_resume_goes_on_after_approval(
    worker: Workspace,
) -> None:
    data = gated()
    data["steps"].append(step("ship", "shipped"))
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    assert worker.workflows.pause(wf.id).status is WorkflowStatus.PAUSED
    worker.approvals.allow(card.id, by=BY)  # the gated step is in flight: it runs
    deadline = time.monotonic() + 20
    while state(worker, wf.id, "fix").status is not StepStatus.COMPLETED:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    assert states(worker.workflows.get(wf.id))["ship"] == "pending"  # nothing after the pause
    worker.workflows.resume(wf.id)
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert agent_turns(worker, done.steps[1].task_id or "") == 1


def test_a_comment_is_only_for_checkpoints_and_a_checkpoint_has_no_always_rule(
    worker: Workspace,
) -> None:
    wf = add(worker, gated())
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    with pytest.raises(ValidationError, match="approved once, with no rule"):
        worker.approvals.allow(card.id, by=BY, always=True)
    worker.approvals.allow(card.id, by=BY)
    assert worker.workflows.wait(wf.id, timeout=30).status is WorkflowStatus.COMPLETED


# ------------------------------------------------------------------- retry, condition, timeout


def test_a_retry_policy_tries_a_failed_step_again_after_its_backoff(worker: Workspace) -> None:
    data = {
        "name": "flaky",
        "pattern": "sequence",
        "steps": [
            step("one", "first"),
            {
                **step("two", "second", fail="provider overloaded"),
                "retry": {"attempts": 3, "backoff_seconds": 1.0},
            },
        ],
    }
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    deadline = time.monotonic() + 20
    while True:
        two = state(worker, wf.id, "two")
        runs = worker.tasks.runs(two.task_id) if two.task_id else []
        if runs and runs[0].status.value == "failed":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    failed_at = time.monotonic()
    # During the backoff the person fixes the cause; the next attempt is a new run of the task.
    worker.tasks.update(two.task_id, {"options": step("two", "second now")["options"]})
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    runs = worker.tasks.runs(two.task_id)
    assert [r.status.value for r in runs] == ["failed", "completed"]
    assert runs[1].created_at is not None and runs[0].ended_at is not None
    assert (runs[1].created_at - runs[0].ended_at).total_seconds() >= 0.9
    assert time.monotonic() - failed_at >= 0.5
    assert done.steps[1].output == "second now"


def test_a_step_that_keeps_failing_is_tried_as_often_as_its_policy_says(
    worker: Workspace,
) -> None:
    data = {
        "name": "broken",
        "pattern": "sequence",
        "steps": [{**step("one", "x", fail="always broken"), "retry": {"attempts": 3}}],
    }
    done = worker.workflows.wait(worker.workflows.run(add(worker, data).id).id, timeout=30)
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason == "step one failed: always broken"
    runs = worker.tasks.runs(done.steps[0].task_id or "")
    assert [r.status.value for r in runs] == ["failed", "failed", "failed"]


def test_an_error_the_runtime_marks_not_retryable_ends_the_step_at_once(
    worker: Workspace,
) -> None:
    """A bad API key fails the same way every time: no second try, no backoff, and the step's
    record says why it was not retried."""
    bad_key = "Invalid API key (HTTP 401)"
    data = {
        "name": "bad-key",
        "pattern": "sequence",
        "steps": [
            {
                **step("one", "x", fail=bad_key, final=True),
                "retry": {"attempts": 3, "backoff_seconds": 600},
            },
            step("two", "never"),
        ],
    }
    done = worker.workflows.wait(worker.workflows.run(add(worker, data).id).id, timeout=30)
    assert done.status is WorkflowStatus.FAILED
    one = done.steps[0]
    assert one.status is StepStatus.FAILED
    assert one.error == f"{bad_key}{NOT_RETRIED}"
    assert "not retried: the runtime says a retry would fail the same way" in one.error
    assert done.stop_reason == f"step one failed: {bad_key}{NOT_RETRIED}"
    assert [r.status.value for r in worker.tasks.runs(one.task_id or "")] == ["failed"]
    notes = [e.payload.get("message", "") for e in worker.tasks.events(one.task_id or "")]
    assert not any("retry policy" in str(n) for n in notes)


def test_a_false_condition_skips_the_step_with_the_reason(worker: Workspace) -> None:
    data = {
        "name": "conditional",
        "pattern": "sequence",
        "steps": [
            step("review", "needs work"),
            {**step("merge", "merged"), "condition": 'previous.output contains "LGTM"'},
            {**step("report", "reported"), "condition": "steps.merge.status == skipped"},
        ],
    }
    done = worker.workflows.wait(worker.workflows.run(add(worker, data).id).id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert states(done) == {"review": "completed", "merge": "skipped", "report": "completed"}
    assert done.steps[1].task_id is None  # nothing was sent to an agent
    assert done.steps[1].error == (
        'skipped: condition `previous.output contains "LGTM"` is false '
        "(previous.output = 'needs work')"
    )
    report = worker.tasks.get(done.steps[2].task_id or "")
    assert report.description.startswith("Previous step output:\nneeds work")


def test_a_true_condition_runs_the_step(worker: Workspace) -> None:
    data = {
        "name": "approved-merge",
        "pattern": "sequence",
        "steps": [
            step("review", "LGTM, ship it"),
            {**step("merge", "merged"), "condition": 'previous.output contains "lgtm"'},
        ],
    }
    done = worker.workflows.wait(worker.workflows.run(add(worker, data).id).id, timeout=30)
    assert states(done) == {"review": "completed", "merge": "completed"}


def test_a_step_over_its_timeout_is_stopped_and_fails_with_the_reason(worker: Workspace) -> None:
    data = {
        "name": "slow",
        "pattern": "sequence",
        "steps": [{**step("one", "x", delay=30), "timeout_seconds": 0.5}],
    }
    # Failed, not completed after the step's 30 s delay: its 0.5 s limit stopped it.
    done = worker.workflows.wait(worker.workflows.run(add(worker, data).id).id, timeout=120)
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason == (
        "step one failed: timed out after 0.5 s (its time limit); the agent was stopped"
    )
    (run,) = worker.tasks.runs(done.steps[0].task_id or "")
    assert run.status.value == "failed"


def test_steps_with_the_same_options_each_get_their_own_model_and_time_limit(
    worker: Workspace,
) -> None:
    """A step's task takes the step's model and ``timeout_seconds`` (as its deadline) on top of
    its options, even when another step with the same options ran before it without them."""
    data = {
        "name": "same-options",
        "pattern": "sequence",
        "steps": [
            step("plain", "x"),
            {**step("tuned", "x"), "model": "m-tuned", "timeout_seconds": 600},
            {**step("other", "x"), "timeout_seconds": 900.5},
            step("again", "x"),
        ],
    }
    done = worker.workflows.wait(worker.workflows.run(add(worker, data).id).id, timeout=120)
    assert done.status is WorkflowStatus.COMPLETED
    options = {s.key: worker.tasks.get(s.task_id or "").options for s in done.steps}
    assert (options["plain"].model, options["plain"].limits.deadline_seconds) == (None, None)
    assert (options["tuned"].model, options["tuned"].limits.deadline_seconds) == ("m-tuned", 600)
    assert (options["other"].model, options["other"].limits.deadline_seconds) == (None, 900.5)
    assert options["again"] == options["plain"]
    assert options["plain"].scripted == options["tuned"].scripted is not None


# ------------------------------------------------------------------------------------ budgets


def test_a_step_refused_at_a_budget_cap_pauses_the_run_and_resume_continues_there(
    worker: Workspace,
) -> None:
    data = {
        "name": "capped",
        "pattern": "sequence",
        "steps": [step("one", "first"), step("two", "second")],
    }
    wf = add(worker, data)
    worker.budgets.set(BudgetChange(daily=0))
    stopped = worker.workflows.wait(worker.workflows.run(wf.id).id, timeout=30)
    assert stopped.status is WorkflowStatus.PAUSED
    assert stopped.stop_code == "budget_exhausted"
    assert (stopped.stop_reason or "").startswith(
        "budget exhausted at step one: blocked by budget: overall daily cap $0.00 reached"
    )
    assert (stopped.stop_reason or "").endswith("raise the cap, then resume")
    assert states(stopped) == {"one": "blocked", "two": "pending"}

    worker.budgets.set(BudgetChange(daily=5_000_000))
    worker.workflows.resume(wf.id)
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    one_task = done.steps[0].task_id or ""
    assert [r.status.value for r in worker.tasks.runs(one_task)] == ["failed", "completed"]
    assert agent_turns(worker, one_task) == 1  # the refused run never reached its agent


# --------------------------------------------------------------------------------- re-running


def test_rerun_from_a_step_reuses_the_earlier_outputs_and_runs_the_rest_again(
    worker: Workspace,
) -> None:
    data = {
        "name": "three",
        "pattern": "sequence",
        "steps": [step("one", "first"), step("two", "second"), step("three", "third")],
    }
    wf = add(worker, data)
    first = worker.workflows.wait(worker.workflows.run(wf.id).id, timeout=30)
    assert first.status is WorkflowStatus.COMPLETED
    again = worker.workflows.rerun(wf.id, "two")
    assert again.run_count == 2
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second", "third"]
    assert done.steps[0].task_id == first.steps[0].task_id  # reused, not run again
    assert agent_turns(worker, first.steps[0].task_id or "") == 1
    for index in (1, 2):
        assert done.steps[index].task_id != first.steps[index].task_id
        assert agent_turns(worker, done.steps[index].task_id or "") == 1
    assert worker.tasks.get(done.steps[1].task_id or "").description.startswith(
        "Previous step output:\nfirst"
    )


def test_rerun_of_a_parallel_branch_reuses_the_other_branches(worker: Workspace) -> None:
    data = {
        "name": "fan",
        "pattern": "parallel",
        "steps": [
            step("a", "alpha"),
            step("b", "beta"),
            step("join", "merged", depends_on=["a", "b"]),
        ],
    }
    wf = add(worker, data)
    first = worker.workflows.wait(worker.workflows.run(wf.id).id, timeout=30)
    worker.workflows.rerun(wf.id, "b")
    done = worker.workflows.wait(wf.id, timeout=30)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert done.steps[0].task_id == first.steps[0].task_id
    assert done.steps[1].task_id != first.steps[1].task_id
    assert done.steps[2].task_id != first.steps[2].task_id


def test_rerun_refuses_an_unknown_step_and_a_running_workflow(worker: Workspace) -> None:
    wf = add(worker, gated())
    with pytest.raises(ConflictError, match="has not run yet"):
        worker.workflows.rerun(wf.id, "fix")
    worker.workflows.run(wf.id)
    card = wait_for_card(worker)
    with pytest.raises(ConflictError, match="is running"):
        worker.workflows.rerun(wf.id, "fix")
    worker.approvals.allow(card.id, by=BY)
    worker.workflows.wait(wf.id, timeout=30)
    with pytest.raises(ValidationError, match="has no step 'nope'"):
        worker.workflows.rerun(wf.id, "nope")
