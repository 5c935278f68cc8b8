"""``/api/v1/budgets``, ``/api/v1/usage`` and Settings -> Budgets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from bs4 import BeautifulSoup
from budgettools import new_task, set_budget, spend, usd

from stagent.governance.budgets_policy import CallScope
from stagent.web.app import create_app
from stagent.workspace import Workspace


@pytest.fixture
async def browser(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    """A loopback client with a CSRF token, like a page (but without the owner's token)."""
    transport = httpx.ASGITransport(app=create_app(workspace), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8765") as client:
        assert (await client.get("/api/v1/budgets")).status_code == 200
        client.headers["X-CSRF-Token"] = client.cookies["stagent_csrf"]
        yield client


@pytest.fixture
def owner(browser: httpx.AsyncClient, workspace: Workspace) -> httpx.AsyncClient:
    """The same client, now carrying the person's token."""
    browser.headers["Authorization"] = f"Bearer {workspace.owner_token()}"
    return browser


def _paused_card(ws: Workspace) -> str:
    set_budget(ws, daily=usd("1"), on_breach="pause")
    task = new_task(ws)
    spend(ws, task, 1.0)
    admission = ws.budgets.admit(CallScope(runtime="metered", task_id=task.id), pausable=True)
    assert admission.card_id is not None
    return admission.card_id


async def test_list_and_change_budgets(owner: httpx.AsyncClient, workspace: Workspace) -> None:
    body = (await owner.get("/api/v1/budgets")).json()
    assert body["count"] == 1 and body["data"][0]["health"] == "unlimited"
    assert body["timezone"] and body["breaches"] == []

    put = await owner.put("/api/v1/budgets/overall", json={"daily_usd": "2.5", "monthly_usd": 40})
    assert put.status_code == 200, put.text
    assert (put.json()["daily"]["cap_usd"], put.json()["monthly"]["cap_micros"]) == (
        "2.50",
        40_000_000,
    )
    workspace.projects.create("Site")
    put = await owner.put(
        "/api/v1/budgets/project/Site", json={"daily_usd": 1, "on_breach": "pause"}
    )
    assert put.json()["label"] == "project Site" and put.json()["on_breach"] == "pause"
    spend(workspace, new_task(workspace, project="Site"), 0.9)

    one = (await owner.get("/api/v1/budgets/project/Site")).json()
    assert (one["daily"]["spent_usd"], one["daily"]["headroom_usd"], one["health"]) == (
        "0.90",
        "0.10",
        "warning",
    )
    removed = await owner.put("/api/v1/budgets/overall", json={"remove": ["daily"]})
    assert removed.json()["daily"]["cap_usd"] is None
    assert (await owner.delete("/api/v1/budgets/project/Site")).status_code == 204
    assert [s["label"] for s in (await owner.get("/api/v1/budgets")).json()["data"]] == ["overall"]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/v1/budgets/overall", {"daily_usd": -1}, 422),
        ("/api/v1/budgets/overall", {"daily": 1}, 422),
        ("/api/v1/budgets/overall", {"warn_at": 2}, 422),
        ("/api/v1/budgets/everything", {"daily_usd": 1}, 422),
        ("/api/v1/budgets/runtime/nope", {"daily_usd": 1}, 422),
        ("/api/v1/budgets/project/ghost", {"daily_usd": 1}, 404),
    ],
)
async def test_bad_budget_input_is_refused(
    owner: httpx.AsyncClient, path: str, body: dict[str, object], status: int
) -> None:
    response = await owner.put(path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["ok"] is False


async def test_changing_caps_and_answering_breaches_need_the_person(
    browser: httpx.AsyncClient, workspace: Workspace
) -> None:
    card = _paused_card(workspace)
    for response in (
        await browser.put("/api/v1/budgets/overall", json={"daily_usd": 100}),
        await browser.delete("/api/v1/budgets/overall"),
        await browser.post(f"/api/v1/budgets/breaches/{card}/respond", json={"action": "cancel"}),
        await browser.post("/ui/budgets", data={"scope": "overall", "daily": "100"}),
    ):
        assert response.status_code == 403, response.text
    assert workspace.budgets.status("overall").limits[0].cap == 1_000_000
    assert [c.id for c in workspace.budgets.breaches()] == [card]


async def test_respond_to_a_breach_through_the_api(
    owner: httpx.AsyncClient, workspace: Workspace
) -> None:
    card = _paused_card(workspace)
    listed = (await owner.get("/api/v1/budgets/breaches")).json()
    assert [c["id"] for c in listed["data"]] == [card]
    assert listed["data"][0]["actions"] == ["raise", "allow", "cancel"]
    answered = await owner.post(
        f"/api/v1/budgets/breaches/{card}/respond", json={"action": "raise", "amount_usd": "3"}
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["response"] == {
        "action": "raise",
        "by": "person (API)",
        "new_cap_micros": 3_000_000,
        "new_cap_usd": "3.00",
        "previous_cap_micros": 1_000_000,
    }
    again = await owner.post(f"/api/v1/budgets/breaches/{card}/respond", json={"action": "cancel"})
    assert again.status_code == 409
    assert (await owner.get("/api/v1/budgets/breaches")).json()["count"] == 0
    everything = (await owner.get("/api/v1/budgets/breaches?answered=true")).json()
    assert everything["count"] == 1


async def test_usage_lists_ledger_rows_with_filters(
    owner: httpx.AsyncClient, workspace: Workspace
) -> None:
    first, second = new_task(workspace, "a"), new_task(workspace, "b")
    spend(workspace, first, 0.25)
    spend(workspace, second, 0.5)
    every = (await owner.get("/api/v1/usage")).json()
    assert every["count"] == 2 and every["data"][0]["task_id"] == second.id  # newest first
    only = (await owner.get(f"/api/v1/usage?task_id={first.id}")).json()["data"]
    assert [(r["cost_usd"], r["cost_source"], r["status"]) for r in only] == [
        ("0.25", "reported", "completed")
    ]
    assert (await owner.get("/api/v1/usage?status=blocked")).json()["count"] == 0


async def test_the_budgets_page_shows_scopes_and_breach_cards(
    owner: httpx.AsyncClient, workspace: Workspace
) -> None:
    card = _paused_card(workspace)
    page = BeautifulSoup((await owner.get("/settings/budgets")).text, "html.parser")
    daily = page.select_one("#budget-overall-all-daily")
    assert daily is not None and "blocked" in daily.get_text()
    breach = page.select_one(f"#breach-{card}")
    assert breach is not None
    actions = [b["value"] for b in breach.select("button[name=action]")]
    assert actions == ["raise", "allow", "cancel"]
    settings = (await owner.get("/settings")).text
    assert 'href="/settings/budgets"' in settings

    saved = await owner.post(
        "/ui/budgets", data={"scope": "overall", "daily": "4", "warn_at": "0.5"}
    )
    assert saved.status_code == 200 and "$4.00" in saved.text
    answered = await owner.post(
        f"/ui/budgets/breaches/{card}/respond", data={"action": "allow", "amount": "1"}
    )
    assert answered.status_code == 200 and f"breach-{card}" not in answered.text
    bad = await owner.post("/ui/budgets", data={"scope": "overall", "daily": "lots"})
    assert bad.status_code == 422 and "not an amount" in bad.text


async def test_a_paused_breach_waits_in_the_inbox_with_its_actions(
    owner: httpx.AsyncClient, workspace: Workspace
) -> None:
    card = _paused_card(workspace)
    page = BeautifulSoup((await owner.get("/inbox")).text, "html.parser")
    article = page.select_one(f"#breach-{card}")
    assert article is not None
    assert "overall daily cap $1.00 reached" in article.get_text()
    form = article.select_one("form")
    assert form is not None
    assert form["hx-post"] == f"/ui/budgets/breaches/{card}/respond"
    assert form["hx-target"] == f"#breach-{card}" and form["hx-swap"] == "delete"
    actions = {button["value"] for button in article.select("button[name=action]")}
    assert actions == {"raise", "allow", "cancel"}

    answered = await owner.post(
        f"/ui/budgets/breaches/{card}/respond", data={"action": "allow", "amount": "2"}
    )
    assert answered.status_code == 200
    assert workspace.budgets.breaches() == []
    page = BeautifulSoup((await owner.get("/inbox")).text, "html.parser")
    assert page.select_one(f"#breach-{card}") is None
