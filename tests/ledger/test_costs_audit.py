"""The Costs page's audit table and export: provider calls (not the budget holds of running
work), a workflow step's call naming its workflow, and the CSV export keeping every filter."""

from __future__ import annotations

import asyncio
import csv
import io
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from bs4 import BeautifulSoup

from stagent.domain.events import UsageEvent
from stagent.domain.ledger import LedgerFilter
from stagent.domain.workflow_files import parse_definition
from stagent.engine.services import TaskDraft
from stagent.governance.budgets_config import BudgetChange
from stagent.web.app import create_app
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client, with_csrf

ONE_CALL = {
    "scripted": {
        "scenario": {
            "steps": [{"usage": {"model": "scripted-1", "input_tokens": 9, "cost_usd": 0.25}}],
            "result": "reviewed",
        }
    }
}
REVIEW = {
    "name": "release-review",
    "pattern": "sequence",
    "steps": [{"id": "review", "name": "Review", "prompt": "review it", "options": ONE_CALL}],
}


@pytest.fixture
async def client(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(workspace)) as client:
        yield await with_csrf(client)


def _audit(page: httpx.Response) -> BeautifulSoup:
    assert page.status_code == 200, page.text[-2000:]
    table = BeautifulSoup(page.text, "html.parser").select_one("table.audit")
    assert table is not None
    return table


async def test_the_audit_lists_calls_and_names_a_steps_workflow(
    worker: Workspace, client: httpx.AsyncClient
) -> None:
    worker.budgets.set(BudgetChange(daily=5_000_000))  # a cap: each run holds headroom first
    workflow = worker.workflows.start(parse_definition(REVIEW))
    async with asyncio.timeout(60):
        while worker.workflows.get(workflow.id).status.value != "completed":
            await asyncio.sleep(0.1)
    [step_task] = worker.workflows.step_tasks()
    held = worker.ledger.entries(LedgerFilter(task_id=step_task, status="released"))
    assert held, "the run held headroom against the cap while its call was on its way"

    audit = _audit(await client.get("/costs"))
    rows = audit.select("tbody tr")
    assert len(rows) == 1  # the call, not its hold
    row = rows[0]
    assert row.select_one("[data-label=Status]").get_text(strip=True) == "completed"  # type: ignore[union-attr]
    assert row.select_one(f'a[href="/tasks/{step_task}"]') is not None
    named = row.select_one(f'a[href="/workflows/{workflow.id}"]')
    assert named is not None and named.get_text() == "release-review"
    assert "$0.25" in row.get_text()


async def test_the_export_keeps_the_project_and_status_filters(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    from stagent.testing.metered import MeteredRuntime

    workspace.runtimes.register(MeteredRuntime())
    site = workspace.projects.create("Website")
    inside = workspace.tasks.create(
        TaskDraft(title="In the project", runtime="metered", project=site.id)
    )
    outside = workspace.tasks.create(TaskDraft(title="Elsewhere", runtime="metered"))
    for task in (inside, outside):
        workspace.budgets.record_usage(task, UsageEvent(model="gpt-5", input_tokens=1000))

    page = await client.get("/costs", params={"project": site.id, "status": "completed"})
    soup = BeautifulSoup(page.text, "html.parser")
    link = soup.find("a", string="Export CSV")
    assert link is not None
    href = str(link["href"])
    assert f"project_id={site.id}" in href and "status=completed" in href
    exported = await client.get(href)
    assert exported.status_code == 200
    tasks = [row["task_id"] for row in csv.DictReader(io.StringIO(exported.text))]
    assert tasks == [inside.id]
    everything = await client.get("/api/v1/ledger/export.csv")
    assert sorted(row["task_id"] for row in csv.DictReader(io.StringIO(everything.text))) == sorted(
        [inside.id, outside.id]
    )


async def test_the_person_imports_hand_run_sessions_from_the_costs_page(
    workspace: Workspace, client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No command line needed: the Costs page's button reads this machine's Claude Code and
    Codex logs and says what each added; a second press finds nothing new. Only the person."""
    from tests.ledger.logtools import claude_assistant, claude_transcript

    config = tmp_path / "claude"
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))  # no Codex logs here
    claude_transcript(
        config, [claude_assistant("msg_1", "req_1"), claude_assistant("msg_2", "req_2")]
    )

    assert 'hx-post="/ui/costs/import"' not in (await client.get("/costs")).text  # not the person
    assert (await client.post("/ui/costs/import")).status_code == 403
    client.headers["Authorization"] = f"Bearer {workspace.owner_token()}"
    page = await client.get("/costs")
    assert 'hx-post="/ui/costs/import"' in page.text and "stagent ledger" not in page.text

    answer = await client.post("/ui/costs/import")
    assert answer.status_code == 200
    said = [
        " ".join(li.get_text().split())
        for li in BeautifulSoup(answer.text, "html.parser").select("li")
    ]
    assert said == ["Claude Code: 2 new calls from 1 file.", "Codex: no logs found."]
    again = await client.post("/ui/costs/import")
    assert "Claude Code: nothing new in 1 file." in " ".join(again.text.split())
    rows = _audit(await client.get("/costs")).select("tbody tr")
    assert len(rows) == 2 and all("Claude Code" in r.get_text() for r in rows)


async def test_the_audit_names_every_task_by_title_in_one_read(
    workspace: Workspace, client: httpx.AsyncClient
) -> None:
    """The audit's tasks are read in one query, so the page sends as many statements for 40
    tasks as for 2; a deleted task is still named by its title (as in Cost per task)."""
    from sqlalchemy import event

    def spend(count: int, start: int) -> list[str]:
        ids = []
        for n in range(start, start + count):
            task = workspace.tasks.create(TaskDraft(title=f"Chore {n}", runtime="metered"))
            workspace.budgets.record_usage(task, UsageEvent(model="gpt-5", input_tokens=1000))
            ids.append(task.id)
        return ids

    statements: list[str] = []

    def counted(*args: object) -> None:
        statements.append(str(args[2]))

    async def statements_of_the_page() -> tuple[int, BeautifulSoup]:
        statements.clear()
        event.listen(workspace.store.engine, "before_cursor_execute", counted)
        try:
            page = await client.get("/costs")
        finally:
            event.remove(workspace.store.engine, "before_cursor_execute", counted)
        return len(statements), _audit(page)

    first = spend(2, 0)
    few, _ = await statements_of_the_page()
    spend(38, 2)
    workspace.tasks.delete(first[0])
    many, audit = await statements_of_the_page()
    assert few == many > 0
    names = sorted(a.get_text() for a in audit.select('td.lead a[href^="/tasks/"]'))
    assert names == sorted(f"Chore {n}" for n in range(40))
