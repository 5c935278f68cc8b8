"""Settings -> Runtimes shows capabilities and honest health; the API exposes the same check."""

from __future__ import annotations

import httpx
import pytest


async def test_runtimes_page_lists_every_runtime_with_a_health_cell(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/settings/runtimes")
    assert page.status_code == 200
    for name in ("scripted", "claude", "anthropic", "codex"):
        assert f'id="health-{name}"' in page.text
        assert f'hx-get="/ui/runtimes/{name}/health"' in page.text


async def test_health_fragment_says_ready_for_the_simulated_runtime(
    client: httpx.AsyncClient,
) -> None:
    cell = await client.get("/ui/runtimes/scripted/health")
    assert cell.status_code == 200
    assert 'data-health="ok"' in cell.text
    assert "calls no model" in cell.text


async def test_health_api_reports_missing_credentials_without_leaking_anything(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    response = await client.get("/api/v1/runtimes/anthropic/health")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert "no credentials" in body["summary"]
    assert "ANTHROPIC_API_KEY" in body["fix"]


async def test_health_of_an_unknown_runtime_is_a_404_in_the_one_error_shape(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/runtimes/nope/health")
    assert response.status_code == 422
    body = response.json()
    assert body["ok"] is False
    assert "nope" in body["error"]


async def test_health_route_is_in_the_openapi_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/runtimes/{name}/health" in schema["paths"]
    assert "/ui/runtimes/{name}/health" not in schema["paths"]


async def test_the_runtimes_page_says_an_exported_base_url_is_not_http_and_the_fix(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8080/v1")
    cell = await client.get("/ui/runtimes/codex/health")
    assert cell.status_code == 200 and 'data-health="ok"' not in cell.text
    assert "OPENAI_BASE_URL: &#39;localhost:8080/v1&#39; is not an http(s) URL" in cell.text
    assert "set OPENAI_BASE_URL to the provider&#39;s API root" in cell.text
    body = (await client.get("/api/v1/runtimes/codex/health")).json()
    assert body["ok"] is False and body["fix"].startswith("set OPENAI_BASE_URL")
