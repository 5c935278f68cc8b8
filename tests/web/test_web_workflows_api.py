"""``/api/v1/workflows``: add (errors are 422s naming line, step and field), run to the end,
retry, and the same shape as the CLI's ``--json``."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from stagent.schemas.workflows import WorkflowSchema
from stagent.testing.workflows import step
from stagent.workspace import Workspace

YAML = """\
name: from-text
pattern: sequence
steps:
  - id: a
    name: A
    prompt: p
    depends_on: [nope]
"""


async def test_a_bad_definition_is_a_422_naming_line_step_and_field(
    client: httpx.AsyncClient,
) -> None:
    bad = await client.post("/api/v1/workflows", json={"text": YAML})
    assert bad.status_code == 422, bad.text
    body = bad.json()
    assert "<request>:7: steps[0].depends_on (step a):" in str(body)
    obj = await client.post(
        "/api/v1/workflows",
        json={"definition": {"name": "x", "pattern": "sequence", "steps": [{"id": "a"}]}},
    )
    assert obj.status_code == 422
    assert "steps[0].name (step a): field required" in str(obj.json())
    neither = await client.post("/api/v1/workflows", json={})
    assert neither.status_code == 422
    listed = await client.get("/api/v1/workflows")
    assert listed.json()["count"] == 0


async def test_every_problem_comes_back_with_its_place_and_fix(client: httpx.AsyncClient) -> None:
    text = (
        "name: x\npattern: loop\nloop: {max_iterations: 0}\n"
        "steps:\n  - {id: it, name: It, prompt: go, runtim: claude}\n"
    )
    bad = await client.post("/api/v1/workflows", json={"text": text})
    assert bad.status_code == 422, bad.text
    body = bad.json()
    assert (body["ok"], body["code"], body["hint"]) == (False, "invalid_input", None)
    assert body["error"].startswith("2 problems: <request>:3: loop.max_iterations: ")
    assert body["errors"] == [
        {
            "field": "loop.max_iterations",
            "message": "0 is out of range (1 to 100)",
            "hint": "allowed: 1 to 100, e.g. max_iterations: 5",
            "file": "<request>",
            "line": 3,
            "column": 24,
            "step": None,
        },
        {
            "field": "steps[0].runtim",
            "message": "unknown field (did you mean runtime?)",
            "hint": "the fields here are: id, name, prompt, profile, runtime, model, depends_on, "
            "requires_approval, approval_timeout_seconds, retry, condition, timeout_seconds, "
            "options",
            "file": "<request>",
            "line": 5,
            "column": 36,
            "step": "it",
        },
    ]
    steps = [
        {"id": "a", "name": "A", "prompt": "p", "runtime": "nope"},
        {"id": "b", "name": "B", "prompt": "p", "profile": "code-reviewr"},
    ]
    obj = await client.post(
        "/api/v1/workflows",
        json={"definition": {"name": "x", "pattern": "sequence", "steps": steps}},
    )
    assert obj.status_code == 422, obj.text
    runtime, profile = obj.json()["errors"]
    assert (runtime["field"], runtime["step"], runtime["line"]) == ("steps[0].runtime", "a", None)
    assert runtime["message"] == "unknown runtime 'nope'"
    assert runtime["hint"] == "available runtimes: anthropic, claude, codex, scripted"
    assert (profile["field"], profile["message"]) == (
        "steps[1].profile",
        "no profile 'code-reviewr'",
    )
    assert profile["hint"].startswith("did you mean: code-reviewer, ")
    assert "`stagent profile list` shows all" in profile["hint"]
    assert (await client.get("/api/v1/workflows")).json()["count"] == 0


async def test_field_shape_and_runtime_problems_come_back_together(
    client: httpx.AsyncClient,
) -> None:
    """A definition object with a wrong field, an unknown runtime and no synthesis step: one
    422 with all three, each placed (an object has no lines: field and step)."""
    steps = [
        {"id": "a", "name": "A", "prompt": "p", "runtime": "nope"},
        {"id": "b", "name": "B", "prompt": "p", "retry": {"attempts": 0}},
    ]
    obj = await client.post(
        "/api/v1/workflows",
        json={"definition": {"name": "x", "pattern": "parallel", "steps": steps}},
    )
    assert obj.status_code == 422, obj.text
    errors = obj.json()["errors"]
    assert [(e["field"], e["step"], e["hint"]) for e in errors] == [
        ("steps[1].retry.attempts", "b", "allowed: 1 to 10, e.g. attempts: 3"),
        (
            "steps",
            None,
            "a parallel workflow is 2 to 5 branches (steps without depends_on) and one "
            "synthesis step whose depends_on lists every branch",
        ),
        ("steps[0].runtime", "a", "available runtimes: anthropic, claude, codex, scripted"),
    ]
    assert errors[1]["message"].startswith("a parallel workflow needs exactly one synthesis")
    assert (await client.get("/api/v1/workflows")).json()["count"] == 0


async def wait_done(client: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    for _ in range(600):
        body = (await client.get(f"/api/v1/workflows/{workflow_id}")).json()
        if body["status"] not in ("running", "draft"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError("the workflow never ended")


async def test_add_run_retry_through_the_api(
    worker_client: httpx.AsyncClient, worker: Workspace
) -> None:
    one = step("one", "first")
    usage = {"usage": {"model": "scripted-1", "input_tokens": 9, "cost_usd": 0.12}}
    one["options"]["scripted"]["scenario"]["steps"].append(usage)
    definition = {
        "name": "api-flow",
        "pattern": "sequence",
        "steps": [one, step("two", "second", fail="nope")],
    }
    created = await worker_client.post("/api/v1/workflows", json={"definition": definition})
    assert created.status_code == 201, created.text
    wf = created.json()
    assert wf["status"] == "draft" and wf["pattern_built"] is True
    started = await worker_client.post(f"/api/v1/workflows/{wf['id']}/run")
    assert started.status_code == 200
    again = await worker_client.post(f"/api/v1/workflows/{wf['id']}/run")
    assert again.status_code == 409  # a second run while the first is running
    failed = await wait_done(worker_client, wf["id"])
    assert failed["status"] == "failed"
    assert failed["stop_reason"] == "step two failed: nope"
    wrong = await worker_client.post(f"/api/v1/workflows/{wf['id']}/steps/one/retry")
    assert wrong.status_code == 409
    retried = await worker_client.post(f"/api/v1/workflows/{wf['id']}/steps/two/retry")
    assert retried.status_code == 200
    done = await wait_done(worker_client, wf["id"])
    assert done["steps"][0]["output"] == "first"
    assert len(worker.tasks.runs(done["steps"][1]["task_id"])) >= 2
    # scripted steps call no model: simulated, never spend (even a scenario's reported cost)
    assert [(s["cost_usd"], s["simulated"]) for s in done["steps"]] == [
        ("0.00", True),
        ("0.00", True),
    ]
    # One shape for every face: the API returns exactly the shared schema.
    latest = worker.workflows.get(wf["id"])
    assert done == WorkflowSchema.of(latest, worker.workflows.step_costs(latest)).data()


async def test_a_loop_iteration_is_retried_by_its_step_key(
    worker_client: httpx.AsyncClient, worker: Workspace
) -> None:
    definition = {
        "name": "api-loop",
        "pattern": "loop",
        "loop": {"max_iterations": 1},
        "steps": [step("it", "x", fail="flaky")],
    }
    wf = (await worker_client.post("/api/v1/workflows", json={"definition": definition})).json()
    await worker_client.post(f"/api/v1/workflows/{wf['id']}/run")
    failed = await wait_done(worker_client, wf["id"])
    assert (failed["stop_code"], failed["steps"][0]["id"]) == ("error", "it#1")
    retried = await worker_client.post(f"/api/v1/workflows/{wf['id']}/steps/it%231/retry")
    assert retried.status_code == 200, retried.text
    again = await wait_done(worker_client, wf["id"])
    assert len(worker.tasks.runs(again["steps"][0]["task_id"])) == 2


async def test_unknown_workflow_is_a_404(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/workflows/wf_nope")
    assert missing.status_code == 404
    assert "wf_nope" in missing.text


async def test_the_workflows_page_lists_them_escaped_and_says_what_is_not_built(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    from stagent.domain.workflow_files import parse_definition

    workspace.workflows.add(
        parse_definition(
            {
                "name": "<b>bold</b>",
                "pattern": "loop",
                "loop": {"max_iterations": 2},
                "steps": [step("it", "x")],
            }
        )
    )
    page = await client.get("/workflows")
    assert page.status_code == 200
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text and "<b>bold</b>" not in page.text
    assert "not built yet" in page.text
    assert "never run" in page.text and "Not run yet" in page.text
    assert "stagent " not in page.text.split("<main", 1)[-1]  # no CLI syntax on a page


async def test_a_run_whose_step_runtime_is_not_ready_is_a_422_naming_each_step(
    client: httpx.AsyncClient, workspace: Workspace, no_login: None
) -> None:
    """Refused up front, as a task's run is: before, the run started and failed at the step."""
    steps = [
        step("plan", "planned"),
        {"id": "review", "name": "Review", "prompt": "p", "runtime": "claude"},
        {"id": "fix", "name": "Fix", "prompt": "p", "runtime": "claude"},
    ]
    definition = {"name": "needs-claude", "pattern": "sequence", "steps": steps}
    created = await client.post("/api/v1/workflows", json={"definition": definition})
    assert created.status_code == 201, created.text
    wf = created.json()
    refused = await client.post(f"/api/v1/workflows/{wf['id']}/run")
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "runtime_unavailable"
    assert body["error"].startswith("2 steps cannot run here: ")
    assert [(e["step"], e["field"]) for e in body["errors"]] == [
        ("review", "steps[1].runtime"),
        ("fix", "steps[2].runtime"),
    ]
    assert all("the claude runtime is not ready" in e["message"] for e in body["errors"])
    assert all("Settings -> Runtimes" in e["hint"] for e in body["errors"])
    after = (await client.get(f"/api/v1/workflows/{wf['id']}")).json()
    assert (after["status"], after["run_count"]) == ("draft", 0)
    assert workspace.tasks.list() == []
