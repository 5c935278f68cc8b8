"""A call the provider served but whose usage never came (a capped Codex turn that ended before
Codex read the response's end) is booked once, from estimated tokens: the row says
``estimated`` (its cost source and an ``ESTIMATED:`` note), budgets count it, a re-report books
nothing more, re-pricing keeps the mark, and the task's audit (`stagent ledger audit`, its
``--json``, the API), cost per outcome and the Costs page's audit table show it as estimated."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stagent.cli.app import app
from stagent.domain.events import UsageEvent
from stagent.domain.tasks import Task
from stagent.engine.services import TaskDraft
from stagent.ledger.reports import Scope
from stagent.runtimes._codex_mapping import estimated_usage
from stagent.store import ledger as ledger_repo
from stagent.web.app import create_app
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client

REPORTED = UsageEvent(model="gpt-5.5", input_tokens=10_000, output_tokens=100, request_id="r1")
"""The run's last reported call: $0.05 input + $0.003 output on gpt-5.5."""
ESTIMATE = estimated_usage(REPORTED, "gpt-5.5", "codex:T:U:estimated:2")
"""The call after it, served but never reported: 10,100 input tokens ($0.0505), 100 output
($0.003)."""


@pytest.fixture(params=["workspace", pytest.param("pg_workspace", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest) -> Workspace:
    """The same tests on SQLite and on PostgreSQL."""
    return request.getfixturevalue(request.param)


def codex_task(ws: Workspace, title: str = "capped") -> Task:
    """A task whose rows are booked as the codex runtime's (real spend)."""
    return replace(ws.tasks.create(TaskDraft(title=title, runtime="metered")), runtime="codex")


def test_the_estimate_is_the_last_calls_prompt_and_output_as_input() -> None:
    assert (ESTIMATE.input_tokens, ESTIMATE.output_tokens) == (10_100, 100)
    assert ESTIMATE.estimated is not None and "never reported" in ESTIMATE.estimated
    first = estimated_usage(None, "gpt-5.5", "x")  # nothing reported yet: typical figures
    assert (first.input_tokens, first.output_tokens) == (12_000, 500)
    assert first.estimated is not None and "typical" in first.estimated


def test_an_estimated_call_is_booked_once_marked_and_counted_against_budgets(
    ws: Workspace,
) -> None:
    task = codex_task(ws)
    first = ws.budgets.record_usage(task, REPORTED)
    entry, created = ws.budgets.book_usage(task, ESTIMATE)
    assert created
    _, again = ws.budgets.book_usage(task, ESTIMATE)  # reported again: nothing more
    assert not again
    rows = ws.budgets.usage(ledger_repo.LedgerFilter(task_id=task.id))
    assert sorted(r.cost_source for r in rows) == ["computed", "estimated"]
    assert (entry.cost_source, entry.cost_micros, entry.input_tokens) == (
        "estimated",
        53_500,
        10_100,
    )
    assert entry.note is not None and entry.note.startswith("ESTIMATED: the provider served")
    assert entry.raw is not None and entry.raw["estimated"] == ESTIMATE.estimated
    with ws.store.read() as session:
        (spent,) = ledger_repo.spend(
            session, [ledger_repo.SpendQuery("overall", "", first.finished_at)]
        )
    assert spent.total == 53_000 + 53_500  # the estimate counts against caps

    report = ws.ledger.reprice(everything=True)
    assert report.rows == 2
    (kept,) = ws.budgets.usage(ledger_repo.LedgerFilter(task_id=task.id, cost_source="estimated"))
    assert (kept.cost_micros, kept.note) == (53_500, entry.note)

    audit = ws.ledger.audit(task.id)
    assert (audit["requests"], audit["estimated_requests"]) == (2, 1)
    assert audit["total_cost_micros"] == 106_500
    (call,) = [i for i in audit["items"] if i["type"] == "call" and "estimated" in i["summary"]]
    assert "(estimated) - the provider served this call" in call["summary"]
    assert call["call"]["cost_source"] == "estimated"

    (group,) = ws.ledger.summary(Scope(), "profile")["groups"]
    assert group["completeness"] == "estimated"
    (cost,) = ws.ledger.dashboard(Scope(), days=30)["tasks"]
    assert cost["completeness"] == "estimated"


async def test_the_audit_cli_api_and_costs_page_show_the_estimate(workspace: Workspace) -> None:
    task = codex_task(workspace)
    workspace.budgets.record_usage(task, REPORTED)
    workspace.budgets.record_usage(task, ESTIMATE)
    home = ["--home", str(workspace.settings.home)]
    runner = CliRunner()
    human = runner.invoke(app, [*home, "ledger", "audit", task.id], catch_exceptions=False)
    assert human.exit_code == 0, human.output
    assert "(estimated)" in human.stdout and "2 provider calls" in human.stdout
    assert "1 estimated" in human.stdout
    listing = runner.invoke(app, [*home, "ledger", "list"], catch_exceptions=False)
    assert "(estimated)" in listing.stdout

    async with asgi_client(create_app(workspace)) as client:
        api = (await client.get(f"/api/v1/ledger/audit/{task.id}")).json()
        page = (await client.get("/costs")).text
    assert api["estimated_requests"] == 1
    assert [i["call"]["cost_source"] for i in api["items"] if i["type"] == "call"] == [
        "computed",
        "estimated",
    ]
    audit_table = page.split('class="compact audit', 1)[1]
    assert audit_table.count('<span class="badge figure-estimated"') == 1
    assert "ESTIMATED: the provider served" in audit_table  # the badge's title says why
