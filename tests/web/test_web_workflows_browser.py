"""The Workflows pages in a real browser: write a swarm in the form, switch to YAML, break it and
see the error under its line, fix it and save; run a sequence from its run view and watch the
graph follow it live, retry the failed step; hide and show workflow steps on the Board. Every
page is screenshotted at desktop (1280) and phone (390) widths in the test's tmp dir."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from test_web_browser import browser, server  # noqa: F401
from webtools import screenshot_dir, shoot, watched_page

from stagent.testing.workflows import step

pytestmark = pytest.mark.browser

CSRF = {"headers": {"X-CSRF-Token": "x"}, "cookies": {"stagent_csrf": "x"}}


def test_write_a_swarm_in_the_form_and_yaml_views(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    with watched_page(browser) as page:
        page.goto(f"{server}/workflows")
        expect(page.locator("p.empty")).to_contain_text("No workflows yet")
        page.get_by_role("button", name="New workflow").click()
        form = page.locator("#workflow-form")
        form.locator("select[name=pattern]").select_option("swarm")
        expect(form.locator("legend .badge.role").first).to_have_text("Mayor")
        expect(form.locator("legend .badge.role").last).to_have_text("Refinery")
        form.locator("input[name=name]").fill("nightly-audit")
        form.locator("input[name='swarm.worker_concurrency']").fill("2")
        form.locator("textarea[name='steps-1-prompt']").fill("Audit the <api> module")
        shoot(page, screenshot_dir(tmp_path), "workflow-new-form")
        form.get_by_role("button", name="YAML").click()
        yaml_box = form.locator("textarea[name=yaml]")
        expect(yaml_box).to_contain_text("pattern: swarm")
        expect(yaml_box).to_contain_text("Audit the <api> module")
        yaml_box.fill(
            yaml_box.input_value().replace("worker_concurrency: 2", "worker_concurrency: 4")
        )
        form.get_by_role("button", name="Save workflow").click()
        excerpt = form.locator(".yaml-excerpt")
        expect(excerpt.locator("span.bad")).to_contain_text("worker_concurrency: 4")
        expect(excerpt.locator("figcaption")).to_contain_text("is more than the 2 workers")
        shoot(page, screenshot_dir(tmp_path), "workflow-new-yaml-error")
        yaml_box.fill(
            yaml_box.input_value().replace("worker_concurrency: 4", "worker_concurrency: 2")
        )
        form.get_by_role("button", name="Form").click()
        expect(form.locator("input[name='swarm.worker_concurrency']")).to_have_value("2")
        expect(form.locator("textarea[name='steps-1-prompt']")).to_have_value(
            "Audit the <api> module"
        )
        form.get_by_role("button", name="Save workflow").click()
        page.wait_for_url(f"{server}/workflows/wf_*")
        expect(page.locator("h1")).to_have_text("nightly-audit")
        expect(page.locator(".wf-layer")).to_have_count(3)
        expect(page.locator(".wf-layer[aria-label=Workers] .wf-node")).to_have_count(2)
        shoot(page, screenshot_dir(tmp_path), "workflow-swarm-view")


def test_the_editor_shows_each_problem_beside_its_field_and_under_its_line(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    with watched_page(browser) as page:
        page.goto(f"{server}/workflows/new?pattern=loop")
        form = page.locator("#workflow-form")
        form.locator("input[name='loop.max_iterations']").fill("500")
        form.locator("textarea[name='steps-0-prompt']").fill("")
        form.get_by_role("button", name="Save workflow").click()
        limit = form.locator("input[name='loop.max_iterations'] + small.field-error")
        expect(limit).to_contain_text("loop.max_iterations: 500 is out of range (1 to 100)")
        expect(limit.locator(".field-hint")).to_have_text(
            "allowed: 1 to 100, e.g. max_iterations: 5"
        )
        prompt = form.locator("textarea[name='steps-0-prompt'] + small.field-error")
        expect(prompt).to_contain_text("steps[0].prompt (step improve): field required")
        expect(prompt.locator(".field-hint")).to_contain_text("every step needs prompt")
        expect(form.locator("#editor-error li")).to_have_count(2)
        shoot(page, screenshot_dir(tmp_path), "workflow-editor-field-errors")
        form.get_by_role("button", name="YAML").click()
        yaml_box = form.locator("textarea[name=yaml]")
        yaml_box.fill(
            "name: two-problems\npattern: loop\nloop:\n  max_iterations: 500\nsteps:\n"
            "  - id: improve\n    name: Improve\n    promt: Make the tests pass\n"
        )
        form.get_by_role("button", name="Save workflow").click()
        excerpt = form.locator(".yaml-excerpt")
        expect(excerpt.locator("span.bad")).to_have_count(3)
        notes = excerpt.locator("span.note[role=note]")
        expect(notes).to_have_count(3)
        expect(excerpt.locator("span.note.fix").first).to_contain_text(
            "fix: allowed: 1 to 100, e.g. max_iterations: 5"
        )
        expect(notes.nth(0)).to_contain_text("loop.max_iterations: 500 is out of range")
        expect(notes.nth(1)).to_contain_text("steps[0].prompt (step improve): field required")
        expect(notes.nth(2)).to_contain_text("unknown field (did you mean prompt?)")
        expect(excerpt.locator("figcaption")).to_have_text("3 problems, each under its line")
        shoot(page, screenshot_dir(tmp_path), "workflow-editor-yaml-problems")


def test_the_editor_shows_shape_and_runtime_problems_with_the_field_problems(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """A parallel workflow with an empty prompt, a join that forgets a branch and a step on an
    unknown runtime: one save shows all three, each beside its own field with its own fix."""
    from playwright.sync_api import expect

    with watched_page(browser) as page:
        page.goto(f"{server}/workflows/new?pattern=parallel")
        form = page.locator("#workflow-form")
        form.locator("textarea[name='steps-0-prompt']").fill("")
        form.locator("input[name='steps-2-depends_on']").fill("security, sped")
        form.get_by_role("button", name="Save workflow").click()
        prompt = form.locator("textarea[name='steps-0-prompt'] + small.field-error")
        expect(prompt).to_contain_text("steps[0].prompt (step security): field required")
        join = form.locator("input[name='steps-2-depends_on'] + small.field-error")
        expect(join).to_contain_text("names 'sped', which is no step's id (did you mean speed?)")
        expect(join).to_contain_text("the synthesis step must depend on every branch once")
        expect(join.locator(".field-hint")).to_have_text(
            "depends_on lists ids of other steps: security, speed; "
            "set depends_on: [security, speed]"
        )
        expect(form.locator("#editor-error li")).to_have_count(3)
        shoot(page, screenshot_dir(tmp_path), "workflow-editor-shape-problems")

        form.get_by_role("button", name="YAML").click()
        yaml_box = form.locator("textarea[name=yaml]")
        yaml_box.fill(
            "name: fan\npattern: parallel\nsteps:\n"
            "  - {id: a, name: A, prompt: go, runtime: claud}\n"
            "  - {id: b, name: B, promt: go}\n"
        )
        form.get_by_role("button", name="Save workflow").click()
        notes = form.locator(".yaml-excerpt span.note[role=note]")
        expect(notes).to_have_count(4)
        expect(notes.nth(0)).to_contain_text("steps: a parallel workflow needs exactly one")
        expect(notes.nth(1)).to_contain_text("steps[0].runtime (step a): unknown runtime 'claud'")
        expect(notes.nth(2)).to_contain_text("steps[1].prompt (step b): field required")
        expect(notes.nth(3)).to_contain_text("unknown field (did you mean prompt?)")
        fixes = form.locator(".yaml-excerpt span.note.fix")
        expect(fixes.nth(1)).to_contain_text(
            "fix: available runtimes: anthropic, claude, codex, scripted"
        )
    assert httpx.get(f"{server}/api/v1/workflows").json()["count"] == 0


def test_run_view_follows_a_run_live_and_the_board_hides_its_steps(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect

    definition = {
        "name": "review-and-fix",
        "pattern": "sequence",
        "steps": [
            step("review", "looks fine", delay=1.5),
            step("fix", "fixed", fail="the fix did not apply"),
        ],
    }
    created = httpx.post(
        f"{server}/api/v1/workflows", json={"definition": definition}, **CSRF, timeout=60
    )
    assert created.status_code == 201, created.text
    workflow_id = created.json()["id"]
    httpx.post(f"{server}/api/v1/tasks", json={"title": "A task of my own"}, **CSRF, timeout=60)
    with watched_page(browser) as page:
        page.goto(f"{server}/workflows/{workflow_id}")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        expect(page.locator("#node-review")).to_have_attribute("data-status", "not run")
        page.get_by_role("button", name="Run", exact=True).click()
        # The stream moves the graph: review runs (1.5 s), then completes, then fix fails.
        expect(page.locator("#node-review")).to_have_attribute("data-status", "running")
        expect(page.locator("#node-review")).to_have_attribute(
            "data-status", "completed", timeout=60_000
        )
        expect(page.locator("#node-fix")).to_have_attribute("data-status", "failed", timeout=60_000)
        expect(page.locator("#wf-status")).to_have_text("Failed")
        expect(page.locator("#node-fix .node-error")).to_contain_text("the fix did not apply")
        expect(page.locator("#node-review .node-meta .badge.simulated")).to_have_text("simulated")
        expect(page.locator("#node-review .node-meta")).not_to_contain_text("$")
        shoot(page, screenshot_dir(tmp_path), "workflow-run-failed")
        fix_task = httpx.get(f"{server}/api/v1/workflows/{workflow_id}", timeout=60).json()[
            "steps"
        ][1]["task_id"]
        page.get_by_role("button", name="Retry this step").click()
        # The page said Failed before the click too: wait for the retry's own run to end.
        assert _second_run_ends(server, fix_task) == "failed"
        expect(page.locator("#wf-status")).to_have_text("Failed", timeout=60_000)

        page.goto(f"{server}/workflows?status=failed")
        expect(page.locator("#workflows-table tbody tr")).to_have_count(1)
        shoot(page, screenshot_dir(tmp_path), "workflows-list")

        page.goto(f"{server}/board")
        steps = page.locator(".card.is-step")
        expect(steps).to_have_count(2)
        expect(steps.first).to_be_visible()
        page.get_by_role("button", name="Hide workflow steps").click()
        expect(page.locator("#board.hide-steps")).to_be_visible()
        expect(steps.first).to_be_hidden()
        expect(page.locator(".card", has_text="A task of my own")).to_be_visible()
        expect(page.locator("#col-failed .count-own")).to_have_text("0")
        shoot(page, screenshot_dir(tmp_path), "board-steps-hidden")
        page.goto(f"{server}/board")  # remembered
        expect(steps.first).to_be_hidden()
        page.get_by_role("button", name="Show workflow steps").click()
        expect(steps.first).to_be_visible()
        shoot(page, screenshot_dir(tmp_path), "board-steps-shown")


def test_a_loops_iterations_fill_its_timeline_live(
    browser: object,  # noqa: F811
    server: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    definition = {
        "name": "polish",
        "pattern": "loop",
        "loop": {"max_iterations": 3},
        "steps": [step("polish", "a bit better", delay=0.3)],
    }
    created = httpx.post(
        f"{server}/api/v1/workflows", json={"definition": definition}, **CSRF, timeout=60
    )
    workflow_id = created.json()["id"]
    with watched_page(browser) as page:
        page.goto(f"{server}/workflows/{workflow_id}")
        page.wait_for_selector("body[data-live]", timeout=60_000)
        expect(page.locator(".wf-timeline .empty")).to_contain_text("No iterations recorded yet")
        page.get_by_role("button", name="Run", exact=True).click()
        expect(page.locator(".timeline-bar .seg.st-completed")).to_have_count(3, timeout=60_000)
        expect(page.locator("#wf-status")).to_have_text("Completed")
        expect(page.locator("#node-polish")).to_have_attribute("data-status", "template")
        shoot(page, screenshot_dir(tmp_path), "workflow-loop")


def _second_run_ends(base_url: str, task_id: str, timeout: float = 60.0) -> str:
    """The status the task's second run ended with (a retry makes run 2)."""
    deadline = time.monotonic() + timeout
    while True:
        runs = httpx.get(f"{base_url}/api/v1/tasks/{task_id}", timeout=60).json()["runs"]
        second = [run for run in runs if run["number"] == 2]
        if second and second[0]["status"] in ("completed", "failed", "cancelled"):
            return str(second[0]["status"])
        assert time.monotonic() < deadline, f"no second run ended: {runs}"
        time.sleep(0.1)
