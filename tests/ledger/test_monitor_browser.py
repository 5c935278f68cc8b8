"""The Monitor in a real browser: new log lines of any task arrive live, the stream pauses while
the tab is hidden and catches up (nothing lost) when it is shown again, filters hide lines, and a
line's task link opens the task."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.ledger.test_ledger_attribution import seed
from tests.web.test_web_browser import browser, server  # noqa: F401 (fixtures)

from stagent.engine.services import TaskDraft
from stagent.workspace import Workspace

pytestmark = pytest.mark.browser

HIDE = """() => {
  Object.defineProperty(document, "hidden", {value: %s, configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def _create(tmp_path: Path, title: str) -> str:
    with Workspace.temporary(tmp_path / "home") as ws:
        return ws.open().tasks.create(TaskDraft(title=title)).id


def test_the_live_log_pauses_while_hidden_and_catches_up(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_context().new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/monitor")
    expect(page.locator("#stream-state")).to_have_text("live")

    first = _create(tmp_path, "First live task")
    expect(page.locator(f'#monitor-log li[data-task="{first}"]')).to_have_count(1)

    page.evaluate(HIDE % "true")
    expect(page.locator("#stream-state")).to_have_text("paused while this tab is hidden")
    hidden = _create(tmp_path, "Made while hidden")
    page.wait_for_timeout(1500)
    expect(page.locator(f'#monitor-log li[data-task="{hidden}"]')).to_have_count(0)

    page.evaluate(HIDE % "false")
    expect(page.locator("#stream-state")).to_have_text("live")
    expect(page.locator(f'#monitor-log li[data-task="{hidden}"]')).to_have_count(1)
    assert page.locator("#monitor-log li").first.get_attribute("data-task") == hidden

    page.fill('#log-filters input[name="task"]', "first live")
    expect(page.locator(f'#monitor-log li[data-task="{hidden}"]')).to_be_hidden()
    expect(page.locator(f'#monitor-log li[data-task="{first}"]')).to_be_visible()
    page.select_option('#log-filters select[name="kind"]', "status")
    expect(page.locator(f'#monitor-log li[data-task="{first}"]')).to_be_hidden()
    page.select_option('#log-filters select[name="kind"]', "")

    page.locator(f'#monitor-log li[data-task="{first}"] a.task-link').click()
    expect(page).to_have_url(f"{server}/tasks/{first}")
    assert errors == []


def test_the_costs_page_draws_its_charts(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/costs")
    expect(page.locator("h1")).to_have_text("Costs")
    # with no calls the page says so instead of drawing empty axes
    expect(page.locator("article.notice")).to_contain_text("No provider calls in this range")
    expect(page.locator("canvas")).to_have_count(0)
    with Workspace.temporary(tmp_path / "home") as ws:
        seed(ws.open())
    page.reload()
    # Chart.js sized the canvases (a chart that failed to draw leaves them 0 x 0)
    box = page.locator("#chart-spend").bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 100
    assert errors == []


def test_the_costs_page_shows_spend_by_profile_workflow_schedule_and_forecasts(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """At desktop and phone widths (STAGENT_SCREENSHOTS=<folder> keeps screenshots)."""
    import os

    from playwright.sync_api import Browser, expect

    from stagent.governance.budgets_config import BudgetChange

    assert isinstance(browser, Browser)
    with Workspace.temporary(tmp_path / "home") as ws:
        seed(ws.open())
        ws.budgets.set(BudgetChange(scope="overall", monthly=10_000))
    shots = os.environ.get("STAGENT_SCREENSHOTS")
    for size in ({"width": 1280, "height": 900}, {"width": 390, "height": 844}):
        page = browser.new_context(viewport=size).new_page()
        page.goto(f"{server}/costs")
        expect(page.locator("#by-workflow")).to_contain_text("release")
        expect(page.locator("#by-schedule")).to_contain_text("nightly")
        expect(page.locator("#cap-forecasts")).to_contain_text("over the cap at this pace")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"Costs scrolls sideways at {size['width']} px"
        if shots:
            page.screenshot(path=f"{shots}/costs-{size['width']}.png", full_page=True)


SPENDS_WHILE_RUNNING = {
    "steps": [
        {"delay": 1},
        {"usage": {"model": "scripted-1", "input_tokens": 9, "output_tokens": 5, "cost_usd": 0.12}},
        {"delay": 1},
        {"usage": {"model": "scripted-1", "input_tokens": 9, "output_tokens": 5, "cost_usd": 0.3}},
        {"delay": 3600},
    ],
    "result": "never reached: the test cancels it",
}
LONG_TITLE = "Summarize every incident of the last quarter for the review board"


def test_active_agents_arrive_spend_and_leave_live(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
) -> None:
    """The Active agents table and the Active-now card follow a run with the page open: it
    appears when it starts, its spend so far moves with each call, its elapsed time ticks, and
    it leaves when it is cancelled. The cards fill their row; a phone shows the whole title."""
    import httpx
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    csrf = {"headers": {"X-CSRF-Token": "x"}, "cookies": {"stagent_csrf": "x"}}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{server}/monitor")
        expect(page.locator("#stream-state")).to_have_text("live")
        expect(page.locator("#active-agents")).to_contain_text("No agent is running")
        expect(page.locator("#active-now .big")).to_have_text("0")
        cards = page.evaluate(
            """() => { const grid = document.querySelector('.metrics').getBoundingClientRect();
            const last = document.querySelector('.metrics > :last-child').getBoundingClientRect();
            return grid.right - last.right; }"""
        )
        assert abs(cards) < 2, f"the cards stop {cards} px short of the row's end"

        created = httpx.post(
            f"{server}/api/v1/tasks",
            json={"title": LONG_TITLE, "scenario": SPENDS_WHILE_RUNNING},
            **csrf,  # pyright: ignore[reportArgumentType]
        )
        task_id = created.json()["id"]
        httpx.post(f"{server}/api/v1/tasks/{task_id}/run", **csrf)  # pyright: ignore[reportArgumentType]
        row = page.locator(f'#active-agents tr[data-task="{task_id}"]')
        expect(row.locator(".spent")).to_contain_text("$0.42")
        expect(page.locator("#active-now .big")).to_have_text("1")
        elapsed = row.locator(".elapsed").inner_text()
        expect(row.locator(".elapsed")).not_to_have_text(elapsed)  # it ticks

        page.set_viewport_size({"width": 390, "height": 844})
        link = page.locator(f'#monitor-log li[data-task="{task_id}"] a.task-link').first
        expect(link).to_be_visible()
        clipped = link.evaluate("a => a.scrollWidth > a.clientWidth + 1")
        assert not clipped, "a phone cuts the task's title short"

        httpx.post(f"{server}/api/v1/tasks/{task_id}/cancel", **csrf)  # pyright: ignore[reportArgumentType]
        expect(row).to_have_count(0)
        expect(page.locator("#active-agents")).to_contain_text("No agent is running")
        expect(page.locator("#active-now .big")).to_have_text("0")
        assert errors == []
    finally:
        context.close()
