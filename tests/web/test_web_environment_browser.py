"""The Environment page in a real browser at desktop and phone widths: the score, findings and
artifact chips show; a chip opens the detail sheet with redacted parsed content; the sheet closes.
Set STAGENT_SCREENSHOTS=<folder> to keep screenshots of each view."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_web_browser import browser, server  # noqa: F401

from stagent.testing.scan_trees import broken_tree, fake_bin
from stagent.workspace import Workspace

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("STAGENT_SCREENSHOTS")


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The broken tree as the server's HOME, and two projects pointing into it."""
    root = tmp_path / "tree"
    work = broken_tree(root)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_bin(root / 'bin')}{os.pathsep}{os.environ['PATH']}")
    with Workspace.temporary(tmp_path / "home") as ws:
        ws.open()
        ws.projects.create("webapp", directory=str(work / "webapp"))
        ws.projects.create("api", directory=str(work / "api"))
    yield work


def _shot(page: object, name: str, *, full: bool = True) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=full)  # type: ignore[attr-defined]


@pytest.mark.parametrize(("width", "height"), [(1280, 900), (390, 844)])
def test_environment_page_and_detail_sheet(
    tree: Path,
    server: str,  # noqa: F811
    browser: object,  # noqa: F811
    width: int,
    height: int,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{server}/environment")
        expect(page.locator(".score-big strong")).to_be_visible()
        expect(page.locator("li.finding[data-kind=plaintext-secret]").first).to_contain_text(
            "value redacted"
        )
        _shot(page, f"environment-{width}")
        _shot(page, f"environment-top-{width}", full=False)
        chip = page.locator(".chip", has_text="github").first
        chip.scroll_into_view_if_needed()
        chip.click()
        sheet = page.locator("dialog.sheet")
        expect(sheet).to_be_visible()
        expect(sheet).to_contain_text("[redacted]")
        expect(sheet).to_contain_text("GitHub token in plain text")
        _shot(page, f"environment-sheet-{width}", full=False)
        sheet.get_by_role("button", name="Close").click()
        expect(sheet).to_be_hidden()
        for tab in ("history", "compare", "skills"):
            page.goto(f"{server}/environment/{tab}")
            expect(page.locator(".env-tabs a[aria-current=page]")).to_be_visible()
            _shot(page, f"environment-{tab}-{width}")
        assert "ghp_a1B2c3D4" not in page.content()
    finally:
        context.close()
    assert errors == []


def test_the_comparison_reads_on_a_phone_one_artifact_a_block(
    tree: Path,
    server: str,  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    """At 390 px the compare tab does not scroll sideways: each artifact is a block, its name
    across the width and below it every place (User level and each project) named beside its
    mark."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{server}/environment/compare")
        rows = page.locator("table.matrix tbody tr")
        expect(rows.first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        for box in (page.locator("table.matrix"), page.locator("table.matrix").locator("..")):
            assert box.evaluate("el => el.scrollWidth <= el.clientWidth"), "scrolls sideways"
        places = page.locator("table.matrix thead th").all_text_contents()[1:]
        assert sorted(places) == ["User level", "api", "webapp"]
        for i in range(min(rows.count(), 8)):
            row = rows.nth(i)
            name = row.locator("th").bounding_box()
            cells = row.locator("td")
            assert name is not None and name["x"] + name["width"] <= 390
            labels = cells.evaluate_all(
                "tds => tds.map(td => getComputedStyle(td, '::before').content)"
            )
            assert labels == [f'"{p}"' for p in places]
            first = cells.first.bounding_box()
            assert first is not None and first["y"] >= name["y"] + name["height"] - 1
            last = cells.last.bounding_box()
            assert last is not None and last["x"] + last["width"] <= 390
        _shot(page, "environment-compare-phone")
    finally:
        context.close()
