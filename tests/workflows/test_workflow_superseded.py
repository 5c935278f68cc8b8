"""A round of a workflow run that a newer round replaced (a resume, a retry) and that a crash
left unfinished is recovered later: its replay must call the DBOS steps it recorded, in the
same order (protocol stagent-wf-6 reads an attempt's answer from our rows, which the newer
round has changed since), and it must touch nothing of the newer round."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from heldsteps import held_card, held_step, release

from servetools import start_worker, stop_worker, wait_until
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import Workflow, WorkflowStatus
from stagent.store import step_state
from stagent.testing.workflows import step
from stagent.workspace import Workspace
from steptools import agent_turns, wait_for_started_agent

pytestmark = pytest.mark.slow

CRASH_BEFORE_PAUSED_FINISH = """
import os, sys
from stagent.engine import workflow_steps
original = workflow_steps.finish
def finish(store, workflow_id, run_number, status, *args, **kwargs):
    if status == "paused":
        os._exit(9)  # the stop code is recorded; the round's finish is not
    return original(store, workflow_id, run_number, status, *args, **kwargs)
workflow_steps.finish = finish
sys.argv = ["stagent", "worker", "--json"]
from stagent.cli.app import main
main()
"""


def step_task(ws: Workspace, workflow_id: str, key: str) -> str | None:
    return next(s.task_id for s in ws.workflows.get(workflow_id).steps if s.key == key)


def engine_id_of(ws: Workspace, workflow_id: str) -> str:
    """The engine id of the run's newest round."""
    with ws.store.read() as session:
        return step_state.run_state(session, workflow_id).engine_id or ""


def test_a_paused_round_killed_before_its_finish_and_resumed_replays_without_error(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    client = worker_client
    definition = parse_definition(
        {
            "name": "paused-then-killed",
            "pattern": "sequence",
            "steps": [held_step("one", "first"), step("two", "second"), step("three", "x")],
        }
    )
    wf = client.workflows.add(definition)
    crashing, _ = start_worker(worker_home, code=CRASH_BEFORE_PAUSED_FINISH)
    worker_procs.append(crashing)
    client.workflows.run(wf.id)
    card = held_card(client)  # step one is in flight until released
    client.workflows.pause(wf.id)
    release(client, card)  # step one finishes; step two's start sees the pause
    assert crashing.wait(timeout=60) == 9
    first_round = engine_id_of(client, wf.id)
    paused = client.workflows.get(wf.id)
    assert paused.status is WorkflowStatus.PAUSED
    assert client.queue.status(first_round) == "PENDING"  # the dead worker's round

    client.workflows.resume(wf.id)  # a new round, queued before the old one is recovered
    survivor, _ = start_worker(worker_home)
    worker_procs.append(survivor)
    done = client.workflows.wait(wf.id, timeout=90)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    wait_until(
        lambda: client.queue.status(first_round) != "PENDING", 60, "the old round's recovery"
    )

    # The old round's replay ended quietly: no "unexpected step" error from DBOS.
    assert client.queue.status(first_round) == "SUCCESS"
    assert [s.output for s in done.steps] == ["first", "second", "x"]
    for s in done.steps:
        assert agent_turns(client, s.task_id or "") == 1  # each step ran once, by one round
        assert [r.attempt for r in client.tasks.runs(s.task_id or "")] == [1]
    assert client.workflows.get(wf.id).status is WorkflowStatus.COMPLETED


def step_running(ws: Workspace, workflow_id: str, key: str) -> bool:
    task_id = step_task(ws, workflow_id, key)
    return bool(task_id) and ws.tasks.get(task_id or "").status.value == "running"


def killed_in_flight_then_resumed(
    home: Path, client: Workspace, procs: list[subprocess.Popen[str]], data: dict[str, Any]
) -> Workflow:
    """Run ``data`` on a worker, pause it while its ``slow`` step runs, SIGKILL the worker,
    resume the run (a new round) and let a new worker finish it (it also recovers the old
    round and its children)."""
    wf = client.workflows.add(parse_definition(data))
    first, _ = start_worker(home)
    procs.append(first)
    client.workflows.run(wf.id)
    wait_for_started_agent(client, wf.id, "slow")
    client.workflows.pause(wf.id)  # the slow step is in flight; nothing new starts
    stop_worker(first, signal.SIGKILL)
    client.workflows.resume(wf.id)
    survivor, _ = start_worker(home)
    procs.append(survivor)
    return client.workflows.wait(wf.id, timeout=90)


SLOW_SECONDS = 6
"""How long the step in flight at the kill works once its agent started: the window in which
the test sees it started, pauses and kills the worker (polls and stalls under load)."""


def test_a_step_in_flight_at_a_kill_is_finished_by_the_resumed_round_alone(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    """The new round takes the interrupted step's run over and the run then names it, so the
    old round's end (its replay stops at once) does not fail the run under the new round."""
    data = {
        "name": "sequence-paused-then-killed",
        "pattern": "sequence",
        "steps": [
            step("one", "first"),
            step("slow", "second", delay=SLOW_SECONDS),
            step("three", "x"),
        ],
    }
    done = killed_in_flight_then_resumed(worker_home, worker_client, worker_procs, data)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second", "x"]
    turns = {s.key: agent_turns(worker_client, s.task_id or "") for s in done.steps}
    assert turns == {"one": 1, "slow": 2, "three": 1}
    (run,) = worker_client.tasks.runs(done.steps[1].task_id or "")
    assert run.workflow_id == engine_id_of(worker_client, done.id)  # the new round


def test_a_resumed_swarm_is_not_run_twice_by_the_old_rounds_recovered_worker(
    worker_home: Path, worker_client: Workspace, worker_procs: list[subprocess.Popen[str]]
) -> None:
    """A worker's child workflow of the replaced round, recovered after the kill, leaves the
    worker to the new round (before: it took the worker's run over again and the run, naming
    the old child, was failed by reconcile once that child ended)."""
    data = {
        "name": "swarm-paused-then-killed",
        "pattern": "swarm",
        "swarm": {"worker_concurrency": 2},
        "steps": [
            step("mayor", "brief"),
            step("alpha", "a"),
            step("slow", "b", delay=SLOW_SECONDS),
            step("refinery", "merged"),
        ],
    }
    done = killed_in_flight_then_resumed(worker_home, worker_client, worker_procs, data)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["brief", "a", "b", "merged"]
    turns = {s.key: agent_turns(worker_client, s.task_id or "") for s in done.steps}
    # the slow worker was interrupted by the kill: started again once, by the new round only
    assert turns == {"mayor": 1, "alpha": 1, "slow": 2, "refinery": 1}


PAUSED_AND_RESUMED = {
    "sequence": [step("one", "first"), step("slow", "second", delay=3), step("three", "x")],
    "parallel": [
        step("one", "first"),
        step("slow", "second", delay=3),
        step("three", "x", depends_on=["one", "slow"]),
    ],
}


@pytest.mark.parametrize("pattern", sorted(PAUSED_AND_RESUMED))
def test_a_resume_right_after_a_pause_waits_for_the_running_step_instead_of_restarting_it(
    worker_home: Path,
    worker_client: Workspace,
    worker_procs: list[subprocess.Popen[str]],
    pattern: str,
) -> None:
    """A person pausing and resuming at once (no crash): the new round leaves the step its
    old round (or, for a parallel branch, the old round's child) is still running alone and
    settles from that run's end; before, it took the run over (attempt 2), so the step's agent
    started again and its model request was paid twice."""
    client = worker_client
    data = {"name": f"{pattern}-paused-then-resumed", "pattern": pattern}
    wf = client.workflows.add(parse_definition({**data, "steps": PAUSED_AND_RESUMED[pattern]}))
    worker, _ = start_worker(worker_home)
    worker_procs.append(worker)
    client.workflows.run(wf.id)
    wait_until(lambda: step_running(client, wf.id, "slow"), 60, "the slow step to run")
    client.workflows.pause(wf.id)
    client.workflows.resume(wf.id)
    done = client.workflows.wait(wf.id, timeout=90)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second", "x"]
    turns = {s.key: agent_turns(client, s.task_id or "") for s in done.steps}
    assert turns == {"one": 1, "slow": 1, "three": 1}
    assert [r.attempt for r in client.tasks.runs(done.steps[1].task_id or "")] == [1]
