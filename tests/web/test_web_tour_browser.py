"""A person's tour of every page of a workspace in use (tourtools: tasks done, failed, running and
waiting, workflows of three patterns one held at its checkpoint, a fired schedule, budgets with
spend, imported ledger rows, scans), in real Chromium at 1280, 700 and 390 px. On every page:
nothing scrolls sideways or sticks out of the screen, no CLI command, traceback or
"None"/"undefined"/"NaN" shows, and the charts are drawn where there is data to draw.
Screenshots of each page at each width go to ``$STAGENT_SCREENSHOTS`` (else the tmp dir)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_web_browser import browser, server  # noqa: F401
from tourtools import seed_home, seed_served, tour_paths
from webtools import LOCAL_HOSTS, screenshot_dir

pytestmark = [pytest.mark.browser, pytest.mark.timeout(1200)]

WIDTHS = ((1280, 900), (700, 900), (390, 844))
CLI = re.compile(r"(?<![\w/.~-])stagent\s+-{0,2}[a-z]")
"""A command line as a person would type it (the product's name is "Stagent")."""
RAW = re.compile(
    r"\b(None|undefined|NaN|null|Traceback)\b|\[object Object\]|\b[a-z]+:[a-z]{3}_[0-9a-f]{6,}"
)
"""Empty values of Python and JavaScript, a traceback, an internal id (``approval:apr_1``)."""
RULE_OR_FIRING = re.compile(r"\b(?:rul|fir)_[0-9a-f]{6,}")
"""A saved rule's or a schedule firing's id: a person knows them by the rule's text and the
firing's time (on any page)."""
ANY_ID = re.compile(r"\b[a-z]{2,3}_[0-9a-f]{6,}")
"""Any internal id (``tsk_``, ``apr_``, ``wf_``...): never in a log line or a firing's reason."""
WORDS_ONLY = ".log-line .text, table.firings td, .prompt-line, .schedule-head"
"""Where a page speaks in words only (the log's lines, what a schedule fires and its history)."""
SPLIT = """() => [...document.querySelectorAll('.whole')]
  .filter(e => e.getClientRects().length > 1).map(e => e.textContent)"""
"""Model ids (the `whole` filter) a narrow cell broke over lines."""
CHARTS = {
    "home": ("svg.spark", 7),
    "costs": (".charts canvas", 3),
    "monitor": ("canvas#chart-activity", 1),
    "environment-history": ("svg.sparkline", 1),
    "workflow-parallel": (".wf-node", 4),
    "workflow-gated": (".wf-node", 2),
    "budgets": (".spend-meter", 5),
}
"""Pages with data to draw: the chart (or graph) and how many of it a person should see."""
SAYS = {
    "workflow-gated": ("#wf-status", "Waiting for you"),
    "workflows": ("#workflows-table", "Waiting for you"),
    "task-waiting": (".run-holds a", "your answer in the Inbox"),
    "schedule": (".schedule-head", "0 scheduled firings"),
    "budgets": ("table.budgets", "$1.93"),
    "environment-history": (".score-trend figcaption", "of 100"),
}
"""What a page must say in words a person reads (not a bare status, an id or $1.929)."""
SIDE_BY_SIDE = """() => {
  const form = document.querySelector('#workflow-form .wf-step');
  const [runtime, model] = ['select[name$=runtime]', 'input[name$=model]']
    .map(q => form.querySelector(q).getBoundingClientRect());
  return Math.abs(runtime.top - model.top) < 2;
}"""
"""Whether a step's Runtime and Model fields share a row of the workflow form."""
VALUE_SHARE = """() => {
  const value = document.querySelector('dl.fields dd').getBoundingClientRect().width;
  return value / document.querySelector('dl.fields').getBoundingClientRect().width;
}"""
"""How much of a definition list's width its first value gets."""
STICKING_OUT = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== 'visible') return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || (r.left >= -1 && r.right <= width + 1)) continue;
    if (getComputedStyle(el).visibility === 'hidden' || scrolls(el)) continue;
    const name = el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
      + (el.className && typeof el.className === 'string'
         ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
    out.push(`${name} ${Math.round(r.left)}..${Math.round(r.right)}`);
  }
  return out.slice(0, 8);
}"""
"""Elements a person would see cut off at the screen's edges (not those in a scrolling box)."""


@pytest.fixture
def tour_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The seeded home and environment, in place before the server starts (so a test lists
    this fixture before `server`)."""
    return seed_home(tmp_path, monkeypatch)


def _problems(page: Any, name: str, width: int) -> list[str]:
    """What a person would notice is wrong on the page now on screen."""
    where = f"{name} at {width} px"
    found: list[str] = []
    if page.evaluate("document.documentElement.scrollWidth") > width + 1:
        found.append(f"{where}: the page scrolls sideways")
    found += [f"{where}: sticks out: {e}" for e in page.evaluate(STICKING_OUT)]
    text = page.locator("body").inner_text()
    found += [f"{where}: CLI syntax {m.group(0)!r}" for m in CLI.finditer(text)]
    found += [f"{where}: raw text {m.group(0)!r}" for m in RAW.finditer(text)]
    found += [f"{where}: internal id {m.group(0)!r}" for m in RULE_OR_FIRING.finditer(text)]
    worded = "\n".join(page.locator(WORDS_ONLY).all_inner_texts())
    found += [f"{where}: internal id in a log {m.group(0)!r}" for m in ANY_ID.finditer(worded)]
    found += [f"{where}: {token!r} broken over lines" for token in page.evaluate(SPLIT)]
    if name in SAYS:
        selector, words = SAYS[name]
        if words not in page.locator(selector).first.inner_text():
            found.append(f"{where}: {selector} does not say {words!r}")
    if name == "workflow-edit" and width == 700 and not page.evaluate(SIDE_BY_SIDE):
        found.append(f"{where}: a step's fields stack one per row on a tablet")
    if name == "project" and width == 390 and page.evaluate(VALUE_SHARE) < 0.6:
        found.append(f"{where}: the working directory is squeezed beside its label")
    if name in CHARTS:
        selector, count = CHARTS[name]
        boxes = [box for box in page.locator(selector).all() if _drawn(box)]
        if len(boxes) < count:
            found.append(f"{where}: {len(boxes)} of {count} {selector} drawn")
    return found


def _drawn(locator: Any) -> bool:
    box = locator.bounding_box()
    return box is not None and box["width"] > 40 and box["height"] > 3


def test_every_page_of_a_used_workspace_reads_well_at_every_width(
    tour_home: Path,
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from urllib.parse import urlparse

    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    tour = seed_served(server, tour_home, tmp_path)
    paths = tour_paths(tour)
    shots = screenshot_dir(tmp_path)
    problems: list[str] = []
    for width, height in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
        page.on(
            "request",
            lambda r, errors=errors: (
                urlparse(r.url).hostname in LOCAL_HOSTS
                or errors.append(f"off-host request {r.url}")
            ),
        )
        page.goto(f"{server}/?token={tour.token}")  # signed in, as the person is
        for name, path in paths.items():
            page.goto(f"{server}{path}")
            page.wait_for_load_state("load")
            page.wait_for_timeout(150)  # charts draw in a frame after load
            problems += _problems(page, name, width)
            page.screenshot(path=str(shots / f"tour-{name}-{width}.png"), full_page=True)
        context.close()
        problems += [f"at {width} px: {error}" for error in errors]
    assert problems == [], "\n".join(problems)
