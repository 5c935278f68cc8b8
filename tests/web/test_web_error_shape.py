"""One error shape for every error: domain errors, FastAPI's 422s and 404s, and crashes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

SHAPE = {"ok", "status", "code", "error", "hint"}


def assert_shape(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is JSON in the one error shape, with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) >= SHAPE, body
    assert body["ok"] is False
    assert body["status"] == status
    assert body["code"] == code
    assert isinstance(body["error"], str) and body["error"]
    return body


async def test_unknown_task_is_a_404_in_the_shape(client: httpx.AsyncClient) -> None:
    body = assert_shape(await client.get("/api/v1/tasks/tsk_missing"), 404, "not_found")
    assert "tsk_missing" in str(body["error"])
    assert set(body) == SHAPE


async def test_unknown_route_is_a_404_in_the_shape(client: httpx.AsyncClient) -> None:
    body = assert_shape(await client.get("/api/v1/nothing-here"), 404, "not_found")
    assert "/api/v1/nothing-here" in str(body["error"])


async def test_wrong_method_is_a_405_in_the_shape(client: httpx.AsyncClient) -> None:
    assert_shape(await client.put("/api/v1/tasks"), 405, "method_not_allowed")


async def test_invalid_transition_is_a_409_in_the_shape(client: httpx.AsyncClient) -> None:
    task = (await client.post("/api/v1/tasks", json={"title": "t"})).json()
    response = await client.post(f"/api/v1/tasks/{task['id']}/move", json={"status": "completed"})
    body = assert_shape(response, 409, "invalid_transition")
    assert body["hint"]


async def test_body_validation_names_each_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/tasks", json={"priority": 9, "nope": 1})
    body = assert_shape(response, 422, "invalid_input")
    fields = {e["field"] for e in body["errors"]}
    assert {"title", "priority", "nope"} <= fields
    assert "title" in str(body["error"])


async def test_query_validation_names_the_field(client: httpx.AsyncClient) -> None:
    body = assert_shape(await client.get("/api/v1/tasks?status=sleeping"), 422, "invalid_input")
    assert [e["field"] for e in body["errors"]] == ["status"]


async def test_malformed_json_is_a_422_in_the_shape(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/tasks", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert_shape(response, 422, "invalid_input")


async def test_domain_validation_error_keeps_its_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/tasks", json={"title": "t", "runtime": "gpt-99"})
    body = assert_shape(response, 422, "runtime_unavailable")
    assert "scripted" in str(body["hint"])


async def test_unexpected_error_is_a_500_in_the_shape(app: FastAPI) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_api_route("/api/v1/boom", boom)
    async with asgi_client(app) as client:
        body = assert_shape(await client.get("/api/v1/boom"), 500, "internal_error")
    assert "secret internals" not in str(body)


async def test_pages_get_a_rendered_error_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/tasks/tsk_missing")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "<nav" in response.text and "no task with id" in response.text


async def test_htmx_requests_get_an_error_fragment(client: httpx.AsyncClient) -> None:
    response = await client.post("/ui/tasks", data={"title": " "}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "<html" not in response.text
    assert 'data-code="invalid_input"' in response.text


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/ui/tasks"])
async def test_csrf_refusal_uses_the_shape_too(app: FastAPI, path: str) -> None:
    async with asgi_client(app) as client:
        await with_csrf(client)
        del client.headers["X-CSRF-Token"]
        response = await client.post(path, json={"title": "t"})
    assert response.status_code == 403
    if path.startswith("/api/"):
        assert_shape(response, 403, "csrf_failed")
    else:
        assert "CSRF" in response.text
