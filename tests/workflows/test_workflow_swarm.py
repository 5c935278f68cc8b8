"""The swarm on the durable engine: mayor -> workers (bounded) -> refinery, with the original's
headers; a failed worker blocks the refinery, and retrying it runs only it, then the refinery."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from heldsteps import held_card, held_step, release

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, Workflow, WorkflowStatus
from stagent.schemas.workflows import WorkflowSchema
from stagent.testing.workflows import scripted, step
from stagent.workspace import Workspace


def swarm(*, concurrency: int = 2, fail: str | None = None, delay: float = 0) -> dict[str, Any]:
    workers = [
        step(key, f"{key} found", delay=delay, fail="worker broke" if key == fail else None)
        for key in ("alpha", "beta", "gamma")
    ]
    return {
        "name": "triage",
        "pattern": "swarm",
        "swarm": {"worker_concurrency": concurrency},
        "steps": [step("mayor", "briefs for all"), *workers, step("refinery", "merged")],
    }


def add(ws: Workspace, data: dict[str, Any]) -> Workflow:
    return ws.workflows.add(parse_definition(data))


def run_to_end(ws: Workspace, workflow: Workflow) -> Workflow:
    ws.workflows.run(workflow.id)
    return ws.workflows.wait(workflow.id, timeout=90)


def states(workflow: Workflow) -> dict[str, str]:
    return {s.key: s.status.value for s in workflow.steps}


def most_at_once(spans: list[tuple[datetime, datetime]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    level = peak = 0
    for _, change in edges:
        level += change
        peak = max(peak, level)
    return peak


def test_the_mayor_briefs_the_workers_and_the_refinery_merges_their_results(
    worker: Workspace,
) -> None:
    done = run_to_end(worker, add(worker, swarm()))
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    everyone = ["mayor", "alpha", "beta", "gamma", "refinery"]
    assert states(done) == dict.fromkeys(everyone, "completed")
    tasks = {s.key: worker.tasks.get(s.task_id or "") for s in done.steps}
    assert tasks["mayor"].description == "do mayor"
    assert tasks["beta"].description == (
        "You are one worker in a governed multi-agent swarm.\n\n---\n\n"
        "Mayor (Mayor) briefing:\nbriefs for all\n\n---\n\n"
        "Your assignment (Beta):\ndo beta\n\n---\n\n"
        "Do only your slice of the work and return concrete findings the refinery can merge."
    )
    refinery = tasks["refinery"].description
    assert refinery.startswith("You are the refinery of a governed multi-agent swarm")
    assert "Mayor (Mayor) briefing:\nbriefs for all" in refinery
    for index, name in enumerate(["alpha", "beta", "gamma"], start=1):
        assert f"Worker {index} - {name.title()}:\n{name} found" in refinery
    assert refinery.endswith("do refinery")
    roles = [s["role"] for s in WorkflowSchema.of(done).data()["steps"]]
    assert roles == ["mayor", "worker", "worker", "worker", "refinery"]


def test_workers_run_at_most_worker_concurrency_at_once(worker: Workspace) -> None:
    done = run_to_end(worker, add(worker, swarm(concurrency=2, delay=0.8)))
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    spans: list[tuple[datetime, datetime]] = []
    for state in done.steps[1:4]:
        (run,) = worker.tasks.runs(state.task_id or "")
        assert run.started_at is not None and run.ended_at is not None
        spans.append((run.started_at, run.ended_at))
    assert most_at_once(spans) == 2


def test_a_failed_worker_blocks_the_refinery_and_retry_reruns_only_it(
    worker: Workspace,
) -> None:
    wf = add(worker, swarm(fail="beta"))
    failed = run_to_end(worker, wf)
    assert failed.status is WorkflowStatus.FAILED
    assert failed.stop_reason == "blocked by failed workers: beta"
    assert states(failed) == {
        "mayor": "completed",
        "alpha": "completed",
        "beta": "failed",
        "gamma": "completed",
        "refinery": "blocked",
    }
    refinery = next(s for s in failed.steps if s.key == "refinery")
    assert refinery.task_id is None and refinery.error == "blocked by failed workers: beta"

    tasks = {s.key: s.task_id or "" for s in failed.steps}
    worker.tasks.update(tasks["beta"], {"options": scripted("beta found on retry")})
    worker.workflows.retry(wf.id, "beta")
    done = worker.workflows.wait(wf.id, timeout=90)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert {s.key: s.status for s in done.steps} == dict.fromkeys(tasks, StepStatus.COMPLETED)
    for key in ("mayor", "alpha", "gamma"):
        assert len(worker.tasks.runs(tasks[key])) == 1, key  # never run again
    assert [r.status.value for r in worker.tasks.runs(tasks["beta"])] == ["failed", "completed"]
    merged = worker.tasks.get(done.steps[4].task_id or "").description
    assert "Worker 2 - Beta:\nbeta found on retry" in merged
    assert "Worker 1 - Alpha:\nalpha found" in merged


def test_a_failed_mayor_fails_the_swarm_before_any_worker(worker: Workspace) -> None:
    data = swarm()
    data["steps"][0] = step("mayor", "x", fail="no plan")
    done = run_to_end(worker, add(worker, data))
    assert done.status is WorkflowStatus.FAILED
    assert done.stop_reason == "step mayor failed: no plan"
    assert all(s.task_id is None for s in done.steps[1:])


def test_a_swarm_and_a_loop_run_on_postgresql(pg_workspace: Workspace) -> None:
    pg_workspace.start_worker("worker")
    try:
        swarmed = run_to_end(pg_workspace, add(pg_workspace, swarm(fail="gamma")))
        looped = run_to_end(
            pg_workspace,
            add(
                pg_workspace,
                {
                    "name": "pg-loop",
                    "pattern": "loop",
                    "loop": {"max_iterations": 2},
                    "steps": [step("iterate", "again")],
                },
            ),
        )
    finally:
        pg_workspace.stop_worker()
    assert swarmed.stop_reason == "blocked by failed workers: gamma"
    assert states(swarmed)["refinery"] == "blocked"
    assert looped.status is WorkflowStatus.COMPLETED, looped.stop_reason
    assert (looped.stop_code, [s.key for s in looped.steps]) == (
        "max_iterations",
        ["iterate#1", "iterate#2"],
    )


def test_a_paused_swarm_starts_no_new_worker_and_resumes_with_the_rest(
    worker: Workspace,
) -> None:
    data = swarm(concurrency=1)
    data["steps"][1] = held_step("alpha", "alpha found")  # in flight until released
    wf = add(worker, data)
    worker.workflows.run(wf.id)
    card = held_card(worker)
    paused = worker.workflows.pause(wf.id)
    assert paused.stop_code == "human_pause"
    release(worker, card)
    deadline = time.monotonic() + 30
    while states(worker.workflows.get(wf.id)).get("alpha") != "completed":
        assert time.monotonic() < deadline, "alpha never finished"
        time.sleep(0.05)
    time.sleep(0.5)
    held = worker.workflows.get(wf.id)
    assert held.status is WorkflowStatus.PAUSED
    assert states(held) == {
        "mayor": "completed",
        "alpha": "completed",  # the worker running at the pause finished
        "beta": "pending",
        "gamma": "pending",
        "refinery": "pending",
    }
    worker.workflows.resume(wf.id)
    done = worker.workflows.wait(wf.id, timeout=90)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    for state in done.steps[:2]:
        assert len(worker.tasks.runs(state.task_id or "")) == 1  # not run again


def test_a_worker_skipped_by_its_condition_does_not_block_the_refinery(
    worker: Workspace,
) -> None:
    data = swarm()
    data["steps"][2] = {**data["steps"][2], "condition": 'steps.mayor.output contains "beta"'}
    done = run_to_end(worker, add(worker, data))
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert states(done)["beta"] == "skipped"
    merged = worker.tasks.get(done.steps[4].task_id or "").description
    assert "Worker 1 - Alpha:\nalpha found" in merged
    assert "Worker 2 - Gamma:\ngamma found" in merged and "Beta" not in merged


def test_a_workers_condition_reads_the_mayor_as_its_previous_step(worker: Workspace) -> None:
    data = swarm(concurrency=3)
    data["steps"][1] = {**data["steps"][1], "condition": 'previous.output contains "briefs"'}
    data["steps"][2] = {**data["steps"][2], "condition": "previous.status == completed"}
    data["steps"][3] = {**data["steps"][3], "condition": 'steps.mayor.output contains "nope"'}
    done = run_to_end(worker, add(worker, data))
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert states(done) == {
        "mayor": "completed",
        "alpha": "completed",
        "beta": "completed",
        "gamma": "skipped",
        "refinery": "completed",
    }
    gamma = done.steps[3]
    assert gamma.error is not None and "briefs for all" in gamma.error  # it read the mayor
