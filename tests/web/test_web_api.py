"""The JSON API through an in-process client: status codes, shapes and the OpenAPI schema."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from webtools import asgi_client, wait_for_status, with_csrf

from stagent.web.app import create_app
from stagent.web.ui.stream import Topics, live_events
from stagent.workspace import Workspace

TASK_FIELDS = {
    "id",
    "status",
    "title",
    "description",
    "result",
    "error",
    "runtime",
    "project_id",
    "priority",
    "run_count",
    "created_at",
    "updated_at",
    "started_at",
    "finished_at",
}


async def test_projects_crud(client: httpx.AsyncClient, tmp_path: Path) -> None:
    created = await client.post(
        "/api/v1/projects", json={"name": "Alpha", "description": "d", "directory": str(tmp_path)}
    )
    assert created.status_code == 201, created.text
    project = created.json()
    assert project["working_directory"] == str(tmp_path.resolve())

    duplicate = await client.post("/api/v1/projects", json={"name": "Alpha"})
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "conflict"

    await client.post("/api/v1/tasks", json={"title": "t", "project": "Alpha"})
    listed = (await client.get("/api/v1/projects")).json()
    assert listed["count"] == 1
    assert listed["data"][0]["task_counts"] == {"planned": 1}

    by_name = await client.get("/api/v1/projects/Alpha")
    assert by_name.status_code == 200 and by_name.json()["id"] == project["id"]

    assert (await client.delete(f"/api/v1/projects/{project['id']}")).status_code == 204
    assert (await client.get("/api/v1/projects/Alpha")).status_code == 404
    assert (await client.delete("/api/v1/projects/Alpha")).status_code == 404


async def test_project_with_missing_directory_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/projects", json={"name": "B", "directory": "/no/such/dir"}
    )
    assert response.status_code == 422 and "directory" in response.json()["error"]


async def test_create_get_list_tasks(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tasks",
        json={
            "title": "Write notes",
            "description": "short",
            "priority": 1,
            "scenario": {"steps": [{"text": "hi"}], "result": "ok"},
        },
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert set(task) >= TASK_FIELDS
    assert task["status"] == "planned" and task["priority"] == 1 and task["run_count"] == 0

    detail = (await client.get(f"/api/v1/tasks/{task['id']}")).json()
    assert detail["events"][0]["kind"] == "created"
    assert {"seq", "kind", "payload", "summary", "created_at"} <= set(detail["events"][0])

    listed = (await client.get("/api/v1/tasks")).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == task["id"]
    assert (await client.get("/api/v1/tasks?status=completed")).json()["count"] == 0
    missing_project = await client.get("/api/v1/tasks?project=nope")
    assert missing_project.status_code == 404


async def test_malformed_inline_scenario_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tasks", json={"title": "t", "scenario": {"steps": [{"sing": "la"}]}}
    )
    body = response.json()
    assert response.status_code == 422 and body["code"] == "invalid_scenario"
    assert "steps[0]" in body["error"]


async def test_a_provider_base_url_that_is_not_http_is_a_422_naming_the_field_and_the_fix(
    client: httpx.AsyncClient,
) -> None:
    provider = {"base_url": "ftp://models.example/v1"}
    response = await client.post(
        "/api/v1/tasks",
        json={"title": "t", "runtime": "codex", "options": {"codex": {"provider": provider}}},
    )
    body = response.json()
    assert response.status_code == 422 and body["code"] == "invalid_input"
    assert body["error"] == (
        "options.codex.provider.base_url: 'ftp://models.example/v1' is not an http(s) URL"
    )
    assert "https://api.openai.com/v1" in body["hint"]
    assert (await client.get("/api/v1/tasks")).json()["data"] == []


async def test_a_provider_query_param_that_is_not_text_is_a_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    provider = {"query_params": {"api-key": 12345678}}
    response = await client.post(
        "/api/v1/tasks",
        json={"title": "t", "runtime": "codex", "options": {"codex": {"provider": provider}}},
    )
    body = response.json()
    assert response.status_code == 422 and body["code"] == "invalid_input"
    assert body["error"] == (
        "options.codex.provider.query_params: the value of 'api-key' must be text, not a number"
    )
    assert "12345678" not in response.text
    assert (await client.get("/api/v1/tasks")).json()["data"] == []


async def test_patch_task(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/projects", json={"name": "P"})
    task = (await client.post("/api/v1/tasks", json={"title": "old"})).json()
    patched = await client.patch(
        f"/api/v1/tasks/{task['id']}", json={"title": "new", "priority": 0, "project": "P"}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "new" and patched.json()["project_id"]
    detached = await client.patch(f"/api/v1/tasks/{task['id']}", json={"project": None})
    assert detached.json()["project_id"] is None
    null_title = await client.patch(f"/api/v1/tasks/{task['id']}", json={"title": None})
    assert null_title.status_code == 422
    assert null_title.json()["code"] == "invalid_input"


async def test_queued_task_cannot_be_edited_or_deleted(queue_client: httpx.AsyncClient) -> None:
    client = queue_client
    task = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    queued = await client.post(f"/api/v1/tasks/{task['id']}/run")
    assert queued.status_code == 202 and queued.json()["status"] == "queued"
    edit = await client.patch(f"/api/v1/tasks/{task['id']}", json={"title": "x"})
    assert edit.status_code == 409 and edit.json()["code"] == "conflict"
    assert (await client.delete(f"/api/v1/tasks/{task['id']}")).status_code == 409


async def test_board_moves(queue_client: httpx.AsyncClient) -> None:
    client = queue_client
    task = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    url = f"/api/v1/tasks/{task['id']}/move"
    assert (await client.post(url, json={"status": "queued"})).json()["status"] == "queued"
    assert (await client.post(url, json={"status": "planned"})).json()["status"] == "planned"
    bad = await client.post(url, json={"status": "running"})
    assert bad.status_code == 409
    unknown = await client.post(url, json={"status": "nowhere"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "status"


async def test_cancel_and_delete(client: httpx.AsyncClient) -> None:
    task = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    cancelled = await client.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    again = await client.post(f"/api/v1/tasks/{task['id']}/cancel")
    assert again.status_code == 409
    assert (await client.delete(f"/api/v1/tasks/{task['id']}")).status_code == 204
    assert (await client.get(f"/api/v1/tasks/{task['id']}")).status_code == 404


async def test_events_after(queue_client: httpx.AsyncClient) -> None:
    client = queue_client
    task = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    await client.post(f"/api/v1/tasks/{task['id']}/run")
    events = (await client.get(f"/api/v1/tasks/{task['id']}/events")).json()
    assert [e["kind"] for e in events["data"]] == ["created", "status"]
    first = events["data"][0]["seq"]
    later = (await client.get(f"/api/v1/tasks/{task['id']}/events?after={first}")).json()
    assert later["count"] == 1 and later["data"][0]["summary"] == "status planned -> queued"
    assert (await client.get("/api/v1/tasks/tsk_none/events")).status_code == 404


async def test_runtimes_are_listed_with_capabilities(client: httpx.AsyncClient) -> None:
    body = (await client.get("/api/v1/runtimes")).json()
    scripted = next(r for r in body["data"] if r["name"] == "scripted")
    assert scripted["simulated"] is True and scripted["capabilities"]["simulated"] is True
    assert {"resume", "cancel", "approvals", "tools", "mcp"} <= set(scripted["capabilities"])


async def test_run_to_completion(worker_client: httpx.AsyncClient, worker: Workspace) -> None:
    worker.rules.add("Read")  # the default scenario reads README.md
    task = (await worker_client.post("/api/v1/tasks", json={"title": "go"})).json()
    await worker_client.post(f"/api/v1/tasks/{task['id']}/run")
    done = await wait_for_status(worker_client, task["id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["run_count"] == 1
    assert done["result"].startswith("Simulated run finished")
    assert "result" in [e["kind"] for e in done["events"]]


async def test_openapi_lists_the_api_and_hides_the_ui(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    paths = set(schema["paths"])
    assert {
        "/api/v1/projects",
        "/api/v1/projects/{ref}",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/run",
        "/api/v1/tasks/{task_id}/cancel",
        "/api/v1/tasks/{task_id}/move",
        "/api/v1/tasks/{task_id}/events",
        "/api/v1/runtimes",
    } <= paths
    assert all(p.startswith("/api/v1/") for p in paths), paths
    assert {
        "TaskIn",
        "TaskSchema",
        "TaskDetailSchema",
        "RunSchema",
        "ErrorOut",
        "ProjectSchema",
    } <= set(schema["components"]["schemas"])
    not_found = schema["paths"]["/api/v1/tasks/{task_id}"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


@pytest.mark.postgres
async def test_api_and_stream_on_postgresql(pg_workspace: Workspace) -> None:
    async with asgi_client(create_app(pg_workspace)) as client:
        await with_csrf(client)
        await client.post("/api/v1/projects", json={"name": "PG"})
        start = pg_workspace.tasks.last_seq()
        created = await client.post("/api/v1/tasks", json={"title": "on pg", "project": "PG"})
        assert created.status_code == 201, created.text
        listed = (await client.get("/api/v1/tasks?project=PG&status=planned")).json()
        assert listed["count"] == 1
        assert (await client.get("/board")).status_code == 200
    stream = live_events(pg_workspace, after=start, topics=Topics(board=True))
    try:
        event = await anext(stream)
    finally:
        await stream.aclose()
    assert event.event == "board-cards" and "on pg" in str(event.data)
