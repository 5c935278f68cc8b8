"""The app factory and its reusable lifespan (what `stagent serve` and uvicorn's factory use)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
