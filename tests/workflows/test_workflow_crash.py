"""A workflow whose server is killed with SIGKILL mid-run continues at the first unfinished
step after a restart; a finished step is never run (sent to its agent or model) again."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from servetools import serving, sigkill
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import StepStatus, WorkflowStatus
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.testing.model_script import ModelScript, ScriptBook
from stagent.testing.workflows import step
from stagent.workspace import Workspace
from steptools import agent_turns, wait_for_started_agent

pytestmark = pytest.mark.slow


STEP_SECONDS = 8
"""How long the step interrupted by the kill works after its agent started: the window in
which the test sees it started and kills the server (a poll and a stall under load)."""


def test_a_killed_server_resumes_a_sequence_at_its_first_unfinished_step(tmp_path: Path) -> None:
    home = tmp_path / "home"
    client = Workspace.temporary(home).open()
    with serving(home) as first:
        definition = parse_definition(
            {
                "name": "survive",
                "pattern": "sequence",
                "steps": [
                    step("one", "first"),
                    step("two", "second", delay=STEP_SECONDS),
                    step("three", "third"),
                ],
            }
        )
        wf = client.workflows.add(definition)
        client.workflows.run(wf.id)
        two = wait_for_started_agent(client, wf.id, "two")
        sigkill(first)
        assert client.workflows.get(wf.id).status is WorkflowStatus.RUNNING
        assert client.tasks.get(two).status.value == "running", "step two ended before the kill"

    with serving(home):
        done = client.workflows.wait(wf.id, timeout=90)

    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["first", "second", "third"]
    one, _, three = (s.task_id or "" for s in done.steps)
    assert agent_turns(client, one) == 1  # finished before the crash: never started again
    assert agent_turns(client, two) == 2  # interrupted mid-step: run again, once
    assert agent_turns(client, three) == 1
    assert [r.attempt for r in client.tasks.runs(one)] == [1]
    assert [r.attempt for r in client.tasks.runs(two)] == [2]
    assert client.tasks.get(three).description.startswith("Previous step output:\nsecond")
    client.close()


KEY = "sk-ant-test-0123456789abcdef"
SWARM_STEPS = {"mayor": 0, "alpha": 0, "beta": 5, "gamma": 0, "refinery": 0}
"""Each swarm step's scripted model turn, and how long the model takes to answer it."""


def model_step(key: str) -> dict[str, Any]:
    """A swarm step on the anthropic runtime, answered by the scripted server's ``key`` script."""
    return {"id": key, "name": key.title(), "prompt": f"SCENARIO:{key} go", "runtime": "anthropic"}


def wait_for_step(client: Workspace, workflow_id: str, key: str, status: StepStatus) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = next((s for s in client.workflows.get(workflow_id).steps if s.key == key), None)
        if state is not None and state.status is status:
            return
        time.sleep(0.05)
    raise AssertionError(f"step {key} never became {status.value}")


def test_a_killed_server_resumes_a_swarm_without_sending_finished_steps_again(
    tmp_path: Path,
) -> None:
    scripts = [
        ModelScript.model_validate(
            {"name": key, "turns": [{"text": f"{key} result", "delay": delay}]}
        )
        for key, delay in SWARM_STEPS.items()
    ]
    home = tmp_path / "home"
    with AnthropicScriptServer(ScriptBook(scripts)) as model:
        env = {"ANTHROPIC_BASE_URL": model.url, "ANTHROPIC_API_KEY": KEY}
        # The key is the servers' alone: this client trusts their runtimes, as a client of
        # workers elsewhere does (else its run is refused up front: the runtime is not ready).
        client = Workspace.temporary(home, check_runtimes=False).open()
        with serving(home, env=env) as first:
            definition = parse_definition(
                {
                    "name": "crash-swarm",
                    "pattern": "swarm",
                    "swarm": {"worker_concurrency": 2},
                    "steps": [model_step(key) for key in SWARM_STEPS],
                }
            )
            wf = client.workflows.add(definition)
            client.workflows.run(wf.id)
            # alpha and beta start; alpha ends and gamma takes its place; beta is slow.
            wait_for_step(client, wf.id, "gamma", StepStatus.COMPLETED)
            wait_for_step(client, wf.id, "beta", StepStatus.RUNNING)
            sigkill(first)
            assert client.workflows.get(wf.id).status is WorkflowStatus.RUNNING
            sent_before = [r["scenario"] for r in model.requests]

        with serving(home, env=env):
            done = client.workflows.wait(wf.id, timeout=120)
        sent = [r["scenario"] for r in model.requests]

    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert sorted(sent_before) == ["alpha", "beta", "gamma", "mayor"]
    # Finished steps were never sent to the model again; the interrupted worker was, once.
    assert {key: sent.count(key) for key in SWARM_STEPS} == {
        "mayor": 1,
        "alpha": 1,
        "beta": 2,
        "gamma": 1,
        "refinery": 1,
    }
    assert [s.output for s in done.steps] == [f"{key} result" for key in SWARM_STEPS]
    refinery = client.tasks.get(done.steps[-1].task_id or "").description
    assert "Worker 2 - Beta:\nbeta result" in refinery
    client.close()


def wait_for_checkpoint(client: Workspace, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cards = [c for c in client.approvals.list_pending() if c.kind == "checkpoint"]
        if cards:
            return cards[0].id
        time.sleep(0.05)
    raise AssertionError("no checkpoint card appeared")


def test_a_checkpoint_keeps_waiting_across_a_kill_and_goes_on_when_approved(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    client = Workspace.temporary(home).open()
    with serving(home) as first:
        definition = parse_definition(
            {
                "name": "gate-survives",
                "pattern": "checkpoint",
                "steps": [
                    step("one", "first"),
                    step("two", "second", requires_approval=True),
                    step("three", "third"),
                ],
            }
        )
        wf = client.workflows.add(definition)
        client.workflows.run(wf.id)
        card = wait_for_checkpoint(client)
        sigkill(first)

    with serving(home):
        time.sleep(3)  # the recovered step run is back at its gate, still waiting
        waiting = client.workflows.get(wf.id)
        assert waiting.status is WorkflowStatus.RUNNING
        assert [s.status.value for s in waiting.steps] == ["completed", "waiting", "pending"]
        assert client.approvals.get(card).pending
        assert [c.id for c in client.approvals.list_pending()] == [card]  # no second card
        client.approvals.allow(card, by="person (via CLI)", comment="go")
        done = client.workflows.wait(wf.id, timeout=60)

    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    one, two, three = (s.task_id or "" for s in done.steps)
    assert agent_turns(client, one) == 1
    assert agent_turns(client, two) == 1  # it never started before the approval
    assert agent_turns(client, three) == 1
    assert client.tasks.get(two).description.endswith("Reviewer's comment at the checkpoint:\ngo")
    client.close()


def test_a_killed_server_finishes_a_parallel_join_without_rerunning_finished_branches(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    client = Workspace.temporary(home).open()
    with serving(home) as first:
        definition = parse_definition(
            {
                "name": "fan-survives",
                "pattern": "parallel",
                "parallel": {"max_concurrency": 3},
                "steps": [
                    step("a", "alpha"),
                    step("b", "beta", delay=8),
                    step("c", "gamma"),
                    step("join", "merged", depends_on=["a", "b", "c"]),
                ],
            }
        )
        wf = client.workflows.add(definition)
        client.workflows.run(wf.id)
        b_task = wait_for_started_agent(client, wf.id, "b")
        deadline = time.monotonic() + 30
        # The branches' tasks a and c end while b still runs (the join waits for all three).
        while not all(
            (t := next(s for s in client.workflows.get(wf.id).steps if s.key == key).task_id)
            and client.tasks.get(t).status.value == "completed"
            for key in ("a", "c")
        ):
            assert time.monotonic() < deadline, "branches a and c never finished"
            time.sleep(0.05)
        assert client.tasks.get(b_task).status.value == "running"
        assert agent_turns(client, b_task) == 1
        sigkill(first)
        assert client.workflows.get(wf.id).status is WorkflowStatus.RUNNING

    with serving(home):
        done = client.workflows.wait(wf.id, timeout=90)

    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    a, b, c, join = (s.task_id or "" for s in done.steps)
    assert agent_turns(client, a) == 1  # finished before the kill: never started again
    assert agent_turns(client, c) == 1
    assert agent_turns(client, b) == 2  # interrupted mid-branch: run again, once
    assert agent_turns(client, join) == 1
    joined = client.tasks.get(join).description
    assert "alpha" in joined and "beta" in joined and "gamma" in joined
    client.close()
