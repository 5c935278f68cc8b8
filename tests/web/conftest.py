"""Fixtures for the web tests: the app over the shared workspace, and in-process clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

import dbtemplate
from stagent.web.app import create_app
from stagent.workspace import Workspace


@pytest.fixture
def app(workspace: Workspace) -> FastAPI:
    """The web app over the test workspace (no worker)."""
    return create_app(workspace)


@pytest.fixture
def queue_only(_engine_tables: None, workspace: Workspace) -> Workspace:
    """A workspace whose queue exists but that no worker serves: queued tasks stay queued.

    (DBOS creates its queue tables when a worker first launches; until then nothing can be
    enqueued, so the worker is launched once and stopped again.)
    """
    dbtemplate.engine_tables = False
    workspace.start_worker("worker")
    workspace.stop_worker()
    return workspace


@pytest.fixture
async def queue_client(queue_only: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A client over `queue_only`: runs are queued but never picked up."""
    async with asgi_client(create_app(queue_only)) as client:
        yield await with_csrf(client)


@pytest.fixture
async def raw_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A loopback client with no CSRF token yet."""
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A loopback client that sends the CSRF token on every request, like the pages do."""
    async with asgi_client(app) as client:
        yield await with_csrf(client)


@pytest.fixture
async def worker_client(worker: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A client over a workspace whose worker runs queued tasks in this process."""
    async with asgi_client(create_app(worker)) as client:
        yield await with_csrf(client)
