"""A sequence whose server is killed with SIGKILL mid-workflow continues at the first
unfinished step after a restart; a finished step is never run (sent to its agent) again."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.testing.workflows import step
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_serve(home: Path, port: int) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["STAGENT_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "stagent", "serve", "--no-open", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never printed; output was:\n{''.join(seen)}")


def kill_group(proc: subprocess.Popen[str], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def wait_for_running_step(client: Workspace, workflow_id: str, key: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = next(s for s in client.workflows.get(workflow_id).steps if s.key == key)
        if state.task_id and client.tasks.get(state.task_id).status.value == "running":
            return state.task_id
        time.sleep(0.05)
    raise AssertionError(f"step {key} never started")


def agent_turns(client: Workspace, task_id: str) -> int:
    """How many times the step's agent was started: each scripted run writes one text event
    before anything else."""
    return sum(1 for e in client.tasks.events(task_id) if e.kind == "text")


def test_a_killed_server_resumes_a_sequence_at_its_first_unfinished_step(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port = free_port()
    first = start_serve(home, port)
    client = Workspace.temporary(home).open()
    try:
        wait_for_line(first, "running at")
        definition = parse_definition(
            {
                "name": "survive",
                "pattern": "sequence",
                "steps": [
                    step("one", "first"),
                    step("two", "second", delay=4),
                    step("three", "third"),
                ],
            }
        )
        wf = client.workflows.add(definition)
        client.workflows.run(wf.id)
        two = wait_for_running_step(client, wf.id, "two")
        kill_group(first, signal.SIGKILL)
        assert client.workflows.get(wf.id).status is WorkflowStatus.RUNNING

        second = start_serve(home, port)
        try:
            wait_for_line(second, "running at")
            done = client.workflows.wait(wf.id, timeout=90)
        finally:
            kill_group(second, signal.SIGTERM)
    finally:
        if first.poll() is None:
            kill_group(first, signal.SIGKILL)

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
    port = free_port()
    first = start_serve(home, port)
    client = Workspace.temporary(home).open()
    try:
        wait_for_line(first, "running at")
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
        kill_group(first, signal.SIGKILL)

        second = start_serve(home, port)
        try:
            wait_for_line(second, "running at")
            time.sleep(3)  # the recovered step run is back at its gate, still waiting
            waiting = client.workflows.get(wf.id)
            assert waiting.status is WorkflowStatus.RUNNING
            assert [s.status.value for s in waiting.steps] == ["completed", "waiting", "pending"]
            assert client.approvals.get(card).pending
            assert [c.id for c in client.approvals.list_pending()] == [card]  # no second card
            client.approvals.allow(card, by="person (via CLI)", comment="go")
            done = client.workflows.wait(wf.id, timeout=60)
        finally:
            kill_group(second, signal.SIGTERM)
    finally:
        if first.poll() is None:
            kill_group(first, signal.SIGKILL)

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
    port = free_port()
    first = start_serve(home, port)
    client = Workspace.temporary(home).open()
    try:
        wait_for_line(first, "running at")
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
        b_task = wait_for_running_step(client, wf.id, "b")
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
        kill_group(first, signal.SIGKILL)
        assert client.workflows.get(wf.id).status is WorkflowStatus.RUNNING

        second = start_serve(home, port)
        try:
            wait_for_line(second, "running at")
            done = client.workflows.wait(wf.id, timeout=90)
        finally:
            kill_group(second, signal.SIGTERM)
    finally:
        if first.poll() is None:
            kill_group(first, signal.SIGKILL)

    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    a, b, c, join = (s.task_id or "" for s in done.steps)
    assert agent_turns(client, a) == 1  # finished before the kill: never started again
    assert agent_turns(client, c) == 1
    assert agent_turns(client, b) == 2  # interrupted mid-branch: run again, once
    assert agent_turns(client, join) == 1
    joined = client.tasks.get(join).description
    assert "alpha" in joined and "beta" in joined and "gamma" in joined
    client.close()
