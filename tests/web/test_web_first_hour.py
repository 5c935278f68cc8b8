"""What a newcomer meets on the pages in the first hour: the permission default and its switch."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

from stagent.workspace import Workspace


@pytest.fixture
async def person(app: FastAPI, workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as the person (it opened /?token=<owner token> once)."""
    async with asgi_client(app) as client:
        response = await client.get(f"/?token={workspace.owner_token()}")
        assert response.status_code == 303
        yield await with_csrf(client)


async def test_permissions_page_says_reads_inside_the_working_directory_need_no_one(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/settings/permissions")).text
    assert "Claude Code&#39;s defaults" in page or "Claude Code's defaults" in page
    assert "Reads and searches inside the task&#39;s working directory" in page
    assert "Ask for every call instead" not in page  # not the person: no switch


async def test_the_person_switches_to_asking_for_everything_in_one_click(
    person: httpx.AsyncClient, client: httpx.AsyncClient, workspace: Workspace
) -> None:
    refused = await client.post("/ui/permissions/default", data={"mode": "ask"})
    assert refused.status_code == 403
    assert workspace.permission_defaults.mode() == "claude-code"

    page = (await person.get("/settings/permissions")).text
    assert "Ask for every call instead" in page
    switched = await person.post("/ui/permissions/default", data={"mode": "ask"})
    assert switched.status_code == 200
    assert "Saved: calls no rule decides now follow asking for every call." in switched.text
    assert "Use Claude Code's defaults" in switched.text
    assert workspace.permission_defaults.mode() == "ask"


async def test_an_unknown_mode_is_a_clear_error_not_a_crash(person: httpx.AsyncClient) -> None:
    response = await person.post("/ui/permissions/default", data={"mode": "yolo"})
    assert 400 <= response.status_code < 500
    assert "not a default mode" in response.text
