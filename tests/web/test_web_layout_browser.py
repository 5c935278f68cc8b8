"""Layout a newcomer sees, in real Chromium at 1280, 700 and 390 px: the phone menu, long titles
that wrap instead of pushing columns away, and the New task panel closing after a submit.

Screenshots of each page at each width go to ``$STAGENT_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from test_web_browser import browser, server  # noqa: F401

from stagent.workspace import Workspace

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 700, "height": 900}
"""Under Pico's 768 px breakpoint but twice a phone's width: stacked layouts stretch here."""
LONG_TITLE = "Investigate-" + "x" * 240 + "-end"
LINES = """el => {
  const range = document.createRange();
  range.selectNodeContents(el);
  return range.getClientRects().length;
}"""
"""How many lines an element's text takes."""
PAGES = (
    "/",
    "/board?view=table",
    "/inbox",
    "/settings",
    "/settings/permissions",
    "/settings/runtimes",
    "/settings/budgets",
    "/nope",
)


def _signed_in(browser: object, server: str, size: dict[str, int]) -> object:  # noqa: F811
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport=size)  # type: ignore[arg-type]
    page = context.new_page()
    home = Path(os.environ["STAGENT_HOME"])
    with Workspace.temporary(home) as ws:
        token = ws.owner_token()
    page.goto(f"{server}/?token={token}")
    return page


@pytest.fixture
def home_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server fixture's home, for reading the owner token."""
    monkeypatch.setenv("STAGENT_HOME", str(tmp_path / "home"))


def _no_horizontal_overflow(page: object) -> bool:
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    width = page.evaluate("document.documentElement.scrollWidth")
    return int(width) <= int(page.viewport_size["width"]) + 1  # type: ignore[index]


def _settled_box(locator: object) -> dict[str, float]:
    """``locator``'s box once it is on screen: the Board's first task redraws the whole Board
    (there was no table to add its row to), so the header found a moment ago may be replaced."""
    from playwright.sync_api import Locator

    assert isinstance(locator, Locator)
    deadline = time.monotonic() + 30
    while (box := locator.bounding_box()) is None:
        assert time.monotonic() < deadline, "the element never settled on screen"
    return dict(box)


def test_phone_width_folds_the_sidebar_into_a_menu(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    home_env: None,
) -> None:
    from playwright.sync_api import Page, expect

    page = _signed_in(browser, server, PHONE)
    assert isinstance(page, Page)
    nav = page.locator("#site-nav")
    toggle = page.locator(".menu-toggle")
    expect(toggle).to_be_visible()
    expect(nav).to_be_hidden()
    toggle.click()
    expect(nav).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    nav.get_by_role("link", name="Board", exact=True).click()
    expect(page).to_have_url(f"{server}/board")

    desktop = _signed_in(browser, server, DESKTOP)
    assert isinstance(desktop, Page)
    expect(desktop.locator(".menu-toggle")).to_be_hidden()
    expect(desktop.locator("#site-nav")).to_be_visible()


def test_new_task_panel_closes_after_submit_and_long_titles_wrap(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    home_env: None,
) -> None:
    from playwright.sync_api import Page, expect

    for size in (DESKTOP, TABLET, PHONE):
        page = _signed_in(browser, server, size)
        assert isinstance(page, Page)
        page.goto(f"{server}/board?view=table")
        panel = page.locator("details.new-task")
        if not panel.evaluate("el => el.open"):
            page.locator("details.new-task > summary").click()
        page.fill("#new-task input[name=title]", f"{LONG_TITLE}-{size['width']}")
        page.click("#new-task button[type=submit]")
        expect(page.locator(".tasks-table")).to_contain_text(f"-end-{size['width']}")
        expect(panel).not_to_have_attribute("open", "")
        header = page.locator(".tasks-table th").last
        if size is DESKTOP:  # every column stays on screen
            box = _settled_box(header)
            assert box["x"] + box["width"] <= size["width"]
        assert _no_horizontal_overflow(page), f"the page scrolls sideways at {size['width']} px"


def test_every_page_fits_every_width(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    home_env: None,
) -> None:
    from playwright.sync_api import Page

    shots = os.environ.get("STAGENT_SCREENSHOTS")
    for size in (DESKTOP, TABLET, PHONE):
        page = _signed_in(browser, server, size)
        assert isinstance(page, Page)
        for path in PAGES:
            page.goto(f"{server}{path}")
            page.wait_for_load_state("networkidle")
            if shots:
                name = path.strip("/").replace("/", "-").split("?")[0] or "home"
                page.screenshot(path=f"{shots}/{name}-{size['width']}.png", full_page=True)
            assert _no_horizontal_overflow(page), f"{path} scrolls sideways at {size['width']} px"


def test_empty_tables_and_charts_say_what_will_fill_them(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    home_env: None,
) -> None:
    """A fresh workspace at phone width: no bare table headers, no charts of nothing."""
    from playwright.sync_api import Page, expect

    page = _signed_in(browser, server, PHONE)
    assert isinstance(page, Page)
    page.goto(f"{server}/inbox")
    expect(page.locator("#decisions tr.no-decisions")).to_contain_text("No decisions yet")
    page.goto(f"{server}/costs")
    notice = page.locator("article.notice", has_text="No provider calls in this range")
    expect(notice).to_have_count(1)
    expect(page.locator(".charts canvas")).to_have_count(0)
    # The notice says it once: no breakdown table of nothing under it (their layout with a
    # busy workspace's figures: tests/ledger/test_pages_fit_browser.py).
    expect(page.locator(".breakdowns table")).to_have_count(0)
    page.goto(f"{server}/nope")
    expect(page.locator("hgroup p")).to_have_text(re.compile("^There is no page at this address"))


def test_permissions_fit_a_phone_without_cutting_presets_or_rules(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    home_env: None,
) -> None:
    """At 390 px the presets' descriptions are on screen and a rule is never split mid-word."""
    from playwright.sync_api import Page, expect

    page = _signed_in(browser, server, PHONE)
    assert isinstance(page, Page)
    page.goto(f"{server}/settings/permissions")
    expect(page.locator("table.rules code", has_text="Read")).to_have_count(1)
    rule = page.locator("table.rules code", has_text="Read")
    assert rule.evaluate(LINES) == 1, "the rule wraps mid-word"
    page.goto(f"{server}/settings/runtimes")
    names = page.locator("table code", has_text="scripted")
    expect(names.first).to_be_visible()
    assert names.first.evaluate(LINES) == 1, "a runtime's name wraps mid-word"
    healths = page.locator("table.runtimes td[id^=health-]")
    assert healths.count() >= 4
    for index in range(healths.count()):
        box = healths.nth(index).bounding_box()
        assert box is not None and box["x"] + box["width"] <= PHONE["width"], (
            "a runtime's health is off screen"
        )
    saves = page.locator("table.credentials .key-form button[type=submit]")
    assert saves.count() >= 1
    for index in range(saves.count()):
        box = saves.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], (
            "an API key's Save button is off screen"
        )
    page.goto(f"{server}/settings/permissions")
    descriptions = page.locator("table.presets td:nth-child(4)")
    assert descriptions.count() >= 3
    for index in range(descriptions.count()):
        box = descriptions.nth(index).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


SPANS = """els => els.map(t => {
  const box = t.closest('.table-scroll, .overflow-auto') || t.parentElement;
  return [t.className, Math.round(t.querySelector('tbody tr').getBoundingClientRect().width),
          Math.round(box.getBoundingClientRect().width)];
})"""
"""Each table's first row width next to its box's (the scrolling wrapper, else the parent)."""


def test_short_tables_span_a_phone_and_budgets_rows_reach_the_header(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    home_env: None,
) -> None:
    """On a phone (390 px and a 700 px tablet, both under the 768 px breakpoint) a table with a
    few short words (one project, one rule) still spans the page: its rows do not shrink to their
    words. A budgets table with no cap set has no empty Remove column its rows stop short of."""
    import httpx
    from playwright.sync_api import Page, expect

    created = httpx.post(
        f"{server}/api/v1/projects",
        json={"name": "ops"},
        headers={"X-CSRF-Token": "x"},
        cookies={"stagent_csrf": "x"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    for size in (PHONE, TABLET):
        page = _signed_in(browser, server, size)
        assert isinstance(page, Page)
        for path, table in (
            ("/projects", "#project-" + created.json()["id"]),
            ("/settings/permissions", "table.rules"),
        ):
            page.goto(f"{server}{path}")
            expect(page.locator(table).first).to_be_visible()
            spans = page.locator(".content table:not(.presets)").evaluate_all(SPANS)
            assert spans, path
            for name, row, box in spans:
                assert row >= box - 1, f"{path} at {size['width']} px: {name} rows {row} of {box}"
            assert _no_horizontal_overflow(page), f"{path} scrolls sideways at {size['width']} px"
        page.context.close()
    page = _signed_in(browser, server, DESKTOP)
    assert isinstance(page, Page)
    page.goto(f"{server}/settings/budgets")
    expect(page.locator("table.budgets td", has_text="no cap").first).to_be_visible()
    header = page.locator("table.budgets thead tr").bounding_box()
    assert header is not None
    expect(page.locator("table.budgets thead th")).to_have_count(7)
    for row in page.locator("table.budgets tbody tr").all():
        cells = row.locator("td").evaluate_all(
            "els => Math.max(...els.map(c => c.getBoundingClientRect().right))"
        )
        assert cells >= header["x"] + header["width"] - 1, "a row stops short of the header"
