"""A sequence workflow on the real Claude Code CLI against the scripted Anthropic server: each
step is one real CLI run, the second sees the first's output, and each step is sent to the
model exactly once. Also measures the time from one step's end to the next step's first model
request (reported, not asserted: the machine is shared)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from claude_fixtures import (  # noqa: F401
    anthropic_server_fixture,
    claude_workspace,
    offline_env_fixture,
)

from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import WorkflowStatus
from stagent.engine.workflow_steps import NOT_RETRIED
from stagent.testing.anthropic_server import AnthropicScriptServer
from stagent.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture
def claude_worker(anthropic_server: AnthropicScriptServer, tmp_path: Path) -> Iterator[Workspace]:
    yield from claude_workspace(anthropic_server, tmp_path, preset="full-auto")


def test_a_sequence_runs_on_the_real_claude_cli_one_model_call_per_step(
    claude_worker: Workspace, anthropic_server: AnthropicScriptServer
) -> None:
    ws = claude_worker
    definition = parse_definition(
        {
            "name": "greet-twice",
            "pattern": "sequence",
            "steps": [
                {
                    "id": "greet",
                    "name": "Greet",
                    "prompt": "SCENARIO:text greet",
                    "runtime": "claude",
                },
                {
                    "id": "again",
                    "name": "Again",
                    "prompt": "SCENARIO:text greet again",
                    "runtime": "claude",
                },
            ],
        }
    )
    wf = ws.workflows.add(definition)
    ws.workflows.run(wf.id)
    done = ws.workflows.wait(wf.id, timeout=180)
    assert done.status is WorkflowStatus.COMPLETED, done.stop_reason
    assert [s.output for s in done.steps] == ["Hello from the scripted model."] * 2
    calls = [r for r in anthropic_server.requests if r["scenario"] == "text"]
    assert len(calls) == 2  # one model request per step, none repeated
    second = ws.tasks.get(done.steps[1].task_id or "")
    assert second.description.startswith("Previous step output:\nHello from the scripted model.")
    assert calls[1]["history"][0] == "user:text"  # the CLI sent that prompt as the user turn
    first_end = done.steps[0].ended_at
    assert first_end is not None
    gap = calls[1]["at"] - first_end.timestamp()
    print(f"\nstep end -> next step's first model request: {gap:.2f} s")
    assert gap > 0


def test_a_bad_api_key_fails_the_step_once_however_many_tries_its_policy_allows(
    claude_worker: Workspace, anthropic_server: AnthropicScriptServer
) -> None:
    """The provider answers 401: the CLI's error is not retryable, so the retry policy's three
    tries and ten-minute backoff are not spent on it."""
    definition = parse_definition(
        {
            "name": "bad-key",
            "pattern": "sequence",
            "steps": [
                {
                    "id": "greet",
                    "name": "Greet",
                    "prompt": "SCENARIO:e401 greet",
                    "runtime": "claude",
                    "retry": {"attempts": 3, "backoff_seconds": 600},
                }
            ],
        }
    )
    ws = claude_worker
    wf = ws.workflows.add(definition)
    ws.workflows.run(wf.id)
    done = ws.workflows.wait(wf.id, timeout=180)
    assert done.status is WorkflowStatus.FAILED
    error = done.steps[0].error or ""
    assert "(HTTP 401)" in error and error.endswith(NOT_RETRIED), error
    assert len([r for r in anthropic_server.requests if r["scenario"] == "e401"]) == 1
    assert len(ws.tasks.runs(done.steps[0].task_id or "")) == 1
