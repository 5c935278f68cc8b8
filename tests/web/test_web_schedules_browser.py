"""The Schedules page in a real browser: type a phrase, watch the preview show its cron and the
next five fire times, create the schedule, see it fire on the served worker, and look at the
list and the detail at desktop and phone widths (screenshots kept in the test's tmp dir)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from test_web_browser import browser, server  # noqa: F401
from webtools import screenshot_dir, watched_page

pytestmark = pytest.mark.browser


def test_create_a_schedule_with_a_live_preview_and_watch_it_fire(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    tmp_path = screenshot_dir(tmp_path)
    with watched_page(browser) as page:
        page.goto(f"{server}/schedules")
        expect(page.locator("p.empty")).to_contain_text("No schedules yet")
        page.screenshot(path=str(tmp_path / "schedules-form-1280.png"), full_page=True)
        form = page.locator("form[hx-post='/ui/schedules']")
        form.locator("input[name=name]").fill("Morning digest")
        form.locator("textarea[name=prompt]").fill("Summarize overnight alerts <b>now</b>")
        form.locator("input[name=tz]").fill("Europe/Berlin")
        form.locator("select[name=when_kind]").select_option("cron")
        form.locator("input[name=when]").fill("every weekday at 9am")
        preview = page.locator("#preview-new")
        expect(preview.locator("code")).to_have_text("0 9 * * 1-5")
        expect(preview.locator("ol.upcoming li")).to_have_count(5)
        expect(preview.locator("ol.upcoming li").first).to_contain_text("09:00 CET")
        form.locator("input[name=when]").fill("every blue moon")
        expect(preview.locator(".preview-error")).to_contain_text("neither a cron expression")
        form.locator("select[name=when_kind]").select_option("every")
        form.locator("input[name=when]").fill("2s")
        expect(preview).to_contain_text("Every 2 seconds")
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{server}/schedules/sch_*")
        expect(page.locator("h1")).to_have_text("Morning digest")
        expect(page.locator("blockquote.prompt")).to_have_text(
            "Summarize overnight alerts <b>now</b>"
        )
        # The served worker fires it; the history refreshes itself.
        expect(page.locator("table.firings tbody tr").first).to_be_visible(timeout=60_000)
        expect(page.locator("table.firings .badge.firing-fired").first).to_be_visible()
        page.get_by_role("button", name="Pause").click()
        expect(page.locator(".schedule-head .badge.schedule-paused")).to_be_visible()
        page.screenshot(path=str(tmp_path / "schedule-1280.png"), full_page=True)
        page.goto(f"{server}/schedules")
        expect(page.locator("table.schedules tbody tr")).to_have_count(1)
        page.screenshot(path=str(tmp_path / "schedules-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(page.locator("table.schedules .narrow-only").last).to_be_visible()
        page.screenshot(path=str(tmp_path / "schedules-390.png"), full_page=True)
    schedules = httpx.get(f"{server}/api/v1/schedules", timeout=60).json()["data"]
    assert [s["status"] for s in schedules] == ["paused"]
    assert schedules[0]["firing_count"] >= 1


def test_a_blueprint_schedule_fires_workflows_and_links_them(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    shots = screenshot_dir(tmp_path)
    with watched_page(browser) as page:
        page.goto(f"{server}/schedules")
        form = page.locator("form[hx-post='/ui/schedules']")
        form.locator("input[name=name]").fill("Weekly meals")
        form.locator("select[name=target]").select_option("blueprint")
        form.locator("input[name=target_ref]").fill("meal-planning")
        form.locator("textarea[name=variables]").fill("goal=quick dinners\ndays=3")
        form.locator("input[name=when]").fill("3s")
        # The live preview fills in above the options and moves them: let it land first, so
        # the click opens "more" rather than hitting whatever moved under the pointer.
        expect(page.locator("#preview-new ol.upcoming li").first).to_be_visible()
        form.locator("details.more summary").click()
        expect(form.locator("details.more")).to_have_attribute("open", "")
        form.locator("input[name=max_firings]").fill("1")
        form.locator("button[type=submit]").click()
        page.wait_for_url(f"{server}/schedules/sch_*")
        expect(page.locator(".schedule-head")).to_contain_text("Fires the blueprint")
        link = page.locator("table.firings a.workflow-link").first
        try:
            expect(link).to_be_visible(timeout=60_000)
            expect(link.locator(".badge")).to_have_text("completed", timeout=60_000)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{firing_state(server, page.url)}") from None
        page.screenshot(path=str(shots / "schedule-blueprint-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        expect(page.locator("table.firings a.workflow-link").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "schedule-blueprint-390.png"), full_page=True)
        # The history re-renders itself every 5 s: a mouse click whose press and release land
        # on two renderings is no click at all (Playwright checks only the press). A click
        # event on the link as it is now follows it the same way.
        link.dispatch_event("click")
        page.wait_for_url("**/workflows/wf_*")
        expect(page.locator("h1")).to_have_text("Meal planning: quick dinners")


def firing_state(base: str, url: str) -> str:
    """What the API says of the schedule at ``url`` (its page): whether the scheduler claimed
    an occurrence, how each firing was decided and what became of its workflow. A test that
    saw no firing on the page says which stage stalled (the server's log has no timestamps)."""
    schedule_id = url.rstrip("/").rsplit("/", 1)[-1]
    try:
        answer = httpx.get(f"{base}/api/v1/schedules/{schedule_id}", timeout=60).json()
    except httpx.HTTPError as exc:
        return f"the API did not answer: {exc!r}"
    firings = [
        {key: f.get(key) for key in ("occurrence_at", "status", "reason", "workflow_id", "outcome")}
        for f in answer.get("firings", [])
    ]
    return (
        f"now {datetime.now(UTC):%H:%M:%S}; schedule {answer.get('status')}, created "
        f"{answer.get('created_at')}, next fire {answer.get('next_fire_at')}, "
        f"{answer.get('firing_count')} fired; firings: {firings}"
    )
