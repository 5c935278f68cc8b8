"""The Inbox in a real browser: a card appears live in two tabs (the person's and a signed-out
one), the person clicks Allow once, the card vanishes from both, the badge goes back to zero and
the agent finishes. Same server and chromium setup as test_web_browser."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from test_web_browser import LOCAL_HOSTS, browser, server  # noqa: F401

from stagent.workspace import Workspace

pytestmark = pytest.mark.browser

SCENARIO = {
    "steps": [{"tool": "Write", "input": {"file_path": "out.md", "content": "<b>hi</b>"}}],
    "result": "written",
}


def test_a_card_appears_live_and_the_person_allows_it(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, Page, expect

    assert isinstance(browser, Browser)
    with Workspace.temporary(tmp_path / "home") as ws:
        token = ws.owner_token()  # the file the server reads
    person_ctx, stranger_ctx = browser.new_context(), browser.new_context()
    foreign: list[str] = []
    errors: list[str] = []

    def watch(page: Page) -> Page:
        page.on(
            "request",
            lambda r: (
                foreign.append(r.url) if urlparse(r.url).hostname not in LOCAL_HOSTS else None
            ),
        )
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    try:
        person = watch(person_ctx.new_page())
        person.goto(f"{server}/?token={token}")  # the link `stagent serve` prints
        person.goto(f"{server}/inbox")
        stranger = watch(stranger_ctx.new_page())
        stranger.goto(f"{server}/board")
        for page in (person, stranger):
            expect(page.locator("body[data-live]")).to_have_count(1)
        expect(person.locator("#sign-in")).to_have_count(0)

        api = {"Authorization": f"Bearer {token}"}
        task = httpx.post(
            f"{server}/api/v1/tasks",
            json={"title": "write", "scenario": SCENARIO},
            headers=api,
            timeout=60,
        ).json()
        httpx.post(f"{server}/api/v1/tasks/{task['id']}/run", headers=api, timeout=60)

        card = person.locator("#approvals article.approval-card")
        expect(card).to_have_count(1, timeout=60_000)
        expect(card.locator(".tool")).to_have_text("Write")
        expect(card.locator("pre.tool-input")).to_contain_text("<b>hi</b>")  # shown as text
        for page in (person, stranger):
            expect(page.locator("#inbox-badge .inbox-count")).to_have_text("1")

        card.get_by_role("button", name="Allow once").click()
        expect(card).to_have_count(0)
        decisions = person.locator("#decisions tr").first
        expect(decisions).to_contain_text("person (via UI, owner cookie)")
        for page in (person, stranger):
            expect(page.locator("#inbox-badge .inbox-count")).to_have_text("0")
        expect(stranger.locator(f"#card-{task['id']}")).to_be_visible()

        deadline = time.monotonic() + 60
        url = f"{server}/api/v1/tasks/{task['id']}"
        while (done := httpx.get(url, timeout=60).json())["status"] != "completed":
            assert time.monotonic() < deadline, done
            person.wait_for_timeout(100)
    finally:
        person_ctx.close()
        stranger_ctx.close()
    assert foreign == [], f"requests left 127.0.0.1: {foreign}"
    assert errors == [], f"console errors: {errors}"
