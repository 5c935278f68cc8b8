"""A retry, a re-run and a resume are refused up front, as a run is, when a step they would
run has a runtime that is not ready here (no key, no login): the API's 422 with one problem per
step (step, runtime, fix), the run view's buttons show the same message, and nothing moves.
Before, they started and the run failed at that step with the runtime's own message."""

from __future__ import annotations

import httpx
import pytest

from stagent.domain.errors import RuntimeUnavailableError
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import Workflow, WorkflowStatus
from stagent.testing.workflows import step
from stagent.workspace import Workspace

NEEDS_CLAUDE = {
    "name": "needs-claude",
    "pattern": "sequence",
    "steps": [
        step("draft", "a draft", fail="boom"),
        {"id": "review", "name": "Review", "prompt": "review it", "runtime": "claude"},
    ],
}


def ran_while_ready(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> Workflow:
    """Run ``NEEDS_CLAUDE`` as if Claude Code were logged in (its first step fails, so the
    claude step never runs), then log out again."""
    wf = ws.workflows.add(parse_definition(NEEDS_CLAUDE))
    with monkeypatch.context() as ready:
        ready.setattr(ws.tasks, "require_ready", lambda runtime: None)
        ws.workflows.run(wf.id)
    return ws.workflows.wait(wf.id, timeout=60)


def assert_names_the_claude_step(body: dict[str, object]) -> None:
    assert body["code"] == "runtime_unavailable"
    assert str(body["error"]).startswith(
        "steps[1].runtime (step review): the claude runtime is not ready"
    )
    [problem] = body["errors"]  # type: ignore[misc]
    assert (problem["step"], problem["field"]) == ("review", "steps[1].runtime")
    assert "Settings -> Runtimes" in problem["hint"]


async def test_retry_and_rerun_of_a_run_whose_next_step_is_not_ready_are_refused_up_front(
    worker_client: httpx.AsyncClient,
    worker: Workspace,
    no_login: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failed = ran_while_ready(worker, monkeypatch)
    assert failed.status is WorkflowStatus.FAILED
    first_task = failed.steps[0].task_id or ""
    for action in ("retry", "rerun"):
        refused = await worker_client.post(f"/api/v1/workflows/{failed.id}/steps/draft/{action}")
        assert refused.status_code == 422, refused.text
        assert_names_the_claude_step(refused.json())
    # the run view's Retry button: the same message, in place
    button = await worker_client.post(
        f"/ui/workflows/{failed.id}/steps/draft/retry", headers={"HX-Request": "true"}
    )
    assert button.status_code == 422
    assert "the claude runtime is not ready" in button.text and "Settings" in button.text
    after = worker.workflows.get(failed.id)
    assert (after.status, after.run_count) == (WorkflowStatus.FAILED, 1)  # nothing moved
    assert len(worker.tasks.runs(first_task)) == 1
    assert after.steps[1].task_id is None


async def test_a_resume_whose_next_step_is_not_ready_is_refused_and_the_run_stays_paused(
    queue_client: httpx.AsyncClient,
    queue_only: Workspace,
    no_login: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wf = queue_only.workflows.add(parse_definition(NEEDS_CLAUDE))
    with monkeypatch.context() as ready:
        ready.setattr(queue_only.tasks, "require_ready", lambda runtime: None)
        queue_only.workflows.run(wf.id)  # queued: no worker here
    queue_only.workflows.pause(wf.id)
    refused = await queue_client.post(f"/api/v1/workflows/{wf.id}/resume")
    assert refused.status_code == 422, refused.text
    assert_names_the_claude_step(refused.json())
    button = await queue_client.post(
        f"/ui/workflows/{wf.id}/resume", headers={"HX-Request": "true"}
    )
    assert button.status_code == 422 and "the claude runtime is not ready" in button.text
    assert queue_only.workflows.get(wf.id).status is WorkflowStatus.PAUSED
    with pytest.raises(RuntimeUnavailableError):
        queue_only.workflows.resume(wf.id)
    # once Claude Code is ready, the same resume goes on
    monkeypatch.setattr(queue_only.tasks, "require_ready", lambda runtime: None)
    assert queue_only.workflows.resume(wf.id).status is WorkflowStatus.RUNNING
