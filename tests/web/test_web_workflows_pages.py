"""The Workflows pages without a browser: the list's filters, the editor (form and YAML, errors
beside the field with the API's message, CSRF), the run view's graph and actions, its live
stream events, and the Board hiding workflow steps."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from bs4 import BeautifulSoup

from stagent.domain.ids import utcnow
from stagent.domain.workflow_files import parse_definition
from stagent.domain.workflow_runs import (
    StepCost,
    StepState,
    StepStatus,
    Workflow,
    WorkflowStatus,
)
from stagent.engine.services import TaskDraft
from stagent.testing.workflows import step
from stagent.web.ui import workflow_editor as editor
from stagent.web.ui import workflow_graph as graph
from stagent.web.ui.stream import Topics, workflow_events
from stagent.workspace import Workspace


def add(ws: Workspace, data: dict[str, Any]) -> Workflow:
    return ws.workflows.add(parse_definition(data))


def soup(response: httpx.Response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[-2000:]
    return BeautifulSoup(response.text, "html.parser")


def form_fields(page: BeautifulSoup) -> dict[str, str]:
    """What the browser would post for the editor form as rendered."""
    out: dict[str, str] = {}
    root = page.select_one("#workflow-form") or page
    for element in root.select("input, textarea"):
        name = element.get("name")
        if not isinstance(name, str):
            continue
        if element.get("type") == "checkbox":
            if element.has_attr("checked"):
                out[name] = str(element.get("value", "on"))
        else:
            out[name] = (
                element.get_text() if element.name == "textarea" else str(element.get("value", ""))
            )
    for select in root.select("select"):
        chosen = select.select_one("option[selected]") or select.select_one("option")
        name = select.get("name")
        if isinstance(name, str) and chosen is not None:
            out[name] = str(chosen.get("value", ""))
    return out


async def test_the_list_filters_by_status_and_pattern(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    for pattern in ("sequence", "swarm", "loop"):
        add(workspace, editor.starter(pattern, f"wf-{pattern}"))
    page = soup(await client.get("/workflows?pattern=swarm"))
    names = [a.get_text() for a in page.select("#workflows-table tbody td:first-child a")]
    assert names == ["wf-swarm"]
    chips = {a.get_text(" ", strip=True) for a in page.select(".wf-filters .chip")}
    assert "Not run yet 3" in chips and "swarm 1" in chips
    none = soup(await client.get("/workflows?status=running&pattern=loop"))
    assert "No workflow matches these filters" in none.text
    everything = soup(await client.get("/workflows"))
    assert len(everything.select("#workflows-table tbody tr")) == 3


async def test_create_in_the_form_then_edit_as_yaml(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    page = soup(await client.get("/workflows/new?pattern=parallel"))
    form = form_fields(page)
    assert form["pattern"] == "parallel" and form["parallel.max_concurrency"] == "2"
    form["name"] = "reviews"
    form["parallel.on_branch_failure"] = "synthesize"
    saved = await client.post("/ui/workflows", data=form)
    assert saved.status_code == 204, saved.text
    workflow_id = saved.headers["hx-redirect"].rsplit("/", 1)[1]
    stored = workspace.workflows.get(workflow_id).definition
    assert stored.parallel is not None and stored.parallel.on_branch_failure == "synthesize"

    edit = soup(await client.get(f"/workflows/{workflow_id}/edit"))
    fields = form_fields(edit)
    as_yaml = soup(await client.post("/ui/workflows/editor", data={**fields, "do": "to-yaml"}))
    text = as_yaml.select_one("textarea[name=yaml]")
    assert text is not None and "on_branch_failure: synthesize" in text.get_text()
    changed = text.get_text().replace("max_concurrency: 2", "max_concurrency: 1")
    saved = await client.post(
        f"/ui/workflows/{workflow_id}/edit",
        data={"mode": "yaml", "yaml": changed, "save_url": "x"},
    )
    assert saved.status_code == 204, saved.text
    definition = workspace.workflows.get(workflow_id).definition
    assert definition.parallel is not None and definition.parallel.max_concurrency == 1


async def test_editor_errors_sit_beside_the_field_with_the_api_message(
    client: httpx.AsyncClient,
) -> None:
    page = soup(await client.get("/workflows/new?pattern=swarm"))
    form = form_fields(page)
    form["swarm.worker_concurrency"] = "4"
    shown = soup(await client.post("/ui/workflows", data=form))
    error = shown.select_one("input[name='swarm.worker_concurrency'] + small.field-error")
    assert error is not None
    api = await client.post("/api/v1/workflows", json={"definition": editor.data_from_form(form)})
    assert api.status_code == 422
    fix = error.select_one(".field-hint")
    assert fix is not None and fix.get_text() == api.json()["hint"]
    fix.extract()
    assert error.get_text() == api.json()["error"]
    assert "swarm.worker_concurrency: 4 is more than the 2 workers" in error.get_text()
    assert api.json()["hint"] == (
        "allowed: 1 to 2 (the number of workers), e.g. worker_concurrency: 2"
    )
    # The person's value stays in the field, and nothing was stored.
    kept = shown.select_one("input[name='swarm.worker_concurrency']")
    assert kept is not None and kept.get("value") == "4"
    assert (await client.get("/api/v1/workflows")).json()["count"] == 0

    bad_yaml = "name: y\npattern: loop\nsteps:\n  - id: it\n    name: It\n    prompt: p\n"
    shown = soup(await client.post("/ui/workflows", data={"mode": "yaml", "yaml": bad_yaml}))
    caption = shown.select_one(".yaml-excerpt figcaption")
    assert caption is not None and "loop: a loop workflow needs loop settings" in caption.text
    api = await client.post("/api/v1/workflows", json={"text": bad_yaml})
    assert api.json()["error"].removeprefix("<request>") == caption.text.removeprefix("definition")


async def test_switching_views_keeps_the_data_and_reports_broken_yaml(
    client: httpx.AsyncClient,
) -> None:
    form = form_fields(soup(await client.get("/workflows/new?pattern=loop")))
    form["steps-0-prompt"] = "Improve <the> tests"
    as_yaml = soup(await client.post("/ui/workflows/editor", data={**form, "do": "to-yaml"}))
    text = as_yaml.select_one("textarea[name=yaml]")
    assert text is not None
    back = soup(
        await client.post(
            "/ui/workflows/editor",
            data={"mode": "yaml", "yaml": text.get_text(), "do": "to-form"},
        )
    )
    assert form_fields(back)["steps-0-prompt"] == "Improve <the> tests"
    assert form_fields(back)["loop.max_iterations"] == "5"
    broken = soup(
        await client.post(
            "/ui/workflows/editor",
            data={"mode": "yaml", "yaml": "name: [x\n", "do": "to-form"},
        )
    )
    assert broken.select_one("textarea[name=yaml]") is not None  # it stays in the YAML view
    assert broken.select_one("#editor-error") is not None


async def test_editor_posts_need_the_csrf_token(raw_client: httpx.AsyncClient) -> None:
    refused = await raw_client.post("/ui/workflows", data={"mode": "yaml", "yaml": "x: 1"})
    assert refused.status_code == 403
    refused = await raw_client.post("/ui/workflows/wf_x/run")
    assert refused.status_code == 403


async def test_the_run_view_lays_out_a_swarm_and_a_loop(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    swarm = add(workspace, editor.starter("swarm", "audit"))
    page = soup(await client.get(f"/workflows/{swarm.id}"))
    labels = [s.get("aria-label") for s in page.select(".wf-layer")]
    assert labels == ["Mayor", "Workers", "Refinery"]
    workers = page.select(".wf-layer[aria-label=Workers] .wf-node")
    assert [n.get("id") for n in workers] == ["node-worker-1", "node-worker-2"]
    assert "2 at a time" in page.select(".wf-layer[aria-label=Workers] .note")[0].text
    assert page.select_one("button[hx-post$='/run']") is not None
    loop = add(workspace, editor.starter("loop", "improve"))
    page = soup(await client.get(f"/workflows/{loop.id}"))
    assert "No iterations recorded yet" in page.select_one(".wf-timeline").text  # type: ignore[union-attr]


async def test_run_retry_and_live_events_from_the_run_view(
    worker_client: httpx.AsyncClient, worker: Workspace
) -> None:
    workflow = add(
        worker,
        {
            "name": "flaky",
            "pattern": "sequence",
            "steps": [step("one", "first"), step("two", "second", fail="boom")],
        },
    )
    topics = Topics(workflows=frozenset({workflow.id}))
    seen: dict[str, tuple[object, ...]] = {}
    assert len(workflow_events(worker, topics, seen, 0)) == 1  # first look: sent
    assert workflow_events(worker, topics, seen, 0) == []  # nothing changed: nothing sent
    started = soup(await worker_client.post(f"/ui/workflows/{workflow.id}/run"))
    assert started.select_one("button[hx-post$='/cancel']") is not None
    done = await wait_ended(worker, workflow.id)
    assert done.status is WorkflowStatus.FAILED
    events = workflow_events(worker, topics, seen, 0)
    assert [e.event for e in events] == [f"workflow-{workflow.id}"]
    view = soup(await worker_client.get(f"/ui/workflows/{workflow.id}/run"))
    failed = view.select_one("#node-two")
    assert failed is not None and failed.get("data-status") == "failed"
    assert "boom" in failed.text
    assert view.select_one("#node-one[data-status=completed] a[href^='/tasks/']") is not None
    retry = failed.select_one("button[hx-post$='/steps/two/retry']")
    assert retry is not None
    again = await worker_client.post(f"/ui/workflows/{workflow.id}/steps/two/retry")
    assert again.status_code == 200
    assert (await wait_ended(worker, workflow.id)).status is WorkflowStatus.FAILED
    nothing = await worker_client.post(f"/ui/workflows/{workflow.id}/pause")
    assert nothing.status_code == 409  # not running: the error says so

    # Re-run from a step: a new run where the steps before it keep their results.
    view = soup(await worker_client.get(f"/ui/workflows/{workflow.id}/run"))
    assert view.select_one("#node-one button[hx-post$='/steps/one/rerun']") is not None
    first_task = done.steps[0].task_id
    rerun = soup(await worker_client.post(f"/ui/workflows/{workflow.id}/steps/two/rerun"))
    assert rerun.select_one("button[hx-post$='/rerun']") is None  # running: no re-run offered
    again_done = await wait_ended(worker, workflow.id)
    assert again_done.run_count == 2  # a retry stays in its run; a re-run is a new one
    assert again_done.steps[0].task_id == first_task  # reused, not sent to a model again
    assert len(worker.tasks.runs(first_task or "")) == 1


async def wait_ended(ws: Workspace, workflow_id: str) -> Workflow:
    for _ in range(600):
        workflow = ws.workflows.get(workflow_id)
        if workflow.status is not WorkflowStatus.RUNNING:
            return workflow
        await asyncio.sleep(0.05)
    raise AssertionError("the workflow never ended")


async def test_edit_is_refused_while_a_run_is_active(
    queue_client: httpx.AsyncClient, queue_only: Workspace
) -> None:
    workflow = add(queue_only, {"name": "busy", "pattern": "sequence", "steps": [step("a", "x")]})
    queue_only.workflows.run(workflow.id)
    form = form_fields(soup(await queue_client.get(f"/workflows/{workflow.id}/edit")))
    shown = soup(await queue_client.post(f"/ui/workflows/{workflow.id}/edit", data=form))
    error = shown.select_one("#editor-error")
    assert error is not None and "its definition cannot change while a run reads it" in error.text
    view = soup(await queue_client.get(f"/workflows/{workflow.id}"))
    assert view.select_one("a[href$='/edit']") is None  # no Edit button while it runs


async def test_the_board_hides_workflow_steps_and_remembers_it(
    worker_client: httpx.AsyncClient, worker: Workspace
) -> None:
    workflow = add(worker, {"name": "w", "pattern": "sequence", "steps": [step("a", "x")]})
    worker.workflows.run(workflow.id)
    await wait_ended(worker, workflow.id)
    step_task = worker.workflows.get(workflow.id).steps[0].task_id
    shown = soup(await worker_client.get("/board"))
    card = shown.select_one(f"#card-{step_task}")
    assert card is not None and "is-step" in (card.get("class") or [])
    assert card.select_one(f"a.workflow-step[href='/workflows/{workflow.id}']") is not None
    assert "hide-steps" not in (shown.select_one("#board").get("class") or [])  # type: ignore[union-attr]
    own = worker.tasks.create(TaskDraft(title="A task of my own"))
    hidden = await worker_client.get("/board?steps=hide")
    assert "stagent_board_steps=hide" in hidden.headers["set-cookie"]
    page = soup(hidden)
    assert "hide-steps" in (page.select_one("#board").get("class") or [])  # type: ignore[union-attr]
    # Left out by the server, not only hidden by the style sheet:
    assert page.select_one(f"#card-{step_task}") is None
    assert page.select_one(f"#row-{step_task}") is None
    assert page.select_one(f"#card-{own.id}") is not None
    completed = page.select_one("#col-completed")
    assert completed is not None and "Only workflow steps, hidden" in completed.text
    remembered = soup(await worker_client.get("/board"))
    assert remembered.select_one(f"#card-{step_task}") is None
    fragment = soup(await worker_client.get("/ui/board"))  # a refresh keeps the choice
    assert fragment.select_one(f"#card-{step_task}") is None
    assert fragment.select_one(f"#card-{own.id}") is not None
    back = soup(await worker_client.get("/board?steps=show"))
    assert "hide-steps" not in (back.select_one("#board").get("class") or [])  # type: ignore[union-attr]
    assert back.select_one(f"#card-{step_task}") is not None


def test_graph_layers_and_the_loop_timeline() -> None:
    now = utcnow()
    definition = parse_definition(editor.starter("loop"))

    def row(key: str, position: int, seconds: float, status: StepStatus) -> StepState:
        start = now - timedelta(seconds=100 - position * 10)
        return StepState(
            key=key,
            position=position,
            status=status,
            task_id=f"tsk_{key}",
            started_at=start,
            ended_at=start + timedelta(seconds=seconds),
        )

    workflow = Workflow(
        id="wf_1",
        definition=definition,
        status=WorkflowStatus.FAILED,
        run_count=1,
        stop_reason=None,
        project_id=None,
        created_at=now,
        updated_at=now,
        steps=(
            row("improve#1", 0, 3, StepStatus.COMPLETED),
            row("improve#2", 1, 1, StepStatus.FAILED),
        ),
    )
    nodes = graph.nodes(workflow, {"improve#1": StepCost(1500)}, now)
    assert [(n.key, n.status) for n in nodes] == [
        ("improve", "template"),
        ("improve#1", "completed"),
        ("improve#2", "failed"),
    ]
    assert [layer.label for layer in graph.layers(workflow, nodes)] == ["Each iteration runs"]
    segments = graph.timeline(nodes)
    assert [s.width for s in segments] == [75.0, 25.0]
    assert segments[1].left == 75.0
    assert nodes[1].cost_micros == 1500
    assert nodes[2].retryable  # a failed iteration of an ended run can be retried
    assert graph.clock(0.42) == "0.4 s" and graph.clock(185) == "3 min 05 s"


async def test_the_run_view_shows_a_loops_iterations_and_a_swarms_workers(
    worker_client: httpx.AsyncClient, worker: Workspace
) -> None:
    loop = add(
        worker,
        {
            "name": "polish",
            "pattern": "loop",
            "loop": {"max_iterations": 3},
            "steps": [step("polish", "better")],
        },
    )
    swarm = add(
        worker,
        {
            "name": "audit",
            "pattern": "swarm",
            "swarm": {"worker_concurrency": 2},
            "steps": [
                step("mayor", "briefs"),
                step("w1", "one"),
                step("w2", "two"),
                step("ref", "all"),
            ],
        },
    )
    for workflow in (loop, swarm):
        worker.workflows.run(workflow.id)
    for workflow in (loop, swarm):
        assert (await wait_ended(worker, workflow.id)).status is WorkflowStatus.COMPLETED
    view = soup(await worker_client.get(f"/workflows/{loop.id}"))
    assert len(view.select(".timeline-bar .seg.st-completed")) == 3
    items = view.select("ol.iterations li")
    assert len(items) == 3
    done = worker.workflows.get(loop.id)
    for item, state in zip(items, done.steps, strict=True):  # each: its task, time and cost
        link = item.select_one("a")
        assert link is not None and link.get("href") == f"/tasks/{state.task_id}"
        cost = item.select_one(".iteration-cost")
        assert cost is not None and cost.get_text() == "simulated"  # not "$0.00"
    template = view.select_one("#node-polish")
    assert template is not None and template.get("data-status") == "template"
    view = soup(await worker_client.get(f"/workflows/{swarm.id}"))
    workers = view.select(".wf-layer[aria-label=Workers] .wf-node[data-status=completed]")
    assert [n.get("id") for n in workers] == ["node-w1", "node-w2"]
    assert view.select_one(".wf-layer[aria-label=Refinery] #node-ref[data-status=completed]")


async def test_a_step_that_waits_for_a_person_says_so_live(
    worker_client: httpx.AsyncClient, worker: Workspace
) -> None:
    asks = step("ask", "done")
    asks["options"]["scripted"]["scenario"]["steps"].insert(
        0, {"tool": "Bash", "input": {"command": "rm -rf build"}}
    )
    workflow = add(worker, {"name": "asks", "pattern": "sequence", "steps": [asks]})
    topics = Topics(workflows=frozenset({workflow.id}))
    seen: dict[str, tuple[object, ...]] = {}
    workflow_events(worker, topics, seen, 0)
    worker.workflows.run(workflow.id)
    for _ in range(400):
        task_id = worker.workflows.get(workflow.id).steps[0].task_id
        if task_id and worker.tasks.get(task_id).status.value == "waiting":
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the step never waited for its approval")
    events = workflow_events(worker, topics, seen, 0)
    assert events and 'data-asking="1"' in str(events[-1].data)
    view = soup(await worker_client.get(f"/ui/workflows/{workflow.id}/run"))
    node = view.select_one("#node-ask[data-asking]")
    assert node is not None and node.select_one("a[href='/inbox']") is not None
    assert "waiting for you" in node.text
    worker.workflows.cancel(workflow.id)
    await wait_ended(worker, workflow.id)


async def test_an_unknown_runtime_or_profile_is_placed_like_any_definition_error(
    client: httpx.AsyncClient,
) -> None:
    """Checked against this workspace when saved (as `task add` checks a task's runtime): the
    form shows it beside the step's field, the YAML view under its line, the API names the
    line; nothing is stored."""
    page = soup(await client.get("/workflows/new?pattern=sequence"))
    form = form_fields(page)
    form["steps-1-runtime"] = "nope"
    shown = soup(await client.post("/ui/workflows", data=form))
    error = shown.select_one("[name='steps-1-runtime'] ~ small.field-error")
    assert error is not None
    assert "steps[1].runtime (step" in error.get_text()
    assert "unknown runtime 'nope'" in error.get_text()

    text = "name: y\npattern: sequence\nsteps:\n  - id: a\n    name: A\n    prompt: p\n"
    text += "    profile: nobody\n"
    shown = soup(await client.post("/ui/workflows", data={"mode": "yaml", "yaml": text}))
    caption = shown.select_one(".yaml-excerpt figcaption")
    assert caption is not None
    assert caption.text == "definition:7: steps[0].profile (step a): no profile 'nobody'"
    api = await client.post("/api/v1/workflows", json={"text": text})
    assert api.status_code == 422
    assert api.json()["error"] == "<request>:7: steps[0].profile (step a): no profile 'nobody'"
    assert (await client.get("/api/v1/workflows")).json()["count"] == 0


async def test_the_run_view_shows_the_definition_as_it_was_written(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    """Not every default spelt out (``depends_on: []``, ``retry: {attempts: 1 ...}``)."""
    import yaml

    data = {
        "name": "as-written",
        "pattern": "sequence",
        "steps": [
            {"id": "a", "name": "A", "prompt": "go"},
            {"id": "b", "name": "B", "prompt": "then", "retry": {"attempts": 2}},
        ],
    }
    workflow = add(workspace, data)
    shown = soup(await client.get(f"/workflows/{workflow.id}")).select_one("pre.mono")
    assert shown is not None
    assert yaml.safe_load(shown.get_text()) == data
