"""Helpers for the web tests: in-process clients that behave like a browser page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
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
    """Prime the CSRF cookie with one GET and send it back as the header, like a page does.

    The GET is a cheap list: ``/api/v1/runtimes`` builds every runtime, importing the Anthropic
    and Claude SDKs (seconds of CPU, 20 s and more on a loaded machine) into the test's process."""
    response = await client.get("/api/v1/projects")
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


LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@contextmanager
def watched_page(browser: object) -> Iterator[Any]:
    """A fresh 1280x900 page in its own context. On exit the context is closed and the test
    fails if the page asked anything of a host other than 127.0.0.1 or raised a script error."""
    from urllib.parse import urlparse

    from playwright.sync_api import Browser, Request

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []

    def on_request(request: Request) -> None:
        if urlparse(request.url).hostname not in LOCAL_HOSTS:
            foreign.append(request.url)

    page.on("request", on_request)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert foreign == [], f"requests left 127.0.0.1: {foreign}"
    assert errors == [], f"page errors: {errors}"


def shoot(page: Any, path: Path, name: str) -> None:
    """Screenshots of the current page at 1280 and 390 px wide (``<name>-<width>.png``)."""
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(path / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def screenshot_dir(tmp_path: Path) -> Path:
    """Where a browser test keeps its screenshots: ``$STAGENT_SCREENSHOTS`` or its tmp dir."""
    import os

    return Path(os.environ.get("STAGENT_SCREENSHOTS") or tmp_path)
