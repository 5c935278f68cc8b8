"""The Costs and Monitor pages, the ledger API and the Monitor's live stream."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from tests.ledger.logtools import claude_assistant, claude_transcript

from stagent.domain.events import UsageEvent
from stagent.engine.services import TaskDraft
from stagent.web.app import create_app
from stagent.web.ui.stream import Topics, events_for_batch
from stagent.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))
from webtools import asgi_client, with_csrf

EVIL = "<script>alert('pwned')</script>"


@pytest.fixture
async def client(workspace: Workspace) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(workspace)) as client:
        yield await with_csrf(client)


def seed(ws: Workspace, tmp_path: Path) -> str:
    """Imported Claude Code calls (one unpriced), and a metered task's call; returns its id."""
    config = tmp_path / "claude"
    claude_transcript(
        config,
        [
            claude_assistant("msg_1", "req_1", input_tokens=1000, output_tokens=100,
                             timestamp=ws.ledger.clock().isoformat()),
            claude_assistant("msg_2", "req_2", model=f"claude-x {EVIL}", input_tokens=5,
                             timestamp=ws.ledger.clock().isoformat()),
        ],
    )  # fmt: skip
    (plan,) = ws.ledger.import_plans("claude-code", config)
    ws.ledger.run_import(plan)
    ws.runtimes.register(_metered())
    task = ws.tasks.create(TaskDraft(title=f"task {EVIL}", runtime="metered"))
    ws.budgets.record_usage(
        task,
        UsageEvent(model="gpt-5", input_tokens=8000, cache_read_tokens=2000, output_tokens=300),
    )
    return task.id


def _metered():
    from stagent.testing.metered import MeteredRuntime

    return MeteredRuntime()


async def test_the_costs_page_on_an_empty_workspace_says_so(client: httpx.AsyncClient) -> None:
    page = await client.get("/costs")
    assert page.status_code == 200
    assert "No provider calls in this range" in page.text
    assert "No monthly cap is set" in page.text
    assert "not built yet" not in page.text.split("<main")[1][:200]
    assert 'id="chart-spend"' not in page.text, "empty charts (axes 0 to 1) say nothing"
    concentration = page.text.split("Model concentration", 1)[1].split("</article>", 1)[0]
    assert "0.00" not in concentration and "no calls to compare" in concentration
    assert "0 rows" not in page.text and "1 rows" not in page.text


async def test_the_costs_page_shows_cards_breakdowns_and_an_escaped_audit_table(
    client: httpx.AsyncClient, workspace: Workspace, tmp_path: Path
) -> None:
    task_id = seed(workspace, tmp_path)
    page = await client.get("/costs")
    assert page.status_code == 200
    text = page.text
    assert EVIL not in text and "&lt;script&gt;" in text
    # totals: Sonnet 4.5 1000 x $3 + 100 x $15 = $0.0045; gpt-5 13,250 micro-USD
    assert "$0.02" in text  # the card, to the cent
    # the breakdowns by the same rule: to the cent, below a cent two significant digits
    assert "$0.01325" not in text and "$0.01" in text and "$0.0045" in text
    assert "unpriced" in text and f'href="/tasks/{task_id}"' in text
    assert "figure-complete" in text  # the metered task's cost is complete
    audit = text.split('class="compact audit', 1)[1]
    assert f'href="/tasks/{task_id}">task &lt;script&gt;' in audit  # named by its title
    assert "/api/v1/ledger/export.csv?" in text
    codex_only = await client.get(
        "/costs", params={"runtime": "claude", "source": "import:claude-code"}
    )
    assert codex_only.status_code == 200 and "$0.0045" in codex_only.text
    bad = await client.get("/costs", params={"runtime": "nope"})
    assert bad.status_code == 422 and "runtime" in bad.text


async def test_the_monitor_lists_activity_and_links_log_lines_to_their_tasks(
    client: httpx.AsyncClient, workspace: Workspace, tmp_path: Path
) -> None:
    task_id = seed(workspace, tmp_path)
    page = await client.get("/monitor")
    assert page.status_code == 200
    assert "No agent is running" in page.text
    assert f'data-task="{task_id}"' in page.text and f'href="/tasks/{task_id}"' in page.text
    assert EVIL not in page.text
    assert 'id="chart-activity"' in page.text


def test_the_monitor_topic_streams_every_tasks_new_lines(workspace: Workspace) -> None:
    first = workspace.tasks.create(TaskDraft(title=f"one {EVIL}"))
    second = workspace.tasks.create(TaskDraft(title="two"))
    batch = workspace.tasks.feed(after=0)
    events = events_for_batch(workspace, batch, Topics(monitor=True))
    (line,) = [e for e in events if e.event == "monitor-log"]
    assert str(line.data).index(second.id) < str(line.data).index(first.id)  # newest first
    assert EVIL not in str(line.data) and "&lt;script&gt;" in str(line.data)
    assert Topics.parse("monitor,inbox").monitor


async def test_the_ledger_api_summarises_exports_and_prices(
    client: httpx.AsyncClient, workspace: Workspace, tmp_path: Path
) -> None:
    seed(workspace, tmp_path)
    summary = (await client.get("/api/v1/ledger/summary", params={"by": "source"})).json()
    assert summary["totals"]["requests"] == 3
    assert summary["totals"]["total_cost_usd"] == "0.01775"
    assert {g["key"] for g in summary["groups"]} == {"run", "import:claude-code"}
    rows = (await client.get("/api/v1/ledger", params={"source": "claude-code"})).json()
    assert rows["count"] == 2 and any(r["cost_usd"] is None for r in rows["data"])
    csv = await client.get("/api/v1/ledger/export.csv")
    assert csv.headers["content-type"].startswith("text/csv") and csv.text.count("\n") == 4
    metrics = (await client.get("/api/v1/ledger/metrics", params={"days": 7})).json()
    assert len(metrics["daily"]) == 7 and 0 < metrics["model_hhi"] <= 1
    priced = (await client.get("/api/v1/pricing/claude-opus-4-7")).json()
    assert priced["model"] == "claude-opus-4-6"
    assert (await client.get("/api/v1/pricing/gpt-6-astra")).status_code == 404
    bad = await client.get("/api/v1/ledger/summary", params={"since": "last week"})
    assert bad.status_code == 422


async def test_importing_and_repricing_through_the_api_need_the_person(
    client: httpx.AsyncClient, workspace: Workspace, tmp_path: Path
) -> None:
    config = tmp_path / "claude"
    claude_transcript(config, [claude_assistant("msg_9", "req_9")])
    body = {"which": "claude-code", "path": str(config)}
    assert (await client.post("/api/v1/ledger/import", json=body)).status_code == 403
    assert (await client.post("/api/v1/ledger/reprice")).status_code == 403
    client.headers["Authorization"] = f"Bearer {workspace.owner_token()}"
    (report,) = (await client.post("/api/v1/ledger/import", json=body)).json()
    assert report["calls_added"] == 1
    nobody = {"which": "claude-code", "path": "~stagent-no-such-user/.claude"}
    refused = await client.post("/api/v1/ledger/import", json=nobody)
    assert refused.status_code == 422 and "does not exist" in refused.json()["error"]
    assert (await client.post("/api/v1/ledger/reprice")).json()["rows"] == 0


async def test_home_shows_spend_today_against_the_cap_with_a_sparkline(
    client: httpx.AsyncClient, workspace: Workspace, tmp_path: Path
) -> None:
    from stagent.governance.budgets_config import BudgetChange
    from stagent.web.ui.home_costs import sparkline

    empty = await client.get("/")
    assert "Spend today" in empty.text and "$0" in empty.text
    seed(workspace, tmp_path)
    workspace.budgets.set(BudgetChange(scope="overall", daily=5_000_000))
    page = await client.get("/")
    assert "of $5.00" in page.text and "1 unpriced" in page.text
    assert 'aria-label="Spend per day, last 7 days"' in page.text
    # the last point (today) is the highest: it sits at the top of the box
    points = sparkline([0, 0, 10, 5, 0, 0, 20]).split()
    assert points[-1] == "120.0,2.0" and points[0] == "0.0,26.0"
