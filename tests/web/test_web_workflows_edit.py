"""``PUT /api/v1/workflows/{id}``: a stored definition replaced from YAML/JSON text or an object,
validated as a new one is (every problem with its line, step and field), what changed in the
answer, a 409 that says what to do while a run is in flight; and the editor's save, which goes
the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import yaml
from bs4 import BeautifulSoup
from webtools import asgi_client, with_csrf

from stagent.schemas.workflows import EditedWorkflowSchema
from stagent.testing.workflows import step
from stagent.web.app import create_app
from stagent.workspace import Workspace


def review_and_fix(*steps: dict[str, Any], name: str = "review-and-fix") -> dict[str, Any]:
    chosen = list(steps) or [step("review", "found a bug"), step("fix", "fixed it")]
    return {"name": name, "pattern": "sequence", "steps": chosen}


def text(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


@pytest.fixture(params=["sqlite", "postgres"])
def ws(request: pytest.FixtureRequest) -> Workspace:
    """The SQLite or the PostgreSQL workspace (no worker)."""
    return request.getfixturevalue("workspace" if request.param == "sqlite" else "pg_workspace")


@pytest.fixture
async def api(ws: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(ws)) as client:
        yield await with_csrf(client)


async def test_put_replaces_the_definition_and_says_what_changed(
    api: httpx.AsyncClient, ws: Workspace
) -> None:
    ws.projects.create("site")
    created = await api.post(
        "/api/v1/workflows", json={"text": text(review_and_fix()), "project": "site"}
    )
    assert created.status_code == 201, created.text
    wf = created.json()
    edit = review_and_fix(
        step("review", "found two bugs", runtime="scripted"),
        step("test", "tests pass"),
        step("fix", "fixed both"),
    )
    put = await api.put(f"/api/v1/workflows/{wf['id']}", json={"text": text(edit)})
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["changes"] == {
        "added": ["test"],
        "removed": [],
        "changed": [
            {"id": "review", "fields": ["runtime", "options"]},
            {"id": "fix", "fields": ["options"]},
        ],
        "reordered": False,
        "settings": [],
        "project": False,
    }
    assert [s["id"] for s in body["definition"]["steps"]] == ["review", "test", "fix"]
    assert body["project_id"] == wf["project_id"] is not None  # kept: the body named none
    shown = (await api.get(f"/api/v1/workflows/{wf['id']}")).json()
    assert {k: v for k, v in body.items() if k != "changes"} == shown
    # the one shape: what the CLI's ``workflow edit --json`` prints too
    again = ws.workflows.update_text(wf["id"], text(edit))
    assert again.changes.empty
    expected = EditedWorkflowSchema.edited(again, ws.workflows.step_costs(again.workflow)).data()
    assert {k: v for k, v in expected.items() if k != "changes"} == shown

    renamed = review_and_fix(*edit["steps"], name="review-test-fix")
    obj = await api.put(
        f"/api/v1/workflows/{wf['id']}", json={"definition": renamed, "project": None}
    )
    assert obj.status_code == 200, obj.text
    assert obj.json()["changes"]["settings"] == ["name"]
    assert obj.json()["changes"]["project"] is True
    assert (obj.json()["name"], obj.json()["project_id"]) == ("review-test-fix", None)
    listed = (await api.get("/api/v1/workflows")).json()
    assert [w["name"] for w in listed["data"]] == ["review-test-fix"]  # edited, not added


async def test_put_with_problems_is_a_422_listing_each_and_stores_nothing(
    api: httpx.AsyncClient,
) -> None:
    wf = (await api.post("/api/v1/workflows", json={"text": text(review_and_fix())})).json()
    bad = (
        "name: review-and-fix\npattern: sequence\nsteps:\n"
        "  - {id: review, name: Review, prompt: go, runtime: claud}\n"
        "  - {id: fix, name: Fix, prompt: go, depends_on: [reviw]}\n"
    )
    put = await api.put(f"/api/v1/workflows/{wf['id']}", json={"text": bad})
    assert put.status_code == 422, put.text
    body = put.json()
    assert (body["ok"], body["code"]) == (False, "invalid_input")
    assert body["error"].startswith("2 problems: <request>:")
    placed = sorted((e["line"], e["step"], e["field"]) for e in body["errors"])
    assert placed == [(4, "review", "steps[0].runtime"), (5, "fix", "steps[1].depends_on")]
    assert all(e["hint"] for e in body["errors"])
    # the same problems a new workflow with this text gets
    post = await api.post("/api/v1/workflows", json={"text": bad})
    assert post.json()["errors"] == body["errors"]
    stored = (await api.get(f"/api/v1/workflows/{wf['id']}")).json()
    assert stored["definition"] == wf["definition"] and stored["updated_at"] == wf["updated_at"]

    neither = await api.put(f"/api/v1/workflows/{wf['id']}", json={})
    assert neither.status_code == 422
    assert "send either definition" in neither.json()["error"]
    missing = await api.put("/api/v1/workflows/wf_nope", json={"text": bad})
    assert missing.status_code == 404  # said before the body's problems
    assert "wf_nope" in missing.json()["error"]


async def test_put_while_a_run_is_in_flight_is_a_409_saying_to_wait_or_cancel(
    queue_client: httpx.AsyncClient,
) -> None:
    """A run queued on a worker that never takes it stays running: the edit waits for its end."""
    wf = (
        await queue_client.post("/api/v1/workflows", json={"text": text(review_and_fix())})
    ).json()
    assert (await queue_client.post(f"/api/v1/workflows/{wf['id']}/run")).status_code == 200
    edit = {"text": text(review_and_fix(step("review", "other")))}
    put = await queue_client.put(f"/api/v1/workflows/{wf['id']}", json=edit)
    assert put.status_code == 409, put.text
    body = put.json()
    assert body["code"] == "conflict"
    assert body["error"] == (
        f"workflow {wf['id']} is running (run 1); its definition cannot change while a run reads it"
    )
    assert body["hint"].startswith("wait for the run to end, or cancel it")
    assert f"POST /api/v1/workflows/{wf['id']}/cancel" in body["hint"]
    await queue_client.post(f"/api/v1/workflows/{wf['id']}/pause")
    paused = await queue_client.put(f"/api/v1/workflows/{wf['id']}", json=edit)
    assert paused.status_code == 409
    assert "is paused in the middle of run 1" in paused.json()["error"]
    await queue_client.post(f"/api/v1/workflows/{wf['id']}/cancel")
    done = await queue_client.put(f"/api/v1/workflows/{wf['id']}", json=edit)
    assert done.status_code == 200, done.text
    assert done.json()["changes"]["removed"] == ["fix"]
    assert done.json()["status"] == "cancelled"  # the ended run's state stays


async def test_the_editor_saves_through_the_same_path_and_shows_the_conflict(
    queue_client: httpx.AsyncClient, queue_only: Workspace
) -> None:
    wf = (
        await queue_client.post("/api/v1/workflows", json={"text": text(review_and_fix())})
    ).json()
    edited = text(review_and_fix(step("review", "found a bug"), step("fix", "fixed it, twice")))
    saved = await queue_client.post(
        f"/ui/workflows/{wf['id']}/edit", data={"mode": "yaml", "yaml": edited}
    )
    assert saved.status_code == 204, saved.text
    assert saved.headers["hx-redirect"] == f"/workflows/{wf['id']}"
    fix = queue_only.workflows.get(wf["id"]).definition.steps[1]
    assert fix.options is not None and "fixed it, twice" in str(fix.options)

    await queue_client.post(f"/api/v1/workflows/{wf['id']}/run")
    refused = await queue_client.post(
        f"/ui/workflows/{wf['id']}/edit", data={"mode": "yaml", "yaml": text(review_and_fix())}
    )
    assert refused.status_code == 200  # the editor again, with the reason
    page = BeautifulSoup(refused.text, "html.parser")
    assert f"workflow {wf['id']} is running (run 1)" in page.get_text()
    assert "wait for the run to end, or cancel it" in page.get_text()
    still = queue_only.workflows.get(wf["id"]).definition.steps[1]
    assert still.options == fix.options
