"""Helpers for the web tests: in-process clients that behave like a browser page."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
from fastapi import FastAPI

from stagent.web.security import CSRF_COOKIE

BASE_URL = "http://127.0.0.1:8765"


def asgi_client(
    app: FastAPI, *, client_host: str = "127.0.0.1", base_url: str = BASE_URL
) -> httpx.AsyncClient:
    """An in-process client; it does not raise app exceptions, so 500s come back as responses."""
    transport = httpx.ASGITransport(
        app=app, client=(client_host, 50000), raise_app_exceptions=False
    )
    return httpx.AsyncClient(transport=transport, base_url=base_url)


async def with_csrf(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """Prime the CSRF cookie with one GET and send it back as the header, like a page does."""
    response = await client.get("/api/v1/runtimes")
    assert response.status_code == 200, response.text
    client.headers["X-CSRF-Token"] = client.cookies[CSRF_COOKIE]
    return client


async def wait_for_status(
    client: httpx.AsyncClient, task_id: str, statuses: set[str], timeout: float = 30.0
) -> dict[str, Any]:
    """Poll the API until the task reaches one of ``statuses``; returns the task JSON."""
    deadline = time.monotonic() + timeout
    while True:
        body = (await client.get(f"/api/v1/tasks/{task_id}")).json()
        if body["status"] in statuses:
            return body
        assert time.monotonic() < deadline, f"task stuck in {body['status']}"
        await asyncio.sleep(0.1)
