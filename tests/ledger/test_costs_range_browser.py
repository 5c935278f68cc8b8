"""The Costs page's date range in a real browser: the person picks From and To, the cards, chart
and audit table change to those days (and the URL keeps them); a preset returns to the last N
days; a reversed range says what to fix. Screenshots at 1280 and 390 px
(``STAGENT_SCREENSHOTS=<folder>`` keeps them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from tests.ledger.logtools import claude_assistant, claude_transcript
from tests.web.test_web_browser import browser, server  # noqa: F401 (fixtures)
from tests.web.webtools import screenshot_dir, shoot, watched_page

from stagent.workspace import Workspace

pytestmark = pytest.mark.browser


def _seed(home: Path, config: Path) -> tuple[str, str]:
    """Two imported calls, 3 days ago ($0.30) and 20 days ago ($0.06); returns those days."""
    with Workspace.temporary(home) as ws:
        ledger = ws.open().ledger
        today = ledger.clock().astimezone(ledger.zone).date()
        recent, older = today - timedelta(days=3), today - timedelta(days=20)

        def noon(day: object) -> str:
            local = datetime.combine(day, time(12), ledger.zone)  # type: ignore[arg-type]
            return local.astimezone(UTC).isoformat().replace("+00:00", "Z")

        claude_transcript(
            config,
            [
                claude_assistant("m-recent", "r-recent", input_tokens=100_000, output_tokens=0,
                                 timestamp=noon(recent)),
                claude_assistant("m-older", "r-older", input_tokens=20_000, output_tokens=0,
                                 timestamp=noon(older)),
            ],
        )  # fmt: skip
        (plan,) = ledger.import_plans("claude-code", config)
        ledger.run_import(plan)
        return recent.isoformat(), older.isoformat()


def test_choosing_a_range_changes_the_cards_and_the_table(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    recent, older = _seed(tmp_path / "home", tmp_path / "claude")
    shots = screenshot_dir(tmp_path)
    with watched_page(browser) as page:
        page.goto(f"{server}/costs")
        spend = page.locator(".metrics article.metric").first
        expect(spend).to_contain_text("$0.36")
        expect(page.locator("table.audit tbody tr")).to_have_count(2)

        page.fill('input[name="since"]', older)
        page.fill('input[name="until"]', older)
        page.get_by_role("button", name="Apply").click()
        expect(page).to_have_url(re.compile(rf"/costs\?days=30&since={older}&until={older}(&|$)"))
        expect(spend).to_contain_text("Spend, 1 day")
        expect(spend).to_contain_text("$0.06")
        expect(page.locator("table.audit tbody tr")).to_have_count(1)
        expect(page.locator("#costs-window")).to_contain_text(f"{older} (1 day")
        shoot(page, shots, "costs-range")

        page.reload()  # the range is in the URL: a bookmark shows the same days
        expect(page.locator('input[name="since"]')).to_have_value(older)
        expect(spend).to_contain_text("$0.06")

        page.get_by_role("button", name="7 days").click()
        expect(page).to_have_url(f"{server}/costs?days=7")
        expect(spend).to_contain_text("Spend, 7 days")
        expect(spend).to_contain_text("$0.30")
        expect(page.locator('.range-presets [aria-current="true"]')).to_have_text("7 days")
        expect(page.locator("table.audit tbody tr")).to_have_count(1)

        page.fill('input[name="since"]', recent)
        page.fill('input[name="until"]', older)
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("main")).to_contain_text(f"To: {older} is before From ({recent})")
        expect(page.locator("main")).to_contain_text("choose a To day on or after the From day")
        shoot(page, shots, "costs-range-reversed")

    for width in (1280, 390):  # a fresh page at each width: charts resize after a resize
        with watched_page(browser) as page:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{server}/costs?since={older}&until={recent}")
            expect(page.locator(".metrics article.metric").first).to_contain_text("$0.36")
            box = page.locator("#chart-spend").bounding_box()
            assert box is not None and 0 < box["width"] <= width
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"the Costs page scrolls sideways at {width} px"
