"""What a person sees at 390 px (and 1280 px) in real Chromium: the Board one column at a time
with counts, waiting work in its own column with what it waits for, Home's recent tasks one
line each with short times, the Monitor log's messages in one column, and a Profiles gallery
narrowed by chips. Screenshots of each go to ``$STAGENT_SCREENSHOTS`` when it is set."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_web_browser import browser, server  # noqa: F401
from webtools import screenshot_dir, shoot, watched_page

from stagent.testing.workflows import step

pytestmark = pytest.mark.browser

CSRF = {"headers": {"X-CSRF-Token": "x"}, "cookies": {"stagent_csrf": "x"}}
PHONE = {"width": 390, "height": 844}
WRITE = {"steps": [{"text": "Editing. "}, {"tool": "Write", "input": {"file_path": "N.md"}}]}
"""A scripted run that asks the person before writing (only Read is allowed by a rule)."""


def _task(server: str, title: str, **fields: Any) -> str:  # noqa: F811
    created = httpx.post(
        f"{server}/api/v1/tasks", json={"title": title, **fields}, **CSRF, timeout=60
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _run(server: str, task_id: str) -> None:  # noqa: F811
    assert httpx.post(f"{server}/api/v1/tasks/{task_id}/run", **CSRF, timeout=60).status_code == 202


def _until(server: str, task_id: str, status: str) -> None:  # noqa: F811
    deadline = time.monotonic() + 90
    while httpx.get(f"{server}/api/v1/tasks/{task_id}", timeout=60).json()["status"] != status:
        assert time.monotonic() < deadline, f"{task_id} never reached {status}"
        time.sleep(0.1)


def _completed(server: str, title: str, **fields: Any) -> str:  # noqa: F811
    """A task that ran to completion on the scripted runtime; its id."""
    task_id = _task(server, title, **fields)
    _run(server, task_id)
    _until(server, task_id, "completed")
    return task_id


def _lines(locator: Any) -> int:
    """How many text lines an element takes (its height over its line height)."""
    return int(
        locator.evaluate(
            "el => Math.round(el.getBoundingClientRect().height /"
            " parseFloat(getComputedStyle(el).lineHeight))"
        )
    )


def _paint(locator: Any) -> tuple[str, str]:
    """An element's background colour (the page's for a transparent body) and text colour."""
    background, colour = locator.evaluate(
        "el => { const s = getComputedStyle(el); const root = document.documentElement;"
        " const bg = el === document.body ? getComputedStyle(root).backgroundColor"
        " : s.backgroundColor; return [bg, s.color]; }"
    )
    return str(background), str(colour)


def test_the_board_on_a_phone_shows_one_column_at_a_time_with_counts(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    for title in ("Plan the offsite", "Book the venue"):
        _task(server, title)
    _completed(server, "Send the invitations")
    with watched_page(browser) as page:
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/board")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        tabs = page.locator(".column-tabs [role=tab]")
        expect(tabs).to_have_count(7)
        expect(page.get_by_role("tab", name="Planned 2")).to_have_attribute("aria-selected", "true")
        expect(page.get_by_role("tab", name="Completed 1")).to_be_visible()
        expect(page.locator("#col-planned .card")).to_have_count(2)
        # Only the chosen tab wears the primary colour; the others read like the page.
        chosen = _paint(page.get_by_role("tab", name="Planned 2"))
        other = _paint(page.get_by_role("tab", name="Completed 1"))
        assert chosen[0] != other[0], f"every tab looks chosen: {chosen} {other}"
        page_paint = _paint(page.locator("body"))
        assert other == page_paint, f"an unchosen tab is not page-coloured: {other} {page_paint}"
        expect(page.locator("#col-completed")).to_be_hidden()
        kanban = page.locator(".kanban")
        assert kanban.evaluate("el => el.scrollWidth <= el.clientWidth"), "columns scroll sideways"
        card = page.locator("#col-planned .card").first
        box = card.bounding_box()
        assert box is not None and box["width"] > PHONE["width"] * 0.8, "a column is narrow"
        page.get_by_role("tab", name="Completed 1").click()
        sent = page.locator("#col-completed .card", has_text="Send the invitations")
        expect(sent).to_be_visible()
        expect(page.locator("#col-planned")).to_be_hidden()
        # A live change keeps the chosen column and counts it on its tab.
        _task(server, "Order the catering")
        expect(page.get_by_role("tab", name="Planned 3")).to_be_visible(timeout=60_000)
        expect(page.get_by_role("tab", name="Completed 1")).to_have_attribute(
            "aria-selected", "true"
        )
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir(tmp_path), "board-phone")
        # At 1280 px every column is on screen, side by side, and there are no tabs.
        page.set_viewport_size({"width": 1280, "height": 900})
        expect(page.locator(".column-tabs")).to_be_hidden()
        assert kanban.evaluate("el => el.scrollWidth <= el.clientWidth")
        expect(page.locator("#col-planned")).to_be_visible()
        expect(page.locator("#col-cancelled")).to_be_visible()


def test_work_waiting_for_a_person_waits_in_its_own_column_saying_for_what(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    definition = {
        "name": "gated-review",
        "pattern": "sequence",
        "steps": [step("review", "found a typo"), step("fix", "fixed", requires_approval=True)],
    }
    created = httpx.post(
        f"{server}/api/v1/workflows", json={"definition": definition}, **CSRF, timeout=60
    )
    assert created.status_code == 201, created.text
    writer = _task(server, "Update the checklist", options={"scripted": {"scenario": WRITE}})
    with watched_page(browser) as page:
        page.goto(f"{server}/board")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        workflow_id = created.json()["id"]
        assert httpx.post(
            f"{server}/api/v1/workflows/{workflow_id}/run", **CSRF, timeout=60
        ).is_success
        _run(server, writer)
        waiting = page.locator("#col-waiting")
        step_card = waiting.locator(".card", has_text="Fix")
        expect(step_card).to_be_visible(timeout=60_000)
        expect(step_card.locator(".badge.status-waiting")).to_be_visible()
        expect(step_card.locator(".card-wait a")).to_have_text("Checkpoint: approve to start")
        assert (step_card.locator(".card-wait a").get_attribute("href") or "").startswith(
            "/inbox#approval-"
        )
        tool_card = waiting.locator(".card", has_text="Update the checklist")
        expect(tool_card.locator(".card-wait a")).to_have_text("Asks to use Write", timeout=60_000)
        expect(page.locator("#col-waiting .count")).to_have_text("2")
        expect(page.locator("#col-running .card")).to_have_count(0)
        shoot(page, screenshot_dir(tmp_path), "board-waiting")
        # The workflow's run view says so too, with the way to answer.
        page.goto(f"{server}/workflows/{workflow_id}")
        node = page.locator("#node-fix")
        expect(node.locator(".badge.st-waiting")).to_have_text("waiting for you")
        expect(node.get_by_role("link", name="Answer in the Inbox")).to_be_visible()
        page.goto(f"{server}/board")
        # Opened fresh on a phone, the Board starts on what waits for the person.
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/board")
        expect(page.get_by_role("tab", name="Waiting 2")).to_have_attribute("aria-selected", "true")
        expect(step_card).to_be_visible()


def test_home_recent_tasks_take_one_line_each_with_a_short_time(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    for title in ("Refactor the billing module's currency handling", "Write a weekly report"):
        _task(server, title)
    with watched_page(browser) as page:
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/")
        rows = page.locator(".recent li")
        expect(rows).to_have_count(2)
        for index in range(2):
            row = rows.nth(index)
            stamp = row.locator("time")
            expect(stamp).to_have_text("just now")
            assert (stamp.get_attribute("title") or "").endswith(" UTC")
            assert _lines(row) == 1, f"recent row {index} wraps"
        # Every card's sparkline runs across its card, the spend and calls cards' too.
        for size in ({"width": 1280, "height": 900}, PHONE):
            page.set_viewport_size(size)
            spans = page.locator("svg.spark").evaluate_all(_SPARK_SPANS)
            assert len(spans) >= 7 and all(line >= svg - 2 for svg, line in spans), spans
        shoot(page, screenshot_dir(tmp_path), "home-recent")


_SPARK_SPANS = """els => els.map(svg => [
  svg.getBoundingClientRect().width, svg.querySelector("polyline").getBoundingClientRect().width,
])"""
"""Each sparkline's width and the width its line takes."""


def test_the_monitor_log_starts_every_message_at_the_same_place(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    for title in ("Go", "A much longer task title that names the whole job"):
        _completed(server, title)
    with watched_page(browser) as page:
        page.goto(f"{server}/monitor")
        texts = page.locator("#monitor-log li.log-line .text")
        expect(texts.first).to_be_visible()
        for size in ({"width": 1280, "height": 900}, PHONE):
            page.set_viewport_size(size)
            starts = {round(float(x)) for x in texts.evaluate_all(_LEFTS)}
            assert len(starts) == 1, f"messages start at {sorted(starts)} at {size['width']} px"
            # (the chart redraws at the new width a moment later)
            page.wait_for_function(
                f"() => document.documentElement.scrollWidth <= {size['width']}", timeout=60_000
            )
        shoot(page, screenshot_dir(tmp_path), "monitor-log")


_LEFTS = "els => els.filter(e => e.offsetParent).map(e => e.getBoundingClientRect().left)"
_LINE_STARTS = """
  const starts = new Map();
  for (const r of range.getClientRects()) {
    if (r.width <= 0) continue;
    const top = Math.round(r.top);
    starts.set(top, Math.min(starts.get(top) ?? Infinity, Math.round(r.left)));
  }
  return [starts.size, [...starts.values()]];
"""
"""(JS, after a ``range`` is set) how many lines the range takes and where each line starts."""
_WRAPPED_FLUSH = (
    "el => { const range = document.createRange(); range.selectNodeContents(el);"
    + _LINE_STARTS
    + "}"
)
"""How many lines a message takes, and where each starts (its leftmost box on that line)."""


def test_a_workflow_steps_approval_box_reads_as_its_own_line_on_a_phone(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
) -> None:
    """Its words wrap beside the box, and the step's options below keep their distance."""
    with watched_page(browser) as page:
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/workflows/new")
        check = page.locator(".wf-step label.check").first
        count, starts = check.evaluate(
            "el => { const words = [...el.childNodes]"
            ".find(n => n.nodeType === 3 && n.textContent.trim());"
            " const range = document.createRange(); range.selectNodeContents(words);"
            + _LINE_STARTS
            + "}"
        )
        assert count >= 2, "the words fit one line on a phone: the test needs them to wrap"
        box = check.locator("input").bounding_box()
        assert box is not None and all(start >= box["x"] + box["width"] for start in starts), (
            f"the words wrap under the box: lines start at {starts}, the box ends at"
            f" {box and box['x'] + box['width']}"
        )
        label = check.bounding_box()
        more = page.locator(".wf-step details.more").first.bounding_box()
        assert label is not None and more is not None
        assert more["y"] - (label["y"] + label["height"]) >= 8, "the options touch the checkbox"


def test_a_task_log_message_wraps_inside_its_own_column(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A long message's later lines start where its first line does, not under the time."""
    from playwright.sync_api import expect

    title = (
        "Summarize the quarterly report for the board meeting next week and list every open"
        " question the finance team raised in the last three reviews of the budget"
    )
    task_id = _completed(server, title)
    with watched_page(browser) as page:
        page.goto(f"{server}/tasks/{task_id}")
        created = page.locator("#task-log li.log-created .text")
        expect(created).to_contain_text("task created: Summarize")
        texts = page.locator(".log li.log-line .text")
        for size in ({"width": 1280, "height": 900}, PHONE):
            page.set_viewport_size(size)
            count, starts = created.evaluate(_WRAPPED_FLUSH)
            assert count >= 2, f"the message fits one line at {size['width']} px: pick a longer one"
            assert len(set(starts)) == 1, f"its lines start at {starts} at {size['width']} px"
            columns = {round(float(x)) for x in texts.evaluate_all(_LEFTS)}
            assert len(columns) == 1, f"messages start at {sorted(columns)} at {size['width']} px"
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        shoot(page, screenshot_dir(tmp_path), "task-log")


def test_profiles_narrow_by_chips_and_fit_a_phone_compactly(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    with watched_page(browser) as page:
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/profiles")
        cards = page.locator("#gallery .profile-card")
        total = cards.count()
        assert total >= 52
        for index in (0, total - 1):  # two lines of description at most
            assert _lines(cards.nth(index).locator(".card-desc")) <= 2
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < total * 100, f"the gallery is {height} px tall on a phone"
        personal = page.locator(".filter-chip", has_text="Personal")
        count = int(personal.locator(".n").inner_text())
        assert 0 < count < total
        personal.click()
        expect(cards).to_have_count(count)
        expect(page.locator(".gallery-count")).to_have_text(f"{count} of {total} profiles")
        page.locator(".filter-chip", has_text="anthropic").click()
        narrowed = page.locator(".filter-chip:has(input:checked)", has_text="anthropic")
        expect(cards).to_have_count(int(narrowed.locator(".n").inner_text()))
        page.locator(".filter-chip", has_text="Any").click()
        expect(cards).to_have_count(count)
        page.fill("input[name=q]", "travel")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Travel Planner")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        shoot(page, screenshot_dir(tmp_path), "profiles-chips")


_OFF_SCREEN = "(els, width) => els.filter(e => e.offsetParent && e.getBoundingClientRect().right > width + 1).map(e => e.textContent.trim())"  # noqa: E501
"""The visible cells whose right edge is past ``width`` (cut off, or behind a scroll)."""


def test_wide_tables_stack_on_a_phone_and_one_scan_draws_no_chart(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    _completed(server, "Write a weekly report", project=None)
    with watched_page(browser) as page:
        page.set_viewport_size(PHONE)
        page.goto(f"{server}/environment")  # the first scan
        for path, table in (
            ("/board?view=table", "table.tasks-table"),
            ("/costs", "table.audit"),
            ("/environment/history", "table.env-history"),
            ("/settings", "table.stack"),
        ):
            page.set_viewport_size(PHONE)  # (shoot leaves it at 1280 px)
            page.goto(f"{server}{path}")
            cells = page.locator(f"{table} td")
            expect(cells.first).to_be_visible()
            cut = cells.evaluate_all(_OFF_SCREEN, PHONE["width"])
            assert cut == [], f"{path}: cells past the screen's edge: {cut}"
            shoot(page, screenshot_dir(tmp_path), "stacked-" + path.strip("/").split("?")[0])
        page.goto(f"{server}/environment/history")
        expect(page.locator("table.env-history tbody tr")).to_have_count(1)
        expect(page.locator("svg.sparkline")).to_have_count(0)
        expect(page.locator("#one-scan")).to_contain_text("One scan so far")
        page.goto(f"{server}/costs")
        audit = page.locator("table.audit")
        expect(audit.get_by_role("link", name="Write a weekly report")).to_be_visible()


def test_board_cards_keep_their_actions_on_one_row_at_1280(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Seven columns at 1280 px: a card's Run / Cancel / Delete stay on one row inside the card,
    each named for screen readers, and still act (Run queues the planned task)."""
    from playwright.sync_api import expect

    planned = _task(server, "Plan the offsite with a longer title than most")
    done = _completed(server, "Send the invitations")
    with watched_page(browser) as page:
        page.goto(f"{server}/board")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        card = page.locator(f"#card-{planned}")
        for name in ("Run", "Cancel", "Delete"):
            expect(card.get_by_role("button", name=name)).to_be_visible()
        expect(page.locator(f"#card-{done}").get_by_role("button", name="Delete")).to_be_visible()
        for task_id in (planned, done):
            boxes = page.locator(f"#card-{task_id} .actions button").evaluate_all(
                "els => els.map(b => b.getBoundingClientRect().toJSON())"
            )
            outer = page.locator(f"#card-{task_id}").bounding_box()
            assert outer is not None and len(boxes) >= 2
            assert len({round(b["top"]) for b in boxes}) == 1, f"actions wrap: {boxes}"
            assert max(b["right"] for b in boxes) <= outer["x"] + outer["width"]
        shoot(page, screenshot_dir(tmp_path), "board-actions")
        card.get_by_role("button", name="Run").click()
        expect(page.locator(f"#col-completed #card-{planned}")).to_be_visible(timeout=60_000)
