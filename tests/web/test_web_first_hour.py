"""What a newcomer meets on the pages in the first hour: the permission default and its switch."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import AsyncIterator

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

from stagent.domain.tasks import TaskStatus
from stagent.engine.services import TaskDraft
from stagent.governance.approvals import ApprovalDraft
from stagent.store import lifecycle
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


async def test_the_board_refuses_to_queue_on_a_runtime_that_is_not_ready(
    client: httpx.AsyncClient, workspace: Workspace, no_login: None
) -> None:
    task = workspace.tasks.create(TaskDraft(title="needs claude", runtime="claude"))
    moved = await client.post(f"/api/v1/tasks/{task.id}/move", json={"status": "queued"})
    assert moved.status_code in (409, 422, 503)
    body = moved.json()
    assert "the claude runtime is not ready" in json.dumps(body)
    assert "Settings -> Runtimes" in json.dumps(body)
    assert workspace.tasks.get(task.id).status is TaskStatus.PLANNED


async def test_the_person_saves_a_key_that_is_never_shown_again(
    person: httpx.AsyncClient, client: httpx.AsyncClient, workspace: Workspace, no_login: None
) -> None:
    secret = "sk-ant-page-test-0123456789"
    refused = await client.post(
        "/ui/credentials", data={"variable": "ANTHROPIC_API_KEY", "value": secret}
    )
    assert refused.status_code == 403
    page = (await person.get("/settings/runtimes")).text
    assert "API keys" in page and "not saved" in page
    saved = await person.post(
        "/ui/credentials", data={"variable": "ANTHROPIC_API_KEY", "value": secret}
    )
    assert saved.status_code == 200
    assert "Saved ANTHROPIC_API_KEY. It will not be shown again." in saved.text
    page = (await person.get("/settings/runtimes")).text
    assert secret not in saved.text and secret not in page
    assert stat.S_IMODE(workspace.credentials.path.stat().st_mode) == 0o600
    assert secret not in json.dumps((await client.get("/api/v1/runtimes")).json())
    removed = await person.post("/ui/credentials/ANTHROPIC_API_KEY/remove")
    assert "Removed ANTHROPIC_API_KEY." in removed.text


CLI_TEXT = re.compile(
    r"`|\bstagent (serve|approve|deny|answer|budget|inbox|rules|task|doctor)\b|\s--[a-z]"
)


async def _waiting_card(workspace: Workspace) -> tuple[str, str]:
    """A running task whose Write waits for a person: (task id, card id)."""
    task = workspace.tasks.create(TaskDraft(title="writes notes"))
    with workspace.store.write() as session:
        lifecycle.queue_run(session, task.id, task.options)
        lifecycle.claim(session, task.id, 1)
    workspace.approvals.open(
        ApprovalDraft(
            task_id=task.id,
            runtime="scripted",
            tool="Write",
            input={"file_path": "notes.md", "content": "hi"},
            kind="permission",
            risk="medium",
            suggested_rule="Write(./notes.md)",
        )
    )
    (card,) = workspace.approvals.list_pending(task_id=task.id)
    return task.id, card.id


@pytest.mark.parametrize("as_person", [False, True])
async def test_no_page_shows_command_line_syntax(
    client: httpx.AsyncClient, person: httpx.AsyncClient, workspace: Workspace, as_person: bool
) -> None:
    browser = person if as_person else client
    task_id, _ = await _waiting_card(workspace)
    for path in (
        "/",
        "/board",
        "/inbox",
        f"/tasks/{task_id}",
        "/settings",
        "/settings/permissions",
        "/settings/runtimes",
        "/settings/budgets",
        "/projects",
        "/workflows",
        "/workflows/new",
        "/schedules",
        "/blueprints",
        "/profiles",
        "/profiles/new",
        "/costs",
        "/monitor",
        "/environment",
        "/tasks/tsk_missing",
        "/projects/missing",
        "/no-such-page",
    ):
        html = (await browser.get(path)).text
        text = BeautifulSoup(html, "html.parser").get_text(" ")
        found = CLI_TEXT.search(text)
        assert found is None, (
            f"{path} shows {found.group(0)!r}: ...{text[found.start() - 80 : found.end() + 40]}..."
        )


async def test_settings_and_home_say_what_is_true(
    client: httpx.AsyncClient, person: httpx.AsyncClient
) -> None:
    stranger = (await client.get("/settings")).text
    assert "arrive with their capabilities" not in stranger
    assert "Access token" not in stranger
    assert "not signed in: open the link the server printed" in stranger
    assert "this browser is signed in as the person" in (await person.get("/settings")).text
    home = (await client.get("/")).text
    assert "will join this page" not in home


async def test_a_waiting_tasks_page_lets_the_person_decide_its_card(
    person: httpx.AsyncClient, client: httpx.AsyncClient, workspace: Workspace
) -> None:
    task_id, card_id = await _waiting_card(workspace)
    page = BeautifulSoup((await person.get(f"/tasks/{task_id}")).text, "html.parser")
    card = page.select_one(f"#task-cards #approval-{card_id}")
    assert card is not None and card.select_one("form.allow-form") is not None
    stranger = BeautifulSoup((await client.get(f"/tasks/{task_id}")).text, "html.parser")
    assert stranger.select_one(f"#approval-{card_id} form.allow-form") is None
    allowed = await person.post(f"/ui/approvals/{card_id}/allow", data={"always": "0"})
    assert allowed.status_code == 200
    refreshed = (await person.get(f"/ui/tasks/{task_id}/cards")).text
    assert card_id not in refreshed


async def test_budgets_has_a_breadcrumb_and_says_when_caps_are_saved(
    person: httpx.AsyncClient,
) -> None:
    page = BeautifulSoup((await person.get("/settings/budgets")).text, "html.parser")
    crumbs = [a.get_text() for a in page.select('nav[aria-label="breadcrumb"] a')]
    assert crumbs == ["Settings"]
    saved = await person.post("/ui/budgets", data={"scope": "overall", "daily": "5"})
    assert saved.status_code == 200
    assert "Saved the caps for overall." in saved.text
