"""Sequence and parallel workflows on the durable engine, with the scripted runtime."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from heldsteps import held_card, held_step, release

from stagent.domain.errors import ConflictError
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.engine import durable
from stagent.testing.workflows import step
from stagent.workspace import Workspace


def add(ws: Workspace, data: dict[str, Any]) -> Workflow:
    return ws.workflows.add(parse_definition(data))


def run_to_end(ws: Workspace, workflow: Workflow) -> Workflow:
    ws.workflows.run(workflow.id)
    return ws.workflows.wait(workflow.id, timeout=60)


def wait_for_step_task(ws: Workspace, workflow_id: str, key: str) -> str:
    """The step's child task id, once its run started."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = next(s for s in ws.workflows.get(workflow_id).steps if s.key == key)
        if state.task_id and ws.tasks.get(state.task_id).status.value == "running":
            return state.task_id
        time.sleep(0.05)
    raise AssertionError(f"step {key} never started")


def wait_for_step_status(ws: Workspace, workflow_id: str, key: str, status: StepStatus) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = next(s for s in ws.workflows.get(workflow_id).steps if s.key == key)
        if state.status is status:
            return
        time.sleep(0.05)
    raise AssertionError(f"step {key} never became {status.value}")


def states(workflow: Workflow) -> dict[str, str]:
    return {s.key: s.status.value for s in workflow.steps}


def test_a_sequence_runs_each_step_as_a_board_task_that_sees_the_previous_output(
    worker: Workspace,
) -> None:
    wf = add(
        worker,
        {
            "name": "review-and-fix",
            "pattern": "sequence",
            "steps": [step("review", "found two bugs"), step("fix", "fixed both")],
        },
    )
    done = run_to_end(worker, wf)
    assert done.status is WorkflowStatus.COMPLETED
    assert states(done) == {"review": "completed", "fix": "completed"}
    assert [s.output for s in done.steps] == ["found two bugs", "fixed both"]
    review, fix = (worker.tasks.get(s.task_id or "") for s in done.steps)
    assert review.title == "review-and-fix: Review"  # says which workflow it belongs to
    assert "Previous step output" not in review.description
    assert fix.description.startswith("Previous step output:\nfound two bugs")
    assert fix.description.endswith("do fix")
    assert {t.id for t in worker.tasks.list()} >= {review.id, fix.id}
    assert [r.status.value for r in worker.tasks.runs(fix.id)] == ["completed"]


def test_a_sequence_hands_its_steps_to_the_run_loop_once_not_once_a_step(
    worker: Workspace,
) -> None:
    """The interpreter of a pattern that runs one step at a time runs on the worker's run loop,
    where each attempt runs: a step costs no hop between DBOS's loop and the run loop (two
    thread wake-ups and a future each way), whatever the number of steps. Its conditions
    (a DBOS step, `skip`) are recorded there as before."""
    keys = [f"s{i}" for i in range(8)]
    steps = [step(key, f"out {key}") for key in keys]
    steps[3]["condition"] = 'previous.output contains "never"'  # false: skipped
    wf = add(worker, {"name": "one-hop", "pattern": "sequence", "steps": steps})
    before = durable.run_loop_hops()
    done = run_to_end(worker, wf)
    assert done.status is WorkflowStatus.COMPLETED
    assert states(done) == {k: "skipped" if k == "s3" else "completed" for k in keys}
    assert durable.run_loop_hops() - before == 1


def test_parallel_branches_still_hop_from_their_own_child_workflows(worker: Workspace) -> None:
    """Branches run in child workflows on DBOS's loop (they overlap); each attempt hops."""
    wf = add(worker, parallel("fail", fail_b=False))
    before = durable.run_loop_hops()
    done = run_to_end(worker, wf)
    assert done.status is WorkflowStatus.COMPLETED
    assert durable.run_loop_hops() - before == len(done.steps)


def test_a_failed_step_stops_the_sequence_and_retry_runs_only_it_and_what_follows(
    worker: Workspace,
) -> None:
    wf = add(
        worker,
        {
            "name": "flaky",
            "pattern": "sequence",
            "steps": [
                step("one", "first"),
                step("two", "second", fail="provider error"),
                step("three", "third"),
            ],
        },
    )
    failed = run_to_end(worker, wf)
    assert failed.status is WorkflowStatus.FAILED
    assert failed.stop_reason == "step two failed: provider error"
    assert states(failed) == {"one": "completed", "two": "failed", "three": "pending"}
    one_task = failed.steps[0].task_id or ""
    two_task = failed.steps[1].task_id or ""

    # The person fixes the cause (here: the step's scenario) and retries the step.
    worker.tasks.update(two_task, {"options": step("two", "second now")["options"]})
    worker.workflows.retry(wf.id, "two")
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second now", "third"]
    assert len(worker.tasks.runs(one_task)) == 1  # the finished step never ran again
    assert [r.status.value for r in worker.tasks.runs(two_task)] == ["failed", "completed"]


def test_retry_refuses_a_step_that_did_not_fail(worker: Workspace) -> None:
    wf = add(worker, {"name": "ok", "pattern": "sequence", "steps": [step("one", "x")]})
    run_to_end(worker, wf)
    with pytest.raises(ConflictError, match="workflow .* is completed"):
        worker.workflows.retry(wf.id, "one")


def parallel(policy: str, *, fail_b: bool) -> dict[str, Any]:
    return {
        "name": f"fan-out-{policy}",
        "pattern": "parallel",
        "parallel": {"max_concurrency": 2, "on_branch_failure": policy},
        "steps": [
            step("a", "alpha"),
            step("b", "beta", fail="b broke" if fail_b else None),
            step("c", "gamma"),
            step("join", "merged", depends_on=["a", "b", "c"]),
        ],
    }


def test_parallel_branches_join_into_a_synthesis_step_that_sees_every_branch(
    worker: Workspace,
) -> None:
    done = run_to_end(worker, add(worker, parallel("fail", fail_b=False)))
    assert done.status is WorkflowStatus.COMPLETED
    assert states(done) == dict.fromkeys(["a", "b", "c", "join"], "completed")
    join = worker.tasks.get(done.steps[3].task_id or "")
    for index, (name, output) in enumerate([("A", "alpha"), ("B", "beta"), ("C", "gamma")], 1):
        assert f"Branch {index} - {name}:\n{output}" in join.description
    assert join.description.endswith("do join")


def test_a_failed_branch_blocks_the_join_by_default(worker: Workspace) -> None:
    done = run_to_end(worker, add(worker, parallel("fail", fail_b=True)))
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason == "blocked by failed branches: b"
    assert states(done) == {"a": "completed", "b": "failed", "c": "completed", "join": "blocked"}
    assert done.steps[3].task_id is None  # the synthesis step never ran


def test_synthesize_policy_joins_what_succeeded(worker: Workspace) -> None:
    done = run_to_end(worker, add(worker, parallel("synthesize", fail_b=True)))
    assert done.status is WorkflowStatus.COMPLETED
    join = worker.tasks.get(done.steps[3].task_id or "")
    assert "alpha" in join.description and "gamma" in join.description
    assert "beta" not in join.description


def test_retrying_a_failed_branch_reruns_only_it_then_the_join(worker: Workspace) -> None:
    wf = add(worker, parallel("fail", fail_b=True))
    failed = run_to_end(worker, wf)
    b_task = failed.steps[1].task_id or ""
    worker.tasks.update(b_task, {"options": step("b", "beta again")["options"]})
    worker.workflows.retry(wf.id, "b")
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert states(done) == dict.fromkeys(["a", "b", "c", "join"], "completed")
    for other in (0, 2):
        assert len(worker.tasks.runs(done.steps[other].task_id or "")) == 1
    assert "beta again" in worker.tasks.get(done.steps[3].task_id or "").description


def test_a_paused_sequence_stops_before_its_next_step_and_resumes_there(
    worker: Workspace,
) -> None:
    wf = add(
        worker,
        {
            "name": "slow",
            "pattern": "sequence",
            "steps": [held_step("one", "first"), step("two", "second")],
        },
    )
    worker.workflows.run(wf.id)
    card = held_card(worker)  # step one is in flight until released
    worker.workflows.pause(wf.id)
    release(worker, card)
    wait_for_step_status(worker, wf.id, "one", StepStatus.COMPLETED)
    time.sleep(0.5)
    settled = worker.workflows.get(wf.id)
    assert settled.status is WorkflowStatus.PAUSED
    assert settled.steps[0].status is StepStatus.COMPLETED
    assert settled.steps[1].status is StepStatus.PENDING  # nothing started after the pause
    worker.workflows.resume(wf.id)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED
    assert len(worker.tasks.runs(done.steps[0].task_id or "")) == 1


def test_cancel_stops_the_running_step_task(worker: Workspace) -> None:
    wf = add(
        worker,
        {"name": "long", "pattern": "sequence", "steps": [step("one", "x", delay=30)]},
    )
    worker.workflows.run(wf.id)
    wait_for_step_task(worker, wf.id, "one")
    cancelled = worker.workflows.cancel(wf.id)
    assert cancelled.status is WorkflowStatus.CANCELLED
    task = worker.tasks.wait(cancelled.steps[0].task_id or "", timeout=25)  # its delay is 30 s
    assert task.status.value == "cancelled"


def test_a_sequence_runs_on_postgresql(pg_workspace: Workspace) -> None:
    pg_workspace.start_worker("worker")
    try:
        wf = add(
            pg_workspace,
            {
                "name": "on-pg",
                "pattern": "sequence",
                "steps": [step("one", "first"), step("two", "second")],
            },
        )
        done = run_to_end(pg_workspace, wf)
    finally:
        pg_workspace.stop_worker()
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second"]


def test_a_step_starts_at_once_not_at_the_task_queues_next_poll(tmp_path: Path) -> None:
    """A step's task run starts in the interpreter's own process as soon as the step before it
    ends: with the queue polled every 5 s (the most a setting allows), five steps (four gaps) still
    take under one poll (waiting for it at each gap would take ~10 s; the margin is for load)."""
    ws = Workspace.temporary(tmp_path / "slow-poll", queue_poll_seconds=5).open()
    ws.start_worker("worker")
    try:
        keys = [f"s{i}" for i in range(5)]
        wf = add(ws, {"name": "quick", "pattern": "sequence", "steps": [step(k, k) for k in keys]})
        ws.workflows.run(wf.id)
        done = ws.workflows.wait(wf.id, timeout=60)
    finally:
        ws.stop_worker()
        ws.close()
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    first, last = done.steps[0].started_at, done.steps[-1].ended_at
    assert first is not None and last is not None
    assert (last - first).total_seconds() < 4


def test_a_fast_branch_is_settled_while_a_slower_one_before_it_still_runs(
    worker: Workspace,
) -> None:
    data = parallel("fail", fail_b=False)
    data["steps"][0] = step("a", "alpha", delay=4)
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    wait_for_step_status(worker, wf.id, "b", StepStatus.COMPLETED)
    now = states(worker.workflows.get(wf.id))
    assert now["a"] == "running"  # a started first and is still going
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason


def test_following_a_run_reads_its_status_not_every_step_on_each_commit(
    worker: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagent.store import step_rows as step_repo

    loads: list[int] = []
    real = step_repo.step_rows

    def counted(session: Any, workflow_id: str, run_number: int) -> Any:
        loads.append(run_number)
        return real(session, workflow_id, run_number)

    wf = add(
        worker,
        {"name": "six", "pattern": "sequence", "steps": [step(f"s{i}", "x") for i in range(6)]},
    )
    worker.workflows.run(wf.id)
    monkeypatch.setattr(step_repo, "step_rows", counted)
    done = worker.workflows.wait(wf.id, timeout=60)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert len(done.steps) == 6
    # the engine's own begin, the waiter's first look and its answer; not one per commit (~30)
    assert len(loads) <= 4
