"""Real Chromium on the Profiles and Blueprints pages: the gallery filters as you type, a
blueprint's generated form previews its resolved steps, and neither page logs a console error.
Shares the server and browser fixtures of `test_web_browser`."""

from __future__ import annotations

import os

import pytest
from test_web_browser import browser, server  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_gallery_search_and_blueprint_preview(browser: object, server: str) -> None:  # noqa: F811
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    errors: list[str] = []
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(f"{server}/profiles")
        cards = page.locator("#gallery .profile-card")
        assert cards.count() >= 52
        page.fill("input[name=q]", "translat")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Translator")
        page.fill("input[name=q]", "")
        expect(page.locator(".gallery-count")).to_contain_text("52 of 52")
        anthropic = page.locator(".filter-chip", has_text="anthropic")
        shown = anthropic.locator(".n").inner_text()
        anthropic.click()
        expect(page.locator(".gallery-count")).to_contain_text(f"{shown} of 52")
        assert page.locator(".card-name", has_text="Code Reviewer").count() == 0
        page.locator(".filter-chip", has_text="Any").click()
        expect(page.locator(".gallery-count")).to_contain_text("52 of 52")
        page.locator(".card-name", has_text="Researcher").first.click()
        expect(page.locator("h1")).to_have_text("Researcher")
        expect(page.locator("table.policy")).to_contain_text("WebSearch")
        expect(page.locator(".instructions h4", has_text="Method")).to_be_visible()  # Markdown
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if shots := os.environ.get("STAGENT_SCREENSHOTS"):
            page.screenshot(path=f"{shots}/profile-{width}.png", full_page=True)

        page.goto(f"{server}/blueprints/code-review-pipeline")
        page.fill("input[name=target]", "src/payments")
        page.uncheck("input[name=include_tests][type=checkbox]")
        page.click("text=Preview steps")
        steps = page.locator("#preview .resolved-steps > li")
        expect(steps).to_have_count(3)
        expect(page.locator("#preview")).to_contain_text("Skipped by their condition: test-gaps")
        expect(steps.first).to_contain_text("src/payments")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if shots := os.environ.get("STAGENT_SCREENSHOTS"):
            page.screenshot(path=f"{shots}/blueprint-{width}.png", full_page=True)

        page.goto(f"{server}/blueprints/meal-planning")
        page.fill("input[name=goal]", f"quick dinners at {width}px")
        page.get_by_role("button", name="Run").click()
        page.wait_for_url("**/workflows/wf_*")
        expect(page.locator("h1")).to_contain_text(f"quick dinners at {width}px")
        expect(page.locator(".lineage")).to_contain_text("meal-planning")
        if shots:
            page.screenshot(path=f"{shots}/workflow-from-blueprint-{width}.png", full_page=True)
        assert errors == [], errors
        context.close()
