"""Access control: loopback-only without a token, the token when set, CSRF, security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

from stagent.web.app import create_app
from stagent.web.security import CSRF_COOKIE, TOKEN_COOKIE, is_loopback_hostname
from stagent.workspace import Workspace

TOKEN = "s3cret-token"


@pytest.fixture
def token_app(tmp_path: Path) -> Iterator[FastAPI]:
    """An app whose workspace requires an access token (as a non-loopback bind does)."""
    ws = Workspace.temporary(tmp_path / "tok", token=TOKEN, host="0.0.0.0").open()
    try:
        yield create_app(ws)
    finally:
        ws.close()


async def test_first_get_sets_an_httponly_csrf_cookie(raw_client: httpx.AsyncClient) -> None:
    response = await raw_client.get("/board")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    token = raw_client.cookies[CSRF_COOKIE]
    assert f'"X-CSRF-Token": "{token}"' in response.text
    again = await raw_client.get("/board")
    assert "set-cookie" not in again.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/v1/tasks"),
        ("POST", "/api/v1/projects"),
        ("PATCH", "/api/v1/tasks/tsk_x"),
        ("DELETE", "/api/v1/tasks/tsk_x"),
        ("POST", "/ui/tasks"),
        ("POST", "/ui/tasks/tsk_x/run"),
        ("POST", "/ui/projects"),
    ],
)
async def test_state_changes_without_csrf_header_are_refused(
    raw_client: httpx.AsyncClient, method: str, path: str
) -> None:
    await raw_client.get("/")  # has the cookie, but sends no header
    response = await raw_client.request(method, path, json={"title": "t"})
    assert response.status_code == 403


async def test_csrf_header_must_match_the_cookie(raw_client: httpx.AsyncClient) -> None:
    await raw_client.get("/")
    response = await raw_client.post(
        "/api/v1/tasks", json={"title": "t"}, headers={"X-CSRF-Token": "guess"}
    )
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
    ok = await raw_client.post(
        "/api/v1/tasks",
        json={"title": "t"},
        headers={"X-CSRF-Token": raw_client.cookies[CSRF_COOKIE]},
    )
    assert ok.status_code == 201


async def test_a_header_without_a_cookie_is_refused(app: FastAPI) -> None:
    async with asgi_client(app) as client:
        response = await client.post(
            "/api/v1/tasks", json={"title": "t"}, headers={"X-CSRF-Token": "abc"}
        )
    assert response.status_code == 403


async def test_other_machines_are_refused_without_a_token(app: FastAPI) -> None:
    async with asgi_client(app, client_host="192.168.1.20") as client:
        response = await client.get("/api/v1/tasks")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert "STAGENT_TOKEN" in response.json()["hint"]


async def test_foreign_host_header_is_refused_without_a_token(app: FastAPI) -> None:
    """A DNS-rebinding page reaches 127.0.0.1 but names its own host."""
    async with asgi_client(app, base_url="http://evil.example:8765") as client:
        assert (await client.get("/api/v1/tasks")).status_code == 403
        assert (await client.get("/board")).status_code == 403


@pytest.mark.parametrize(
    ("host", "ok"),
    [
        ("127.0.0.1:8765", True),
        ("localhost", True),
        ("[::1]:8765", True),
        ("app.localhost:80", True),
        ("evil.example", False),
        ("127.0.0.1.evil.example", False),
    ],
)
def test_loopback_hostnames(host: str, ok: bool) -> None:
    assert is_loopback_hostname(host) is ok


async def test_token_is_required_when_set(token_app: FastAPI) -> None:
    async with asgi_client(token_app, client_host="10.0.0.5", base_url="http://stagent.lan") as c:
        refused = await c.get("/api/v1/tasks")
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        assert (await c.get("/board")).status_code == 403
        wrong = await c.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert (await c.get("/api/v1/tasks", headers=auth)).status_code == 200
        # A valid Bearer token stands in for the CSRF header.
        created = await c.post("/api/v1/tasks", json={"title": "t"}, headers=auth)
        assert created.status_code == 201


async def test_token_in_the_query_sets_a_cookie_and_redirects(token_app: FastAPI) -> None:
    async with asgi_client(token_app, base_url="http://stagent.lan") as client:
        client.follow_redirects = False
        response = await client.get(f"/board?view=table&token={TOKEN}")
        assert response.status_code == 303
        assert response.headers["location"] == "/board?view=table"
        assert client.cookies[TOKEN_COOKIE] == TOKEN
        page = await client.get("/board")
        assert page.status_code == 200
        # The cookie authenticates but does not replace CSRF for state changes.
        refused = await client.post("/api/v1/tasks", json={"title": "t"})
        assert refused.status_code == 403 and refused.json()["code"] == "csrf_failed"
        await with_csrf(client)
        assert (await client.post("/api/v1/tasks", json={"title": "t"})).status_code == 201


async def test_a_wrong_query_token_is_refused(token_app: FastAPI) -> None:
    async with asgi_client(token_app) as client:
        client.follow_redirects = False
        assert (await client.get("/?token=wrong")).status_code == 403


async def test_security_headers(client: httpx.AsyncClient) -> None:
    response = await client.get("/board")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    api = await client.get("/api/v1/tasks")
    assert "content-security-policy" in api.headers
