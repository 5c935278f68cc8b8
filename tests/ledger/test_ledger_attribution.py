"""Spend by profile, workflow and schedule (the Costs page, ``GET /api/v1/ledger/summary`` and
``stagent ledger summary --by``): per-task sums rolled up by what each task ran as, with the
cost per outcome (task, workflow run, schedule firing)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from typer.testing import CliRunner

from stagent.domain.events import UsageEvent
from stagent.domain.workflows import WorkflowDefinition
from stagent.engine.services import TaskDraft
from stagent.ledger.reports import Scope
from stagent.scheduler.drafts import ScheduleDraft
from stagent.store import schedules as schedule_repo
from stagent.store import step_rows as step_repo
from stagent.store import workflows as workflow_repo
from stagent.store.tables import ScheduleFiringRow, TaskRow
from stagent.testing.metered import MeteredRuntime
from stagent.web.app import create_app
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client, with_csrf

CALL = UsageEvent(model="claude-sonnet-4-5", input_tokens=100_000)  # $0.30 each


def spend(ws: Workspace, title: str, calls: int, profile: str | None = None) -> str:
    task = ws.tasks.create(TaskDraft(title=title, runtime="metered"))
    if profile:
        with ws.store.write() as session:
            row = session.get(TaskRow, task.id)
            assert row is not None
            row.profile = profile
    for _ in range(calls):
        ws.budgets.record_usage(task, CALL)
    return task.id


def seed(ws: Workspace) -> None:
    """Two workflow runs of one workflow (three step tasks), two firings of one schedule, a
    researcher task outside both, and an imported call (no task)."""
    ws.runtimes.register(MeteredRuntime())
    steps = [spend(ws, f"step {n}", 1, profile="code-reviewer") for n in range(3)]
    definition = WorkflowDefinition.model_validate(
        {"name": "release", "pattern": "sequence",
         "steps": [{"id": "build", "name": "Build", "prompt": "build it"}]}
    )  # fmt: skip
    with ws.store.write() as session:
        flow = workflow_repo.create(session, definition)
        row = workflow_repo.get_row(session, flow.id)
        for number, task_ids in ((1, steps[:2]), (2, steps[2:])):
            assert workflow_repo.start_run(session, row) == number
            for position, task_id in enumerate(task_ids):
                step = step_repo.add_step(
                    session, flow.id, row.run_count, f"build#{position}", "Build", position
                )
                step.task_id = task_id
    schedule = ws.schedules.create(
        ScheduleDraft(name="nightly", prompt="tidy", runtime="scripted", every="1h")
    )
    fired = [spend(ws, f"firing {n}", 2) for n in range(2)]
    from stagent.domain.schedules import FiringStatus

    with ws.store.write() as session:
        for n, task_id in enumerate(fired):
            (firing_id,) = schedule_repo.add_firings(
                session, schedule.id,
                [(f"fir_{n}", datetime(2026, 12, 1, n, tzinfo=UTC), FiringStatus.PENDING, None)],
            )  # fmt: skip
            firing = session.get(ScheduleFiringRow, firing_id)
            assert firing is not None
            firing.task_id = task_id
    spend(ws, "research", 1, profile="researcher")


def test_spend_is_rolled_up_by_profile_workflow_and_schedule(workspace: Workspace) -> None:
    seed(workspace)

    by_profile = {g["key"]: g for g in workspace.ledger.summary(Scope(), "profile")["groups"]}
    assert by_profile["code-reviewer"]["total_cost_usd"] == "0.90"
    assert by_profile["code-reviewer"]["outcomes"] == 3
    assert by_profile["code-reviewer"]["cost_per_outcome_micros"] == 300_000
    assert by_profile["researcher"]["total_cost_usd"] == "0.30"
    assert by_profile[None]["label"] == "(no profile)"
    assert by_profile[None]["total_cost_usd"] == "1.20"  # the two firings' tasks

    flows = workspace.ledger.summary(Scope(), "workflow")["groups"]
    release = next(g for g in flows if g["label"] == "release")
    assert release["total_cost_usd"] == "0.90" and release["outcomes"] == 2  # two runs
    assert release["cost_per_outcome_micros"] == 450_000
    assert release["completeness"] == "complete"

    dashboard = workspace.ledger.dashboard(Scope(), days=30)
    nightly = next(g for g in dashboard["schedules"] if g["label"] == "nightly")
    assert nightly["total_cost_usd"] == "1.20" and nightly["outcomes"] == 2
    assert nightly["cost_per_outcome_micros"] == 600_000
    assert [g["label"] for g in dashboard["profiles"]][:2] == ["(no profile)", "code-reviewer"]


async def test_the_costs_page_api_and_cli_show_the_breakdowns_and_each_caps_forecast(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stagent.cli.app import app
    from stagent.governance.budgets_config import BudgetChange

    seed(workspace)
    workspace.budgets.set(BudgetChange(scope="overall", monthly=10_000))  # $0.01: already over
    workspace.budgets.set(BudgetChange(scope="runtime", ref="metered", monthly=1_000_000_000))

    async with asgi_client(create_app(workspace)) as client:
        client = await with_csrf(client)
        page = BeautifulSoup((await client.get("/costs")).text, "html.parser")
        api = (await client.get("/api/v1/ledger/forecast")).json()
        summary = (await client.get("/api/v1/ledger/summary?by=workflow")).json()
    profiles = page.select_one("#by-profile")
    assert profiles is not None and "code-reviewer" in profiles.get_text()
    flows = page.select_one("#by-workflow")
    assert flows is not None and "release" in flows.get_text() and "$0.45" in flows.get_text()
    schedules = page.select_one("#by-schedule")
    assert schedules is not None and "nightly" in schedules.get_text()
    forecasts = page.select_one("#cap-forecasts")
    assert forecasts is not None
    text = forecasts.get_text(" ")
    assert "over the cap at this pace" in text and "within the cap" in text

    by_label = {f["scope"]: f for f in api}
    assert by_label["overall"]["over"] is True and by_label["overall"]["spent_usd"] == "2.40"
    assert by_label["runtime"]["over"] is False
    assert by_label["overall"]["projected_micros"] >= by_label["overall"]["spent_micros"]

    monkeypatch.setenv("STAGENT_RAISE_ERRORS", "1")
    runner = CliRunner()
    home = ["--home", str(workspace.settings.home)]
    cli = runner.invoke(app, [*home, "ledger", "forecast", "--json"], catch_exceptions=False)
    moving = {"projected_micros", "projected_usd", "elapsed"}  # the pace moves with the clock
    assert [{k: v for k, v in f.items() if k not in moving} for f in json.loads(cli.stdout)] == [
        {k: v for k, v in f.items() if k not in moving} for f in api
    ]
    cli = runner.invoke(
        app, [*home, "ledger", "summary", "--by", "workflow", "--json"], catch_exceptions=False
    )
    assert json.loads(cli.stdout)["groups"] == summary["groups"]
