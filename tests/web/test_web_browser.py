"""One real-browser flow: create a task on the Board (after a refused malformed scenario), run
it, watch it reach Completed live, then drag it back to Planned and on to Queued, and watch its
second run complete.

Drives Debian's /usr/bin/chromium through Playwright (driver only; no browser download) against
a real ``uvicorn --factory stagent.web.app:app_from_env`` server on a free 127.0.0.1 port.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from bs4 import BeautifulSoup

from servetools import SERVE_UP_SECONDS
from stagent.workspace import Workspace

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
IN_CI = os.environ.get("CI", "").lower() == "true"
WAIT_MS = 60_000
"""The shortest wait of a browser test (the page, a live event, a run)."""

pytestmark = pytest.mark.browser


LISTENING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def _wait_until_up(proc: subprocess.Popen[bytes], log: Path) -> str:
    """The server's base URL once it answers. It listens on ``--port 0``: the kernel picks the
    port as uvicorn binds it, and uvicorn logs it once the app started."""
    deadline = time.monotonic() + SERVE_UP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        if listening := LISTENING.search(log.read_text()):
            base = listening[1]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/api/v1/tasks", timeout=30).status_code == 200:
                    return base
        time.sleep(0.1)
    pytest.fail(f"server did not answer within {SERVE_UP_SECONDS} s:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM to the server's process group; SIGKILL (and fail) if it does not exit."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(f"server ignored SIGTERM:\n{log.read_text()}")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``stagent`` served by uvicorn in its own process group; yields its base URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("STAGENT_DATABASE_URL", None)
    env.pop("STAGENT_TOKEN", None)
    env["STAGENT_HOME"] = str(tmp_path / "home")
    with Workspace.temporary(tmp_path / "home") as ws:
        ws.open().rules.add("Read")  # the default scenario reads README.md
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "stagent.web.app:app_from_env",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield _wait_until_up(proc, log)
    finally:
        _stop(proc, log)
        # Captured, so shown only beside a failing test: what the server did meanwhile.
        print(f"--- the server's log (last 8,000 characters) ---\n{log.read_text()[-8000:]}")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One chromium for this module (skipped without /usr/bin/chromium, except under CI).

    Module-scoped, not session-scoped: Playwright's sync API keeps an event loop running on
    this thread while it is open, which would break the asyncio tests collected after it.
    """
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("/usr/bin/chromium is required in CI (apt install chromium)")
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import BrowserContext, expect, sync_playwright

    # Every expect(), navigation and click waits for a server that may share 2 cores with a
    # load of 20: Playwright's 5 s (expect) and 30 s (goto, click) are not enough there, so no
    # wait in the browser tests is shorter than 60 s.
    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        new_context = chromium.new_context

        def patient_context(**options: Any) -> BrowserContext:
            context = new_context(**options)
            context.set_default_timeout(WAIT_MS)
            return context

        chromium.new_context = patient_context  # type: ignore[method-assign]
        try:
            yield chromium
        finally:
            chromium.close()


def test_board_create_run_and_watch_it_complete(browser: object, server: str) -> None:
    from playwright.sync_api import Browser, ConsoleMessage, Request, expect

    assert isinstance(browser, Browser)
    context = browser.new_context()
    page = context.new_page()
    foreign: list[str] = []
    errors: list[str] = []

    def on_request(request: Request) -> None:
        if urlparse(request.url).hostname not in LOCAL_HOSTS:
            foreign.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{server}/board")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        page.evaluate("window.__sameDocument = true")

        form = page.locator("#new-task")
        form.locator("input[name=title]").fill("Browser task")
        form.locator("select[name=runtime]").select_option("scripted")
        # A malformed scenario is refused, with the error shown under the form.
        form.locator("summary", has_text="Scenario").click()
        form.locator("textarea[name=scenario]").fill("steps:\n  - sing: la\n")
        form.locator("button[type=submit]").click()
        expect(page.locator("#new-task-errors .error-box")).to_contain_text("scenario:2")
        expect(form.locator("input[name=title]")).to_have_value("Browser task")
        # Without it the default scenario runs.
        form.locator("textarea[name=scenario]").fill("")
        form.locator("button[type=submit]").click()
        card = page.locator("#col-planned .card", has_text="Browser task")
        expect(card).to_be_visible()
        expect(form.locator("input[name=title]")).to_have_value("")
        expect(card.locator(".badge.simulated")).to_be_visible()
        expect(page.locator("#new-task-errors .error-box")).to_have_count(0)

        card.get_by_role("button", name="Run").click()
        done = page.locator("#col-completed .card", has_text="Browser task")
        expect(done).to_be_visible(timeout=60_000)
        expect(page.locator("#col-completed .count")).to_have_text("1")

        # Drag it back to Planned, then to Queued: SortableJS calls the move endpoint, and the
        # second run reaches Completed live too.
        done.drag_to(page.locator("#col-planned .col-cards"))
        planned = page.locator("#col-planned .card", has_text="Browser task")
        expect(planned).to_be_visible()
        planned.drag_to(page.locator("#col-queued .col-cards"))
        expect(done).to_be_visible(timeout=60_000)
        tasks = httpx.get(f"{server}/api/v1/tasks", timeout=60).json()["data"]
        assert [(t["status"], t["run_count"]) for t in tasks] == [("completed", 2)]
        assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    finally:
        context.close()
    assert foreign == [], f"requests left 127.0.0.1: {foreign}"
    # The browser logs the refused scenario's 422 itself; nothing else may be logged.
    unexpected = [e for e in errors if "status of 422" not in e]
    assert unexpected == [], f"console errors: {errors}"


def test_task_detail_shows_each_run_live_and_refuses_a_bad_option(
    browser: object, server: str, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    created = httpx.post(
        f"{server}/api/v1/tasks",
        json={"title": "Runs twice", "options": {"model": "scripted-1"}},
        headers={"X-CSRF-Token": "x"},
        cookies={"stagent_csrf": "x"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{server}/tasks/{task_id}")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        expect(page.locator("#no-runs")).to_be_visible()
        for number in (1, 2):
            page.locator("#task-head").get_by_role("button", name="Run").click()
            section = page.locator(f"#run-{number}")
            expect(section.locator(".badge.status-completed")).to_be_visible(timeout=60_000)
            expect(section.locator("h3")).to_contain_text(f"Run {number} (latest)")
            expect(section.locator(".log")).to_contain_text("running -> completed")
        expect(page.locator("section.run")).to_have_count(2)
        expect(page.locator("#run-1 h3")).not_to_contain_text("latest")
        # the log reads as prose: the tool's input and the deciding rule, no dict or backticks
        log = page.locator("#run-2 .log")
        expect(log).to_contain_text("tool Read requested: README.md")
        expect(log.locator("code", has_text="Read")).to_have_count(1)
        expect(log.locator(".kind", has_text="tool request")).to_have_count(1)
        assert "{'" not in log.inner_text() and "`" not in log.inner_text()
        page.screenshot(path=str(tmp_path / "task-runs-1280.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path=str(tmp_path / "task-runs-390.png"), full_page=True)

        page.locator("summary", has_text="Edit").click()
        options = page.locator(".edit-task details.run-options")
        expect(options).to_have_attribute("open", "")  # a model is set: shown open
        options.locator("input[name=max_turns]").fill("0")
        page.get_by_role("button", name="Save").click()
        expect(page.locator("#edit-errors")).to_contain_text("options.limits.max_turns")
    finally:
        context.close()
    shots = os.environ.get("STAGENT_SCREENSHOTS")
    if shots:
        for png in tmp_path.glob("task-runs-*.png"):
            Path(shots, png.name).write_bytes(png.read_bytes())


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


def test_a_running_tasks_spend_so_far_moves_with_each_call(browser: object, server: str) -> None:
    """The run's Cost reads what its calls booked as they are booked, while its status stays
    Running (no status change re-renders the run)."""
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    csrf = {"headers": {"X-CSRF-Token": "x"}, "cookies": {"stagent_csrf": "x"}}
    created = httpx.post(
        f"{server}/api/v1/tasks",
        json={"title": "Spends as it goes", "scenario": SPENDS_WHILE_RUNNING},
        **csrf,  # pyright: ignore[reportArgumentType]
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(f"{server}/tasks/{task_id}")
        page.wait_for_selector("body[data-live]", timeout=WAIT_MS)
        page.locator("#task-head").get_by_role("button", name="Run").click()
        cost = page.locator("#run-1 .run-cost")
        expect(cost).to_have_text("$0.42 so far")
        expect(page.locator("#run-1 .badge.status-running")).to_be_visible()
        shown = httpx.get(f"{server}/api/v1/tasks/{task_id}").json()
        assert shown["status"] == "running"
    finally:
        context.close()
        httpx.post(f"{server}/api/v1/tasks/{task_id}/cancel", **csrf)  # pyright: ignore[reportArgumentType]


def test_the_board_follows_changes_made_elsewhere_card_by_card(
    browser: object, server: str, tmp_path: Path
) -> None:
    """Another process creates, renames and deletes tasks: the open Board puts each changed
    card in its column, newest first, updates the counts and the table, without reloading."""
    from playwright.sync_api import Browser, expect

    from stagent.engine.services import TaskDraft

    assert isinstance(browser, Browser)
    with Workspace.temporary(tmp_path / "home").open() as ws:
        first, second, _ = (ws.tasks.create(TaskDraft(title=f"Old {n}")) for n in range(3))
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{server}/board")
            page.wait_for_selector("body[data-live]", timeout=60_000)
            page.evaluate("window.__sameDocument = true")
            cards = page.locator("#col-planned .card")
            expect(cards).to_have_count(3)

            fresh = ws.tasks.create(TaskDraft(title="Made by another process"))
            expect(cards.first).to_contain_text("Made by another process", timeout=60_000)
            expect(page.locator("#col-planned .count")).to_have_text("4")
            expect(page.locator(f"#row-{fresh.id}")).to_have_count(1)  # the table view too

            ws.tasks.update(second.id, {"title": "Renamed elsewhere"})
            expect(cards.nth(2)).to_contain_text("Renamed elsewhere", timeout=60_000)
            ws.tasks.delete(first.id)
            expect(page.locator(f"#card-{first.id}")).to_have_count(0, timeout=60_000)
            expect(page.locator("#col-planned .count")).to_have_text("3")
            expect(cards).to_have_count(3)
            titles = [t.strip() for t in page.locator("#col-planned .card-title").all_inner_texts()]
            assert titles == ["Made by another process", "Old 2", "Renamed elsewhere"]
            page.screenshot(path=str(tmp_path / "board-live-1280.png"), full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=str(tmp_path / "board-live-390.png"), full_page=True)
            assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
        finally:
            context.close()
    assert errors == []


def test_a_late_board_answer_does_not_undo_a_live_move(browser: object, server: str) -> None:
    """The Run button's answer (the whole Board, rendered while the task was queued) reaches
    the page after the live stream has moved the card to Completed: the card stays there."""
    from playwright.sync_api import Browser, Route, expect

    assert isinstance(browser, Browser)
    created = httpx.post(
        f"{server}/api/v1/tasks",
        json={"title": "Slow answer", "scenario": {"steps": [{"delay": 1.0}], "result": "ok"}},
        headers={"X-CSRF-Token": "x"},
        cookies={"stagent_csrf": "x"},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    held: list[tuple[Route, object]] = []

    def hold(route: Route) -> None:  # render the answer now, hand it to the page later
        held.append((route, route.fetch()))

    try:
        page.route("**/ui/tasks/*/run", hold)
        page.goto(f"{server}/board")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        page.evaluate(
            "window.__boardSwaps = 0; document.addEventListener('htmx:afterSwap', (e) => {"
            " if (e.detail.target.id === 'board') window.__boardSwaps += 1; })"
        )
        page.locator("#col-planned .card").get_by_role("button", name="Run").click()
        done = page.locator("#col-completed .card", has_text="Slow answer")
        expect(done).to_be_visible(timeout=60_000)  # moved by the live stream
        page.wait_for_function("() => window.__boardSwaps === 0")
        assert len(held) == 1
        route, stale = held[0]
        answer = BeautifulSoup(stale.text(), "html.parser")  # type: ignore[attr-defined]
        assert answer.select("#col-queued .card, #col-running .card"), "the answer is not stale"
        route.fulfill(response=stale)  # type: ignore[arg-type]
        page.wait_for_function("() => window.__boardSwaps === 1", timeout=60_000)
        expect(done).to_be_visible()
        expect(page.locator("#col-completed .count")).to_have_text("1")
        expect(page.locator("#col-queued .card, #col-running .card")).to_have_count(0)
    finally:
        context.close()
