"""One schema for every face: the CLI's ``--json`` and the API return the same objects."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from clitools import Cli

from stagent.engine.services import TaskDraft
from stagent.governance.approvals import ApprovalDraft
from stagent.store import lifecycle
from stagent.web.app import create_app
from stagent.workspace import Workspace


def _pending_card(home: Path) -> str:
    """A card waiting on a running task (opened the way the gate opens it)."""
    with Workspace.temporary(home) as ws:
        ws.open()
        task = ws.tasks.create(TaskDraft(title="asks"))
        with ws.store.write() as session:
            lifecycle.queue_run(session, task.id, task.options)
            claim = lifecycle.claim(session, task.id, 1)
        assert claim is not None
        card, _ = ws.approvals.open(
            ApprovalDraft(
                task_id=task.id,
                run_id=claim.run.id,
                runtime="scripted",
                tool="Bash",
                input={"command": "npm test"},
            )
        )
        return card.id


def test_cli_json_and_the_api_return_the_same_objects(cli: Cli, hello_scenario: Path) -> None:
    task_id = cli.add_task("same", "--scenario", str(hello_scenario), "--model", "m-1")
    assert cli("task", "run", task_id).exit_code == 0
    cli.json("budget", "set", "--daily", "5")
    card_id = _pending_card(cli.home)

    task = cli.json("task", "show", task_id)
    runs = cli.json("task", "runs", task_id)
    [card] = cli.json("inbox")
    rules = cli.json("rules", "list")
    scopes = cli.json("budget", "show")["scopes"]
    usage = cli.json("budget", "usage", "--task", task_id)

    with Workspace.temporary(cli.home) as ws:
        ws.open()
        asyncio.run(_compare_with_api(ws, task_id, card_id, task, runs, card, rules, scopes, usage))
    assert task["runs"][0]["options"]["model"] == "m-1" and task["simulated"] is True
    assert card["run_id"] and usage and all(row["run_id"] == runs[0]["id"] for row in usage)
    assert task["events"][-1]["subject"] == {"kind": "task", "id": task_id}


async def _compare_with_api(
    ws: Workspace,
    task_id: str,
    card_id: str,
    task: Any,
    runs: Any,
    card: Any,
    rules: Any,
    scopes: Any,
    usage: Any,
) -> None:
    transport = httpx.ASGITransport(app=create_app(ws), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as api:

        async def get(path: str) -> Any:
            response = await api.get(f"/api/v1{path}")
            assert response.status_code == 200, response.text
            return response.json()

        assert await get(f"/tasks/{task_id}") == task  # the task, its runs and events
        events = await get(f"/tasks/{task_id}/events")
        assert events == {"data": task["events"], "count": len(task["events"])}
        assert await get(f"/runs/{runs[0]['id']}") == runs[0] == task["runs"][0]
        assert await get(f"/approvals/{card_id}") == card
        assert await get(f"/rules/{rules[0]['id']}") == rules[0]
        overall = next(s for s in scopes if s["scope"] == "overall")
        assert await get("/budgets/overall") == overall
        assert (await get(f"/usage?task={task_id}"))["data"] == usage
