"""A workspace seeded like one a person has used for a while, for looking at every page.

`seed_home` writes what must exist before the server starts (a scanned tree as HOME, projects
pointing into it, a hand-run Claude Code transcript to import); `seed_served` then fills the
served workspace through the API, the way a person's clicks would: tasks completed, failed,
running and waiting for an approval, workflows of several patterns (one held at its checkpoint),
a fired schedule and one of a workflow, budgets with spend, imported ledger rows and two
environment scans. `tour_paths` lists every page a person can reach, with the seeded ids filled
in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.ledger.logtools import claude_assistant, claude_transcript

from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.testing.scan_trees import broken_tree, fake_bin
from stagent.testing.workflows import step
from stagent.workspace import Workspace

CSRF = {"headers": {"X-CSRF-Token": "x"}, "cookies": {"stagent_csrf": "x"}}
WAIT_S = 120.0
"""How long seeding waits for a run to reach the state it needs (generous: CI runs at load 8+)."""


def scenario(name: str, *steps: dict[str, Any], cost: float = 0.0, result: str = "") -> dict:
    """An inline scripted scenario, with one provider call costing ``cost`` USD when > 0."""
    played: list[dict[str, Any]] = [{"text": f"Working on {name}. "}, *steps]
    if cost:
        usage = {"model": "scripted-1", "input_tokens": 5200, "output_tokens": 900}
        played.insert(1, {"usage": {**usage, "cost_usd": cost}})
    return {"name": name, "steps": played, "result": result or f"{name}: done."}


@dataclass
class Tour:
    """The seeded workspace's ids, for the pages that show one thing."""

    tasks: dict[str, str] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)
    schedule: str = ""
    profile: str = ""
    blueprint: str = ""
    token: str = ""
    """The owner's token: a page opened with ``/?token=...`` signs the browser in."""


def seed_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Before the server starts: HOME is a scanned tree with findings (so Environment has
    something to show), two projects point into it. Returns the workspace home."""
    root = tmp_path / "tree"
    work = broken_tree(root)
    monkeypatch.setenv("HOME", str(root / "home"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    monkeypatch.delenv("CODEX_HOME", raising=False)
    monkeypatch.setenv("PATH", f"{fake_bin(root / 'bin')}{os.pathsep}{os.environ['PATH']}")
    home = tmp_path / "home"
    monkeypatch.setenv("STAGENT_HOME", str(home))
    # The waiting task's card must stay open through every width: the tour took 7 min at load
    # 30, and a card times out after 10 min by default (then the task no longer waits).
    monkeypatch.setenv("STAGENT_APPROVAL_TIMEOUT_SECONDS", "7200")
    with Workspace.temporary(home) as ws:
        ws.open()
        ws.projects.create("webapp", directory=str(work / "webapp"))
        ws.projects.create("api", directory=str(work / "api"))
        _real_spend(ws)
    return home


def _real_spend(ws: Workspace) -> None:
    """Spend that counts against budgets (scripted runs are simulated and never do): calls
    booked to two Claude Code tasks, as their runs would have booked them."""
    for title, calls in (("Review the auth module", 5), ("Draft the API changelog", 3)):
        task = ws.tasks.create(TaskDraft(title=title, runtime="claude", project="webapp"))
        for n in range(calls):
            call = UsageEvent(
                model="claude-sonnet-4-5",
                input_tokens=60_000 + 7_000 * n,
                output_tokens=1_800,
                request_id=f"req_{task.id}_{n}",
            )
            ws.budgets.record_usage(task, call)


def _post(server: str, path: str, body: Any = None, *, token: str = "") -> dict[str, Any]:
    """POST as the page does (CSRF), as the owner when given the ``token``."""
    headers = {**CSRF["headers"], **({"Authorization": f"Bearer {token}"} if token else {})}
    response = httpx.post(
        f"{server}/api/v1{path}", json=body, timeout=60, headers=headers, cookies=CSRF["cookies"]
    )
    assert response.status_code < 300, f"POST {path}: {response.status_code} {response.text}"
    return response.json() if response.content else {}


def _task(server: str, title: str, project: str | None, play: dict[str, Any]) -> str:
    body = {"title": title, "project": project, "scenario": play}
    task_id = str(_post(server, "/tasks", body)["id"])
    _post(server, f"/tasks/{task_id}/run")
    return task_id


def _until(server: str, path: str, done: Any) -> dict[str, Any]:
    """GET ``path`` until ``done(body)``; the body."""
    deadline = time.monotonic() + WAIT_S
    while True:
        body = httpx.get(f"{server}/api/v1{path}", timeout=60).json()
        if done(body):
            return body
        assert time.monotonic() < deadline, f"{path} never got there: {body}"
        time.sleep(0.2)


def _tasks(server: str, tour: Tour) -> None:
    """Done, failed, running and waiting tasks in two projects and none, with spend."""
    write = {"tool": "Write", "input": {"file_path": "CHANGELOG.md", "content": "- fixed\n"}}
    plays = {
        "done": ("Tidy the README's install section", "webapp", scenario("tidy", cost=0.42)),
        "done2": ("Summarize last week's incidents", None, scenario("digest", cost=1.35)),
        "done3": ("Add rate limits to the public API", "api", scenario("limits", cost=2.8)),
        "failed": (
            "Migrate the billing tables",
            "api",
            scenario("migrate", {"fail": "the migration timed out after 600 s"}, cost=0.9),
        ),
        "running": ("Watch the nightly build", "webapp", scenario("watch", {"delay": 3600})),
        "waiting": ("Update the changelog", "webapp", scenario("changelog", write, cost=0.12)),
    }
    for key, (title, project, play) in plays.items():
        tour.tasks[key] = _task(server, title, project, play)
    _post(server, "/tasks", {"title": "Plan the Q1 roadmap", "project": "api"})
    ends = {
        "done": "completed",
        "done2": "completed",
        "done3": "completed",
        "failed": "failed",
        "running": "running",
        "waiting": "waiting",
    }
    for key, status in ends.items():
        _until(server, f"/tasks/{tour.tasks[key]}", lambda b, s=status: b["status"] == s)


def _workflows(server: str, tour: Tour) -> None:
    """A parallel review that completed, a sequence that failed, and a checkpoint held for a
    person's approval."""
    definitions = {
        "parallel": {
            "name": "release-review",
            "pattern": "parallel",
            "steps": [
                step("security", "no secrets in the diff"),
                step("docs", "docs match the code"),
                step("tests", "coverage held at 91 %"),
                step("verdict", "ship it", depends_on=["security", "docs", "tests"]),
            ],
        },
        "sequence": {
            "name": "dependency-bump",
            "pattern": "sequence",
            "steps": [
                step("bump", "bumped 14 packages"),
                step("build", "build broke", fail="2 tests failed after the bump"),
            ],
        },
        "checkpoint": {
            "name": "deploy-staging",
            "pattern": "checkpoint",
            "steps": [
                step("prepare", "release notes drafted"),
                step("deploy", "deployed", requires_approval=True),
            ],
        },
    }
    for key, definition in definitions.items():
        created = _post(server, "/workflows", {"definition": definition})
        tour.workflows[key] = str(created["id"])
        _post(server, f"/workflows/{created['id']}/run")
    ends = {"parallel": "completed", "sequence": "failed"}
    for key, status in ends.items():
        _until(server, f"/workflows/{tour.workflows[key]}", lambda b, s=status: b["status"] == s)
    _until(server, f"/workflows/{tour.workflows['checkpoint']}", _gated)


def _gated(workflow: dict[str, Any]) -> bool:
    """Whether a workflow waits at a step's checkpoint."""
    return any(s.get("status") == "waiting" for s in workflow.get("steps", []))


def _ledger_and_budgets(server: str, tmp_path: Path, token: str) -> None:
    """Imported hand-run sessions and caps overall and on a runtime."""
    today = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 3600))
    lines = [
        claude_assistant(
            f"msg_{n}", f"req_{n}", output_tokens=400 + 90 * n, cache_read=12000, timestamp=today
        )
        for n in range(6)
    ]
    config = tmp_path / "claude-config"
    claude_transcript(config, lines)
    _post(server, "/ledger/import", {"which": "claude-code", "path": str(config)}, token=token)
    owner = {**CSRF["headers"], "Authorization": f"Bearer {token}"}
    for path, body in (
        ("/budgets/overall", {"daily_usd": "10", "monthly_usd": "150"}),
        ("/budgets/runtime/claude", {"daily_usd": "3", "monthly_usd": "40"}),
        ("/budgets/runtime/scripted", {"daily_usd": "8", "per_run_usd": "3"}),
    ):
        response = httpx.put(
            f"{server}/api/v1{path}", json=body, timeout=60, headers=owner, cookies=CSRF["cookies"]
        )
        assert response.status_code == 200, response.text


def seed_served(server: str, home: Path, tmp_path: Path) -> Tour:
    """Fill the served workspace: every kind of thing the pages show. Returns the ids."""
    with Workspace.temporary(home) as ws:
        token = ws.owner_token()
    tour = Tour(token=token)
    _post(server, "/projects", {"name": "ops"})
    _ledger_and_budgets(server, tmp_path, token)
    _tasks(server, tour)
    _workflows(server, tour)
    schedule = _post(
        server,
        "/schedules",
        {"name": "Morning digest", "prompt": "Summarize overnight alerts", "cron": "0 9 * * 1-5"},
    )
    tour.schedule = str(schedule["id"])
    _post(server, f"/schedules/{tour.schedule}/fire")
    weekly = {"name": "Weekly release review", "workflow": tour.workflows["parallel"]}
    _post(server, "/schedules", {**weekly, "cron": "0 8 * * 1"})  # named, not by its id
    for _ in range(2):  # two scans draw the history's line
        _post(server, "/scans", {}, token=token)
    profiles = httpx.get(f"{server}/api/v1/profiles", timeout=60).json()["data"]
    tour.profile = str(profiles[0]["id"])
    blueprints = httpx.get(f"{server}/api/v1/blueprints", timeout=60).json()["data"]
    tour.blueprint = str(blueprints[0]["id"])
    return tour


def tour_paths(tour: Tour) -> dict[str, str]:
    """Every page a person can reach, by a short name (for screenshots) -> its path."""
    tasks, flows = tour.tasks, tour.workflows
    return {
        "home": "/",
        "board": "/board",
        "board-table": "/board?view=table",
        "task-done": f"/tasks/{tasks['done']}",
        "task-failed": f"/tasks/{tasks['failed']}",
        "task-waiting": f"/tasks/{tasks['waiting']}",
        "inbox": "/inbox",
        "monitor": "/monitor",
        "projects": "/projects",
        "project": "/projects/webapp",
        "workflows": "/workflows",
        "workflow-new": "/workflows/new",
        "workflow-edit": f"/workflows/{flows['checkpoint']}/edit",
        "workflow-gated": f"/workflows/{flows['checkpoint']}",
        "workflow-parallel": f"/workflows/{flows['parallel']}",
        "workflow-failed": f"/workflows/{flows['sequence']}",
        "blueprints": "/blueprints",
        "blueprint": f"/blueprints/{tour.blueprint}",
        "schedules": "/schedules",
        "schedule": f"/schedules/{tour.schedule}",
        "costs": "/costs",
        "profiles": "/profiles",
        "profile": f"/profiles/{tour.profile}",
        "profile-new": "/profiles/new",
        "environment": "/environment",
        "environment-history": "/environment/history",
        "environment-compare": "/environment/compare",
        "environment-skills": "/environment/skills",
        "settings": "/settings",
        "permissions": "/settings/permissions",
        "runtimes": "/settings/runtimes",
        "budgets": "/settings/budgets",
        "not-found": "/nope",
    }
