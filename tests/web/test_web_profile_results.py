"""The Profiles page detail shows the smoke tests' last results: newest first, the verdict, what
was missing, errors and the answer (escaped), and says plainly when a profile is untested."""

from __future__ import annotations

import httpx
from bs4 import BeautifulSoup

from stagent.profiles.smoke import KEEP_RUNS, SmokeResult, SmokeRun
from stagent.workspace import Workspace

EVIL = "<script>alert(1)</script>"


def _run(when: str, *, passed: bool, runtime: str = "claude", simulated: bool = False) -> SmokeRun:
    result = SmokeResult(
        task="Review this function.",
        expected=["bug", "line"],
        task_id=f"task-{when}",
        status="completed" if passed else "failed",
        passed=passed,
        missing=[] if passed else ["line"],
        answer=f"Found a bug {EVIL}" if not passed else "A bug on line 3.",
        error=None if passed else "the model stopped early",
    )
    return SmokeRun("code-reviewer", runtime, simulated, when, [result])


async def test_detail_shows_the_last_results_newest_first(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    untested = BeautifulSoup((await client.get("/profiles/code-reviewer")).text, "html.parser")
    assert "Not tested yet" in untested.select_one("#smoke-results").get_text()

    store = workspace.profiles.results
    store.save(_run("2026-12-01T10:00:00+00:00", passed=True, simulated=True))
    store.save(_run("2026-12-02T10:00:00+00:00", passed=False, runtime="codex"))

    page = await client.get("/profiles/code-reviewer")
    assert EVIL not in page.text and "&lt;script&gt;" in page.text
    runs = BeautifulSoup(page.text, "html.parser").select("#smoke-results details.smoke-run")
    assert len(runs) == 2
    newest, older = runs
    assert newest.has_attr("open") and not older.has_attr("open")
    summary = newest.summary.get_text(" ", strip=True)
    assert summary.startswith("failed on codex") and "2026-12-02" in summary
    item = newest.li.get_text(" ", strip=True)
    assert "fail" in item and "missing line" in item and "the model stopped early" in item
    assert newest.select_one("a[href='/tasks/task-2026-12-02T10:00:00+00:00']") is not None
    assert older.summary.get_text(" ", strip=True).startswith("passed on claude")
    assert older.select_one(".badge.simulated") is not None


async def test_only_the_newest_runs_are_kept_and_five_are_shown(
    client: httpx.AsyncClient, workspace: Workspace
) -> None:
    store = workspace.profiles.results
    for day in range(1, KEEP_RUNS + 4):
        store.save(_run(f"2026-11-{day:02d}T09:00:00+00:00", passed=day % 2 == 0))
    assert len(store.runs("code-reviewer")) == KEEP_RUNS
    fragment = await client.get("/ui/profiles/code-reviewer/results")
    runs = BeautifulSoup(fragment.text, "html.parser").select("details.smoke-run")
    assert len(runs) == 5
    assert f"2026-11-{KEEP_RUNS + 3:02d}" in runs[0].summary.get_text()
    assert "hx-trigger" not in fragment.text  # nothing pending: the fragment does not poll
