"""The app factory and its reusable lifespan (what `stagent serve` and uvicorn's factory use)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from stagent.web.app import app_from_env, create_app
from stagent.workspace import Workspace


def test_create_app_leaves_the_workspace_alone(workspace: Workspace) -> None:
    app = create_app(workspace)
    assert app.state.workspace is workspace and not workspace.is_worker


async def test_lifespan_runs_the_worker(workspace: Workspace) -> None:
    app = create_app(workspace, manage_worker=True)
    async with app.router.lifespan_context(app):
        assert workspace.is_worker
    assert not workspace.is_worker


async def test_lifespan_can_own_the_workspace(tmp_path: Path) -> None:
    ws = Workspace.temporary(tmp_path / "owned")
    app = create_app(ws, manage_worker=True, owns_workspace=True)
    async with app.router.lifespan_context(app):
        assert ws.is_worker and ws.schema_revision() is not None
    assert not ws.is_worker


def test_app_from_env_reads_stagent_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STAGENT_HOME", str(tmp_path / "env-home"))
    monkeypatch.setenv("STAGENT_TOKEN", "t0k")
    app = app_from_env()
    ws = app.state.workspace
    assert isinstance(ws, Workspace)
    assert ws.settings.home == tmp_path / "env-home" and ws.settings.token == "t0k"
    ws.close()


def test_every_route_is_declared_complete(workspace: Workspace) -> None:
    """Routes go on the app as declared (`stagent.web.routers`): the API's under ``/api/v1``
    with its error shapes in the schema, the UI's hidden from it, each path once per method."""
    app = create_app(workspace)
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    api = [route for route in routes if route.path.startswith("/api/v1/")]
    ui = [route for route in routes if not route.path.startswith("/api/")]
    assert len(api) > 50 and len(ui) > 50 and len(api) + len(ui) == len(routes)
    assert all(route.include_in_schema and 422 in route.responses for route in api)
    assert not any(route.include_in_schema for route in ui)
    keys = [(route.path, method) for route in routes for method in route.methods]
    assert len(keys) == len(set(keys))
    documented = app.openapi()["paths"]
    assert "/api/v1/projects" in documented and "/" not in documented
    assert "404" in documented["/api/v1/tasks/{task_id}"]["get"]["responses"]


def test_the_app_answers_its_api_and_its_pages(workspace: Workspace) -> None:
    client = TestClient(
        create_app(workspace), client=("127.0.0.1", 5555), base_url="http://127.0.0.1:8765"
    )
    assert client.get("/api/v1/projects").json() == {"data": [], "count": 0}
    assert client.get("/api/v1/tasks/tsk_missing").status_code == 404
    assert "Board" in client.get("/").text
