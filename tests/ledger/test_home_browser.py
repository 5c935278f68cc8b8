"""Home in a real browser at desktop and phone widths: the welcome walks an empty workspace to
its first task and goes away live once a task exists; the seven cards sit in one grid whose
rows are full at every width and draw their sparklines.
Set STAGENT_SCREENSHOTS=<folder> to keep screenshots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.web.test_web_browser import browser, server  # noqa: F401 (fixtures)

from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

pytestmark = pytest.mark.browser
SIZES = (
    {"width": 1280, "height": 900},
    {"width": 700, "height": 900},
    {"width": 390, "height": 844},
)
ROW_GAPS = """() => {
  const grid = document.querySelector('.home-cards').getBoundingClientRect();
  const rows = {};
  for (const card of document.querySelectorAll('.home-cards > .metric')) {
    const box = card.getBoundingClientRect();
    const top = Math.round(box.top);
    rows[top] = Math.max(rows[top] || 0, box.right);
  }
  return Object.values(rows).map(right => Math.round(grid.right - right));
}"""
"""For each row of Home's cards, the room left at its right end (0: the row is full)."""


def test_home_welcomes_an_empty_workspace_then_shows_the_cards(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    shots = os.environ.get("STAGENT_SCREENSHOTS")
    pages = []  # the served workspace has no task yet
    for size in SIZES:
        page = browser.new_context(viewport=size).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(server)
        welcome = page.locator("#welcome")
        expect(welcome).to_be_visible()
        expect(welcome.locator('a[href="/board"]')).to_be_visible()
        expect(page.locator(".home-cards > .metric")).to_have_count(7)
        gaps = page.evaluate(ROW_GAPS)
        assert len(gaps) <= 4 and all(gap <= 1 for gap in gaps), (size, gaps)
        for card in page.locator(".home-cards svg.spark").all():
            box = card.bounding_box()
            assert box is not None and box["width"] > 60 and box["height"] > 10
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"Home scrolls sideways at {size['width']} px"
        if shots:
            page.screenshot(path=f"{shots}/home-empty-{size['width']}.png", full_page=True)
        assert errors == []
        # the first connect of the live stream does not re-fetch: a task made before it opens
        # would never reach the page
        page.wait_for_selector("body[data-live]", timeout=60_000)
        pages.append(page)

    with Workspace.temporary(tmp_path / "home") as ws:
        ws.open().tasks.create(TaskDraft(title="My first task"))
    for size, page in zip(SIZES, pages, strict=True):
        expect(page.locator("#welcome")).to_have_count(0, timeout=60_000)
        expect(page.locator(".recent")).to_contain_text("My first task")
        if shots:
            page.screenshot(path=f"{shots}/home-{size['width']}.png", full_page=True)


def test_a_status_tile_opens_its_column_and_running_opens_the_monitor(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """On a phone the Board shows one column: Home's "Failed" tile opens the Board on Failed
    (not on whatever column a phone shows first), and the Running card opens the Monitor."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    with Workspace.temporary(tmp_path / "home") as ws:
        task = ws.open().tasks.create(TaskDraft(title="Planned, and the phone's first column"))
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(server)
    page.locator(".stats a.status-failed").click()
    expect(page).to_have_url(f"{server}/board?column=failed")
    expect(page.locator('.column-tab[data-column="failed"]')).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#col-failed")).to_be_visible()
    expect(page.locator(f"#card-{task.id}")).to_be_hidden()  # Planned is not shown
    page.goto(server)
    page.locator('.home-cards a[data-card="running"]').click()
    expect(page).to_have_url(f"{server}/monitor")
    expect(page.locator("h1")).to_have_text("Monitor")
