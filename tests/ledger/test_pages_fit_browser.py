"""Costs and Monitor in a real browser with a busy workspace's figures, at desktop and phone
widths: Costs' breakdowns stay in their columns (a wide table scrolls in its own box, the page
never sideways) and counts read with separators; a phone gives a Monitor log line's task its
own row; an idle Monitor says nothing was logged instead of drawing empty axes.
Set STAGENT_SCREENSHOTS=<folder> to keep screenshots."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert
from tests.web.test_web_browser import browser, server  # noqa: F401 (fixtures)

from stagent.engine.services import TaskDraft
from stagent.store.tables import UsageLedgerRow
from stagent.workspace import Workspace

pytestmark = pytest.mark.browser
SIZES = ({"width": 1280, "height": 900}, {"width": 390, "height": 844})
MODELS = ("claude-sonnet-4-5-20250929", "claude-opus-4-6", "gpt-5.1-codex-max", "claude-haiku-4-5")
OVERFLOW = """() => [...document.querySelectorAll('.breakdowns')].flatMap(grid => {
  const right = grid.getBoundingClientRect().right;
  return [...grid.children].map(s => Math.round(s.getBoundingClientRect().right - right));
})"""
"""How far each breakdown section reaches past its grid's right edge (0 or less: inside)."""
LONG_TITLE = "Summarize every incident of the last quarter for the review board"


def busy_ledger(home: Path, rows: int = 1_200) -> None:
    """``rows`` calls over the last week with the token counts of a busy month."""
    now = datetime.now(UTC)
    with Workspace.temporary(home) as ws:
        ws.open()
        with ws.store.write() as session:
            session.execute(
                insert(UsageLedgerRow),
                [
                    {
                        "id": f"use_busy_{n:06d}",
                        "activity": "task_run",
                        "runtime": ("claude", "codex", "anthropic")[n % 3],
                        "provider": "anthropic",
                        "model": MODELS[n % 4],
                        "input_tokens": 250_000 + n,
                        "output_tokens": 12_000,
                        "cache_read_tokens": 1_800_000,
                        "cost_micros": 1_250_000 + n,
                        "cost_source": "computed",
                        "status": "completed",
                        "source": "import:claude-code",
                        "simulated": False,
                        "started_at": now - timedelta(minutes=7 * n),
                        "finished_at": now - timedelta(minutes=7 * n),
                    }
                    for n in range(rows)
                ],
            )


def test_costs_breakdowns_stay_in_their_columns_with_a_busy_months_figures(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    busy_ledger(tmp_path / "home")
    shots = os.environ.get("STAGENT_SCREENSHOTS")
    for size in SIZES:
        page = browser.new_context(viewport=size).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.goto(f"{server}/costs")
        expect(page.locator(".charts canvas")).to_have_count(3)
        model = page.locator(".breakdowns section", has_text="By model")
        expect(model.locator("tbody tr").first.locator("td").nth(2)).to_contain_text(",")
        expect(page.locator(".breakdowns section", has_text="By source")).to_contain_text("1,200")
        reach = page.evaluate(OVERFLOW)
        assert reach and max(reach) <= 1, f"a breakdown leaves its column at {size}: {reach}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"Costs scrolls sideways at {size['width']} px"
        if shots:
            page.screenshot(path=f"{shots}/costs-busy-{size['width']}.png", full_page=True)
        assert errors == []


def test_an_idle_monitor_says_so_and_a_phone_gives_a_log_lines_task_its_own_row(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{server}/monitor")
    expect(page.locator("#activity-empty")).to_have_text(
        "No agent logged anything in the last 24 hours."
    )
    expect(page.locator("canvas#chart-activity")).to_have_count(0)
    expect(page.locator(".metric", has_text="Success, 24 hours")).to_contain_text(
        "no run ended in 24 hours"
    )

    with Workspace.temporary(tmp_path / "home") as ws:
        task_id = ws.open().tasks.create(TaskDraft(title=LONG_TITLE)).id
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("canvas#chart-activity")).to_have_count(1)
    line = page.locator(f'#monitor-log li[data-task="{task_id}"]').first
    expect(line.locator("a.task-link")).to_have_text(LONG_TITLE)
    boxes = line.evaluate(
        """li => [li, li.querySelector('time'), li.querySelector('a.task-link')].map(e => {
             const r = e.getBoundingClientRect(); return [r.top, r.bottom, r.width]; })"""
    )
    (_, _, line_width), (_, time_bottom, _), (link_top, _, link_width) = boxes
    assert link_top >= time_bottom - 1, "the title shares its row with the time"
    assert link_width > 0.8 * line_width, f"the title has {link_width} of {line_width} px"
    shots = os.environ.get("STAGENT_SCREENSHOTS")
    if shots:
        page.screenshot(path=f"{shots}/monitor-phone-390.png", full_page=True)
