"""The app factory: the JSON API, the UI, static files, security and one error shape.

``create_app(workspace)`` builds the app over an existing workspace (tests, ``stagent serve``);
``app_from_env`` is a uvicorn factory that builds the workspace from ``STAGENT_*`` settings::

    uvicorn --factory stagent.web.app:app_from_env
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

import stagent
from stagent.web.api import api_routers
from stagent.web.errors import install_error_handlers
from stagent.web.routers import add_routes
from stagent.web.security import SecurityMiddleware
from stagent.web.ui.routes import ui_routers
from stagent.workspace import Workspace

STATIC_DIR = Path(__file__).resolve().parent / "static"

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def workspace_lifespan(
    workspace: Workspace, *, manage_worker: bool = False, owns_workspace: bool = False
) -> Lifespan:
    """A lifespan that (optionally) opens the workspace, runs its worker, and closes it.

    ``manage_worker`` starts the durable worker at startup and stops it at shutdown;
    ``owns_workspace`` also opens (migrates) the workspace first and closes it last.
    """

    def start() -> None:
        if owns_workspace:
            workspace.open()
        if manage_worker:
            workspace.start_worker("serve")

    def stop() -> None:
        if manage_worker:
            workspace.stop_worker()
        if owns_workspace:
            workspace.close()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncGenerator[None]:
        # DBOS refuses its synchronous API inside a running event loop: use a worker thread.
        await run_in_threadpool(start)
        try:
            yield
        finally:
            await run_in_threadpool(stop)

    return lifespan


def create_app(
    workspace: Workspace, *, manage_worker: bool = False, owns_workspace: bool = False
) -> FastAPI:
    """Build the web app over ``workspace`` (see `workspace_lifespan` for the flags)."""
    app = FastAPI(
        title="Stagent",
        version=stagent.__version__,
        summary="A local-first ops layer for AI agents: route, supervise and measure agent work.",
        lifespan=workspace_lifespan(
            workspace, manage_worker=manage_worker, owns_workspace=owns_workspace
        ),
        docs_url=None,  # the Swagger and ReDoc pages load their assets from a CDN
        redoc_url=None,
        openapi_url="/api/v1/openapi.json",
    )
    app.state.workspace = workspace
    install_error_handlers(app)
    add_routes(app, [*api_routers(), *ui_routers()])
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(
        SecurityMiddleware, settings=workspace.settings, owner_token=workspace.owner_token
    )
    return app


def app_from_env() -> FastAPI:
    """A uvicorn factory: the workspace from ``STAGENT_*`` settings, with a worker."""
    return create_app(Workspace(), manage_worker=True, owns_workspace=True)
