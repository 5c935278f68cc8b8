"""The Inbox page, its actions, the pending badge, the inbox SSE events, and the approvals and
rules API. Agent input is untrusted: it renders escaped everywhere."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from bs4 import BeautifulSoup
from fastapi import FastAPI
from webtools import asgi_client, with_csrf

from stagent.domain.approvals import Approval
from stagent.engine.services import TaskDraft
from stagent.governance.approvals import ApprovalDraft
from stagent.store import inbox as inbox_repo
from stagent.store import lifecycle
from stagent.web.ui.stream import Topics, live_events
from stagent.workspace import Workspace

EVIL = "<script>alert('pwned')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;"


def open_card(ws: Workspace, tool: str = "Bash", title: str = "t", **tool_input: Any) -> Approval:
    """A pending card of a running task (no worker needed)."""
    task = ws.tasks.create(TaskDraft(title=title))
    with ws.store.write() as session:
        lifecycle.queue_run(session, task.id, task.options)
        claim = lifecycle.claim(session, task.id, 1)
        assert claim is not None
    data = tool_input or {"command": "npm test"}
    question = tool == "AskUserQuestion"
    card, _ = ws.approvals.open(
        ApprovalDraft(
            task_id=task.id,
            run_id=claim.run.id,
            runtime="scripted",
            tool=tool,
            input=data,
            kind="question" if question else "permission",
            suggested_rule=None if question else "Bash(npm test *)",
            why_asked="no rule decides this call",
        )
    )
    return card


def soup(response: httpx.Response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


@pytest.fixture
async def person(app: FastAPI, workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as the person: it opened /?token=<owner token> once."""
    async with asgi_client(app) as client:
        response = await client.get(f"/?token={workspace.owner_token()}")
        assert response.status_code == 303 and response.headers["location"] == "/"
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("stagent_owner=")
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        yield await with_csrf(client)


async def test_cards_render_escaped_and_read_only_without_the_person(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    card = open_card(workspace, title=f"title {EVIL}", command=f"echo {EVIL}")
    page = await client.get("/inbox")
    assert page.status_code == 200
    assert EVIL not in page.text and ESCAPED in page.text
    html = soup(page)
    article = html.select_one(f"#approval-{card.id}")
    assert article is not None and article["sse-swap"] == f"approval-{card.id}"
    assert article.select("form") == []  # no buttons for an agent or a stranger
    assert "Read-only" in article.text
    assert "/?token=" in html.select_one("#sign-in").text  # type: ignore[union-attr]


async def test_the_person_sees_buttons_and_decides_in_the_page(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    card = open_card(workspace, command="npm test -- --watch")
    html = soup(await person.get("/inbox"))
    assert html.select_one("#sign-in") is None
    form = html.select_one(f"#approval-{card.id} form.allow-form")
    assert form is not None
    rule_input = form.select_one("input[name=rule]")
    assert rule_input is not None and rule_input["value"] == "Bash(npm test *)"
    assert [o.text for o in form.select("select[name=scope] option")] == [
        "task",
        "project",
        "global",
    ]

    bad = await person.post(
        f"/ui/approvals/{card.id}/allow",
        data={"always": "1", "rule": "Bash(npm test", "scope": "global"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and "error-box" in bad.text
    assert workspace.approvals.get(card.id).pending

    ok = await person.post(
        f"/ui/approvals/{card.id}/allow",
        data={"always": "1", "rule": "Bash(npm *)", "scope": "global"},
    )
    assert ok.status_code == 200 and ok.text == ""
    closed = workspace.approvals.get(card.id)
    assert closed.status == "allowed" and closed.decided_by == "person (via UI, owner cookie)"
    assert [r.text for r in workspace.rules.list()] == ["Bash(npm *)"]
    again = await person.post(f"/ui/approvals/{card.id}/deny", data={"message": "x"})
    assert again.status_code == 409


async def test_questions_and_denials_from_the_page(
    person: httpx.AsyncClient, workspace: Workspace
) -> None:
    options = [{"label": "red"}, {"label": "blue"}]
    question = open_card(
        workspace, "AskUserQuestion", questions=[{"question": "Which color?", "options": options}]
    )
    html = soup(await person.get("/inbox"))
    radios = html.select(f"#approval-{question.id} input[name=answer-0]")
    assert [r["value"] for r in radios] == ["red", "blue"]
    answered = await person.post(
        f"/ui/approvals/{question.id}/answer",
        data={"question": "Which color?", "answer-0": "blue", "other-0": ""},
    )
    assert answered.status_code == 200
    assert workspace.approvals.get(question.id).answers == {"Which color?": "blue"}

    card = open_card(workspace)
    denied = await person.post(f"/ui/approvals/{card.id}/deny", data={"message": "use make"})
    assert denied.status_code == 200
    assert workspace.approvals.get(card.id).message == "use make"
    recent = soup(await person.get("/inbox")).select("#decisions tr")
    assert [row["id"] for row in recent] == [f"decision-{card.id}", f"decision-{question.id}"]


async def test_every_page_has_the_live_pending_badge(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    open_card(workspace)
    open_card(workspace)
    for path in (
        "/",
        "/board",
        "/projects",
        "/settings",
        "/settings/permissions",
        "/inbox",
        "/chat",
    ):
        html = soup(await client.get(path))
        badge = html.select_one("#inbox-badge")
        assert badge is not None, path
        assert badge["sse-swap"] == "inbox-badge"
        assert badge.select_one(".inbox-count")["data-count"] == "2", path  # type: ignore[index]
        stream = html.select_one("[sse-connect]")
        assert stream is not None and "inbox" in str(stream["sse-connect"]).split("topics=")[1]


async def test_the_inbox_topic_adds_and_removes_cards_live(workspace: Workspace) -> None:
    stream = live_events(
        workspace, after=workspace.tasks.last_seq(), topics=Topics(inbox=True), owner=True
    )
    try:
        card = open_card(workspace, command=f"echo {EVIL}")
        added = await _until(stream, "inbox-badge")
        names = [e.event for e in added]
        assert "approval-added" in names
        html = str(next(e for e in added if e.event == "approval-added").data)
        assert f'id="approval-{card.id}"' in html and "allow-form" in html
        assert EVIL not in html and ESCAPED in html
        assert 'data-count="1"' in str(added[-1].data)

        await asyncio.to_thread(workspace.approvals.deny, card.id, by="person (via CLI)")
        closed = await _until(stream, "inbox-badge")
        assert [e.event for e in closed] == [
            f"approval-{card.id}",
            "approval-decided",
            "inbox-badge",
        ]
        assert "<template" in str(closed[0].data)
        assert "person (via CLI)" in str(closed[1].data)
        assert 'data-count="0"' in str(closed[-1].data)
    finally:
        await stream.aclose()


async def _until(stream: AsyncIterator[Any], name: str) -> list[Any]:
    seen: list[Any] = []
    async with asyncio.timeout(60):
        async for event in stream:
            seen.append(event)
            if event.event == name:
                return seen
    raise AssertionError("stream ended")


async def test_read_only_stream_cards_have_no_buttons(workspace: Workspace) -> None:
    stream = live_events(workspace, after=workspace.tasks.last_seq(), topics=Topics(inbox=True))
    try:
        open_card(workspace)
        added = await _until(stream, "inbox-badge")
        html = str(next(e for e in added if e.event == "approval-added").data)
        assert "allow-form" not in html and "Read-only" in html
    finally:
        await stream.aclose()


async def test_approvals_api_shapes_and_errors(app: FastAPI, workspace: Workspace) -> None:
    card = open_card(workspace)
    async with asgi_client(app) as api:
        api.headers["Authorization"] = f"Bearer {workspace.owner_token()}"  # no CSRF needed
        listed = (await api.get("/api/v1/approvals")).json()
        assert listed["count"] == 1
        item = listed["data"][0]
        for key in ("id", "tool", "input", "task_id", "kind", "risk", "suggested_rule"):
            assert key in item
        assert item["input"] == {"command": "npm test"}
        assert (await api.get(f"/api/v1/approvals/{card.id}")).json()["status"] == "pending"
        missing = await api.get("/api/v1/approvals/apr_none")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        bad = await api.post(
            f"/api/v1/approvals/{card.id}/allow", json={"always": True, "rule": "Bash(("}
        )
        assert bad.status_code == 422 and bad.json()["ok"] is False
        extra = await api.post(f"/api/v1/approvals/{card.id}/deny", json={"nope": 1})
        assert extra.status_code == 422
        denied = await api.post(f"/api/v1/approvals/{card.id}/deny", json={"message": "no"})
        assert denied.json()["decision"]["message"] == "no"
        again = await api.post(f"/api/v1/approvals/{card.id}/allow", json={})
        assert again.status_code == 409 and again.json()["code"] == "conflict"
        recent = (await api.get("/api/v1/approvals?status=recent")).json()["data"]
        assert [r["id"] for r in recent] == [card.id]


async def test_rules_api(app: FastAPI, workspace: Workspace, tmp_path: Path) -> None:
    async with asgi_client(app) as api:
        api.headers["Authorization"] = f"Bearer {workspace.owner_token()}"
        created = await api.post("/api/v1/rules", json={"rule": "Bash(npm run test:*)"})
        assert created.status_code == 201
        rule = created.json()
        assert rule["rule"] == "Bash(npm run test:*)" and rule["source"] == "user"
        refused = await api.post("/api/v1/rules", json={"rule": "*", "effect": "allow"})
        assert refused.status_code == 422 and "deny and ask" in refused.json()["error"]
        applied = await api.post("/api/v1/rules/presets/read-only", json={})
        assert len(applied.json()["added"]) > 0
        presets = (await api.get("/api/v1/rules/presets")).json()["data"]
        assert [p["name"] for p in presets if p["active"]] == ["read-only"]
        removed = await api.delete("/api/v1/rules/presets/read-only")
        assert removed.json()["removed"] == len(applied.json()["added"])

        target = tmp_path / "settings.json"
        exported = await api.post("/api/v1/rules/export", json={"path": str(target)})
        assert exported.status_code == 200
        assert json.loads(target.read_text())["permissions"]["allow"] == ["Bash(npm run test:*)"]
        assert (await api.delete(f"/api/v1/rules/{rule['id']}")).status_code == 204
        imported = await api.post("/api/v1/rules/import", json={"path": str(target)})
        assert [r["rule"] for r in imported.json()["added"]] == ["Bash(npm run test:*)"]
        listed = (await api.get("/api/v1/rules")).json()
        assert listed["count"] == 1 and listed["data"][0]["source"].startswith("import:")


async def test_the_permissions_page_changes_rules_only_for_the_person(
    person: httpx.AsyncClient, client: httpx.AsyncClient, workspace: Workspace
) -> None:
    stranger = await client.post("/ui/rules", data={"rule": "Read"})
    assert stranger.status_code == 403
    assert "Read-only" in (await client.get("/settings/permissions")).text

    added = await person.post("/ui/rules", data={"rule": f"Bash(echo {EVIL} *)"})
    assert added.status_code == 200 and EVIL not in added.text and ESCAPED in added.text
    applied = await person.post("/ui/presets/git-safe/apply")
    assert "Collaborator" in applied.text
    [rule] = [r for r in workspace.rules.list() if r.source == "user"]
    deleted = await person.post(f"/ui/rules/{rule.id}/delete")
    assert deleted.status_code == 200
    assert all(r.source == "preset:git-safe" for r in workspace.rules.list())


async def test_notices_are_listed_and_marked_read(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    with workspace.store.write() as session:
        notice = inbox_repo.create(session, kind="budget", title=f"Cap {EVIL}", body="80% used")
    page = await client.get("/inbox")
    assert ESCAPED in page.text and EVIL not in page.text
    marked = await client.post(f"/ui/notices/{notice.id}/read")
    assert marked.status_code == 200 and 'class="read"' in marked.text
    assert workspace.approvals.notices.unread_count() == 0


async def test_with_an_access_token_the_link_signs_in_as_the_person(tmp_path: Path) -> None:
    from stagent.web.app import create_app

    ws = Workspace.temporary(tmp_path / "tok", token="t0k3n-very-secret-value").open()
    try:
        async with asgi_client(create_app(ws)) as browser:
            signed = await browser.get("/inbox?token=t0k3n-very-secret-value")
            assert signed.status_code == 303 and signed.headers["location"] == "/inbox"
            assert {"stagent_token", "stagent_owner"} <= set(browser.cookies.keys())
            assert "allow-form" not in (await browser.get("/inbox")).text  # nothing pending
            assert "sign-in" not in (await browser.get("/inbox")).text
    finally:
        ws.close()
